"""Movement and indexing: reshape, transpose, broadcast, squeeze, indexing and joining.

Indexing's gradient scatters back, with repeated indices adding up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.base import Axis, Grads, Op, Value, normalize_axes, unbroadcast
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


def squeeze(x: Tensor, axis: Axis = None) -> Tensor:
    """Drop axes of length 1 (all of them, or the ones named)."""
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise OpError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


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


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return BroadcastTo.apply(x, shape=tuple(shape))


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``, with Tensors and lists inside the index read as integer or mask arrays."""
    return GetItem.apply(x, index=normalize_index(index))


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["broadcast_to", "concatenate", "getitem", "reshape", "squeeze", "stack", "transpose", "unsqueeze"]
