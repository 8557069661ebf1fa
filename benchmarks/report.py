"""Render Markdown tables for docs/benchmarks.md from one or more JSON files of ``benchmarks.run``.

``python -m benchmarks.report RUN1.json [RUN2.json ...]`` prints the tables: where
a figure is a timing, every run is shown (``run 1 / run 2``), so run-to-run noise on
a shared machine is visible instead of hidden.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.run import COUNT_TOOLS, RULES, TOOL_LABELS, TOOLS


def _t(entry: dict[str, Any] | None) -> str:
    if not entry or "min_s" not in entry:
        return "n/a"
    s = entry["min_s"]
    if s < 0.001:
        return f"{s * 1e3:.3f} ms"
    if s < 0.1:
        return f"{s * 1e3:.1f} ms"
    if s < 1:
        return f"{s * 1e3:.0f} ms"
    return f"{s:.2f} s"


def _r(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.0f}x" if v >= 10 else f"{v:.1f}x"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def machine(runs: list[dict[str, Any]]) -> str:
    m = runs[0]["meta"]["machine"]
    lines = [
        f"- CPU: {m['cpu']} ({m['cores']} cores visible to the process); torch threads: {m.get('torch_threads')}",
        f"- Python {m['python']} on {m['platform']}",
        f"- torch {m['torch']}, torchinfo {m['torchinfo']}, ptflops {m['ptflops']}, fvcore {m['fvcore']}, "
        f"sympy {m['sympy']}, numpy {m['numpy']}; CUDA available: {m.get('cuda')}",
    ]
    for i, r in enumerate(runs, 1):
        meta = r["meta"]
        la, lb = meta["machine"].get("loadavg_start"), meta.get("loadavg_end")
        lines.append(
            f"- run {i}: {meta['timestamp']}, {meta['wall_s']:.0f} s wall, load average "
            f"{la[0]:.1f} at start, {lb[0]:.1f} at end (1-minute)"
            if la and lb
            else f"- run {i}"
        )
    return "\n".join(lines)


def timing_tables(runs: list[dict[str, Any]]) -> str:
    nets = list(runs[0]["timings"])
    rows = []
    for tool in TOOLS:
        cells = []
        for n in nets:
            times = [_t(r["timings"][n].get(tool)) for r in runs]
            if tool == "plan":
                cells.append(" / ".join(times))
            else:
                rat = [_r(r["ratios"][n][tool]["min"]) if r["ratios"][n].get(tool) else "n/a" for r in runs]
                cells.append(" / ".join(times) + ("" if set(rat) == {"n/a"} else " (" + " / ".join(rat) + ")"))
        rows.append([TOOL_LABELS[tool], *cells])
    return _table(["tool: time (ratio to convcalc numeric plan)", *nets], rows)


def cpu_table(runs: list[dict[str, Any]], net: str = "resnet50") -> str:
    """Wall-clock and process-CPU-time ratios for one network: CPU time is less sensitive to other load."""
    rows = []
    for tool in TOOLS[1:]:
        cells = []
        for key in ("min_s", "cpu_min_s"):
            vals = []
            for r in runs:
                t, base = r["timings"][net].get(tool, {}), r["timings"][net]["plan"]
                vals.append(_r(t[key] / base[key]) if key in t and key in base else "n/a")
            cells.append(" / ".join(vals))
        cpu = [
            _t({"min_s": r["timings"][net][tool]["cpu_min_s"]})
            if "cpu_min_s" in r["timings"][net].get(tool, {})
            else "n/a"
            for r in runs
        ]
        rows.append([TOOL_LABELS[tool], *cells, " / ".join(cpu)])
    base = " / ".join(_t({"min_s": r["timings"][net]["plan"]["cpu_min_s"]}) for r in runs)
    rows.insert(0, ["convcalc plan (numeric)", "1x", "1x", base])
    return _table([f"{net}: tool", "ratio, wall clock", "ratio, process CPU time", "process CPU time"], rows)


def counts_table(run: dict[str, Any]) -> str:
    rows = []
    for n, c in run["counts"].items():
        cc = c["convcalc"]
        pub = c["published"]
        rows.append(
            [
                n,
                "**convcalc**",
                f"{cc['params']:,}",
                f"{cc['macs']:,}",
                "",
                "= published" if (cc["params"], cc["macs"]) == (pub["params"], pub["macs"]) else "differs",
            ]
        )
        for tool in COUNT_TOOLS:
            e = c.get(tool)
            if not e or "value" not in e:
                continue
            params = "=" if e["params"] == cc["params"] else f"{e['params']:,}"
            check = "exact" if e["explained"] else f"off by {e['residual']:+,}"
            rows.append([n, tool, params, f"{e['value']:,}", f"{e['diff_vs_convcalc']:+,}", check])
    return _table(["network", "tool", "params", "MACs (tool's own)", "minus convcalc", "rule reproduces it"], rows)


def rules_list() -> str:
    return "\n".join(f"- `{tool}`: {text}" for tool, (_, text) in RULES.items())


def depth_table(runs: list[dict[str, Any]]) -> str:
    rows = []
    for i, row in enumerate(runs[0]["scaling"]["depth"]["rows"]):
        cells = [str(row["depth"]), str(row["layers"])]
        for kind in ("numeric", "symbolic", "plan_torch"):
            for key in ("min_s", "cpu_min_s"):
                cells.append(
                    " / ".join(
                        _t({"min_s": r["scaling"]["depth"]["rows"][i][kind][key]})
                        if key in r["scaling"]["depth"]["rows"][i].get(kind, {})
                        else "n/a"
                        for r in runs
                    )
                )
        rows.append(cells)
    ratio_cells = ["**1000 / 50**", "(20x if linear)"]
    for kind in ("numeric", "symbolic", "plan_torch"):
        for key in ("ratio_1000_over_50", "cpu_ratio_1000_over_50"):
            vals = []
            for r in runs:
                s = r["scaling"]["depth"]["summary"].get(kind)
                vals.append(f"{s[key]:.1f}x" if s else "n/a")
            ratio_cells.append("**" + " / ".join(vals) + "**")
    rows.append(ratio_cells)
    return _table(
        [
            "conv+ReLU pairs",
            "layers",
            "numeric, wall",
            "numeric, CPU",
            "symbolic, wall",
            "symbolic, CPU",
            "plan(torch), wall",
            "plan(torch), CPU",
        ],
        rows,
    )


def batch_table(runs: list[dict[str, Any]]) -> str:
    rows = []
    for i, row in enumerate(runs[0]["scaling"]["batch"]["rows"]):
        cells = [str(row["batch"])]
        for kind in ("plan", "plan_torch", "torchinfo_cpu", "torchinfo_meta", "meta_forward"):
            cells.append(" / ".join(_t(r["scaling"]["batch"]["rows"][i].get(kind)) for r in runs))
        rows.append(cells)
    return _table(
        [
            "batch",
            "convcalc plan",
            "plan(torch module)",
            "torchinfo (CPU)",
            "torchinfo (device='meta')",
            "meta forward + hooks",
        ],
        rows,
    )


def misc(runs: list[dict[str, Any]]) -> str:
    lines = []
    v = [r["vectorised"] for r in runs]
    lines.append(
        "- Vectorised `conv_output_size`, 1,000,000 random valid configurations (numpy arrays for size, "
        "kernel, stride, padding, dilation): "
        + " / ".join(f"{x['min_s'] * 1e3:.1f} ms" for x in v)
        + f" ({v[0]['ns_per_configuration']:.0f} ns per configuration), equal to the numpy formula: "
        + str(all(x["correct"] for x in v))
    )
    for label, key in (
        ("with a warm .pyc cache (as an installed package runs)", "bytecode_cached"),
        ("with no bytecode cache at all (everything, stdlib included, compiled from source)", "no_bytecode_cache"),
    ):
        sts = [r["startup"][key] for r in runs]
        lines.append(
            f"- Start-up, {label}: `python -c pass` "
            + " / ".join(f"{s['python_pass']['min_s'] * 1e3:.0f} ms" for s in sts)
            + "; `import convcalc` adds "
            + " / ".join(f"{s['import_overhead_s'] * 1e3:.0f} ms" for s in sts)
            + " (`-X importtime`: "
            + " / ".join(f"{(s['importtime_cumulative_s'] or 0) * 1e3:.0f} ms" for s in sts)
            + f"); `{sts[0].get('cli_command', 'python -m convcalc')} size 227 -k 11 -s 4` adds "
            + " / ".join(
                f"{s['cli_overhead_s'] * 1e3:.0f} ms (x{s['cli_over_pass']:.2f} of `python -c pass`)"
                if s.get("cli_overhead_s") is not None
                else "n/a"
                for s in sts
            )
            + '; `python -c "import re"` (what a console script imports first): '
            + " / ".join(f"x{s['import_re_over_pass']:.2f}" for s in sts)
        )
    lines.append(
        "- Modules loaded by `import convcalc` among sympy, numpy, torch: "
        + (", ".join(runs[0]["startup"]["heavy_modules_after_import"]) or "none")
    )
    sc = runs[0]["symbolic_check"]
    lines.append(
        f"- Symbolic ResNet-50, last stage (the input of the AdaptiveAvgPool2d, row {sc['layer']}): convcalc `{sc['convcalc_expression'][0]}`, "
        f"torch.export `{(sc.get('torch_export_expression') or ['n/a'])[0]}`; {sc.get('values_checked')} values of "
        f"H = W from {sc.get('range', ['?'])[0]} to {sc.get('range', ['?', '?'])[1]}, all equal: {sc.get('all_equal')}"
    )
    return "\n".join(lines)


def targets_table(runs: list[dict[str, Any]]) -> str:
    rows = []
    for name, t in runs[0]["targets"].items():
        vals, mets = [], []
        for r in runs:
            tt = r["targets"][name]
            v = tt["value"]
            vals.append("n/a" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v)))
            mets.append({True: "met", False: "**not met**", None: "n/a"}[tt["met"]])
        rows.append([name, t["target"], " / ".join(vals), " / ".join(mets)])
    return _table(["target", "goal", "value (run 1 / run 2)", "status"], rows)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: python -m benchmarks.report RUN1.json [RUN2.json ...]", file=sys.stderr)
        return 2
    runs = [json.loads(p.read_text()) for p in paths]
    sections = [
        ("Machine", machine(runs)),
        ("Planning time", timing_tables(runs)),
        ("ResNet-50 in CPU time", cpu_table(runs)),
        ("Counts", counts_table(runs[-1])),
        ("Counting rules", rules_list()),
        ("Depth", depth_table(runs)),
        ("Batch", batch_table(runs)),
        ("Other", misc(runs)),
        ("Targets", targets_table(runs)),
    ]
    for title, body in sections:
        print(f"<!-- {title} -->\n{body}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
