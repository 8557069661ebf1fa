"""convcalc.keras, pinned where mutation testing found it unpinned: every message whole, each row's input,
output, MACs and receptive field, merges of every broadcast, frozen and shared layers, names made up; and the
weights Keras adds for LoRA, batch renormalization and quantization, with Keras itself as the oracle."""

from __future__ import annotations

from typing import Any

import pytest

import convcalc
from convcalc import ReceptiveField, ShapeError, SpecError
from convcalc import keras as ks
from convcalc.keras import _base

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
L = keras.layers


def _message(make: Any) -> str:
    with pytest.raises(convcalc.ConvCalcError) as caught:
        make()
    return str(caught.value)


def _counts(model: Any) -> tuple[int, int, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def _planned(model: Any) -> tuple[Any, Any, Any]:
    plan = convcalc.plan(model)
    return plan.total_params, plan.trainable_params, plan.non_trainable_params


# --- the weights Keras adds: LoRA, batch renormalization; quantized layers refused ------------------------------


def _lora_enabled() -> Any:
    model = keras.Sequential([keras.Input((16,)), L.Dense(8)])
    model.layers[0].enable_lora(2)
    return model


KERAS_MODELS = {
    "dense lora": lambda: keras.Sequential([keras.Input((16,)), L.Dense(8, lora_rank=2)]),
    "dense lora enabled after": _lora_enabled,
    "dense lora frozen": lambda: keras.Sequential([keras.Input((16,)), L.Dense(8, lora_rank=2, trainable=False)]),
    "dense lora on 3-D": lambda: keras.Sequential([keras.Input((5, 6)), L.Dense(4, lora_rank=3, use_bias=False)]),
    "conv2d lora": lambda: keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, lora_rank=2)]),
    "conv1d lora grouped": lambda: keras.Sequential([keras.Input((10, 4)), L.Conv1D(8, 3, lora_rank=2, groups=2)]),
    "conv3d lora": lambda: keras.Sequential([keras.Input((6, 6, 5, 2)), L.Conv3D(4, 2, lora_rank=3, use_bias=False)]),
    "renorm": lambda: keras.Sequential([keras.Input((6, 6, 4)), L.BatchNormalization(renorm=True)]),
    "renorm frozen": lambda: keras.Sequential(
        [keras.Input((6, 6, 4)), L.BatchNormalization(renorm=True, center=False, trainable=False)]
    ),
}


@pytest.mark.parametrize("name", sorted(KERAS_MODELS))
def test_lora_and_renorm_weights_count_as_keras_counts_them(name: str) -> None:
    """LoRA freezes the kernel and trains two low-rank factors; batch renormalization keeps three more
    statistics. The reader took neither, and counted the plain layer."""
    model = KERAS_MODELS[name]()
    assert _planned(model) == _counts(model)


def test_a_quantized_model_is_refused_rather_than_counted_as_float() -> None:
    model = keras.Sequential([keras.Input((16,)), L.Dense(8, name="head")])
    model.quantize("int8")
    assert _counts(model) == (144, 8, 136)  # int8 kernel and its scale, frozen
    assert _message(lambda: convcalc.plan(model)) == (
        "head (Dense): a quantized layer (int8) holds integer kernels and scales in place of its weights; convcalc "
        "counts the float model: plan it before quantize(). Received: dtype='int8'"
    )


def test_lora_and_renorm_specs() -> None:
    assert _planned(ks.Sequential([ks.Input((16,)), ks.Dense(8, lora_rank=2)])) == (184, 56, 128)
    assert _planned(ks.Sequential([ks.Input((8, 8, 3)), ks.Conv2D(4, 3, lora_rank=2)])) == (174, 66, 108)
    assert _planned(ks.Sequential([ks.Input((8, 8, 3)), ks.Conv2D(4, 3, lora_rank=0)])) == (112, 112, 0)
    assert _planned(ks.Sequential([ks.Input((6, 6, 4)), ks.BatchNormalization(renorm=True)])) == (28, 8, 20)
    assert _message(lambda: ks.Dense(3, lora_rank=-1)) == "lora_rank must be at least 1. Received: lora_rank=-1"
    assert _message(lambda: ks.Conv2D(3, 3, lora_rank=1.5)) == "lora_rank must be an integer. Received: lora_rank=1.5"
    assert _message(lambda: ks.BatchNormalization(renorm=1)) == (
        "renorm must be True or False. Received: axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, "
        "renorm=1"
    )


# --- merges: broadcasts, ranks, symbolic sizes, Subtract's two inputs -------------------------------------------


def _merge_model(merge: Any, left: Any, right: Any, shape: tuple[Any, ...] = (8, 8, 3)) -> Any:
    x = ks.Input(shape, name="x")
    return ks.Functional(x, [(left, "x"), (right, "x"), (merge, (left.name, right.name))])


