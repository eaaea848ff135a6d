"""Adam and AdamW, with AMSGrad (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.optim.optimizer import (
    Optimizer,
    ParamGroup,
    Params,
    ParamState,
    as_scalar,
    check_betas,
    check_range,
    new_step_counter,
)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` adds L2 to the gradient (as torch.optim.Adam).

    Per parameter, with step count ``t`` (counting only steps where it had a
    gradient) and ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``):

        m = beta1 * m + (1 - beta1) * g            (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)                      (amsgrad; then v_max stands for v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The bias corrections are computed in NumPy from the step counter (a 0-d array).
    """

    decoupled_weight_decay = False

    def __init__(
        self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def _check_group(self, group: ParamGroup, where: str) -> None:
        check_range(where, "lr", group["lr"], 0.0)
        check_betas(where, group["betas"])
        check_range(where, "eps", group["eps"], 0.0)
        check_range(where, "weight_decay", group["weight_decay"], 0.0)

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        if not state:
            state.update(step=new_step_counter(), exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        if group["maximize"]:
            grad = -grad
        t = state["step"]
        t += 1.0
        if weight_decay:
            if self.decoupled_weight_decay:
                param.data *= 1.0 - lr * weight_decay
            else:
                grad = grad + weight_decay * param.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * np.square(grad)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias_correction2_sqrt = as_scalar(np.sqrt(1.0 - beta2**t), param.data)
        step_size = as_scalar(lr / (1.0 - beta1**t), param.data)
        denom = np.sqrt(v) / bias_correction2_sqrt + group["eps"]
        param.data -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW.

    Before the Adam step (which then sees the plain gradient):
    ``p = p * (1 - lr * weight_decay)``.
    """

    decoupled_weight_decay = True

    def __init__(
        self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
