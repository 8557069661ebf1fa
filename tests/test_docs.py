"""The documentation site builds cleanly, and its Python examples are all doctests.

The examples themselves run as doctests through pytest's ``--doctest-glob=*.md``
(``docs`` is in ``testpaths``); these tests check the site around them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))

FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_docs_pages_exist() -> None:
    assert (ROOT / "mkdocs.yml").is_file()
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"index.md", "tutorial.md", "errors.md", "reference.md", "explanation/conventions.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_python_blocks_are_doctests(page: Path) -> None:
    """A ```python block that pytest would not run is an example nobody checks."""
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        lang, body = match.group(1), match.group(2)
        if lang == "python":
            assert body.lstrip().startswith(">>>"), f"{page.name}: a ```python block without >>>:\n{body[:200]}"
            # doctest reads an example's expected output up to the next blank line:
            # without one, the closing fence would be taken as output.
            assert body.endswith("\n\n"), f"{page.name}: leave a blank line before the closing fence:\n{body[-200:]}"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings-python is not installed")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert 'id="convcalc.plan"' in reference
    assert 'id="convcalc.nn.Conv2d"' in reference
    assert 'id="convcalc.keras.Conv2D"' in reference
    # docstring doctests render as code, not as Markdown block quotes
    assert "<blockquote>" not in reference
    assert '<span class="gp">&gt;&gt;&gt; </span>' in reference
