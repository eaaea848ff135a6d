"""The losses and attention of ``nn.functional``, from one catalogue, then their conventions and errors.

Each row's ``reference`` is a NumPy formula written from the loss's definition (torch's documented
formula), and its ``torch`` field is the torch.nn.functional function with the same arguments.
Inputs avoid the kinks by construction: probabilities inside [0.05, 0.95], differences kept 0.1
away from 0 (l1) and from +-beta / +-delta (smooth_l1, huber), variances well above eps.
Class-index targets, weights and masks are constants, so they travel in a Call's params.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_catalogue import SIDE, Call, OpCase, Shape, any_shape, catalogue_properties

from tinygrad_vae import OpError, Tensor, gradients
from tinygrad_vae.nn import functional as F
from tinygrad_vae.testing import arrays, away_from, broadcastable_shapes, positive_arrays

REDUCTION = st.sampled_from(["none", "mean", "sum"])


def torch_f() -> Any:
    import torch.nn.functional

    return torch.nn.functional


def as_torch(x: Any) -> Any:
    """A constant param (target indices, weights, masks) as a torch tensor; None stays None."""
    import torch

    return None if x is None else torch.as_tensor(x)


# --------------------------------------------------------------------------
# NumPy references, from the definitions
# --------------------------------------------------------------------------


def np_reduce(values: np.ndarray, reduction: str) -> Any:
    return values if reduction == "none" else np.sum(values) if reduction == "sum" else np.mean(values)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def class_axis(x: np.ndarray) -> int:
    return 0 if x.ndim == 1 else 1


def np_nll(log_p: np.ndarray, target: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str,
           label_smoothing: float = 0.0) -> Any:
    """-w[t] log_p[t] per position ((1 - eps) of it, plus eps/C of -sum_c w_c log_p[c]); mean by sum of w[t]."""
    axis = class_axis(log_p)
    n_classes = log_p.shape[axis]
    lp = np.moveaxis(log_p, axis, -1)  # (..., C)
    w = np.ones(n_classes) if weight is None else weight
    kept = target != ignore_index
    t = np.where(kept, target, 0)
    picked = np.take_along_axis(lp, t[..., None], axis=-1)[..., 0]
    nll = np.where(kept, -w[t] * picked, 0.0)
    smooth = np.where(kept, -np.sum(lp * w, axis=-1), 0.0)
    losses = (1 - label_smoothing) * nll + label_smoothing / n_classes * smooth
    if reduction == "mean":
        return np.sum(losses) / np.sum(np.where(kept, w[t], 0.0))
    return np_reduce(losses, reduction)


def np_cross_entropy(x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None, ignore_index: int = -100,
                     reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    return np_nll(np_log_softmax(x, class_axis(x)), target, weight, ignore_index, reduction, label_smoothing)


def np_cross_entropy_probabilities(x: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None,
                                   reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    axis = class_axis(x)
    n_classes = x.shape[axis]
    w = np.ones(n_classes) if weight is None else weight
    smoothed = p * (1 - label_smoothing) + label_smoothing / n_classes
    lp = np.moveaxis(np_log_softmax(x, axis), axis, -1)
    losses = -np.sum(lp * np.moveaxis(smoothed, axis, -1) * w, axis=-1)
    return np_reduce(losses, reduction)


def np_bce(x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None, reduction: str = "mean") -> Any:
    losses = -(t * np.log(x) + (1 - t) * np.log(1 - x))
    return np_reduce(losses if weight is None else losses * weight, reduction)


def np_bce_with_logits(x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None, reduction: str = "mean",
                       pos_weight: np.ndarray | None = None) -> Any:
    sig = 1.0 / (1.0 + np.exp(-x))
    p = 1.0 if pos_weight is None else pos_weight
    losses = -(p * t * np.log(sig) + (1 - t) * np.log(1 - sig))
    return np_reduce(losses if weight is None else losses * weight, reduction)


def np_smooth_l1(x: np.ndarray, t: np.ndarray, reduction: str = "mean", beta: float = 1.0) -> Any:
    d = np.abs(x - t)
    return np_reduce(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta) if beta else d, reduction)


def np_huber(x: np.ndarray, t: np.ndarray, reduction: str = "mean", delta: float = 1.0) -> Any:
    d = np.abs(x - t)
    return np_reduce(np.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)), reduction)


def np_kl_div(log_q: np.ndarray, t: np.ndarray, reduction: str = "mean", log_target: bool = False) -> Any:
    p, log_p = (np.exp(t), t) if log_target else (t, np.log(t))
    terms = p * (log_p - log_q)
    if reduction == "batchmean":
        return np.sum(terms) / (len(terms) if terms.ndim else 1)
    return np_reduce(terms, reduction)


def np_gaussian_nll(x: np.ndarray, t: np.ndarray, var: Any, full: bool = False, eps: float = 1e-6,
                    reduction: str = "mean") -> Any:
    var = np.asarray(var)
    if var.ndim == x.ndim - 1:  # one variance per row, shared along the last axis
        var = var[..., None]
    v = np.maximum(var, eps)
    losses = 0.5 * (np.log(v) + (x - t) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return np_reduce(losses, reduction)


def np_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, attn_mask: np.ndarray | None = None,
                 is_causal: bool = False, scale: float | None = None) -> np.ndarray:
    """softmax over the allowed keys of q k^T scale + float mask; rows with no allowed key give 0."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(scores.shape, dtype=bool)
    if is_causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if attn_mask is not None and attn_mask.dtype == np.bool_:
        allowed &= attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask
    top = np.max(np.where(allowed, scores, -np.inf), axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = np.sum(e, axis=-1, keepdims=True)
    return (e / np.where(total > 0, total, 1.0)) @ v


# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


def class_shapes() -> st.SearchStrategy[Shape]:
    """(C,), (N, C) or (N, C, d): torch's unbatched, batched and spatial layouts."""
    side = st.integers(1, SIDE)
    return st.one_of(st.tuples(side), st.tuples(side, side), st.tuples(side, side, side))


@st.composite
def class_targets(draw: Callable, shape: Shape) -> dict[str, Any]:
    """Class-index targets for logits of ``shape``, maybe with one target ignored (never all of them).

    ``ignore_index`` is torch's -100, or a real class (C - 1) that is then skipped wherever it occurs.
    """
    axis = 0 if len(shape) == 1 else 1
    n_classes = shape[axis]
    target = draw(hnp.arrays(np.int64, shape[:axis] + shape[axis + 1:], elements=st.integers(0, n_classes - 1)))
    params: dict[str, Any] = {"target": target}
    ignore = draw(st.sampled_from(["none", "default", "class"])) if target.size >= 2 else "none"
    if ignore == "default":
        target.flat[0] = -100
    elif ignore == "class" and n_classes >= 2:
        target.flat[0], target.flat[-1] = n_classes - 1, 0
        params["ignore_index"] = n_classes - 1
    return params


def class_weights(n_classes: int) -> st.SearchStrategy[np.ndarray | None]:
    return st.none() | positive_arrays((n_classes,), 0.5, 2.0)


@st.composite
def cross_entropy_inputs(draw: Callable, probabilities: bool = False, smoothing: bool = True) -> Call:
    shape = draw(class_shapes())
    n_classes = shape[0 if len(shape) == 1 else 1]
    params = {"weight": draw(class_weights(n_classes)), "reduction": draw(REDUCTION)}
    if smoothing:
        params["label_smoothing"] = draw(st.sampled_from([0.0, 0.2]))
    logits = draw(arrays(shape))
    if probabilities:
        axis = 0 if len(shape) == 1 else 1
        p = draw(positive_arrays(shape, 0.1, 1.0))
        return Call((logits, p / p.sum(axis=axis, keepdims=True)), params)
    return Call((logits,), {**params, **draw(class_targets(shape))})


@st.composite
def probability_pair(draw: Callable, weighted: bool = True, pos_weight: bool = False, logits: bool = False) -> Call:
    """Inputs (probabilities in [0.05, 0.95], or logits) and targets in [0, 1] of one shape, with a
    broadcast weight (a trailing part of the shape, some axes 1) and a pos_weight along the last axis."""
    shape = draw(any_shape())
    x = draw(arrays(shape) if logits else arrays(shape, 0.05, 0.95))
    params: dict[str, Any] = {"reduction": draw(REDUCTION)}
    if weighted:
        tail = shape[len(shape) - draw(st.integers(0, len(shape))):]
        w_shape = tuple(1 if draw(st.booleans()) else n for n in tail)
        params["weight"] = draw(st.none() | positive_arrays(w_shape, 0.5, 2.0))
    if pos_weight:
        params["pos_weight"] = draw(st.none() | positive_arrays(shape[-1:], 0.5, 3.0))
    return Call((x, draw(arrays(shape, 0.0, 1.0))), params)


@st.composite
def separated(draw: Callable, points: tuple[float, ...], params: dict[str, st.SearchStrategy]) -> Call:
    """(input, target) with input - target kept 0.1 away from each of ``points`` (the loss's kinks)."""
    shape = draw(any_shape())
    drawn = {name: draw(s) for name, s in params.items()}
    kinks = [p * drawn.get("beta", drawn.get("delta", 1.0)) for p in points]
    target = draw(arrays(shape))
    return Call((target + draw(away_from(shape, kinks)), target), drawn)


@st.composite
def kl_inputs(draw: Callable, log_target: bool) -> Call:
    shape = draw(any_shape())
    target = draw(arrays(shape, -3.0, 0.0) if log_target else arrays(shape, 0.05, 0.95))
    params = {"reduction": draw(st.sampled_from(["none", "mean", "sum", "batchmean"])), "log_target": log_target}
    return Call((draw(arrays(shape, -3.0, 0.0)), target), params)


@st.composite
def gaussian_nll_inputs(draw: Callable, scalar_var: bool = False) -> Call:
    """var of the input's shape, without its last axis, or with one axis of length 1; or one number."""
    shape = draw(any_shape(min_dims=1))
    params = {"full": draw(st.booleans()), "reduction": draw(REDUCTION)}
    x, t = draw(arrays(shape)), draw(arrays(shape))
    if scalar_var:
        return Call((x, t), {**params, "var": draw(st.floats(0.1, 3.0))})
    kind = draw(st.sampled_from(["same", "row", "one_axis"]))
    if kind == "row":
        var_shape = shape[:-1]
    elif kind == "one_axis":
        shared = draw(st.integers(0, len(shape) - 1))
        var_shape = tuple(1 if i == shared else n for i, n in enumerate(shape))
    else:
        var_shape = shape
    return Call((x, t, draw(positive_arrays(var_shape))), params)


@st.composite
def attention_inputs(draw: Callable, mask: str) -> Call:
    """query (..., L, E), key (..., S, E), value (..., S, Ev), batch axes broadcasting; ``mask`` is
    "none", "bool" (rows fully masked included), "float" (an additive mask) or "causal"."""
    batch = draw(broadcastable_shapes(n=3, max_dims=2, max_side=2))
    n_q, n_k, e, ev = (draw(st.integers(1, SIDE)) for _ in range(4))
    q, k, v = (draw(arrays(b + s)) for b, s in zip(batch, [(n_q, e), (n_k, e), (n_k, ev)]))
    params: dict[str, Any] = {"scale": draw(st.sampled_from([None, 0.7]))}
    if mask == "bool":
        params["attn_mask"] = draw(hnp.arrays(np.bool_, draw(st.sampled_from([(n_q, n_k), (1, n_k)]))))
    elif mask == "float":
        params["attn_mask"] = draw(arrays((n_q, n_k), -2.0, 2.0))
    elif mask == "causal":
        params["is_causal"] = True
    return Call((q, k, v), params)


@st.composite
def grouped_query_inputs(draw: Callable) -> Call:
    """enable_gqa: query (B, Hq, L, E) with Hq a multiple of key/value's head count Hkv."""
    kv_heads, group = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    b, n_q, n_k, e = (draw(st.integers(1, 2)) for _ in range(4))
    q = draw(arrays((b, kv_heads * group, n_q, e)))
    k, v = draw(arrays((b, kv_heads, n_k, e))), draw(arrays((b, kv_heads, n_k, e)))
    return Call((q, k, v), {"enable_gqa": True, "is_causal": draw(st.booleans())})


def torch_sdpa(q: Any, k: Any, v: Any, attn_mask: np.ndarray | None = None, **params: Any) -> Any:
    """torch's math backend: its CPU flash kernel has no second derivative."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        return torch_f().scaled_dot_product_attention(q, k, v, attn_mask=as_torch(attn_mask), **params)


# --------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------


def ce(x: Tensor, target: np.ndarray, weight: np.ndarray | None = None, **p: Any) -> Tensor:
    return F.cross_entropy(x, target, weight, **p)


def nll(x: Tensor, target: np.ndarray, weight: np.ndarray | None = None, **p: Any) -> Tensor:
    return F.nll_loss(x, target, weight, **p)


CATALOGUE = [
    OpCase("cross_entropy_class_indices", ce, np_cross_entropy, cross_entropy_inputs(),
           torch=lambda x, target, weight=None, **p: torch_f().cross_entropy(x, as_torch(target), as_torch(weight), **p)),
    OpCase("cross_entropy_probabilities", lambda x, p, weight=None, **kw: F.cross_entropy(x, p, weight, **kw),
           np_cross_entropy_probabilities, cross_entropy_inputs(probabilities=True),
           torch=lambda x, p, weight=None, **kw: torch_f().cross_entropy(x, p, as_torch(weight), **kw)),
    OpCase("nll_loss", nll, lambda x, target, weight=None, ignore_index=-100, reduction="mean":
           np_nll(x, target, weight, ignore_index, reduction), cross_entropy_inputs(smoothing=False),
           torch=lambda x, target, weight=None, **p: torch_f().nll_loss(x, as_torch(target), as_torch(weight), **p)),
    # nll_loss is linear in its input: a cube after it lets gradgradcheck see a wrong scale or sign
    OpCase("nll_loss_cubed", lambda *a, **p: nll(*a, **p) ** 3,
           lambda x, target, weight=None, ignore_index=-100, reduction="mean":
           np_nll(x, target, weight, ignore_index, reduction) ** 3, cross_entropy_inputs(smoothing=False),
           torch=lambda x, target, weight=None, **p:
           torch_f().nll_loss(x, as_torch(target), as_torch(weight), **p) ** 3),
    OpCase("binary_cross_entropy", lambda x, t, weight=None, **p: F.binary_cross_entropy(x, t, weight, **p),
           np_bce, probability_pair(),
           torch=lambda x, t, weight=None, **p: torch_f().binary_cross_entropy(x, t, as_torch(weight), **p)),
    OpCase("binary_cross_entropy_with_logits",
           lambda x, t, weight=None, **p: F.binary_cross_entropy_with_logits(x, t, weight, **p),
           np_bce_with_logits, probability_pair(pos_weight=True, logits=True),
           torch=lambda x, t, weight=None, pos_weight=None, **p: torch_f().binary_cross_entropy_with_logits(
               x, t, as_torch(weight), pos_weight=as_torch(pos_weight), **p)),
    OpCase("mse_loss", F.mse_loss, lambda x, t, reduction: np_reduce((x - t) ** 2, reduction),
           probability_pair(weighted=False, logits=True), torch=lambda x, t, **p: torch_f().mse_loss(x, t, **p)),
    # l1 rows without a cube have no torch field: torch's second derivative of l1 is a ZeroTensor,
    # which the catalogue's torch comparison cannot read; the cubed rows compare with torch instead.
    OpCase("l1_loss", F.l1_loss, lambda x, t, reduction: np_reduce(np.abs(x - t), reduction),
           separated((0.0,), {"reduction": REDUCTION})),
    OpCase("l1_loss_cubed", lambda x, t, **p: F.l1_loss(x, t, **p) ** 3,
           lambda x, t, reduction: np_reduce(np.abs(x - t), reduction) ** 3,
           separated((0.0,), {"reduction": REDUCTION}), torch=lambda x, t, **p: torch_f().l1_loss(x, t, **p) ** 3),
    OpCase("smooth_l1_loss", F.smooth_l1_loss, np_smooth_l1,
           separated((-1.0, 1.0), {"reduction": REDUCTION, "beta": st.sampled_from([0.5, 1.0, 2.0])}),
           torch=lambda x, t, **p: torch_f().smooth_l1_loss(x, t, **p)),
    OpCase("smooth_l1_loss_beta_0", F.smooth_l1_loss, np_smooth_l1,
           separated((0.0,), {"reduction": REDUCTION, "beta": st.just(0.0)})),
    OpCase("smooth_l1_loss_beta_0_cubed", lambda x, t, **p: F.smooth_l1_loss(x, t, **p) ** 3,
           lambda x, t, **p: np_smooth_l1(x, t, **p) ** 3,
           separated((0.0,), {"reduction": REDUCTION, "beta": st.just(0.0)}),
           torch=lambda x, t, **p: torch_f().smooth_l1_loss(x, t, **p) ** 3),
    OpCase("huber_loss", F.huber_loss, np_huber,
           separated((-1.0, 1.0), {"reduction": REDUCTION, "delta": st.sampled_from([0.5, 1.0, 1.5])}),
           torch=lambda x, t, **p: torch_f().huber_loss(x, t, **p)),
    OpCase("kl_div", F.kl_div, np_kl_div, kl_inputs(log_target=False),
           torch=lambda x, t, **p: torch_f().kl_div(x, t, **p)),
    OpCase("kl_div_log_target", F.kl_div, np_kl_div, kl_inputs(log_target=True),
           torch=lambda x, t, **p: torch_f().kl_div(x, t, **p)),
    OpCase("gaussian_nll_loss", F.gaussian_nll_loss, np_gaussian_nll, gaussian_nll_inputs(),
           torch=lambda x, t, var, **p: torch_f().gaussian_nll_loss(x, t, var, **p)),
    OpCase("gaussian_nll_loss_number_var", lambda x, t, var, **p: F.gaussian_nll_loss(x, t, var, **p),
           np_gaussian_nll, gaussian_nll_inputs(scalar_var=True),
           torch=lambda x, t, var, **p: torch_f().gaussian_nll_loss(x, t, var, **p)),
    OpCase("attention", F.scaled_dot_product_attention, np_attention, attention_inputs("none"),
           torch=torch_sdpa),
    OpCase("attention_bool_mask", F.scaled_dot_product_attention, np_attention, attention_inputs("bool"),
           torch=torch_sdpa),
    OpCase("attention_float_mask", F.scaled_dot_product_attention, np_attention, attention_inputs("float"),
           torch=torch_sdpa),
    OpCase("attention_causal", F.scaled_dot_product_attention, np_attention, attention_inputs("causal"),
           torch=torch_sdpa),
    OpCase("attention_grouped_query", F.scaled_dot_product_attention,
           lambda q, k, v, enable_gqa, is_causal: np_attention(
               q, np.repeat(k, q.shape[1] // k.shape[1], axis=1), np.repeat(v, q.shape[1] // v.shape[1], axis=1),
               is_causal=is_causal),
           grouped_query_inputs(), torch=torch_sdpa),
]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# conventions at the kinks and clamps (values worked out by hand)
# --------------------------------------------------------------------------


def grads_of(loss: Callable[..., Tensor], *values: Any, **params: Any) -> list[np.ndarray]:
    xs = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    loss(*xs, **params).backward()
    return [x.grad.data for x in xs]


def second_derivative(loss: Callable[..., Tensor], x: list[float], t: list[float], **params: Any) -> np.ndarray:
    """d/dx of sum(d loss / dx): the diagonal of the Hessian of a sum of elementwise terms."""
    xt = Tensor(np.asarray(x), requires_grad=True)
    (g,) = gradients(loss(xt, Tensor(np.asarray(t)), reduction="sum", **params), [xt], create_graph=True)
    (gg,) = gradients(g.sum(), [xt])
    return gg.data


def test_l1_gradient_at_zero_difference_is_zero() -> None:
    gx, gt = grads_of(F.l1_loss, [1.0, 2.0, 3.0], [2.0, 2.0, 1.0], reduction="sum")
    np.testing.assert_array_equal(gx, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gt, [1.0, 0.0, -1.0])


@pytest.mark.parametrize("loss, width, key", [(F.smooth_l1_loss, 0.5, "beta"), (F.huber_loss, 2.0, "delta")])
def test_smooth_l1_and_huber_take_the_linear_branch_at_the_kink(loss: Callable[..., Tensor], width: float,
                                                                key: str) -> None:
    """At |d| = width both branches have slope sign(d) (smooth_l1) or delta sign(d) (huber); the second
    derivative there is the linear branch's, 0, as torch's forward (|d| < width is quadratic)."""
    scale = 1.0 if key == "beta" else width
    x, t = [width, -width, 0.25 * width], [0.0, 0.0, 0.0]
    (gx,) = grads_of(lambda a: loss(a, Tensor(np.asarray(t)), reduction="sum", **{key: width}), x)
    np.testing.assert_allclose(gx, [scale, -scale, 0.25 * scale], rtol=1e-15)
    quadratic = 1.0 / width if key == "beta" else 1.0
    np.testing.assert_allclose(second_derivative(loss, x, t, **{key: width}), [0.0, 0.0, quadratic], rtol=1e-15)
    value = loss(Tensor(np.asarray([width])), Tensor(np.zeros(1)), **{key: width}).item()
    assert value == pytest.approx(0.5 * width * scale, rel=1e-15)  # both branches agree at the kink


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_clamps_each_log_at_minus_100(dtype: Any) -> None:
    """Probability 0 for a positive target and 1 for a negative one cost 100 each (torch's clamp), and
    the clamped terms pass no gradient (no inf or NaN)."""
    x = Tensor(np.array([0.0, 1.0, 0.5], dtype=dtype), requires_grad=True)
    loss = F.binary_cross_entropy(x, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, np.log(2.0)], rtol=1e-6)
    assert loss.dtype == dtype
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0, -2.0], rtol=1e-6)  # d/dx -log x = -1/x at 0.5


def test_gaussian_nll_loss_clamps_var_at_eps_and_passes_its_gradient_through() -> None:
    """var = 0.01 < eps = 0.1 is taken as 0.1: loss 0.5 (log 0.1 + d^2 / 0.1) for d = 1, and d/dvar is
    the derivative at 0.1, 0.5 (1/0.1 - 1/0.01) = -45, passed on to var unchanged (torch's convention)."""
    x, t, var = (Tensor(np.array([v]), requires_grad=True) for v in (1.0, 0.0, 0.01))
    loss = F.gaussian_nll_loss(x, t, var, eps=0.1, reduction="sum")
    assert loss.item() == pytest.approx(0.5 * (np.log(0.1) + 10.0), rel=1e-14)
    loss.backward()
    np.testing.assert_allclose(var.grad.data, [-45.0], rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, [10.0], rtol=1e-12)


def test_kl_div_at_a_zero_target_is_zero_with_zero_target_gradient() -> None:
    log_q = Tensor(np.log(np.array([0.5, 0.5])), requires_grad=True)
    target = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    loss = F.kl_div(log_q, target, reduction="sum")
    assert loss.item() == pytest.approx(np.log(2.0), rel=1e-15)  # 0 + 1 (log 1 - log 0.5)
    loss.backward()
    np.testing.assert_allclose(target.grad.data, [-np.log(0.5), 1.0 - np.log(0.5)], rtol=1e-15)
    np.testing.assert_array_equal(log_q.grad.data, [0.0, -1.0])


# --------------------------------------------------------------------------
# edge cases
# --------------------------------------------------------------------------


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient() -> None:
    """torch's weighted mean over no targets is 0/0 = NaN, and its gradient is 0."""
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([-100, -100]), label_smoothing=0.1)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))


