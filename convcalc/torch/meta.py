"""The meta device for torch's shape machinery: a module's meta copy (kept while nothing it was made from has
changed), the modules and tensors a model holds in plain containers, ``torch.compile`` wrappers, and torch's
global state set for one run on meta tensors (checks that read values, which a meta tensor has none of).

:mod:`convcalc.torch.fallback` runs forwards here; :mod:`convcalc.torch.verify` compares on the meta device.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

from convcalc.torch.nodes import _torch
from convcalc.torch.standins import stand_in_class
from convcalc.torch.trace import _code_of, _scripted_base, _trace_key, _uninitialised
from convcalc.torch.tracer import asks_if_scripted, causal_mask_as_given

# Meta copies by id of the module they were made from: (a weak reference to it, its stamp, its tensors, the copy,
# the copy's tensors). A copy is reused only while the module's stamp, its tensors and the copy itself are unchanged.
_META_COPIES: dict[int, tuple[Any, Any, tuple[Any, ...], Any, tuple[Any, ...]]] = {}


# Each meta copy's tensors by id, and the id of the tensor each was made from (a tensor held in a plain list of
# the copied module may be a weight of the model's outside it: tied, so the model's own).
_ORIGINALS: weakref.WeakKeyDictionary[Any, dict[int, int]] = weakref.WeakKeyDictionary()


def _meta_copy(module: Any) -> Any:
    """A deep copy of ``module`` whose parameters and buffers are meta tensors (no data is copied or moved).

    The copy is kept and handed out again while nothing it was made from has changed: the module's trace key
    (its type and code, every plain attribute, each submodule's ``training`` flag, the parameters' and buffers'
    names, shapes and ``requires_grad``, its children, recursively), the identity and dtype of every parameter and buffer,
    and the forward hooks of every submodule; and while the copy still has the trace key and tensors it was made
    with (a forward that sets its own attributes or children changes its copy: that copy is made again). A module
    whose trace key is not plain data (an attribute that is a function, a dict, a tensor) is copied every time.
    What no key holds (globals a forward reads) is not checked.
    """
    key = _trace_key(module)
    if key is None:
        return _fresh_meta_copy(module)
    tensors = _tensors_of(module)
    # (``model.to(torch.bfloat16)`` keeps the Parameter objects and changes their dtype: a copy of another dtype
    # would refuse the model's own input)
    stamp = (key, _hooks_of(module), tuple(t.dtype for t in tensors))
    held = _META_COPIES.get(id(module))
    if (
        held is not None
        and held[0]() is module
        and held[1] == stamp
        and len(held[2]) == len(tensors)
        and all(ref() is t for ref, t in zip(held[2], tensors, strict=True))
        and _same(_tensors_of(held[3]), held[4])
        and _trace_key(held[3]) == key
    ):
        return held[3]
    copy = _fresh_meta_copy(module)
    ident = id(module)
    _META_COPIES[ident] = (
        weakref.ref(module, lambda _: _META_COPIES.pop(ident, None)),
        stamp,
        tuple(weakref.ref(t) for t in tensors),
        copy,
        _tensors_of(copy),
    )
    return copy


def _tensors_of(module: Any) -> tuple[Any, ...]:
    return (*module.parameters(), *module.buffers())


def _same(these: tuple[Any, ...], those: tuple[Any, ...]) -> bool:
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))


def _hooks_of(module: Any) -> tuple[Any, ...]:
    return tuple(
        (tuple(m._forward_hooks), tuple(m._forward_pre_hooks), tuple(m._backward_hooks)) for m in module.modules()
    )


def _fresh_meta_copy(module: Any) -> Any:
    import copy

    torch = _torch()
    memo: dict[int, Any] = {}
    # with the tensors of modules held in plain lists and dicts, which torch does not register: the copy runs
    # as the model does on the CPU (they are listed as not the model's, see ``_not_owned``)
    unregistered = [t for *_, m in _plainly_held(module) for t in _tensors_of(m)]
    for tensor in (*module.parameters(), *module.buffers(), *unregistered):
        if _uninitialised(tensor) or id(tensor) in memo:
            continue
        meta = torch.empty_like(tensor, device="meta")
        if isinstance(tensor, torch.nn.Parameter):
            meta = torch.nn.Parameter(meta, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = meta
    for held in _held_tensors(module):  # cached in plain attributes (YOLOv5's grids in a list): meta too
        if id(held) not in memo:
            memo[id(held)] = torch.empty_like(held, device="meta")
    made = copy.deepcopy(module, memo)
    _ORIGINALS[made] = {id(meta): ident for ident, meta in memo.items() if isinstance(meta, torch.Tensor)}
    for path, sub in module.named_modules():  # a forward set on an instance calls the copy's modules
        if "forward" in vars(sub) and not _compiled(sub) and not _scripted(sub):
            vars(made.get_submodule(path))["forward"] = _rebound(vars(sub)["forward"], memo)
    for path, wrapper in module.named_modules():
        if _compiled(wrapper):  # a torch.compile wrapper copies as a new wrapper of its module: without its hooks
            copied = made.get_submodule(path)
            for name in _WRAPPER_HOOKS:
                if name in vars(wrapper):
                    vars(copied)[name] = copy.deepcopy(vars(wrapper)[name], memo)
    # a hook (``lambda mod, args: (model.adapter(args[0]),)``) calls the copy's modules, as a forward set on an
    # instance does: the user's, on the CPU, would be run on the pass's meta tensors
    for top in (made, *(m for *_, m in _plainly_held(made))):
        for sub in top.modules():
            for table in ("_forward_hooks", "_forward_pre_hooks"):
                hooks = vars(sub).get(table)
                for key, hook in list(hooks.items()) if hooks else ():
                    hooks[key] = _rebound(hook, memo)
    return made


def _held_tensors(module: Any) -> Iterator[Any]:
    """The tensors the modules hold in plain attributes, or in lists, tuples and dicts of them: not parameters
    or buffers (a forward's cache, as YOLOv5's ``self.grid = [torch.empty(0)] * nl``)."""
    torch = _torch()
    internal = {"_parameters", "_buffers", "_modules"}

    def inside(value: Any, depth: int) -> Iterator[Any]:
        if isinstance(value, torch.Tensor):
            if not isinstance(value, torch.nn.Parameter) and not _uninitialised(value):
                yield value
        elif depth and isinstance(value, (list, tuple)):
            for item in value:
                yield from inside(item, depth - 1)
        elif depth and isinstance(value, dict):
            for item in value.values():
                yield from inside(item, depth - 1)

    for sub in module.modules():
        for name, value in vars(sub).items():
            if name not in internal:
                yield from inside(value, 3)


#: the hook tables of a module, which a copy of a torch.compile wrapper does not carry over
_WRAPPER_HOOKS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
)


def _plain_containers(module: Any) -> Iterator[tuple[str, Any, list[tuple[str, Any]]]]:
    """Each plain list, tuple or dict of modules (or of such lists, two deep) that ``module`` or one of its
    modules holds, which torch does not register, as (where, the container, its modules by key: ``"0.1"`` in a
    list of lists). A list of the model's own modules (kept to loop over them) is not one."""
    torch = _torch()
    registered = {id(m) for m in module.modules()}

    def inside(value: Any, depth: int) -> Iterator[tuple[str, Any]]:
        pairs = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
        )
        for key, item in pairs:
            if isinstance(item, torch.nn.Module):
                if id(item) not in registered:
                    yield str(key), item
            elif depth:
                yield from ((f"{key}.{inner}", m) for inner, m in inside(item, depth - 1))

    for name, owner in module.named_modules():
        for attribute, value in vars(owner).items():
            held = [] if attribute.startswith("_") else list(inside(value, 2))
            if held:
                yield (f"{name}.{attribute}" if name else attribute), value, held


