"""fx operation handlers: values passed through, elementwise arithmetic and broadcasting (reductions are
``ops_reduce``, shape queries ``ops_query``, indexing ``ops_index``)."""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Callable
from typing import Any

from convcalc._args import received
from convcalc._errors import ShapeError
from convcalc._types import Shape
from convcalc.torch.nodes import INTEGER_DTYPES
from convcalc.torch.ops_norm import FEATURE_DROPOUTS, dims_at_least, drops_channels, gelu_approximation
from convcalc.torch.reached import arithmetic, as_integers, compared
from convcalc.torch.strides import contiguous, copied, is_contiguous, is_dense, iterated, viewed
from convcalc.torch.values import (
    _argument,
    _Call,
    _describe_value,
    _exactly_rounded,
    _handles,
    _IfAny,
    _is_int,
    _is_size,
    _Known,
    _Loose,
    _merge_rf,
    _Opaque,
    _Reached,
    _Real,
    _real_value,
    _rearranged,
    _same,
    _size,
    _SizeTensor,
    _Tensor,
    _tensor_arg,
)

# -- values passed through ---------------------------------------------------- #


@_handles("contiguous")
def _contiguous(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.contiguous()``: the same sizes, laid out contiguously (a copy where they were not)."""
    t = args[0] if args else kwargs.get("input")
    if not isinstance(t, _Tensor) or is_contiguous(t.shape, t.strides):
        return t
    return _Tensor(t.shape, t.rf, t.const, contiguous(tuple(t.shape)), t.integral, t.span, t.known)


@_handles(
    "clone",
    "detach",
    "float",
    "double",
    "half",
    "bfloat16",
    "long",
    "int",
    "short",
    "bool",
    "byte",
    "to",
    "type",
    "type_as",
    "cpu",
    "cuda",
    "requires_grad",
)
def _passthrough(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = args[0] if args else kwargs.get("input")
    cast = _cast_to(call.kind, args[1:], kwargs)
    if isinstance(t, _Real) and cast in INTEGER_DTYPES:
        # ``torch.true_divide(h, 2).long()``: the quotient rounded toward zero, a size where it is not negative
        _exactly_rounded(call, t)
        return _whole(_rounded_division(call, t.value, 1, "trunc"))
    if isinstance(t, _SizeTensor) and not t.integral and cast in INTEGER_DTYPES:  # ``(torch.tensor(w) / 2).int()``
        for v in t.values:
            _exactly_rounded(call, v)
        return _SizeTensor(t.shape, tuple(_whole(_rounded_division(call, v, 1, "trunc")) for v in t.values), t.const)
    if isinstance(t, _SizeTensor) and not t.integral and (cast is _SAME or "float" in str(cast)):
        return _SizeTensor(t.shape, t.values, t.const)  # floats kept: a copy, or a cast to another float type
    if cast is None and any(isinstance(v, _Tensor) and v.integral for v in (*args[1:2], *kwargs.values())):
        cast = "torch.int32"  # ``x.type_as(ids)``: int32 or int64 (the narrower, for the values it keeps)
    if isinstance(t, _Tensor) and t.mask is not None and cast in INTEGER_DTYPES:
        # ``input_ids.ne(pad).int()``: 0 and 1, each for some input
        kept = t.strides if t.strides is not None and is_dense(t.shape, t.strides) else None
        return _Tensor(t.shape, t.rf, t.const, kept, integral=True, span=as_integers(t.mask))
    if isinstance(t, _Tensor) and t.integral and (cast is not _SAME or call.kind == "clone"):
        # whole numbers that index by position stay so (values and all) only in int32 or int64: a cast to bool
        # or uint8 makes a mask, to int8 or int16 a tensor that wraps around and indexes nothing, to a float a
        # tensor of no size; a copy of a tensor of sizes is a tensor of its own
        whole = cast is _SAME or cast in INTEGER_DTYPES
        if isinstance(t, _SizeTensor) and whole:
            return _SizeTensor(t.shape, t.values, t.const)
        kept = t.strides if t.strides is not None and is_dense(t.shape, t.strides) else None
        # the same values (a copy; ``.long()`` of a module's index buffer), unless int32 wraps them around
        span = t.span if whole and _fits(t.span, cast) else None
        if whole and span is None and isinstance(t.span, _Reached):
            # bounds computed from the model's inputs are kept where int32 holds them: a condition on the sizes
            # (dropped, the index they make would go unchecked)
            _held_by_int32(call, t.span)
            span = t.span
        return _Tensor(t.shape, t.rf, t.const, kept, integral=whole, span=span, known=t.known)
    if not isinstance(t, _Tensor) or t.strides is None or call.kind == "detach" or is_dense(t.shape, t.strides):
        return t  # the tensor itself, a view of it, or a copy with its very strides (a dense one's)
    if call.kind == "clone":
        return _Tensor(t.shape, t.rf, t.const, copied(t.shape, t.strides))
    # a cast or a move returns the tensor itself where its dtype or device is already the one asked for (convcalc
    # does not follow dtypes), else a dense copy: the strides of a tensor with gaps (x[:, ::2]) are not known
    return _Tensor(t.shape, t.rf, t.const, integral=t.integral, span=t.span, known=t.known)


# the dtype a cast asks for, by name; _SAME for a copy or a move that keeps the dtype, None where unknown
_SAME = "same"
_CASTS = {
    "long": "torch.int64",
    "int": "torch.int32",
    "short": "torch.int16",
    "bool": "torch.bool",
    "byte": "torch.uint8",
}


def _cast_to(kind: str, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    if kind in _CASTS:
        return _CASTS[kind]
    if kind in ("float", "double", "half", "bfloat16"):
        return f"torch.{kind}"
    if kind in ("to", "type"):
        given = (*rest, kwargs.get("dtype"), kwargs.get("other"))
        if any(isinstance(v, _Tensor) for v in given):  # x.to(other): other's dtype, which convcalc does not follow
            return None
        dtypes = [str(v) for v in given if type(v).__name__ == "dtype"]
        return dtypes[0] if dtypes else _SAME
    if kind == "type_as":
        return None
    return _SAME


@_handles("zeros_like", "ones_like", "empty_like", "full_like")
def _like(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.zeros_like(x)``: a tensor of ``x``'s shape and dtype (or the ``dtype`` given), its values not ``x``'s."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    dtype = kwargs.get("dtype")
    return _Tensor(t.shape, None, const=True, integral=t.integral if dtype is None else str(dtype) in INTEGER_DTYPES)


@_handles("zeros", "ones", "empty", "full")  # (and the random draws: ops_random)
def _made_of_sizes(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.zeros(n, h)``, ``torch.full((n, h), v)``, ``torch.randint(low, high, (n, h))``: a tensor of the
    sizes given (numbers or sizes of traced tensors), made from no input: no row, like a constant."""
    if "size" in kwargs:
        sizes = kwargs["size"]
    elif call.kind == "full":
        sizes = args[0] if args else ()
    elif call.kind == "randint":
        sizes = next((a for a in args if isinstance(a, tuple)), ())
    else:
        sizes = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    sizes = tuple(sizes)
    if not all(_is_size(d) for d in sizes):
        raise call.spec_error("the sizes of a tensor made in forward must be ints or sizes", size=sizes)
    for j, d in enumerate(sizes):
        if _is_int(d) and d < 0:
            raise call.spec_error("sizes must not be negative", size=sizes)
        call.require_at_least(  # torch: Trying to create tensor with negative dimension
            d,
            0,
            j,
            lambda: f"{call.where}: sizes must not be negative. Received: size={sizes}",
            "size not negative",
        )
    return _Tensor(tuple(_size(d) for d in sizes), None, const=True)


@_handles("new_zeros", "new_ones", "new_empty", "new_full")
def _new_of_sizes(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.new_zeros(n, h)``, ``x.new_full((n, h), v)``: a tensor of the sizes given, as ``torch.zeros``."""
    rest = args[1:]
    if call.kind == "new_full":
        rest = rest[:1]
    return _made_of_sizes(call, rest, {k: v for k, v in kwargs.items() if k == "size"})


@_handles("arange")
def _arange(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.arange(end)`` / ``torch.arange(start, end, step)``: ``ceil((end - start) / step)`` values, for whole
    numbers (and sizes of traced tensors); no row, like a constant."""
    given: dict[str, Any] = {k: kwargs[k] for k in ("start", "end", "step") if k in kwargs}
    # torch's overloads: arange(end), arange(start, end), arange(start, end, step) (a step only beside a start)
    names = ("end",) if len(args) == 1 and not {"start", "end"} & set(given) else ("start", "end", "step")
    bound = dict(zip(names, args, strict=False))
    if (
        len(args) > 3
        or set(bound) & set(given)
        or "end" not in {*bound, *given}
        or ("step" in {*bound, *given} and "start" not in {*bound, *given})
    ):
        raise call.spec_error(
            "takes end, or start and end, or start, end and step (torch: arange() received an invalid combination "
            "of arguments)",
            arguments=tuple(args),
            keywords=tuple(given),
        )
    bound.update(given)
    start, end, step = bound.get("start", 0), bound["end"], bound.get("step", 1)
    if not all(_is_size(v) for v in (start, end)) or not _is_int(step) or step < 1:
        raise call.spec_error(
            "convcalc follows arange of whole numbers (or sizes) with a positive int step",
            start=start,
            end=end,
            step=step,
        )
    count = (end - start + step - 1) // step
    dtype = kwargs.get("dtype")  # whole numbers give integers, where no other dtype is asked for
    integral = dtype is None or str(dtype) in INTEGER_DTYPES
    # its values: from start to its last, which index a table (``self.pos(torch.arange(t))``)
    span = (start, _last(start, count, step))
    if _is_int(count):
        if count < 0:
            raise call.spec_error("end is before start", start=start, end=end, step=step)
        known = _Known((count,), None, (0, start, step))
        return _Tensor((count,), None, const=True, integral=integral, span=span if count else None, known=known)
    call.ctx.at_least(
        _size(count),
        0,
        call.name,
        0,
        lambda: f"{call.where}: end is before start. Received: start={start}, end={end}, step={step}",
        "arange not reversed",
    )
    return _Tensor(
        (_size(count),), None, const=True, integral=integral, span=span, known=_Known((count,), None, (0, start, step))
    )


def _held_by_int32(call: _Call, span: tuple[Any, Any]) -> None:
    """The values between the ends of ``span`` are held by int32 (from -2**31 to 2**31 - 1): conditions on the
    sizes, a ShapeError with numbers (they would wrap around)."""
    least, greatest = span
    for room in (_size(2**31 - 1 - _sympy_of(greatest)), _size(_sympy_of(least) + 2**31)):
        call.require_at_least(
            room,
            0,
            0,
            lambda: (
                f"{call.where}: values {least} to {greatest} cast to int32 wrap around past 2**31 - 1. "
                f"Received: values {least} to {greatest}"
            ),
            "values held by int32",
        )


def _sympy_of(value: Any) -> Any:
    from convcalc._symbolic import to_sympy

    return to_sympy(value)


def _fits(span: tuple[Any, Any] | None, cast: Any) -> bool:
    """Whether integers between the ends of ``span`` keep their values cast to ``cast`` (int32 holds those
    from -2**31 to 2**31 - 1; where the plan cannot tell, not)."""
    if span is None or cast not in ("torch.int32", "torch.int"):
        return True
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    return all(decided(to_sympy(v) >= -(2**31)) is True and decided(to_sympy(v) < 2**31) is True for v in span)


def _last(start: Any, count: Any, step: int) -> Any:
    """``start + (count - 1) * step`` of sizes."""
    from convcalc._symbolic import to_sympy

    return _size(to_sympy(start) + (to_sympy(count) - 1) * step)


@_handles("triu", "tril")
def _triangle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if len(t.shape) < 2:
        raise call.shape_error(f"{call.kind} takes a tensor of at least 2 dims", t.shape)
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


# -- elementwise ---------------------------------------------------------------- #


# Elementwise operations whose result torch lays out anew (contiguously) rather than in its input's order of
# axes, on torch 2.13: their strides are not taken from the input
_NEW_LAYOUT = frozenset({"local_response_norm", "logsigmoid", "log_sigmoid", "rrelu", "masked_fill"})


@_handles(
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "hardswish",
    "hardsigmoid",
    "hardtanh",
    "sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "logsigmoid",
    "log_sigmoid",
    "tanhshrink",
    "hardshrink",
    "softshrink",
    "threshold",
    "_threshold",
    "rrelu",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "clamp",
    "clamp_min",
    "clamp_max",
    "abs",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
    "sign",
    "erf",
    "sin",
    "cos",
    "tan",
    "atan",
    "sinh",
    "cosh",
    "expm1",
    "log1p",
    "log2",
    "log10",
    "floor",
    "ceil",
    "round",
    "trunc",
    "frac",
    "nan_to_num",
    "zero",
    "fill",
    "local_response_norm",
)
def _pointwise(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    _refused_arguments(call, t.shape, args, kwargs)
    if isinstance(t, _SizeTensor) and call.kind in ("floor", "ceil", "trunc") and len(args) == 1 and not kwargs:
        # ``torch.ceil(torch.tensor(w) / 2)``: the values rounded, floats where they were (a cast makes them ints)
        return _SizeTensor(t.shape, tuple(_rounded_value(call, v) for v in t.values), t.const)
    if call.kind in _OPERANDS and any(isinstance(v, _Tensor) for v in (*args[1:], *kwargs.values())):
        return _binary(call, args, kwargs)  # torch.clamp(x, min=t): bounds that are tensors broadcast with x
    strides = t.strides if call.inplace else None
    if not call.inplace and call.kind not in _NEW_LAYOUT:
        strides = iterated([(t.shape, t.strides)], t.shape, scalars=False)
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const, strides))


_DROPOUTS = frozenset({"dropout", "alpha_dropout", "dropout1d", *FEATURE_DROPOUTS})


def _numbers(*values: Any) -> bool:
    """Whether all are plain numbers: an argument that is a size of the input is not checked."""
    return all(isinstance(v, (int, float)) for v in values)


def _refused_arguments(call: _Call, shape: Shape, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """torch's (2.13) checks of an elementwise function's arguments, and of the input's dims where the function
    has some: a SpecError where torch on meta tensors (where a SpecError sends the call) refuses the call too."""
    kind = call.kind
    if kind in _DROPOUTS:
        p = _argument(args, kwargs, 1, "p", 0.5)
        if _numbers(p) and not 0 <= p <= 1:  # torch: dropout probability has to be between 0 and 1
            raise call.spec_error("p is the probability of dropping an element: use a p from 0 to 1", p=p)
        if kind == "dropout1d" and len(shape) not in (2, 3):  # torch: dropout1d: Expected 2D or 3D input
            raise call.shape_error("expects a 2-D (C, L) or 3-D (N, C, L) input: use dropout for other ranks", shape)
        training = kwargs["training"] if "training" in kwargs else _argument(args, kwargs, 2, "train")
        drops_channels(call, kind, shape, p, training)
    elif kind == "local_response_norm":
        dims_at_least(call, shape, 3)  # torch: Expected 3D or higher dimensionality input
        size = _argument(args, kwargs, 1, "size")
        if (isinstance(size, (bool, float)) or (type(size) is int and size < 1)) and 0 not in shape:
            # torch: kernel size should be greater than zero (it returns an input without elements as it is)
            raise call.spec_error("size is the number of channels to sum over: use a positive int", size=size)
    elif kind == "hardtanh" and call.functional:
        # F.hardtanh checks its bounds; the builtins it calls, torch._C._nn.hardtanh and F.hardtanh_, take any
        low, high = kwargs.get("min_val", -1.0), kwargs.get("max_val", 1.0)
        if _numbers(low, high) and low > high:  # torch: min_val cannot be greater than max_val
            raise call.spec_error("min_val must not be greater than max_val: swap them", min_val=low, max_val=high)
    elif kind == "rrelu":
        low, high = _argument(args, kwargs, 1, "lower", 1 / 8), _argument(args, kwargs, 2, "upper", 1 / 3)
        if not _numbers(low, high):
            return
        for name, value in (("lower", low), ("upper", high)):
            if not math.isfinite(value):  # torch: rrelu: lower bound must be finite
                raise call.spec_error(f"{name} must be a finite number", **{name: value})
        if low > high:  # torch: Lower bound should be less than or equal to the upper bound
            raise call.spec_error("lower must not be greater than upper: swap them", lower=low, upper=high)
    elif kind == "celu" and _numbers(alpha := _argument(args, kwargs, 1, "alpha", 1.0)) and alpha == 0:
        # torch: ZeroDivisionError: alpha cannot be 0 for CELU. A ShapeError, not a SpecError: torch on meta tensors
        # takes it
        raise ShapeError(
            f"{call.where}: alpha must not be 0 (celu divides by it): use a nonzero alpha, such as the default "
            f"1.0. {received({'alpha': alpha})}"
        )
    elif kind == "gelu":
        gelu_approximation(call, kwargs.get("approximate", "none"))
    elif kind in ("threshold", "_threshold"):  # F.threshold(x, threshold, value): numbers, 0-D tensors among them
        for name, position in (("threshold", 1), ("value", 2)):
            bound = _argument(args, kwargs, position, name)
            if not (_numbers(bound) or _is_size(bound) or (isinstance(bound, _Tensor) and not bound.shape)):
                # torch: threshold(): argument 'threshold' (position 2) must be Number, not NoneType
                raise call.spec_error(f"{name} must be a number", **{name: _describe_value(bound)})
    elif kind == "softshrink" and _numbers(lambd := _argument(args, kwargs, 1, "lambd", 0.5)):
        # torch: lambda must be in range [0, the largest value of the input's dtype]; convcalc does not follow
        # dtypes and takes float64's (a float32 input's is 3.4e38)
        if not 0 <= lambd <= sys.float_info.max:
            raise call.spec_error("lambd must be from 0 to the largest value of the input's dtype", lambd=lambd)
    elif kind == "clamp" and _argument(args, kwargs, 1, "min") is None and _argument(args, kwargs, 2, "max") is None:
        # torch: torch.clamp: At least one of 'min' or 'max' must not be None
        raise call.spec_error("needs min or max (or both)", min=None, max=None)
    elif kind == "fill" and isinstance(value := _argument(args, kwargs, 1, "value"), _Tensor) and value.shape:
        # torch: fill_ only supports 0-dimension value tensor
        raise ShapeError(
            f"{call.where}: fills with one value: a number or a 0-D tensor. Received: value_shape={tuple(value.shape)}"
        )


_SCALAR_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "fmod": lambda a, b: _fmod(a, b),
    "pow": operator.pow,
    "rsub": lambda a, b: b - a,
    "maximum": max,
    "minimum": min,
    "matmul": operator.matmul,
    "gt": operator.gt,
    "lt": operator.lt,
    "ge": operator.ge,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "rshift": operator.rshift,
    "lshift": operator.lshift,
}


def _fmod(a: Any, b: Any) -> Any:
    """``torch.fmod``: C's remainder, which takes the dividend's sign (Python's ``%``, torch's ``remainder``,
    the divisor's): ``fmod(-7, 3)`` is -1 where ``-7 % 3`` is 2."""
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)
        return rest if a >= 0 else -rest
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.fmod(a, b)
    from convcalc._backend import sympy

    sp = sympy()
    if not (isinstance(a, (int, sp.Basic)) and isinstance(b, (int, sp.Basic))):
        raise TypeError("fmod of sizes: as sympy expressions")  # (the caller takes them so)
    return sp.sign(a) * sp.Mod(sp.Abs(a), sp.Abs(b))


