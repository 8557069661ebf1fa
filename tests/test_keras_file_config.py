"""Saved .keras files whose config.json is damaged in its structure (a key left out, a value of the wrong type):
each is a SpecError naming the layer, the key and the value, never a KeyError, TypeError or AttributeError.

The files start as real Keras saves (a Sequential holding a nested Sequential; a functional model with two
branches, a frozen layer and a ``keras.ops`` call) whose ``config.json`` is edited; planning them needs no Keras.
"""

from __future__ import annotations

import contextlib
import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import ConvCalcError, SpecError

keras = pytest.importorskip("keras")

Saved = dict[str, tuple[dict[str, Any], dict[str, bytes]]]  # model -> (its config.json, the archive's members)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The two models saved by Keras, and the parameter counts Keras gives them (checked once, unedited)."""
    L = keras.layers
    inner = keras.Sequential([L.Dense(2, name="dense")], name="inner")
    seq = keras.Sequential(
        [keras.Input((10, 3), name="signal"), L.Conv1D(4, 3, name="conv"), L.Flatten(name="flat"), inner], name="seq"
    )
    image = keras.Input((8, 8, 3), name="image")
    branches = [L.Conv2D(2, 3, name="conv_a")(image), L.Conv2D(2, 3, name="conv_b", trainable=False)(image)]
    out = L.GlobalAveragePooling2D(name="pool")(L.Add(name="add")(branches) * 2.0)
    fn = keras.Model(image, out, name="fn")
    folder = tmp_path_factory.mktemp("saved")
    files: Saved = {}
    for model in (seq, fn):
        path = folder / f"{model.name}.keras"
        model.save(path)
        with zipfile.ZipFile(path) as archive:
            members = {n: archive.read(n) for n in archive.namelist()}
        plan = convcalc.plan(str(path))
        assert (plan.output_shape, plan.total_params) == ((1, 2), model.count_params())
        files[model.name] = (json.loads(members["config.json"]), members)
    return files