def _plainly_held(module: Any) -> Iterator[tuple[str, str, str, Any]]:
    """Each module held in a plain container (see ``_plain_containers``): where the container is, its type, the
    module's name by where it is held, the module."""
    for where, value, held in _plain_containers(module):
        for key, item in held:
            yield where, type(value).__name__, f"{where}.{key}", item


def _compiled(module: Any) -> bool:
    """Whether ``module`` is the wrapper ``torch.compile`` makes of a module (dynamo's ``OptimizedModule``, which
    holds the module it compiles as its child ``_orig_mod``)."""
    cls = type(module)
    children = module.__dict__.get("_modules") or {}
    return (
        cls.__name__ == "OptimizedModule"
        and cls.__module__.startswith("torch._dynamo")
        and children.get("_orig_mod") is not None
    )


def _scripted(module: Any) -> bool:
    """A TorchScript module, which keeps its compiled forward on the instance."""
    return isinstance(module, _torch().jit.ScriptModule)


def _replaced_forward(module: Any) -> bool:
    """Whether torch calls a forward set on the instance that is not the class's own (``conv.forward = lambda x:
    ...``, a wrapper made with ``functools.wraps`` around it, which may do anything around the call): a
    ``functools.partial`` of the class's forward and accelerate's device hooks still run it alone, and a compiled
    module's wrapper is dynamo's."""
    forward = vars(module).get("forward")
    if forward is None or _compiled(module) or _scripted(module):
        return False

    if _accelerate_hook(module, forward):
        forward = module._old_forward
    if isinstance(forward, functools.partial) and len(forward.args) == 1 and not forward.keywords:
        # functools.partial(nn.Conv2d.forward, conv), of this module (another's runs the other's weights)
        return forward.func is not type(module).forward or forward.args[0] is not module
    # a wrapper made with functools.wraps may do anything around the call (``orig(x) + lora(x)``, ``orig(x)[:,
    # subset]``); ``a.forward = b.forward`` runs b
    return getattr(forward, "__func__", None) is not type(module).forward or forward.__self__ is not module


