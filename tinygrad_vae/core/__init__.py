"""The autodiff core: the Tensor, Function and apply, the backward engine, grad mode and dtypes.

    dtypes.py     float32/float64, the default dtype, user data to arrays
    grad_mode.py  no_grad, enable_grad, set_grad_enabled
    tensor.py     the Tensor (its math methods come from ops/methods.py)
    function.py   Function: forward, backward, apply; OpError
    engine.py     the backward pass, gradients(), topological_order
    observers.py  the seam through which instruments watch the engine
"""

from tinygrad_vae.core.dtypes import FLOAT_DTYPES, get_default_dtype, set_default_dtype
from tinygrad_vae.core.engine import gradients, topological_order
from tinygrad_vae.core.function import Function, OpError
from tinygrad_vae.core.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_vae.core.tensor import RemovableHandle, Tensor

__all__ = [
    "FLOAT_DTYPES", "Function", "OpError", "RemovableHandle", "Tensor", "enable_grad", "get_default_dtype",
    "gradients", "is_grad_enabled", "no_grad", "set_default_dtype", "set_grad_enabled", "topological_order",
]
