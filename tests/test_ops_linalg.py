"""einsum and the products written with it, from one catalogue; matmul of every rank against torch.

The NumPy-named functions (einsum, tensordot, dot, inner, outer, vdot, kron, cross) are
checked against NumPy's; the methods (torch's names: ``x.dot``, ``x.outer``, ``x.cross``...)
against torch. Rows ending in ``_cubed`` put a nonlinear op after a linear one, so that a
doubled or negated gradient rule shows in the second derivatives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from op_catalogue import SIDE, Call, OpCase, catalogue_properties
from test_ops_gradients import matmul_inputs

from tinygrad_vae import OpError, Tensor, cross, dot, einsum, inner, kron, outer, tensordot, vdot
from tinygrad_vae.testing import arrays, broadcastable_shapes, shapes

# --------------------------------------------------------------------------
# input strategies
# --------------------------------------------------------------------------


@st.composite
def einsum_inputs(draw: Callable, subscripts: str, size_one: bool = False) -> Call:
    """Operands for ``subscripts``: one size per letter, '...' as broadcastable batch shapes.

    With ``size_one``, any axis may be 1 instead (NumPy's and torch's broadcasting of a letter).
    """
    terms = subscripts.partition("->")[0].split(",")
    sizes = {c: draw(st.integers(1, SIDE)) for c in sorted(set(subscripts) - set(".,->"))}
    batches = draw(broadcastable_shapes(n=len(terms), max_dims=2, max_side=2))
    operands = []
    for term, batch in zip(terms, batches):
        before, _, after = term.partition("...")
        sides = [1 if size_one and draw(st.booleans()) else sizes[c] for c in before + after]
        shape = tuple(sides[: len(before)]) + (batch if "..." in term else ()) + tuple(sides[len(before):])
        operands.append(draw(arrays(shape)))
    return Call(tuple(operands), {"subscripts": subscripts})


@st.composite
def tensordot_inputs(draw: Callable) -> Call:
    """Shapes sharing N contracted axes, named by an int N or by (axes_a, axes_b) in any order."""
    shared = draw(shapes(min_dims=0, max_dims=2, max_side=SIDE))
    free_a, free_b = (draw(shapes(min_dims=0, max_dims=2, max_side=SIDE)) for _ in range(2))
    if draw(st.booleans()):
        return Call((draw(arrays(free_a + shared)), draw(arrays(shared + free_b))), {"axes": len(shared)})
    order = draw(st.permutations(range(len(shared))))
    a_shape, b_shape = free_a + shared, tuple(shared[i] for i in order) + free_b
    axes_a = [len(free_a) + i for i in range(len(shared))]
    axes_b = [order.index(i) - (len(b_shape) if draw(st.booleans()) else 0) for i in range(len(shared))]
    return Call((draw(arrays(a_shape)), draw(arrays(b_shape))), {"axes": (axes_a, axes_b)})


@st.composite
def last_axis_pair(draw: Callable, min_dims: int = 0, same_ndim: bool = False) -> Call:
    """Two operands whose last axes agree (either may be 0-d when min_dims is 0)."""
    n = draw(st.integers(1, SIDE))
    dims = draw(st.integers(min_dims, 3))
    ranks = (dims, dims) if same_ndim else (dims, draw(st.integers(min_dims, 3)))
    return Call(tuple(draw(arrays(draw(shapes(r - 1, r - 1, max_side=SIDE)) + (n,) if r else ())) for r in ranks))


@st.composite
def dot_inputs(draw: Callable) -> Call:
    """numpy.dot's cases: a 0-d operand, vectors, and a's last axis against b's second-to-last (or only)."""
    k = draw(st.integers(1, SIDE))
    a_shape = draw(st.sampled_from([(), (k,), (2, k), (2, 1, k)]))
    b_shape = draw(st.sampled_from([(), (k,), (k, 2), (3, k, 2)]))
    return Call((draw(arrays(a_shape)), draw(arrays(b_shape))))


@st.composite
def vectors(draw: Callable) -> Call:
    return Call(tuple(draw(arrays((draw(st.integers(1, SIDE)),))) for _ in range(2)))


