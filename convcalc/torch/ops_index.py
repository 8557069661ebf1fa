"""fx operation handlers for indexing: ``x[...]`` with ints, slices (numeric and symbolic bounds), None, ...,
lists of ints and integer tensors (a module's index buffer, ``torch.arange(b)``, an argmax), broadcast together
as torch's advanced indexing does; and indexing of tuples, lists and dicts; and assignment into a tensor
(``x[index] = value``)."""

from __future__ import annotations

import functools
from typing import Any

from convcalc._errors import ShapeError
from convcalc._types import Shape
from convcalc.torch.nodes import ListIndex
from convcalc.torch.ops_math import _broadcast
from convcalc.torch.strides import contiguous
from convcalc.torch.values import (
    NeedsDataError,
    _as_index,
    _Call,
    _describe_value,
    _handles,
    _is_int,
    _Loose,
    _part_span,
    _Real,
    _size,
    _SizeTensor,
    _sliced_rf,
    _Tensor,
    require_inside,
)


@_handles("getitem")
def _getitem(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value, index = args[0], args[1]
    if isinstance(index, ListIndex):
        return _pick_first_axis(call, value, index.items)
    if not isinstance(value, _Tensor):
        try:
            return value[index]
        except (TypeError, IndexError, KeyError) as exc:
            raise call.spec_error(f"cannot index {_describe_value(value)} ({exc})", index=index) from None
    items = index if isinstance(index, tuple) else (index,)
    return _slice_tensor(call, value, tuple(_slice_of_sizes(item) for item in items))


def _slice_of_sizes(item: Any) -> Any:
    """A slice whose bounds are tensors of one size (``x[:, :torch.tensor(h - 2)]``) as the slice of those sizes,
    as torch takes them; any other item as it is."""
    if not isinstance(item, slice):
        return item
    return slice(_as_index(item.start), _as_index(item.stop), _as_index(item.step))


@_handles("setitem")
def _setitem(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x[index] = value``: the tensor keeps its shape; the value broadcasts to the part it replaces (the row's
    output). An assignment into a list or a dict changes what a name holds: torch's machinery follows it."""
    target, index, value = args
    if not isinstance(target, _Tensor):
        raise call.spec_error(
            "convcalc follows an assignment into a tensor; one into a list or dict is followed by torch's shape "
            "machinery, which needs numbers: plan with numbers",
            target=_describe_value(target),
        )
    region = _getitem(call, (target, index), {})
    if isinstance(value, _Tensor):
        _broadcasts_to(call, value.shape, region.shape)
    return None


def _broadcasts_to(call: _Call, shape: Shape, region: Shape) -> None:
    """``shape`` broadcasts to ``region`` without growing it (torch: shape mismatch: value tensor of shape ...
    cannot be broadcast to indexing result of shape ...)."""

    def message() -> str:
        return (
            f"{call.where}: a value of shape {tuple(shape)} cannot be assigned to a part of shape {tuple(region)}: "
            f"it must broadcast to it. Received: value_shape={tuple(shape)}"
        )

    extra = len(shape) - len(region)
    if any(d != 1 for d in shape[: max(extra, 0)]):
        raise ShapeError(message())
    for j, (have, want) in enumerate(zip(shape[max(extra, 0) :], region[max(-extra, 0) :], strict=True)):
        if have != 1:
            call.require_equal(have, want, max(-extra, 0) + j, message)


def _pick_first_axis(call: _Call, value: Any, items: tuple[Any, ...]) -> Any:
    """``x[[0, 2]]``: the rows a list of ints names, along the first axis."""
    if not isinstance(value, _Tensor):
        try:  # a tuple or a list takes no list index: Python raises TypeError
            return value[list(items)]
        except (TypeError, IndexError, KeyError) as exc:
            raise call.spec_error(f"cannot index {_describe_value(value)} ({exc})", index=list(items)) from None
    if not value.shape or not all(_is_int(i) for i in items):
        raise call.spec_error("convcalc follows a list index of ints on a tensor of 1 or more dims", index=list(items))
    _indices_inside(call, items, value.shape, 0)
    shape = (len(items), *value.shape[1:])
    # of an integer tensor (``self.keep[[0, -1]]``): the bounds of the values it takes
    size = value.shape[0]
    picks: list[Any] = [[_size(size + i) if i < 0 else i for i in items], *((0, d, 1) for d in value.shape[1:])]
    span = _part_span(value, picks) if value.integral else None
    return call.row(value.shape, _Tensor(shape, None, value.const, integral=value.integral, span=span))


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
    if _several_advanced(expanded):
        return _advanced(call, t, expanded)
    shape: list[Any] = []
    axis = 0
    trailing_ok = True
    k = len(t.rf) if t.rf is not None else 0
    rf = t.rf
    picks: list[Any] = []  # the positions taken on each axis of ``t``, for the bounds of the values taken
    tensors: list[tuple[Any, Any, int]] = []  # the integer tensors that index, with their axes
    for at, item in enumerate(expanded):
        if item is None:
            shape.append(1)
            if axis > rank - k:
                trailing_ok = False
            continue
        size = t.shape[axis]
        if isinstance(item, slice):
            full = item.start is None and item.stop is None and item.step in (None, 1)
            run = (0, size, 1) if full else _slice_run(call, size, item, axis, t.shape)
            shape.append(run[1])
            picks.append(run)
            if not full:
                rf = _sliced_rf(rf, rank, axis, item, size)
        elif _is_int(item):  # torch: IndexError, index out of range for the axis
            _indices_inside(call, (item,), t.shape, axis)
            picks.append((_size(size + item) if item < 0 else item, 1, 1))
            if axis >= rank - k:
                trailing_ok = False
        elif _one_list(at, expanded):  # x[:, [0, 2]]: one list of ints picks along its axis, in place
            _indices_inside(call, item, t.shape, axis)
            shape.append(len(item))
            picks.append([_size(size + i) if i < 0 else i for i in item])
            if axis >= rank - k:
                trailing_ok = False
        elif isinstance(item, _Tensor) and item.integral and _one_tensor(at, expanded):
            # table[index]: a module's index buffer (Swin's relative_position_index) picks along one axis, the
            # index's shape in its place (torch checks the values, which a plan of shapes does not read, except
            # those of a tensor made from numbers or sizes)
            if isinstance(item, _SizeTensor):
                _indices_inside(call, tuple(v for v in item.values if _is_int(v)), t.shape, axis)
            tensors.append((item, size, axis))
            shape.extend(item.shape)
            picks.append(None)  # (positions that are data)
            if axis >= rank - k:
                trailing_ok = False
        else:
            _inside_their_axes(call, t.shape, expanded)  # (torch's machinery, which plans it, reads no values)
            raise call.spec_error(
                "convcalc follows indexing with ints, slices, None, ..., lists of ints and integer tensors (a mask's "
                "count of True is data)",
                index=_describe_value(item),
            )
        axis += 1
    _inside_unless_empty(call, tensors, shape)
    rf = rf if trailing_ok else None
    strides = _sliced_strides(t, expanded, shape)
    # some of its values: their bounds are met where every value is kept (``i[:, None]``), else those of the part
    whole = all(
        i is None or (isinstance(i, slice) and (i.start, i.stop, i.step or 1) == (None, None, 1)) for i in expanded
    )
    span = t.span if whole else _part_span(t, picks)
    known = t.known if whole and None not in expanded else None  # (of its shape: no new axis)
    return call.row(t.shape, _Tensor(tuple(shape), rf, t.const, strides, t.integral, span, known))


def _is_advanced(item: Any) -> bool:
    """A list of ints (frozen as a tuple) or a tensor of 1 or more dims as an index: torch's advanced indexing."""
    if isinstance(item, _Tensor):
        return item.shape != ()
    return isinstance(item, tuple) and bool(item) and all(_is_int(i) for i in item)


def _selects(item: Any) -> bool:
    """An int, or an integer tensor of 0 dims, which torch takes as one: it selects along its axis first."""
    return _is_int(item) or (isinstance(item, _Tensor) and item.shape == () and item.integral)


def _several_advanced(index: list[Any]) -> bool:
    """Whether the index has advanced parts beyond one list or one integer tensor among slices and None (which
    keep its place): several, broadcast together (``x[torch.arange(b), ids]``), or one beside an int."""
    at = [j for j, item in enumerate(index) if _is_advanced(item)]
    if not at:  # a 0-D index tensor beside an int: both select
        return any(isinstance(i, _Tensor) for i in index) and sum(1 for i in index if _selects(i)) > 1
    if not all(isinstance(index[j], tuple) or index[j].integral for j in at):
        return False  # a mask or a float tensor: refused below
    return len(at) > 1 or any(_selects(other) for other in index)


def _advanced(call: _Call, t: _Tensor, index: list[Any]) -> _Tensor:
    """torch's advanced indexing: each int selects first (its axis goes); the lists and tensors left broadcast
    together, and their shape stands where they index axes side by side (None between them parts them), else
    first. Lists of ints are checked against their axes; a tensor's values are data, which a plan does not read."""
    parts: list[Any] = []  # after the ints: a size, or the index (an advanced part)
    picks: list[Shape] = []
    tensors: list[tuple[Any, Any, int]] = []
    axis = 0
    for item in index:
        if item is None:
            parts.append(1)
            continue
        size = t.shape[axis]
        if _is_int(item):
            _indices_inside(call, (item,), t.shape, axis)
        elif isinstance(item, slice):
            full = item.start is None and item.stop is None and item.step in (None, 1)
            parts.append(size if full else _slice_length(call, size, item, axis, t.shape))
        elif not _is_advanced(item):  # a 0-D index tensor selects: its value is data
            pass
        else:
            if isinstance(item, tuple):
                _indices_inside(call, item, t.shape, axis)
            else:
                tensors.append((item, size, axis))
            picks.append((len(item),) if isinstance(item, tuple) else item.shape)
            parts.append(None)
        axis += 1
    at = [j for j, part in enumerate(parts) if part is None]
    # torch: shape mismatch: indexing tensors could not be broadcast together
    picked = _broadcast(call, picks, functools.partial(_indices_apart, call, t.shape, picks)) if picks else ()
    if not at:
        shape = tuple(parts)
    elif at == list(range(at[0], at[-1] + 1)):  # side by side: in their place
        shape = (*parts[: at[0]], *picked, *parts[at[-1] + 1 :])
    else:
        shape = (*picked, *(part for part in parts if part is not None))
    out = tuple(shape)
    _inside_unless_empty(call, tensors, out)
    strides = contiguous(out) if all(type(d) is int for d in out) else None
    # some of its values, within the bounds of all of them
    return call.row(t.shape, _Tensor(out, None, t.const, strides, t.integral, _Loose(t.span) if t.span else None))


def _inside_unless_empty(call: _Call, tensors: list[tuple[Any, Any, int]], shape: Any) -> None:
    """``require_inside`` of each integer tensor that indexes an axis, unless the result has no element: torch
    reads none of their values then (``x[1:, self.keep]`` of an axis of 1 is empty, whatever ``keep`` holds)."""
    if any(type(d) is int and d == 0 for d in shape) or not tensors:
        return
    from convcalc._backend import decided
    from convcalc._symbolic import to_sympy

    unless = tuple(d for d in shape if type(d) is not int and decided(to_sympy(d) >= 1) is not True)
    for index, size, axis in tensors:
        require_inside(call, index, size, axis, f"axis {axis}", unless=unless)


def _indices_apart(call: _Call, shape: Shape, picks: list[Shape]) -> str:
    return (
        f"{call.where}: the index tensors and lists have shapes {', '.join(str(tuple(p)) for p in picks)}, which do "
        f"not broadcast together (sizes must be equal or 1). Received: input_shape={tuple(shape)}"
    )


def _sliced_strides(t: _Tensor, items: list[Any], shape: list[Any]) -> tuple[int, ...] | None:
    """The strides of ``t[items]`` as torch slices it, item by item: a slice steps ``step`` times as far, an int
    drops its axis, None puts in an axis of size 1 (as ``unsqueeze`` does)."""
    if t.strides is None or not all(type(d) is int for d in shape) or any(isinstance(i, tuple) for i in items):
        return None
    if any(isinstance(i, _Tensor) for i in items):  # advanced indexing copies into a new tensor
        return contiguous(tuple(shape))
    sizes, strides = list(t.shape), list(t.strides)
    at = 0
    for item in items:
        if item is None:
            strides.insert(at, sizes[at] * strides[at] if at < len(sizes) else 1)
            sizes.insert(at, 1)
            at += 1
        elif isinstance(item, slice):
            strides[at] *= item.step if item.step is not None else 1
            sizes[at] = shape[at]
            at += 1
        else:
            del sizes[at], strides[at]
    return tuple(strides)


def _inside_their_axes(call: _Call, shape: Shape, index: list[Any]) -> None:
    """Each int and each list of ints of an index names elements of its axis (torch: IndexError)."""
    axis = 0
    for item in index:
        if item is None:
            continue
        if _is_int(item) or (isinstance(item, tuple) and all(_is_int(i) for i in item)):
            _indices_inside(call, item if isinstance(item, tuple) else (item,), shape, axis)
        axis += 1


def _indices_inside(call: _Call, items: tuple[int, ...], shape: Shape, axis: int) -> None:
    """Each int of a list index must name an element of the axis (a constraint where its size is a symbol)."""
    size = shape[axis]
    for i in items:
        reach = i + 1 if i >= 0 else -i  # the size the axis needs for this index
        call.ctx.at_least(
            size - reach if type(size) is int else _size(size - reach),
            0,
            call.name,
            axis,
            lambda i=i: (
                f"{call.where}: index {i} is out of axis {axis} of size {size}. Received: input_shape={tuple(shape)}"
            ),
            f"index {i} inside the axis",
        )


def _one_tensor(at: int, index: list[Any]) -> bool:
    """Whether ``index[at]`` is the index's only advanced part (only slices and None beside it; the same buffer
    given twice, ``x[idx, idx]``, is two)."""
    return all(j == at or other is None or isinstance(other, slice) for j, other in enumerate(index))


def _one_list(at: int, index: list[Any]) -> bool:
    """Whether ``index[at]`` is a list of ints (frozen as a tuple) and the index's only advanced part (with another
    list or an int beside it, torch broadcasts the indices together and may move the axes)."""
    item = index[at]
    if not (isinstance(item, tuple) and item and all(_is_int(i) for i in item)):
        return False
    return not any(_is_int(other) or isinstance(other, tuple) for j, other in enumerate(index) if j != at)


def _slice_length(call: _Call, size: Any, item: slice, axis: int, shape: Shape) -> Any:
    return _slice_run(call, size, item, axis, shape)[1]


def _slice_run(call: _Call, size: Any, item: slice, axis: int, shape: Shape) -> tuple[Any, Any, int]:
    """The positions a slice of an axis of ``size`` takes: its first, how many (a constraint where the slice
    could be reversed) and the step between them."""
    step = 1 if item.step is None else item.step
    if not _is_int(step) or step < 1:
        raise call.spec_error("slices need a positive int step", step=step)
    for name, bound in (("start", item.start), ("stop", item.stop)):
        if isinstance(bound, _Tensor):  # a tensor whose value the plan does not follow (``torch.ceil(t).long()``)
            raise NeedsDataError(
                f"{call.where}: a slice bound is a tensor's value, which convcalc follows only for tensors made "
                f"from sizes by whole-number arithmetic. Received: {name}={_describe_value(bound)}"
            )
        if isinstance(bound, (float, _Real)):  # ``x[:, : h / 2]``: a float
            raise call.spec_error(
                "slice bounds must be ints or None, as Python's are (torch: slice indices must be integers); a "
                "true division of sizes is a float: use // or int()",
                **{name: bound},
            )
    if type(size) is int and all(v is None or _is_int(v) for v in (item.start, item.stop)):
        taken = range(size)[slice(item.start, item.stop, step)]
        return taken.start, len(taken), step

    def resolve(v: Any, default: Any, from_end: bool) -> Any:
        if v is None:
            return default
        if _is_int(v):
            return size + v if from_end else v
        from convcalc._symbolic import to_sympy

        if not from_end:
            # ``x[:, :, : y.size(2)]``, a crop's ``d : d + u.size(2)``: a size, counted from the start where it is
            # not negative (where sympy cannot tell, the plan holds where it is not)
            call.ctx.at_least(
                v,
                0,
                call.name,
                axis,
                lambda: (
                    call.where + f": the slice bound {v} is negative here, which counts from the end, not the "
                    f"start. Received: input_shape={shape}"
                ),
                "slice bound not negative",
            )
            return v

        # ``x[..., :-(h // 3)]``, ``x[:, :, -y.size(2):]``: counted from the end where negative; the plan holds
        # where it is (not 0, which slices from the start)
        call.ctx.at_least(
            _size(-to_sympy(v)),
            1,
            call.name,
            axis,
            lambda: (
                call.where + f": the slice bound {v} is 0 here, which slices from the start, not the end. "
                f"Received: input_shape={shape}"
            ),
            "negative slice bound not 0",
        )
        return _size(to_sympy(size) + to_sympy(v))

    if item.stop is None and step == 1 and _is_int(item.start) and item.start < 0:
        last = _clamped(-item.start, size, above=False)  # ``x[..., -1:]``: the last (at most) k, Min(k, h)
        from convcalc._symbolic import to_sympy

        return _size(to_sympy(size) - to_sympy(last)), last, 1
    start_from_end = _from_end(call, item.start, (call.name, axis, "start"))
    stop_from_end = _from_end(call, item.stop, (call.name, axis, "stop"))
    start, stop = resolve(item.start, 0, start_from_end), resolve(item.stop, size, stop_from_end)
    # torch clamps a bound to the axis (``x[:, :, :100]`` of 60 steps is 60 long), the least or the greatest of the
    # two where sympy cannot tell which it is: a bound counted from the end is below the size where the plan
    # holds, one counted from the start at least 0; a start past the end leaves nothing, which the length's own
    # check refuses
    if start_from_end:
        start = _clamped(start, 0, above=True)
    stop = _clamped(stop, 0, above=True) if stop_from_end else _clamped(stop, size, above=False)
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
    return start, length, step


def _from_end(call: _Call, bound: Any, where: tuple[str, int, str]) -> bool:
    """Whether a slice bound counts from the end of the axis: a negative one; of a symbolic one whose sign
    sympy cannot decide, whether it is negative for large sizes (``-(h // 3)``, but ``y.size(2)`` or
    ``(a.size(2) - u.size(2)) // 2`` count from the start), unless the plan is made again with the other sign
    (``Context.sign_taken``): the plan then holds where it has the sign taken."""
    if bound is None:
        return False
    if _is_int(bound):
        return bool(bound < 0)
    from convcalc._backend import decided
    from convcalc._symbolic import at_large_sizes, to_sympy

    value = to_sympy(bound)
    sign = decided(value >= 0)
    if sign is not None:
        return not sign
    negative: bool = call.ctx.sign_taken(where, bool(at_large_sizes(value) < 0))
    return negative


def _clamped(value: Any, bound: Any, above: bool) -> Any:
    """``max(value, bound)`` (``above``) or ``min(value, bound)`` of sizes: the one that is, where decided."""
    from convcalc._backend import decided, smax, smin
    from convcalc._symbolic import to_sympy

    if type(value) is int and type(bound) is int:
        return max(value, bound) if above else min(value, bound)
    inside = decided(to_sympy(value) >= to_sympy(bound)) if above else decided(to_sympy(value) <= to_sympy(bound))
    if inside is True:
        return value
    if inside is False:
        return bound
    return _size((smax if above else smin)(to_sympy(value), to_sympy(bound)))
