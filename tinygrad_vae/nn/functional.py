"""The functions behind ``nn``'s modules, with torch.nn.functional's names.

Each is the functional form of an op in ``tinygrad_vae.ops``: ``F.relu(x)`` is
``x.relu()``. Only names that mean here what they mean in torch are defined
(so no quick_gelu or swish, which torch.nn.functional does not have), with
torch's signatures and defaults, except:

- ``inplace=True`` raises: there are no in-place ops here;
- softmax, log_softmax and softmin take no ``dtype``; without ``dim`` they use the last
  axis, which is torch's deprecated implicit choice for 0-, 1- and 2-d input, and refuse
  3-d and higher input, where torch's choice (dim 0 for 3-d, 1 above) is not the last axis;
- dropout takes ``generator=`` (a ``numpy.random.Generator``), which it needs to draw a mask;
- embedding takes no ``max_norm``, ``norm_type``, ``scale_grad_by_freq`` or ``sparse``.

layer_norm and batch_norm live beside their modules (``normalization.py``), embedding
beside ``Embedding``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.attention import scaled_dot_product_attention
from tinygrad_vae.nn.embedding import embedding
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
from tinygrad_vae.nn.normalization import batch_norm, layer_norm
from tinygrad_vae.ops import activations, shape
from tinygrad_vae.ops.activations import gelu, normalize, sigmoid, softplus, softsign, tanh
from tinygrad_vae.ops.convolution import conv1d, conv2d, conv_transpose2d
from tinygrad_vae.ops.creation import draw
from tinygrad_vae.ops.linalg import linear
from tinygrad_vae.ops.pooling import avg_pool2d, interpolate, max_pool2d


def _out_of_place(op: str, inplace: bool) -> None:
    if inplace:
        raise OpError(f"{op}: inplace=True is not supported (there are no in-place ops); use the returned tensor")


# --------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------


def _dropout_p(p: Any, op: str) -> float:
    """The drop probability, a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p must be a number in [0, 1], got {p!r}")
    return float(p)


def _dropout(input: Any, p: float, training: bool, generator: Any, op: str) -> Tensor:
    """Inverted dropout: x * [u >= p] / (1 - p), u ~ U[0, 1) drawn through ``ops.creation.draw``.

    The mask is a constant of the graph. Out of training, or with p = 0, x itself (nothing is
    drawn); p = 1 keeps nothing (u < 1 always), so the scale is 0 there, not 1 / 0.
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: input must be float32 or float64, got dtype {x.dtype}")
    if not training or p == 0.0:
        return x
    u = draw("random", x.shape, generator, x.dtype, False, op)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * ((u.data >= p) * scale).astype(x.dtype)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, generator: Any = None) -> Tensor:
    """Inverted dropout when ``training``: x * m / (1 - p), m ~ Bernoulli(1 - p), the mask drawn from ``generator``.

    ``generator`` (a ``numpy.random.Generator``) is needed whenever a mask is drawn (training
    with p > 0): there is no global random state to fall back on, as in torch.
    """
    _out_of_place("dropout", inplace)
    return _dropout(input, _dropout_p(p, "dropout"), training, generator, "dropout")


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


def _explicit_dim(op: str, input: Tensor, dim: int | None) -> int | None:
    """``dim``; None only where torch's implicit choice is the last axis (at most 2 dimensions)."""
    if dim is None and getattr(input, "ndim", 0) > 2:
        raise OpError(f"{op}: pass dim for input of {input.ndim} dimensions (shape {input.shape}): torch's "
                      f"deprecated implicit choice is dim {0 if input.ndim == 3 else 1} there, not the last axis")
    return dim


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (by default the last axis of a tensor of at most 2 dimensions)."""
    return activations.softmax(input, _explicit_dim("softmax", input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (by default the last axis of a tensor of at most 2 dimensions)."""
    return activations.log_softmax(input, _explicit_dim("log_softmax", input, dim))


def softmin(input: Tensor, dim: int | None = None) -> Tensor:
    """softmax(-x) along ``dim`` (by default the last axis of a tensor of at most 2 dimensions)."""
    return activations.softmin(input, _explicit_dim("softmin", input, dim))


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
    "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "celu", "conv1d",
    "conv2d", "conv_transpose2d", "cross_entropy", "dropout", "elu", "embedding", "gaussian_nll_loss", "gelu",
    "hardsigmoid", "hardswish", "hardtanh", "huber_loss", "interpolate", "kl_div", "l1_loss", "layer_norm",
    "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool2d", "mish", "mse_loss", "nll_loss", "normalize",
    "pad", "relu", "relu6", "scaled_dot_product_attention", "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax",
    "softmin", "softplus", "softsign", "tanh",
]
