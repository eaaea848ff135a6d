"""The Tensor's arithmetic and math methods, each a call of an op; installed on ``Tensor`` at import.

``core/tensor.py`` defines what a Tensor is for autograd; this file gives it
the operators and NumPy-style methods users call (``x + y``, ``x.exp()``,
``x.sum(axis=0)``, ``x[idx]``). Keeping them in the ops layer means the core
imports no op. ``install`` copies every member of ``TensorMethods`` onto
``Tensor``; ``ops/__init__.py`` calls it, so importing the package (or any op)
gives a complete Tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinygrad_vae.core.tensor import Tensor, lift, unwrap, wrap
from tinygrad_vae.ops import activations as act
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import linalg
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops import scans as sc
from tinygrad_vae.ops import sorting as srt
from tinygrad_vae.ops.base import Axis, dim_or_axis


class TensorMethods:
    """The methods ``install`` puts on ``Tensor`` (``self`` is always a Tensor).

    Every method calls the functional form of an op (``ew.mul``, ``red.sum``, ...): a
    primitive's ``apply`` or a composite's function. An operator lifts its other operand
    (a number, a list, an array) to a Tensor first.
    """

    # ---- arithmetic ----------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ew.add(self, lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return ew.add(lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return ew.sub(self, lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return ew.sub(lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return ew.mul(self, lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return ew.mul(lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ew.div(self, lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ew.div(lift(other, self), self)

    def __neg__(self) -> Tensor:
        return ew.neg(self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ew.power(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return ew.power(lift(base, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return linalg.matmul(lift(other, self), self)

    # ---- comparisons: bool tensors outside the graph (no op, no gradient) -----
    def __lt__(self, other: Any) -> Tensor:
        return wrap(self.data < unwrap(other))

    def __le__(self, other: Any) -> Tensor:
        return wrap(self.data <= unwrap(other))

    def __gt__(self, other: Any) -> Tensor:
        return wrap(self.data > unwrap(other))

    def __ge__(self, other: Any) -> Tensor:
        return wrap(self.data >= unwrap(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return wrap(self.data == unwrap(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return wrap(self.data != unwrap(other))

    # ---- elementwise functions -------------------------------------------------
    def exp(self) -> Tensor:
        return ew.exp(self)

    def log(self) -> Tensor:
        return ew.log(self)

    def sqrt(self) -> Tensor:
        return ew.sqrt(self)

    def abs(self) -> Tensor:
        return ew.abs(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002 (torch's names)
        return ew.clip(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        return ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ew.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        return ew.astype(self, dtype)

    # ---- more operators: % // and the bitwise operators ---------------------------
    # ---- math functions (trigonometric, logarithmic, rounding, ...) ----------------
    # ---- logical and bitwise functions ---------------------------------------------

    # ---- activations -------------------------------------------------------------
    def relu(self) -> Tensor:
        return act.relu(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return act.leaky_relu(self, negative_slope)

    def sigmoid(self) -> Tensor:
        return act.sigmoid(self)

    def tanh(self) -> Tensor:
        return act.tanh(self)

    def softplus(self) -> Tensor:
        return act.softplus(self)

    def log_sigmoid(self) -> Tensor:
        return act.log_sigmoid(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return act.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return act.log_softmax(self, axis)

    # ---- reductions ----------------------------------------------------------------
    # torch's dim/keepdim (positional as torch), and NumPy's axis=/keepdims= keywords alike.
    def sum(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
            keepdims: bool = False) -> Tensor:
        return red.sum(self, dim_or_axis("sum", dim, axis), dtype, keepdim or keepdims)

    def mean(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
             keepdims: bool = False) -> Tensor:
        return red.mean(self, dim_or_axis("mean", dim, axis), dtype, keepdim or keepdims)

    def prod(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
             keepdims: bool = False) -> Tensor:
        return red.prod(self, dim_or_axis("prod", dim, axis), dtype, keepdim or keepdims)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool = False) -> Tensor | red.ValuesIndices:
        """torch.max: no dim, the largest value; an int dim, (values, indices); a Tensor, the elementwise maximum.

        As torch, max(dim) gives the gradient to the index it returns; max() with no dim splits it between ties.
        """
        return _max_or_min(self, dim_or_axis("max", dim, axis), keepdim or keepdims, largest=True)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool = False) -> Tensor | red.ValuesIndices:
        """torch.min: no dim, the smallest value; an int dim, (values, indices); a Tensor, the elementwise minimum."""
        return _max_or_min(self, dim_or_axis("min", dim, axis), keepdim or keepdims, largest=False)

    def amax(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.amax: values only, over one or several dims; tied maxima share the gradient evenly."""
        return red.amax(self, dim_or_axis("amax", dim, axis), keepdim or keepdims)

    def amin(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.amin(self, dim_or_axis("amin", dim, axis), keepdim or keepdims)

    def var(self, dim: Axis = None, correction: float | None = None, keepdim: bool = False, *,
            unbiased: bool | None = None, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.var: correction=1 by default; ``unbiased`` (or a bool in correction's place, as torch's
        var(dim, unbiased)) means correction 1 or 0."""
        return red.var(self, dim_or_axis("var", dim, axis), _correction(correction, unbiased), keepdim or keepdims)

    def std(self, dim: Axis = None, correction: float | None = None, keepdim: bool = False, *,
            unbiased: bool | None = None, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.std: sqrt of ``var`` with the same arguments."""
        return red.std(self, dim_or_axis("std", dim, axis), _correction(correction, unbiased), keepdim or keepdims)

    def logsumexp(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None,
                  keepdims: bool = False) -> Tensor:
        return red.logsumexp(self, dim_or_axis("logsumexp", dim, axis), keepdim or keepdims)

    def any(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.any(self, dim_or_axis("any", dim, axis), keepdim or keepdims)

    def all(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.all(self, dim_or_axis("all", dim, axis), keepdim or keepdims)

    # ---- scans and sorting -----------------------------------------------------------
    def cumsum(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.cumsum_dim(self, _required_dim("cumsum", dim, axis))

    def cumprod(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.cumprod_dim(self, _required_dim("cumprod", dim, axis))

    def cummax(self, dim: int | None = None, *, axis: int | None = None) -> red.ValuesIndices:
        return sc.cummax(self, _required_dim("cummax", dim, axis))

    def cummin(self, dim: int | None = None, *, axis: int | None = None) -> red.ValuesIndices:
        return sc.cummin(self, _required_dim("cummin", dim, axis))

    def logcumsumexp(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.logcumsumexp(self, _required_dim("logcumsumexp", dim, axis))

    def diff(self, n: int = 1, dim: int = -1) -> Tensor:
        return sc.diff(self, n, dim)

    def sort(self, dim: int = -1, descending: bool = False) -> red.ValuesIndices:
        return srt.sort_dim(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False) -> Tensor:
        return srt.argsort_dim(self, dim, descending)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> red.ValuesIndices:
        return srt.topk(self, k, dim, largest, sorted)

    def argmax(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
               keepdims: bool = False) -> Tensor:
        """torch.argmax: dim=None is the index into the flattened tensor."""
        return srt.argmax(self, dim_or_axis("argmax", dim, axis), keepdim or keepdims)

    def argmin(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
               keepdims: bool = False) -> Tensor:
        return srt.argmin(self, dim_or_axis("argmin", dim, axis), keepdim or keepdims)

    # ---- shape -------------------------------------------------------------------
    # (creation-like methods: tril, triu, new_zeros, ...)

    def reshape(self, *shape: Any) -> Tensor:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        return mv.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def flatten(self) -> Tensor:
        return mv.reshape(self, (-1,))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like ``numpy.transpose``: no arguments reverses them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return mv.transpose(self, axes or None)

    def permute(self, *dims: int) -> Tensor:
        return self.transpose(*dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return mv.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        return mv.swap_last_axes(self)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return mv.broadcast_to(self, shape)

    def squeeze(self, axis: Axis = None) -> Tensor:
        return mv.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return mv.unsqueeze(self, axis)

    def __getitem__(self, index: Any) -> Tensor:
        return mv.getitem(self, index)

    # ---- contractions and indexing (einsum-like products, gather, scatter, masks) -----


def _max_or_min(x: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor | red.ValuesIndices:
    """torch.max/min's three forms: over everything, along an int dim with indices, or against another Tensor."""
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):
        return ew.maximum(x, dim) if largest else ew.minimum(x, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim needs a dim (torch's {name}() takes no keepdim)")
        return red.amax(x) if largest else red.amin(x)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int (torch.{name} reduces one dim), got {dim!r}; "
                        f"use a{name} for several dims")
    return red.extreme_with_index(x, dim, keepdim, largest)  # checks that dim is an int


def _correction(correction: float | None, unbiased: bool | None) -> float:
    """torch's var/std correction: from ``correction`` or ``unbiased`` (not both), 1 by default."""
    if correction is not None and unbiased is not None:
        raise TypeError(f"var: got both correction={correction} and unbiased={unbiased}; give one of them")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def _required_dim(op: str, dim: int | None, axis: int | None) -> int:
    """The dim a torch scan needs (torch has no default for it)."""
    chosen = dim_or_axis(op, dim, axis)
    if chosen is None:
        raise TypeError(f"{op}: missing the dim to scan along (torch's {op} requires dim)")
    return chosen


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` onto ``cls``."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)