BROADCASTS = {
    # (spec layers, the same layers in Keras): a merge of a feature map with a (1, 1, C) or (C,) summary
    "map and keepdims": (
        lambda: (ks.Conv2D(3, 1, name="a"), ks.GlobalAveragePooling2D(keepdims=True, name="b")),
        lambda: (L.Conv2D(3, 1), L.GlobalAveragePooling2D(keepdims=True)),
    ),
    "keepdims and map": (
        lambda: (ks.GlobalAveragePooling2D(keepdims=True, name="a"), ks.Conv2D(3, 1, name="b")),
        lambda: (L.GlobalAveragePooling2D(keepdims=True), L.Conv2D(3, 1)),
    ),
    "map and vector": (
        lambda: (ks.Conv2D(3, 1, name="a"), ks.GlobalAveragePooling2D(name="b")),
        lambda: (L.Conv2D(3, 1), L.GlobalAveragePooling2D()),
    ),
    "vector and map": (
        lambda: (ks.GlobalAveragePooling2D(name="a"), ks.Conv2D(3, 1, name="b")),
        lambda: (L.GlobalAveragePooling2D(), L.Conv2D(3, 1)),
    ),
}


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Maximum"])
@pytest.mark.parametrize("case", sorted(BROADCASTS))
def test_merges_broadcast_as_keras_does(case: str, merge: str) -> None:
    ours, theirs = BROADCASTS[case]
    left, right = ours()
    plan = convcalc.plan(_merge_model(getattr(ks, merge)(name="m"), left, right))
    x = keras.Input((8, 8, 3))
    a, b = theirs()
    expected = keras.Model(x, getattr(L, merge)()([a(x), b(x)])).output_shape
    assert plan.output_shape == (1, *expected[1:])
    assert (plan.rows[-1].kind, plan.rows[-1].input_shape) == (merge, plan.rows[0].output_shape)


def test_a_symbolic_merge_broadcasts_a_size_1_and_constrains_two_sizes() -> None:
    H, W = convcalc.symbols("H W")
    keep = _merge_model(ks.Add(name="m"), ks.Conv2D(3, 1, name="a"), ks.GlobalAveragePooling2D(keepdims=True, name="b"))
    plan = convcalc.plan(keep, (1, H, W, 3))
    assert (plan.output_shape, plan.constraints) == ((1, H, W, 3), ())
    pooled = _merge_model(ks.Add(name="m"), ks.Conv2D(3, 1, name="a"), ks.MaxPooling2D(1, strides=(1, 2), name="b"))
    plan = convcalc.plan(pooled, (1, H, W, 3))
    (constraint,) = plan.constraints
    assert (constraint.layer, constraint.axis, constraint.reason) == ("m", 1, "merged sizes match")
    assert plan.output_shape == (1, H, W, 3)
    # a number against a symbol constrains too (it is not refused as a mismatch of numbers)
    fixed = _merge_model(ks.Add(name="m"), ks.GlobalAveragePooling2D(name="a"), ks.Flatten(name="b"), (1, W, 3))
    plan = convcalc.plan(fixed, (1, 1, W, 3))
    (constraint,) = plan.constraints
    assert (constraint.layer, constraint.axis) == ("m", 0)
    assert plan.output_shape == (1, 3)  # the first input's
    assert 1 in plan.valid_sizes(W)
    assert 2 not in plan.valid_sizes(W)
    assert _message(lambda: convcalc.plan(fixed, (1, 1, 2, 3))) == (
        "m (Add): Inputs have incompatible shapes on axis 1: 3 != 6. Received: input_shapes=[(1, 3), (1, 6)]"
    )


def test_merge_messages() -> None:
    add = _merge_model(ks.Add(name="m"), ks.Conv2D(3, 1, name="a"), ks.Conv2D(3, 2, name="b"))
    assert _message(lambda: convcalc.plan(add)) == (
        "m (Add): Inputs have incompatible shapes on axis 1: 8 != 7. Received: input_shapes=[(1, 8, 8, 3), "
        "(1, 7, 7, 3)]"
    )
    assert _message(lambda: convcalc.plan(ks.Sequential([ks.Input((4, 4, 3)), ks.Add(name="m")]))) == (
        "m (Add): a merge layer is called on a list of tensors: use it in a Functional model. Received: "
        "input_shape=(1, 4, 4, 3)"
    )
    x = ks.Input((4, 4, 3), name="x")
    single = ks.Functional(x, [(ks.Add(name="m"), ("x",))])
    assert _message(lambda: convcalc.plan(single)) == (
        "m (Add): a merge layer needs at least 2 inputs. Received: input_shapes=[(1, 4, 4, 3)]"
    )
    three = ks.Functional(x, [(ks.Subtract(name="s"), ("x", "x", "x"))])
    assert _message(lambda: convcalc.plan(three)) == (
        "s (Subtract): A `Subtract` layer should be called on exactly 2 inputs. Received: input_shapes=[(1, 4, 4, "
        "3), (1, 4, 4, 3), (1, 4, 4, 3)]"
    )
    k = keras.Input((4, 4, 3))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        L.Subtract()([k, k, k])
    assert convcalc.plan(ks.Functional(x, [(ks.Subtract(name="s"), ("x", "x"))])).output_shape == (1, 4, 4, 3)


# --- Concatenate: its axis, ranks, the sizes it keeps ------------------------------------------------------------


def _concat(axis: int, right: Any = None, shape: tuple[Any, ...] = (8, 8, 3)) -> Any:
    return _merge_model(
        ks.Concatenate(axis=axis, name="cat"), ks.Conv2D(3, 1, name="a"), right or ks.Conv2D(2, 1, name="b"), shape
    )


