"""convcalc.keras.more against Keras: the messages and rules of Reshape, Permute, RepeatVector, the normalizations,
the image preprocessing layers, padding and up-sampling in 1-D and 3-D, Embedding and keras.ops calls.

Every accepted argument is one Keras accepts, with the output shape and weights Keras gives (checked live against
Keras where a row is compared), ZeroPadding3D's ((p, p), (p, p), (p, p)) for one negative p aside: Keras refuses it
written so, but it is the padding ZeroPadding3D(p) holds and its configuration gives, which a model read from Keras
passes. Every refused one is one Keras refuses too (when it builds the layer, or when it runs it), channels_first
aside (convcalc plans channels_last models only), and the message asserted is convcalc's, whole. A layer called a
second time names its second call.
"""

from __future__ import annotations

from typing import Any

import pytest

import convcalc
from convcalc import ReceptiveField, ShapeError, SpecError
from convcalc import keras as ks

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
L = keras.layers


def _spec_message(make: Any) -> str:
    with pytest.raises(SpecError) as caught:
        make()
    return str(caught.value)


def _shape_error(model: Any, shape: Any = None) -> ShapeError:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(model, shape)
    return caught.value


def _keras_run(layer: Any, shape: tuple[Any, ...], dtype: str = "float32") -> None:
    """Build ``layer`` on ``shape`` (batch first; None for a size left free) and run it on ones (a free size: 4)."""
    x = keras.Input(shape[1:], batch_size=shape[0], dtype=dtype)
    keras.Model(x, layer(x))(np.ones(tuple(4 if d is None else d for d in shape), dtype=dtype))


def _keras_counts(layer: Any, shape: tuple[Any, ...], dtype: str = "float32") -> tuple[tuple[Any, ...], int, int]:
    """Keras' output shape (batch 1), trainable and non-trainable weights of ``layer`` on a batch-1 ``shape``."""
    x = keras.Input(shape[1:], batch_size=shape[0], dtype=dtype)
    model = keras.Model(x, layer(x))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return tuple(model.output.shape), trainable, frozen


# --------------------------------------------------------------------------- #
# Rows: kind, input and output shapes, weights (as Keras counts them), receptive field
# --------------------------------------------------------------------------- #

RF1 = (ReceptiveField(1, 1, 0),)

