"""Real-style torch models: ``convcalc.plan`` against torch's own forward pass.

Each model comes from ``strategies.real_models`` (hand-written forwards: residual blocks,
ModuleList loops, modules called twice, tied and frozen weights, unused submodules,
parametrizations, every padding mode, functional calls, heads that do not fit). torch runs it
once with a forward hook on every module, which records one entry per call: the module's path
and its input and output shapes. The plan must agree with that record:

* torch raises exactly when ``plan`` raises a ``ConvCalcError`` (any other exception from
  convcalc fails the test);
* the model's output shape is torch's;
* the plan's rows for module calls, in order, are torch's calls of leaf modules, in order, with
  the same output shapes: a module called k times has k rows named by its path. Rows of tensor
  operations (``add``, ``cat``, ``relu``, ...) are named after fx nodes and are not matched;
  rows without an input (``input_shape == ()``) are parameters or buffers, not calls;
* ``total_params`` is ``sum(p.numel() for p in model.parameters())`` (tied weights once, unused
  submodules included), ``trainable_params`` the same over parameters with ``requires_grad``;
* ``macs`` is the sum, over every call torch made, of the multiply-accumulates of conv,
  transposed conv and linear layers, bias excluded, per sample, computed here from the shapes
  torch recorded: a conv counts its output positions times its weights, a transposed conv its
  input positions times its weights, a linear layer its rows times its weights.

The number of models comes from the Hypothesis profile (2,000 with CI=true).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import event, given  # noqa: E402
from strategies import (  # noqa: E402
    REAL_FEATURES,
    real_models,
)

import convcalc  # noqa: E402
from convcalc import ConvCalcError  # noqa: E402

nn = torch.nn
F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@contextlib.contextmanager
def native_cpu_kernels() -> Iterator[None]:
    """torch's own CPU kernels, not oneDNN: oneDNN returns an empty tensor for a transposed conv whose
    output is 0 on every axis where torch's native kernels raise (see test_torch_properties)."""
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = saved


@dataclass(frozen=True)
class Call:
    path: str
    module: Any
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def is_layer(path: str, module: Any) -> bool:
    """A torch layer: a torch.nn module (parametrized or not) with no children but its parametrizations;
    not a container (even an empty one), not a parametrization, not a model's own class."""
    if isinstance(module, CONTAINERS) or "parametrizations" in path.split("."):
        return False
    if not type(module).__module__.startswith("torch.nn."):
        return False
    return all(name == "parametrizations" for name, _ in module.named_children())


def run_torch(model: Any, shape: tuple[int, ...]) -> tuple[list[Call], tuple[int, ...] | None, str | None]:
    """Torch's leaf-module calls in order, the output shape, and torch's error (None when it ran)."""
    calls: list[Call] = []

    def hook(path: str) -> Any:
        def record(module: Any, inputs: Any, output: Any) -> None:
            calls.append(Call(path, module, tuple(inputs[0].shape), tuple(output.shape)))

        return record

    handles = [m.register_forward_hook(hook(path)) for path, m in model.named_modules() if is_layer(path, m)]
    try:
        with torch.no_grad(), native_cpu_kernels():
            out = model(torch.zeros(shape, device=DEVICE))
        return calls, tuple(out.shape), None
    except Exception as exc:  # torch's rejection is the expected answer
        return calls, None, f"{type(exc).__name__}: {exc}"
    finally:
        for handle in handles:
            handle.remove()


def expected_macs(call: Call) -> int:
    """Multiply-accumulates of one call, per sample, bias excluded, from torch's shapes."""
    m = call.module
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        return math.prod(call.input_shape[1:]) * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.modules.conv._ConvNd):
        return math.prod(call.output_shape[1:]) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return math.prod(call.input_shape[1:-1]) * m.in_features * m.out_features
    return 0


def check(model: Any, shape: tuple[int, ...]) -> convcalc.Plan | None:
    """Compare ``convcalc.plan(model, shape)`` with torch's forward pass; the plan, or None where both reject."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    try:
        plan: convcalc.Plan | None = convcalc.plan(model, shape)
        plan_error = None
    except ConvCalcError as exc:
        plan, plan_error = None, f"{type(exc).__name__}: {exc}"
    model = model.to(DEVICE)
    calls, out_shape, torch_error = run_torch(model, shape)
    event("torch raises" if torch_error else "torch runs")
    assert (plan_error is None) == (torch_error is None), (
        f"torch: {torch_error or f'runs, output {out_shape}'}\nconvcalc: {plan_error or 'plans it'}"
    )
    if plan is None:
        return None
    assert plan.output_shape == out_shape, f"output: torch {out_shape}, convcalc {plan.output_shape}"
    paths = {path for path, m in model.named_modules() if is_layer(path, m)}
    planned = [(r.name, tuple(r.output_shape)) for r in plan.rows if r.name in paths and r.input_shape != ()]
    called = [(c.path, c.output_shape) for c in calls]
    assert planned == called, f"module calls: torch {called}, convcalc {planned}"
    params = (plan.total_params, plan.trainable_params)
    assert params == (total, trainable), f"(total, trainable) params: torch {(total, trainable)}, convcalc {params}"
    macs = sum(expected_macs(c) for c in calls)
    assert plan.macs == macs, f"MACs: torch's shapes give {macs}, convcalc {plan.macs}"
    return plan


@given(real_models())
def test_real_models_match_torch(example: tuple[Any, tuple[int, int, int, int]]) -> None:
    model, shape = example
    check(model, shape)


def test_real_models_rejects_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        real_models(features=REAL_FEATURES | {"attention"}).example()
