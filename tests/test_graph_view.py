"""The graph view: DOT text (structure, labels, order) and the matplotlib PNG."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae import Tensor
from tinygrad_vae.instruments.graph import collect_graph, render_png, to_dot
from tinygrad_vae.instruments.trace import trace_backward


def expression() -> tuple[Tensor, Tensor, Tensor]:
    """loss = (sum(exp(x * w) * x) - 2)^2 with named leaves x (2,) and w (2,)."""
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    w = Tensor(np.array([1.5, 0.25]), requires_grad=True, name="w")
    loss = ((((x * w).exp()) * x).sum() - 2.0) ** 2
    return x, w, loss


def parse_dot(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """Node id -> label (newlines restored) and the edges (from, to, label) in the order written."""
    nodes = {m[1]: m[2].replace("\\n", "\n") for m in re.finditer(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.MULTILINE)}
    edges = [(m[1], m[2], m[3]) for m in re.finditer(r"^  (n\d+) -> (n\d+)(?: \[label=(\d+)\])?;", dot, re.MULTILINE)]
    return nodes, edges


def test_dot_has_one_box_per_op_and_leaf_and_edges_in_data_flow_order() -> None:
    _, _, loss = expression()
    dot = to_dot(loss)
    assert dot.startswith("digraph computation {\n") and dot.endswith("}\n")
    nodes, edges = parse_dot(dot)
    labels = [nodes[f"n{i}"] for i in range(len(nodes))]
    assert labels == [
        "x\n(2,)", "w\n(2,)", "Mul\n(2,)", "Exp\n(2,)", "Mul\n(2,)", "Sum\nscalar", "const0 = 2\nscalar",
        "Sub\nscalar", "PowScalar\nscalar",
    ]
    assert edges == [
        ("n0", "n2", "0"), ("n1", "n2", "1"), ("n2", "n3", None), ("n3", "n4", "0"), ("n0", "n4", "1"),
        ("n4", "n5", None), ("n5", "n7", "0"), ("n6", "n7", "1"), ("n7", "n8", None),
    ]
    # Every edge goes from an earlier node to a later one: data-flow order.
    assert all(int(a[1:]) < int(b[1:]) for a, b, _ in edges)


def test_dot_colours_parameters_constants_and_ops_apart() -> None:
    _, _, loss = expression()
    lines = to_dot(loss).splitlines()
    assert 'fillcolor="#cfe2f3"' in lines[3] and "dashed" not in lines[3]  # x: a leaf that requires grad
    const_line = next(line for line in lines if "const0" in line)
    assert 'fillcolor="#e6e6e6"' in const_line and "dashed" in const_line
    assert 'fillcolor="#fff2cc"' in next(line for line in lines if "Exp" in line)


def test_dot_shows_values_and_gradients_of_intermediate_nodes_from_a_trace() -> None:
    x, w, loss = expression()
    with trace_backward() as trace:
        loss.backward()
    nodes, _ = parse_dot(to_dot(loss, show_values=True, show_grads=True, trace=trace))
    e = np.exp(x.data * w.data)
    s = float(np.sum(e * x.data))
    by_title = {label.split("\n")[0]: label for label in nodes.values()}
    assert by_title["Exp"].split("\n")[2] == "value [" + ", ".join(f"{v:.3g}" for v in e) + "]"
    # d loss / d exp(xw) = 2 (s - 2) x
    assert by_title["Exp"].split("\n")[3] == "grad [" + ", ".join(f"{v:.3g}" for v in 2 * (s - 2) * x.data) + "]"
    assert by_title["PowScalar"].split("\n")[2:] == [f"value {(s - 2) ** 2:.3g}", "grad 1"]
    dx = 2 * (s - 2) * e * (1 + x.data * w.data)
    assert by_title["x"].split("\n")[3] == "grad [" + ", ".join(f"{v:.3g}" for v in dx) + "]"


def test_dot_without_a_trace_shows_leaf_grad_only_and_summarises_big_arrays() -> None:
    a = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="a")
    out = (a * a).sum()
    out.backward(retain_graph=True)
    nodes, _ = parse_dot(to_dot(out, show_grads=True, show_values=True))
    assert nodes["n0"] == f"a\n(2, 3)\nvalue |.|={np.linalg.norm(np.arange(6.0)):.3g}\ngrad |.|={2 * np.linalg.norm(np.arange(6.0)):.3g}"
    assert nodes["n1"] == f"Mul\n(2, 3)\nvalue |.|={np.linalg.norm(np.arange(6.0) ** 2):.3g}"  # no .grad on an op


def test_dot_escapes_quotes_in_names() -> None:
    t = Tensor([1.0], requires_grad=True, name='say "hi"\\')
    assert r'label="say \"hi\"\\\n(1,)"' in to_dot(t * 2.0)


def test_released_graph_needs_a_trace_or_retain_graph() -> None:
    _, _, loss = expression()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"collect_graph: the graph below this PowScalar node was released by backward\(\)"):
        to_dot(loss)
    _, _, loss = expression()
    with trace_backward() as trace:
        loss.backward()
    nodes, edges = collect_graph(loss, trace)
    assert len(nodes) == 9 and len(edges) == 9


def test_collect_graph_keeps_constants_and_repeated_inputs() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    y = x * x + c
    nodes, edges = collect_graph(y)
    assert [type(n._ctx).__name__ if n._ctx else "leaf" for n in nodes] == ["leaf", "Mul", "leaf", "Add"]
    index = {id(n): i for i, n in enumerate(nodes)}  # by identity: == on Tensors is elementwise
    assert [(index[id(p)], index[id(ch)], i) for p, ch, i in edges] == [(0, 1, 0), (0, 1, 1), (1, 3, 0), (2, 3, 1)]


def test_viz_rejects_a_non_tensor() -> None:
    with pytest.raises(TypeError, match="viz: expected a Tensor, got ndarray"):
        to_dot(np.zeros(2))


# --------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------


def test_render_png_writes_a_picture_with_the_graphs_layers(tmp_path: Path) -> None:
    from matplotlib import image as plt_image  # the test extra installs matplotlib

    _, _, loss = expression()
    with trace_backward() as trace:
        loss.backward()
    path = render_png(loss, tmp_path / "sub" / "graph.png", show_values=True, show_grads=True, trace=trace)
    assert path == tmp_path / "sub" / "graph.png"
    image = plt_image.imread(path)
    height, width = image.shape[:2]
    assert height > width > 100  # 7 rows of boxes, at most 2 side by side
    # Yellow op boxes, blue leaves and the grey constant are all drawn.
    pixels = (image[..., :3].reshape(-1, 3) * 255).round().astype(int)
    for colour in [(0xFF, 0xF2, 0xCC), (0xCF, 0xE2, 0xF3), (0xE6, 0xE6, 0xE6)]:
        assert (np.abs(pixels - colour).max(axis=1) <= 1).sum() > 200


def test_render_png_refuses_big_graphs_and_names_the_way_out(tmp_path: Path) -> None:
    x = Tensor(np.ones(2), requires_grad=True)
    for _ in range(10):
        x = x * 1.5
    with pytest.raises(ValueError, match="render_png: the graph has 21 nodes, more than max_nodes=5; .* to_dot"):
        render_png(x, tmp_path / "big.png", max_nodes=5)


def test_render_png_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib..." fail
    with pytest.raises(ImportError, match=r"render_png needs matplotlib, the 'plot' extra: pip install 'tinygrad_vae\[plot\]'"):
        render_png(Tensor([1.0]), tmp_path / "g.png")


def test_importing_viz_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import sys, tinygrad_vae.instruments.graph, tinygrad_vae.instruments.trace; print('matplotlib' in sys.modules)"
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert result.stdout.strip() == "False"
