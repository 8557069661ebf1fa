"""Keras' recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional) against real Keras 3.

Every expected value comes from Keras: the shapes of each output a layer returns when it runs (or, for an
unknown number of steps, the shapes it declares), ``count_params()``, and its ``kernel``,
``recurrent_kernel`` and ``bias`` weights, from which the MACs (one per kernel element and time step) and the
bias additions (one per bias element and step) follow. Where Keras refuses a layer, convcalc refuses it too.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc import ConvCalcError, ShapeError, SpecError
from convcalc import keras as ks

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
L = keras.layers

CLASSES = ("LSTM", "GRU", "SimpleRNN")
# each example builds and runs real Keras layers: fewer than the profile's, as for the reader's random models
EXAMPLES = 300 if os.environ.get("CI") else 60


def size(variables: Any) -> int:
    return sum(math.prod(v.shape) for v in variables)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def batch1(shape: Any) -> tuple[Any, ...]:
    return (1, *tuple(shape)[1:])


def same_shape(planned: tuple[Any, ...], keras_shape: Any) -> bool:
    """A planned shape is Keras' with batch 1 where each size Keras leaves unknown is a symbolic one."""
    expected = batch1(keras_shape)
    return len(planned) == len(expected) and all(
        (type(p) is not int) if e is None else p == e for p, e in zip(planned, expected, strict=True)
    )


def outputs_planned(spec: Any, shape: tuple[Any, ...], count: int) -> list[tuple[Any, ...]]:
    """Each output of ``spec`` called on an input of ``shape`` in a Functional model, as ``name[j]`` reads it."""
    x = ks.Input(shape, name="x")
    return [
        convcalc.plan(ks.Functional(x, [(spec, "x")], output=spec.name if j == 0 else f"{spec.name}[{j}]")).output_shape
        for j in range(count)
    ]


def kernels(layer: Any) -> tuple[int, int]:
    """(kernel and recurrent kernel elements, bias elements) of a built recurrent Keras layer, both directions of
    a Bidirectional one."""
    found = list(layer.weights)
    products = sum(math.prod(w.shape) for w in found if "kernel" in w.path.rsplit("/", 1)[-1])
    biases = sum(math.prod(w.shape) for w in found if w.path.rsplit("/", 1)[-1] == "bias")
    return products, biases


@st.composite
def recurrent_cases(draw: Any) -> dict[str, Any]:
    cls = draw(st.sampled_from(CLASSES))
    args: dict[str, Any] = {
        "units": draw(st.integers(1, 8)),
        "use_bias": draw(st.booleans()),
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
    }
    if cls == "GRU":
        args["reset_after"] = draw(st.booleans())
    return {"cls": cls, "args": args, "steps": draw(st.integers(1, 6)), "features": draw(st.integers(1, 6))}


@settings(max_examples=EXAMPLES)
@given(recurrent_cases(), st.booleans())
def test_a_recurrent_layer_has_keras_shapes_counts_and_one_mac_per_kernel_element_and_step(
    case: dict[str, Any], unknown_steps: bool
) -> None:
    cls, args, steps, features = case["cls"], case["args"], case["steps"], case["features"]
    layer = getattr(L, cls)(**args, name="rnn")
    if unknown_steps:  # a None time axis: the shapes Keras declares, a symbolic length here
        got = as_list(layer(keras.Input((None, features))))
        shapes, length = [g.shape for g in got], convcalc.symbols("L")
    else:
        shapes = [g.shape for g in as_list(layer(np.zeros((2, steps, features), "float32")))]
        length = steps
    spec = getattr(ks, cls)(**args, name="rnn")
    planned = outputs_planned(spec, (length, features), len(shapes))
    assert all(same_shape(p, s) for p, s in zip(planned, shapes, strict=True)), (planned, shapes)
    with pytest.raises(SpecError, match="reads output"):  # and no output beyond Keras' own
        outputs_planned(spec, (length, features), len(shapes) + 1)
    products, biases = kernels(layer)
    for convention, per_step in (("macs", products), ("macs+bias", products + biases)):
        plan = convcalc.plan(ks.Sequential([ks.Input((length, features)), spec]), macs=convention)
        assert plan.total_params == layer.count_params() == size(layer.trainable_weights)
        assert plan.macs - length * per_step == 0


