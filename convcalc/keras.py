"""Layer specs with Keras 3's names, arguments and rules, for planning.

Channels last, batch first (``(None, 28, 28, 1)`` is written ``(1, 28, 28, 1)`` or
given by ``Input``). ``'same'`` padding is ``ceil(size / strides)`` for any
stride; BatchNormalization has 2C trainable and 2C non-trainable weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._enums import Convention, PaddingMode
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import ReceptiveField, rf_update
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc.formulas import (
    ceil_div,
    keras_output_padding_rule,
    keras_stride_dilation_check,
    keras_transpose_count,
    kernel_extent,
    window_count,
)

__all__ = [
    "Activation",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "Input",
    "Layer",
    "MaxPooling2D",
    "SeparableConv2D",
    "Sequential",
    "ZeroPadding2D",
]

_COUNTERS: dict[str, int] = {}


def _auto_name(base: str) -> str:
    n = _COUNTERS.get(base, 0)
    _COUNTERS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _args(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.init and f.name != "name"}


def _axis_label(j: int, *given: Any) -> str:
    """ " on axis j" when an argument of the rule was given per axis (a tuple), as the formulas say it."""
    return f" on axis {j}" if any(isinstance(v, (tuple, list)) for v in given) else ""


def _channels_last_only(data_format: Any, args: dict[str, Any]) -> None:
    if data_format is not None and not (isinstance(data_format, str) and data_format == "channels_last"):
        raise SpecError(f"convcalc.keras plans channels_last models only. {received(args)}")


def _set_window(layer: Any, args: dict[str, Any], nd: int, *, causal: bool = False) -> None:
    """Check and store a windowed layer's kernel, strides, dilation and padding (``_k, _s, _d, _mode``)."""
    k = per_axis(layer.kernel_size, "kernel_size", nd, args, minimum=1)
    s = per_axis(layer.strides, "strides", nd, args, minimum=1)
    d = per_axis(layer.dilation_rate, "dilation_rate", nd, args, minimum=1)
    keras_stride_dilation_check(s, d, args)
    for name, value in (("_k", k), ("_s", s), ("_d", d), ("_mode", _padding(layer.padding, args, causal=causal))):
        object.__setattr__(layer, name, value)


def _padding(value: Any, args: dict[str, Any], *, causal: bool = False) -> PaddingMode:
    mode = PaddingMode.parse(value, "padding", case_sensitive=False)
    if mode is PaddingMode.CAUSAL and not causal:
        raise SpecError(f"padding='causal' exists only for Conv1D. {received(args)}")
    return mode


class Layer:
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

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        raise NotImplementedError  # pragma: no cover


def _named(self: Any) -> None:
    if getattr(self, "name", None) is None:
        object.__setattr__(self, "name", _auto_name(self._base))
    elif not isinstance(self.name, str) or not self.name:
        raise SpecError(f"name must be a non-empty string. Received: name={self.name!r}")


def _channels_last(layer: Layer, shape: tuple[Any, ...], nd: int, path: str) -> None:
    if len(shape) != nd + 2:
        raise ShapeError(
            f"{layer._where(path)}: expects a {nd + 2}-D input (batch, *spatial, channels) but receives "
            f"{len(shape)}-D {shape}. Received: input_shape={shape}"
        )


