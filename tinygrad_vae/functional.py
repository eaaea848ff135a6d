"""Function transforms: ``grad`` and ``value_and_grad`` (in the spirit of HIPS autograd and JAX).

``grad(f)`` is a new function that returns df/dx instead of f(x). Called on
NumPy arrays or numbers it returns arrays; called on Tensors it returns
Tensors, and if those Tensors are themselves being differentiated (as in
``grad(grad(f))``) the result is recorded, so transforms compose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae import tensor as _tensor
from tinygrad_vae.tensor import Tensor, gradients


def _argnums_tuple(argnums: int | tuple[int, ...]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), df/d args[argnums])``.

    ``f`` must return a scalar Tensor. With a tuple ``argnums`` the gradient
    is a tuple, one entry per argument.
    """
    nums = _argnums_tuple(argnums)

    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        for i in nums:
            if i >= len(args):
                raise TypeError(f"grad: argnums={argnums} but f was called with {len(args)} positional arguments")
        outer = [args[i] for i in nums if isinstance(args[i], Tensor)]
        tensor_mode = bool(outer)
        # Differentiate the gradient itself when an enclosing transform (or the user) asks for it.
        higher_order = _tensor.is_grad_enabled() and any(t.requires_grad for t in outer)
        args = list(args)
        inputs = []
        for i in nums:
            a = args[i]
            if isinstance(a, Tensor):
                x = a if a.requires_grad else a.detach().requires_grad_()
            else:
                x = Tensor(np.asarray(a, dtype=np.result_type(np.asarray(a).dtype, np.float32)), requires_grad=True)
            args[i] = x
            inputs.append(x)
        with _tensor.enable_grad():
            value = f(*args, **kwargs)
            if not isinstance(value, Tensor) or value.size != 1:
                raise TypeError(f"grad: f must return a Tensor with one element, got {type(value).__name__} "
                                f"{getattr(value, 'shape', '')}")
            grads = gradients(value, inputs, create_graph=higher_order)
        if not tensor_mode:
            grads = [g.data for g in grads]
            value = value.data.item() if value.ndim == 0 else value.data
        result = grads[0] if isinstance(argnums, int) else tuple(grads)
        return value, result

    return wrapped


def grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning df/d args[argnums] (see ``value_and_grad``)."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return wrapped
