"""Activation functions (the functional side of ``nn``'s activation modules), with torch's names and parameters.

An op class that backs an ``nn`` module of the same name carries the suffix
``Fn`` (``ReLUFn`` is the op, ``nn.ReLU`` the module), so each name means one thing.

The primitives are relu, leaky_relu, sigmoid, tanh and softplus (one fused step
each, stable for any x), softsign (whose derived gradient would cancel for large
|x|); elu, celu and selu use math_functions' ``Expm1`` (exp(x) - 1 without the
cancellation near 0). Everything else is a composite of ops, so its gradient
is derived: gelu (with erf from special.py), quick_gelu, silu, elu, celu, selu,
relu6, hardtanh, hardsigmoid, hardswish, mish, softplus with beta and threshold,
softmax, log_softmax, softmin and normalize.

Conventions at non-differentiable points, each torch's:

    relu'(0) = 0, leaky_relu'(0) = negative_slope
    hardtanh'(min_val) = hardtanh'(max_val) = 0, so relu6'(0) = relu6'(6) = 0 and hardsigmoid'(-3) = hardsigmoid'(3) = 0:
        at a bound, the derivative of the flat outer piece
    hardswish = x * hardsigmoid(x), so hardswish'(-3) = 0 and hardswish'(3) = 1 (the outer pieces' again)
    elu'(0) = alpha, celu'(0) = 1, selu'(0) = scale * alpha: the derivative of the exponential piece
    softplus(x, beta, threshold) is x only where beta * x > threshold; at beta * x == threshold it is the smooth formula
    normalize divides by the constant eps where the norm is below eps (no gradient through the norm there)
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, as_number, unwrap
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops.base import Axis, Grads, Op, Value, dim_or_axis, normalize_axes
from tinygrad_vae.ops.elementwise import Abs, Sqrt, abs, clip, where
from tinygrad_vae.ops.math_functions import Expm1
from tinygrad_vae.ops.reductions import LogSumExp
from tinygrad_vae.ops.special import erf


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


class SoftsignFn(Op):
    """x / (1 + |x|), with derivative 1 / (1 + |x|)^2 (1 at 0, where the function is smooth).

    A primitive because the composite's derived gradient, 1/(1 + |x|) - |x|/(1 + |x|)^2, is a
    difference of two nearly equal terms for large |x|: at |x| = 1000 it keeps about 3 digits fewer.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a / (np.abs(a) + 1.0)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        denominator = Abs.apply(a) + 1.0
        return (grad / (denominator * denominator),)


relu, sigmoid, tanh, softsign = ReLUFn.apply, SigmoidFn.apply, TanhFn.apply, SoftsignFn.apply  # functional forms

SQRT_HALF = math.sqrt(0.5)
GELU_TANH_SCALE = math.sqrt(2.0 / math.pi)
# torch's SELU constants (Klambauer et al. 2017), to the digits torch writes them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return LeakyReLUFn.apply(x, negative_slope=as_number(negative_slope))


def log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): stable for large |x|."""
    return -SoftplusFn.apply(-x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold, as torch's.

    Stable for any x: the smooth part is ``SoftplusFn`` (logaddexp, which cannot overflow),
    and its derivative sigmoid(beta x) is 1 to double precision long before the threshold.
    """
    beta, threshold = as_number(beta), as_number(threshold)
    if beta == 0:
        raise OpError("softplus: beta must be nonzero (it divides the result)")
    scaled = x if beta == 1 else x * beta
    smooth = SoftplusFn.apply(scaled) if beta == 1 else SoftplusFn.apply(scaled) / beta
    linear = scaled.data > threshold
    return where(linear, x, smooth) if tracing.any_of(linear) else smooth


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), with Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt(2))).

    ``approximate='tanh'`` is torch's tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    if approximate == "none":
        return x * (1.0 + erf(x * SQRT_HALF)) * 0.5
    if approximate == "tanh":
        return x * (1.0 + TanhFn.apply((x + x * x * x * 0.044715) * GELU_TANH_SCALE)) * 0.5
    raise OpError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def quick_gelu(x: Tensor) -> Tensor:
    """x sigmoid(1.702 x), the sigmoid approximation of gelu (as in CLIP); torch has no function of this name."""
    return x * SigmoidFn.apply(x * 1.702)


def silu(x: Tensor) -> Tensor:
    """x sigmoid(x) (also called swish); finite with the right gradient for any x, as sigmoid cannot overflow."""
    return x * SigmoidFn.apply(x)


swish = silu


