"""Code generation: a Program as the source of one straight-line Python function, and that function.

The generated step reads its inputs from their locations, checks the guards (raising ``Retrace`` before
anything has changed when the program no longer fits), runs the instructions as plain NumPy calls,
writes the outputs back and returns the result values. Values are named after the model's parameters
(``encoder_0_weight``, ``encoder_0_weight_grad``) where the trace knows a name.
"""

from __future__ import annotations

import keyword
import math
import operator
import re
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.compiler.program import Instr, Program, Ref, iter_refs
from tinygrad_vae.compiler.state import GradSlot, Guard
from tinygrad_vae.core.tensor import wrap


class Retrace(Exception):
    """A guard of a compiled program failed: another program, or a new trace, is needed."""


def _numpy_names() -> dict[int, str]:
    names: dict[int, str] = {}
    for prefix, module in (("np.linalg.", np.linalg), ("np.", np)):
        for name in dir(module):
            value = getattr(module, name)
            if callable(value) and not name.startswith("_") and not isinstance(value, type):
                names[id(value)] = prefix + name
    return names


_NUMPY = _numpy_names()
_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32", "bool": "b"}
_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.pow: "**",
          operator.matmul: "@"}  # built at import, before any trace puts its stand-ins into the namespace


def identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_") or "v"
    return f"_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


