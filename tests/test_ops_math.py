"""The math functions (ops/math_functions.py) and the elementwise fixes: pow at a zero base, minimum, clamp.

``CATALOGUE`` lists every differentiable function with an independent NumPy
formula and torch's equivalent, on domains kept away from poles, branch cuts
and jumps by construction (``catalogue_properties`` in ``op_catalogue.py``).
Below it: the conventions at non-differentiable points, accuracy where a
naive formula would lose it, integer and bool operands, and errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import (
    SIDE,
    Call,
    OpCase,
    Shape,
    any_shape,
    binary,
    catalogue_properties,
    distinct,
    separated_pair,
    ternary,
    unary,
)

import tinygrad_vae as tg
from tinygrad_vae import OpError, Tensor, gradients
from tinygrad_vae.testing import arrays, away_from, away_from_zero, broadcastable_shapes, positive_arrays

# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


def within(low: float, high: float) -> Callable[[Shape], st.SearchStrategy[np.ndarray]]:
    return lambda shape: arrays(shape, low, high)


def away_from_integers(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    return away_from(shape, list(range(-3, 4)))


def away_from_half_integers(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    return away_from(shape, [k + 0.5 for k in range(-3, 3)])


def away_from_hundredths_halves(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    """Values in [-1, 1] at least 0.01 from every x.x5, where round(x, 1) jumps."""
    return away_from(shape, [k / 10 + 0.05 for k in range(-10, 10)], margin=0.01, low=-1.0, high=1.0)


@st.composite
def divisions(draw: Callable, same_shape: bool) -> Call:
    """(a, b) with |b| in [0.5, 3] and a/b at least 0.1 from every integer, so no remainder jumps.

    With broadcasting the divisor is one value repeated over its drawn shape (each of its
    elements is still a separate input), so a = q * b can be placed for every pair it meets.
    """
    if same_shape:
        sa = sb = draw(any_shape())
    else:
        sa, sb = draw(broadcastable_shapes(n=2, max_dims=3, max_side=SIDE))
    q = draw(away_from(sa, list(range(-3, 4))))
    if same_shape:
        b = draw(away_from_zero(sb, margin=0.5))
        return Call((q * b, b))
    c = draw(away_from_zero((), margin=0.5))
    return Call((q * c, np.full(sb, c)))


@st.composite
def clamp_inputs(draw: Callable, bounds: str) -> Call:
    """x and tensor bounds ("min", "max" or "both") broadcasting together, no element within 0.01 of another."""
    n = 2 if bounds != "both" else 3
    shapes = draw(broadcastable_shapes(n=n, max_dims=3, max_side=SIDE))
    sizes = [int(np.prod(s)) for s in shapes]
    flat = draw(distinct((sum(sizes),)))
    cuts = np.cumsum([0, *sizes])
    return Call(tuple(flat[lo:hi].reshape(s) for lo, hi, s in zip(cuts[:-1], cuts[1:], shapes)))


def np_clamp(x: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None) -> np.ndarray:
    """torch's definition: min(max(x, lo), hi)."""
    out = x if lo is None else np.maximum(x, lo)
    return out if hi is None else np.minimum(out, hi)


