"""Pooling and adaptive pooling (torch.nn's MaxPool*d, AvgPool*d, LPPool*d, Adaptive*Pool*d)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole, whole_or_size
from convcalc._enums import PoolKind
from convcalc._errors import SpecError, said
from convcalc._plan import rf_update
from convcalc._planner import Context, Flow
from convcalc._types import Shape
from convcalc.formulas import (
    ceil_window_count,
    kernel_extent,
    pool_min_input,
    torch_pool_padding_rule,
    window_count,
)
from convcalc.nn._base import Module, _args, _axis_label, _nonempty_check, _rank_error, _sample_axes, _sample_field
from convcalc.nn.conv import _conv_too_small, _not_exact

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

    def _setup(self, dilation: Any, ceil_mode: Any) -> tuple[int, ...]:
        """Check and keep the window's arguments; the dilation per axis (1 where the pool has none) back."""
        args = _args(self)
        nd = self._ndim
        if isinstance(self.padding, str):
            raise SpecError(f"torch pooling takes a numeric padding, not {self.padding!r}. {received(args)}")
        k, s = _window(self, args)
        p = per_axis(self.padding, "padding", nd, args, minimum=0)
        d = (1,) * nd if dilation is None else per_axis(dilation, "dilation", nd, args, minimum=1)
        flag(ceil_mode, "ceil_mode", args)
        for j, (pp, kk) in enumerate(zip(p, k, strict=True)):
            torch_pool_padding_rule(kk, pp, args, _axis_label(j, self.padding, self.kernel_size))
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_p", p)
        return d


def _window(layer: Any, args: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A pool's kernel size and stride per axis, the stride defaulting to the kernel size as in torch."""
    nd = layer._ndim
    k = per_axis(layer.kernel_size, "kernel_size", nd, args, minimum=1)
    return k, k if layer.stride is None else per_axis(layer.stride, "stride", nd, args, minimum=1)


@dataclass(frozen=True, slots=True)
class _MaxPoolNd(_PoolNd):
    dilation: Any = 1
    return_indices: bool = False
    ceil_mode: bool = False
    _dil: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dil", self._setup(self.dilation, self.ceil_mode))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return _pool(self, flow, ctx, path, self._dil, self.ceil_mode)


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
        self._setup(None, self.ceil_mode)
        flag(self.count_include_pad, "count_include_pad", _args(self))
        divisor = getattr(self, "divisor_override", None)
        if divisor is not None and whole(divisor, "divisor_override") == 0:
            # torch's avg_pool2d/3d: "divisor must be not zero" (a negative divisor is allowed)
            raise SpecError(f"divisor_override must not be zero: use None or another int. {received(_args(self))}")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return _pool(self, flow, ctx, path, (1,) * self._ndim, self.ceil_mode)


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
class _LPPoolNd(Module):
    """A power-average pool: torch's ``lp_poolNd`` averages ``x ** norm_type`` with ``avg_poolNd`` (no padding) and
    takes the root, so its shapes and checks are an average pool's with ``padding=0``; no MACs, as pools."""

    norm_type: float
    kernel_size: Any
    stride: Any = None
    ceil_mode: bool = False
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _p: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2
    _kind: ClassVar[PoolKind] = PoolKind.AVG

    def __post_init__(self) -> None:
        args = _args(self)
        if isinstance(self.norm_type, bool) or not isinstance(self.norm_type, (int, float)):
            raise SpecError(f"norm_type must be a number. {received(args)}")
        nd = self._ndim
        if nd == 1 and isinstance(self.kernel_size, (tuple, list)):  # torch's lp_pool1d multiplies by it
            raise SpecError(f"LPPool1d takes an int kernel_size (torch: TypeError in mul()). {received(args)}")
        k, s = _window(self, args)
        flag(self.ceil_mode, "ceil_mode", args)
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_p", (0,) * nd)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return _pool(self, flow, ctx, path, (1,) * self._ndim, self.ceil_mode)


@dataclass(frozen=True, slots=True)
class LPPool1d(_LPPoolNd):
    """``torch.nn.LPPool1d`` spec: ``LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False)``."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class LPPool2d(_LPPoolNd):
    """``torch.nn.LPPool2d`` spec: shaped as ``AvgPool2d(kernel_size, stride, padding=0, ceil_mode)``.

    >>> import convcalc
    >>> convcalc.plan(LPPool2d(2, 3, stride=2), (1, 8, 15, 15)).output_shape
    (1, 8, 7, 7)
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class LPPool3d(_LPPoolNd):
    """``torch.nn.LPPool3d`` spec (torch's avg_pool3d needs input >= kernel on every axis)."""

    _ndim: ClassVar[int] = 3


def _pool(
    self: _PoolNd | _LPPoolNd, flow: Flow, ctx: Context, path: str, dilation: tuple[int, ...], ceil_mode: bool
) -> Flow:
    """A window pool's output, checks and row (max, average and power-average pools alike)."""
    shape, rf = flow
    nd = self._ndim
    rf = _sample_axes(ctx, self, shape, rf, nd, path)
    if any(type(i) is not int or i < 1 for i in shape[-nd:]):  # (a numeric plan's usual sizes: nothing to do)
        # an axis where the padding alone makes a window fit an empty input: torch refuses the empty input there
        # (elsewhere the window's own check below refuses it)
        padded = []
        for j, (k, s, p, d) in enumerate(zip(self._k, self._s, self._p, dilation, strict=True)):
            extent = kernel_extent(k, d)
            if (ceil_window_count(0, p, extent, s) if ceil_mode else window_count(0, p, p, extent, s)) >= 1:
                padded.append(j)
        if padded:
            _nonempty_check(self, ctx, shape, nd, path, "torch's pools take only a zero batch", padded)
    spatial = []
    for j, (i, k, s, p, d) in enumerate(zip(shape[-nd:], self._k, self._s, self._p, dilation, strict=True)):
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
            lambda: _conv_too_small(self, path, shape, j, i, p, p, extent, s if ceil_mode else 0),
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
    out_shape = (*shape[:-nd], *spatial)
    new_rf = rf_update(rf, tuple(kernel_extent(k, d) for k, d in zip(self._k, dilation, strict=True)), self._s, self._p)
    ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
    return out_shape, new_rf


def whole_axes_pool(self: _PoolNd | _LPPoolNd, flow: Flow, ctx: Context, path: str) -> Flow:
    """A pool whose window is each spatial axis whole: kernel and stride the input's own sizes, no padding (a
    global pool written with a window pool, ``F.avg_pool2d(x, x.size()[2:])``). One output per axis, as
    :func:`_pool` gives for any such window, and a receptive field over the whole axis; kept apart from it because
    the sizes may be symbolic, which the window arguments of a layer never are."""
    shape, rf = flow
    nd = self._ndim
    rf = _sample_axes(ctx, self, shape, rf, nd, path)
    sizes = tuple(shape[-nd:])
    out_shape = (*shape[:-nd], *(1,) * nd)
    new_rf = rf_update(rf, sizes, sizes, (0,) * nd)
    ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
    return out_shape, new_rf


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
        if self.output_size is None or (nd == 1 and any(v is None for v in values)):  # torch: TypeError
            kept = "" if nd == 1 else f" (None in a tuple keeps that axis: ({', '.join(['None'] * nd)}))"
            raise SpecError(
                f"output_size must be {'an int' if nd == 1 else f'an int or a tuple of {nd}'}{kept}, as torch's "
                f"{self.kind} takes it. {received(args)}"
            )
        object.__setattr__(self, "_out", tuple(_adaptive_size(v) for v in values))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) not in (self._ndim + 1, self._ndim + 2):
            raise _rank_error(self, shape, self._ndim, path)
        lead = shape[: len(shape) - self._ndim]
        for j, i in enumerate(shape[len(lead) :]):  # torch: Expected input to have non-zero size for non-batch dims
            if type(i) is not int or i < 1:
                ctx.at_least(i, 1, path, j, _said_empty(self, path, shape, j, i), "pooled input not empty")
        spatial = tuple(i if o is None else o for i, o in zip(shape[len(lead) :], self._out, strict=True))
        for j, o in enumerate(spatial):
            if type(o) is not int:  # a size of the input's (``x.shape[2:]`` in a forward planned with symbols)
                message = said(f"{self._where(path)}: output_size[{j}]={o} is below 0. Received: output_size={spatial}")
                ctx.at_least(o, 0, path, j, message, "output_size at least 0")
        out_shape = (*lead, *spatial)
        rf = _adaptive_rf(_sample_field(flow[1], self._ndim), shape[len(lead) :], spatial)
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=rf)
        return out_shape, rf


