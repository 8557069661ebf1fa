"""The base of every convcalc.keras spec, and the argument and shape checks the layers share."""

from __future__ import annotations

import difflib
from contextlib import AbstractContextManager, nullcontext
from dataclasses import KW_ONLY, dataclass, fields, replace
from typing import Any, ClassVar

from convcalc._args import per_axis, received, whole
from convcalc._enums import Convention, PaddingMode
from convcalc._errors import CheckedCall, ShapeError, SpecError
from convcalc._plan import Row
from convcalc._planner import Context, Flow
from convcalc._types import Shape
from convcalc.formulas import (
    ceil_div,
    keras_stride_dilation_check,
    kernel_extent,
    same_total,
    window_count,
)

_COUNTERS: dict[str, int] = {}


def _auto_name(base: str) -> str:
    n = _COUNTERS.get(base, 0)
    _COUNTERS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _args(obj: Any) -> dict[str, Any]:
    """A layer's arguments as a message shows them: not its name, nor the axes a reader says it reads whole
    (``across``) where there are none."""
    return {
        f.name: getattr(obj, f.name)
        for f in fields(obj)
        if f.init and f.name != "name" and not (f.name == "across" and _none_across(getattr(obj, f.name)))
    }


def _none_across(value: Any) -> bool:
    """``across=()``, its default: nothing to show (any other value, an array too, is shown as given)."""
    return isinstance(value, tuple) and not value


def _axis_label(j: int, *given: Any) -> str:
    """ " on axis j" when an argument of the rule was given per axis (a tuple), as the formulas say it."""
    return f" on axis {j}" if any(isinstance(v, (tuple, list)) for v in given) else ""


def _channels_last_only(data_format: Any, args: dict[str, Any]) -> None:
    if data_format is not None and not (isinstance(data_format, str) and data_format == "channels_last"):
        raise SpecError(f"convcalc.keras plans channels_last models only. {received(args)}")


def _set_window(
    layer: Any, args: dict[str, Any], nd: int, *, causal: bool = False, strided_dilation: bool = False
) -> None:
    """Check and store a windowed layer's kernel, strides, dilation and padding (``_k, _s, _d, _mode``).
    ``strided_dilation``: the layer takes a stride and a dilation above 1 together (Keras' depthwise and separable
    convolutions do; its plain ones refuse them)."""
    k = per_axis(layer.kernel_size, "kernel_size", nd, args, minimum=1)
    s = per_axis(layer.strides, "strides", nd, args, minimum=1)
    d = per_axis(layer.dilation_rate, "dilation_rate", nd, args, minimum=1)
    if not strided_dilation:
        keras_stride_dilation_check(s, d, args)
    for name, value in (("_k", k), ("_s", s), ("_d", d), ("_mode", _padding(layer.padding, args, causal=causal))):
        object.__setattr__(layer, name, value)


#: The activation names Keras 3's ``keras.activations.get`` knows (its ``ALL_OBJECTS_DICT``, aliases included)
KERAS_ACTIVATIONS = frozenset(
    {
        "celu",
        "elu",
        "exponential",
        "gelu",
        "glu",
        "hard_shrink",
        "hard_sigmoid",
        "hard_silu",
        "hard_swish",
        "hard_tanh",
        "leaky_relu",
        "linear",
        "log_sigmoid",
        "log_softmax",
        "mish",
        "relu",
        "relu6",
        "selu",
        "sigmoid",
        "silu",
        "soft_shrink",
        "softmax",
        "softplus",
        "softsign",
        "sparse_plus",
        "sparse_sigmoid",
        "sparsemax",
        "squareplus",
        "swish",
        "tanh",
        "tanh_shrink",
        "threshold",
    }
)


def _activation(layer: Layer, value: Any) -> None:
    """Keras' rule for ``activation``: None, a callable, a serialized (dict) custom one, or a name that
    ``keras.activations.get`` knows (case counts)."""
    if value is None or callable(value) or isinstance(value, dict):
        return
    if isinstance(value, str) and value in KERAS_ACTIVATIONS:
        return
    if isinstance(value, str):
        lowered = value.lower()
        close = (
            [lowered] if lowered in KERAS_ACTIVATIONS else difflib.get_close_matches(value, sorted(KERAS_ACTIVATIONS))
        )
        names = [repr(c) for c in close]
        tip = (
            f"did you mean {' or '.join(names) if len(names) < 3 else ', '.join(names[:-1]) + ' or ' + names[-1]}?"
            if close
            else f"the names it knows: {', '.join(sorted(KERAS_ACTIVATIONS))}."
        )
        raise SpecError(
            f"{layer._where('')}: activation={value!r} is not an activation Keras knows; {tip} "
            f"{received({'activation': value})}"
        )
    raise SpecError(
        f"{layer._where('')}: activation must be None, a name such as 'relu', or a callable. "
        f"{received({'activation': value})}"
    )


