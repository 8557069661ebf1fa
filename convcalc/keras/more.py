"""More Keras layers: reshaping, normalization, preprocessing, padding and up-sampling in 1-D and 3-D,
Embedding, and the ``keras.ops`` calls a functional model records (``x * 2.0``, ``ops.relu6(x)``)."""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import ReceptiveField, across_rf
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.keras._base import Layer, _args, _channels_last, _channels_last_only, _named
from convcalc.keras.graph import _require_same, _sides, axes_across, merged_rf, read_across


def _axis_in(layer: Layer, axis: int, shape: Shape, path: str, what: str = "axis") -> int:
    """``axis`` of ``shape`` counted from 0 (a negative one from the end); a ShapeError when out of range."""
    rank = len(shape)
    if not -rank <= axis < rank:
        raise ShapeError(
            f"{layer._where(path)}: {what}={axis} is out of range for a {rank}-D input; use an axis from {-rank} to "
            f"{rank - 1}. Received: input_shape={shape}"
        )
    return axis + rank if axis < 0 else axis


def _axes_named(axes: list[int]) -> str:
    """``axis 2`` or ``axes 1, 2``."""
    return f"axis {axes[0]}" if len(axes) == 1 else f"axes {', '.join(map(str, axes))}"


def _each_once(axes: tuple[int, ...], rank: int) -> Any:
    """``axes`` with each axis of a ``rank``-D input named once (its first naming kept): one int, or a tuple."""
    once: dict[int, int] = {}
    for a in axes:
        once.setdefault(a + rank if a < 0 else a, a)
    kept = tuple(once.values())
    return kept[0] if len(kept) == 1 else kept


# --------------------------------------------------------------------------- #
# Reshaping
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Reshape(Layer):
    """``keras.layers.Reshape(target_shape)``: the per-sample shape becomes ``target_shape``; one ``-1`` takes
    what is left.

    >>> import convcalc
    >>> convcalc.plan(Reshape((-1, 2)), (1, 4, 3)).output_shape
    (1, 6, 2)
    >>> convcalc.plan(Reshape((5,), name="r"), (1, 4, 3))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: r (Reshape): the total size of the tensor must be unchanged: the input holds 12 values per sample, target_shape=(5,) holds 5. Received: input_shape=(1, 4, 3), target_shape=(5,)
    """

    target_shape: Any
    _: KW_ONLY
    name: str | None = None
    _sizes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "reshape"

    def __post_init__(self) -> None:
        args = _args(self)
        if not isinstance(self.target_shape, (tuple, list)):
            raise SpecError(f"target_shape must be a tuple of sizes, such as (-1, 8). {received(args)}")
        sizes = tuple(whole(v, "target_shape") for v in self.target_shape)
        if any(v < -1 for v in sizes):
            raise SpecError(
                f"Each dimension in `target_shape` must be a non-negative integer, or `-1` for a single unknown "
                f"dimension. {received(args)}"
            )
        if sizes.count(-1) > 1:
            raise SpecError(f"There must be at most one unknown dimension (-1) in `target_shape`. {received(args)}")
        object.__setattr__(self, "_sizes", sizes)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        total = product(shape[1:])
        known = math.prod(v for v in self._sizes if v != -1)

        def fail() -> str:
            holds = str(known) if -1 not in self._sizes else f"a multiple of {known}" if known else "0 whatever the -1"
            return (
                f"{self._where(path)}: the total size of the tensor must be unchanged: the input holds {total} values "
                f"per sample, target_shape={self._sizes} holds {holds}. "
                f"Received: input_shape={shape}, target_shape={self._sizes}"
            )

        if -1 not in self._sizes:
            if type(total) is int and total != known:
                raise ShapeError(fail())
            if type(total) is not int:
                ctx.equals(total - known, 0, path, 0, fail, "the reshape keeps the size")
            out = self._sizes
        else:
            if known == 0 or (type(total) is int and total % known):
                raise ShapeError(fail())
            if type(total) is int:
                rest: Any = total // known
            else:
                rest = _quotient(total, known, ctx, self, path, fail)
            out = tuple(rest if v == -1 else v for v in self._sizes)
        out_shape = (shape[0], *out)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


