"""Making tensors: from data, filled with constants, ranges and grids, triangles of matrices, random draws.

Sizes are given as varargs or as one tuple (``zeros(2, 3)`` and ``zeros((2, 3))``);
each length must be a non-negative int. Float results take the default dtype
(``get_default_dtype``, float32 unless changed) unless ``dtype=`` says otherwise;
``arange`` with only integer arguments gives int64, as NumPy and torch do.
``requires_grad=True`` makes the result a leaf that collects a gradient.

The functions whose names NumPy has follow NumPy: ``eye(N, M=None, k=0)``,
``linspace(start, stop, num=50, endpoint=True)``, ``meshgrid(*xs, indexing='xy')``,
``tril(x, k=0)`` and ``triu(x, k=0)``. ``empty`` gives zeros, so that no result
depends on leftover memory.

Differentiable: ``meshgrid`` (a reshape and a broadcast per input, so each
input's gradient is the sum of its grid's gradient over the other axes) and
``tril``/``triu`` (a ``where`` with a constant mask: the gradient is masked the
same way). Everything else makes a new leaf.

Randomness: ``rand``, ``randn``, ``randint``, ``rand_like``, ``randn_like`` and
``normal`` draw only from the ``numpy.random.Generator`` passed as
``generator=``. Where torch would fall back on a global generator, these refuse:
pass ``generator=np.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.dtypes import FLOAT_DTYPES, get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, unwrap, wrap
from tinygrad_vae.ops.elementwise import where
from tinygrad_vae.validation import check_generator, check_int, is_int

Size = tuple[int, ...]


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as ``Tensor(...)``; spelled like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensors(values: Iterable[Any]) -> list[Tensor]:
    """Each value as a Tensor (Tensors pass through unchanged)."""
    return [v if isinstance(v, Tensor) else Tensor(v) for v in values]


# --------------------------------------------------------------------------
# shared argument handling
# --------------------------------------------------------------------------


def size_of(size: Sequence[Any], where: str) -> Size:
    """A size given as varargs ``(2, 3)`` or as one tuple ``((2, 3),)``, each length a non-negative int."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(check_int(n, f"size[{i}]", where, low=0) for i, n in enumerate(size))


def shape_arg(size: Any, where: str) -> Size:
    """A size given as one argument: an int or a sequence of ints."""
    return size_of((size,) if is_int(size) else tuple(size), where)


def leaf(array: np.ndarray, requires_grad: bool) -> Tensor:
    """A new leaf around ``array``; ``requires_grad`` needs a float dtype."""
    return wrap(array).requires_grad_(True) if requires_grad else wrap(array)


def float_dtype(dtype: Any) -> np.dtype:
    """``dtype``, or the default float dtype where it is None."""
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def like_dtype(x: Any, dtype: Any) -> np.dtype:
    """``dtype``, or the dtype of ``x`` (a Tensor or array) where it is None."""
    return np.asarray(unwrap(x)).dtype if dtype is None else np.dtype(dtype)


def fill_dtype(fill_value: Any, dtype: Any) -> np.dtype:
    """The dtype of ``full``: given, else bool for a bool, int64 for an int, the default float dtype otherwise."""
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    return np.dtype(np.int64) if is_int(fill_value) else get_default_dtype()


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------


def full(size: int | Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype from the value where not given, as NumPy)."""
    shape = shape_arg(size, "full")
    return leaf(np.full(shape, fill_value, dtype=fill_dtype(fill_value, dtype)), requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return leaf(np.zeros(size_of(size, "zeros"), dtype=float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return leaf(np.ones(size_of(size, "ones"), dtype=float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` whose values are not to be relied on; here zeros, so every run is deterministic."""
    return leaf(np.zeros(size_of(size, "empty"), dtype=float_dtype(dtype)), requires_grad)


