"""The engine's first ops, from one catalogue: forward against NumPy, first and second derivatives.

``CATALOGUE`` lists each op with the NumPy function it must agree with and
how to draw its inputs: shapes (broadcasting pairs for binary ops), values
kept away from the op's kinks, poles and ties by construction, and its
parameters (axes, keepdims, exponents, indices). ``catalogue_properties``
(in ``op_catalogue.py``) turns the table into the property tests: forward,
first and second derivatives, float32 kept, and torch where installed.

Below the catalogue: the documented conventions at non-differentiable points
and the numerically delicate cases (|x| = 1000, huge and all -inf logsumexp).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_catalogue import (
    SIDE,
    Call,
    OpCase,
    Shape,
    any_shape,
    axis_choice,
    binary,
    catalogue_properties,
    distinct,
    joinable,
    kinks_at,
    one_axis,
    reduction_params,
    separated_pair,
    ternary,
    torch_module,
    unary,
)

from tinygrad_vae import (
    OpError,
    Tensor,
    affine,
    concatenate,
    linear,
    log_sigmoid,
    log_softmax,
    matmul,
    maximum,
    minimum,
    softmax,
    stack,
    transpose,
    where,
)
from tinygrad_vae.ops import gaussian_kl, reparameterize, squared_error
from tinygrad_vae.testing import arrays, away_from, away_from_zero, broadcastable_shapes, positive_arrays, shapes

# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


def exponents(*values: float) -> Callable[[Shape], st.SearchStrategy[dict[str, Any]]]:
    return lambda shape: st.fixed_dictionaries({"exponent": st.sampled_from(values)})


@st.composite
def matmul_inputs(draw: Callable, left_dims: int, right_dims: int) -> Call:
    """Operands for ``a @ b``: 1-D vectors, matrices, or (for dims 3) batches whose leading axes broadcast."""
    n, k, m = (draw(st.integers(1, SIDE)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(n=2, max_dims=2, max_side=2))
    a_shape = {1: (k,), 2: (n, k), 3: batch_a + (n, k)}[left_dims]
    b_shape = {1: (k,), 2: (k, m), 3: batch_b + (k, m)}[right_dims]
    return Call((draw(arrays(a_shape)), draw(arrays(b_shape))))


@st.composite
def transposed_matmul_inputs(draw: Callable, dims: int) -> Call:
    """Operands for ``matmul(a, b, transpose_a, transpose_b)``: those of ``a @ b``, stored transposed where flagged."""
    call = draw(matmul_inputs(dims, dims))
    flags = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    stored = tuple(np.swapaxes(x, -1, -2) if flag else x for x, flag in zip(call.arrays, flags))
    return Call(stored, {"transpose_a": flags[0], "transpose_b": flags[1]})


def np_transposed_matmul(a: np.ndarray, b: np.ndarray, transpose_a: bool, transpose_b: bool) -> np.ndarray:
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a, np.swapaxes(b, -1, -2) if transpose_b else b)


@st.composite
def reduced(draw: Callable, inputs: st.SearchStrategy[Call]) -> Call:
    """A loss op's inputs, with reduction "sum", "mean" or (given a batch axis) "batchmean"."""
    call = draw(inputs)
    has_batch_axis = max(a.ndim for a in call.arrays) > 0
    choices = ["sum", "mean", "batchmean"] if has_batch_axis else ["sum", "mean"]
    return Call(call.arrays, {**call.params, "reduction": draw(st.sampled_from(choices))})


def np_reduce(values: np.ndarray, reduction: str) -> Any:
    if reduction == "batchmean":  # each example's sum, averaged over the first axis
        return np.mean(np.sum(values.reshape(len(values), -1), axis=1))
    return np.sum(values) if reduction == "sum" else np.mean(values)


@st.composite
def affine_inputs(draw: Callable) -> Call:
    batch = draw(shapes(min_dims=0, max_dims=2, max_side=SIDE))
    n_in, n_out = draw(st.integers(1, SIDE)), draw(st.integers(1, SIDE))
    bias_shape = draw(st.sampled_from([(n_out,), ()]))
    return Call((draw(arrays(batch + (n_in,))), draw(arrays((n_in, n_out))), draw(arrays(bias_shape))))


