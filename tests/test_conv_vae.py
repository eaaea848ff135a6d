"""The VAE's other architectures: encoder=/decoder= modules of the user's own, and arch="conv" for images.

Each conv test runs on a few images of a few pixels, so the file takes a few seconds.
"""

from __future__ import annotations

import functools
import json
import math
import re

import numpy as np
import pytest

from tinygrad_vae import nn, serialization
from tinygrad_vae.core import Tensor
from tinygrad_vae.testing import gradcheck
from tinygrad_vae.vae import runs
from tinygrad_vae.vae.datasets import load_dataset
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.vae.training import Trainer, trainer_from_preset

F64 = np.float64


def mlp_user_modules(model: VAE) -> tuple[nn.Module, nn.Module]:
    """An encoder and a decoder of the user's own that compute exactly what the built-in MLP of ``model`` does.

    The encoder's last layer is the mu head and the log_var head side by side: its output is (mu, log_var).
    """
    hidden, latent = model.hidden_dims[-1], model.latent_dim
    first, last = (nn.Linear(model.input_dim, hidden, dtype=F64), nn.Linear(hidden, 2 * latent, dtype=F64))
    first.load_state_dict(model.encoder[0].state_dict())
    heads = (model.mu_head, model.log_var_head)
    axis = model.mu_head.weight.shape.index(latent)  # the output axis of the weight, in either layout
    last.load_state_dict({"weight": np.concatenate([head.weight.data for head in heads], axis=axis),
                          "bias": np.concatenate([head.bias.data for head in heads])})
    decoder = nn.Sequential(*(type(layer)(layer.in_features, layer.out_features, dtype=F64)
                              if isinstance(layer, nn.Linear) else nn.ReLU() for layer in model.decoder))
    decoder.load_state_dict(model.decoder.state_dict())
    return nn.Sequential(first, nn.ReLU(), last), decoder


def mlp_model(seed: int = 0, **kwargs: object) -> VAE:
    """A float64 MLP VAE 5-7-2 with random biases too (so the ReLUs are mixed)."""
    rng = np.random.default_rng(seed)
    model = VAE(5, (7,), 2, rng=rng, dtype=F64, **kwargs)
    for param in model.parameters():
        param.data[...] += rng.normal(size=param.shape) * 0.4
    return model


# --------------------------------------------------------------------------
# encoder= and decoder=
# --------------------------------------------------------------------------


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_user_modules_compute_what_the_same_built_in_layers_do(likelihood: str) -> None:
    """The same layers, once built by the VAE and once passed in: the same loss, gradients, ELBO and log p(x)."""
    built = mlp_model(likelihood=likelihood)
    encoder, decoder = mlp_user_modules(built)
    own = VAE(5, latent_dim=2, likelihood=likelihood, encoder=encoder, decoder=decoder, dtype=F64)
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(6, 5))
    eps, eps_k = rng.normal(size=(6, 2)), rng.normal(size=(9, 6, 2))
    losses = [model.loss(x, eps=eps) for model in (built, own)]
    for a, b in zip(*losses):
        assert a.item() == pytest.approx(b.item(), rel=1e-12)
    losses[0][0].backward()
    losses[1][0].backward()
    np.testing.assert_allclose(own.decoder[2].weight.grad.data, built.decoder[2].weight.grad.data, rtol=1e-12)
    np.testing.assert_allclose(own.encoder[0].weight.grad.data, built.encoder[0].weight.grad.data, rtol=1e-12)
    # k samples per example go through the user's decoder as one batch of k * 6 rows, and come back apart
    np.testing.assert_allclose(own.log_likelihood(x, k=9, eps=eps_k), built.log_likelihood(x, k=9, eps=eps_k),
                               rtol=1e-12)
    np.testing.assert_allclose(own.elbo(x, eps=eps), built.elbo(x, eps=eps), rtol=1e-12)
    np.testing.assert_allclose(own.reconstruct(x, eps=eps), built.reconstruct(x, eps=eps), rtol=1e-12)
    assert own.sample(4, rng=np.random.default_rng(2)).shape == (4, 5)


