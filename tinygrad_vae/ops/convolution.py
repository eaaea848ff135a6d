"""Convolution: conv1d, conv2d and conv_transpose2d with torch's semantics and weight layouts.

Shapes (torch's): input (N, C_in, H, W), or (C_in, H, W) unbatched; conv weight
(C_out, C_in / groups, kh, kw); conv_transpose weight (C_in, C_out / groups, kh, kw).
With padding p, dilation d and stride s along an axis of length n, the kernel's k taps
reach d (k - 1) + 1 positions and the output has

    n_out = floor((n + p_before + p_after - d (k - 1) - 1) / s) + 1

positions: out[o] = sum over taps t of w[t] * x_padded[o s + t d] (a cross-correlation, as torch).

How it is computed: ``im2col`` gathers the windows of the padded input through a strided view
(no copy until the one reshape), so a convolution is ONE matrix product per call, batched over the
groups: out[g] = W[g] (C_out/G, C_in/G kh kw) @ cols[g] (C_in/G kh kw, H_out W_out N).

A convolution y = C(x, w) is bilinear, so both its gradients are again linear maps of the same
kind; three primitives are closed under differentiation:

    C(x, w)        the convolution;
    T(gy, w)       its adjoint in x, <C(x, w), gy> = <x, T(gy, w)>: the columns W^T gy scattered
                   back into the image (``col2im``: one strided add per kernel tap, kh kw in all).
                   This is the transposed convolution;
    Wg(x, gy)      its adjoint in w, <C(x, w), gy> = <w, Wg(x, gy)>: gy @ cols^T.

Backward rules (g is the gradient of the op's output), read off the adjoint identities:

    C:   dx = T(g, w),      dw = Wg(x, g)
    T:   dgy = C(g, w),     dw = Wg(g, gy)
    Wg:  dx = T(gy, g),     dgy = C(x, g)

so gradients of any order are recorded on Tensors (``create_graph=True``) with the same three ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_vae.core import tracing
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.base import Grads, Op, Value
from tinygrad_vae.ops.movement import Reshape
from tinygrad_vae.validation import is_int

Pair = tuple[int, int]


@dataclass(frozen=True)
class Geometry:
    """Where a window op's kernel taps fall: kernel size, stride, dilation and padding per spatial axis.

    ``padding`` holds (before, after) per axis; they differ only for torch's padding='same' with an
    even reach d (k - 1), where the extra position goes after, as in torch.

    The window ops work on images laid out batch-last, (C, H, W, N), inside: there a window's row
    (W_out, N) is one contiguous run of memory at stride 1, so im2col's copy and col2im's adds move
    long runs; with the batch first, each run would be one row of W_out numbers.
    """

    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: tuple[Pair, Pair]

    def out_size(self, size: tuple[int, int]) -> Pair:
        """The output positions along each axis for an input of spatial ``size`` (see the module docstring)."""
        return tuple((n + sum(p) - d * (k - 1) - 1) // s + 1  # type: ignore[return-value]
                     for n, p, d, k, s in zip(size, self.padding, self.dilation, self.kernel, self.stride))

    def padded(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """``x`` (N, C, H, W) padded with ``fill`` and laid out batch-last: (C, H_padded, W_padded, N), one copy."""
        return tracing.opaque(_padded, self, x, fill)

    def windows(self, xp: np.ndarray, groups: int = 1) -> np.ndarray:
        """A read-only strided view of the windows of ``padded``'s result, shape (G, C/G, kh, kw, H_out, W_out, N).

        Entry [g, c, i, j, a, b, n] is xp[g C/G + c, a s_h + i d_h, b s_w + j d_w, n]; nothing is copied.
        """
        return tracing.opaque(_windows, self, xp, groups)

    def scatter(self, blocks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """col2im: the image of ``shape`` (N, C, H, W) that receives, for each kernel tap (i, j), the block
        ``blocks[:, i, j]`` (C, H_out, W_out, N) added at the positions that tap read; the padding is cut off.

        One strided slice-add per tap: overlapping windows add up, and no loop runs over pixels.
        """
        return tracing.opaque(_col2im, self, blocks, shape)


# The three steps of Geometry run on arrays in NumPy calls that a trace cannot follow one by one (as_strided
# converts its argument with np.asarray; in-place writes into a fresh image): each is recorded as ONE call
# (core.tracing.opaque), which a compiled step replays.

def _padded(geometry: Geometry, x: np.ndarray, fill: float) -> np.ndarray:
    n, c, h, w = x.shape
    (top, bottom), (left, right) = geometry.padding
    shape = (c, h + top + bottom, w + left + right, n)
    out = np.full(shape, fill, dtype=x.dtype) if top or bottom or left or right else np.empty(shape, x.dtype)
    out[:, top: top + h, left: left + w] = x.transpose(1, 2, 3, 0)
    return out


def _windows(geometry: Geometry, xp: np.ndarray, groups: int) -> np.ndarray:
    c, hp, wp, n = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    s_c, s_h, s_w, s_n = xp.strides  # a replay's array: its own strides
    cg = c // groups
    return as_strided(xp, shape=(groups, cg, kh, kw, ho, wo, n),
                      strides=(s_c * cg, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n), writeable=False)


def _col2im(geometry: Geometry, blocks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, c, h, w = shape
    (top, bottom), (left, right) = geometry.padding
    out = np.zeros((c, h + top + bottom, w + left + right, n), dtype=blocks.dtype)
    ho, wo = geometry.out_size((h, w))
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    for i in range(kh):
        for j in range(kw):
            out[:, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw] += blocks[:, i, j]
    return out[:, top: top + h, left: left + w].transpose(3, 0, 1, 2)


def _columns(x: np.ndarray, geometry: Geometry, groups: int) -> np.ndarray:
    """im2col: the windows of ``x`` (N, C, H, W) as one (G, C/G kh kw, H_out W_out N) array."""
    view = geometry.windows(geometry.padded(x), groups)
    g, cg, kh, kw, ho, wo, n = view.shape
    return view.reshape(g, cg * kh * kw, ho * wo * n)


def _grouped_output(gy: np.ndarray, groups: int) -> np.ndarray:
    """An output (gradient) of shape (N, C_out, H_out, W_out) as (G, C_out/G, H_out W_out N)."""
    return gy.transpose(1, 2, 3, 0).reshape(groups, gy.shape[1] // groups, -1)


def _batched_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over the leading group axis; one group is a plain 2-D product (BLAS sees the transposes as flags)."""
    return (a[0] @ b[0])[None] if a.shape[0] == 1 else a @ b


