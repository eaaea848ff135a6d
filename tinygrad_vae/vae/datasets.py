"""The data sets the command line trains on: the notebook's 2-D mixture, scikit-learn's digits, MNIST files.

Nothing is downloaded. The digits come bundled with scikit-learn (the optional
``datasets`` extra: ``pip install 'tinygrad_vae[datasets]'``); MNIST (or
Fashion-MNIST, or anything else written in the IDX format) is read from files
the user already has on disk.

Every loader returns a :class:`Dataset` with a fixed train / test split:
examples as float rows (images flattened, pixels in [0, 1]), integer labels,
and for images the shape to draw them with.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_vae.data import MODE_CENTERS, gaussian_mixture

# The mixture data set is fixed too (the notebook's seed), whatever seed the model trains with.
MIXTURE_SEED = 42
MIXTURE_TRAIN_SIZE = 2000  # the notebook's
MIXTURE_TEST_SIZE = 1000
# The digits split is fixed so every run, test and README number sees the same test set.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 297  # 1,797 images -> 1,500 train / 297 test


class DatasetError(ValueError):
    """A data set cannot be loaded; the message names the file and what was wrong with it."""


@dataclass(frozen=True)
class Dataset:
    """Examples as rows and their labels, split into train and test.

    For images ``x_train`` has shape ``(n_train, height * width)`` with pixels
    in [0, 1], and ``image_shape`` is ``(height, width)``, for drawing; for
    other data ``image_shape`` is None.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int] | None = None

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]


