"""The reductions: sum, mean, prod, amax/amin, max/min with indices, logsumexp, var/std, any/all.

Catalogue rows check the Tensor methods (torch's dim/keepdim, against torch) and the
module-level functions (NumPy's axis/keepdims/ddof); plain tests check the conventions:
0-d tensors, empty selections, too few elements for var, prod with zeros, integer and
bool data, named tuples and error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import SIDE, OpCase, any_shape, axis_choice, catalogue_properties, grad_of, leaf, unary

import tinygrad_vae as tg
from tinygrad_vae import OpError, Tensor, gradients
from tinygrad_vae.testing import away_from_zero, distinct_arrays

Shape = tuple[int, ...]


def dims(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """torch's dim (None, an int, a tuple; 0 or -1 for a 0-d tensor) and keepdim."""
    dim = axis_choice(len(shape)) if shape else st.sampled_from([None, 0, -1])
    return st.fixed_dictionaries({"dim": dim, "keepdim": st.booleans()})


def one_dim(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = max(len(shape), 1)
    return st.fixed_dictionaries({"dim": st.integers(-n, n - 1), "keepdim": st.booleans()})


def numpy_axes(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": axis_choice(len(shape)), "keepdims": st.booleans()})


def var_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"dim": axis_choice(len(shape)), "correction": st.sampled_from([0, 1]),
                                  "keepdim": st.booleans()})


def ddof_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": axis_choice(len(shape)), "ddof": st.sampled_from([0, 1]),
                                  "keepdims": st.booleans()})


