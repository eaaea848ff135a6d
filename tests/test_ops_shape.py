"""Shape ops (movement.py's torch methods and shape.py's composites), from one catalogue, then plain tests.

Each shape op is linear, so gradgradcheck of the op alone would pass even for a doubled
or negated rule; every row therefore has a twin ``<name>_cubed`` that follows the op
with ``** 3`` (made by ``cubed``). Ops that return several tensors (the split family)
are joined back into one tensor, each piece weighted by its position, so a piece in the
wrong place or order shows.

Methods follow torch (their ``torch=`` is the same call on torch tensors); module-level
functions with a NumPy name follow NumPy (their ``reference`` is that NumPy function).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import SIDE, Call, OpCase, Shape, any_shape, catalogue_properties, joinable, unary

import tinygrad_vae as tv
import tinygrad_vae.nn.functional as F
from tinygrad_vae import OpError, Tensor
from tinygrad_vae.testing import arrays

# --------------------------------------------------------------------------
# parameter strategies
# --------------------------------------------------------------------------


def dim_of(ndim: int) -> st.SearchStrategy[int]:
    return st.integers(-ndim, ndim - 1)


def two_dims(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"d0": dim_of(len(shape)), "d1": dim_of(len(shape))})


def permutation(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.permutations(range(len(shape))).map(lambda p: {"dims": tuple(p)})


@st.composite
def moved_axes(draw: Callable, shape: Shape) -> dict[str, Any]:
    n = len(shape)
    source = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    destination = draw(st.lists(st.integers(0, n - 1), min_size=len(source), max_size=len(source), unique=True))
    negate = draw(st.booleans())
    return {"source": [s - n if negate else s for s in source], "destination": destination}


def rollaxis_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = len(shape)
    return st.fixed_dictionaries({"axis": dim_of(n), "start": st.integers(-n, n)})


@st.composite
def ones_and_dims(draw: Callable) -> Call:
    """A shape with some sides 1, and dims to squeeze that may name longer sides (torch leaves those)."""
    shape = tuple(1 if draw(st.booleans()) else n for n in draw(any_shape()))
    n = max(len(shape), 1)
    dims = draw(st.one_of(st.none(), st.integers(-n, n - 1), st.lists(st.integers(0, n - 1), unique=True).map(tuple)))
    return Call((draw(arrays(shape)),), {"dim": dims})


def flatten_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = len(shape)
    return st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).map(
        lambda p: {"start_dim": min(p), "end_dim": max(p) - n * (max(p) % 2)})


@st.composite
def unflatten_inputs(draw: Callable) -> Call:
    sides = draw(st.lists(st.integers(1, SIDE), min_size=1, max_size=2))
    shape = draw(any_shape(min_dims=1))
    dim = draw(dim_of(len(shape)))
    full = list(shape)
    full[dim] = int(np.prod(sides))
    if draw(st.booleans()):
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    return Call((draw(arrays(tuple(full))),), {"dim": dim, "sizes": tuple(sides)})


def view_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """The same sides in another order, maybe one inferred (-1)."""
    return st.permutations(shape).flatmap(
        lambda p: st.integers(-1, len(p) - 1).map(
            lambda i: {"shape": tuple(-1 if j == i else n for j, n in enumerate(p))}))


@st.composite
def expand_inputs(draw: Callable) -> Call:
    """A shape with some sides 1, expanded: -1 keeps a side, 1s grow, up to two new leading dims."""
    shape = tuple(1 if draw(st.booleans()) else n for n in draw(any_shape()))
    sizes = [draw(st.sampled_from([-1, n])) if n != 1 else draw(st.sampled_from([-1, 1, 2, 3])) for n in shape]
    lead = draw(st.lists(st.integers(1, SIDE), max_size=2))
    return Call((draw(arrays(shape)),), {"sizes": tuple(lead + sizes)})


@st.composite
def stackable(draw: Callable, min_dims: int = 0, count: int | None = None) -> Call:
    """``count`` (else one to three) arrays of one shape, what every NumPy stacking function accepts."""
    shape = draw(shapes_between(min_dims, 3))
    return Call(tuple(draw(arrays(shape)) for _ in range(count or draw(st.integers(1, 3)))))


def shapes_between(min_dims: int, max_dims: int) -> st.SearchStrategy[Shape]:
    return st.lists(st.integers(1, SIDE), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def numpy_pad_inputs(draw: Callable, mode: str) -> Call:
    """NumPy's pad_width as an int, one pair, or a pair per axis (at most 2 axes: gradcheck's Jacobians stay small)."""
    shape = draw(shapes_between(1, 2))
    pair = st.integers(0, 3)  # longer than the axis too: NumPy reflects and wraps again
    form = draw(st.sampled_from(["int", "pair", "per_axis"]))
    width: Any = {"int": pair, "pair": st.tuples(pair, pair),
                  "per_axis": st.tuples(*[st.tuples(pair, pair)] * len(shape))}[form]
    params: dict[str, Any] = {"pad_width": draw(width), "mode": mode}
    if mode == "constant":
        params["constant_values"] = draw(st.sampled_from([0.0, 1.5]))
    return Call((draw(arrays(shape)),), params)


@st.composite
def torch_pad_inputs(draw: Callable, mode: str) -> Call:
    """3-D inputs (what torch's non-constant modes accept) padded in their last one or two dims."""
    shape = draw(st.tuples(st.integers(1, 2), *[st.integers(2 if mode == "reflect" else 1, SIDE)] * 2))
    dims = draw(st.integers(1, 2))
    pads = []
    for n in shape[::-1][:dims]:
        longest = {"reflect": n - 1, "circular": n}.get(mode, 1)
        pads += [draw(st.integers(0, longest)), draw(st.integers(0, longest))]
    return Call((draw(arrays(shape)),), {"pad": tuple(pads), "mode": mode, "value": 0.5 if mode == "constant" else 0.0})


def sizes_of(ndim: int, extra: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    """Repeat counts for ``ndim`` dims and up to ``extra`` new leading ones."""
    return st.integers(ndim, ndim + extra).flatmap(lambda k: st.tuples(*[st.integers(1, 3)] * k))


def interleave_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """An axis (or None: flattened) with one count, or one count per element."""
    n = len(shape)
    return st.one_of(st.none(), dim_of(n)).flatmap(lambda axis: st.fixed_dictionaries({
        "axis": st.just(axis),
        "repeats": st.one_of(st.integers(0, 3), st.lists(
            st.integers(0, 3), min_size=int(np.prod(shape)) if axis is None else shape[axis],
            max_size=int(np.prod(shape)) if axis is None else shape[axis]).map(np.array)),
    }))


def dims_tuple(shape: Shape) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(0, len(shape) - 1), unique=True).map(tuple)


def rot90_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = len(shape)
    axes = st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True).map(tuple)
    return st.fixed_dictionaries({"k": st.integers(-5, 5), "axes": axes})


