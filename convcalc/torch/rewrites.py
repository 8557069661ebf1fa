"""The bounds of integer tensors after a forward writes into one in place (``p[0] = 20``, ``p.add_(1)``,
``p.masked_fill_(m, 0)``, ``torch.add(i, 1, out=p)``).

The tensor written holds, after the write, its old values where the write did not reach and the written ones
where it did: the bounds of both joined, which its values need not reach (``_Loose``), or its very values where
the plan knows them and the write (``p[0] = 20`` of an ``arange(5)``: 20, 1, 2, 3, 4). An operation that writes
every element (``p.add_(1)``, ``p.fill_(3)``, ``p.copy_(q)``) gives its result's bounds. Every other integer
tensor of the forward may be a view of the one written: its bounds are joined with the written tensor's new ones.
Where the bounds written are not known, they are dropped (the tensor's values unknown), as before.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from convcalc.torch.nodes import _KEPT, _torch
from convcalc.torch.values import _argument, _is_int, _Known, _leaves, _Loose, _SizeTensor, _Tensor, _with_ramp

#: in-place operations that write some elements of the tensor, and where their value is: (position, name)
_PARTIAL = {
    "setitem": (2, "value"),
    "masked_fill": (2, "value"),
    "index_fill": (3, "value"),
    "index_put": (2, "values"),
    "index_copy": (3, "source"),
    "scatter": (3, "src"),
}

#: in-place operations that write every element with one value or tensor: (position, name)
_WHOLE = {"fill": (1, "value"), "copy": (1, "src"), "zero": (-1, "")}


def after_write(
    kind: str, env: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any], targets: list[_Tensor], result: Any
) -> None:
    """The bounds (``span``) and values (``known``) of the integer tensors ``targets`` written in place by an
    operation of ``kind`` whose result is ``result``, and of every other integer tensor the forward holds (in
    ``env`` and the operation's ``args``): joined with the new bounds, as it may be a view of one of them."""
    news = [_written(kind, t, args, kwargs, result) for t in targets]
    for t, (span, known) in zip(targets, news, strict=True):
        t.span, t.known = span, known
    written = {id(t) for t in targets} | {id(t) for t in _leaves(result)}  # (the result is the tensor written)
    for t in _leaves((tuple(env.values()), args, tuple(kwargs.values()))):
        if id(t) in written or t.span is None:
            continue
        for span, _ in news:
            t.span = _joined(t.span, span)
        t.known = None


def _written(kind: str, t: _Tensor, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> tuple[Any, Any]:
    """The bounds and values of ``t`` after the write."""
    if kind in _PARTIAL:
        value = _argument(args, kwargs, *_PARTIAL[kind])
        if kind == "index_put" and _argument(args, kwargs, 3, "accumulate", False) is not False:
            return None, None  # (sums: the bounds of a sum of any number of values)
        if kind == "setitem":
            exact = _exactly(t, args[1], value)
            if exact is not None:
                return exact
        return _joined(t.span, _span_of(value)), None
    if kind in _WHOLE:
        value = 0 if kind == "zero" else _argument(args, kwargs, *_WHOLE[kind])
        span = _span_of(value)
        known = value.known if isinstance(value, _Tensor) and tuple(value.shape) == tuple(t.shape) else None
        return span, known if span is not None else None
    if isinstance(result, _Tensor) and tuple(result.shape) == tuple(t.shape):
        return result.span, result.known  # (``p.add_(1)``: the bounds its rule computed from the old values)
    return None, None


def _span_of(value: Any) -> Any:
    """The bounds of a value written: a whole number's, an integer tensor's; None where not known (a float)."""
    if isinstance(value, _Tensor):
        return value.span if value.integral else None
    return (value, value) if _is_int(value) and not isinstance(value, bool) else None


def _joined(a: Any, b: Any) -> Any:
    """Bounds of values that are either of two tensors' (``_Loose``: neither's need be reached); None where one
    is not known."""
    if a is None or b is None:
        return None
    if all(type(v) is int for v in (*a, *b)):
        return _Loose((min(a[0], b[0]), max(a[1], b[1])))
    from convcalc._backend import smax, smin
    from convcalc._symbolic import to_sympy
    from convcalc.torch.values import _size

    low = _size(smin(to_sympy(a[0]), to_sympy(b[0])))
    high = _size(smax(to_sympy(a[1]), to_sympy(b[1])))
    return _Loose((low, high))


def _exactly(t: _Tensor, index: Any, value: Any) -> tuple[Any, Any] | None:
    """The bounds and values of ``t`` after ``t[index] = value``, where the plan knows its values, the index is
    ints and slices of numbers and the value a whole number: the write repeated on them."""
    values = _values(t.known)
    if isinstance(value, _SizeTensor) and len(value.values) == 1:
        value = value.values[0]
    if values is None or type(value) is not int or not _plain(index):
        return None
    torch = _torch()
    copy = torch.tensor(values, dtype=torch.long).reshape(tuple(t.shape))
    try:
        copy[index] = value
    except (IndexError, RuntimeError, TypeError):  # (torch refuses the index: the write's rule said so)
        return None
    now = tuple(int(v) for v in copy.flatten().tolist())
    if not now:
        return None
    return (min(now), max(now)), _with_ramp(tuple(t.shape), now)


def _plain(index: Any) -> bool:
    """An index of ints and slices of numbers (``p[0]``, ``p[:, 1:3]``), None and ``...``: not a tuple of ints
    alone, which may be a list of them (``p[[0, 2]]``)."""
    parts = index if type(index) is tuple else (index,)
    if type(index) is tuple and all(_is_int(i) for i in index):
        return False
    for part in parts:
        if isinstance(part, slice):
            if not all(v is None or type(v) is int for v in (part.start, part.stop, part.step)):
                return False
        elif not (type(part) is int or part is None or part is Ellipsis):
            return False
    return True


def _values(known: _Known | None) -> tuple[int, ...] | None:
    """The values of a tensor the plan knows, row-major: held, or those of its ramp, where its shape is numbers
    and holds at most ``_KEPT`` of them."""
    if known is None:
        return None
    if known.values is not None:
        return known.values
    shape = known.shape
    if known.ramp is None or not all(type(d) is int for d in shape) or math.prod(shape) > _KEPT:
        return None
    axis, first, step = known.ramp
    if type(first) is not int or type(step) is not int:
        return None
    return tuple(first + step * at[axis] for at in itertools.product(*map(range, shape)))
