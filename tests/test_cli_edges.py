"""The command line's edges, run in process: what a user's module can raise when imported, the exit codes of
an interrupted or broken run, and the help width where the terminal does not say."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from convcalc import cli


def _main(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where a test writes the user's own module."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    sys.modules.pop(name, None)


def test_a_module_that_fails_on_import_is_named(capsys: Any, user_module: Path) -> None:
    _write(user_module, "broken_net", "raise RuntimeError('no GPU here')\n")
    code, _, err = _main(capsys, "plan", "broken_net:make", "--input", "1x3x8x8")
    assert code == 2
    assert err == "convcalc: error: importing 'broken_net' failed: RuntimeError: no GPU here\n"


def test_a_missing_module_and_a_missing_name(capsys: Any, user_module: Path) -> None:
    code, _, err = _main(capsys, "plan", "no_such_module_here:make", "--input", "1x3x8x8")
    assert code == 2
    assert err.startswith("convcalc: error: cannot import 'no_such_module_here': ")
    _write(user_module, "small_net", "def make():\n    return None\n")
    code, _, err = _main(capsys, "plan", "small_net:build", "--input", "1x3x8x8")
    assert (code, err) == (
        2,
        "convcalc: error: 'small_net' has no attribute 'build'. Received: MODEL='small_net:build'\n",
    )


def test_a_factory_that_raises_is_named(capsys: Any, user_module: Path) -> None:
    _write(user_module, "factory_net", "def make():\n    raise ValueError('depth must be even')\n")
    code, _, err = _main(capsys, "plan", "factory_net:make", "--input", "1x3x8x8")
    assert (code, err) == (2, "convcalc: error: calling factory_net:make failed: ValueError: depth must be even\n")


def test_a_factory_returning_a_spec_is_planned(capsys: Any, user_module: Path) -> None:
    _write(
        user_module,
        "spec_net",
        """
        from convcalc import nn

        def make():
            return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        """,
    )
    code, out, _ = _main(capsys, "plan", "spec_net:make", "--input", "1x3x8x8")
    assert code == 0
    assert "Output: [1, 4, 6, 6]" in out


def test_an_internal_error_is_one_line_and_debug_shows_it(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: Any) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_cmd_size", broken)
    monkeypatch.delenv("CONVCALC_DEBUG", raising=False)
    code, _, err = _main(capsys, "size", "8", "-k", "3")
    assert (code, err) == (
        2,
        "convcalc: error: internal error: RuntimeError: a bug (set CONVCALC_DEBUG=1 for the traceback)\n",
    )
    monkeypatch.setenv("CONVCALC_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["size", "8", "-k", "3"])


@pytest.mark.parametrize(("raised", "code"), [(KeyboardInterrupt, 130), (BrokenPipeError, 0)])
def test_an_interrupted_or_closed_pipe_run_exits_quietly(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, raised: type[BaseException], code: int
) -> None:
    def stop(args: Any) -> int:
        raise raised()

    monkeypatch.setattr(cli, "_cmd_size", stop)
    monkeypatch.setattr(cli, "_silence_stdout", lambda: None)  # pytest's captured stdout has no file descriptor
    assert cli.main(["size", "8", "-k", "3"]) == code
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("columns", ["", "wide"])
def test_help_is_laid_out_where_the_terminal_width_is_unknown(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)

    def no_terminal() -> Any:
        raise OSError("not a terminal")

    monkeypatch.setattr(cli.os, "get_terminal_size", no_terminal)
    code, out, _ = _main(capsys, "size", "--help")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 78


def test_an_exercise_index_beyond_a_sheet_is_refused(capsys: Any) -> None:
    code, _, err = _main(capsys, "exercise", "check", "--index", "1001", "3")
    assert (code, err) == (
        2,
        "convcalc: error: --index must be at most 1000 (a sheet's size). Received: --index 1001\n",
    )


def test_option_words_are_read_in_any_case_and_a_bad_padding_lists_the_words(capsys: Any) -> None:
    """``--convention Keras``, ``--format JSON`` are read as ``-p SAME`` already was; ``-p full`` names what fits."""
    assert _main(capsys, "size", "7", "-k", "3", "-s", "2", "--same", "--convention", "Keras")[:2] == (0, "4\n")
    status, out, _ = _main(capsys, "plan", "zoo:lenet5", "--format", "JSON")
    assert status == 0
    assert out.startswith("{")
    assert _main(capsys, "size", "7", "-k", "3", "--convention", "tensorflow")[0] == 2
    status, _, err = _main(capsys, "size", "7", "-k", "3", "-p", "full")
    assert status == 2
    assert "padding must be an integer, integers joined by x (1x2), 'same' or 'valid'" in err


def test_verify_exits_1_where_the_model_does_not_run(capsys: Any, tmp_path: Path) -> None:
    """Both rejecting the input at the same layer is the plan right, and the model not running: exit status 1."""
    pytest.importorskip("torch")
    spec = tmp_path / "net.toml"
    spec.write_text(
        'framework = "torch"\ninput = [1, 1, 28, 28]\nlayers = [\n  { type = "Conv2d", args = [1, 4, 3] },\n'
        '  { type = "Flatten" },\n  { type = "Linear", args = [2704, 10] },\n]\n'
    )
    status, out, _ = _main(capsys, "verify", str(spec), "--device", "cpu")
    assert status == 0
    assert ": OK (" in out
    status, out, _ = _main(capsys, "verify", str(spec), "--device", "cpu", "--input", "1x1x30x30")
    assert status == 1
    assert "both reject, at the same layer (2)" in out


def test_params_refuses_a_kernel_whose_axes_contradict_ndim(capsys: Any) -> None:
    status, out, err = _main(capsys, "params", "conv", "3", "64", "-k", "3x3", "--ndim", "3")
    assert (status, out) == (2, "")
    assert "--ndim 3 and a kernel of 2 axes (3x3) disagree" in err
    assert _main(capsys, "params", "conv", "3", "64", "-k", "3", "--ndim", "3")[:2] == (0, "5248\n")
    assert _main(capsys, "params", "conv", "3", "64", "-k", "3x3x3")[:2] == (0, "5248\n")
    assert _main(capsys, "params", "conv", "3", "64", "-k", "3")[:2] == (0, "1792\n")


@pytest.mark.parametrize("command", ["plan", "verify"])
def test_a_forward_of_several_inputs_is_planned_from_python(capsys: Any, user_module: Path, command: str) -> None:
    """--input gives a model one input: the library's advice (a list or a dict of shapes) is no option here."""
    pytest.importorskip("torch")
    _write(
        user_module,
        "two_input_net",
        """
        import torch


        class TwoInput(torch.nn.Module):
            def forward(self, image, tabular):
                return image.flatten(1) + tabular
        """,
    )
    device = ("--device", "cpu") if command == "verify" else ()
    code, out, err = _main(capsys, command, "two_input_net:TwoInput", "--input", "4x12", *device)
    assert (code, out) == (2, "")
    assert err == (
        "convcalc: error: <model> (TwoInput): forward takes 2 inputs (image, tabular), and the command line gives a "
        "model one input (--input); plan a forward of several inputs from Python, with one shape per input: "
        "convcalc.plan(model, [shape of image, shape of tabular]). Received: --input='4x12'\n"
    )
