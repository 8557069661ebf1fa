"""Node handlers of elementwise operators (ONNX broadcasting, symbolic sizes too), ``Gemm`` and ``MatMul``."""

from __future__ import annotations

from typing import Any

from convcalc._types import Shape
from convcalc.nn import _merge_rf
from convcalc.onnx_reader._graph import _K, _T, _Call, _handles
from convcalc.onnx_reader._values import _arr, _from_arr, _prod, _tensor

_UNARY = frozenset(
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid",
        "HardSwish", "Clip", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Gelu", "Mish", "Softmax", "LogSoftmax",
        "Dropout", "Identity", "PRelu", "Reciprocal", "Sign", "Sin", "Cos", "Not", "IsNaN", "ThresholdedRelu",
        "Shrink", "InstanceNormalization", "LayerNormalization", "LRN", "Hardmax", "Round", "Floor", "Ceil",
        "BatchNormalization", "Cast", "CastLike", "GroupNormalization",
    }
)  # fmt: skip
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
                     "And", "Or", "Where", "Mod", "LessOrEqual", "GreaterOrEqual"})  # fmt: skip


@_handles(*_UNARY)
def _unary(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    if isinstance(x, _K):
        if call.node.op in ("Cast", "CastLike", "Identity", "Floor", "Ceil", "Round") and x.values is not None:
            return _K(x.shape, tuple(_cast(v, call.node.attr("to")) for v in x.values))
        return _K(x.shape, None)
    x = _tensor(call, x)
    if call.node.op == "BatchNormalization" and len(x.shape) >= 2:
        scale = args[1]
        if isinstance(scale, _K) and scale.shape:
            c = scale.shape[0]
            call.equal(x.shape[1], c, 1, f"BatchNormalization over {c} channels receives {x.shape[1]}", x.shape)
    out = call.row(x.shape, _T(x.shape, x.rf))
    return [out, _T(x.shape)] if call.node.op == "Dropout" else out


def _cast(v: Any, to: Any) -> Any:
    if to in (6, 7, 2, 3, 4, 5, 12, 13) and isinstance(v, float):  # integer types
        return int(v)
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


def _same(a: Any, b: Any) -> bool:
    from convcalc._symbolic import to_sympy

    return bool(to_sympy(a) - to_sympy(b) == 0)


_ARITH = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Max": lambda a, b: a if (a >= b) is True else b,
    "Min": lambda a, b: a if (a <= b) is True else b,
}


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, float) or isinstance(b, float):
        return a / b
    if type(b) is int and b > 0:
        return a // b
    return None


@_handles(*_BINARY)
def _binary(call: _Call, args: list[Any]) -> Any:
    present = [a for a in args if a is not None]
    if all(isinstance(a, _K) for a in present):
        shape = _broadcast(call, [a.shape for a in present])
        fn = _div if call.node.op == "Div" else _ARITH.get(call.node.op)
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
    tensors = [a for a in present if isinstance(a, _T)]
    shape = _broadcast(call, [a.shape for a in present])
    rf = _merge_rf([t.rf for t in tensors]) if len(shape) == len(tensors[0].shape) else None
    return call.row(tensors[0].shape, _T(shape, rf))


# --------------------------------------------------------------------------- #
# linear algebra
# --------------------------------------------------------------------------- #


@_handles("Gemm")
def _gemm(call: _Call, args: list[Any]) -> Any:
    a, b = args[0], args[1]
    if not isinstance(a, _T):
        raise call.spec_error("convcalc follows Gemm on the input's data (A)", A="a constant")
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise call.shape_error(f"Gemm takes 2-D A and B, got {len(a.shape)}-D and {len(b.shape)}-D", a.shape)
    m, k = (a.shape[1], a.shape[0]) if call.node.attr("transA", 0) else a.shape
    kb, n = (b.shape[1], b.shape[0]) if call.node.attr("transB", 0) else b.shape
    call.equal(
        k,
        kb,
        1,
        f"Gemm needs {kb} features from A (B is {b.shape}, transB={call.node.attr('transB', 0)}), got {k}",
        a.shape,
        reason=f"in_features={kb}",
    )
    macs = kb * n if isinstance(b, _K) else 0
    bias = len(args) > 2 and args[2] is not None
    return call.row(a.shape, _T((m, n)), macs=macs, bias_adds=n if bias and isinstance(b, _K) else 0)


@_handles("MatMul")
def _matmul(call: _Call, args: list[Any]) -> Any:
    a, b = args
    if not isinstance(a, _T) and not isinstance(b, _T):
        return _K((), None)
    sa, sb = a.shape, b.shape
    if len(sa) == 0 or len(sb) == 0:
        raise call.shape_error("MatMul takes tensors of rank 1 or more", sa)
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    reason = f"in_features={kb}" if isinstance(b, _K) else "sizes equal"
    call.equal(ka, kb, len(sa) - 1, f"MatMul of {sa} and {sb}: inner sizes {ka} and {kb} differ", sa, reason=reason)
    batch = _broadcast(call, [sa[:-2], sb[:-2]]) if len(sa) > 2 or len(sb) > 2 else ()
    out = (*batch, *(sa[-2:-1] if len(sa) >= 2 else ()), *(sb[-1:] if len(sb) >= 2 else ()))
    macs: Any = 0
    if isinstance(b, _K) and isinstance(a, _T):
        macs = _prod(sa[1:-1]) * ka * (sb[-1] if len(sb) >= 2 else 1)
    return call.row(sa if isinstance(a, _T) else sb, _T(out), macs=macs)
