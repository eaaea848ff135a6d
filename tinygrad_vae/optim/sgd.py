"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.optim.optimizer import Optimizer, ParamGroup, Params, ParamState, check_range


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation.

    With ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``), momentum ``mu``
    and dampening ``tau``:

        b = g                              on a parameter's first step
        b = mu * b + (1 - tau) * g         afterwards
        d = g + mu * b   (nesterov)   or   d = b   (plain momentum)
        p = p - lr * d

    Without momentum ``d = g``.
    """

    def __init__(
        self, params: Params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
        weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
    ) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    def _check_group(self, group: ParamGroup, where: str) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            check_range(where, name, group[name], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov=True requires momentum > 0 and dampening = 0, got momentum "
                             f"{group['momentum']!r} and dampening {group['dampening']!r}")

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState, group: ParamGroup) -> None:
        momentum: Any = group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += (1.0 - group["dampening"]) * grad if group["dampening"] else grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * grad
