"""Reductions over axes: sum, mean, prod, amax/amin, max/min with indices, logsumexp, var/std, any/all.

Conventions:

* ``amax``/``amin`` (and ``x.max()``/``x.min()`` with no dim) split the gradient evenly
  between tied extremes, as torch's amax and full max do; ``x.max(dim)``/``x.min(dim)``
  give it all to the index they return (the first extreme, as torch), as torch's max(dim) does.
* A 0-d tensor can be reduced over dim 0 or -1 (as torch): the result is the tensor itself.
* The mean of an empty selection is nan, and var/std with N - correction <= 0 give what
  torch gives (sum of squares / 0: nan for 0/0, inf otherwise), not an error. Their
  gradients are the composite's derivative, nan wherever N - correction <= 0: as torch
  for one element or equal ones; with unequal elements torch gives +inf, ours is nan
  (the centring's rule subtracts the mean of [-inf, inf]).
* ``prod``'s gradient is the product of the other elements, computed without division, so
  it is exact with zeros (one zero: the product of the others there, 0 elsewhere; two or more: 0).
* Integer and bool inputs of amax/amin/max/min and any/all give results outside the graph.

The module-level functions follow NumPy (``var(x, axis, ddof=0)``, ``max(x, axis)`` returns
values); the Tensor methods follow torch (``x.var(dim, correction=1)``, ``x.max(dim)`` returns
(values, indices)).
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, unwrap, wrap
from tinygrad_vae.ops.base import Axis, Grads, Op, Value, keepdims_shape, normalize_axes
from tinygrad_vae.ops.elementwise import Exp, Sqrt, Where, astype
from tinygrad_vae.ops.movement import BroadcastTo, GetItem, Reshape, Transpose


class ValuesIndices(NamedTuple):
    """What torch's max(dim), min(dim), sort, topk, cummax and cummin return: differentiable values, int64 indices."""

    values: Tensor
    indices: Tensor


def reduction_axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """``normalize_axes``, and a 0-d tensor's dim 0 or -1 (as torch) meaning no axis at all."""
    if ndim > 0 or axis is None:
        return normalize_axes(axis, ndim, op)
    for a in (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis):
        if a not in (0, -1):
            raise OpError(f"{op}: dim {a} is out of range for a 0-d tensor (expected 0 or -1)")
    return ()


def one_axis(axis: Any, ndim: int, op: str) -> int:
    """A single dim as a non-negative axis (0 for a 0-d tensor, which is then treated as 1-D)."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: dim must be an int, got {axis!r}")
    if not -builtins.max(ndim, 1) <= axis < builtins.max(ndim, 1):
        raise OpError(f"{op}: dim {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % builtins.max(ndim, 1)


def expand_reduced(grad: Value, in_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Value:
    """Bring the gradient of a reduction over ``axes`` back to the reduced tensor's shape ``in_shape``.

    The reduced axes are put back as length 1 (unless ``keepdims`` kept them) and the gradient is
    broadcast along them: a read-only view, so it costs no memory.
    """
    if not keepdims:
        grad = Reshape.apply(grad, shape=keepdims_shape(in_shape, axes))
    return BroadcastTo.apply(grad, shape=in_shape)


def gather_along(x: Tensor, indices: np.ndarray, axis: int) -> Tensor:
    """``np.take_along_axis(x, indices, axis)`` as an indexing op, so the gradient scatters to the source positions.

    ``indices`` has ``x``'s number of dimensions; along the other axes it matches ``x``'s shape.
    """
    index = tuple(
        indices if i == axis else np.arange(n).reshape([-1 if j == i else 1 for j in range(x.ndim)])
        for i, n in enumerate(x.shape)
    )
    return GetItem.apply(x, index=index)


class Sum(Op):
    """Sum over axes; its gradient is the output's gradient copied along them (``expand_reduced``)."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = reduction_axes(axis, a.ndim, "sum")
        self.keepdims = keepdims
        return np.add.reduce(a, self.axes, None, None, keepdims)  # np.sum without its Python wrapper

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (expand_reduced(grad, a.shape, self.axes, self.keepdims),)


class Mean(Op):
    """Sum / count; the gradient is scaled by 1/count before it is copied back, on the smaller tensor.

    An empty selection (count 0) gives nan, as torch and NumPy; its gradient is empty.
    """

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = reduction_axes(axis, a.ndim, "mean")
        self.keepdims = keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        # What np.mean computes (the same sum, then a true division), without its Python-level overhead.
        with np.errstate(invalid="ignore"):
            return np.add.reduce(a, self.axes, None, None, keepdims) / self.count

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        scale = 1.0 / self.count if self.count else 0.0  # count 0: the input, and so its gradient, is empty
        return (expand_reduced(grad * scale, a.shape, self.axes, self.keepdims),)