def as_method_forward(module: Any) -> Any:
    """For a module whose forward is set on the instance to another method of its own class, bound to itself
    (``self.forward = self.forward_features``, ``model.forward = model.encode``): a stand-in for it whose class's
    forward is that method, which fx reads (fx reads a class's forward, never the instance's), holding the same
    children, tensors and attributes; None for any other forward set on the instance (a lambda, a wrapper,
    another module's method) and for a class of torch's own."""
    import copy
    import inspect

    forward = vars(module).get("forward")
    cls: Any = type(module)
    function = getattr(forward, "__func__", None)
    name = getattr(function, "__name__", None)
    if (
        function is None
        or getattr(forward, "__self__", None) is not module
        or not isinstance(name, str)
        or inspect.getattr_static(cls, name, None) is not function
        or cls.__module__.startswith("torch.")
    ):
        return None
    stand_in = copy.copy(module)
    del stand_in.__dict__["forward"]
    stand_in.__class__ = _forwarding_class(cls, function)
    return stand_in


def as_python_module(module: Any) -> Any:
    """For a module of the user's compiled with ``torch.jit.script``: a stand-in of the class it was compiled
    from, holding the compiled module's children, tensors and attributes, whose forward is the Python TorchScript
    compiled (read as any forward); None for a module traced by ``torch.jit.trace`` (its graph holds one path
    through the Python, taken at the sizes it was traced with), a class of torch's own (read by its rule), a class
    whose code asks ``torch.jit.is_scripting()`` (TorchScript answers it True, Python False), and one whose
    parts TorchScript does not give back."""
    torch = _torch()
    if not isinstance(module, torch.jit.RecursiveScriptModule) or isinstance(module, torch.jit.TracedModule):
        return None
    concrete: Any = getattr(module, "_concrete_type", None)
    cls: Any = getattr(concrete, "py_class", None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module) or cls.__module__.startswith("torch."):
        return None
    if any(asks_if_scripted(getattr(f, "__func__", f)) for f in _code_of(cls)):
        return None
    try:
        stand_in: Any = object.__new__(cls)  # (its __init__ would build the module again)
        torch.nn.Module.__init__(stand_in)
        own = vars(stand_in)
        own["_modules"] = {name: _plain_container(child) for name, child in module._modules.items()}
        own["_parameters"] = dict(module._parameters.items())
        own["_buffers"] = dict(module._buffers.items())
        for name, (_, is_parameter) in concrete.get_attributes().items():
            if not is_parameter and name not in own["_buffers"] and name not in own["_modules"]:
                own[name] = getattr(module, name)
        own.update(concrete.get_constants())
    except Exception:  # a TorchScript that keeps its parts otherwise: torch runs it
        return None
    return stand_in


