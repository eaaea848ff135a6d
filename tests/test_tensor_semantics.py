"""What a Tensor promises beyond single op gradients: accumulation, graph lifetime, modes, dtypes, errors.

Each test states one behaviour a user relies on (most mirror PyTorch's),
with values worked out by hand in the docstring or comment. Hooks and anomaly
mode are tested in test_instruments.py, ``gradients()`` leaving ``.grad`` alone in
test_func.py.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from tinygrad_vae import (
    OpError,
    Tensor,
    affine,
    enable_grad,
    get_default_dtype,
    gradients,
    is_grad_enabled,
    no_grad,
    ops,
    set_default_dtype,
    set_grad_enabled,
    where,
)
from tinygrad_vae.core import Function, topological_order
from tinygrad_vae.core.observers import Observer, observing


def leaf(values: object, dtype: object = np.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------
# accumulation and graph lifetime
# --------------------------------------------------------------------------


def test_leaf_gradients_accumulate_across_backward_calls() -> None:
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()  # adds 2x
    np.testing.assert_array_equal(x.grad.data, [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_a_second_backward_through_a_freed_graph_raises() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time .*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4.0 * np.exp([1.0, 2.0]), rtol=1e-15)


def test_backward_releases_every_saved_input() -> None:
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = ((x @ x).tanh() * x).sum()
    functions = [t._ctx for t in topological_order(y) if t._ctx is not None]
    assert len(functions) == 4 and all(fn.inputs is not None for fn in functions)
    y.backward()
    assert all(fn.inputs is None for fn in functions)


def test_retained_graph_keeps_its_saved_inputs() -> None:
    x = leaf([1.0, 2.0])
    y = x.sigmoid().sum()
    y.backward(retain_graph=True)
    assert y._ctx.inputs is not None


def test_memory_stays_flat_over_training_steps() -> None:
    """Gradient steps after a warm-up: leaking even one small Tensor per step would add > 80 kB
    to every window of 1,500 steps.

    The warm-up runs under tracemalloc too, because Python's free lists for small
    objects fill up over the first few hundred steps (a one-off ~90 kB). In the full
    suite a one-off jump of 50 to 70 kB has also been seen, about once in seven runs,
    in one window (something outside the step growing once); so the smallest growth
    of three windows is asserted: a leak grows every window.
    """
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((8, 4)), requires_grad=True)
    b = Tensor(np.zeros(4), requires_grad=True)
    x = Tensor(rng.standard_normal((16, 8)))

    def step() -> None:
        loss = (affine(x, w, b).tanh() ** 2).mean() + (w * w).sum() * 1e-3
        loss.backward()
        for p in (w, b):
            p.data -= 0.01 * p.grad.data
            p.grad = None

    tracemalloc.start()
    try:
        for _ in range(1000):
            step()
        growths = []
        for _window in range(3):
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(1500):
                step()
            growths.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    assert min(growths) < 20_000, f"memory grew by {growths} bytes in three windows of 1500 steps"


def test_a_100000_op_chain_backpropagates_without_recursion_error() -> None:
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert y.item() == 100_001.0
    assert x.grad.item() == 1.0


class Visits(Observer):
    """Notes the id of every tensor the backward pass completes a gradient for."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def gradient_ready(self, t: Tensor, grad: Tensor) -> None:
        self.ids.append(id(t))


def test_a_reused_subexpression_gets_exactly_one_correct_gradient() -> None:
    """b = a + a; c = b * b = 4a^2, so dc/da = 8a (not 4a from one path, nor 16a from counting twice)."""
    a = leaf([0.5, -3.0])
    b = a + a
    c = b * b
    seen = Visits()
    with observing(seen):
        c.sum().backward()
    seen = seen.ids
    np.testing.assert_array_equal(a.grad.data, 8.0 * a.data)
    assert seen.count(id(b)) == 1 and seen.count(id(a)) == 1  # each node's rule ran once


