"""Math functions: trigonometric and hyperbolic, the log/exp family, rounding and sign, binary math.

Most are composites of existing ops. A primitive is written where NumPy has a
function that is more accurate or more robust than any composite: the
trigonometric and hyperbolic functions and their inverses (no composite of
exp/log is accurate near 0: sinh(x) = (e^x - e^-x)/2 cancels, asinh(x) =
log(x + sqrt(x^2 + 1)) loses all digits for small x), log1p and expm1 (their
reason to exist), log2/log10/exp2 (exact at powers of the base), hypot (no
overflow of a^2 + b^2) and the remainders (exact, where a - floor(a/b) b is not).
Each primitive's rule is written with ops, so second derivatives work.

Conventions at non-differentiable points:

* floor, ceil, round, trunc, sign and floor_divide are piecewise constant: their
  gradient is 0 everywhere, also at the jumps (as torch). sign(0) = 0.
* copysign(a, b) = |a| with b's sign: d/da = sign(a) * sign(b) with 0 at a = 0
  (abs'(0) = 0), and d/db = 0.
* remainder(a, b) = a - floor(a/b) b and fmod(a, b) = a - trunc(a/b) b: d/da = 1,
  d/db = -floor(a/b) (resp. -trunc(a/b)); at the jumps the quotient of the
  computed output is used.
* fmax/fmin ignore a NaN operand (the other one gets the whole gradient) and
  split the gradient evenly on ties, as maximum/minimum.
* logaddexp(a, a) gives each operand half the gradient, its true value.
* hypot(0, 0) has a NaN gradient (0/0), as torch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.tensor import Tensor, lift, unwrap, wrap
from tinygrad_vae.ops.base import Grads, Op, Value, unbroadcast
from tinygrad_vae.ops.elementwise import Abs, Exp, Maximum, Sqrt, extremum, maximum, power

LN2 = float(np.log(2.0))
LN10 = float(np.log(10.0))


def operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands as Tensors; a number takes the other's float dtype."""
    a = a if isinstance(a, Tensor) else lift(a, b) if isinstance(b, Tensor) else Tensor(a)
    return a, lift(b, a)


# --------------------------------------------------------------------------
# trigonometric and hyperbolic functions and their inverses
# --------------------------------------------------------------------------


