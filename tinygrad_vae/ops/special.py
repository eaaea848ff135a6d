"""Special functions: the error function erf, its complement erfc and its inverse erfinv.

    erf(x)  = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt,    erf'(x)  =  2/sqrt(pi) exp(-x^2)
    erfc(x) = 1 - erf(x),                                            erfc'(x) = -2/sqrt(pi) exp(-x^2)
    erfinv(y) = the x with erf(x) = y, for -1 < y < 1,               erfinv'(y) = sqrt(pi)/2 exp(erfinv(y)^2)

Both are primitives: NumPy has no erf, and no composite of the elementwise ops
computes it to double precision. The forward calls the C library's ``erf`` and
``erfc`` through Python's ``math`` module, element by element (``np.frompyfunc``),
which is correct to the last bit or two of a float64 but costs about 0.1 us per
element, slower than a NumPy ufunc. erfc is its own primitive because 1 - erf(x)
loses every significant digit for large x (erfc(6) = 2.2e-17, where 1 - erf(6) = 0).

erfinv is a primitive for the same reason: its forward refines a rough closed
form by Halley's method on erf (erfc in the tails), which converges to double
precision in three steps; erfinv(+-1) = +-inf and erfinv(y) = nan for |y| > 1, as torch's.

The rules are written with ``Exp``, so second derivatives work. The functions
are smooth on their domains: no conventions are needed.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.elementwise import Exp

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _result_dtype(a: np.ndarray) -> np.dtype:
    """a's dtype if it is a float dtype, else float64 (torch.erf of an integer tensor is a float tensor too)."""
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)


def _elementwise(fn: np.ufunc, a: np.ndarray) -> np.ndarray:
    """``fn`` (an ``np.frompyfunc`` of a ``math`` function) on every element, in float64, cast to ``_result_dtype``."""
    return np.asarray(fn(np.asarray(a, dtype=np.float64)), dtype=np.float64).astype(_result_dtype(a), copy=False)


_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _gaussian_slope(grad: Value, a: Value) -> Value:
    """grad * 2/sqrt(pi) * exp(-a^2), the derivative of erf, in grad's dtype."""
    return grad * Exp.apply(-(a * a)) * TWO_OVER_SQRT_PI


class Erf(Op):
    """The error function, correct to double precision.

    A primitive because NumPy has no erf and no composite of its ops reaches double precision:
    the forward is the C library's erf (``math.erf``), element by element.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return _elementwise(_ERF, a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (_gaussian_slope(grad, a),)


class Erfc(Op):
    """1 - erf(x), accurate also where it is tiny (large x), where 1 - erf(x) would round to 0."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return _elementwise(_ERFC, a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (-_gaussian_slope(grad, a),)


_WINITZKI = 0.147  # the constant of Winitzki's closed form for erfinv (2008)


def _erfinv(y: np.ndarray) -> np.ndarray:
    """erfinv of a float64 array: Winitzki's closed form (relative error < 2e-3), then three Halley steps.

    Halley's step for f(x) = erf(x) - |y|, whose f''/f' = -2x, is x -= r / (1 + x r) with r = f/f'.
    Where |y| > 0.5, f is computed as (1 - |y|) - erfc(x): 1 - |y| is exact there, and erfc keeps
    its relative precision as |y| approaches 1, where erf(x) - |y| would cancel.
    """
    a = np.abs(y)
    inside = a < 1
    a = np.where(inside, a, 0.5)  # a placeholder outside (-1, 1); those results are set at the end
    log_term = np.log((1.0 - a) * (1.0 + a))  # log(1 - a^2), accurate near a = 1
    c = 2.0 / (math.pi * _WINITZKI) + 0.5 * log_term
    x = np.sqrt(np.maximum(np.sqrt(c * c - log_term / _WINITZKI) - c, 0.0))  # >= 0 but for rounding
    tail = a > 0.5
    for _ in range(3):
        # Both forms everywhere, each kept where it is accurate (no boolean indexing: a compiled step can record it).
        f = np.where(tail, (1.0 - a) - _elementwise(_ERFC, x), _elementwise(_ERF, x) - a)
        r = f / (TWO_OVER_SQRT_PI * np.exp(-x * x))
        x = x - r / (1.0 + x * r)
    x = np.where(inside, x, np.where(np.abs(y) == 1, np.inf, np.nan))
    return np.copysign(x, y)


class Erfinv(Op):
    """The inverse of erf on (-1, 1), to double precision (see the module docstring)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return _erfinv(np.asarray(a, dtype=np.float64)).astype(_result_dtype(a), copy=False)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        # d erfinv(y) = 1 / erf'(erfinv(y)) = sqrt(pi)/2 exp(out^2)
        return (grad * Exp.apply(out * out) * (1.0 / TWO_OVER_SQRT_PI),)


erf, erfc, erfinv = Erf.apply, Erfc.apply, Erfinv.apply  # functional forms

# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["erf", "erfc", "erfinv"]
