"""Scans along one axis: cumsum, cumprod, cummax/cummin, logcumsumexp, and diff.

Conventions: cumprod's gradient is exact with zeros in the input (no division);
cummax/cummin give the gradient to the index they return, the latest position of
the running extreme (ties: the later one, as torch).

The module-level cumsum/cumprod follow NumPy (``axis=None`` flattens); the Tensor
methods follow torch (``x.cumsum(dim)``, dim required).
"""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, wrap
from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.elementwise import Exp, Where
from tinygrad_vae.ops.movement import BroadcastTo, GetItem, Reshape, Transpose
from tinygrad_vae.ops.reductions import Sum, ValuesIndices, gather_along, one_axis


def flip(x: Value, axis: int) -> Value:
    """``x`` reversed along ``axis`` (an indexing op, so it works on arrays and Tensors)."""
    return GetItem.apply(x, index=(slice(None),) * axis + (slice(None, None, -1),))


class Cumsum(Op):
    """Running sum along ``axis``: out_j = sum_{i<=j} x_i.

    A primitive because the composite (a triangular mask times x, summed) costs O(n^2).
    Its gradient is dL/dx_i = sum_{j>=i} g_j, a cumsum of the reversed gradient, reversed
    back; it is written with Cumsum itself, so it is differentiable again.
    """

    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        return np.cumsum(a, axis=axis)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (flip(Cumsum.apply(flip(grad, self.axis), axis=self.axis), self.axis),)


def _pairs(x: Value) -> Value:
    """x of shape (..., n) as (..., n, n), row i a copy of x: the rows the last-axis scans' rules work on."""
    n = x.shape[-1]
    return BroadcastTo.apply(Reshape.apply(x, shape=x.shape[:-1] + (1, n)), shape=x.shape + (n,))


class Cumprod(Op):
    """Running product along the last axis: out_j = prod_{i<=j} x_i.

    Gradient without division (exact with zeros): d out_j / d x_i = prod_{k<=j, k!=i} x_k
    for i <= j. Row i of A = cumprod(x with x_i set to 1) holds these for every j, so
    dL/dx_i = sum_{j>=i} g_j A[i, j]. It costs O(n^2) per row, and being written with
    Cumprod, Where and sums it is differentiable again.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.cumprod(a, axis=-1)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        n = a.shape[-1]
        one, zero = np.ones((), dtype=grad.dtype), np.zeros((), dtype=grad.dtype)
        others = Cumprod.apply(Where.apply(one, _pairs(a), cond=np.eye(n, dtype=bool)))
        weighted = others * Reshape.apply(grad, shape=grad.shape[:-1] + (1, n))
        later = np.triu(np.ones((n, n), dtype=bool))  # [i, j]: j >= i
        return (Sum.apply(Where.apply(weighted, zero, cond=later), axis=-1, keepdims=False),)


class LogCumSumExp(Op):
    """out_j = log(sum_{i<=j} exp(x_i)) along the last axis, by np.logaddexp.accumulate (no overflow).

    Gradient: dL/dx_i = sum_{j>=i} g_j exp(x_i - out_j). Each factor is <= 1 (out_j >= x_i), so
    it is computed as is, on an (n, n) matrix, rather than as exp(x_i) * sum g_j exp(-out_j),
    which overflows. The pairs j < i get an exponent of -inf (not a masked product), so no
    inf * 0 reaches the second derivative.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.logaddexp.accumulate(a, axis=-1)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        n = a.shape[-1]
        later = np.triu(np.ones((n, n), dtype=bool))  # [i, j]: j >= i
        gap = Transpose.apply(_pairs(a), axes=tuple(range(a.ndim - 1)) + (a.ndim, a.ndim - 1)) - _pairs(out)
        weights = Exp.apply(Where.apply(gap, np.full((), -np.inf, dtype=grad.dtype), cond=later))
        return (Sum.apply(weights * Reshape.apply(grad, shape=grad.shape[:-1] + (1, n)), axis=-1, keepdims=False),)


