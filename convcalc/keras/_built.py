"""What a model read from Keras allows: built weights fix sizes, and Keras checks a model's input.

A built Keras layer's weights fix part of its input (a Conv's input channels, a Dense's input
features, a BatchNormalization's axis and rank); Keras refuses any other size there. A Keras model
also adjusts the rank of its input (a trailing axis of 1 added or dropped) and refuses any other rank,
and a functional model checks its input against its ``Input`` (batch and ``None`` sizes free). Specs
written by hand carry none of this: they plan at any size their layers fit.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from convcalc._errors import ConvCalcError, ShapeError, SpecError
from convcalc._plan import ReceptiveField
from convcalc._planner import Context, Flow, MacConvention
from convcalc._types import Shape


def _input_error(message: str, *, built: bool = False) -> ShapeError:
    """A ShapeError that a Keras model may add advice to; ``built`` says whether built weights refused the
    input (then the model suggests an input they fit)."""
    return ShapeError(message, built=built)


def built_shapes(value: Any) -> dict[str, tuple[Any, ...]] | None:
    """Check ``built`` (layer name -> the input shape its weights were built for, ``None`` for a free size)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, (tuple, list)) and v and all(d is None or type(d) is int for d in v)
        for k, v in value.items()
    ):
        raise SpecError(
            f"built must map layer names to the input shapes their weights were built for, such as "
            f"{{'conv2d': (None, 28, 28, 1)}}. Received: built={value!r}"
        )
    return {k: tuple(v) for k, v in value.items()}


def _shown(shape: Shape) -> str:
    return str(tuple(shape))


def fit_built(layer: Any, built: tuple[Any, ...], flow: Flow, ctx: Context, path: str) -> Flow:
    """The input a built layer receives, checked against the shape its weights were built for.

    A size that differs is refused; a symbolic size there is recorded as equal to the built one and
    replaced by it, so that the layer counts the weights it holds.
    """
    shape, rf = flow
    axes, what, fixed_rank = layer._weights_fix(len(built))
    if not axes:
        return flow
    where = layer._where(path)
    if fixed_rank and len(shape) != len(built):
        raise _input_error(
            f"{where}: its weights were built for a {len(built)}-D input {_shown(built)}; Keras refuses the "
            f"{len(shape)}-D one it receives. Received: input_shape={shape}",
            built=True,
        )
    out = list(shape)
    for axis in axes:
        if not -len(built) <= axis < len(built):  # (an axis the layer itself refuses: its own check says so)
            continue
        want, j = built[axis], axis if axis >= 0 else len(shape) + axis
        if type(want) is not int or not 1 <= j < len(shape):
            continue
        got = out[j]
        message = (
            f"{where}: its weights were built for input_shape={_shown(built)}, which fixes axis {axis} at "
            f"{want} ({what}); the input has {got} there, which Keras refuses. Received: input_shape={shape}"
        )
        if type(got) is int:
            if got != want:
                raise _input_error(message, built=True)
            continue
        from convcalc._symbolic import to_sympy

        try:
            ctx.equals(to_sympy(got) - want, 0, path, j - 1, lambda: message, "built weights fit")
        except ShapeError:
            raise _input_error(message, built=True) from None
        out[j] = want
    return tuple(out), rf


def keras_input(model: Any, flow: Flow, ctx: Context) -> Flow:
    """The input a Keras model passes to its layers: a functional model's ``Input`` check, then the rank
    adjustment every Keras model makes (a trailing 1 dropped or added), which must end at the Input's rank."""
    shape, rf = flow
    ref = model._default_input_shape
    if ref is None:
        return flow
    where = f"{model._name()} ({model.kind})"
    if getattr(model, "input", None) is not None:
        shape = _functional_input(model, shape, ref, ctx, where)
    if len(shape) == len(ref) + 1 and type(shape[-1]) is int and shape[-1] == 1:
        shape = shape[:-1]
    elif len(shape) == len(ref) - 1 and type(ref[-1]) is int and ref[-1] == 1:
        shape = (*shape, 1)
    if len(shape) != len(ref):
        raise _input_error(
            f"{where}: Keras' model takes a {len(ref)}-D input such as {_shown(ref)} (batch first; a trailing "
            f"axis of 1 may be left out or added), but receives {len(flow[0])}-D {_shown(flow[0])}. "
            f"Received: input_shape={_shown(flow[0])}"
        )
    if len(shape) != len(flow[0]):
        rf = _fresh_rf(shape)
    return tuple(shape), rf


