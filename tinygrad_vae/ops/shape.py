"""Composite shape ops: padding, tiling and repeating, flips and rolls, splitting, stacking, diagonals, windows.

Every op here is built from the primitives of ``movement.py`` (reshape, transpose,
broadcast, indexing, scatter, concatenation), so its gradient is derived, not written:
an op that reads an element several times (edge padding, repeat, unfold's overlapping
windows) gets that element's gradients added up by indexing's scatter-add rule.

Names NumPy has follow NumPy at the module level (``repeat`` is ``np.repeat``, ``split``
takes indices, ``flip(x, axis=None)`` flips every axis); the Tensor methods of
``methods.py`` follow torch (``x.repeat(*sizes)`` tiles, ``x.split(size)`` takes sizes).
Functions only torch has (``repeat_interleave``, ``tensor_split``, ``chunk``,
``unflatten``, ``flatten(start_dim, end_dim)``) follow torch.

Where we differ from torch: ``F.pad``'s 'reflect' and 'circular' modes accept pads as long
as NumPy's (torch needs a pad shorter than, or for 'circular' at most, the dim), and any
number of leading dims; negative pads (cropping) are not supported.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, wrap
from tinygrad_vae.ops.creation import as_tensors
from tinygrad_vae.ops.movement import (
    GetItem,
    Reshape,
    ScatterAdd,
    broadcast_to,
    concatenate,
    moveaxis,
    one_axis,
    reshape,
    swapaxes,
    torch_dims,
)

IntOrInts = int | Sequence[int]


def _take(x: Tensor, axis: int, index: Any) -> Tensor:
    """``x`` indexed along one axis (an int, a slice or an integer array)."""
    return GetItem.apply(x, index=(slice(None),) * axis + (index,))


# --------------------------------------------------------------------------
# flatten, unflatten, atleast_nd
# --------------------------------------------------------------------------


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """torch's ``flatten``: dims ``start_dim..end_dim`` (inclusive) merged into one; a 0-d tensor becomes 1-D."""
    if x.ndim == 0:
        torch_dims((start_dim, end_dim), 0, "flatten")
        return Reshape.apply(x, shape=(1,))
    start, end = (one_axis(d, x.ndim, "flatten") for d in (start_dim, end_dim))
    if start > end:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return Reshape.apply(x, shape=x.shape[:start] + (-1,) + x.shape[end + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """torch's ``unflatten``: dim ``dim`` split into dims of ``sizes`` (one of them may be -1)."""
    d = one_axis(dim, x.ndim, "unflatten")
    sizes = tuple(sizes)
    n, known = x.shape[d], int(np.prod([m for m in sizes if m != -1]))
    fits = sizes.count(-1) == 1 and known > 0 and n % known == 0 if -1 in sizes else known == n
    if not fits:
        raise OpError(f"unflatten: sizes {sizes} do not multiply to the length {n} of dim {dim}")
    return Reshape.apply(x, shape=x.shape[:d] + sizes + x.shape[d + 1:])


def _atleast(x: Any, ndim: int) -> Tensor:
    """NumPy's padding of shapes: 0-d to (1,)*ndim, 1-D (n,) to (1, n) or (1, n, 1), 2-D (m, n) to (m, n, 1)."""
    (x,) = as_tensors([x])
    if x.ndim >= ndim:
        return x
    if ndim == 3 and x.ndim > 0:  # NumPy's atleast_3d puts a vector in the middle, a matrix in front
        shape = (1, *x.shape, 1) if x.ndim == 1 else (*x.shape, 1)
    else:
        shape = (1,) * (ndim - x.ndim) + x.shape
    return Reshape.apply(x, shape=shape)


def _atleast_all(tensors: tuple[Any, ...], ndim: int) -> Tensor | list[Tensor]:
    out = [_atleast(t, ndim) for t in tensors]
    return out[0] if len(out) == 1 else out


def atleast_1d(*tensors: Any) -> Tensor | list[Tensor]:
    return _atleast_all(tensors, 1)


def atleast_2d(*tensors: Any) -> Tensor | list[Tensor]:
    return _atleast_all(tensors, 2)


def atleast_3d(*tensors: Any) -> Tensor | list[Tensor]:
    return _atleast_all(tensors, 3)


# --------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------

PAD_MODES = ("constant", "reflect", "edge", "wrap")
TORCH_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """NumPy's ``pad_width`` (an int, a (before, after) pair, or one pair per axis) as one pair per axis."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" or widths.ndim > 2:
        raise OpError(f"pad: pad_width must be an int, a (before, after) pair or one pair per axis, got {pad_width}")
    try:
        pairs = np.broadcast_to(widths.reshape((-1, 2) if widths.ndim == 2 else (1, -1)), (ndim, 2))
    except ValueError:
        raise OpError(f"pad: pad_width {pad_width} does not fit a tensor with {ndim} dimensions") from None
    if (pairs < 0).any():
        raise OpError(f"pad: pad widths must not be negative, got {pad_width}")
    return [(int(b), int(a)) for b, a in pairs]


def pad(x: Tensor, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Tensor:
    """``numpy.pad`` with modes 'constant', 'reflect' (mirror without the edge), 'edge' and 'wrap'.

    'constant' places ``x`` in a tensor of ``constant_values`` (the constants get no gradient);
    the other modes read elements of ``x`` by index, so padding that copies an element
    sends its gradient back to that element too.
    """
    if mode not in PAD_MODES:
        raise OpError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
        shape = tuple(b + n + a for (b, a), n in zip(widths, x.shape))
        fill = np.pad(np.zeros(x.shape, dtype=x.dtype), widths, constant_values=constant_values)
        return ScatterAdd.apply(x, index=inner, shape=shape) + wrap(fill)
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape)):
        if before or after:
            if n == 0:
                raise OpError(f"pad: mode {mode!r} cannot pad axis {axis} of length 0 (it has no element to copy)")
            x = _take(x, axis, np.pad(np.arange(n), (before, after), mode=mode))  # the source of each output element
    return x


def torch_pad(x: Tensor, pads: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch's ``F.pad``: ``pads`` pairs (left, right) from the last dim backwards.

    Modes 'constant', 'reflect', 'replicate' and 'circular' (NumPy's 'constant', 'reflect',
    'edge', 'wrap'). Negative pads (cropping) are not supported.
    """
    if mode not in TORCH_PAD_MODES:
        raise OpError(f"pad: mode must be one of {tuple(TORCH_PAD_MODES)}, got {mode!r}")
    pads = tuple(pads)
    if len(pads) % 2 or len(pads) // 2 > x.ndim:
        raise OpError(f"pad: pad {pads} must hold a (left, right) pair for each of at most {x.ndim} last dims")
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(len(pads) // 2)][::-1]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    return pad(x, widths, mode=TORCH_PAD_MODES[mode], constant_values=value)


# --------------------------------------------------------------------------
# tiling and repeating
# --------------------------------------------------------------------------


def tile(x: Tensor, reps: IntOrInts) -> Tensor:
    """``numpy.tile``: ``x`` repeated ``reps[i]`` times along axis i (shorter ``reps`` or ``x.shape`` padded with 1s).

    Each axis of length n becomes a pair (r, n), broadcast from (1, n), then merged: one
    broadcast and one reshape, so the gradient is a sum over the copies.
    """
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(r < 0 for r in reps):
        raise OpError(f"tile: reps must not be negative, got {reps}")
    ndim = max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.ndim) + x.shape
    paired = Reshape.apply(x, shape=tuple(m for n in shape for m in (1, n)))
    spread = broadcast_to(paired, tuple(m for r, n in zip(reps, shape) for m in (r, n)))
    return Reshape.apply(spread, shape=tuple(r * n for r, n in zip(reps, shape)))


def torch_repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """torch's ``x.repeat(*sizes)``: ``tile``, with at least as many sizes as ``x`` has dims."""
    if len(sizes) < x.ndim:
        raise OpError(f"repeat: {len(sizes)} sizes {tuple(sizes)} are fewer than the dims of shape {x.shape}")
    return tile(x, sizes)


def _repeat_along(x: Tensor, repeats: Any, axis: int | None, op: str) -> Tensor:
    """Each element repeated ``repeats`` times (one count, or one per element) along ``axis``; None flattens first."""
    if axis is None:
        x, axis = Reshape.apply(x, shape=(-1,)), 0
    axis = one_axis(axis, x.ndim, op)
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    n = x.shape[axis]
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or counts.size not in (1, n) or (counts < 0).any():
        raise OpError(f"{op}: repeats must be a non-negative int or one per element of the axis (length {n}), "
                      f"got {repeats!r}")
    return _take(x, axis, np.repeat(np.arange(n), counts.reshape(-1) if counts.size == n else int(counts.flat[0])))


def repeat(x: Tensor, repeats: Any, axis: int | None = None) -> Tensor:
    """``numpy.repeat``: each element repeated along ``axis`` (None: of the flattened tensor)."""
    return _repeat_along(x, repeats, axis, "repeat")


def repeat_interleave(x: Tensor, repeats: Any, dim: int | None = None) -> Tensor:
    """torch's ``repeat_interleave``: ``numpy.repeat`` with torch's ``dim``."""
    return _repeat_along(x, repeats, dim, "repeat_interleave")


# --------------------------------------------------------------------------
# flips, rotations, rolls
# --------------------------------------------------------------------------


def _flipped(x: Tensor, axes: tuple[int, ...]) -> Tensor:
    if not axes:
        return x
    reverse = tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim))
    return GetItem.apply(x, index=reverse)


