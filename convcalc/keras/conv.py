"""Keras' convolutions: Conv1D/2D/3D, and the depthwise, separable and transposed ones.

Each family is one private base that holds its rules for any number of spatial axes (``_nd``); a public
class is that base at one rank, with Keras' name and its own default layer name.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, whole
from convcalc._enums import PaddingMode
from convcalc._errors import ShapeError
from convcalc._plan import rf_update
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.formulas import (
    keras_output_padding_rule,
    keras_stride_dilation_check,
    keras_transpose_count,
    kernel_extent,
)
from convcalc.keras._base import (
    Layer,
    _activation,
    _args,
    _axis_label,
    _channels_last,
    _channels_last_only,
    _named,
    _padding,
    _set_window,
    _window_axes,
)
from convcalc.params import conv_params, conv_transpose_params, groups_divide, separable_conv_params


def _windowed_row(
    layer: Any, flow: Flow, ctx: Context, path: str, cout: Any, weights: Any, trainable: Any, non_trainable: Any = 0
) -> Flow:
    """The row of a sliding-window layer (a convolution, depthwise or separable) of ``weights`` per output
    position, bias excluded, and ``trainable`` and ``non_trainable`` parameters: its output sizes, MACs, bias
    adds and receptive field."""
    shape, rf = flow
    outs, lefts = _window_axes(layer, shape, ctx, path, layer._k, layer._s, layer._d, layer._mode)
    out_shape = (shape[0], *outs, cout)
    positions = product(outs)
    ext = tuple(kernel_extent(k, d) for k, d in zip(layer._k, layer._d, strict=True))
    new_rf = rf_update(rf, ext, layer._s, lefts)
    ctx.add_row(
        path,
        layer.kind,
        shape,
        out_shape,
        trainable=trainable,
        non_trainable=non_trainable,
        macs=positions * weights,
        bias_adds=positions * cout if layer.use_bias else 0,
        receptive_field=new_rf,
    )
    return out_shape, new_rf


def _fixes_input_channels(layer: Any, rank: int) -> tuple[tuple[int, ...], str, bool]:
    """What a convolution's built weights fix (``Layer._weights_fix``): the input channels, the last axis; not
    the rank."""
    return (-1,), "input channels", False


def _lora_rank(rank: Any) -> None:
    """Keras' ``lora_rank``: None (or 0) for none, else a positive rank."""
    if rank is not None and rank != 0:
        whole(rank, "lora_rank", minimum=1)


