"""The planner: walks layer specs, calls the formulas, collects one row per layer."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from convcalc import _hints as hints
from convcalc._args import received
from convcalc._conventions import MacConvention, called_kind, peer_extras
from convcalc._enums import Convention
from convcalc._errors import MAX_BITS, ConvCalcError, ShapeError, SpecError, checked_call, digit_count
from convcalc._plan import (
    Constraint,
    Group,
    Plan,
    ReceptiveField,
    Row,
    Unowned,
    make_row,
    shape_numel,
    torchinfo_mult_adds,
    torchinfo_rows,
)
from convcalc._solve import holds_nowhere
from convcalc._symbolic import FloorForm, Undecided
from convcalc._types import Shape, Size

__all__ = ["Context", "Flow", "MacConvention", "plan"]

#: What flows along an edge of the network: the shape and its receptive field per spatial axis.
Flow = tuple[Shape, tuple[ReceptiveField, ...] | None]


class _Shape(tuple[Size, ...]):
    """The shape of one tensor among a layer's inputs or outputs (a plain tuple is a tuple of values)."""

    __slots__ = ()


class Context:
    """State of one planning walk."""

    __slots__ = (
        "amends",
        "batch",
        "channels_last",
        "constraints",
        "counted",
        "declared",
        "flipped",
        "groups",
        "input_rank",
        "itemsize",
        "mac_convention",
        "owner",
        "rewritten",
        "rows",
        "signs",
        "strict",
        "uncalled",
        "unowned",
    )

    def __init__(self, strict: bool, macs: MacConvention, itemsize: int, channels_last: bool = False) -> None:
        self.strict = strict
        self.channels_last = channels_last  # the model's layout: where a row's spatial sizes stand
        self.mac_convention = macs
        self.itemsize = itemsize
        # the first input's batch: each row counts its MACs per input sample where its own batch allows it (heads,
        # frames or windows folded into the batch, two inputs concatenated, the batch folded into groups)
        self.batch: Size | None = None
        # the samples a layer finds in its input where the first axis is not the batch: 1 for an unbatched input
        # (an (L, H_in) sequence, a 1-D vector), N for a sequence-first (L, N, H_in); the plan is then made again
        # with it as the batch. ``None``: the first axis of the input is the batch.
        self.declared: Size | None = None
        self.input_rank = 0
        self.rows: list[Row] = []
        self.constraints: list[Constraint] = []
        # containers (Sequential, a torch module's forward, Add, Concat) in the order they are entered: a slot is
        # taken on entry with open_group and filled with (first row, path, kind, output shape) on exit
        self.groups: list[tuple[int, str, str, Shape, Shape, bool] | None] = []
        # Set by a reader whose layers hold real tensors (torch): owner(path) gives the row's name and the
        # tensors the layer at that path holds, as (key, numel, trainable, is_buffer), or None where the spec's
        # own counts stand; with ``described`` True the spec's counts stand but the tensors count as seen.
        self.owner: Callable[[str], tuple[str, tuple[tuple[Any, int, bool, bool], ...], bool] | None] | None = None
        self.counted: set[Any] = set()
        self.uncalled: list[Row] = []
        # modules holding parameters that the forward calls but the model does not register (held in a plain
        # list, or made in forward), which no total counts
        self.unowned: list[Unowned] = []
        # how the rows added now are made, innermost last (see ``made_as``)
        self.amends: list[Callable[[Row], Row]] = []
        # where the bounds computed from sizes whose sign sympy cannot decide are, in the order met (the keys of a
        # dict): each is taken with the sign it has for large sizes unless ``flipped`` names it
        self.signs: dict[Any, None] = {}
        self.flipped: frozenset[Any] = frozenset()
        # a forward changed an integer tensor in place (``self.keep.add_(1)``): the model's values read are stale
        self.rewritten = False

    @contextlib.contextmanager
    def made_as(self, amend: Callable[[Row], Row]) -> Iterator[None]:
        """Rows added inside are made as ``amend`` says, the innermost first: a row is final when it is added
        (a layer planned under another's kind, rows whose shapes torch gave, a module called again that holds
        no new tensors), never rewritten after."""
        self.amends.append(amend)
        try:
            yield
        finally:
            self.amends.pop()

    def samples(self, shape: Shape, batch: Size) -> None:
        """A layer says how many samples its input ``shape`` holds where that is not its first size: ``1`` for
        an unbatched input, the size of axis 1 for a sequence-first one. Heard only where the input has at
        least the rank of the plan's input (not a batch folded into one axis), and only the first time."""
        if self.declared is None and len(shape) >= self.input_rank:
            self.declared = batch

    def sign_taken(self, where: Any, negative_when_large: bool) -> bool:
        """Whether a bound computed from sizes, whose sign sympy cannot decide, is taken as negative (counted
        from the end): as it is for large sizes, unless the plan is made again with the other sign because no
        size meets its conditions (a relative positional encoding's ``pe[:, c - T + 1 : c + T]``, whose start is
        negative for large ``T`` only, is built for the small ones). The plan holds where it has the sign taken."""
        self.signs[where] = None
        return negative_when_large != (where in self.flipped)

    def open_group(self) -> int:
        """Take the next container slot (containers are listed where they are entered, before their layers)."""
        self.groups.append(None)
        return len(self.groups) - 1

    def close_group(
        self, slot: int, start: int, path: str, kind: str, shape: Shape, called: Shape = (), tensor: bool = True
    ) -> None:
        """Fill a container's slot once its output shape is known (``called``: the input's, where known;
        ``tensor`` False where the output torchinfo shows is no tensor)."""
        self.groups[slot] = (start, path, kind, tuple(shape), tuple(called), tensor)

    # -- checks on sizes ---------------------------------------------------- #

    def at_least(
        self, value: Size, minimum: int, path: str, axis: int, message: Callable[[], str], reason: str
    ) -> None:
        """Require ``value >= minimum``: raise for numbers, record a constraint for symbols."""
        ok = value >= minimum
        if ok is True:
            return
        if ok is False:
            raise ShapeError(message(), layer=path, axis=axis)
        if isinstance(ok, Undecided):
            self.constraints.append(Constraint(path, axis, ok.form, ">=", minimum, reason))
            return
        parts = _least_parts(value)  # ``Min(6, H) - 2 >= 0``: each argument of the least is
        for part in parts:
            self.at_least(part, minimum, path, axis, message, reason)
        if not parts:
            self._sympy_condition(ok, value, ">=", minimum, path, axis, message, reason)

    def _sympy_condition(
        self,
        ok: Any,
        value: Size,
        kind: str,
        target: int,
        path: str,
        axis: int,
        message: Callable[[], str],
        reason: str,
    ) -> None:
        from convcalc._backend import decided

        holds = decided(ok)
        if holds is True:
            return
        if holds is False:
            raise ShapeError(message(), layer=path, axis=axis)
        self.constraints.append(Constraint(path, axis, value, kind, target, reason))

    def equals(self, value: Size, target: int, path: str, axis: int, message: Callable[[], str], reason: str) -> None:
        """Require ``value == target``: raise for numbers, record a constraint for symbols."""
        from convcalc._backend import sympy
        from convcalc._symbolic import to_sympy

        if isinstance(value, FloorForm) and value.is_constant:
            value = value.e
        if type(value) is int:
            if value != target:
                raise ShapeError(message())
            return
        expr = to_sympy(value)
        self._sympy_condition(sympy().Eq(expr, target), expr, "==", target, path, axis, message, reason)

    def known_equal(self, value: Size, target: int) -> bool:
        """Whether an equality recorded earlier (``assert h == 1`` in a forward) states ``value == target``: a
        later ``squeeze`` or ``if h == 1:`` of the same size is then decided by it."""
        equalities = [c for c in self.constraints if c.kind == "=="]
        if not equalities:
            return False
        from convcalc._backend import sympy
        from convcalc._symbolic import to_sympy

        wanted = sympy().expand(to_sympy(value) - target)
        for c in equalities:
            stated = sympy().expand(to_sympy(c.form) - c.value)
            if wanted == stated or wanted == -stated:
                return True
        return False

    def divides(self, value: Size, divisor: int, path: str, axis: int, message: Callable[[], str], reason: str) -> None:
        """Require ``value % divisor == 0`` (strict mode): raise for numbers, record a constraint for symbols."""
        if divisor == 1:
            return
        if isinstance(value, FloorForm) and value.is_constant:
            value = value.e
        if type(value) is int:
            if value % divisor:
                raise ShapeError(message(), layer=path, axis=axis, strict=True)
            return
        self.constraints.append(Constraint(path, axis, value, "divides", divisor, reason))

    def _convention_macs(self, macs: Size, bias_adds: Size) -> Size:
        if self.mac_convention is MacConvention.MACS_BIAS:
            return macs + bias_adds
        return 2 * macs  # FLOPS (torchinfo's count is made in add_row, from the row itself)

    def add_row(
        self,
        path: str,
        kind: str,
        input_shape: Shape,
        output_shape: Shape,
        *,
        trainable: Size = 0,
        non_trainable: Size = 0,
        buffers: Size = 0,
        macs: Size = 0,
        bias_adds: Size = 0,
        receptive_field: tuple[ReceptiveField, ...] | None = None,
        lookup: bool = True,
        batch: Size | None = None,
        peer_macs: dict[str, Size] | None = None,
    ) -> None:
        """Append one row. ``lookup=False``: the row is no layer's call (a tensor operation), whatever its path.
        ``peer_macs``: a peer's own count for this layer by convention name (torchinfo counts every RNN weight
        once per time step), which stands for the count made here under that peer's convention.

        ``macs`` and ``bias_adds`` are per element of the layer's batch: ``batch``, by default the first size of
        its output (a recurrent or attention layer gives its own). They are made per input sample: scaled where
        that batch is a whole multiple of the input's; else (the batch folded into groups, a part of it), the count
        over the whole batch is shared out, exactly."""
        elements = shape_numel(output_shape)
        convention = self.mac_convention
        if convention is _FVCORE or convention is _PTFLOPS:  # the peer's own additions, per element
            extras = peer_extras(  # of the layer's batch as macs are
                convention,
                kind,
                input_shape,
                output_shape,
                trainable + non_trainable,
                called=called_kind(self.amends, kind, path),
            )
            macs, bias_adds = (macs + bias_adds + extras, 0) if convention is _PTFLOPS else (macs + extras, bias_adds)
        if self.batch is not None and (type(macs) is not int or macs or type(bias_adds) is not int or bias_adds):
            own = batch if batch is not None else (output_shape[0] if output_shape else None)
            # (the same object: one per input sample); every count but torchinfo's is per input sample
            if own is not self.batch and convention is not _TORCHINFO:
                times = _per_input(own, self.batch)
                if times is not None and times != 1:
                    macs, bias_adds = macs * times, bias_adds * times
                elif times is None:
                    macs, bias_adds = _shared(macs, bias_adds, own, self.batch)
        recursive = False
        held = trainable + non_trainable
        if self.owner is not None and lookup:
            found = self.owner(path)
            if found is not None:
                path, tensors, described = found
                trainable, non_trainable, buffers, recursive, held = self._count(
                    path, tensors, described, (trainable, non_trainable, buffers)
                )
        if convention is _TORCHINFO:
            macs = torchinfo_mult_adds(kind, held, output_shape, channels_last=self.channels_last)
        elif convention is _MACS_BIAS or convention is _FLOPS:
            macs = self._convention_macs(macs, bias_adds)
        if peer_macs is not None:
            macs = peer_macs.get(convention.value, macs)
        row = make_row(
            path or kind,
            kind,
            input_shape,
            output_shape,
            trainable,
            non_trainable,
            buffers,
            macs,
            elements,
            elements * self.itemsize,
            receptive_field or None,  # (an unbatched (C, L) input starts with no spatial axis: none shown)
            path.count("."),
            recursive,
        )
        for amend in reversed(self.amends):
            row = amend(row)
        self.rows.append(row)

    def _count(
        self, name: str, tensors: tuple[tuple[Any, int, bool, bool], ...], described: bool, own: tuple[Any, Any, Any]
    ) -> tuple[Any, Any, Any, bool, Any]:
        """(trainable, non-trainable, buffers) first counted at this call, whether some were counted before, and
        all the parameters the layer holds. A tensor counts at its first use; ``described``: the layer's own
        counts stand, once per row name."""
        counted = self.counted
        seen = False
        trainable = non_trainable = buffers = held = 0
        for key, numel, grad, is_buffer in tensors:
            held += 0 if is_buffer else numel
            if key in counted:
                seen = True
                continue
            counted.add(key)
            if is_buffer:
                buffers += numel
            elif grad:
                trainable += numel
            else:
                non_trainable += numel
        if not described:
            return trainable, non_trainable, buffers, seen, held
        key = ("row", name)
        if key in counted:
            return 0, 0, 0, True, own[0] + own[1]
        counted.add(key)
        return own[0], own[1], own[2], False, own[0] + own[1]