def _along_last(op: type[Op], x: Tensor, dim: int, name: str) -> Tensor:
    """A last-axis scan applied along ``dim``: swap ``dim`` with the last axis, scan, swap back."""
    if x.ndim == 0:
        return Reshape.apply(op.apply(Reshape.apply(x, shape=(1,))), shape=())
    axis = one_axis(dim, x.ndim, name)
    swap = list(range(x.ndim))
    swap[axis], swap[-1] = swap[-1], swap[axis]
    return Transpose.apply(op.apply(Transpose.apply(x, axes=tuple(swap))), axes=tuple(swap))


def _flat_or(x: Tensor, axis: int | None, name: str) -> tuple[Tensor, int]:
    """NumPy's axis=None (flatten first), or the axis checked."""
    if axis is None:
        return Reshape.apply(x, shape=(x.numel(),)), 0
    if x.ndim == 0:
        x = Reshape.apply(x, shape=(1,))
    return x, one_axis(axis, x.ndim, name)


def cumsum_dim(x: Tensor, dim: int) -> Tensor:
    """torch.cumsum(x, dim)."""
    axis = one_axis(dim, x.ndim, "cumsum")
    if x.ndim == 0:  # torch: the 0-d tensor itself
        return Reshape.apply(Cumsum.apply(Reshape.apply(x, shape=(1,)), axis=0), shape=())
    return Cumsum.apply(x, axis=axis)


def cumsum(x: Tensor, axis: int | None = None) -> Tensor:
    """np.cumsum: ``axis=None`` flattens."""
    x, axis = _flat_or(x, axis, "cumsum")
    return Cumsum.apply(x, axis=axis)


def cumprod_dim(x: Tensor, dim: int) -> Tensor:
    """torch.cumprod(x, dim); exact with zeros."""
    return _along_last(Cumprod, x, dim, "cumprod")


def cumprod(x: Tensor, axis: int | None = None) -> Tensor:
    """np.cumprod: ``axis=None`` flattens."""
    x, axis = _flat_or(x, axis, "cumprod")
    return _along_last(Cumprod, x, axis, "cumprod")


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """torch.logcumsumexp(x, dim): log of the running sum of exp, without overflow."""
    return _along_last(LogCumSumExp, x, dim, "logcumsumexp")


def _running_extreme(x: Tensor, dim: int, largest: bool) -> ValuesIndices:
    """torch's cummax/cummin: the running extreme and the latest index where it was reached (ties: the later)."""
    name = "cummax" if largest else "cummin"
    flat = Reshape.apply(x, shape=(1,)) if x.ndim == 0 else x
    axis = one_axis(dim, x.ndim, name)
    running = (np.maximum if largest else np.minimum).accumulate(flat.data, axis=axis)
    positions = np.arange(flat.shape[axis]).reshape([-1 if i == axis else 1 for i in range(flat.ndim)])
    # Where x_j equals the running extreme it is (tied for) the extreme so far; the latest such j is the index.
    indices = np.maximum.accumulate(np.where(flat.data == running, positions, 0), axis=axis).astype(np.int64)
    values = gather_along(flat, indices, axis) if x.dtype in FLOAT_DTYPES else wrap(running)
    return ValuesIndices(Reshape.apply(values, shape=x.shape), wrap(indices.reshape(x.shape)))


def cummax(x: Tensor, dim: int) -> ValuesIndices:
    """torch.cummax: (values, indices); the gradient goes to the index."""
    return _running_extreme(x, dim, largest=True)


def cummin(x: Tensor, dim: int) -> ValuesIndices:
    """torch.cummin: (values, indices); the gradient goes to the index."""
    return _running_extreme(x, dim, largest=False)


def diff(x: Tensor, n: int = 1, axis: int = -1) -> Tensor:
    """np.diff: the n-th forward difference x[i+1] - x[i] along ``axis``, a composite of slices."""
    if x.ndim == 0:
        raise OpError("diff: needs at least 1 dimension, got a 0-d tensor")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise TypeError(f"diff: n must be a non-negative int, got {n!r}")
    axis = one_axis(axis, x.ndim, "diff")
    before = (slice(None),) * axis
    for _ in range(n):
        x = GetItem.apply(x, index=before + (slice(1, None),)) - GetItem.apply(x, index=before + (slice(None, -1),))
    return x


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["cummax", "cummin", "cumprod", "cumsum", "diff", "logcumsumexp"]
