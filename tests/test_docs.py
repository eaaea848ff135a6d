"""Every ```python block in docs/ runs, in order, one namespace per page, so the docs cannot drift from the code.

A block's own ``assert`` statements are the checks. A ```text block right
after a line that says just "prints" must equal what the python block before
it printed. Code is compiled with the Markdown file as its file name and
padded so line numbers match the page: a failure's traceback points at the
line of the page.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["README.md", "engine.md", "studying.md", "checking-gradients.md", "vae.md", "compile.md"]
# The docs pages and the project's own README: all of their python blocks run.
RUNNABLE = [DOCS / page for page in PAGES] + [ROOT / "README.md"]
BLOCK = re.compile(r"^```(python|text)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(first line number, code, expected output or None) of each ```python block.

    The expected output is a ```text block that follows the python block with
    only a line "prints" between them.
    """
    found: list[tuple[int, str, str | None]] = []
    previous_end = 0
    for m in BLOCK.finditer(text):
        if m.group(1) == "python":
            found.append((text.count("\n", 0, m.start(2)) + 1, m.group(2), None))
        elif found and text[previous_end:m.start()].strip() == "prints":
            line, code, _ = found[-1]
            found[-1] = (line, code, m.group(2))
        previous_end = m.end()
    return found


def test_the_docs_are_the_pages_listed_and_the_index_links_them_all() -> None:
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted(PAGES)
    index = (DOCS / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"]({page})" in index, f"docs/README.md does not link {page}"


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_code_block_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = str(path.relative_to(ROOT))
    text = path.read_text()
    # Only ```python blocks run; code in another fence would go untested.
    fences = re.findall(r"^```(\S*)$", text, re.MULTILINE)
    assert set(fences) <= {"python", "", "text", "bash"}, f"{page}: unexpected code fences {set(fences)}"
    assert not re.search(r"^```(text|bash)\n[^`]*(import |assert )", text, re.MULTILINE), f"{page}: Python outside a python block"
    code_blocks = blocks(text)
    assert code_blocks, f"{page} has no python blocks"
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs.{path.stem}"}
    for line, code, expected in code_blocks:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)  # noqa: S102 (the docs' own code)
        if expected is not None:
            assert printed.getvalue() == expected, f"{page}: the output shown after line {line} is not what the block prints"


def test_block_extraction_finds_code_line_numbers_and_shown_output() -> None:
    text = ("# Title\n\n```python\nprint(1)\n```\n\nprints\n\n```text\n1\n```\n\nsome text\n"
            "```python\nassert x == 1\n```\n\nnot prints\n```text\n2\n```\n")
    assert blocks(text) == [(4, "print(1)\n", "1\n"), (15, "assert x == 1\n", None)]


def test_autodiff_tour_runs_and_writes_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tour that docs/README.md points to: a smoke test, run in-process (a few seconds)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("autodiff_tour", DOCS.parent / "examples" / "autodiff_tour.py")
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    assert tour.main(["--out", str(tmp_path / "tour")]) == 0
    printed = capsys.readouterr().out
    assert "agree with J @ t and t @ J: True" in printed
    assert "AnomalyError: Sqrt: backward gradient contains NaN or inf" in printed
    assert "the engine's rules give the same: True" in printed
    engine, numerical = re.search(r"engine (\S+), finite difference (\S+)", printed).groups()
    assert abs(float(engine) - float(numerical)) <= 1e-6
    names = ["1_scalar_graph", "2_scalar_graph_with_gradients", "6_vae_reparameterization", "7_vae_loss_graph"]
    for name in names:
        assert (tmp_path / "tour" / f"{name}.dot").read_text().startswith("digraph computation {")
        assert (tmp_path / "tour" / f"{name}.png").stat().st_size > 10_000
