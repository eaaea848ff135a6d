"""Passes over a traced :class:`Program`: each one a function ``Program -> Program`` that keeps its meaning.

``optimize(program)`` runs them in order: constant folding, algebraic simplification,
common-subexpression elimination and dead-code elimination (repeated while they find something),
then buffer reuse and scalar arithmetic (0-d float arithmetic as NumPy scalar operators). Every pass
returns a new Program (the instructions it keeps are shared, never mutated) that passes
``Program.check()``.

Exactness: every rewrite gives bit-identical results, with one exception, the sign of a zero:
``x + 0 -> x`` and a sum over axes of length 1 (which NumPy computes as ``0 + x``) turn eager's ``+0.0``
into ``x``'s own ``-0.0`` where ``x`` is ``-0.0``. The two compare equal.

Values that escape (written to a binding, or part of the returned result) are never replaced by another
value (so two locations never end up sharing one array), never folded to a constant, and never live in a
buffer that a later instruction of this or the next replay reuses. ``reuse_buffers`` stores them so that
eager semantics hold and the steady state of a training loop allocates no arrays:

- **A location the step reads and writes** (a parameter, an optimizer buffer): the elementwise chain
  that computes its new value from its old one is written into the old array itself (``out=`` the
  input), as eager's in-place ``param.data -= lr * grad`` does, so the location keeps its array object
  and a reference a user holds to it sees the update, as in eager. (A ``.grad`` accumulated over steps
  without ``zero_grad`` is updated in place the same way; eager replaces it by a new array, so only there
  a Tensor the user kept from the previous step's ``.grad`` sees the sum too.)
- **Any other escaping result of an ``out=``-capable call** (a fresh ``.grad``, the returned loss) goes
  into a :class:`Recycled` pair of arrays used on alternate replays. Before writing into the array that
  replay n-1 handed out, its reference count is checked: if anything besides the pair still holds it (a
  ``.grad`` Tensor or a loss the user kept from that step), a fresh array takes its place. So a kept
  ``.grad`` never changes, exactly as in eager, and a loop that lets go of its old values allocates
  nothing. Double-buffering is what makes this check possible: the array of replay n is still held by
  its location until replay n+1 writes the new one.
- Escaping values that a call cannot write with ``out=`` (views, random draws) are left as computed, and so
  are 0-d ones (a loss stays the NumPy scalar eager returns; recycling it would save nothing).

Temporary buffers are shared by the replays of one compiled program, so a program must not be run by
two threads at once.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from tinygrad_vae.compiler.program import Instr, Program, Ref, iter_refs, map_refs
from tinygrad_vae.compiler.tracer import reshaped

Pass = Callable[[Program], Program]


# ---- what the passes know about ops ----------------------------------------------------------------------


def _elementwise(op: Any) -> bool:
    """A ufunc called as a function (not matmul, whose operands do not broadcast elementwise)."""
    return isinstance(op, np.ufunc) and op.signature is None


def _ufunc_method(op: Any, name: str) -> bool:
    return isinstance(getattr(op, "__self__", None), np.ufunc) and getattr(op, "__name__", None) == name


# The positional parameters of the reductions and products that take ``out=``, by op.
_SUM_PARAMS = ("a", "axis", "dtype", "out", "keepdims", "initial", "where")
_PARAMS: dict[Any, tuple[str, ...]] = {
    np.sum: _SUM_PARAMS, np.ndarray.sum: _SUM_PARAMS, np.mean: _SUM_PARAMS[:5], np.ndarray.mean: _SUM_PARAMS[:5],
    np.dot: ("a", "b", "out"), reshaped: ("array", "shape", "out"),
}


def _params_of(op: Any) -> tuple[str, ...] | None:
    return _SUM_PARAMS if _ufunc_method(op, "reduce") else next((p for o, p in _PARAMS.items() if o is op), None)


def _bind(instr: Instr) -> dict[str, Any] | None:
    """The call's arguments by parameter name (None for an op without a known parameter list)."""
    names = _params_of(instr.op)
    if names is None or len(instr.args) > len(names):
        return None
    return {**dict(zip(names, instr.args)), **instr.kwargs}


def _is_sum(op: Any) -> bool:
    return (_ufunc_method(op, "reduce") and op.__self__ is np.add) or _in(op, (np.sum, np.ndarray.sum))


