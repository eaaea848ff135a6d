"""Tests of the VAE: densities in nats against NumPy formulas, gradients against finite differences,
the importance-weighted log-likelihood against a closed form, the log-variance clamp, sampling and errors."""

import math

import numpy as np
import pytest

from tinygrad_vae.core import Tensor, gradients
from tinygrad_vae.vae.model import LOG_VAR_LINEAR, VAE, soft_clamp

VARIANTS = {
    "notebook": {},
    "learned_variance": {"learn_decoder_variance": True},
    "bernoulli": {"likelihood": "bernoulli"},
    "mixture_prior": {"prior": "mixture", "prior_components": 3},
    "small_fixed_variance": {"decoder_variance": 0.02, "prior": "mixture"},
    "iwae": {"iw_samples": 4, "learn_decoder_variance": True},
    "deep_beta": {"hidden_dims": (8, 6), "decoder_hidden_dims": (5,), "beta": 0.5, "latent_dim": 3},
}


def make(variant: str, seed: int = 0, input_dim: int = 3) -> tuple[VAE, np.ndarray, np.random.Generator]:
    """A float64 model with random weights and biases (so ReLUs are mixed), and a batch suited to its likelihood."""
    rng = np.random.default_rng(seed)
    model = VAE(input_dim, rng=rng, dtype=np.float64, **{"hidden_dims": (7,), **VARIANTS[variant]})
    for param in model.parameters():
        param.data[...] += rng.normal(size=param.shape) * 0.4
    x = rng.normal(size=(5, input_dim))
    if model.likelihood == "bernoulli":
        x = rng.uniform(size=(5, input_dim))  # data in [0, 1] (not only 0/1) is allowed
    return model, x, rng


def log_normal(x, mean, var):
    """log N(x; mean, diag(var)) summed over the last axis, written out in NumPy."""
    return np.sum(-0.5 * (x - mean) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=-1)


# ---------------------------------------------------------------------------
# densities in nats
# ---------------------------------------------------------------------------


def test_notebook_loss_is_the_gaussian_nll_with_variance_one_half_minus_its_constant():
    model, x, rng = make("notebook")
    eps = rng.normal(size=(5, 2))
    out, mu, log_var, _ = model.forward(x, eps=eps)
    nll = -log_normal(x, out.data, 0.5)
    assert model.recon_constant == pytest.approx(1.5 * math.log(math.pi), rel=1e-15)
    recon = model.loss(x, eps=eps)[1].item()
    assert recon == pytest.approx(np.mean(np.sum((x - out.data) ** 2, axis=1)), rel=1e-12)
    assert recon + model.recon_constant == pytest.approx(nll.mean(), rel=1e-12)
    kl = -0.5 * np.sum(1 + log_var.data - mu.data**2 - np.exp(log_var.data), axis=1)
    np.testing.assert_allclose(model.elbo(x, eps=eps), -nll - kl, rtol=1e-12)


def test_learned_variance_recon_is_the_gaussian_nll_minus_the_same_constant():
    model, x, rng = make("learned_variance")
    model.decoder_log_var.data[...] = [-1.0, 0.3, 2.0]
    eps = rng.normal(size=(5, 2))
    out = model.forward(x, eps=eps)[0].data
    recon = model.loss(x, eps=eps)[1].item()
    assert recon + model.recon_constant == pytest.approx(-log_normal(x, out, np.exp([-1.0, 0.3, 2.0])).mean(), rel=1e-12)
    # starts at sigma^2 = 1/2, where it equals the notebook's squared error
    fresh = VAE(3, rng=np.random.default_rng(0), learn_decoder_variance=True, dtype=np.float64)
    plain = VAE(3, rng=np.random.default_rng(0), dtype=np.float64)
    for param_name, param in plain.named_parameters():
        dict(fresh.named_parameters())[param_name].data[...] = param.data
    assert fresh.loss(x, eps=eps)[1].item() == pytest.approx(plain.loss(x, eps=eps)[1].item(), rel=1e-12)


def test_fixed_decoder_variance_recon_is_the_gaussian_nll_minus_the_same_constant():
    model, x, rng = make("small_fixed_variance")
    eps = rng.normal(size=(5, 2))
    out = model.forward(x, eps=eps)[0].data
    recon = model.loss(x, eps=eps)[1].item()
    assert recon + model.recon_constant == pytest.approx(-log_normal(x, out, 0.02).mean(), rel=1e-12)


