"""The specs of a torch module read with torch.fx (``Graph``, ``TorchCall``; ``Elementwise`` comes from
:mod:`convcalc.torch.trace`), and planning a graph: every node evaluated on shapes.

The classes subclass ``convcalc.nn.Module`` and are made on first use (importing ``convcalc.nn`` costs tens of
milliseconds); they are attributes of this module (see ``__getattr__``), so pickle finds them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from convcalc._errors import ConvCalcError, SpecError
from convcalc.torch.branches import UndecidedError, both_ways
from convcalc.torch.bytecode import raises_caught
from convcalc.torch.draws import drawn_decision
from convcalc.torch.fallback import _multi_output, _shown_value, _torch_call, _TorchRejectsError
from convcalc.torch.inputs import _check_keywords, _inputs_text, _not_given
from convcalc.torch.layout import functional_strides, memory_format_strides, module_strides
from convcalc.torch.nodes import (
    ListValue,
    Node,
    Ref,
    _Attr,
    _input_name,
    _is_inplace,
    _join,
    _node_repr,
    _refs,
    _resolve_function,
    _substitute,
    _torch,
    child_module,
)
from convcalc.torch.ops import _HANDLERS
from convcalc.torch.rewrites import after_write
from convcalc.torch.strides import contiguous, is_contiguous
from convcalc.torch.trace import _elementwise_type
from convcalc.torch.values import (
    NeedsDataError,
    ReaderSignalError,
    RetakeError,
    RunRefusedError,
    _attr_row,
    _Call,
    _describe_value,
    _embedding,
    _exactly_rounded,
    _flow_of,
    _Known,
    _leaves,
    _output_size_given,
    _Pair,
    _real_value,
    _size,
    _sized_transpose,
    _SizeTensor,
    _Tensor,
    _transposed,
    public_error,
    require_inside,
)

# --------------------------------------------------------------------------- #
# Specs defined here: Elementwise (torch layers that keep the shape) and Graph
# --------------------------------------------------------------------------- #


class _SpecTypes:
    Elementwise: Any
    Graph: Any
    TorchCall: Any
    Parametrized: Any


@functools.cache
def _spec_types() -> _SpecTypes:
    from convcalc import nn
    from convcalc._planner import Context, Flow

    @dataclass(frozen=True, eq=True)
    class Graph(nn.Module):
        """A torch module's ``forward`` read with torch.fx: its nodes, planned in order.

        ``modules`` maps each called child's path (relative to the module) to
        its spec; ``attrs`` are the tensors the forward reads from the module
        itself (``self.gamma``). Children are planned under their torch paths,
        operations under the fx node's name; the module's own parameters get a
        row each where the forward first reads them.
        """

        torch_type: str
        nodes: tuple[Node, ...]
        modules: tuple[tuple[str, Any], ...] = ()
        attrs: tuple[_Attr, ...] = ()
        torch_module: Any = dataclasses.field(default=None, compare=False, repr=False)
        # reads the forward again with conditions on sizes decided otherwise, or other optional inputs left out
        # (a Graph, or a TorchCall)
        reread: Any = dataclasses.field(default=None, compare=False, repr=False)
        # the optional inputs the forward was read without (traced as None)
        absent: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)

        @property
        def kind(self) -> str:
            return self.torch_type

        def children(self) -> Iterator[tuple[str, Any]]:
            return iter(self.modules)

        def __hash__(self) -> int:
            return hash((self.torch_type, tuple(n.name for n in self.nodes)))

        def __repr__(self) -> str:
            layers = [f"({name}): {spec!r}".replace("\n", "\n  ") for name, spec in self.modules]
            inputs = ", ".join(n.name for n in self.nodes if n.op == "placeholder")
            code = [_node_repr(n) for n in self.nodes if n.op != "placeholder"]
            body = "".join(f"\n  {line}" for line in layers) + f"\n  forward({inputs}):"
            body += "".join(f"\n    {line}" for line in code)
            return f"Graph({self.torch_type},{body}\n)"

        def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
            start = len(ctx.rows)
            slot = ctx.open_group() if path else -1
            try:
                given = _Tensor(tuple(flow[0]), flow[1])
                given.free = not path  # the model's own input, its values any
                out = _graph_call(self, (given,), {}, ctx, path)
            except ReaderSignalError as exc:
                raise public_error(exc) from None
            if not isinstance(out, _Tensor):
                raise SpecError(
                    f"{self._where(path)}: forward returns {_describe_value(out)}, not one tensor; a convcalc layer "
                    f"passes one output on (plan the torch module itself, which follows every output; call .eval() "
                    f"if training mode adds outputs, or register a rule). Received: module={self.torch_type}"
                )
            if path:
                ctx.close_group(slot, start, path, self.kind, out.shape, tuple(flow[0]))
            result: Flow = _flow_of(out, ctx)
            return result

    @dataclass(frozen=True, eq=False)
    class TorchCall(nn.Module):
        """A torch module whose ``forward`` convcalc cannot read (``reason`` says why).

        Planned by running a meta-device copy of it on the shapes that reach it
        (no data, nothing changed on the module), with every layer call and
        tensor function inside it planned by convcalc's rules on the shapes
        torch gives; its rows are marked ``source="torch"``. Needs concrete
        sizes: a symbolic plan raises a SpecError naming the module and reason.
        """

        torch_type: str
        reason: str
        torch_module: Any = dataclasses.field(default=None, repr=False)

        @property
        def kind(self) -> str:
            return self.torch_type

        def children(self) -> Iterator[tuple[str, Any]]:
            return iter(())

        def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
            start = len(ctx.rows)
            slot = ctx.open_group() if path else -1
            called: list[Any] = []  # its input after its forward pre-hooks (F.pad in a hook)
            place = [slot, start]  # moved after the calls its forward pre-hooks make
            try:
                flows = (_Tensor(tuple(flow[0]), flow[1]),)
                out = _torch_call(
                    self.torch_module, flows, {}, ctx, path, self.kind, self.reason, True, called, place=place
                )
            except ReaderSignalError as exc:
                raise public_error(exc) from None
            if not isinstance(out, _Tensor):
                raise SpecError(
                    f"{path or '<model>'} ({self.kind}): forward returns {_describe_value(out)}, not one tensor; "
                    f"a convcalc layer passes one tensor on. Received: module={self.kind}"
                )
            if path:
                ctx.close_group(
                    place[0],
                    place[1],
                    path,
                    self.kind,
                    out.shape,
                    called[0] if called and called[0] else tuple(flow[0]),
                )
            result: Flow = _flow_of(out, ctx)
            return result

    @dataclass(frozen=True, eq=False)
    class Parametrized(nn.Module):
        """A layer planned by its rule whose tensors parametrizations of the user's compute (a LoRA update,
        ``W + B @ A``): each parametrization's forward, read with torch.fx, is planned on its input's shape before
        the layer, as torch computes the tensor when the layer's forward reads it (its products are work of the
        call). Its rows hold no parameters: the layer's row holds the parametrizations' parameters, as
        torchinfo's table and ``parameters()`` count them.

        ``chains``: per parametrized tensor, its name, the Graph of each parametrization in turn and the shapes
        of the original tensors the first one takes (one, or several where its ``right_inverse`` gave several)."""

        layer: Any
        chains: tuple[tuple[str, tuple[Any, ...], tuple[tuple[int, ...], ...]], ...]

        @property
        def kind(self) -> str:
            kind: str = self.layer.kind
            return kind

        @property
        def _written_as(self) -> Any:
            """What a spec file and ``to_torch`` write in its place: the layer (a parametrization is no layer)."""
            return self.layer

        def children(self) -> Iterator[tuple[str, Any]]:
            return iter(())

        def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
            from convcalc.torch.fallback import _holding_nothing

            owner, ctx.owner = ctx.owner, None  # (no module's tensors: the layer's row counts them)
            try:
                for name, steps, shapes in self.chains:
                    undo = _undoer(ctx)
                    try:
                        with ctx.made_as(_holding_nothing):
                            values: tuple[Any, ...] = tuple(_Tensor(shape) for shape in shapes)
                            for j, step in enumerate(steps):
                                where = _join(path, f"parametrizations.{name}.{j}")
                                values = (_graph_call(step, values, {}, ctx, where),)
                    except (ConvCalcError, ReaderSignalError):
                        # a forward neither convcalc nor torch's meta run follows (it branches on the weight's
                        # values): torch checked the tensor's shape when the parametrization was registered, so the
                        # layer is planned as it was, without that work
                        undo()
            finally:
                ctx.owner = owner
            result: Flow = self.layer._plan(flow, ctx, path)
            return result

    for cls in (Graph, TorchCall, Parametrized):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    types = _SpecTypes()
    types.Elementwise = _elementwise_type()
    types.Graph = Graph
    types.TorchCall = TorchCall
    types.Parametrized = Parametrized
    return types


def _write(node: Node, env: dict[str, Any], same: dict[str, list[str]]) -> None:
    """An in-place method's result is the tensor it was called on (``x.relu_()`` is ``x``), and an ``out=``
    argument is the result; where that changes its shape (``y.squeeze_(-1)`` without ``y =``), every name of the
    tensor is the result from here on."""
    written = dict(node.kwargs).get("out") if node.op == "call_function" else node.args[0] if node.args else None
    result = env[node.name]
    if type(written) is tuple and isinstance(result, tuple) and len(written) == len(result):
        # ``torch.max(x, 1, out=(values, indices))``: each tensor given is the result's part from here on
        for ref, part in zip(written, result, strict=True):
            if isinstance(ref, Ref):
                first = next((k for k, names in same.items() if ref.name in names), ref.name)
                for name in same.setdefault(first, [first]):
                    env[name] = part
        return
    if not isinstance(written, Ref):
        return
    first = next((k for k, names in same.items() if written.name in names), written.name)
    names = same.setdefault(first, [first])
    names.append(node.name)
    if node.target in _RESHAPED_IN_PLACE or node.op == "call_function":
        for name in names:
            env[name] = result


#: operations whose result may be a view of their input (a write into it writes into the input); ``getattr``:
#: ``d.real``, ``d.T``, ``d.mT``
_ALIASING = frozenset(
    {
        "getitem",
        "getattr",
        "view",
        "reshape",
        "unsqueeze",
        "squeeze",
        "flatten",
        "unflatten",
        "expand",
        "expand_as",
        "t",
        "transpose",
        "permute",
        "narrow",
        "select",
        "split",
        "chunk",
        "unbind",
        "tensor_split",
        "movedim",
        "moveaxis",
        "view_as",
        "reshape_as",
        "detach",
        "contiguous",
        "as_strided",
        "swapaxes",
        "swapdims",
        "diagonal",
        "real",
        "imag",
        "squeeze_",
        "unsqueeze_",
    }
)


#: tensor methods that change the shape or strides of the tensor they are called on
_RESHAPED_IN_PLACE = frozenset(
    {"squeeze_", "unsqueeze_", "t_", "transpose_", "swapaxes_", "swapdims_", "as_strided_", "resize_", "resize_as_"}
)


def _run_graph(
    graph: Any,
    inputs: list[Any],
    ctx: Any,
    path: str,
    keywords: dict[str, Any] | None = None,
    writes: dict[int, tuple[Any, Any]] | None = None,
) -> Any:
    """Plan the nodes of ``graph`` on ``inputs``; ``writes``, where given, is told of each list input the forward
    assigned into (``x[i] = self.branches[i](x[i])``): the caller's list changes too, as in Python."""
    modules = dict(graph.modules)
    attrs = {a.target: a for a in graph.attrs}
    env: dict[str, Any] = {}
    supplied = list(inputs)
    named = dict(keywords or {})
    called: set[str] = set()
    read: set[str] = set()
    same: dict[str, list[str]] = {}  # the names of one tensor: ``y.squeeze_(-1)`` is ``y``, by the first name
    sized: set[int] = set()  # views of a tensor made from sizes (``d.view(-1)``, ``d[0]``): writing them changes it
    received: dict[str, Any] = {}  # the lists given as inputs, by name
    by_name = _check_keywords(graph, named, path)  # (the inputs it takes by name only)
    count = len(supplied) + len(named)
    for node in graph.nodes:
        if node.op == "placeholder":
            if node.target.startswith("**"):  # forward(self, x, **kwargs): the keywords no parameter took
                env[node.name] = dict(named)
                named.clear()
            elif node.target.startswith("*"):  # forward(self, *args): the positional inputs left
                env[node.name] = tuple(supplied)
                supplied.clear()
            elif (supplied and node.target not in by_name) or node.target in named:
                value = supplied.pop(0) if supplied and node.target not in by_name else named.pop(node.target)
                # given None (its default, or in place of another): read as the None it is (``k is not None`` in a
                # function the forward calls would take a traced value for something)
                left_out = value is None
                if left_out != (node.target in graph.absent):  # read the other way: read it again as it comes
                    raise RetakeError(
                        f"{path or '<model>'} ({graph.torch_type}): forward's input {node.target!r} is "
                        f"{'None' if left_out else 'given'}",
                        (),
                        graph.absent | {node.target} if left_out else graph.absent - {node.target},
                    )
                env[node.name] = value
                if type(value) is ListValue:
                    received[node.name] = value
            elif node.args:
                if node.args[0] is None and node.target not in graph.absent:
                    # fx traced it as a tensor, so ``if mask is not None:`` (here or in a function the forward
                    # calls) took the branch of a given input: read the forward again with it as the None it is
                    raise RetakeError(
                        f"{path or '<model>'} ({graph.torch_type}): forward's input {node.target!r} is not given "
                        f"(None), but its forward was read with it as a tensor; give it, or plan with numbers. "
                        f"Received: {node.target}=None",
                        (),
                        graph.absent | {node.target},
                    )
                if node.args[0] is not None and node.target in graph.absent:
                    # read as None (another plan gave it None), not given here: its default is no None
                    raise RetakeError(
                        f"{path or '<model>'} ({graph.torch_type}): forward's input {node.target!r} is its default "
                        f"{node.args[0]!r}, but its forward was read with it as None",
                        (),
                        graph.absent - {node.target},
                    )
                env[node.name] = node.args[0]
            elif f"**{node.target}" in graph.absent:  # read as a keyword given to **kwargs, not given here
                raise RetakeError(
                    f"{path or '<model>'} ({graph.torch_type}): {node.target!r} is not given to its **kwargs",
                    (),
                    graph.absent - {f"**{node.target}"},
                )
            else:
                raise _not_given(graph, node.target, count, path)
            continue
        if named:  # keywords of inputs given by position too: torch raises TypeError
            raise SpecError(
                f"{path or '<model>'} ({graph.torch_type}): forward() got multiple values for "
                f"{', '.join(repr(k) for k in named)}, by position and by name (torch: TypeError). "
                f"Received: keywords={sorted(named)}"
            )
        if supplied and not any(n.op == "placeholder" and n.target.startswith("*") for n in graph.nodes):
            # more inputs than the forward has parameters (and no *args to take the rest): torch raises TypeError
            raise SpecError(
                f"{path or '<model>'} ({graph.torch_type}): forward takes {_inputs_text(graph)}, but "
                f"{'its caller gives' if path else 'is given'} {count} (torch: TypeError, too many positional "
                f"arguments){'' if path else '; give one shape per input'}. Received: inputs={count}"
            )
        args = _substitute(node.args, env)
        kwargs = {k: _substitute(v, env) for k, v in node.kwargs}
        if node.op == "output":
            if writes is not None:  # the lists given that hold other items now
                writes.update({id(v): (v, env[k]) for k, v in received.items() if env[k] is not v})
            return args[0]
        if node.kind == "setitem" and args and type(args[0]) is ListValue:
            old = args[0]
            new = _assigned(_Call(ctx, _join(path, node.name), node.kind, False, False), old, args[1], args[2])
            _rebind(graph, env, node, old, new, args, kwargs, path)
            env[node.name] = None
            continue
        if node.target == "operator:iadd" and args and type(args[0]) is ListValue:  # ``x += [t]`` extends x
            if not isinstance(args[1], tuple):  # (a ListValue is a tuple)
                raise _Call(ctx, _join(path, node.name), node.kind, True, False).spec_error(
                    "convcalc follows a list extended by a list or a tuple", value=_describe_value(args[1])
                )
            new = ListValue((*args[0], *args[1]))
            _rebind(graph, env, node, args[0], new, args, kwargs, path)
            env[node.name] = new
            continue
        if node.op == "get_attr":
            attr = attrs[node.target]
            # an integer tensor's values as the model holds them, unless the forward changed one in place before
            # (``self.keep.add_(1)``), which may be this one
            held = attr.span is not None and not getattr(ctx, "rewritten", False)
            env[node.name] = _Tensor(
                attr.shape,
                None,
                const=True,
                strides=contiguous(attr.shape) if attr.contiguous else None,
                integral=attr.integral,
                span=attr.span if held else None,
                known=_Known(attr.shape, attr.values, attr.ramp) if held else None,
            )
            if "." not in attr.target and attr.target not in read and attr.category != "constant":
                read.add(attr.target)
                _attr_row(ctx, _join(path, attr.target), attr)
        elif node.op == "call_module":
            changed: dict[int, tuple[Any, Any]] = {}
            with raises_caught(node.caught):
                env[node.name] = _call_module(
                    modules[node.target],
                    node,
                    args,
                    kwargs,
                    ctx,
                    path,
                    node.target in called,
                    graph.torch_module,
                    changed,
                )
            called.add(node.target)
            for old, new in changed.values():  # lists the child assigned into: changed here too
                _rebind(graph, env, node, old, new, args, kwargs, path)
        else:
            call = _Call(ctx, _join(path, node.name), node.kind, _is_inplace(node), node.functional)
            written = args[0] if args and (call.inplace or node.kind == "setitem") else None
            if isinstance(written, _SizeTensor) or id(written) in sized:
                raise call.spec_error(
                    "convcalc follows the values of a tensor made from sizes, not a change of them in place (or "
                    "through a view of it); write the result to a name (d = d.clamp(min=0), d = d + 2)",
                    input=written,
                )
            outs = _leaves(kwargs.get("out")) if kwargs else []  # ``torch.add(i, 1, out=self.keep)``
            if isinstance(written, _Tensor) or outs:  # the model's inputs here may be what it changes (a view)
                for t in _leaves((tuple(env.values()), args)):
                    t.free = False
            targets = [t for t in ([written] if isinstance(written, _Tensor) else []) + outs if t.integral]
            if targets and hasattr(ctx, "rewritten"):
                # a change in place (``p.clamp_(max=15)``, ``p[16:] = 0``) may change the values of the model's
                # tensors read after (a module called again): those are not known from then on
                ctx.rewritten = True
            if node.kind.startswith("math."):
                env[node.name] = _math(call, node, args, kwargs)
            else:
                try:
                    env[node.name] = _settled(_HANDLERS[node.kind](call, args, kwargs), call, args, kwargs)
                except NeedsDataError as exc:  # a decision on a drawn value (``torch.rand([]) < p``): refused
                    raise drawn_decision(exc, graph, node, path) from None
                if node.target.startswith("torch:") and node.kind in _TORCH_ARITHMETIC:
                    env[node.name] = _as_tensor_of_numbers(env[node.name])
                if node.kind in _ALIASING and args and (isinstance(args[0], _SizeTensor) or id(args[0]) in sized):
                    result = env[node.name]
                    sized.update(id(v) for v in (result if isinstance(result, (tuple, list)) else (result,)))
                if targets:  # the bounds of the values written joined, here and in the tensors it may be a view of
                    after_write(node.kind, env, args, kwargs, targets, env[node.name])
                # the tensor written into is the result from here on, where its shape changes: ``x.squeeze_(-1)``
                # without ``x =``, ``torch.cat(..., out=buffer)``
                if call.inplace or (kwargs and "out" in kwargs):
                    _write(node, env, same)
    return None  # pragma: no cover - an fx graph always ends with an output node


