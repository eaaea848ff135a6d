r"""A variational autoencoder built from ``nn`` modules; every gradient comes from the engine.

Model (Kingma & Welling 2014). Latent z in R^L, data x in R^D:

    prior        p(z)       = N(0, I)                    (or a learnable mixture of K Gaussians)
    decoder      p(x | z)   = N(x; m(z), sigma^2 I)      (likelihood="gaussian")
                            = prod_d Bernoulli(x_d; sigmoid(l_d(z)))   (likelihood="bernoulli")
    encoder      q(z | x)   = N(z; mu(x), diag(exp(log_var(x))))

Training minimises the negative evidence lower bound, per example

    -ELBO(x) = E_q[-log p(x | z)] + beta * KL(q(z | x) || p(z)),

with one reparameterised sample z = mu + exp(log_var / 2) * eps, eps ~ N(0, I).
``loss`` follows the origin notebook's convention: both terms are summed over
dimensions and averaged over the batch, and the reconstruction term of the
Gaussian decoder is the summed squared error sum_d (x_d - m_d)^2.

That squared error is a log-likelihood with a definite variance: with
sigma^2 = 1/2,

    -log N(x; m, 1/2 I) = sum_d (x_d - m_d)^2 + (D/2) log(pi),

so the notebook's loss is a negative ELBO in nats minus the constant
(D/2) log(pi). ``loss`` leaves that constant out (so it equals the notebook's
number); ``elbo`` and ``log_likelihood`` put it back and are in nats. Another
fixed variance (``decoder_variance``), or a learned one per data dimension
(``learn_decoder_variance=True``, starting at ``decoder_variance``), makes the
reconstruction term

    sum_d [(x_d - m_d)^2 / (2 sigma_d^2) + log(2 sigma_d^2) / 2],

again the negative log-likelihood minus (D/2) log(pi), and equal to the squared
error at sigma^2 = 1/2.

Numerical safety of log-variances: exp(log_var) overflows float32 above 88.
Every log-variance passes through ``soft_clamp``, which is exactly the
identity on [-15, 15] (far outside the range a trained model uses, so it does
not change results there) and bends smoothly (value and slope continuous)
towards +-30 outside, where the gradient shrinks (like 4 exp(-2(|x| - 15)/15)) but stays non-zero
until it underflows far out (|x| beyond about 600 in float32).

Architectures. The encoder and the decoder are modules of the VAE, and three kinds exist:

- ``arch="mlp"`` (the default): Linear + ReLU layers, the encoder's features going to two linear
  heads (``mu_head``, ``log_var_head``), as the notebook builds it;
- ``arch="conv"``: convolutions for images of ``image_shape`` (C, H, W) (``vae.convolutional``),
  again with the two heads on the encoder's features;
- modules the user builds, ``encoder=`` and ``decoder=`` (either or both; the other side is the MLP).
  Their contract, checked on every call:

      encoder: x of shape (batch, input_dim)  ->  (batch, 2 * latent_dim): mu, then log_var
      decoder: z of shape (batch, latent_dim) ->  (batch, input_dim): the Gaussian mean or the logits

  Data stays in rows of ``input_dim`` numbers everywhere (an image module reshapes itself, e.g.
  with ``nn.Unflatten``), and sample axes in front of z (k samples per example) are folded into
  the batch axis before such a decoder sees them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core import Function, Tensor, get_default_dtype, no_grad, tracing
from tinygrad_vae.nn import Linear, Module, Parameter, ReLU, Sequential, init
from tinygrad_vae.ops import gaussian_kl, reparameterize, squared_error
from tinygrad_vae.ops.activations import TanhFn
from tinygrad_vae.ops.elementwise import Clip
from tinygrad_vae.vae.convolutional import conv_modules
from tinygrad_vae.validation import check_generator, check_int, is_int

LIKELIHOODS = ("gaussian", "bernoulli")
PRIORS = ("standard", "mixture")
ARCHS = ("mlp", "conv")
# hidden_dims=None: the MLP's hidden widths, or the conv encoder's channels.
DEFAULT_HIDDEN_DIMS = {"mlp": (32,), "conv": (16, 32)}
# A guess of the widest intermediate of a user's module, in numbers per example per input number
# (a 3x3 convolution to 16 channels at full resolution unfolds to 144 per pixel): it sizes batches only.
USER_MODULE_WIDTH = 144
WEIGHT_INITS = ("notebook", "torch")
NOTEBOOK_WEIGHT_STD = 0.1
# soft_clamp is the identity on [-LOG_VAR_LINEAR, LOG_VAR_LINEAR] and bounded by 2 * LOG_VAR_LINEAR.
LOG_VAR_LINEAR = 15.0
_LOG_2PI = math.log(2.0 * math.pi)


class SoftClamp(Function):
    """soft_clamp as one op: ``c + a * tanh((x - c) / a)`` with ``c = clip(x, -a, a)``; its derivative is
    ``1 - tanh((x - c) / a)^2`` (1 inside, where x - c = 0), so one branch-free rule serves every element."""

    def forward(self, x: np.ndarray, linear: float) -> np.ndarray:
        inner = np.clip(x, -linear, linear)
        self.linear, self.tanh = linear, np.tanh((x - inner) * (1.0 / linear))
        return inner + self.tanh * linear

    def backward(self, grad: Any, out: Any, x: Any) -> tuple[Any]:
        if isinstance(grad, Tensor):  # recorded (create_graph): tanh as a function of x, for second derivatives
            t = TanhFn.apply((x - Clip.apply(x, lo=-self.linear, hi=self.linear)) * (1.0 / self.linear))
        else:
            t = self.tanh
        return (grad * (1.0 - t * t),)


def soft_clamp(x: Tensor, linear: float = LOG_VAR_LINEAR) -> Tensor:
    r"""Identity on [-a, a]; outside, sign(x) * a * (1 + tanh((|x| - a) / a)), bounded by 2a.

    Value and first derivative are continuous at |x| = a (slope 1), and the
    slope sech^2((|x| - a) / a) is positive (until it underflows, for |x| of
    several hundred), so a unit pushed out still gets a gradient back. With
    a = 15, exp(x) stays within [1e-13, 1.1e13]. One op without a branch on the values
    (``SoftClamp``), so that a compiled step can record it.
    """
    return SoftClamp.apply(x, linear=linear)


def _hidden_stack(sizes: Sequence[int], generator: np.random.Generator, dtype: Any) -> list:
    """Linear + ReLU for each consecutive pair of ``sizes``."""
    layers: list[Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [Linear(n_in, n_out, generator=generator, dtype=dtype), ReLU()]
    return layers


def notebook_init_(model: Module, generator: np.random.Generator, std: float = NOTEBOOK_WEIGHT_STD) -> None:
    """The origin notebook's initialisation of every ``Linear`` of ``model``: W = std * N(0, 1), b = 0.

    Layers are visited in ``modules()`` order. The notebook stores W as (in, out); each draw has
    that shape and is stored transposed, so one seed gives the notebook's numbers in the same order.
    """
    for module in model.modules():
        if isinstance(module, Linear):
            module.weight.data[...] = (std * generator.standard_normal((module.in_features, module.out_features))).T
            if module.bias is not None:
                init.zeros_(module.bias)


def _check_widths(value: Any, name: str, allow_empty: bool) -> tuple[int, ...]:
    """Hidden layer widths as a tuple of positive ints; a single int stands for one layer."""
    widths = (value,) if is_int(value) else tuple(value)
    if (not widths and not allow_empty) or not all(is_int(width) and width >= 1 for width in widths):
        raise ValueError(f"VAE: {name} must be a tuple of positive ints{'' if allow_empty else ' (at least one)'}, "
                         f"got {value!r}")
    return tuple(int(width) for width in widths)


def _check_image_shape(value: Any, input_dim: int) -> tuple[int, int, int]:
    """``value`` as (C, H, W) of positive ints whose product is ``input_dim``."""
    shape = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(shape) != 3 or not all(is_int(n) and n >= 1 for n in shape):
        raise ValueError(f"VAE: arch='conv' needs image_shape=(channels, height, width) of positive ints, "
                         f"got {value!r}")
    if math.prod(shape) != input_dim:
        raise ValueError(f"VAE: image_shape {shape} holds {math.prod(shape)} numbers, but input_dim is {input_dim}")
    return tuple(int(n) for n in shape)  # type: ignore[return-value]


def _check_user_module(module: Any, name: str, contract: str, dtype: np.dtype) -> Module:
    """``module`` if it is a Module whose parameters all have ``dtype``; a clear error otherwise."""
    if not isinstance(module, Module):
        raise TypeError(f"VAE: {name} must be a tinygrad_vae.nn.Module mapping {contract}, "
                        f"got {type(module).__name__}")
    for param_name, param in module.named_parameters():
        if param.dtype != dtype:
            raise TypeError(f"VAE: {name} parameter {param_name!r} is {param.dtype}, but the VAE's dtype is {dtype} "
                            f"(build the module with dtype={dtype}, or pass dtype= to the VAE)")
    return module


class VAE(Module):
    """A VAE with an encoder (features, then separate mu and log_var heads) and a decoder: MLPs by default.

    ``VAE(input_dim, hidden_dims=None, latent_dim=2, likelihood="gaussian", beta=1.0, rng=None, ...)``

    - ``arch``: ``"mlp"`` (Linear + ReLU layers) or ``"conv"`` (convolutions over images of
      ``image_shape`` = (C, H, W), with C * H * W = input_dim; see ``vae.convolutional``).
    - ``hidden_dims``: the MLP encoder's hidden widths (default (32,)), or the conv encoder's channels
      (default (16, 32)). The MLP decoder uses them reversed unless ``decoder_hidden_dims`` is given
      (the notebook: one hidden layer of 32 on both sides); the conv decoder mirrors the encoder.
    - ``encoder``, ``decoder``: modules of your own instead of the MLP's (see the module docstring for
      their contract); the VAE then builds only the other side, if any.
    - ``likelihood``: ``"gaussian"`` (decoder outputs the mean) or ``"bernoulli"`` (decoder outputs
      logits; for data in [0, 1] such as images).
    - ``decoder_variance``: the Gaussian decoder's fixed sigma^2 (1/2: the notebook's squared error);
      ``learn_decoder_variance=True`` makes it a parameter per data dimension, starting there.
      A small fixed variance makes the latent code carry the detail, so decoder means look like data.
    - ``prior``: ``"standard"`` N(0, I), or ``"mixture"``, a learnable mixture of ``prior_components``
      diagonal Gaussians (means drawn from N(0, I), unit variances, equal weights at start); its KL
      term has no closed form and is the one-sample estimate log q(z|x) - log p(z).
    - ``iw_samples``: k > 1 trains on the importance-weighted bound (IWAE, Burda et al. 2016)
      instead of the ELBO (needs ``beta=1``).
    - ``weight_init``: ``"notebook"`` (the MLP's default, every MLP preset's): each Linear's weight
      0.1 * N(0, 1) and zero bias, drawn in the notebook's order and layout (``notebook_init_``);
      ``"torch"``: the layers' own default (torch's kaiming-uniform weights and uniform biases), the
      only choice and the default for ``arch="conv"``. Modules of the user's own keep their weights.
    - ``rng``: the ``numpy.random.Generator`` for the initial weights and, unless a call passes its
      own, for eps and prior samples. ``dtype``: float32 or float64 (default: ``get_default_dtype()``).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int] | None = None,
        latent_dim: int = 2,
        likelihood: str = "gaussian",
        beta: float = 1.0,
        rng: np.random.Generator | None = None,
        *,
        arch: str = "mlp",
        image_shape: Sequence[int] | None = None,
        encoder: Module | None = None,
        decoder: Module | None = None,
        decoder_hidden_dims: Sequence[int] | None = None,
        decoder_variance: float = 0.5,
        learn_decoder_variance: bool = False,
        prior: str = "standard",
        prior_components: int = 4,
        iw_samples: int = 1,
        weight_init: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        input_dim, latent_dim = check_int(input_dim, "input_dim", "VAE"), check_int(latent_dim, "latent_dim", "VAE")
        if arch not in ARCHS:
            raise ValueError(f"VAE: arch must be one of {ARCHS}, got {arch!r}")
        user_modules = [name for name, module in (("encoder", encoder), ("decoder", decoder)) if module is not None]
        if user_modules and arch != "mlp":
            raise ValueError(f"VAE: give either arch={arch!r} or your own {' and '.join(user_modules)}, not both")
        if len(user_modules) == 2 and (hidden_dims is not None or decoder_hidden_dims is not None):
            raise ValueError("VAE: hidden_dims and decoder_hidden_dims shape the MLP the VAE builds; with both "
                             "encoder= and decoder= given it builds none")
        if decoder is not None and decoder_hidden_dims is not None:
            raise ValueError("VAE: decoder_hidden_dims shape the MLP decoder; with decoder= given it builds none")
        if arch == "conv" and decoder_hidden_dims is not None:
            raise ValueError("VAE: decoder_hidden_dims are for arch='mlp'; the conv decoder mirrors the encoder")
        if arch != "conv" and image_shape is not None:
            raise ValueError(f"VAE: image_shape is for arch='conv', got it with arch={arch!r}")
        self.image_shape = _check_image_shape(image_shape, input_dim) if arch == "conv" else None
        hidden_dims = _check_widths(DEFAULT_HIDDEN_DIMS[arch] if hidden_dims is None else hidden_dims,
                                    "hidden_dims", allow_empty=False)
        decoder_hidden_dims = (tuple(reversed(hidden_dims)) if decoder_hidden_dims is None or arch == "conv"
                               else _check_widths(decoder_hidden_dims, "decoder_hidden_dims", allow_empty=True))
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"VAE: likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if prior not in PRIORS:
            raise ValueError(f"VAE: prior must be one of {PRIORS}, got {prior!r}")
        weight_init = ("torch" if arch == "conv" else "notebook") if weight_init is None else weight_init
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f"VAE: weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}")
        if arch == "conv" and weight_init != "torch":
            raise ValueError(f"VAE: the conv architecture initialises as torch does (weight_init='torch'), "
                             f"got weight_init={weight_init!r}")
        if (learn_decoder_variance or decoder_variance != 0.5) and likelihood != "gaussian":
            raise ValueError("VAE: decoder_variance and learn_decoder_variance need likelihood='gaussian'")
        if not decoder_variance > 0:
            raise ValueError(f"VAE: decoder_variance must be positive, got {decoder_variance!r}")
        iw_samples = check_int(iw_samples, "iw_samples", "VAE")
        if iw_samples > 1 and beta != 1.0:
            raise ValueError(f"VAE: the importance-weighted objective (iw_samples={iw_samples}) needs beta=1, "
                             f"got beta={beta}")
        if prior == "mixture":
            check_int(prior_components, "prior_components", "VAE")
        if not beta >= 0:
            raise ValueError(f"VAE: beta must be non-negative, got {beta}")
        self.rng = check_generator(rng, "VAE")
        self.dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.input_dim, self.latent_dim, self.hidden_dims = input_dim, latent_dim, hidden_dims
        self.decoder_hidden_dims = decoder_hidden_dims
        self.likelihood, self.beta, self.prior = likelihood, float(beta), prior
        self.decoder_variance, self.learn_decoder_variance = float(decoder_variance), bool(learn_decoder_variance)
        self.iw_samples = iw_samples
        self.prior_components, self.weight_init = int(prior_components), weight_init
        self.arch, self.user_modules = arch, tuple(user_modules)

        if arch == "conv":
            self.encoder, self.mu_head, self.log_var_head, self.decoder = conv_modules(
                self.image_shape, hidden_dims, latent_dim, generator=self.rng, dtype=self.dtype)
        else:
            # Same draw order as the notebook: encoder hidden, mu head, log_var head, decoder. The notebook's
            # initialisation overwrites the layers' own, which therefore draw from a generator of their own
            # (so self.rng's stream is the notebook's).
            notebook = weight_init == "notebook"
            layer = {"generator": np.random.default_rng(0) if notebook else self.rng, "dtype": self.dtype}
            built: list[Module] = []
            if encoder is None:
                self.encoder = Sequential(*_hidden_stack((input_dim, *hidden_dims), **layer))
                self.mu_head = Linear(hidden_dims[-1], latent_dim, **layer)
                self.log_var_head = Linear(hidden_dims[-1], latent_dim, **layer)
                built += [self.encoder, self.mu_head, self.log_var_head]
            else:
                self.encoder = _check_user_module(encoder, "encoder", "(batch, input_dim) to (batch, 2 * latent_dim)",
                                                  self.dtype)
            if decoder is None:
                dec_sizes = (latent_dim, *decoder_hidden_dims)
                self.decoder = Sequential(*_hidden_stack(dec_sizes, **layer), Linear(dec_sizes[-1], input_dim, **layer))
                built.append(self.decoder)
            else:
                self.decoder = _check_user_module(decoder, "decoder", "(batch, latent_dim) to (batch, input_dim)",
                                                  self.dtype)
            if notebook:
                for module in built:  # in registration order, so one seed gives the notebook's draws
                    notebook_init_(module, self.rng)
        if self.learn_decoder_variance:
            self.decoder_log_var = Parameter(np.full(input_dim, math.log(decoder_variance), dtype=self.dtype))
        if prior == "mixture":
            k = self.prior_components
            self.prior_means = Parameter(self.rng.standard_normal((k, latent_dim)).astype(self.dtype))
            self.prior_log_vars = Parameter(np.zeros((k, latent_dim), dtype=self.dtype))
            self.prior_logits = Parameter(np.zeros(k, dtype=self.dtype))

    def config(self) -> dict[str, Any]:
        """The constructor arguments (all but ``rng``), enough to rebuild the architecture: ``VAE(**config)``.

        A VAE with modules of the user's own cannot be rebuilt from words: its config also lists them under
        ``user_modules`` (a key the constructor does not take), so that loading it fails clearly.
        """
        config = {
            "input_dim": self.input_dim, "arch": self.arch,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "hidden_dims": list(self.hidden_dims), "latent_dim": self.latent_dim,
            "likelihood": self.likelihood, "beta": self.beta,
            # the conv decoder mirrors the encoder's channels (there is no option for them)
            "decoder_hidden_dims": None if self.arch == "conv" else list(self.decoder_hidden_dims),
            "decoder_variance": self.decoder_variance, "learn_decoder_variance": self.learn_decoder_variance,
            "prior": self.prior, "prior_components": self.prior_components, "iw_samples": self.iw_samples,
            "weight_init": self.weight_init, "dtype": str(self.dtype),
        }
        if self.user_modules:
            config.update(user_modules=list(self.user_modules))
            for name in self.user_modules:  # the MLP options that do not describe a user's module
                config.pop("decoder_hidden_dims" if name == "decoder" else "hidden_dims", None)
        return config

    def extra_repr(self) -> str:
        arch = f"arch={self.arch!r}, " if self.arch != "mlp" else ""
        return (f"input_dim={self.input_dim}, latent_dim={self.latent_dim}, {arch}likelihood={self.likelihood!r}, "
                f"prior={self.prior!r}, beta={self.beta}")

    @property
    def activation_width(self) -> int:
        """About the most numbers per example that one intermediate array of a forward pass holds, for sizing
        batches: the widest layer of the MLP, a conv layer's unfolded 3x3 patches, a guess for a user's module."""
        if self.arch == "conv":
            return 9 * self.hidden_dims[0] * self.image_shape[1] * self.image_shape[2]
        if self.user_modules:
            return USER_MODULE_WIDTH * self.input_dim
        return max(self.input_dim, *self.hidden_dims)

    # ---- the model's pieces --------------------------------------------------------
    def _input(self, x: Any, where_: str) -> Tensor:
        """``x`` as a Tensor of the model's dtype with shape (batch, input_dim)."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.ndim != 2 or data.shape[1] != self.input_dim:
            raise ValueError(f"VAE.{where_}: expected x of shape (batch, {self.input_dim}), got {data.shape}")
        if data.dtype != self.dtype:
            data = data.astype(self.dtype)
        return x if isinstance(x, Tensor) and x.dtype == self.dtype else Tensor(data)

    def encode(self, x: Any) -> tuple[Tensor, Tensor]:
        """The parameters of q(z | x): ``(mu, log_var)``, each (batch, latent_dim); log_var is soft-clamped."""
        x = self._input(x, "encode")
        h = self.encoder(x)
        if "encoder" not in self.user_modules:
            return self.mu_head(h), soft_clamp(self.log_var_head(h))
        latent = self.latent_dim
        if not isinstance(h, Tensor) or h.shape != (len(x), 2 * latent):
            got = f"shape {h.shape}" if isinstance(h, Tensor) else f"a {type(h).__name__}"
            raise ValueError(f"VAE.encode: the encoder returned {got} for x of shape {x.shape}; expected a Tensor of "
                             f"shape (batch, 2 * latent_dim) = {(len(x), 2 * latent)}: mu, then log_var")
        return h[:, :latent], soft_clamp(h[:, latent:])

    def _draw_normal(self, shape: tuple[int, ...], rng: np.random.Generator | None) -> Tensor:
        return Tensor(tracing.draw(self.rng if rng is None else rng, "standard_normal", shape, dtype=self.dtype))

    def sample_posterior(
        self, mu: Tensor, log_var: Tensor, eps: Any = None, rng: np.random.Generator | None = None
    ) -> Tensor:
        """A draw z ~ q(z | x) = N(mu, diag(exp(log_var))) that gradients flow through (the op ``reparameterize``):

            z = mu + exp(log_var / 2) * eps,   eps ~ N(0, I) from ``rng`` (default ``self.rng``) unless given.

        ``eps`` may have leading sample axes, e.g. (k, batch, latent_dim) for k samples per example.
        """
        if eps is None:
            eps = self._draw_normal(mu.shape, rng)
        elif not (isinstance(eps, Tensor) and eps.dtype == self.dtype):
            eps = Tensor(np.asarray(eps, dtype=self.dtype))
        if eps.shape[-mu.ndim:] != mu.shape:
            raise ValueError(f"VAE.sample_posterior: eps of shape {eps.shape} does not end with mu's shape {mu.shape}")
        return reparameterize(mu, log_var, eps)

    def _decoder_output(self, z: Tensor) -> Tensor:
        """The decoder's output for ``z`` of shape (..., latent_dim): shape (..., input_dim).

        The MLP's Linear layers take any leading axes; a conv or user decoder gets one batch axis.
        """
        if self.arch == "mlp" and "decoder" not in self.user_modules:
            return self.decoder(z)
        if z.ndim < 1 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"VAE.decode: expected z of shape (..., {self.latent_dim}), got {z.shape}")
        leading = z.shape[:-1]
        rows = math.prod(leading)
        out = self.decoder(z if z.ndim == 2 else z.reshape(rows, self.latent_dim))
        if not isinstance(out, Tensor) or out.shape != (rows, self.input_dim):
            got = f"shape {out.shape}" if isinstance(out, Tensor) else f"a {type(out).__name__}"
            raise ValueError(f"VAE.decode: the decoder returned {got} for z of shape {(rows, self.latent_dim)}; "
                             f"expected a Tensor of shape (batch, input_dim) = {(rows, self.input_dim)}")
        return out if z.ndim == 2 else out.reshape(*leading, self.input_dim)

    def decode(self, z: Any) -> Tensor:
        """The mean of p(x | z): the decoder's output (Gaussian) or sigmoid of its logits (Bernoulli)."""
        out = self._decoder_output(z if isinstance(z, Tensor) else Tensor(np.asarray(z, dtype=self.dtype)))
        return out.sigmoid() if self.likelihood == "bernoulli" else out

    def forward(
        self, x: Any, eps: Any = None, rng: np.random.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(decoder_output, mu, log_var, z)`` for one reparameterised sample.

        ``decoder_output`` is the mean of p(x|z) for a Gaussian decoder and the logits for a Bernoulli one.
        """
        mu, log_var = self.encode(x)
        z = self.sample_posterior(mu, log_var, eps, rng)
        return self._decoder_output(z), mu, log_var, z

    # ---- densities (per example, summed over dimensions) ---------------------------------
    @property
    def recon_constant(self) -> float:
        """What ``loss``'s reconstruction term leaves out of -log p(x|z): (D/2) log(pi) (Gaussian), 0 (Bernoulli)."""
        return 0.5 * self.input_dim * math.log(math.pi) if self.likelihood == "gaussian" else 0.0

    def _recon_error(self, x: Tensor, out: Tensor) -> Tensor:
        """-log p(x | z) - recon_constant, summed over the last axis; ``out`` is the decoder's output."""
        if self.likelihood == "bernoulli":
            # -log Bernoulli(x; sigmoid(l)) = softplus(l) - x l: never takes log(0), for any logit.
            return (out.softplus() - x * out).sum(axis=-1)
        squared = squared_error(out, x)
        # (x - m)^2 / (2 sigma^2) + log(2 sigma^2) / 2 = -log N(x; m, sigma^2) - log(pi) / 2
        if self.learn_decoder_variance:
            log_var = soft_clamp(self.decoder_log_var)
            return (squared * (-log_var).exp() * 0.5 + (log_var + math.log(2.0)) * 0.5).sum(axis=-1)
        if self.decoder_variance == 0.5:
            return squared.sum(axis=-1)  # the notebook's summed squared error, exactly
        two_var = 2.0 * self.decoder_variance
        return squared.sum(axis=-1) * (1.0 / two_var) + 0.5 * self.input_dim * math.log(two_var)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z), summed over the latent axis."""
        if self.prior == "standard":
            return ((z * z).sum(axis=-1) + self.latent_dim * _LOG_2PI) * -0.5
        means, log_vars = self.prior_means, soft_clamp(self.prior_log_vars)
        diff = z.unsqueeze(-2) - means  # (..., K, L)
        log_components = ((diff * diff * (-log_vars).exp() + log_vars).sum(axis=-1) + self.latent_dim * _LOG_2PI) * -0.5
        return (log_components + self.prior_logits.log_softmax()).logsumexp(axis=-1)

    def _log_posterior(self, z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
        """log q(z | x), summed over the latent axis."""
        diff = z - mu
        return ((diff * diff * (-log_var).exp() + log_var).sum(axis=-1) + self.latent_dim * _LOG_2PI) * -0.5

    def _kl(self, mu: Tensor, log_var: Tensor, z: Tensor) -> Tensor:
        """KL(q(z|x) || p(z)) per example: closed form for N(0, I); one-sample estimate at ``z`` for a mixture."""
        if self.prior == "standard":
            return gaussian_kl(mu, log_var).sum(axis=-1)
        return self._log_posterior(z, mu, log_var) - self.log_prior(z)

    def _log_weights(self, x: Tensor, k: int, eps: Any, rng: np.random.Generator | None) -> tuple[Tensor, ...]:
        """log w_i = log p(x, z_i) - log q(z_i | x) for k samples per example, shape (k, batch), in nats.

        Also returns the reconstruction error and the KL term of each sample (for reporting).
        """
        mu, log_var = self.encode(x)
        if eps is None:
            eps = self._draw_normal((k, *mu.shape), rng)
        z = self.sample_posterior(mu, log_var, eps)
        recon = self._recon_error(x, self._decoder_output(z))
        log_ratio = self.log_prior(z) - self._log_posterior(z, mu, log_var)
        return -(recon + self.recon_constant) + log_ratio, recon, -log_ratio

    # ---- objectives ------------------------------------------------------------------------
    def loss(
        self, x: Any, eps: Any = None, rng: np.random.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(total, recon, kl)``, scalar Tensors averaged over the batch (the notebook's convention).

        recon = -log p(x|z) - recon_constant (the summed squared error for the fixed-variance Gaussian),
        kl = KL(q(z|x) || p(z)), total = recon + beta * kl. With ``iw_samples`` k > 1, total is instead
        -(IWAE bound) - recon_constant, and recon and kl are averaged over the k samples (for reporting).
        ``eps`` (batch, latent_dim), or (k, batch, latent_dim) when k > 1, fixes the noise.
        """
        # Python numbers and flags the loss reads: a compiled step traces again when one changes (beta annealed).
        tracing.guard_attributes(self, "beta", "likelihood", "prior", "decoder_variance", "learn_decoder_variance",
                                 "iw_samples")
        x = self._input(x, "loss")
        if self.iw_samples > 1:
            log_w, recon, kl = self._log_weights(x, self.iw_samples, eps, rng)
            bound = log_w.logsumexp(axis=0) - math.log(self.iw_samples)
            return -bound.mean() - self.recon_constant, recon.mean(), kl.mean()
        out, mu, log_var, z = self.forward(x, eps, rng)
        recon = self._recon_error(x, out).mean()
        kl = self._kl(mu, log_var, z).mean()
        return recon + kl * self.beta, recon, kl

    @no_grad()
    def elbo(self, x: Any, eps: Any = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """One-sample ELBO estimate per example, in nats: log p(x|z) - KL(q(z|x) || p(z)) (beta = 1)."""
        x = self._input(x, "elbo")
        out, mu, log_var, z = self.forward(x, eps, rng)
        return -(self._recon_error(x, out) + self.recon_constant + self._kl(mu, log_var, z)).data

    @no_grad()
    def log_likelihood(
        self, x: Any, k: int = 100, rng: np.random.Generator | None = None, eps: Any = None, batch_size: int = 256
    ) -> np.ndarray:
        r"""Importance-weighted estimate of log p(x) per example, in nats:

            log p(x) ~ log (1/k) sum_{i=1..k} p(x, z_i) / q(z_i | x),   z_i ~ q(z | x),

        computed with logsumexp so it cannot underflow. It is a lower bound in expectation that rises
        with k towards log p(x) (Burda et al. 2016). ``eps`` of shape (k, n, latent_dim) fixes the noise.
        """
        x = self._input(x, "log_likelihood")
        k = check_int(k, "k", "VAE.log_likelihood")
        batch_size = check_int(batch_size, "batch_size", "VAE.log_likelihood")
        if eps is not None and np.shape(eps) != (k, len(x), self.latent_dim):
            raise ValueError(f"VAE.log_likelihood: eps must have shape {(k, len(x), self.latent_dim)}, "
                             f"got {np.shape(eps)}")
        rng = self.rng if rng is None else rng
        result = np.empty(len(x), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            log_w = self._log_weights(x[part], k, None if eps is None else np.asarray(eps)[:, part], rng)[0]
            result[part] = (log_w.logsumexp(axis=0) - math.log(k)).data
        return result

    # ---- generation ------------------------------------------------------------------------
    def sample_prior(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` draws z ~ p(z), shape (n, latent_dim)."""
        rng = self.rng if rng is None else rng
        eps = rng.standard_normal((n, self.latent_dim), dtype=self.dtype)
        if self.prior == "standard":
            return eps
        weights = np.exp(self.prior_logits.log_softmax().data.astype(np.float64))
        component = rng.choice(self.prior_components, size=n, p=weights / weights.sum())
        std = np.exp(0.5 * soft_clamp(self.prior_log_vars).data)
        return self.prior_means.data[component] + eps * std[component]

    @no_grad()
    def sample(self, n: int, rng: np.random.Generator | None = None, mean: bool = True) -> np.ndarray:
        """``n`` samples, shape (n, input_dim): z ~ p(z), then the decoder mean (``mean=True``, as the notebook
        draws them) or a draw x ~ p(x | z) (``mean=False``)."""
        n = check_int(n, "n", "VAE.sample", low=0)
        rng = self.rng if rng is None else rng
        means = self.decode(self.sample_prior(n, rng)).data
        return means if mean else self._draw_likelihood(means, rng)

    def _draw_likelihood(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """x ~ p(x | z) given the decoder means."""
        if self.likelihood == "bernoulli":
            return (rng.random(means.shape) < means).astype(self.dtype)
        log_var = (soft_clamp(self.decoder_log_var).data if self.learn_decoder_variance
                   else math.log(self.decoder_variance))
        return means + np.exp(0.5 * log_var) * rng.standard_normal(means.shape, dtype=self.dtype)

    @no_grad()
    def reconstruct(self, x: Any, eps: Any = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Decoder means at one sample z ~ q(z | x), shape (batch, input_dim), as the notebook's figure shows them."""
        mu, log_var = self.encode(x)
        return self.decode(self.sample_posterior(mu, log_var, eps, rng)).data
