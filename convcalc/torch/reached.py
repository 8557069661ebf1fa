"""Bounds of integer tensors computed from the model's own inputs, and the state of the inputs that reaches each.

A model's input holds any values (``input_ids``): a comparison of it with a number (``input_ids.ne(pad)``) is all
False for some input and all True for another, so its cast to integers has the bounds 0 and 1, each reached. A few
operations keep bounds reached (:class:`~convcalc.torch.values._Reached`): a running sum, a sum or product with a
number, a sum or product of two such tensors where one input state reaches both bounds and one of the two is
uniform there (every element at its bound, as a mask is). RoBERTa's positions,
``(mask.cumsum(1) + past) * mask + pad`` of ``mask = input_ids.ne(pad).int()``, range over ``pad`` (every token
the padding one) to ``pad + T`` (none), each reached: an index check against them is a constraint on the sizes,
and a refusal with numbers, where torch raises for some input. Where it is not known that a state reaches a
bound, the bound is loose (``_Loose``): a check against it refuses unless it holds at every size.
"""

from __future__ import annotations

from typing import Any

from convcalc.torch.values import _ANY, _IfAny, _Loose, _Reached, _size, _Tensor

#: a comparison and the one that holds where it does not
_OPPOSITE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}

At = tuple[Any, bool]  # (the state at which a bound is reached, or None; whether every element is at it then)
_NOWHERE: At = (None, False)


def compared(kind: str, operands: list[Any]) -> tuple[Any, Any] | None:
    """The states at which a comparison is all False and all True, where it compares one of the model's inputs
    (any values) with a whole number that any integer dtype holds on both sides (a token id, ``pad``); else None.
    An input written in place before (``ids[:, 0] = 0``) is no longer taken as one (``_Tensor.free``)."""
    if kind not in _OPPOSITE or len(operands) != 2:
        return None
    source, number = operands
    if not isinstance(source, _Tensor) or not source.free:
        return None
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if type(number) is not int or not (0 <= number < 2**7 if kind in ("eq", "ne") else 0 < number < 2**7):
        return None  # (a uint8 input is never below 0; an int8 one never above 127)
    return (source, _OPPOSITE[kind], number), (source, kind, number)


def as_integers(mask: tuple[Any, Any]) -> _Reached:
    """The bounds of a comparison's mask cast to integers: 0 and 1, every element at each in its state."""
    no, yes = mask
    return _Reached((0, 1), ((no, True), (yes, True)))


def running_sum(span: Any, shape: tuple[Any, ...], dim: int) -> Any:
    """The bounds of ``cumsum`` along ``dim`` of a tensor of ``shape`` whose values lie in ``span``, where they
    are at least 0: the least is the first element's, the greatest ``n`` times the greatest (``n`` the axis's
    size), each reached where every element was at its bound in one state; None where they may be negative."""
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    least, greatest = span
    if decided(to_sympy(least) >= 0) is not True:
        return None
    rank = len(shape)
    axis = dim - rank if dim >= 0 else dim
    n = shape[axis] if shape else 1
    top = _size(to_sympy(n) * to_sympy(greatest))
    if not isinstance(span, _Reached):
        return _Loose((least, top))
    (low_state, low_even), (high_state, high_even) = span.at
    low_at: At = (low_state, least == 0) if low_even and low_state is not None else _NOWHERE
    high_at: At = (high_state, greatest == 0) if high_even and high_state is not None else _NOWHERE
    grows = (tuple(shape), axis, greatest) if high_at[0] is not None else None
    return _reached_or_loose((least, top), low_at, high_at, grows)


