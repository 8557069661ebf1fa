"""Time ``convcalc.plan(torch_module, inputs)`` on every model of the test corpus against a meta-device forward.

Run ``python -m benchmarks.corpus [--quick] [--json PATH] [--models NAME ...] [--profile NAME ...]`` from the
repository root (the corpus is ``tests/corpus_models.py``, imported as ``tests.corpus_models``, the way
``benchmarks.onnx_shape_inference`` imports the test strategies).

The peer is what torchinfo-like tools do to get shapes out of torch without arithmetic: a forward pass on the meta
device with a forward hook on every module that records its output shape. The model is copied to the meta device
once, **outside** the timed region (``copy.deepcopy(model).to("meta")``, as ``benchmarks.run`` does), so the peer
is timed at its cheapest; the copy's own cost is recorded beside it (``to_meta_copy_s``) and a second ratio counts it
in. convcalc is timed on the CPU module as a user holds it (it never moves or copies the caller's model).

For each model the two are timed **interleaved** (one call of each per round, so a burst of load from other processes
hits both alike), after one warm-up round, and the minimum over the rounds is kept. Reported per model: both minima,
the ratio plan / meta forward (below 1: convcalc is faster), and whether the plan used the meta-device fallback
(``plan.fallback_rows``). Then the slowest ratio, and flatness in batch size (batch 1, 64 and 1024) for a few models.

A last section checks ResNet-50: the numeric plan of ``convcalc.zoo.resnet50()`` at 1x3x224x224, interleaved with
``torchinfo.summary`` and a meta forward of the hand-written torch ResNet-50 (``benchmarks.networks``), reported as
ratios (more stable on a shared machine than absolute times) together with the load average.

The raw figures go to ``benchmarks/results/corpus.json`` (git-ignored folder). ``--quick`` takes few rounds; its
timings are not for reporting.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import convcalc
from benchmarks.run import Timer, has_module, machine, quiet

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "corpus.json"

#: Models whose batch-size flatness is checked: small (LeNet), a hand-written U-Net, and two that need the fallback.
FLATNESS_MODELS = ("LeNet", "UNetSmall", "VGGish", "IntViewNet", "CifarResNet")
FLATNESS_BATCHES = (1, 64, 1024)


def corpus() -> list[tuple[str, Any, Any]]:
    """The corpus as ``(name, factory, inputs)`` (imported lazily: it imports torch)."""
    from tests.corpus_models import CORPUS

    return list(CORPUS)


def with_batch(inputs: Any, batch: int) -> Any:
    """``inputs`` (a shape, a list of shapes or a dict of shapes) with every leading (batch) size set to ``batch``."""
    if isinstance(inputs, dict):
        return {k: (batch, *v[1:]) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [(batch, *s[1:]) for s in inputs]
    return (batch, *inputs[1:])


def meta_inputs(inputs: Any) -> tuple[list[Any], dict[str, Any]]:
    import torch

    if isinstance(inputs, dict):
        return [], {k: torch.empty(v, device="meta") for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [torch.empty(s, device="meta") for s in inputs], {}
    return [torch.empty(inputs, device="meta")], {}


def meta_forward(mmodel: Any, inputs: Any) -> list[tuple[str, Any]]:
    """A forward pass of a meta-device model that records every module's output shape(s) with forward hooks.

    The inputs are made inside (as a shape-reading tool must); the hooks are registered and removed per call.
    """
    import torch

    shapes: list[tuple[str, Any]] = []
    handles = []

    def shape_of(out: Any) -> Any:
        if isinstance(out, torch.Tensor):
            return tuple(out.shape)
        if isinstance(out, (tuple, list)):
            return tuple(shape_of(o) for o in out)
        if isinstance(out, dict):
            return {k: shape_of(v) for k, v in out.items()}
        return None

    for name, module in mmodel.named_modules():
        if isinstance(module, torch.jit.ScriptModule):  # TorchScript modules take no hooks: their callers record
            continue

        def hook(mod: Any, inp: Any, out: Any, name: str = name) -> None:
            shapes.append((name, shape_of(out)))

        handles.append(module.register_forward_hook(hook))
    try:
        args, kwargs = meta_inputs(inputs)
        with torch.no_grad():
            mmodel(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return shapes


def meta_copy(model: Any) -> Any:
    return copy.deepcopy(model).to("meta")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds * 1e3:.1f} ms"


def time_model(name: str, factory: Any, inputs: Any, timer: Timer, repeats: int) -> dict[str, Any]:
    """Plan and meta forward of one corpus model, interleaved; the ratio of their minima."""
    import torch

    torch.manual_seed(0)
    model = factory()
    plan = convcalc.plan(model, inputs)
    entry: dict[str, Any] = {
        "inputs": inputs,
        "rows": len(plan.rows),
        "fallback_rows": len(plan.fallback_rows),
        "fallback": bool(plan.fallback_rows),
    }
    t0 = time.perf_counter()
    try:
        mmodel = meta_copy(model)
        entry["to_meta_copy_s"] = time.perf_counter() - t0
        meta_forward(mmodel, inputs)
    except Exception as exc:  # a model the meta device cannot run: say so, still time the plan
        text = str(exc).strip().splitlines()
        entry["meta_forward_error"] = f"{type(exc).__name__}: {text[0][:200] if text else ''}"
        entry["plan"] = timer.measure(lambda: convcalc.plan(model, inputs))
        return entry
    got = timer.interleaved(
        {"plan": lambda: convcalc.plan(model, inputs), "meta_forward": lambda: meta_forward(mmodel, inputs)},
        repeats,
    )
    entry.update(got)
    entry["plan_over_meta"] = got["plan"]["min_s"] / got["meta_forward"]["min_s"]
    entry["plan_over_meta_cpu"] = got["plan"]["cpu_min_s"] / got["meta_forward"]["cpu_min_s"]
    entry["plan_over_meta_with_copy"] = got["plan"]["min_s"] / (got["meta_forward"]["min_s"] + entry["to_meta_copy_s"])
    return entry


def flatness(
    models: dict[str, tuple[Any, Any]], timer: Timer, repeats: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Plan and meta forward at batch 1, 64 and 1024, all interleaved per model; max / min of each."""
    import torch

    result: dict[str, Any] = {}
    for name, (factory, inputs) in models.items():
        torch.manual_seed(0)
        model = factory()
        mmodel = meta_copy(model)
        fns: dict[str, Callable[[], Any]] = {}
        for b in FLATNESS_BATCHES:
            shaped = with_batch(inputs, b)
            fns[f"plan@{b}"] = lambda shaped=shaped: convcalc.plan(model, shaped)
            fns[f"meta_forward@{b}"] = lambda shaped=shaped: meta_forward(mmodel, shaped)
        got = timer.interleaved(fns, repeats)
        row: dict[str, Any] = {
            "batches": list(FLATNESS_BATCHES),
            "fallback": bool(convcalc.plan(model, inputs).fallback_rows),
        }
        for kind in ("plan", "meta_forward"):
            times = [got[f"{kind}@{b}"]["min_s"] for b in FLATNESS_BATCHES]
            row[kind] = times
            row[f"{kind}_max_over_min"] = max(times) / min(times)
        result[name] = row
        log(
            f"  {name}: plan {' / '.join(_ms(t) for t in row['plan'])} (max/min {row['plan_max_over_min']:.2f}), "
            f"meta {' / '.join(_ms(t) for t in row['meta_forward'])}"
        )
    return result