#: torch's arithmetic functions, which give a 0-D tensor of numbers (``torch.div(h, 2, rounding_mode="floor")``
#: is ``tensor(3)``, where ``h // 2`` is the int 3)
_TORCH_ARITHMETIC = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "fmod", "rsub", "maximum", "minimum"})


def _as_tensor_of_numbers(value: Any) -> Any:
    """A number or a size that a torch function gave as a 0-D tensor: a tensor of that one value, which the plan
    follows (``.item()``, an index, a cast); any other value as it is."""
    if isinstance(value, (_Tensor, tuple, list, dict)) or value is None or isinstance(value, bool):
        return value
    return _SizeTensor((), (value,))


def _assigned(call: _Call, old: Any, index: Any, value: Any) -> Any:
    """``x[index] = value`` for a list ``x``: the list that results (Python's IndexError as torch's run raises it)."""
    if type(index) is not int:  # a slice, or a size known as an expression
        raise call.spec_error("convcalc follows an assignment into a list at an index that is a number", index=index)
    if not -len(old) <= index < len(old):
        raise call.spec_error(
            f"list assignment index out of range (Python: IndexError) for {len(old)} items", index=index
        )
    items = list(old)
    items[index] = value
    return ListValue(items)


def _rebind(
    graph: Any,
    env: dict[str, Any],
    node: Node,
    old: Any,
    new: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    path: str,
) -> None:
    """The list ``old``, assigned into at ``node`` (or by a module called there), is ``new`` from here on under each
    of its names. Where the forward reaches it otherwise, what it sees cannot be told: a list held in another
    container, or one written as a literal in the call (fx reads ``xs = [a, b]; self.stage(xs); xs[0]`` as ``a``)
    whose items the forward uses again."""
    where = f"{path or '<model>'} ({graph.torch_type})"
    names = [name for name, value in env.items() if value is old]
    held = [name for name, value in env.items() if value is not old and _holds(value, old)]
    if held:
        raise SpecError(
            f"{where}: a list that {node.name} assigns into is also held inside {held[0]}, which convcalc does not "
            f"follow; plan with numbers (torch's shape machinery follows it). Received: node={node.name}"
        )
    if names:
        for name in names:
            env[name] = new
        return
    literals = [raw for raw, value in zip(node.args, args, strict=False) if value is old]
    literals += [raw for (key, raw) in node.kwargs if kwargs.get(key) is old]
    reused = {ref.name for raw in literals for ref in _refs(raw)} & _used_after(graph, node)
    if not literals or reused:
        raise SpecError(
            f"{where}: {node.name} assigns into a list the forward wrote out in the call, and the forward uses "
            f"its items again ({', '.join(sorted(reused)) or 'inside another value'}), which torch.fx reads as "
            f"they were before; name the list or plan with numbers. Received: node={node.name}"
        )


