"""Plain, torch-free data read from a torch.fx graph (``Node``, ``Ref``), and the small helpers every module here shares.

Nothing here imports torch or another module of this package: it is the bottom of ``convcalc.torch``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from convcalc._errors import SpecError

# torch's dtypes of whole numbers that index another tensor by position (``str(dtype)``): such a tensor made
# from numbers or sizes keeps its values, which cannot wrap around at these widths for any size. int8 and int16
# do not index, uint8 indexes as a mask (as bool does), and both wrap around.
INTEGER_DTYPES = frozenset({"torch.int32", "torch.int64", "torch.int", "torch.long"})


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - the test environment has torch
        raise SpecError("the torch bridge needs PyTorch: pip install torch. Received: torch=None") from None
    return torch


# A condition a traced forward asked of the sizes, as taken (bool), or a number it asked of a size
# (``int(x.size(0))``), in the order the forward asks them: a forward is read for one tuple of these.
Decision = bool | int | float


def _join(path: str, name: str) -> str:
    """``name`` under ``path``; the module itself where ``name`` is empty (a forward that calls its own module)."""
    return f"{path}.{name}" if path and name else path or name


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
class ListIndex:
    """A list used alone as an index (``x[[0, 2]]``): it picks along the first axis, which a tuple does not."""

    items: tuple[Any, ...]


class ListValue(tuple[Any, ...]):
    """A list a forward builds or is given (``feats = [x]``), held as a tuple that the forward's ``isinstance(v,
    list)`` still tells from one (``torch.cat(feats, 1) if isinstance(feats, list) else feats``)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Dict:
    """A dict built in a forward (``{"logits": x, "boxes": y}``), frozen as its ``(key, value)`` pairs;
    ``fields``: where it is a dataclass too (Hugging Face's ``ModelOutput``), the names of its fields."""

    items: tuple[tuple[Any, Any], ...]
    fields: tuple[str, ...] | None = None


