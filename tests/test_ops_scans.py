"""Scans (cumsum, cumprod, cummax/cummin, logcumsumexp, diff) and sorting (sort, argsort, topk, argmax/argmin).

Catalogue rows check the Tensor methods against torch and the module-level functions
against NumPy; linear ops (cumsum, sort values, diff) also get a row cubed after them,
so a doubled or negated rule shows in the second derivative. Plain tests check the
zero cases of cumprod, the tie conventions, integer data, 0-d tensors and errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import OpCase, any_shape, catalogue_properties, grad_of, leaf, unary

import tinygrad_vae as tg
from tinygrad_vae import OpError, Tensor
from tinygrad_vae.testing import away_from_zero, distinct_arrays

Shape = tuple[int, ...]


def a_dim(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = max(len(shape), 1)
    return st.fixed_dictionaries({"dim": st.integers(-n, n - 1)})


def an_axis(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": st.integers(-len(shape), len(shape) - 1)})


def numpy_axis(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": st.none() | st.integers(-len(shape), len(shape) - 1)})


@st.composite
def diff_params(draw: Callable, shape: Shape) -> dict[str, Any]:
    """A dim and an order n below its length (n = length would leave nothing)."""
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return {"dim": dim, "n": draw(st.integers(0, shape[dim] - 1))}


def sort_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = max(len(shape), 1)
    return st.fixed_dictionaries({"dim": st.integers(-n, n - 1), "descending": st.booleans()})


@st.composite
def topk_params(draw: Callable, shape: Shape) -> dict[str, Any]:
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return {"k": draw(st.integers(1, shape[dim])), "dim": dim, "largest": draw(st.booleans())}


def distinct(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    return distinct_arrays(shape)


def np_cumsum(a: np.ndarray, dim: int) -> np.ndarray:
    """Running sums by adding one slice at a time (independent of np.cumsum)."""
    shape = np.shape(a)
    a = np.moveaxis(np.atleast_1d(a), dim, 0)
    out = np.empty_like(a)
    total = np.zeros_like(a[0])
    for i, part in enumerate(a):
        total = total + part
        out[i] = total
    return np.moveaxis(out, 0, dim).reshape(shape)


def np_running(a: np.ndarray, dim: int, step: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """A running ``step`` (product, max, ...) along ``dim``, slice by slice."""
    shape = np.shape(a)
    a = np.moveaxis(np.atleast_1d(a), dim, 0)
    out = np.empty_like(a)
    acc = a[0]
    for i, part in enumerate(a):
        acc = part if i == 0 else step(acc, part)
        out[i] = acc
    return np.moveaxis(out, 0, dim).reshape(shape)


def np_diff(a: np.ndarray, n: int, dim: int) -> np.ndarray:
    """The n-th difference as a binomial sum: sum_k (-1)^(n-k) C(n, k) a[i + k]."""
    from math import comb

    a = np.moveaxis(a, dim, 0)
    length = a.shape[0] - n
    out = sum(((-1) ** (n - k) * comb(n, k)) * a[k:k + length] for k in range(n + 1))
    return np.moveaxis(out, 0, dim)


def np_sorted(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Sorted along dim by a selection of ranks: element with rank r goes to position r."""
    a1 = np.moveaxis(np.atleast_1d(a), dim, -1)
    ranks = (a1[..., :, None] > a1[..., None, :]).sum(-1)  # distinct values: ranks are a permutation
    out = np.empty_like(a1)
    np.put_along_axis(out, ranks, a1, axis=-1)
    out = out[..., ::-1] if descending else out
    return np.moveaxis(out, -1, dim).reshape(np.shape(a))