# --------------------------------------------------------------------------- #
# Conv1D / Conv2D / Conv3D
# --------------------------------------------------------------------------- #


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
    _: KW_ONLY
    name: str | None = None
    input_shape: Shape | None = None
    lora_rank: int | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        f = whole(self.filters, "filters", minimum=1)
        g = whole(self.groups, "groups", minimum=1)
        groups_divide({"filters": int(f)}, int(g), args)  # (as ints: a numpy filters count and a huge groups)
        _channels_last_only(self.data_format, args)
        _set_window(self, args, self._nd, causal=self._nd == 1)
        flag(self.use_bias, "use_bias", args)
        _lora_rank(self.lora_rank)
        _named(self)
        _activation(self, self.activation)

    _weights_fix = _fixes_input_channels

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        _channels_last(self, shape, self._nd, path)
        cin = shape[-1]
        if type(cin) is int and cin % self.groups:
            raise ShapeError(
                f"{self._where(path)}: {cin} input channels are not divisible by groups={self.groups}. "
                f"Received: input_shape={shape}"
            )
        kernel = conv_params(cin, self.filters, self._k, groups=self.groups, bias=False)
        bias = self.filters if self.use_bias else 0
        if not self.lora_rank:
            return _windowed_row(self, flow, ctx, path, self.filters, kernel, kernel + bias)
        # LoRA: the kernel is frozen; a (*kernel_size, cin / groups, rank) and a (rank, filters) matrix train
        adapters = (kernel // self.filters + self.filters) * self.lora_rank
        return _windowed_row(self, flow, ctx, path, self.filters, kernel, bias + adapters, kernel)


@dataclass(frozen=True, slots=True)
class Conv1D(_Conv):
    """``keras.layers.Conv1D`` spec (padding 'valid', 'same' or 'causal')."""

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "conv1d"


@dataclass(frozen=True, slots=True)
class Conv2D(_Conv):
    """``keras.layers.Conv2D`` spec.

    >>> import convcalc
    >>> from convcalc.keras import Input, Sequential
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


# --------------------------------------------------------------------------- #
# Depthwise and separable convolutions
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _DepthwiseConv(Layer):
    """Keras' depthwise convolution over ``_nd`` spatial axes: ``prod(k) * C * depth_multiplier`` (+ bias) weights,
    ``C * depth_multiplier`` outputs; a stride and a dilation above 1 together are taken."""

    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    depth_multiplier: int = 1
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    _: KW_ONLY
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "depthwise_conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        whole(self.depth_multiplier, "depth_multiplier", minimum=1)
        _set_window(self, args, self._nd, strided_dilation=True)
        _named(self)
        _activation(self, self.activation)

    _weights_fix = _fixes_input_channels

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        _channels_last(self, shape, self._nd, path)
        cin = shape[-1]
        cout = cin * self.depth_multiplier
        return _windowed_row(
            self,
            flow,
            ctx,
            path,
            cout,
            conv_params(cin, cout, self._k, groups=cin, bias=False),
            conv_params(cin, cout, self._k, groups=cin, bias=self.use_bias),
        )


@dataclass(frozen=True, slots=True)
class DepthwiseConv1D(_DepthwiseConv):
    """``keras.layers.DepthwiseConv1D`` spec: (N, L, C) -> (N, L', C * depth_multiplier).

    >>> import convcalc
    >>> row = convcalc.plan(DepthwiseConv1D(3, depth_multiplier=2), (1, 10, 4)).rows[0]
    >>> row.output_shape, row.params, row.macs
    ((1, 8, 8), 32, 192)
    >>> DepthwiseConv1D(3, padding="causal")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: padding='causal' exists only for Conv1D. Received: kernel_size=3, strides=1, padding='causal', depth_multiplier=1, data_format=None, dilation_rate=1, activation=None, use_bias=True
    """

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "depthwise_conv1d"


@dataclass(frozen=True, slots=True)
class DepthwiseConv2D(_DepthwiseConv):
    """``keras.layers.DepthwiseConv2D`` spec: ``prod(k) * C * depth_multiplier`` (+ bias) weights."""

    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "depthwise_conv2d"


@dataclass(frozen=True, slots=True)
class _SeparableConv(Layer):
    """Keras' separable convolution over ``_nd`` spatial axes: a depthwise one (no bias), then a pointwise one to
    ``filters`` (with the bias)."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    depth_multiplier: int = 1
    activation: Any = None
    use_bias: bool = True
    _: KW_ONLY
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "separable_conv2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        whole(self.filters, "filters", minimum=1)
        whole(self.depth_multiplier, "depth_multiplier", minimum=1)
        _set_window(self, args, self._nd, strided_dilation=True)
        _named(self)
        _activation(self, self.activation)

    _weights_fix = _fixes_input_channels

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        _channels_last(self, shape, self._nd, path)
        cin, multiplier = shape[-1], self.depth_multiplier
        return _windowed_row(
            self,
            flow,
            ctx,
            path,
            self.filters,
            separable_conv_params(cin, self.filters, self._k, depth_multiplier=multiplier, bias=False),
            separable_conv_params(cin, self.filters, self._k, depth_multiplier=multiplier, bias=self.use_bias),
        )


@dataclass(frozen=True, slots=True)
class SeparableConv1D(_SeparableConv):
    """``keras.layers.SeparableConv1D`` spec: depthwise then pointwise, over (N, L, C).

    >>> import convcalc
    >>> row = convcalc.plan(SeparableConv1D(8, 3), (1, 10, 4)).rows[0]
    >>> row.output_shape, row.params, row.macs
    ((1, 8, 8), 52, 352)
    """

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "separable_conv1d"


@dataclass(frozen=True, slots=True)
class SeparableConv2D(_SeparableConv):
    """``keras.layers.SeparableConv2D`` spec: depthwise then pointwise."""

    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "separable_conv2d"


# --------------------------------------------------------------------------- #
# Transposed convolutions
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _ConvTranspose(Layer):
    """Keras' transposed convolution over ``_nd`` spatial axes, with Keras' output-size rules. The arguments are
    in Conv1DTranspose's and Conv2DTranspose's order (Conv3DTranspose takes ``data_format`` by position first)."""

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    output_padding: Any = None
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: Any = None
    use_bias: bool = True
    _: KW_ONLY
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _op: tuple[int, ...] | None = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "conv2d_transpose"

    def __post_init__(self) -> None:
        args = _args(self)
        nd = self._nd
        _channels_last_only(self.data_format, args)
        whole(self.filters, "filters", minimum=1)
        k = per_axis(self.kernel_size, "kernel_size", nd, args, minimum=1)
        s = per_axis(self.strides, "strides", nd, args, minimum=1)
        d = per_axis(self.dilation_rate, "dilation_rate", nd, args, minimum=1)
        keras_stride_dilation_check(s, d, args)
        op = (
            None
            if self.output_padding is None
            else per_axis(self.output_padding, "output_padding", nd, args, minimum=0)
        )
        for j, (o, ss) in enumerate(zip(op or (), s, strict=False)):
            keras_output_padding_rule(o, ss, args, _axis_label(j, self.output_padding, self.strides))
        for name, value in (("_k", k), ("_s", s), ("_d", d), ("_op", op), ("_mode", _padding(self.padding, args))):
            object.__setattr__(self, name, value)
        _named(self)
        _activation(self, self.activation)

    _weights_fix = _fixes_input_channels

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, self._nd, path)
        outs = []
        for j, (i, k, s, d) in enumerate(zip(shape[1:-1], self._k, self._s, self._d, strict=True)):
            op = None if self._op is None else self._op[j]
            outs.append(keras_transpose_count(i, s, kernel_extent(k, d), op, self._mode))
        cin = shape[-1]
        out_shape = (shape[0], *outs, self.filters)
        weights = conv_transpose_params(cin, self.filters, self._k, bias=False)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=conv_transpose_params(cin, self.filters, self._k, bias=self.use_bias),
            macs=product(shape[1:-1]) * weights,
            bias_adds=product(outs) * self.filters if self.use_bias else 0,
        )
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Conv1DTranspose(_ConvTranspose):
    """``keras.layers.Conv1DTranspose`` spec: (N, L, C) -> (N, L', filters), by Keras' output-size rules.

    >>> import convcalc
    >>> row = convcalc.plan(Conv1DTranspose(5, 3, strides=2, output_padding=1), (1, 7, 4)).rows[0]
    >>> row.output_shape, row.params, row.macs
    ((1, 16, 5), 65, 420)
    >>> Conv1DTranspose(5, 3, strides=2, output_padding=2)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: output_padding=2 must be strictly less than strides=2 (Keras). Received: filters=5, kernel_size=3, strides=2, padding='valid', output_padding=2, data_format=None, dilation_rate=1, activation=None, use_bias=True
    """

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "conv1d_transpose"


@dataclass(frozen=True, slots=True)
class Conv2DTranspose(_ConvTranspose):
    """``keras.layers.Conv2DTranspose`` spec (Keras' output-size rules)."""

    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "conv2d_transpose"


@dataclass(frozen=True, slots=True, init=False)
class Conv3DTranspose(_ConvTranspose):
    """``keras.layers.Conv3DTranspose`` spec: (N, D, H, W, C) -> (N, D', H', W', filters).

    Keras' Conv3DTranspose takes ``data_format`` before ``output_padding`` (its 1-D and 2-D ones the other way
    round), and so does this one.

    >>> import convcalc
    >>> row = convcalc.plan(Conv3DTranspose(5, 3, 2, "same", None, 1), (1, 3, 4, 5, 2)).rows[0]
    >>> row.output_shape, row.params
    ((1, 6, 8, 10, 5), 275)
    """

    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "conv3d_transpose"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        output_padding: Any = None,
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        *,
        name: str | None = None,
    ) -> None:
        _ConvTranspose.__init__(
            self,
            filters,
            kernel_size,
            strides,
            padding,
            output_padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            name=name,
        )