# the conventions by name, read once per row (an enum member's lookup on its class costs more than the test):
# every count is made per input sample, fvcore's and ptflops' totals being the whole batch's over the input's
# first size as convcalc's own are, but torchinfo's, which charges each row its own first size
_MACS_BIAS, _FLOPS, _TORCHINFO = MacConvention.MACS_BIAS, MacConvention.FLOPS, MacConvention.TORCHINFO
_FVCORE, _PTFLOPS = MacConvention.FVCORE, MacConvention.PTFLOPS


def _per_input(own: Size, batch: Size) -> Size:
    """How many elements of a layer's batch ``own`` there are per input sample, when a whole number; else None."""
    if type(own) is int and type(batch) is int:
        return own // batch if batch and own % batch == 0 else None
    if own is None:
        return None
    from convcalc._symbolic import to_sympy

    ratio = (to_sympy(own) / to_sympy(batch)).cancel()
    return ratio if ratio.is_integer is True and ratio.is_positive is True else None


def _shared(macs: Size, bias_adds: Size, own: Size, batch: Size) -> tuple[Size, Size]:
    """A layer whose batch holds fewer elements than the input's, or not a whole multiple of it (the batch folded
    into channels and groups, ``x.view(1, b * c, h, w)``, a part of the batch, a loop over its samples): its count
    over its whole batch shared out per input sample, exactly (a ``Fraction`` where it does not divide: the
    rows of a loop over three samples each hold a third of their count, and sum to one sample's)."""
    if own is None or not batch:
        return macs, bias_adds
    if all(type(v) is int for v in (macs, bias_adds, own, batch)):
        return _exact(macs * own, batch), _exact(bias_adds * own, batch)
    from sympy import sympify

    from convcalc._symbolic import to_sympy

    # (sympify: a count that is a plain int beside symbolic sizes must not be divided as Python floats)
    macs, bias_adds = ((sympify(to_sympy(v)) * to_sympy(own) / to_sympy(batch)).cancel() for v in (macs, bias_adds))
    return macs, bias_adds


