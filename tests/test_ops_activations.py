"""The activation functions and erf/erfc, from one catalogue, then their conventions and extreme inputs.

``CATALOGUE`` lists each op with an independent NumPy formula written from its
definition (erf by a series of positive terms, so no math.erf), its torch
equivalent, and inputs drawn away from its kinks by construction (relu6 from 0
and 6, hardtanh from its bounds, softplus from x = threshold / beta, ...).

Below the catalogue: the value of the derivative at each kink (torch's, written
as literals), erf against math.erf, the functions at |x| = 1000, softmax of a
0-d tensor, the zero slice of normalize, nn.functional's names, and the errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import Call, OpCase, Shape, any_shape, catalogue_properties, unary

from tinygrad_vae import (
    OpError,
    Tensor,
    celu,
    elu,
    erf,
    erfc,
    erfinv,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    log_softmax,
    mish,
    normalize,
    quick_gelu,
    relu6,
    selu,
    silu,
    softmax,
    softmin,
    softplus,
    softsign,
    swish,
)
from tinygrad_vae.nn import functional as F
from tinygrad_vae.ops import activations
from tinygrad_vae.testing import arrays, away_from, away_from_zero, distinct_arrays

# torch's SELU constants, as torch.nn.functional.selu documents them.
SCALE, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717

# --------------------------------------------------------------------------
# independent NumPy references
# --------------------------------------------------------------------------


def np_erf(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)): all terms of x's sign, no cancellation.

    100 terms are exact to double precision for |x| <= 3 (the terms peak near n = x^2 and then fall fast).
    """
    term = np.asarray(x, dtype=np.float64).copy()
    total = term.copy()
    for n in range(1, 100):
        term = term * (2.0 * x * x) / (2 * n + 1)
        total = total + term
    return 2.0 / np.sqrt(np.pi) * np.exp(-x * x) * total


def np_erfinv(y: np.ndarray) -> np.ndarray:
    """The x in [-3, 3] with np_erf(x) = y, by 64 bisection steps (erf is increasing): to within 6 / 2^64."""
    low, high = np.full(np.shape(y), -3.0), np.full(np.shape(y), 3.0)
    for _ in range(64):
        middle = 0.5 * (low + high)
        below = np_erf(middle) < y
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return 0.5 * (low + high)


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def np_gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    return x * 0.5 * (1.0 + np_erf(x / np.sqrt(2.0)))


def np_softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def np_normalize(x: np.ndarray, p: float, dim: int, eps: float = 1e-12) -> np.ndarray:
    if p == math.inf:
        norm = np.max(np.abs(x), axis=dim, keepdims=True)
    else:
        norm = np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1.0 / p)
    return x / np.maximum(norm, eps)


def torch_functional(name: str) -> Callable[..., Any]:
    """torch.nn.functional's ``name``, imported when a torch row runs (torch is only a test-time extra)."""

    def call(*tensors: Any, **params: Any) -> Any:
        import torch.nn.functional

        return getattr(torch.nn.functional, name)(*tensors, **params)

    return call


# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


@st.composite
def kinked(draw: Callable, params: list[dict[str, Any]], kinks: Callable[[dict[str, Any]], list[float]],
           low: float = -3.0, high: float = 3.0) -> Call:
    """One array for one of ``params``, its values kept 0.1 from the kinks that those parameters put in the op."""
    chosen = draw(st.sampled_from(params))
    return Call((draw(away_from(draw(any_shape()), kinks(chosen), low=low, high=high)),), chosen)


def choices(name: str, *values: Any) -> Callable[[Shape], st.SearchStrategy[dict[str, Any]]]:
    return lambda shape: st.fixed_dictionaries({name: st.sampled_from(values)})


def a_dim(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"dim": st.integers(-len(shape), len(shape) - 1)})


@st.composite
def distinct_magnitudes(draw: Callable, shape: Shape) -> np.ndarray:
    """Values with pairwise distinct |x| (no ties for max |x|), of either sign and at least 0.1 from 0."""
    magnitudes = draw(distinct_arrays(shape, low=0.1, high=3.0))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=magnitudes.size, max_size=magnitudes.size))
    return magnitudes * np.asarray(signs).reshape(shape)


