"""The command line as a newcomer meets it, run in process: a model given as a path to its Python file, the count
column headed by what ``--macs`` counts, an error's fix written with the command's own options, and every message
that docs/cli.md quotes, compared with what the tool prints."""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc._cli_args import _CLI_SPELLING, _MAC_CONVENTIONS, _cli_spelling
from convcalc._render import _COUNT_HEADINGS
from tests.test_mutation_cli import _error, _lines, _main, _ok

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "tests" / "specs"


# --------------------------------------------------------------------------- #
# MODEL as PATH.py:NAME
# --------------------------------------------------------------------------- #

#: The user modules the tests below write; removed from sys.modules after each test, so that none is found cached
USER_MODULES = ("models", "netdefs", "blocks", "broken", "lonely", "bad", "json", "convcalc_model_file_json")

MODELS_PY = """
from convcalc import nn


def build():
    return nn.Sequential(nn.Conv2d(1, 5, 5), nn.MaxPool2d(2))


def broken():
    raise RuntimeError("no weights here")


class Nets:
    small = nn.Sequential(nn.Conv2d(1, 2, 3))


if __name__ == "__main__":
    raise SystemExit("run as a script")
"""

#: models.py:build at 1x1x28x28 (as docs/cli.md plans it: 28 - 5 + 1 = 24, pooled to 12)
BUILD_TABLE = _lines(
    "Layer  Kind       Output shape    Params    MACs  RF size/jump/pad",
    "------------------------------------------------------------------",
    "0      Conv2d     [1, 5, 24, 24]     130  72,000  5/1/0",
    "1      MaxPool2d  [1, 5, 12, 12]       0       0  6/2/0",
    "------------------------------------------------------------------",
    "Input: [1, 1, 28, 28]  Output: [1, 5, 12, 12]",
    "Params: 130 (trainable 130, non-trainable 0); buffers: 0",
    "MACs: conv + linear multiply-accumulates, bias excluded, per sample: 72,000",
)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """project/models.py, and project/sub/netdefs.py, which imports the blocks.py beside it; the working folder is
    the one above project/, so the files are named by a relative path to another folder."""
    root, tmp_path = tmp_path, tmp_path / "project"
    tmp_path.mkdir()
    (tmp_path / "models.py").write_text(MODELS_PY, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "blocks.py").write_text(
        "from convcalc import nn\n\n\ndef stem():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU())\n",
        encoding="utf-8",
    )
    (tmp_path / "sub" / "netdefs.py").write_text(
        "from blocks import stem\n\n\ndef build():\n    return stem()\n", encoding="utf-8"
    )
    monkeypatch.chdir(root)
    saved = {name: sys.modules.get(name) for name in USER_MODULES}
    path = list(sys.path)
    yield tmp_path
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    sys.path[:] = path