# the operands, by keyword, of point-wise operations of more tensors than two or other than (input, other):
# ConvNeXt-V2's GlobalResponseNorm's addcmul, and clamp with bounds that are tensors (None is no bound)
_OPERANDS = {
    "addcmul": ("input", "tensor1", "tensor2"),
    "addcdiv": ("input", "tensor1", "tensor2"),
    "lerp": ("input", "end", "weight"),
    "clamp": ("input", "min", "max"),
    "clamp_min": ("input", "min"),
    "clamp_max": ("input", "max"),
}


@_handles("neg", "bitwise_not", "logical_not")
def _neg(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``-x``, ``~mask`` (DETR's ``not_mask``), ``torch.logical_not``: the tensor's shape, or the number's value."""
    value: Any = args[0] if args else kwargs.get("input")
    if isinstance(value, _SizeTensor) and call.kind == "neg":  # -torch.tensor([h - w]): the sizes negated
        return _SizeTensor(value.shape, tuple(_size(-v) for v in value.values), value.const)
    if not isinstance(value, _Tensor):
        if call.kind == "neg":
            return -value
        if call.kind == "bitwise_not" and _is_int(value):
            return ~value
        raise call.spec_error(f"convcalc follows {call.kind} of a tensor or an int", input=value)
    t = _pointwise(call, args, kwargs)
    return t if call.kind == "neg" else _Tensor(t.shape, t.rf, t.const, t.strides, value.integral)


@_handles(
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "fmod",
    "pow",
    "rsub",
    "maximum",
    "minimum",
    "where",
    "gt",
    "lt",
    "ge",
    "le",
    "eq",
    "ne",
    "greater",
    "less",
    "and",
    "or",
    "xor",
    "logical_and",
    "logical_or",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "rshift",
    "lshift",
    "bitwise_right_shift",
    "bitwise_left_shift",
    "masked_fill",
    "addcmul",
    "addcdiv",
    "lerp",
)
def _binary(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if call.kind == "where":
        operands = list(args) + [kwargs[k] for k in ("condition", "input", "other") if k in kwargs]
        if len(operands) == 1:  # torch.where(condition): the indices where it holds, as many as the data says
            raise call.spec_error(
                "torch.where(condition) gives the indices where the condition holds, a count that depends on the "
                "data; convcalc plans shapes that follow from sizes",
                arguments=1,
            )
    elif call.kind == "masked_fill":  # x.masked_fill(mask, value): x and its mask broadcast, the value is a scalar
        operands = list(args[:2]) + [kwargs[k] for k in ("input", "mask") if k in kwargs]
        value = args[2] if len(args) > 2 else kwargs.get("value")
        if isinstance(value, _Tensor) and value.shape:
            # torch: masked_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 dimension(s)
            raise ShapeError(
                f"{call.where}: fills with one value: a number or a 0-D tensor, not a {len(value.shape)}-D tensor "
                f"(x.masked_fill(mask, value.squeeze()) where it holds one element). "
                f"Received: value_shape={tuple(value.shape)}"
            )
    elif call.kind in _OPERANDS:  # torch.addcmul(x, a, b, value=v), torch.clamp(x, t, None): all broadcast
        names = _OPERANDS[call.kind]
        operands = [v for v in [*args[: len(names)], *(kwargs[k] for k in names if k in kwargs)] if v is not None]
    else:
        # (pow's second operand is its exponent)
        operands = list(args[:2]) + [kwargs[k] for k in ("input", "other", "exponent") if k in kwargs]
    tensors = [v for v in operands if isinstance(v, _Tensor)]
    rounding = kwargs.get("rounding_mode", args[2] if call.kind == "truediv" and len(args) > 2 else None)
    of_sizes = len(operands) == 2 and all(
        isinstance(v, _SizeTensor) or (_is_size(v) and not isinstance(v, _Tensor)) for v in operands
    )
    if call.kind == "truediv" and rounding is not None and (not tensors or of_sizes) and len(operands) == 2:
        # ``torch.div(h, 2, rounding_mode="floor")`` of sizes (or of tensors of sizes): whole numbers, rounded as asked
        if not tensors:
            return _rounded_division(call, operands[0], operands[1], rounding)
        return _size_tensor_arithmetic(call, operands[0], operands[1], rounding)
    if tensors and call.kind in _SIZE_TENSOR_OPS and of_sizes:
        return _size_tensor_arithmetic(call, operands[0], operands[1])
    if not tensors:
        if call.kind in _COMPARISONS:  # ``if h / w > 1.5``: the float's value compared
            operands = [_real_value(v) for v in operands]
        if len(operands) != 2 or call.kind not in _SCALAR_OPS:
            raise call.spec_error("cannot follow this operation on non-tensors", arguments=tuple(operands))
        if call.kind in ("eq", "ne") and not all(type(v) in (int, bool, float) for v in operands):
            if all(_is_size(v) for v in operands):
                return _size_equality(call.kind, operands[0], operands[1])
            equal = _equal_values(call, operands[0], operands[1])
            if type(equal) is bool:
                return equal if call.kind == "eq" else not equal
            from convcalc._backend import sympy

            return equal if call.kind == "eq" else sympy().Not(equal)
        return _scalar_arithmetic(call, operands)
    shape = _broadcast(call, [t.shape for t in tensors])
    if call.inplace and isinstance(operands[0], _Tensor):
        _written_into(call, operands[0].shape, shape)
    rf = _merge_rf(tensors)
    if call.inplace and isinstance(operands[0], _Tensor):
        strides = operands[0].strides
    else:
        laid = [(t.shape, t.strides) for t in tensors]
        strides = iterated(laid, shape, len(tensors) < len(operands)) if call.kind not in _NEW_LAYOUT else None
    # integers and integers give integers (DGCNN's ``topk`` indices plus an ``arange`` times the points: an index)
    integral = call.kind in _INTEGER_CLOSED and all(
        v.integral if isinstance(v, _Tensor) else _is_size(v) for v in operands
    )
    # (``torch.add(i, n, alpha=k)`` scales the second: its bounds are not followed)
    span = _span_of(call.kind, operands, shape) if integral and len(operands) == 2 and "alpha" not in kwargs else None
    out = _Tensor(shape, rf, all(t.const for t in tensors), strides, integral, span)
    if call.kind in _COMPARISONS:  # ``input_ids.ne(pad)``: all False for some input, all True for another
        out.mask = compared(call.kind, operands)
    return call.row(tensors[0].shape, out)


def _every_pair(operands: list[Any]) -> bool:
    """Whether a point-wise operation meets every value of one operand with every value of the other (a number
    and a tensor; ``i[:, None]`` and ``i[None, :]``), so that the bounds of its result are met too: two tensors
    aligned on an axis (``i - i``) meet some pairs only."""
    shapes = [v.shape for v in operands if isinstance(v, _Tensor)]
    if len(shapes) < 2:
        return True
    a, b = (tuple(reversed(shape)) for shape in shapes)
    return all(x == 1 or y == 1 for x, y in zip(a, b, strict=False))


def _span_of(kind: str, operands: list[Any], shape: Shape = ()) -> tuple[Any, Any] | None:
    """The least and the greatest value of a sum, a difference or a product by a size of integer tensors whose
    values the plan bounds (a relative position, ``i[:, None] - i[None, :] + 15``; an offset, ``arange(b) * n``),
    or None; of bounds computed from the model's inputs, as :func:`~convcalc.torch.reached.arithmetic` says."""
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    if any(isinstance(v, _Tensor) and isinstance(v.span, _Reached) for v in operands):
        return arithmetic(kind, operands, _every_pair(operands), tuple(shape))  # type: ignore[no-any-return]
    spans = [v.span if isinstance(v, _Tensor) else (v, v) for v in operands]
    if any(span is None for span in spans) or not _every_pair(operands):
        return None
    (a, b), (c, d) = ((to_sympy(x), to_sympy(y)) for x, y in spans)  # type: ignore[misc]
    if kind == "add":
        least, greatest = a + c, b + d
    elif kind in ("sub", "rsub"):
        least, greatest = (a - d, b - c) if kind == "sub" else (c - b, d - a)
    elif kind == "mul" and any(not isinstance(v, _Tensor) and decided(to_sympy(v) >= 0) is True for v in operands):
        least, greatest = (a * c, b * c) if not isinstance(operands[1], _Tensor) else (a * c, a * d)
    else:
        return None
    # bounds that a part's values need not reach give bounds of the same kind
    bounds = (_size(least), _size(greatest))
    return _Loose(bounds) if any(isinstance(span, (_Loose, _IfAny)) for span in spans) else bounds


# the point-wise operations that give integers of integers (true division and comparisons do not)
_INTEGER_CLOSED = frozenset(
    {"add", "sub", "mul", "floordiv", "mod", "fmod", "rsub", "maximum", "minimum", "rshift", "lshift"}
    | {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_right_shift", "bitwise_left_shift"}
)


# the arithmetic of tensors of sizes whose values the plan follows (``diff // 2``, ``diff - diff // 2``)
_SIZE_TENSOR_OPS = frozenset({"add", "sub", "mul", "floordiv", "mod", "fmod", "rsub", "maximum", "minimum", "truediv"})


def _size_tensor_arithmetic(call: _Call, a: Any, b: Any, rounding: Any = None) -> Any:
    """An operation of ``_SIZE_TENSOR_OPS`` on tensors of sizes (``_SizeTensor``) and sizes: value by value, with
    torch's broadcasting of their shapes (at most one dim). A true division gives floats (a cast back to an int
    type rounds them toward zero), or whole numbers ``rounding`` as ``torch.div`` asks."""
    shapes = [v.shape for v in (a, b) if isinstance(v, _SizeTensor)]
    shape = _broadcast(call, shapes)
    count = shape[0] if shape else 1

    def spread(v: Any) -> tuple[Any, ...]:
        if not isinstance(v, _SizeTensor):
            return (v,) * count
        return v.values if len(v.values) == count else v.values * count

    pairs = zip(spread(a), spread(b), strict=True)
    if rounding is not None:
        values = tuple(_rounded_division(call, x, y, rounding) for x, y in pairs)
    else:
        values = tuple(_scalar_arithmetic(call, [x, y]) for x, y in pairs)
    return _SizeTensor(shape, values, all(v.const for v in (a, b) if isinstance(v, _SizeTensor)))


def _whole(value: Any) -> Any:
    """A whole float as the int it is (a cast to an integer type); any other value as it is."""
    return int(value) if type(value) is float else value


def _rounded_value(call: _Call, value: Any) -> Any:
    """``floor``, ``ceil`` or ``trunc`` (``call.kind``) of one value of a tensor of sizes: a float stays a float."""
    from convcalc._backend import sympy
    from convcalc._symbolic import to_sympy

    if type(value) is int:
        return value
    if type(value) is float:
        return float(
            math.floor(value)
            if call.kind == "floor"
            else math.ceil(value)
            if call.kind == "ceil"
            else math.trunc(value)
        )
    _exactly_rounded(call, value)
    if call.kind == "trunc":
        return _Real(_rounded_division(call, value, 1, "trunc"))
    rounded = (sympy().floor if call.kind == "floor" else sympy().ceiling)(to_sympy(_real_value(value)))
    return _Real(rounded) if isinstance(value, _Real) else _size(rounded)


def _rounded_division(call: _Call, a: Any, b: Any, rounding: Any) -> Any:
    """``torch.div(a, b, rounding_mode=...)`` of numbers or sizes: ``"floor"`` is ``a // b``; ``"trunc"`` rounds
    toward zero: ``a // b`` too where both are not negative (sizes), exact for ints of either sign."""
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    if rounding not in ("floor", "trunc"):
        raise call.spec_error('rounding_mode must be None, "floor" or "trunc"', rounding_mode=rounding)
    a, b = _real_value(a), _real_value(b)
    if rounding == "trunc" and type(a) in (int, float) and type(b) in (int, float) and b:
        if _is_int(a) and _is_int(b):
            whole = abs(a) // abs(b)
            return whole if (a >= 0) == (b > 0) else -whole
        return float(math.trunc(a / b))
    if rounding == "trunc" and not all(type(v) in (int, float) or decided(to_sympy(v) >= 0) is True for v in (a, b)):
        raise call.spec_error(
            "rounds toward zero a quotient whose sign depends on the symbols; plan with numbers", arguments=(a, b)
        )
    return _scalar_arithmetic(_Call(call.ctx, call.name, "floordiv"), [a, b])


def _scalar_arithmetic(call: _Call, operands: list[Any]) -> Any:
    """An operation of two numbers or sizes, as Python does it (sympy's where a size is symbolic). A true
    division of symbolic sizes, or arithmetic with one, is a float (:class:`_Real`), as in Python."""
    real = call.kind == "truediv" or any(isinstance(v, (_Real, float)) for v in operands)
    exact = call.kind == "truediv" and not any(
        isinstance(v, _Real) or (type(v) is float and not v.is_integer()) for v in operands
    )
    if call.kind in ("add", "sub", "rsub") and sum(isinstance(v, _Real) for v in operands) == 1:
        # ``(n - k) / s + 1`` (encodec's frames): a whole number added to one division rounds to the float nearest
        # the exact sum, whose fraction (k/s, or none) is too far from a whole number to round across it
        exact = all(
            v.exact if isinstance(v, _Real) else _is_size(v) and (type(v) is not int or abs(v) < 2**31)
            for v in operands
        )
    operands = [_real_value(v) for v in operands]
    if call.kind in ("truediv", "floordiv", "mod", "fmod") and _same(operands[1], 0) is True:  # ``h // (w - w)`` too
        raise call.spec_error("divides by zero (Python: ZeroDivisionError)", divisor=operands[1])
    try:
        result = _SCALAR_OPS[call.kind](operands[0], operands[1])
    except TypeError:
        result = _sympy_arithmetic(call, operands)
    if real and call.kind not in _COMPARISONS and not isinstance(result, (int, float)):
        from convcalc._backend import is_symbolic

        if is_symbolic(result):
            # a float: a number where no symbol is left (``h / h * 2`` is 2.0, as in Python)
            return _Real(result, exact) if result.free_symbols else float(result)
    return _size(result)


_COMPARISONS = frozenset({"gt", "lt", "ge", "le", "eq", "ne"})


def _sympy_arithmetic(call: _Call, operands: list[Any]) -> Any:
    """Arithmetic a FloorForm does not do itself (``h / 2``, a true division: ``math.ceil`` of it is a size again),
    done on sympy expressions; a SpecError where that cannot follow either (a tensor's dtype times a size)."""
    from convcalc._backend import is_symbolic
    from convcalc._symbolic import FloorForm, to_sympy

    # a whole float (``H * W / 7 / 7`` of numbers) as its int: the result is a float all the same (``real``)
    operands = [int(v) if type(v) is float and v.is_integer() else v for v in operands]
    if call.kind in _SCALAR_OPS and all(type(v) is int or isinstance(v, FloorForm) or is_symbolic(v) for v in operands):
        try:
            return _SCALAR_OPS[call.kind](to_sympy(operands[0]), to_sympy(operands[1]))
        except TypeError:
            pass
    raise call.spec_error("cannot follow this arithmetic on sizes", arguments=tuple(operands))


def _equal_values(call: _Call, a: Any, b: Any) -> Any:
    """``y.shape[-2:] == x.shape[-2:]``, ``x.shape == (8, 8)``: tuples (or lists) equal item by item, True or
    False where the sizes decide, else a sympy condition (Python's ``==`` of two tuples of expressions says only
    whether they are written alike); dtypes, devices, strings and None by Python's own comparison."""
    if isinstance(a, _Opaque) or isinstance(b, _Opaque):
        raise call.spec_error("cannot compare a value convcalc does not follow", arguments=(a, b))
    if _is_size(a) and _is_size(b):
        return _size_equality("eq", a, b)
    if not (isinstance(a, tuple) and isinstance(b, tuple)) and not (isinstance(a, list) and isinstance(b, list)):
        return bool(a == b)
    if len(a) != len(b):
        return False
    parts = [_equal_values(call, x, y) for x, y in zip(a, b, strict=True)]
    if any(p is False for p in parts):
        return False
    pending = [p for p in parts if p is not True]
    if not pending:
        return True
    from convcalc._backend import sympy

    return sympy().And(*pending)


def _size_equality(kind: str, a: Any, b: Any) -> Any:
    """``h == w`` of sizes: True or False where decided, else a sympy condition (not Python's ``==`` of two
    expressions, which says only whether they are written alike)."""
    same = _same(a, b)
    if same is None:
        from convcalc._backend import sympy
        from convcalc._symbolic import to_sympy

        condition = sympy().Eq(to_sympy(a), to_sympy(b))
        return condition if kind == "eq" else sympy().Not(condition)
    return same if kind == "eq" else not same


def _written_into(call: _Call, target: tuple[Any, ...], shape: Shape) -> None:
    """An in-place operation keeps its first operand's shape: the broadcast shape must be that shape."""

    def message() -> str:
        return (
            f"{call.where}: an in-place operation writes into its first operand of shape {tuple(target)}, but the "
            f"operands broadcast to {tuple(shape)} (torch: output with shape {list(target)} doesn't match the "
            f"broadcast shape {list(shape)}); write it out of place (x = x + y) or make the shapes equal. "
            f"Received: shapes={tuple(target)} and {tuple(shape)}"
        )

    if len(target) != len(shape):
        raise ShapeError(message())
    for axis, (a, b) in enumerate(zip(target, shape, strict=True)):
        call.require_equal(a, b, axis, message)


def _broadcast(call: _Call, shapes: list[Shape], message: Callable[[], str] | None = None) -> tuple[Any, ...]:
    """The shape ``shapes`` broadcast to; where two sizes differ and neither is 1, a ShapeError (a condition where
    they are symbols) with ``message``, by default the operands' (torch: The size of tensor a ... must match)."""
    rank = max(len(s) for s in shapes)
    out = []
    for j in range(rank):
        dims = [s[len(s) - rank + j] for s in shapes if len(s) - rank + j >= 0]
        wide = [d for d in dims if _same(d, 1) is not True and not _one_unless_empty(call, d, j, shapes)]
        if not wide:
            out.append(1)
            continue
        first = wide[0]
        for d in wide[1:]:
            call.require_equal(first, d, j, message or functools.partial(_broadcast_message, call, shapes, j))
        out.append(first)
    return tuple(out)


def _one_unless_empty(call: _Call, size: Any, axis: int, shapes: list[Shape]) -> bool:
    """Whether ``size`` is the least of 1 and sizes of the input (``x[:, :1]`` of an axis that depends on it:
    ``Min(1, h)``), which is 1, and broadcasts, wherever the axis has elements: that is recorded as a condition
    (an empty axis there is not followed)."""
    from convcalc._backend import sympy
    from convcalc._symbolic import FloorForm, to_sympy

    if type(size) is int or (isinstance(size, FloorForm) and size.is_constant):
        return False
    expr = to_sympy(size)
    if not (isinstance(expr, sympy().Min) and 1 in expr.args):
        return False

    def message() -> str:
        return (
            f"{call.where}: axis {axis} has size {size}, which broadcasts as 1 only where it is not empty. "
            f"Received: input_shape={tuple(shapes[0])}"
        )

    call.require_at_least(size, 1, axis, message, "broadcasts (size 1)")
    return True


def _broadcast_message(call: _Call, shapes: list[Shape], axis: int) -> str:
    a, b = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
    text = f"{call.where}: the operands have shapes {tuple(a)} and {tuple(b)}, which do not broadcast"
    if len(a) == len(b) == 4 and call.kind in ("add", "sub"):
        from convcalc.nn.containers import projection_hint

        parts = []
        if _same(a[1], b[1]) is False:
            parts.append(f"the channels differ ({a[1]} vs {b[1]})")
        if any(_same(x, y) is False for x, y in zip(a[2:], b[2:], strict=True)):
            parts.append(f"the sizes differ ({a[2]} x {a[3]} vs {b[2]} x {b[3]})")
        # the shortcut is the operand with fewer channels (ResNet's x), tried first; the other where they agree
        first, second = ("the shortcut", a), ("the other operand", b)
        if type(a[1]) is int and type(b[1]) is int and a[1] > b[1]:
            first, second = ("the shortcut", b), ("the other operand", a)
        text += f": {' and '.join(parts) or 'the shapes differ'}; " + projection_hint(first, second)
    else:
        text += f" (axis {axis}: sizes must be equal or 1)"
    return f"{text}. Received: input_shape={tuple(a)}"


# -- layouts ------------------------------------------------------------------- #


def _reordered(call: _Call, t: _Tensor, order: list[int]) -> _Tensor:
    """The tensor's axes in ``order`` (a permutation); its receptive field kept where the trailing axes stay."""
    rank = len(t.shape)
    shape = tuple(t.shape[j] for j in order)
    k = len(t.rf) if t.rf is not None else 0
    rf = t.rf if k and order[rank - k :] == list(range(rank - k, rank)) else None
    strides = tuple(t.strides[j] for j in order) if t.strides is not None else None
    # (the values of an integer tensor, moved with their axes: ``self.grid.t()``)
    back = [order.index(j) for j in range(rank)]
    known = _rearranged(t.known, shape, lambda at: tuple(at[k] for k in back))
    return call.row(t.shape, _Tensor(shape, rf, t.const, strides, t.integral, t.span, known))


def _view_strides(call: _Call, t: _Tensor, shape: Shape, copy: bool) -> tuple[int, ...] | None:
    """The strides of ``t`` seen as ``shape``, where ``t``'s are known. Where torch cannot view it, ``reshape``
    (``copy``) makes a contiguous copy and ``view`` raises, as torch does."""
    if t.strides is None or not all(type(d) is int for d in shape):
        return None
    got = viewed(t.shape, t.strides, shape)
    if got is not None:
        return got
    if copy:
        return contiguous(shape)
    raise call.shape_error(
        f"view size {tuple(shape)} is not compatible with the input's size and stride (an axis of the view spans "
        f"parts of the input that are not laid out one after another, as after a transpose or permute; torch: "
        f"RuntimeError); call .contiguous() first, or use .reshape{tuple(shape)}",
        t.shape,
    )


def _attribute_transpose(call: _Call, t: _Tensor, name: str) -> _Tensor:
    """``x.mT`` / ``x.mH`` (the last two axes swapped), ``x.T`` (all axes reversed), ``x.H`` (a matrix's)."""
    rank = len(t.shape)
    if name in ("mT", "mH") and rank == 1:
        raise call.shape_error(f"tensor.{name} is only supported on matrices or batches of matrices, not 1-D", t.shape)
    if name == "H" and rank not in (0, 2):
        raise call.shape_error(f"tensor.H is only supported on matrices (2-D tensors), not {rank}-D", t.shape)
    order = list(range(rank))
    if name == "T":
        order.reverse()
    elif rank >= 2:
        order[-2:] = [rank - 1, rank - 2]
    return _reordered(call, t, order)
