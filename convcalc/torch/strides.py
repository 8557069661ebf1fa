"""The strides of a tensor in a forward, where they are known: enough to tell, as torch does, whether ``view`` can
give a shape without copying (``x.transpose(1, 2).view(b, -1)`` is a RuntimeError in torch).

A plan knows a tensor's strides only where torch's are certain: the model's inputs are contiguous; a layer or
an operation that makes a new tensor from contiguous inputs makes a contiguous one; and the operations that give
a view of their input (transpose, permute, slicing, unsqueeze, expand, view) change the strides by torch's rules,
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

Strides = tuple[int, ...]


def contiguous(shape: tuple[Any, ...]) -> Strides | None:
    """Row-major strides of ``shape`` (torch's for a new tensor), or None where a size is not an int."""
    if not all(type(d) is int for d in shape):
        return None
    strides = []
    step = 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


def is_contiguous(shape: tuple[Any, ...], strides: Strides | None) -> bool:
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


def kept_by_elementwise(tensors: list[Any], shape: tuple[Any, ...]) -> Strides | None:
    """The strides torch gives the result of an elementwise operation (its TensorIterator) or of a copy that
    keeps the layout (``clone``), where they are certain: every operand of the result's shape with the same
    strides, the result laid out densely in the order of those strides (the same strides where the operands are
    dense, as a transposed or permuted tensor is). Else None (unknown): operands that differ, an axis of stride
    0, or two axes of one stride, where torch's order is its own choice. The stride of an axis of size 1 is never
    read by the view rule, so it is not compared (and given as 1)."""
    first: Strides | None = tensors[0].strides if tensors else None
    if first is None or not all(type(d) is int and d > 0 for d in shape):
        return None
    wide = [j for j, d in enumerate(shape) if d > 1]
    for t in tensors:
        if t.strides is None or tuple(t.shape) != tuple(shape) or any(t.strides[j] != first[j] for j in wide):
            return None
    if len({first[j] for j in wide}) != len(wide) or any(first[j] == 0 for j in wide):
        return None
    out = [1] * len(shape)
    step = 1
    for j in sorted(wide, key=lambda j: first[j]):
        out[j] = step
        step *= shape[j]
    return tuple(out)