def _quotient(total: Any, known: int, ctx: Context, layer: Layer, path: str, fail: Any) -> Any:
    """``total / known`` for a symbolic ``total``: an integer expression; where ``known`` divides ``total`` for some
    sizes only, that is recorded as a constraint and the quotient written with a floor."""
    from convcalc._backend import sympy
    from convcalc._symbolic import as_integer_expr, to_sympy

    value = to_sympy(total) / known
    try:
        return as_integer_expr(value)
    except ValueError:
        ctx.divides(total, known, path, 0, fail, f"the size divides by {known}")
    try:
        return as_integer_expr(sympy().floor(value))
    except ValueError:  # pragma: no cover - sympy writes floor(e / k) of an integer e as an integer form
        raise SpecError(f"{layer._where(path)}: convcalc cannot write {value} as a size. {fail()}") from None


@dataclass(frozen=True, slots=True)
class Permute(Layer):
    """``keras.layers.Permute(dims)``: the per-sample axes reordered, counted from 1.

    >>> import convcalc
    >>> convcalc.plan(Permute((2, 1)), (1, 4, 3)).output_shape
    (1, 3, 4)
    """

    dims: Any
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "permute"

    def __post_init__(self) -> None:
        args = _args(self)
        if not isinstance(self.dims, (tuple, list)):
            raise SpecError(f"dims must be a tuple of axes counted from 1, such as (2, 1). {received(args)}")
        dims = tuple(whole(v, "dims") for v in self.dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise SpecError(
                f"Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` must be "
                f"consecutive and start from 1. {received(args)}"
            )
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) != len(self.dims) + 1:
            raise ShapeError(
                f"{self._where(path)}: dims={tuple(self.dims)} takes a {len(self.dims) + 1}-D input (batch first) but "
                f"receives {len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        out_shape = (shape[0], *(shape[d] for d in self.dims))
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class RepeatVector(Layer):
    """``keras.layers.RepeatVector(n)``: (N, F) -> (N, n, F).

    >>> import convcalc
    >>> convcalc.plan(RepeatVector(3), (1, 4)).output_shape
    (1, 3, 4)
    """

    n: int
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "repeat_vector"

    def __post_init__(self) -> None:
        whole(self.n, "n")
        if self.n < 1:
            raise SpecError(f"Argument `n` should be a positive integer. {received({'n': self.n})}")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) != 2:
            raise ShapeError(
                f"{self._where(path)}: expects a 2-D input (batch, features) but receives {len(shape)}-D {shape}. "
                f"Received: input_shape={shape}"
            )
        out_shape = (shape[0], self.n, shape[1])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


# --------------------------------------------------------------------------- #
# Normalization
# --------------------------------------------------------------------------- #


def _value_shape(value: Any, name: str, args: dict[str, Any]) -> tuple[int, ...]:
    """The shape of a number or a (nested, rectangular) sequence of numbers (bools and complex numbers too: Keras
    casts them to floats)."""
    if value is None or isinstance(value, (str, bytes)):
        raise SpecError(f"{name} must be a number or a nested sequence of numbers. {received(args)}")
    if isinstance(value, (int, float, complex)):
        return ()
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iufbc":
        return tuple(int(d) for d in value.shape)
    if not isinstance(value, (tuple, list)) or not value:
        raise SpecError(f"{name} must be a number or a nested sequence of numbers. {received(args)}")
    inner = {_value_shape(v, name, args) for v in value}
    if len(inner) != 1:
        raise SpecError(f"{name} must be a rectangular sequence: its items differ in shape. {received(args)}")
    return (len(value), *inner.pop())