def resnet50_check(timer: Timer, repeats: int) -> dict[str, Any]:
    """``convcalc.zoo.resnet50()`` numeric plan at 1x3x224x224, interleaved with torchinfo and a meta forward."""
    import torch

    from benchmarks.networks import torch_resnet50
    from convcalc import zoo

    shape = (1, 3, 224, 224)
    model = zoo.resnet50()
    torch.manual_seed(0)
    tmodel = torch_resnet50().eval()
    mmodel = meta_copy(tmodel)
    fns: dict[str, Callable[[], Any]] = {
        "plan": lambda: convcalc.plan(model, shape),
        "plan_torch": lambda: convcalc.plan(tmodel, shape),
        "meta_forward": lambda: meta_forward(mmodel, shape),
    }
    if has_module("torchinfo"):
        import torchinfo

        def run_torchinfo() -> Any:
            with quiet():
                return torchinfo.summary(tmodel, shape, verbose=0)

        fns["torchinfo"] = run_torchinfo
    load_start = os.getloadavg()
    got = timer.interleaved(fns, repeats)
    result: dict[str, Any] = dict(got)
    result["loadavg_start"] = load_start
    result["loadavg_end"] = os.getloadavg()
    base = got["plan"]["min_s"]
    result["ratios_over_plan"] = {k: v["min_s"] / base for k, v in got.items() if k != "plan"}
    result["cpu_ratios_over_plan"] = {
        k: v["cpu_min_s"] / got["plan"]["cpu_min_s"] for k, v in got.items() if k != "plan"
    }
    return result


