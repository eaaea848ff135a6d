"""Optimizers (SGD, Adam, AdamW) and gradient clipping, with PyTorch's update rules.

An optimizer holds a list of parameters and updates their arrays in place
from their ``.grad`` (no graph is recorded: these are plain NumPy
operations). Parameters whose ``.grad`` is None are skipped, and so are
their step counts and buffers, exactly as in PyTorch.

Gradients are treated as read-only: they may share memory with other
tensors of the graph, so every update builds new arrays or writes into the
optimizer's own buffers, never into a ``.grad``.

Hyperparameters are plain attributes (``opt.lr = 1e-4`` changes the
learning rate from the next step on). ``state_dict()`` returns them with
the per-parameter buffers as NumPy arrays and numbers, so it can be saved
with ``serialization.save``; ``load_state_dict`` restores it so that training
continues bit-identically.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.tensor import Tensor

ParamState = dict[str, Any]


def _as_param_list(params: Iterable[Tensor] | Tensor, where: str) -> list[Tensor]:
    """The parameters as a list, after checking each is a float leaf Tensor, listed once.

    Frozen parameters (``requires_grad`` False) are accepted, as in PyTorch:
    their grad stays None, so ``step`` skips them.
    """
    if isinstance(params, Tensor):
        raise TypeError(f"{where}: params must be an iterable of Tensors (e.g. model.parameters()), got a single Tensor")
    params = list(params)
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
        if p.dtype not in FLOAT_DTYPES or not p.is_leaf:
            raise ValueError(
                f"{where}: parameter {i} (shape {p.shape}, dtype {p.dtype}) must be a float32/float64 leaf Tensor, "
                f"not an integer tensor or the result of an op"
            )
        if id(p) in seen:
            raise ValueError(f"{where}: parameter {i} (shape {p.shape}) appears more than once in params")
        seen.add(id(p))
    return params


def _check_range(where: str, name: str, value: float, low: float, high: float = math.inf) -> None:
    """Raise unless ``low <= value < high``."""
    if not low <= value < high:
        bound = f"[{low}, {high})" if high != math.inf else f">= {low}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")


class Optimizer:
    """Base class: keeps the parameters, their per-parameter state and the hyperparameters.

    Subclasses set their hyperparameters as attributes, list their names in
    ``hyperparameters`` (so ``state_dict`` saves them) and implement
    ``_update(param, grad, state)``, which changes ``param.data`` in place
    given the gradient array and the parameter's state dict (buffers and
    integer counters, initially empty).
    """

    hyperparameters: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor]) -> None:
        where = type(self).__name__
        self.params = _as_param_list(params, where)
        if not self.params:
            raise ValueError(f"{where}: got an empty parameter list")
        self.state: list[ParamState] = [{} for _ in self.params]
        self.step_count = 0  # calls to step()

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, p.grad.data, state)
        self.step_count += 1

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState) -> None:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Optimizer must implement _update(param, grad, state)")

    def _hyperparameter_values(self) -> dict[str, Any]:
        return {name: list(v) if isinstance(v := getattr(self, name), tuple) else v for name in self.hyperparameters}

    def state_dict(self) -> dict[str, Any]:
        """``{"type", "step_count", "hyperparameters", "state"}``: numbers, lists and array copies only.

        ``state`` maps each parameter's index (as a string) to its buffers;
        parameters that were never updated have no entry.
        """
        return {
            "type": type(self).__name__,
            "step_count": self.step_count,
            "hyperparameters": self._hyperparameter_values(),
            "state": {
                str(i): {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
                for i, s in enumerate(self.state)
                if s
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned (possibly after a save/load round trip).

        Checks everything before changing anything: the optimizer type, the
        hyperparameter names, the parameter indices, and each buffer's
        shape and dtype against its parameter.
        """
        where = f"{type(self).__name__}.load_state_dict"
        for key in ("type", "step_count", "hyperparameters", "state"):
            if key not in state_dict:
                raise KeyError(f"{where}: missing key {key!r} (expected the output of Optimizer.state_dict())")
        if str(state_dict["type"]) != type(self).__name__:
            raise ValueError(f"{where}: this state is from a {state_dict['type']} optimizer, not a {type(self).__name__}")
        hyper = state_dict["hyperparameters"]
        if set(hyper) != set(self.hyperparameters):
            raise KeyError(f"{where}: expected hyperparameters {sorted(self.hyperparameters)}, got {sorted(hyper)}")
        new_state: list[ParamState] = [{} for _ in self.params]
        for index, buffers in state_dict["state"].items():
            i = int(index)
            if not 0 <= i < len(self.params):
                raise ValueError(f"{where}: state for parameter {i}, but the optimizer has {len(self.params)} parameters")
            p = self.params[i]
            for name, value in buffers.items():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    if value.shape != p.shape or value.dtype != p.dtype:
                        raise ValueError(
                            f"{where}: buffer {name!r} of parameter {i} has shape {value.shape} and dtype {value.dtype}; "
                            f"expected shape {p.shape} and dtype {p.dtype} like the parameter"
                        )
                    new_state[i][name] = value.copy()
                else:  # an integer counter (possibly a 0-d array after a round trip through np.savez)
                    new_state[i][name] = int(value)
        for name in self.hyperparameters:
            current = getattr(self, name)
            value = hyper[name]
            if isinstance(current, tuple):
                setattr(self, name, tuple(float(v) for v in value))
            else:
                setattr(self, name, type(current)(value))
        self.state = new_state
        self.step_count = int(state_dict["step_count"])

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameter_values().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    With ``g = grad + weight_decay * p`` and momentum ``mu``:

        b = g                      on a parameter's first step
        b = mu * b + g             afterwards
        d = g + mu * b             (nesterov)   or   d = b   (plain momentum)
        p = p - lr * d

    Without momentum ``d = g``. This is PyTorch's formulation (no dampening).
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        _check_range("SGD", "lr", lr, 0.0)
        _check_range("SGD", "momentum", momentum, 0.0)
        _check_range("SGD", "weight_decay", weight_decay, 0.0)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True requires momentum > 0")
        self.lr, self.momentum, self.nesterov = float(lr), float(momentum), bool(nesterov)
        self.weight_decay = float(weight_decay)

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= self.momentum
                buf += grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        param.data -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` adds L2 to the gradient (as torch.optim.Adam).

    Per parameter, with step count ``t`` (counting only steps where it had a
    gradient) and ``g = grad + weight_decay * p``:

        m = beta1 * m + (1 - beta1) * g            (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    decoupled_weight_decay = False

    def __init__(
        self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8, weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        where = type(self).__name__
        _check_range(where, "lr", lr, 0.0)
        if len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_range(where, "betas[0]", betas[0], 0.0, 1.0)
        _check_range(where, "betas[1]", betas[1], 0.0, 1.0)
        _check_range(where, "eps", eps, 0.0)
        _check_range(where, "weight_decay", weight_decay, 0.0)
        self.betas = (float(betas[0]), float(betas[1]))
        self.lr, self.eps, self.weight_decay = float(lr), float(eps), float(weight_decay)

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState) -> None:
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:
            if self.decoupled_weight_decay:
                param.data *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * param.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * np.square(grad)
        denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + self.eps
        param.data -= (self.lr / (1.0 - beta1**t)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW.

    Before the Adam step (which then sees the plain gradient):
    ``p = p * (1 - lr * weight_decay)``.
    """

    decoupled_weight_decay = True

    def __init__(
        self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8, weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm_(params: Iterable[Tensor] | Tensor, max_norm: float) -> float:
    """Rescale the gradients so their global L2 norm is at most ``max_norm``; return the norm before clipping.

    ``total = sqrt(sum over params of ||grad||^2)`` (accumulated in float64).
    If ``coef = max_norm / (total + 1e-6)`` is below 1 (PyTorch's formula; the
    1e-6 guards against dividing by zero), each ``p.grad`` is replaced by a new
    Tensor ``grad * coef``. Otherwise the gradients are left untouched.
    Parameters without a gradient are ignored.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    with_grad = [p for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.dot(flat, flat)) for flat in
                          (p.grad.data.ravel().astype(np.float64, copy=False) for p in with_grad)))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in with_grad:
            p.grad = Tensor(p.grad.data * np.asarray(coef, dtype=p.grad.dtype))
    return total
