"""More Keras layers, keras.ops calls and whole keras.applications models, with Keras 3 as the oracle.

Every expected value comes from real Keras: each layer's ``output.shape``, ``count_params()`` and its
trainable and non-trainable weights; where Keras refuses a layer or an input, convcalc refuses with a
ConvCalcError. The applications are built with ``weights=None`` (no network access).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import ConvCalcError, ShapeError, SpecError
from convcalc import keras as ks

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
L = keras.layers
ops = keras.ops


def weights(variables: Any) -> int:
    return sum(math.prod(v.shape) for v in variables)


def batch1(shape: Any) -> tuple[Any, ...]:
    return tuple(1 if d is None else d for d in shape)


def same_shape(planned: tuple[Any, ...], keras_shape: Any) -> bool:
    """A planned shape is Keras' with batch 1 where each size Keras leaves unknown is a symbolic one."""
    expected = (1, *keras_shape[1:])
    return len(planned) == len(expected) and all(
        (type(p) is not int) if e is None else p == e for p, e in zip(planned, expected, strict=True)
    )


def assert_plan_is_keras(plan: Any, model: Any, shaped: Any = None) -> None:
    """Every layer's row (found by name) has its Keras output shape and weights; so has the whole plan.
    ``shaped``: the same architecture built at the input planned, whose layers give the shapes."""
    rows = {r.name: r for r in plan.rows}
    for layer, sized in zip(model.layers, (shaped or model).layers, strict=True):
        if isinstance(layer, L.InputLayer):
            continue
        row, trainable = rows[layer.name], weights(layer.trainable_weights)
        assert same_shape(row.output_shape, sized.output.shape), (layer.name, row.output_shape, sized.output.shape)
        assert (row.trainable, row.non_trainable) == (trainable, layer.count_params() - trainable), layer.name
    assert same_shape(plan.output_shape, (shaped or model).layers[-1].output.shape)
    assert plan.total_params == model.count_params()
    assert plan.trainable_params == weights(model.trainable_weights)
    assert plan.non_trainable_params == weights(model.non_trainable_weights)


# --------------------------------------------------------------------------- #
# Each layer against Keras: (Keras class, arguments, per-sample input shape, input dtype)
# --------------------------------------------------------------------------- #

