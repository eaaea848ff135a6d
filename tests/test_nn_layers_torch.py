"""The non-convolution layers against torch in float64: values, gradients, running statistics, reprs.

Skipped when torch is not installed. Each case builds the same layer in both libraries (the
same weights copied over), runs the same inputs and compares the outputs and the gradients of
a random projection of the output with respect to the input and every parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_vae import Tensor, nn
from tinygrad_vae.nn import functional as F
from tinygrad_vae.testing import arrays, away_from_zero

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-12}
ODD = st.sampled_from([1, 3, 5])


def t(x: np.ndarray, grad: bool = False) -> Any:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def copy_parameters(ours: nn.Module, theirs: Any) -> None:
    """Our parameters' values into torch's module (same names, same layouts)."""
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(dict(ours.named_parameters())[name].data))


def compare_forward_backward(ours: nn.Module, theirs: Any, x: np.ndarray, seed: int = 0) -> None:
    """Outputs equal, and the gradients of <output, v> for a random v, for the input and each parameter."""
    ours.zero_grad()
    theirs.zero_grad()
    xo, xt = Tensor(x, requires_grad=True), t(x, grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
    v = np.random.default_rng(seed).standard_normal(yo.shape)
    (yo * v).sum().backward()
    (yt * t(v)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOL)
    theirs_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), **TOL, err_msg=name)


# --------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------


@settings(max_examples=15)
@given(data=st.data(), batch=st.lists(ODD, max_size=2).map(tuple),
       shape=st.lists(st.sampled_from([2, 3, 5]), min_size=1, max_size=2).map(tuple),
       affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 0.1]))
def test_layer_norm(data: st.DataObject, batch: tuple, shape: tuple, affine: bool, bias: bool, eps: float) -> None:
    ours = nn.LayerNorm(shape, eps=eps, elementwise_affine=affine, bias=bias, dtype=np.float64)
    theirs = torch.nn.LayerNorm(shape, eps=eps, elementwise_affine=affine, bias=bias, dtype=torch.float64)
    for p in ours.parameters():
        p.data[...] = data.draw(arrays(p.shape))
    copy_parameters(ours, theirs)
    compare_forward_backward(ours, theirs, data.draw(arrays(batch + shape)))
    assert repr(ours) == repr(theirs)


# --------------------------------------------------------------------------
# BatchNorm
# --------------------------------------------------------------------------

BN_CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 2, 5)),
]


@pytest.mark.parametrize("ours_cls, theirs_cls, shape", BN_CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("affine, track", [(True, True), (False, True), (True, False)])
def test_batch_norm_over_training_steps_then_eval(ours_cls: Any, theirs_cls: Any, shape: tuple,
                                                  momentum: float | None, affine: bool, track: bool) -> None:
    rng = np.random.default_rng(0)
    kwargs = {"eps": 1e-3, "momentum": momentum, "affine": affine, "track_running_stats": track}
    ours = ours_cls(shape[1], dtype=np.float64, **kwargs)
    theirs = theirs_cls(shape[1], dtype=torch.float64, **kwargs)
    for p in ours.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    copy_parameters(ours, theirs)
    for step in range(5):
        compare_forward_backward(ours, theirs, rng.normal(1.0, 2.0, shape), seed=step)
        ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
        assert list(ours_state) == list(theirs_state)
        for key, value in theirs_state.items():
            np.testing.assert_allclose(ours_state[key], value.numpy(), **TOL, err_msg=key)
    ours.eval()
    theirs.eval()
    compare_forward_backward(ours, theirs, rng.normal(1.0, 2.0, shape), seed=9)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_updates_the_given_statistics(training: bool) -> None:
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    ours_mean, ours_var, theirs_mean, theirs_var = mean.copy(), var.copy(), t(mean), t(var)
    ours = F.batch_norm(Tensor(x), ours_mean, ours_var, Tensor(w), Tensor(b), training, 0.2, 1e-4)
    theirs = torch.nn.functional.batch_norm(t(x), theirs_mean, theirs_var, t(w), t(b), training, 0.2, 1e-4)
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TOL)
    np.testing.assert_allclose(ours_mean, theirs_mean.numpy(), **TOL)
    np.testing.assert_allclose(ours_var, theirs_var.numpy(), **TOL)


# --------------------------------------------------------------------------
# Embedding and Dropout
# --------------------------------------------------------------------------


@settings(max_examples=15)
@given(data=st.data(), n=st.integers(1, 6), dim=ODD, padding=st.one_of(st.none(), st.integers(-1, 0)))
def test_embedding(data: st.DataObject, n: int, dim: int, padding: int | None) -> None:
    index = np.array(data.draw(st.lists(st.lists(st.integers(0, n - 1), min_size=2, max_size=2), min_size=1,
                                        max_size=4)))
    ours = nn.Embedding(n, dim, padding_idx=padding, generator=np.random.default_rng(0), dtype=np.float64)
    theirs = torch.nn.Embedding(n, dim, padding_idx=padding, dtype=torch.float64)
    copy_parameters(ours, theirs)
    yo, yt = ours(index), theirs(torch.from_numpy(index))
    np.testing.assert_array_equal(yo.data, yt.detach().numpy())
    v = np.random.default_rng(1).standard_normal(yo.shape)
    (yo * v).sum().backward()
    (yt * t(v)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), **TOL)
    assert repr(ours) == repr(theirs)


def test_embedding_padding_row_starts_at_zero_in_both() -> None:
    theirs = torch.nn.Embedding(4, 3, padding_idx=2)
    ours = nn.Embedding(4, 3, padding_idx=2, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(ours.weight.data[2], theirs.weight.detach().numpy()[2])


def test_dropout_edge_cases_and_eval_agree_with_torch() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    rng = np.random.default_rng(0)
    for p in (0.0, 1.0):
        np.testing.assert_array_equal(F.dropout(Tensor(x), p, generator=rng).data,
                                      torch.nn.functional.dropout(t(x), p).numpy())
    ours, theirs = nn.Dropout(0.3, generator=rng).eval(), torch.nn.Dropout(0.3).eval()
    np.testing.assert_array_equal(ours(Tensor(x)).data, theirs(t(x)).numpy())
    assert repr(ours) == repr(theirs)


def test_dropout_keeps_and_scales_as_torch_does() -> None:
    """The same statistics: the kept fraction near 1 - p, and the kept values x / (1 - p)."""
    x = np.ones((300, 100))
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(0.25)(t(x)).numpy()
    ours = nn.Dropout(0.25, generator=np.random.default_rng(0))(Tensor(x)).data
    assert abs((ours != 0).mean() - (theirs != 0).mean()) < 0.01
    np.testing.assert_allclose(np.unique(ours[ours != 0]), np.unique(theirs[theirs != 0]), rtol=1e-15)


# --------------------------------------------------------------------------
# activation modules
# --------------------------------------------------------------------------

ACTIVATIONS = [
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.ELU(), torch.nn.ELU()),
    (nn.ELU(0.3), torch.nn.ELU(0.3)),
    (nn.SiLU(), torch.nn.SiLU()),
    (nn.Softplus(), torch.nn.Softplus()),
    (nn.Softplus(beta=2.0, threshold=1.0), torch.nn.Softplus(beta=2.0, threshold=1.0)),
    (nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
    (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
    (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
]


@pytest.mark.parametrize("ours, theirs", ACTIVATIONS, ids=[repr(a) for a, _ in ACTIVATIONS])
@settings(max_examples=10)
@given(data=st.data())
def test_activation_modules(ours: nn.Module, theirs: Any, data: st.DataObject) -> None:
    x = data.draw(away_from_zero(st.tuples(ODD, ODD, ODD), margin=0.05, high=4.0))
    compare_forward_backward(ours, theirs, x)
    assert repr(ours) == repr(theirs)


# --------------------------------------------------------------------------
# loss modules
# --------------------------------------------------------------------------

RNG = np.random.default_rng(5)
LOGITS = RNG.standard_normal((4, 3))
PROBS = RNG.uniform(0.05, 0.95, (4, 3))
VALUES = RNG.uniform(0.0, 1.0, (4, 3))
CLASSES = np.array([2, 0, 1, 2])
WEIGHT = np.array([0.5, 1.0, 2.0])
LOG_PROBS = LOGITS - np.log(np.exp(LOGITS).sum(1, keepdims=True))

# (our module, torch's module, input, target)
LOSSES = [
    (nn.MSELoss(), torch.nn.MSELoss(), LOGITS, VALUES),
    (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none"), LOGITS, VALUES),
    (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), LOGITS, VALUES),
    (nn.NLLLoss(), torch.nn.NLLLoss(), LOG_PROBS, CLASSES),
    (nn.NLLLoss(WEIGHT, ignore_index=1), torch.nn.NLLLoss(torch.tensor(WEIGHT), ignore_index=1), LOG_PROBS, CLASSES),
    (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), LOGITS, CLASSES),
    (nn.CrossEntropyLoss(WEIGHT, label_smoothing=0.2, reduction="sum"),
     torch.nn.CrossEntropyLoss(torch.tensor(WEIGHT), label_smoothing=0.2, reduction="sum"), LOGITS, CLASSES),
    (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), LOGITS, PROBS / PROBS.sum(1, keepdims=True)),
    (nn.BCELoss(), torch.nn.BCELoss(), PROBS, VALUES),
    (nn.BCELoss(WEIGHT, reduction="sum"), torch.nn.BCELoss(torch.tensor(WEIGHT), reduction="sum"), PROBS, VALUES),
    (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), LOGITS, VALUES),
    (nn.BCEWithLogitsLoss(WEIGHT, pos_weight=WEIGHT[::-1].copy()),
     torch.nn.BCEWithLogitsLoss(torch.tensor(WEIGHT), pos_weight=torch.tensor(WEIGHT[::-1].copy())), LOGITS, VALUES),
    (nn.KLDivLoss(), torch.nn.KLDivLoss(), LOG_PROBS, PROBS),
    (nn.KLDivLoss(reduction="batchmean", log_target=True),
     torch.nn.KLDivLoss(reduction="batchmean", log_target=True), LOG_PROBS, np.log(PROBS)),
]


@pytest.mark.parametrize("ours, theirs, x, target", LOSSES, ids=[f"{i}-{type(c[0]).__name__}" for i, c in
                                                                  enumerate(LOSSES)])
def test_loss_modules(ours: nn.Module, theirs: Any, x: np.ndarray, target: np.ndarray) -> None:
    xo, xt = Tensor(x, requires_grad=True), t(x, grad=True)
    target_t = torch.from_numpy(target)
    yo, yt = ours(xo, target), theirs(xt, target_t)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
    v = np.random.default_rng(0).standard_normal(yo.shape)
    (yo * v).sum().backward()
    (yt * t(v)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOL)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("full, reduction", [(False, "mean"), (True, "sum"), (True, "none")])
def test_gaussian_nll_loss_module(full: bool, reduction: str) -> None:
    var = RNG.uniform(0.2, 2.0, (4, 3))
    ours = nn.GaussianNLLLoss(full=full, eps=1e-4, reduction=reduction)
    theirs = torch.nn.GaussianNLLLoss(full=full, eps=1e-4, reduction=reduction)
    xo, xt, vo, vt = Tensor(LOGITS, requires_grad=True), t(LOGITS, True), Tensor(var, requires_grad=True), t(var, True)
    yo, yt = ours(xo, VALUES, vo), theirs(xt, t(VALUES), vt)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
    v = np.random.default_rng(0).standard_normal(yo.shape)
    (yo * v).sum().backward()
    (yt * t(v)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(vo.grad.data, vt.grad.numpy(), **TOL)
