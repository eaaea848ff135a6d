"""jacobian, hessian, jvp, vjp, hvp (and grad, value_and_grad) against central differences.

The oracle is finite differences of the function's *values* in float64 (no
gradient code involved); inputs are drawn from [-1.5, 1.5], where every test
function is smooth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vae import Tensor, no_grad
from tinygrad_vae.func import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from tinygrad_vae.testing import arrays, shapes

EPS = 1e-6
ATOL, RTOL = 1e-5, 1e-4

# Smooth maps R^shape -> R^(some shape), written with Tensor ops.
VECTOR_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh*x": lambda x: x.tanh() * x,
    "softmax": lambda x: x.softmax(axis=-1),
    "cube+exp": lambda x: x**3 + (x * 0.5).exp(),
    "sigmoid-sum": lambda x: x.sigmoid().sum(axis=0) * 2.0,
    "outer": lambda x: x.reshape(-1, 1) * x.reshape(1, -1),
}
SCALAR_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "logsumexp": lambda x: x.logsumexp(),
    "softplus-quartic": lambda x: x.softplus().sum() + (x**4).sum() * 0.1,
    "tanh-product": lambda x: (x.tanh() * x.sigmoid()).sum() ** 2,
}

points = arrays(shapes(min_dims=1, max_dims=2, max_side=3), low=-1.5, high=1.5)


def evaluate(f: Callable[..., Tensor], *xs: np.ndarray) -> np.ndarray:
    with no_grad():
        return np.asarray(f(*[Tensor(x) for x in xs]).data, dtype=np.float64)


def numerical_jacobian(f: Callable[..., Tensor], xs: list[np.ndarray], i: int = 0) -> np.ndarray:
    """d f / d xs[i] by central differences, shape out.shape + xs[i].shape."""
    x = xs[i]
    columns = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = EPS
        step = step.reshape(x.shape)
        plus = evaluate(f, *xs[:i], x + step, *xs[i + 1:])
        minus = evaluate(f, *xs[:i], x - step, *xs[i + 1:])
        columns.append((plus - minus) / (2 * EPS))
    out_shape = columns[0].shape
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def numerical_hessian(f: Callable[..., Tensor], x: np.ndarray) -> np.ndarray:
    """d^2 f / dx dx from function values: the four-point central difference."""
    h = 1e-4
    n = x.size
    H = np.empty((n, n))
    basis = np.eye(n).reshape((n,) + x.shape) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (
                evaluate(f, x + basis[i] + basis[j]) - evaluate(f, x + basis[i] - basis[j])
                - evaluate(f, x - basis[i] + basis[j]) + evaluate(f, x - basis[i] - basis[j])
            ) / (4 * h * h)
    return H.reshape(x.shape + x.shape)


def directions_like(x: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(x.shape)


# --------------------------------------------------------------------------
# against finite differences (Hypothesis)
# --------------------------------------------------------------------------


@given(x=points, name=st.sampled_from(sorted(VECTOR_FUNCTIONS)))
def test_jacobian_matches_finite_differences(x: np.ndarray, name: str) -> None:
    f = VECTOR_FUNCTIONS[name]
    J = jacobian(f)(x)
    expected = numerical_jacobian(f, [x])
    assert J.shape == expected.shape
    np.testing.assert_allclose(J, expected, atol=ATOL, rtol=RTOL)


@given(x=points, name=st.sampled_from(sorted(VECTOR_FUNCTIONS)), seed=st.integers(0, 2**16))
def test_jvp_is_the_directional_derivative(x: np.ndarray, name: str, seed: int) -> None:
    f = VECTOR_FUNCTIONS[name]
    t = directions_like(x, seed)
    out, jt = jvp(f, (x,), (t,))
    np.testing.assert_allclose(out, evaluate(f, x), rtol=1e-12)
    expected = (evaluate(f, x + EPS * t) - evaluate(f, x - EPS * t)) / (2 * EPS)
    assert jt.shape == expected.shape
    np.testing.assert_allclose(jt, expected, atol=ATOL, rtol=RTOL)


@given(x=points, name=st.sampled_from(sorted(VECTOR_FUNCTIONS)), seed=st.integers(0, 2**16))
def test_vjp_matches_finite_differences(x: np.ndarray, name: str, seed: int) -> None:
    f = VECTOR_FUNCTIONS[name]
    out_shape = evaluate(f, x).shape
    v = np.random.default_rng(seed).standard_normal(out_shape)
    out, (vj,) = vjp(f, (x,), v)
    np.testing.assert_allclose(out, evaluate(f, x), rtol=1e-12)
    J = numerical_jacobian(f, [x])
    expected = np.tensordot(v, J, axes=v.ndim)
    np.testing.assert_allclose(vj, expected, atol=ATOL, rtol=RTOL)


@given(x=points, name=st.sampled_from(sorted(SCALAR_FUNCTIONS)))
def test_hessian_matches_second_differences(x: np.ndarray, name: str) -> None:
    f = SCALAR_FUNCTIONS[name]
    H = hessian(f)(x)
    expected = numerical_hessian(f, x)
    assert H.shape == x.shape + x.shape
    np.testing.assert_allclose(H, expected, atol=ATOL, rtol=RTOL)


@given(x=points, name=st.sampled_from(sorted(SCALAR_FUNCTIONS)), seed=st.integers(0, 2**16))
def test_hvp_matches_second_differences(x: np.ndarray, name: str, seed: int) -> None:
    f = SCALAR_FUNCTIONS[name]
    t = directions_like(x, seed)
    value, (ht,) = hvp(f, (x,), (t,))
    assert value == pytest.approx(float(evaluate(f, x)), rel=1e-12)
    H = numerical_hessian(f, x)
    expected = np.tensordot(H, t, axes=t.ndim)
    np.testing.assert_allclose(ht, expected, atol=ATOL, rtol=RTOL)


@given(
    x=arrays((2, 3), low=-1.5, high=1.5),
    y=arrays((3,), low=-1.5, high=1.5),
    seed=st.integers(0, 2**16),
)
def test_two_argument_transforms(x: np.ndarray, y: np.ndarray, seed: int) -> None:
    """With several primals, jvp sums J_i t_i and vjp/jacobian return one block per argument."""
    def f(a: Tensor, b: Tensor) -> Tensor:
        return (a * b.tanh()).sum(axis=1) + (a @ b).sigmoid()

    rng = np.random.default_rng(seed)
    tx, ty = rng.standard_normal(x.shape), rng.standard_normal(y.shape)
    Jx, Jy = numerical_jacobian(f, [x, y], 0), numerical_jacobian(f, [x, y], 1)

    jx, jy = jacobian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jx, Jx, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(jy, Jy, atol=ATOL, rtol=RTOL)

    _, jt = jvp(f, (x, y), (tx, ty))
    np.testing.assert_allclose(jt, np.tensordot(Jx, tx, 2) + Jy @ ty, atol=ATOL, rtol=RTOL)

    v = rng.standard_normal(2)
    _, (vx, vy) = vjp(f, (x, y), v)
    np.testing.assert_allclose(vx, np.tensordot(v, Jx, 1), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(vy, v @ Jy, atol=ATOL, rtol=RTOL)


# --------------------------------------------------------------------------
# exact cases and composition
# --------------------------------------------------------------------------


def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose() -> None:
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 3.0, 0.0], [4.0, 0.25, -2.0]])
    H = hessian(lambda x: x @ Tensor(A) @ x)(np.array([0.3, -0.7, 1.1]))
    np.testing.assert_allclose(H, A + A.T, rtol=1e-12)


def test_hessian_with_two_arguments_gives_all_blocks() -> None:
    """f(a, b) = sum(a * b^2): d2f/da2 = 0, d2f/dadb = diag(2b), d2f/db2 = diag(2a)."""
    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    (Haa, Hab), (Hba, Hbb) = hessian(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(Haa, np.zeros((2, 2)))
    np.testing.assert_allclose(Hab, np.diag(2 * b), rtol=1e-12)
    np.testing.assert_allclose(Hba, np.diag(2 * b), rtol=1e-12)
    np.testing.assert_allclose(Hbb, np.diag(2 * a), rtol=1e-12)


def test_jacobian_of_grad_is_the_hessian_and_hvp_agrees() -> None:
    f = SCALAR_FUNCTIONS["tanh-product"]
    x = np.array([[0.2, -0.4], [1.0, 0.7]])
    t = np.array([[1.0, 0.5], [-2.0, 0.25]])
    H = jacobian(grad(f))(x)
    np.testing.assert_allclose(H, hessian(f)(x), rtol=1e-12)
    _, (ht,) = hvp(f, (x,), (t,))
    np.testing.assert_allclose(ht, np.tensordot(H, t, axes=2), rtol=1e-10, atol=1e-12)


def test_jvp_of_a_linear_map_is_exact() -> None:
    W = np.array([[1.0, -2.0], [0.5, 4.0], [3.0, 0.0]])
    _, jt = jvp(lambda x: Tensor(W) @ x, (np.array([7.0, -1.0]),), (np.array([0.25, 2.0]),))
    np.testing.assert_allclose(jt, W @ np.array([0.25, 2.0]), rtol=1e-14)


def test_tensors_in_give_tensors_out_and_stay_differentiable() -> None:
    """d/dx of (J(x) t) through jvp equals the second-order finite difference."""
    t = np.array([0.5, -1.0, 2.0])

    def directional(x: Tensor) -> Tensor:
        _, jt = jvp(lambda z: (z**3).sum() + z.tanh().sum(), (x,), (Tensor(t),))
        return jt

    x = np.array([0.1, -0.8, 1.2])
    out = directional(Tensor(x))
    assert isinstance(out, Tensor)
    g = grad(directional)(x)  # = H t, H diagonal with entries 6x - 2 tanh(x)(1 - tanh(x)^2)
    expected = (6 * x - 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)) * t
    np.testing.assert_allclose(g, expected, rtol=1e-10)


def test_mixed_partial_through_a_non_differentiated_argument() -> None:
    """d/dy of df/dx: the inner grad must be recorded because y requires grad."""
    def f(x: Tensor, y: Tensor) -> Tensor:
        return (x * x * y.exp()).sum()

    x, y = np.array([0.5, -1.5]), np.array([0.3, 0.1])
    mixed = jacobian(lambda y_: grad(f, 0)(Tensor(x), y_))(y)  # d/dy (2 x e^y) = diag(2 x e^y)
    np.testing.assert_allclose(mixed, np.diag(2 * x * np.exp(y)), rtol=1e-12)


def test_jacobian_of_an_array_argument_is_recorded_when_another_argument_is_differentiated() -> None:
    """J = d(x * y^2)/dx = diag(y^2) for a plain array x; d/dy sum(J) = 2y needs J recorded as a function of y."""
    x = np.array([1.0, -2.0, 0.5])
    y = np.array([0.5, 3.0, -1.0])
    g = grad(lambda y_: jacobian(lambda a, b: a * b * b)(x, y_).sum())(y)
    np.testing.assert_allclose(g, 2 * y, rtol=1e-12)


def test_grad_and_value_and_grad_still_return_numbers_for_numbers() -> None:
    value, slope = value_and_grad(lambda x: x**3)(2.0)
    assert value == 8.0 and slope == pytest.approx(12.0, rel=1e-6)
    assert grad(grad(lambda x: x**3))(2.0) == pytest.approx(12.0, rel=1e-6)
    gx, gy = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 5.0]))
    np.testing.assert_array_equal(gx, [3.0, 5.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])


def test_jacobian_keeps_float32_and_handles_a_scalar_output() -> None:
    J = jacobian(lambda x: (x * x).sum())(np.array([1.0, 2.0], dtype=np.float32))
    assert J.dtype == np.float32 and J.shape == (2,)
    np.testing.assert_array_equal(J, [2.0, 4.0])


# --------------------------------------------------------------------------
# errors name the transform, the shapes and what was expected
# --------------------------------------------------------------------------


def test_errors_are_clear() -> None:
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(2,\) but primal 0 has shape \(3,\)"):
        jvp(lambda z: z * 2.0, (x,), (np.zeros(2),))
    with pytest.raises(ValueError, match=r"vjp: cotangent has shape \(2,\) but f's output has shape \(3,\)"):
        vjp(lambda z: z * 2.0, (x,), np.zeros(2))
    with pytest.raises(TypeError, match=r"hvp: f must return a Tensor with one element, got shape \(3,\)"):
        hvp(lambda z: z * 2.0, (x,), (x,))
    with pytest.raises(TypeError, match="jacobian: f must return a Tensor, got float"):
        jacobian(lambda z: 1.0)(x)
    with pytest.raises(TypeError, match=r"grad: argnums=1 but f was called with 1 positional arguments"):
        grad(lambda z: z.sum(), argnums=1)(x)
    with pytest.raises(TypeError, match=r"grad: f must return a Tensor with one element, got shape \(3,\); use jacobian"):
        grad(lambda z: z * 2.0)(x)
    with pytest.raises(TypeError, match="jvp: primals must be a non-empty tuple or list"):
        jvp(lambda z: z, x, (x,))
    with pytest.raises(ValueError, match="hvp: got 2 tangents for 1 primals"):
        hvp(lambda z: z.sum(), (x,), (x, x))
