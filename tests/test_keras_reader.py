"""The Keras reader against real Keras 3: random models built as real Keras models and read back.

Every expected value comes from Keras itself: each layer's ``output.shape``,
``count_params()`` and the sizes of its ``trainable_weights``; where Keras
refuses to build a model, convcalc must refuse to plan it. The same models are
planned straight from their ``convcalc.keras`` specs (the round trip), and a
saved ``.keras`` file is planned in a subprocess that never imports Keras.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc import ConvCalcError, ShapeError, SpecError
from convcalc import keras as ks
from convcalc.keras_reader import supported_layers
from tests.strategies import keras_models

keras = pytest.importorskip("keras")
L = keras.layers

EXAMPLES = 300 if os.environ.get("CI") else 40


# --------------------------------------------------------------------------- #
# convcalc.keras spec -> real Keras model (the test's own builder)
# --------------------------------------------------------------------------- #


def keras_layer(spec: Any) -> Any:
    """The real Keras layer a convcalc.keras spec describes, with the same name and arguments."""
    if isinstance(spec, ks.Frozen):
        layer = keras_layer(spec.layer)
        layer.trainable = False
        return layer
    if isinstance(spec, ks.Passthrough):
        extra = {"rate": 0.5} if spec.keras_kind.startswith("SpatialDropout") else {}
        return getattr(keras.layers, spec.keras_kind)(name=spec.name, **extra)
    args = {f.name: getattr(spec, f.name) for f in fields(spec) if f.init and not f.name.startswith("_")}
    args = {k: v for k, v in args.items() if not (k == "input_shape" and v is None)}
    return getattr(keras.layers, type(spec).__name__)(**args)


def to_keras(model: Any) -> Any:
    """Build a convcalc.keras Sequential or Functional as a real Keras model (Keras raises where it refuses)."""
    if isinstance(model, ks.Sequential):
        shape = model._default_input_shape[1:]
        return keras.Sequential([keras.Input(shape, name="x"), *(keras_layer(s) for s in model.layers)])
    x = keras.Input(model.input.shape, name=model.input.name)
    values = {model.input.name: x}
    made: dict[int, Any] = {}
    for call_name, spec, names, _ in model.calls:
        layer = made.setdefault(id(spec), keras_layer(spec))
        inputs = [values[n] for n in names]
        merge = isinstance(spec, ks._Merging) or isinstance(getattr(spec, "layer", None), ks._Merging)
        values[call_name] = layer(inputs if merge else inputs[0])
    return keras.Model(x, values[model.output])


def weights(variables: Any) -> int:
    return sum(math.prod(w.shape) for w in variables)


def expected_rows(model: Any) -> list[tuple[str, tuple[int, ...], int, int]]:
    """(name, output shape with batch 1, trainable, non-trainable) of every layer, from Keras."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = tuple(1 if d is None else d for d in layer.output.shape)
        trainable = weights(layer.trainable_weights)
        rows.append((layer.name, shape, trainable, layer.count_params() - trainable))
    return rows


# --------------------------------------------------------------------------- #
# Random models: Keras' shapes, counts and refusals
# --------------------------------------------------------------------------- #


@settings(max_examples=EXAMPLES)
@given(keras_models())
def test_random_models_match_keras(spec: Any) -> None:
    try:
        model = to_keras(spec)
    except (ValueError, RuntimeError):  # Keras refuses the model: convcalc must refuse it too
        with pytest.raises(ConvCalcError):
            convcalc.plan(spec)
        return
    plan = convcalc.plan(model)
    got = [(r.name, r.output_shape, r.trainable, r.non_trainable) for r in plan.rows]
    assert got == expected_rows(model)
    assert plan.output_shape == tuple(1 if d is None else d for d in model.layers[-1].output.shape)
    assert plan.total_params == model.count_params()
    assert plan.trainable_params == weights(model.trainable_weights)
    assert plan.non_trainable_params == weights(model.non_trainable_weights)
    # the round trip: the spec planned directly gives the same rows (Keras may order independent branches
    # differently from the order the spec calls them in)
    direct = convcalc.plan(spec)
    assert sorted(direct.rows, key=lambda r: r.name) == sorted(plan.rows, key=lambda r: r.name)
    assert (direct.output_shape, direct.total_params, direct.macs) == (plan.output_shape, plan.total_params, plan.macs)


def test_shared_layer_counts_its_weights_once() -> None:
    x = keras.Input((8, 8, 4), name="x")
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")
    y = conv(conv(x))
    model = keras.Model(x, keras.layers.Add(name="add")([x, y]))
    plan = convcalc.plan(model)
    assert [(r.name, r.output_shape) for r in plan.rows] == [
        ("conv", (1, 8, 8, 4)),
        ("conv:1", (1, 8, 8, 4)),
        ("add", (1, 8, 8, 4)),
    ]
    assert plan.total_params == model.count_params() == 3 * 3 * 4 * 4 + 4


