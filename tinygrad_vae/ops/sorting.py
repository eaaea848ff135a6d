"""Sorting and selection: sort, argsort, topk, argmax, argmin.

The sorted values are differentiable: they are the input gathered at the sorting
indices, so the gradient scatters back to the source positions. Indices are
int64 tensors outside the graph. Ties keep their input order (a stable sort),
ascending and descending alike.

Module-level functions follow NumPy (``sort(x, axis=-1)`` returns values, ``argsort``
ascending, ``argmax(x, axis=None)`` of the flattened tensor); the Tensor methods follow
torch (``x.sort(dim, descending)`` returns (values, indices), ``x.topk(k)``).
"""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, wrap
from tinygrad_vae.ops.movement import Reshape
from tinygrad_vae.ops.reductions import ValuesIndices, gather_along, one_axis


def _sorting_indices(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """A stable argsort along ``axis``; descending sorts the reversed array and maps the positions back,
    so ties stay in input order without negating the values (which would break unsigned and bool data)."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    reversed_order = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return data.shape[axis] - 1 - np.flip(reversed_order, axis)


def _taken(x: Tensor, indices: np.ndarray, axis: int) -> Tensor:
    """``x`` gathered at ``indices`` along ``axis``: differentiable for float tensors, else outside the graph."""
    if x.dtype in FLOAT_DTYPES:
        return gather_along(x, indices, axis)
    return wrap(np.take_along_axis(x.data, indices, axis))


def _as_1d(x: Tensor) -> Tensor:
    """A 0-d tensor as 1-D (torch sorts it as one element); others as they are."""
    return Reshape.apply(x, shape=(1,)) if x.ndim == 0 else x


def sort_dim(x: Tensor, dim: int = -1, descending: bool = False) -> ValuesIndices:
    """torch.sort: (values, indices) along ``dim``."""
    flat = _as_1d(x)
    axis = one_axis(dim, x.ndim, "sort")
    indices = _sorting_indices(flat.data, axis, descending)
    values = _taken(flat, indices, axis)
    return ValuesIndices(Reshape.apply(values, shape=x.shape), wrap(indices.reshape(x.shape).astype(np.int64)))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """torch.topk: the k largest (or smallest) along ``dim``, as (values, indices), always in sorted order
    (torch leaves the order unspecified for sorted=False; sorted order is one it may give)."""
    flat = _as_1d(x)
    axis = one_axis(dim, x.ndim, "topk")
    n = flat.shape[axis]
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise OpError(f"topk: k must be an int in [0, {n}] for dim {dim} of shape {x.shape}, got {k!r}")
    indices = _sorting_indices(flat.data, axis, descending=largest)
    indices = np.take(indices, np.arange(k), axis=axis)
    values = _taken(flat, indices, axis)
    shape = x.shape if x.ndim == 0 else indices.shape
    return ValuesIndices(Reshape.apply(values, shape=shape), wrap(indices.reshape(shape).astype(np.int64)))


def argsort_dim(x: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
    """torch.argsort (stable)."""
    return sort_dim(x, dim, descending).indices


def _arg_extreme(x: Tensor, axis: int | None, keepdims: bool, largest: bool) -> Tensor:
    """np.argmax/np.argmin as an int64 tensor outside the graph; axis=None is the flattened tensor's index."""
    name = "argmax" if largest else "argmin"
    if x.numel() == 0:
        raise OpError(f"{name}: cannot take the {name} of an empty tensor of shape {x.shape}")
    find = np.argmax if largest else np.argmin
    if axis is None:
        index = find(x.data.reshape(-1))
        return wrap(np.asarray(index, dtype=np.int64).reshape((1,) * x.ndim if keepdims else ()))
    axis = one_axis(axis, x.ndim, name)
    data = x.data.reshape(1) if x.ndim == 0 else x.data
    index = find(data, axis=axis, keepdims=keepdims)
    return wrap(np.asarray(index, dtype=np.int64).reshape(x.shape if x.ndim == 0 else index.shape))


# --------------------------------------------------------------------------
# functional forms (NumPy's semantics)
# --------------------------------------------------------------------------


def sort(x: Tensor, axis: int | None = -1) -> Tensor:
    """np.sort: the sorted values (axis=None sorts the flattened tensor)."""
    if axis is None:
        return sort_dim(Reshape.apply(x, shape=(x.numel(),)), 0).values
    return sort_dim(x, axis).values


def argsort(x: Tensor, axis: int | None = -1) -> Tensor:
    """np.argsort (ascending, stable): int64 indices (axis=None: of the flattened tensor)."""
    if axis is None:
        return sort_dim(Reshape.apply(x, shape=(x.numel(),)), 0).indices
    return sort_dim(x, axis).indices


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """np.argmax: the index of the first maximum (of the flattened tensor when axis is None)."""
    return _arg_extreme(x, axis, keepdims, largest=True)


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """np.argmin: the index of the first minimum (of the flattened tensor when axis is None)."""
    return _arg_extreme(x, axis, keepdims, largest=False)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["argmax", "argmin", "argsort", "sort", "topk"]
