"""Mutation testing of the formula and planner modules, with a score per module.

Runs mutmut (configured in ``[tool.mutmut]`` of pyproject.toml) from the
repository root, then reads its results from ``mutants/`` and prints, per
module, the mutants killed and surviving and the score
``killed / (killed + survived)``. Exits 1 when a module scores below
``--min-score`` (90 by default). See mutation/README.md and docs/mutation.md.

Usage (from the repository root, with the project's virtual environment)::

    python mutation/run.py --fresh           # the full run from scratch (what the score is quoted for)
    python mutation/run.py                   # mutmut's incremental run: re-tests changed functions only
    python mutation/run.py formulas _solve   # re-test every mutant of these modules
    python mutation/run.py --survivors       # re-test last run's survivors (after adding tests)
    python mutation/run.py --resume sequence  # only the mutants with no result yet (an interrupted run)
    python mutation/run.py --report          # no run: the table and the survivors, with diffs

How mutmut's outcomes count: "killed" and "timeout" (the mutant made the tests
hang, and mutmut stopped them) are killed; "survived" and "no tests" (no
selected test reaches the mutated function) are survivors; "suspicious" and
"segfault" are listed apart and counted as survivors until a re-run decides
them; "skipped" and "not checked" are left out of the score.

mutmut runs in this process, with one change to its rules: mutmut 3 leaves
every decorated function alone, and convcalc's public formulas and parameter
counts are decorated with ``@exact_arrays`` (which only turns numpy's
OverflowError into a SpecError, through ``functools.wraps``), and the other
public functions with ``@checked_call`` (which only turns a call Python refuses
into a SpecError, the same way). Such a function
is copied and trampolined like an undecorated one, decorator kept, so its body
is mutated too; see ``TRANSPARENT_DECORATORS``. The torch reader's operation
handlers are registered by ``@_handles(name, ...)``: that decorator is kept on
the trampoline alone, which stays the registered function.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Decorators that only wrap a function (functools.wraps, same signature, no definition-time effect):
#: mutmut may mutate the functions under them. Checked against mutmut's own rule in patch_mutmut().
TRANSPARENT_DECORATORS = frozenset({"exact_arrays", "checked_call", "_handles"})
# decorators that register the function by name (the torch reader's ``@_handles("matmul", "mm")``): kept on the
# trampoline only, which mutmut defines first; on the original's and the mutants' copies, defined after it, each
# would register itself in the trampoline's place, and the last mutant would run in every test
REGISTERING_DECORATORS = frozenset({"_handles"})
MUTMUT_VERSION = "3.8.1"

KILLED = {"killed", "timeout", "caught by type check"}
SURVIVED = {"survived", "no tests", "suspicious", "segfault"}


def status_of(exit_code: int | None) -> str:
    """mutmut's name for an exit code (mutmut.stats.status_by_exit_code, kept in one place here)."""
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[exit_code])


def configured_modules() -> list[str]:
    """The files that ``[tool.mutmut] only_mutate`` names, as paths relative to the root."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def module_name(path: str) -> str:
    """``convcalc/_solve.py`` -> ``convcalc._solve``."""
    return path.removesuffix(".py").replace("/", ".")


def package_name(path: str) -> str:
    """``convcalc/nn/_base.py`` -> ``nn._base``: the name inside the package."""
    return module_name(path).removeprefix("convcalc.")


def resolve_modules(names: list[str]) -> list[str]:
    """Names (``formulas``, ``_solve``, ``nn.sequence``, ``convcalc.keras._base``) to configured paths.

    A bare file name that several subpackages share (``_base``) names all of them; an unknown name fails.
    """
    paths = configured_modules()
    chosen = []
    for name in names:
        hits = [
            p for p in paths if name in (p, module_name(p), package_name(p), Path(p).stem, Path(p).stem.lstrip("_"))
        ]
        if not hits:
            short = ", ".join(package_name(p) for p in paths)
            raise SystemExit(f"unknown module {name!r}: the configured modules are {short}")
        chosen.extend(hits)
    return chosen


def results() -> dict[str, dict[str, str]]:
    """``{module path: {mutant name: status}}`` from mutmut's meta files."""
    out: dict[str, dict[str, str]] = {}
    for path in configured_modules():
        meta = ROOT / "mutants" / f"{path}.meta"
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        out[path] = {name: status_of(code) for name, code in codes.items()}
    return out


def score(statuses: dict[str, str]) -> tuple[Counter[str], float | None]:
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    survived = sum(counts[s] for s in SURVIVED)
    return counts, (100.0 * killed / (killed + survived) if killed + survived else None)


def print_table(by_module: dict[str, dict[str, str]]) -> dict[str, float | None]:
    columns = ["killed", "timeout", "survived", "no tests", "suspicious", "segfault", "not checked"]
    print(f"{'module':<22} {'mutants':>7} " + " ".join(f"{c:>11}" for c in columns) + f" {'score':>7}")
    scores: dict[str, float | None] = {}
    all_statuses: dict[str, str] = {}
    for path, statuses in by_module.items():
        all_statuses.update(statuses)
        counts, value = score(statuses)
        scores[path] = value
        text = "-" if value is None else f"{value:.1f}%"
        print(
            f"{module_name(path):<22} {len(statuses):>7} "
            + " ".join(f"{counts[c]:>11}" for c in columns)
            + f" {text:>7}"
        )
    counts, value = score(all_statuses)
    text = "-" if value is None else f"{value:.1f}%"
    print(f"{'all':<22} {len(all_statuses):>7} " + " ".join(f"{counts[c]:>11}" for c in columns) + f" {text:>7}")
    return scores


