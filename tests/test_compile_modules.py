"""Models trained compiled equal eager: the conv VAE, a conv model with BatchNorm2d, Dropout and pooling,
Embedding and LayerNorm with schedulers, every loss module; clip_grad_value_ in every step.

(The single conv and pooling ops, compiled against eager, are in test_compile_ops.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_vae as tv
from tinygrad_vae import Tensor, nn, optim
from tinygrad_vae.vae.model import VAE


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
    "CrossEntropyLoss_weighted": (lambda: nn.CrossEntropyLoss(weight=np.array([0.2, 1.0, 2.0])), "classes"),
    "BCELoss": (lambda: nn.BCELoss(), "probabilities"),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(pos_weight=np.array([0.5, 1.0, 3.0])), "probabilities"),
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


def test_a_reshape_that_copies_is_replayed_into_a_buffer() -> None:
    """The reshape of a transposed array copies (as the windows of a convolution do): a replay writes the
    copy into a buffer allocated once, with eager's values, instead of allocating the array each time."""
    import tracemalloc

    from tinygrad_vae.compiler.tracer import reshaped

    a = np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1)
    out = np.empty((6, 4))
    np.testing.assert_array_equal(reshaped(a, (6, 4)), a.reshape(6, 4))
    assert reshaped(a, (6, 4), out=out) is out
    np.testing.assert_array_equal(out, a.reshape(6, 4))

    weights = Tensor(np.arange(1.0, 40001.0))

    def f(x: Tensor) -> Tensor:
        return (x.transpose(1, 0).reshape(-1) * weights).sum()

    step = tv.compile(f)
    x = Tensor(np.random.default_rng(0).random((200, 200)))
    for _ in range(3):
        step(x)
    tracemalloc.start()
    loss = step(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "reshaped(" in step.source and peak < x.data.nbytes / 10, (peak, step.source)
    np.testing.assert_allclose(loss.data, f(x).data, rtol=1e-12)
