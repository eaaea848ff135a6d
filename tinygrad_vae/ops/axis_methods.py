"""The Tensor's methods that work along dims: reductions, scans, sorting, shape, contractions and indexing.

Like ``methods.py`` (which installs these too), each method calls an op's functional form, with
torch's names, signatures and defaults; ``dim=``/``keepdim=`` and NumPy's ``axis=``/``keepdims=``
are both accepted where torch takes a dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, lift, unwrap
from tinygrad_vae.ops import creation as cr
from tinygrad_vae.ops import elementwise as ew
from tinygrad_vae.ops import indexing as ix
from tinygrad_vae.ops import linalg
from tinygrad_vae.ops import movement as mv
from tinygrad_vae.ops import reductions as red
from tinygrad_vae.ops import scans as sc
from tinygrad_vae.ops import shape as sh
from tinygrad_vae.ops import sorting as srt
from tinygrad_vae.ops.base import Axis, dim_or_axis


class AxisMethods:
    """The methods along dims that ``methods.install`` puts on ``Tensor`` (``self`` is always a Tensor)."""

    # ---- reductions ----------------------------------------------------------------
    # torch's dim/keepdim (positional as torch), and NumPy's axis=/keepdims= keywords alike.
    def sum(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
            keepdims: bool = False) -> Tensor:
        return red.sum(self, dim_or_axis("sum", dim, axis), dtype, keepdim or keepdims)

    def mean(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
             keepdims: bool = False) -> Tensor:
        return red.mean(self, dim_or_axis("mean", dim, axis), dtype, keepdim or keepdims)

    def prod(self, dim: Axis = None, keepdim: bool = False, dtype: Any = None, *, axis: Axis = None,
             keepdims: bool = False) -> Tensor:
        return red.prod(self, dim_or_axis("prod", dim, axis), dtype, keepdim or keepdims)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool = False) -> Tensor | red.ValuesIndices:
        """torch.max: no dim, the largest value; an int dim, (values, indices); a Tensor, the elementwise maximum.

        As torch, max(dim) gives the gradient to the index it returns; max() with no dim splits it between ties.
        """
        return _max_or_min(self, dim_or_axis("max", dim, axis), keepdim or keepdims, largest=True)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool = False) -> Tensor | red.ValuesIndices:
        """torch.min: no dim, the smallest value; an int dim, (values, indices); a Tensor, the elementwise minimum."""
        return _max_or_min(self, dim_or_axis("min", dim, axis), keepdim or keepdims, largest=False)

    def amax(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.amax: values only, over one or several dims; tied maxima share the gradient evenly."""
        return red.amax(self, dim_or_axis("amax", dim, axis), keepdim or keepdims)

    def amin(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.amin(self, dim_or_axis("amin", dim, axis), keepdim or keepdims)

    def var(self, dim: Axis = None, correction: float | None = None, keepdim: bool = False, *,
            unbiased: bool | None = None, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.var: correction=1 by default; ``unbiased`` (or a bool in correction's place, as torch's
        var(dim, unbiased)) means correction 1 or 0."""
        return red.var(self, dim_or_axis("var", dim, axis), _correction(correction, unbiased), keepdim or keepdims)

    def std(self, dim: Axis = None, correction: float | None = None, keepdim: bool = False, *,
            unbiased: bool | None = None, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """torch.std: sqrt of ``var`` with the same arguments."""
        return red.std(self, dim_or_axis("std", dim, axis), _correction(correction, unbiased), keepdim or keepdims)

    def logsumexp(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None,
                  keepdims: bool = False) -> Tensor:
        return red.logsumexp(self, dim_or_axis("logsumexp", dim, axis), keepdim or keepdims)

    def any(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.any(self, dim_or_axis("any", dim, axis), keepdim or keepdims)

    def all(self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return red.all(self, dim_or_axis("all", dim, axis), keepdim or keepdims)

    # ---- scans and sorting -----------------------------------------------------------
    def cumsum(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.cumsum_dim(self, _required_dim("cumsum", dim, axis))

    def cumprod(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.cumprod_dim(self, _required_dim("cumprod", dim, axis))

    def cummax(self, dim: int | None = None, *, axis: int | None = None) -> red.ValuesIndices:
        return sc.cummax(self, _required_dim("cummax", dim, axis))

    def cummin(self, dim: int | None = None, *, axis: int | None = None) -> red.ValuesIndices:
        return sc.cummin(self, _required_dim("cummin", dim, axis))

    def logcumsumexp(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return sc.logcumsumexp(self, _required_dim("logcumsumexp", dim, axis))

    def diff(self, n: int = 1, dim: int = -1) -> Tensor:
        return sc.diff(self, n, dim)

    def sort(self, dim: int = -1, descending: bool = False) -> red.ValuesIndices:
        return srt.sort_dim(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False) -> Tensor:
        return srt.argsort_dim(self, dim, descending)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> red.ValuesIndices:
        return srt.topk(self, k, dim, largest, sorted)

    def argmax(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
               keepdims: bool = False) -> Tensor:
        """torch.argmax: dim=None is the index into the flattened tensor."""
        return srt.argmax(self, dim_or_axis("argmax", dim, axis), keepdim or keepdims)

    def argmin(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
               keepdims: bool = False) -> Tensor:
        return srt.argmin(self, dim_or_axis("argmin", dim, axis), keepdim or keepdims)

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


def _sizes(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A method's sizes given as ``f(2, 3)`` or as ``f((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _max_or_min(x: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor | red.ValuesIndices:
    """torch.max/min's three forms: over everything, along an int dim with indices, or against another Tensor."""
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):
        return ew.maximum(x, dim) if largest else ew.minimum(x, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim needs a dim (torch's {name}() takes no keepdim)")
        return red.amax(x) if largest else red.amin(x)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int (torch.{name} reduces one dim), got {dim!r}; "
                        f"use a{name} for several dims")
    return red.extreme_with_index(x, dim, keepdim, largest)  # checks that dim is an int


def _correction(correction: float | None, unbiased: bool | None) -> float:
    """torch's var/std correction: from ``correction`` or ``unbiased`` (not both), 1 by default."""
    if correction is not None and unbiased is not None:
        raise TypeError(f"var: got both correction={correction} and unbiased={unbiased}; give one of them")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def _required_dim(op: str, dim: int | None, axis: int | None) -> int:
    """The dim a torch scan needs (torch has no default for it)."""
    chosen = dim_or_axis(op, dim, axis)
    if chosen is None:
        raise TypeError(f"{op}: missing the dim to scan along (torch's {op} requires dim)")
    return chosen