class Extreme(Op):
    """amax (``largest=True``) or amin over axes; tied extremes share the gradient evenly (as torch's amax)."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool, largest: bool) -> np.ndarray:
        name = "amax" if largest else "amin"
        self.axes = reduction_axes(axis, a.ndim, name)
        self.keepdims = keepdims
        if builtins.any(a.shape[i] == 0 for i in self.axes):
            raise OpError(f"{name}: cannot reduce an empty selection of a tensor of shape {a.shape}")
        return (np.max if largest else np.min)(a, axis=self.axes, keepdims=keepdims)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = unwrap(a)
        top = unwrap(out) if self.keepdims else unwrap(out).reshape(keepdims_shape(x.shape, self.axes))
        is_top = x == top
        share = is_top / np.sum(is_top, axis=self.axes, keepdims=True)
        return (expand_reduced(grad, x.shape, self.axes, self.keepdims) * share.astype(grad.dtype),)


class LogSumExp(Op):
    """log(sum(exp(x))) over axes, shifted by the max so it cannot overflow.

    Gradient: softmax(x) = exp(x - out). A slice that is all -inf has out = -inf;
    its gradient is taken as 0 rather than NaN.
    """

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = reduction_axes(axis, a.ndim, "logsumexp")
        self.keepdims = keepdims
        shift = np.max(a, axis=self.axes, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0.0)  # not in place: a 0-d input gives a NumPy scalar
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - shift), axis=self.axes, keepdims=True)) + shift
        return out if keepdims else out.reshape(np.delete(out.shape, self.axes).tolist())

    def backward(self, grad: Value, out: Value, x: Value) -> Grads:
        kept = out if self.keepdims else Reshape.apply(out, shape=keepdims_shape(x.shape, self.axes))
        safe = Where.apply(kept, np.zeros((), dtype=out.dtype), cond=np.isfinite(unwrap(kept)))
        return (expand_reduced(grad, x.shape, self.axes, self.keepdims) * Exp.apply(x - safe),)


# --------------------------------------------------------------------------
# composites
# --------------------------------------------------------------------------


def _moved_to_end(x: Tensor, axes: tuple[int, ...]) -> Tensor:
    """``x`` with ``axes`` moved to the end and merged into one last axis."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = Transpose.apply(x, axes=tuple(kept + list(axes))) if x.ndim else x
    return Reshape.apply(moved, shape=tuple(x.shape[i] for i in kept) + (math.prod(x.shape[i] for i in axes),))


