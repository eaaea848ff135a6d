"""The functions behind ``nn``'s modules, with torch.nn.functional's names.

Each is the functional form of an op in ``tinygrad_vae.ops``: ``F.relu(x)`` is
``x.relu()``. Only names that mean here what they mean in torch are defined
(so no quick_gelu or swish, which torch.nn.functional does not have), with
torch's signatures and defaults, except:

- ``inplace=True`` raises: there are no in-place ops here;
- softmax, log_softmax and softmin take no ``dtype``, and without ``dim`` use the
  last axis, not torch's deprecated implicit choice (dim 0 for 0-, 1- and 3-d input).
"""

from __future__ import annotations

from tinygrad_vae.core.function import OpError
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
from tinygrad_vae.ops import activations, shape
from tinygrad_vae.ops.activations import gelu, normalize, sigmoid, softplus, softsign, tanh
from tinygrad_vae.ops.convolution import conv1d, conv2d, conv_transpose2d
from tinygrad_vae.ops.linalg import linear
from tinygrad_vae.ops.pooling import avg_pool2d, interpolate, max_pool2d


def _out_of_place(op: str, inplace: bool) -> None:
    if inplace:
        raise OpError(f"{op}: inplace=True is not supported (there are no in-place ops); use the returned tensor")


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); relu'(0) = 0."""
    _out_of_place("relu", inplace)
    return activations.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    _out_of_place("leaky_relu", inplace)
    return activations.leaky_relu(input, negative_slope)


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return activations.log_sigmoid(x)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (the last axis by default)."""
    return activations.softmax(input, dim)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (the last axis by default)."""
    return activations.log_softmax(input, dim)


def softmin(input: Tensor, dim: int | None = None) -> Tensor:
    """softmax(-x) along ``dim`` (the last axis by default)."""
    return activations.softmin(input, dim)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x)."""
    _out_of_place("silu", inplace)
    return activations.silu(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x))."""
    _out_of_place("mish", inplace)
    return activations.mish(input)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha (exp(x) - 1)."""
    _out_of_place("elu", inplace)
    return activations.elu(input, alpha)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    _out_of_place("celu", inplace)
    return activations.celu(input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the SELU constants."""
    _out_of_place("selu", inplace)
    return activations.selu(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    _out_of_place("relu6", inplace)
    return activations.relu6(input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val], with derivative 0 at the bounds."""
    _out_of_place("hardtanh", inplace)
    return activations.hardtanh(input, min_val, max_val)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    _out_of_place("hardsigmoid", inplace)
    return activations.hardsigmoid(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6."""
    _out_of_place("hardswish", inplace)
    return activations.hardswish(input)


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch's ``F.pad``: (left, right) pairs from the last dim backwards; 'constant', 'reflect', 'replicate', 'circular'."""
    return shape.torch_pad(input, pad, mode, value)


__all__ = [
    "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_softmax", "logsigmoid", "mish",
    "linear", "normalize", "pad", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus", "softsign", "tanh",
    # the losses and attention
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll_loss", "huber_loss",
    "kl_div", "l1_loss", "mse_loss", "nll_loss", "scaled_dot_product_attention", "smooth_l1_loss",
    # convolution and pooling
    "avg_pool2d", "conv1d", "conv2d", "conv_transpose2d", "interpolate", "max_pool2d",
]
