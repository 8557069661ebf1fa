"""Flatten, Unflatten, Linear, ChannelShuffle, the padding layers and Upsample."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, received, upsample_arguments, whole
from convcalc._enums import PadMode
from convcalc._errors import ShapeError, SpecError
from convcalc._pad_rules import circular_copy_fails, pad_requirements
from convcalc._plan import ReceptiveField
from convcalc._planner import Context, Flow
from convcalc._symbolic import FloorForm, product
from convcalc._types import Shape
from convcalc.nn._base import Module, _args, _fmt
from convcalc.params import (
    linear_params,
)

# --------------------------------------------------------------------------- #
# Reshaping, linear, padding, upsampling
# --------------------------------------------------------------------------- #


def _dim_index(dim: int, rank: int, name: str, layer: Module, path: str, shape: Shape) -> int:
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

            try:  # (factored where that keeps it a size: sympy's factor may pull a Min's terms apart)
                merged = as_integer_expr(sympy().factor(merged))
            except ValueError:
                try:
                    merged = as_integer_expr(merged)
                except ValueError:
                    raise SpecError(
                        f"{self._where(path)}: convcalc cannot keep the merged size {merged} as a size of the "
                        f"symbols; plan with numbers for them. Received: input_shape={shape}"
                    ) from None
        out_shape = (*shape[:a], merged, *shape[b + 1 :])
        ctx.add_row(path, self.kind, shape, out_shape)
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
class ChannelShuffle(Module):
    """``torch.nn.ChannelShuffle`` spec: regroups the channels (axis 1) of an input of 3 or more dims, whose
    number must divide into ``groups``; the shape is kept.

    >>> import convcalc
    >>> convcalc.plan(ChannelShuffle(2), (1, 6, 4, 4)).output_shape
    (1, 6, 4, 4)
    >>> convcalc.plan(ChannelShuffle(4), (1, 6, 4, 4))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (ChannelShuffle): the input's 6 channels do not divide into groups=4: use groups=1, 2, 3 or 6. Received: input_shape=(1, 6, 4, 4)
    """

    groups: int

    def __post_init__(self) -> None:
        whole(self.groups, "groups", minimum=1)  # torch refuses groups < 1 when called

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) < 3:
            raise ShapeError(
                f"{self._where(path)}: expects an input of 3 or more dims (N, C, *), but receives {len(shape)}-D "
                f"{shape}. Received: input_shape={shape}"
            )
        channels, g = shape[1], self.groups

        def message() -> str:
            fits = [str(d) for d in range(1, channels + 1) if channels % d == 0] if type(channels) is int else []
            use = f"use groups={', '.join(fits[:-1])} or {fits[-1]}" if len(fits) > 1 else "use groups=1"
            return (
                f"{self._where(path)}: the input's {channels} channel{' does' if channels == 1 else 's do'} not "
                f"divide into groups={g}: {use}. "
                f"Received: input_shape={shape}"
            )

        if type(channels) is int:
            if channels % g:
                raise ShapeError(message())
        else:
            ctx.divides(channels, g, path, 1, message, f"groups={g} divides the channels")
        ctx.add_row(path, self.kind, shape, shape, receptive_field=rf)
        return flow


@dataclass(frozen=True, slots=True)
class Linear(Module):
    """``torch.nn.Linear`` spec: acts on the last dimension.

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(2048, 256))
    >>> convcalc.plan(net, (1, 128, 6, 6))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: 1 (Linear): Linear(in_features=2048) receives 4608 features (Flatten of 128 x 6 x 6 = 4608): use in_features=4608, or make the feature map 4 x 4 before Flatten (128 * 4 * 4 = 2048), e.g. with AdaptiveAvgPool2d((4, 4)). Received: input_shape=(1, 4608)
    """

    in_features: int
    out_features: int
    bias: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        whole(self.in_features, "in_features", minimum=1)
        whole(self.out_features, "out_features", minimum=1)
        flag(self.bias, "bias", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if not shape:
            raise ShapeError(
                f"{self._where(path)}: Linear takes features on a last axis, but its input is 0-D (torch: both "
                f"arguments to linear need to be at least 1D). Received: input_shape=()"
            )
        ctx.equals(
            shape[-1],
            self.in_features,
            path,
            len(shape) - 1,
            lambda: _linear_mismatch(self, path, shape, ctx),
            f"in_features={self.in_features}",
        )
        weights = linear_params(self.in_features, self.out_features, bias=self.bias)
        return _linear_row(ctx, path, self.kind, shape, self.in_features, self.out_features, self.bias, weights)


def _linear_row(ctx: Context, path: str, kind: str, shape: Shape, fin: Any, fout: int, bias: bool, params: Any) -> Flow:
    """The row of a Linear layer of ``fin`` -> ``fout`` features on the last axis of ``shape``."""
    out_shape = (*shape[:-1], fout)
    rows = product(shape[1:-1])  # per element of the first axis; a 1-D (unbatched) input is one row
    if len(shape) == 1:
        ctx.samples(shape, 1)
    ctx.add_row(
        path,
        kind,
        shape,
        out_shape,
        trainable=params,
        macs=rows * fin * fout,
        bias_adds=rows * fout if bias else 0,
        batch=1 if len(shape) == 1 else None,
    )
    return out_shape, None


#: the kinds of row that merge axes: ``nn.Flatten``, ``torch.flatten``, and a view or reshape (to (batch, features)
#: only: a view that keeps more axes is no flatten a message would name)
_FLATTENS = frozenset({"Flatten", "flatten"})
_VIEWS = frozenset({"view", "reshape"})


def _last_flatten(rows: list[Any]) -> tuple[Shape, Any] | None:
    """The sizes the plan's last flatten merged and the size it made, read from its row (the rows are the plan's
    record: no spec leaves state for another), or None where no row so far flattens."""
    for row in reversed(rows):
        a, b = row.input_shape, row.output_shape
        if row.kind in _VIEWS:
            if len(b) == 2 and len(a) > 2 and a[0] == b[0]:
                return tuple(a[1:]), b[1]
        elif row.kind in _FLATTENS and b:
            k = len(a) - len(b) + 1  # the number of axes merged into one
            # the merged run starts where the axes before it and after it are the input's own (the latest such
            # start: Flatten of (N, C) to (N, C) merged C alone)
            for start in range(len(b) - 1, -1, -1):
                if a[:start] == b[:start] and a[start + k :] == b[start + 1 :]:
                    return tuple(a[start : start + k]), b[start]
    return None


def _linear_mismatch(layer: Linear, path: str, shape: Shape, ctx: Context) -> str:
    got = shape[-1]
    head = f"{layer._where(path)}: Linear(in_features={layer.in_features}) receives {got} features"
    source = _last_flatten(ctx.rows)
    fix = (
        f"use in_features={got}"
        if type(got) is int
        else f"no input size makes that {layer.in_features}: give in_features the count at the input size you "
        f"use (a plan with numbers shows it)"
    )
    # the last flatten of the plan explains the count only where it made it: a later Linear given another
    # Linear's features is not told of a Flatten whose product is something else
    if source is not None and len(shape) == 2 and source[1] == got:
        dims = source[0]
        head += f" (Flatten of {_fmt(dims)} = {got})"
        if len(dims) >= 2 and all(type(d) is int for d in dims) and layer.in_features % dims[0] == 0:
            per_channel = layer.in_features // dims[0]
            spatial = len(dims) - 1
            side = round(per_channel ** (1 / spatial))
            if side**spatial == per_channel:
                target = " x ".join([str(side)] * spatial)
                sides = ", ".join([str(side)] * spatial)
                pool = f"AdaptiveAvgPool{spatial}d({f'({sides})' if spatial > 1 else sides})"
                made = " * ".join([str(dims[0])] + [str(side)] * spatial)
                fix += (
                    f", or make the feature map {target} before Flatten ({made} = {layer.in_features}), "
                    f"e.g. with {pool}"
                )
    if len(shape) >= 3 and all(type(d) is int for d in shape[1:]):
        # a Linear takes the last axis: a feature map given to it whole is a Flatten forgotten
        flat = math.prod(shape[1:])
        if flat == layer.in_features:
            fix = f"flatten its input first (nn.Flatten() makes the {_fmt(shape[1:])} = {flat} features it takes)"
        elif len(shape) >= 4:
            fix += f", or flatten the feature map first (nn.Flatten() makes {_fmt(shape[1:])} = {flat} features)"
    return f"{head}: {fix}. Received: input_shape={shape}"


@dataclass(frozen=True, slots=True)
class LazyLinear(Module):
    """``torch.nn.LazyLinear``: ``in_features`` is taken from the input when planned."""

    out_features: int
    bias: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        whole(self.out_features, "out_features", minimum=1)
        flag(self.bias, "bias", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        if not shape:
            raise ShapeError(f"{self._where(path)}: LazyLinear takes features on a last axis. Received: input_shape=()")
        fin = shape[-1]
        if type(fin) is int:
            weights = linear_params(fin, self.out_features, bias=self.bias)
        else:  # in_features taken from a symbolic size
            fin = fin.to_sympy() if isinstance(fin, FloorForm) else fin
            weights = fin * self.out_features + (self.out_features if self.bias else 0)
        return _linear_row(ctx, path, self.kind, shape, fin, self.out_features, self.bias, weights)


def plan_padding(
    ctx: Context, where: str, path: str, shape: Shape, pads: tuple[Any, ...], mode: PadMode
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


def _one_dim_left(ctx: Context, where: str, path: str, shape: Shape, outs: list[Any], first: int) -> None:
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
    convcalc.ShapeError: <model> (ReflectionPad2d): reflect padding (2, 2) must be less than the input size 2 (torch: Padding size should be less than the corresponding input dimension) on dim 2. The smallest network input that fits every layer: input_shape=(1, 3, 3, 4). Received: input_shape=(1, 3, 2, 4)
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
    """``torch.nn.Upsample`` spec: ``size`` or ``scale_factor`` (floor of the double product).
    ``recompute_scale_factor`` changes the scale torch interpolates with, not the output's size."""

    size: Any = None
    scale_factor: Any = None
    mode: str = "nearest"
    align_corners: bool | None = None
    recompute_scale_factor: bool | None = field(default=None, kw_only=True)  # (named where given, as in torch)

    def __post_init__(self) -> None:
        args = _args(self)
        if (self.size is None) == (self.scale_factor is None):
            raise SpecError(f"give exactly one of size and scale_factor. {received(args)}")
        if self.recompute_scale_factor is not None:
            flag(self.recompute_scale_factor, "recompute_scale_factor", args)
        upsample_arguments(self.mode, self.align_corners, args)
        if self.recompute_scale_factor and self.size is not None:  # torch: ... is not meaningful with an explicit size
            raise SpecError(
                "recompute_scale_factor=True recomputes the scale from a scale_factor, and torch refuses it with an "
                f"explicit size: leave it None or False, or give scale_factor. {received(args)}"
            )

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        from convcalc.formulas import upsample_output_size

        shape, _ = flow
        wrong = upsample_rank_error(self.mode, len(shape))
        if wrong:
            raise ShapeError(f"{self._where(path)}: {wrong}. Received: input_shape={shape}")
        spatial = shape[2:]
        nd = len(spatial)
        value = self.size if self.size is not None else self.scale_factor
        per = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
        if len(per) != nd:
            raise ShapeError(
                f"{self._where(path)}: {nd} spatial dims but {len(per)} values given. Received: input_shape={shape}"
            )
        mode = self.mode
        try:
            if self.size is not None:
                out = tuple(
                    upsample_output_size(_sym(i), output_size=_sym(v), mode=mode)
                    for i, v in zip(spatial, per, strict=True)
                )
            else:
                out = tuple(
                    upsample_output_size(_sym(i), scale_factor=v, mode=mode) for i, v in zip(spatial, per, strict=True)
                )
        except (ShapeError, SpecError) as exc:
            raise type(exc)(f"{self._where(path)}: {exc}") from None
        for j, i in enumerate(spatial):  # torch interpolates no empty axis, in any mode (area's pool refuses one too)
            ctx.at_least(
                i,
                1,
                path,
                j,
                lambda: (
                    f"{self._where(path)}: the input's spatial sizes must be at least 1 (torch: Input and output "
                    f"sizes should be greater than 0). Received: input_shape={shape}"
                ),
                "interpolated input not empty",
            )
        out = tuple(_unsym(v) for v in out)
        for j, v in enumerate(out):
            # a fractional factor of a symbol: torch needs an output of 1 or more, but in mode "area", an adaptive
            # average pool, which gives an empty axis
            if type(v) is not int and mode != "area":
                ctx.at_least(v, 1, path, j, _said_too_small(self, path, shape, j, v), "upsampled size at least 1")
        out_shape = (shape[0], shape[1], *out)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


