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
        return value.values
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
