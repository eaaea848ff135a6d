"""Adagrad, with learning-rate decay and an initial accumulator value (torch.optim.Adagrad)."""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.optim.optimizer import (
    Optimizer,
    ParamGroup,
    Params,
    ParamState,
    as_scalar,
    check_range,
    new_step_counter,
)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's formulation.

    With step count ``t`` and ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``):

        s = s + g^2                                (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    The decayed rate is computed in NumPy from the step counter (a 0-d array).
    """

    def __init__(
        self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
    ) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  "maximize": maximize})

    def _check_group(self, group: ParamGroup, where: str) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_range(where, name, group[name], 0.0)

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState, group: ParamGroup) -> None:
        if not state:
            state.update(step=new_step_counter(),
                         sum=np.full_like(param.data, group["initial_accumulator_value"]))
        if group["maximize"]:
            grad = -grad
        t = state["step"]
        t += 1.0
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        clr = as_scalar(group["lr"] / (1.0 + (t - 1.0) * group["lr_decay"]), param.data)
        accumulator = state["sum"]
        accumulator += np.square(grad)
        param.data -= clr * (grad / (np.sqrt(accumulator) + group["eps"]))
