"""Loss functions with torch.nn.functional's names, signatures and defaults.

Each is a composite of the engine's ops, so its gradient (and second derivative) is derived,
not written; ``mse_loss`` is the engine's fused ``squared_error``. ``reduction`` is "none",
"mean" (the default) or "sum" as in torch; ``kl_div`` also takes "batchmean".

Targets of class indices, masks and weights are constants (no gradient, as in torch, whose
``nll_loss`` and ``binary_cross_entropy`` do not differentiate their weights either); a
target of probabilities or values is differentiable.

Conventions at non-differentiable points, all torch's:

- ``l1_loss`` at d = input - target = 0: gradient 0 (sign(0) = 0).
- ``smooth_l1_loss`` at |d| = beta and ``huber_loss`` at |d| = delta: the linear branch
  (torch's forward tests |d| < beta), whose first derivative, sign(d) (times delta), equals the
  quadratic branch's there; so the first derivative is continuous and the second is 0 at the kink.
- ``binary_cross_entropy`` clamps each log at -100 (so a probability of exactly 0 or 1 costs at most
  100, not inf), and where the clamp acts the term's gradient is 0.
- ``gaussian_nll_loss`` clamps ``var`` at ``eps`` outside the graph, as torch does: below ``eps`` the
  loss is taken at ``eps`` and its gradient, evaluated there, passes to ``var`` unchanged.

Where we differ from torch on purpose:

- The deprecated ``size_average`` and ``reduce`` arguments are not taken, and every argument that torch
  places after them is keyword-only, so a positional call cannot mean something else here.
- ``input`` and ``target`` of different shapes are refused (torch broadcasts most elementwise losses
  with a warning that the result is likely wrong).
- ``kl_div`` with ``log_target=False`` refuses a negative target (torch returns NaN), and at a target
  of 0 its term t log t is 0 with gradient 0 with respect to t (torch's gradient there is NaN).
- ``binary_cross_entropy``'s gradient is the clamped loss's exact one; torch's backward divides by
  max(x (1 - x), 1e-12) instead, which differs where x (1 - x) < 1e-12.
- The ``weight`` argument that torch 2.6+ added to ``mse_loss``, ``l1_loss`` and ``huber_loss`` is not taken.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, unwrap, wrap
from tinygrad_vae.ops.activations import log_softmax, softplus
from tinygrad_vae.ops.elementwise import log, where
from tinygrad_vae.ops.losses import squared_error

REDUCTIONS = ("none", "mean", "sum")
LOG_CLAMP = -100.0  # torch's floor for binary_cross_entropy's logs


# --------------------------------------------------------------------------
# shared checks and helpers
# --------------------------------------------------------------------------


def _check_reduction(reduction: str, op: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in allowed:
        raise OpError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(values: Tensor, reduction: str, op: str) -> Tensor:
    """The elementwise losses kept ("none"), added up ("sum") or averaged ("mean").

    (The engine's ``ops.losses`` reduces inside one op's forward, on arrays; these composites
    reduce with Tensor ops, so the reduction's gradient is derived like the rest.)
    """
    _check_reduction(reduction, op)
    if reduction == "none":
        return values
    return values.sum() if reduction == "sum" else values.mean()


def _operand(x: Any, like: Tensor) -> Tensor:
    """A differentiable operand (a target of values, a variance) as a Tensor; arrays take ``like``'s dtype."""
    return x if isinstance(x, Tensor) else wrap(np.asarray(x, dtype=like.dtype))


def _constant(x: Any, like: Tensor) -> np.ndarray:
    """A weight or mask's values as an array of ``like``'s dtype (a constant: no gradient flows to it)."""
    return np.asarray(unwrap(x), dtype=like.dtype)


def _check_same_shape(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        raise OpError(f"{op}: target shape {target.shape} must equal input shape {input.shape}")


def _check_broadcasts_to(x: np.ndarray, shape: tuple[int, ...], name: str, op: str) -> None:
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"{op}: {name} of shape {x.shape} must broadcast to the input's shape {shape}")


# --------------------------------------------------------------------------
# classification: nll_loss and cross_entropy
# --------------------------------------------------------------------------


def _class_axis(input: Tensor, op: str) -> int:
    """Torch's layout: (C,) unbatched, else (N, C, d1, ...) with the classes on axis 1."""
    if input.ndim == 0:
        raise OpError(f"{op}: input must have a class axis: shape (C,), (N, C) or (N, C, d1, ...), got shape ()")
    return 0 if input.ndim == 1 else 1


def _class_weights(weight: Any, input: Tensor, axis: int, op: str) -> np.ndarray:
    """The per-class weights (ones when None), shaped to broadcast along the input's class axis."""
    n_classes = input.shape[axis]
    w = np.ones(n_classes, dtype=input.dtype) if weight is None else _constant(weight, input)
    if w.shape != (n_classes,):
        raise OpError(f"{op}: weight must have shape ({n_classes},), one per class, got {w.shape}")
    return w.reshape((n_classes,) + (1,) * (input.ndim - axis - 1))


def _target_coefficients(
    input: Tensor, target: Any, weights: np.ndarray, axis: int, ignore_index: int, op: str
) -> tuple[np.ndarray, np.ndarray]:
    """For class-index targets: ``onehot``, shaped like the input, with weight[t] at each target's class t
    and 0 elsewhere and for ignored targets; and ``kept``, the targets that are not ignored (with the
    class axis kept as length 1).

    ``-(log_probs * onehot).sum(axis)`` is then each target's weighted negative log-probability.
    """
    t = np.asarray(unwrap(target))
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: a target of class indices must have an integer dtype, got {t.dtype} of shape {t.shape} "
            f"(a target of class probabilities has the input's shape {input.shape})"
        )
    expected = input.shape[:axis] + input.shape[axis + 1:]
    if t.shape != expected:
        raise OpError(
            f"{op}: target shape {t.shape} does not fit input shape {input.shape}: expected class indices "
            f"of shape {expected} (the input's without its class axis) or probabilities of shape {input.shape}"
        )
    n_classes = input.shape[axis]
    t = np.expand_dims(t, axis)
    kept = t != ignore_index
    bad = kept & ((t < 0) | (t >= n_classes))
    tracing.fail_if(bad, lambda t, bad: OpError(
        f"{op}: target class {t[bad][0]} is out of range for {n_classes} classes "
        f"(expected 0 <= target < {n_classes}, or ignore_index={ignore_index})"), t, bad)
    classes = np.arange(n_classes).reshape(weights.shape)
    return ((t == classes) & kept) * weights, kept