def test_bernoulli_recon_is_the_binary_cross_entropy_and_stays_finite_for_huge_logits():
    model, x, rng = make("bernoulli")
    eps = rng.normal(size=(5, 2))
    logits = model.forward(x, eps=eps)[0].data
    p = 1 / (1 + np.exp(-logits))
    bce = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    assert model.recon_constant == 0.0
    assert model.loss(x, eps=eps)[1].item() == pytest.approx(bce.mean(), rel=1e-12)
    np.testing.assert_allclose(model.decode(model.forward(x, eps=eps)[3]).data, p, rtol=1e-12)
    # logits of +-1000 against 0/1 targets: the cross-entropy is |logit| where wrong and 0 where right, never inf/NaN
    model.decoder[-1].weight.data[...] = 0.0
    model.decoder[-1].bias.data[...] = [1000.0, -1000.0, 1000.0]
    targets = np.array([[1.0, 1.0, 0.0]])
    recon = model.loss(targets, eps=eps[:1])[1]
    assert recon.item() == pytest.approx(2000.0, rel=1e-12)
    recon.backward()
    assert all(np.isfinite(p.grad.data).all() for p in model.parameters() if p.grad is not None)


def test_mixture_prior_density_and_kl_estimate():
    model, x, rng = make("mixture_prior")
    model.prior_logits.data[...] = [0.5, -1.0, 0.0]
    model.prior_log_vars.data[...] = rng.normal(size=(3, 2)) * 0.5
    z = rng.normal(size=(4, 2)) * 2
    weights = np.exp([0.5, -1.0, 0.0]) / np.exp([0.5, -1.0, 0.0]).sum()
    density = sum(w * np.exp(log_normal(z, m, np.exp(v)))
                  for w, m, v in zip(weights, model.prior_means.data, model.prior_log_vars.data))
    np.testing.assert_allclose(model.log_prior(Tensor(z)).data, np.log(density), rtol=1e-12)
    eps = rng.normal(size=(5, 2))
    _, mu, log_var, z = model.forward(x, eps=eps)
    kl_estimate = log_normal(z.data, mu.data, np.exp(log_var.data)) - model.log_prior(z).data
    assert model.loss(x, eps=eps)[2].item() == pytest.approx(kl_estimate.mean(), rel=1e-12)


def test_standard_prior_log_density():
    model, _, rng = make("notebook")
    z = rng.normal(size=(6, 2))
    np.testing.assert_allclose(model.log_prior(Tensor(z)).data, log_normal(z, 0.0, 1.0), rtol=1e-12)


# ---------------------------------------------------------------------------
# gradients: central differences in float64 along random directions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_loss_gradients_match_central_differences(variant):
    model, x, rng = make(variant)
    k = model.iw_samples
    eps = rng.normal(size=(k, 5, model.latent_dim) if k > 1 else (5, model.latent_dim))
    params = list(model.parameters())
    grads = gradients(model.loss(x, eps=eps)[0], params)
    h = 1e-6
    for param, grad in zip(params, grads):
        direction = rng.normal(size=param.shape)
        original = param.data.copy()
        param.data[...] = original + h * direction
        up = model.loss(x, eps=eps)[0].item()
        param.data[...] = original - h * direction
        down = model.loss(x, eps=eps)[0].item()
        param.data[...] = original
        numerical = (up - down) / (2 * h)
        analytical = float(np.sum(grad.data * direction))
        assert analytical == pytest.approx(numerical, rel=1e-3, abs=1e-5), param.name


# ---------------------------------------------------------------------------
# the log-variance clamp
# ---------------------------------------------------------------------------


def test_soft_clamp_is_exactly_the_identity_in_the_normal_range():
    x = Tensor(np.linspace(-LOG_VAR_LINEAR, LOG_VAR_LINEAR, 1001), requires_grad=True)
    y = soft_clamp(x)
    assert y is x  # all inside: no nodes at all
    x.data[0] = -LOG_VAR_LINEAR - 1.0  # one element outside: the identity for all others
    y = soft_clamp(x)
    assert np.array_equal(y.data[1:], x.data[1:])
    (g,) = gradients(y.sum(), [x])
    assert np.array_equal(g.data[1:], np.ones(1000)) and 0 < g.data[0] < 1