def _in(op: Any, ops: tuple[Any, ...]) -> bool:
    return any(op is candidate for candidate in ops)


# Ops whose result is a new array, never a view of an argument (ufunc calls and reductions included).
_FRESH = (operator.add, operator.sub, operator.mul, operator.truediv, np.dot, np.sum, np.mean, np.ndarray.sum, np.ndarray.mean, np.where, np.concatenate, np.stack,
          np.copy, np.ndarray.copy, np.zeros_like, np.ones_like, np.full_like, np.empty_like, np.outer, np.tensordot, np.cumsum, np.clip, reshaped)


def _fresh(instr: Instr) -> bool:
    """Whether ``instr``'s results are new arrays (else they may be views of its array arguments)."""
    op = instr.op
    if instr.effect or isinstance(op, np.ufunc) or _ufunc_method(op, "reduce") or _in(op, _FRESH):
        return "out" not in instr.kwargs or instr.kwargs["out"] is None
    if op is np.ndarray.astype:
        return instr.kwargs.get("copy", True) is not False and len(instr.args) < 5
    return False


def _takes_out(instr: Instr) -> bool:
    """Whether ``instr`` can write its one result into a given array with ``out=``."""
    if instr.effect or len(instr.outs) != 1 or "out" in instr.kwargs or "where" in instr.kwargs:
        return False
    if isinstance(instr.op, np.ufunc):
        return len(instr.args) == instr.op.nin and instr.op.nout == 1
    bound = _bind(instr)
    return bound is not None and bound.get("out") is None and "where" not in bound


def _with_out(instr: Instr, out: Any) -> Instr:
    """``instr`` with its ``out=None`` positional argument dropped, so ``out=`` can be given by keyword."""
    names = _params_of(instr.op)
    if names is None or len(instr.args) <= names.index("out"):
        return replace(instr, kwargs={**instr.kwargs, "out": out}) if out is not None else instr
    cut = names.index("out")
    kwargs = {**dict(zip(names[cut + 1:], instr.args[cut + 1:])), **instr.kwargs}
    if out is not None:
        kwargs["out"] = out
    return replace(instr, args=instr.args[:cut], kwargs=kwargs)


def _escaping(program: Program) -> set[int]:
    """The values that leave the program: written to a binding or part of the result."""
    return {ident for ident, _ in program.outputs} | {ref.id for ref in iter_refs(program.result)}


def _substituted(instr: Instr, subst: dict[int, Any]) -> Instr:
    """``instr`` with the Refs that ``subst`` maps replaced (by another Ref or by a constant)."""
    if not subst or not any(ref.id in subst for ref in instr.refs()):
        return instr
    def swap(ref: Ref) -> Any:
        return subst.get(ref.id, ref)
    return replace(instr, args=map_refs(instr.args, swap), kwargs=map_refs(instr.kwargs, swap))


def _pure(instr: Instr) -> bool:
    """Whether the call is there only for its results (not an effect, and it has results)."""
    return not instr.effect and bool(instr.outs)


# ---- dead code, common subexpressions, constants ---------------------------------------------------------


def eliminate_dead_code(program: Program) -> Program:
    """Drop the instructions none of whose results reaches an output or the result (effects stay).

    Example: in ``v2 = exp(v0); v3 = multiply(v0, 2.0)`` with output ``v3``, ``exp`` goes (a gradient that
    no parameter uses, a value only the graph needed). Random draws are kept even when unused, so that a
    replay draws the same numbers as eager from the same Generator. An input nothing reads any more (a
    hyperparameter such as SGD's momentum when it is 0, which a guard checks) is no longer read.
    """
    live = _escaping(program)
    kept = []
    for instr in reversed(program.instrs):
        if not _pure(instr) or any(out in live for out in instr.outs):
            kept.append(instr)
            live.update(ref.id for ref in instr.refs())
    inputs = [(ident, binding) for ident, binding in program.inputs if ident in live]  # nothing reads the rest
    return replace(program, inputs=inputs, instrs=kept[::-1])