def _write(path: Path, members: dict[str, bytes], config: Any) -> str:
    """A copy of a saved archive with ``config`` as its config.json."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, json.dumps(config) if name == "config.json" else data)
    return str(path)


def _at(config: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        config = config[key]
    return config


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
    return lambda config: _at(config, path[:-1]).__setitem__(path[-1], value)


def _layer(j: int, *path: Any) -> tuple[Any, ...]:
    return ("config", "layers", j, *path)


_TENSOR_CONFIG = _layer(1, "inbound_nodes", 0, "args", 0, "config")


@pytest.mark.parametrize(
    ("model", "edit", "message"),
    [
        (
            "seq",
            _set(("config",), {"name": "seq"}),
            "seq (Sequential): the configuration has no layers (a list of layer configurations). Received: keys=['name']",
        ),
        (
            "seq",
            _set(("config", "layers"), None),
            "seq (Sequential): layers must be a list of layer configurations. Received: layers=None",
        ),
        (
            "seq",
            _set(_layer(3, "config"), {"name": "inner"}),
            "inner (Sequential): the configuration has no layers (a list of layer configurations). "
            "Received: keys=['name']",
        ),
        (
            "seq",
            _set(_layer(1, "class_name"), []),
            "seq (Sequential): layers[1] (conv): class_name must be a string naming a Keras class, such as 'Conv2D'. "
            "Received: class_name=[]",
        ),
        (
            "seq",
            _set(_layer(1, "config", "name"), [None]),
            "seq (Sequential): layers[1] (Conv1D): name must be a string. Received: name=[None]",
        ),
        (
            "seq",
            _set(_layer(0), {"class_name": "InputLayer", "config": None}),
            "seq (Sequential): layers[0] is not a layer's configuration (a table with a `config` table). "
            "Received: layers[0]={'class_name': 'InputLayer', 'config': None}",
        ),
        (
            "seq",
            _set(_layer(1), {"class_name": "Conv1D", "config": None}),
            "seq (Sequential): layers[1] is not a layer's configuration (a table with a `config` table). "
            "Received: layers[1]={'class_name': 'Conv1D', 'config': None}",
        ),
        (
            "seq",
            _set(_layer(1, "config", "dtype"), {"class_name": "QuantizedDTypePolicy", "config": [1]}),
            "conv (Conv1D): a quantized layer (QuantizedDTypePolicy) holds integer kernels and scales in place of "
            "its weights; convcalc counts the float model: plan it before quantize(). "
            "Received: dtype='QuantizedDTypePolicy'",
        ),
        (
            "seq",
            _set(("class_name",), ["Sequential"]),
            "model: class_name must be a string naming the model's class, such as 'Sequential'. "
            "Received: class_name=['Sequential']",
        ),
        ("seq", _set(("config", "name"), 3), "model (Sequential): name must be a string. Received: name=3"),
        (
            "fn",
            _set(("config",), {"name": "fn"}),
            "fn (Functional): the configuration has no layers (a list of layer configurations). Received: keys=['name']",
        ),
        (
            "fn",
            _set(_layer(0, "inbound_nodes"), -1),
            "image (InputLayer): inbound_nodes must be a list of the layer's calls. Received: inbound_nodes=-1",
        ),
        (
            "fn",
            _set(_TENSOR_CONFIG, None),
            "fn: a call of conv_a: a Keras tensor names the layer it comes from by its config's keras_history, "
            "[layer name, call index, output index]. Received: config=None",
        ),
        (
            "fn",
            _set((*_TENSOR_CONFIG, "keras_history"), "image"),
            "fn: a call of conv_a: a Keras tensor names the layer it comes from by its config's keras_history, "
            "[layer name, call index, output index]. Received: keras_history='image'",
        ),
        (
            "fn",
            _set(_layer(1, "class_name"), ["Conv2D"]),
            "fn (Functional): layers[1] (conv_a): class_name must be a string naming a Keras class, such as "
            "'Conv2D'. Received: class_name=['Conv2D']",
        ),
        (
            "fn",
            _set(_layer(1, "name"), 5),
            "fn (Functional): layers[1] (Conv2D): name must be a string. Received: name=5",
        ),
        (
            "fn",
            lambda config: [_set(_layer(1, *key), None)(config) for key in (("name",), ("config", "name"))],
            "fn (Functional): layers[1] (Conv2D): name must be a string, which the model's graph refers to. "
            "Received: name=None",
        ),
    ],
    ids=[
        "sequential without layers",
        "sequential layers null",
        "nested sequential without layers",
        "class_name a list",
        "name a list",
        "input layer config null",
        "layer config null",
        "dtype policy config a list",
        "model class_name a list",
        "model name a number",
        "functional without layers",
        "inbound_nodes a number",
        "tensor config null",
        "keras_history a string",
        "functional class_name a list",
        "functional name a number",
        "functional layer unnamed",
    ],
)
def test_a_malformed_config_is_refused_naming_the_layer_key_and_value(
    saved: Saved, tmp_path: Path, model: str, edit: Callable[[Any], Any], message: str
) -> None:
    """Each of these raised KeyError, TypeError or AttributeError, or a message about something else."""
    config, members = saved[model]
    config = copy.deepcopy(config)
    edit(config)
    with pytest.raises(SpecError) as info:
        convcalc.plan(_write(tmp_path / "edited.keras", members, config))
    assert str(info.value) == message


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value in a configuration, itself included (``()``)."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [path, *(p for key, v in inner for p in _places(v, (*path, key)))]


_DROP = object()  # the mutation that removes the key or the list entry
_VALUES = [_DROP, None, -1, 0, 2.5, True, "x", "", [], {}, [None, 8], {"config": None}]


@given(model=st.sampled_from(["seq", "fn"]), data=st.data())
def test_any_damage_to_the_structure_plans_or_raises_a_convcalc_error(
    saved: Saved, tmp_path_factory: pytest.TempPathFactory, model: str, data: st.DataObject
) -> None:
    """Up to three values anywhere in config.json dropped or replaced (by None, a number, a string, a list, a
    table, or the value wrapped in a list): the file plans, or a ConvCalcError says why, and nothing else."""
    config, members = saved[model]
    config = copy.deepcopy(config)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(_places(config)), label="path")
        value = data.draw(st.sampled_from([*_VALUES, [_at(config, path)]]), label="value")
        value = None if value is _DROP and not path else value
        if not path:
            config = copy.deepcopy(value)
        elif value is _DROP:
            del _at(config, path[:-1])[path[-1]]
        else:
            _at(config, path[:-1])[path[-1]] = copy.deepcopy(value)
    file = _write(tmp_path_factory.getbasetemp() / "mutated.keras", members, config)
    with contextlib.suppress(ConvCalcError):
        assert isinstance(convcalc.plan(file), convcalc.Plan)
