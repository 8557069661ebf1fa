"""Layers that keep the shape (activations, PReLU, Identity, the dropouts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convcalc._args import received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import across_rf
from convcalc._planner import Context, Flow
from convcalc.nn._base import Module, _args

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

    def __post_init__(self) -> None:
        # torch: approximate argument must be either none or tanh
        if not isinstance(self.approximate, str) or self.approximate not in ("none", "tanh"):
            raise SpecError(f"approximate must be 'none' or 'tanh'. Received: approximate={self.approximate!r}")


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


def softmax_dim(dim: int | None, rank: int) -> int:
    """The dim a softmax (softmin, log-softmax) works along: ``dim``, or without one the dim torch picks
    (``_get_softmax_dim``: 0 for an input of 0, 1 or 3 dims, else 1)."""
    if dim is not None:
        return dim
    return 0 if rank in (0, 1, 3) else 1


@dataclass(frozen=True, slots=True)
class _AlongDim(_Elementwise):
    """An activation along one ``dim`` of its input (the softmax family): each output reads the whole of that
    dim, so a spatial one ends the receptive field."""

    dim: int | None = None

    def __post_init__(self) -> None:
        if self.dim is not None:
            whole(self.dim, "dim")

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        dim, rank = self.dim, max(len(flow[0]), 1)  # (a 0-D input takes dim 0 or -1)
        if dim is not None and not -rank <= dim < rank:  # torch: Dimension out of range
            raise ShapeError(
                f"{self._where(path)}: dim={dim} is out of range for a {len(shape)}-D input: use a dim from "
                f"{-rank} to {rank - 1}. Received: input_shape={tuple(shape)}"
            )
        rf = across_rf(flow[1], len(shape), (softmax_dim(dim, len(shape)),)) if shape else flow[1]
        return _Elementwise._plan(self, (shape, rf), ctx, path)


@dataclass(frozen=True, slots=True)
class Softmax(_AlongDim):
    """``torch.nn.Softmax`` spec."""


@dataclass(frozen=True, slots=True)
class Softmin(_AlongDim):
    """``torch.nn.Softmin`` spec."""


@dataclass(frozen=True, slots=True)
class LogSoftmax(_AlongDim):
    """``torch.nn.LogSoftmax`` spec."""


@dataclass(frozen=True, slots=True)
class Softmax2d(_Elementwise):
    """``torch.nn.Softmax2d`` spec: a softmax over the channels of a 3-D (C, H, W) or 4-D (N, C, H, W) input."""

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        if len(shape) not in (3, 4):
            raise ShapeError(
                f"{self._where(path)}: expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, but receives "
                f"{len(shape)}-D {tuple(shape)}. Received: input_shape={tuple(shape)}"
            )
        return _Elementwise._plan(self, flow, ctx, path)


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


@dataclass(frozen=True, slots=True)
class Dropout1d(Dropout):
    """``torch.nn.Dropout1d`` spec: a 2-D (C, L) or 3-D (N, C, L) input, as torch requires."""

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{self._where(path)}: expects a 2-D (C, L) or 3-D (N, C, L) input (torch's dropout1d), but "
                f"receives {len(shape)}-D {tuple(shape)}: use Dropout for other ranks. "
                f"Received: input_shape={tuple(shape)}"
            )
        return _Elementwise._plan(self, flow, ctx, path)


@dataclass(frozen=True, slots=True)
class Dropout3d(Dropout):
    """``torch.nn.Dropout3d`` spec."""


@dataclass(frozen=True, slots=True)
class AlphaDropout(Dropout):
    """``torch.nn.AlphaDropout`` spec."""


@dataclass(frozen=True, slots=True)
class FeatureAlphaDropout(Dropout):
    """``torch.nn.FeatureAlphaDropout`` spec."""


# --------------------------------------------------------------------------- #
# More activations: torch's arguments and defaults, refused where torch refuses them (at construction, or at
# every call whatever the input)
# --------------------------------------------------------------------------- #


def _number(value: Any, name: str, layer: Module) -> float:
    """A real-number argument (an int or a float, not a bool), for an activation that compares it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{name} must be a number. {received(_args(layer))}")
    return value


@dataclass(frozen=True, slots=True)
class ELU(_Elementwise):
    """``torch.nn.ELU`` spec."""

    alpha: float = 1.0
    inplace: bool = False


@dataclass(frozen=True, slots=True)
class CELU(_Elementwise):
    """``torch.nn.CELU`` spec (``alpha`` not 0: torch divides by it).

    >>> CELU(alpha=0)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: alpha cannot be 0 for CELU (torch raises ZeroDivisionError when it is called): use a nonzero alpha, such as the default 1.0. Received: alpha=0, inplace=False
    """

    alpha: float = 1.0
    inplace: bool = False

    def __post_init__(self) -> None:
        if _number(self.alpha, "alpha", self) == 0:
            raise SpecError(
                f"alpha cannot be 0 for CELU (torch raises ZeroDivisionError when it is called): use a nonzero "
                f"alpha, such as the default 1.0. {received(_args(self))}"
            )


