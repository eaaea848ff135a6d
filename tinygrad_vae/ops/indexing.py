"""Indexing by index tensors: gather, scatter and its reductions, index_select, take_along_axis, masks, one_hot.

Every differentiable op here is a composite of ``GetItem`` (whose gradient scatters back,
repeated indices adding up), ``ScatterAdd`` (whose gradient gathers) and ``where``, so no
rule is written here. The functions follow torch (``gather``, ``scatter``, ...), except the
NumPy-named ``take_along_axis`` and ``nonzero``, which follow NumPy. Index arrays must hold
integers; torch-named ops take indices in [0, n), ``take_along_axis`` also negative ones.

Conventions at non-differentiable points: ``scatter_reduce`` with ``'amax'``/``'amin'`` shares
the gradient of a tied extreme evenly among the tied entries (x's own entry included where it
takes part), as torch does; with ``include_self=False`` torch still counts x's tied entry when
sharing (so the shares add up to less than 1), we do not. ``scatter`` refuses two writes to one
place, whose result torch leaves undefined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, wrap
from tinygrad_vae.ops.elementwise import where
from tinygrad_vae.ops.movement import BroadcastTo, GetItem, ScatterAdd, concatenate, unsqueeze
from tinygrad_vae.ops.reductions import max as reduce_max
from tinygrad_vae.ops.reductions import min as reduce_min

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _index_array(op: str, index: Any) -> np.ndarray:
    """An index (Tensor, array or list) as an integer array; anything else is an OpError naming ``op``."""
    array = np.asarray(index.data if isinstance(index, Tensor) else index)
    if array.size == 0 and array.dtype.kind == "f":  # np.asarray([]) is float64
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise OpError(f"{op}: index must hold integers, got dtype {array.dtype}")
    return array


def _check_range(op: str, index: np.ndarray, n: int, dim: int, shape: tuple[int, ...], negative: bool = False) -> None:
    """Every entry of ``index`` in [0, n) (or [-n, n) with ``negative``) for axis ``dim`` of ``shape``."""
    low = -n if negative else 0
    bad = index[(index < low) | (index >= n)]
    if bad.size:
        raise OpError(f"{op}: index {bad.flat[0]} is out of range [{low}, {n}) for dimension {dim} "
                      f"of a tensor of shape {shape}")


def _dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` >= 1 dimensions."""
    if ndim == 0:
        raise OpError(f"{op}: needs a tensor with at least 1 dimension, got a 0-d tensor")
    if not -ndim <= dim < ndim:
        raise OpError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim


