"""``grad`` and ``value_and_grad``: argnums, array vs Tensor calling conventions, and nesting.

Every expected value is a closed form worked out by hand (noted beside it),
never a number produced by the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vae import Tensor, grad, gradients, value_and_grad


def cubic_sum(x: Tensor) -> Tensor:
    return (x**3).sum()


def quartic_plus_exp(x: Tensor) -> Tensor:
    """f(x) = x^4 + e^(2x): f' = 4x^3 + 2e^(2x), f'' = 12x^2 + 4e^(2x), f''' = 24x + 8e^(2x)."""
    return x**4 + (x * 2.0).exp()


def x2_y3(x: Tensor, y: Tensor) -> Tensor:
    """f = sum(x^2 y^3): df/dx = 2x y^3, df/dy = 3x^2 y^2, d2f/dxdy = 6x y^2."""
    return (x * x * y**3).sum()


X = np.array([1.0, -2.0, 0.5])
Y = np.array([0.5, 1.5, -1.0])


# --------------------------------------------------------------------------
# arrays in, arrays out
# --------------------------------------------------------------------------


def test_grad_of_arrays_returns_an_array() -> None:
    g = grad(cubic_sum)(X)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64
    np.testing.assert_allclose(g, 3.0 * X**2, rtol=1e-15)


def test_grad_of_a_python_number_and_a_list() -> None:
    assert grad(quartic_plus_exp)(0.5) == pytest.approx(4 * 0.125 + 2 * math.e, rel=1e-12)
    np.testing.assert_allclose(grad(cubic_sum)([1.0, 2.0]), [3.0, 12.0], rtol=1e-6)


def test_grad_keeps_float32() -> None:
    g = grad(cubic_sum)(X.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 3.0 * X**2, rtol=1e-6)


def test_value_and_grad_returns_both() -> None:
    value, g = value_and_grad(cubic_sum)(X)
    assert isinstance(value, float) and value == pytest.approx(1.0 - 8.0 + 0.125, rel=1e-15)
    np.testing.assert_allclose(g, 3.0 * X**2, rtol=1e-15)


def test_argnums_selects_the_arguments() -> None:
    np.testing.assert_allclose(grad(x2_y3, argnums=1)(X, Y), 3.0 * X**2 * Y**2, rtol=1e-15)
    gx, gy = grad(x2_y3, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(gx, 2.0 * X * Y**3, rtol=1e-15)
    np.testing.assert_allclose(gy, 3.0 * X**2 * Y**2, rtol=1e-15)
    (only_y,) = grad(x2_y3, argnums=(1,))(X, Y)  # a tuple argnums always gives a tuple
    np.testing.assert_allclose(only_y, gy, rtol=1e-15)
    value, (gy2, gx2) = value_and_grad(x2_y3, argnums=(1, 0))(X, Y)
    assert value == pytest.approx(float(np.sum(X**2 * Y**3)), rel=1e-15)
    np.testing.assert_allclose(gx2, gx, rtol=1e-15)
    np.testing.assert_allclose(gy2, gy, rtol=1e-15)


def test_keyword_arguments_pass_through() -> None:
    def scaled(x: Tensor, scale: float = 1.0) -> Tensor:
        return (x * x).sum() * scale

    np.testing.assert_allclose(grad(scaled)(X, scale=3.0), 6.0 * X, rtol=1e-15)


# --------------------------------------------------------------------------
# Tensors in, Tensors out
# --------------------------------------------------------------------------


def test_grad_of_a_tensor_returns_a_tensor_and_leaves_the_input_alone() -> None:
    x = Tensor(X.copy())
    g = grad(cubic_sum)(x)
    assert isinstance(g, Tensor) and not g.requires_grad
    np.testing.assert_allclose(g.data, 3.0 * X**2, rtol=1e-15)
    assert not x.requires_grad and x.grad is None


def test_grad_of_a_tensor_that_requires_grad_is_differentiable() -> None:
    """g = 3x^2 is recorded, so backward through sum(g) gives 6x."""
    x = Tensor(X.copy(), requires_grad=True)
    g = grad(cubic_sum)(x)
    assert g.requires_grad
    assert x.grad is None  # grad() itself writes no .grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6.0 * X, rtol=1e-15)


def test_value_and_grad_on_tensors() -> None:
    value, g = value_and_grad(cubic_sum)(Tensor(X.copy()))
    assert isinstance(value, Tensor) and isinstance(g, Tensor)
    assert value.item() == pytest.approx(-6.875, rel=1e-15)


# --------------------------------------------------------------------------
# nesting: higher derivatives against closed forms
# --------------------------------------------------------------------------


@given(st.floats(-2.0, 2.0))
def test_second_and_third_derivatives(x: float) -> None:
    e = math.exp(2 * x)
    assert grad(grad(quartic_plus_exp))(x) == pytest.approx(12 * x**2 + 4 * e, rel=1e-12, abs=1e-12)
    assert grad(grad(grad(quartic_plus_exp)))(x) == pytest.approx(24 * x + 8 * e, rel=1e-12, abs=1e-12)


def test_fourth_derivative_of_a_polynomial() -> None:
    """d^4/dx^4 (x^5 - 3x^4 + x) = 120x - 72."""
    f = grad(grad(grad(grad(lambda x: x**5 - 3.0 * x**4 + x))))
    for x in (-1.5, 0.0, 0.7, 2.0):
        assert f(x) == pytest.approx(120 * x - 72, rel=1e-12, abs=1e-12)


def test_mixed_partial_derivative() -> None:
    """d/dy (df/dx) for f = x^2 y^3 with scalar x, y: 6x y^2."""
    d_dx = grad(x2_y3, argnums=0)
    mixed = grad(lambda x, y: d_dx(x, y), argnums=1)
    assert mixed(0.5, -1.5) == pytest.approx(6 * 0.5 * 1.5**2, rel=1e-12)


def test_grad_of_grad_on_tensors_gives_tensors() -> None:
    x = Tensor(np.array(0.3))
    second = grad(grad(quartic_plus_exp))(x)
    assert isinstance(second, Tensor)
    assert second.item() == pytest.approx(12 * 0.09 + 4 * math.exp(0.6), rel=1e-12)


# --------------------------------------------------------------------------
# gradients(): returns, never accumulates
# --------------------------------------------------------------------------


def test_gradients_does_not_touch_grad() -> None:
    x = Tensor(X.copy(), requires_grad=True)
    y = Tensor(Y.copy(), requires_grad=True)
    x.grad = Tensor(np.full(3, 7.0))
    gx, gy = gradients(x2_y3(x, y), [x, y])
    np.testing.assert_allclose(gx.data, 2.0 * X * Y**3, rtol=1e-15)
    np.testing.assert_allclose(gy.data, 3.0 * X**2 * Y**2, rtol=1e-15)
    np.testing.assert_array_equal(x.grad.data, np.full(3, 7.0))
    assert y.grad is None


def test_gradients_of_an_unused_input_is_an_error_unless_allowed() -> None:
    """As torch.autograd.grad: an error by default, None with allow_unused, zeros with materialize_grads."""
    x, unused = Tensor(X.copy(), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"gradients: input 1 \(shape \(2,\)\) is not used to compute the output"):
        gradients(cubic_sum(x), [x, unused])
    gx, g = gradients(cubic_sum(x), [x, unused], allow_unused=True)
    assert g is None
    np.testing.assert_allclose(gx.data, 3 * X**2, rtol=1e-14)
    _, g = gradients(cubic_sum(x), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(g.data, np.zeros(2))
    with pytest.raises(ValueError, match="materialize_grads=True needs allow_unused"):
        gradients(cubic_sum(x), [x, unused], allow_unused=False, materialize_grads=True)


def test_gradients_of_a_constant_output() -> None:
    x = Tensor(X.copy(), requires_grad=True)
    with pytest.raises(ValueError, match="gradients: the output does not require grad"):
        gradients(Tensor(np.array(1.0)), x)
    assert gradients(Tensor(np.array(1.0)), x, allow_unused=True) == (None,)


def test_gradients_of_a_single_tensor_is_a_one_tuple() -> None:
    """torch.autograd.grad(y, x) with x a Tensor, not a list."""
    x = Tensor(X.copy(), requires_grad=True)
    (g,) = gradients(cubic_sum(x), x)
    np.testing.assert_allclose(g.data, 3 * X**2, rtol=1e-14)


def test_gradients_leaves_every_leaf_grad_alone() -> None:
    x, w = Tensor(X.copy(), requires_grad=True), Tensor(np.full(X.shape, 2.0), requires_grad=True)
    gradients(cubic_sum(x * w), x)
    assert x.grad is None and w.grad is None


def test_gradients_needs_inputs_that_require_grad() -> None:
    with pytest.raises(ValueError, match="gradients: input 0 must be a Tensor that requires grad"):
        gradients(cubic_sum(Tensor(X)), [Tensor(X)])


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_grad_needs_a_scalar_output() -> None:
    with pytest.raises(TypeError, match=r"grad: f must return a Tensor with one element, got shape \(3,\)"):
        grad(lambda x: x * 2.0)(X)


def test_grad_needs_a_tensor_output() -> None:
    with pytest.raises(TypeError, match="grad: f must return a Tensor, got float"):
        grad(lambda x: 1.0)(X)


def test_value_and_grad_errors_name_value_and_grad() -> None:
    with pytest.raises(TypeError, match=r"^value_and_grad: f must return a Tensor with one element, got shape \(3,\)"):
        value_and_grad(lambda x: x * 2.0)(X)
    with pytest.raises(TypeError, match=r"^value_and_grad: argnums=1 but f was called with 1 positional arguments"):
        value_and_grad(cubic_sum, argnums=1)(X)


def test_argnums_out_of_range() -> None:
    with pytest.raises(TypeError, match=r"grad: argnums=\(0, 2\) but f was called with 2 positional arguments"):
        grad(x2_y3, argnums=(0, 2))(X, Y)