def _exact(numerator: int, denominator: int) -> int | Fraction:
    whole, rest = divmod(numerator, denominator)
    return whole if not rest else Fraction(numerator, denominator)


def _input_shape(input_shape: Any) -> tuple[Any, ...]:
    from convcalc._args import integer
    from convcalc._backend import is_array, is_symbolic

    def refused() -> ShapeError:
        return ShapeError(
            f"input_shape must be a tuple such as (1, 3, 224, 224). {received({'input_shape': input_shape})}"
        )

    if isinstance(input_shape, (str, bytes, dict)) or not hasattr(input_shape, "__iter__"):
        raise refused()
    data = getattr(input_shape, "shape", None)
    if data is not None and len(data) > 1:
        # a tensor (or an array of data) where its shape was meant: say so, without printing its values
        raise ShapeError(
            f"input_shape must be a shape, not a {type(input_shape).__name__} of data: pass its shape, "
            f"input_shape={tuple(int(d) for d in data)} (x.shape). Received: input_shape=<{type(input_shape).__name__} "
            f"of shape {tuple(int(d) for d in data)}>"
        )
    try:
        dims = tuple(input_shape)
    except TypeError:  # a 0-d array has __iter__ but cannot be iterated
        raise refused() from None
    if not dims:
        raise ShapeError(f"input_shape must not be empty. {received({'input_shape': input_shape})}")
    out: list[Any] = []
    bits = 0  # the bits of the int sizes so far (their product has at most this many)
    for j, d in enumerate(dims):
        if is_array(d) and getattr(d, "ndim", 0) > 0:  # one network input per plan; arrays are for the formulas
            raise ShapeError(
                f"input_shape[{j}] is an array; a plan takes one int (or symbol) per axis: plan each size, or use "
                f"the formulas (conv_output_size and the others), which take arrays of sizes. "
                f"{received({'input_shape': input_shape})}"
            )
        held = getattr(d, "shape", None)
        if held is not None and len(held) and not is_array(d):  # [x] or (x, y) for a model's tensors: their shapes
            shapes = [tuple(int(n) for n in t.shape) if hasattr(t, "shape") else t for t in dims]
            items = [
                f"{type(t).__name__} of shape {s}" if hasattr(t, "shape") else repr(t)
                for t, s in zip(dims, shapes, strict=True)
            ]
            raise ShapeError(
                f"input_shape[{j}] is a {type(d).__name__} of data, not a size: pass the shapes of a model's inputs, "
                f"input_shape={shapes[0] if len(shapes) == 1 else shapes!r}. "
                f"Received: input_shape=<{type(input_shape).__name__} of {', '.join(items)}>"
            )
        if isinstance(d, str):  # (1, 3, "H", "W"): a size by name, as spec files write it
            d = _named_size(d, j, input_shape)
        elif d is None and j == 0:  # Keras' model.input_shape, (None, 28, 28, 1): a batch of 1, as a file's
            d = 1
        v = integer(d, f"input_shape[{j}]", minimum=1, error=ShapeError, symbolic=True)
        if type(v) is int and v.bit_length() > MAX_BITS:
            raise ShapeError(
                f"input_shape[{j}] has {digit_count(v)} digits: a plan's sizes have at most about 300 digits (it "
                f"prints each of its counts); the formulas (conv_output_size, ...) take any size. "
                f"Received: input_shape[{j}]=a {digit_count(v)}-digit number"
            )
        if type(v) is int:
            bits += v.bit_length()
            if bits > 4 * MAX_BITS:
                raise ShapeError(
                    f"input_shape holds {len(dims)} sizes whose product has more than {4 * MAX_BITS} bits: a plan prints "
                    f"each of its counts, and Python prints no int of more than 4300 digits. "
                    f"Received: input_shape of {len(dims)} axes"
                )
        if is_symbolic(v):
            raise ShapeError(
                f"input_shape[{j}]={d} is not a size convcalc can follow exactly; use one symbol per axis "
                f"(or a linear expression such as 2*H + 1). {received({'input_shape': input_shape})}"
            )
        out.append(v)
    return tuple(out)


