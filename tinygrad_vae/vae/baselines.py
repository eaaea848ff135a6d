"""Simple baselines to put a VAE's numbers in context (NumPy only).

- :class:`IndependentBernoulli`: every pixel its own coin, fitted by counting.
  Its log-likelihood (nats per example) is what a VAE's importance-weighted
  log-likelihood should beat: a VAE that cannot beat it has learned nothing
  about how pixels go together.
- :class:`PCA`: the best linear reconstruction with ``k`` components, the
  yardstick for a VAE's reconstruction error at the same latent size.
- :func:`per_example_squared_error`: the reconstruction error both PCA and
  the VAE are measured by.
"""

from __future__ import annotations

import numpy as np

from tinygrad_vae.validation import check_int


def _check_rows(x: np.ndarray, where: str, width: int | None = None) -> np.ndarray:
    """``x`` as a float64 matrix (examples in rows), with a clear error otherwise."""
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected a 2-D numeric array (examples, features), got shape {x.shape} of {x.dtype}")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{where}: the model was fitted on {width} features, got an array of shape {x.shape}")
    return x.astype(np.float64)


class IndependentBernoulli:
    """p(x) = prod_j p_j^x_j (1 - p_j)^(1 - x_j): each pixel an independent Bernoulli.

    ``fit`` sets each p_j to the smoothed mean of pixel j over the training set,

        p_j = (sum_i x_ij + alpha) / (n + 2 alpha),

    i.e. ``alpha`` pseudo-counts of both 0 and 1 (``alpha = 1`` is Laplace's rule).
    Smoothing keeps every p_j strictly inside (0, 1), so a pixel that was
    always 0 in training costs a finite penalty, not log 0 = -inf, when it is 1
    at test time.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha > 0:
            raise ValueError(f"IndependentBernoulli: alpha must be > 0 so no probability is 0 or 1, got {alpha}")
        self.alpha = float(alpha)
        self.probs: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> IndependentBernoulli:
        """Fit p_j on ``x`` (shape (n, d), values in [0, 1]); returns self."""
        x = _check_rows(x, "IndependentBernoulli.fit")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"IndependentBernoulli.fit: pixels must lie in [0, 1], got range [{x.min()}, {x.max()}]")
        self.probs = (x.sum(axis=0) + self.alpha) / (len(x) + 2 * self.alpha)
        return self

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """log p(x_i) in nats for each row: sum_j x_ij log p_j + (1 - x_ij) log(1 - p_j)."""
        if self.probs is None:
            raise RuntimeError("IndependentBernoulli.log_likelihood: call fit first")
        x = _check_rows(x, "IndependentBernoulli.log_likelihood", len(self.probs))
        return x @ np.log(self.probs) + (1 - x) @ np.log1p(-self.probs)


class PCA:
    """Principal component analysis by SVD of the centred data.

    With the top ``k`` right singular vectors V_k of (x - mean), a row is
    encoded as z = (x - mean) V_k and reconstructed as x_hat = mean + z V_k^T:
    the rank-k affine reconstruction with the smallest squared error.
    """

    def __init__(self, n_components: int) -> None:
        self.n_components = check_int(n_components, "n_components", "PCA")
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None  # (k, d), rows orthonormal

    def fit(self, x: np.ndarray) -> PCA:
        """Fit the mean and the top ``n_components`` directions on ``x`` (shape (n, d)); returns self."""
        x = _check_rows(x, "PCA.fit")
        if self.n_components > min(x.shape):
            raise ValueError(f"PCA.fit: n_components={self.n_components} exceeds min(n, d) for data of shape {x.shape}")
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[: self.n_components]
        return self

    def _fitted(self, where: str) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.components is None:
            raise RuntimeError(f"PCA.{where}: call fit first")
        return self.mean, self.components

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The codes z = (x - mean) V_k, shape (n, k)."""
        mean, components = self._fitted("transform")
        return (_check_rows(x, "PCA.transform", len(mean)) - mean) @ components.T

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """The reconstructions x_hat = mean + z V_k^T, shape (n, d)."""
        mean, components = self._fitted("inverse_transform")
        return _check_rows(z, "PCA.inverse_transform", len(components)) @ components + mean

    def reconstruction_error(self, x: np.ndarray) -> np.ndarray:
        """Squared error sum_j (x_ij - x_hat_ij)^2 per row."""
        return per_example_squared_error(x, self.inverse_transform(self.transform(x)))


def per_example_squared_error(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Per-row squared reconstruction error sum_j (x_ij - x_hat_ij)^2 (the same measure for PCA and the VAE).

    NumPy in, NumPy out, in float64; the op ``tinygrad_vae.ops.squared_error`` is its differentiable cousin.
    """
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"per_example_squared_error: shapes differ: {x.shape} and {x_hat.shape}")
    return ((x - x_hat) ** 2).sum(axis=1)
