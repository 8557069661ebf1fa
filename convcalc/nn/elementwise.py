"""Layers that keep the shape (activations, Identity, Dropout)."""

from __future__ import annotations

from dataclasses import dataclass

from convcalc._errors import ShapeError, SpecError
from convcalc._planner import Context, Flow
from convcalc.nn._base import Module

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

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = flow[0]
        dim, rank = self.dim, max(len(flow[0]), 1)  # (a 0-D input takes dim 0 or -1)
        if dim is not None and not -rank <= dim < rank:  # torch: Dimension out of range
            raise ShapeError(
                f"{self._where(path)}: dim={dim} is out of range for a {len(shape)}-D input: use a dim from "
                f"{-rank} to {rank - 1}. Received: input_shape={tuple(shape)}"
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
