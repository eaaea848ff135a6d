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
from tinygrad_vae.ops import logical as lg
from tinygrad_vae.ops import math_functions as mf
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

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (torch's names)
        return ew.clip(self, min, max)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (torch's names)
        return ew.clamp(self, min, max)

    def clamp_min(self, min: Any) -> Tensor:  # noqa: A002 (torch's name)
        return ew.clamp_min(self, min)

    def clamp_max(self, max: Any) -> Tensor:  # noqa: A002 (torch's name)
        return ew.clamp_max(self, max)

    def maximum(self, other: Any) -> Tensor:
        return ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ew.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        return ew.astype(self, dtype)

    # ---- more operators: % // and the bitwise operators ---------------------------
    # % is torch.remainder (the divisor's sign, as Python's), // floors; & | ^ ~ << >> take int and bool tensors.
    def __mod__(self, other: Any) -> Tensor:
        return mf.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return mf.remainder(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return mf.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return mf.floor_divide(other, self)

    def __and__(self, other: Any) -> Tensor:
        return lg.bitwise_and(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return lg.bitwise_and(other, self)

    def __or__(self, other: Any) -> Tensor:
        return lg.bitwise_or(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return lg.bitwise_or(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return lg.bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return lg.bitwise_xor(other, self)

    def __invert__(self) -> Tensor:
        return lg.bitwise_not(self)

    def __lshift__(self, other: Any) -> Tensor:
        return lg.bitwise_left_shift(self, other)

    def __rlshift__(self, other: Any) -> Tensor:
        return lg.bitwise_left_shift(other, self)

    def __rshift__(self, other: Any) -> Tensor:
        return lg.bitwise_right_shift(self, other)

    def __rrshift__(self, other: Any) -> Tensor:
        return lg.bitwise_right_shift(other, self)

    # ---- math functions (trigonometric, logarithmic, rounding, ...) ----------------
    def sin(self) -> Tensor:
        return mf.sin(self)

    def cos(self) -> Tensor:
        return mf.cos(self)

    def tan(self) -> Tensor:
        return mf.tan(self)

    def asin(self) -> Tensor:
        return mf.asin(self)

    def acos(self) -> Tensor:
        return mf.acos(self)

    def atan(self) -> Tensor:
        return mf.atan(self)

    def atan2(self, other: Any) -> Tensor:
        return mf.atan2(self, other)

    def sinh(self) -> Tensor:
        return mf.sinh(self)

    def cosh(self) -> Tensor:
        return mf.cosh(self)

    def asinh(self) -> Tensor:
        return mf.asinh(self)

    def acosh(self) -> Tensor:
        return mf.acosh(self)

    def atanh(self) -> Tensor:
        return mf.atanh(self)

    # torch's arc- aliases
    arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = asin, acos, atan, atan2, asinh, acosh, atanh

    def log2(self) -> Tensor:
        return mf.log2(self)

    def log10(self) -> Tensor:
        return mf.log10(self)

    def log1p(self) -> Tensor:
        return mf.log1p(self)

    def exp2(self) -> Tensor:
        return mf.exp2(self)

    def expm1(self) -> Tensor:
        return mf.expm1(self)

    def rsqrt(self) -> Tensor:
        return mf.rsqrt(self)

    def square(self) -> Tensor:
        return mf.square(self)

    def reciprocal(self) -> Tensor:
        return mf.reciprocal(self)

    def sign(self) -> Tensor:
        return mf.sign(self)

    def copysign(self, other: Any) -> Tensor:
        return mf.copysign(self, other)

    def floor(self) -> Tensor:
        return mf.floor(self)

    def ceil(self) -> Tensor:
        return mf.ceil(self)

    def round(self, decimals: int = 0) -> Tensor:
        return mf.round(self, decimals)

    def trunc(self) -> Tensor:
        return mf.trunc(self)

    def logaddexp(self, other: Any) -> Tensor:
        return mf.logaddexp(self, other)

    def logaddexp2(self, other: Any) -> Tensor:
        return mf.logaddexp2(self, other)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return mf.lerp(self, end, weight)

    def hypot(self, other: Any) -> Tensor:
        return mf.hypot(self, other)

    def fmax(self, other: Any) -> Tensor:
        return mf.fmax(self, other)

    def fmin(self, other: Any) -> Tensor:
        return mf.fmin(self, other)

    def rad2deg(self) -> Tensor:
        return mf.rad2deg(self)

    def deg2rad(self) -> Tensor:
        return mf.deg2rad(self)

    def fmod(self, other: Any) -> Tensor:
        return mf.fmod(self, other)

    def remainder(self, other: Any) -> Tensor:
        return mf.remainder(self, other)

    def floor_divide(self, other: Any) -> Tensor:
        return mf.floor_divide(self, other)

    # ---- logical and bitwise functions ---------------------------------------------
    def isnan(self) -> Tensor:
        return lg.isnan(self)

    def isinf(self) -> Tensor:
        return lg.isinf(self)

    def isfinite(self) -> Tensor:
        return lg.isfinite(self)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        return lg.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return lg.allclose(self, other, rtol, atol, equal_nan)

    def logical_and(self, other: Any) -> Tensor:
        return lg.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return lg.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return lg.logical_xor(self, other)

    def logical_not(self) -> Tensor:
        return lg.logical_not(self)

    def bitwise_and(self, other: Any) -> Tensor:
        return lg.bitwise_and(self, other)

    def bitwise_or(self, other: Any) -> Tensor:
        return lg.bitwise_or(self, other)

    def bitwise_xor(self, other: Any) -> Tensor:
        return lg.bitwise_xor(self, other)

    def bitwise_not(self) -> Tensor:
        return lg.bitwise_not(self)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        return lg.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        return lg.bitwise_right_shift(self, other)

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