def test_cross_entropy_weighted_mean_by_hand() -> None:
    """Uniform logits over 2 classes: each kept loss is w[t] log 2, and the mean divides by sum of w[t]."""
    loss = F.cross_entropy(Tensor(np.zeros((3, 2))), np.array([0, 1, 1]), np.array([1.0, 3.0]), ignore_index=0)
    assert loss.item() == pytest.approx(np.log(2.0), rel=1e-15)  # (3 + 3) log 2 / (3 + 3)
    loss = F.cross_entropy(Tensor(np.zeros((3, 2))), np.array([0, 1, 1]), np.array([1.0, 3.0]), reduction="sum")
    assert loss.item() == pytest.approx(7.0 * np.log(2.0), rel=1e-15)


def test_unbatched_cross_entropy_takes_a_scalar_target() -> None:
    loss = F.cross_entropy(Tensor(np.array([0.0, 0.0, 0.0, 0.0])), np.array(2), reduction="none")
    assert loss.shape == ()
    assert loss.item() == pytest.approx(np.log(4.0), rel=1e-15)


def test_attention_row_with_every_key_masked_is_zero_with_zero_gradient() -> None:
    q = Tensor(np.ones((2, 3)), requires_grad=True)
    k = Tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    v = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    mask = np.array([[True, False, True], [False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out.data[1], [0.0, 0.0])
    assert np.isfinite(out.data).all()
    out[1].sum().backward()
    for t in (q, k, v):
        np.testing.assert_array_equal(t.grad.data, np.zeros(t.shape))


def test_attention_float_mask_of_minus_inf_masks_like_false() -> None:
    q, k, v = (Tensor(np.random.default_rng(0).standard_normal((3, 2))) for _ in range(3))
    mask = np.array([[True, False, True], [False, False, False], [True, True, False]])
    additive = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, attn_mask=additive).data,
                                  F.scaled_dot_product_attention(q, k, v, attn_mask=mask).data)


