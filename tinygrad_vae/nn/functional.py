"""The functions behind ``nn``'s modules, with torch.nn.functional's names.

Each is the functional form of an op in ``tinygrad_vae.ops``: ``F.relu(x)`` is
``x.relu()``. Only names that mean here what they mean in torch are defined.
"""

from __future__ import annotations

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.attention import scaled_dot_product_attention
from tinygrad_vae.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from tinygrad_vae.ops import activations
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


__all__ = ["leaky_relu", "log_softmax", "logsigmoid", "relu", "sigmoid", "softmax", "softplus", "tanh"]
__all__ += [  # the losses and attention
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll_loss", "huber_loss",
    "kl_div", "l1_loss", "mse_loss", "nll_loss", "scaled_dot_product_attention", "smooth_l1_loss",
]