class Convolution(Op):
    """C(x, w): x (N, C_in, H, W), w (C_out, C_in/G, kh, kw) -> (N, C_out, H_out, W_out); see the module docstring.

    The columns of x are kept for the weight's gradient, which needs them again.
    """

    same_float_dtype = True  # a product: float32 with float64 is an error, as in torch

    def forward(self, x: np.ndarray, w: np.ndarray, geometry: Geometry, groups: int) -> np.ndarray:
        self.geometry, self.groups = geometry, groups
        self.cols = cols = _columns(x, geometry, groups)
        c_out = w.shape[0]
        out = _batched_matmul(w.reshape(groups, c_out // groups, -1), cols)
        return out.reshape(c_out, *geometry.out_size(x.shape[2:]), x.shape[0]).transpose(3, 0, 1, 2)

    def backward(self, grad: Value, out: Value, x: Value, w: Value) -> Grads:
        need_x, need_w = self.needs_input_grad
        geometry, groups = self.geometry, self.groups
        if not isinstance(grad, Tensor) and need_x and need_w:
            # Both products read grad batch-last: one copy in that layout (seen as NCHW) serves both.
            grad = np.ascontiguousarray(grad.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        return (
            TransposedConvolution.apply(grad, w, geometry=geometry, groups=groups, size=x.shape[2:]) if need_x else None,
            ConvolutionWeightGrad.apply(x, grad, geometry=geometry, groups=groups, cols=self.cols) if need_w else None,
        )


class TransposedConvolution(Op):
    """T(gy, w): the adjoint of ``Convolution`` in x, onto an image of spatial ``size`` (col2im of W^T gy).

    gy (N, C_out, H_out, W_out), w (C_out, C_in/G, kh, kw) -> (N, C_in, H, W) with (H, W) = ``size``.
    This is conv_transpose2d's forward pass, with the roles of the channels swapped.
    """

    same_float_dtype = True

    def forward(self, gy: np.ndarray, w: np.ndarray, geometry: Geometry, groups: int, size: Pair) -> np.ndarray:
        self.geometry, self.groups, self.size = geometry, groups, size
        c_out, cg, kh, kw = w.shape
        n, _, ho, wo = gy.shape
        w3 = w.reshape(groups, c_out // groups, cg * kh * kw)
        cols = _batched_matmul(np.swapaxes(w3, 1, 2), _grouped_output(gy, groups))  # (G, C_in/G kh kw, H_out W_out N)
        return geometry.scatter(cols.reshape(groups * cg, kh, kw, ho, wo, n), (n, groups * cg, *size))

    def backward(self, grad: Value, out: Value, gy: Value, w: Value) -> Grads:
        need_gy, need_w = self.needs_input_grad
        geometry, groups = self.geometry, self.groups
        return (
            Convolution.apply(grad, w, geometry=geometry, groups=groups) if need_gy else None,
            ConvolutionWeightGrad.apply(grad, gy, geometry=geometry, groups=groups) if need_w else None,
        )


class ConvolutionWeightGrad(Op):
    """Wg(x, gy): the adjoint of ``Convolution`` in w, gy @ cols(x)^T, shape (C_out, C_in/G, kh, kw).

    ``cols``, when given, are x's columns as the convolution's forward pass computed them.
    """

    same_float_dtype = True

    def forward(self, x: np.ndarray, gy: np.ndarray, geometry: Geometry, groups: int,
                cols: np.ndarray | None = None) -> np.ndarray:
        self.geometry, self.groups = geometry, groups
        cols = _columns(x, geometry, groups) if cols is None else cols
        dw = _batched_matmul(_grouped_output(gy, groups), np.swapaxes(cols, 1, 2))  # (G, C_out/G, C_in/G kh kw)
        return dw.reshape(gy.shape[1], x.shape[1] // groups, *geometry.kernel)

    def backward(self, grad: Value, out: Value, x: Value, gy: Value) -> Grads:
        need_x, need_gy = self.needs_input_grad
        geometry, groups = self.geometry, self.groups
        return (
            TransposedConvolution.apply(gy, grad, geometry=geometry, groups=groups, size=x.shape[2:]) if need_x else None,
            Convolution.apply(x, grad, geometry=geometry, groups=groups) if need_gy else None,
        )


# --------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------

def as_tuple(value: Any, n: int, name: str, op: str, low: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each >= ``low``, as a tuple of ``n`` ints (torch's _pair)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) != n or not all(is_int(v) and v >= low for v in values):
        wanted = "positive" if low == 1 else f">= {low}"
        raise OpError(f"{op}: {name} must be an int or {n} ints, each {wanted}, got {value!r}")
    return tuple(int(v) for v in values)


def _conv_padding(padding: Any, n: int, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...], op: str) -> tuple[Pair, ...]:
    """(before, after) per spatial axis, from an int, ``n`` ints, 'valid' (none) or 'same' (as torch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise OpError(f"{op}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
        if any(s != 1 for s in stride):
            raise OpError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
        # The input's size is kept: the reach d (k - 1) is padded, the odd position after (torch's choice).
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    return tuple((p, p) for p in as_tuple(padding, n, "padding", op, low=0))


def float_tensor(x: Any, name: str, op: str) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.dtype.kind != "f":
        raise OpError(f"{op}: {name} must be a float tensor, got dtype {t.dtype}")
    return t


def batched(x: Tensor, spatial: int, op: str, what: str) -> tuple[Tensor, bool]:
    """``x`` with a batch axis (torch's unbatched input of ``spatial`` + 1 dims gets one), and whether it had one."""
    if x.ndim == spatial + 2:
        return x, True
    if x.ndim == spatial + 1:
        return Reshape.apply(x, shape=(1, *x.shape)), False
    raise OpError(f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input {what}, "
                  f"got shape {x.shape}")


def _check_groups(c_in: int, c_out: int, groups: int, op: str, what: str) -> None:
    if c_in % groups or c_out % groups:
        raise OpError(f"{op}: {what} (in_channels {c_in}, out_channels {c_out}) must both be divisible by "
                      f"groups={groups}")


def _check_reach(size: tuple[int, ...], geometry: Geometry, op: str) -> None:
    """Refuse a kernel whose reach d (k - 1) + 1 exceeds the padded input (torch's error too)."""
    for n, p, d, k in zip(size, geometry.padding, geometry.dilation, geometry.kernel):
        if n + sum(p) < d * (k - 1) + 1:
            raise OpError(f"{op}: the kernel {geometry.kernel} with dilation {geometry.dilation} reaches "
                          f"{d * (k - 1) + 1} positions, more than the padded input's {n + sum(p)} "
                          f"(input size {tuple(size)}, padding {geometry.padding})")


def _with_bias(out: Tensor, bias: Any, channels: int, op: str) -> Tensor:
    if bias is None:
        return out
    bias = float_tensor(bias, "bias", op)
    if bias.shape != (channels,):
        raise OpError(f"{op}: bias must have shape ({channels},), one per output channel, got {bias.shape}")
    if bias.dtype != out.dtype:  # the sum would promote silently; torch refuses the mix too
        raise OpError(f"{op}: bias has dtype {bias.dtype}, the input and weight {out.dtype}; cast one first")
    return out + Reshape.apply(bias, shape=(1, channels, 1, 1))


def _conv(x: Tensor, weight: Tensor, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int,
          op: str) -> Tensor:
    """conv2d on (N, C, H, W) (conv1d calls it with H = 1)."""
    groups = as_tuple(groups, 1, "groups", op)[0]
    if weight.ndim != 4:
        raise OpError(f"{op}: weight must be (out_channels, in_channels / groups, kernel...), got shape "
                      f"{weight.shape}")
    c_out, cg, kh, kw = weight.shape
    _check_groups(x.shape[1], c_out, groups, op, "the channels")
    if x.shape[1] != cg * groups:
        raise OpError(f"{op}: input of shape {x.shape} has {x.shape[1]} channels; weight of shape {weight.shape} "
                      f"with groups={groups} expects {cg * groups} ({cg} per group)")
    stride = as_tuple(stride, 2, "stride", op)
    dilation = as_tuple(dilation, 2, "dilation", op)
    geometry = Geometry((kh, kw), stride, dilation, _conv_padding(padding, 2, (kh, kw), stride, dilation, op))
    _check_reach(x.shape[2:], geometry, op)
    return _with_bias(Convolution.apply(x, weight, geometry=geometry, groups=groups), bias, c_out, op)


def _spatial_1d(value: Any, name: str, op: str, low: int, first: int) -> Any:
    """A conv1d argument for the 2-D kernel: (``first``, v); strings ('same', 'valid') pass as they are."""
    if isinstance(value, str):
        return value
    return (first, as_tuple(value, 1, name, op, low=low)[0])


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """``torch.nn.functional.conv1d``: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k).

    out[n, o, l] = bias[o] + sum_{c, t} w[o, c, t] x_padded[n, g(o) C_in/G + c, l s + t d]; computed as
    conv2d over a height of 1.
    """
    op = "conv1d"
    x, was_batched = batched(float_tensor(input, "input", op), 1, op, "(N, C, L)")
    weight = float_tensor(weight, "weight", op)
    if weight.ndim != 3:
        raise OpError(f"{op}: weight must be (out_channels, in_channels / groups, kernel), got shape {weight.shape}")
    out = _conv(Reshape.apply(x, shape=(x.shape[0], x.shape[1], 1, x.shape[2])),
                Reshape.apply(weight, shape=(weight.shape[0], weight.shape[1], 1, weight.shape[2])), bias,
                _spatial_1d(stride, "stride", op, 1, 1), _spatial_1d(padding, "padding", op, 0, 0),
                _spatial_1d(dilation, "dilation", op, 1, 1), groups, op)
    shape = (out.shape[0], out.shape[1], out.shape[3]) if was_batched else (out.shape[1], out.shape[3])
    return Reshape.apply(out, shape=shape)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """``torch.nn.functional.conv2d``: input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kh, kw).

    out[n, o, a, b] = bias[o] + sum_{c, i, j} w[o, c, i, j] x_padded[n, g(o) C_in/G + c, a s_h + i d_h, b s_w + j d_w]
    with g(o) = o // (C_out/G), the zero padding ``padding`` (an int, a pair, 'valid' or 'same') and
    the output size of the module docstring. One im2col and one matrix product per call.
    """
    op = "conv2d"
    x, was_batched = batched(float_tensor(input, "input", op), 2, op, "(N, C, H, W)")
    out = _conv(x, float_tensor(weight, "weight", op), bias, stride, padding, dilation, groups, op)
    return out if was_batched else Reshape.apply(out, shape=out.shape[1:])


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """``torch.nn.functional.conv_transpose2d``: input (N, C_in, H, W) or unbatched, weight (C_in, C_out/groups, kh, kw).

    The gradient of conv2d with respect to its input: the conv2d with weight ``weight`` (read as
    (out, in/groups, kh, kw) from C_out to C_in channels) maps the result back onto ``input``'s shape.
    Along each axis the output has

        n_out = (n - 1) s - 2 p + d (k - 1) + output_padding + 1

    positions; ``output_padding`` (< stride) adds positions at the end that the strided conv2d does
    not read, which picks one of the sizes that conv2d maps to n.
    """
    op = "conv_transpose2d"
    x, was_batched = batched(float_tensor(input, "input", op), 2, op, "(N, C, H, W)")
    weight = float_tensor(weight, "weight", op)
    groups = as_tuple(groups, 1, "groups", op)[0]
    if weight.ndim != 4:
        raise OpError(f"{op}: weight must be (in_channels, out_channels / groups, kh, kw), got shape {weight.shape}")
    if x.shape[1] != weight.shape[0]:
        raise OpError(f"{op}: input of shape {x.shape} has {x.shape[1]} channels; weight of shape "
                      f"{weight.shape} expects {weight.shape[0]} (its first axis)")
    c_out = weight.shape[1] * groups
    _check_groups(x.shape[1], c_out, groups, op, "the channels")
    kernel = weight.shape[2:]
    stride = as_tuple(stride, 2, "stride", op)
    dilation = as_tuple(dilation, 2, "dilation", op)
    pads = as_tuple(padding, 2, "padding", op, low=0)
    extra = as_tuple(output_padding, 2, "output_padding", op, low=0)
    if any(e >= s for e, s in zip(extra, stride)):
        raise OpError(f"{op}: output_padding {extra} must be smaller than stride {stride} along each axis")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                 for n, s, p, d, k, e in zip(x.shape[2:], stride, pads, dilation, kernel, extra))
    if min(size) < 1:
        raise OpError(f"{op}: input of shape {x.shape} with kernel {tuple(kernel)}, stride {stride}, padding {pads}, "
                      f"dilation {dilation} and output_padding {extra} gives the empty output size {size}")
    geometry = Geometry(tuple(kernel), stride, dilation, tuple((p, p) for p in pads))
    out = TransposedConvolution.apply(x, weight, geometry=geometry, groups=groups, size=size)
    out = _with_bias(out, bias, c_out, op)
    return out if was_batched else Reshape.apply(out, shape=out.shape[1:])


__all__ = ["conv1d", "conv2d", "conv_transpose2d"]
