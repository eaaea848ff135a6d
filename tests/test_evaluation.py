"""The evaluation statistics: means with standard errors, the model's numbers in nats, the baselines'."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_vae.vae.evaluation import baseline_statistics, mean_and_standard_error, model_statistics
from tinygrad_vae.vae.model import VAE


def binary_data(n: int, d: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, d)) < 0.3).astype(np.float32)


def test_mean_and_standard_error_by_hand() -> None:
    mean, error = mean_and_standard_error(np.array([1.0, 2.0, 3.0, 4.0]))
    # sample variance: (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3; standard error sqrt(5/3) / sqrt(4)
    assert mean == 2.5 and error == pytest.approx(math.sqrt(5 / 3) / 2, rel=1e-15)
    mean, error = mean_and_standard_error(np.array([7.0], dtype=np.float32))
    assert mean == 7.0 and math.isnan(error)
    with pytest.raises(ValueError, match=r"mean_and_standard_error: expected a non-empty 1-D array, got shape \(0,\)"):
        mean_and_standard_error(np.array([]))


def test_model_statistics_are_the_models_own_numbers_with_the_same_noise() -> None:
    x = binary_data(40, 6, seed=0)
    model = VAE(6, hidden_dims=(5,), latent_dim=2, likelihood="bernoulli", rng=np.random.default_rng(1),
                dtype=np.float64)
    stats = model_statistics(model, x, k=20, rng=np.random.default_rng(3))
    assert list(stats) == ["elbo", "elbo_se", "log_likelihood", "log_likelihood_se",
                           "squared_error", "squared_error_se"]
    # The same generator, in the same order: the ELBO's noise first, then the importance samples'.
    rng = np.random.default_rng(3)
    elbo, log_likelihood = model.elbo(x, rng=rng), model.log_likelihood(x, k=20, rng=rng)
    assert stats["elbo"] == pytest.approx(elbo.mean(), rel=1e-12)
    assert stats["elbo_se"] == pytest.approx(elbo.std(ddof=1) / math.sqrt(40), rel=1e-12)
    assert stats["log_likelihood"] == pytest.approx(log_likelihood.mean(), rel=1e-12)
    # The squared error is at z = mu(x), without noise.
    mu = model.encode(x)[0]
    error = ((x - model.decode(mu).data) ** 2).sum(axis=1)
    assert stats["squared_error"] == pytest.approx(error.mean(), rel=1e-12)
    assert stats["squared_error_se"] == pytest.approx(error.std(ddof=1) / math.sqrt(40), rel=1e-12)
    # A Bernoulli model of binary data: log-probabilities, so at most 0.
    assert stats["elbo"] < 0 and stats["log_likelihood"] < 0
    assert model_statistics(model, x, k=20, rng=np.random.default_rng(3)) == stats


def test_model_statistics_check_k() -> None:
    model = VAE(2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"model_statistics: k must be a positive int, got 0"):
        model_statistics(model, np.zeros((3, 2)), k=0)


def test_baseline_statistics_by_their_definitions() -> None:
    x_train, x_test = binary_data(60, 5, seed=1), binary_data(30, 5, seed=2)
    stats = baseline_statistics(x_train, x_test, n_components=2)
    assert list(stats) == ["baseline_bernoulli_log_likelihood", "baseline_bernoulli_log_likelihood_se",
                           "baseline_pca_components", "baseline_pca_squared_error", "baseline_pca_squared_error_se"]
    p = (x_train.sum(axis=0, dtype=np.float64) + 1.0) / (len(x_train) + 2.0)  # Laplace's rule
    log_likelihood = x_test @ np.log(p) + (1 - x_test) @ np.log(1 - p)
    assert stats["baseline_bernoulli_log_likelihood"] == pytest.approx(log_likelihood.mean(), rel=1e-12)
    assert stats["baseline_bernoulli_log_likelihood_se"] == pytest.approx(
        log_likelihood.std(ddof=1) / math.sqrt(30), rel=1e-12)
    assert stats["baseline_pca_components"] == 2
    # PCA's error on the training set is the variance it leaves out: the smallest 3 of 5 eigenvalues.
    on_train = baseline_statistics(x_train, x_train, n_components=2)
    centred = x_train.astype(np.float64) - x_train.mean(axis=0, dtype=np.float64)
    eigenvalues = np.sort(np.linalg.eigvalsh(centred.T @ centred))
    assert on_train["baseline_pca_squared_error"] * len(x_train) == pytest.approx(eigenvalues[:3].sum(), rel=1e-9)
