"""The command line's options, run in-process: each common option works or is refused with a reason,
non-numbers and huge numbers, worked steps in Korean, and marking an answer against a sheet's header."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import convcalc
from convcalc.cli import _MAC_CONVENTIONS, COMMON_OPTIONS, main
from convcalc.specfile import load_spec

SPECS = Path(__file__).parent / "specs"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def any_digits() -> Iterator[None]:
    """Let this test write and read ints of thousands of digits (Python refuses more than 4300 by default)."""
    saved = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(saved)


# --------------------------------------------------------------------------- #
# Every command x every common option: taken, or refused with a reason
# --------------------------------------------------------------------------- #

#: A run of each command (and sub-command) that succeeds without the option under test.
COMMANDS: dict[str, list[str]] = {
    "size": ["size", "28", "-k", "3"],
    "pool": ["pool", "28", "-k", "2"],
    "tconv": ["tconv", "4", "-k", "3"],
    "params conv": ["params", "conv", "3", "4", "-k", "5"],
    "params tconv": ["params", "tconv", "3", "4", "-k", "5"],
    "params linear": ["params", "linear", "400", "512"],
    "params bn": ["params", "bn", "64"],
    "plan": ["plan", "zoo:lenet5"],
    "solve": ["solve", str(SPECS / "unet_tiny.toml"), "--input", "1x1xHxH"],
    "verify": ["verify", "zoo:lenet5", "--device", "cpu"],
    "exercise": ["exercise", "--count", "1"],
    "exercise check": ["exercise", "check", "--index", "1", "5"],
    "figure conv": ["figure", "conv", "5", "-k", "3"],
    "figure plan": ["figure", "plan", "zoo:lenet5"],
}

#: The options each command takes; every other common option must be refused with a reason.
TAKES: dict[str, set[str]] = {
    "size": {"--steps", "--strict", "--lang", "--convention", "--same", "--valid"},
    "pool": {"--steps", "--strict", "--lang", "--convention", "--same", "--valid"},
    "tconv": {"--steps", "--lang", "--convention", "--same", "--valid"},
    "params conv": {"--steps", "--lang", "--convention"},
    "params tconv": {"--steps", "--lang", "--convention"},
    "params linear": {"--steps", "--lang", "--convention"},
    "params bn": {"--steps", "--lang", "--convention"},
    "plan": {"--strict", "--convention", "--format", "--input", "--macs"},
    "solve": {"--strict", "--convention", "--input"},
    "verify": {"--input"},
    "exercise": {"--lang", "--format"},
    "exercise check": {"--lang"},
    "figure conv": set(),
    "figure plan": {"--strict", "--convention", "--input"},
}

VALUES = {"--lang": "ko", "--convention": "torch", "--format": "md", "--input": "1x1x32x32", "--macs": "flops"}
INPUTS = {"solve": "1x1xHxH"}

CELLS = [(command, option) for command in COMMANDS for option in COMMON_OPTIONS]


def test_the_table_covers_every_command_and_option() -> None:
    from convcalc.cli import _COMMANDS

    leaves = set()
    for name, *_ in _COMMANDS:
        leaves |= {c for c in COMMANDS if c.split()[0] == name}
    assert {name for name, *_ in _COMMANDS} == {c.split()[0] for c in leaves}
    assert set(TAKES) == set(COMMANDS)
    assert set(VALUES) == {o for o, (takes_value, _) in COMMON_OPTIONS.items() if takes_value}


@pytest.mark.parametrize(("command", "option"), CELLS, ids=[f"{c} {o}" for c, o in CELLS])
def test_each_common_option_is_taken_or_refused_with_a_reason(command: str, option: str) -> None:
    argv = [*COMMANDS[command], option]
    if COMMON_OPTIONS[option][0]:
        argv.append(INPUTS.get(command, VALUES[option]) if option == "--input" else VALUES[option])
    status, _, err = cli(*argv)
    assert "internal error" not in err
    if option in TAKES[command]:
        # taken: it runs (a rule of the library may still refuse the combination, with its own message)
        assert "does not apply here" not in err, err
        assert "unrecognized arguments" not in err, err
        assert status in (0, 1) or err.startswith("convcalc: error: "), err
    else:
        assert status == 2
        head, _, reason = err.partition(f"{option} does not apply here: ")
        assert head.startswith("convcalc: error: "), err
        assert len(reason.split()) >= 4, err


def test_mac_conventions_are_the_libraries() -> None:
    assert tuple(m.value for m in convcalc.MacConvention) == _MAC_CONVENTIONS


@pytest.mark.parametrize("macs", ["torchinfo", "fvcore", "ptflops"])
def test_plan_takes_the_peer_mac_conventions(macs: str) -> None:
    status, out, _ = cli("plan", str(SPECS / "mnist.toml"), "--input", "1x1x28x28", "--macs", macs, "--format", "json")
    assert status == 0
    model, _ = load_spec(SPECS / "mnist.toml")
    assert json.loads(out)["macs"] == convcalc.plan(model, (1, 1, 28, 28), macs=macs).macs


def test_plan_takes_the_convention() -> None:
    """The model's own convention plans (in any case, as the other words of the CLI); the other one is refused,
    not a label on torch's counts (a torch BatchNorm keeps torch's rules)."""
    model, _ = load_spec(SPECS / "mnist.toml")
    for given in ("torch", "Torch"):
        status, out, err = cli(
            "plan", str(SPECS / "mnist.toml"), "--input", "1x1x28x28", "--convention", given, "--format", "json"
        )
        assert status == 0, err
        assert json.loads(out) == json.loads(convcalc.plan(model, (1, 1, 28, 28), convention="torch").to_json())
    status, out, err = cli("plan", str(SPECS / "mnist.toml"), "--input", "1x1x28x28", "--convention", "keras")
    said = "convention='keras' does not apply to this model: its layers follow torch's rules"
    assert (status, out) == (2, "")
    assert said in err
    with pytest.raises(convcalc.SpecError, match=said):
        convcalc.plan(model, (1, 1, 28, 28), convention="keras")


# --------------------------------------------------------------------------- #
# Options that used to be ignored or missing
# --------------------------------------------------------------------------- #


def test_padding_given_twice_is_refused() -> None:
    for mode in ("--same", "--valid"):
        status, out, err = cli("size", "5", "-k", "3", mode, "-p", "1")
        assert (status, out) == (2, "")
        assert f"{mode} sets the padding, and so does --padding" in err


def test_pool_strict_is_the_textbook_check() -> None:
    """`pool --strict` is pool_output_size(strict=True): (W - F + 2P) must divide by the stride."""
    assert cli("pool", "28", "-k", "2", "--strict") == (0, "14\n", "")  # (28 - 2) / 2 = 13, + 1
    status, out, err = cli("pool", "29", "-k", "2", "--strict")  # (29 - 2) / 2 = 13.5
    assert (status, out) == (2, "")
    assert "29" in err
    assert "28 or 30" in err  # the sizes around 29 that divide
    assert cli("pool", "29", "-k", "2") == (0, "14\n", "")  # without --strict torch floors


def test_symbolic_size_under_strict_prints_the_condition() -> None:
    # (H - 3 + 2*0) must divide by 2: H odd
    status, out, _ = cli("size", "H", "-k", "3", "-s", "2", "--strict")
    assert status == 0
    assert out.splitlines()[1] == "strict: H ≡ 1 (mod 2), so that (W - F + 2P) divides by the stride"
    # (W - 5 + 2*1) divisible by 4: W ≡ 3 (mod 4)
    lines = cli("size", "HxW", "-k", "5", "-s", "2x4", "-p", "1", "--strict")[1].splitlines()
    assert lines[1:] == [
        "strict: H ≡ 1 (mod 2), so that (W - F + 2P) divides by the stride",
        "strict: W ≡ 3 (mod 4), so that (W - F + 2P) divides by the stride",
    ]
    # one symbol on two axes that need H odd (kernel 3) and H even (kernel 4)
    status, out, err = cli("size", "HxH", "-k", "3x4", "-s", "2", "--strict")
    assert (status, out) == (2, "")
    assert "no size H divides evenly on every axis" in err


def test_steps_in_korean() -> None:
    dilated = cli("size", "28", "-k", "3", "-d", "2", "--steps", "--lang", "ko")[1]
    assert dilated.splitlines()[0] == "F' = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5 (dilation을 적용한 필터 크기)"
    assert dilated.splitlines()[-1] == "(28 - 5 + 2*0)/1 + 1 = 24"
    pooled = cli("pool", "5", "-k", "2", "-p", "1", "--ceil", "--steps", "--lang", "ko")[1].splitlines()
    assert pooled[0] == "stride = kernel_size = 2 (기본값)"
    assert pooled[-1] == "마지막 window가 오른쪽 padding에서 시작하므로 torch는 그 window를 버립니다: out = 3"
    assert cli("size", "28", "-k", "3", "--steps", "--lang", "ko")[1] == cli("size", "28", "-k", "3", "--steps")[1]


def test_batchnorm_steps() -> None:
    # torch: weight and bias, 2 * 64 = 128; running mean and variance and the step counter, 2 * 64 + 1 = 129
    assert cli("params", "bn", "64", "--steps")[1].splitlines() == [
        "trainable = 2 * C = 2 * 64 = 128 (weight, bias)",
        "non-trainable = 0",
        "buffers = 2 * C + 1 = 2 * 64 + 1 = 129 (running_mean, running_var, num_batches_tracked; "
        "not counted in the total)",
        "total = 128",
    ]
    # Keras: gamma and beta trainable, the moving mean and variance not: 150 + 150 = 300
    assert cli("params", "bn", "75", "--convention", "keras", "--steps", "--lang", "ko")[1].splitlines() == [
        "학습 파라미터 = 2 * C = 2 * 75 = 150 (gamma, beta)",
        "학습되지 않는 파라미터 = 2 * C = 2 * 75 = 150 (moving_mean, moving_variance)",
        "버퍼 = 0",
        "합계 = 150 + 150 = 300",
    ]


def test_symbolic_steps_of_pool_and_tconv() -> None:
    assert cli("pool", "H", "-k", "2", "--steps")[1].splitlines() == [
        "out = floor((W - D*(F - 1) - 1 + 2P)/S) + 1",
        "out = floor((H - 2)/2) + 1",
    ]
    assert cli("tconv", "H", "-k", "3", "--steps")[1].splitlines()[-1] == "out = H + 2"  # (H - 1) + 2 + 1
    status, _, err = cli("tconv", "4", "-k", "3", "--steps", "--convention", "keras")
    assert status == 2
    assert "drop --steps or --convention keras" in err


# --------------------------------------------------------------------------- #
# Not numbers, and huge numbers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "oo", "6.5", "-1e400"])
def test_sizes_that_are_not_whole_numbers_are_refused(value: str) -> None:
    status, out, err = cli("size", value, "-k", "3")
    assert (status, out) == (2, "")
    assert err.startswith(f"convcalc: error: size: '{value}' is ")
    status, out, err = cli("plan", "zoo:lenet5", "--input", f"1x1x{value}x32")
    assert (status, out) == (2, "")
    assert err.startswith(f"convcalc: error: --input: '{value}' is ")


def test_huge_values_print_exactly() -> None:
    with any_digits():
        big = 10**5000
        assert cli("size", str(big), "-k", "3") == (0, f"{big - 2}\n", "")  # W - F + 1
        assert cli("params", "linear", str(big), "2") == (0, f"{2 * big + 2}\n", "")  # in * out + out
        assert cli("params", "conv", "1", "1", "-k", "5", "--ndim", "16", "--no-bias")[1] == f"{5**16}\n"
    with pytest.raises(ValueError, match="Exceeds the limit"):
        str(big)  # the command put Python's limit back


def test_an_absurd_ndim_is_refused_with_the_reason() -> None:
    status, out, err = cli("params", "conv", "3", "4", "-k", "5", "--ndim", "100000")
    assert (status, out) == (2, "")
    assert "--ndim: must be at most 16" in err
    assert "spatial axes" in err


# --------------------------------------------------------------------------- #
# exercise check reads the sheet's header
# --------------------------------------------------------------------------- #


def _torch_pool_answer(question: str) -> str:
    """The output size of the pooling layer a question names, from torch itself."""
    import re

    import torch

    size = int(re.search(r"(\d+) x \1", question).group(1))  # type: ignore[union-attr]
    layer = eval("torch." + re.search(r"nn\.\w+Pool2d\([^)]*\)", question).group(0))  # type: ignore[union-attr]
    return str(layer(torch.zeros(1, 1, size, size)).shape[-1])


def test_check_reads_kind_seed_and_language_from_the_sheet(tmp_path: Path) -> None:
    status, sheet, _ = cli("exercise", "--kind", "pool", "--seed", "5", "--count", "3", "--lang", "en", "--no-answers")
    assert status == 0
    path = tmp_path / "sheet.md"
    path.write_text(sheet, encoding="utf-8")
    questions = [line.partition(". ")[2] for line in sheet.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(questions) == 3
    for index, question in enumerate(questions, start=1):
        answer = _torch_pool_answer(question)
        status, out, _ = cli("exercise", "check", "--sheet", str(path), "--index", str(index), answer)
        assert (status, out.split()[0]) == (0, "Correct:"), (question, out)
        # without the sheet, the default kind (mixed) draws other exercises
        assert cli("exercise", "check", "--seed", "5", "--index", str(index), answer)[0] == 1
    status, _, err = cli("exercise", "check", "--sheet", str(path), "--kind", "size", "--index", "1", "7")
    assert status == 2
    assert "--kind size differs from the sheet, which was drawn with kind pool" in err
    status, _, err = cli("exercise", "check", "--sheet", str(path), "--index", "4", "7")
    assert status == 2
    assert "the sheet has 3 exercises" in err
    status, _, err = cli("exercise", "check", "--sheet", str(tmp_path / "none.md"), "--index", "1", "7")
    assert status == 2
    assert "cannot read the sheet" in err


def test_check_takes_the_sheets_count_before_or_after_check() -> None:
    """docs/cli.md: the sheet's options may come before or after ``check``; ``--count`` too (it was refused after
    ``check``), and an index past the count given is refused rather than marked against an exercise not on it."""
    first = cli("exercise", "--kind", "size", "--seed", "7", "--count", "3", "check", "--index", "2", "1")
    after = cli("exercise", "check", "--kind", "size", "--seed", "7", "--count", "3", "--index", "2", "1")
    assert first == after
    assert first[0] in (0, 1)
    for argv in (("--count", "3", "check"), ("check", "--count", "3")):
        status, _, err = cli("exercise", "--seed", "7", *argv, "--index", "4", "1")
        assert status == 2
        assert "--index 4 is not on a sheet of 3 exercises: give an index from 1 to 3" in err
    assert cli("exercise", "--seed", "7", "check", "--index", "4", "1")[0] in (0, 1)  # no count given: any index