CASES: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = [
    ("Reshape", {"target_shape": (-1, 2)}, (4, 3)),
    ("Reshape", {"target_shape": (2, 6)}, (4, 3)),
    ("Reshape", {"target_shape": (-1,)}, (4, 3)),
    ("Reshape", {"target_shape": (4, 3, -1)}, (4, 3)),
    ("Reshape", {"target_shape": (1, 1, 32)}, (32,)),
    ("Reshape", {"target_shape": (5, -1)}, (4, 3)),
    ("Reshape", {"target_shape": (5,)}, (4, 3)),
    ("Reshape", {"target_shape": (0, -1)}, (4, 3)),
    ("Reshape", {"target_shape": (-1, -1)}, (4, 3)),
    ("Reshape", {"target_shape": (-2, 6)}, (4, 3)),
    ("Permute", {"dims": (2, 1)}, (4, 3)),
    ("Permute", {"dims": (2, 3, 1)}, (4, 5, 6)),
    ("Permute", {"dims": (2, 1)}, (4, 5, 6)),
    ("Permute", {"dims": (1, 1)}, (4, 3)),
    ("Permute", {"dims": (0, 1)}, (4, 3)),
    ("RepeatVector", {"n": 3}, (4,)),
    ("RepeatVector", {"n": 3}, (4, 5)),
    ("RepeatVector", {"n": 0}, (4,)),
    ("Normalization", {}, (4, 3)),
    ("Normalization", {"axis": (1, 2)}, (4, 3, 2)),
    ("Normalization", {"axis": None}, (4, 3)),
    ("Normalization", {"axis": 1, "invert": True}, (4, 3)),
    ("Normalization", {"mean": 2.0, "variance": 3.0}, (4, 3)),
    ("Normalization", {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 2.0, 3.0]}, (4, 3)),
    ("Normalization", {"mean": [1.0, 2.0], "variance": [1.0, 2.0]}, (4, 3)),
    ("Normalization", {"mean": 1.0}, (4, 3)),
    ("Normalization", {"axis": 3}, (4, 3)),
    ("Normalization", {"axis": 0}, (4, 3)),
    ("Normalization", {"axis": 1}, (None, 3)),
    ("Normalization", {"mean": True, "variance": 1.0}, (4, 3)),
    ("Normalization", {"mean": [True, False, True], "variance": [1.0, 2.0, 3.0]}, (4, 3)),
    ("Normalization", {"mean": 1.0, "variance": False}, (4, 3)),
    ("Normalization", {"axis": (2, -1)}, (4, 3)),
    ("Normalization", {"axis": (1, 1)}, (4, 3)),
    ("Normalization", {"axis": (2, -1)}, (4, 1)),
    ("Normalization", {"axis": (2, -1)}, (4, 3, 2)),
    ("Normalization", {"axis": (2, -1), "mean": [[1.0], [2.0], [3.0]], "variance": [[1.0], [1.0], [1.0]]}, (4, 3)),
    ("Normalization", {"axis": (2, -1), "mean": [[1.0, 2.0, 3.0]], "variance": [[1.0, 1.0, 1.0]]}, (4, 3)),
    ("RandomFlip", {}, (8, 9, 3)),
    ("RandomRotation", {"factor": 0.1}, (8, 9, 3)),
    ("RandomZoom", {"height_factor": 0.1}, (8, 9, 3)),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2}, (8, 9, 3)),
    ("RandomContrast", {"factor": 0.1}, (8, 9, 3)),
    ("RandomBrightness", {"factor": 0.1}, (8, 9, 3)),
    ("Resizing", {"height": 5, "width": 6}, (8, 9, 3)),
    ("Resizing", {"height": 5, "width": 6, "crop_to_aspect_ratio": True}, (8, 9, 3)),
    ("Resizing", {"height": 12, "width": 6, "pad_to_aspect_ratio": True}, (None, None, 3)),
    ("CenterCrop", {"height": 5, "width": 6}, (8, 9, 3)),
    ("CenterCrop", {"height": 10, "width": 16}, (8, 9, 3)),
    ("CenterCrop", {"height": 0, "width": 1}, (8, 9, 3)),
    ("CenterCrop", {"height": 8, "width": 0}, (8, 9, 3)),
    ("CenterCrop", {"height": 0, "width": 0}, (None, None, 3)),
    ("CenterCrop", {"height": -1, "width": 1}, (8, 9, 3)),
    ("RandomCrop", {"height": 5, "width": 6}, (8, 9, 3)),
    ("RandomCrop", {"height": 10, "width": 6}, (None, 9, 3)),
    ("GroupNormalization", {"groups": 2}, (4, 6)),
    ("GroupNormalization", {"groups": -1}, (4, 6)),
    ("GroupNormalization", {"groups": 3, "axis": 1, "center": False}, (6, 4)),
    ("GroupNormalization", {"groups": 4, "scale": False}, (5, 5, 8)),
    ("GroupNormalization", {"groups": 4}, (4, 6)),
    ("GroupNormalization", {"groups": 8}, (4, 6)),
    ("GroupNormalization", {"groups": 0}, (4, 6)),
    ("GroupNormalization", {"groups": 2, "axis": 0}, (4, 6)),
    ("GroupNormalization", {"groups": 2}, (4, None)),
    ("UnitNormalization", {}, (4, 6)),
    ("UnitNormalization", {"axis": (1, 2)}, (4, 6)),
    ("UnitNormalization", {"axis": 3}, (4, 6)),
    ("UnitNormalization", {"axis": ()}, (4, 6)),
    ("UnitNormalization", {"axis": []}, (4, 6)),
    ("UnitNormalization", {"axis": (0, 2)}, (4, 6)),
    ("UpSampling1D", {"size": 3}, (4, 6)),
    ("UpSampling1D", {}, (4, 5, 6)),
    ("UpSampling1D", {"size": 0}, (4, 6)),
    ("UpSampling3D", {"size": (1, 2, 3)}, (2, 3, 4, 6)),
    ("UpSampling3D", {"size": 2}, (2, 3, 4, 6)),
    ("UpSampling3D", {"size": (2, 2)}, (2, 3, 4, 6)),
    ("ZeroPadding2D", {"padding": ((1, 2), 3)}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": (1, (2, 3))}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": -1}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": -2}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": -3}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": -1}, (None, 5, 2)),
    ("ZeroPadding2D", {"padding": (-1, 2)}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": (1, 2, 3)}, (4, 5, 2)),
    ("Cropping2D", {"cropping": ((1, 2), 1)}, (6, 5, 2)),
    ("Cropping2D", {"cropping": (1, (1, 2))}, (6, 5, 2)),
    ("Cropping2D", {"cropping": -1}, (6, 5, 2)),
    ("Cropping2D", {"cropping": ((3, 3), 0)}, (6, 5, 2)),
    ("Cropping3D", {"cropping": ((1, 0), 1, (0, 1))}, (4, 4, 4, 2)),
    ("Cropping1D", {"cropping": -1}, (6, 2)),
    ("ZeroPadding1D", {"padding": (1, 2)}, (4, 6)),
    ("ZeroPadding1D", {"padding": 2}, (4, 6)),
    ("ZeroPadding1D", {"padding": (1, 2, 3)}, (4, 6)),
    ("ZeroPadding1D", {"padding": -1}, (4, 6)),
    ("ZeroPadding3D", {"padding": ((1, 2), (0, 1), (3, 0))}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": (1, 2, 3)}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": 2}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": (1, 2)}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": 2}, (3, 4, 6)),
    ("ZeroPadding3D", {"padding": ((1, 2), 3, (1, 1))}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": [1, (2, 3), [0, 1]]}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": ((1, 2), (3,), (1, 1))}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": ((1, 2), 3, -1)}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": -1}, (2, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": -1}, (None, 3, 4, 6)),
    ("ZeroPadding3D", {"padding": -2}, (4, 5, 4, 6)),
    ("ZeroPadding3D", {"padding": -2}, (2, 3, 4, 6)),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, (7,)),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, (7, 3)),
    ("Embedding", {"input_dim": 10, "output_dim": 4, "lora_rank": 2}, (7,)),
    ("Embedding", {"input_dim": 10, "output_dim": 4, "mask_zero": True}, (None,)),
    ("Embedding", {"input_dim": 0, "output_dim": 4}, (7,)),
]

