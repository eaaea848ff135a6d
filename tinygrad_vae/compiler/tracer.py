"""The tracer: run a step once on stand-in arrays and record every NumPy call it makes.

Every op's forward and every gradient rule works on arrays, so the trace happens at the NumPy level:
the arrays inside Tensors are replaced by ``Traced`` objects, which carry the concrete value (computed
right away, so the traced call returns eager's results and every shape is known) and the id of the
program value they stand for. NumPy hands every ufunc and every array function called on them to
``__array_ufunc__``/``__array_function__``, which record the call and wrap the results.

State that lives across steps is found where it is stored: the ``data`` and ``grad`` slots of the
Tensors that existed before the trace (the tracer puts properties on the Tensor class for the length
of the trace only, so eager code pays nothing), and the dicts that library code declares with
``core.tracing.bind_state``. The first read of such a location makes it an input of the program
(with a guard on its shape and dtype); what the step leaves there becomes an output.

In-place writes (``a += b``, ``out=``, ``a[i] = v``) are recorded as functional updates that rebind
the Traced object to the new value, so every holder of that array sees the new version, as in eager.
An array that shared memory with the written one goes stale: using it later is refused.

Python numbers read from bound dicts (learning rates, step counters) become *weak* values: they
follow NumPy's rules for Python scalars (``lr * w`` keeps ``w``'s float32), and Python control flow
on them (``if weight_decay:``, ``math.sqrt(...)``) guards on the values they came from instead.
"""

from __future__ import annotations

import linecache
import sys
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.compiler.program import Instr, Ref
from tinygrad_vae.compiler.state import DictItem, GradSlot, Guard, Location, TensorSlot, guard_item
from tinygrad_vae.core import tracing
from tinygrad_vae.core.tensor import Tensor, wrap


class TraceError(RuntimeError):
    """Something in a step that a trace cannot capture; the message names the line."""