ROWS = {
    # name: (convcalc layer, Keras layer, input shape, output shape, trainable, non-trainable, receptive field)
    "reshape": (lambda: ks.Reshape((-1, 2)), lambda: L.Reshape((-1, 2)), (1, 4, 3), (1, 6, 2), 0, 0, None),
    "reshape int": (lambda: ks.Reshape((2, 6)), lambda: L.Reshape((2, 6)), (1, 4, 3), (1, 2, 6), 0, 0, None),
    "permute": (lambda: ks.Permute((2, 1)), lambda: L.Permute((2, 1)), (1, 4, 3), (1, 3, 4), 0, 0, None),
    "repeat once": (lambda: ks.RepeatVector(1), lambda: L.RepeatVector(1), (1, 4), (1, 1, 4), 0, 0, None),
    "normalization": (lambda: ks.Normalization(), lambda: L.Normalization(), (1, 4, 3), (1, 4, 3), 0, 7, RF1),
    "normalization no axis": (
        lambda: ks.Normalization(axis=None),
        lambda: L.Normalization(axis=None),
        (1, 4, 3),
        (1, 4, 3),
        0,
        3,
        RF1,
    ),
    "normalization given": (
        lambda: ks.Normalization(axis=(-1, 1), mean=np.zeros((4, 3)), variance=np.ones((4, 3))),
        lambda: L.Normalization(axis=(-1, 1), mean=np.zeros((4, 3)), variance=np.ones((4, 3))),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "normalization broadcast": (
        lambda: ks.Normalization(axis=(1, 2), mean=np.zeros((4, 1)), variance=np.ones((4, 1))),
        lambda: L.Normalization(axis=(1, 2), mean=np.zeros((4, 1)), variance=np.ones((4, 1))),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "normalization torch": (
        lambda: ks.Normalization(mean=torch.tensor([1.0, 2.0, 3.0]), variance=torch.tensor([1.0, 2.0, 3.0])),
        lambda: L.Normalization(mean=torch.tensor([1.0, 2.0, 3.0]), variance=torch.tensor([1.0, 2.0, 3.0])),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "group normalization one group": (
        lambda: ks.GroupNormalization(groups=1),
        lambda: L.GroupNormalization(groups=1),
        (1, 4, 6),
        (1, 4, 6),
        12,
        0,
        RF1,
    ),
    "group normalization per channel": (
        lambda: ks.GroupNormalization(groups=-1, axis=1),
        lambda: L.GroupNormalization(groups=-1, axis=1),
        (1, 4, 6),
        (1, 4, 6),
        8,
        0,
        RF1,
    ),
    "unit normalization": (
        lambda: ks.UnitNormalization(axis=-3),
        lambda: L.UnitNormalization(axis=-3),
        (1, 4, 6),
        (1, 4, 6),
        0,
        0,
        RF1,
    ),
    "center crop": (lambda: ks.CenterCrop(1, 1), lambda: L.CenterCrop(1, 1), (1, 8, 9, 3), (1, 1, 1, 3), 0, 0, None),
    "center crop to nothing": (
        lambda: ks.CenterCrop(0, 9),
        lambda: L.CenterCrop(0, 9),
        (1, 8, 9, 3),
        (1, 0, 9, 3),
        0,
        0,
        None,
    ),
    "unit normalization no axis": (
        lambda: ks.UnitNormalization(axis=()),
        lambda: L.UnitNormalization(axis=()),
        (1, 4, 6),
        (1, 4, 6),
        0,
        0,
        RF1,
    ),
    "normalization bool mean": (
        lambda: ks.Normalization(mean=True, variance=1.0),
        lambda: L.Normalization(mean=True, variance=1.0),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "normalization complex mean": (
        lambda: ks.Normalization(mean=np.array([1.0, 2.0, 3.0j]), variance=np.full(3, 1.0 + 0j)),
        lambda: L.Normalization(mean=np.array([1.0, 2.0, 3.0j]), variance=np.full(3, 1.0 + 0j)),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "normalization axis twice of size 1": (
        lambda: ks.Normalization(axis=(2, -1)),
        lambda: L.Normalization(axis=(2, -1)),
        (1, 4, 1),
        (1, 4, 1),
        0,
        3,
        RF1,
    ),
    "normalization axis twice with a mean that fits": (
        lambda: ks.Normalization(axis=(2, -1), mean=np.zeros((3, 1)), variance=np.ones((3, 1))),
        lambda: L.Normalization(axis=(2, -1), mean=np.zeros((3, 1)), variance=np.ones((3, 1))),
        (1, 4, 3),
        (1, 4, 3),
        0,
        0,
        RF1,
    ),
    "zero padding 3d mixed": (
        lambda: ks.ZeroPadding3D(((1, 2), 3, (0, 1))),
        lambda: L.ZeroPadding3D(((1, 2), 3, (0, 1))),
        (1, 2, 3, 4, 6),
        (1, 5, 9, 5, 6),
        0,
        0,
        (ReceptiveField(1, 1, -1), ReceptiveField(1, 1, -3), ReceptiveField(1, 1, 0)),
    ),
    "zero padding 3d negative": (
        lambda: ks.ZeroPadding3D(-1),
        lambda: L.ZeroPadding3D(-1),
        (1, 2, 3, 4, 6),
        (1, 0, 1, 2, 6),
        0,
        0,
        (ReceptiveField(1, 1, 1),) * 3,
    ),
    "resizing": (lambda: ks.Resizing(5, 6), lambda: L.Resizing(5, 6), (1, 8, 9, 3), (1, 5, 6, 3), 0, 0, None),
    "zero padding 1d none": (
        lambda: ks.ZeroPadding1D(0),
        lambda: L.ZeroPadding1D(0),
        (1, 4, 6),
        (1, 4, 6),
        0,
        0,
        RF1,
    ),
    "zero padding 1d end": (
        lambda: ks.ZeroPadding1D((0, 2)),
        lambda: L.ZeroPadding1D((0, 2)),
        (1, 4, 6),
        (1, 6, 6),
        0,
        0,
        RF1,
    ),
    "zero padding 1d start": (
        lambda: ks.ZeroPadding1D((2, 0)),
        lambda: L.ZeroPadding1D((2, 0)),
        (1, 4, 6),
        (1, 6, 6),
        0,
        0,
        (ReceptiveField(1, 1, -2),),
    ),
    "zero padding 3d ints": (
        lambda: ks.ZeroPadding3D((1, 2, 3)),
        lambda: L.ZeroPadding3D((1, 2, 3)),
        (1, 2, 3, 4, 6),
        (1, 4, 7, 10, 6),
        0,
        0,
        (ReceptiveField(1, 1, -1), ReceptiveField(1, 1, -2), ReceptiveField(1, 1, -3)),
    ),
    "zero padding 3d zeros": (
        lambda: ks.ZeroPadding3D((0, 0, 0)),
        lambda: L.ZeroPadding3D((0, 0, 0)),
        (1, 2, 3, 4, 6),
        (1, 2, 3, 4, 6),
        0,
        0,
        RF1 * 3,
    ),
    "zero padding 3d zero pairs": (
        lambda: ks.ZeroPadding3D(((0, 0), (0, 0), (0, 0))),
        lambda: L.ZeroPadding3D(((0, 0), (0, 0), (0, 0))),
        (1, 2, 3, 4, 6),
        (1, 2, 3, 4, 6),
        0,
        0,
        RF1 * 3,
    ),
    "zero padding 3d zero": (
        lambda: ks.ZeroPadding3D(0),
        lambda: L.ZeroPadding3D(0),
        (1, 2, 3, 4, 6),
        (1, 2, 3, 4, 6),
        0,
        0,
        RF1 * 3,
    ),
    "up-sampling 3d": (
        lambda: ks.UpSampling3D((1, 1, 2)),
        lambda: L.UpSampling3D((1, 1, 2)),
        (1, 2, 3, 4, 6),
        (1, 2, 3, 8, 6),
        0,
        0,
        None,
    ),
    "up-sampling 1d once": (
        lambda: ks.UpSampling1D(1),
        lambda: L.UpSampling1D(1),
        (1, 4, 6),
        (1, 4, 6),
        0,
        0,
        None,
    ),
    "embedding": (lambda: ks.Embedding(1, 1), lambda: L.Embedding(1, 1), (1, 7), (1, 7, 1), 1, 0, None),
    "embedding lora off": (
        lambda: ks.Embedding(10, 4, lora_rank=0),
        lambda: L.Embedding(10, 4, lora_rank=0),
        (1, 7),
        (1, 7, 4),
        40,
        0,
        None,
    ),
    "embedding lora 1": (
        lambda: ks.Embedding(10, 4, lora_rank=1),
        lambda: L.Embedding(10, 4, lora_rank=1),
        (1, 7),
        (1, 7, 4),
        14,
        40,
        None,
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_each_row_is_keras(name: str) -> None:
    spec, keras_layer, shape, out, trainable, frozen, rf = ROWS[name]
    layer = spec()
    row = convcalc.plan(ks.Sequential([layer]), shape).rows[0]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == (layer.name, type(layer).__name__, shape, out)
    assert (row.trainable, row.non_trainable, row.receptive_field) == (trainable, frozen, rf)
    dtype = "int32" if type(layer).__name__ == "Embedding" else "float32"
    assert _keras_counts(keras_layer(), shape, dtype) == (out, trainable, frozen)


def test_rows_keep_the_receptive_field_they_receive() -> None:
    """After a strided convolution (size 3, jump 2) the shape-keeping layers pass it on; a zero padding moves its
    start back by the pad times the jump; a reshape, permute, crop or up-sampling drops it."""
    conv = ks.Conv1D(3, 3, strides=2, name="conv")
    strided = ReceptiveField(3, 2, 0)
    layers = [
        ks.Normalization(name="n"),
        ks.GroupNormalization(groups=3, name="gn"),
        ks.UnitNormalization(name="u"),
        ks.Operation("Relu", name="relu"),
        ks.ZeroPadding1D((2, 1), name="pad"),
    ]
    plan = convcalc.plan(ks.Sequential([conv, *layers]), (1, 9, 2))
    assert [(r.name, r.output_shape, r.receptive_field) for r in plan.rows[1:]] == [
        ("n", (1, 4, 3), (strided,)),
        ("gn", (1, 4, 3), (strided,)),
        ("u", (1, 4, 3), (strided,)),
        ("relu", (1, 4, 3), (strided,)),
        ("pad", (1, 7, 3), (ReceptiveField(3, 2, -4),)),
    ]
    model = keras.Sequential([keras.Input((9, 2), batch_size=1), L.Conv1D(3, 3, strides=2), L.ZeroPadding1D((2, 1))])
    assert tuple(model.outputs[0].shape) == (1, 7, 3)

    conv3 = ks.Conv3D(2, 3, strides=2, name="conv")
    pad3 = ks.ZeroPadding3D(((1, 0), (2, 0), (0, 3)), name="pad")
    row = convcalc.plan(ks.Sequential([conv3, pad3]), (1, 5, 6, 7, 2)).rows[1]
    assert (row.output_shape, row.receptive_field) == (
        (1, 3, 4, 6, 2),
        (ReceptiveField(3, 2, -2), ReceptiveField(3, 2, -4), ReceptiveField(3, 2, 0)),
    )
    model = keras.Sequential(
        [keras.Input((5, 6, 7, 2), batch_size=1), L.Conv3D(2, 3, strides=2), L.ZeroPadding3D(((1, 0), (2, 0), (0, 3)))]
    )
    assert tuple(model.outputs[0].shape) == (1, 3, 4, 6, 2)

    # after a reshape there is no receptive field to shift
    flat = ks.Reshape((2, 3, 4, 6), name="r")
    rows = convcalc.plan(ks.Sequential([flat, ks.ZeroPadding3D(1, name="pad")]), (1, 144)).rows
    assert [(r.output_shape, r.receptive_field) for r in rows] == [((1, 2, 3, 4, 6), None), ((1, 4, 5, 6, 6), None)]


# --------------------------------------------------------------------------- #
# keras.ops calls: operands, numpy broadcasting, receptive fields
# --------------------------------------------------------------------------- #

BROADCASTS = [
    # (constant shape, per-sample input shape, output shape): Keras' x + np.ones(constant) on a batch of 1
    ((5, 1), (1, 3), (1, 5, 3)),
    ((5, 1, 3), (3,), (5, 1, 3)),
    ((0,), (1,), (1, 0)),
    ((), (4, 3), (1, 4, 3)),
]


@pytest.mark.parametrize(("constant", "shape", "out"), BROADCASTS)
def test_an_op_with_a_constant_broadcasts_as_numpy(constant: tuple[int, ...], shape: Any, out: Any) -> None:
    x = keras.Input(shape, batch_size=1)
    assert tuple((x + np.ones(constant, "float32")).shape) == out
    add = ks.Operation("Add", constant_shape=constant, name="add")
    row = convcalc.plan(ks.Sequential([add]), (1, *shape)).rows[0]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == ("add", "Add", (1, *shape), out)
    # a shape the constant changes has no receptive field; one it keeps passes it on
    assert row.receptive_field == (None if out != (1, *shape) else (ReceptiveField(1, 1, 0),))


def test_an_op_on_two_tensors_sees_the_union_of_their_windows() -> None:
    x = ks.Input((6, 3), name="x")
    calls = [(ks.Conv1D(3, 3, padding="same", name="c"), "x"), (ks.Operation("Add", name="add"), ("x", "c"))]
    row = convcalc.plan(ks.Functional(x, calls)).rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape, row.receptive_field) == (
        "add",
        "Add",
        (1, 6, 3),
        (1, 6, 3),
        (ReceptiveField(3, 1, -1),),  # [0, 1) and [-1, 2)
    )
    left = keras.Input((6, 3), batch_size=1)
    assert tuple((left + L.Conv1D(3, 3, padding="same")(left)).shape) == (1, 6, 3)
    # a tensor of one position broadcast along the axis: every output reads the same one, no window moves
    crop = ks.Cropping1D((0, 5), name="crop")
    calls = [(crop, "x"), (ks.Operation("Multiply", name="gate"), ("x", "crop"))]
    assert convcalc.plan(ks.Functional(x, calls)).rows[-1].receptive_field is None


def test_an_op_on_a_symbolic_size_records_the_size_it_needs() -> None:
    h = convcalc.symbols("H")
    plan = convcalc.plan(ks.Sequential([ks.Operation("Add", constant_shape=(5, 3), name="add")]), (1, h, 3))
    assert plan.rows[0].output_shape == (1, h, 3)
    assert plan.constraints == (convcalc.Constraint("add", 0, h - 5, "==", 0, "merged sizes match"),)


OP_CALLS = [
    (
        ks.Operation("Relu", name="relu"),
        "relu:1 (Relu): keras.ops Relu here takes one tensor; it receives 2 tensors. "
        "Received: input_shapes=[(1, 4, 3), (1, 4, 3)]",
    ),
    (
        ks.Operation("Add", constant_shape=(), name="add"),
        "add:1 (Add): keras.ops Add here takes a tensor and a constant; it receives 2 tensors. "
        "Received: input_shapes=[(1, 4, 3), (1, 4, 3)]",
    ),
]


@pytest.mark.parametrize(("op", "message"), OP_CALLS, ids=["unary", "with a constant"])
def test_an_op_called_on_two_tensors_where_it_takes_one(op: Any, message: str) -> None:
    model = ks.Functional(ks.Input((4, 3), name="x"), [(op, "x"), (op, ("x", op.name))])
    assert str(_shape_error(model)) == message


def test_an_op_in_a_sequential_is_planned_on_its_input() -> None:
    rows = convcalc.plan(ks.Sequential([ks.Operation("Sigmoid", name="s")]), (1, 5, 2)).rows
    assert [(r.name, r.kind, r.input_shape, r.output_shape, r.receptive_field) for r in rows] == [
        ("s", "Sigmoid", (1, 5, 2), (1, 5, 2), (ReceptiveField(1, 1, 0),))
    ]


ALL_OPS = (
    "Absolute, Add, Cast, Ceil, Celu, Divide, Elu, Equal, Exp, Floor, FloorDivide, Gelu, Greater, GreaterEqual, "
    "HardSigmoid, HardSilu, LeakyRelu, Less, LessEqual, Log, LogSigmoid, LogSoftmax, Maximum, Minimum, Mod, "
    "Multiply, Negative, NotEqual, Power, Reciprocal, Relu, Relu6, Rsqrt, Selu, Sigmoid, Sign, Silu, Softmax, "
    "Softplus, Softsign, Sqrt, Square, Subtract, Tanh, TrueDivide"
)

OP_SPECS = [
    (
        lambda: ks.Operation("Sum"),
        f"op must be the class name of an elementwise keras.ops operation: {ALL_OPS}. "
        "Received: op='Sum', constant_shape=None",
    ),
    (
        lambda: ks.Operation(3),
        f"op must be the class name of an elementwise keras.ops operation: {ALL_OPS}. "
        "Received: op=3, constant_shape=None",
    ),
    (
        lambda: ks.Operation("Add", constant_shape=3),
        "constant_shape must be a tuple of sizes, () for a number. Received: op='Add', constant_shape=3",
    ),
    (
        lambda: ks.Operation("Add", constant_shape=(2, 1.5)),
        "constant_shape must be an integer. Received: constant_shape=1.5",
    ),
    (
        lambda: ks.Operation("Add", constant_shape=(2, -1)),
        "constant_shape must be at least 0. Received: constant_shape=-1",
    ),
]


@pytest.mark.parametrize(("make", "message"), OP_SPECS)
def test_operation_arguments(make: Any, message: str) -> None:
    assert _spec_message(make) == message


# --------------------------------------------------------------------------- #
# Arguments Keras refuses too, and convcalc's message
# --------------------------------------------------------------------------- #

TRUTHY_ARRAY = np.array([True, False])  # Keras cannot take its truth value
ARRAY = "array(shape=(2,), dtype=bool)"

SPEC_ERRORS = {
    "reshape float": (
        lambda: ks.Reshape((1.5, 8)),
        lambda: L.Reshape((1.5, 8)),
        (1, 4, 3),
        "target_shape must be an integer. Received: target_shape=1.5",
    ),
    "permute float": (
        lambda: ks.Permute((1.5, 1)),
        lambda: L.Permute((1.5, 1)),
        (1, 4, 3),
        "dims must be an integer. Received: dims=1.5",
    ),
    "permute int": (
        lambda: ks.Permute(3),
        lambda: L.Permute(3),
        (1, 4, 3),
        "dims must be a tuple of axes counted from 1, such as (2, 1). Received: dims=3",
    ),
    "repeat float": (
        lambda: ks.RepeatVector(1.5),
        lambda: L.RepeatVector(1.5),
        (1, 4),
        "n must be an integer. Received: n=1.5",
    ),
    "normalization axis float": (
        lambda: ks.Normalization(axis=1.5),
        lambda: L.Normalization(axis=1.5),
        (1, 4, 3),
        "axis must be an integer. Received: axis=1.5",
    ),
    "normalization invert array": (
        lambda: ks.Normalization(invert=TRUTHY_ARRAY),
        lambda: L.Normalization(invert=TRUTHY_ARRAY),
        (1, 4, 3),
        f"invert must be True or False. Received: axis=-1, mean=None, variance=None, invert={ARRAY}",
    ),
    "normalization mean None inside": (
        lambda: ks.Normalization(mean=[1.0, None], variance=[1.0, 1.0]),
        lambda: L.Normalization(mean=[1.0, None], variance=[1.0, 1.0]),
        (1, 4, 2),
        "mean must be a number or a nested sequence of numbers. "
        "Received: axis=-1, mean=[1.0, None], variance=[1.0, 1.0], invert=False",
    ),
    "normalization variance None inside": (
        lambda: ks.Normalization(mean=[1.0, 1.0], variance=[1.0, None]),
        lambda: L.Normalization(mean=[1.0, 1.0], variance=[1.0, None]),
        (1, 4, 2),
        "variance must be a number or a nested sequence of numbers. "
        "Received: axis=-1, mean=[1.0, 1.0], variance=[1.0, None], invert=False",
    ),
    "normalization mean string": (
        lambda: ks.Normalization(mean="a", variance="b"),
        lambda: L.Normalization(mean="a", variance="b"),
        (1, 4, 2),
        "mean must be a number or a nested sequence of numbers. "
        "Received: axis=-1, mean='a', variance='b', invert=False",
    ),
    "normalization mean empty": (
        lambda: ks.Normalization(mean=[], variance=[]),
        lambda: L.Normalization(mean=[], variance=[]),
        (1, 4, 2),
        "mean must be a number or a nested sequence of numbers. Received: axis=-1, mean=[], variance=[], invert=False",
    ),
    "normalization mean set": (
        lambda: ks.Normalization(mean={1.0}, variance={1.0}),
        lambda: L.Normalization(mean={1.0}, variance={1.0}),
        (1, 4, 3),
        "mean must be a number or a nested sequence of numbers. "
        "Received: axis=-1, mean={1.0}, variance={1.0}, invert=False",
    ),
    "normalization mean string array": (
        lambda: ks.Normalization(mean=np.array(["a"]), variance=np.array(["b"])),
        lambda: L.Normalization(mean=np.array(["a"]), variance=np.array(["b"])),
        (1, 4, 3),
        "mean must be a number or a nested sequence of numbers. "
        "Received: axis=-1, mean=array(shape=(1,), dtype=<U1), variance=array(shape=(1,), dtype=<U1), invert=False",
    ),
    "normalization mean ragged": (
        lambda: ks.Normalization(axis=(1, 2), mean=[[1.0], [1.0, 2.0]], variance=[[1.0], [1.0, 2.0]]),
        lambda: L.Normalization(axis=(1, 2), mean=[[1.0], [1.0, 2.0]], variance=[[1.0], [1.0, 2.0]]),
        (1, 2, 2),
        "mean must be a rectangular sequence: its items differ in shape. "
        "Received: axis=(1, 2), mean=[[1.0], [1.0, 2.0]], variance=[[1.0], [1.0, 2.0]], invert=False",
    ),
    "group normalization groups -2": (
        lambda: ks.GroupNormalization(groups=-2),
        lambda: L.GroupNormalization(groups=-2),
        (1, 4, 6),
        "Received an invalid value for argument `groups`, expected a positive integer (or `-1` for instance "
        "normalization). Received: groups=-2",
    ),
    "group normalization axis float": (
        lambda: ks.GroupNormalization(groups=2, axis=1.5),
        lambda: L.GroupNormalization(groups=2, axis=1.5),
        (1, 4, 6),
        "axis must be an integer. Received: axis=1.5",
    ),
    "group normalization center array": (
        lambda: ks.GroupNormalization(groups=2, center=TRUTHY_ARRAY),
        lambda: L.GroupNormalization(groups=2, center=TRUTHY_ARRAY),
        (1, 4, 6),
        f"center must be True or False. Received: groups=2, axis=-1, epsilon=0.001, center={ARRAY}, scale=True",
    ),
    "group normalization scale array": (
        lambda: ks.GroupNormalization(groups=2, scale=TRUTHY_ARRAY),
        lambda: L.GroupNormalization(groups=2, scale=TRUTHY_ARRAY),
        (1, 4, 6),
        f"scale must be True or False. Received: groups=2, axis=-1, epsilon=0.001, center=True, scale={ARRAY}",
    ),
    "unit normalization axis float": (
        lambda: ks.UnitNormalization(axis=1.5),
        lambda: L.UnitNormalization(axis=1.5),
        (1, 4, 6),
        "axis must be an integer. Received: axis=1.5",
    ),
    "center crop height float": (
        lambda: ks.CenterCrop(1.5, 1),
        lambda: L.CenterCrop(1.5, 1),
        (1, 8, 9, 3),
        "height must be an integer. Received: height=1.5",
    ),
    "center crop width float": (
        lambda: ks.CenterCrop(1, 1.5),
        lambda: L.CenterCrop(1, 1.5),
        (1, 8, 9, 3),
        "width must be an integer. Received: width=1.5",
    ),
    "center crop height negative": (
        lambda: ks.CenterCrop(-1, 1),
        lambda: L.CenterCrop(-1, 1),
        (1, 8, 9, 3),
        "height must be at least 0. Received: height=-1",
    ),
    "center crop width negative": (
        lambda: ks.CenterCrop(1, -1),
        lambda: L.CenterCrop(1, -1),
        (1, 8, 9, 3),
        "width must be at least 0. Received: width=-1",
    ),
    "resizing interpolation": (
        lambda: ks.Resizing(5, 6, interpolation=3),
        lambda: L.Resizing(5, 6, interpolation=3),
        (1, 8, 9, 3),
        "interpolation must be a name such as 'bilinear'. Received: height=5, width=6, interpolation=3, "
        "crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0, "
        "antialias=False, data_format=None",
    ),
    "resizing crop array": (
        lambda: ks.Resizing(5, 6, crop_to_aspect_ratio=TRUTHY_ARRAY),
        lambda: L.Resizing(5, 6, crop_to_aspect_ratio=TRUTHY_ARRAY),
        (1, 8, 9, 3),
        "crop_to_aspect_ratio must be True or False. Received: height=5, width=6, interpolation='bilinear', "
        f"crop_to_aspect_ratio={ARRAY}, pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0, "
        "antialias=False, data_format=None",
    ),
    "resizing pad array": (
        lambda: ks.Resizing(5, 6, pad_to_aspect_ratio=TRUTHY_ARRAY),
        lambda: L.Resizing(5, 6, pad_to_aspect_ratio=TRUTHY_ARRAY),
        (1, 8, 9, 3),
        "pad_to_aspect_ratio must be True or False. Received: height=5, width=6, interpolation='bilinear', "
        f"crop_to_aspect_ratio=False, pad_to_aspect_ratio={ARRAY}, fill_mode='constant', fill_value=0.0, "
        "antialias=False, data_format=None",
    ),
    "zero padding 1d float": (
        lambda: ks.ZeroPadding1D(1.5),
        lambda: L.ZeroPadding1D(1.5),
        (1, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 1d negative": (
        lambda: ks.ZeroPadding1D(-1),
        lambda: L.ZeroPadding1D(-1),
        (1, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 1d float start": (
        lambda: ks.ZeroPadding1D((1.5, 2)),
        lambda: L.ZeroPadding1D((1.5, 2)),
        (1, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 1d negative end": (
        lambda: ks.ZeroPadding1D((2, -1)),
        lambda: L.ZeroPadding1D((2, -1)),
        (1, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 1d pair inside": (
        lambda: ks.ZeroPadding1D(((1, 2), 3)),
        lambda: L.ZeroPadding1D(((1, 2), 3)),
        (1, 4, 6),
        "The `padding` argument must be a tuple of 2 integers. Received: padding=((1, 2), 3), data_format=None",
    ),
    "zero padding 3d float": (
        lambda: ks.ZeroPadding3D(1.5),
        lambda: L.ZeroPadding3D(1.5),
        (1, 2, 3, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 3d float int": (
        lambda: ks.ZeroPadding3D((0, 1.5, 0)),
        lambda: L.ZeroPadding3D((0, 1.5, 0)),
        (1, 2, 3, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 3d negative int": (
        lambda: ks.ZeroPadding3D((0, 0, -1)),
        lambda: L.ZeroPadding3D((0, 0, -1)),
        (1, 2, 3, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 3d float start": (
        lambda: ks.ZeroPadding3D(((1.5, 0), (0, 0), (0, 0))),
        lambda: L.ZeroPadding3D(((1.5, 0), (0, 0), (0, 0))),
        (1, 2, 3, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 3d float end": (
        lambda: ks.ZeroPadding3D(((0, 0), (0, 1.5), (0, 0))),
        lambda: L.ZeroPadding3D(((0, 0), (0, 1.5), (0, 0))),
        (1, 2, 3, 4, 6),
        "padding must be an integer. Received: padding=1.5",
    ),
    "zero padding 3d negative start": (
        lambda: ks.ZeroPadding3D(((-1, 0), (0, 0), (0, 0))),
        lambda: L.ZeroPadding3D(((-1, 0), (0, 0), (0, 0))),
        (1, 2, 3, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 3d negative end": (
        lambda: ks.ZeroPadding3D(((0, 0), (0, 0), (0, -1))),
        lambda: L.ZeroPadding3D(((0, 0), (0, 0), (0, -1))),
        (1, 2, 3, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 3d triple inside": (
        lambda: ks.ZeroPadding3D(((1, 2, 3), (1, 1), (1, 1))),
        lambda: L.ZeroPadding3D(((1, 2, 3), (1, 1), (1, 1))),
        (1, 2, 3, 4, 6),
        "The `1st entry of padding` must be an int or a (start, end) pair of ints. "
        "Received: padding=((1, 2, 3), (1, 1), (1, 1)), data_format=None",
    ),
    "zero padding 3d single inside": (
        lambda: ks.ZeroPadding3D(((1, 2), (3,), 1)),
        lambda: L.ZeroPadding3D(((1, 2), (3,), 1)),
        (1, 2, 3, 4, 6),
        "The `2nd entry of padding` must be an int or a (start, end) pair of ints. "
        "Received: padding=((1, 2), (3,), 1), data_format=None",
    ),
    "zero padding 3d negative inside a mix": (
        lambda: ks.ZeroPadding3D(((1, 2), 3, -1)),
        lambda: L.ZeroPadding3D(((1, 2), 3, -1)),
        (1, 2, 3, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "zero padding 3d negative pairs that differ": (
        lambda: ks.ZeroPadding3D(((-1, -1), (-1, -1), (-1, -2))),
        lambda: L.ZeroPadding3D(((-1, -1), (-1, -1), (-1, -2))),
        (1, 2, 3, 4, 6),
        "padding must be at least 0. Received: padding=-1",
    ),
    "resizing to nothing": (
        lambda: ks.Resizing(0, 6),
        lambda: L.Resizing(0, 6),
        (1, 8, 9, 3),
        "height must be at least 1. Received: height=0",
    ),
    "zero padding 3d channels first": (
        lambda: ks.ZeroPadding3D(1, data_format="channels_first"),
        None,
        (1, 2, 3, 4, 6),
        "convcalc.keras plans channels_last models only. Received: padding=1, data_format='channels_first'",
    ),
    "up-sampling 3d float": (
        lambda: ks.UpSampling3D(1.5),
        lambda: L.UpSampling3D(1.5),
        (1, 2, 3, 4, 6),
        "size must be an integer. Received: size=1.5",
    ),
    "up-sampling 3d zero": (
        lambda: ks.UpSampling3D((1, 0, 1)),
        lambda: L.UpSampling3D((1, 0, 1)),
        (1, 2, 3, 4, 6),
        "size must be at least 1. Received: size=0",
    ),
    "up-sampling 3d channels first": (
        lambda: ks.UpSampling3D(2, data_format="channels_first"),
        None,
        (1, 2, 3, 4, 6),
        "convcalc.keras plans channels_last models only. Received: size=2, data_format='channels_first'",
    ),
    "up-sampling 1d float": (
        lambda: ks.UpSampling1D(1.5),
        lambda: L.UpSampling1D(1.5),
        (1, 4, 6),
        "size must be an integer. Received: size=1.5",
    ),
    "embedding input_dim float": (
        lambda: ks.Embedding(1.5, 4),
        lambda: L.Embedding(1.5, 4),
        (1, 7),
        "input_dim must be an integer. Received: input_dim=1.5",
    ),
    "embedding output_dim float": (
        lambda: ks.Embedding(4, 1.5),
        lambda: L.Embedding(4, 1.5),
        (1, 7),
        "output_dim must be an integer. Received: output_dim=1.5",
    ),
    "embedding mask_zero array": (
        lambda: ks.Embedding(10, 4, mask_zero=TRUTHY_ARRAY),
        lambda: L.Embedding(10, 4, mask_zero=TRUTHY_ARRAY),
        (1, 7),
        f"mask_zero must be True or False. Received: input_dim=10, output_dim=4, mask_zero={ARRAY}, lora_rank=None",
    ),
    "embedding lora_rank negative": (
        lambda: ks.Embedding(10, 4, lora_rank=-1),
        lambda: L.Embedding(10, 4, lora_rank=-1),
        (1, 7),
        "lora_rank must be at least 1. Received: lora_rank=-1",
    ),
    "embedding lora_rank float": (
        lambda: ks.Embedding(10, 4, lora_rank=1.5),
        lambda: L.Embedding(10, 4, lora_rank=1.5),
        (1, 7),
        "lora_rank must be an integer. Received: lora_rank=1.5",
    ),
}


@pytest.mark.parametrize("name", list(SPEC_ERRORS))
def test_arguments_keras_refuses_are_refused_saying_why(name: str) -> None:
    make, keras_layer, shape, message = SPEC_ERRORS[name]
    assert _spec_message(make) == message
    if keras_layer is None:  # convcalc plans channels_last models only: a limit of convcalc, not Keras' rule
        return
    dtype = "int32" if name.startswith("embedding") else "float32"
    with pytest.raises((ValueError, TypeError, RuntimeError)):  # Keras refuses it to build or to run
        _keras_run(keras_layer(), shape, dtype)


# --------------------------------------------------------------------------- #
# Inputs Keras refuses, and convcalc's message
# --------------------------------------------------------------------------- #

H = convcalc.symbols("H")

SHAPE_ERRORS = {
    "normalization on the batch axis": (
        ks.Normalization(axis=-3, name="n"),
        (1, 4, 3),
        "n (Normalization): All `axis` values to be kept must have a known shape; axis 0 is the batch axis, which "
        "Keras leaves unknown. Received: input_shape=(1, 4, 3), axis=-3",
    ),
    "normalization on a free size": (
        ks.Normalization(axis=1, name="n"),
        (1, H, 3),
        "n (Normalization): All `axis` values to be kept must have a known shape; axis 1 is H, not a number. "
        "Received: input_shape=(1, H, 3), axis=1",
    ),
    "normalization mean against two axes": (
        ks.Normalization(axis=(1, 2), mean=np.zeros((2, 3)), variance=np.ones((2, 3)), name="n"),
        (1, 4, 3),
        "n (Normalization): mean and variance of shape (2, 3) do not broadcast to the kept axes' sizes (4, 3): 2 "
        "against 4. Received: input_shape=(1, 4, 3), axis=(1, 2)",
    ),
    "group normalization on the batch axis": (
        ks.GroupNormalization(groups=2, axis=-3, name="gn"),
        (1, 4, 6),
        "gn (GroupNormalization): Axis -3 of input tensor should have a defined dimension; it is the batch axis, "
        "which Keras leaves unknown. Received: input_shape=(1, 4, 6)",
    ),
    "group normalization on a free size": (
        ks.GroupNormalization(groups=2, name="gn"),
        (1, 4, H),
        "gn (GroupNormalization): Axis -1 of input tensor should have a defined dimension, not H. "
        "Received: input_shape=(1, 4, H)",
    ),
    "unit normalization out of range": (
        ks.UnitNormalization(axis=-4, name="u"),
        (1, 4, 6),
        "u (UnitNormalization): axis=-4 is out of range for a 3-D input; use an axis from -3 to 2. "
        "Received: input_shape=(1, 4, 6)",
    ),
    "up-sampling 3d on 4-D": (
        ks.UpSampling3D(2, name="up"),
        (1, 3, 4, 6),
        "up (UpSampling3D): expects a 5-D input (batch, *spatial, channels) but receives 4-D (1, 3, 4, 6). "
        "Received: input_shape=(1, 3, 4, 6)",
    ),
}


@pytest.mark.parametrize("name", list(SHAPE_ERRORS))
def test_inputs_keras_refuses_are_refused_saying_why(name: str) -> None:
    layer, shape, message = SHAPE_ERRORS[name]
    assert str(_shape_error(ks.Sequential([layer]), shape)) == message


KERAS_REFUSES = [
    (lambda: L.Normalization(axis=-3), (4, 3)),
    (lambda: L.Normalization(axis=1), (None, 3)),
    (lambda: L.Normalization(axis=(1, 2), mean=np.zeros((2, 3)), variance=np.ones((2, 3))), (4, 3)),
    (lambda: L.GroupNormalization(groups=2, axis=-3), (4, 6)),
    (lambda: L.GroupNormalization(groups=2), (4, None)),
    (lambda: L.UnitNormalization(axis=-4), (4, 6)),
]


@pytest.mark.parametrize(("layer", "shape"), KERAS_REFUSES)
def test_keras_refuses_those_inputs(layer: Any, shape: tuple[Any, ...]) -> None:
    with pytest.raises((ValueError, RuntimeError)):
        _keras_run(layer(), (None, *shape))  # the batch left free, as Keras leaves it


# --------------------------------------------------------------------------- #
# A negative padding, a crop to nothing, an axis named twice
# --------------------------------------------------------------------------- #

W = convcalc.symbols("W")


def test_a_negative_padding_leaves_each_size_at_least_0() -> None:
    assert str(_shape_error(ks.Sequential([ks.ZeroPadding3D(-2, name="z")]), (1, 2, 3, 4, 6))) == (
        "z (ZeroPadding3D): padding=-2 takes 4 from 2 on spatial axis 0, leaving a negative size, which Keras "
        "refuses; the input must be at least 4 there. The smallest network input that fits every layer: "
        "input_shape=(1, 4, 4, 4, 6). Received: input_shape=(1, 2, 3, 4, 6)"
    )
    with pytest.raises(ValueError, match="Negative dimensions are not allowed"):
        _keras_run(L.ZeroPadding3D(-2), (1, 2, 3, 4, 6))
    plan = convcalc.plan(ks.Sequential([ks.ZeroPadding3D(-1, name="z")]), (1, H, 3, 4, 6))
    assert plan.output_shape == (1, H - 2, 1, 2, 6)
    assert [str(c) for c in plan.constraints] == ["z (axis 0): H - 2 >= 0 (the padding leaves at least 0)"]
    x = keras.Input((None, 3, 4, 6))
    model = keras.Model(x, L.ZeroPadding3D(-1)(x))
    assert tuple(model(np.ones((1, 2, 3, 4, 6), "float32")).shape) == (1, 0, 1, 2, 6)
    with pytest.raises(RuntimeError):  # H = 1: a size of -1
        model(np.ones((1, 1, 3, 4, 6), "float32"))


def test_a_crop_to_or_from_nothing_is_a_crop_only() -> None:
    assert str(_shape_error(ks.Sequential([ks.CenterCrop(0, 10, name="c")]), (1, 8, 9, 3))) == (
        "c (CenterCrop): the input's width is 9, less than width=10: Keras then resizes the image to 0 x 10, which "
        "it cannot do to or from a size of 0; the input must be at least 0 x 10. The smallest network input that "
        "fits every layer: input_shape=(1, 8, 10, 3). Received: input_shape=(1, 8, 9, 3), height=0, width=10"
    )
    with pytest.raises(ZeroDivisionError):
        _keras_run(L.CenterCrop(0, 10), (1, 8, 9, 3))
    plan = convcalc.plan(ks.Sequential([ks.CenterCrop(0, 10, name="c")]), (1, 8, W, 3))
    assert plan.output_shape == (1, 0, 10, 3)
    assert [str(c) for c in plan.constraints] == ["c (axis 1): W >= 10 (a crop to or from a size of 0 needs no resize)"]
    twice = ks.Sequential([ks.CenterCrop(0, 5, name="a"), ks.CenterCrop(2, 2, name="b")])
    assert str(_shape_error(twice, (1, 8, 9, 3))) == (
        "b (CenterCrop): the input's height is 0, less than height=2: Keras then resizes the image to 2 x 2, which "
        "it cannot do to or from a size of 0; the input must be at least 2 x 2. Received: input_shape=(1, 0, 5, 3), "
        "height=2, width=2"
    )
    x = keras.Input((8, 9, 3), batch_size=1)
    with pytest.raises(RuntimeError):
        keras.Model(x, L.CenterCrop(2, 2)(L.CenterCrop(0, 5)(x)))(np.ones((1, 8, 9, 3), "float32"))
    crops = ks.Sequential([ks.CenterCrop(0, 5, name="a"), ks.CenterCrop(0, 2, name="b")])
    assert convcalc.plan(crops, (1, 8, 9, 3)).output_shape == (1, 0, 2, 3)
    model = keras.Model(x, L.CenterCrop(0, 2)(L.CenterCrop(0, 5)(x)))
    assert tuple(model(np.ones((1, 8, 9, 3), "float32")).shape) == (1, 0, 2, 3)


def test_a_random_crop_to_nothing_is_refused() -> None:
    assert _spec_message(lambda: ks.RandomCrop(0, 1)) == "height must be at least 1. Received: height=0"
    assert _spec_message(lambda: ks.RandomCrop(1, 0)) == "width must be at least 1. Received: width=0"
    x = keras.Input((8, 9, 3), batch_size=1)
    for layer in (L.RandomCrop(0, 1), L.RandomCrop(1, 0)):
        with pytest.raises(ZeroDivisionError):  # at inference, Keras divides by each
            keras.Model(x, layer(x))(np.ones((1, 8, 9, 3), "float32"), training=False)


TWICE = {
    "normalization": (
        ks.Normalization(axis=(2, -1), name="n"),
        lambda: L.Normalization(axis=(2, -1)),
        "n (Normalization): axis=(2, -1) names axis 2 of this 3-D input more than once, and Keras then builds a mean "
        "and variance of shape (3, 3), which do not fit the 3 indices of the kept axes; name each axis once: axis=2. "
        "Received: input_shape=(1, 4, 3), axis=(2, -1)",
    ),
    "normalization three axes": (
        ks.Normalization(axis=(1, -1, 2, -2), name="n"),
        lambda: L.Normalization(axis=(1, -1, 2, -2)),
        "n (Normalization): axis=(1, -1, 2, -2) names axes 1, 2 of this 3-D input more than once, and Keras then "
        "builds a mean and variance of shape (4, 4, 3, 3), which do not fit the 12 indices of the kept axes; name "
        "each axis once: axis=(1, -1). Received: input_shape=(1, 4, 3), axis=(1, -1, 2, -2)",
    ),
    "normalization mean": (
        ks.Normalization(axis=(2, -1), mean=np.zeros((1, 3)), variance=np.ones((1, 3)), name="n"),
        lambda: L.Normalization(axis=(2, -1), mean=np.zeros((1, 3)), variance=np.ones((1, 3))),
        "n (Normalization): axis=(2, -1) names axis 2 of this 3-D input more than once, and Keras then cannot place "
        "the given mean and variance of shape (1, 3) on the kept axes (2, 2); name each axis once: axis=2, with a "
        "mean and variance of at most 1 axis. Received: input_shape=(1, 4, 3), axis=(2, -1)",
    ),
    "normalization mean of three axes": (
        ks.Normalization(axis=(1, 2, -1), mean=np.zeros((4, 1, 3)), variance=np.ones((4, 1, 3)), name="n"),
        lambda: L.Normalization(axis=(1, 2, -1), mean=np.zeros((4, 1, 3)), variance=np.ones((4, 1, 3))),
        "n (Normalization): axis=(1, 2, -1) names axis 2 of this 3-D input more than once, and Keras then cannot "
        "place the given mean and variance of shape (4, 1, 3) on the kept axes (1, 2, 2); name each axis once: "
        "axis=(1, 2), with a mean and variance of at most 2 axes. Received: input_shape=(1, 4, 3), axis=(1, 2, -1)",
    ),
    "unit normalization": (
        ks.UnitNormalization(axis=(1, -2), name="u"),
        lambda: L.UnitNormalization(axis=(1, -2)),
        "u (UnitNormalization): axis=(1, -2) names axis 1 of this 3-D input more than once, which Keras refuses when "
        "the layer runs; name each axis once: axis=1. Received: input_shape=(1, 4, 3), axis=(1, -2)",
    ),
}


@pytest.mark.parametrize("name", list(TWICE))
def test_an_axis_named_twice_is_refused_where_keras_refuses_it(name: str) -> None:
    layer, keras_layer, message = TWICE[name]
    with pytest.raises(SpecError) as caught:
        convcalc.plan(ks.Sequential([layer]), (1, 4, 3))
    assert str(caught.value) == message
    with pytest.raises(RuntimeError):
        _keras_run(keras_layer(), (1, 4, 3))


def test_axes_named_twice_on_one_input_are_two_on_another() -> None:
    row = convcalc.plan(ks.Sequential([ks.Normalization(axis=(2, -1))]), (1, 4, 3, 2)).rows[0]
    assert (row.output_shape, row.non_trainable) == ((1, 4, 3, 2), 13)
    assert _keras_counts(L.Normalization(axis=(2, -1)), (1, 4, 3, 2)) == ((1, 4, 3, 2), 0, 13)
    unit = convcalc.plan(ks.Sequential([ks.UnitNormalization(axis=(1, -2))]), (1, 4, 5, 3))
    assert unit.output_shape == (1, 4, 5, 3)
    _keras_run(L.UnitNormalization(axis=(1, -2)), (1, 4, 5, 3))


# --------------------------------------------------------------------------- #
# Reshape of symbolic sizes: the constraint it records, and the size it refuses
# --------------------------------------------------------------------------- #


def test_reshape_of_a_symbolic_size_records_the_size_it_keeps() -> None:
    h, w = convcalc.symbols("H W")
    plan = convcalc.plan(ks.Sequential([ks.Reshape((12,), name="r")]), (1, h, 3))
    assert [(r.name, r.kind, r.input_shape, r.output_shape) for r in plan.rows] == [
        ("r", "Reshape", (1, h, 3), (1, 12))
    ]
    assert plan.constraints == (convcalc.Constraint("r", 0, 3 * h - 12, "==", 0, "the reshape keeps the size"),)
    odd = convcalc.plan(ks.Sequential([ks.Reshape((6, -1), name="r")]), (1, h, w, 3))
    assert odd.constraints == (convcalc.Constraint("r", 0, 3 * h * w, "divides", 6, "the size divides by 6"),)
    x = keras.Input((None, 3))
    assert tuple(L.Reshape((12,))(x).shape) == (None, 12)


def test_reshape_to_nothing_of_a_symbolic_size_is_refused() -> None:
    h = convcalc.symbols("H")
    assert str(_shape_error(ks.Sequential([ks.Reshape((0,), name="r")]), (1, h, 3))) == (
        "r (Reshape): the total size of the tensor must be unchanged: the input holds 3*H values per sample, "
        "target_shape=(0,) holds 0. Received: input_shape=(1, H, 3), target_shape=(0,)"
    )
    with pytest.raises((ValueError, RuntimeError)):  # any size H: Keras refuses it
        _keras_run(L.Reshape((0,)), (1, 4, 3))


# --------------------------------------------------------------------------- #
# Built weights fix some sizes (and for GroupNormalization, the rank)
# --------------------------------------------------------------------------- #


def test_normalization_weights_fix_the_kept_axes() -> None:
    last = ks.Sequential([ks.Normalization(name="n")], built={"n": (None, 3)})
    assert str(_shape_error(last, (1, 4))) == (
        "n (Normalization): its weights were built for input_shape=(None, 3), which fixes axis -1 at 3 (the size "
        "of the mean and variance); the input has 4 there, which Keras refuses. Received: input_shape=(1, 4)"
    )
    second = ks.Sequential([ks.Normalization(axis=1, name="n")], built={"n": (None, 5, 3)})
    assert str(_shape_error(second, (1, 4, 3))) == (
        "n (Normalization): its weights were built for input_shape=(None, 5, 3), which fixes axis -2 at 5 (the "
        "size of the mean and variance); the input has 4 there, which Keras refuses. Received: input_shape=(1, 4, 3)"
    )
    # not the rank: Keras runs a Normalization built on (None, 4, 3) on a 4-D input
    deeper = ks.Sequential([ks.Normalization(name="n")], built={"n": (None, 4, 3)})
    row = convcalc.plan(deeper, (1, 2, 4, 3)).rows[0]
    assert (row.output_shape, row.non_trainable) == ((1, 2, 4, 3), 7)
    layer = L.Normalization()
    layer.build((None, 4, 3))
    assert tuple(layer(np.ones((1, 2, 4, 3), "float32")).shape) == (1, 2, 4, 3)
    assert layer.count_params() == 7
    for axis, built, shape in ((-1, (None, 3), (1, 4)), (1, (None, 5, 3), (1, 4, 3))):
        layer = L.Normalization(axis=axis)
        layer.build(built)
        with pytest.raises(RuntimeError):
            layer(np.ones(shape, "float32"))


def test_group_normalization_weights_fix_the_channels_and_the_rank() -> None:
    model = ks.Sequential([ks.GroupNormalization(groups=2, axis=2, name="gn")], built={"gn": (None, 4, 6)})
    assert str(_shape_error(model, (1, 4, 4))) == (
        "gn (GroupNormalization): its weights were built for input_shape=(None, 4, 6), which fixes axis -1 at 6 "
        "(the size of gamma and beta); the input has 4 there, which Keras refuses. Received: input_shape=(1, 4, 4)"
    )
    assert str(_shape_error(model, (1, 2, 4, 6))) == (
        "gn (GroupNormalization): its weights were built for a 3-D input (None, 4, 6); Keras refuses the 4-D one "
        "it receives. Received: input_shape=(1, 2, 4, 6)"
    )
    for shape in ((1, 4, 4), (1, 2, 4, 6)):
        layer = L.GroupNormalization(groups=2, axis=2)
        layer.build((None, 4, 6))
        with pytest.raises(ValueError, match="is incompatible with the layer"):
            layer(np.ones(shape, "float32"))


# --------------------------------------------------------------------------- #
# A layer called twice: the second call is named by its call
# --------------------------------------------------------------------------- #


def _twice(layer: Any, shape: tuple[int, ...], between: Any = None) -> Any:
    """``layer`` on the input, then (through ``between``, when given) on its own output."""
    calls = [(layer, "x")]
    if between is not None:
        calls.append((between, layer.name))
    calls.append((layer, between.name if between is not None else layer.name))
    return ks.Functional(ks.Input(shape, name="x"), calls)


SECOND_CALLS = {
    "reshape": (
        lambda: _twice(ks.Reshape((12,), name="r"), (4, 3), ks.Dense(5, name="d")),
        "r:1 (Reshape): the total size of the tensor must be unchanged: the input holds 5 values per sample, "
        "target_shape=(12,) holds 12. Received: input_shape=(1, 5), target_shape=(12,)",
    ),
    "permute": (
        lambda: _twice(ks.Permute((2, 1), name="p"), (4, 3), ks.Flatten(name="f")),
        "p:1 (Permute): dims=(2, 1) takes a 3-D input (batch first) but receives 2-D (1, 12). "
        "Received: input_shape=(1, 12)",
    ),
    "repeat": (
        lambda: _twice(ks.RepeatVector(3, name="rv"), (4,)),
        "rv:1 (RepeatVector): expects a 2-D input (batch, features) but receives 3-D (1, 3, 4). "
        "Received: input_shape=(1, 3, 4)",
    ),
    "normalization range": (
        lambda: _twice(ks.Normalization(axis=2, name="n"), (4, 3), ks.Flatten(name="f")),
        "n:1 (Normalization): All `axis` values must be in the range [-ndim, ndim); the input is 2-D and axis=2. "
        "Received: input_shape=(1, 12)",
    ),
    "normalization batch axis": (
        lambda: _twice(ks.Normalization(axis=-2, name="n"), (4, 3), ks.Flatten(name="f")),
        "n:1 (Normalization): All `axis` values to be kept must have a known shape; axis 0 is the batch axis, "
        "which Keras leaves unknown. Received: input_shape=(1, 12), axis=-2",
    ),
    "normalization mean": (
        lambda: _twice(
            ks.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0], name="n"), (4, 3), ks.Dense(2, name="d")
        ),
        "n:1 (Normalization): mean and variance of shape (3,) do not broadcast to the kept axes' sizes (2,): 3 "
        "against 2. Received: input_shape=(1, 4, 2), axis=-1",
    ),
    "group normalization range": (
        lambda: _twice(ks.GroupNormalization(groups=2, axis=2, name="gn"), (4, 6), ks.Flatten(name="f")),
        "gn:1 (GroupNormalization): axis=2 is out of range for a 2-D input; use an axis from -2 to 1. "
        "Received: input_shape=(1, 24)",
    ),
    "group normalization batch axis": (
        lambda: _twice(ks.GroupNormalization(groups=2, axis=-2, name="gn"), (4, 6), ks.Flatten(name="f")),
        "gn:1 (GroupNormalization): Axis -2 of input tensor should have a defined dimension; it is the batch axis, "
        "which Keras leaves unknown. Received: input_shape=(1, 24)",
    ),
    "group normalization too many groups": (
        lambda: _twice(ks.GroupNormalization(groups=4, name="gn"), (4, 8), ks.Dense(2, name="d")),
        "gn:1 (GroupNormalization): Number of groups (4) cannot be more than the number of channels (2). "
        "Received: input_shape=(1, 4, 2)",
    ),
    "group normalization groups not dividing": (
        lambda: _twice(ks.GroupNormalization(groups=4, name="gn"), (4, 8), ks.Dense(6, name="d")),
        "gn:1 (GroupNormalization): the number of channels (6) must be a multiple of the number of groups (4). "
        "Received: input_shape=(1, 4, 6)",
    ),
    "unit normalization": (
        lambda: _twice(ks.UnitNormalization(axis=2, name="u"), (4, 6), ks.Flatten(name="f")),
        "u:1 (UnitNormalization): axis=2 is out of range for a 2-D input; use an axis from -2 to 1. "
        "Received: input_shape=(1, 24)",
    ),
    "center crop": (
        lambda: _twice(ks.CenterCrop(2, 2, name="c"), (8, 9, 3), ks.Flatten(name="f")),
        "c:1 (CenterCrop): expects a 4-D input (batch, height, width, channels) but receives 2-D (1, 12) (Keras "
        "takes a 3-D one for a single image without its batch axis). Received: input_shape=(1, 12)",
    ),
    "zero padding 3d": (
        lambda: _twice(ks.ZeroPadding3D(1, name="z"), (2, 3, 4, 6), ks.Flatten(name="f")),
        "z:1 (ZeroPadding3D): expects a 5-D input (batch, *spatial, channels) but receives 2-D (1, 720). "
        "Received: input_shape=(1, 720)",
    ),
    "up-sampling 3d": (
        lambda: _twice(ks.UpSampling3D(2, name="up"), (2, 3, 4, 6), ks.Flatten(name="f")),
        "up:1 (UpSampling3D): expects a 5-D input (batch, *spatial, channels) but receives 2-D (1, 1152). "
        "Received: input_shape=(1, 1152)",
    ),
    "up-sampling 1d": (
        lambda: _twice(ks.UpSampling1D(2, name="up"), (4, 6), ks.Flatten(name="f")),
        "up:1 (UpSampling1D): expects a 3-D input (batch, *spatial, channels) but receives 2-D (1, 48). "
        "Received: input_shape=(1, 48)",
    ),
}


@pytest.mark.parametrize("name", list(SECOND_CALLS))
def test_a_second_call_keras_refuses_is_named_by_its_call(name: str) -> None:
    make, message = SECOND_CALLS[name]
    assert str(_shape_error(make())) == message


@pytest.mark.parametrize("across", [np.int64(7), np.array([1]), [1], (1.5,), "a"])
def test_the_axes_a_layer_reads_whole_are_a_tuple_of_ints(across: Any) -> None:
    # (an array once reached the message's own test of the default, (), and raised numpy's ValueError)
    for make in (lambda: ks.Operation("Relu6", across=across), lambda: ks.Passthrough("Softmax", across=across)):
        with pytest.raises(SpecError, match=r"across must be a tuple of axes \(ints\), \(\) for none. Received"):
            make()
