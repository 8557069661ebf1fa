"""Layer specs with torch.nn's names, arguments and defaults, for planning.

``convcalc.nn.Conv2d(3, 64, 3, padding=1)`` is a frozen description of
``torch.nn.Conv2d(3, 64, 3, padding=1)``: it checks its arguments as torch does,
and the planner asks it what it does to a shape. ``to_torch()`` builds the real
module. Channels first, batch first.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, cast

from convcalc._args import flag, per_axis, received, whole
from convcalc._enums import Convention, PaddingMode, PadMode, PoolKind
from convcalc._errors import ShapeError, SpecError
from convcalc._pad_rules import circular_copy_fails, pad_requirements
from convcalc._plan import ReceptiveField, merge_rf, rf_update
from convcalc._planner import Context, Flow
from convcalc._symbolic import FloorForm, product
from convcalc.formulas import (
    ceil_window_count,
    exact_sizes,
    kernel_extent,
    pool_min_input,
    torch_output_padding_rule,
    torch_pool_padding_rule,
    torch_same_rule,
    transpose_count,
    window_count,
)
from convcalc.params import (
    batchnorm_params,
    conv_params,
    conv_transpose_params,
    groupnorm_params,
    layernorm_params,
    linear_params,
)

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "Add",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "Concat",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "Fold",
    "GroupNorm",
    "Hardswish",
    "Identity",
    "InstanceNorm2d",
    "LayerNorm",
    "LazyConv2d",
    "LazyLinear",
    "LeakyReLU",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Module",
    "MultiheadAttention",
    "PixelShuffle",
    "PixelUnshuffle",
    "ReLU",
    "ReLU6",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Unflatten",
    "Unfold",
    "Upsample",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


def _fmt(shape: tuple[Any, ...]) -> str:
    return " x ".join(str(d) for d in shape)


class Module:
    """Base of every convcalc.nn spec."""

    __slots__ = ()
    _convention: ClassVar[Convention] = Convention.TORCH
    _layout: ClassVar[str] = "channels_first"

    @property
    def kind(self) -> str:
        return type(self).__name__

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        raise NotImplementedError  # pragma: no cover

    def children(self) -> Iterator[tuple[str, Module]]:
        """Named direct sub-layers (none for a leaf)."""
        return iter(())

    def to_torch(self) -> Any:
        """Build the equivalent ``torch.nn.Module`` (needs torch)."""
        from convcalc._late import late  # to_torch lives above the specs, in convcalc.torch

        return late("convcalc.torch.build:to_torch")(self)

    def _where(self, path: str) -> str:
        return f"{path or '<model>'} ({self.kind})"


# --------------------------------------------------------------------------- #
# Helpers shared by the leaves
# --------------------------------------------------------------------------- #


def _args(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.init}


def _axis_label(j: int, *given: Any) -> str:
    """ " on axis j" when an argument of the rule was given per axis (a tuple), as the formulas say it."""
    return f" on axis {j}" if any(isinstance(v, (tuple, list)) for v in given) else ""


def _spatial_check(layer: Module, shape: tuple[Any, ...], ndim: int, path: str) -> None:
    if len(shape) != ndim + 2:
        dims = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[ndim]
        raise ShapeError(
            f"{layer._where(path)}: expects a {ndim + 2}-D input {dims} but receives {len(shape)}-D "
            f"{shape}. Received: input_shape={shape}"
        )


def _channel_check(layer: Module, shape: tuple[Any, ...], expected: int, name: str, path: str) -> None:
    got = shape[1]
    if got != expected:
        raise ShapeError(
            f"{layer._where(path)}: {name}={expected} but the input has {got} channel{'' if got == 1 else 's'}: "
            f"use {name}={got} (or make the previous layer output {expected}). Received: input_shape={shape}"
        )


# --------------------------------------------------------------------------- #
# Convolutions
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _ConvNd(Module):
    in_channels: int
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _p: tuple[int, ...] | None = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _geometry: tuple[tuple[int, int, int, int], ...] = field(init=False, repr=False, compare=False)
    _extents: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _lefts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _weights: int = field(init=False, repr=False, compare=False)
    _fill: PadMode | None = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        self._check()
        # torch pads with F.pad(x, pads, mode=padding_mode) before a non-'zeros' convolution
        object.__setattr__(self, "_fill", None if self.padding_mode == "zeros" else PadMode(self.padding_mode))
        pads = self._pads()
        extents = tuple(kernel_extent(k, d) for k, d in zip(self._k, self._d, strict=True))
        geometry = tuple((s, pl, pr, e) for s, (pl, pr), e in zip(self._s, pads, extents, strict=True))
        object.__setattr__(self, "_geometry", geometry)
        object.__setattr__(self, "_extents", extents)
        object.__setattr__(self, "_lefts", tuple(pl for pl, _ in pads))
        weights = conv_params(
            self.in_channels, self.out_channels, self._k, groups=self.groups, bias=False, ndim=self._ndim
        )
        object.__setattr__(self, "_weights", weights)

    def _check(self) -> None:
        args = _args(self)
        nd = self._ndim
        whole(self.in_channels, "in_channels", minimum=1)
        whole(self.out_channels, "out_channels", minimum=1)
        g = whole(self.groups, "groups", minimum=1)
        if self.in_channels % g:
            raise SpecError(
                f"in_channels must be divisible by groups ({self.in_channels} % {g} != 0). {received(args)}"
            )
        if self.out_channels % g:
            raise SpecError(
                f"out_channels must be divisible by groups ({self.out_channels} % {g} != 0). {received(args)}"
            )
        flag(self.bias, "bias", args)
        if self.padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise SpecError(f"padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular'. {received(args)}")
        k = per_axis(self.kernel_size, "kernel_size", nd, args, minimum=1)
        s = per_axis(self.stride, "stride", nd, args, minimum=1)
        d = per_axis(self.dilation, "dilation", nd, args, minimum=1)
        p: tuple[int, ...] | None
        if isinstance(self.padding, str):
            mode = PaddingMode.parse(self.padding, "padding")
            if mode is PaddingMode.CAUSAL:
                raise SpecError(f"torch convolutions take padding 'same' or 'valid'. {received(args)}")
            if mode is PaddingMode.SAME:
                fits = tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d, strict=True))
                for j, v in enumerate(s):
                    torch_same_rule(
                        v, args, _axis_label(j, self.stride), lambda pick: f": use padding={fits} or stride 1."
                    )
            p = None if mode is PaddingMode.SAME else (0,) * nd
        else:
            p = per_axis(self.padding, "padding", nd, args, minimum=0)
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_p", p)
        object.__setattr__(self, "_d", d)

    def _pads(self) -> tuple[tuple[int, int], ...]:
        if self._p is None:  # 'same': extra pixel at the end, as torch does
            totals = [d * (k - 1) for k, d in zip(self._k, self._d, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        return tuple((p, p) for p in self._p)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) != self._ndim + 2:
            _spatial_check(self, shape, self._ndim, path)
        if shape[1] != self.in_channels:
            _channel_check(self, shape, self.in_channels, "in_channels", path)
        if self._fill is not None:
            pads = tuple(v for _, pl, pr, _ in reversed(self._geometry) for v in (pl, pr))
            plan_padding(ctx, self._where(path), path, shape, pads, self._fill)
        spatial = []
        for j, (i, (s, pl, pr, extent)) in enumerate(zip(shape[2:], self._geometry, strict=True)):
            span = i + pl + pr - extent
            if type(span) is not int or span < 0:
                ctx.at_least(
                    span,
                    0,
                    path,
                    j,
                    lambda: _conv_too_small(self, path, shape, j, i, pl, pr, extent),
                    f"kernel {extent} fits the padded input",
                )
            if ctx.strict and s > 1:
                ctx.divides(
                    span,
                    s,
                    path,
                    j,
                    lambda: _not_exact(self, path, shape, j, i, pl + pr, extent, s),
                    f"stride {s} divides evenly",
                )
            spatial.append(span // s + 1)
        out_shape = (shape[0], self.out_channels, *spatial)
        positions = product(spatial)
        weights = self._weights
        new_rf = rf_update(rf, self._extents, self._s, self._lefts)
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (self.out_channels if self.bias else 0),
            macs=positions * weights,
            bias_adds=positions * self.out_channels if self.bias else 0,
            receptive_field=new_rf,
        )
        return out_shape, new_rf


def _conv_too_small(
    layer: Module, path: str, shape: tuple[Any, ...], axis: int, i: Any, pl: int, pr: int, extent: int
) -> str:
    return (
        f"{layer._where(path)}: the kernel spans {extent} but the padded input is {i} + {pl + pr} = {i + pl + pr} "
        f"on spatial axis {axis}; the input to this layer must be at least {extent - pl - pr} there. "
        f"Received: input_shape={shape}"
    )


def _not_exact(
    layer: Module, path: str, shape: tuple[Any, ...], axis: int, i: Any, pad: int, extent: int, s: int
) -> str:
    span = i + pad - extent
    return (
        f"{layer._where(path)}: (W - F + 2P) = {i} - {extent} + {pad} = {span} is not divisible by the stride {s} "
        f"on spatial axis {axis} (strict mode); input sizes that fit: {exact_sizes(i, pad, extent, s)}. "
        f"Received: input_shape={shape}"
    )


@dataclass(frozen=True, slots=True)
class Conv1d(_ConvNd):
    """``torch.nn.Conv1d`` spec."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class Conv2d(_ConvNd):
    """``torch.nn.Conv2d`` spec.

    >>> import convcalc
    >>> convcalc.plan(Conv2d(1, 1, 11, stride=4), (1, 1, 227, 227)).output_shape
    (1, 1, 55, 55)
    >>> Conv2d(1, 32, 3, stride=2, padding="same")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: padding='same' is not supported for strided convolutions in torch (stride=2): use padding=(1, 1) or stride 1. Received: in_channels=1, out_channels=32, kernel_size=3, stride=2, padding='same', dilation=1, groups=1, bias=True, padding_mode='zeros'
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class Conv3d(_ConvNd):
    """``torch.nn.Conv3d`` spec."""

    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class LazyConv2d(Module):
    """``torch.nn.LazyConv2d``: ``in_channels`` is taken from the input when planned."""

    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        Conv2d(
            self.groups,
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.bias,
            self.padding_mode,
        )

    def materialize(self, in_channels: int) -> Conv2d:
        return Conv2d(
            in_channels,
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.bias,
            self.padding_mode,
        )

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        _spatial_check(self, shape, 2, path)
        cin = shape[1]
        if type(cin) is not int or cin % self.groups:
            raise ShapeError(
                f"{self._where(path)}: {cin} input channels do not divide into groups={self.groups}. "
                f"Received: input_shape={shape}"
            )
        out = self.materialize(cin)._plan(flow, ctx, path)
        row = ctx.rows[-1]
        ctx.rows[-1] = type(row)(**{**{f: getattr(row, f) for f in row.__slots__}, "kind": self.kind})
        return out


@dataclass(frozen=True, slots=True)
class _ConvTransposeNd(Module):
    in_channels: int
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    output_padding: Any = 0
    groups: int = 1
    bias: bool = True
    dilation: Any = 1
    padding_mode: str = "zeros"
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _p: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _op: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        args = _args(self)
        nd = self._ndim
        whole(self.in_channels, "in_channels", minimum=1)
        whole(self.out_channels, "out_channels", minimum=1)
        g = whole(self.groups, "groups", minimum=1)
        if self.in_channels % g:
            raise SpecError(
                f"in_channels must be divisible by groups ({self.in_channels} % {g} != 0). {received(args)}"
            )
        if self.out_channels % g:
            raise SpecError(
                f"out_channels must be divisible by groups ({self.out_channels} % {g} != 0). {received(args)}"
            )
        flag(self.bias, "bias", args)
        if self.padding_mode != "zeros":
            raise SpecError(f'Only "zeros" padding mode is supported for {self.kind}. {received(args)}')
        if isinstance(self.padding, str):
            raise SpecError(f"{self.kind} takes a numeric padding, not {self.padding!r}. {received(args)}")
        k = per_axis(self.kernel_size, "kernel_size", nd, args, minimum=1)
        s = per_axis(self.stride, "stride", nd, args, minimum=1)
        p = per_axis(self.padding, "padding", nd, args, minimum=0)
        op = per_axis(self.output_padding, "output_padding", nd, args, minimum=0)
        d = per_axis(self.dilation, "dilation", nd, args, minimum=1)
        for j, (o, ss, dd) in enumerate(zip(op, s, d, strict=True)):
            torch_output_padding_rule(o, ss, dd, args, _axis_label(j, self.output_padding, self.stride, self.dilation))
        for name, value in (("_k", k), ("_s", s), ("_p", p), ("_op", op), ("_d", d)):
            object.__setattr__(self, name, value)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _spatial_check(self, shape, self._ndim, path)
        _channel_check(self, shape, self.in_channels, "in_channels", path)
        spatial = []
        for j, (i, k, s, p, op, d) in enumerate(
            zip(shape[2:], self._k, self._s, self._p, self._op, self._d, strict=True)
        ):
            out = transpose_count(i, s, 2 * p, kernel_extent(k, d), op)
            ctx.at_least(
                out,
                1,
                path,
                j,
                lambda: (
                    f"{self._where(path)}: output size would be {out} on spatial axis {j}, too small: "
                    f"reduce padding below {p} or give a larger input. Received: input_shape={shape}"
                ),
                "output at least 1",
            )
            spatial.append(out)
        out_shape = (shape[0], self.out_channels, *spatial)
        weights = conv_transpose_params(
            self.in_channels, self.out_channels, self._k, groups=self.groups, bias=False, ndim=self._ndim
        )
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (self.out_channels if self.bias else 0),
            macs=product(shape[2:]) * weights,
            bias_adds=product(spatial) * self.out_channels if self.bias else 0,
        )
        return out_shape, None


@dataclass(frozen=True, slots=True)
class ConvTranspose1d(_ConvTransposeNd):
    """``torch.nn.ConvTranspose1d`` spec."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class ConvTranspose2d(_ConvTransposeNd):
    """``torch.nn.ConvTranspose2d`` spec."""

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class ConvTranspose3d(_ConvTransposeNd):
    """``torch.nn.ConvTranspose3d`` spec."""

    _ndim: ClassVar[int] = 3


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _PoolNd(Module):
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _p: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2
    _kind: ClassVar[PoolKind] = PoolKind.MAX

    def _setup(self, dilation: Any, ceil_mode: Any) -> None:
        args = _args(self)
        nd = self._ndim
        if isinstance(self.padding, str):
            raise SpecError(f"torch pooling takes a numeric padding, not {self.padding!r}. {received(args)}")
        k = per_axis(self.kernel_size, "kernel_size", nd, args, minimum=1)
        s = k if self.stride is None else per_axis(self.stride, "stride", nd, args, minimum=1)
        p = per_axis(self.padding, "padding", nd, args, minimum=0)
        per_axis(dilation, "dilation", nd, args, minimum=1)
        flag(ceil_mode, "ceil_mode", args)
        for j, (pp, kk) in enumerate(zip(p, k, strict=True)):
            torch_pool_padding_rule(kk, pp, args, _axis_label(j, self.padding, self.kernel_size))
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_p", p)

    def _pool(self, flow: Flow, ctx: Context, path: str, dilation: tuple[int, ...], ceil_mode: bool) -> Flow:
        shape, rf = flow
        _spatial_check(self, shape, self._ndim, path)
        spatial = []
        for j, (i, k, s, p, d) in enumerate(zip(shape[2:], self._k, self._s, self._p, dilation, strict=True)):
            least = pool_min_input(self._kind, self._ndim, k)
            if least is not None:
                ctx.at_least(
                    i,
                    least,
                    path,
                    j,
                    lambda: (
                        f"{self._where(path)}: input size {i} on spatial axis {j} is smaller than kernel size {k} "
                        f"(torch's avg_pool3d needs input >= kernel whatever the padding). Received: input_shape={shape}"
                    ),
                    "avg_pool3d input at least the kernel",
                )
            extent = kernel_extent(k, d)
            out = ceil_window_count(i, p, extent, s) if ceil_mode else window_count(i, p, p, extent, s)
            ctx.at_least(
                out,
                1,
                path,
                j,
                lambda: _conv_too_small(self, path, shape, j, i, p, p, extent),
                f"window {extent} fits the padded input",
            )
            if ctx.strict and s > 1:
                ctx.divides(
                    i + 2 * p - extent,
                    s,
                    path,
                    j,
                    lambda: _not_exact(self, path, shape, j, i, 2 * p, extent, s),
                    f"stride {s} divides evenly",
                )
            spatial.append(out)
        out_shape = (shape[0], shape[1], *spatial)
        new_rf = rf_update(
            rf, tuple(kernel_extent(k, d) for k, d in zip(self._k, dilation, strict=True)), self._s, self._p
        )
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class _MaxPoolNd(_PoolNd):
    dilation: Any = 1
    return_indices: bool = False
    ceil_mode: bool = False
    _dil: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._setup(self.dilation, self.ceil_mode)
        object.__setattr__(self, "_dil", per_axis(self.dilation, "dilation", self._ndim, _args(self), minimum=1))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return self._pool(flow, ctx, path, self._dil, self.ceil_mode)


