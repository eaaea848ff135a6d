r"""How good a trained VAE is, in numbers: nats per example and squared reconstruction error.

Each statistic is a mean over examples with its standard error, so two numbers
can be told apart from noise:

    mean = (1/n) sum_i v_i,    standard error = s / sqrt(n),   s^2 = 1/(n-1) sum_i (v_i - mean)^2.

``model_statistics`` measures the VAE on a set of examples:

- ``elbo``: the one-sample ELBO log p(x|z) - KL(q(z|x) || p(z)), z ~ q(z|x), in nats;
- ``log_likelihood``: the importance-weighted estimate with k samples (Burda et al. 2016),

      log p(x) ~ log (1/k) sum_{i=1..k} p(x, z_i) / q(z_i | x),   z_i ~ q(z | x),

  a lower bound in expectation that rises with k towards log p(x), so ELBO <= it <= log p(x) on average;
- ``squared_error``: sum_j (x_j - m_j)^2 with m the decoder mean at z = mu(x).

``baseline_statistics`` measures two models without latent variables the same way
(``baselines.IndependentBernoulli`` and ``baselines.PCA``), as yardsticks for image data.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_vae.core import no_grad
from tinygrad_vae.vae.baselines import PCA, IndependentBernoulli, per_example_squared_error
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.validation import check_generator, check_int

# model.log_likelihood holds k * batch rows of its widest intermediate at once: keep that near this many numbers.
LOG_LIKELIHOOD_NUMBERS = 8_000_000


def mean_and_standard_error(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error (sample std with ddof=1, over sqrt(n)); the error is NaN for one value."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"mean_and_standard_error: expected a non-empty 1-D array, got shape {values.shape}")
    error = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(error)


def _with_error(name: str, values: np.ndarray) -> dict[str, float]:
    """``{name: mean, name_se: standard error}``."""
    mean, error = mean_and_standard_error(values)
    return {name: mean, f"{name}_se": error}


@no_grad()
def model_statistics(
    model: VAE, x: np.ndarray, k: int = 1000, rng: np.random.Generator | None = None
) -> dict[str, float]:
    """``elbo``, ``log_likelihood`` (k importance samples) and ``squared_error`` of ``model`` on the rows of ``x``,
    each with its standard error under the same name plus ``_se``.

    The noise comes from ``rng`` (the ELBO's first, then the importance samples'; None: a fresh, unseeded
    generator).
    """
    k = check_int(k, "k", "model_statistics")
    rng = check_generator(rng, "model_statistics")
    batch_size = max(1, LOG_LIKELIHOOD_NUMBERS // (k * model.activation_width))
    reconstructions = model.decode(model.encode(x)[0]).data
    return {
        **_with_error("elbo", model.elbo(x, rng=rng)),
        **_with_error("log_likelihood", model.log_likelihood(x, k=k, rng=rng, batch_size=batch_size)),
        **_with_error("squared_error", per_example_squared_error(x, reconstructions)),
    }


def baseline_statistics(x_train: np.ndarray, x: np.ndarray, n_components: int) -> dict[str, float]:
    """The baselines fitted on ``x_train`` and measured on ``x`` (pixels in [0, 1]):

    ``baseline_bernoulli_log_likelihood`` (independent pixels, Laplace smoothing alpha = 1, in nats),
    ``baseline_pca_components`` (= ``n_components``) and ``baseline_pca_squared_error``, each mean with
    its ``_se``.
    """
    bernoulli = IndependentBernoulli(alpha=1.0).fit(x_train)
    pca = PCA(n_components).fit(x_train)
    return {
        **_with_error("baseline_bernoulli_log_likelihood", bernoulli.log_likelihood(x)),
        "baseline_pca_components": pca.n_components,
        **_with_error("baseline_pca_squared_error", pca.reconstruction_error(x)),
    }
