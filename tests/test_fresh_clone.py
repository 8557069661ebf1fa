"""A fresh clone is all the tests need: they read only the repository's own files.

The README's test command runs in a clone with nothing beside it (CI does exactly
that), so no test may read ``../shared`` or any other path outside the
repository. One test clones HEAD into an empty temporary folder and collects the
suite there; another reads every file under ``tests/`` for paths that leave the
repository.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# a ".." path component, in a string such as "../shared" or "data/../.."
PARENT_COMPONENT = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)")
# an absolute path: "/work/...", "~/...", "C:\\..." (a string such as "/Add", an ONNX node's name, is not one:
# only the top-level folders of a machine count)
ABSOLUTE = re.compile(r"^(?:/(?:work|home|root|tmp|usr|opt|etc|var|mnt|srv|media|Users)(?:/|$)|~[/\\]|[A-Za-z]:[/\\])")
# paths made up to be missing, which tests use to check "cannot write" errors
MADE_UP = "/nonexistent"
# the reference folder kept beside the repository, named as a path component
SHARED = re.compile(r"(?:^|[/\\])shared(?:[/\\]|$)")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (they may name where a value comes from)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _parent_steps(node: ast.AST) -> int:
    """How many folders up an expression such as ``Path(__file__).resolve().parent.parents[1]`` goes."""
    steps = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            steps += 1
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            steps += node.slice.value + 1
            node = node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "resolve":
            node = node.func.value
        else:
            return steps if _is_this_file(node) else 0


def _is_this_file(node: ast.AST) -> bool:
    """``__file__`` or ``Path(__file__)``."""
    if isinstance(node, ast.Call) and len(node.args) == 1:
        node = node.args[0]
    return isinstance(node, ast.Name) and node.id == "__file__"


def outside_references(source: str, depth: int) -> list[str]:
    """Where Python code refers to a path outside the repository.

    ``depth`` is how many steps up from the file reach the repository root (2 for
    ``tests/x.py``: ``Path(__file__).parents[1]``); going up more leaves the
    repository. Docstrings and comments are not code; they may name where a value
    was taken from.
    """
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if PARENT_COMPONENT.search(text):
                found.append(f"line {line}: {text!r} goes up with '..'")
            elif ABSOLUTE.match(text) and not text.startswith(MADE_UP):
                found.append(f"line {line}: {text!r} is an absolute path")
            elif text == "shared" or SHARED.search(text):
                found.append(f"line {line}: {text!r} names the folder beside the repository")
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            steps = _parent_steps(node)
            if steps > depth:
                found.append(f"line {line}: goes {steps} folders up from the file, above the repository root")
    return found


def _test_files() -> list[Path]:
    skip = {"__pycache__", ".hypothesis", ".pytest_cache"}
    return sorted(p for p in TESTS.rglob("*") if p.is_file() and not skip & set(p.relative_to(TESTS).parts))


def test_the_checker_finds_the_ways_out() -> None:
    assert outside_references('SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"\n', 2) == [
        "line 1: goes 3 folders up from the file, above the repository root",
        "line 1: 'shared' names the folder beside the repository",
    ]
    assert outside_references('open("../shared/seeds/002.txt")\n', 2) == [
        "line 1: '../shared/seeds/002.txt' goes up with '..'"
    ]
    assert outside_references('p = Path("/work/shared/reference/semantics.md")\n', 2) == [
        "line 1: '/work/shared/reference/semantics.md' is an absolute path"
    ]
    assert outside_references('assert "/Add" in message\n', 2) == []  # an ONNX node's name
    assert outside_references("ROOT = Path(__file__).parent.parent.parent\n", 2) == [
        "line 1: goes 3 folders up from the file, above the repository root"
    ]
    inside = (
        '"""Values from shared/reference/semantics.md."""\n'
        "ROOT = Path(__file__).resolve().parents[1]\n"
        "HERE = Path(__file__).parent.parent\n"
        'DATA = Path(__file__).parent / "data" / "seed002_keras_summary.txt"\n'
        'main(["figure", "-o", "/nonexistent-dir/x.svg"])\n'
    )
    assert outside_references(inside, 2) == []


def test_no_test_file_refers_to_a_path_outside_the_repository() -> None:
    problems: list[str] = []
    files = _test_files()
    assert TESTS / "test_planner.py" in files
    for path in files:
        if path == Path(__file__).resolve():
            continue  # the checker's own examples of what it flags are strings in this file
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix == ".py":
            depth = len(path.relative_to(ROOT).parts)
            problems += [f"{rel}: {p}" for p in outside_references(path.read_text(encoding="utf-8"), depth)]
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text: it cannot name a path
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"\.\./", line) or re.search(r"(?:^|[\s\"'(])/?shared/", line):
                problems.append(f"{rel}: line {number}: {line.strip()[:100]}")
    assert problems == [], "tests must read only the repository's own files:\n" + "\n".join(problems)


def test_a_fresh_clone_collects_without_errors(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    head = subprocess.run([git, "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    if head.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout (an unpacked source archive): nothing to clone")
    clone = tmp_path / "convcalc"  # the clone is alone in its folder: nothing beside it to read
    cloned = subprocess.run(
        [git, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cloned.returncode == 0, cloned.stderr
    checkout = subprocess.run([git, "checkout", "--quiet", head.stdout.strip()], cwd=clone, check=False)
    assert checkout.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["convcalc"]
    # a run under --cov passes its start-up hook on to subprocesses: the clone's collection is not measured
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_PROCESS_", "COV_CORE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "error" not in output.lower().splitlines()[-1], output[-4000:]
    # the seed test that used to read ../shared is collected too
    assert "tests/test_planner.py::test_seed002_keras_summary_matches_the_post" in output
    # nothing is read from the original checkout; the interpreter's own environment may live inside it (.venv),
    # so lines about installed packages (a library's deprecation warning, say) are not counted
    ours = [line for line in output.splitlines() if sys.prefix not in line and "site-packages" not in line]
    assert str(ROOT) not in "\n".join(ours)
