"""The functions behind ``nn``'s modules, with torch.nn.functional's names.

Each calls the op of that name in ``tinygrad_vae.ops``: ``F.relu(x)`` is
``x.relu()``. Only names that mean here what they mean in torch are defined.
"""

from __future__ import annotations

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.activations import ReLUFn, SigmoidFn, SoftplusFn, TanhFn, log_sigmoid
from tinygrad_vae.ops.activations import log_softmax as _log_softmax_over
from tinygrad_vae.ops.activations import softmax as _softmax_over


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise."""
    return ReLUFn.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return x.leaky_relu(negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return SigmoidFn.apply(x)


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent."""
    return TanhFn.apply(x)


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)), without overflow."""
    return SoftplusFn.apply(x)


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return log_sigmoid(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``."""
    return _softmax_over(x, dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``."""
    return _log_softmax_over(x, dim)


__all__ = ["leaky_relu", "log_softmax", "logsigmoid", "relu", "sigmoid", "softmax", "softplus", "tanh"]
