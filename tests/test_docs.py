"""Every ```python block in docs/ runs, in order, one namespace per page, so the docs cannot drift from the code.

A block's own ``assert`` statements are the checks. Code is compiled with the
Markdown file as its file name and padded so line numbers match the page:
a failure's traceback points at the line of the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["README.md", "engine.md", "studying.md", "checking-gradients.md", "vae.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_docs_are_the_pages_listed_and_the_index_links_them_all() -> None:
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted(PAGES)
    index = (DOCS / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"]({page})" in index, f"docs/README.md does not link {page}"


@pytest.mark.parametrize("page", PAGES)
def test_every_code_block_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / page).read_text()
    # Only ```python blocks run; code in another fence would go untested.
    fences = re.findall(r"^```(\S*)$", text, re.M)
    assert set(fences) <= {"python", "", "text", "bash"}, f"{page}: unexpected code fences {set(fences)}"
    assert not re.search(r"^```(text|bash)\n[^`]*(import |assert )", text, re.M), f"{page}: Python outside a python block"
    blocks = python_blocks(text)
    assert blocks, f"{page} has no python blocks"
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs.{Path(page).stem}"}
    for line, code in blocks:
        exec(compile("\n" * (line - 1) + code, str(DOCS / page), "exec"), namespace)


def test_block_extraction_finds_code_and_line_numbers() -> None:
    text = "# Title\n\n```python\nx = 1\n```\n\ntext\n```python\nassert x == 1\ny = 2\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n"), (9, "assert x == 1\ny = 2\n")]