def test_a_tensor_used_again_much_later_gets_its_whole_gradient_before_its_rule_runs() -> None:
    """The backward pass takes the most recently made waiting tensor first; a, made early and
    used by the last ops, must still wait for all three of its uses.

    loss = sum(3 exp(x)) + sum(a^2) + sum(a) with a = 2x:  dloss/da = 2a + 1,
    dloss/dx = 3 exp(x) + 2 (2a + 1).
    """
    x = leaf([1.0, -2.0])
    a = x * 2.0
    c = (x.exp() * 3.0).sum()  # ops made between a and its later uses
    loss = c + (a * a).sum() + a.sum()
    arrived: list[np.ndarray] = []
    a.register_hook(lambda g: arrived.append(g.data.copy()))
    loss.backward()
    assert len(arrived) == 1
    np.testing.assert_allclose(arrived[0], 2.0 * a.data + 1.0, rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, 3.0 * np.exp(x.data) + 2.0 * (2.0 * a.data + 1.0), rtol=1e-14)


# --------------------------------------------------------------------------
# backward's arguments
# --------------------------------------------------------------------------


def test_non_scalar_backward_needs_a_gradient() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs; output has shape \(2,\)"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])


def test_backward_gradient_of_the_wrong_shape_is_rejected() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_graph_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()


def test_create_graph_gives_correct_second_derivatives() -> None:
    """y = sum(x^3): backward with create_graph=True leaves x.grad = 3x^2 differentiable; its derivative is 6x."""
    x = leaf([1.0, -2.0, 0.5])
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, 3.0 * x.data**2, rtol=1e-15)
    (second,) = gradients(x.grad.sum(), [x])
    np.testing.assert_allclose(second.data, 6.0 * x.data, rtol=1e-15)


def test_without_create_graph_gradients_do_not_require_grad() -> None:
    x = leaf([1.0, 2.0])
    (x.exp() * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf
    (g,) = gradients((x.exp() * x).sum(), [x])
    assert not g.requires_grad and g.is_leaf


# --------------------------------------------------------------------------
# the rules' two paths: bare arrays in a plain backward, Tensors with create_graph
# --------------------------------------------------------------------------


class TimesThreeSpy(Function):
    """3x, noting the kinds of value its rule is given."""

    seen: ClassVar[list[tuple[type, ...]]] = []

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a * 3.0

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        TimesThreeSpy.seen.append((type(grad), type(out), type(a)))
        return (grad * 3.0,)


def test_a_plain_backward_runs_rules_on_arrays_and_create_graph_runs_them_on_tensors() -> None:
    x = leaf([1.0, 2.0])
    TimesThreeSpy.seen.clear()
    (TimesThreeSpy.apply(x) * x).sum().backward()
    assert TimesThreeSpy.seen == [(np.ndarray, np.ndarray, np.ndarray)]
    np.testing.assert_allclose(x.grad.data, 6.0 * x.data)  # d/dx sum(3x * x) = 6x
    assert isinstance(x.grad, Tensor) and not x.grad.requires_grad

    x.grad = None
    (TimesThreeSpy.apply(x) * x).sum().backward(create_graph=True)
    assert TimesThreeSpy.seen[1] == (Tensor, Tensor, Tensor)
    np.testing.assert_allclose(x.grad.data, 6.0 * x.data)
    assert x.grad.requires_grad


def test_a_rule_that_calls_a_tensor_only_method_gets_an_error_saying_why() -> None:
    class ExpByMethod(Function):
        def forward(self, a: np.ndarray) -> np.ndarray:
            return np.exp(a)

        def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
            return (grad * a.exp(),)  # Tensor-only: fails on an array

    x = leaf([0.5])
    with pytest.raises(AttributeError, match=r"ExpByMethod\.backward: .*'exp'.* on NumPy arrays.*Exp\.apply\(x\)"):
        ExpByMethod.apply(x).sum().backward()
    ExpByMethod.apply(x).sum().backward(create_graph=True)  # on Tensors the same rule works
    np.testing.assert_allclose(x.grad.data, np.exp([0.5]))


def test_a_rule_that_returns_the_other_kind_of_value_still_gives_the_right_gradient() -> None:
    class TwiceAsTensor(Function):
        """2x, whose rule returns a Tensor on the array path and an array on the Tensor path."""

        def forward(self, a: np.ndarray) -> np.ndarray:
            return a * 2.0

        def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
            doubled = np.asarray(grad) * 2.0
            return (Tensor(doubled) if isinstance(grad, np.ndarray) else doubled,)

    for create_graph in (False, True):
        x = leaf([1.0, -2.0])
        (TwiceAsTensor.apply(x) * x).sum().backward(create_graph=create_graph)
        assert isinstance(x.grad, Tensor)
        np.testing.assert_allclose(x.grad.data, 4.0 * x.data)  # d/dx sum(2x * x) = 4x


def test_apply_on_arrays_just_runs_the_forward() -> None:
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])
    product = ops.MatMul.apply(a, b)
    assert isinstance(product, np.ndarray) and product.tolist() == [[11.0]]
    np.testing.assert_array_equal(ops.MatMul.apply(a, a, transpose_b=True), [[5.0]])


