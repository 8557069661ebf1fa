"""Models read from Keras planned at other inputs than they were built for, with Keras itself as the oracle.

A built Keras layer's weights fix part of its input (a Conv's input channels, a Dense's input features, a
BatchNormalization's axis and rank) and a Keras model checks its input's rank (a functional model its whole
``Input``). For each small model and each input shape, convcalc must plan exactly when ``model(x)`` runs,
and then give Keras' output shape and ``count_params()``; where Keras refuses, convcalc refuses with a
ShapeError. The same holds for the model's saved ``.keras`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import ShapeError, SpecError
from convcalc import keras as ks

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
L = keras.layers


def _functional_gap() -> Any:
    x = keras.Input((12, 12, 2))
    return keras.Model(x, L.Dense(3)(L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(x))))


def _functional_free_sizes() -> Any:
    x = keras.Input((None, None, 2))
    return keras.Model(x, L.GlobalMaxPooling2D()(L.Conv2D(4, 3, strides=2, padding="same")(x)))


def _nested() -> Any:
    inner = keras.Sequential([keras.Input((6, 6, 4)), L.Conv2D(2, 1, name="inner_conv")], name="inner")
    x = keras.Input((8, 8, 3))
    return keras.Model(x, inner(L.Conv2D(4, 3, name="outer_conv")(x)))


def _built_later() -> Any:
    model = keras.Sequential([L.Conv2D(4, 3), L.GlobalAveragePooling2D(), L.Dense(2)])
    model.build((None, None, None, 3))
    return model


def _frozen_conv() -> Any:
    return keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, trainable=False), L.Flatten(), L.Dense(2)])


def _seq(shape: tuple[int | None, ...], *layers: Any) -> Callable[[], Any]:
    return lambda: keras.Sequential([keras.Input(shape), *layers])


#: name -> (model builder, input shapes to try); the built input comes first
MODELS: dict[str, tuple[Callable[[], Any], list[tuple[int, ...]]]] = {
    "conv2d pool flatten dense": (
        _seq((12, 12, 1), L.Conv2D(4, 3), L.MaxPooling2D(), L.Flatten(), L.Dense(3)),
        [
            (1, 12, 12, 1),
            (3, 12, 12, 1),
            (1, 12, 12, 3),
            (1, 16, 16, 1),
            (1, 1, 12, 12),
            (1, 12, 12),
            (1, 12, 12, 1, 1),
        ],
    ),
    "conv2d global pool dense": (
        _seq((10, 10, 2), L.Conv2D(4, 3), L.GlobalAveragePooling2D(), L.Dense(3)),
        [(1, 10, 10, 2), (2, 16, 9, 2), (1, 10, 10, 3), (1, 2, 10, 10), (1, 10, 10), (1, 10, 10, 2, 1)],
    ),
    "conv1d flatten dense": (
        _seq((10, 3), L.Conv1D(4, 3), L.Flatten(), L.Dense(2)),
        [(1, 10, 3), (2, 10, 3), (1, 10, 4), (1, 12, 3), (1, 3, 10), (1, 10)],
    ),
    "conv3d": (
        _seq((6, 6, 6, 2), L.Conv3D(3, 2)),
        [(1, 6, 6, 6, 2), (1, 7, 5, 6, 2), (1, 6, 6, 6, 1), (1, 2, 6, 6, 6), (1, 6, 6, 2)],
    ),
    "dense 2-D": (_seq((6,), L.Dense(4), L.Dense(2)), [(1, 6), (5, 6), (1, 7), (1, 5, 6), (1, 6, 1)]),
    "dense 3-D": (_seq((5, 6), L.Dense(4)), [(1, 5, 6), (1, 9, 6), (1, 5, 7), (1, 6), (1, 2, 5, 6)]),
    "dense on a trailing 1": (_seq((4, 1), L.Dense(3)), [(1, 4, 1), (1, 4), (1, 7), (1, 4, 2)]),
    "batch normalization": (
        _seq((4, 4, 3), L.BatchNormalization()),
        [(1, 4, 4, 3), (2, 7, 5, 3), (1, 4, 4, 4), (1, 3), (1, 5, 3), (1, 3, 4, 4)],
    ),
    "batch normalization axis 1": (
        _seq((3, 5), L.BatchNormalization(axis=1)),
        [(1, 3, 5), (1, 3, 9), (1, 4, 5), (1, 5, 3)],
    ),
    "depthwise": (
        _seq((8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2)),
        [(1, 8, 8, 3), (1, 9, 11, 3), (1, 8, 8, 2), (1, 3, 8, 8)],
    ),
    "separable": (
        _seq((8, 8, 3), L.SeparableConv2D(5, 3), L.Flatten(), L.Dense(2)),
        [(1, 8, 8, 3), (2, 8, 8, 3), (1, 8, 8, 4), (1, 9, 8, 3)],
    ),
    "transpose": (
        _seq((5, 5, 2), L.Conv2DTranspose(3, 3, strides=2), L.GlobalMaxPooling2D()),
        [(1, 5, 5, 2), (1, 7, 4, 2), (1, 5, 5, 3), (1, 2, 5, 5)],
    ),
    "functional global pool": (_functional_gap, [(1, 12, 12, 2), (4, 12, 12, 2), (1, 16, 16, 2), (1, 12, 12, 3)]),
    "functional free sizes": (_functional_free_sizes, [(1, 9, 9, 2), (1, 20, 7, 2), (1, 9, 9, 3), (1, 9, 9)]),
    "nested": (_nested, [(1, 8, 8, 3), (1, 9, 9, 3), (1, 8, 8, 2)]),
    "built later": (_built_later, [(1, 9, 9, 3), (2, 14, 6, 3), (1, 9, 9, 2), (1, 3, 9, 9)]),
    "frozen conv": (_frozen_conv, [(1, 8, 8, 3), (1, 8, 8, 1), (1, 9, 9, 3)]),
    "layer normalization": (
        _seq((5, 6), L.LayerNormalization(), L.GlobalAveragePooling1D()),
        [(1, 5, 6), (2, 9, 6), (1, 5, 7), (1, 6, 5)],
    ),
    # (LayerNormalization over axes that are not the last ones does not run on Keras' torch backend, not even at
    # the shape it was built for: its sizes are checked against Keras' build below, not against a call)
    "layer normalization two axes": (
        _seq((5, 6), L.LayerNormalization(axis=(1, 2), rms_scaling=True)),
        [(1, 5, 6), (3, 5, 6), (1, 4, 6), (1, 5, 7)],
    ),
    "conv1d pools": (
        _seq((12, 3), L.Conv1D(4, 3), L.MaxPooling1D(), L.AveragePooling1D(2, 1, "same"), L.GlobalMaxPooling1D()),
        [(1, 12, 3), (2, 30, 3), (1, 12, 2), (1, 3, 12)],
    ),
    "conv3d pools": (
        _seq((6, 7, 8, 2), L.Conv3D(3, 2), L.MaxPooling3D(), L.AveragePooling3D(1), L.GlobalAveragePooling3D()),
        [(1, 6, 7, 8, 2), (1, 9, 9, 9, 2), (1, 6, 7, 8, 1)],
    ),
    "cropping": (
        _seq((9, 9, 2), L.Cropping2D(((1, 2), (0, 3))), L.Conv2D(3, 3), L.GlobalMaxPooling2D()),
        [(1, 9, 9, 2), (1, 12, 8, 2), (1, 9, 9, 3), (1, 5, 9, 2)],
    ),
}


def _keras_output(model: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(model(np.zeros(shape, "float32")).shape)
    except Exception:  # any refusal of Keras' is the oracle's "no"
        return None


_BUILT: dict[str, Any] = {}


def _model(name: str) -> Any:
    if name not in _BUILT:
        _BUILT[name] = MODELS[name][0]()
    return _BUILT[name]


@pytest.mark.parametrize("name", list(MODELS))
def test_plans_exactly_the_inputs_keras_runs(name: str) -> None:
    model = _model(name)
    for shape in MODELS[name][1]:
        expected = _keras_output(model, shape)
        if expected is None:
            with pytest.raises(ShapeError):
                convcalc.plan(model, shape)
            continue
        plan = convcalc.plan(model, shape)
        assert (plan.output_shape, plan.total_params) == (expected, model.count_params()), shape


@pytest.mark.parametrize("name", ["conv2d pool flatten dense", "functional global pool", "nested", "built later"])
def test_a_saved_file_allows_what_the_live_model_allows(name: str, tmp_path: Path) -> None:
    model = _model(name)
    path = tmp_path / "model.keras"
    model.save(path)
    for shape in MODELS[name][1]:
        assert _outcome(str(path), shape) == _outcome(model, shape), shape


def _outcome(model: Any, shape: tuple[int, ...]) -> Any:
    """(output shape, total parameters), or the message of the ShapeError that refuses the input."""
    try:
        plan = convcalc.plan(model, shape)
    except ShapeError as exc:
        return str(exc)
    return plan.output_shape, plan.total_params


# --- layers Keras has, with Keras' own shapes and counts ------------------------------------------------------

LAYERS: list[tuple[Callable[[], Any], tuple[int, ...]]] = [
    (lambda: L.Cropping1D(), (5, 2)),
    (lambda: L.Cropping1D((2, 0)), (5, 2)),
    (lambda: L.Cropping1D((2, 3)), (5, 2)),
    (lambda: L.Cropping2D(1), (4, 5, 2)),
    (lambda: L.Cropping2D((1, 2)), (4, 5, 2)),
    (lambda: L.Cropping2D(((0, 3), (1, 0))), (4, 5, 2)),
    (lambda: L.Cropping2D(((2, 2), (0, 0))), (4, 5, 2)),
    (lambda: L.Cropping3D(), (3, 4, 5, 1)),
    (lambda: L.Cropping3D((0, 1, 2)), (3, 4, 5, 1)),
    (lambda: L.Cropping3D(((1, 0), (0, 0), (2, 2))), (3, 4, 5, 1)),
    (lambda: L.LayerNormalization(), (4, 6)),
    (lambda: L.LayerNormalization(axis=1, center=False), (4, 6)),
    (lambda: L.LayerNormalization(axis=[1, 2, 3], scale=False), (2, 3, 4)),
    (lambda: L.LayerNormalization(axis=-2, rms_scaling=True), (3, 4, 5)),
    (lambda: L.LayerNormalization(axis=3), (4, 6)),
    (lambda: L.MaxPooling1D(), (7, 3)),
    (lambda: L.MaxPooling1D(3, 2, "same"), (7, 3)),
    (lambda: L.MaxPooling1D(8), (7, 3)),
    (lambda: L.AveragePooling1D(2, 3), (7, 3)),
    (lambda: L.MaxPooling3D(), (5, 6, 7, 2)),
    (lambda: L.AveragePooling3D((1, 2, 3), padding="same"), (5, 6, 7, 2)),
    (lambda: L.MaxPooling3D(6), (5, 6, 7, 2)),
    (lambda: L.GlobalAveragePooling1D(), (7, 3)),
    (lambda: L.GlobalMaxPooling1D(keepdims=True), (7, 3)),
    (lambda: L.GlobalAveragePooling3D(keepdims=True), (3, 4, 5, 2)),
    (lambda: L.GlobalMaxPooling3D(), (3, 4, 5, 2)),
]


@pytest.mark.parametrize(("make", "shape"), LAYERS)
def test_more_keras_layers_match_keras(make: Callable[[], Any], shape: tuple[int, ...]) -> None:
    try:
        model = keras.Sequential([keras.Input(shape), make()])
    except (ValueError, IndexError):  # Keras refuses the layer at this input
        with pytest.raises(convcalc.ConvCalcError):
            convcalc.plan(keras.Sequential([make()]), (1, *shape))
        return
    plan = convcalc.plan(model)
    assert plan.output_shape == (1, *model.output_shape[1:])
    assert (plan.total_params, plan.trainable_params) == (
        model.count_params(),
        sum(int(np.prod(w.shape)) for w in model.trainable_weights),
    )


# --- the messages ----------------------------------------------------------------------------------------------


def _message(model: Any, shape: Any) -> str:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(model, shape)
    return str(caught.value)


def test_other_channels_name_the_layer_the_axis_and_an_input_that_fits() -> None:
    model = _model("conv2d pool flatten dense")
    conv = model.layers[0].name
    assert _message(model, (1, 12, 12, 3)) == (
        f"{conv} (Conv2D): its weights were built for input_shape=(None, 12, 12, 1), which fixes axis -1 at 1 "
        "(input channels); the input has 3 there, which Keras refuses. The model's weights fit "
        "input_shape=(1, 12, 12, 1). Received: input_shape=(1, 12, 12, 3)"
    )


def test_a_dense_after_flatten_names_its_features_and_the_built_input() -> None:
    model = _model("conv2d pool flatten dense")
    dense = model.layers[-1].name
    assert _message(model, (2, 16, 16, 1)) == (
        f"{dense} (Dense): its weights were built for input_shape=(None, 100), which fixes axis -1 at 100 "
        "(input features); the input has 196 there, which Keras refuses. The model's weights fit "
        "input_shape=(2, 12, 12, 1). Received: input_shape=(2, 196)"
    )


def test_batch_normalization_fixes_its_rank() -> None:
    model = _model("batch normalization")
    bn = model.layers[0].name
    assert _message(model, (1, 5, 3)) == (
        f"{model.name} (Sequential): Keras' model takes a 4-D input such as (1, 4, 4, 3) (batch first; a trailing "
        "axis of 1 may be left out or added), but receives 3-D (1, 5, 3). Received: input_shape=(1, 5, 3)"
    )
    inner = ks.Sequential([ks.BatchNormalization(name="bn")], built={"bn": (None, 4, 4, 3)})
    assert _message(inner, (1, 5, 3)) == (
        "bn (BatchNormalization): its weights were built for a 4-D input (None, 4, 4, 3); Keras refuses the 3-D "
        "one it receives. Received: input_shape=(1, 5, 3)"
    )
    assert bn


def test_a_functional_model_checks_its_input() -> None:
    model = _model("functional global pool")
    assert _message(model, (1, 16, 16, 2)) == (
        f"{model.name} (Functional): Keras checks a functional model's input against its Input: expected "
        "shape=(None, 12, 12, 2), but axis 1 is 16, not 12; build the model on keras.Input with None there to "
        "plan other sizes. Received: input_shape=(1, 16, 16, 2)"
    )


@pytest.mark.parametrize("read", [False, True])
def test_channels_first_is_named_and_the_channels_last_shape_suggested(read: bool) -> None:
    if read:
        model: Any = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(8, 3, name="c"), L.MaxPooling2D()])
    else:
        model = ks.Sequential([ks.Input((28, 28, 1)), ks.Conv2D(8, 3, name="c"), ks.MaxPooling2D()])
    message = _message(model, (1, 1, 28, 28))
    assert "Keras puts channels last: (1, 1, 28, 28) has the model's channels first; " in message
    assert "pass input_shape=(1, 28, 28, 1). Received: " in message
    assert "(1, 3, 28, 28)" not in message
    assert message.startswith("c (Conv2D): ")


def test_symbolic_sizes_take_the_built_width() -> None:
    model = _model("built later")
    H, W, C = convcalc.symbols("H W C")
    plan = convcalc.plan(model, (1, H, W, C))
    assert plan.total_params == model.count_params()
    assert any("built weights fit" in str(c) or c.value == 3 for c in plan.constraints)


def test_a_spec_without_built_shapes_plans_any_size_its_layers_fit() -> None:
    model = ks.Sequential([ks.Input((12, 12, 1)), ks.Conv2D(4, 3), ks.Flatten(), ks.Dense(3)])
    assert convcalc.plan(model, (1, 12, 12, 3)).total_params == 3 * 3 * 3 * 4 + 4 + 10 * 10 * 4 * 3 + 3


def test_built_must_map_names_to_shapes() -> None:
    with pytest.raises(SpecError, match=r"built must map layer names to the input shapes"):
        ks.Sequential([ks.Dense(2, name="d")], built={"d": 4})


# --- activations -----------------------------------------------------------------------------------------------


def test_activation_names_are_keras_own() -> None:
    from keras.src.activations import ALL_OBJECTS_DICT

    from convcalc.keras._base import KERAS_ACTIVATIONS

    assert frozenset(ALL_OBJECTS_DICT) == KERAS_ACTIVATIONS


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ks.Conv2D(8, 3, activation="relu6x", name="c"),
            "c (Conv2D): activation='relu6x' is not an activation Keras knows; did you mean 'relu6', 'relu' or "
            "'elu'? Received: activation='relu6x'",
        ),
        (
            lambda: ks.Dense(4, activation="sigmod", name="d"),
            "d (Dense): activation='sigmod' is not an activation Keras knows; did you mean 'sigmoid', "
            "'log_sigmoid' or 'hard_sigmoid'? Received: activation='sigmod'",
        ),
        (
            lambda: ks.Activation("Relu", name="a"),
            "a (Activation): activation='Relu' is not an activation Keras knows; did you mean 'relu'? "
            "Received: activation='Relu'",
        ),
        (
            lambda: ks.DepthwiseConv2D(3, activation=3, name="w"),
            "w (DepthwiseConv2D): activation must be None, a name such as 'relu', or a callable. "
            "Received: activation=3",
        ),
    ],
)
def test_an_unknown_activation_is_refused_with_close_names(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message


def test_a_name_nothing_like_a_known_one_lists_them_all() -> None:
    with pytest.raises(SpecError, match=r"Keras knows; the names it knows: celu, elu, .*, threshold\. Received"):
        ks.SeparableConv2D(2, 1, activation="xyzzy")


@pytest.mark.parametrize("name", ["relu6x", "Relu", "sigmod"])
def test_keras_refuses_the_same_activation_names(name: str) -> None:
    with pytest.raises(ValueError, match="Could not interpret activation"):
        keras.activations.get(name)


def test_known_activations_callables_and_serialized_ones_are_accepted() -> None:
    for name in ("relu", "swish", "hard_swish", "log_softmax", None):
        ks.Conv2D(2, 1, activation=name)
    ks.Dense(2, activation=abs)
    ks.Dense(2, activation={"module": "my", "class_name": "function", "config": "act", "registered_name": "act"})
    with pytest.raises(SpecError, match="activation must be None, a name such as 'relu', or a callable"):
        ks.Conv2DTranspose(2, 1, activation=3)


def test_layer_normalization_weights_fix_the_normalized_axes() -> None:
    model = ks.Sequential([ks.LayerNormalization(axis=1, name="ln")], built={"ln": (None, 5, 6)})
    assert convcalc.plan(model, (2, 5, 9)).total_params == 10
    assert _message(model, (1, 4, 6)) == (
        "ln (LayerNormalization): its weights were built for input_shape=(None, 5, 6), which fixes axis -2 at 5 "
        "(the size of gamma and beta); the input has 4 there, which Keras refuses. Received: input_shape=(1, 4, 6)"
    )


def test_layer_normalization_axis_out_of_range() -> None:
    assert _message(ks.LayerNormalization(axis=3, name="ln"), (1, 4, 6)) == (
        "ln (LayerNormalization): axis=3 is out of range for a 3-D input; use an axis from 1 to 2 (or -1 to -2). "
        "Received: input_shape=(1, 4, 6)"
    )


def test_cropping_that_leaves_nothing_is_refused() -> None:
    assert _message(ks.Cropping1D((2, 3), name="crop"), (1, 5, 2)) == (
        "crop (Cropping1D): cropping removes 5 of 5 on spatial axis 0; the input must be at least 6 there. The "
        "smallest network input that fits every layer: input_shape=(1, 6, 2). Received: input_shape=(1, 5, 2)"
    )
    with pytest.raises(SpecError, match=r"^`cropping` should have 2 elements\. Received: cropping=\(1, 2, 3\)"):
        ks.Cropping2D((1, 2, 3))
    with pytest.raises(SpecError, match=r"^The `2nd entry of cropping` must be an int or a \(start, end\) pair of"):
        ks.Cropping2D((1, (2, 3, 4)))
    with pytest.raises(SpecError, match=r"^The `cropping` argument must be a tuple of 2 integers\."):
        ks.Cropping1D((1, (2, 3)))