@dataclass(frozen=True, slots=True)
class MaxPool1d(_MaxPoolNd):
    """``torch.nn.MaxPool1d`` spec."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class MaxPool2d(_MaxPoolNd):
    """``torch.nn.MaxPool2d`` spec (``stride=None`` means ``stride=kernel_size``).

    >>> import convcalc
    >>> convcalc.plan(MaxPool2d(2, padding=1), (1, 128, 7, 7)).output_shape
    (1, 128, 4, 4)
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class MaxPool3d(_MaxPoolNd):
    """``torch.nn.MaxPool3d`` spec."""

    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class _AvgPoolNd(_PoolNd):
    ceil_mode: bool = False
    count_include_pad: bool = True
    _kind: ClassVar[PoolKind] = PoolKind.AVG

    def __post_init__(self) -> None:
        self._setup(1, self.ceil_mode)
        flag(self.count_include_pad, "count_include_pad", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return self._pool(flow, ctx, path, (1,) * self._ndim, self.ceil_mode)


@dataclass(frozen=True, slots=True)
class AvgPool1d(_AvgPoolNd):
    """``torch.nn.AvgPool1d`` spec."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class AvgPool2d(_AvgPoolNd):
    """``torch.nn.AvgPool2d`` spec."""

    divisor_override: int | None = None
    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AvgPool3d(_AvgPoolNd):
    """``torch.nn.AvgPool3d`` spec (torch also requires input >= kernel on every axis)."""

    divisor_override: int | None = None
    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class _AdaptivePoolNd(Module):
    output_size: Any
    _out: tuple[int | None, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        args = _args(self)
        nd = self._ndim
        values = self.output_size if isinstance(self.output_size, (tuple, list)) else (self.output_size,) * nd
        if len(values) != nd:
            raise SpecError(f"output_size must be an int or a tuple of {nd}. {received(args)}")
        out = tuple(None if v is None else whole(v, "output_size", minimum=0) for v in values)
        object.__setattr__(self, "_out", out)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) not in (self._ndim + 1, self._ndim + 2):
            _spatial_check(self, shape, self._ndim, path)
        lead = shape[: len(shape) - self._ndim]
        spatial = tuple(i if o is None else o for i, o in zip(shape[len(lead) :], self._out, strict=True))
        out_shape = (*lead, *spatial)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveAvgPool1d`` spec."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveAvgPool2d`` spec: the requested size, ``None`` keeps the input's."""

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveAvgPool3d`` spec."""

    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class AdaptiveMaxPool1d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveMaxPool1d`` spec."""

    return_indices: bool = False
    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveMaxPool2d`` spec."""

    return_indices: bool = False
    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AdaptiveMaxPool3d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveMaxPool3d`` spec."""

    return_indices: bool = False
    _ndim: ClassVar[int] = 3


# --------------------------------------------------------------------------- #
# Normalisation
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _BatchNormNd(Module):
    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    _ranks: ClassVar[tuple[int, ...]] = (4,)

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_features, "num_features", minimum=1)
        flag(self.affine, "affine", args)
        flag(self.track_running_stats, "track_running_stats", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) not in self._ranks:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(
                f"{self._where(path)}: expects {want} input, got {len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        _channel_check(self, shape, self.num_features, "num_features", path)
        count = batchnorm_params(self.num_features, affine=self.affine, track_running_stats=self.track_running_stats)
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            trainable=count.trainable,
            buffers=count.buffers,
            receptive_field=rf,
        )
        return shape, rf


