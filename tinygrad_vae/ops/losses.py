"""Loss ops fused into one node each, with torch's ``reduction`` argument.

``squared_error`` and ``gaussian_kl`` compute their elementwise values and, in
the same node, reduce them ("none", "sum", "mean" or "batchmean"), so a loss
costs one node forward and backward instead of a chain of small ones.
``reparameterize`` is the reparameterised Gaussian sample that such losses are
taken over, also one node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.function import Function, OpError
from tinygrad_vae.core.tensor import Tensor, lift
from tinygrad_vae.ops.base import Grads, Op, Value, unbroadcast
from tinygrad_vae.ops.elementwise import Exp
from tinygrad_vae.ops.reductions import expand_reduced

LOSS_REDUCTIONS = ("none", "sum", "mean", "batchmean")


def _reduce_loss(fn: Function, values: np.ndarray, reduction: str, op: str) -> np.ndarray:
    """The end of a loss op's forward: its elementwise ``values`` kept or reduced, as torch's losses do.

    "sum" adds them all up, "mean" divides that by their number, and "batchmean" divides it by
    the batch size (the length of the first axis, as torch's ``kl_div``): the mean over the
    examples of each example's summed loss, which is how a VAE's loss is averaged.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise OpError(f"{op}: reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}")
    fn.reduction, fn.shape = reduction, values.shape
    if reduction == "none":
        return values
    if reduction == "sum":
        fn.count = 1
    elif reduction == "mean":
        fn.count = values.size
    elif values.ndim == 0:
        raise OpError(f"{op}: reduction 'batchmean' needs a batch axis (the first), got a 0-d tensor")
    else:
        fn.count = values.shape[0]
    if fn.count == 0:
        raise OpError(f"{op}: cannot take the {reduction} of an empty tensor of shape {values.shape}")
    total = np.add.reduce(values, None)
    return total if fn.count == 1 else total / fn.count


def _loss_values_grad(fn: Function, grad: Value) -> Value:
    """The gradient of each elementwise value of a loss op: the adjoint of its reduction.

    After a reduction it is one number (the output's gradient divided by the count the
    forward divided by), which the rule's products broadcast over the values, except against
    an input smaller than them (broadcast in the forward): then it is expanded first, so that
    ``unbroadcast`` adds up that input's copies.
    """
    if fn.reduction == "none":
        return grad
    if fn.count != 1:
        grad = grad * (1.0 / fn.count)
    for t in fn.inputs:
        if t.shape != fn.shape:
            return expand_reduced(grad, fn.shape, tuple(range(len(fn.shape))), keepdims=False)
    return grad


class GaussianKL(Op):
    """KL(N(mu, exp(log_var)) || N(0, 1)) elementwise:  0.5 (mu^2 + exp(log_var) - 1 - log_var),
    then reduced (see ``gaussian_kl``).

    Summed over the latent axis it is a VAE's closed-form KL term for a standard normal
    prior. Gradients:  d/dmu = mu,  d/dlog_var = (exp(log_var) - 1) / 2.
    """

    def forward(self, mu: np.ndarray, log_var: np.ndarray, reduction: str = "none") -> np.ndarray:
        return _reduce_loss(self, 0.5 * (mu * mu + np.exp(log_var) - 1.0 - log_var), reduction, "gaussian_kl")

    def backward(self, grad: Value, out: Value, mu: Value, log_var: Value) -> Grads:
        need_mu, need_log_var = self.needs_input_grad
        grad = _loss_values_grad(self, grad)
        return (
            unbroadcast(grad * mu, mu.shape) if need_mu else None,
            unbroadcast((Exp.apply(log_var) - 1.0) * (grad * 0.5), log_var.shape) if need_log_var else None,
        )


def gaussian_kl(mu: Any, log_var: Any, reduction: str = "none") -> Tensor:
    """KL(N(mu, exp(log_var)) || N(0, 1)) for each element (mu and log_var broadcast together).

    ``reduction``: "none" (the elementwise values), "sum" or "mean" (over all of them), or
    "batchmean" (the sum divided by the batch size, the first axis), as in torch's losses.
    ``gaussian_kl(mu, log_var).sum(axis=-1)`` is the VAE's KL term per example, the same as
    ``-0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(axis=-1)`` in two nodes instead of
    seven; ``reduction="batchmean"`` is its average over the batch, in one node.
    """
    mu = mu if isinstance(mu, Tensor) else Tensor(mu)
    return GaussianKL.apply(mu, lift(log_var, mu), reduction=reduction)


class Reparameterize(Op):
    """The reparameterised sample  z = mu + eps * exp(log_var / 2)  (eps ~ N(0, I), drawn by the caller).

    Gradients, with std = exp(log_var / 2):  d/dmu = 1,  d/dlog_var = eps * std / 2,  d/deps = std.
    """

    def forward(self, mu: np.ndarray, log_var: np.ndarray, eps: np.ndarray) -> np.ndarray:
        return mu + eps * np.exp(0.5 * log_var)

    def backward(self, grad: Value, out: Value, mu: Value, log_var: Value, eps: Value) -> Grads:
        need_mu, need_log_var, need_eps = self.needs_input_grad
        std = Exp.apply(log_var * 0.5) if (need_log_var or need_eps) else None
        return (
            unbroadcast(grad, mu.shape) if need_mu else None,
            unbroadcast(grad * eps * std * 0.5, log_var.shape) if need_log_var else None,
            unbroadcast(grad * std, eps.shape) if need_eps else None,
        )


def reparameterize(mu: Any, log_var: Any, eps: Any) -> Tensor:
    """``mu + eps * (log_var * 0.5).exp()`` as one node: a sample of N(mu, exp(log_var)) that gradients pass through."""
    mu = mu if isinstance(mu, Tensor) else Tensor(mu)
    return Reparameterize.apply(mu, lift(log_var, mu), lift(eps, mu))


class SquaredError(Op):
    """(a - b)^2 elementwise, then reduced (see ``squared_error``). Gradients:  d/da = 2 (a - b),  d/db = -2 (a - b)."""

    def forward(self, a: np.ndarray, b: np.ndarray, reduction: str = "none") -> np.ndarray:
        diff = a - b
        return _reduce_loss(self, diff * diff, reduction, "squared_error")

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        twice = (a - b) * (_loss_values_grad(self, grad) * 2.0)
        return (
            unbroadcast(twice, a.shape) if need_a else None,
            unbroadcast(-twice, b.shape) if need_b else None,
        )


def squared_error(a: Any, b: Any, reduction: str = "none") -> Tensor:
    """``(a - b) ** 2`` in one node; ``reduction`` "sum", "mean" or "batchmean" reduces them (see ``gaussian_kl``).

    ``squared_error(x_hat, x, reduction="batchmean")`` is the notebook's reconstruction loss (each example's
    summed squared error, averaged over the batch) in one node instead of four.
    """
    a = a if isinstance(a, Tensor) else Tensor(a)
    return SquaredError.apply(a, lift(b, a), reduction=reduction)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["gaussian_kl", "reparameterize", "squared_error"]
