"""Movement and indexing: reshape, transpose, broadcast, squeeze, indexing and joining.

Indexing's gradient scatters back, with repeated indices adding up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.base import Axis, Grads, Op, Value, unbroadcast
from tinygrad_vae.ops.creation import as_tensors


class Reshape(Op):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return a.reshape(shape)
        except ValueError:
            raise OpError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {tuple(shape)}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (Reshape.apply(grad, shape=a.shape),)


class Transpose(Op):
    def forward(self, a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise OpError(f"transpose: axes {axes} are not a permutation of a {a.ndim}-D tensor's axes")
        self.axes = axes
        return a.T if axes is None else np.transpose(a, axes)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        inverse = None if self.axes is None else tuple(np.argsort([x % grad.ndim for x in self.axes]))
        return (Transpose.apply(grad, axes=inverse),)


def swap_last_axes(x: Tensor) -> Tensor:
    if x.ndim < 2:
        raise OpError(f"mT: needs at least 2 dimensions, got shape {x.shape}")
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return Transpose.apply(x, axes=axes)


class BroadcastTo(Op):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise OpError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (unbroadcast(grad, a.shape),)


def torch_dims(dim: int | Sequence[int], ndim: int, op: str) -> tuple[int, ...]:
    """torch's reading of ``dim`` (an int or a sequence): sorted non-negative dims, an out-of-range one an error.

    As in torch, a 0-d tensor takes the dims 0 and -1 as if it were 1-D; they name no axis of it,
    so they come back as ().
    """
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    n = max(ndim, 1)
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}: dims must be ints, got {d!r}")
        if not -n <= d < n:
            raise OpError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return () if ndim == 0 else tuple(sorted({int(d) % n for d in dims}))


def squeeze(x: Tensor, axis: Axis = None) -> Tensor:
    """Drop axes of length 1 (all of them, or the ones named), as ``numpy.squeeze``: naming a longer axis is an error."""
    if axis is None:
        return squeeze_dims(x, None)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise OpError(f"squeeze: axis {a} is out of range for a tensor of shape {x.shape}")
        if x.shape[a] != 1:
            raise OpError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return squeeze_dims(x, axes)


def squeeze_dims(x: Tensor, dim: int | Sequence[int] | None) -> Tensor:
    """torch's ``squeeze``: drop the named dims (all dims when None) that have length 1; longer ones stay."""
    dims = range(x.ndim) if dim is None else torch_dims(dim, x.ndim, "squeeze")
    dropped = {d for d in dims if x.shape[d] == 1}
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in dropped))


def unsqueeze(x: Value, axis: int) -> Value:
    """Insert an axis of length 1 at ``axis`` (negative counts from the end of the result)."""
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise OpError(f"unsqueeze: axis {axis} is out of range for a tensor of shape {x.shape}")
    axis = axis % (x.ndim + 1)
    return Reshape.apply(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def normalize_index(index: Any) -> Any:
    """Replace Tensors and lists inside an index by arrays, so NumPy reads them as advanced indices."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index: Any) -> bool:
    """True for indices that cannot select an element twice (ints, slices, None, ..., masks)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
        or (isinstance(p, np.ndarray) and p.dtype == np.bool_)
        for p in parts
    )


class GetItem(Op):
    """Indexing. The gradient scatters back with repeated indices adding up."""

    def forward(self, a: np.ndarray, index: Any) -> np.ndarray:
        self.index = index
        try:
            return a[index]
        except (IndexError, TypeError) as e:
            raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {a.shape}: {e}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (ScatterAdd.apply(grad, index=self.index, shape=a.shape),)