def distinct(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    return distinct_arrays(shape)


def spread(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    """Values at least 0.1 apart: a variance well away from 0, where sqrt (std) has its pole."""
    return distinct_arrays(shape, margin=0.1)


def all_dims(t: Any, dim: Any) -> Any:
    """torch's spelling of 'every dim' for the ops that take no dim=None (amax, logsumexp)."""
    return tuple(range(t.ndim)) if dim is None else dim


def np_var(a: np.ndarray, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> np.ndarray:
    """sum((a - mean)^2) / (N - ddof), from the definition."""
    centred = a - np.mean(a, axis=axis, keepdims=True)
    count = a.size // np.mean(a, axis=axis, keepdims=True).size
    return np.sum(centred**2, axis=axis, keepdims=keepdims) / (count - ddof)


def np_logsumexp(a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    return np.log(np.sum(np.exp(a), axis=dim, keepdims=keepdim))


def np_prod(a: np.ndarray, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    """The product by ufunc reduction (the op itself takes the last entry of a cumulative product)."""
    return np.multiply.reduce(a, axis=() if a.ndim == 0 else dim, keepdims=keepdim)


def torch_max_dim(t: Any, dim: int, keepdim: bool) -> Any:
    return t.max(dim, keepdim).values


CATALOGUE = [
    # methods: torch's dim and keepdim, positional and by keyword
    OpCase("sum_method", lambda a, dim, keepdim: a.sum(dim, keepdim),
           lambda a, dim, keepdim: np.add.reduce(a, axis=() if a.ndim == 0 else dim, keepdims=keepdim),
           unary(params=dims), torch=lambda t, dim, keepdim: t.sum(dim=dim, keepdim=keepdim)),
    OpCase("mean_method", lambda a, dim, keepdim: a.mean(dim=dim, keepdim=keepdim),
           lambda a, dim, keepdim: np.add.reduce(a, axis=() if a.ndim == 0 else dim, keepdims=keepdim)
           * np.size(np.add.reduce(a, axis=() if a.ndim == 0 else dim)) / a.size,
           unary(params=dims), torch=lambda t, dim, keepdim: t.mean(dim=dim, keepdim=keepdim)),
    OpCase("amax_method", lambda a, dim, keepdim: a.amax(dim, keepdim),
           lambda a, dim, keepdim: np.maximum.reduce(a.reshape(a.shape or (1,)), axis=0 if a.ndim == 0 else dim,
                                                     keepdims=keepdim).reshape(np.max(a, axis=dim if a.ndim else None,
                                                                                      keepdims=keepdim).shape),
           unary(values=distinct, params=dims),
           torch=lambda t, dim, keepdim: t.amax(dim=all_dims(t, dim), keepdim=keepdim)),
    OpCase("amin_method", lambda a, dim, keepdim: a.amin(dim=dim, keepdim=keepdim),
           lambda a, dim, keepdim: -np.max(-a, axis=dim if a.ndim else None, keepdims=keepdim),
           unary(values=distinct, params=dims),
           torch=lambda t, dim, keepdim: t.amin(dim=all_dims(t, dim), keepdim=keepdim)),
    OpCase("max_dim_values", lambda a, dim, keepdim: a.max(dim, keepdim).values,
           lambda a, dim, keepdim: np.max(a, axis=dim if a.ndim else None, keepdims=keepdim and a.ndim > 0),
           unary(values=distinct, params=one_dim), torch=torch_max_dim),
    OpCase("min_dim_values", lambda a, dim, keepdim: a.min(dim=dim, keepdim=keepdim)[0],
           lambda a, dim, keepdim: np.min(a, axis=dim if a.ndim else None, keepdims=keepdim and a.ndim > 0),
           unary(values=distinct, params=one_dim), torch=lambda t, dim, keepdim: t.min(dim, keepdim).values),
    OpCase("max_all", lambda a: a.max(), np.max, unary(values=distinct), torch=lambda t: t.max()),
    OpCase("min_all", lambda a: a.min(), np.min, unary(values=distinct), torch=lambda t: t.min()),
    # torch's prod divides by the product in its second derivative (nan or 0 where it underflows, as for
    # 1e-308), so the torch rows keep away from 0; the rows below and the plain tests cover zeros.
    OpCase("prod_method", lambda a, dim, keepdim: a.prod(dim, keepdim), np_prod,
           unary(values=away_from_zero, params=one_dim), torch=lambda t, dim, keepdim: t.prod(dim, keepdim)),
    OpCase("prod_all", lambda a: a.prod(), np_prod, unary(values=away_from_zero), torch=lambda t: t.prod()),
    OpCase("prod_near_zero", lambda a: a.prod(), np_prod, unary()),
    OpCase("var_method", lambda a, **p: a.var(**p),
           lambda a, dim, correction, keepdim: np_var(a, dim, correction, keepdim),
           unary(shape=any_shape(min_dims=1, min_side=2), params=var_params),
           torch=lambda t, **p: t.var(**p)),
    OpCase("var_unbiased_positional", lambda a, dim, keepdim: a.var(dim, False, keepdim),
           lambda a, dim, keepdim: np_var(a, dim, 0, keepdim), unary(shape=any_shape(min_dims=1), params=one_dim),
           torch=lambda t, dim, keepdim: t.var(dim, False, keepdim)),
    OpCase("std_method", lambda a, **p: a.std(**p),
           lambda a, dim, correction, keepdim: np.sqrt(np_var(a, dim, correction, keepdim)),
           unary(values=spread, shape=any_shape(min_dims=1, min_side=2), params=var_params),
           torch=lambda t, **p: t.std(**p)),
    OpCase("std_mean", lambda a, dim, keepdim: tg.std_mean(a, dim, keepdim=keepdim)[0]
           * tg.std_mean(a, dim, keepdim=keepdim)[1],
           lambda a, dim, keepdim: np.sqrt(np_var(a, dim, 1, keepdim)) * np.mean(a, axis=dim, keepdims=keepdim),
           unary(values=spread, shape=any_shape(min_dims=1, min_side=2), params=one_dim),
           torch=lambda t, dim, keepdim: torch_product(*__import__("torch").std_mean(t, dim, keepdim=keepdim))),
    OpCase("var_mean", lambda a, dim, keepdim: tg.var_mean(a, dim, keepdim=keepdim)[0]
           + tg.var_mean(a, dim, keepdim=keepdim)[1],
           lambda a, dim, keepdim: np_var(a, dim, 1, keepdim) + np.mean(a, axis=dim, keepdims=keepdim),
           unary(shape=any_shape(min_dims=1, min_side=2), params=one_dim),
           torch=lambda t, dim, keepdim: sum(__import__("torch").var_mean(t, dim, keepdim=keepdim))),
    OpCase("logsumexp_method", lambda a, dim, keepdim: a.logsumexp(dim, keepdim), np_logsumexp,
           unary(shape=any_shape(min_dims=1), params=dims),
           torch=lambda t, dim, keepdim: t.logsumexp(all_dims(t, dim), keepdim)),
    # module-level functions: NumPy's axis, keepdims and ddof (0 by default)
    OpCase("sum_function", lambda a, **p: tg.sum(a, **p), np.sum, unary(params=numpy_axes)),
    OpCase("mean_function", lambda a, **p: tg.mean(a, **p), np.mean, unary(params=numpy_axes)),
    OpCase("max_function", lambda a, **p: tg.max(a, **p), np.max, unary(values=distinct, params=numpy_axes)),
    OpCase("min_function", lambda a, **p: tg.min(a, **p), np.min, unary(values=distinct, params=numpy_axes)),
    OpCase("prod_function", lambda a, **p: tg.prod(a, **p), lambda a, axis, keepdims: np_prod(a, axis, keepdims),
           unary(params=numpy_axes)),
    OpCase("var_function", lambda a, **p: tg.var(a, **p), lambda a, **p: np_var(a, **p),
           unary(shape=any_shape(min_dims=1, min_side=2), params=ddof_params)),
    OpCase("var_function_default_ddof", lambda a: tg.var(a), lambda a: np_var(a), unary()),
    OpCase("std_function", lambda a, **p: tg.std(a, **p), lambda a, **p: np.sqrt(np_var(a, **p)),
           unary(values=spread, shape=any_shape(min_dims=1, min_side=2), params=ddof_params)),
]


def torch_product(a: Any, b: Any) -> Any:
    return a * b


(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives, test_float32_stays_float32,
 test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# conventions and edge cases
# --------------------------------------------------------------------------


def test_max_and_min_along_a_dim_are_named_tuples_of_values_and_int64_indices() -> None:
    x = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    result = Tensor(x).max(1)
    values, indices = result
    assert type(result).__name__ == "ValuesIndices" and result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.data, [5.0, 6.0])
    np.testing.assert_array_equal(indices.data, [1, 2])
    assert indices.dtype == np.int64 and not indices.requires_grad
    low = Tensor(x).min(dim=0, keepdim=True)
    np.testing.assert_array_equal(low.values.data, [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(low.indices.data, [[0, 1, 0]])


def test_max_along_a_dim_gives_the_gradient_to_the_first_tied_index_and_amax_splits_it() -> None:
    """As torch: max(dim) backpropagates to the index it returns; amax and the full max() share evenly."""
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    np.testing.assert_array_equal(grad_of(lambda t: t.max(1).values, x), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(grad_of(lambda t: t.min(1).values, x), [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(grad_of(lambda t: t.amax(1), x), [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_array_equal(grad_of(lambda t: t.max(), [1.0, 3.0, 3.0]), [0.0, 0.5, 0.5])


def test_max_of_another_tensor_is_the_elementwise_maximum() -> None:
    a, b = Tensor(np.array([1.0, 5.0])), Tensor(np.array([3.0, 2.0]))
    np.testing.assert_array_equal(a.max(b).data, [3.0, 5.0])
    np.testing.assert_array_equal(a.min(b).data, [1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.bool_])
def test_min_and_max_of_integer_and_bool_data_are_exact_and_outside_the_graph(dtype: Any) -> None:
    data = np.array([3, 0, 7], dtype=dtype)
    x = Tensor(data)
    for result, expected in [(x.min(), np.min(data)), (x.max(), np.max(data)), (tg.min(x), np.min(data)),
                             (x.amin(0), np.min(data)), (x.min(0).values, np.min(data))]:
        assert result.dtype == dtype and result.data == expected and not result.requires_grad
    assert x.min(0).indices.data == np.argmin(data)


def test_a_0d_tensor_reduces_over_dim_0_or_minus_1_to_itself() -> None:
    s = leaf(2.5)
    for result in [s.sum(0), s.sum(-1), s.mean(0), s.logsumexp(-1), s.amax(0), s.prod(0), s.max(0).values,
                   s.sum(0, keepdim=True)]:
        assert result.shape == () and result.data == 2.5
    assert s.max(-1).indices.data == 0 and s.max(-1).indices.shape == ()
    assert s.logsumexp(0).data == 2.5


@pytest.mark.parametrize("make, error, message", [
    (lambda s: s.sum(1), OpError, r"sum: dim 1 is out of range for a 0-d tensor \(expected 0 or -1\)"),
    (lambda s: s.logsumexp(-2), OpError, r"logsumexp: dim -2 is out of range for a 0-d tensor"),
    (lambda s: s.max(1), OpError, r"max: dim 1 is out of range for a tensor with 0 dimensions"),
])
def test_other_dims_of_a_0d_tensor_are_errors(make: Callable[[Tensor], Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(leaf(1.0))


@pytest.mark.parametrize("make, error, message", [
    (lambda x: x.sum(2), OpError, r"sum: axis 2 is out of range for a tensor with 2 dimensions"),
    (lambda x: x.mean(dim=-3), OpError, r"mean: axis -3 is out of range"),
    (lambda x: x.max(2), OpError, r"max: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda x: x.max((0, 1)), TypeError, r"max: dim must be an int \(torch.max reduces one dim\).*use amax"),
    (lambda x: x.min(keepdim=True), TypeError, r"min: keepdim needs a dim"),
    (lambda x: x.sum(0, axis=1), TypeError, r"sum: got both dim=0 and axis=1"),
    (lambda x: x.var(correction=1, unbiased=True), TypeError, r"var: got both correction=1 and unbiased=True"),
    (lambda x: x.prod(3), OpError, r"prod: axis 3 is out of range"),
    (lambda x: x[:0].amax(0), OpError, r"amax: cannot reduce an empty selection of a tensor of shape \(0, 3\)"),
    (lambda x: x[:0].max(0), OpError, r"max: cannot reduce dim 0 of length 0 \(shape \(0, 3\)\)"),
])
def test_clear_errors(make: Callable[[Tensor], Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(leaf(np.ones((2, 3))))


def test_the_mean_of_an_empty_selection_is_nan() -> None:
    x = leaf(np.zeros((0, 3)))
    m = x.mean(0)
    np.testing.assert_array_equal(m.data, [np.nan, np.nan, np.nan])
    m.sum().backward()
    assert x.grad.shape == (0, 3)
    assert np.isnan(leaf(np.zeros(0)).mean().data)


def test_var_and_std_with_too_few_elements_give_torchs_values_and_gradients() -> None:
    """N - correction <= 0: the sum of squares / 0, as torch: nan for 0/0 (one element, or equal ones), else inf."""
    with np.errstate(divide="ignore", invalid="ignore"):  # the backward pass divides by 0 on purpose here
        check_too_few_elements()


def check_too_few_elements() -> None:
    one = leaf([1.0])
    v = one.var()
    assert np.isnan(v.data)
    v.backward()
    assert np.isnan(one.grad.data).all()  # torch: nan
    assert np.isnan(leaf([1.0]).std().data)
    assert np.isnan(leaf(np.zeros(0)).var().data)
    equal = leaf([1.0, 1.0]).var(correction=2)
    assert np.isnan(equal.data)
    pair = leaf([1.0, 2.0])
    inf = pair.var(correction=2)
    assert inf.data == np.inf
    inf.backward()
    assert np.isnan(pair.grad.data).all()  # torch gives [inf, inf]; ours is the composite's inf - inf


def test_method_var_is_unbiased_and_the_function_is_numpys_ddof_0() -> None:
    x = [[1.0, 2.0], [3.0, 5.0]]
    assert leaf(x).var().data == pytest.approx(np.var(x, ddof=1), rel=1e-15)
    assert tg.var(leaf(x)).data == pytest.approx(np.var(x), rel=1e-15)
    assert tg.std(leaf(x), axis=0, ddof=1).data == pytest.approx(np.std(x, axis=0, ddof=1), rel=1e-15)
    np.testing.assert_allclose(leaf(x).var(0, unbiased=False).data, np.var(x, axis=0), rtol=1e-15)
    np.testing.assert_allclose(leaf(x).var(axis=1, keepdims=True).data, np.var(x, axis=1, ddof=1, keepdims=True))
    # var(dim, unbiased) positionally, as torch's overload: False is correction 0
    np.testing.assert_allclose(leaf(x).var(0, False).data, np.var(x, axis=0), rtol=1e-15)


def test_std_mean_and_var_mean_are_tuples() -> None:
    x = [[1.0, 2.0], [3.0, 5.0]]
    s, m = tg.std_mean(leaf(x), 0)
    np.testing.assert_allclose(s.data, np.std(x, axis=0, ddof=1), rtol=1e-15)
    np.testing.assert_array_equal(m.data, [2.0, 3.5])
    v, m = tg.var_mean(leaf(x), correction=0)
    assert v.data == pytest.approx(np.var(x), rel=1e-15) and m.data == 2.75


def test_sum_with_a_dtype_casts_first() -> None:
    x = leaf([0.5, 1.5, 2.25])
    assert x.sum(dtype=np.float32).dtype == np.float32
    assert x.sum(0, False, np.float32).dtype == np.float32  # torch's positional order: dim, keepdim, dtype
    counts = Tensor(np.array([True, False, True])).sum()
    assert counts.dtype == np.int64 and counts.data == 2
    assert tg.sum(Tensor(np.array([1.7, 2.6])), dtype=np.int64).data == 3  # cast (to 1, 2) and then summed


@pytest.mark.parametrize("values, expected_grad", [
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),  # one zero: the product of the others there, 0 elsewhere
    ([0.0, 5.0], [5.0, 0.0]),
    ([2.0, 0.0, 0.0], [0.0, 0.0, 0.0]),  # two zeros: every product of the others has a zero
    ([2.0, 4.0, 0.5], [2.0, 1.0, 8.0]),
])
def test_prod_gradient_is_the_product_of_the_others_with_zeros(values: list, expected_grad: list) -> None:
    np.testing.assert_array_equal(grad_of(lambda t: t.prod(), values), expected_grad)


def test_prod_second_derivative_with_a_zero() -> None:
    """d^2 prod / dx_i dx_j = the product of the elements other than i and j.

    For (2, 0, 3): [[0, 3, 0], [3, 0, 2], [0, 2, 0]] (the diagonal is 0: prod is linear in each element).
    """
    x = leaf([2.0, 0.0, 3.0])
    (g,) = gradients(x.prod(), x, create_graph=True)
    rows = [gradients(g[i], x, retain_graph=True, materialize_grads=True)[0].data for i in range(3)]
    np.testing.assert_array_equal(rows, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])


def test_prod_over_axes_and_of_nothing() -> None:
    x = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(leaf(x).prod(1).data, [0.0, 60.0])
    np.testing.assert_array_equal(tg.prod(leaf(x), axis=0, keepdims=True).data, [[3.0, 0.0, 10.0]])
    np.testing.assert_array_equal(grad_of(lambda t: t.prod(0), x), [[3.0, 4.0, 5.0], [1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(leaf(np.zeros((2, 0))).prod(1).data, [1.0, 1.0])


@pytest.mark.parametrize("name", ["any", "all"])
def test_any_and_all_are_bool_and_match_numpy(name: str) -> None:
    data = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    for params in [{}, {"axis": 1}, {"axis": 0, "keepdims": True}]:
        expected = getattr(np, name)(data, **params)
        for result in [getattr(tg, name)(Tensor(data), **params), getattr(Tensor(data), name)(**params)]:
            assert result.dtype == np.bool_ and not result.requires_grad
            np.testing.assert_array_equal(result.data, expected)
    np.testing.assert_array_equal(getattr(Tensor(data), name)(1, True).data, getattr(np, name)(data, 1, keepdims=True))


def test_side_is_small() -> None:
    """The catalogue's shapes stay small (gradgradcheck's Jacobians grow with the square of the size)."""
    assert SIDE <= 3