def _plain_container(module: Any) -> Any:
    """A TorchScript ``ModuleList``, ``ModuleDict`` or ``Sequential`` as torch's own, holding the same children
    (a compiled one makes a new Python object for each child each time it is iterated, which fx cannot find
    among the model's modules); any other module as it is."""
    torch = _torch()
    base = _scripted_base(module)
    if base is None or base not in (torch.nn.ModuleList, torch.nn.ModuleDict, torch.nn.Sequential):
        return module
    plain = base()
    vars(plain)["_modules"] = {name: _plain_container(child) for name, child in module._modules.items()}
    plain.training = module.training
    return plain


@functools.lru_cache(maxsize=64)
def _forwarding_class(cls: Any, function: Any) -> Any:
    """``cls`` with its method ``function`` as its forward, under the class's own name (its rows and messages name
    the user's class); one per class and function (a method patched on the class is another), so that reads are
    kept across plans as for any class."""
    return stand_in_class(cls, function)


def _accelerate_hook(module: Any, forward: Any) -> bool:
    """Whether ``forward`` is the wrapper accelerate's ``add_hook_to_module`` sets with one of accelerate's own
    hooks (a model dispatched over devices): the hook moves tensors between devices around the original
    forward, kept in ``_old_forward``, which it calls once. (Code that copies the pattern with a hook of its
    own, a sparse autoencoder added to the output, is run by torch's pass.)"""
    return (
        isinstance(forward, functools.partial)
        and getattr(forward.func, "__module__", None) == "accelerate.hooks"
        and type(getattr(module, "_hf_hook", None)).__module__ == "accelerate.hooks"
        and "_old_forward" in vars(module)
    )


def _rebound(function: Any, memo: dict[int, Any], depth: int = 0) -> Any:
    """A function set as a forward on an instance, or a hook, as its meta copy calls it: the modules, tensors
    and bound methods it closes over or reads as globals (``s.forward = lambda x: s[1](s[0](x))``), or a partial
    was given, swapped for their copies, so the copy's pass calls the copy's modules (``copy.deepcopy`` copies a
    function as it is)."""
    import types

    def swap(value: Any) -> Any:
        if id(value) in memo and value is not memo:
            return memo[id(value)]
        if isinstance(value, types.MethodType) and id(value.__self__) in memo:
            return types.MethodType(_rebound(value.__func__, memo, depth + 1), memo[id(value.__self__)])
        if isinstance(value, (types.FunctionType, functools.partial)):
            return _rebound(value, memo, depth + 1)
        return value

    if depth > 8:
        return function
    if isinstance(function, functools.partial):
        keywords = {k: swap(v) for k, v in function.keywords.items()}
        return functools.partial(swap(function.func), *(swap(a) for a in function.args), **keywords)
    if isinstance(function, types.MethodType):
        return swap(function)
    if not isinstance(function, types.FunctionType):
        return function
    # a global it reads (``s.forward = lambda x: s[1](s[0](x))`` at a script's top level; ``orig = conv.forward``
    # called by a wrapper): the copy's, in a copy of the globals
    held = function.__globals__
    names = _names_read(function.__code__)  # (a comprehension's too: its code is a constant of the function's)
    swapped = {n: swap(held[n]) for n in names if n in held and n != function.__name__}
    swapped = {n: v for n, v in swapped.items() if v is not held[n]}
    # (the original held in a default, the loop idiom ``def forward(x, _orig=orig)``: the copy's too)
    defaults = tuple(swap(v) for v in function.__defaults__ or ())
    kwdefaults = {k: swap(v) for k, v in (function.__kwdefaults__ or {}).items()}
    given = function.__kwdefaults__ or {}
    held_defaults = any(a is not b for a, b in zip(defaults, function.__defaults__ or (), strict=True)) or any(
        v is not given[k] for k, v in kwdefaults.items()
    )
    if not (function.__closure__ or swapped or held_defaults or "__wrapped__" in vars(function)):
        return function
    scope = {**held, **swapped} if swapped else None
    cells = None
    if function.__closure__:
        cells = tuple(
            types.CellType(swap(cell.cell_contents)) if _filled(cell) else cell for cell in function.__closure__
        )
    made = types.FunctionType(
        function.__code__, scope or function.__globals__, function.__name__, defaults or None, cells
    )
    made.__kwdefaults__ = kwdefaults or function.__kwdefaults__
    made.__dict__.update({k: swap(v) if k == "__wrapped__" else v for k, v in vars(function).items()})
    return made