def roll_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    """None (flattened) with one shift, one axis, or a tuple of axes with a shift each."""
    n = len(shape)
    shift = st.integers(-4, 4)
    return st.one_of(
        st.fixed_dictionaries({"shift": shift, "axis": st.one_of(st.none(), dim_of(n))}),
        st.lists(st.integers(0, n - 1), min_size=1, unique=True).flatmap(lambda axes: st.fixed_dictionaries(
            {"shift": st.tuples(*[shift] * len(axes)), "axis": st.just(axes)})),
    )


@st.composite
def numpy_split_params(draw: Callable, shape: Shape, equal: bool) -> dict[str, Any]:
    """np.split's sections (dividing the axis, when ``equal``; any when not) or sorted cut indices."""
    axis = draw(dim_of(len(shape)))
    n = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0] if equal else list(range(1, n + 2))))
        return {"indices_or_sections": sections, "axis": axis}
    return {"indices_or_sections": sorted(draw(st.lists(st.integers(0, n), max_size=3))), "axis": axis}


@st.composite
def torch_split_params(draw: Callable, shape: Shape) -> dict[str, Any]:
    """torch's split: a size, or sizes adding up to the dim's length."""
    dim = draw(dim_of(len(shape)))
    n = shape[dim]
    if draw(st.booleans()):
        return {"split": draw(st.integers(1, n + 1)), "dim": dim}
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=2)))
    return {"split": [b - a for a, b in zip([0, *cuts], [*cuts, n])], "dim": dim}


def diagonal_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    n = len(shape)
    axes = st.lists(dim_of(n), min_size=2, max_size=2).filter(lambda a: a[0] % n != a[1] % n)
    return st.fixed_dictionaries({"offset": st.integers(-2, 2), "axes": axes})


def unfold_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return dim_of(len(shape)).flatmap(lambda d: st.fixed_dictionaries(
        {"dimension": st.just(d), "size": st.integers(0, shape[d]), "step": st.integers(1, 3)}))


# --------------------------------------------------------------------------
# NumPy references and helpers
# --------------------------------------------------------------------------


def weave(pieces: Sequence[Any], cat: Callable[[list[Any]], Any]) -> Any:
    """The pieces flattened, weighted by position (1, 2, ...) and joined: order and placement both show."""
    return cat([p.reshape(-1) * float(i + 1) for i, p in enumerate(pieces)])


def tv_cat(parts: list[Any]) -> Tensor:
    return tv.concatenate(parts)


def np_cat(parts: list[Any]) -> np.ndarray:
    return np.concatenate(parts)


def torch_module() -> Any:
    """torch, imported only when a torch row runs (the library never imports it)."""
    import torch

    return torch