# --------------------------------------------------------------------------
# no gradient work for inputs that need none
# --------------------------------------------------------------------------


def test_ops_on_tensors_without_grad_record_nothing() -> None:
    x = Tensor([1.0, 2.0])
    y = (x * 2.0).exp().sum()
    assert not y.requires_grad and y.is_leaf


def test_affine_rule_returns_none_for_an_input_that_needs_no_gradient() -> None:
    x = Tensor(np.ones((3, 2)))
    w, b = leaf(np.ones((2, 4))), leaf(np.zeros(4))
    y = affine(x, w, b)
    gx, gw, gb = y._ctx.backward(Tensor(np.ones((3, 4))), y, *y._ctx.inputs)
    assert gx is None
    np.testing.assert_array_equal(gw.data, np.full((2, 4), 3.0))
    np.testing.assert_array_equal(gb.data, np.full(4, 3.0))


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a**b,
    lambda a, b: a @ b, ops.maximum, lambda a, b: where(np.array([True, False]), a, b),
    lambda a, b: ops.concatenate([a, b]),
])
def test_binary_rules_skip_the_input_that_needs_no_gradient(op: object) -> None:
    a, b = Tensor(np.array([1.5, 2.0])), leaf([0.5, 3.0])
    out = op(a, b)
    grads = out._ctx.backward(Tensor(np.ones(out.shape)), out, *out._ctx.inputs)
    assert grads[0] is None and grads[1] is not None


def test_backward_never_visits_branches_that_need_no_gradient() -> None:
    x, c = leaf([1.0, 2.0]), Tensor([3.0, 4.0])
    constant_branch = c.exp().log()
    y = (x * constant_branch).sum()
    visits = Visits()
    with observing(visits):
        y.backward()
    visited = visits.ids
    assert id(constant_branch) not in visited and id(c) not in visited
    assert id(x) in visited


# --------------------------------------------------------------------------
# recording modes
# --------------------------------------------------------------------------


def test_no_grad_as_a_context_manager() -> None:
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
    assert is_grad_enabled()
    assert not y.requires_grad and y._ctx is None


def test_no_grad_as_a_decorator() -> None:
    @no_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2.0

    y = double(leaf([1.0]))
    assert not y.requires_grad and y._ctx is None
    assert is_grad_enabled()


