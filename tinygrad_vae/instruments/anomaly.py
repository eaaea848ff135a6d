"""Anomaly mode: stop at the first op whose forward output or backward gradient holds NaN or inf.

``detect_anomaly`` is an observer (``core/observers.py``): while it is open it
notes, for every op, the line of user code that created it, and checks every
forward output and every gradient a rule returns. The error names the op, its
input shapes and that line. Checking every op costs time: use it to debug, not
to train.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.observers import Observer, attach, detach
from tinygrad_vae.core.tensor import Tensor

# With the separator, so that a sibling such as tinygrad_vae_notes.py does not count as inside.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class AnomalyError(FloatingPointError):
    """Raised in anomaly mode when an op produces NaN or inf."""


def _user_frame() -> str:
    """The innermost stack frame outside this package, as 'file:line in func: code'."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def _check_finite(fn: Any, value: Any, what: str) -> None:
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        shapes = ", ".join(str(t.shape) for t in fn.inputs or ())
        raise AnomalyError(
            f"{type(fn).__name__}: {what} contains NaN or inf (input shapes {shapes}); "
            f"op created at {getattr(fn, 'created_at', '<outside detect_anomaly>')}"
        )


class detect_anomaly(Observer):
    """Raise at the first op whose forward output or backward gradient holds NaN or inf (a context manager)."""

    def __enter__(self) -> detect_anomaly:  # noqa: PYI034 (no subclasses: typing.Self needs Python 3.11)
        attach(self)
        return self

    def __exit__(self, *exc: object) -> None:
        detach(self)

    def op_applied(self, fn: Any, out: Any) -> None:
        fn.created_at = _user_frame()
        _check_finite(fn, out, "forward output")

    def rule_returned(self, fn: Any, grads: Sequence[Any]) -> None:
        for g in grads:
            if g is not None:
                _check_finite(fn, g, "backward gradient")
