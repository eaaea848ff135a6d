"""``Embedding`` and ``embedding``: a lookup table of vectors, indexed by integer tensors.

For indices of any shape S and a weight (num_embeddings, embedding_dim), the result has shape
S + (embedding_dim,): out[s] = weight[indices[s]]. The gradient scatters back to the rows
used, repeated indices adding up. The row ``padding_idx`` (when given) receives no gradient:
it is looked up as a constant.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.dtypes import get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.module import Module, Parameter
from tinygrad_vae.ops.creation import randn
from tinygrad_vae.ops.elementwise import where as select
from tinygrad_vae.validation import check_generator, check_int, is_int


def _indices(input: Any, num_embeddings: int, where: str) -> np.ndarray:
    """The index array of ``input`` (a Tensor, array or list of ints), each in [0, num_embeddings)."""
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got dtype {indices.dtype}")
    # a check of the values, which a compiled step runs on every replay
    tracing.fail_if((indices < 0) | (indices >= num_embeddings), functools.partial(_out_of_range, where,
                    num_embeddings), indices)
    return indices


def _out_of_range(where: str, num_embeddings: int, indices: np.ndarray) -> IndexError:
    bad = indices[(indices < 0) | (indices >= num_embeddings)]
    return IndexError(f"{where}: index {int(bad.flat[0])} is out of range for {num_embeddings} embeddings "
                      f"(expected 0 <= index < {num_embeddings})")


def _padding_index(padding_idx: Any, num_embeddings: int, where: str) -> int | None:
    """``padding_idx`` as a row in [0, num_embeddings); a negative one counts from the end, as torch."""
    if padding_idx is None:
        return None
    if not is_int(padding_idx) or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{where}: padding_idx must be an int in [-{num_embeddings}, {num_embeddings}), "
                         f"got {padding_idx!r}")
    return int(padding_idx) % num_embeddings


def _embedding(input: Any, weight: Tensor, padding_idx: int | None, where: str) -> Tensor:
    indices = _indices(input, weight.shape[0], where)
    rows = weight[indices]
    if padding_idx is None or not tracing.any_of(indices == padding_idx):
        return rows
    # the padding row as a constant: the same value, no gradient to it
    return select((indices == padding_idx)[..., None], weight.data[padding_idx], rows)


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """``weight[input]``: one row of ``weight`` (num_embeddings, embedding_dim) per index of ``input``.

    The row ``padding_idx`` receives no gradient. torch's ``max_norm`` (which renormalises rows of
    ``weight`` in place), ``scale_grad_by_freq`` and ``sparse`` are not taken.
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise OpError(f"embedding: weight must be a 2-D Tensor (num_embeddings, embedding_dim), "
                      f"got {getattr(weight, 'shape', type(weight).__name__)}")
    return _embedding(input, weight, _padding_index(padding_idx, weight.shape[0], "embedding"), "embedding")


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer indices.

    ``Embedding(num_embeddings, embedding_dim, padding_idx=None, *, generator=None, dtype=None)``:
    ``weight`` is drawn from N(0, 1) with ``generator`` (a ``numpy.random.Generator``; None: a
    fresh unseeded one, as there is no global random state); the row ``padding_idx`` starts at
    zero and receives no gradient. Indices must lie in [0, num_embeddings).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 generator: np.random.Generator | None = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = check_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = _padding_index(padding_idx, self.num_embeddings, "Embedding")
        rng = check_generator(generator, "Embedding", name="generator")
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        weight = randn(self.num_embeddings, self.embedding_dim, generator=rng, dtype=dtype).data
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, input: Any) -> Tensor:
        return _embedding(input, self.weight, self.padding_idx, "Embedding")

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