def _weights(model: Any) -> tuple[int, int]:
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return model.count_params(), trainable


def _shared_across_models() -> list[Any]:
    """Layers that more than one model lists: a nested model and the model around it, two nested models, a
    frozen one, a nested model called twice; and two different layers of one name in two nested models."""
    conv = keras.layers.Conv2D(3, 3, padding="same")
    inner = keras.Sequential([keras.Input((8, 8, 3)), conv])
    x = keras.Input((8, 8, 3))
    first = keras.Model(x, conv(inner(x)))
    dense = keras.layers.Dense(4)
    a, b = keras.Sequential([keras.Input((4,)), dense]), keras.Sequential([keras.Input((4,)), dense])
    x = keras.Input((4,))
    second = keras.Model(x, b(a(x)))
    frozen = keras.layers.Dense(4)
    frozen.trainable = False
    x = keras.Input((4,))
    third = keras.Model(x, keras.layers.Dense(2)(frozen(keras.Sequential([keras.Input((4,)), frozen])(x))))
    block = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(4)])
    x = keras.Input((4,))
    fourth = keras.Model(x, block(block(x)))
    one, two = keras.layers.Dense(4, name="d"), keras.layers.Dense(4, name="d")
    x = keras.Input((4,))
    fifth = keras.Model(
        x,
        keras.Sequential([keras.Input((4,)), two], name="s2")(keras.Sequential([keras.Input((4,)), one], name="s1")(x)),
    )
    return [first, second, third, fourth, fifth]


@pytest.mark.parametrize("index", range(5))
def test_a_layer_listed_by_several_models_counts_its_weights_once(index: int) -> None:
    """Keras counts each weight of the whole model once; a layer that a nested model and the model around it
    both list was counted at each (168 parameters for Keras' 84)."""
    model = _shared_across_models()[index]
    plan = convcalc.plan(model)
    assert (plan.total_params, plan.trainable_params) == _weights(model)
    assert plan.output_shape == tuple(d or 1 for d in model.output.shape)


def test_none_sizes_become_symbols_and_input_shape_fills_them() -> None:
    x = keras.Input((None, None, 3))
    y = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
    y = keras.layers.MaxPooling2D()(y)
    model = keras.Model(x, keras.layers.GlobalAveragePooling2D()(y))
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(model)
    assert plan.rows[0].input_shape == (1, H, W, 3)
    for height, width in ((7, 8), (32, 33), (4, 5)):
        numeric = convcalc.plan(model, (2, height, width, 3))
        shape: Any = (2, height, width, 3)
        for layer, row, symbolic in zip(model.layers[1:], numeric.rows, plan.rows, strict=True):
            shape = tuple(layer.compute_output_shape(shape))
            assert row.output_shape == shape
            assert tuple(sympy.sympify(d).subs({H: height, W: width}) for d in symbolic.output_shape[1:]) == shape[1:]


def test_sequential_without_input_needs_an_input_shape() -> None:
    model = keras.Sequential([keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ShapeError, match="needs an input_shape"):
        convcalc.plan(model)
    model.build((None, 9, 9, 3))
    assert convcalc.plan(model).output_shape == (1, 2) == (1, *model.output_shape[1:])
    assert convcalc.plan(model, (5, 9, 9, 3)).total_params == model.count_params()


def test_unsupported_layer_is_named() -> None:
    model = keras.Sequential([keras.Input((10, 8, 3)), keras.layers.ConvLSTM1D(4, 3, name="rnn")])
    with pytest.raises(
        SpecError, match=r"rnn \(ConvLSTM1D\): convcalc cannot read this Keras layer\. Supported: .*Conv2D"
    ):
        convcalc.plan(model)


def test_two_inputs_are_refused() -> None:
    a, b = keras.Input((4, 4, 1), name="a"), keras.Input((4, 4, 1), name="b")
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(SpecError, match="one input and one output; this one has 2 and 1"):
        convcalc.from_keras(model)


def test_from_keras_refuses_other_objects(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"takes a keras\.Model or the path"):
        convcalc.from_keras(42)
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(SpecError, match="not a zip archive"):
        convcalc.plan(bad)
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(SpecError, match=r"no config\.json"):
        convcalc.plan(str(empty))


# --------------------------------------------------------------------------- #
# Saved .keras files, read without Keras
# --------------------------------------------------------------------------- #


def small_model() -> Any:
    x = keras.Input((32, 32, 3), name="image")
    a = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="stem")(x)
    b = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(a)
    b = keras.layers.BatchNormalization(name="bn", trainable=False)(b)
    y = keras.layers.Add(name="skip")([a, b])
    y = keras.layers.Concatenate(name="cat")([y, keras.layers.Conv2D(8, 1, name="proj")(a)])
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(x, keras.layers.Dense(10, name="head")(y))