def _holds(value: Any, target: Any) -> bool:
    if type(value) in (tuple, ListValue, _Pair):
        return any(v is target or _holds(v, target) for v in value)
    if isinstance(value, dict):
        return any(v is target or _holds(v, target) for v in value.values())
    return False


def _used_after(graph: Any, node: Node) -> set[str]:
    """The names the nodes after ``node`` read."""
    after = graph.nodes[graph.nodes.index(node) + 1 :]
    return {ref.name for later in after for ref in _refs((later.args, tuple(v for _, v in later.kwargs)))}


_MAX_READS = 64


class _BranchesEachReadError(ReaderSignalError):
    """A forward read again and again, each read taking other branches (one that raises on every branch it is
    read with, a LoRA wrapper in place of a layer whose weight the forward reads): torch's verdict, where it
    cannot run it either, says more than the count of reads."""


def _undoer(ctx: Any, given: Any = ()) -> Callable[[], None]:
    """A function that takes back what is planned from here on: rows, groups, constraints, tensors counted, what
    the plan learned on the way (a write into the model's integers, a batch declared, modules met),
    and what is known of the tensors ``given`` (the call's inputs, which a write in place in the forward changes)."""
    state = (len(ctx.rows), len(ctx.groups), len(ctx.constraints), set(ctx.counted))
    learned = {name: getattr(ctx, name) for name in _LEARNED if hasattr(ctx, name)}
    sizes = {name: len(getattr(ctx, name)) for name in ("uncalled", "unowned") if hasattr(ctx, name)}
    tensors = [(t, [getattr(t, n, None) for n in _slots(t)]) for t in _leaves(given)]

    def undo() -> None:
        del ctx.rows[state[0] :], ctx.groups[state[1] :], ctx.constraints[state[2] :]
        ctx.counted.clear()
        ctx.counted.update(state[3])
        for name, value in learned.items():
            setattr(ctx, name, value)
        for name, size in sizes.items():
            del getattr(ctx, name)[size:]
        for t, values in tensors:
            for name, value in zip(_slots(t), values, strict=True):
                setattr(t, name, value)

    return undo


