"""The functions behind ``nn``'s modules, with torch.nn.functional's names.

Each is the functional form of an op in ``tinygrad_vae.ops``: ``F.relu(x)`` is
``x.relu()``. Only names that mean here what they mean in torch are defined.
"""

from __future__ import annotations

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import activations, shape
from tinygrad_vae.ops.activations import leaky_relu, relu, sigmoid, softplus, tanh


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return activations.log_sigmoid(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``."""
    return activations.softmax(x, dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``."""
    return activations.log_softmax(x, dim)


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch's ``F.pad``: (left, right) pairs from the last dim backwards; 'constant', 'reflect', 'replicate', 'circular'."""
    return shape.torch_pad(input, pad, mode, value)


__all__ = ["leaky_relu", "log_softmax", "logsigmoid", "pad", "relu", "sigmoid", "softmax", "softplus", "tanh"]