@dataclass(frozen=True, slots=True)
class BatchNorm1d(_BatchNormNd):
    """``torch.nn.BatchNorm1d`` spec ((N, C) or (N, C, L) input)."""

    _ranks: ClassVar[tuple[int, ...]] = (2, 3)


@dataclass(frozen=True, slots=True)
class BatchNorm2d(_BatchNormNd):
    """``torch.nn.BatchNorm2d`` spec: 2C parameters, 2C + 1 buffer elements.

    >>> import convcalc
    >>> row = convcalc.plan(BatchNorm2d(64), (1, 64, 8, 8)).rows[0]
    >>> row.trainable, row.buffers
    (128, 129)
    """

    _ranks: ClassVar[tuple[int, ...]] = (4,)


@dataclass(frozen=True, slots=True)
class BatchNorm3d(_BatchNormNd):
    """``torch.nn.BatchNorm3d`` spec."""

    _ranks: ClassVar[tuple[int, ...]] = (5,)


@dataclass(frozen=True, slots=True)
class InstanceNorm2d(Module):
    """``torch.nn.InstanceNorm2d`` spec (no parameters by default)."""

    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = False
    track_running_stats: bool = False

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_features, "num_features", minimum=1)
        flag(self.affine, "affine", args)
        flag(self.track_running_stats, "track_running_stats", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) not in (3, 4):
            raise ShapeError(f"{self._where(path)}: expects (N, C, H, W) or (C, H, W). Received: input_shape={shape}")
        count = batchnorm_params(self.num_features, affine=self.affine, track_running_stats=self.track_running_stats)
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            trainable=count.trainable,
            buffers=count.buffers,
            receptive_field=rf,
        )
        return shape, rf


@dataclass(frozen=True, slots=True)
class GroupNorm(Module):
    """``torch.nn.GroupNorm`` spec: 2C parameters when affine."""

    num_groups: int
    num_channels: int
    eps: float = 1e-5
    affine: bool = True

    def __post_init__(self) -> None:
        args = _args(self)
        g = whole(self.num_groups, "num_groups", minimum=1)
        c = whole(self.num_channels, "num_channels", minimum=1)
        if c % g:
            raise SpecError(f"num_channels ({c}) must be divisible by num_groups ({g}). {received(args)}")
        flag(self.affine, "affine", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) < 2:
            raise ShapeError(f"{self._where(path)}: expects (N, C, *). Received: input_shape={shape}")
        _channel_check(self, shape, self.num_channels, "num_channels", path)
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            trainable=groupnorm_params(self.num_groups, self.num_channels, affine=self.affine),
            receptive_field=rf,
        )
        return shape, rf


