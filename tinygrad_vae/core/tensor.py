"""The Tensor: an array, the gradient it may collect, and the node of the graph that made it.

A ``Tensor`` wraps a NumPy array. When an op is applied to tensors of which at
least one ``requires_grad`` (and recording is on), the op's ``Function`` object
is attached to the result as ``_ctx``; ``backward`` hands the graph to the
engine (``engine.py``), which runs the rules from the output back to the leaves.

This file holds the autograd side of a Tensor: construction, ``backward``,
``.grad``, hooks, ``detach`` and conversions. Its arithmetic and math methods
(``+``, ``exp``, ``sum``, ``reshape``, ...) belong to the ops layer, which
installs them on the class (``ops/methods.py``), so the core depends on no op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_vae.core.dtypes import check_float_dtype, to_array

if TYPE_CHECKING:
    from tinygrad_vae.core.function import Function


def wrap(data: np.ndarray) -> Tensor:
    """A Tensor around ``data`` as it is: the fast constructor for op results (no conversion, no checks)."""
    t = object.__new__(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t._ctx = None
    t.name = None
    t._hooks = None
    return t


def as_number(x: Any) -> Any:
    """A NumPy scalar as the Python number it holds, which NumPy does not let upcast float32 (NEP 50)."""
    return x.item() if isinstance(x, np.generic) else x


def lift(x: Any, like: Tensor) -> Tensor:
    """An operand as a Tensor. Python and NumPy numbers, and float arrays, take ``like``'s float dtype:
    a constant does not upcast a float32 computation (or downcast a float64 one)."""
    if isinstance(x, Tensor):
        return x
    x = as_number(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool) and like.data.dtype.kind == "f":
        return wrap(np.asarray(x, dtype=like.data.dtype))
    array = to_array(x)
    if array.dtype.kind == "f" and like.data.dtype.kind == "f":
        return wrap(array.astype(like.data.dtype, copy=False))
    return wrap(array)


def unwrap(x: Any) -> Any:
    """The array inside a Tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook off again."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: NumPy arrays keep their
    dtype (float32 and float64 alike); Python floats and lists of floats take
    the default dtype (float32, see ``set_default_dtype``); ints and bools keep
    NumPy's integer and bool dtypes and cannot require grad.
    """

    __slots__ = ("_ctx", "_hooks", "data", "grad", "name", "requires_grad")
    # Make ``ndarray <op> Tensor`` call the Tensor's reflected method.
    __array_ufunc__ = None

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None
    ) -> None:
        self.data = to_array(data.data if isinstance(data, Tensor) else data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = False
        self._ctx: Function | None = None
        self.name = name
        self._hooks: list[Callable] | None = None
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic properties ------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape (torch's ``size()``), or the length of one dim (negative counts from the end)."""
        if dim is None:
            return self.data.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dim {dim} is out of range for a tensor of shape {self.shape}")
        return self.data.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (parameters, inputs)."""
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        """The truth value of a one-element tensor (``if (x > 0).item():`` spelled ``if x > 0:``), as NumPy's.

        Defined so that ``bool(Tensor([1.0]) == 2.0)`` is False: without it Python would fall back on
        ``__len__`` and call every non-empty tensor true.
        """
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; "
                f"compare a one-element tensor, or use .data.any() / .data.all()"
            )
        return bool(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # np.array(t) asks for copy=True, np.asarray(t) for copy=None (share when the dtype allows).
        return np.array(self.data, dtype=dtype, copy=copy)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted, got shape {self.shape}")
        return self.data.item()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (on leaves) and return self."""
        if requires_grad:
            check_float_dtype(self.dtype, "requires_grad_")
        elif self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return wrap(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"]
        if self._ctx is not None:
            extras.append(f"grad_fn={type(self._ctx).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    __hash__ = object.__hash__  # ops/methods.py defines __eq__, which would otherwise remove it

    # ---- hooks -------------------------------------------------------------
    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is complete; a returned Tensor (or array) replaces it.

        The replacement must have this tensor's shape and a float dtype; anything else is an error
        naming this tensor.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    # ---- backward ----------------------------------------------------------
    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        A non-scalar tensor needs ``gradient`` (the vector in the vector-Jacobian
        product). The graph's saved inputs are released afterwards unless
        ``retain_graph`` (default: ``create_graph``) is true.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph to differentiate")
        _engine.run_backward(self, _engine.initial_gradient(self, gradient, "backward"), retain_graph, create_graph)


from tinygrad_vae.core import engine as _engine  # at the end: engine.py imports Tensor from here
