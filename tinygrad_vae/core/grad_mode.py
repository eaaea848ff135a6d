"""Whether ops record the graph: ``no_grad``, ``enable_grad`` and ``set_grad_enabled``.

The mode is one flag, global to the process (not per thread). ``Function.apply``
reads it to decide whether to record a node; the engine turns it off while it
runs gradient rules, unless ``create_graph=True`` asks for the backward pass to
be recorded too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

enabled = True  # read by Function.apply and set by the engine; users call the functions below


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default)."""
    return enabled


class set_grad_enabled:
    """Switch graph recording on or off: a context manager and a decorator.

    ``no_grad()`` is ``set_grad_enabled(False)``; ``enable_grad()`` is
    ``set_grad_enabled(True)``.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global enabled
        self._previous.append(enabled)
        enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self._previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Inside ``with no_grad():`` (or a function decorated ``@no_grad()``) nothing is recorded."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` region."""

    def __init__(self) -> None:
        super().__init__(True)
