"""The fallback: a forward convcalc cannot read, run by torch on the meta device, every layer call and tensor
function in it replayed with convcalc's rules on the shapes torch gives (rows marked ``source="torch"``)."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections import Counter
from typing import Any

from convcalc._errors import ConvCalcError, ShapeError, SpecError
from convcalc._plan import Unowned
from convcalc.torch.devices import DeviceAnswers, made_on_cpu_to_meta, model_device
from convcalc.torch.draws import MetaDraws, python_draws_refused
from convcalc.torch.meta import (
    _ORIGINALS,
    PACKED,
    _meta_copy,
    _plain_containers,
    _plainly_held,
    _quiet_compiled,
    _replaced_forward,
    _run_uncompiled,
    _value_checks_off,
    packs,
)
from convcalc.torch.nodes import ListValue, Outputs, _Attr, _input_name, _join, _torch, child_module, integer_leaves
from convcalc.torch.ops import _HANDLERS
from convcalc.torch.scripted import _scripted_mac_error, _torchscript_mac_op
from convcalc.torch.shadow import Shadow
from convcalc.torch.trace import (
    _apply_rule,
    _Book,
    _canonical,
    _describe_with_nn,
    _leaf_spec,
    _rule_for,
    _torch_base,
    _uninitialised,
    is_functional,
)
from convcalc.torch.values import (
    ReaderSignalError,
    RunRefusedError,
    _attr_row,
    _Call,
    _describe_value,
    _handles,
    _leaves,
    _Opaque,
    _output_size_given,
    _Pair,
    _sized_transpose,
    _Tensor,
    _transposed,
    public_error,
)


class _TorchRejectsError(ReaderSignalError):
    """torch itself cannot run the forward on meta tensors of these shapes."""


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
        "lstm_cell",
        "gru_cell",
        "rnn_tanh_cell",
        "rnn_relu_cell",
        "linalg_matmul",
        "linalg_multi_dot",
        "multi_dot",
        "chain_matmul",
        "inner",
        "mv",
        "dot",
        "vdot",
        "linalg_vecdot",
        "outer",
        "ger",
        "addr",
        "addmv",
        "kron",
        "convolution",
        "_convolution",
        "conv_tbc",
    }
)


class _Run:
    """What one meta-device pass saw: each call of a module convcalc has a rule for, and each tensor function
    called outside such a module, in the order they finished."""

    def __init__(self, root: Any, path: str, model: Any = None, whole_copy: Any = None) -> None:
        """``root``: the meta copy the run calls; ``model``: the whole model it is part of, where known, and
        ``whole_copy``: its meta copy, where ``root`` is inside it."""
        self.root, self.path = root, path
        # the run's own module is named by its path ("a", not "a."); a module held twice by its first name; the
        # whole model's others by theirs
        self.names = {} if whole_copy is None else {id(m): name for name, m in whole_copy.named_modules()}
        self.names.update(
            (id(m), _join(path, name) if name else path) for name, m in root.named_modules(remove_duplicate=False)
        )
        for name, m in root.named_modules():
            self.names[id(m)] = _join(path, name) if name else path
        # modules held in a plain list, tuple or dict of one of the model's modules, which torch does not register,
        # and the modules inside them: named by where they are held ("blocks.0", "blocks.0.conv"), with the
        # container and the module held there
        self.held: dict[int, tuple[str, str, str, Any]] = {}
        for at, kind, where, top in _plainly_held(root):
            for inner, m in top.named_modules():
                name = _join(where, inner) if inner else where
                self.held.setdefault(id(m), (_join(path, name), _join(path, at), kind, top))
        self.given: dict[int, str] = {}  # the names of modules made in forward, each its own
        self.unowned: set[int] = set()  # the modules not the model's already noted (each once, however often called)
        # the model's own: a tied weight is not "not the model's", nor one tied to a layer outside the copy
        self.params = {id(p) for p in root.parameters()}
        if model is not None:
            whole = {id(p) for p in model.parameters()}
            copied = _ORIGINALS.get(root if whole_copy is None else whole_copy, {})
            self.params.update(m for m, t in copied.items() if t in whole)
        self.stack: list[Any] = []
        self.events: list[tuple[Any, ...]] = []
        self.spans: dict[int, tuple[Any, Any]] = {}  # a tensor of whole numbers -> its least and greatest (a draw's)
        self.leaf: dict[int, bool] = {}
        self.deferred: set[int] = set()  # modules entered by a pre-hook of their own, the last (see ``pre``)
        self.entered: tuple[int, int] | None = None  # the plan's rows and groups when the root's forward started
        self.active = False

    def is_leaf(self, module: Any, args: Any = None) -> bool:
        """Whether a call of ``module`` is planned by its rule (its calls inside are not followed). A forward set on
        the instance is followed call by call, unless it runs exactly what the class's does on the ``args`` of its
        first call (a wrapper that only calls it: ``torch.no_grad()(f)``, a pass-through)."""
        ident = id(module)
        if ident not in self.leaf:
            torch = _torch()
            cls = type(module)
            base = _torch_base(cls)
            self.leaf[ident] = (
                _rule_for(cls) is not None
                or isinstance(module, torch.jit.ScriptModule)
                or (base is not None and base.__name__ not in _COMPOSITES)
            ) and (not _replaced_forward(module) or (args is not None and self._runs_the_class_forward(module, args)))
        return self.leaf[ident]

    def _runs_the_class_forward(self, module: Any, args: Any) -> bool:
        """Whether the forward set on ``module``'s instance makes the operations the class's forward makes, on the
        same shapes, for ``args`` (both run on the meta tensors, out of the pass's sight)."""
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        torch = _torch()

        class Operations(TorchDispatchMode):  # type: ignore[no-untyped-call]
            def __init__(self) -> None:
                super().__init__()  # type: ignore[no-untyped-call]
                self.made: list[tuple[str, tuple[tuple[int, ...], ...]]] = []

            def __torch_dispatch__(self, func: Any, types: Any, f_args: Any = (), f_kwargs: Any = None) -> Any:
                out = func(*f_args, **(f_kwargs or {}))
                shapes = tuple(tuple(t.shape) for t in tree_leaves(out) if isinstance(t, torch.Tensor))
                self.made.append((str(func), shapes))
                return out

        active, self.active = self.active, False
        try:
            with Operations() as own:
                module.forward(*args)
            with Operations() as its:
                type(module).forward(module, *args)
        except Exception:  # (the user's forward may raise anything): followed call by call, as torch runs it
            return False
        finally:
            self.active = active
        return bool(own.made == its.made)

    def not_the_models(self, module: Any, outer: list[Any]) -> tuple[str, Any, str, str | None, str | None]:
        """A module the model does not register, called: its name, the outermost such module around it (the one
        held in a plain container, or made in forward) and that one's name, the container and its type."""
        held = self.held.get(id(module))
        if held is not None:
            name, at, kind, top = held
            return name, top, self.held[id(top)][0], at, kind
        top = next((m for m in outer if id(m) not in self.names and id(m) not in self.held), module)
        top_name = self.given.get(id(top)) or self._fresh(top)
        inner = next((n for n, m in top.named_modules() if m is module), "")
        return (_join(top_name, inner) if inner else top_name), top, top_name, None, None

    def _fresh(self, module: Any) -> str:
        """A name for a module made in forward: its class's, numbered where another module has it."""
        base = _join(self.path, type(module).__name__.lower())
        taken = {*self.names.values(), *(h[0] for h in self.held.values()), *self.given.values()}
        name, n = base, 0
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        self.given[id(module)] = name
        return name

    def inside_leaf(self) -> bool:
        return any(self.is_leaf(m) for m in self.stack)

    def own_pre_hooks_first(self, modules: Any) -> list[Any]:
        """Each of ``modules`` with forward pre-hooks of its own is entered only after them, when its forward
        starts: torch runs the global pre-hook (``pre``) before a module's own, and what those call (an adapter,
        ``args[0] @ P``) is no part of the module's call, but work of its own. The handles, to remove."""
        handles = []
        for module in modules:
            if module._forward_pre_hooks and id(module) not in self.deferred:
                self.deferred.add(id(module))
                handles.append(module.register_forward_pre_hook(self.enter))
        return handles

    def pre(self, module: Any, args: Any) -> None:
        if id(module) not in self.deferred:
            self.enter(module, args)

    def enter(self, module: Any, args: Any) -> None:
        if self.active:
            _not_vmapped(args, type(module).__name__, self.path)
            self.is_leaf(module, args)  # (a forward set on the instance is tried on its first call's inputs)
            self.events.append(("enter", module))
            self.stack.append(module)

    def post(self, module: Any, args: Any, kwargs: Any, output: Any) -> None:
        if self.active and self.stack and self.stack[-1] is module:
            self.stack.pop()
            # as they are now: a list the module returns (or was given) may be assigned into by its caller later
            self.events.append(("exit", module, _as_now(args), _as_now(output), _as_now(kwargs or {})))


def _as_now(value: Any) -> Any:
    """``value`` with its lists, plain tuples and dicts copied (the tensors in them as they are)."""
    if isinstance(value, list):
        return [_as_now(v) for v in value]
    if type(value) is tuple:
        return tuple(_as_now(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_now(v) for k, v in value.items()}
    return value


def _not_vmapped(args: Any, what: str, path: str) -> None:
    """Under ``torch.vmap`` each call sees one example's shapes: its rows would count one example of many."""
    torch = _torch()
    for value in args if isinstance(args, (tuple, list)) else (args,):
        if isinstance(value, torch.Tensor) and torch._C._functorch.is_batchedtensor(value):
            raise SpecError(
                f"{path or '<model>'} ({what}): is called inside torch.vmap, where each call sees the shapes of one "
                f"example; convcalc would count one example of the mapped batch. Write the layer on the batch "
                f"(most layers take it), or plan the mapped function alone. Received: function={what}"
            )
        if isinstance(value, (tuple, list)):
            _not_vmapped(value, what, path)


def _torch_call(
    module: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ctx: Any,
    path: str,
    kind: str,
    reason: str,
    held: bool = False,
    called: list[Any] | None = None,
    writes: dict[int, tuple[Any, Any]] | None = None,
    place: list[int] | None = None,
) -> Any:
    """Plan one call of ``module`` with torch's shape machinery: a meta copy runs on meta tensors of the shapes
    planned so far, and every module call and tensor function it makes is planned with convcalc's rules on the
    shapes torch gives there. Rows added here are marked ``source="torch"``. ``held``: the caller holds the
    module's place among the containers the torchinfo layout lists (a Graph, a TorchCall), so the run does not
    list it again; ``called`` (a list) is given the shape of the first input the module's forward took, after its
    forward pre-hooks (what torchinfo's hooks, registered after them, show as its input); ``writes`` is told of
    the lists given that the forward assigned into (``x[i] = self.m[i](x[i])``): the caller's list changes too.
    ``place``: the slot and first row of the caller's group for the module (``held``), moved after what the
    module's own forward pre-hooks called: torchinfo's hooks, registered after them, list the module there."""
    torch = _torch()
    where = f"{path or '<model>'} ({kind})"
    shapes = [t.shape for t in _leaves(args) + _leaves(tuple(kwargs.values()))]
    if any(type(d) is not int for shape in shapes for d in shape):
        raise SpecError(
            f"{where}: {reason}; convcalc can plan this module only with torch's shape machinery, which needs "
            f"concrete sizes, not symbols. Plan with numbers, or register a rule for {kind}. "
            f"Received: input_shape={shapes[0] if len(shapes) == 1 else tuple(shapes)}"
        )
    scripted = _scripted_mac_error(module, where)
    if scripted is not None:
        raise scripted
    book = getattr(ctx.owner, "__self__", None)
    book = book if isinstance(book, _Book) else None
    model = None if book is None else book.root
    copy, whole = None, None
    inside = None if book is None or model is module else book.names.get(id(module))
    if book is not None and inside is not None:
        # the copy inside the whole model's: a function its forward runs that reads another of the model's modules
        # (a wrapper's ``owner.lora_b(...)``, a hook's adapter) reads that module's copy, called by its name
        if book.meta_copy is None:
            book.meta_copy = _meta_copy(model)
        whole = book.meta_copy
        copy = child_module(whole, inside)
        if type(copy) is not type(module):  # (a TorchScript module's copy is named otherwise)
            copy, whole = None, None
    try:
        copy = _meta_copy(module) if copy is None else copy
    except Exception as exc:  # an attribute no copy can be made of (an open file)
        raise SpecError(
            f"{where}: {reason}, and torch's pass runs it on a copy on the meta device, which Python cannot make "
            f"({type(exc).__name__}: {exc}). Received: module={kind}"
        ) from None
    _run_uncompiled(copy)
    known: dict[int, Any] = {}  # id of a meta tensor -> its receptive field
    alive: list[Any] = []
    longs: frozenset[int] = frozenset()  # the inputs, in order, taken as integers
    # a float input in the dtype the module computes in: its parameters' where they all have one (a .double()
    # model), else torch's default (a model of mixed dtypes casts where it needs)
    floats = _one_float_dtype(module) or torch.float32

    made: dict[int, Any] = {}  # a list or dict given twice is one meta list (an assignment through one shows in both)

    def meta(value: Any) -> Any:
        if isinstance(value, (ListValue, dict)) and id(value) in made:
            return made[id(value)]
        result = _meta(value)
        if isinstance(value, (ListValue, dict)):
            made[id(value)] = result
        return result

    def _meta(value: Any) -> Any:
        if isinstance(value, _Tensor):
            dtype = torch.long if len(alive) in longs else floats
            tensor = torch.empty(value.shape, device="meta", dtype=dtype)
            shadow.given(tensor, value, model is None or model is module)  # (its values, where the reader knows them)
            known[id(tensor)] = value.rf
            alive.append(tensor)
            return tensor
        if isinstance(value, ListValue):
            return [meta(v) for v in value]
        if isinstance(value, tuple):
            return type(value)(meta(v) for v in value) if type(value) is tuple else tuple(meta(v) for v in value)
        if isinstance(value, list):  # a list of tensors as one argument (torchinfo's input_data=[[a, b]])
            return [meta(v) for v in value]
        if isinstance(value, dict):
            return {k: meta(v) for k, v in value.items()}
        return value

    from torch.overrides import TorchFunctionMode

    devices = DeviceAnswers(model_device(module if model is None else model))

    class Functions(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, f_args: Any = (), f_kwargs: Any = None) -> Any:
            asked, answer = devices.answer(func, f_args)  # (``x.is_cuda``: the model's device, not the meta device)
            if asked:
                return answer
            call, f_args, f_kwargs = devices.on_meta(func, f_args, f_kwargs or {})
            try:
                out = draws.call(call, f_args, f_kwargs)  # (torch's random draws, made on the meta device)
            except RuntimeError:  # ``x + torch.from_numpy(table)``: a CPU tensor beside meta ones, on a CPU model
                moved = made_on_cpu_to_meta(f_args, f_kwargs) if devices.device.type == "cpu" else None
                if moved is None:
                    raise
                f_args, f_kwargs = moved
                out = draws.call(call, f_args, f_kwargs)
            shadow.seen(func, f_args, f_kwargs, out)
            if run.active and _holds_tensor(out):
                _not_vmapped((out, *f_args), getattr(func, "__name__", str(func)), run.path)
                if not run.inside_leaf():
                    run.events.append(("function", func, f_args, f_kwargs, out))
            return out

    from torch.nn.modules import module as torch_module

    # a plan's inputs are taken as floats; where torch asks for integers (token ids into an embedding), each one
    # alone as those (an image beside token ids), then all
    count = len(shapes)
    # (first, the inputs whose names say they are integers: ``input_ids`` beside ``pixel_values``, ``labels``)
    named = integer_leaves(module, args, kwargs, lambda v: isinstance(v, _Tensor))
    tries = list(dict.fromkeys([named, frozenset(), *(frozenset({j}) for j in range(count)), frozenset(range(count))]))
    asked = False  # the floats' refusal asked for integers (token ids into an embedding)
    for longs in tries:
        run = _Run(copy, path, model, whole)
        draws = MetaDraws(run, where)
        shadow = Shadow(draws.module)  # the values of its small integer tensors, for torch's checks of indices
        shadow.buffers(module, copy)
        known.clear()
        alive.clear()
        pre = torch_module.register_module_forward_pre_hook(run.pre)
        post = torch_module.register_module_forward_hook(run.post, with_kwargs=True)
        # first of the global hooks: each module's own output, before a hook of the user's changes it
        hooks: Any = torch_module._global_forward_hooks  # an OrderedDict
        hooks.move_to_end(post.id, last=False)
        # the modules a hook may call: the whole model's, where the run is inside it, and those held in plain lists
        held_here = (m for *_, top in run.held.values() for m in top.modules())
        own_hooks = run.own_pre_hooks_first(itertools.chain((copy if whole is None else whole).modules(), held_here))
        try:
            made.clear()
            m_args, m_kwargs = meta(args), meta(kwargs)
            lists = _containers(args, kwargs, m_args, m_kwargs)
            run.active = True
            # tensors the forward makes (``torch.zeros(n, h)``, a mask) are made on the meta device too
            with (
                torch.no_grad(),
                torch.device("meta"),
                Functions(),
                shadow.mode(),
                _value_checks_off(),
                _quiet_compiled(),
                python_draws_refused(where),
            ):
                output = copy(*m_args, **m_kwargs)
            break
        except ConvCalcError:
            raise
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if longs is tries[0]:  # the first refusal says why, unless it asked for integers and those fail too
                refusal = f"{type(exc).__name__}: {message.rstrip('. ')}"
                asked = _asks_for_integers(message)
                if asked or (longs and len(tries) > 1):
                    continue
            elif longs != tries[-1]:
                continue
            elif asked:  # every input as integers, as the floats' refusal asked: that run's refusal
                refusal = f"with the inputs as integers, {type(exc).__name__}: {message.rstrip('. ')}"
            raise _TorchRejectsError(
                f"{where}: {reason}, and torch cannot run it on meta tensors of these shapes either "
                f"({refusal}). {PACKED if packs(module, message) else ''}{_unregistered(module)}"
                f"{_describe_with_nn(type(module))} "
                f"Received: input_shape={shapes[0] if len(shapes) == 1 else tuple(shapes)}, module={kind}"
            ) from None
        finally:
            run.active = False
            pre.remove()
            post.remove()
            for handle in own_hooks:
                handle.remove()
    groups = len(ctx.groups)
    with ctx.made_as(_from_torch):
        _replay(run, ctx, path, known, held)
    if held and place is not None and place[0] >= 0 and run.entered is not None:
        rows, opened = run.entered
        if opened > groups:  # containers its pre-hooks called: listed before it
            ctx.groups.insert(opened - 1, ctx.groups.pop(place[0]))
            place[0] = opened - 1
        place[1] = rows
    if writes is not None:
        _written(lists, known, where, writes)
    if called is not None:
        called.extend(_shown_shape(e[2]) for e in run.events[-1:] if e[0] == "exit" and e[1] is copy)
    return _from_meta(output, known, where)


def _containers(
    args: tuple[Any, ...], kwargs: dict[str, Any], m_args: Any, m_kwargs: dict[str, Any]
) -> list[tuple[Any, Any, Any]]:
    """Each list and dict among the inputs (inside tuples, lists and dicts too), with its meta copy and what that
    holds before the run: ``(given, meta copy, items)``."""
    found: list[tuple[Any, Any, Any]] = []

    def walk(given: Any, copy: Any) -> None:
        if type(given) is ListValue and isinstance(copy, list):
            found.append((given, copy, tuple(copy)))
            for g, c in zip(given, copy, strict=False):
                walk(g, c)
        elif isinstance(given, dict) and isinstance(copy, dict):
            found.append((given, copy, dict(copy)))
            for key, g in given.items():
                walk(g, copy.get(key))
        elif isinstance(given, tuple) and isinstance(copy, (tuple, list)):
            for g, c in zip(given, copy, strict=False):
                walk(g, c)

    walk((*args, *kwargs.values()), (*m_args, *m_kwargs.values()))
    return found


def _written(
    containers: list[tuple[Any, Any, Any]], known: dict[int, Any], where: str, writes: dict[int, tuple[Any, Any]]
) -> None:
    """The lists and dicts given whose meta copies the forward changed, as they are now."""
    for given, copy, before in containers:
        if isinstance(copy, list):
            if len(copy) != len(before) or any(a is not b for a, b in zip(copy, before, strict=False)):
                writes[id(given)] = (given, ListValue(_from_meta(copy, known, where)))
        elif copy.keys() != before.keys() or any(copy[k] is not before[k] for k in copy):
            writes[id(given)] = (given, {k: _from_meta(v, known, where) for k, v in copy.items()})


def _unregistered(module: Any) -> str:
    """What a model holds in a plain list, tuple or dict of modules, which torch does not register: their tensors
    are not the model's (not in ``parameters()``, not moved by ``.to()``: a meta or CUDA copy leaves them on the
    CPU), the usual reason a forward that runs as written fails on another device."""
    for where, value, held in _plain_containers(module):
        kind = "nn.ModuleDict" if isinstance(value, dict) else "nn.ModuleList"
        return (
            f"{where} holds {len(held)} module(s) in a plain {type(value).__name__}, which torch does not "
            f"register: their parameters are not the model's (not counted, trained or moved by .to()); "
            f"hold them in {kind}. "
        )
    return ""


def _not_owned(ctx: Any, run: _Run, module: Any, name: str, held_in: str | None, container: str | None) -> None:
    """Note a module the forward calls whose parameters torch does not count as the model's (a weight it shares
    with one of the model's modules is the model's)."""
    tensors = [t for t in module.parameters() if id(t) not in run.params]
    if tensors:
        trainable = sum(t.numel() for t in tensors if t.requires_grad)
        total = sum(t.numel() for t in tensors)
        ctx.unowned.append(Unowned(name, type(module).__name__, trainable, total - trainable, held_in, container))


def _from_torch(row: Any) -> Any:
    """A row whose shapes torch's shape machinery gave."""
    return dataclasses.replace(row, source="torch")


def _asks_for_integers(message: str) -> bool:
    """Whether torch refused float inputs where it takes indices (an embedding's token ids)."""
    return "Long" in message or "long or int" in message or "integ" in message.lower()  # integer, integral


def _shown_shape(value: Any) -> tuple[int, ...]:
    """The shape torchinfo shows for a module's inputs (the tuple of its arguments) or output: a tensor's, a
    dict's last value's, a list's or tuple's first item's, item by item (torchinfo's ``calculate_size``);
    ``()`` where that is no tensor (HRNet's fuse layer takes a list and returns one: its first tensor)."""
    value = _shown_value(value)
    return tuple(int(d) for d in value.shape) if isinstance(value, _torch().Tensor) else ()


def _one_float_dtype(module: Any) -> Any:
    """The floating-point dtype every floating-point parameter of ``module`` has, or None (none, or several)."""
    found = {t.dtype for t in module.parameters() if t.dtype.is_floating_point}
    return found.pop() if len(found) == 1 else None


def _first_shape(value: Any) -> tuple[int, ...]:
    """The shape of the first tensor in a module's output (depth first), or ``()`` where it holds none."""
    if isinstance(value, _torch().Tensor):
        return tuple(int(d) for d in value.shape)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        shape = _first_shape(item)
        if shape or isinstance(item, _torch().Tensor):
            return shape
    return ()


def _shown_value(value: Any) -> Any:
    """What torchinfo sizes a module's inputs or output by: a dict's last value, a list's or tuple's first item,
    item by item."""
    if isinstance(value, dict):
        value = list(value.values())[-1] if value else None
    while isinstance(value, (list, tuple, dict)) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


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
    if isinstance(value, dict) and dataclasses.is_dataclass(value):  # a ModelOutput: read as that class reads
        fields = tuple(f.name for f in dataclasses.fields(value))
        return Outputs.of(((k, _from_meta(v, known, where)) for k, v in value.items()), fields)
    if isinstance(value, dict):
        return {k: _from_meta(v, known, where) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # an output class: its fields by name
        return {f.name: _from_meta(getattr(value, f.name), known, where) for f in dataclasses.fields(value)}
    return _Opaque(type(value).__name__)


#: torch.nn classes whose forward only calls their children (and functions): replayed call by call, as a user's
#: module is, rather than as one layer
_COMPOSITES = frozenset(
    {
        "Sequential",
        "ModuleList",
        "ModuleDict",
        "Module",
        "Transformer",
        "TransformerEncoder",
        "TransformerDecoder",
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
    }
)


def _replay(run: _Run, ctx: Any, path: str, known: dict[int, Any], held: bool) -> None:
    """Plan, with convcalc's rules, each call the meta pass made, on the shapes torch gave. ``held``: the
    caller holds the run's own module's place among the containers the torchinfo layout lists."""
    starts: list[int] = []
    slots: list[int] = []  # a container's place in the torchinfo layout, taken when it is entered
    counts: Counter[str] = Counter()
    outer: list[Any] = []  # the containers entered, outermost first
    depth = 0
    for event in run.events:
        if event[0] == "enter":
            module = event[1]
            if module is run.root and run.entered is None:
                run.entered = (len(ctx.rows), len(ctx.groups))
            if depth == 0:
                starts.append(len(ctx.rows))
                own = held and run.names.get(id(module)) == run.path  # listed once, by its caller
                slots.append(-1 if run.is_leaf(module) or own else ctx.open_group())
                if not run.is_leaf(module):
                    outer.append(module)
            if run.is_leaf(module) or depth:
                depth += 1
            continue
        if event[0] == "exit":
            module, args, output = event[1], event[2], event[3]
            if depth:
                depth -= 1
                if depth:
                    continue
                _replay_module(run, module, args, output, ctx, known, event[4], outer)
            else:
                if outer and outer[-1] is module:
                    outer.pop()
                start = starts.pop() if starts else len(ctx.rows)
                slot = slots.pop() if slots else -1
                name = run.names.get(id(module))
                if name is not None:  # the run's own module too (""), whatever its forward returns
                    if slot >= 0 and name:
                        # the first tensor it returns, where torchinfo sizes the call by no tensor (``return
                        # None, x``) marked so: it shows no shape there and counts no bytes
                        value = _shown_value(output)
                        tensor = isinstance(value, _torch().Tensor)
                        shown = tuple(int(d) for d in value.shape) if tensor else _first_shape(output)
                        ctx.close_group(slot, start, name, type(module).__name__, shown, _shown_shape(args), tensor)
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


def _replay_module(
    run: _Run,
    module: Any,
    args: Any,
    output: Any,
    ctx: Any,
    known: dict[int, Any],
    kwargs: dict[str, Any],
    outer: list[Any],
) -> None:
    """The rows of one call of a module torch ran."""
    name = run.names.get(id(module))
    owned = name is not None  # one of the model's modules, not one held in a plain list or made in forward
    if name is None:
        name, top, top_name, held_in, container = run.not_the_models(module, outer)
        if id(top) not in run.unowned:
            run.unowned.add(id(top))
            _not_owned(ctx, run, top, top_name, held_in, container)
    # a module made in forward: its tensors are not the model's
    with contextlib.nullcontext() if owned else ctx.made_as(_holding_nothing):
        torch = _torch()
        cls = type(module)
        where = f"{name} ({cls.__name__})"
        if not args and len(kwargs) == 1 and next(iter(kwargs)) == _input_name(module.__class__):  # conv(input=x)
            args, kwargs = tuple(kwargs.values()), {}
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        out_shape = tuple(int(d) for d in output.shape) if isinstance(output, torch.Tensor) else None
        spec = None
        # (a leaf: a forward set on the instance is no leaf's, its calls are planned each by its own rule)
        if _rule_for(cls) is not None:
            spec = _apply_rule(_rule_for(cls), module, where, cls)  # type: ignore[arg-type]
        elif not isinstance(module, torch.jit.ScriptModule):
            spec = _leaf_spec(module, where)
        if any(isinstance(a, torch.nn.utils.rnn.PackedSequence) for a in (*args, *kwargs.values())):
            raise SpecError(f"{where}: it is called with a PackedSequence. {PACKED}Received: input=PackedSequence")
        if isinstance(spec, _transposed()) and len(tensors) == 1 and _output_size_given(args, kwargs):
            # ``nn.ConvTranspose2d(...)(x, output_size=...)``: the output padding that gives the size asked for
            size = args[1] if len(args) == 2 else kwargs["output_size"]
            in_sizes = tuple(int(d) for d in tensors[0].shape)
            spec = _sized_transpose(spec, in_sizes, [int(d) for d in size], name)
            args, kwargs = (tensors[0],), {}
        if spec is not None and len(tensors) == 1 and len(args) == 1 and out_shape is not None:
            if owned:  # the book counts the layer's own tensors: requires_grad, shared and tied ones
                _book_leaf(ctx, module, run)
            in_shape = tuple(int(d) for d in tensors[0].shape)
            rf = known.get(id(tensors[0]))
            if rf is not None and len(rf) != len(in_shape) - 2:  # a field of another rank (an axis added or folded)
                rf = None
            shape, rf = spec._plan((in_shape, rf), ctx, name)
            if tuple(shape) != out_shape:
                raise SpecError(
                    f"{where}: convcalc's rule gives {tuple(shape)} but torch gives {out_shape}; convcalc cannot "
                    f"plan this call. Received: input_shape={in_shape}"
                )
            known[id(output)] = rf
        elif isinstance(spec, _multi_output()):  # an LSTM's (output, (h, c)), attention's query, key and value
            several: Any = spec
            if owned:
                _book_leaf(ctx, module, run)
            planned = several._outputs(_layer_shapes(args), {k: _layer_shapes(v) for k, v in kwargs.items()}, ctx, name)
            if _plain_shapes(planned) != _plain_shapes(_layer_shapes(output)):
                raise SpecError(
                    f"{where}: convcalc's rule gives {_plain_shapes(planned)} but torch gives "
                    f"{_plain_shapes(_layer_shapes(output))}; convcalc cannot plan this call. "
                    f"Received: inputs={_plain_shapes(_layer_shapes(args))}"
                )
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


def _holding_nothing(row: Any) -> Any:
    return dataclasses.replace(row, trainable=0, non_trainable=0, buffers=0)


def _multi_output() -> type:
    from convcalc.nn import _MultiOutput

    return _MultiOutput


def _layer_shapes(value: Any) -> Any:
    """torch's tensors as the shapes a layer of several tensors takes (``_Shape``), other values as they are."""
    from convcalc.nn import _Shape

    torch = _torch()
    if isinstance(value, torch.Tensor):
        return _Shape(int(d) for d in value.shape)
    if isinstance(value, (tuple, list)):
        return tuple(_layer_shapes(v) for v in value)
    return value


def _plain_shapes(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_plain_shapes(v) for v in value)
    return value


def _mac_layer(module: Any) -> bool:
    name = getattr(module, "original_name", type(module).__name__)
    return any(part in name for part in ("Conv", "Linear", "Bilinear", "LSTM", "GRU", "RNN", "Attention"))


def _book_leaf(ctx: Any, module: Any, run: _Run) -> None:
    """Make the book count the tensors of a module read as one layer only here (a TorchScript module)."""
    book = getattr(ctx.owner, "__self__", None)
    if isinstance(book, _Book):
        rel = run.names.get(id(module), "")
        original = book._walk(rel)[0]  # the book's root itself where the run is the whole model (a hooked layer)
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
    if raw == "__getitem__" and any(id(t) in run.spans for t in _flat_tensors(tuple(f_args[1:]))):
        kind = "getitem"  # ``x[:, torch.randint(0, 10, (3,))]``: the drawn index checked against the axis
    if not kind:
        return
    owner = run.names.get(id(run.stack[-1])) if run.stack else run.path
    counts[_join(owner or "", kind)] += 1
    n = counts[_join(owner or "", kind)]
    name = _join(owner or "", kind if n == 1 else f"{kind}_{n - 1}")
    if kind == "unfold" and getattr(torch.Tensor, "unfold", None) is func:
        kind = "unfold_axis"  # x.unfold(dim, size, step) slides along one axis; F.unfold (im2col) shares the name
    where = f"{name} ({kind})"

    def shaped(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            span = run.spans.get(id(value))  # (``torch.randint(0, 10, (3,))``: an index checked against 0 to 9)
            shape = tuple(int(d) for d in value.shape)
            return _Tensor(shape, known.get(id(value)), isinstance(value, torch.nn.Parameter), None, bool(span), span)
        if isinstance(value, torch.Size):
            return tuple(int(d) for d in value)
        if isinstance(value, (tuple, list)):
            return tuple(shaped(v) for v in value)
        if isinstance(value, (torch.dtype, torch.device)):
            return _Opaque(str(value))
        return value

    expected = _from_meta(out, {}, where)
    handler = _HANDLERS.get(kind)
    misfit: SpecError | None = None
    if handler is not None:
        start = len(ctx.rows)
        try:
            call = _Call(ctx, name, kind, functional=is_functional(func))
            value = handler(call, shaped(tuple(f_args)), {k: shaped(v) for k, v in f_kwargs.items()})
        except (RunRefusedError, ShapeError) as exc:
            # the rule's misfit stands where torch's meta kernel skips the check (softmax of dim=5 runs on meta)
            raise public_error(exc) if isinstance(exc, SpecError) else exc from None
        except ConvCalcError as exc:
            del ctx.rows[start:]
            value = None
            misfit = exc if isinstance(exc, SpecError) and not isinstance(exc, ReaderSignalError) else None
        if value is not None and _shapes_of(value) == _shapes_of(expected):
            for meta_t, planned in zip(_flat_tensors(out), _leaves((value,)), strict=False):
                known[id(meta_t)] = planned.rf
                if planned.span is not None:
                    run.spans[id(meta_t)] = planned.span
            return
        del ctx.rows[start:]
    if kind in _MAC_FUNCTIONS:
        if misfit is not None:  # the rule's own refusal of an argument (groups=0, stride=0) says more than ours
            raise misfit
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


@_handles("script_function")
def _script_function(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A TorchScript function called in a forward (a scripted ``drop_path``): fx cannot look inside it, so torch
    runs it on meta tensors of the planned shapes; its row says torch gave the shape. One that multiplies
    matrices is refused: its MACs would be unknown."""
    from convcalc.torch.tracer import _SCRIPTED

    key, *rest = args
    function = _SCRIPTED[key]
    where = f"{call.name} (TorchScript {function.name})"
    tensors = _leaves(tuple(rest)) + _leaves(tuple(kwargs.values()))
    shown = ", ".join(_describe_value(a) for a in rest)
    found = _torchscript_mac_op(function)
    if found is not None:
        raise SpecError(
            f"{where}: a TorchScript function that calls {found}, whose multiply-accumulates convcalc cannot count "
            f"inside TorchScript. Received: function={function.name}"
        )
    if any(type(d) is not int for t in tensors for d in t.shape):
        raise SpecError(
            f"{where}: a TorchScript function, which only torch can run, and torch needs concrete sizes, not "
            f"symbols; plan with numbers. Received: arguments=({shown})"
        )
    torch = _torch()

    def meta(value: Any) -> Any:
        if isinstance(value, _Tensor):
            return torch.empty(value.shape, device="meta")
        if isinstance(value, (tuple, list)):
            return type(value)(meta(v) for v in value)
        return value

    try:
        with torch.no_grad():
            out = function(*(meta(a) for a in rest), **{k: meta(v) for k, v in kwargs.items()})
    except Exception as exc:  # the user's TorchScript may raise anything
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SpecError(
            f"{where}: torch cannot run this TorchScript function on meta tensors of these shapes "
            f"({type(exc).__name__}: {message.rstrip('. ')}). Received: arguments=({shown})"
        ) from None
    value = _from_meta(out, {}, where)
    named = _Call(call.ctx, call.name, function.name)  # the row's kind: the function, as for a Python one
    with call.ctx.made_as(_from_torch):
        for t in _leaves((value,)):
            named.row(tensors[0].shape if tensors else (), t)
    return value
