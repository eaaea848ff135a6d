"""The compiler's passes on hand-built programs: each pass does its rewrite, keeps SSA, and keeps the results.

Programs are built here as a tracer would build them (``Builder`` computes every value as it records the
call, so the shapes and dtypes are real) and run by a small interpreter (``Replayer``) that honours
``out_buffer``, so optimized and unoptimized replays can be compared without the code generator.
"""

from __future__ import annotations

import operator
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_vae.compiler import passes
from tinygrad_vae.compiler.program import Instr, Program, Ref, map_refs


class Slot:
    """A binding: a named location holding one array."""

    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value

    def read(self) -> Any:
        return self.value

    def write(self, value: Any) -> None:
        self.value = value


class Builder:
    """Records calls into a Program while computing them, as the tracer does."""

    def __init__(self) -> None:
        self.values: dict[int, Any] = {}
        self.inputs: list[tuple[int, Slot]] = []
        self.args: list[int] = []
        self.instrs: list[Instr] = []

    def _new(self, value: Any) -> Ref:
        ref = Ref(len(self.values))
        self.values[ref.id] = value
        return ref

    def input(self, slot: Slot) -> Ref:
        ref = self._new(slot.value)
        self.inputs.append((ref.id, slot))
        return ref

    def arg(self, value: Any) -> Ref:
        ref = self._new(value)
        self.args.append(ref.id)
        return ref

    def call(self, op: Any, *args: Any, effect: bool = False, **kwargs: Any) -> Ref:
        value = op(*self._concrete(args), **self._concrete(kwargs))
        ref = self._new(value)
        self.instrs.append(Instr((ref.id,), op, args, kwargs, effect=effect))
        return ref

    def _concrete(self, value: Any) -> Any:
        return map_refs(value, lambda ref: self.values[ref.id])

    def program(self, outputs: list[tuple[Ref, Slot]] = (), result: Any = None) -> Program:
        meta = {i: (np.shape(v), np.asarray(v).dtype) for i, v in self.values.items()}
        program = Program(list(self.inputs), list(self.args), list(self.instrs),
                          [(ref.id, slot) for ref, slot in outputs], result, meta, {})
        program.check()
        return program