_PASSTHROUGH = {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness"}


def _spec(cls: str, args: dict[str, Any]) -> Any:
    if cls in _PASSTHROUGH:
        return ks.Passthrough(cls)
    return getattr(ks, cls)(**args)


def _keras_model(cls: str, args: dict[str, Any], shape: tuple[Any, ...]) -> Any:
    dtype = "int32" if cls == "Embedding" else "float32"
    return keras.Sequential([keras.Input(shape, dtype=dtype), getattr(L, cls)(**args)])


@pytest.mark.parametrize(("cls", "args", "shape"), CASES, ids=lambda v: repr(v)[:30])
def test_each_layer_is_keras(cls: str, args: dict[str, Any], shape: tuple[Any, ...], tmp_path: Path) -> None:
    try:
        model = _keras_model(cls, args, shape)
    except (ValueError, TypeError, IndexError, RuntimeError):  # Keras refuses: so does convcalc
        sizes = (1, *(convcalc.symbols("d") if d is None else d for d in shape))
        with pytest.raises(ConvCalcError):
            convcalc.plan(ks.Sequential([_spec(cls, args)]), sizes)
        return
    plan = convcalc.plan(model)
    assert_plan_is_keras(plan, model)
    if cls in _PASSTHROUGH:
        assert model.count_params() == 0
        assert not model.layers[-1].weights
    path = tmp_path / "layer.keras"
    model.save(path)
    saved = convcalc.plan(str(path))
    assert (saved.rows, saved.output_shape) == (plan.rows, plan.output_shape)


def test_a_negative_padding_is_read_as_keras_holds_it(tmp_path: Path) -> None:
    """ZeroPadding3D(-1) holds ((-1, -1), (-1, -1), (-1, -1)), and its configuration says so: that padding (which
    Keras refuses written so) is read as the layer Keras built."""
    layer = L.ZeroPadding3D(-1, name="z")
    assert layer.padding == layer.get_config()["padding"] == ((-1, -1),) * 3
    model = keras.Sequential([keras.Input((2, 3, 4, 6)), layer])
    plan = convcalc.plan(model)
    assert_plan_is_keras(plan, model)
    assert plan.output_shape == (1, 0, 1, 2, 6)
    path = tmp_path / "crop.keras"
    model.save(path)
    assert convcalc.plan(str(path)).rows == plan.rows
    spec = convcalc.plan(ks.Sequential([ks.ZeroPadding3D(((-1, -1),) * 3, name="z")]), (1, 2, 3, 4, 6))
    assert spec.rows == plan.rows


def test_normalization_holds_a_mean_a_variance_and_a_count() -> None:
    x = keras.Input((5, 4, 3))
    layer = L.Normalization(axis=(-1, 1))
    model = keras.Model(x, layer(x))
    assert [tuple(w.shape) for w in layer.weights] == [(5, 3), (5, 3), ()]
    row = convcalc.plan(model).rows[0]
    assert (row.kind, row.trainable, row.non_trainable, row.macs) == ("Normalization", 0, 31, 0)


def test_an_adapted_normalization_keeps_its_configuration() -> None:
    layer = L.Normalization()
    layer.adapt(np.array([[1.0, 2.0], [3.0, 5.0]]))
    x = keras.Input((2,))
    model = keras.Model(x, layer(x))
    plan = convcalc.plan(model)
    assert (plan.total_params, plan.non_trainable_params) == (model.count_params(), 5)


def test_group_normalization_weights_fix_the_channels() -> None:
    model = keras.Sequential([keras.Input((None, 6)), L.GroupNormalization(groups=3, name="gn")])
    assert convcalc.plan(model, (1, 9, 6)).total_params == 12
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(model, (1, 9, 4))
    assert str(caught.value) == (
        "gn (GroupNormalization): its weights were built for input_shape=(None, None, 6), which fixes axis -1 at 6 "
        "(the size of gamma and beta); the input has 4 there, which Keras refuses. The model's weights fit "
        "input_shape=(1, 9, 6). Received: input_shape=(1, 9, 4)"
    )


def test_reshape_of_symbolic_sizes() -> None:
    h, w = convcalc.symbols("H W")
    model = keras.Sequential([keras.Input((None, None, 4)), L.Reshape((-1, 2), name="r")])
    plan = convcalc.plan(model)
    assert plan.output_shape == (1, 2 * h * w, 2)
    assert plan.constraints == ()
    odd = convcalc.plan(ks.Sequential([ks.Reshape((6, -1), name="r")]), (1, h, w, 3))
    assert [(c.form, c.kind, c.value) for c in odd.constraints] == [(3 * h * w, "divides", 6)]


# --------------------------------------------------------------------------- #
# The messages
# --------------------------------------------------------------------------- #

SPEC_ERRORS = [
    (
        lambda: ks.Reshape((-1, -1)),
        "There must be at most one unknown dimension (-1) in `target_shape`. Received: target_shape=(-1, -1)",
    ),
    (
        lambda: ks.Reshape((-2, 6)),
        "Each dimension in `target_shape` must be a non-negative integer, or `-1` for a single unknown dimension. "
        "Received: target_shape=(-2, 6)",
    ),
    (lambda: ks.Reshape(6), "target_shape must be a tuple of sizes, such as (-1, 8). Received: target_shape=6"),
    (
        lambda: ks.Permute((1, 1)),
        "Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` must be consecutive "
        "and start from 1. Received: dims=(1, 1)",
    ),
    (lambda: ks.RepeatVector(0), "Argument `n` should be a positive integer. Received: n=0"),
    (
        lambda: ks.Normalization(mean=1.0),
        "When setting values directly, both `mean` and `variance` must be set. Received: mean=1.0, variance=None",
    ),
    (
        lambda: ks.Normalization(mean=[1.0, 2.0], variance=[1.0]),
        "When setting values directly, `mean` and `variance` must have the same shape. "
        "Received: axis=-1, mean=[1.0, 2.0], variance=[1.0], invert=False",
    ),
    (
        lambda: ks.Normalization(mean=[[1.0]], variance=[[1.0]]),
        "The rank of `mean` must be less than or equal to the number of axes (1). "
        "Received: axis=-1, mean=[[1.0]], variance=[[1.0]], invert=False",
    ),
    (
        lambda: ks.GroupNormalization(groups=0),
        "Received an invalid value for argument `groups`, expected a positive integer (or `-1` for instance "
        "normalization). Received: groups=0",
    ),
    (lambda: ks.UpSampling1D(0), "Argument `size` should be a positive integer. Received: size=0"),
    (
        lambda: ks.UpSampling3D((2, 2)),
        "The `size` argument must be a tuple of 3 integers. Received: size=(2, 2), data_format=None",
    ),
    (
        lambda: ks.ZeroPadding1D((1, 2, 3)),
        "The `padding` argument must be a tuple of 2 integers. Received: padding=(1, 2, 3), data_format=None",
    ),
    (
        lambda: ks.ZeroPadding3D((1, 2)),
        "`padding` should have 3 elements. Received: padding=(1, 2), data_format=None",
    ),
    (lambda: ks.Embedding(0, 4), "`input_dim` must be a positive integer. Received: input_dim=0"),
    (lambda: ks.Embedding(10, 0), "`output_dim` must be a positive integer. Received: output_dim=0"),
    (
        lambda: ks.Resizing(5, 6, data_format="channels_first"),
        "convcalc.keras plans channels_last models only. Received: height=5, width=6, interpolation='bilinear', "
        "crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0, "
        "antialias=False, data_format='channels_first'",
    ),
    (
        lambda: ks.Operation("Relu6", constant_shape=()),
        "Relu6 takes one tensor and no constant. Received: op='Relu6', constant_shape=()",
    ),
]


@pytest.mark.parametrize(("make", "message"), SPEC_ERRORS, ids=lambda v: v if isinstance(v, str) else "")
def test_arguments_are_checked_as_keras_checks_them(make: Any, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message


SHAPE_ERRORS = [
    (
        ks.Reshape((5,), name="r"),
        (1, 4, 3),
        "r (Reshape): the total size of the tensor must be unchanged: the input holds 12 values per sample, "
        "target_shape=(5,) holds 5. Received: input_shape=(1, 4, 3), target_shape=(5,)",
    ),
    (
        ks.Reshape((5, -1), name="r"),
        (1, 4, 3),
        "r (Reshape): the total size of the tensor must be unchanged: the input holds 12 values per sample, "
        "target_shape=(5, -1) holds a multiple of 5. Received: input_shape=(1, 4, 3), target_shape=(5, -1)",
    ),
    (
        ks.Reshape((0, -1), name="r"),
        (1, 4, 3),
        "r (Reshape): the total size of the tensor must be unchanged: the input holds 12 values per sample, "
        "target_shape=(0, -1) holds 0 whatever the -1. Received: input_shape=(1, 4, 3), target_shape=(0, -1)",
    ),
    (
        ks.Permute((2, 1), name="p"),
        (1, 4, 5, 6),
        "p (Permute): dims=(2, 1) takes a 3-D input (batch first) but receives 4-D (1, 4, 5, 6). "
        "Received: input_shape=(1, 4, 5, 6)",
    ),
    (
        ks.RepeatVector(3, name="rv"),
        (1, 4, 5),
        "rv (RepeatVector): expects a 2-D input (batch, features) but receives 3-D (1, 4, 5). "
        "Received: input_shape=(1, 4, 5)",
    ),
    (
        ks.Normalization(axis=3, name="n"),
        (1, 4, 3),
        "n (Normalization): All `axis` values must be in the range [-ndim, ndim); the input is 3-D and axis=3. "
        "Received: input_shape=(1, 4, 3)",
    ),
    (
        ks.Normalization(axis=0, name="n"),
        (1, 4, 3),
        "n (Normalization): All `axis` values to be kept must have a known shape; axis 0 is the batch axis, which "
        "Keras leaves unknown. Received: input_shape=(1, 4, 3), axis=0",
    ),
    (
        ks.Normalization(mean=[1.0, 2.0], variance=[1.0, 2.0], name="n"),
        (1, 4, 3),
        "n (Normalization): mean and variance of shape (2,) do not broadcast to the kept axes' sizes (3,): 2 "
        "against 3. Received: input_shape=(1, 4, 3), axis=-1",
    ),
    (
        ks.GroupNormalization(groups=8, name="gn"),
        (1, 4, 6),
        "gn (GroupNormalization): Number of groups (8) cannot be more than the number of channels (6). "
        "Received: input_shape=(1, 4, 6)",
    ),
    (
        ks.GroupNormalization(groups=4, name="gn"),
        (1, 4, 6),
        "gn (GroupNormalization): the number of channels (6) must be a multiple of the number of groups (4). "
        "Received: input_shape=(1, 4, 6)",
    ),
    (
        ks.GroupNormalization(groups=2, axis=0, name="gn"),
        (1, 4, 6),
        "gn (GroupNormalization): Axis 0 of input tensor should have a defined dimension; it is the batch axis, "
        "which Keras leaves unknown. Received: input_shape=(1, 4, 6)",
    ),
    (
        ks.GroupNormalization(groups=2, axis=3, name="gn"),
        (1, 4, 6),
        "gn (GroupNormalization): axis=3 is out of range for a 3-D input; use an axis from -3 to 2. "
        "Received: input_shape=(1, 4, 6)",
    ),
    (
        ks.UnitNormalization(axis=3, name="u"),
        (1, 4, 6),
        "u (UnitNormalization): axis=3 is out of range for a 3-D input; use an axis from -3 to 2. "
        "Received: input_shape=(1, 4, 6)",
    ),
    (
        ks.Resizing(5, 6, name="rs"),
        (1, 8, 9),
        "rs (Resizing): expects a 4-D input (batch, height, width, channels) but receives 3-D (1, 8, 9) (Keras "
        "takes a 3-D one for a single image without its batch axis). Received: input_shape=(1, 8, 9)",
    ),
    (
        ks.ZeroPadding3D(2, name="z"),
        (1, 3, 4, 6),
        "z (ZeroPadding3D): expects a 5-D input (batch, *spatial, channels) but receives 4-D (1, 3, 4, 6). "
        "Received: input_shape=(1, 3, 4, 6)",
    ),
]


@pytest.mark.parametrize(("layer", "shape", "message"), SHAPE_ERRORS, ids=lambda v: v if isinstance(v, str) else "")
def test_inputs_keras_refuses_are_refused_saying_why(layer: Any, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(ks.Sequential([layer]), shape)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- #
# keras.ops in a functional model
# --------------------------------------------------------------------------- #


def _ops_model() -> Any:
    x = keras.Input((6, 6, 3), name="x")
    y = L.Conv2D(8, 3, padding="same", name="conv")(x)
    gate = ops.multiply(L.ReLU(6.0, name="relu")(y + 3.0), 1.0 / 6.0)  # MobileNetV3's hard sigmoid
    y = y * gate
    y = 1.0 - y / 2.0
    squeeze = L.GlobalAveragePooling2D(keepdims=True, name="gap")(y)
    y = ops.relu6(y * squeeze)  # two tensors: numpy broadcasting
    y = y + keras.ops.convert_to_numpy(ops.ones((8,)))  # a constant array
    return keras.Model(x, L.Flatten(name="flat")(y))


def test_ops_with_python_numbers_are_elementwise_rows(tmp_path: Path) -> None:
    model = _ops_model()
    plan = convcalc.plan(model)
    assert_plan_is_keras(plan, model)
    ops_rows = [
        (r.kind, r.output_shape, r.params, r.macs) for r in plan.rows if r.name not in {"conv", "relu", "gap", "flat"}
    ]
    assert ops_rows == [
        ("Add", (1, 6, 6, 8), 0, 0),
        ("Multiply", (1, 6, 6, 8), 0, 0),
        ("Multiply", (1, 6, 6, 8), 0, 0),
        ("TrueDivide", (1, 6, 6, 8), 0, 0),
        ("Subtract", (1, 6, 6, 8), 0, 0),
        ("Multiply", (1, 6, 6, 8), 0, 0),
        ("Relu6", (1, 6, 6, 8), 0, 0),
        ("Add", (1, 6, 6, 8), 0, 0),
    ]
    path = tmp_path / "ops.keras"
    model.save(path)
    saved = convcalc.plan(str(path))
    assert (saved.rows, saved.output_shape) == (plan.rows, plan.output_shape)


def test_an_op_convcalc_cannot_follow_is_refused_naming_it() -> None:
    x = keras.Input((4, 3), name="x")
    model = keras.Model(x, ops.sum(x, axis=1))
    with pytest.raises(SpecError) as caught:
        convcalc.plan(model)
    assert str(caught.value) == (
        "sum (keras.ops Sum): convcalc cannot read this keras.ops operation; it reads the elementwise ones "
        "(Absolute, Add, Cast, Ceil, Celu, Divide, Elu, Equal, Exp, Floor, FloorDivide, Gelu, Greater, "
        "GreaterEqual, HardSigmoid, HardSilu, LeakyRelu, Less, LessEqual, Log, LogSigmoid, LogSoftmax, Maximum, "
        "Minimum, Mod, Multiply, Negative, NotEqual, Power, Reciprocal, Relu, Relu6, Rsqrt, Selu, Sigmoid, Sign, "
        "Silu, Softmax, Softplus, Softsign, Sqrt, Square, Subtract, Tanh, TrueDivide). Received: operation='Sum'"
    )


def test_ops_that_do_not_broadcast_are_refused() -> None:
    x = ks.Input((4, 4, 3), name="x")
    calls = [(ks.Conv2D(2, 1, name="c"), "x"), (ks.Operation("Add", name="add"), ("x", "c"))]
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(ks.Functional(x, calls))
    assert str(caught.value) == (
        "add (Add): Operands could not be broadcast together on axis 3: 3 != 2. "
        "Received: input_shapes=[(1, 4, 4, 3), (1, 4, 4, 2)]"
    )
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(ks.Functional(x, [(ks.Operation("Multiply", name="m"), "x")]))
    assert str(caught.value) == (
        "m (Multiply): keras.ops Multiply here takes two tensors; it receives 1 tensors. "
        "Received: input_shapes=[(1, 4, 4, 3)]"
    )


# --------------------------------------------------------------------------- #
# Whole applications (weights=None: nothing is downloaded)
# --------------------------------------------------------------------------- #

APPS = {
    "MobileNet": lambda **kw: keras.applications.MobileNet(weights=None, input_shape=(224, 224, 3), **kw),
    "MobileNetV2": lambda **kw: keras.applications.MobileNetV2(weights=None, **kw),
    "MobileNetV3Small": lambda **kw: keras.applications.MobileNetV3Small(weights=None, input_shape=(224, 224, 3), **kw),
    "MobileNetV3Large": lambda **kw: keras.applications.MobileNetV3Large(weights=None, input_shape=(224, 224, 3), **kw),
    "EfficientNetB0": lambda **kw: keras.applications.EfficientNetB0(weights=None, **kw),
    "EfficientNetB1": lambda **kw: keras.applications.EfficientNetB1(weights=None, **kw),
}

#: Keras' count_params() of each
APP_PARAMS = {
    "MobileNet": 4253864,
    "MobileNetV2": 3538984,
    "MobileNetV3Small": 2554968,
    "MobileNetV3Large": 5507432,
    "EfficientNetB0": 5330571,
    "EfficientNetB1": 7856239,
}


@pytest.mark.parametrize("name", list(APPS))
def test_applications_plan_as_keras_counts_them(name: str) -> None:
    model = APPS[name]()
    plan = convcalc.plan(model)
    assert_plan_is_keras(plan, model)
    assert plan.total_params == APP_PARAMS[name]


def test_mobilenet_v3_with_a_free_input_size() -> None:
    model = keras.applications.MobileNetV3Small(weights=None)  # Input (None, None, 3)
    sized = APPS["MobileNetV3Small"]()
    plan = convcalc.plan(model)
    assert (plan.output_shape, plan.total_params) == ((1, 1000), model.count_params())
    assert_plan_is_keras(convcalc.plan(model, (1, 224, 224, 3)), model, sized)


def test_a_saved_application_plans_as_the_live_one(tmp_path: Path) -> None:
    model = APPS["MobileNetV3Small"]()
    path = tmp_path / "mobilenet_v3_small.keras"
    model.save(path)
    live, saved = convcalc.plan(model), convcalc.plan(str(path))
    assert_plan_is_keras(saved, model)
    assert (saved.rows, saved.macs) == (live.rows, live.macs)


_RANKED = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "RandomFlip", "RandomRotation", "RandomZoom"]


@pytest.mark.parametrize("cls", _RANKED)
@pytest.mark.parametrize("shape", [(6,), (6, 5), (6, 5, 3), (4, 6, 5, 3)])
def test_shape_keeping_layers_take_the_ranks_keras_builds_them_for(cls: str, shape: tuple[int, ...]) -> None:
    # a channel dropout or an augmentation of another rank: Keras refuses it, convcalc planned it
    args = {"SpatialDropout1D": (0.2,), "SpatialDropout2D": (0.2,), "SpatialDropout3D": (0.2,)}.get(cls, (0.1,))
    if cls == "RandomFlip":
        args = ()
    try:
        x = keras.Input(shape)
        keras.Model(x, getattr(L, cls)(*args)(x))(np.ones((2, *shape), "float32"))
        builds = True
    except (ValueError, TypeError, RuntimeError):
        builds = False
    model = ks.Sequential([ks.Passthrough(cls)])
    if builds:
        assert convcalc.plan(model, (2, *shape)).output_shape == (2, *shape)
    else:
        with pytest.raises(ConvCalcError):
            convcalc.plan(model, (2, *shape))


# --------------------------------------------------------------------------- #
# Arguments by position, in Keras' order
# --------------------------------------------------------------------------- #


def _positional(signature: Any) -> list[str]:
    return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", [n for n in ks.__all__ if hasattr(L, n) or n == "Input"])
def test_arguments_by_position_are_keras_own_in_its_order(name: str) -> None:
    # code written for Keras passes its leading arguments by position; each lands on the argument of that name,
    # and convcalc's own extras (``name``, ``lora_rank``, ``mask_zero``, ...) are taken by keyword only, as Keras
    # takes them (``Concatenate(1)`` is its axis, ``Resizing(5, 6, "nearest")`` its interpolation)
    import inspect

    theirs = keras.Input if name == "Input" else getattr(L, name)
    keras_order = _positional(inspect.signature(theirs if name == "Input" else theirs.__init__))
    ours = _positional(inspect.signature(getattr(ks, name)))
    # every argument convcalc takes by position is Keras' at that position (and no more than Keras takes)
    assert ours == keras_order[: len(ours)], (ours, keras_order)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (lambda: ks.Resizing(5, 6, "nearest", True), lambda: L.Resizing(5, 6, "nearest", True), (8, 9, 3)),
        (lambda: ks.RandomCrop(5, 6, 42), lambda: L.RandomCrop(5, 6, 42), (8, 9, 3)),
        (lambda: ks.CenterCrop(5, 6, "channels_last"), lambda: L.CenterCrop(5, 6, "channels_last"), (8, 9, 3)),
        (lambda: ks.Embedding(30, 4), lambda: L.Embedding(30, 4, "uniform"), (7,)),
    ],
)
def test_a_layer_given_keras_positional_arguments_plans_as_keras_builds_it(ours: Any, theirs: Any, shape: Any) -> None:
    layer = theirs()
    x = keras.Input(shape, dtype="int32" if len(shape) == 1 else "float32")
    expected = keras.Model(x, layer(x)).output_shape
    plan = convcalc.plan(ks.Sequential([ours()]), (1, *shape))
    assert same_shape(plan.output_shape, expected)
    assert plan.total_params == layer.count_params()


def test_extras_by_position_are_refused_naming_the_keyword() -> None:
    with pytest.raises(SpecError, match=r"Embedding\(\) takes .* positional"):
        ks.Embedding(30, 4, "uniform")
    with pytest.raises(SpecError, match=r"Dropout\(\) takes .* positional"):
        ks.Dropout(0.5, "drop")
    assert ks.Concatenate(2).axis == 2
