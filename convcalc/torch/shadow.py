"""The values of the small integer tensors of torch's pass, followed beside its meta tensors, so that an index is
checked where torch checks it when it runs on data.

A meta tensor holds no values, so torch's meta kernels never check an index against the axis it indexes:
``nn.Embedding(64, d)`` given ``torch.arange(65)`` runs on the meta device, where torch on data raises
IndexError. :class:`Shadow` follows, beside the run, each integer or bool tensor of up to ``_KEPT`` elements:

- its values, where the forward computes it from what the plan knows (an ``arange`` of a size,
  ``torch.tensor([...])``, the model's integer buffers, a planned input whose values the reader knows), each
  operation repeated on CPU copies of those values;
- else bounds of its values that some input of the planned shapes reaches, where it comes from the model's own
  inputs by a few operations whose bounds are sure (``input_ids.ne(pad).int().cumsum(1) * mask + pad``, RoBERTa's
  positions: from ``pad`` to ``pad + i + 1`` at position ``i``, the least where every token is the padding one,
  the greatest where none is). An input's own values (``input_ids``) are any: they are never checked.

Each operation torch checks an index of on data (an embedding, ``index_select``, ``x[i]``, ``gather``, a
``scatter``, ``one_hot``...) is checked against those, as torch checks it: the run is refused where torch would
raise for some input of these shapes. A tensor whose values it cannot follow is unknown, never checked. Float
tensors are not followed: each costs one dtype test.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from convcalc._errors import ShapeError
from convcalc.torch.devices import is_meta_tensor
from convcalc.torch.nodes import _KEPT, _torch
from convcalc.torch.reached import _OPPOSITE, merged_state
from convcalc.torch.values import _ANY, _argument, index_outside, positions_inside


class _Values:
    """What is known of one tensor's values: bounds per element (``low`` and ``high``, CPU tensors of its shape;
    the same tensor, in its own dtype, where the values themselves are known), and for each bound the state of the
    model's inputs at which the whole tensor equals it (``_ANY`` where the values are known; a comparison of an
    input with a number, ``(input, "!=", 1)``, where they come from one), or None where no input is known to
    reach it (such a bound is never a reason to refuse)."""

    __slots__ = ("high", "high_at", "low", "low_at", "storage", "tensor")

    def __init__(self, tensor: Any, low: Any, high: Any, low_at: Any, high_at: Any) -> None:
        self.tensor = tensor  # (kept alive: the run's tensors are known by id)
        self.low, self.high, self.low_at, self.high_at = low, high, low_at, high_at
        self.storage = _storage(tensor)

    @property
    def exact(self) -> bool:
        return self.low is self.high


def _storage(tensor: Any) -> int | None:
    """Which memory ``tensor`` is a view of (a write through one view changes the values of every other)."""
    try:
        return int(tensor.untyped_storage()._cdata)
    except Exception:  # a tensor with no storage of its own (a sparse or nested one)
        return None


class Shadow:
    """The values of torch's pass, followed beside it (see the module's docstring); ``where()`` names the module
    whose forward runs now, for a refusal's message. ``mode()`` is the TorchDispatchMode to run the pass under;
    ``seen`` is told of each torch function the pass calls (``torch.tensor([...])``, whose values the dispatcher
    never sees, and ``one_hot``, whose meta kernel is made of other operations)."""

    def __init__(self, where: Callable[[], str]) -> None:
        self.where = where
        self.held: dict[int, _Values] = {}
        self.free: dict[int, tuple[Any, int]] = {}  # id of a tensor of the model's inputs -> (it, the input's id)

    # ------------------------------------------------------------------ seeds

    def given(self, tensor: Any, planned: Any, model_input: bool) -> None:
        """A meta tensor made for a planned input: its values where the reader knows them (a module's buffer, an
        ``arange`` of a size), else any values where it is one of the model's own inputs (``model_input``)."""
        known = getattr(planned, "known", None)
        values = getattr(known, "values", None)
        torch = _torch()
        if values is not None and len(values) == tensor.numel() and not tensor.dtype.is_floating_point:
            exact = torch.tensor(values, dtype=tensor.dtype, device="cpu").reshape(tensor.shape)
            self.held[id(tensor)] = _Values(tensor, exact, exact, _ANY, _ANY)
        elif model_input and getattr(planned, "span", None) is None:
            self.free[id(tensor)] = (tensor, id(tensor))

    def buffers(self, original: Any, copy: Any) -> None:
        """The integer buffers of the module ``original``, whose values its meta ``copy`` does not hold."""
        torch = _torch()
        for (name, real), (same, meta) in zip(original.named_buffers(), copy.named_buffers(), strict=False):
            if (
                name == same
                and _followed(real)
                and real.device.type != "meta"
                and meta.device.type == "meta"
                and real.shape == meta.shape
                and not isinstance(real, torch.nn.parameter.UninitializedBuffer)
            ):
                exact = real.detach().to("cpu", copy=True)
                self.held[id(meta)] = _Values(meta, exact, exact, _ANY, _ANY)

    # ------------------------------------------------------------------ the torch functions

    def seen(self, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        """A torch function the pass called: the values of a tensor made from Python's numbers; the check of
        ``one_hot``."""
        torch = _torch()
        if func in (torch.tensor, torch.as_tensor) and is_meta_tensor(out) and _followed(out) and args:
            if not any(isinstance(t, torch.Tensor) for t in torch.utils._pytree.tree_leaves(args[0])):
                with torch._C.DisableTorchFunction():
                    try:
                        exact = torch.tensor(args[0], dtype=out.dtype, device="cpu")
                    except Exception:  # (torch made it: it would make it again)
                        return
                if exact.shape == out.shape:
                    self.held[id(out)] = _Values(out, exact, exact, _ANY, _ANY)
        elif (
            getattr(func, "__name__", "") in ("__getitem__", "__setitem__")
            and len(args) > 1
            and is_meta_tensor(args[0])
        ):
            self._listed(args[0], args[1], out if func.__name__ == "__getitem__" else args[0])
        elif func is torch.nn.functional.one_hot and args:
            classes = args[1] if len(args) > 1 else kwargs.get("num_classes", -1)
            if isinstance(classes, int) and classes >= 0:  # (-1: as many as the greatest value, read on data)
                self._inside(args[0], classes, False, "num_classes (one_hot)", empty=False)

    def _listed(self, t: Any, index: Any, result: Any) -> None:
        """``x[:, [0, 5]]``: a list of ints indexes the axis it stands at, as an index tensor torch makes inside
        ``__getitem__`` (on the meta device, where the dispatcher sees no values): checked here, from its list.
        torch reads no index where ``result`` (the part taken, or the tensor written) has no element."""
        torch = _torch()
        if isinstance(index, list) and not all(isinstance(v, int) and not isinstance(v, bool) for v in index):
            index = tuple(index)  # torch reads a list of lists, slices or tensors as the tuple of them (numpy's rule)
        items = index if type(index) is tuple else (index,)
        consumed = sum(_axes_taken(item) for item in items if item is not None and item is not Ellipsis)
        axis = 0
        for item in items:
            if item is Ellipsis:
                axis += t.dim() - consumed
                continue
            if isinstance(item, list) and _ints(item) and axis < t.dim():
                with torch._C.DisableTorchFunction():
                    values = torch.tensor(item, dtype=torch.long, device="cpu")
                where = f"axis {axis} (x[index]{'' if result is not t else ' = value'})"
                empty = isinstance(result, torch.Tensor) and result.numel() == 0
                self._inside(values, int(t.shape[axis]), True, where, empty=empty, positions=False)
            axis += 0 if item is None else _axes_taken(item)

    # ------------------------------------------------------------------ the dispatcher

    def mode(self) -> Any:
        from torch.utils._python_dispatch import TorchDispatchMode

        shadow = self

        class Follow(TorchDispatchMode):  # type: ignore[no-untyped-call]
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                shadow.ran(func, args, kwargs, out)
                return out

        return Follow()  # type: ignore[no-untyped-call]

    def ran(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        """One operation of the pass, run on the meta device: its indices checked, its values followed."""
        role = _role(func)
        if role.index is not None:
            role.index(self, args, kwargs, out)
        torch = _torch()
        single = isinstance(out, torch.Tensor)
        if single and not role.writes and (out.dtype.is_floating_point or out.dtype.is_complex):
            return  # a float tensor: nothing to follow
        computed = self._computed(func, role, args, kwargs, out)
        for written in role.written(args, kwargs):
            self._forget(written, bool(computed))
        if computed:
            self.held.update((id(tensor), values) for tensor, values in computed)
        elif not single or role.writes or not is_meta_tensor(out):
            return
        elif role.keeps and self.input_of(args[0] if args else None) is not None:
            self.free[id(out)] = (out, self.free[id(args[0])][1])  # a view or a cast of an input: any values
        elif role.bounds is not None and _followed(out):
            self._bounded(func, role, args, kwargs, out)

    def _forget(self, tensor: Any, repeated: bool) -> None:
        """A tensor written in place: the values of the tensors that share its memory are no longer known, but
        where the write was ``repeated`` on its CPU copy, and theirs share that copy's memory as theirs share the
        tensor's (views made by the same operations on the CPU copies): the write changed them alike."""
        storage = _storage(tensor)
        held = self.held.get(id(tensor))
        copy = _storage(held.low) if repeated and held is not None and held.exact else None
        for key, values in list(self.held.items()):
            shared = values.tensor is tensor or (storage is not None and values.storage == storage)
            if shared and (copy is None or not values.exact or _storage(values.low) != copy):
                del self.held[key]

    def _computed(
        self, func: Any, role: _Role, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
    ) -> list[tuple[Any, _Values]]:
        """The outputs' values, where every tensor the operation reads has known values and each output is an
        integer or bool tensor of at most ``_KEPT`` elements: the operation run on CPU copies."""
        torch = _torch()
        pytree = torch.utils._pytree
        outs = pytree.tree_leaves(out)
        if role.never or not outs or not all(isinstance(t, torch.Tensor) and _followed(t) for t in outs):
            return []
        if not all(is_meta_tensor(t) for t in outs):
            return []

        def value(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                if v.device.type == "meta":
                    held = self.held.get(id(v))
                    if held is None or held.tensor is not v or not held.exact:
                        raise _UnknownError
                    return held.low  # (a write repeated on it changes the CPU copies of its views too)
                if v.numel() > _KEPT:
                    raise _UnknownError
                return v.detach().to("cpu", copy=True)
            if isinstance(v, torch.device):
                return torch.device("cpu")
            return v

        try:
            cpu_args, cpu_kwargs = pytree.tree_map(value, (args, kwargs))
        except _UnknownError:
            return []
        if "device" in cpu_kwargs:
            cpu_kwargs["device"] = torch.device("cpu")
        with torch._C.DisableTorchFunction():
            try:
                result = func(*cpu_args, **cpu_kwargs)
            except Exception:  # (torch ran it on the meta device; on data it refuses: its index check is ours)
                return []
        results = pytree.tree_leaves(result)
        if len(results) != len(outs):
            return []
        made = []
        for meta, cpu in zip(outs, results, strict=True):
            if not isinstance(cpu, torch.Tensor) or cpu.shape != meta.shape or cpu.dtype != meta.dtype:
                return []
            made.append((meta, _Values(meta, cpu, cpu, _ANY, _ANY)))
        return made

    def _bounded(self, func: Any, role: _Role, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        """The bounds of an output whose values depend on the model's inputs, by its operation's rule."""
        assert role.bounds is not None
        found = role.bounds(self, func, args, kwargs, out)
        if found is None:
            return
        low, high, low_at, high_at = found
        if (low_at is None and high_at is None) or low.shape != out.shape or high.shape != out.shape:
            return
        torch = _torch()
        if out.dtype != torch.bool:
            info = torch.iinfo(out.dtype)
            if bool((low < info.min).any()) or bool((high > info.max).any()):
                return  # wrapped around: unknown
        self.held[id(out)] = _Values(out, low, high, low_at, high_at)

    # ------------------------------------------------------------------ what is known of an argument

    def interval(self, value: Any) -> tuple[Any, Any, Any, Any] | None:
        """``value`` (a tensor or a number) as int64 bounds and the states that reach them, or None."""
        torch = _torch()
        if isinstance(value, int):  # (a bool too)
            t = torch.tensor(int(value), dtype=torch.long)
            return t, t, _ANY, _ANY
        if not isinstance(value, torch.Tensor) or value.dtype.is_floating_point or value.dtype.is_complex:
            return None
        if value.device.type != "meta":
            if value.numel() > _KEPT:
                return None
            t = value.detach().to("cpu", torch.long)
            return t, t, _ANY, _ANY
        held = self.held.get(id(value))
        if held is None or held.tensor is not value:
            return None
        if held.exact:
            t = held.low.long()
            return t, t, _ANY, _ANY
        return held.low, held.high, held.low_at, held.high_at

    def input_of(self, value: Any) -> int | None:
        """The model's input ``value`` is a view or cast of, where it is one (its values any)."""
        torch = _torch()
        found = self.free.get(id(value)) if isinstance(value, torch.Tensor) else None
        return found[1] if found is not None and found[0] is value else None

    # ------------------------------------------------------------------ the checks

    def _inside(self, index: Any, size: int, negative: bool, what: str, empty: bool, positions: bool = True) -> None:
        """Refuse where some input of these shapes gives ``index`` a value outside an axis of ``size``: from
        ``-size`` on where ``negative``, else from 0, and below ``size``. ``empty``: the operation reads no index
        (torch checks none). ``positions``: say how many positions fit (of a tensor of positions, not a list)."""
        if empty:
            return
        found = self.interval(index)
        if found is None or found[0].numel() == 0:
            return
        low, high, low_at, high_at = found
        bottom, top = (-size if negative else 0), size - 1
        torch = _torch()
        over = high > top if high_at is not None else torch.zeros(high.shape, dtype=torch.bool)
        under = low < bottom if low_at is not None else torch.zeros(low.shape, dtype=torch.bool)
        if bool(over.any()) or bool(under.any()):
            least, greatest = int(low.min()), int(high.max())
            fits = "" if bool(under.any()) or not positions else _fits(over)
            raise ShapeError(index_outside(self.where(), what, least, greatest, size, bottom, top, fits))


class _UnknownError(Exception):
    """A value the shadow does not know (internal: ends a computation on CPU copies)."""


def _ints(items: list[Any]) -> bool:
    """A list of ints, or of such lists (nested: a 2-D index), not empty: an index tensor (of bools: a mask)."""
    return bool(items) and all(
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, list) and _ints(v)) for v in items
    )


def _axes_taken(item: Any) -> int:
    """How many axes an item of ``x[...]`` indexes: a bool mask as many as it has, anything else one."""
    torch = _torch()
    if isinstance(item, torch.Tensor) and item.dtype in (torch.bool, torch.uint8):
        return int(item.dim())
    return 1


def _followed(tensor: Any) -> bool:
    """Whether the values of ``tensor`` are followed: an integer or bool tensor of at most ``_KEPT`` elements."""
    dtype = tensor.dtype
    return bool(not dtype.is_floating_point and not dtype.is_complex and tensor.numel() <= _KEPT)


def _fits(over: Any) -> str:
    """Where an index runs past the end of the axis it indexes from some position on along its last axis (and
    not before): how many positions fit, ``at most 64 positions`` of an ``arange(65)`` into 64 entries."""
    if over.dim() == 0 or over.shape[-1] < 2:
        return ""
    wrong = over.reshape(-1, over.shape[-1]).any(0).tolist()
    count = wrong.index(True)
    if count == 0 or not all(wrong[count:]):
        return ""
    return positions_inside(count, len(wrong), "its last axis")


# --------------------------------------------------------------------------- #
# The operations: how each is checked and followed
# --------------------------------------------------------------------------- #


class _Role:
    """What one aten operation is to the shadow: ``index``, its check of an index (or None); ``writes``, the
    arguments it writes into; ``never``, whether its outputs' values cannot be computed from its inputs' (a draw,
    uninitialised memory); ``keeps``, whether it keeps the model's input it is given as any values (a view, a
    cast); ``bounds``, the rule for its output's bounds (or None)."""

    __slots__ = ("bounds", "index", "keeps", "never", "writes")

    def __init__(self, func: Any) -> None:
        torch = _torch()
        schema = func._schema
        name = schema.name.removeprefix("aten::")
        self.writes = tuple(
            (i, a.name) for i, a in enumerate(schema.arguments) if a.alias_info is not None and a.alias_info.is_write
        )
        self.never = (
            torch.Tag.nondeterministic_seeded in func.tags
            or name.startswith(("empty", "new_empty", "_empty"))
            or name in ("resize_", "set_", "_local_scalar_dense")
        )
        self.index = _CHECKS.get(name)
        self.keeps = name in _REARRANGED or name in ("_to_copy", "clone", "contiguous")
        self.bounds = _RULES.get(name) or (_rearranged if name in _REARRANGED else None)

    def written(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        torch = _torch()
        found = []
        for i, name in self.writes:
            value = args[i] if i < len(args) else kwargs.get(name)
            found += [t for t in torch.utils._pytree.tree_leaves(value) if isinstance(t, torch.Tensor)]
        return found


@functools.lru_cache(maxsize=1024)
def _role(func: Any) -> _Role:
    return _Role(func)


def _axis(tensor: Any, dim: int) -> int:
    """The size of axis ``dim`` of ``tensor`` (a 0-d tensor's one: 1)."""
    return int(tensor.shape[dim]) if tensor.dim() else 1


def _table(what: str) -> Callable[[Shadow, tuple[Any, ...], dict[str, Any], Any], None]:
    """The check of an operation that takes rows of a table (``weight``, its first argument) by ``indices`` (its
    second): an embedding, an embedding bag."""

    def check(shadow: Shadow, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        weight, indices = args[0], _argument(args, kwargs, 1, "indices")
        shadow._inside(indices, int(weight.shape[0]), False, what, empty=False)

    return check


def _along(op: str, negative: bool, index_at: int = 2, empty_self: bool = False) -> Any:
    """The check of an operation that indexes axis ``dim`` (its second argument) of its first by an index tensor
    (argument ``index_at``): ``index_select``, ``gather``, ``scatter``, ``index_copy``..."""

    def check(shadow: Shadow, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        t, dim = args[0], int(_argument(args, kwargs, 1, "dim"))
        index = _argument(args, kwargs, index_at, "index")
        dim = dim + t.dim() if dim < 0 else dim
        empty = empty_self and t.numel() == 0
        shadow._inside(index, _axis(t, dim), negative, f"axis {dim} ({op})", empty=empty)

    return check


def _indexed(op: str) -> Any:
    """The check of ``x[i, j]`` by tensors (aten's ``index`` and ``index_put``): each integer tensor indexes the
    axis it stands at (a bool mask stands at as many axes as it has), negative indices counting from the end.
    torch reads no index where the result (``index``) or the tensor written (``index_put``) has no element."""

    def check(shadow: Shadow, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        torch = _torch()
        t, indices = args[0], _argument(args, kwargs, 1, "indices")
        empty = (out if op == "index" else t).numel() == 0
        axis = 0
        for index in indices:
            if isinstance(index, torch.Tensor) and index.dtype in (torch.bool, torch.uint8):
                axis += index.dim()
                continue
            if index is not None and axis < t.dim():
                where = f"axis {axis} ({'x[index]' if op == 'index' else 'x[index] = value'})"
                shadow._inside(index, int(t.shape[axis]), True, where, empty=empty)
            axis += 1

    return check


def _taken(shadow: Shadow, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
    """``torch.take``: an index into the flattened tensor, negative ones counting from the end."""
    t = args[0]
    shadow._inside(_argument(args, kwargs, 1, "index"), t.numel(), True, "the flattened tensor (take)", empty=False)


_CHECKS: dict[str, Any] = {
    "embedding": _table("the embedding table (embedding)"),
    "embedding_renorm_": _table("the embedding table (embedding)"),
    "_embedding_bag": _table("the embedding table (embedding_bag)"),
    "_embedding_bag_forward_only": _table("the embedding table (embedding_bag)"),
    "embedding_bag": _table("the embedding table (embedding_bag)"),
    "index_select": _along("index_select", False),
    "gather": _along("gather", False),
    "scatter": _along("scatter", False),
    "scatter_": _along("scatter", False),
    "scatter_add": _along("scatter_add", False),
    "scatter_add_": _along("scatter_add", False),
    "scatter_reduce": _along("scatter_reduce", False),
    "scatter_reduce_": _along("scatter_reduce", False),
    "index_copy": _along("index_copy", False, empty_self=True),
    "index_copy_": _along("index_copy", False, empty_self=True),
    "index_add": _along("index_add", False, empty_self=True),
    "index_add_": _along("index_add", False, empty_self=True),
    "index_fill": _along("index_fill", True, empty_self=True),
    "index_fill_": _along("index_fill", True, empty_self=True),
    "index": _indexed("index"),
    "index_put": _indexed("index_put"),
    "index_put_": _indexed("index_put"),
    "_index_put_impl_": _indexed("index_put"),
    "take": _taken,
}


# --------------------------------------------------------------------------- #
# Bounds: the operations whose output's bounds follow from their inputs'
# --------------------------------------------------------------------------- #

Found = tuple[Any, Any, Any, Any] | None


def _rearranged(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    """An operation that moves, repeats or takes a part of its first argument's elements (a view, a slice, an
    expand, a cast to another integer dtype): the same operation on each bound."""
    torch = _torch()
    found = shadow.interval(args[0])
    if found is None:
        return None
    low, high, low_at, high_at = found
    if "dtype" in kwargs or "device" in kwargs:  # a cast (``_to_copy``): the bounds as they are (checked after)
        return (low, high, low_at, high_at) if kwargs.get("dtype") != torch.bool else None
    if func._overloadname == "dtype" or any(isinstance(a, torch.Tensor) for a in args[1:]):
        return None  # the bits read as another dtype; another tensor argument: no rearrangement of one tensor
    with torch._C.DisableTorchFunction():
        try:
            return func(low, *args[1:], **kwargs), func(high, *args[1:], **kwargs), low_at, high_at
        except Exception:  # (an overload this rule does not fit)
            return None


def _compared(op: str) -> Any:
    """A comparison of one of the model's inputs (any values) with a number: 0 where its elements are all on
    the other side of the number, 1 where they all are on this side."""

    def rule(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
        torch = _torch()
        source = shadow.input_of(args[0])
        other = args[1]
        if isinstance(other, torch.Tensor):  # a tensor of one number the shadow knows (a wrapped scalar)
            found = shadow.interval(other) if other.numel() == 1 else None
            other = int(found[0].flatten()[0]) if found is not None and found[0] is found[1] else None
        if source is None or isinstance(other, bool) or not isinstance(other, (int, float)):
            return None
        dtype = args[0].dtype
        if dtype == torch.bool:
            return None
        if not dtype.is_floating_point:
            info = torch.iinfo(dtype)
            if other != int(other) or not info.min < other < info.max:
                return None  # a side no value of the input's dtype reaches
        number = int(other) if float(other).is_integer() else other
        yes, no = (source, op, number), (source, _OPPOSITE[op], number)
        zeros = torch.zeros(out.shape, dtype=torch.long)
        return zeros, torch.ones(out.shape, dtype=torch.long), no, yes

    return rule


def _cumsum(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    """A running sum grows with each element: its bounds are the running sums of the bounds, reached together."""
    found = shadow.interval(args[0])
    if found is None:
        return None
    low, high, low_at, high_at = found
    dim = int(_argument(args, kwargs, 1, "dim"))
    return low.cumsum(dim), high.cumsum(dim), low_at, high_at


def _summed(sign: int, reverse: bool = False) -> Any:
    """``a + alpha * b`` (``sign`` 1), ``a - alpha * b`` (-1), ``b - alpha * a`` (-1, ``reverse``: rsub)."""

    def rule(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
        a, b = shadow.interval(args[0]), shadow.interval(args[1])
        alpha = _argument(args, kwargs, 2, "alpha", 1)
        if a is None or b is None or isinstance(alpha, bool) or not isinstance(alpha, int):
            return None
        if reverse:
            a, b = b, a
        scale = sign * alpha
        low_b, high_b, low_b_at, high_b_at = b if scale >= 0 else (b[1], b[0], b[3], b[2])
        return (
            a[0] + scale * low_b,
            a[1] + scale * high_b,
            merged_state(a[2], low_b_at),
            merged_state(a[3], high_b_at),
        )

    return rule


def _product(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    """A product grows with each factor where both are at least 0; a factor of one number scales the bounds."""
    a, b = shadow.interval(args[0]), shadow.interval(args[1])
    if a is None or b is None:
        return None
    for x, y in ((a, b), (b, a)):
        if y[0] is y[1] and y[0].numel() >= 1 and bool((y[0] == y[0].flatten()[0]).all()):
            c = int(y[0].flatten()[0])  # one number
            if c >= 0:
                return x[0] * c, x[1] * c, x[2], x[3]
            return x[1] * c, x[0] * c, x[3], x[2]
    if bool((a[0] >= 0).all()) and bool((b[0] >= 0).all()):
        return a[0] * b[0], a[1] * b[1], merged_state(a[2], b[2]), merged_state(a[3], b[3])
    return None


def _negated(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    found = shadow.interval(args[0])
    return None if found is None else (-found[1], -found[0], found[3], found[2])


def _clamped(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    """``clamp`` by numbers: it grows with its input."""
    found = shadow.interval(args[0])
    least, most = _argument(args, kwargs, 1, "min"), _argument(args, kwargs, 2, "max")
    if found is None or any(v is not None and (isinstance(v, bool) or not isinstance(v, int)) for v in (least, most)):
        return None
    low, high, low_at, high_at = found
    return low.clamp(least, most), high.clamp(least, most), low_at, high_at


def _joined(shadow: Shadow, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Found:
    """``cat`` and ``stack``: the bounds of the parts joined, reached where every part reaches its own."""
    torch = _torch()
    parts = [shadow.interval(t) for t in args[0]]
    if not parts or any(p is None for p in parts):
        return None
    dim = _argument(args, kwargs, 1, "dim", 0)
    join = torch.stack if func._schema.name == "aten::stack" else torch.cat
    low = join([p[0] for p in parts], dim)  # type: ignore[index]
    high = join([p[1] for p in parts], dim)  # type: ignore[index]
    low_at, high_at = _ANY, _ANY
    for p in parts:
        low_at, high_at = merged_state(low_at, p[2]), merged_state(high_at, p[3])  # type: ignore[index]
    return low, high, low_at, high_at


#: the operations that move, repeat or take a part of one tensor's elements
_REARRANGED = frozenset(
    {
        "view",
        "_unsafe_view",
        "reshape",
        "unsqueeze",
        "squeeze",
        "expand",
        "slice",
        "select",
        "permute",
        "transpose",
        "t",
        "alias",
        "detach",
        "lift_fresh",
        "flatten",
        "unflatten",
        "repeat",
        "narrow",
        "flip",
        "roll",
        "_to_copy",
        "clone",
        "contiguous",
    }
)

_RULES: dict[str, Any] = {
    **{op: _compared(op) for op in _OPPOSITE},
    "cumsum": _cumsum,
    "add": _summed(1),
    "sub": _summed(-1),
    "rsub": _summed(-1, reverse=True),
    "mul": _product,
    "neg": _negated,
    "clamp": _clamped,
    "cat": _joined,
    "stack": _joined,
}
