"""Activation modules: each applies the ``nn.functional`` function of its name, with torch's arguments.

``inplace=True`` is refused at construction (there are no in-place ops). ``Softmax`` and
``LogSoftmax`` need ``dim``: torch's default, None, picks the dimension by a deprecated rule.
"""

from __future__ import annotations

from typing import Any

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import functional as F
from tinygrad_vae.nn.module import Module
from tinygrad_vae.validation import is_int


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class LeakyReLU(Module):
    """``x`` for x > 0, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        F._out_of_place("LeakyReLU", inplace)
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """``x Phi(x)`` (Phi the standard normal CDF); ``approximate="tanh"`` for torch's tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """``x`` for x > 0, else ``alpha (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        F._out_of_place("ELU", inplace)
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SiLU(Module):
    """``x sigmoid(x)`` (swish)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        F._out_of_place("SiLU", inplace)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if beta == 0:
            raise ValueError("Softplus: beta must be nonzero (it divides the result)")
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _softmax_dim(dim: Any, where: str) -> int:
    """``dim`` as an int; None (torch's deprecated implicit choice, which depends on the rank) is refused."""
    if dim is None:
        raise ValueError(f"{where}: dim=None would leave the dimension to torch's deprecated implicit rule; "
                         f"pass it explicitly, e.g. {where}(dim=-1)")
    if not is_int(dim):
        raise TypeError(f"{where}: dim must be an int, got {dim!r}")
    return int(dim)


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim``, which must be given."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _softmax_dim(dim, "Softmax")

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``x - logsumexp(x)`` along ``dim``, which must be given."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _softmax_dim(dim, "LogSoftmax")

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