@st.composite
def equal_vectors(draw: Callable) -> Call:
    n = draw(st.integers(1, SIDE))
    return Call((draw(arrays((n,))), draw(arrays((n,)))))


@st.composite
def any_pair(draw: Callable, max_dims: int = 3) -> Call:
    return Call(tuple(draw(arrays(shapes(0, max_dims, max_side=SIDE))) for _ in range(2)))


@st.composite
def cross_inputs(draw: Callable, same_ndim: bool = False) -> Call:
    """3-vectors along a drawn axis of each operand, the other axes broadcasting."""
    sa, sb = draw(broadcastable_shapes(n=2, max_dims=2, max_side=2))
    if same_ndim:
        sb = (1,) * (len(sa) - len(sb)) + sb
        sa = (1,) * (len(sb) - len(sa)) + sa
    axis = -draw(st.integers(1, min(len(sa), len(sb)) + 1))
    place = (lambda s: s[: len(s) + axis + 1] + (3,) + s[len(s) + axis + 1:])
    return Call((draw(arrays(place(sa))), draw(arrays(place(sb)))), {"axis": axis})


def np_kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """From the definition: out[i*m + k] = a[i] * b[k] on every axis (shorter shape padded with 1s)."""
    ndim = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (ndim - a.ndim) + a.shape)
    b = b.reshape((1,) * (ndim - b.ndim) + b.shape)
    out = np.empty(tuple(m * n for m, n in zip(a.shape, b.shape)))
    for i in np.ndindex(a.shape):
        for k in np.ndindex(b.shape):
            out[tuple(ii * n + kk for ii, kk, n in zip(i, k, b.shape))] = a[i] * b[k]
    return out