@st.composite
def normalize_inputs(draw: Callable) -> Call:
    """An array of at least one axis away from 0 (|x| is a kink), a p and a dim; distinct |x| for p = inf."""
    shape = draw(any_shape(min_dims=1))
    p = draw(st.sampled_from([2.0, 1.0, 3.0, 1.5, math.inf]))
    values = draw(distinct_magnitudes(shape) if p == math.inf else away_from_zero(shape))
    return Call((values,), {"p": p, "dim": draw(st.integers(-len(shape), len(shape) - 1))})


ALPHAS = [1.0, 0.5, 2.0]
SOFTPLUS_PARAMS = [{"beta": b, "threshold": t} for b, t in [(1.0, 20.0), (2.0, 1.0), (0.5, 1.0), (-1.0, 1.0)]]
HARDTANH_BOUNDS = [{"min_val": -1.0, "max_val": 1.0}, {"min_val": -0.5, "max_val": 2.0}]

# --------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------

CATALOGUE = [
    # erf and erfc, methods and functions (erfc's reference: 1 - erf loses nothing that matters for |x| <= 3)
    OpCase("erf", lambda a: a.erf(), np_erf, unary(), torch=lambda a: a.erf()),
    OpCase("erf_function", erf, np_erf, unary(), torch=lambda a: a.erf()),
    OpCase("erfc", lambda a: a.erfc(), lambda a: 1.0 - np_erf(a), unary(), torch=lambda a: a.erfc()),
    OpCase("erfinv", lambda a: a.erfinv(), np_erfinv, unary(values=lambda s: arrays(s, -0.9, 0.9)),
           torch=lambda a: a.erfinv()),
    OpCase("erfinv_function", erfinv, np_erfinv, unary(values=lambda s: arrays(s, -0.9, 0.9)),
           torch=lambda a: a.erfinv()),
    OpCase("erfc_function", erfc, lambda a: 1.0 - np_erf(a), unary(), torch=lambda a: a.erfc()),
    # smooth activations
    OpCase("gelu", gelu, np_gelu, unary(params=choices("approximate", "none", "tanh")),
           torch=torch_functional("gelu")),
    OpCase("quick_gelu", quick_gelu, lambda a: a * np_sigmoid(1.702 * a), unary(),
           torch=lambda a: a * (1.702 * a).sigmoid()),
    OpCase("silu", silu, lambda a: a * np_sigmoid(a), unary(), torch=torch_functional("silu")),
    OpCase("swish", swish, lambda a: a / (1.0 + np.exp(-a)), unary()),
    OpCase("mish", mish, lambda a: a * np.tanh(np.log(1.0 + np.exp(a))), unary(),
           torch=torch_functional("mish")),
    OpCase("softsign", softsign, lambda a: a / (1.0 + np.abs(a)), unary(values=away_from_zero),
           torch=torch_functional("softsign")),
    OpCase("softplus", softplus, np_softplus,
           kinked(SOFTPLUS_PARAMS, lambda p: [p["threshold"] / p["beta"]] if p["threshold"] < 20 else []),
           torch=torch_functional("softplus")),
    OpCase("softplus_function", F.softplus, np_softplus, kinked(SOFTPLUS_PARAMS[1:2], lambda p: [0.5])),
    # exponential-linear units: a kink in the second derivative at 0
    OpCase("elu", elu, lambda a, alpha: np.where(a > 0, a, alpha * (np.exp(a) - 1.0)),
           unary(values=away_from_zero, params=choices("alpha", *ALPHAS)),
           torch=torch_functional("elu")),
    OpCase("celu", celu,
           lambda a, alpha: np.maximum(0.0, a) + np.minimum(0.0, alpha * (np.exp(a / alpha) - 1.0)),
           unary(values=away_from_zero, params=choices("alpha", *ALPHAS)),
           torch=torch_functional("celu")),
    OpCase("selu", selu, lambda a: SCALE * np.where(a > 0, a, ALPHA * (np.exp(a) - 1.0)),
           unary(values=away_from_zero), torch=torch_functional("selu")),
    # piecewise-linear ones, kept 0.1 from their bounds
    OpCase("hardtanh", hardtanh, lambda a, min_val, max_val: np.minimum(np.maximum(a, min_val), max_val),
           kinked(HARDTANH_BOUNDS, lambda p: [p["min_val"], p["max_val"]]),
           torch=torch_functional("hardtanh")),
    OpCase("relu6", relu6, lambda a: np.minimum(np.maximum(a, 0.0), 6.0),
           kinked([{}], lambda p: [0.0, 6.0], low=-2.0, high=8.0),
           torch=torch_functional("relu6")),
    OpCase("hardsigmoid", hardsigmoid, lambda a: np.clip(a / 6.0 + 0.5, 0.0, 1.0),
           kinked([{}], lambda p: [-3.0, 3.0], low=-5.0, high=5.0),
           # torch's own hardsigmoid has no double backward, and its float64 gradient uses a float32 1/6
           # (relative error 3e-8): compared with torch's relu6(x + 3) / 6 instead
           torch=lambda a: torch_functional("relu6")(a + 3.0) / 6.0),
    OpCase("hardswish", hardswish, lambda a: a * np.clip(a + 3.0, 0.0, 6.0) / 6.0,
           kinked([{}], lambda p: [-3.0, 3.0], low=-5.0, high=5.0),
           torch=torch_functional("hardswish")),
    # softmax family: torch's dim, NumPy's axis, and a 0-d tensor (dim 0 or -1)
    OpCase("softmax_dim", lambda a, dim: a.softmax(dim=dim), np_softmax, unary(shape=any_shape(1), params=a_dim),
           torch=lambda a, dim: a.softmax(dim)),
    OpCase("softmax_axis", lambda a, dim: a.softmax(axis=dim), np_softmax, unary(shape=any_shape(1), params=a_dim)),
    OpCase("softmax_0d", lambda a, dim: softmax(a, dim), lambda a, dim: np.ones(()),
           unary(shape=st.just(()), params=choices("dim", 0, -1)), torch=lambda a, dim: a.softmax(dim)),
    OpCase("log_softmax_dim", lambda a, dim: a.log_softmax(dim), lambda a, dim: np.log(np_softmax(a, dim)),
           unary(shape=any_shape(1), params=a_dim), torch=lambda a, dim: a.log_softmax(dim)),
    OpCase("log_softmax_0d", lambda a, dim: log_softmax(a, dim=dim), lambda a, dim: np.zeros(()),
           unary(shape=st.just(()), params=choices("dim", 0, -1)), torch=lambda a, dim: a.log_softmax(dim)),
    OpCase("softmin", softmin, lambda a, dim: np_softmax(-a, dim), unary(shape=any_shape(1), params=a_dim),
           torch=torch_functional("softmin")),
    OpCase("softmin_functional", lambda a, dim: F.softmin(a, dim=dim), lambda a, dim: np_softmax(-a, dim),
           unary(shape=any_shape(1), params=a_dim)),
    # normalize: p = 2, 1, 3, 1.5 and inf along one dim; eps = 100 clamps every norm (x / eps)
    OpCase("normalize", normalize, np_normalize, normalize_inputs(),
           torch=torch_functional("normalize")),
    OpCase("normalize_clamped_by_eps", normalize, lambda a, dim, eps: a / eps,
           unary(values=away_from_zero, shape=any_shape(1), params=lambda s: st.just({"dim": -1, "eps": 100.0})),
           torch=torch_functional("normalize")),
]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# conventions at the kinks: torch's derivatives there, as literals (printed by torch 2.14 in float64)
# --------------------------------------------------------------------------


