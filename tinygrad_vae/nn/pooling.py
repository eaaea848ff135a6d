"""Pooling and upsampling layers with torch's constructors: MaxPool2d, AvgPool2d, Upsample (nearest).

Each checks its arguments when it is built and applies the op of ``tinygrad_vae.ops.pooling``.
"""

from __future__ import annotations

from typing import Any

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.module import Module
from tinygrad_vae.ops.convolution import as_tuple
from tinygrad_vae.ops.pooling import avg_pool2d, interpolate, max_pool2d


def _window_arguments(module: Module, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool) -> None:
    where = type(module).__name__
    if ceil_mode:
        raise ValueError(f"{where}: ceil_mode=True is not supported; pad the input instead")
    module.kernel_size = as_tuple(kernel_size, 2, "kernel_size", where)
    module.stride = module.kernel_size if stride is None else as_tuple(stride, 2, "stride", where)
    module.padding = as_tuple(padding, 2, "padding", where, low=0)
    if any(2 * p > k for p, k in zip(module.padding, module.kernel_size)):
        raise ValueError(f"{where}: padding {module.padding} must be at most half the kernel size "
                         f"{module.kernel_size}")
    module.ceil_mode = ceil_mode


class MaxPool2d(Module):
    """``torch.nn.MaxPool2d``: the maximum of each window; the gradient goes to the window's first maximum."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        _window_arguments(self, kernel_size, stride, padding, ceil_mode)
        self.dilation = as_tuple(dilation, 2, "dilation", "MaxPool2d")
        self.return_indices = return_indices

    def forward(self, x: Any) -> Tensor | tuple[Tensor, Tensor]:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, False, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """``torch.nn.AvgPool2d``: the mean of each window of the zero-padded input (see ``F.avg_pool2d``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        _window_arguments(self, kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Any) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, False, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Module):
    """``torch.nn.Upsample`` with mode='nearest': each output position copies input position floor(o / scale)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is supported, got mode={mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: give exactly one of size and scale_factor, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Any) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        shown = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor!r}"
        return f"{shown}, mode={self.mode!r}"