def print_survivors(by_module: dict[str, dict[str, str]], diffs: bool) -> None:
    survivors = [
        (name, status) for statuses in by_module.values() for name, status in statuses.items() if status in SURVIVED
    ]
    if not survivors:
        return
    print(f"\n{len(survivors)} survivors (judged in docs/mutation.md):")
    diff_for = None
    if diffs:
        from mutmut.mutation.diff_apply import get_diff_for_mutant as diff_for
    for name, status in sorted(survivors):
        print(f"  {name}  [{status}]")
        if diff_for is not None:
            changed = [
                line for line in diff_for(name).splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
            ]
            for line in changed:
                print(f"      {line.strip()[:150]}")


def patch_mutmut() -> None:
    """Let mutmut mutate functions whose only decorators are in ``TRANSPARENT_DECORATORS``.

    mutmut's MutationVisitor skips a decorated FunctionDef (and so every node in it). For the
    transparent decorators the visitor is shown the function without them, so the usual rules
    apply; the trampoline, the original and every mutant keep the decorator (mutmut copies the
    whole FunctionDef), so each copy is wrapped exactly as the source wraps it.
    """
    from importlib.metadata import version

    import libcst as cst
    from mutmut.mutation import file_mutation

    found = version("mutmut")
    if found != MUTMUT_VERSION:
        raise SystemExit(f"mutation/run.py patches mutmut {MUTMUT_VERSION}'s rules; found mutmut {found}")
    visitor = file_mutation.MutationVisitor
    if getattr(visitor, "_convcalc_patched", False):
        return
    original = visitor._skip_node_and_children

    def transparent(decorator: cst.Decorator) -> bool:
        # a name (``@checked_call``) or a call of one (``@_handles("matmul", "mm")``)
        target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
        return isinstance(target, cst.Name) and target.value in TRANSPARENT_DECORATORS

    def skip_node_and_children(self: object, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef) and node.decorators and all(map(transparent, node.decorators)):
            decorators = node.decorators
            # the node keeps its identity (mutmut's position metadata is keyed by it); libcst nodes are
            # frozen dataclasses, hence object.__setattr__
            object.__setattr__(node, "decorators", ())
            try:
                return bool(original(self, node))
            finally:
                object.__setattr__(node, "decorators", decorators)
        return bool(original(self, node))

    visitor._skip_node_and_children = skip_node_and_children  # type: ignore[method-assign]
    visitor._convcalc_patched = True  # type: ignore[attr-defined]

    arrange = file_mutation.function_trampoline_arrangement

    def registers(decorator: cst.Decorator) -> bool:
        target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
        return isinstance(target, cst.Name) and target.value in REGISTERING_DECORATORS

    def function_trampoline_arrangement(function: Any, mutants: Any, class_name: Any) -> Any:
        declarations, nodes, assignments, names = arrange(function, mutants, class_name)
        trampoline, *copies = nodes
        copies = [c.with_changes(decorators=[d for d in c.decorators if not registers(d)]) for c in copies]
        return declarations, [trampoline, *copies], assignments, names

    file_mutation.function_trampoline_arrangement = function_trampoline_arrangement


def run_mutmut(names: list[str], max_children: int | None) -> int:
    """``mutmut run [--max-children N] [names...]`` in this process, with the patched rules."""
    os.environ["HYPOTHESIS_PROFILE"] = "dev"
    os.environ.pop("CI", None)
    patch_mutmut()
    from mutmut.__main__ import cli

    args = ["run"] + (["--max-children", str(max_children)] if max_children else []) + names
    try:
        cli.main(args=args, prog_name="mutmut", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", help="re-test every mutant of these modules (default: mutmut's incremental run)"
    )
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first: a full run from scratch")
    parser.add_argument("--survivors", action="store_true", help="re-test only the survivors of the last run")
    parser.add_argument(
        "--resume", action="store_true", help="test only the mutants (of the modules named) that have no result yet"
    )
    parser.add_argument("--report", action="store_true", help="no run: print the table and the survivors")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's mutation")
    parser.add_argument("--max-children", type=int, default=None, help="parallel workers (default: CPU count)")
    parser.add_argument("--min-score", type=float, default=90.0, help="fail below this score per module (percent)")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    if not args.report:
        if args.fresh and (ROOT / "mutants").exists():
            shutil.rmtree(ROOT / "mutants")
        names: list[str] = [f"{module_name(p)}.*" for p in resolve_modules(args.modules)]
        if args.survivors:
            names = [n for statuses in results().values() for n, s in statuses.items() if s in SURVIVED]
            if not names:
                print("no survivors to re-test")
        elif args.resume:
            wanted = set(resolve_modules(args.modules))
            names = [
                n for p, statuses in results().items() if p in wanted for n, s in statuses.items() if s == "not checked"
            ]
            if not names:
                print("every mutant of these modules has a result")
        if not (args.survivors or args.resume) or names:
            start = time.monotonic()
            code = run_mutmut(names, args.max_children)
            print(f"\nmutmut run took {time.monotonic() - start:.0f} s")
            if code != 0:
                print(f"mutmut run exited with {code}", file=sys.stderr)
                return code
        print()

    by_module = results()
    if not by_module:
        print("no results in mutants/: run without --report first", file=sys.stderr)
        return 2
    scores = print_table(by_module)
    print_survivors(by_module, args.diffs or args.report)
    low = [module_name(p) for p, v in scores.items() if v is not None and v < args.min_score]
    if low:
        print(f"\nbelow {args.min_score:g}%: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
