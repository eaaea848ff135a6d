"""Random programs: DAGs of ops with reused sub-expressions and fan-out, checked end to end.

Single-op tests cannot catch mistakes in the engine itself: gradients that
must add up where one tensor feeds several ops, a topological order that
processes a node before all its consumers have reported, a graph freed too
early. ``expression_graphs()`` draws whole programs in which nodes are read
many times, and their gradients are checked against finite differences.
"""

from __future__ import annotations

import numpy as np
from hypothesis import find, given

from tinygrad_vae import Tensor, gradcheck, gradgradcheck, gradients
from tinygrad_vae.testing import ExpressionGraph, expression_graphs


def _reads(graph: ExpressionGraph) -> list[int]:
    """How many times each node is read by later steps."""
    counts = [0] * (len(graph.inputs) + len(graph.steps))
    for _, operands in graph.steps:
        for i in operands:
            counts[i] += 1
    return counts


@given(expression_graphs())
def test_forward_matches_numpy(graph: ExpressionGraph) -> None:
    out = graph(*(Tensor(x) for x in graph.inputs))
    np.testing.assert_allclose(out.data, graph.numpy(*graph.inputs), rtol=1e-12, atol=1e-12)


@given(expression_graphs(max_steps=10))
def test_first_derivatives(graph: ExpressionGraph) -> None:
    assert gradcheck(graph, graph.inputs)


@given(expression_graphs(max_steps=6))
def test_second_derivatives(graph: ExpressionGraph) -> None:
    assert gradgradcheck(graph, graph.inputs)


@given(expression_graphs(max_steps=10))
def test_backward_and_gradients_agree_and_backward_accumulates(graph: ExpressionGraph) -> None:
    """``.backward`` into ``.grad`` and ``gradients()`` are two ways to the same numbers; a second
    backward over a freshly built graph adds the same amount again."""
    xs = [Tensor(x, requires_grad=True) for x in graph.inputs]
    seed = np.ones(graph.numpy(*graph.inputs).shape)
    expected = gradients(graph(*xs), xs, grad_output=seed)
    assert all(x.grad is None for x in xs)
    for _ in range(2):
        graph(*xs).backward(seed)
    for x, g in zip(xs, expected):
        np.testing.assert_allclose(x.grad.data, 2.0 * g.data, rtol=1e-12, atol=1e-12)


def test_graphs_have_fan_out_and_reuse() -> None:
    """The strategy does draw what these tests are for: a node read three times, and an op reading one node twice."""
    fan_out = find(expression_graphs(), lambda g: max(_reads(g)) >= 3)
    assert max(_reads(fan_out)) >= 3
    reuse = find(expression_graphs(), lambda g: any(len(ops) == 2 and ops[0] == ops[1] for _, ops in g.steps))
    assert any(ops[0] == ops[1] for _, ops in reuse.steps if len(ops) == 2)


def test_a_diamond_with_shared_nodes_by_hand() -> None:
    """b = a + a; c = b * b; d = c + b: dd/da = (2b + 1) * 2 = 8a + 2."""
    a = Tensor(np.array([0.5, -2.0]), requires_grad=True)
    b = a + a
    c = b * b
    (c + b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, 8.0 * a.data + 2.0)
