"""Read ONNX models (a ``.onnx`` file or an ``onnx.ModelProto``) into a convcalc spec.

The reader turns the ONNX graph into plain, onnx-free data (:class:`OnnxGraph`):
its nodes, the shapes of its initializers and the values of the small ones.
Planning walks the nodes in order with ONNX's own shape rules (``pads``
begin/end, ``auto_pad``, ``ceil_mode``, ``output_shape``, ``Reshape``'s 0 and
-1, ...), on numbers and on convcalc symbols, so :meth:`Plan.valid_sizes` and
:meth:`Plan.inputs_for` answer for exported models too. The ``Shape`` /
``Gather`` / ``Concat`` / ``Cast`` arithmetic that exporters write is followed on
the values themselves, so a ``Reshape`` built from ``x.size(0)`` keeps its
symbolic batch.

Parameters are counted from the initializers: an initializer shared by several
nodes counts once, at the first; one that only feeds a shape input (a
``Reshape`` shape, ``Resize`` scales, ``Pad`` pads, ``Clip`` bounds) is no
parameter; ``BatchNormalization``'s running mean and variance are buffers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc._args import received
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import ReceptiveField
from convcalc.formulas import ceil_div, kernel_extent
from convcalc.nn import Module, _merge_rf

__all__ = ["OnnxGraph", "from_onnx"]

# inputs (by position) that carry shapes or bounds, not weights
_SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Pad": (1, 2, 3),
    "Slice": (1, 2, 3, 4),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "Expand": (1,),
    "Tile": (1,),
    "ConstantOfShape": (0,),
    "Gather": (1,),
    "Clip": (1, 2),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceMin": (1,),
    "ReduceSum": (1,),
    "ReduceProd": (1,),
}
_BUFFER_INPUTS: dict[str, tuple[int, ...]] = {"BatchNormalization": (3, 4)}
_FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
_SMALL = 4096  # initializers up to this many elements keep their values (shape arithmetic)

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


@dataclass(frozen=True, slots=True)
class _Init:
    name: str
    shape: tuple[int, ...]
    values: tuple[Any, ...] | None  # flat, row-major; None for large tensors
    is_float: bool


@dataclass(frozen=True, slots=True)
class _ONode:
    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: tuple[tuple[str, Any], ...]
    trainable: int = 0
    buffers: int = 0

    def attr(self, key: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == key:
                return v
        return default


class _T:
    """A tensor that depends on the input: its shape and receptive field."""

    __slots__ = ("rf", "shape")

    def __init__(self, shape: tuple[Any, ...], rf: tuple[ReceptiveField, ...] | None = None) -> None:
        self.shape, self.rf = tuple(shape), rf


class _K:
    """A constant tensor: its shape and, when known, its flat values (ints, floats or symbolic sizes)."""

    __slots__ = ("shape", "values")

    def __init__(self, shape: tuple[Any, ...], values: tuple[Any, ...] | None) -> None:
        self.shape, self.values = tuple(shape), values


@dataclass(frozen=True, eq=True)
class OnnxGraph(Module):
    """An ONNX model's graph as plain data, planned node by node with ONNX's shape rules.

    ``inputs`` holds the graph input's name and dims (an int, a ``dim_param``
    name, or None for a missing dim); without an input shape, ``plan()`` makes a
    convcalc symbol of each dim that is not a number.
    """

    name: str
    opset: int
    inputs: tuple[tuple[str, tuple[Any, ...]], ...]
    outputs: tuple[str, ...]
    nodes: tuple[_ONode, ...]
    initializers: tuple[_Init, ...] = field(repr=False, default=())

    @property
    def kind(self) -> str:
        return "OnnxGraph"

    def __hash__(self) -> int:
        return hash((self.name, self.opset, tuple(n.name for n in self.nodes)))

    @property
    def _default_input_shape(self) -> tuple[Any, ...]:
        from convcalc._symbolic import symbols

        name, dims = self.inputs[0]
        out: list[Any] = []
        for j, d in enumerate(dims):
            if type(d) is int and d > 0:
                out.append(d)
            else:
                label = d if isinstance(d, str) and d.isidentifier() else f"{_ident(name)}_{j}"
                out.append(symbols(label))
        return tuple(out)

    def _plan(self, flow: Any, ctx: Any, path: str) -> Any:
        shape, rf = flow
        env: dict[str, Any] = {}
        for init in self.initializers:
            env[init.name] = _K(init.shape, init.values)
        input_name, dims = self.inputs[0]
        if len(dims) != len(shape):
            raise ShapeError(
                f"{path or '<model>'} ({self.name}): the ONNX input {input_name!r} has rank {len(dims)} "
                f"({'x'.join(str(d) for d in dims)}); the input shape has rank {len(shape)}. "
                f"Received: input_shape={tuple(shape)}"
            )
        for j, (d, s) in enumerate(zip(dims, shape, strict=True)):
            if type(d) is int and d > 0 and type(s) is int and d != s:
                raise ShapeError(
                    f"{path or '<model>'} ({self.name}): the ONNX input {input_name!r} has size {d} on axis {j}; "
                    f"use {d} there (the model was exported with a fixed size). Received: input_shape={tuple(shape)}"
                )
        env[input_name] = _T(tuple(shape), rf)
        env[""] = None
        for node in self.nodes:
            values = [env.get(n) if n else None for n in node.inputs]
            for n, v in zip(node.inputs, values, strict=True):
                if n and v is None:
                    raise SpecError(
                        f"{_where(node)}: input {n!r} is neither the graph input, an initializer nor an earlier "
                        f"node's output; convcalc plans models with one input. Received: input={n}"
                    )
            handler = _HANDLERS.get(node.op)
            if handler is None:
                raise SpecError(
                    f"{_where(node)}: convcalc does not know the ONNX operator {node.op} (opset {self.opset}). "
                    f"Received: op_type={node.op}, opset={self.opset}"
                )
            call = _Call(ctx, node, path, self.opset)
            results = handler(call, values)
            if not isinstance(results, list):
                results = [results]
            for out_name, value in zip(node.outputs, results, strict=False):
                if out_name:
                    env[out_name] = value
        result = env.get(self.outputs[0])
        if not isinstance(result, _T):
            raise SpecError(
                f"{path or '<model>'} ({self.name}): the output {self.outputs[0]!r} does not depend on the input. "
                f"Received: output={self.outputs[0]}"
            )
        rf_out = result.rf if result.rf is not None and len(result.rf) == len(result.shape) - 2 else None
        return result.shape, rf_out


def _ident(name: str) -> str:
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "x"
    return text if text[0].isalpha() else f"x{text}"


def _where(node: _ONode) -> str:
    return f"{node.name} ({node.op})"


class _Call:
    __slots__ = ("ctx", "node", "opset", "path")

    def __init__(self, ctx: Any, node: _ONode, path: str, opset: int) -> None:
        self.ctx, self.node, self.path, self.opset = ctx, node, path, opset

    @property
    def name(self) -> str:
        return f"{self.path}.{self.node.name}" if self.path else self.node.name

    def where(self) -> str:
        return f"{self.name} ({self.node.op})"

    def row(self, inp: tuple[Any, ...], out: _T, *, macs: Any = 0, bias_adds: Any = 0) -> _T:
        rf = out.rf if out.rf is not None and len(out.rf) == len(out.shape) - 2 else None
        self.ctx.add_row(
            self.name,
            self.node.op,
            tuple(inp),
            out.shape,
            trainable=self.node.trainable,
            buffers=self.node.buffers,
            macs=macs,
            bias_adds=bias_adds,
            receptive_field=rf,
        )
        return out

    def spec_error(self, message: str, **args: Any) -> SpecError:
        return SpecError(f"{self.where()}: {message}. {received(args)}")

    def shape_error(self, message: str, shape: tuple[Any, ...]) -> ShapeError:
        return ShapeError(f"{self.where()}: {message}. Received: input_shape={tuple(shape)}")

    def at_least(self, value: Any, minimum: int, axis: int, message: str, reason: str, shape: tuple[Any, ...]) -> None:
        self.ctx.at_least(
            value,
            minimum,
            self.name,
            axis,
            lambda: f"{self.where()}: {message}. Received: input_shape={tuple(shape)}",
            reason,
        )

    def equal(
        self, a: Any, b: Any, axis: int, message: str, shape: tuple[Any, ...], reason: str = "sizes equal"
    ) -> None:
        """Require ``a == b`` as convcalc.nn's layers do: ``Context.equals(size, number)`` where one side is a
        number (a Linear's ``in_features``), ``Context.equals(a - b, 0)`` where both are sizes (the two inputs
        of an Add or a Concat), so the solver reads ONNX files and convcalc.nn models alike."""
        if type(a) is int and type(b) is int:
            if a != b:
                raise self.shape_error(message, shape)
            return
        if type(b) is int:
            self.ctx.equals(a, b, self.name, axis, lambda: f"{self.where()}: {message}", reason)
        elif type(a) is int:
            self.ctx.equals(b, a, self.name, axis, lambda: f"{self.where()}: {message}", reason)
        else:
            from convcalc._symbolic import to_sympy

            diff = to_sympy(a) - to_sympy(b)
            if diff != 0:
                self.ctx.equals(diff, 0, self.name, axis, lambda: f"{self.where()}: {message}", reason)

    def broadcast(self, a: Any, b: Any, axis: int, message: str) -> Any:
        """Two symbolic sizes broadcast (ONNX's numpy rule) when they are equal or either is 1: the constraint
        ``(a - b)(a - 1)(b - 1) == 0`` says exactly that, and the size is ``max(a, b)`` under it."""
        from sympy import Max

        from convcalc._symbolic import to_sympy

        x, y = to_sympy(a), to_sympy(b)
        self.ctx.equals(
            (x - y) * (x - 1) * (y - 1), 0, self.name, axis, lambda: f"{self.where()}: {message}", "sizes broadcast"
        )
        return Max(x, y)


_HANDLERS: dict[str, Any] = {}


def _handles(*ops: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for op in ops:
            _HANDLERS[op] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _prod(dims: Any) -> Any:
    out: Any = 1
    for d in dims:
        out = out * d
    return out


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
    return _K(tuple(int(d) for d in a.shape), tuple(a.reshape(-1).tolist()))


def _const_out(values: list[Any] | tuple[Any, ...], shape: tuple[Any, ...] | None = None) -> _K:
    vals = tuple(values)
    return _K((len(vals),) if shape is None else shape, vals)


def _spatial(call: _Call, x: _T, minimum: int = 3) -> None:
    if len(x.shape) < minimum:
        raise call.shape_error(
            f"needs a batch, channel and spatial axes ({minimum}-D or more), got {len(x.shape)}-D", x.shape
        )


def _rf_step(rf: Any, extents: Any, strides: Any, begins: Any) -> Any:
    if rf is None:
        return None
    out = []
    for r, k, s, p in zip(rf, extents, strides, begins, strict=True):
        if type(p) is not int:
            return None
        out.append(ReceptiveField(r.size + (k - 1) * r.jump, r.jump * s, r.start - p * r.jump))
    return tuple(out)


def _window_geometry(call: _Call, x: _T, kernel: tuple[int, ...], transpose: bool = False) -> Any:
    """Strides, dilations and (begin, end) pads per axis from the node's attributes (auto_pad resolved)."""
    node = call.node
    nd = len(x.shape) - 2
    if len(kernel) != nd:
        raise call.spec_error(f"kernel_shape has {len(kernel)} values for {nd} spatial axes", kernel_shape=kernel)
    strides = tuple(node.attr("strides") or (1,) * nd)
    dilations = tuple(node.attr("dilations") or (1,) * nd)
    pads = tuple(node.attr("pads") or (0,) * (2 * nd))
    auto_pad = node.attr("auto_pad", "NOTSET") or "NOTSET"
    for name, value, count in (("strides", strides, nd), ("dilations", dilations, nd), ("pads", pads, 2 * nd)):
        if len(value) != count:
            raise call.spec_error(f"{name} needs {count} values for {nd} spatial axes", **{name: value})
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(k < 1 for k in kernel):
        raise call.spec_error(
            "strides, dilations and kernel_shape must be positive",
            strides=strides,
            dilations=dilations,
            kernel_shape=kernel,
        )
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise call.spec_error("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad=auto_pad)
    return strides, dilations, pads[:nd], pads[nd:], auto_pad


# --------------------------------------------------------------------------- #
# convolution and pooling
# --------------------------------------------------------------------------- #


def _same_pads(i: Any, s: int, extent: int, upper: bool) -> tuple[Any, tuple[Any, Any]]:
    """``(out, begin, end)`` of ``auto_pad`` SAME: ``out = ceil(i / s)``, the odd pixel at the end (UPPER)."""
    out = ceil_div(i, s)
    if type(i) is int:
        total = max((out - 1) * s + extent - i, 0)
        small, big = total // 2, total - total // 2
        return out, (small, big) if upper else (big, small)
    if s == 1:
        total = extent - 1
        small, big = total // 2, total - total // 2
        return out, (small, big) if upper else (big, small)
    return out, (None, None)


def _sliding(call: _Call, x: _T, kernel: tuple[int, ...], *, ceil_mode: bool = False) -> tuple[list[Any], Any]:
    strides, dilations, begins, ends, auto_pad = _window_geometry(call, x, kernel)
    spatial: list[Any] = []
    rf_begins: list[Any] = []
    for j, (i, k, s, d, pb, pe) in enumerate(zip(x.shape[2:], kernel, strides, dilations, begins, ends, strict=True)):
        extent = kernel_extent(k, d)
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out, (b, _) = _same_pads(i, s, extent, auto_pad == "SAME_UPPER")
            spatial.append(out)
            rf_begins.append(b)
            continue
        if auto_pad == "VALID":
            pb = pe = 0
        span = i + pb + pe - extent
        if ceil_mode:
            out = (span + s - 1) // s + 1
            if type(out) is int:
                if (out - 1) * s >= i + pb:
                    out -= 1
            elif not (type(pe) is int and s + pe <= extent):  # the last window starts before the end pads
                from convcalc._backend import smin

                out = smin(out - 1, (i + pb - 1) // s) + 1
        else:
            out = span // s + 1
        call.at_least(
            span if not ceil_mode else out - 1,
            0,
            j,
            f"window {extent} (kernel {k}, dilation {d}) does not fit spatial axis {j} of size {i} with pads "
            f"{pb}+{pe}: give an input of at least {max(extent - pb - pe, 1)}",
            f"window {extent} fits the padded input",
            x.shape,
        )
        spatial.append(out)
        rf_begins.append(pb)
    extents = [kernel_extent(k, d) for k, d in zip(kernel, dilations, strict=True)]
    return spatial, _rf_step(x.rf, extents, strides, rf_begins)


@_handles("Conv")
def _conv(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    w = args[1]
    if not isinstance(w, (_K, _T)) or len(w.shape) != len(x.shape):
        raise call.spec_error("the weight must have the input's rank", weight=getattr(w, "shape", None))
    groups = call.node.attr("group", 1)
    cout, cin_g = w.shape[0], w.shape[1]
    kernel = tuple(call.node.attr("kernel_shape") or w.shape[2:])
    if type(groups) is not int or groups < 1 or cout % groups:
        raise call.spec_error("group must divide the weight's output channels", group=groups, weight=w.shape)
    call.equal(
        x.shape[1],
        cin_g * groups,
        1,
        f"weight {w.shape} with group={groups} needs {cin_g * groups} input channels, got {x.shape[1]}",
        x.shape,
    )
    spatial, rf = _sliding(call, x, kernel)
    out = _T((x.shape[0], cout, *spatial), rf)
    weights = cout * cin_g * math.prod(kernel)
    positions = _prod(spatial)
    bias = len(args) > 2 and args[2] is not None
    return call.row(x.shape, out, macs=positions * weights, bias_adds=positions * cout if bias else 0)


@_handles("ConvTranspose")
def _conv_transpose(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    w = args[1]
    node = call.node
    groups = node.attr("group", 1)
    cin, cout_g = w.shape[0], w.shape[1]
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    call.equal(x.shape[1], cin, 1, f"weight {w.shape} needs {cin} input channels, got {x.shape[1]}", x.shape)
    strides, dilations, begins, ends, auto_pad = _window_geometry(call, x, kernel)
    nd = len(kernel)
    op = tuple(node.attr("output_padding") or (0,) * nd)
    output_shape = node.attr("output_shape")
    spatial: list[Any] = []
    for j, (i, k, s, d, pb, pe, o) in enumerate(
        zip(x.shape[2:], kernel, strides, dilations, begins, ends, op, strict=True)
    ):
        extent = kernel_extent(k, d)
        if output_shape:
            target = tuple(output_shape)[-nd:][j]
            total = s * (i - 1) + o + extent - target
            call.at_least(
                total,
                0,
                j,
                f"output_shape {target} is larger than the full output on spatial axis {j}",
                "output_shape fits",
                x.shape,
            )
            spatial.append(target)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            spatial.append(i * s)
        else:
            if auto_pad == "VALID":
                pb = pe = 0
            out = s * (i - 1) + o + extent - pb - pe
            call.at_least(
                out, 1, j, f"output size would be {out} on spatial axis {j}; reduce pads", "output at least 1", x.shape
            )
            spatial.append(out)
    out_t = _T((x.shape[0], cout_g * groups, *spatial))
    weights = cin * cout_g * math.prod(kernel)
    bias = len(args) > 2 and args[2] is not None
    return call.row(
        x.shape, out_t, macs=_prod(x.shape[2:]) * weights, bias_adds=_prod(spatial) * cout_g * groups if bias else 0
    )


@_handles("MaxPool", "AveragePool", "LpPool")
def _pool(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    kernel = tuple(call.node.attr("kernel_shape") or ())
    if not kernel:
        raise call.spec_error("kernel_shape is required", kernel_shape=None)
    ceil_mode = bool(call.node.attr("ceil_mode", 0))
    if call.node.op == "MaxPool" and len(call.node.outputs) > 1 and call.node.outputs[1]:
        pass  # the indices output has the same shape
    spatial, rf = _sliding(call, x, kernel, ceil_mode=ceil_mode)
    out = _T((x.shape[0], x.shape[1], *spatial), rf)
    call.row(x.shape, out)
    return [out, _T(out.shape)]


@_handles("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    return call.row(x.shape, _T((x.shape[0], x.shape[1], *(1 for _ in x.shape[2:]))))


# --------------------------------------------------------------------------- #
# elementwise
# --------------------------------------------------------------------------- #


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


def _broadcast(call: _Call, shapes: list[tuple[Any, ...]]) -> tuple[Any, ...]:
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


# --------------------------------------------------------------------------- #
# shape operations
# --------------------------------------------------------------------------- #


def _reshape_dims(call: _Call, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[Any, ...]:
    allowzero = call.node.attr("allowzero", 0)
    dims = [
        old[j] if (type(s) is int and s == 0 and not allowzero and j < len(old)) else s for j, s in enumerate(sizes)
    ]
    holes = [j for j, s in enumerate(dims) if type(s) is int and s == -1]
    if len(holes) > 1:
        raise call.spec_error("Reshape takes at most one -1", shape=sizes)
    numel = _prod(old)
    if holes:
        known = _prod(d for j, d in enumerate(dims) if j != holes[0])
        dims[holes[0]] = _exact_div(call, numel, known, old, sizes)
    else:
        call.equal(
            _prod(dims), numel, 0, f"Reshape to {tuple(sizes)} needs {_prod(dims)} elements, the input has {numel}", old
        )
    return tuple(dims)


def _exact_div(call: _Call, numel: Any, known: Any, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> Any:
    if type(numel) is int and type(known) is int:
        if known == 0 or numel % known:
            raise call.shape_error(
                f"Reshape to {tuple(sizes)}: {numel} elements do not split into parts of {known}", old
            )
        return numel // known
    from convcalc._backend import sympy
    from convcalc._symbolic import FloorForm, to_sympy

    if type(known) is int and known > 0:
        # cancel the known factor against the leading dims where it divides them exactly
        rest = list(old)
        k = known
        for j, d in enumerate(rest):
            if k == 1:
                break
            if type(d) is int:
                g = math.gcd(d, k)
                rest[j], k = d // g, k // g
        if k == 1:
            return _prod(rest)
    q = sympy().cancel(to_sympy(numel) / to_sympy(known))
    form = FloorForm.parse(q)
    return form if form is not None else q


@_handles("Reshape")
def _reshape(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    sizes = _ints(call, args[1], "shape")
    if isinstance(x, _K):
        dims = _reshape_dims(call, x.shape, sizes)
        return _K(dims, x.values)
    dims = _reshape_dims(call, x.shape, sizes)
    return call.row(x.shape, _T(dims, x.rf if len(dims) == len(x.shape) and dims[2:] == x.shape[2:] else None))


@_handles("Flatten")
def _flatten(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    axis = call.node.attr("axis", 1)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise call.spec_error(f"axis must lie in [-{rank}, {rank}]", axis=call.node.attr("axis", 1))
    dims = (_prod(x.shape[:axis]), _prod(x.shape[axis:]))
    if isinstance(x, _K):
        return _K(dims, x.values)
    return call.row(x.shape, _T(dims))


@_handles("Transpose")
def _transpose(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    perm = tuple(call.node.attr("perm") or range(rank - 1, -1, -1))
    if sorted(perm) != list(range(rank)):
        raise call.spec_error(f"perm must be a permutation of 0..{rank - 1}", perm=perm)
    dims = tuple(x.shape[p] for p in perm)
    if isinstance(x, _K):
        a = _arr(x)
        return _K(dims, None) if a is None else _from_arr(a.transpose(perm))
    keep = x.rf if perm[:2] == (0, 1) and perm[2:] == tuple(range(2, rank)) else None
    return call.row(x.shape, _T(dims, keep))


def _axes_arg(call: _Call, args: list[Any], index: int) -> tuple[int, ...] | None:
    if len(args) > index and args[index] is not None:
        return tuple(_ints(call, args[index], "axes"))
    axes = call.node.attr("axes")
    return None if axes is None else tuple(axes)


@_handles("Squeeze")
def _squeeze(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    axes = _axes_arg(call, args, 1)
    if axes is None:
        drop = {j for j, d in enumerate(x.shape) if type(d) is int and d == 1}
    else:
        drop = {_axis(call, a, rank, "axes") for a in axes}
        for j in drop:
            call.equal(x.shape[j], 1, j, f"Squeeze of axis {j} of size {x.shape[j]}", x.shape)
    dims = tuple(d for j, d in enumerate(x.shape) if j not in drop)
    if isinstance(x, _K):
        return _K(dims, x.values)
    return call.row(x.shape, _T(dims))


@_handles("Unsqueeze")
def _unsqueeze(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    axes = _axes_arg(call, args, 1) or ()
    rank = len(x.shape) + len(axes)
    where = sorted(_axis(call, a, rank, "axes") for a in axes)
    dims = list(x.shape)
    for a in where:
        dims.insert(a, 1)
    if isinstance(x, _K):
        return _K(tuple(dims), x.values)
    return call.row(x.shape, _T(tuple(dims)))


@_handles("Concat")
def _concat(call: _Call, args: list[Any]) -> Any:
    present = [a for a in args if a is not None]
    rank = len(present[0].shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    for a in present[1:]:
        if len(a.shape) != rank:
            raise call.shape_error(f"Concat of tensors of rank {rank} and {len(a.shape)}", a.shape)
        for j in range(rank):
            if j != axis:
                call.equal(
                    present[0].shape[j],
                    a.shape[j],
                    j,
                    f"Concat on axis {axis}: shapes {present[0].shape} and {a.shape} differ on axis {j}",
                    a.shape,
                )
    total: Any = 0
    for a in present:
        total = total + a.shape[axis]
    dims = tuple(total if j == axis else d for j, d in enumerate(present[0].shape))
    if all(isinstance(a, _K) for a in present):
        arrays = [_arr(a) for a in present]
        if all(a is not None for a in arrays):
            import numpy as np

            return _from_arr(np.concatenate(arrays, axis=axis))
        return _K(dims, None)
    tensors = [a for a in present if isinstance(a, _T)]
    rf = _merge_rf([t.rf for t in tensors]) if axis < 2 else None
    return call.row(tensors[0].shape, _T(dims, rf))


def _slice_len(call: _Call, size: Any, start: Any, end: Any, step: Any, axis: int, shape: tuple[Any, ...]) -> Any:
    big = 2**62
    if type(size) is int:
        s, e = start, end
        if step > 0:
            s = max(0, min(size, s + size if s < 0 else s))
            e = max(0, min(size, e + size if e < 0 else e))
            return max(0, ceil_div(e - s, step))
        s = max(-1, min(size - 1, s + size if s < 0 else s))
        e = max(-1, min(size - 1, e + size if e < 0 else e))
        return max(0, ceil_div(s - e, -step))
    # symbolic size: starts/ends counted from the front within the size, or from the back
    if step == 1:
        from convcalc._backend import smin

        # ONNX clamps starts and ends to the size: a constant one counts only up to the size
        lo = (smin(start, size) if start > 0 else start) if start >= 0 else size + start
        hi = size if end >= big // 2 else (smin(end, size) if end >= 0 else size + end)
        out = hi - lo
        if type(start) is int and start < 0 and end >= big // 2:
            return -start
        call.at_least(
            out, 0, axis, f"Slice [{start}:{end}] leaves no elements on axis {axis}", "slice non-empty", shape
        )
        return out
    raise call.spec_error("convcalc follows a Slice of a symbolic size with step 1 only", steps=step)


@_handles("Slice")
def _slice(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    if len(args) > 1:
        starts = _ints(call, args[1], "starts")
        ends = _ints(call, args[2], "ends")
        axes = _ints(call, args[3], "axes") if len(args) > 3 and args[3] is not None else tuple(range(len(starts)))
        steps = _ints(call, args[4], "steps") if len(args) > 4 and args[4] is not None else (1,) * len(starts)
    else:
        starts, ends = tuple(call.node.attr("starts")), tuple(call.node.attr("ends"))
        axes = tuple(call.node.attr("axes") or range(len(starts)))
        steps = (1,) * len(starts)
    dims = list(x.shape)
    picks: dict[int, tuple[Any, Any, Any]] = {}
    for st, en, ax, sp in zip(starts, ends, axes, steps, strict=True):
        a = _axis(call, ax, rank, "axes")
        if sp == 0:
            raise call.spec_error("steps must not be 0", steps=steps)
        dims[a] = _slice_len(call, x.shape[a], st, en, sp, a, x.shape)
        picks[a] = (st, en, sp)
    if isinstance(x, _K):
        a = _arr(x)
        if a is None:
            return _K(tuple(dims), None)
        index = tuple(slice(*picks[j]) if j in picks else slice(None) for j in range(rank))
        return _from_arr(a[index])
    return call.row(x.shape, _T(tuple(dims), x.rf if all(a < 2 for a in picks) else None))


@_handles("Split")
def _split(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    if len(args) > 1 and args[1] is not None:
        parts = _ints(call, args[1], "split")
    elif call.node.attr("split") is not None:
        parts = tuple(call.node.attr("split"))
    else:
        n = call.node.attr("num_outputs") or len(call.node.outputs)
        size = x.shape[axis]
        if type(size) is not int:
            raise call.spec_error("convcalc splits a symbolic axis only with explicit split sizes", axis=axis)
        chunk = ceil_div(size, n)
        parts = tuple(min(chunk, size - j * chunk) for j in range(n))
    call.equal(sum(parts), x.shape[axis], axis, f"Split sizes {parts} do not add up to {x.shape[axis]}", x.shape)
    outs = []
    for j, p in enumerate(parts):
        dims = tuple(p if k == axis else d for k, d in enumerate(x.shape))
        t = _T(dims, x.rf if axis < 2 else None)
        sub = _Call(call.ctx, call.node, call.path, call.opset)
        if j == 0:
            sub.row(x.shape, t)
        outs.append(t)
    return outs


@_handles("Shape")
def _shape(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    dims = tuple(x.shape)
    start = call.node.attr("start", 0)
    end = call.node.attr("end")
    picked = dims[start:end]
    return _const_out(picked)


@_handles("Size")
def _size(call: _Call, args: list[Any]) -> Any:
    return _K((), (_prod(args[0].shape),))


@_handles("Gather")
def _gather(call: _Call, args: list[Any]) -> Any:
    x, idx = args
    rank = len(x.shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    if not isinstance(idx, _K):
        raise call.spec_error("Gather indices must be constant", indices="a computed tensor")
    dims = (*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])
    if isinstance(x, _K):
        a, i = _arr(x), _arr(idx)
        if a is None or i is None:
            return _K(dims, None)
        import numpy as np

        n = a.shape[axis]
        return _from_arr(
            np.take(a, np.asarray([int(v) % n for v in i.reshape(-1).tolist()]).reshape(i.shape), axis=axis)
        )
    return call.row(x.shape, _T(dims))


@_handles("Constant")
def _constant(call: _Call, args: list[Any]) -> Any:
    value = call.node.attr("value")
    if value is not None:
        return _K(value[0], value[1])
    for key in ("value_int", "value_float"):
        v = call.node.attr(key)
        if v is not None:
            return _K((), (v,))
    for key in ("value_ints", "value_floats"):
        v = call.node.attr(key)
        if v is not None:
            return _K((len(v),), tuple(v))
    raise call.spec_error(
        "convcalc reads Constant nodes with value, value_int(s) or value_float(s)",
        attributes=[k for k, _ in call.node.attrs],
    )


@_handles("ConstantOfShape")
def _constant_of_shape(call: _Call, args: list[Any]) -> Any:
    dims = _ints(call, args[0], "shape")
    value = call.node.attr("value")
    fill = value[1][0] if value is not None and value[1] else 0.0
    n = _prod(dims)
    return _K(dims, (fill,) * n if type(n) is int and n <= _SMALL else None)


@_handles("Range")
def _range(call: _Call, args: list[Any]) -> Any:
    start, limit, delta = (_consts(call, a, "range")[0] for a in args)
    if all(type(v) is int for v in (start, limit, delta)) and delta != 0:
        vals = tuple(range(start, limit, delta))
        return _K((len(vals),), vals)
    n = ceil_div(limit - start, delta) if type(delta) is int and delta > 0 else None
    return _K((n,), None)


@_handles("Expand")
def _expand(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    target = _ints(call, args[1], "shape")
    dims = _broadcast(call, [x.shape, tuple(target)])
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims, x.rf if dims[2:] == x.shape[2:] else None))


@_handles("Tile")
def _tile(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    reps = _ints(call, args[1], "repeats")
    dims = tuple(d * r for d, r in zip(x.shape, reps, strict=True))
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims))


@_handles("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL2", "ReduceL1",
          "ArgMax", "ArgMin")  # fmt: skip
def _reduce(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    if call.node.op in ("ArgMax", "ArgMin"):
        axes: tuple[int, ...] | None = (call.node.attr("axis", 0),)
    else:
        axes = _axes_arg(call, args, 1)
    keep = call.node.attr("keepdims", 1)
    picked = set(range(rank)) if not axes else {_axis(call, a, rank, "axes") for a in axes}
    if not axes and call.node.attr("noop_with_empty_axes", 0):
        picked = set()
    dims = tuple((1 if j in picked else d) for j, d in enumerate(x.shape) if keep or j not in picked)
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims))


@_handles("Pad")
def _pad(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    pads = (
        _ints(call, args[1], "pads") if len(args) > 1 and args[1] is not None else tuple(call.node.attr("pads") or ())
    )
    axes = _ints(call, args[3], "axes") if len(args) > 3 and args[3] is not None else tuple(range(rank))
    axes = tuple(_axis(call, a, rank, "axes") for a in axes)
    if len(pads) != 2 * len(axes):
        raise call.spec_error(f"pads needs {2 * len(axes)} values (begin and end of {len(axes)} axes)", pads=pads)
    dims = list(x.shape)
    begins = [0] * rank
    for n, a in enumerate(axes):
        b, e = pads[n], pads[n + len(axes)]
        dims[a] = x.shape[a] + b + e
        begins[a] = b
        call.at_least(dims[a], 1, a, f"pads {b}, {e} leave nothing of axis {a}", "size at least 1", x.shape)
    rf = None
    if x.rf is not None and rank >= 2:
        rf = tuple(ReceptiveField(r.size, r.jump, r.start - b * r.jump) for r, b in zip(x.rf, begins[2:], strict=False))
    return call.row(x.shape, _T(tuple(dims), rf))


def _scaled(call: _Call, size: Any, scale: Any, axis: int, shape: tuple[Any, ...]) -> Any:
    frac = Fraction(scale).limit_denominator(1 << 24) if isinstance(scale, float) else Fraction(scale)
    if frac.denominator == 1:
        out = size * frac.numerator
    elif type(size) is int:
        import numpy as np  # ORT multiplies in float32

        out = math.floor(float(np.float32(scale)) * size) if frac != Fraction(scale) else math.floor(size * frac)
    else:
        out = (size * frac.numerator) // frac.denominator
    call.at_least(out, 1, axis, f"scale {scale} leaves no element on axis {axis}", "size at least 1", shape)
    return out


@_handles("Resize", "Upsample")
def _resize(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    if call.node.op == "Upsample" or (call.opset < 11 and len(args) == 2):
        scales: tuple[Any, ...] | None = (
            _consts(call, args[1], "scales") if len(args) > 1 else tuple(call.node.attr("scales"))
        )
        sizes = None
    else:
        scales = (
            _consts(call, args[2], "scales") if len(args) > 2 and args[2] is not None and _nonempty(args[2]) else None
        )
        sizes = _ints(call, args[3], "sizes") if len(args) > 3 and args[3] is not None and _nonempty(args[3]) else None
    axes = tuple(_axis(call, a, rank, "axes") for a in (call.node.attr("axes") or range(rank)))
    dims = list(x.shape)
    if sizes is not None:
        for a, s in zip(axes, sizes, strict=True):
            dims[a] = s
    elif scales is not None:
        if len(scales) != len(axes):
            raise call.spec_error(f"scales needs {len(axes)} values", scales=scales)
        for a, s in zip(axes, scales, strict=True):
            dims[a] = _scaled(call, x.shape[a], s, a, x.shape)
    else:
        raise call.spec_error("Resize needs scales or sizes", inputs=len(args))
    return call.row(x.shape, _T(tuple(dims)))


def _nonempty(value: Any) -> bool:
    return not (isinstance(value, _K) and value.shape and value.shape[0] == 0)


@_handles("SpaceToDepth", "DepthToSpace")
def _depth(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    b = call.node.attr("blocksize")
    if call.node.op == "DepthToSpace":
        dims = (x.shape[0], x.shape[1] // (b * b), *(d * b for d in x.shape[2:]))
    else:
        dims = (x.shape[0], x.shape[1] * b * b, *(d // b for d in x.shape[2:]))
    return call.row(x.shape, _T(dims))


# --------------------------------------------------------------------------- #
# reading the ModelProto
# --------------------------------------------------------------------------- #


def from_onnx(model: Any) -> OnnxGraph:
    """Read an ONNX model (a path to a ``.onnx`` file or an ``onnx.ModelProto``) into a convcalc spec.

    Args:
        model: a path (str or ``os.PathLike``) or an ``onnx.ModelProto``.

    Returns:
        An :class:`OnnxGraph`; ``convcalc.plan`` calls this for ONNX models. A
        dynamic input dim (``dim_param`` such as ``"height"``, or none) becomes
        a convcalc symbol when ``plan()`` gets no input shape.

    Raises:
        SpecError: the file cannot be read, or the model has more than one input.

    >>> import convcalc, onnx
    >>> from onnx import TensorProto, helper
    >>> w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
    >>> node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER", name="conv")
    >>> graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])],
    ...                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    >>> p = convcalc.plan(helper.make_model(graph))
    >>> p.output_shape, p.total_params
    ((1, 8, floor((H + 1)/2), floor((W + 1)/2)), 216)
    """
    onnx = _onnx()
    if isinstance(model, (str, os.PathLike)):
        try:
            proto = onnx.load(os.fspath(model), load_external_data=False)
        except Exception as exc:  # onnx raises protobuf DecodeError, OSError, ...
            raise SpecError(
                f"cannot read the ONNX file ({type(exc).__name__}: {str(exc).strip()[:200]}). {received({'model': model})}"
            ) from None
    elif isinstance(model, onnx.ModelProto):
        proto = model
    else:
        raise SpecError(
            f"from_onnx() takes a path to an .onnx file or an onnx.ModelProto. {received({'model': model})}"
        )
    return _read(onnx, proto)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise SpecError(
            'reading ONNX models needs the onnx package: pip install "convcalc[onnx]". Received: onnx=None'
        ) from None
    return onnx


def _read(onnx: Any, proto: Any) -> OnnxGraph:
    from onnx import numpy_helper

    graph = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
    inits: dict[str, _Init] = {}
    for t in graph.initializer:
        numel = math.prod(t.dims)
        values = None
        if numel <= _SMALL:
            try:
                values = tuple(numpy_helper.to_array(t).reshape(-1).tolist())
            except Exception:  # external data or an unusual type: shape only
                values = None
        inits[t.name] = _Init(t.name, tuple(int(d) for d in t.dims), values, t.data_type in _FLOAT_TYPES)
    inputs = []
    for vi in graph.input:
        if vi.name in inits:
            continue
        dims: list[Any] = []
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                dims.append(d.dim_param)
            else:
                dims.append(None)
        inputs.append((vi.name, tuple(dims)))
    if len(inputs) != 1:
        raise SpecError(
            f"convcalc plans ONNX models with one input; this one has {len(inputs)} "
            f"({', '.join(n for n, _ in inputs)}). Received: inputs={len(inputs)}"
        )
    # an Identity of an initializer (exporters write them without constant folding) is that initializer
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.domain in ("", "ai.onnx") and len(node.input) == 1:
            source = alias.get(node.input[0], node.input[0])
            if source in inits:
                alias[node.output[0]] = source
                continue
        kept.append(node)
    # which initializers are parameters, and which node counts each first
    uses: dict[str, list[tuple[int, str]]] = {}
    for n, node in enumerate(kept):
        for k, raw in enumerate(node.input):
            name = alias.get(raw, raw)
            if name in inits:
                role = (
                    "shape"
                    if k in _SHAPE_INPUTS.get(node.op_type, ())
                    else ("buffer" if k in _BUFFER_INPUTS.get(node.op_type, ()) else "param")
                )
                uses.setdefault(name, []).append((n, role))
    owner: dict[int, list[int]] = {}
    for name, use in uses.items():
        init = inits[name]
        roles = {r for _, r in use}
        if roles == {"shape"} or not init.is_float:
            continue
        first = next(n for n, r in use if r != "shape")
        slot = owner.setdefault(first, [0, 0])
        slot[1 if roles <= {"buffer", "shape"} else 0] += math.prod(init.shape)
    nodes = []
    seen: set[str] = set()
    for n, node in enumerate(kept):
        name = node.name or f"{node.op_type}_{n}"
        while name in seen:
            name = f"{name}_{n}"
        seen.add(name)
        if node.domain not in ("", "ai.onnx"):
            raise SpecError(
                f"{name} ({node.op_type}): convcalc does not know operators of the domain {node.domain!r}. "
                f"Received: op_type={node.op_type}, domain={node.domain}, opset={opset}"
            )
        attrs = tuple((a.name, _attr_value(onnx, a)) for a in node.attribute)
        trainable, buffers = owner.get(n, (0, 0))
        node_inputs = tuple(alias.get(i, i) for i in node.input)
        nodes.append(_ONode(name, node.op_type, node_inputs, tuple(node.output), attrs, trainable, buffers))
    outputs = tuple(alias.get(o.name, o.name) for o in graph.output)
    if not outputs:
        raise SpecError(f"the ONNX graph {graph.name!r} has no output. Received: outputs=0")
    return OnnxGraph(graph.name or "onnx", int(opset), tuple(inputs), outputs, tuple(nodes), tuple(inits.values()))


def _attr_value(onnx: Any, attr: Any) -> Any:
    from onnx import numpy_helper

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, onnx.TensorProto):
        array = numpy_helper.to_array(value)
        return (tuple(int(d) for d in array.shape), tuple(array.reshape(-1).tolist()) if array.size <= _SMALL else None)
    if isinstance(value, list):
        return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    if isinstance(value, (int, float, str)):
        return value
    return None
