"""RMSprop, with momentum and the centered variant (torch.optim.RMSprop)."""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.optim.optimizer import Optimizer, ParamGroup, Params, ParamState, check_range, new_step_counter


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture notes), PyTorch's formulation.

    With ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``) and smoothing ``alpha``:

        s = alpha * s + (1 - alpha) * g^2                    (s starts at 0)
        a = alpha * a + (1 - alpha) * g                      (centered only; a starts at 0)
        d = sqrt(s - a^2) + eps   (centered)   or   sqrt(s) + eps
        b = momentum * b + g / d,  p = p - lr * b            (momentum > 0; b starts at 0)
        p = p - lr * g / d                                   (otherwise)

    eps is added outside the square root, as torch does.
    """

    def __init__(
        self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
        momentum: float = 0.0, centered: bool = False, *, maximize: bool = False,
    ) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "maximize": maximize})

    def _check_group(self, group: ParamGroup, where: str) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_range(where, name, group[name], 0.0)

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState, group: ParamGroup) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state.update(step=new_step_counter(), square_avg=np.zeros_like(param.data))
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param.data)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1.0
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * np.square(grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1.0 - alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - np.square(grad_avg))
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param.data -= group["lr"] * buf
        else:
            param.data -= group["lr"] * (grad / avg)
