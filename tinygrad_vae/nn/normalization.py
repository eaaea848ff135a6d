"""Normalisation layers: ``LayerNorm``, ``BatchNorm1d``, ``BatchNorm2d`` and their functional forms.

Both standardise with the biased variance and then apply an optional per-feature affine map:

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

LayerNorm takes E and Var over the trailing ``normalized_shape`` axes of each example;
BatchNorm over the batch and every spatial axis, per channel (axis 1). Both are composites of
the engine's ops, so their first and second derivatives are derived.

BatchNorm keeps running estimates for evaluation, as torch does: after each training batch,

    running_mean <- (1 - m) running_mean + m E[x]
    running_var  <- (1 - m) running_var  + m Var_unbiased[x]     (Var * n / (n - 1), n values per channel)

with m = ``momentum``, or m = 1 / num_batches_tracked (a cumulative average) when momentum is
None. In eval mode it normalises with the running estimates (constants of the graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.dtypes import get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.module import Module, Parameter
from tinygrad_vae.validation import check_int, is_int


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_eps(eps: Any, where: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not eps >= 0:
        raise ValueError(f"{where}: eps must be a non-negative number, got {eps!r}")
    return float(eps)


def _standardize(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """((x - mean) / sqrt(var + eps), var) over ``axes``, with the biased variance (both kept as dims)."""
    centred = x - x.mean(axes, keepdim=True)
    var = (centred * centred).mean(axes, keepdim=True)
    return centred * (var + eps).rsqrt(), var


def _affine(y: Tensor, weight: Any, bias: Any, shape: tuple[int, ...]) -> Tensor:
    """y * weight + bias, each (when given) reshaped to ``shape`` to broadcast against y."""
    if weight is not None:
        y = y * _as_tensor(weight).reshape(shape)
    if bias is not None:
        y = y + _as_tensor(bias).reshape(shape)
    return y


def _check_param_shape(value: Any, shape: tuple[int, ...], name: str, where: str) -> None:
    if value is not None and tuple(np.shape(value.data if isinstance(value, Tensor) else value)) != shape:
        raise OpError(f"{where}: {name} must have shape {shape}, got {np.shape(getattr(value, 'data', value))}")


# --------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------


def _normalized_shape(normalized_shape: Any, where: str) -> tuple[int, ...]:
    dims = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
    if not dims:
        raise ValueError(f"{where}: normalized_shape must name at least one dimension, got {normalized_shape!r}")
    return tuple(check_int(n, f"normalized_shape[{i}]", where) for i, n in enumerate(dims))


def _layer_norm(x: Any, shape: tuple[int, ...], weight: Any, bias: Any, eps: float, where: str) -> Tensor:
    x = _as_tensor(x)
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise OpError(f"{where}: expected input of shape (*, {', '.join(map(str, shape))}) "
                      f"(normalized_shape={shape}), got {x.shape}")
    _check_param_shape(weight, shape, "weight", where)
    _check_param_shape(bias, shape, "bias", where)
    y, _ = _standardize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    return _affine(y, weight, bias, shape)


def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """(x - E[x]) / sqrt(Var[x] + eps) * weight + bias, E and Var over the trailing ``normalized_shape`` axes."""
    shape = _normalized_shape(normalized_shape, "layer_norm")
    return _layer_norm(input, shape, weight, bias, _check_eps(eps, "layer_norm"), "layer_norm")


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each example.

    ``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=None)``:
    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape``; without
    ``elementwise_affine`` there are neither, and ``bias=False`` drops the bias alone.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        self.eps = _check_eps(eps, "LayerNorm")
        self.elementwise_affine = elementwise_affine
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if elementwise_affine and bias else None

    def forward(self, x: Any) -> Tensor:
        return _layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, "LayerNorm")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


# --------------------------------------------------------------------------
# BatchNorm
# --------------------------------------------------------------------------


def _stat_array(stat: Any, channels: int, name: str, where: str) -> np.ndarray | None:
    """A running statistic's array (updated in place), checked to be a float array of shape (channels,)."""
    if stat is None:
        return None
    array = stat.data if isinstance(stat, Tensor) else stat
    is_array = isinstance(array, np.ndarray) or tracing.is_traced(array)  # (an array of a compiled step)
    if not is_array or array.dtype.kind != "f" or array.shape != (channels,):
        raise OpError(f"{where}: {name} must be a float Tensor or array of shape ({channels},) (one per channel), "
                      f"got {type(array).__name__} of shape {np.shape(array)}")
    return array