@dataclass(frozen=True, slots=True)
class Normalization(Layer):
    """``keras.layers.Normalization``: ``(x - mean) / sqrt(variance)`` per index of the kept ``axis``.

    Without ``mean`` and ``variance`` (to be adapted) it holds a non-trainable mean and variance the size of
    the kept axes, and a count: ``2 * size + 1`` weights; given them (numbers, bools included, or nested sequences
    or arrays of them), none. An axis named twice (``axis=(2, -1)`` on a 3-D input) is refused where Keras cannot
    shape the mean and variance for it: unless that axis has size 1, or the given mean fits it as Keras places it.

    >>> import convcalc
    >>> row = convcalc.plan(Normalization(), (1, 8, 8, 3)).rows[0]
    >>> row.trainable, row.non_trainable
    (0, 7)
    """

    axis: Any = -1
    mean: Any = None
    variance: Any = None
    invert: bool = False
    _: KW_ONLY
    name: str | None = None
    _axes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mean_shape: tuple[int, ...] | None = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "normalization"

    def __post_init__(self) -> None:
        args = _args(self)
        axes = () if self.axis is None else self.axis if isinstance(self.axis, (tuple, list)) else (self.axis,)
        object.__setattr__(self, "_axes", tuple(whole(a, "axis") for a in axes))
        flag(self.invert, "invert", args)
        if (self.mean is None) != (self.variance is None):
            raise SpecError(
                f"When setting values directly, both `mean` and `variance` must be set. "
                f"{received({'mean': self.mean, 'variance': self.variance})}"
            )
        shape = None
        if self.mean is not None:
            shape = _value_shape(self.mean, "mean", args)
            if _value_shape(self.variance, "variance", args) != shape:
                raise SpecError(
                    f"When setting values directly, `mean` and `variance` must have the same shape. {received(args)}"
                )
            if len(shape) > len(self._axes):
                raise SpecError(
                    f"The rank of `mean` must be less than or equal to the number of axes ({len(self._axes)}). "
                    f"{received(args)}"
                )
        object.__setattr__(self, "_mean_shape", shape)
        _named(self)

    def _kept(self, shape: Shape, path: str) -> tuple[int, ...]:
        """The kept axes counted from 0, sorted, an axis named twice kept twice (as Keras keeps it)."""
        rank = len(shape)
        if any(not -rank <= a < rank for a in self._axes):
            raise ShapeError(
                f"{self._where(path)}: All `axis` values must be in the range [-ndim, ndim); the input is {rank}-D "
                f"and axis={self.axis}. Received: input_shape={shape}"
            )
        kept = tuple(sorted(a + rank if a < 0 else a for a in self._axes))
        for a in sorted(set(kept)):
            if a == 0 or type(shape[a]) is not int:
                what = "the batch axis, which Keras leaves unknown" if a == 0 else f"{shape[a]}, not a number"
                raise ShapeError(
                    f"{self._where(path)}: All `axis` values to be kept must have a known shape; axis {a} is {what}. "
                    f"Received: input_shape={shape}, axis={self.axis}"
                )
        return kept

    def _twice(self, kept: tuple[int, ...], shape: Shape, path: str, built: str) -> SpecError:
        """The error for an axis named twice, whose mean and variance Keras cannot shape."""
        rank = len(shape)
        twice = sorted({a for a in kept if kept.count(a) > 1})
        once = _each_once(self._axes, rank)
        fit = f"name each axis once: axis={once}"
        distinct = len(set(kept))
        if self._mean_shape is not None and len(self._mean_shape) > distinct:
            fit += f", with a mean and variance of at most {distinct} {'axis' if distinct == 1 else 'axes'}"
        return SpecError(
            f"{self._where(path)}: axis={self.axis} names {_axes_named(twice)} of this {rank}-D input "
            f"more than once, and Keras then {built}; {fit}. Received: input_shape={shape}, axis={self.axis}"
        )

    def _check_mean(
        self, given: tuple[int, ...], kept: tuple[int, ...], sizes: list[int], shape: Shape, path: str
    ) -> None:
        """Keras places the given mean's axes on the kept ones from the right (an axis named twice takes the earlier
        of its values), reshapes the mean to that and broadcasts it to the kept axes' sizes."""
        placed: dict[int, int] = {}
        for j, m in enumerate(reversed(given)):
            placed[kept[len(kept) - 1 - j]] = m
        fits = math.prod(placed.values()) == math.prod(given) and all(m in (1, shape[a]) for a, m in placed.items())
        if fits:
            return
        wrong = [
            (m, sizes[len(sizes) - 1 - j])
            for j, m in enumerate(reversed(given))
            if j < len(sizes) and m not in (1, sizes[len(sizes) - 1 - j])
        ]
        if not wrong:  # each of their axes fits a kept axis: naming one twice is what fails
            placing = f"cannot place the given mean and variance of shape {given} on the kept axes {kept}"
            raise self._twice(kept, shape, path, placing)
        m, size = wrong[0]
        raise ShapeError(
            f"{self._where(path)}: mean and variance of shape {given} do not broadcast to the kept axes' sizes "
            f"{tuple(sizes)}: {m} against {size}. Received: input_shape={shape}, axis={self.axis}"
        )

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        axes = {a - rank if a >= 0 else a for a in self._axes if -rank <= a < rank}
        return tuple(sorted(axes)), "the size of the mean and variance", False

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        kept = self._kept(shape, path)
        sizes = [shape[a] for a in sorted(set(kept))]
        given = self._mean_shape
        if given is None and math.prod(shape[a] for a in kept) != math.prod(sizes):
            # Keras builds the mean and variance of shape (shape[a] for a in kept), then reshapes them to the input's
            # rank, one value per index of each kept axis: an axis named twice fits only where its size is 1 (or 0)
            built = f"builds a mean and variance of shape {tuple(shape[a] for a in kept)}, which do not fit"
            raise self._twice(kept, shape, path, f"{built} the {math.prod(sizes)} indices of the kept axes")
        if given is not None:
            self._check_mean(given, kept, sizes, shape, path)
        held = 0 if given is not None else 2 * math.prod(sizes) + 1
        ctx.add_row(path, self.kind, shape, shape, non_trainable=held, receptive_field=rf)
        return shape, rf