def full_like(x: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` in the shape of ``x`` and (unless ``dtype`` is given) its dtype."""
    x = np.asarray(unwrap(x))
    return leaf(np.full(x.shape, fill_value, dtype=like_dtype(x, dtype)), requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros in the shape and (unless ``dtype`` is given) the dtype of ``x``."""
    return full_like(x, 0, dtype, requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones in the shape and (unless ``dtype`` is given) the dtype of ``x``."""
    return full_like(x, 1, dtype, requires_grad)


def empty_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Like ``empty``: zeros in the shape and dtype of ``x``."""
    return full_like(x, 0, dtype, requires_grad)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An N x M matrix (M = N by default) with ones on diagonal ``k`` (above the main one for k > 0), as np.eye."""
    n = check_int(N, "N", "eye", low=0)
    m = check_int(M, "M", "eye", low=0, allow_none=True)
    if not is_int(k):
        raise TypeError(f"eye: k must be an int, got {k!r}")
    return leaf(np.eye(n, m, int(k), dtype=float_dtype(dtype)), requires_grad)


# --------------------------------------------------------------------------
# ranges and grids
# --------------------------------------------------------------------------


def _check_number(value: Any, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``[start, stop)`` in steps of ``step`` (``arange(n)`` is 0..n-1), as np.arange.

    All-integer arguments give int64; any float gives the default float dtype.
    """
    bounds = {"start": start, "stop": stop, "step": step}
    for name, value in bounds.items():
        if value is not None:
            _check_number(value, name, "arange")
    if step == 0:
        raise OpError("arange: step must not be zero")
    if dtype is None:
        dtype = np.int64 if all(is_int(v) for v in bounds.values() if v is not None) else get_default_dtype()
    return leaf(np.arange(start, stop, step, dtype=dtype), requires_grad)


def linspace(
    start: float, stop: float, num: int = 50, endpoint: bool = True, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``num`` evenly spaced numbers from ``start`` to ``stop`` (included unless ``endpoint=False``), as np.linspace."""
    _check_number(start, "start", "linspace")
    _check_number(stop, "stop", "linspace")
    num = check_int(num, "num", "linspace", low=0)
    return leaf(np.linspace(start, stop, num, endpoint=endpoint, dtype=float_dtype(dtype)), requires_grad)


def meshgrid(*xs: Any, indexing: str = "xy") -> tuple[Tensor, ...]:
    """Coordinate grids from coordinate vectors, as np.meshgrid (inputs are flattened).

    With ``indexing='ij'`` the grids have shape (n1, n2, ..., nk) and grid i varies along
    axis i; ``'xy'`` (the default, Cartesian) swaps the first two axes, so that with two
    inputs x and y the grids have shape (len(y), len(x)). Each grid is its vector reshaped
    and broadcast, so the gradient of an input is its grid's gradient summed over the other axes.
    """
    if indexing not in ("xy", "ij"):
        raise OpError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    vectors = [x.reshape(-1) for x in as_tensors(xs)]
    lengths = [v.shape[0] for v in vectors]
    axes = list(range(len(vectors)))
    if indexing == "xy" and len(vectors) >= 2:
        axes[0], axes[1] = 1, 0
        lengths[0], lengths[1] = lengths[1], lengths[0]
    grids = []
    for v, axis in zip(vectors, axes):
        shape = [1] * len(vectors)
        shape[axis] = v.shape[0]
        grids.append(v.reshape(tuple(shape)).broadcast_to(tuple(lengths)))
    return tuple(grids)


# --------------------------------------------------------------------------
# triangles of matrices
# --------------------------------------------------------------------------


def _triangle(x: Any, k: int, lower: bool, where_: str) -> Tensor:
    """``x`` with the entries outside its lower (or upper) triangle, counted from diagonal ``k``, set to 0.

    A ``where`` with a constant mask over the last two axes, so the gradient is masked the same way.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 2:
        raise OpError(f"{where_}: needs a tensor with at least 2 dimensions (a matrix or a batch), got shape {x.shape}")
    if not is_int(k):
        raise TypeError(f"{where_}: the diagonal offset must be an int, got {k!r}")
    n, m = x.shape[-2:]
    # np.tri(n, m, k): True at (i, j) where j <= i + k, the lower triangle from diagonal k.
    mask = np.tri(n, m, int(k), dtype=bool) if lower else ~np.tri(n, m, int(k) - 1, dtype=bool)
    return where(mask, x, np.zeros((), dtype=x.dtype))


def tril(x: Any, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes: entries (i, j) with j <= i + k kept, the others 0, as np.tril."""
    return _triangle(x, k, True, "tril")


def triu(x: Any, k: int = 0) -> Tensor:
    """The upper triangle of the last two axes: entries (i, j) with j >= i + k kept, the others 0, as np.triu."""
    return _triangle(x, k, False, "triu")


# --------------------------------------------------------------------------
# random draws, only from a Generator the caller passes
# --------------------------------------------------------------------------


def random_dtype(dtype: Any, where_: str) -> np.dtype:
    """The float dtype to draw in (the default where None): a Generator draws float32 or float64."""
    dtype = float_dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where_}: draws float32 or float64, got dtype {dtype}")
    return dtype


def draw(method: str, shape: Size, generator: Any, dtype: Any, requires_grad: bool, where_: str) -> Tensor:
    """A new leaf of ``shape`` from ``generator.<method>`` ('random' or 'standard_normal'), drawn in ``dtype``."""
    rng = check_generator(generator, where_, name="generator", required=True)
    return leaf(tracing.draw(rng, method, shape, dtype=random_dtype(dtype, where_)), requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform draws from [0, 1): ``rand(2, 3, generator=rng)``."""
    return draw("random", size_of(size, "rand"), generator, dtype, requires_grad, "rand")


def randn(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws: ``randn(2, 3, generator=rng)``."""
    return draw("standard_normal", size_of(size, "randn"), generator, dtype, requires_grad, "randn")


def rand_like(x: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform draws from [0, 1) in the shape and (unless ``dtype`` is given) the float dtype of ``x``."""
    x = np.asarray(unwrap(x))
    return draw("random", x.shape, generator, like_dtype(x, dtype), requires_grad, "rand_like")


def randn_like(x: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws in the shape and (unless ``dtype`` is given) the float dtype of ``x``."""
    x = np.asarray(unwrap(x))
    return draw("standard_normal", x.shape, generator, like_dtype(x, dtype), requires_grad, "randn_like")


def randint(*bounds: Any, size: Any = None, generator: Any = None, dtype: Any = np.int64) -> Tensor:
    """Integers drawn uniformly from [low, high), as torch: ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and (len(bounds) == 3 or len(bounds) == 2 and isinstance(bounds[1], (tuple, list))):
        bounds, size = bounds[:-1], bounds[-1]
    if size is None or len(bounds) not in (1, 2):
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {bounds}, size={size}")
    low, high = (0, *bounds) if len(bounds) == 1 else bounds
    if not (is_int(low) and is_int(high)) or low >= high:
        raise OpError(f"randint: needs integers low < high, got low={low!r}, high={high!r}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"randint: dtype must be an integer dtype, got {dtype}")
    shape = shape_arg(size, "randint")
    rng = check_generator(generator, "randint", name="generator", required=True)
    return wrap(tracing.draw(rng, "integers", low, high, shape, dtype=dtype))


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, generator: Any = None, dtype: Any = None) -> Tensor:
    """Normal draws with the given ``mean`` and ``std`` (numbers, arrays or Tensors that broadcast).

    The shape is ``size`` where given, else the broadcast shape of mean and std. The result
    is a new tensor outside the graph (for draws differentiable in mean and std, see
    ``reparameterize``). The dtype is ``dtype``, else that of a float Tensor or array among
    mean and std, else the default.
    """
    mean, std = unwrap(mean), unwrap(std)
    if dtype is None:
        floats = [a.dtype for a in (mean, std) if isinstance(a, np.ndarray) and a.dtype in FLOAT_DTYPES]
        dtype = floats[0] if floats else None
    dtype = random_dtype(dtype, "normal")
    mean, std = np.asarray(mean, dtype=dtype), np.asarray(std, dtype=dtype)
    if np.any(std < 0):
        raise OpError("normal: std must be non-negative")
    wanted = [] if size is None else [shape_arg(size, "normal")]
    try:  # mean and std must broadcast to the size asked for (not beyond it)
        shape = np.broadcast_shapes(mean.shape, std.shape, *wanted)
    except ValueError:
        shape = None
    if shape is None or wanted not in ([], [shape]):
        raise OpError(f"normal: mean of shape {mean.shape} and std of shape {std.shape} do not broadcast"
                      f"{f' to size {wanted[0]}' if wanted else ''}")
    rng = check_generator(generator, "normal", name="generator", required=True)
    noise = tracing.draw(rng, "standard_normal", shape, dtype=dtype)
    return wrap(mean + std * noise)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = [
    "arange", "as_tensors", "empty", "empty_like", "eye", "full", "full_like", "linspace", "meshgrid", "normal",
    "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "tensor", "tril", "triu", "zeros",
    "zeros_like",
]
