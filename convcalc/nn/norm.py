"""Normalization layers (torch.nn's BatchNorm*d, InstanceNorm2d, GroupNorm, LayerNorm)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc.nn._base import Module, _args, _channel_check
from convcalc.params import (
    ParamCount,
    batchnorm_params,
    groupnorm_params,
    layernorm_params,
)

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
    _count: ParamCount = field(init=False, repr=False, compare=False)
    # set by the torch reader for a module in training mode: torch then normalises with the batch's statistics,
    # as it always does without running statistics
    _batch_statistics: bool = field(default=False, init=False, repr=False, compare=False)
    _ranks: ClassVar[tuple[int, ...]] = (4,)

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_features, "num_features", minimum=1)
        flag(self.affine, "affine", args)
        flag(self.track_running_stats, "track_running_stats", args)
        # the count depends on the arguments only: taken from params once, at construction
        count = batchnorm_params(self.num_features, affine=self.affine, track_running_stats=self.track_running_stats)
        object.__setattr__(self, "_count", count)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) not in self._ranks:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(
                f"{self._where(path)}: expects {want} input, got {len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        _channel_check(self, shape, self.num_features, "num_features", path)
        if self._batch_statistics or not self.track_running_stats:
            ctx.at_least(
                product((shape[0], *shape[2:])),
                2,
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


@dataclass(frozen=True, slots=True)
class InstanceNorm2d(Module):
    """``torch.nn.InstanceNorm2d`` spec (no parameters by default)."""

    num_features: int
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = False
    track_running_stats: bool = False
    _count: ParamCount = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_features, "num_features", minimum=1)
        flag(self.affine, "affine", args)
        flag(self.track_running_stats, "track_running_stats", args)
        # the count depends on the arguments only: taken from params once, at construction
        count = batchnorm_params(self.num_features, affine=self.affine, track_running_stats=self.track_running_stats)
        object.__setattr__(self, "_count", count)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        if len(shape) not in (3, 4):
            raise ShapeError(f"{self._where(path)}: expects (N, C, H, W) or (C, H, W). Received: input_shape={shape}")
        if self.affine or self.track_running_stats:  # torch checks the channels against its weights and statistics
            _channel_check(self, shape, self.num_features, "num_features", path, len(shape) - 3)
        if not self.track_running_stats:  # statistics of each sample's own plane
            ctx.at_least(
                product(shape[-2:]),
                2,
                path,
                1,
                lambda: (
                    f"{self._where(path)}: expects more than 1 spatial element (torch's check when it computes "
                    f"each sample's statistics). Received: input_shape={shape}"
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

        def mismatch() -> str:
            fits = tuple(shape[-len(self._shape) :])  # as many last dims as normalized_shape has (all, if fewer)
            return (
                f"{self._where(path)}: normalized_shape={self._shape} must match the last dims of the input "
                f"{shape}: use normalized_shape={fits}. Received: input_shape={shape}"
            )

        if len(shape) < len(self._shape) or any(
            type(a) is int and a != b for a, b in zip(tail, self._shape, strict=True)
        ):
            raise ShapeError(mismatch())
        first = len(shape) - len(self._shape)
        for j, (a, b) in enumerate(zip(tail, self._shape, strict=True)):
            if type(a) is not int:  # a size that depends on the input: it must be this one
                ctx.equals(a - b, 0, path, first + j, mismatch, f"normalized_shape {b}")
        params = layernorm_params(self._shape, elementwise_affine=self.elementwise_affine, bias=self.bias)
        ctx.add_row(path, self.kind, shape, shape, trainable=params, receptive_field=rf)
        return shape, rf