def prod(x: Tensor, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """The product over axes (NumPy's signature), as the last entry of a cumulative product.

    The reduced axes are merged into one, and prod = cumprod(...)[..., -1]: cumprod's rule
    gives each element the product of the *others*, without dividing, so zeros in the input
    are exact (see scans.Cumprod; it costs O(n^2) per product of n elements in the backward pass).
    An empty product is 1 (sum of nothing, plus 1, keeps the empty gradient).
    """
    from tinygrad_vae.ops.scans import Cumprod  # scans builds on this module

    if dtype is not None:
        x = astype(x, dtype)
    axes = reduction_axes(axis, x.ndim, "prod")
    merged = _moved_to_end(x, axes)
    if merged.shape[-1] == 0:
        out = Sum.apply(merged, axis=-1, keepdims=False) + 1
    else:
        out = GetItem.apply(Cumprod.apply(merged), index=(Ellipsis, -1))
    return Reshape.apply(out, shape=keepdims_shape(x.shape, axes) if keepdims else out.shape)


def _variance(x: Tensor, axis: Axis, correction: float, keepdims: bool, op: str) -> Tensor:
    """sum((x - mean)^2) / max(0, N - correction): with too few elements nan (0/0) or inf, as torch."""
    axes = reduction_axes(axis, x.ndim, op)
    count = math.prod(x.shape[a] for a in axes)
    centred = x - Mean.apply(x, axis=axes, keepdims=True)
    squares = Sum.apply(centred * centred, axis=axes, keepdims=keepdims)
    dof = np.asarray(builtins.max(0.0, count - correction), dtype=squares.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return squares / wrap(dof)


def var(x: Tensor, axis: Axis = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
    """Variance as ``np.var``: sum((x - mean)^2) / (N - ddof), ddof = 0 by default (torch's method uses 1)."""
    return _variance(x, axis, ddof, keepdims, "var")


def std(x: Tensor, axis: Axis = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation as ``np.std``: sqrt(var(x, axis, ddof))."""
    return Sqrt.apply(_variance(x, axis, ddof, keepdims, "std"))


def var_mean(x: Tensor, dim: Axis = None, *, correction: float = 1, keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """torch.var_mean: (var with ``correction``, mean), over the same dims."""
    return _variance(x, dim, correction, keepdim, "var_mean"), Mean.apply(x, axis=dim, keepdims=keepdim)


def std_mean(x: Tensor, dim: Axis = None, *, correction: float = 1, keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """torch.std_mean: (std with ``correction``, mean), over the same dims."""
    return Sqrt.apply(_variance(x, dim, correction, keepdim, "std_mean")), Mean.apply(x, axis=dim, keepdims=keepdim)


def extreme(x: Tensor, axis: Axis, keepdims: bool, largest: bool) -> Tensor:
    """amax/amin; for integer and bool tensors the result is outside the graph (NumPy's max/min, exact)."""
    if x.dtype in FLOAT_DTYPES:
        return Extreme.apply(x, axis=axis, keepdims=keepdims, largest=largest)
    name = "amax" if largest else "amin"
    axes = reduction_axes(axis, x.ndim, name)
    if builtins.any(x.shape[i] == 0 for i in axes):
        raise OpError(f"{name}: cannot reduce an empty selection of a tensor of shape {x.shape}")
    return wrap(np.asarray((np.max if largest else np.min)(x.data, axis=axes, keepdims=keepdims)))


def extreme_with_index(x: Tensor, dim: int, keepdim: bool, largest: bool) -> ValuesIndices:
    """torch's max(dim)/min(dim): the first extreme along ``dim`` and its index; the gradient goes to that index."""
    name = "max" if largest else "min"
    axis = one_axis(dim, x.ndim, name)
    flat = Reshape.apply(x, shape=(1,)) if x.ndim == 0 else x
    if flat.shape[axis] == 0:
        raise OpError(f"{name}: cannot reduce dim {dim} of length 0 (shape {x.shape})")
    indices = (np.argmax if largest else np.argmin)(flat.data, axis=axis, keepdims=True)
    values = gather_along(flat, indices, axis) if x.dtype in FLOAT_DTYPES else wrap(np.take_along_axis(
        flat.data, indices, axis))
    shape = x.shape if x.ndim == 0 else values.shape if keepdim else np.delete(values.shape, axis).tolist()
    return ValuesIndices(Reshape.apply(values, shape=tuple(shape)), wrap(indices.reshape(shape).astype(np.int64)))


def _truth(x: Tensor, axis: Axis, keepdims: bool, op: str) -> Tensor:
    """np.any / np.all over axes: a bool tensor outside the graph."""
    reduce = np.any if op == "any" else np.all
    return wrap(np.asarray(reduce(x.data, axis=reduction_axes(axis, x.ndim, op), keepdims=keepdims)))


# --------------------------------------------------------------------------
# functional forms (NumPy's semantics; what the Tensor's methods call)
# --------------------------------------------------------------------------


def sum(x: Tensor, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Tensor:  # NumPy's name
    """np.sum: ``dtype`` casts first (an integer or bool dtype puts the result outside the graph)."""
    return Sum.apply(x if dtype is None else astype(x, dtype), axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """np.mean; the mean of an empty selection is nan."""
    return Mean.apply(x if dtype is None else astype(x, dtype), axis=axis, keepdims=keepdims)


def amax(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """np.amax: the largest values over axes; tied maxima share the gradient evenly."""
    return extreme(x, axis, keepdims, largest=True)


def amin(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """np.amin: the smallest values over axes (computed directly, exact for unsigned and bool data)."""
    return extreme(x, axis, keepdims, largest=False)


max, min = amax, amin  # np.max and np.min are np.amax and np.amin)


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def any(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # NumPy's name
    """np.any: a bool tensor, outside the graph."""
    return _truth(x, axis, keepdims, "any")


def all(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # NumPy's name
    """np.all: a bool tensor, outside the graph."""
    return _truth(x, axis, keepdims, "all")


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["all", "amax", "amin", "any", "logsumexp", "max", "mean", "min", "prod", "std", "std_mean", "sum", "var",
           "var_mean"]
