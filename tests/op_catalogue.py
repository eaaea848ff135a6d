"""The shared machinery of the op catalogues: a row type, input strategies, and the properties every row must hold.

Each ``test_ops_*.py`` file lists its ops as ``OpCase`` rows and gets the
checks with one line::

    (test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
     test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE)

The properties, over every row:

* the forward pass agrees with an independent NumPy formula (``reference``);
* ``gradcheck``: every first derivative agrees with central differences;
* ``gradgradcheck``: every gradient rule is itself correctly differentiable
  (piecewise-linear ops too: away from their kinks the second derivative is 0,
  and the rule must give 0);
* float32 inputs give float32 outputs and float32 gradients;
* where the row names a ``torch`` function: the forward value, the gradient
  for a random upstream gradient, and a second derivative (the gradient of
  <gradient, w> for a random w) agree with torch's in float64. Skipped when
  torch is not installed.

Inputs are drawn away from each op's kinks, poles and ties by construction
(see ``tinygrad_vae.testing``), never by loosening a tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_vae import Tensor, gradcheck, gradgradcheck, gradients
from tinygrad_vae.testing import arrays, away_from, broadcastable_shapes, distinct_arrays, shapes

SIDE = 3  # longest axis drawn: the full Jacobians of gradgradcheck grow with the square of the size
Shape = tuple[int, ...]
Values = Callable[[Shape], st.SearchStrategy[np.ndarray]]


@dataclass(frozen=True)
class Call:
    """One drawn input: the differentiable arrays and the op's other parameters."""

    arrays: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpCase:
    """A row of a catalogue.

    ``fn(*tensors, **params)`` runs the op on Tensors, ``reference(*arrays,
    **params)`` is an independent NumPy formula for its forward value, and
    ``inputs`` draws a ``Call`` from a domain where the op is smooth.
    ``torch(*torch_tensors, **params)``, where given, is the same op in torch.
    """

    name: str
    fn: Callable[..., Tensor]
    reference: Callable[..., Any]
    inputs: st.SearchStrategy[Call]
    keeps_dtype: bool = True  # False only for astype, whose job is to change it
    torch: Callable[..., Any] | None = None


def torch_module() -> Any:
    """torch, imported when a ``torch=`` lambda first runs (the comparison is skipped without it)."""
    import torch

    return torch


# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


def any_shape(min_dims: int = 0, min_side: int = 1) -> st.SearchStrategy[Shape]:
    return shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=SIDE)


def no_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.just({})


@st.composite
def unary(
    draw: Callable,
    values: Values = arrays,
    shape: st.SearchStrategy[Shape] | None = None,
    params: Callable[[Shape], st.SearchStrategy[dict[str, Any]]] = no_params,
) -> Call:
    """One array of a drawn shape; ``params`` may depend on the shape (axes, indices)."""
    s = draw(shape if shape is not None else any_shape())
    return Call((draw(values(s)),), draw(params(s)))


@st.composite
def binary(draw: Callable, left: Values = arrays, right: Values = arrays) -> Call:
    """Two arrays whose shapes broadcast together (size-1 and missing leading axes included)."""
    sa, sb = draw(broadcastable_shapes(n=2, max_dims=3, max_side=SIDE))
    return Call((draw(left(sa)), draw(right(sb))))


@st.composite
def ternary(draw: Callable, values: Values = arrays) -> Call:
    """Three arrays whose shapes broadcast together."""
    return Call(tuple(draw(values(s)) for s in draw(broadcastable_shapes(n=3, max_dims=3, max_side=SIDE))))