@dataclass(frozen=True, slots=True)
class LayerNorm(Module):
    """``torch.nn.LayerNorm`` spec: normalises the trailing ``normalized_shape`` dims."""

    normalized_shape: Any
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True
    _shape: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        args = _args(self)
        dims = self.normalized_shape if isinstance(self.normalized_shape, (tuple, list)) else (self.normalized_shape,)
        if not dims:
            raise SpecError(f"normalized_shape must not be empty. {received(args)}")
        object.__setattr__(self, "_shape", tuple(whole(d, "normalized_shape", minimum=1) for d in dims))
        flag(self.elementwise_affine, "elementwise_affine", args)
        flag(self.bias, "bias", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        tail = tuple(shape[len(shape) - len(self._shape) :])
        if len(shape) < len(self._shape) or tail != self._shape:
            raise ShapeError(
                f"{self._where(path)}: normalized_shape={self._shape} must match the last dims of the input "
                f"{shape}: use normalized_shape={tuple(shape[-len(self._shape) :]) if len(shape) >= len(self._shape) else shape[1:]}. "
                f"Received: input_shape={shape}"
            )
        params = layernorm_params(self._shape, elementwise_affine=self.elementwise_affine, bias=self.bias)
        ctx.add_row(path, self.kind, shape, shape, trainable=params, receptive_field=rf)
        return shape, rf


# --------------------------------------------------------------------------- #
# Shape-preserving layers: activations and dropout
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _Elementwise(Module):
    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        ctx.add_row(path, self.kind, shape, shape, receptive_field=rf)
        return flow


@dataclass(frozen=True, slots=True)
class Identity(_Elementwise):
    """``torch.nn.Identity`` spec."""


@dataclass(frozen=True, slots=True)
class ReLU(_Elementwise):
    """``torch.nn.ReLU`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class ReLU6(_Elementwise):
    """``torch.nn.ReLU6`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class LeakyReLU(_Elementwise):
    """``torch.nn.LeakyReLU`` spec."""

    negative_slope: float = 0.01
    inplace: bool = False


@dataclass(frozen=True, slots=True)
class GELU(_Elementwise):
    """``torch.nn.GELU`` spec."""

    approximate: str = "none"


@dataclass(frozen=True, slots=True)
class SiLU(_Elementwise):
    """``torch.nn.SiLU`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Sigmoid(_Elementwise):
    """``torch.nn.Sigmoid`` spec."""


@dataclass(frozen=True, slots=True)
class Tanh(_Elementwise):
    """``torch.nn.Tanh`` spec."""


@dataclass(frozen=True, slots=True)
class Hardswish(_Elementwise):
    """``torch.nn.Hardswish`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Softmax(_Elementwise):
    """``torch.nn.Softmax`` spec."""

    dim: int | None = None


@dataclass(frozen=True, slots=True)
class Dropout(_Elementwise):
    """``torch.nn.Dropout`` spec."""

    p: float = 0.5
    inplace: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, (int, float)) or not 0 <= self.p <= 1:
            raise SpecError(f"dropout probability has to be between 0 and 1. Received: p={self.p!r}")


@dataclass(frozen=True, slots=True)
class Dropout2d(Dropout):
    """``torch.nn.Dropout2d`` spec."""


# --------------------------------------------------------------------------- #
# Reshaping, linear, padding, upsampling
# --------------------------------------------------------------------------- #


def _dim_index(dim: int, rank: int, name: str, layer: Module, path: str, shape: tuple[Any, ...]) -> int:
    j = dim + rank if dim < 0 else dim
    if not 0 <= j < rank:
        raise ShapeError(
            f"{layer._where(path)}: {name}={dim} is out of range for a {rank}-D input {shape}. "
            f"Received: input_shape={shape}"
        )
    return j


@dataclass(frozen=True, slots=True)
class Flatten(Module):
    """``torch.nn.Flatten`` spec (``start_dim=1``: keeps the batch)."""

    start_dim: int = 1
    end_dim: int = -1

    def __post_init__(self) -> None:
        whole(self.start_dim, "start_dim")
        whole(self.end_dim, "end_dim")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        rank = len(shape)
        a = _dim_index(self.start_dim, rank, "start_dim", self, path, shape)
        b = _dim_index(self.end_dim, rank, "end_dim", self, path, shape)
        if a > b:
            raise ShapeError(
                f"{self._where(path)}: start_dim={self.start_dim} comes after end_dim={self.end_dim}. "
                f"Received: input_shape={shape}"
            )
        merged = product(shape[a : b + 1])
        from convcalc._backend import is_symbolic

        if is_symbolic(merged):
            from convcalc._backend import sympy
            from convcalc._symbolic import as_integer_expr

            merged = as_integer_expr(sympy().factor(merged))
        out_shape = (*shape[:a], merged, *shape[b + 1 :])
        ctx.add_row(path, self.kind, shape, out_shape)
        ctx.flatten_source = (path, tuple(shape[a : b + 1]))
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Unflatten(Module):
    """``torch.nn.Unflatten`` spec."""

    dim: int
    unflattened_size: tuple[int, ...]

    def __post_init__(self) -> None:
        whole(self.dim, "dim")
        if not isinstance(self.unflattened_size, (tuple, list)) or not self.unflattened_size:
            raise SpecError(f"unflattened_size must be a non-empty tuple of ints. {received(_args(self))}")
        sizes = [whole(v, "unflattened_size", minimum=-1) for v in self.unflattened_size]
        if any(type(v) is not int for v in sizes) or 0 in sizes or sizes.count(-1) > 1:
            raise SpecError(
                f"unflattened_size takes positive sizes and at most one -1 (inferred), as torch does. "
                f"{received(_args(self))}"
            )

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        j = _dim_index(self.dim, len(shape), "dim", self, path, shape)
        known = math.prod(v for v in self.unflattened_size if v != -1)
        sizes = tuple(self.unflattened_size)
        if -1 in sizes and type(shape[j]) is int and shape[j] % known == 0:
            sizes = tuple(shape[j] // known if v == -1 else v for v in sizes)
        if -1 in sizes or shape[j] != math.prod(sizes):
            raise ShapeError(
                f"{self._where(path)}: unflattened_size={tuple(self.unflattened_size)} holds "
                f"{'a multiple of ' if -1 in sizes else ''}{known} elements but dim {self.dim} has {shape[j]}. "
                f"Received: input_shape={shape}"
            )
        out_shape = (*shape[:j], *sizes, *shape[j + 1 :])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Linear(Module):
    """``torch.nn.Linear`` spec: acts on the last dimension.

    >>> import convcalc
    >>> net = Sequential(Flatten(), Linear(2048, 256))
    >>> convcalc.plan(net, (1, 128, 6, 6))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: 1 (Linear): Linear(in_features=2048) receives 4608 features (Flatten of 128 x 6 x 6 = 4608): use in_features=4608, or make the feature map 4 x 4 before Flatten (128 * 4 * 4 = 2048), e.g. with AdaptiveAvgPool2d((4, 4)). Received: input_shape=(1, 4608)
    """

    in_features: int
    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        whole(self.in_features, "in_features", minimum=1)
        whole(self.out_features, "out_features", minimum=1)
        flag(self.bias, "bias", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if not shape:
            raise ShapeError(_linear_mismatch(self, path, shape, ctx))
        ctx.equals(
            shape[-1],
            self.in_features,
            path,
            len(shape) - 1,
            lambda: _linear_mismatch(self, path, shape, ctx),
            f"in_features={self.in_features}",
        )
        out_shape = (*shape[:-1], self.out_features)
        rows = product(shape[1:-1])  # per sample: a 1-D (unbatched) input is one row
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=linear_params(self.in_features, self.out_features, bias=self.bias),
            macs=rows * self.in_features * self.out_features,
            bias_adds=rows * self.out_features if self.bias else 0,
        )
        return out_shape, None


def _linear_mismatch(layer: Linear, path: str, shape: tuple[Any, ...], ctx: Context) -> str:
    got = shape[-1] if shape else None
    head = f"{layer._where(path)}: Linear(in_features={layer.in_features}) receives {got} features"
    source = ctx.flatten_source
    fix = f"use in_features={got}"
    if source is not None and len(shape) == 2:
        dims = source[1]
        head += f" (Flatten of {_fmt(dims)} = {got})"
        if len(dims) >= 2 and all(type(d) is int for d in dims) and layer.in_features % dims[0] == 0:
            per_channel = layer.in_features // dims[0]
            spatial = len(dims) - 1
            side = round(per_channel ** (1 / spatial))
            if side**spatial == per_channel:
                target = " x ".join([str(side)] * spatial)
                pool = f"AdaptiveAvgPool{spatial}d(({', '.join([str(side)] * spatial)}))"
                made = " * ".join([str(dims[0])] + [str(side)] * spatial)
                fix += (
                    f", or make the feature map {target} before Flatten ({made} = {layer.in_features}), "
                    f"e.g. with {pool}"
                )
    return f"{head}: {fix}. Received: input_shape={shape}"


@dataclass(frozen=True, slots=True)
class LazyLinear(Module):
    """``torch.nn.LazyLinear``: ``in_features`` is taken from the input when planned."""

    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        whole(self.out_features, "out_features", minimum=1)
        flag(self.bias, "bias", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        fin = shape[-1]
        if type(fin) is not int:
            fin = fin.to_sympy() if isinstance(fin, FloorForm) else fin
            rows = product(shape[1:-1])
            out_shape = (*shape[:-1], self.out_features)
            ctx.add_row(
                path,
                self.kind,
                shape,
                out_shape,
                trainable=fin * self.out_features + (self.out_features if self.bias else 0),
                macs=rows * fin * self.out_features,
            )
            return out_shape, None
        out = Linear(fin, self.out_features, self.bias)._plan(flow, ctx, path)
        row = ctx.rows[-1]
        ctx.rows[-1] = type(row)(**{**{f: getattr(row, f) for f in row.__slots__}, "kind": self.kind})
        return out


def plan_padding(
    ctx: Context, where: str, path: str, shape: tuple[Any, ...], pads: tuple[Any, ...], mode: PadMode
) -> tuple[Any, ...]:
    """The shape ``F.pad(x, pads, mode)`` gives (pads in torch's order: last dim first, (left, right) each),
    with torch's rules on ranks and sizes; symbolic sizes get constraints."""
    rank, n = len(shape), len(pads) // 2
    received_shape = f"Received: input_shape={shape}"
    if len(pads) % 2:
        raise SpecError(
            f"{where}: padding length must be divisible by 2 (one (left, right) pair per dim). {received_shape}"
        )
    if n > rank:
        raise ShapeError(
            f"{where}: {len(pads)} padding values pad {n} dims but the input has only {rank}. {received_shape}"
        )
    if mode is not PadMode.CONSTANT and rank not in (n + 1, n + 2):
        raise ShapeError(
            f"{where}: {mode.value} padding of {n} dim{'s' if n > 1 else ''} takes a {n + 1}-D or {n + 2}-D input "
            f"(torch: Padding size {len(pads)} is not supported for {rank}D input tensor). {received_shape}"
        )
    out = list(shape)
    for a in range(n):
        axis = rank - 1 - a
        left, right, i = pads[2 * a], pads[2 * a + 1], shape[axis]
        checked: set[tuple[str, int]] = set()
        for value, minimum, text in pad_requirements(i, left, right, mode):
            if type(value) is not int and (str(value), minimum) in checked:
                continue  # the same condition on both sides: one constraint
            checked.add((str(value), minimum))
            if type(value) is not int or value < minimum:
                message = f"{where}: {text} on dim {axis}. {received_shape}"  # at_least raises at once or not at all
                ctx.at_least(value, minimum, path, axis - (rank - n), lambda: message, f"{mode.value} padding fits")
        out[axis] = i + left + right
    if mode in (PadMode.REFLECT, PadMode.REPLICATE):
        _one_dim_left(ctx, where, path, shape, out[rank - n :], rank - n)
    if mode is PadMode.CIRCULAR and any(type(v) is not int or v < 0 for v in pads):
        if not all(type(v) is int for v in (*shape, *pads)):
            raise SpecError(
                f"{where}: circular padding with negative values (cropping) follows torch's copy rules only for "
                f"concrete sizes, not symbolic ones. Received: input_shape={shape}, padding={pads}"
            )
        if circular_copy_fails(shape, [(pads[2 * (n - 1 - a)], pads[2 * (n - 1 - a) + 1]) for a in range(n)]):
            raise ShapeError(
                f"{where}: circular padding {pads} with cropping makes torch copy slices that differ in size or "
                f"overlap (torch raises); crop less or pad less. {received_shape}"
            )
    return tuple(out)


def _one_dim_left(ctx: Context, where: str, path: str, shape: tuple[Any, ...], outs: list[Any], first: int) -> None:
    """torch's reflect and replicate padding need an output of at least 1 on one of the padded dims (only one).

    For symbolic sizes the constraint is put on every symbolic dim, which asks for more than torch when
    cropping could empty one of several symbolic dims."""
    if any(type(o) is int and o >= 1 for o in outs):
        return
    for j, o in enumerate(outs):
        ctx.at_least(
            o,
            1,
            path,
            j,
            lambda: (
                f"{where}: input {shape[first:]} is too small: the padding leaves {tuple(outs)} (torch needs a size "
                f"of at least 1 on one of the padded dims). Received: input_shape={shape}"
            ),
            "padding leaves a size on one dim",
        )


@dataclass(frozen=True, slots=True)
class _PadNd(Module):
    padding: Any
    _pads: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2
    _mode: ClassVar[PadMode] = PadMode.CONSTANT

    def __post_init__(self) -> None:
        args = _args(self)
        count = 2 * self._ndim
        if isinstance(self.padding, (tuple, list)):
            if len(self.padding) != count:
                sides = {
                    1: "(left, right)",
                    2: "(left, right, top, bottom)",
                    3: "(left, right, top, bottom, front, back)",
                }
                raise SpecError(f"padding must be an int or a {count}-tuple {sides[self._ndim]}. {received(args)}")
            pads = tuple(whole(v, "padding") for v in self.padding)
        else:
            pads = (whole(self.padding, "padding"),) * count
        object.__setattr__(self, "_pads", pads)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        out_shape = plan_padding(ctx, self._where(path), path, shape, self._pads, self._mode)
        nd = self._ndim
        new_rf = None
        if rf is not None and len(rf) == nd:  # the receptive field of the padded (last nd) axes
            lefts = [self._pads[2 * (nd - 1 - j)] for j in range(nd)]
            new_rf = tuple(
                ReceptiveField(r.size, r.jump, r.start - left * r.jump) for r, left in zip(rf, lefts, strict=True)
            )
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class ZeroPad1d(_PadNd):
    """``torch.nn.ZeroPad1d`` spec: padding (left, right); negative crops."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class ZeroPad2d(_PadNd):
    """``torch.nn.ZeroPad2d`` spec: padding (left, right, top, bottom); negative crops."""


@dataclass(frozen=True, slots=True)
class ZeroPad3d(_PadNd):
    """``torch.nn.ZeroPad3d`` spec: padding (left, right, top, bottom, front, back); negative crops."""

    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class ConstantPad1d(_PadNd):
    """``torch.nn.ConstantPad1d`` spec."""

    value: float = 0.0
    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class ConstantPad2d(_PadNd):
    """``torch.nn.ConstantPad2d`` spec."""

    value: float = 0.0


@dataclass(frozen=True, slots=True)
class ConstantPad3d(_PadNd):
    """``torch.nn.ConstantPad3d`` spec."""

    value: float = 0.0
    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class ReflectionPad1d(_PadNd):
    """``torch.nn.ReflectionPad1d`` spec: each padding must be less than the input size."""

    _ndim: ClassVar[int] = 1
    _mode: ClassVar[PadMode] = PadMode.REFLECT


@dataclass(frozen=True, slots=True)
class ReflectionPad2d(_PadNd):
    """``torch.nn.ReflectionPad2d`` spec: each padding must be less than the input size.

    >>> import convcalc
    >>> convcalc.plan(ReflectionPad2d(2), (1, 3, 4, 4)).output_shape
    (1, 3, 8, 8)
    >>> convcalc.plan(ReflectionPad2d(2), (1, 3, 2, 4))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (ReflectionPad2d): reflect padding (2, 2) must be less than the input size 2 (torch: Padding size should be less than the corresponding input dimension) on dim 2. The smallest network input that gets past this layer has size 3 on that axis: input_shape=(1, 3, 3, 4). Received: input_shape=(1, 3, 2, 4)
    """

    _mode: ClassVar[PadMode] = PadMode.REFLECT


@dataclass(frozen=True, slots=True)
class ReflectionPad3d(_PadNd):
    """``torch.nn.ReflectionPad3d`` spec: each padding must be less than the input size."""

    _ndim: ClassVar[int] = 3
    _mode: ClassVar[PadMode] = PadMode.REFLECT


@dataclass(frozen=True, slots=True)
class ReplicationPad1d(_PadNd):
    """``torch.nn.ReplicationPad1d`` spec."""

    _ndim: ClassVar[int] = 1
    _mode: ClassVar[PadMode] = PadMode.REPLICATE


@dataclass(frozen=True, slots=True)
class ReplicationPad2d(_PadNd):
    """``torch.nn.ReplicationPad2d`` spec."""

    _mode: ClassVar[PadMode] = PadMode.REPLICATE


@dataclass(frozen=True, slots=True)
class ReplicationPad3d(_PadNd):
    """``torch.nn.ReplicationPad3d`` spec."""

    _ndim: ClassVar[int] = 3
    _mode: ClassVar[PadMode] = PadMode.REPLICATE


@dataclass(frozen=True, slots=True)
class CircularPad1d(_PadNd):
    """``torch.nn.CircularPad1d`` spec: each padding at most the input size (it wraps around once)."""

    _ndim: ClassVar[int] = 1
    _mode: ClassVar[PadMode] = PadMode.CIRCULAR


@dataclass(frozen=True, slots=True)
class CircularPad2d(_PadNd):
    """``torch.nn.CircularPad2d`` spec: each padding at most the input size (it wraps around once)."""

    _mode: ClassVar[PadMode] = PadMode.CIRCULAR


@dataclass(frozen=True, slots=True)
class CircularPad3d(_PadNd):
    """``torch.nn.CircularPad3d`` spec: each padding at most the input size (it wraps around once)."""

    _ndim: ClassVar[int] = 3
    _mode: ClassVar[PadMode] = PadMode.CIRCULAR


@dataclass(frozen=True, slots=True)
class Upsample(Module):
    """``torch.nn.Upsample`` spec: ``size`` or ``scale_factor`` (floor of the double product)."""

    size: Any = None
    scale_factor: Any = None
    mode: str = "nearest"
    align_corners: bool | None = None

    def __post_init__(self) -> None:
        args = _args(self)
        if (self.size is None) == (self.scale_factor is None):
            raise SpecError(f"give exactly one of size and scale_factor. {received(args)}")
        modes = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
        if self.mode not in modes:
            raise SpecError(f"mode must be one of {', '.join(map(repr, modes))}. {received(args)}")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        from convcalc.formulas import upsample_output_size

        shape, _ = flow
        rank = len(shape)
        need = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}.get(self.mode)
        if rank < 3 or (need is not None and rank != need):
            raise ShapeError(
                f"{self._where(path)}: mode={self.mode!r} needs {need or '3-D to 5-D'} input, got "
                f"{rank}-D. Received: input_shape={shape}"
            )
        spatial = shape[2:]
        nd = len(spatial)
        value = self.size if self.size is not None else self.scale_factor
        per = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
        if len(per) != nd:
            raise ShapeError(
                f"{self._where(path)}: {nd} spatial dims but {len(per)} values given. Received: input_shape={shape}"
            )
        try:
            if self.size is not None:
                out = tuple(upsample_output_size(_sym(i), output_size=v) for i, v in zip(spatial, per, strict=True))
            else:
                out = tuple(upsample_output_size(_sym(i), scale_factor=v) for i, v in zip(spatial, per, strict=True))
        except (ShapeError, SpecError) as exc:
            raise type(exc)(f"{self._where(path)}: {exc}") from None
        out = tuple(_unsym(v) for v in out)
        out_shape = (shape[0], shape[1], *out)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


def _sym(value: Any) -> Any:
    return value.to_sympy() if isinstance(value, FloorForm) else value


def _unsym(value: Any) -> Any:
    from convcalc._backend import is_symbolic

    if is_symbolic(value):
        from convcalc._symbolic import as_integer_expr

        return as_integer_expr(value)
    return value


# --------------------------------------------------------------------------- #
# Sequence, attention, embedding and rearranging layers
#
# A layer that returns several tensors in torch (an RNN's ``(output, h_n)``,
# attention's ``(output, weights)``) passes on its first output inside a
# ``Sequential``; torch code read through fx sees every output with its shape.
# --------------------------------------------------------------------------- #


def _said(text: str) -> Callable[[], str]:
    """A message made now, for a check that may fail later."""
    return lambda: text


def _peer_count(ctx: Context, **counts: Any) -> None:
    """Replace the last row's MACs with a peer's own count for this layer, under that peer's convention."""
    value = counts.get(ctx.mac_convention.value)
    if value is not None:
        import dataclasses

        ctx.rows[-1] = dataclasses.replace(ctx.rows[-1], macs=value)


class _Shape(tuple[Any, ...]):
    """The shape of one tensor among a layer's inputs or outputs (a plain tuple is a tuple of values)."""

    __slots__ = ()


def _first_output(value: Any) -> _Shape:
    while not isinstance(value, _Shape):
        value = value[0]
    return value


def _shape_arg(layer: Module, path: str, value: Any, name: str, first: tuple[Any, ...]) -> tuple[Any, ...]:
    if not isinstance(value, _Shape):
        raise ShapeError(f"{layer._where(path)}: {name} must be a tensor. Received: {name}={value!r}")
    return tuple(value)


class _MultiOutput(Module):
    """A layer whose torch forward returns a tuple, or takes several tensors."""

    __slots__ = ()

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return tuple(_first_output(self._outputs((_Shape(flow[0]),), {}, ctx, path))), None


def _no_extra(layer: Module, path: str, inputs: tuple[Any, ...], options: dict[str, Any], most: int) -> None:
    if len(inputs) > most or options:
        names = ", ".join([*(f"arg{j}" for j in range(most, len(inputs))), *options])
        raise SpecError(
            f"{layer._where(path)}: is called with arguments convcalc does not follow ({names}); "
            f"{layer.kind} takes {most} tensor{'s' if most > 1 else ''} here. Received: arguments={names}"
        )


# -- recurrent layers ---------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _RNNBase(_MultiOutput):
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    _gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.input_size, "input_size", minimum=1)
        whole(self.hidden_size, "hidden_size", minimum=1)
        whole(self.num_layers, "num_layers", minimum=1)
        for name in ("bias", "batch_first", "bidirectional"):
            flag(getattr(self, name), name, args)
        if type(self.dropout) not in (int, float) or not 0 <= self.dropout <= 1:
            raise SpecError(f"dropout must be a number between 0 and 1. {received(args)}")

    @property
    def _proj(self) -> int:
        return 0

    @property
    def _out_size(self) -> int:
        return self._proj or self.hidden_size

    def _weights(self) -> tuple[int, int, int]:
        """(weights, biases, multiply-accumulates per time step) over all layers and directions."""
        gate = self._gates * self.hidden_size
        directions = 2 if self.bidirectional else 1
        weights = biases = macs = 0
        for layer in range(self.num_layers):
            fin = self.input_size if layer == 0 else self._out_size * directions
            per = gate * (fin + self._out_size) + self._proj * self.hidden_size
            weights += directions * per
            macs += directions * per
            biases += directions * 2 * gate if self.bias else 0
        return weights, biases, macs

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        hx = inputs[1] if len(inputs) > 1 else options.pop("hx", None)
        _no_extra(self, path, inputs[:1], options, 1)
        shape = tuple(inputs[0])
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{self._where(path)}: expects a 3-D input {'(N, L, H_in)' if self.batch_first else '(L, N, H_in)'} "
                f"(batch_first={self.batch_first}) or an unbatched 2-D (L, H_in), but receives {len(shape)}-D. "
                f"Received: input_shape={shape}"
            )
        ctx.equals(
            shape[-1],
            self.input_size,
            path,
            len(shape) - 1,
            lambda: (
                f"{self._where(path)}: input_size={self.input_size} but the input has {shape[-1]} features "
                f"(last dim): use input_size={shape[-1]}. Received: input_shape={shape}"
            ),
            f"input_size={self.input_size}",
        )
        directions = 2 if self.bidirectional else 1
        if len(shape) == 2:
            steps, batch = shape[0], cast(tuple[Any, ...], ())
        else:
            steps, batch = (shape[1], (shape[0],)) if self.batch_first else (shape[0], (shape[1],))
        out = _Shape((*shape[:-1], directions * self._out_size))
        h_n = _Shape((directions * self.num_layers, *batch, self._out_size))
        c_n = _Shape((directions * self.num_layers, *batch, self.hidden_size))
        states = (h_n, c_n) if self._gates == 4 else (h_n,)
        if hx is not None:
            given = hx if isinstance(hx, tuple) and not isinstance(hx, _Shape) else (hx,)
            if len(given) != len(states):
                raise ShapeError(
                    f"{self._where(path)}: hx takes {len(states)} tensor{'s' if len(states) > 1 else ''} "
                    f"{tuple(states) if len(states) > 1 else states[0]}. Received: hx={given!r}"
                )
            for j, (g, want) in enumerate(zip(given, states, strict=True)):
                if (
                    not isinstance(g, _Shape)
                    or len(g) != len(want)
                    or any(a != b for a, b in zip(g, want, strict=True))
                ):
                    raise ShapeError(
                        f"{self._where(path)}: hx[{j}] must have shape {tuple(want)} for this input. "
                        f"Received: hx[{j}]={g!r}, input_shape={shape}"
                    )
        weights, biases, macs = self._weights()
        ctx.add_row(
            path,
            self.kind,
            shape,
            tuple(out),
            trainable=weights + biases,
            macs=steps * macs,
            bias_adds=steps * biases,
        )
        # torchinfo counts every RNN weight and bias once per time step; fvcore has no count for aten::lstm & co.
        _peer_count(ctx, torchinfo=steps * (weights + biases), fvcore=0)
        if self._gates == 4:
            return (out, (h_n, c_n))
        return (out, h_n)


