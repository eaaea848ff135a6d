"""Elementwise ops: arithmetic, comparisons of two tensors, and functions of one.

Conventions at non-differentiable points: abs'(0) = 0, clip/clamp pass the
gradient to x at their bounds (inclusive, as torch.clamp), a tensor bound gets
it where x is strictly outside it, and where maximum/minimum tie, each operand
gets half the gradient. Powers with a tensor exponent take 0 log 0 = 0, as
torch: d(a^b)/db = 0 where a = 0 and b >= 0, and d(a^b)/da = 0 where a = 0 and
b = 0 (a^0 = 1 for every a), also in second derivatives. maximum/minimum of
integer or bool tensors are NumPy's, outside the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, as_number, lift, unwrap, wrap
from tinygrad_vae.ops.base import Grads, Op, Value, unbroadcast


class Add(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(grad, b.shape) if need_b else None,
        )


class Sub(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(-grad, b.shape) if need_b else None,
        )


class Mul(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad * b, a.shape) if need_a else None,
            unbroadcast(grad * a, b.shape) if need_b else None,
        )


class Div(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        # d(a/b)/da = 1/b;  d(a/b)/db = -a/b^2 = -out/b
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad / b, a.shape) if need_a else None,
            unbroadcast(-grad * out / b, b.shape) if need_b else None,
        )


class Neg(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (-grad,)


class PowScalar(Op):
    """x ** c for a fixed number c: d/dx = c * x ** (c - 1)."""

    def forward(self, a: np.ndarray, exponent: float) -> np.ndarray:
        self.exponent = exponent
        return a**exponent

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        c = self.exponent
        if c == 2:
            return (grad * a * 2.0,)
        if c in (0, 1):  # constant derivative: via a ** (c - 1) the next derivative would be 0 * 0**-1 = NaN at 0
            return (grad * float(c),)
        return (grad * (a ** (c - 1)) * c,)


class Pow(Op):
    """a ** b with a tensor exponent: d/da = b a^(b-1), d/db = a^b log(a).

    At a = 0 the limits are used, as torch does: d/db = 0 where b >= 0 (0 log 0 = 0), and
    d/da = 0 where b = 0 (a^0 is 1 for every a). Both are computed from a base of 1 substituted
    where they apply (1^e = 1, log 1 = 0), so the rules stay finite when differentiated again.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a**b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        at_zero = unwrap(a) == 0
        grad_a = grad_b = None
        if need_a:
            exponent = b - 1.0
            constant = at_zero & (unwrap(b) == 0)  # a^0: b a^(b-1) = 0 * 0^-1 there, taken as 0
            if tracing.any_of(constant):
                exponent = Where.apply(np.ones((), dtype=unwrap(b).dtype), exponent, cond=constant)
            grad_a = unbroadcast(grad * b * a**exponent, a.shape)
        if need_b:
            base, power = a, out
            zero_log = at_zero & (unwrap(b) >= 0)  # a^b log a -> 0 as a -> 0 for b > 0
            if tracing.any_of(zero_log):
                base = Where.apply(np.ones((), dtype=unwrap(a).dtype), a, cond=zero_log)
                power = base**b
            grad_b = unbroadcast(grad * power * Log.apply(base), b.shape)
        return grad_a, grad_b