def _window_axes(
    layer: Layer,
    shape: tuple[Any, ...],
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
                lefts.append(max((out - 1) * ss + extent - i, 0) // 2)
            else:
                fixed = False
        outs.append(out)
    return outs, (tuple(lefts) if fixed else None)


@dataclass(frozen=True, slots=True)
class Input(Layer):
    """``keras.Input(shape)``: the per-sample shape (channels last); batch 1 is assumed."""

    shape: tuple[Any, ...]
    batch_size: int | None = None
    name: str | None = None
    _base: ClassVar[str] = "input_layer"

    def __post_init__(self) -> None:
        if not isinstance(self.shape, (tuple, list)) or not self.shape:
            raise SpecError(f"shape must be a tuple such as (28, 28, 1). Received: shape={self.shape!r}")
        _named(self)


@dataclass(frozen=True, slots=True)
class _Conv(Layer):
    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    groups: int = 1
    activation: Any = None
    use_bias: bool = True
    name: str | None = None
    input_shape: tuple[Any, ...] | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.filters, "filters", minimum=1)
        g = whole(self.groups, "groups", minimum=1)
        if self.filters % g:
            raise SpecError(f"filters must be divisible by groups ({self.filters} % {g} != 0). {received(args)}")
        _channels_last_only(self.data_format, args)
        _set_window(self, args, self._nd, causal=self._nd == 1)
        flag(self.use_bias, "use_bias", args)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, self._nd, path)
        cin = shape[-1]
        if type(cin) is int and cin % self.groups:
            raise ShapeError(
                f"{self._where(path)}: {cin} input channels are not divisible by groups={self.groups}. "
                f"Received: input_shape={shape}"
            )
        outs, lefts = _window_axes(self, shape, ctx, path, self._k, self._s, self._d, self._mode)
        out_shape = (shape[0], *outs, self.filters)
        weights = math.prod(self._k) * (cin // self.groups) * self.filters
        positions = product(outs)
        ext = tuple(kernel_extent(k, d) for k, d in zip(self._k, self._d, strict=True))
        new_rf = rf_update(rf, ext, self._s, lefts)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (self.filters if self.use_bias else 0),
            macs=positions * weights,
            bias_adds=positions * self.filters if self.use_bias else 0,
            receptive_field=new_rf,
        )
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class Conv1D(_Conv):
    """``keras.layers.Conv1D`` spec (padding 'valid', 'same' or 'causal')."""

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "conv1d"


@dataclass(frozen=True, slots=True)
class Conv2D(_Conv):
    """``keras.layers.Conv2D`` spec.

    >>> import convcalc
    >>> convcalc.plan(Sequential([Input((28, 28, 1)), Conv2D(75, 3, padding="same")])).rows[0].params
    750
    """

    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "conv2d"


@dataclass(frozen=True, slots=True)
class Conv3D(_Conv):
    """``keras.layers.Conv3D`` spec."""

    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "conv3d"