@dataclass(frozen=True, slots=True)
class RNN(_RNNBase):
    """``torch.nn.RNN`` spec: Elman RNN, ``tanh`` or ``relu``.

    Input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, or unbatched
    ``(L, H_in)``; outputs ``(output, h_n)`` with output ``(..., D * H_out)`` and
    ``h_n`` ``(D * num_layers, N, H_out)`` (``D = 2`` when bidirectional); a
    ``Sequential`` passes on ``output``. Parameters per layer and direction:
    ``G * H * (H_in' + H_out) + 2 * G * H`` biases, ``G = 1`` gate block here (3 for
    GRU, 4 for LSTM), ``H_in'`` the layer's input (``D * H_out`` after the first).
    MACs (``macs``) per sample: ``L`` times the weights' sum ``G * H * (H_in' + H_out)``
    (+ ``proj_size * H`` for LSTM's projection) over layers and directions:
    the matrix products only, not the gates' element-wise products.
    ``macs+bias`` adds ``2 * G * H`` per step, layer and direction (b_ih and b_hh).
    ``torchinfo``: ``L`` x all parameters, as torchinfo counts RNN weights;
    ``fvcore``: 0 (fvcore has no count for recurrent ops); ``ptflops``: ``macs+bias``
    (ptflops' own RNN rule adds element-wise gate operations and reads the batch
    from dim 0, so it differs).

    >>> import convcalc
    >>> convcalc.plan(RNN(10, 20, num_layers=2), (5, 3, 10)).rows[0].output_shape
    (5, 3, 20)
    """

    nonlinearity: str = "tanh"
    _gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _RNNBase.__post_init__(self)
        if self.nonlinearity not in ("tanh", "relu"):
            raise SpecError(f"nonlinearity must be 'tanh' or 'relu'. {received(_args(self))}")


