"""The engine's VAE agrees with the origin notebook's hand-derived loss and gradients.

The notebook computes the loss and its gradients by hand. Its formulas are
written out again below, in plain NumPy and float64, for a fixed batch, fixed
weights and fixed noise eps; the engine's loss, every parameter gradient and
one SGD step must agree with them to 1e-10. Nothing is imported from the
reference notebook.
"""

import numpy as np
import pytest

from tinygrad_vae.optim import SGD
from tinygrad_vae.vae.model import VAE

CENTERS = np.array([(-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0)])
# engine parameter name -> notebook variable name
NAMES = {
    "encoder.0.weight": "W_enc1", "encoder.0.bias": "b_enc1",
    "mu_head.weight": "W_mu", "mu_head.bias": "b_mu",
    "log_var_head.weight": "W_logvar", "log_var_head.bias": "b_logvar",
    "decoder.0.weight": "W_dec1", "decoder.0.bias": "b_dec1",
    "decoder.2.weight": "W_dec2", "decoder.2.bias": "b_dec2",
}


def notebook_loss_and_grads(p: dict, x: np.ndarray, eps: np.ndarray) -> tuple[tuple[float, float, float], dict]:
    """The notebook's forward pass, loss and hand-written backward pass (its gradient formulas)."""
    n = len(x)
    # forward
    h_enc = np.maximum(0.0, x @ p["W_enc1"] + p["b_enc1"])
    mu = h_enc @ p["W_mu"] + p["b_mu"]
    log_var = h_enc @ p["W_logvar"] + p["b_logvar"]
    std = np.exp(0.5 * log_var)
    z = mu + eps * std
    h_dec = np.maximum(0.0, z @ p["W_dec1"] + p["b_dec1"])
    x_recon = h_dec @ p["W_dec2"] + p["b_dec2"]
    # loss: squared error summed over dimensions, closed-form KL summed over latents, both batch means
    recon = np.mean(np.sum((x - x_recon) ** 2, axis=1))
    kl = -0.5 * np.mean(np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=1))
    # backward, as derived in the notebook
    g = {}
    d_recon = 2 * (x_recon - x) / n
    g["W_dec2"] = h_dec.T @ d_recon
    g["b_dec2"] = d_recon.sum(axis=0)
    d_h_dec = (d_recon @ p["W_dec2"].T) * (h_dec > 0)
    g["W_dec1"] = z.T @ d_h_dec
    g["b_dec1"] = d_h_dec.sum(axis=0)
    d_z = d_h_dec @ p["W_dec1"].T
    d_mu = d_z + mu / n                                                 # + d KL / d mu
    d_log_var = d_z * eps * 0.5 * std + 0.5 * (np.exp(log_var) - 1) / n  # + d KL / d log_var
    g["W_mu"] = h_enc.T @ d_mu
    g["b_mu"] = d_mu.sum(axis=0)
    g["W_logvar"] = h_enc.T @ d_log_var
    g["b_logvar"] = d_log_var.sum(axis=0)
    d_h_enc = (d_mu @ p["W_mu"].T + d_log_var @ p["W_logvar"].T) * (h_enc > 0)
    g["W_enc1"] = x.T @ d_h_enc
    g["b_enc1"] = d_h_enc.sum(axis=0)
    return (recon + kl, recon, kl), g


def setup(seed: int, batch: int = 64, hidden: int = 32):
    """A notebook-shaped VAE in float64 with non-trivial weights and biases, a batch of the notebook's data, eps."""
    rng = np.random.default_rng(seed)
    model = VAE(2, hidden_dims=(hidden,), latent_dim=2, rng=rng, dtype=np.float64)
    # Random biases too (the notebook starts them at zero), so every formula term is exercised;
    # scale 0.5 keeps about half of the ReLUs active and log_var well inside [-15, 15].
    for param in model.parameters():
        param.data[...] = rng.normal(size=param.shape) * 0.5
    x = np.vstack([rng.normal(size=(batch // 4, 2)) * 0.5 + c for c in CENTERS])
    eps = rng.normal(size=(batch, 2))
    return model, x, eps


def notebook_params(model: VAE) -> dict:
    """The notebook's variables: its formulas use W as (in, out), the transpose of torch's (out, in) layout."""
    return {NAMES[name]: value.T if name.endswith("weight") else value for name, value in model.state_dict().items()}


def engine_layout(name: str, notebook_value: np.ndarray) -> np.ndarray:
    return notebook_value.T if name.endswith("weight") else notebook_value


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_and_every_gradient_equal_the_notebooks_formulas(seed):
    model, x, eps = setup(seed)
    (total, recon, kl), expected_grads = notebook_loss_and_grads(notebook_params(model), x, eps)
    assert sorted(dict(model.named_parameters())) == sorted(NAMES)
    loss, loss_recon, loss_kl = model.loss(x, eps=eps)
    loss.backward()
    np.testing.assert_allclose([loss.item(), loss_recon.item(), loss_kl.item()], [total, recon, kl], rtol=1e-12, atol=1e-10)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad.data, engine_layout(name, expected_grads[NAMES[name]]),
                                   rtol=1e-10, atol=1e-10, err_msg=name)


def test_one_sgd_step_gives_the_notebooks_weights():
    model, x, eps = setup(3)
    before = notebook_params(model)
    _, grads = notebook_loss_and_grads(before, x, eps)
    lr = 0.01
    optimizer = SGD(model.parameters(), lr=lr)
    optimizer.zero_grad()
    model.loss(x, eps=eps)[0].backward()
    optimizer.step()
    after = notebook_params(model)
    for key, value in before.items():
        np.testing.assert_allclose(after[key], value - lr * grads[key], rtol=1e-12, atol=1e-12, err_msg=key)
    # the step changed the weights by a visible amount, so the comparison is not vacuous
    assert max(np.abs(after[k] - before[k]).max() for k in before) > 1e-4


def test_notebook_architecture_and_initialization():
    """Default VAE: notebook layers (2 -> 32 -> (mu, log_var) of 2; 2 -> 32 -> 2), weights 0.1 * N(0, 1), zero biases.

    Weights have torch's (out, in) layout; the notebook draws each W as (in, out), in the same order.
    """
    rng = np.random.default_rng(0)
    model = VAE(2, rng=rng)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {
        "encoder.0.weight": (32, 2), "encoder.0.bias": (32,), "mu_head.weight": (2, 32), "mu_head.bias": (2,),
        "log_var_head.weight": (2, 32), "log_var_head.bias": (2,), "decoder.0.weight": (32, 2),
        "decoder.0.bias": (32,), "decoder.2.weight": (2, 32), "decoder.2.bias": (2,),
    }
    expected = np.random.default_rng(0)  # same draw order as the notebook: W_enc1, W_mu, W_logvar, W_dec1, W_dec2
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            assert not param.data.any()
        else:
            notebook_w = (expected.standard_normal(param.shape[::-1]) * 0.1).astype(np.float32)
            np.testing.assert_array_equal(param.data, notebook_w.T)
    # the generator is left where the notebook's draws leave it (the next draws, eps, are the notebook's)
    assert rng.bit_generator.state == expected.bit_generator.state