CATALOGUE = [
    OpCase("cumsum_method", lambda a, dim: a.cumsum(dim), np_cumsum, unary(params=a_dim),
           torch=lambda t, dim: t.cumsum(dim)),
    OpCase("cumsum_method_cubed", lambda a, dim: a.cumsum(dim) ** 3, lambda a, dim: np_cumsum(a, dim) ** 3,
           unary(params=a_dim), torch=lambda t, dim: t.cumsum(dim) ** 3),
    OpCase("cumsum_function", lambda a, axis: tg.cumsum(a, axis), lambda a, axis: np_cumsum(
        a.reshape(-1) if axis is None else a, 0 if axis is None else axis),
        unary(shape=any_shape(1), params=numpy_axis)),
    # torch's cumprod divides in its second derivative (wrong where the product underflows, e.g. 1e-204 ** 2),
    # so its torch row keeps away from 0; the function's row and the plain tests cover zeros.
    OpCase("cumprod_method", lambda a, dim: a.cumprod(dim), lambda a, dim: np_running(a, dim, np.multiply),
           unary(values=away_from_zero, params=a_dim), torch=lambda t, dim: t.cumprod(dim)),
    OpCase("cumprod_function", lambda a, axis: tg.cumprod(a, axis), lambda a, axis: np_running(
        a.reshape(-1) if axis is None else a, 0 if axis is None else axis, np.multiply),
        unary(shape=any_shape(1), params=numpy_axis)),
    OpCase("cummax_values", lambda a, dim: a.cummax(dim).values, lambda a, dim: np_running(a, dim, np.maximum),
           unary(values=distinct, params=a_dim), torch=lambda t, dim: t.cummax(dim).values),
    OpCase("cummin_values", lambda a, dim: a.cummin(dim)[0], lambda a, dim: np_running(a, dim, np.minimum),
           unary(values=distinct, params=a_dim), torch=lambda t, dim: t.cummin(dim).values),
    OpCase("logcumsumexp", lambda a, dim: a.logcumsumexp(dim),
           lambda a, dim: np.log(np_cumsum(np.exp(a), dim).reshape(a.shape)), unary(params=a_dim),
           torch=lambda t, dim: t.logcumsumexp(dim)),
    OpCase("diff_method", lambda a, n, dim: a.diff(n, dim), np_diff, unary(shape=any_shape(1), params=diff_params),
           torch=lambda t, n, dim: t.diff(n=n, dim=dim)),
    OpCase("diff_method_cubed", lambda a, n, dim: a.diff(n, dim) ** 3, lambda a, n, dim: np_diff(a, n, dim) ** 3,
           unary(shape=any_shape(1), params=diff_params), torch=lambda t, n, dim: t.diff(n=n, dim=dim) ** 3),
    OpCase("diff_function", lambda a, n, dim: tg.diff(a, n, axis=dim), np_diff,
           unary(shape=any_shape(1), params=diff_params)),
    OpCase("sort_values", lambda a, dim, descending: a.sort(dim, descending).values, np_sorted,
           unary(values=distinct, params=sort_params),
           torch=lambda t, dim, descending: t.sort(dim=dim, descending=descending).values),
    OpCase("sort_values_cubed", lambda a, dim, descending: a.sort(dim=dim, descending=descending)[0] ** 3,
           lambda a, dim, descending: np_sorted(a, dim, descending) ** 3, unary(values=distinct, params=sort_params),
           torch=lambda t, dim, descending: t.sort(dim=dim, descending=descending).values ** 3),
    OpCase("sort_function", lambda a, axis: tg.sort(a, axis), lambda a, axis: np_sorted(a, axis, False),
           unary(shape=any_shape(1), values=distinct, params=an_axis)),
    OpCase("topk_values", lambda a, k, dim, largest: a.topk(k, dim, largest).values ** 3,
           lambda a, k, dim, largest: np.take(np_sorted(a, dim, largest), np.arange(k), axis=dim) ** 3,
           unary(shape=any_shape(1), values=distinct, params=topk_params),
           torch=lambda t, k, dim, largest: t.topk(k, dim, largest).values ** 3),
]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives, test_float32_stays_float32,
 test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# conventions and edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("values, expected, expected_grad", [
    # d/dx0 = 1 + x1 + x1 x2 = 1;  d/dx1 = x0 + x0 x2 = 8;  d/dx2 = x0 x1 = 0
    ([2.0, 0.0, 3.0], [2.0, 0.0, 0.0], [1.0, 8.0, 0.0]),
    # d/dx0 = 1 + x1 + x1 x2 = 1;  d/dx1 = x0 + x0 x2 = 0;  d/dx2 = x0 x1 = 0
    ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
    # d/dx0 = 1 + x1 = 1 + 4;  d/dx1 = x0 = 0
    ([0.0, 4.0], [0.0, 0.0], [5.0, 0.0]),
])
def test_cumprod_with_zeros_is_exact(values: list, expected: list, expected_grad: list) -> None:
    np.testing.assert_array_equal(leaf(values).cumprod(0).data, expected)
    np.testing.assert_array_equal(grad_of(lambda t: t.cumprod(0), values), expected_grad)