def _key(value: Any) -> Any:
    """A hashable key equal for two arguments exactly when they are the same argument.

    Numbers carry their type (``1``, ``1.0`` and ``True`` promote differently) and floats their bits
    (``0.0`` and ``-0.0`` differ); small arrays compare by dtype, shape and bytes, large ones by identity.
    """
    if isinstance(value, Ref):
        return ("ref", value.id)
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *map(_key, value))
    if isinstance(value, dict):
        return ("dict", *sorted((name, _key(item)) for name, item in value.items()))
    if isinstance(value, slice):
        return ("slice", _key(value.start), _key(value.stop), _key(value.step))
    if isinstance(value, (np.ndarray, np.generic)):
        if value.size <= 64:
            return ("array", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
        return ("large array", id(value))
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return (type(value).__name__, value)


def eliminate_common_subexpressions(program: Program) -> Program:
    """Compute each pure call once: a later call with the same op, arguments and keywords reuses the first.

    Example: ``v4 = exp(v1); v5 = exp(v1); v6 = add(v4, v5)`` becomes ``v4 = exp(v1); v6 = add(v4, v4)``
    (the KL term's ``exp(log_var)`` and its gradient's). Effects (random draws) are never merged, and an
    escaping value is never replaced (each output gets its own array).
    """
    escaping = _escaping(program)
    seen: dict[Any, tuple[int, ...]] = {}
    subst: dict[int, Any] = {}
    kept = []
    for instr in program.instrs:
        instr = _substituted(instr, subst)
        if not _pure(instr):
            kept.append(instr)
            continue
        key = (_key(instr.op), _key(instr.args), _key(instr.kwargs))
        earlier = seen.get(key)
        if earlier is not None and not escaping.intersection(instr.outs):
            subst.update({out: Ref(first) for out, first in zip(instr.outs, earlier)})
            continue
        seen.setdefault(key, instr.outs)
        kept.append(instr)
    return replace(program, instrs=kept)  # each kept instruction already reads the substitutes


def fold_constants(program: Program) -> Program:
    """Evaluate once, at compile time, every pure call whose arguments are all constants.

    Example: ``v3 = multiply(array(1.), 0.5); v4 = multiply(v2, v3)`` becomes ``v4 = multiply(v2, array(0.5))``.
    A call whose result escapes is kept (its location must get a new array on every replay), and so is a
    call that fails here (the replay raises as eager would).
    """
    escaping = _escaping(program)
    subst: dict[int, Any] = {}
    kept = []
    for instr in program.instrs:
        instr = _substituted(instr, subst)
        if not _pure(instr) or escaping.intersection(instr.outs) or next(instr.refs(), None) is not None:
            kept.append(instr)
            continue
        try:
            value = instr.op(*instr.args, **instr.kwargs)
        except Exception:  # noqa: BLE001 - any failure: leave the call to the replay
            kept.append(instr)
            continue
        values = (value,) if len(instr.outs) == 1 else tuple(value)
        subst.update(zip(instr.outs, values))
    return replace(program, instrs=kept)  # each kept instruction already reads the substitutes


# ---- algebraic simplification ----------------------------------------------------------------------------

Meta = dict[int, tuple[tuple[int, ...], np.dtype]]

# op -> (its identity element, whether it may stand on the left too)
_IDENTITIES: dict[Any, tuple[int, bool]] = {
    np.multiply: (1, True), np.add: (0, True), np.subtract: (0, False), np.true_divide: (1, False),
}
_RESHAPES = (np.reshape, np.ndarray.reshape)
_TRANSPOSES = (np.transpose, np.ndarray.transpose)
_SWAPS = (np.swapaxes, np.ndarray.swapaxes)
_COPIES = (np.copy, np.ndarray.copy)


def _shape(value: Any, meta: Meta) -> tuple[int, ...]:
    return meta[value.id][0] if isinstance(value, Ref) else np.shape(value)


def _broadcasts_to(args: tuple, meta: Meta, shape: tuple[int, ...]) -> bool:
    """Whether the operands ``args`` of an elementwise call broadcast to ``shape``."""
    try:
        return np.broadcast_shapes(*(_shape(a, meta) for a in args)) == shape
    except ValueError:
        return False


def _compact(c: Any) -> Any:
    """A constant array without its repeated values: stride-0 axes cut to length 1, a uniform array to 0-d.

    ``np.broadcast_to(0.5, (64, 2))`` becomes ``array(0.5)``, and ``np.ones((64, 1))`` becomes ``array(1.)``;
    same dtype, so an elementwise call with the other operands gives the same result.
    """
    if not isinstance(c, np.ndarray) or c.size <= 1 or c.dtype.kind not in "biuf":
        return c
    first = c.flat[0]
    if np.all(c == first):
        return np.array(first, dtype=c.dtype)
    if 0 in c.strides:
        return np.ascontiguousarray(c[tuple(slice(0, 1) if s == 0 else slice(None) for s in c.strides)])
    return c


def _canonical_sum(instr: Instr) -> Instr:
    """A sum as the C call ``np.add.reduce(a, axis)`` (what ``np.sum`` and ``ndarray.sum`` call through a Python
    wrapper), with its axis given and its other arguments only where they are not the defaults."""
    bound = _bind(instr) if _is_sum(instr.op) else None
    if bound is None or any(bound.get(k) is not None for k in ("out", "initial", "where")) or "a" not in bound:
        return instr
    axis = bound.get("axis", 0 if _ufunc_method(instr.op, "reduce") else None)
    args = (bound["a"], axis) if bound.get("dtype") is None else (bound["a"], axis, bound["dtype"])
    kwargs = {"keepdims": True} if bound.get("keepdims") else {}
    return Instr(instr.outs, np.add.reduce, args, kwargs)


def _simpler_operands(instr: Instr, meta: Meta, made: dict[int, Instr]) -> Instr:
    """An elementwise call with broadcasts left to the call: ``multiply(broadcast_to(g, s), d)`` ->
    ``multiply(g, d)``, and constant operands compacted (see ``_compact``), where the result keeps its shape.
    A sum becomes ``np.add.reduce`` (see ``_canonical_sum``)."""
    if not _elementwise(instr.op):
        return _canonical_sum(instr)
    shape = meta[instr.outs[0]][0]
    args = instr.args
    for i, arg in enumerate(args):
        source = made.get(arg.id) if isinstance(arg, Ref) else None
        if source is not None and source.op is np.broadcast_to:
            smaller = source.args[0]
        elif not isinstance(arg, Ref):
            smaller = _compact(arg)
        else:
            continue
        trial = args[:i] + (smaller,) + args[i + 1:]
        if smaller is not arg and _broadcasts_to(trial, meta, shape):
            args = trial
    return instr if args is instr.args else replace(instr, args=args)


def _constant_equal(value: Any, number: int) -> bool:
    if isinstance(value, Ref) or not isinstance(value, (int, float, np.ndarray, np.generic)):
        return False
    array = np.asarray(value)
    return array.dtype.kind in "biuf" and bool(np.all(array == number))


def _permutation(instr: Instr, meta: Meta) -> tuple[Ref, tuple[int, ...]] | None:
    """``(x, axes)`` if ``instr`` is a transpose of ``x`` (np.transpose, .transpose, swapaxes), else None."""
    x = instr.args[0] if instr.args else None
    if not isinstance(x, Ref):
        return None
    ndim = len(meta[x.id][0])
    rest = instr.args[1:]
    if _in(instr.op, _TRANSPOSES):
        axes = instr.kwargs.get("axes", rest[0] if len(rest) == 1 else rest or None)
        perm = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % ndim for a in axes)
    elif _in(instr.op, _SWAPS) and len(rest) == 2 and not instr.kwargs:
        a, b = (int(i) % ndim for i in rest)
        order = list(range(ndim))
        order[a], order[b] = order[b], order[a]
        perm = tuple(order)
    else:
        return None
    return x, perm


