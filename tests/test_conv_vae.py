"""The VAE's other architectures: encoder=/decoder= modules of the user's own, and arch="conv" for images.

Each conv test runs on a few images of a few pixels, so the file takes a few seconds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_vae import nn, serialization
from tinygrad_vae.core import Tensor
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.vae.training import Trainer

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
