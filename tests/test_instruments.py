"""The instruments for studying a backward pass: trace_backward, tensor hooks, anomaly mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae import AnomalyError, Tensor, detect_anomaly
from tinygrad_vae.core.observers import ACTIVE
from tinygrad_vae.instruments.trace import node_names, trace_backward


def small_graph() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """loss = sum(exp(x * w) * x): x is used twice, so its gradient has two parts."""
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    w = Tensor(np.array([1.5, 0.25, -0.5]), requires_grad=True, name="w")
    y = (x * w).exp()
    return x, w, y, (y * x).sum()


# --------------------------------------------------------------------------
# trace_backward
# --------------------------------------------------------------------------


def test_trace_lists_nodes_in_processing_order_with_their_gradients() -> None:
    x, w, y, loss = small_graph()
    xw = y._ctx.inputs[0]  # read before backward releases the graph
    with trace_backward() as trace:
        loss.backward()
    names = trace.names()
    assert [names[id(s.tensor)] for s in trace.steps] == ["sum0", "mul1", "exp0", "mul0", "x", "w"]
    assert [s.op for s in trace.steps] == ["Sum", "Mul", "Exp", "Mul", None, None]
    xs, ws = x.data, w.data
    # The chain rule, one node at a time: d loss / d node.
    np.testing.assert_array_equal(trace.grad_of(loss), 1.0)
    np.testing.assert_allclose(trace.grad_of(y), xs, rtol=1e-15)
    np.testing.assert_allclose(trace.grad_of(xw), xs * np.exp(xs * ws), rtol=1e-15)
    np.testing.assert_allclose(trace.grad_of(w), xs * xs * np.exp(xs * ws), rtol=1e-15)
    # x's gradient is the sum of its two uses, and it is what lands in x.grad.
    np.testing.assert_allclose(trace.grad_of(x), np.exp(xs * ws) * (1 + xs * ws), rtol=1e-14)
    np.testing.assert_array_equal(trace.grad_of(x), x.grad.data)
    assert trace.steps[3].grad_norm == pytest.approx(np.linalg.norm(xs * np.exp(xs * ws)), rel=1e-14)


def test_every_node_is_processed_after_all_the_nodes_that_use_it() -> None:
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = a.tanh()
    c = a * b
    d = (b + c).sigmoid() * c
    with trace_backward() as trace:
        d.sum().backward()
    position = {id(s.tensor): i for i, s in enumerate(trace.steps)}
    assert len(position) == len(trace.steps) == 7  # sum, mul, sigmoid, add, mul, tanh, a: each once
    for step in trace.steps:
        for parent in step.inputs:
            assert position[id(parent)] > position[id(step.tensor)]


def test_trace_table_is_readable() -> None:
    _, _, _, loss = small_graph()
    with trace_backward() as trace:
        loss.backward()
    lines = trace.format().splitlines()
    assert lines[0].split() == ["step", "node", "computed", "as", "grad", "shape", "|grad|"]
    assert lines[1].split() == ["1.", "sum0", "=", "Sum(mul1)", "()", "1"]
    assert lines[2].split()[:4] == ["2.", "mul1", "=", "Mul(exp0,"]
    assert lines[-1].split()[:3] == ["6.", "w", "(leaf)"]
    assert str(trace) == trace.format()


def test_trace_names_constants_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    c = Tensor(np.array([3.0, 4.0]))
    with trace_backward() as trace:
        (x * c).sum().backward()
    trace.print()
    assert "Mul(x, const0)" in capsys.readouterr().out


def test_trace_removes_its_observer_even_when_backward_fails() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    before = list(ACTIVE)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"), trace_backward():
        y.backward()
    assert ACTIVE == before


def test_node_names_prefers_tensor_names_and_counts_per_kind() -> None:
    a = Tensor(1.0, requires_grad=True)
    b = Tensor(2.0, requires_grad=True, name="bias")
    c = a * b
    d = c * a
    names = node_names([a, b, c, d, a])
    assert [names[id(t)] for t in (a, b, c, d)] == ["leaf0", "bias", "mul0", "mul1"]


# --------------------------------------------------------------------------
# register_hook
# --------------------------------------------------------------------------


def test_hook_sees_the_accumulated_gradient_of_an_intermediate_tensor() -> None:
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    (y * y + y).sum().backward()  # d/dy = 2y + 1, summed over both uses of y
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], 2 * y.data + 1)
    np.testing.assert_array_equal(x.grad.data, 3 * (2 * y.data + 1))


def test_hook_that_returns_a_tensor_replaces_the_gradient_flowing_on() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: g * 0.0 + 1.0)  # pretend d loss / dy = 1
    (y * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data), rtol=1e-15)


def test_hooks_on_a_leaf_chain_in_order_and_can_be_removed() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    calls = []

    def double(g: Tensor) -> Tensor:
        calls.append("double")
        return g * 2.0

    def record(g: Tensor) -> None:
        calls.append(("record", g.data.tolist()))

    handle = x.register_hook(double)
    x.register_hook(record)
    (x * x).sum().backward()
    assert calls == ["double", ("record", [4.0, 8.0])]
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])

    handle.remove()
    handle.remove()  # a second remove is harmless
    x.grad = None
    calls.clear()
    (x * x).sum().backward()
    assert calls == [("record", [2.0, 4.0])]
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_hook_on_a_tensor_without_grad_is_refused() -> None:
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor that doesn't require grad"):
        Tensor([1.0]).register_hook(lambda g: None)


# --------------------------------------------------------------------------
# detect_anomaly
# --------------------------------------------------------------------------


def _line_of(marker: str) -> int:
    """The line number in this file of the source line containing ``marker``."""
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line and "_line_of" not in line)


def assert_names_op_and_line(message: str, start: str, marker: str, code: str) -> None:
    """The message starts with ``start`` and points at this file's line holding ``marker`` and ``code``."""
    assert message.startswith(start)
    assert f"{Path(__file__).name}:{_line_of(marker)} in " in message
    assert code in message


