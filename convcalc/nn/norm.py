"""Normalization layers (torch.nn's BatchNorm*d, InstanceNorm*d and their Lazy forms, GroupNorm, LayerNorm,
RMSNorm, LocalResponseNorm, CrossMapLRN2d)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.nn._base import Module, _args, _channel_check
from convcalc.nn.conv import _Lazy
from convcalc.params import (
    ParamCount,
    batchnorm_params,
    groupnorm_params,
    layernorm_params,
)

# --------------------------------------------------------------------------- #
# Normalisation
# --------------------------------------------------------------------------- #


def _values_to_count(sizes: tuple[Any, ...]) -> Any:
    """The number of values a normalisation takes its statistics over, which must not be exactly 1; None where the
    sizes that are numbers decide it already: a product of 2 or more, or of 0 (an empty input, whose statistics
    torch never computes), is never 1 whatever the other sizes (``GroupNorm(1, 64)`` at a symbolic size asks
    nothing of the sizes)."""
    known = 1
    for d in sizes:
        if type(d) is int:
            known *= d
    return None if known != 1 else product(sizes)


def statistics_not_one(
    ctx: Context, values: Any, path: str, axis: int, message: Callable[[], str], reason: str
) -> None:
    """Refuse statistics over exactly one value, as torch does in training (its ``_verify_batch_size`` and
    ``_verify_spatial_size`` test ``size_prods == 1``): an empty input (no value) passes and gives an empty output,
    which a requirement of 2 or more would refuse. For sizes that depend on the input, the condition recorded is
    ``values >= 2`` where ``values`` is at least 1 at every size (a product of the input's sizes), else
    ``(values - 1)**2 >= 1``, the same ``values != 1`` in the one form of condition that keeps 0."""
    from convcalc._backend import decided
    from convcalc._symbolic import FloorForm, to_sympy

    if isinstance(values, FloorForm) and values.is_constant:
        values = values.e
    if type(values) is not int:
        expr = to_sympy(values)
        if not expr.is_number:
            if decided(values >= 1) is True:
                ctx.at_least(values, 2, path, axis, message, reason)
            else:
                ctx.at_least((expr - 1) ** 2, 1, path, axis, message, reason)
            return
        values = int(expr)
    if values == 1:
        raise ShapeError(message(), layer=path, axis=axis)


def _numbers(layer: Any) -> None:
    """``eps`` and ``momentum`` are numbers (a momentum may be None, as an RMSNorm's eps: torch's
    cumulative average, and the dtype's own eps): torch takes a string at construction and fails only when the
    layer runs (``eps: "1e-5"`` in a file)."""
    for name in ("eps", "momentum"):
        if not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if value is None and (name == "momentum" or type(layer).__dataclass_fields__[name].default is None):
            continue
        if type(value) not in (int, float):  # (torch runs an infinite eps too: its outputs are 0)
            raise SpecError(f"{name} must be a number. {received(_args(layer))}")


def _norm_count(layer: _BatchNormNd | _InstanceNormNd) -> ParamCount:
    """Check a batch or instance norm's arguments and count its parameters and buffers (they depend on the
    arguments only: counted once, at construction)."""
    args = _args(layer)
    _numbers(layer)
    c = whole(layer.num_features, "num_features", minimum=1)
    flag(layer.affine, "affine", args)
    flag(layer.track_running_stats, "track_running_stats", args)
    flag(layer.bias, "bias", args)
    count = batchnorm_params(c, affine=layer.affine, track_running_stats=layer.track_running_stats)
    return count._replace(trainable=_without_bias(count.trainable, c, layer.affine, layer.bias))


def _without_bias(trainable: int, channels: int, affine: bool, bias: bool) -> int:
    """An affine norm's parameter count less its bias (``channels`` values) where ``bias=False`` (torch then
    keeps the weight only)."""
    return trainable - channels if affine and not bias else trainable


@dataclass(frozen=True, slots=True)
class _BatchNormNd(Module):
    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    bias: bool = field(default=True, kw_only=True)
    _count: ParamCount = field(init=False, repr=False, compare=False)
    # set by the torch reader for a module in training mode: torch then normalises with the batch's statistics,
    # as it always does without running statistics
    _batch_statistics: bool = field(default=False, init=False, repr=False, compare=False)
    _ranks: ClassVar[tuple[int, ...]] = (4,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_count", _norm_count(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) not in self._ranks:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(
                f"{self._where(path)}: expects {want} input, got {len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        if self.affine or self.track_running_stats:  # else torch holds nothing per channel, and takes any count
            _channel_check(self, ctx, shape, self.num_features, "num_features", path)
        values = _values_to_count((shape[0], *shape[2:]))
        if (self._batch_statistics or not self.track_running_stats) and values is not None:
            statistics_not_one(
                ctx,
                values,
                path,
                0,
                lambda: (
                    f"{self._where(path)}: expects more than 1 value per channel when it normalises with the "
                    f"batch's statistics ({'in training mode' if self._batch_statistics else 'without running statistics'}"
                    f"; torch: ValueError); plan a batch of 2 or more"
                    f"{', or call .eval() on the model first' if self._batch_statistics else ''}. "
                    f"Received: input_shape={shape}"
                ),
                "more than 1 value per channel",
            )
        count = self._count
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


_SAMPLE_DIMS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)"), 3: ("(N, C, D, H, W)", "(C, D, H, W)")}


@dataclass(frozen=True, slots=True)
class _InstanceNormNd(Module):
    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = False
    track_running_stats: bool = False
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    bias: bool = field(default=True, kw_only=True)
    _count: ParamCount = field(init=False, repr=False, compare=False)
    # set by the torch reader for a module in training mode: torch then normalises with each sample's own
    # statistics even where it tracks running ones
    _batch_statistics: bool = field(default=False, init=False, repr=False, compare=False)
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "_count", _norm_count(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        nd = self._ndim
        if len(shape) not in (nd + 1, nd + 2):
            batched, unbatched = _SAMPLE_DIMS[nd]
            raise ShapeError(f"{self._where(path)}: expects {batched} or {unbatched}. Received: input_shape={shape}")
        if self.affine or self.track_running_stats:  # torch checks the channels against its weights and statistics
            _channel_check(self, ctx, shape, self.num_features, "num_features", path, len(shape) - nd - 1)
        if self._batch_statistics or not self.track_running_stats:  # statistics of each sample's own plane
            statistics_not_one(
                ctx,
                product(shape[-nd:]),
                path,
                nd - 1,
                lambda: (
                    f"{self._where(path)}: expects more than 1 spatial element, or none (torch's check when it computes "
                    f"each sample's statistics{' in training mode' if self._batch_statistics else ''}"
                    f"{': call .eval() on the model first' if self._batch_statistics else ''}). "
                    f"Received: input_shape={shape}"
                ),
                "more than 1 spatial element",
            )
        count = self._count
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
class InstanceNorm1d(_InstanceNormNd):
    """``torch.nn.InstanceNorm1d`` spec ((N, C, L) or unbatched (C, L) input; no parameters by default)."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class InstanceNorm2d(_InstanceNormNd):
    """``torch.nn.InstanceNorm2d`` spec ((N, C, H, W) or unbatched (C, H, W) input; no parameters by default).

    >>> import convcalc
    >>> row = convcalc.plan(InstanceNorm2d(8, affine=True, bias=False), (1, 8, 4, 4)).rows[0]
    >>> row.trainable, row.buffers
    (8, 0)
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class InstanceNorm3d(_InstanceNormNd):
    """``torch.nn.InstanceNorm3d`` spec ((N, C, D, H, W) or unbatched (C, D, H, W) input; no parameters by
    default)."""

    _ndim: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class GroupNorm(Module):
    """``torch.nn.GroupNorm`` spec: 2C parameters when affine (C with ``bias=False``)."""

    num_groups: int
    num_channels: int
    eps: float = 1e-5
    affine: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    bias: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        args = _args(self)
        _numbers(self)
        g = whole(self.num_groups, "num_groups", minimum=1)
        c = whole(self.num_channels, "num_channels", minimum=1)
        if c % g:
            raise SpecError(f"num_channels ({c}) must be divisible by num_groups ({g}). {received(args)}")
        flag(self.affine, "affine", args)
        flag(self.bias, "bias", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) < 2:
            raise ShapeError(f"{self._where(path)}: expects (N, C, *). Received: input_shape={shape}")
        _channel_check(self, ctx, shape, self.num_channels, "num_channels", path)
        per_group = self.num_channels // self.num_groups
        values = _values_to_count((shape[0], per_group, *shape[2:]))
        if values is not None:
            statistics_not_one(  # torch checks it in eval mode too (F.group_norm: _verify_batch_size)
                ctx,
                values,
                path,
                0,
                lambda: (
                    f"{self._where(path)}: expects more than 1 value per group, or none: a batch of {shape[0]} with "
                    f"{per_group} channel(s) per group and {product(shape[2:]) if shape[2:] else 1} position(s) gives "
                    f"one (torch: ValueError: Expected more than 1 value per channel when training, in eval mode too); "
                    f"plan a batch of 2 or more, or larger sizes. Received: input_shape={shape}"
                ),
                "more than 1 value per group",
            )
        params = groupnorm_params(self.num_groups, self.num_channels, affine=self.affine)
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            trainable=_without_bias(params, self.num_channels, self.affine, self.bias),
            receptive_field=rf,
        )
        return shape, rf


def _normalized_dims(layer: LayerNorm | RMSNorm) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple of checked sizes."""
    given = layer.normalized_shape
    dims = given if isinstance(given, (tuple, list)) else (given,)
    if not dims:
        raise SpecError(f"normalized_shape must not be empty. {received(_args(layer))}")
    return tuple(whole(d, "normalized_shape", minimum=1) for d in dims)