def _sum_of_ones(instr: Instr, meta: Meta) -> Ref | None:
    """``x`` if ``instr`` sums or averages ``x`` over axes of length 1 only (no dtype, out, initial, where)."""
    if not (_is_sum(instr.op) or _in(instr.op, (np.mean, np.ndarray.mean))):
        return None
    bound = _bind(instr)
    x = bound.get("a") if bound else None
    if not isinstance(x, Ref) or any(bound.get(k) is not None for k in ("dtype", "out", "initial", "where")):
        return None
    shape = meta[x.id][0]
    axis = bound.get("axis", 0 if _ufunc_method(instr.op, "reduce") else None)
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else axis
    return x if all(shape[int(a)] == 1 for a in axes) else None


def _negated_constant(c: Any) -> Any:
    """``-c`` for a float constant (exact), else None."""
    if isinstance(c, float) or (isinstance(c, (np.ndarray, np.generic)) and c.dtype.kind == "f"):
        return -c
    return None


def _without_negation(instr: Instr, meta: Meta, made: dict[int, Instr]) -> Ref | Instr | None:
    """Negations folded into their neighbours, exactly (IEEE negation only flips the sign bit):
    ``-(c * x) -> (-c) * x``, ``-(-x) -> x``, ``x + (-z) -> x - z``, ``x - (-z) -> x + z``; None if none applies."""
    op, args = instr.op, instr.args
    if meta[instr.outs[0]][1].kind != "f" or instr.kwargs or not _in(op, (np.negative, np.add, np.subtract)):
        return None
    sources = [made.get(a.id) if isinstance(a, Ref) else None for a in args]
    if op is np.negative and sources[0] is not None and not sources[0].kwargs:
        inner = sources[0]
        if inner.op is np.negative and isinstance(inner.args[0], Ref) and meta[inner.args[0].id] == meta[instr.outs[0]]:
            return inner.args[0]
        if inner.op is np.multiply:
            for i, c in enumerate(inner.args):
                flipped = None if isinstance(c, Ref) else _negated_constant(c)
                if flipped is not None:
                    return Instr(instr.outs, np.multiply, inner.args[:i] + (flipped,) + inner.args[i + 1:])
        return None
    if op is np.negative:
        return None
    for i in (1, 0) if op is np.add else (1,):
        source = sources[i]
        z = source.args[0] if source is not None and source.op is np.negative and not source.kwargs else None
        if isinstance(z, Ref) and meta[z.id][1].kind == "f":  # (integer -z wraps at the minimum)
            other = args[1 - i]
            return Instr(instr.outs, np.subtract if op is np.add else np.add, (other, z))
    return None


