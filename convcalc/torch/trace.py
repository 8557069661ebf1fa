"""Reading one torch module: the rules :func:`register` adds, the parameter book, the layers that map to a
spec (``Elementwise`` for shape-keeping ones), torch.fx tracing into :class:`~convcalc.torch.nodes.Node` s, and
the keys traced forwards are cached under.

Whole models are read by :mod:`convcalc.torch.read`, which builds on this module.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import BuiltinFunctionType, FunctionType
from typing import Any

from convcalc._args import received
from convcalc._errors import ConvCalcError, SpecError, checked_call
from convcalc.torch.devices import asked_device, unreachable
from convcalc.torch.keywords import bound_keywords, is_method
from convcalc.torch.nodes import (
    INTEGER_DTYPES,
    ListIndex,
    Node,
    Ref,
    _Attr,
    _Dict,
    _freeze,
    _join,
    _torch,
    integer_values,
    one_for_all,
)
from convcalc.torch.nodes import (
    _canonical as _canonical,  # (read by torch's pass too)
)
from convcalc.torch.ops import _HANDLERS
from convcalc.torch.tracer import (
    _SCRIPTED,
    drawn_number,
    input_fixed,
    shape_guard,
    size_number,
    tensor_constant,
    value_kind,
)

# --------------------------------------------------------------------------- #
# Rules for module types from_torch cannot read by itself
# --------------------------------------------------------------------------- #

_RULES: dict[type, Callable[[Any], Any]] = {}


@checked_call
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
    ...         if x.shape[-1] % 2:  # control flow on a size: read the way the sizes take it
    ...             x = x[..., :-1, :-1]
    ...         return torch.nn.functional.avg_pool2d(x, 2)
    >>> [(r.name, r.source) for r in convcalc.plan(Halve(), (1, 3, 7, 7)).rows]
    [('getitem_1', 'rule'), ('avg_pool2d', 'rule')]
    >>> [(r.name, r.source) for r in convcalc.plan(Halve(), (1, 3, 8, 8)).rows]
    [('avg_pool2d', 'rule')]
    >>> convcalc.plan(Halve(), (1, 3, 8, convcalc.symbols("W")))
    Traceback (most recent call last):
    ...
    convcalc.SpecError: <model> (Halve): its forward branches on a condition of the sizes that depends on the symbols (W - 2*floor(W/2)), and convcalc cannot read both branches to one plan; plan with numbers, or once per residue of W modulo 2 (W = 2*k - 1 and W = 2*k, with k = convcalc.symbols("k")). Received: condition=W - 2*floor(W/2)
    >>> k = convcalc.symbols("k")
    >>> [convcalc.plan(Halve(), (1, 3, 8, w)).output_shape for w in (2 * k - 1, 2 * k)]
    [(1, 3, 3, k - 1), (1, 3, 4, k)]
    >>> @convcalc.register(Halve)
    ... def halve(module):
    ...     return nn.AvgPool2d(2)
    >>> convcalc.plan(Halve(), (1, 3, 8, 8)).output_shape
    (1, 3, 4, 4)
    >>> convcalc.register(Halve, "not callable")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: a rule must be callable: rule(module) returns a convcalc.nn model. Received: rule='not callable'
    >>> from convcalc.torch.trace import _RULES
    >>> _ = _RULES.pop(Halve)
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


_MISSING = object()
_Tensors = tuple[tuple[Any, int, bool, bool], ...]


def _held_at(module: Any, rest: list[str]) -> tuple[Any, bool]:
    """The parameter or buffer at the dotted path ``rest`` inside ``module`` (``parametrizations.weight.original``)
    and whether it is a buffer; (None, False) where none is."""
    for part in rest[:-1]:
        module = _table(vars(module).get("_modules", {})).get(part)
        if module is None:
            return None, False
    if not rest:
        return None, False
    tensor = _table(module._parameters).get(rest[-1])
    if tensor is not None and not _uninitialised(tensor):
        return tensor, False
    tensor = _table(module._buffers).get(rest[-1])
    return (tensor, True) if tensor is not None and not _uninitialised(tensor) else (None, False)


def _table(table: Any) -> Any:
    """A module's table of children, parameters or buffers as a dict (a TorchScript module's is a wrapper with
    ``items()`` only)."""
    return table if isinstance(table, dict) else dict(table.items())


class _Book:
    """Which torch module (and which tensors) each planned path is: the planner's ``Context.owner``."""

    def __init__(self, root: Any, reader: Any) -> None:  # reader: the read.py _Reader this book serves
        self.root = root
        self.leaves, self.ruled = reader.leaves, reader.ruled
        self.names = {id(m): name for name, m in root.named_modules()}  # a module's path: its first name
        self.found: dict[str, Any] = {}
        self.held: dict[int, _Tensors | None] = {}
        self.meta_copy: Any = None  # the whole model's, made once per plan where torch's pass runs a part of it

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
        if ident in self.ruled or (ident in self.leaves and not rest):
            tensors = self.tensors(module)
            if tensors is None:  # a lazy layer not yet run: its spec's counts stand, and hold what it made so far
                tensors, described = tuple(t for t in self._all(module) if t is not None), True
            else:
                described = ident in self.ruled
            return (".".join([name, *rest]) if name else ".".join(rest)), tensors, described
        if ident in self.leaves or len(rest) == 1:
            # a parameter or buffer a module's forward reads (a row of its own), or a tensor of a layer read by a
            # forward beside the layer's call (``F.linear(h, self.l.weight)``, the weight a parametrization of ``l``
            # computes from its original): counted once, with the layer's
            tensor, is_buffer = _held_at(module, rest)
            if tensor is not None:
                joined = ".".join([name, *rest]) if name else ".".join(rest)
                return joined, ((id(tensor), math.prod(tensor.shape), bool(tensor.requires_grad), is_buffer),), False
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


