"""Making tensors: constants, ranges, grids, triangles and random draws, against NumPy (and torch where installed).

The differentiable ones (``meshgrid``, ``tril``, ``triu`` and the methods) are catalogue rows;
the rest are plain tests against NumPy: dtypes, shapes, both spellings of a size, offsets,
determinism of the random draws, and the errors for a missing generator or a bad size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import SIDE, Call, OpCase, Shape, catalogue_properties, unary

import tinygrad_vae as tv
from tinygrad_vae import OpError, Tensor, meshgrid, stack, tril, triu
from tinygrad_vae.testing import arrays, shapes

# --------------------------------------------------------------------------
# the catalogue: the differentiable ops
# --------------------------------------------------------------------------


def matrices() -> st.SearchStrategy[Shape]:
    """Matrices and batches of them: tril and triu act on the last two axes."""
    return shapes(min_dims=2, max_dims=3, max_side=SIDE)


def offsets(key: str) -> Callable[[Shape], st.SearchStrategy[dict[str, Any]]]:
    """A diagonal offset from below the last row to beyond the last column."""
    return lambda shape: st.fixed_dictionaries({key: st.integers(-shape[-2], shape[-1])})


@st.composite
def vectors(draw: Callable, n: int) -> Call:
    """``n`` coordinate vectors of independent lengths."""
    return Call(tuple(draw(arrays((draw(st.integers(1, SIDE)),))) for _ in range(n)))


def np_grids(*xs: np.ndarray, indexing: str) -> np.ndarray:
    """The grids from their definition: grid i holds xs[i][index i] at each point of the 'ij' grid."""
    lengths = [len(x) for x in xs]
    grids = np.stack([np.empty(lengths) for _ in xs])
    for point in np.ndindex(*lengths):
        for i, x in enumerate(xs):
            grids[(i, *point)] = x[point[i]]
    return grids.swapaxes(1, 2) if indexing == "xy" and len(xs) >= 2 else grids


def np_tril(a: np.ndarray, k: int) -> np.ndarray:
    """Entry (.., i, j) kept where j - i <= k."""
    i, j = np.indices(a.shape[-2:])
    return np.where(j - i <= k, a, 0.0)


def np_triu(a: np.ndarray, k: int) -> np.ndarray:
    """Entry (.., i, j) kept where j - i >= k."""
    i, j = np.indices(a.shape[-2:])
    return np.where(j - i >= k, a, 0.0)


CATALOGUE = [
    OpCase("tril", lambda a, k: tril(a, k), np_tril, unary(shape=matrices(), params=offsets("k")),
           torch=lambda a, k: a.tril(k)),
    OpCase("triu", lambda a, k: triu(a, k), np_triu, unary(shape=matrices(), params=offsets("k")),
           torch=lambda a, k: a.triu(k)),
    OpCase("Tensor.tril", lambda a, diagonal: a.tril(diagonal=diagonal), lambda a, diagonal: np_tril(a, diagonal),
           unary(shape=matrices(), params=offsets("diagonal")), torch=lambda a, diagonal: a.tril(diagonal=diagonal)),
    OpCase("Tensor.triu", lambda a, diagonal: a.triu(diagonal=diagonal), lambda a, diagonal: np_triu(a, diagonal),
           unary(shape=matrices(), params=offsets("diagonal")), torch=lambda a, diagonal: a.triu(diagonal=diagonal)),
    # tril and triu are linear: a cube after them lets gradgradcheck see a wrong mask in the rule.
    OpCase("tril_cubed", lambda a: a.tril() ** 3, lambda a: np_tril(a, 0) ** 3, unary(shape=matrices()),
           torch=lambda a: a.tril() ** 3),
    OpCase("triu_cubed", lambda a: triu(a, 1) ** 3, lambda a: np_triu(a, 1) ** 3, unary(shape=matrices()),
           torch=lambda a: a.triu(1) ** 3),
    OpCase("meshgrid_xy", lambda x, y: stack(meshgrid(x, y)), lambda x, y: np_grids(x, y, indexing="xy"),
           vectors(2), torch=lambda x, y: stack_torch(x, y, indexing="xy")),
    OpCase("meshgrid_ij", lambda x, y, z: stack(meshgrid(x, y, z, indexing="ij")),
           lambda x, y, z: np_grids(x, y, z, indexing="ij"), vectors(3),
           torch=lambda x, y, z: stack_torch(x, y, z, indexing="ij")),
    OpCase("meshgrid_xy3_cubed", lambda x, y, z: stack(meshgrid(x, y, z)) ** 3,
           lambda x, y, z: np_grids(x, y, z, indexing="xy") ** 3, vectors(3),
           torch=lambda x, y, z: stack_torch(x, y, z, indexing="xy") ** 3),
    OpCase("meshgrid_product", lambda x, y: meshgrid(x, y)[0] * meshgrid(x, y)[1] ** 2,
           lambda x, y: x[None, :] * y[:, None] ** 2, vectors(2)),
    OpCase("meshgrid_one", lambda x: meshgrid(x)[0] ** 3, lambda x: x**3, vectors(1)),
]


def stack_torch(*xs: Any, indexing: str) -> Any:
    import torch

    return torch.stack(torch.meshgrid(*xs, indexing=indexing))


(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives, test_float32_stays_float32,
 test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------

SIZES = [(), (0,), (3,), (2, 3), (2, 1, 4)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("ours", "numpy"), [(tv.zeros, np.zeros), (tv.ones, np.ones), (tv.empty, np.zeros)])
def test_constants_take_a_size_as_varargs_or_a_tuple(ours: Callable, numpy: Callable, size: Shape) -> None:
    for made in (ours(*size), ours(size), ours(list(size))):
        assert made.dtype == np.float32  # the default dtype
        np.testing.assert_array_equal(made.data, numpy(size))
        assert not made.requires_grad


def test_empty_gives_zeros() -> None:
    assert not tv.empty(3, 4).data.any()
    assert not tv.empty_like(np.ones((2, 2))).data.any()


def test_constants_follow_the_default_dtype_and_take_a_dtype() -> None:
    tv.set_default_dtype(np.float64)
    try:
        assert tv.zeros(2).dtype == np.float64
        assert tv.full((2,), 1.5).dtype == np.float64
        assert tv.linspace(0, 1, 3).dtype == np.float64
    finally:
        tv.set_default_dtype(np.float32)
    assert tv.ones(2, dtype=np.int32).dtype == np.int32
    assert tv.zeros(2, dtype="float64").dtype == np.float64


@pytest.mark.parametrize(("fill", "dtype"), [(1.5, np.float32), (3, np.int64), (True, np.bool_)])
def test_full_takes_its_dtype_from_the_value(fill: Any, dtype: Any) -> None:
    made = tv.full((2, 3), fill)
    assert made.dtype == dtype
    np.testing.assert_array_equal(made.data, np.full((2, 3), fill))
    assert tv.full(4, 2.0, dtype=np.float64).dtype == np.float64


def test_requires_grad_makes_a_leaf_that_collects_a_gradient() -> None:
    x = tv.zeros(2, 3, requires_grad=True, dtype=np.float64)
    assert x.requires_grad and x.is_leaf
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 2.0))
    with pytest.raises(TypeError, match="only float32 and float64"):
        tv.zeros(2, dtype=np.int64, requires_grad=True)


@pytest.mark.parametrize("source", [np.arange(6, dtype=np.int32).reshape(2, 3), np.ones((3,), np.float64)])
def test_like_forms_take_shape_and_dtype(source: np.ndarray) -> None:
    for x in (source, Tensor(source)):
        cases = [(tv.zeros_like(x), np.zeros_like(source)), (tv.ones_like(x), np.ones_like(source)),
                 (tv.full_like(x, 7), np.full_like(source, 7)), (tv.empty_like(x), np.zeros_like(source))]
        for made, expected in cases:
            assert made.dtype == expected.dtype
            np.testing.assert_array_equal(made.data, expected)
    assert tv.zeros_like(source, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(("n", "m", "k"), [(3, None, 0), (3, 5, 1), (4, 2, -1), (3, 3, 5), (0, None, 0)])
def test_eye_matches_numpy(n: int, m: int | None, k: int) -> None:
    made = tv.eye(n, m, k)
    assert made.dtype == np.float32
    np.testing.assert_array_equal(made.data, np.eye(n, m, k))
    assert tv.eye(2, dtype=np.int64).dtype == np.int64


# --------------------------------------------------------------------------
# ranges and grids
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "dtype"), [
    ((5,), np.int64), ((2, 7), np.int64), ((7, 2, -2), np.int64), ((0, 1, 0.25), np.float32),
    ((1.5,), np.float32), ((-1, 2.0), np.float32), ((3, 0), np.int64),
])
def test_arange_matches_numpy(args: tuple, dtype: Any) -> None:
    made = tv.arange(*args)
    assert made.dtype == dtype
    np.testing.assert_array_equal(made.data, np.arange(*args, dtype=dtype))
    assert tv.arange(4, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(("start", "stop", "num", "endpoint"), [(0, 1, 5, True), (0, 1, 4, False), (-2, 3, 1, True),
                                                                 (1, 1, 0, True), (3, -3, 50, True)])
def test_linspace_matches_numpy(start: float, stop: float, num: int, endpoint: bool) -> None:
    made = tv.linspace(start, stop, num, endpoint=endpoint)
    assert made.dtype == np.float32
    np.testing.assert_array_equal(made.data, np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float32))
    assert len(tv.linspace(0, 1).data) == 50


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("lengths", [(), (3,), (2, 3), (4, 1, 2)])
def test_meshgrid_matches_numpy(lengths: tuple[int, ...], indexing: str) -> None:
    xs = [np.arange(n) * 10 + i for i, n in enumerate(lengths)]
    ours, theirs = meshgrid(*xs, indexing=indexing), np.meshgrid(*xs, indexing=indexing)
    assert len(ours) == len(theirs)
    for made, expected in zip(ours, theirs):
        assert made.dtype == expected.dtype
        np.testing.assert_array_equal(made.data, expected)


def test_meshgrid_defaults_to_xy_and_flattens_its_inputs() -> None:
    x, y = np.arange(6).reshape(2, 3), np.array([7, 8])
    for made, expected in zip(meshgrid(x, y), np.meshgrid(x, y)):
        np.testing.assert_array_equal(made.data, expected)
    assert meshgrid(np.arange(3), np.arange(2))[0].shape == (2, 3)


def test_meshgrid_gradient_sums_each_grid_over_the_other_axes() -> None:
    x, y = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True), Tensor(np.array([4.0, 5.0]), requires_grad=True)
    gx, gy = meshgrid(x, y)
    (gx * 2.0 + gy).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0, 4.0])  # each x appears in len(y) = 2 rows
    np.testing.assert_array_equal(y.grad.data, [3.0, 3.0])  # each y appears in len(x) = 3 columns


# --------------------------------------------------------------------------
# triangles
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 4])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 4)])
def test_tril_and_triu_match_numpy(shape: Shape, k: int) -> None:
    a = np.arange(1, 1 + int(np.prod(shape)), dtype=np.float32).reshape(shape)
    x = Tensor(a)
    for made, expected in [(tril(x, k), np.tril(a, k)), (triu(x, k), np.triu(a, k)),
                           (x.tril(k), np.tril(a, k)), (x.triu(diagonal=k), np.triu(a, k))]:
        assert made.dtype == np.float32
        np.testing.assert_array_equal(made.data, expected)
    np.testing.assert_array_equal(tril(a.astype(np.int32)).data, np.tril(a.astype(np.int32)))
    assert tril(a.astype(np.int32)).dtype == np.int32


def test_tril_masks_the_gradient_the_same_way() -> None:
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    (x.tril(1) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 3.0 * np.tril(np.ones((3, 4)), 1))


def test_tril_needs_a_matrix_and_an_int_offset() -> None:
    with pytest.raises(OpError, match=r"tril: needs a tensor with at least 2 dimensions.*\(3,\)"):
        tril(np.ones(3))
    with pytest.raises(TypeError, match="triu: the diagonal offset must be an int, got 0.5"):
        Tensor(np.ones((2, 2))).triu(0.5)


# --------------------------------------------------------------------------
# new_* methods
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_new_methods_take_the_dtype_of_the_tensor(dtype: Any) -> None:
    x = Tensor(np.ones((5,), dtype=dtype))
    for made, expected in [(x.new_zeros(2, 3), np.zeros((2, 3))), (x.new_zeros((2, 3)), np.zeros((2, 3))),
                           (x.new_ones(4), np.ones(4)), (x.new_ones([1, 2]), np.ones((1, 2))),
                           (x.new_empty(2), np.zeros(2)), (x.new_full((2, 2), 7), np.full((2, 2), 7)),
                           (x.new_tensor([[1, 2]]), np.array([[1, 2]]))]:
        assert made.dtype == dtype
        np.testing.assert_array_equal(made.data, expected)
    assert x.new_zeros(2, dtype=np.float64).dtype == np.float64


def test_new_tensor_copies_its_data() -> None:
    source = np.array([1.0, 2.0])
    made = Tensor(np.zeros(1)).new_tensor(source, requires_grad=True)
    source[0] = 5.0
    np.testing.assert_array_equal(made.data, [1.0, 2.0])
    assert made.requires_grad and made.is_leaf


# --------------------------------------------------------------------------
# random draws
# --------------------------------------------------------------------------


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_rand_and_randn_draw_from_the_generator_in_the_dtype() -> None:
    for size in [(2, 3), ((2, 3),)]:
        u, z = tv.rand(*size, generator=rng(1)), tv.randn(*size, generator=rng(1))
        assert u.dtype == z.dtype == np.float32
        np.testing.assert_array_equal(u.data, rng(1).random((2, 3), dtype=np.float32))
        np.testing.assert_array_equal(z.data, rng(1).standard_normal((2, 3), dtype=np.float32))
    z64 = tv.randn(4, generator=rng(2), dtype=np.float64, requires_grad=True)
    assert z64.dtype == np.float64 and z64.requires_grad
    np.testing.assert_array_equal(z64.data, rng(2).standard_normal(4))
    assert tv.rand(generator=rng()).shape == ()


def test_like_draws_take_shape_and_dtype() -> None:
    x = Tensor(np.zeros((2, 2)))
    assert tv.rand_like(x, generator=rng()).dtype == np.float64
    np.testing.assert_array_equal(tv.randn_like(x, generator=rng(3)).data, rng(3).standard_normal((2, 2)))
    np.testing.assert_array_equal(tv.rand_like(x, generator=rng(3), dtype=np.float32).data,
                                  rng(3).random((2, 2), dtype=np.float32))


def test_randint_takes_torch_spellings() -> None:
    drawn = tv.randint(3, (1000,), generator=rng())
    assert drawn.dtype == np.int64
    assert set(np.unique(drawn.data)) == {0, 1, 2}
    between = tv.randint(-2, 2, size=(10, 10), generator=rng(), dtype=np.int32)
    assert between.dtype == np.int32 and between.shape == (10, 10)
    assert between.data.min() >= -2 and between.data.max() <= 1
    np.testing.assert_array_equal(tv.randint(5, 9, 6, generator=rng(4)).data, rng(4).integers(5, 9, 6))


def test_normal_broadcasts_mean_and_std() -> None:
    mean, std = np.array([0.0, 10.0, 100.0]), np.array([[1.0], [2.0]])
    drawn = tv.normal(Tensor(mean), std, generator=rng(5))
    assert drawn.shape == (2, 3) and drawn.dtype == np.float64
    np.testing.assert_allclose(drawn.data, mean + std * rng(5).standard_normal((2, 3)), rtol=1e-15)
    scalar = tv.normal(1.0, 2.0, (4,), generator=rng(6))
    assert scalar.dtype == np.float32
    np.testing.assert_allclose(scalar.data, 1.0 + 2.0 * rng(6).standard_normal(4, dtype=np.float32), rtol=1e-6)
    assert tv.normal(Tensor(mean), 1.0, size=(2, 3), generator=rng()).shape == (2, 3)


DRAWS = {
    "rand": lambda g: tv.rand(3, 2, generator=g),
    "randn": lambda g: tv.randn(3, 2, generator=g),
    "randint": lambda g: tv.randint(0, 1000, (3, 2), generator=g),
    "rand_like": lambda g: tv.rand_like(np.zeros((3, 2)), generator=g),
    "randn_like": lambda g: tv.randn_like(np.zeros((3, 2)), generator=g),
    "normal": lambda g: tv.normal(0.0, 1.0, (3, 2), generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_draws_are_deterministic_given_the_seed(name: str) -> None:
    draw = DRAWS[name]
    np.testing.assert_array_equal(draw(rng(7)).data, draw(rng(7)).data)
    assert not np.array_equal(draw(rng(7)).data, draw(rng(8)).data)
    g = rng(7)
    assert not np.array_equal(draw(g).data, draw(g).data)  # the generator moves on


@pytest.mark.parametrize("name", DRAWS)
def test_draws_refuse_without_a_generator(name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name}: needs a generator: pass "
                                        r"generator=np.random.default_rng\(seed\)"):
        DRAWS[name](None)


@pytest.mark.parametrize("name", DRAWS)
@pytest.mark.parametrize("bad", [0, np.random.RandomState(0)])
def test_draws_refuse_what_is_not_a_generator(name: str, bad: Any) -> None:
    with pytest.raises(TypeError, match=f"must be a numpy.random.Generator.*got {type(bad).__name__}"):
        DRAWS[name](bad)


def test_draws_refuse_bad_bounds_and_dtypes() -> None:
    with pytest.raises(OpError, match="randint: needs integers low < high, got low=3, high=3"):
        tv.randint(3, 3, (2,), generator=rng())
    with pytest.raises(TypeError, match=r"randint: expected randint\(high, size\)"):
        tv.randint(3, generator=rng())
    with pytest.raises(TypeError, match="randint: dtype must be an integer dtype, got float32"):
        tv.randint(3, (2,), generator=rng(), dtype=np.float32)
    with pytest.raises(TypeError, match="rand: draws float32 or float64, got dtype int64"):
        tv.rand(2, generator=rng(), dtype=np.int64)
    with pytest.raises(OpError, match="normal: std must be non-negative"):
        tv.normal(0.0, -1.0, (2,), generator=rng())
    with pytest.raises(OpError, match=r"normal: mean of shape \(2, 3\) and std of shape \(\) do not broadcast "
                                      r"to size \(3,\)"):
        tv.normal(np.zeros((2, 3)), 1.0, (3,), generator=rng())


# --------------------------------------------------------------------------
# bad sizes and arguments
# --------------------------------------------------------------------------

MAKERS = {
    "zeros": lambda *s: tv.zeros(*s), "ones": lambda *s: tv.ones(*s), "empty": lambda *s: tv.empty(*s),
    "full": lambda *s: tv.full(s, 1.0), "rand": lambda *s: tv.rand(*s, generator=rng()),
    "randn": lambda *s: tv.randn(*s, generator=rng()), "randint": lambda *s: tv.randint(2, s, generator=rng()),
    "new_zeros": lambda *s: Tensor([1.0]).new_zeros(*s),
}


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_a_bad_size_is_named(name: str, bad: Any) -> None:
    where = "zeros" if name == "new_zeros" else name
    with pytest.raises(ValueError, match=rf"{where}: size\[1\] must be a non-negative int, got {bad}"):
        MAKERS[name](2, bad)


def test_bad_range_and_grid_arguments_are_named() -> None:
    with pytest.raises(OpError, match="arange: step must not be zero"):
        tv.arange(0, 3, 0)
    with pytest.raises(TypeError, match="arange: stop must be a real number, got '3'"):
        tv.arange(0, "3")
    with pytest.raises(ValueError, match="linspace: num must be a non-negative int, got -1"):
        tv.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="eye: N must be a non-negative int, got 2.0"):
        tv.eye(2.0)
    with pytest.raises(OpError, match="meshgrid: indexing must be 'xy' or 'ij', got 'xyz'"):
        meshgrid(np.ones(2), indexing="xyz")
