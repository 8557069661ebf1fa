"""Node handlers of elementwise operators (ONNX broadcasting, symbolic sizes too), ``Gemm`` and ``MatMul``."""

from __future__ import annotations

import functools
import math
from typing import Any

from convcalc._errors import ConvCalcError
from convcalc._plan import across_rf
from convcalc._types import Shape
from convcalc.nn import _merge_rf
from convcalc.onnx_reader._graph import _K, _T, _Call, _handles
from convcalc.onnx_reader._values import _F, _FLOATS, _arr, _axis, _fl, _from_arr, _Inexact, _prod, _tensor

_UNARY = frozenset(
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid",
        "HardSwish", "Clip", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Gelu", "Mish", "Softmax", "LogSoftmax",
        "Dropout", "Identity", "PRelu", "Reciprocal", "Sign", "Sin", "Cos", "Not", "IsNaN", "ThresholdedRelu",
        "Shrink", "InstanceNormalization", "LayerNormalization", "LRN", "Hardmax", "Round", "Floor", "Ceil",
        "BatchNormalization", "Cast", "CastLike", "GroupNormalization", "Trilu",
    }
)  # fmt: skip
# the operators above with an ``axis`` attribute, which ONNX Runtime requires in [-rank, rank - 1]
_AXIS_OPS = frozenset({"Softmax", "LogSoftmax", "Hardmax", "LayerNormalization"})
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
                     "And", "Or", "Xor", "Where", "Mod", "LessOrEqual", "GreaterOrEqual"})  # fmt: skip


