"""Indexing by index tensors (gather, scatter and its reductions, index_select, take_along_axis, masks), from
one catalogue; then nonzero, one_hot, the tie convention of scatter_reduce and the index errors.

Every op here is linear in its float inputs (but prod, amax, amin), so each also has a ``_cubed``
row: gradgradcheck of a linear op alone would pass a doubled or negated rule. The ``getitem_*_cubed``
rows do that for plain indexing (repeated integers, slices, masks), i.e. for GetItem and ScatterAdd.
References are loops written from torch's definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_catalogue import SIDE, Call, OpCase, Shape, any_shape, catalogue_properties, unary
from test_ops_gradients import boolean_mask, integer_array_index, slices

from tinygrad_vae import (
    OpError,
    Tensor,
    argwhere,
    gather,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    one_hot,
    scatter,
    scatter_add,
    scatter_reduce,
    take_along_axis,
    where,
)
from tinygrad_vae.testing import arrays, away_from_zero, distinct_arrays

# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


def integers(shape: Shape, low: int, high: int) -> st.SearchStrategy[np.ndarray]:
    """int64 arrays with entries in [low, high]."""
    return hnp.arrays(np.int64, shape, elements=st.integers(low, high))


@st.composite
def gather_inputs(draw: Callable) -> Call:
    """x, a dim, and an index no larger than x outside dim, entries in [0, n) (repeats likely)."""
    shape = draw(any_shape(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    sides = tuple(draw(st.integers(1, SIDE if d == dim % len(shape) else n)) for d, n in enumerate(shape))
    return Call((draw(arrays(shape)),), {"dim": dim, "index": draw(integers(sides, 0, shape[dim] - 1))})


@st.composite
def scatter_inputs(draw: Callable, unique: bool = False, values: Callable[[int], Any] | None = None) -> Call:
    """x, a dim, an index (no two entries naming one place when ``unique``) and src of index's shape."""
    shape = draw(any_shape(min_dims=1))
    dim = draw(st.integers(0, len(shape) - 1))
    sides = tuple(draw(st.integers(1, n)) for n in shape)
    if unique:  # each line along dim: the first entries of a random permutation of 0..n-1
        keys = draw(arrays(sides[:dim] + (shape[dim],) + sides[dim + 1:]))
        index = np.take(np.argsort(keys, axis=dim, kind="stable"), np.arange(sides[dim]), axis=dim)
    else:
        index = draw(integers(sides, 0, shape[dim] - 1))
    size = int(np.prod(shape))
    flat = draw(values(size + index.size)) if values else draw(arrays((size + index.size,)))
    return Call((flat[:size].reshape(shape), flat[size:].reshape(index.shape)), {"dim": dim, "index": index})


def reduce_inputs(reduce: str) -> st.SearchStrategy[Call]:
    """scatter_reduce's inputs, include_self either way: for amax/amin all values distinct (no ties); for prod
    away from 0, where torch's rule divides by the entries (ours does not: see test_scatter_reduce_prod_with_a_zero)."""
    values = {"amax": lambda n: distinct_arrays((n,)), "amin": lambda n: distinct_arrays((n,)),
              "prod": lambda n: away_from_zero((n,))}.get(reduce)
    return st.tuples(scatter_inputs(values=values), st.booleans()).map(
        lambda c: Call(c[0].arrays, {**c[0].params, "reduce": reduce, "include_self": c[1]}))