def np_cross(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """(a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1) along ``axis``."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    c = np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                  a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)
    return np.moveaxis(c, -1, axis)


def einsum_row(subscripts: str, name: str, size_one: bool = False, cubed: bool = False) -> OpCase:
    power = 3 if cubed else 1
    return OpCase(
        f"einsum_{name}" + ("_cubed" if cubed else ""),
        lambda *a, subscripts: einsum(subscripts, *a) ** power,
        lambda *a, subscripts: np.einsum(subscripts, *a) ** power,
        einsum_inputs(subscripts, size_one),
        torch=lambda *a, subscripts: __import__("torch").einsum(subscripts, *a) ** power,
    )


def torch_fn(name: str) -> Callable[..., Any]:
    """A torch function by its dotted name, imported when the row runs (torch is optional)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        fn: Any = __import__("torch")
        for part in name.split("."):
            fn = getattr(fn, part)
        return fn(*args, **kwargs)
    return call


EINSUMS = [
    ("ij,jk->ik", "matmul"), ("ii->i", "diagonal"), ("ii->", "trace"), ("ij->ji", "transpose"),
    ("...ij,...jk->...ik", "batched_ellipsis"), ("i,i->", "inner"), ("bij,bjk->bik", "batched"),
    ("iij->j", "partial_diagonal"), ("ij,jk", "implicit"),
    ("ii,i->i", "diagonal_times_vector"), ("iji->j", "split_diagonal"), ("ij,ij,jk->ki", "three_operands"),
    ("...i->...", "ellipsis_sum"), ("i...,i->...", "leading_contraction"), ("ba,bc", "implicit_order"),
    (",i->i", "scalar"),
]

CATALOGUE: list[OpCase] = [
    *(einsum_row(s, name) for s, name in EINSUMS),
    einsum_row("ij,ij->i", "size_one_broadcast", size_one=True),
    einsum_row("ij,jk->ik", "matmul", cubed=True),
    einsum_row("ii->i", "diagonal", cubed=True),
    einsum_row("iij->j", "partial_diagonal", cubed=True),
    einsum_row("...ij,...jk->...ik", "batched_ellipsis", cubed=True),
    einsum_row("ij,jk->ik", "size_one_broadcast", size_one=True, cubed=True),
    # matmul with vectors and batches (test_ops_gradients has every rank against NumPy; these add torch)
    *(OpCase(f"matmul_{left}d_{right}d", lambda a, b: a @ b, np.matmul, matmul_inputs(left, right),
             torch=torch_fn("matmul"))
      for left, right in ((1, 1), (1, 3), (3, 1), (2, 1), (3, 3))),
    OpCase("tensordot", lambda a, b, axes: tensordot(a, b, axes), np.tensordot, tensordot_inputs(),
           torch=lambda a, b, axes: torch_fn("tensordot")(a, b, dims=axes)),
    OpCase("tensordot_cubed", lambda a, b, axes: tensordot(a, b, axes) ** 3,
           lambda a, b, axes: np.tensordot(a, b, axes) ** 3, tensordot_inputs()),
    OpCase("outer", outer, np.outer, any_pair(max_dims=2)),
    OpCase("outer_method", lambda a, b: a.outer(b), np.outer, vectors(), torch=torch_fn("outer")),
    OpCase("inner", inner, np.inner, last_axis_pair(), torch=torch_fn("inner")),
    OpCase("inner_method_cubed", lambda a, b: a.inner(b) ** 3, lambda a, b: np.inner(a, b) ** 3, last_axis_pair(1),
           torch=lambda a, b: a.inner(b) ** 3),
    OpCase("dot", dot, np.dot, dot_inputs()),
    OpCase("dot_cubed", lambda a, b: dot(a, b) ** 3, lambda a, b: np.dot(a, b) ** 3, dot_inputs()),
    OpCase("dot_method", lambda a, b: a.dot(b), np.dot, equal_vectors(), torch=torch_fn("dot")),
    OpCase("vdot", vdot, np.vdot,
           st.builds(lambda c: Call((c.arrays[0], c.arrays[1].reshape(-1))), einsum_inputs("ij,ij"))),
    OpCase("vdot_method", lambda a, b: a.vdot(b), np.vdot, equal_vectors(), torch=torch_fn("vdot")),
    OpCase("kron", kron, np_kron, any_pair(), torch=torch_fn("kron")),
    OpCase("kron_method_cubed", lambda a, b: a.kron(b) ** 3, lambda a, b: np_kron(a, b) ** 3, any_pair(),
           torch=lambda a, b: a.kron(b) ** 3),
    OpCase("cross", lambda a, b, axis: cross(a, b, axis), np_cross, cross_inputs()),
    OpCase("cross_cubed", lambda a, b, axis: cross(a, b, axis) ** 3, lambda a, b, axis: np_cross(a, b, axis) ** 3,
           cross_inputs()),
    OpCase("cross_method", lambda a, b, axis: a.cross(b, dim=axis), np_cross, cross_inputs(same_ndim=True),
           torch=lambda a, b, axis: torch_fn("linalg.cross")(a, b, dim=axis)),
]


(test_forward_matches_numpy, test_first_derivatives, test_second_derivatives,
 test_float32_stays_float32, test_matches_torch) = catalogue_properties(CATALOGUE, examples=5)


# --------------------------------------------------------------------------
# the NumPy functions against NumPy itself, on fixed inputs
# --------------------------------------------------------------------------

RNG = np.random.default_rng(7)
A, B, C = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal((2, 1, 3, 4))


@pytest.mark.parametrize("subscripts, operands", [
    ("ij,jk->ik", (A, B)), ("ii", (A,)), ("ii->i", (A,)), ("...jk,...kl->...jl", (C, RNG.standard_normal((5, 4, 2)))),
    ("Ab,bA->", (A, A)), ("i , i", (A[0], A[1])), ("ij,jk,kl->il", (A, B, B.T)),
])
def test_einsum_agrees_with_numpy(subscripts: str, operands: tuple[np.ndarray, ...]) -> None:
    np.testing.assert_allclose(einsum(subscripts, *operands).data, np.einsum(subscripts, *operands), rtol=1e-12)


def test_einsum_takes_torchs_list_of_operands() -> None:
    np.testing.assert_allclose(einsum("ij,jk", [Tensor(A), Tensor(B)]).data, A @ B, rtol=1e-12)


def test_einsum_gradient_of_a_diagonal_is_zero_off_the_diagonal() -> None:
    x = Tensor(A, requires_grad=True)
    einsum("ii->", x).backward()
    np.testing.assert_array_equal(x.grad.data, np.eye(3))


@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ij,jk->ik", [(2, 3), (4, 2)], r"einsum: 'ij,jk->ik': subscript 'j' has sizes 3 and 4, which do not broadcast"),
    ("ij->ik", [(2, 3)], r"einsum: 'ij->ik': output subscript 'k' is repeated or names no input axis"),
    ("ij->ii", [(2, 2)], r"output subscript 'i' is repeated"),
    ("ij,j", [(2, 3)], r"einsum: 'ij,j' names 2 operands, got 1"),
    ("ijk", [(2, 3)], r"einsum: 'ijk': term 'ijk' does not fit an operand of shape with 2 dimensions"),
    ("ii", [(2, 3)], r"repeated subscript 'i' in one operand of shape \(2, 3\) needs equal sizes, got 2 and 3"),
    ("...i->i", [(2, 3)], r"the output needs '...'"),
    ("i1", [(2, 3)], r"subscripts must be letters, got '1'"),
    ("i->i->i", [(2,)], r"more than one '->'"),
])
def test_einsum_errors_name_the_subscripts(subscripts: str, shapes: list[tuple[int, ...]], message: str) -> None:
    with pytest.raises(OpError, match=message):
        einsum(subscripts, *(Tensor(np.zeros(s)) for s in shapes))


