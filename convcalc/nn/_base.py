"""The base of every convcalc.nn spec, and the argument and shape checks the layers share."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import fields
from typing import Any, ClassVar

from convcalc._enums import Convention
from convcalc._errors import CheckedCall, ShapeError
from convcalc._plan import ReceptiveField
from convcalc._planner import Context, Flow
from convcalc._types import Shape


def _fmt(shape: Shape) -> str:
    """``128 x 6 x 6``; a size that is an expression in brackets (``4 x (H - 2) x W``)."""
    return " x ".join(str(d) if type(d) is int or str(d).isidentifier() else f"({d})" for d in shape)


class Module(metaclass=CheckedCall):
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


# Keywords torch's layers take to place and type their tensors: they change no shape and no count.
_FACTORY_KWARGS = frozenset({"device", "dtype"})


def _args(obj: Any) -> dict[str, Any]:
    """The arguments a message lists after ``Received:``: a spec's constructor arguments but ``device`` and
    ``dtype`` (nothing planned depends on them), and a keyword-only one (``bias`` on the norms) only where it is
    not at its default, so that a message says what the call said."""
    return {
        f.name: getattr(obj, f.name)
        for f in fields(obj)
        if f.init and f.name not in _FACTORY_KWARGS and not (f.kw_only and _is_default(getattr(obj, f.name), f.default))
    }


def _is_default(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default  # (1 is not the default True)


def _axis_label(j: int, *given: Any) -> str:
    """ " on axis j" when an argument of the rule was given per axis (a tuple), as the formulas say it."""
    return f" on axis {j}" if any(isinstance(v, (tuple, list)) for v in given) else ""


def _rank_error(layer: Module, shape: Shape, ndim: int, path: str) -> ShapeError:
    """An input of another rank than ``(N, C, *spatial)`` or ``(C, *spatial)``."""
    dims = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[ndim]
    return ShapeError(
        f"{layer._where(path)}: expects a {ndim + 2}-D input {dims} or an unbatched {ndim + 1}-D one, but "
        f"receives {len(shape)}-D {shape}. Received: input_shape={shape}"
    )


def _sample_axes(ctx: Context, layer: Module, shape: Shape, rf: Any, ndim: int, path: str) -> Any:
    """Check the rank of a convolution's or pool's input: ``(N, C, *spatial)``, or one sample without its batch
    axis, ``(C, *spatial)``, which torch takes as a batch of one. For the latter the plan counts one sample, and
    a receptive field still at the input's identity (an unbatched model input) is taken over for the spatial
    axes. Returns the receptive field to go on from."""
    if len(shape) == ndim + 2:
        return rf
    if len(shape) != ndim + 1:
        raise _rank_error(layer, shape, ndim, path)
    ctx.samples(shape, 1)
    return _sample_field(rf, ndim)


def _sample_field(rf: Any, ndim: int) -> Any:
    """The receptive field a layer of ``ndim`` spatial axes goes on from, given one sample without its batch
    axis: one of ``ndim`` axes as it is; a field still at the input's identity (an unbatched model input, read
    as a batch with one spatial axis fewer) taken over for the spatial axes; any other, None."""
    if rf is not None and len(rf) != ndim:
        fresh = len(rf) == ndim - 1 and all(r.size == 1 and r.jump == 1 and r.start == 0 for r in rf)
        rf = tuple(ReceptiveField(1, 1, 0) for _ in range(ndim)) if fresh else None
    return rf


def _nonempty_check(
    layer: Module,
    ctx: Context,
    shape: Shape,
    ndim: int,
    path: str,
    takes: str = "torch's convolutions take only a zero batch or zero channels",
    axes: Collection[int] | None = None,
) -> None:
    """torch's convolutions and pools refuse an empty spatial axis ("Only zero batch or zero channel inputs are
    supported", "Expected ... tensor with optional 0 dim batch size"), which a cropping pad or slice before them
    can leave; ``takes`` says which empty inputs torch takes instead. ``axes``: the spatial axes to check
    (where a layer's own checks already refuse an empty one, a second condition would only repeat it)."""
    for i in shape[-ndim:]:
        if type(i) is not int or i < 1:
            break
    else:  # every size a positive number: nothing to check
        return
    for j, i in enumerate(shape[-ndim:]):
        if axes is not None and j not in axes:
            continue
        if type(i) is not int and any(  # an earlier layer already requires this size to be at least 1
            c.axis == j and c.kind == ">=" and c.value >= 1 and c.form == i for c in ctx.constraints
        ):
            continue
        if type(i) is not int or i < 1:
            ctx.at_least(
                i,
                1,
                path,
                j,
                lambda: (
                    f"{layer._where(path)}: spatial axis {j} of the input is empty (size {i}); {takes} as empty "
                    f"inputs: crop less before this layer. "
                    f"Received: input_shape={shape}"
                ),
                "input not empty",
            )


def _channel_check(
    layer: Module, ctx: Context, shape: Shape, expected: int, name: str, path: str, axis: int = 1
) -> None:
    got = shape[axis]
    if got != expected:
        if axis == 0 and len(shape) >= 2 and shape[0] == 1 and shape[1] == expected:
            # (1, 3, 32) to a Conv2d(3, ...): torch reads it as one sample without a batch axis
            raise ShapeError(
                f"{layer._where(path)}: {name}={expected} but the input has {got} channel{'' if got == 1 else 's'}: "
                f"a {len(shape)}-D input is one sample without a batch axis, so its channels are axis 0; with the "
                f"batch first the layer takes a {len(shape) + 1}-D input, such as {(*shape, shape[-1])} (or use "
                f"{name}={got} for a sample of {got} channel{'' if got == 1 else 's'}). Received: input_shape={shape}"
            )
        if not ctx.rows and axis < len(shape) - 1 and type(shape[-1]) is int and shape[-1] == expected < got:
            # the network's input (1, 227, 227, 3): a channels-last sample, as a textbook writes 227 x 227 x 3 (a
            # size on the channel axis above the channels: an image's side, not another layer's channels)
            first = (*shape[:axis], shape[-1], *shape[axis:-1])
            order = (*range(axis), len(shape) - 1, *range(axis, len(shape) - 1))
            raise ShapeError(
                f"{layer._where(path)}: {name}={expected} but the input has {got} channels on axis {axis}; its "
                f"last axis holds {expected}, as a channels-last input does: torch takes the channels first, "
                f"input_shape={first} (x.permute{order} of a channels-last tensor). Received: input_shape={shape}"
            )
        other = (
            f"give an input of {expected} channels" if not ctx.rows else f"make the previous layer output {expected}"
        )
        raise ShapeError(
            f"{layer._where(path)}: {name}={expected} but the input has {got} channel{'' if got == 1 else 's'}: "
            f"use {name}={got} (or {other}). Received: input_shape={shape}"
        )
