"""Checking gradients: ``gradcheck``/``gradgradcheck`` against finite differences, and Hypothesis strategies.

    gradcheck.py   gradcheck, gradgradcheck, GradcheckError (NumPy only)
    strategies.py  shapes, arrays, away_from_zero, ..., expression_graphs (needs Hypothesis, the 'test' extra)

The strategies are importable from here (``from tinygrad_vae.testing import arrays``);
Hypothesis is imported only when one of them is first asked for.
"""

from typing import Any

from tinygrad_vae.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck

_STRATEGIES = (
    "ExpressionGraph", "arrays", "away_from", "away_from_zero", "broadcastable_shapes", "distinct_arrays",
    "expression_graphs", "positive_arrays", "shapes",
)

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", *_STRATEGIES]


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES:
        from tinygrad_vae.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'tinygrad_vae.testing' has no attribute {name!r}")