@dataclass(frozen=True, slots=True)
class GroupNormalization(Layer):
    """``keras.layers.GroupNormalization``: gamma and beta the size of ``axis``, whose size ``groups`` divides
    (``groups=-1``: one group per channel).

    >>> import convcalc
    >>> convcalc.plan(GroupNormalization(groups=2), (1, 4, 6)).total_params
    12
    """

    groups: int = 32
    axis: int = -1
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "group_normalization"

    def __post_init__(self) -> None:
        args = _args(self)
        if type(self.groups) is not int or (self.groups <= 0 and self.groups != -1):
            raise SpecError(
                f"Received an invalid value for argument `groups`, expected a positive integer (or `-1` for "
                f"instance normalization). {received({'groups': self.groups})}"
            )
        whole(self.axis, "axis")
        for name in ("center", "scale"):
            flag(getattr(self, name), name, args)
        _named(self)

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        axis = self.axis - rank if self.axis >= 0 else self.axis
        return (axis,), "the size of gamma and beta", True

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        axis = _axis_in(self, self.axis, shape, path)
        dim = shape[axis]
        if axis == 0 or type(dim) is not int:
            raise ShapeError(
                f"{self._where(path)}: Axis {self.axis} of input tensor should have a defined dimension"
                f"{'; it is the batch axis, which Keras leaves unknown' if axis == 0 else f', not {dim}'}. "
                f"Received: input_shape={shape}"
            )
        groups = dim if self.groups == -1 else self.groups
        if dim < groups:
            raise ShapeError(
                f"{self._where(path)}: Number of groups ({groups}) cannot be more than the number of channels ({dim}). "
                f"Received: input_shape={shape}"
            )
        if dim % groups:
            raise ShapeError(
                f"{self._where(path)}: the number of channels ({dim}) must be a multiple of the number of groups "
                f"({groups}). Received: input_shape={shape}"
            )
        trainable = dim * (int(self.center) + int(self.scale))
        ctx.add_row(path, self.kind, shape, shape, trainable=trainable, receptive_field=rf)
        return shape, rf


@dataclass(frozen=True, slots=True)
class UnitNormalization(Layer):
    """``keras.layers.UnitNormalization``: scales to unit L2 norm along ``axis`` (``()``: each value on its own);
    no weights."""

    axis: Any = -1
    _: KW_ONLY
    name: str | None = None
    _axes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "unit_normalization"

    def __post_init__(self) -> None:
        axes = self.axis if isinstance(self.axis, (tuple, list)) else (self.axis,)
        object.__setattr__(self, "_axes", tuple(whole(a, "axis") for a in axes))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        axes = [_axis_in(self, a, shape, path) for a in self._axes]
        twice = sorted({a for a in axes if axes.count(a) > 1})
        if twice:
            raise SpecError(
                f"{self._where(path)}: axis={self.axis} names {_axes_named(twice)} of this "
                f"{len(shape)}-D input more than once, which Keras refuses when the layer runs; name each axis once: "
                f"axis={_each_once(self._axes, len(shape))}. Received: input_shape={shape}, axis={self.axis}"
            )
        # each output reads the whole of its axes, as torch's F.normalize: a spatial one ends the field
        rf = across_rf(rf, len(shape), tuple(axes), channels_last=True)
        ctx.add_row(path, self.kind, shape, shape, receptive_field=rf)
        return shape, rf