def test_numpy_named_products_agree_with_numpy() -> None:
    np.testing.assert_allclose(tensordot(C, B.T, axes=([3, 2], [0, 1])).data,
                               np.tensordot(C, B.T, axes=([3, 2], [0, 1])), rtol=1e-12)
    np.testing.assert_allclose(dot(C, B.T).data, np.dot(C, B.T), rtol=1e-12)
    np.testing.assert_allclose(dot(2.0, Tensor(A)).data, 2.0 * A, rtol=1e-15)
    np.testing.assert_allclose(inner(C, B).data, np.inner(C, B), rtol=1e-12)
    np.testing.assert_allclose(outer(A, B).data, np.outer(A, B), rtol=1e-12)
    np.testing.assert_allclose(vdot(B, B.T.copy().T).data, np.vdot(B, B), rtol=1e-12)
    np.testing.assert_allclose(kron(A, C).data, np.kron(A, C), rtol=1e-12)
    np.testing.assert_allclose(cross(C[..., :3, :3], A).data, np.cross(C[..., :3, :3], A), rtol=1e-12)
    np.testing.assert_allclose(cross(A, B[:, :3], axis=0).data, np.cross(A, B[:, :3], axis=0), rtol=1e-12)


@pytest.mark.parametrize("method", ["dot", "vdot", "outer"])
def test_torch_vector_methods_refuse_matrices(method: str) -> None:
    with pytest.raises(OpError, match=rf"{method}: Tensor.{method} takes two 1-D tensors \(as torch\), "
                                      r"got shapes \(3, 3\) and \(3,\)"):
        getattr(Tensor(A), method)(Tensor(A[0]))


def test_cross_method_without_dim_uses_the_last_axis_only_where_torch_would() -> None:
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    np.testing.assert_allclose(Tensor(x).cross(Tensor(y)).data, np.cross(x, y), rtol=1e-12)
    with pytest.raises(OpError, match=r"cross: dim=None picks the first axis of length 3 in torch"):
        Tensor(A).cross(Tensor(A))  # torch's dim=None would take axis 0 of a (3, 3) tensor


@pytest.mark.parametrize("call, message", [
    (lambda: cross(A[:2], A[:2], axis=0), r"cross: needs axis 0 of length 3 in both operands, got shapes \(2, 3\)"),
    (lambda: tensordot(A, B, axes=([0], [1])), r"tensordot: axis 0 of shape \(3, 3\) and axis 1 of shape \(3, 4\)"),
    (lambda: tensordot(A, B, axes=3), r"tensordot: axes=3 does not fit shapes \(3, 3\) and \(3, 4\)"),
    (lambda: vdot(A, B), r"vdot: operands of shapes \(3, 3\) and \(3, 4\) have 9 and 12 elements"),
])
def test_product_errors_name_the_shapes(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(OpError, match=message):
        call()
