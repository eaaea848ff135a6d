"""The toy data of the origin notebook, and minibatching.

``gaussian_mixture`` draws the notebook's four 2-D Gaussian clusters;
``minibatches`` and ``train_val_split`` cut arrays into batches and splits.
All randomness goes through a ``numpy.random.Generator`` that the caller
passes in (None: a fresh, unseeded one), so runs are reproducible by seeding it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_vae.validation import check_generator, check_int, is_int

# The notebook's four cluster centers (read-only).
MODE_CENTERS = np.array([(-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0)])
MODE_CENTERS.flags.writeable = False


def gaussian_mixture(
    n_samples: int = 2000,
    rng: np.random.Generator | None = None,
    centers: Sequence[Sequence[float]] | np.ndarray = MODE_CENTERS,
    std: float = 0.5,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Points from an equal mixture of isotropic Gaussians: ``x = center + std * N(0, I)``.

    As in the notebook, each of the ``k`` clusters gets ``n_samples // k``
    points (so the result has ``k * (n_samples // k)`` rows, 2000 for the
    defaults) and the clusters are stacked one after another in the order of
    ``centers``, not shuffled. Returns an array of shape ``(rows, dim)``.
    """
    where = "gaussian_mixture"
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] < 1:
        raise ValueError(f"{where}: centers must have shape (k, dim) with k, dim >= 1, got shape {centers.shape}")
    if not is_int(n_samples) or n_samples < len(centers):
        raise ValueError(f"{where}: n_samples must be an int >= the number of centers ({len(centers)}), got {n_samples!r}")
    if not std >= 0:
        raise ValueError(f"{where}: std must be >= 0, got {std!r}")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"{where}: dtype must be a float dtype, got {np.dtype(dtype)}")
    rng = check_generator(rng, where)
    per_cluster = n_samples // len(centers)
    clusters = [rng.standard_normal((per_cluster, centers.shape[1])) * std + center for center in centers]
    return np.vstack(clusters).astype(dtype)


def _check_arrays(arrays: tuple[Any, ...], where: str) -> list[np.ndarray]:
    """The arrays as ndarrays, after checking there is at least one and they have the same length."""
    if not arrays:
        raise ValueError(f"{where}: expected at least one array")
    arrays_ = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrays_):
        if a.ndim == 0:
            raise ValueError(f"{where}: array {i} is 0-dimensional; expected arrays with a leading sample axis")
    lengths = [len(a) for a in arrays_]
    if len(set(lengths)) > 1:
        raise ValueError(f"{where}: arrays must have the same length (first axis), got lengths {lengths}")
    return arrays_


def _one_or_tuple(parts: list[np.ndarray]) -> np.ndarray | tuple[np.ndarray, ...]:
    return parts[0] if len(parts) == 1 else tuple(parts)


def minibatches(
    *arrays: Any,
    batch_size: int,
    rng: np.random.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[np.ndarray | tuple[np.ndarray, ...]]:
    """One epoch of minibatches of the rows of ``arrays`` (all indexed by the same rows).

    With ``shuffle`` the rows are reordered by one ``rng.permutation(n)`` per
    call, as the notebook does each epoch; batches are then consecutive
    slices of ``batch_size`` rows, the last one shorter unless ``drop_last``.
    Yields an array when given one array, else a tuple. Without shuffling the
    batches are views of the inputs (and ``rng`` is not used).

    Arguments are checked when ``minibatches`` is called, not at the first batch.
    """
    where = "minibatches"
    arrays_ = _check_arrays(arrays, where)
    check_int(batch_size, "batch_size", where)
    n = len(arrays_[0])
    if shuffle:
        order = check_generator(rng, where).permutation(n)
        arrays_ = [a[order] for a in arrays_]
    stop = n - n % batch_size if drop_last else n
    return (_one_or_tuple([a[start:start + batch_size] for a in arrays_]) for start in range(0, stop, batch_size))


def train_val_split(
    *arrays: Any, val_fraction: float = 0.1, rng: np.random.Generator | None = None
) -> tuple[Any, Any]:
    """Split the rows of ``arrays`` at random into a training and a validation part.

    ``ceil(n * val_fraction)`` rows go to validation (as scikit-learn's
    ``train_test_split``), the rest to training; both must be non-empty.
    Returns ``(train, val)``: arrays when given one array, else tuples, e.g.
    ``(x_train, y_train), (x_val, y_val) = train_val_split(x, y, rng=rng)``.
    """
    where = "train_val_split"
    arrays_ = _check_arrays(arrays, where)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"{where}: val_fraction must be in (0, 1), got {val_fraction!r}")
    n = len(arrays_[0])
    n_val = int(np.ceil(n * val_fraction))
    if n_val >= n:
        raise ValueError(f"{where}: {n} rows with val_fraction={val_fraction} leave no training rows")
    order = check_generator(rng, where).permutation(n)
    val_rows, train_rows = order[:n_val], order[n_val:]
    return _one_or_tuple([a[train_rows] for a in arrays_]), _one_or_tuple([a[val_rows] for a in arrays_])
