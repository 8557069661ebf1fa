"""``from_torch``: a torch module read into a convcalc spec without running it on data, and the model
object the planner gets for a torch module (``_read``, registered in :mod:`convcalc._readers`)."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from convcalc._args import received
from convcalc._errors import ConvCalcError, SpecError, checked_call, reader_fault
from convcalc._types import Slot
from convcalc.torch.build import _torch_types
from convcalc.torch.bytecode import in_raise_statement, raise_site, tested_against_none
from convcalc.torch.devices import model_device
from convcalc.torch.draws import RandomDrawError, python_draws_refused
from convcalc.torch.fallback import _multi_output, _torch_call
from convcalc.torch.graph import _call_module, _graph_call, _spec_types
from convcalc.torch.meta import _compiled, _replaced_forward, as_method_forward, as_python_module
from convcalc.torch.nodes import Decision, ListValue, Node, Outputs, Ref, _Attr, _Dict, _join, _torch
from convcalc.torch.standins import SharedSettingsError
from convcalc.torch.strides import contiguous
from convcalc.torch.trace import (
    _TRACED,
    _apply_rule,
    _as_chain,
    _attr_of,
    _Book,
    _code_of,
    _leaf_spec,
    _node_of,
    _remember,
    _rule_for,
    _scripted_base,
    _torch_base,
    _trace_key,
)
from convcalc.torch.tracer import EndlessReadError, _trace, flag_inputs, next_guess
from convcalc.torch.values import ReaderSignalError, _describe_value, _flow_of, _leaves, _Tensor, public_error


@checked_call
def from_torch(module: Any) -> Any:
    """Read a ``torch.nn.Module`` into a ``convcalc.nn`` model, without running it on data.

    Layers with a ``convcalc.nn`` spec (``Conv2d``, ``BatchNorm2d``, ``Linear``,
    ...) map to it with the module's arguments; other shape-keeping torch layers
    (``ELU``, ``PReLU``, ...) to :class:`Elementwise`; ``nn.Sequential`` to
    ``Sequential`` with the same names (a subclass too, where its forward is
    Sequential's; its own forward is read). Any other module's ``forward`` is read
    with ``torch.fx`` (its children are not entered): a plain chain of children
    becomes a ``Sequential``, anything else a :class:`Graph` that plans each
    child under its torch path and each tensor operation (``+``, ``torch.cat``,
    ``view``, ``flatten``, ``F.relu``, ``F.max_pool2d``, ``mean``, ``chunk``,
    ``transpose``, ``x * s``, ...) under the name of its fx node. Types with a
    rule from :func:`register` use the rule.

    The spec counts each layer's parameters from its arguments (as a fresh model
    built from it holds them), and plans the first output of a forward that returns
    several. ``convcalc.plan`` of the torch module itself counts the module's own
    tensors and follows every output: a module called
    twice gives two rows under its path (the second marked ``recursive``), a
    shared or tied tensor counts once, ``requires_grad`` decides trainable,
    weight_norm / spectral_norm parametrizations count as ``parameters()``
    does, and modules the forward never calls go to ``Plan.uncalled``. The module is
    read in the mode it is in: ``if self.training:`` takes that mode's branch, and
    a batch norm in training mode normalises with the batch's statistics, which
    need more than one value per channel (torch's ValueError).

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
    module = _uncompiled(module)
    return _converted(_Reader(_on_cuda(module)), module)


def _converted(reader: Any, module: Any) -> Any:
    """The model read by ``reader``; a fault of the reader's own while it reads is still a ConvCalcError, with
    what it met."""
    try:
        return reader.convert(module, "")
    except ReaderSignalError as exc:  # (a refusal found while reading: ``random.random()`` in a forward)
        raise public_error(exc) from None
    except ConvCalcError:
        raise
    except Exception as exc:
        name = type(module).__name__
        raise reader_fault(f"<model> ({name})", "model", exc, "the model's code", received({"model": name})) from exc


def _uncompiled(module: Any) -> Any:
    """The module ``torch.compile`` wrapped, which computes the same shapes (its wrapper cannot be traced, and
    compiling it for a meta pass fails); any other module as it is."""
    return module._orig_mod if _compiled(module) else module


def _passing_nodes(inner: Any, absent: frozenset[str]) -> tuple[Node, ...] | None:
    """The forward of a ``torch.compile`` wrapper, as nodes: it takes what the module it wraps takes and calls
    that module (its child ``_orig_mod``) with it, as torch runs it. An input without a default is passed by
    position, one with a default by name, and one whose default is None only where it is given (``absent`` names
    those left out). None where the wrapped forward takes ``*args`` or ``**kwargs``, which nodes cannot pass on."""
    import inspect

    try:
        parameters = list(inspect.signature(inner.forward).parameters.values())
    except (TypeError, ValueError):  # a forward without a signature Python can read (TorchScript's)
        return None
    nodes: list[Node] = []
    args: list[Any] = []
    kwargs: list[tuple[str, Any]] = []
    for p in parameters:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return None
        if p.default is inspect.Parameter.empty:
            nodes.append(Node(p.name, "placeholder", p.name))
        else:
            nodes.append(Node(p.name, "placeholder", p.name, (p.default,)))
            if p.default is None and p.name in absent:
                continue  # left out: the wrapped module takes its own default
        if (
            p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.KEYWORD_ONLY
        ) or p.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(Ref(p.name))
        else:
            kwargs.append((p.name, Ref(p.name)))
    names = {p.name for p in parameters}
    call = next(n for n in ("_orig_mod", "_orig_mod_1", "_orig_mod_2") if n not in names | {"output"})
    nodes.append(Node(call, "call_module", "_orig_mod", tuple(args), tuple(kwargs)))
    nodes.append(Node("output", "output", "output", (Ref(call),)))
    return tuple(nodes)


def _on_cuda(module: Any) -> bool:
    """Whether the module's first tensor is on a CUDA device: the device its input is taken to be on (as torch's
    own summaries place it), which decides ``x.is_cuda`` in a forward."""
    return bool(model_device(module).type == "cuda")


def _read(module: Any) -> _TorchModel:
    """The module read for planning: its spec, and what its layers hold (``convcalc.plan`` of a torch module)."""
    module = _uncompiled(module)
    reader = _Reader(_on_cuda(module))
    return _TorchModel(_converted(reader, module), _Book(module, reader))


def _input_tensor(flow: Any) -> _Tensor:
    """An input of the model: a new tensor of this shape, laid out contiguously (as ``torch.zeros`` makes it)."""
    shape = tuple(flow[0])
    given = _Tensor(shape, flow[1], strides=contiguous(shape))
    given.free = True  # (its values any)
    return given


def _filled(template: Any, inputs: tuple[Any, ...], keywords: dict[str, Any]) -> Any:
    """A forward's argument from its template: each :class:`Slot` the planned tensor it names, lists, tuples
    and dicts rebuilt around them, any other value as it is (a float stays a float)."""
    if isinstance(template, Slot):
        key = template.key
        return _input_tensor(inputs[key] if isinstance(key, int) else keywords[key])
    if isinstance(template, list):  # a list the forward may assign into, as one it builds
        return ListValue([_filled(v, inputs, keywords) for v in template])
    if type(template) is tuple:
        return tuple(_filled(v, inputs, keywords) for v in template)
    if isinstance(template, dict):
        return {k: _filled(v, inputs, keywords) for k, v in template.items()}
    return template


class _TorchModel:
    """A torch module read for planning: the spec :func:`from_torch` gives, planned per call with torch's tensors.

    Each row of a layer counts the parameter and buffer tensors the torch module
    holds (``requires_grad`` decides trainable) that no earlier row counted; a
    module called again is planned again under its own path; the tensors of
    modules the forward never calls go to ``Plan.uncalled``.
    """

    __slots__ = ("book", "given", "spec")

    def __init__(self, spec: Any, book: _Book, given: tuple[tuple[Any, ...], dict[str, Any]] | None = None) -> None:
        self.spec, self.book, self.given = spec, book, given

    def bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _TorchModel:
        """This model with its forward's arguments given as templates: a :class:`Slot` where a planned input
        tensor goes (``Slot(0)``: the plan's first positional input, ``Slot("x")``: its keyword input ``x``),
        inside lists, tuples and dicts as the forward takes them, and any other value passed as itself
        (``{"x": Slot("x"), "scale": 3.0}``: ``forward(x=<tensor>, scale=3.0)``); torchinfo's ``input_data``
        passes them so. A plan of it takes the tensors' shapes only."""
        return _TorchModel(self.spec, self.book, (tuple(args), dict(kwargs)))

    def _arguments(self, inputs: tuple[Any, ...], keywords: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The forward's arguments for the planned inputs (flows): one tensor each, or as :meth:`bound` says."""
        if self.given is None:
            return tuple(_input_tensor(f) for f in inputs), {k: _input_tensor(f) for k, f in keywords.items()}
        args, kwargs = self.given
        return tuple(_filled(a, inputs, keywords) for a in args), {
            k: _filled(v, inputs, keywords) for k, v in kwargs.items()
        }

    @property
    def _convention(self) -> Any:
        return self.spec._convention

    @property
    def _layout(self) -> str:
        layout: str = self.spec._layout
        return layout

    @property
    def name(self) -> str:
        root = self.book.root  # the torch class, as the user wrote it (a TorchScript module's: compiled from)
        return str(getattr(root, "original_name", "") or type(root).__name__)

    @property
    def _param_bytes(self) -> int | None:
        """The bytes of the model's parameters, each at its own dtype's size (a float32 head on a float16 body,
        a complex weight beside a real bias), each tensor once; None while a lazy layer has not made its own."""
        from torch.nn.parameter import is_lazy

        total = 0
        for p in self.book.root.parameters():
            if is_lazy(p):
                return None
            total += p.numel() * p.element_size()
        return total

    @property
    def _itemsize(self) -> int:
        """``plan()``'s bytes per element where none is given: the model's first parameter's, as
        ``convcalc.summary`` (and torchinfo) take them (2 for a ``.half()`` model), else 4."""
        for p in self.book.root.parameters():
            return int(p.dtype.itemsize)  # (an uninitialised lazy parameter has a dtype, not yet an element size)
        return 4

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
                args, kwargs = self._arguments(inputs, keywords)
                if isinstance(spec, types.Graph):
                    value = _graph_call(spec, args, kwargs, ctx, path)
                else:
                    value = _torch_call(spec.torch_module, args, kwargs, ctx, path, spec.kind, spec.reason)
                tree = _shapes_tree(value, self.name)
                first = _leaves((value,))[0]
                out = _flow_of(first, ctx)
            elif self.given is None and len(inputs) == 1 and not keywords and not _passes_several(spec):
                out = spec._plan(inputs[0], ctx, path)
                tree = tuple(out[0])
            else:  # a layer that returns several tensors (all of them), or takes several (attention)
                args, kwargs = self._arguments(inputs, keywords)
                root = self.book.root
                value = _call_module(spec, Node("", "call_module", ""), args, kwargs, ctx, path, False, root)
                tree = _shapes_tree(value, self.name)
                out = _flow_of(_leaves((value,))[0], ctx)
        except ReaderSignalError as exc:
            raise public_error(exc) from None
        except ConvCalcError:
            raise
        except Exception as exc:  # a fault of the reader itself: still a ConvCalcError, with what it met
            shape = {"input_shape": tuple(inputs[0][0]) if inputs else None}
            where = f"{path or '<model>'} ({self.name})"
            raise reader_fault(where, "model", exc, "the model's code", received(shape)) from exc
        finally:
            ctx.owner = None
        ctx.groups[:] = [g if g is None else (g[0], self.book.canonical(g[1]), *g[2:]) for g in ctx.groups]
        ctx.uncalled.extend(self.book.uncalled(ctx))
        return out, tree


# How many times a forward that raises while traced is read again with its last condition taken the other way.
_FLIPS = 8

# The decisions a forward's last read took, by its trace key without them, and the optional inputs its last
# read left out, by its trace key without either (see _Reader._read_forward).
_LAST_DECISIONS: dict[tuple[Any, ...], tuple[Decision, ...]] = {}
_LAST_ABSENT: dict[tuple[Any, ...], frozenset[str]] = {}


#: the classes a forward may compare a value's ``type()`` with (``type(y) is torch.Tensor``, ``type(out) is tuple``)
_TYPES_ASKED = frozenset({"Tensor", "tuple", "list", "dict", "int", "float"})


@functools.lru_cache(maxsize=256)
def _asks_type_of_value(cls: Any) -> bool:
    """Whether a module class's forward calls ``type()`` and names a class a traced value could be compared with,
    which Python answers from the proxy fx passes, not from the value it stands for."""
    import dis

    code = getattr(getattr(cls, "forward", None), "__code__", None)
    if code is None or "type" not in code.co_names or _TYPES_ASKED.isdisjoint(code.co_names):
        return False
    # the builtin ``type(...)``, not a method of that name (``y.type(x.dtype)``, a cast beside ``x.float()``)
    return any(i.opname in ("LOAD_GLOBAL", "LOAD_NAME") and i.argval == "type" for i in dis.get_instructions(code))


@functools.lru_cache(maxsize=256)
def _none_defaults(cls: Any) -> frozenset[str]:
    """The parameters of a module class's forward whose default is None (optional inputs)."""
    return frozenset(_none_defaults_in_order(cls))


def _none_defaults_in_order(cls: Any) -> list[str]:
    """The inputs of a module class's forward that a caller may give as None, in the order of its signature: those
    whose default is None, then those with no default after the first that it tests against None (pytorch-tcn's
    ``forward(x, embeddings)`` called with ``embeddings=None``), read as None where a read with them as tensors
    fails."""
    import inspect

    try:
        parameters = list(inspect.signature(cls.forward).parameters.values())
    except Exception:  # a forward without a signature (TorchScript's raises AttributeError)
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = [p for p in parameters[1:] if p.kind in kinds]  # (the first is the module itself)
    tested = tested_against_none(getattr(cls.forward, "__code__", None))
    required = [p.name for p in named[1:] if p.default is inspect.Parameter.empty and p.name in tested]
    return [p.name for p in named if p.default is None] + required


def _none_defaults_of(module: Any) -> frozenset[str]:
    """The inputs of a module's forward (as torch calls it: a forward set on the instance too) whose default is
    None."""
    import inspect

    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in parameters if p.default is None)


def _is_graph(spec: Any) -> bool:
    return isinstance(spec, _spec_types().Graph)


def _passes_several(spec: Any) -> bool:
    """Whether a layer's spec returns several tensors (an LSTM's output and state, a pool's indices), which
    torch hands on whole to the next layer of an ``nn.Sequential`` and returns whole from a model."""
    from convcalc import nn

    if isinstance(spec, nn.Sequential):
        return bool(len(spec)) and _passes_several(spec[-1])
    if isinstance(spec, _spec_types().Graph):  # a forward that returns a tuple, or what such a layer returns
        nodes = {n.name: n for n in spec.nodes}
        returned = next(n for n in spec.nodes if n.op == "output").args[0]
        if isinstance(returned, (tuple, _Dict)):
            return True
        called = nodes.get(returned.name) if isinstance(returned, Ref) else None
        return called is not None and called.op == "call_module" and _passes_several(dict(spec.modules)[called.target])
    return isinstance(spec, nn._MultiOutput) or getattr(spec, "return_indices", False) is True


def _shapes_tree(value: Any, name: str, inside: bool = False) -> Any:
    """A forward's outputs as shapes: a tuple / dict of shapes, nested as returned; what holds no tensor beside
    them is None (``return logits, None``, ``return x, H, W``, ``return x, x.shape``): it has no shape."""
    if isinstance(value, _Tensor):
        return tuple(value.shape)
    if inside and not _leaves((value,)):
        return None
    if isinstance(value, Outputs) and _leaves((value,)):  # a ModelOutput holds the fields that have a value
        return {k: _shapes_tree(v, name, True) for k, v in value.items() if v is not None}
    if isinstance(value, dict) and (inside or _leaves((value,))):
        return {k: _shapes_tree(v, name, True) for k, v in value.items()}
    if isinstance(value, (tuple, list)) and (inside or _leaves((value,))):
        return tuple(_shapes_tree(v, name, True) for v in value)
    raise SpecError(
        f"<model> ({name}): forward returns {_describe_value(value)}, which holds no tensor convcalc can plan. "
        f"Received: output={_describe_value(value)}"
    )


def _forward_hooks(module: Any) -> str:
    """The forward hooks torch runs around the module's call that may change its inputs or output, named, or ""
    when there are none (torch's own hooks that keep every shape are not counted: a lazy module's first-call
    hook, spectral and weight norm, pruning)."""
    from torch.nn.modules import module as torch_module

    found = [
        name
        for name, table in (
            ("forward pre-hooks", module._forward_pre_hooks),
            ("forward hooks", module._forward_hooks),
            ("global forward pre-hooks", torch_module._global_forward_pre_hooks),
            ("global forward hooks", torch_module._global_forward_hooks),
        )
        if any(not _keeps_shapes(hook) for hook in table.values())
    ]
    return " and ".join(found)


def _keeps_shapes(hook: Any) -> bool:
    """Whether a hook is one of torch's own that recompute a weight, infer a lazy shape or observe a tensor for
    quantization (``torch.ao.quantization.prepare``: the observer returns what it is given), changing no shape."""
    if getattr(hook, "__func__", None) is _torch().nn.modules.lazy.LazyModuleMixin._infer_parameters:
        return True
    return isinstance(hook, _shape_keeping_hooks()) or any(hook is h for h in _observer_hooks())


@functools.cache
def _observer_hooks() -> tuple[Any, ...]:
    """The hooks ``torch.ao.quantization.prepare`` registers (the module's name is shadowed by the function
    ``torch.ao.quantization`` exports, hence importlib)."""
    import importlib

    quantize = importlib.import_module("torch.ao.quantization.quantize")
    names = ("_observer_forward_hook", "_observer_forward_pre_hook")
    return tuple(getattr(quantize, name) for name in names if hasattr(quantize, name))


@functools.cache
def _shape_keeping_hooks() -> tuple[type, ...]:
    """torch's hook classes that recompute a weight from its parametrisation (the modules' names are shadowed
    by the functions ``torch.nn.utils`` exports, hence importlib)."""
    import importlib

    utils = {
        name: importlib.import_module(f"torch.nn.utils.{name}") for name in ("prune", "spectral_norm", "weight_norm")
    }
    return (utils["spectral_norm"].SpectralNorm, utils["weight_norm"].WeightNorm, utils["prune"].BasePruningMethod)


def module_classes(module: Any) -> dict[str, str]:
    """The class name of every submodule by path (``""`` for the module itself), as ``named_modules()`` lists them;
    a lazy layer not yet run by the class it becomes on its first call (``LazyConv2d``: ``Conv2d``), as torchinfo,
    which runs the model, shows it; a TorchScript module by the class it was compiled from, as torchinfo names it."""
    from torch.nn.modules.lazy import LazyModuleMixin
    from torch.nn.parameter import is_lazy

    scripted = _torch().jit.ScriptModule
    return {
        path: (getattr(child, "cls_to_become", None) or type(child)).__name__
        if isinstance(child, LazyModuleMixin) and any(is_lazy(p) for p in vars(child)["_parameters"].values())
        else str(getattr(child, "original_name", "") or type(child).__name__)
        if isinstance(child, scripted)
        else type(child).__name__
        for path, child in _uncompiled(module).named_modules()
    }


def weight_names(module: Any) -> tuple[tuple[str, int, int, int, int], ...]:
    """``Plan.weight_names``: for each module without children that holds parameters, its parameters named
    ``weight`` or ``bias`` and those whose name only contains one of them (``weight_ih_l0``, ``in_proj_bias``),
    by count, as torchinfo 1.8 sorts them (it strips the ``_orig`` of a pruned parameter, one with a ``_mask``),
    the bytes of an element of its first parameter, and of its output where that is known: a layer of torch's
    own (or a subclass that keeps its forward) computes in its weights' dtype, a normalisation excepted (it keeps
    its input's); a module of the user's may not (a spectral layer's complex weights give a real output), 0."""
    from torch.nn.parameter import is_lazy

    nn = _torch().nn
    # torch's normalisations take an input of another float dtype than their weights, and keep the input's
    mixed = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm)
    found = []
    for path, child in _uncompiled(module).named_modules():
        own = {k: v for k, v in (child.__dict__.get("_parameters") or {}).items() if v is not None}
        children = child.__dict__.get("_modules") or {}
        # no parameters (an InstanceNorm2d without affine holds its weight and bias as None), or children
        if not own or any(c is not None for c in children.values()):
            continue
        plain = inner = itemsize = 0
        for name, tensor in own.items():
            itemsize = itemsize or int(tensor.dtype.itemsize)
            if is_lazy(tensor):  # a lazy layer not yet run: its weights and biases are counted from its row
                plain, inner = -1, 0
                break
            # torchinfo strips "_orig" where pruning left a mask beside it (spectral_norm's weight_orig stays),
            # and counts the weights the mask keeps
            mask = _pruning_mask(child, name)
            base = name[:-5] if mask is not None else name
            count = tensor.numel() if mask is None else kept_by_mask(mask, tensor.numel())
            if base in ("weight", "bias"):
                plain += count
            elif "weight" in base or "bias" in base:
                inner += count
        # torch's own computation: a layer of torch.nn, or a subclass that keeps its forward
        forward = getattr(type(child), "forward", None)
        own_layer = (getattr(forward, "__module__", None) or "").startswith("torch.nn.") and not isinstance(
            child, mixed
        )
        found.append((path, plain, inner, itemsize, itemsize if own_layer else 0))
    return tuple(found)


