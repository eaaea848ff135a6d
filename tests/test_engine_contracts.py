"""Contracts of the engine's seams: mixed inputs to apply, a rule's arity, hook results, observers."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_vae import Function, Tensor, nn
from tinygrad_vae.core.observers import Observer, observing
from tinygrad_vae.ops import Mul


def leaf(values: list[float]) -> Tensor:
    return Tensor(np.array(values), requires_grad=True)


# ---- apply with Tensors and arrays mixed ----------------------------------------------


@pytest.mark.parametrize("tensor_first", [True, False])
def test_apply_takes_the_tensor_path_when_any_input_is_a_tensor(tensor_first: bool) -> None:
    x = leaf([1.0, 2.0, 3.0])
    factor = np.array([2.0, -1.0, 0.5])
    y = Mul.apply(x, factor) if tensor_first else Mul.apply(factor, x)
    assert isinstance(y, Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, factor)


def test_apply_on_arrays_alone_gives_an_array() -> None:
    out = Mul.apply(np.array([2.0]), np.array([3.0]))
    assert type(out) is np.ndarray and out.tolist() == [6.0]


def test_apply_lifts_a_python_number_without_upcasting_float32() -> None:
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert Mul.apply(x, 2.0).dtype == np.float32


# ---- what a rule returns ------------------------------------------------------------------


class TooFew(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, grad, out, a, b):  # a deliberately wrong rule
        return (grad * b,)  # forgets b's gradient


class Alone(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return a * 3.0

    def backward(self, grad, out, a):
        return grad * 3.0  # one input: the gradient alone, as torch allows


def test_a_rule_returning_too_few_gradients_names_the_op() -> None:
    x, w = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"TooFew.backward returned 1 gradients for 2 inputs"):
        TooFew.apply(x, w).sum().backward()


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_rule_of_one_input_may_return_its_gradient_alone(create_graph: bool) -> None:
    x = leaf([1.0, 2.0])
    Alone.apply(x).sum().backward(create_graph=create_graph)
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


# ---- hooks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "error", "message"),
    [
        ("oops", TypeError, r"returned a str; expected None, a Tensor or an array of shape \(3,\)"),
        (np.zeros(5), ValueError, r"returned shape \(5,\), dtype float64; expected shape \(3,\) and a float dtype"),
        (np.zeros(3, dtype=np.int64), ValueError, r"returned shape \(3,\), dtype int64"),
    ],
)
def test_a_hook_returning_something_that_is_no_gradient_names_its_tensor(
    returned: object, error: type[Exception], message: str
) -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    y.name = "doubled"
    y.register_hook(lambda g: returned)
    with pytest.raises(error, match=r"register_hook: the hook <lambda> on tensor doubled of shape \(3,\) " + message):
        y.sum().backward()


def test_a_hook_may_return_an_array_of_the_right_shape() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    y.register_hook(lambda g: np.ones(3, dtype=np.float32))  # cast to the tensor's dtype
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


# ---- observers ----------------------------------------------------------------------------


class Recorder(Observer):
    def __init__(self) -> None:
        self.applied: list[str] = []
        self.ready: list[Tensor] = []
        self.returned: list[str] = []

    def op_applied(self, fn: Function, out: Tensor) -> None:
        self.applied.append(type(fn).__name__)

    def gradient_ready(self, tensor: Tensor, grad: Tensor) -> None:
        self.ready.append(tensor)

    def rule_returned(self, fn: Function, grads: object) -> None:
        self.returned.append(type(fn).__name__)


def test_an_observer_sees_the_users_graph_but_not_the_ops_inside_rules() -> None:
    x = leaf([0.5, 1.5])
    with observing(Recorder()) as recorder:
        y = (x.exp() * x).sum()
        y.backward(create_graph=True)  # the rules run recorded ops, which the observer is not told of
    assert recorder.applied == ["Exp", "Mul", "Sum", "Add"]  # Add: x's two gradient shares summed
    assert recorder.returned == ["Sum", "Mul", "Exp"]
    assert recorder.ready[0] is y and recorder.ready[-1] is x
    seen = len(recorder.applied)
    x.exp()  # outside the block: the recorder is detached
    assert len(recorder.applied) == seen


# ---- modules ------------------------------------------------------------------------------


def test_named_parameters_of_a_submodule_leave_the_parents_names_alone() -> None:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = nn.Sequential(nn.Linear(2, 3), nn.ReLU())

    model = Model()
    assert [name for name, _ in model.decoder.named_parameters()] == ["0.weight", "0.bias"]
    assert model.decoder[0].weight.name == "decoder.0.weight"
    assert [name for name, _ in model.named_parameters()] == ["decoder.0.weight", "decoder.0.bias"]


# ---- mixed dtypes ---------------------------------------------------------------------------


def test_constants_take_the_tensors_float_dtype() -> None:
    """Numbers and NumPy arrays are constants: they neither upcast float32 nor downcast float64."""
    x32 = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for constant in (2.0, np.float64(2.0), np.full(3, 2.0), [2.0, 2.0, 2.0]):
        y = x32 * constant
        assert y.dtype == np.float32
        y.sum().backward()
        assert x32.grad.dtype == np.float32
        x32.grad = None
    x64 = Tensor(np.ones(3), requires_grad=True)
    assert (x64 * np.full(3, 2.0, dtype=np.float32)).dtype == np.float64


def test_elementwise_ops_promote_float32_with_float64_as_torch() -> None:
    x32 = Tensor(np.full(2, 1.5, dtype=np.float32), requires_grad=True)
    x64 = Tensor(np.full(2, 2.0), requires_grad=True)
    y = x32 * x64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad.data, [2.0, 2.0])


@pytest.mark.parametrize("left, right", [(np.float32, np.float64), (np.float64, np.float32)])
def test_products_refuse_mixed_float_dtypes_as_torch(left: type, right: type) -> None:
    a, b = Tensor(np.ones((2, 3), dtype=left)), Tensor(np.ones((3, 4), dtype=right))
    with pytest.raises(ValueError, match=rf"MatMul: operands of different float dtypes \({np.dtype(left)}\[2, 3\], "
                                         rf"{np.dtype(right)}\[3, 4\]\); cast one first"):
        a @ b


def test_a_float32_model_refuses_float64_input() -> None:
    layer = nn.Linear(3, 2)
    assert layer.weight.dtype == np.float32
    with pytest.raises(ValueError, match=r"Affine: operands of different float dtypes \(float64\[5, 3\], float32"):
        layer(Tensor(np.ones((5, 3))))
    assert layer(Tensor(np.ones((5, 3))).float()).dtype == np.float32


def test_double_float_and_to() -> None:
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert x.float() is x and x.to(np.float32) is x and x.to("cpu") is x
    y = x.double()
    assert y.dtype == np.float64 and x.to("float64").dtype == np.float64
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    with pytest.raises(TypeError, match="to: tensors live in NumPy on the CPU; got device or dtype 'cuda'"):
        x.to("cuda")