def test_soft_clamp_is_bounded_smooth_and_keeps_a_gradient_outside():
    a = LOG_VAR_LINEAR
    x = Tensor(np.array([-1e6, -100.0, -a - 1.0, a + 1.0, 40.0, 1e6]), requires_grad=True)
    y = soft_clamp(x)
    assert np.all(np.abs(y.data) <= 2 * a) and np.all(np.abs(y.data) > a)
    np.testing.assert_allclose(y.data[3], a + a * math.tanh(1 / a), rtol=1e-14)
    assert np.array_equal(np.sign(y.data), np.sign(x.data))
    (g,) = gradients(y.sum(), [x])
    assert np.all(g.data[1:-1] > 0)  # shrinks with distance but does not vanish nearby
    # value and slope are continuous at the joint |x| = a
    h = 1e-7
    for joint in (a, -a):
        left, mid, right = soft_clamp(Tensor(np.array([joint - h, joint, joint + h]))).data
        assert (right - mid) / h == pytest.approx(1.0, abs=1e-6)
        assert (mid - left) / h == pytest.approx(1.0, abs=1e-6)


def test_huge_encoder_outputs_give_a_finite_loss_in_float32():
    rng = np.random.default_rng(0)
    model = VAE(2, rng=rng, dtype=np.float32)
    model.log_var_head.bias.data[...] = [100.0, -100.0]  # exp(100) overflows float32 without the clamp
    total, recon, kl = model.loss(np.ones((4, 2), dtype=np.float32), rng=rng)
    total.backward()
    assert np.isfinite([total.item(), recon.item(), kl.item()]).all()
    assert all(np.isfinite(p.grad.data).all() for p in model.parameters())
    assert model.log_var_head.bias.grad.data[0] != 0  # the clamp still passes a gradient back


# ---------------------------------------------------------------------------
# the importance-weighted log-likelihood
# ---------------------------------------------------------------------------


def linear_gaussian(posterior_shift: float = 0.0, posterior_log_var_shift: float = 0.0):
    """A VAE whose decoder mean is exactly affine, x_mean = z M + c (sigma^2 = 1/2), and whose encoder is the
    exact posterior (shifted by the given amounts). Returns the model and the closed-form log p(x) function.

    ReLU layers become affine by giving them a bias of 50: their inputs stay positive for all data used.
    """
    sigma2 = 0.5
    m = np.array([[1.0, 0.5, 0.0], [0.0, 0.0, 2.0]])  # orthogonal rows: the exact posterior is diagonal
    c = np.array([0.3, -1.0, 0.5])
    post_var = 1.0 / (1.0 + np.sum(m * m, axis=1) / sigma2)  # diag of (I + M M^T / sigma^2)^-1
    gain = m.T * post_var / sigma2  # posterior mean = (x - c) @ gain
    model = VAE(3, hidden_dims=(3,), decoder_hidden_dims=(2,), latent_dim=2, rng=np.random.default_rng(0),
                dtype=np.float64)
    big = 50.0
    model.encoder[0].weight.data[...] = np.eye(3)
    model.encoder[0].bias.data[...] = big
    model.mu_head.weight.data[...] = gain.T  # Linear weights are (out, in): y = x @ W.T + b
    model.mu_head.bias.data[...] = -(c + big) @ gain + posterior_shift
    model.log_var_head.weight.data[...] = 0.0
    model.log_var_head.bias.data[...] = np.log(post_var) + posterior_log_var_shift
    model.decoder[0].weight.data[...] = np.eye(2)
    model.decoder[0].bias.data[...] = big
    model.decoder[2].weight.data[...] = m.T
    model.decoder[2].bias.data[...] = c - big * m.sum(axis=0)
    cov = m.T @ m + sigma2 * np.eye(3)  # p(x) = N(c, M^T M + sigma^2 I)

    def log_px(x):
        diff = x - c
        _, logdet = np.linalg.slogdet(2 * np.pi * cov)
        return -0.5 * np.sum(diff @ np.linalg.inv(cov) * diff, axis=1) - 0.5 * logdet

    return model, log_px


def test_log_likelihood_is_exact_when_q_is_the_true_posterior():
    model, log_px = linear_gaussian()
    x = np.random.default_rng(1).normal(size=(20, 3)) * 2
    for k in (1, 7):
        estimate = model.log_likelihood(x, k=k, rng=np.random.default_rng(k))
        np.testing.assert_allclose(estimate, log_px(x), rtol=0, atol=1e-9)


