"""The strategies of ``tinygrad_vae.testing`` keep their promises (margins, ranges, broadcasting)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import tinygrad_vae.testing.strategies
from tinygrad_vae.testing import (
    arrays,
    away_from,
    away_from_zero,
    broadcastable_shapes,
    distinct_arrays,
    positive_arrays,
    shapes,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]  # so the subprocesses import this checkout


@given(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_their_bounds(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 3 and all(2 <= n <= 4 for n in shape)


@given(st.integers(1, 4).flatmap(lambda n: broadcastable_shapes(n=n, max_dims=3, max_side=4)))
def test_broadcastable_shapes_broadcast(shape_list: tuple[tuple[int, ...], ...]) -> None:
    np.broadcast_shapes(*shape_list)  # raises ValueError if they do not
    assert all(len(s) <= 3 and all(1 <= n <= 4 for n in s) for s in shape_list)


def _missing_axes(pair: tuple[tuple[int, ...], ...]) -> bool:
    return any(len(s) < len(np.broadcast_shapes(*pair)) for s in pair)


def _stretched_axes(pair: tuple[tuple[int, ...], ...]) -> bool:
    full = np.broadcast_shapes(*pair)
    return any(n == 1 and m > 1 for s in pair for n, m in zip(s[::-1], full[::-1]))


@pytest.mark.parametrize("kind", [_missing_axes, _stretched_axes])
def test_broadcastable_shapes_include_stretched_and_missing_axes(kind: object) -> None:
    assert kind(find(broadcastable_shapes(n=2), kind))


@given(arrays(shapes(), low=-2.0, high=0.5))
def test_arrays_are_float64_in_range(x: np.ndarray) -> None:
    assert x.dtype == np.float64 and np.all((-2.0 <= x) & (x <= 0.5))


@given(st.lists(st.floats(-2, 2), min_size=1, max_size=3).flatmap(
    lambda points: st.tuples(st.just(points), away_from((5,), points, margin=0.25, low=-3.0, high=3.0))))
def test_away_from_keeps_its_margin_inside_the_range(case: tuple[list[float], np.ndarray]) -> None:
    points, x = case
    assert np.all((-3.0 <= x) & (x <= 3.0))
    assert np.all(np.abs(x[:, None] - np.asarray(points)[None, :]) >= 0.25 - 1e-12)


@given(away_from_zero((4, 3), margin=0.2, high=1.0))
def test_away_from_zero(x: np.ndarray) -> None:
    assert np.all((0.2 - 1e-12 <= np.abs(x)) & (np.abs(x) <= 1.0))


@given(positive_arrays((6,), low=0.5, high=2.0))
def test_positive_arrays(x: np.ndarray) -> None:
    assert np.all((0.5 <= x) & (x <= 2.0))


@given(distinct_arrays(shapes(max_side=4), margin=0.03, low=-1.0, high=4.0))  # 83 slots >= 4**3
def test_distinct_arrays_are_pairwise_separated(x: np.ndarray) -> None:
    flat = np.sort(x.ravel())
    assert np.all(np.diff(flat) >= 0.03 - 1e-12)
    assert np.all((-1.0 <= flat) & (flat <= 4.0))


def test_impossible_requests_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"distinct_arrays: 100 values 0.1 apart do not fit in \[0.0, 1.0\]"):
        find(distinct_arrays((100,), margin=0.1, low=0.0, high=1.0), lambda x: True)
    with pytest.raises(ValueError, match=r"away_from: \[0.0, 1.0\] is too narrow to keep 0.5 from 2 points"):
        away_from((2,), [0.2, 0.8], margin=0.5, low=0.0, high=1.0)
    with pytest.raises(ValueError, match=r"positive_arrays: low must be > 0, got 0.0"):
        positive_arrays((2,), low=0.0)
    with pytest.raises(ValueError, match=r"arrays: need low <= high, got low=1.0, high=0.0"):
        arrays((2,), 1.0, 0.0)


def test_missing_hypothesis_gives_an_import_error_naming_the_test_extra() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; from tinygrad_vae.testing import arrays"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode != 0
    assert "ImportError: tinygrad_vae.testing's strategies need Hypothesis" in result.stderr
    assert "pip install 'tinygrad_vae[test]'" in result.stderr


def test_the_engine_and_gradcheck_import_without_hypothesis() -> None:
    code = ("import sys; sys.modules['hypothesis'] = None; import tinygrad_vae; "
            "from tinygrad_vae.testing import gradcheck; print(tinygrad_vae.Tensor([1.0]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_the_module_docstring_examples_run() -> None:
    """The usage examples in ``tinygrad_vae.testing.strategies`` are real code: run them and their tests."""
    blocks = re.findall(r"::\n\n((?:    .*\n|\n)+)", tinygrad_vae.testing.strategies.__doc__)
    assert len(blocks) == 2
    namespace: dict[str, object] = {}
    exec("\n".join(textwrap.dedent(b) for b in blocks), namespace)  # noqa: S102 (our own docstring)
    namespace["test_cube"]()
    namespace["test_engine"]()