@st.composite
def linear_inputs(draw: Callable) -> Call:
    """torch's layout: x (..., n_in), W (n_out, n_in), b (n_out,)."""
    batch = draw(shapes(min_dims=0, max_dims=2, max_side=SIDE))
    n_in, n_out = draw(st.integers(1, SIDE)), draw(st.integers(1, SIDE))
    return Call((draw(arrays(batch + (n_in,))), draw(arrays((n_out, n_in))), draw(arrays((n_out,)))))


@st.composite
def where_inputs(draw: Callable) -> Call:
    sc, sa, sb = draw(broadcastable_shapes(n=3, max_dims=3, max_side=SIDE))
    cond = draw(hnp.arrays(np.bool_, sc))
    return Call((draw(arrays(sa)), draw(arrays(sb))), {"cond": cond})


def reshape_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """The same sides in another order, maybe one of them inferred (-1), maybe with a new axis of 1."""

    @st.composite
    def target(draw: Callable) -> dict[str, Any]:
        sides = list(draw(st.permutations(shape))) + [1] * draw(st.integers(0, 1))
        if sides and draw(st.booleans()):
            sides[draw(st.integers(0, len(sides) - 1))] = -1
        return {"shape": tuple(sides)}

    return target()


def permutation(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.permutations(range(len(shape))).map(lambda p: {"axes": tuple(p)})


@st.composite
def broadcast_to_inputs(draw: Callable) -> Call:
    small, other = draw(broadcastable_shapes(n=2, max_dims=3, max_side=SIDE))
    return Call((draw(arrays(small)),), {"shape": np.broadcast_shapes(small, other)})


@st.composite
def squeeze_inputs(draw: Callable) -> Call:
    """Shapes with some axes of length 1; squeeze all of them, or some named ones."""
    shape = draw(any_shape())
    shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    ones = [i for i, n in enumerate(shape) if n == 1]
    named = draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
    axis = None if not named else named[0] if len(named) == 1 else tuple(named)
    return Call((draw(arrays(shape)),), {"axis": axis})


def unsqueeze_axis(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": st.integers(-len(shape) - 1, len(shape))})


def slices(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """Basic indexing: a slice (steps of either sign) per leading axis, or an int."""
    per_axis = [
        st.one_of(
            st.builds(slice, st.integers(-n, n) | st.none(), st.integers(-n, n) | st.none(),
                      st.sampled_from([1, 2, -1, None])),
            st.integers(-n, n - 1),
        )
        for n in shape
    ]
    return st.tuples(*per_axis).map(lambda index: {"index": index})


@st.composite
def repeated_indices(draw: Callable, n: int) -> np.ndarray:
    """An integer index array into an axis of length ``n`` that selects one element at least twice."""
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
    index = np.asarray(picks + [picks[0]])
    return index.reshape(draw(st.sampled_from([(index.size,), (1, index.size)])))


def integer_array_index(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """x[idx] or x[:, idx] (with ndim >= 2), idx holding repeats, so gradients must add up."""
    axis = st.integers(0, min(1, len(shape) - 1))
    return axis.flatmap(
        lambda a: repeated_indices(shape[a]).map(lambda idx: {"index": (slice(None),) * a + (idx,)})
    )


def boolean_mask(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """A mask over the whole tensor or over its first axis."""
    mask_shape = st.sampled_from([shape, shape[:1]])
    return mask_shape.flatmap(lambda s: hnp.arrays(np.bool_, s)).map(lambda m: {"index": m})


@st.composite
def stack_inputs(draw: Callable) -> Call:
    shape = draw(any_shape())
    count = draw(st.integers(1, 3))
    return Call(tuple(draw(arrays(shape)) for _ in range(count)),
                {"axis": draw(st.integers(-len(shape) - 1, len(shape)))})


# --------------------------------------------------------------------------
# NumPy references (written directly from the definitions, not the engine's stable forms)
# --------------------------------------------------------------------------


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(x) / np.sum(np.exp(x), axis=axis, keepdims=True)


def np_clip(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    return np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


CLIP_BOUNDS = [(-1.0, 1.0), (None, 1.0), (-1.0, None)]

CATALOGUE: list[OpCase] = [
    # elementwise arithmetic, broadcasting
    OpCase("add", lambda a, b: a + b, np.add, binary()),
    OpCase("sub", lambda a, b: a - b, np.subtract, binary()),
    OpCase("mul", lambda a, b: a * b, np.multiply, binary()),
    OpCase("truediv", lambda a, b: a / b, np.divide, binary(right=lambda s: away_from_zero(s, margin=0.5))),
    OpCase("neg", lambda a: -a, np.negative, unary()),
    OpCase("radd_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, unary()),
    OpCase("rsub_scalar", lambda a: 1.5 - a, lambda a: 1.5 - a, unary()),
    OpCase("rtruediv_scalar", lambda a: 2.0 / a, lambda a: 2.0 / a,
           unary(values=lambda s: away_from_zero(s, margin=0.5))),
    OpCase("pow_integer_exponent", lambda a, exponent: a**exponent, lambda a, exponent: np.power(a, exponent),
           unary(params=exponents(0, 1, 2, 3))),
    OpCase("pow_real_exponent", lambda a, exponent: a**exponent, lambda a, exponent: np.power(a, exponent),
           unary(values=positive_arrays, params=exponents(0.5, -1.5, 2.5, -1.0))),
    OpCase("pow_tensor_exponent", lambda a, b: a**b, np.power,
           binary(left=lambda s: positive_arrays(s, low=0.5, high=2.5),
                  # away from 0: there torch zeroes d/da exactly, and with it the mixed second derivative
                  right=lambda s: away_from(s, [0.0], low=-2.0, high=2.0))),
    OpCase("rpow_scalar_base", lambda a: 2.0**a, lambda a: 2.0**a, unary()),
    OpCase("maximum", maximum, np.maximum, separated_pair()),
    OpCase("minimum", minimum, np.minimum, separated_pair()),
    OpCase("maximum_method_scalar", lambda a: a.maximum(0.5), lambda a: np.maximum(a, 0.5),
           unary(values=kinks_at(0.5))),
    OpCase("minimum_method", lambda a, b: a.minimum(b), np.minimum, separated_pair()),
    OpCase("where", lambda a, b, cond: where(cond, a, b), lambda a, b, cond: np.where(cond, a, b), where_inputs()),
    OpCase("clip", lambda a, lo, hi: a.clip(lo, hi), np_clip,
           unary(values=kinks_at(-1.0, 1.0),
                 params=lambda s: st.sampled_from(CLIP_BOUNDS).map(lambda b: {"lo": b[0], "hi": b[1]}))),
    OpCase("astype_float64", lambda a: a.astype(np.float64), lambda a: a.astype(np.float64), unary(),
           keeps_dtype=False),
    # elementwise functions
    OpCase("exp", lambda a: a.exp(), np.exp, unary()),
    OpCase("log", lambda a: a.log(), np.log, unary(values=positive_arrays)),
    OpCase("sqrt", lambda a: a.sqrt(), np.sqrt, unary(values=positive_arrays)),
    OpCase("abs", lambda a: a.abs(), np.abs, unary(values=away_from_zero)),
    OpCase("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0.0), unary(values=away_from_zero)),
    OpCase("leaky_relu", lambda a, slope: a.leaky_relu(slope), lambda a, slope: np.where(a > 0, a, slope * a),
           unary(values=away_from_zero,
                 params=lambda s: st.sampled_from([0.01, 0.2]).map(lambda v: {"slope": v}))),
    OpCase("sigmoid", lambda a: a.sigmoid(), np_sigmoid, unary(values=lambda s: arrays(s, -6.0, 6.0))),
    OpCase("tanh", lambda a: a.tanh(), np.tanh, unary()),
    OpCase("softplus", lambda a: a.softplus(), lambda a: np.log(1.0 + np.exp(a)),
           unary(values=lambda s: arrays(s, -6.0, 6.0))),
    OpCase("log_sigmoid", lambda a: a.log_sigmoid(), lambda a: np.log(np_sigmoid(a)),
           unary(values=lambda s: arrays(s, -6.0, 6.0))),
    OpCase("log_sigmoid_function", log_sigmoid, lambda a: -np.log(1.0 + np.exp(-a)), unary()),
    # reductions over None, an int axis or a tuple of axes, keepdims both ways
    OpCase("sum", lambda a, **p: a.sum(**p), np.sum, unary(params=reduction_params)),
    OpCase("mean", lambda a, **p: a.mean(**p), np.mean, unary(params=reduction_params)),
    OpCase("amax", lambda a, **p: a.amax(**p), np.max, unary(values=distinct, params=reduction_params)),
    OpCase("amin", lambda a, **p: a.amin(**p), np.min, unary(values=distinct, params=reduction_params)),
    OpCase("var", lambda a, correction, **p: a.var(correction=correction, **p),
           lambda a, correction, **p: np.var(a, ddof=correction, **p),
           unary(shape=any_shape(min_dims=1, min_side=2),
                 params=lambda s: st.fixed_dictionaries(
                     {"axis": axis_choice(len(s)), "keepdims": st.booleans(), "correction": st.sampled_from([0, 1])}))),
    OpCase("logsumexp", lambda a, **p: a.logsumexp(**p), np_logsumexp, unary(params=reduction_params)),
    OpCase("softmax", lambda a, axis: a.softmax(axis), np_softmax, unary(shape=any_shape(1), params=one_axis)),
    OpCase("softmax_function", lambda a, axis: softmax(a, axis), np_softmax,
           unary(shape=any_shape(1), params=one_axis)),
    OpCase("log_softmax", lambda a, axis: a.log_softmax(axis), lambda a, axis: np.log(np_softmax(a, axis)),
           unary(shape=any_shape(1), params=one_axis)),
    OpCase("log_softmax_function", lambda a, axis: log_softmax(a, axis), lambda a, axis: np.log(np_softmax(a, axis)),
           unary(shape=any_shape(1), params=one_axis)),
    # linear algebra
    OpCase("matmul_vector_vector", lambda a, b: a @ b, np.matmul, matmul_inputs(1, 1)),
    OpCase("matmul_vector_matrix", lambda a, b: a @ b, np.matmul, matmul_inputs(1, 2)),
    OpCase("matmul_matrix_vector", lambda a, b: a @ b, np.matmul, matmul_inputs(2, 1)),
    OpCase("matmul_matrix_matrix", matmul, np.matmul, matmul_inputs(2, 2)),
    OpCase("matmul_batched_broadcast", lambda a, b: a @ b, np.matmul, matmul_inputs(3, 3)),
    OpCase("matmul_batch_matrix", lambda a, b: a @ b, np.matmul, matmul_inputs(3, 2)),
    OpCase("matmul_vector_batch", lambda a, b: a @ b, np.matmul, matmul_inputs(1, 3)),
    OpCase("matmul_batch_vector", lambda a, b: a @ b, np.matmul, matmul_inputs(3, 1)),
    OpCase("matmul_transposed_matrices", matmul, np_transposed_matmul, transposed_matmul_inputs(2)),
    OpCase("matmul_transposed_batches", matmul, np_transposed_matmul, transposed_matmul_inputs(3)),
    OpCase("affine", affine, lambda x, w, b: x @ w + b, affine_inputs()),
    OpCase("linear", linear, lambda x, w, b: x @ w.T + b, linear_inputs()),
    # fused VAE pieces, against the unfused formulas
    OpCase("gaussian_kl", gaussian_kl, lambda mu, lv: -0.5 * (1.0 + lv - mu**2 - np.exp(lv)), binary()),
    OpCase("reparameterize", reparameterize, lambda mu, lv, eps: mu + eps * np.sqrt(np.exp(lv)), ternary()),
    OpCase("squared_error", squared_error, lambda a, b: np.square(a - b), binary()),
    OpCase("gaussian_kl_reduced", gaussian_kl,
           lambda mu, lv, reduction: np_reduce(-0.5 * (1.0 + lv - mu**2 - np.exp(lv)), reduction), reduced(binary())),
    OpCase("squared_error_reduced", squared_error,
           lambda a, b, reduction: np_reduce(np.square(a - b), reduction), reduced(binary())),
    # shapes
    OpCase("reshape", lambda a, shape: a.reshape(shape), lambda a, shape: a.reshape(shape),
           unary(params=reshape_params)),
    OpCase("flatten", lambda a: a.flatten(), lambda a: a.reshape(-1), unary()),
    OpCase("transpose", lambda a, axes: transpose(a, axes), np.transpose, unary(params=permutation)),
    OpCase("transpose_reverse", lambda a: transpose(a), np.transpose, unary()),
    OpCase("permute_3d", lambda a, axes: a.permute(*axes), np.transpose,  # 3-cycles: where inverting matters
           unary(shape=any_shape(min_dims=3), params=permutation)),
    OpCase("T", lambda a: a.T, lambda a: a.T, unary()),
    OpCase("mT", lambda a: a.mT, lambda a: np.swapaxes(a, -1, -2), unary(shape=any_shape(min_dims=2))),
    OpCase("broadcast_to", lambda a, shape: a.broadcast_to(shape), np.broadcast_to, broadcast_to_inputs()),
    OpCase("squeeze", lambda a, axis: a.squeeze(axis), lambda a, axis: np.squeeze(a, axis), squeeze_inputs()),
    OpCase("unsqueeze", lambda a, axis: a.unsqueeze(axis), np.expand_dims, unary(params=unsqueeze_axis)),
    OpCase("getitem_slices", lambda a, index: a[index], lambda a, index: a[index],
           unary(shape=any_shape(1), params=slices)),
    OpCase("getitem_repeated_integers", lambda a, index: a[index], lambda a, index: a[index],
           unary(shape=any_shape(1), params=integer_array_index)),
    OpCase("getitem_ellipsis_newaxis", lambda a, index: a[index], lambda a, index: a[index],
           unary(shape=any_shape(1), params=lambda s: st.sampled_from(
               [(Ellipsis, -1), (None, Ellipsis), (Ellipsis, None, slice(None, None, -1))]).map(lambda i: {"index": i}))),
    OpCase("getitem_boolean_mask", lambda a, index: a[index], lambda a, index: a[index],
           unary(shape=any_shape(1), params=boolean_mask)),
    OpCase("getitem_tensor_index", lambda a, index: a[Tensor(index)], lambda a, index: a[index],
           unary(shape=any_shape(1), params=lambda s: repeated_indices(s[0]).map(lambda i: {"index": i}))),
    OpCase("concatenate", lambda *a, axis: concatenate(a, axis=axis), lambda *a, axis: np.concatenate(a, axis=axis),
           joinable()),
    OpCase("stack", lambda *a, axis: stack(a, axis=axis), lambda *a, axis: np.stack(a, axis=axis), stack_inputs()),
]



def _t(x: Any) -> Any:
    """A NumPy parameter (an index, a mask) as a torch tensor."""
    return torch_module().as_tensor(x)


# The same ops in torch, by row name (the rows whose ops torch has).
TORCH = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b, "neg": lambda a: -a, "radd_scalar": lambda a: 2.5 + a,
    "rsub_scalar": lambda a: 1.5 - a, "rtruediv_scalar": lambda a: 2.0 / a,
    "pow_integer_exponent": lambda a, exponent: a**exponent, "pow_real_exponent": lambda a, exponent: a**exponent,
    "pow_tensor_exponent": lambda a, b: a**b, "rpow_scalar_base": lambda a: 2.0**a,
    "maximum": lambda a, b: torch_module().maximum(a, b), "minimum": lambda a, b: torch_module().minimum(a, b),
    "maximum_method_scalar": lambda a: a.clamp(min=0.5), "minimum_method": lambda a, b: a.minimum(b),
    "where": lambda a, b, cond: torch_module().where(_t(cond), a, b),
    "clip": lambda a, lo, hi: a.clamp(lo, hi),
    "exp": lambda a: a.exp(), "log": lambda a: a.log(), "sqrt": lambda a: a.sqrt(), "abs": lambda a: a.abs(),
    "relu": lambda a: a.relu(),
    "leaky_relu": lambda a, slope: torch_module().nn.functional.leaky_relu(a, slope),
    "sigmoid": lambda a: a.sigmoid(), "tanh": lambda a: a.tanh(),
    "softplus": lambda a: torch_module().nn.functional.softplus(a),
    "log_sigmoid": lambda a: torch_module().nn.functional.logsigmoid(a),
    "log_sigmoid_function": lambda a: torch_module().nn.functional.logsigmoid(a),
    "softmax": lambda a, axis: a.softmax(axis), "softmax_function": lambda a, axis: a.softmax(axis),
    "log_softmax": lambda a, axis: a.log_softmax(axis), "log_softmax_function": lambda a, axis: a.log_softmax(axis),
    **{name: lambda a, b: a @ b for name in (
        "matmul_vector_vector", "matmul_vector_matrix", "matmul_matrix_vector", "matmul_matrix_matrix",
        "matmul_batched_broadcast", "matmul_batch_matrix", "matmul_vector_batch", "matmul_batch_vector")},
    "affine": lambda x, w, b: x @ w + b,
    "linear": lambda x, w, b: torch_module().nn.functional.linear(x, w, b),
    "reshape": lambda a, shape: a.reshape(shape), "flatten": lambda a: a.flatten(),
    "mT": lambda a: a.mT, "broadcast_to": lambda a, shape: a.broadcast_to(shape),
    "unsqueeze": lambda a, axis: a.unsqueeze(axis),
    "getitem_repeated_integers": lambda a, index: a[tuple(_t(i) if isinstance(i, np.ndarray) else i for i in index)],
    "getitem_boolean_mask": lambda a, index: a[_t(index)],
    "getitem_tensor_index": lambda a, index: a[_t(index)],
    "concatenate": lambda *a, axis: torch_module().cat(a, dim=axis),
    "stack": lambda *a, axis: torch_module().stack(a, dim=axis),
}
CATALOGUE = [dataclasses.replace(case, torch=TORCH.get(case.name)) for case in CATALOGUE]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE)


# --------------------------------------------------------------------------
# conventions at non-differentiable points (documented in ops.py)
# --------------------------------------------------------------------------


def grad_of(fn: Callable[..., Tensor], *values: Any) -> list[np.ndarray]:
    """Gradients of sum(fn(*xs)) with respect to each x, as float64 arrays."""
    xs = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


def test_relu_derivative_at_zero_is_zero() -> None:
    np.testing.assert_array_equal(grad_of(lambda x: x.relu(), [-1.0, 0.0, 2.0])[0], [0.0, 0.0, 1.0])


def test_abs_derivative_at_zero_is_zero() -> None:
    np.testing.assert_array_equal(grad_of(lambda x: x.abs(), [-2.0, 0.0, 3.0])[0], [-1.0, 0.0, 1.0])


def test_leaky_relu_derivative_at_zero_is_the_negative_slope() -> None:
    np.testing.assert_array_equal(grad_of(lambda x: x.leaky_relu(0.25), [-1.0, 0.0, 2.0])[0], [0.25, 0.25, 1.0])


@pytest.mark.parametrize("reduce, sign", [("amax", 1.0), ("amin", -1.0)])
def test_tied_extremes_split_the_gradient_evenly(reduce: str, sign: float) -> None:
    x = sign * np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(grad_of(lambda t: getattr(t, reduce)(axis=1), x)[0],
                               [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    np.testing.assert_allclose(grad_of(lambda t: getattr(t, reduce)(), x)[0],
                               [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]], rtol=1e-15)


@pytest.mark.parametrize("op", [maximum, minimum])
def test_elementwise_ties_split_the_gradient_evenly(op: Callable[..., Tensor]) -> None:
    ga, gb = grad_of(op, [1.0, 2.0, 3.0], [1.0, -5.0 if op is maximum else 5.0, 3.0])
    np.testing.assert_array_equal(ga, [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(gb, [0.5, 0.0, 0.5])
    # A tie reached through broadcasting: a's one element ties with b's second.
    ga, gb = grad_of(op, [[2.0]], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ga, [[1.5]])
    np.testing.assert_array_equal(gb, [0.0, 0.5, 1.0] if op is maximum else [1.0, 0.5, 0.0])
    # op(x, x) = x, so its derivative is exactly 1.
    np.testing.assert_array_equal(grad_of(lambda t: op(t, t), [0.0, 4.0])[0], [1.0, 1.0])


def test_clip_passes_the_gradient_at_its_bounds() -> None:
    x = [-3.0, -1.0, -0.5, 1.0, 2.0]
    np.testing.assert_array_equal(grad_of(lambda t: t.clip(-1.0, 1.0), x)[0], [0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda t: t.clip(min=-1.0), x)[0], [0.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(grad_of(lambda t: t.clip(max=1.0), x)[0], [1.0, 1.0, 1.0, 1.0, 0.0])


# --------------------------------------------------------------------------
# stability at extreme inputs: finite values, correct gradients, and no NumPy warnings
# --------------------------------------------------------------------------


@pytest.mark.usefixtures("warnings_are_errors")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "method, values, grads",
    [
        # softplus(x) = log(1 + e^x): ~0 and ~x; derivative sigmoid(x)
        ("softplus", [0.0, 1000.0], [0.0, 1.0]),
        # log sigmoid(x) = -softplus(-x): ~x and ~0; derivative sigmoid(-x)
        ("log_sigmoid", [-1000.0, 0.0], [1.0, 0.0]),
        ("sigmoid", [0.0, 1.0], [0.0, 0.0]),
    ],
)
def test_saturating_functions_at_1000(method: str, values: list[float], grads: list[float], dtype: Any) -> None:
    x = Tensor(np.array([-1000.0, 1000.0], dtype=dtype), requires_grad=True)
    y = getattr(x, method)()
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_array_equal(y.data, values)
    np.testing.assert_array_equal(x.grad.data, grads)


@pytest.mark.usefixtures("warnings_are_errors")
def test_logsumexp_of_huge_values() -> None:
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [1000.0, -1000.0]])
    t = Tensor(x, requires_grad=True)
    y = t.logsumexp(axis=1)
    y.sum().backward()
    np.testing.assert_allclose(y.data, [1000.0 + np.log(2.0), -1000.0 + np.log(2.0), 1000.0], rtol=1e-15)
    # exp(x - out) with out rounded to the 1e-13 spacing of floats near 1000
    np.testing.assert_allclose(t.grad.data, [[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]], rtol=1e-12)


@pytest.mark.usefixtures("warnings_are_errors")
def test_softmax_and_log_softmax_of_huge_values() -> None:
    x = Tensor(np.array([1000.0, 0.0, -1000.0]), requires_grad=True)
    np.testing.assert_array_equal(x.softmax().data, [1.0, 0.0, 0.0])
    y = x.log_softmax()
    np.testing.assert_array_equal(y.data, [0.0, -1000.0, -2000.0])
    y[1].backward()  # d log_softmax_1 / dx = e_1 - softmax(x)
    np.testing.assert_array_equal(x.grad.data, [-1.0, 1.0, 0.0])


@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_of_an_all_minus_inf_row_is_minus_inf_with_zero_gradient(keepdims: bool) -> None:
    x = Tensor(np.array([[-np.inf, -np.inf, -np.inf], [0.0, np.log(3.0), -np.inf]]), requires_grad=True)
    y = x.logsumexp(axis=1, keepdims=keepdims)
    np.testing.assert_allclose(y.data.reshape(-1), [-np.inf, np.log(4.0)], rtol=1e-15)
    y.sum().backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0, 0.0], [0.25, 0.75, 0.0]], rtol=1e-15)


def test_logsumexp_of_all_minus_inf_over_every_axis() -> None:
    x = Tensor(np.full((2, 2), -np.inf), requires_grad=True)
    y = x.logsumexp()
    assert y.item() == -np.inf
    y.backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 2)))


# --------------------------------------------------------------------------
# the fused loss ops' reductions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [gaussian_kl, squared_error])
def test_loss_ops_name_an_unknown_reduction(loss: Callable[..., Tensor]) -> None:
    with pytest.raises(
        OpError, match=rf"{loss.__name__}: reduction must be one of \('none', 'sum', 'mean', 'batchmean'\), got 'max'"
    ):
        loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), reduction="max")


