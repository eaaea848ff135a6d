"""Draw a tensor's computation graph: Graphviz DOT text, or a PNG through matplotlib.

The graph is what the engine records: one box per op (its name and output
shape) and one per leaf (its name and shape), with arrows in the direction
data flows, from each input to the op that uses it. Leaves that require grad
(parameters, inputs being differentiated) are blue, constants grey, ops
yellow. When an op has several inputs, each arrow is labelled with the
argument position, since ``a - b`` is not ``b - a``.

``to_dot`` needs nothing but the standard library: paste its text into any
Graphviz viewer or run ``dot -Tpng``. ``render_png`` lays small graphs out
itself and draws them with matplotlib (the ``plot`` extra).

Values and gradients: with ``show_values=True`` each box also shows the
tensor's value; with ``show_grads=True`` its gradient. After ``backward()``
only leaves keep ``.grad``; to see the gradient of every intermediate node,
run the backward pass inside ``trace_backward()`` and pass the trace.
The trace also remembers the graph's structure, which backward otherwise
releases (without a trace, draw before backward or use ``retain_graph=True``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.instruments.trace import node_names, trace_backward

Edge = tuple[Tensor, Tensor, int]  # (input, op result, argument position)

_LEAF_COLOUR, _CONST_COLOUR, _OP_COLOUR = "#cfe2f3", "#e6e6e6", "#fff2cc"


def _inputs_of(t: Tensor, trace: trace_backward | None) -> tuple[Tensor, ...]:
    """The inputs of the op that made ``t``: from the graph, or from the trace once backward released it."""
    fn = t._ctx
    if fn is None:
        return ()
    if fn.inputs is not None:
        return fn.inputs
    if trace is not None:
        for step in trace.steps:
            if step.tensor is t:
                return step.inputs
    raise RuntimeError(
        f"collect_graph: the graph below this {type(fn).__name__} node was released by backward(); draw it before "
        f"backward, call backward(retain_graph=True), or run backward inside trace_backward() and pass trace="
    )


def collect_graph(root: Tensor, trace: trace_backward | None = None) -> tuple[list[Tensor], list[Edge]]:
    """Every tensor ``root`` was computed from, inputs before outputs, and the edges between them.

    Unlike the engine's ``topological_order`` this keeps constants (tensors
    that do not require grad), so the picture shows every input of every op.
    Edges are listed in data-flow order: by the op they enter, then by
    argument position.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:  # iterative depth-first post-order: no recursion limit
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        stack.extend((p, False) for p in reversed(_inputs_of(t, trace)) if id(p) not in seen)
    edges = [(p, t, i) for t in order for i, p in enumerate(_inputs_of(t, trace))]
    return order, edges


