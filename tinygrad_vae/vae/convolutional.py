r"""The convolutional encoder and decoder of ``VAE(arch="conv")``, for images of shape (C, H, W).

With channels (c_1, ..., c_n) (the VAE's ``hidden_dims``, default (16, 32)), every convolution
3x3 with padding 1 and each followed by a ReLU, the encoder is

    Unflatten -> Conv2d(C, c_1, stride 1) -> Conv2d(c_1, c_2, stride 2) -> ... -> Conv2d(c_{n-1}, c_n, stride 2)
              -> Flatten,

halving the height and width at each stride-2 layer (h -> floor((h - 1) / 2) + 1), and the VAE puts
its two linear heads (``mu_head``, ``log_var_head``) on the c_n * h_n * w_n features. The decoder
mirrors it:

    Linear(latent, c_n * h_n * w_n) -> ReLU -> Unflatten
        -> ConvTranspose2d(c_n, c_{n-1}, stride 2) -> ... -> ConvTranspose2d(c_2, c_1, stride 2)
        -> Conv2d(c_1, C, stride 1, no ReLU) -> Flatten,

each transposed convolution doubling the size back, (h - 1) * 2 - 2 + 3 + p = 2h - 1 + p, with
``output_padding`` p = 1 where the encoder halved an even size and 0 where it halved an odd one.
Its output is the Gaussian mean or the Bernoulli logits of every pixel, in the rows of
C * H * W numbers that the VAE works with. For the 8x8 digits with (16, 32):
1x8x8 -> 16x8x8 -> 32x4x4 (512 features) -> 16x8x8 -> 1x8x8.

Every layer has PyTorch's signature, weight layout and default initialisation, drawn from one
generator in the order encoder, mu head, log_var head, decoder, so a PyTorch model of the same
layers can take these weights one-to-one (``benchmarks/torch_reference.py`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae import nn

KERNEL, PADDING = 3, 1


def _halved(size: int) -> int:
    """The size after a 3x3 convolution with stride 2 and padding 1."""
    return (size + 2 * PADDING - KERNEL) // 2 + 1


def conv_modules(
    image_shape: tuple[int, int, int],
    channels: Sequence[int],
    latent_dim: int,
    generator: np.random.Generator,
    dtype: Any,
) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """``(encoder, mu_head, log_var_head, decoder)`` as described in the module docstring."""
    in_channels, height, width = image_shape
    sizes = [(height, width)]
    for _ in channels[1:]:
        sizes.append((_halved(sizes[-1][0]), _halved(sizes[-1][1])))
    layer = {"generator": generator, "dtype": dtype}

    encoder: list[nn.Module] = [nn.Unflatten(1, image_shape)]
    for i, (n_in, n_out) in enumerate(zip((in_channels, *channels[:-1]), channels)):
        encoder += [nn.Conv2d(n_in, n_out, KERNEL, stride=1 if i == 0 else 2, padding=PADDING, **layer), nn.ReLU()]
    encoder.append(nn.Flatten())
    features = channels[-1] * sizes[-1][0] * sizes[-1][1]
    mu_head = nn.Linear(features, latent_dim, **layer)
    log_var_head = nn.Linear(features, latent_dim, **layer)

    decoder: list[nn.Module] = [nn.Linear(latent_dim, features, **layer), nn.ReLU(),
                                nn.Unflatten(1, (channels[-1], *sizes[-1]))]
    for i in range(len(channels) - 1, 0, -1):
        # the size to get back to is the one before the encoder's i-th halving
        output_padding = tuple(1 - size % 2 for size in sizes[i - 1])
        decoder += [nn.ConvTranspose2d(channels[i], channels[i - 1], KERNEL, stride=2, padding=PADDING,
                                       output_padding=output_padding, **layer), nn.ReLU()]
    decoder += [nn.Conv2d(channels[0], in_channels, KERNEL, stride=1, padding=PADDING, **layer), nn.Flatten()]
    return nn.Sequential(*encoder), mu_head, log_var_head, nn.Sequential(*decoder)
