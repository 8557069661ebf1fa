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
