"""The torch bridge: convcalc specs to torch modules and back, and a check against a real forward pass.

Four public functions, each importing torch only when called (``import convcalc``
never imports torch):

- :func:`to_torch` builds the ``torch.nn.Module`` a ``convcalc.nn`` model
  describes: the same arguments, the same child names (so ``named_modules()``
  paths are the plan's row names) and the same parameter count.
- :func:`from_torch` reads a ``torch.nn.Module`` into a ``convcalc.nn`` model
  without running it on data: layers with a ``convcalc.nn`` spec map to that
  spec, ``nn.Sequential`` to ``Sequential``, and any other module's ``forward``
  is read with ``torch.fx`` into a :class:`Graph` whose nodes are its children
  and the tensor operations between them (residual ``+``, ``torch.cat``,
  ``view``/``flatten``, functional pooling, channel shuffles, squeeze-and-
  excitation products, ...). :func:`register` teaches it a module type it
  cannot read.
- :func:`verify` runs one forward pass and compares every layer with the plan.

Row names are torch's module paths (``layer1.0.conv1``). Tensor operations
written in a ``forward`` get rows too, named after the fx node inside the
module that runs them (``layer1.0.add``, ``flatten``), with the operation's
name as kind.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FunctionType
from typing import Any, NamedTuple

from convcalc._args import received
from convcalc._errors import ConvCalcError, ShapeError, SpecError

# Also public, made on first use (see __getattr__): Elementwise, Graph (specs);
# AddBranches, ConcatBranches, TracedGraph (torch modules).
__all__ = [
    "Node",
    "Ref",
    "VerifyReport",
    "VerifyRow",
    "from_torch",
    "register",
    "to_torch",
    "verify",
]

# Classes that subclass convcalc.nn.Module or torch.nn.Module are made on first
# use (importing convcalc.nn costs tens of milliseconds and torch far more), and
# are reachable as attributes of this module, so pickle and imports find them.
_LAZY_SPECS = ("Elementwise", "Graph", "TorchCall")
_LAZY_TORCH = ("AddBranches", "ConcatBranches", "TracedGraph")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SPECS:
        return getattr(_spec_types(), name)
    if name in _LAZY_TORCH:
        return getattr(_torch_types(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - the test environment has torch
        raise SpecError("the torch bridge needs PyTorch: pip install torch. Received: torch=None") from None
    return torch


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------- #
# Rules for module types from_torch cannot read by itself
# --------------------------------------------------------------------------- #

_RULES: dict[type, Callable[[Any], Any]] = {}


def register(torch_type: type, rule: Callable[[Any], Any] | None = None) -> Any:
    """Teach :func:`from_torch` (and so ``plan`` and ``verify``) a torch module type.

    ``rule(module)`` receives the torch module and returns the ``convcalc.nn``
    model that does to shapes what it does. A rule wins over everything
    ``from_torch`` would otherwise do for that type and its subclasses, so it
    also serves modules whose ``forward`` torch.fx cannot trace (data-dependent
    control flow, shape asserts, unsupported functions). Its layers are planned
    under the module's path: a rule returning ``Sequential(OrderedDict(conv=...))``
    for ``block`` gives a row ``block.conv``.

    Args:
        torch_type: a ``torch.nn.Module`` subclass.
        rule: a function from a module of that type to a ``convcalc.nn`` model;
            leave it out to use ``register`` as a decorator.

    Returns:
        ``rule`` (or, as a decorator, a function that registers and returns it).

    Raises:
        SpecError: ``torch_type`` is not a class or ``rule`` is not callable.

    >>> import torch, convcalc
    >>> from convcalc import nn
    >>> class Halve(torch.nn.Module):
    ...     def forward(self, x):
    ...         if x.shape[-1] % 2:  # data-dependent control flow: torch.fx cannot trace this
    ...             x = x[..., :-1, :-1]
    ...         return torch.nn.functional.avg_pool2d(x, 2)
    >>> [(r.name, r.source) for r in convcalc.plan(Halve(), (1, 3, 8, 8)).rows]  # torch's meta pass answers
    [('avg_pool2d', 'torch')]
    >>> convcalc.plan(Halve(), (1, 3, convcalc.symbols("H"), 8))
    Traceback (most recent call last):
    ...
    convcalc.SpecError: <model> (Halve): torch.fx cannot trace its forward (TraceError: symbolically traced variables cannot be used as inputs to control flow); convcalc can plan this module only with torch's shape machinery, which needs concrete sizes, not symbols. Plan with numbers, or register a rule for Halve. Received: input_shape=(1, 3, H, 8)
    >>> @convcalc.register(Halve)
    ... def halve(module):
    ...     return nn.AvgPool2d(2)
    >>> convcalc.plan(Halve(), (1, 3, 8, 8)).output_shape
    (1, 3, 4, 4)
    >>> convcalc.register(Halve, "not callable")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: a rule must be callable: rule(module) returns a convcalc.nn model. Received: rule='not callable'
    >>> _ = convcalc.torch_bridge._RULES.pop(Halve)
    """
    if not isinstance(torch_type, type):
        raise SpecError(
            f"register() takes a torch.nn.Module subclass as its first argument. {received({'torch_type': torch_type})}"
        )

    def add(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if not callable(function):
            raise SpecError(
                f"a rule must be callable: rule(module) returns a convcalc.nn model. {received({'rule': function})}"
            )
        _RULES[torch_type] = function
        return function

    return add if rule is None else add(rule)


def _rule_for(cls: type) -> Callable[[Any], Any] | None:
    for base in cls.__mro__:
        rule = _RULES.get(base)
        if rule is not None:
            return rule
    return None


# --------------------------------------------------------------------------- #
# Graph nodes: plain, torch-free data read from a torch.fx graph
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Ref:
    """An argument that is the value of an earlier node."""

    name: str


@dataclass(frozen=True, slots=True)
class _Slice:
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a traced ``forward``.

    ``op`` is torch.fx's opcode (``placeholder``, ``call_module``,
    ``call_function``, ``call_method``, ``get_attr``, ``output``); ``target`` the
    child's path, the function as ``"module:name"`` or the method's name;
    ``kind`` the operation convcalc plans (``"add"``, ``"view"``, ``"max_pool2d"``).
    """

    name: str
    op: str
    target: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    kind: str = ""


@dataclass(frozen=True, slots=True)
class _Attr:
    target: str
    shape: tuple[int, ...]
    category: str  # "parameter", "buffer" or "constant"
    trainable: bool


# --------------------------------------------------------------------------- #
# Specs defined here: Elementwise (torch layers that keep the shape) and Graph
# --------------------------------------------------------------------------- #


class _SpecTypes:
    Elementwise: Any
    Graph: Any
    TorchCall: Any


@functools.cache
def _spec_types() -> _SpecTypes:
    from convcalc import nn
    from convcalc._planner import Context, Flow

    @dataclass(frozen=True, slots=True)
    class Elementwise(nn.Module):
        """A torch layer without a ``convcalc.nn`` spec that keeps the shape (``ELU``, ``PReLU``, ...).

        ``torch_kind`` is the ``torch.nn`` class name, ``torch_args`` its
        constructor arguments; the parameter counts are the module's own.
        """

        torch_kind: str
        trainable: int = 0
        non_trainable: int = 0
        buffers: int = 0
        torch_args: tuple[tuple[str, Any], ...] = ()

        @property
        def kind(self) -> str:
            return self.torch_kind

        def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
            shape, rf = flow
            ctx.add_row(
                path,
                self.kind,
                shape,
                shape,
                trainable=self.trainable,
                non_trainable=self.non_trainable,
                buffers=self.buffers,
                receptive_field=rf,
            )
            return flow

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
            out = _graph_call(self, (_Tensor(tuple(flow[0]), flow[1]),), {}, ctx, path)
            if not isinstance(out, _Tensor):
                raise SpecError(
                    f"{self._where(path)}: forward returns {_describe_value(out)}, not one tensor; convcalc plans "
                    f"one output (call .eval() if training mode adds outputs, or register a rule). "
                    f"Received: module={self.torch_type}"
                )
            if path:
                ctx.close_group(slot, start, path, self.kind, out.shape)
            result: Flow = _flow_of(out)
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
            out = _torch_call(
                self.torch_module, (_Tensor(tuple(flow[0]), flow[1]),), {}, ctx, path, self.kind, self.reason
            )
            if not isinstance(out, _Tensor):
                raise SpecError(
                    f"{path or '<model>'} ({self.kind}): forward returns {_describe_value(out)}, not one tensor; "
                    f"a convcalc layer passes one tensor on. Received: module={self.kind}"
                )
            if path:
                ctx.close_group(slot, start, path, self.kind, out.shape)
            result: Flow = _flow_of(out)
            return result

    for cls in (Elementwise, Graph, TorchCall):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    types = _SpecTypes()
    types.Elementwise = Elementwise
    types.Graph = Graph
    types.TorchCall = TorchCall
    return types


def _node_repr(node: Node) -> str:
    def show(value: Any) -> str:
        if isinstance(value, Ref):
            return value.name
        if isinstance(value, tuple):
            return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        if isinstance(value, _Slice):
            parts = ["" if v is None else show(v) for v in (value.start, value.stop, value.step)]
            return ":".join(parts if parts[2] else parts[:2])
        return repr(value)

    args = [show(a) for a in node.args] + [f"{k}={show(v)}" for k, v in node.kwargs]
    if node.op == "output":
        return f"return {args[0] if args else 'None'}"
    if node.op == "call_module":
        return f"{node.name} = self.{node.target}({', '.join(args)})"
    if node.op == "get_attr":
        return f"{node.name} = self.{node.target}"
    if node.op == "call_method":
        return f"{node.name} = {args[0]}.{node.target}({', '.join(args[1:])})"
    return f"{node.name} = {node.target.rpartition(':')[2]}({', '.join(args)})"


# --------------------------------------------------------------------------- #
# torch modules defined here: AddBranches, ConcatBranches, TracedGraph
# --------------------------------------------------------------------------- #


class _TorchTypes:
    AddBranches: Any
    ConcatBranches: Any
    TracedGraph: Any