@pytest.mark.parametrize("loss", [gaussian_kl, squared_error])
@pytest.mark.parametrize("reduction", ["mean", "batchmean"])
def test_loss_ops_refuse_the_mean_of_nothing(loss: Callable[..., Tensor], reduction: str) -> None:
    with pytest.raises(OpError, match=rf"{loss.__name__}: cannot take the {reduction} of an empty tensor of shape \(0, 2\)"):
        loss(Tensor(np.zeros((0, 2))), Tensor(np.zeros((0, 2))), reduction=reduction)


@pytest.mark.parametrize("loss", [gaussian_kl, squared_error])
def test_batchmean_needs_a_batch_axis(loss: Callable[..., Tensor]) -> None:
    with pytest.raises(OpError, match=rf"{loss.__name__}: reduction 'batchmean' needs a batch axis"):
        loss(Tensor(np.array(1.0)), Tensor(np.array(2.0)), reduction="batchmean")


def test_batchmean_is_the_notebooks_average_of_per_example_sums() -> None:
    """mean over examples of sum over dims: for rows (1, 2) and (3, 4) against 0, (1 + 4 + 9 + 16) / 2 = 15."""
    x_hat, x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True), Tensor(np.zeros((2, 2)))
    loss = squared_error(x_hat, x, reduction="batchmean")
    assert loss.item() == 15.0
    loss.backward()
    np.testing.assert_array_equal(x_hat.grad.data, x_hat.data)  # d/dx_hat = 2 (x_hat - x) / 2