def user_line() -> str:
    """``file:line: code`` of the innermost frame outside this package and NumPy."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("tinygrad_vae.", "numpy")):
            code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return f"{frame.f_code.co_filename}:{frame.f_lineno}: {code}"
        frame = frame.f_back
    return "<unknown line>"


def refuse(what: str, hint: str) -> TraceError:
    return TraceError(f"compile: {what}, at {user_line()}. {hint}")


_CONTROL_FLOW = ("Python control flow on array values cannot be recorded: express it with array ops "
                 "(np.where, maximum, ...) or move it out of the compiled step")

# Functions whose output shape depends on the input values: a replay could not keep later shapes.
_VALUE_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.extract, np.compress, np.trim_zeros}
# Functions that answer with shapes or dtypes only, never values.
_SHAPE_ONLY = {np.shape, np.ndim, np.size, np.result_type, np.broadcast_shapes, np.can_cast, np.min_scalar_type}
# The methods of ndarray that a Traced records (in-place ones are refused instead).
_IN_PLACE_METHODS = {"fill", "sort", "partition", "put", "resize", "itemset", "setfield", "setflags", "byteswap"}
_REFUSED_METHODS = {"item": "item()", "tolist": "tolist()", "tobytes": "tobytes()", "tofile": "tofile()",
                    "dump": "dump()", "dumps": "dumps()", "nonzero": "nonzero()"}


def _base(array: Any) -> Any:
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


class Traced:
    """A stand-in for one array (or Python number, when ``weak``) of the trace."""

    __slots__ = ("__weakref__", "deps", "id", "origin", "stale", "tracer", "value", "weak")

    def __init__(self, tracer: Tracer, ident: int, value: Any, weak: bool = False,
                 deps: frozenset = frozenset()) -> None:
        self.tracer, self.id, self.value, self.weak, self.deps = tracer, ident, value, weak, deps
        self.stale: Any = None    # the Traced whose in-place write changed this one's memory, if any
        self.origin: Any = None   # (array, index) for a result of array[index]

    # ---- what is known without values ------------------------------------
    shape = property(lambda self: np.shape(self.value))
    dtype = property(lambda self: np.asarray(self.value).dtype if self.weak else self.value.dtype)
    ndim = property(lambda self: np.ndim(self.value))
    size = property(lambda self: np.size(self.value))
    itemsize = property(lambda self: self.dtype.itemsize)
    nbytes = property(lambda self: self.value.nbytes)
    T = property(lambda self: self._method("transpose"))
    mT = property(lambda self: self._method("swapaxes", -1, -2))

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self.value)))

    def __repr__(self) -> str:
        return f"Traced(%{self.id}, shape={self.shape}, dtype={self.dtype})"

    # ---- NumPy's protocols -------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return self.tracer.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return self.tracer.function(func, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise refuse("a conversion of a traced array into a NumPy array", _ESCAPE)

    # ---- Python's conversions: control flow on values ----------------------
    def _python(self, kind: type, what: str) -> Any:
        if self.weak:
            self.tracer.guard_weak(self)
            return kind(self.value)
        raise refuse(f"{what} of a traced tensor", _CONTROL_FLOW)

    def __bool__(self) -> bool:
        return self._python(bool, "bool()")

    def __float__(self) -> float:
        return self._python(float, "float()")

    def __int__(self) -> int:
        return self._python(int, "int()")

    def __index__(self) -> int:
        return self._python(int, "int()/indexing with")

    def __complex__(self) -> complex:
        return self._python(complex, "complex()")

    # ---- methods -------------------------------------------------------------
    def _method(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.tracer.call(getattr(np.ndarray, name), (self, *args), kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in _REFUSED_METHODS:
            raise refuse(f"{_REFUSED_METHODS[name]} of a traced tensor", _CONTROL_FLOW)
        if name in _IN_PLACE_METHODS:
            raise refuse(f"the in-place method {name}() on a traced array", "Write it as an operation that "
                         "returns a new array")
        if name.startswith("__") or not callable(getattr(np.ndarray, name, None)):
            raise AttributeError(f"'Traced' (an array of a trace) has no attribute {name!r}")
        return lambda *args, **kwargs: self._method(name, *args, **kwargs)

    def __getitem__(self, index: Any) -> Any:
        self.tracer.check_index(index)
        result = self.tracer.call(_getitem, (self, index), {})
        if isinstance(result, Traced):
            result.origin = (self, index)
        return result

    def __setitem__(self, index: Any, value: Any) -> None:
        self.tracer.check_index(index)
        # `a[i] += v`: Python writes the updated view a[i] back with the same index object, which makes
        # the record (a2 = a with a2[i] = view) exact again.
        if self.stale is value and value.origin is not None and value.origin[0] is self and value.origin[1] is index:
            self.stale = None
        self.tracer.update(self, _setitem, (self, index, value), lambda v: v.__setitem__(index, _concrete(value)))


def _getitem(array: Any, index: Any) -> Any:
    return array[index]


def _setitem(array: np.ndarray, index: Any, value: Any) -> np.ndarray:
    """``array`` with ``array[index] = value``, as a new array (the functional form of ``__setitem__``)."""
    out = np.array(array)  # a replay may hold a NumPy scalar where the trace saw a 0-d array
    out[index] = value
    return out


def _ufunc_at(ufunc: np.ufunc, array: np.ndarray, *args: Any) -> np.ndarray:
    """``ufunc.at(array, ...)`` on a copy of ``array``, returned."""
    out = np.array(array)
    ufunc.at(out, *args)
    return out


def reshaped(array: np.ndarray, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """``array.reshape(shape)`` as a new C-contiguous array, written into ``out`` when given: how a reshape
    that copied when traced (the windows of a convolution) is replayed, so buffer reuse can give it ``out=``
    instead of a large new array at each replay (which the allocator may hand back to the system each time)."""
    if out is None:
        out = np.empty(shape, array.dtype)
    np.copyto(out.reshape(array.shape), array)  # a C-contiguous array's reshape is a view: C order, as reshape's
    return out


def _fail_if(mask: np.ndarray, error: Callable[..., Exception], *values: Any) -> None:
    """Raise ``error(*values)`` if any element of ``mask`` is set (an op's check of its input values, on replay)."""
    if mask.any():
        raise error(*values)


def _concrete(value: Any) -> Any:
    """``value`` with every Traced replaced by its concrete value (weak ones by the Python number)."""
    if isinstance(value, Traced):
        return value.value
    if isinstance(value, (tuple, list, dict, slice)):
        return _map(value, _concrete)
    return value


def _operator(ufunc: np.ufunc, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: self.tracer.ufunc(ufunc, "__call__", (other, self), {})
    return lambda self, other: self.tracer.ufunc(ufunc, "__call__", (self, other), {})


def _in_place(ufunc: np.ufunc) -> Callable:
    def operator(self: Traced, other: Any) -> Traced:
        if self.weak:  # a Python number: `t += 1` makes a new number
            return self.tracer.ufunc(ufunc, "__call__", (self, other), {})
        self.tracer.ufunc(ufunc, "__call__", (self, other), {"out": (self,)})
        return self
    return operator


for _name, _ufunc in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.true_divide),
                      ("floordiv", np.floor_divide), ("mod", np.remainder), ("pow", np.power),
                      ("matmul", np.matmul), ("and", np.bitwise_and), ("or", np.bitwise_or),
                      ("xor", np.bitwise_xor), ("lshift", np.left_shift), ("rshift", np.right_shift)]:
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
    setattr(Traced, f"__r{_name}__", _operator(_ufunc, reflected=True))
    setattr(Traced, f"__i{_name}__", _in_place(_ufunc))
