"""Every op of the catalogues is traceable: compiled, its forward and its gradients equal eager's.

Each row is traced on one drawn input and replayed on the same input moved by a relative 1e-7 (still
inside the row's domain, whose margins are far larger), so a value frozen into the program would show
as a difference of about 1e-7 where eager and the replay must agree to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_catalogue import OpCase, tensors_of

import tinygrad_vae as tv
from tinygrad_vae import Tensor, gradients

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
