"""Argument checks shared by every layer, each raising an error that names the caller and the value.

``where`` is the name of the function or class doing the check, so a message
reads ``Trainer: batch_size must be a positive int, got 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """An int or NumPy integer, but not a bool (``True`` is no batch size)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value: Any, name: str, where: str, low: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an int >= ``low`` (None passes when ``allow_none``), or a ValueError naming it."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value < low:
        wanted = "a positive int" if low == 1 else "a non-negative int" if low == 0 else f"an int >= {low}"
        raise ValueError(f"{where}: {name} must be {wanted}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def check_generator(rng: Any, where: str, name: str = "rng", required: bool = False) -> np.random.Generator:
    """``rng`` if it is a ``numpy.random.Generator``; None gives a fresh, unseeded one (an error if
    ``required``); anything else is a TypeError naming ``where`` and the argument ``name``."""
    if rng is None and required:
        raise TypeError(f"{where}: needs a generator: pass {name}=np.random.default_rng(seed) "
                        f"(there is no global random state)")
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        alternatives = "" if required else " or None"
        raise TypeError(f"{where}: {name} must be a numpy.random.Generator{alternatives}, got {type(rng).__name__}")
    return rng