def _plan_trailing(layer: LayerNorm | RMSNorm, flow: Flow, ctx: Context, path: str, params: int) -> Flow:
    """The row of a norm over the trailing ``normalized_shape`` dims of its input, which must be those sizes."""
    shape, rf = flow
    dims = layer._shape
    tail = tuple(shape[len(shape) - len(dims) :])

    def mismatch() -> str:
        fits = tuple(shape[-len(dims) :])  # as many last dims as normalized_shape has (all, if fewer)
        return (
            f"{layer._where(path)}: normalized_shape={dims} must match the last dims of the input "
            f"{shape}: use normalized_shape={fits}. Received: input_shape={shape}"
        )

    if len(shape) < len(dims) or any(type(a) is int and a != b for a, b in zip(tail, dims, strict=True)):
        raise ShapeError(mismatch())
    first = len(shape) - len(dims)
    for j, (a, b) in enumerate(zip(tail, dims, strict=True)):
        if type(a) is not int:  # a size that depends on the input: it must be this one
            ctx.equals(a - b, 0, path, first + j, mismatch, f"normalized_shape {b}")
    ctx.add_row(path, layer.kind, shape, shape, trainable=params, receptive_field=rf)
    return shape, rf


@dataclass(frozen=True, slots=True)
class LayerNorm(Module):
    """``torch.nn.LayerNorm`` spec: normalises the trailing ``normalized_shape`` dims."""

    normalized_shape: Any
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    _shape: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        args = _args(self)
        _numbers(self)
        object.__setattr__(self, "_shape", _normalized_dims(self))
        flag(self.elementwise_affine, "elementwise_affine", args)
        flag(self.bias, "bias", args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        params = layernorm_params(self._shape, elementwise_affine=self.elementwise_affine, bias=self.bias)
        return _plan_trailing(self, flow, ctx, path, params)


@dataclass(frozen=True, slots=True)
class RMSNorm(Module):
    """``torch.nn.RMSNorm`` spec: scales the trailing ``normalized_shape`` dims; ``prod(normalized_shape)``
    parameters when ``elementwise_affine`` (a weight, no bias).

    >>> import convcalc
    >>> convcalc.plan(RMSNorm((4, 5)), (2, 3, 4, 5)).rows[0].trainable
    20
    """

    normalized_shape: Any
    eps: float | None = None
    elementwise_affine: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    _shape: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _numbers(self)
        object.__setattr__(self, "_shape", _normalized_dims(self))
        flag(self.elementwise_affine, "elementwise_affine", _args(self))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        params = layernorm_params(self._shape, elementwise_affine=self.elementwise_affine, bias=False)
        return _plan_trailing(self, flow, ctx, path, params)


@dataclass(frozen=True, slots=True)
class LocalResponseNorm(Module):
    """``torch.nn.LocalResponseNorm`` spec: normalises across ``size`` neighbouring channels of an input of 3 or
    more dims; no parameters, the shape kept."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0
    _ranks: ClassVar[str] = "3 or more"

    def __post_init__(self) -> None:
        whole(self.size, "size", minimum=1)  # torch: kernel size should be greater than zero, when called

    def _fits(self, rank: int) -> bool:
        return rank >= 3

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if not self._fits(len(shape)):
            raise ShapeError(
                f"{self._where(path)}: expects an input of {self._ranks} dims (N, C, *), but receives "
                f"{len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        ctx.add_row(path, self.kind, shape, shape, receptive_field=rf)
        return flow


@dataclass(frozen=True, slots=True)
class CrossMapLRN2d(LocalResponseNorm):
    """``torch.nn.CrossMapLRN2d`` spec: :class:`LocalResponseNorm` for a 4-D input (N, C, H, W) only."""

    _ranks: ClassVar[str] = "exactly 4"

    def _fits(self, rank: int) -> bool:
        return rank == 4


# --------------------------------------------------------------------------- #
# Lazy normalisation: num_features read from axis 1 of the input, batched or not, as torch's
# _LazyNormBase.initialize_parameters reads it (for an unbatched instance norm that is not the channel axis:
# torch then refuses any input whose channels differ from that size, where it checks them, and so does the plan)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _LazyNormNd(_Lazy):
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)
    bias: bool = field(default=True, kw_only=True)
    # the torch reader's mark of a module in training mode, handed on to the layer it becomes
    _batch_statistics: bool = field(default=False, init=False, repr=False, compare=False)

    def materialize(self, channels: int) -> Module:
        layer = self._concrete(channels, **_args(self))
        object.__setattr__(layer, "_batch_statistics", self._batch_statistics)
        return layer


@dataclass(frozen=True, slots=True)
class _LazyInstanceNormNd(_LazyNormNd):
    _ndim: ClassVar[int] = 2

    def _channel_rule(self, shape: Shape, channels: int) -> str:
        unbatched = len(shape) == self._ndim + 1
        if unbatched and (self.affine or self.track_running_stats) and type(shape[0]) is int and shape[0] != channels:
            return (
                f"torch reads num_features from axis 1 even of an unbatched input, so it takes {channels} here, but "
                f"the input has {shape[0]} channels on axis 0 (torch raises when it checks them): give the input a "
                f"batch axis, {(1, *shape)}, or use InstanceNorm{self._ndim}d({shape[0]})"
            )
        return ""


@dataclass(frozen=True, slots=True)
class LazyBatchNorm1d(_LazyNormNd):
    """``torch.nn.LazyBatchNorm1d``: a :class:`BatchNorm1d` whose ``num_features`` is the input's axis 1."""

    _concrete: ClassVar[Callable[..., Module]] = BatchNorm1d


@dataclass(frozen=True, slots=True)
class LazyBatchNorm2d(_LazyNormNd):
    """``torch.nn.LazyBatchNorm2d``: a :class:`BatchNorm2d` whose ``num_features`` is the input's axis 1.

    >>> import convcalc
    >>> row = convcalc.plan(LazyBatchNorm2d(), (2, 16, 8, 8)).rows[0]
    >>> row.kind, row.trainable, row.buffers
    ('LazyBatchNorm2d', 32, 33)
    """

    _concrete: ClassVar[Callable[..., Module]] = BatchNorm2d


@dataclass(frozen=True, slots=True)
class LazyBatchNorm3d(_LazyNormNd):
    """``torch.nn.LazyBatchNorm3d``: a :class:`BatchNorm3d` whose ``num_features`` is the input's axis 1."""

    _concrete: ClassVar[Callable[..., Module]] = BatchNorm3d


@dataclass(frozen=True, slots=True)
class LazyInstanceNorm1d(_LazyInstanceNormNd):
    """``torch.nn.LazyInstanceNorm1d``: an :class:`InstanceNorm1d` whose ``num_features`` is the input's axis 1
    (torch's defaults here: ``affine=True``, ``track_running_stats=True``)."""

    _concrete: ClassVar[Callable[..., Module]] = InstanceNorm1d
    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class LazyInstanceNorm2d(_LazyInstanceNormNd):
    """``torch.nn.LazyInstanceNorm2d``: an :class:`InstanceNorm2d` whose ``num_features`` is the input's axis 1
    (torch's defaults here: ``affine=True``, ``track_running_stats=True``)."""

    _concrete: ClassVar[Callable[..., Module]] = InstanceNorm2d
    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class LazyInstanceNorm3d(_LazyInstanceNormNd):
    """``torch.nn.LazyInstanceNorm3d``: an :class:`InstanceNorm3d` whose ``num_features`` is the input's axis 1
    (torch's defaults here: ``affine=True``, ``track_running_stats=True``)."""

    _concrete: ClassVar[Callable[..., Module]] = InstanceNorm3d
    _ndim: ClassVar[int] = 3