def test_attention_causal_mask_is_aligned_at_the_top_left() -> None:
    """L = 2 queries, S = 3 keys: query 0 sees key 0 only, query 1 keys 0 and 1 (torch's tril(L, S))."""
    v = Tensor(np.array([[1.0], [2.0], [4.0]]))
    out = F.scaled_dot_product_attention(Tensor(np.zeros((2, 1))), Tensor(np.zeros((3, 1))), v, is_causal=True)
    np.testing.assert_allclose(out.data, [[1.0], [1.5]], rtol=1e-15)


def test_attention_grouped_query_heads_share_key_value_heads() -> None:
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 2))
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), enable_gqa=True)
    # query heads 0, 1 use key/value head 0; heads 2, 3 use head 1 (torch's repeat_interleave)
    np.testing.assert_allclose(out.data, np_attention(q, np.repeat(k, 2, axis=0), np.repeat(v, 2, axis=0)),
                               rtol=1e-12)


# --------------------------------------------------------------------------
# errors name the function, the shapes or values, and what was expected
# --------------------------------------------------------------------------


def test_cross_entropy_names_an_out_of_range_class() -> None:
    with pytest.raises(OpError, match=r"cross_entropy: target class 7 is out of range for 3 classes "
                                      r"\(expected 0 <= target < 3, or ignore_index=-100\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 7]))
    with pytest.raises(OpError, match=r"nll_loss: target class -1 is out of range for 3 classes"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([-1, 0]))


def test_cross_entropy_names_a_target_of_the_wrong_shape() -> None:
    with pytest.raises(OpError, match=r"cross_entropy: target shape \(3,\) does not fit input shape \(2, 3\): "
                                      r"expected class indices of shape \(2,\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match=r"cross_entropy: a target of class indices must have an integer dtype"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"holds class probabilities and must be floating point, got int64"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(OpError, match=r"cross_entropy: weight must have shape \(3,\), one per class, got \(2,\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), np.ones(2))


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div,
                                  F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_elementwise_losses_refuse_targets_of_another_shape(loss: Callable[..., Tensor]) -> None:
    with pytest.raises(OpError, match=rf"{loss.__name__}: target shape \(3,\) must equal input shape \(2, 3\)"):
        loss(Tensor(np.full((2, 3), 0.5)), Tensor(np.full(3, 0.5)))


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss,
                                  F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_losses_name_an_unknown_reduction(loss: Callable[..., Tensor]) -> None:
    with pytest.raises(OpError, match=rf"{loss.__name__}: reduction must be one of \('none', 'mean', 'sum'\), "
                                      r"got 'batchmean'"):
        loss(Tensor(np.full(2, 0.5)), Tensor(np.full(2, 0.5)), reduction="batchmean")


def test_class_and_distribution_losses_name_an_unknown_reduction() -> None:
    with pytest.raises(OpError, match=r"cross_entropy: reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")
    with pytest.raises(OpError, match=r"nll_loss: reduction must be one of"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")
    with pytest.raises(OpError, match=r"kl_div: reduction must be one of \('none', 'mean', 'sum', 'batchmean'\)"):
        F.kl_div(Tensor(np.zeros(2)), Tensor(np.ones(2)), reduction="avg")
    with pytest.raises(OpError, match=r"gaussian_nll_loss: reduction must be one of"):
        F.gaussian_nll_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), 1.0, reduction="avg")