def _reduce_by_weight(losses: Tensor, reduction: str, total_weight: np.ndarray, op: str) -> Tensor:
    """torch's reduction of class-index losses: "mean" divides by the summed weights of the kept targets.

    With every target ignored that sum is 0 and torch's mean is NaN with a zero gradient; so is ours.
    """
    if reduction != "mean":
        return _reduce(losses, reduction, op)
    if tracing.is_traced(total_weight):  # the same without a branch on the value, for a compiled step
        scale = 1.0 / np.maximum(total_weight, np.finfo(np.float64).tiny)
        return losses.sum() * scale + np.where(total_weight == 0, np.nan, 0.0)
    if total_weight == 0:
        return losses.sum() * 0.0 + np.nan
    return losses.sum() * (1.0 / total_weight)


def _nll(log_probs: Tensor, coefficients: np.ndarray, axis: int) -> Tensor:
    return -(log_probs * coefficients).sum(axis=axis)


def nll_loss(
    input: Tensor, target: Any, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """The negative log-likelihood of class-index targets, given log-probabilities ``input``.

    For input (N, C) (or (C,), or (N, C, d1, ...)) and target (N,) (or (), or (N, d1, ...)):
    loss_n = -weight[t_n] * input[n, t_n], and 0 where t_n == ignore_index. "mean" is torch's
    weighted mean: sum_n loss_n / sum_n weight[t_n] over the kept targets.
    """
    _check_reduction(reduction, "nll_loss")
    axis = _class_axis(input, "nll_loss")
    weights = _class_weights(weight, input, axis, "nll_loss")
    onehot, _ = _target_coefficients(input, target, weights, axis, ignore_index, "nll_loss")
    return _reduce_by_weight(_nll(input, onehot, axis), reduction, onehot.sum(), "nll_loss")


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits ``input`` (C,), (N, C) or (N, C, d1, ...) against ``target``, as torch's.

    With log_p = log_softmax(input) over the class axis and eps = label_smoothing:

    - class indices (an integer target, the input's shape without the class axis): the target's
      distribution is (1 - eps) onehot(t) + eps / C, each class c weighted by weight[c], so
      loss_n = -sum_c w_c ((1 - eps) [c = t_n] + eps / C) log_p[n, c], 0 for ignored targets; "mean"
      divides the sum by sum_n weight[t_n] over the kept targets, as ``nll_loss``.
    - class probabilities (a float target of the input's shape, differentiable): the target is
      smoothed to (1 - eps) p + eps / C and loss_n = -sum_c w_c p[n, c] log_p[n, c]; "mean" averages
      over the N (x d1 x ...) positions, and ``ignore_index`` does not apply.
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise OpError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    axis = _class_axis(input, op)
    n_classes = input.shape[axis]
    weights = _class_weights(weight, input, axis, op)
    log_probs = log_softmax(input, axis)
    if tuple(np.shape(unwrap(target))) == input.shape:
        if np.asarray(unwrap(target)).dtype.kind != "f":
            raise TypeError(f"{op}: a target of the input's shape {input.shape} holds class probabilities "
                            f"and must be floating point, got {np.asarray(unwrap(target)).dtype}")
        target = _operand(target, input)
        if label_smoothing > 0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        return _reduce(-(log_probs * (target * weights)).sum(axis=axis), reduction, op)
    onehot, kept = _target_coefficients(input, target, weights, axis, ignore_index, op)
    # Smoothing is linear in the target, and "mean" divides both parts by the same weight sum: one pass.
    smoothed = onehot * (1.0 - label_smoothing) + (kept * weights) * (label_smoothing / n_classes)
    return _reduce_by_weight(_nll(log_probs, smoothed, axis), reduction, onehot.sum(), op)


# --------------------------------------------------------------------------
# binary classification
# --------------------------------------------------------------------------


def _clamped_log(x: Tensor) -> Tensor:
    """max(log(x), -100) with gradient 0 where the clamp acts, without evaluating log(0)."""
    positive = x.data > 0
    return where(positive, log(where(positive, x, 1.0)).clip(min=LOG_CLAMP), LOG_CLAMP)


def _weighted(losses: Tensor, weight: Any, name: str, op: str) -> Tensor:
    if weight is None:
        return losses
    w = _constant(weight, losses)
    _check_broadcasts_to(w, losses.shape, name, op)
    return losses * w


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean") -> Tensor:
    """-weight (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1], each log clamped at -100 as torch's.

    ``weight`` (a constant) broadcasts to the input's shape.
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    target = _operand(target, input)
    _check_same_shape(input, target, op)
    x = input.data
    tracing.fail_if(~((x >= 0) & (x <= 1)), lambda x: OpError(
        f"{op}: input must hold probabilities in [0, 1], got values from {x.min()} to {x.max()} "
        f"(binary_cross_entropy_with_logits takes logits)"), x)
    losses = -(target * _clamped_log(input) + (1.0 - target) * _clamped_log(1.0 - input))
    return _reduce(_weighted(losses, weight, "weight", op), reduction, op)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Any, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """binary_cross_entropy(sigmoid(x), t) in a form that is stable for any logit x:

        -(p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) = (1 - t) x + (1 + (p - 1) t) softplus(-x)

    with p = ``pos_weight`` (a constant broadcast against the input, usually one per class on its
    last axis), since log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -x - softplus(-x).
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    target = _operand(target, input)
    _check_same_shape(input, target, op)
    if pos_weight is None:
        log_weight: Any = 1.0
    else:
        p = _constant(pos_weight, input)
        _check_broadcasts_to(p, input.shape, "pos_weight", op)
        log_weight = target * (p - 1.0) + 1.0
    losses = (1.0 - target) * input + softplus(-input) * log_weight
    return _reduce(_weighted(losses, weight, "weight", op), reduction, op)


# --------------------------------------------------------------------------
# regression
# --------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced: the engine's fused ``squared_error`` (one node)."""
    _check_reduction(reduction, "mse_loss")
    target = _operand(target, input)
    _check_same_shape(input, target, "mse_loss")
    return squared_error(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced; its gradient at input = target is 0 (sign(0) = 0, as torch)."""
    target = _operand(target, input)
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def _quadratic_then_linear(input: Tensor, target: Any, width: float, op: str) -> Tensor:
    """0.5 d^2 / width for |d| < width, else |d| - 0.5 width (d = input - target): smooth_l1 with beta = width.

    The linear branch holds at |d| = width itself, as in torch's forward.
    """
    target = _operand(target, input)
    _check_same_shape(input, target, op)
    d = input - target
    magnitude = d.abs()
    if width == 0:  # torch: smooth_l1 with beta = 0 is l1 (and no division by 0)
        return magnitude
    return where(magnitude.data < width, d * d * (0.5 / width), magnitude - 0.5 * width)


def smooth_l1_loss(input: Tensor, target: Any, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target), reduced; beta = 0 is l1_loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise OpError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _reduce(_quadratic_then_linear(input, target, beta, "smooth_l1_loss"), reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): delta times smooth_l1_loss with beta = delta."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise OpError(f"huber_loss: delta must be > 0, got {delta}")
    return _reduce(_quadratic_then_linear(input, target, delta, "huber_loss") * delta, reduction, "huber_loss")


def kl_div(input: Tensor, target: Any, *, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || q) pointwise, for log-probabilities ``input`` = log q, as torch's ``kl_div``:

        t (log t - input), with 0 log 0 = 0        (log_target=False: target t holds probabilities)
        exp(s) (s - input)                           (log_target=True: target s = log t)

    ``reduction``: "batchmean" divides the sum by the batch size (the first axis; the sum itself for a
    0-d input, as torch), which is the true KL divergence per example; "mean" divides by the number of
    elements, as torch's default does (torch warns that it is not the KL divergence).
    """
    op = "kl_div"
    _check_reduction(reduction, op, REDUCTIONS + ("batchmean",))
    target = _operand(target, input)
    _check_same_shape(input, target, op)
    if log_target:
        terms = target.exp() * (target - input)
    else:
        tracing.fail_if(target.data < 0, lambda t: OpError(
            f"{op}: target must hold probabilities (>= 0) unless log_target=True, got a minimum of {t.min()}"),
            target.data)
        positive = target.data > 0
        terms = target * log(where(positive, target, 1.0)) - target * input  # t log t = 0 at t = 0
    if reduction != "batchmean":
        return _reduce(terms, reduction, op)
    if input.ndim == 0:
        return terms.sum()
    if input.shape[0] == 0:
        raise OpError(f"{op}: cannot take the batchmean of an empty batch, input shape {input.shape}")
    return terms.sum() * (1.0 / input.shape[0])


def gaussian_nll_loss(
    input: Tensor, target: Any, var: Any, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """The negative log-likelihood of ``target`` under N(input, var), up to a constant unless ``full``:

        0.5 (log v + (input - target)^2 / v)  [+ 0.5 log(2 pi) when full],  v = max(var, eps)

    ``var`` (a Tensor, differentiable, or a number) has the input's shape, or lacks its last axis,
    or has it with exactly one axis of length 1 (one variance shared along it), as torch allows.
    The clamp is outside the graph as in torch: d loss/d var is the derivative at v, passed on as is.
    """
    op = "gaussian_nll_loss"
    target = _operand(target, input)
    _check_same_shape(input, target, op)
    if isinstance(var, (int, float)):  # one variance for every element, as torch
        var = wrap(np.full(input.shape, var, dtype=input.dtype))
    var = _operand(var, input)
    tracing.fail_if(var.data < 0, lambda v: OpError(f"{op}: var must be >= 0, got a minimum of {v.min()}"), var.data)
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.reshape(var.shape + (1,))
        elif not (var.ndim == input.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise OpError(f"{op}: var shape {var.shape} does not fit input shape {input.shape}: expected "
                          f"{input.shape}, {input.shape[:-1]}, or {input.shape} with one axis of length 1")
    _check_reduction(reduction, op)
    clamped = var + wrap(np.maximum(var.data, eps).astype(var.dtype) - var.data)  # the shift is a constant
    losses = (log(clamped) + (input - target) ** 2 / clamped) * 0.5
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(losses, reduction, op)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll_loss",
    "huber_loss", "kl_div", "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss",
]