@pytest.mark.parametrize(
    ("axis", "expected"),
    [(1, (1, 16, 8, 3)), (2, (1, 8, 16, 3)), (3, (1, 8, 8, 5)), (-1, (1, 8, 8, 5)), (-3, (1, 16, 8, 3))],
)
def test_concatenate_on_any_axis_but_the_batch(axis: int, expected: tuple[int, ...]) -> None:
    right = ks.Conv2D(3, 1, name="b") if axis not in (3, -1) else None
    assert convcalc.plan(_concat(axis, right)).output_shape == expected
    x = keras.Input((8, 8, 3))
    theirs = L.Concatenate(axis=axis)([L.Conv2D(3, 1)(x), L.Conv2D(3 if right else 2, 1)(x)])
    assert (1, *theirs.shape[1:]) == expected


@pytest.mark.parametrize("axis", [0, -4, 4, -5])
def test_concatenate_refuses_the_batch_axis_and_axes_beyond_the_rank(axis: int) -> None:
    assert _message(lambda: convcalc.plan(_concat(axis))) == (
        f"cat (Concatenate): axis={axis} is out of range for (1, 8, 8, 3). Received: input_shapes=[(1, 8, 8, 3), "
        "(1, 8, 8, 2)]"
    )


def test_concatenate_messages_and_the_sizes_it_keeps() -> None:
    assert _message(lambda: convcalc.plan(_concat(-1, ks.Conv2D(2, 2, name="b")))) == (
        "cat (Concatenate): A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
        "axis on axis 1: 8 != 7. Received: input_shapes=[(1, 8, 8, 3), (1, 7, 7, 2)]"
    )
    assert _message(lambda: convcalc.plan(_concat(-1, ks.Conv2D(2, (1, 2), name="b")))) == (
        "cat (Concatenate): A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
        "axis on axis 2: 8 != 7. Received: input_shapes=[(1, 8, 8, 3), (1, 8, 7, 2)]"
    )
    assert _message(lambda: convcalc.plan(_concat(-1, ks.GlobalAveragePooling2D(name="b")))) == (
        "cat (Concatenate): A `Concatenate` layer requires inputs of the same rank. Received: input_shapes=[(1, 8, 8, "
        "3), (1, 3)]"
    )
    assert _message(lambda: ks.Concatenate(axis=1.5)) == "axis must be an integer. Received: axis=1.5"
    # the first input's sizes are the output's where a second input's are another form of them
    H, W = convcalc.symbols("H W")
    x = ks.Input((None, None, 3), name="x")
    pooled = [(ks.ZeroPadding2D(((0, 1), (0, 1)), name="zp"), "x"), (ks.MaxPooling2D(2, strides=1, name="mp"), "zp")]
    model = ks.Functional(x, [*pooled, (ks.Concatenate(name="cat"), ("x", "mp"))])
    plan = convcalc.plan(model, (1, H, W, 3))
    assert plan.output_shape == (1, H, W, 6)
    one = ks.Functional(x, [(ks.Concatenate(name="cat"), ("x",))])
    assert convcalc.plan(one, (1, 4, 5, 3)).output_shape == (1, 4, 5, 3)


# --- Functional, Frozen, Passthrough, UpSampling2D: arguments, rows, shared and frozen layers ----------------------


def test_functional_argument_messages() -> None:
    x, c = ks.Input((8, 8, 3), name="x"), ks.Conv2D(4, 3, name="c")
    spec = repr(c)
    cases = {
        lambda: ks.Functional(3, [(c, "x")]): "Functional takes a convcalc.keras Input first. Received: input=3",
        lambda: ks.Functional(x, [(c, "x")], name=""): "name must be a non-empty string. Received: name=''",
        lambda: ks.Functional(x, [(c, "x")], name=3): "name must be a non-empty string. Received: name=3",
        lambda: ks.Functional(x, []): "Functional takes a non-empty list of (layer, inputs) calls. Received: calls=[]",
        lambda: ks.Functional(
            x, "c"
        ): "Functional takes a non-empty list of (layer, inputs) calls. Received: calls='c'",
        lambda: ks.Functional(x, [(c,)]): f"calls[0] must be a (layer, inputs) pair. Received: calls[0]=({spec},)",
        lambda: ks.Functional(
            x, [("c", "x")]
        ): "calls[0] must be a (layer, inputs) pair. Received: calls[0]=('c', 'x')",
        lambda: ks.Functional(x, [(x, "x")]): f"calls[0]: an Input is not called. Received: calls[0]=({x!r}, 'x')",
        lambda: ks.Functional(x, [(c, 3)]): "calls[0]: inputs must be a name or a tuple of names. Received: inputs=3",
        lambda: ks.Functional(x, [(c, ())]): "calls[0]: inputs must be a name or a tuple of names. Received: inputs=()",
        lambda: ks.Functional(x, [(c, ("x", 3))]): (
            "calls[0]: inputs must be a name or a tuple of names. Received: inputs=('x', 3)"
        ),
        lambda: ks.Functional(x, [(c, ("x",))]): "calls[0]: Conv2D takes one input. Received: inputs=('x',)",
        lambda: ks.Functional(x, [(c, ("x", "x"))]): "calls[0]: Conv2D takes one input. Received: inputs=('x', 'x')",
        lambda: ks.Functional(x, [(ks.Conv2D(4, 3, name="x"), "x")]): (
            "calls[0]: the name 'x' is taken. Received: calls[0]=(" + repr(ks.Conv2D(4, 3, name="x")) + ", 'x')"
        ),
        lambda: ks.Functional(x, [(c, "x")], output="zz"): "output must name a call. Received: output='zz'",
    }
    for make, message in cases.items():
        assert _message(make) == message