def flip(x: Tensor, axis: IntOrInts | None = None) -> Tensor:
    """``numpy.flip``: the order of elements reversed along ``axis`` (None: along every axis)."""
    axes = tuple(range(x.ndim)) if axis is None else torch_dims(axis, x.ndim, "flip")
    return _flipped(x, axes)


def fliplr(x: Tensor) -> Tensor:
    """Reverse axis 1 (columns); needs at least 2 dims."""
    if x.ndim < 2:
        raise OpError(f"fliplr: needs at least 2 dimensions, got shape {x.shape}")
    return _flipped(x, (1,))


def flipud(x: Tensor) -> Tensor:
    """Reverse axis 0 (rows); needs at least 1 dim."""
    if x.ndim < 1:
        raise OpError(f"flipud: needs at least 1 dimension, got shape {x.shape}")
    return _flipped(x, (0,))


def rot90(x: Tensor, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the first axis towards the second.

    One turn is a flip of the second axis followed by swapping the two (as ``numpy.rot90``).
    """
    if len(axes) != 2 or x.ndim < 2:
        raise OpError(f"rot90: needs two axes of a tensor with at least 2 dimensions, got axes {tuple(axes)} "
                      f"and shape {x.shape}")
    a, b = (one_axis(d, x.ndim, "rot90") for d in axes)
    if a == b:
        raise OpError(f"rot90: the two axes must differ, got {tuple(axes)}")
    k = k % 4
    if k == 2:
        return _flipped(x, (a, b))
    if k == 1:
        return swapaxes(_flipped(x, (b,)), a, b)
    return _flipped(swapaxes(x, a, b), (b,)) if k == 3 else x


def roll(x: Tensor, shift: IntOrInts, axis: IntOrInts | None = None) -> Tensor:
    """``numpy.roll``: elements shifted along ``axis`` by ``shift``, those leaving one end coming back at the other.

    With ``axis`` None the tensor is rolled as if flattened. Several axes take one shift each
    (a single shift is used for all of them).
    """
    if axis is None:
        return Reshape.apply(roll(Reshape.apply(x, shape=(-1,)), shift, 0), shape=x.shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shifts = (shift,) * len(axes) if isinstance(shift, (int, np.integer)) else tuple(shift)
    if len(shifts) != len(axes):
        raise OpError(f"roll: shifts {shifts} and axes {axes} must have the same length")
    for a, s in zip(axes, shifts):
        a = one_axis(a, x.ndim, "roll")
        n = x.shape[a]
        if n and s % n:
            x = _take(x, a, (np.arange(n) - s) % n)
    return x


# --------------------------------------------------------------------------
# splitting
# --------------------------------------------------------------------------


def _split_at(x: Tensor, bounds: Sequence[int], axis: int) -> list[Tensor]:
    """The pieces of ``x`` between consecutive ``bounds`` (from 0 to the axis' end) along ``axis``."""
    edges = [0, *bounds, x.shape[axis]]
    return [_take(x, axis, slice(start, max(start, stop))) for start, stop in itertools.pairwise(edges)]


def _sections(n: int, sections: int, op: str) -> list[int]:
    """Where ``numpy.array_split`` cuts an axis of length n into ``sections`` pieces: the first n % sections longer."""
    if sections <= 0:
        raise OpError(f"{op}: the number of sections must be positive, got {sections}")
    small, extra = divmod(n, sections)
    return list(np.cumsum([small + 1] * extra + [small] * (sections - extra))[:-1])


def array_split(x: Tensor, indices_or_sections: IntOrInts, axis: int = 0) -> list[Tensor]:
    """``numpy.array_split``: an int splits into that many pieces (the first ones longer by one); a list gives the cut indices."""
    axis = one_axis(axis, x.ndim, "array_split")
    if isinstance(indices_or_sections, (int, np.integer)):
        return _split_at(x, _sections(x.shape[axis], int(indices_or_sections), "array_split"), axis)
    return _split_at(x, [min(max(i + x.shape[axis] if i < 0 else i, 0), x.shape[axis]) for i in indices_or_sections],
                     axis)


def split(x: Tensor, indices_or_sections: IntOrInts, axis: int = 0) -> list[Tensor]:
    """``numpy.split``: as ``array_split``, except that an int must divide the axis into equal pieces."""
    n = x.shape[one_axis(axis, x.ndim, "split")]
    if isinstance(indices_or_sections, (int, np.integer)) and (indices_or_sections <= 0 or n % indices_or_sections):
        raise OpError(f"split: an axis of length {n} does not divide into {indices_or_sections} equal sections")
    return array_split(x, indices_or_sections, axis)


def torch_split(x: Tensor, split_size_or_sections: IntOrInts, dim: int = 0) -> list[Tensor]:
    """torch's ``split``: pieces of ``split_size`` (the last one shorter), or of the listed sizes."""
    dim = one_axis(dim, x.ndim, "split")
    n = x.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections <= 0:
            raise OpError(f"split: split_size must be positive, got {split_size_or_sections}")
        return _split_at(x, list(range(split_size_or_sections, n, split_size_or_sections)), dim)
    sizes = list(split_size_or_sections)
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise OpError(f"split: sizes {sizes} do not add up to the length {n} of dim {dim}")
    return _split_at(x, list(np.cumsum(sizes)[:-1]), dim)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
    """torch's ``chunk``: pieces of ceil(n / chunks) (so maybe fewer than ``chunks`` of them)."""
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    axis = one_axis(dim, x.ndim, "chunk")
    n = x.shape[axis]
    if n == 0:  # torch: ``chunks`` empty pieces
        return _split_at(x, [0] * (chunks - 1), axis)
    return torch_split(x, -(-n // chunks), dim)


def tensor_split(x: Tensor, indices_or_sections: IntOrInts, dim: int = 0) -> list[Tensor]:
    """torch's ``tensor_split``: ``numpy.array_split`` with torch's ``dim``."""
    return array_split(x, indices_or_sections, dim)


def _split_needing(x: Tensor, indices_or_sections: IntOrInts, axis: int, ndim: int, op: str) -> list[Tensor]:
    if x.ndim < ndim:
        raise OpError(f"{op}: needs at least {ndim} dimensions, got shape {x.shape}")
    return split(x, indices_or_sections, axis)


def vsplit(x: Tensor, indices_or_sections: IntOrInts) -> list[Tensor]:
    """``numpy.vsplit``: ``split`` along axis 0 of a tensor of 2 or more dims."""
    return _split_needing(x, indices_or_sections, 0, 2, "vsplit")


def hsplit(x: Tensor, indices_or_sections: IntOrInts) -> list[Tensor]:
    """``numpy.hsplit``: ``split`` along axis 1 (axis 0 of a 1-D tensor)."""
    return _split_needing(x, indices_or_sections, 1 if x.ndim > 1 else 0, 1, "hsplit")


def dsplit(x: Tensor, indices_or_sections: IntOrInts) -> list[Tensor]:
    """``numpy.dsplit``: ``split`` along axis 2 of a tensor of 3 or more dims."""
    return _split_needing(x, indices_or_sections, 2, 3, "dsplit")


# --------------------------------------------------------------------------
# stacking
# --------------------------------------------------------------------------


def vstack(tensors: Sequence[Any]) -> Tensor:
    """``numpy.vstack``: 1-D tensors as rows, joined along axis 0."""
    return concatenate([_atleast(t, 2) for t in tensors], axis=0)


row_stack = vstack


def hstack(tensors: Sequence[Any]) -> Tensor:
    """``numpy.hstack``: joined along axis 1 (axis 0 for 1-D tensors)."""
    tensors = [_atleast(t, 1) for t in tensors]
    return concatenate(tensors, axis=0 if tensors and tensors[0].ndim == 1 else 1)


def dstack(tensors: Sequence[Any]) -> Tensor:
    """``numpy.dstack``: joined along axis 2 (after ``atleast_3d``)."""
    return concatenate([_atleast(t, 3) for t in tensors], axis=2)


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """``numpy.column_stack``: 1-D (and 0-d) tensors as columns, joined along axis 1."""
    tensors = as_tensors(tensors)
    columns = [Reshape.apply(t, shape=(-1, 1)) if t.ndim < 2 else t for t in tensors]
    return concatenate(columns, axis=1)


def append(x: Any, values: Any, axis: int | None = None) -> Tensor:
    """``numpy.append``: ``values`` joined after ``x`` along ``axis`` (None: both flattened)."""
    x, values = as_tensors([x, values])
    if axis is None:
        return concatenate([reshape(x, (-1,)), reshape(values, (-1,))])
    return concatenate([x, values], axis=axis)


# --------------------------------------------------------------------------
# diagonals and windows
# --------------------------------------------------------------------------


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) indices of the ``offset`` diagonal of a rows x cols matrix (above the main one for offset > 0)."""
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    start = np.arange(length)
    return (start, start + offset) if offset >= 0 else (start - offset, start)


def diagonal(x: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """``numpy.diagonal`` / torch's: the ``offset`` diagonal of the (axis1, axis2) planes, as a new last axis."""
    if x.ndim < 2:
        raise OpError(f"diagonal: needs at least 2 dimensions, got shape {x.shape}")
    a, b = (one_axis(d, x.ndim, "diagonal") for d in (axis1, axis2))
    if a == b:
        raise OpError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    planes = moveaxis(x, (a, b), (-2, -1))
    return GetItem.apply(planes, index=(Ellipsis, *_diagonal_index(*planes.shape[-2:], offset)))


def diag(v: Tensor, k: int = 0) -> Tensor:
    """``numpy.diag``: a 1-D tensor placed on the ``k`` diagonal of a square matrix, or a matrix's ``k`` diagonal."""
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise OpError(f"diag: expected a 1-D or 2-D tensor, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    return ScatterAdd.apply(v, index=_diagonal_index(n, n, k), shape=(n, n))


def trace(x: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """``numpy.trace``: the sum of the ``offset`` diagonal of the (axis1, axis2) planes."""
    return diagonal(x, offset, axis1, axis2).sum(axis=-1)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """torch's ``x.unfold(dimension, size, step)``: the windows of ``size`` along ``dimension``, every ``step``.

    ``dimension`` becomes the window count, (n - size) // step + 1, and a new last dim holds each
    window. Overlapping windows read an element more than once; its gradients add up.
    """
    d = torch_dims(dimension, x.ndim, "unfold")
    n = x.shape[d[0]] if d else 1
    if size < 0 or size > n or step <= 0:
        raise OpError(f"unfold: windows of size {size} every {step} do not fit a dim of length {n} "
                      f"(need 0 <= size <= {n} and step > 0)")
    if not d:  # a 0-d tensor is one window, of its one element (size 1) or of none (size 0)
        return _take(Reshape.apply(x, shape=(1,)), 0, np.zeros(size, dtype=np.intp))
    windows = np.arange(0, n - size + 1, step)[:, None] + np.arange(size)
    return moveaxis(_take(x, d[0], windows), d[0] + 1, -1)


__all__ = [
    "append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "chunk", "column_stack", "diag", "diagonal",
    "dsplit", "dstack", "flatten", "flip", "fliplr", "flipud", "hsplit", "hstack", "pad", "repeat",
    "repeat_interleave", "roll", "rot90", "row_stack", "split", "tensor_split", "tile", "trace", "unflatten", "unfold",
    "vsplit", "vstack",
]
