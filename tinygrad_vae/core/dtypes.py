"""The float dtypes a Tensor can have, the default one, and turning user data into arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core import tracing

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype given to Python scalars and lists of floats (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype given to Python scalars and lists of floats."""
    return _default_dtype


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """User data as an ndarray: arrays keep their dtype, Python floats and lists of floats get the default."""
    if tracing.is_traced(data):  # an array of a compiled step's trace
        return data if dtype is None else data.astype(dtype, copy=False)
    try:
        arr = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"Tensor: cannot make an array from this data: {error}") from None
    if not isinstance(data, (np.ndarray, np.generic)) and arr.dtype.kind == "f":
        arr = arr.astype(_default_dtype, copy=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: expected numeric or bool data, got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def check_float_dtype(dtype: np.dtype, where: str) -> None:
    """Only float32 and float64 tensors can require grad (and be parameters)."""
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where}: only float32 and float64 tensors can require grad, got dtype {dtype}")
