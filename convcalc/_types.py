"""Type aliases for what the formulas compute with. Nothing is imported at run time but ``typing``.

One formula body serves every kind of size (STYLE: ``//`` and ``-(-a // b)`` work for ``int``, numpy arrays
and sympy expressions alike), and a formula returns the kind it was given: an int for ints, an array for
arrays, a sympy expression for symbols. A union type would make every caller narrow the result again, so
``Size`` is ``Any`` to the type checker, annotated with what it stands for; it changes no behaviour.

>>> from typing import get_args
>>> from convcalc._types import Size, Sizes
>>> get_args(Size)[1]
'int | sympy.Expr | FloorForm | numpy.ndarray (of ints, broadcast together) | Fraction'
>>> get_args(Sizes)[1]
'a Size, or a sequence of Sizes with one per axis'
>>> from convcalc._types import Shape
>>> get_args(get_args(Shape)[0])
(typing.Annotated[typing.Any, 'int | sympy.Expr | FloorForm | numpy.ndarray (of ints, broadcast together) | Fraction'], Ellipsis)
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple, TypeAlias

__all__ = ["Shape", "Size", "Sizes", "Slot"]

#: A size, a count or a per-axis argument: an ``int``, a sympy expression (a symbolic size), a
#: :class:`~convcalc._symbolic.FloorForm` (the planner's exact form of ``floor((a*x + b)/m)``), a numpy
#: array of ints (one entry per configuration, broadcast together), or, for a row's multiply-accumulates shared
#: out per input sample where they do not divide, a ``fractions.Fraction``.
Size: TypeAlias = Annotated[
    Any, "int | sympy.Expr | FloorForm | numpy.ndarray (of ints, broadcast together) | Fraction"
]

#: An argument given for every axis at once or per axis: a :data:`Size`, or a sequence of them (one per axis);
#: a formula returns the same form (an int for an int, a tuple for a tuple).
Sizes: TypeAlias = Annotated[Any, "a Size, or a sequence of Sizes with one per axis"]

#: A tensor's shape, one :data:`Size` per axis (batch first): what flows between layers in a plan.
Shape: TypeAlias = Annotated[tuple[Size, ...], "a tensor's shape: one Size per axis"]


class Slot(NamedTuple):
    """Where a planned input tensor goes among a forward's arguments: the position of a positional input of the
    plan, or the name of a keyword input (``plan(model, [[a, b]])`` passes ``forward([<a>, <b>])``)."""

    key: int | str
