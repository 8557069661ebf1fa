"""Pooling, batch normalization, Dense, Flatten, the shape-keeping layers (Dropout, Activation, PReLU), and
Sequential; the convolutions are in :mod:`convcalc.keras.conv`."""

from __future__ import annotations

import itertools
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from convcalc._args import flag, per_axis, received, whole
from convcalc._enums import PaddingMode
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import rf_update
from convcalc._planner import Context, Flow
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.keras._base import (
    Input,
    Layer,
    _activation,
    _args,
    _auto_name,
    _channels_last,
    _channels_last_only,
    _named,
    _padding,
    _window_axes,
    counted_once,
)
from convcalc.keras._built import advised, built_shapes, fit_built, keras_input

# the convolutions live in convcalc.keras.conv; these names stay importable from here, where they were
from convcalc.keras.conv import Conv1D as Conv1D
from convcalc.keras.conv import Conv2D as Conv2D
from convcalc.keras.conv import Conv2DTranspose as Conv2DTranspose
from convcalc.keras.conv import Conv3D as Conv3D
from convcalc.keras.conv import DepthwiseConv2D as DepthwiseConv2D
from convcalc.keras.conv import SeparableConv2D as SeparableConv2D
from convcalc.keras.conv import _lora_rank
from convcalc.params import _linear_count, batchnorm_params


@dataclass(frozen=True, slots=True)
class _Pooling(Layer):
    pool_size: Any = 2
    strides: Any = None
    padding: str = "valid"
    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _k: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _s: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _mode: PaddingMode = field(init=False, repr=False, compare=False)
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "max_pooling2d"

    def __post_init__(self) -> None:
        args = _args(self)
        _channels_last_only(self.data_format, args)
        k = per_axis(self.pool_size, "pool_size", self._nd, args, minimum=1)
        s = k if self.strides is None else per_axis(self.strides, "strides", self._nd, args, minimum=1)
        for name, value in (("_k", k), ("_s", s), ("_mode", _padding(self.padding, args))):
            object.__setattr__(self, name, value)
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        _channels_last(self, shape, self._nd, path)
        outs, lefts = _window_axes(self, shape, ctx, path, self._k, self._s, (1,) * self._nd, self._mode)
        out_shape = (shape[0], *outs, shape[-1])
        new_rf = rf_update(rf, self._k, self._s, lefts)
        ctx.add_row(path, self.kind, shape, out_shape, receptive_field=new_rf)
        return out_shape, new_rf


@dataclass(frozen=True, slots=True)
class MaxPooling1D(_Pooling):
    """``keras.layers.MaxPooling1D`` spec: (N, L, C) windows over L."""

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "max_pooling1d"


@dataclass(frozen=True, slots=True)
class MaxPooling2D(_Pooling):
    """``keras.layers.MaxPooling2D`` spec (``strides=None`` means ``pool_size``)."""

    _base: ClassVar[str] = "max_pooling2d"


@dataclass(frozen=True, slots=True)
class MaxPooling3D(_Pooling):
    """``keras.layers.MaxPooling3D`` spec: (N, D, H, W, C).

    >>> import convcalc
    >>> convcalc.plan(MaxPooling3D(), (1, 5, 6, 7, 2)).output_shape
    (1, 2, 3, 3, 2)
    """

    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "max_pooling3d"


@dataclass(frozen=True, slots=True)
class AveragePooling1D(_Pooling):
    """``keras.layers.AveragePooling1D`` spec."""

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "average_pooling1d"


@dataclass(frozen=True, slots=True)
class AveragePooling2D(_Pooling):
    """``keras.layers.AveragePooling2D`` spec."""

    _base: ClassVar[str] = "average_pooling2d"


@dataclass(frozen=True, slots=True)
class AveragePooling3D(_Pooling):
    """``keras.layers.AveragePooling3D`` spec."""

    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "average_pooling3d"