# --------------------------------------------------------------------------- #
# Image preprocessing that sets the size
# --------------------------------------------------------------------------- #


class _Framed(Layer):
    """A layer that makes every image ``height x width``: (N, H, W, C) -> (N, height, width, C)."""

    __slots__ = ()
    height: int
    width: int
    data_format: str | None
    _base: ClassVar[str] = "center_crop"
    #: the smallest height and width Keras makes
    _least: ClassVar[int] = 0

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.height, "height", minimum=self._least)
        whole(self.width, "width", minimum=self._least)
        _channels_last_only(self.data_format, args)
        self._flags(args)
        _named(self)

    def _flags(self, args: dict[str, Any]) -> None:
        pass

    def _fits(self, shape: Shape, ctx: Context, path: str) -> None:
        """Where a size is 0 (asked for, or in the input), Keras makes the output by a crop only: the input must be
        at least height x width."""
        sizes = (shape[1], shape[2])
        if 0 not in (self.height, self.width) and not any(type(v) is int and v == 0 for v in sizes):
            return
        for j, (size, want, name) in enumerate(zip(sizes, (self.height, self.width), ("height", "width"), strict=True)):
            ctx.at_least(
                size,
                want,
                path,
                j,
                lambda: (
                    f"{self._where(path)}: the input's {name} is {size}, less than {name}={want}: Keras then resizes "
                    f"the image to {self.height} x {self.width}, which it cannot do to or from a size of 0; the input "
                    f"must be at least {self.height} x {self.width}. Received: input_shape={shape}, "
                    f"height={self.height}, width={self.width}"
                ),
                "a crop to or from a size of 0 needs no resize",
            )

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) != 4:
            raise ShapeError(
                f"{self._where(path)}: expects a 4-D input (batch, height, width, channels) but receives "
                f"{len(shape)}-D {shape} (Keras takes a 3-D one for a single image without its batch axis). "
                f"Received: input_shape={shape}"
            )
        self._fits(shape, ctx, path)
        out_shape = (shape[0], self.height, self.width, shape[3])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class CenterCrop(_Framed):
    """``keras.layers.CenterCrop(height, width)``: (N, H, W, C) -> (N, height, width, C), whatever H and W (a
    smaller image is resized up, as Keras does). A height or width of 0 is a crop to nothing, which Keras makes
    of an image at least height x width; it cannot resize a smaller one to it, nor resize up an image of size 0.

    >>> import convcalc
    >>> convcalc.plan(CenterCrop(5, 6), (1, 8, 9, 3)).output_shape
    (1, 5, 6, 3)
    >>> convcalc.plan(CenterCrop(0, 6), (1, 8, 9, 3)).output_shape
    (1, 0, 6, 3)
    """

    height: int
    width: int
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RandomCrop(_Framed):
    """``keras.layers.RandomCrop(height, width, seed=None)``: (N, H, W, C) -> (N, height, width, C) (at inference
    a center crop, resized up where the image is smaller). A height or width of 0 Keras divides by at inference:
    at least 1 each."""

    height: int
    width: int
    seed: int | None = None
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "random_crop"
    _least: ClassVar[int] = 1

    def _fits(self, shape: Shape, ctx: Context, path: str) -> None:
        pass

    def _flags(self, args: dict[str, Any]) -> None:
        if self.seed is not None:
            whole(self.seed, "seed")


@dataclass(frozen=True, slots=True)
class Resizing(_Framed):
    """``keras.layers.Resizing(height, width)``: (N, H, W, C) -> (N, height, width, C). Its arguments in Keras'
    order; how it fills and interpolates does not change a shape.

    >>> import convcalc
    >>> convcalc.plan(Resizing(224, 224), (1, 32, 48, 3)).output_shape
    (1, 224, 224, 3)
    """

    height: int
    width: int
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    fill_mode: str = "constant"
    fill_value: float = 0.0
    antialias: bool = False
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "resizing"
    _least: ClassVar[int] = 1  # Keras cannot resize to a size of 0

    def _fits(self, shape: Shape, ctx: Context, path: str) -> None:
        pass

    def _flags(self, args: dict[str, Any]) -> None:
        for name in ("interpolation", "fill_mode"):
            if not isinstance(getattr(self, name), str):
                raise SpecError(
                    f"{name} must be a name such as {'bilinear' if name == 'interpolation' else 'constant'!r}. {received(args)}"
                )
        if isinstance(self.fill_value, bool) or not isinstance(self.fill_value, (int, float)):
            raise SpecError(f"fill_value must be a number. {received(args)}")
        for name in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias"):
            flag(getattr(self, name), name, args)


