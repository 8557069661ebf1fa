"""fx operation handlers of a forward's questions about its tensors: sizes, ranks and counts, the attributes it
reads, the numbers it asks of sizes (``int(h)``), and its checks of shapes (``assert``), decided for the plan's
sizes or kept as its conditions."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from convcalc._errors import ShapeError, SpecError
from convcalc.torch.branches import UndecidedError, assumed
from convcalc.torch.bytecode import CAUGHT
from convcalc.torch.nodes import INTEGER_DTYPES, ListValue, _torch
from convcalc.torch.ops_math import _attribute_transpose
from convcalc.torch.values import (
    _HANDLERS,
    NeedsDataError,
    RetakeError,
    _as_index,
    _Call,
    _describe_value,
    _handles,
    _index,
    _is_size,
    _Known,
    _Opaque,
    _Pair,
    _prod,
    _Real,
    _real_value,
    _SizeTensor,
    _Tensor,
    _tensor_arg,
)

# -- shape queries ------------------------------------------------------------- #


@_handles("size")
def _size_of(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0])
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim is None:
        return tuple(t.shape)
    return t.shape[_index(call, dim, len(t.shape), t.shape)]


@_handles("len")
def _len(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``len(x)``: a tensor's first size (torch refuses a 0-d tensor), or a tuple's, list's or dict's length."""
    value = args[0]
    if isinstance(value, _Tensor):
        if not value.shape:
            raise call.shape_error("len() of a 0-d tensor: torch raises TypeError", value.shape)
        return value.shape[0]
    if isinstance(value, (tuple, list, dict)):
        return len(value)
    raise call.spec_error(f"len() of {_describe_value(value)}", value=_describe_value(value))