class Outputs(dict):  # type: ignore[type-arg]
    """A forward's outputs returned as a dataclass that is a dict (Hugging Face's ``ModelOutput``), read as that
    class reads: by key, by position among the fields that hold a value (``outputs[0]``, ``outputs[2:]``: a field
    traced as a value that turns out None is no place), and
    by attribute, a field left out being None (``outputs.hidden_states``)."""

    fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: Any, fields: tuple[str, ...]) -> Outputs:
        """The outputs of ``(key, value)`` pairs, of a class with these fields."""
        made = cls(items)
        made.fields = fields
        return made

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return super().__getitem__(name)
        if name in self.fields:
            return None
        raise AttributeError(name)

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(v for v in self.values() if v is not None)


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a traced ``forward``.

    ``op`` is torch.fx's opcode (``placeholder``, ``call_module``,
    ``call_function``, ``call_method``, ``get_attr``, ``output``); ``target`` the
    child's path, the function as ``"module:name"`` or the method's name;
    ``kind`` the operation convcalc plans (``"add"``, ``"view"``, ``"max_pool2d"``);
    ``functional`` whether the function is one of ``torch.nn.functional``'s own
    Python functions, which order and check their arguments apart from torch's
    builtin of the same name (``F.embedding(ids, weight)``, ``torch.embedding(weight, ids)``).
    """

    name: str
    op: str
    target: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    kind: str = ""
    functional: bool = False
    caught: bool = False  # a child's call inside a ``try`` or a ``with`` of its caller's (see ``bytecode.CAUGHT``)


@dataclass(frozen=True, slots=True)
class _Attr:
    target: str
    shape: tuple[int, ...]
    category: str  # "parameter", "buffer" or "constant"
    trainable: bool
    contiguous: bool = True  # laid out contiguously (a buffer may be a transposed view)
    integral: bool = False  # holds integers (an index buffer), not floats or bools
    # of integers: the least and the greatest of its values, the values themselves (row-major, up to ``_KEPT``) and
    # where they are ``first + step * i`` along one axis, ``(axis, first, step)``: see ``integer_values``
    span: tuple[int, int] | None = None
    values: tuple[int, ...] | None = None
    ramp: tuple[int, int, int] | None = None


# the most values of a module's integer tensor the plan keeps, which a part of it taken by numbers is bounded by
_KEPT = 1 << 14


def integer_values(
    tensor: Any,
) -> tuple[tuple[int, int] | None, tuple[int, ...] | None, tuple[int, int, int] | None]:
    """What the plan knows of the values of a tensor of integers (int32 or int64) the model holds (an index
    buffer, HF's ``position_ids``) or a forward makes from numbers: its least and greatest value, its values
    (row-major, where there are at most ``_KEPT``), and ``(axis, first, step)`` where each value is ``first +
    step * i`` at position ``i`` of that axis, whatever its position on the others (``arange(32).expand(1, -1)``),
    whose parts taken by sizes (``[:, :t]``) have bounds of their own. None for an empty tensor or one whose
    values are not there (on the meta device)."""
    torch = _torch()
    if tensor.numel() == 0 or tensor.device.type == "meta" or str(tensor.dtype) not in INTEGER_DTYPES:
        return None, None, None
    data = tensor.detach().to("cpu", torch.int64)
    span = (int(data.min()), int(data.max()))
    values = tuple(int(v) for v in data.flatten().tolist()) if data.numel() <= _KEPT else None
    ramp = None
    for axis, size in enumerate(data.shape):
        first = int(data.flatten()[0])
        step = int(data.select(axis, 1).flatten()[0]) - first if size > 1 else 0
        along = [1] * data.dim()
        along[axis] = size
        if torch.equal(data, (first + step * torch.arange(size)).view(along).expand(data.shape)):
            ramp = (axis, first, step)
            break
    return span, values, ramp


def _node_repr(node: Node) -> str:
    def show(value: Any) -> str:
        if isinstance(value, Ref):
            return value.name
        if isinstance(value, tuple):
            return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        if isinstance(value, _Slice):
            parts = ["" if v is None else show(v) for v in (value.start, value.stop, value.step)]
            return ":".join(parts if parts[2] else parts[:2])
        if isinstance(value, _Dict):
            return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items) + "}"
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


def child_module(parent: Any, target: str) -> Any:
    """The submodule of ``parent`` at the dotted path ``target``, or None (no parent, or none there)."""
    if parent is None:
        return None
    # by the children each module registers (``get_submodule`` does the same, and TorchScript refuses it)
    module = parent
    for name in target.split(".") if target else ():
        children = getattr(module, "_modules", {})
        if name not in children or children[name] is None:  # (TorchScript's dict of children has no .get)
            return None
        module = children[name]
    return module


def _resolve_function(target: str) -> Any:
    import importlib

    module_name, _, name = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in name.split("."):
        value = getattr(value, part)
    return value


_PLAIN = frozenset({int, float, str, bool, type(None)})


def _substitute(value: Any, env: dict[str, Any]) -> Any:
    # exact types first: every plan resolves each node's arguments, so this is on the hot path
    kind = type(value)
    if kind is Ref:
        return env[value.name]
    if kind is tuple:
        return tuple([_substitute(v, env) for v in value])
    if kind is ListValue:
        return ListValue([_substitute(v, env) for v in value])
    if kind in _PLAIN:
        return value
    if isinstance(value, tuple):
        return tuple(_substitute(v, env) for v in value)
    if isinstance(value, _Slice):
        parts = (_substitute(v, env) for v in (value.start, value.stop, value.step))
        return slice(*parts)
    if isinstance(value, _Dict):
        if value.fields is None:
            return {k: _substitute(v, env) for k, v in value.items}
        return Outputs.of(((k, _substitute(v, env)) for k, v in value.items), value.fields)
    return value


def _refs(raw: Any) -> Iterator[Ref]:
    """The names a node's raw argument reads, inside tuples, lists, dicts and slices too."""
    if type(raw) is Ref:
        yield raw
    elif isinstance(raw, tuple):  # tuple and ListValue
        for item in raw:
            yield from _refs(item)
    elif isinstance(raw, _Dict):
        for _, item in raw.items:
            yield from _refs(item)
    elif isinstance(raw, dict):
        for item in raw.values():
            yield from _refs(item)
    elif isinstance(raw, _Slice):
        yield from _refs((raw.start, raw.stop, raw.step))


@functools.lru_cache(maxsize=256)
def _forward_parameters(cls: Any) -> tuple[Any, ...]:
    """The parameters of a torch module class's forward, ``self`` first (none for a forward without a signature)."""
    import inspect

    try:
        return tuple(inspect.signature(cls.forward).parameters.values())
    except (TypeError, ValueError, AttributeError):  # a forward without a signature (TorchScript's is a descriptor)
        return ()


def takes_any_keyword(cls: Any) -> bool:
    """Whether a torch module class's forward takes ``**kwargs`` (its wrapped forward's, through a wrapper)."""
    return any(p.kind is p.VAR_KEYWORD for p in _forward_parameters(cls))


def _input_name(cls: Any) -> str | None:
    """The name of a torch layer's first input (``input`` for torch's layers), or None."""
    parameters = _forward_parameters(cls)
    return parameters[1].name if len(parameters) > 1 else None


def keyword_only(cls: Any) -> frozenset[str]:
    """The inputs a torch module's forward takes by name only (``forward(self, x, *, mask=None)``), which no input
    given by position fills (torch raises TypeError for one too many)."""
    return frozenset(p.name for p in _forward_parameters(cls) if p.kind is p.KEYWORD_ONLY)


def integer_input(name: Any) -> bool:
    """Whether a forward's input is taken as integers by its name: token or position ids (``input_ids``,
    ``position_ids``, Hugging Face's names), class labels (``labels``); any other input is a float tensor."""
    return isinstance(name, str) and (name in ("ids", "label", "labels") or name.endswith(("_ids", "_labels")))


def integer_leaves(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], is_tensor: Any) -> frozenset[int]:
    """The places, among the tensors of a call's inputs in order (by position, then by name, into lists and
    dicts), of those its forward's parameter names take as integers (see ``integer_input``)."""
    cls: Any = type(module)
    parameters = [p for p in _forward_parameters(cls)[1:] if p.kind <= p.POSITIONAL_OR_KEYWORD]
    names = [parameters[j].name if j < len(parameters) else None for j in range(len(args))] + list(kwargs)
    found: list[bool] = []

    def walk(value: Any, integral: bool) -> None:
        if is_tensor(value):
            found.append(integral)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item, integral)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, integral)

    for name, value in zip(names, [*args, *kwargs.values()], strict=True):
        walk(value, integer_input(name))
    return frozenset(j for j, integral in enumerate(found) if integral)


