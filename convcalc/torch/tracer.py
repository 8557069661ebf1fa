"""The torch.fx tracer convcalc reads a forward with, and what it records beside fx's own nodes.

Submodules are leaves; a condition or a number asked of a traced size is a decision, recorded as a
``shape_guard`` or ``size_number`` node that the plan checks on the real sizes; ``x += y`` stays in place;
optional inputs left out are traced as None; tensors made from traced sizes (``torch.zeros(x.size(0), 5)``)
and tensors made from numbers are nodes; TorchScript functions the forward calls are recorded, not entered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import operator
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from convcalc.torch.bytecode import (
    asked_by_user,
    discarded,
    in_assert,
    in_handler,
    instructions,
    library_frame,
    raising_branch,
    source_line,
    starred_at,
    unpacked_at,
)
from convcalc.torch.nodes import _IN_PLACE_OPERATORS, INTEGER_DTYPES, Decision, _torch, integer_values
from convcalc.torch.standins import (
    _called_through_wrapper,
    _integral_node,
    logs_kept,
    modules_kept,
    settings_kept,
    shallow_clone,
    variables_as_tensors,
    written_out,
)

# conditions on sizes one read of a forward may decide: a loop on a size taken one way each time stops here, and
# the read is made again with the last condition taken the other way (the plan checks each on the real sizes)
_MAX_DECISIONS = 64


class EndlessReadError(RuntimeError):
    """A trace that took more than ``_MAX_DECISIONS`` conditions on sizes (a loop on a size, read as going on)."""


@functools.cache
def _tracer_type() -> Any:
    """A torch.fx tracer that reads one module's forward and keeps every submodule as a leaf."""
    import torch.fx

    def in_place(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def method(self: Any, other: Any) -> Any:
            # named as fx names the out-of-place node (``add``, ``add_1``), so rows keep their names
            name = op.__name__[1:]
            name = f"{name}_" if name in ("and", "or") else name  # (``x &= m``: as fx names ``operator.and_``)
            return self.tracer.create_proxy("call_function", op, (self, other), {}, name=name)

        return method

    class InPlaceProxy(torch.fx.Proxy):
        """A proxy that records ``x += y`` as ``operator.iadd`` (fx's own falls back to ``add``), ``m &= k`` as
        ``operator.iand``, and so on for each of ``nodes._IN_PLACE_OPERATORS`` (not ``a @= b``: a tensor has no
        ``__imatmul__``, so Python runs ``a = a @ b``): an in-place operation keeps its first operand's shape, so
        ``out += shortcut(x)`` fails in torch where ``out + ...`` would broadcast."""

        @property
        def is_cuda(self) -> bool:
            # decided, not traced: the input is on the model's device (``if x.is_cuda and self.ngpu > 1:``)
            return bool(getattr(self.tracer, "on_cuda", False))

        @property
        def is_cpu(self) -> bool:
            return not getattr(self.tracer, "on_cuda", False)

        @property
        def is_meta(self) -> bool:
            # the plan follows the model as it runs on its own device, never on the meta device
            return False

        @property
        def device(self) -> Any:
            # decided, not traced, as ``is_cuda``: ``x.device.type == "cuda"`` and ``torch.zeros(..., device=x.device)``
            # (a branch on the meta device's own would take the other way)
            return torch.device("cuda" if getattr(self.tracer, "on_cuda", False) else "cpu")

        @property
        def dtype(self) -> Any:
            # decided, not traced, as a plan reads it (the tensors a plan follows are float32, an input named as
            # integers int64: ``labels.dtype == torch.long`` picks a classifier's loss): ``torch.finfo(x.dtype).min``
            # (a mask's fill) asks torch for a dtype, which a proxy is not
            return torch.int64 if _integral_node(self.node) else torch.float32

        # ``int(x.size(0))``, ``range(h)``, ``float(c)``, ``round(h / 2)``, ``len(x)``: a number asked of a traced size is
        # taken as ``decisions`` says and checked on the plan's sizes (the tracer's ``to_number``)
        def __int__(self) -> int:
            return int(_number(self, "int"))

        def __index__(self) -> int:
            return int(_number(self, "index"))

        def __float__(self) -> float:
            return float(_number(self, "float"))

        def __len__(self) -> int:
            # ``len(x)``: the size of the first axis, a number like ``int(x.size(0))``; ``len(x.shape)``: the rank,
            # which a forward may check and raise on (see ``next_guess``)
            length = self.tracer.create_proxy("call_function", len, (self,), {})
            tracer: Any = self.tracer  # the tracer made below, which keeps the decisions and the guesses
            if _kind_guess(self.node) != KINDS.index("shape"):
                return int(_number(length, "int"))
            first = tracer.last_rank  # (kornia checks each tensor's rank in turn)
            tracer.guesses[len(tracer.made)] = ((first, *(r for r in RANKS if r != first)), asked_by_user())
            rank = tracer.last_rank = int(tracer.to_number(length, "int", first))
            return rank

        def __iter__(self) -> Iterator[Any]:
            # ``a, b = x.split(4, dim=-1)``: fx hands out as many items as the names unpacked, never asking how many
            # the value holds (torch: too many values to unpack); here the count is a number asked like ``len()``,
            # which the plan checks on the real sizes (another count makes Python's unpacking fail, as in torch)
            tracer: Any = self.tracer  # the tracer made below, whose iter takes the names unpacked
            return tracer.iter(self, unpacked_at(sys._getframe(1)), starred_at(sys._getframe(1)))  # type: ignore[no-any-return]

        def __hash__(self) -> int:
            # ``set(x.shape[-2:])``, ``cache[tuple(x.shape)]``: a traced value is equal to another by its sizes, not
            # by the proxy it is here (two proxies would be two keys); torch's machinery runs such a forward
            raise RuntimeError("the forward puts a traced value into a set or a dict key, which needs its number")

        def __round__(self, ndigits: Any = None) -> Any:
            if ndigits is not None:
                return self.tracer.create_proxy("call_function", round, (self, ndigits), {})
            return _number(self, "round")

        def __getattr__(self, name: str) -> Any:
            # ``x.shape`` is one of these too, so ``torch.zeros(*x.shape)`` asks its length as a number
            return InPlaceAttribute(self, name)

        def __setitem__(self, key: Any, value: Any) -> None:
            # ``out_ft[:, :, :m1, :m2] = y`` (FNO), ``x[i] = self.m[i](x[i])`` (YOLOv5's Detect): fx's own proxy takes
            # no assignment; recorded as operator.setitem, which keeps a tensor's shape
            self.tracer.create_proxy("call_function", operator.setitem, (self, key, value), {})

        def __contains__(self, item: Any) -> bool:
            # ``if 0 in x.shape:``: the sizes one by one, as Python asks them; ``if "p6" in feats:`` of a dict a child
            # returned would be asked of 0, 1, ... (a dict's items are not numbered): torch's machinery runs it
            if _kind_guess(self.node) == KINDS.index("shape"):
                return any(v == item for v in self)
            raise RuntimeError(f"the forward asks whether {item!r} is in a traced value, which fx cannot answer")

        def __copy__(self) -> Any:
            # ``y = copy.copy(x)``: fx would hand back the proxy itself, so an assignment into the copy of a list
            # would change the list too; torch's machinery runs such a forward instead
            raise RuntimeError(
                "the forward copies a traced value with copy.copy, which a traced forward cannot tell from it"
            )

        def __setattr__(self, name: str, value: Any) -> None:
            # ``y.data = y.data.flatten(1)`` swaps the tensor's contents, shape too: fx would set a Python attribute
            # of the proxy and go on with the old tensor; torch's machinery runs such a forward instead
            if name == "data":
                raise RuntimeError("the forward assigns a tensor's .data, which a traced forward cannot follow")
            super().__setattr__(name, value)

    for name in sorted(_IN_PLACE_OPERATORS):  # ``__iadd__``, ``__iand__``, ...
        setattr(InPlaceProxy, f"__{name}__", in_place(getattr(operator, name)))

    class InPlaceAttribute(torch.fx.proxy.Attribute, InPlaceProxy):
        """fx's attribute of a proxy (``x.shape``, ``x.view``) with this tracer's numbers and in-place operations."""

    class ChildrenAsLeaves(torch.fx.Tracer):
        on_cuda = False
        # a buffer read in forward is a node, as a parameter is: nanoGPT's ``self.bias[:, :, :T, :T]`` slices it
        # by a traced size, which a real tensor would ask as a number
        proxy_buffer_attributes = True

        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            return True

        def create_args_for_root(self, root_fn: Any, is_module: bool, concrete_args: Any = None) -> Any:
            # the forward is read as it runs, not as fx would trace it: ``if is_fx_tracing():`` (a branch some
            # code keeps for export) is not taken by torch, so not by the plan (trace() restores the flag after)
            made = super().create_args_for_root(root_fn, is_module, concrete_args)
            torch.fx._symbolic_trace._is_fx_tracing_flag = False
            code = getattr(inspect.unwrap(root_fn), "__code__", None)
            fn, args = made
            if (
                code is not None
                and code.co_flags & inspect.CO_VARKEYWORDS
                and args
                and isinstance(args[-1], torch.fx.Proxy)
            ):
                # ``def forward(self, x, *args, **kwargs): return self.fn(x, *args, **kwargs)`` (lucidrains'
                # Residual): the plan passes no keywords beyond the names the forward has, so ``**kwargs`` is an
                # empty dict (a traced one is unpacked by asking for its keys, which a proxy cannot give)
                # (with the keywords a caller gives beyond those names, each an input of its own: see _trace)
                placeholder = args[-1].node
                if not placeholder.users:
                    self.graph.erase_node(placeholder)
                    extra: dict[str, Any] = {
                        n: self.create_proxy("placeholder", n, (), {}) for n in self.extra_keywords
                    }
                    extra.update(dict.fromkeys(self.none_keywords))
                    made = (fn, [*args[:-1], extra])
            return made

        decisions: tuple[Decision, ...] = ()
        root_frame: Any = None  # the frame that started the trace (set per trace)
        # where in ``made`` a number was guessed: what to try there, and where the user's code asked (per trace)
        guesses: dict[int, tuple[tuple[int, ...], Any]]
        last_rank = 1  # the last rank the trace took, the first guess of the next (set per trace)
        made: list[Decision]  # the decisions taken so far, in the order the forward asks (set per trace)
        extra_keywords: tuple[str, ...] = ()  # given to ``**kwargs`` (set per trace)
        none_keywords: tuple[str, ...] = ()  # given None to ``**kwargs``: read as the None they are

        def to_bool(self, obj: Any) -> bool:
            # ``assert x.shape[1] == 3`` or ``if h % 2:`` on a traced value: the trace takes the assert as holding
            # and a branch as ``decisions`` says (taken beyond them), and records the condition with the
            # decisions before it; the plan checks it on the real sizes, and reads the forward again where the
            # sizes take the other branch
            made = self.made
            if len(made) >= _MAX_DECISIONS:  # ``while x.size(-1) > 4:`` taken as True each time would never end
                raise EndlessReadError(
                    f"the forward decides more than {_MAX_DECISIONS} conditions on sizes in one read (a loop on a size)"
                )
            taken = self.decisions[len(made)] if len(made) < len(self.decisions) else True
            caller = sys._getframe(2)  # the user's frame, above the proxy's ``__bool__``
            assertion: bool | str = in_assert(caller)
            raising = None if assertion else raising_branch(caller, self.root_frame)
            if raising is not None and len(made) >= len(self.decisions):
                taken = not raising[0]
            args: tuple[Any, ...] = (obj, bool(taken), assertion, type(self.root).__name__, tuple(made))
            if raising is not None:
                # ``if h != 224: raise ValueError(...)``: an assert of the way that does not raise, which the plan
                # checks on the sizes as torch raises (named by its line); the trace goes on past it
                args = (obj, bool(taken), raising[1], *args[3:], source_line(caller))
            self.create_proxy("call_function", shape_guard, args, {}, name="guard")
            made.append(bool(taken))
            return bool(taken)

        def to_number(self, obj: Any, kind: str, guess: int = 1) -> Any:
            # the number of a traced size, taken as ``decisions`` says (``guess`` beyond them); the plan computes
            # it from the real sizes and reads the forward again with it where it differs
            made = self.made
            taken = self.decisions[len(made)] if len(made) < len(self.decisions) else guess
            taken = float(taken) if kind == "float" else int(taken)
            if kind in ("int", "index"):
                self.guesses.setdefault(len(made), (SIZES, asked_by_user()))
            args = (obj, taken, kind, type(self.root).__name__, tuple(made))
            self.create_proxy("call_function", size_number, args, {}, name="number")
            made.append(taken)
            return taken

        def to_kind(self, obj: Any) -> int:
            # what a traced value is, asked by ``isinstance``: taken as ``decisions`` says (a tensor beyond them);
            # the plan looks at the value and reads the forward again where it is another kind
            made = self.made
            first = _kind_guess(obj.node)
            taken = int(self.decisions[len(made)]) if len(made) < len(self.decisions) else first
            self.guesses[len(made)] = ((first, *(k for k in _KIND_TRIES if k != first)), asked_by_user())
            args = (obj, taken, type(self.root).__name__, tuple(made))
            self.create_proxy("call_function", value_kind, args, {}, name="kind")
            made.append(taken)
            return taken

        def iter(self, obj: Any, unpacked: int | None = None, fewest: int = 0) -> Any:
            # ``b, *rest = x.shape``, ``x.view(*x.shape[:2], -1)``, ``for row in x:``, ``a, b = x.split(4)``
            # (``unpacked`` names): as many items as ``len()`` of the value, a number asked like ``len(x)``;
            # ``*_, h, w = x.shape`` takes at least ``fewest``
            length = self.create_proxy("call_function", len, (obj,), {})
            if unpacked is None:
                count = int(self.to_number(length, "int", max(_pieces_guess(obj), fewest)))
            else:
                count = int(self.to_number(length, "unpack", unpacked))
            return iter([obj[i] for i in range(count)])

        def call_module(self, m: Any, forward: Any, args: Any, kwargs: Any) -> Any:
            # a module made in forward (``nn.ReLU(inplace=True)(x)``) or held outside the module tree: with no
            # tensors of its own it is the functions its forward calls, traced in place; one with tensors is
            # not part of the model, and fx's NameError (from fx's own call_module) sends the module to the
            # fallback; a slice of the model's Sequential (``self.out_layers[1:]``) calls the model's children in turn
            if not self._installed(m) and (
                (next(m.parameters(), None) is None and next(m.buffers(), None) is None)
                or (type(m) is torch.nn.Sequential and all(self._installed(c) for c in m._modules.values()))
            ):
                return forward(*args, **kwargs)
            out = super().call_module(m, forward, args, kwargs)
            if in_handler(sys._getframe(1), sys._getframe(1).f_lasti, self.root_frame) and hasattr(out, "node"):
                out.node.meta["convcalc_caught"] = True  # (a ``raise`` in it may be caught here: see ``CAUGHT``)
            return out

        def _installed(self, m: Any) -> bool:
            """Whether the model holds ``m`` (fx's ``path_of_module`` finds it)."""
            try:
                self.path_of_module(m)
            except NameError:
                return False
            return True

        def proxy(self, node: Any) -> Any:
            return InPlaceProxy(node, self)

        def create_arg(self, a: Any) -> Any:
            # ``y.type(torch.FloatTensor)``: fx takes no tensor type as an argument; torch takes its name as well
            if isinstance(a, type(torch.FloatTensor)):
                return f"{a.__module__}.{a.__name__}"
            made = super().create_arg(a)
            if isinstance(a, dict) and dataclasses.is_dataclass(a):
                # a ModelOutput returned: fx keeps a plain dict, and the fields go on the output node (see
                # create_node), for its caller reads ``outputs[0]`` and ``outputs.logits`` as that class does
                self.fields_of = getattr(self, "fields_of", {})
                self.fields_of[id(made)] = (made, tuple(f.name for f in dataclasses.fields(a)))
            return made

        def create_node(self, kind: str, target: Any, args: Any, kwargs: Any, *rest: Any, **more: Any) -> Any:
            node = super().create_node(kind, target, args, kwargs, *rest, **more)
            held = getattr(self, "fields_of", {}).get(id(args[0])) if kind == "output" and args else None
            if held is not None and held[0] is args[0]:
                node.meta["convcalc_fields"] = held[1]
            return node

    return ChildrenAsLeaves


def _pieces_guess(value: Any) -> int:
    """How many pieces ``x.chunk(c)``, ``x.tensor_split(c)`` or ``x.split([a, b])`` gives where the sizes allow
    (the first guess of a trace that unpacks them: ``a, b = *x.chunk(2)`` would fail on one); 1 otherwise."""
    node = getattr(value, "node", None)
    name = getattr(node, "target", None)
    name = name if isinstance(name, str) else getattr(name, "__name__", "")
    if name in ("chunk", "tensor_split", "split") and node is not None and len(node.args) > 1:
        pieces = node.args[1] if node.args else None
        if isinstance(pieces, int) and name != "split" and pieces >= 1:
            return pieces
        if isinstance(pieces, (list, tuple)) and name != "chunk":
            return len(pieces) + (name == "tensor_split")
    return 1


#: the ranks ``len(x.shape)`` is taken as, in the order a read tries them where the forward raises on one (a check
#: of the rank, kornia's ``KORNIA_CHECK_SHAPE``): the first is a guess the plan checks, then images, sequences, ...
RANKS = (1, 4, 3, 2, 5, 6, 0, 7, 8)
#: the same for a number asked of a size (``int(x.size(2))`` checked against a receptive field, a list's length)
SIZES = (1, 64, 1024)
#: the kinds ``isinstance`` may find a value to be, after the first guess (``if not isinstance(frames, list):
#: raise ...``): a tensor, a list, a tuple, a dict, a size, a float, a shape
_KIND_TRIES = (0, 5, 4, 6, 1, 2, 3)


def next_guess(taken: Decision, tried: tuple[int, ...]) -> int | None:
    """The number a read takes a rank, a size or a kind as after the forward raised with ``taken`` (``tried``: in
    order, the numbers to try there); None after the last, or where no number was guessed."""
    if type(taken) is not int or taken not in tried:
        return None
    at = tried.index(taken)
    return tried[at + 1] if at + 1 < len(tried) else None


def _number(proxy: Any, kind: str) -> Any:
    tracer: Any = proxy.tracer  # the tracer made by _tracer_type, which has to_number
    return tracer.to_number(proxy, kind)


def shape_guard(
    condition: Any, taken: bool, assertion: bool | str, module_type: str, before: tuple[Decision, ...]
) -> None:
    """Marks, in a traced forward of a ``module_type``, a condition on sizes that the trace took as ``taken`` (an
    ``assert`` when ``assertion`` is True; the way that does not raise, ``assertion`` naming what the other way
    raises, for ``if h != 224: raise ValueError(...)``) after taking the conditions before it as ``before``;
    never called, only read."""


def size_number(value: Any, taken: Any, kind: str, module_type: str, before: tuple[Decision, ...]) -> None:
    """Marks, in a traced forward of a ``module_type``, a number asked of a traced size (``int(x.size(0))``;
    ``kind`` names the conversion) that the trace took as ``taken``; never called, only read."""


def input_fixed(
    value: Any, name: str, taken: Any, module_type: str, before: tuple[Decision, ...] | None, tested: bool
) -> None:
    """Marks, in a traced forward of a ``module_type``, an input ``name`` read as the value ``taken``: a flag
    (``before``: the decisions taken before it; None for any other input), which its forward may test with ``is``,
    ``isinstance`` or ``type()`` (``tested``), which no traced value answers; never called, only read."""


def value_kind(value: Any, taken: int, module_type: str, before: tuple[Decision, ...]) -> None:
    """Marks, in a traced forward of a ``module_type``, a traced value whose class ``isinstance`` asked, taken as
    ``KINDS[taken]``; never called, only read."""


#: what ``isinstance`` sees a traced value as: a tensor, a size, a float, a shape, the tuple, list or dict a
#: layer or function returns (``out = self.lstm(x)``, then ``if isinstance(out, tuple):``); or the proxy itself
KINDS = ("tensor", "size", "float", "shape", "tuple", "list", "dict", "other")


@functools.cache
def _kind_classes() -> tuple[type, ...]:
    torch = _torch()
    return (torch.Tensor, int, float, torch.Size, tuple, list, dict, object)


_builtin_isinstance = isinstance
_proxy_class: Any = ()  # torch.fx.Proxy while a forward is traced (set with the patch: a global is read fastest)

# arithmetic that keeps a size a size (``x.size(2) // 2 + 1``); ``/`` makes a float
_SIZE_ARITHMETIC = frozenset({"add", "sub", "mul", "floordiv", "mod", "neg", "pow"})


def _kind_guess(node: Any, depth: int = 8) -> int:
    """What a traced value most likely is, from the operation that made it (the plan checks the guess): a size
    from ``x.size(i)``, ``x.shape[i]`` and arithmetic on sizes, a float from ``/`` of sizes, a shape from ``x.shape``
    or ``x.size()``; a tensor otherwise. timm's ``get_same_padding(x, ...)`` asks ``isinstance(x, torch.Tensor)`` of
    ``x.shape[-2]``: guessing a tensor there reads the tensor branch, which calls ``.ceil()`` on the size."""
    tensor, size, real, shape = (KINDS.index(k) for k in ("tensor", "size", "float", "shape"))
    fx = _torch().fx
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    if node.op == "call_method" and name == "size":
        return size if len(node.args) > 1 or "dim" in node.kwargs else shape
    if node.op != "call_function" or depth == 0:
        return tensor
    operands = [_kind_guess(a, depth - 1) for a in node.args if isinstance(a, fx.Node)]
    if target is getattr and node.args[1:] == ("shape",):
        return shape
    if target is operator.getitem and operands and operands[0] == shape:
        return shape if isinstance(node.args[1], slice) else size
    if not operands or tensor in operands or shape in operands:
        return tensor
    if name in _SIZE_ARITHMETIC and target is getattr(operator, name, None):
        return real if real in operands else size
    if target is operator.truediv:
        return real
    return tensor


def _traced_isinstance(obj: Any, classinfo: Any) -> bool:
    """``isinstance`` while a forward is traced: a traced value asked about by the user's code (``isinstance(y,
    torch.Tensor)`` in torchvision's DenseNet, mmdet's necks; ``torch.is_tensor(y)``) is what the plan will find it
    to be, a decision the plan checks (a tensor, guessed first; a size; a float; a shape); a module's tensor
    (``self.conv.weight``) is the Parameter or buffer it is. fx's, torch's and convcalc's own code see the proxy."""
    # every isinstance in the process comes here while a forward is traced: a plain value is answered before
    # any other call (torch is imported: a forward is being traced)
    if not _builtin_isinstance(obj, _proxy_class):
        return _builtin_isinstance(obj, classinfo)
    caller = sys._getframe(1)
    while caller.f_back is not None and caller.f_code in _asking_for_caller():
        caller = caller.f_back
    if caller.f_code in _asking_of_a_tensor():
        return issubclass(_torch().Tensor, classinfo)
    if library_frame(caller) or _asks_if_proxy(classinfo):
        return _builtin_isinstance(obj, classinfo)
    held = _held(obj)
    if held is not None:
        return _builtin_isinstance(held, classinfo)
    kind = int(obj.tracer.to_kind(obj))
    if kind == len(KINDS) - 1:
        return _builtin_isinstance(obj, classinfo)
    return issubclass(_kind_classes()[kind], classinfo)


def _asks_if_proxy(classinfo: Any) -> bool:
    """Whether ``isinstance`` asks if a value is fx's traced value (Hugging Face's ``is_tracing(mask)`` before a
    branch on the mask's values, ``mask.all()``): the answer is fx's own, as ``torch.fx.is_fx_tracing()``'s."""
    if isinstance(classinfo, tuple):
        return any(_asks_if_proxy(c) for c in classinfo)
    return isinstance(classinfo, type) and issubclass(classinfo, _proxy_class)  # (not Callable: a Proxy's ABC)


@functools.cache
def _asking_for_caller() -> frozenset[Any]:
    """Code whose ``isinstance`` asks its caller's question: ``torch.is_tensor(x)``, ``torch.jit.isinstance(x,
    torch.Tensor)`` (monai's ``UpCat``; of ``List[torch.Tensor]`` too), and this function's own."""
    import torch._jit_internal as jit

    torch = _torch()
    asking = (torch.is_tensor, torch.jit.isinstance, jit._isinstance, jit.container_checker, _traced_isinstance)
    return frozenset(f.__code__ for f in asking)


@functools.cache
def _asking_of_a_tensor() -> frozenset[Any]:
    """torch's code that asks whether a value is a tensor only to read its dtype, which a traced tensor has:
    ``F._none_or_dtype(src_mask)`` in ``TransformerEncoderLayer`` (and its decoder's), refused a proxy."""
    functional = _torch().nn.functional
    return frozenset(f.__code__ for f in (getattr(functional, "_none_or_dtype", None),) if f is not None)


@contextlib.contextmanager
def _user_isinstance() -> Iterator[None]:
    import builtins

    global _proxy_class
    _proxy_class = _torch().fx.Proxy
    builtins.isinstance = _traced_isinstance
    try:
        yield
    finally:
        builtins.isinstance = _builtin_isinstance


def _held(proxy: Any) -> Any:
    """The tensor a proxy of a module's attribute (``self.conv.weight``) reads; None for any other proxy."""
    node = proxy.node
    if node.op != "get_attr":
        return None
    # through the modules' own dicts: while fx traces, a module's attribute of a parameter is a proxy
    *owners, name = str(node.target).split(".")
    held: Any = proxy.tracer.root
    for part in owners:
        held = vars(held).get("_modules", {}).get(part)
    tensors = {**vars(held).get("_parameters", {}), **vars(held).get("_buffers", {})} if held is not None else {}
    return tensors.get(name)


def _trace(
    module: Any,
    on_cuda: bool = False,
    decisions: tuple[Decision, ...] = (),
    absent: frozenset[str] = frozenset(),
    made: list[Decision] | None = None,
    through: bool = True,
    guesses: dict[int, tuple[tuple[int, ...], Any]] | None = None,
) -> Any:
    """The module's forward as an fx graph; the inputs named in ``absent`` are traced as the None they are
    (``if mask is not None:``, in the forward or in any function it calls, takes the branch of no mask).
    ``made`` (a list) receives the decisions the trace took, in order, also when it raises. ``through``: into
    the functions a library wrapped for fx (see ``_wrapped_read``)."""
    import warnings

    # ``absent`` also names the keywords a caller gives a forward's ``**kwargs`` (``"**use_cache"``): each is read
    # as an input of its own, the others left out
    extra = sorted(name[2:] for name in absent if name.startswith("**"))  # (``"**mask=None"``: given None)
    absent = frozenset(name for name in absent if not name.startswith("**"))
    scripted = _scripted_names(getattr(type(module), "forward", None))  # (fx records those torch cannot read as Python)
    tracer = _tracer_type()(autowrap_functions=tuple(f for _, _, f in scripted if _python_of(f) is None))
    tracer.on_cuda = on_cuda
    tracer.decisions = decisions
    tracer.made = [] if made is None else made
    tracer.guesses = {} if guesses is None else guesses  # (receives the numbers guessed, also when it raises)
    tracer.last_rank = 1  # (a rank is first guessed as 1 in each trace)
    tracer.extra_keywords = tuple(name for name in extra if not name.endswith("=None"))
    tracer.none_keywords = tuple(name[: -len("=None")] for name in extra if name.endswith("=None"))
    clone = shallow_clone(module)
    cls: Any = type(module)
    through_wrapper = _called_through_wrapper(cls, inspect.getattr_static(cls, "forward", None))
    if through_wrapper is not None:  # (the clone is convcalc's own: its class may change)
        clone.__class__ = through_wrapper
    tested = identity_tested(type(module).forward, absent)
    flags = flag_inputs(module, absent)
    # the flags are the trace's first decisions: each is read at the value they give (its default beyond them),
    # or traced where they say so (a caller gave it a value that is no bool: a size's condition, a tensor)
    fixed = {name: value for name, value in tested.items() if type(value) is not bool}
    taken = [decisions[i] if i < len(decisions) else default for i, default in enumerate(flags.values())]
    tracer.made.extend(taken)
    fixed.update((name, value) for name, value in zip(flags, taken, strict=True) if type(value) is bool)
    with (
        warnings.catch_warnings(),
        settings_kept(module),
        modules_kept(module),
        variables_as_tensors(),
        logs_kept(),
        _factories_recorded(tracer),
        causal_mask_as_given(),
        _python_of_scripted(scripted),
        _user_isinstance(),
        _wrapped_read(through),
        written_out(),
    ):
        warnings.simplefilter("ignore")
        tracer.root_frame = sys._getframe()  # (the frames between it and a condition's are the forward's)
        graph = tracer.trace(clone, concrete_args={**dict.fromkeys(sorted(absent)), **fixed} or None)
    if absent:
        _unguard(graph, absent)
    if fixed:
        _mark_fixed(graph, fixed, list(flags), taken, set(tested), type(module).__name__)
    _inline_constants(graph, clone, module)
    return graph


#: a flag's decision that traces it (a caller gave it a value that is no bool)
TRACED = 2


def flag_inputs(module: Any, absent: frozenset[str] = frozenset()) -> dict[str, bool]:
    """The inputs of a module's forward with a default of True or False, and the default, in the order of a
    trace's first decisions: each is read at a value, for a function the forward hands it to may test it by
    identity (``self._attn(x, use_cache)`` testing ``use_cache is True``), where a traced value would take the
    other branch. The inputs not given (``absent``) are left out."""
    try:
        signature = inspect.signature(type(module).forward)
    except (TypeError, ValueError, AttributeError):  # (a traced TorchScript module's forward is a descriptor)
        return {}
    return {n: p.default for n, p in signature.parameters.items() if type(p.default) is bool and n not in absent}


def identity_tested(forward: Any, absent: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The inputs of ``forward`` with a default of a plain value (a bool, a number, a string) that its code tests
    by identity (``if use_cache is True:``, ``type(k) is int``), or a flag's class (``isinstance(flag, bool)``):
    a traced value answers ``is`` as the proxy it is, so the trace reads them at a value instead. The inputs not
    given (``absent``) are left out."""
    try:
        signature = inspect.signature(forward)
        code = inspect.unwrap(forward).__code__
    except (TypeError, ValueError, AttributeError):
        return {}
    plain = {
        name: p.default
        for name, p in signature.parameters.items()
        if type(p.default) in (bool, int, float, str) and name not in absent
    }
    if not plain:
        return {}
    steps, _ = instructions(code)
    found: dict[str, Any] = {}
    for i, step in enumerate(steps):
        if step.opname == "IS_OP":  # ``flag is True``, ``True is flag``, ``type(flag) is bool``
            near = list(steps[max(0, i - 4) : i])
        elif step.opname == "LOAD_GLOBAL" and step.argval in ("isinstance", "type"):
            # ``isinstance(flag, bool)`` of a flag (a number's or a string's class is asked of the traced value,
            # and read again where the value given is of another kind: see value_kind)
            near = [s for s in steps[i + 1 : i + 2] if type(plain.get(s.argval)) is bool]
        else:
            continue
        for other in near:
            if other.opname.startswith("LOAD_FAST") and other.argval in plain:
                found[other.argval] = plain[other.argval]
    return found


def _specialized(node: Any, check: Any) -> tuple[Any, str] | None:
    """fx's check of an input traced as a concrete value, ``check`` (``torch._assert(flag_1 == True, ...)``,
    ``_assert_is_none(mask_1, ...)``): the placeholder it checks and the input's name, which fx's message gives
    ("use_cache has been specialized to have value True but got another value"; the placeholder is named
    ``use_cache_1``, which a prefix cannot tell from ``use_cache_bias``); None for any other node."""
    if node.op != "call_function" or node.target is not check or len(node.args) < 2:
        return None
    value, message = node.args[:2]
    if check is not _torch()._assert:
        source = value
    elif getattr(value, "op", None) == "call_function" and value.args:  # torch._assert(flag_1 == True)
        source = value.args[0]
    else:
        return None
    if getattr(source, "op", None) != "placeholder":
        return None
    return source, str(message).partition(" has been specialized")[0]


def _mark_fixed(
    graph: Any, fixed: dict[str, Any], flags: list[str], taken: list[Any], tested: set[str], module_type: str
) -> None:
    """fx keeps an input read as a concrete value as a placeholder ``flag_1`` and ``torch._assert(flag_1 == value)``:
    the placeholder takes its parameter's name again, and the check becomes a mark the plan tests the given value
    with. A flag (one of ``flags``, read as ``taken``, the trace's first decisions) given another value reads the
    forward again with it; another value of an input its forward tests by identity (``tested``) that is no flag,
    or that is no bool for a flag, is refused (the forward was read at the value)."""
    nodes = list(graph.nodes)
    # the marks go after every input: the plan binds the inputs given before it runs a node
    after = [node for node in nodes if node.op == "placeholder"][-1]
    for node in nodes:
        found = _specialized(node, _torch()._assert)
        if found is None or found[1] not in fixed:
            continue
        source, name = found
        condition = node.args[0]
        source.target = name  # (fx named it use_cache_1)
        before = tuple(taken[: flags.index(name)]) if name in flags else None
        with graph.inserting_after(after):
            mark = (source, name, fixed[name], module_type, before, name in tested)
            after = graph.call_function(input_fixed, mark)
        graph.erase_node(node)
        if not condition.users:
            graph.erase_node(condition)


@contextlib.contextmanager
def _wrapped_read(through: bool) -> Iterator[None]:
    """With ``through``: the functions a library marked for fx to record as one call (``torch.fx.wrap``:
    torchvision's ``stochastic_depth`` and Swin's ``_get_relative_position_bias``, timm's ``maybe_add_mask``) are
    traced into like any other, so convcalc reads their steps by rule; torch's own stay wrapped. A forward that
    cannot be traced that way is traced again with them wrapped (see ``_Reader._traced``)."""
    if not through:
        yield
        return
    import torch.fx._symbolic_trace as symbolic_trace

    table = symbolic_trace._wrapped_fns_to_patch
    saved = dict(table)
    for key, frame in saved.items():
        if not str(frame.get("__name__", "")).startswith("torch."):
            del table[key]
    try:
        yield
    finally:
        table.clear()
        table.update(saved)


# torch functions that make a tensor from sizes: fx cannot pass them a traced size (``torch.zeros(x.size(0), 5)``)
_FACTORIES = ("zeros", "ones", "empty", "full", "arange", "eye", "linspace", "logspace")
#: torch's functions that draw random numbers: recorded whatever their arguments (``torch.rand([])`` run while
#: tracing would be one draw, kept as a constant, so ``if torch.rand([]) < p:`` would be decided by it)
DRAWING_FUNCTIONS = (
    "rand", "randn", "randint", "randperm", "multinomial", "normal", "bernoulli", "poisson",
    "rand_like", "randn_like", "randint_like",
)  # fmt: skip
#: tensor methods that draw random numbers, into the tensor (``torch.empty(1).uniform_()``) or into a new one
DRAWING_METHODS = (
    "uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_", "log_normal_",
    "multinomial", "bernoulli",
)  # fmt: skip
# torch.nn.functional's functions written in C that take sizes: their argument parser asks a traced size for a
# number before fx sees the call (``F.avg_pool2d(x, x.size()[2:])``, a global pool in CBAM and PSPNet code)
_SIZED_FUNCTIONS = (
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    *(f"conv{t}{n}d" for t in ("", "_transpose") for n in (1, 2, 3)),
)


# torch's functions written in C that take a size besides a tensor, which their argument parser asks a traced
# size for as a number while fx passes the call on all the same (``torch.topk(gates.t(), capacity, dim=1)`` of
# expert-choice routing): recorded as a node where a traced value is among their arguments, as fx records them
_SIZED_TORCH_FUNCTIONS = ("topk", "kthvalue", "narrow", "narrow_copy", "select", "roll", "tril", "triu", "diagonal")


_PATCHING = threading.RLock()


@contextlib.contextmanager
def causal_mask_as_given() -> Iterator[None]:
    """torch's transformers ask whether a given mask is the causal one by comparing its values
    (``_detect_is_causal_mask``), a hint for a faster kernel with the same shapes: while a forward is traced or run
    on meta tensors, the mask is taken as the caller says (not known to be causal where it says nothing)."""
    from torch.nn.modules import transformer

    with _PATCHING:
        detect = getattr(transformer, "_detect_is_causal_mask", None)  # (a torch without it has nothing to replace)
        if detect is not None:
            transformer._detect_is_causal_mask = _causal_hint
        try:
            yield
        finally:
            if detect is not None:
                transformer._detect_is_causal_mask = detect


def _causal_hint(mask: Any, is_causal: bool | None = None, size: int | None = None) -> bool:
    return bool(is_causal)


@contextlib.contextmanager
def _factories_recorded(tracer: Any) -> Iterator[None]:
    """While tracing: a factory function, or a C function of torch.nn.functional that takes sizes, called with a
    traced size is recorded as a node, as fx records ``torch.cat``; called with numbers only, a factory makes its
    tensor (which fx keeps as a constant) and a function goes through fx as usual. A function or tensor method
    that draws random numbers is recorded whatever its arguments: its values are unknown to the plan."""
    torch = _torch()
    proxy_type = torch.fx.Proxy
    functional = torch.nn.functional
    thread = threading.get_ident()
    patched = [
        *((torch, name) for name in (*_FACTORIES, *DRAWING_FUNCTIONS, "tensor", "as_tensor")),  # ``torch.tensor([h])``
        *((torch, name) for name in _SIZED_TORCH_FUNCTIONS),
        *((functional, name) for name in _SIZED_FUNCTIONS),
    ]

    def recorded(original: Any, always: bool) -> Any:
        @functools.wraps(original)
        def traced(value: Any, depth: int = 4) -> bool:  # a traced value in it, at any depth of lists
            if isinstance(value, proxy_type):
                return True
            return depth > 0 and isinstance(value, (tuple, list)) and any(traced(v, depth - 1) for v in value)

        def factory(*args: Any, **kwargs: Any) -> Any:
            if traced([*args, *kwargs.values()]) or (always and _forward_draws(thread)):
                # (a generator's draws are unknown to the plan as any other's: ``generator=g`` is no argument fx keeps)
                kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
                return tracer.create_proxy("call_function", original, args, kwargs)
            return original(*args, **kwargs)

        return factory

    def drawn_into(name: str, original: Any) -> Any:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            # of a tensor the forward made from numbers (a traced one is a proxy, whose methods fx records)
            if not _forward_draws(thread):
                return original(self, *args, **kwargs)
            if name.endswith("_") and discarded(sys._getframe(1)):
                # ``m = torch.empty(1); m.uniform_()``: the forward goes on with ``m``, a tensor fx does not follow
                raise RuntimeError(f"the forward draws random numbers into a tensor in place (.{name}())")
            kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
            if name.endswith("_"):  # drawn into a tensor like it: its values before (a size's) are not the plan's
                self = tracer.create_proxy("call_function", torch.empty_like, (self,), {"dtype": self.dtype})
            return tracer.create_proxy("call_method", name, (self, *args), kwargs)

        return method

    with _PATCHING:  # another thread's trace must neither see these nor save them as torch's own
        outer = TRACERS.get(thread)
        TRACERS[thread] = tracer
        originals = {key: getattr(*key) for key in patched}
        for (owner, name), original in originals.items():
            setattr(owner, name, recorded(original, owner is torch and name in DRAWING_FUNCTIONS))
        methods = {name: vars(torch.Tensor).get(name) for name in DRAWING_METHODS}  # (None: torch's C base class's)
        for name in DRAWING_METHODS:
            setattr(torch.Tensor, name, drawn_into(name, getattr(torch.Tensor, name)))
        try:
            yield
        finally:
            for (owner, name), original in originals.items():
                setattr(owner, name, original)
            for name, method in methods.items():
                if method is None:
                    delattr(torch.Tensor, name)
                else:
                    setattr(torch.Tensor, name, method)
            if outer is None:
                del TRACERS[thread]
            else:
                TRACERS[thread] = outer


def _forward_draws(thread: int) -> bool:
    """Whether a draw (asked of the caller's caller) is the traced forward's own: made in the tracing ``thread``,
    by code other than torch's (a layer made in forward initialises its weight with torch's own draws)."""
    caller = sys._getframe(2)
    return threading.get_ident() == thread and caller.f_globals.get("__name__", "").split(".")[0] != "torch"


def drawn_number(draw: str) -> None:
    """Marks, in a traced forward, a number drawn by Python's or numpy's random functions (``draw``: which, as
    ``random.uniform``), its value unknown: a decision on it is refused, a use as a value (a scale) is followed;
    never called, only read."""


#: the tracer reading a forward in each thread now (Python's random functions record their draws in it)
TRACERS: dict[int, Any] = {}


def tensor_constant(shape: tuple[int, ...], values: tuple[int, ...] | None = None, known: Any = None) -> None:
    """Marks, in a traced forward, a tensor the forward makes from numbers (``torch.ones(1)``, a mask built with
    ``torch.zeros(5, 7)``) of this shape, with its ``values`` where it is a few whole numbers in at most one dim
    (``torch.tensor([3])``, which may stand for a size), else, of other integers (``torch.tensor([[0, 5], [2,
    1]])``), what ``integer_values`` knows of them; never called, only read."""


# the most values a tensor made from whole numbers keeps (its values may be sizes: padding amounts, a view's size)
_FEW = 16


def _inline_constants(graph: Any, clone: Any, module: Any) -> None:
    """fx keeps a tensor the forward makes as an attribute of the module it traced (``_tensor_constant0``), which
    the user's module does not have: each becomes a node that holds the tensor's shape."""
    torch = _torch()
    made: dict[str, Any] = {}  # one node per tensor: ``torch.cat(..., out=buffer)`` then ``return buffer``
    for node in list(graph.nodes):
        if node.op != "get_attr" or "." in node.target or node.target in vars(module):
            continue
        value = vars(clone).get(node.target)
        if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
            if node.target not in made:
                shape = tuple(int(d) for d in value.shape)
                whole = len(shape) <= 1 and value.numel() <= _FEW and str(value.dtype) in INTEGER_DTYPES
                values = tuple(int(v) for v in value.flatten().tolist()) if whole else None
                integers = values is None and str(value.dtype) in INTEGER_DTYPES
                known = integer_values(value) if integers else None
                with graph.inserting_before(node):
                    made[node.target] = graph.call_function(tensor_constant, (shape, values, known))
            node.replace_all_uses_with(made[node.target])
            graph.erase_node(node)


def _unguard(graph: Any, absent: frozenset[str]) -> None:
    """fx keeps an input traced as None as a placeholder ``mask_1`` and a check that it is None: the check
    goes (the plan decides which inputs are given) and the placeholder takes its parameter's name again."""
    import torch.fx._symbolic_trace as symbolic_trace

    for node in list(graph.nodes):
        found = _specialized(node, symbolic_trace._assert_is_none)
        if found is None:
            continue
        graph.erase_node(node)
        source, name = found
        if name in absent and not source.users:
            source.target = name


def _python_of(scripted: Any) -> Any:
    """The Python function a TorchScript function was compiled from, which torch keeps for dynamo to inline; None
    where it does not (a function scripted from a string, a torch older than it)."""
    original = getattr(scripted, "_torchdynamo_inline", None)
    if not isinstance(original, types.FunctionType) or asks_if_scripted(original):
        return None
    return original


def asks_if_scripted(function: Any, depth: int = 3) -> bool:
    """Whether a function, or a Python function it names (a few calls deep), asks ``torch.jit.is_scripting()``,
    which TorchScript answers True and Python False: its Python is not what TorchScript compiled."""
    if not isinstance(function, types.FunctionType):
        return False
    names = _names_in(function.__code__)
    torch = _torch()
    asks = (torch.jit.is_scripting, torch._jit_internal.is_scripting)
    # (``from torch.jit import is_scripting as scripted``: by the function a global name holds, too)
    if "is_scripting" in names or any(function.__globals__.get(name) in asks for name in names):
        return True
    return depth > 0 and any(
        asks_if_scripted(function.__globals__.get(name), depth - 1)
        for name in names
        if function.__globals__.get(name) is not function
    )


@contextlib.contextmanager
def _python_of_scripted(scripted: list[tuple[dict[str, Any], str, Any]]) -> Iterator[None]:
    """While a forward is traced, each TorchScript function it names (``scripted``, as ``_scripted_names`` finds
    them) whose Python function torch kept is that Python function, which fx traces into as into any other: the
    same steps, read by rule. The others fx records as one node each (it cannot pass a proxy into TorchScript)."""
    swapped = [(g, name, f) for g, name, f in scripted if _python_of(f)]
    with _PATCHING:  # another thread's trace must neither see these nor save them as the module's own
        for g, name, f in swapped:
            g[name] = _python_of(f)
        try:
            yield
        finally:
            for g, name, f in reversed(swapped):
                g[name] = f


def _names_in(code: types.CodeType) -> set[str]:
    """The global and attribute names a code object reads, its nested functions' and comprehensions' included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def _scripted_calls(function: Any, depth: int = 3) -> list[Any]:
    """The TorchScript functions a Python function names (``drop_path(x)``), and those of the Python functions
    it names, a few calls deep."""
    return [f for _, _, f in _scripted_names(function, depth)]


def _scripted_names(function: Any, depth: int = 3) -> list[tuple[dict[str, Any], str, Any]]:
    """``_scripted_calls`` with the globals and the name each is found by; the Python function a TorchScript
    one was compiled from is looked into too."""
    torch = _torch()
    if not isinstance(function, types.FunctionType):  # a class or builtin named in a forward has no code to read
        return []
    found: list[tuple[dict[str, Any], str, Any]] = []
    for name in function.__code__.co_names:
        value = function.__globals__.get(name)
        if isinstance(value, torch.jit.ScriptFunction):
            found.append((function.__globals__, name, value))
            if depth:
                found += _scripted_names(_python_of(value), depth - 1)
        elif depth and value is not function:
            found += _scripted_names(value, depth - 1)
    return found


# TorchScript functions a traced forward calls, by the name their nodes give (kept alive with their graphs).
_SCRIPTED: dict[str, Any] = {}
