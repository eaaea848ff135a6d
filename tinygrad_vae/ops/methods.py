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

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, lift, unwrap, wrap
from tinygrad_vae.ops import activations as act
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import indexing as ix
from tinygrad_vae.ops import linalg
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops.base import Axis


class TensorMethods:
    """The methods ``install`` puts on ``Tensor`` (``self`` is always a Tensor).

    Every method calls the functional form of an op (``ew.mul``, ``red.sum``, ...): a
    primitive's ``apply`` or a composite's function. An operator lifts its other operand
    (a number, a list, an array) to a Tensor first.
    """

    # ---- arithmetic ----------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ew.add(self, lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return ew.add(lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return ew.sub(self, lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return ew.sub(lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return ew.mul(self, lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return ew.mul(lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ew.div(self, lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ew.div(lift(other, self), self)

    def __neg__(self) -> Tensor:
        return ew.neg(self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ew.power(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return ew.power(lift(base, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return linalg.matmul(lift(other, self), self)

    # ---- comparisons: bool tensors outside the graph (no op, no gradient) -----
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

    # ---- elementwise functions -------------------------------------------------
    def exp(self) -> Tensor:
        return ew.exp(self)

    def log(self) -> Tensor:
        return ew.log(self)

    def sqrt(self) -> Tensor:
        return ew.sqrt(self)

    def abs(self) -> Tensor:
        return ew.abs(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return ew.clip(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        return ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ew.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        return ew.astype(self, dtype)

    # ---- more operators: % // and the bitwise operators ---------------------------
    # ---- math functions (trigonometric, logarithmic, rounding, ...) ----------------
    # ---- logical and bitwise functions ---------------------------------------------

    # ---- activations -------------------------------------------------------------
    def relu(self) -> Tensor:
        return act.relu(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return act.leaky_relu(self, negative_slope)

    def sigmoid(self) -> Tensor:
        return act.sigmoid(self)

    def tanh(self) -> Tensor:
        return act.tanh(self)

    def softplus(self) -> Tensor:
        return act.softplus(self)

    def log_sigmoid(self) -> Tensor:
        return act.log_sigmoid(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return act.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return act.log_softmax(self, axis)

    # ---- reductions ----------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.mean(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.min(self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return red.var(self, axis=axis, keepdims=keepdims, correction=correction)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.logsumexp(self, axis, keepdims)

    # ---- shape -------------------------------------------------------------------
    # (creation-like methods: tril, triu, new_zeros, ...)

    def reshape(self, *shape: Any) -> Tensor:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        return mv.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def flatten(self) -> Tensor:
        return mv.reshape(self, (-1,))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like ``numpy.transpose``: no arguments reverses them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return mv.transpose(self, axes or None)

    def permute(self, *dims: int) -> Tensor:
        return self.transpose(*dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return mv.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        return mv.swap_last_axes(self)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return mv.broadcast_to(self, shape)

    def squeeze(self, axis: Axis = None) -> Tensor:
        return mv.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return mv.unsqueeze(self, axis)

    def __getitem__(self, index: Any) -> Tensor:
        return mv.getitem(self, index)

    # ---- contractions and indexing (einsum-like products, gather, scatter, masks) -----

    def dot(self, other: Any) -> Tensor:
        """torch's ``x.dot(y)``: the inner product of two 1-D tensors (NumPy's N-D ``dot`` is ``tinygrad_vae.dot``)."""
        _require_vectors("dot", self, other)
        return linalg.dot(self, other)

    def vdot(self, other: Any) -> Tensor:
        """torch's ``x.vdot(y)``: the inner product of two 1-D tensors (real: no conjugation)."""
        _require_vectors("vdot", self, other)
        return linalg.vdot(self, other)

    def outer(self, other: Any) -> Tensor:
        """torch's ``x.outer(y)`` of two 1-D tensors."""
        _require_vectors("outer", self, other)
        return linalg.outer(self, other)

    def inner(self, other: Any) -> Tensor:
        return linalg.inner(self, other)

    def kron(self, other: Any) -> Tensor:
        return linalg.kron(self, other)

    def cross(self, other: Any, dim: int | None = None) -> Tensor:
        """The cross product along ``dim`` (torch.linalg.cross); the operands broadcast first, as in torch.

        torch's ``dim=None`` means the first axis of length 3 (deprecated in torch); we accept it only
        where that axis is the last one, and ask for ``dim`` otherwise rather than pick another axis.
        """
        other = lift(other, self)
        try:
            shape = np.broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise OpError(f"cross: shapes {self.shape} and {other.shape} do not broadcast") from None
        if dim is None:
            if 3 not in shape or shape.index(3) != len(shape) - 1:
                raise OpError(f"cross: dim=None picks the first axis of length 3 in torch; for shapes {self.shape} "
                              f"and {other.shape} that is not the last axis: give dim explicitly")
            dim = -1
        return linalg.cross(self.broadcast_to(shape), other.broadcast_to(shape), axis=dim)

    def gather(self, dim: int, index: Any) -> Tensor:
        return ix.gather(self, dim, index)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return ix.index_select(self, dim, index)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        """torch's ``take_along_dim`` (NumPy's ``take_along_axis``; dim=None flattens)."""
        return ix.take_along_axis(self, indices, dim)

    def scatter(self, dim: int, index: Any, src: Any = None, value: Any = None) -> Tensor:
        """Out of place, as ``torch.scatter``: ``x.scatter(dim, index, src)`` or ``x.scatter(dim, index, value=v)``.

        A number as the third argument is taken as ``value``, as torch does.
        """
        if isinstance(src, (int, float)) and value is None:
            src, value = None, src
        return ix.scatter(self, dim, index, src=src, value=value)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return ix.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim: int, index: Any, src: Any, reduce: str, *, include_self: bool = True) -> Tensor:
        return ix.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return ix.masked_fill(self, mask, value)

    def masked_select(self, mask: Any) -> Tensor:
        return ix.masked_select(self, mask)

    def nonzero(self, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
        """torch's ``x.nonzero()``: the (n, ndim) int64 coordinates; ``as_tuple=True``: one index tensor per axis
        (a 0-d tensor counts as 1-D there, as in torch). NumPy's tuple form is ``tinygrad_vae.nonzero``."""
        return ix.nonzero(self.reshape(-1) if self.ndim == 0 else self) if as_tuple else ix.argwhere(self)


def _require_vectors(op: str, a: Tensor, b: Any) -> None:
    """torch's dot, vdot and outer take 1-D tensors only."""
    shapes = (a.shape, getattr(b, "shape", None))
    if a.ndim != 1 or getattr(b, "ndim", None) != 1:
        raise OpError(f"{op}: Tensor.{op} takes two 1-D tensors (as torch), got shapes {shapes[0]} and {shapes[1]}")


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` onto ``cls``."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)
