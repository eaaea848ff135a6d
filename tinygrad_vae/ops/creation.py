"""Making tensors from data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinygrad_vae.core.tensor import Tensor


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as ``Tensor(...)``; spelled like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensors(values: Iterable[Any]) -> list[Tensor]:
    """Each value as a Tensor (Tensors pass through unchanged)."""
    return [v if isinstance(v, Tensor) else Tensor(v) for v in values]


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["as_tensors", "tensor"]
