"""What a plan saves against running the model on a GPU: plan time beside a CUDA forward pass and torchinfo on CUDA.

Run ``python -m benchmarks.gpu [--json PATH] [--batches 1 64 256]`` from the repository root on a machine with a CUDA
device (it exits with a message where there is none). For ResNet-50, VGG-16 and the 2015 U-Net
(``benchmarks.networks``, written by hand) at each batch size it times:

- ``convcalc.plan`` of the ``convcalc.nn`` spec and of the torch module (on the CPU, as always: a plan needs no
  device);
- a forward pass of the torch module on CUDA in float32 under ``torch.inference_mode()``, synchronised, after two
  warm-up passes (cuDNN picks its algorithms in the first), the minimum of the timed passes;
- the same forward's peak of allocated CUDA memory above the weights, beside the plan's own figures for the
  activations (the sum of the rows' ``activation_bytes``: every layer's output at once, what a training step keeps) and its
  largest single output: the forward under ``inference_mode`` frees each activation when it is used, so its peak is
  nearer the largest output than the sum;
- ``torchinfo.summary(model, input_size, device="cuda")`` where torchinfo is installed (it runs that forward with a
  hook on every module);
- that the plan's output shape and parameter count equal the forward's.

The figures go to ``benchmarks/results/gpu.json`` (a git-ignored folder) and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import convcalc

from .networks import NETWORKS

_NAMES = ("resnet50", "vgg16", "unet2015")


def _times(fn: Callable[[], Any], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"min_s": min(times), "median_s": statistics.median(times), "repeats": len(times)}


def measure(name: str, batch: int, torch: Any, torchinfo: Any | None) -> dict[str, Any]:
    net = NETWORKS[name]
    shape = (batch, *net.input_shape[1:])
    spec, model = net.convcalc(), net.torch().eval()
    plan = convcalc.plan(spec, shape)
    row: dict[str, Any] = {
        "network": name,
        "batch": batch,
        "plan_spec": _times(lambda: convcalc.plan(spec, shape), 30, 3),
        "plan_torch": _times(lambda: convcalc.plan(model, shape), 10, 1),
        "plan_activation_bytes": sum(int(r.activation_bytes) for r in plan.rows),
        "plan_largest_output_bytes": max(int(r.activation_bytes) for r in plan.rows),
    }
    model = model.cuda()
    x = torch.randn(shape, device="cuda")

    def forward() -> Any:
        with torch.inference_mode():
            out = model(x)
        torch.cuda.synchronize()
        return out

    out = forward()
    torch.cuda.synchronize()
    weights = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    forward()
    row["cuda_peak_above_weights_bytes"] = torch.cuda.max_memory_allocated() - weights
    row["cuda_forward"] = _times(forward, 10 if batch <= 64 else 5, 2)
    row["shape_agrees"] = tuple(out.shape) == tuple(plan.output_shape)
    row["params_agree"] = sum(p.numel() for p in model.parameters()) == plan.total_params
    if torchinfo is not None and batch <= 64:
        row["torchinfo_cuda"] = _times(lambda: torchinfo.summary(model, shape, verbose=0, device="cuda"), 3, 1)
    return row


def _ms(t: dict[str, float] | None) -> str:
    return "n/a" if t is None else f"{t['min_s'] * 1e3:.3f}"


def render(result: dict[str, Any]) -> str:
    lines = [
        f"GPU: {result['gpu']}; torch {result['torch']}; CPU cores {result['cores']}",
        "",
        "| network | batch | plan (spec) ms | plan (torch module) ms | CUDA forward ms | torchinfo on CUDA ms "
        "| forward / plan | peak CUDA MiB above weights | plan: all activations MiB | plan: largest output MiB "
        "| shape, params agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    mib = 2**20
    for r in result["rows"]:
        lines.append(
            f"| {r['network']} | {r['batch']} | {_ms(r['plan_spec'])} | {_ms(r['plan_torch'])} "
            f"| {_ms(r['cuda_forward'])} | {_ms(r.get('torchinfo_cuda'))} "
            f"| {r['cuda_forward']['min_s'] / r['plan_spec']['min_s']:.1f}x "
            f"| {r['cuda_peak_above_weights_bytes'] / mib:.1f} | {r['plan_activation_bytes'] / mib:.1f} "
            f"| {r['plan_largest_output_bytes'] / mib:.1f} | {r['shape_agrees'] and r['params_agree']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--networks", nargs="+", default=list(_NAMES), choices=sorted(NETWORKS))
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark times a forward pass on a GPU", file=sys.stderr)
        return 2
    torchinfo = importlib.import_module("torchinfo") if importlib.util.find_spec("torchinfo") else None
    torch.backends.cudnn.benchmark = False
    rows = []
    for name in args.networks:
        for batch in args.batches:
            rows.append(measure(name, batch, torch, torchinfo))
            torch.cuda.empty_cache()  # the last network's activations are gone with measure's frame
            print(f"{name} batch {batch}: done", file=sys.stderr, flush=True)
    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cores": os.cpu_count(),
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