# --------------------------------------------------------------------------- #
# Padding and up-sampling in 1-D and 3-D
# --------------------------------------------------------------------------- #


def _pads(value: Any, nd: int, args: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """Keras' ``padding`` of ZeroPadding1D (an int or a pair, at least 0), ZeroPadding2D and ZeroPadding3D (an int,
    which may be negative, or 2 or 3 entries, each an int or a (start, end) pair, at least 0)."""
    if isinstance(value, (tuple, list)) and nd > 1 and len(value) == nd and _held_negative(value):
        # ZeroPadding3D(p) for a negative p holds ((p, p), (p, p), (p, p)), the padding its configuration gives
        return tuple((v[0], v[1]) for v in value)
    return _sides(value, nd, "padding", args, negative=True)


def _held_negative(value: Any) -> bool:
    """Whether ``value`` is ``((p, p), ..., (p, p))`` for one negative int ``p``."""
    if not all(isinstance(v, (tuple, list)) and len(v) == 2 and all(type(p) is int for p in v) for v in value):
        return False
    flat = {p for v in value for p in v}
    return len(flat) == 1 and all(p < 0 for p in flat)


@dataclass(frozen=True, slots=True)
class ZeroPadding3D(Layer):
    """``keras.layers.ZeroPadding3D``: (N, D, H, W, C), each spatial size plus its two pads. ``padding``: an int,
    or 3 entries, each an int or a (start, end) pair; a negative int crops each side, to a size of 0 at the least.

    >>> import convcalc
    >>> convcalc.plan(ZeroPadding3D(((1, 2), (0, 1), (3, 0))), (1, 2, 3, 4, 6)).output_shape
    (1, 5, 4, 7, 6)
    >>> convcalc.plan(ZeroPadding3D(((1, 2), 3, (1, 1))), (1, 2, 3, 4, 6)).output_shape
    (1, 5, 9, 6, 6)
    >>> convcalc.plan(ZeroPadding3D(-1), (1, 2, 3, 4, 6)).output_shape
    (1, 0, 1, 2, 6)
    """

    padding: Any = ((1, 1), (1, 1), (1, 1))
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _pads: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "zero_padding3d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        object.__setattr__(self, "_pads", _pads(self.padding, self._nd, args))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, self._nd, path)
        outs = []
        for j, (size, (a, b)) in enumerate(zip(shape[1:-1], self._pads, strict=True)):
            out = size + a + b
            if a + b < 0:
                ctx.at_least(
                    out,
                    0,
                    path,
                    j,
                    lambda: (
                        f"{self._where(path)}: padding={self.padding} takes {-(a + b)} from {size} on spatial axis {j}, "
                        f"leaving a negative size, which Keras refuses; the input must be at least {-(a + b)} there. "
                        f"Received: input_shape={shape}"
                    ),
                    "the padding leaves at least 0",
                )
            outs.append(out)
        out_shape = (shape[0], *outs, shape[-1])
        new_rf = (
            None
            if rf is None
            else tuple(
                ReceptiveField(f.size, f.jump, f.start - a * f.jump) for f, (a, _) in zip(rf, self._pads, strict=True)
            )
        )
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class ZeroPadding2D(ZeroPadding3D):
    """``keras.layers.ZeroPadding2D``: (N, H, W, C), each spatial size plus its two pads. ``padding``: an int
    (a negative one crops), or 2 entries, each an int or a (start, end) pair.

    >>> import convcalc
    >>> convcalc.plan(ZeroPadding2D(((1, 2), 3)), (1, 4, 5, 2)).output_shape
    (1, 7, 11, 2)
    """

    padding: Any = (1, 1)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "zero_padding2d"


@dataclass(frozen=True, slots=True)
class ZeroPadding1D(ZeroPadding3D):
    """``keras.layers.ZeroPadding1D``: (N, L, C) -> (N, L + start + end, C)."""

    padding: Any = 1
    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "zero_padding1d"


@dataclass(frozen=True, slots=True)
class UpSampling3D(Layer):
    """``keras.layers.UpSampling3D``: (N, D, H, W, C), each spatial size times its factor.

    >>> import convcalc
    >>> convcalc.plan(UpSampling3D((1, 2, 3)), (1, 2, 3, 4, 6)).output_shape
    (1, 2, 6, 12, 6)
    """

    size: Any = (2, 2, 2)
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _size: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "up_sampling3d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        if isinstance(self.size, (tuple, list)) and len(self.size) != 3:
            raise SpecError(f"The `size` argument must be a tuple of 3 integers. {received(args)}")
        object.__setattr__(self, "_size", per_axis(self.size, "size", 3, args, minimum=1))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 3, path)
        out_shape = (shape[0], *(i * s for i, s in zip(shape[1:-1], self._size, strict=True)), shape[-1])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class UpSampling1D(Layer):
    """``keras.layers.UpSampling1D(size)``: (N, L, C) -> (N, size * L, C); ``size`` one int."""

    size: int = 2
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "up_sampling1d"

    def __post_init__(self) -> None:
        whole(self.size, "size")
        if self.size < 1:
            raise SpecError(f"Argument `size` should be a positive integer. {received({'size': self.size})}")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 1, path)
        out_shape = (shape[0], shape[1] * self.size, shape[2])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