def _names_read(code: Any) -> set[str]:
    """The global names ``code`` and the code objects it holds (comprehensions, lambdas, inner functions) read."""
    import types

    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_read(const)
    return names


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell (a name not yet bound) raises
    except ValueError:
        return False
    return True


def _run_uncompiled(copy: Any) -> None:
    """Each ``torch.compile`` wrapper in a meta copy (``self.block = torch.compile(block)``) made to call the
    module it wraps as it is: dynamo is never run (it cannot compile for meta tensors of planned shapes), and
    the wrapper and its ``_orig_mod`` are still called as modules, so the run lists both as torch names them."""
    for module in copy.modules():
        if _compiled(module) and vars(module).get("forward") is not module._orig_mod.__call__:
            module.forward = module._orig_mod.__call__


@contextlib.contextmanager
def _quiet_compiled() -> Iterator[None]:
    """Silences the warning a ``torch.compile`` wrapper gives when global module hooks are set (the run's own,
    which see its call and its module's, as meant)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Using `torch\.compile\(module\)` when there are global hooks")
        yield


# One lock for torch's state a meta run changes: plans in other threads neither see it nor restore it mid-run.
_META_RUN = threading.RLock()


@contextlib.contextmanager
def _value_checks_off() -> Iterator[None]:
    """torch's checks that read tensors' values, which a meta tensor has none of, taken as their answer for a run
    on meta tensors; neither changes a shape, and both are put back after:

    - torch's transformers ask whether a given mask is the causal one by comparing its values
      (``_detect_is_causal_mask``), a hint for a faster kernel with the same shapes: the mask is taken as not
      known to be causal (or as the caller says), as a trace takes it (``causal_mask_as_given``);
    - torch.distributions checks a distribution's arguments when it is made (``Normal(loc, scale)``: every scale
      positive): distributions are made as ``validate_args=False`` makes them (one made with
      ``validate_args=True`` still checks).
    """
    from torch.distributions import Distribution

    with _META_RUN, causal_mask_as_given():
        validate = Distribution._validate_args
        Distribution.set_default_validate_args(False)
        try:
            yield
        finally:
            Distribution.set_default_validate_args(validate)


# torch's refusal of ``pack_padded_sequence`` with lengths that are not values on the CPU, and what it means here
_PACKED_LENGTHS = "'lengths' argument should be a 1D CPU int64 tensor"
PACKED = (
    "The forward packs sequences (pack_padded_sequence): a recurrent layer then runs as many steps as each "
    "sequence is long, values convcalc does not know from shapes; plan the padded batch, with the packing left "
    "out (every sequence at its full length: the most work the layers can do). "
)


def packs(module: Any, message: str) -> bool:
    """Whether torch's refusal of a forward on meta tensors comes from packing sequences: its own message, or a
    forward that names ``pack_padded_sequence`` or ``pack_sequence``."""
    from convcalc.torch.tracer import _names_in

    code = getattr(getattr(type(module), "forward", None), "__code__", None)
    names = _names_in(code) if code is not None else set()
    return _PACKED_LENGTHS in message or not names.isdisjoint({"pack_padded_sequence", "pack_sequence"})