def _exponential_linear(x: Tensor, alpha: float, input_scale: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (exp(input_scale x) - 1): the shared form of elu, celu and selu.

    The exponential piece sees min(x, 0), so it cannot overflow on the side where it is not
    used (where exp(1000) = inf would make its zero gradient 0 * inf = NaN). ``clip`` passes the
    gradient at 0, which gives the derivative of the exponential piece there, alpha * input_scale.
    """
    z = clip(x, max=0.0)
    negative = Expm1.apply(z if input_scale == 1 else z * input_scale) * alpha
    return where(x.data > 0, x, negative)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha (exp(x) - 1); elu'(0) = alpha."""
    return _exponential_linear(x, as_number(alpha))


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)); celu'(0) = 1."""
    alpha = as_number(alpha)
    if alpha == 0:
        raise OpError("celu: alpha cannot be 0 (x is divided by it)")
    return _exponential_linear(x, alpha, input_scale=1.0 / alpha)


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with torch's constants scale = 1.0507..., alpha = 1.6732...; selu'(0) = scale * alpha."""
    return _exponential_linear(x, SELU_ALPHA) * SELU_SCALE


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val], with derivative 0 at the bounds, as torch's.

    Not ``clip``, which passes the gradient at its bounds (torch.clamp's convention): the
    clamped value is a constant where x is not strictly inside.
    """
    min_val, max_val = as_number(min_val), as_number(max_val)
    if min_val > max_val:
        raise OpError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    inside = (x.data > min_val) & (x.data < max_val)
    return where(inside, x, np.clip(x.data, min_val, max_val))


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6): relu6'(0) = relu6'(6) = 0."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between; hardsigmoid'(+-3) = 0."""
    return relu6(x + 3.0) / 6.0


def hardswish(x: Tensor) -> Tensor:
    """x hardsigmoid(x) = x relu6(x + 3) / 6; hardswish'(-3) = 0 and hardswish'(3) = 1, as torch's."""
    return x * hardsigmoid(x)


def mish(x: Tensor) -> Tensor:
    """x tanh(softplus(x)); stable for any x, as softplus is (logaddexp) and tanh saturates."""
    return x * TanhFn.apply(SoftplusFn.apply(x))


def _softmax_axis(op: str, x: Tensor, dim: int | None, axis: int | None) -> Axis:
    """The one axis a softmax runs along: torch's ``dim`` or NumPy's ``axis``, the last when neither is given.

    A 0-d tensor accepts dim 0 or -1, as in torch, and its softmax is over its one element
    (returned as None, all axes, which for 0-d is that element).
    """
    chosen = dim_or_axis(op, dim, axis)
    chosen = -1 if chosen is None else chosen
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {chosen!r}")
    bound = max(x.ndim, 1)
    if not -bound <= chosen < bound:
        raise OpError(f"{op}: dim {chosen} is out of range for a tensor with {x.ndim} dimensions "
                      f"(expected -{bound} to {bound - 1})")
    return None if x.ndim == 0 else int(chosen)


def log_softmax(x: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (the last axis by default): stable for any input scale."""
    return x - LogSumExp.apply(x, axis=_softmax_axis("log_softmax", x, dim, axis), keepdims=True)


def softmax(x: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """exp(x - logsumexp(x)) along ``dim`` (the last axis by default): stable for any input scale."""
    return (x - LogSumExp.apply(x, axis=_softmax_axis("softmax", x, dim, axis), keepdims=True)).exp()


def softmin(x: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """softmax(-x) along ``dim`` (the last axis by default)."""
    return softmax(-x, dim, axis)


def _root(total: Value, p: float) -> Value:
    """total ** (1/p), by sqrt where p = 2 (on a Tensor or an array alike)."""
    return Sqrt.apply(total) if p == 2 else total ** (1.0 / p)


def normalize(x: Tensor, p: float = 2.0, dim: int | tuple[int, ...] = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps), the p-norm taken along ``dim`` (an int or a tuple), as torch.nn.functional.normalize.

    ||x||_p = (sum |x|^p)^(1/p), and max |x| for p = inf. Where the norm is below eps the
    denominator is the constant eps, with no gradient through the norm: an all-zero slice then
    has the finite gradient 1/eps, as in torch, instead of the NaN of 0 * d sqrt(0).
    """
    p, eps = as_number(p), as_number(eps)
    if not p > 0:
        raise OpError(f"normalize: p must be positive (or inf), got {p}")
    axes = normalize_axes(dim, x.ndim, "normalize")
    if p == math.inf:
        norm = red.max(abs(x), axes, keepdims=True)
        small = norm.data < eps
    else:
        total = red.sum(x * x if p == 2 else abs(x) if p == 1 else abs(x) ** p, axes, keepdims=True)
        small = _root(total.data, p) < eps
        # 1 where the norm is replaced by eps, so that the root's rule never sees 0 there
        norm = _root(where(small, 1.0, total), p)
    return x / where(small, eps, norm)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = [
    "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_sigmoid", "log_softmax",
    "mish", "normalize", "quick_gelu", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus",
    "softsign", "swish", "tanh",
]