def test_saved_file_is_planned_without_importing_keras(tmp_path: Path) -> None:
    model = small_model()
    path = tmp_path / "small.keras"
    model.save(path)
    code = (
        "import json, sys, convcalc\n"
        f"p = convcalc.plan({str(path)!r})\n"
        "rows = [[r.name, list(r.output_shape), r.trainable, r.non_trainable] for r in p.rows]\n"
        "print(json.dumps([rows, 'keras' in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    rows, imported = json.loads(done.stdout)
    assert imported is False
    assert [tuple(r) for r in rows] == [(n, list(s), t, nt) for n, s, t, nt in expected_rows(model)]


def test_cli_plans_a_keras_file(tmp_path: Path) -> None:
    model = small_model()
    path = tmp_path / "small.keras"
    model.save(path)
    done = subprocess.run(
        [sys.executable, "-m", "convcalc", "plan", str(path)], capture_output=True, text=True, check=True
    )
    assert f"{model.count_params():,}" in done.stdout
    assert "[1, 10]" in done.stdout


def test_cli_solves_a_keras_file_with_unknown_sizes(tmp_path: Path) -> None:
    x = keras.Input((None, None, 3))
    y = keras.layers.MaxPooling2D(3)(keras.layers.Conv2D(8, 5, strides=2)(x))
    model = keras.Model(x, keras.layers.GlobalAveragePooling2D()(y))
    path = tmp_path / "dynamic.keras"
    model.save(path)
    done = subprocess.run(
        [sys.executable, "-m", "convcalc", "solve", str(path)], capture_output=True, text=True, check=True
    )
    # by hand: conv (H - 5) // 2 + 1 must be at least the pool's 3, so H >= 9; Keras agrees at 9 and refuses 8
    assert "smallest H: 9" in done.stdout
    assert "smallest W: 9" in done.stdout
    assert model.layers[-2].compute_output_shape(model.layers[1].compute_output_shape((1, 9, 9, 3)))[1] == 1
    with pytest.raises(ValueError, match="zero or negative"):
        model.layers[-2].compute_output_shape(model.layers[1].compute_output_shape((1, 8, 9, 3)))


def test_a_model_called_with_and_returning_dicts_is_read() -> None:
    """``keras.Model({"img": x}, {"out": y})``: the configuration names its one input and output in dicts."""
    x = keras.Input((8, 8, 3), name="img")
    y = keras.layers.Dense(4, name="d")(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(5, 3)(x)))
    model = keras.Model({"img": x}, {"out": y})
    plan = convcalc.plan(model)
    assert (plan.output_shape, plan.total_params) == ((1, 4), model.count_params())
    two = keras.Model({"img": x, "vec": keras.Input((4,), name="vec")}, y)
    with pytest.raises(SpecError, match=r"one input and one output; this one has 2 and 1\."):
        convcalc.plan(two)


def test_a_layer_called_with_its_input_by_name_is_read() -> None:
    x = keras.Input((8, 8, 3), name="img")
    model = keras.Model(x, keras.layers.Conv2D(4, 3, name="c")(inputs=x))
    plan = convcalc.plan(model)
    assert (plan.output_shape, plan.total_params) == ((1, *model.output_shape[1:]), model.count_params())


def _frozen_as_people_freeze() -> list[Any]:
    """Transfer learning's freezing: a base frozen then one of its layers trained again (nested in a model, and a
    nested Sequential); a model frozen whole then one layer set trainable again; a BatchNormalization trained
    again inside a frozen base."""
    models = []
    inp = keras.Input((8,))
    base = keras.Model(inp, keras.layers.Dense(4, name="top")(keras.layers.Dense(6, name="low")(inp)), name="base")
    base.trainable = False
    base.get_layer("top").trainable = True
    x = keras.Input((8,))
    models.append(keras.Model(x, keras.layers.Dense(2)(base(x))))
    seq = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6), keras.layers.Dense(3, name="head")])
    seq.trainable = False
    seq.get_layer("head").trainable = True
    x = keras.Input((8,))
    models.append(keras.Model(x, keras.layers.Dense(2)(seq(x))))
    x = keras.Input((8,))
    whole = keras.Model(x, keras.layers.Dense(2)(keras.layers.Dense(4, name="h")(x)))
    whole.trainable = False
    whole.get_layer("h").trainable = True
    models.append(whole)
    inp = keras.Input((6, 6, 3))
    bn = keras.layers.BatchNormalization(name="bn")
    cnn = keras.Model(inp, bn(keras.layers.Conv2D(4, 3)(inp)), name="cnn")
    cnn.trainable = False
    bn.trainable = True
    x = keras.Input((6, 6, 3))
    models.append(keras.Model(x, keras.layers.GlobalAveragePooling2D()(cnn(x))))
    return models


