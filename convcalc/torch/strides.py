"""The strides of a tensor in a forward, where they are known: enough to tell, as torch does, whether ``view`` can
give a shape without copying (``x.transpose(1, 2).view(b, -1)`` is a RuntimeError in torch).

A plan knows a tensor's strides only where torch's are certain: the model's inputs are contiguous; a layer or
an operation that makes a new tensor from contiguous inputs makes a contiguous one; the operations that give a
view of their input (transpose, permute, slicing, unsqueeze, expand, view) change the strides by torch's rules; and
an elementwise operation lays its result out by ATen's TensorIterator rule, whatever its operands' layouts: all
written here. Everywhere else the strides are unknown (``None``), and ``view`` is taken to succeed, as it did
before strides were followed: an unknown stride never refuses a model. Only int sizes carry strides.

>>> contiguous((2, 3, 4))
(12, 4, 1)
>>> viewed((2, 3, 4), (12, 1, 3), (2, 12)) is None  # a transposed (2, 4, 3) seen as (2, 3, 4): not viewable
True
>>> viewed((2, 3, 4), (12, 4, 1), (6, 4))
(4, 1)
"""

from __future__ import annotations

from typing import Any

from convcalc._types import Shape

Strides = tuple[int, ...]


def contiguous(shape: Shape) -> Strides | None:
    """Row-major strides of ``shape`` (torch's for a new tensor), or None where a size is not an int."""
    if not all(type(d) is int for d in shape):
        return None
    strides = []
    step = 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


def is_contiguous(shape: Shape, strides: Strides | None) -> bool:
    """torch's ``is_contiguous()``: an empty tensor is; an axis of size 1 may have any stride."""
    if strides is None or not all(type(d) is int for d in shape):
        return False
    if 0 in shape:
        return True
    step = 1
    for d, s in zip(reversed(shape), reversed(strides), strict=True):
        if d != 1:
            if s != step:
                return False
            step *= d
    return True


