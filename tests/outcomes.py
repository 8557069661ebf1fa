"""Both sides of a comparison with torch, as the handler tests make it: torch's output shape on a real input, or
None where torch raises; convcalc's plan, or None where convcalc refuses with a ShapeError or a SpecError. Any
other exception from convcalc fails the test, as does the SpecError that reports a fault in convcalc."""

from __future__ import annotations

from typing import Any

import torch

import convcalc

Shape = tuple[int, ...]


def torch_outcome(model: Any, shape: Shape, *, fill: float = 0.0) -> Shape | None:
    """The output shape of ``model`` on an input of ``shape`` filled with ``fill``, or None where torch raises."""
    try:
        with torch.no_grad():
            out = model(torch.full(shape, fill))
    except Exception:  # torch raises RuntimeError, ValueError, IndexError, TypeError...
        return None
    return tuple(out.shape)


def plan_or_refusal(model: Any, shape: Any, *, fallback: bool = False) -> convcalc.Plan | None:
    """The plan, or None where convcalc refuses. Unless ``fallback``, the plan must be the reader's handlers',
    not torch's shape machinery's (no row from the meta-device pass)."""
    try:
        plan = convcalc.plan(model, shape)
    except (convcalc.ShapeError, convcalc.SpecError) as exc:
        message = str(exc)
        assert "This is a fault in convcalc" not in message, message
        return None
    if not fallback:
        assert not plan.fallback_rows, [r.name for r in plan.fallback_rows]
    return plan


def convcalc_outcome(model: Any, shape: Any, *, fallback: bool = False) -> Shape | None:
    """The planned output shape, or None where convcalc refuses."""
    plan = plan_or_refusal(model, shape, fallback=fallback)
    return None if plan is None else tuple(int(d) for d in plan.output_shape)