def _simplified(instr: Instr, meta: Meta, made: dict[int, Instr]) -> Ref | Instr:
    """One rewrite of a single-result pure call: a Ref to an equal earlier value, a cheaper call, or ``instr``."""
    op, args, out = instr.op, instr.args, instr.outs[0]
    out_meta = meta[out]

    def same(x: Any) -> bool:
        return isinstance(x, Ref) and meta[x.id] == out_meta

    if _in(op, tuple(_IDENTITIES)) and len(args) == 2 and not instr.kwargs:
        unit, commutes = _IDENTITIES[op]
        if _constant_equal(args[1], unit) and same(args[0]):
            return args[0]
        if commutes and _constant_equal(args[0], unit) and same(args[1]):
            return args[1]
    negated = _without_negation(instr, meta, made)
    if negated is not None:
        return negated
    summed = _sum_of_ones(instr, meta)
    if summed is not None and meta[summed.id][1] == out_meta[1]:  # np.sum of int8 gives int64
        return summed if same(summed) else Instr(instr.outs, np.reshape, (summed, out_meta[0]))
    x = args[0] if args else None
    source = made.get(x.id) if isinstance(x, Ref) else None
    if _in(op, _RESHAPES + _COPIES + (np.broadcast_to, np.ndarray.astype)):
        target_dtype = args[1] if len(args) > 1 else instr.kwargs.get("dtype")
        if same(x) and (op is not np.ndarray.astype or np.dtype(target_dtype) == out_meta[1]):
            return x
        if source is None or not source.args or "order" in instr.kwargs or not _in(op, _RESHAPES + (np.broadcast_to,)):
            return instr
        inner = source.args[0]
        inner_shape = _shape(inner, meta)
        if _in(op, _RESHAPES) and _in(source.op, _RESHAPES):
            return Instr(instr.outs, np.reshape, (inner, out_meta[0]))
        if op is np.broadcast_to is source.op:
            return Instr(instr.outs, np.broadcast_to, (inner, out_meta[0]))
        # a reshape of a broadcast, or a broadcast of a reshape, of one value: a broadcast of that value
        if (_in(source.op, _RESHAPES + (np.broadcast_to,)) and math.prod(inner_shape) == 1
                and len(inner_shape) <= len(out_meta[0])):
            return Instr(instr.outs, np.broadcast_to, (inner, out_meta[0]))
        return instr
    transposed = _permutation(instr, meta)
    if transposed is not None:
        x, perm = transposed
        if perm == tuple(range(len(perm))) and same(x):
            return x
        inner = _permutation(source, meta) if source is not None else None
        if inner is not None:
            y, first = inner
            composed = tuple(first[i] for i in perm)
            return Instr(instr.outs, np.transpose, (y, composed))
    return instr