# what a plan learns of the model while it plans a forward, which a read taken back takes back too
_LEARNED = ("rewritten", "declared")


def _slots(t: Any) -> tuple[str, ...]:
    """Every field of a tensor in flight (``_Tensor`` and its kinds keep theirs in slots), found once per class."""
    kind = type(t)
    found = _SLOTS.get(kind)
    if found is None:
        found = _SLOTS[kind] = tuple(name for cls in kind.__mro__ for name in getattr(cls, "__slots__", ()))
    return found


_SLOTS: dict[Any, tuple[str, ...]] = {}


def _read_or_none(read: Any) -> Any:
    """A forward read again, or None where the read goes to torch's pass (a TorchCall)."""
    return None if isinstance(read, _spec_types().TorchCall) else read


def _graph_call(
    graph: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ctx: Any,
    path: str,
    writes: dict[int, tuple[Any, Any]] | None = None,
) -> Any:
    """Plan a Graph with convcalc's rules; where they cannot follow the forward (a SpecError, not a misfit),
    plan the module with torch's shape machinery instead, after undoing what the attempt planned. Its callers
    hold the module's place among the containers the torchinfo layout lists; ``writes`` is told of the lists given
    that the forward assigned into."""
    if graph.torch_module is None:
        return _run_graph(graph, list(args), ctx, path, kwargs, writes)
    undo = _undoer(ctx, (args, kwargs))
    types = _spec_types()
    try:
        # each read again decides one more condition, so this ends within the forward's count of conditions
        # (a forward whose Python flow is not a function of the sizes could go on: it is cut off)
        for _ in range(_MAX_READS):
            try:
                return _run_graph(graph, list(args), ctx, path, kwargs, writes)
            except UndecidedError as undecided:
                if graph.reread is None:
                    raise
                undo()
                return both_ways(
                    undecided,
                    lambda decisions: _read_or_none(graph.reread(decisions, graph.absent)),
                    lambda read: _graph_call(read, args, kwargs, ctx, path, writes),
                    ctx,
                    undo,
                )
            except RetakeError as retake:
                if graph.reread is None or len(retake.decisions) >= _MAX_READS:
                    raise
                undo()
                absent = graph.absent if retake.absent is None else retake.absent
                graph = graph.reread(retake.decisions, absent)
                if isinstance(graph, types.TorchCall):
                    return _torch_call(
                        graph.torch_module, args, kwargs, ctx, path, graph.kind, graph.reason, True, writes=writes
                    )
        raise _BranchesEachReadError(
            f"{path or '<model>'} ({graph.kind}): its forward takes other branches each time it is read; plan it "
            f"with a registered rule. Received: reads={_MAX_READS}"
        )
    except SpecError as exc:
        if isinstance(exc, RunRefusedError) or any(
            not isinstance(t, _Tensor) or any(type(d) is not int for d in t.shape) for t in _leaves(args)
        ):
            raise
        undo()
        reason = str(exc).split(": ", 1)[-1].split(". Received")[0]
        try:
            return _torch_call(graph.torch_module, args, kwargs, ctx, path, graph.kind, reason, True, writes=writes)
        except _TorchRejectsError:
            if isinstance(exc, (NeedsDataError, _BranchesEachReadError)):
                raise  # torch's verdict on a branch on data (or on every branch read), with how to describe it
            raise exc from None  # torch cannot run it either: the rule's own message names the operation


