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
from op_catalogue import SIDE, Call, OpCase, Shape, any_shape, catalogue_properties, unary

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
def joinable(draw: Callable) -> Call:
    """One to three arrays equal but along one axis (drawn as ``dim``)."""
    shape = draw(any_shape(min_dims=1))
    dim = draw(dim_of(len(shape)))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        piece = list(shape)
        piece[dim] = draw(st.integers(1, SIDE))
        pieces.append(draw(arrays(tuple(piece))))
    return Call(tuple(pieces), {"dim": dim})


@st.composite
def stackable(draw: Callable, min_dims: int = 0, count: int | None = None) -> Call:
    """``count`` (else one to three) arrays of one shape, what every NumPy stacking function accepts."""
    shape = draw(shapes_between(min_dims, 3))
    return Call(tuple(draw(arrays(shape)) for _ in range(count or draw(st.integers(1, 3)))))


def shapes_between(min_dims: int, max_dims: int) -> st.SearchStrategy[Shape]:
    return st.lists(st.integers(1, SIDE), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def numpy_pad_inputs(draw: Callable, mode: str) -> Call:
    """NumPy's pad_width as an int, one pair, or a pair per axis."""
    shape = draw(shapes_between(1, 3))
    pair = st.integers(0, 4)  # longer than the axis too: NumPy reflects and wraps again
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
    shape = draw(st.tuples(*[st.integers(2 if mode == "reflect" else 1, SIDE)] * 3))
    dims = draw(st.integers(1, 2))
    pads = []
    for n in shape[::-1][:dims]:
        longest = {"reflect": n - 1, "circular": n}.get(mode, 2)
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
        {"dimension": st.just(d), "size": st.integers(1, shape[d]), "step": st.integers(1, 3)}))


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
           torch=lambda a, sizes: a.expand(*sizes)),
    OpCase("cat", lambda *a, dim: tv.cat(a, dim=dim), lambda *a, dim: np.concatenate(a, axis=dim), joinable(),
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
           torch=lambda a, sizes: a.repeat(*sizes)),
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
