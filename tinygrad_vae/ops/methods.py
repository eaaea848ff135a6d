"""The Tensor's operators and elementwise methods, each a call of an op; installed on ``Tensor`` at import.

``core/tensor.py`` defines what a Tensor is for autograd; this file and
``axis_methods.py`` give it the operators and the methods users call, with
torch's names (``x + y``, ``x.exp()``, ``x.sum(dim=0)``, ``x[idx]``). Keeping
them in the ops layer means the core imports no op. ``install`` copies every
member of ``TensorMethods`` and ``AxisMethods`` onto ``Tensor``;
``ops/__init__.py`` calls it, so importing the package (or any op) gives a
complete Tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor, lift, unwrap, wrap
from tinygrad_vae.ops import activations as act
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import linalg, special
from tinygrad_vae.ops import logical as lg
from tinygrad_vae.ops import math_functions as mf
from tinygrad_vae.ops.axis_methods import AxisMethods


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

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # torch's names
        return ew.clip(self, min, max)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # torch's names
        return ew.clamp(self, min, max)

    def clamp_min(self, min: Any) -> Tensor:  # torch's name
        return ew.clamp_min(self, min)

    def clamp_max(self, max: Any) -> Tensor:  # torch's name
        return ew.clamp_max(self, max)

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


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` and ``AxisMethods`` onto ``cls``."""
    for methods in (TensorMethods, AxisMethods):
        for name, member in vars(methods).items():
            if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
                setattr(cls, name, member)