@pytest.mark.parametrize("index", range(4))
def test_each_weight_is_frozen_by_its_own_layer_s_flag_as_keras_freezes_it(index: int, tmp_path: Path) -> None:
    # a nested model's trainable=False froze all it held, a layer set trainable again inside it too (10 trainable
    # for Keras' 38); a whole model's trainable=False was not read (36 for Keras' 0)
    model = _frozen_as_people_freeze()[index]
    plan = convcalc.plan(model)
    assert (plan.total_params, plan.trainable_params) == _weights(model)
    path = tmp_path / "frozen.keras"
    model.save(path)
    saved = convcalc.plan(str(path))
    assert (saved.total_params, saved.trainable_params) == _weights(keras.models.load_model(path))


def test_a_sequential_listing_a_layer_twice_is_refused_not_planned_with_one_call() -> None:
    # Keras calls it twice (12 x 12 out), but its configuration lists it once (planned 14 x 14, as Keras' own
    # load_model rebuilds it)
    conv = keras.layers.Conv2D(8, 3)
    model = keras.Sequential([keras.Input((16, 16, 8)), conv, keras.layers.ReLU(), conv])
    assert tuple(model.output_shape) == (None, 12, 12, 8)
    with pytest.raises(SpecError) as caught:
        convcalc.plan(model)
    assert str(caught.value) == (
        f"{model.name} (Sequential): the layer {conv.name!r} is listed twice, which Keras' configuration of the "
        "model (and a file it saves) records once; write the model as a functional one, calling the layer twice. "
        f"Received: layers={[conv.name, model.layers[1].name, conv.name]}"
    )


def _nested_functional(where: str) -> Any:
    """A functional model called inside another: as its output, in the middle, twice on two tensors, and twice
    with its second call the output."""
    i = keras.Input((8, 8, 3))
    inner = keras.Model(i, keras.layers.Conv2D(4, 3)(i))
    inp = keras.Input((8, 8, 3))
    if where == "output":
        return keras.Model(inp, inner(inp))
    if where == "middle":
        return keras.Model(inp, keras.layers.Dense(2)(inner(inp)))
    first = inner(inp)
    second = inner(keras.layers.Conv2D(3, 1)(inp))
    if where == "twice":
        return keras.Model(inp, keras.layers.Concatenate()([first, second]))
    return keras.Model(inp, second)


@pytest.mark.parametrize("where", ["output", "middle", "twice", "second call is the output"])
@pytest.mark.parametrize("source", ["live", "file"])
def test_a_nested_functional_model_is_read_wherever_it_is_called(where: str, source: str, tmp_path: Path) -> None:
    """Keras numbers a nested functional model's calls from 1 in a model's outputs (its call 0 is its own graph's)
    and from 0 in a call's inputs: ``Model(inp, inner(inp))`` was refused as not computed from the input."""
    model = _nested_functional(where)
    path = tmp_path / "nested.keras"
    model.save(path)
    plan = convcalc.plan(model if source == "live" else str(path))
    assert plan.output_shape == (1, *model.output_shape[1:])
    assert plan.output_shape == tuple(model(keras.ops.zeros((1, 8, 8, 3))).shape)
    assert plan.total_params == model.count_params()