_UPSAMPLE_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_ANTIALIASED_MODES = ("bilinear", "bicubic")  # of 4-D inputs


def upsample_antialias_error(mode: str, rank: int) -> str:
    """What is wrong with ``antialias=True`` in ``F.interpolate`` in ``mode`` on an input of ``rank`` dims, or ``""``:
    torch antialiases bilinear and bicubic interpolation of 4-D inputs only, and raises ValueError otherwise."""
    if mode in _ANTIALIASED_MODES and rank == 4:
        return ""
    return (
        f"antialias=True is taken by mode {' or '.join(map(repr, _ANTIALIASED_MODES))} of a 4-D input only; torch "
        f"refuses it with mode={mode!r} on a {rank}-D input: use one of those modes, or antialias=False"
    )


def upsample_rank_error(mode: str, rank: int) -> str:
    """What is wrong with an input of ``rank`` dims for torch's interpolation in ``mode`` (3-D to 5-D inputs, one
    rank for the linear modes), or ``""``."""
    need = _UPSAMPLE_RANKS.get(mode)
    if 3 <= rank <= 5 and need in (None, rank):
        return ""
    return f"mode={mode!r} needs {f'{need}-D' if need else '3-D to 5-D'} input, got {rank}-D"


def _said_too_small(layer: Module, path: str, shape: Shape, j: int, v: Any) -> Callable[[], str]:
    return lambda: (
        f"{layer._where(path)}: output size would be {v} on spatial axis {j}; torch needs at least 1. "
        f"Received: input_shape={shape}"
    )


def _sym(value: Any) -> Any:
    return value.to_sympy() if isinstance(value, FloorForm) else value


def _unsym(value: Any) -> Any:
    from convcalc._backend import is_symbolic

    if is_symbolic(value):
        from convcalc._symbolic import as_integer_expr

        return as_integer_expr(value)
    return value