def test_enable_grad_inside_no_grad() -> None:
    x = leaf([1.0, 2.0])
    with no_grad():
        with enable_grad():
            y = (x * x).sum()
        z = x * 3.0
    assert y.requires_grad and not z.requires_grad
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_set_grad_enabled_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(KeyError), set_grad_enabled(False):
        raise KeyError("boom")
    assert is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data() -> None:
    x = leaf([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()  # d is a constant here
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    x2 = leaf([5.0])
    assert x2.detach().data is x2.data


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------


@pytest.fixture
def restore_default_dtype() -> Iterator[None]:
    previous = get_default_dtype()
    yield
    set_default_dtype(previous)


def test_python_floats_and_lists_default_to_float32() -> None:
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([[1, 2]]).dtype == np.int64
    assert Tensor([True]).dtype == np.bool_
    assert Tensor(np.array([1.0])).dtype == np.float64  # NumPy arrays keep their dtype


def test_set_default_dtype(restore_default_dtype: None) -> None:
    set_default_dtype(np.float64)
    assert get_default_dtype() == np.float64
    assert Tensor([1.0]).dtype == np.float64
    assert Tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="set_default_dtype: expected float32 or float64, got int32"):
        set_default_dtype(np.int32)


@pytest.mark.parametrize("expression", [
    lambda x: x * 2.5, lambda x: 2.5 * x, lambda x: x + 1, lambda x: 1 - x, lambda x: x / 3, lambda x: 3.0 / x,
    lambda x: x**2, lambda x: x**0.5, lambda x: 2.0**x, lambda x: x.maximum(0.5), lambda x: x.clip(0.5, 1.5),
    lambda x: where(np.array([True, False]), x, 0.0),
    # NumPy float64 scalars count as numbers too (NumPy 2 would otherwise upcast to float64)
    lambda x: x - np.float64(0.5), lambda x: x * np.int64(2), lambda x: x ** np.float64(1.5),
    lambda x: x.clip(np.float64(0.5), np.float64(1.5)), lambda x: x.leaky_relu(np.float64(0.2)),
])
def test_python_scalars_do_not_upcast_float32(expression: object) -> None:
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = expression(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_promotes_like_numpy_and_gradients_keep_each_input_dtype() -> None:
    a, b = leaf([1.0, 2.0], dtype=np.float32), leaf([3.0, 4.0])
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])


def test_astype_float64_gradient_comes_back_as_float32() -> None:
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


@pytest.mark.parametrize("data", [np.array([1, 2]), np.array([True, False]), [1, 2]])
def test_integer_and_bool_tensors_cannot_require_grad(data: object) -> None:
    dtype = np.asarray(data).dtype
    with pytest.raises(TypeError, match=f"only float32 and float64 tensors can require grad, got dtype {dtype}"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=f"got dtype {dtype}"):
        Tensor(data).requires_grad_()


def test_casting_to_an_integer_dtype_leaves_the_graph() -> None:
    y = leaf([1.7, -2.2]).astype(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.data, [1, -2])


# --------------------------------------------------------------------------
# error messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make, error, message", [
    (lambda a: a @ Tensor(np.ones((4, 2))), OpError,
     (r"matmul: shapes \(2, 3\) and \(4, 2\) are not aligned: the left operand's last dimension \(3\) must equal "
      r"the right operand's second-to-last dimension \(4\)")),
    (lambda a: a @ Tensor(np.ones(2)), OpError, r"matmul: shapes \(2, 3\) and \(2,\) are not aligned"),
    (lambda a: a + Tensor(np.ones(4)), ValueError,
     r"Add: .*input shapes \(2, 3\) and \(4,\).*broadcasting needs each pair of trailing dimensions to be equal or 1"),
    (lambda a: a * Tensor(np.ones((3, 2))), ValueError, r"Mul: .*input shapes \(2, 3\) and \(3, 2\)"),
    (lambda a: a.reshape(4, 2), OpError, r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    (lambda a: a.sum(axis=2), OpError, r"sum: axis 2 is out of range for a tensor with 2 dimensions"),
    (lambda a: a.amax(axis=(0, -3)), OpError, r"amax: axis -3 is out of range for a tensor with 2 dimensions"),
    (lambda a: a.logsumexp(axis=5), OpError, r"logsumexp: axis 5 is out of range"),
    (lambda a: a.permute(0, 0), OpError, r"transpose: axes \(0, 0\) are not a permutation of a 2-D tensor's axes"),
    (lambda a: a.squeeze(2), OpError, r"squeeze: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda a: a.broadcast_to((3, 3)), OpError, r"broadcast_to: cannot broadcast shape \(2, 3\) to \(3, 3\)"),
    (lambda a: a[5], IndexError, r"getitem: index 5 is invalid for a tensor of shape \(2, 3\)"),
    (lambda a: a.astype("S3"), TypeError, r"astype: expected a numeric or bool dtype, got \|S3"),
    (lambda a: where(np.array([1, 0, 1]), a, 0.0), TypeError, r"where: cond must be a bool tensor or array, got dtype int64"),
])
def test_clear_error_messages(make: object, error: type[Exception], message: str) -> None:
    a = leaf(np.ones((2, 3)))
    with pytest.raises(error, match=message):
        make(a)


