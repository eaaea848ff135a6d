"""Every op of the engine: its forward on NumPy arrays beside its gradient rule.

Each ``Function`` subclass has ``forward(*arrays, **params) -> ndarray`` and
``backward(grad, out, *inputs) -> one gradient per input``. A rule is written
once, with what works on Tensors and on NumPy arrays alike (operators,
``.sum``/``.reshape``/``.T``, other ops' ``apply``): a plain backward pass runs
it on bare arrays, at the cost of its NumPy calls, and ``create_graph=True``
runs it on Tensors, so it is recorded and can be differentiated again (second
derivatives come for free). A rule returns ``None`` for an input whose
``needs_input_grad`` is False, so no work is spent on it.

Broadcasting: an op that broadcasts its operands must sum the gradient back to
each operand's shape; every such rule goes through ``unbroadcast``.

Conventions at non-differentiable points: relu'(0) = 0, abs'(0) = 0,
leaky_relu'(0) = negative_slope, clip passes the gradient at its bounds
(inclusive, as torch.clamp), and ties in max/min/maximum/minimum split the
gradient evenly between the tied elements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.tensor import Function, OpError, Tensor, _data, _lift, _wrap, as_tensors

Axis = int | tuple[int, ...] | None
# What a rule computes with: Tensors when the backward pass is recorded (create_graph=True),
# NumPy arrays otherwise (see Function in tensor.py).
Value = Tensor | np.ndarray
Grads = tuple[Value | None, ...]  # one gradient per input, None where none is needed


class Op(Function):
    """The base of the engine's own ops.

    Their rules are checked op by op by the test suite (gradcheck and gradgradcheck on both
    paths, float32 kept float32), so the engine does not check each gradient they return again
    (see ``Function.check_gradients``); that saves a few percent of a small model's step.
    """

    check_gradients = False


def const(array: Any, like: Any) -> Any:
    """An array computed inside a rule, as an operand beside ``like``: the bare array on the
    array path, a constant (non-differentiable) Tensor on the Tensor path.

    Operators lift arrays themselves (``grad * mask`` works either way); this is for ``apply``.
    """
    return _wrap(np.asarray(array)) if isinstance(like, Tensor) else array


# --------------------------------------------------------------------------
# helpers shared by the rules
# --------------------------------------------------------------------------


def unbroadcast(grad: Value, shape: tuple[int, ...]) -> Value:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``.

    If ``x`` of shape (3, 1) was broadcast against (2, 3, 4), its gradient of
    shape (2, 3, 4) is summed over axis 0 (added) and axis 2 (stretched from 1).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if not stretched:  # only leading axes were added (a bias, say): one sum, no reshape
        return grad.sum(axis=tuple(range(lead)))
    return grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def _axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (None means all of them)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, without the loop below
        return (axis % ndim,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise OpError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_reduced(grad: Value, in_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Value:
    """Bring the gradient of a reduction back to the reduced tensor's shape (one ``Expand`` node)."""
    return Expand.apply(grad, shape=in_shape, axes=axes, keepdims=keepdims)


# --------------------------------------------------------------------------
# elementwise arithmetic
# --------------------------------------------------------------------------


class Add(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(grad, b.shape) if need_b else None,
        )


class Sub(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(-grad, b.shape) if need_b else None,
        )


class Mul(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad * b, a.shape) if need_a else None,
            unbroadcast(grad * a, b.shape) if need_b else None,
        )


class Div(Op):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        # d(a/b)/da = 1/b;  d(a/b)/db = -a/b^2 = -out/b
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad / b, a.shape) if need_a else None,
            unbroadcast(-grad * out / b, b.shape) if need_b else None,
        )


