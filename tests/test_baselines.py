"""Baselines: the independent-pixel Bernoulli model and PCA, checked against closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vae.vae.baselines import PCA, IndependentBernoulli, per_example_squared_error


def test_bernoulli_fit_by_hand() -> None:
    x = np.array([[1, 0], [1, 1], [0, 0]], dtype=np.float32)
    model = IndependentBernoulli(alpha=1.0).fit(x)
    # p = (counts + 1) / (3 + 2) = [3/5, 2/5]
    np.testing.assert_allclose(model.probs, [0.6, 0.4], rtol=1e-15)
    ll = model.log_likelihood(np.array([[1, 0], [0, 1]]))
    np.testing.assert_allclose(ll, [np.log(0.6) + np.log(0.6), np.log(0.4) + np.log(0.4)], rtol=1e-14)


def test_bernoulli_smoothing_never_gives_log_zero() -> None:
    train = np.zeros((1000, 3))
    ll = IndependentBernoulli(alpha=0.5).fit(train).log_likelihood(np.ones((1, 3)))
    # each pixel: p = 0.5 / 1001, so log p(x) = 3 log(0.5 / 1001)
    np.testing.assert_allclose(ll, [3 * np.log(0.5 / 1001)], rtol=1e-14)


@given(st.integers(1, 5), st.integers(0, 2**31 - 1), st.floats(0.01, 3.0))
def test_bernoulli_is_a_normalised_distribution(d: int, seed: int, alpha: float) -> None:
    train = np.random.default_rng(seed).integers(0, 2, (7, d))
    model = IndependentBernoulli(alpha).fit(train)
    every_binary_vector = np.array(list(itertools.product([0, 1], repeat=d)))
    assert np.exp(model.log_likelihood(every_binary_vector)).sum() == pytest.approx(1.0, rel=1e-12)


def test_bernoulli_bad_input() -> None:
    with pytest.raises(ValueError, match="IndependentBernoulli: alpha must be > 0"):
        IndependentBernoulli(alpha=0.0)
    with pytest.raises(ValueError, match=r"IndependentBernoulli.fit: pixels must lie in \[0, 1\], got range \[0.0, 2.0\]"):
        IndependentBernoulli().fit(np.array([[0.0, 2.0]]))
    with pytest.raises(RuntimeError, match="call fit first"):
        IndependentBernoulli().log_likelihood(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"fitted on 2 features, got an array of shape \(1, 3\)"):
        IndependentBernoulli().fit(np.zeros((2, 2))).log_likelihood(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"expected a 2-D numeric array \(examples, features\), got shape \(4,\)"):
        IndependentBernoulli().fit(np.zeros(4))


def test_pca_error_is_the_discarded_variance() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    # Independent route: eigenvalues of the scatter matrix of the centred data.
    centred = x - x.mean(axis=0)
    eigenvalues = np.sort(np.linalg.eigvalsh(centred.T @ centred))[::-1]
    for k in range(1, 7):
        total = PCA(k).fit(x).reconstruction_error(x).sum()
        assert total == pytest.approx(eigenvalues[k:].sum(), rel=1e-9, abs=1e-9)


def test_pca_beats_random_subspaces_and_has_orthonormal_components() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    pca = PCA(2).fit(x)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(2), atol=1e-12)
    best = pca.reconstruction_error(x).sum()
    centred = x - x.mean(axis=0)
    for _ in range(20):
        basis, _ = np.linalg.qr(rng.normal(size=(5, 2)))
        assert best <= ((centred - centred @ basis @ basis.T) ** 2).sum()


def test_pca_bad_input() -> None:
    with pytest.raises(ValueError, match="PCA: n_components must be a positive int, got 0"):
        PCA(0)
    with pytest.raises(ValueError, match=r"PCA.fit: n_components=4 exceeds min\(n, d\) for data of shape \(3, 5\)"):
        PCA(4).fit(np.zeros((3, 5)))
    with pytest.raises(RuntimeError, match="PCA.transform: call fit first"):
        PCA(1).transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="PCA: n_components must be a positive int, got True"):
        PCA(True)
    with pytest.raises(ValueError, match=r"per_example_squared_error: shapes differ: \(2, 3\) and \(2, 2\)"):
        per_example_squared_error(np.zeros((2, 3)), np.zeros((2, 2)))


def test_per_example_squared_error_sums_each_row() -> None:
    x = np.array([[1.0, 2.0], [0.0, 0.0]], dtype=np.float32)
    x_hat = np.array([[0.0, 4.0], [3.0, 0.0]])
    error = per_example_squared_error(x, x_hat)
    np.testing.assert_array_equal(error, [1.0 + 4.0, 9.0])
    assert error.dtype == np.float64