def _padding(value: Any, args: dict[str, Any], *, causal: bool = False) -> PaddingMode:
    mode = PaddingMode.parse(value, "padding", case_sensitive=False)
    if mode is PaddingMode.CAUSAL and not causal:
        raise SpecError(f"padding='causal' exists only for Conv1D. {received(args)}")
    return mode


class Layer(metaclass=CheckedCall):
    """Base of the convcalc.keras specs."""

    __slots__ = ()
    _convention: ClassVar[Convention] = Convention.KERAS
    _layout: ClassVar[str] = "channels_last"
    _base: ClassVar[str] = "layer"

    @property
    def kind(self) -> str:
        return type(self).__name__

    def _name(self) -> str:
        return getattr(self, "name", None) or self._base

    def _where(self, path: str) -> str:
        return f"{path or self._name()} ({self.kind})"

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        """What built weights fix in a ``rank``-D input: the axes (counted from the end), what those sizes
        are, and whether the rank itself is fixed. A layer without such weights fixes nothing."""
        return (), "", False

    @property
    def _output_count(self) -> int:
        """How many tensors the layer returns (a recurrent layer with ``return_state`` returns its states too)."""
        return 1

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        raise NotImplementedError  # pragma: no cover

    def _plan_outputs(self, flow: Flow, ctx: Context, path: str) -> tuple[Flow, ...]:
        """Every output of one call, the first as ``_plan`` gives it (a layer of one output: that one)."""
        return (self._plan(flow, ctx, path),)


def frozen(row: Row) -> Row:
    """A row of a frozen layer (``trainable=False``): its weights are non-trainable."""
    return replace(row, trainable=0, non_trainable=row.non_trainable + row.trainable) if row.trainable else row


def _without_weights(row: Row) -> Row:
    return replace(row, trainable=0, non_trainable=0)


def counted_once(ctx: Context, layer: Any) -> AbstractContextManager[None]:
    """Where ``layer`` (one spec object) was planned before in this plan (a layer called twice, one shared by a
    nested model and the model around it, a nested model called twice), the rows it adds now hold no weights, as
    Keras counts each weight of the whole model once."""
    key = ("keras layer", id(layer))
    if key in ctx.counted:
        return ctx.made_as(_without_weights)
    ctx.counted.add(key)
    return nullcontext()


def _named(self: Any) -> None:
    if getattr(self, "name", None) is None:
        object.__setattr__(self, "name", _auto_name(self._base))
    elif not isinstance(self.name, str) or not self.name:
        raise SpecError(f"name must be a non-empty string. Received: name={self.name!r}")


def _channels_last(layer: Layer, shape: Shape, nd: int, path: str) -> None:
    if len(shape) != nd + 2:
        raise ShapeError(
            f"{layer._where(path)}: expects a {nd + 2}-D input (batch, *spatial, channels) but receives "
            f"{len(shape)}-D {shape}. Received: input_shape={shape}"
        )


def _window_axes(
    layer: Layer,
    shape: Shape,
    ctx: Context,
    path: str,
    k: tuple[int, ...],
    s: tuple[int, ...],
    d: tuple[int, ...],
    mode: PaddingMode,
) -> tuple[list[Any], tuple[int, ...] | None]:
    outs = []
    lefts: list[int] = []
    fixed = True  # False once TF 'same' with stride > 1 meets a symbolic size: the padding depends on it
    for j, (i, kk, ss, dd) in enumerate(zip(shape[1:-1], k, s, d, strict=True)):
        extent = kernel_extent(kk, dd)
        if mode is PaddingMode.VALID:
            out = window_count(i, 0, 0, extent, ss)
            ctx.at_least(
                out,
                1,
                path,
                j,
                lambda: (
                    f"{layer._where(path)}: computed output size would be zero or negative on spatial axis {j}: "
                    f"the window spans {extent} but the input is {i}; the input must be at least {extent} there, "
                    f"or use padding='same'. Received: input_shape={shape}"
                ),
                f"window {extent} fits",
            )
            lefts.append(0)
        else:
            out = ceil_div(i, ss)
            if mode is PaddingMode.CAUSAL:
                lefts.append(extent - 1)
            elif ss == 1:
                lefts.append((extent - 1) // 2)
            elif type(i) is int:
                lefts.append(same_total(i, ss, extent) // 2)
            else:
                fixed = False
        outs.append(out)
    return outs, (tuple(lefts) if fixed else None)


@dataclass(frozen=True, slots=True)
class Input(Layer):
    """``keras.Input(shape)``: the per-sample shape (channels last); batch 1 is assumed."""

    shape: Shape
    batch_size: int | None = None
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "input_layer"

    def __post_init__(self) -> None:
        if not isinstance(self.shape, (tuple, list)) or not self.shape:
            raise SpecError(f"shape must be a tuple such as (28, 28, 1). Received: shape={self.shape!r}")
        if self.batch_size is not None:  # Keras: a batch of at least one sample (0 planned as 1 before)
            whole(self.batch_size, "batch_size", minimum=1)
        _named(self)