def _freeze(value: Any) -> Any:
    """An fx node's argument as plain data: a node as a ``Ref``, lists, tuples, slices and dicts of them."""
    import torch.fx

    if isinstance(value, torch.fx.Node):
        return Ref(value.name)
    if isinstance(value, list):
        return ListValue(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, slice):
        return _Slice(_freeze(value.start), _freeze(value.stop), _freeze(value.step))
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise SpecError(f"convcalc cannot follow a dict with these keys. Received: argument={value!r}")
        return _Dict(tuple((k, _freeze(v)) for k, v in value.items()))
    return value


def one_for_all(value: Any) -> Any:
    """A window argument of one item in a tuple or list (``stride=[2]``, ``nn.MaxPool2d((3,))``), which torch takes
    for every axis, as that item; any other value as it is."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value


# the augmented assignments fx records (``x += y``, ``m &= k``: see the tracer): each is its operation, in place
_IN_PLACE_OPERATORS = frozenset(
    f"i{n}" for n in ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift", "rshift"]
)

_ALIASES = {
    "invert": "bitwise_not",  # ~mask
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
    "ndimension": "dim",
}


def _canonical(name: str) -> str:
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variants: relu_, add_, mul_
    elif name in _IN_PLACE_OPERATORS or name == "imatmul":  # (``operator.imatmul`` of tensors: ``a @ b``)
        name = name[1:]
    return _ALIASES.get(name, name)


def _is_inplace(node: Node) -> bool:
    """``x += y``, ``x.add_(y)``, ``torch.clamp_(x, 0)``: the result is written into the first operand, so it
    keeps that shape."""
    name = node.target.rpartition(":")[2]
    if node.target.startswith("operator:"):  # (``operator.and_`` is ``x & y``, out of place)
        return name in _IN_PLACE_OPERATORS
    return node.op in ("call_method", "call_function") and name.endswith("_") and not name.startswith("_")
