"""convcalc's side of a comparison with torch, as the handler tests make it: the plan of a module for an input,
or None where convcalc refuses with a ShapeError or a SpecError. Any other exception fails the test, as does the
SpecError that reports a fault in convcalc."""

from __future__ import annotations

from typing import Any

import convcalc


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
