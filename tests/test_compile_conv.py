"""Convolution, pooling and the newer modules under ``tinygrad_vae.compile``: traced once, replayed on other
values, equal to eager (forward and gradients); the conv VAE and conv models with BatchNorm2d/Dropout trained
compiled equal eager, as do Embedding, LayerNorm, every loss module, clip_grad_value_ and the schedulers.

Each replay runs on values other than the trace's (for max_pool2d: another order of the values, so the
maxima move), so a value frozen into the program would show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from test_conv import conv_arrays, conv_configs, conv_of, conv_transpose_of, pool_configs, separated

import tinygrad_vae as tv
from tinygrad_vae import Tensor, gradients, nn, optim
from tinygrad_vae.nn import functional as F
from tinygrad_vae.vae.model import VAE

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


def train(make: Callable[[np.random.Generator], tuple[nn.Module, optim.Optimizer, Callable]], data: np.ndarray,
          use_compile: bool, after_step: Callable[[optim.Optimizer], None] | None = None) -> tuple[list, list]:
    """Losses and final parameters and buffers of a few steps of ``make``'s model, eager or compiled."""
    model, opt, loss_of = make(np.random.default_rng(0))

    def step(x: Tensor) -> Tensor:
        opt.zero_grad()
        loss = loss_of(model, x)
        loss.backward()
        optim.clip_grad_value_(model.parameters(), 0.5)
        opt.step()
        return loss

    step = tv.compile(step) if use_compile else step
    losses = []
    for x in data:
        losses.append(float(step(Tensor(x)).data))
        if after_step is not None:
            after_step(opt)
    return losses, [a.data.copy() for a in (*model.parameters(), *model.buffers())]


def assert_compiled_equals_eager(make: Callable, data: np.ndarray, after_step: Callable | None = None) -> None:
    (losses_e, state_e), (losses_c, state_c) = (train(make, data, c, after_step) for c in (False, True))
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-12)
    for a, b in zip(state_e, state_c):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_the_conv_vae_compiled_equals_eager_in_float64() -> None:
    def make(rng: np.random.Generator) -> tuple:
        model = VAE(36, arch="conv", image_shape=(1, 6, 6), hidden_dims=(3, 4), latent_dim=2, rng=rng,
                    dtype=np.float64)
        return model, optim.Adam(model.parameters(), lr=1e-2), lambda m, x: m.loss(x)[0]

    assert_compiled_equals_eager(make, np.random.default_rng(3).random((4, 5, 36)))


def test_a_conv_model_with_batchnorm_dropout_pooling_compiled_equals_eager() -> None:
    def make(rng: np.random.Generator) -> tuple:
        # No bias before BatchNorm: its gradient is 0 up to rounding, which RMSprop's normalisation would
        # amplify into updates that depend on the summation order.
        net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False, dtype=np.float64, generator=rng),
                            nn.BatchNorm2d(4, dtype=np.float64), nn.ReLU(),
                            nn.Dropout(0.25, generator=np.random.default_rng(7)), nn.MaxPool2d(2),
                            nn.ConvTranspose2d(4, 2, 2, stride=2, dtype=np.float64, generator=rng))
        return net, optim.RMSprop(net.parameters(), lr=1e-2), lambda m, x: ((m(x) - x) ** 2).mean()

    assert_compiled_equals_eager(make, np.random.default_rng(4).standard_normal((4, 3, 2, 4, 4)))


def test_embedding_layernorm_and_schedulers_compiled_equal_eager() -> None:
    def make(rng: np.random.Generator) -> tuple:
        net = nn.Sequential(nn.Embedding(5, 4, padding_idx=0, dtype=np.float64, generator=rng),
                            nn.LayerNorm(4, dtype=np.float64), nn.Linear(4, 3, dtype=np.float64, generator=rng))
        return net, optim.Adagrad(net.parameters(), lr=0.1), lambda m, x: m(x).sum()

    indices = np.random.default_rng(5).integers(0, 5, (6, 7))
    schedulers: list = []

    def after_step(opt: optim.Optimizer) -> None:
        if not schedulers:
            schedulers.extend([optim.lr_scheduler.CosineAnnealingLR(opt, 4), optim.lr_scheduler.LinearLR(opt)])
        for s in schedulers:
            s.step()

    def run(use_compile: bool) -> tuple:
        schedulers.clear()
        return train(make, indices, use_compile, after_step)

    (losses_e, state_e), (losses_c, state_c) = run(False), run(True)
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-12)
    for a, b in zip(state_e, state_c):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


LOSSES = {
    "MSELoss": (lambda: nn.MSELoss(), "normal"),
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), "normal"),
    "NLLLoss": (lambda: nn.NLLLoss(), "classes"),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), "classes"),
    "BCELoss": (lambda: nn.BCELoss(), "probabilities"),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), "probabilities"),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean"), "probabilities"),
    "GaussianNLLLoss": (lambda: nn.GaussianNLLLoss(), "variance"),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_module_compiled_equals_eager(name: str) -> None:
    make_loss, kind = LOSSES[name]
    rng = np.random.default_rng(6)
    targets = {"normal": rng.standard_normal((5, 3)), "classes": rng.integers(0, 3, 5),
               "probabilities": rng.random((5, 3)) * 0.8 + 0.1, "variance": rng.standard_normal((5, 3))}
    target = targets[kind]

    def make(rng: np.random.Generator) -> tuple:
        net, criterion = nn.Linear(4, 3, dtype=np.float64, generator=rng), make_loss()
        t = target if kind == "classes" else Tensor(target)  # float targets: a Tensor made before the trace
        heads = {"BCELoss": lambda y: criterion(y.sigmoid(), t), "NLLLoss": lambda y: criterion(y.log_softmax(1), t),
                 "GaussianNLLLoss": lambda y: criterion(y, t, y * y + 0.5)}
        head = heads.get(name, lambda y: criterion(y, t))
        return net, optim.SGD(net.parameters(), lr=0.1), lambda m, x: head(m(x))

    assert_compiled_equals_eager(make, rng.standard_normal((4, 5, 4)))


def test_an_embedding_index_out_of_range_raises_on_replay() -> None:
    emb = nn.Embedding(4, 2, dtype=np.float64, generator=np.random.default_rng(0))
    lookup = tv.compile(lambda i: emb(i).sum())
    lookup(Tensor(np.array([0, 3])))
    np.testing.assert_allclose(lookup(Tensor(np.array([1, 2]))).data, emb.weight.data[[1, 2]].sum(), rtol=1e-15)
    with pytest.raises(IndexError, match="Embedding: index -1 is out of range for 4 embeddings"):
        lookup(Tensor(np.array([1, -1])))
    assert len(lookup.entries) == 1