@_handles("dim")
def _rank(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return len(_tensor_arg(call, args[0]).shape)


@_handles("shape_guard")
def _shape_guard(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A condition the trace took as ``taken`` (``assert x.shape[1] == 3``, ``if h % 2:``), checked on the sizes:
    an assert that fails is the user's ShapeError, one that holds for some symbolic sizes only a constraint; a
    branch these sizes do not take, or one that depends on the symbols, is a SpecError (torch's machinery plans
    a module with concrete sizes instead)."""
    condition, taken, assertion, module_type, before, *message = args  # torch._assert's node gives its message
    if isinstance(assertion, str) and CAUGHT.get():  # a ``raise`` its caller may catch: a plain branch
        assertion = False
    module = f"{call.name.rpartition('.')[0] or '<model>'} ({module_type})"
    holds = _decide(condition)
    if holds is None:
        holds = _implied(call, condition)
    shown = _describe_value(condition) if holds is _DATA else str(condition)
    if holds is taken:
        return None
    if holds is _DATA:
        raise NeedsDataError(
            f"{module}: its forward branches on a tensor's values ({shown}), which convcalc cannot decide from "
            f"sizes. Received: condition={shown}"
        )
    if assertion and holds is None:
        _assert_as_constraint(call, condition if taken else _negation(condition), module, assertion)
        return None
    if assertion is True:
        text = "".join(str(part) for part in message[0]) if message else ""
        said = f": {text}" if text else ""
        raise ShapeError(
            f"{module}: an assert in its forward fails for these input sizes (a condition on sizes is False, "
            f"so torch raises AssertionError{said}). Received: condition={shown}"
        )
    if assertion:  # ``if h != 224: raise ValueError(...)``: these sizes take the branch that raises
        line = f" at {message[0]}" if message else ""
        raise ShapeError(
            f"{module}: its forward raises {assertion} for these input sizes: they take the branch that raises"
            f"{line}. Received: condition={shown}"
        )
    if holds is None:
        stands_for = assumed(call.name, taken)  # read both ways: this branch's condition is an assumption
        if stands_for is not None:
            mark = len(call.ctx.constraints)
            _assert_as_constraint(call, condition if taken else _negation(condition), module)
            stands_for.extend(call.ctx.constraints[mark:])
            return None
        raise UndecidedError(
            f"{module}: its forward branches on a condition of the sizes that depends on the symbols "
            f"({shown}), and convcalc cannot read both branches to one plan; plan with numbers"
            f"{_residue_hint(condition)}. "
            f"Received: condition={shown}",
            before,
            call.name,
        )
    raise RetakeError(
        f"{module}: its forward branches on the sizes, and these sizes take the branch that convcalc's trace "
        f"did not read; plan with numbers, or register a rule. Received: condition={shown} ({holds})",
        (*before, holds),
    )


@_handles("tensor_constant")
def _tensor_constant(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # a tensor the forward makes from numbers: its shape (and a few whole numbers' values), no row (like a
    # constant the module holds)
    shape, values = args[:2]
    if values is not None:
        return _SizeTensor(tuple(shape), values, True)
    known = args[2] if len(args) > 2 else None  # of integers: their bounds, values and ramp (``integer_values``)
    if known is None:
        return _Tensor(tuple(shape), None, const=True)
    span, kept, ramp = known
    facts = _Known(tuple(shape), kept, ramp) if span is not None else None
    return _Tensor(tuple(shape), None, const=True, integral=True, span=span, known=facts)


@_handles("item")
def _item(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``d.item()`` of a tensor made from a size (``torch.tensor([x2.size(2) - x1.size(2)])``): that size; of
    any other tensor, a value of the data."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if _as_index(t) is not t:
        return _as_index(t)
    raise NeedsDataError(
        f"{call.where}: .item() gives a value of the tensor's data, which convcalc cannot know from sizes (it "
        f"follows the values of tensors made from sizes). Received: value={_describe_value(t)}"
    )


@_handles("tensor")
def _tensor_of_sizes(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.tensor([x.size(2) - y.size(2)])``: a tensor of sizes, whose values the plan follows (a U-Net's
    padding amounts); made from no input's data: no row, like a constant."""
    data = args[0] if args else kwargs.get("data")
    items = data if isinstance(data, (list, tuple)) else (data,)
    if (
        items
        and all(isinstance(v, (_Real, float)) or _is_size(v) for v in items)
        and any(isinstance(v, (_Real, float)) for v in items)
    ):  # ``torch.tensor([h / 2, w / 2])``: a float tensor of those values (a cast back to an int type rounds them)
        return _SizeTensor((len(items),) if isinstance(data, (list, tuple)) else (), tuple(items))
    if not all(_is_size(v) or (isinstance(v, _SizeTensor) and not v.shape) for v in items):
        raise call.spec_error(
            "convcalc follows torch.tensor of whole sizes made in forward (ints and the sizes of tensors, or a list "
            "of them), whose values it keeps; not of other values (fractions, tensors' data)",
            data=data,
        )
    values = tuple(_as_index(v) for v in items)
    shape = (len(values),) if isinstance(data, (list, tuple)) else ()
    dtype = kwargs.get("dtype")
    if dtype is not None and str(dtype) not in INTEGER_DTYPES:  # ``dtype=torch.float32``: values no size takes
        return _Tensor(shape, None)
    return _SizeTensor(shape, values)


@_handles("as_tensor")
def _as_tensor(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.as_tensor(2 * h / 3)`` (julius' resampling): as ``torch.tensor`` of those values; of a tensor, that
    tensor (a copy where a dtype or a device is asked)."""
    data = args[0] if args else kwargs.get("data")
    if isinstance(data, _Tensor):
        dtype = args[1] if len(args) > 1 else kwargs.get("dtype")
        device = kwargs.get("device")
        if dtype is None and device is None:
            return data
        moved = {"device": device} if device is not None else {}  # (as ``data.to(dtype, device=...)``: its strides)
        return _HANDLERS["to"](_Call(call.ctx, call.name, "to"), (data, *([dtype] if dtype is not None else [])), moved)
    return _tensor_of_sizes(call, args, kwargs)


@_handles("size_number")
def _size_number(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A number asked of a size (``int(x.size(0))``, ``range(h)``) that the trace took as ``taken``, computed
    from the sizes: where it differs, the forward is read again with it; it cannot be asked of symbols."""
    value, taken, kind, module_type, before = args
    module = f"{call.name.rpartition('.')[0] or '<model>'} ({module_type})"
    asked = {"index": "operator.index", "unpack": "len"}.get(kind, kind)
    number = _number_of(value)
    if number is _DATA:
        raise NeedsDataError(
            f"{module}: its forward asks {asked}() of a tensor's values ({_describe_value(value)}), which convcalc "
            f"cannot know from sizes. Received: value={_describe_value(value)}"
        )
    if number is None and kind == "unpack":  # a, b = x: as many items as names, a condition on the symbols
        call.require_equal(
            value,
            taken,
            0,
            lambda: (
                f"{module}: its forward unpacks a value of {value} items into {taken} names (torch: too many or not "
                f"enough values to unpack). Received: value={value}"
            ),
        )
        return None
    if number is None:
        from convcalc._symbolic import to_sympy

        names = ", ".join(sorted(str(s) for s in getattr(to_sympy(_real_value(value)), "free_symbols", ())))
        raise SpecError(
            f"{module}: its forward asks {asked}() of a size that depends on the symbols ({value}), and Python "
            f"needs a number there; plan with a number for {names or 'each symbol'}, or, where the forward is "
            f"yours, pass the size on as it is (x.size(0), math.prod of sizes: no {asked}() needed). "
            f"Received: value={value}"
        )
    try:
        result = _CONVERSIONS[kind](number)
    except (TypeError, ValueError, OverflowError) as exc:  # operator.index of a float, int of inf
        raise SpecError(f"{module}: {asked}() of {number} fails in Python ({exc}). Received: value={number}") from None
    if result == taken and type(result) is type(taken):
        return None
    raise RetakeError(
        f"{module}: its forward asks {asked}() of a size, and these sizes give another number than convcalc's "
        f"trace took; plan with numbers, or register a rule. Received: value={result}",
        (*before, result),
    )


_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "index": operator.index,
    "float": float,
    "round": round,
    "unpack": int,  # how many items ``a, b = value`` unpacks
}


@_handles("input_fixed")
def _input_fixed(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """An input the forward was read with at one value: a flag given the other value reads the forward again
    with it, and one given a value that is no bool (a size's condition, a tensor) reads it again with the flag
    traced, unless its forward tests it by identity; any other input that its forward tests by identity must be
    given at its default, else the forward would take another way than the one read."""
    from convcalc.torch.tracer import TRACED

    value, name, taken, module_type, before, tested = args
    if type(value) is type(taken) and value == taken:
        return None
    module = f"{call.name.rpartition('.')[0] or '<model>'} ({module_type})"
    plain = type(value) in (bool, int, float, str) or type(value).__name__ == "Undecided"  # (a condition: N > 3)
    given = repr(value) if plain else _describe_value(value)
    if before is not None and (type(value) is bool or not tested):  # a flag given another value: read with it
        raise RetakeError(
            f"{module}: its forward was read with its input {name!r} at {taken!r}; plan with numbers, or "
            f"register a rule. Received: {name}={given}",
            (*before, value if type(value) is bool else TRACED),
        )
    raise SpecError(
        f"{module}: its forward tests its input {name!r} with is (or a flag's class), which convcalc reads at "
        f"{'True or False' if before is not None else f'its default {taken!r}'} only; plan with numbers (torch's "
        f"shape machinery runs the forward as it is), or write the test as a comparison ({name} == {taken!r}). "
        f"Received: {name}={given}"
    )


@_handles("value_kind")
def _value_kind(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A value whose class the forward asked (``isinstance(y, torch.Tensor)``), taken as ``taken`` by the trace:
    where it is another kind, the forward is read again with it."""
    from convcalc.torch.tracer import KINDS

    value, taken, module_type, before = args
    if isinstance(value, _Tensor):
        kind = 0
    elif isinstance(value, (list, ListValue)):  # a list of sizes too: a list, not a torch.Size
        kind = KINDS.index("list")
    elif _is_size(value):
        kind = 1
    elif type(value) is float or isinstance(value, _Real):
        kind = 2
    elif isinstance(value, tuple) and all(_is_size(v) for v in value):
        kind = 3
    elif isinstance(value, (tuple, list, dict)):  # a layer's outputs (a pool's values and indices), features
        kind = KINDS.index("list" if isinstance(value, list) else "dict" if isinstance(value, dict) else "tuple")
    else:
        kind = len(KINDS) - 1
    if kind == taken:
        return None
    module = f"{call.name.rpartition('.')[0] or '<model>'} ({module_type})"
    raise RetakeError(
        f"{module}: its forward asks isinstance() of a {KINDS[kind]}, which convcalc's trace took as a "
        f"{KINDS[taken]}; plan with numbers, or register a rule. Received: value={_describe_value(value)}",
        (*before, kind),
    )


def _number_of(value: Any) -> Any:
    """A size as a Python number; None where it depends on the symbols, _DATA where it is a tensor's value."""
    from convcalc._symbolic import FloorForm, to_sympy

    if type(value) in (int, float, bool):
        return value
    if isinstance(value, _Real):  # a true division of sizes: a float where it is a number
        number = _number_of(value.value)
        return float(number) if type(number) is int else number
    if _as_index(value) is not value:  # int(torch.tensor([h - w])): its one size
        return _number_of(_as_index(value))
    if isinstance(value, _Tensor):
        return _DATA
    from convcalc._backend import is_symbolic

    value = to_sympy(value) if isinstance(value, FloorForm) else value
    if is_symbolic(value):
        if value.is_Integer:
            return int(value)
        if value.is_number:
            return float(value)
        return None
    return _DATA


_DATA = object()


def _decide(condition: Any) -> Any:
    """True or False where decided, None where it depends on the symbols, _DATA where it needs tensor values."""
    from convcalc._symbolic import FloorForm, Undecided, to_sympy

    if isinstance(condition, (bool, int, float, str)) or condition is None:  # (``if drop_rate:`` of a float given)
        return bool(condition)
    if isinstance(condition, _Real):  # ``if h / w:``
        condition = condition.value
    if isinstance(condition, Undecided):
        return None
    from convcalc._backend import decided, is_symbolic, sympy

    condition = to_sympy(condition) if isinstance(condition, FloorForm) else condition
    if is_symbolic(condition):
        held = decided(condition)
        if held is not None:
            return held
        if isinstance(condition, sympy().Expr):  # a size as a condition (``if h % 2:``): true where not zero
            zero = condition.is_zero
            return None if zero is None else not zero
        return None
    return _DATA


def _residue_hint(condition: Any) -> str:
    """Where a condition of one size repeats with a period (``if w % 2:``), how to plan each case with symbols:
    a size written as ``2*k - 1`` or ``2*k`` decides it."""
    from convcalc._backend import sympy
    from convcalc._symbolic import Undecided, _quasi_linear, to_sympy

    expr = to_sympy(condition.form) - condition.value if isinstance(condition, Undecided) else to_sympy(condition)
    if isinstance(expr, sympy().Rel):
        expr = expr.lhs - expr.rhs
    found = _quasi_linear(expr) if isinstance(expr, sympy().Expr) else None
    if found is None or found[1] != 0 or not 2 <= found[0] <= 12:  # a threshold, or no short period
        return ""
    period = found[0]
    (x,) = expr.free_symbols
    k = "m" if str(x) == "k" else "k"
    forms = [f"{x} = {period}*{k} - {period - r}" for r in range(1, period)]
    return (
        f", or once per residue of {x} modulo {period} ({', '.join(forms)} and {x} = {period}*{k}, with "
        f'{k} = convcalc.symbols("{k}"))'
    )


def _implied(call: _Call, condition: Any) -> bool | None:
    """A condition of symbolic sizes that an assert before it decided: ``h == 1`` (or ``h != 1``) after
    ``assert h == 1``; None where no recorded equality says."""
    from convcalc._backend import is_symbolic, sympy

    if not is_symbolic(condition) or not isinstance(condition, (sympy().Eq, sympy().Ne)):
        return None  # an inequality (an Undecided form) is not decided by an equality here
    if not call.ctx.known_equal(condition.lhs - condition.rhs, 0):
        return None
    return isinstance(condition, sympy().Eq)


def _as_relation(condition: Any) -> Any:
    """A condition of sizes as a sympy relation: an ``Undecided`` comparison of a floor form made one, any other
    as it is."""
    from convcalc._symbolic import _COMPARISONS, Undecided, to_sympy

    if isinstance(condition, Undecided):
        return _COMPARISONS[condition.op](to_sympy(condition.form), condition.value)
    return condition


def _negation(condition: Any) -> Any:
    """The condition that holds where ``condition`` (a sympy relation, or an ``Undecided`` form) does not."""
    from convcalc._backend import sympy

    return sympy().Not(_as_relation(condition))


def _raised(raised: bool | str) -> str:
    """The name of what a forward raises, without its message (``ValueError``, of ``ValueError("...")``)."""
    return str(raised).partition("(")[0]


def _assert_as_constraint(call: _Call, condition: Any, module: str, assertion: bool | str = True) -> None:
    """A condition of symbolic sizes the forward asserts (``assertion`` True), or whose other way raises
    (``assertion``: what it raises), kept as the plan's constraint."""
    from convcalc._backend import sympy

    sp = sympy()
    condition = _as_relation(condition)
    ctx = call.ctx
    fails = "an assert in its forward fails" if assertion is True else f"its forward raises {_raised(assertion)}"

    def message() -> str:
        return f"{module}: {fails} for these input sizes. Received: condition={condition}"

    if isinstance(condition, sp.And):  # ``assert y.shape == x.shape``: each axis's equality, a condition each
        for part in condition.args:
            _assert_as_constraint(call, part, module, assertion)
        return
    reason = f"assert {condition}" if assertion is True else f"{condition} (else {_raised(assertion)})"
    if isinstance(condition, sp.Eq) and hasattr(ctx, "equals"):
        ctx.equals(condition.lhs - condition.rhs, 0, module, 0, message, reason)
        return
    bounds = {sp.GreaterThan: 0, sp.StrictGreaterThan: 1, sp.LessThan: 0, sp.StrictLessThan: 1}
    if type(condition) in bounds and hasattr(ctx, "at_least"):
        lhs, rhs = condition.lhs, condition.rhs
        gap = lhs - rhs if isinstance(condition, (sp.GreaterThan, sp.StrictGreaterThan)) else rhs - lhs
        ctx.at_least(gap, bounds[type(condition)], module, 0, message, reason)
        return
    said = (
        "an assert in its forward" if assertion is True else f"a condition its forward raises {_raised(assertion)} on"
    )
    raise SpecError(
        f"{module}: {said} holds for some symbolic sizes only, in a form convcalc cannot keep "
        f"as a constraint; plan with numbers. Received: condition={condition}"
    )


@_handles("numel")
def _numel(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value = args[0] if args else kwargs.get("input")
    if isinstance(value, tuple) and all(_is_size(d) for d in value):  # ``x.size()[1:].numel()``: a torch.Size's
        return _prod(value)
    return _prod(_tensor_arg(call, value).shape)


@_handles("get")
def _dict_get(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``kwargs.get("scale", 1.0)`` on the keywords a forward takes with ``**kwargs``."""
    if not isinstance(args[0], dict):
        raise call.spec_error(f"{_describe_value(args[0])} has no method get()", value=_describe_value(args[0]))
    return args[0].get(*args[1:], **kwargs)


# What a forward may ask of a tensor's kind (TransformerEncoderLayer asks ``src.is_nested``).
_DENSE_FLAGS = frozenset({"is_nested", "is_sparse", "is_quantized", "is_mkldnn"})


@_handles("is_floating_point")
def _is_floating_point(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.is_floating_point(mask)`` (TransformerEncoderLayer's mask check): the tensors a plan follows are
    float32; a boolean mask of the same shape takes the same shapes through ``masked_fill``."""
    _tensor_arg(call, args[0] if args else kwargs.get("input"))
    return True


@_handles("getattr")
def _getattr(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value, name = args[0], args[1]
    if isinstance(value, _Tensor):
        if name == "shape":
            return tuple(value.shape)
        if name == "ndim":
            return len(value.shape)
        if name == "data":
            return value
        if name in _DENSE_FLAGS:  # the tensors a plan follows are plain dense ones
            return False
        if name == "dtype":  # the tensors a plan follows are float32 (the plan's itemsize counts their bytes)
            return _torch().float32
        if name in ("mT", "mH", "T", "H"):
            return _attribute_transpose(_Call(call.ctx, call.name, name), value, name)
        return _Opaque(f"tensor.{name}")
    if isinstance(value, _Pair) and name in ("values", "indices"):
        return getattr(value, name)
    try:
        return getattr(value, name)
    except AttributeError:
        raise call.spec_error(f"{_describe_value(value)} has no attribute {name!r}", attribute=name) from None


@_handles("values", "keys", "items")
def _dict_view(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``features.values()`` of a dict a module returned (torchvision's detection backbones return an
    OrderedDict of levels): its values, keys or pairs, in order, as a tuple."""
    value = args[0] if args else None
    if not isinstance(value, dict) or len(args) != 1 or kwargs:
        raise call.spec_error(f"{_describe_value(value)} has no method {call.kind}() convcalc follows", value=value)
    if call.kind == "values":
        return tuple(value.values())
    return tuple(value) if call.kind == "keys" else tuple(value.items())
