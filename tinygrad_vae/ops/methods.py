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
from tinygrad_vae.ops import creation as cr
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import linalg, special
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops import shape as sh
from tinygrad_vae.ops.base import Axis, dim_or_axis


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

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002 (torch's names)
        return ew.clip(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        return ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ew.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        return ew.astype(self, dtype)

    def double(self) -> Tensor:
        """A float64 copy (the tensor itself if it is float64 already, as in torch)."""
        return self if self.dtype == np.float64 else ew.astype(self, np.float64)

    def float(self) -> Tensor:
        """A float32 copy (the tensor itself if it is float32 already, as in torch)."""
        return self if self.dtype == np.float32 else ew.astype(self, np.float32)

    def to(self, dtype: Any) -> Tensor:
        """``x.to(np.float64)``: ``astype``, or the tensor itself when the dtype already matches.

        Only dtypes: every tensor lives in NumPy, on the CPU, so ``x.to("cpu")`` is ``x`` and any other
        device is an error.
        """
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        if isinstance(dtype, str) and not hasattr(np, dtype):
            raise TypeError(f"to: tensors live in NumPy on the CPU; got device or dtype {dtype!r}")
        return self if self.dtype == np.dtype(dtype) else ew.astype(self, dtype)

    # ---- more operators: % // and the bitwise operators ---------------------------
    # ---- math functions (trigonometric, logarithmic, rounding, ...) ----------------
    # ---- logical and bitwise functions ---------------------------------------------

    # ---- activations -------------------------------------------------------------
    # Only the activations torch's Tensor has as methods (plus leaky_relu, softplus and log_sigmoid,
    # which this Tensor had before); the others are functions in ops.activations and nn.functional.
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

    def softmax(self, dim: int | None = None, axis: int | None = None) -> Tensor:
        """Along ``dim`` (or NumPy's ``axis``), the last axis when neither is given."""
        return act.softmax(self, dim, axis)

    def log_softmax(self, dim: int | None = None, axis: int | None = None) -> Tensor:
        """Along ``dim`` (or NumPy's ``axis``), the last axis when neither is given."""
        return act.log_softmax(self, dim, axis)

    def erf(self) -> Tensor:
        return special.erf(self)

    def erfc(self) -> Tensor:
        return special.erfc(self)

    def erfinv(self) -> Tensor:
        return special.erfinv(self)

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
    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two axes (from ``diagonal``), the rest 0; the gradient masked alike."""
        return cr.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two axes (from ``diagonal``), the rest 0; the gradient masked alike."""
        return cr.triu(self, diagonal)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``size`` in this tensor's dtype (unless ``dtype`` is given)."""
        return cr.zeros(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``size`` in this tensor's dtype (unless ``dtype`` is given)."""
        return cr.ones(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """As ``new_zeros`` (``empty`` gives zeros here)."""
        return cr.empty(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """``fill_value`` in a tensor of ``size`` and this tensor's dtype (unless ``dtype`` is given)."""
        return cr.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf holding a copy of ``data``, in this tensor's dtype (unless ``dtype`` is given)."""
        copied = np.array(unwrap(data), dtype=self.dtype if dtype is None else dtype)
        return cr.tensor(copied, requires_grad=requires_grad)


    def reshape(self, *shape: Any) -> Tensor:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        return mv.reshape(self, _sizes(shape))

    def view(self, *shape: Any) -> Tensor:
        """torch's ``view``: here the same as ``reshape`` (-1 infers a length)."""
        return mv.reshape(self, _sizes(shape))

    def reshape_as(self, other: Tensor) -> Tensor:
        return mv.reshape(self, other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        return mv.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim..end_dim`` (inclusive) into one; a 0-d tensor becomes 1-D."""
        return sh.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        return sh.unflatten(self, dim, sizes)

    def transpose(self, *dims: int) -> Tensor:
        """torch's ``transpose(dim0, dim1)``: swap two dims (``.T``, ``.mT`` or ``permute`` for the others)."""
        if len(dims) != 2:
            raise TypeError(f"transpose: expected two dims to swap (torch's transpose(dim0, dim1)), got {dims}; "
                            f"use .T to reverse all dims, or .permute(*dims) for any order")
        return mv.swapaxes(self, *dims)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return mv.swapaxes(self, axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> Tensor:
        return mv.swapaxes(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        """``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``: dim i of the result is dim ``dims[i]`` of x."""
        return mv.permute(self, _sizes(dims))

    def moveaxis(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        return mv.moveaxis(self, source, destination)

    def movedim(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        return mv.moveaxis(self, source, destination)

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

    def expand(self, *sizes: Any) -> Tensor:
        """torch's ``expand``: broadcast to ``sizes``; -1 keeps a dim, new dims may lead."""
        return mv.expand(self, _sizes(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return mv.broadcast_to(self, other.shape)

    def squeeze(self, dim: int | Sequence[int] | None = None, axis: int | Sequence[int] | None = None) -> Tensor:
        """torch's ``squeeze``: drop the named dims (all when None) of length 1; a longer dim named stays."""
        return mv.squeeze_dims(self, dim_or_axis("squeeze", dim, axis))

    def unsqueeze(self, dim: int | None = None, axis: int | None = None) -> Tensor:
        where = dim_or_axis("unsqueeze", dim, axis)
        if where is None:
            raise TypeError("unsqueeze: expected the dim at which to insert a dim of length 1")
        return mv.unsqueeze(self, where)

    def __getitem__(self, index: Any) -> Tensor:
        return mv.getitem(self, index)

    def repeat(self, *sizes: Any) -> Tensor:
        """torch's ``repeat``: tile ``x`` ``sizes[i]`` times along dim i (``numpy.tile``; new dims may lead)."""
        return sh.torch_repeat(self, _sizes(sizes))

    def tile(self, *dims: Any) -> Tensor:
        return sh.tile(self, _sizes(dims))

    def repeat_interleave(self, repeats: Any, dim: int | None = None) -> Tensor:
        """Each element repeated ``repeats`` times along ``dim`` (None: of the flattened tensor)."""
        return sh.repeat_interleave(self, repeats, dim)

    def flip(self, *dims: Any) -> Tensor:
        """torch's ``flip(dims)``: reverse the named dims (``x.flip(0)``, ``x.flip(0, 1)`` or ``x.flip((0, 1))``)."""
        return sh.flip(self, _sizes(dims))

    def fliplr(self) -> Tensor:
        return sh.fliplr(self)

    def flipud(self) -> Tensor:
        return sh.flipud(self)

    def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
        return sh.rot90(self, k, dims)

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        """Shift elements along ``dims`` by ``shifts``, wrapping around (None: as if flattened)."""
        return sh.roll(self, shifts, dims)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        """torch's ``split``: pieces of ``split_size`` (the last shorter) or of the listed sizes."""
        return sh.torch_split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        return sh.chunk(self, chunks, dim)

    def tensor_split(self, indices_or_sections: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        return sh.tensor_split(self, indices_or_sections, dim)

    def vsplit(self, indices_or_sections: int | Sequence[int]) -> list[Tensor]:
        return sh.vsplit(self, indices_or_sections)

    def hsplit(self, indices_or_sections: int | Sequence[int]) -> list[Tensor]:
        return sh.hsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections: int | Sequence[int]) -> list[Tensor]:
        return sh.dsplit(self, indices_or_sections)

    def diag(self, diagonal: int = 0) -> Tensor:
        """A 1-D tensor on the ``diagonal`` diagonal of a square matrix, or a matrix's ``diagonal`` diagonal."""
        return sh.diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return sh.diagonal(self, offset, dim1, dim2)

    def trace(self) -> Tensor:
        """The sum of a matrix's diagonal (torch's ``trace`` takes only 2-D tensors)."""
        if self.ndim != 2:
            raise OpError(f"trace: expected a 2-D tensor, got shape {self.shape}")
        return sh.trace(self)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """The windows of ``size`` along ``dimension``, every ``step``, as a new last dim."""
        return sh.unfold(self, dimension, size, step)

    # ---- contractions and indexing (einsum-like products, gather, scatter, masks) -----


def _sizes(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A method's sizes given as ``f(2, 3)`` or as ``f((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def install(cls: type) -> None:
    """Copy the methods (and the ``T``/``mT`` properties) of ``TensorMethods`` onto ``cls``."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)
