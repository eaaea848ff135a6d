"""Reductions over axes: sum, mean, max, logsumexp, var.

Ties in max split the gradient evenly between the tied elements.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, unwrap
from tinygrad_vae.ops.base import Axis, Grads, Op, Value, keepdims_shape, normalize_axes
from tinygrad_vae.ops.elementwise import Exp, Where
from tinygrad_vae.ops.movement import BroadcastTo, Reshape


def expand_reduced(grad: Value, in_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Value:
    """Bring the gradient of a reduction over ``axes`` back to the reduced tensor's shape ``in_shape``.

    The reduced axes are put back as length 1 (unless ``keepdims`` kept them) and the gradient is
    broadcast along them: a read-only view, so it costs no memory.
    """
    if not keepdims:
        grad = Reshape.apply(grad, shape=keepdims_shape(in_shape, axes))
    return BroadcastTo.apply(grad, shape=in_shape)


class Sum(Op):
    """Sum over axes; its gradient is the output's gradient copied along them (``expand_reduced``)."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = normalize_axes(axis, a.ndim, "sum")
        self.keepdims = keepdims
        return np.add.reduce(a, self.axes, None, None, keepdims)  # np.sum without its Python wrapper

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (expand_reduced(grad, a.shape, self.axes, self.keepdims),)


class Mean(Op):
    """Sum / count; the gradient is scaled by 1/count before it is copied back, on the smaller tensor."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = normalize_axes(axis, a.ndim, "mean")
        self.keepdims = keepdims
        if a.size == 0:
            raise OpError(f"mean: cannot take the mean of an empty tensor of shape {a.shape}")
        self.count = math.prod(a.shape[i] for i in self.axes)
        # What np.mean computes (the same sum, then a true division), without its Python-level overhead.
        return np.add.reduce(a, self.axes, None, None, keepdims) / self.count

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (expand_reduced(grad * (1.0 / self.count), a.shape, self.axes, self.keepdims),)


class Max(Op):
    """Max over axes; tied maxima share the gradient evenly."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = normalize_axes(axis, a.ndim, "max")
        self.keepdims = keepdims
        if a.size == 0:
            raise OpError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        return np.max(a, axis=self.axes, keepdims=keepdims)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = unwrap(a)
        top = unwrap(out) if self.keepdims else unwrap(out).reshape(keepdims_shape(x.shape, self.axes))
        is_max = x == top
        share = is_max / np.sum(is_max, axis=self.axes, keepdims=True)
        return (expand_reduced(grad, x.shape, self.axes, self.keepdims) * share.astype(grad.dtype),)


class LogSumExp(Op):
    """log(sum(exp(x))) over axes, shifted by the max so it cannot overflow.

    Gradient: softmax(x) = exp(x - out). A slice that is all -inf has out = -inf;
    its gradient is taken as 0 rather than NaN.
    """

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = normalize_axes(axis, a.ndim, "logsumexp")
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


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance, sum((x - mean)^2) / (N - correction); correction=1 is unbiased, as torch.var."""
    axes = normalize_axes(axis, x.ndim, "var")
    count = int(np.prod([x.shape[a] for a in axes]))
    if count - correction <= 0:
        raise OpError(f"var: {count} elements over axes {axes} are too few for correction={correction}")
    centred = x - x.mean(axis=axes, keepdims=True)
    return (centred * centred).sum(axis=axes, keepdims=keepdims) * (1.0 / (count - correction))


# --------------------------------------------------------------------------
# functional forms (what the Tensor's methods call)
# --------------------------------------------------------------------------


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001 (NumPy's name)
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """min(x) = -max(-x), which gives ties the same even split."""
    return -Max.apply(-x, axis=axis, keepdims=keepdims)


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["logsumexp", "max", "mean", "min", "sum", "var"]