def _batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any, bias: Any, training: bool,
                momentum: float, eps: float, where: str) -> Tensor:
    x = _as_tensor(x)
    if x.ndim < 2:
        raise OpError(f"{where}: expected input of shape (N, C, ...), got {x.shape}")
    channels = x.shape[1]
    mean_array = _stat_array(running_mean, channels, "running_mean", where)
    var_array = _stat_array(running_var, channels, "running_var", where)
    _check_param_shape(weight, (channels,), "weight", where)
    _check_param_shape(bias, (channels,), "bias", where)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.data.size // channels
        if count <= 1:
            raise OpError(f"{where}: expected more than 1 value per channel when training, got input shape {x.shape}")
        y, var = _standardize(x, axes, eps)
        if mean_array is not None:
            batch_mean = x.data.mean(axis=axes)
            mean_array[...] = (1.0 - momentum) * mean_array + momentum * batch_mean
        if var_array is not None:
            var_array[...] = (1.0 - momentum) * var_array + momentum * var.data.reshape(-1) * (count / (count - 1))
    else:
        if mean_array is None or var_array is None:
            raise OpError(f"{where}: evaluation (training=False) needs running_mean and running_var")
        scale = ((var_array + eps) ** -0.5).astype(x.dtype).reshape(shape)
        y = (x - mean_array.astype(x.dtype).reshape(shape)) * scale
    return _affine(y, weight, bias, shape)


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``input`` (N, C, ...) per channel, as torch.nn.functional.batch_norm.

    ``training``: normalise with the batch's statistics (biased variance) and, where given,
    update ``running_mean`` and ``running_var`` (Tensors or arrays of shape (C,)) in place by
    ``momentum``, the variance with its unbiased estimate. Otherwise normalise with the running ones.
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                       _check_eps(eps, "batch_norm"), "batch_norm")


class _BatchNorm(Module):
    """The layer behind BatchNorm1d and BatchNorm2d, which differ only in the input ranks they take."""

    ranks: tuple[int, ...]

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, dtype: Any = None, bias: bool = True) -> None:
        super().__init__()
        where = type(self).__name__
        self.num_features = check_int(num_features, "num_features", where)
        self.eps = _check_eps(eps, where)
        if momentum is not None and not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"{where}: momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.momentum = momentum
        self.affine = affine
        self.has_bias = affine and bias
        self.track_running_stats = track_running_stats
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.ones(self.num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype)) if self.has_bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """The running statistics reset, and weight 1, bias 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
        if self.has_bias:
            self.bias.data[...] = 0

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x)
        where = type(self).__name__
        if x.ndim not in self.ranks:
            expected = " or ".join(f"{r}D" for r in self.ranks)
            raise OpError(f"{where}: expected {expected} input, got {x.ndim}D input of shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise OpError(f"{where}({self.num_features}): expected {self.num_features} channels on axis 1, "
                          f"got input of shape {x.shape}")
        tracing.guard_attributes(self, "training", "momentum", "track_running_stats")  # (a compiled step's guards)
        tracking = self.training and self.track_running_stats
        momentum = self.momentum
        if tracking and momentum is None:  # a cumulative average: the new batch weighs 1 / (batches so far)
            momentum = 1.0 / (int(self.num_batches_tracked.data) + 1)
        # Batch statistics in training, and in eval too when no running ones are kept (as torch);
        # without tracking the running statistics are None, so nothing is updated.
        y = _batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                        self.training or not self.track_running_stats, 0.0 if momentum is None else momentum,
                        self.eps, where)
        if tracking:
            self.num_batches_tracked.data[...] += 1
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.has_bias}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation per channel of (N, C) or (N, C, L) input.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, dtype=None,
    bias=True)``. ``weight`` (ones) and ``bias`` (zeros; none with ``bias=False``) are Parameters of
    shape (C,), present when ``affine``; ``running_mean``,
    ``running_var`` and ``num_batches_tracked`` are buffers (in the state_dict).
    """

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation per channel of (N, C, H, W) input; arguments and state as ``BatchNorm1d``."""

    ranks = (4,)