class Neg(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (-grad,)


class PowScalar(Op):
    """x ** c for a fixed number c: d/dx = c * x ** (c - 1)."""

    def forward(self, a: np.ndarray, exponent: float) -> np.ndarray:
        self.exponent = exponent
        return a**exponent

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        c = self.exponent
        if c == 2:
            return (grad * a * 2.0,)
        if c in (0, 1):  # constant derivative: via a ** (c - 1) the next derivative would be 0 * 0**-1 = NaN at 0
            return (grad * float(c),)
        return (grad * (a ** (c - 1)) * c,)


class Pow(Op):
    """a ** b with a tensor exponent: d/da = b a^(b-1), d/db = a^b log(a) (defined for a > 0)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a**b

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad * b * a ** (b - 1.0), a.shape) if need_a else None,
            unbroadcast(grad * out * Log.apply(a), b.shape) if need_b else None,
        )


class Maximum(Op):
    """Elementwise max of two tensors; where they tie, each gets half the gradient."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        share_a = (_data(a) > _data(b)) + 0.5 * (_data(a) == _data(b))
        return (
            unbroadcast(grad * share_a.astype(grad.dtype), a.shape) if need_a else None,
            unbroadcast(grad * (1.0 - share_a).astype(grad.dtype), b.shape) if need_b else None,
        )


def maximum(a: Any, b: Any) -> Tensor:
    a = a if isinstance(a, Tensor) else Tensor(a)
    return Maximum.apply(a, _lift(b, a))


def minimum(a: Any, b: Any) -> Tensor:
    """min(a, b) = -max(-a, -b), which gives ties the same even split."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    return -Maximum.apply(-a, -_lift(b, a))


class Where(Op):
    """``where(cond, a, b)``: a where cond holds, else b. cond is not differentiated."""

    def forward(self, a: np.ndarray, b: np.ndarray, cond: np.ndarray) -> np.ndarray:
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        zero = const(np.zeros((), dtype=grad.dtype), like=grad)
        return (
            unbroadcast(Where.apply(grad, zero, cond=self.cond), a.shape) if need_a else None,
            unbroadcast(Where.apply(zero, grad, cond=self.cond), b.shape) if need_b else None,
        )


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: ``a`` where ``cond`` is true, else ``b`` (all broadcast together)."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a bool tensor or array, got dtype {cond.dtype}")
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    return Where.apply(_lift(a, like), _lift(b, like), cond=cond)


class Clip(Op):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (bounds included)."""

    def forward(self, a: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
        if lo is None and hi is None:
            raise OpError("clip: give at least one of min and max")
        self.lo, self.hi = lo, hi
        return np.clip(a, lo, hi)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = _data(a)
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (grad * inside,)


class Cast(Op):
    def forward(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return a.astype(dtype)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (Cast.apply(grad, dtype=a.dtype),)


# --------------------------------------------------------------------------
# elementwise functions
# --------------------------------------------------------------------------


class Exp(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * out,)  # d exp(x) = exp(x)


class Log(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / a,)


class Sqrt(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sqrt(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad / (out * 2.0),)  # d sqrt(x) = 1 / (2 sqrt(x))


class Abs(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.abs(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * np.sign(_data(a)),)  # sign(0) = 0


class ReLU(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * (a > 0.0),)  # relu'(0) = 0; a > 0 is a bool mask, outside the graph


class LeakyReLU(Op):
    def forward(self, a: np.ndarray, negative_slope: float) -> np.ndarray:
        self.slope = negative_slope
        return np.where(a > 0, a, a * negative_slope)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = _data(a)
        return (grad * np.where(x > 0, 1.0, self.slope).astype(grad.dtype),)


class Sigmoid(Op):
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which cannot overflow."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * a))

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * out * (1.0 - out),)


class Tanh(Op):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * (1.0 - out * out),)


class Softplus(Op):
    """log(1 + exp(x)) via logaddexp(0, x): no overflow for large x. Its derivative is sigmoid."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, a).astype(a.dtype, copy=False)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (grad * Sigmoid.apply(a),)


def log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): stable for large |x|."""
    return -Softplus.apply(-x)


# --------------------------------------------------------------------------
# fused VAE pieces: one node each instead of a chain of small ones
# --------------------------------------------------------------------------


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
            return _expand_reduced(grad, fn.shape, tuple(range(len(fn.shape))), keepdims=False)
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
    return GaussianKL.apply(mu, _lift(log_var, mu), reduction=reduction)


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
    return Reparameterize.apply(mu, _lift(log_var, mu), _lift(eps, mu))


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
    return SquaredError.apply(a, _lift(b, a), reduction=reduction)


# --------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------


class Sum(Op):
    """Sum over axes; its gradient is the output's gradient copied along them (``Expand``)."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = _axes(axis, a.ndim, "sum")
        self.keepdims = keepdims
        return np.add.reduce(a, self.axes, None, None, keepdims)  # np.sum without its Python wrapper

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (_expand_reduced(grad, a.shape, self.axes, self.keepdims),)


class Expand(Op):
    """The adjoint of ``Sum``: copy ``a`` along ``axes`` (re-inserted unless ``keepdims``) to ``shape``.

    The copy is a read-only broadcast view, so it costs no memory; its gradient sums those axes again.
    """

    def forward(self, a: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        self.axes, self.keepdims = axes, keepdims
        return np.broadcast_to(a if keepdims else a.reshape(_keepdims_shape(shape, axes)), shape)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (Sum.apply(grad, axis=self.axes, keepdims=self.keepdims),)


class Mean(Op):
    """Sum / count; the gradient is scaled by 1/count before it is copied back, on the smaller tensor."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = _axes(axis, a.ndim, "mean")
        self.keepdims = keepdims
        if a.size == 0:
            raise OpError(f"mean: cannot take the mean of an empty tensor of shape {a.shape}")
        self.count = math.prod(a.shape[i] for i in self.axes)
        # What np.mean computes (the same sum, then a true division), without its Python-level overhead.
        return np.add.reduce(a, self.axes, None, None, keepdims) / self.count

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (_expand_reduced(grad * (1.0 / self.count), a.shape, self.axes, self.keepdims),)


class Max(Op):
    """Max over axes; tied maxima share the gradient evenly."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = _axes(axis, a.ndim, "max")
        self.keepdims = keepdims
        if a.size == 0:
            raise OpError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        return np.max(a, axis=self.axes, keepdims=keepdims)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        x = _data(a)
        top = _data(out) if self.keepdims else _data(out).reshape(_keepdims_shape(x.shape, self.axes))
        is_max = x == top
        share = is_max / np.sum(is_max, axis=self.axes, keepdims=True)
        return (_expand_reduced(grad, x.shape, self.axes, self.keepdims) * share.astype(grad.dtype),)


class LogSumExp(Op):
    """log(sum(exp(x))) over axes, shifted by the max so it cannot overflow.

    Gradient: softmax(x) = exp(x - out). A slice that is all -inf has out = -inf;
    its gradient is taken as 0 rather than NaN.
    """

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes = _axes(axis, a.ndim, "logsumexp")
        self.keepdims = keepdims
        shift = np.max(a, axis=self.axes, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0.0)  # not in place: a 0-d input gives a NumPy scalar
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - shift), axis=self.axes, keepdims=True)) + shift
        return out if keepdims else out.reshape(np.delete(out.shape, self.axes).tolist())

    def backward(self, grad: Value, out: Value, x: Value) -> Grads:
        kept = out if self.keepdims else Reshape.apply(out, shape=_keepdims_shape(x.shape, self.axes))
        safe = Where.apply(kept, const(np.zeros((), dtype=out.dtype), like=kept), cond=np.isfinite(_data(kept)))
        return (_expand_reduced(grad, x.shape, self.axes, self.keepdims) * Exp.apply(x - safe),)


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance, sum((x - mean)^2) / (N - correction); correction=1 is unbiased, as torch.var."""
    axes = _axes(axis, x.ndim, "var")
    count = int(np.prod([x.shape[a] for a in axes]))
    if count - correction <= 0:
        raise OpError(f"var: {count} elements over axes {axes} are too few for correction={correction}")
    centred = x - x.mean(axis=axes, keepdims=True)
    return (centred * centred).sum(axis=axes, keepdims=keepdims) * (1.0 / (count - correction))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x - logsumexp(x)): stable for any input scale."""
    return (x - LogSumExp.apply(x, axis=axis, keepdims=True)).exp()


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x - LogSumExp.apply(x, axis=axis, keepdims=True)


# --------------------------------------------------------------------------
# linear algebra
# --------------------------------------------------------------------------


def _matmul_shape_error(a: np.ndarray, b: np.ndarray, op: str) -> OpError:
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    return OpError(
        f"{op}: shapes {a.shape} and {b.shape} are not aligned: the left operand's last "
        f"dimension ({a.shape[-1]}) must equal the right operand's "
        f"{'only' if b.ndim == 1 else 'second-to-last'} dimension ({inner_b})"
    )


def _swap_last_axes(a: np.ndarray) -> np.ndarray:
    """The transpose of each matrix in ``a`` (a view)."""
    return a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)


class MatMul(Op):
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes broadcast.

    ``transpose_a``/``transpose_b`` multiply by an operand's transpose (its last two axes
    swapped), like the "transa"/"transb" arguments of BLAS's gemm. Every matrix gradient is a
    product with a transpose (dA = G B^T, dB = A^T G), so the rule below uses these flags
    instead of recording a separate ``Transpose`` node for each when it runs on Tensors.
    """

    def forward(self, a: np.ndarray, b: np.ndarray, transpose_a: bool = False, transpose_b: bool = False) -> np.ndarray:
        if (transpose_a and a.ndim < 2) or (transpose_b and b.ndim < 2):
            raise OpError(f"matmul: only operands with at least 2 dimensions can be transposed, "
                          f"got shapes {a.shape} and {b.shape}")
        self.transpose_a, self.transpose_b = transpose_a, transpose_b
        a = _swap_last_axes(a) if transpose_a else a
        b = _swap_last_axes(b) if transpose_b else b
        try:
            return a @ b
        except ValueError:  # checked only on failure, to keep the common path short
            if a.ndim == 0 or b.ndim == 0:
                raise OpError(
                    f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
                ) from None
            if a.shape[-1] != (b.shape[0] if b.ndim == 1 else b.shape[-2]):
                raise _matmul_shape_error(a, b, "matmul") from None
            raise

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        ta, tb = self.transpose_a, self.transpose_b
        # Treat a vector as a matrix (a row on the left, a column on the right; vectors are never
        # transposed), apply the matrix rules, then drop the extra axis. With op(X) = X or X^T and
        # C = op(A) op(B):  d op(A) = G op(B)^T  and  d op(B) = op(A)^T G;  where op transposed an
        # operand, its own gradient is that transposed back:  dA = op(B) G^T,  dB = G^T op(A).
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = unsqueeze(g2, -1)
        if a.ndim == 1:
            g2 = unsqueeze(g2, -2)
        grad_a = grad_b = None
        if need_a:
            if ta:
                ga = MatMul.apply(b2, g2, transpose_a=tb, transpose_b=True)
            else:
                ga = MatMul.apply(g2, b2, transpose_b=not tb)
            grad_a = unbroadcast(ga.squeeze(-2) if a.ndim == 1 else ga, a.shape)
        if need_b:
            if tb:
                gb = MatMul.apply(g2, a2, transpose_a=True, transpose_b=ta)
            else:
                gb = MatMul.apply(a2, g2, transpose_a=not ta)
            grad_b = unbroadcast(gb.squeeze(-1) if b.ndim == 1 else gb, b.shape)
        return grad_a, grad_b


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Tensor:
    """``a @ b``; ``transpose_a``/``transpose_b`` swap an operand's last two axes first (no extra node)."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    return MatMul.apply(a, _lift(b, a), transpose_a=transpose_a, transpose_b=transpose_b)


class Affine(Op):
    """``x @ W + b`` in one node, the layer that ``Linear`` uses.

    x: (..., n_in), W: (n_in, n_out), b: (n_out,). Gradients:
    dx = G W^T,  dW = X^T G,  db = sum of G over the batch,
    where X and G are x and the output gradient flattened to 2-D.
    """

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[0] or b.shape not in ((w.shape[1],), ()):
            raise OpError(
                f"affine: expected x (..., n_in), W (n_in, n_out), b (n_out,); "
                f"got x {x.shape}, W {w.shape}, b {b.shape}"
            )
        out = x @ w
        out += b
        return out

    def backward(self, grad: Value, out: Value, x: Value, w: Value, b: Value) -> Grads:
        need_x, need_w, need_b = self.needs_input_grad
        x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[0])
        g2 = grad if grad.ndim == 2 else grad.reshape(-1, w.shape[1])
        return (
            grad @ w.T if need_x else None,
            x2.T @ g2 if need_w else None,
            unbroadcast(g2.sum(axis=0), b.shape) if need_b else None,
        )


def affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``x @ weight + bias`` as a single op (fewer NumPy calls forward and backward)."""
    return Affine.apply(x, weight, bias)


# --------------------------------------------------------------------------
# shape ops
# --------------------------------------------------------------------------


class Reshape(Op):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return a.reshape(shape)
        except ValueError:
            raise OpError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {tuple(shape)}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (Reshape.apply(grad, shape=a.shape),)


class Transpose(Op):
    def forward(self, a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise OpError(f"transpose: axes {axes} are not a permutation of a {a.ndim}-D tensor's axes")
        self.axes = axes
        return a.T if axes is None else np.transpose(a, axes)

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        inverse = None if self.axes is None else tuple(np.argsort([x % grad.ndim for x in self.axes]))
        return (Transpose.apply(grad, axes=inverse),)


def swap_last_axes(x: Tensor) -> Tensor:
    if x.ndim < 2:
        raise OpError(f"mT: needs at least 2 dimensions, got shape {x.shape}")
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return Transpose.apply(x, axes=axes)


class BroadcastTo(Op):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise OpError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (unbroadcast(grad, a.shape),)


def squeeze(x: Tensor, axis: Axis = None) -> Tensor:
    """Drop axes of length 1 (all of them, or the ones named)."""
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = _axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise OpError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Value, axis: int) -> Value:
    """Insert an axis of length 1 at ``axis`` (negative counts from the end of the result)."""
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise OpError(f"unsqueeze: axis {axis} is out of range for a tensor of shape {x.shape}")
    axis = axis % (x.ndim + 1)
    return Reshape.apply(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def normalize_index(index: Any) -> Any:
    """Replace Tensors and lists inside an index by arrays, so NumPy reads them as advanced indices."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index: Any) -> bool:
    """True for indices that cannot select an element twice (ints, slices, None, ..., masks)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
        or (isinstance(p, np.ndarray) and p.dtype == np.bool_)
        for p in parts
    )


class GetItem(Op):
    """Indexing. The gradient scatters back with repeated indices adding up."""

    def forward(self, a: np.ndarray, index: Any) -> np.ndarray:
        self.index = index
        try:
            return a[index]
        except (IndexError, TypeError) as e:
            raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {a.shape}: {e}") from None

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (ScatterAdd.apply(grad, index=self.index, shape=a.shape),)


class ScatterAdd(Op):
    """zeros(shape) with ``values`` added at ``index``: the adjoint of GetItem."""

    def forward(self, values: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        self.index = index
        out = np.zeros(shape, dtype=values.dtype)
        if _is_basic(index):
            out[index] = values
        else:
            np.add.at(out, index, values)
        return out

    def backward(self, grad: Value, out: Value, a: Value) -> Grads:
        return (GetItem.apply(grad, index=self.index),)


class Concatenate(Op):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        try:
            return np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise OpError(f"concatenate: cannot join shapes {shapes} along axis {axis}: {e}") from None

    def backward(self, grad: Value, out: Value, *inputs: Value) -> Grads:
        axis = self.axis % grad.ndim
        grads, start = [], 0
        for t, need in zip(inputs, self.needs_input_grad):
            stop = start + t.shape[axis]
            if need:
                grads.append(GetItem.apply(grad, index=(slice(None),) * axis + (slice(start, stop),)))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(tensors) == 0:
        raise OpError("concatenate: needs at least one tensor")
    tensors = as_tensors(tensors)
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = as_tensors(tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise OpError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)