class Sin(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sin(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * Cos.apply(a),)


class Cos(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.cos(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (-grad * Sin.apply(a),)


class Tan(Op):
    """tan x; d/dx = 1 + tan^2 x (sin/cos would round twice)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.tan(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * (out * out + 1.0),)


class Asin(Op):
    """arcsin x on [-1, 1]; d/dx = 1 / sqrt(1 - x^2)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arcsin(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / Sqrt.apply(1.0 - a * a),)


class Acos(Op):
    """arccos x on [-1, 1]; d/dx = -1 / sqrt(1 - x^2)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arccos(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (-grad / Sqrt.apply(1.0 - a * a),)


class Atan(Op):
    """arctan x; d/dx = 1 / (1 + x^2)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arctan(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (a * a + 1.0),)


class Atan2(Op):
    """The angle of the point (x, y): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)."""

    def forward(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.arctan2(y, x)

    def backward(self, grad: Value, out: Value, y: Value, x: Value) -> Grads:
        need_y, need_x = self.needs_input_grad
        scaled = grad / (x * x + y * y)
        return (
            unbroadcast(scaled * x, y.shape) if need_y else None,
            unbroadcast(-scaled * y, x.shape) if need_x else None,
        )


class Sinh(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sinh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * Cosh.apply(a),)


class Cosh(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.cosh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * Sinh.apply(a),)


class Asinh(Op):
    """arsinh x; d/dx = 1 / sqrt(x^2 + 1)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arcsinh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / Sqrt.apply(a * a + 1.0),)


class Acosh(Op):
    """arcosh x for x >= 1; d/dx = 1 / sqrt((x - 1)(x + 1)) (factored: no cancellation near 1)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arccosh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / Sqrt.apply((a - 1.0) * (a + 1.0)),)


class Atanh(Op):
    """artanh x on (-1, 1); d/dx = 1 / (1 - x^2)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.arctanh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (1.0 - a * a),)


# --------------------------------------------------------------------------
# the log and exp family
# --------------------------------------------------------------------------


class Log2(Op):
    """log2 x; d/dx = 1 / (x ln 2)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log2(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (a * LN2),)


class Log10(Op):
    """log10 x; d/dx = 1 / (x ln 10)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log10(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (a * LN10),)


class Log1p(Op):
    """log(1 + x), accurate for small x; d/dx = 1 / (1 + x)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log1p(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (a + 1.0),)


class Exp2(Op):
    """2^x; d/dx = 2^x ln 2."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp2(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * out * LN2,)


class Expm1(Op):
    """e^x - 1, accurate for small x; d/dx = e^x = expm1(x) + 1."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.expm1(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * Exp.apply(a),)


# --------------------------------------------------------------------------
# piecewise constant functions (zero gradient) and remainders
# --------------------------------------------------------------------------


class PiecewiseConstant(Op):
    """``fn(*arrays)`` for a NumPy function that is constant between jumps: its gradient is 0 everywhere.

    The zeros are constants (no graph under create_graph), so every higher derivative is 0 too.
    """

    def forward(self, *arrays: np.ndarray, fn: Callable[..., np.ndarray]) -> np.ndarray:
        return np.asarray(fn(*arrays))

    def backward(self, grad: Value, out: Value, *inputs: Value) -> Grads:
        def zeros(shape: tuple[int, ...]) -> Value:
            z = np.zeros(shape, dtype=grad.dtype)
            return wrap(z) if isinstance(grad, Tensor) else z

        return tuple(zeros(x.shape) if need else None for x, need in zip(inputs, self.needs_input_grad))


class Remainder(Op):
    """a - floor(a/b) b, the sign of the divisor's (Python's %, torch.remainder); d/da = 1, d/db = -floor(a/b).

    The quotient is read off the computed output, q = (a - out) / b rounded, so the gradient
    agrees with the value NumPy computed even where a/b rounds across an integer.
    """

    compute = staticmethod(np.remainder)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.compute(a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        x, y = unwrap(a), unwrap(b)
        quotient = np.rint((x - unwrap(out)) / y).astype(grad.dtype)
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(-grad * quotient, b.shape) if need_b else None,
        )


class Fmod(Remainder):
    """a - trunc(a/b) b, the sign of the dividend's (C's fmod, torch.fmod); d/da = 1, d/db = -trunc(a/b)."""

    compute = staticmethod(np.fmod)


class Hypot(Op):
    """sqrt(a^2 + b^2) without overflow or underflow of the squares; d/da = a / out, d/db = b / out."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.hypot(a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        scaled = grad / out
        return (
            unbroadcast(scaled * a, a.shape) if need_a else None,
            unbroadcast(scaled * b, b.shape) if need_b else None,
        )


class FMax(Maximum):
    """Elementwise max that ignores NaN (np.fmax); ties split the gradient evenly."""

    pick = staticmethod(np.fmax)


class FMin(Maximum):
    """Elementwise min that ignores NaN (np.fmin); ties split the gradient evenly."""

    pick = staticmethod(np.fmin)


def integer_division(op: str, fn: Callable[..., np.ndarray], a: Any, b: Any) -> Tensor:
    """``fn`` of integer (or bool) operands, outside the graph; division by zero raises, as in torch."""
    divisor = np.asarray(unwrap(b))
    tracing.fail_if(divisor == 0, lambda: ZeroDivisionError(f"{op}: integer division by zero"))
    return wrap(np.asarray(fn(unwrap(a), unwrap(b))))


def is_integer(x: Any) -> bool:
    return np.asarray(unwrap(x)).dtype.kind in "biu"


def _remainder_of(op: type[Remainder], name: str, a: Any, b: Any) -> Tensor:
    if is_integer(a) and is_integer(b):
        return integer_division(name, op.compute, a, b)
    return op.apply(*operands(a, b))


# --------------------------------------------------------------------------
# functional forms
# --------------------------------------------------------------------------

sin, cos, tan, asin, acos, atan = Sin.apply, Cos.apply, Tan.apply, Asin.apply, Acos.apply, Atan.apply
sinh, cosh, asinh, acosh, atanh = Sinh.apply, Cosh.apply, Asinh.apply, Acosh.apply, Atanh.apply
log2, log10, log1p, exp2, expm1 = Log2.apply, Log10.apply, Log1p.apply, Exp2.apply, Expm1.apply
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh  # NumPy's names


def atan2(y: Any, x: Any) -> Tensor:
    """The angle of the point (x, y) in (-pi, pi], as np.arctan2(y, x)."""
    return Atan2.apply(*operands(y, x))


arctan2 = atan2


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x) (torch's name)."""
    return 1.0 / Sqrt.apply(x)


def square(x: Tensor) -> Tensor:
    return power(x, 2)


def reciprocal(x: Tensor) -> Tensor:
    return 1.0 / x


def _keeps_integers(name: str, fn: Callable[..., np.ndarray]) -> Callable[[Tensor], Tensor]:
    """A rounding function: zero gradient on floats; integer and bool tensors come back unchanged (as torch)."""

    def rounding(x: Tensor) -> Tensor:
        if is_integer(x):
            return wrap(np.array(unwrap(x)))
        return PiecewiseConstant.apply(x, fn=fn)

    rounding.__name__ = rounding.__qualname__ = name
    rounding.__doc__ = f"np.{fn.__name__}, elementwise; its gradient is 0 everywhere (piecewise constant)."
    return rounding


floor, ceil, trunc = _keeps_integers("floor", np.floor), _keeps_integers("ceil", np.ceil), \
    _keeps_integers("trunc", np.trunc)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # NumPy's and torch's name
    """Round to ``decimals`` places, halves to even (as np.round and torch.round); gradient 0 everywhere."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _keeps_integers("round", np.round)(x)
    return PiecewiseConstant.apply(x, fn=lambda a: np.round(a, int(decimals)))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 (np.sign: 0 at 0, NaN at NaN); its gradient is 0 everywhere."""
    if is_integer(x):
        return wrap(np.sign(unwrap(x)))
    return PiecewiseConstant.apply(x, fn=np.sign)


def _unit_with_sign_of(b: np.ndarray) -> np.ndarray:
    return np.copysign(np.ones((), dtype=b.dtype), b)


def copysign(a: Any, b: Any) -> Tensor:
    """|a| with the sign bit of b (so -0.0 counts as negative), as np.copysign.

    = |a| * s with s = copysign(1, b) piecewise constant: d/da = s sign(a) (0 at a = 0), d/db = 0.
    """
    a, b = operands(a, b)
    return Abs.apply(a) * PiecewiseConstant.apply(b, fn=_unit_with_sign_of)


def floor_divide(a: Any, b: Any) -> Tensor:
    """floor(a / b), as Python's // and np.floor_divide; its gradient is 0 everywhere."""
    if is_integer(a) and is_integer(b):
        return integer_division("floor_divide", np.floor_divide, a, b)
    return PiecewiseConstant.apply(*operands(a, b), fn=np.floor_divide)


def remainder(a: Any, b: Any) -> Tensor:
    """a - floor(a/b) b: the sign of b, as Python's % and np.remainder (torch.remainder)."""
    return _remainder_of(Remainder, "remainder", a, b)


def fmod(a: Any, b: Any) -> Tensor:
    """a - trunc(a/b) b: the sign of a, as C's fmod and np.fmod (torch.fmod)."""
    return _remainder_of(Fmod, "fmod", a, b)


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(e^a + e^b) = max(a, b) + log1p(e^-|a - b|): no overflow for large inputs."""
    a, b = operands(a, b)
    return maximum(a, b) + Log1p.apply(Exp.apply(-Abs.apply(a - b)))


def logaddexp2(a: Any, b: Any) -> Tensor:
    """log2(2^a + 2^b) = max(a, b) + log1p(2^-|a - b|) / ln 2: no overflow for large inputs."""
    a, b = operands(a, b)
    return maximum(a, b) + Log1p.apply(Exp2.apply(-Abs.apply(a - b))) * (1.0 / LN2)


def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """start + weight (end - start), as torch.lerp; ``weight`` a number or a Tensor (all broadcast)."""
    start, end = operands(start, end)
    return start + lift(weight, start) * (end - start)


def hypot(a: Any, b: Any) -> Tensor:
    """sqrt(a^2 + b^2), as np.hypot."""
    return Hypot.apply(*operands(a, b))


def fmax(a: Any, b: Any) -> Tensor:
    """Elementwise max that ignores NaN (np.fmax, torch.fmax)."""
    return extremum(FMax, a, b)


def fmin(a: Any, b: Any) -> Tensor:
    """Elementwise min that ignores NaN (np.fmin, torch.fmin)."""
    return extremum(FMin, a, b)


def degrees(x: Tensor) -> Tensor:
    """Radians to degrees: x * 180 / pi (torch's rad2deg)."""
    return x * (180.0 / np.pi)


def radians(x: Tensor) -> Tensor:
    """Degrees to radians: x * pi / 180 (torch's deg2rad)."""
    return x * (np.pi / 180.0)


rad2deg, deg2rad = degrees, radians

__all__ = [
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh",
    "atan", "atan2", "atanh", "ceil", "copysign", "cos", "cosh", "deg2rad", "degrees", "exp2", "expm1", "floor",
    "floor_divide", "fmax", "fmin", "fmod", "hypot", "lerp", "log1p", "log2", "log10", "logaddexp", "logaddexp2",
    "rad2deg", "radians", "reciprocal", "remainder", "round", "rsqrt", "sign", "sin", "sinh", "square", "tan",
    "trunc",
]