def simplify(program: Program) -> Program:
    """Exact algebraic rewrites, each checked against the recorded shapes and dtypes.

    - ``x * 1``, ``1 * x``, ``x + 0``, ``0 + x``, ``x - 0``, ``x / 1`` -> ``x`` (where the result has x's shape
      and dtype, so neither broadcasting nor promotion is lost);
    - a sum or mean over axes of length 1 -> a reshape of x (or x itself);
    - ``reshape`` or ``broadcast_to`` to x's own shape, ``astype`` to x's own dtype, a copy -> ``x``;
      a reshape of a reshape, a broadcast of a broadcast -> one call; ``transpose(transpose(x))`` -> one
      transpose, or ``x`` when the permutations cancel;
    - negations folded into a neighbour: ``-(c * x) -> (-c) * x``, ``-(-x) -> x``, ``x + (-z) -> x - z``,
      ``x - (-z) -> x + z`` (exact: negation flips the sign bit, and ``x - z`` is ``x + (-z)`` in IEEE 754);
    - ``np.sum(x, axis)`` and ``x.sum(axis)`` -> ``np.add.reduce(x, axis)``, the same C call without the wrapper;
    - an elementwise call does its own broadcasting: ``multiply(broadcast_to(g, (64, 2)), d)`` ->
      ``multiply(g, d)``, so the broadcast is never materialised, and a constant operand repeating one
      value becomes a 0-d array.

    Example (the mean's gradient reaching the sum of squares): ``v9 = broadcast_to(v8, (64, 2));
    v10 = multiply(v9, v7)`` becomes ``v10 = multiply(v8, v7)``, and ``broadcast_to`` is then dead code.
    """
    escaping = _escaping(program)
    meta = program.meta
    subst: dict[int, Any] = {}
    made: dict[int, Instr] = {}
    kept = []
    for instr in program.instrs:
        instr = _substituted(instr, subst)
        if instr.effect or len(instr.outs) != 1:
            kept.append(instr)
            continue
        instr = rewritten = _simpler_operands(instr, meta, made)
        for _ in range(4):  # a rewrite may enable another (reshape of a reshape of a broadcast)
            rewritten = instr if instr.outs[0] in escaping else _simplified(instr, meta, made)
            if isinstance(rewritten, Ref) or rewritten is instr:
                break
            instr = rewritten
        if isinstance(rewritten, Ref):
            subst[instr.outs[0]] = rewritten
            continue
        made[instr.outs[0]] = instr
        kept.append(instr)
    return replace(program, instrs=kept)  # each kept instruction already reads the substitutes


# ---- scalar arithmetic -----------------------------------------------------------------------------------

_SCALAR_OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul, np.true_divide: operator.truediv}


def scalar_arithmetic(program: Program) -> Program:
    """Arithmetic on 0-d float values as Python operators on NumPy scalars, which skip the ufunc machinery.

    Example: the loss's ``v33 = divide(v32, 64); v42 = multiply(-0.5, v41)`` becomes
    ``v33 = truediv(v32, 64); v42 = mul(-0.5, v41)``: the same IEEE operation on the same dtype (NumPy's
    scalar ``+ - * /`` round as its ufunc loops do), about 0.1 us instead of 0.7 us. It runs after
    ``reuse_buffers``, which leaves 0-d results unbuffered (so they are NumPy scalars, as eager's are), and
    leaves alone what is written to a location (a 0-d step counter stays a 0-d array).
    """
    meta, written = program.meta, {ident for ident, _ in program.outputs}

    def zero_d(arg: Any) -> bool:
        return meta[arg.id][0] == () if isinstance(arg, Ref) else np.ndim(arg) == 0

    instrs = []
    for instr in program.instrs:
        op = _SCALAR_OPERATORS.get(instr.op) if isinstance(instr.op, np.ufunc) else None
        if (op is not None and _pure(instr) and not instr.kwargs and instr.out_buffer is None
                and len(instr.args) == 2 and instr.outs[0] not in written
                and meta[instr.outs[0]][0] == () and meta[instr.outs[0]][1].kind == "f"
                and all(map(zero_d, instr.args))):
            instr = Instr(instr.outs, op, instr.args)
        instrs.append(instr)
    return replace(program, instrs=instrs)