for _name, _ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                      ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in [("neg", np.negative), ("pos", np.positive), ("abs", np.absolute), ("invert", np.invert)]:
    setattr(Traced, f"__{_name}__", lambda self, _u=_ufunc: self.tracer.ufunc(_u, "__call__", (self,), {}))
Traced.__divmod__ = lambda self, other: self.tracer.ufunc(np.divmod, "__call__", (self, other), {})
Traced.__hash__ = object.__hash__

# NumPy's creation functions take no array, so NumPy never hands them to a Traced: during a trace the
# library's calls to them (np.zeros(shape) inside a gradient rule) are recorded through these.
_CREATORS = ("zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace", "tri")

_CONVERTERS = ("asarray", "array", "asanyarray", "ascontiguousarray")
_NP_ARRAY, _NP_ASARRAY, _NP_CONTIGUOUS = np.array, np.asarray, np.ascontiguousarray
_TENSOR_ARRAY = Tensor.__array__.__code__
_ESCAPE = ("A NumPy call that copies a traced array out of the trace cannot be recorded: use array "
           "operations on it (they are recorded), or move it out of the compiled step")

_DATA = Tensor.__dict__["data"]
_GRAD = Tensor.__dict__["grad"]


def _from_library(depth: int = 2) -> bool:
    return sys._getframe(depth).f_globals.get("__name__", "").startswith("tinygrad_vae.")