def test_log_likelihood_with_one_sample_is_the_single_sample_importance_weight():
    model, x, rng = make("learned_variance")
    eps = rng.normal(size=(1, 5, 2))
    out, mu, log_var, z = model.forward(x, eps=eps[0])
    var = np.exp(model.decoder_log_var.data)
    log_w = (log_normal(x, out.data, var) + log_normal(z.data, 0.0, 1.0)
             - log_normal(z.data, mu.data, np.exp(log_var.data)))
    np.testing.assert_allclose(model.log_likelihood(x, k=1, eps=eps), log_w, rtol=1e-12)


def test_iwae_bound_rises_with_k_towards_the_true_log_likelihood():
    model, log_px = linear_gaussian(posterior_shift=0.7, posterior_log_var_shift=1.0)  # a poor q
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 3)) * 1.5
    truth = log_px(x).mean()
    means = [model.log_likelihood(x, k=k, rng=rng).mean() for k in (1, 10, 100, 1000)]
    assert means[0] < means[1] < means[2] < means[3] < truth + 0.01
    assert truth - means[0] > 0.3  # a visible gap at k = 1 ...
    assert truth - means[3] < 0.05  # ... nearly closed at k = 1000


def test_iwae_loss_is_minus_the_mean_bound_minus_the_constant():
    model, x, rng = make("iwae")
    eps = rng.normal(size=(4, 5, 2))
    total = model.loss(x, eps=eps)[0].item()
    bound = model.log_likelihood(x, k=4, eps=eps)
    assert total == pytest.approx(-bound.mean() - model.recon_constant, rel=1e-12)


def test_log_likelihood_is_batched_consistently():
    model, x, _ = make("mixture_prior")
    eps = np.random.default_rng(3).normal(size=(6, 5, 2))
    np.testing.assert_allclose(model.log_likelihood(x, k=6, eps=eps, batch_size=2),
                               model.log_likelihood(x, k=6, eps=eps), rtol=1e-13)


# ---------------------------------------------------------------------------
# generation, shapes, reproducibility
# ---------------------------------------------------------------------------


def test_sample_means_and_draws_from_the_likelihood():
    rng = np.random.default_rng(0)
    model = VAE(2, rng=rng, learn_decoder_variance=True, dtype=np.float64)
    model.decoder[-1].weight.data[...] = 0.0  # constant decoder mean c
    model.decoder[-1].bias.data[...] = [1.0, -2.0]
    model.decoder_log_var.data[...] = np.log([0.09, 4.0])
    means = model.sample(5, rng=rng)
    np.testing.assert_array_equal(means, np.tile([1.0, -2.0], (5, 1)))
    draws = model.sample(20_000, rng=rng, mean=False)
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, -2.0], atol=4 * 2 / math.sqrt(20_000))
    np.testing.assert_allclose(draws.std(axis=0), [0.3, 2.0], rtol=0.03)
    bern = VAE(3, likelihood="bernoulli", rng=rng, dtype=np.float64)
    bern.decoder[-1].weight.data[...] = 0.0
    bern.decoder[-1].bias.data[...] = [0.0, 100.0, -100.0]  # p = 1/2, 1, 0
    draws = bern.sample(4000, rng=rng, mean=False)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(axis=0), [0.5, 1.0, 0.0], atol=0.03)


def test_mixture_prior_samples_follow_the_component_weights():
    rng = np.random.default_rng(0)
    model = VAE(2, prior="mixture", prior_components=2, rng=rng, dtype=np.float64)
    model.prior_means.data[...] = [[-10.0, 0.0], [10.0, 0.0]]
    model.prior_logits.data[...] = [math.log(0.2), math.log(0.8)]
    model.prior_log_vars.data[...] = math.log(0.25)
    z = model.sample_prior(10_000, rng=rng)
    assert np.mean(z[:, 0] > 0) == pytest.approx(0.8, abs=0.02)
    np.testing.assert_allclose(z[z[:, 0] > 0].std(axis=0), [0.5, 0.5], rtol=0.05)