@dataclass(frozen=True, slots=True)
class GRU(_RNNBase):
    """``torch.nn.GRU`` spec: as :class:`RNN` with 3 gate blocks; returns ``(output, h_n)``.

    >>> import convcalc
    >>> convcalc.plan(GRU(8, 16, batch_first=True, bidirectional=True), (2, 7, 8)).output_shape
    (2, 7, 32)
    """

    _gates: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class LSTM(_RNNBase):
    """``torch.nn.LSTM`` spec: as :class:`RNN` with 4 gate blocks; returns ``(output, (h_n, c_n))``.

    With ``proj_size > 0`` the hidden state is projected to ``H_out = proj_size``
    (a ``(proj_size, hidden_size)`` weight per layer and direction); ``c_n`` keeps
    ``hidden_size``.

    >>> import convcalc
    >>> convcalc.plan(LSTM(10, 20), (5, 3, 10)).rows[0].trainable
    2560
    >>> convcalc.plan(LSTM(12, 20), (5, 3, 10))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (LSTM): input_size=12 but the input has 10 features (last dim): use input_size=10. Received: input_shape=(5, 3, 10)
    """

    proj_size: int = 0
    _gates: ClassVar[int] = 4

    def __post_init__(self) -> None:
        _RNNBase.__post_init__(self)
        whole(self.proj_size, "proj_size", minimum=0)
        if self.proj_size >= self.hidden_size:
            raise SpecError(f"proj_size must be smaller than hidden_size. {received(_args(self))}")

    @property
    def _proj(self) -> int:
        return self.proj_size


# -- attention ----------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class MultiheadAttention(_MultiOutput):
    """``torch.nn.MultiheadAttention`` spec; in a ``Sequential``, self-attention of its input.

    Query ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``, ``(L, E)`` unbatched),
    key ``(S, N, kdim)``, value ``(S, N, vdim)``; returns ``(attn_output,
    attn_weights)``: ``(L, N, E)`` and ``(N, L, S')`` (``(N, num_heads, L, S')`` with
    ``average_attn_weights=False``, None with ``need_weights=False``), ``S' = S``
    plus one for ``add_bias_kv`` and one for ``add_zero_attn``. Parameters:
    ``E * (E + kdim + vdim)`` projection weights, ``3E`` biases, the output
    projection ``E * E + E``, ``2E`` for ``add_bias_kv``. MACs (``macs``) per
    sample: projections ``L*E*E + S*kdim*E + S*vdim*E + L*E*E``, scores
    ``L*S'*E`` and weighted sum ``L*S'*E``; ``macs+bias`` adds ``2*L*E + 2*S*E``.
    ``fvcore`` equals ``macs`` (it counts the projections and batched products);
    ``torchinfo`` 0 (torchinfo 1.8 reports none for this layer); ``ptflops`` is
    ``macs+bias`` (ptflops' own attention rule counts scaling and softmax too).

    >>> import convcalc
    >>> convcalc.plan(MultiheadAttention(16, 4), (7, 2, 16)).rows[0].trainable
    1088
    """

    embed_dim: int
    num_heads: int
    dropout: float = 0.0
    bias: bool = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: int | None = None
    vdim: int | None = None
    batch_first: bool = False

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.embed_dim, "embed_dim", minimum=1)
        whole(self.num_heads, "num_heads", minimum=1)
        for name in ("bias", "add_bias_kv", "add_zero_attn", "batch_first"):
            flag(getattr(self, name), name, args)
        for name in ("kdim", "vdim"):
            if getattr(self, name) is not None:
                whole(getattr(self, name), name, minimum=1)
        if self.embed_dim % self.num_heads:
            divisors = [h for h in range(1, self.embed_dim + 1) if self.embed_dim % h == 0]
            raise SpecError(f"embed_dim must be divisible by num_heads (one of {divisors[:12]}). {received(args)}")
        if type(self.dropout) not in (int, float) or not 0 <= self.dropout <= 1:
            raise SpecError(f"dropout must be a number between 0 and 1. {received(args)}")

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        names = ("query", "key", "value")
        given = dict(zip(names, inputs, strict=False))
        for name in names:
            if name in options:
                given[name] = options.pop(name)
        for name in ("key_padding_mask", "attn_mask"):
            options.pop(name, None)
        need_weights = options.pop("need_weights", True)
        average = options.pop("average_attn_weights", True)
        options.pop("is_causal", None)
        _no_extra(self, path, inputs[:3], options, 3)
        query = tuple(given["query"])
        key = tuple(given.get("key", query))
        value = tuple(given.get("value", key))
        e = self.embed_dim
        kdim, vdim = self.kdim or e, self.vdim or e
        where = self._where(path)
        if len(query) not in (2, 3) or len(key) != len(query) or len(value) != len(query):
            raise ShapeError(
                f"{where}: query, key and value must all be 3-D (batched) or all 2-D (unbatched). "
                f"Received: query={query}, key={key}, value={value}"
            )
        for name, shape, want in (("embed_dim", query, e), ("kdim", key, kdim), ("vdim", value, vdim)):
            label = {"embed_dim": "query", "kdim": "key", "vdim": "value"}[name]
            ctx.equals(
                shape[-1],
                want,
                path,
                len(shape) - 1,
                _said(
                    f"{where}: {name}={want} but the {label} has {shape[-1]} features (last dim): use "
                    f"{name}={shape[-1]}. Received: {label}_shape={shape}"
                ),
                f"{name}={want}",
            )
        batched = len(query) == 3
        seq_axis = 1 if batched and self.batch_first else 0
        checks = [("value", value, key, seq_axis, "key and value lengths")]
        if batched:
            checks += [(label, t, query, 1 - seq_axis, "batch sizes") for label, t in (("key", key), ("value", value))]
        for label, t, other, axis, what in checks:
            ctx.equals(
                _sym(t[axis]) - _sym(other[axis]),
                0,
                path,
                axis,
                _said(
                    f"{where}: the {label} has size {t[axis]} on axis {axis} but "
                    f"{'the query' if other is query else 'the key'} has {other[axis]}: {what} must agree. "
                    f"Received: query={query}, key={key}, value={value}"
                ),
                "sizes equal",
            )
        length, source = query[seq_axis], key[seq_axis]
        extra = (1 if self.add_bias_kv else 0) + (1 if self.add_zero_attn else 0)
        attended = source + extra
        batch = (query[1 - seq_axis],) if batched else ()
        out = _Shape(query)
        weights: Any = None
        if need_weights:
            heads = () if average else (self.num_heads,)
            weights = _Shape((*batch, *heads, length, attended))
        params = e * (e + kdim + vdim) + e * e + ((4 * e) if self.bias else 0) + (2 * e if self.add_bias_kv else 0)
        macs = length * e * e * 2 + source * (kdim + vdim) * e + 2 * length * attended * e
        ctx.add_row(
            path,
            self.kind,
            query,
            query,
            trainable=params,
            macs=macs,
            bias_adds=(2 * length * e + 2 * source * e) if self.bias else 0,
        )
        _peer_count(ctx, torchinfo=0)  # torchinfo 1.8 reports no mult-adds for MultiheadAttention
        return (out, weights)