def test_value_errors_name_the_loss_and_the_bad_values() -> None:
    with pytest.raises(OpError, match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\], "
                                      r"got values from -0.5 to 0.5"):
        F.binary_cross_entropy(Tensor(np.array([-0.5, 0.5])), Tensor(np.array([0.0, 1.0])))
    with pytest.raises(OpError, match=r"kl_div: target must hold probabilities \(>= 0\) unless log_target=True, "
                                      r"got a minimum of -0.1"):
        F.kl_div(Tensor(np.zeros(2)), Tensor(np.array([-0.1, 1.1])))
    with pytest.raises(OpError, match=r"gaussian_nll_loss: var must be >= 0, got a minimum of -1.0"):
        F.gaussian_nll_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), Tensor(np.array([-1.0, 1.0])))
    with pytest.raises(OpError, match=r"smooth_l1_loss: beta must be >= 0, got -1.0"):
        F.smooth_l1_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), beta=-1.0)
    with pytest.raises(OpError, match=r"huber_loss: delta must be > 0, got 0.0"):
        F.huber_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), delta=0.0)


def test_kl_div_batchmean_of_an_empty_batch_is_named() -> None:
    with pytest.raises(OpError, match=r"kl_div: cannot take the batchmean of an empty batch, input shape \(0, 2\)"):
        F.kl_div(Tensor(np.zeros((0, 2))), Tensor(np.zeros((0, 2))), reduction="batchmean")