def test_one_user_module_and_the_mlp_for_the_other_side() -> None:
    built = mlp_model()
    encoder, decoder = mlp_user_modules(built)
    for kwargs in ({"encoder": encoder}, {"decoder": decoder}):
        half = VAE(5, (7,), 2, rng=np.random.default_rng(0), dtype=F64, **kwargs)
        half.load_state_dict({**built.state_dict(), **{f"{side}.{key}": value for side, module in kwargs.items()
                                                       for key, value in module.state_dict().items()}},
                             strict=False)
        x, eps = np.random.default_rng(1).uniform(size=(3, 5)), np.random.default_rng(2).normal(size=(3, 2))
        assert half.loss(x, eps=eps)[0].item() == pytest.approx(built.loss(x, eps=eps)[0].item(), rel=1e-12)
        assert half.config()["user_modules"] == list(kwargs)


def test_a_vae_with_user_modules_trains_and_its_checkpoint_loads_into_the_same_modules(tmp_path) -> None:
    built = mlp_model()
    encoder, decoder = mlp_user_modules(built)
    model = VAE(5, latent_dim=2, encoder=encoder, decoder=decoder, rng=np.random.default_rng(0), dtype=F64)
    assert [name for name, _ in model.named_parameters()] == [
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
        "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"]
    data = np.random.default_rng(3).normal(size=(64, 5))
    trainer = Trainer(model, optimizer="adam", lr=1e-2, batch_size=16)
    history = trainer.fit(data, 5, log_every=None, checkpoint_path=tmp_path / "ckpt.npz")
    assert history["total"][-1] < history["total"][0]
    with pytest.raises(ValueError, match=r"Trainer.from_checkpoint: .*ckpt.npz holds a VAE with its own encoder and "
                                         r"decoder module, which a checkpoint cannot rebuild: build the same VAE"):
        Trainer.from_checkpoint(tmp_path / "ckpt.npz")
    again = VAE(5, latent_dim=2, encoder=mlp_user_modules(built)[0], decoder=mlp_user_modules(built)[1], dtype=F64)
    other = Trainer(again, optimizer="adam", lr=1e-2, batch_size=16)
    other.load_state_dict(serialization.load(tmp_path / "ckpt.npz"))
    x = data[:4]
    np.testing.assert_array_equal(again.encode(x)[0].data, model.encode(x)[0].data)


