"""tinygrad_vae: a small reverse-mode autodiff engine on NumPy, and a VAE built from it."""

from tinygrad_vae import data, init, metrics, nn, optim, serialization
from tinygrad_vae.debug import trace_backward
from tinygrad_vae.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from tinygrad_vae.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_vae.ops import (
    affine,
    concatenate,
    log_sigmoid,
    log_softmax,
    matmul,
    maximum,
    minimum,
    softmax,
    stack,
    unbroadcast,
    where,
)
from tinygrad_vae.tensor import (
    AnomalyError,
    OpError,
    Tensor,
    detect_anomaly,
    enable_grad,
    get_default_dtype,
    gradients,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
    tensor,
)
from tinygrad_vae.training import PRESETS, Trainer, trainer_from_preset
from tinygrad_vae.vae import VAE

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "VAE",
    "AnomalyError",
    "GradcheckError",
    "OpError",
    "Tensor",
    "Trainer",
    "affine",
    "concatenate",
    "data",
    "detect_anomaly",
    "enable_grad",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "hessian",
    "hvp",
    "init",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "log_sigmoid",
    "log_softmax",
    "matmul",
    "maximum",
    "metrics",
    "minimum",
    "nn",
    "no_grad",
    "optim",
    "serialization",
    "set_default_dtype",
    "set_grad_enabled",
    "softmax",
    "stack",
    "tensor",
    "trace_backward",
    "trainer_from_preset",
    "unbroadcast",
    "value_and_grad",
    "vjp",
    "where",
]