def test_bad_data_is_rejected_with_its_dtype() -> None:
    with pytest.raises(TypeError, match="Tensor: expected numeric or bool data, got dtype <U1"):
        Tensor(["a"])
    with pytest.raises(ValueError, match="Tensor: cannot make an array from this data"):
        Tensor([[1.0], [2.0, 3.0]])


# --------------------------------------------------------------------------
# small conveniences
# --------------------------------------------------------------------------


def test_repr() -> None:
    assert repr(Tensor(np.array([1.0, 2.5]))) == "Tensor([1. , 2.5], dtype=float64)"
    assert repr(Tensor([1.0], requires_grad=True, name="w")) == "Tensor([1.], dtype=float32, requires_grad=True, name='w')"
    assert repr(leaf([1.0]) * 2.0) == "Tensor([2.], dtype=float64, grad_fn=Mul)"
    assert repr(Tensor([1, 2])) == "Tensor([1, 2], dtype=int64)"


def test_numpy_conversion_copies_only_when_asked() -> None:
    """np.asarray and .numpy() share the tensor's array; np.array copies it (the __array__ protocol's copy=)."""
    t = Tensor(np.array([1.0, 2.0]))
    assert np.asarray(t) is t.data and t.numpy() is t.data
    copied = np.array(t)
    copied[0] = 99.0
    assert t.data.tolist() == [1.0, 2.0]
    assert np.array(t, dtype=np.float32).dtype == np.float32


def test_truth_value_of_a_one_element_tensor_and_no_other() -> None:
    equal = Tensor([1.0]) == 2.0  # a bool tensor holding False (the case that used to be true)
    assert bool(equal) is False
    assert bool(Tensor(np.array(3.0)) > 2.0) is True
    assert bool(Tensor(np.array(0.0))) is False
    with pytest.raises(ValueError, match=r"bool: the truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(Tensor([1.0, 2.0]) == 2.0)


def test_item() -> None:
    assert Tensor(np.array(3.5)).item() == 3.5
    assert Tensor(np.array([[2.0]])).item() == 2.0
    assert isinstance(Tensor([7]).item(), int)
    with pytest.raises(ValueError, match=r"item: only a tensor with one element can be converted, got shape \(2,\)"):
        Tensor([1.0, 2.0]).item()


@pytest.mark.parametrize("compare, expected", [
    (lambda x: x < 2.0, [True, False, False]), (lambda x: x <= 2.0, [True, True, False]),
    (lambda x: x > 2.0, [False, False, True]), (lambda x: x >= 2.0, [False, True, True]),
    (lambda x: x == 2.0, [False, True, False]), (lambda x: x != 2.0, [True, False, True]),
    (lambda x: x < Tensor([2.0, 2.0, 4.0]), [True, False, True]),
])
def test_comparisons_give_bool_tensors_outside_the_graph(compare: object, expected: list[bool]) -> None:
    out = compare(leaf([1.0, 2.0, 3.0]))
    assert out.dtype == np.bool_ and not out.requires_grad and out.is_leaf
    np.testing.assert_array_equal(out.data, expected)