def test_shapes_and_seeded_reproducibility():
    model, x, _ = make("deep_beta")
    mu, log_var = model.encode(x)
    assert mu.shape == log_var.shape == (5, 3)
    out, _, _, z = model.forward(x, rng=np.random.default_rng(0))
    assert out.shape == (5, 3) and z.shape == (5, 3)
    assert model.sample(7, rng=np.random.default_rng(1)).shape == (7, 3)
    assert model.reconstruct(x, rng=np.random.default_rng(1)).shape == (5, 3)
    np.testing.assert_array_equal(model.sample(4, rng=np.random.default_rng(9)),
                                  model.sample(4, rng=np.random.default_rng(9)))
    a = VAE(2, rng=np.random.default_rng(3)).state_dict()
    b = VAE(2, rng=np.random.default_rng(3)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    rebuilt = VAE(**model.config(), rng=np.random.default_rng(0))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_float32_model_casts_float64_data():
    model = VAE(2, rng=np.random.default_rng(0), dtype=np.float32)
    total = model.loss(np.ones((3, 2)), rng=np.random.default_rng(0))[0]
    assert total.dtype == np.float32
    assert model.sample(2).dtype == np.float32


def test_bad_arguments_raise_clear_errors():
    rng = np.random.default_rng(0)
    model = VAE(2, rng=rng)
    with pytest.raises(ValueError, match=r"VAE.encode: expected x of shape \(batch, 2\), got \(4, 3\)"):
        model.encode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"VAE.loss: expected x of shape \(batch, 2\), got \(2,\)"):
        model.loss(np.zeros(2))
    with pytest.raises(ValueError, match=r"VAE: likelihood must be one of \('gaussian', 'bernoulli'\), got 'poisson'"):
        VAE(2, likelihood="poisson")
    with pytest.raises(ValueError, match=r"VAE: hidden_dims must be a tuple of positive ints \(at least one\), got \(\)"):
        VAE(2, hidden_dims=())
    with pytest.raises(ValueError, match=r"VAE: input_dim must be a positive int, got \(2, 3\)"):
        VAE((2, 3))
    with pytest.raises(ValueError, match=r"VAE: latent_dim must be a positive int, got 0"):
        VAE(2, latent_dim=0)
    with pytest.raises(ValueError, match=r"VAE: decoder_variance and learn_decoder_variance need likelihood='gaussian'"):
        VAE(2, likelihood="bernoulli", learn_decoder_variance=True)
    with pytest.raises(ValueError, match=r"VAE: the importance-weighted objective \(iw_samples=5\) needs beta=1"):
        VAE(2, iw_samples=5, beta=2.0)
    with pytest.raises(ValueError, match=r"VAE.sample_posterior: eps of shape \(3, 2\) does not end with mu's shape"):
        mu, log_var = model.encode(np.zeros((4, 2)))
        model.sample_posterior(mu, log_var, eps=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"VAE.log_likelihood: eps must have shape \(3, 4, 2\), got \(3, 4\)"):
        model.log_likelihood(np.zeros((4, 2)), k=3, eps=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"VAE.log_likelihood: k must be a positive int, got 0"):
        model.log_likelihood(np.zeros((4, 2)), k=0)
    with pytest.raises(ValueError, match=r"VAE.log_likelihood: batch_size must be a positive int, got 0"):
        model.log_likelihood(np.zeros((4, 2)), batch_size=0)
    with pytest.raises(ValueError, match=r"VAE: prior_components must be a positive int, got 0"):
        VAE(2, prior="mixture", prior_components=0)
    with pytest.raises(TypeError, match=r"VAE: rng must be a numpy.random.Generator or None, got int"):
        VAE(2, rng=42)
    with pytest.raises(ValueError, match=r"VAE: hidden_dims must be a tuple of positive ints .*, got \(8, True\)"):
        VAE(2, hidden_dims=(8, True))
    with pytest.raises(ValueError, match=r"VAE: iw_samples must be a positive int, got 0"):
        VAE(2, iw_samples=0)
    with pytest.raises(ValueError, match=r"VAE.sample: n must be a non-negative int, got -1"):
        model.sample(-1)


def test_sample_posterior_is_mu_plus_sigma_times_the_noise():
    model = VAE(2, rng=np.random.default_rng(0), dtype=np.float64)
    mu, log_var = model.encode(np.ones((4, 2)))
    eps = np.random.default_rng(1).standard_normal((3, 4, 2))  # 3 samples per example
    z = model.sample_posterior(mu, log_var, eps=eps)
    np.testing.assert_allclose(z.data, mu.data + np.exp(log_var.data / 2) * eps, rtol=1e-15)
    # Without eps the noise comes from rng: the same seed gives the same draw, and model.rng is left alone.
    before = model.rng.bit_generator.state
    first = model.sample_posterior(mu, log_var, rng=np.random.default_rng(2)).data
    assert np.array_equal(first, model.sample_posterior(mu, log_var, rng=np.random.default_rng(2)).data)
    assert model.rng.bit_generator.state == before