def weights(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from([0.25, -0.5, 1.5]).map(lambda w: {"weight": w})


CATALOGUE: list[OpCase] = [
    # trigonometric and hyperbolic, with the inverses inside their domains away from the ends
    OpCase("sin", lambda a: a.sin(), np.sin, unary(), torch=lambda a: a.sin()),
    OpCase("cos", lambda a: a.cos(), np.cos, unary(), torch=lambda a: a.cos()),
    OpCase("tan", lambda a: a.tan(), lambda a: np.sin(a) / np.cos(a), unary(values=within(-1.2, 1.2)),
           torch=lambda a: a.tan()),
    OpCase("asin", lambda a: a.asin(), np.arcsin, unary(values=within(-0.9, 0.9)), torch=lambda a: a.asin()),
    OpCase("acos", lambda a: a.acos(), lambda a: np.pi / 2 - np.arcsin(a), unary(values=within(-0.9, 0.9)),
           torch=lambda a: a.acos()),
    OpCase("atan", lambda a: a.atan(), np.arctan, unary(), torch=lambda a: a.atan()),
    # y away from 0: no branch cut (x < 0, y = 0) and no pole at the origin
    OpCase("atan2", lambda y, x: y.atan2(x), np.arctan2, binary(left=away_from_zero), torch=lambda y, x: y.atan2(x)),
    OpCase("arctan2_function", tg.arctan2, np.arctan2, binary(left=away_from_zero),
           torch=lambda y, x: y.arctan2(x)),
    OpCase("sinh", lambda a: a.sinh(), lambda a: (np.exp(a) - np.exp(-a)) / 2, unary(values=away_from_zero),
           torch=lambda a: a.sinh()),
    OpCase("cosh", lambda a: a.cosh(), lambda a: (np.exp(a) + np.exp(-a)) / 2, unary(), torch=lambda a: a.cosh()),
    OpCase("asinh", lambda a: a.asinh(), lambda a: np.log(a + np.sqrt(a * a + 1)), unary(values=within(0.1, 3.0)),
           torch=lambda a: a.asinh()),
    OpCase("arcsinh_function", tg.arcsinh, np.arcsinh, unary(), torch=lambda a: a.arcsinh()),
    OpCase("acosh", lambda a: a.acosh(), lambda a: np.log(a + np.sqrt(a * a - 1)), unary(values=within(1.1, 3.0)),
           torch=lambda a: a.acosh()),
    OpCase("atanh", lambda a: a.atanh(), lambda a: 0.5 * np.log((1 + a) / (1 - a)),
           unary(values=within(-0.9, 0.9)), torch=lambda a: a.atanh()),
    OpCase("arcsin_arccos_arctan_functions", lambda a: tg.arcsin(a) + tg.arccos(a) * tg.arctan(a),
           lambda a: np.arcsin(a) + np.arccos(a) * np.arctan(a), unary(values=within(-0.9, 0.9))),
    OpCase("arccosh_arctanh_functions", lambda a: tg.arccosh(a + 2.0) * tg.arctanh(a),
           lambda a: np.arccosh(a + 2.0) * np.arctanh(a), unary(values=within(-0.9, 0.9))),
    # the log and exp family
    OpCase("log2", lambda a: a.log2(), lambda a: np.log(a) / np.log(2), unary(values=positive_arrays),
           torch=lambda a: a.log2()),
    OpCase("log10", lambda a: a.log10(), lambda a: np.log(a) / np.log(10), unary(values=positive_arrays),
           torch=lambda a: a.log10()),
    OpCase("log1p", lambda a: a.log1p(), lambda a: np.log(1 + a), unary(values=within(-0.9, 3.0)),
           torch=lambda a: a.log1p()),
    OpCase("exp2", lambda a: a.exp2(), lambda a: 2.0**a, unary(), torch=lambda a: a.exp2()),
    OpCase("expm1", lambda a: a.expm1(), lambda a: np.exp(a) - 1, unary(), torch=lambda a: a.expm1()),
    OpCase("rsqrt", lambda a: a.rsqrt(), lambda a: a**-0.5, unary(values=positive_arrays), torch=lambda a: a.rsqrt()),
    OpCase("square", lambda a: a.square(), lambda a: a * a, unary(), torch=lambda a: a.square()),
    OpCase("reciprocal", lambda a: a.reciprocal(), lambda a: 1 / a, unary(values=away_from_zero),
           torch=lambda a: a.reciprocal()),
    # sign and rounding: piecewise constant, drawn away from their jumps (zero gradients)
    OpCase("sign", lambda a: a.sign(), lambda a: (a > 0) * 1.0 - (a < 0), unary(values=away_from_zero),
           torch=lambda a: a.sign()),
    OpCase("sign_times_cube", lambda a: a.sign() * a**3, lambda a: np.abs(a) ** 3, unary(values=away_from_zero),
           torch=lambda a: a.sign() * a**3),
    OpCase("copysign", lambda a, b: a.copysign(b), lambda a, b: np.abs(a) * np.where(b < 0, -1, 1),
           binary(left=away_from_zero, right=away_from_zero), torch=lambda a, b: a.copysign(b)),
    OpCase("copysign_cubed", lambda a, b: tg.copysign(a, b) ** 3, lambda a, b: (np.abs(a) * np.where(b < 0, -1, 1)) ** 3,
           binary(left=away_from_zero, right=away_from_zero), torch=lambda a, b: a.copysign(b) ** 3),
    OpCase("floor", lambda a: a.floor(), lambda a: a - np.mod(a, 1.0), unary(values=away_from_integers),
           torch=lambda a: a.floor()),
    OpCase("ceil", lambda a: a.ceil(), lambda a: -np.floor(-a), unary(values=away_from_integers),
           torch=lambda a: a.ceil()),
    OpCase("trunc", lambda a: a.trunc(), lambda a: np.sign(a) * np.floor(np.abs(a)),
           unary(values=away_from_integers), torch=lambda a: a.trunc()),
    OpCase("round", lambda a: a.round(), lambda a: np.floor(a + 0.5), unary(values=away_from_half_integers),
           torch=lambda a: a.round()),
    OpCase("round_decimals", lambda a: tg.round(a, decimals=1), lambda a: np.floor(a * 10 + 0.5) / 10,
           unary(values=away_from_hundredths_halves), torch=lambda a: a.round(decimals=1)),
    # binary math, broadcasting; ties and the origin kept away by construction
    OpCase("logaddexp", lambda a, b: a.logaddexp(b), lambda a, b: np.log(np.exp(a) + np.exp(b)), separated_pair(),
           torch=lambda a, b: a.logaddexp(b)),
    OpCase("logaddexp2", lambda a, b: tg.logaddexp2(a, b), lambda a, b: np.log2(2.0**a + 2.0**b), separated_pair(),
           torch=lambda a, b: a.logaddexp2(b)),
    OpCase("lerp_tensor_weight", lambda a, b, w: a.lerp(b, w), lambda a, b, w: a + w * (b - a), ternary(),
           torch=lambda a, b, w: a.lerp(b, w)),
    OpCase("lerp_number_weight", lambda a, b, weight: tg.lerp(a, b, weight), lambda a, b, weight: a + weight * (b - a),
           binary().flatmap(lambda c: weights(()).map(lambda p: Call(c.arrays, p))),
           torch=lambda a, b, weight: a.lerp(b, weight)),
    OpCase("lerp_cubed", lambda a, b, w: a.lerp(b, w) ** 3, lambda a, b, w: (a + w * (b - a)) ** 3, ternary(),
           torch=lambda a, b, w: a.lerp(b, w) ** 3),
    OpCase("hypot", lambda a, b: a.hypot(b), lambda a, b: np.sqrt(a * a + b * b), binary(left=away_from_zero),
           torch=lambda a, b: a.hypot(b)),
    OpCase("fmax", lambda a, b: a.fmax(b), np.maximum, separated_pair(), torch=lambda a, b: a.fmax(b)),
    OpCase("fmin", lambda a, b: tg.fmin(a, b), np.minimum, separated_pair(), torch=lambda a, b: a.fmin(b)),
    OpCase("rad2deg", lambda a: a.rad2deg(), lambda a: a / np.pi * 180, unary(), torch=lambda a: a.rad2deg()),
    OpCase("deg2rad_cubed", lambda a: a.deg2rad() ** 3, lambda a: (a / 180 * np.pi) ** 3, unary(),
           torch=lambda a: a.deg2rad() ** 3),
    OpCase("degrees_radians_functions", lambda a: tg.degrees(a) * tg.radians(a), lambda a: a * a, unary()),
    # remainders, away from their jumps; the divisor gets -quotient
    OpCase("remainder_operator", lambda a, b: a % b, lambda a, b: a - np.floor(a / b) * b, divisions(False),
           torch=lambda a, b: a % b),
    OpCase("remainder_cubed", lambda a, b: a.remainder(b) ** 3, lambda a, b: (a - np.floor(a / b) * b) ** 3,
           divisions(True), torch=lambda a, b: a.remainder(b) ** 3),
    OpCase("fmod", lambda a, b: a.fmod(b), lambda a, b: a - np.trunc(a / b) * b, divisions(False),
           torch=lambda a, b: a.fmod(b)),
    OpCase("fmod_cubed", lambda a, b: tg.fmod(a, b) ** 3, lambda a, b: (a - np.trunc(a / b) * b) ** 3,
           divisions(True), torch=lambda a, b: a.fmod(b) ** 3),
    OpCase("floor_divide_operator", lambda a, b: a // b, lambda a, b: np.floor(a / b), divisions(False)),
    OpCase("floor_divide_times_b_cubed", lambda a, b: a.floor_divide(b) * b**3, lambda a, b: np.floor(a / b) * b**3,
           divisions(True)),
    # clamp with tensor bounds (all elements distinct: no ties with a bound)
    OpCase("clamp_tensor_bounds", lambda x, lo, hi: x.clamp(lo, hi), np_clamp, clamp_inputs("both"),
           torch=lambda x, lo, hi: x.clamp(lo, hi)),
    OpCase("clamp_min_tensor", lambda x, lo: x.clamp_min(lo) ** 3, lambda x, lo: np.maximum(x, lo) ** 3,
           clamp_inputs("min"), torch=lambda x, lo: x.clamp_min(lo) ** 3),
    OpCase("clamp_max_tensor", lambda x, hi: tg.clamp(x, max=hi) ** 3, lambda x, hi: np.minimum(x, hi) ** 3,
           clamp_inputs("max"), torch=lambda x, hi: x.clamp(max=hi) ** 3),
    OpCase("clamp_numbers", lambda x: x.clamp(-1.0, 1.0) ** 3, lambda x: np.clip(x, -1.0, 1.0) ** 3,
           unary(values=lambda s: away_from(s, [-1.0, 1.0])), torch=lambda x: x.clamp(-1.0, 1.0) ** 3),
    OpCase("clamp_max_number", lambda x: tg.clamp_max(x, 0.5), lambda x: np.minimum(x, 0.5),
           unary(values=lambda s: away_from(s, [0.5])), torch=lambda x: x.clamp_max(0.5)),
]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


def grads(fn: Callable[..., Tensor], *values: Any, dtype: Any = np.float64) -> list[np.ndarray]:
    """Gradients of sum(fn(*xs)) with respect to each x."""
    xs = [Tensor(np.asarray(v, dtype=dtype), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


def second_derivatives(fn: Callable[..., Tensor], *values: Any) -> list[np.ndarray]:
    """The gradient of sum(first gradients) with respect to each input (create_graph, then again)."""
    xs = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    first = gradients(fn(*xs).sum(), xs, create_graph=True)
    total = sum((g.sum() for g in first[1:]), first[0].sum())
    return [g.data for g in gradients(total, xs, materialize_grads=True)]


# --------------------------------------------------------------------------
# pow at a zero base: 0 log 0 = 0 and d(a^0)/da = 0
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_zero_base_has_a_zero_exponent_gradient(dtype: Any) -> None:
    """d(0^b)/db = 0^b log 0, taken as 0 for b >= 0 (the limit of a^b log a as a -> 0)."""
    (gb,) = grads(lambda b: 0 ** b, [0.0, 0.5, 1.0, 2.5], dtype=dtype)
    assert gb.dtype == dtype
    np.testing.assert_array_equal(gb, [0.0, 0.0, 0.0, 0.0])
    ga, gb = grads(lambda a, b: a**b, [0.0, 0.0, 2.0], [2.0, 3.0, 3.0])
    np.testing.assert_array_equal(ga, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(gb, [0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-15)


def test_a_zero_exponent_tensor_has_a_zero_base_gradient_at_zero() -> None:
    """d(a^0)/da = 0 * a^-1, taken as 0 at a = 0 (a^0 = 1 for every a), as the number exponent x ** 0 gives."""
    ga, _ = grads(lambda a, b: a**b, [0.0, 3.0], [0.0, 0.0])
    np.testing.assert_array_equal(ga, [0.0, 0.0])
    np.testing.assert_array_equal(grads(lambda a: a**0, [0.0, 3.0])[0], ga)


def test_pow_second_derivatives_at_a_zero_base_are_finite() -> None:
    """f = a^b at a = 0: d2f/da2 = b(b-1) a^(b-2), the mixed d2f/dadb -> 0 * (1 + b log a) and d2f/db2 -> 0."""
    a, b = [0.0, 0.0, 0.0], [0.0, 2.0, 3.0]
    sa, sb = second_derivatives(lambda x, y: x**y, a, b)
    # sa = d2f/da2 + d2f/dadb: [0 (a^0 is constant), 2 + 0, 0 + 0]; sb = d2f/dbda + d2f/db2: all 0
    np.testing.assert_array_equal(sa, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(sb, [0.0, 0.0, 0.0])
    (s,) = second_derivatives(lambda y: 0 ** y, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(s, [0.0, 0.0, 0.0])


def test_pow_gradient_of_a_positive_base_is_unchanged() -> None:
    ga, gb = grads(lambda a, b: a**b, [[2.0], [0.5]], [0.0, 3.0])  # broadcast (2, 1) against (2,)
    np.testing.assert_allclose(ga, [[0.0 + 3 * 4.0], [0.0 + 3 * 0.25]], rtol=1e-15)
    np.testing.assert_allclose(gb, [np.log(2.0) + np.log(0.5), 8 * np.log(2.0) + 0.125 * np.log(0.5)], rtol=1e-15)


# --------------------------------------------------------------------------
# maximum / minimum on unsigned ints and bools; fmax / fmin with NaN
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fn, reference", [(tg.minimum, np.minimum), (tg.maximum, np.maximum),
                                           (tg.fmin, np.fmin), (tg.fmax, np.fmax)])
@pytest.mark.parametrize("a, b", [(np.array([3, 0, 7], dtype=np.uint8), np.array([1, 2, 7], dtype=np.uint8)),
                                  (np.array([True, False, True]), np.array([False, False, True])),
                                  (np.array([3, 0, 7], dtype=np.uint8), 2)])
def test_extrema_of_integers_and_bools_are_numpys(fn: Callable, reference: Callable, a: Any, b: Any) -> None:
    out = fn(Tensor(a), b)
    expected = reference(a, b)
    assert out.dtype == expected.dtype and not out.requires_grad
    np.testing.assert_array_equal(out.data, expected)


def test_minimum_of_uint8_does_not_wrap_around() -> None:
    out = Tensor(np.array([3, 0, 7], dtype=np.uint8)).minimum(Tensor(np.array([5, 5, 5], dtype=np.uint8)))
    np.testing.assert_array_equal(out.data, np.array([3, 0, 5], dtype=np.uint8))


@pytest.mark.parametrize("fn, kept", [(tg.fmax, [2.0, 1.0, 3.0]), (tg.fmin, [2.0, 1.0, -1.0])])
def test_fmax_fmin_ignore_nan_and_give_the_gradient_to_the_other_operand(fn: Callable, kept: list[float]) -> None:
    a = Tensor(np.array([np.nan, 1.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([2.0, np.nan, -1.0]), requires_grad=True)
    out = fn(a, b)
    np.testing.assert_array_equal(out.data, kept)
    out.sum().backward()
    from_a = [0.0, 1.0, 1.0] if fn is tg.fmax else [0.0, 1.0, 0.0]
    np.testing.assert_array_equal(a.grad.data, from_a)
    np.testing.assert_array_equal(b.grad.data, 1.0 - np.array(from_a))


def test_fmax_ties_split_the_gradient() -> None:
    ga, gb = grads(tg.fmax, [1.0, 2.0], [1.0, 0.0])
    np.testing.assert_array_equal(ga, [0.5, 1.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0])


# --------------------------------------------------------------------------
# clamp
# --------------------------------------------------------------------------


def test_clamp_passes_the_gradient_to_x_at_tensor_bounds_and_to_an_active_bound() -> None:
    x, lo, hi = [-2.0, -1.0, 0.0, 1.0, 3.0], [-1.0, -1.0, -1.0, -1.0, -1.0], [1.0, 1.0, 1.0, 1.0, 1.0]
    gx, glo, ghi = grads(lambda a, b, c: a.clamp(b, c), x, lo, hi)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(glo, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 0.0, 0.0, 1.0])


def test_clamp_with_min_above_max_is_max_as_in_torch() -> None:
    gx, glo, ghi = grads(lambda a, b, c: a.clamp(b, c), [0.0, 5.0, -5.0], [2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(tg.clamp(Tensor(np.array([0.0, 5.0, -5.0])), Tensor(np.array(2.0)), 1.0).data,
                                  [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(glo, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [1.0, 1.0, 1.0])


def test_clamp_broadcasts_x_against_tensor_bounds() -> None:
    out = Tensor(np.array([0.0, 2.0])).clamp(min=Tensor(np.array([[1.0], [-1.0]])))
    np.testing.assert_array_equal(out.data, [[1.0, 2.0], [0.0, 2.0]])
    gx, glo = grads(lambda a, b: a.clamp(min=b), [0.0, 2.0], [[1.0], [-1.0]])
    np.testing.assert_array_equal(gx, [1.0, 2.0])
    np.testing.assert_array_equal(glo, [[1.0], [0.0]])


def test_clamp_and_clip_are_one_function() -> None:
    x = np.array([-3.0, 0.5, 4.0], dtype=np.float32)
    for out in (Tensor(x).clamp(-1, 1), Tensor(x).clip(-1, 1), tg.clip(Tensor(x), -1, 1), tg.clamp_min(
            tg.clamp_max(Tensor(x), 1), -1)):
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, np.clip(x, -1, 1))


def test_clamp_needs_a_bound() -> None:
    with pytest.raises(OpError, match="clamp: give at least one of min and max"):
        Tensor(np.zeros(2)).clamp()


# --------------------------------------------------------------------------
# the other conventions: zero gradients of the piecewise constant functions, copysign, ties
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["floor", "ceil", "round", "trunc", "sign"])
def test_piecewise_constant_functions_have_zero_gradients_also_at_their_jumps(method: str) -> None:
    (g,) = grads(lambda t: getattr(t, method)(), [-1.0, -0.5, 0.0, 0.5, 1.0, 2.5])
    np.testing.assert_array_equal(g, np.zeros(6))


def test_floor_divide_has_zero_gradients() -> None:
    ga, gb = grads(lambda a, b: a // b, [[3.0, -3.0]], [[2.0], [4.0]])
    np.testing.assert_array_equal(ga, [[0.0, 0.0]])
    np.testing.assert_array_equal(gb, [[0.0], [0.0]])


def test_round_is_half_to_even() -> None:
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.25, 0.35])
    np.testing.assert_array_equal(Tensor(x).round().data, [-2.0, -2.0, -0.0, 0.0, 2.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(Tensor(x).round(decimals=1).data, np.round(x, 1))


@pytest.mark.parametrize("method", ["floor", "ceil", "round", "trunc"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64])
def test_rounding_an_integer_tensor_gives_it_back(method: str, dtype: Any) -> None:
    x = np.array([0, 3, 7], dtype=dtype)
    out = getattr(Tensor(x), method)()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, x)


def test_round_refuses_fractional_decimals() -> None:
    with pytest.raises(TypeError, match="round: decimals must be an int, got 0.5"):
        Tensor(np.zeros(2)).round(decimals=0.5)


def test_copysign_gradient_is_sign_aware_and_zero_for_the_sign_source() -> None:
    a, b = [2.0, -2.0, 2.0, -2.0, 0.0], [1.0, 1.0, -1.0, -0.0, -1.0]
    out = Tensor(np.array(a)).copysign(Tensor(np.array(b)))
    np.testing.assert_array_equal(out.data, np.copysign(a, b))
    assert np.signbit(out.data[3]) and np.signbit(out.data[4])
    ga, gb = grads(tg.copysign, a, b)
    np.testing.assert_array_equal(ga, [1.0, -1.0, -1.0, 1.0, 0.0])  # 0 at a = 0 (abs'(0) = 0)
    np.testing.assert_array_equal(gb, np.zeros(5))


def test_logaddexp_of_a_tie_gives_each_operand_half() -> None:
    ga, gb = grads(tg.logaddexp, [1.0, 0.0], [1.0, 0.0])
    np.testing.assert_array_equal(ga, [0.5, 0.5])
    np.testing.assert_array_equal(gb, [0.5, 0.5])
    ga, gb = grads(tg.logaddexp2, [3.0], [3.0])
    np.testing.assert_array_equal(ga, [0.5])


def test_remainder_and_fmod_take_the_divisor_and_the_dividend_sign() -> None:
    a, b = np.array([5.5, -5.5, 5.5, -5.5]), np.array([2.0, 2.0, -2.0, -2.0])
    np.testing.assert_array_equal((Tensor(a) % Tensor(b)).data, [1.5, 0.5, -0.5, -1.5])
    np.testing.assert_array_equal(Tensor(a).fmod(Tensor(b)).data, [1.5, -1.5, 1.5, -1.5])
    _, gb = grads(lambda x, y: x % y, a, b)
    np.testing.assert_array_equal(gb, -np.floor(a / b))  # floor(a/b) = [2, -3, -3, 2]
    _, gb = grads(tg.fmod, a, b)
    np.testing.assert_array_equal(gb, -np.trunc(a / b))


def test_reflected_remainder_and_floor_division_of_a_number() -> None:
    x = Tensor(np.array([2.0, -3.0]), requires_grad=True)
    np.testing.assert_array_equal((7.0 % x).data, [1.0, -2.0])
    np.testing.assert_array_equal((7.0 // x).data, [3.0, -3.0])
    (7.0 % x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-3.0, 3.0])


# --------------------------------------------------------------------------
# accuracy where a composite of exp and log would lose it, and no overflow
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method, value, expected", [
    ("log1p", 1e-20, 1e-20), ("expm1", 1e-20, 1e-20), ("sinh", 1e-20, 1e-20), ("asinh", 1e-20, 1e-20),
    ("atanh", 1e-20, 1e-20), ("tan", 1e-20, 1e-20), ("log2", 8.0, 3.0), ("log10", 1000.0, 3.0), ("exp2", 10.0, 1024.0),
])
def test_accurate_at_small_and_exact_points(method: str, value: float, expected: float) -> None:
    assert getattr(Tensor(np.array(value)), method)().item() == expected


def test_hypot_and_logaddexp_do_not_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = Tensor(np.array([1e300, 1000.0]), requires_grad=True)
        np.testing.assert_allclose(big.hypot(big).data, np.array([1e300, 1000.0]) * np.sqrt(2.0), rtol=1e-15)
        y = big.logaddexp(big - 1.0)
        np.testing.assert_allclose(y.data, [1e300, 1000.0 + np.log1p(np.exp(-1.0))], rtol=1e-15)
        y.sum().backward()
        assert np.isfinite(big.grad.data).all()


def test_lerp_with_a_number_weight_keeps_float32() -> None:
    out = Tensor(np.array([0.0, 2.0], dtype=np.float32)).lerp(Tensor(np.array([4.0, 4.0], dtype=np.float32)), 0.25)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, [1.0, 2.5])
