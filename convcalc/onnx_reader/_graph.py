"""The ONNX graph as plain, onnx-free data (:class:`OnnxGraph`), its interpreter, and the registry of handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convcalc._args import received
from convcalc._errors import ConvCalcError, ShapeError, SpecError, reader_fault
from convcalc._plan import ReceptiveField
from convcalc._types import Shape
from convcalc.nn import Module


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

    def __init__(self, shape: Shape, rf: tuple[ReceptiveField, ...] | None = None) -> None:
        self.shape, self.rf = tuple(shape), rf


class _K:
    """A constant tensor: its shape and, when known, its flat values (ints, floats or symbolic sizes)."""

    __slots__ = ("shape", "values")

    def __init__(self, shape: Shape, values: tuple[Any, ...] | None) -> None:
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
    inputs: tuple[tuple[str, tuple[Any, ...] | None], ...]  # None: the file gives the input no shape
    outputs: tuple[str, ...]
    nodes: tuple[_ONode, ...]
    initializers: tuple[_Init, ...] = field(repr=False, default=())
    # bytes of an element of the activations (2 for a float16 model): the input's where it is a float, else the
    # weights' (the largest floating initializer's); and of the input's own elements (8 for int64 token ids)
    itemsize: int = 4
    input_itemsize: int = 4

    @property
    def kind(self) -> str:
        return "OnnxGraph"

    @property
    def _itemsize(self) -> int:
        """``plan()``'s bytes per element where none is given."""
        return self.itemsize

    @property
    def _input_itemsize(self) -> int:
        """The bytes of an element of the input itself (``Plan.input_bytes``)."""
        return self.input_itemsize

    def __hash__(self) -> int:
        return hash((self.name, self.opset, tuple(n.name for n in self.nodes)))

    @property
    def _default_input_shape(self) -> tuple[Any, ...] | None:
        from convcalc._symbolic import symbols

        name, dims = self.inputs[0]
        if dims is None:  # the file gives the input no shape
            return None
        out: list[Any] = []
        for j, d in enumerate(dims):
            if type(d) is int and d > 0:
                out.append(d)
            else:
                label = d if isinstance(d, str) and d.isidentifier() else f"{_ident(name)}_{j}"
                out.append(symbols(label))
        return tuple(out)

    def _plan(self, flow: Any, ctx: Any, path: str) -> Any:
        return self._plan_call((flow,), {}, ctx, path)[0]

    def _plan_call(self, inputs: tuple[Any, ...], keywords: dict[str, Any], ctx: Any, path: str) -> Any:
        """``(flow of the first graph output, outputs)``: the outputs one shape, or a tuple of every graph
        output's shape in the graph's order (as ONNX Runtime returns them) where the graph has several."""
        if len(inputs) != 1 or keywords:
            raise ShapeError(
                f"{path or '<model>'} ({self.name}): this ONNX model takes one input: give input_shape as one tuple "
                f"such as (1, 3, 224, 224). "
                f"{received({'input_shape': keywords or tuple(tuple(f[0]) for f in inputs)})}"
            )
        shape, rf = inputs[0]
        if rf == () and len(shape) < 2:
            rf = None
        env: dict[str, Any] = {}
        for init in self.initializers:
            env[init.name] = _K(init.shape, init.values)
        input_name, dims = self.inputs[0]
        dims = tuple(shape) if dims is None else dims  # no shape in the file: the one given
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
            start = len(ctx.rows)
            try:
                results = handler(call, values)
            except ConvCalcError:
                raise
            except Exception as exc:  # a fault of the reader itself: still a ConvCalcError, with what it met
                tail = f"Received: op_type={node.op}, opset={self.opset}"
                raise reader_fault(_where(node), "node", exc, "the model", tail) from exc
            if not isinstance(results, list):
                results = [results]
            if (node.trainable or node.buffers) and not any(r.name == call.name for r in ctx.rows[start:]):
                # a node of constants that counts weights (learned queries expanded to the batch, an output of
                # their own): its row holds them
                made = results[0] if results and isinstance(results[0], (_T, _K)) else None
                shape = tuple(made.shape) if made is not None else ()
                ctx.add_row(call.name, node.op, (), shape, trainable=node.trainable, buffers=node.buffers)
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
        if len(self.outputs) == 1:
            return (result.shape, rf_out), tuple(result.shape)
        shapes = []
        for name in self.outputs:
            value = env.get(name)
            if not isinstance(value, (_T, _K)):
                raise SpecError(
                    f"{path or '<model>'} ({self.name}): no node computes the graph output {name!r}. "
                    f"Received: output={name}"
                )
            shapes.append(tuple(value.shape))
        return (result.shape, rf_out), tuple(shapes)


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

    def row(self, inp: tuple[Any, ...], out: _T, *, macs: Any = 0, bias_adds: Any = 0, batch: Any = None) -> _T:
        """Add the node's row: ``macs`` and ``bias_adds`` per element of ``batch``, by default the output's first
        size (as the planner's ``Context.add_row`` reads them)."""
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
            batch=batch,
        )
        return out

    def spec_error(self, message: str, **args: Any) -> SpecError:
        return SpecError(f"{self.where()}: {message}. {received(args)}")

    def shape_error(self, message: str, shape: Shape) -> ShapeError:
        return ShapeError(f"{self.where()}: {message}. Received: input_shape={tuple(shape)}")

    def at_least(self, value: Any, minimum: int, axis: int, message: str, reason: str, shape: Shape) -> None:
        self.ctx.at_least(
            value,
            minimum,
            self.name,
            axis,
            lambda: f"{self.where()}: {message}. Received: input_shape={tuple(shape)}",
            reason,
        )

    def equal(self, a: Any, b: Any, axis: int, message: str, shape: Shape, reason: str = "sizes equal") -> None:
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

    def divides(self, value: Any, divisor: int, axis: int, message: str, shape: Shape) -> None:
        """Require ``divisor`` to divide ``value``: raise for a number, record a constraint for a symbolic size."""
        if type(value) is int:
            if value % divisor:
                raise self.shape_error(message, shape)
            return
        self.ctx.divides(
            value,
            divisor,
            self.name,
            axis,
            lambda: f"{self.where()}: {message}. Received: input_shape={tuple(shape)}",
            f"divisible by {divisor}",
        )

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
