"""Activation functions (the functional side of ``nn``'s activation modules).

An op class that backs an ``nn`` module of the same name carries the suffix
``Fn`` (``ReLUFn`` is the op, ``nn.ReLU`` the module), so each name means one thing.

Conventions at non-differentiable points: relu'(0) = 0 and leaky_relu'(0) = negative_slope.
"""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.tensor import Tensor, as_number, unwrap
from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.reductions import LogSumExp


class ReLUFn(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * (a > 0.0),)  # relu'(0) = 0; a > 0 is a bool mask, outside the graph


class LeakyReLUFn(Op):
    def forward(self, a: np.ndarray, negative_slope: float) -> np.ndarray:
        self.slope = negative_slope
        return np.where(a > 0, a, a * negative_slope)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = unwrap(a)
        return (grad * np.where(x > 0, 1.0, self.slope).astype(grad.dtype),)


class SigmoidFn(Op):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which cannot overflow."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * a))

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * out * (1.0 - out),)


class TanhFn(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * (1.0 - out * out),)


class SoftplusFn(Op):
    """log(1 + exp(x)) via logaddexp(0, x): no overflow for large x. Its derivative is sigmoid."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, a).astype(a.dtype, copy=False)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * SigmoidFn.apply(a),)


relu, sigmoid, tanh, softplus = ReLUFn.apply, SigmoidFn.apply, TanhFn.apply, SoftplusFn.apply  # functional forms


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return LeakyReLUFn.apply(x, negative_slope=as_number(negative_slope))


def log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): stable for large |x|."""
    return -SoftplusFn.apply(-x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x - logsumexp(x)): stable for any input scale."""
    return (x - LogSumExp.apply(x, axis=axis, keepdims=True)).exp()


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x - LogSumExp.apply(x, axis=axis, keepdims=True)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["leaky_relu", "log_sigmoid", "log_softmax", "relu", "sigmoid", "softmax", "softplus", "tanh"]