def _named_size(name: str, j: int, input_shape: Any) -> Any:
    """``"H"`` in an input shape: the positive integer symbol of that name, as ``convcalc.symbols("H")`` makes it."""
    if not name.isidentifier():
        raise ShapeError(
            f"input_shape[{j}]={name!r} is neither a size nor a symbol name; write a number, or a name such as 'H' "
            f"for a symbolic size. {received({'input_shape': input_shape})}"
        )
    from convcalc._symbolic import symbols

    return symbols(name)


@checked_call
def plan(
    model: Any,
    input_shape: Any = None,
    *,
    convention: str | None = None,
    strict: bool = False,
    macs: str = "macs",
    itemsize: int | None = None,
) -> Plan:
    """Plan a network: the shape, parameters, MACs and receptive field of every layer.

    Args:
        model: a ``convcalc.nn`` or ``convcalc.keras`` model or layer, or a
            ``torch.nn.Module`` (read without running it).
        input_shape: the input, batch first: ``(1, 3, 224, 224)`` for
            ``convcalc.nn`` and torch (channels first), ``(1, 28, 28, 1)`` for
            ``convcalc.keras`` (channels last; may be left out when the model
            starts with ``keras.Input``). Sizes may be symbols (or names: ``"H"``); a batch of ``None``
            (Keras' ``model.input_shape``) is planned as 1. A torch module's forward of several inputs takes a
            list of shapes (positional) or a dict (keyword inputs); inside them a list of shapes is one argument
            that is a list of tensors, ``()`` is a 0-d tensor (a timestep), a tensor or an array is taken as its
            shape (its values are never read), and any other value is passed to forward as it is.
        convention: ``"torch"`` or ``"keras"``: the model's own (the default); a model's layers follow its
            framework's rules, so the other one is refused.
        strict: require every strided window to divide its input exactly (the
            textbook rule); symbolic plans record it as a constraint.
        macs: the MAC counting convention (``"macs"``, ``"macs+bias"``, ``"flops"``).
        itemsize: bytes per activation element: by default a torch model's parameters' (its first one's: 2
            for a ``.half()`` model) and an ONNX model's input's, else 4 (float32). Every row's
            ``activation_bytes`` is counted at it: a cast in a forward (``x.half()``, ``x.long()``, a comparison's
            bools) is not followed. Where none is given, a layer's output in ``forward_backward_bytes`` is at its
            weights' size (a ``.double()`` head); one given stands for every output.

    Returns:
        A :class:`Plan`.

    Raises:
        ShapeError: a layer does not fit what reaches it; the message names the
            layer's path and what would fit.
        SpecError: the model or an argument is invalid.

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 5, 5), nn.MaxPool2d(2))
    >>> convcalc.plan(net, (1, 1, 28, 28)).output_shape
    (1, 5, 12, 12)
    >>> H = convcalc.symbols("H")
    >>> convcalc.plan(net, (1, 1, H, H)).output_shape
    (1, 5, floor((H - 6)/2) + 1, floor((H - 6)/2) + 1)
    >>> bad = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(100, 10))
    >>> convcalc.plan(bad, (1, 3, 8, 8))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: 2 (Linear): Linear(in_features=100) receives 288 features (Flatten of 8 x 6 x 6 = 288): use in_features=288. Received: input_shape=(1, 288)
    """
    signs: dict[Any, None] = {}
    try:
        result = _plan_once(model, input_shape, convention, strict, macs, itemsize, frozenset(), signs)
    except ShapeError as exc:
        if not signs:
            raise
        failed: ShapeError | None = exc
    else:
        if not signs or not holds_nowhere(result):
            return result
        failed = None
    # a bound whose sign sympy cannot decide was taken as it is for large sizes, and no size meets the plan's
    # conditions (or one fails at every size): made again with the other sign of every such bound (one pattern,
    # repeated in each block), then of each alone where there are few; the first plan some size meets, else the
    # first one's answer. A retake's own refusal needs no hint of inputs that fit.
    keys = list(signs)
    trials = [tuple(keys)] + ([(key,) for key in keys] if 1 < len(keys) <= 3 else [])
    global _hinting
    hinting, _hinting = _hinting, True
    try:
        for flipped in trials:
            try:
                again = _plan_once(model, input_shape, convention, strict, macs, itemsize, frozenset(flipped), {})
            except ShapeError:
                continue
            if not holds_nowhere(again):
                return again
    finally:
        _hinting = hinting
    if failed is not None:
        raise failed
    return result