def _shape_text(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else str(shape)


def _array_text(label: str, array: np.ndarray) -> str:
    """Small arrays in full (3 significant digits), larger ones as their norm."""
    if array.size <= 4:
        values = ", ".join(f"{v:.3g}" for v in np.ravel(array))
        return f"{label} {values}" if array.ndim == 0 else f"{label} [{values}]"
    return f"{label} |.|={np.linalg.norm(np.ravel(array).astype(np.float64)):.3g}"


def _node_label(t: Tensor, name: str, show_values: bool, show_grads: bool, trace: trace_backward | None) -> str:
    if t._ctx is None:
        # A constant number (such as the 2 of ``x * 2``) is easier to read by its value.
        title = f"{name} = {t.data.item():.4g}" if t.numel() == 1 and not t.requires_grad else name
    else:
        op = type(t._ctx).__name__
        title = f"{t.name} = {op}" if t.name else op
    lines = [title, _shape_text(t.shape)]
    if show_values:
        lines.append(_array_text("value", t.data))
    if show_grads:
        grad = trace.grad_of(t) if trace is not None else None
        if grad is None and t.grad is not None:
            grad = t.grad.data
        if grad is not None:
            lines.append(_array_text("grad", grad))
    return "\n".join(lines)


def _colour(t: Tensor) -> str:
    if t._ctx is not None:
        return _OP_COLOUR
    return _LEAF_COLOUR if t.requires_grad else _CONST_COLOUR


def _prepare(
    root: Tensor, show_values: bool, show_grads: bool, trace: trace_backward | None
) -> tuple[list[Tensor], list[Edge], dict[int, str]]:
    """The nodes, the edges and each node's label text."""
    if not isinstance(root, Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(root).__name__}")
    nodes, edges = collect_graph(root, trace)
    names = node_names(nodes)
    labels = {id(t): _node_label(t, names[id(t)], show_values, show_grads, trace) for t in nodes}
    return nodes, edges, labels


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(
    root: Tensor, show_values: bool = False, show_grads: bool = False, trace: trace_backward | None = None
) -> str:
    """The computation graph of ``root`` as Graphviz DOT text (data flows top to bottom)."""
    nodes, edges, labels = _prepare(root, show_values, show_grads, trace)
    ids = {id(t): f"n{i}" for i, t in enumerate(nodes)}
    lines = [
        "digraph computation {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for t in nodes:
        extra = ', style="rounded,filled,dashed"' if t._ctx is None and not t.requires_grad else ""
        lines.append(f'  {ids[id(t)]} [label={_dot_quote(labels[id(t)])}, fillcolor="{_colour(t)}"{extra}];')
    n_inputs = _input_counts(edges)
    for parent, child, position in edges:
        label = f" [label={position}]" if n_inputs[id(child)] > 1 else ""
        lines.append(f"  {ids[id(parent)]} -> {ids[id(child)]}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _input_counts(edges: Sequence[Edge]) -> Counter[int]:
    """How many inputs each op has (by id): edges of an op with several are labelled with their position."""
    return Counter(id(child) for _, child, _ in edges)


_WAYPOINT_WIDTH = 0.2  # inches a bend of a long edge takes in its row
_GAP = 0.25  # inches between neighbours in a row


def _layout(
    nodes: Sequence[Tensor], edges: Sequence[Edge], widths: dict[int, float]
) -> tuple[dict[int, tuple[float, int]], list[list[int]]]:
    """A layered layout: each key's (x in inches, row), and each edge as the chain of keys it passes through.

    Rows: an op sits one row below its deepest input and a leaf just above its
    first user. An edge that spans several rows passes a waypoint in each row
    between (a key < 0), so it bends around the boxes instead of crossing them.
    Order within rows: alternate downward and upward sweeps sort each row by
    the mean position of its neighbours in the row just swept (the barycenter
    heuristic), which removes most crossings in small graphs. Coordinates:
    each key is pulled towards the mean x of its neighbours, then the row is
    pushed apart so boxes (``widths``, by id) do not overlap.
    """
    inputs: dict[int, list[Tensor]] = {}
    users: dict[int, list[Tensor]] = {}
    for parent, child, _ in edges:
        inputs.setdefault(id(child), []).append(parent)
        users.setdefault(id(parent), []).append(child)
    depth: dict[int, int] = {}
    for t in nodes:  # inputs come first, so their depths are known
        if t._ctx is not None:
            depth[id(t)] = 1 + max((depth[id(p)] for p in inputs.get(id(t), []) if p._ctx is not None), default=0)
    for t in nodes:
        if t._ctx is None:
            depth[id(t)] = min((depth[id(u)] for u in users.get(id(t), [])), default=1) - 1
    rows: list[list[int]] = [[] for _ in range(max(depth.values()) + 1)]
    for t in nodes:
        rows[depth[id(t)]].append(id(t))
    chains = []
    for parent, child, _ in edges:
        chain = [id(parent)]
        for r in range(depth[id(parent)] + 1, depth[id(child)]):
            waypoint = -1 - sum(len(row) for row in rows)  # unique, negative
            rows[r].append(waypoint)
            chain.append(waypoint)
        chains.append(chain + [id(child)])
    above: dict[int, list[int]] = {key: [] for row in rows for key in row}
    below: dict[int, list[int]] = {key: [] for row in rows for key in row}
    for chain in chains:
        for a, b in pairwise(chain):
            below[a].append(b)
            above[b].append(a)

    def sort_by(row: list[int], neighbours: dict[int, list[int]], position: dict[int, float]) -> None:
        row.sort(key=lambda k: float(np.mean([position[n] for n in neighbours[k]])) if neighbours[k] else position[k])
        position.update((k, float(i)) for i, k in enumerate(row))

    position = {key: float(i) for row in rows for i, key in enumerate(row)}
    for _ in range(6):
        for row in rows[1:]:
            sort_by(row, above, position)
        for row in reversed(rows[:-1]):
            sort_by(row, below, position)

    def width(key: int) -> float:
        return widths.get(key, _WAYPOINT_WIDTH)

    x: dict[int, float] = {}
    for row in rows:  # packed left to right, centred on 0
        left = -(sum(width(k) + _GAP for k in row) - _GAP) / 2
        for k in row:
            x[k] = left + width(k) / 2
            left += width(k) + _GAP
    for sweep in range(80):  # enough for the bends of a long edge to settle on a straight line
        for row in rows if sweep % 2 == 0 else reversed(rows):
            wanted = [sum(x[n] for n in above[k] + below[k]) / len(above[k] + below[k]) if above[k] + below[k]
                      else x[k] for k in row]
            gaps = [(width(a) + width(b)) / 2 + _GAP for a, b in pairwise(row)]
            x.update(zip(row, _closest_spaced(wanted, gaps)))
    return {k: (x[k], r) for r, row in enumerate(rows) for k in row}, chains


def _closest_spaced(wanted: Sequence[float], gaps: Sequence[float]) -> list[float]:
    """The x_1 <= ... <= x_n nearest ``wanted`` (least squares) with x_{i+1} - x_i >= gaps[i].

    With offsets c_i = gaps[0] + ... + gaps[i-1] and y_i = x_i - c_i the
    constraints say y is non-decreasing, so y is the isotonic regression of
    wanted_i - c_i, found by pooling adjacent violators: blocks whose means
    are out of order are merged into one block at their common mean.
    """
    offsets = np.concatenate([[0.0], np.cumsum(gaps)])
    blocks: list[list[float]] = []  # [sum, count] of each block of y
    for value in np.asarray(wanted, dtype=float) - offsets:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    y = [total / count for total, count in blocks for _ in range(int(count))]
    return [float(v) for v in np.asarray(y) + offsets]


def render_png(
    root: Tensor,
    path: str | Path,
    show_values: bool = False,
    show_grads: bool = False,
    trace: trace_backward | None = None,
    max_nodes: int = 60,
    dpi: int = 120,
) -> Path:
    """Draw the computation graph of ``root`` into a PNG file and return its path.

    For small graphs (at most ``max_nodes`` boxes): the layout is a simple
    layered one; for big graphs use ``to_dot`` and Graphviz. Needs matplotlib
    (``pip install 'tinygrad_vae[plot]'``); it draws on its own Agg canvas and
    does not touch pyplot's global state.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "render_png needs matplotlib, the 'plot' extra: pip install 'tinygrad_vae[plot]'"
        ) from error
    nodes, edges, labels = _prepare(root, show_values, show_grads, trace)
    if len(nodes) > max_nodes:
        raise ValueError(
            f"render_png: the graph has {len(nodes)} nodes, more than max_nodes={max_nodes}; "
            f"draw a smaller piece, raise max_nodes, or use to_dot and Graphviz"
        )
    # Box sizes in inches, estimated from the text: about 0.075 in per character at 9 points.
    widths = {id(t): 0.075 * max(len(line) for line in labels[id(t)].split("\n")) + 0.3 for t in nodes}
    places, chains = _layout(nodes, edges, widths)
    lines_per_box = max(label.count("\n") + 1 for label in labels.values())
    row_h = 0.2 * lines_per_box + 0.6
    xs = [x for x, _ in places.values()]
    left, right = min(xs) - max(widths.values()) / 2 - 0.2, max(xs) + max(widths.values()) / 2 + 0.2
    n_rows = 1 + max(r for _, r in places.values())
    width, height = right - left, n_rows * row_h
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(-height + row_h / 2, row_h / 2)
    ax.axis("off")
    centres = {key: (x, -r * row_h) for key, (x, r) in places.items()}
    boxes = {
        id(t): ax.text(
            *centres[id(t)], labels[id(t)], ha="center", va="center", fontsize=9, family="DejaVu Sans", zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "fc": _colour(t), "ec": "#444444",
                  "ls": "--" if t._ctx is None and not t.requires_grad else "-"},
        )
        for t in nodes
    }
    n_inputs = _input_counts(edges)
    # An op that reads one tensor twice (x * x) gets its arrows bent apart, so both stay visible.
    repeats = Counter((id(p), id(c)) for p, c, _ in edges)
    drawn: Counter[tuple[int, int]] = Counter()
    for (parent, child, position), chain in zip(edges, chains):
        pair = (id(parent), id(child))
        bend = 0.3 * (drawn[pair] - (repeats[pair] - 1) / 2) if len(chain) == 2 else 0.0
        drawn[pair] += 1
        # Leave the parent's box at its bottom, pass the waypoints, enter the child's box at its top;
        # segments are pulled back 6 points from a box's border, not from a waypoint.
        ends = [((0.5, 0.0), boxes[id(parent)], 6)] + [(centres[w], "data", 0) for w in chain[1:-1]]
        ends.append(((0.5, 1.0), boxes[id(child)], 6))
        for (xy0, coords0, shrink0), (xy1, coords1, shrink1) in pairwise(ends):
            ax.annotate("", xy=xy1, xycoords=coords1, xytext=xy0, textcoords=coords0, zorder=2,
                        arrowprops={"arrowstyle": "-|>" if coords1 != "data" else "-", "color": "#555555",
                                    "lw": 1.0, "shrinkA": shrink0, "shrinkB": shrink1,
                                    "connectionstyle": f"arc3,rad={bend}"})
        if n_inputs[id(child)] > 1:  # argument position, 60% of the way along the last segment
            (x0, y0), (x1, y1) = centres[chain[-2]], centres[id(child)]
            # arc3 bends a segment towards bend * (dy, -dx); at 60% the curve is 0.48 of that away.
            x = x0 + 0.6 * (x1 - x0) + 0.48 * bend * (y1 - y0) + 0.12
            y = y0 + 0.6 * (y1 - y0) - 0.48 * bend * (x1 - x0)
            ax.text(x, y, str(position), fontsize=7, color="#aa3300", ha="center", va="center", zorder=4,
                    bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "ec": "none"})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