@dataclass(frozen=True, slots=True)
class DepthwiseConv2D(Layer):
    """``keras.layers.DepthwiseConv2D`` spec: ``prod(k) * C * depth_multiplier`` (+ bias) weights."""

    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    depth_multiplier: int = 1
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "depthwise_conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        whole(self.depth_multiplier, "depth_multiplier", minimum=1)
        _set_window(self, args, 2)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, 2, path)
        outs, lefts = _window_axes(self, shape, ctx, path, self._k, self._s, self._d, self._mode)
        cout = shape[-1] * self.depth_multiplier
        out_shape = (shape[0], *outs, cout)
        weights = math.prod(self._k) * cout
        positions = product(outs)
        ext = tuple(kernel_extent(k, d) for k, d in zip(self._k, self._d, strict=True))
        new_rf = rf_update(rf, ext, self._s, lefts)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (cout if self.use_bias else 0),
            macs=positions * weights,
            bias_adds=positions * cout if self.use_bias else 0,
            receptive_field=new_rf,
        )
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class SeparableConv2D(Layer):
    """``keras.layers.SeparableConv2D`` spec: depthwise then pointwise."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    depth_multiplier: int = 1
    activation: Any = None
    use_bias: bool = True
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "separable_conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        whole(self.filters, "filters", minimum=1)
        whole(self.depth_multiplier, "depth_multiplier", minimum=1)
        _set_window(self, args, 2)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, 2, path)
        outs, lefts = _window_axes(self, shape, ctx, path, self._k, self._s, self._d, self._mode)
        cin = shape[-1]
        mid = cin * self.depth_multiplier
        out_shape = (shape[0], *outs, self.filters)
        depthwise = math.prod(self._k) * mid
        pointwise = mid * self.filters
        positions = product(outs)
        ext = tuple(kernel_extent(k, d) for k, d in zip(self._k, self._d, strict=True))
        new_rf = rf_update(rf, ext, self._s, lefts)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=depthwise + pointwise + (self.filters if self.use_bias else 0),
            macs=positions * (depthwise + pointwise),
            bias_adds=positions * self.filters if self.use_bias else 0,
            receptive_field=new_rf,
        )
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class Conv2DTranspose(Layer):
    """``keras.layers.Conv2DTranspose`` spec (Keras' output-size rules)."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    output_padding: Any = None
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _op: tuple[int, ...] | None = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "conv2d_transpose"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        whole(self.filters, "filters", minimum=1)
        k = per_axis(self.kernel_size, "kernel_size", 2, args, minimum=1)
        s = per_axis(self.strides, "strides", 2, args, minimum=1)
        d = per_axis(self.dilation_rate, "dilation_rate", 2, args, minimum=1)
        keras_stride_dilation_check(s, d, args)
        op = (
            None if self.output_padding is None else per_axis(self.output_padding, "output_padding", 2, args, minimum=0)
        )
        for j, (o, ss) in enumerate(zip(op or (), s, strict=False)):
            keras_output_padding_rule(o, ss, args, _axis_label(j, self.output_padding, self.strides))
        for name, value in (("_k", k), ("_s", s), ("_d", d), ("_op", op), ("_mode", _padding(self.padding, args))):
            object.__setattr__(self, name, value)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 2, path)
        outs = []
        for j, (i, k, s, d) in enumerate(zip(shape[1:-1], self._k, self._s, self._d, strict=True)):
            op = None if self._op is None else self._op[j]
            outs.append(keras_transpose_count(i, s, kernel_extent(k, d), op, self._mode))
        cin = shape[-1]
        out_shape = (shape[0], *outs, self.filters)
        weights = math.prod(self._k) * self.filters * cin
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (self.filters if self.use_bias else 0),
            macs=product(shape[1:-1]) * weights,
            bias_adds=product(outs) * self.filters if self.use_bias else 0,
        )
        return out_shape, None


@dataclass(frozen=True, slots=True)
class _Pooling2D(Layer):
    pool_size: Any = 2
    strides: Any = None
    padding: str = "valid"
    data_format: str | None = None
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "max_pooling2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        k = per_axis(self.pool_size, "pool_size", 2, args, minimum=1)
        s = k if self.strides is None else per_axis(self.strides, "strides", 2, args, minimum=1)
        for name, value in (("_k", k), ("_s", s), ("_mode", _padding(self.padding, args))):
            object.__setattr__(self, name, value)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, 2, path)
        outs, lefts = _window_axes(self, shape, ctx, path, self._k, self._s, (1, 1), self._mode)
        out_shape = (shape[0], *outs, shape[-1])
        new_rf = rf_update(rf, self._k, self._s, lefts)
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class MaxPooling2D(_Pooling2D):
    """``keras.layers.MaxPooling2D`` spec (``strides=None`` means ``pool_size``)."""

    _base: ClassVar[str] = "max_pooling2d"


@dataclass(frozen=True, slots=True)
class AveragePooling2D(_Pooling2D):
    """``keras.layers.AveragePooling2D`` spec."""

    _base: ClassVar[str] = "average_pooling2d"