@dataclass(frozen=True, slots=True)
class SELU(_Elementwise):
    """``torch.nn.SELU`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Mish(_Elementwise):
    """``torch.nn.Mish`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Hardsigmoid(_Elementwise):
    """``torch.nn.Hardsigmoid`` spec."""

    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Hardtanh(_Elementwise):
    """``torch.nn.Hardtanh`` spec: ``max_val`` above ``min_val``; ``min_value`` and ``max_value`` are torch's
    deprecated names for them, and win where given.

    >>> Hardtanh(1.0, -1.0)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: max_val (-1.0) must be greater than min_val (1.0), as torch asserts: swap them. Received: min_val=1.0, max_val=-1.0, inplace=False, min_value=None, max_value=None
    """

    min_val: float = -1.0
    max_val: float = 1.0
    inplace: bool = False
    min_value: float | None = None
    max_value: float | None = None

    def __post_init__(self) -> None:
        low = _number(self.min_val if self.min_value is None else self.min_value, "min_val", self)
        high = _number(self.max_val if self.max_value is None else self.max_value, "max_val", self)
        if not high > low:
            raise SpecError(
                f"max_val ({high}) must be greater than min_val ({low}), as torch asserts: "
                f"{'swap them' if high < low else 'make the range wider than one point'}. {received(_args(self))}"
            )


@dataclass(frozen=True, slots=True)
class RReLU(_Elementwise):
    """``torch.nn.RReLU`` spec: ``lower`` at most ``upper`` (torch refuses others at every call)."""

    lower: float = 1.0 / 8
    upper: float = 1.0 / 3
    inplace: bool = False

    def __post_init__(self) -> None:
        if _number(self.lower, "lower", self) > _number(self.upper, "upper", self):
            raise SpecError(
                f"the lower bound must be at most the upper bound (torch refuses it when called): swap lower and "
                f"upper. {received(_args(self))}"
            )


@dataclass(frozen=True, slots=True)
class Hardshrink(_Elementwise):
    """``torch.nn.Hardshrink`` spec."""

    lambd: float = 0.5


@dataclass(frozen=True, slots=True)
class Softshrink(_Elementwise):
    """``torch.nn.Softshrink`` spec: ``lambd`` at least 0 (torch refuses others at every call)."""

    lambd: float = 0.5

    def __post_init__(self) -> None:
        if _number(self.lambd, "lambd", self) < 0:
            raise SpecError(
                f"lambd must be at least 0 for Softshrink (torch refuses it when called): use {-self.lambd}. "
                f"{received(_args(self))}"
            )


@dataclass(frozen=True, slots=True)
class Softplus(_Elementwise):
    """``torch.nn.Softplus`` spec."""

    beta: float = 1.0
    threshold: float = 20.0


@dataclass(frozen=True, slots=True)
class Threshold(_Elementwise):
    """``torch.nn.Threshold`` spec (``threshold`` and ``value`` have no defaults, as in torch)."""

    threshold: float
    value: float
    inplace: bool = False


@dataclass(frozen=True, slots=True)
class Softsign(_Elementwise):
    """``torch.nn.Softsign`` spec."""


@dataclass(frozen=True, slots=True)
class Tanhshrink(_Elementwise):
    """``torch.nn.Tanhshrink`` spec."""


@dataclass(frozen=True, slots=True)
class LogSigmoid(_Elementwise):
    """``torch.nn.LogSigmoid`` spec."""


@dataclass(frozen=True, slots=True)
class PReLU(Module):
    """``torch.nn.PReLU`` spec: ``num_parameters`` slopes, one shared (``1``) or one per channel (axis 1 of the
    input), as torch requires.

    >>> import convcalc
    >>> convcalc.plan(PReLU(8), (2, 8, 5, 5)).rows[0].trainable
    8
    >>> convcalc.plan(PReLU(8), (2, 3, 5, 5))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (PReLU): num_parameters=8 but the input has 3 channels on axis 1: use num_parameters=3, or 1 for one slope shared by all. Received: input_shape=(2, 3, 5, 5)
    """

    num_parameters: int = 1
    init: float = 0.25
    device: Any = field(default=None, repr=False, compare=False)
    dtype: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        whole(self.num_parameters, "num_parameters", minimum=0)  # torch: no tensor of negative size

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        n = self.num_parameters
        if n != 1:
            if not shape:
                raise ShapeError(
                    f"{self._where(path)}: num_parameters={n} needs a channel axis, which a 0-D input lacks (torch: "
                    f"Not allow zero-dim input tensor): use num_parameters=1. Received: input_shape=()"
                )
            channels = shape[1] if len(shape) > 1 else 1  # torch: a 1-D input has one channel

            def mismatch() -> str:
                where = "on axis 1" if len(shape) > 1 else "(a 1-D input has one)"
                return (
                    f"{self._where(path)}: num_parameters={n} but the input has {channels} "
                    f"channel{'' if channels == 1 else 's'} {where}: use num_parameters={channels}"
                    f"{'' if channels == 1 else ', or 1 for one slope shared by all'}. "
                    f"Received: input_shape={tuple(shape)}"
                )

            ctx.equals(channels, n, path, 1, mismatch, f"num_parameters={n} channels")
        ctx.add_row(path, self.kind, shape, shape, trainable=n, receptive_field=rf)
        return flow