def _adaptive_rf(rf: Any, sizes: Shape, out: Shape) -> Any:
    """An adaptive pool's receptive field: where each output size divides its input size, torch's windows
    (from floor(i*in/out) to ceil((i+1)*in/out)) are all in/out wide and in/out apart, a pool of that kernel and
    stride (7 x 7 to 7 x 7 keeps the field). Otherwise the windows differ in size: None; and a global pool (every
    output size 1) ends the spatial axes, as a flatten does."""
    if rf is None or all(type(o) is int and o == 1 for o in out):
        return None
    if all(i is o or i == o for i, o in zip(sizes, out, strict=True)):  # the identity (a size of the input's own)
        return rf
    if not all(type(i) is int and type(o) is int and o >= 1 and i % o == 0 for i, o in zip(sizes, out, strict=True)):
        return None
    steps = tuple(i // o for i, o in zip(sizes, out, strict=True))
    return rf_update(rf, steps, steps, (0,) * len(steps))


def _adaptive_size(value: Any) -> Any:
    """One output size of an adaptive pool: None (the input's), an int of at least 0, or a size computed from
    symbolic input sizes (``F.adaptive_avg_pool2d(z, x.shape[2:])``), an integer expression kept as it is."""
    return None if value is None else whole_or_size(value, "output_size", minimum=0)


def _said_empty(layer: Module, path: str, shape: Shape, j: int, i: Any) -> Callable[[], str]:
    return lambda: (
        f"{layer._where(path)}: spatial axis {j} of the input is empty (size {i}); an adaptive pool needs at least "
        f"one value there. Received: input_shape={shape}"
    )


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
