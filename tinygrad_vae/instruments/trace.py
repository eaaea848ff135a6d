"""Watch a backward pass step by step.

``trace_backward()`` is a context manager. While it is open, every node the
engine's backward pass processes is recorded, in processing order: which
tensor it is, the op that produced it and that op's inputs, and the gradient
that arrived at it (its shape, its norm, and a copy of its values). Printing
the trace shows the chain rule at work: each line's gradient is the sum of
what the lines above it sent to it through their ops' rules.

    with trace_backward() as trace:
        loss.backward()
    print(trace)

It is an observer of the engine (``core/observers.py``): ``gradient_ready``
is called for every processed node, before the node's rule runs and before its
graph is released.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_vae.core.observers import Observer, attach, detach
from tinygrad_vae.core.tensor import Tensor

if TYPE_CHECKING:  # annotations are not evaluated at run time (PEP 563), so this costs no dependency
    from typing_extensions import Self


def node_names(tensors: Iterable[Tensor]) -> dict[int, str]:
    """A readable name for each tensor, keyed by ``id``, numbered in the order given.

    A tensor's own ``name`` wins; otherwise leaves that require grad are called
    leaf0, leaf1, ..., other leaves const0, const1, ..., and op results after
    their op, lower-cased: mul0, mul1, exp0, ...
    """
    names: dict[int, str] = {}
    counts: dict[str, int] = {}
    for t in tensors:
        if id(t) in names:
            continue
        if t.name:
            names[id(t)] = t.name
            continue
        if t._ctx is not None:
            kind = type(t._ctx).__name__.lower()
        else:
            kind = "leaf" if t.requires_grad else "const"
        names[id(t)] = f"{kind}{counts.get(kind, 0)}"
        counts[kind] = counts.get(kind, 0) + 1
    return names


@dataclass
class BackwardStep:
    """One node of a backward pass, as it was processed."""

    tensor: Tensor
    op: str | None  # the op that produced the tensor; None for a leaf
    inputs: tuple[Tensor, ...]  # that op's inputs (empty for a leaf)
    grad: np.ndarray  # a copy of the gradient that reached the tensor

    @property
    def grad_norm(self) -> float:
        """The Euclidean (Frobenius) norm of the gradient, sqrt(sum g^2)."""
        return float(np.sqrt(np.sum(np.square(self.grad, dtype=np.float64))))


class trace_backward(Observer):
    """Record every node of the backward passes run inside the ``with`` block.

    ``steps`` lists them in processing order; ``grad_of(t)`` gives the
    gradient that reached any tensor of the graph, intermediate ones included
    (which ``.grad`` does not keep); ``str(trace)`` or ``trace.print()`` shows
    the table. Several backward passes in one block append to the same list.
    The trace holds references to the traced tensors (and copies of their
    gradients) for as long as it lives: meant for small graphs, not training.
    """

    def __init__(self) -> None:
        self.steps: list[BackwardStep] = []

    def gradient_ready(self, t: Tensor, grad: Tensor) -> None:
        fn = t._ctx
        op = None if fn is None else type(fn).__name__
        inputs = () if fn is None or fn.inputs is None else tuple(fn.inputs)
        self.steps.append(BackwardStep(t, op, inputs, np.array(grad.data, copy=True)))

    def __enter__(self) -> Self:
        attach(self)
        return self

    def __exit__(self, *exc: object) -> None:
        detach(self)

    def grad_of(self, t: Tensor) -> np.ndarray | None:
        """The (last recorded) gradient that reached ``t``, or None if none did."""
        for step in reversed(self.steps):
            if step.tensor is t:
                return step.grad
        return None

    def names(self) -> dict[int, str]:
        """Names of the traced tensors and their ops' inputs (see ``node_names``), in data-flow order."""
        # Reversed processing order lists inputs before the ops that use them.
        return node_names(t for step in reversed(self.steps) for t in (*step.inputs, step.tensor))

    def format(self) -> str:
        """The trace as a table: one line per processed node."""
        names = self.names()
        rows = []
        for i, step in enumerate(self.steps, 1):
            if step.op is None:
                what = "(leaf)"
            else:
                args = ", ".join(names[id(a)] for a in step.inputs)
                what = f"= {step.op}({args})"
            rows.append((f"{i}.", names[id(step.tensor)], what, str(step.grad.shape), f"{step.grad_norm:.4g}"))
        header = ("step", "node", "computed as", "grad shape", "|grad|")
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def print(self) -> None:
        """Print the table (see ``format``)."""
        print(self.format())
