"""Pooling and nearest upsampling: max_pool2d, avg_pool2d and interpolate, with torch's semantics.

Windows are those of ``convolution.Geometry`` (kernel, stride, dilation, zero padding), so the output
sizes are conv2d's. ``avg_pool2d`` is a depthwise convolution with a constant kernel, so it inherits
conv2d's gradients of every order. ``max_pool2d`` picks, in each window, the position of its maximum
and copies it: the gradient goes to that one position, and to the FIRST maximum in the window
(row-major order over the kernel) when several are equal, which is torch's choice on CPU.
``interpolate`` (nearest) is indexing, whose gradient adds up the copies of each input position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.convolution import Convolution, Geometry, as_tuple, batched, float_tensor
from tinygrad_vae.ops.movement import GetItem, Reshape
from tinygrad_vae.validation import is_int


class WindowPick(Op):
    """out[n, c, a, b] = x[n, c] at the kernel tap ``taps[c, a, b, n]`` (a flat index i kw + j) of window (a, b).

    ``taps`` is laid out batch-last, as the windows are (see ``Geometry``); ``fill`` is the padding's
    value (max_pool2d's -inf, for a window that holds padding only). Linear in x; its adjoint is
    ``WindowScatter``, so each is the other's gradient.
    """

    def forward(self, x: np.ndarray, geometry: Geometry, taps: np.ndarray, fill: float = 0.0) -> np.ndarray:
        self.geometry, self.taps = geometry, taps
        view = geometry.windows(geometry.padded(x, fill))[0]  # (C, kh, kw, H_out, W_out, N)
        c, kh, kw, ho, wo, n = view.shape
        picked = np.take_along_axis(view.reshape(c, kh * kw, ho, wo, n), taps[:, None], axis=1)[:, 0]
        return picked.transpose(3, 0, 1, 2)

    def backward(self, grad: Value, out: Value, x: Value) -> Grads:
        return (WindowScatter.apply(grad, geometry=self.geometry, taps=self.taps, shape=x.shape),)


class WindowScatter(Op):
    """The adjoint of ``WindowPick``: each grad[n, c, a, b] added at the input position its tap picked."""

    def forward(self, grad: np.ndarray, geometry: Geometry, taps: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.geometry, self.taps = geometry, taps
        (kh, kw), g = geometry.kernel, grad.transpose(1, 2, 3, 0)[:, None]
        blocks = np.where(taps[:, None] == np.arange(kh * kw).reshape(-1, 1, 1, 1), g, 0)  # (C, kh kw, H_out, W_out, N)
        return geometry.scatter(blocks.reshape(blocks.shape[0], kh, kw, *blocks.shape[2:]), shape)

    def backward(self, grad: Value, out: Value, g: Value) -> Grads:
        return (WindowPick.apply(grad, geometry=self.geometry, taps=self.taps),)


def _pool_geometry(x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, op: str) -> Geometry:
    kernel = as_tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else as_tuple(
        stride, 2, "stride", op)
    dilation = as_tuple(dilation, 2, "dilation", op)
    pads = as_tuple(padding, 2, "padding", op, low=0)
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise OpError(f"{op}: padding {pads} must be at most half the kernel size {kernel}")
    geometry = Geometry(kernel, stride, dilation, tuple((p, p) for p in pads))
    if min(geometry.out_size(x.shape[2:])) < 1:
        raise OpError(f"{op}: the kernel {kernel} with dilation {dilation} does not fit the padded input "
                      f"(input shape {x.shape}, padding {pads})")
    return geometry


def _no_ceil(ceil_mode: bool, op: str) -> None:
    if ceil_mode:
        raise OpError(f"{op}: ceil_mode=True is not supported; pad the input instead")


def _unbatched(out: Tensor, was_batched: bool) -> Tensor:
    return out if was_batched else Reshape.apply(out, shape=out.shape[1:])


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """``torch.nn.functional.max_pool2d``: the maximum of each window (padding counts as -inf).

    out[n, c, a, b] = max_{i, j} x_padded[n, c, a s_h + i d_h, b s_w + j d_w]. The gradient goes to
    the first maximum of the window in row-major order (torch's convention on CPU); with
    ``return_indices`` also the flat index h W + w of each maximum in its input plane (int64).
    """
    op = "max_pool2d"
    x, was_batched = batched(float_tensor(input, "input", op), 2, op, "(N, C, H, W)")
    _no_ceil(ceil_mode, op)
    geometry = _pool_geometry(x, kernel_size, stride, padding, dilation, op)
    view = geometry.windows(geometry.padded(x.data, -np.inf))[0]
    c, kh, kw, ho, wo, n = view.shape
    taps = np.argmax(view.reshape(c, kh * kw, ho, wo, n), axis=1)  # (C, H_out, W_out, N); the first of equal maxima
    out = _unbatched(WindowPick.apply(x, geometry=geometry, taps=taps, fill=-np.inf), was_batched)
    if not return_indices:
        return out
    (sh, sw), (dh, dw), ((top, _), (left, _)) = geometry.stride, geometry.dilation, geometry.padding
    taps = taps.transpose(3, 0, 1, 2)
    rows = np.arange(ho)[:, None] * sh + (taps // kw) * dh - top
    cols = np.arange(wo)[None, :] * sw + (taps % kw) * dw - left
    indices = (rows * x.shape[3] + cols).astype(np.int64)
    return out, Tensor(indices if was_batched else indices[0])


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """``torch.nn.functional.avg_pool2d``: the mean of each window of the zero-padded input.

    out[n, c, a, b] = (1 / D) sum_{i, j} x_padded[n, c, a s_h + i, b s_w + j], with D = kh kw
    (``count_include_pad=True``), the number of window positions inside the input (False), or
    ``divisor_override``. Computed as a convolution of each channel with a ones kernel.
    """
    op = "avg_pool2d"
    x, was_batched = batched(float_tensor(input, "input", op), 2, op, "(N, C, H, W)")
    _no_ceil(ceil_mode, op)
    geometry = _pool_geometry(x, kernel_size, stride, padding, 1, op)
    n, c, h, w = x.shape
    ones = np.ones((1, 1, *geometry.kernel), dtype=x.dtype)
    planes = Reshape.apply(x, shape=(n * c, 1, h, w))
    sums = Reshape.apply(Convolution.apply(planes, Tensor(ones), geometry=geometry, groups=1),
                         shape=(n, c, *geometry.out_size((h, w))))
    if divisor_override is not None:
        if not is_int(divisor_override) or divisor_override == 0:
            raise OpError(f"{op}: divisor_override must be a non-zero int or None, got {divisor_override!r}")
        divisor: Any = float(divisor_override)
    elif count_include_pad:
        divisor = float(np.prod(geometry.kernel))
    else:  # the window positions inside the input: the same convolution of an all-ones image
        divisor = Convolution().forward(np.ones((1, 1, h, w), dtype=x.dtype), ones, geometry=geometry, groups=1)
    return _unbatched(sums / divisor, was_batched)


def _nearest_sources(n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    """torch's 'nearest' source index of each output position: floor(o r), clipped to the last input position,
    with r = 1 / scale_factor when a scale factor was given, else n_in / n_out (computed in float32, as torch)."""
    ratio = np.float32(1.0 / scale) if scale is not None else np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * ratio).astype(np.int64), n_in - 1)


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> Tensor:
    """``torch.nn.functional.interpolate`` with mode='nearest': input (N, C, *spatial) with 1 to 3 spatial axes.

    Output position o along an axis copies input position floor(o r), r = 1 / scale_factor (or
    n_in / n_out when ``size`` is given, or with ``recompute_scale_factor=True``); the output length
    is ``size`` or floor(n_in * scale_factor). The gradient of an input position is the sum over its copies.
    """
    op = "interpolate"
    x = float_tensor(input, "input", op)
    if mode != "nearest":
        raise OpError(f"{op}: only mode='nearest' is supported, got mode={mode!r}")
    if align_corners is not None:
        raise OpError(f"{op}: align_corners applies to the interpolating modes only, not to 'nearest'")
    spatial = x.ndim - 2
    if not 1 <= spatial <= 3:
        raise OpError(f"{op}: expected input (N, C, *spatial) with 1 to 3 spatial axes, got shape {x.shape}")
    if (size is None) == (scale_factor is None):
        raise OpError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                      f"scale_factor={scale_factor!r}")
    if size is not None:
        sizes = as_tuple(size, spatial, "size", op)
        scales: tuple[float | None, ...] = (None,) * spatial
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * spatial
        if len(factors) != spatial or not all((is_int(f) or isinstance(f, (float, np.floating))) and f > 0 for f in factors):
            raise OpError(f"{op}: scale_factor must be a positive number or {spatial} of them, got {scale_factor!r}")
        sizes = tuple(int(np.floor(n * float(f))) for n, f in zip(x.shape[2:], factors))
        if min(sizes) < 1:
            raise OpError(f"{op}: scale_factor {scale_factor!r} gives the empty output size {sizes} for input "
                          f"of shape {x.shape}")
        scales = (None,) * spatial if recompute_scale_factor else tuple(float(f) for f in factors)
    out = x
    for axis, (n_in, n_out, scale) in enumerate(zip(x.shape[2:], sizes, scales)):
        index = (slice(None),) * (axis + 2) + (_nearest_sources(n_in, n_out, scale),)
        out = GetItem.apply(out, index=index)
    return out


__all__ = ["avg_pool2d", "interpolate", "max_pool2d"]