class Tracer:
    """Records one call of a step; ``start()``/``finish()`` put the trace in place and take it away."""

    def __init__(self, names: dict[int, str]) -> None:
        self.param_names = names            # id(tensor) -> "encoder.0.weight"
        self.instrs: list[Instr] = []
        self.meta: dict[int, tuple[tuple[int, ...], np.dtype]] = {}
        self.names: dict[int, str] = {}
        self.inputs: list[tuple[int, Any]] = []
        self.guards: list[Guard] = []
        self.locations: dict[tuple, Location] = {}
        self.dicts: dict[int, tuple[dict, str]] = {}
        self.born: set[int] = set()
        self.keep: list[Tensor] = []       # every tensor made during the trace (so ids stay unique)
        self.by_base: dict[int, list[weakref.ref]] = {}
        self.guarded: set[int] = set()
        self._next = 0
        self._saved: dict[str, Callable] = {}
        self._creators: dict[str, Callable] = {}

    # ---- values ------------------------------------------------------------
    def new(self, value: Any, weak: bool = False, deps: frozenset = frozenset(), name: str | None = None) -> Traced:
        ident = self._next
        self._next += 1
        if weak:  # a Python number, kept as one
            value = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        elif not isinstance(value, np.ndarray):
            value = np.asarray(value)  # a NumPy scalar result: kept as the 0-d array it stands for
        t = Traced(self, ident, value, weak, deps)
        self.meta[ident] = (np.shape(value), t.dtype)
        if name is not None:
            self.names[ident] = name
        if not weak:
            self.by_base.setdefault(id(_base(value)), []).append(weakref.ref(t))
        return t

    def is_traced(self, x: Any) -> bool:
        return isinstance(x, Traced) and x.tracer is self

    def refs(self, value: Any) -> Any:
        """``value`` for the record: Traced -> Ref; a NumPy array the trace does not see is refused."""
        if isinstance(value, Traced):
            if value.tracer is not self:
                raise refuse("an array of another trace", "Arrays of one compiled step cannot enter another")
            if value.stale is not None:
                raise refuse("use of an array that changed in place through another array sharing its memory",
                             "The compiled step cannot follow writes through views: copy the array first")
            return Ref(value.id)
        if isinstance(value, np.ndarray) and value.ndim > 0 and value.dtype.kind not in "biu":
            raise refuse(f"a NumPy float array the trace does not see (shape {value.shape}, dtype {value.dtype})",
                         "Float arrays made outside the trace (a closure's data, a Generator called directly) "
                         "would be frozen into the program: pass it as an argument of the compiled function, "
                         "keep it in a Tensor made before the first call, or draw noise with the library's "
                         "generator= functions (integer and bool arrays, such as indices and masks, are kept "
                         "as constants)")
        if isinstance(value, (tuple, list, dict, slice)):
            return _map(value, self.refs)
        return value

    def record(self, op: Callable, args: tuple, kwargs: dict, result: Any, effect: bool = False,
               weak: bool = False, deps: frozenset = frozenset()) -> Any:
        """Append ``op(*args, **kwargs)`` (whose concrete ``result`` is known) and wrap the result."""
        rargs, rkwargs = self.refs(args), self.refs(kwargs)
        if result is None:  # an effect without a value (a check)
            self.instrs.append(Instr((), op, rargs, rkwargs, effect))
            return None
        if isinstance(result, (tuple, list)) and not isinstance(result, np.ndarray):
            outs = [self.new(r) for r in result]
            self.instrs.append(Instr(tuple(o.id for o in outs), op, rargs, rkwargs, effect))
            return type(result)(outs) if isinstance(result, list) else tuple(outs)
        out = self.new(result, weak, deps)
        self.instrs.append(Instr((out.id,), op, rargs, rkwargs, effect))
        return out

    def call(self, op: Callable, args: tuple, kwargs: dict) -> Any:
        """Record ``op`` called on arguments that hold Traced values."""
        result = op(*_concrete(args), **_concrete(kwargs))
        python_number = isinstance(result, (bool, int, float)) and not isinstance(result, np.generic)
        if python_number and isinstance(getattr(op, "__self__", op), np.ufunc):
            result = np.asarray(result, dtype=object)  # an np.frompyfunc ufunc on a 0-d array: an object scalar
        elif python_number or result is None:
            raise refuse(f"{getattr(op, '__name__', op)} answered a Python {type(result).__name__} from traced "
                         f"values", _CONTROL_FLOW)
        if (op is np.ndarray.reshape or (op is np.reshape and len(args) == 2)) and not kwargs \
                and isinstance(args[0], Traced) and not np.may_share_memory(result, args[0].value):
            return self.record(reshaped, (args[0], result.shape), {}, result)
        return self.record(op, args, kwargs, result)

    def update(self, target: Traced, op: Callable, args: tuple, in_place: Callable) -> None:
        """An in-place write to ``target``: record ``op(*args)`` (functional) and rebind ``target`` to it."""
        rargs = self.refs(args)
        in_place(target.value)  # the concrete value changes in place, exactly as in eager code
        self._stale_aliases(target)
        self._rebind(target, Instr((), op, rargs, {}))

    def _rebind(self, target: Traced, instr: Instr) -> None:
        ident = self._next
        self._next += 1
        instr.outs = (ident,)
        self.instrs.append(instr)
        target.id = ident
        self.meta[ident] = (np.shape(target.value), target.value.dtype)

    def _stale_aliases(self, target: Traced) -> None:
        for ref in self.by_base.get(id(_base(target.value)), ()):
            other = ref()
            if other is not None and other is not target and np.may_share_memory(other.value, target.value):
                other.stale = target

    def check_index(self, index: Any) -> None:
        for item in index if isinstance(index, tuple) else (index,):
            if isinstance(item, Traced) and item.dtype == bool:
                raise refuse("indexing with a traced boolean mask", "The result's shape would depend on the "
                             "values: use np.where(mask, x, 0) or multiply by the mask instead")

    # ---- NumPy's protocols -------------------------------------------------
    def ufunc(self, ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
        out = kwargs.pop("out", None)
        if method == "at":
            target = inputs[0]
            if not isinstance(target, Traced):
                raise refuse(f"np.{ufunc.__name__}.at into an array the trace does not see", "Make the target "
                             "with np.zeros_like(traced) so that the trace sees it")
            self.update(target, _ufunc_at, (ufunc, *inputs), lambda v: ufunc.at(v, *_concrete(inputs[1:])))
            return None
        weak = [isinstance(x, Traced) and x.weak for x in inputs]
        if any(weak):
            inputs = self._weak_inputs(ufunc, inputs, weak)
            if all(isinstance(x, Traced) and x.weak or not isinstance(x, (Traced, np.ndarray)) for x in inputs):
                deps = frozenset().union(*(x.deps for x in inputs if isinstance(x, Traced)))
                op = ufunc if method == "__call__" else getattr(ufunc, method)
                result = op(*_concrete(inputs), **_concrete(kwargs))
                return self.record(op, inputs, kwargs, result, weak=True, deps=deps)
        op = ufunc if method == "__call__" else getattr(ufunc, method)
        if out is None:
            return self.call(op, inputs, kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        if not all(isinstance(o, Traced) for o in outs) or len(outs) != 1:
            raise refuse(f"np.{ufunc.__name__}(..., out=) into an array the trace does not see",
                         "Write into an array made from traced values, or drop out=")
        target = outs[0]
        # Compute into the concrete out= (as eager does), record it functionally, rebind the target.
        rargs, rkwargs = self.refs(inputs), self.refs(kwargs)
        op(*_concrete(inputs), out=target.value, **_concrete(kwargs))
        self._stale_aliases(target)
        self._rebind(target, Instr((), op, rargs, rkwargs))
        return target

    def _weak_inputs(self, ufunc: np.ufunc, inputs: tuple, weak: list[bool]) -> tuple:
        """Weak (Python-number) inputs cast as NumPy casts Python scalars meeting arrays (NEP 50)."""
        strong = [x.dtype for x, w in zip(inputs, weak) if not w and isinstance(x, (Traced, np.ndarray, np.generic))]
        if not strong:
            return inputs
        cast = []
        for x, w in zip(inputs, weak):
            dtype = np.result_type(x.value, *strong) if w else None
            # A replay holds a weak value as a Python number (an input) or as a NumPy scalar of its kind's
            # default dtype (computed from inputs): only another dtype needs the cast.
            if w and dtype != _NP_ASARRAY(x.value).dtype:
                x = self.record(_NP_ASARRAY, (x,), {"dtype": dtype}, _NP_ASARRAY(x.value, dtype=dtype))
            cast.append(x)
        return tuple(cast)

    def function(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        if func in _VALUE_SHAPED:
            raise refuse(f"np.{func.__name__} of a traced array", "Its result's shape depends on the values")
        if func in _SHAPE_ONLY:
            return func(*_concrete(args), **_concrete(kwargs))
        if "out" in kwargs and kwargs["out"] is not None:
            raise refuse(f"np.{func.__name__}(..., out=) during a trace", "Drop out= inside the compiled step")
        return self.call(func, args, kwargs)

    # ---- hooks from core.tracing ---------------------------------------------
    def draw(self, generator: Any, method: str, args: tuple, kwargs: dict) -> Any:
        op = getattr(type(generator), method)
        # The Generator's compiled code calls np.empty from its own frames: it must get NumPy's.
        result = self._plain(op, (generator, *args), kwargs)
        return self.record(op, (generator, *args), kwargs, result, effect=True)

    def opaque(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        return self.record(fn, args, kwargs, self._plain(fn, args, kwargs))

    def _plain(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """``fn`` on the concrete values, with NumPy's own creation functions in place of the trace's."""
        self._install(self._saved)
        try:
            return fn(*_concrete(args), **_concrete(kwargs))
        finally:
            self._install(self._creators)

    def fail_if(self, mask: Traced, error: Callable[..., Exception], values: tuple) -> None:
        if mask.value.any():
            raise error(*_concrete(values))
        self.record(_fail_if, (mask, error, *values), {}, None, effect=True)

    def guard_attributes(self, obj: Any, names: tuple[str, ...]) -> None:
        label = self.param_names.get(id(obj)) or type(obj).__name__
        for name in names:
            self.guards.append(Guard(obj, f"{{obj}}.{name} != {{expected}}", getattr(obj, name), label))

    def bind_dict(self, container: dict, owner: Any) -> None:
        if id(container) in self.dicts:
            return
        label = owner if isinstance(owner, str) else self.param_names.get(id(owner)) if owner is not None else None
        label = label or "state"
        labels = {used for _, used in self.dicts.values()}
        label = next(f"{label}{n or ''}" for n in range(len(labels) + 1) if f"{label}{n or ''}" not in labels)
        self.dicts[id(container)] = (container, label)
        holder = label if label.endswith("state") else f"{label}.state"
        self.guards.append(Guard(container, "len({obj}) != {expected}", len(container), holder))
        for key, value in list(container.items()):
            if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
                location = DictItem(container, key, f"{label}.{key}", label)
                self.locations[("item", id(container), key)] = location
                container[key] = self.read(location, value, weak=not isinstance(value, (np.ndarray, np.generic)))
            else:
                self.guards.append(guard_item(container, key, value, holder))

    def read(self, location: Location, value: Any, weak: bool = False) -> Traced:
        """``location``'s current ``value`` as a new program input (with its guard)."""
        t = self.new(value, weak=weak, name=location.name)
        if weak:
            t.deps = frozenset([t.id])
        location.input_id, location.initial = t.id, value
        self.inputs.append((t.id, location))
        return t

    def guard_weak(self, t: Traced) -> None:
        """Python control flow on a weak value: the step is valid only for the numbers it came from."""
        for ident in t.deps - self.guarded:
            self.guarded.add(ident)
            location = next(loc for i, loc in self.inputs if i == ident)
            self.guards.append(Guard(location.holder(), location.read_expr("{obj}") + " != {expected}",
                                     location.initial, location.holder_name()))

    # ---- the Tensor slots -----------------------------------------------------
    def data_get(self, t: Tensor) -> Any:
        if not _from_library():
            raise refuse(".data read of a tensor inside a compiled step", "Use Tensor operations (they are "
                         "recorded); read .data after the call")
        value = _DATA.__get__(t)
        if id(t) not in self.born and isinstance(value, (np.ndarray, np.generic)):
            key = ("data", id(t))
            location = self.locations.get(key)
            if location is None:
                location = self.locations[key] = TensorSlot(t, self._tensor_name(t))
            value = self.read(location, value)
            _DATA.__set__(t, value)
        return value

    def data_set(self, t: Tensor, value: Any) -> None:
        if not _from_library():
            raise refuse(".data write of a tensor inside a compiled step", "Update tensors with library code "
                         "(an optimizer's step) or outside the compiled call")
        try:
            _DATA.__get__(t)
        except AttributeError:  # a new tensor
            self.born.add(id(t))
            self.keep.append(t)
        else:
            if id(t) not in self.born and ("data", id(t)) not in self.locations:
                self.locations[("data", id(t))] = TensorSlot(t, self._tensor_name(t))
        _DATA.__set__(t, value)

    def grad_get(self, t: Tensor) -> Any:
        value = _GRAD.__get__(t)
        if id(t) in self.born or ("grad", id(t)) in self.locations:
            return value
        location = self.locations[("grad", id(t))] = GradSlot(t, self._tensor_name(t) + ".grad")
        if value is None:
            self.guards.append(Guard(t, "{obj}.grad is not None", name=location.holder_name()))
            return None
        grad = wrap(self.read(location, _DATA.__get__(value)))
        _GRAD.__set__(t, grad)
        return grad

    def grad_set(self, t: Tensor, value: Any) -> None:
        if id(t) not in self.born and ("grad", id(t)) not in self.locations:
            self.locations[("grad", id(t))] = GradSlot(t, self._tensor_name(t) + ".grad")
        _GRAD.__set__(t, value)

    def _tensor_name(self, t: Tensor) -> str:
        return self.param_names.get(id(t)) or t.name or f"tensor{len(self.locations)}"

    # ---- start and finish -------------------------------------------------------
    def start(self) -> None:
        if tracing.ACTIVE is not None:
            raise TraceError("compile: a compiled step was called while another is being traced")
        tracing.ACTIVE = self
        self._saved = {name: getattr(np, name) for name in _CREATORS + _CONVERTERS}
        self._creators = {name: self._creator(getattr(np, name)) for name in _CREATORS}
        self._creators.update({name: self._converter(getattr(np, name)) for name in _CONVERTERS})
        self._install(self._creators)
        Tensor.data = property(self.data_get, self.data_set)
        Tensor.grad = property(self.grad_get, self.grad_set)

    def _converter(self, original: Callable) -> Callable:
        """np.asarray and its kin: library code may pass a Traced through them (as an array already); a
        conversion by user code, or of a Tensor into a NumPy array, is refused."""
        def convert(value: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1)
            traced = isinstance(value, Traced) or isinstance(value, Tensor) and isinstance(_DATA.__get__(value), Traced)
            if not traced:
                return original(value, dtype, *args, **kwargs)
            if not _from_library() or caller.f_code is _TENSOR_ARRAY or isinstance(value, Tensor):
                raise refuse(f"np.{original.__name__} of a traced tensor", _ESCAPE)
            copy = kwargs.get("copy", original is _NP_ARRAY)
            if dtype is not None and np.dtype(dtype) != value.dtype:  # (a replay may hold a Python scalar here)
                return self.call(_NP_ASARRAY, (value,), {"dtype": np.dtype(dtype)})
            if original is _NP_CONTIGUOUS:  # a layout chosen for the speed of what reads it: kept on replay
                return self.call(_NP_CONTIGUOUS, (value,), {})
            return self.call(_NP_ARRAY, (value,), {}) if copy else value
        convert.__name__ = original.__name__
        return convert

    def _creator(self, original: Callable) -> Callable:
        def create(*args: Any, **kwargs: Any) -> Any:
            result = original(*_concrete(args), **_concrete(kwargs))
            if not _from_library() or result.dtype.kind in "iu":  # integers (aranges of indices): constants
                return result
            return self.record(original, args, kwargs, result)
        create.__name__ = original.__name__
        return create

    def stop(self) -> None:
        """Take the trace away (always, also after an error)."""
        Tensor.data = _DATA
        Tensor.grad = _GRAD
        self._install(self._saved)
        tracing.ACTIVE = None

    @staticmethod
    def _install(functions: dict[str, Callable]) -> None:
        for name, function in functions.items():
            setattr(np, name, function)

    def argument(self, value: Any, name: str) -> Traced:
        return self.new(value, name=name)

    def concretize(self) -> None:
        """Put concrete arrays back wherever a Traced was left: bound locations and every new tensor."""
        for container, _ in self.dicts.values():
            for key, value in container.items():
                if isinstance(value, Traced):
                    container[key] = value.value
        for t in self.keep:
            value = _DATA.__get__(t)
            if isinstance(value, Traced):
                _DATA.__set__(t, value.value)
        for key, location in self.locations.items():
            if key[0] == "data":
                value = _DATA.__get__(location.tensor)
                if isinstance(value, Traced):
                    _DATA.__set__(location.tensor, value.value)

    def outputs(self) -> tuple[list[tuple[int, Any]], list[Any]]:
        """(value id, location) for every location whose value the step changed, and the grads it cleared.

        Called before ``concretize``, while the locations still hold Traced values.
        """
        outputs, clears = [], []
        for container, label in self.dicts.values():
            for key, value in container.items():
                if not isinstance(value, Traced):
                    continue
                location = self.locations.get(("item", id(container), key))
                if location is None:
                    location = DictItem(container, key, f"{label}.{key}", label)
                    self.locations[("item", id(container), key)] = location
                self._output(outputs, value, location)
        for key, location in list(self.locations.items()):
            if key[0] == "data":
                self._output(outputs, _DATA.__get__(location.tensor), location)
            elif key[0] == "grad":
                grad = _GRAD.__get__(location.tensor)
                if grad is None:
                    clears.append(location)
                else:
                    self._output(outputs, _DATA.__get__(grad), location)
        return outputs, clears

    def _output(self, outputs: list, value: Any, location: Location) -> None:
        if not isinstance(value, Traced):
            raise TraceError(f"compile: {location.name} holds an array the trace does not see at the end of the "
                             f"step ({type(value).__name__}); it would not be updated by a replay")
        if value.stale is not None:
            raise TraceError(f"compile: {location.name} was changed through another array sharing its memory")
        if value.id != location.input_id:
            if value.weak:
                location.number_type = type(location.initial if location.input_id is not None else value.value)
            outputs.append((value.id, location))


def _map(value: Any, fn: Callable) -> Any:
    """A tuple, list, dict or slice with ``fn`` applied to each item."""
    if isinstance(value, tuple):
        return tuple(fn(v) for v in value)
    if isinstance(value, list):
        return [fn(v) for v in value]
    if isinstance(value, dict):
        return {k: fn(v) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(fn(value.start), fn(value.stop), fn(value.step))
    raise TypeError(f"_map: not a container: {type(value).__name__}")