def value_and_grad(fn: Callable[[Tensor], Tensor], values: list[float], dtype: Any = np.float64) -> tuple[Any, Any]:
    x = Tensor(np.array(values, dtype=dtype), requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.data, x.grad.data


@pytest.mark.parametrize(
    "fn, at, torch_grad",
    [
        (relu6, [0.0, 6.0], [0.0, 0.0]),
        (hardtanh, [-1.0, 1.0], [0.0, 0.0]),
        (lambda x: hardtanh(x, -0.5, 2.0), [-0.5, 2.0], [0.0, 0.0]),
        (hardsigmoid, [-3.0, 3.0], [0.0, 0.0]),
        (hardswish, [-3.0, 3.0], [0.0, 1.0]),
        (elu, [0.0], [1.0]),
        (lambda x: elu(x, 0.5), [0.0], [0.5]),
        (celu, [0.0], [1.0]),
        (lambda x: celu(x, 0.5), [0.0], [1.0]),
        (selu, [0.0], [1.7580993408473766]),
        # beta x == threshold exactly: the smooth formula, sigmoid(4); just above it: the linear piece
        (lambda x: softplus(x, 2.0, 4.0), [2.0, 2.0000001], [0.9820137900379085, 1.0]),
        (softsign, [0.0], [1.0]),
    ],
)
def test_derivative_at_each_kink_is_torchs(fn: Callable[[Tensor], Tensor], at: list[float],
                                           torch_grad: list[float]) -> None:
    np.testing.assert_allclose(value_and_grad(fn, at)[1], torch_grad, rtol=1e-15, atol=0.0)


def test_softplus_is_exactly_linear_above_the_threshold() -> None:
    """softplus(25) is 25 itself (log1p(exp(25)) would be 25 + 1.4e-11), with derivative exactly 1."""
    y, g = value_and_grad(softplus, [25.0])
    np.testing.assert_array_equal(y, [25.0])
    np.testing.assert_array_equal(g, [1.0])


def test_elu_family_is_accurate_near_zero() -> None:
    """expm1, not exp(x) - 1, which keeps only about 6 digits of elu(-1e-10)."""
    x = -1e-10
    expected = x + x * x / 2  # expm1's Taylor series; the x^3 term is below double precision here
    np.testing.assert_allclose(value_and_grad(elu, [x])[0], [expected], rtol=1e-15)
    np.testing.assert_allclose(value_and_grad(celu, [x])[0], [expected], rtol=1e-15)
    np.testing.assert_allclose(value_and_grad(selu, [x])[0], [SCALE * ALPHA * expected], rtol=1e-15)


# --------------------------------------------------------------------------
# erf and erfc against the C library's (math.erf), and float32
# --------------------------------------------------------------------------

ERF_POINTS = np.concatenate([
    np.linspace(-6.0, 6.0, 2401),
    [-27.0, -10.0, 10.0, 27.0, 5e-324, -5e-324, 1e-300, 1e-200, 1e-100, 1e-20, 1e-10, -1e-10, 0.0, -0.0],
])


def test_erf_and_erfc_are_the_c_librarys() -> None:
    x = Tensor(ERF_POINTS)
    np.testing.assert_array_equal(erf(x).data, [math.erf(v) for v in ERF_POINTS])
    np.testing.assert_array_equal(erfc(x).data, [math.erfc(v) for v in ERF_POINTS])


def test_erf_of_tiny_and_large_x() -> None:
    tiny = np.array([1e-300, 1e-100, 1e-10, -1e-10])
    np.testing.assert_allclose(erf(Tensor(tiny)).data, 2.0 / math.sqrt(math.pi) * tiny, rtol=1e-15)  # erf x ~ 2x/sqrt(pi)
    np.testing.assert_array_equal(erf(Tensor(np.array([-6.0, 6.0]))).data, [-1.0, 1.0])
    # erfc(6), erfc(10) from tables (Abramowitz and Stegun's asymptotic series agrees): where 1 - erf is 0
    np.testing.assert_allclose(erfc(Tensor(np.array([6.0, 10.0]))).data, [2.1519736712498913e-17, 2.088487583762545e-45],
                               rtol=1e-14)


def test_erf_series_reference_agrees_with_math_erf() -> None:
    """The catalogue's reference is itself right: the series against the C library on [-3, 3]."""
    x = np.linspace(-3.0, 3.0, 601)
    np.testing.assert_allclose(np_erf(x), [math.erf(v) for v in x], rtol=2e-15, atol=1e-16)


def test_erf_keeps_float32() -> None:
    x32 = np.linspace(-4.0, 4.0, 81, dtype=np.float32)
    y, g = value_and_grad(erf, list(x32), np.float32)
    assert y.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([math.erf(float(v)) for v in x32], dtype=np.float32))
    np.testing.assert_allclose(g, 2.0 / math.sqrt(math.pi) * np.exp(-x32.astype(np.float64) ** 2), rtol=1e-6, atol=1e-30)