@_handles(*_UNARY)
def _unary(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    if isinstance(x, _K):
        if call.node.op in ("Cast", "CastLike", "Identity") and x.values is not None:
            to = _like(args[1]) if call.node.op == "CastLike" and len(args) > 1 else call.node.attr("to")
            values = tuple(_cast(call, v, to) for v in x.values)
            return _K(x.shape, None if any(v is None for v in values) else values)
        if call.node.op in ("Floor", "Ceil", "Round") and x.values is not None:
            values = tuple(_rounded_typed(call, v, call.node.op) for v in x.values)
            return _K(x.shape, None if any(v is None for v in values) else values)
        if call.node.op in _ON_VALUES and x.values is not None:
            return _on_values(call, x, args)
        return _K(x.shape, None)
    x = _tensor(call, x)
    if call.node.op == "Trilu" and len(x.shape) < 2:  # (a causal mask's triu of a tensor the model made)
        raise call.shape_error("Trilu needs an input of at least 2 dimensions", x.shape)
    if call.node.op in _AXIS_OPS and call.node.attr("axis") is not None:
        _axis(call, call.node.attr("axis"), len(x.shape))
    if call.node.op == "PRelu" and len(args) > 1 and args[1] is not None:
        # ONNX Runtime broadcasts the slope both ways (a slope of more axes widens the output)
        shape = _broadcast(call, [x.shape, args[1].shape])
        return call.row(x.shape, _T(shape, x.rf if len(shape) == len(x.shape) else None))
    if call.node.op == "LayerNormalization":
        for name, value in zip(("scale", "bias"), args[1:3], strict=False):
            if value is not None:
                _broadcasts_to(call, value.shape, x.shape, name)
    if call.node.op == "BatchNormalization" and len(x.shape) >= 2:
        scale = args[1]
        if isinstance(scale, _K) and scale.shape:
            c = scale.shape[0]
            call.equal(x.shape[1], c, 1, f"BatchNormalization over {c} channels receives {x.shape[1]}", x.shape)
    rf = x.rf
    if call.node.op in ("Softmax", "LogSoftmax", "Hardmax") and x.shape:
        # each output reads the whole of its axis (before opset 13: of every axis from ``axis`` on, default 1)
        axis = call.node.attr("axis")
        axis = ((1 if call.opset < 13 else -1) if axis is None else axis) % len(x.shape)
        rf = across_rf(rf, len(x.shape), tuple(range(axis, len(x.shape))) if call.opset < 13 else (axis,))
    out = call.row(x.shape, _T(x.shape, rf))
    if call.node.op == "Dropout":
        return [out, _T(x.shape)]
    if call.node.op == "LayerNormalization" and len(call.node.outputs) > 1:
        # Mean and InvStdDev: the input's shape with the normalized axes (``axis`` on) kept as 1
        axis = call.node.attr("axis", -1) % len(x.shape)
        stats = _T((*x.shape[:axis], *(1,) * (len(x.shape) - axis)))
        return [out, stats, stats]
    if call.node.op == "BatchNormalization" and len(call.node.outputs) > 1 and len(x.shape) >= 2:
        return [out, *(_T((x.shape[1],)) for _ in call.node.outputs[1:])]  # running (or saved) means and variances
    return out


def _rounded(v: Any, op: str) -> Any:
    """Floor, Ceil or Round (halves to even) of a value; None for a symbolic one that Round meets."""
    if isinstance(v, float):
        return float(math.floor(v) if op == "Floor" else math.ceil(v) if op == "Ceil" else round(v))
    if isinstance(v, int):
        return v
    from convcalc._backend import sympy
    from convcalc._symbolic import to_sympy

    e = to_sympy(v)
    if getattr(e, "is_integer", False):
        return v
    if op == "Round":
        return None
    return sympy().floor(e) if op == "Floor" else sympy().ceiling(e)


def _rounded_typed(call: _Call, v: Any, op: str) -> Any:
    """:func:`_rounded` of a value of any float type, keeping the type (a whole float is a value of its type); a
    Round of a symbolic size that may fall on a half (halves go to even) is refused where a size is read from it."""
    if isinstance(v, _Inexact):
        return v
    if isinstance(v, _F):
        out = _rounded(v.value, op)
        if out is None:
            name = _FLOATS[v.to][0]
            return _Inexact(
                call.spec_error(
                    f"this size is computed in {name} (round({_shown(v.value)}), halves to even), which has no "
                    f"closed form here for a symbolic size: plan with numbers (a numeric input shape such as "
                    f"(1, 3, 224, 224))",
                    value=_shown(v.value),
                )
            )
        return _F(out, v.to)
    return _rounded(v, op)


def _like(target: Any) -> Any:
    """The element type CastLike casts to, as far as the target's values tell it: a float type, INT64, BOOL, or
    None."""
    if isinstance(target, _K) and target.values:
        first = target.values[0]
        if isinstance(first, _F):
            return first.to
        if type(first) is int:
            return 7
        if type(first) is bool:
            return 9
    return None


def _cast(call: _Call, v: Any, to: Any) -> Any:
    """A value cast as ONNX Runtime casts it: to an integer type a float truncates towards zero; to a float type
    the value is rounded to that type (float32: ``Cast(10) * 0.7`` is computed in float32). None where a symbolic
    value's cast has no closed form here; an :class:`_Inexact` value stays one."""
    if isinstance(v, _Inexact) or to is None:
        return v
    if to == 9:  # BOOL: nonzero is True (NaN too)
        value = v.value if isinstance(v, _F) else v
        if isinstance(value, (int, float)):
            return bool(value)
        return _decided(call, "Ne", value, 0)
    if type(v) is bool:  # from BOOL: 0 or 1 of the type cast to
        v = int(v)
    if to in _FLOATS:
        if isinstance(v, _F) and _FLOATS[to][1] >= _FLOATS[v.to][1]:
            return _F(v.value, to)  # the same type or a wider one: the value as it is
        value = v.value if isinstance(v, _F) else v
        if isinstance(value, (int, float)):
            return _F(_fl(float(value), to), to)
        return _exact(call, value, to, value)
    if isinstance(v, _F):
        v = v.value
    if to in (6, 7, 2, 3, 4, 5, 12, 13):  # integer types
        if isinstance(v, float):
            return int(v) if math.isfinite(v) else None
        if isinstance(v, int):
            return v
        from convcalc._backend import decided, sympy
        from convcalc._symbolic import to_sympy

        e = to_sympy(v)
        if getattr(e, "is_integer", False):
            return v
        return sympy().floor(e) if decided(sympy().Ge(e, 0)) is True else None
    if to in (1, 10, 11) and type(v) is int:
        return float(v)
    return v


def _broadcast(call: _Call, shapes: list[Shape]) -> tuple[Any, ...]:
    rank = max(len(s) for s in shapes)
    out: list[Any] = []
    for j in range(rank):
        dims = [s[len(s) - rank + j] for s in shapes if len(s) - rank + j >= 0]
        chosen: Any = 1
        for d in dims:
            if type(d) is int and d == 1:
                continue
            if type(chosen) is int and chosen == 1:
                chosen = d
                continue
            message = f"shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast on axis {j}"
            if (type(chosen) is int and type(d) is int) or _same(chosen, d):
                call.equal(chosen, d, j, message, shapes[0])
            else:
                chosen = call.broadcast(chosen, d, j, message)
        out.append(chosen)
    return tuple(out)


def _broadcasts_to(call: _Call, shape: Shape, target: Shape, what: str) -> None:
    """Require ``shape`` to broadcast to ``target`` without widening it (ONNX's unidirectional broadcasting):
    no more axes, and each of its sizes (from the last axis back) 1 or the target's."""
    message = f"{what} of shape {tuple(shape)} does not broadcast to {tuple(target)}"
    if len(shape) > len(target):
        raise call.spec_error(f"{message}: it has more axes", **{what: tuple(shape)})
    for j in range(1, len(shape) + 1):
        size, axis = shape[-j], len(target) - j
        if type(size) is int and size == 1:
            continue
        call.equal(target[axis], size, axis, f"{message}: axis {axis} has {target[axis]}, {what} {size}", target)


def _same(a: Any, b: Any) -> bool:
    from convcalc._symbolic import to_sympy

    return bool(to_sympy(a) - to_sympy(b) == 0)


def _extreme(a: Any, b: Any, larger: bool) -> Any:
    """``max(a, b)`` (``min`` unless ``larger``) of numbers or sizes: the one side where it is that side for every
    size, else sympy's ``Max`` / ``Min``, which is exact too."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b) if larger else min(a, b)
    from convcalc._backend import decided, smax, smin, sympy
    from convcalc._symbolic import to_sympy

    x, y = to_sympy(a), to_sympy(b)
    first = decided(sympy().Ge(x, y) if larger else sympy().Le(x, y))
    if first is not None:
        return a if first else b
    return smax(x, y) if larger else smin(x, y)


_ARITH = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Max": lambda a, b: _extreme(a, b, True),
    "Min": lambda a, b: _extreme(a, b, False),
}


def _div_in(call: _Call, a: Any, b: Any) -> Any:
    """``_div``, and a size difference of undecided sign over a positive int (a U-Net's centre crop,
    ``(H_a - H_b) / 2``): divided as it is for large inputs, not negative, where the plan then holds."""
    q = _div(a, b)
    if q is not None or type(b) is not int or b <= 0 or isinstance(a, float):
        return q
    from convcalc._symbolic import at_large_sizes, to_sympy

    value = to_sympy(a)
    if not at_large_sizes(value) >= 0:
        return None
    call.at_least(
        a,
        0,
        0,
        f"the dividend {a} of Div is negative here, where convcalc divides it as it is for large inputs "
        f"(not negative: ONNX's integer division truncates towards 0)",
        "dividend not negative",
        (),
    )
    return a // b


def _div(a: Any, b: Any) -> Any:
    """ONNX's Div: true division of floats, integer division that truncates towards zero (C's ``/``); a
    symbolic dividend only where it is never negative (None, an unknown value, else)."""
    if isinstance(a, float) or isinstance(b, float):
        return a / b
    if type(a) is int and type(b) is int and b != 0:
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    if type(b) is int and b > 0:
        from convcalc._backend import decided, sympy
        from convcalc._symbolic import to_sympy

        if decided(sympy().Ge(to_sympy(a), 0)) is True:
            return a // b
        if decided(sympy().Le(to_sympy(a), 0)) is True:  # ``-H / 2`` (torch's export of ``-(-h // 2)``)
            return -((-to_sympy(a)) // b)
    return None


def _typed(call: _Call, fn: Any) -> Any:
    """``fn`` on two values, in the float type of a typed operand where one is typed (ONNX gives both operands
    one type; an initializer's float, whose type convcalc does not keep, is read as a value of that type): the
    result rounded to the type for numbers, for symbolic sizes the exact result where the type holds it for
    every size (else an :class:`_Inexact`)."""

    def apply(a: Any, b: Any) -> Any:
        for v in (a, b):
            if isinstance(v, _Inexact):
                return v
        to = a.to if isinstance(a, _F) else b.to if isinstance(b, _F) else None
        if to is None:
            return fn(a, b)
        # an operand of the type as it is (float16 keeps ONNX Runtime's float32 result), a constant rounded to it
        x, y = ((v.value if isinstance(v, _F) else _fl(float(v), to)) if _number(v) else _sym(v) for v in (a, b))
        if isinstance(x, float) and isinstance(y, float):
            return _F(_fl(fn(x, y), _COMPUTED_IN.get(to, to)), to)
        from convcalc._backend import sympy

        sp = sympy()
        x, y = (sp.Rational(v) if isinstance(v, float) else v for v in (x, y))
        op = call.node.op
        if op == "Div":
            if y == 0:
                return None
            out = sp.sympify(x) / y
        elif op in ("Max", "Min"):
            out = _extreme(x, y, op == "Max")
        else:
            out = fn(x, y)
        return _exact(call, out, to, f"{_shown(x)} {_OP_SIGN.get(op, op)} {_shown(y)}")

    return apply


_OP_SIGN = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}
# the type ONNX Runtime (CPU) computes a type's arithmetic in: float16 and bfloat16 in float32, where it has no
# kernel of their own (it casts to float32 around the node and drops the casts back and forth between such nodes)
_COMPUTED_IN = {10: 1, 16: 1}


def _number(v: Any) -> bool:
    value = v.value if isinstance(v, _F) else v
    return isinstance(value, (int, float))


def _sym(v: Any) -> Any:
    from convcalc._symbolic import to_sympy

    return to_sympy(v.value if isinstance(v, _F) else v)


def _shown(value: Any) -> Any:
    """A symbolic value with its fractions written as decimals, as the float constants of the model read."""
    from convcalc._backend import sympy

    sp = sympy()
    e = sp.sympify(value)
    return e.xreplace({r: sp.Float(r, 15) for r in e.atoms(sp.Rational) if r.q != 1})


def _exact(call: _Call, value: Any, to: int, shown: Any) -> Any:
    """A symbolic result of arithmetic in the float type ``to`` as an :class:`_F` where the type holds it exactly
    for every size, so that rounding never moves it: a sum of sizes (positive integers) times binary fractions,
    ``value * 2**j`` an integer of at most the type's significand bits. A size times a power of 2 (``H * 0.5``,
    ``2 * H``) holds for every size float32 and float64 hold; other sums hold below a bound, a constraint of the
    plan (``1.5 * H``: ``3 * H`` at most 2**24); a bound under 2**16 (``0.7 * H``: 0.7 in float32 is 11744051 / 2**24), a
    type of fewer bits (float16) or a fraction that is not binary (``H / 3``) is refused where a size is read from
    it: an :class:`_Inexact`."""
    from convcalc._backend import decided, sympy
    from convcalc._symbolic import to_sympy

    sp = sympy()
    name, bits = _FLOATS[to]
    e = sp.expand(sp.sympify(to_sympy(value)))
    if e.is_Number:
        return _F(_fl(float(e), to), to) if e.is_finite else None
    scale, weights, const, ok = 1, [], sp.Integer(0), bits >= 24
    for term in sp.Add.make_args(e):
        c, rest = term.as_coeff_Mul()
        if not c.is_Rational or not _power_of_2(int(c.q)):
            ok = False
            break
        scale = max(scale, int(c.q))
        if rest == 1:
            const = c
        elif rest.is_integer is not True or decided(sp.Ge(rest, 0)) is not True:
            ok = False
            break
        else:
            weights.append((c, rest))
    single = len(weights) == 1 and not (weights[0][1].is_Mul or weights[0][1].is_Pow)  # a size, not H * W
    if ok and single and _power_of_2(abs(weights[0][0]).p) and const == 0:
        return _F(value, to)  # a size times a power of 2
    if ok:
        total = sum(int(abs(c) * scale) for c, _ in weights)
        room = (1 << bits) - int(abs(const) * scale)
        bound = room // total if total else 0
        if bound >= 1 << 16:
            if bound < 1 << 40:  # beyond that no tensor holds so many elements on an axis
                need = room - sum(int(abs(c) * scale) * r for c, r in weights)
                call.at_least(
                    need,
                    0,
                    0,
                    f"{_shown(e)} is computed in {name}, exact while {_shown(e * scale)} is at most 2**{bits}",
                    f"exact in {name}",
                    (),
                )
            return _F(e, to)
    return _Inexact(
        call.spec_error(
            f"this size is computed in {name} ({shown}), which rounds it for some sizes, and convcalc follows "
            f"{name} arithmetic on a symbolic size only where it is exact for every size (a size times 2, 0.5, "
            f"0.25, ...): plan with numbers (a numeric input shape such as (1, 3, 224, 224))",
            value=_shown(e),
        )
    )


def _power_of_2(n: int) -> bool:
    return n > 0 and not n & (n - 1)


def _legacy_broadcast(call: _Call, a: Shape, b: Shape) -> tuple[Any, ...] | None:
    """Before opset 7, Add, Sub, Mul, Div, Pow and the comparisons broadcast only with ``broadcast=1``, and then
    ``B`` matches the part of ``A`` that starts at ``axis`` (by default its last axes), or is one element; the
    result has ``A``'s shape. Without it the shapes are equal. None from opset 7 on (numpy's broadcasting)."""
    if call.opset >= 7:
        return None
    if not call.node.attr("broadcast", 0):
        for j, (x, y) in enumerate(zip(a, b, strict=False)):
            call.equal(x, y, j, f"shapes {tuple(a)} and {tuple(b)} differ (broadcast=0 before opset 7)", b)
        if len(a) != len(b):
            raise call.shape_error(f"shapes {tuple(a)} and {tuple(b)} differ (broadcast=0 before opset 7)", b)
        return tuple(a)
    if all(type(d) is int and d == 1 for d in b):
        return tuple(a)
    if len(b) > len(a):
        raise call.shape_error(
            f"with broadcast=1, B of shape {tuple(b)} must be part of A's shape {tuple(a)}: it has more axes", b
        )
    axis = call.node.attr("axis", len(a) - len(b))
    if type(axis) is not int or not 0 <= axis <= len(a) - len(b):
        raise call.spec_error(
            f"with broadcast=1, B of shape {tuple(b)} must match A of shape {tuple(a)} from an axis in "
            f"0..{len(a) - len(b)}",
            axis=axis,
        )
    for k, d in enumerate(b):
        call.equal(a[axis + k], d, axis + k, f"B of shape {tuple(b)} does not match A {tuple(a)} from axis {axis}", b)
    return tuple(a)


_VARIADIC = frozenset({"Sum", "Max", "Min", "Mean"})


def _operands_shape(call: _Call, present: list[Any]) -> tuple[Any, ...]:
    if call.node.op in _VARIADIC and call.opset < 8:  # before opset 8 they take inputs of one shape
        first = present[0].shape
        for a in present[1:]:
            message = f"{call.node.op} before opset 8 takes inputs of one shape: {tuple(first)} and {tuple(a.shape)}"
            if len(a.shape) != len(first):
                raise call.shape_error(message, a.shape)
            for j, (x, y) in enumerate(zip(first, a.shape, strict=True)):
                call.equal(x, y, j, message, a.shape)
        return tuple(first)
    legacy = _legacy_broadcast(call, *(a.shape for a in present)) if len(present) == 2 else None
    return _broadcast(call, [a.shape for a in present]) if legacy is None else legacy


@_handles(*_BINARY)
def _binary(call: _Call, args: list[Any]) -> Any:
    present = [a for a in args if a is not None]
    if all(isinstance(a, _K) for a in present):
        shape = _operands_shape(call, present)
        if call.opset < 7 and len(present) == 2 and len(present[1].shape) not in (0, len(shape)):
            return _K(shape, None)  # B matched from an axis: its values do not line up as numpy's would
        op = call.node.op
        fn = functools.partial(_div_in, call) if op == "Div" else _ARITH.get(op)
        fn = None if fn is None else _typed(call, fn)
        arrays = [_arr(a) for a in present]
        if fn is not None and len(present) == 2 and all(a is not None for a in arrays):
            import numpy as np

            try:
                result = np.frompyfunc(fn, 2, 1)(arrays[0], arrays[1])
            except (TypeError, ValueError, ZeroDivisionError):
                return _K(shape, None)
            result = np.asarray(result, dtype=object).reshape(np.broadcast_shapes(arrays[0].shape, arrays[1].shape))
            if all(v is not None for v in result.reshape(-1).tolist()):
                return _from_arr(result)
            return _K(shape, None)
        if fn is not None and op in ("Max", "Min") and len(present) != 2:
            # Max / Min of one constant or of several: pairwise, in order, as ONNX Runtime folds them
            return _elementwise(present, lambda *vs: functools.reduce(fn, vs), shape)
        rule = _VALUE_RULES.get(op)
        if rule is not None and len(present) == _ARITY[op] and len(args) == len(present):
            return _elementwise(present, functools.partial(rule, call), shape)
        return _K(shape, None)
    tensors = [a for a in present if isinstance(a, _T)]
    shape = _operands_shape(call, present)
    rf = _merge_rf([t.rf for t in tensors], [t.shape for t in tensors]) if len(shape) == len(tensors[0].shape) else None
    return call.row(tensors[0].shape, _T(shape, rf))


# --------------------------------------------------------------------------- #
# comparisons, logic, Mod, Where and the unary operators on constant values (the shape arithmetic exporters write:
# ``Where(Equal(shape, -1), ...)`` for ``expand(B, -1, -1)``, ``Neg`` for ``x[..., -n:]``, ``Clip`` for "same"
# padding, ``Mod`` for ``Unflatten``), followed as ONNX Runtime computes them
# --------------------------------------------------------------------------- #


def _elementwise(present: list[_K], fn: Any, shape: tuple[Any, ...]) -> _K:
    """``fn`` on the values of the constants, broadcast as numpy broadcasts them; a constant of unknown values (its
    shape only) where a value is unknown or an operand's values are."""
    import numpy as np

    arrays = [_arr(a) for a in present]
    if any(a is None for a in arrays):
        return _K(shape, None)
    try:
        out_shape = np.broadcast_shapes(*(a.shape for a in arrays))
        flat = [np.broadcast_to(a, out_shape).reshape(-1).tolist() for a in arrays]
        values = [fn(*vs) for vs in zip(*flat, strict=True)]
    except ConvCalcError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return _K(shape, None)
    if any(v is None for v in values):
        return _K(shape, None)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return _from_arr(out.reshape(out_shape))