class Replayer:
    """Runs a Program as a replay would: buffers allocated once, ``out_buffer`` passed as ``out=``."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.buffers = [np.empty(shape, dtype) for shape, dtype in program.buffers]

    def __call__(self, *args: Any) -> Any:
        env: dict[int, Any] = {ident: binding.read() for ident, binding in self.program.inputs}
        env.update(zip(self.program.args, args))
        def value(ref: Ref) -> Any:
            return env[ref.id]
        for instr in self.program.instrs:
            kwargs = map_refs(instr.kwargs, value)
            if instr.out_buffer is not None:
                kwargs["out"] = self.buffers[instr.out_buffer]
            result = instr.op(*map_refs(instr.args, value), **kwargs)
            if instr.outs:
                env.update(zip(instr.outs, (result,) if len(instr.outs) == 1 else result))
        for ident, binding in self.program.outputs:
            binding.write(env[ident])
        return map_refs(self.program.result, value)


def ops_of(program: Program) -> list[Any]:
    return [instr.op for instr in program.instrs]


def run_pass(pass_: passes.Pass, program: Program) -> Program:
    optimized = pass_(program)
    optimized.check()
    return optimized


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --------------------------------------------------------------------------
# dead code
# --------------------------------------------------------------------------


def test_dead_code_is_removed_and_effects_and_outputs_stay() -> None:
    b = Builder()
    x = b.arg(np.arange(3.0))
    b.input(Slot("group.momentum", 0.0))                 # read by nothing
    b.call(np.exp, x)                                    # dead
    noise = b.call(rng().standard_normal, 3, effect=True)  # unused draw: kept
    y = b.call(np.multiply, x, 2.0)
    out = Slot("y", None)
    optimized = run_pass(passes.eliminate_dead_code, b.program([(y, out)], result=[y]))
    assert ops_of(optimized) == [ops_of(b.program())[1], np.multiply]
    assert optimized.instrs[0].outs == (noise.id,) and optimized.inputs == []
    Replayer(optimized)(np.arange(3.0))
    np.testing.assert_array_equal(out.value, [0.0, 2.0, 4.0])


def test_dead_code_keeps_what_the_result_needs() -> None:
    b = Builder()
    x = b.arg(np.arange(3.0))
    e = b.call(np.exp, x)
    s = b.call(np.add.reduce, e, 0)
    b.instrs.append(Instr((), np.copyto, (np.empty(3), e)))  # no result: there only for what it does
    optimized = run_pass(passes.eliminate_dead_code, b.program(result={"loss": s}))
    assert len(optimized.instrs) == 3
    assert Replayer(optimized)(np.zeros(3))["loss"] == 3.0


# --------------------------------------------------------------------------
# common subexpressions
# --------------------------------------------------------------------------


def test_common_subexpressions_are_computed_once() -> None:
    b = Builder()
    x = b.arg(np.linspace(-1, 1, 5))
    e1, e2 = b.call(np.exp, x), b.call(np.exp, x)
    t1, t2 = b.call(np.multiply, e1, 0.5), b.call(np.multiply, e2, 0.5)  # equal once e2 is e1
    y = b.call(np.add, t1, t2)
    program = b.program(result=y)
    optimized = run_pass(passes.eliminate_common_subexpressions, program)
    assert ops_of(optimized) == [np.exp, np.multiply, np.add]
    assert optimized.instrs[-1].args == (t1, t1)
    np.testing.assert_array_equal(Replayer(optimized)(np.ones(5)), Replayer(program)(np.ones(5)))


def test_common_subexpressions_tell_number_types_and_signed_zeros_apart() -> None:
    b = Builder()
    x = b.arg(np.arange(3, dtype=np.int64))
    calls = [b.call(np.add, x, 1), b.call(np.add, x, 1.0), b.call(np.add, x, True),
             b.call(np.multiply, x, 0.0), b.call(np.multiply, x, -0.0),
             b.call(np.add, x, np.array([1, 2, 3])), b.call(np.add, x, np.array([1, 2, 4]))]
    # (each call read by another, since escaping values are never merged anyway)
    program = b.program(result=[b.call(np.positive, call) for call in calls])
    optimized = run_pass(passes.eliminate_common_subexpressions, program)
    assert len(optimized.instrs) == 2 * len(calls)


def test_common_subexpressions_never_merge_effects_or_escaping_values() -> None:
    b = Builder()
    draw = np.random.default_rng(1).standard_normal
    n1, n2 = b.call(draw, 2, effect=True), b.call(draw, 2, effect=True)
    x = b.arg(np.ones(2))
    g1, g2 = b.call(np.multiply, x, 3.0), b.call(np.multiply, x, 3.0)
    target = np.zeros(2)
    b.instrs += [Instr((), np.copyto, (target, 1.0)), Instr((), np.copyto, (target, 1.0))]  # calls without results
    s1, s2 = Slot("a.grad", None), Slot("b.grad", None)
    program = b.program([(g1, s1), (g2, s2)], result=[n1, n2])
    optimized = run_pass(passes.eliminate_common_subexpressions, program)
    assert len(optimized.instrs) == 6
    assert len(run_pass(passes.fold_constants, program).instrs) == 6
    Replayer(optimized)(np.ones(2))
    assert s1.value is not s2.value


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------


def test_constant_calls_are_evaluated_once_at_compile_time() -> None:
    b = Builder()
    x = b.arg(np.ones(3))
    half = b.call(np.multiply, np.ones(()), 0.5)
    quarter = b.call(np.multiply, half, half)          # constant once `half` is folded
    y = b.call(np.multiply, x, quarter)
    optimized = run_pass(passes.fold_constants, b.program(result=y))
    assert ops_of(optimized) == [np.multiply]
    assert optimized.instrs[0].args[0] == x and optimized.instrs[0].args[1] == 0.25
    np.testing.assert_array_equal(Replayer(optimized)(np.full(3, 2.0)), [0.5, 0.5, 0.5])


def test_constant_folding_leaves_effects_escapes_and_failures_alone() -> None:
    b = Builder()
    b.call(np.random.default_rng(0).random, 2, effect=True)
    kept = b.call(np.multiply, np.ones(2), 2.0)
    b.instrs.append(Instr((99,), operator.truediv, (1, 0)))  # fails now: the replay must raise as eager would
    b.values[99] = 0.0
    optimized = run_pass(passes.fold_constants, b.program([(kept, Slot("buf", None))]))
    assert len(optimized.instrs) == 3


# --------------------------------------------------------------------------
# algebraic simplification
# --------------------------------------------------------------------------


def simplified_ops(build: Any, *arrays: np.ndarray) -> list[Any]:
    """Build ``build(builder, *arg refs)``, simplify, check the replay, return the ops left before the result.

    The result is ``np.positive`` of what ``build`` returns: an escaping value is never rewritten.
    """
    b = Builder()
    refs = [b.arg(a) for a in arrays]
    program = b.program(result=b.call(np.positive, build(b, *refs)))
    optimized = run_pass(passes.eliminate_dead_code, run_pass(passes.simplify, program))
    expected, got = Replayer(program)(*arrays), Replayer(optimized)(*arrays)
    assert np.shape(got) == np.shape(expected) and np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected)
    assert ops_of(optimized)[-1] is np.positive
    return ops_of(optimized)[:-1]


X = np.array([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]])


@pytest.mark.parametrize("op, unit, left", [
    (np.multiply, 1, False), (np.multiply, 1.0, True), (np.add, 0, False), (np.add, 0.0, True),
    (np.subtract, 0, False), (np.true_divide, 1.0, False), (np.multiply, np.ones((2, 3)), False),
])
def test_identity_elements_are_dropped(op: Any, unit: Any, left: bool) -> None:
    def build(b: Builder, x: Ref) -> Ref:
        y = b.call(op, unit, x) if left else b.call(op, x, unit)
        return b.call(np.exp, y)
    assert simplified_ops(build, X) == [np.exp]


@pytest.mark.parametrize("op, unit, left, x", [
    (np.subtract, 0.0, True, X),                      # 0 - x is -x
    (np.true_divide, 1.0, True, X),                   # 1 / x
    (np.multiply, np.ones((4, 2, 3)), False, X),      # broadcasts x to a bigger shape
    (np.multiply, 1.0, False, np.arange(3)),          # promotes int to float
    (np.add, np.float32(0), False, X.astype(np.float32) if False else np.arange(3, dtype=np.int8)),
    (np.multiply, 2.0, False, X),
])
def test_non_identities_stay(op: Any, unit: Any, left: bool, x: np.ndarray) -> None:
    def build(b: Builder, ref: Ref) -> Ref:
        return b.call(op, unit, ref) if left else b.call(op, ref, unit)
    assert simplified_ops(build, x) == [op]


def test_sums_over_axes_of_length_one_become_reshapes() -> None:
    column = np.arange(4.0).reshape(4, 1)
    assert simplified_ops(lambda b, x: b.call(np.add.reduce, x, (1,), None, None, False), column) == [np.reshape]
    assert simplified_ops(lambda b, x: b.call(np.sum, x, axis=1, keepdims=True), column) == []
    assert simplified_ops(lambda b, x: b.call(np.ndarray.mean, x, -1), column) == [np.reshape]
    assert simplified_ops(lambda b, x: b.call(np.add.reduce, x, 0), column) == [np.add.reduce]
    assert simplified_ops(lambda b, x: b.call(np.sum, x), column) == [np.add.reduce]
    ints = np.arange(4, dtype=np.int8).reshape(4, 1)  # np.sum of int8 gives int64: not a reshape
    assert simplified_ops(lambda b, x: b.call(np.sum, x, axis=1), ints) == [np.add.reduce]


@pytest.mark.parametrize("call", [
    lambda b, x: b.call(np.sum, x), lambda b, x: b.call(np.sum, x, 0, np.float32, keepdims=True),
    lambda b, x: b.call(np.ndarray.sum, x, axis=(0, 1)), lambda b, x: b.call(np.ndarray.sum, x, 1, None, None, True),
    lambda b, x: b.call(np.add.reduce, x), lambda b, x: b.call(np.add.reduce, x, (1,), None, None, False),
])
def test_sums_become_the_reduce_they_call(call: Any) -> None:
    ops = simplified_ops(call, X)
    assert ops == [np.add.reduce]


def test_transposes_compose_and_cancel() -> None:
    cube = np.arange(24.0).reshape(2, 3, 4)
    def twice(b: Builder, x: Ref) -> Ref:
        return b.call(np.exp, b.call(np.ndarray.transpose, b.call(np.transpose, x)))
    assert simplified_ops(twice, cube) == [np.exp]
    def swap_then_transpose(b: Builder, x: Ref) -> Ref:
        return b.call(np.transpose, b.call(np.swapaxes, x, 0, 2), (1, 0, 2))
    ops = simplified_ops(swap_then_transpose, cube)
    assert ops == [np.transpose]
    assert simplified_ops(lambda b, x: b.call(np.transpose, x, (0, 2, 1)), cube) == [np.transpose]


def test_same_shape_and_dtype_conversions_disappear() -> None:
    assert simplified_ops(lambda b, x: b.call(np.exp, b.call(np.ndarray.astype, x, np.float64)), X) == [np.exp]
    assert simplified_ops(lambda b, x: b.call(np.ndarray.astype, x, dtype=np.float64, copy=True), X) == []
    assert simplified_ops(lambda b, x: b.call(np.ndarray.astype, x, np.float32), X) == [np.ndarray.astype]
    assert simplified_ops(lambda b, x: b.call(np.exp, b.call(np.ndarray.reshape, x, (2, 3))), X) == [np.exp]
    assert simplified_ops(lambda b, x: b.call(np.exp, b.call(np.broadcast_to, x, (2, 3))), X) == [np.exp]
    assert simplified_ops(lambda b, x: b.call(np.exp, b.call(np.copy, x)), X) == [np.exp]
    def reshaped_twice(b: Builder, x: Ref) -> Ref:
        return b.call(np.ndarray.reshape, b.call(np.reshape, x, (3, 2)), (6,))
    assert simplified_ops(reshaped_twice, X) == [np.reshape]


def test_broadcasts_feeding_elementwise_calls_are_never_materialised() -> None:
    """The mean's gradient through the sum's: reshape, broadcast, reshape, broadcast, multiply."""
    def chain(b: Builder, g: Ref, d: Ref) -> Ref:
        g1 = b.call(np.ndarray.reshape, g, (1,))
        g2 = b.call(np.broadcast_to, g1, (4,))
        g3 = b.call(np.ndarray.reshape, g2, (4, 1))
        g4 = b.call(np.broadcast_to, g3, (4, 2))
        return b.call(np.multiply, g4, d)
    assert simplified_ops(chain, np.array(0.25), np.arange(8.0).reshape(4, 2)) == [np.multiply]
    # A broadcast into a product is needed (matmul does not broadcast its core axes): it stays.
    def into_matmul(b: Builder, g: Ref, w: Ref) -> Ref:
        return b.call(np.matmul, b.call(np.broadcast_to, g, (4, 2)), w)
    assert simplified_ops(into_matmul, np.arange(2.0), np.ones((2, 3))) == [np.broadcast_to, np.matmul]
    # A broadcast that makes the result bigger than the other operand stays.
    def widening(b: Builder, g: Ref, d: Ref) -> Ref:
        return b.call(np.negative, b.call(np.broadcast_to, g, (4, 2)))
    assert simplified_ops(widening, np.arange(2.0), X) == [np.broadcast_to, np.negative]


def test_constant_operands_are_compacted() -> None:
    b = Builder()
    d = b.arg(np.arange(8.0).reshape(4, 2))
    y = b.call(np.multiply, np.broadcast_to(np.float64(0.25), (4, 2)), d)
    z = b.call(np.add, y, np.broadcast_to(np.array([1.0, 2.0]), (4, 2)))
    w = b.call(np.multiply, z, np.ones((4, 2)))
    optimized = run_pass(passes.simplify, b.program(result=b.call(np.positive, w)))
    assert ops_of(optimized) == [np.multiply, np.add, np.positive]
    assert np.shape(optimized.instrs[0].args[0]) == ()
    assert np.shape(optimized.instrs[1].args[1]) == (1, 2)
    np.testing.assert_array_equal(Replayer(optimized)(np.ones((4, 2))), np.full((4, 2), 0.25) + [1.0, 2.0])


def test_escaping_values_are_not_replaced() -> None:
    b = Builder()
    x = b.arg(X)
    y = b.call(np.multiply, x, 1.0)
    slot = Slot("p.grad", None)
    optimized = run_pass(passes.simplify, b.program([(y, slot)]))
    Replayer(optimized)(X)
    assert ops_of(optimized) == [np.multiply] and slot.value is not X


# --------------------------------------------------------------------------
# buffer reuse
# --------------------------------------------------------------------------


def chain_program(n: int = 200) -> tuple[Program, Slot, Slot]:
    """A tiny training step: the parameter p, a gradient g written to p.grad, p -= 0.1 * g in place."""
    b = Builder()
    p, grad = Slot("p", np.linspace(-1, 1, n * n).reshape(n, n)), Slot("p.grad", None)
    w = b.input(p)
    x = b.arg(np.ones((n, n)))
    h = b.call(np.tanh, b.call(np.matmul, x, w))
    r = b.call(np.multiply, b.call(np.subtract, h, x), 2.0)
    d = b.call(np.multiply, r, b.call(np.subtract, 1.0, b.call(np.square, h)))
    g = b.call(np.matmul, b.call(np.transpose, x), d)
    loss = b.call(np.add.reduce, b.call(np.square, r), None)
    new_w = b.call(np.subtract, w, b.call(np.multiply, 0.1, g))
    return b.program([(g, grad), (new_w, p)], result=loss), p, grad


def test_temporaries_share_buffers_and_results_stay_equal() -> None:
    program, _, _ = chain_program(4)
    optimized = run_pass(passes.reuse_buffers, program)
    temporaries = [i for i in optimized.instrs if i.out_buffer is not None]
    assert len(temporaries) >= 6 and len(optimized.buffers) <= 3
    reference_program, p_ref, grad_ref = chain_program(4)
    reference = Replayer(reference_program)
    replay = Replayer(optimized)
    p = optimized.inputs[0][1]
    for step in range(3):
        x = np.full((4, 4), 0.5 + step)
        np.testing.assert_array_equal(replay(x), reference(x))
        np.testing.assert_array_equal(p.value, p_ref.value)
        np.testing.assert_array_equal(optimized.outputs[0][1].value, grad_ref.value)


def test_a_buffer_is_not_reused_while_a_view_of_it_is_live() -> None:
    b = Builder()
    x = b.arg(np.arange(9.0).reshape(3, 3))
    a = b.call(np.negative, x)
    t = b.call(np.transpose, a)          # a view of a's buffer
    c = b.call(np.multiply, x, 3.0)      # a is dead by name, alive through t: c needs another buffer
    d = b.call(np.add, t, c)
    e = b.call(np.add, d, 1.0)
    optimized = run_pass(passes.reuse_buffers, b.program(result=b.call(np.positive, e)))
    by_out = {i.outs[0]: i.out_buffer for i in optimized.instrs}
    assert by_out[a.id] != by_out[c.id]
    assert by_out[e.id] == by_out[d.id]  # d dies at e: e is written over it
    arg = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(Replayer(optimized)(arg), (-arg).T + 3 * arg + 1)


def test_a_location_read_and_written_is_updated_in_place_as_in_eager() -> None:
    program, p, _ = chain_program(4)
    original = p.value
    before = original.copy()
    optimized = run_pass(passes.reuse_buffers, program)
    Replayer(optimized)(np.ones((4, 4)))
    assert p.value is original and not np.array_equal(original, before)
    updates = [i for i in optimized.instrs if isinstance(i.kwargs.get("out"), Ref) and i.op is np.subtract]
    assert [i.kwargs["out"].id for i in updates] == [program.inputs[0][0]]


def test_an_update_chain_is_written_in_place_only_where_the_old_value_is_dead() -> None:
    def program(read_after: bool) -> tuple[Program, Slot]:
        b = Builder()
        m = Slot("opt.state[0].exp_avg", np.ones(3))
        old = b.input(m)
        g = b.arg(np.ones(3))
        m1 = b.call(np.multiply, old, 0.9)
        m2 = b.call(np.add, m1, b.call(np.multiply, 0.1, g))
        result = b.call(np.add, old, 1.0) if read_after else None
        return b.program([(m2, m)], result=result), m
    optimized, m = program(read_after=False)
    original = m.value
    Replayer(run_pass(passes.reuse_buffers, optimized))(np.full(3, 2.0))
    assert m.value is original
    np.testing.assert_allclose(original, 0.9 + 0.2)
    kept, m = program(read_after=True)       # the old value is read after the update: no in-place
    original = m.value
    result = Replayer(run_pass(passes.reuse_buffers, kept))(np.full(3, 2.0))
    np.testing.assert_array_equal(original, np.ones(3))
    np.testing.assert_array_equal(result, np.full(3, 2.0))
    np.testing.assert_allclose(m.value, 0.9 + 0.2)


def test_a_kept_gradient_never_changes_and_an_unkept_one_is_recycled() -> None:
    program, _, grad = chain_program(4)
    replay = Replayer(run_pass(passes.reuse_buffers, program))
    replay(np.ones((4, 4)))
    kept, kept_copy = grad.value, grad.value.copy()
    seen = set()
    for step in range(6):
        replay(np.full((4, 4), 2.0 + step))
        seen.add(id(grad.value))
        assert grad.value is not kept
    np.testing.assert_array_equal(kept, kept_copy)
    del kept
    for step in range(6):
        replay(np.full((4, 4), 2.0 + step))
        seen.add(id(grad.value))
    assert len(seen) <= 4  # two arrays while `kept` pinned one, then two again


def test_the_steady_state_allocates_no_arrays() -> None:
    n = 200  # arrays of 320 kB: one allocated array would show far above the interpreter's own bytes
    program, _, _ = chain_program(n)
    x = np.ones((n, n)) * 0.01
    peaks = {}
    for name, prog in ("unoptimized", program), ("optimized", passes.optimize(chain_program(n)[0])):
        replay = Replayer(prog)
        for _ in range(3):
            replay(x)
        tracemalloc.start()
        replay(x)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks["unoptimized"] > 4 * 8 * n * n
    assert peaks["optimized"] < 8 * n * n / 10, peaks


def test_a_location_holding_a_number_is_not_written_in_place() -> None:
    b = Builder()
    count = Slot("opt.state[0].step", 3.0)
    t = b.input(count)
    program = b.program([(b.call(np.add, t, 1.0), count)])
    optimized = run_pass(passes.reuse_buffers, program)
    assert "out" not in optimized.instrs[0].kwargs
    Replayer(optimized)()
    assert count.value == 4.0


# --------------------------------------------------------------------------
# random programs: every pass together equals the recording, replay after replay
# --------------------------------------------------------------------------

CONSTANTS = [0.0, 1.0, 0.5, -1.0, np.ones((3, 3)), np.broadcast_to(np.float64(2.0), (3, 3)), np.zeros((1, 3))]


@st.composite
def random_programs(draw: st.DrawFn) -> tuple[Program, list[Slot]]:
    """Straight-line programs over values of shapes (3, 3), (3, 1), (1, 3) and (): elementwise calls (with
    constants that simplify), views, reductions, products; a location updated from its old value, one
    written with any value, and a few values returned."""
    b = Builder()
    data = np.random.default_rng(draw(st.integers(0, 2**16)))
    w_slot, g_slot = Slot("w", data.uniform(-1, 1, (3, 3))), Slot("w.grad", None)
    pool = [b.input(w_slot), b.arg(data.uniform(-1, 1, (3, 3))), b.arg(data.uniform(-1, 1, (1, 3)))]

    def pick() -> Ref:
        return pool[draw(st.integers(0, len(pool) - 1))]

    for _ in range(draw(st.integers(2, 14))):
        kind = draw(st.sampled_from(["unary", "binary", "constant", "view", "reduce", "matmul"]))
        x = pick()
        shape = b.values[x.id].shape
        if kind == "unary":
            value = b.call(draw(st.sampled_from([np.negative, np.tanh, np.square])), x)
        elif kind == "binary":
            value = b.call(draw(st.sampled_from([np.add, np.subtract, np.multiply, np.maximum])), x, pick())
        elif kind == "constant":
            c = draw(st.sampled_from(CONSTANTS))
            op = draw(st.sampled_from([np.add, np.subtract, np.multiply]))
            value = b.call(op, c, x) if draw(st.booleans()) else b.call(op, x, c)
        elif kind == "view" and len(shape) == 2:
            op, *rest = draw(st.sampled_from([(np.transpose,), (np.swapaxes, 0, 1), (np.ndarray.reshape, shape),
                                              (np.broadcast_to, (3, 3))]))
            value = b.call(op, x, *rest)
        elif kind == "reduce" and len(shape) == 2:
            axis = draw(st.sampled_from([0, 1]))
            op, args, kwargs = draw(st.sampled_from([
                (np.add.reduce, ((axis,), None, None, True), {}), (np.sum, (), {"axis": axis, "keepdims": True}),
                (np.ndarray.sum, (), {})]))
            value = b.call(op, x, *args, **kwargs)
        elif kind == "matmul" and shape == (3, 3):
            square = [v for v in pool if b.values[v.id].shape == (3, 3)]
            value = b.call(np.matmul, x, square[draw(st.integers(0, len(square) - 1))])
        else:
            continue
        pool.append(value)
    update = b.call(np.subtract, pool[0], b.call(np.multiply, 0.1, b.call(np.tanh, pool[-1])))
    if b.values[update.id].shape == (3, 3):
        outputs = [(update, w_slot)]
    else:
        outputs = []
    outputs.append((pick(), g_slot))
    result = [pick() for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):  # the old value read after the update: then it cannot be updated in place
        result.append(b.call(np.add, pool[0], 1.0))
    return b.program(outputs, result), [w_slot, g_slot]


@given(random_programs())
def test_optimized_random_programs_equal_the_recording(case: tuple[Program, list[Slot]]) -> None:
    program, slots = case
    optimized = run_pass(passes.optimize, program)
    reference, replay = Replayer(program), Replayer(optimized)
    data = np.random.default_rng(0)
    kept: list[tuple[Any, np.ndarray]] = []  # what earlier replays returned and wrote: must never change
    for _ in range(3):
        args = [data.uniform(-1, 1, (3, 3)), data.uniform(-1, 1, (1, 3))]
        start = [None if s.value is None else np.array(s.value) for s in slots]
        expected = reference(*args)
        expected_state = [s.value for s in slots]
        for slot, value in zip(slots, start):
            slot.value = value
        got = replay(*args)
        for a, e in zip(got, expected):
            np.testing.assert_array_equal(a, e, strict=True)
        for slot, e in zip(slots, expected_state):
            np.testing.assert_array_equal(slot.value, e, strict=True)
        kept += [(v, np.array(v)) for v in [*got, slots[1].value]]
        for value, copy in kept:
            np.testing.assert_array_equal(value, copy)


# --------------------------------------------------------------------------
# real traced steps: optimized replays equal unoptimized ones
# --------------------------------------------------------------------------


def notebook_training(
    optimizer: str, hidden: int = 8, seed: int = 0, lr: float = 0.01
) -> tuple[Any, list[Any], Any]:
    """The notebook's VAE step with generic ops, nn.Linear and an optimizer, compiled: (step, parameters, opt)."""
    import tinygrad_vae as tv
    from tinygrad_vae import nn, optim

    rng = np.random.default_rng(seed)
    f64 = {"generator": rng, "dtype": np.float64}
    enc, mu, logvar = nn.Linear(2, hidden, **f64), nn.Linear(hidden, 2, **f64), nn.Linear(hidden, 2, **f64)
    dec1, dec2 = nn.Linear(2, hidden, **f64), nn.Linear(hidden, 2, **f64)
    params = [p for layer in (enc, mu, logvar, dec1, dec2) for p in layer.parameters()]
    opt = optim.SGD(params, lr=lr) if optimizer == "sgd" else optim.Adam(params, lr=lr)

    def train_step(x: Any, eps: Any) -> Any:
        opt.zero_grad()
        h = enc(x).relu()
        m, lv = mu(h), logvar(h)
        d = x - dec2(dec1(m + (lv * 0.5).exp() * eps).relu())
        loss = (d * d).sum(axis=1).mean() - 0.5 * (1 + lv - m * m - lv.exp()).sum(axis=1).mean()
        loss.backward()
        opt.step()
        return loss

    return tv.compile(train_step), params, opt


