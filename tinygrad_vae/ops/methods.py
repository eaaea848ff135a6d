"""The Tensor's arithmetic and math methods, each a call of an op; installed on ``Tensor`` at import.

``core/tensor.py`` defines what a Tensor is for autograd; this file gives it
the operators and NumPy-style methods users call (``x + y``, ``x.exp()``,
``x.sum(axis=0)``, ``x[idx]``). Keeping them in the ops layer means the core
imports no op. ``install`` copies every member of ``TensorMethods`` onto
``Tensor``; ``ops/__init__.py`` calls it, so importing the package (or any op)
gives a complete Tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.tensor import Tensor, as_number, lift, unwrap, wrap
from tinygrad_vae.ops import activations as act
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import linalg
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red


class TensorMethods:
    """The methods ``install`` puts on ``Tensor`` (``self`` is always a Tensor)."""

    # ---- arithmetic ----------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ew.Add.apply(self, lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return ew.Add.apply(lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return ew.Sub.apply(self, lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return ew.Sub.apply(lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return ew.Mul.apply(self, lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return ew.Mul.apply(lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ew.Div.apply(self, lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ew.Div.apply(lift(other, self), self)

    def __neg__(self) -> Tensor:
        return ew.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor):
            return ew.Pow.apply(self, exponent)
        if isinstance(exponent, np.ndarray):
            return ew.Pow.apply(self, lift(exponent, self))
        return ew.PowScalar.apply(self, exponent=as_number(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return ew.Pow.apply(lift(base, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return linalg.MatMul.apply(self, lift(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return linalg.MatMul.apply(lift(other, self), self)

    # ---- comparisons: bool tensors outside the graph -----------------------
    def __lt__(self, other: Any) -> Tensor:
        return wrap(self.data < unwrap(other))

    def __le__(self, other: Any) -> Tensor:
        return wrap(self.data <= unwrap(other))

    def __gt__(self, other: Any) -> Tensor:
        return wrap(self.data > unwrap(other))

    def __ge__(self, other: Any) -> Tensor:
        return wrap(self.data >= unwrap(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return wrap(self.data == unwrap(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return wrap(self.data != unwrap(other))

    # ---- elementwise functions ---------------------------------------------
    def exp(self) -> Tensor:
        return ew.Exp.apply(self)

    def log(self) -> Tensor:
        return ew.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ew.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ew.Abs.apply(self)

    def relu(self) -> Tensor:
        return act.ReLUFn.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return act.LeakyReLUFn.apply(self, negative_slope=as_number(negative_slope))

    def sigmoid(self) -> Tensor:
        return act.SigmoidFn.apply(self)

    def tanh(self) -> Tensor:
        return act.TanhFn.apply(self)

    def softplus(self) -> Tensor:
        return act.SoftplusFn.apply(self)

    def log_sigmoid(self) -> Tensor:
        return act.log_sigmoid(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return ew.Clip.apply(self, lo=as_number(min), hi=as_number(max))

    def maximum(self, other: Any) -> Tensor:
        return ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ew.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"astype: expected a numeric or bool dtype, got {dtype}")
        if dtype not in FLOAT_DTYPES:
            return wrap(self.data.astype(dtype))
        return ew.Cast.apply(self, dtype=dtype)

    # ---- reductions ----------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return red.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return red.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return red.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return -red.Max.apply(-self, axis=axis, keepdims=keepdims)

    def var(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return red.var(self, axis=axis, keepdims=keepdims, correction=correction)

    def logsumexp(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return red.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return act.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return act.log_softmax(self, axis)

    # ---- shape ---------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return mv.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like ``numpy.transpose``: no arguments reverses them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return mv.Transpose.apply(self, axes=axes or None)

    def permute(self, *dims: int) -> Tensor:
        return self.transpose(*dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return mv.Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        return mv.swap_last_axes(self)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return mv.BroadcastTo.apply(self, shape=tuple(shape))

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return mv.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return mv.unsqueeze(self, axis)

    def __getitem__(self, index: Any) -> Tensor:
        return mv.GetItem.apply(self, index=mv.normalize_index(index))


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` onto ``cls``."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)