@functools.cache
def _torch_types() -> _TorchTypes:
    torch = _torch()
    base: Any = torch.nn.Module

    class AddBranches(base):  # type: ignore[misc]
        """``convcalc.nn.Add`` as a torch module: the sum of its branches applied to one input."""

        def __init__(self, branches: OrderedDict[str, Any]) -> None:
            super().__init__()
            for name, module in branches.items():
                self.add_module(name, module)

        def forward(self, x: Any) -> Any:
            outputs = [branch(x) for branch in self.children()]
            total = outputs[0]
            for j, out in enumerate(outputs[1:], start=1):
                # convcalc.nn.Add adds equal shapes only; a broadcast here would hide a wrong branch
                if out.shape != total.shape:
                    raise RuntimeError(
                        f"Add: branch {j} gives {tuple(out.shape)} but branch 0 gives {tuple(total.shape)}"
                    )
                total = total + out
            return total

    class ConcatBranches(base):  # type: ignore[misc]
        """``convcalc.nn.Concat`` as a torch module: its branches concatenated along ``dim``.

        ``crop=True`` first centre-crops every branch to the smallest spatial
        size, as the 2015 U-Net does: offset ``(size - target) // 2``.
        """

        def __init__(self, branches: OrderedDict[str, Any], dim: int = 1, crop: bool = False) -> None:
            super().__init__()
            for name, module in branches.items():
                self.add_module(name, module)
            self.dim = dim
            self.crop = crop

        def forward(self, x: Any) -> Any:
            outputs = [branch(x) for branch in self.children()]
            if self.crop:
                rank = outputs[0].dim()
                dim = self.dim % rank
                for axis in range(2, rank):
                    if axis == dim:
                        continue
                    target = min(int(out.shape[axis]) for out in outputs)
                    outputs = [out.narrow(axis, (int(out.shape[axis]) - target) // 2, target) for out in outputs]
            return torch.cat(outputs, dim=self.dim)

        def extra_repr(self) -> str:
            return f"dim={self.dim}, crop={self.crop}"

    class TracedGraph(base):  # type: ignore[misc]
        """A :class:`Graph` spec as a torch module: runs the recorded nodes with real tensors."""

        def __init__(self, torch_type: str, nodes: tuple[Node, ...]) -> None:
            super().__init__()
            self.torch_type = torch_type
            self.nodes = nodes

        def extra_repr(self) -> str:
            return f"traced {self.torch_type}"

        def forward(self, *inputs: Any) -> Any:
            env: dict[str, Any] = {}
            supplied = list(inputs)
            for node in self.nodes:
                if node.op == "placeholder":
                    env[node.name] = supplied.pop(0) if supplied else (node.args[0] if node.args else None)
                    continue
                args = _substitute(node.args, env)
                kwargs = {k: _substitute(v, env) for k, v in node.kwargs}
                if node.op == "output":
                    return args[0]
                if node.op == "get_attr":
                    env[node.name] = operator.attrgetter(node.target)(self)
                elif node.op == "call_module":
                    env[node.name] = self.get_submodule(node.target)(*args, **kwargs)
                elif node.op == "call_method":
                    env[node.name] = getattr(args[0], node.target)(*args[1:], **kwargs)
                else:
                    env[node.name] = _resolve_function(node.target)(*args, **kwargs)
            return None

    for cls in (AddBranches, ConcatBranches, TracedGraph):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    types = _TorchTypes()
    types.AddBranches = AddBranches
    types.ConcatBranches = ConcatBranches
    types.TracedGraph = TracedGraph
    return types


def _resolve_function(target: str) -> Any:
    import importlib

    module_name, _, name = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in name.split("."):
        value = getattr(value, part)
    return value


def _substitute(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return env[value.name]
    if isinstance(value, tuple):
        return tuple(_substitute(v, env) for v in value)
    if isinstance(value, _Slice):
        parts = (_substitute(v, env) for v in (value.start, value.stop, value.step))
        return slice(*parts)
    return value


# --------------------------------------------------------------------------- #
# to_torch
# --------------------------------------------------------------------------- #


def to_torch(model: Any) -> Any:
    """Build the ``torch.nn.Module`` a ``convcalc.nn`` model describes.

    Every spec becomes the ``torch.nn`` class of the same name with the same
    arguments; ``Sequential`` keeps its child names, ``Add`` and ``Concat``
    become :class:`AddBranches` and :class:`ConcatBranches` (children named as
    the branches), so ``named_modules()`` paths are the plan's row names and the
    parameter counts are the plan's.

    Args:
        model: a ``convcalc.nn`` model or layer.

    Returns:
        A new ``torch.nn.Module`` (freshly initialised weights).

    Raises:
        SpecError: a layer has no torch equivalent (a ``convcalc.keras`` layer).

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    >>> module = net.to_torch()
    >>> [name for name, _ in module.named_modules()]
    ['', '0', '1', '2', '3']
    >>> sum(p.numel() for p in module[0].parameters()) == convcalc.plan(net, (1, 3, 8, 8)).rows[0].params
    True
    >>> from convcalc import keras
    >>> to_torch(keras.Dense(10))
    Traceback (most recent call last):
    ...
    convcalc.SpecError: <model> (Dense): this layer has no torch.nn equivalent to build. Received: layer=Dense
    """
    _torch()
    return _build(model, "")


def _build(spec: Any, path: str) -> Any:
    torch = _torch()
    from convcalc import nn

    types = _spec_types()
    kind = type(spec).__name__
    where = f"{path or '<model>'} ({kind})"
    if isinstance(spec, nn.Sequential):
        return torch.nn.Sequential(OrderedDict((name, _build(m, _join(path, name))) for name, m in spec.children()))
    if isinstance(spec, nn.Add):
        return _torch_types().AddBranches(
            OrderedDict((name, _build(m, _join(path, name))) for name, m in spec.children())
        )
    if isinstance(spec, nn.Concat):
        return _torch_types().ConcatBranches(
            OrderedDict((name, _build(m, _join(path, name))) for name, m in spec.children()), spec.dim, spec.crop
        )
    if isinstance(spec, types.Graph):
        return _build_graph(spec, path)
    if isinstance(spec, types.Elementwise):
        return getattr(torch.nn, spec.torch_kind)(**dict(spec.torch_args))
    cls = getattr(torch.nn, kind, None)
    if not isinstance(spec, nn.Module) or not dataclasses.is_dataclass(spec) or not isinstance(cls, type):
        raise SpecError(f"{where}: this layer has no torch.nn equivalent to build. Received: layer={kind}")
    kwargs = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.init}
    try:
        return cls(**kwargs)
    except Exception as exc:  # torch rejects an argument convcalc accepted
        raise SpecError(
            f"{where}: torch.nn.{kind} rejects these arguments ({type(exc).__name__}: {exc}). {received(kwargs)}"
        ) from None


def _build_graph(spec: Any, path: str) -> Any:
    torch = _torch()
    module = _torch_types().TracedGraph(spec.torch_type, spec.nodes)
    for target, child in sorted(spec.modules, key=lambda item: item[0].count(".")):
        if _has_submodule(module, target):
            continue
        owner, _, name = target.rpartition(".")
        _container(module, owner).add_module(name, _build(child, _join(path, target)))
    for attr in spec.attrs:
        owner_path, _, name = attr.target.rpartition(".")
        owner = _container(module, owner_path)
        if hasattr(owner, name):
            continue
        value = torch.zeros(attr.shape)
        if attr.category == "parameter":
            owner.register_parameter(name, torch.nn.Parameter(value, requires_grad=attr.trainable))
        else:
            owner.register_buffer(name, value)
    return module


def _has_submodule(module: Any, target: str) -> bool:
    try:
        module.get_submodule(target)
    except AttributeError:
        return False
    return True


def _container(module: Any, path: str) -> Any:
    torch = _torch()
    current = module
    for part in path.split(".") if path else ():
        if not hasattr(current, part):
            current.add_module(part, torch.nn.Module())
        current = getattr(current, part)
    return current


# --------------------------------------------------------------------------- #
# from_torch
# --------------------------------------------------------------------------- #

# torch.nn layers without a convcalc.nn spec that keep the input's shape.
_SHAPE_KEEPING = frozenset(
    {
        "ELU",
        "SELU",
        "CELU",
        "PReLU",
        "RReLU",
        "Hardsigmoid",
        "Hardtanh",
        "Hardshrink",
        "Softshrink",
        "Tanhshrink",
        "Softplus",
        "Softsign",
        "Mish",
        "LogSigmoid",
        "Threshold",
        "LogSoftmax",
        "Softmin",
        "Softmax2d",
        "AlphaDropout",
        "FeatureAlphaDropout",
        "Dropout1d",
        "Dropout3d",
        "InstanceNorm1d",
        "InstanceNorm3d",
        "LocalResponseNorm",
        "CrossMapLRN2d",
        "SyncBatchNorm",
        "RMSNorm",
        "ChannelShuffle",
    }
)


def from_torch(module: Any) -> Any:
    """Read a ``torch.nn.Module`` into a ``convcalc.nn`` model, without running it on data.

    Layers with a ``convcalc.nn`` spec (``Conv2d``, ``BatchNorm2d``, ``Linear``,
    ...) map to it with the module's arguments; other shape-keeping torch layers
    (``ELU``, ``PReLU``, ...) to :class:`Elementwise`; ``nn.Sequential`` to
    ``Sequential`` with the same names. Any other module's ``forward`` is read
    with ``torch.fx`` (its children are not entered): a plain chain of children
    becomes a ``Sequential``, anything else a :class:`Graph` that plans each
    child under its torch path and each tensor operation (``+``, ``torch.cat``,
    ``view``, ``flatten``, ``F.relu``, ``F.max_pool2d``, ``mean``, ``chunk``,
    ``transpose``, ``x * s``, ...) under the name of its fx node. Types with a
    rule from :func:`register` use the rule.

    The spec counts each layer's parameters from its arguments. ``convcalc.plan``
    of the torch module itself counts the module's own tensors: a module called
    twice gives two rows under its path (the second marked ``recursive``), a
    shared or tied tensor counts once, ``requires_grad`` decides trainable,
    weight_norm / spectral_norm parametrizations count as ``parameters()``
    does, and modules the forward never calls go to ``Plan.uncalled``.

    Args:
        module: a ``torch.nn.Module``.

    Returns:
        A ``convcalc.nn`` model; ``convcalc.plan`` calls this for torch modules.

    Raises:
        SpecError: a module's forward cannot be traced, or uses an operation
            convcalc cannot follow; the message names the module's path and says
            how to register a rule.

    >>> import torch, convcalc
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = torch.nn.Conv2d(1, 8, 3)
    ...         self.fc = torch.nn.Linear(8 * 13 * 13, 10)
    ...     def forward(self, x):
    ...         x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
    ...         return self.fc(x.view(x.size(0), -1))
    >>> [(r.name, r.kind, r.output_shape) for r in convcalc.plan(Net(), (4, 1, 28, 28)).rows]
    [('conv', 'Conv2d', (4, 8, 26, 26)), ('relu', 'relu', (4, 8, 26, 26)), ('max_pool2d', 'max_pool2d', (4, 8, 13, 13)), ('view', 'view', (4, 1352)), ('fc', 'Linear', (4, 10))]
    >>> from_torch("conv")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: from_torch() takes a torch.nn.Module. Received: module='conv'
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise SpecError(f"from_torch() takes a torch.nn.Module. {received({'module': module})}")
    return _Reader().convert(module, "")


def _read(module: Any) -> _TorchModel:
    """The module read for planning: its spec, and what its layers hold (``convcalc.plan`` of a torch module)."""
    reader = _Reader()
    spec = reader.convert(module, "")
    return _TorchModel(spec, _Book(module, reader))


class _TorchModel:
    """A torch module read for planning: the spec :func:`from_torch` gives, planned per call with torch's tensors.

    Each row of a layer counts the parameter and buffer tensors the torch module
    holds (``requires_grad`` decides trainable) that no earlier row counted; a
    module called again is planned again under its own path; the tensors of
    modules the forward never calls go to ``Plan.uncalled``.
    """

    __slots__ = ("book", "spec")

    def __init__(self, spec: Any, book: _Book) -> None:
        self.spec, self.book = spec, book

    @property
    def _convention(self) -> Any:
        return self.spec._convention

    @property
    def _layout(self) -> str:
        layout: str = self.spec._layout
        return layout

    @property
    def name(self) -> str:
        return type(self.book.root).__name__  # the torch class, as the user wrote it

    def _plan(self, flow: Any, ctx: Any, path: str) -> Any:
        return self._plan_call((flow,), {}, ctx, path)[0]

    def _plan_call(self, inputs: tuple[Any, ...], keywords: dict[str, Any], ctx: Any, path: str) -> Any:
        """Plan a call with inputs (flows) by position and by name: ``(flow of the first output, outputs)``,
        the outputs a shape, or a tuple / dict of shapes as the forward returns them."""
        types = _spec_types()
        ctx.owner, ctx.counted = self.book.owner, set()
        spec = self.spec
        try:
            if isinstance(spec, (types.Graph, types.TorchCall)):
                args = tuple(_Tensor(tuple(f[0]), f[1]) for f in inputs)
                kwargs = {k: _Tensor(tuple(f[0]), f[1]) for k, f in keywords.items()}
                if isinstance(spec, types.Graph):
                    value = _graph_call(spec, args, kwargs, ctx, path)
                else:
                    value = _torch_call(spec.torch_module, args, kwargs, ctx, path, spec.kind, spec.reason)
                tree = _shapes_tree(value, self.name)
                first = _leaves((value,))[0]
                out = _flow_of(first)
            elif len(inputs) == 1 and not keywords:
                out = spec._plan(inputs[0], ctx, path)
                tree = tuple(out[0])
            else:
                raise SpecError(
                    f"<model> ({self.name}): takes one input tensor; received {len(inputs) + len(keywords)} "
                    f"inputs. Received: inputs={len(inputs) + len(keywords)}"
                )
        finally:
            ctx.owner = None
        ctx.groups[:] = [g if g is None else (g[0], self.book.canonical(g[1]), *g[2:]) for g in ctx.groups]
        ctx.uncalled.extend(self.book.uncalled(ctx))
        return out, tree


def _shapes_tree(value: Any, name: str) -> Any:
    """A forward's outputs as shapes: a tuple / dict of shapes, nested as returned."""
    if isinstance(value, _Tensor):
        return tuple(value.shape)
    if isinstance(value, dict):
        return {k: _shapes_tree(v, name) for k, v in value.items()}
    if isinstance(value, (tuple, list)) and value:
        return tuple(_shapes_tree(v, name) for v in value)
    raise SpecError(
        f"<model> ({name}): forward returns {_describe_value(value)}, which holds no tensor convcalc can plan. "
        f"Received: output={_describe_value(value)}"
    )


_MISSING = object()
_Tensors = tuple[tuple[Any, int, bool, bool], ...]


class _Book:
    """Which torch module (and which tensors) each planned path is: the planner's ``Context.owner``."""

    def __init__(self, root: Any, reader: _Reader) -> None:
        self.root = root
        self.leaves, self.ruled = reader.leaves, reader.ruled
        self.names = {id(m): name for name, m in root.named_modules()}  # a module's path: its first name
        self.found: dict[str, Any] = {}
        self.held: dict[int, _Tensors | None] = {}

    def owner(self, path: str) -> tuple[str, _Tensors, bool] | None:
        found = self.found.get(path, _MISSING)
        if found is _MISSING:
            found = self.found[path] = self._resolve(path)
        return found  # type: ignore[no-any-return]

    def _walk(self, path: str) -> tuple[Any, list[str]]:
        """The deepest module along ``path`` (a module is a leaf, read by a rule, or has no such child) and the rest."""
        module = self.root
        parts = path.split(".") if path else []
        for j, part in enumerate(parts):
            ident = id(module)
            child = dict(module._modules.items()).get(part) if ident not in self.leaves else None
            if ident in self.leaves or ident in self.ruled or child is None:
                return module, parts[j:]
            module = child
        return module, []

    def canonical(self, path: str) -> str:
        """``path`` with its module part spelled as torch names the module (its first path)."""
        module, rest = self._walk(path)
        name = self.names.get(id(module))
        return path if name is None else ".".join([name, *rest]) if name else ".".join(rest)

    def _resolve(self, path: str) -> tuple[str, _Tensors, bool] | None:
        module, rest = self._walk(path)
        ident = id(module)
        name = self.names.get(ident)
        if name is None:
            return None
        if ident in self.ruled:
            tensors = self.tensors(module)
            return None if tensors is None else (".".join([name, *rest]) if name else ".".join(rest), tensors, True)
        if ident in self.leaves:
            if rest:
                return None
            tensors = self.tensors(module)
            return None if tensors is None else (name, tensors, False)
        if len(rest) == 1:  # a parameter or buffer the module's forward reads: a row of its own
            tensor = module._parameters.get(rest[0])
            if tensor is None:
                tensor = module._buffers.get(rest[0])
            if tensor is not None and not _uninitialised(tensor):
                is_buffer = rest[0] in module._buffers
                return (
                    _join(name, rest[0]),
                    ((id(tensor), math.prod(tensor.shape), tensor.requires_grad, is_buffer),),
                    False,
                )
        return None

    def tensors(self, module: Any) -> _Tensors | None:
        """Every parameter and buffer the module holds (its parametrizations' too), or None for lazy ones."""
        ident = id(module)
        if ident not in self.held:
            found: list[tuple[Any, int, bool, bool]] = []
            for tensor in module.parameters():
                if _uninitialised(tensor):
                    self.held[ident] = None
                    return None
                found.append((id(tensor), math.prod(tensor.shape), bool(tensor.requires_grad), False))
            for tensor in module.buffers():
                if not _uninitialised(tensor):
                    found.append((id(tensor), math.prod(tensor.shape), False, True))
            self.held[ident] = tuple(found)
        return self.held[ident]

    def uncalled(self, ctx: Any) -> list[Any]:
        """Rows for the modules (and modules' own tensors) the plan never reached, holding tensors not yet counted."""
        from convcalc._plan import Row

        reached = {id(self.root)}
        for where in [r.name for r in ctx.rows] + [g[1] for g in ctx.groups if g is not None]:
            module = self.root
            for part in where.split(".") if where else ():
                module = dict(module._modules.items()).get(part)
                if module is None:
                    break
                reached.add(id(module))
        counted: set[Any] = ctx.counted
        rows: list[Any] = []

        def take(tensors: Any) -> tuple[int, int, int]:
            trainable = non_trainable = buffers = 0
            for key, numel, grad, is_buffer in tensors:
                if key in counted:
                    continue
                counted.add(key)
                if is_buffer:
                    buffers += numel
                elif grad:
                    trainable += numel
                else:
                    non_trainable += numel
            return trainable, non_trainable, buffers

        def add(name: str, kind: str, shape: tuple[int, ...], tensors: Any) -> None:
            trainable, non_trainable, buffers = take(tensors)
            if trainable or non_trainable or buffers:
                rows.append(Row(name, kind, (), shape, trainable, non_trainable, buffers, depth=name.count(".")))

        visited: set[int] = set()

        def visit(module: Any, path: str) -> None:
            visited.add(id(module))
            if id(module) not in reached:
                tensors = [t for t in self._all(module) if t is not None]
                add(path or type(module).__name__, type(module).__name__, (), tensors)
                return
            for kind, table in (("Parameter", module._parameters), ("Buffer", module._buffers)):
                for name, tensor in table.items():
                    if tensor is not None and not _uninitialised(tensor):
                        entry = (id(tensor), math.prod(tensor.shape), bool(tensor.requires_grad), kind == "Buffer")
                        add(_join(path, name), kind, tuple(tensor.shape), (entry,))
            for name, child in module._modules.items():
                if child is not None and id(child) not in visited:
                    visit(child, _join(path, name))

        visit(self.root, "")
        return rows

    @staticmethod
    def _all(module: Any) -> Iterator[tuple[Any, int, bool, bool] | None]:
        for tensor in module.parameters():
            if not _uninitialised(tensor):
                yield (id(tensor), math.prod(tensor.shape), bool(tensor.requires_grad), False)
        for tensor in module.buffers():
            if not _uninitialised(tensor):
                yield (id(tensor), math.prod(tensor.shape), False, True)


def _uninitialised(tensor: Any) -> bool:
    return isinstance(tensor, _torch().nn.parameter.UninitializedTensorMixin)


def module_classes(module: Any) -> dict[str, str]:
    """The class name of every submodule by path (``""`` for the module itself), as ``named_modules()`` lists them."""
    return {path: type(child).__name__ for path, child in module.named_modules()}


class _Reader:
    """One conversion: remembers modules already read (shared modules are read once)."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.keys: dict[int, tuple[Any, ...] | None] = {}
        self.leaves: set[int] = set()  # modules read as one layer: a row per call holds their tensors
        self.ruled: set[int] = set()  # modules read by a registered rule: its layers count their own parameters

    def convert(self, module: Any, path: str) -> Any:
        key = id(module)
        if key not in self.done:
            self.done[key] = self._convert(module, path)
        return self.done[key]

    def _convert(self, module: Any, path: str) -> Any:
        torch = _torch()
        from convcalc import nn

        cls = type(module)
        where = f"{path or '<model>'} ({cls.__name__})"
        rule = _rule_for(cls)
        if rule is not None:
            self.ruled.add(id(module))
            return _apply_rule(rule, module, where, cls)
        bridge = _torch_types()
        if isinstance(module, bridge.AddBranches):
            return nn.Add(OrderedDict(self._children(module, path)))
        if isinstance(module, bridge.ConcatBranches):
            return nn.Concat(OrderedDict(self._children(module, path)), dim=module.dim, crop=module.crop)
        if isinstance(module, bridge.TracedGraph):
            return self._reread(module, path)
        if isinstance(module, torch.nn.Sequential) and cls.forward is torch.nn.Sequential.forward:
            return nn.Sequential(OrderedDict(self._children(module, path)))
        spec = _leaf_spec(module, where)
        if spec is not None:
            self.leaves.add(id(module))
            return spec
        state = _trace_key(module, self.keys)
        key = None if state is None else (state, _code_of(cls))
        nodes = _TRACED.get(key) if key is not None else None
        if nodes is None:
            try:
                graph = _trace(module)
            except Exception as exc:  # the user's forward may raise anything on proxies
                if isinstance(module, torch.nn.Sequential):  # a Sequential subclass: read as the chain it holds
                    return nn.Sequential(OrderedDict(self._children(module, path)))
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return self._fallback(
                    module, f"torch.fx cannot trace its forward ({type(exc).__name__}: {message.rstrip('. ')})"
                )
            try:
                nodes = tuple(_node_of(fx_node, where) for fx_node in graph.nodes)
            except SpecError as exc:
                return self._fallback(module, str(exc).split(": ", 1)[-1].split(" (fx node")[0])
            if key is not None:
                _TRACED[key] = nodes
                while len(_TRACED) > _TRACED_MAX:
                    del _TRACED[next(iter(_TRACED))]
        return self._from_nodes(module, nodes, path)

    def _fallback(self, module: Any, reason: str) -> Any:
        """A module whose forward convcalc cannot read: planned by running it on the meta device."""
        self.ruled.add(id(module))  # its rows are named by the paths torch gives them
        return _spec_types().TorchCall(type(module).__name__, reason, module)

    def _children(self, module: Any, path: str) -> Iterator[tuple[str, Any]]:
        # every entry, as forward iterates them: named_children() would skip a module held twice
        for name, child in module._modules.items():
            if child is not None:
                yield name, self.convert(child, _join(path, name))

    def _reread(self, module: Any, path: str) -> Any:
        targets = dict.fromkeys(n.target for n in module.nodes if n.op == "call_module")
        modules = tuple((t, self.convert(module.get_submodule(t), _join(path, t))) for t in targets)
        attrs = tuple(_attr_of(module, t) for t in dict.fromkeys(n.target for n in module.nodes if n.op == "get_attr"))
        return _spec_types().Graph(module.torch_type, module.nodes, modules, attrs)

    def _from_nodes(self, module: Any, nodes: tuple[Node, ...], path: str) -> Any:
        from convcalc import nn

        modules: dict[str, Any] = {}
        attrs: dict[str, _Attr] = {}
        for node in nodes:
            if node.op == "call_module" and node.target not in modules:
                modules[node.target] = self.convert(module.get_submodule(node.target), _join(path, node.target))
            elif node.op == "get_attr" and node.target not in attrs:
                attrs[node.target] = _attr_of(module, node.target)
        chain = _as_chain(nodes)
        if chain is not None:
            return nn.Sequential(OrderedDict((t, modules[t]) for t in chain))
        return _spec_types().Graph(
            type(module).__name__, nodes, tuple(modules.items()), tuple(attrs.values()), torch_module=module
        )


# Traced forwards by _trace_key, across conversions (a key holds the code and everything plain the trace can read),
# oldest first.
_TRACED: dict[tuple[Any, ...], tuple[Node, ...]] = {}
_TRACED_MAX = 512

# nn.Module's own bookkeeping, which a forward does not branch on.
_MODULE_INTERNALS = frozenset(
    {
        "_parameters",
        "_buffers",
        "_modules",
        "_non_persistent_buffers_set",
        "_backward_pre_hooks",
        "_backward_hooks",
        "_is_full_backward_hook",
        "_forward_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_hooks_always_called",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks",
    }
)


def _trace_key(module: Any, memo: dict[int, tuple[Any, ...] | None] | None = None) -> tuple[Any, ...] | None:
    """What a traced forward can depend on, or None when that is not plain data.

    Two modules with equal keys (ResNet's repeated blocks) trace to the same
    graph, so one conversion traces each kind of block once. The key holds the
    type, every attribute that is plain data (a forward branches on those:
    ``self.downsample is not None``, ``self.use_res_connect``), the parameters'
    and buffers' names and shapes, and each child's name and own key, recursively
    (a forward loops over a ``ModuleList`` of its length, reads a child's
    ``in_features``), with a child held twice marked as such (torch.fx names
    both calls after the first name); an attribute that is not plain data (a
    function, a dict) anywhere below disables the sharing for that module.
    """
    if memo is None:
        memo = {}
    ident = id(module)
    if ident in memo:
        return memo[ident]
    memo[ident] = None  # a module holding itself is not plain data
    key = _key_of(module, memo)
    memo[ident] = key
    return key


def _key_of(module: Any, memo: dict[int, tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    state = []
    for name, value in vars(module).items():
        if name in _MODULE_INTERNALS:
            continue
        frozen = _plain_value(value)
        if frozen is _NOT_PLAIN:
            return None
        state.append((name, frozen))
    children: list[tuple[str, Any]] = []
    first: dict[int, str] = {}
    for name, child in module._modules.items():
        if child is None:
            children.append((name, None))
        elif id(child) in first:
            children.append((name, ("same as", first[id(child)])))
        else:
            first[id(child)] = name
            child_key = _trace_key(child, memo)
            if child_key is None:
                return None
            children.append((name, child_key))
    tensors = tuple(
        (name, None if t is None else (tuple(t.shape), t.requires_grad))
        for name, t in (*module._parameters.items(), *module._buffers.items())
    )
    return (type(module), tuple(state), tuple(children), tensors)


def _code_of(cls: type) -> tuple[Any, ...]:
    """The functions a class defines along its MRO (below nn.Module): a forward patched or redefined is a new key."""
    torch = _torch()
    return tuple(
        value
        for base in cls.__mro__
        if base not in (torch.nn.Module, object)
        for value in vars(base).values()
        if isinstance(value, (FunctionType, staticmethod, classmethod, property))
    )


_NOT_PLAIN = object()


def _plain_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value), value)
    if isinstance(value, (tuple, list)):
        items = tuple(_plain_value(v) for v in value)
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else (type(value), items)
    return _NOT_PLAIN


def _apply_rule(rule: Callable[[Any], Any], module: Any, where: str, cls: type) -> Any:
    from convcalc import nn

    try:
        spec = rule(module)
    except ConvCalcError:
        raise
    except Exception as exc:
        raise SpecError(
            f"{where}: the rule registered for {cls.__name__} raised {type(exc).__name__}: {exc}. "
            f"Received: module={cls.__name__}"
        ) from None
    if not isinstance(spec, nn.Module):
        raise SpecError(
            f"{where}: the rule registered for {cls.__name__} must return a convcalc.nn model, "
            f"not {type(spec).__name__}. Received: result={spec!r}"
        )
    return spec


def _torch_base(cls: type) -> type | None:
    """The torch.nn class a module type is (its forward not overridden), or None."""
    for base in cls.__mro__:
        if base.__module__.startswith("torch.nn.modules.") and base.__name__[0] != "_":
            return base if getattr(cls, "forward", None) is getattr(base, "forward", None) else None
    return None


# convcalc.nn layers a rule for a torch layer of this family is likely built from.
_RELATED_LAYERS = (
    (("RNN", "LSTM", "GRU"), "LSTM, GRU, RNN"),
    (("Attention", "Transformer"), "MultiheadAttention, Linear, LayerNorm"),
    (("Embedding",), "Embedding"),
    (("Unpool",), "MaxUnpool1d, MaxUnpool2d, MaxUnpool3d"),
    (("Fold",), "Fold, Unfold"),
    (("Shuffle",), "PixelShuffle, PixelUnshuffle"),
)


def _related(cls: type) -> str:
    """A hint naming the convcalc.nn layers of the torch layer's family, or nothing."""
    for words, layers in _RELATED_LAYERS:
        if any(w in cls.__name__ for w in words):
            return f" (convcalc.nn has {layers})"
    return ""


# Constructor arguments a torch layer keeps only as the presence of a tensor.
_TORCH_ONLY_ARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "MultiheadAttention": lambda m: {"bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None},
}


def _leaf_spec(module: Any, where: str) -> Any:
    from convcalc import nn

    base = _torch_base(type(module))
    if base is None:
        return None
    name = base.__name__
    spec_cls: Any = getattr(nn, name, None) if name in nn.__all__ else None
    is_spec = isinstance(spec_cls, type) and dataclasses.is_dataclass(spec_cls)
    if is_spec:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(spec_cls):
            if not f.init or not hasattr(module, f.name):
                continue
            value = getattr(module, f.name)
            if f.name == "bias" and not isinstance(value, bool):
                value = value is not None
            kwargs[f.name] = value
        kwargs.update(_TORCH_ONLY_ARGS.get(name, lambda m: {})(module))
        try:
            return spec_cls(**kwargs)
        except ConvCalcError as exc:
            raise type(exc)(f"{where}: {exc}") from None
    if name in _SHAPE_KEEPING:
        return _elementwise(module, base)
    return None


def _elementwise(module: Any, base: type) -> Any:
    import inspect

    trainable = non_trainable = 0
    for p in module.parameters():
        if p.requires_grad:
            trainable += p.numel()
        else:
            non_trainable += p.numel()
    buffers = sum(b.numel() for b in module.buffers())
    names = [p for p in inspect.signature(base).parameters if p not in ("self", "device", "dtype")]
    args = tuple((p, getattr(module, p)) for p in names if hasattr(module, p) and _plain(getattr(module, p)))
    return _spec_types().Elementwise(base.__name__, trainable, non_trainable, buffers, args)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, tuple) and all(_plain(v) for v in value)


def _attr_of(module: Any, target: str) -> _Attr:
    torch = _torch()
    owner_path, _, name = target.rpartition(".")
    owner = module.get_submodule(owner_path) if owner_path else module
    value = getattr(owner, name)
    shape = tuple(int(d) for d in value.shape) if isinstance(value, torch.Tensor) else ()
    if isinstance(value, torch.nn.Parameter):
        return _Attr(target, shape, "parameter", bool(value.requires_grad))
    if name in dict(owner.named_buffers(recurse=False)):
        return _Attr(target, shape, "buffer", False)
    return _Attr(target, shape, "constant", False)


@functools.cache
def _tracer_type() -> Any:
    """A torch.fx tracer that reads one module's forward and keeps every submodule as a leaf."""
    import torch.fx

    def in_place(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def method(self: Any, other: Any) -> Any:
            # named as fx names the out-of-place node (``add``, ``add_1``), so rows keep their names
            return self.tracer.create_proxy("call_function", op, (self, other), {}, name=op.__name__[1:])

        return method

    class InPlaceProxy(torch.fx.Proxy):
        """A proxy that records ``x += y`` as ``operator.iadd`` (fx's own falls back to ``add``): an in-place
        operation keeps its first operand's shape, so ``out += shortcut(x)`` fails in torch where ``out + ...``
        would broadcast."""

        __iadd__ = in_place(operator.iadd)
        __isub__ = in_place(operator.isub)
        __imul__ = in_place(operator.imul)
        __itruediv__ = in_place(operator.itruediv)

    class ChildrenAsLeaves(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            return True

        def proxy(self, node: Any) -> Any:
            return InPlaceProxy(node, self)

    return ChildrenAsLeaves


def _trace(module: Any) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _tracer_type()().trace(module)


def _as_chain(nodes: tuple[Node, ...]) -> list[str] | None:
    """The children's names when the forward only calls its children, one after another."""
    inputs = [n for n in nodes if n.op == "placeholder"]
    if len(inputs) != 1 or inputs[0].args:
        return None
    previous = inputs[0].name
    chain: list[str] = []
    for node in nodes[1:]:
        if node.op == "output":
            return chain if node.args == (Ref(previous),) and chain else None
        if node.op != "call_module" or "." in node.target or node.target in chain:
            return None
        if node.args != (Ref(previous),) or node.kwargs:
            return None
        chain.append(node.target)
        previous = node.name
    return None


# Functions a forward may call, by where they live.
def _namespaces() -> list[tuple[str, Any]]:
    import builtins

    torch = _torch()
    return [
        ("operator", operator),
        ("builtins", builtins),
        ("torch.nn.functional", torch.nn.functional),
        ("torch", torch),
        ("math", math),
    ]


_ALIASES = {
    "iadd": "add",
    "isub": "sub",
    "imul": "mul",
    "itruediv": "truediv",
    "ifloordiv": "floordiv",
    "div": "truediv",
    "true_divide": "truediv",
    "divide": "truediv",
    "multiply": "mul",
    "subtract": "sub",
    "floor_divide": "floordiv",
    "concat": "cat",
    "concatenate": "cat",
    "swapaxes": "transpose",
    "swapdims": "transpose",
    "clip": "clamp",
    "upsample": "interpolate",
    "remainder": "mod",
    "fmod": "mod",
    "imod": "mod",
    "ndimension": "dim",
}


def _canonical(name: str) -> str:
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variants: relu_, add_, mul_
    return _ALIASES.get(name, name)


def _is_inplace(node: Node) -> bool:
    """``x += y``, ``x.add_(y)``: the result is written into the first operand, so it keeps that shape."""
    name = node.target.rpartition(":")[2]
    if node.op == "call_method":
        return name.endswith("_") and not name.startswith("_")
    return node.target.startswith("operator:i") and name in {"iadd", "isub", "imul", "itruediv", "ifloordiv"}


def _node_of(fx_node: Any, where: str) -> Node:
    try:
        args = _freeze(fx_node.args)
        kwargs = tuple((k, _freeze(v)) for k, v in fx_node.kwargs.items())
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    op = fx_node.op
    if op in ("placeholder", "output", "call_module", "get_attr"):
        return Node(fx_node.name, op, str(fx_node.target), args, kwargs)
    if op == "call_method":
        target = str(fx_node.target)
        kind = _canonical(target)
        if kind not in _HANDLERS:
            raise _unsupported(where, f"the tensor method .{target}()", f"Tensor.{target}", fx_node)
        return Node(fx_node.name, op, target, args, kwargs, kind)
    function = fx_node.target
    name = getattr(function, "__name__", "")
    for label, namespace in _namespaces():
        if name and getattr(namespace, name, None) is function:
            if label == "math":
                return Node(fx_node.name, op, f"{label}:{name}", args, kwargs, f"math.{name}")
            kind = _canonical(name)
            if kind not in _HANDLERS:
                raise _unsupported(where, f"{label}.{name}", f"{label}.{name}", fx_node)
            return Node(fx_node.name, op, f"{label}:{name}", args, kwargs, kind)
    what = getattr(function, "__qualname__", repr(function))
    raise _unsupported(where, what, what, fx_node)


def _describe_with_nn(cls: type) -> str:
    """How to describe a module convcalc cannot trace, naming only layers that convcalc.nn has now.

    A torch layer with a namesake in convcalc.nn is registered as that layer. A torch layer without
    one (LSTM, MultiheadAttention, ... when convcalc.nn lacks them) cannot be described exactly: the
    suggestion is a stand-in with the same output shape, built from layers that exist, and says that
    its parameters and MACs are not the layer's.
    """
    from convcalc import nn

    name = cls.__name__
    if isinstance(getattr(nn, name, None), type) and issubclass(getattr(nn, name), nn.Module):
        return f"Describe it as convcalc.nn.{name}: convcalc.register({name}, lambda module: convcalc.nn.{name}(...))."
    if not cls.__module__.startswith("torch."):
        return (
            "Describe it with convcalc.nn layers: "
            f"convcalc.register({name}, lambda module: convcalc.nn.Sequential(...))."
        )
    stand_ins = [layer for layer in ("Linear", "Identity", "Conv1d") if hasattr(nn, layer)]
    shown = ", ".join(f"convcalc.nn.{layer}" for layer in stand_ins)
    return (
        f"convcalc.nn has no {name} layer, so no description is exact; to plan the rest of the model, register "
        f"a stand-in with the same output shape built from layers convcalc.nn has ({shown}, ...), e.g. "
        f"convcalc.register({name}, lambda module: convcalc.nn.Sequential(...)), knowing that its parameters and "
        f"MACs are the stand-in's, not {name}'s."
    )


def _unsupported(where: str, what: str, op: str, fx_node: Any) -> SpecError:
    cls = where.rpartition("(")[2].rstrip(")")
    return SpecError(
        f"{where}: convcalc cannot follow {what} in its forward (fx node {fx_node.name!r}); write the step as a "
        f"torch.nn layer, or describe the module with convcalc.nn layers: convcalc.register({cls}, "
        f"lambda module: convcalc.nn.Sequential(...)). Received: op={op}"
    )


def _freeze(value: Any) -> Any:
    import torch.fx

    if isinstance(value, torch.fx.Node):
        return Ref(value.name)
    if isinstance(value, (tuple, list)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, slice):
        return _Slice(_freeze(value.start), _freeze(value.stop), _freeze(value.step))
    if isinstance(value, dict):
        raise SpecError(f"convcalc cannot follow a dict passed as an argument. Received: argument={value!r}")
    return value


# --------------------------------------------------------------------------- #
# Planning a Graph: every node evaluated on shapes
# --------------------------------------------------------------------------- #


class _Tensor:
    """A tensor during planning: its shape, and the receptive field of its trailing axes.

    ``rf`` applies to the last ``len(rf)`` dims (so it survives a channel
    shuffle's reshapes); ``const`` marks tensors read from the module
    (parameters), which do not depend on the input.
    """

    __slots__ = ("const", "rf", "shape")

    def __init__(self, shape: tuple[Any, ...], rf: tuple[Any, ...] | None = None, const: bool = False) -> None:
        self.shape, self.rf, self.const = shape, rf, const


class _Opaque:
    """A value convcalc does not track (a dtype, a device): passed along untouched."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


class _Pair(tuple[Any, ...]):
    """``(values, indices)`` of ``torch.max(x, dim)`` and friends."""

    @property
    def values(self) -> Any:
        return self[0]

    @property
    def indices(self) -> Any:
        return self[1]


def _flow_of(t: _Tensor) -> Any:
    rf = t.rf if t.rf is not None and len(t.rf) == len(t.shape) - 2 else None
    return (t.shape, rf)


def _describe_value(value: Any) -> str:
    if isinstance(value, _Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


class _Call:
    """One operation being planned: where it is, and how it reports rows and errors."""

    __slots__ = ("ctx", "inplace", "kind", "name")

    def __init__(self, ctx: Any, name: str, kind: str, inplace: bool = False) -> None:
        self.ctx, self.name, self.kind, self.inplace = ctx, name, kind, inplace

    @property
    def where(self) -> str:
        return f"{self.name} ({self.kind})"

    def row(self, input_shape: tuple[Any, ...], out: _Tensor) -> _Tensor:
        rf = out.rf if out.rf is not None and len(out.rf) == len(out.shape) - 2 else None
        self.ctx.add_row(self.name, self.kind, tuple(input_shape), tuple(out.shape), receptive_field=rf, lookup=False)
        return out

    def shape_error(self, message: str, shape: Any) -> ShapeError:
        return ShapeError(f"{self.where}: {message}. Received: input_shape={tuple(shape)}")

    def spec_error(self, message: str, **args: Any) -> SpecError:
        return SpecError(f"{self.where}: {message}. {received(args)}")

    def require_equal(self, a: Any, b: Any, axis: int, message: Callable[[], str]) -> None:
        same = _same(a, b)
        if same is True:
            return
        if same is False:
            raise ShapeError(message())
        from convcalc._symbolic import to_sympy

        equals = getattr(self.ctx, "equals", None)
        if equals is not None:
            equals(to_sympy(a) - to_sympy(b), 0, self.name, axis, message, "sizes equal")


def _run_graph(graph: Any, inputs: list[Any], ctx: Any, path: str, keywords: dict[str, Any] | None = None) -> Any:
    modules = dict(graph.modules)
    attrs = {a.target: a for a in graph.attrs}
    env: dict[str, Any] = {}
    supplied = list(inputs)
    named = dict(keywords or {})
    called: set[str] = set()
    read: set[str] = set()
    for node in graph.nodes:
        if node.op == "placeholder":
            if supplied:
                env[node.name] = supplied.pop(0)
            elif node.target in named:
                env[node.name] = named.pop(node.target)
            elif node.args:
                env[node.name] = node.args[0]
            else:
                raise SpecError(
                    f"{path or '<model>'} ({graph.torch_type}): forward takes an input {node.name!r} that convcalc "
                    f"does not have; a plan follows one input tensor (register a rule for this module). "
                    f"Received: input={node.name}"
                )
            continue
        args = _substitute(node.args, env)
        kwargs = {k: _substitute(v, env) for k, v in node.kwargs}
        if node.op == "output":
            return args[0]
        if node.op == "get_attr":
            attr = attrs[node.target]
            env[node.name] = _Tensor(attr.shape, None, const=True)
            if "." not in attr.target and attr.target not in read and attr.category != "constant":
                read.add(attr.target)
                _attr_row(ctx, _join(path, attr.target), attr)
        elif node.op == "call_module":
            env[node.name] = _call_module(
                modules[node.target], node, args, kwargs, ctx, path, node.target in called, graph.torch_module
            )
            called.add(node.target)
        else:
            call = _Call(ctx, _join(path, node.name), node.kind, _is_inplace(node))
            if node.kind.startswith("math."):
                env[node.name] = _math(call, node, args, kwargs)
            else:
                env[node.name] = _HANDLERS[node.kind](call, args, kwargs)
    return None  # pragma: no cover - an fx graph always ends with an output node


def _attr_row(ctx: Any, name: str, attr: _Attr) -> None:
    numel = math.prod(attr.shape)
    kind = "Parameter" if attr.category == "parameter" else "Buffer"
    ctx.add_row(
        name,
        kind,
        (),
        attr.shape,
        trainable=numel if attr.category == "parameter" and attr.trainable else 0,
        non_trainable=numel if attr.category == "parameter" and not attr.trainable else 0,
        buffers=numel if attr.category == "buffer" else 0,
    )
    ctx.rows[-1] = dataclasses.replace(ctx.rows[-1], activations=0, activation_bytes=0)


def _child_module(parent: Any, target: str) -> Any:
    if parent is None:
        return None
    try:
        return parent.get_submodule(target)
    except AttributeError:
        return None


def _graph_call(graph: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: Any, path: str) -> Any:
    """Plan a Graph with convcalc's rules; where they cannot follow the forward (a SpecError, not a misfit),
    plan the module with torch's shape machinery instead, after undoing what the attempt planned."""
    if graph.torch_module is None:
        return _run_graph(graph, list(args), ctx, path, kwargs)
    state = (len(ctx.rows), len(ctx.groups), len(ctx.constraints), set(ctx.counted))
    try:
        return _run_graph(graph, list(args), ctx, path, kwargs)
    except SpecError as exc:
        if any(not isinstance(t, _Tensor) or any(type(d) is not int for d in t.shape) for t in _leaves(args)):
            raise
        del ctx.rows[state[0] :], ctx.groups[state[1] :], ctx.constraints[state[2] :]
        ctx.counted.clear()
        ctx.counted.update(state[3])
        reason = str(exc).split(": ", 1)[-1].split(". Received")[0]
        try:
            return _torch_call(graph.torch_module, args, kwargs, ctx, path, graph.kind, reason)
        except _TorchRejectsError:
            raise exc from None  # torch cannot run it either: the rule's own message names the operation


class _TorchRejectsError(SpecError):
    """torch itself cannot run the forward on meta tensors of these shapes."""


def _call_module(
    spec: Any,
    node: Node,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ctx: Any,
    path: str,
    again: bool,
    parent: Any = None,
) -> Any:
    types = _spec_types()
    child_path = _join(path, node.target)
    start = len(ctx.rows)
    tensors = [a for a in args if isinstance(a, _Tensor)]
    torch_child = _child_module(parent, node.target)
    if isinstance(spec, types.Graph):
        slot = ctx.open_group()
        out = _graph_call(spec, args, kwargs, ctx, child_path)
        if isinstance(out, _Tensor):
            ctx.close_group(slot, start, child_path, spec.kind, out.shape)
    elif isinstance(spec, _multi_output()):
        options = {k: _as_shapes(v) for k, v in kwargs.items()}
        multi: Any = spec
        out = _as_tensors(multi._outputs(_as_shapes(args), options, ctx, child_path))
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
        try:
            out = _torch_call(module, args, kwargs, ctx, child_path, spec.kind, reason)
        except _TorchRejectsError:
            if isinstance(spec, types.TorchCall):
                raise
            raise _one_tensor_error(child_path, spec.kind, len(args) + len(kwargs)) from None
    else:
        if len(args) != 1 or len(tensors) != 1 or kwargs:
            raise _one_tensor_error(child_path, spec.kind, len(args) + len(kwargs))
        shape, rf = spec._plan(_flow_of(tensors[0]), ctx, child_path)
        out = _Tensor(tuple(shape), rf)
        if getattr(spec, "return_indices", False) is True:  # MaxPool2d(return_indices=True): (values, indices)
            out = _Pair((out, _Tensor(tuple(shape), rf)))
    if getattr(ctx, "owner", None) is None:  # a spec planned alone: a module called again owns nothing more
        owned = {r.name for r in ctx.rows[:start]}
        for j in range(start, len(ctx.rows)):
            if again or ctx.rows[j].name in owned:
                ctx.rows[j] = dataclasses.replace(ctx.rows[j], trainable=0, non_trainable=0, buffers=0, recursive=True)
    return out


def _one_tensor_error(path: str, kind: str, count: int) -> SpecError:
    return SpecError(
        f"{path} ({kind}): is called with {count} arguments; a convcalc layer takes one tensor. Received: arguments={count}"
    )


def _multi_output() -> type:
    from convcalc import nn

    return nn._MultiOutput


def _as_shapes(value: Any) -> Any:
    """Tensors as ``convcalc.nn`` shapes, for a layer that takes several tensors or returns several."""
    from convcalc import nn

    if isinstance(value, _Tensor):
        return nn._Shape(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_as_shapes(v) for v in value)
    return value


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
        raise call.spec_error("convcalc follows math functions of concrete numbers only", arguments=args) from None


# -- small helpers on sizes ------------------------------------------------- #


def _same(a: Any, b: Any) -> bool | None:
    """Whether two sizes are equal: True, False, or None when it depends on the input."""
    if type(a) is int and type(b) is int:
        return a == b
    from convcalc._backend import is_symbolic
    from convcalc._symbolic import FloorForm, to_sympy

    if isinstance(a, FloorForm) and isinstance(b, FloorForm) and a == b:
        return True
    a = a.e if isinstance(a, FloorForm) and a.is_constant else a
    b = b.e if isinstance(b, FloorForm) and b.is_constant else b
    if type(a) is int and type(b) is int:
        return a == b
    if (isinstance(a, FloorForm) and type(b) is int) or (isinstance(b, FloorForm) and type(a) is int):
        return None  # a size that varies with the input against a number: equal for some inputs at most
    try:
        diff = to_sympy(a) - to_sympy(b)
    except TypeError:
        return None
    if not is_symbolic(diff):
        return bool(diff == 0)
    if diff == 0:
        return True
    if diff.is_zero is not None:
        return bool(diff.is_zero)
    import sympy

    return True if sympy.simplify(diff) == 0 else None


def _size(value: Any) -> Any:
    """A size in the planner's preferred form: an int, a FloorForm, or a sympy expression."""
    from convcalc._backend import is_symbolic

    if type(value) is int:
        return value
    if is_symbolic(value):
        import sympy

        if isinstance(value, sympy.Integer):
            return int(value)
        from convcalc._symbolic import as_integer_expr

        try:
            return as_integer_expr(value)
        except ValueError:
            return value
    return value


def _prod(dims: Any) -> Any:
    dims = tuple(dims)
    if all(type(d) is int for d in dims):
        return math.prod(dims)
    from convcalc._symbolic import to_sympy

    out: Any = 1
    for d in dims:
        out = out * to_sympy(d)
    return _size(out)


def _sum(dims: Any) -> Any:
    total: Any = 0
    for d in dims:
        total = total + d
    return _size(total) if type(total) is not int else total


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def _index(call: _Call, dim: Any, rank: int, shape: tuple[Any, ...], name: str = "dim") -> int:
    if not _is_int(dim):
        raise call.spec_error(f"{name} must be an int", **{name: dim})
    j = int(dim) + rank if dim < 0 else int(dim)
    if not 0 <= j < rank:
        raise call.shape_error(f"{name}={dim} is out of range for a {rank}-D input {tuple(shape)}", shape)
    return j


def _bind(
    call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any], names: tuple[str, ...], defaults: dict[str, Any]
) -> dict[str, Any]:
    if len(args) > len(names):
        raise call.spec_error(f"takes at most {len(names)} arguments here", arguments=len(args))
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        key = {"self": "input", "axis": "dim"}.get(key, key)
        bound[key] = value
    for key in names:
        if key not in bound:
            if key not in defaults:
                raise call.spec_error(f"needs the argument {key!r}", arguments=len(args))
            bound[key] = defaults[key]
    return bound


def _tensor_arg(call: _Call, value: Any) -> _Tensor:
    if not isinstance(value, _Tensor):
        raise call.spec_error("expects a tensor", argument=_describe_value(value))
    return value


def _merge_rf(tensors: list[_Tensor], rank: int) -> tuple[Any, ...] | None:
    """The receptive field of a value combining tensors position by position (the widest path wins)."""
    live = [t for t in tensors if not t.const]
    if not live or any(t.rf is None for t in live):
        return None
    sizes = {len(t.rf) for t in live if t.rf is not None}
    if len(sizes) != 1:
        return None
    merged = []
    for axis in zip(*[t.rf for t in live if t.rf is not None], strict=True):
        if len({f.jump for f in axis}) != 1:
            return None
        merged.append(max(axis, key=lambda f: f.size))
    return tuple(merged)


def _keep_tail(rf: tuple[Any, ...] | None, old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Keep a receptive field across a reshape that leaves the trailing (spatial) axes alone."""
    if rf is None:
        return None
    k = len(rf)
    if k == 0 or len(new) < k or len(old) < k:
        return None
    if all(_same(a, b) is True for a, b in zip(old[-k:], new[-k:], strict=True)):
        return rf
    return None


_HANDLERS: dict[str, Callable[[_Call, tuple[Any, ...], dict[str, Any]], Any]] = {}


def _handles(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def add(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            _HANDLERS[name] = function
        return function

    return add


# -- values passed through ---------------------------------------------------- #


@_handles(
    "contiguous",
    "clone",
    "detach",
    "float",
    "double",
    "half",
    "bfloat16",
    "to",
    "type",
    "type_as",
    "cpu",
    "cuda",
    "requires_grad",
)
def _passthrough(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("input")


@_handles("zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like")
def _like(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    return _Tensor(t.shape, None, const=True)


# -- elementwise ---------------------------------------------------------------- #


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
    "tanhshrink",
    "hardshrink",
    "softshrink",
    "threshold",
    "rrelu",
    "prelu",
    "softmax",
    "log_softmax",
    "softmin",
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
    "normalize",
    "local_response_norm",
    "layer_norm",
    "group_norm",
    "batch_norm",
    "instance_norm",
    "channel_shuffle",
    "native_channel_shuffle",
)
def _pointwise(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


_SCALAR_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
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
}


@_handles("neg")
def _neg(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value: Any = args[0] if args else kwargs.get("input")
    if not isinstance(value, _Tensor):
        return -value
    return _pointwise(call, args, kwargs)


@_handles(
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
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
)
def _binary(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if call.kind == "where":
        operands = list(args) + [kwargs[k] for k in ("condition", "input", "other") if k in kwargs]
    else:
        operands = list(args[:2]) + [kwargs[k] for k in ("input", "other") if k in kwargs]
    tensors = [v for v in operands if isinstance(v, _Tensor)]
    if not tensors:
        if len(operands) != 2 or call.kind not in _SCALAR_OPS:
            raise call.spec_error("cannot follow this operation on non-tensors", arguments=tuple(operands))
        try:
            result = _SCALAR_OPS[call.kind](operands[0], operands[1])
        except TypeError:
            raise call.spec_error("cannot follow this arithmetic on sizes", arguments=tuple(operands)) from None
        return _size(result)
    shape = _broadcast(call, [t.shape for t in tensors])
    if call.inplace and isinstance(operands[0], _Tensor):
        _written_into(call, operands[0].shape, shape)
    rf = _merge_rf(tensors, len(shape))
    out = _Tensor(shape, rf, all(t.const for t in tensors))
    return call.row(tensors[0].shape, out)


def _written_into(call: _Call, target: tuple[Any, ...], shape: tuple[Any, ...]) -> None:
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


def _broadcast(call: _Call, shapes: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    rank = max(len(s) for s in shapes)
    out = []
    for j in range(rank):
        dims = [s[len(s) - rank + j] for s in shapes if len(s) - rank + j >= 0]
        wide = [d for d in dims if _same(d, 1) is not True]
        if not wide:
            out.append(1)
            continue
        first = wide[0]
        for d in wide[1:]:
            call.require_equal(first, d, j, functools.partial(_broadcast_message, call, shapes, j))
        out.append(first)
    return tuple(out)


def _broadcast_message(call: _Call, shapes: list[tuple[Any, ...]], axis: int) -> str:
    a, b = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
    text = f"{call.where}: the operands have shapes {tuple(a)} and {tuple(b)}, which do not broadcast"
    if len(a) == len(b) == 4 and call.kind in ("add", "sub"):
        parts = []
        if _same(a[1], b[1]) is False:
            parts.append(f"the channels differ ({a[1]} vs {b[1]})")
        if any(_same(x, y) is False for x, y in zip(a[2:], b[2:], strict=True)):
            parts.append(f"the sizes differ ({a[2]} x {a[3]} vs {b[2]} x {b[3]})")
        stride = ""
        if all(
            type(x) is int and type(y) is int and x and y and max(x, y) % min(x, y) == 0
            for x, y in zip(a[2:], b[2:], strict=True)
        ):
            ratios = {max(x, y) // min(x, y) for x, y in zip(a[2:], b[2:], strict=True)}
            if len(ratios) == 1 and (r := ratios.pop()) > 1:
                stride = f", stride={r}"
        small, large = (a, b) if type(a[1]) is int and type(b[1]) is int and a[1] <= b[1] else (b, a)
        text += (
            f": {' and '.join(parts) or 'the shapes differ'}; give the shortcut a projection such as "
            f"Conv2d({small[1]}, {large[1]}, kernel_size=1{stride})"
        )
    else:
        text += f" (axis {axis}: sizes must be equal or 1)"
    return f"{text}. Received: input_shape={tuple(a)}"


@_handles("matmul", "bmm", "mm")
def _matmul(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    b = _tensor_arg(call, args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2")))
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise call.spec_error(
            "convcalc follows matrix products of tensors with 2 or more dims", shapes=(a.shape, b.shape)
        )
    call.require_equal(
        a.shape[-1],
        b.shape[-2],
        len(a.shape) - 1,
        lambda: (
            call.where + (f": the inner sizes differ ({a.shape[-1]} vs {b.shape[-2]}). Received: input_shape={a.shape}")
        ),
    )
    batch = _broadcast(call, [a.shape[:-2], b.shape[:-2]]) if len(a.shape) > 2 or len(b.shape) > 2 else ()
    return call.row(a.shape, _Tensor((*batch, a.shape[-2], b.shape[-1])))


# -- reductions ---------------------------------------------------------------- #


@_handles(
    "mean",
    "sum",
    "amax",
    "amin",
    "max",
    "min",
    "std",
    "var",
    "prod",
    "logsumexp",
    "argmax",
    "argmin",
    "all",
    "any",
    "norm",
    "nansum",
    "nanmean",
)
def _reduce(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    first = args[0] if args else kwargs.get("input")
    if call.kind in ("max", "min") and ((len(args) > 1 and isinstance(args[1], _Tensor)) or "other" in kwargs):
        return _binary(_Call(call.ctx, call.name, "maximum" if call.kind == "max" else "minimum"), args, kwargs)
    t = _tensor_arg(call, first)
    rest = list(args[1:])
    if call.kind == "norm":  # norm(input, p='fro', dim=None, keepdim=False)
        rest = rest[1:]
    dim = kwargs.get("dim", kwargs.get("axis", rest[0] if rest else None))
    position = 2 if call.kind in ("std", "var") else 1  # std(input, dim, unbiased, keepdim)
    keepdim = kwargs.get("keepdim", rest[position] if len(rest) > position else False)
    rank = len(t.shape)
    if dim is None or dim == ():
        if dim is None and call.kind in ("logsumexp",):
            raise call.spec_error("needs dim", dim=dim)
        reduced = set(range(rank))
    else:
        dims = dim if isinstance(dim, tuple) else (dim,)
        reduced = {_index(call, d, rank, t.shape) for d in dims}
    shape = tuple(1 if j in reduced else d for j, d in enumerate(t.shape) if keepdim or j not in reduced)
    k = len(t.rf) if t.rf is not None else 0
    rf = t.rf if k and not any(j >= rank - k for j in reduced) else None
    out = call.row(t.shape, _Tensor(shape, rf, t.const))
    if call.kind in ("max", "min") and dim is not None and dim != ():
        return _Pair((out, _Tensor(shape, rf, t.const)))
    return out


# -- shape queries ------------------------------------------------------------- #


@_handles("size")
def _size_of(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0])
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim is None:
        return tuple(t.shape)
    return t.shape[_index(call, dim, len(t.shape), t.shape)]


@_handles("dim")
def _rank(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return len(_tensor_arg(call, args[0]).shape)


@_handles("numel")
def _numel(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _prod(_tensor_arg(call, args[0]).shape)


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
        return _Opaque(f"tensor.{name}")
    if isinstance(value, _Pair) and name in ("values", "indices"):
        return getattr(value, name)
    try:
        return getattr(value, name)
    except AttributeError:
        raise call.spec_error(f"{_describe_value(value)} has no attribute {name!r}", attribute=name) from None


@_handles("getitem")
def _getitem(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value, index = args[0], args[1]
    if not isinstance(value, _Tensor):
        try:
            return value[index]
        except (TypeError, IndexError, KeyError) as exc:
            raise call.spec_error(f"cannot index {_describe_value(value)} ({exc})", index=index) from None
    return _slice_tensor(call, value, index if isinstance(index, tuple) else (index,))


def _slice_tensor(call: _Call, t: _Tensor, index: tuple[Any, ...]) -> _Tensor:
    rank = len(t.shape)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if used > rank:
        raise call.shape_error(f"too many indices ({used}) for a {rank}-D tensor", t.shape)
    expanded: list[Any] = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (rank - used))
        else:
            expanded.append(i)
    if Ellipsis not in index:
        expanded.extend([slice(None)] * (rank - used))
    shape: list[Any] = []
    axis = 0
    trailing_ok = True
    k = len(t.rf) if t.rf is not None else 0
    for item in expanded:
        if item is None:
            shape.append(1)
            if axis > rank - k:
                trailing_ok = False
            continue
        size = t.shape[axis]
        if isinstance(item, slice):
            full = item.start is None and item.stop is None and item.step in (None, 1)
            shape.append(size if full else _slice_length(call, size, item, axis, t.shape))
            if not full and axis >= rank - k:
                trailing_ok = False
        elif _is_int(item):
            if axis >= rank - k:
                trailing_ok = False
        else:
            raise call.spec_error(
                "convcalc follows indexing with ints, slices, None and ... only", index=_describe_value(item)
            )
        axis += 1
    rf = t.rf if k and trailing_ok else None
    return call.row(t.shape, _Tensor(tuple(shape), rf, t.const))


def _slice_length(call: _Call, size: Any, item: slice, axis: int, shape: tuple[Any, ...]) -> Any:
    step = 1 if item.step is None else item.step
    if not _is_int(step) or step < 1:
        raise call.spec_error("slices need a positive int step", step=step)
    if type(size) is int and all(v is None or _is_int(v) for v in (item.start, item.stop)):
        return len(range(size)[slice(item.start, item.stop, step)])

    def resolve(v: Any, default: Any) -> Any:
        if v is None:
            return default
        return size + v if _is_int(v) and v < 0 else v

    start, stop = resolve(item.start, 0), resolve(item.stop, size)
    call.ctx.at_least(
        start if type(start) is int else _size(start),
        0,
        call.name,
        axis,
        lambda: call.where + f": the slice starts before the axis. Received: input_shape={shape}",
        "slice starts inside the axis",
    )
    gap = size - stop
    call.ctx.at_least(
        gap if type(gap) is int else _size(gap),
        0,
        call.name,
        axis,
        lambda: call.where + f": the slice ends after the axis. Received: input_shape={shape}",
        "slice inside the axis",
    )
    length = -((start - stop) // step)
    length = _size(length) if type(length) is not int else length
    call.ctx.at_least(
        length,
        0,
        call.name,
        axis,
        lambda: call.where + f": the slice starts after it ends. Received: input_shape={shape}",
        "slice not reversed",
    )
    return length


# -- reshapes ------------------------------------------------------------------ #


def _sizes_arg(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(values) == 1 and isinstance(values[0], tuple):
        return values[0]
    return values


@_handles("view", "reshape")
def _reshape(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if "shape" in kwargs or "size" in kwargs:
        sizes = tuple(kwargs.get("shape", kwargs.get("size", ())))
    else:
        sizes = _sizes_arg(tuple(args[1:]))
    if any(isinstance(s, _Opaque) for s in sizes):  # view(dtype)
        return t
    shape = _infer_shape(call, t.shape, sizes)
    if len(shape) == 2 and len(t.shape) > 2 and _same(shape[0], t.shape[0]) is True:
        call.ctx.flatten_source = (call.name, tuple(t.shape[1:]))
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const))


def _check_sizes(call: _Call, sizes: tuple[Any, ...], name: str = "shape") -> None:
    from convcalc._backend import is_symbolic
    from convcalc._symbolic import FloorForm

    if not all(_is_int(s) or is_symbolic(s) or isinstance(s, FloorForm) for s in sizes):
        raise call.spec_error(f"{name} must be ints", **{name: tuple(sizes)})


def _infer_shape(call: _Call, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[Any, ...]:
    _check_sizes(call, sizes)
    numel = _prod(old)
    unknown = [j for j, s in enumerate(sizes) if _is_int(s) and s == -1]
    if len(unknown) > 1:
        raise call.spec_error("only one dimension can be inferred (-1)", shape=sizes)
    known = _prod(s for j, s in enumerate(sizes) if j not in unknown)
    if unknown:
        inferred = _exact_div(call, numel, known, old, sizes)
        return tuple(inferred if j in unknown else s for j, s in enumerate(sizes))
    call.require_equal(
        numel,
        known,
        0,
        lambda: (
            call.where
            + (
                f": shape {tuple(sizes)} is invalid for an input of {numel} elements. Received: input_shape={tuple(old)}"
            )
        ),
    )
    return tuple(sizes)


def _exact_div(call: _Call, numel: Any, known: Any, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> Any:
    message = f"shape {tuple(sizes)} is invalid for an input of {numel} elements ({' x '.join(str(d) for d in old)})"
    if type(numel) is int and type(known) is int:
        if known == 0 or numel % known:
            raise call.shape_error(message, old)
        return numel // known
    import sympy

    from convcalc._symbolic import to_sympy

    quotient = sympy.cancel(to_sympy(numel) / to_sympy(known))
    if quotient.is_integer is False:
        raise call.shape_error(message, old)
    return _size(quotient)


@_handles("flatten")
def _flatten(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc import nn

    bound = _bind(call, args, kwargs, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    t = _tensor_arg(call, bound["input"])
    if not t.shape:
        return call.row(t.shape, _Tensor((1,)))
    try:
        spec = nn.Flatten(bound["start_dim"], bound["end_dim"])
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {exc}") from None
    shape, _ = spec._plan((t.shape, None), call.ctx, call.name)
    _rekind(call)
    out = tuple(shape)
    return _Tensor(out, _keep_tail(t.rf, t.shape, out), t.const)


def _rekind(call: _Call) -> None:
    call.ctx.rows[-1] = dataclasses.replace(call.ctx.rows[-1], kind=call.kind)


@_handles("unflatten")
def _unflatten(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim", "sizes"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape), t.shape)
    part = _infer_shape(call, (t.shape[j],), tuple(bound["sizes"]))
    shape = (*t.shape[:j], *part, *t.shape[j + 1 :])
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const))


@_handles("squeeze")
def _squeeze(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    rank = len(t.shape)
    if dim is None:
        drop = {j for j, d in enumerate(t.shape) if _same(d, 1) is True}
    else:
        dims = dim if isinstance(dim, tuple) else (dim,)
        drop = {j for j in (_index(call, d, rank, t.shape) for d in dims) if _same(t.shape[j], 1) is True}
    shape = tuple(d for j, d in enumerate(t.shape) if j not in drop)
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const))


@_handles("unsqueeze")
def _unsqueeze(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape) + 1, t.shape)
    shape = (*t.shape[:j], 1, *t.shape[j:])
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const))


@_handles("transpose", "permute", "t", "movedim")
def _permute(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    rank = len(t.shape)
    order = list(range(rank))
    if call.kind == "transpose" or (call.kind == "t" and rank == 2):
        d0 = args[1] if len(args) > 1 else kwargs.get("dim0", 0)
        d1 = args[2] if len(args) > 2 else kwargs.get("dim1", 1)
        a, b = _index(call, d0, rank, t.shape), _index(call, d1, rank, t.shape)
        order[a], order[b] = order[b], order[a]
    elif call.kind == "permute":
        dims = _sizes_arg(tuple(args[1:])) if len(args) > 1 else tuple(kwargs.get("dims", ()))
        order = [_index(call, d, rank, t.shape) for d in dims]
        if sorted(order) != list(range(rank)):
            raise call.shape_error(f"permute needs each of the {rank} dims once, got {tuple(dims)}", t.shape)
    elif call.kind == "movedim":
        source = _index(call, args[1] if len(args) > 1 else kwargs["source"], rank, t.shape)
        dest = _index(call, args[2] if len(args) > 2 else kwargs["destination"], rank, t.shape)
        order.remove(source)
        order.insert(dest, source)
    shape = tuple(t.shape[j] for j in order)
    k = len(t.rf) if t.rf is not None else 0
    rf = t.rf if k and order[rank - k :] == list(range(rank - k, rank)) else None
    return call.row(t.shape, _Tensor(shape, rf, t.const))


@_handles("expand", "expand_as", "view_as", "reshape_as", "repeat")
def _expand(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if call.kind in ("expand_as", "view_as", "reshape_as"):
        other = _tensor_arg(call, args[1] if len(args) > 1 else kwargs.get("other"))
        shape = tuple(other.shape)
        if call.kind != "expand_as":
            shape = _infer_shape(call, t.shape, shape)
        else:
            _broadcast(call, [t.shape, shape])
        return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape) or other.rf, t.const))
    sizes = _sizes_arg(tuple(args[1:])) if len(args) > 1 else tuple(kwargs.get("size", kwargs.get("sizes", ())))
    _check_sizes(call, sizes)
    lead = len(sizes) - len(t.shape)
    if lead < 0:
        raise call.shape_error(f"needs at least {len(t.shape)} sizes, got {tuple(sizes)}", t.shape)
    if call.kind == "repeat":
        shape = tuple(
            _size(s * (t.shape[j - lead] if j >= lead else 1)) if type(s) is int else s for j, s in enumerate(sizes)
        )
    else:
        shape = tuple(t.shape[j - lead] if j >= lead and _is_int(s) and s == -1 else s for j, s in enumerate(sizes))
        _broadcast(call, [t.shape, shape])
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const))


@_handles("chunk", "split", "unbind", "tensor_split")
def _split(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    rank = len(t.shape)
    if call.kind == "unbind":
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    else:
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    j = _index(call, dim, rank, t.shape)
    n = t.shape[j]
    if type(n) is not int:
        raise call.shape_error(f"cannot {call.kind} along axis {j}, whose size {n} depends on the input", t.shape)
    how: Any
    pieces: list[Any]
    if call.kind == "unbind":
        pieces = [None] * n
    else:
        how = (
            args[1]
            if len(args) > 1
            else kwargs.get("chunks", kwargs.get("split_size_or_sections", kwargs.get("split_size")))
        )
        if call.kind == "chunk":
            if not _is_int(how) or how < 1:
                raise call.spec_error("chunks must be a positive int", chunks=how)
            size = -(-n // how) if n else 0
            pieces = [min(size, n - s) for s in range(0, n, size)] if size else [0]
        elif isinstance(how, tuple):
            if sum(how) != n:
                raise call.shape_error(f"split sizes {how} add up to {sum(how)}, not the axis size {n}", t.shape)
            pieces = list(how)
        elif call.kind == "tensor_split" and _is_int(how):
            base, extra = divmod(n, how)
            pieces = [base + (1 if i < extra else 0) for i in range(how)]
        else:
            if not _is_int(how) or how < 1:
                raise call.spec_error("split_size must be a positive int", split_size=how)
            pieces = [min(how, n - s) for s in range(0, n, how)]
    k = len(t.rf) if t.rf is not None else 0
    inside = j >= rank - k
    outs = []
    rf = t.rf if k and not inside else None
    for size in pieces:
        shape = (*t.shape[:j], *t.shape[j + 1 :]) if size is None else (*t.shape[:j], size, *t.shape[j + 1 :])
        outs.append(_Tensor(shape, rf, t.const))
    return tuple(outs)


@_handles("narrow")
def _narrow(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim", "start", "length"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape), t.shape)
    _check_sizes(call, (bound["length"],), "length")
    shape = (*t.shape[:j], bound["length"], *t.shape[j + 1 :])
    k = len(t.rf) if t.rf is not None else 0
    return call.row(t.shape, _Tensor(shape, t.rf if k and j < len(t.shape) - k else None, t.const))


@_handles("cat", "stack")
def _cat(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("tensors", "dim"), {"dim": 0})
    tensors = [_tensor_arg(call, v) for v in bound["tensors"]]
    if not tensors:
        raise call.spec_error("needs at least one tensor", tensors=())
    first = tensors[0].shape
    rank = len(first)
    stack = call.kind == "stack"
    j = _index(call, bound["dim"], rank + 1 if stack else rank, first)
    for n, t in enumerate(tensors[1:], start=1):
        if len(t.shape) != rank:
            raise call.shape_error(f"tensor {n} has {len(t.shape)} dims but tensor 0 has {rank}", first)
        for axis, (a, b) in enumerate(zip(first, t.shape, strict=True)):
            if axis == j and not stack:
                continue
            call.require_equal(a, b, axis, functools.partial(_cat_message, call, n, t.shape, first, bound["dim"]))
    if stack:
        shape = (*first[:j], len(tensors), *first[j:])
        k = len(tensors[0].rf) if tensors[0].rf is not None else 0
        rf = _merge_rf(tensors, rank) if k and j <= rank - k else None
    else:
        shape = (*first[:j], _sum(t.shape[j] for t in tensors), *first[j + 1 :])
        k = len(tensors[0].rf) if tensors[0].rf is not None else 0
        rf = _merge_rf(tensors, rank) if k and j < rank - k else None
    return call.row(first, _Tensor(shape, rf, all(t.const for t in tensors)))


def _cat_message(call: _Call, n: int, shape: tuple[Any, ...], first: tuple[Any, ...], dim: Any) -> str:
    return (
        f"{call.where}: tensor {n} has shape {tuple(shape)} but tensor 0 has {tuple(first)}; all dims except "
        f"dim={dim} must match. Received: input_shape={tuple(first)}"
    )


# -- padding, resizing, pooling ------------------------------------------------ #


@_handles("pad")
def _pad(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc._enums import PadMode
    from convcalc._plan import ReceptiveField
    from convcalc.nn import plan_padding

    bound = _bind(call, args, kwargs, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
    t = _tensor_arg(call, bound["input"])
    pads = tuple(bound["pad"])
    _check_sizes(call, pads, "pad")
    try:
        mode = PadMode.parse(bound["mode"], "mode")
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {exc}") from None
    rank = len(t.shape)
    if len(pads) % 2 or len(pads) // 2 > rank:
        raise call.spec_error(f"pad needs pairs (left, right) for at most {rank} dims", pad=pads)
    shape = list(plan_padding(call.ctx, call.where, call.name, tuple(t.shape), pads, mode))
    rf = list(t.rf) if t.rf is not None else None
    k = len(rf) if rf is not None else 0
    for i in range(len(pads) // 2):
        axis = rank - 1 - i
        if type(shape[axis]) is not int:
            shape[axis] = _size(shape[axis])
        if rf is not None and axis >= rank - k:
            r = rf[axis - (rank - k)]
            rf[axis - (rank - k)] = ReceptiveField(r.size, r.jump, r.start - pads[2 * i] * r.jump)
    return call.row(t.shape, _Tensor(tuple(shape), tuple(rf) if rf is not None else None, t.const))


@_handles("interpolate", "upsample_nearest", "upsample_bilinear")
def _interpolate(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc import nn

    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "size", "scale_factor", "mode", "align_corners"),
        {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None},
    )
    if call.kind == "upsample_bilinear":
        bound["mode"], bound["align_corners"] = "bilinear", True
    t = _tensor_arg(call, bound["input"])
    size, scale = bound["size"], bound["scale_factor"]
    if (size is None) == (scale is None):
        raise call.spec_error("give exactly one of size and scale_factor", size=size, scale_factor=scale)
    rank = len(t.shape)
    if size is not None and not all(type(v) is int for v in (size if isinstance(size, tuple) else (size,))):
        need = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}.get(bound["mode"])
        sizes = size if isinstance(size, tuple) else (size,) * (rank - 2)
        _check_sizes(call, sizes)
        if rank < 3 or (need is not None and rank != need) or len(sizes) != rank - 2:
            raise call.shape_error(f"size={size} does not fit a {rank}-D input in mode {bound['mode']!r}", t.shape)
        return call.row(t.shape, _Tensor((t.shape[0], t.shape[1], *sizes)))
    try:
        spec = nn.Upsample(size=size, scale_factor=scale, mode=bound["mode"], align_corners=bound["align_corners"])
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {exc}") from None
    shape, _ = spec._plan((t.shape, None), call.ctx, call.name)
    _rekind(call)
    return _Tensor(tuple(shape))


@_handles("pixel_shuffle", "pixel_unshuffle")
def _pixel_shuffle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    r: Any = args[1] if len(args) > 1 else kwargs.get("upscale_factor", kwargs.get("downscale_factor"))
    if not _is_int(r) or r < 1:
        raise call.spec_error("the factor must be a positive int", factor=r)
    if len(t.shape) < 3:
        raise call.shape_error("needs at least 3 dims (C, H, W)", t.shape)
    *lead, c, h, w = t.shape
    if call.kind == "pixel_shuffle":
        if type(c) is int and c % (r * r):
            raise call.shape_error(f"{c} channels are not divisible by upscale_factor**2 = {r * r}", t.shape)
        shape = (*lead, c // (r * r), _size(h * r), _size(w * r))
    else:
        for axis, v in ((len(t.shape) - 2, h), (len(t.shape) - 1, w)):
            if type(v) is int and v % r:
                raise call.shape_error(f"size {v} is not divisible by downscale_factor={r}", t.shape)
            call.ctx.divides(
                v,
                r,
                call.name,
                axis - 2,
                lambda v=v: (
                    call.where
                    + (f": size {v} is not divisible by downscale_factor={r}. Received: input_shape={tuple(t.shape)}")
                ),
                f"divisible by {r}",
            )
        shape = (*lead, c * r * r, _size(h // r), _size(w // r))
    return call.row(t.shape, _Tensor(tuple(shape)))


# -- einsum and attention ------------------------------------------------------ #


def _said(text: str) -> Callable[[], str]:
    return lambda: text


def _einsum_terms(call: _Call, equation: str, count: int) -> tuple[list[str], str | None]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    for term in [*terms, *([rhs] if arrow else [])]:
        body = term.replace("...", "", 1)
        if not all(c.isascii() and c.isalpha() for c in body):
            raise call.spec_error("the equation takes letters and at most one '...' per operand", equation=equation)
    if len(terms) != count:
        raise call.spec_error(f"the equation names {len(terms)} operands but {count} are given", equation=equation)
    return terms, (rhs if arrow else None)


@_handles("einsum")
def _einsum(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.einsum``: sizes from the equation, ``...`` broadcast; MACs the product of all index sizes."""
    equation = args[0] if args else kwargs.get("equation")
    operands = tuple(args[1:]) or tuple(kwargs.get("operands", ()))
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise call.spec_error("the equation must be a string", equation=equation)
    tensors = [_tensor_arg(call, t) for t in operands]
    terms, rhs = _einsum_terms(call, equation, len(tensors))
    sizes: dict[str, Any] = {}
    ellipses: list[tuple[Any, ...]] = []
    for j, (term, t) in enumerate(zip(terms, tensors, strict=True)):
        head, dots, tail = term.partition("...")
        rank = len(t.shape)
        if (dots and len(head) + len(tail) > rank) or (not dots and len(term) != rank):
            raise call.shape_error(
                f"operand {j} has {rank} dims but the equation gives it {len(head) + len(tail)} subscripts "
                f"{term!r}{' (plus ...)' if dots else ''}",
                t.shape,
            )
        labelled = list(zip(head, t.shape[: len(head)], strict=True))
        labelled += list(zip(tail, t.shape[rank - len(tail) :], strict=True))
        if dots:
            ellipses.append(tuple(t.shape[len(head) : rank - len(tail)]))
        own: dict[str, Any] = {}
        for label, size in labelled:
            if label in own and _same(own[label], size) is not True:
                raise call.shape_error(
                    f"subscript {label} is repeated for operand {j} but the sizes differ ({own[label]} vs {size})",
                    t.shape,
                )
            own[label] = size
            known = sizes.get(label)
            if known is None or _same(known, 1) is True:
                sizes[label] = size
            elif _same(size, 1) is not True:
                call.require_equal(
                    known,
                    size,
                    j,
                    _said(
                        f"{call.where}: subscript {label} has size {known} in one operand and {size} in operand "
                        f"{j} (sizes must be equal or 1). Received: input_shape={tuple(t.shape)}"
                    ),
                )
    batch_dims = _broadcast(call, ellipses) if ellipses else ()
    if rhs is None:
        counts: dict[str, int] = {}
        for term in terms:
            for c in term.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        rhs = ("..." if ellipses else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    head, dots, tail = rhs.partition("...")
    out: list[Any] = []
    for label in head + tail:
        if label not in sizes or (head + tail).count(label) > 1:
            raise call.spec_error(
                f"output subscript {label} must appear once in the output and in an operand", equation=equation
            )
    out = [sizes[c] for c in head] + (list(batch_dims) if dots else []) + [sizes[c] for c in tail]
    macs: Any = 0
    if len(tensors) > 1:
        every = [*sizes.values(), *batch_dims]
        firsts = {term[:3] if term.startswith("...") else term[:1] for term in [*terms, rhs]}
        if len(firsts) == 1 and firsts != {""}:  # one leading batch index everywhere: count per sample
            first = firsts.pop()
            if first == "...":
                every = [*sizes.values(), *batch_dims[1:]]
            else:
                every = [v for k, v in sizes.items() if k != first] + list(batch_dims)
        macs = _prod(every)
    shape = tuple(out)
    call.ctx.add_row(call.name, call.kind, tuple(tensors[0].shape), shape, macs=macs)
    return _Tensor(shape)


@_handles("scaled_dot_product_attention")
def _sdpa(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.scaled_dot_product_attention``: ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev) -> (..., L, Ev)``."""
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    bound = _bind(
        call,
        args,
        kwargs,
        names,
        {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False},
    )
    q, k, v = (_tensor_arg(call, bound[n]) for n in names[:3])
    if len(q.shape) < 2 or len(k.shape) < 2 or len(v.shape) < 2:
        raise call.shape_error("query, key and value need at least 2 dims (L, E)", q.shape)
    call.require_equal(
        q.shape[-1],
        k.shape[-1],
        len(q.shape) - 1,
        lambda: (
            f"{call.where}: the query has {q.shape[-1]} features but the key {k.shape[-1]}; they must be equal. "
            f"Received: input_shape={tuple(q.shape)}"
        ),
    )
    call.require_equal(
        k.shape[-2],
        v.shape[-2],
        len(k.shape) - 2,
        lambda: (
            f"{call.where}: the key has length {k.shape[-2]} but the value {v.shape[-2]}; they must be equal. "
            f"Received: input_shape={tuple(q.shape)}"
        ),
    )
    leads = [q.shape[:-2], k.shape[:-2], v.shape[:-2]]
    if bound["enable_gqa"] is True and all(len(s) >= 1 for s in leads):
        heads = q.shape[-3]
        for s in leads[1:]:
            if _is_int(heads) and _is_int(s[-1]) and heads % s[-1]:
                raise call.shape_error(f"{heads} query heads are not a multiple of {s[-1]} key/value heads", q.shape)
        leads = [leads[0], *((*s[:-1], heads) for s in leads[1:])]
    batch = _broadcast(call, leads)
    length, source = q.shape[-2], k.shape[-2]
    per_sample = _prod(batch[1:]) if len(batch) > 0 else 1
    macs = per_sample * length * source * (q.shape[-1] + v.shape[-1])
    shape = (*batch, length, v.shape[-1])
    call.ctx.add_row(call.name, call.kind, tuple(q.shape), shape, macs=macs)
    return _Tensor(shape)


_POOL_ARGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "max_pool": (
        ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
        {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
    ),
    "avg_pool": (
        ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
        {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None},
    ),
    "adaptive_avg_pool": (("input", "output_size"), {}),
    "adaptive_max_pool": (("input", "output_size", "return_indices"), {"return_indices": False}),
}


@_handles("conv1d", "conv2d", "conv3d", "linear")
def _functional_layer(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.conv2d(x, self.weight, self.bias, ...)`` and ``F.linear``: the layer's rule on the weight's shape; the
    weight and bias count where the forward reads them, not here."""
    from convcalc import nn

    linear = call.kind == "linear"
    names = (
        ("input", "weight", "bias")
        if linear
        else ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    )
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    x, w, b = bound.get("input"), bound.get("weight"), bound.get("bias")
    if not isinstance(x, _Tensor) or not isinstance(w, _Tensor) or not all(_is_int(d) for d in w.shape):
        raise call.spec_error("convcalc follows this call with a tensor input and a weight of known shape", weight=w)
    if linear:
        spec: Any = nn.Linear(w.shape[-1], w.shape[0], bias=isinstance(b, _Tensor))
    else:
        groups = bound.get("groups", 1)
        padding = bound.get("padding", 0)
        layer = getattr(nn, "Conv" + call.kind[4:])
        spec = layer(
            w.shape[1] * groups,
            w.shape[0],
            tuple(w.shape[2:]),
            stride=bound.get("stride", 1),
            padding=padding,
            dilation=bound.get("dilation", 1),
            groups=groups,
            bias=isinstance(b, _Tensor),
        )
    start = len(call.ctx.rows)
    owner = getattr(call.ctx, "owner", None)
    call.ctx.owner = None
    try:
        shape, rf = spec._plan(_flow_of(x), call.ctx, call.name)
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {str(exc).split(': ', 1)[-1]}") from None
    finally:
        call.ctx.owner = owner
    for j in range(start, len(call.ctx.rows)):
        call.ctx.rows[j] = dataclasses.replace(
            call.ctx.rows[j], kind=call.kind, trainable=0, non_trainable=0, buffers=0
        )
    return _Tensor(tuple(shape), rf)


_POOL_SPECS = {
    "max_pool": "MaxPool",
    "avg_pool": "AvgPool",
    "adaptive_avg_pool": "AdaptiveAvgPool",
    "adaptive_max_pool": "AdaptiveMaxPool",
}


@_handles(
    *(f"{family}{n}d" for family in _POOL_ARGS for n in (1, 2, 3)),
    *(f"{family}{n}d_with_indices" for family in ("max_pool", "adaptive_max_pool") for n in (1, 2, 3)),
)
def _pool(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc import nn

    kind = call.kind.removesuffix("_with_indices")
    always_pair = kind != call.kind  # the *_with_indices functions return (values, indices) whatever the flag
    call = _Call(call.ctx, call.name, kind)
    family, ndim = kind[:-2], kind[-2]
    names, defaults = _POOL_ARGS[family]
    bound = _bind(call, args, kwargs, names, defaults)
    t = _tensor_arg(call, bound.pop("input"))
    indices = bound.pop("return_indices", False) or always_pair
    if bound.get("stride") in ((), []):
        bound["stride"] = None
    if family == "avg_pool" and ndim == "1":
        bound.pop("divisor_override", None)
    if family.startswith("adaptive"):
        bound = {"output_size": bound["output_size"]}
    try:
        spec = getattr(nn, f"{_POOL_SPECS[family]}{ndim}d")(**bound)
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {exc}") from None
    shape, rf = spec._plan(_flow_of(t), call.ctx, call.name)
    _rekind(call)
    out = _Tensor(tuple(shape), rf)
    return _Pair((out, _Tensor(tuple(shape), rf))) if indices else out


# --------------------------------------------------------------------------- #
# verify
# --------------------------------------------------------------------------- #


class VerifyRow(NamedTuple):
    """One compared layer.

    ``match`` is None where torch has no module of that name (a tensor
    operation of a traced forward) or the forward pass stopped before it.
    """

    name: str
    planned_shape: tuple[Any, ...] | None
    actual_shape: tuple[int, ...] | None
    planned_params: Any
    actual_params: int | None
    match: bool | None


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: one row per planned call, and whether all agree with torch.

    ``ok`` is True when convcalc and torch both accept the input and every call
    torch can show (by its module path) has the planned output shape and
    parameter count. ``error`` holds torch's exception if the forward pass
    failed, ``plan_error`` convcalc's if planning failed; ``torch_layer`` and
    ``plan_layer`` name the layer each stopped at (``""`` for the model itself).
    ``agree`` is True when ``ok``, or when both reject the input at the same
    layer with every call before it matching.
    """

    ok: bool
    rows: tuple[VerifyRow, ...]
    input_shape: tuple[int, ...]
    device: str
    error: str | None = None
    plan_error: str | None = None
    torch_layer: str | None = None
    plan_layer: str | None = None

    @property
    def mismatches(self) -> tuple[VerifyRow, ...]:
        return tuple(r for r in self.rows if r.match is False)

    @property
    def agree(self) -> bool:
        """Whether convcalc predicted what torch does: every call matches, or both reject at the same layer."""
        if self.ok:
            return True
        return (
            self.error is not None
            and self.plan_error is not None
            and self.torch_layer is not None
            and self.torch_layer == self.plan_layer
            and not self.mismatches
        )

    def __str__(self) -> str:
        checked = sum(1 for r in self.rows if r.match is not None)
        head = f"verify on {self.device}, input {self.input_shape}: "
        if self.ok:
            head += f"OK ({checked} layers match torch, {len(self.rows) - checked} operations not checked)"
        elif self.agree:
            head += f"both reject, at the same layer ({self.plan_layer or '<model>'})"
        elif self.error is not None and self.plan_error is not None and not self.mismatches:
            head += (
                f"MISMATCH (both reject, at different layers: convcalc at {_layer(self.plan_layer)}, "
                f"torch at {_layer(self.torch_layer)})"
            )
        elif self.error is not None and not self.mismatches:
            head += f"MISMATCH (torch raises at {_layer(self.torch_layer)}; convcalc planned this input)"
        elif self.plan_error is not None and not self.mismatches:
            head += f"MISMATCH (convcalc rejects at {_layer(self.plan_layer)}; torch runs this input)"
        else:
            head += f"MISMATCH ({len(self.mismatches)} of {checked} layers differ)"
        lines = [head]
        if self.plan_error:
            lines.append(f"convcalc: {self.plan_error}")
        if self.error:
            lines.append(f"torch: {self.error}")
        table = [("layer", "planned shape", "torch shape", "planned params", "torch params", "")]
        for r in self.rows:
            mark = "-" if r.match is None else ("ok" if r.match else "MISMATCH")
            table.append(
                (
                    r.name,
                    _text(r.planned_shape),
                    _text(r.actual_shape),
                    _count(r.planned_params),
                    _count(r.actual_params),
                    mark,
                )
            )
        if len(table) > 1:
            widths = [max(len(row[j]) for row in table) for j in range(6)]
            for row in table:
                cells = [row[j].rjust(widths[j]) if j in (3, 4) else row[j].ljust(widths[j]) for j in range(6)]
                lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)


def _layer(name: str | None) -> str:
    return "an unknown layer" if name is None else (name or "<model>")


def _text(value: Any) -> str:
    return "-" if value is None else str(tuple(value))


def _count(value: Any) -> str:
    return "-" if value is None else (f"{value:,}" if type(value) is int else str(value))


def verify(model: Any, input_shape: Any, *, device: str | None = None, raise_on_mismatch: bool = False) -> VerifyReport:
    """Run one real forward pass and compare every layer with ``convcalc.plan``.

    Builds the torch module (``to_torch`` for a ``convcalc.nn`` model; a torch
    module is used as it is, in eval mode, on a copy if it must move device),
    runs it once on ``torch.randn(input_shape)`` under ``torch.no_grad()``,
    records each module's output shape, call by call, with forward hooks, and
    compares them and the parameters each call holds for the first time
    (``parameters()`` of the module, its parametrizations included) with the
    plan's rows of the same name, in order. When both reject the input, the
    report says whether they stop at the same layer (``agree``).

    Args:
        model: a ``convcalc.nn`` model or a ``torch.nn.Module``.
        input_shape: concrete sizes, batch first, such as ``(1, 3, 224, 224)``.
        device: where to run; ``"cuda"`` when available, else ``"cpu"``.
        raise_on_mismatch: raise instead of returning a failed report.

    Returns:
        A :class:`VerifyReport`; ``print(report)`` shows the table.

    Raises:
        ShapeError: with ``raise_on_mismatch``, naming the first layer that
            differs, or with torch's message when its forward pass fails.
        SpecError: the model cannot be built or read.

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    >>> report = convcalc.verify(net, (2, 1, 28, 28), device="cpu")
    >>> report.ok
    True
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    verify on cpu, input (2, 1, 28, 28): OK (4 layers match torch, 0 operations not checked)
    layer  planned shape    torch shape      planned params  torch params
    0      (2, 4, 26, 26)   (2, 4, 26, 26)               40            40  ok
    1      (2, 4, 26, 26)   (2, 4, 26, 26)                0             0  ok
    2      (2, 2704)        (2, 2704)                     0             0  ok
    3      (2, 10)          (2, 10)                  27,050        27,050  ok
    >>> report = convcalc.verify(net, (2, 1, 30, 30), device="cpu")
    >>> report.ok, report.agree, report.plan_layer, report.torch_layer
    (False, True, '3', '3')
    >>> print(str(report).splitlines()[0])
    verify on cpu, input (2, 1, 30, 30): both reject, at the same layer (3)
    >>> convcalc.verify(net, (2, 1, 30, 30), device="cpu", raise_on_mismatch=True)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: verify: convcalc and torch both reject this input. torch: RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3136 and 2704x10); both stop at the same layer, 3. Received: input_shape=(2, 1, 30, 30)
    """
    torch = _torch()
    from convcalc._planner import plan

    is_torch = isinstance(model, torch.nn.Module)
    if not is_torch and not hasattr(model, "_plan"):
        raise SpecError(f"verify() takes a convcalc.nn model or a torch.nn.Module. {received({'model': model})}")
    if (
        isinstance(input_shape, (str, bytes))
        or not hasattr(input_shape, "__iter__")
        or not all(type(d) is int and d >= 1 for d in input_shape)
        or not tuple(input_shape)
    ):
        raise ShapeError(
            f"verify() runs torch, so input_shape must be positive ints such as (1, 3, 224, 224). "
            f"{received({'input_shape': input_shape})}"
        )
    shape = tuple(input_shape)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    built = model if is_torch else to_torch(model)
    try:
        module = _module_on(built, device)
    except Exception as exc:  # no such device, or not available
        raise SpecError(
            f"verify() cannot use device {device!r} ({type(exc).__name__}: {exc}); use 'cpu', or 'cuda' where "
            f"torch.cuda.is_available(). {received({'device': device})}"
        ) from None
    was_training = module.training
    module.eval()
    try:
        read = _read(module) if is_torch else None
        spec = read.spec if read is not None else model
        plan_error: str | None = None
        plan_layer: str | None = None
        planned = None
        try:
            planned = plan(read if read is not None else model, shape)
        except ConvCalcError as exc:
            plan_error, plan_layer = str(exc), _rejecting_layer(exc)
        outputs, params, error, torch_layer = _run_hooked(torch, module, shape, device)
    finally:
        module.train(was_training)
    from convcalc import nn

    # A root that is a layer, an Add or a Concat plans its own row last, under a name of its own.
    root_row = not isinstance(spec, (nn.Sequential, _spec_types().Graph))
    rows = _compare(planned, outputs, params, error is not None, root_row)
    if plan_layer is not None and torch_layer is not None:
        plan_layer = _owning_module(plan_layer, params)
    ok = plan_error is None and error is None and all(r.match is not False for r in rows)
    report = VerifyReport(ok, tuple(rows), shape, str(device), error, plan_error, torch_layer, plan_layer)
    if raise_on_mismatch and not ok:
        raise ShapeError(_failure(report))
    return report


def _rejecting_layer(exc: ConvCalcError) -> str | None:
    """The path of the layer a planning error names (``""`` for the model itself), or None."""
    layer = getattr(exc, "layer", None)
    if isinstance(layer, str):
        return layer
    head = str(exc).partition(": ")[0]
    if not head.endswith(")") or " (" not in head:
        return None
    path = head.rpartition(" (")[0]
    return "" if path == "<model>" else path


def _owning_module(path: str, params: dict[str, Any]) -> str:
    """The torch module a planned path belongs to: itself, or the module whose forward runs that operation."""
    parts = path.split(".") if path else []
    while parts and ".".join(parts) not in params:
        parts.pop()
    return ".".join(parts)


def _module_on(module: Any, device: str) -> Any:
    """The module on ``device``: itself when it is there already, else a moved copy (the caller's stays put)."""
    import copy

    torch = _torch()
    torch.empty(0, device=device)  # fails early for a device that does not exist
    for tensor in (*module.parameters(), *module.buffers()):
        if isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin):
            continue
        wanted = torch.device(device)
        if tensor.device.type != wanted.type or (wanted.index is not None and tensor.device.index != wanted.index):
            return copy.deepcopy(module).to(device)
    return module


def _run_hooked(
    torch: Any, module: Any, shape: tuple[int, ...], device: str
) -> tuple[
    dict[str, list[tuple[int, ...]]], dict[str, tuple[tuple[tuple[int, int], ...], bool]], str | None, str | None
]:
    """Output shapes per module path (one per call); per module, the tensors (id, numel) of the parameters a row
    of it holds and whether a plan shows it as a layer; torch's error, and the innermost module it stopped in."""
    outputs: dict[str, list[tuple[int, ...]]] = {}
    running: list[str] = []
    handles = []

    def starter(name: str) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any) -> None:
            running.append(name)

        return hook

    def recorder(name: str) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            if running and running[-1] == name:
                running.pop()
            found = _first_tensor(torch, output)
            if found is not None:
                outputs.setdefault(name, []).append(tuple(int(d) for d in found.shape))

        return hook

    named = list(module.named_modules())
    for name, sub in named:
        handles.append(sub.register_forward_pre_hook(starter(name)))
        handles.append(sub.register_forward_hook(recorder(name)))
    error = failed_in = None
    try:
        with torch.no_grad():
            module(torch.randn(shape, device=device))
    except Exception as exc:  # torch's own error is the finding
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        failed_in = running[-1] if running else ""
    finally:
        for handle in handles:
            handle.remove()
    params: dict[str, tuple[tuple[tuple[int, int], ...], bool]] = {}
    for name, sub in named:
        children = [child for child_name, child in sub.named_children() if child_name != "parametrizations"]
        # an empty Sequential (a shortcut that passes its input on) is planned as nothing
        layer = not children and not (isinstance(sub, torch.nn.Sequential) and len(sub) == 0)
        tensors = [*sub.parameters(recurse=False)]
        if "parametrizations" in sub._modules:  # weight_norm, spectral_norm: the originals are the layer's
            tensors += [*sub._modules["parametrizations"].parameters()]
        counted = []
        for tensor in tensors:
            try:
                counted.append((id(tensor), tensor.numel()))
            except ValueError:  # an uninitialised lazy parameter: the forward failed before it
                continue
        params[name] = (tuple(dict.fromkeys(counted)), layer)
    return outputs, params, error, failed_in


def _first_tensor(torch: Any, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(torch, item)
            if found is not None:
                return found
    return None


def _compare(
    planned: Any,
    outputs: dict[str, list[tuple[int, ...]]],
    params: dict[str, tuple[tuple[tuple[int, int], ...], bool]],
    stopped: bool,
    root_row: bool,
) -> list[VerifyRow]:
    rows: list[VerifyRow] = []
    aliases = {}
    if planned is not None and root_row and planned.rows and planned.rows[-1].name not in params:
        aliases[planned.rows[-1].name] = ""
    seen: Counter[str] = Counter()
    counted: set[int] = set()  # torch's tally: a parameter counts at the first row that holds it
    planned_names = set()
    for r in planned.rows if planned is not None else ():
        name = r.name if r.name in params else aliases.get(r.name, r.name)
        planned_names.add(name)
        planned_shape = tuple(r.output_shape)
        if name not in params:
            rows.append(VerifyRow(r.name, planned_shape, None, r.params, None, None))
            continue
        occurrence = seen[name]
        seen[name] += 1
        calls = outputs.get(name, [])
        actual = calls[occurrence] if occurrence < len(calls) else None
        actual_params = 0
        for key, numel in params[name][0]:
            if key not in counted:
                counted.add(key)
                actual_params += numel
        if actual is None:  # not reached (torch failed earlier) or called fewer times than planned
            rows.append(VerifyRow(r.name, planned_shape, None, r.params, actual_params, None if stopped else False))
            continue
        match = planned_shape == actual and r.params == actual_params
        rows.append(VerifyRow(r.name, planned_shape, actual, r.params, actual_params, match))
    if planned is not None:
        layers = [n for n in planned_names if n in params and params[n][1]]
        for name, calls in outputs.items():
            if name in planned_names:
                for extra in calls[seen[name] :]:  # torch called it more often than planned
                    rows.append(VerifyRow(name, None, extra, None, 0, False))
                continue
            if not params[name][1]:
                continue  # a container, or an empty Sequential
            if any(n.startswith(f"{name}.") or not name for n in planned_names):
                continue  # a traced leaf module: its operations have rows under its path
            if any(name.startswith(f"{n}.") for n in layers):
                continue  # runs inside a planned layer (a parametrization computing its weight)
            rows.append(VerifyRow(name, None, calls[0], None, sum(n for _, n in params[name][0]), False))
    return rows


def _failure(report: VerifyReport) -> str:
    tail = f"Received: input_shape={report.input_shape}"
    if report.error and report.plan_error:
        where = (
            f"both stop at the same layer, {_layer(report.plan_layer)}"
            if report.agree
            else f"convcalc stops at {_layer(report.plan_layer)}, torch at {_layer(report.torch_layer)}"
        )
        return f"verify: convcalc and torch both reject this input. torch: {report.error}; {where}. {tail}"
    if report.error:
        return f"verify: torch raises during the forward pass, but convcalc planned it: {report.error}. {tail}"
    if report.plan_error:
        head, _, _ = report.plan_error.rpartition(" Received:")
        return f"verify: torch runs this input, but convcalc rejects it: {head or report.plan_error}. {tail}"
    first = report.mismatches[0]
    return (
        f"verify: layer {first.name!r} differs from torch: planned output {_text(first.planned_shape)} with "
        f"{_count(first.planned_params)} parameters, torch gives {_text(first.actual_shape)} with "
        f"{_count(first.actual_params)}. {tail}"
    )


# --------------------------------------------------------------------------- #
# The fallback: a forward convcalc cannot read, run by torch on the meta device
# --------------------------------------------------------------------------- #

# Functions that multiply and accumulate: without a convcalc rule for a call, its MACs would be unknown.
_MAC_FUNCTIONS = frozenset(
    {
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "linear",
        "bilinear",
        "matmul",
        "mm",
        "bmm",
        "addmm",
        "baddbmm",
        "addbmm",
        "einsum",
        "tensordot",
        "scaled_dot_product_attention",
        "multi_head_attention_forward",
        "lstm",
        "gru",
        "rnn_tanh",
        "rnn_relu",
    }
)


def _meta_copy(module: Any) -> Any:
    """A deep copy of ``module`` whose parameters and buffers are meta tensors (no data is copied or moved)."""
    import copy

    torch = _torch()
    memo: dict[int, Any] = {}
    for tensor in (*module.parameters(), *module.buffers()):
        if _uninitialised(tensor) or id(tensor) in memo:
            continue
        meta = torch.empty_like(tensor, device="meta")
        if isinstance(tensor, torch.nn.Parameter):
            meta = torch.nn.Parameter(meta, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = meta
    return copy.deepcopy(module, memo)


class _Run:
    """What one meta-device pass saw: each call of a module convcalc has a rule for, and each tensor function
    called outside such a module, in the order they finished."""

    def __init__(self, root: Any, path: str) -> None:
        self.root, self.path = root, path
        self.names = {id(m): _join(path, name) for name, m in root.named_modules(remove_duplicate=False)}
        for name, m in root.named_modules():  # a module held twice: its first name
            self.names[id(m)] = _join(path, name)
        self.stack: list[Any] = []
        self.events: list[tuple[Any, ...]] = []
        self.leaf: dict[int, bool] = {}
        self.active = False

    def is_leaf(self, module: Any) -> bool:
        ident = id(module)
        if ident not in self.leaf:
            torch = _torch()
            cls = type(module)
            base = _torch_base(cls)
            self.leaf[ident] = (
                _rule_for(cls) is not None
                or isinstance(module, torch.jit.ScriptModule)
                or (base is not None and base.__name__ not in ("Sequential", "ModuleList", "ModuleDict", "Module"))
            )
        return self.leaf[ident]

    def inside_leaf(self) -> bool:
        return any(self.is_leaf(m) for m in self.stack)

    def pre(self, module: Any, args: Any) -> None:
        if self.active:
            self.events.append(("enter", module))
            self.stack.append(module)

    def post(self, module: Any, args: Any, output: Any) -> None:
        if self.active and self.stack and self.stack[-1] is module:
            self.stack.pop()
            self.events.append(("exit", module, args, output))


def _torch_call(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: Any, path: str, kind: str, reason: str
) -> Any:
    """Plan one call of ``module`` with torch's shape machinery: a meta copy runs on meta tensors of the shapes
    planned so far, and every module call and tensor function it makes is planned with convcalc's rules on the
    shapes torch gives there. Rows added here are marked ``source="torch"``."""
    torch = _torch()
    where = f"{path or '<model>'} ({kind})"
    shapes = [t.shape for t in _leaves(args) + _leaves(tuple(kwargs.values()))]
    if any(type(d) is not int for shape in shapes for d in shape):
        raise SpecError(
            f"{where}: {reason}; convcalc can plan this module only with torch's shape machinery, which needs "
            f"concrete sizes, not symbols. Plan with numbers, or register a rule for {kind}. "
            f"Received: input_shape={shapes[0] if len(shapes) == 1 else tuple(shapes)}"
        )
    copy = _meta_copy(module)
    run = _Run(copy, path)
    known: dict[int, Any] = {}  # id of a meta tensor -> its receptive field
    alive: list[Any] = []

    def meta(value: Any) -> Any:
        if isinstance(value, _Tensor):
            tensor = torch.empty(value.shape, device="meta")
            known[id(tensor)] = value.rf
            alive.append(tensor)
            return tensor
        if isinstance(value, tuple):
            return type(value)(meta(v) for v in value) if type(value) is tuple else tuple(meta(v) for v in value)
        if isinstance(value, dict):
            return {k: meta(v) for k, v in value.items()}
        return value

    from torch.overrides import TorchFunctionMode

    class Functions(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, f_args: Any = (), f_kwargs: Any = None) -> Any:
            out = func(*f_args, **(f_kwargs or {}))
            if run.active and not run.inside_leaf() and _holds_tensor(out):
                run.events.append(("function", func, f_args, f_kwargs or {}, out))
            return out

    from torch.nn.modules import module as torch_module

    pre = torch_module.register_module_forward_pre_hook(run.pre)
    post = torch_module.register_module_forward_hook(run.post)
    try:
        m_args, m_kwargs = meta(args), meta(kwargs)
        run.active = True
        with torch.no_grad(), Functions():
            output = copy(*m_args, **m_kwargs)
    except ConvCalcError:
        raise
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _TorchRejectsError(
            f"{where}: {reason}, and torch cannot run it on meta tensors of these shapes either "
            f"({type(exc).__name__}: {message.rstrip('. ')}). {_describe_with_nn(type(module))} Received: input_shape="
            f"{shapes[0] if len(shapes) == 1 else tuple(shapes)}, module={kind}"
        ) from None
    finally:
        run.active = False
        pre.remove()
        post.remove()
    start = len(ctx.rows)
    _replay(run, ctx, path, known)
    for j in range(start, len(ctx.rows)):
        ctx.rows[j] = dataclasses.replace(ctx.rows[j], source="torch")
    return _from_meta(output, known, where)


def _leaves(value: Any) -> list[_Tensor]:
    if isinstance(value, _Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _leaves(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _leaves(v)]
    return []


def _holds_tensor(value: Any) -> bool:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return not isinstance(value, torch.nn.Parameter)
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    return False


def _from_meta(value: Any, known: dict[int, Any], where: str) -> Any:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return _Tensor(tuple(int(d) for d in value.shape), known.get(id(value)))
    if isinstance(value, (tuple, list)):
        items = tuple(_from_meta(v, known, where) for v in value)
        return _Pair(items) if type(value).__module__ == "torch.return_types" else items
    if isinstance(value, dict):
        return {k: _from_meta(v, known, where) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _Opaque(type(value).__name__)


def _replay(run: _Run, ctx: Any, path: str, known: dict[int, Any]) -> None:
    """Plan, with convcalc's rules, each call the meta pass made, on the shapes torch gave."""
    torch = _torch()
    starts: list[int] = []
    slots: list[int] = []  # a container's place in the torchinfo layout, taken when it is entered
    counts: Counter[str] = Counter()
    depth = 0
    for event in run.events:
        if event[0] == "enter":
            module = event[1]
            if depth == 0:
                starts.append(len(ctx.rows))
                slots.append(-1 if run.is_leaf(module) else ctx.open_group())
            if run.is_leaf(module) or depth:
                depth += 1
            continue
        if event[0] == "exit":
            module, args, output = event[1], event[2], event[3]
            if depth:
                depth -= 1
                if depth:
                    continue
                _replay_module(run, module, args, output, ctx, known)
            else:
                start = starts.pop() if starts else len(ctx.rows)
                slot = slots.pop() if slots else -1
                name = run.names.get(id(module))
                if name and isinstance(output, torch.Tensor):
                    if slot >= 0:
                        ctx.close_group(slot, start, name, type(module).__name__, tuple(int(d) for d in output.shape))
                    _own_tensors(module, name, ctx)
                continue
            if starts:
                starts.pop()
                slots.pop()
            continue
        _, func, f_args, f_kwargs, out = event
        _replay_function(run, func, f_args, f_kwargs, out, ctx, known, counts)


def _own_tensors(module: Any, name: str, ctx: Any) -> None:
    """Rows for the parameters and buffers a module holds itself and its forward uses (``F.conv2d(x, self.weight)``)."""
    for table, category in ((module._parameters, "parameter"), (module._buffers, "buffer")):
        for key, tensor in table.items():
            if tensor is None or _uninitialised(tensor):
                continue
            row = _join(name, key)
            if any(r.name == row for r in ctx.rows):
                continue
            attr = _Attr(key, tuple(int(d) for d in tensor.shape), category, bool(tensor.requires_grad))
            _attr_row(ctx, row, attr)


def _replay_module(run: _Run, module: Any, args: Any, output: Any, ctx: Any, known: dict[int, Any]) -> None:
    torch = _torch()
    cls = type(module)
    name = run.names.get(id(module))
    made_in_forward = name is None
    if name is None:
        parent = next((run.names[id(m)] for m in reversed(run.stack) if id(m) in run.names), run.path)
        name = _join(parent, cls.__name__.lower())
    where = f"{name} ({cls.__name__})"
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    out_shape = tuple(int(d) for d in output.shape) if isinstance(output, torch.Tensor) else None
    spec = None
    if _rule_for(cls) is not None:
        spec = _apply_rule(_rule_for(cls), module, where, cls)  # type: ignore[arg-type]
    elif not isinstance(module, torch.jit.ScriptModule):
        spec = _leaf_spec(module, where)
    start = len(ctx.rows)
    if spec is not None and len(tensors) == 1 and len(args) == 1 and out_shape is not None:
        in_shape = tuple(int(d) for d in tensors[0].shape)
        shape, rf = spec._plan((in_shape, known.get(id(tensors[0]))), ctx, name)
        if tuple(shape) != out_shape:
            raise SpecError(
                f"{where}: convcalc's rule gives {tuple(shape)} but torch gives {out_shape}; convcalc cannot "
                f"plan this call. Received: input_shape={in_shape}"
            )
        known[id(output)] = rf
    else:
        macs_layers = [m for m in module.modules() if _mac_layer(m)]
        if macs_layers or cls.__name__ in ("LSTM", "GRU", "RNN", "MultiheadAttention", "Transformer"):
            raise SpecError(
                f"{where}: convcalc has no rule for this layer's multiply-accumulates as torch runs it here "
                f"(a {'TorchScript module' if isinstance(module, torch.jit.ScriptModule) else 'layer'} holding "
                f"{type(macs_layers[0]).__name__ if macs_layers else cls.__name__}), so its MACs would be unknown. "
                f"Register a rule: convcalc.register({cls.__name__}, lambda module: convcalc.nn.Sequential(...)). "
                f"Received: module={cls.__name__}"
            )
        in_shape = tuple(int(d) for d in tensors[0].shape) if tensors else ()
        _book_leaf(ctx, module, run)
        value = _from_meta(output, known, where)
        first = _leaves((value,))
        ctx.add_row(name, cls.__name__, in_shape, first[0].shape if first else ())
    if made_in_forward:  # a module made in forward: its tensors are not the model's
        for j in range(start, len(ctx.rows)):
            ctx.rows[j] = dataclasses.replace(ctx.rows[j], trainable=0, non_trainable=0, buffers=0)


def _mac_layer(module: Any) -> bool:
    name = getattr(module, "original_name", type(module).__name__)
    return any(part in name for part in ("Conv", "Linear", "Bilinear", "LSTM", "GRU", "RNN", "Attention"))


def _book_leaf(ctx: Any, module: Any, run: _Run) -> None:
    """Make the book count the tensors of a module read as one layer only here (a TorchScript module)."""
    book = getattr(ctx.owner, "__self__", None)
    if isinstance(book, _Book):
        rel = run.names.get(id(module), "")
        original = book._walk(rel)[0] if rel else None
        if original is not None:
            book.leaves.add(id(original))
            book.found.pop(rel, None)


def _replay_function(
    run: _Run,
    func: Any,
    f_args: Any,
    f_kwargs: dict[str, Any],
    out: Any,
    ctx: Any,
    known: dict[int, Any],
    counts: Counter[str],
) -> None:
    torch = _torch()
    raw = getattr(func, "__name__", "") or str(func)
    kind = _canonical(raw.strip("_") if raw.startswith("__") and raw not in ("__getitem__",) else raw)
    kind = {"getitem": "getitem", "get": "", "set": ""}.get(kind, kind)
    if not kind:
        return
    owner = run.names.get(id(run.stack[-1])) if run.stack else run.path
    counts[_join(owner or "", kind)] += 1
    n = counts[_join(owner or "", kind)]
    name = _join(owner or "", kind if n == 1 else f"{kind}_{n - 1}")
    where = f"{name} ({kind})"

    def shaped(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return _Tensor(
                tuple(int(d) for d in value.shape), known.get(id(value)), isinstance(value, torch.nn.Parameter)
            )
        if isinstance(value, torch.Size):
            return tuple(int(d) for d in value)
        if isinstance(value, (tuple, list)):
            return tuple(shaped(v) for v in value)
        if isinstance(value, (torch.dtype, torch.device)):
            return _Opaque(str(value))
        return value

    expected = _from_meta(out, {}, where)
    handler = _HANDLERS.get(kind)
    if handler is not None:
        start = len(ctx.rows)
        try:
            value = handler(_Call(ctx, name, kind), shaped(tuple(f_args)), {k: shaped(v) for k, v in f_kwargs.items()})
        except ConvCalcError:
            del ctx.rows[start:]
            value = None
        if value is not None and _shapes_of(value) == _shapes_of(expected):
            for meta_t, planned in zip(_flat_tensors(out), _leaves((value,)), strict=False):
                known[id(meta_t)] = planned.rf
            return
        del ctx.rows[start:]
    if kind in _MAC_FUNCTIONS:
        raise SpecError(
            f"{where}: convcalc has no rule for {kind} called this way, so its multiply-accumulates would be "
            f"unknown; write it as a torch.nn layer or register a rule for the module. Received: op={raw}"
        )
    first = _leaves((expected,))
    inputs = [a for a in _flat_tensors(tuple(f_args)) if not isinstance(a, torch.nn.Parameter)]
    if first:
        in_shape = tuple(int(d) for d in inputs[0].shape) if inputs else ()
        _Call(ctx, name, kind).row(in_shape, _Tensor(first[0].shape))


def _flat_tensors(value: Any) -> list[Any]:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_tensors(v)]
    return []


def _shapes_of(value: Any) -> Any:
    if isinstance(value, _Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_shapes_of(v) for v in value)
    return None
