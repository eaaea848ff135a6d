"""Scaled dot-product attention with torch.nn.functional's signature, as a composite of the ops.

    attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(E) by default

for query (..., L, E), key (..., S, E) and value (..., S, Ev); the batch axes broadcast.

Masks, as torch's: a bool ``attn_mask`` says which keys each query may attend to (True = attend);
a float one is added to the scores; ``is_causal`` lets query i attend to keys j <= i (aligned at the
top left when L != S, as torch). A row whose keys are all masked (every score -inf) returns 0, with
gradient 0, which is what torch returns (its softmax over such a row would otherwise be 0/0 = NaN).

Where we differ from torch: ``dropout_p > 0`` is refused. torch draws that dropout from its global
generator and its signature takes no generator, while this library draws randomness only from a
``numpy.random.Generator`` passed by the caller.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, unwrap
from tinygrad_vae.ops.activations import softmax
from tinygrad_vae.ops.elementwise import where
from tinygrad_vae.ops.linalg import matmul

OP = "scaled_dot_product_attention"


def _check_shapes(query: Tensor, key: Tensor, value: Tensor) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2:
            raise OpError(f"{OP}: {name} must have at least 2 axes (..., length, features), got shape {t.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise OpError(f"{OP}: query {query.shape} and key {key.shape} must have the same feature size (last axis)")
    if key.shape[-2] != value.shape[-2]:
        raise OpError(f"{OP}: key {key.shape} and value {value.shape} must have the same length (axis -2)")


def _repeat_heads(query: Tensor, kv: Tensor, name: str) -> Tensor:
    """enable_gqa: each of key/value's heads (axis -3) repeated for its group of query heads, as torch's
    ``repeat_interleave``."""
    if query.ndim < 3 or kv.ndim < 3 or query.shape[-3] % kv.shape[-3]:
        raise OpError(f"{OP}: enable_gqa needs a head axis (-3) whose length in query {query.shape} is a "
                      f"multiple of its length in {name} {kv.shape}")
    heads = np.repeat(np.arange(kv.shape[-3]), query.shape[-3] // kv.shape[-3])
    return kv[(Ellipsis, heads, slice(None), slice(None))]


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query key^T * scale + mask) value over the keys (see the module docstring for the masks).

    ``attn_mask`` broadcasts to (..., L, S): bool (True = attend) or float (added to the scores; a
    Tensor is differentiated, an array is a constant). ``enable_gqa`` repeats key and value heads
    (axis -3) to match the query's, as torch's grouped-query attention.
    """
    if dropout_p != 0.0:
        raise OpError(f"{OP}: dropout_p={dropout_p} is not supported: torch's signature has no generator "
                      f"argument, and randomness here comes only from a numpy.random.Generator passed by the caller")
    _check_shapes(query, key, value)
    if enable_gqa and query.shape[-3:-2] != key.shape[-3:-2]:
        key, value = _repeat_heads(query, key, "key"), _repeat_heads(query, value, "value")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = matmul(query, key, transpose_b=True) * scale
    if is_causal:
        if attn_mask is not None:
            raise OpError(f"{OP}: give attn_mask or is_causal=True, not both (as torch)")
        attn_mask = np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if attn_mask is not None:
        mask = unwrap(attn_mask)
        try:
            fits = np.broadcast_shapes(np.shape(mask), scores.shape) == scores.shape
        except ValueError:
            fits = False
        if not fits:
            raise OpError(f"{OP}: attn_mask of shape {np.shape(mask)} must broadcast to the scores' shape "
                          f"{scores.shape} (..., L, S)")
        if np.asarray(mask).dtype == np.bool_:
            scores = where(mask, scores, -np.inf)
        else:
            scores = scores + (attn_mask if isinstance(attn_mask, Tensor) else np.asarray(mask, dtype=scores.dtype))
    dead = np.isneginf(scores.data).all(axis=-1, keepdims=True)
    if not tracing.any_of(dead):
        return matmul(softmax(scores, -1), value)
    # Rows with nothing to attend to: scores of 0 keep the softmax finite, and its weights are then zeroed.
    weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
    return matmul(weights, value)


__all__ = ["scaled_dot_product_attention"]
