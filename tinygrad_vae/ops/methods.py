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

import numpy as np

from tinygrad_vae.core.tensor import Tensor, lift, unwrap, wrap
from tinygrad_vae.ops import activations as act
from tinygrad_vae.ops import creation as cr
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import linalg, special
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops.base import Axis


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

    def double(self) -> Tensor:
        """A float64 copy (the tensor itself if it is float64 already, as in torch)."""
        return self if self.dtype == np.float64 else ew.astype(self, np.float64)

    def float(self) -> Tensor:
        """A float32 copy (the tensor itself if it is float32 already, as in torch)."""
        return self if self.dtype == np.float32 else ew.astype(self, np.float32)

    def to(self, dtype: Any) -> Tensor:
        """``x.to(np.float64)``: ``astype``, or the tensor itself when the dtype already matches.

        Only dtypes: every tensor lives in NumPy, on the CPU, so ``x.to("cpu")`` is ``x`` and any other
        device is an error.
        """
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        if isinstance(dtype, str) and not hasattr(np, dtype):
            raise TypeError(f"to: tensors live in NumPy on the CPU; got device or dtype {dtype!r}")
        return self if self.dtype == np.dtype(dtype) else ew.astype(self, dtype)

    # ---- more operators: % // and the bitwise operators ---------------------------
    # ---- math functions (trigonometric, logarithmic, rounding, ...) ----------------
    # ---- logical and bitwise functions ---------------------------------------------

    # ---- activations -------------------------------------------------------------
    # Only the activations torch's Tensor has as methods (plus leaky_relu, softplus and log_sigmoid,
    # which this Tensor had before); the others are functions in ops.activations and nn.functional.
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

    def softmax(self, dim: int | None = None, axis: int | None = None) -> Tensor:
        """Along ``dim`` (or NumPy's ``axis``), the last axis when neither is given."""
        return act.softmax(self, dim, axis)

    def log_softmax(self, dim: int | None = None, axis: int | None = None) -> Tensor:
        """Along ``dim`` (or NumPy's ``axis``), the last axis when neither is given."""
        return act.log_softmax(self, dim, axis)

    def erf(self) -> Tensor:
        return special.erf(self)

    def erfc(self) -> Tensor:
        return special.erfc(self)

    def erfinv(self) -> Tensor:
        return special.erfinv(self)

    # ---- reductions ----------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.mean(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.min(self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return red.var(self, axis=axis, keepdims=keepdims, correction=correction)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.logsumexp(self, axis, keepdims)

    # ---- shape -------------------------------------------------------------------
    # (creation-like methods: tril, triu, new_zeros, ...)
    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two axes (from ``diagonal``), the rest 0; the gradient masked alike."""
        return cr.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two axes (from ``diagonal``), the rest 0; the gradient masked alike."""
        return cr.triu(self, diagonal)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``size`` in this tensor's dtype (unless ``dtype`` is given)."""
        return cr.zeros(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``size`` in this tensor's dtype (unless ``dtype`` is given)."""
        return cr.ones(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """As ``new_zeros`` (``empty`` gives zeros here)."""
        return cr.empty(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """``fill_value`` in a tensor of ``size`` and this tensor's dtype (unless ``dtype`` is given)."""
        return cr.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf holding a copy of ``data``, in this tensor's dtype (unless ``dtype`` is given)."""
        copied = np.array(unwrap(data), dtype=self.dtype if dtype is None else dtype)
        return cr.tensor(copied, requires_grad=requires_grad)


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


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` onto ``cls``."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)