# --------------------------------------------------------------------------- #
# Embedding
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Embedding(Layer):
    """``keras.layers.Embedding(input_dim, output_dim)``: integer indices of any shape -> one ``output_dim``
    vector each; an ``input_dim x output_dim`` table (a lookup: no MACs). ``lora_rank`` as in Keras: the table
    frozen, an ``(input_dim, rank)`` and a ``(rank, output_dim)`` factor trained.

    >>> import convcalc
    >>> plan = convcalc.plan(Embedding(1000, 64), (1, 20))
    >>> plan.output_shape, plan.total_params
    ((1, 20, 64), 64000)
    """

    input_dim: int
    output_dim: int
    _: KW_ONLY
    mask_zero: bool = False
    name: str | None = None
    lora_rank: int | None = None
    _base: ClassVar[str] = "embedding"

    def __post_init__(self) -> None:
        for name in ("input_dim", "output_dim"):
            value = getattr(self, name)
            if type(whole(value, name)) is int and value < 1:
                raise SpecError(f"`{name}` must be a positive integer. {received({name: value})}")
        flag(self.mask_zero, "mask_zero", _args(self))
        if self.lora_rank is not None and self.lora_rank != 0:
            whole(self.lora_rank, "lora_rank", minimum=1)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        out_shape = (*shape, self.output_dim)
        table = self.input_dim * self.output_dim
        if self.lora_rank:
            trainable, frozen = (self.input_dim + self.output_dim) * self.lora_rank, table
        else:
            trainable, frozen = table, 0
        ctx.add_row(path, self.kind, shape, out_shape, trainable=trainable, non_trainable=frozen)
        return out_shape, None


# --------------------------------------------------------------------------- #
# keras.ops calls in a functional model
# --------------------------------------------------------------------------- #

#: ``keras.ops`` operations on two operands, elementwise with numpy broadcasting (their Keras class names)
BINARY_OPS = frozenset(
    {"Add", "Subtract", "Multiply", "TrueDivide", "Divide", "FloorDivide", "Mod", "Power", "Maximum", "Minimum"}
    # the comparisons: ``Embedding(mask_zero=True)`` computes its mask as ``NotEqual(ids, 0)``
    | {"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"}
)
#: ``keras.ops`` operations on one tensor that keep its shape (their Keras class names)
UNARY_OPS = frozenset(
    {
        "Relu",
        "Relu6",
        "Sigmoid",
        "HardSigmoid",
        "Silu",
        "HardSilu",
        "Gelu",
        "Softplus",
        "Softsign",
        "Elu",
        "Selu",
        "Celu",
        "LeakyRelu",
        "LogSigmoid",
        "Softmax",
        "LogSoftmax",
        "Absolute",
        "Negative",
        "Exp",
        "Log",
        "Sqrt",
        "Rsqrt",
        "Square",
        "Sign",
        "Reciprocal",
        "Tanh",
        "Floor",
        "Ceil",
        "Cast",
    }
)


