"""``to_torch``: the torch module a ``convcalc.nn`` model describes, and the torch containers it is built
from (``AddBranches``, ``ConcatBranches``, ``TracedGraph``), made on first use (see ``__getattr__``)."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections import OrderedDict
from typing import Any

from convcalc._args import received
from convcalc._errors import SpecError
from convcalc.torch.graph import _spec_types
from convcalc.torch.nodes import Node, _join, _resolve_function, _substitute, _torch
from convcalc.torch.ops_query import _CONVERSIONS

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
                elif node.kind in _DECISIONS:
                    env[node.name] = _DECISIONS[node.kind](*args)
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


def _one_tensor_in_sequence(spec: Any, path: str, last: bool) -> None:
    """A layer of a Sequential whose torch module takes several tensors (attention's query, key and value), or
    returns several (an LSTM's ``(output, (h, c))``) to a layer after it: convcalc's Sequential hands its first
    output on, where torch's hands the tuple on whole (or calls it with one tensor), so no torch.nn.Sequential
    runs as planned. (Last, it returns the tuple, whose first output is the plan's.)"""
    from convcalc.nn.sequence import _MultiOutput

    kind = type(spec).__name__
    takes_several = kind in ("MultiheadAttention", "Bilinear") or kind.startswith("MaxUnpool")
    if isinstance(spec, _MultiOutput) and kind not in ("GRUCell", "RNNCell") and (takes_several or not last):
        raise SpecError(
            f"{path} ({kind}): torch's {kind} inside a torch.nn.Sequential would be called with one tensor and hand "
            f"on all it returns, where convcalc's Sequential passes its first output on; build it in a module whose "
            f"forward calls it (out, _ = self.rnn(x)). Received: layer={kind}"
        )


def _build(spec: Any, path: str) -> Any:
    torch = _torch()
    from convcalc import nn
    from convcalc.nn._base import _is_default

    types = _spec_types()
    if isinstance(spec, types.Parametrized):  # the layer, as torch holds it before its parametrizations
        return _build(spec.layer, path)
    kind = type(spec).__name__
    where = f"{path or '<model>'} ({kind})"
    if isinstance(spec, nn.Sequential):
        children = list(spec.children())
        for j, (name, m) in enumerate(children):
            _one_tensor_in_sequence(m, _join(path, name), last=j == len(children) - 1)
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
    # a keyword-only argument at its default is left to torch's own default: a torch older than the argument
    # (the norms' bias=) builds the layer as it would have; device and dtype go on where given
    kwargs = {
        f.name: getattr(spec, f.name)
        for f in dataclasses.fields(spec)
        if f.init and not (f.kw_only and _is_default(getattr(spec, f.name), f.default))
    }
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


def _number(value: Any, taken: Any, kind: str, *_: Any) -> Any:
    """A number the forward asked of a size (``int(x.size(0))``, how many items ``a, b = x.split(4)`` unpacks),
    which the graph holds as the number it was read with: other sizes that give another are refused."""
    number = _CONVERSIONS[kind](value)
    if number != taken:
        raise RuntimeError(
            f"the forward was read where a number it asks of a size is {taken}, and these sizes make it {number}; "
            "plan the torch module itself"
        )
    return number


def _guard(condition: Any, taken: bool, assertion: bool | str, module_type: str, before: Any, *message: Any) -> None:
    """A condition on sizes the forward was read with: an assert that fails raises as Python's would, and so does
    a branch into a ``raise`` (``assertion``: what it raises); a branch these sizes take the other way is one the
    rebuilt forward does not hold."""
    holds = bool(condition)
    if assertion is True and not holds:
        raise AssertionError("".join(str(part) for part in message[0]) if message else "")
    if assertion and holds is not taken:
        raise RuntimeError(f"{module_type}: its forward raises {assertion} at these sizes ({condition})")
    if holds is not taken:
        raise RuntimeError(
            f"{module_type}: at these sizes the forward takes the other branch of a condition it was read with "
            f"({condition}); plan the torch module itself"
        )


#: the forward's decisions on sizes, run on the real sizes (``isinstance`` asked of a value gives nothing to use)
_DECISIONS: dict[str, Any] = {
    "size_number": _number,
    "shape_guard": _guard,
    "value_kind": lambda *_: None,
    "input_fixed": lambda *_: None,
}


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


def __getattr__(name: str) -> Any:
    if name in ("AddBranches", "ConcatBranches", "TracedGraph"):
        return getattr(_torch_types(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