def torch_cat(parts: list[Any]) -> Any:
    return torch_module().cat(parts)


def np_squeeze_torch(a: np.ndarray, dim: Any) -> np.ndarray:
    """torch's squeeze: named dims (all when None) of length 1 go, others stay; a 0-d array stays."""
    if a.ndim == 0:
        return a
    named = range(a.ndim) if dim is None else [d % a.ndim for d in ((dim,) if isinstance(dim, int) else dim)]
    return np.squeeze(a, axis=tuple(d for d in set(named) if a.shape[d] == 1))


def np_flatten(a: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    end = end_dim % a.ndim
    return a.reshape(a.shape[:start_dim] + (int(np.prod(a.shape[start_dim:end + 1])),) + a.shape[end + 1:])


def np_expand(a: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    lead = len(sizes) - a.ndim
    return np.broadcast_to(a, sizes[:lead] + tuple(n if s == -1 else s for s, n in zip(sizes[lead:], a.shape)))


def np_unflatten(a: np.ndarray, dim: int, sizes: tuple[int, ...]) -> np.ndarray:
    d = dim % a.ndim
    return a.reshape(a.shape[:d] + sizes + a.shape[d + 1:])


def np_torch_split(a: np.ndarray, split: Any, dim: int) -> list[np.ndarray]:
    n = a.shape[dim]
    sizes = [min(split, n - s) for s in range(0, n, split)] if isinstance(split, int) else split
    return np.split(a, np.cumsum(sizes)[:-1], axis=dim)


def np_unfold(a: np.ndarray, dimension: int, size: int, step: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dimension)
    return windows[(slice(None),) * (dimension % a.ndim) + (slice(None, None, step),)]


def np_torch_pad(a: np.ndarray, pad: tuple[int, ...], mode: str, value: float) -> np.ndarray:
    pairs = [(0, 0)] * (a.ndim - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]
    numpy_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    extra = {"constant_values": value} if mode == "constant" else {}
    return np.pad(a, pairs, mode=numpy_mode, **extra)


def cubed(case: OpCase) -> OpCase:
    """``case`` followed by ``** 3``, so a wrong scale or sign in a linear op's rule changes the second derivative."""
    torch_fn = None if case.torch is None else (lambda *a, **p: case.torch(*a, **p) ** 3)
    return OpCase(f"{case.name}_cubed", lambda *a, **p: case.fn(*a, **p) ** 3,
                  lambda *a, **p: np.asarray(case.reference(*a, **p)) ** 3, case.inputs, torch=torch_fn)


def nd(min_dims: int = 1, params: Callable[[Shape], st.SearchStrategy[dict[str, Any]]] | None = None) -> Any:
    kwargs = {} if params is None else {"params": params}
    return unary(shape=any_shape(min_dims=min_dims), **kwargs)


# --------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------

LINEAR: list[OpCase] = [
    # torch's transpose family (methods) and NumPy's (module)
    OpCase("transpose_two_dims", lambda a, d0, d1: a.transpose(d0, d1), lambda a, d0, d1: np.swapaxes(a, d0, d1),
           nd(params=two_dims), torch=lambda a, d0, d1: a.transpose(d0, d1)),
    OpCase("swapdims", lambda a, d0, d1: a.swapdims(d0, d1), lambda a, d0, d1: np.swapaxes(a, d0, d1),
           nd(params=two_dims), torch=lambda a, d0, d1: a.swapdims(d0, d1)),
    OpCase("swapaxes_function", lambda a, d0, d1: tv.swapaxes(a, d0, d1), lambda a, d0, d1: np.swapaxes(a, d0, d1),
           nd(params=two_dims), torch=lambda a, d0, d1: torch_module().swapaxes(a, d0, d1)),
    OpCase("permute", lambda a, dims: a.permute(*dims), lambda a, dims: np.transpose(a, dims), nd(params=permutation),
           torch=lambda a, dims: a.permute(*dims)),
    OpCase("permute_tuple", lambda a, dims: a.permute(dims), lambda a, dims: np.transpose(a, dims), nd(params=permutation),
           torch=lambda a, dims: a.permute(dims)),
    OpCase("movedim", lambda a, source, destination: a.movedim(source, destination), np.moveaxis,
           nd(params=moved_axes), torch=lambda a, source, destination: a.movedim(source, destination)),
    OpCase("moveaxis_function", tv.moveaxis, np.moveaxis, nd(params=moved_axes),
           torch=lambda a, source, destination: torch_module().moveaxis(a, source, destination)),
    OpCase("rollaxis_function", tv.rollaxis, np.rollaxis, nd(params=rollaxis_params)),
    # squeeze (torch's: a named dim longer than 1 stays), flatten, unflatten, view, expand, cat
    OpCase("squeeze_torch", lambda a, dim: a.squeeze(dim), np_squeeze_torch, ones_and_dims(),
           torch=lambda a, dim: a.squeeze() if dim is None else a.squeeze(dim)),
    OpCase("flatten_dims", lambda a, **p: a.flatten(**p), np_flatten, nd(params=flatten_params),
           torch=lambda a, **p: a.flatten(**p)),
    OpCase("unflatten", lambda a, dim, sizes: a.unflatten(dim, sizes), np_unflatten, unflatten_inputs(),
           torch=lambda a, dim, sizes: a.unflatten(dim, sizes)),
    OpCase("view", lambda a, shape: a.view(*shape), lambda a, shape: a.reshape(shape), nd(params=view_params),
           torch=lambda a, shape: a.view(*shape)),
    OpCase("expand", lambda a, sizes: a.expand(*sizes), np_expand, expand_inputs(),
           torch=lambda a, sizes: a.expand(sizes)),
    OpCase("cat", lambda *a, dim: tv.cat(a, dim=dim), lambda *a, dim: np.concatenate(a, axis=dim), joinable("dim"),
           torch=lambda *a, dim: torch_module().cat(a, dim=dim)),
    # padding
    *[OpCase(f"pad_numpy_{mode}", tv.pad, np.pad, numpy_pad_inputs(mode)) for mode in ("constant", "reflect", "edge",
                                                                                       "wrap")],
    *[OpCase(f"F_pad_{mode}", F.pad, np_torch_pad, torch_pad_inputs(mode),
             torch=lambda a, **p: torch_module().nn.functional.pad(a, **p))
      for mode in ("constant", "reflect", "replicate", "circular")],
    # repeating
    OpCase("repeat_method", lambda a, sizes: a.repeat(*sizes), lambda a, sizes: np.tile(a, sizes),
           unary(params=lambda s: sizes_of(len(s)).map(lambda r: {"sizes": r})),
           torch=lambda a, sizes: a.repeat(sizes)),
    OpCase("tile_function", lambda a, reps: tv.tile(a, reps), np.tile,
           unary(params=lambda s: st.integers(0, len(s) + 1).flatmap(
               lambda k: st.tuples(*[st.integers(1, 3)] * k)).map(lambda r: {"reps": r})),
           torch=lambda a, reps: torch_module().tile(a, reps)),
    OpCase("repeat_function_numpy", lambda a, repeats, axis: tv.repeat(a, repeats, axis),
           lambda a, repeats, axis: np.repeat(a, repeats, axis), nd(params=interleave_params)),
    OpCase("repeat_interleave", lambda a, repeats, axis: a.repeat_interleave(repeats, dim=axis),
           lambda a, repeats, axis: np.repeat(a, repeats, axis), nd(params=interleave_params),
           torch=lambda a, repeats, axis: a.repeat_interleave(
               repeats if isinstance(repeats, int) else torch_module().tensor(repeats), dim=axis)),
    # flips, rotations, rolls
    OpCase("flip_method", lambda a, dims: a.flip(dims), lambda a, dims: np.flip(a, dims),
           nd(params=lambda s: dims_tuple(s).map(lambda d: {"dims": d})), torch=lambda a, dims: a.flip(dims)),
    OpCase("flip_method_int", lambda a, dim: a.flip(dim), lambda a, dim: np.flip(a, dim),
           nd(params=lambda s: dim_of(len(s)).map(lambda d: {"dim": d})), torch=lambda a, dim: a.flip(dim)),
    OpCase("flip_function_all", lambda a: tv.flip(a), np.flip, unary()),
    OpCase("fliplr", lambda a: a.fliplr(), np.fliplr, nd(2), torch=lambda a: a.fliplr()),
    OpCase("flipud_function", tv.flipud, np.flipud, nd(1), torch=lambda a: torch_module().flipud(a)),
    OpCase("rot90_method", lambda a, k, axes: a.rot90(k, axes), lambda a, k, axes: np.rot90(a, k, axes),
           nd(2, rot90_params), torch=lambda a, k, axes: a.rot90(k, axes)),
    OpCase("rot90_function", lambda a, k, axes: tv.rot90(a, k, axes), lambda a, k, axes: np.rot90(a, k, axes),
           nd(2, rot90_params)),
    OpCase("roll_method", lambda a, shift, axis: a.roll(shift, axis), np.roll, nd(params=roll_params),
           torch=lambda a, shift, axis: a.roll(shift, axis)),
    OpCase("roll_function", tv.roll, np.roll, nd(params=roll_params)),
    # splitting, joined back with weights
    OpCase("split_method", lambda a, split, dim: weave(a.split(split, dim), tv_cat),
           lambda a, split, dim: weave(np_torch_split(a, split, dim), np_cat),
           nd(params=torch_split_params), torch=lambda a, split, dim: weave(a.split(split, dim), torch_cat)),
    OpCase("split_function_numpy", lambda a, **p: weave(tv.split(a, **p), tv_cat),
           lambda a, **p: weave(np.split(a, **p), np_cat), nd(params=lambda s: numpy_split_params(s, True))),
    OpCase("array_split", lambda a, **p: weave(tv.array_split(a, **p), tv_cat),
           lambda a, **p: weave(np.array_split(a, **p), np_cat), nd(params=lambda s: numpy_split_params(s, False))),
    OpCase("tensor_split", lambda a, indices_or_sections, axis: weave(a.tensor_split(indices_or_sections, axis), tv_cat),
           lambda a, **p: weave(np.array_split(a, **p), np_cat), nd(params=lambda s: numpy_split_params(s, False)),
           torch=lambda a, indices_or_sections, axis: weave(a.tensor_split(indices_or_sections, axis), torch_cat)),
    OpCase("chunk", lambda a, chunks, dim: weave(a.chunk(chunks, dim), tv_cat),
           lambda a, chunks, dim: weave(np_torch_split(a, -(-a.shape[dim] // chunks), dim), np_cat),
           nd(params=lambda s: st.fixed_dictionaries({"chunks": st.integers(1, 4), "dim": dim_of(len(s))})),
           torch=lambda a, chunks, dim: weave(a.chunk(chunks, dim), torch_cat)),
    *[OpCase(f"{name}_function", lambda a, sections, name=name: weave(getattr(tv, name)(a, sections), tv_cat),
             lambda a, sections, name=name: weave(getattr(np, name)(a, sections), np_cat),
             unary(shape=shapes_between(ndim, 3), params=lambda s, axis=axis: st.sampled_from(
                 [k for k in range(1, s[axis] + 1) if s[axis] % k == 0]).map(lambda k: {"sections": k})))
      for name, ndim, axis in [("vsplit", 2, 0), ("hsplit", 2, 1), ("dsplit", 3, 2)]],
    OpCase("hsplit_1d", lambda a, sections: weave(tv.hsplit(a, sections), tv_cat),
           lambda a, sections: weave(np.hsplit(a, sections), np_cat),
           unary(shape=shapes_between(1, 1), params=lambda s: st.just({"sections": 1}))),
    # stacking
    *[OpCase(f"{name}_function", lambda *a, name=name: getattr(tv, name)(a),
             lambda *a, name=name: getattr(np, name)(a), stackable(min_dims),
             torch=lambda *a, name=name: getattr(torch_module(), name)(a))
      for name, min_dims in [("vstack", 0), ("hstack", 0), ("dstack", 0), ("column_stack", 0)]],
    OpCase("row_stack_function", lambda *a: tv.row_stack(a), lambda *a: np.vstack(a), stackable(),
           torch=lambda *a: torch_module().row_stack(a)),
    OpCase("append_flattened", lambda a, b: tv.append(a, b), np.append, stackable(count=2)),
    OpCase("append_axis", lambda a, b, axis: tv.append(a, b, axis=axis), lambda a, b, axis: np.append(a, b, axis=axis),
           stackable(1, count=2).flatmap(
               lambda c: dim_of(c.arrays[0].ndim).map(lambda d: Call(c.arrays, {"axis": d})))),
    # diagonals and windows
    OpCase("diag_vector", lambda a, k: a.diag(k), lambda a, k: np.diag(a, k),
           unary(shape=shapes_between(1, 1), params=lambda s: st.integers(-2, 2).map(lambda k: {"k": k})),
           torch=lambda a, k: a.diag(k)),
    OpCase("diag_matrix", lambda a, k: tv.diag(a, k), lambda a, k: np.diag(a, k),
           unary(shape=shapes_between(2, 2), params=lambda s: st.integers(-2, 2).map(lambda k: {"k": k})),
           torch=lambda a, k: torch_module().diag(a, k)),
    OpCase("diagonal_method", lambda a, offset, axes: a.diagonal(offset, *axes),
           lambda a, offset, axes: np.diagonal(a, offset, *axes), nd(2, diagonal_params),
           torch=lambda a, offset, axes: a.diagonal(offset, *axes)),
    OpCase("diagonal_function", lambda a, offset, axes: tv.diagonal(a, offset, *axes),
           lambda a, offset, axes: np.diagonal(a, offset, *axes), nd(2, diagonal_params)),
    OpCase("trace_method", lambda a: a.trace(), np.trace, unary(shape=shapes_between(2, 2)),
           torch=lambda a: a.trace()),
    OpCase("trace_function", lambda a, offset, axes: tv.trace(a, offset, *axes),
           lambda a, offset, axes: np.trace(a, offset, *axes), nd(2, diagonal_params)),
    OpCase("unfold", lambda a, **p: a.unfold(**p), np_unfold, nd(params=unfold_params),
           torch=lambda a, **p: a.unfold(**p)),
    *[OpCase(name, lambda a, name=name: getattr(tv, name)(a), lambda a, name=name: getattr(np, name)(a), unary(),
             torch=lambda a, name=name: getattr(torch_module(), name)(a))
      for name in ("atleast_1d", "atleast_2d", "atleast_3d")],
]


CATALOGUE: list[OpCase] = [row for case in LINEAR for row in (case, cubed(case))]

(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# torch's method semantics (where NumPy's reading once gave silently wrong answers)
# --------------------------------------------------------------------------


def values(*shape: int) -> Tensor:
    return Tensor(np.arange(float(np.prod(shape))).reshape(shape))


def test_transpose_of_two_dims_of_a_matrix_is_its_transpose() -> None:
    x = values(2, 3)
    np.testing.assert_array_equal(x.transpose(0, 1).data, [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]])
    np.testing.assert_array_equal(x.transpose(1, 0).data, x.T.data)
    np.testing.assert_array_equal(x.transpose(0, 0).data, x.data)  # torch: swapping a dim with itself


def test_transpose_swaps_two_dims_of_a_3d_tensor() -> None:
    x = values(2, 3, 4)
    y = x.transpose(1, 2)
    assert y.shape == (2, 4, 3)
    assert y.data[1, 3, 2] == x.data[1, 2, 3]
    assert x.transpose(-1, 0).shape == (4, 3, 2)


def test_transpose_without_dims_points_to_T_and_permute() -> None:
    with pytest.raises(TypeError, match=r"transpose: expected two dims to swap .*use \.T .* \.permute"):
        values(2, 3).transpose()
    with pytest.raises(TypeError, match=r"transpose: expected two dims"):
        values(2, 3, 4).transpose(2, 0, 1)


def test_module_transpose_keeps_numpys_meaning() -> None:
    x = values(2, 3, 4)
    np.testing.assert_array_equal(tv.transpose(x).data, np.transpose(x.data))
    np.testing.assert_array_equal(tv.transpose(x, (1, 2, 0)).data, np.transpose(x.data, (1, 2, 0)))


def test_squeeze_leaves_a_named_dim_longer_than_one() -> None:
    x = values(2, 1, 3)
    assert x.squeeze(0).shape == (2, 1, 3)
    assert x.squeeze(1).shape == (2, 3)
    assert x.squeeze((0, 1)).shape == (2, 3)
    assert x.squeeze(dim=-2).shape == x.squeeze(axis=-2).shape == (2, 3)
    assert x.squeeze().shape == (2, 3)


def test_squeeze_of_a_0d_tensor_takes_dims_0_and_minus_1() -> None:
    x = Tensor(np.array(2.5))
    for dim in (0, -1, (0,)):
        y = x.squeeze(dim)
        assert y.shape == () and y.item() == 2.5
    with pytest.raises(OpError, match=r"squeeze: dim 1 is out of range for a tensor with 0 dimensions"):
        x.squeeze(1)


def test_squeeze_names_an_out_of_range_dim() -> None:
    with pytest.raises(OpError, match=r"squeeze: dim -4 is out of range for a tensor with 3 dimensions"):
        values(2, 1, 3).squeeze(-4)
    with pytest.raises(OpError, match=r"squeeze: dim 3 is out of range"):
        values(2, 1, 3).squeeze((1, 3))


def test_module_squeeze_keeps_numpys_strictness() -> None:
    assert tv.squeeze(values(2, 1, 3), 1).shape == (2, 3)
    with pytest.raises(OpError, match=r"squeeze: axis 0 of shape \(2, 1, 3\) has length 2, not 1"):
        tv.squeeze(values(2, 1, 3), 0)
    with pytest.raises(OpError, match=r"squeeze: axis 0 is out of range for a tensor of shape \(\)"):
        tv.squeeze(Tensor(np.array(1.0)), 0)


def test_size_is_the_shape_or_one_dims_length_and_numel_counts() -> None:
    x = values(2, 3, 4)
    assert x.size() == (2, 3, 4) == x.shape
    assert (x.size(0), x.size(-1), x.size(1)) == (2, 4, 3)
    assert x.numel() == 24 and Tensor(np.array(1.0)).numel() == 1 and Tensor(np.zeros((0, 3))).numel() == 0
    with pytest.raises(IndexError, match=r"size: dim 3 is out of range for a tensor of shape \(2, 3, 4\)"):
        x.size(3)


def test_num_parameters_counts_elements() -> None:
    layer = tv.nn.Linear(3, 2)
    assert layer.num_parameters() == 3 * 2 + 2


def test_flatten_of_a_0d_tensor_is_1d() -> None:
    assert Tensor(np.array(1.0)).flatten().shape == (1,)
    assert values(2, 3, 4).flatten().shape == (24,)
    assert values(2, 3, 4).flatten(0, 1).shape == (6, 4)


def test_the_as_methods_take_the_others_shape() -> None:
    x, other = values(1, 3), Tensor(np.zeros((2, 3)))
    np.testing.assert_array_equal(x.expand_as(other).data, np.broadcast_to(x.data, (2, 3)))
    assert values(6).view_as(other).shape == values(6).reshape_as(other).shape == (2, 3)


def test_cat_is_concatenate_with_torchs_dim() -> None:
    a, b = values(2, 3), values(2, 1)
    np.testing.assert_array_equal(tv.cat([a, b], dim=1).data, np.concatenate([a.data, b.data], axis=1))
    np.testing.assert_array_equal(tv.cat([a, a]).data, np.concatenate([a.data, a.data]))


def test_split_family_returns_numpys_and_torchs_pieces() -> None:
    x = values(7, 2)
    assert [p.shape[0] for p in x.split(3)] == [3, 3, 1]  # torch: sizes
    assert [p.shape[0] for p in x.split([2, 5])] == [2, 5]
    assert [p.shape[0] for p in tv.split(x, [2, 5])] == [2, 3, 2]  # NumPy: indices
    assert [p.shape[0] for p in tv.array_split(x, 3)] == [3, 2, 2]
    assert [p.shape[0] for p in x.chunk(3)] == [3, 3, 1]
    assert [p.shape[0] for p in x.tensor_split(3)] == [3, 2, 2]
    assert [p.shape[0] for p in values(6, 2).chunk(4)] == [2, 2, 2]  # fewer than asked, as torch


def test_unfold_of_a_0d_tensor_is_one_window() -> None:
    x = Tensor(np.array(2.0))
    np.testing.assert_array_equal(x.unfold(0, 1, 1).data, [2.0])
    assert x.unfold(-1, 0, 1).shape == (0,)


def test_chunks_of_an_empty_dim_are_all_empty() -> None:
    assert [p.shape for p in Tensor(np.zeros((0, 3))).chunk(2)] == [(0, 3), (0, 3)]


# --------------------------------------------------------------------------
# gradients of ops that read an element more than once add up
# --------------------------------------------------------------------------


def grad_of_sum(fn: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    t = Tensor(x, requires_grad=True)
    fn(t).sum().backward()
    return t.grad.data


def test_edge_and_reflect_padding_send_each_copy_back() -> None:
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad_of_sum(lambda t: tv.pad(t, (2, 1), mode="edge"), x), [3.0, 1.0, 2.0])
    # reflect (2, 1): [3, 2 | 1, 2, 3 | 2] reads element 1 three times, element 2 twice
    np.testing.assert_array_equal(grad_of_sum(lambda t: tv.pad(t, (2, 1), mode="reflect"), x), [1.0, 3.0, 2.0])
    np.testing.assert_array_equal(grad_of_sum(lambda t: F.pad(t, (1, 1), value=9.0), x), [1.0, 1.0, 1.0])


def test_overlapping_windows_add_their_gradients() -> None:
    # windows of 3 every 1 over 5 elements: element i is in min(i + 1, 3, 5 - i) windows
    np.testing.assert_array_equal(grad_of_sum(lambda t: t.unfold(0, 3, 1), np.zeros(5)), [1.0, 2.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(grad_of_sum(lambda t: t.unfold(0, 2, 3), np.zeros(5)), [1.0, 1.0, 0.0, 1.0, 1.0])


def test_repeat_interleave_gradient_counts_the_repeats() -> None:
    got = grad_of_sum(lambda t: t.repeat_interleave(Tensor(np.array([0, 2, 3]))), np.zeros(3))
    np.testing.assert_array_equal(got, [0.0, 2.0, 3.0])


# --------------------------------------------------------------------------
# error messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make, error, message", [
    (lambda x: x.permute(0, 1), OpError, r"permute: dims \(0, 1\) do not name each of the 3 dims of a tensor of shape"),
    (lambda x: x.permute(0, 0, 1), OpError, r"transpose: axes \(0, 0, 1\) are not a permutation"),
    (lambda x: x.transpose(0, 3), OpError, r"swapaxes: axis 3 is out of range for a tensor with 3 dimensions"),
    (lambda x: x.movedim((0, 1), (0, 0)), OpError, r"moveaxis: .* must not repeat an axis"),
    (lambda x: x.movedim(0, (1, 2)), OpError, r"moveaxis: source 0 and destination \(1, 2\) must name as many axes"),
    (lambda x: tv.rollaxis(x, 0, 5), OpError, r"rollaxis: start 5 is out of range"),
    (lambda x: x.squeeze(1.5), TypeError, r"squeeze: dims must be ints, got 1.5"),
    (lambda x: x.flatten(2, 0), OpError, r"flatten: start_dim 2 comes after end_dim 0 for shape \(2, 3, 4\)"),
    (lambda x: x.unflatten(1, (2, 2)), OpError, r"unflatten: sizes \(2, 2\) do not multiply to the length 3 of dim 1"),
    (lambda x: x.unflatten(1, (-1, -1)), OpError, r"unflatten: sizes \(-1, -1\)"),
    (lambda x: x.expand(3, 4), OpError, r"expand: sizes \(3, 4\) have fewer dims than the tensor's shape \(2, 3, 4\)"),
    (lambda x: x.expand(-1, 2, 3, 4), OpError, r"expand: sizes \(-1, 2, 3, 4\) put -1 on a new leading dim"),
    (lambda x: x.expand(2, 5, 4), OpError, r"broadcast_to: cannot broadcast shape \(2, 3, 4\) to \(2, 5, 4\)"),
    (lambda x: tv.pad(x, 1, mode="mirror"), OpError, r"pad: mode must be one of \('constant', 'reflect', 'edge', 'wrap'\)"),
    (lambda x: tv.pad(x, ((1, 1), (1, 1))), OpError, r"pad: pad_width \(\(1, 1\), \(1, 1\)\) does not fit a tensor with 3"),
    (lambda x: tv.pad(x, -1), OpError, r"pad: pad widths must not be negative, got -1"),
    (lambda x: tv.pad(x, 1.5), OpError, r"pad: pad_width must be an int, a \(before, after\) pair"),
    (lambda x: F.pad(x, (1,)), OpError, r"pad: pad \(1,\) must hold a \(left, right\) pair for each of at most 3 last"),
    (lambda x: F.pad(x, (1, 1), mode="edge"), OpError, r"pad: mode must be one of \('constant', 'reflect', 'replicate'"),
    (lambda x: x.repeat(2, 2), OpError, r"repeat: 2 sizes \(2, 2\) are fewer than the dims of shape \(2, 3, 4\)"),
    (lambda x: tv.tile(x, -1), OpError, r"tile: reps must not be negative"),
    (lambda x: tv.repeat(x, [1, 2], axis=1), OpError,
     r"repeat: repeats must be a non-negative int or one per element of the axis \(length 3\), got \[1, 2\]"),
    (lambda x: x.repeat_interleave(-1), OpError, r"repeat_interleave: repeats must be a non-negative int"),
    (lambda x: x.flip(3), OpError, r"flip: dim 3 is out of range for a tensor with 3 dimensions"),
    (lambda x: x.rot90(1, (1, 1)), OpError, r"rot90: the two axes must differ, got \(1, 1\)"),
    (lambda x: x.rot90(1, (0,)), OpError, r"rot90: needs two axes"),
    (lambda x: x.roll((1, 2), 0), OpError, r"roll: shifts \(1, 2\) and axes \(0,\) must have the same length"),
    (lambda x: tv.split(x, 2, axis=1), OpError, r"split: an axis of length 3 does not divide into 2 equal sections"),
    (lambda x: x.split([1, 1], dim=1), OpError, r"split: sizes \[1, 1\] do not add up to the length 3 of dim 1"),
    (lambda x: x.split(0), OpError, r"split: split_size must be positive, got 0"),
    (lambda x: x.chunk(0), OpError, r"chunk: chunks must be positive, got 0"),
    (lambda x: tv.array_split(x, 0), OpError, r"array_split: the number of sections must be positive, got 0"),
    (lambda x: tv.dsplit(x[0], 1), OpError, r"dsplit: needs at least 3 dimensions, got shape \(3, 4\)"),
    (lambda x: tv.diag(x), OpError, r"diag: expected a 1-D or 2-D tensor, got shape \(2, 3, 4\)"),
    (lambda x: x.trace(), OpError, r"trace: expected a 2-D tensor, got shape \(2, 3, 4\)"),
    (lambda x: x.diagonal(0, 1, -2), OpError, r"diagonal: axis1 and axis2 must differ, got 1 and -2"),
    (lambda x: tv.diagonal(x[0, 0]), OpError, r"diagonal: needs at least 2 dimensions, got shape \(4,\)"),
    (lambda x: x.unfold(1, 4, 1), OpError, r"unfold: windows of size 4 every 1 do not fit a dim of length 3"),
    (lambda x: x.unfold(1, 2, 0), OpError, r"unfold: windows of size 2 every 0"),
    (lambda x: tv.fliplr(x[0, 0]), OpError, r"fliplr: needs at least 2 dimensions, got shape \(4,\)"),
])
def test_clear_error_messages(make: Callable[[Tensor], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make(values(2, 3, 4))


def test_padding_an_empty_axis_by_copying_is_an_error() -> None:
    with pytest.raises(OpError, match=r"pad: mode 'edge' cannot pad axis 0 of length 0"):
        tv.pad(Tensor(np.zeros((0, 2))), 1, mode="edge")
    assert tv.pad(Tensor(np.zeros((0, 2))), 1).shape == (2, 4)
