"""What a node handler reads from its inputs: tensors, constants, integer arguments, axes."""

from __future__ import annotations

import math
from typing import Any

from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.onnx_reader._graph import _K, _T, _Call


def _prod(dims: Any) -> Any:
    return product(tuple(dims))


def _tensor(call: _Call, value: Any, what: str = "input") -> _T:
    if isinstance(value, _T):
        return value
    raise call.spec_error(
        f"{what} must depend on the model input; convcalc plans data tensors here", **{what: "a constant"}
    )


def _consts(call: _Call, value: Any, what: str) -> tuple[Any, ...]:
    if isinstance(value, _K) and value.values is not None:
        return tuple(_plain(v) for v in value.values)
    raise call.spec_error(
        f"{what} must be a constant (an initializer, a Constant node or shape arithmetic on the input's shape)",
        **{what: "a computed tensor"},
    )


def _ints(call: _Call, value: Any, what: str) -> tuple[Any, ...]:
    out = []
    for v in _consts(call, value, what):
        if isinstance(v, float):
            if not v.is_integer():
                raise call.spec_error(f"{what} must hold integers", **{what: v})
            v = int(v)
        out.append(v)
    return tuple(out)


def _axis(call: _Call, axis: Any, rank: int, what: str = "axis") -> int:
    if type(axis) is not int or not -rank <= axis < rank:
        raise call.spec_error(f"{what} must lie in [-{rank}, {rank - 1}]", **{what: axis})
    return axis % rank


def _arr(k: _K) -> Any:
    """The constant as a numpy object array, or None when its values or shape are not known."""
    import numpy as np

    if k.values is None or not all(type(d) is int for d in k.shape) or len(k.values) != math.prod(k.shape):
        return None
    out = np.empty(len(k.values), dtype=object)
    out[:] = list(k.values)
    return out.reshape(k.shape)


def _from_arr(a: Any) -> _K:
    import numpy as np

    a = np.asarray(a, dtype=object)  # np.take with a scalar index on an object array gives the element itself
    return _K(tuple(int(d) for d in a.shape), tuple(a.reshape(-1).tolist()))


def _const_out(values: list[Any] | tuple[Any, ...], shape: Shape | None = None) -> _K:
    vals = tuple(values)
    return _K((len(vals),) if shape is None else shape, vals)


# ONNX's float element types: name and significand bits
_FLOATS: dict[int, tuple[str, int]] = {
    1: ("float32", 24),
    10: ("float16", 11),
    11: ("float64", 53),
    16: ("bfloat16", 8),
}


class _F:
    """A value of a float tensor of ONNX type ``to`` (a key of ``_FLOATS``): a Python float that the type holds, or
    a symbolic size expression that it holds exactly for every size."""

    __slots__ = ("to", "value")

    def __init__(self, value: Any, to: int) -> None:
        self.value, self.to = value, to

    def __repr__(self) -> str:
        return repr(self.value)


class _Inexact:
    """A value that has no closed form on symbolic sizes (float arithmetic that the float type rounds for some
    sizes, a comparison or a sign that the input size decides): the error that refuses it where a size is read from
    it, so that a value never read as a size (one that only feeds data) refuses nothing."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __repr__(self) -> str:
        return "<inexact>"


def _plain(v: Any) -> Any:
    """The value as a number or a symbolic size; raises the refusal of an :class:`_Inexact` one."""
    if isinstance(v, _F):
        return v.value
    if isinstance(v, _Inexact):
        raise v.error.with_traceback(None)
    return v


def _fl(x: float, to: int) -> float:
    """``x`` rounded to the nearest value of the float type ``to`` (halves to even), as a Python float; one rounding
    of the float64 result of an operation on values of that type is the type's own correctly rounded result
    (float64 has more than twice the digits of float32, float16 and bfloat16)."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        if to == 1:
            return float(np.float32(x))
        if to == 10:
            return float(np.float16(x))
        if to == 16:  # bfloat16: the top half of the float32, rounded to nearest even (as ONNX Runtime rounds it)
            bits = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
            if (bits & 0x7F800000) != 0x7F800000:
                bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
            return float(np.array([bits & 0xFFFF0000], dtype=np.uint32).view(np.float32)[0])
    return float(x)