def _call_module(
    spec: Any,
    node: Node,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ctx: Any,
    path: str,
    again: bool,
    parent: Any = None,
    writes: dict[int, tuple[Any, Any]] | None = None,
) -> Any:
    """The rows and the output of one call of a child module; ``writes`` is told of the lists given that it
    assigned into."""
    with _recalled_rows(ctx, again):
        types = _spec_types()
        child_path = _join(path, node.target)
        start = len(ctx.rows)
        torch_child = child_module(parent, node.target)
        if not args and len(kwargs) == 1 and torch_child is not None and not isinstance(spec, _multi_output()):
            # ``self.conv(input=x)``: the layer's input given by its parameter's name
            name = _input_name(torch_child.__class__)
            if name in kwargs:
                args, kwargs = (kwargs[name],), {}
        tensors = [a for a in args if isinstance(a, _Tensor)]
        if isinstance(spec, types.Graph):
            slot = ctx.open_group()
            out = _graph_call(spec, args, kwargs, ctx, child_path, writes)
            _close_with_first(ctx, slot, start, child_path, spec.kind, out, args)
        elif isinstance(spec, _sequential()) and len(args) == 1 and not tensors and not kwargs:
            # a tuple or list through an nn.Sequential: each child is called with what the one before returned
            slot = ctx.open_group()
            out = given = args[0]
            for name, child in spec._items:
                changed: dict[int, tuple[Any, Any]] = {}
                out = _call_module(
                    child, Node(name, "call_module", name), (out,), {}, ctx, child_path, again, torch_child, changed
                )
                for old, new in changed.values():  # the list the caller gave, assigned into: the caller's changes
                    given = new if given is old else given
            if writes is not None and given is not args[0]:
                writes[id(args[0])] = (args[0], given)
            _close_with_first(ctx, slot, start, child_path, spec.kind, out, args)
        elif isinstance(spec, _transposed()) and len(tensors) == 1 and _output_size_given(args, kwargs):
            # ``self.up(x, output_size=skip.size())``: the output padding that gives the size asked for
            size = args[1] if len(args) == 2 else kwargs["output_size"]
            sized = _sized_transpose(spec, tensors[0].shape, size, child_path, ctx)
            shape, rf = sized._plan(_flow_of(tensors[0], ctx), ctx, child_path)
            out = _Tensor(tuple(shape), rf)
        elif isinstance(spec, _multi_output()):
            _takes_its_inputs(torch_child, args, kwargs, child_path)
            options = {k: _as_shapes(v) for k, v in kwargs.items()}
            multi: Any = spec
            out = _as_tensors(multi._outputs(_as_shapes(args), options, ctx, child_path))
            _recurrent_layout(spec, out)
        elif isinstance(spec, types.TorchCall) or (
            torch_child is not None and (len(args) != 1 or len(tensors) != 1 or kwargs)
        ):
            module = spec.torch_module if isinstance(spec, types.TorchCall) else torch_child
            reason = (
                spec.reason
                if isinstance(spec, types.TorchCall)
                else f"it is called with {len(args) + len(kwargs)} arguments ({_describe_value(args[0]) if args else 'keywords'}), "
                "which its convcalc layer, taking one tensor, cannot follow"
            )
            # a module torch runs is listed where it is called, with what its call returns after its hooks (a
            # layer whose hook pools its output), as TorchCall._plan lists it inside a Sequential
            slot = ctx.open_group() if isinstance(spec, types.TorchCall) else -1
            called: list[Any] = []
            place = [slot, start]  # moved after the calls its forward pre-hooks make
            try:
                out = _torch_call(
                    module, args, kwargs, ctx, child_path, spec.kind, reason, slot >= 0, called, writes, place
                )
            except _TorchRejectsError:
                if isinstance(spec, types.TorchCall):
                    raise
                raise _one_tensor_error(child_path, spec.kind, args, kwargs) from None
            if slot >= 0:
                _close_with_first(
                    ctx,
                    place[0],
                    place[1],
                    child_path,
                    spec.kind,
                    out,
                    (_Tensor(called[0]),) if called and called[0] else args,
                )
        else:
            if len(args) != 1 or len(tensors) != 1 or kwargs:
                raise _one_tensor_error(child_path, spec.kind, args, kwargs)
            if isinstance(spec, _embedding()):  # ``self.pos(torch.arange(t))``: positions the table holds
                table = _Call(ctx, child_path, spec.kind)
                require_inside(table, tensors[0], spec.num_embeddings, 0, "the embedding table", negative=False)
            shape, rf = spec._plan(_flow_of(tensors[0], ctx), ctx, child_path)
            out = _Tensor(tuple(shape), rf, strides=module_strides(spec, torch_child, tensors[0], shape, _makes_new))
            if getattr(spec, "return_indices", False) is True:  # MaxPool2d(return_indices=True): (values, indices)
                out = _Pair((out, _Tensor(tuple(shape), rf)))
        return out


