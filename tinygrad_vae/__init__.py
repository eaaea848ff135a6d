"""tinygrad_vae: a small reverse-mode autodiff engine on NumPy, and a VAE built from it.

The layers, each importing only from the ones above it in this list:

    validation   argument checks shared by every layer
    core         Tensor, Function and apply, the backward engine, grad mode, dtypes
    ops          every op, forward beside gradient rule, one file per kind
    func         function transforms: grad, value_and_grad, jacobian, hessian, jvp, vjp, hvp
    testing      gradcheck, gradgradcheck and Hypothesis strategies
    compiler     compile(step): trace a step once, replay it as straight-line NumPy
    instruments  anomaly mode, backward traces, graph drawings
    nn, optim    modules, initializers, serialization; optimizers
    data         minibatches, splits, the notebook's Gaussian mixture
    vae          the application: the VAE, its training, data sets, evaluation, figures, run folders, CLI

``import tinygrad_vae`` loads the engine and the framework, not the application:
``tinygrad_vae.VAE``, ``Trainer``, ``DivergenceError``, ``PRESETS``, ``trainer_from_preset`` and
``metrics`` are imported from ``tinygrad_vae.vae`` when first used.
"""

from typing import Any

from tinygrad_vae import data, func, nn, ops, optim
from tinygrad_vae.compiler import TraceError, compile
from tinygrad_vae.core import (
    Function,
    OpError,
    Tensor,
    enable_grad,
    get_default_dtype,
    gradients,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
)
from tinygrad_vae.func import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from tinygrad_vae.instruments import AnomalyError, detect_anomaly, trace_backward
from tinygrad_vae.nn import init, serialization
from tinygrad_vae.ops import unbroadcast
from tinygrad_vae.testing import GradcheckError, gradcheck, gradgradcheck

__version__ = "0.1.0"

# Every op's functional form at the top level, as torch and NumPy have theirs: tinygrad_vae.exp(x),
# tinygrad_vae.einsum(...). The names are listed once, in each ops module's __all__.
globals().update({name: getattr(ops, name) for name in ops.FUNCTIONS})

# The application's names, imported on first use (PEP 562), so that the engine alone loads fast.
_APPLICATION = {
    "VAE": ("tinygrad_vae.vae.model", "VAE"),
    "Trainer": ("tinygrad_vae.vae.training", "Trainer"),
    "DivergenceError": ("tinygrad_vae.vae.training", "DivergenceError"),
    "PRESETS": ("tinygrad_vae.vae.training", "PRESETS"),
    "trainer_from_preset": ("tinygrad_vae.vae.training", "trainer_from_preset"),
    "metrics": ("tinygrad_vae.vae.metrics", None),
}


def __getattr__(name: str) -> Any:
    if name not in _APPLICATION:
        raise AttributeError(f"module 'tinygrad_vae' has no attribute {name!r}")
    import importlib

    module_name, attribute = _APPLICATION[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


__all__ = [
    "AnomalyError",
    "compile",
    "DivergenceError",
    "Function",
    "GradcheckError",
    "OpError",
    "PRESETS",
    "Tensor",
    "TraceError",
    "Trainer",
    "VAE",
    "data",
    "detect_anomaly",
    "enable_grad",
    "func",
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
    "metrics",
    "nn",
    "no_grad",
    "ops",
    "optim",
    "serialization",
    "set_default_dtype",
    "set_grad_enabled",
    "trace_backward",
    "trainer_from_preset",
    "unbroadcast",
    "value_and_grad",
    "vjp",
    *ops.FUNCTIONS,
]