def _parametrizations(module: Any) -> Any:
    """The ``ModuleDict`` of a module's parametrized tensors, or None (a TorchScript module's submodules are
    no dict)."""
    children = module.__dict__.get("_modules")
    return children["parametrizations"] if children is not None and "parametrizations" in children else None


def _unsafe_parametrizations(module: Any) -> list[str]:
    """The tensors of ``module`` computed by a parametrization of the user's registered with ``unsafe=True``
    (``torch.nn.utils.parametrize``), which torch lets change the tensor's shape; torch's own
    (``parametrizations.weight_norm`` is registered so) keep it."""
    lists = _parametrizations(module)
    if lists is None:
        return []
    return [
        name
        for name, plist in lists.items()
        if getattr(plist, "unsafe", False)
        and not all(type(p).__module__ == "torch.nn.utils.parametrizations" for p in plist)
    ]


def _originals(plist: Any) -> list[Any]:
    """The tensors a ``ParametrizationList`` holds as given (``original``, or ``original0``, ``original1``...)."""
    return [t for k, t in plist.named_parameters(recurse=False) if k.startswith("original")]


def parametrized(module: Any) -> tuple[Any, ...]:
    """``Plan.parametrized``: each tensor of a module that parametrizations compute (``weight_norm``,
    ``spectral_norm``, ``orthogonal``, one of the user's), where the module is a layer convcalc plans whole
    and the tensor's shape is known without computing it: one original gives it, or torch's ``weight_norm``
    (its direction's). Other modules' forwards are read, and their parametrization calls with them."""
    from convcalc._plan import Parametrized

    found = []
    for path, child in _uncompiled(module).named_modules():
        lists = _parametrizations(child)
        if lists is None or _torch_base(type(child)) is None:
            continue
        unsafe = _unsafe_parametrizations(child)
        for name, plist in lists.items():
            originals = _originals(plist)
            steps = list(plist)
            if len(originals) == 1 and name not in unsafe:
                shape = tuple(originals[0].shape)
            elif len(originals) == 2 and all(type(p).__name__ == "_WeightNorm" for p in steps[:1]):
                shape = tuple(originals[1].shape)  # weight_norm: g * v / |v|, of v's shape
            elif len(originals) > 1 and name not in unsafe:
                # a right_inverse that gave several originals (a low-rank A @ B): the shape torch checked the
                # result against when it was registered, found by running the chain on meta tensors
                found_shape = _meta_result_shape(steps, originals)
                if found_shape is None:
                    continue
                shape = found_shape
            else:
                continue
            where = f"{path}.parametrizations.{name}" if path else f"parametrizations.{name}"
            found.append(
                Parametrized(
                    where,
                    shape,
                    sum(t.numel() for t in originals),
                    sum(t.numel() for t in originals if t.requires_grad),
                    tuple(
                        (
                            type(step).__name__,
                            tuple(originals[0].shape) if j == 0 else shape,
                            sum(t.numel() for t in step.parameters()),
                            sum(t.numel() for t in step.parameters() if t.requires_grad),
                        )
                        for j, step in enumerate(steps)
                    ),
                )
            )
    return tuple(found)