@dataclass(frozen=True, slots=True)
class Operation(Layer):
    """A ``keras.ops`` call recorded in a functional model: ``op`` is its Keras class name.

    An elementwise op on two operands (``Add``, ``Multiply``, ``TrueDivide``, ...) takes two tensors, or one
    tensor and a constant of shape ``constant_shape`` (``()`` for a Python number: ``x * 2.0`` is
    ``Operation("Multiply", constant_shape=())``); shapes broadcast as numpy's do, batch axis included. A
    one-operand op (``Relu6``, ``Sigmoid``, ``Negative``, ...) keeps the shape. No weights, and no MACs, as for
    the other elementwise layers.

    >>> import convcalc
    >>> from convcalc import keras
    >>> x = keras.Input((4, 4, 3), name="x")
    >>> three = keras.Operation("Add", constant_shape=(), name="add")
    >>> six = keras.Operation("Relu6", name="relu6")
    >>> convcalc.plan(keras.Functional(x, [(three, "x"), (six, "add")])).output_shape
    (1, 4, 4, 3)
    """

    op: str
    constant_shape: Any = None
    _: KW_ONLY
    name: str | None = None
    across: tuple[int, ...] = ()
    _takes_list: ClassVar[bool] = True
    _base: ClassVar[str] = "operation"

    def __post_init__(self) -> None:
        args = _args(self)
        if not isinstance(self.op, str) or self.op not in BINARY_OPS | UNARY_OPS:
            raise SpecError(
                f"op must be the class name of an elementwise keras.ops operation: "
                f"{', '.join(sorted(BINARY_OPS | UNARY_OPS))}. {received(args)}"
            )
        if self.constant_shape is not None:
            if self.op in UNARY_OPS:
                raise SpecError(f"{self.op} takes one tensor and no constant. {received(args)}")
            if not isinstance(self.constant_shape, (tuple, list)):
                raise SpecError(f"constant_shape must be a tuple of sizes, () for a number. {received(args)}")
            for v in self.constant_shape:
                whole(v, "constant_shape", minimum=0)
        axes_across(self.across)
        _named(self)

    @property
    def kind(self) -> str:
        return self.op

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return self._plan_merge([flow], ctx, path)

    def _plan_merge(self, flows: list[Flow], ctx: Context, path: str) -> Flow:
        shapes = [tuple(f[0]) for f in flows]
        want = 1 if self.op in UNARY_OPS or self.constant_shape is not None else 2
        if len(shapes) != want:
            what = "one tensor" if self.op in UNARY_OPS else "a tensor and a constant" if want == 1 else "two tensors"
            raise ShapeError(
                f"{self._where(path)}: keras.ops {self.op} here takes {what}; it receives {len(shapes)} tensors. "
                f"Received: input_shapes={shapes}"
            )
        if self.constant_shape is not None:
            shapes.append(tuple(self.constant_shape))
        out = shapes[0]
        for other in shapes[1:]:
            out = _broadcast(self, out, other, shapes, ctx, path)
        if len(flows) == 2:  # two tensors meet position by position where neither is broadcast along an axis
            rf = merged_rf(flows, shapes)
        else:
            rf = read_across(self, self.across, flows[0], path) if out == shapes[0] else None
        ctx.add_row(path, self.kind, shapes[0], out, receptive_field=rf)
        return out, rf


def _broadcast(layer: Layer, a: Shape, b: Shape, shapes: list[Shape], ctx: Context, path: str) -> Shape:
    """numpy's broadcast of two shapes, aligned on the right: a size 1 stretches, others must match."""
    rank = max(len(a), len(b))
    a_ = (1,) * (rank - len(a)) + tuple(a)
    b_ = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for j, (x, y) in enumerate(zip(a_, b_, strict=True)):
        if type(y) is int and y == 1:
            out.append(x)
        elif type(x) is int and x == 1:
            out.append(y)
        else:
            _require_same(layer, x, y, ctx, path, j - 1, shapes, "Operands could not be broadcast together")
            out.append(x)
    return tuple(out)
