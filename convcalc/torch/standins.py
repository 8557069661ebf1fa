"""What convcalc puts around a trace of a user's module so that it reads the forward as torch runs it and leaves
the model as it was: the classes it makes of a user's class (a forward behind a wrapper of ``(self, *args,
**kwargs)``, without the user's ``__init_subclass__``), the settings objects put back after the trace, the log
records it drops, and which traced values hold integers (an input named as such, and its views).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import types
from collections.abc import Iterator
from typing import Any

from convcalc.torch.nodes import _torch, integer_input

# the methods that keep their input's dtype (a view, a copy, a move to a device) and those that make integers
_KEEP_DTYPE = frozenset(
    {"view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous", "clone", "expand", "permute", "transpose"}
    | {"cpu", "cuda", "detach", "t", "repeat", "__getitem__"}
)
_TO_INTEGERS = frozenset({"long", "int"})


def _integral_node(node: Any, depth: int = 8) -> bool:
    """Whether a traced value holds integers: an input named as such (``labels``, ``input_ids``) and the views,
    copies and moves of one (``labels[:, :1]``, ``labels.to(device)``), or a cast to integers; any other value is
    taken as float32, as a plan takes its tensors."""
    import operator

    if node.op == "placeholder":
        return integer_input(node.target)
    if depth == 0 or not node.args or not hasattr(node.args[0], "op"):
        return False
    if node.op == "call_method" and node.target in _TO_INTEGERS:
        return True
    keeps = (node.op == "call_method" and node.target in _KEEP_DTYPE) or (
        node.op == "call_function" and node.target is operator.getitem
    )
    if node.op == "call_method" and node.target == "to":  # ``.to(device)`` keeps it; ``.to(torch.float16)`` not
        keeps = not any(isinstance(a, _torch().dtype) for a in (*node.args[1:], *node.kwargs.values()))
    return keeps and _integral_node(node.args[0], depth - 1)


# comparisons and logical operations, which make a bool tensor (by their method's or function's name)
_TO_BOOLS = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "bool", "isnan", "isinf", "isfinite", "and_", "or_", "xor", "invert"}
    | {"logical_and", "logical_or", "logical_not", "logical_xor"}
)


def _boolean_node(node: Any) -> bool:
    """Whether a traced value is a comparison's or a logical operation's: a bool tensor."""
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    return node.op in ("call_method", "call_function") and name in _TO_BOOLS


def _settings(value: Any) -> bool:
    """An object of plain attributes a module holds (a Hugging Face config, which a forward may set:
    ``self.config.problem_type = "multi_label_classification"``)."""
    if isinstance(value, (type, dict, list, tuple, set)) or callable(value) or not hasattr(value, "__dict__"):
        return False  # (a module's tables of hooks are ordered dicts: convcalc's clone copies those)
    torch = _torch()
    return not isinstance(value, (torch.nn.Module, torch.Tensor, types.ModuleType))


@contextlib.contextmanager
def settings_kept(module: Any) -> Iterator[None]:
    """The objects of plain attributes the module and its submodules hold, each put back as it was after the
    block, which leaves the user's as it was. A forward that sets one another module holds too (a parent setting
    a config its children read) is no forward a trace can follow, as its children are read each on its own:
    ``SharedSettingsError`` after the block (torch's pass runs it, on copies, in order)."""
    held: dict[int, tuple[Any, dict[str, Any]]] = {}
    holders: dict[int, int] = {}
    for sub in module.modules():
        for value in vars(sub).values():
            if _settings(value):
                holders[id(value)] = holders.get(id(value), 0) + 1
                if id(value) not in held:
                    held[id(value)] = (value, dict(vars(value)))
    changed = []
    try:
        yield
    finally:
        for ident, (value, saved) in held.items():
            now = vars(value)
            # (by identity: an attribute may be a tensor, whose == is no bool)
            if now.keys() != saved.keys() or any(now[k] is not v for k, v in saved.items()):
                now.clear()
                now.update(saved)
                changed.append(ident)
    shared = [ident for ident in changed if holders[ident] > 1]
    if shared:
        raise SharedSettingsError(
            f"the forward sets {type(held[shared[0]][0]).__name__} attributes that other modules of it hold too"
        )


@contextlib.contextmanager
def modules_kept(module: Any) -> Iterator[None]:
    """The module's submodules, each with its parameters, buffers and children put back as they were after the
    block (and each parameter's ``requires_grad``), which leaves the user's model as it was: a forward that moves
    a child (``self.conv.to(x)(x)``, julius' ``ResampleFrac(...).to(x)``) or casts it would set traced values in
    its place."""
    script = _torch().jit.ScriptModule  # (whose tables torch keeps in C++: it moves no child while fx traces)
    subs = [sub for sub in module.modules() if not isinstance(sub, script)]
    held = [(sub, dict(sub._parameters), dict(sub._buffers), dict(sub._modules)) for sub in subs]
    flags = [(p, p.requires_grad) for p in module.parameters()]
    try:
        yield
    finally:
        for sub, parameters, buffers, children in held:
            for now, saved in ((sub._parameters, parameters), (sub._buffers, buffers), (sub._modules, children)):
                if now.keys() != saved.keys() or any(now[k] is not v for k, v in saved.items()):
                    now.clear()
                    now.update(saved)
        for p, flag in flags:
            if p.requires_grad is not flag:
                p.requires_grad_(flag)


@contextlib.contextmanager
def variables_as_tensors() -> Iterator[None]:
    """While tracing: ``torch.autograd.Variable(t)`` of a traced value is the value, as ``Variable`` of a tensor
    returns a tensor (code of PyTorch before 0.4: PyramidNet's ``Variable(torch.zeros(n, c, h, w))``), and a
    module moved to a traced tensor's device and dtype (``self.conv.to(x)(x)``, julius' resampler) is the module
    as it is, which computes the same shapes; torch refuses a proxy in both. Other calls, and other threads'
    (which hold no proxy), are torch's. Both are changed while any thread traces, and put back when the last one
    is done."""
    torch = _torch()
    variable: Any = torch.autograd.Variable
    module: Any = torch.nn.Module
    with _LOGS_LOCK:
        if _VARIABLES["readers"] == 0:
            _VARIABLES["new"] = vars(variable).get("__new__")  # (None: its base's, torch's own)
            _VARIABLES["to"] = to = module.to
            made = variable.__new__
            proxy = torch.fx.Proxy

            def new(cls: Any, *args: Any, **kwargs: Any) -> Any:
                data = args[0] if args else kwargs.get("data")
                return data if isinstance(data, proxy) else made(cls, *args, **kwargs)

            def moved(self: Any, *args: Any, **kwargs: Any) -> Any:
                given = (*args, *kwargs.values())
                traced = [v for v in given if isinstance(v, proxy)]
                dtypes = [v for v in given if isinstance(v, torch.dtype)]
                # (torch moves a module to floats only: ``.to(ids)`` of integers raises, so does the call here)
                if (
                    traced
                    and not any(_integral_node(v.node) or _boolean_node(v.node) for v in traced)
                    and all(d.is_floating_point or d.is_complex for d in dtypes)
                ):
                    return self
                return to(self, *args, **kwargs)

            variable.__new__ = new
            module.to = functools.wraps(to)(moved)
        _VARIABLES["readers"] += 1
    try:
        yield
    finally:
        with _LOGS_LOCK:
            _VARIABLES["readers"] -= 1
            if _VARIABLES["readers"] == 0:
                module.to = _VARIABLES.pop("to")
                own = _VARIABLES.pop("new")
                if own is None:
                    del variable.__new__
                else:
                    variable.__new__ = own


_VARIABLES: dict[str, Any] = {"readers": 0}  # the traces under way in every thread, and what they changed


class SharedSettingsError(Exception):
    """A traced forward set attributes of an object other modules hold (see ``settings_kept``)."""


class QuietSubclass:
    """A first base of the stand-in classes convcalc makes of a user's class: its ``__init_subclass__`` does
    nothing, so that making one runs none of the user's (a registry of subclasses, a forward wrapped, a required
    class keyword)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        del kwargs


@contextlib.contextmanager
def logs_kept() -> Iterator[None]:
    """While a forward is read, the records Python's ``logging`` is given in this thread are dropped, as its
    warnings are: a read passes traced values where a call gives None (diffusers' blocks then log "Passing
    `scale` to `cross_attention_kwargs` is deprecated" two dozen times for a plan of its UNet); other threads log
    as before. ``Logger.handle`` is wrapped while any thread reads, and put back when the last one is done."""
    import logging

    with _LOGS_LOCK:
        if _LOGS["readers"] == 0:
            _LOGS["handle"] = handle = logging.Logger.handle

            def quiet(self: logging.Logger, record: logging.LogRecord) -> None:
                if not getattr(_READING, "depth", 0):
                    handle(self, record)

            logging.Logger.handle = quiet  # type: ignore[method-assign]
        _LOGS["readers"] += 1
    _READING.depth = getattr(_READING, "depth", 0) + 1
    try:
        yield
    finally:
        _READING.depth -= 1
        with _LOGS_LOCK:
            _LOGS["readers"] -= 1
            if _LOGS["readers"] == 0:
                logging.Logger.handle = _LOGS.pop("handle")  # type: ignore[method-assign]


_READING = threading.local()  # how many reads this thread is inside
_LOGS_LOCK = threading.Lock()
_LOGS: dict[str, Any] = {"readers": 0}  # the reads under way in every thread, and the handle they wrapped


@contextlib.contextmanager
def written_out() -> Iterator[None]:
    """While tracing: a tensor the forward holds as it is (made from numbers, or a buffer) and hands a traced call
    as ``out=`` (``torch.add(x, 1, out=v)``) holds torch's result only in the graph; a later use with no traced
    value (``v * 2``, ``v.shape``) fx computes on the tensor as it was, another shape or other values. Such a use
    is refused (torch's pass runs the forward); uses beside a traced value are recorded, and read as written."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_leaves

    torch = _torch()
    written: dict[int, Any] = {}  # (kept alive: an id is the tensor's only while it lives)

    class Writes(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            leaves = tree_leaves((args, kwargs))
            if any(isinstance(v, torch.fx.Proxy) for v in leaves):
                written.update((id(t), t) for t in tree_leaves(kwargs.get("out")) if isinstance(t, torch.Tensor))
            elif written and any(id(v) in written for v in leaves if isinstance(v, torch.Tensor)):
                name = getattr(func, "__name__", str(func))
                raise RuntimeError(
                    f"{name} reads a tensor the forward made and wrote with out= of a traced call, as it was before"
                )
            return func(*args, **kwargs)

    with Writes():
        yield


def stand_in_class(cls: Any, forward: Any) -> Any:
    """A subclass of ``cls`` under its own name, whose forward is ``forward``: made without the user's
    ``__init_subclass__`` (see ``QuietSubclass``)."""
    made = type(cls)(
        cls.__name__, (QuietSubclass, cls), {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    )
    made.forward = forward
    return made


@functools.lru_cache(maxsize=256)
def _called_through_wrapper(cls: Any, forward: Any) -> Any:
    """For a class whose forward is a ``functools.wraps`` wrapper taking ``(self, *args, **kwargs)`` (Hugging
    Face's ``merge_with_config_defaults``, ``can_return_tuple``) around a forward with keyword-only inputs or
    ``**kwargs``: a subclass whose forward has the wrapped forward's own signature and calls the wrapper with
    the inputs as the wrapped forward takes them, and no other keywords. fx makes one input for each of the wrapped forward's parameters
    and rewrites the function it calls to take them all by position: the wrapper's own code, so its ``kwargs``
    took an input's place (``kwargs.get("debug_io")`` asked of a traced mask). None for any other class.
    ``forward``: the class's own (a key of the kept classes: a forward patched on the class is another)."""
    try:
        original = inspect.unwrap(forward)
        parameters = list(inspect.signature(original).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return None
    code = getattr(original, "__code__", None)
    own = getattr(forward, "__code__", None)
    varstuff = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
    if original is forward or code is None or not (code.co_kwonlyargcount or code.co_flags & varstuff):
        return None
    if own is None or not own.co_flags & varstuff:  # a wrapper with its own parameters: fx reads it as it is
        return None
    kinds = inspect.Parameter
    if any(p.kind is kinds.VAR_POSITIONAL for p in parameters) or not parameters:
        return None
    defaults = {p.name: p.default for p in parameters if p.default is not kinds.empty}
    header, call, star = [], [], False
    for p in parameters:
        default = f"=__defaults[{p.name!r}]" if p.name in defaults else ""
        if p.kind is kinds.VAR_KEYWORD:
            header.append(f"**{p.name}")
            call.append(f"**{p.name}")
            continue
        if p.kind is kinds.KEYWORD_ONLY and not star:
            header.append("*")
            star = True
        header.append(f"{p.name}{default}")
        # (a required input by position, an optional one by name, as code calls a forward: a wrapper may add to
        # the inputs it is given by position, and Hugging Face's merges an optional one it is given by name)
        positional = p.kind is kinds.POSITIONAL_ONLY or (
            p.kind is kinds.POSITIONAL_OR_KEYWORD and p.name not in defaults
        )
        call.append(p.name if positional else f"{p.name}={p.name}")
    source = f"def forward({', '.join(header)}):\n    return __wrapper({', '.join(call)})\n"
    namespace: dict[str, Any] = {"__defaults": defaults, "__wrapper": forward}
    exec(compile(source, f"<forward of {cls.__qualname__} through its wrapper>", "exec"), namespace)
    made = namespace["forward"]
    made.__qualname__ = f"{cls.__qualname__}.forward"
    return stand_in_class(cls, made)


def shallow_clone(module: Any) -> Any:
    """The module with its own attribute, child, parameter and buffer tables but the same children and tensors:
    a forward that sets attributes on itself (``self.first = False``, ``self.extra = nn.Conv2d(...)``) changes
    the clone when traced, never the user's module. Its plain dicts, lists and sets are copies too: a forward
    that caches into one (timm's EfficientFormer: ``self.attention_bias_cache[str(x.device)] = ...``) would
    otherwise leave a traced value in the user's module, which the next trace would read."""
    import copy

    try:
        clone = copy.copy(module)
    except RuntimeError:  # a parametrized module refuses to be copied ("only supported through state_dict()")
        clone = object.__new__(type(module))
        clone.__dict__.update(module.__dict__)
    for name, value in module.__dict__.items():
        if type(value) in (dict, list, set) or name in ("_modules", "_parameters", "_buffers"):
            clone.__dict__[name] = copy.copy(value)
    return clone
