"""What flows through a graph being planned: shapes as ``_Tensor`` values, one ``_Call`` per operation,
the helpers on sizes the operation handlers share, and the table of handlers (``_HANDLERS``, filled by
``@_handles`` in the ``ops_*`` modules; import :mod:`convcalc.torch.ops` to have it complete)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import Any

from convcalc._args import received
from convcalc._errors import ConvCalcError, ShapeError, SpecError
from convcalc._plan import merge_rf, sliced_rf
from convcalc._types import Shape
from convcalc.torch.nodes import Decision, _Attr

# --------------------------------------------------------------------------- #
# Planning a Graph: every node evaluated on shapes
# --------------------------------------------------------------------------- #


class _Tensor:
    """A tensor during planning: its shape, the receptive field of its trailing axes, and its strides where known.

    ``rf`` applies to the last ``len(rf)`` dims (so it survives a channel
    shuffle's reshapes); ``const`` marks tensors read from the module
    (parameters), which do not depend on the input.
    """

    __slots__ = ("const", "free", "integral", "known", "mask", "rf", "shape", "span", "strides")

    def __init__(
        self,
        shape: Shape,
        rf: tuple[Any, ...] | None = None,
        const: bool = False,
        strides: tuple[int, ...] | None = None,
        integral: bool = False,
        span: tuple[Any, Any] | None = None,
        known: _Known | None = None,
    ) -> None:
        self.shape, self.rf, self.const = shape, rf, const
        self.strides = strides  # torch's strides where certain (``convcalc.torch.strides``), else None
        # a module's tensor of integers (an index buffer) or a reshape of one: it may index another tensor
        self.integral = integral
        # of a tensor of integers, the least and the greatest of its values where the plan knows them (an
        # ``arange`` of a size, which a position table is indexed by; a module's index buffer): checked against
        # the axis it indexes. A ``_Loose`` span bounds the values without saying that they reach its ends
        self.span = span if integral else None
        # its values themselves, where the plan knows them (a module's integer buffer, an ``arange``): a part of
        # it (``self.position_ids[:, :t]``) has bounds of its own
        self.known = known if self.span is not None else None
        # one of the model's own inputs, its values any (``input_ids``): a comparison of it with a number is all
        # False for some input and all True for another
        self.free = False
        # of a bool tensor such a comparison gives: the states of the inputs at which it is all False and all True
        # (``_Reached``), which its cast to integers (``input_ids.ne(pad).int()``) takes as its bounds 0 and 1
        self.mask: tuple[Any, Any] | None = None

    def __repr__(self) -> str:  # in a message's "Received:" part
        return f"<a tensor of shape {tuple(self.shape)}>"


class _Loose(tuple[Any, ...]):
    """Bounds of the values of an integer tensor that its values need not reach: those of a tensor a part of
    which is taken where the part's own are not known (``buffer[:, :t]`` of a buffer that is no ``arange``). A
    check against them is sure only where it holds at every size."""

    __slots__ = ()


class _IfAny(tuple[Any, ...]):
    """Bounds of the values of a part that may be empty, as sizes: its ends where it takes values, 0 and -1 where
    it takes none, which a check against an axis lets pass. Arithmetic on them (``part + 15``) gives ``_Loose``
    bounds: the ends of an empty part moved are no longer inside every axis."""

    __slots__ = ()


#: the state of the model's inputs at which a bound of values that do not depend on them is reached: every state
_ANY = "any"


class _Reached(tuple[Any, ...]):
    """Bounds of the values of an integer tensor computed from the model's own inputs (RoBERTa's positions,
    ``input_ids.ne(pad).int().cumsum(1) * mask + pad``), each reached where the inputs are in a state: ``at``
    holds, for the least and then the greatest, ``(state, uniform)``: the state (a comparison of an input with a
    number, ``(input, "ne", 1)``, all True; or ``_ANY``) at which some element is at the bound, and whether every
    element is then; ``(None, False)`` where no state is known to reach it (checked as a ``_Loose`` bound is).
    ``grows``: where the greatest is reached at the last position along an axis and falls by a step per position
    before it (a running sum): ``(shape, axis counted from the end, step)``, for what would fit."""

    at: tuple[tuple[Any, bool], tuple[Any, bool]]
    grows: tuple[tuple[Any, ...], int, Any] | None

    def __new__(
        cls,
        bounds: tuple[Any, Any],
        at: tuple[tuple[Any, bool], tuple[Any, bool]],
        grows: tuple[tuple[Any, ...], int, Any] | None = None,
    ) -> _Reached:
        made = super().__new__(cls, bounds)
        made.at, made.grows = at, grows
        return made


@dataclasses.dataclass(frozen=True)
class _Known:
    """The values of an integer tensor of ``shape`` that the plan knows: ``values`` row-major (numbers: a module's
    buffer, up to ``_KEPT`` of them), and ``ramp`` where they are ``first + step * i`` along axis ``axis`` and the
    same along the others (an ``arange``, HF's ``position_ids``, a buffer of one value): ``(axis, first, step)``."""

    shape: tuple[Any, ...]
    values: tuple[int, ...] | None = None
    ramp: tuple[int, Any, int] | None = None


def require_inside(
    call: Any, index: Any, size: Any, axis: int, what: str, negative: bool = True, unless: tuple[Any, ...] = ()
) -> None:
    """The values of an integer tensor that indexes an axis of ``size``, where the plan knows between which they
    lie (``self.pos(torch.arange(t))``, a module's index buffer), are inside it: from ``-size`` on (from 0 where
    ``negative`` is False: an embedding's table) and below ``size``, as torch's IndexError requires; a constraint
    on symbolic sizes, which holds too where one of the sizes ``unless`` names is 0 (the result has no element:
    torch reads no index then). Bounds the values need not reach (``_Loose``, an end of ``_Reached`` that no
    state of the inputs is known to reach) decide it only where they fit at every size: else the plan is
    refused, as its sizes are the values."""
    span = getattr(index, "span", None)
    if span is None:
        return
    least, greatest = span
    low, high = _negated(size) if negative else 0, _sum((size, -1))
    rooms = (_sum((high, _negated(greatest))), _sum((least, _negated(low))))
    if unless:
        from convcalc._backend import smax
        from convcalc._symbolic import to_sympy

        empty = [-to_sympy(d) for d in unless]  # at least 0 where the size is 0
        rooms = tuple(_size(smax(to_sympy(room), *empty)) for room in rooms)
    if isinstance(span, _Reached):  # (the greatest's room first)
        reached = (span.at[1][0] is not None, span.at[0][0] is not None)
    else:
        reached = (not isinstance(span, _Loose),) * 2
    fits = _what_fits(index, span, high)
    for j, (room, sure) in enumerate(zip(rooms, reached, strict=True)):
        if sure:
            call.ctx.at_least(
                room,
                0,
                call.name,
                axis,
                lambda fits=fits if j == 0 else "": index_outside(
                    call.where, what, least, greatest, size, low, high, fits
                ),
                "index inside the axis",
            )
    loose = tuple(room for room, sure in zip(rooms, reached, strict=True) if not sure)
    if loose:
        _inside_loosely(call, loose, what, (least, greatest), size)


def _what_fits(index: Any, span: Any, high: Any) -> str:
    """What would fit where the greatest value of an index is reached at the last position along an axis and
    falls by a step per position before it (``_Reached.grows``): how many positions are inside, where numbers."""
    grows = getattr(span, "grows", None)
    if grows is None or tuple(index.shape) != grows[0]:
        return ""
    shape, axis, step = grows
    total, greatest = shape[axis], span[1]
    if not all(type(v) is int for v in (total, step, greatest, high)) or step <= 0 or greatest <= high:
        return ""
    count = total - -(-(greatest - high) // step)
    return positions_inside(count, total, "its last axis" if axis == -1 else f"axis {len(shape) + axis}")


def positions_inside(count: int, total: int, along: str) -> str:
    """What fits where the first ``count`` positions of ``total`` along an axis index inside the axis they
    index, and the others do not (an ``arange(65)`` into 64 entries); empty where none or all do.

    >>> positions_inside(64, 65, "its last axis")
    'the first 64 positions of its 65 along its last axis are inside: at most 64 positions'
    """
    if not 0 < count < total:
        return ""
    many = f"{count} positions" if count > 1 else "1 position"
    return f"the first {many} of its {total} along {along} {'are' if count > 1 else 'is'} inside: at most {many}"


def index_outside(
    where: str, what: str, least: Any, greatest: Any, size: Any, low: Any, high: Any, fits: str = ""
) -> str:
    """The refusal of an index whose values range over ``least`` to ``greatest`` into ``what`` (``where``: the
    layer or module), which has ``size`` entries and takes ``low`` to ``high``; ``fits``: what would fit, where
    known (``at most 64 positions``).

    >>> index_outside("pos (Embedding)", "the embedding table", 0, 16, 16, 0, 15)
    'pos (Embedding): an index of the embedding table ranges over 0 to 16, outside its 16 entries (torch: index out of range; it takes 0 to 15). Received: index values 0 to 16, size=16'
    """
    return (
        f"{where}: an index of {what} ranges over {least} to {greatest}, outside its {size} entries (torch: "
        f"index out of range; it takes {low} to {high}){'; ' + fits if fits else ''}. Received: index "
        f"values {least} to {greatest}, size={size}"
    )


def _inside_loosely(call: Any, rooms: tuple[Any, ...], what: str, bounds: tuple[Any, Any], size: Any) -> None:
    """``require_inside`` of bounds the values need not reach: passes where each room is at least 0 at every
    size, else a SpecError (the values decide, which the plan does not know)."""
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    if all(decided(to_sympy(r) >= 0) is True for r in rooms):
        return
    least, greatest = bounds
    numbers = all(type(v) is int for v in (least, greatest, size))
    how = (
        "take the part by slices, ints and lists of ints of the tensor the module holds or of an arange, before any "
        "arithmetic on it or write into it (convcalc computes the values of those)"
    )
    message = (
        f"indexes {what} ({size} entries) by an integer tensor whose values lie between {least} and {greatest}, "
        f"which convcalc does not know them to reach (a part of a tensor, one written in place, or values computed "
        f"from the model's inputs; torch raises where one is outside the axis); "
        f"{how if numbers else 'plan with numbers, or ' + how}"
    )
    # (torch's shape machinery, which runs on no data, would not check it either: the refusal stands)
    error = call.spec_error(message, index=f"values within {least} to {greatest}", size=size)
    raise RunRefusedError(str(error))


def _part_span(t: _Tensor, picks: list[Any]) -> tuple[Any, Any] | None:
    """The least and the greatest value of the part of ``t`` taken at ``picks`` (per axis: a run ``(first,
    count, step)`` of a slice or an int, a list of positions, or None for positions that are data), where the
    plan knows ``t``'s values: computed from them where the positions are numbers, from a ramp's ends where its
    axis is cut by sizes (``self.position_ids[:, :t]`` of an ``arange``: 0 to t - 1). Elsewhere the bounds of all
    its values, which the part's need not reach (``_Loose``); None where it takes no value (an empty part)."""
    from convcalc._backend import smin
    from convcalc._symbolic import to_sympy

    if t.span is None:
        return None
    loose = _Loose(t.span)
    known = t.known
    if known is None or any(p is None for p in picks):
        return loose
    taken = [_positions(p) for p in picks]  # numbers, or None
    if any(p == () for p in taken):
        return None  # nothing taken: no value indexes anything
    numbers = [p for p in taken if p is not None]
    if known.values is not None and len(numbers) == len(taken):
        values = [known.values[_flat(at, known.shape)] for at in itertools.product(*numbers)]
        return min(values), max(values)
    if known.ramp is None:
        return loose
    axis, first, step = known.ramp
    along, positions = picks[axis], taken[axis]
    if positions is not None:
        ends = (min(positions), max(positions))
    elif isinstance(along, tuple):  # a run of sizes (``[:, :t]``)
        begin, count, stride = along
        ends = (begin, to_sympy(begin) + (to_sympy(count) - 1) * stride)
    else:  # a list counted from the end of an axis of sizes
        return loose
    low, high = (to_sympy(first) + step * to_sympy(e) for e in ends)
    low, high = (low, high) if step >= 0 else (high, low)
    maybe = [p[1] for p in picks if isinstance(p, tuple) and not _some(p)]  # counts that may be 0
    if not maybe:
        return _size(low), _size(high)
    # a part empty at some sizes (``arange(2 * t)[: t // 2]`` at t = 1): its ends where it takes values, 0 and -1
    # (inside any axis) where it takes none
    taking = math.prod(smin(to_sympy(count), 1) for count in maybe)
    return _IfAny((_size(low * taking), _size(high * taking + taking - 1)))


def _reshaped(known: _Known | None, shape: Shape) -> _Known | None:
    """The values of a tensor of integers read in a new ``shape`` (a view, a reshape, a squeeze: the same values
    in the same row-major order), where the plan holds them and the shape is numbers; with their ramp, if any."""
    if known is None or known.values is None or not all(type(d) is int for d in shape):
        return None
    return _with_ramp(tuple(shape), known.values)


def _rearranged(known: _Known | None, shape: Shape, source: Callable[[tuple[int, ...]], tuple[int, ...]]) -> Any:
    """The values of a tensor of integers whose element at each position of ``shape`` is the one at ``source(at)``
    of the tensor ``known`` describes (an expand, a permute), where the plan holds them (up to ``_KEPT``)."""
    from convcalc.torch.nodes import _KEPT

    if known is None or known.values is None or not all(type(d) is int for d in (*shape, *known.shape)):
        return None
    dims = tuple(shape)
    if math.prod(dims) > _KEPT:
        return None
    old = known.values
    return _with_ramp(dims, tuple(old[_flat(source(at), known.shape)] for at in itertools.product(*map(range, dims))))


def _with_ramp(dims: tuple[int, ...], values: tuple[int, ...]) -> _Known:
    """``_Known`` of these values in ``dims``, with the ramp they make along an axis, if any."""
    for axis, size in enumerate(dims):
        inner = math.prod(dims[axis + 1 :])
        first = values[0] if values else 0
        step = values[inner] - first if size > 1 else 0
        if values and all(v == first + step * (k // inner % size) for k, v in enumerate(values)):
            return _Known(dims, values, (axis, first, step))
    return _Known(dims, values)


def _positions(pick: Any) -> tuple[Any, ...] | None:
    """The positions a pick takes where they are numbers, else None."""
    if isinstance(pick, list):
        return tuple(pick) if all(_is_int(p) for p in pick) else None
    begin, count, step = pick
    return tuple(range(begin, begin + count * step, step)) if _is_int(begin) and _is_int(count) else None


def _some(pick: Any) -> bool:
    """Whether a pick takes a position at every size: a list of them, or a run of at least one."""
    if isinstance(pick, list):
        return bool(pick)
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    count = pick[1]
    return count >= 1 if _is_int(count) else decided(to_sympy(count) >= 1) is True


def _flat(at: tuple[int, ...], shape: Shape) -> int:
    """The row-major position of the element at ``at`` of a tensor of ``shape``."""
    flat = 0
    for i, size in zip(at, shape, strict=True):
        flat = flat * size + i
    return flat


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, default: Any = None) -> Any:
    """The argument of a call at ``position`` (the input's is 0) or named ``name``, else ``default``."""
    return args[position] if len(args) > position else kwargs.get(name, default)


def _leaves(value: Any) -> list[_Tensor]:
    """The tensors in a value, in lists, tuples and dicts at any depth, in order."""
    if isinstance(value, _Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _leaves(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _leaves(v)]
    return []


class _SizeTensor(_Tensor):
    """A tensor of at most one dim whose values are sizes, known where the plan knows the sizes: one made by
    ``torch.tensor([x.size(2) - y.size(2)])`` (a U-Net's padding amounts) or from a few whole numbers, and the
    arithmetic of such tensors. Where torch takes an int (a padding amount, a view's size) a tensor of one value
    is that value, as torch's ``__index__`` makes it."""

    __slots__ = ("values",)

    def __init__(self, shape: Shape, values: tuple[Any, ...], const: bool = False) -> None:
        # whole numbers index; floats (``torch.tensor(w) / 2``) do not, as in torch; those of numbers only
        # (``torch.tensor([0, 5, 2])``) have the bounds of their values
        numbers = bool(values) and all(type(v) is int for v in values)
        span, known = ((min(values), max(values)), _Known(tuple(shape), values)) if numbers else (None, None)
        integral = not any(isinstance(v, (float, _Real)) for v in values)
        super().__init__(shape, None, const, integral=integral, span=span, known=known)
        self.values = values  # row-major: one for a 0-D tensor


class _Opaque:
    """A value convcalc does not track (a dtype, a device): passed along untouched."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


class _Real:
    """A Python float that depends on the symbols: a true division of sizes (``h / 2``, ``B / (H * W / 49)``),
    or arithmetic with one. It is no size (torch takes no float where it asks for ints: ``x.view(n / 2)`` is a
    TypeError); ``math.ceil``, ``math.floor`` and comparisons take its value."""

    __slots__ = ("exact", "value")

    def __init__(self, value: Any, exact: bool = True) -> None:
        # ``exact``: one division of whole numbers, whose float Python rounds so that its floor and ceiling are
        # the exact quotient's (for sizes below 2**52); arithmetic on it rounds again, by amounts that depend on
        # the sizes (``h / 7 * 7`` is 60.99999999999999 at h = 61), which no closed form follows
        self.value, self.exact = value, exact

    def __str__(self) -> str:
        return str(self.value)

    __repr__ = __str__


def _real_value(value: Any) -> Any:
    """The value of a :class:`_Real`, any other value as it is."""
    return value.value if isinstance(value, _Real) else value


def _exactly_rounded(call: _Call, value: Any) -> None:
    """A SpecError where rounding a float of sizes depends on Python's rounding of its arithmetic."""
    if not _rounds_exactly(value):
        raise call.spec_error(
            "rounds a float computed from sizes by more than one division, whose rounding in Python depends on the "
            "sizes (h / 7 * 7 is 60.99999999999999 at h = 61); plan with numbers, or round one division (h // 7 * 7)",
            value=value,
        )


def _rounds_exactly(value: Any) -> bool:
    """Whether rounding ``value`` (floor, ceiling, a cast to an int) gives the exact quotient's rounding: a number
    or a size, or a float of one division of them (:class:`_Real`)."""
    return not isinstance(value, _Real) or value.exact


class _Pair(tuple[Any, ...]):
    """``(values, indices)`` of ``torch.max(x, dim)`` and friends."""

    @property
    def values(self) -> Any:
        return self[0]

    @property
    def indices(self) -> Any:
        return self[1]


class ReaderSignalError(SpecError):
    """A SpecError the reader raises to steer itself (read again, try torch's machinery); one that reaches the
    user is a plain SpecError with the same message (see :func:`public_error`)."""


def public_error(exc: SpecError) -> SpecError:
    """The error a user sees for ``exc``: a reader's signal as a plain SpecError, any other as it is."""
    return SpecError(str(exc)) if isinstance(exc, ReaderSignalError) else exc


class NeedsDataError(ReaderSignalError):
    """A forward that branches on tensor values: only torch's machinery can try it, and its verdict is the error."""


class RunRefusedError(ReaderSignalError):
    """A call torch refuses when it runs on data though its meta kernel does not check it (``F.unfold`` with a
    negative padding): the refusal stands, where another SpecError sends the module to torch's shape machinery."""


class RetakeError(ReaderSignalError):
    """The sizes take the other branch of a condition than the trace read: the forward is read again with
    ``decisions`` (the conditions up to that one, as the sizes decide them). With ``absent``: the plan gives
    other optional inputs than the trace had, and the forward is read again with those names left out (None)."""

    def __init__(self, message: str, decisions: tuple[Decision, ...], absent: frozenset[str] | None = None) -> None:
        super().__init__(message)
        self.decisions = decisions
        self.absent = absent


def _spatial_field(t: _Tensor, ctx: Any) -> Any:
    """A tensor's receptive field where it describes its spatial axes: the axes after a batch and the channels,
    or, in a plan of one sample without its batch axis (``(C, H, W)``, as torch's layers take it), after the
    channels alone. (A field of as many axes on a batched tensor is of axes a reshape has folded: frames folded
    into the batch keep the field of their frame axis, which a layer of the folded tensor does not have.)"""
    if t.rf is None:
        return None
    extra = len(t.shape) - len(t.rf)
    one_sample = extra == 1 and type(ctx.declared) is int and ctx.declared == 1
    return t.rf if extra == 2 or one_sample else None


def _flow_of(t: _Tensor, ctx: Any) -> Any:
    return (t.shape, _spatial_field(t, ctx))


def _describe_value(value: Any) -> str:
    if isinstance(value, _Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, _Real):
        return f"a float ({value}, a true division of sizes)"
    if type(value).__name__ == "FloorForm" or _is_int(value):
        return f"a size ({value})"
    return value.what if isinstance(value, _Opaque) else type(value).__name__


class _Call:
    """One operation being planned: where it is, and how it reports rows and errors."""

    __slots__ = ("ctx", "functional", "inplace", "kind", "name")

    def __init__(self, ctx: Any, name: str, kind: str, inplace: bool = False, functional: bool = False) -> None:
        self.ctx, self.name, self.kind, self.inplace = ctx, name, kind, inplace
        self.functional = functional  # torch.nn.functional's Python function, not torch's namesake (Node.functional)

    @property
    def where(self) -> str:
        return f"{self.name} ({self.kind})"

    def row(self, input_shape: Shape, out: _Tensor) -> _Tensor:
        rf = _spatial_field(out, self.ctx)
        self.ctx.add_row(self.name, self.kind, tuple(input_shape), tuple(out.shape), receptive_field=rf, lookup=False)
        return out

    def shape_error(self, message: str, shape: Any) -> ShapeError:
        return ShapeError(f"{self.where}: {message}. Received: input_shape={tuple(shape)}")

    def spec_error(self, message: str, **args: Any) -> SpecError:
        shown = {k: _describe_value(v) if isinstance(v, _Tensor) else v for k, v in args.items()}
        return SpecError(f"{self.where}: {message}. {received(shown)}")

    def require_at_least(self, value: Any, minimum: int, axis: int, message: Callable[[], str], reason: str) -> None:
        """``value >= minimum``: a ShapeError for a number that falls short, a constraint for a size that depends
        on the input."""
        from convcalc._symbolic import FloorForm

        if isinstance(value, FloorForm) and value.is_constant:
            value = value.e
        if type(value) is int:
            if value < minimum:
                raise ShapeError(message())
            return
        from convcalc._symbolic import to_sympy

        expr = to_sympy(value)
        if expr.is_number:
            if int(expr) < minimum:
                raise ShapeError(message())
            return
        self.ctx.at_least(_size(expr), minimum, self.name, axis, message, reason)

    def require_equal(self, a: Any, b: Any, axis: int, message: Callable[[], str]) -> None:
        same = _same(a, b)
        if same is True:
            return
        if same is False:
            raise ShapeError(message(), mismatch=True)
        from convcalc._symbolic import to_sympy

        equals = getattr(self.ctx, "equals", None)
        if equals is not None:
            equals(to_sympy(a) - to_sympy(b), 0, self.name, axis, message, "sizes equal")


def _attr_row(ctx: Any, name: str, attr: _Attr) -> None:
    numel = math.prod(attr.shape)
    kind = "Parameter" if attr.category == "parameter" else "Buffer"
    with ctx.made_as(lambda row: dataclasses.replace(row, activations=0, activation_bytes=0)):  # (no output)
        ctx.add_row(
            name,
            kind,
            (),
            attr.shape,
            trainable=numel if attr.category == "parameter" and attr.trainable else 0,
            non_trainable=numel if attr.category == "parameter" and not attr.trainable else 0,
            buffers=numel if attr.category == "buffer" else 0,
        )


# -- small helpers on sizes ------------------------------------------------- #


def _same(a: Any, b: Any) -> bool | None:
    """Whether two sizes are equal: True, False, or None when it depends on the input."""
    if type(a) is int and type(b) is int:
        return a == b
    from convcalc._backend import is_symbolic
    from convcalc._symbolic import FloorForm, to_sympy

    if isinstance(a, FloorForm) and isinstance(b, FloorForm) and a == b:
        return True
    a = a.e if isinstance(a, FloorForm) and a.is_constant else a
    b = b.e if isinstance(b, FloorForm) and b.is_constant else b
    if type(a) is int and type(b) is int:
        return a == b
    if (isinstance(a, FloorForm) and type(b) is int) or (isinstance(b, FloorForm) and type(a) is int):
        return None  # a size that varies with the input against a number: equal for some inputs at most
    try:
        diff = to_sympy(a) - to_sympy(b)
    except TypeError:
        return None
    if not is_symbolic(diff):
        return bool(diff == 0)
    if diff == 0:
        return True
    if diff.is_zero is not None:
        return bool(diff.is_zero)
    import sympy

    return True if sympy.simplify(diff) == 0 else None


def _size(value: Any) -> Any:
    """A size in the planner's preferred form: an int, a FloorForm, or a sympy expression."""
    from convcalc._backend import is_symbolic

    if type(value) is int:
        return value
    if is_symbolic(value):
        import sympy

        if isinstance(value, sympy.Integer):
            return int(value)
        from convcalc._symbolic import as_integer_expr

        try:
            return as_integer_expr(value)
        except ValueError:
            return value
    return value


def _prod(dims: Any) -> Any:
    """The product of sizes in the planner's preferred form (:func:`_size`)."""
    from convcalc._symbolic import product

    return _size(product(tuple(dims)))


def _sum(dims: Any) -> Any:
    total: Any = 0
    for d in dims:
        total = total + d
    return _size(total) if type(total) is not int else total


def _negated(value: Any) -> Any:
    if type(value) is int:
        return -value
    from convcalc._symbolic import to_sympy

    return _size(-to_sympy(value))


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def _is_size(value: Any) -> bool:
    """Whether a value is a size: an int, or one that depends on the input (a FloorForm or a sympy expression)."""
    if _is_int(value):
        return True
    from convcalc._backend import is_symbolic
    from convcalc._symbolic import FloorForm

    return isinstance(value, FloorForm) or is_symbolic(value)


def _as_index(value: Any) -> Any:
    """A tensor of one size value (``_SizeTensor``) as that value, as torch's ``__index__`` takes it where an int
    is asked for; any other value as it is."""
    return value.values[0] if isinstance(value, _SizeTensor) and len(value.values) == 1 else value


def _as_sizes(call: _Call, sizes: tuple[Any, ...], name: str = "shape") -> tuple[Any, ...]:
    """The sizes given where torch takes ints, a tensor of one size value taken as that value (torch's
    ``__index__``); a SpecError where one is not a size."""
    sizes = tuple(_as_index(s) for s in sizes)
    if not all(_is_size(s) for s in sizes):
        floats = any(isinstance(s, (_Real, float)) for s in sizes)
        why = " (a true division of sizes is a float, as in Python: use // or int())" if floats else ""
        raise call.spec_error(f"{name} must be ints{why}", **{name: sizes})
    return sizes


def _index(call: _Call, dim: Any, rank: int, shape: Shape, name: str = "dim") -> int:
    if not _is_int(dim):
        raise call.spec_error(f"{name} must be an int", **{name: dim})
    j = int(dim) + rank if dim < 0 else int(dim)
    if not 0 <= j < rank:
        raise call.shape_error(f"{name}={dim} is out of range for a {rank}-D input {tuple(shape)}", shape)
    return j


def _scalar_dims(call: _Call, dims: Any, shape: Shape, distinct: bool = True) -> bool:
    """Whether ``shape`` is 0-D, its ``dims`` (one or a sequence) checked as torch wraps them there: 0 and -1 name
    the value itself (``loss.mean(0)``; torch: Dimension out of range (expected to be in range of [-1, 0])), once
    in a sequence where ``distinct`` (torch: dim 0 appears multiple times in the list of dims)."""
    if shape:
        return False
    given = [d for d in (dims if isinstance(dims, (tuple, list)) else (dims,)) if d is not None]
    for d in given:
        if not _is_int(d):
            raise call.spec_error("dim must be an int", dim=d)
        if d not in (0, -1):
            raise call.shape_error(f"dim={d} is out of range for a 0-D input: use a dim of 0 or -1", shape)
    if distinct and len(given) > 1:  # 0 and -1 are the same dim there
        raise call.shape_error(f"dim 0 appears multiple times in the list of dims {tuple(dims)}", shape)
    return True


def _bind(
    call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any], names: tuple[str, ...], defaults: dict[str, Any]
) -> dict[str, Any]:
    if len(args) > len(names):
        raise call.spec_error(f"takes at most {len(names)} arguments here", arguments=len(args))
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        key = {"self": "input", "axis": "dim"}.get(key, key)
        bound[key] = value
    for key in names:
        if key not in bound:
            if key not in defaults:
                raise call.spec_error(f"needs the argument {key!r}", arguments=len(args))
            bound[key] = defaults[key]
    return bound


def _made(call: _Call, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``factory(*args, **kwargs)`` (a layer spec, an argument parser) for an operation: an error it raises names
    the operation first."""
    try:
        return factory(*args, **kwargs)
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {exc}") from None


def _tensor_arg(call: _Call, value: Any) -> _Tensor:
    if not isinstance(value, _Tensor):
        raise call.spec_error("expects a tensor", argument=_describe_value(value))
    return value


def _merge_rf(tensors: list[_Tensor]) -> tuple[Any, ...] | None:
    """The receptive field of a value combining tensors position by position (constants see no input)."""
    live = [t for t in tensors if not t.const]
    return merge_rf([t.rf for t in live], [t.shape for t in live]) if live else None


def _sliced_rf(rf: tuple[Any, ...] | None, rank: int, axis: int, item: slice, size: Any) -> tuple[Any, ...] | None:
    """The receptive field after ``item`` slices ``axis`` of a tensor of ``rank`` dims (see ``sliced_rf``)."""
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    return sliced_rf(rf, rank, axis, int(start) if _is_int(start) else None, int(step) if _is_int(step) else 0, size)


def _keep_tail(rf: tuple[Any, ...] | None, old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Keep a receptive field across a reshape that leaves the trailing (spatial) axes alone."""
    if rf is None:
        return None
    k = len(rf)
    if k == 0 or len(new) < k or len(old) < k:
        return None
    if all(_same(a, b) is True for a, b in zip(old[-k:], new[-k:], strict=True)):
        return rf
    return None


_HANDLERS: dict[str, Callable[[_Call, tuple[Any, ...], dict[str, Any]], Any]] = {}


def _handles(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def add(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            _HANDLERS[name] = function
        return function

    return add


def _transposed() -> Any:
    from convcalc.nn.conv import _ConvTransposeNd

    return _ConvTransposeNd


def _embedding() -> Any:
    from convcalc.nn import Embedding

    return Embedding


def _output_size_given(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return (len(args) == 2 and not kwargs) or (len(args) == 1 and set(kwargs) == {"output_size"})


def _sized_transpose(spec: Any, shape: Shape, size: Any, path: str, ctx: Any = None) -> Any:
    """The transposed convolution with the output padding torch derives from ``output_size``: the size asked for
    less the smallest output, which must be below the stride (torch's ``_output_padding``). Where that holds at
    some sizes only (``output_size=x.size()`` after a stride of 2: even sizes), a plan (``ctx``) takes it as its
    conditions."""
    nd = spec._ndim
    where = f"{path or '<model>'} ({spec.kind})"
    sizes = tuple(size) if isinstance(size, (tuple, list)) else None
    if sizes is not None and len(sizes) == nd + 2:
        sizes = sizes[2:]
    if sizes is None or len(sizes) != nd or len(shape) != nd + 2:
        raise SpecError(
            f"{where}: output_size must give the {nd} spatial sizes (or all {nd + 2} sizes) of an input of "
            f"{nd + 2} dims. Received: output_size={_describe_value(size)}, input_shape={tuple(shape)}"
        )
    from convcalc.formulas import kernel_extent, transpose_count

    paddings = []
    for j, (want, i, k, s, p, d) in enumerate(zip(sizes, shape[2:], spec._k, spec._s, spec._p, spec._d, strict=True)):
        smallest = transpose_count(i, s, 2 * p, kernel_extent(k, d), 0)
        extra = want - smallest
        fits: bool | None
        if type(extra) is int:
            fits = 0 <= extra < s
        else:
            from convcalc._symbolic import holds_always, to_sympy

            number = to_sympy(extra)
            if getattr(number, "is_number", False):
                extra = int(number)
                fits = 0 <= extra < s
            else:
                # a size asked for by another map's size (``output_size=skip.shape``): the padding is a residue,
                # planned symbolically where it lies in [0, stride) at every size
                low, high = holds_always(number >= 0), holds_always(number < s)
                fits = False if False in (low, high) else True if low and high else None
        if fits is None:  # symbolic sizes: only a plan's (numbers decide above)
            for low, bound, reason in (
                (extra, 0, "output size reachable"),
                (s - 1 - extra, 0, "output size reachable"),
            ):
                ctx.at_least(
                    low,
                    bound,
                    path,
                    j + 2,
                    lambda want=want, i=i, smallest=smallest, s=s, j=j: (
                        f"{where}: output_size asks for {want} on spatial axis {j}, but an input of {i} gives sizes "
                        f"from {smallest} to {smallest + s - 1}. Received: input_shape={tuple(shape)}"
                    ),
                    reason,
                )
            fits = True
        if not fits:
            raise ShapeError(
                f"{where}: output_size asks for {want} on spatial axis {j}, but an input of {i} gives sizes from "
                f"{smallest} to {smallest + s - 1} (torch: requested an output size of {list(sizes)}). "
                f"Received: input_shape={tuple(shape)}"
            )
        paddings.append(extra)
    if all(type(e) is int for e in paddings):
        return dataclasses.replace(spec, output_padding=tuple(paddings))
    # the spec's arguments take numbers: it is made with none, and planned with the residues in their place
    sized = dataclasses.replace(spec, output_padding=0)
    object.__setattr__(sized, "_op", tuple(paddings))
    return sized