def test_erfinv_inverts_erf_up_to_the_tails() -> None:
    """erf(erfinv(y)) = y to rounding, from tiny y to 1 - 2^-53, where erf(x) - y alone would cancel."""
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 4001), [1e-300, 1e-20, 1e-7, 0.5, 1 - 1e-10, 1 - 2**-53]])
    x = erfinv(Tensor(y)).data
    np.testing.assert_allclose([math.erf(v) for v in x], y, rtol=0.0, atol=1.2e-16)
    tiny = np.array([1e-300, 1e-20, 1e-7])
    series = math.sqrt(math.pi) / 2 * (tiny + math.pi / 12 * tiny**3)  # erfinv's Taylor series, to y^3
    np.testing.assert_allclose(x[-6:-2], [*series, 0.4769362762044699], rtol=1e-15)
    # erfc(x) = 1 - y (exact in floats here) for the last two: the tail's own accuracy
    np.testing.assert_allclose([math.erfc(v) for v in x[-2:]], 1.0 - y[-2:], rtol=1e-14)


def test_erfinv_at_and_beyond_plus_minus_one() -> None:
    y = erfinv(Tensor(np.array([-1.0, 1.0, 1.5, -2.0, np.nan, -0.0])))
    np.testing.assert_array_equal(y.data, [-np.inf, np.inf, np.nan, np.nan, np.nan, -0.0])
    assert np.signbit(y.data[-1])


