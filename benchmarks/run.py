"""Time convcalc's planning against the tools that run the model, and check their counts.

Run ``python -m benchmarks.run [--quick] [--json PATH] [--profile]`` from the
repository root. Every figure is measured in this process (or, for start-up
times, in a child process), as the minimum and the median of several repeats
after a warm-up, with ``time.perf_counter``. The raw figures go to a JSON file
(``benchmarks/results/latest.json`` by default; that folder is git-ignored) and
the tables to stdout.

What is measured (see docs/benchmarks.md for the results and their reading):

* per network (``benchmarks.networks``): convcalc's numeric plan of the
  convcalc.nn build, its plan of the torch module (``from_torch``, when the
  torch bridge exists), its symbolic plan with ``H, W = convcalc.symbols("H W")``;
  torchinfo ``summary``; a meta-device forward pass with shape-recording hooks;
  ``torch.fx`` ShapeProp (on meta tensors); a real CPU forward pass (what
  "running the model" costs); ptflops and fvcore when importable; and, for
  ResNet-50, ``torch.export.export`` with dynamic H and W;
* each tool's parameter and MAC counts against convcalc's, with every
  difference rebuilt, term by term, from the tool's own counting rule;
* planning time against depth (a chain of conv + ReLU) and against batch size;
* one million conv configurations through the vectorised ``conv_output_size``;
* ``import convcalc`` and CLI start-up against ``python -c pass``;
* symbolic ResNet-50 output sizes against ``torch.export`` for every H in 32..1024.

``--quick`` runs a reduced grid with few repeats (the test suite uses it); its
timings are not for reporting.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import convcalc
from benchmarks.networks import NETWORKS, Network, cc_chain, cc_resnet50, torch_chain

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"

#: Tools timed per network, in table order. ``plan`` is the baseline of every ratio.
TOOLS = (
    "plan",
    "plan_torch",
    "plan_symbolic",
    "torchinfo",
    "meta_forward",
    "fx_shapeprop",
    "cpu_forward",
    "ptflops",
    "fvcore",
    "torch_export_dynamic",
)
# The peers whose parameter and MAC counts the counts table sets beside convcalc's, in its order.
COUNT_TOOLS = (
    "plan_torch",
    "torchinfo",
    "torchinfo_batch2",
    "ptflops",
    "ptflops_no_functional",
    "fvcore",
    "flop_counter",
)
TOOL_LABELS = {
    "plan": "convcalc plan (numeric)",
    "plan_torch": "convcalc plan(torch module)",
    "plan_symbolic": "convcalc plan (symbolic H, W)",
    "torchinfo": "torchinfo.summary",
    "meta_forward": "meta forward + hooks",
    "fx_shapeprop": "fx trace + ShapeProp (meta)",
    "cpu_forward": "real CPU forward (no_grad)",
    "ptflops": "ptflops",
    "fvcore": "fvcore FlopCountAnalysis",
    "torch_export_dynamic": "torch.export (dynamic H, W)",
}


# --------------------------------------------------------------------------- #
# Timing
# --------------------------------------------------------------------------- #


class Timer:
    """How many repeats to take: ``fast`` settings for convcalc, ``slow`` ones for the peers."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick

    def measure(
        self,
        fn: Callable[[], Any],
        *,
        slow: bool = False,
        repeats: int | None = None,
        warmup: int | None = None,
        budget_s: float | None = None,
    ) -> dict[str, Any]:
        """Warm up, then time ``fn`` ``repeats`` times (fewer when ``budget_s`` runs out, never below 1 for
        quick runs or 3 for full ones). Returns min, median and every time, in seconds."""
        if self.quick:
            repeats = repeats or (1 if slow else 5)
            warmup = 0 if (warmup is None and slow) else (1 if warmup is None else warmup)
            budget_s = budget_s or (2.0 if slow else 0.5)
            floor = 1
        else:
            repeats = repeats or (15 if slow else 30)
            warmup = 1 if warmup is None else warmup
            budget_s = budget_s or (15.0 if slow else 3.0)
            floor = min(3, repeats)
        for _ in range(warmup):
            fn()
        times: list[float] = []
        cpu: list[float] = []
        start = time.perf_counter()
        for i in range(repeats):
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if i + 1 >= floor and time.perf_counter() - start > budget_s:
                break
        return {
            "min_s": min(times),
            "median_s": statistics.median(times),
            "repeats": len(times),
            "times_s": times,
            "cpu_min_s": min(cpu),
        }

    def interleaved(self, fns: dict[Any, Callable[[], Any]], repeats: int) -> dict[Any, dict[str, Any]]:
        """Time several functions in rounds (one call of each per round), so that a burst of load from other
        processes hits every size alike instead of skewing one of them. One warm-up round first."""
        if self.quick:
            repeats = min(repeats, 3)
        for fn in fns.values():
            fn()
        times: dict[Any, list[float]] = {k: [] for k in fns}
        cpu: dict[Any, list[float]] = {k: [] for k in fns}
        for _ in range(repeats):
            for k, fn in fns.items():
                c0 = time.thread_time()
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
                cpu[k].append(time.thread_time() - c0)
        return {
            k: {
                "min_s": min(t),
                "median_s": statistics.median(t),
                "repeats": len(t),
                "times_s": t,
                "cpu_min_s": min(cpu[k]),
            }
            for k, t in times.items()
        }


def na(reason: str) -> dict[str, Any]:
    return {"status": "n/a", "reason": reason}


def error(exc: BaseException) -> dict[str, Any]:
    text = str(exc).strip().splitlines()
    return {"status": "error", "reason": f"{type(exc).__name__}: {text[0][:300] if text else ''}"}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the peers' warnings and prints (ptflops and fvcore print and warn freely)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def torch_bridge_state() -> str | None:
    """None when ``convcalc.plan(torch_module, ...)`` is available, else why not."""
    if not has_module("torch"):
        return "torch is not installed"
    if not has_module("convcalc.torch_bridge"):
        return "convcalc.torch_bridge does not exist yet"
    return None