def test_functional_repr_and_what_it_keeps() -> None:
    x = ks.Input((8, 8, 3), name="x")
    a, b, m = ks.Conv2D(3, 1, name="a"), ks.Conv2D(3, 3, padding="same", name="b"), ks.Add(name="m")
    calls = [(a, "x"), (b, "x"), (m, ("a", "b")), (ks.Flatten(name="f"), "a")]
    model = ks.Functional(x, calls, output="m", name="net")
    assert (
        repr(model) == f"Functional({x!r}, [({a!r}, 'x'), ({b!r}, 'x'), ({m!r}, ('a', 'b'))], output='m', name='net')"
    )
    assert [layer.name for layer in model.layers] == ["a", "b", "m"]  # f is not on the way to the output
    assert convcalc.plan(model).output_shape == (1, 8, 8, 3)


def test_made_up_names_count_up_per_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_base, "_COUNTERS", {})
    assert [ks.Dense(2).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert ks.Conv2D(2, 1).name == "conv2d"
    x = ks.Input((4,), name="x")
    assert ks.Sequential([x, ks.Dense(2, name="d")]).name == "sequential"
    assert ks.Sequential([x, ks.Dense(2, name="d")]).name == "sequential_1"
    assert ks.Functional(x, [(ks.Dense(2, name="d"), "x")]).name == "functional"
    assert ks.Functional(x, [(ks.Dense(2, name="d"), "x")], name="net").name == "net"
    assert ks.Passthrough("ReLU").name == "layer"
    assert ks.Dense(2, name="head")._where("") == "head (Dense)"
    assert ks.Dense(2, name="head")._where("block.head") == "block.head (Dense)"


def test_frozen_and_shared_layers() -> None:
    assert _message(lambda: ks.Frozen(3)) == "Frozen takes a convcalc.keras layer. Received: layer=3"
    x = ks.Input((8, 8, 3), name="x")
    assert _message(lambda: ks.Frozen(x)) == f"Frozen takes a convcalc.keras layer. Received: layer={x!r}"
    bn = ks.BatchNormalization(name="bn")
    model = ks.Functional(
        x,
        [(ks.Conv2D(3, 1, name="a"), "x"), (bn, "a"), (bn, "bn"), (ks.Frozen(ks.Add(name="m")), ("bn", "bn:1"))],
    )
    plan = convcalc.plan(model)
    # the shared normalisation counts once, at its first call: 6 trainable, 6 non-trainable
    assert [(r.name, r.trainable, r.non_trainable) for r in plan.rows] == [
        ("a", 12, 0),
        ("bn", 6, 6),
        ("bn:1", 0, 0),
        ("m", 0, 0),
    ]
    frozen = ks.Functional(
        x, [(ks.Frozen(ks.Conv2D(3, 1, name="a")), "x"), (ks.Frozen(ks.BatchNormalization(name="b")), "a")]
    )
    assert [(r.trainable, r.non_trainable) for r in convcalc.plan(frozen).rows] == [(0, 12), (0, 12)]
    k = keras.Input((8, 8, 3))
    shared = L.BatchNormalization()
    y = shared(shared(L.Conv2D(3, 1)(k)))
    assert _counts(keras.Model(k, y)) == (plan.total_params, plan.trainable_params, plan.non_trainable_params)


def test_a_shared_layer_called_on_a_tensor_it_cannot_take_is_named_by_its_call() -> None:
    x = ks.Input((8, 8, 3), name="x")
    for layer, kind in (
        (ks.Conv2D(3, 1, name="l"), "Conv2D"),
        (ks.DepthwiseConv2D(1, name="l"), "DepthwiseConv2D"),
        (ks.SeparableConv2D(3, 1, name="l"), "SeparableConv2D"),
        (ks.Conv2DTranspose(3, 1, name="l"), "Conv2DTranspose"),
        (ks.MaxPooling2D(1, name="l"), "MaxPooling2D"),
        (ks.GlobalAveragePooling2D(keepdims=True, name="l"), "GlobalAveragePooling2D"),
        (ks.ZeroPadding2D(1, name="l"), "ZeroPadding2D"),
        (ks.UpSampling2D(name="l"), "UpSampling2D"),
    ):
        model = ks.Functional(x, [(layer, "x"), (ks.GlobalMaxPooling2D(name="g"), "l"), (layer, "g")])
        assert _message(lambda model=model: convcalc.plan(model)) == (
            f"l:1 ({kind}): expects a 4-D input (batch, *spatial, channels) but receives 2-D (1, 3). "
            "Received: input_shape=(1, 3)"
        ), kind
    dense = ks.Dense(3, name="l")
    model = ks.Functional(ks.Input((4,), name="x"), [(dense, "x"), (ks.Flatten(name="f"), "l"), (dense, "f")])
    assert convcalc.plan(model).output_shape == (1, 3)
    grouped = ks.Conv2D(4, 1, groups=2, name="l")
    model = ks.Functional(
        x, [(ks.Conv2D(4, 1, name="a"), "x"), (grouped, "a"), (ks.Conv2D(3, 1, name="b"), "l"), (grouped, "b")]
    )
    assert _message(lambda: convcalc.plan(model)) == (
        "l:1 (Conv2D): 3 input channels are not divisible by groups=2. Received: input_shape=(1, 8, 8, 3)"
    )


def test_passthrough_and_upsampling_arguments() -> None:
    assert _message(lambda: ks.Passthrough("not id")) == (
        "keras_kind must be a Keras class name. Received: keras_kind='not id'"
    )
    assert _message(lambda: ks.Passthrough(3)) == "keras_kind must be a Keras class name. Received: keras_kind=3"
    assert _message(lambda: ks.UpSampling2D(0)) == "size must be at least 1. Received: size=0"
    assert _message(lambda: ks.UpSampling2D((2,))) == (
        "size must be an int or a tuple of 2 ints. Received: size=(2,), data_format=None, interpolation='nearest'"
    )
    assert _message(lambda: ks.UpSampling2D(2, data_format="channels_first")) == (
        "convcalc.keras plans channels_last models only. Received: size=2, data_format='channels_first', "
        "interpolation='nearest'"
    )


# --- every layer's row: its input, output, MACs with and without bias, receptive field ------------------------------

ROWS = [
    # name, kind, input shape, output shape, MACs, MACs + bias adds
    ("c", "Conv2D", (1, 9, 8, 3), (1, 4, 6, 4), 2592, 2688),
    ("zp", "ZeroPadding2D", (1, 4, 6, 4), (1, 7, 13, 4), 0, 0),
    ("mp", "MaxPooling2D", (1, 7, 13, 4), (1, 3, 6, 4), 0, 0),
    ("up", "UpSampling2D", (1, 3, 6, 4), (1, 6, 18, 4), 0, 0),
    ("act", "Activation", (1, 6, 18, 4), (1, 6, 18, 4), 0, 0),
    ("do", "Dropout", (1, 6, 18, 4), (1, 6, 18, 4), 0, 0),
    ("relu", "ReLU", (1, 6, 18, 4), (1, 6, 18, 4), 0, 0),
    ("bn", "BatchNormalization", (1, 6, 18, 4), (1, 6, 18, 4), 0, 0),
    # a transposed convolution: every input position meets the (3, 3, 4, 2) kernel; a bias per output element
    ("ct", "Conv2DTranspose", (1, 6, 18, 4), (1, 13, 37, 2), 6 * 18 * 72, 6 * 18 * 72 + 13 * 37 * 2),
    ("dw", "DepthwiseConv2D", (1, 13, 37, 2), (1, 11, 35, 2), 11 * 35 * 18, 11 * 35 * 20),
    ("sep", "SeparableConv2D", (1, 11, 35, 2), (1, 9, 33, 3), 9 * 33 * 24, 9 * 33 * 27),
    ("gap", "GlobalAveragePooling2D", (1, 9, 33, 3), (1, 1, 1, 3), 0, 0),
    ("fl", "Flatten", (1, 1, 1, 3), (1, 3), 0, 0),
    ("d", "Dense", (1, 3), (1, 5), 15, 20),
]


def _all_layers() -> Any:
    return ks.Sequential(
        [
            ks.Input((9, 8, 3)),
            ks.Conv2D(4, 3, strides=(2, 1), name="c"),
            ks.ZeroPadding2D(((1, 2), (3, 4)), name="zp"),
            ks.MaxPooling2D(2, name="mp"),
            ks.UpSampling2D((2, 3), name="up"),
            ks.Activation("relu", name="act"),
            ks.Dropout(0.5, name="do"),
            ks.Passthrough("ReLU", name="relu"),
            ks.BatchNormalization(name="bn"),
            ks.Conv2DTranspose(2, 3, strides=2, name="ct"),
            ks.DepthwiseConv2D(3, name="dw"),
            ks.SeparableConv2D(3, 3, name="sep"),
            ks.GlobalAveragePooling2D(keepdims=True, name="gap"),
            ks.Flatten(name="fl"),
            ks.Dense(5, name="d"),
        ]
    )


def test_every_layer_row_has_its_input_output_and_macs_with_and_without_bias() -> None:
    model = _all_layers()
    plain, biased = convcalc.plan(model), convcalc.plan(model, macs="macs+bias")
    got = [
        (r.name, r.kind, r.input_shape, r.output_shape, r.macs, b.macs)
        for r, b in zip(plain.rows, biased.rows, strict=True)
    ]
    assert got == ROWS
    unbiased = ks.Sequential(
        [
            ks.Input((6, 6, 2)),
            ks.Conv2D(2, 3, use_bias=False),
            ks.Conv2DTranspose(2, 2, use_bias=False),
            ks.Dense(3, use_bias=False),
        ]
    )
    assert convcalc.plan(unbiased, macs="macs+bias").macs == convcalc.plan(unbiased).macs == 16 * 36 + 16 * 16 + 25 * 6
    rows = ks.Sequential([ks.Input((4, 3)), ks.Dense(5, name="d")])
    assert convcalc.plan(rows, macs="macs+bias").rows[0].macs == 4 * (15 + 5)


def test_receptive_fields_through_padding_and_pooling_keep_each_axis_apart() -> None:
    rows = convcalc.plan(_all_layers()).rows
    assert [r.receptive_field for r in rows[:3]] == [
        (ReceptiveField(3, 2, 0), ReceptiveField(3, 1, 0)),
        (ReceptiveField(3, 2, -2), ReceptiveField(3, 1, -3)),
        (ReceptiveField(5, 4, -2), ReceptiveField(4, 2, -3)),
    ]
    model = ks.Sequential(
        [
            ks.Input((16, 16, 1)),
            ks.Conv2D(1, (3, 1), strides=(1, 2), name="c"),
            ks.ZeroPadding2D(((2, 0), (0, 3)), name="zp"),
        ]
    )
    assert convcalc.plan(model).rows[1].receptive_field == (ReceptiveField(3, 1, -2), ReceptiveField(1, 2, 0))
    act = ks.Sequential(
        [ks.Input((8, 8, 1)), ks.Conv2D(1, 3), ks.Activation("relu", name="a"), ks.Dropout(0.1, name="d")]
    )
    fields = [r.receptive_field for r in convcalc.plan(act).rows]
    assert fields[0] == fields[1] == fields[2] == (ReceptiveField(3, 1, 0), ReceptiveField(3, 1, 0))


def test_layer_argument_messages() -> None:
    cases = {
        lambda: ks.Conv2DTranspose(0, 3): "filters must be at least 1. Received: filters=0",
        lambda: ks.Conv2DTranspose(2, 0): "kernel_size must be at least 1. Received: kernel_size=0",
        lambda: ks.Conv2DTranspose(2, 3, strides=0): "strides must be at least 1. Received: strides=0",
        lambda: ks.Conv2DTranspose(
            2, 3, dilation_rate=(1, 0)
        ): "dilation_rate must be at least 1. Received: dilation_rate=0",
        lambda: ks.Conv2DTranspose(2, 3, strides=2, output_padding=-1): (
            "output_padding must be at least 0. Received: output_padding=-1"
        ),
        lambda: ks.ZeroPadding2D(((1, -1), (0, 0))): "padding must be at least 0. Received: padding=-1",
        lambda: ks.MaxPooling2D(0): "pool_size must be at least 1. Received: pool_size=0",
        lambda: ks.MaxPooling2D(2, strides=(1, 0)): "strides must be at least 1. Received: strides=0",
        lambda: ks.Conv2D(2, 3, strides=0): "strides must be at least 1. Received: strides=0",
        lambda: ks.Conv2D(2, 3, dilation_rate=0): "dilation_rate must be at least 1. Received: dilation_rate=0",
    }
    for make, message in cases.items():
        assert _message(make) == message
    transposed = "filters=2, kernel_size={}, strides={}, padding='valid', output_padding={}, data_format=None, dilation_rate={}, activation=None, use_bias=True"
    for k, s, op, d, name in (
        ((3, 3, 3), 1, None, 1, "kernel_size"),
        (3, (1, 2, 3), None, 1, "strides"),
        (3, 2, None, (1, 1, 1), "dilation_rate"),
        (3, 2, (1, 1, 1), 1, "output_padding"),
    ):
        assert _message(
            lambda k=k, s=s, op=op, d=d: ks.Conv2DTranspose(2, k, strides=s, output_padding=op, dilation_rate=d)
        ) == (f"{name} must be an int or a tuple of 2 ints. Received: {transposed.format(k, s, op, d)}")
    assert _message(lambda: ks.Conv2DTranspose(2, 3, strides=(2, 3), output_padding=(1, 3))) == (
        "output_padding=3 must be strictly less than strides=3 on axis 1 (Keras). Received: filters=2, kernel_size=3, "
        "strides=(2, 3), padding='valid', output_padding=(1, 3), data_format=None, dilation_rate=1, activation=None, "
        "use_bias=True"
    )
    assert _message(lambda: ks.MaxPooling2D(2, strides=(1, 2, 3))) == (
        "strides must be an int or a tuple of 2 ints. Received: pool_size=2, strides=(1, 2, 3), padding='valid', "
        "data_format=None"
    )
    conv = "filters=2, kernel_size=3, strides=1, padding='valid', data_format=None, dilation_rate={}, groups=1, activation=None, use_bias={}, input_shape=None, lora_rank=None"
    assert _message(lambda: ks.Conv2D(2, 3, use_bias=1)) == (
        f"use_bias must be True or False. Received: {conv.format(1, 1)}"
    )
    assert _message(lambda: ks.Conv2D(2, 3, dilation_rate=(1, 1, 1))) == (
        f"dilation_rate must be an int or a tuple of 2 ints. Received: {conv.format((1, 1, 1), True)}"
    )
    assert _message(lambda: ks.Dropout(-0.1)) == "rate must be between 0 and 1. Received: rate=-0.1"
    assert convcalc.plan(ks.Sequential([ks.Input((4,)), ks.Dropout(0)])).output_shape == (1, 4)
    assert convcalc.plan(ks.Sequential([ks.Input((4, 4, 2)), ks.MaxPooling2D(2, padding="SAME")])).output_shape == (
        1,
        2,
        2,
        2,
    )


def test_normalisation_axes_and_dense_ranks() -> None:
    shared = ks.BatchNormalization(axis=3, name="bn")
    model = ks.Functional(
        ks.Input((8, 8, 3), name="x"), [(shared, "x"), (ks.GlobalAveragePooling2D(name="g"), "bn"), (shared, "g")]
    )
    assert _message(lambda: convcalc.plan(model)) == (
        "bn:1 (BatchNormalization): axis=3 is out of range for (1, 3). Received: input_shape=(1, 3)"
    )
    bn = ks.BatchNormalization(axis=1, name="bn")
    model = ks.Functional(
        ks.Input((8, 8, 3), name="x"),
        [(bn, "x"), (ks.GlobalAveragePooling2D(name="g"), "bn"), (ks.Flatten(name="f"), "g")],
    )
    assert convcalc.plan(model).rows[0].non_trainable == 16
    assert _message(lambda: convcalc.plan(ks.BatchNormalization(axis=0, name="bn"), (1, 4, 4, 2))) == (
        "bn (BatchNormalization): axis=0 is out of range for (1, 4, 4, 2). Received: input_shape=(1, 4, 4, 2)"
    )
    assert _message(lambda: convcalc.plan(ks.BatchNormalization(axis=-5, name="bn"), (1, 4, 4, 2))) == (
        "bn (BatchNormalization): axis=-5 is out of range for (1, 4, 4, 2). Received: input_shape=(1, 4, 4, 2)"
    )
    assert convcalc.plan(ks.BatchNormalization(axis=1, name="bn"), (1, 4, 4, 2)).rows[0].non_trainable == 8
    assert convcalc.plan(ks.BatchNormalization(axis=-4 + 1, name="bn"), (1, 5, 4, 2)).rows[0].trainable == 10
    assert _message(lambda: convcalc.plan(ks.Dense(3, name="d"), (4,))) == (
        "d (Dense): expects an input of at least 2 dims (batch, ..., features) but receives 1-D (4,). "
        "Received: input_shape=(4,)"
    )
    with pytest.raises(ShapeError):
        convcalc.plan(ks.Sequential([ks.Input((2, 2, 1)), ks.Conv2D(1, 3)]))
    with pytest.raises(SpecError):
        ks.Dense(3, use_bias=1)


def test_a_shared_merge_names_its_second_call() -> None:
    x = ks.Input((8, 8, 3), name="x")
    a, b = ks.Conv2D(3, 1, name="a"), ks.Conv2D(3, 2, name="b")
    for merge, second, message in (
        (ks.Add(name="m"), ("a", "b"), "m:1 (Add): Inputs have incompatible shapes on axis 1: 8 != 7."),
        (ks.Add(name="m"), ("a",), "m:1 (Add): a merge layer needs at least 2 inputs."),
        (ks.Subtract(name="m"), ("a", "a", "a"), "m:1 (Subtract): A `Subtract` layer should be called on exactly 2"),
        (ks.Concatenate(name="m"), ("a", "f"), "m:1 (Concatenate): A `Concatenate` layer requires inputs of the same"),
        (ks.Concatenate(axis=3, name="m"), ("f", "f"), "m:1 (Concatenate): axis=3 is out of range for (1, 192)."),
        (
            ks.Concatenate(name="m"),
            ("a", "b"),
            "m:1 (Concatenate): A `Concatenate` layer requires inputs with matching shapes except for the "
            "concatenation axis on axis 1: 8 != 7.",
        ),
    ):
        calls = [(a, "x"), (b, "x"), (ks.Flatten(name="f"), "a"), (merge, ("a", "a")), (merge, second)]
        assert _message(lambda calls=calls: convcalc.plan(ks.Functional(x, calls))).startswith(message), merge


def test_a_symbolic_mismatch_that_no_size_mends_is_refused_on_its_axis() -> None:
    H, W = convcalc.symbols("H W")
    x = ks.Input((None, None, 3), name="x")
    grown = [(ks.ZeroPadding2D(((0, 1), (0, 0)), name="zp"), "x")]
    model = ks.Functional(x, [*grown, (ks.Concatenate(name="m"), ("x", "zp"))])
    assert _message(lambda: convcalc.plan(model, (1, H, W, 3))).startswith(
        "m (Concatenate): A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
        "axis on axis 1: H != H + 1."
    )
    # an Add broadcasts a 1: H beside H + 1 is mended at H = 1 alone (Keras adds (1, 1, W, 3) to (1, 2, W, 3))
    model = ks.Functional(x, [*grown, (ks.Add(name="m"), ("x", "zp"))])
    assert [v for v in range(1, 20) if v in convcalc.plan(model, (1, H, W, 3)).valid_sizes(H)] == [1]
    grown2 = [*grown, (ks.ZeroPadding2D(((0, 2), (0, 0)), name="zq"), "x")]
    model = ks.Functional(x, [*grown2, (ks.Add(name="m"), ("zp", "zq"))])
    assert _message(lambda: convcalc.plan(model, (1, H, W, 3))).startswith(
        "m (Add): Inputs have incompatible shapes on axis 1: H + 1 != H + 2, and neither is 1"
    )
    model = ks.Functional(
        x, [(ks.MaxPooling2D(1, strides=(1, 2), name="mp"), "x"), (ks.Concatenate(name="m"), ("x", "mp"))]
    )
    plan = convcalc.plan(model, (1, H, W, 3))
    assert [(c.layer, c.axis, c.reason) for c in plan.constraints] == [("m", 1, "merged sizes match")]


def test_a_merge_of_a_tensor_with_one_more_axis_broadcasts_from_the_right() -> None:
    x = ks.Input((1, 3), name="x")
    model = ks.Functional(x, [(ks.Flatten(name="f"), "x"), (ks.Add(name="m"), ("f", "x"))])
    k = keras.Input((1, 3))
    expected = keras.Model(k, L.Add()([L.Flatten()(k), k])).output_shape
    assert convcalc.plan(model).output_shape == (1, *expected[1:]) == (1, 1, 3)


def test_a_passthrough_keeps_the_receptive_field() -> None:
    model = ks.Sequential([ks.Input((8, 8, 1)), ks.Conv2D(1, 3), ks.Passthrough("ReLU", name="r")])
    rows = convcalc.plan(model).rows
    assert rows[1].receptive_field == rows[0].receptive_field == (ReceptiveField(3, 1, 0), ReceptiveField(3, 1, 0))


def test_padding_after_strided_and_padded_layers_moves_each_axis_by_its_own_jump() -> None:
    model = ks.Sequential(
        [
            ks.Input((16, 16, 1)),
            ks.ZeroPadding2D(((0, 0), (1, 0)), name="a"),
            ks.Conv2D(1, 3, strides=(1, 2), name="c"),
            ks.ZeroPadding2D(((2, 0), (3, 0)), name="zp"),
        ]
    )
    assert convcalc.plan(model).rows[-1].receptive_field == (ReceptiveField(3, 1, -2), ReceptiveField(3, 2, -7))


def test_lora_counts_are_whole_numbers() -> None:
    plan = convcalc.plan(ks.Sequential([ks.Input((8, 8, 3)), ks.Conv2D(4, 3, lora_rank=2)]))
    assert [type(v) for v in (plan.trainable_params, plan.non_trainable_params)] == [int, int]


def test_a_shared_pool_whose_window_no_longer_fits_names_its_second_call() -> None:
    pool = ks.MaxPooling2D(3, name="p")
    model = ks.Functional(ks.Input((8, 8, 3), name="x"), [(pool, "x"), (pool, "p")])
    assert _message(lambda: convcalc.plan(model)).startswith(
        "p:1 (MaxPooling2D): computed output size would be zero or negative on spatial axis 0"
    )


def test_the_last_messages_and_reasons() -> None:
    """A per-axis stride beside one output padding names the axis; a symbolic window states why it must fit; a
    shared merge's symbolic mismatch names its second call."""
    assert _message(lambda: ks.Conv2DTranspose(2, 3, strides=(3, 2), output_padding=2)) == (
        "output_padding=2 must be strictly less than strides=2 on axis 1 (Keras). Received: filters=2, "
        "kernel_size=3, strides=(3, 2), padding='valid', output_padding=2, data_format=None, dilation_rate=1, "
        "activation=None, use_bias=True"
    )
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(ks.Sequential([ks.Input((None, None, 1)), ks.Conv2D(1, 3, name="c")]), (1, H, W, 1))
    assert [(c.layer, c.axis, c.reason) for c in plan.constraints] == [
        ("c", 0, "window 3 fits"),
        ("c", 1, "window 3 fits"),
    ]
    x, add = ks.Input((None, None, 3), name="x"), ks.Add(name="m")
    model = ks.Functional(
        x,
        [
            (ks.ZeroPadding2D(((0, 1), (0, 0)), name="zp"), "x"),
            (ks.ZeroPadding2D(((0, 2), (0, 0)), name="zq"), "x"),
            (add, ("x", "x")),
            (add, ("zp", "zq")),
        ],
    )
    assert _message(lambda: convcalc.plan(model, (1, H, W, 3))) == (
        "m:1 (Add): Inputs have incompatible shapes on axis 1: H + 1 != H + 2, and neither is 1 (Keras broadcasts "
        "a 1). Received: input_shapes=[(1, H + 1, W, 3), (1, H + 2, W, 3)]"
    )


def test_conv3d_transpose_defaults_are_keras() -> None:
    """``keras.layers.Conv3DTranspose(2, 3)`` on (1, 4, 4, 4, 3): strides 1 and 'valid' padding give (1, 6, 6, 6, 2)
    and 164 parameters (Keras 3.x, written in); the activation is kept as given."""
    plan = convcalc.plan(ks.Sequential([ks.Conv3DTranspose(2, 3)]), (1, 4, 4, 4, 3))
    assert (plan.output_shape, plan.total_params) == ((1, 6, 6, 6, 2), 164)
    layer = ks.Conv3DTranspose(2, 3, activation="relu")
    assert "activation='relu'" in repr(layer)
    assert layer.activation == "relu"
