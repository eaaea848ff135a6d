"""Predicates, logical and bitwise functions, and the integer operators (% // & | ^ ~ << >>), against NumPy.

None of these has a gradient: each result is a bool or integer Tensor outside
the graph, of NumPy's dtype (a Python number stays weak: int8 & 3 is int8).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_vae as tg
from tinygrad_vae import Tensor

INTEGER_DTYPES = [np.int8, np.uint8, np.int64, np.bool_]


def operands(dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """A (2, 3) and a (3,) array of ``dtype``: broadcasting, and values that exercise every bit pattern used."""
    if dtype is np.bool_:
        return np.array([[True, False, True], [False, False, True]]), np.array([True, False, False])
    low = 0 if dtype is np.uint8 else -7
    a = np.array([[low, 3, 100], [5, 0, 127]], dtype=dtype)
    return a, np.array([1, 6, 3], dtype=dtype)


def check(out: Tensor, expected: Any) -> None:
    expected = np.asarray(expected)
    assert isinstance(out, Tensor) and not out.requires_grad
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.data, expected)


BITWISE = [
    (tg.bitwise_and, operator.and_, np.bitwise_and),
    (tg.bitwise_or, operator.or_, np.bitwise_or),
    (tg.bitwise_xor, operator.xor, np.bitwise_xor),
]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@pytest.mark.parametrize("fn, op, reference", BITWISE, ids=["and", "or", "xor"])
def test_bitwise_functions_and_operators_match_numpy(dtype: Any, fn: Callable, op: Callable, reference: Callable) -> None:
    a, b = operands(dtype)
    expected = reference(a, b)
    check(fn(Tensor(a), Tensor(b)), expected)
    check(op(Tensor(a), Tensor(b)), expected)
    check(getattr(Tensor(a), fn.__name__)(Tensor(b)), expected)
    check(op(a, Tensor(b)), expected)  # the reflected form: ndarray <op> Tensor
    number = True if dtype is np.bool_ else 3
    check(op(Tensor(a), number), reference(a, number))
    check(op(number, Tensor(a)), reference(number, a))


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_bitwise_not_and_invert_match_numpy(dtype: Any) -> None:
    a, _ = operands(dtype)
    check(~Tensor(a), np.invert(a))
    check(tg.bitwise_not(Tensor(a)), np.invert(a))
    check(Tensor(a).bitwise_not(), np.invert(a))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64])
def test_shifts_match_numpy(dtype: Any) -> None:
    a = np.array([[1, 3, 5], [0, 7, 2]], dtype=dtype)
    shift = np.array([0, 1, 2], dtype=dtype)
    check(Tensor(a) << Tensor(shift), np.left_shift(a, shift))
    check(Tensor(a) >> Tensor(shift), np.right_shift(a, shift))
    check(Tensor(a).bitwise_left_shift(1), np.left_shift(a, 1))
    check(tg.bitwise_right_shift(Tensor(a), 1), np.right_shift(a, 1))
    check(1 << Tensor(shift), np.left_shift(1, shift))
    check(64 >> Tensor(shift), np.right_shift(64, shift))


@pytest.mark.parametrize("op, name", [(operator.and_, "bitwise_and"), (operator.or_, "bitwise_or"),
                                      (operator.xor, "bitwise_xor"), (operator.lshift, "bitwise_left_shift"),
                                      (operator.rshift, "bitwise_right_shift")])
def test_bitwise_operators_refuse_float_tensors(op: Callable, name: str) -> None:
    with pytest.raises(TypeError, match=rf"{name}: expected integer or bool tensors, got dtype float32"):
        op(Tensor(np.ones(2, dtype=np.float32)), Tensor(np.ones(2, dtype=np.int64)))
    with pytest.raises(TypeError, match=rf"{name}: expected integer or bool tensors, got dtype float64"):
        op(Tensor(np.ones(2, dtype=np.int64)), 1.5)


def test_invert_refuses_a_float_tensor() -> None:
    with pytest.raises(TypeError, match="bitwise_not: expected integer or bool tensors, got dtype float64"):
        ~Tensor(np.ones(2))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64])
def test_integer_remainder_and_floor_division_match_python(dtype: Any) -> None:
    a, b = operands(dtype)
    check(Tensor(a) % Tensor(b), np.remainder(a, b))
    check(Tensor(a) // Tensor(b), np.floor_divide(a, b))
    check(Tensor(a).fmod(Tensor(b)), np.fmod(a, b))
    check(Tensor(a) % 4, np.remainder(a, 4))  # the number stays weak: the tensor's dtype
    check(100 // Tensor(b), np.floor_divide(100, b))
    check(tg.remainder(Tensor(a), Tensor(b)), np.remainder(a, b))


def test_signed_integer_remainder_takes_the_divisor_sign_and_fmod_the_dividend_sign() -> None:
    a, b = np.array([7, -7, 7, -7], dtype=np.int8), np.array([3, 3, -3, -3], dtype=np.int8)
    check(Tensor(a) % Tensor(b), np.array([1, 2, -2, -1], dtype=np.int8))  # Python's 7 % -3 == -2
    check(tg.fmod(Tensor(a), Tensor(b)), np.array([1, -1, 1, -1], dtype=np.int8))
    check(Tensor(a) // Tensor(b), np.array([2, -3, -3, 2], dtype=np.int8))


@pytest.mark.parametrize("fn", [operator.mod, operator.floordiv, tg.fmod])
def test_integer_division_by_zero_raises(fn: Callable) -> None:
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        fn(Tensor(np.array([1, 2])), Tensor(np.array([1, 0])))


LOGICAL = [(tg.logical_and, np.logical_and), (tg.logical_or, np.logical_or), (tg.logical_xor, np.logical_xor)]


@pytest.mark.parametrize("dtype", [*INTEGER_DTYPES, np.float32])
@pytest.mark.parametrize("fn, reference", LOGICAL, ids=["and", "or", "xor"])
def test_logical_functions_match_numpy(dtype: Any, fn: Callable, reference: Callable) -> None:
    a, b = (x.astype(dtype) for x in operands(dtype if dtype is not np.float32 else np.int8))
    check(fn(Tensor(a), Tensor(b)), reference(a, b))
    check(getattr(Tensor(a), fn.__name__)(b), reference(a, b))
    check(tg.logical_not(Tensor(a)), np.logical_not(a))
    check(Tensor(a).logical_not(), np.logical_not(a))


def test_predicates_match_numpy_and_have_no_gradient() -> None:
    x = Tensor(np.array([1.0, np.nan, np.inf, -np.inf, 0.0]), requires_grad=True)
    check(x.isnan(), [False, True, False, False, False])
    check(tg.isinf(x), [False, False, True, True, False])
    check(x.isfinite(), [True, False, False, False, True])
    check(tg.isfinite(Tensor(np.array([1, 2], dtype=np.int8))), [True, True])


def test_isclose_and_allclose_follow_numpys_rule() -> None:
    a = np.array([1.0, 1.0, np.nan, 0.0, 100.0])
    b = np.array([1.0 + 1e-6, 1.1, np.nan, 1e-9, 100.001])
    for equal_nan in (False, True):
        check(Tensor(a).isclose(Tensor(b), equal_nan=equal_nan), np.isclose(a, b, equal_nan=equal_nan))
    check(tg.isclose(Tensor(a), b, rtol=0.2, atol=0.0), np.isclose(a, b, rtol=0.2, atol=0.0))
    assert tg.allclose(Tensor(a[[0, 3]]), Tensor(b[[0, 3]])) is True
    assert Tensor(a).allclose(b, rtol=0.2, equal_nan=True) is True
    assert Tensor(a).allclose(b, rtol=0.2) is False