@dataclass(frozen=True, slots=True)
class GlobalAveragePooling2D(Layer):
    """``keras.layers.GlobalAveragePooling2D``: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."""

    data_format: str | None = None
    keepdims: bool = False
    name: str | None = None
    _base: ClassVar[str] = "global_average_pooling2d"

    def __post_init__(self) -> None:
        _channels_last_only(self.data_format, _args(self))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 2, path)
        out_shape = (shape[0], 1, 1, shape[-1]) if self.keepdims else (shape[0], shape[-1])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization``: gamma, beta trainable; moving mean and variance not.

    >>> import convcalc
    >>> row = convcalc.plan(BatchNormalization(), (1, 28, 28, 75)).rows[0]
    >>> row.trainable, row.non_trainable
    (150, 150)
    """

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True
    name: str | None = None
    _base: ClassVar[str] = "batch_normalization"

    def __post_init__(self) -> None:
        args = _args(self)
        for name in ("center", "scale"):
            flag(getattr(self, name), name, args)
        whole(self.axis, "axis")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        axis = self.axis + len(shape) if self.axis < 0 else self.axis
        if not 0 < axis < len(shape):
            raise ShapeError(
                f"{self._where(path)}: axis={self.axis} is out of range for {shape}. Received: input_shape={shape}"
            )
        c = shape[axis]
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            trainable=c * (int(self.center) + int(self.scale)),
            non_trainable=2 * c,
            receptive_field=rf,
        )
        return shape, rf


@dataclass(frozen=True, slots=True)
class Dense(Layer):
    """``keras.layers.Dense`` spec: acts on the last axis."""

    units: int
    activation: Any = None
    use_bias: bool = True
    name: str | None = None
    _base: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        whole(self.units, "units", minimum=1)
        if type(self.use_bias) is not bool:
            raise SpecError(f"use_bias must be True or False. {received(_args(self))}")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) < 2:
            raise ShapeError(
                f"{self._where(path)}: expects an input of at least 2 dims (batch, ..., features) but receives "
                f"{len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        fin = shape[-1]
        out_shape = (*shape[:-1], self.units)
        rows = product(shape[1:-1])
        from convcalc._symbolic import to_sympy

        fin = to_sympy(fin)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=fin * self.units + (self.units if self.use_bias else 0),
            macs=rows * fin * self.units,
            bias_adds=rows * self.units if self.use_bias else 0,
        )
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Flatten(Layer):
    """``keras.layers.Flatten``: (N, ...) -> (N, prod(...))."""

    data_format: str | None = None
    name: str | None = None
    _base: ClassVar[str] = "flatten"

    def __post_init__(self) -> None:
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        from convcalc._symbolic import as_integer_expr

        merged = product(shape[1:])
        merged = merged if type(merged) is int else as_integer_expr(merged)
        out_shape = (shape[0], merged)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Dropout(Layer):
    """``keras.layers.Dropout`` spec."""

    rate: float
    name: str | None = None
    _base: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 <= self.rate <= 1:
            raise SpecError(f"rate must be between 0 and 1. Received: rate={self.rate!r}")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=flow[1])
        return flow


@dataclass(frozen=True, slots=True)
class Activation(Layer):
    """``keras.layers.Activation`` spec."""

    activation: Any
    name: str | None = None
    _base: ClassVar[str] = "activation"

    def __post_init__(self) -> None:
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=flow[1])
        return flow


@dataclass(frozen=True, slots=True)
class ZeroPadding2D(Layer):
    """``keras.layers.ZeroPadding2D``: padding int, (sym_h, sym_w) or ((top, bottom), (left, right))."""

    padding: Any = (1, 1)
    data_format: str | None = None
    name: str | None = None
    _pads: tuple[tuple[int, int], tuple[int, int]] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "zero_padding2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        p = self.padding
        if isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(v, (tuple, list)) for v in p):
            pads = tuple(tuple(whole(v, "padding", minimum=0) for v in pair) for pair in p)
            if any(len(pair) != 2 for pair in pads):
                raise SpecError(f"padding pairs must have 2 values. {received(args)}")
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            h, w = (whole(v, "padding", minimum=0) for v in p)
            pads = ((h, h), (w, w))
        elif not isinstance(p, (tuple, list)):
            v = whole(p, "padding", minimum=0)
            pads = ((v, v), (v, v))
        else:
            raise SpecError(f"padding must be an int, a pair, or a pair of pairs. {received(args)}")
        object.__setattr__(self, "_pads", pads)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, 2, path)
        (t, b), (le, r) = self._pads
        out_shape = (shape[0], shape[1] + t + b, shape[2] + le + r, shape[3])
        new_rf = (
            None
            if rf is None
            else (
                ReceptiveField(rf[0].size, rf[0].jump, rf[0].start - t * rf[0].jump),
                ReceptiveField(rf[1].size, rf[1].jump, rf[1].start - le * rf[1].jump),
            )
        )
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


class Sequential(Layer):
    """``keras.Sequential([...])``: an optional ``Input`` first, then layers.

    >>> import convcalc
    >>> model = Sequential([Input((28, 28, 1)), Conv2D(8, 3), Flatten(), Dense(10)])
    >>> convcalc.plan(model).output_shape
    (1, 10)
    """

    __slots__ = ("_default_input_shape", "layers", "name")
    layers: tuple[Layer, ...]
    name: str
    _default_input_shape: tuple[Any, ...] | None

    def __init__(self, layers: Any = None, name: str | None = None) -> None:
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise SpecError(f"Sequential takes a list of layers. Received: layers={layers!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise SpecError(f"name must be a non-empty string. Received: name={name!r}")
        items = list(layers or [])
        shape = None
        if items and isinstance(items[0], Input):
            first = items.pop(0)
            shape = (first.batch_size or 1, *first.shape)
        elif items and getattr(items[0], "input_shape", None) is not None:
            shape = (1, *items[0].input_shape)
        for j, layer in enumerate(items):
            if not isinstance(layer, Layer) or isinstance(layer, Input):
                raise SpecError(
                    f"Sequential takes convcalc.keras layers (Input only first); item {j} is "
                    f"{type(layer).__name__}. Received: layers[{j}]={layer!r}"
                )
        names = [layer._name() for layer in items]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SpecError(f"layer names must be unique; repeated: {sorted(dup)}. Received: names={names}")
        object.__setattr__(self, "layers", tuple(items))
        object.__setattr__(self, "name", name or _auto_name("sequential"))
        object.__setattr__(self, "_default_input_shape", shape)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Sequential is immutable")

    def __repr__(self) -> str:
        return f"Sequential({list(self.layers)!r}, name={self.name!r})"

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        for layer in self.layers:
            flow = layer._plan(flow, ctx, layer._name())
        return flow


# --------------------------------------------------------------------------- #
# More layers, merges, frozen layers and functional graphs
# --------------------------------------------------------------------------- #

__all__ += [
    "Add",
    "Average",
    "Concatenate",
    "Frozen",
    "Functional",
    "GlobalMaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Passthrough",
    "Subtract",
    "UpSampling2D",
]


@dataclass(frozen=True, slots=True)
class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """``keras.layers.GlobalMaxPooling2D``: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."""

    _base: ClassVar[str] = "global_max_pooling2d"


@dataclass(frozen=True, slots=True)
class UpSampling2D(Layer):
    """``keras.layers.UpSampling2D``: integer factors, ``out = size * i`` (nearest and bilinear alike).

    >>> import convcalc
    >>> convcalc.plan(UpSampling2D((2, 3)), (1, 4, 5, 3)).output_shape
    (1, 8, 15, 3)
    """

    size: Any = (2, 2)
    data_format: str | None = None
    interpolation: str = "nearest"
    name: str | None = None
    _size: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "up_sampling2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        object.__setattr__(self, "_size", per_axis(self.size, "size", 2, args, minimum=1))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 2, path)
        out_shape = (shape[0], shape[1] * self._size[0], shape[2] * self._size[1], shape[3])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Passthrough(Layer):
    """A Keras layer without weights that keeps the shape (``ReLU``, ``Softmax``, ``SpatialDropout2D``, ...).

    ``keras_kind`` is the Keras class name, shown as the row's kind.

    >>> import convcalc
    >>> convcalc.plan(Passthrough("ReLU"), (1, 4, 4, 3)).rows[0].kind
    'ReLU'
    """

    keras_kind: str
    name: str | None = None
    _base: ClassVar[str] = "layer"

    def __post_init__(self) -> None:
        if not isinstance(self.keras_kind, str) or not self.keras_kind.isidentifier():
            raise SpecError(f"keras_kind must be a Keras class name. Received: keras_kind={self.keras_kind!r}")
        _named(self)

    @property
    def kind(self) -> str:
        return self.keras_kind

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=flow[1])
        return flow


@dataclass(frozen=True, slots=True)
class Frozen(Layer):
    """A layer with ``trainable=False``: all its weights count as non-trainable, as in Keras.

    >>> import convcalc
    >>> row = convcalc.plan(Frozen(BatchNormalization()), (1, 8, 8, 4)).rows[0]
    >>> row.trainable, row.non_trainable
    (0, 16)
    """

    layer: Layer

    def __post_init__(self) -> None:
        if not isinstance(self.layer, Layer) or isinstance(self.layer, Input):
            raise SpecError(f"Frozen takes a convcalc.keras layer. Received: layer={self.layer!r}")

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def name(self) -> str:
        return self.layer._name()

    def _name(self) -> str:
        return self.layer._name()

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        start = len(ctx.rows)
        out = self.layer._plan(flow, ctx, path)
        _freeze_rows(ctx, start)
        return out

    def _plan_merge(self, flows: list[Flow], ctx: Context, path: str) -> Flow:
        start = len(ctx.rows)
        out: Flow = self.layer._plan_merge(flows, ctx, path)  # type: ignore[attr-defined]
        _freeze_rows(ctx, start)
        return out


def _freeze_rows(ctx: Context, start: int, *, drop: bool = False) -> None:
    """Make the weights of the rows from ``start`` on non-trainable (or drop them: a shared layer's later calls)."""
    from dataclasses import replace

    for j in range(start, len(ctx.rows)):
        row = ctx.rows[j]
        if drop:
            ctx.rows[j] = replace(row, trainable=0, non_trainable=0)
        elif row.trainable:
            ctx.rows[j] = replace(row, trainable=0, non_trainable=row.non_trainable + row.trainable)


@dataclass(frozen=True, slots=True)
class _Merge(Layer):
    """A Keras merge layer: called on a list of tensors."""

    name: str | None = None
    _base: ClassVar[str] = "add"

    def __post_init__(self) -> None:
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        raise SpecError(
            f"{self._where(path)}: a merge layer is called on a list of tensors: use it in a Functional model. "
            f"Received: input_shape={flow[0]}"
        )

    def _plan_merge(self, flows: list[Flow], ctx: Context, path: str) -> Flow:
        shapes = [tuple(f[0]) for f in flows]
        if len(shapes) < 2 and not isinstance(self, Concatenate):
            raise ShapeError(
                f"{self._where(path)}: a merge layer needs at least 2 inputs. Received: input_shapes={shapes}"
            )
        out = self._merged_shape(shapes, ctx, path)
        ctx.add_row(path, self.kind, shapes[0], out)
        return out, None

    def _merged_shape(self, shapes: list[tuple[Any, ...]], ctx: Context, path: str) -> tuple[Any, ...]:
        # Keras' base_merge: the shapes after the batch axis broadcast, aligned on the right; 1 stretches
        out = list(shapes[0][1:])
        for shape in shapes[1:]:
            a, b = (out, list(shape[1:])) if len(out) >= len(shape) - 1 else (list(shape[1:]), out)
            lead = len(a) - len(b)
            merged = a[:lead]
            for j, (x, y) in enumerate(zip(a[lead:], b, strict=True)):
                if type(x) is int and x == 1:
                    merged.append(y)
                elif type(y) is int and y == 1:
                    merged.append(x)
                else:
                    _require_same(self, x, y, ctx, path, lead + j, shapes, "Inputs have incompatible shapes")
                    merged.append(x)
            out = merged
        return (shapes[0][0], *out)


def _require_same(
    layer: Layer, x: Any, y: Any, ctx: Context, path: str, axis: int, shapes: list[tuple[Any, ...]], what: str
) -> None:
    if type(x) is int and type(y) is int:
        if x != y:
            raise ShapeError(
                f"{layer._where(path)}: {what} on axis {axis + 1}: {x} != {y}. Received: input_shapes={shapes}"
            )
        return
    from convcalc._symbolic import to_sympy

    ctx.equals(
        to_sympy(x) - to_sympy(y),
        0,
        path,
        axis,
        lambda: f"{layer._where(path)}: {what} on axis {axis + 1}: {x} != {y}. Received: input_shapes={shapes}",
        "merged sizes match",
    )


@dataclass(frozen=True, slots=True)
class Add(_Merge):
    """``keras.layers.Add``: equal shapes (a size 1 broadcasts).

    >>> import convcalc
    >>> x = Input((8, 8, 3), name="x")
    >>> a, b = Conv2D(4, 3, padding="same", name="a"), Conv2D(4, 1, name="b")
    >>> model = Functional(x, [(a, "x"), (b, "x"), (Add(name="sum"), ("a", "b"))])
    >>> convcalc.plan(model).output_shape
    (1, 8, 8, 4)
    """

    _base: ClassVar[str] = "add"


@dataclass(frozen=True, slots=True)
class Subtract(_Merge):
    """``keras.layers.Subtract``: two inputs of equal shapes."""

    _base: ClassVar[str] = "subtract"


@dataclass(frozen=True, slots=True)
class Multiply(_Merge):
    """``keras.layers.Multiply``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "multiply"


@dataclass(frozen=True, slots=True)
class Average(_Merge):
    """``keras.layers.Average``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "average"


@dataclass(frozen=True, slots=True)
class Maximum(_Merge):
    """``keras.layers.Maximum``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "maximum"


@dataclass(frozen=True, slots=True)
class Minimum(_Merge):
    """``keras.layers.Minimum``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "minimum"


@dataclass(frozen=True, slots=True)
class Concatenate(_Merge):
    """``keras.layers.Concatenate(axis=-1)``: equal shapes except on ``axis``, which adds up."""

    axis: int = -1
    _base: ClassVar[str] = "concatenate"

    def __post_init__(self) -> None:
        whole(self.axis, "axis")
        _named(self)

    def _merged_shape(self, shapes: list[tuple[Any, ...]], ctx: Context, path: str) -> tuple[Any, ...]:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ShapeError(
                f"{self._where(path)}: A `Concatenate` layer requires inputs of the same rank. "
                f"Received: input_shapes={shapes}"
            )
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank:
            raise ShapeError(
                f"{self._where(path)}: axis={self.axis} is out of range for {shapes[0]}. Received: input_shapes={shapes}"
            )
        total: Any = 0
        for shape in shapes:
            for j in range(1, rank):
                if j != axis:
                    what = (
                        "A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis"
                    )
                    _require_same(self, shapes[0][j], shape[j], ctx, path, j - 1, shapes, what)
            total = total + shape[axis]
        return (*shapes[0][:axis], total, *shapes[0][axis + 1 :])


class Functional(Layer):
    """A Keras functional model: one ``Input``, then layers called on earlier outputs.

    ``calls`` is a list of ``(layer, inputs)``: ``inputs`` names the ``Input`` or an
    earlier call (one name, or a tuple of names for a merge layer). A call is named
    after its layer; a layer called again (shared weights) is named ``name:1``,
    ``name:2``, ... and its weights count once, at its first call. ``output`` names
    the call whose result the model returns (the last one by default); as in Keras,
    calls it does not depend on are left out.

    >>> import convcalc
    >>> x = Input((16, 16, 3), name="x")
    >>> c1, c2 = Conv2D(8, 3, strides=2, padding="same", name="c1"), Conv2D(8, 1, name="c2")
    >>> net = Functional(x, [(c1, "x"), (c2, "c1"), (Concatenate(name="cat"), ("c1", "c2"))])
    >>> convcalc.plan(net).output_shape
    (1, 8, 8, 16)
    >>> Functional(x, [(c1, "y")])
    Traceback (most recent call last):
    ...
    convcalc.SpecError: call 0 (c1) reads 'y', which is neither the Input nor an earlier call. Received: inputs='y'
    """

    __slots__ = ("_default_input_shape", "calls", "input", "name", "output")
    input: Input
    calls: tuple[tuple[str, Layer, tuple[str, ...], bool], ...]
    output: str
    name: str
    _default_input_shape: tuple[Any, ...] | None

    def __init__(self, input: Input, calls: Any, output: str | None = None, name: str | None = None) -> None:
        if not isinstance(input, Input):
            raise SpecError(f"Functional takes a convcalc.keras Input first. Received: input={input!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise SpecError(f"name must be a non-empty string. Received: name={name!r}")
        if not isinstance(calls, (list, tuple)) or not calls:
            raise SpecError(f"Functional takes a non-empty list of (layer, inputs) calls. Received: calls={calls!r}")
        known = {input._name()}
        seen: dict[int, int] = {}
        out: list[tuple[str, Layer, tuple[str, ...], bool]] = []
        for j, call in enumerate(calls):
            if not (isinstance(call, (tuple, list)) and len(call) == 2 and isinstance(call[0], Layer)):
                raise SpecError(f"calls[{j}] must be a (layer, inputs) pair. Received: calls[{j}]={call!r}")
            layer, inputs = call
            if isinstance(layer, Input):
                raise SpecError(f"calls[{j}]: an Input is not called. Received: calls[{j}]={call!r}")
            names = (inputs,) if isinstance(inputs, str) else tuple(inputs) if isinstance(inputs, (tuple, list)) else ()
            if not names or not all(isinstance(n, str) for n in names):
                raise SpecError(f"calls[{j}]: inputs must be a name or a tuple of names. Received: inputs={inputs!r}")
            for n in names:
                if n not in known:
                    raise SpecError(
                        f"call {j} ({layer._name()}) reads {n!r}, which is neither the Input nor an earlier call. "
                        f"Received: inputs={inputs!r}"
                    )
            merge = isinstance(layer, _Merge) or isinstance(getattr(layer, "layer", None), _Merge)
            if not merge and (len(names) != 1 or not isinstance(inputs, str)):
                raise SpecError(f"calls[{j}]: {layer.kind} takes one input. Received: inputs={inputs!r}")
            times = seen.get(id(layer), 0)
            seen[id(layer)] = times + 1
            call_name = layer._name() if times == 0 else f"{layer._name()}:{times}"
            if call_name in known:
                raise SpecError(f"calls[{j}]: the name {call_name!r} is taken. Received: calls[{j}]={call!r}")
            known.add(call_name)
            out.append((call_name, layer, names, times > 0))
        target = out[-1][0] if output is None else output
        if target not in known:
            raise SpecError(f"output must name a call. Received: output={output!r}")
        needed = {target}  # as in Keras, the model holds only the calls its output depends on
        for call_name, _, names, _ in reversed(out):
            if call_name in needed:
                needed.update(names)
        object.__setattr__(self, "input", input)
        object.__setattr__(self, "calls", tuple(c for c in out if c[0] in needed))
        object.__setattr__(self, "output", target)
        object.__setattr__(self, "name", name or _auto_name("functional"))
        object.__setattr__(self, "_default_input_shape", (input.batch_size or 1, *input.shape))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Functional is immutable")

    def __repr__(self) -> str:
        calls = [(layer, names[0] if len(names) == 1 else names) for _, layer, names, _ in self.calls]
        return f"Functional({self.input!r}, {calls!r}, output={self.output!r}, name={self.name!r})"

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers in call order, each once."""
        return tuple({id(layer): layer for _, layer, _, _ in self.calls}.values())

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        values: dict[str, Flow] = {self.input._name(): flow}
        for call_name, layer, names, again in self.calls:
            start = len(ctx.rows)
            if len(names) > 1 or isinstance(layer, _Merge) or isinstance(getattr(layer, "layer", None), _Merge):
                values[call_name] = layer._plan_merge([values[n] for n in names], ctx, call_name)  # type: ignore[attr-defined]
            else:
                values[call_name] = layer._plan(values[names[0]], ctx, call_name)
            if again:
                _freeze_rows(ctx, start, drop=True)
        return values[self.output]
