"""The recorded program: straight-line SSA over NumPy calls.

A trace of a step becomes a :class:`Program`: its inputs are read from *bindings* (the locations that
hold state across steps: parameters' arrays, ``.grad``, optimizer buffers), its instructions are NumPy
calls on value ids, and its outputs are written back to bindings at the end of each replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Ref:
    """One SSA value of the program."""

    id: int


class Binding(Protocol):
    """A location that holds an array across steps (a parameter's array, a ``.grad``, an optimizer buffer)."""

    name: str

    def read(self) -> Any: ...

    def write(self, value: Any) -> None: ...


@dataclass
class Instr:
    """``outs = op(*args, **kwargs)``, with Refs in ``args``/``kwargs`` standing for earlier values.

    ``op`` is a ufunc, a NumPy function, an unbound ndarray method (``np.ndarray.reshape``),
    ``operator.getitem`` or a library hook (a random draw). An instruction with ``effect`` set (a random
    draw) is never removed, merged, folded or reordered relative to other effects. ``out_buffer``, set by
    buffer reuse, names the preallocated buffer the result is written into with ``out=``.
    """

    outs: tuple[int, ...]
    op: Callable
    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    effect: bool = False
    out_buffer: int | None = None

    def refs(self) -> Iterator[Ref]:
        """Every Ref this instruction reads, nested containers included."""
        yield from iter_refs(self.args)
        yield from iter_refs(self.kwargs)


def iter_refs(value: Any) -> Iterator[Ref]:
    """The Refs inside ``value`` (a Ref, or tuples/lists/dicts/slices of them and of constants)."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_refs(item)
    elif isinstance(value, slice):
        yield from iter_refs((value.start, value.stop, value.step))


def map_refs(value: Any, fn: Callable[[Ref], Any]) -> Any:
    """``value`` with every Ref inside it replaced by ``fn(ref)`` (the containers rebuilt, constants kept)."""
    if isinstance(value, Ref):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(map_refs(item, fn) for item in value)
    if isinstance(value, list):
        return [map_refs(item, fn) for item in value]
    if isinstance(value, dict):
        return {key: map_refs(item, fn) for key, item in value.items()}
    if isinstance(value, slice):
        return slice(map_refs(value.start, fn), map_refs(value.stop, fn), map_refs(value.step, fn))
    return value


@dataclass
class Program:
    """A traced step: read ``inputs``, take ``args``, run ``instrs`` in order, write ``outputs``, return ``result``."""

    inputs: list[tuple[int, Binding]]
    args: list[int]
    instrs: list[Instr]
    outputs: list[tuple[int, Binding]]
    result: Any
    meta: dict[int, tuple[tuple[int, ...], np.dtype]]
    names: dict[int, str]
    buffers: list[tuple[tuple[int, ...], np.dtype]] = field(default_factory=list)

    def check(self) -> None:
        """Raise ValueError unless the program is SSA: each id defined once and used only after its definition."""
        defined: set[int] = set()

        def define(ident: int, where: str) -> None:
            if ident in defined:
                raise ValueError(f"Program.check: value %{ident} defined twice ({where})")
            defined.add(ident)

        def use(ref: Ref, where: str) -> None:
            if ref.id not in defined:
                raise ValueError(f"Program.check: value %{ref.id} used before its definition ({where})")

        for ident, binding in self.inputs:
            define(ident, f"input {binding.name}")
        for ident in self.args:
            define(ident, "argument")
        for index, instr in enumerate(self.instrs):
            where = f"instruction {index}: {getattr(instr.op, '__name__', instr.op)}"
            for ref in instr.refs():
                use(ref, where)
            for ident in instr.outs:
                define(ident, where)
            if instr.out_buffer is not None and not 0 <= instr.out_buffer < len(self.buffers):
                raise ValueError(f"Program.check: {where} writes into buffer {instr.out_buffer}, "
                                 f"but the program has {len(self.buffers)} buffers")
        for ident, binding in self.outputs:
            use(Ref(ident), f"output {binding.name}")
        for ref in iter_refs(self.result):
            use(ref, "result")