def test_a_file_path_is_read_relative_absolute_and_from_any_folder(
    capsys: Any, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = list(sys.path)
    assert _ok(capsys, "plan", "project/models.py:build", "--input", "1x1x28x28") == BUILD_TABLE
    assert _ok(capsys, "plan", f"{files / 'models.py'}:build", "--input", "1x1x28x28") == BUILD_TABLE
    monkeypatch.chdir(files)
    assert _ok(capsys, "plan", "models.py:build", "--input", "1x1x28x28") == BUILD_TABLE
    assert _ok(capsys, "plan", "./models.py:build", "--input", "1x1x28x28") == BUILD_TABLE
    # the module form reads the same file the same way, from its folder
    assert _ok(capsys, "plan", "models:build", "--input", "1x1x28x28") == BUILD_TABLE
    # the file's folder was on sys.path only while it ran (the module form adds the working folder, as before)
    assert [p for p in sys.path if p != str(files)] == path


def test_a_file_imports_the_files_beside_it(capsys: Any, files: Path) -> None:
    # sub/netdefs.py does `from blocks import stem`: sub/ is first on sys.path while it runs, as `python` puts it
    path = list(sys.path)
    assert _ok(capsys, "plan", "project/sub/netdefs.py:build", "--input", "1x1x28x28") == _lines(
        "Layer  Kind    Output shape    Params   MACs  RF size/jump/pad",
        "--------------------------------------------------------------",
        "0      Conv2d  [1, 4, 14, 14]      40  7,056  3/2/1",
        "1      ReLU    [1, 4, 14, 14]       0      0  3/2/1",
        "--------------------------------------------------------------",
        "Input: [1, 1, 28, 28]  Output: [1, 4, 14, 14]",
        "Params: 40 (trainable 40, non-trainable 0); buffers: 0",
        "MACs: conv + linear multiply-accumulates, bias excluded, per sample: 7,056",
    )
    assert sys.path == path
    assert sys.modules["netdefs"].__file__ == str(files / "sub" / "netdefs.py")
    # solve and figure plan take the same MODEL
    assert _ok(capsys, "solve", "project/sub/netdefs.py:build", "--input", "1x1xHxH") == "H >= 1\nsmallest H: 1\n"
    assert _ok(capsys, "figure", "plan", "project/sub/netdefs.py:build", "--input", "1x1x28x28").startswith("<svg ")


def test_a_dotted_name_and_a_script_guard(capsys: Any, files: Path) -> None:
    # models.py's `if __name__ == "__main__":` raises SystemExit: it runs under its own name, so that part does not
    assert _ok(capsys, "plan", "project/models.py:Nets.small", "--input", "1x1x5x5", "--format", "md") == _lines(
        "| Layer | Kind | Output shape | Params | MACs |",
        "|---|---|---|--:|--:|",
        "| `0` | Conv2d | [1, 2, 3, 3] | 20 | 162 |",
        "| **Total** | | [1, 2, 3, 3] | **20** | **162** |",
        "",
        "MACs: conv + linear multiply-accumulates, bias excluded, per sample.",
    )
    assert sys.modules["models"].__name__ == "models"


def test_a_file_named_as_another_module_leaves_that_module_alone(capsys: Any, files: Path) -> None:
    stdlib_json = sys.modules["json"]
    (files / "json.py").write_text(MODELS_PY, encoding="utf-8")
    assert _ok(capsys, "plan", "project/json.py:build", "--input", "1x1x28x28") == BUILD_TABLE
    assert sys.modules["json"] is stdlib_json
    assert sys.modules["convcalc_model_file_json"].__file__ == str(files / "json.py")


def test_a_file_path_that_does_not_give_a_model(capsys: Any, files: Path) -> None:
    path = list(sys.path)
    assert _error(capsys, "plan", "project/missing.py:build") == (
        f"cannot load 'project/missing.py': no such file ({files / 'missing.py'}). Received: MODEL='project/missing.py:build'"
    )
    (files / "folder.py").mkdir()
    assert _error(capsys, "plan", "project/folder.py:build") == (
        f"cannot load 'project/folder.py': is a folder ({files / 'folder.py'}). Received: MODEL='project/folder.py:build'"
    )
    assert _error(capsys, "plan", "project/models.py:nothing") == (
        "'project/models.py' has no attribute 'nothing'. Received: MODEL='project/models.py:nothing'"
    )
    assert _error(capsys, "plan", "project/models.py:broken", "--input", "1x1x28x28") == (
        "calling project/models.py:broken failed: RuntimeError: no weights here"
    )
    assert _error(capsys, "plan", "project/models.py") == (
        "project/models.py is a Python file: name the model in it, project/models.py:NAME (a model, or a callable that "
        "returns one). Received: MODEL='project/models.py'"
    )
    assert sys.path == path


def test_a_file_that_raises_on_import_is_named_with_the_exception(capsys: Any, files: Path) -> None:
    path = list(sys.path)
    (files / "broken.py").write_text("raise RuntimeError('no GPU here')\n", encoding="utf-8")
    assert (
        _error(capsys, "plan", "project/broken.py:make")
        == "importing 'project/broken.py' failed: RuntimeError: no GPU here"
    )
    (files / "lonely.py").write_text("import not_beside_lonely\n", encoding="utf-8")
    assert _error(capsys, "plan", "project/lonely.py:make") == (
        "importing 'project/lonely.py' failed: ModuleNotFoundError: No module named 'not_beside_lonely'"
    )
    source = "def make(:\n"
    (files / "bad.py").write_text(source, encoding="utf-8")
    with pytest.raises(SyntaxError) as syntax:
        compile(source, str(files / "bad.py"), "exec")
    assert (
        _error(capsys, "plan", "project/bad.py:make")
        == f"importing 'project/bad.py' failed: SyntaxError: {syntax.value}"
    )
    # nothing is left behind: neither the folder on sys.path nor a half-run module
    assert sys.path == path
    assert [name for name in ("broken", "lonely", "bad") if name in sys.modules] == []


def test_a_model_that_is_none_of_the_forms(capsys: Any) -> None:
    assert _error(capsys, "plan", "not a model") == (
        "MODEL must be a spec file, zoo:NAME, PATH.py:NAME or module.path:NAME. Received: MODEL='not a model'"
    )


# --------------------------------------------------------------------------- #
# --macs: the count column's heading
# --------------------------------------------------------------------------- #


def test_every_mac_convention_has_a_heading() -> None:
    assert tuple(_COUNT_HEADINGS) == _MAC_CONVENTIONS
    assert tuple(m.value for m in convcalc.MacConvention) == tuple(_COUNT_HEADINGS)


@pytest.mark.parametrize(
    ("macs", "heading", "conv", "pool"),
    [
        ("macs", "  MACs", "72,000", "     0"),
        ("macs+bias", "MACs+bias", "   74,880", "        0"),
        ("flops", "  FLOPs", "144,000", "      0"),
        ("torchinfo", "Mult-adds", "   74,880", "        0"),
        ("fvcore", "fvcore's count", "        72,000", "             0"),
        ("ptflops", "ptflops' count", "        74,880", "         5,760"),
    ],
)
def test_the_table_heads_the_count_column_by_its_convention(
    capsys: Any, macs: str, heading: str, conv: str, pool: str
) -> None:
    out = _ok(capsys, "plan", str(SPECS / "seed003_cnn.toml"), "--macs", macs)
    # the column is as wide as its heading or its widest count, and both rules as wide as the table
    rule = "-" * (60 + len(heading))
    assert out.splitlines()[:5] == [
        f"Layer  Kind       Output shape    Params  {heading}  RF size/jump/pad",
        rule,
        f"conv1  Conv2d     [1, 5, 24, 24]     130  {conv}  5/1/0",
        f"pool   MaxPool2d  [1, 5, 12, 12]       0  {pool}  6/2/0",
        rule,
    ]


def test_zero_counts_under_a_long_heading(capsys: Any, tmp_path: Path) -> None:
    spec = tmp_path / "pool.toml"
    spec.write_text('input = [1, 1, 8, 8]\n[[layers]]\ntype = "MaxPool2d"\nargs = [2]\n', encoding="utf-8")
    assert _ok(capsys, "plan", str(spec)) == _lines(
        "Layer  Kind       Output shape  Params  MACs  RF size/jump/pad",
        "--------------------------------------------------------------",
        "0      MaxPool2d  [1, 1, 4, 4]       0     0  2/2/0",
        "--------------------------------------------------------------",
        "Input: [1, 1, 8, 8]  Output: [1, 1, 4, 4]",
        "Params: 0 (trainable 0, non-trainable 0); buffers: 0",
        "MACs: conv + linear multiply-accumulates, bias excluded, per sample: 0",
    )
    assert _ok(capsys, "plan", str(spec), "--macs", "flops") == _lines(
        "Layer  Kind       Output shape  Params  FLOPs  RF size/jump/pad",
        "---------------------------------------------------------------",
        "0      MaxPool2d  [1, 1, 4, 4]       0      0  2/2/0",
        "---------------------------------------------------------------",
        "Input: [1, 1, 8, 8]  Output: [1, 1, 4, 4]",
        "Params: 0 (trainable 0, non-trainable 0); buffers: 0",
        "FLOPs: 2 x conv + linear multiply-accumulates, bias excluded, per sample: 0",
    )
    assert _ok(capsys, "plan", str(spec), "--macs", "fvcore") == _lines(
        "Layer  Kind       Output shape  Params  fvcore's count  RF size/jump/pad",
        "------------------------------------------------------------------------",
        "0      MaxPool2d  [1, 1, 4, 4]       0               0  2/2/0",
        "------------------------------------------------------------------------",
        "Input: [1, 1, 8, 8]  Output: [1, 1, 4, 4]",
        "Params: 0 (trainable 0, non-trainable 0); buffers: 0",
        "fvcore's count: conv + linear MACs, 2 per BatchNorm element, 1 per adaptive-pool input, per sample: 0",
    )


def test_a_symbolic_table_keeps_its_columns(capsys: Any) -> None:
    # the counts are wider than the heading: the column keeps its width, the heading is right-aligned in it
    assert _ok(capsys, "plan", str(SPECS / "seed003_cnn.toml"), "--input", "1x1xHxH", "--macs", "flops") == _lines(
        "Layer  Kind       Output shape                                        Params           FLOPs  RF size/jump/pad",
        "-" * 110,
        "conv1  Conv2d     [1, 5, H - 4, H - 4]                                   130  250*(H - 4)**2  5/1/0",
        "pool   MaxPool2d  [1, 5, floor((H - 6)/2) + 1, floor((H - 6)/2) + 1]       0               0  6/2/0",
        "-" * 110,
        "Input: [1, 1, H, H]  Output: [1, 5, floor((H - 6)/2) + 1, floor((H - 6)/2) + 1]",
        "Params: 130 (trainable 130, non-trainable 0); buffers: 0",
        "FLOPs: 2 x conv + linear multiply-accumulates, bias excluded, per sample: 250*(H - 4)**2",
        "Constraints:",
        "  conv1 (axis 0): H - 5 >= 0 (kernel 5 fits the padded input)",
        "  conv1 (axis 1): H - 5 >= 0 (kernel 5 fits the padded input)",
        "  pool (axis 0): floor((H - 6)/2) + 1 >= 1 (window 2 fits the padded input)",
        "  pool (axis 1): floor((H - 6)/2) + 1 >= 1 (window 2 fits the padded input)",
    )


def test_markdown_and_latex_head_the_column_by_its_convention(capsys: Any) -> None:
    spec = str(SPECS / "seed003_cnn.toml")
    assert _ok(capsys, "plan", spec, "--macs", "fvcore", "--format", "md") == _lines(
        "| Layer | Kind | Output shape | Params | fvcore's count |",
        "|---|---|---|--:|--:|",
        "| `conv1` | Conv2d | [1, 5, 24, 24] | 130 | 72,000 |",
        "| `pool` | MaxPool2d | [1, 5, 12, 12] | 0 | 0 |",
        "| **Total** | | [1, 5, 12, 12] | **130** | **72,000** |",
        "",
        "fvcore's count: conv + linear MACs, 2 per BatchNorm element, 1 per adaptive-pool input, per sample.",
    )
    assert _ok(capsys, "plan", spec, "--macs", "torchinfo", "--format", "latex") == _lines(
        r"\begin{tabular}{llrrr}",
        r"\hline",
        r"Layer & Kind & Output shape & Params & Mult-adds \\",
        r"\hline",
        r"conv1 & Conv2d & [1, 5, 24, 24] & 130 & 74,880 \\",
        r"pool & MaxPool2d & [1, 5, 12, 12] & 0 & 0 \\",
        r"\hline",
        r"Total & & [1, 5, 12, 12] & 130 & 74,880 \\",
        r"\hline",
        r"\end{tabular}",
    )
    assert (
        _ok(capsys, "plan", spec, "--format", "md").splitlines()[0] == "| Layer | Kind | Output shape | Params | MACs |"
    )
    assert _ok(capsys, "plan", spec, "--format", "latex").splitlines()[2] == (
        r"Layer & Kind & Output shape & Params & MACs \\"
    )


def test_machine_readable_keys_stay_macs(capsys: Any) -> None:
    spec = str(SPECS / "seed003_cnn.toml")
    for macs in _MAC_CONVENTIONS:
        assert _ok(capsys, "plan", spec, "--macs", macs, "--format", "csv").splitlines()[0] == (
            "name,kind,input_shape,output_shape,params,trainable,non_trainable,buffers,macs,activations,"
            "activation_bytes,receptive_field"
        )
    data = json.loads(_ok(capsys, "plan", spec, "--macs", "flops", "--format", "json"))
    assert (data["macs"], data["mac_convention"], [row["macs"] for row in data["rows"]]) == (
        144000,
        "flops",
        [144000, 0],
    )


@pytest.mark.parametrize("style", ["torchinfo", "keras"])
def test_layouts_without_a_count_column_are_as_the_library_renders_them(capsys: Any, style: str) -> None:
    spec = str(SPECS / "seed003_cnn.toml")
    from convcalc.specfile import load_spec

    model, shape = load_spec(spec)
    expected = convcalc.plan(model, shape, macs="flops").summary(style=style)
    assert _ok(capsys, "plan", spec, "--macs", "flops", "--style", style) == expected + "\n"


# --------------------------------------------------------------------------- #
# An error's fix in the command's own options
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            "size 227 -k 11 -s 4 -p same",
            "padding='same' is not supported for strided convolutions in torch (stride=4). Use an explicit padding "
            "such as -p 5, or --convention keras for TensorFlow's 'same'. Received: size=227, kernel_size=11, "
            "stride=4, padding='same', dilation=1",
        ),
        (
            "size 32x32 -k 3x3 -s 2x1 --same",
            "padding='same' is not supported for strided convolutions in torch (stride=2 on axis 0). Use an explicit "
            "padding such as -p 1, or --convention keras for TensorFlow's 'same'. Received: size=(32, 32), "
            "kernel_size=(3, 3), stride=(2, 1), padding='same', dilation=1",
        ),
        (
            "size 28 -k 3 -p causal",
            "padding='causal' exists only for 1-D Keras convolutions (--convention keras). Received: size=28, "
            "kernel_size=3, stride=1, padding='causal', dilation=1",
        ),
        (
            "size 28 -k 3 -p 1 --convention keras",
            "Keras convolutions take -p valid or same, not a number; explicit padding is a ZeroPadding layer (or use "
            "--convention torch). Received: size=28, kernel_size=3, stride=1, padding=1, dilation=1",
        ),
        (
            "size 64 -k 6 -s 4 --strict",
            "(W - F + 2P) / S = (64 - 6 + 2*0) / 4 = 58/4 is not an integer: the stride does not divide evenly, and a "
            "floor would drop 2 row/column of the input. Input sizes that fit: 62 or 66; -p 1 or 3 fits. Received: "
            "size=64, kernel_size=6, stride=4, padding=0, dilation=1",
        ),
        (
            "pool 5 -k 2 --ceil --convention keras",
            "Keras pooling has no ceil_mode; use -p same. Received: size=5, kernel_size=2, stride=None, padding=0, "
            "dilation=1, ceil_mode=True",
        ),
        (
            "pool 5 -k 2 -p 1 --convention keras",
            "Keras pooling takes -p valid or same, not a number. Received: size=5, kernel_size=2, stride=None, "
            "padding=1, dilation=1, ceil_mode=False",
        ),
        # what repeats the command's own values describes them, and stays as the Received part words it; a limit
        # to keep is written with the option
        (
            "size 4 -k 5",
            "kernel_size=5 is larger than the padded input 4 + 2*0 = 4. An input of at least 5 fits, or -p >= 1. "
            "Received: size=4, kernel_size=5, stride=1, padding=0, dilation=1",
        ),
        (
            "pool 8x8 -k 3 -p 1x2",
            "padding=2 is more than half of kernel_size=3 on axis 1: torch allows -p <= 1. Received: size=(8, 8), "
            "kernel_size=3, stride=None, padding=(1, 2), dilation=1, ceil_mode=False",
        ),
        # a whole tensor's shape, as a model takes it, given where the sizes a window slides over are asked for
        (
            "size 1x3x32x32 -k 3",
            "size takes the sizes the window slides over (one to three axes, such as 32x32), not a whole tensor's "
            "shape; for an input of 1x3x32x32 (batch, channels, then the sizes) give 32x32. Received: size=1x3x32x32",
        ),
        (
            "pool 2x3x8x16x16 -k 2",
            "pool takes the sizes the window slides over (one to three axes, such as 32x32), not a whole tensor's "
            "shape; for an input of 2x3x8x16x16 (batch, channels, then the sizes) give 8x16x16. Received: "
            "size=2x3x8x16x16",
        ),
        (
            "tconv 4 -k 3 -s 2 --output-padding 2",
            "output_padding=2 must be smaller than either stride=2 or dilation=1: use --output-padding <= 1. Received: "
            "size=4, kernel_size=3, stride=2, padding=0, output_padding=2, dilation=1",
        ),
    ],
)
def test_a_fix_is_written_with_the_commands_options(capsys: Any, argv: str, message: str) -> None:
    assert _error(capsys, *argv.split()) == message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            "pool 55 -k 3 -s 2 --same",
            "torch pooling takes a numeric padding, not 'same'. Use -p 1 for the output size that 'same' gives "
            "(ceil(W/S) = 28), or --convention keras for TensorFlow's 'same'. Received: size=55, kernel_size=3, "
            "stride=2, padding='same', dilation=1, ceil_mode=False",
        ),
        (
            "pool 55 -k 3 -s 2 -p same",
            "torch pooling takes a numeric padding, not 'same'. Use -p 1 for the output size that 'same' gives "
            "(ceil(W/S) = 28), or --convention keras for TensorFlow's 'same'. Received: size=55, kernel_size=3, "
            "stride=2, padding='same', dilation=1, ceil_mode=False",
        ),
        (
            "pool 5 -k 2 --same",
            "torch pooling takes a numeric padding, not 'same'. Use -p 1 for the output size that 'same' gives "
            "(ceil(W/S) = 3), or --convention keras for TensorFlow's 'same'. Received: size=5, kernel_size=2, "
            "stride=None, padding='same', dilation=1, ceil_mode=False",
        ),
        (
            "pool 55x40 -k 3 -s 2x1 --same",
            "torch pooling takes a numeric padding, not 'same'. Use -p 1 for the output size that 'same' gives "
            "(ceil(W/S) = 28x40), or --convention keras for TensorFlow's 'same'. Received: size=(55, 40), "
            "kernel_size=3, stride=(2, 1), padding='same', dilation=1, ceil_mode=False",
        ),
        (
            # one padding per axis: 9 -> 3 with a 3-window at stride 3 (no padding), 9 -> 2 with a 5-window (1)
            "pool 9x9 -k 3x5 --same",
            "torch pooling takes a numeric padding, not 'same'. Use -p 0x1 for the output size that 'same' gives "
            "(ceil(W/S) = 3x2), or --convention keras for TensorFlow's 'same'. Received: size=(9, 9), "
            "kernel_size=(3, 5), stride=None, padding='same', dilation=1, ceil_mode=False",
        ),
        (
            # no symmetric padding gives 40 with a kernel of 2 at stride 1
            "pool 55x40 -k 3x2 -s 2x1 --same",
            "torch pooling takes a numeric padding, not 'same'. Use --convention keras for TensorFlow's 'same'. "
            "Received: size=(55, 40), kernel_size=(3, 2), stride=(2, 1), padding='same', dilation=1, ceil_mode=False",
        ),
        (
            # a symbol: no one padding for every H
            "pool H -k 2 --same",
            "torch pooling takes a numeric padding, not 'same'. Use --convention keras for TensorFlow's 'same'. "
            "Received: size=H, kernel_size=2, stride=None, padding='same', dilation=1, ceil_mode=False",
        ),
    ],
)
def test_torch_pooling_same_gives_the_padding_or_keras(capsys: Any, argv: str, message: str) -> None:
    assert _error(capsys, *argv.split()) == message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # Keras pooling has no dilation and no ceil_mode: the padding alone
        (
            "pool 28 -k 2 --same -d 2",
            "torch pooling takes a numeric padding, not 'same'. Use -p 1 for the output size that 'same' gives "
            "(ceil(W/S) = 14). Received: size=28, kernel_size=2, stride=None, padding='same', dilation=2, "
            "ceil_mode=False",
        ),
        (
            "pool 5 -k 2 --same --ceil",
            "torch pooling takes a numeric padding, not 'same'. Use -p 0 for the output size that 'same' gives "
            "(ceil(W/S) = 3). Received: size=5, kernel_size=2, stride=None, padding='same', dilation=1, "
            "ceil_mode=True",
        ),
        (
            "pool 28 -k 2 --valid",
            "torch pooling takes a numeric padding, not 'valid'. Use -p 0: 'valid' is no padding. Received: size=28, "
            "kernel_size=2, stride=None, padding='valid', dilation=1, ceil_mode=False",
        ),
        # neither (a window of 4 at stride 3 takes 7 to 2 with padding 0 or 1, not 3): the library's words alone
        (
            "pool 7 -k 2 -s 3 -d 3 --same",
            "torch pooling takes a numeric padding, not 'same'. Received: size=7, kernel_size=2, stride=3, "
            "padding='same', dilation=3, ceil_mode=False",
        ),
        (
            "pool 28 -k 2 -p causal",
            "torch pooling takes a numeric padding, not 'causal'. Received: size=28, kernel_size=2, stride=None, "
            "padding='causal', dilation=1, ceil_mode=False",
        ),
        # a value the library refuses next, once the padding is a number: no fix that would meet that refusal
        (
            "pool 28 -k 0 --same",
            "torch pooling takes a numeric padding, not 'same'. Received: size=28, kernel_size=0, stride=None, "
            "padding='same', dilation=1, ceil_mode=False",
        ),
        (
            "pool 0 -k 2 --same",
            "torch pooling takes a numeric padding, not 'same'. Received: size=0, kernel_size=2, stride=None, "
            "padding='same', dilation=1, ceil_mode=False",
        ),
    ],
)
def test_torch_pooling_named_padding_without_keras(capsys: Any, argv: str, message: str) -> None:
    assert _error(capsys, *argv.split()) == message