def arithmetic(kind: str, operands: list[Any], every_pair: bool, shape: tuple[Any, ...]) -> Any:
    """The bounds of a sum, a difference or a product (``kind``) of two operands, one of them a tensor whose
    bounds are computed from the model's inputs (``_Reached``); a result of ``shape``. Each bound is reached
    where the operands' are in one state and one of them is uniform there (or the operation meets every pair
    of their values: ``every_pair``); None where the bounds are not followed."""
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    first, second = _bounds_of(operands[0]), _bounds_of(operands[1])
    if first is None or second is None:
        return None
    a, b = first, second
    if kind == "rsub":
        a, b, kind = b, a, "sub"
    if kind == "sub":  # a - b: a's least with b's greatest
        b = (_size(-to_sympy(b[1])), _size(-to_sympy(b[0])), b[3], b[2], None)
        kind = "add"
    if kind == "add":
        least = _size(to_sympy(a[0]) + to_sympy(b[0]))
        greatest = _size(to_sympy(a[1]) + to_sympy(b[1]))
        low_at, high_at = _both(a[2], b[2], every_pair), _both(a[3], b[3], every_pair)
        grows = _kept_growth(a, b, 1, shape) or _kept_growth(b, a, 1, shape)
        return _reached_or_loose((least, greatest), low_at, high_at, grows)
    if kind != "mul":
        return None
    for x, y in ((a, b), (b, a)):
        if isinstance(y[0], int) and y[0] == y[1] and y[2] == (_ANY, True):  # (a number)
            c = y[0]
            ends = (_size(to_sympy(x[0]) * c), _size(to_sympy(x[1]) * c))
            grows = _kept_growth(x, y, c, shape) if c > 0 else None
            if c >= 0:
                return _reached_or_loose(ends, x[2], x[3], grows)
            return _reached_or_loose((ends[1], ends[0]), x[3], x[2], None)
    if not all(decided(to_sympy(p[0]) >= 0) is True for p in (a, b)):
        return None
    least = _size(to_sympy(a[0]) * to_sympy(b[0]))
    greatest = _size(to_sympy(a[1]) * to_sympy(b[1]))
    low_at, high_at = _both(a[2], b[2], every_pair), _both(a[3], b[3], every_pair)
    grows = _kept_growth(a, b, b[1], shape) or _kept_growth(b, a, a[1], shape)
    return _reached_or_loose((least, greatest), low_at, high_at, grows)


def _bounds_of(value: Any) -> tuple[Any, Any, At, At, Any] | None:
    """An operand as ``(least, greatest, low_at, high_at, grows)``: a number is uniform at every state; the
    bounds of a tensor whose values do not depend on the inputs are reached at every state by some element;
    loose bounds by none."""
    if not isinstance(value, _Tensor):
        return (value, value, (_ANY, True), (_ANY, True), None)
    span = value.span
    if span is None:
        return None
    if isinstance(span, _Reached):
        return (span[0], span[1], span.at[0], span.at[1], span.grows)
    if isinstance(span, (_Loose, _IfAny)):
        return (span[0], span[1], _NOWHERE, _NOWHERE, None)
    return (span[0], span[1], (_ANY, False), (_ANY, False), None)


def _both(a: At, b: At, every_pair: bool) -> At:
    """Where two bounds combined (a sum's, a product's) are reached: in the state both are reached in, where one
    of the two is uniform then (or every pair of values meets); uniform where both are."""
    (state_a, even_a), (state_b, even_b) = a, b
    if state_a is None or state_b is None or not (even_a or even_b or every_pair):
        return _NOWHERE
    state = merged_state(state_a, state_b)
    return _NOWHERE if state is None else (state, even_a and even_b)


def merged_state(a: Any, b: Any) -> Any:
    """The state of the inputs at which two values are both at a bound: the one state they share, or either's
    where the other is at it in every state (``_ANY``); None where that is not known."""
    if a == _ANY:
        return b
    if b == _ANY or a == b:
        return a
    return None


def _kept_growth(x: Any, y: Any, scale: Any, shape: tuple[Any, ...]) -> Any:
    """``x``'s growth along an axis (``_Reached.grows``) through a sum or a product with ``y``, which is uniform
    where ``x`` is at its greatest (a number, a mask): the step scaled by ``scale`` (y's greatest in a product)."""
    grows = x[4]
    if grows is None or type(scale) is not int or scale <= 0 or tuple(shape) != grows[0]:
        return None
    state, even = y[3]
    if not even or state is None or (state != _ANY and state != x[3][0]):
        return None
    return (grows[0], grows[1], grows[2] * scale)


def _reached_or_loose(bounds: tuple[Any, Any], low_at: At, high_at: At, grows: Any) -> Any:
    """``_Reached`` bounds where a state reaches one of them, else ``_Loose`` ones."""
    if low_at[0] is None and high_at[0] is None:
        return _Loose(bounds)
    return _Reached(bounds, (low_at, high_at), grows if high_at[0] is not None else None)
