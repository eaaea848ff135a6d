"""``compile(fn)``: trace a step on its first call, replay the recorded program on the calls after.

A call looks for a program traced with arguments of the same shapes and dtypes (and the same other
arguments); the program's own guards check the state it reads (parameters, gradients, optimizer
buffers and flags). When no program fits, ``fn`` runs once more under the tracer and the new program
joins the cache. A replay builds no Tensors, graph nodes or heap: it is one generated Python function
of NumPy calls (``.source`` shows it).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_vae.compiler import codegen, passes
from tinygrad_vae.compiler.program import Program, Ref, iter_refs
from tinygrad_vae.compiler.tracer import _DATA, Traced, TraceError, Tracer
from tinygrad_vae.core import grad_mode
from tinygrad_vae.core.tensor import Tensor, wrap


@dataclass(frozen=True)
class TensorRef(Ref):
    """A result value that ``fn`` returned inside a Tensor."""


@dataclass(frozen=True)
class TensorConstant:
    """A Tensor that ``fn`` returned holding an array that depends on no input (zeros of a fixed shape, say)."""

    array: Any


@dataclass
class Entry:
    """One traced program and its generated replay function: ``traced`` as recorded, ``program`` after the passes."""

    traced: Program
    program: Program
    source: str
    run: Callable
    result_ids: list[int]
    copies: frozenset[int]   # result values that are also state: returned as copies
    single: bool = False     # fn returns one Tensor (a loss) that is no state: the common case, done first

    def results(self, values: tuple) -> Any:
        if self.single:
            return wrap(values[0])
        by_id = {}
        for ident, value in zip(self.result_ids, values):
            by_id[ident] = value.copy() if ident in self.copies else value
        return _rebuild(self.program.result, by_id)


def _key(value: Any) -> Any:
    if isinstance(value, Tensor):  # the array's own attributes: Tensor.shape and .dtype are properties
        data = value.data
        return ("tensor", data.shape, data.dtype, value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype)
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return ("value", type(value), value)


def parameter_names(fn: Callable, args: tuple, arg_names: list[str]) -> dict[int, str]:
    """id(parameter) -> its name in the modules that ``fn`` can reach (its arguments, self's attributes, its
    closure, the globals it names): ``encoder.0.weight`` when there is one module, ``enc.weight`` (the
    variable's name first) when there are several."""
    target = getattr(fn, "__func__", fn)
    seen: list[tuple[str, Any]] = list(zip(arg_names, args))
    if getattr(fn, "__self__", None) is not None:
        seen += list(vars(fn.__self__).items())
    code = getattr(target, "__code__", None)
    cells = getattr(target, "__closure__", None) or ()
    seen += [(name, cell.cell_contents) for name, cell in zip(code.co_freevars if code else (), cells) if _filled(cell)]
    globals_ = getattr(target, "__globals__", {})
    seen += [(n, globals_[n]) for n in (code.co_names if code else ()) if n in globals_]
    modules = [(name, obj) for name, obj in seen
               if callable(getattr(obj, "named_parameters", None)) and not isinstance(obj, type)]
    names: dict[int, str] = {}
    for name, module in modules:
        prefix = f"{name}." if len(modules) > 1 else ""
        for param_name, p in module.named_parameters():
            names.setdefault(id(p), prefix + param_name)
    return names


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True


class Compiled:
    """The compiled form of a step function: call it like the function."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.cache: dict[Any, list[Entry]] = {}
        self.entries: list[Entry] = []
        self._last: tuple[Any, Entry] | None = None
        functools.update_wrapper(self, fn)
        try:
            self._arg_names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._arg_names = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        named = tuple((k, _key(v)) for k, v in sorted(kwargs.items())) if kwargs else ()
        key = (tuple(map(_key, args)), named, grad_mode.enabled)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args if isinstance(a, (Tensor, np.ndarray))]
        last = self._last  # the common case: the program that ran at the previous call, without a lookup
        if last is not None and last[0] == key:
            try:
                return last[1].results(last[1].run(*arrays))
            except codegen.Retrace:
                pass
        for entry in self.cache.get(key, ()):
            try:
                values = entry.run(*arrays)
            except codegen.Retrace:
                continue
            self._last = (key, entry)
            return entry.results(values)
        result, entry = self._trace(args, kwargs)
        self.cache.setdefault(key, []).append(entry)
        self.entries.append(entry)
        return result

    def _trace(self, args: tuple, kwargs: dict) -> tuple[Any, Entry]:
        names = self._arg_names
        tracer = Tracer(parameter_names(self.fn, args, names))
        arg_ids, call_args, arrays = [], [], {}
        tracer.start()
        try:
            for i, a in enumerate(args):
                name = names[i] if i < len(names) else f"arg{i}"
                if isinstance(a, Tensor):
                    arrays[len(arrays)] = _DATA.__get__(a)
                    t = tracer.argument(_DATA.__get__(a), name)
                    tracer.born.add(id(a))
                    tracer.keep.append(a)
                    _DATA.__set__(a, t)
                elif isinstance(a, np.ndarray):
                    arrays[len(arrays)] = a
                    t = tracer.argument(a, name)
                    a = t
                else:
                    call_args.append(a)
                    continue
                arg_ids.append(t.id)
                call_args.append(a)
            grads_before = [(a, a.grad) for a in args if isinstance(a, Tensor)]
            result = self.fn(*call_args, **kwargs)
            for a, before in grads_before:
                if a.grad is not before:  # a new Tensor each call: a replay could not write its .grad
                    raise TraceError("compile: the step changes .grad of a Tensor passed as an argument, which a "
                                     "replay cannot do (it is another Tensor at each call); return the gradient "
                                     "instead, e.g. tinygrad_vae.gradients(loss, [x])")
            structure = _structure(result, tracer)
            outputs, clears = tracer.outputs()
        finally:
            tracer.concretize()
            tracer.stop()
        for ident, binding in outputs:
            tracer.names.setdefault(ident, binding.name)
        traced = Program(tracer.inputs, arg_ids, tracer.instrs, outputs, structure, tracer.meta, tracer.names)
        traced.check()
        program = passes.optimize(traced)
        numbers = {i for i, loc in program.inputs if not isinstance(loc.initial, (np.ndarray, np.generic))}
        source, namespace = codegen.generate(program, clears, tracer.guards, numbers, _fn_name(self.fn),
                                             {ident: arrays[i] for i, ident in enumerate(arg_ids)})
        result_ids = [r.id for r in iter_refs(structure)]
        state = {i for i, _ in program.inputs} | {i for i, _ in program.outputs} | set(program.args)
        copies = frozenset(state & set(result_ids))
        entry = Entry(traced, program, source, codegen.build(source, namespace, _fn_name(self.fn)), result_ids,
                      copies, isinstance(structure, TensorRef) and not copies)
        return _concrete_result(result), entry

    @property
    def source(self) -> str:
        """The generated Python of every program traced so far (the latest last)."""
        if not self.entries:
            raise RuntimeError(f"compile: {_fn_name(self.fn)} has not been called yet, so nothing is traced")
        return "\n\n".join(entry.source for entry in self.entries)

    def show(self) -> None:
        """Print ``source``."""
        print(self.source)


def _fn_name(fn: Callable) -> str:
    return codegen.identifier(getattr(fn, "__name__", "step"))


def _structure(value: Any, tracer: Tracer) -> Any:
    """``fn``'s result with Refs where its arrays are (TensorRef inside a Tensor)."""
    if isinstance(value, Tensor):
        data = _DATA.__get__(value)
        if id(value) not in tracer.born:
            raise TraceError("compile: the step returned a Tensor that it did not make (a parameter, an argument); "
                             "return a value computed in the step, such as p * 1.0")
        return TensorRef(tracer.refs(data).id) if isinstance(data, Traced) else TensorConstant(np.array(data))
    if isinstance(value, Traced):
        return tracer.refs(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_structure(v, tracer) for v in value)
    if isinstance(value, dict):
        return {k: _structure(v, tracer) for k, v in value.items()}
    return value


def _rebuild(value: Any, by_id: dict[int, Any]) -> Any:
    """``fn``'s result from its structure and the values of a replay."""
    if isinstance(value, TensorRef):
        return wrap(by_id[value.id])
    if isinstance(value, Ref):
        return by_id[value.id]
    if isinstance(value, TensorConstant):
        return wrap(np.array(value.array))
    if isinstance(value, (tuple, list)):
        return type(value)(_rebuild(v, by_id) for v in value)
    if isinstance(value, dict):
        return {k: _rebuild(v, by_id) for k, v in value.items()}
    return value


def _concrete_result(value: Any) -> Any:
    if isinstance(value, Traced):
        return value.value
    if isinstance(value, (tuple, list)):
        return type(value)(_concrete_result(v) for v in value)
    if isinstance(value, dict):
        return {k: _concrete_result(v) for k, v in value.items()}
    return value


def compile(fn: Callable) -> Compiled:
    """Compile a training step: ``step = tinygrad_vae.compile(step)`` or ``@tinygrad_vae.compile``.

    The first call (and any call whose arguments' shapes or dtypes, or whose state, no program fits)
    runs ``fn`` under the tracer, which records every array operation: the forward ops, the gradient
    rules of ``loss.backward()``, the gradient accumulation and the optimizer's update. Later calls
    replay the recorded program, which leaves parameters, ``.grad`` and optimizer state as eager code
    would and returns what ``fn`` returns (Tensors holding fresh arrays, without a graph).

    What a trace cannot capture is refused with a ``TraceError`` naming the line: ``bool()``,
    ``item()`` or ``float()`` of a traced tensor, ``.data`` reads and writes, NumPy calls on arrays
    the trace does not see.
    """
    return Compiled(fn)