# Traced forwards by _trace_key, across conversions (a key holds the code and everything plain the trace can read),
# oldest first. A forward convcalc cannot read is kept too, so it is not traced again on every plan: the reason
# (a string) goes to the fallback.
_TRACED: dict[tuple[Any, ...], tuple[Node, ...] | str] = {}
_TRACED_MAX = 512


def _remember(table: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """Keep ``value`` in one of the reader's tables, the oldest entries dropped beyond _TRACED_MAX."""
    table[key] = value
    while len(table) > _TRACED_MAX:
        del table[next(iter(table))]


# The convcalc.nn specs made for torch layers, by spec class and plain constructor arguments (see _leaf_spec).
_SPECS: dict[tuple[Any, ...], Any] = {}

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
    both calls after the first name); a function held as an attribute
    (``self.activation = F.relu``) counts by identity; an attribute that is not
    plain data (a dict, an object) anywhere below disables the sharing for that
    module.
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


_SCALARS = frozenset({type(None), bool, int, float, str})


def _plain_value(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:  # the common case first: every plan computes the key of every module
        return (kind, value)
    if isinstance(value, (bool, int, float, str)):
        return (type(value), value)
    if isinstance(value, (FunctionType, BuiltinFunctionType)):  # ``self.activation = F.relu``: by identity
        return (FunctionType, value)
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


# Methods of a torch layer a subclass may override without changing what its forward computes.
_HARMLESS_OVERRIDES = frozenset(
    {
        "__init__",
        "__repr__",
        "__setstate__",
        "__getstate__",
        "extra_repr",
        "reset_parameters",
        "_reset_parameters",
        "reset_running_stats",
        "_load_from_state_dict",
        "_save_to_state_dict",
        "_get_name",
        "__str__",
        "__dir__",
        "__deepcopy__",
        "__reduce__",
        "__reduce_ex__",
        "train",
        "eval",
        "_apply",
        "to",
        "cuda",
        "cpu",
        "type",
        "float",
        "double",
        "half",
        "bfloat16",
        "zero_grad",
        "requires_grad_",
        "share_memory",
    }
)


def _torch_base(cls: type) -> type | None:
    """The torch.nn class a module type is, or None where a subclass changes what it computes: its ``forward``
    overridden, or a method the forward calls (``_conv_forward``, ``_output_padding``, ``_check_input_dim``):
    such a module's forward is read instead."""
    mro = cls.__mro__
    for j, base in enumerate(mro):
        if base.__module__.startswith("torch.nn.modules.") and base.__name__[0] != "_":
            for klass in mro[:j]:
                for name, value in vars(klass).items():
                    if (
                        name not in _HARMLESS_OVERRIDES
                        and (callable(value) or isinstance(value, (staticmethod, classmethod)))
                        and callable(getattr(base, name, None))
                    ):
                        return None
            return base
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


def _expected_shapes(module: Any, name: str) -> dict[str, tuple[int, ...]]:
    """The shapes a torch layer's own tensors have for its size attributes (``out_channels``, ``in_features``,
    ``embedding_dim``, ``num_features``...), for the layers whose tensors a user replaces (pruning, surgery)."""
    m = module
    if name.startswith(("Conv", "LazyConv")) and hasattr(m, "kernel_size") and isinstance(m.groups, int):
        k = tuple(m.kernel_size)
        if getattr(m, "transposed", False):
            return {"weight": (m.in_channels, m.out_channels // m.groups, *k), "bias": (m.out_channels,)}
        return {"weight": (m.out_channels, m.in_channels // m.groups, *k), "bias": (m.out_channels,)}
    if name in ("Linear", "LazyLinear"):
        return {"weight": (m.out_features, m.in_features), "bias": (m.out_features,)}
    if name == "Bilinear":
        return {"weight": (m.out_features, m.in1_features, m.in2_features), "bias": (m.out_features,)}
    if name in ("Embedding", "EmbeddingBag"):
        return {"weight": (m.num_embeddings, m.embedding_dim)}
    if name.startswith(("BatchNorm", "InstanceNorm", "SyncBatchNorm")) and hasattr(m, "num_features"):
        return dict.fromkeys(("weight", "bias", "running_mean", "running_var"), (m.num_features,))
    if name == "GroupNorm":
        return dict.fromkeys(("weight", "bias"), (m.num_channels,))
    if name in ("LayerNorm", "RMSNorm") and m.normalized_shape is not None:
        return dict.fromkeys(("weight", "bias"), tuple(m.normalized_shape))
    if name == "PReLU":
        return {"weight": (m.num_parameters,)}
    return {}


def _scripted_base(module: Any) -> type | None:
    """The torch.nn class a TorchScript module was compiled from, where it is one of torch's own: its type's
    qualified name is ``__torch__.torch.nn.modules.<file>.<class>`` (a ``___torch_mangle_N`` between for each
    variant TorchScript makes), and its attributes are the class's (a user's module compiled is
    ``__torch__.<their module>.<class>``, whose forward convcalc cannot read). A traced module keeps no
    attributes: None."""
    torch = _torch()
    if not isinstance(module, torch.jit.RecursiveScriptModule) or isinstance(module, torch.jit.TopLevelTracedModule):
        return None
    try:
        parts = [p for p in module._c._type().qualified_name().split(".") if not p.startswith("___torch_mangle")]
    except Exception:  # a module TorchScript gives no type
        return None
    if len(parts) != 6 or parts[:4] != ["__torch__", "torch", "nn", "modules"]:
        return None
    base = getattr(torch.nn, parts[-1], None)
    return base if isinstance(base, type) and base.__module__ == ".".join(parts[1:5]) else None


def _stale(module: Any, name: str) -> bool:
    """Whether a tensor the layer holds has another shape than its size attributes give (``conv.weight =
    nn.Parameter(w[:6])`` leaves ``out_channels`` at 8): torch computes with the tensor, so the forward is read."""
    expected = _expected_shapes(module, name)
    if not expected:
        return False
    own = {**module._parameters, **module._buffers}
    for key, shape in expected.items():
        tensor = own.get(key)
        if tensor is not None and not _is_uninitialized(tensor) and tuple(tensor.shape) != shape:
            return True
    return False


def _is_uninitialized(tensor: Any) -> bool:
    from torch.nn.parameter import UninitializedTensorMixin  # type: ignore[attr-defined]

    return isinstance(tensor, UninitializedTensorMixin)


_WINDOW_ARGS = frozenset({"kernel_size", "stride", "padding", "dilation", "output_padding"})


def _leaf_spec(module: Any, where: str) -> Any:
    from convcalc import nn

    base = _torch_base(type(module)) or _scripted_base(module)
    if base is None or _stale(module, base.__name__):
        return None
    name = base.__name__
    if name in _CHANNEL_DROPOUTS and module.training:  # in training torch checks its input's dims: read in its mode
        return _elementwise(module, base)
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
            elif f.name in _WINDOW_ARGS and (f.name != "kernel_size" or "weight" not in module._parameters):
                # ``nn.Conv2d(3, 8, 3, stride=(2,))``, ``nn.MaxPool2d((3,))``: torch takes one item for every axis
                # (not a convolution's kernel, whose weight it shapes: ``nn.Conv2d(3, 8, (3,))`` fails in torch)
                value = one_for_all(value)
            kwargs[f.name] = value
        kwargs.update(_TORCH_ONLY_ARGS.get(name, lambda m: {})(module))
        # a spec is a function of its arguments: one made for the same plain arguments (types included, so
        # True is not 1) is the same spec, and its checks need not run again
        plain = tuple((k, _plain_value(v)) for k, v in kwargs.items())
        # a batch or instance norm in training mode normalises with the statistics of the batch or of each
        # sample, whatever it tracks (torch checks that there are values enough for them)
        statistics = bool(module.training) and "_batch_statistics" in spec_cls.__dataclass_fields__
        key = None if any(v is _NOT_PLAIN for _, v in plain) else (spec_cls, plain, statistics)
        spec = _SPECS.get(key) if key is not None else None
        if spec is None:
            try:
                spec = spec_cls(**kwargs)
            except ConvCalcError as exc:
                raise type(exc)(f"{where}: {exc}") from None
            if statistics:
                object.__setattr__(spec, "_batch_statistics", True)
            if key is not None:
                _remember(_SPECS, key, spec)
        return spec
    if name in _SHAPE_KEEPING:
        return _elementwise(module, base)
    return None


@functools.cache
def _elementwise_type() -> Any:
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
        training: bool = False  # the module's mode, which some of torch's checks depend on

        @property
        def kind(self) -> str:
            return self.torch_kind

        def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
            shape, rf = flow
            from convcalc._plan import across_rf
            from convcalc.nn.elementwise import softmax_dim
            from convcalc.torch.ops_norm import module_checks
            from convcalc.torch.values import _Call

            arguments = {**dict(self.torch_args), "training": self.training}
            module_checks(_Call(ctx, path or "<model>", self.kind), self.kind, arguments, tuple(shape))
            if self.kind in ("LogSoftmax", "Softmin") and shape:  # each output reads the whole of its dim
                rf = across_rf(rf, len(shape), (softmax_dim(arguments.get("dim"), len(shape)),))
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

    Elementwise.__module__ = __name__
    Elementwise.__qualname__ = Elementwise.__name__
    return Elementwise


# the dropouts of whole channels, whose input torch checks in training only
_CHANNEL_DROPOUTS = frozenset({"Dropout2d", "Dropout3d", "FeatureAlphaDropout"})


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
    return _elementwise_type()(base.__name__, trainable, non_trainable, buffers, args, bool(module.training))


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
    dense = not isinstance(value, torch.Tensor) or bool(value.is_contiguous())
    # whole numbers that index by position: int32 and int64 (uint8 indexes as a mask, int8 and int16 not at all)
    integral = isinstance(value, torch.Tensor) and str(value.dtype) in INTEGER_DTYPES
    # its values are the model's, there when it is planned: their bounds check it as an index
    known = integer_values(value) if integral else (None, None, None)
    if isinstance(value, torch.nn.Parameter):
        return _Attr(target, shape, "parameter", bool(value.requires_grad), dense, integral, *known)
    if name in dict(owner.named_buffers(recurse=False)):
        return _Attr(target, shape, "buffer", False, dense, integral, *known)
    return _Attr(target, shape, "constant", False, dense, integral, *known)


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
        if node.op != "call_module" or "." in node.target or node.target in chain or node.caught:
            return None  # (a call inside a ``try``: planned as a graph, which knows a ``raise`` there may be caught)
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
        ("torch._C._nn", torch._C._nn),  # F.logsigmoid is torch._C._nn.log_sigmoid
        ("torch._C._linalg", torch._C._linalg),  # torch.linalg.matmul is torch._C._linalg.linalg_matmul
        ("math", math),
    ]


# functions of torch's own namespaces that return (values, indices) where F's namesake returns the values only
_PAIRS_OF = {
    "torch": frozenset({"adaptive_max_pool1d"}),
    "torch._C._nn": frozenset({"adaptive_max_pool2d", "adaptive_max_pool3d"}),
}


def is_functional(function: Any) -> bool:
    """Whether ``function`` is one of ``torch.nn.functional``'s own Python functions (``F.embedding``), which order
    and check their arguments apart from torch's builtin of the same name (``torch.embedding``)."""
    return isinstance(function, FunctionType) and getattr(function, "__module__", None) == "torch.nn.functional"


def _node_of(fx_node: Any, where: str) -> Node:
    try:
        args = _freeze(fx_node.args)
        if fx_node.target in (operator.getitem, operator.setitem) and isinstance(fx_node.args[1], list):
            args = (args[0], ListIndex(args[1]), *args[2:])  # x[[0, 2]]: not x[0, 2]
        kwargs = tuple((k, _freeze(v)) for k, v in fx_node.kwargs.items())
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    op = fx_node.op
    # ``torch.zeros(n, device="cuda")``, ``y.cuda()``, ``y.to("cuda")`` where torch has no CUDA: torch raises (inside
    # a ``try``, torch's pass runs the forward as torch does, into its ``except``)
    device = asked_device(fx_node.target if op == "call_method" else None, fx_node.args, fx_node.kwargs)
    why = unreachable(device) if isinstance(device, (str, int, _torch().device)) else None
    if why is not None:
        raise SpecError(f"{where}: {fx_node.name} puts a tensor on {device!r}, where {why}")
    fields = fx_node.meta.get("convcalc_fields") if op == "output" else None
    if fields is not None and args and isinstance(args[0], _Dict):  # a ModelOutput returned (see the tracer)
        args = (_Dict(args[0].items, fields), *args[1:])
    if op in ("placeholder", "output", "call_module", "get_attr"):
        caught = bool(fx_node.meta.get("convcalc_caught"))
        return Node(fx_node.name, op, str(fx_node.target), args, kwargs, caught=caught)
    if op == "call_method":
        target = str(fx_node.target)
        kwargs = bound_keywords(kwargs, target, getattr(_torch().Tensor, target, None), where, fx_node.name)
        # ``x.unfold(dim, size, step)`` slides along one axis; ``F.unfold`` (im2col) shares only the name
        kind = "unfold_axis" if target == "unfold" else _canonical(target)
        if kind not in _HANDLERS or not is_method(target):
            raise _unsupported(where, f"the tensor method .{target}()", f"Tensor.{target}", fx_node)
        return Node(fx_node.name, op, target, args, kwargs, kind)
    function = fx_node.target
    if function is shape_guard:
        return Node(fx_node.name, op, "convcalc:shape_guard", args, kwargs, "shape_guard")
    if function is size_number:
        return Node(fx_node.name, op, "convcalc:size_number", args, kwargs, "size_number")
    if function is value_kind:
        return Node(fx_node.name, op, "convcalc:value_kind", args, kwargs, "value_kind")
    if function is input_fixed:
        return Node(fx_node.name, op, "convcalc:input_fixed", args, kwargs, "input_fixed")
    if function in (tensor_constant, drawn_number):
        return Node(fx_node.name, op, f"convcalc:{function.__name__}", args, kwargs, function.__name__)
    if function is _torch()._assert:  # torch._assert(condition, message): an assert fx can record
        condition, message = (*args, *dict(kwargs).values())[:2]
        module_type = where.rpartition("(")[2].rstrip(")")
        guard = (condition, True, True, module_type, (), _message_of(message, fx_node.graph))
        return Node(fx_node.name, op, "torch:_assert", guard, (), "shape_guard")
    if isinstance(function, _torch().jit.ScriptFunction):
        key = f"{function.qualified_name}@{id(function):x}"
        _SCRIPTED[key] = function
        return Node(fx_node.name, op, f"script:{key}", (key, *args), kwargs, "script_function")
    name = getattr(function, "__name__", "")
    if isinstance(function, (BuiltinFunctionType, FunctionType)):
        kwargs = bound_keywords(kwargs, name, function, where, fx_node.name)
    for label, namespace in _namespaces():
        if name and getattr(namespace, name, None) is function:
            if label == "math":
                return Node(fx_node.name, op, f"{label}:{name}", args, kwargs, f"math.{name}")
            kind = _canonical(name)
            if kind in _PAIRS_OF.get(label, ()):  # torch's own adaptive max pools return (values, indices), as
                kind = f"{kind}_with_indices"  # F's *_with_indices do, where F's of the same name returns one
            if kind not in _HANDLERS:
                raise _unsupported(where, f"{label}.{name}", f"{label}.{name}", fx_node)
            return Node(fx_node.name, op, f"{label}:{name}", args, kwargs, kind, is_functional(function))
    what = getattr(function, "__qualname__", repr(function))
    raise _unsupported(where, what, what, fx_node)


def _message_of(message: Any, graph: Any) -> tuple[Any, ...]:
    """A message formatted while tracing (``f"expected 224 but got {h}!"`` shows ``Proxy(getitem_2)`` for ``h``)
    as parts that the plan joins: text, and a reference to each traced value it names, shown as planned."""
    if not isinstance(message, str):
        return ()
    nodes = {node.name for node in graph.nodes}
    parts: list[Any] = []
    for i, piece in enumerate(re.split(r"Proxy\((\w+)\)", message)):  # text at even places, node names at odd
        if i % 2 == 0:
            parts.append(piece)
        else:
            parts.append(Ref(piece) if piece in nodes else f"Proxy({piece})")
    return tuple(parts)


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


def __getattr__(name: str) -> Any:
    if name in ("Elementwise",):
        return _elementwise_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
