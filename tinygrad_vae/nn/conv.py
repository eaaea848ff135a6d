"""Convolution layers with torch's constructors, weight layouts and default initialisation: Conv1d, Conv2d,
ConvTranspose2d (the ops are in ``tinygrad_vae.ops.convolution``).

Weights: Conv (out_channels, in_channels / groups, *kernel), ConvTranspose (in_channels,
out_channels / groups, *kernel). Initialisation, torch's: the weight ~ kaiming_uniform(a = sqrt(5)),
which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where
fan_in = weight.shape[1] * prod(kernel) (torch's fan rule, so for ConvTranspose it is
out_channels / groups * prod(kernel)). Draws come from ``generator`` (a numpy.random.Generator;
None: a fresh unseeded one), weight first, then bias.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import init
from tinygrad_vae.nn.module import Module, Parameter
from tinygrad_vae.ops.convolution import as_tuple, conv1d, conv2d, conv_transpose2d
from tinygrad_vae.validation import check_generator, check_int


class _ConvNd(Module):
    """What the convolution layers share: argument checks, the parameters, their initialisation and the repr."""

    _spatial = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, output_padding: Any,
                 generator: np.random.Generator | None, dtype: Any) -> None:
        super().__init__()
        where, n = type(self).__name__, self._spatial
        self.in_channels = check_int(in_channels, "in_channels", where)
        self.out_channels = check_int(out_channels, "out_channels", where)
        self.groups = check_int(groups, "groups", where)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{where}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                             f"be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{where}: padding_mode={padding_mode!r} is not supported, only 'zeros' "
                             f"(pad the input with nn.functional.pad first for the other modes)")
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", where)
        self.stride = as_tuple(stride, n, "stride", where)
        self.dilation = as_tuple(dilation, n, "dilation", where)
        self.output_padding = as_tuple(output_padding, n, "output_padding", where, low=0)
        if isinstance(padding, str) and not self._transposed:
            if padding not in ("same", "valid"):
                raise ValueError(f"{where}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = as_tuple(padding, n, "padding", where, low=0)
        if any(e >= s for e, s in zip(self.output_padding, self.stride)):
            raise ValueError(f"{where}: output_padding {self.output_padding} must be smaller than stride "
                             f"{self.stride} along each axis")
        self.padding_mode = padding_mode
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw the weight and bias afresh, as torch does (see the module docstring)."""
        generator = check_generator(generator, type(self).__name__, name="generator")
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in), generator=generator)

    def _check_input(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in (self._spatial + 1, self._spatial + 2) or x.shape[-self._spatial - 1] != self.in_channels:
            raise OpError(f"{type(self).__name__}({self.extra_repr()}): expected input (N, {self.in_channels}, ...) or ({self.in_channels}, ...) with "
                          f"{self._spatial} spatial dims, got shape {x.shape}")
        return x

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._spatial:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    """A convolution layer (torch's constructor) over ``_spatial`` dims, applying the functional form ``_op``."""

    _op = staticmethod(conv2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", *,
                 generator: np.random.Generator | None = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, generator, dtype)

    def forward(self, x: Any) -> Tensor:
        return self._op(self._check_input(x), self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv1d(_Conv):
    """``torch.nn.Conv1d``: input (N, C_in, L) or (C_in, L), weight (C_out, C_in / groups, k); see ``F.conv1d``."""

    _spatial = 1
    _op = staticmethod(conv1d)


class Conv2d(_Conv):
    """``torch.nn.Conv2d``: input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in / groups, kh, kw);
    see ``F.conv2d`` (im2col and one matrix product per call)."""


class ConvTranspose2d(_ConvNd):
    """``torch.nn.ConvTranspose2d``: the gradient of a Conv2d with respect to its input, as a layer.

    Weight (C_in, C_out / groups, kh, kw). Output size along each axis:
    (n - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1. ``forward(x, output_size)``
    picks output_padding to reach ``output_size`` (its last two entries), as torch does.
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", *, generator: np.random.Generator | None = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, generator, dtype)

    def forward(self, x: Any, output_size: Any = None) -> Tensor:
        x = self._check_input(x)
        extra = self.output_padding if output_size is None else self._output_padding(x, output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, extra, self.groups,
                                self.dilation)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        """The output_padding that gives ``output_size``, each within [smallest, smallest + stride - 1]."""
        wanted = tuple(output_size)[-2:]
        smallest = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                    zip(x.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size)]
        if len(wanted) != 2 or not all(lo <= w < lo + s for w, lo, s in zip(wanted, smallest, self.stride)):
            raise OpError(f"{type(self).__name__}: output_size {tuple(output_size)} is not reachable from input "
                          f"{x.shape}: each size must lie in [{smallest[0]}, {smallest[0] + self.stride[0] - 1}] x "
                          f"[{smallest[1]}, {smallest[1] + self.stride[1] - 1}]")
        return tuple(w - lo for w, lo in zip(wanted, smallest))
