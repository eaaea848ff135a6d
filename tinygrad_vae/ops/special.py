"""Special functions: the error function erf and its complement erfc.

    erf(x)  = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt,    erf'(x)  =  2/sqrt(pi) exp(-x^2)
    erfc(x) = 1 - erf(x),                                            erfc'(x) = -2/sqrt(pi) exp(-x^2)

Both are primitives: NumPy has no erf, and no composite of the elementwise ops
computes it to double precision. The forward calls the C library's ``erf`` and
``erfc`` through Python's ``math`` module, element by element (``np.frompyfunc``),
which is correct to the last bit or two of a float64 but costs about 0.1 us per
element, slower than a NumPy ufunc. erfc is its own primitive because 1 - erf(x)
loses every significant digit for large x (erfc(6) = 2.2e-17, where 1 - erf(6) = 0).

The rules are written with ``Exp``, so second derivatives work. Both functions
are smooth everywhere: no conventions are needed.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.elementwise import Exp

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _elementwise(fn: np.ufunc, a: np.ndarray) -> np.ndarray:
    """``fn`` (an ``np.frompyfunc`` of a ``math`` function) on every element, in float64, cast back to a's dtype.

    Integer inputs give float64, as torch.erf gives a float for an integer tensor.
    """
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    return np.asarray(fn(np.asarray(a, dtype=np.float64)), dtype=np.float64).astype(dtype, copy=False)


_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _gaussian_slope(grad: Value, a: Value) -> Value:
    """grad * 2/sqrt(pi) * exp(-a^2), the derivative of erf, in grad's dtype."""
    return grad * Exp.apply(-(a * a)) * TWO_OVER_SQRT_PI


class Erf(Op):
    """The error function, correct to double precision (see the module docstring for why it is a primitive)."""

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


erf, erfc = Erf.apply, Erfc.apply  # functional forms

# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["erf", "erfc"]
