"""Convolutions and transposed convolutions (torch.nn's Conv*d, LazyConv2d, ConvTranspose*d)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._enums import PaddingMode, PadMode
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import rf_update
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.formulas import (
    exact_sizes,
    kernel_extent,
    torch_output_padding_rule,
    torch_same_rule,
    transpose_count,
    window_count,
)
from convcalc.nn._base import Module, _args, _axis_label, _channel_check, _nonempty_check, _sample_axes
from convcalc.nn.shape import plan_padding
from convcalc.params import (
    conv_params,
    conv_transpose_params,
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
        nd = self._ndim
        if len(shape) != nd + 2:
            rf = _sample_axes(ctx, self, shape, rf, nd, path)
        if shape[-nd - 1] != self.in_channels:
            _channel_check(self, shape, self.in_channels, "in_channels", path, len(shape) - nd - 1)
        _nonempty_check(self, ctx, shape, nd, path)
        if self._fill is not None:
            pads = tuple(v for _, pl, pr, _ in reversed(self._geometry) for v in (pl, pr))
            plan_padding(ctx, self._where(path), path, shape, pads, self._fill)
        spatial = []
        for j, (i, (s, pl, pr, extent)) in enumerate(zip(shape[-nd:], self._geometry, strict=True)):
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
            spatial.append(window_count(i, pl, pr, extent, s))
        out_shape = (*shape[: -nd - 1], self.out_channels, *spatial)
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
            batch=None if len(shape) == nd + 2 else 1,
        )
        return out_shape, new_rf


def _conv_too_small(layer: Module, path: str, shape: Shape, axis: int, i: Any, pl: int, pr: int, extent: int) -> str:
    return (
        f"{layer._where(path)}: the kernel spans {extent} but the padded input is {i} + {pl + pr} = {i + pl + pr} "
        f"on spatial axis {axis}; the input to this layer must be at least {extent - pl - pr} there. "
        f"Received: input_shape={shape}"
    )


def _not_exact(layer: Module, path: str, shape: Shape, axis: int, i: Any, pad: int, extent: int, s: int) -> str:
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
        if len(shape) != 4:
            _sample_axes(ctx, self, shape, None, 2, path)
        cin = shape[-3]
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
        nd = self._ndim
        _sample_axes(ctx, self, shape, None, nd, path)
        _channel_check(self, shape, self.in_channels, "in_channels", path, len(shape) - nd - 1)
        _nonempty_check(self, ctx, shape, nd, path)
        spatial = []
        for j, (i, k, s, p, op, d) in enumerate(
            zip(shape[-nd:], self._k, self._s, self._p, self._op, self._d, strict=True)
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
        out_shape = (*shape[: -nd - 1], self.out_channels, *spatial)
        weights = conv_transpose_params(
            self.in_channels, self.out_channels, self._k, groups=self.groups, bias=False, ndim=self._ndim
        )
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=weights + (self.out_channels if self.bias else 0),
            macs=product(shape[-nd:]) * weights,
            bias_adds=product(spatial) * self.out_channels if self.bias else 0,
            batch=None if len(shape) == nd + 2 else 1,
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
