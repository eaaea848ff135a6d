r"""Weight initialisation, as ``torch.nn.init``: each function fills a Tensor in place and returns it.

Same names, signatures and defaults as torch. Randomness comes only from the
``generator`` argument, a ``numpy.random.Generator``; ``generator=None`` draws
from a fresh, unseeded ``np.random.default_rng()`` (there is no global random
state to fall back on, so pass a seeded one for reproducible weights). Samples
are drawn in float64 and rounded into the tensor's dtype, so one seed gives the
same weights (up to rounding) in float32 and float64. Filling changes
``tensor.data`` in place and records nothing in the autodiff graph.

Fans, for a weight of shape ``(out, in, *kernel)`` (``Linear``: ``(out, in)``;
``Conv2d``: ``(out, in / groups, kh, kw)``), with the receptive field
``r = prod(kernel)`` (1 for a 2-D weight)::

    fan_in = in * r,    fan_out = out * r.

Xavier/Glorot (2010): ``std = gain * sqrt(2 / (fan_in + fan_out))``.
Kaiming/He (2015): ``std = gain / sqrt(fan)``, with ``fan`` the ``mode``'s and
``gain = calculate_gain(nonlinearity, a)``. The uniform variants draw from
``U(-bound, bound)`` with ``bound = sqrt(3) * std`` (the same variance).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.validation import check_generator

_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended gain for a nonlinearity (torch's table).

    ``linear``, the ``conv*`` names and ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: sqrt(2);
    ``leaky_relu``: sqrt(2 / (1 + slope^2)) with ``slope = param`` (default 0.01); ``selu``: 3/4.
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{[*_LINEAR_GAINS, 'tanh', 'relu', 'leaky_relu', 'selu']}")


def _check_tensor(tensor: Any, where: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{where}: expected a Tensor (e.g. a Parameter) to fill in place, got {type(tensor).__name__}")
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``: ``(in * r, out * r)``, r = prod(kernel).

    Named as in torch (``torch.nn.init._calculate_fan_in_and_fan_out``), so layer code ported from
    torch reads the same. Needs at least 2 dimensions.
    """
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
                         f"got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str, where: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Any, values: Any, where: str) -> Tensor:
    """Write ``values`` into ``tensor``'s array (rounded to its dtype) and return the tensor."""
    tensor = _check_tensor(tensor, where)
    tensor.data[...] = values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with draws from ``U(a, b)``."""
    rng = check_generator(generator, "init.uniform_", name="generator")
    return _fill(tensor, rng.uniform(a, b, size=_check_tensor(tensor, "uniform_").shape), "uniform_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with draws from ``N(mean, std^2)``: ``mean + std * N(0, 1)``."""
    rng = check_generator(generator, "init.normal_", name="generator")
    return _fill(tensor, mean + std * rng.standard_normal(_check_tensor(tensor, "normal_").shape), "normal_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(tensor, 0.0, "zeros_")


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(tensor, 1.0, "ones_")


def _xavier_std(tensor: Tensor, gain: float, where: str) -> float:
    """``gain * sqrt(2 / (fan_in + fan_out))`` (0 for an empty tensor)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_check_tensor(tensor, where))
    return gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot uniform: ``U(-bound, bound)``, ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain, "xavier_uniform_")
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot normal: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain, "xavier_normal_"), generator=generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, where: str) -> float:
    """``calculate_gain(nonlinearity, a) / sqrt(fan)`` (0 for an empty tensor, which there is nothing to fill of)."""
    fan = _fan(_check_tensor(tensor, where), mode, where)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He uniform: ``U(-bound, bound)``, ``bound = sqrt(3) * gain / sqrt(fan)``; ``a`` is leaky_relu's slope.

    ``Linear`` and the convolutions use ``a = sqrt(5)``: ``bound = 1 / sqrt(fan_in)``.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He normal: ``N(0, std^2)``, ``std = gain / sqrt(fan)``; ``a`` is leaky_relu's slope."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"), generator=generator)


__all__ = [
    "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]
