"""The real ``convcalc`` command, run in subprocesses: outputs, exit codes, one-line errors, golden files."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from goldens import golden
from hypothesis import given
from strategies import cli_argv

from convcalc.cli import _COMMAND_NAMES, _parser, main

ROOT = Path(__file__).resolve().parents[1]
SPECS = Path(__file__).parent / "specs"
SCRIPT = Path(sys.executable).parent / "convcalc"
ENV = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
ENV.pop("CONVCALC_DEBUG", None)


def run(*args: str, cwd: Path = ROOT, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "convcalc"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=120)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


# --------------------------------------------------------------------------- #
# Numbers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["size", "227", "-k", "11", "-s", "4"], "55"),
        (["size", "64", "-k", "7", "-s", "2"], "29"),
        (["size", "32", "-k", "5", "-p", "2"], "32"),
        (["size", "32x64", "-k", "5"], "28x60"),
        (["size", "64x32", "-k", "3", "-p", "1"], "64x32"),
        (["size", "32x64", "-k", "3x5", "-s", "1x2"], "30x30"),
        (["size", "28", "-k", "3", "--same"], "28"),
        (["size", "28", "-k", "3", "-p", "valid"], "26"),
        (["size", "7", "-k", "3", "-s", "2", "--same", "--convention", "keras"], "4"),
        (["size", "32", "-k", "3", "-d", "2"], "28"),
        (["size", "H", "-k", "3", "-s", "2", "-p", "1"], "floor((H - 1)/2) + 1"),
        (["pool", "28", "-k", "2"], "14"),
        (["pool", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil"], "3"),
        (["pool", "7", "-k", "2", "--same", "--convention", "keras"], "4"),
        (["tconv", "4", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"], "8"),
        (["tconv", "4", "-k", "2", "-s", "2"], "8"),
        (["params", "conv", "3", "4", "-k", "5", "--no-bias"], "300"),
        (["params", "conv", "1", "75", "-k", "3"], "750"),
        (["params", "conv", "32", "32", "-k", "3", "-g", "32"], "320"),
        (["params", "tconv", "128", "64", "-k", "2"], "32832"),
        (["params", "linear", "400", "512"], "205312"),
        (["params", "linear", "400", "512", "--no-bias"], "204800"),
    ],
)
def test_numbers(args: list[str], expected: str) -> None:
    assert ok(*args) == expected + "\n"


def test_batchnorm_params() -> None:
    assert ok("params", "bn", "64") == "trainable: 128\nnon-trainable: 0\nbuffers: 129\ntotal: 128\n"
    assert (
        ok("params", "bn", "75", "--convention", "keras")
        == "trainable: 150\nnon-trainable: 150\nbuffers: 0\ntotal: 300\n"
    )


def test_steps() -> None:
    assert (
        ok("size", "227", "-k", "11", "-s", "4", "--steps") == "out = (W - F + 2P)/S + 1\n(227 - 11 + 2*0)/4 + 1 = 55\n"
    )
    assert (
        ok("size", "64", "-k", "7", "-s", "2", "--steps").splitlines()[-1]
        == "floor((64 - 7 + 2*0)/2) + 1 = floor(28.5) + 1 = 29"
    )
    assert ok("size", "32x64", "-k", "5", "--steps").splitlines()[1:] == [
        "H: (32 - 5 + 2*0)/1 + 1 = 28",
        "W: (64 - 5 + 2*0)/1 + 1 = 60",
        "out = 28x60",
    ]
    assert ok("size", "32x32", "-k", "5", "--steps").splitlines()[-1] == "out = 28x28"
    assert "F' = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5 (dilated kernel)" in ok(
        "size", "32", "-k", "3", "-d", "2", "--steps"
    )
    assert "(32 - 4 + 1 + 2)/1 + 1 = 32" in ok("size", "32", "-k", "4", "--same", "--steps")
    assert ok("pool", "5", "-k", "2", "-s", "2", "-p", "1", "--ceil", "--steps").splitlines()[-1] == (
        "the last window would start in the right padding, so torch drops it: out = 3"
    )
    assert ok("tconv", "4", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1", "--steps").splitlines()[-1] == (
        "(4 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 8"
    )
    assert ok("params", "conv", "3", "4", "-k", "5", "--steps").splitlines()[-1] == "4 * 3 * 5 * 5 + 4 = 304"
    assert ok("size", "H", "-k", "3", "-s", "2", "--steps").splitlines()[-1] == "out = floor((H - 3)/2) + 1"


# --------------------------------------------------------------------------- #
# Bad input: exit status 2, one line, no traceback
# --------------------------------------------------------------------------- #

BAD = [
    (["size", "227"], "size: the following arguments are required: -k/--kernel-size"),
    (["size", "4", "-k", "5"], "kernel_size=5 is larger than the padded input"),
    (["size", "64", "-k", "7", "-s", "2", "--strict"], "Input sizes that fit: 63 or 65"),
    (["size", "28", "-k", "3", "-s", "2", "--same"], "padding='same' is not supported for strided convolutions"),
    (["size", "0", "-k", "3"], "size must be at least 1"),
    (["size", "28", "-k", "0"], "kernel_size must be at least 1"),
    (["size", "28", "-k", "3.5"], "kernel_size must be an integer"),
    (["size", "2+2", "-k", "3"], "'2+2' is neither a number nor a symbol name"),
    (["size", "32x64x", "-k", "3"], "size must be a number or numbers joined by x"),
    (["size", "32x64", "-k", "3x3x3"], "per-axis tuples must have one value per spatial axis"),
    (["size", "28", "-k", "3", "--same", "--valid"], "not allowed with argument"),
    (["size", "28", "-k", "3", "--convention", "tf"], "invalid choice: 'tf'"),
    (["pool", "8", "-k", "3", "-p", "2"], "padding=2 is more than half of kernel_size=3"),
    (["tconv", "4", "-k", "3", "-s", "2", "--output-padding", "2"], "output_padding=2 must be smaller"),
    (["params", "conv", "6", "4", "-k", "3", "-g", "4"], "in_channels must be divisible by groups"),
    (["params", "linear", "0", "10"], "must be a positive integer"),
    (["params", "dense", "1", "2"], "invalid choice: 'dense'"),
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["plan", "missing.toml", "--input", "1x1x28x28"], "no such spec file: missing.toml"),
    (["plan", "not a model"], "MODEL must be a spec file, zoo:NAME, PATH.py:NAME or module.path:NAME"),
    (["plan", "tests/specs/broken/unknown_type.toml"], "layers[1].type: unknown layer type 'Conv2D'"),
    (["plan", "tests/specs/broken/hostile_python_object.yaml"], "could not determine a constructor"),
    (["plan", "tests/specs/mnist.toml", "--input", "1x3x28x28"], "in_channels=1 but the input has 3 channels"),
    (["plan", "tests/specs/mnist.toml", "--input", "1x1x28xW!"], "'W!' is neither a number nor a symbol name"),
    (["plan", "missing.onnx"], "no such ONNX file: missing.onnx"),
    # an empty --input is no shape (it was taken as none given, and the file's own input planned)
    (["plan", "tests/specs/mnist.toml", "--input", ""], "--input must be a number or numbers joined by x"),
    (
        ["plan", "tests/specs/mnist.toml", "--format", "json", "--style", "keras"],
        "--style applies to --format text only",
    ),
    (["plan", "convcalc.nothing_here:build"], "cannot import 'convcalc.nothing_here'"),
    (["plan", "convcalc.nn:NoSuchLayer"], "has no attribute 'NoSuchLayer'"),
    (["solve", "tests/specs/mnist.toml"], "solve needs a symbolic input size"),
    (["exercise", "--count", "0"], "must be a positive integer"),
    (["exercise", "--kind", "sizes"], "invalid choice: 'sizes'"),
    (["exercise", "--difficulty", "4"], "invalid choice: 4"),
    (["exercise", "check", "--seed", "3", "--index", "1", "many"], "the answer must contain a number"),
    (["exercise", "check", "--seed", "3", "55"], "the following arguments are required: --index"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) or "(nothing)" for a, _ in BAD])
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convcalc: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_help_shows_examples() -> None:
    top = ok("--help")
    assert "examples:" in top
    assert "convcalc size 227 -k 11 -s 4" in top
    assert "exit status" in top
    for command in ("size", "pool", "tconv", "params", "plan", "solve", "verify", "exercise"):
        assert "examples:" in ok(command, "--help"), command
    assert ok("--version").startswith("convcalc ")


def test_main_in_process_returns_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["size", "227", "-k", "11", "-s", "4"]) == 0
    assert capsys.readouterr().out == "55\n"
    assert main(["size", "4", "-k", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convcalc: error: kernel_size=5")
    assert err.count("\n") == 1
    assert main(["--help"]) == 0


def test_console_script() -> None:
    if not SCRIPT.exists():
        pytest.skip(f"the convcalc script is not installed next to {sys.executable} (pip install -e .)")
    result = run("size", "227", "-k", "11", "-s", "4", script=True)
    assert (result.returncode, result.stdout) == (0, "55\n")
    result = run("size", "227", script=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_numeric_commands_import_no_heavy_module() -> None:
    code = textwrap.dedent(
        """
        import contextlib, io, sys
        from convcalc.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            main(["size", "227", "-k", "11", "-s", "4"])
            main(["size", "32x64", "-k", "5", "--steps"])
            main(["pool", "28", "-k", "2", "--steps"])
            main(["tconv", "4", "-k", "3", "-s", "2"])
            main(["params", "conv", "3", "4", "-k", "5"])
            main(["params", "bn", "64"])
            main(["exercise", "--count", "20", "--seed", "1", "--answers"])
        print(sorted(m for m in ("sympy", "numpy", "torch") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("script", [False, True], ids=["python -m convcalc", "convcalc"])
def test_size_process_imports_only_what_the_command_needs(script: bool) -> None:
    if script and not SCRIPT.exists():
        pytest.skip(f"the convcalc script is not installed next to {sys.executable} (pip install -e .)")
    launcher = [str(SCRIPT)] if script else ["-m", "convcalc"]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *launcher, "size", "227", "-k", "11", "-s", "4"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # without coverage's start-up hook, which a --cov run passes on to subprocesses (it imports inspect, ...)
        env={k: v for k, v in ENV.items() if not k.startswith(("COVERAGE_PROCESS_", "COV_CORE_"))},
        timeout=120,
    )
    assert result.stdout == "55\n"
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    heavy = {"sympy", "numpy", "torch", "typing", "dataclasses", "shutil", "inspect", "textwrap"}
    if script:  # runpy (python -m) imports importlib itself; the console script need not
        heavy.add("importlib")
    assert not imported & heavy


@given(argv=cli_argv(max_tokens=10))
def test_the_parser_of_one_command_reads_argv_as_the_whole_parser_does(argv: list[str]) -> None:
    # main() builds only the options of the sub-command it runs; argv must mean the same as with all of them
    def parse(parser: argparse.ArgumentParser) -> tuple[str, object]:
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                return "parsed", vars(parser.parse_args(argv))
        except SystemExit as exc:  # --help, --version
            return "exit", (exc.code, out.getvalue(), err.getvalue())
        except Exception as exc:
            return type(exc).__name__, str(exc)

    one = _parser(argv[0]) if argv[0] in _COMMAND_NAMES else _parser()  # as main() picks it
    assert parse(one) == parse(_parser())


def test_help_of_each_command_is_the_same_from_either_parser() -> None:
    def help_of(parser: argparse.ArgumentParser, name: str) -> str:
        return str(parser._subparsers._group_actions[0].choices[name].format_help())  # type: ignore[union-attr,index]

    for name in _COMMAND_NAMES:
        assert help_of(_parser(name), name) == help_of(_parser(), name)


# --------------------------------------------------------------------------- #
# Models: plan, solve, verify
# --------------------------------------------------------------------------- #


def test_plan_table_golden() -> None:
    golden("cli_plan_mnist_table.txt", ok("plan", "tests/specs/mnist.toml"))
    golden("cli_plan_resnet_stage_torchinfo.txt", ok("plan", "tests/specs/resnet_stage.toml", "--style", "torchinfo"))
    golden("cli_plan_keras_mnist_keras.txt", ok("plan", "tests/specs/keras_mnist.toml", "--style", "keras"))


def test_plan_formats() -> None:
    import json

    data = json.loads(ok("plan", "tests/specs/seed003_cnn.toml", "--format", "json"))
    assert data["output_shape"] == [1, 5, 12, 12]
    assert data["total_params"] == 130
    assert ok("plan", "tests/specs/seed003_cnn.toml", "--format", "csv").startswith("name,kind,")
    assert "| `conv1` | Conv2d |" in ok("plan", "tests/specs/seed003_cnn.toml", "--format", "md")
    assert ok("plan", "tests/specs/seed003_cnn.toml", "--format", "latex").startswith(r"\begin{tabular}")
    flops = json.loads(ok("plan", "tests/specs/seed003_cnn.toml", "--format", "json", "--macs", "flops"))
    assert flops["macs"] == 2 * data["macs"]
    # --input overrides the file's input; the JSON spec plans like the TOML one
    assert "[1, 5, 28, 28]" in ok("plan", "tests/specs/seed003_cnn.toml", "--input", "1x1x32x32", "--format", "md")
    assert ok("plan", "tests/specs/mnist.json") == ok("plan", "tests/specs/mnist.toml")


def test_plan_symbolic() -> None:
    text = ok("plan", "tests/specs/seed003_cnn.toml", "--input", "1x1xHxW")
    assert "floor((H - 6)/2) + 1" in text
    assert "floor((W - 6)/2) + 1" in text


def test_plan_strict() -> None:
    result = run("plan", "tests/specs/seed003_cnn.toml", "--input", "1x1x29x29", "--strict")
    assert result.returncode == 2
    assert "strict" in result.stderr
    assert "Traceback" not in result.stderr
    assert run("plan", "tests/specs/seed003_cnn.toml", "--input", "1x1x29x29").returncode == 0


def test_solve_spec_file() -> None:
    assert ok("solve", "tests/specs/unet_tiny.toml", "--strict") == "H >= 18 and H ≡ 0 (mod 2)\nsmallest H: 18\n"
    assert (
        ok("solve", "tests/specs/unet_tiny.toml", "--strict", "--output", "20").splitlines()[-1]
        == "H giving output 20: 36"
    )
    result = run("solve", "tests/specs/unet_tiny.toml", "--strict", "--output", "21")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "no valid H gives output 21"


def test_solve_answers_an_output_size_for_each_axis_of_its_own_size(tmp_path: Path) -> None:
    """A stride of (1, 2) on an H x H input: H = 7 gives 5 rows and H = 11 or 12 gives 5 columns (torch: 7 gives
    (5, 3)); solve printed 'H giving output 5: 7', the rows' answer alone, as if the output were 5 x 5."""
    spec = tmp_path / "aniso.toml"
    spec.write_text(
        'input = [1, 3, 8, 8]\n[[layers]]\ntype = "Conv2d"\nargs = [3, 4, 3]\nkwargs = { stride = [1, 2] }\n'
    )
    lines = run("solve", str(spec), "--input", "1x3xHxH", "--output", "5").stdout.splitlines()
    assert lines[-2:] == ["H giving output 5 on axis 2: 7", "H giving output 5 on axis 3: 11, 12"]
    lines = ok("solve", str(spec), "--input", "1x3xHxH", "--output", "2").splitlines()
    assert lines[-2:] == ["H giving output 2 on axis 2: 4", "H giving output 2 on axis 3: 5, 6"]


def test_solve_prints_the_points_of_tied_symbols_once() -> None:
    """A Linear ties H and W to a finite set of points: printed once, each symbol's smallest value with the point
    it belongs to (it printed the whole set again for W, and 'smallest H: 4' alone, valid only with W >= 120)."""
    lines = ok("solve", "tests/specs/mnist.toml", "--input", "1x1xHxW").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("(H, W) in {(4, 120), (4, 121), ")
    assert lines[1:] == [
        "smallest H: 4, with the others as listed (first: H=4, W=120)",
        "smallest W: 4, with the others as listed (first: H=120, W=4)",
    ]


def test_zoo_models() -> None:
    pytest.importorskip("convcalc.zoo")
    assert "Params: 61,706" in ok("plan", "zoo:lenet5")
    assert "Total params: 25,557,032" in ok("plan", "zoo:resnet50", "--style", "torchinfo")
    solved = ok("solve", "zoo:unet", "--input", "1x1xHxH", "--strict", "--output", "388")
    assert solved.splitlines() == ["H >= 188 and H ≡ 12 (mod 16)", "smallest H: 188", "H giving output 388: 572"]
    result = run("plan", "zoo:resnet51")
    assert result.returncode == 2
    assert "no zoo model named 'resnet51'" in result.stderr


def test_module_callable(tmp_path: Path) -> None:
    (tmp_path / "mynet.py").write_text(
        textwrap.dedent(
            """
            from convcalc import nn

            def build():
                return nn.Sequential(nn.Conv2d(1, 5, 5), nn.MaxPool2d(2))

            def broken():
                raise RuntimeError("no weights here")

            MODEL = nn.Conv2d(1, 2, 3)
            """
        ),
        encoding="utf-8",
    )
    result = run("plan", "mynet:build", "--input", "1x1x28x28", "--format", "md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[1, 5, 12, 12]" in result.stdout
    assert run("plan", "mynet:MODEL", "--input", "1x1x5x5", cwd=tmp_path).returncode == 0
    result = run("plan", "mynet:broken", "--input", "1x1x28x28", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "convcalc: error: calling mynet:broken failed: RuntimeError: no weights here\n"
    result = run("plan", "mynet:build", cwd=tmp_path)
    assert result.returncode == 2
    assert "has no input shape: give one with --input" in result.stderr


def test_verify() -> None:
    pytest.importorskip("torch")
    result = run("verify", "tests/specs/seed003_cnn.toml", "--device", "cpu")
    if result.returncode == 2 and "torch_bridge" in result.stderr:
        pytest.skip("convcalc.torch_bridge.verify is not in this install")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout.splitlines()[0]


# --------------------------------------------------------------------------- #
# Exercises
# --------------------------------------------------------------------------- #


def test_exercise_sheet_goldens() -> None:
    golden("cli_exercise_ko_seed3.md", ok("exercise", "--count", "8", "--seed", "3", "--lang", "ko", "--answers"))
    golden("cli_exercise_en_seed3.md", ok("exercise", "--count", "8", "--seed", "3", "--difficulty", "2", "--answers"))
    golden("cli_exercise_en_seed3.tex", ok("exercise", "--count", "8", "--seed", "3", "--format", "latex", "--answers"))


def test_exercise_options() -> None:
    sheet = ok("exercise", "--count", "3", "--seed", "9", "--kind", "im2col", "--difficulty", "3", "--no-answers")
    assert sheet.count("im2col(x,") == 3
    assert "## Answers" not in sheet
    assert ok("exercise", "--seed", "9", "--lang", "ko").startswith("# 합성곱 연습 문제")
    with_answers = ok("exercise", "--count", "3", "--seed", "9", "--kind", "im2col", "--difficulty", "3")
    assert with_answers == ok(
        "exercise", "--count", "3", "--seed", "9", "--kind", "im2col", "--difficulty", "3", "--answers"
    )
    assert with_answers.startswith(sheet.rstrip("\n"))
    assert "## Answers" in with_answers


def test_exercise_check() -> None:
    from convcalc.exercises import generate

    ex = generate(2, 3, kind="size")[1]
    right = run("exercise", "check", "--kind", "size", "--seed", "3", "--index", "2", ex.answer)
    assert (right.returncode, right.stdout) == (0, f"Correct: {ex.answer}.\n")
    # the parent's options count too, and a wrong answer exits 1 with the diagnosis
    wrong = run("exercise", "--kind", "size", "check", "--seed", "3", "--index", "2", str(ex.value[0] - 1))
    assert wrong.returncode == 1
    assert "forgot the + 1" in wrong.stdout
    ko = run("exercise", "check", "--kind", "size", "--seed", "3", "--index", "2", "--lang", "ko", ex.answer)
    assert ko.stdout.startswith("정답입니다")


def test_latex_sheet_compiles(tmp_path: Path) -> None:
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    tex = tmp_path / "sheet.tex"
    tex.write_text(
        ok("exercise", "--count", "10", "--seed", "5", "--difficulty", "3", "--format", "latex", "--answers"),
        encoding="utf-8",
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "sheet.pdf").exists()