@dataclass(frozen=True, slots=True)
class GlobalAveragePooling2D(Layer):
    """``keras.layers.GlobalAveragePooling2D``: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."""

    data_format: str | None = None
    keepdims: bool = False
    _: KW_ONLY
    name: str | None = None
    _nd: ClassVar[int] = 2
    _base: ClassVar[str] = "global_average_pooling2d"

    def __post_init__(self) -> None:
        _channels_last_only(self.data_format, _args(self))
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        _channels_last(self, shape, self._nd, path)
        out_shape = (shape[0], *(1,) * self._nd, shape[-1]) if self.keepdims else (shape[0], shape[-1])
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class GlobalAveragePooling1D(GlobalAveragePooling2D):
    """``keras.layers.GlobalAveragePooling1D``: (N, L, C) -> (N, C), or (N, 1, C) with keepdims."""

    _nd: ClassVar[int] = 1
    _base: ClassVar[str] = "global_average_pooling1d"


@dataclass(frozen=True, slots=True)
class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """``keras.layers.GlobalAveragePooling3D``: (N, D, H, W, C) -> (N, C), or (N, 1, 1, 1, C) with keepdims."""

    _nd: ClassVar[int] = 3
    _base: ClassVar[str] = "global_average_pooling3d"


@dataclass(frozen=True, slots=True)
class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization``: gamma, beta trainable; moving mean and variance not.

    >>> import convcalc
    >>> row = convcalc.plan(BatchNormalization(), (1, 28, 28, 75)).rows[0]
    >>> row.trainable, row.non_trainable
    (150, 150)
    """

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True
    _: KW_ONLY
    name: str | None = None
    renorm: bool = False
    _base: ClassVar[str] = "batch_normalization"

    def __post_init__(self) -> None:
        args = _args(self)
        for name in ("center", "scale", "renorm"):
            flag(getattr(self, name), name, args)
        whole(self.axis, "axis")
        _named(self)

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        axis = self.axis - rank if self.axis >= 0 else self.axis
        return (axis,), "the size of gamma, beta and the moving statistics", True

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        axis = self.axis + len(shape) if self.axis < 0 else self.axis
        if not 0 < axis < len(shape):
            raise ShapeError(
                f"{self._where(path)}: axis={self.axis} is out of range for {shape}. Received: input_shape={shape}"
            )
        count = batchnorm_params(shape[axis], convention="keras")
        ctx.add_row(
            path,
            self.kind,
            shape,
            shape,
            # gamma and beta are one vector each: center and scale keep either
            trainable=count.trainable // 2 * (int(self.center) + int(self.scale)),
            # batch renormalization keeps three more statistics: the moving stddev, the renorm mean and stddev
            non_trainable=count.non_trainable // 2 * (5 if self.renorm else 2),
            receptive_field=rf,
        )
        return shape, rf


@dataclass(frozen=True, slots=True)
class Dense(Layer):
    """``keras.layers.Dense`` spec: acts on the last axis.

    ``lora_rank`` as in Keras: the kernel frozen, an ``(input_dim, rank)`` and a ``(rank, units)`` factor
    trained (the Conv layers take it too).

    >>> import convcalc
    >>> plan = convcalc.plan(Dense(8, lora_rank=2), (1, 16))
    >>> plan.trainable_params, plan.non_trainable_params
    (56, 128)
    """

    units: int
    activation: Any = None
    use_bias: bool = True
    _: KW_ONLY
    name: str | None = None
    lora_rank: int | None = None
    _base: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        whole(self.units, "units", minimum=1)
        if type(self.use_bias) is not bool:
            raise SpecError(f"use_bias must be True or False. {received(_args(self))}")
        _lora_rank(self.lora_rank)
        _named(self)
        _activation(self, self.activation)

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        return (-1,), "input features", False

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        if len(shape) < 2:
            raise ShapeError(
                f"{self._where(path)}: expects an input of at least 2 dims (batch, ..., features) but receives "
                f"{len(shape)}-D {shape}. Received: input_shape={shape}"
            )
        fin = shape[-1]
        out_shape = (*shape[:-1], self.units)
        rows = product(shape[1:-1])
        from convcalc._symbolic import to_sympy

        fin = to_sympy(fin)
        kernel, bias = _linear_count(fin, self.units, bias=False), self.units if self.use_bias else 0
        if self.lora_rank:  # LoRA: the kernel is frozen; an (input_dim, rank) and a (rank, units) matrix train
            trainable, frozen = bias + (fin + self.units) * self.lora_rank, kernel
        else:
            trainable, frozen = bias + kernel, 0
        ctx.add_row(
            path,
            self.kind,
            shape,
            out_shape,
            trainable=trainable,
            non_trainable=frozen,
            macs=rows * _linear_count(fin, self.units, bias=False),
            bias_adds=rows * self.units if self.use_bias else 0,
        )
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Flatten(Layer):
    """``keras.layers.Flatten``: (N, ...) -> (N, prod(...))."""

    data_format: str | None = None
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "flatten"

    def __post_init__(self) -> None:
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, _ = flow
        from convcalc._symbolic import as_integer_expr

        merged = product(shape[1:])
        merged = merged if type(merged) is int else as_integer_expr(merged)
        out_shape = (shape[0], merged)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Dropout(Layer):
    """``keras.layers.Dropout`` spec."""

    rate: float
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 <= self.rate <= 1:
            raise SpecError(f"rate must be between 0 and 1. Received: rate={self.rate!r}")
        _named(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=flow[1])
        return flow


@dataclass(frozen=True, slots=True)
class Activation(Layer):
    """``keras.layers.Activation`` spec."""

    activation: Any
    _: KW_ONLY
    name: str | None = None
    _base: ClassVar[str] = "activation"

    def __post_init__(self) -> None:
        _named(self)
        _activation(self, self.activation)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        ctx.add_row(path, self.kind, flow[0], flow[0], receptive_field=flow[1])
        return flow


@dataclass(frozen=True, slots=True)
class PReLU(Layer):
    """``keras.layers.PReLU`` spec: ``x`` where positive, ``alpha * x`` elsewhere, with a trainable ``alpha`` the
    shape of the input less its batch, of size 1 on each of ``shared_axes`` (one slope shared along it).

    The shape and the receptive field are kept, and no MACs are counted (an activation, as torch's ``nn.PReLU``
    is). Keras sets alpha's axis ``i - 1`` to 1 for each ``i`` of ``shared_axes`` as Python indexes a list: 1 is
    the first axis after the batch, and 0 and negative axes count alpha's axes from its last (0 is the last);
    any other axis is refused.

    >>> import convcalc
    >>> convcalc.plan(PReLU(shared_axes=[1, 2]), (1, 8, 8, 16)).rows[0].trainable
    16
    >>> convcalc.plan(PReLU(), (1, 8, 8, 16)).rows[0].trainable
    1024
    >>> convcalc.plan(PReLU(shared_axes=4, name="act"), (1, 8, 8, 16))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: act (PReLU): shared_axes=4 names axis 4, which alpha of a 4-D input cannot share: Keras sets alpha's axis i - 1 to 1, and alpha has the input's 3 axes after the batch, so the axes it takes are -2 to 3. Received: input_shape=(1, 8, 8, 16), shared_axes=4
    """

    _: KW_ONLY
    shared_axes: Any = None
    name: str | None = None
    _axes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _base: ClassVar[str] = "p_re_lu"

    def __post_init__(self) -> None:
        value = self.shared_axes
        items = () if value is None else tuple(value) if isinstance(value, (list, tuple)) else (value,)
        try:
            axes = tuple(whole(axis, "shared_axes") for axis in items)
        except SpecError:
            raise SpecError(
                f"shared_axes must be None, an axis or a list of axes (integers). {received(_args(self))}"
            ) from None
        object.__setattr__(self, "_axes", axes)
        _named(self)

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        # alpha fixes the rank and, as Keras' input spec says, every axis not named in shared_axes
        return tuple(i - rank for i in range(1, rank) if i not in self._axes), "the shape of alpha", True

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape, rf = flow
        alpha = list(shape[1:])
        n = len(alpha)
        for axis in self._axes:
            if not -n <= axis - 1 < n:
                takes = f"so the axes it takes are {1 - n} to {n}" if n else "so it takes none"
                raise ShapeError(
                    f"{self._where(path)}: shared_axes={self.shared_axes!r} names axis {axis}, which alpha of a "
                    f"{len(shape)}-D input cannot share: Keras sets alpha's axis i - 1 to 1, and alpha has the input's "
                    f"{n} axes after the batch, {takes}. Received: input_shape={shape}, "
                    f"shared_axes={self.shared_axes!r}"
                )
            alpha[axis - 1] = 1
        ctx.add_row(path, self.kind, shape, shape, trainable=product(alpha), receptive_field=rf)
        return flow


def _one_output(layer: Layer, after: Layer) -> None:
    """Keras' Sequential passes all a layer returns to the next: a layer of several outputs (``return_state``,
    ``Bidirectional(merge_mode=None)``) may only be the last, whose first output the plan gives."""
    count = layer._output_count
    if count > 1:
        raise SpecError(
            f"{after._name()} ({after.kind}): receives the {count} outputs of {layer._name()} ({layer.kind}), as "
            f"Keras' Sequential passes on all a layer returns, and takes one tensor (Keras: Layer {after._name()!r} "
            f"expects 1 input(s), but it received {count} input tensors); set return_state=False (for Bidirectional, "
            f"a merge_mode other than None), or build a Functional model that reads the output it needs "
            f"('{layer._name()}[1]' for the second). Received: layers={layer._name()!r}, {after._name()!r}"
        )


class Sequential(Layer):
    """``keras.Sequential([...])``: an optional ``Input`` first, then layers.

    ``built`` maps layer names to the input shapes their weights were built for (``None`` for a free
    size), as a model read from Keras has them: the model then refuses inputs those weights do not fit
    and makes Keras' checks of its input (see :func:`convcalc.from_keras`). A spec without it plans at
    any size its layers fit. A layer of several outputs (``return_state``) may only come last, as in Keras;
    the plan's output is then its first.

    >>> import convcalc
    >>> model = Sequential([Input((28, 28, 1)), Conv2D(8, 3), Flatten(), Dense(10)])
    >>> convcalc.plan(model).output_shape
    (1, 10)
    >>> built = Sequential([Input((28, 28, 1)), Conv2D(8, 3, name="conv")], built={"conv": (None, 28, 28, 1)})
    >>> convcalc.plan(built, (1, 28, 28, 3))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: conv (Conv2D): its weights were built for input_shape=(None, 28, 28, 1), which fixes axis -1 at 1 (input channels); the input has 3 there, which Keras refuses. The model's weights fit input_shape=(1, 28, 28, 1). Received: input_shape=(1, 28, 28, 3)
    """

    __slots__ = ("_built", "_default_input_shape", "layers", "name")
    layers: tuple[Layer, ...]
    name: str
    _default_input_shape: Shape | None
    _built: dict[str, tuple[Any, ...]] | None

    def __init__(self, layers: Any = None, name: str | None = None, *, built: Any = None) -> None:
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise SpecError(f"Sequential takes a list of layers. Received: layers={layers!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise SpecError(f"name must be a non-empty string. Received: name={name!r}")
        items = list(layers or [])
        shape = None
        if items and isinstance(items[0], Input):
            first = items.pop(0)
            shape = (first.batch_size or 1, *first.shape)
        elif items and getattr(items[0], "input_shape", None) is not None:
            shape = (1, *items[0].input_shape)
        for j, layer in enumerate(items):
            if not isinstance(layer, Layer) or isinstance(layer, Input):
                raise SpecError(
                    f"Sequential takes convcalc.keras layers (Input only first); item {j} is "
                    f"{type(layer).__name__}. Received: layers[{j}]={layer!r}"
                )
        for layer, after in itertools.pairwise(items):
            _one_output(layer, after)
        names = [layer._name() for layer in items]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SpecError(f"layer names must be unique; repeated: {sorted(dup)}. Received: names={names}")
        object.__setattr__(self, "layers", tuple(items))
        object.__setattr__(self, "name", name or _auto_name("sequential"))
        object.__setattr__(self, "_default_input_shape", shape)
        object.__setattr__(self, "_built", built_shapes(built))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Sequential is immutable")

    def __repr__(self) -> str:
        return f"Sequential({list(self.layers)!r}, name={self.name!r})"

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        given = flow[0]
        try:
            if self._built is not None:
                flow = keras_input(self, flow, ctx)
            for layer in self.layers:
                name = layer._name()
                if self._built is not None and name in self._built:
                    flow = fit_built(layer, self._built[name], flow, ctx, name)
                with counted_once(ctx, layer):
                    flow = layer._plan(flow, ctx, name)
        except ShapeError as exc:
            better = advised(self, given, exc)
            if better is None:
                raise
            raise better from None
        return flow