def _recalled_rows(ctx: Any, again: bool) -> AbstractContextManager[None]:
    """For a spec planned alone (no owner of tensors): the rows of a module called again, or under a name planned
    before, hold nothing more."""
    if getattr(ctx, "owner", None) is not None:
        return nullcontext()
    owned = {r.name for r in ctx.rows}

    def recalled(row: Any) -> Any:
        if again or row.name in owned:
            return dataclasses.replace(row, trainable=0, non_trainable=0, buffers=0, recursive=True)
        return row

    made_as: Any = ctx.made_as
    return made_as(recalled)  # type: ignore[no-any-return]


# Operations whose result may share its input's memory with other strides (a view), or whose result torch lays
# out otherwise than a new contiguous tensor (matmul of a matrix and a batch gives a transposed product; einsum
# and attention may return permuted results): a handler of these sets the strides it knows, else they are unknown.
_VIEWS = frozenset(
    {
        "chunk", "split", "tensor_split", "unbind", "expand", "expand_as", "getitem", "getattr", "movedim",
        "narrow", "permute", "squeeze", "t", "transpose", "unflatten", "unfold", "unfold_axis", "unsqueeze",
        "view", "view_as", "reshape", "reshape_as", "flatten", "contiguous", "einsum", "matmul",
        "scaled_dot_product_attention", "channel_shuffle", "native_channel_shuffle", "pixel_shuffle",
        "pixel_unshuffle",
    }
)  # fmt: skip