def _plan_once(
    model: Any,
    input_shape: Any,
    convention: str | None,
    strict: bool,
    macs: str,
    itemsize: int | None,
    flipped: frozenset[Any],
    signs: dict[Any, None],
) -> Plan:
    """:func:`plan`, with the bounds ``flipped`` names taken with the other sign than they have for large sizes
    (``Context.sign_taken``); ``signs`` receives where sympy could not decide a bound's sign, also where the plan
    raises."""
    from convcalc._backend import is_symbolic  # noqa: F401 - keeps the import graph explicit
    from convcalc.params import ParamCount  # noqa: F401

    source = model
    model = _as_model(model)
    conv = model._convention if convention is None else Convention.parse(convention, "convention")
    if conv is not model._convention:  # a layer follows its own framework's rules: a label could not change them
        said = {Convention.TORCH: ("torch's", "convcalc.nn"), Convention.KERAS: ("Keras'", "convcalc.keras")}
        raise SpecError(
            f"convention={conv.value!r} does not apply to this model: its layers follow {said[model._convention][0]} "
            f"rules, as its framework does; write it with {said[conv][1]} layers to plan it by {said[conv][0]}, "
            f"or leave convention out. {received({'convention': convention})}"
        )
    if type(strict) is not bool:
        raise SpecError(f"strict must be True or False. {received({'strict': strict})}")
    # the bytes of the input's own elements, where the model knows them and no itemsize is asked for (an ONNX
    # model taking int64 token ids: 8, where its activations take 4)
    input_itemsize = getattr(model, "_input_itemsize", None) if itemsize is None else None
    asked = itemsize is not None
    if itemsize is None:
        itemsize = getattr(model, "_itemsize", 4)
    if type(itemsize) is not int or itemsize < 1:
        raise SpecError(f"itemsize must be a positive int. {received({'itemsize': itemsize})}")
    ctx = Context(strict, MacConvention.parse(macs, "macs"), itemsize, model._layout == "channels_last")
    ctx.flipped, ctx.signs = flipped, signs
    if input_shape is None:
        input_shape = getattr(model, "_default_input_shape", None)
        if input_shape is None:
            raise ShapeError("plan() needs an input_shape such as (1, 3, 224, 224). Received: input_shape=None")
    inputs, keywords, given = _several_inputs(input_shape)
    if inputs is None:
        shape = _input_shape(input_shape)
        inputs = (shape,)
    else:
        if not hasattr(model, "_plan_call") and not hasattr(model, "_outputs"):
            raise ShapeError(
                f"this model takes one input: give input_shape as one tuple such as (1, 3, 224, 224); a list of "
                f"shapes or a dict of shapes is for torch modules whose forward takes several inputs (plan the torch "
                f"module itself, not the model from_torch made of it). {received({'input_shape': input_shape})}"
            )
        if given is not None:
            if not hasattr(model, "bound"):
                raise ShapeError(
                    "input_shape holds lists of shapes or values that are not shapes, which only a torch module's "
                    f"forward takes; give each input's shape. {received({'input_shape': input_shape})}"
                )
            model = model.bound(*given)
        shape = (*inputs, *keywords.values())[0]
    ctx.batch = shape[0]
    ctx.input_rank = len(shape)
    outputs: Any = None
    try:
        (out_shape, output_field), outputs = _walk_model(model, shape, inputs, keywords, ctx)
        if ctx.declared is not None and not _same(ctx.declared, ctx.batch):
            # the first axis is not the batch (an unbatched or sequence-first input): count per sample again
            again = Context(strict, ctx.mac_convention, itemsize)
            again.flipped, again.signs = flipped, signs
            again.batch = again.declared = ctx.declared
            again.input_rank = ctx.input_rank
            ctx = again
            (out_shape, output_field), outputs = _walk_model(model, shape, inputs, keywords, ctx)
    except RecursionError:
        raise SpecError(
            "the model is nested too deep for Python's recursion limit; flatten nested Sequential "
            f"containers (sys.getrecursionlimit() is {sys.getrecursionlimit()}). Received: model={type(model).__name__}"
        ) from None
    except ShapeError as exc:
        # a layer that took one sample without its batch axis said so before it failed: its axes start at 1
        unbatched = ctx.declared is not None and _same(ctx.declared, 1)
        read = ""
        if unbatched and len(inputs) == 1 and (ctx.rows or exc.layer is not None):
            # resnet18 on (3, 224, 224): the first convolution takes it as one sample, a batch norm refuses it
            by = f"{ctx.rows[0].name or '<model>'} ({ctx.rows[0].kind})" if ctx.rows else exc.layer
            batched = (1, *shape)
            read = f" The network input {tuple(shape)} was read as one sample without a batch axis (by {by})"
            try:
                _walk(model, batched, Context(strict, MacConvention.MACS, 4))
                read += f"; with the batch first: input_shape={batched}."
            except ConvCalcError:  # (1, 1, 572) for a 2-D U-Net: a size is missing, not the batch alone
                read += "."
        first = (1 if model._layout == "channels_last" else 2) - unbatched
        spatial = range(first, first + len(shape) - 2 + unbatched)
        if _hinting or len(inputs) + len(keywords) > 1:
            # a hint plans the model again at other sizes of one input; of several inputs, which one reaches the
            # failing layer (and whether the others must grow with it, as in x + y) is not known: no hint
            hint = read
        else:
            try:
                replanned = functools.partial(_replanned, model, conv)
                hint = hints.for_error(exc, shape, first, spatial, strict, replanned, _failure(model, strict)) + read
            except ConvCalcError:  # a trial input the model refuses otherwise: the layer's own error stands
                hint = read
        if not hint:
            raise
        text = str(exc)
        head, sep, tail = text.rpartition(" Received:")
        raise ShapeError(f"{head}{hint}{sep}{tail}" if sep else f"{text}{hint}") from None
    from convcalc._symbolic import to_sympy

    rows, uncalled = tuple(ctx.rows), tuple(ctx.uncalled)
    if not all(type(d) is int for d in shape):
        rows = tuple(_sympy_row(r) for r in rows)
        uncalled = tuple(_sympy_row(r) for r in uncalled)
        output_field = _sympy_field(output_field)
    name, modules, weight_names, parametrized = _module_tree(source, model)
    if asked and weight_names is not None:  # an itemsize asked for is every activation's: no layer's own dtype
        weight_names = tuple((*names[:4], 0) for names in weight_names)
    several = len(inputs) + len(keywords) > 1 or keywords
    if isinstance(outputs, tuple) and (
        (outputs and not any(o is None or isinstance(o, (tuple, dict)) for o in outputs))
        or (not outputs and out_shape == ())
    ):
        outputs = None  # one output (a 0-d one too): output_shape says it all (a None among outputs is no size)
    result = Plan(
        rows,
        tuple(to_sympy(d) for d in shape),
        tuple(to_sympy(d) for d in out_shape),
        conv.value,
        ctx.mac_convention.value,
        tuple(dict.fromkeys(ctx.constraints)),  # a layer called twice on one size states its condition once
        itemsize,
        model._layout,
        uncalled,
        name=name,
        modules=modules,
        weight_names=weight_names,
        parametrized=parametrized,
        groups=tuple(Group(*g) for g in ctx.groups if g is not None),
        inputs=_sympy_tree(dict(keywords) if keywords and not inputs else (*inputs, *keywords.values()))
        if several
        else None,
        outputs=None if outputs is None else _sympy_tree(outputs),
        output_field=output_field,
        param_bytes=getattr(model, "_param_bytes", None),
        unowned=tuple(ctx.unowned),
        input_itemsize=input_itemsize,
    )
    if ctx.mac_convention is MacConvention.TORCHINFO and modules is not None:
        # which rows are torchinfo's module calls is known once the module tree is: counted here, as the
        # summary and Plan.total_mult_adds count them (a model without children is one call)
        result = dataclasses.replace(result, rows=torchinfo_rows(result, to_sympy(ctx.batch)))
    return result


