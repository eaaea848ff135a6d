"""Every op of the catalogues is traceable: compiled, its forward and its gradients equal eager's.

Each row is traced on one drawn input and replayed on the same input moved by a relative 1e-7 (still
inside the row's domain, whose margins are far larger), so a value frozen into the program would show
as a difference of about 1e-7 where eager and the replay must agree to 1e-12. The conv and pooling ops,
whose configurations test_conv.py draws, are replayed on other values altogether (for max_pool2d another
order of the values, so that the maxima move).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_catalogue import OpCase, tensors_of
from test_conv import conv_arrays, conv_configs, conv_of, conv_transpose_of, pool_configs, separated

import tinygrad_vae as tv
from tinygrad_vae import Tensor, gradients
from tinygrad_vae.nn import functional as F

CATALOGUE_MODULES = ["test_ops_activations", "test_ops_creation", "test_ops_gradients", "test_ops_indexing",
                     "test_ops_linalg", "test_ops_math", "test_ops_reductions", "test_ops_scans", "test_ops_shape",
                     "test_nn_losses"]


def _rows() -> list:
    import importlib

    rows = []
    for name in CATALOGUE_MODULES:
        for case in importlib.import_module(name).CATALOGUE:
            rows.append(pytest.param(case, id=f"{name.removeprefix('test_')}.{case.name}"))
    return rows


@pytest.mark.parametrize("case", _rows())
@settings(max_examples=2)
@given(data=st.data())
def test_every_op_compiles_and_replays_as_eager(case: OpCase, data: st.DataObject) -> None:
    call = data.draw(case.inputs, label="inputs")
    # Integer and bool params (indices, masks) are constants of the program; float ones (class weights, additive
    # masks) are arguments, since the trace refuses float arrays it does not see.
    floats = [k for k, v in call.params.items() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim]
    constants = {k: v for k, v in call.params.items() if k not in floats}
    n = len(call.arrays)

    def f(*args: object) -> tuple:
        tensors = list(args[:n])
        out = case.fn(*tensors, **constants, **dict(zip(floats, args[n:])))
        return out, gradients(out.sum(), tensors, allow_unused=True, materialize_grads=True)

    compiled = tv.compile(f)
    extra = [call.params[k] for k in floats]
    compiled(*tensors_of(call), *extra)
    moved = [a * (1.0 + 1e-7) for a in call.arrays]
    replayed = compiled(*(Tensor(a, requires_grad=True) for a in moved), *extra)
    eager = f(*(Tensor(a, requires_grad=True) for a in moved), *extra)
    assert len(compiled.entries) == 1
    np.testing.assert_allclose(replayed[0].data, eager[0].data, rtol=1e-12, atol=1e-12)
    for mine, reference in zip(replayed[1], eager[1]):
        np.testing.assert_allclose(mine.data, reference.data, rtol=1e-12, atol=1e-12)


FEW = settings(max_examples=3)


def replays_as_eager(fn: Callable[..., Any], traced: list[np.ndarray], replayed: list[np.ndarray]) -> None:
    """``fn``'s outputs and the gradients of a weighted sum of its first one, compiled (traced on ``traced``,
    replayed on ``replayed``) against eager on ``replayed``."""
    def f(weights: Tensor, *xs: Tensor) -> tuple:
        outs = fn(*xs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return outs, gradients((outs[0] * weights).sum(), xs)

    compiled = tv.compile(f)
    first = fn(*(Tensor(a, requires_grad=True) for a in traced))
    shape = (first[0] if isinstance(first, tuple) else first).shape
    weights = [np.random.default_rng(k).standard_normal(shape) for k in range(2)]
    compiled(Tensor(weights[0]), *(Tensor(a, requires_grad=True) for a in traced))
    mine = compiled(Tensor(weights[1]), *(Tensor(a, requires_grad=True) for a in replayed))
    eager = f(Tensor(weights[1]), *(Tensor(a, requires_grad=True) for a in replayed))
    assert len(compiled.entries) == 1
    for got, expected in zip(mine[0] + mine[1], eager[0] + eager[1]):
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got.data, expected.data, rtol=1e-12, atol=1e-12)


def _other(arrays: list[np.ndarray]) -> list[np.ndarray]:
    return [np.random.default_rng(99).standard_normal(a.shape) for a in arrays]


@FEW
@given(conv_configs())
def test_conv2d_compiled_equals_eager(c: dict[str, Any]) -> None:
    arrays = conv_arrays(c)
    replays_as_eager(conv_of(c), arrays, _other(arrays))


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose2d_compiled_equals_eager(c: dict[str, Any]) -> None:
    arrays = conv_arrays(c, transposed=True)
    replays_as_eager(conv_transpose_of(c), arrays, _other(arrays))


def test_conv1d_and_second_derivatives_of_conv2d_compiled_equal_eager() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)]
    replays_as_eager(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), arrays,
                     _other(arrays))

    def input_gradient_norm(x: Tensor, w: Tensor) -> Tensor:  # differentiated again by replays_as_eager
        out = F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        (gx,) = gradients((out * out).sum(), [x], create_graph=True)
        return gx * gx

    arrays = [rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 2, 2, 3))]
    replays_as_eager(input_gradient_norm, arrays, _other(arrays))


@FEW
@given(pool_configs())
def test_max_pool2d_with_indices_compiled_equals_eager(c: dict[str, Any]) -> None:
    shape = (2, 2, *c["size"])
    replays_as_eager(lambda x: F.max_pool2d(x, c["kernel"], c["stride"], c["padding"], dilation=(1, 2)
                                            if c["size"][1] > 2 * c["kernel"][1] else 1, return_indices=True),
                     [separated(shape, c["seed"])], [separated(shape, c["seed"] + 1)])


@pytest.mark.parametrize("options", [{"padding": 1}, {"padding": 1, "count_include_pad": False},
                                     {"stride": 1, "divisor_override": 3}])
def test_avg_pool2d_compiled_equals_eager(options: dict[str, Any]) -> None:
    arrays = [np.random.default_rng(1).standard_normal((2, 3, 5, 4))]
    replays_as_eager(lambda x: F.avg_pool2d(x, (3, 2), **options), arrays, _other(arrays))


@pytest.mark.parametrize("options", [{"scale_factor": 2}, {"size": (5, 3)}, {"scale_factor": (1.5, 0.7)}])
def test_interpolate_compiled_equals_eager(options: dict[str, Any]) -> None:
    arrays = [np.random.default_rng(2).standard_normal((2, 3, 4, 4))]
    replays_as_eager(lambda x: F.interpolate(x, **options), arrays, _other(arrays))
