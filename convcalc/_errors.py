"""The exceptions convcalc raises: one root, two kinds below it."""

from __future__ import annotations

__all__ = ["ConvCalcError", "ShapeError", "SpecError"]


class ConvCalcError(ValueError):
    """Base of every error convcalc raises on a user's input.

    It subclasses :class:`ValueError`, so ``except ValueError`` keeps working in
    code that predates convcalc.
    """


class ShapeError(ConvCalcError):
    """A layer does not fit the shape that reaches it (a size, a channel count).

    Args:
        message: what does not fit, naming the layer and the value received.
        layer: the path of the layer whose size check failed, where the planner knows it (``""`` is the
            model itself); None otherwise.
        axis: the spatial axis (0 for the first one after the channels) whose size does not fit, with ``layer``.
        strict: whether the check that failed is strict mode's (a strided window that does not divide its
            input exactly) rather than a size that is too small.

    The planner reads ``layer`` and ``axis`` to add the smallest input that would fit to the message.

    >>> from convcalc import ShapeError
    >>> exc = ShapeError("0 (Conv2d): too small", layer="0", axis=1)
    >>> (str(exc), exc.layer, exc.axis, exc.strict)
    ('0 (Conv2d): too small', '0', 1, False)
    >>> raise ShapeError("too small")
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: too small
    """

    layer: str | None
    axis: int | None
    strict: bool

    def __init__(
        self, message: str, *, layer: str | None = None, axis: int | None = None, strict: bool = False
    ) -> None:
        super().__init__(message)
        self.layer = layer
        self.axis = axis
        self.strict = strict


class SpecError(ConvCalcError):
    """A layer, an argument or an option is invalid whatever the input."""


# Tracebacks name them as users import them: convcalc.ShapeError, not convcalc.ShapeError.
for _cls in (ConvCalcError, ShapeError, SpecError):
    _cls.__module__ = "convcalc"
