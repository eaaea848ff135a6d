"""nn.init: gains, fans of any rank, the distributions' moments and bounds, in-place filling; torch comparisons.

Statistics use 200,000 draws. The sample mean of n draws with std s has standard error
s / sqrt(n); the sample std has relative standard error sqrt((kurtosis - 1) / n) / 2
(kurtosis 3 for a normal, 1.8 for a uniform). Tolerances are 5 standard errors, so a
wrong gain (e.g. sqrt(2) for 1, or fan_out for fan_in) fails by hundreds of them.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tinygrad_vae import nn
from tinygrad_vae.core import Tensor
from tinygrad_vae.nn import init

SHAPE = (200, 50, 4, 5)  # fan_in = 50 * 20 = 1000, fan_out = 200 * 20 = 4000, 200,000 entries
FAN_IN, FAN_OUT, N = 1000, 4000, 200_000
NORMAL, UNIFORM = 3.0, 1.8  # kurtosis


def empty(shape=SHAPE, dtype=np.float64) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype))


def check_moments(values: np.ndarray, std: float, kurtosis: float, mean: float = 0.0) -> None:
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(values.std() / std - 1) < 5 * math.sqrt((kurtosis - 1) / n) / 2


def check_uniform_bound(values: np.ndarray, bound: float) -> None:
    """Inside (-bound, bound) and reaching it: the largest |w| of n draws is above (1 - 10 / n) * bound
    (it falls short with probability (1 - 10 / n)^n < e^-10)."""
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > (1 - 10 / values.size) * bound


# ---- calculate_gain and fans --------------------------------------------------------------


@pytest.mark.parametrize("name, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("conv_transpose1d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)), ("leaky_relu", 0, math.sqrt(2)),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="calculate_gain: negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape, fans", [
    ((3, 7), (7, 3)), ((4, 2, 5), (10, 20)), ((6, 3, 2, 5), (30, 60)), ((2, 3, 1, 4, 5), (60, 40)),
])
def test_fans_of_any_rank(shape, fans):
    assert init._calculate_fan_in_and_fan_out(empty(shape)) == fans


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match=re.escape("fewer than 2 dimensions, got shape (5,)")):
        init.xavier_uniform_(empty((5,)))


# ---- the distributions ---------------------------------------------------------------------


def test_uniform_and_normal():
    rng = np.random.default_rng(0)
    check_uniform_bound(init.uniform_(empty(), -0.5, 0.5, generator=rng).data, 0.5)
    shifted = init.uniform_(empty(), 2.0, 3.0, generator=rng).data
    assert shifted.min() >= 2.0 and shifted.max() < 3.0
    check_moments(shifted, 1 / math.sqrt(12), UNIFORM, mean=2.5)
    check_moments(init.normal_(empty(), 1.5, 0.3, generator=rng).data, 0.3, NORMAL, mean=1.5)


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    rng = np.random.default_rng(1)
    std = gain * math.sqrt(2 / (FAN_IN + FAN_OUT))
    uniform = init.xavier_uniform_(empty(), gain=gain, generator=rng).data
    check_moments(uniform, std, UNIFORM)
    check_uniform_bound(uniform, math.sqrt(3) * std)
    check_moments(init.xavier_normal_(empty(), gain=gain, generator=rng).data, std, NORMAL)


@pytest.mark.parametrize("a, mode, nonlinearity, fan, gain", [
    (0, "fan_in", "leaky_relu", FAN_IN, math.sqrt(2)),
    (math.sqrt(5), "fan_in", "leaky_relu", FAN_IN, math.sqrt(1 / 3)),  # Linear's and Conv's default
    (0, "fan_out", "relu", FAN_OUT, math.sqrt(2)),
    (0.3, "fan_out", "tanh", FAN_OUT, 5 / 3),  # a only matters for leaky_relu
])
def test_kaiming(a, mode, nonlinearity, fan, gain):
    rng = np.random.default_rng(2)
    std = gain / math.sqrt(fan)
    uniform = init.kaiming_uniform_(empty(), a=a, mode=mode, nonlinearity=nonlinearity, generator=rng).data
    check_moments(uniform, std, UNIFORM)
    check_uniform_bound(uniform, math.sqrt(3) * std)
    normal = init.kaiming_normal_(empty(), a=a, mode=mode, nonlinearity=nonlinearity, generator=rng).data
    check_moments(normal, std, NORMAL)


def test_kaiming_uniform_sqrt5_bound_is_one_over_sqrt_fan_in():
    w = init.kaiming_uniform_(empty((300, 400)), a=math.sqrt(5), generator=np.random.default_rng(3)).data
    check_uniform_bound(w, 1 / math.sqrt(400))


# ---- filling in place ------------------------------------------------------------------------


def test_fills_in_place_keep_the_dtype_and_record_nothing():
    p = nn.Parameter(np.zeros((3, 4), dtype=np.float32))
    array = p.data
    assert init.kaiming_uniform_(p, generator=np.random.default_rng(4)) is p
    assert p.data is array and p.dtype == np.float32 and p.is_leaf and p.grad is None
    assert init.constant_(p, 0.25) is p and np.all(array == 0.25)
    assert init.ones_(p) is p and np.all(array == 1.0)
    assert init.zeros_(p) is p and not array.any()


@pytest.mark.parametrize("fill", [
    lambda t, g: init.uniform_(t, -1, 2, generator=g), lambda t, g: init.normal_(t, 0, 3, generator=g),
    lambda t, g: init.xavier_normal_(t, generator=g), lambda t, g: init.kaiming_normal_(t, generator=g),
])
def test_same_seed_same_values_in_both_dtypes(fill):
    w64 = fill(empty((3, 4)), np.random.default_rng(5)).data
    w32 = fill(empty((3, 4), np.float32), np.random.default_rng(5)).data
    assert np.array_equal(w32, w64.astype(np.float32)) and w64.any()
    assert not np.array_equal(fill(empty((3, 4)), np.random.default_rng(6)).data, w64)


def test_no_generator_draws_from_a_fresh_one():
    first, second = init.normal_(empty((4, 4))).data, init.normal_(empty((4, 4))).data
    assert first.std() > 0 and not np.array_equal(first, second)


def test_zero_element_tensors_are_left_alone():
    assert init.kaiming_uniform_(empty((0, 3))).shape == (0, 3)
    assert init.xavier_normal_(empty((3, 0, 2))).shape == (3, 0, 2)


def test_init_errors():
    with pytest.raises(TypeError, match="init.normal_: generator must be a numpy.random.Generator or None, got RandomState"):
        init.normal_(empty((2, 2)), generator=np.random.RandomState(0))
    with pytest.raises(TypeError, match="init.zeros_: expected a Tensor \\(e.g. a Parameter\\) to fill in place, got ndarray"):
        init.zeros_(np.zeros(2))
    with pytest.raises(ValueError, match="init.kaiming_normal_: mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(empty((2, 2)), mode="fan_avg")


# ---- against torch (float64) -------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("name, param", [
    ("linear", None), ("conv1d", None), ("conv3d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.3), ("leaky_relu", 2),
])
def test_gain_matches_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(3, 7), (4, 2, 5), (6, 3, 2, 5), (2, 3, 1, 4, 5)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(empty(shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(shape))


TORCH_FILLS = {
    "xavier_uniform_": {"gain": 1.7}, "xavier_normal_": {"gain": 0.6},
    "kaiming_uniform_": {"a": math.sqrt(5)}, "kaiming_normal_": {"mode": "fan_out", "nonlinearity": "relu"},
    "uniform_": {"a": -0.2, "b": 0.7}, "normal_": {"mean": 0.5, "std": 2.0},
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_FILLS))
def test_distributions_match_torch(name):
    """Same mean, std (5 standard errors) and range as torch's fill of a same-shaped tensor."""
    torch = pytest.importorskip("torch")
    kwargs = TORCH_FILLS[name]
    theirs = getattr(torch.nn.init, name)(torch.empty(SHAPE, dtype=torch.float64),
                                          generator=torch.Generator().manual_seed(0), **kwargs).numpy()
    ours = getattr(init, name)(empty(), generator=np.random.default_rng(0), **kwargs).data
    uniform = "uniform" in name
    check_moments(ours, theirs.std(), UNIFORM if uniform else NORMAL, mean=theirs.mean())
    if uniform:
        assert ours.min() == pytest.approx(theirs.min(), abs=1e-3 * theirs.std())
        assert ours.max() == pytest.approx(theirs.max(), abs=1e-3 * theirs.std())


@pytest.mark.torch
def test_linear_default_init_matches_torch():
    """Weight and bias spread as torch.nn.Linear's: the same std and the same bound 1/sqrt(in_features)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)  # torch.nn.Linear draws from torch's global generator
    theirs = torch.nn.Linear(500, 400, dtype=torch.float64)
    ours = nn.Linear(500, 400, dtype=np.float64, generator=np.random.default_rng(0))
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.bias.shape == tuple(theirs.bias.shape)
    bound = 1 / math.sqrt(500)
    for mine, reference in ((ours.weight.data, theirs.weight), (ours.bias.data, theirs.bias)):
        for values in (mine, reference.detach().numpy()):
            check_uniform_bound(values, bound)
            check_moments(values, bound / math.sqrt(3), UNIFORM)
