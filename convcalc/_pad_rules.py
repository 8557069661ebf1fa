"""The rules of torch's padding modes (reflect, replicate, circular, constant), per axis and for a whole pad.

Part of the formulas (``convcalc.formulas`` re-exports them): the pad layers, ``padding_mode`` of a
convolution and ``F.pad`` read from torch code all check their padding here, nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from convcalc._args import show
from convcalc._enums import PadMode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from convcalc._types import Size

__all__ = ["circular_copy_fails", "pad_requirements"]


def pad_requirements(i: Size, left: Size, right: Size, mode: PadMode) -> list[tuple[Any, int, str]]:
    """torch's conditions for padding an axis of size ``i`` by ``(left, right)`` (negative crops) in
    ``mode``, as ``(value, minimum, what torch says)`` triples that hold when ``value >= minimum``.

    constant: cropping first may not remove more than the input (``narrow()``), so the output may be 0;
    reflect: each padding below the input size; replicate: a non-empty input; both: output at least 0 here, and
    at least 1 on one of the padded dims (checked across dims by the caller);
    circular: each padding at most the input size (it wraps around once), output at least 0. Circular
    cropping has further rules on concrete sizes (:func:`circular_copy_fails`). Checked on torch 2.13.
    """
    out = i + left + right
    shown = f"({show(left)}, {show(right)})"
    if mode is PadMode.CONSTANT:
        if type(left) is not int or type(right) is not int:  # symbolic padding: torch's check of the result
            return [(out, 0, f"padding {shown} leaves a size of {show(out)}")]
        kept = i + min(left, 0) + min(right, 0)
        if type(kept) is int and type(out) is int and kept == out:
            return [(kept, 0, f"padding leaves a size of {show(kept)}")]
        crop = f"cropping {shown} leaves a size of {show(kept)} before padding (torch: narrow(): length must be non-negative)"
        return [(kept, 0, crop)]
    # torch checks that reflect and replicate padding leave a size of at least 1 on at least one of the
    # padded dims (plan_padding applies that across dims); on each dim the size may not be negative
    too_small = f"input ({show(i)}) is too small: padding {shown} gives an output of {show(out)}"
    if mode is PadMode.REFLECT:
        wide = f"reflect padding {shown} must be less than the input size {show(i)} (torch: Padding size should be less than the corresponding input dimension)"
        return [
            (i, 1, f"reflect padding needs a non-empty input, got {show(i)}"),
            (i - left, 1, wide),
            (i - right, 1, wide),
            (out, 0, too_small),
        ]
    if mode is PadMode.REPLICATE:
        return [(i, 1, f"replicate padding needs a non-empty input, got {show(i)}"), (out, 0, too_small)]
    wraps = f"circular padding {shown} must be at most the input size {show(i)} (torch: Padding value causes wrapping around more than once)"
    return [
        (i - left, 0, wraps),
        (i - right, 0, wraps),
        (
            out,
            0,
            f"circular padding {shown} leaves a size of {show(out)} (torch: Negative padding value is resulting in an empty dimension)",
        ),
    ]


def _slice(n: int, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` of aten's ``slice`` on a dim of length ``n`` (negative ends count from the back, then clamp)."""
    start, end = start + n if start < 0 else start, end + n if end < 0 else end
    start = min(max(start, 0), n)
    return start, min(max(end, start), n)


def circular_copy_fails(shape: Sequence[int], pads: Sequence[tuple[int, int]]) -> bool:
    """Whether torch's circular padding (``_pad_circular``), once :func:`pad_requirements` hold, still fails
    with concrete sizes. ``shape`` is the whole input shape, ``pads`` the (left, right) of its last dims.

    With negative padding the slices torch copies can differ in length (a shape error) or overlap in part;
    torch detects the overlap (and raises) only when the output is not empty and the slices are dense in
    memory, which a slice of a contiguous tensor is when every dim before the sliced one has size 1.
    """
    first = len(shape) - len(pads)
    sizes = shape[first:]
    outs = [i + left + right for i, (left, right) in zip(sizes, pads, strict=True)]
    full = [*shape[:first], *outs]
    nonempty = all(o > 0 for o in full)

    def copy_fails(dst: tuple[int, int], src: tuple[int, int], same_tensor: bool, dense: bool) -> bool:
        if same_tensor and dst == src:
            return False  # copy_ of a view onto itself returns at once
        dst_len, src_len = dst[1] - dst[0], src[1] - src[0]
        if src_len not in (dst_len, 1):
            return True  # the source cannot broadcast to the destination
        overlap = dst[0] < src[1] and src[0] < dst[1]
        return same_tensor and dense and nonempty and dst_len > 0 and src_len > 0 and overlap

    for a, (i, (left, right), out) in enumerate(zip(sizes, pads, outs, strict=True)):
        dense = math.prod(full[: first + a]) == 1
        inner = _slice(out, max(left, 0), out - max(right, 0))
        if copy_fails(inner, _slice(i, max(-left, 0), i - max(-right, 0)), False, dense):
            return True
        if left > 0 and copy_fails(
            _slice(out, 0, left), _slice(out, out - left - max(right, 0), out - max(right, 0)), True, dense
        ):
            return True
        if right > 0 and copy_fails(
            _slice(out, out - right, out), _slice(out, max(left, 0), max(left, 0) + right), True, dense
        ):
            return True
    return False
