"""The hooks through which library code cooperates with a trace of ``tinygrad_vae.compile``.

Outside a trace each hook does the plain thing after one ``is None`` test. While a step is being
traced, ``ACTIVE`` is the tracer (``tinygrad_vae.compiler.tracer.Tracer``), and the hooks let it see
what it could not see from the arrays alone:

- ``draw(generator, method, *args, **kwargs)``: a random draw, ``generator.<method>(*args, **kwargs)``.
  The trace records it as a side effect, so every replay draws fresh numbers from the same Generator
  in the same order as eager code would.
- ``bind_state(container, owner)``: the dict ``container`` holds state that lives across steps (an
  optimizer's per-parameter buffers and step counters, its hyperparameters). Its arrays and numbers
  become inputs of the program, and whatever the step leaves in it becomes an output.
- ``guard_attributes(obj, *names)``: the step read these attributes as Python values; a change of one of
  them makes the compiled step trace again.
- ``is_traced(x)``: whether ``x`` is an array of the trace (so that library code can pass it on as it is).
- ``any_of(mask)``: ``mask.any()`` for a fast path; always True during a trace, where the general path runs.
- ``fail_if(mask, error, *values)``: a check of input values that every replay runs again.
- ``opaque(fn, *args, **kwargs)``: a NumPy computation the tracer cannot look into (``as_strided``
  converts its argument with ``np.asarray``), recorded as one operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTIVE: Any = None  # the Tracer of the trace in progress, or None


def draw(generator: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``generator.<method>(*args, **kwargs)``, recorded as a draw when a trace is active."""
    if ACTIVE is None:
        return getattr(generator, method)(*args, **kwargs)
    return ACTIVE.draw(generator, method, args, kwargs)


def bind_state(container: dict, owner: Any = None) -> None:
    """Declare ``container`` state that lives across steps (``owner``, such as a parameter, names it)."""
    if ACTIVE is not None:
        ACTIVE.bind_dict(container, owner)


def guard_attributes(obj: Any, *names: str) -> None:
    """The step depends on these attributes of ``obj`` (Python numbers and flags such as a VAE's ``beta``):
    a compiled step is traced again when one of them changes, instead of replaying the old value."""
    if ACTIVE is not None:
        ACTIVE.guard_attributes(obj, names)


def is_traced(x: Any) -> bool:
    """True for an array that stands for a value of the trace in progress."""
    return ACTIVE is not None and ACTIVE.is_traced(x)


def any_of(mask: Any) -> bool:
    """``mask.any()`` for a fast path that skips work when nothing is set. During a trace the answer may
    change between replays, so it is True there: the caller takes its general path, right for every value."""
    if ACTIVE is not None and ACTIVE.is_traced(mask):
        return True
    return bool(mask.any())


def fail_if(mask: Any, error: Callable[..., Exception], *values: Any) -> None:
    """Raise ``error(*values)`` if any element of ``mask`` is set: a check of input values, which a compiled
    step records and runs on every replay (``values``, arrays the message shows, are then the replay's)."""
    if ACTIVE is not None and ACTIVE.is_traced(mask):
        ACTIVE.fail_if(mask, error, values)
    elif mask.any():
        raise error(*values)


def opaque(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, recorded as ONE operation by a trace, which replays the call itself.

    For NumPy code that a trace cannot follow call by call (``as_strided`` calls ``np.asarray`` on its
    argument; in-place writes into a fresh array). ``fn`` runs on plain arrays and must depend on its
    arguments only (their layout too, such as strides: it reads them again at each replay).
    """
    if ACTIVE is None:
        return fn(*args, **kwargs)
    return ACTIVE.opaque(fn, args, kwargs)