def _meta_result_shape(steps: list[Any], originals: list[Any]) -> tuple[int, ...] | None:
    """The shape of the tensor a chain of parametrizations computes from ``originals``, run on meta tensors of
    their shapes (no data, the user's tensors untouched), or None where that run fails."""
    torch = _torch()
    from torch.func import functional_call

    values: tuple[Any, ...] = tuple(torch.empty(t.shape, dtype=t.dtype, device="meta") for t in originals)
    try:
        for step in steps:
            held = {**dict(step.named_parameters()), **dict(step.named_buffers())}
            metas = {k: torch.empty(t.shape, dtype=t.dtype, device="meta") for k, t in held.items()}
            values = (functional_call(step, metas, values),)
        return tuple(int(d) for d in values[0].shape)
    except Exception:  # a parametrization that needs data (it branches on values): left out, as before
        return None


def _pruning_mask(module: Any, name: str) -> Any:
    """The mask ``torch.nn.utils.prune`` keeps beside a pruned parameter (``weight_orig``: ``weight_mask``), or
    None (spectral_norm's ``weight_orig`` has none)."""
    return getattr(module, f"{name[:-5]}_mask", None) if name.endswith("_orig") else None


def kept_by_mask(mask: Any, numel: int) -> int:
    """The weights a pruning mask keeps (its ones), as torchinfo counts a pruned parameter; ``numel`` where the
    mask holds no data (the meta device)."""
    if getattr(mask, "is_meta", False):
        return numel
    return int(mask.sum())