def batches(n: int, size: int = 16) -> list[tuple[Any, Any]]:
    from tinygrad_vae import Tensor

    data = np.random.default_rng(5)
    return [(Tensor(data.standard_normal((size, 2))), Tensor(data.standard_normal((size, 2)))) for _ in range(n)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimized_steps_equal_unoptimized_ones(optimizer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    step, params, opt = notebook_training(optimizer)
    losses = [step(x, eps).item() for x, eps in batches(6)]
    with monkeypatch.context() as patch:
        patch.setattr(passes, "optimize", lambda program: program)
        plain_step, plain_params, plain_opt = notebook_training(optimizer)
        plain_losses = [plain_step(x, eps).item() for x, eps in batches(6)]
    assert losses == plain_losses
    for p, q in zip(params, plain_params):
        np.testing.assert_array_equal(p.data, q.data, strict=True)
        np.testing.assert_array_equal(p.grad.data, q.grad.data, strict=True)
    for p, q in zip(params, plain_params):
        for name, value in opt.state[p].items():
            np.testing.assert_array_equal(value, plain_opt.state[q][name])
    entry, plain = step.entries[-1], plain_step.entries[-1]
    calls = [i for i in entry.program.instrs if not isinstance(i.op, passes.Recycled)]
    assert len(calls) < len(plain.program.instrs)
    assert np.broadcast_to not in ops_of(entry.program) and entry.program.buffers


def test_a_compiled_step_updates_parameters_in_place_keeps_kept_grads_and_allocates_nothing() -> None:
    step, params, _ = notebook_training("sgd", hidden=1024, lr=1e-3)  # 0.01 diverges at this width
    data = batches(8, size=64)
    for x, eps in data[:2]:
        step(x, eps)
    arrays = [p.data for p in params]
    kept = params[0].grad
    kept_values = kept.data.copy()
    for x, eps in data[2:6]:
        step(x, eps)
    assert all(p.data is a for p, a in zip(params, arrays))  # in place, as eager's optimizer
    np.testing.assert_array_equal(kept.data, kept_values)  # a .grad kept from an earlier step never changes
    assert params[0].grad is not kept and not np.array_equal(params[0].grad.data, kept_values)
    del kept
    for x, eps in data[6:8]:
        assert np.isfinite(step(x, eps).item())
    x, eps = data[0]
    tracemalloc.start()
    step(x, eps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # What remains is NumPy's own casting buffer (8,192 elements, 64 kB, whatever the model's size) for the
    # product with the ReLU's bool mask, freed within the call: far below one hidden activation (512 kB).
    assert peak < 64 * 1024 * 8 / 4, peak


def test_negations_fold_into_their_neighbours() -> None:
    y = np.array([[0.5, -0.0, 2.0], [1.0, 3.0, -4.0]])
    assert simplified_ops(lambda b, x: b.call(np.negative, b.call(np.multiply, 0.25, x)), X) == [np.multiply]
    assert simplified_ops(lambda b, x: b.call(np.negative, b.call(np.negative, x)), X) == []
    assert simplified_ops(lambda b, x, z: b.call(np.add, b.call(np.negative, z), x), X, y) == [np.subtract]
    assert simplified_ops(lambda b, x, z: b.call(np.subtract, x, b.call(np.negative, z)), X, y) == [np.add]
    # not for a product of two arrays, nor for integers
    assert simplified_ops(lambda b, x, z: b.call(np.negative, b.call(np.multiply, x, z)), X, y) \
        == [np.multiply, np.negative]
    ints = np.arange(3)
    assert simplified_ops(lambda b, x: b.call(np.negative, b.call(np.multiply, 2, x)), ints) \
        == [np.multiply, np.negative]
    assert simplified_ops(lambda b, x, z: b.call(np.add, x, b.call(np.negative, z)), X, ints) == [np.negative, np.add]


def test_zero_d_arithmetic_runs_on_numpy_scalars_except_what_updates_in_place() -> None:
    b = Builder()
    step = Slot("opt.state[0].step", np.zeros(()))
    count = b.input(step)
    x = b.arg(np.arange(6.0).reshape(3, 2))
    total = b.call(np.add.reduce, x, None)
    mean = b.call(np.true_divide, total, 6)
    loss = b.call(np.add, b.call(np.multiply, -0.5, mean), b.call(np.subtract, mean, np.float64(1.0)))
    program = b.program([(b.call(np.add, count, 1.0), step)], result=loss)
    optimized = run_pass(passes.optimize, program)
    # the returned loss as a scalar operator too (a NumPy scalar, as eager's); the 0-d counter stays np.add
    assert ops_of(optimized) == [np.add.reduce, operator.truediv, operator.mul, operator.sub, operator.add, np.add]
    counter = step.value
    result = Replayer(optimized)(np.arange(6.0).reshape(3, 2))
    assert type(result) is np.float64 and result == -0.5 * 2.5 + 1.5
    assert step.value is counter and step.value.shape == () and step.value == 1.0