def profile(name: str, factory: Any, inputs: Any, calls: int = 50, top: int = 25) -> str:
    """cProfile of ``calls`` plans of one corpus model (after one warm call), by cumulative time."""
    import torch

    torch.manual_seed(0)
    model = factory()
    convcalc.plan(model, inputs)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        convcalc.plan(model, inputs)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def summarise(models: dict[str, Any]) -> dict[str, Any]:
    timed = {n: e for n, e in models.items() if "plan_over_meta" in e}
    if not timed:
        return {}
    slowest = max(timed, key=lambda n: timed[n]["plan_over_meta"])
    slower = sorted(
        (n for n, e in timed.items() if e["plan_over_meta"] >= 1), key=lambda n: -timed[n]["plan_over_meta"]
    )
    return {
        "models": len(models),
        "timed": len(timed),
        "slowest": slowest,
        "slowest_ratio": timed[slowest]["plan_over_meta"],
        "fastest_ratio": min(e["plan_over_meta"] for e in timed.values()),
        "plan_slower_than_meta": slower,
        "fallback_models": sorted(n for n, e in models.items() if e["fallback"]),
        "all_faster": not slower,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        "| model | rows | fallback | plan(torch module) | meta forward + hooks | plan / meta forward | "
        "plan / (meta forward + copy) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in result["models"].items():
        fb = f"yes ({e['fallback_rows']} rows)" if e["fallback"] else "no"
        if "plan_over_meta" not in e:
            lines.append(
                f"| {name} | {e['rows']} | {fb} | {_ms(e['plan']['min_s'])} | n/a "
                f"({e.get('meta_forward_error')}) | n/a | n/a |"
            )
            continue
        ratio = e["plan_over_meta"]
        cell = f"**{ratio:.2f}**" if ratio >= 1 else f"{ratio:.2f}"
        lines.append(
            f"| {name} | {e['rows']} | {fb} | {_ms(e['plan']['min_s'])} | {_ms(e['meta_forward']['min_s'])} "
            f"| {cell} | {e['plan_over_meta_with_copy']:.2f} |"
        )
    s = result["summary"]
    if s:
        lines.append("")
        lines.append(
            f"slowest ratio: {s['slowest']} {s['slowest_ratio']:.2f}; fastest {s['fastest_ratio']:.2f}; "
            f"plan slower than the meta forward on {len(s['plan_slower_than_meta'])} of {s['timed']} models"
            + (f" ({', '.join(s['plan_slower_than_meta'])})" if s["plan_slower_than_meta"] else "")
        )
    if result.get("flatness"):
        lines += [
            "",
            "| model | fallback | "
            + " | ".join(f"plan @ {b}" for b in FLATNESS_BATCHES)
            + " | plan max/min | "
            + " | ".join(f"meta @ {b}" for b in FLATNESS_BATCHES)
            + " | meta max/min |",
            "|---|---|" + "---|" * (2 * len(FLATNESS_BATCHES) + 2),
        ]
        for name, r in result["flatness"].items():
            lines.append(
                f"| {name} | {'yes' if r['fallback'] else 'no'} | "
                + " | ".join(_ms(t) for t in r["plan"])
                + f" | {r['plan_max_over_min']:.2f} | "
                + " | ".join(_ms(t) for t in r["meta_forward"])
                + f" | {r['meta_forward_max_over_min']:.2f} |"
            )
    r50 = result.get("resnet50")
    if r50:
        la, lb = r50["loadavg_start"], r50["loadavg_end"]
        lines += [
            "",
            f"ResNet-50 (convcalc.zoo.resnet50(), 1x3x224x224), interleaved, load average {la[0]:.2f} at "
            f"start, {lb[0]:.2f} at end (1-minute):",
            "",
            "| tool | time (min) | ratio to the numeric plan, wall | ratio, thread CPU time |",
            "|---|---|---|---|",
            f"| convcalc plan (numeric) | {_ms(r50['plan']['min_s'])} | 1x | 1x |",
        ]
        for k, v in r50["ratios_over_plan"].items():
            lines.append(f"| {k} | {_ms(r50[k]['min_s'])} | {v:.1f}x | {r50['cpu_ratios_over_plan'][k]:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (for tests; timings not for reporting)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write raw figures ({DEFAULT_JSON})")
    parser.add_argument("--models", nargs="*", default=None, help="a subset of the corpus, by name")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds per model (default 30)")
    parser.add_argument("--no-flatness", action="store_true", help="skip the batch-size section")
    parser.add_argument("--no-resnet50", action="store_true", help="skip the ResNet-50 section")
    parser.add_argument(
        "--profile", nargs="*", default=None, metavar="NAME", help="also cProfile plans of these corpus models"
    )
    args = parser.parse_args(argv)
    if not has_module("torch"):
        print("torch is not installed: the corpus is torch modules", file=sys.stderr)
        return 2
    timer = Timer(args.quick)
    repeats = args.repeats or (2 if args.quick else 30)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    result: dict[str, Any] = {
        "meta": {
            "quick": args.quick,
            "machine": machine(),
            "repeats": repeats,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    }
    models = corpus()
    known = {name: (factory, inputs) for name, factory, inputs in models}
    if args.models is not None:
        unknown = sorted(set(args.models) - set(known))
        if unknown:
            parser.error(f"not in the corpus: {', '.join(unknown)}")
        models = [m for m in models if m[0] in args.models]
    log(f"corpus: {len(models)} models, {repeats} interleaved rounds each")
    result["models"] = {}
    for name, factory, inputs in models:
        e = time_model(name, factory, inputs, timer, repeats)
        result["models"][name] = e
        log(
            f"  {name}: plan {_ms(e['plan']['min_s'])}"
            + (
                f", meta {_ms(e['meta_forward']['min_s'])}, ratio {e['plan_over_meta']:.2f}"
                if "plan_over_meta" in e
                else f", meta forward failed: {e.get('meta_forward_error')}"
            )
            + (" (fallback)" if e["fallback"] else "")
        )
    result["summary"] = summarise(result["models"])
    if not args.no_flatness:
        log("flatness in batch size")
        chosen = {n: known[n] for n in FLATNESS_MODELS if n in known and (args.models is None or n in args.models)}
        result["flatness"] = flatness(chosen, timer, max(2, repeats // 2), log)
    if not args.no_resnet50:
        log("ResNet-50")
        result["resnet50"] = resnet50_check(timer, 2 if args.quick else 30)
    if args.profile:
        result["profile"] = {n: profile(n, *known[n], calls=2 if args.quick else 50) for n in args.profile}
    result["meta"]["loadavg_end"] = os.getloadavg()
    result["meta"]["wall_s"] = time.perf_counter() - started
    print(render(result))
    for n, text in result.get("profile", {}).items():
        print(f"\n## cProfile, {n}\n\n{text}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"\nraw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
