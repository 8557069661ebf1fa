"""The sentence a failing plan adds to its ShapeError: the network inputs that would fit.

The planner hands in how to plan the model again (``replan``, a public plan at another input, whose own
failures give no hint) or where planning an input fails (``failure``); nothing here imports the planner.
:func:`for_error` picks the hint a ShapeError calls for. Each varies the one network input of a model; a plan of
several inputs gets none (which of them reaches the failing layer, and whether the others must change with it,
is not known).

- :func:`strict_inputs`: a stride that does not divide evenly (``strict``): the sizes of that axis nearest the
  failing one that divide evenly at every layer;
- :func:`fitting_inputs`: sizes that disagree where a layer needs them equal (a U-Net's ``cat`` of an odd
  input): the sizes nearest the failing one of the first spatial axis at which the model fits;
- :func:`smallest_input`: a layer too large for its input: the smallest input, grown from the failing one,
  that fits every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc._errors import ConvCalcError, ShapeError
from convcalc._types import Shape

#: the most sizes a hint looks through on each side of the failing one
_REACH = 4096


def for_error(
    exc: ShapeError,
    shape: Shape,
    first: int,
    spatial: range,
    strict: bool,
    replanned: Callable[[bool], Callable[[Shape], Any]],
    failure: Callable[[Shape], tuple[str | None, int | None, tuple[str, ...]] | None],
) -> str:
    """The sentence for ``exc``, a layer's refusal of the network input ``shape`` (of a model of one input), from
    what the error says of itself: which of the hints below applies, or ``""``. ``replanned(strict)`` plans the
    model again with ``strict`` as given; ``first`` is the index of the first spatial axis, ``spatial`` the range
    of them."""
    if exc.mismatch and len(shape) >= 4 and (exc.layer is None or exc.axis is None):
        # sizes that disagree (a U-Net's cat of an odd input, an image model's residual sum): those that fit
        return fitting_inputs(replanned(strict), shape, spatial)
    if exc.layer is None or exc.axis is None:
        return ""
    if exc.strict:
        return strict_inputs(replanned(True), shape, spatial, first + exc.axis)
    return smallest_input(failure, shape, first, exc.layer, exc.axis)


def strict_inputs(replan: Callable[[Shape], Any], shape: Shape, spatial: range, index: int) -> str:
    """The network inputs nearest the failing one that divide evenly at every layer, as a sentence.

    The model is planned again with a symbol for the failing axis (and every spatial axis of the same
    size, so that a square input stays square), and the solver says which sizes of it are valid.
    Nothing is said when the solver cannot tell (a layer that fixes the size, such as a Linear after
    a Flatten) or no size fits.
    """
    if index >= len(shape) or type(shape[index]) is not int:
        return ""
    return _nearest(replan, shape, spatial, shape[index])


def fitting_inputs(replan: Callable[[Shape], Any], shape: Shape, spatial: range) -> str:
    """Where sizes disagree at a layer that needs them equal and the failing axis is not known: for each size
    the spatial axes hold (in turn, the axes of one size together), the nearest sizes at which the model fits,
    for the first size that is not itself valid and has valid sizes near it."""
    seen: list[int] = []
    for j in spatial:
        value = shape[j] if j < len(shape) else None
        if type(value) is not int or value in seen:
            continue
        seen.append(value)
        said = _nearest(replan, shape, spatial, value)
        if said:
            return said
    return ""


def _nearest(replan: Callable[[Shape], Any], shape: Shape, spatial: range, value: int) -> str:
    from convcalc._symbolic import symbols

    x = symbols("x")
    trial = tuple(x if j in spatial and d == value else d for j, d in enumerate(shape))
    try:
        solution = replan(trial).valid_sizes(x)
    except ConvCalcError:
        return ""
    if solution.points is not None or value in solution:
        return ""
    step = min(max(solution.modulus, 1), _REACH)  # one period on each side holds the nearest periodic size
    below = next((v for v in range(value - 1, max(solution.smallest, value - step) - 1, -1) if v in solution), None)
    if below is None:  # a size of a finite set, or one before the periodic run starts
        below = max((v for v in solution.extra if v < value), default=None)
    start = max(value + 1, solution.smallest)
    above = next((v for v in range(start, start + step) if v in solution), None)
    above = min((v for v in (above, *solution.extra) if v is not None and v > value), default=None)
    fits = " or ".join(str(v) for v in (below, above) if v is not None)
    if not fits:
        return ""
    return f" Network inputs that fit every layer: use an input of {fits} instead of {value} on that axis."


def smallest_input(
    failure: Callable[[Shape], tuple[str | None, int | None, tuple[str, ...]] | None],
    shape: Shape,
    first: int,
    layer: str,
    axis: int,
) -> str:
    """The smallest network input, grown from the failing one, that fits every layer, as a sentence: the smallest
    size of the failing axis that gets past ``layer`` (and of another axis where the layer then fails on it:
    LeNet-5 on 28 x 28 fails on both), then past each later layer that fails the same way (a U-Net's deeper
    levels). Where growing the input stops helping (a layer that fails whatever the size), the input that gets
    past the last layer it could is said instead. ``failure`` says where planning an input fails (the layer,
    its axis, the layers planned before it), or None; ``first`` is the index of the first spatial axis.
    """

    def failing(trial: Shape, layer: str, axis: int) -> int | None:
        """The axis on which planning ``trial`` fails at ``layer``, or None where the layer fits (a later layer may
        still fail: then this one was planned); ``axis`` where an earlier layer fails (no answer at this size)."""
        found = failure(trial)
        if found is None:
            return None
        if found[0] == layer:
            return found[1]  # (None: not a size this search can fix)
        return None if layer in found[2] else axis

    def smallest(trial: Shape, index: int, layer: str, axis: int) -> int | None:
        def passes(size: int) -> bool:
            return failing((*trial[:index], size, *trial[index + 1 :]), layer, axis) != axis

        low: int = trial[index]
        high = low * 2
        while not passes(high):
            low, high = high, high * 2
            if high > 2**24:
                return None
        while low + 1 < high:
            mid = (low + high) // 2
            if passes(mid):
                high = mid
            else:
                low = mid
        return high

    trial, passed = tuple(shape), ""
    for _ in range(64):  # each round gets past one more layer: a bound on the layers a network fails at in turn
        grown = False
        while first + axis < len(trial) and type(trial[first + axis]) is int:
            index = first + axis
            size = smallest(trial, index, layer, axis)
            if size is None:
                break
            trial, grown = (*trial[:index], size, *trial[index + 1 :]), True
            after = failing(trial, layer, axis)
            if after is None or after == axis:
                break
            axis = after
        if not grown:
            break
        passed = layer or "this layer"
        found = failure(trial)
        if found is None:
            return f" The smallest network input that fits every layer: input_shape={trial}."
        if found[0] is None or found[1] is None or found[0] == layer:
            break
        layer, axis = found[0], found[1]
    if not passed:
        return ""
    return f" A network input that gets past {passed}: input_shape={trial}."
