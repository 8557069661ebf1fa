"""More layers, merge layers, frozen layers and functional graphs."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import ReceptiveField, across_rf, merge_rf
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.keras._base import (
    Input,
    Layer,
    _args,
    _auto_name,
    _channels_last,
    _channels_last_only,
    _named,
    counted_once,
    frozen,
)
from convcalc.keras._built import advised, built_shapes, fit_built, keras_input
from convcalc.keras.layers import GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D

# --------------------------------------------------------------------------- #
# More layers, merges, frozen layers and functional graphs
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """``keras.layers.GlobalMaxPooling2D``: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."""

    _base: ClassVar[str] = "global_max_pooling2d"


@dataclass(frozen=True, slots=True)
class GlobalMaxPooling1D(GlobalAveragePooling1D):
    """``keras.layers.GlobalMaxPooling1D``: (N, L, C) -> (N, C), or (N, 1, C) with keepdims."""

    _base: ClassVar[str] = "global_max_pooling1d"


@dataclass(frozen=True, slots=True)
class GlobalMaxPooling3D(GlobalAveragePooling3D):
    """``keras.layers.GlobalMaxPooling3D``: (N, D, H, W, C) -> (N, C), or (N, 1, 1, 1, C) with keepdims."""

    _base: ClassVar[str] = "global_max_pooling3d"


_ORDINALS = ("1st", "2nd", "3rd")


def _sides(
    value: Any, nd: int, name: str, args: dict[str, Any], *, negative: bool = False
) -> tuple[tuple[int, int], ...]:
    """Keras' amounts per side of a padding or cropping layer: an int for every side (a negative one only where
    ``negative``: ZeroPadding2D and 3D crop with it); for 1-D a (start, end) pair; else ``nd`` entries, each an int
    for both sides or a (start, end) pair; each at least 0."""
    if not isinstance(value, (tuple, list)):
        v = whole(value, name, minimum=None if negative and nd > 1 else 0)
        return ((v, v),) * nd
    if nd == 1:
        if len(value) != 2 or any(isinstance(v, (tuple, list)) for v in value):
            raise SpecError(f"The `{name}` argument must be a tuple of 2 integers. {received(args)}")
        a, b = (whole(v, name, minimum=0) for v in value)
        return ((a, b),)
    if len(value) != nd:
        raise SpecError(f"`{name}` should have {nd} elements. {received(args)}")
    sides = []
    for j, v in enumerate(value):
        if not isinstance(v, (tuple, list)):
            both = whole(v, name, minimum=0)
            sides.append((both, both))
        elif len(v) == 2:
            sides.append((whole(v[0], name, minimum=0), whole(v[1], name, minimum=0)))
        else:
            raise SpecError(
                f"The `{_ORDINALS[j]} entry of {name}` must be an int or a (start, end) pair of ints. {received(args)}"
            )
    return tuple(sides)


@dataclass(frozen=True, slots=True)
class Cropping2D(Layer):
    """``keras.layers.Cropping2D``: ``out = size - start - end`` on each spatial axis, at least 1.

    >>> import convcalc
    >>> convcalc.plan(Cropping2D(((1, 2), (0, 3))), (1, 6, 6, 2)).output_shape
    (1, 3, 3, 2)
    >>> convcalc.plan(Cropping2D(3, name="crop"), (1, 6, 7, 2))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: crop (Cropping2D): cropping removes 6 of 6 on spatial axis 0; the input must be at least 7 there. The smallest network input that fits every layer: input_shape=(1, 7, 7, 2). Received: input_shape=(1, 6, 7, 2)
    """

    cropping: Any = ((0, 0), (0, 0))
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _crops: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "cropping2d"

    def __post_init__(self) -> None:
        args = _args(self)
        if self._nd > 1:
            _channels_last_only(self.data_format, args)
        object.__setattr__(self, "_crops", _sides(self.cropping, self._nd, "cropping", args))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, self._nd, path)
        outs = []
        for j, (size, (a, b)) in enumerate(zip(shape[1:-1], self._crops, strict=True)):
            out = size - a - b
            ctx.at_least(
                out,
                1,
                path,
                j,
                lambda: (
                    f"{self._where(path)}: cropping removes {a + b} of {size} on spatial axis {j}; the input must "
                    f"be at least {a + b + 1} there. Received: input_shape={shape}"
                ),
                "cropping leaves at least 1",
            )
            outs.append(out)
        out_shape = (shape[0], *outs, shape[-1])
        new_rf = (
            None
            if rf is None
            else tuple(
                ReceptiveField(f.size, f.jump, f.start + a * f.jump) for f, (a, _) in zip(rf, self._crops, strict=True)
            )
        )
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class Cropping1D(Cropping2D):
    """``keras.layers.Cropping1D``: (N, L, C) -> (N, L - start - end, C)."""

    cropping: Any = (1, 1)
    data_format: str | None = field(default=None, kw_only=True)  # Keras' Cropping1D takes none: by keyword only
    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "cropping1d"


@dataclass(frozen=True, slots=True)
class Cropping3D(Cropping2D):
    """``keras.layers.Cropping3D``: (N, D, H, W, C), each spatial size less its two crops."""

    cropping: Any = ((1, 1), (1, 1), (1, 1))
    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "cropping3d"


@dataclass(frozen=True, slots=True)
class LayerNormalization(Layer):
    """``keras.layers.LayerNormalization``: gamma (``scale`` or ``rms_scaling``) and beta (``center``, not with
    ``rms_scaling``), each the size of the normalized axes.

    >>> import convcalc
    >>> convcalc.plan(LayerNormalization(axis=(1, 2)), (1, 5, 6)).total_params
    60
    """

    axis: Any = -1
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True
    _: KW_ONLY
    rms_scaling: bool = False
    name: str | None = None
    _axes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "layer_normalization"

    def __post_init__(self) -> None:
        args = _args(self)
        for name in ("center", "scale", "rms_scaling"):
            flag(getattr(self, name), name, args)
        axes = self.axis if isinstance(self.axis, (tuple, list)) else (self.axis,)
        if not axes:
            raise SpecError(f"axis must name at least one axis. {received(args)}")
        object.__setattr__(self, "_axes", tuple(whole(a, "axis") for a in axes))
        _named(self)

    def _normalized(self, rank: int, shape: Shape, path: str) -> tuple[int, ...]:
        axes = tuple(a + rank if a < 0 else a for a in self._axes)
        for a, given in zip(axes, self._axes, strict=True):
            if not 0 < a < rank:
                raise ShapeError(
                    f"{self._where(path)}: axis={given} is out of range for a {rank}-D input; use an axis from 1 to "
                    f"{rank - 1} (or -1 to {1 - rank}). Received: input_shape={shape}"
                )
        return tuple(sorted(set(axes)))

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        axes = tuple(a + rank if a < 0 else a for a in self._axes)
        return tuple(a - rank for a in axes if 0 < a < rank), "the size of gamma and beta", False

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        size = product([shape[a] for a in self._normalized(len(shape), shape, path)])
        vectors = int(self.scale or self.rms_scaling) + int(self.center and not self.rms_scaling)
        ctx.add_row(path, self.kind, shape, shape, trainable=size * vectors, receptive_field=rf)
        return shape, rf


@dataclass(frozen=True, slots=True)
class UpSampling2D(Layer):
    """``keras.layers.UpSampling2D``: integer factors, ``out = size * i`` (nearest and bilinear alike).

    >>> import convcalc
    >>> convcalc.plan(UpSampling2D((2, 3)), (1, 4, 5, 3)).output_shape
    (1, 8, 15, 3)
    """

    size: Any = (2, 2)
    data_format: str | None = None
    interpolation: str = "nearest"
    _: KW_ONLY
    name: str | None = None
    _size: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "up_sampling2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        object.__setattr__(self, "_size", per_axis(self.size, "size", 2, args, minimum=1))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, 2, path)
        out_shape = (shape[0], shape[1] * self._size[0], shape[2] * self._size[1], shape[3])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Passthrough(Layer):
    """A Keras layer without weights that keeps the shape (``ReLU``, ``Softmax``, ``SpatialDropout2D``, ...).

    ``keras_kind`` is the Keras class name, shown as the row's kind.

    >>> import convcalc
    >>> convcalc.plan(Passthrough("ReLU"), (1, 4, 4, 3)).rows[0].kind
    'ReLU'
    """

    keras_kind: str
    _: KW_ONLY
    name: str | None = None
    across: tuple[int, ...] = ()
    _base: ClassVar[str] = "layer"

    def __post_init__(self) -> None:
        if not isinstance(self.keras_kind, str) or not self.keras_kind.isidentifier():
            raise SpecError(f"keras_kind must be a Keras class name. Received: keras_kind={self.keras_kind!r}")
        axes_across(self.across)
        _named(self)

    @property
    def kind(self) -> str:
        return self.keras_kind

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ranks = _PASSTHROUGH_RANKS.get(self.keras_kind)
        if ranks is not None and len(flow[0]) not in ranks:  # Keras refuses these of another rank
            want = " or ".join(f"{r}-D" for r in ranks)
            raise ShapeError(
                f"{self._where(path)}: Keras' {self.keras_kind} takes a {want} input (the batch first), not "
                f"{len(flow[0])}-D. Received: input_shape={tuple(flow[0])}"
            )
        rf = read_across(self, self.across, flow, path)
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=rf)
        return flow[0], rf


def axes_across(axes: Any) -> None:
    """``across``: the axes each output of a shape-keeping layer reads whole (a softmax's ``axis``), as ints."""
    if not isinstance(axes, tuple) or not all(type(a) is int for a in axes):
        raise SpecError(f"across must be a tuple of axes (ints), () for none. Received: across={axes!r}")


def read_across(layer: Layer, axes: tuple[int, ...], flow: Flow, path: str) -> Any:
    """The receptive field after ``layer`` reads ``axes`` of its input whole: None where one is spatial (Keras
    refuses an axis the input does not have)."""
    shape = flow[0]
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise ShapeError(
                f"{layer._where(path)}: axis={a} is out of range for a {len(shape)}-D input: use an axis from "
                f"{-len(shape)} to {len(shape) - 1}. Received: input_shape={tuple(shape)}"
            )
    return across_rf(flow[1], len(shape), axes, channels_last=True) if axes else flow[1]


# the ranks Keras (3.15) builds these shape-keeping layers for: channel dropouts of a sequence, an image, a volume;
# the image augmentation layers of a batch of images, or of one image
_PASSTHROUGH_RANKS: dict[str, tuple[int, ...]] = {
    "SpatialDropout1D": (3,),
    "SpatialDropout2D": (4,),
    "SpatialDropout3D": (5,),
    **{f"Random{name}": (3, 4) for name in ("Flip", "Rotation", "Zoom", "Translation", "Contrast", "Brightness")},
}


@dataclass(frozen=True, slots=True)
class Frozen(Layer):
    """A layer with ``trainable=False``: all its weights count as non-trainable, as in Keras.

    >>> import convcalc
    >>> from convcalc import keras
    >>> row = convcalc.plan(keras.Frozen(keras.BatchNormalization()), (1, 8, 8, 4)).rows[0]
    >>> row.trainable, row.non_trainable
    (0, 16)
    """

    layer: Layer

    def __post_init__(self) -> None:
        if not isinstance(self.layer, Layer) or isinstance(self.layer, Input):
            raise SpecError(f"Frozen takes a convcalc.keras layer. Received: layer={self.layer!r}")

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def name(self) -> str:
        return self.layer._name()

    def _name(self) -> str:
        return self.layer._name()

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        return self.layer._weights_fix(rank)

    @property
    def _output_count(self) -> int:
        return self.layer._output_count

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        with ctx.made_as(frozen):
            return self.layer._plan(flow, ctx, path)

    def _plan_outputs(self, flow: Flow, ctx: Context, path: str) -> tuple[Flow, ...]:
        with ctx.made_as(frozen):
            return self.layer._plan_outputs(flow, ctx, path)

    def _plan_merge(self, flows: list[Flow], ctx: Context, path: str) -> Flow:
        with ctx.made_as(frozen):
            out: Flow = self.layer._plan_merge(flows, ctx, path)  # type: ignore[attr-defined]
        return out


def takes_list(layer: Layer) -> bool:
    """Whether a Functional model calls ``layer`` on a list of tensors (a merge layer, a ``keras.ops`` operation),
    frozen or not: it is planned with ``_plan_merge``."""
    inner = layer.layer if isinstance(layer, Frozen) else layer
    return bool(getattr(inner, "_takes_list", False))


class _Merging(Layer):
    """What every Keras merge layer does: called on a list of tensors."""

    __slots__ = ()
    _takes_list: ClassVar[bool] = True
    _base: ClassVar[str] = "add"

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        raise SpecError(
            f"{self._where(path)}: a merge layer is called on a list of tensors: use it in a Functional model. "
            f"Received: input_shape={flow[0]}"
        )

    def _plan_merge(self, flows: list[Flow], ctx: Context, path: str) -> Flow:
        shapes = [tuple(f[0]) for f in flows]
        if len(shapes) < 2 and not isinstance(self, Concatenate):
            raise ShapeError(
                f"{self._where(path)}: a merge layer needs at least 2 inputs. Received: input_shapes={shapes}"
            )
        if isinstance(self, Subtract) and len(shapes) != 2:
            raise ShapeError(
                f"{self._where(path)}: A `Subtract` layer should be called on exactly 2 inputs. "
                f"Received: input_shapes={shapes}"
            )
        out = self._merged_shape(shapes, ctx, path)
        rf = merged_rf(flows, shapes) if self._by_position(shapes) else None
        ctx.add_row(path, self.kind, shapes[0], out, receptive_field=rf)
        return out, rf

    def _by_position(self, shapes: list[Shape]) -> bool:
        """Whether the inputs meet position by position along the spatial axes (every merge but a concatenation
        of another axis than the channels)."""
        return True

    def _merged_shape(self, shapes: list[Shape], ctx: Context, path: str) -> tuple[Any, ...]:
        # Keras' base_merge: the shapes after the batch axis broadcast, aligned on the right; 1 stretches
        out = list(shapes[0][1:])
        for shape in shapes[1:]:
            a, b = (out, list(shape[1:])) if len(out) >= len(shape) - 1 else (list(shape[1:]), out)
            lead = len(a) - len(b)
            merged = a[:lead]
            for j, (x, y) in enumerate(zip(a[lead:], b, strict=True)):
                if type(x) is int and x == 1:
                    merged.append(y)
                elif type(y) is int and y == 1:
                    merged.append(x)
                else:
                    merged.append(_merged_size(self, x, y, ctx, path, lead + j, shapes))
            out = merged
        return (shapes[0][0], *out)


def merged_rf(flows: list[Flow], shapes: list[Shape]) -> Any:
    """The receptive field of Keras inputs combined element by element (channels last): their union, where they
    have one rank (a lower rank broadcasts along the leading axes, and no window follows it)."""
    return merge_rf([f[1] for f in flows], shapes, channels_last=True) if len({len(s) for s in shapes}) == 1 else None


def _merged_size(layer: Layer, x: Any, y: Any, ctx: Context, path: str, axis: int, shapes: list[Shape]) -> Any:
    """The size two merged inputs give on an axis: equal sizes; or, where two symbolic sizes are never equal (a
    stride-2 'valid' branch beside a 'same' one), the one of them that is not 1 where the other is (Keras
    broadcasts a 1): the sizes where neither is 1 are left out."""
    try:
        _require_same(layer, x, y, ctx, path, axis, shapes, "Inputs have incompatible shapes")
        return x
    except ShapeError:
        if type(x) is int and type(y) is int:
            raise
    from sympy import Max

    from convcalc._symbolic import to_sympy

    a, b = to_sympy(x), to_sympy(y)
    ctx.equals(
        (a - 1) * (b - 1),
        0,
        path,
        axis,
        lambda: (
            f"{layer._where(path)}: Inputs have incompatible shapes on axis {axis + 1}: {x} != {y}, and neither is 1 "
            f"(Keras broadcasts a 1). Received: input_shapes={shapes}"
        ),
        "merged sizes broadcast",
    )
    return Max(a, b)


def _require_same(
    layer: Layer, x: Any, y: Any, ctx: Context, path: str, axis: int, shapes: list[Shape], what: str
) -> None:
    if type(x) is int and type(y) is int:
        if x != y:
            raise ShapeError(
                f"{layer._where(path)}: {what} on axis {axis + 1}: {x} != {y}. Received: input_shapes={shapes}"
            )
        return
    from convcalc._symbolic import to_sympy

    ctx.equals(
        to_sympy(x) - to_sympy(y),
        0,
        path,
        axis,
        lambda: f"{layer._where(path)}: {what} on axis {axis + 1}: {x} != {y}. Received: input_shapes={shapes}",
        "merged sizes match",
    )


@dataclass(frozen=True, slots=True)
class _Merge(_Merging):
    """A Keras merge layer of inputs of equal shapes (a size 1 broadcasts)."""

    _: KW_ONLY
    name: str | None = None

    def __post_init__(self) -> None:
        _named(self)


@dataclass(frozen=True, slots=True)
class Add(_Merge):
    """``keras.layers.Add``: equal shapes (a size 1 broadcasts).

    >>> import convcalc
    >>> from convcalc import keras
    >>> x = keras.Input((8, 8, 3), name="x")
    >>> a, b = keras.Conv2D(4, 3, padding="same", name="a"), keras.Conv2D(4, 1, name="b")
    >>> model = keras.Functional(x, [(a, "x"), (b, "x"), (keras.Add(name="sum"), ("a", "b"))])
    >>> convcalc.plan(model).output_shape
    (1, 8, 8, 4)
    """

    _base: ClassVar[str] = "add"


@dataclass(frozen=True, slots=True)
class Subtract(_Merge):
    """``keras.layers.Subtract``: two inputs of equal shapes."""

    _base: ClassVar[str] = "subtract"


@dataclass(frozen=True, slots=True)
class Multiply(_Merge):
    """``keras.layers.Multiply``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "multiply"


@dataclass(frozen=True, slots=True)
class Average(_Merge):
    """``keras.layers.Average``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "average"


@dataclass(frozen=True, slots=True)
class Maximum(_Merge):
    """``keras.layers.Maximum``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "maximum"


@dataclass(frozen=True, slots=True)
class Minimum(_Merge):
    """``keras.layers.Minimum``: equal shapes (a size 1 broadcasts)."""

    _base: ClassVar[str] = "minimum"


@dataclass(frozen=True, slots=True)
class Concatenate(_Merging):
    """``keras.layers.Concatenate(axis=-1)``: equal shapes except on ``axis``, which adds up (``axis`` first, as
    Keras takes it)."""

    axis: int = -1
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "concatenate"

    def __post_init__(self) -> None:
        whole(self.axis, "axis")
        _named(self)

    def _by_position(self, shapes: list[Shape]) -> bool:
        """Only a concatenation of channels (the last axis) keeps the positions of its inputs."""
        return self.axis in (-1, len(shapes[0]) - 1)

    def _merged_shape(self, shapes: list[Shape], ctx: Context, path: str) -> tuple[Any, ...]:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ShapeError(
                f"{self._where(path)}: A `Concatenate` layer requires inputs of the same rank. "
                f"Received: input_shapes={shapes}"
            )
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank:
            raise ShapeError(
                f"{self._where(path)}: axis={self.axis} is out of range for {shapes[0]}. Received: input_shapes={shapes}"
            )
        total: Any = 0
        for shape in shapes:
            for j in range(1, rank):
                if j != axis:
                    what = (
                        "A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis"
                    )
                    _require_same(self, shapes[0][j], shape[j], ctx, path, j - 1, shapes, what)
            total = total + shape[axis]
        return (*shapes[0][:axis], total, *shapes[0][axis + 1 :])


class Functional(Layer):
    """A Keras functional model: one ``Input``, then layers called on earlier outputs.

    ``calls`` is a list of ``(layer, inputs)``: ``inputs`` names the ``Input`` or an
    earlier call (one name, or a tuple of names for a merge layer). A call is named
    after its layer; a layer called again (shared weights) is named ``name:1``,
    ``name:2``, ... and its weights count once, at its first call. ``output`` names
    the call whose result the model returns (the last one by default); as in Keras,
    calls it does not depend on are left out. A layer of several outputs (a recurrent layer with
    ``return_state``, ``Bidirectional`` with ``merge_mode=None``) gives its first under its call's name and
    its output ``j`` as ``name[j]`` (``"lstm[1]"``, LSTM's state ``h``), which later calls and ``output``
    may read. ``built`` maps layer names to the input shapes their
    weights were built for, as in :class:`convcalc.keras.Sequential`; with it the model also checks its
    input against the ``Input``, as a Keras functional model does.

    >>> import convcalc
    >>> from convcalc import keras
    >>> x = keras.Input((16, 16, 3), name="x")
    >>> c1, c2 = keras.Conv2D(8, 3, strides=2, padding="same", name="c1"), keras.Conv2D(8, 1, name="c2")
    >>> net = keras.Functional(x, [(c1, "x"), (c2, "c1"), (keras.Concatenate(name="cat"), ("c1", "c2"))])
    >>> convcalc.plan(net).output_shape
    (1, 8, 8, 16)
    >>> keras.Functional(x, [(c1, "y")])
    Traceback (most recent call last):
    ...
    convcalc.SpecError: call 0 (c1) reads 'y', which is neither the Input nor an earlier call. Received: inputs='y'
    """

    __slots__ = ("_built", "_default_input_shape", "calls", "input", "name", "output")
    input: Input
    calls: tuple[tuple[str, Layer, tuple[str, ...], bool], ...]
    output: str
    name: str
    _default_input_shape: Shape | None
    _built: dict[str, tuple[Any, ...]] | None

    def __init__(
        self, input: Input, calls: Any, output: str | None = None, name: str | None = None, *, built: Any = None
    ) -> None:
        if not isinstance(input, Input):
            raise SpecError(f"Functional takes a convcalc.keras Input first. Received: input={input!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise SpecError(f"name must be a non-empty string. Received: name={name!r}")
        if not isinstance(calls, (list, tuple)) or not calls:
            raise SpecError(f"Functional takes a non-empty list of (layer, inputs) calls. Received: calls={calls!r}")
        known = {input._name()}
        owner = {input._name(): input._name()}  # what each name reads: the call it is an output of
        seen: dict[int, int] = {}
        out: list[tuple[str, Layer, tuple[str, ...], bool]] = []
        for j, call in enumerate(calls):
            if not (isinstance(call, (tuple, list)) and len(call) == 2 and isinstance(call[0], Layer)):
                raise SpecError(f"calls[{j}] must be a (layer, inputs) pair. Received: calls[{j}]={call!r}")
            layer, inputs = call
            if isinstance(layer, Input):
                raise SpecError(f"calls[{j}]: an Input is not called. Received: calls[{j}]={call!r}")
            names = (inputs,) if isinstance(inputs, str) else tuple(inputs) if isinstance(inputs, (tuple, list)) else ()
            if not names or not all(isinstance(n, str) for n in names):
                raise SpecError(f"calls[{j}]: inputs must be a name or a tuple of names. Received: inputs={inputs!r}")
            for n in names:
                if n not in known:
                    _no_such_output(n, known, out, f"call {j} ({layer._name()})", f"inputs={inputs!r}")
                    raise SpecError(
                        f"call {j} ({layer._name()}) reads {n!r}, which is neither the Input nor an earlier call. "
                        f"Received: inputs={inputs!r}"
                    )
            merge = takes_list(layer)
            if not merge and (len(names) != 1 or not isinstance(inputs, str)):
                raise SpecError(f"calls[{j}]: {layer.kind} takes one input. Received: inputs={inputs!r}")
            times = seen.get(id(layer), 0)
            seen[id(layer)] = times + 1
            call_name = layer._name() if times == 0 else f"{layer._name()}:{times}"
            if call_name in known:
                raise SpecError(f"calls[{j}]: the name {call_name!r} is taken. Received: calls[{j}]={call!r}")
            known.add(call_name)
            owner[call_name] = call_name
            for k in range(1, layer._output_count):  # ``lstm[1]``: the layer's output 1 (the state h of LSTM)
                known.add(f"{call_name}[{k}]")
                owner[f"{call_name}[{k}]"] = call_name
            out.append((call_name, layer, names, times > 0))
        target = out[-1][0] if output is None else output
        if target not in known:
            _no_such_output(target, known, out, "output", f"output={output!r}")
            raise SpecError(f"output must name a call. Received: output={output!r}")
        needed = {owner[target]}  # as in Keras, the model holds only the calls its output depends on
        for call_name, _, names, _ in reversed(out):
            if call_name in needed:
                needed.update(owner[n] for n in names)
        object.__setattr__(self, "input", input)
        object.__setattr__(self, "calls", tuple(c for c in out if c[0] in needed))
        object.__setattr__(self, "output", target)
        object.__setattr__(self, "name", name or _auto_name("functional"))
        object.__setattr__(self, "_default_input_shape", (input.batch_size or 1, *input.shape))
        object.__setattr__(self, "_built", built_shapes(built))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Functional is immutable")

    def __repr__(self) -> str:
        calls = [(layer, names[0] if len(names) == 1 else names) for _, layer, names, _ in self.calls]
        return f"Functional({self.input!r}, {calls!r}, output={self.output!r}, name={self.name!r})"

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers in call order, each once."""
        return tuple({id(layer): layer for _, layer, _, _ in self.calls}.values())

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        try:
            return self._plan_calls(flow, ctx)
        except ShapeError as exc:
            better = advised(self, flow[0], exc)
            if better is None:
                raise
            raise better from None

    def _plan_calls(self, flow: Flow, ctx: Context) -> Flow:
        built = self._built
        values: dict[str, Flow] = {self.input._name(): flow if built is None else keras_input(self, flow, ctx)}
        for call_name, layer, names, _ in self.calls:
            # a later call of the layer, here or in another model, holds no new weights
            with counted_once(ctx, layer):
                if len(names) > 1 or takes_list(layer):
                    values[call_name] = layer._plan_merge([values[n] for n in names], ctx, call_name)  # type: ignore[attr-defined]
                else:
                    source = values[names[0]]
                    if built is not None and layer._name() in built:
                        source = fit_built(layer, built[layer._name()], source, ctx, call_name)
                    flows = layer._plan_outputs(source, ctx, call_name)
                    values[call_name] = flows[0]
                    values.update((f"{call_name}[{k}]", f) for k, f in enumerate(flows[1:], 1))
        return values[self.output]


def _no_such_output(
    name: str, known: set[str], calls: list[tuple[str, Layer, tuple[str, ...], bool]], who: str, given: str
) -> None:
    """Refuse ``name[k]`` where ``name`` is a call of fewer outputs, saying how many it has."""
    import re

    match = re.fullmatch(r"(.+)\[(\d+)\]", name) if isinstance(name, str) else None
    if match is None or match.group(1) not in known:
        return
    source = next((c for c in calls if c[0] == match.group(1)), None)
    count = source[1]._output_count if source is not None else 1
    raise SpecError(
        f"{who} reads output {match.group(2)} of {match.group(1)!r}, which returns "
        f"{count} output{'s' if count > 1 else ''} (a recurrent layer returns its states too with return_state=True; "
        f"Bidirectional returns both directions with merge_mode=None). Received: {given}"
    )
