"""The shape of the package: no import cycle among convcalc's modules, and no module over 1,000 lines.

The import graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of a
convcalc module counts, at module level and inside functions alike (a lazy import is still a dependency),
and so does one under ``if TYPE_CHECKING``. Calls that go against the flow on purpose name their target as a
``"module:function"`` string resolved by ``convcalc._late.late`` (see docs/architecture.md); the last test
checks that every such string names a real module and function.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "convcalc"

# Modules still over the limit while others split them (lines when this test was written); a module
# leaves this list when its split lands, and none may join it.
KNOWN_LONG: dict[str, int] = {}
LIMIT = 1000

# Cycles not broken yet, each as the sorted list of its modules, with the reason it is still there.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """Each convcalc module -> the convcalc modules it imports anywhere in its source."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    # `from convcalc import nn` imports the module convcalc.nn; `from convcalc import plan` the package
                    sub = f"{source}.{alias.name}"
                    found.add(sub if sub in modules else source)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
    return "{" + ", ".join(component) + "}: " + "; ".join(edges)


def test_the_import_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "convcalc._planner" in graph["convcalc.nn.conv"]  # module level
    assert "convcalc._readers" in graph["convcalc._planner"]  # inside a function
    assert "convcalc.torch.ops_math" in graph["convcalc.torch.ops"]  # `from convcalc.torch import ops_math`


def test_no_import_cycle() -> None:
    graph = import_graph()
    new = [c for c in cycles(graph) if tuple(c) not in KNOWN_CYCLES]
    assert not new, "import cycles among convcalc modules:\n" + "\n".join(_describe(c, graph) for c in new)


def test_the_cycle_finder_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_layers_point_one_way() -> None:
    graph = import_graph()
    readers = {m for m in graph if m.startswith(("convcalc.torch", "convcalc.onnx_reader", "convcalc.keras_reader"))}
    # the planner, the Plan, the specs and the renderers find a reader by name, never by import
    for low in ("convcalc._planner", "convcalc._plan", "convcalc._render", "convcalc._solve", "convcalc.nn"):
        assert not graph[low] & readers, f"{low} imports a reader: {sorted(graph[low] & readers)}"
    # the Plan imports no renderer or solver: they build on it
    assert not graph["convcalc._plan"] & {"convcalc._render", "convcalc._solve", "convcalc._planner"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_module_length(path: Path) -> None:
    name = str(path.relative_to(PACKAGE.parent))
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if name in KNOWN_LONG:
        assert lines <= max(KNOWN_LONG[name], LIMIT), f"{name} grew to {lines} lines (allowed {KNOWN_LONG[name]})"
    else:
        assert lines <= LIMIT, f"{name} has {lines} lines; split it into modules of at most {LIMIT} lines"


def _top_level_names(tree: ast.Module) -> list[tuple[str, int]]:
    """The names a module binds at its top level by ``def``, ``class`` or an assignment, with their lines."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append((node.name, node.lineno))
        elif isinstance(node, ast.Assign):
            names += [(t.id, node.lineno) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names.append((node.target.id, node.lineno))
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_each_top_level_name_is_bound_once(path: Path) -> None:
    """A second ``_VIEWS = ...`` in a module silently replaces the first for every function that reads it."""
    first: dict[str, int] = {}
    for name, line in _top_level_names(ast.parse(path.read_text(encoding="utf-8"))):
        assert name not in first, f"{path.name}: {name} is bound at line {first[name]} and again at line {line}"
        first[name] = line


def test_a_name_bound_twice_is_found() -> None:
    tree = ast.parse("A = 1\ndef f(): pass\nA = frozenset()\n")
    assert [n for n, _ in _top_level_names(tree)] == ["A", "f", "A"]


_TARGET = re.compile(r"""["'](convcalc(?:\.\w+)+):(\w+(?:\.\w+)*)["']""")


def test_late_targets_exist() -> None:
    """Every "convcalc.module:function" string names a module that imports and a name it has."""
    targets = set()
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if ">>>" not in line:  # a doctest may name a missing function on purpose
                targets.update(_TARGET.findall(line))
    assert ("convcalc.torch.read", "_read") in targets
    for module, name in sorted(targets):
        value: object = importlib.import_module(module)
        for part in name.split("."):
            assert hasattr(value, part), f"{module}:{name} does not exist"
            value = getattr(value, part)