class ScatterAdd(Op):
    """zeros(shape) with ``values`` added at ``index``: the adjoint of GetItem."""

    def forward(self, values: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        self.index = index
        out = np.zeros(shape, dtype=values.dtype)
        if _is_basic(index):
            out[index] = values
        else:
            np.add.at(out, index, values)
        return out

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (GetItem.apply(grad, index=self.index),)


class Concatenate(Op):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        try:
            return np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise OpError(f"concatenate: cannot join shapes {shapes} along axis {axis}: {e}") from None

    def backward(self, grad: Value, out: Value, *inputs: Value) -> Grads:
        axis = self.axis % grad.ndim
        grads, start = [], 0
        for t, need in zip(inputs, self.needs_input_grad):
            stop = start + t.shape[axis]
            if need:
                grads.append(GetItem.apply(grad, index=(slice(None),) * axis + (slice(start, stop),)))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(tensors) == 0:
        raise OpError("concatenate: needs at least one tensor")
    tensors = as_tensors(tensors)
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = as_tensors(tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise OpError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)


# --------------------------------------------------------------------------
# functional forms (what the Tensor's methods call)
# --------------------------------------------------------------------------


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    return Reshape.apply(x, shape=tuple(shape))


def transpose(x: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes as ``numpy.transpose``; None reverses them."""
    return Transpose.apply(x, axes=None if axes is None else tuple(axes))


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    """torch's ``permute``: axis i of the result is axis ``dims[i]`` of ``x``."""
    dims = tuple(dims)
    if len(dims) != x.ndim:
        raise OpError(f"permute: dims {dims} do not name each of the {x.ndim} dims of a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=dims)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes (``numpy.swapaxes``; torch's ``transpose(dim0, dim1)``)."""
    order = list(range(x.ndim))
    a, b = (one_axis(axis, x.ndim, "swapaxes") for axis in (axis1, axis2))
    order[a], order[b] = order[b], order[a]
    return Transpose.apply(x, axes=tuple(order))


def moveaxis(x: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move axes to new positions, the others keeping their order (``numpy.moveaxis``, torch's ``movedim``)."""
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise OpError(f"moveaxis: source {source} and destination {destination} must name as many axes")
    src = [one_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [one_axis(a, x.ndim, "moveaxis") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise OpError(f"moveaxis: source {source} and destination {destination} must not repeat an axis")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Transpose.apply(x, axes=tuple(order))


def rollaxis(x: Tensor, axis: int, start: int = 0) -> Tensor:
    """``numpy.rollaxis``: move ``axis`` to sit before position ``start`` (of the original axes)."""
    axis = one_axis(axis, x.ndim, "rollaxis")
    if not -x.ndim <= start <= x.ndim:
        raise OpError(f"rollaxis: start {start} is out of range for a tensor with {x.ndim} dimensions")
    start = start + x.ndim if start < 0 else start
    return moveaxis(x, axis, start - 1 if axis < start else start)


def one_axis(axis: int, ndim: int, op: str) -> int:
    """One axis, non-negative (a negative one counts from the end); out of range is an error naming ``op``."""
    if not -ndim <= axis < ndim:
        raise OpError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return BroadcastTo.apply(x, shape=tuple(shape))


def expand(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """torch's ``expand``: broadcast to ``sizes``, where -1 keeps a dim's length and new dims may lead."""
    sizes = tuple(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise OpError(f"expand: sizes {sizes} have fewer dims than the tensor's shape {x.shape}")
    if any(n == -1 for n in sizes[:lead]):
        raise OpError(f"expand: sizes {sizes} put -1 on a new leading dim, which has no length to keep")
    shape = sizes[:lead] + tuple(m if n == -1 else n for n, m in zip(sizes[lead:], x.shape))
    return BroadcastTo.apply(x, shape=shape)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``, with Tensors and lists inside the index read as integer or mask arrays."""
    return GetItem.apply(x, index=normalize_index(index))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """torch's name for ``concatenate``."""
    return concatenate(tensors, axis=dim)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = [
    "broadcast_to", "cat", "concatenate", "getitem", "moveaxis", "permute", "reshape", "rollaxis", "squeeze",
    "stack", "swapaxes", "transpose", "unsqueeze",
]