def _least_parts(value: Any) -> list[Any]:
    """``rest + Min(a, b)`` as ``[rest + a, rest + b]`` (and ``rest - Max(a, b)`` as ``[rest - a, rest - b]``):
    it is at least a number where each part is, so a clamped size (a slice torch clamps to its axis) states one
    constraint per part, each of the kind the solver reads. Empty for any other value."""
    from convcalc._backend import is_symbolic, sympy

    if not is_symbolic(value):
        return []
    sp = sympy()
    terms = sp.Add.make_args(value)
    for j, term in enumerate(terms):
        coeff, inner = term.as_coeff_Mul()
        if (coeff == 1 and isinstance(inner, sp.Min)) or (coeff == -1 and isinstance(inner, sp.Max)):
            rest = sp.Add(*terms[:j], *terms[j + 1 :])
            return [rest + coeff * arg for arg in inner.args]
    return []


def _walk_model(model: Any, shape: Shape, inputs: Any, keywords: dict[str, Any], ctx: Context) -> tuple[Flow, Any]:
    """The flow of the (first) output, its shape and receptive field, and, for a torch model, every output's
    shape, of one walk through the model."""
    if hasattr(model, "_outputs"):  # a layer of several tensors in or out, planned alone: every output, as torch's
        out = model._outputs(tuple(_Shape(s) for s in inputs), {k: _Shape(s) for k, s in keywords.items()}, ctx, "")
        first = out
        while not isinstance(first, _Shape):
            first = first[0]
        return (tuple(first), None), None if first is out else _plain_tree(out)
    if not hasattr(model, "_plan_call"):
        return _walk(model, shape, ctx), None

    def flow(s: tuple[Any, ...]) -> Flow:
        return s, tuple(ReceptiveField(1, 1, 0) for _ in range(max(len(s) - 2, 0)))

    flows: tuple[Flow, ...] = tuple(flow(s) for s in inputs)
    named: dict[str, Flow] = {k: flow(s) for k, s in keywords.items()}
    (out_shape, field), outputs = model._plan_call(flows, named, ctx, "")
    return (tuple(out_shape), field), outputs


