"""The one seam through which instruments watch the engine.

An observer is an object with three methods, which the engine calls while it
is in ``ACTIVE``:

- ``op_applied(fn, out)``: an op ran its forward on Tensors (recorded or not);
- ``gradient_ready(tensor, grad)``: the backward pass completed ``tensor``'s
  gradient (after its hooks, before its rule runs); ``grad`` is a Tensor;
- ``rule_returned(fn, grads)``: ``fn``'s gradient rule returned ``grads``,
  one per input (None where no gradient is needed).

Ops that run inside a gradient rule are not reported, so an observer sees the
user's graph. (With ``create_graph=True`` the engine adds up a tensor's gradient
shares with recorded ``Add`` ops, which are reported.) ``instruments/`` holds the
observers this package ships: anomaly mode and the backward trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

ACTIVE: list[Observer] = []


class Observer:
    """Base class with do-nothing methods: override the ones you need, then ``with observing(obj):``."""

    def op_applied(self, fn: Any, out: Any) -> None:
        pass

    def gradient_ready(self, tensor: Any, grad: Any) -> None:
        pass

    def rule_returned(self, fn: Any, grads: Sequence[Any]) -> None:
        pass


def attach(observer: Observer) -> None:
    """Start reporting to ``observer``."""
    ACTIVE.append(observer)


def detach(observer: Observer) -> None:
    """Stop reporting to ``observer``."""
    ACTIVE.remove(observer)


@contextlib.contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Report to ``observer`` inside the ``with`` block."""
    attach(observer)
    try:
        yield observer
    finally:
        detach(observer)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Report nothing inside the block (the engine runs gradient rules in one)."""
    saved = ACTIVE[:]
    ACTIVE.clear()
    try:
        yield
    finally:
        ACTIVE[:] = saved