@pytest.mark.parametrize("pool", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("source", ["live", "file"])
def test_a_masked_embedding_before_a_pool_is_read(pool: str, source: str, tmp_path: Path) -> None:
    """``Embedding(mask_zero=True)`` computes its mask as a ``keras.ops`` NotEqual of the ids, which Keras passes
    to the pool: refused as an operation convcalc cannot read, though the user never wrote it."""
    inp = keras.Input((10,), dtype="int32")
    x = getattr(keras.layers, pool)()(keras.layers.Embedding(50, 8, mask_zero=True)(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    path = tmp_path / "masked.keras"
    model.save(path)
    plan = convcalc.plan(model if source == "live" else str(path))
    assert plan.output_shape == (1, 2)
    assert plan.total_params == model.count_params() == 418


@pytest.mark.parametrize("source", ["live", "file"])
def test_a_keras_tensor_constant_is_an_operand_of_known_shape(source: str, tmp_path: Path) -> None:
    """``x + keras.ops.ones((4,))``: Keras saves the constant as a ``__tensor__`` with its values, as it saves a
    numpy array as ``__numpy__``; it was refused as an operand of unknown shape."""
    inp = keras.Input((3, 4))
    x = keras.layers.Dense(4)(inp)
    model = keras.Model(inp, x + keras.ops.ones((4,)))
    path = tmp_path / "constant.keras"
    model.save(path)
    plan = convcalc.plan(model if source == "live" else str(path))
    assert plan.output_shape == (1, *model.output_shape[1:]) == (1, 3, 4)
    assert plan.total_params == model.count_params() == 20


@pytest.mark.parametrize(
    ("softmax", "keeps"),
    [
        (lambda y: keras.layers.Softmax()(y), True),  # over the channels (the last axis)
        (lambda y: keras.layers.Softmax(axis=1)(y), False),  # over the height: each output reads the whole column
        (lambda y: keras.layers.Softmax(axis=(1, 2))(y), False),
        (lambda y: keras.ops.softmax(y, axis=-1), True),
        (lambda y: keras.ops.softmax(y, axis=2), False),
        (lambda y: keras.ops.log_softmax(y, axis=1), False),
    ],
)
def test_a_softmax_along_a_spatial_axis_ends_the_receptive_field(softmax: Any, keeps: bool, tmp_path: Path) -> None:
    x = keras.Input((8, 8, 1))
    model = keras.Model(x, softmax(keras.layers.Conv2D(2, 3)(x)))
    conv_field = (convcalc.ReceptiveField(3, 1, 0),) * 2
    path = tmp_path / "softmax.keras"
    model.save(path)
    for source in (model, path):  # live, and from its file
        plan = convcalc.plan(source)
        assert plan.output_shape == (1, 6, 6, 2)
        assert plan.receptive_field == (conv_field if keeps else None)


# --------------------------------------------------------------------------- #
# DepthwiseConv1D, SeparableConv1D, Conv1DTranspose, Conv3DTranspose and PReLU, layer by layer against Keras
# --------------------------------------------------------------------------- #

#: the convolutions of each rank: Keras class -> its spatial axes
NEW_CONVS = {"DepthwiseConv1D": 1, "SeparableConv1D": 1, "Conv1DTranspose": 1, "Conv3DTranspose": 3}


@st.composite
def new_conv_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], tuple[int, ...]]:
    """A Keras class, its arguments (some Keras refuses: a stride with a dilation, an output_padding not below the
    stride) and a per-sample input shape (some too small for a 'valid' window)."""
    cls = draw(st.sampled_from(sorted(NEW_CONVS)))
    nd = NEW_CONVS[cls]
    per_axis = st.integers(1, 3) if nd == 1 else st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * nd))
    args: dict[str, Any] = {
        "kernel_size": draw(per_axis),
        "strides": draw(per_axis),
        "padding": draw(st.sampled_from(["valid", "same"])),
        "dilation_rate": draw(st.sampled_from([1, 2]) if draw(st.booleans()) else per_axis),
        "use_bias": draw(st.booleans()),
    }
    if cls != "DepthwiseConv1D":
        args["filters"] = draw(st.integers(1, 4))
    if cls.endswith("Conv1D"):
        args["depth_multiplier"] = draw(st.integers(1, 3))
    else:
        args["output_padding"] = draw(st.one_of(st.none(), st.integers(0, 2)))
    shape = (*draw(st.tuples(*[st.integers(1, 9 if nd == 1 else 5)] * nd)), draw(st.integers(1, 3)))
    return cls, args, shape


def _each(value: Any, nd: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def keras_or_refusal(make: Any, shape: tuple[Any, ...]) -> Any:
    """A Keras layer built on a batch of 2 of ``shape`` and what it says of it (compute_output_shape, the shape of
    a real call, count_params), or None where Keras refuses the layer or the input."""
    try:
        layer = make()
        declared = tuple(layer.compute_output_shape((2, *shape)))
        called = tuple(layer(keras.ops.ones((2, *shape))).shape)
    except (ValueError, TypeError, IndexError, RuntimeError):
        return None
    return layer, declared, called, layer.count_params()


@given(new_conv_cases())
def test_the_1d_and_3d_convolutions_are_keras(case: tuple[str, dict[str, Any], tuple[int, ...]]) -> None:
    cls, args, shape = case
    nd = NEW_CONVS[cls]
    built = keras_or_refusal(lambda: getattr(keras.layers, cls)(**args), shape)
    if built is None:  # Keras refuses: convcalc refuses too, an input naming the layer, an argument the argument
        with pytest.raises(ConvCalcError) as caught:
            convcalc.plan(getattr(ks, cls)(**args, name="c"), (2, *shape))
        said = str(caught.value).partition(" Received:")[0]
        assert said.startswith(f"c ({cls}): ") if isinstance(caught.value, ShapeError) else any(a in said for a in args)
        return
    _, declared, called, count = built
    row = convcalc.plan(getattr(ks, cls)(**args), (2, *shape)).rows[0]
    assert row.output_shape == declared == called
    assert (row.trainable, row.non_trainable) == (count, 0)
    k, cin, out = _each(args["kernel_size"], nd), shape[-1], row.output_shape
    if cls == "DepthwiseConv1D":  # by hand: per output position, every weight of its channel
        assert row.macs == out[1] * k[0] * cin * args["depth_multiplier"]
    elif cls == "SeparableConv1D":  # the depthwise step, then the pointwise one
        dm = args["depth_multiplier"]
        assert row.macs == out[1] * (k[0] * cin * dm + cin * dm * args["filters"])
    else:  # a transposed convolution: every input position meets every weight once
        assert row.macs == math.prod(shape[:-1]) * math.prod(k) * cin * args["filters"]
    if cls.endswith("Transpose"):
        assert row.receptive_field is None
    else:
        d, s = _each(args["dilation_rate"], 1), _each(args["strides"], 1)
        (field,) = row.receptive_field
        assert (field.size, field.jump) == (d[0] * (k[0] - 1) + 1, s[0])


@given(
    shape=st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple),
    shared=st.one_of(
        st.none(),
        st.integers(-4, 5),
        st.lists(st.integers(-4, 5), max_size=3),
        st.lists(st.integers(-4, 5), max_size=3).map(tuple),
    ),
)
def test_prelu_is_keras(shape: tuple[int, ...], shared: Any) -> None:
    built = keras_or_refusal(lambda: keras.layers.PReLU(shared_axes=shared), shape)
    spec = ks.PReLU(shared_axes=shared, name="act")
    if built is None:  # an axis alpha lacks
        with pytest.raises(ShapeError, match=r"^act \(PReLU\): shared_axes=.* names axis"):
            convcalc.plan(spec, (2, *shape))
        return
    layer, declared, called, count = built
    row = convcalc.plan(spec, (2, *shape)).rows[0]
    assert row.output_shape == declared == called == (2, *shape)
    assert (row.trainable, row.non_trainable) == (count, 0) == (math.prod(layer.alpha.shape), 0)
    assert row.macs == 0  # an activation: no multiply-accumulates, as torch's nn.PReLU
    if len(shape) >= 2:  # spatial axes: the field passes through
        assert row.receptive_field == (convcalc.ReceptiveField(1, 1, 0),) * (len(shape) - 1)


