"""Tests of the sample-quality measures against hand-computed values and known data."""

import math

import numpy as np
import pytest

from tinygrad_vae.vae.metrics import mmd_rbf, mode_coverage

CENTERS = np.array([(-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0)])


def four_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """The notebook's data process, written out here: n/4 points around each centre, std 0.5."""
    return np.vstack([rng.normal(size=(n // 4, 2)) * 0.5 + c for c in CENTERS])


def test_mode_coverage_counts_points_inside_the_radius():
    samples = np.array([
        [2.0, 2.0],           # on a centre
        [2.0 + 1.5, 2.0],     # exactly on the radius: counts
        [-2.0, -2.0 - 1.6],   # just outside
        [0.0, 0.0],           # between the modes (distance 2*sqrt(2))
    ])
    assert mode_coverage(samples, CENTERS, radius=1.5) == 0.5
    assert mode_coverage(samples, CENTERS, radius=3.0) == 1.0


def test_mode_coverage_of_the_data_is_the_chi_square_probability():
    rng = np.random.default_rng(0)
    data = four_gaussians(20_000, rng)
    expected = 1.0 - math.exp(-4.5)  # P(||N(0, 0.25 I_2)|| <= 1.5) = P(chi^2_2 <= 9)
    # binomial standard error sqrt(p(1-p)/n) ~ 7e-4: allow 4 of them
    assert abs(mode_coverage(data, CENTERS) - expected) < 3e-3


def test_mmd_matches_a_hand_computed_example():
    x = np.array([[0.0, 0.0], [0.0, 1.0]])
    y = np.array([[3.0, 0.0], [3.0, 1.0]])
    # Squared distances: within each set 1; across: 9, 10, 10, 9.
    k_within = math.exp(-0.5)
    k_across_mean = (2 * math.exp(-4.5) + 2 * math.exp(-5.0)) / 4
    unbiased = k_within + k_within - 2 * k_across_mean
    biased = (2 + 2 * k_within) / 4 * 2 - 2 * k_across_mean
    assert mmd_rbf(x, y) == pytest.approx(unbiased, rel=1e-12)
    assert mmd_rbf(x, y, unbiased=False) == pytest.approx(biased, rel=1e-12)
    # bandwidth h scales the squared distance by 1/(2 h^2): with h = 2 the within-set kernel is exp(-1/8)
    k_within_h2 = math.exp(-1 / 8)
    k_across_h2 = (2 * math.exp(-9 / 8) + 2 * math.exp(-10 / 8)) / 4
    assert mmd_rbf(x, y, bandwidth=2.0) == pytest.approx(2 * k_within_h2 - 2 * k_across_h2, rel=1e-12)


def test_mmd_blocks_agree_with_a_direct_double_sum():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(1500, 3)), rng.normal(size=(1100, 3)) + 0.3  # more rows than one block

    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / 2.0)

    direct = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    assert mmd_rbf(x, y, unbiased=False) == pytest.approx(direct, rel=1e-10)


def test_mmd_of_the_data_against_fresh_data_is_near_zero_and_a_shift_is_not():
    rng = np.random.default_rng(2)
    data, fresh = four_gaussians(2000, rng), four_gaussians(2000, rng)
    same = mmd_rbf(data, fresh)
    # Sampling noise of the U-statistic, a few 1e-4; slightly negative on average here because
    # both sets have exactly n/4 points per mode (less spread than i.i.d. draws from the mixture).
    assert abs(same) < 1e-3
    assert mmd_rbf(data, data, unbiased=False) == pytest.approx(0.0, abs=1e-12)
    shifted = mmd_rbf(data, fresh + np.array([0.5, 0.0]))
    assert shifted > 20 * max(abs(same), 1e-4)


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match=r"mmd_rbf: x has 2 dimensions but y has 3"):
        mmd_rbf(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"mmd_rbf: needs at least 2 samples in each set, got 1 and 4"):
        mmd_rbf(np.zeros((1, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"mmd_rbf: bandwidth must be positive, got 0"):
        mmd_rbf(np.zeros((4, 2)), np.zeros((4, 2)), bandwidth=0)
    with pytest.raises(ValueError, match=r"mode_coverage: samples must have shape \(n, d\), got shape \(5,\)"):
        mode_coverage(np.zeros(5), CENTERS)
    with pytest.raises(ValueError, match=r"mode_coverage: samples contains NaN or inf"):
        mode_coverage(np.full((3, 2), np.nan), CENTERS)
    with pytest.raises(ValueError, match=r"mode_coverage: samples have 3 dimensions but centers have 2"):
        mode_coverage(np.zeros((3, 3)), CENTERS)