# --------------------------------------------------------------------------- #
# The peers, one function each
# --------------------------------------------------------------------------- #


def meta_model(model: Any) -> Any:
    return copy.deepcopy(model).to("meta")


def meta_forward_shapes(model: Any, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """A forward pass on the meta device that records every module's output shape with hooks."""
    import torch

    shapes: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for name, module in model.named_modules():

        def hook(mod: Any, inp: Any, out: Any, name: str = name) -> None:
            if isinstance(out, torch.Tensor):
                shapes.append((name, tuple(out.shape)))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.empty(shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return shapes


def fx_shapeprop(model: Any, shape: tuple[int, ...]) -> Any:
    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    gm = symbolic_trace(model)
    ShapeProp(gm).propagate(torch.empty(shape, device="meta"))
    return gm


def cpu_forward(model: Any, x: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(x)


def run_torchinfo(model: Any, shape: tuple[int, ...], device: str | None = None) -> Any:
    import torchinfo

    with quiet():
        return torchinfo.summary(model, shape, verbose=0, device=device)


def run_ptflops(model: Any, shape: tuple[int, ...], count_functional: bool = True) -> tuple[int, int]:
    from ptflops import get_model_complexity_info

    with quiet():
        macs, params = get_model_complexity_info(
            model,
            tuple(shape[1:]),
            as_strings=False,
            print_per_layer_stat=False,
            ost=io.StringIO(),
            backend="pytorch",
            backend_specific_config={"count_functional": count_functional},
        )
    if macs is None:
        raise RuntimeError("ptflops returned None (it caught an exception)")
    return int(macs), int(params)


def run_fvcore(model: Any, x: Any) -> Any:
    import torch
    from fvcore.nn import FlopCountAnalysis

    with quiet(), torch.no_grad():
        fa = FlopCountAnalysis(model, x)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        fa.total()
    return fa


def export_dynamic(model: Any, example: Any, lo: int = 33, hi: int = 1024) -> Any:
    """``torch.export.export`` with H and W dynamic in [lo, hi].

    The lower bound is 33, not 32: at H = 32 ResNet-50's last stage is 1 x 1, and
    export specialises a size of 1 (its "0/1 specialisation"), so it refuses a
    range that includes 32. H = 32 is checked with a meta forward instead.
    """
    from torch.export import Dim, export

    h, w = Dim("H", min=lo, max=hi), Dim("W", min=lo, max=hi)
    with quiet():
        return export(model, (example,), dynamic_shapes={"x": {2: h, 3: w}})


# --------------------------------------------------------------------------- #
# Section 1: per-network timings
# --------------------------------------------------------------------------- #


def time_network(net: Network, timer: Timer, peers: bool, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    model = net.convcalc()
    shape = net.input_shape
    out["plan"] = timer.measure(lambda: convcalc.plan(model, shape))
    h, w = convcalc.symbols("H W")
    sym_shape = (shape[0], shape[1], h, w)
    out["plan_symbolic"] = timer.measure(lambda: convcalc.plan(model, sym_shape))
    log(
        f"  {net.name}: plan {out['plan']['min_s'] * 1e3:.3f} ms, symbolic {out['plan_symbolic']['min_s'] * 1e3:.2f} ms"
    )

    if not has_module("torch"):
        for tool in TOOLS[3:]:
            out[tool] = na("torch is not installed")
        out["plan_torch"] = na("torch is not installed")
        return out
    import torch

    tmodel = net.torch()
    bridge = torch_bridge_state()
    if bridge is not None:
        out["plan_torch"] = na(bridge)
    else:
        try:
            fresh = net.torch()
            t0 = time.perf_counter()
            convcalc.plan(fresh, shape)
            cold = time.perf_counter() - t0
            out["plan_torch"] = timer.measure(lambda: convcalc.plan(tmodel, shape))
            out["plan_torch"]["cold_first_call_s"] = cold
        except Exception as exc:  # the bridge is being written concurrently: record, don't crash
            out["plan_torch"] = error(exc)
    if not peers:
        for tool in TOOLS[3:]:
            out[tool] = na("skipped in --quick (peers run on AlexNet only)")
        return out

    mmodel = meta_model(tmodel)
    x = torch.randn(shape)
    runs: dict[str, Callable[[], Any]] = {
        "torchinfo": lambda: run_torchinfo(tmodel, shape),
        "meta_forward": lambda: meta_forward_shapes(mmodel, shape),
        "fx_shapeprop": lambda: fx_shapeprop(mmodel, shape),
        "cpu_forward": lambda: cpu_forward(tmodel, x),
    }
    if has_module("ptflops"):
        runs["ptflops"] = lambda: run_ptflops(tmodel, shape)
    else:
        out["ptflops"] = na("ptflops is not installed")
    if has_module("fvcore"):
        runs["fvcore"] = lambda: run_fvcore(tmodel, x)
    else:
        out["fvcore"] = na("fvcore is not installed")
    for tool, fn in runs.items():
        try:
            slow = tool not in ("meta_forward", "fx_shapeprop")
            out[tool] = timer.measure(fn, slow=slow, repeats=None if slow else (3 if timer.quick else 15))
            log(f"  {net.name}: {tool} {out[tool]['min_s'] * 1e3:.1f} ms")
        except Exception as exc:
            out[tool] = error(exc)
            log(f"  {net.name}: {tool} failed: {out[tool]['reason']}")
    t0 = time.perf_counter()
    meta_model(tmodel)
    out["meta_forward"]["to_meta_copy_s"] = time.perf_counter() - t0  # not included in meta_forward's time

    if net.name == "resnet50" and not timer.quick:
        try:
            out["torch_export_dynamic"] = timer.measure(
                lambda: export_dynamic(tmodel, torch.randn(shape)), slow=True, repeats=3, budget_s=60.0
            )
            log(f"  {net.name}: torch.export {out['torch_export_dynamic']['min_s']:.2f} s")
        except Exception as exc:
            out["torch_export_dynamic"] = error(exc)
    else:
        out["torch_export_dynamic"] = na("run for ResNet-50 in the full run only (it is slow)")
    return out


def ratios(timings: dict[str, Any]) -> dict[str, Any]:
    """peer time / convcalc numeric plan time, from the minima (and from the medians)."""
    result: dict[str, Any] = {}
    for name, tools in timings.items():
        base = tools["plan"]
        row = {}
        for tool in TOOLS[1:]:
            t = tools.get(tool, {})
            if "min_s" in t:
                row[tool] = {"min": t["min_s"] / base["min_s"], "median": t["median_s"] / base["median_s"]}
            else:
                row[tool] = None
        result[name] = row
    return result


# --------------------------------------------------------------------------- #
# Section 2: counts, each difference rebuilt from the tool's own rule
# --------------------------------------------------------------------------- #


def _numel(shape: tuple[Any, ...]) -> int:
    return math.prod(int(d) for d in shape)


def plan_terms(net: Network) -> dict[str, int]:
    """Totals, read off convcalc's plan, of everything a peer might count besides the MACs."""
    model = net.convcalc()
    plan = convcalc.plan(model, net.input_shape)
    with_bias = convcalc.plan(model, net.input_shape, macs="macs+bias")
    terms = {
        "macs": int(plan.macs),
        "bias_adds": int(with_bias.macs) - int(plan.macs),
        "bn_elements": 0,
        "bn_params": 0,
        "relu_elements": 0,
        "maxpool_input_elements": 0,
        "adaptive_avgpool_input_elements": 0,
        "add_elements": 0,
        "conv_params_x_out_positions": 0,  # torchinfo's rule for (transposed) convolutions
        "linear_params": 0,
    }
    for r in plan.rows:
        if r.kind.startswith("BatchNorm"):
            terms["bn_elements"] += _numel(r.output_shape)
            terms["bn_params"] += int(r.trainable)
        elif r.kind == "ReLU":
            terms["relu_elements"] += _numel(r.output_shape)
        elif r.kind.startswith("MaxPool"):
            terms["maxpool_input_elements"] += _numel(r.input_shape)
        elif r.kind.startswith("AdaptiveAvgPool"):
            terms["adaptive_avgpool_input_elements"] += _numel(r.input_shape)
        elif r.kind == "Add":
            terms["add_elements"] += _numel(r.output_shape)
        elif r.kind.startswith(("Conv", "ConvTranspose")):
            terms["conv_params_x_out_positions"] += (
                int(r.trainable) * _numel(r.output_shape[2:]) * int(r.output_shape[0])
            )
        elif r.kind == "Linear":
            terms["linear_params"] += int(r.trainable)
    terms["params"] = int(plan.total_params)
    return terms


#: Each tool's counting rule, as a sum of plan terms (coefficient, term), and its wording.
RULES: dict[str, tuple[list[tuple[int, str]], str]] = {
    "torchinfo": (
        [(1, "conv_params_x_out_positions"), (1, "linear_params"), (1, "bn_params")],
        "torchinfo: every parameter of a layer x its output positions for Conv*/ConvTranspose* (so bias adds "
        "are in, and a transposed conv is charged per *output* position: 4x its MACs for k2 s2), parameter "
        "count for other layers (Linear: MACs + bias; BatchNorm: 2C), all x batch",
    ),
    "fvcore": (
        [(1, "macs"), (2, "bn_elements"), (1, "adaptive_avgpool_input_elements")],
        "fvcore: 1 per MAC for conv/linear (bias not counted) + 2 per BatchNorm element (eval, affine) + 1 per "
        "adaptive-avg-pool input element; ReLU, max-pool and adds are unsupported ops and skipped",
    ),
    "ptflops": (
        [
            (1, "macs"),
            (1, "bias_adds"),
            (2, "bn_elements"),
            (2, "relu_elements"),
            (2, "maxpool_input_elements"),
            (2, "adaptive_avgpool_input_elements"),
        ],
        "ptflops (pytorch backend, defaults): MACs + bias adds + 2 per BatchNorm element + ReLU outputs, "
        "max-pool and adaptive-pool inputs counted TWICE (module hook + its patched torch.nn.functional call); "
        "`out += identity` not counted",
    ),
    "ptflops_no_functional": (
        [
            (1, "macs"),
            (1, "bias_adds"),
            (2, "bn_elements"),
            (1, "relu_elements"),
            (1, "maxpool_input_elements"),
            (1, "adaptive_avgpool_input_elements"),
        ],
        "ptflops with count_functional=False: MACs + bias adds + 2 per BN element + 1 per ReLU output + 1 per "
        "pool input element",
    ),
    "flop_counter": (
        [(2, "macs")],
        "torch.utils.flop_counter.FlopCounterMode: FLOPs = 2 x MACs of conv/linear (bias not counted)",
    ),
    "plan_torch": ([(1, "macs")], "convcalc's own plan of the torch module: must equal exactly"),
}


def explain(tool: str, value: int, terms: dict[str, int], batch: int = 1) -> dict[str, Any]:
    parts, wording = RULES[tool]
    expected = sum(c * terms[t] for c, t in parts) * (batch if tool == "torchinfo" else 1)
    used = [f"{c} x {t} ({terms[t]:,})" for c, t in parts if terms[t]]
    return {
        "value": value,
        "diff_vs_convcalc": value - terms["macs"] * (2 if tool == "flop_counter" else 1),
        "expected_by_rule": expected,
        "residual": value - expected,
        "explained": value == expected,
        "rule": wording,
        "terms": used,
    }


def count_network(net: Network, peers: bool) -> dict[str, Any]:
    terms = plan_terms(net)
    out: dict[str, Any] = {
        "convcalc": {"params": terms["params"], "macs": terms["macs"]},
        "terms": terms,
        "published": {"params": net.params, "macs": net.macs},
    }
    if not has_module("torch"):
        return out
    import torch

    tmodel = net.torch()
    x = torch.randn(net.input_shape)
    torch_params = sum(p.numel() for p in tmodel.parameters())
    out["torch_parameters"] = torch_params
    if torch_bridge_state() is None:
        try:
            p = convcalc.plan(tmodel, net.input_shape)
            out["plan_torch"] = {"params": int(p.total_params), **explain("plan_torch", int(p.macs), terms)}
        except Exception as exc:
            out["plan_torch"] = error(exc)
    else:
        out["plan_torch"] = na(torch_bridge_state() or "")
    if not peers:
        return out
    try:
        s = run_torchinfo(tmodel, net.input_shape)
        out["torchinfo"] = {"params": int(s.total_params), **explain("torchinfo", int(s.total_mult_adds), terms)}
        if net.name == "alexnet":  # show the batch factor once
            b = 2
            s2 = run_torchinfo(tmodel, (b, *net.input_shape[1:]))
            out["torchinfo_batch2"] = {
                "params": int(s2.total_params),
                **explain("torchinfo", int(s2.total_mult_adds), terms, batch=b),
            }
    except Exception as exc:
        out["torchinfo"] = error(exc)
    if has_module("ptflops"):
        try:
            macs, params = run_ptflops(tmodel, net.input_shape)
            out["ptflops"] = {"params": params, **explain("ptflops", macs, terms)}
            macs, params = run_ptflops(tmodel, net.input_shape, count_functional=False)
            out["ptflops_no_functional"] = {"params": params, **explain("ptflops_no_functional", macs, terms)}
        except Exception as exc:
            out["ptflops"] = error(exc)
    else:
        out["ptflops"] = na("ptflops is not installed")
    if has_module("fvcore"):
        try:
            from fvcore.nn import parameter_count

            fa = run_fvcore(tmodel, x)
            out["fvcore"] = {
                "params": int(parameter_count(tmodel)[""]),
                **explain("fvcore", int(fa.total()), terms),
                "by_operator": {k: int(v) for k, v in fa.by_operator().items()},
            }
        except Exception as exc:
            out["fvcore"] = error(exc)
    else:
        out["fvcore"] = na("fvcore is not installed")
    try:
        from torch.utils.flop_counter import FlopCounterMode

        mm = meta_model(tmodel)
        with quiet(), FlopCounterMode(display=False) as fc, torch.no_grad():
            mm(torch.empty(net.input_shape, device="meta"))
        out["flop_counter"] = {"params": torch_params, **explain("flop_counter", int(fc.get_total_flops()), terms)}
    except Exception as exc:
        out["flop_counter"] = error(exc)
    return out


# --------------------------------------------------------------------------- #
# Section 3: scaling with depth and batch
# --------------------------------------------------------------------------- #


def depth_scaling(timer: Timer, log: Callable[[str], None]) -> dict[str, Any]:
    """A chain of 50..1000 x (Conv2d(16, 16, 3, padding=1) + ReLU): numeric, symbolic, plan(torch module).

    The depths are timed in interleaved rounds (see ``Timer.interleaved``), in wall-clock time and in the
    thread's CPU time. Linearity is judged on CPU time: on a loaded machine a 10 ms plan is preempted far
    more often than a 0.5 ms one, which inflates wall-clock ratios between long and short runs.
    """
    depths = [50, 100, 200, 500, 1000]
    h, w = convcalc.symbols("H W")
    models = {d: cc_chain(d) for d in depths}
    numeric = timer.interleaved({d: (lambda m=models[d]: convcalc.plan(m, (1, 16, 64, 64))) for d in depths}, 30)
    symbolic = timer.interleaved({d: (lambda m=models[d]: convcalc.plan(m, (1, 16, h, w))) for d in depths}, 10)
    bridge = torch_bridge_state()
    from_torch: dict[int, dict[str, Any]]
    if bridge is None:
        try:
            tms = {d: torch_chain(d) for d in depths}
            from_torch = timer.interleaved(
                {d: (lambda m=tms[d]: convcalc.plan(m, (1, 16, 64, 64))) for d in depths}, 10
            )
        except Exception as exc:
            from_torch = {d: error(exc) for d in depths}
    else:
        from_torch = {d: na(bridge) for d in depths}
    rows = []
    for d in depths:
        rows.append(
            {"depth": d, "layers": 2 * d, "numeric": numeric[d], "symbolic": symbolic[d], "plan_torch": from_torch[d]}
        )
        log(f"  depth {d}: numeric {numeric[d]['min_s'] * 1e3:.2f} ms, symbolic {symbolic[d]['min_s'] * 1e3:.1f} ms")
    first, last = rows[0], rows[-1]
    summary = {}
    for kind in ("numeric", "symbolic", "plan_torch"):
        if "min_s" in first[kind] and "min_s" in last[kind]:
            summary[kind] = {
                "ratio_1000_over_50": last[kind]["min_s"] / first[kind]["min_s"],
                "cpu_ratio_1000_over_50": last[kind]["cpu_min_s"] / first[kind]["cpu_min_s"],
                "cpu_us_per_layer_at_50": first[kind]["cpu_min_s"] / first["layers"] * 1e6,
                "cpu_us_per_layer_at_1000": last[kind]["cpu_min_s"] / last["layers"] * 1e6,
            }
        else:
            summary[kind] = None
    return {"rows": rows, "summary": summary, "target_ratio_at_most": 25.0}


def batch_scaling(timer: Timer, log: Callable[[str], None]) -> dict[str, Any]:
    """ResNet-50 (AlexNet in --quick) at batch 1..1024: convcalc, torchinfo (CPU, then on the meta device)."""
    name = "alexnet" if timer.quick else "resnet50"
    net = NETWORKS[name]
    batches = [1, 4, 16, 64, 256, 1024]
    cpu_limit = 4 if timer.quick else 64
    model = net.convcalc()
    rows = []
    have_torch = has_module("torch") and has_module("torchinfo")
    tmodel = net.torch() if has_module("torch") else None
    bridge = torch_bridge_state()
    shapes = {b: (b, *net.input_shape[1:]) for b in batches}
    plans = timer.interleaved({b: (lambda s=shapes[b]: convcalc.plan(model, s)) for b in batches}, 30)
    from_torch: dict[int, dict[str, Any]]
    if bridge is None and tmodel is not None:
        try:
            from_torch = timer.interleaved({b: (lambda s=shapes[b]: convcalc.plan(tmodel, s)) for b in batches}, 10)
        except Exception as exc:
            from_torch = {b: error(exc) for b in batches}
    else:
        from_torch = {b: na(bridge or "torch is not installed") for b in batches}
    metas: dict[int, dict[str, Any]] = {b: na("torch is not installed") for b in batches}
    if tmodel is not None:
        mm = meta_model(tmodel)
        metas = timer.interleaved({b: (lambda s=shapes[b]: meta_forward_shapes(mm, s)) for b in batches}, 7)
    for b in batches:
        shape = shapes[b]
        row: dict[str, Any] = {"batch": b, "plan": plans[b], "plan_torch": from_torch[b], "meta_forward": metas[b]}
        if have_torch and b <= cpu_limit:
            row["torchinfo_cpu"] = timer.measure(
                lambda shape=shape: run_torchinfo(tmodel, shape),
                slow=True,
                repeats=3 if b <= 16 else 1,
                warmup=1 if b == 1 else 0,
            )
        else:
            row["torchinfo_cpu"] = na(
                f"not run above batch {cpu_limit}: a real forward at batch {b} takes minutes and GBs here"
                if have_torch
                else "torchinfo is not installed"
            )
        if have_torch:
            mm2 = meta_model(tmodel)
            try:
                row["torchinfo_meta"] = timer.measure(
                    lambda shape=shape, mm2=mm2: run_torchinfo(mm2, shape, "meta"), slow=True, repeats=5
                )
            except Exception as exc:
                row["torchinfo_meta"] = error(exc)
        else:
            row["torchinfo_meta"] = na("torchinfo is not installed")
        log(
            "  batch {}: plan {:.3f} ms, torchinfo cpu {}".format(
                b,
                row["plan"]["min_s"] * 1e3,
                f"{row['torchinfo_cpu']['min_s']:.2f} s" if "min_s" in row["torchinfo_cpu"] else "n/a",
            )
        )
        rows.append(row)
    plan_times = [r["plan"]["min_s"] for r in rows]
    return {
        "network": name,
        "rows": rows,
        "plan_max_over_min": max(plan_times) / min(plan_times),
        "plan_1024_over_1": plan_times[-1] / plan_times[0],
    }


# --------------------------------------------------------------------------- #
# Section 4: the vectorised formula, start-up, the symbolic check
# --------------------------------------------------------------------------- #


def vectorised(timer: Timer, n: int = 1_000_000) -> dict[str, Any]:
    if not has_module("numpy"):
        return na("numpy is not installed")
    import numpy as np

    rng = np.random.default_rng(0)
    k = rng.integers(1, 12, n)
    s = rng.integers(1, 5, n)
    p = rng.integers(0, 6, n)
    d = rng.integers(1, 4, n)
    extent = d * (k - 1) + 1
    size = np.maximum(extent - 2 * p, 1) + rng.integers(0, 1024, n)  # every configuration fits
    expected = (size + 2 * p - extent) // s + 1
    result = timer.measure(lambda: convcalc.conv_output_size(size, k, s, p, d), repeats=3 if timer.quick else 10)
    got = convcalc.conv_output_size(size, k, s, p, d)
    result.update(
        {
            "configurations": n,
            "correct": bool(np.array_equal(np.asarray(got), expected)),
            "ns_per_configuration": result["min_s"] / n * 1e9,
            "target_s": 0.2,
        }
    )
    return result


def _startup_in(env: dict[str, str], repeats: int) -> dict[str, Any]:
    """Whole-process times, the commands interleaved round by round so that a change of load hits them alike.

    ``python -c "import re"`` is the floor of any console script that pip writes: its wrapper imports
    ``re`` and ``sys`` before it imports the package.
    """
    py = sys.executable
    size = ["size", "227", "-k", "11", "-s", "4"]
    commands = {
        "python_pass": [py, "-c", "pass"],
        "python_import_re": [py, "-c", "import re"],
        "import_convcalc": [py, "-c", "import convcalc"],
        "cli_module": [py, "-m", "convcalc", *size],
    }
    script = Path(py).parent / "convcalc"
    if script.exists():
        commands["cli_script"] = [str(script), *size]
    times: dict[str, list[float]] = {name: [] for name in commands}
    procs: dict[str, subprocess.CompletedProcess[str]] = {}
    for _ in range(repeats):
        for name, args in commands.items():
            t0 = time.perf_counter()
            procs[name] = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False, env=env)
            times[name].append(time.perf_counter() - t0)
    out: dict[str, Any] = {}
    for name, values in times.items():
        proc = procs[name]
        out[name] = {
            "min_s": min(values),
            "median_s": statistics.median(values),
            "repeats": repeats,
            "returncode": proc.returncode,
            "stdout_head": proc.stdout.strip()[:200],
            "stderr_tail": proc.stderr.strip()[-300:],
        }
    bare = out["python_pass"]["min_s"]
    out["import_overhead_s"] = out["import_convcalc"]["min_s"] - bare
    # in-process figure from -X importtime (microseconds, cumulative, for the top-level package); best of 3
    cumulative = []
    for _ in range(3):
        proc = subprocess.run(
            [py, "-X", "importtime", "-c", "import convcalc"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            env=env,
        )
        cumulative += [
            int(line.split("|")[1])
            for line in proc.stderr.splitlines()
            if line.rstrip().endswith("| convcalc") and line.count("|") == 2
        ]
    out["importtime_cumulative_s"] = min(cumulative) / 1e6 if cumulative else None
    cli = out.get("cli_script", out["cli_module"])
    out["cli_size"] = cli
    out["cli_command"] = "convcalc" if "cli_script" in out else "python -m convcalc"
    ok = cli["returncode"] == 0
    out["cli_prints_55"] = ok and cli["stdout_head"] == "55"
    out["cli_overhead_s"] = cli["min_s"] - bare if ok else None
    out["cli_over_pass"] = cli["min_s"] / bare if ok else None
    out["import_re_over_pass"] = out["python_import_re"]["min_s"] / bare
    return out


def startup(timer: Timer) -> dict[str, Any]:
    """Process start-up, with a warm bytecode cache (as an installed package runs) and with none.

    Both use a private, fresh PYTHONPYCACHEPREFIX, so neither depends on whatever
    ``__pycache__`` folders other processes left in the tree (nothing is written
    into it). "No cache" also sets PYTHONDONTWRITEBYTECODE: every module, the
    standard library's included, is compiled from source on every start.
    """
    import tempfile

    repeats = 3 if timer.quick else 15
    py = sys.executable
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    out: dict[str, Any] = {"environment_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")}
    with tempfile.TemporaryDirectory(prefix="convcalc-pyc-") as cache:
        cached = {**base, "PYTHONPYCACHEPREFIX": cache}
        for warm in (["-c", "import convcalc"], ["-m", "convcalc", "size", "227", "-k", "11", "-s", "4"]):
            subprocess.run([py, *warm], capture_output=True, cwd=ROOT, check=False, env=cached)
        out.update(_startup_in(cached, repeats))
    out["bytecode_cached"] = {k: out[k] for k in list(out) if k != "environment_PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="convcalc-nopyc-") as empty:
        cold = {**base, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        out["no_bytecode_cache"] = _startup_in(cold, repeats)
    heavy = subprocess.run(
        [py, "-c", "import convcalc, sys; print(','.join(m for m in ('sympy', 'numpy', 'torch') if m in sys.modules))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    out["heavy_modules_after_import"] = [m for m in heavy.stdout.strip().split(",") if m]
    return out


def _expr_value(expr: Any, subs: dict[Any, int]) -> int:
    expr = expr.to_sympy() if hasattr(expr, "to_sympy") else expr
    return int(expr.subs(subs)) if hasattr(expr, "subs") else int(expr)


def symbolic_check(timer: Timer, log: Callable[[str], None]) -> dict[str, Any]:
    """convcalc's symbolic ResNet-50 (last stage, before the pool) against torch, for H = W = 32..1024.

    torch's side is the symbolic shape torch.export derives (H, W in 33..1024) plus
    meta forwards at 32 (outside export's range) and at spot values that check the
    export expression itself. In --quick, meta forwards at the spot values only.
    """
    h, w = convcalc.symbols("H W")
    plan = convcalc.plan(cc_resnet50(), (1, 3, h, w))
    row = next(r for r in plan.rows if r.kind == "AdaptiveAvgPool2d")
    cc_h, cc_w = row.input_shape[2], row.input_shape[3]
    out: dict[str, Any] = {"convcalc_expression": [str(cc_h), str(cc_w)], "layer": row.name}
    if not has_module("torch"):
        return {**out, **na("torch is not installed")}
    import torch

    from benchmarks.networks import torch_resnet50

    tmodel = torch_resnet50()
    mm = meta_model(tmodel)
    spots = [32, 33, 63, 64, 65, 97, 224, 225, 511, 512, 513, 1023, 1024]
    mismatches: list[dict[str, Any]] = []

    def torch_meta(v: int) -> tuple[int, int]:
        shapes = dict(meta_forward_shapes(mm, (1, 3, v, v)))
        return shapes["layer4"][2], shapes["layer4"][3]

    for v in spots:
        got = (_expr_value(cc_h, {h: v}), _expr_value(cc_w, {w: v}))
        ref = torch_meta(v)
        if got != ref:
            mismatches.append({"H": v, "convcalc": got, "torch_meta": ref})
    out["meta_forward_spot_values"] = spots
    checked = len(spots)
    if not timer.quick:
        try:
            ep = export_dynamic(tmodel, torch.randn(1, 3, 224, 224))
            user_input = ep.graph_signature.user_inputs[0]
            xnode = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name == user_input)
            sh, sw = (xnode.meta["val"].shape[i].node.expr for i in (2, 3))
            pool = next(n for n in ep.graph.nodes if n.op == "call_function" and "adaptive_avg_pool2d" in str(n.target))
            th, tw = (pool.args[0].meta["val"].shape[i].node.expr for i in (2, 3))
            out["torch_export_expression"] = [str(th), str(tw)]
            for v in range(33, 1025):
                got = (_expr_value(cc_h, {h: v}), _expr_value(cc_w, {w: v}))
                ref = (int(th.subs({sh: v, sw: v})), int(tw.subs({sh: v, sw: v})))
                if got != ref:
                    mismatches.append({"H": v, "convcalc": got, "torch_export": ref})
            checked = 1024 - 32 + 1
            out["range"] = [32, 1024]
        except Exception as exc:
            out["torch_export"] = error(exc)
    out["values_checked"] = checked
    out["mismatches"] = mismatches[:20]
    out["all_equal"] = not mismatches
    log(f"  symbolic check: {checked} values, {len(mismatches)} mismatches")
    return out


# --------------------------------------------------------------------------- #
# Profiling (``--profile``)
# --------------------------------------------------------------------------- #


def profile_plans(top: int = 15) -> dict[str, str]:
    import cProfile
    import pstats

    h, w = convcalc.symbols("H W")
    model = cc_resnet50()
    reports = {}
    cases: list[tuple[str, Any, Any, int]] = [
        ("numeric", model, (1, 3, 224, 224), 200),
        ("symbolic", model, (1, 3, h, w), 20),
    ]
    if torch_bridge_state() is None:
        from benchmarks.networks import torch_resnet50

        cases.append(("plan(torch module)", torch_resnet50(), (1, 3, 224, 224), 10))
    for label, model, shape, n in cases:
        convcalc.plan(model, shape)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            convcalc.plan(model, shape)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
        reports[label] = buf.getvalue()
    return reports


# --------------------------------------------------------------------------- #
# Targets and tables
# --------------------------------------------------------------------------- #


def targets(result: dict[str, Any]) -> dict[str, Any]:
    t = result["timings"].get("resnet50", {})
    r = result["ratios"].get("resnet50", {})
    out: dict[str, Any] = {}

    def ratio(tool: str) -> float | None:
        v = r.get(tool)
        return v["min"] if v else None

    def add(name: str, value: float | None, goal: str, met: bool | None) -> None:
        out[name] = {"value": value, "target": goal, "met": met}

    v = ratio("torchinfo")
    add("resnet50_torchinfo_over_plan", v, ">= 100", None if v is None else v >= 100)
    v = ratio("meta_forward")
    add("resnet50_meta_forward_over_plan", v, ">= 20", None if v is None else v >= 20)
    pt, mf = t.get("plan_torch", {}), t.get("meta_forward", {})
    v = (mf["min_s"] / pt["min_s"]) if ("min_s" in pt and "min_s" in mf) else None
    add(
        "resnet50_meta_forward_over_plan_torch",
        v,
        "> 1 (plan(torch module) faster than a meta forward)",
        None if v is None else v > 1,
    )
    ex, sy = t.get("torch_export_dynamic", {}), t.get("plan_symbolic", {})
    v = (ex["min_s"] / sy["min_s"]) if ("min_s" in ex and "min_s" in sy) else None
    add("resnet50_export_over_symbolic", v, ">= 10", None if v is None else v >= 10)
    for kind in ("numeric", "symbolic"):
        s = result["scaling"]["depth"]["summary"].get(kind)
        v = s["cpu_ratio_1000_over_50"] if s else None
        add(f"depth_{kind}_1000_over_50_cpu", v, "<= 25 (linear; CPU time)", None if v is None else v <= 25)
        v = s["ratio_1000_over_50"] if s else None
        add(
            f"depth_{kind}_1000_over_50_wall",
            v,
            "<= 25 (linear; wall clock, load-sensitive)",
            None if v is None else v <= 25,
        )
    b = result["scaling"]["batch"]
    add("batch_plan_max_over_min", b["plan_max_over_min"], "<= 1.5 (flat in batch)", b["plan_max_over_min"] <= 1.5)
    vec = result["vectorised"]
    v = vec.get("min_s")
    add("vectorised_1e6_s", v, "< 0.2 s", None if v is None else (v < 0.2 and vec["correct"]))
    st = result["startup"]["bytecode_cached"]
    v = st.get("importtime_cumulative_s")
    add("import_convcalc_s", v, "< 0.03 s (-X importtime, cumulative, .pyc cached)", None if v is None else v < 0.03)
    v = st.get("cli_over_pass")
    add(
        "cli_size_over_python_pass",
        v,
        f"<= 1.5 ({st.get('cli_command')} size 227 -k 11 -s 4, whole process)",
        None if v is None else v <= 1.5,
    )
    sc = result["symbolic_check"]
    add("symbolic_resnet50_equals_torch", sc.get("values_checked"), "all equal", sc.get("all_equal"))
    return out


def _fmt_time(t: dict[str, Any] | None) -> str:
    if not t or "min_s" not in t:
        return "n/a"
    s = t["min_s"]
    return f"{s * 1e3:.3f} ms" if s < 0.01 else (f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s")


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.0f}x" if v >= 10 else f"{v:.1f}x"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def render(result: dict[str, Any]) -> str:
    parts = []
    nets = list(result["timings"])
    parts.append("## Planning time (min over repeats) and ratio peer / convcalc numeric plan\n")
    headers = ["tool", *nets]
    rows = [["convcalc plan (numeric), time", *(_fmt_time(result["timings"][n]["plan"]) for n in nets)]]
    for tool in TOOLS[1:]:
        rows.append([TOOL_LABELS[tool] + ", time", *(_fmt_time(result["timings"][n].get(tool)) for n in nets)])
        ratio_cells = []
        for n in nets:
            v = result["ratios"][n].get(tool)
            ratio_cells.append(_fmt_ratio(v["min"]) if v else "n/a")
        rows.append(["  ratio / plan", *ratio_cells])
    parts.append(_table(headers, rows))

    parts.append("\n## Counts: params and MACs against convcalc (conv+linear MACs, bias excluded, per sample)\n")
    rows = []
    for n, c in result["counts"].items():
        cc = c["convcalc"]
        rows.append([n, "convcalc", f"{cc['params']:,}", f"{cc['macs']:,}", "", "", "reference"])
        for tool in COUNT_TOOLS:
            e = c.get(tool)
            if not e:
                continue
            if "value" not in e:
                rows.append([n, tool, "", "", "", "", e.get("reason", "")])
                continue
            pmatch = "=" if e["params"] == cc["params"] else f"{e['params']:,}"
            rows.append(
                [
                    n,
                    tool,
                    pmatch,
                    f"{e['value']:,}",
                    f"{e['diff_vs_convcalc']:+,}",
                    "exact" if e["explained"] else f"residual {e['residual']:+,}",
                    RULES[tool.replace("_batch2", "")][1][:60] + "...",
                ]
            )
    parts.append(_table(["net", "tool", "params", "MACs/FLOPs", "diff vs convcalc", "rule check", "rule"], rows))

    d = result["scaling"]["depth"]
    parts.append("\n## Planning time vs depth (chain of Conv2d(16,16,3,p=1)+ReLU, 64x64)\n")

    def cpu_ms(e: dict[str, Any] | None) -> str:
        return f"{e['cpu_min_s'] * 1e3:.3g} ms" if e and "cpu_min_s" in e else "n/a"

    rows = [
        [
            str(r["depth"]),
            *(f"{_fmt_time(r.get(k))} (cpu {cpu_ms(r.get(k))})" for k in ("numeric", "symbolic", "plan_torch")),
        ]
        for r in d["rows"]
    ]
    s = d["summary"]
    rows.append(
        [
            "1000/50",
            *(
                f"{s[k]['ratio_1000_over_50']:.1f}x (cpu {s[k]['cpu_ratio_1000_over_50']:.1f}x)" if s.get(k) else "n/a"
                for k in ("numeric", "symbolic", "plan_torch")
            ),
        ]
    )
    parts.append(_table(["conv+ReLU pairs", "numeric wall (cpu)", "symbolic", "plan(torch)"], rows))

    b = result["scaling"]["batch"]
    parts.append(f"\n## Planning time vs batch ({b['network']})\n")
    rows = [
        [
            str(r["batch"]),
            _fmt_time(r["plan"]),
            _fmt_time(r.get("plan_torch")),
            _fmt_time(r["torchinfo_cpu"]),
            _fmt_time(r["torchinfo_meta"]),
            _fmt_time(r["meta_forward"]),
        ]
        for r in b["rows"]
    ]
    parts.append(
        _table(["batch", "convcalc plan", "plan(torch)", "torchinfo (CPU)", "torchinfo (meta)", "meta forward"], rows)
    )
    parts.append(f"convcalc max/min over batches: {b['plan_max_over_min']:.2f}")

    v = result["vectorised"]
    if "min_s" in v:
        parts.append(
            f"\nVectorised conv_output_size, {v['configurations']:,} configurations: {v['min_s'] * 1e3:.1f} ms "
            f"({v['ns_per_configuration']:.0f} ns each), correct: {v['correct']}"
        )
    for label, st in (
        (".pyc cached", result["startup"]["bytecode_cached"]),
        ("no bytecode cache", result["startup"]["no_bytecode_cache"]),
    ):
        parts.append(
            f"Start-up ({label}): python -c pass {st['python_pass']['min_s'] * 1e3:.1f} ms; import re "
            f"x{st['import_re_over_pass']:.2f}; import convcalc +{st['import_overhead_s'] * 1e3:.1f} ms (-X importtime "
            f"{(st['importtime_cumulative_s'] or 0) * 1e3:.1f} ms); {st['cli_command']} size 227 -k 11 -s 4: "
            + (
                f"+{st['cli_overhead_s'] * 1e3:.1f} ms (x{st['cli_over_pass']:.2f})"
                if st.get("cli_overhead_s") is not None
                else "n/a"
            )
        )
    parts.append(
        f"Heavy modules loaded by import convcalc: {result['startup']['heavy_modules_after_import'] or 'none'}"
    )
    sc = result["symbolic_check"]
    parts.append(
        f"Symbolic ResNet-50 vs torch: {sc.get('values_checked')} values of H, all equal: {sc.get('all_equal')}"
        f" ({sc.get('convcalc_expression', [''])[0]} vs {sc.get('torch_export_expression', ['n/a'])[0]})"
    )

    parts.append("\n## Targets\n")
    rows = []
    for name, tg in result["targets"].items():
        val = tg["value"]
        rows.append(
            [
                name,
                "n/a" if val is None else (f"{val:.4g}" if isinstance(val, float) else str(val)),
                tg["target"],
                {True: "met", False: "NOT met", None: "n/a"}[tg["met"]],
            ]
        )
    parts.append(_table(["target", "value", "goal", "status"], rows))
    return "\n".join(parts)


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "convcalc": convcalc.__version__,
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    from importlib import metadata

    for mod in ("torch", "torchinfo", "ptflops", "fvcore", "sympy", "numpy"):
        try:
            info[mod] = metadata.version(mod)
        except metadata.PackageNotFoundError:
            info[mod] = None
    if info["torch"]:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced grid, few repeats (for tests)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write raw figures ({DEFAULT_JSON})")
    parser.add_argument("--profile", action="store_true", help="also cProfile convcalc's ResNet-50 plans")
    parser.add_argument("--networks", nargs="*", default=None, help="subset of " + ", ".join(NETWORKS))
    args = parser.parse_args(argv)
    timer = Timer(args.quick)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    result: dict[str, Any] = {
        "meta": {
            "quick": args.quick,
            "machine": machine(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "torch_bridge": torch_bridge_state() or "available",
        }
    }
    names = args.networks or list(NETWORKS)
    peer_nets = {"alexnet"} if args.quick else set(names)
    log("timings per network")
    result["timings"] = {n: time_network(NETWORKS[n], timer, n in peer_nets, log) for n in names}
    result["ratios"] = ratios(result["timings"])
    log("counts")
    result["counts"] = {n: count_network(NETWORKS[n], n in peer_nets) for n in names}
    log("depth scaling")
    result["scaling"] = {"depth": depth_scaling(timer, log)}
    log("batch scaling")
    result["scaling"]["batch"] = batch_scaling(timer, log)
    log("vectorised, start-up, symbolic check")
    result["vectorised"] = vectorised(timer)
    result["startup"] = startup(timer)
    result["symbolic_check"] = symbolic_check(timer, log)
    if args.profile:
        result["profile"] = profile_plans()
    result["targets"] = targets(result)
    result["meta"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    result["meta"]["wall_s"] = time.perf_counter() - started

    print(render(result))
    if args.profile:
        for label, text in result["profile"].items():
            print(f"\n## cProfile, ResNet-50 {label} plan\n\n{text}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"\nraw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