def _fresh_rf(shape: Shape) -> Any:
    """The receptive field of a network input, as the planner starts it."""
    rf = tuple(ReceptiveField(1, 1, 0) for _ in range(max(len(shape) - 2, 0)))
    return rf if rf or len(shape) == 2 else None


def _functional_input(model: Any, shape: Shape, ref: Shape, ctx: Context, where: str) -> Shape:
    """Keras' check of a functional model's input against its ``Input`` (trailing 1s set aside on both)."""
    want = list(ref[1:-1] if type(ref[-1]) is int and ref[-1] == 1 else ref[1:])
    got = list(shape[1:-1] if type(shape[-1]) is int and shape[-1] == 1 and len(shape) > 1 else shape[1:])
    out = list(shape)
    for j, (w, g) in enumerate(zip(want, got, strict=False)):
        if type(w) is not int:
            continue
        message = (
            f"{where}: Keras checks a functional model's input against its Input: expected shape="
            f"{_shown((None, *ref[1:]))}, but axis {j + 1} is {g}, not {w}; build the model on keras.Input with "
            f"None there to plan other sizes. Received: input_shape={_shown(shape)}"
        )
        if type(g) is int:
            if g != w:
                raise _input_error(message)
            continue
        from convcalc._symbolic import to_sympy

        try:
            ctx.equals(to_sympy(g) - w, 0, "", j, lambda: message, "the model's Input fits")
        except ShapeError:
            raise _input_error(message) from None
        out[j + 1] = w
    return tuple(out)


_TRYING = threading.local()  # set while an input that fits is looked for: the trial plans give no advice of their own


def advised(model: Any, given: Shape, exc: ShapeError) -> ShapeError | None:
    """``exc`` with advice about the model's input, or None where there is none to give.

    A shape that is the model's own input with the channels moved first is named as such (Keras puts
    channels last); an input that built weights refuse gets the nearest input they fit.
    """
    ref = model._default_input_shape
    if ref is None or getattr(_TRYING, "on", False):
        return None
    bare = str(exc).replace(exc.advice, "", 1) if exc.advice else str(exc)
    built = exc.built
    if _channels_first(given, ref):
        fix = (given[0], *given[2:], given[1])
        text = (
            f" Keras puts channels last: {_shown(given)} has the model's channels first; "
            f"pass input_shape={_shown(fix)}."
        )
    elif built and model._built is not None:
        fit = _fitting_input(model, given, ref)
        if fit is None:
            return None
        text = f" The model's weights fit input_shape={_shown(fit)}."
    else:
        return None
    head, sep, tail = bare.rpartition(" Received:")
    return ShapeError(f"{head}{text}{sep}{tail}" if sep else f"{bare}{text}", built=built, advice=text)


def _channels_first(given: Shape, ref: Shape) -> bool:
    """Whether ``given`` is the model's input ``ref`` (batch aside) with its channels axis moved first."""
    if len(given) != len(ref) or len(ref) < 3 or not all(type(d) is int for d in given):
        return False
    channels, spatial = ref[-1], ref[1:-1]
    if type(channels) is not int or given[1] != channels or given[-1] == channels:
        return False
    return all(type(r) is not int or r == g for r, g in zip(spatial, given[2:], strict=True))


def _fitting_input(model: Any, given: Shape, ref: Shape) -> Shape | None:
    """The input nearest ``given`` that the model plans: its channels changed to the built ones, else the
    model's own input with the given batch."""
    candidates = []
    if len(given) == len(ref) and type(ref[-1]) is int:
        candidates.append((*given[:-1], ref[-1]))
    candidates.append((given[0], *ref[1:]))
    _TRYING.on = True
    try:
        for trial in dict.fromkeys(candidates):
            if trial == tuple(given):
                continue
            ctx = Context(False, MacConvention.MACS, 4)
            ctx.batch, ctx.input_rank = trial[0], len(trial)
            try:
                model._plan((trial, _fresh_rf(trial)), ctx, model._name())
            except ConvCalcError:
                continue
            return trial
    finally:
        _TRYING.on = False
    return None