# ---- buffer reuse ----------------------------------------------------------------------------------------


class Recycled:
    """The array an escaping value is written into: one of two, used on alternate replays.

    Calling it gives the array of the other turn, the one handed out two replays ago, unless something
    besides this object still holds it (a ``.grad`` Tensor or a result the user kept): then a new array
    takes its place, so what the user kept never changes. (The array of the previous replay is still held
    by its location until this replay writes the new one; that is why there are two.)
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.__name__ = "recycled"
        self.shape, self.dtype, self.turn = shape, dtype, 0
        self.arrays = [np.empty(shape, dtype), np.empty(shape, dtype)]

    def __call__(self) -> np.ndarray:
        self.turn ^= 1
        array = self.arrays[self.turn]
        if sys.getrefcount(array) > 3:  # the list, `array` and getrefcount's argument: anyone else holds it
            array = self.arrays[self.turn] = np.empty(self.shape, self.dtype)
        return array


def _roots(program: Program) -> dict[int, frozenset[int]]:
    """For each value, the values whose memory it may share: itself for a new array, else its array arguments'."""
    roots = {ident: frozenset((ident,)) for ident, _ in program.inputs}
    roots.update({ident: frozenset((ident,)) for ident in program.args})
    for instr in program.instrs:
        if _fresh(instr):
            roots.update({out: frozenset((out,)) for out in instr.outs})
        else:
            shared = frozenset().union(*(roots.get(ref.id, ()) for ref in instr.refs()))
            roots.update({out: shared for out in instr.outs})
    return roots


def _last_uses(program: Program, roots: dict[int, frozenset[int]]) -> dict[int, int]:
    """For each memory root, the index of the last instruction that reads it or a view of it."""
    last: dict[int, int] = {}
    for index, instr in enumerate(program.instrs):
        for ref in instr.refs():
            for root in roots.get(ref.id, ()):
                last[root] = index
    return last


def _only_alias(instr: Instr, operand: int, roots: dict[int, frozenset[int]]) -> bool:
    """Whether no argument of ``instr`` other than ``operand`` itself shares ``operand``'s memory."""
    return all(ref.id == operand or operand not in roots.get(ref.id, ()) for ref in instr.refs())


def _holds_writable_array(binding: Any) -> bool:
    """Whether the location holds a writable array now (not a Python number, which ``out=`` cannot fill)."""
    try:
        value = binding.read()
    except (AttributeError, KeyError, TypeError):
        return False
    return isinstance(value, np.ndarray) and value.flags.writeable


def _update_chains(program: Program, roots: dict[int, frozenset[int]], last: dict[int, int],
                   pinned: frozenset[int]) -> dict[int, int]:
    """Instruction index -> the value whose array it overwrites, for the in-place updates of locations.

    For a binding that is both read (value u) and written (value v), the elementwise calls leading from u
    to v (``v1 = multiply(u, beta); v = add(v1, t)``) each write into the array of the operand on the chain,
    when that operand (and every view of it) is read for the last time there, and shapes and dtypes agree.
    """
    position = {out: index for index, instr in enumerate(program.instrs) for out in instr.outs}
    meta = program.meta
    plan: dict[int, int] = {}
    for u, binding in program.inputs:
        v = next((ident for ident, b in program.outputs if b is binding or b == binding), None)
        if v is None or v == u or u in pinned or meta.get(u) != meta.get(v) or not _holds_writable_array(binding):
            continue
        steps: list[tuple[int, int]] = []  # (instruction index, the operand it overwrites), from v back to u
        value = v
        while value != u and value in position and len(steps) < 16:
            index = position[value]
            instr = program.instrs[index]
            if not _elementwise(instr.op) or instr.kwargs or meta.get(value) != meta[u]:
                break
            candidates = [r.id for r in instr.refs() if r.id == u or (meta.get(r.id) == meta[u] and r.id in position)]
            operand = u if u in candidates else next((c for c in candidates if c not in pinned), None)
            if operand is None or last.get(operand) != index or not _only_alias(instr, operand, roots):
                break
            steps.append((index, operand))
            value = operand
        if value == u and steps:
            plan.update(steps)
    return plan