def test_cummax_and_cummin_give_the_later_tied_index_and_the_gradient_to_it() -> None:
    """As torch: for (1, 3, 3, 2) the running max 3 is taken from index 1, then from the tie at 2."""
    x = [1.0, 3.0, 3.0, 2.0]
    result = leaf(x).cummax(0)
    assert type(result).__name__ == "ValuesIndices"
    np.testing.assert_array_equal(result.values.data, [1.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(result.indices.data, [0, 1, 2, 2])
    assert result.indices.dtype == np.int64
    np.testing.assert_array_equal(grad_of(lambda t: t.cummax(0).values, x), [1.0, 1.0, 2.0, 0.0])
    low = leaf([3.0, 1.0, 1.0, 2.0]).cummin(0)
    np.testing.assert_array_equal(low.values.data, [3.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(low.indices.data, [0, 1, 2, 2])


def test_cummin_of_unsigned_data_is_exact_and_outside_the_graph() -> None:
    result = Tensor(np.array([3, 0, 7], dtype=np.uint8)).cummin(0)
    assert result.values.dtype == np.uint8 and not result.values.requires_grad
    np.testing.assert_array_equal(result.values.data, [3, 0, 0])
    np.testing.assert_array_equal(result.indices.data, [0, 1, 1])


def test_logcumsumexp_of_huge_values_does_not_overflow() -> None:
    x = leaf([1000.0, 1000.0, -1000.0])
    y = x.logcumsumexp(0)
    np.testing.assert_allclose(y.data, [1000.0, 1000.0 + np.log(2.0), 1000.0 + np.log(2.0)], rtol=1e-15)
    y[1].backward()  # d out_1 / dx = softmax of (x0, x1), 0 for x2
    # exp(x_i - out_1) with out_1 = 1000.69...: the rounding of out_1 (ulp 1.1e-13) is what remains
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5, 0.0], rtol=2e-13)


def test_module_cumsum_flattens_by_default_and_the_method_needs_a_dim() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(tg.cumsum(Tensor(x)).data, [1.0, 3.0, 6.0, 10.0])
    np.testing.assert_array_equal(tg.cumprod(Tensor(x)).data, [1.0, 2.0, 6.0, 24.0])
    np.testing.assert_array_equal(Tensor(x).cumsum(axis=0).data, [[1.0, 2.0], [4.0, 6.0]])
    with pytest.raises(TypeError, match=r"cumsum: missing the dim to scan along \(torch's cumsum requires dim\)"):
        Tensor(x).cumsum()


def test_0d_tensors_scan_and_sort_as_one_element() -> None:
    s = leaf(2.5)
    for result in [s.cumsum(0), s.cumprod(-1), s.logcumsumexp(0), s.cummax(0).values, s.sort().values]:
        assert result.shape == () and result.data == 2.5
    assert s.argmax().data == 0 and s.argmax().shape == ()
    assert s.sort().indices.shape == () and s.topk(1).values.shape == ()


def test_diff_of_order_0_is_the_input_and_negative_orders_are_errors() -> None:
    x = leaf([1.0, 4.0, 9.0])
    np.testing.assert_array_equal(x.diff(0).data, [1.0, 4.0, 9.0])
    np.testing.assert_array_equal(x.diff(2).data, [2.0])
    with pytest.raises(TypeError, match=r"diff: n must be a non-negative int, got -1"):
        x.diff(-1)
    with pytest.raises(OpError, match=r"diff: needs at least 1 dimension, got a 0-d tensor"):
        leaf(1.0).diff()


def test_sort_is_stable_both_ways_and_its_gradient_scatters_back() -> None:
    x = np.array([2.0, 1.0, 2.0, 0.0])
    up, down = Tensor(x).sort(), Tensor(x).sort(descending=True)
    np.testing.assert_array_equal(up.indices.data, [3, 1, 0, 2])
    np.testing.assert_array_equal(down.indices.data, [0, 2, 1, 3])
    np.testing.assert_array_equal(down.values.data, [2.0, 2.0, 1.0, 0.0])
    assert up.indices.dtype == np.int64
    # sorted (1, 2, 3) comes from positions (1, 2, 0): weights 1, 2, 3 land there
    np.testing.assert_array_equal(grad_of(lambda t: t.sort().values * leaf([1.0, 2.0, 3.0]), [3.0, 1.0, 2.0]),
                                  [3.0, 1.0, 2.0])


def test_sorting_unsigned_data_descending() -> None:
    data = np.array([3, 0, 7, 0], dtype=np.uint8)
    result = Tensor(data).sort(descending=True)
    np.testing.assert_array_equal(result.values.data, [7, 3, 0, 0])
    np.testing.assert_array_equal(result.indices.data, [2, 0, 1, 3])
    np.testing.assert_array_equal(Tensor(data).argsort(descending=True).data, [2, 0, 1, 3])
    np.testing.assert_array_equal(tg.argsort(Tensor(data)).data, np.argsort(data, kind="stable"))
    np.testing.assert_array_equal(tg.sort(Tensor(data)).data, np.sort(data))


def test_topk_returns_values_and_indices_and_checks_k() -> None:
    x = Tensor(np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]))
    values, indices = x.topk(2)
    np.testing.assert_array_equal(values.data, [[5.0, 3.0], [6.0, 4.0]])
    np.testing.assert_array_equal(indices.data, [[1, 2], [2, 0]])
    np.testing.assert_array_equal(x.topk(1, dim=0, largest=False).indices.data, [[0, 1, 0]])
    with pytest.raises(OpError, match=r"topk: k must be an int in \[0, 3\] for dim -1 of shape \(2, 3\), got 4"):
        x.topk(4)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_and_argmin_match_numpy(name: str) -> None:
    data = np.array([[1.0, 5.0, 5.0], [4.0, -2.0, 6.0]])
    find = getattr(np, name)
    for params in [{}, {"axis": 0}, {"axis": -1, "keepdims": True}]:
        for result in [getattr(tg, name)(Tensor(data), **params), getattr(Tensor(data), name)(**params)]:
            assert result.dtype == np.int64 and not result.requires_grad
            np.testing.assert_array_equal(result.data, find(data, **params))
    np.testing.assert_array_equal(getattr(Tensor(data), name)(1, True).data, find(data, 1, keepdims=True))
    assert getattr(Tensor(data), name)(keepdim=True).shape == (1, 1)
    with pytest.raises(OpError, match=rf"{name}: cannot take the {name} of an empty tensor of shape \(0,\)"):
        getattr(Tensor(np.zeros(0)), name)()


@pytest.mark.parametrize("make, message", [
    (lambda x: x.cumsum(2), r"cumsum: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda x: x.cumprod(-3), r"cumprod: dim -3 is out of range"),
    (lambda x: x.sort(5), r"sort: dim 5 is out of range"),
    (lambda x: x.cummax(2), r"cummax: dim 2 is out of range"),
])
def test_out_of_range_dims_name_the_op(make: Callable[[Tensor], Any], message: str) -> None:
    with pytest.raises(OpError, match=message):
        make(leaf(np.ones((2, 3))))
