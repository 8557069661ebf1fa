"""Convolutions and transposed convolutions (torch.nn's Conv*d, ConvTranspose*d and their Lazy forms), and the
lazy layer's base: a layer whose channel count is read from its input."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._enums import PaddingMode, PadMode
from convcalc._errors import ConvCalcError, ShapeError, SpecError
from convcalc._plan import Row, rf_update
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
    groups_divide,
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
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
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
        cin = int(whole(self.in_channels, "in_channels", minimum=1))  # (as ints: numpy counts and huge groups)
        cout = int(whole(self.out_channels, "out_channels", minimum=1))
        g = int(whole(self.groups, "groups", minimum=1))
        groups_divide({"in_channels": cin, "out_channels": cout}, g, args)
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
            _channel_check(self, ctx, shape, self.in_channels, "in_channels", path, len(shape) - nd - 1)
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


def _conv_too_small(
    layer: Module, path: str, shape: Shape, axis: int, i: Any, pl: int, pr: int, extent: int, stride: int = 0
) -> str:
    """The window does not fit the padded input. ``stride``: a pool's in ceil_mode, whose one window may run past
    the input's end where it starts inside it (the least input is then ``extent - padding - stride + 1``)."""
    least = max(1, extent - pl - pr - stride + 1) if stride else extent - pl - pr
    ceil = " (ceil_mode keeps a window that starts inside the input and runs past it)" if stride else ""
    return (
        f"{layer._where(path)}: the kernel spans {extent} but the padded input is {i} + {pl + pr} = {i + pl + pr} "
        f"on spatial axis {axis}; the input to this layer must be at least {least} there{ceil}. "
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
class _Lazy(Module):
    """A torch lazy layer: the layer ``_concrete`` with its first argument, the channel count, read from the
    input at plan time where torch's ``initialize_parameters`` reads it (``_channel_axis``). The other arguments
    are the concrete layer's, by name; ``materialize`` builds that layer and the plan is its plan, under the lazy
    layer's name."""

    _concrete: ClassVar[Callable[..., Module]]

    def __post_init__(self) -> None:
        # the arguments are checked as the concrete layer checks them, for a channel count that fits them
        try:
            self.materialize(self._stand_in())
        except SpecError as exc:
            rule = str(exc).partition(" Received: ")[0]
            raise SpecError(f"{rule} {received(_args(self))}") from None

    def _stand_in(self) -> int:
        """A channel count the other arguments allow."""
        return 1

    def _channel_axis(self, ctx: Context, shape: Shape, path: str) -> int:
        """The axis of ``shape`` torch takes the channel count from (its rank checked where torch checks it
        first)."""
        return 1

    def _channel_rule(self, shape: Shape, channels: int) -> str:
        """What torch refuses when it materialises the layer for ``channels`` channels of ``shape``, or ``""``."""
        return ""

    def materialize(self, channels: int) -> Module:
        """The layer torch turns this one into for an input of ``channels`` channels."""
        return self._concrete(channels, **_args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        axis = self._channel_axis(ctx, shape, path)
        if axis >= len(shape):  # no such axis: the layer's own rank check says what it takes
            self._plan_as(self.materialize(self._stand_in()), flow, ctx, path)
            raise ShapeError(
                f"{self._where(path)}: takes its channel count from axis {axis}, which a {len(shape)}-D input "
                f"lacks. Received: input_shape={shape}"
            )
        channels = shape[axis]
        if type(channels) is not int or channels < 1:
            raise ShapeError(
                f"{self._where(path)}: takes its channel count from axis {axis} of the input, which must be a "
                f"number of at least 1 here, not {channels}: give a concrete size there, or use the layer with "
                f"its channels given. Received: input_shape={shape}"
            )
        rule = self._channel_rule(shape, channels)
        if rule:
            raise ShapeError(f"{self._where(path)}: {rule}. Received: input_shape={shape}")
        return self._plan_as(self.materialize(channels), flow, ctx, path)

    def _plan_as(self, layer: Module, flow: Flow, ctx: Context, path: str) -> Flow:
        """``layer``'s plan, its row and its errors under this layer's name."""

        def named(row: Row) -> Row:  # (named by its path, or at the root by its kind)
            return dataclasses.replace(row, kind=self.kind, name=row.name if path else self.kind)

        try:
            with ctx.made_as(named):
                return layer._plan(flow, ctx, path)
        except ConvCalcError as exc:
            renamed = copy.copy(exc)  # (keeps what a ShapeError says about the layer and axis)
            renamed.args = (str(exc).replace(layer._where(path), self._where(path), 1),)
            raise renamed from None


@dataclass(frozen=True, slots=True)
class _LazyConvBase(_Lazy):
    """What the lazy convolutions and transposed convolutions share: torch reads ``in_channels`` from axis 1 of
    a batched input and axis 0 of an unbatched one, and requires it to divide into ``groups``."""

    _ndim: ClassVar[int] = 2

    def _stand_in(self) -> int:
        args = _args(self)
        groups: int = whole(args["groups"], "groups", minimum=1)  # (a field of every subclass)
        out_channels = int(whole(args["out_channels"], "out_channels", minimum=1))
        groups_divide({"out_channels": out_channels}, int(groups), args)  # the one count given
        return groups

    def _channel_axis(self, ctx: Context, shape: Shape, path: str) -> int:
        if len(shape) != self._ndim + 2:
            _sample_axes(ctx, self, shape, None, self._ndim, path)  # (checks the rank)
        return len(shape) - self._ndim - 1

    def _channel_rule(self, shape: Shape, channels: int) -> str:
        groups = self._stand_in()
        if channels % groups:
            return f"{channels} input channels do not divide into groups={groups}"
        return ""


@dataclass(frozen=True, slots=True)
class _LazyConvNd(_LazyConvBase):
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class LazyConv1d(_LazyConvNd):
    """``torch.nn.LazyConv1d``: a :class:`Conv1d` whose ``in_channels`` is taken from the input when planned."""

    _concrete: ClassVar[Callable[..., Module]] = Conv1d
    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class LazyConv2d(_LazyConvNd):
    """``torch.nn.LazyConv2d``: a :class:`Conv2d` whose ``in_channels`` is taken from the input when planned.

    >>> import convcalc
    >>> row = convcalc.plan(LazyConv2d(8, 3), (1, 3, 10, 10)).rows[0]
    >>> row.kind, row.output_shape, row.params
    ('LazyConv2d', (1, 8, 8, 8), 224)
    >>> LazyConv2d(8, 3).materialize(3)
    Conv2d(in_channels=3, out_channels=8, kernel_size=3, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')
    >>> convcalc.plan(LazyConv2d(8, 3, groups=2), (1, 3, 10, 10))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (LazyConv2d): 3 input channels do not divide into groups=2. Received: input_shape=(1, 3, 10, 10)
    """

    _concrete: ClassVar[Callable[..., Module]] = Conv2d
    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class LazyConv3d(_LazyConvNd):
    """``torch.nn.LazyConv3d``: a :class:`Conv3d` whose ``in_channels`` is taken from the input when planned."""

    _concrete: ClassVar[Callable[..., Module]] = Conv3d
    _ndim: ClassVar[int] = 3


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
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _p: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _op: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _d: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        args = _args(self)
        nd = self._ndim
        cin = int(whole(self.in_channels, "in_channels", minimum=1))  # (as ints: numpy counts and huge groups)
        cout = int(whole(self.out_channels, "out_channels", minimum=1))
        g = int(whole(self.groups, "groups", minimum=1))
        groups_divide({"in_channels": cin, "out_channels": cout}, g, args)
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
        _channel_check(self, ctx, shape, self.in_channels, "in_channels", path, len(shape) - nd - 1)
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


@dataclass(frozen=True, slots=True)
class _LazyConvTransposeNd(_LazyConvBase):
    out_channels: int
    kernel_size: Any
    stride: Any = 1
    padding: Any = 0
    output_padding: Any = 0
    groups: int = 1
    bias: bool = True
    dilation: Any = 1
    padding_mode: str = "zeros"
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class LazyConvTranspose1d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose1d``: a :class:`ConvTranspose1d` whose ``in_channels`` is taken from the input
    when planned."""

    _concrete: ClassVar[Callable[..., Module]] = ConvTranspose1d
    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class LazyConvTranspose2d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose2d``: a :class:`ConvTranspose2d` whose ``in_channels`` is taken from the input
    when planned."""

    _concrete: ClassVar[Callable[..., Module]] = ConvTranspose2d
    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class LazyConvTranspose3d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose3d``: a :class:`ConvTranspose3d` whose ``in_channels`` is taken from the input
    when planned."""

    _concrete: ClassVar[Callable[..., Module]] = ConvTranspose3d
    _ndim: ClassVar[int] = 3