def reuse_buffers(program: Program) -> Program:
    """Write results with ``out=`` into arrays allocated once, so a replay in steady state allocates nothing.

    Every single-result call that takes ``out=`` (ufuncs, matmul, reductions, ``np.dot``) whose result is
    a temporary gets ``out_buffer = k``: buffer k of ``program.buffers`` (a shape and dtype, allocated once
    by the code generator) is one no live value still needs. A value stays live until the last read of it
    or of any view of it; an elementwise call may write into its operand's buffer when that operand dies
    there. Example: ``v5 = exp(v4); v6 = multiply(v5, v3); v7 = add(v6, v2)`` (v5, v6 temporaries) becomes
    ``v5 = exp(v4, out=buf[0]); v6 = multiply(v5, v3, out=buf[0]); v7 = add(v6, v2, out=buf[0])``.

    Escaping values are handled as the module docstring says: in place into the location's own array
    (``out=`` that input, given as a keyword Ref) or into a :class:`Recycled` pair (a call of it, an effect
    instruction, defines the array given as ``out=``). Values sharing memory with an escaping value get no
    temporary buffer.
    """
    roots = _roots(program)
    last = _last_uses(program, roots)
    escaping = _escaping(program)
    pinned = frozenset().union(*(roots.get(ident, ()) for ident in escaping))
    in_place = _update_chains(program, roots, last, pinned)
    meta = dict(program.meta)
    next_id = max([*meta, *(o for i in program.instrs for o in i.outs), *program.args, 0]) + 1
    buffers = list(program.buffers)
    free: dict[tuple[tuple[int, ...], str], list[int]] = {}
    holder: dict[int, int] = {}  # value -> the buffer it lives in
    instrs: list[Instr] = []

    def release(value: int) -> None:
        if value in holder:
            shape, dtype = buffers[holder[value]]
            free.setdefault((shape, np.dtype(dtype).str), []).append(holder.pop(value))

    for index, instr in enumerate(program.instrs):
        out = instr.outs[0] if len(instr.outs) == 1 else None
        shape, dtype = meta.get(out, ((), None))
        usable = (out is not None and dtype is not None and np.dtype(dtype) != object and shape != ()
                  and _takes_out(instr))  # a 0-d result stays a NumPy scalar (see scalar_arithmetic)
        if index in in_place:
            instr = _with_out(instr, Ref(in_place[index]))
        elif usable and out in pinned and roots[out] == {out}:
            cell, next_id = next_id, next_id + 1
            meta[cell] = (shape, np.dtype(dtype))
            instrs.append(Instr((cell,), Recycled(shape, np.dtype(dtype)), (), effect=True))
            instr = _with_out(instr, Ref(cell))
        elif usable and out not in pinned:
            operand = next((r.id for r in instr.refs() if r.id in holder and last.get(r.id) == index
                            and roots[r.id] == {r.id} and meta.get(r.id) == meta[out]
                            and _only_alias(instr, r.id, roots)), None) if _elementwise(instr.op) else None
            pool = free.get((shape, np.dtype(dtype).str))
            if operand is not None:
                k = holder.pop(operand)
            elif pool:
                k = pool.pop()
            else:
                k = len(buffers)
                buffers.append((shape, np.dtype(dtype)))
            holder[out] = k
            instr = replace(_with_out(instr, None), out_buffer=k)
        instrs.append(instr)
        for ref in {r.id for r in instr.refs()} | set(instr.outs):
            for root in roots.get(ref, ()):
                if last.get(root, -1) <= index:
                    release(root)
    return replace(program, instrs=instrs, meta=meta, buffers=buffers)


# ---- the pipeline ----------------------------------------------------------------------------------------


def optimize(program: Program) -> Program:
    """All passes in order: folding, simplification, CSE and dead-code elimination until a round changes no
    call (at most 4 rounds: each can expose work for the others), then buffer reuse and scalar arithmetic."""
    for _ in range(4):
        before = len(program.instrs), [instr.op for instr in program.instrs]
        program = eliminate_dead_code(eliminate_common_subexpressions(simplify(fold_constants(program))))
        if (len(program.instrs), [instr.op for instr in program.instrs]) == before:
            break
    return scalar_arithmetic(reuse_buffers(program))