def test_anomaly_in_forward_names_the_op_shapes_and_line() -> None:
    x = Tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    with detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(AnomalyError) as info:
        x.log()  # FORWARD-ANOMALY
    assert_names_op_and_line(str(info.value), "Log: forward output contains NaN or inf (input shapes (1, 2))",
                             "FORWARD-ANOMALY", "test_anomaly_in_forward_names_the_op_shapes_and_line: x.log()")


def test_anomaly_in_backward_names_the_line_that_created_the_op() -> None:
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    w = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    with detect_anomaly(), np.errstate(divide="ignore"):
        root = (x * w).sqrt()  # BACKWARD-ANOMALY: sqrt'(0) is infinite
        loss = root.sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    assert_names_op_and_line(str(info.value), "Sqrt: backward gradient contains NaN or inf (input shapes (2,))",
                             "BACKWARD-ANOMALY", ": root = (x * w).sqrt()")


def test_anomaly_in_backward_of_an_op_recorded_outside_the_mode_says_so() -> None:
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    loss = x.sqrt().sum()
    expected = "Sqrt: backward gradient .* op created at <outside detect_anomaly>"
    with detect_anomaly(), np.errstate(divide="ignore"), pytest.raises(AnomalyError, match=expected):
        loss.backward()


def test_anomaly_names_user_code_in_a_file_beside_the_package() -> None:
    """A sibling whose name starts like the package's folder (tinygrad_vae_notes.py) is user code too."""
    import tinygrad_vae

    sibling = str(Path(tinygrad_vae.__file__).parent) + "_notes.py"
    code = compile("x.log()\n", sibling, "exec")
    with detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(AnomalyError) as info:
        exec(code, {"x": Tensor(np.array([-1.0]), requires_grad=True)})  # noqa: S102 (our own one line)
    assert f"op created at {sibling}:1 in <module>" in str(info.value)


def test_without_anomaly_mode_nan_passes_silently_and_the_mode_restores() -> None:
    x = Tensor(np.array([-1.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        with detect_anomaly():
            with detect_anomaly():
                pass
            with pytest.raises(AnomalyError):
                x.log()
        assert np.isnan(x.log().data).all()  # the outer mode ended: no error