@st.composite
def bidirectional_cases(draw: Any) -> dict[str, Any]:
    flags = {
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
    }
    forward = (draw(st.sampled_from(CLASSES)), {"units": draw(st.integers(1, 6)), **flags})
    backward = None
    if draw(st.booleans()):  # a backward layer of its own: another class and size, or one running the same way
        backward = (draw(st.sampled_from(CLASSES)), {"units": draw(st.integers(1, 6)), **flags})
        backward[1]["go_backwards"] = draw(st.booleans())
    return {
        "forward": forward,
        "backward": backward,
        "merge_mode": draw(st.sampled_from(["concat", "sum", "mul", "ave", None])),
        "steps": draw(st.integers(1, 5)),
        "features": draw(st.integers(1, 5)),
    }


@settings(max_examples=EXAMPLES)
@given(bidirectional_cases())
def test_bidirectional_has_the_shapes_keras_runs_and_both_layers_counts(case: dict[str, Any]) -> None:
    def made(module: Any, item: Any, name: str) -> Any:
        return None if item is None else getattr(module, item[0])(**item[1], name=name)

    steps, features, mode = case["steps"], case["features"], case["merge_mode"]

    def bidirectional() -> Any:
        return ks.Bidirectional(
            made(ks, case["forward"], "f"), mode, backward_layer=made(ks, case["backward"], "b"), name="bi"
        )

    try:
        layer = L.Bidirectional(
            made(L, case["forward"], "f"), merge_mode=mode, backward_layer=made(L, case["backward"], "b")
        )
        shapes = [g.shape for g in as_list(layer(np.zeros((2, steps, features), "float32")))]
    except (ValueError, RuntimeError):  # Keras refuses the pair, or fails when it runs them: so does convcalc
        with pytest.raises(ConvCalcError):
            convcalc.plan(bidirectional(), (1, steps, features))
        return
    spec = bidirectional()
    planned = outputs_planned(spec, (steps, features), len(shapes))
    assert all(same_shape(p, s) for p, s in zip(planned, shapes, strict=True)), (planned, shapes)
    products, _ = kernels(layer)
    plan = convcalc.plan(spec, (1, steps, features))
    assert plan.total_params == layer.count_params()
    assert plan.macs == steps * products


# --------------------------------------------------------------------------- #
# Saved .keras files
# --------------------------------------------------------------------------- #


def assert_file_is_keras(model: Any, path: Path) -> None:
    """``plan(path)`` of the saved model: every layer's output shape and weights, and the model's, as Keras has
    them."""
    model.save(path)
    plan = convcalc.plan(str(path))
    rows = {r.name: r for r in plan.rows}
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        first = as_list(layer.output)[0]
        assert same_shape(rows[layer.name].output_shape, first.shape), layer.name
        assert rows[layer.name].trainable == layer.count_params(), layer.name
    assert same_shape(plan.output_shape, as_list(model.layers[-1].output)[0].shape)
    assert plan.total_params == model.count_params()


def test_a_saved_sequential_crnn_plans_as_keras(tmp_path: Path) -> None:
    model = keras.Sequential(
        [
            keras.Input((40, 8)),
            L.Conv1D(16, 3, activation="relu"),
            L.MaxPooling1D(2),
            L.LSTM(12, return_sequences=True, go_backwards=True),
            L.GRU(6, reset_after=False),
            L.Dense(3),
        ]
    )
    assert_file_is_keras(model, tmp_path / "crnn.keras")


def test_a_saved_functional_text_model_plans_as_keras(tmp_path: Path) -> None:
    tokens = keras.Input((None,), dtype="int32")
    y = L.Embedding(100, 8, mask_zero=True)(tokens)
    y = L.Bidirectional(L.GRU(5, return_sequences=True))(y)
    y = L.Bidirectional(L.SimpleRNN(4, activation="relu"), merge_mode="ave")(y)
    model = keras.Model(tokens, L.Dense(2, activation="softmax")(y))
    assert_file_is_keras(model, tmp_path / "text.keras")
    plan = convcalc.plan(str(tmp_path / "text.keras"), (1, 30))
    assert plan.output_shape == (1, 2)


def test_states_read_by_later_layers_and_given_as_the_output_plan_as_keras(tmp_path: Path) -> None:
    x = keras.Input((None, 3))
    seq, h_forward, h_backward = L.Bidirectional(L.SimpleRNN(4, return_state=True, return_sequences=True))(x)
    joined = L.Concatenate()([h_forward, L.Dense(2)(h_backward)])
    assert_file_is_keras(keras.Model(x, joined), tmp_path / "states.keras")
    _, _, c = L.LSTM(6, return_state=True)(x)
    assert_file_is_keras(keras.Model(x, c), tmp_path / "cell.keras")
    assert_file_is_keras(keras.Model(x, seq), tmp_path / "seq.keras")


