"""YAML spec files need PyYAML: the ``yaml`` extra installs it, and its absence is a clear SpecError."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

import convcalc
from convcalc.cli import main
from convcalc.specfile import load_spec, loads_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = Path(__file__).parent / "specs"


def _extras() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        extras: dict[str, list[str]] = tomllib.load(fh)["project"]["optional-dependencies"]
    return extras


def test_the_yaml_extra_installs_pyyaml_and_the_test_extra_includes_it() -> None:
    extras = _extras()
    assert extras["yaml"] == ["pyyaml>=6"]
    assert set(extras["yaml"]) <= set(extras["test"])  # so CI runs the YAML tests instead of skipping them


@pytest.fixture
def no_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import yaml`` fail, as it does where PyYAML is not installed."""
    monkeypatch.setitem(sys.modules, "yaml", None)


@pytest.mark.usefixtures("no_pyyaml")
def test_yaml_without_pyyaml_names_the_extra_to_install() -> None:
    with pytest.raises(convcalc.SpecError) as caught:
        load_spec(SPECS / "mnist.yaml")
    message = str(caught.value)
    assert isinstance(caught.value, convcalc.ConvCalcError)
    assert message.startswith(f"{SPECS / 'mnist.yaml'}: reading YAML needs PyYAML")
    assert "pip install 'convcalc[yaml]'" in message


@pytest.mark.usefixtures("no_pyyaml")
def test_toml_and_json_do_not_need_pyyaml() -> None:
    model, shape = load_spec(SPECS / "mnist.toml")
    assert convcalc.plan(model, shape).output_shape == (1, 10)  # the README's MNIST network: 10 classes
    model, shape = loads_spec(
        '{"input": [1, 1, 28, 28], "layers": [{"type": "Conv2d", "args": [1, 5, 5]}]}', syntax="json"
    )
    assert convcalc.plan(model, shape).output_shape == (1, 5, 24, 24)  # 28 - 5 + 1 = 24


@pytest.mark.usefixtures("no_pyyaml")
def test_the_cli_reports_the_missing_extra_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPECS / "mnist.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "reading YAML needs PyYAML, which the 'yaml' extra installs: pip install 'convcalc[yaml]'" in err