def test_erfinv_keeps_float32_and_its_slope_at_zero() -> None:
    y, g = value_and_grad(erfinv, [0.0, 0.5], np.float32)
    assert y.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(y, [0.0, 0.4769362762044699], rtol=1e-7)
    np.testing.assert_allclose(g, [math.sqrt(math.pi) / 2, math.sqrt(math.pi) / 2 * math.exp(0.4769362762044699**2)],
                               rtol=1e-6)


def test_erf_of_an_integer_tensor_is_float64() -> None:
    y = erf(Tensor(np.array([0, 1, 2])))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.data, [0.0, math.erf(1.0), math.erf(2.0)])


# --------------------------------------------------------------------------
# stability at |x| = 1000: finite values, the right gradients, and no NumPy warnings
# --------------------------------------------------------------------------


@pytest.mark.usefixtures("warnings_are_errors")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "fn, values, grads",
    [
        (softplus, [0.0, 1000.0], [0.0, 1.0]),
        (lambda x: softplus(x, 2.0, 20.0), [0.0, 1000.0], [0.0, 1.0]),
        (lambda x: softplus(x, 2.0, 3000.0), [0.0, 1000.0], [0.0, 1.0]),  # 2 x = 2000 < threshold: the smooth part
        (lambda x: softplus(x, -1.0, 20.0), [-1000.0, -0.0], [1.0, 0.0]),  # -x > 20 at x = -1000: linear
        (mish, [-0.0, 1000.0], [0.0, 1.0]),
        (silu, [-0.0, 1000.0], [0.0, 1.0]),
        (quick_gelu, [-0.0, 1000.0], [0.0, 1.0]),
        (gelu, [-0.0, 1000.0], [0.0, 1.0]),
        (lambda x: gelu(x, "tanh"), [-0.0, 1000.0], [0.0, 1.0]),
        (elu, [-1.0, 1000.0], [0.0, 1.0]),
        (celu, [-1.0, 1000.0], [0.0, 1.0]),
        (selu, [-SCALE * ALPHA, SCALE * 1000.0], [0.0, SCALE]),
        (softsign, [-1000.0 / 1001.0, 1000.0 / 1001.0], [1.0 / 1001.0**2, 1.0 / 1001.0**2]),
        (erf, [-1.0, 1.0], [0.0, 0.0]),
        (erfc, [2.0, 0.0], [0.0, 0.0]),
    ],
)
def test_saturating_functions_at_1000(fn: Callable[[Tensor], Tensor], values: list[float], grads: list[float],
                                      dtype: Any) -> None:
    y, g = value_and_grad(fn, [-1000.0, 1000.0], dtype)
    assert y.dtype == dtype and g.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(y, values, rtol=rtol, atol=0.0)
    np.testing.assert_allclose(g, grads, rtol=rtol, atol=0.0)


# --------------------------------------------------------------------------
# softmax, log_softmax and softmin: dims, 0-d tensors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_of_a_0d_tensor_is_one_with_zero_gradient(dim: int) -> None:
    for fn, value in [(lambda t: t.softmax(dim), 1.0), (lambda t: t.log_softmax(dim), 0.0)]:
        x = Tensor(np.array(1.5), requires_grad=True)
        y = fn(x)
        y.backward()
        assert y.shape == () and y.item() == value and x.grad.item() == 0.0


