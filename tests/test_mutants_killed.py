"""Tests for mistakes that benchmarks/mutation_check.py plants and the rest of the suite let through.

Each test names the mistake it catches, and fails with that mistake in place.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_vae import GradcheckError, Tensor, gradcheck
from tinygrad_vae.core import Function
from tinygrad_vae.vae.model import VAE


def test_vae_loss_weights_the_kl_term_by_beta() -> None:
    """total = recon + beta * kl, each recomputed here in NumPy from the encoder's and decoder's outputs
    (a loss that dropped beta would give recon + kl)."""
    model = VAE(3, hidden_dims=(4,), latent_dim=2, beta=0.25, rng=np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    x, eps = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    total, recon, kl = model.loss(x, eps=eps)
    mu, log_var = (t.data for t in model.encode(x))
    x_hat = model.decode(mu + eps * np.exp(0.5 * log_var)).data
    expected_recon = np.mean(np.sum((x_hat - x) ** 2, axis=-1))  # decoder variance 0.5: the summed squared error
    expected_kl = np.mean(np.sum(0.5 * (mu**2 + np.exp(log_var) - 1.0 - log_var), axis=-1))
    assert expected_kl > 1e-5 * expected_recon  # far more than rtol 1e-12: kl and beta * kl differ visibly
    np.testing.assert_allclose([recon.item(), kl.item()], [expected_recon, expected_kl], rtol=1e-12)
    np.testing.assert_allclose(total.item(), expected_recon + 0.25 * expected_kl, rtol=1e-12)


class ExpOnePercentHigh(Function):
    """exp with a rule 1% too large: ten times gradcheck's default relative tolerance of 1e-3."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * out * 1.01,)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_default_tolerance_catches_a_one_percent_error(fast_mode: bool) -> None:
    """A loosened tolerance (rtol 0.1 instead of 1e-3) would let this rule pass."""
    with pytest.raises(GradcheckError):
        gradcheck(ExpOnePercentHigh.apply, [np.array([0.5, 1.0, 2.0])], fast_mode=fast_mode)
