"""Hypothesis strategies for checking gradients: the ones this project's own tests use.

Property-based testing draws many random inputs and checks a property on each;
when one fails, Hypothesis shrinks it to a small counterexample. For a gradient
rule the property is "the analytical gradient agrees with central finite
differences" (``gradcheck``), and the art is in drawing inputs where that is
true: finite differences are only accurate where the function is smooth, so
the strategies here keep values away from kinks (relu and abs at 0, clip at
its bounds), poles (log, sqrt and 1/x at 0) and ties (max, min) *by
construction*, rather than by filtering, which would throw most draws away.

Checking your own op::

    from hypothesis import given
    from tinygrad_vae import Function, gradcheck, gradgradcheck
    from tinygrad_vae.testing import arrays, shapes

    class Cube(Function):  # your op: forward on arrays, backward with operators
        def forward(self, a):
            return a**3
        def backward(self, grad, out, x):  # Tensors or arrays (see Function)
            return (grad * x * x * 3.0,)

    @given(arrays(shapes(max_dims=2)))   # float64, values in [-3, 3]
    def test_cube(x):
        gradcheck(Cube.apply, [x])       # first derivatives
        gradgradcheck(Cube.apply, [x])   # the rule is itself differentiable

For an op with a kink or a pole, draw from ``away_from_zero``, ``away_from``,
``positive_arrays`` or ``distinct_arrays`` instead. Whole random programs
come from ``expression_graphs()``::

    from tinygrad_vae.testing import expression_graphs

    @given(expression_graphs())
    def test_engine(graph):
        gradcheck(graph, graph.inputs)

All arrays are float64, since finite differences need it. Hypothesis is an
optional dependency: ``pip install 'tinygrad_vae[test]'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # only this module needs Hypothesis; the engine does not
    raise ImportError(
        "tinygrad_vae.testing's strategies need Hypothesis, which is part of the 'test' extra: "
        "pip install 'tinygrad_vae[test]'"
    ) from error

from tinygrad_vae.core.tensor import Tensor

__all__ = [
    "ExpressionGraph", "arrays", "away_from", "away_from_zero", "broadcastable_shapes", "distinct_arrays",
    "expression_graphs", "positive_arrays", "shapes",
]

Shape = tuple[int, ...]
ShapeLike = Shape | st.SearchStrategy


# --------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of length ``min_side..max_side`` (0 axes: a scalar)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(
    draw: Callable,
    n: int = 2,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
) -> tuple[Shape, ...]:
    """``n`` shapes that broadcast together, NumPy style.

    A result shape is drawn first; each operand then keeps a trailing part of
    it, at least ``min_dims`` long (so leading axes may be missing), with some axes shrunk to length 1
    (so they get stretched). ``np.broadcast_shapes(*result)`` is the result
    shape, up to the axes that every operand shrank to 1.
    """
    full = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side))
    operands = []
    for _ in range(n):
        kept = draw(st.integers(min_dims, len(full)))
        tail = full[len(full) - kept:]
        ones = draw(st.lists(st.booleans(), min_size=kept, max_size=kept))
        operands.append(tuple(1 if one else side for side, one in zip(tail, ones)))
    return tuple(operands)


# --------------------------------------------------------------------------
# arrays with values kept where finite differences are accurate
# --------------------------------------------------------------------------


def _shape_strategy(shape: ShapeLike) -> st.SearchStrategy[Shape]:
    return shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))


def arrays(shape: ShapeLike, low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` (a tuple or a strategy of tuples) with values in [low, high]."""
    if not low <= high:
        raise ValueError(f"arrays: need low <= high, got low={low}, high={high}")
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, _shape_strategy(shape), elements=elements)