def _new_layer_models() -> dict[str, Any]:
    """Real models using each new layer: a 1-D one (and a frozen PReLU), a 3-D one (Conv3DTranspose given its
    arguments by position, in its order), and one with PReLU between image convolutions."""
    x = keras.Input((32, 6), name="seq")
    y = keras.layers.Conv1D(8, 3, name="conv")(x)
    y = keras.layers.DepthwiseConv1D(3, strides=2, padding="same", depth_multiplier=2, name="dw")(y)
    y = keras.layers.PReLU(shared_axes=[1], name="act")(y)
    y = keras.layers.SeparableConv1D(12, 5, dilation_rate=2, use_bias=False, name="sep")(y)
    y = keras.layers.PReLU(name="frozen_act", trainable=False)(y)
    y = keras.layers.Conv1DTranspose(4, 3, 2, "valid", 1, name="up")(y)
    one = keras.Model(x, keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling1D(name="gap")(y)))
    x = keras.Input((4, 6, 5, 2), name="volume")
    y = keras.layers.Conv3D(4, 3, padding="same", name="conv")(x)
    y = keras.layers.PReLU(shared_axes=[1, 2, 3], name="act")(y)
    y = keras.layers.Conv3DTranspose(3, (2, 3, 1), (2, 1, 3), "same", None, (1, 0, 2), name="up")(y)
    y = keras.layers.PReLU(name="act2")(y)
    three = keras.Model(x, keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling3D(name="gap")(y)))
    image = keras.Sequential(
        [
            keras.Input((None, None, 3), name="image"),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.PReLU(shared_axes=[1, 2], name="act"),
            keras.layers.DepthwiseConv2D(3, name="dw"),
            keras.layers.Conv2DTranspose(4, 2, strides=2, name="up"),
        ],
        name="image_net",
    )
    return {"1-D": one, "3-D": three, "image": image}


def _macs_by_hand(layer: Any, input_shape: tuple[Any, ...], output_shape: tuple[Any, ...]) -> int | None:
    """The multiply-accumulates of a layer of these models, by hand (None for the layers the 2-D tests cover)."""
    kind, cin = type(layer).__name__, input_shape[-1]
    k = math.prod(getattr(layer, "kernel_size", ()))
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return math.prod(output_shape[1:-1]) * k * cin * layer.depth_multiplier
    if kind == "SeparableConv1D":
        dm = layer.depth_multiplier
        return math.prod(output_shape[1:-1]) * (k * cin * dm + cin * dm * layer.filters)
    if kind.endswith("Transpose"):
        return math.prod(input_shape[1:-1]) * k * cin * layer.filters
    return 0 if kind == "PReLU" else None