def pruned(module: Any) -> dict[str, tuple[int, int]]:
    """(weights, trainable weights) that a pruning mask zeroes, by the path of the module holding them:
    ``torch.nn.utils.prune`` leaves ``weight_orig`` (a parameter of every weight) beside ``weight_mask``, and
    torchinfo counts the mask's ones as the module's parameters."""
    out: dict[str, tuple[int, int]] = {}
    for path, child in _uncompiled(module).named_modules():
        for name, tensor in (child.__dict__.get("_parameters") or {}).items():
            mask = _pruning_mask(child, name)
            if tensor is None or mask is None:
                continue
            zeroed = tensor.numel() - kept_by_mask(mask, tensor.numel())
            if zeroed:
                held, trainable = out.get(path, (0, 0))
                out[path] = (held + zeroed, trainable + (zeroed if tensor.requires_grad else 0))
    return out


class _Reader:
    """One conversion: remembers modules already read (shared modules are read once)."""

    def __init__(self, on_cuda: bool = False) -> None:
        self.on_cuda = on_cuda  # what ``x.is_cuda`` reads in a forward
        self.done: dict[int, Any] = {}
        self.reading: set[int] = set()  # the modules being read (a forward that calls its own module)
        self.keys: dict[int, tuple[Any, ...] | None] = {}
        self.leaves: set[int] = set()  # modules read as one layer: a row per call holds their tensors
        self.ruled: set[int] = set()  # modules read by a registered rule: its layers count their own parameters

    def convert(self, module: Any, path: str) -> Any:
        key = id(module)
        if key in self.reading:  # its forward calls the module itself (``self(x, inner=True)``): torch runs it
            return self._fallback(module, "its forward calls the module itself, which torch runs")
        if key not in self.done:
            self.reading.add(key)
            try:
                spec = self._convert(module, path)
            finally:
                self.reading.discard(key)
            if id(module) in self.leaves or id(module) in self.ruled:
                spec = self._with_parametrizations(module, spec, path)
            self.done[key] = spec
        return self.done[key]

    def _with_parametrizations(self, module: Any, spec: Any, path: str) -> Any:
        """A layer planned whole whose tensors parametrizations of the user's compute (a LoRA update,
        ``W + B @ A``, a low-rank ``A @ B`` of two originals, a product with a buffer ``W @ R``): planned with
        those parametrizations' work (see Parametrized). torch's own (weight_norm, spectral_norm, orthogonal) and
        one whose forward convcalc cannot follow are left as they are (the layer's own work is counted), as is a
        layer that takes or gives several tensors (an LSTM) or whose forward reads a child's weight
        (MultiheadAttention's out_proj)."""
        lists = _parametrizations(module)
        if lists is None or _passes_several(spec) or isinstance(spec, _multi_output()):
            return spec
        chains = []
        for name, plist in lists.items():
            steps = list(plist)
            originals = _originals(plist)
            if not originals or all(type(step).__module__ == "torch.nn.utils.parametrizations" for step in steps):
                continue
            try:
                read = [
                    self._read_forward(step, _join(path, f"parametrizations.{name}.{j}"), ())
                    for j, step in enumerate(steps)
                ]
            except ConvCalcError:
                continue
            if all(isinstance(r, _spec_types().Graph) for r in read):
                chains.append((name, tuple(read), tuple(tuple(int(d) for d in t.shape) for t in originals)))
        return _spec_types().Parametrized(spec, tuple(chains)) if chains else spec

    def _convert(self, module: Any, path: str) -> Any:
        torch = _torch()
        from convcalc import nn

        cls = type(module)
        where = f"{path or '<model>'} ({cls.__name__})"
        hooks = _forward_hooks(module)
        if hooks:
            # a hook may replace the module's inputs or output (``return out[:, :, 1:]``): torch runs it
            return self._fallback(module, f"it has {hooks}, which torch runs and convcalc cannot read")
        if _compiled(module):  # ``self.block = torch.compile(block)``
            return self._through_compiled(module, path)
        if _replaced_forward(module):
            stand_in = as_method_forward(module)
            if stand_in is not None:  # ``self.forward = self.forward_features``: that method, read as a forward
                return self._read_forward(stand_in, path, ())
            # ``conv.forward = lambda x: F.conv2d(x, conv.weight, padding=1)``: torch calls that, for a layer
            # convcalc has a rule for, a Sequential or a class of the user's alike; its arguments say nothing of it
            return self._fallback(module, "its forward is replaced on the instance, which torch calls")
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
        if (isinstance(module, torch.nn.Sequential) and cls.forward is torch.nn.Sequential.forward) or _scripted_base(
            module
        ) is torch.nn.Sequential:  # (a Sequential compiled by TorchScript: torch's own)
            children = OrderedDict(self._children(module, path))
            if not any(_passes_several(child) for child in children.values()):
                return nn.Sequential(children)
            # an LSTM hands its (output, (h, c)) on whole: read as a forward, where tuples flow
            return self._read_forward(module, path, ())
        spec = _leaf_spec(module, where)
        if spec is not None:
            unsafe = _unsafe_parametrizations(module)
            if unsafe:
                raise SpecError(
                    f"{where}: its {' and '.join(unsafe)} {'is' if len(unsafe) == 1 else 'are'} computed by a "
                    f"parametrization registered with unsafe=True, which may give {'it' if len(unsafe) == 1 else 'them'} "
                    f"another shape; convcalc takes the layer's shapes from its arguments. "
                    f"Received: unsafe parametrizations={unsafe}"
                )
            inner = next((h for m in module.modules() if (h := _forward_hooks(m))), "")
            if inner:  # on a module inside the layer (a parametrization computing its weight)
                return self._fallback(module, f"a module inside it has {inner}, which torch runs")
            self.leaves.add(id(module))
            return spec
        python = as_python_module(module)
        if python is None:
            return self._read_forward(module, path, ())
        # ``torch.jit.script(block)``: the Python it was compiled from, read as a forward; where that cannot be
        # read, torch runs the compiled module (not the stand-in), for the reason the read gave
        spec = self._read_forward(python, path, ())
        return self._fallback(module, spec.reason) if isinstance(spec, _spec_types().TorchCall) else spec

    def _read_forward(
        self,
        module: Any,
        path: str,
        decisions: tuple[Decision, ...],
        absent: frozenset[str] | None = None,
        fresh: bool = False,
    ) -> Any:
        """The module's forward read with fx, each condition on sizes taken as ``decisions`` says (true beyond),
        and the optional inputs named in ``absent`` left out (None; by default those its last read left out).
        ``fresh``: without the decisions the last read took (they led a forward into raising)."""

        cls = type(module)
        if "forward" in vars(module):  # ``model.forward = model.forward_features``: torch calls that, fx the class's
            return self._fallback(module, "its forward is replaced on the instance, and torch.fx reads the class's")
        if _asks_type_of_value(module.__class__):  # ``type(y) is torch.Tensor``: a traced value's type is the proxy's
            return self._fallback(module, "its forward compares type() with a class, which a traced value fails")
        where = f"{path or '<model>'} ({cls.__name__})"
        state = _trace_key(module, self.keys)
        inputs = None if state is None else (state, _code_of(cls), self.on_cuda)
        # a forward read again for other sizes or inputs starts, next plan, from the inputs and decisions its
        # last read took (the plan checks both again: this only saves reads)
        remembered = False
        if absent is None:
            absent = frozenset() if inputs is None else _LAST_ABSENT.get(inputs, frozenset())
            remembered = bool(absent)
        elif inputs is not None:
            _remember(_LAST_ABSENT, inputs, absent)
        base = None if inputs is None else (*inputs, absent)
        if base is not None:
            if decisions:
                _remember(_LAST_DECISIONS, base, decisions)
            elif not fresh:
                decisions = _LAST_DECISIONS.get(base, ())
                remembered = remembered or bool(decisions)
        found = self._traced_once(module, where, inputs, decisions, absent)
        if isinstance(found, str) and not absent:
            # a forward fx cannot trace with its optional inputs as tensors may trace with them left out (None):
            # TransformerEncoderLayer checks its masks' dtypes before anything else
            optional = _none_defaults(module.__class__)
            if optional:
                again = self._read_forward(module, path, decisions, optional, fresh)
                if not isinstance(again, _spec_types().TorchCall):
                    return again
        if isinstance(found, str) and absent and not fresh:
            # read with every optional input left out, a forward that uses one given by position fails (``x +
            # t[:, None]`` of an optional ``t``): read it with the first of them given, then the first two, ...
            # (the plan reads it again as the inputs come)
            ordered = [name for name in _none_defaults_in_order(module.__class__) if name in absent]
            for j in range(1, len(ordered) + 1):
                fewer = frozenset(ordered[j:])
                read = self._traced_once(module, where, inputs, (), fewer)
                if not isinstance(read, str):
                    if inputs is not None:  # the next plan starts from it
                        _remember(_LAST_ABSENT, inputs, fewer)
                    return self._from_nodes(module, read, path, fewer)
        if isinstance(found, str) and remembered:
            # the decisions or optional inputs another plan's read took (a check that raised for its wrong input,
            # another mask given) may not be this plan's: read it from the start, as a first plan would
            return self._read_forward(module, path, (), frozenset(), fresh=True)
        if isinstance(found, str):
            return self._fallback(module, found)
        nodes: tuple[Node, ...] = found
        return self._from_nodes(module, nodes, path, absent)

    def _traced_once(
        self,
        module: Any,
        where: str,
        inputs: tuple[Any, ...] | None,
        decisions: tuple[Decision, ...],
        absent: frozenset[str],
    ) -> tuple[Node, ...] | str:
        """``_traced``, kept across plans under the module's ``inputs`` (its trace key, code and device; None: not
        kept), the decisions and the inputs left out."""
        key = None if inputs is None else (*inputs, absent, decisions)
        found = _TRACED.get(key) if key is not None else None
        if found is None:
            found = self._traced(module, where, self.on_cuda, decisions, absent)
            if key is not None:
                _remember(_TRACED, key, found)
        return found

    @staticmethod
    def _traced(
        module: Any, where: str, on_cuda: bool, decisions: tuple[Decision, ...], absent: frozenset[str]
    ) -> tuple[Node, ...] | str:
        """The module's forward as nodes, or why convcalc cannot read it (a string)."""
        torch = _torch()
        graph, failure, given = None, None, decisions
        flags = len(flag_inputs(module, absent))  # the first decisions of every trace, never flipped here
        # into the functions a library wrapped for fx first; where that cannot be traced, with them wrapped
        for through in (True, False):
            decisions = given
            for _ in range(_FLIPS):
                made: list[Decision] = []
                guesses: dict[int, tuple[tuple[int, ...], Any]] = {}
                try:
                    with python_draws_refused(where):
                        graph = _trace(module, on_cuda, decisions, absent, made, through, guesses)
                    break
                except Exception as exc:  # the user's forward may raise anything on proxies
                    failure = failure or exc
                    # ``if x.size(0) != y.size(0): raise ...``: the trace took the condition as true and the
                    # forward raised; read it again with that condition taken the other way (the plan checks
                    # every condition on the real sizes, so a wrong guess is never a wrong number)
                    taken = max(len(decisions), flags)
                    if isinstance(exc, RandomDrawError) and len(made) <= taken:
                        raise  # ``random.random()`` reached by no guess of the trace's: torch's run would reach it
                    at = len(made) - 1
                    if isinstance(exc, SharedSettingsError):  # read no other way: torch's pass runs it
                        break
                    if isinstance(exc, EndlessReadError):
                        # a loop on a size read as going on: it stops at its first condition beyond those given,
                        # and the plan reads it again as the sizes decide each (the last one, flipped, would run
                        # 63 times)
                        at = next((j for j in range(taken, len(made)) if type(made[j]) is bool), at)
                    # ``if len(x.shape) != 4: raise ...`` (kornia's shape checks), ``if int(x.size(2)) < 5: raise
                    # ...``, ``if not isinstance(frames, list): raise ...``: a rank, size or kind guessed is what the
                    # forward raised on; the last that has a next guess is read with it (the plan checks the one
                    # taken; one asked again for the raise's message is no cause)
                    site = raise_site(exc)
                    guessed = range(len(made) - 1, max(len(given), flags) - 1, -1) if site is not None else range(0)
                    j, following = next(
                        (
                            (j, g)
                            for j in guessed
                            if j in guesses
                            and not in_raise_statement(site, guesses[j][1])
                            and (g := next_guess(made[j], guesses[j][0])) is not None
                        ),
                        (0, None),
                    )
                    if following is not None:
                        decisions = (*made[:j], following)
                        continue
                    if len(made) <= taken or type(made[at]) is not bool:
                        break
                    decisions = (*made[:at], not made[at])
            if graph is not None:
                break
        if graph is None:
            # a Sequential subclass too: its own forward is what torch runs (a concat around the chain, the chain
            # applied twice, a fused conv and bn), never the chain it holds, which only Sequential.forward runs
            text = str(failure).strip()
            message = text.splitlines()[0] if text else ""
            return f"torch.fx cannot trace its forward ({type(failure).__name__}: {message.rstrip('. ')})"
        children = set(module._modules)
        for fx_node in graph.nodes:  # a TorchScript function's node named after it, as fx names a Python one
            if isinstance(fx_node.target, torch.jit.ScriptFunction):
                fx_node._rename(fx_node.target.name)
            # an operation's row is named after its node: ``F.relu(x)`` beside a ``self.relu`` the forward never
            # calls is ``relu_1``, so that its row is not taken for a call of that module
            while fx_node.op in ("call_function", "call_method") and fx_node.name in children:
                fx_node._rename(f"{fx_node.name}_1")
        try:
            return tuple(_node_of(fx_node, where) for fx_node in graph.nodes)
        except SpecError as exc:
            return str(exc).split(": ", 1)[-1].split(" (fx node")[0]

    def _fallback(self, module: Any, reason: str) -> Any:
        """A module whose forward convcalc cannot read: planned by running it on the meta device."""
        # not "ruled": its rows are the calls torch makes, named by torch's paths, and each layer it calls is
        # booked as a leaf when replayed, so frozen, shared and tied tensors count as everywhere else
        return _spec_types().TorchCall(type(module).__name__, reason, module)

    def _through_compiled(self, module: Any, path: str, absent: frozenset[str] | None = None) -> Any:
        """A child ``torch.compile`` wrapped (``self.block = torch.compile(block)``): torch runs the module it
        wraps, ``_orig_mod``, which computes the same shapes. It is read as a container that calls that module,
        under the paths torch names them (``block``, then ``block._orig_mod``), as torchinfo lists them; dynamo is
        never run. A wrapped forward that takes ``*args`` or ``**kwargs`` is run by torch on the meta device,
        with the module it wraps in place of the compiled code."""
        inner = module._orig_mod
        if absent is None:  # first read: the optional inputs (default None) taken as not given
            absent = frozenset(_none_defaults_of(inner))
        nodes = _passing_nodes(inner, absent)
        if nodes is None:
            return self._fallback(
                module, "it is compiled with torch.compile, and the forward it wraps takes *args or **kwargs"
            )
        spec = self.convert(inner, _join(path, "_orig_mod"))

        def reread(decisions: tuple[Decision, ...], left_out: frozenset[str]) -> Any:
            del decisions  # the wrapper decides nothing: the module it wraps is read on its own
            return self._through_compiled(module, path, left_out)

        return _spec_types().Graph(
            type(module).__name__,
            nodes,
            (("_orig_mod", spec),),
            (),
            torch_module=module,
            reread=reread,
            absent=absent,
        )

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

    def _from_nodes(self, module: Any, nodes: tuple[Node, ...], path: str, absent: frozenset[str] = frozenset()) -> Any:
        from convcalc import nn

        modules: dict[str, Any] = {}
        attrs: dict[str, _Attr] = {}
        for node in nodes:
            if node.op == "call_module" and node.target not in modules:
                modules[node.target] = self.convert(module.get_submodule(node.target), _join(path, node.target))
            elif node.op == "get_attr" and node.target not in attrs:
                attrs[node.target] = _attr_of(module, node.target)
        chain = _as_chain(nodes)
        # a chain of layers is a Sequential; not where a layer may hand on several tensors (an LSTM's output and
        # state, or a forward's tuple), which a Sequential spec cannot pass on
        if chain is not None and not any(_passes_several(modules[t]) or _is_graph(modules[t]) for t in chain):
            return nn.Sequential(OrderedDict((t, modules[t]) for t in chain))
        return _spec_types().Graph(
            type(module).__name__,
            nodes,
            tuple(modules.items()),
            tuple(attrs.values()),
            torch_module=module,
            reread=functools.partial(self._read_forward, module, path),
            absent=absent,
        )
