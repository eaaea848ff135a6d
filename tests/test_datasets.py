"""Data loaders: the IDX reader on files written here byte by byte, MNIST from a folder, and the digits split."""

from __future__ import annotations

import builtins
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae.data import MODE_CENTERS
from tinygrad_vae.vae.datasets import (
    DIGITS_TEST_SIZE,
    DatasetError,
    binarize,
    load_dataset,
    load_digits,
    load_mixture,
    load_mnist,
    read_idx,
)


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file written by hand from the spec: magic 0,0,type,ndim; big-endian uint32 dims; big-endian data."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    return header + array.astype(big_endian).tobytes()


@pytest.mark.parametrize(
    "type_code, dtype",
    [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
def test_read_idx_every_element_type(tmp_path: Path, type_code: int, dtype: type) -> None:
    array = (np.arange(2 * 3 * 4) * 3 - 7).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.abs(array)
    array = array.astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(array, type_code))
    out = read_idx(path)
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, array)


def test_read_idx_reads_a_known_byte_string(tmp_path: Path) -> None:
    # 2 labels, values 7 and 200: written out literally, not through the helper.
    path = tmp_path / "labels"
    path.write_bytes(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x02" + b"\x07\xc8")
    np.testing.assert_array_equal(read_idx(path), np.array([7, 200], dtype=np.uint8))


def test_read_idx_gzipped(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "a-idx2-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(array, 0x08)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "not_idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(DatasetError, match=r"read_idx: .*not_idx is not an IDX file: magic number 0x89504e47"):
        read_idx(path)


def test_read_idx_unknown_type_code(tmp_path: Path) -> None:
    path = tmp_path / "odd"
    path.write_bytes(b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DatasetError, match="not an IDX file: magic number 0x00000a01"):
        read_idx(path)


def test_read_idx_truncated_data(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(np.zeros((4, 5), np.uint8), 0x08)[:-3])
    with pytest.raises(DatasetError, match=r"short is truncated: header says shape \(4, 5\) of u1 \(20 data bytes\), found 17"):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "header"
    path.write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02")
    with pytest.raises(DatasetError, match="truncated: 8 bytes, the header alone needs 16"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="truncated: 2 bytes, shorter than the 4-byte magic number"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(3, np.int16), 0x0B) + b"\x00\x01")
    with pytest.raises(DatasetError, match=r"longer than its header says: header says shape \(3,\) of i2 \(6 data bytes\), found 8"):
        read_idx(path)


def test_read_idx_missing_file_and_corrupt_gzip(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="read_idx: no such file: .*nope"):
        read_idx(tmp_path / "nope")
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8), 0x08))[:-10])
    with pytest.raises(DatasetError, match="read_idx: cannot read .*broken.gz"):
        read_idx(path)


def write_mnist(folder: Path, n_train: int = 6, n_test: int = 4, size: tuple[int, int] = (5, 3), gz: bool = False) -> dict:
    """A tiny MNIST-format folder with random pixels; returns the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, *size), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, *size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array, 0x08)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist(tmp_path: Path, gz: bool) -> None:
    arrays = write_mnist(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    assert data.image_shape == (5, 3)
    assert data.x_train.shape == (6, 15) and data.x_test.shape == (4, 15)
    assert data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[2], arrays["train-images-idx3-ubyte"][2].ravel() / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0


def test_load_mnist_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="load_mnist: data directory .*absent does not exist"):
        load_mnist(tmp_path / "absent")
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"load_mnist: t10k-labels-idx1-ubyte\[.gz\] not found in"):
        load_mnist(tmp_path)


def test_load_mnist_label_count_mismatch(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8), 0x08))
    with pytest.raises(DatasetError, match=r"train has 6 images but labels of shape \(5,\); expected \(6,\)"):
        load_mnist(tmp_path)


def test_load_mnist_images_must_be_3d_bytes(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((4, 15), np.uint8), 0x08))
    with pytest.raises(DatasetError, match=r"test images must be a 3-D uint8 IDX array .* got shape \(4, 15\)"):
        load_mnist(tmp_path)


def test_load_digits_split_is_fixed_and_scaled() -> None:
    from sklearn.datasets import load_digits as sklearn_digits

    data = load_digits()
    assert data.x_train.shape == (1797 - DIGITS_TEST_SIZE, 64) and data.x_test.shape == (DIGITS_TEST_SIZE, 64)
    assert data.image_shape == (8, 8)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    # train and test are a partition of the original images (no image lost, none in both)
    raw = sklearn_digits()
    original = np.sort((raw.data / 16.0).astype(np.float32).view("V256").ravel())
    ours = np.sort(np.concatenate([data.x_train, data.x_test]).view("V256").ravel())
    assert np.array_equal(original, ours)
    # the split does not depend on any global state
    again = load_digits()
    np.testing.assert_array_equal(again.y_test, data.y_test)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert set(np.unique(data.y_test)) == set(range(10))


def test_load_digits_without_sklearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_sklearn(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(DatasetError, match=r"scikit-learn is not installed.*'datasets' extra: pip install 'tinygrad_vae\[datasets\]'"):
        load_digits()


def test_binarize() -> None:
    x = np.array([[0.0, 0.5, 0.51, 1.0]], dtype=np.float32)
    out = binarize(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 1.0, 1.0]])
    assert out.dtype == np.float32


def test_load_mixture_is_fixed_and_labelled() -> None:
    data = load_mixture()
    assert data.x_train.shape == (2000, 2) and data.x_test.shape == (1000, 2)
    assert data.image_shape is None
    np.testing.assert_array_equal(load_mixture().x_test, data.x_test)
    assert not np.array_equal(data.x_train[:1000], data.x_test)  # test points are fresh draws
    # each label's points sit around its cluster centre (std 0.5, so the mean of 250 is within ~0.1)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        for label, centre in enumerate(MODE_CENTERS):
            np.testing.assert_allclose(x[y == label].mean(axis=0), centre, atol=0.15)


def test_load_dataset_dispatch_and_errors(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    data = load_dataset("mnist", data_dir=tmp_path, binarize_pixels=True)
    assert set(np.unique(data.x_train)) <= {0.0, 1.0}
    np.testing.assert_array_equal(data.x_test, binarize(load_mnist(tmp_path).x_test))
    assert load_dataset("digits").x_test.shape == (DIGITS_TEST_SIZE, 64)
    with pytest.raises(DatasetError, match="unknown data set 'cifar'; expected one of mixture, digits, mnist"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="a data directory is needed for mnist, and only for mnist"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match="binarize applies to image data"):
        load_dataset("mixture", binarize_pixels=True)