@pytest.mark.parametrize("which", ["1-D", "3-D", "image"])
@pytest.mark.parametrize("source", ["live", "file"])
def test_models_with_the_new_layers_plan_as_keras_counts_them(which: str, source: str, tmp_path: Path) -> None:
    model = _new_layer_models()[which]
    path = tmp_path / "model.keras"
    model.save(path)
    plan = convcalc.plan(model if source == "live" else str(path))
    if which == "image":  # free sizes: symbols; Keras' shapes at one size
        plan = convcalc.plan(model if source == "live" else str(path), (1, 12, 10, 3))
        shapes = [tuple(model.layers[0].compute_output_shape((1, 12, 10, 3)))]
        for layer in model.layers[1:]:
            shapes.append(tuple(layer.compute_output_shape(shapes[-1])))
        assert [r.output_shape for r in plan.rows] == shapes
        assert [(r.trainable, r.non_trainable) for r in plan.rows] == [
            (weights(layer.trainable_weights), weights(layer.non_trainable_weights)) for layer in model.layers
        ]
    else:
        assert [(r.name, r.output_shape, r.trainable, r.non_trainable) for r in plan.rows] == expected_rows(model)
    assert (plan.total_params, plan.trainable_params) == _weights(model)
    keras_layers = {layer.name: layer for layer in model.layers}
    for row in plan.rows:
        by_hand = _macs_by_hand(keras_layers[row.name], row.input_shape, row.output_shape)
        assert by_hand is None or row.macs == by_hand, row.name


def test_prelu_weights_fix_the_sizes_they_do_not_share() -> None:
    # alpha built for (8, 8, 3): Keras runs other heights where they are shared, and refuses them where not
    shared = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.PReLU(shared_axes=[1, 2], name="p")])
    whole = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.PReLU(name="p")])
    assert tuple(shared(keras.ops.ones((1, 9, 5, 3))).shape) == (1, 9, 5, 3)
    assert convcalc.plan(shared, (1, 9, 5, 3)).output_shape == (1, 9, 5, 3)
    with pytest.raises((ValueError, RuntimeError)):
        whole(keras.ops.ones((1, 9, 8, 3)))
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(whole, (1, 9, 8, 3))
    assert str(caught.value).startswith(
        "p (PReLU): its weights were built for input_shape=(None, 8, 8, 3), which fixes axis -3 at 8 (the shape of "
        "alpha); the input has 9 there, which Keras refuses."
    )
    spec = ks.Sequential([ks.PReLU(shared_axes=[1, 2], name="p")], built={"p": (None, 8, 8, 3)})
    assert convcalc.plan(spec, (1, 9, 5, 3)).total_params == 3
    with pytest.raises(ShapeError, match=r"^p \(PReLU\): its weights were built for a 4-D input"):
        convcalc.plan(spec, (1, 8, 3))


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (lambda: ks.Conv1DTranspose(4, 3, 2, "same", 1), lambda: L.Conv1DTranspose(4, 3, 2, "same", 1), (7, 2)),
        (
            lambda: ks.Conv3DTranspose(4, 3, 2, "same", None, 1, 1, "relu", False),
            lambda: L.Conv3DTranspose(4, 3, 2, "same", None, 1, 1, "relu", False),
            (3, 4, 2, 2),
        ),
        (lambda: ks.DepthwiseConv1D(3, 2, "same", 3), lambda: L.DepthwiseConv1D(3, 2, "same", 3), (9, 2)),
        (
            lambda: ks.SeparableConv1D(5, 3, 1, "valid", None, 2, 2),
            lambda: L.SeparableConv1D(5, 3, 1, "valid", None, 2, 2),
            (11, 2),
        ),
    ],
)
def test_arguments_by_position_follow_each_keras_class_own_order(ours: Any, theirs: Any, shape: Any) -> None:
    # Conv3DTranspose takes data_format before output_padding, Conv1DTranspose after it
    layer = theirs()
    plan = convcalc.plan(ours(), (2, *shape))
    assert plan.output_shape == tuple(layer(keras.ops.ones((2, *shape))).shape)
    assert plan.total_params == layer.count_params()


def test_automatic_names_are_keras_own() -> None:
    for cls, args in [
        ("DepthwiseConv1D", (3,)),
        ("SeparableConv1D", (2, 3)),
        ("Conv1DTranspose", (2, 3)),
        ("Conv3DTranspose", (2, 3)),
        ("PReLU", ()),
    ]:
        theirs, ours = getattr(keras.layers, cls)(*args).name, getattr(ks, cls)(*args).name
        assert re.sub(r"_\d+$", "", ours) == re.sub(r"_\d+$", "", theirs), (ours, theirs)
    assert {*NEW_CONVS, "PReLU"} <= set(supported_layers())


