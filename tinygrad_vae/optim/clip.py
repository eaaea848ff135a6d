"""Gradient clipping: ``clip_grad_norm_`` (any p-norm, inf included) and ``clip_grad_value_`` (torch.nn.utils).

Both replace each ``p.grad`` by a new Tensor rather than writing into it:
a gradient may share memory with other tensors of the graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_vae.core.tensor import Tensor


def _with_grads(parameters: Iterable[Tensor] | Tensor, where: str) -> list[Tensor]:
    """The parameters (a single Tensor too) that have a gradient."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
) -> float:
    """Rescale the gradients so that their total ``norm_type``-norm is at most ``max_norm``; return the norm before.

    ``total = (sum over all gradient entries of |g|^p)^(1/p)`` for ``p = norm_type`` (``max |g|``
    for ``inf``), accumulated in float64 whatever the gradients' dtype, so float32 gradients
    whose squares overflow float32 still give their norm. If ``coef = max_norm / (total + 1e-6)``
    (PyTorch's formula; the 1e-6 guards against dividing by zero) is below 1, each ``p.grad``
    is replaced by a new Tensor ``grad * coef`` of its dtype; otherwise the gradients are left
    as they are. Parameters without a gradient are ignored; with none, the norm is 0.

    Returns the total norm as a Python float (torch returns a 0-d tensor). With
    ``error_if_nonfinite`` a NaN or infinite norm is a RuntimeError, and nothing is changed.
    """
    where = "clip_grad_norm_"
    if not max_norm >= 0:
        raise ValueError(f"{where}: max_norm must be >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"{where}: norm_type must be a positive number or inf, got {norm_type!r}")
    with_grad = _with_grads(parameters, where)
    if not with_grad:
        return 0.0
    flats = [p.grad.data.ravel().astype(np.float64, copy=False) for p in with_grad]
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(flat), initial=0.0)) for flat in flats)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.dot(flat, flat)) for flat in flats))
    else:
        total = sum(float(np.sum(np.abs(flat) ** norm_type)) for flat in flats) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{where}: the total {norm_type}-norm of the gradients is {total}, so they cannot be "
                           f"clipped (error_if_nonfinite=True)")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in with_grad:
            p.grad = Tensor(p.grad.data * np.asarray(coef, dtype=p.grad.dtype))
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` (each ``p.grad`` becomes a new Tensor)."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for p in _with_grads(parameters, "clip_grad_value_"):
        p.grad = Tensor(np.clip(p.grad.data, -clip_value, clip_value).astype(p.grad.dtype, copy=False))
