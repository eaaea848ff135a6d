"""The Tensor, the graph it records, and the reverse-mode engine that walks it.

A ``Tensor`` wraps a NumPy array. When an op is applied to tensors of which at
least one ``requires_grad`` (and gradient recording is on), the op's
``Function`` object is attached to the result as ``_ctx``: it remembers its
input tensors, and its ``backward`` method maps the output's gradient to the
inputs' gradients. ``Tensor.backward`` runs those rules from the output back
to the leaves, always taking next the most recently made tensor that is
waiting for its rule (every op is numbered as it is recorded, and an output is
made after its inputs); no recursion, so deep chains cannot overflow the
Python stack.

Gradient rules are written once, with operators and ops that work on Tensors
and on NumPy arrays alike. With ``create_graph=True`` the engine runs them on
Tensors, so they are recorded like any other computation, which is what makes
second and higher derivatives work; otherwise it runs the same rules on bare
arrays, so they cost no more than the NumPy calls inside them.

The ops themselves (each forward beside its gradient rule) live in ``ops.py``.
"""

from __future__ import annotations

import functools
import itertools
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype given to Python scalars and lists of floats (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype given to Python scalars and lists of floats."""
    return _default_dtype


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn user data into an ndarray: arrays keep their dtype, Python floats get the default."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"Tensor: cannot make an array from this data: {error}") from None
    if not isinstance(data, (np.ndarray, np.generic)) and arr.dtype.kind == "f":
        arr = arr.astype(_default_dtype, copy=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: expected numeric or bool data, got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


# --------------------------------------------------------------------------
# gradient recording mode
# --------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default)."""
    return _grad_enabled


class set_grad_enabled:
    """Switch graph recording on or off: a context manager and a decorator.

    ``no_grad()`` is ``set_grad_enabled(False)``; ``enable_grad()`` is
    ``set_grad_enabled(True)``. The mode is global to the process (not per thread).
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Inside ``with no_grad():`` (or a function decorated ``@no_grad()``) nothing is recorded."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` region."""

    def __init__(self) -> None:
        super().__init__(True)


# --------------------------------------------------------------------------
# anomaly mode and backward observers (instruments for debugging and teaching)
# --------------------------------------------------------------------------

_anomaly_enabled = False
# Called as observer(tensor, grad) for every node the backward pass processes.
_backward_observers: list[Callable[[Tensor, Tensor], None]] = []


class AnomalyError(FloatingPointError):
    """Raised in anomaly mode when an op produces NaN or inf."""


class detect_anomaly:
    """Raise at the first op whose forward output or backward gradient holds NaN or inf.

    The error names the op, its input shapes and the line of user code that
    created it. Checking every op costs time: use it to debug, not to train.
    """

    def __enter__(self) -> None:
        global _anomaly_enabled
        self._previous = _anomaly_enabled
        _anomaly_enabled = True

    def __exit__(self, *exc: object) -> None:
        global _anomaly_enabled
        _anomaly_enabled = self._previous


# With the separator, so that a sibling such as tinygrad_vae_notes.py does not count as inside.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frame() -> str:
    """The innermost stack frame outside this package, as 'file:line in func: code'."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def _check_finite(fn: Function, array: np.ndarray, what: str) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        shapes = ", ".join(str(t.shape) for t in fn.inputs or ())
        raise AnomalyError(
            f"{type(fn).__name__}: {what} contains NaN or inf (input shapes {shapes}); "
            f"op created at {getattr(fn, 'created_at', '<outside detect_anomaly>')}"
        )


# --------------------------------------------------------------------------
# Function: one node of the graph
# --------------------------------------------------------------------------


class OpError(ValueError):
    """Bad input to an op; the message already names the op, the shapes and what was expected."""


def _explain(fn: Function, arrays: Sequence[np.ndarray], error: Exception) -> Exception:
    """Re-word an error NumPy raised inside an op's forward so it names the op and its inputs."""
    shapes = " and ".join(str(a.shape) for a in arrays)
    dtypes = " and ".join(str(a.dtype) for a in arrays)
    hint = "; broadcasting needs each pair of trailing dimensions to be equal or 1" if "broadcast" in str(error) else ""
    message = f"{type(fn).__name__}: {error} (input shapes {shapes}, dtypes {dtypes}{hint})"
    return TypeError(message) if isinstance(error, TypeError) else ValueError(message)


class Function:
    """Base class of every op: ``forward`` on arrays, ``backward`` on Tensors or on arrays.

    ``apply`` runs ``forward`` on the inputs' arrays and, when a gradient is
    needed, records the node (and which inputs need a gradient, in
    ``needs_input_grad``). ``backward(grad, out, *inputs)`` receives the
    gradient of the output, the output and the inputs, and returns one
    gradient per input, shaped like that input, or None where
    ``needs_input_grad`` is False.

    The engine calls ``backward`` with Tensors when the backward pass is
    itself recorded (``create_graph=True``) and with bare NumPy arrays
    otherwise, so a rule is written with what works on both: Python's
    operators, NumPy-style methods such as ``.reshape`` and ``.sum``, and
    other ops' ``apply``, which on arrays just runs their forward.
    """

    inputs: tuple[Tensor, ...] | None
    needs_input_grad: tuple[bool, ...]
    created_at: str
    # The engine checks each gradient a rule returns (a Tensor or an array as the path
    # expects, the input's shape) and fixes it up or raises a clear error. The engine's own
    # ops, whose rules the test suite checks op by op, turn this off. Either way a gradient
    # is cast to its input's dtype (a float32 input of a float64 product gets float32).
    check_gradients: bool = True

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: Any, out: Any, *inputs: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        fn = cls()
        if not isinstance(inputs[0], Tensor):
            # Called by a rule on the array path: nothing to wrap and nothing to record.
            return fn.forward(*inputs, **params)
        fn.inputs = inputs
        # Spelled out for the usual one to three inputs: in CPython 3.11 a generator or list
        # comprehension costs ~0.3 us, a third of a small op's NumPy call (the 2-D VAE's
        # arrays are that small).
        if len(inputs) == 1:
            arrays: Sequence[np.ndarray] = (inputs[0].data,)
            needs: tuple[bool, ...] = (inputs[0].requires_grad,)
        elif len(inputs) == 2:
            arrays = (inputs[0].data, inputs[1].data)
            needs = (inputs[0].requires_grad, inputs[1].requires_grad)
        elif len(inputs) == 3:
            arrays = (inputs[0].data, inputs[1].data, inputs[2].data)
            needs = (inputs[0].requires_grad, inputs[1].requires_grad, inputs[2].requires_grad)
        else:
            arrays = [t.data for t in inputs]
            needs = tuple([t.requires_grad for t in inputs])
        try:
            out = _wrap(fn.forward(*arrays, **params))
        except OpError:
            raise
        except (ValueError, TypeError) as error:
            raise _explain(fn, arrays, error) from None
        if _grad_enabled and True in needs:
            out.requires_grad = True
            out._ctx = fn
            fn.needs_input_grad = needs
            fn.sequence_nr = next(_recorded_ops)
        if _anomaly_enabled:
            fn.created_at = _user_frame()
            _check_finite(fn, out.data, "forward output")
        return out

    def release(self) -> None:
        """Drop the references to the inputs (and whatever forward saved) after backward."""
        sequence_nr = self.sequence_nr
        self.__dict__.clear()
        self.inputs, self.sequence_nr = None, sequence_nr


# Numbers the recorded ops in the order they are created. An op's output is created after its
# inputs, so every tensor's number is larger than its inputs' numbers: ordering by it is a
# topological order, which is how the backward pass schedules its work.
_recorded_ops = itertools.count()


# --------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------


def _wrap(data: np.ndarray) -> Tensor:
    """Fast constructor for op results: no conversion, no checks."""
    t = object.__new__(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t._ctx = None
    t.name = None
    t._hooks = None
    return t


def _check_can_require_grad(dtype: np.dtype, where: str) -> None:
    if dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{where}: only float32 and float64 tensors can require grad, got dtype {dtype}"
        )


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
        self.data = _to_array(data, dtype)
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

    @property
    def size(self) -> int:
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
            _check_can_require_grad(self.dtype, "requires_grad_")
        elif self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return _wrap(self.data)

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

    __hash__ = object.__hash__  # defining __eq__ below would otherwise remove it

    # ---- hooks -------------------------------------------------------------
    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
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
        grad = _initial_gradient(self, gradient, "backward")
        _run_backward(self, grad, None, retain_graph, create_graph)

    # ---- arithmetic (the rules live in ops.py) ------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, _lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return _ops.Add.apply(_lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, _lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(_lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, _lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(_lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(_lift(other, self), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor):
            return _ops.Pow.apply(self, exponent)
        if isinstance(exponent, np.ndarray):
            return _ops.Pow.apply(self, _lift(exponent, self))
        return _ops.PowScalar.apply(self, exponent=_number(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return _ops.Pow.apply(_lift(base, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(_lift(other, self), self)

    # ---- comparisons: bool tensors outside the graph -----------------------
    def __lt__(self, other: Any) -> Tensor:
        return _wrap(self.data < _data(other))

    def __le__(self, other: Any) -> Tensor:
        return _wrap(self.data <= _data(other))

    def __gt__(self, other: Any) -> Tensor:
        return _wrap(self.data > _data(other))

    def __ge__(self, other: Any) -> Tensor:
        return _wrap(self.data >= _data(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _wrap(self.data == _data(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _wrap(self.data != _data(other))

    # ---- elementwise functions ---------------------------------------------
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return _ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return _ops.LeakyReLU.apply(self, negative_slope=_number(negative_slope))

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def softplus(self) -> Tensor:
        return _ops.Softplus.apply(self)

    def log_sigmoid(self) -> Tensor:
        return _ops.log_sigmoid(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return _ops.Clip.apply(self, lo=_number(min), hi=_number(max))

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; a cast to an integer or bool dtype is outside the graph (no gradient)."""
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"astype: expected a numeric or bool dtype, got {dtype}")
        if dtype not in FLOAT_DTYPES:
            return _wrap(self.data.astype(dtype))
        return _ops.Cast.apply(self, dtype=dtype)

    # ---- reductions ----------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return -_ops.Max.apply(-self, axis=axis, keepdims=keepdims)

    def var(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        return _ops.var(self, axis=axis, keepdims=keepdims, correction=correction)

    def logsumexp(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)

    # ---- shape ---------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like ``numpy.transpose``: no arguments reverses them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    def permute(self, *dims: int) -> Tensor:
        return self.transpose(*dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return _ops.Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        return _ops.swap_last_axes(self)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.BroadcastTo.apply(self, shape=tuple(shape))

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_ops.normalize_index(index))


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _number(x: Any) -> Any:
    """A NumPy scalar as the Python number it holds, which NumPy does not let upcast float32 (NEP 50)."""
    return x.item() if isinstance(x, np.generic) else x


def _lift(x: Any, like: Tensor) -> Tensor:
    """Turn an operand into a Tensor; Python and NumPy numbers take ``like``'s float dtype (no upcast)."""
    if isinstance(x, Tensor):
        return x
    x = _number(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool) and like.data.dtype.kind == "f":
        return _wrap(np.asarray(x, dtype=like.data.dtype))
    return _wrap(_to_array(x))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as ``Tensor(...)``; spelled like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# --------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------


def _initial_gradient(out: Tensor, gradient: Any, where: str) -> Tensor:
    """The seed of the backward pass: ones for a scalar, else the user's gradient."""
    if gradient is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for scalar outputs; "
                f"output has shape {out.shape}, so pass gradient= with that shape"
            )
        return _wrap(np.ones(out.data.shape, out.data.dtype))  # np.ones_like is twice as slow on a NumPy scalar
    grad = gradient if isinstance(gradient, Tensor) else _wrap(np.asarray(gradient, dtype=out.dtype))
    if grad.shape != out.shape:
        raise ValueError(f"{where}: gradient has shape {grad.shape} but the output has shape {out.shape}")
    return grad


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on through recorded ops, inputs before outputs.

    Leaves come first, in the order a search from ``root`` meets them, then the outputs of
    recorded ops in the order the ops ran (their ``sequence_nr``): an output is always made
    after its inputs. The search keeps its own stack instead of recursing, so a chain of
    100,000 ops is fine.
    """
    if root._ctx is None:
        return [root]
    leaves: list[Tensor] = []
    made_by_ops = [root]
    seen = {id(root)}
    stack = [root]
    while stack:
        inputs = stack.pop()._ctx.inputs
        for parent in inputs or ():  # no inputs: released by an earlier backward
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                if parent._ctx is None:
                    leaves.append(parent)
                else:
                    made_by_ops.append(parent)
                    stack.append(parent)
    made_by_ops.sort(key=lambda t: t._ctx.sequence_nr)
    return leaves + made_by_ops


def _run_rule(fn: Function, grad: Any, out: Tensor, create_graph: bool) -> tuple[Any, ...]:
    """Call ``fn``'s rule on Tensors (``create_graph``) or on the bare arrays (otherwise)."""
    inputs = fn.inputs
    if create_graph:
        args = (grad, out, *inputs)
    elif len(inputs) == 1:  # the usual cases spelled out, without a comprehension (see Function.apply)
        args = (grad, out.data, inputs[0].data)
    elif len(inputs) == 2:
        args = (grad, out.data, inputs[0].data, inputs[1].data)
    else:
        args = (grad, out.data, *[t.data for t in inputs])
    if _anomaly_enabled:
        return _rule_without_anomaly(fn, args)
    try:
        return fn.backward(*args)
    except AttributeError as error:
        if create_graph or "numpy" not in str(error):
            raise
        raise AttributeError(
            f"{type(fn).__name__}.backward: {error}. Without create_graph the engine runs rules on "
            f"NumPy arrays, so a rule may use operators, NumPy-style methods and ops' apply "
            f"(Exp.apply(x), not x.exp()); see docs/engine.md, section 5"
        ) from error


def _rule_without_anomaly(fn: Function, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Run ``fn``'s rule with anomaly mode paused, in anomaly mode.

    ``_run_backward`` checks the rule's result itself, so that an error names this op and the
    line that created it, not some op inside its rule (which ran on the backward line).
    """
    global _anomaly_enabled
    _anomaly_enabled = False
    try:
        return fn.backward(*args)
    finally:
        _anomaly_enabled = True


def _observe(t: Tensor, grad: Any, create_graph: bool) -> Any:
    """Run ``t``'s hooks (which may replace ``grad``) and the backward observers on ``grad``.

    Hooks and observers always see a Tensor, also on the array path.
    """
    as_tensor = grad if create_graph else _wrap(grad)
    for hook in list(t._hooks or ()):
        replaced = hook(as_tensor)
        if replaced is not None:
            as_tensor = replaced if isinstance(replaced, Tensor) else _wrap(np.asarray(replaced))
    for observer in _backward_observers:
        observer(t, as_tensor)
    return as_tensor if create_graph else as_tensor.data


def _checked_gradient(fn: Function, g: Any, p_data: np.ndarray, create_graph: bool) -> Any:
    """A rule's gradient for an input holding ``p_data``, made usable or refused with a clear error.

    A user's rule may return the other kind of value (a Tensor on the array path, or the
    reverse) or another float dtype (which is cast); a wrong shape is an error, and in anomaly
    mode so is a NaN or inf.
    """
    if isinstance(g, Tensor) is not create_graph:
        g = _wrap(np.asarray(g)) if create_graph else g.data
    if g.shape != p_data.shape:
        raise RuntimeError(
            f"{type(fn).__name__}.backward returned a gradient of shape {g.shape} "
            f"for an input of shape {p_data.shape}"
        )
    if g.dtype != p_data.dtype:
        g = g.astype(p_data.dtype)
    if _anomaly_enabled:
        _check_finite(fn, _data(g), "backward gradient")
    return g


def _run_backward(
    root: Tensor,
    root_grad: Tensor,
    wanted: Sequence[Tensor] | None,
    retain_graph: bool | None,
    create_graph: bool,
) -> dict[int, Tensor]:
    """Propagate ``root_grad`` from ``root`` to the leaves.

    With ``wanted=None`` leaf gradients are accumulated into ``.grad``;
    otherwise nothing is written and the gradients of the ``wanted`` tensors
    are returned, keyed by ``id``. Gradients flow as Tensors when
    ``create_graph`` (the rules are recorded) and as bare arrays otherwise.
    """
    global _grad_enabled
    if retain_graph is None:
        retain_graph = create_graph
    wanted_ids = None if wanted is None else {id(t) for t in wanted}
    found: dict[int, Tensor] = {}
    grads: dict[int, Any] = {id(root): root_grad if create_graph else root_grad.data}
    # Tensors made by ops, waiting for their rule, as (-sequence_nr, tensor): the heap hands out
    # the most recently made one first. Its consumers were all made later, so by then they have
    # all added their share to its gradient. Leaves wait in a list and are done last.
    waiting: list[tuple[int, Tensor]] = []
    leaves: list[Tensor] = []
    if root._ctx is None:
        leaves.append(root)
    else:
        waiting.append((-root._ctx.sequence_nr, root))
    previous_mode = _grad_enabled
    _grad_enabled = create_graph  # rules record a graph only when asked to
    try:
        while waiting:
            t = heappop(waiting)[1]
            grad = grads.pop(id(t))
            if t._hooks or _backward_observers:
                grad = _observe(t, grad, create_graph)
            if wanted_ids is not None and id(t) in wanted_ids:
                found[id(t)] = grad if create_graph else _wrap(grad)
            fn = t._ctx
            inputs = fn.inputs
            if inputs is None:
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time "
                    f"({type(fn).__name__}'s saved inputs were freed); "
                    f"pass retain_graph=True to the first backward if you need to"
                )
            check = fn.check_gradients or _anomaly_enabled
            for parent, g in zip(inputs, _run_rule(fn, grad, t, create_graph)):
                if g is None or not parent.requires_grad:
                    continue
                if check:
                    g = _checked_gradient(fn, g, parent.data, create_graph)
                elif g.dtype != parent.data.dtype:  # mixed precision: float32 * float64 gives float64
                    g = g.astype(parent.data.dtype)
                key = id(parent)
                previous = grads.get(key)
                if previous is not None:
                    grads[key] = previous + g
                    continue
                grads[key] = g  # the first share: the parent starts waiting
                if parent._ctx is None:
                    leaves.append(parent)
                else:
                    heappush(waiting, (-parent._ctx.sequence_nr, parent))
            if not retain_graph:
                fn.release()
        for t in leaves:
            grad = grads.pop(id(t))
            if t._hooks or _backward_observers:
                grad = _observe(t, grad, create_graph)
            if wanted_ids is not None:
                if id(t) in wanted_ids:
                    found[id(t)] = grad if create_graph else _wrap(grad)
            elif t.grad is None:
                t.grad = grad if create_graph else _wrap(grad)
            else:
                t.grad = t.grad + grad if create_graph else _wrap(t.grad.data + grad)
    finally:
        _grad_enabled = previous_mode
    return found


def gradients(
    output: Tensor,
    inputs: Sequence[Tensor],
    grad_output: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> list[Tensor]:
    """d(output)/d(input) for each input, returned instead of accumulated into ``.grad``.

    Like ``torch.autograd.grad``. An input that ``output`` does not depend on
    gets a zero gradient. With ``create_graph=True`` the results are
    themselves differentiable.
    """
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise ValueError(f"gradients: input {i} must be a Tensor that requires grad")
    if not output.requires_grad:  # output does not depend on anything that requires grad
        return [_wrap(np.zeros_like(t.data)) for t in inputs]
    seed = _initial_gradient(output, grad_output, "gradients")
    found = _run_backward(output, seed, inputs, retain_graph, create_graph)
    return [found[id(t)] if id(t) in found else _wrap(np.zeros_like(t.data)) for t in inputs]


def as_tensors(values: Iterable[Any]) -> list[Tensor]:
    """Each value as a Tensor (Tensors pass through unchanged)."""
    return [v if isinstance(v, Tensor) else Tensor(v) for v in values]


from tinygrad_vae import ops as _ops  # at the end: ops.py needs Tensor defined first