def test_the_padding_given_for_same_gives_what_same_gives(capsys: Any) -> None:
    """Over a grid of sizes, kernels, strides and dilations: -p P, where suggested, gives ceil(W/S), the size
    Keras's 'same' gives; where it is not, no padding from 0 to kernel // 2 does."""
    suggested = re.compile(r"Use -p (\d+) for the output size that 'same' gives \(ceil\(W/S\) = (\d+)\)")
    for size in (1, 2, 5, 7, 28, 55):
        for kernel in (1, 2, 3, 4, 5):
            for stride in (1, 2, 3):
                for dilation in (1, 2):
                    argv = ["pool", str(size), "-k", str(kernel), "-s", str(stride), "-d", str(dilation)]
                    found = suggested.search(_error(capsys, *argv, "--same"))
                    want = math.ceil(size / stride)
                    sizes = []
                    for p in range(kernel // 2 + 1):
                        code, out, _ = _main(capsys, *argv, "-p", str(p))
                        sizes.append(int(out) if code == 0 else None)
                    if found is None:
                        assert want not in sizes, argv
                    else:
                        p = int(found[1])
                        assert (int(found[2]), sizes[p], sizes.index(want)) == (want, want, p), argv


def test_the_spelling_table_and_what_it_leaves() -> None:
    assert set(_CLI_SPELLING) == {"size", "pool", "tconv", "figure conv", "params conv", "params tconv"}
    message = "Use padding=(1, 2) or stride=2, or convention='keras'. Received: size=9, stride=2, padding='same'"
    assert _cli_spelling(message, "size") == (
        "Use -p 1x2 or stride=2, or --convention keras. Received: size=9, stride=2, padding='same'"
    )
    # figure conv takes no --convention; params names kernel_size -k and groups -g
    assert _cli_spelling(message, "figure conv") == (
        "Use -p 1x2 or stride=2, or convention='keras'. Received: size=9, stride=2, padding='same'"
    )
    assert _cli_spelling("use kernel_size=3 and groups=2.", "params conv") == "use -k 3 and -g 2."
    assert _cli_spelling("use output_padding=1.", "tconv") == "use --output-padding 1."
    assert _cli_spelling("use output_padding=1.", "size") == "use output_padding=1."
    # commands whose arguments are a model's own: the library's words
    for command in ("plan", "solve", "verify", "figure plan", "params linear", "exercise", ""):
        assert _cli_spelling(message, command) == message


def test_a_spec_files_errors_keep_the_spec_files_words(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # plan's arguments are the spec file's own keys, so its fixes stay in their spelling
    monkeypatch.chdir(ROOT)
    assert _error(capsys, "plan", "tests/specs/broken/same_with_stride.toml") == (
        "tests/specs/broken/same_with_stride.toml: layers[1].kwargs.padding: Conv2d: padding='same' is not supported "
        "for strided convolutions in torch (stride=2): use padding=(1, 1) or stride 1. Received: in_channels=1, "
        "out_channels=8, kernel_size=3, stride=2, padding='same', dilation=1, groups=1, bias=True, "
        "padding_mode='zeros'"
    )


# --------------------------------------------------------------------------- #
# docs/cli.md: every quoted message is what the tool prints
# --------------------------------------------------------------------------- #

CLI_PAGE = ROOT / "docs" / "cli.md"


def _quoted_runs() -> list[tuple[str, str]]:
    """Each ``$ convcalc ...`` line of the page's ``text`` blocks, with the lines that follow it."""
    runs = []
    for block in re.findall(r"^```text\n(.*?)^```", CLI_PAGE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            runs.append((command, output))
    return runs


def test_the_page_quotes_the_messages_it_shows() -> None:
    commands = [command for command, _ in _quoted_runs()]
    assert commands == [
        "convcalc size 4 -k 5",
        "convcalc size 28 -k 3 --input 1x3x28x28",
        "convcalc size 227 -k 11 -s 4 -p same",
        "convcalc pool 55 -k 3 -s 2 --same",
    ]


@pytest.mark.parametrize(("command", "output"), _quoted_runs(), ids=[c for c, _ in _quoted_runs()])
def test_a_quoted_run_prints_what_the_page_says(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, command: str, output: str
) -> None:
    monkeypatch.chdir(ROOT)
    _, out, err = _main(capsys, *shlex.split(command)[1:])
    assert out + err == output


def test_input_refused_by_size_says_so(capsys: Any) -> None:
    assert _main(capsys, "size", "28", "-k", "3", "--input", "1x3x28x28") == (
        2,
        "",
        "convcalc: error: size: --input does not apply here: size takes the input size as its first argument: "
        "convcalc size 224 -k 3 (see convcalc --help)\n",
    )
