"""Toy data and batching: shapes, cluster statistics, determinism, coverage of every row, errors."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vae import data


def test_mode_centers_are_the_notebooks_and_read_only():
    assert np.array_equal(data.MODE_CENTERS, [(-2, -2), (-2, 2), (2, -2), (2, 2)])
    with pytest.raises(ValueError, match="read-only"):
        data.MODE_CENTERS[0, 0] = 5.0


def test_default_shape_and_dtype():
    x = data.gaussian_mixture(rng=np.random.default_rng(0))
    assert x.shape == (2000, 2) and x.dtype == np.float64
    assert data.gaussian_mixture(8, rng=np.random.default_rng(0), dtype=np.float32).dtype == np.float32


def test_rows_are_n_samples_rounded_down_to_a_multiple_of_the_clusters():
    assert data.gaussian_mixture(2003, rng=np.random.default_rng(0)).shape == (2000, 2)
    assert data.gaussian_mixture(7, rng=np.random.default_rng(0), centers=[(0, 0, 0), (1, 1, 1)]).shape == (6, 3)


def test_same_recipe_as_the_notebook():
    # The notebook: for each center in order, randn(n // 4, 2) * 0.5 + center, then vstack.
    expected_rng = np.random.default_rng(1)
    expected = np.vstack([expected_rng.standard_normal((250, 2)) * 0.5 + np.array(c) for c in data.MODE_CENTERS])
    assert np.array_equal(data.gaussian_mixture(1000, rng=np.random.default_rng(1)), expected)


def test_clusters_are_stacked_in_the_order_of_the_centers():
    # With std 0.1 the boundary between neighbouring clusters is 20 std from each center,
    # so every point is nearest to its own center.
    x = data.gaussian_mixture(400, rng=np.random.default_rng(2), std=0.1)
    nearest = np.argmin(((x[:, None, :] - data.MODE_CENTERS[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(nearest, np.repeat(np.arange(4), 100))


def test_cluster_means_and_stds():
    # 10,000 points per cluster and coordinate. The sample mean has standard error
    # 0.5 / sqrt(10^4) = 0.005, the sample std 0.5 / sqrt(2 * 10^4) = 0.0035; tolerances are 5 of them.
    n_per = 10_000
    x = data.gaussian_mixture(4 * n_per, rng=np.random.default_rng(3))
    for k, center in enumerate(data.MODE_CENTERS):
        cluster = x[k * n_per:(k + 1) * n_per]
        assert np.all(np.abs(cluster.mean(axis=0) - center) < 5 * 0.005)
        assert np.all(np.abs(cluster.std(axis=0) - 0.5) < 5 * 0.0035)
        assert abs(np.corrcoef(cluster.T)[0, 1]) < 5 / np.sqrt(n_per)  # independent coordinates


def test_custom_centers_and_std():
    centers = np.array([(10.0, 0.0, -1.0), (0.0, 5.0, 3.0)])
    x = data.gaussian_mixture(20_000, rng=np.random.default_rng(4), centers=centers, std=2.0)
    # standard errors: 2 / sqrt(10^4) = 0.02 for means, 2 / sqrt(2 * 10^4) = 0.014 for stds
    for k in range(2):
        cluster = x[k * 10_000:(k + 1) * 10_000]
        assert np.all(np.abs(cluster.mean(axis=0) - centers[k]) < 5 * 0.02)
        assert np.all(np.abs(cluster.std(axis=0) - 2.0) < 5 * 0.014)


def test_determinism_with_a_seeded_generator():
    a = data.gaussian_mixture(100, rng=np.random.default_rng(5))
    b = data.gaussian_mixture(100, rng=np.random.default_rng(5))
    c = data.gaussian_mixture(100, rng=np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_gaussian_mixture_errors():
    with pytest.raises(ValueError, match=re.escape("gaussian_mixture: n_samples must be an int >= the number of centers (4), got 3")):
        data.gaussian_mixture(3)
    with pytest.raises(ValueError, match="gaussian_mixture: n_samples must be an int >= the number of centers \\(4\\), got 10.5"):
        data.gaussian_mixture(10.5)
    with pytest.raises(ValueError, match=re.escape("gaussian_mixture: centers must have shape (k, dim) with k, dim >= 1, got shape (4,)")):
        data.gaussian_mixture(8, centers=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="gaussian_mixture: std must be >= 0, got -0.5"):
        data.gaussian_mixture(8, std=-0.5)
    with pytest.raises(TypeError, match="gaussian_mixture: dtype must be a float dtype, got int32"):
        data.gaussian_mixture(8, dtype=np.int32)
    with pytest.raises(TypeError, match="gaussian_mixture: rng must be a numpy.random.Generator or None, got int"):
        data.gaussian_mixture(8, rng=42)


# ---- minibatches ----------------------------------------------------------------------------


@given(n=st.integers(1, 200), batch_size=st.integers(1, 64), drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_row_exactly_once_per_epoch(n, batch_size, drop_last, seed):
    rows = np.arange(n)
    batches = list(data.minibatches(rows, batch_size=batch_size, rng=np.random.default_rng(seed), drop_last=drop_last))
    sizes = [len(b) for b in batches]
    full, rest = divmod(n, batch_size)
    assert sizes == [batch_size] * full + ([] if drop_last or rest == 0 else [rest])
    seen = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert len(np.unique(seen)) == len(seen)  # no row twice
    if not drop_last:
        assert np.array_equal(np.sort(seen), rows)  # every row


def test_shuffle_is_one_permutation_from_the_generator():
    x = np.arange(10) * 10
    batches = list(data.minibatches(x, batch_size=4, rng=np.random.default_rng(7)))
    order = np.random.default_rng(7).permutation(10)
    assert np.array_equal(np.concatenate(batches), x[order])


def test_consecutive_epochs_get_different_orders_and_seeds_repeat():
    x = np.arange(50)
    rng = np.random.default_rng(8)
    first = np.concatenate(list(data.minibatches(x, batch_size=16, rng=rng)))
    second = np.concatenate(list(data.minibatches(x, batch_size=16, rng=rng)))
    assert not np.array_equal(first, second)
    again = np.concatenate(list(data.minibatches(x, batch_size=16, rng=np.random.default_rng(8))))
    assert np.array_equal(first, again)


def test_several_arrays_stay_aligned():
    x = np.arange(30).reshape(15, 2)
    y = np.arange(15) * 2
    for xb, yb in data.minibatches(x, y, batch_size=4, rng=np.random.default_rng(9)):
        assert np.array_equal(xb[:, 0], yb)


def test_without_shuffle_batches_are_in_order_views():
    x = np.arange(10.0)
    batches = list(data.minibatches(x, batch_size=4, shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(np.shares_memory(b, x) for b in batches)
    assert [len(b) for b in data.minibatches(x, batch_size=4, shuffle=False, drop_last=True)] == [4, 4]


def test_notebook_epoch_batch_count():
    x = data.gaussian_mixture(rng=np.random.default_rng(10))
    sizes = [len(b) for b in data.minibatches(x, batch_size=64, rng=np.random.default_rng(11))]
    assert sizes == [64] * 31 + [16]


def test_minibatch_errors_are_raised_at_call_time():
    x = np.zeros(5)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=f"minibatches: batch_size must be a positive int, got {bad!r}"):
            data.minibatches(x, batch_size=bad)
    with pytest.raises(ValueError, match=re.escape("minibatches: arrays must have the same length (first axis), got lengths [5, 4]")):
        data.minibatches(x, np.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="minibatches: expected at least one array"):
        data.minibatches(batch_size=2)
    with pytest.raises(ValueError, match="minibatches: array 0 is 0-dimensional"):
        data.minibatches(np.float64(1.0), batch_size=2)
    with pytest.raises(TypeError, match="minibatches: rng must be a numpy.random.Generator or None, got RandomState"):
        data.minibatches(x, batch_size=2, rng=np.random.RandomState(0))


# ---- train_val_split ------------------------------------------------------------------------------


def test_split_sizes_partition_and_alignment():
    x = np.arange(200).reshape(100, 2)
    y = np.arange(100)
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x, y, val_fraction=0.25, rng=np.random.default_rng(12))
    assert x_train.shape == (75, 2) and x_val.shape == (25, 2)
    assert np.array_equal(x_train[:, 0], 2 * y_train) and np.array_equal(x_val[:, 0], 2 * y_val)
    assert np.array_equal(np.sort(np.concatenate([y_train, y_val])), y)


def test_split_of_one_array_and_rounding_up():
    train, val = data.train_val_split(np.arange(11), rng=np.random.default_rng(13))
    assert isinstance(train, np.ndarray) and len(val) == 2 and len(train) == 9  # ceil(1.1) = 2


def test_split_is_deterministic_with_a_seed():
    x = np.arange(40)
    a = data.train_val_split(x, rng=np.random.default_rng(14))
    b = data.train_val_split(x, rng=np.random.default_rng(14))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_split_errors():
    with pytest.raises(ValueError, match="train_val_split: val_fraction must be in \\(0, 1\\), got 1.0"):
        data.train_val_split(np.arange(10), val_fraction=1.0)
    with pytest.raises(ValueError, match="train_val_split: val_fraction must be in \\(0, 1\\), got 0"):
        data.train_val_split(np.arange(10), val_fraction=0)
    with pytest.raises(ValueError, match="train_val_split: 1 rows with val_fraction=0.5 leave no training rows"):
        data.train_val_split(np.arange(1), val_fraction=0.5)
    with pytest.raises(ValueError, match=re.escape("train_val_split: arrays must have the same length (first axis), got lengths [3, 2]")):
        data.train_val_split(np.arange(3), np.arange(2))