class _Writer:
    """Names for values and for the objects the generated code refers to."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.globals: dict[str, Any] = {"np": np, "wrap": wrap, "Retrace": Retrace}
        self.objects: dict[int, str] = {}
        self.values: dict[int, str] = {}
        self.taken: set[str] = set(self.globals)
        self.scalars: dict[tuple[str, Any], str] = {}

    def fresh(self, base: str) -> str:
        name, n = identifier(base), 1
        while name in self.taken:
            n += 1
            name = f"{identifier(base)}_{n}"
        self.taken.add(name)
        return name

    def value(self, ident: int) -> str:
        if ident not in self.values:
            self.values[ident] = self.fresh(self.program.names.get(ident, f"v{ident}"))
        return self.values[ident]

    def obj(self, value: Any, base: str) -> str:
        if id(value) not in self.objects:
            name = self.fresh(base)
            self.objects[id(value)] = name
            self.globals[name] = value
        return self.objects[id(value)]

    def const(self, value: Any) -> str:
        """Python source for a constant argument."""
        if isinstance(value, Ref):
            return self.value(value.id)
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        if isinstance(value, float) and not isinstance(value, np.generic):  # (np.float64 is a float)
            return repr(value) if math.isfinite(value) else self.obj(value, "c")
        if isinstance(value, tuple) and len(value) > 8:  # a parameter set's ids: named, not spelled out
            return self.obj(value, "ids")
        if isinstance(value, tuple):
            items = ", ".join(self.const(v) for v in value)
            return f"({items},)" if len(value) == 1 else f"({items})"
        if isinstance(value, list):
            return "[" + ", ".join(self.const(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self.const(v)}" for k, v in value.items()) + "}"
        if isinstance(value, slice):
            return f"slice({self.const(value.start)}, {self.const(value.stop)}, {self.const(value.step)})"
        if value is Ellipsis:
            return "..."
        if isinstance(value, np.dtype) and value.kind in "biuf":
            return f"np.{value.name}"
        if isinstance(value, type) and issubclass(value, np.generic):
            return f"np.{value.__name__}"
        if isinstance(value, (np.ndarray, np.generic)) and value.ndim == 0 and value.dtype.kind in "biuf" \
                and math.isfinite(value):
            return self.scalar(value)
        if isinstance(value, np.random.Generator):
            return self.obj(value, "rng")
        return self.obj(value, "c")

    def scalar(self, value: np.ndarray | np.generic) -> str:
        """A NumPy scalar constant, made once as a global (``f64_0_5 = np.float64(0.5)``): building it inside the
        function would cost a call at every replay."""
        key = (value.dtype.str, value.item())
        if key not in self.scalars:
            item = value.item()
            base = f"{_SHORT.get(value.dtype.name, value.dtype.name)}_{'neg_' if item < 0 else ''}{abs(item)!r}"
            self.scalars[key] = self.obj(value.dtype.type(item), base)
        return self.scalars[key]

    def dtype(self, dtype: Any) -> str:
        """The global holding ``np.dtype(dtype)``, for an identity test (``is``) before the slower ``!=``."""
        return self.obj(np.dtype(dtype), _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name))

    def buffer(self, k: int) -> str:
        """The name of buffer ``k`` of the program, allocated once here, when the function is generated."""
        name = f"buf{k}"
        if name not in self.globals:
            shape, dtype = self.program.buffers[k]
            self.globals[name] = np.empty(shape, dtype)
            self.taken.add(name)
        return name

    def index(self, value: Any) -> str:
        """An index as it is written inside brackets."""
        if isinstance(value, tuple):
            return ", ".join(self.index(v) for v in value) + ("," if len(value) == 1 else "")
        if isinstance(value, slice):
            parts = ["" if p is None else self.const(p) for p in (value.start, value.stop, value.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if value.step is not None else "")
        return self.const(value)

    def call(self, instr: Instr) -> str:
        op = instr.op
        args = [self.const(a) for a in instr.args]
        kwargs = [f"{k}={self.const(v)}" for k, v in instr.kwargs.items()]
        if instr.out_buffer is not None:  # buffer reuse: the result is written into a preallocated array
            kwargs.append(f"out={self.buffer(instr.out_buffer)}")
        single_out = instr.out_buffer is not None or isinstance(instr.kwargs.get("out"), Ref)
        if (isinstance(op, np.ufunc) and len(args) == op.nin and len(kwargs) == 1 and single_out
                and op not in (np.maximum, np.minimum)):  # (NumPy deprecates their third positional argument)
            args, kwargs = [*args, kwargs[0].removeprefix("out=")], []  # out given positionally: ~0.15 us faster
        if op.__name__ == "_getitem" and op.__module__.endswith("tracer"):
            return f"{args[0]}[{self.index(instr.args[1])}]"
        if op in _INFIX and len(args) == 2 and not kwargs:  # scalar arithmetic the passes chose: `a / b`
            return f"{args[0]} {_INFIX[op]} {args[1]}"
        if isinstance(op, np.ufunc) and getattr(np, op.__name__, None) is op:
            name = f"np.{op.__name__}"
        elif id(op) in _NUMPY:
            name = _NUMPY[id(op)]
        elif isinstance(op, types.MethodDescriptorType) or (  # an unbound method: ndarray.reshape, Generator.normal
                instr.args and not isinstance(instr.args[0], Ref)
                and getattr(type(instr.args[0]), op.__name__, None) is op):
            return f"{args[0]}.{op.__name__}({', '.join(args[1:] + kwargs)})"
        elif isinstance(getattr(op, "__self__", None), np.ufunc) and getattr(np, op.__self__.__name__, None) is op.__self__:
            name = f"np.{op.__self__.__name__}.{op.__name__}"
        else:
            name = self.obj(op, op.__name__)
        return f"{name}({', '.join(args + kwargs)})"


def _contiguous(array: Any) -> tuple[int, ...] | None:
    """The strides of a 2-D float array laid out as BLAS takes it (C or Fortran order), else None."""
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype.kind != "f":
        return None
    return array.strides if array.flags.c_contiguous or array.flags.f_contiguous else None


def _layouts(program: Program, arrays: dict[int, Any]) -> dict[int, tuple[int, tuple[int, ...] | None]]:
    """For the values whose memory layout is known to be one BLAS takes: value -> (the array it is, or is a
    transpose of; the strides that array must have at the replay, None for an array this program allocates).

    Arguments and locations are checked at the replay (their strides as at the trace); the buffers and
    recycled arrays of ``passes.reuse_buffers`` are C-contiguous by construction."""
    made = {out: instr for instr in program.instrs for out in instr.outs}
    layouts: dict[int, tuple[int, tuple[int, ...] | None]] = {}
    for ident in program.args:
        if _contiguous(arrays.get(ident)) is not None:
            layouts[ident] = (ident, _contiguous(arrays[ident]))
    for ident, binding in program.inputs:
        try:
            strides = _contiguous(binding.read())
        except (AttributeError, KeyError, TypeError):
            continue
        if strides is not None:
            layouts[ident] = (ident, strides)
    for instr in program.instrs:
        out = instr.kwargs.get("out")
        cell = made.get(out.id) if isinstance(out, Ref) else None
        if len(instr.outs) == 1 and (instr.out_buffer is not None or (cell is not None and not cell.outs[1:]
                                                                       and type(cell.op).__name__ == "Recycled")):
            layouts[instr.outs[0]] = (instr.outs[0], None)
        elif (instr.op is np.ndarray.transpose and len(instr.args) == 1 and not instr.kwargs
              and isinstance(instr.args[0], Ref) and instr.args[0].id in layouts):
            layouts[instr.outs[0]] = layouts[instr.args[0].id]
    return layouts


def _matrix_product(w: _Writer, instr: Instr, layouts: dict) -> str | None:
    """``np.dot`` for a 2-D float ``np.matmul`` into an output array, when both operands are laid out as BLAS
    takes them: both then run the same BLAS gemm (the same result, bit for bit), and ``np.dot`` skips the
    generalized ufunc's dispatch (about 0.5 us a call). Matrices with a dimension of 1 (NumPy may pick gemv
    or a dot product, differently for each), a product of a matrix with itself (syrk) and arrays of unknown
    layout keep ``np.matmul``; an argument or location whose strides differ from the trace's falls back to it
    at the replay."""
    if instr.op is not np.matmul or len(instr.args) != 2 or len(instr.outs) != 1:
        return None
    (m, n), dtype = w.program.meta[instr.outs[0]] if len(w.program.meta[instr.outs[0]][0]) == 2 else ((0, 0), None)
    a, b = (layouts.get(x.id) if isinstance(x, Ref) else None for x in instr.args)
    if (a is None or b is None or a[0] == b[0] or min(m, n, w.program.meta[instr.args[0].id][0][-1]) < 2
            or np.dtype(dtype).kind != "f" or set(instr.kwargs) - {"out"}):
        return None
    call = w.call(instr)
    checks = [f"{w.value(root)}.strides == {strides!r}" for root, strides in (a, b) if strides is not None]
    fast = call.replace("np.matmul(", "np.dot(", 1)
    return f"{fast} if {' and '.join(checks)} else {call}" if checks else fast


def generate(program: Program, clears: list[GradSlot], guards: list[Guard], numbers: set[int],
             fn_name: str = "step", arrays: dict[int, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The source of the replay function and the globals it runs with.

    ``numbers`` are the inputs that hold Python numbers (no shape to check), ``clears`` the gradients the
    step sets to None, ``guards`` the conditions beyond the inputs' shapes and dtypes, ``arrays`` the
    arguments' arrays at the trace (their layout picks the matrix product, see ``_matrix_product``).
    """
    w = _Writer(program)
    holders = {id(b): w.obj(b.holder(), "T_" + b.holder_name()) for _, b in program.inputs}
    lines = [f"def {fn_name}({', '.join(w.value(i) for i in program.args)}):"]
    if program.inputs:
        lines.append("    try:")
        for ident, binding in program.inputs:
            lines.append(f"        {w.value(ident)} = {binding.read_expr(holders[id(binding)])}")
        lines += ["    except (AttributeError, KeyError, TypeError):", "        raise Retrace from None"]
    conditions = []
    for ident, _ in program.inputs:
        shape, dtype = program.meta[ident]
        if ident not in numbers:
            name, expected = w.value(ident), w.dtype(dtype)
            conditions.append(f"{name}.shape != {shape!r} or ({name}.dtype is not {expected} "
                              f"and {name}.dtype != {expected})")
    for guard in guards:
        holder = w.obj(guard.holder, "T_" + guard.name)
        conditions.append(guard.condition.format(obj=holder, expected=w.const(guard.expected)))
    if conditions:
        lines.append("    if (" + "\n            or ".join(conditions) + "):")
        lines.append("        raise Retrace")
    layouts = _layouts(program, arrays or {})
    for instr in program.instrs:
        if not instr.outs:
            lines.append(f"    {w.call(instr)}")
            continue
        target = ", ".join(w.value(i) for i in instr.outs)
        if len(instr.outs) > 1:
            target = f"({target},)"
        lines.append(f"    {target} = {_matrix_product(w, instr, layouts) or w.call(instr)}")
    for ident, binding in program.outputs:
        holder = w.obj(binding.holder(), "T_" + binding.holder_name())
        lines.append(f"    {binding.write_stmt(holder, w.value(ident))}")
    for binding in clears:
        lines.append(f"    {binding.clear_stmt(w.obj(binding.holder(), 'T_' + binding.holder_name()))}")
    results = [w.value(r.id) for r in _result_refs(program.result)]
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    return "\n".join(lines) + "\n", w.globals


def _result_refs(result: Any) -> list[Ref]:
    return list(iter_refs(result))


def build(source: str, namespace: dict[str, Any], fn_name: str = "step") -> Callable:
    code = compile(source, f"<compiled {fn_name}>", "exec")
    exec(code, namespace)  # noqa: S102 (the source generated above)
    return namespace[fn_name]
