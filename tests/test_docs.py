"""The documentation site builds cleanly, and its Python examples are all doctests.

The examples themselves run as doctests through pytest's ``--doctest-glob=*.md``
(``docs`` is in ``testpaths``); these tests check the site around them.
"""

from __future__ import annotations

import argparse
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
    assert {"index.md", "tutorial.md", "errors.md", "reference.md", "cli.md", "explanation/conventions.md"} <= names


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


def test_readme_examples_pass_plain_doctest() -> None:
    """`python -m doctest README.md`, with no option flags: every README example is exact as printed."""
    result = subprocess.run(
        [sys.executable, "-m", "doctest", "README.md"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_PROCESS_", "COV_CORE_"))},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout == ""


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


# --------------------------------------------------------------------------- #
# The command-line reference (docs/cli.md) against the parser in convcalc/cli.py
# --------------------------------------------------------------------------- #

CLI_PAGE = DOCS / "cli.md"
# "## convcalc", "## convcalc plan", "### convcalc exercise check": one section per command
COMMAND_HEADING = re.compile(r"^#{2,4} convcalc(?P<path>(?: [a-z][a-z-]*)*)[ \t]*$", re.MULTILINE)


def _cli_sections() -> dict[str, str]:
    """Each command's section of docs/cli.md, by its path after ``convcalc`` ("" for the top level)."""
    text = CLI_PAGE.read_text(encoding="utf-8")
    found = list(COMMAND_HEADING.finditer(text))
    ends = [m.start() for m in found[1:]] + [len(text)]
    return {m["path"].strip(): text[m.end() : end] for m, end in zip(found, ends, strict=True)}


def _documented_options(section: str) -> dict[str, str]:
    """Each option of a section's table (its first column, in backticks) and the row that describes it."""
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            for flag in re.findall(r"`(-[^`]*)`", cells[1]):
                rows[flag] = line
    return rows


def _parser_commands() -> dict[str, argparse.ArgumentParser]:
    """Every command and sub-command of the real parser, by its path after ``convcalc``."""
    from convcalc.cli import _parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())

    walk(_parser(), "")
    return found


COMMANDS = _parser_commands()


def test_cli_page_has_a_section_for_every_command() -> None:
    documented = set(_cli_sections())
    missing = sorted(f"convcalc {c}".strip() for c in set(COMMANDS) - documented)
    extra = sorted(f"convcalc {c}".strip() for c in documented - set(COMMANDS))
    assert not missing, f"docs/cli.md has no section for: {', '.join(missing)}"
    assert not extra, f"docs/cli.md documents commands the parser does not have: {', '.join(extra)}"


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=lambda c: f"convcalc {c}".strip())
def test_cli_page_lists_every_option_of(command: str) -> None:
    """Options, their choices and the positional arguments come from the parser, so a new one shows up here."""
    name = f"convcalc {command}".strip()
    section = _cli_sections().get(command)
    assert section is not None, f"docs/cli.md has no section for {name}"
    documented = _documented_options(section)
    parser = COMMANDS[command]
    actions = [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
    # a common option that a command refuses with a reason is registered hidden (help=SUPPRESS); the page documents
    # those once, in its section on common options (checked below)
    actions = [a for a in actions if a.help is not argparse.SUPPRESS]
    options = {flag: a for a in actions for flag in a.option_strings}
    missing = [flag for flag in options if flag not in documented]
    assert not missing, f"docs/cli.md does not document {name} {', '.join(missing)}"
    extra = [flag for flag in documented if flag not in options and flag not in ("-h", "--help")]
    assert not extra, f"docs/cli.md documents {name} {', '.join(extra)}, which the parser does not have"
    for flag, action in options.items():
        for choice in action.choices or ():
            assert f"`{choice}`" in documented[flag], f"docs/cli.md: {name} {flag}: the choice {choice!r} is missing"
    usage = section.strip().splitlines()[0]
    for action in actions:
        if not action.option_strings:
            metavar = str(action.metavar or action.dest).upper()
            assert metavar in usage, f"docs/cli.md: {name}: the usage line does not show {metavar}: {usage}"


def test_cli_page_explains_every_common_option() -> None:
    """The options a command refuses with a reason are hidden from its table, so the page lists them once."""
    from convcalc.cli import COMMON_OPTIONS

    text = CLI_PAGE.read_text(encoding="utf-8")
    section = text.partition("## Options across commands")[2].partition("\n## ")[0]
    missing = [option for option in COMMON_OPTIONS if f"`{option}`" not in section]
    assert not missing, f"docs/cli.md, 'Options across commands', does not name {', '.join(missing)}"