def _plain_tree(value: Any) -> Any:
    """A layer's outputs as ``Plan.outputs`` holds them: each shape a tuple, in tuples as the layer returns them."""
    if isinstance(value, tuple) and not isinstance(value, _Shape):
        return tuple(_plain_tree(v) for v in value)
    return tuple(value) if isinstance(value, _Shape) else value


def _same(a: Any, b: Any) -> bool:
    """Whether two sizes are the same number or the same expression."""
    if type(a) is int and type(b) is int:
        return a == b
    from convcalc._symbolic import to_sympy

    return bool(to_sympy(a) == to_sympy(b))


#: torch module classes that ``to_torch`` builds for convcalc containers whose torch class has another name
_TORCH_CLASS = {"Add": "AddBranches", "Concat": "ConcatBranches"}


def _module_tree(
    source: Any, model: Any
) -> tuple[str, tuple[tuple[str, str], ...] | None, tuple[tuple[str, int, int, int, int], ...] | None, Any]:
    """The model's name, its module classes by path (``""`` for the model) and, for a torch module, how its
    leaf modules' parameters are named (``Plan.weight_names``) and its parametrized tensors
    (``Plan.parametrized``), for the torchinfo layout.

    A torch module gives its own ``named_modules()``; a ``convcalc.nn`` model the modules ``to_torch()``
    builds; a Keras model its name and no tree (its layers are listed flat).
    """
    from convcalc._readers import find_reader

    book = getattr(source, "book", None)  # a torch module already read (verify plans what it read)
    if book is not None:
        source = book.root
    reader = find_reader(source) if not hasattr(source, "_plan") else None
    if reader is not None and reader.name == "torch":
        from convcalc._late import late  # the planner imports no reader

        classes = late("convcalc.torch.read:module_classes")(source)
        return (
            classes[""],
            tuple(classes.items()),
            late("convcalc.torch.read:weight_names")(source),
            # (torch names the class of a module with parametrized tensors Parametrized<its class>)
            late("convcalc.torch.read:parametrized")(source)
            if any(c.startswith("Parametrized") for c in classes.values())
            else (),
        )
    if reader is not None or model._convention is not Convention.TORCH:
        return getattr(model, "name", None) or type(model).__name__, None, None, ()
    tree = getattr(model, "_classes", None)  # a container keeps the tree of its first plan
    if tree is None:
        classes = {}
        stack = [("", model)]
        while stack:
            path, spec = stack.pop()
            classes[path] = _TORCH_CLASS.get(spec.kind, spec.kind)
            stack.extend(reversed([(f"{path}.{name}" if path else name, child) for name, child in spec.children()]))
        tree = tuple(classes.items())
        if hasattr(type(model), "_classes"):
            object.__setattr__(model, "_classes", tree)
    return tree[0][1], tree, None, ()


def _sympy_tree(value: Any) -> Any:
    from convcalc._symbolic import to_sympy

    if value is None:  # an output that is None beside tensors
        return None
    if isinstance(value, dict):
        return {k: _sympy_tree(v) for k, v in value.items()}
    if isinstance(value, tuple) and any(v is None or isinstance(v, (tuple, dict)) for v in value):
        return tuple(_sympy_tree(v) for v in value)
    return tuple(to_sympy(d) for d in value)


