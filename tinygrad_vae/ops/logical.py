"""Predicates, logical and bitwise functions: bool or integer results, outside the graph (no gradient).

Each is NumPy's function of the operands' arrays, wrapped as a Tensor with no
op behind it, as the comparison operators are. Python numbers stay "weak"
(an int8 tensor & 3 is int8, as in NumPy and torch).

The bitwise functions take integer and bool tensors only; a float operand is
a TypeError naming the function and the dtype (torch refuses them too). The
shifts follow NumPy on bools (they count as 0/1 integers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor, unwrap, wrap


def isnan(x: Any) -> Tensor:
    return wrap(np.isnan(unwrap(x)))


def isinf(x: Any) -> Tensor:
    return wrap(np.isinf(unwrap(x)))


def isfinite(x: Any) -> Tensor:
    return wrap(np.isfinite(unwrap(x)))


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol |b| elementwise (NumPy's and torch's rule); NaNs equal only with ``equal_nan``."""
    return wrap(np.isclose(unwrap(a), unwrap(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether isclose holds everywhere: a Python bool, as torch.allclose and np.allclose."""
    return bool(np.allclose(unwrap(a), unwrap(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def logical_and(a: Any, b: Any) -> Tensor:
    return wrap(np.logical_and(unwrap(a), unwrap(b)))


def logical_or(a: Any, b: Any) -> Tensor:
    return wrap(np.logical_or(unwrap(a), unwrap(b)))


def logical_xor(a: Any, b: Any) -> Tensor:
    return wrap(np.logical_xor(unwrap(a), unwrap(b)))


def logical_not(x: Any) -> Tensor:
    return wrap(np.logical_not(unwrap(x)))


def _bitwise(name: str, fn: Callable[..., np.ndarray]) -> Callable[..., Tensor]:
    """NumPy's ``fn`` on integer or bool operands; a float operand is a TypeError naming ``name``."""

    def bitwise(*xs: Any) -> Tensor:
        arrays = [unwrap(x) for x in xs]
        for x in arrays:
            dtype = np.asarray(x).dtype
            if dtype.kind not in "biu":
                raise TypeError(f"{name}: expected integer or bool tensors, got dtype {dtype}")
        return wrap(np.asarray(fn(*arrays)))

    bitwise.__name__ = bitwise.__qualname__ = name
    bitwise.__doc__ = f"np.{fn.__name__} of integer or bool tensors (no gradient)."
    return bitwise


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)
bitwise_not = _bitwise("bitwise_not", np.invert)
bitwise_left_shift = _bitwise("bitwise_left_shift", np.left_shift)
bitwise_right_shift = _bitwise("bitwise_right_shift", np.right_shift)

__all__ = [
    "allclose", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
    "bitwise_xor", "isclose", "isfinite", "isinf", "isnan", "logical_and", "logical_not", "logical_or",
    "logical_xor",
]