@st.composite
def index_select_inputs(draw: Callable) -> Call:
    shape = draw(any_shape(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index = draw(integers((draw(st.integers(1, 4)),), 0, shape[dim] - 1))
    return Call((draw(arrays(shape)),), {"dim": dim, "index": index})


@st.composite
def take_along_inputs(draw: Callable, negative: bool = True) -> Call:
    """x, an axis and indices that broadcast with x outside the axis (sides of 1), maybe negative."""
    shape = draw(any_shape(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sides = tuple(draw(st.integers(1, SIDE)) if d == axis % len(shape) else draw(st.sampled_from([1, n]))
                  for d, n in enumerate(shape))
    n = shape[axis]
    return Call((draw(arrays(shape)),), {"axis": axis, "indices": draw(integers(sides, -n if negative else 0, n - 1))})


@st.composite
def flat_take_inputs(draw: Callable) -> Call:
    shape = draw(any_shape(min_dims=1))
    n = int(np.prod(shape))
    indices = draw(integers((draw(st.integers(1, 4)),), -n, n - 1))
    return Call((draw(arrays(shape)),), {"axis": None, "indices": indices})


@st.composite
def mask_inputs(draw: Callable, mask_may_be_larger: bool = False, value_tensor: bool = False) -> Call:
    """x and a bool mask that broadcasts to x's shape (or, with ``mask_may_be_larger``, with it)."""
    shape = draw(any_shape())
    mask_shape = tuple(draw(st.sampled_from([1, n])) for n in shape[draw(st.integers(0, len(shape))):])
    if mask_may_be_larger and draw(st.booleans()):
        shape, mask_shape = mask_shape, shape
    params = {"mask": draw(hnp.arrays(np.bool_, mask_shape))}
    if not value_tensor:
        params["value"] = draw(st.sampled_from([-1.5, 0.0, 2.0]))
    extra = (draw(arrays(())),) if value_tensor else ()
    return Call((draw(arrays(shape)),) + extra, params)


@st.composite
def where_scalar_inputs(draw: Callable) -> Call:
    shape = draw(any_shape())
    return Call((draw(arrays(shape)),), {"cond": draw(hnp.arrays(np.bool_, shape)),
                                         "scalar": draw(st.sampled_from([0.0, 1.0, -2.5]))})


# --------------------------------------------------------------------------
# references, from torch's definitions
# --------------------------------------------------------------------------


def replaced(position: tuple[int, ...], dim: int, value: int) -> tuple[int, ...]:
    return position[:dim] + (int(value),) + position[dim + 1:]


def np_gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """out[p] = x[p with p[dim] replaced by index[p]]."""
    dim %= x.ndim
    out = np.empty(index.shape)
    for p in np.ndindex(index.shape):
        out[p] = x[replaced(p, dim, index[p])]
    return out


def np_scatter_reduce(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray, reduce: str,
                      include_self: bool = True) -> np.ndarray:
    """Every place named by index gets the ``reduce`` of the src entries sent there (and of x's, with include_self)."""
    groups: dict[tuple[int, ...], list[float]] = {}
    for p in np.ndindex(index.shape):
        groups.setdefault(replaced(p, dim, index[p]), []).append(src[p])
    combine = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min, "last": lambda v: v[-1]}
    out = x.copy()
    for place, values in groups.items():
        out[place] = combine[reduce](([x[place]] if include_self else []) + values)
    return out


def np_scatter(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    return np_scatter_reduce(x, src, dim, index, "last", include_self=False)


def np_scatter_value(x: np.ndarray, dim: int, index: np.ndarray, value: float) -> np.ndarray:
    return np_scatter(x, np.full(index.shape, value), dim, index)


def np_masked_select(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.array([v for v, m in zip(np.broadcast_to(x, shape).flat, np.broadcast_to(mask, shape).flat) if m])


def tt(array: Any) -> Any:
    """A NumPy index or mask as a torch tensor (torch is imported only when a torch row runs)."""
    return __import__("torch").as_tensor(array)


def torch_index(index: Any) -> Any:
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(tt(p) if isinstance(p, np.ndarray) else p for p in parts)


def cubed(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *a, **p: fn(*a, **p) ** 3


REDUCES = ["sum", "prod", "mean", "amax", "amin"]

CATALOGUE: list[OpCase] = [
    OpCase("gather", gather, np_gather, gather_inputs(), torch=lambda a, dim, index: a.gather(dim, tt(index))),
    OpCase("gather_method_cubed", cubed(lambda a, dim, index: a.gather(dim, index)), cubed(np_gather),
           gather_inputs(), torch=cubed(lambda a, dim, index: a.gather(dim, tt(index)))),
    OpCase("index_select", lambda a, dim, index: a.index_select(dim, index),
           lambda a, dim, index: np.take(a, index, dim),
           index_select_inputs(), torch=lambda a, dim, index: a.index_select(dim, tt(index))),
    OpCase("index_select_cubed", cubed(index_select), cubed(lambda a, dim, index: np.take(a, index, dim)),
           index_select_inputs()),
    OpCase("take_along_axis", take_along_axis, lambda a, axis, indices: np.take_along_axis(a, indices, axis),
           take_along_inputs()),
    OpCase("take_along_axis_flat_cubed", cubed(take_along_axis),
           cubed(lambda a, axis, indices: np.take_along_axis(a, indices, axis)), flat_take_inputs()),
    OpCase("take_along_dim_method", lambda a, axis, indices: a.take_along_dim(indices, axis),
           lambda a, axis, indices: np.take_along_axis(a, indices, axis), take_along_inputs(negative=False),
           torch=lambda a, axis, indices: a.take_along_dim(tt(indices), axis)),
    OpCase("scatter", lambda a, s, dim, index: scatter(a, dim, index, src=s), np_scatter, scatter_inputs(unique=True),
           torch=lambda a, s, dim, index: a.scatter(dim, tt(index), s)),
    OpCase("scatter_method_cubed", cubed(lambda a, s, dim, index: a.scatter(dim, index, s)), cubed(np_scatter),
           scatter_inputs(unique=True)),
    OpCase("scatter_value", lambda a, dim, index, value: a.scatter(dim, index, value), np_scatter_value,
           scatter_inputs(unique=True).map(lambda c: Call(c.arrays[:1], {**c.params, "value": 2.5})),
           torch=lambda a, dim, index, value: a.scatter(dim, tt(index), value)),
    OpCase("scatter_add", lambda a, s, dim, index: a.scatter_add(dim, index, s),
           lambda a, s, dim, index: np_scatter_reduce(a, s, dim, index, "sum"), scatter_inputs(),
           torch=lambda a, s, dim, index: a.scatter_add(dim, tt(index), s)),
    OpCase("scatter_add_cubed", cubed(lambda a, s, dim, index: scatter_add(a, dim, index, s)),
           cubed(lambda a, s, dim, index: np_scatter_reduce(a, s, dim, index, "sum")), scatter_inputs()),
    *(OpCase(f"scatter_reduce_{r}", lambda a, s, **p: a.scatter_reduce(p.pop("dim"), p.pop("index"), s, **p),
             np_scatter_reduce, reduce_inputs(r),
             torch=lambda a, s, **p: a.scatter_reduce(p.pop("dim"), tt(p.pop("index")), s, **p))
      for r in REDUCES),
    *(OpCase(f"scatter_reduce_{r}_cubed", cubed(lambda a, s, **p: scatter_reduce(a, src=s, **p)),
             cubed(np_scatter_reduce), reduce_inputs(r)) for r in ("sum", "mean")),
    OpCase("masked_fill", lambda a, mask, value: a.masked_fill(mask, value),
           lambda a, mask, value: np.where(mask, value, a), mask_inputs(),
           torch=lambda a, mask, value: a.masked_fill(tt(mask), value)),
    OpCase("masked_fill_tensor_value_cubed", cubed(lambda a, v, mask: masked_fill(a, mask, v)),
           cubed(lambda a, v, mask: np.where(mask, v, a)),
           mask_inputs(value_tensor=True), torch=cubed(lambda a, v, mask: a.masked_fill(tt(mask), v))),
    OpCase("masked_select", lambda a, mask: a.masked_select(mask), np_masked_select, mask_inputs(True).map(
        lambda c: Call(c.arrays, {"mask": c.params["mask"]})), torch=lambda a, mask: a.masked_select(tt(mask))),
    OpCase("masked_select_cubed", cubed(masked_select), cubed(np_masked_select), mask_inputs(True).map(
        lambda c: Call(c.arrays, {"mask": c.params["mask"]}))),
    OpCase("where_scalar_other", lambda a, cond, scalar: where(cond, a, scalar),
           lambda a, cond, scalar: np.where(cond, a, scalar), where_scalar_inputs(),
           torch=lambda a, cond, scalar: __import__("torch").where(tt(cond), a, scalar)),
    OpCase("where_scalar_input_cubed", cubed(lambda a, cond, scalar: where(cond, scalar, a)),
           cubed(lambda a, cond, scalar: np.where(cond, scalar, a)), where_scalar_inputs(),
           torch=cubed(lambda a, cond, scalar: __import__("torch").where(tt(cond), scalar, a))),
    # GetItem and ScatterAdd (its adjoint) under a nonlinear op: a doubled or negated rule fails here
    OpCase("getitem_repeated_integers_cubed", lambda a, index: a[index] ** 3, lambda a, index: a[index] ** 3,
           unary(shape=any_shape(1), params=integer_array_index),
           torch=lambda a, index: a[torch_index(index)] ** 3),
    OpCase("getitem_slices_cubed", lambda a, index: a[index] ** 3, lambda a, index: a[index] ** 3,
           unary(shape=any_shape(1), params=slices)),
    OpCase("getitem_boolean_mask_cubed", lambda a, index: a[index] ** 3, lambda a, index: a[index] ** 3,
           unary(shape=any_shape(1), params=boolean_mask), torch=lambda a, index: a[torch_index(index)] ** 3),
]


(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# integer results: nonzero, argwhere, one_hot (outside the graph), against NumPy
# --------------------------------------------------------------------------

X = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 3.0]])


def test_nonzero_is_numpys_tuple_and_the_method_is_torchs_coordinates() -> None:
    for mine, theirs in zip(nonzero(Tensor(X)), np.nonzero(X)):
        assert mine.dtype == np.int64 and not mine.requires_grad
        np.testing.assert_array_equal(mine.data, theirs)
    coordinates = Tensor(X, requires_grad=True).nonzero()
    assert coordinates.dtype == np.int64 and not coordinates.requires_grad
    np.testing.assert_array_equal(coordinates.data, [[0, 1], [1, 0], [1, 2]])
    np.testing.assert_array_equal(argwhere(X).data, np.argwhere(X))
    rows, cols = Tensor(X).nonzero(as_tuple=True)
    np.testing.assert_array_equal(rows.data, [0, 1, 1])
    np.testing.assert_array_equal(cols.data, [1, 0, 2])


def test_nonzero_of_a_0d_tensor() -> None:
    assert Tensor(np.array(2.0)).nonzero().shape == (1, 0)  # torch's shapes
    assert Tensor(np.array(0.0)).nonzero().shape == (0, 0)
    np.testing.assert_array_equal(Tensor(np.array(2.0)).nonzero(as_tuple=True)[0].data, [0])
    with pytest.raises(OpError, match=r"nonzero: a 0-d tensor has no axes to index"):
        nonzero(Tensor(np.array(2.0)))


def test_one_hot_is_int64_rows_of_the_identity() -> None:
    index = np.array([[2, 0], [1, 2]])
    out = one_hot(index)
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data, np.eye(3, dtype=np.int64)[index])
    np.testing.assert_array_equal(one_hot(Tensor(np.array([1])), num_classes=4).data, [[0, 1, 0, 0]])


# --------------------------------------------------------------------------
# conventions
# --------------------------------------------------------------------------


def grads_of(fn: Callable[..., Tensor], *values: Any) -> list[np.ndarray]:
    xs = [Tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


TIES_X, TIES_SRC, TIES_INDEX = [[1.0, 5.0], [2.0, 0.0]], [[2.0, 5.0], [2.0, 1.0]], np.zeros((2, 2), dtype=np.int64)


@pytest.mark.parametrize("reduce, sign", [("amax", 1.0), ("amin", -1.0)])
def test_scatter_reduce_shares_a_tied_extreme_evenly(reduce: str, sign: float) -> None:
    """Column 0: both src entries (2) tie above x (1); column 1: x and src[0, 1] tie at 5; row 1 of x is not named."""
    gx, gs = grads_of(lambda x, s: x.scatter_reduce(0, TIES_INDEX, s, reduce), sign * np.array(TIES_X),
                      sign * np.array(TIES_SRC))
    np.testing.assert_array_equal(gx, [[0.0, 0.5], [1.0, 1.0]])
    np.testing.assert_array_equal(gs, [[0.5, 0.5], [0.5, 0.0]])


def test_scatter_reduce_without_self_gives_the_extreme_its_whole_gradient() -> None:
    """x's own 5 takes no part, so src[0, 1] alone is the max (torch gives it 0.5, counting the excluded x)."""
    gx, gs = grads_of(lambda x, s: x.scatter_reduce(0, TIES_INDEX, s, "amax", include_self=False), TIES_X, TIES_SRC)
    np.testing.assert_array_equal(gx, [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(gs, [[0.5, 1.0], [0.5, 0.0]])


def test_scatter_reduce_prod_with_a_zero() -> None:
    """d/ds of x * s1 * s2 at s1 = 0 is x * s2 (not 0/0)."""
    gx, gs = grads_of(lambda x, s: x.scatter_reduce(0, np.zeros((2, 1), dtype=np.int64), s, "prod"), [[3.0]],
                      [[0.0], [2.0]])
    np.testing.assert_array_equal(gx, [[0.0]])
    np.testing.assert_array_equal(gs, [[6.0], [0.0]])


def test_where_with_a_scalar_branch_keeps_float32() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = where(x > 0, x, 0.0) + where(x > 2, 1.0, x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [2.0, -2.0, 4.0])
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0, 1.0])


# --------------------------------------------------------------------------
# errors name the op, the index range and the shape
# --------------------------------------------------------------------------

T = Tensor(np.zeros((2, 3)))
IDX = np.array([[0, 1, 2]])


@pytest.mark.parametrize("call, message", [
    (lambda: gather(T, 1, np.array([[0, 3]])), (r"gather: index 3 is out of range \[0, 3\) for dimension 1 of a tensor "
                                               r"of shape \(2, 3\)")),
    (lambda: T.gather(0, np.array([[-1, 0]])), r"gather: index -1 is out of range \[0, 2\) for dimension 0"),
    (lambda: T.gather(0, np.array([[0.0, 1.0]])), r"gather: index must hold integers, got dtype float64"),
    (lambda: T.gather(0, np.array([0, 1])), (r"gather: index of shape \(2,\) must have as many dimensions as the "
                                            r"tensor of shape \(2, 3\)")),
    (lambda: T.gather(0, np.zeros((1, 4), dtype=np.int64)), (r"gather: index of shape \(1, 4\) is larger than the "
                                                             r"tensor of shape \(2, 3\) in dimension 1")),
    (lambda: T.gather(2, IDX), r"gather: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda: Tensor(np.array(1.0)).index_select(0, np.array([0])), (r"index_select: needs a tensor with at least 1 "
                                                                    r"dimension, got a 0-d tensor")),
    (lambda: T.index_select(1, np.array([True, False])), r"index_select: index must hold integers, got dtype bool"),
    (lambda: T.index_select(0, np.array([2])), r"index_select: index 2 is out of range \[0, 2\) for dimension 0"),
    (lambda: T.index_select(0, np.zeros((1, 1), dtype=np.int64)), r"index_select: index must be 1-D or 0-d"),
    (lambda: take_along_axis(T, np.array([[-4]]), 1), (r"take_along_axis: index -4 is out of range \[-3, 3\) for "
                                                      r"dimension 1 of a tensor of shape \(2, 3\)")),
    (lambda: take_along_axis(T, np.zeros((3, 1), dtype=np.int64), 1), (r"take_along_axis: indices of shape \(3, 1\) "
                                                                      r"do not broadcast")),
    (lambda: T.scatter(0, np.array([[0], [0]]), Tensor(np.ones((2, 1)))), (r"scatter: index of shape \(2, 1\) writes "
                                                                          r"some place of the tensor of shape \(2, 3\) "
                                                                          r"twice")),
    (lambda: scatter(T, 0, IDX), r"scatter: give exactly one of src and value"),
    (lambda: T.scatter_add(1, IDX, Tensor(np.ones((1, 2)))), (r"scatter_add: index of shape \(1, 3\) must not be "
                                                             r"larger than src of shape \(1, 2\)")),
    (lambda: T.scatter_add(0, np.array([[5, 0, 0]]), Tensor(np.ones((1, 3)))),
     r"scatter_add: index 5 is out of range \[0, 2\) for dimension 0 of a tensor of shape \(2, 3\)"),
    (lambda: T.scatter_add(1, IDX, Tensor(np.ones((1, 3), dtype=np.float32))),
     r"scatter_add: src has dtype float32 but the tensor has float64; they must agree"),
    (lambda: T.scatter_reduce(0, IDX, T, "max"), (r"scatter_reduce: reduce must be one of \('sum', 'prod', 'mean', "
                                                 r"'amax', 'amin'\), got 'max'")),
    (lambda: T.masked_fill(np.ones((3, 3), dtype=bool), 0.0), (r"masked_fill: mask of shape \(3, 3\) does not "
                                                             r"broadcast to the tensor's shape \(2, 3\)")),
    (lambda: T.masked_fill(np.ones(3), 0.0), r"masked_fill: mask must be a bool tensor or array, got dtype float64"),
    (lambda: T.masked_fill(np.ones(3, dtype=bool), Tensor(np.ones(2))), (r"masked_fill: value must be a number or a "
                                                                        r"0-d tensor, got shape \(2,\)")),
    (lambda: T.masked_select(np.ones(2, dtype=bool)), r"masked_select: mask of shape \(2,\) does not broadcast"),
    (lambda: one_hot(np.array([0, 3]), num_classes=3), r"one_hot: index 3 is out of range \[0, 3\)"),
    (lambda: one_hot(np.array([0.0])), r"one_hot: index must hold integers, got dtype float64"),
    (lambda: one_hot(np.zeros(0, dtype=np.int64)), r"one_hot: cannot infer the number of classes from an empty index"),
])
def test_index_errors(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(OpError, match=message):
        call()