def away_from(
    shape: ShapeLike, points: Sequence[float], margin: float = 0.1, low: float = -3.0, high: float = 3.0
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [low, high] whose values all lie at least ``margin`` from each of ``points``.

    For ops with kinks at known places: ``away_from(s, [0.0])`` for relu and
    abs, ``away_from(s, [lo, hi])`` for ``clip(lo, hi)``.

    By construction, not by rejection: a value u is drawn from an interval
    2·margin·len(points) shorter, then pushed up by 2·margin past each point
    it comes within margin of, in increasing order, which lands it outside
    every (p - margin, p + margin) and still inside [low, high].
    """
    cuts = sorted(float(p) for p in points)
    top = high - 2 * margin * len(cuts)
    if top < low:
        raise ValueError(f"away_from: [{low}, {high}] is too narrow to keep {margin} from {len(cuts)} points")

    def push(u: np.ndarray) -> np.ndarray:
        x = u.copy()
        for p in cuts:
            x = np.where(x > p - margin, x + 2 * margin, x)
        return x

    return arrays(shape, low, top).map(push)


def away_from_zero(
    shape: ShapeLike, margin: float = 0.1, high: float = 3.0
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with margin <= |x| <= high: for relu, abs, leaky_relu and divisors."""
    return away_from(shape, [0.0], margin=margin, low=-high, high=high)


def positive_arrays(shape: ShapeLike, low: float = 0.1, high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays in [low, high] with low > 0: for log, sqrt, fractional powers and division."""
    if not low > 0:
        raise ValueError(f"positive_arrays: low must be > 0, got {low}")
    return arrays(shape, low, high)


@st.composite
def distinct_arrays(
    draw: Callable, shape: ShapeLike, margin: float = 0.01, low: float = -3.0, high: float = 3.0
) -> np.ndarray:
    """float64 arrays in [low, high] whose elements are pairwise at least ``margin`` apart.

    For max/min (reductions and elementwise): with no ties the maximum stays
    the same element under a finite-difference step, so the gradient is a
    clean 0/1 mask. Construction: [low, high] is cut into slots of width
    2·margin; distinct slots are drawn, and each value is placed in the lower
    half of its slot, so neighbours are at least margin apart.
    """
    shape = draw(_shape_strategy(shape))
    size = math.prod(shape)
    slots = int((high - low) // (2 * margin))
    if size > slots:
        raise ValueError(
            f"distinct_arrays: {size} values {margin} apart do not fit in [{low}, {high}]; widen the range"
        )
    chosen = draw(st.lists(st.integers(0, slots - 1), min_size=size, max_size=size, unique=True))
    jitter = draw(arrays((size,), 0.0, margin))
    values = low + 2 * margin * np.asarray(chosen, dtype=np.float64) + jitter
    return values.reshape(shape)


# --------------------------------------------------------------------------
# random expression graphs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _GraphOp:
    """One op an expression graph may use.

    ``bound(side, *operand_bounds)`` maps bounds on the operands' absolute
    values (and the longest axis, for reductions) to a bound on the result's,
    so a graph can refuse ops that would let its values grow past the range
    where float64 finite differences are accurate.
    """

    name: str
    arity: int
    apply: Callable[..., Tensor]
    numpy: Callable[..., np.ndarray]
    bound: Callable[..., float]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logsumexp_last(x: np.ndarray) -> np.ndarray:
    shift = np.max(x, axis=-1, keepdims=True)
    return np.log(np.sum(np.exp(x - shift), axis=-1, keepdims=True)) + shift


# Smooth everywhere, so any values drawn are valid; the reductions act on the
# last axis with keepdims, so their results broadcast against every other node.
_GRAPH_OPS: tuple[_GraphOp, ...] = (
    _GraphOp("add", 2, lambda a, b: a + b, lambda a, b: a + b, lambda n, a, b: a + b),
    _GraphOp("sub", 2, lambda a, b: a - b, lambda a, b: a - b, lambda n, a, b: a + b),
    _GraphOp("mul", 2, lambda a, b: a * b, lambda a, b: a * b, lambda n, a, b: a * b),
    _GraphOp("div", 2, lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0), lambda n, a, b: a),
    _GraphOp("tanh", 1, lambda a: a.tanh(), np.tanh, lambda n, a: 1.0),
    _GraphOp("sigmoid", 1, lambda a: a.sigmoid(), _sigmoid, lambda n, a: 1.0),
    _GraphOp("softplus", 1, lambda a: a.softplus(), lambda a: np.logaddexp(0.0, a), lambda n, a: a + 1.0),
    _GraphOp("exp", 1, lambda a: a.exp(), np.exp, lambda n, a: math.exp(a)),
    _GraphOp("square", 1, lambda a: a**2, np.square, lambda n, a: a * a),
    _GraphOp("log1p_square", 1, lambda a: (a * a + 1.0).log(), lambda a: np.log1p(a * a),
             lambda n, a: math.log1p(a * a)),
    _GraphOp("sqrt1p_square", 1, lambda a: (a * a + 1.0).sqrt(), lambda a: np.sqrt(a * a + 1.0),
             lambda n, a: math.sqrt(a * a + 1.0)),
    _GraphOp("sum_last", 1, lambda a: a.sum(axis=-1, keepdims=True),
             lambda a: np.sum(a, axis=-1, keepdims=True), lambda n, a: n * a),
    _GraphOp("logsumexp_last", 1, lambda a: a.logsumexp(axis=-1, keepdims=True), _logsumexp_last,
             lambda n, a: a + math.log(n)),
    _GraphOp("softmax_last", 1, lambda a: a.softmax(axis=-1), lambda a: np.exp(a - _logsumexp_last(a)),
             lambda n, a: 1.0),
)
_GRAPH_OPS_BY_NAME = {op.name: op for op in _GRAPH_OPS}


@dataclass(frozen=True)
class ExpressionGraph:
    """A random program: inputs, then steps that each read earlier nodes.

    Nodes are numbered inputs first; step k creates node ``len(inputs) + k``
    from ``steps[k] = (op name, operand node numbers)``. A node may be read by
    several later steps (fan-out) and a step may read one node twice
    (``mul`` of node 2 with itself), so gradients must add up along every
    path. The output is the sum of the sinks, the nodes nobody reads.

    Call it on Tensors (``graph(*tensors)``) to run it with the engine, or use
    ``graph.numpy(*arrays)`` for a plain NumPy evaluation of the same program.
    """

    inputs: tuple[np.ndarray, ...]
    steps: tuple[tuple[str, tuple[int, ...]], ...]

    def _run(self, values: list[Any], use_numpy: bool) -> Any:
        values = list(values)
        read: set[int] = set()
        for name, operands in self.steps:
            op = _GRAPH_OPS_BY_NAME[name]
            fn = op.numpy if use_numpy else op.apply
            values.append(fn(*(values[i] for i in operands)))
            read.update(operands)
        sinks = [v for i, v in enumerate(values) if i not in read]
        total = sinks[0]
        for v in sinks[1:]:
            total = total + v
        return total

    def __call__(self, *tensors: Tensor) -> Tensor:
        return self._run(list(tensors), use_numpy=False)

    def numpy(self, *arrays: np.ndarray) -> np.ndarray:
        return self._run(list(arrays), use_numpy=True)

    def __str__(self) -> str:
        n = len(self.inputs)
        lines = [f"x{i}: shape {x.shape}" for i, x in enumerate(self.inputs)]
        lines += [f"x{n + k} = {name}({', '.join(f'x{i}' for i in operands)})"
                  for k, (name, operands) in enumerate(self.steps)]
        return "\n".join(lines)


@st.composite
def expression_graphs(
    draw: Callable,
    max_inputs: int = 3,
    max_steps: int = 8,
    max_dims: int = 2,
    max_side: int = 3,
    max_value: float = 50.0,
) -> ExpressionGraph:
    """Random DAGs of smooth ops with reused sub-expressions and fan-out, with their inputs.

    The inputs have shapes that broadcast together, and the binary ops
    broadcast, so unbroadcasting is exercised too. Each step picks its
    operands among all earlier nodes, so nodes feed several later ones. A
    bound on every node's absolute value is tracked, and ops that would take
    it past ``max_value`` are not offered, which keeps finite differences
    accurate at the default tolerances.
    """
    input_bound = 1.5
    input_shapes = draw(broadcastable_shapes(n=draw(st.integers(1, max_inputs)), min_dims=1,
                                             max_dims=max_dims, max_side=max_side))
    inputs = tuple(draw(arrays(s, -input_bound, input_bound)) for s in input_shapes)
    bounds = [input_bound] * len(inputs)
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        # Mostly read recent nodes (a deep graph), sometimes any earlier one (fan-out, reuse).
        pick = st.one_of(st.integers(max(0, len(bounds) - 2), len(bounds) - 1), st.integers(0, len(bounds) - 1))
        operands = (draw(pick), draw(pick))
        allowed = [op for op in _GRAPH_OPS
                   if op.bound(max_side, *(bounds[i] for i in operands[:op.arity])) <= max_value]
        op = draw(st.sampled_from(allowed))  # never empty: tanh and sigmoid are always allowed
        used = operands[:op.arity]
        steps.append((op.name, used))
        bounds.append(op.bound(max_side, *(bounds[i] for i in used)))
    return ExpressionGraph(inputs=inputs, steps=tuple(steps))