def _settled(out: Any, call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """An operation that makes a new tensor from contiguous tensors makes a contiguous one (torch's
    TensorIterator and kernels keep their inputs' layout); its strides are known from then on. One given a
    memory format (``x.to(memory_format=...)``, ``x.contiguous(memory_format=...)``) is laid out in it, and a
    few functions keep a channels-last or permuted input's layout (``torch.layout``)."""
    if type(out) is _Tensor and "memory_format" in kwargs:  # channels_last, contiguous_format, preserve_format
        strides = memory_format_strides(call, kwargs["memory_format"], args[0] if args else None, tuple(out.shape))
        return _Tensor(out.shape, out.rf, out.const, strides, out.integral, out.span, out.known)
    if type(out) is _Tensor and out.strides is None and call.kind not in _VIEWS:
        tensors = [a for a in _leaves((args, kwargs)) if isinstance(a, _Tensor)]
        # a pool, a convolution, a join of channels-last tensors keeps their layout (an (n, c, 1, 1) one too,
        # which is also contiguous); other functions of contiguous tensors make a contiguous one
        kept = functional_strides(call.kind, tensors, tuple(out.shape))
        if kept is not None:
            out.strides = kept
        elif all(is_contiguous(t.shape, t.strides) for t in tensors):
            out.strides = contiguous(tuple(out.shape))
    return out


def _makes_new(spec: Any) -> bool:
    """A convcalc layer whose torch module returns a new contiguous tensor for a contiguous input (every one
    but the recurrent and attention layers, whose batch-first outputs are transposed views), or a Sequential of
    such layers."""
    from convcalc.nn import containers, sequence

    if isinstance(spec, containers.Sequential):
        return all(_makes_new(child) for _, child in spec._items)
    if isinstance(spec, _spec_types().Elementwise):  # an activation convcalc.nn has no class for
        return True
    module = type(spec).__module__
    return module.startswith("convcalc.nn.") and module not in (
        sequence.__name__,
        "convcalc.nn.cells",
        containers.__name__,
    )


def _close_with_first(ctx: Any, slot: int, start: int, path: str, kind: str, out: Any, args: Any) -> None:
    """Close a module's group with the first tensor it returns and the first it was given: a module that
    returns a tuple or list of tensors is shown with its first, one that returns a dict with its last value's
    first, as torchinfo shows them."""
    shown, called, first = _torchinfo_first(out), _leaves((args,)), _leaves(out)
    # the first tensor it returns; where torchinfo sizes the call by something else than a tensor (``return
    # None, x``, or no tensor at all) it shows no shape and counts no bytes
    shape = shown.shape if shown is not None else first[0].shape if first else ()
    ctx.close_group(slot, start, path, kind, shape, called[0].shape if called else (), shown is not None)


def _torchinfo_first(value: Any) -> _Tensor | None:
    """The tensor torchinfo sizes a module's output by (see ``_shown_value``), or None where that is no tensor."""
    shown = _shown_value(value)
    return shown if isinstance(shown, _Tensor) else None


def _sequential() -> Any:
    from convcalc import nn

    return nn.Sequential


def _one_tensor_error(path: str, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> SpecError:
    count = len(args) + len(kwargs)
    given = ", ".join([_describe_value(a) for a in args] + [f"{k}={_describe_value(v)}" for k, v in kwargs.items()])
    return SpecError(
        f"{path or '<model>'} ({kind}): is called with {count} argument{'s' if count != 1 else ''} ({given or 'none'}); a "
        f"{kind} takes one tensor. Received: arguments=({given})"
    )


def _takes_its_inputs(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], path: str) -> None:
    """A torch ``nn.MultiheadAttention`` called without its key and value (in an ``nn.Sequential``, which passes one
    input) is a TypeError in torch: convcalc's own spec reads one input as self-attention, torch's module does not."""
    if module is None or type(module).forward is not _torch().nn.MultiheadAttention.forward:
        return
    given = len(args) + sum(k in kwargs for k in ("query", "key", "value"))
    missing = [n for n in ("query", "key", "value")[len(args) :] if n not in kwargs and n != "query"]
    if missing:  # (a query left out is the rule's own refusal: it names the query)
        raise SpecError(
            f"{path or '<model>'} (MultiheadAttention): is called without {' and '.join(missing)}, which torch's "
            f"forward needs (TypeError: missing required positional arguments; an nn.Sequential passes one input): "
            f"call it as attn(x, x, x) for self-attention. Received: arguments={given}"
        )


def _as_shapes(value: Any) -> Any:
    """Tensors as ``convcalc.nn`` shapes, for a layer that takes several tensors or returns several."""
    from convcalc import nn

    if isinstance(value, _Tensor):
        return nn._Shape(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_as_shapes(v) for v in value)
    return value


def _recurrent_layout(spec: Any, out: Any) -> None:
    """An RNN, GRU or LSTM returns new tensors: its states and an unbatched or sequence-first output contiguous, a
    batch-first output ``(N, L, F)`` the transpose of a contiguous ``(L, N, F)`` (so ``out.view(N, -1)`` fails in
    torch where N > 1 and L > 1)."""
    from convcalc.nn.sequence import _RNNBase

    if not isinstance(spec, _RNNBase) or not isinstance(out, tuple):
        return
    for t in _leaves((out,)):
        if isinstance(t, _Tensor):
            t.strides = contiguous(tuple(t.shape))
    first = out[0]
    if spec.batch_first and isinstance(first, _Tensor) and len(first.shape) == 3:
        n, _, features = first.shape
        first.strides = (features, n * features, 1) if all(type(d) is int for d in first.shape) else None


def _as_tensors(value: Any) -> Any:
    from convcalc import nn

    if isinstance(value, nn._Shape):
        return _Tensor(tuple(value))
    if isinstance(value, tuple):
        return tuple(_as_tensors(v) for v in value)
    return value


def _math(call: _Call, node: Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    function = _resolve_function(node.target)
    try:
        return function(*args, **kwargs)
    except TypeError:
        rounded = _rounded(call, node.target, args, kwargs)
        if rounded is None:
            raise call.spec_error(
                "convcalc follows math functions of concrete numbers only (and math.ceil, math.floor of sizes)",
                arguments=args,
            ) from None
        return rounded


def _rounded(call: _Call, target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``math.ceil(h / s)`` and ``math.floor`` of a symbolic size (the 'same' padding computed in a forward):
    sympy's ceiling or floor, None for another function or argument; a SpecError for a float of more than one
    division of sizes, which rounds as Python's arithmetic made it."""
    from convcalc._backend import is_symbolic, sympy
    from convcalc._symbolic import FloorForm, to_sympy

    name = target.rpartition(":")[2]
    if name not in ("ceil", "floor") or kwargs or len(args) != 1:
        return None
    _exactly_rounded(call, args[0])
    value = _real_value(args[0])
    if not (isinstance(value, FloorForm) or is_symbolic(value)):
        return None
    value = to_sympy(value)
    if not isinstance(value, sympy().Expr):
        return None
    return _size((sympy().ceiling if name == "ceil" else sympy().floor)(value))


def __getattr__(name: str) -> Any:
    if name in ("Graph", "TorchCall"):
        return getattr(_spec_types(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