# -- embedding ----------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Embedding(Module):
    """``torch.nn.Embedding`` spec: integer indices of any shape -> ``shape + (embedding_dim,)``.

    ``num_embeddings * embedding_dim`` parameters; a table lookup, no MACs.

    >>> import convcalc
    >>> convcalc.plan(Embedding(1000, 64), (2, 12)).output_shape
    (2, 12, 64)
    """

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    max_norm: float | None = None
    norm_type: float = 2.0
    scale_grad_by_freq: bool = False
    sparse: bool = False

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_embeddings, "num_embeddings", minimum=1)
        whole(self.embedding_dim, "embedding_dim", minimum=1)
        if self.padding_idx is not None:
            whole(self.padding_idx, "padding_idx", minimum=-self.num_embeddings)
            if not -self.num_embeddings <= self.padding_idx < self.num_embeddings:
                raise SpecError(
                    f"padding_idx must be within num_embeddings: from {-self.num_embeddings} to "
                    f"{self.num_embeddings - 1}. {received(args)}"
                )
        for name in ("scale_grad_by_freq", "sparse"):
            flag(getattr(self, name), name, args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        out_shape = (*shape, self.embedding_dim)
        ctx.add_row(path, self.kind, shape, out_shape, trainable=self.num_embeddings * self.embedding_dim)
        return out_shape, None


# -- rearranging --------------------------------------------------------------- #


def _factor(value: Any, name: str) -> int:
    result: int = whole(value, name, minimum=1)
    return result


@dataclass(frozen=True, slots=True)
class PixelShuffle(Module):
    """``torch.nn.PixelShuffle`` spec: ``(*, C * r**2, H, W) -> (*, C, H * r, W * r)``.

    >>> import convcalc
    >>> convcalc.plan(PixelShuffle(2), (1, 12, 5, 5)).output_shape
    (1, 3, 10, 10)
    """

    upscale_factor: int

    def __post_init__(self) -> None:
        _factor(self.upscale_factor, "upscale_factor")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        r = self.upscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{self._where(path)}: needs at least 3 dims (C, H, W). Received: input_shape={shape}")
        *lead, c, h, w = shape
        channel_axis = len(shape) - 3
        if type(c) is int and c % (r * r):
            raise ShapeError(
                f"{self._where(path)}: {c} channels are not divisible by upscale_factor**2 = {r * r}: use "
                f"{-(-c // (r * r)) * r * r} channels, or an upscale_factor whose square divides {c}. "
                f"Received: input_shape={shape}"
            )
        ctx.divides(
            c,
            r * r,
            path,
            channel_axis - 2,
            lambda: f"{self._where(path)}: channels must be divisible by {r * r}. Received: input_shape={shape}",
            f"divisible by {r * r}",
        )
        out_shape = (*lead, c // (r * r), h * r, w * r)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class PixelUnshuffle(Module):
    """``torch.nn.PixelUnshuffle`` spec: ``(*, C, H * r, W * r) -> (*, C * r**2, H, W)``.

    >>> import convcalc
    >>> convcalc.plan(PixelUnshuffle(2), (1, 3, 10, 10)).output_shape
    (1, 12, 5, 5)
    """

    downscale_factor: int

    def __post_init__(self) -> None:
        _factor(self.downscale_factor, "downscale_factor")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        r = self.downscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{self._where(path)}: needs at least 3 dims (C, H, W). Received: input_shape={shape}")
        *lead, c, h, w = shape
        for j, v in ((0, h), (1, w)):
            if type(v) is int and v % r:
                raise ShapeError(
                    f"{self._where(path)}: size {v} is not divisible by downscale_factor={r}: use a size of "
                    f"{max(v // r, 1) * r} or {(v // r + 1) * r}. Received: input_shape={shape}"
                )
            ctx.divides(
                v,
                r,
                path,
                len(shape) - 4 + j,
                _said(f"{self._where(path)}: size {v} is not divisible by {r}. Received: input_shape={shape}"),
                f"divisible by {r}",
            )
        out_shape = (*lead, c * r * r, h // r, w // r)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class _MaxUnpoolNd(_MultiOutput):
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        args = _args(self)
        per_axis(self.kernel_size, "kernel_size", self._ndim, args, minimum=1)
        if self.stride is not None:
            per_axis(self.stride, "stride", self._ndim, args, minimum=1)
        per_axis(self.padding, "padding", self._ndim, args, minimum=0)

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        n = self._ndim
        args = _args(self)
        k = per_axis(self.kernel_size, "kernel_size", n, args, minimum=1)
        s = k if self.stride is None else per_axis(self.stride, "stride", n, args, minimum=1)
        p = per_axis(self.padding, "padding", n, args, minimum=0)
        indices = inputs[1] if len(inputs) > 1 else options.pop("indices", None)
        size = inputs[2] if len(inputs) > 2 else options.pop("output_size", None)
        _no_extra(self, path, inputs[:3], options, 3)
        shape = tuple(inputs[0])
        where = self._where(path)
        if len(shape) not in (n + 1, n + 2):
            raise ShapeError(
                f"{where}: expects a {n + 2}-D input (N, C, ...) or an unbatched {n + 1}-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        if indices is not None and (not isinstance(indices, _Shape) or tuple(indices) != shape):
            raise ShapeError(f"{where}: indices must have the input's shape {shape}. Received: indices={indices!r}")
        spatial = shape[-n:]
        default = tuple((i - 1) * st - 2 * pd + kk for i, st, pd, kk in zip(spatial, s, p, k, strict=True))
        for j, v in enumerate(default if size is None else ()):
            ctx.at_least(
                v,
                1,
                path,
                j,
                _said(
                    f"{where}: (size - 1) * stride - 2 * padding + kernel_size = {v} is too small: use "
                    f"padding of at most {(spatial[j] - 1) * s[j] // 2 + (k[j] - 1) // 2}. "
                    f"Received: input_shape={shape}"
                ),
                "size at least 1",
            )
        out = default
        if size is not None:
            sizes = tuple(size)
            if len(sizes) == n + 2 or (len(sizes) == n + 1 and len(shape) == n + 1):
                sizes = sizes[-n:]
            if len(sizes) != n:
                raise ShapeError(
                    f"{where}: output_size must have {n} or {n + 2} elements. Received: output_size={size!r}"
                )
            for j, (want, d, st) in enumerate(zip(sizes, default, s, strict=True)):
                if type(want) is int and type(d) is int and not d - st < want < d + st:
                    raise ShapeError(
                        f"{where}: output_size[{j}]={want} is out of range: use a size from {max(d - st + 1, 1)} "
                        f"to {d + st - 1}. Received: output_size={size!r}, input_shape={shape}"
                    )
            out = sizes
        out_shape = _Shape((*shape[:-n], *out))
        ctx.add_row(path, self.kind, shape, tuple(out_shape))
        return out_shape


@dataclass(frozen=True, slots=True)
class MaxUnpool1d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool1d`` spec: size ``(L - 1) * stride - 2 * padding + kernel_size``, or ``output_size``."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class MaxUnpool2d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool2d`` spec: ``(H - 1) * stride - 2 * padding + kernel_size`` per axis.

    ``output_size`` (in torch code read through fx) picks another size within
    ``stride`` of that, as torch allows.

    >>> import convcalc
    >>> convcalc.plan(Sequential(MaxPool2d(2), MaxUnpool2d(2)), (1, 3, 9, 9)).output_shape
    (1, 3, 8, 8)
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class MaxUnpool3d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool3d`` spec."""

    _ndim: ClassVar[int] = 3


def _fold_blocks(
    layer: Module, sizes: tuple[Any, ...], k: Any, d: Any, p: Any, s: Any, ctx: Context, path: str, shape: Any
) -> Any:
    args = _args(layer)
    k2, d2, p2, s2 = (
        per_axis(k, "kernel_size", 2, args, minimum=1),
        per_axis(d, "dilation", 2, args, minimum=1),
        per_axis(p, "padding", 2, args, minimum=0),
        per_axis(s, "stride", 2, args, minimum=1),
    )
    blocks = []
    for j, size in enumerate(sizes):
        extent = kernel_extent(k2[j], d2[j])
        count = window_count(size, p2[j], p2[j], extent, s2[j])
        ctx.at_least(
            count,
            1,
            path,
            j,
            _said(
                f"{layer._where(path)}: a block of {extent} (kernel_size={k2[j]}, dilation={d2[j]}) does not fit in "
                f"size {size} + 2 * padding={p2[j]}: use padding of at least {-(-(extent - size) // 2)} or a smaller "
                f"kernel_size. Received: input_shape={shape}"
            ),
            "size at least 1",
        )
        blocks.append(count)
    return k2, tuple(blocks)


@dataclass(frozen=True, slots=True)
class Fold(Module):
    """``torch.nn.Fold`` spec: ``(N, C * kh * kw, L) -> (N, C, *output_size)``.

    ``L`` must be the number of blocks, ``floor((size + 2p - d(k - 1) - 1) / s) + 1``
    per axis, multiplied.

    >>> import convcalc
    >>> convcalc.plan(Fold((4, 5), 2), (1, 12, 12)).output_shape
    (1, 3, 4, 5)
    """

    output_size: Any
    kernel_size: Any
    dilation: Any = 1
    padding: Any = 0
    stride: Any = 1

    def __post_init__(self) -> None:
        args = _args(self)
        per_axis(self.output_size, "output_size", 2, args, minimum=1)
        for name, low in (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1)):
            per_axis(getattr(self, name), name, 2, args, minimum=low)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        where = self._where(path)
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{where}: expects a 3-D input (N, C * kh * kw, L) or an unbatched 2-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        size = per_axis(self.output_size, "output_size", 2, _args(self), minimum=1)
        k, blocks = _fold_blocks(
            self, size, self.kernel_size, self.dilation, self.padding, self.stride, ctx, path, shape
        )
        area = k[0] * k[1]
        c = shape[-2]
        if type(c) is int and c % area:
            raise ShapeError(
                f"{where}: {c} input channels are not divisible by kernel_size {k[0]} x {k[1]} = {area}: use "
                f"C * {area} channels. Received: input_shape={shape}"
            )
        ctx.divides(c, area, path, len(shape) - 4, lambda: f"{where}: channels. Received: input_shape={shape}", "")
        ctx.equals(
            shape[-1],
            blocks[0] * blocks[1],
            path,
            len(shape) - 3,
            lambda: (
                f"{where}: output_size={tuple(size)} holds {blocks[0]} x {blocks[1]} = {blocks[0] * blocks[1]} blocks "
                f"but the input has L={shape[-1]}: use an input with L={blocks[0] * blocks[1]}, or an output_size "
                f"with {shape[-1]} blocks. Received: input_shape={shape}"
            ),
            f"L={blocks[0] * blocks[1]}",
        )
        out_shape = (*shape[:-2], c // area, *size)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Unfold(Module):
    """``torch.nn.Unfold`` spec: ``(N, C, H, W) -> (N, C * kh * kw, L)``, ``L`` the number of blocks.

    >>> import convcalc
    >>> convcalc.plan(Unfold(3, padding=1), (1, 2, 8, 8)).output_shape
    (1, 18, 64)
    """

    kernel_size: Any
    dilation: Any = 1
    padding: Any = 0
    stride: Any = 1

    def __post_init__(self) -> None:
        args = _args(self)
        for name, low in (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1)):
            per_axis(getattr(self, name), name, 2, args, minimum=low)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        if len(shape) not in (3, 4):
            raise ShapeError(
                f"{self._where(path)}: expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        k, blocks = _fold_blocks(
            self, shape[-2:], self.kernel_size, self.dilation, self.padding, self.stride, ctx, path, shape
        )
        out_shape = (*shape[:-3], shape[-3] * k[0] * k[1], product(blocks))
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


# --------------------------------------------------------------------------- #
# Containers
# --------------------------------------------------------------------------- #


class _Container(Module):
    __slots__ = ("_items",)
    _items: tuple[tuple[str, Module], ...]

    def __init__(self, *modules: Any) -> None:
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            items = tuple((str(k), v) for k, v in modules[0].items())
        else:
            items = tuple((str(i), m) for i, m in enumerate(modules))
        for name, m in items:
            if not isinstance(m, Module):
                raise SpecError(
                    f"{type(self).__name__} takes convcalc.nn layers; item {name!r} is {type(m).__name__}. "
                    f"Received: {name}={m!r}"
                )
            if not name or "." in name:
                raise SpecError(f"layer names must be non-empty and without dots. Received: name={name!r}")
        object.__setattr__(self, "_items", items)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (OrderedDict(self._items),))

    def children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._items)

    def __iter__(self) -> Iterator[Module]:
        return (m for _, m in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, slice):
            return type(self)(OrderedDict(self._items[key]))
        if isinstance(key, str):
            for name, m in self._items:
                if name == key:
                    return m
        elif type(key) is int and -len(self._items) <= key < len(self._items):
            return self._items[key][1]
        names = ", ".join(name for name, _ in self._items[:10])
        raise SpecError(
            f"{type(self).__name__} has {len(self._items)} layers ({names}); no layer {key!r}. Received: key={key!r}"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Container) and type(other) is type(self) and other._items == self._items

    def __hash__(self) -> int:
        return hash((type(self), self._items))

    def _inner_repr(self) -> str:
        named = any(name != str(i) for i, (name, _) in enumerate(self._items))
        lines = [f"({name}): {m!r}" if named else repr(m) for name, m in self._items]
        body = ",\n".join("  " + line.replace("\n", "\n  ") for line in lines)
        return f"\n{body}\n" if lines else ""


def _child_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Sequential(_Container):
    """``torch.nn.Sequential`` spec: layers applied in order (positional, or an OrderedDict of names).

    >>> import convcalc
    >>> net = Sequential(Conv2d(1, 32, 3, padding="same"), ReLU(), MaxPool2d(2))
    >>> [r.name for r in convcalc.plan(net, (1, 1, 28, 28)).rows]
    ['0', '1', '2']
    """

    __slots__ = ()

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        for name, m in self._items:
            flow = m._plan(flow, ctx, _child_path(path, name))
        if path:
            ctx.close_group(slot, start, path, self.kind, flow[0])
        return flow

    def __repr__(self) -> str:
        return f"Sequential({self._inner_repr()})"


class Add(_Container):
    """Residual sum: every branch is applied to the same input and the outputs are added.

    Use ``Identity()`` for the skip branch. Shapes must be equal (no broadcasting).

    >>> import convcalc
    >>> block = Add(Sequential(Conv2d(64, 64, 3, padding=1), ReLU()), Identity())
    >>> convcalc.plan(block, (1, 64, 56, 56)).output_shape
    (1, 64, 56, 56)
    >>> convcalc.plan(Add(Conv2d(64, 128, 3, stride=2, padding=1), Identity()), (1, 64, 56, 56))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (Add): branch 1 gives 1 x 64 x 56 x 56 but branch 0 gives 1 x 128 x 28 x 28: the channels differ (64 vs 128) and the sizes differ (56 x 56 vs 28 x 28); give branch 1 a projection such as Conv2d(64, 128, kernel_size=1, stride=2). Received: input_shape=(1, 64, 56, 56)
    """

    __slots__ = ()

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        if not self._items:
            raise SpecError(f"{self._where(path)}: Add needs at least one branch. Received: branches=()")
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        outs = [m._plan(flow, ctx, _child_path(path, name)) for name, m in self._items]
        first_shape = outs[0][0]
        for (name, _), (shape, _) in zip(self._items[1:], outs[1:], strict=True):
            if tuple(shape) != tuple(first_shape):
                if len(shape) != len(first_shape) or shape[:2] != first_shape[:2]:
                    raise ShapeError(_add_mismatch(self, path, name, shape, first_shape, flow[0]))
                for j, (a, b) in enumerate(zip(shape, first_shape, strict=True)):
                    if j >= 2 and a != b:  # symbolic sizes that differ in form: equal for some inputs only
                        ctx.equals(
                            a - b,
                            0,
                            path,
                            j - 2,
                            lambda: _add_mismatch(self, path, name, shape, first_shape, flow[0]),
                            f"branch {name} matches branch {self._items[0][0]}",
                        )
        out_shape = first_shape
        rf = merge_rf([o[1] for o in outs])
        ctx.add_row(path, self.kind, flow[0], out_shape, receptive_field=rf)
        if path:
            ctx.close_group(slot, start, path, self.kind, out_shape)
        return out_shape, rf

    def __repr__(self) -> str:
        return f"Add({self._inner_repr()})"


def _add_mismatch(
    layer: Module, path: str, name: str, shape: tuple[Any, ...], first: tuple[Any, ...], given: tuple[Any, ...]
) -> str:
    parts = []
    fix = ""
    if len(shape) == len(first) and len(shape) >= 2:
        if shape[1] != first[1]:
            parts.append(f"the channels differ ({shape[1]} vs {first[1]})")
        if shape[2:] != first[2:]:
            parts.append(f"the sizes differ ({_fmt(shape[2:])} vs {_fmt(first[2:])})")
        stride = None
        if shape[2:] != first[2:] and all(
            type(a) is int and type(b) is int and b and a % b == 0 for a, b in zip(shape[2:], first[2:], strict=True)
        ):
            ratios = {a // b for a, b in zip(shape[2:], first[2:], strict=True)}
            stride = ratios.pop() if len(ratios) == 1 else None
        if len(shape) == 4:
            fix = (
                f"; give branch {name} a projection such as Conv2d({shape[1]}, {first[1]}, kernel_size=1"
                f"{f', stride={stride}' if stride and stride > 1 else ''})"
            )
    detail = " and ".join(parts) or "the ranks differ"
    return (
        f"{layer._where(path)}: branch {name} gives {_fmt(shape)} but branch 0 gives {_fmt(first)}: "
        f"{detail}{fix}. Received: input_shape={given}"
    )


_merge_rf = merge_rf  # the ONNX reader merges branches with the same rule


class Concat(_Container):
    """Concatenation along ``dim`` (channels by default) of branches applied to the same input.

    ``crop=True`` centre-crops every branch to the smallest spatial size first, as the
    2015 U-Net does with its skip connections.

    >>> import convcalc
    >>> block = Concat(Conv2d(192, 64, 1), Conv2d(192, 32, 3, padding=1))
    >>> convcalc.plan(block, (1, 192, 28, 28)).output_shape
    (1, 96, 28, 28)
    """

    __slots__ = ("crop", "dim")
    crop: bool
    dim: int

    def __init__(self, *branches: Any, dim: int = 1, crop: bool = False) -> None:
        super().__init__(*branches)
        whole(dim, "dim")
        if type(crop) is not bool:
            raise SpecError(f"crop must be True or False. Received: crop={crop!r}")
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "crop", crop)

    def __reduce__(self) -> tuple[Any, ...]:
        import functools

        return (functools.partial(Concat, dim=self.dim, crop=self.crop), (OrderedDict(self._items),))

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and (self.dim, self.crop) == (other.dim, other.crop)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.dim, self.crop))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        if not self._items:
            raise SpecError(f"{self._where(path)}: Concat needs at least one branch. Received: branches=()")
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        outs = [m._plan(flow, ctx, _child_path(path, name)) for name, m in self._items]
        shapes = [tuple(o[0]) for o in outs]
        rank = len(shapes[0])
        dim = _dim_index(self.dim, rank, "dim", self, path, shapes[0])
        if self.crop:
            shapes = self._cropped(shapes, dim, ctx, path)
        for (name, _), shape in zip(self._items[1:], shapes[1:], strict=True):
            others = [d for j, d in enumerate(shape) if j != dim]
            ref = [d for j, d in enumerate(shapes[0]) if j != dim]
            if len(shape) != rank or others != ref:
                hint = " (or crop=True to centre-crop to the smallest)" if not self.crop else ""
                raise ShapeError(
                    f"{self._where(path)}: branch {name} gives {_fmt(shape)} but branch 0 gives {_fmt(shapes[0])}; "
                    f"all dims except dim={self.dim} must match{hint}. Received: input_shape={flow[0]}"
                )
        total: Any = 0
        for shape in shapes:
            total = total + shape[dim]
        out_shape = (*shapes[0][:dim], total, *shapes[0][dim + 1 :])
        # channels joined side by side keep their receptive fields; a crop or another dim does not
        rf = merge_rf([o[1] for o in outs]) if dim == 1 and not self.crop else None
        ctx.add_row(path, self.kind, flow[0], out_shape, receptive_field=rf)
        if path:
            ctx.close_group(slot, start, path, self.kind, out_shape)
        return out_shape, rf

    def _cropped(self, shapes: list[tuple[Any, ...]], dim: int, ctx: Context, path: str) -> list[tuple[Any, ...]]:
        rank = len(shapes[0])
        result = [list(s) for s in shapes]
        for j in range(2, rank):
            if j == dim:
                continue
            sizes = [s[j] for s in shapes]
            smallest = sizes[0]
            for v in sizes[1:]:
                smaller = v < smallest
                if smaller is True or smaller is not False:
                    smallest = v
            for b, v in enumerate(sizes):
                ctx.at_least(
                    v - smallest,
                    0,
                    path,
                    j - 2,
                    lambda: (
                        f"{self._where(path)}: branch sizes {sizes} cannot all be cropped to {smallest}. "
                        f"Received: input_shape={shapes[0]}"
                    ),
                    "crop source at least the target",
                )
                result[b][j] = smallest
        return [tuple(r) for r in result]

    def __repr__(self) -> str:
        extra = []
        if self.dim != 1:
            extra.append(f"dim={self.dim}")
        if self.crop:
            extra.append("crop=True")
        tail = (", " + ", ".join(extra)) if extra else ""
        return f"Concat({self._inner_repr()}{tail})"