def test_softmax_dims_default_to_the_last() -> None:
    x = np.array([[[0.0, 1.0], [2.0, 4.0]]])
    np.testing.assert_allclose(Tensor(x).softmax().data, np_softmax(x, -1), rtol=1e-15)
    np.testing.assert_allclose(softmin(Tensor(x)).data, np_softmax(-x, -1), rtol=1e-15)
    np.testing.assert_allclose(F.log_softmax(Tensor(x), 1).data, x - np.log(np.exp(x).sum(axis=1, keepdims=True)),
                               rtol=1e-15)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_dim_errors(op: str) -> None:
    with pytest.raises(OpError, match=rf"{op}: dim 1 is out of range for a tensor with 0 dimensions \(expected -1 to 0\)"):
        getattr(Tensor(np.array(1.0)), op)(1)
    with pytest.raises(OpError, match=rf"{op}: dim -3 is out of range for a tensor with 2 dimensions"):
        getattr(Tensor(np.zeros((2, 2))), op)(-3)
    with pytest.raises(TypeError, match=rf"{op}: got both dim=0 and axis=1"):
        getattr(Tensor(np.zeros((2, 2))), op)(0, axis=1)
    with pytest.raises(TypeError, match=rf"{op}: dim must be an int, got \(0, 1\)"):
        getattr(Tensor(np.zeros((2, 2))), op)((0, 1))


# --------------------------------------------------------------------------
# normalize
# --------------------------------------------------------------------------


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_normalize_of_a_zero_slice_has_gradient_one_over_eps(p: float) -> None:
    """Row 0 is all zeros: normalize gives 0 and d out_00 / d x_00 = 1 / eps = 1e12, as torch's; row 1 is a unit row."""
    x = Tensor(np.array([[0.0, 0.0], [0.6, -0.8]]), requires_grad=True)
    y = normalize(x, p=p, dim=1)
    np.testing.assert_array_equal(y.data[0], [0.0, 0.0])
    y[0, 0].backward()
    np.testing.assert_array_equal(x.grad.data, [[1e12, 0.0], [0.0, 0.0]])


def test_normalize_over_a_tuple_of_dims() -> None:
    x = np.arange(1.0, 13.0).reshape(2, 3, 2)
    np.testing.assert_allclose(normalize(Tensor(x), dim=(1, 2)).data,
                               x / np.sqrt((x * x).sum(axis=(1, 2), keepdims=True)), rtol=1e-15)


# --------------------------------------------------------------------------
# names: nn.functional, aliases, methods that torch's Tensor has (and only those)
# --------------------------------------------------------------------------

FUNCTIONAL = [
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("elu", {"alpha": 0.5}), ("celu", {"alpha": 2.0}),
    ("selu", {}), ("relu6", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("hardsigmoid", {}),
    ("hardswish", {}), ("softsign", {}), ("softplus", {"beta": 2.0, "threshold": 1.0}), ("softmin", {"dim": 0}),
    ("normalize", {"p": 1.0, "dim": 0}), ("relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
]


@pytest.mark.parametrize("name, params", FUNCTIONAL)
def test_functional_names_are_the_ops(name: str, params: dict[str, Any]) -> None:
    x = Tensor(np.array([[-4.0, -0.7], [0.3, 5.0]]))
    np.testing.assert_array_equal(getattr(F, name)(x, **params).data, getattr(activations, name)(x, **params).data)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "silu", "mish", "elu", "celu", "selu", "relu6", "hardtanh",
                                  "hardsigmoid", "hardswish"])
def test_functional_refuses_inplace(name: str) -> None:
    with pytest.raises(OpError, match=rf"{name}: inplace=True is not supported"):
        getattr(F, name)(Tensor(np.zeros(2)), inplace=True)


def test_swish_is_silu_and_torch_only_names_stay_off_the_tensor() -> None:
    assert swish is silu
    for name in ["gelu", "silu", "elu", "selu", "mish", "hardswish", "softmin", "normalize", "quick_gelu"]:
        assert not hasattr(Tensor, name), name  # torch.Tensor has no such method either
    assert not hasattr(F, "quick_gelu") and not hasattr(F, "swish")  # nor torch.nn.functional such functions


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: gelu(x, "erf"), r"gelu: approximate must be 'none' or 'tanh', got 'erf'"),
        (lambda x: hardtanh(x, 1.0, -1.0), r"hardtanh: min_val \(1.0\) cannot be greater than max_val \(-1.0\)"),
        (lambda x: celu(x, 0.0), r"celu: alpha cannot be 0"),
        (lambda x: softplus(x, beta=0.0), r"softplus: beta must be nonzero"),
        (lambda x: normalize(x, p=0.0), r"normalize: p must be positive \(or inf\), got 0.0"),
        (lambda x: normalize(x, dim=2), r"normalize: axis 2 is out of range for a tensor with 2 dimensions"),
    ],
)
def test_bad_parameters_are_named(call: Callable[[Tensor], Tensor], message: str) -> None:
    with pytest.raises(OpError, match=message):
        call(Tensor(np.zeros((2, 2))))
