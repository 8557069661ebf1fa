"""Differential tests: random convcalc.nn networks against a real torch forward pass, layer by layer.

Each drawn network (chains and DAGs with Add / Concat, valid or not) is planned and built with
``to_torch()``; a forward pass on random data records every module's output shape with hooks.
Where torch runs, every row's output shape and parameter count must equal torch's; where torch
fails, the plan must fail with a ShapeError naming the same layer.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, reject
from strategies import nn_networks

import convcalc

torch = pytest.importorskip("torch")
from torch_shapes import native_kernels  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _run_torch(model: Any, shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], dict[str, int], str | None]:
    """Output shapes and parameter counts by module path, and the path of the module that failed (if any)."""
    module = model.to_torch().to(DEVICE).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    params: dict[str, int] = {}
    entered: list[str] = []
    for name, sub in module.named_modules():
        sub.register_forward_pre_hook(lambda _m, _i, name=name: entered.append(name))
        sub.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
    try:
        # torch's own kernels: oneDNN and cuDNN return an empty tensor for a transposed convolution whose
        # output is 0, where torch itself raises "Output size is too small"
        with torch.no_grad(), native_kernels():
            module(torch.randn(shape, device=DEVICE))
    except (RuntimeError, ValueError, IndexError) as exc:
        if "can't allocate memory" in str(exc) or isinstance(exc, MemoryError):
            reject()  # a network too large to run here (gigabytes of activations) says nothing about its shapes
        failed = [n for n in entered if n not in shapes]
        # the innermost module that started and never finished is the one that failed
        return shapes, params, (failed[-1] if failed else f"<torch: {exc}>")
    for name, sub in module.named_modules():  # after the pass: lazy modules have their weights now
        params[name] = sum(p.numel() for p in sub.parameters())
    return shapes, params, None


@given(network=nn_networks())
def test_plan_equals_torch_layer_by_layer(network: tuple[Any, tuple[int, ...]]) -> None:
    model, shape = network
    shapes, params, failed = _run_torch(model, shape)
    try:
        plan = convcalc.plan(model, shape)
    except convcalc.ShapeError as exc:
        message = str(exc)
    else:
        message = None
    if message is not None:
        event("invalid network")
        assert failed is not None, f"convcalc raised but torch ran: {message}"
        assert message.startswith(f"{failed} ("), f"torch failed at {failed!r}; convcalc said: {message}"
        return
    event("valid network")
    assert failed is None, f"torch failed at {failed!r} but convcalc planned {plan.output_shape}"
    assert plan.output_shape == shapes[""]
    for row in plan.rows:
        name = "" if row.name == row.kind and row.name not in shapes else row.name
        assert row.output_shape == shapes[name], row.name
        if row.kind not in ("Add", "Concat"):
            assert row.params == params[name], row.name
    assert plan.total_params == params[""]


@given(network=nn_networks())
def test_from_torch_gives_back_the_same_plan(network: tuple[Any, tuple[int, ...]]) -> None:
    model, shape = network
    try:
        expected = convcalc.plan(model, shape)
    except convcalc.ShapeError:
        return
    # a convcalc.nn plan is a batch norm's with running statistics: the torch module's in evaluation mode (in
    # training mode torch needs more than one value per channel, which a batch of 1 may not give)
    again = convcalc.plan(model.to_torch().eval(), shape)
    assert again.output_shape == expected.output_shape
    assert again.total_params == expected.total_params
    assert again.macs == expected.macs