def _several_inputs(input_shape: Any) -> tuple[tuple[Any, ...] | None, dict[str, Any], Any]:
    """``[shape_a, shape_b]`` (positional inputs) or ``{"x": shape, ...}`` (keyword inputs): the shapes, checked,
    and the forward's arguments around them, or None where each argument is one of them: ``[[a, b]]`` is one
    argument that is a list of two tensors, ``{"x": shape, "scale": 2.0}`` passes ``scale=2.0`` as it is (a
    torch module's forward takes them so). ``(None, {}, None)`` for one shape."""
    from convcalc._types import Slot

    def is_shape(value: Any) -> bool:
        return isinstance(value, (list, tuple)) and not any(isinstance(d, (list, tuple, dict)) for d in value)

    def tensor_shape(value: Any) -> tuple[Any, ...] | None:
        # one input's shape: ``()`` among several inputs is a 0-d tensor's (a diffusion model's timestep); a tensor
        # (or an array) is taken as its shape, as summary's input_data takes it (its values are never read)
        if hasattr(value, "shape") and hasattr(value, "dtype") and (value.shape or type(value).__name__ == "Tensor"):
            value = tuple(int(d) for d in value.shape)
        if not is_shape(value):
            return None
        return _input_shape(value) if value else ()

    def template(value: Any, found: list[Any], key: str | None) -> Any:
        # one argument with a Slot for each shape in it (appended to ``found``); any other value stays itself
        shape = tensor_shape(value)
        if shape is not None:
            found.append(shape)
            return Slot(len(found) - 1 if key is None else f"{key}.{len(found) - 1}")
        if isinstance(value, (list, tuple)):
            items = [template(v, found, key) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {k: template(v, found, key) for k, v in value.items()}
        return value

    if isinstance(input_shape, dict):
        if not input_shape:
            raise ShapeError(f"input_shape must not be empty. {received({'input_shape': input_shape})}")
        for key in input_shape:
            if not isinstance(key, str):
                raise ShapeError(f"keyword inputs are named by strings. {received({'input_shape': input_shape})}")
        keywords: dict[str, Any] = {}
        given: dict[str, Any] = {}
        for key, value in input_shape.items():
            shape = tensor_shape(value)
            if shape is not None:
                keywords[key], given[key] = shape, Slot(key)
                continue
            found: list[Any] = []
            given[key] = template(value, found, key)
            keywords.update((f"{key}.{j}", shape) for j, shape in enumerate(found))
        if not keywords:  # {"N": 1} is no shape: say so of the whole argument
            raise ShapeError(
                "input_shape must be a tuple such as (1, 3, 224, 224), or a dict of such tuples for a forward's "
                f"keyword inputs. {received({'input_shape': input_shape})}"
            )
        plain = all(isinstance(v, Slot) for v in given.values())
        return (), keywords, None if plain else ((), given)
    if isinstance(input_shape, (list, tuple)) and input_shape and not is_shape(input_shape):
        found = []
        args = tuple(template(v, found, None) for v in input_shape)
        if not found:
            raise ShapeError(
                f"input_shape holds no shape such as (1, 3, 224, 224). {received({'input_shape': input_shape})}"
            )
        plain = all(isinstance(a, Slot) for a in args)
        return tuple(found), {}, None if plain else (args, {})
    return None, {}, None


def _sympy_row(row: Row) -> Row:
    from convcalc._symbolic import to_sympy

    return Row(
        row.name,
        row.kind,
        to_sympy(row.input_shape),
        to_sympy(row.output_shape),
        to_sympy(row.trainable),
        to_sympy(row.non_trainable),
        to_sympy(row.buffers),
        to_sympy(row.macs),
        to_sympy(row.activations),
        to_sympy(row.activation_bytes),
        _sympy_field(row.receptive_field),
        row.depth,
        row.recursive,
        row.source,
    )


def _sympy_field(field: tuple[ReceptiveField, ...] | None) -> tuple[ReceptiveField, ...] | None:
    """A receptive field in a symbolic plan's terms (sympy integers, as its rows hold every number)."""
    from convcalc._symbolic import to_sympy

    return None if field is None else tuple(ReceptiveField(*to_sympy((f.size, f.jump, f.start))) for f in field)


def _walk(model: Any, shape: Shape, ctx: Context) -> Flow:
    """The flow of the output, its shape and receptive field, of one walk through a model of one input."""
    rf = tuple(ReceptiveField(1, 1, 0) for _ in range(max(len(shape) - 2, 0)))
    # a Keras layer keeps its own name (a Keras Sequential names its layers itself); torch-style models
    # start from the empty path
    root = model._name() if hasattr(model, "_name") else ""
    flow: Flow = (shape, rf if rf or len(shape) == 2 else None)  # (C, L): one unbatched sample of 1-D maps
    out_shape, field = model._plan(flow, ctx, root)
    return tuple(out_shape), field


_hinting = False  # set while a hint plans the model again, so that the inner plan gives no hint


def _replanned(model: Any, convention: Convention, strict: bool) -> Callable[[Shape], Any]:
    """A plan of ``model`` at another input, for a hint: its inner plans give no hints of their own."""

    def replan(trial: Shape) -> Any:
        global _hinting
        if _hinting:
            raise ShapeError("a hint's own plan gives no hint")
        _hinting = True
        try:
            return plan(model, trial, convention=convention.value, strict=strict)
        finally:
            _hinting = False

    return replan


def _failure(model: Any, strict: bool) -> Callable[[Shape], tuple[str | None, int | None, tuple[str, ...]] | None]:
    """Where planning ``model`` at an input fails (the layer, its axis, the layers planned before it), or None.
    Each trial plans with MACs and itemsize left at their defaults: they do not decide what fits."""

    def failure(trial: Shape) -> tuple[str | None, int | None, tuple[str, ...]] | None:
        ctx = Context(strict, MacConvention.MACS, 4)
        try:
            _walk(model, trial, ctx)
        except ShapeError as exc:
            return exc.layer, exc.axis, tuple(r.name for r in ctx.rows)
        return None

    return failure


def _as_model(model: Any) -> Any:
    if isinstance(model, type):  # plan(nn.Conv2d, ...): the class, not a layer
        raise SpecError(
            f"plan() takes a model, not the class {model.__name__}: build it first, such as "
            f"{model.__name__}(...) with its arguments. {received({'model': model})}"
        )
    if hasattr(model, "_plan"):
        return model
    from convcalc._readers import read_model

    spec = read_model(model)
    if spec is not None:
        return spec
    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        where = (
            f"convcalc.zoo.get({text[4:]!r}) builds a network of the zoo"
            if text.startswith("zoo:")
            else "a spec file is read with convcalc.specfile.load_spec(path), which returns the model and its input"
        )
        raise SpecError(
            f"plan() reads a path only for an ONNX (.onnx) or Keras (.keras) file; {where}. "
            f"{received({'model': model})}"
        )
    raise SpecError(
        f"plan() takes a convcalc.nn / convcalc.keras model, a torch.nn.Module, a Keras model, or an ONNX or "
        f".keras file; got {type(model).__name__}. {received({'model': model})}"
    )