# --------------------------------------------------------------------------- #
# What stays refused
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("shape", [(1, 3), (1, 7, 3, 2)])
def test_an_input_not_3d_is_refused_as_keras_refuses_it(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected ndim=3"):
        L.LSTM(4)(keras.Input(shape[1:]))
    with pytest.raises(ShapeError, match=rf"^rnn \(LSTM\): expects a 3-D input .* found ndim={len(shape)}\)"):
        convcalc.plan(ks.LSTM(4, name="rnn"), shape)


def test_an_empty_sequence_is_refused_as_keras_fails_to_run_it() -> None:
    with pytest.raises(Exception, match="out of bounds"):
        L.GRU(4)(np.zeros((1, 0, 3), "float32"))
    with pytest.raises(ShapeError, match=r"must be at least 1"):
        convcalc.plan(ks.GRU(4, name="g"), (1, 0, 3))


def test_a_layer_after_one_of_several_outputs_in_a_sequential_is_refused_as_keras_refuses_it() -> None:
    with pytest.raises(ValueError, match="expects 1 input"):
        keras.Sequential([keras.Input((7, 3)), L.LSTM(5, return_state=True), L.Dense(2)])
    with pytest.raises(
        SpecError,
        match=r"^d \(Dense\): receives the 3 outputs of r \(LSTM\), as Keras' Sequential passes on all a layer "
        r"returns, .* \('r\[1\]' for the second\)",
    ):
        ks.Sequential([ks.Input((7, 3)), ks.LSTM(5, return_state=True, name="r"), ks.Dense(2, name="d")])
    # last, its first output is the plan's
    assert convcalc.plan(ks.Sequential([ks.Input((7, 3)), ks.LSTM(5, return_state=True)])).output_shape == (1, 5)


def test_bidirectional_refuses_what_keras_refuses() -> None:
    with pytest.raises(ValueError, match="different `go_backwards`"):
        L.Bidirectional(L.LSTM(5, go_backwards=True))
    with pytest.raises(SpecError, match=r"^bi \(Bidirectional\): the forward and backward layers must run opposite"):
        ks.Bidirectional(ks.LSTM(5, go_backwards=True), name="bi")
    with pytest.raises(ValueError, match="Invalid merge mode"):
        L.Bidirectional(L.LSTM(5), merge_mode="max")
    with pytest.raises(SpecError, match=r"Invalid merge mode.*Received: merge_mode='max'"):
        ks.Bidirectional(ks.LSTM(5), merge_mode="max")
    with pytest.raises(SpecError, match=r"layer must be a convcalc.keras SimpleRNN, GRU or LSTM"):
        ks.Bidirectional(ks.Dense(5))


def _saved(tmp_path: Path, layers: list[dict[str, Any]], output: list[Any]) -> str:
    def tensor(name: str, index: int = 0) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, index]}}

    items = [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 7, 3]}, "inbound_nodes": []}]
    for cls, name, source, config in layers:
        items.append(
            {
                "class_name": cls,
                "config": {"name": name, **config},
                "inbound_nodes": [{"args": [tensor(*source)]}],
            }
        )
    config = {
        "class_name": "Functional",
        "config": {"name": "m", "layers": items, "input_layers": [["x", 0, 0]], "output_layers": [output]},
    }
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return str(path)


def test_a_saved_file_reading_an_output_a_layer_does_not_give_is_refused(tmp_path: Path) -> None:
    lstm = ("LSTM", "rnn", ("x",), {"units": 4})
    path = _saved(tmp_path, [lstm, ("Dense", "d", ("rnn", 1), {"units": 2})], ["d", 0, 0])
    with pytest.raises(SpecError, match=r"^d: reads output 1 of rnn, which convcalc plans with 1 output;"):
        convcalc.plan(path)
    path = _saved(tmp_path, [lstm], ["rnn", 0, 1])
    with pytest.raises(SpecError, match=r"^m: reads output 1 of rnn, which convcalc plans with 1 output"):
        convcalc.plan(path)
    wrapped = {"layer": {"class_name": "Dense", "config": {"name": "dense", "units": 4}}}
    path = _saved(tmp_path, [("Bidirectional", "bi", ("x",), wrapped)], ["bi", 0, 0])
    with pytest.raises(SpecError, match=r"^bi \(Bidirectional\): layer must be the configuration of an LSTM, GRU or"):
        convcalc.plan(path)
