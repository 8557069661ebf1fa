"""The exceptions convcalc raises: one root, two kinds below it."""

from __future__ import annotations

__all__ = ["ConvCalcError", "ShapeError", "SpecError"]


class ConvCalcError(ValueError):
    """Base of every error convcalc raises on a user's input.

    It subclasses :class:`ValueError`, so ``except ValueError`` keeps working in
    code that predates convcalc.
    """


class ShapeError(ConvCalcError):
    """A layer does not fit the shape that reaches it (a size, a channel count)."""


class SpecError(ConvCalcError):
    """A layer, an argument or an option is invalid whatever the input."""


# Tracebacks name them as users import them: convcalc.ShapeError, not convcalc.ShapeError.
for _cls in (ConvCalcError, ShapeError, SpecError):
    _cls.__module__ = "convcalc"