def load_mixture(dtype: np.dtype | type = np.float32) -> Dataset:
    """The notebook's four 2-D Gaussian clusters: 2,000 training and 1,000 test points, labelled by cluster.

    Both are drawn from ``numpy.random.default_rng(42)`` (train first), so the
    data set is the same for every run.
    """
    rng = np.random.default_rng(MIXTURE_SEED)
    parts = []
    for n in (MIXTURE_TRAIN_SIZE, MIXTURE_TEST_SIZE):
        # gaussian_mixture stacks the clusters in the order of MODE_CENTERS, n // 4 points each
        labels = np.repeat(np.arange(len(MODE_CENTERS)), n // len(MODE_CENTERS))
        parts += [gaussian_mixture(n, rng=rng, dtype=dtype), labels]
    return Dataset("mixture", *parts)


def binarize(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Pixels above ``threshold`` become 1, the rest 0 (same dtype as ``x``).

    A Bernoulli likelihood is a proper probability only for 0/1 data, so the
    log-likelihoods reported in nats are measured on binarized images.
    """
    return (x > threshold).astype(x.dtype)


def load_digits(dtype: np.dtype | type = np.float32) -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8x8 pixels, grey levels 0..16 scaled to [0, 1]).

    The split is fixed: a permutation drawn from ``numpy.random.default_rng(0)``
    puts 297 images in the test set and the other 1,500 in the training set.
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_load_digits
    except ImportError:
        raise DatasetError(
            "load_digits: scikit-learn is not installed; the digits data set needs the optional "
            "'datasets' extra: pip install 'tinygrad_vae[datasets]'"
        ) from None
    bunch = _sklearn_load_digits()
    images = (bunch.data / 16.0).astype(dtype)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    test, train = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    return Dataset("digits", images[train], labels[train], images[test], labels[test], (8, 8))


# --------------------------------------------------------------------------
# IDX: the file format of MNIST
# --------------------------------------------------------------------------

# The third byte of an IDX file's magic number names the element type (all big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in .gz."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"read_idx: no such file: {path}") from None
    except (OSError, EOFError) as error:  # unreadable, or a corrupt / truncated gzip stream
        raise DatasetError(f"read_idx: cannot read {path}: {error}") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into an array of its native shape.

    The format: a magic number of four bytes ``0, 0, type, ndim``; then
    ``ndim`` big-endian uint32 dimension sizes; then the elements, big-endian,
    row-major. MNIST images are type 0x08 (unsigned bytes) with ``ndim`` 3,
    labels are 0x08 with ``ndim`` 1. The element count must match the header
    exactly: a truncated file or trailing bytes raise :class:`DatasetError`.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DatasetError(f"read_idx: {path} is truncated: {len(raw)} bytes, shorter than the 4-byte magic number")
    zero0, zero1, type_code, ndim = raw[:4]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES:
        raise DatasetError(
            f"read_idx: {path} is not an IDX file: magic number 0x{raw[:4].hex()}, expected 0x0000TTNN "
            f"with type TT in {{{', '.join(f'{code:02x}' for code in _IDX_DTYPES)}}}"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetError(f"read_idx: {path} is truncated: {len(raw)} bytes, the header alone needs {header_size}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DatasetError(
            f"read_idx: {path} is {problem}: header says shape {shape} of {dtype.str[1:]} "
            f"({expected} data bytes), found {actual}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


# MNIST's own names, and the variant with a dot that some mirrors use.
_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_idx_file(data_dir: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")
    candidates = [data_dir / (name + suffix) for name in (stem, dotted) for suffix in ("", ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DatasetError(f"load_mnist: {stem}[.gz] not found in {data_dir}")


def load_mnist(data_dir: str | os.PathLike, dtype: np.dtype | type = np.float32) -> Dataset:
    """MNIST (or Fashion-MNIST) from the four IDX files in ``data_dir``, pixels scaled to [0, 1].

    Files may be gzipped. Uses MNIST's own split (60,000 train / 10,000 test).
    """
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise DatasetError(f"load_mnist: data directory {data_dir} is a file, not a folder "
                           f"(expected the folder holding the four IDX files)")
    if not data_dir.is_dir():
        raise DatasetError(f"load_mnist: data directory {data_dir} does not exist")
    paths = {key: _find_idx_file(data_dir, stem) for key, stem in _MNIST_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    images_shape = None
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetError(
                f"load_mnist: {split} images must be a 3-D uint8 IDX array (n, height, width), "
                f"got shape {images.shape} of {images.dtype}"
            )
        if len(images) == 0 or images.shape[1] == 0 or images.shape[2] == 0:
            raise DatasetError(f"load_mnist: {paths[f'{split}_images']} holds no pixels: shape {images.shape}; "
                               f"expected at least one image of at least 1x1 pixels")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetError(
                f"load_mnist: {split} has {len(images)} images but labels of shape {labels.shape}; expected ({len(images)},)"
            )
        outside = ~np.isin(labels, np.arange(10))  # any IDX type: negative, fractional or >9 labels
        if outside.any():
            raise DatasetError(f"load_mnist: {paths[f'{split}_labels']} has labels {np.unique(labels[outside])[:5].tolist()} "
                               f"({np.count_nonzero(outside)} of {len(labels)}); expected the digits 0-9")
        if images_shape is not None and images.shape[1:] != images_shape:
            raise DatasetError(f"load_mnist: train images are {images_shape} but test images are {images.shape[1:]}")
        images_shape = images.shape[1:]

    def flat(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / 255.0).astype(dtype)

    return Dataset(
        "mnist",
        flat(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        flat(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
        (int(images_shape[0]), int(images_shape[1])),
    )


DATASETS = ("mixture", "digits", "mnist")


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, binarize_pixels: bool = False) -> Dataset:
    """Load one of ``DATASETS`` by name; ``mnist`` needs ``data_dir``; ``binarize_pixels`` applies ``binarize`` to images."""
    if name not in DATASETS:
        raise DatasetError(f"load_dataset: unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    if (name == "mnist") != (data_dir is not None):
        raise DatasetError("load_dataset: a data directory is needed for mnist, and only for mnist")
    if name == "mixture":
        if binarize_pixels:
            raise DatasetError("load_dataset: binarize applies to image data (digits, mnist), not to the 2-D mixture")
        return load_mixture()
    data = load_digits() if name == "digits" else load_mnist(data_dir)
    if not binarize_pixels:
        return data
    return Dataset(data.name, binarize(data.x_train), data.y_train, binarize(data.x_test), data.y_test, data.image_shape)