class Returns(nn.Module):
    """A module that returns ``make(x)`` whatever its input: stands in for a wrongly built network."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def forward(self, x):
        return self.make(x)


def test_user_modules_that_break_the_contract_are_named() -> None:
    encoder, decoder = mlp_user_modules(mlp_model())
    x = np.zeros((4, 5))
    wide = VAE(5, latent_dim=2, encoder=Returns(lambda x: Tensor(np.zeros((len(x), 3)))), decoder=decoder, dtype=F64)
    with pytest.raises(ValueError, match=re.escape("VAE.encode: the encoder returned shape (4, 3) for x of shape "
                                                   "(4, 5); expected a Tensor of shape (batch, 2 * latent_dim) = "
                                                   "(4, 4): mu, then log_var")):
        wide.loss(x)
    pair = VAE(5, latent_dim=2, encoder=Returns(lambda x: (x, x)), decoder=decoder, dtype=F64)
    with pytest.raises(ValueError, match=r"VAE.encode: the encoder returned a tuple for x of shape \(4, 5\)"):
        pair.encode(x)
    narrow = VAE(5, latent_dim=2, encoder=encoder, decoder=Returns(lambda z: Tensor(np.zeros((len(z), 4)))), dtype=F64)
    with pytest.raises(ValueError, match=re.escape("VAE.decode: the decoder returned shape (12, 4) for z of shape "
                                                   "(12, 2); expected a Tensor of shape (batch, input_dim) = (12, 5)")):
        narrow.log_likelihood(x, k=3)
    with pytest.raises(ValueError, match=re.escape("VAE.decode: expected z of shape (..., 2), got (3, 4)")):
        narrow.decode(np.zeros((3, 4)))


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"encoder": lambda x: x}, TypeError, (r"VAE: encoder must be a tinygrad_vae.nn.Module mapping "
                                           r"\(batch, input_dim\) to \(batch, 2 \* latent_dim\), got function")),
    ({"decoder": np.zeros(3)}, TypeError, r"VAE: decoder must be a tinygrad_vae.nn.Module .*, got ndarray"),
    ({"encoder": nn.Linear(5, 4, dtype=np.float32)}, TypeError,
     r"VAE: encoder parameter 'weight' is float32, but the VAE's dtype is float64"),
    ({"encoder": nn.ReLU(), "decoder": nn.ReLU(), "hidden_dims": (8,)}, ValueError,
     (r"VAE: hidden_dims and decoder_hidden_dims shape the MLP the VAE builds; with both encoder= and decoder= "
      r"given it builds none")),
    ({"decoder": nn.ReLU(), "decoder_hidden_dims": (8,)}, ValueError,
     r"VAE: decoder_hidden_dims shape the MLP decoder; with decoder= given it builds none"),
    ({"encoder": nn.ReLU(), "arch": "conv", "image_shape": (1, 5, 1)}, ValueError,
     r"VAE: give either arch='conv' or your own encoder, not both"),
    ({"arch": "resnet"}, ValueError, r"VAE: arch must be one of \('mlp', 'conv'\), got 'resnet'"),
    ({"arch": "conv"}, ValueError, (r"VAE: arch='conv' needs image_shape=\(channels, height, width\) of positive "
                                    r"ints, got None")),
    ({"arch": "conv", "image_shape": (5, 1)}, ValueError, r"needs image_shape=.*, got \(5, 1\)"),
    ({"arch": "conv", "image_shape": (1, 2, 2)}, ValueError,
     r"VAE: image_shape \(1, 2, 2\) holds 4 numbers, but input_dim is 5"),
    ({"arch": "conv", "image_shape": (1, 5, 1), "decoder_hidden_dims": (4,)}, ValueError,
     r"VAE: decoder_hidden_dims are for arch='mlp'; the conv decoder mirrors the encoder"),
    ({"image_shape": (1, 5, 1)}, ValueError, r"VAE: image_shape is for arch='conv', got it with arch='mlp'"),
])
def test_bad_architecture_arguments(kwargs: dict, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        VAE(5, dtype=F64, **kwargs)


def test_the_mlp_is_unchanged_by_the_new_options() -> None:
    """hidden_dims=None is the MLP's (32,), drawn in the notebook's order: the same weights as before."""
    default, explicit = VAE(2, rng=np.random.default_rng(0)), VAE(2, (32,), rng=np.random.default_rng(0))
    for (name, a), b in zip(default.state_dict().items(), explicit.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    config = default.config()
    assert config["arch"] == "mlp" and config["image_shape"] is None and config["hidden_dims"] == [32]
    assert "user_modules" not in config
    assert default.activation_width == 32


# --------------------------------------------------------------------------
# arch="conv"
# --------------------------------------------------------------------------


def conv_model(image_shape=(1, 5, 4), channels=(2, 3), seed: int = 0, likelihood: str = "bernoulli",
               **kwargs: object) -> VAE:
    return VAE(math.prod(image_shape), channels, 2, likelihood, rng=np.random.default_rng(seed), arch="conv",
               image_shape=image_shape, dtype=F64, **kwargs)


def test_the_digits_conv_architecture_has_torchs_layers_and_layouts() -> None:
    model = VAE(64, latent_dim=2, likelihood="bernoulli", arch="conv", image_shape=(1, 8, 8),
                rng=np.random.default_rng(0))
    assert {name: array.shape for name, array in model.state_dict().items()} == {
        "encoder.1.weight": (16, 1, 3, 3), "encoder.1.bias": (16,),        # Conv2d(1, 16, 3, 1, 1)
        "encoder.3.weight": (32, 16, 3, 3), "encoder.3.bias": (32,),       # Conv2d(16, 32, 3, 2, 1): 32x4x4
        "mu_head.weight": (2, 512), "mu_head.bias": (2,),
        "log_var_head.weight": (2, 512), "log_var_head.bias": (2,),
        "decoder.0.weight": (512, 2), "decoder.0.bias": (512,),
        "decoder.3.weight": (32, 16, 3, 3), "decoder.3.bias": (16,),       # ConvTranspose2d: (in, out, kh, kw)
        "decoder.5.weight": (1, 16, 3, 3), "decoder.5.bias": (1,),
    }
    transposed = model.decoder[3]
    assert isinstance(transposed, nn.ConvTranspose2d)
    assert (transposed.stride, transposed.padding, transposed.output_padding) == ((2, 2), (1, 1), (1, 1))
    # torch's default initialisation: |w| <= 1 / sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), fan_in = 16 * 9
    weight = model.encoder[3].weight.data
    assert 0.8 / 12 < np.abs(weight).max() <= 1 / 12 and model.weight_init == "torch"
    x = np.random.default_rng(1).random((3, 64)).astype(np.float32)
    mu, log_var = model.encode(x)
    assert mu.shape == log_var.shape == (3, 2)
    means = model.decode(mu)
    assert means.shape == (3, 64) and (means.data > 0).all() and (means.data < 1).all()
    assert model.activation_width == 9 * 16 * 64
    config = model.config()
    assert config["arch"] == "conv" and config["image_shape"] == [1, 8, 8] and config["hidden_dims"] == [16, 32]


@pytest.mark.parametrize("image_shape, channels", [((1, 7, 5), (4,)), ((3, 6, 9), (2, 3, 4)), ((2, 1, 2), (3, 2))])
def test_conv_decoders_give_back_the_image_size(image_shape: tuple, channels: tuple) -> None:
    """Odd and even sizes, one to three conv layers: the transposed convolutions undo each halving exactly."""
    model = conv_model(image_shape, channels)
    n = math.prod(image_shape)
    x = np.random.default_rng(2).random((4, n))
    assert model.reconstruct(x).shape == (4, n)
    assert model.log_likelihood(x, k=3).shape == (4,)
    assert model.sample(5, rng=np.random.default_rng(3)).shape == (5, n)


def relu_margin(model: VAE, x: np.ndarray, eps: np.ndarray) -> float:
    """The smallest |input| of any ReLU in the forward pass of ``model.loss(x, eps=eps)``."""
    inputs = []

    def run(layers: nn.Sequential, h: Tensor) -> Tensor:
        for layer in layers:
            if isinstance(layer, nn.ReLU):
                inputs.append(np.abs(h.data).min())
            h = layer(h)
        return h

    h = run(model.encoder, Tensor(x))
    z = model.mu_head(h).data + np.exp(model.log_var_head(h).data / 2) * eps
    run(model.decoder, Tensor(z))
    return min(inputs)


@pytest.mark.parametrize("kwargs", [{"likelihood": "bernoulli"},
                                    {"likelihood": "gaussian", "learn_decoder_variance": True}])
def test_the_whole_conv_vae_loss_passes_gradcheck_in_float64(kwargs: dict) -> None:
    """Every parameter and the input, all elements, against central differences; at a point where every ReLU input
    is at least 1e-3 from its kink (the first seed that gives one)."""
    x_rng = np.random.default_rng(4)
    x, eps = x_rng.uniform(0.1, 0.9, size=(2, 20)), x_rng.normal(size=(2, 2))
    model = next(m for m in (conv_model(seed=seed, **kwargs) for seed in range(50)) if relu_margin(m, x, eps) > 1e-3)
    names = [name for name, _ in model.named_parameters()]
    owners = [(functools.reduce(getattr, name.split(".")[:-1], model), name.split(".")[-1]) for name in names]
    originals = [getattr(owner, attr) for owner, attr in owners]

    def loss(x: Tensor, *params: Tensor) -> Tensor:
        for (owner, attr), param in zip(owners, params):
            object.__setattr__(owner, attr, param)  # the layers read their weights from these Tensors
        try:
            return model.loss(x, eps=eps)[0]
        finally:
            for (owner, attr), param in zip(owners, originals):
                object.__setattr__(owner, attr, param)

    arrays = [x, *(param.data for param in originals)]
    assert gradcheck(loss, arrays)
    # the Tensors passed in are the ones the layers use (else both sides would be zero and agree trivially)
    for i in range(1, len(arrays)):
        moved = [Tensor(a * 1.5 if j == i else a) for j, a in enumerate(arrays)]
        assert loss(*moved).item() != pytest.approx(loss(*map(Tensor, arrays)).item(), rel=1e-9), names[i - 1]


def test_a_conv_vae_learns_digits_in_a_few_steps() -> None:
    digits = load_dataset("digits", binarize_pixels=True)
    trainer = trainer_from_preset("digits-conv", input_dim=64, rng=np.random.default_rng(0))
    trainer = Trainer(trainer.model, optimizer="adam", lr=3e-3, batch_size=32)  # the preset's model, 16 steps
    x = digits.x_train[:128]
    before = trainer.evaluate(x)["total"]
    trainer.fit(x, 4, log_every=None)
    history = trainer.history["total"]
    assert history[-1] < history[0] and trainer.evaluate(x)["total"] < before - 3.0  # nats per image


def test_a_conv_checkpoint_round_trips(tmp_path) -> None:
    model = conv_model()
    x = np.random.default_rng(5).random((32, 20))
    trainer = Trainer(model, optimizer="adam", lr=1e-2, batch_size=8)
    trainer.fit(x, 2, log_every=None, checkpoint_path=tmp_path / "ckpt.npz")
    loaded = Trainer.from_checkpoint(tmp_path / "ckpt.npz")
    assert loaded.model.config() == model.config() and loaded.epoch == 2
    for (name, a), b in zip(model.state_dict().items(), loaded.model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    trainer.fit(x, 3, log_every=None)
    loaded.fit(x, 3, log_every=None)  # the same generator states, so the same third epoch
    np.testing.assert_array_equal(loaded.model.decoder[3].weight.data, model.decoder[3].weight.data)


@pytest.mark.torch
def test_the_conv_vae_matches_the_same_layers_in_torch() -> None:
    """Each of our layers rebuilt as the torch layer of the same arguments, our weights copied: the same negative
    ELBO and the same gradient for every parameter, in float64."""
    torch = pytest.importorskip("torch")

    def to_torch(layer: nn.Module) -> object:
        if isinstance(layer, nn.Sequential):
            return torch.nn.Sequential(*map(to_torch, layer))
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            extra = {"output_padding": layer.output_padding} if isinstance(layer, nn.ConvTranspose2d) else {}
            return getattr(torch.nn, type(layer).__name__)(layer.in_channels, layer.out_channels, layer.kernel_size,
                                                           layer.stride, layer.padding, **extra)
        simple = {nn.Linear: lambda: torch.nn.Linear(layer.in_features, layer.out_features),
                  nn.ReLU: torch.nn.ReLU, nn.Flatten: lambda: torch.nn.Flatten(layer.start_dim, layer.end_dim),
                  nn.Unflatten: lambda: torch.nn.Unflatten(layer.dim, layer.unflattened_size)}
        return simple[type(layer)]()

    model = conv_model((1, 7, 6), (3, 4))
    theirs = torch.nn.ModuleDict({name: to_torch(getattr(model, name))
                                  for name in ("encoder", "mu_head", "log_var_head", "decoder")}).double()
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in model.state_dict().items()})
    rng = np.random.default_rng(6)
    x, eps = rng.integers(0, 2, size=(5, 42)).astype(F64), rng.normal(size=(5, 2))
    loss = model.loss(x, eps=eps)[0]
    loss.backward()
    h = theirs["encoder"](torch.from_numpy(x))
    mu, log_var = theirs["mu_head"](h), theirs["log_var_head"](h)
    logits = theirs["decoder"](mu + torch.exp(log_var / 2) * torch.from_numpy(eps))
    recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(x), reduction="none")
    expected = (recon.sum(1) - 0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(1)).mean()
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad.data, theirs.get_parameter(name).grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_a_run_file_from_before_the_arch_option_reads_as_an_mlp(tmp_path) -> None:
    settings = {key: value for key, value in runs.dataset_defaults("digits").items() if key != "arch"}
    record = {"format": runs.RUN_FORMAT, "version": runs.RUN_VERSION, "dataset": {"name": "digits"},
              "model": {"input_dim": 64}, "settings": settings}
    (tmp_path / runs.RUN_FILE).write_text(json.dumps(record))
    assert runs.read_run(tmp_path)["settings"]["arch"] == "mlp"
    with pytest.raises(runs.RunError, match=r"--arch 'conv' differs from the resumed run's 'mlp'"):
        runs.resumed_run_settings(runs.read_run(tmp_path)["settings"], {"arch": "conv"}, {})