def viewed(shape: tuple[int, ...], strides: Strides, new_shape: tuple[int, ...]) -> Strides | None:
    """The strides of ``x.view(new_shape)``, or None where torch cannot view it (ATen's ``computeStride``: each
    run of new axes must lie within one run of old axes that are laid out one after another in memory)."""
    if not shape:
        return (1,) * len(new_shape)
    numel = 1
    for d in shape:
        numel *= d
    if numel == 0:
        if tuple(shape) == tuple(new_shape):
            return strides
        return contiguous(new_shape)
    out = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and strides[tensor_d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                base = strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(out)


def unsqueezed(shape: tuple[int, ...], strides: Strides, dim: int) -> Strides:
    """``x.unsqueeze(dim)`` (``dim`` already in range): the new axis steps over the axis it is put before."""
    new = shape[dim] * strides[dim] if dim < len(shape) else 1
    return (*strides[:dim], new, *strides[dim:])


def expanded(shape: tuple[int, ...], strides: Strides, new_shape: tuple[int, ...]) -> Strides:
    """``x.expand(new_shape)`` (already checked): new leading axes and widened axes of size 1 step by 0."""
    lead = len(new_shape) - len(shape)
    out = [0] * lead
    for d, s, n in zip(shape, strides, new_shape[lead:], strict=True):
        out.append(0 if d == 1 and n != 1 else s)
    return tuple(out)


def is_dense(shape: tuple[int, ...], strides: Strides) -> bool:
    """torch's ``is_non_overlapping_and_dense()``: the axes of size 2 and more, taken by stride, step densely."""
    step = 1
    for j in sorted((j for j, d in enumerate(shape) if d > 1), key=lambda j: strides[j]):
        if strides[j] != step:
            return False
        step *= shape[j]
    return True


_CHANNELS_LAST = (1, 3, 2, 0)  # NCHW's axes from the fastest in torch.channels_last


def _channels_last(shape: tuple[int, ...], strides: Strides) -> bool:
    """torch's ``is_contiguous(memory_format=torch.channels_last)`` of a 4-D tensor."""
    step = 1
    for j in _CHANNELS_LAST:
        if shape[j] != 1:
            if strides[j] != step:
                return False
            step *= shape[j]
    return True


def channels_last(shape: Shape) -> Strides | None:
    """The strides of a 4-D tensor of ``shape`` laid out channels-last (torch.channels_last), or None where it is
    not 4-D of ints.

    >>> channels_last((2, 3, 4, 5))
    (60, 1, 15, 3)
    """
    if len(shape) != 4 or not all(type(d) is int for d in shape):
        return None
    return _dense_in(list(_CHANNELS_LAST), tuple(shape))


def is_channels_last(shape: Shape, strides: Strides) -> bool:
    """Whether torch takes a 4-D tensor as channels-last (its ``suggest_memory_format``, from ATen's
    ``is_channels_last_strides_2d``): by the strides themselves, so an ``(n, c, 1, 1)`` of strides ``(c, 1, c, c)``
    (a global pool of a channels-last tensor) is, one of ``(c, 1, 1, 1)`` is not.

    >>> is_channels_last((2, 3, 1, 1), (3, 1, 3, 3)), is_channels_last((2, 3, 1, 1), (3, 1, 1, 1))
    (True, False)
    """
    if len(shape) != 4 or not all(type(d) is int for d in shape) or strides[1] == 0:
        return False
    least = 0
    for j in _CHANNELS_LAST:
        if shape[j] == 0 or strides[j] < least:
            return False
        if j == 0 and least == strides[1]:  # an (n, 1, 1, 1) of equal strides: torch falls back to contiguous
            return False
        least = strides[j] * (shape[j] if shape[j] > 1 else 1)
    return True


def _dense_in(order: list[int], shape: tuple[int, ...]) -> Strides:
    """Strides laid out densely with the axes of ``order`` from the fastest (first) to the slowest."""
    out = [0] * len(shape)
    step = 1
    for j in order:
        out[j] = step
        step *= shape[j]
    return tuple(out)


def iterated(operands: list[tuple[tuple[Any, ...], Strides | None]], shape: Shape, scalars: bool) -> Strides | None:
    """The strides torch gives the result of an elementwise operation on these operands (shapes and strides, in
    the order the operation takes them; ``scalars``: a Python number among them), as ATen's TensorIterator lays it
    out: a contiguous result for contiguous operands of one shape, a channels-last one for channels-last operands,
    the operands' strides where they are dense and the same; else its order of the axes, the first operand whose
    strides tell two axes apart deciding (an axis broadcast or expanded, of stride 0, tells nothing). None where a
    size or an operand's strides are not known. (``clone()`` has its own rule: :func:`copied`.)"""
    if not all(type(d) is int and d > 0 for d in shape) or not operands:
        return None
    known: list[tuple[tuple[int, ...], Strides]] = []
    for sizes, strides in operands:
        if strides is None or not all(type(d) is int for d in sizes):
            return None
        known.append((tuple(sizes), strides))
    rank = len(shape)
    if not scalars and all(sizes == tuple(shape) for sizes, _ in known):  # TensorIterator's fast set-up
        if all(is_contiguous(sizes, strides) for sizes, strides in known):
            return contiguous(shape)
        if rank == 4 and all(_channels_last(sizes, strides) for sizes, strides in known):  # (not 3-D's at rank 5)
            return channels_last(shape)
        if all(is_dense(sizes, strides) for sizes, strides in known) and len({st for _, st in known}) == 1:
            return known[0][1]
    return _ordered(known, tuple(shape))


def copied(shape: Shape, strides: Strides | None) -> Strides | None:
    """The strides of ``clone()`` (and of a copy that keeps the layout: ``.to(dtype)``, ``.float()``): the same
    strides where the tensor is dense (``empty_like`` keeps them exactly), else dense in the tensor's order of axes
    (ATen's ``infer_dense_strides``). None where they are not known."""
    if strides is None or not all(type(d) is int and d > 0 for d in shape):
        return None
    return strides if is_dense(shape, strides) else _ordered([(tuple(shape), strides)], tuple(shape))


def _ordered(known: list[tuple[tuple[int, ...], Strides]], shape: tuple[int, ...]) -> Strides:
    """Dense strides in TensorIterator's order of the axes (its ``reorder_dimensions``)."""
    rank = len(shape)
    steps = []  # each operand's strides over the result's axes: 0 where it is broadcast
    for sizes, strides in known:
        lead = rank - len(sizes)
        steps.append([0] * lead + [0 if d == 1 and shape[lead + j] != 1 else strides[j] for j, d in enumerate(sizes)])

    def after(a: int, b: int) -> int:  # 1: axis b goes before (steps faster than) a; -1: a goes first; 0: untold
        for step in steps:
            if step[a] == 0 or step[b] == 0:
                continue
            if step[a] != step[b]:
                return 1 if step[a] > step[b] else -1
            if shape[a] > shape[b]:
                return 1
        return 0

    order = list(range(rank - 1, -1, -1))  # fastest first, as TensorIterator's perm_
    for i in range(1, rank):  # its insertion sort, which moves past untold comparisons
        moving = i
        for before in range(i - 1, -1, -1):
            told = after(order[before], order[moving])
            if told > 0:
                order[before], order[moving] = order[moving], order[before]
                moving = before
            elif told < 0:
                break
    return _dense_in(order, tuple(shape))
