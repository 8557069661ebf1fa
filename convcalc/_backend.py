"""The three kinds of number convcalc computes with, and the few places they differ.

Formulas are written once with ``+ - * //`` so that one body serves Python
ints, numpy integer arrays and sympy expressions. This module holds what that
cannot cover (``max``, checks that must raise) and the lazy access to numpy and
sympy: neither is imported unless the caller already handed us one of its
objects, so the numeric path never imports them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

from convcalc._errors import ConvCalcError, ShapeError
from convcalc._symbolic import FloorForm, Undecided, holds_always, sound_sympy

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    #: Picks the scalar value of one argument at a failing entry (arrays) or returns it.
    Pick = Callable[[Any], Any]

__all__ = [
    "check",
    "is_array",
    "is_symbolic",
    "numpy",
    "smax",
    "smin",
    "sympy",
]


def _identity(value: Any) -> Any:
    return value


def numpy() -> ModuleType:
    """Return numpy; import it on first use (only array inputs get here)."""
    import numpy as np

    return np


def sympy() -> ModuleType:
    """Return sympy; import it on first use (only symbolic inputs get here), its one wrong answer taken back
    (``convcalc._symbolic.sound_sympy``)."""
    module: ModuleType = sound_sympy()
    return module


def _root_module(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


def is_array(value: Any) -> bool:
    """True for numpy arrays and numpy scalars, without importing numpy."""
    return _root_module(value) == "numpy"


def is_symbolic(value: Any) -> bool:
    """True for sympy objects, without importing sympy."""
    return _root_module(value) == "sympy"


def decided(condition: Any) -> bool | None:
    """A condition as True or False where it is decided: Python's booleans, sympy's ``true`` and ``false``
    (``2*H < H`` gives sympy's ``false``, which ``is False`` does not see), or a relation of one size that holds
    for every size or for none (``H <= 2*floor((H - 1)/2) + 2``, which sympy leaves open); None otherwise."""
    if condition is True or condition is False:
        return condition
    if is_symbolic(condition):
        if condition == sympy().true:
            return True
        if condition == sympy().false:
            return False
        return holds_always(condition)
    return None


def smax(a: Any, b: Any) -> Any:
    """``max`` for ints, numpy arrays and sympy expressions."""
    if type(a) is int and type(b) is int:
        return a if a >= b else b
    if is_array(a) or is_array(b):
        return numpy().maximum(a, b)
    return sympy().Max(_plain(a), _plain(b))


def smin(a: Any, b: Any) -> Any:
    """``min`` for ints, numpy arrays and sympy expressions."""
    if type(a) is int and type(b) is int:
        return a if a <= b else b
    if is_array(a) or is_array(b):
        return numpy().minimum(a, b)
    if isinstance(a, FloorForm) and isinstance(b, FloorForm) and a.m > 0 and _same_but_offset(a, b):
        return a if a.b <= b.b else b
    return sympy().Min(_plain(a), _plain(b))


def _same_but_offset(a: FloorForm, b: FloorForm) -> bool:
    """Forms that differ only in the offset ``b`` inside the floor (so they are ordered by it)."""
    return (a.x, a.m, a.a, a.c, a.e) == (b.x, b.m, b.a, b.c, b.e) and a.a > 0


def _plain(value: Any) -> Any:
    return value.to_sympy() if isinstance(value, FloorForm) else value


def check(
    ok: Any,
    message: Callable[[Pick], str],
    error: type[ConvCalcError] = ShapeError,
) -> None:
    """Raise ``error`` when ``ok`` is false: for a bool, for any entry of an array,
    or for a sympy condition that is false whatever the symbols are.

    ``message`` is called with a picker that gives an argument's value at the
    first failing entry, so the message shows one concrete configuration. A
    symbolic condition that is neither provably true nor false is left to the
    planner, which records it as a constraint.
    """
    if ok is True:
        return
    if ok is False:
        raise error(message(_identity))
    if is_array(ok):
        np = numpy()
        if bool(np.all(ok)):
            return
        shape = np.shape(ok)
        flat = int(np.argmin(np.asarray(ok).ravel()))
        index = np.unravel_index(flat, shape) if shape else ()

        def pick(value: Any) -> Any:
            if is_array(value) and np.ndim(value):
                return int(np.broadcast_to(value, shape)[index])
            return int(value) if is_array(value) else value

        where = f" (first failing entry: index {tuple(int(i) for i in index)})" if shape else ""
        raise error(message(pick) + where)
    if isinstance(ok, Undecided):
        return  # holds for some sizes only: the planner keeps it as a constraint
    if is_symbolic(ok):
        if ok == sympy().false:
            raise error(message(_identity))
        return
    if not ok:  # pragma: no cover - every kind is handled above
        raise error(message(_identity))


def module_loaded(name: str) -> bool:
    """Whether ``name`` is already imported (used by tests and the CLI)."""
    return name in sys.modules
