"""Weight initializers: each takes a shape, a random generator and a dtype, and returns a new array.

Layout: a ``Linear`` weight here has shape ``(fan_in, fan_out)`` (the layer
computes ``x @ W``, as the origin notebook does), the transpose of
PyTorch's ``(out_features, in_features)``. So ``fan_in = shape[0]`` and
``fan_out = shape[1]``.

Samples are drawn in float64 and then cast to ``dtype``, so one seed gives
the same weights (up to rounding) in float32 and float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES, get_default_dtype
from tinygrad_vae.validation import check_generator


def _fans(shape: tuple[int, ...], where: str) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a 2-D ``(fan_in, fan_out)`` weight shape."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{where}: expected a 2-D weight shape (fan_in, fan_out) with positive sizes, got {shape}")
    return shape[0], shape[1]


def _resolve(rng: np.random.Generator | None, dtype: Any, where: str) -> tuple[np.random.Generator, np.dtype]:
    """Default the generator (fresh OS entropy) and the dtype (``get_default_dtype()``), and check them."""
    rng = check_generator(rng, where)
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where}: dtype must be float32 or float64, got {dtype}")
    return rng, dtype


def zeros(shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
    """An array of zeros (the bias initializer)."""
    return np.zeros(shape, dtype=get_default_dtype() if dtype is None else dtype)


def normal(
    shape: tuple[int, ...], rng: np.random.Generator | None = None, dtype: Any = None, scale: float = 0.1
) -> np.ndarray:
    """The origin notebook's initializer: ``W = scale * N(0, 1)``, i.e. mean 0 and std ``scale``.

    With the notebook's ``scale = 0.1`` this is small but not tied to the
    layer's width (the notebook's comment calls it Xavier; it is not).
    """
    rng, dtype = _resolve(rng, dtype, "init.normal")
    return (rng.standard_normal(shape) * scale).astype(dtype)


def xavier_uniform(
    shape: tuple[int, ...], rng: np.random.Generator | None = None, dtype: Any = None, gain: float = 1.0
) -> np.ndarray:
    """Glorot & Bengio (2010), uniform: ``W ~ U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Its variance is ``a^2 / 3 = gain^2 * 2 / (fan_in + fan_out)``, which keeps
    activations and gradients at a similar scale through tanh/sigmoid layers.
    """
    fan_in, fan_out = _fans(tuple(shape), "init.xavier_uniform")
    rng, dtype = _resolve(rng, dtype, "init.xavier_uniform")
    bound = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def kaiming_normal(
    shape: tuple[int, ...], rng: np.random.Generator | None = None, dtype: Any = None, gain: float = np.sqrt(2.0)
) -> np.ndarray:
    """He et al. (2015), normal, fan-in mode: ``W ~ N(0, std^2)`` with ``std = gain / sqrt(fan_in)``.

    The default ``gain = sqrt(2)`` compensates for ReLU zeroing half its
    inputs, so the variance of the activations stays constant with depth.
    """
    fan_in, _ = _fans(tuple(shape), "init.kaiming_normal")
    rng, dtype = _resolve(rng, dtype, "init.kaiming_normal")
    return (rng.standard_normal(shape) * (gain / np.sqrt(fan_in))).astype(dtype)