@st.composite
def joinable(draw: Callable, key: str = "axis") -> Call:
    """One to three arrays equal but along one axis, drawn as the parameter ``key`` (maybe negative)."""
    shape = draw(any_shape(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        piece_shape = list(shape)
        piece_shape[axis] = draw(st.integers(1, SIDE))
        pieces.append(draw(arrays(tuple(piece_shape))))
    return Call(tuple(pieces), {key: axis})


@st.composite
def separated_pair(draw: Callable) -> Call:
    """Two broadcastable arrays with no element of one equal (or close) to any element of the other."""
    sa, sb = draw(broadcastable_shapes(n=2, max_dims=3, max_side=SIDE))
    flat = draw(distinct_arrays((int(np.prod(sa)) + int(np.prod(sb)),)))
    return Call((flat[: int(np.prod(sa))].reshape(sa), flat[int(np.prod(sa)):].reshape(sb)))


@st.composite
def axis_choice(draw: Callable, ndim: int) -> int | tuple[int, ...] | None:
    """None, one axis (maybe negative) or a tuple of distinct axes."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["all", "int", "tuple"]))
    if kind == "all":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def reduction_params(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": axis_choice(len(shape)), "keepdims": st.booleans()})


def one_axis(shape: Shape) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"axis": st.integers(-len(shape), len(shape) - 1)})


def distinct(shape: Shape) -> st.SearchStrategy[np.ndarray]:
    return distinct_arrays(shape)


def kinks_at(*points: float) -> Values:
    return lambda shape: away_from(shape, points)


# --------------------------------------------------------------------------
# the properties
# --------------------------------------------------------------------------


def leaf(values: Any) -> Tensor:
    """A float64 Tensor that requires grad."""
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def grad_of(fn: Callable[[Tensor], Tensor], values: Any) -> np.ndarray:
    """The gradient of sum(fn(x)) at x = values."""
    x = leaf(values)
    fn(x).sum().backward()
    return x.grad.data


def tensors_of(call: Call, dtype: Any = np.float64) -> list[Tensor]:
    return [Tensor(a.astype(dtype), requires_grad=True) for a in call.arrays]


def _bound(case: OpCase, call: Call) -> Callable[..., Tensor]:
    return lambda *tensors: case.fn(*tensors, **call.params)


def _materialized(grads: Any, like: list[Any]) -> list[np.ndarray]:
    """Gradients as float64 arrays, zeros where the framework gave None (an input the output does not reach)."""
    out = []
    for g, x in zip(grads, like):
        if g is None:
            value = np.zeros(tuple(x.shape))
        else:  # force: torch may return a lazy ZeroTensor (abs's second derivative, say)
            value = g.data if isinstance(g, Tensor) else g.detach().numpy(force=True)
        out.append(np.asarray(value, dtype=np.float64))
    return out


def catalogue_properties(catalogue: list[OpCase], examples: int | None = None) -> tuple[Callable[..., None], ...]:
    """The five property tests over ``catalogue``, to be bound to ``test_*`` names in a test module.

    ``examples`` caps the Hypothesis examples per row (the profile's own count when None), so a
    long catalogue keeps the default suite short; the 'thorough' profile still runs many more.
    """
    names = [case.name for case in catalogue]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"catalogue rows must have unique names; repeated: {duplicated}")
    rows = pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in catalogue])
    count = settings().max_examples
    limited = settings(max_examples=count if examples is None else max(examples, count // 5))

    @rows
    @limited
    @given(data=st.data())
    def test_forward_matches_numpy(case: OpCase, data: st.DataObject) -> None:
        call = data.draw(case.inputs, label="inputs")
        out = case.fn(*tensors_of(call), **call.params)
        expected = np.asarray(case.reference(*call.arrays, **call.params))
        assert out.shape == expected.shape
        if case.keeps_dtype:
            assert out.dtype == np.float64
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)

    @rows
    @limited
    @given(data=st.data())
    def test_first_derivatives(case: OpCase, data: st.DataObject) -> None:
        call = data.draw(case.inputs, label="inputs")
        assert gradcheck(_bound(case, call), call.arrays)

    @rows
    @limited
    @given(data=st.data())
    def test_second_derivatives(case: OpCase, data: st.DataObject) -> None:
        call = data.draw(case.inputs, label="inputs")
        assert gradgradcheck(_bound(case, call), call.arrays)

    @rows
    @limited
    @given(data=st.data())
    def test_float32_stays_float32(case: OpCase, data: st.DataObject) -> None:
        """Outputs and gradients keep float32, and agree with the float64 computation to float32 precision."""
        call = data.draw(case.inputs, label="inputs")
        xs32, xs64 = tensors_of(call, np.float32), tensors_of(call)
        out32, out64 = case.fn(*xs32, **call.params), case.fn(*xs64, **call.params)
        seed = data.draw(arrays(out64.shape), label="output gradient")
        out32.backward(seed.astype(out32.dtype))
        out64.backward(seed)
        if case.keeps_dtype:
            assert out32.dtype == np.float32
        np.testing.assert_allclose(out32.data, out64.data, rtol=1e-5, atol=1e-5)
        for x32, x64 in zip(xs32, xs64):
            assert x32.grad.dtype == np.float32
            np.testing.assert_allclose(x32.grad.data, x64.grad.data, rtol=1e-4, atol=1e-4)

    torch_rows = pytest.mark.parametrize(
        "case", [pytest.param(case, id=case.name) for case in catalogue if case.torch is not None]
    )

    @pytest.mark.torch
    @torch_rows
    @limited
    @given(data=st.data())
    def test_matches_torch(case: OpCase, data: st.DataObject) -> None:
        """Forward, vector-Jacobian product and second derivative against torch, in float64."""
        torch = pytest.importorskip("torch")
        call = data.draw(case.inputs, label="inputs")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        ours = tensors_of(call)
        theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in call.arrays]
        out, expected = case.fn(*ours, **call.params), case.torch(*theirs, **call.params)
        assert tuple(out.shape) == tuple(expected.shape)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)

        v = rng.standard_normal(out.shape)
        g_ours = gradients(out, ours, grad_output=v, create_graph=True, allow_unused=True)
        g_theirs = torch.autograd.grad(expected, theirs, grad_outputs=torch.tensor(v), create_graph=True,
                                       allow_unused=True)
        for mine, reference in zip(_materialized(g_ours, ours), _materialized(g_theirs, theirs)):
            np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-12)

        ws = [rng.standard_normal(a.shape) for a in call.arrays]
        inner_ours = [(g * w).sum() for g, w in zip(g_ours, ws) if g is not None and g.requires_grad]
        inner_theirs = [(g * torch.tensor(w)).sum() for g, w in zip(g_theirs, ws) if g is not None and g.requires_grad]
        gg_ours = (gradients(sum(inner_ours[1:], inner_ours[0]), ours, allow_unused=True) if inner_ours
                   else [None] * len(ours))
        gg_theirs = (torch.autograd.grad(sum(inner_theirs), theirs, allow_unused=True) if inner_theirs
                     else [None] * len(theirs))
        for mine, reference in zip(_materialized(gg_ours, ours), _materialized(gg_theirs, theirs)):
            np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-11)

    return (test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
            test_float32_stays_float32, test_matches_torch)