class Maximum(Op):
    """Elementwise max of two tensors; where they tie, each gets half the gradient.

    Subclasses pick another NumPy function of the same shape (np.minimum, np.fmax, np.fmin): the
    gradient goes to the operand the output equals, split evenly on ties. Where the pick ignores
    a NaN (fmax, fmin), the output equals the other operand, which gets the whole gradient.
    """

    pick = staticmethod(np.maximum)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.pick(a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        x, y = unwrap(a), unwrap(b)
        share_a = (x != y) * (unwrap(out) == x) + 0.5 * (x == y)
        return (
            unbroadcast(grad * share_a.astype(grad.dtype), a.shape) if need_a else None,
            unbroadcast(grad * (1.0 - share_a).astype(grad.dtype), b.shape) if need_b else None,
        )


class Minimum(Maximum):
    """Elementwise min of two tensors; where they tie, each gets half the gradient."""

    pick = staticmethod(np.minimum)


def extremum(op: type[Maximum], a: Any, b: Any) -> Tensor:
    """``op`` on two operands; integer and bool operands get NumPy's answer, outside the graph."""
    a = a if isinstance(a, Tensor) else lift(a, b) if isinstance(b, Tensor) else Tensor(a)
    if a.dtype.kind != "f" and np.asarray(unwrap(b)).dtype.kind != "f":
        return wrap(np.asarray(op.pick(a.data, unwrap(b))))  # a Python int stays weak: uint8 stays uint8
    return op.apply(a, lift(b, a))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max (NaN wins, as np.maximum); ties split the gradient evenly."""
    return extremum(Maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min (NaN wins, as np.minimum); ties split the gradient evenly."""
    return extremum(Minimum, a, b)


class Where(Op):
    """``where(cond, a, b)``: a where cond holds, else b. cond is not differentiated."""

    def forward(self, a: np.ndarray, b: np.ndarray, cond: np.ndarray) -> np.ndarray:
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            unbroadcast(Where.apply(grad, zero, cond=self.cond), a.shape) if need_a else None,
            unbroadcast(Where.apply(zero, grad, cond=self.cond), b.shape) if need_b else None,
        )


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: ``a`` where ``cond`` is true, else ``b`` (all broadcast together)."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a bool tensor or array, got dtype {cond.dtype}")
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    return Where.apply(lift(a, like), lift(b, like), cond=cond)


class Clip(Op):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (bounds included)."""

    def forward(self, a: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
        if lo is None and hi is None:
            raise OpError("clip: give at least one of min and max")
        self.lo, self.hi = lo, hi
        return np.clip(a, lo, hi)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = unwrap(a)
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (grad * inside,)


class Cast(Op):
    def forward(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return a.astype(dtype)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (Cast.apply(grad, dtype=a.dtype),)


class Exp(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * out,)  # d exp(x) = exp(x)


class Log(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / a,)


class Sqrt(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sqrt(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (out * 2.0),)  # d sqrt(x) = 1 / (2 sqrt(x))


class Abs(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.abs(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * np.sign(unwrap(a)),)  # sign(0) = 0


# --------------------------------------------------------------------------
# functional forms (what the Tensor's operators and methods call)
# --------------------------------------------------------------------------

# A primitive's functional form is its ``apply``: add(a, b) is a + b for two Tensors.
add, sub, mul, div, neg = Add.apply, Sub.apply, Mul.apply, Div.apply, Neg.apply
exp, log, sqrt, abs = Exp.apply, Log.apply, Sqrt.apply, Abs.apply  # NumPy's names


def power(base: Tensor, exponent: Any) -> Tensor:
    """``base ** exponent``: a number exponent is a parameter of the op, an array or Tensor an operand."""
    if isinstance(exponent, (Tensor, np.ndarray)):
        return Pow.apply(base, lift(exponent, base))
    return PowScalar.apply(base, exponent=as_number(exponent))


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # torch's names
    """Clamp to [min, max], as torch.clamp: min(max(x, min), max); either bound may be None.

    A bound may be a number or a Tensor (or array) that broadcasts against x. The gradient passes
    to x where min <= x <= max (bounds included), and to a tensor bound where it is the output.
    With min > max the output is max, as in torch.
    """
    if min is None and max is None:
        raise OpError("clamp: give at least one of min and max")
    if not isinstance(min, (Tensor, np.ndarray)) and not isinstance(max, (Tensor, np.ndarray)):
        return Clip.apply(x, lo=as_number(min), hi=as_number(max))
    out = x
    if min is not None:
        out = where(x.data < unwrap(min), min, out)
    if max is not None:
        out = where(out.data > unwrap(max), max, out)
    return out


def clamp_min(x: Tensor, min: Any) -> Tensor:  # torch's name
    """clamp(x, min=min)."""
    return clamp(x, min=min)


def clamp_max(x: Tensor, max: Any) -> Tensor:  # torch's name
    """clamp(x, max=max)."""
    return clamp(x, max=max)


def clip(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # torch's names
    """Clamp to [min, max] (either may be None); the same as ``clamp``."""
    return clamp(x, min, max)


def astype(x: Tensor, dtype: Any) -> Tensor:
    """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"astype: expected a numeric or bool dtype, got {dtype}")
    if dtype not in FLOAT_DTYPES:
        return wrap(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = [
    "abs", "add", "astype", "clamp", "clamp_max", "clamp_min", "clip", "div", "exp", "log", "maximum", "minimum", "mul",
    "neg", "power", "sqrt", "sub", "where",
]
