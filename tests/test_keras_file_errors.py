"""Saved .keras files that are not what they claim: each is a SpecError that says what is wrong (no Keras needed)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import SpecError


def _keras_file(tmp_path: Path, config: Any, *, raw: str | None = None) -> str:
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", raw if raw is not None else json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return str(path)


def _dense(name: str, units: int) -> dict[str, Any]:
    return {"class_name": "Dense", "config": {"name": name, "units": units, "use_bias": True, "trainable": True}}


def _input(name: str) -> dict[str, Any]:
    return {"class_name": "InputLayer", "config": {"name": name, "batch_shape": [None, 8]}}


@pytest.mark.parametrize(
    ("config", "raw", "message"),
    [
        (None, "{not json", "config.json is not JSON"),
        ([1, 2], None, "not a Keras model configuration"),
        ({"class_name": "MyModel", "config": {"name": "mine"}}, None, "a subclassed model keeps no layer graph"),
        (
            {"class_name": "Sequential", "config": {"name": "s", "layers": [_dense("d", 4), _input("in")]}},
            None,
            "an InputLayer after other layers",
        ),
    ],
    ids=["not JSON", "not a model", "subclassed", "input after layers"],
)
def test_a_broken_keras_file_is_refused_saying_why(tmp_path: Path, config: Any, raw: str | None, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        convcalc.plan(_keras_file(tmp_path, config, raw=raw))


def test_an_archive_without_a_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(SpecError, match=r"the archive holds no config\.json"):
        convcalc.plan(str(path))


def test_a_file_that_is_no_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"HDF5 or anything else")
    with pytest.raises(SpecError, match="it is not a zip archive"):
        convcalc.plan(str(path))


def test_a_saved_sequential_plans_as_keras_counts_it(tmp_path: Path) -> None:
    """Input (None, 8) -> Dense(4): 8 * 4 + 4 = 36 parameters, by hand."""
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [_input("in"), _dense("d", 4)]}}
    plan = convcalc.plan(_keras_file(tmp_path, config))
    assert plan.output_shape == (1, 4)
    assert plan.total_params == 36


def _functional(history: Any = ("in", 0, 0), outputs: Any = ("d", 0, 0), extra: Any = ()) -> dict[str, Any]:
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": list(history)}}
    dense = {**_dense("d", 4), "name": "d", "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}
    layers = [{**_input("in"), "name": "in", "inbound_nodes": []}, dense, *extra]
    config = {"name": "f", "layers": layers, "input_layers": [["in", 0, 0]], "output_layers": [list(outputs)]}
    return {"class_name": "Functional", "config": config}


def test_a_saved_functional_model_plans(tmp_path: Path) -> None:
    plan = convcalc.plan(_keras_file(tmp_path, _functional()))
    assert (plan.output_shape, plan.total_params) == ((1, 4), 36)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            _functional(extra=["junk"]),
            "f (Functional): layers[2] is not a layer's configuration (a table with a `config` table). "
            "Received: layers[2]='junk'",
        ),
        (
            _functional(extra=[{"class_name": "Dense", "name": "e"}]),
            "f (Functional): layers[2] is not a layer's configuration (a table with a `config` table). "
            "Received: layers[2]={'class_name': 'Dense', 'name': 'e'}",
        ),
        (
            _functional(extra=[{"class_name": "Dense", "config": None}]),
            "f (Functional): layers[2] is not a layer's configuration (a table with a `config` table). "
            "Received: layers[2]={'class_name': 'Dense', 'config': None}",
        ),
        (
            _functional(history=("in", None, 0)),
            "f: a call of d: a tensor is named by [layer name, call index, output index] (a string "
            "and two integers >= 0). Received: ['in', None, 0]",
        ),
        (
            _functional(history=("in", "a", 0)),
            "f: a call of d: a tensor is named by [layer name, call index, output index] (a string "
            "and two integers >= 0). Received: ['in', 'a', 0]",
        ),
        (
            _functional(outputs=("d", -1, 0)),
            "a tensor is named by [layer name, call index, output index] (a string and two integers >= 0). "
            "Received: ['d', -1, 0]",
        ),
    ],
    ids=["a string", "no config", "config null", "call None", "call a string", "negative call"],
)
def test_a_damaged_functional_configuration_is_refused_saying_where(tmp_path: Path, config: Any, message: str) -> None:
    """Damaged by hand, these raised TypeError, KeyError, AttributeError or ValueError."""
    with pytest.raises(SpecError) as info:
        convcalc.plan(_keras_file(tmp_path, config))
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (
            0,
            "in (InputLayer): the batch size in batch_shape must be None or an integer >= 1. Received: batch_shape=[0, 8]",
        ),
        (
            "x",
            "in (InputLayer): the batch size in batch_shape must be None or an integer >= 1. Received: batch_shape=['x', 8]",
        ),
    ],
)
def test_a_batch_size_keras_cannot_have_is_refused(tmp_path: Path, batch: Any, message: str) -> None:
    """A batch of 0 was planned as 1, a string as a symbol."""
    layer = {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [batch, 8]}}
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [layer, _dense("d", 4)]}}
    with pytest.raises(SpecError) as info:
        convcalc.plan(_keras_file(tmp_path, config))
    assert str(info.value) == message


def test_trainable_must_be_a_boolean(tmp_path: Path) -> None:
    """``"trainable": "no"`` was read as trainable."""
    dense = _dense("d", 4)
    dense["config"]["trainable"] = "no"
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [_input("in"), dense]}}
    with pytest.raises(SpecError) as info:
        convcalc.plan(_keras_file(tmp_path, config))
    assert str(info.value) == "d (Dense): trainable must be true or false. Received: trainable='no'"