def _coordinates(index: np.ndarray, dim: int, sides: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The advanced index that reads ``index`` along ``dim`` and position d (of ``sides[d]``) along every other axis."""
    ndim = index.ndim
    return tuple(index if d == dim else np.arange(n).reshape((n,) + (1,) * (ndim - 1 - d)) for d, n in enumerate(sides))


def _gather_index(op: str, x_shape: tuple[int, ...], dim: int, index: Any) -> tuple[int, np.ndarray]:
    """Checks shared by gather and the scatters: dim, dtype, rank, sides and range of ``index``."""
    index = _index_array(op, index)
    dim = _dim(op, dim, len(x_shape))
    if index.ndim != len(x_shape):
        raise OpError(f"{op}: index of shape {index.shape} must have as many dimensions as the tensor "
                      f"of shape {x_shape}")
    for d, (m, n) in enumerate(zip(index.shape, x_shape)):
        if d != dim and m > n:
            raise OpError(f"{op}: index of shape {index.shape} is larger than the tensor of shape {x_shape} "
                          f"in dimension {d}")
    _check_range(op, index, x_shape[dim], dim, x_shape)
    return dim, index


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``torch.gather``: out[i][j] = x[index[i][j]][j] for dim=0 (and so on); out has index's shape."""
    dim, index = _gather_index("gather", x.shape, dim, index)
    return GetItem.apply(x, index=_coordinates(index, dim, index.shape))


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """``torch.index_select``: the entries ``index`` (1-D or 0-d) along ``dim``, in that order, repeats included."""
    index = _index_array("index_select", index)
    dim = _dim("index_select", dim, x.ndim)
    if index.ndim > 1:
        raise OpError(f"index_select: index must be 1-D or 0-d, got shape {index.shape}")
    _check_range("index_select", index, x.shape[dim], dim, x.shape)
    return GetItem.apply(x, index=(slice(None),) * dim + (index.reshape(-1),))


def take_along_axis(x: Tensor, indices: Any, axis: int | None) -> Tensor:
    """``numpy.take_along_axis``: like gather, with negative indices and the other axes broadcast; None flattens x."""
    indices = _index_array("take_along_axis", indices)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = _dim("take_along_axis", axis, x.ndim)
    if indices.ndim != x.ndim:
        raise OpError(f"take_along_axis: indices of shape {indices.shape} must have as many dimensions "
                      f"as the tensor of shape {x.shape}")
    _check_range("take_along_axis", indices, x.shape[axis], axis, x.shape, negative=True)
    try:
        np.broadcast_shapes(indices.shape[:axis] + indices.shape[axis + 1:], x.shape[:axis] + x.shape[axis + 1:])
    except ValueError:
        raise OpError(f"take_along_axis: indices of shape {indices.shape} do not broadcast with the tensor "
                      f"of shape {x.shape} outside axis {axis}") from None
    return GetItem.apply(x, index=_coordinates(indices, axis, x.shape))


# --------------------------------------------------------------------------
# scatters: out-of-place writes and reductions into a copy of x
# --------------------------------------------------------------------------


def _targets(op: str, x: Tensor, dim: int, index: Any) -> tuple[np.ndarray, ...]:
    """Where each entry of index sends its src entry: an advanced index into x, of index's shape."""
    dim, index = _gather_index(op, x.shape, dim, index)
    return tuple(np.broadcast_arrays(*_coordinates(index, dim, index.shape)))


def _used(op: str, src: Any, like: Tensor, index_shape: tuple[int, ...]) -> Tensor:
    """The entries of src that index uses: src cut to index's shape (torch lets src be larger).

    An array or list takes x's dtype; a Tensor of another dtype is an error, as in torch.
    """
    src = src if isinstance(src, Tensor) else wrap(np.asarray(src, dtype=like.dtype))
    if src.dtype != like.dtype:
        raise OpError(f"{op}: src has dtype {src.dtype} but the tensor has {like.dtype}; they must agree")
    if src.ndim != len(index_shape) or any(m > n for m, n in zip(index_shape, src.shape)):
        raise OpError(f"{op}: index of shape {index_shape} must not be larger than src of shape {src.shape}")
    return GetItem.apply(src, index=tuple(slice(0, m) for m in index_shape))


def _written(shape: tuple[int, ...], targets: tuple[np.ndarray, ...]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[targets] = True
    return mask


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, value: Any = None) -> Tensor:
    """``torch.scatter`` (out of place): a copy of x with out[index[i][j]][j] = src[i][j] (dim=0), or = value.

    Two entries of index may not name one place (torch leaves that result undefined).
    """
    if (src is None) == (value is None):
        raise OpError("scatter: give exactly one of src and value")
    targets = _targets("scatter", x, dim, index)
    if targets[0].size and _occurrence(targets, x.shape).max() > 0:
        raise OpError(f"scatter: index of shape {targets[0].shape} writes some place of the tensor of shape "
                      f"{x.shape} twice; the result would be undefined")
    written = _written(x.shape, targets)
    if value is not None:
        return where(written, value, x)
    used = _used("scatter", src, x, targets[0].shape)
    return where(written, ScatterAdd.apply(used, index=targets, shape=x.shape), x)


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """``torch.scatter_add`` (out of place): x with src[i][j] added at out[index[i][j]][j] (dim=0); repeats add up."""
    targets = _targets("scatter_add", x, dim, index)
    used = _used("scatter_add", src, x, targets[0].shape)
    return x + ScatterAdd.apply(used, index=targets, shape=x.shape)


def _occurrence(targets: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> np.ndarray:
    """For each index entry, how many earlier entries name the same place (0 for the first)."""
    flat = np.ravel_multi_index(tuple(t.reshape(-1) for t in targets), shape)
    order = np.argsort(flat, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(flat[order])) + 1]
    rank = np.empty_like(order)
    rank[order] = np.arange(flat.size) - np.repeat(starts, np.diff(np.r_[starts, flat.size]))
    return rank.reshape(targets[0].shape)


def _layers(x: Tensor, targets: tuple[np.ndarray, ...], used: Tensor, fill: float) -> list[Tensor]:
    """The scattered entries as layers of x's shape, the k-th occurrence at each place in layer k, ``fill`` elsewhere.

    Within a layer no place is written twice, so each is one ScatterAdd; a reduction over the
    layers (and x) then sees every place's entries side by side.
    """
    rank = _occurrence(targets, x.shape)
    layers = []
    for k in range(int(rank.max()) + 1 if rank.size else 0):
        chosen = rank == k
        at = tuple(t[chosen] for t in targets)
        placed = ScatterAdd.apply(GetItem.apply(used, index=chosen), index=at, shape=x.shape)
        layers.append(where(_written(x.shape, at), placed, fill))
    return layers


def scatter_reduce(x: Tensor, dim: int, index: Any, src: Any, reduce: str, include_self: bool = True) -> Tensor:
    """``torch.scatter_reduce`` (out of place): each place that index names becomes the ``reduce`` of the src
    entries sent there (and of x's own entry when ``include_self``); places not named keep x.

    ``reduce`` is 'sum', 'prod', 'mean', 'amax' or 'amin'. A tied 'amax'/'amin' shares its
    gradient evenly among the tied entries that take part (see the module docstring). 'prod'
    multiplies layer by layer, so an entry of 0 gets the product of the others as its gradient.
    """
    if reduce not in REDUCTIONS:
        raise OpError(f"scatter_reduce: reduce must be one of {REDUCTIONS}, got {reduce!r}")
    targets = _targets("scatter_reduce", x, dim, index)
    used = _used("scatter_reduce", src, x, targets[0].shape)
    written = _written(x.shape, targets)
    own = [x] if include_self else []
    if reduce in ("sum", "mean"):
        total = ScatterAdd.apply(used, index=targets, shape=x.shape)
        total = x + total if include_self else total
        if reduce == "mean":
            count = np.zeros(x.shape, dtype=x.dtype)
            np.add.at(count, targets, 1)
            total = total / np.maximum(count + include_self, 1)
    elif reduce == "prod":
        total = own[0] if include_self else 1.0
        for layer in _layers(x, targets, used, 1.0):
            total = layer * total
    else:
        fill = -np.inf if reduce == "amax" else np.inf
        layers = [unsqueeze(t, -1) for t in own + _layers(x, targets, used, fill)]
        stacked = concatenate(layers, axis=-1) if layers else unsqueeze(x, -1)
        total = (reduce_max if reduce == "amax" else reduce_min)(stacked, -1, False)
    return total if include_self else where(written, total, x)


# --------------------------------------------------------------------------
# masks, nonzero, one_hot
# --------------------------------------------------------------------------


def _mask_array(op: str, mask: Any) -> np.ndarray:
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.dtype != np.bool_:
        raise OpError(f"{op}: mask must be a bool tensor or array, got dtype {array.dtype}")
    return array


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``torch.masked_fill`` (out of place): x with ``value`` (a number or a 0-d Tensor) where mask holds."""
    mask = _mask_array("masked_fill", mask)
    try:
        fits = np.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the tensor's shape {x.shape}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise OpError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
    return where(mask, value, x)


def masked_select(x: Tensor, mask: Any) -> Tensor:
    """``torch.masked_select``: the entries of x where mask holds (both broadcast first), as a 1-D tensor."""
    mask = _mask_array("masked_select", mask)
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        raise OpError(f"masked_select: mask of shape {mask.shape} does not broadcast with the tensor's shape "
                      f"{x.shape}") from None
    return GetItem.apply(BroadcastTo.apply(x, shape=shape), index=np.broadcast_to(mask, shape))


def nonzero(x: Any) -> tuple[Tensor, ...]:
    """``numpy.nonzero``: one int64 index tensor per axis, of the places where x is not zero (no gradient)."""
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    if data.ndim == 0:
        raise OpError("nonzero: a 0-d tensor has no axes to index; use x.reshape(1) first (as NumPy asks)")
    return tuple(wrap(i.astype(np.int64)) for i in np.nonzero(data))


def argwhere(x: Any) -> Tensor:
    """``numpy.argwhere`` (and torch's ``x.nonzero()``): the (n, ndim) int64 coordinates of the nonzero entries."""
    return wrap(np.argwhere(np.asarray(x.data if isinstance(x, Tensor) else x)).astype(np.int64))


def one_hot(index: Any, num_classes: int = -1) -> Tensor:
    """``torch.nn.functional.one_hot``: int64, with a last axis of ``num_classes`` (-1: the largest index + 1)."""
    index = _index_array("one_hot", index)
    if num_classes == -1:
        if index.size == 0:
            raise OpError("one_hot: cannot infer the number of classes from an empty index; give num_classes")
        num_classes = int(index.max()) + 1
    _check_range("one_hot", index, num_classes, index.ndim, index.shape + (num_classes,))
    return wrap((index[..., None] == np.arange(num_classes)).astype(np.int64))


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = [
    "argwhere", "gather", "index_select", "masked_fill", "masked_select", "nonzero", "one_hot", "scatter",
    "scatter_add", "scatter_reduce", "take_along_axis",
]