REFUSED_CONFIGS = [
    # (class, configuration Keras refuses, what convcalc's message says after "name (class): ")
    ("Conv1DTranspose", {"filters": 2, "kernel_size": [3], "strides": [2], "output_padding": [2]}, "output_padding=2"),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": [2, 1, 1], "dilation_rate": [1, 2, 1]}, "`strides"),
    ("DepthwiseConv1D", {"kernel_size": [3], "depth_multiplier": 0}, "depth_multiplier must be at least 1"),
    ("SeparableConv1D", {"filters": 2, "kernel_size": [3], "padding": "causal"}, "padding='causal' exists only"),
    ("SeparableConv1D", {"filters": 0, "kernel_size": [3]}, "filters must be at least 1"),
    ("PReLU", {"shared_axes": [1.5]}, "shared_axes must be None, an axis or a list of axes"),
]


@pytest.mark.parametrize(("cls", "config", "says"), REFUSED_CONFIGS, ids=lambda v: str(v)[:30])
def test_a_saved_layer_keras_refuses_is_refused_naming_it(
    cls: str, config: dict[str, Any], says: str, tmp_path: Path
) -> None:
    assert keras_or_refusal(lambda: getattr(keras.layers, cls)(**config), (8, 4)) is None  # Keras refuses it
    saved = {
        "class_name": "Sequential",
        "config": {
            "name": "net",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 4], "name": "x"}},
                {"class_name": cls, "config": {"name": "bad", **config}},
            ],
        },
    }
    path = tmp_path / "refused.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(saved))
    with pytest.raises(SpecError) as caught:
        convcalc.plan(str(path))
    assert str(caught.value).startswith(f"bad ({cls}): {says}")


# --------------------------------------------------------------------------- #
# Classes of the user's own that share a name with Keras' (live and saved)
# --------------------------------------------------------------------------- #


@keras.saving.register_keras_serializable(package="convcalc_tests")
class LayerNormalization(keras.layers.Layer):
    """A hand-written RMS norm under Keras' name: one scale vector, where Keras' LayerNormalization holds two."""

    def build(self, shape: Any) -> None:
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones", name="scale")

    def call(self, x: Any) -> Any:
        ops = keras.ops
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-6) * self.scale


class Dense(keras.layers.Layer):
    """A bias-free dense under Keras' name, not registered (its module is this test module's)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, shape: Any) -> None:
        self.w = self.add_weight(shape=(shape[-1], self.units), name="w")

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, self.w)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="convcalc_tests")
class Twice(keras.Sequential):
    """A Sequential whose call runs its layers twice (a weight-shared refinement): its configuration lists the
    layers as a Sequential's does."""

    def call(self, x: Any, training: Any = None, mask: Any = None) -> Any:
        return super().call(super().call(x, training=training), training=training)


def _own_class_models() -> dict[str, Any]:
    x = keras.Input((16, 32))
    norm = keras.Model(x, LayerNormalization()(x))
    x = keras.Input((16, 32))
    dense = keras.Model(x, Dense(64)(x))
    x = keras.Input((16, 16, 4))
    twice = keras.Model(x, Twice([L.Conv2D(4, 3, padding="same")], name="refine")(x))
    return {"norm": norm, "dense": dense, "twice": twice}


@pytest.mark.parametrize("name", ["norm", "dense", "twice"])
def test_a_class_of_the_user_s_own_under_a_keras_name_is_refused_not_read_as_keras(name: str, tmp_path: Path) -> None:
    # read as Keras' own, the norm counted 64 parameters for its 32, the bias-free dense 2,112 for its 2,048, and
    # Twice one pass of its convolution's MACs for two
    model = _own_class_models()[name]
    counted = model.count_params()
    with pytest.raises(
        SpecError, match=r"of a class that is not one of Keras' own \((convcalc_tests>|\S*test_keras_reader\.Dense)"
    ):
        convcalc.plan(model)
    if name != "dense":  # an unregistered class is not saved in a way Keras loads back; the file is read alone
        path = tmp_path / f"{name}.keras"
        model.save(path)
        with pytest.raises(SpecError, match="not one of Keras' own"):
            convcalc.plan(str(path))
    assert counted == {"norm": 32, "dense": 2048, "twice": 148}[name]


def test_a_merge_of_sizes_never_equal_broadcasts_where_one_is_1() -> None:
    # a stride-2 'valid' branch beside a 'same' pool: floor((H - 3)/2) + 1 never equals floor((H + 1)/2), and the
    # symbolic plan said no size fits, where Keras adds them at H = 3 and 4 (a 1 beside a 2)
    import numpy as np

    x = keras.Input((None, None, 3))
    a = L.Conv2D(4, 3, strides=2, padding="valid")(x)
    b = L.Conv2D(4, 1)(L.AveragePooling2D(2, padding="same")(x))
    model = keras.Model(x, L.Add()([a, b]))
    H = sympy.Symbol("H", integer=True, positive=True)
    plan = convcalc.plan(model, (1, "H", 4, 3))
    solution = plan.valid_sizes("H")
    for h in range(1, 13):
        try:
            out: Any = tuple(model(np.zeros((1, h, 4, 3), np.float32)).shape)
        except Exception:  # Keras refuses the sizes
            out = None
        assert (h in solution) == (out is not None), h
        if out is not None:
            assert tuple(int(sympy.sympify(d).subs(H, h)) for d in plan.output_shape) == out
            assert convcalc.plan(model, (1, h, 4, 3)).output_shape == out