def test_gaussian_nll_loss_names_a_var_of_the_wrong_shape() -> None:
    with pytest.raises(OpError, match=r"gaussian_nll_loss: var shape \(2, 1\) does not fit input shape \(2, 3, 4\)"):
        F.gaussian_nll_loss(Tensor(np.zeros((2, 3, 4))), Tensor(np.zeros((2, 3, 4))), Tensor(np.ones((2, 1))))


def test_weights_that_do_not_broadcast_are_named() -> None:
    with pytest.raises(OpError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \(2,\) must broadcast "
                                      r"to the input's shape \(2, 3\)"):
        F.binary_cross_entropy_with_logits(Tensor(np.zeros((2, 3))), Tensor(np.zeros((2, 3))),
                                           pos_weight=np.ones(2))


def test_attention_refuses_dropout_and_names_bad_shapes() -> None:
    q = Tensor(np.zeros((2, 3)))
    with pytest.raises(OpError, match=r"scaled_dot_product_attention: dropout_p=0.1 is not supported: "
                                      r"torch's signature has no generator argument"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)
    with pytest.raises(OpError, match=r"scaled_dot_product_attention: query \(2, 3\) and key \(2, 4\) must have "
                                      r"the same feature size"):
        F.scaled_dot_product_attention(q, Tensor(np.zeros((2, 4))), q)
    with pytest.raises(OpError, match=r"attn_mask of shape \(3, 3\) must broadcast to the scores' shape \(2, 2\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), dtype=bool))
    with pytest.raises(OpError, match=r"give attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), dtype=bool), is_causal=True)
