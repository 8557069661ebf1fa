"""A condition of symbolic sizes that a plan cannot decide (``query.shape[2] > 1``), read both ways.

Hugging Face's attention asks ``is_causal = query.shape[2] > 1 and mask is None and module.is_causal``, which is
False for an encoder whichever way the size goes; diffusers' upsampling asks whether a tensor has more than 2**31
elements before it makes it contiguous. A plan with symbols cannot take one branch for every size, so the forward
is read and planned each way, the condition taken as an assumption (a constraint) in each; where both plans are
the same (the same rows, groups, constraints besides the assumption, and outputs), the condition does not matter
and the plan holds for every size, without it. Where they differ, the refusal stands: plan with numbers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from convcalc._errors import ConvCalcError
from convcalc.torch.nodes import ListValue
from convcalc.torch.values import ReaderSignalError, _Tensor

#: while a plan reads both ways: the guards (by their call's name) whose condition is an assumption, each with the
#: branch taken and the constraints that stand for it (filled by the guard)
ASSUMED: contextvars.ContextVar[dict[str, tuple[bool, list[Any]]] | None] = contextvars.ContextVar(
    "convcalc_assumed", default=None
)

# conditions read both ways within one another: each doubles the plans made
_MOST_NESTED = 3


class UndecidedError(ReaderSignalError):
    """A branch on a condition of symbolic sizes that holds for some sizes only (``name``: the guard's call),
    reached after the forward's conditions ``decisions``: read both ways, or, where the two plans differ, a
    refusal with this message."""

    def __init__(self, message: str, decisions: tuple[Any, ...], name: str) -> None:
        super().__init__(message)
        self.decisions = decisions
        self.name = name


def assumed(name: str, taken: bool) -> list[Any] | None:
    """The list to put the constraints standing for a guard's condition in, where this plan reads the guard
    ``name`` as an assumption with the branch ``taken``; None where it does not (the guard refuses)."""
    table = ASSUMED.get()
    entry = None if table is None else table.get(name)
    return entry[1] if entry is not None and entry[0] is taken else None


def both_ways(
    undecided: UndecidedError,
    reread: Callable[[tuple[Any, ...]], Any],
    plan: Callable[[Any], Any],
    ctx: Any,
    undo: Callable[[], None],
) -> Any:
    """Plan the forward with the undecided condition taken each way (``reread`` gives the read for decisions,
    ``plan`` plans one), as an assumption; the output where both plans are the same, the rows of the second kept
    and its assumption dropped. Raises ``undecided`` where they differ or a read cannot be planned so."""
    table = ASSUMED.get() or {}
    if undecided.name in table or len(table) >= _MOST_NESTED:  # (a read that did not take the branch asked)
        raise undecided
    made = []
    for taken in (True, False):
        read = reread((*undecided.decisions, taken))
        if read is None:
            raise undecided
        constraints: list[Any] = []
        token = ASSUMED.set({**table, undecided.name: (taken, constraints)})
        start = (len(ctx.rows), len(ctx.groups), len(ctx.constraints))
        try:
            out = plan(read)
        except ConvCalcError:  # (a branch no plan holds for, an assumption no constraint can keep)
            undo()
            raise undecided from None
        finally:
            ASSUMED.reset(token)
        kept = [c for c in ctx.constraints[start[2] :] if not any(c is a for a in constraints)]
        made.append((_signature(out), ctx.rows[start[0] :], ctx.groups[start[1] :], kept, out, constraints))
        if taken:
            undo()
    (first, rows, groups, kept, _, _), (second, rows2, groups2, kept2, out, assumption) = made
    if first != second or rows != rows2 or groups != groups2 or kept != kept2:
        undo()
        raise undecided
    ctx.constraints[:] = [c for c in ctx.constraints if not any(c is a for a in assumption)]
    return out


def _signature(value: Any) -> Any:
    """What a plan's output is, to compare two plans' outputs: every field of each tensor (its shape, receptive
    field, what is known of its values: a size tensor's sizes), each number as it is."""
    if isinstance(value, _Tensor):
        fields = [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ())]
        return (type(value).__name__, tuple((name, _plain(getattr(value, name, None))) for name in fields))
    if isinstance(value, (tuple, list, ListValue)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    if isinstance(value, dict):
        return (type(value).__name__, tuple((k, _signature(v)) for k, v in value.items()))
    return ("value", type(value).__name__, str(value))


def _plain(field: Any) -> Any:
    """A tensor's field as a value to compare: a bound or a sympy expression by what it says (its kind and its
    text), anything else as it is."""
    if isinstance(field, tuple):
        return (type(field).__name__, tuple(_plain(f) for f in field))
    if isinstance(field, (int, float, str, bool)) or field is None:
        return field
    return (type(field).__name__, str(field), field) if hasattr(field, "free_symbols") else field