def _refused(call: _Call, why: str, value: Any) -> _Inexact:
    """A value convcalc does not follow on symbolic sizes: the refusal, raised where a size is read from it."""
    return _Inexact(
        call.spec_error(
            f"{why}, which the input size decides: plan with numbers (a numeric input shape such as (1, 3, 224, 224))",
            value=value,
        )
    )


_RELATIONS = {"Equal": "Eq", "Less": "Lt", "Greater": "Gt", "LessOrEqual": "Le", "GreaterOrEqual": "Ge"}
_RELATION_SIGN = {"Eq": "==", "Ne": "!=", "Lt": "<", "Gt": ">", "Le": "<=", "Ge": ">="}


def _decided(call: _Call, relation: str, a: Any, b: Any) -> Any:
    """The sympy relation (``Eq``, ``Lt``, ...) of two symbolic values: True or False where it holds for every
    size or for none, else the refusal (an :class:`_Inexact`)."""
    from convcalc._backend import decided, sympy
    from convcalc._symbolic import to_sympy

    x, y = to_sympy(a), to_sympy(b)
    verdict = decided(getattr(sympy(), relation)(x, y))
    if verdict is None:
        return _refused(call, f"whether {_shown(x)} {_RELATION_SIGN[relation]} {_shown(y)} holds", _shown(x - y))
    return bool(verdict)


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Two operands as plain values, in the float type of a typed one where one is typed (a number of the other
    rounded to that type, as ONNX gives both one type)."""
    to = a.to if isinstance(a, _F) else b.to if isinstance(b, _F) else None
    if to is None:
        return a, b
    x, y = (v.value if isinstance(v, _F) else _fl(float(v), to) if isinstance(v, (int, float)) else v for v in (a, b))
    return x, y


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float))  # bools too


def _compare(call: _Call, a: Any, b: Any) -> Any:
    """Equal, Less, Greater, LessOrEqual, GreaterOrEqual of two values: a bool."""
    for v in (a, b):
        if isinstance(v, _Inexact):
            return v
    x, y = _operands(a, b)
    relation = _RELATIONS[call.node.op]
    if isinstance(x, bool) != isinstance(y, bool):
        return None  # a bool against a number: no ONNX type holds both
    if _is_number(x) and _is_number(y):
        return bool(_PYTHON_RELATIONS[relation](x, y))
    return _decided(call, relation, x, y)


_PYTHON_RELATIONS: dict[str, Any] = {
    "Eq": lambda x, y: x == y,
    "Lt": lambda x, y: x < y,
    "Gt": lambda x, y: x > y,
    "Le": lambda x, y: x <= y,
    "Ge": lambda x, y: x >= y,
}


def _logic(call: _Call, *values: Any) -> Any:
    """And, Or, Xor of bools (ONNX's logical operators take bool tensors only)."""
    for v in values:
        if isinstance(v, _Inexact):
            return v
    if not all(type(v) is bool for v in values):
        return None
    a, b = values
    op = call.node.op
    return (a and b) if op == "And" else (a or b) if op == "Or" else (a != b)


def _where(call: _Call, condition: Any, x: Any, y: Any) -> Any:
    """Where: ``x`` where the condition is true, ``y`` where it is false (a bool condition only)."""
    if isinstance(condition, _Inexact):
        return condition
    if type(condition) is not bool:
        return None
    return x if condition else y


def _mod(call: _Call, a: Any, b: Any) -> Any:
    """ONNX's Mod: ``fmod=0`` the remainder with the divisor's sign (Python's ``%``, integers only: ONNX Runtime
    refuses it for floats), ``fmod=1`` C's ``fmod``, the dividend's sign. A divisor of 0 leaves the value unknown;
    a symbolic dividend is followed over a whole divisor where the remainder has a closed form."""
    for v in (a, b):
        if isinstance(v, _Inexact):
            return v
    fmod = call.node.attr("fmod", 0)
    floats = any(isinstance(v, (_F, float)) for v in (a, b))
    if floats and not fmod and call.opset < 28:
        raise call.spec_error(
            "Mod of floats needs fmod=1 before opset 28 (ONNX Runtime refuses fmod=0 for them)", fmod=fmod
        )
    if any(type(v) is bool for v in (a, b)):
        return None
    x, y = _operands(a, b)
    if _is_number(x) and _is_number(y):
        if y == 0:
            return None
        if floats:
            out = math.fmod(float(x), float(y))  # exact: a remainder is a value of the operands' type
            if not fmod and out != 0 and (out < 0) != (y < 0):
                return None  # the floor remainder adds the divisor, which may round: not followed
            to = a.to if isinstance(a, _F) else b.to if isinstance(b, _F) else None
            return out if to is None else _F(out, to)
        if fmod:
            r = abs(x) % abs(y)
            return r if x >= 0 else -r
        return x % y
    from convcalc._backend import decided, sympy
    from convcalc._symbolic import to_sympy

    sp = sympy()
    e, d = sp.sympify(to_sympy(x)), sp.sympify(to_sympy(y))
    shown = f"{_shown(e)} mod {_shown(d)}"
    if not d.is_Integer or d == 0 or e.is_integer is not True:
        return _refused(call, f"Mod of a symbolic size ({shown}): its remainder", _shown(e))
    if fmod and decided(sp.Ge(e, 0)) is not True:
        return _refused(call, f"the sign of the dividend of fmod ({shown})", _shown(e))
    out = sp.expand(e - d * sp.floor(e / d))  # Python's %, and C's fmod of a dividend not negative
    if floats:
        to = a.to if isinstance(a, _F) else b.to if isinstance(b, _F) else None
        return out if to is None else _F(out, to)
    return out


_VALUE_RULES: dict[str, Any] = {
    **dict.fromkeys(("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"), _compare),
    **dict.fromkeys(("And", "Or", "Xor"), _logic),
    "Mod": _mod,
    "Where": _where,
}
_ARITY = {op: 3 if op == "Where" else 2 for op in _VALUE_RULES}


_ON_VALUES = frozenset({"Neg", "Abs", "Sign", "Not", "Clip"})


def _on_values(call: _Call, x: _K, args: list[Any]) -> _K:
    """Neg, Abs, Sign, Not and Clip of a constant of known values."""
    op = call.node.op
    if op == "Clip":
        bounds: list[Any] = []
        if call.opset < 11:  # the bounds are attributes (floats) before opset 11
            bounds = [call.node.attr("min"), call.node.attr("max")]
        else:
            for bound in args[1:3]:
                if bound is None:
                    bounds.append(None)
                elif isinstance(bound, _K) and bound.values is not None and len(bound.values) == 1:
                    bounds.append(bound.values[0])
                else:
                    return _K(x.shape, None)  # a bound ONNX Runtime takes from data (or not a scalar)
        bounds += [None] * (2 - len(bounds))
        values = tuple(_clip(call, v, bounds[0], bounds[1]) for v in x.values or ())
    else:
        values = tuple(_unary_value(call, op, v) for v in x.values or ())
    return _K(x.shape, None if any(v is None for v in values) else values)


def _clip(call: _Call, v: Any, low: Any, high: Any) -> Any:
    """``min(max(v, low), high)``, as ONNX Runtime clips (``high`` where ``low`` exceeds it)."""
    if type(v) is bool or any(type(b) is bool for b in (low, high)):
        return None
    out = v
    for bound, larger in ((low, True), (high, False)):
        if bound is not None:
            out = _typed(call, functools.partial(_extreme, larger=larger))(out, bound)
            if out is None:
                return None
    return out


def _unary_value(call: _Call, op: str, v: Any) -> Any:
    """Neg, Abs, Sign or Not of one value."""
    if isinstance(v, _Inexact):
        return v
    if op == "Not":
        return (not v) if type(v) is bool else None
    if type(v) is bool:
        return None  # Neg, Abs and Sign take numbers
    if isinstance(v, _F):
        out = _unary_value(call, op, v.value)
        return out if out is None or isinstance(out, _Inexact) else _F(float(out) if _is_number(out) else out, v.to)
    if op == "Neg":
        return -v
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return v if op == "Abs" else None
        if op == "Abs":
            return abs(v)
        return type(v)((v > 0) - (v < 0))
    from convcalc._symbolic import to_sympy

    e = to_sympy(v)
    positive, negative = _decided(call, "Gt", e, 0), _decided(call, "Lt", e, 0)
    if op == "Abs":
        if positive is True or negative is False:
            return v
        if negative is True:
            return -e
        return _extreme(e, -e, True)  # exact: max(e, -e)
    for verdict, sign in ((positive, 1), (negative, -1)):
        if verdict is True:
            return sign
    if positive is False and negative is False:
        return 0
    return _refused(call, f"the sign of {_shown(e)}", _shown(e))


# --------------------------------------------------------------------------- #
# linear algebra
# --------------------------------------------------------------------------- #


@_handles("Gemm")
def _gemm(call: _Call, args: list[Any]) -> Any:
    a, b = args[0], args[1]
    inp = a.shape if isinstance(a, _T) else b.shape
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise call.shape_error(f"Gemm takes 2-D A and B, got {len(a.shape)}-D and {len(b.shape)}-D", inp)
    m, k = (a.shape[1], a.shape[0]) if call.node.attr("transA", 0) else a.shape
    kb, n = (b.shape[1], b.shape[0]) if call.node.attr("transB", 0) else b.shape
    call.equal(
        k,
        kb,
        1,
        f"Gemm needs {kb} features from A (B is {b.shape}, transB={call.node.attr('transB', 0)}), got {k}",
        inp,
        reason=f"in_features={kb}" if isinstance(b, _K) else "sizes equal",
    )
    bias = len(args) > 2 and args[2] is not None
    if bias:
        _broadcasts_to(call, args[2].shape, (m, n), "C")
    if not isinstance(a, _T) and not isinstance(b, _T):
        return _K((m, n), None)  # a product of constants: its shape, for what it broadcasts with
    # k * n per row of the output, whichever operand is a constant (torch's addmm counts a product of activations
    # so); C is a Linear's bias (its adds counted) where B is the weight
    macs = kb * n
    return call.row(inp, _T((m, n)), macs=macs, bias_adds=n if bias and isinstance(b, _K) else 0)


@_handles("MatMul")
def _matmul(call: _Call, args: list[Any]) -> Any:
    a, b = args
    sa, sb = a.shape, b.shape
    if len(sa) == 0 or len(sb) == 0:
        raise call.shape_error("MatMul takes tensors of rank 1 or more", sa)
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    reason = f"in_features={kb}" if isinstance(b, _K) else "sizes equal"
    call.equal(ka, kb, len(sa) - 1, f"MatMul of {sa} and {sb}: inner sizes {ka} and {kb} differ", sa, reason=reason)
    batch = _broadcast(call, [sa[:-2], sb[:-2]]) if len(sa) > 2 or len(sb) > 2 else ()
    out = (*batch, *(sa[-2:-1] if len(sa) >= 2 else ()), *(sb[-1:] if len(sb) >= 2 else ()))
    if not isinstance(a, _T) and not isinstance(b, _T):
        return _K(out, None)  # a product of constants: its shape, for what it broadcasts with
    # one multiply-accumulate per output element and inner index, per element of the output's first axis, whichever
    # operand is a constant (a weight) or both depend on the input (attention's q @ k^T), as the torch reader counts
    # ``a @ b``; with a vector on the left there is no batch of rows: the product counts once for the whole input
    inp = sa if isinstance(a, _T) else sb
    if len(sa) == 1:
        return call.row(inp, _T(out), macs=_prod(out) * ka, batch=1)
    return call.row(inp, _T(out), macs=_prod(out[1:]) * ka)
