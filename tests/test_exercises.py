"""Exercises: every answer re-derived independently with convcalc, determinism, wording, marking."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import ShapeError, SpecError, nn
from convcalc.exercises import (
    MISTAKES,
    Exercise,
    _build,
    check_answer,
    conv_steps,
    conv_transpose_steps,
    generate,
    pool_steps,
    render_sheet,
    sheet_settings,
)

KINDS = ["size", "padding", "params", "pool", "network", "receptive-field", "im2col"]
SEEDS = range(300)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


# --------------------------------------------------------------------------- #
# Independent re-derivation of every answer
# --------------------------------------------------------------------------- #


def rederive(ex: Exercise) -> tuple[int, ...]:
    """The answer from the exercise's numbers, through convcalc's public API only."""
    d = ex.data
    if ex.kind == "size":
        out = convcalc.conv_output_size(tuple(d["size"]), tuple(d["kernel"]), d["stride"], d["padding"], d["dilation"])
        if d["floor"]:
            with pytest.raises(ShapeError):
                convcalc.conv_output_size(
                    tuple(d["size"]), tuple(d["kernel"]), d["stride"], d["padding"], d["dilation"], strict=True
                )
        else:
            assert (
                convcalc.conv_output_size(
                    tuple(d["size"]), tuple(d["kernel"]), d["stride"], d["padding"], d["dilation"], strict=True
                )
                == out
            )
        return tuple(out)
    if ex.kind == "padding":
        w, f, s, o = d["size"], d["kernel"], d["stride"], d["output"]
        fits = [
            p
            for p in range(64)
            if (w - f + 2 * p) >= 0 and (w - f + 2 * p) % s == 0 and convcalc.conv_output_size(w, f, s, p) == o
        ]
        assert len(fits) == 1, f"padding exercise must have one answer: {fits}"
        return (fits[0],)
    if ex.kind == "pool":
        stride = d["stride"] if d["stride_given"] else None
        out = convcalc.pool_output_size(tuple(d["size"]), d["kernel"], stride, d["padding"])
        exact = all((w + 2 * d["padding"] - d["kernel"]) % d["stride"] == 0 for w in d["size"])
        assert exact != d["floor"]
        return tuple(out)
    if ex.kind == "params":
        if d["layer"] == "linear":
            layer: Any = nn.Linear(d["in"], d["out"], bias=d["bias"])
            shape: tuple[int, ...] = (1, d["in"])
        else:
            layer = nn.Conv2d(d["in"], d["out"], tuple(d["kernel"]), groups=d["groups"], bias=d["bias"])
            shape = (1, d["in"], 16, 16)
        count = convcalc.plan(layer, shape).total_params
        if d["layer"] == "conv":
            assert count == convcalc.conv_params(
                d["in"], d["out"], tuple(d["kernel"]), groups=d["groups"], bias=d["bias"]
            )
        return (count,)
    if ex.kind == "network":
        layers = [
            nn.Conv2d(*spec[1:4], stride=spec[4], padding=spec[5])
            if spec[0] == "conv"
            else nn.MaxPool2d(spec[1], spec[2])
            for spec in d["layers"]
        ]
        if d["ask"] == "features":
            layers.append(nn.Flatten())
        result = convcalc.plan(nn.Sequential(*layers), (1, *d["input"]), strict=True)  # strict: every step divides
        return tuple(result.output_shape[1:])
    if ex.kind == "receptive-field":
        layers = [nn.Conv2d(1, 1, k, stride=s) if kind == "conv" else nn.MaxPool2d(k, s) for kind, k, s in d["layers"]]
        rf = convcalc.plan(nn.Sequential(*layers), (1, 1, 2048, 2048)).receptive_field
        assert rf is not None
        return (rf[0].size,)
    if ex.kind == "im2col":
        return tuple(convcalc.im2col_shape(tuple(d["input"]), tuple(d["kernel"]), d["stride"], d["pad"]))
    raise AssertionError(ex.kind)


def _numbers(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"\d+", text)]


@pytest.mark.parametrize("kind", [*KINDS, "mixed"])
@pytest.mark.slow
def test_every_answer_rederives(kind: str) -> None:
    seen_kinds = set()
    for seed in SEEDS:
        difficulty = seed % 3 + 1
        english = generate(3, seed, kind=kind, difficulty=difficulty, lang="en")
        korean = generate(3, seed, kind=kind, difficulty=difficulty, lang="ko")
        for en, ko in zip(english, korean, strict=True):
            seen_kinds.add(en.kind)
            assert (en.kind, en.data, en.value, en.answer) == (ko.kind, ko.data, ko.value, ko.answer)
            assert rederive(en) == en.value, (seed, en)
            assert en.value
            assert all(type(v) is int and v >= 0 for v in en.value)
            assert _numbers(en.answer) == list(en.value)
            assert en.steps
            assert _numbers(en.steps[-1])[-len(en.value[-1:]) :] == list(en.value[-1:])
            assert not HANGUL.search(en.question)
            assert not HANGUL.search(" ".join(en.steps))
            assert HANGUL.search(ko.question)
            for text in (en.question, ko.question):
                assert text.strip().endswith(("?", ")", "?)")), text
    if kind == "mixed":
        assert seen_kinds == set(KINDS)


def test_floor_is_stated_in_the_question() -> None:
    for seed in SEEDS:
        for kind in ("size", "pool"):
            en, ko = (generate(1, seed, kind=kind, difficulty=2, lang=lang)[0] for lang in ("en", "ko"))
            if en.data["floor"]:
                assert "round" in en.question.lower()
                assert "소수점은 버린다" in ko.question
                assert "floor(" in en.steps[-1]
            else:
                assert "round" not in en.question.lower()
                assert "버린다" not in ko.question


# --------------------------------------------------------------------------- #
# Determinism
# --------------------------------------------------------------------------- #


def test_same_seed_same_sheet() -> None:
    assert generate(20, 11, kind="mixed", difficulty=2) == generate(20, 11, kind="mixed", difficulty=2)


def test_prefix_does_not_depend_on_count() -> None:
    long = generate(12, 5, kind="mixed", difficulty=3)
    assert generate(4, 5, kind="mixed", difficulty=3) == long[:4]
    assert [e.index for e in long] == list(range(1, 13))


def test_seeds_differ_and_sheets_have_no_repeats() -> None:
    questions = {generate(1, seed, kind="size")[0].question for seed in range(50)}
    assert len(questions) > 40
    for seed in range(30):
        sheet = generate(15, seed, kind="params", difficulty=1)
        assert len({e.question for e in sheet}) == len(sheet)


def test_known_sheet_is_stable() -> None:
    """A fixed seed pins the generator: changing the draws changes every published sheet."""
    ex = generate(3, seed=3, kind="size")
    assert [e.answer for e in ex] == ["27 x 27", "23 x 23", "12 x 12"]


# --------------------------------------------------------------------------- #
# Wording: the seed-003 style in Korean
# --------------------------------------------------------------------------- #


def test_korean_wording_of_the_seed_example() -> None:
    data = {"size": (227, 227), "kernel": (11, 11), "stride": 4, "padding": 0, "dilation": 1, "floor": False}
    ko = _build("size", data, 1, 0, 1, "ko")
    assert (
        ko.question == "입력 이미지 크기: 227 x 227, 필터 크기: 11x11, stride = 4, padding = 0일 때 출력 이미지 크기는?"
    )
    assert ko.answer == "55 x 55"
    assert ko.steps[-1] == "(227 - 11 + 2*0)/4 + 1 = 55"
    en = _build("size", data, 1, 0, 1, "en")
    assert (
        en.question
        == "Input image size: 227 x 227, filter size: 11x11, stride = 4, padding = 0. What is the output image size?"
    )


def test_seed003_examples_2_and_4() -> None:
    floor = _build(
        "size",
        {"size": (64, 64), "kernel": (7, 7), "stride": 2, "padding": 0, "dilation": 1, "floor": True},
        2,
        0,
        2,
        "ko",
    )
    assert floor.answer == "29 x 29"
    assert floor.question.endswith("(계산 결과가 소수이면 소수점은 버린다.)")
    assert floor.steps[-1] == "floor((64 - 7 + 2*0)/2) + 1 = floor(28.5) + 1 = 29"
    wide = _build(
        "size",
        {"size": (32, 64), "kernel": (5, 5), "stride": 1, "padding": 0, "dilation": 1, "floor": False},
        4,
        0,
        2,
        "ko",
    )
    assert wide.answer == "28 x 60"
    # the post writes the division by the stride 1 too: \frac{(32,64)-5+2\times0}{1} + 1
    assert wide.steps[-2:] == ("H: (32 - 5 + 2*0)/1 + 1 = 28", "W: (64 - 5 + 2*0)/1 + 1 = 60")


def test_seed004_im2col_example() -> None:
    ex = _build("im2col", {"input": (10, 3, 7, 7), "kernel": (5, 5), "stride": 1, "pad": 0}, 1, 0, 2, "ko")
    assert ex.answer == "(90, 75)"
    assert "im2col(x, 5, 5, stride=1, pad=0)" in ex.question
    assert check_answer(ex, "(9, 75)").mistakes == ("forgot_batch",)
    assert check_answer(ex, "(90, 25)").mistakes == ("forgot_input_channels",)


def test_korean_feedback_is_korean() -> None:
    ex = generate(1, seed=3, kind="size", lang="ko")[0]
    assert check_answer(ex, "27").message == "정답입니다: 27 x 27"
    wrong = check_answer(ex, "26")
    assert wrong.message.startswith("틀렸습니다. 정답은 27 x 27입니다")
    assert wrong.message.endswith(" + 1을 빠뜨린 것 같습니다 (첫 번째 필터 위치).")


# --------------------------------------------------------------------------- #
# Marking and diagnosis
# --------------------------------------------------------------------------- #


def _seed003(s: int = 4, p: int = 0, floor: bool = False, size: int = 227, k: int = 11, d: int = 1) -> Exercise:
    return _build(
        "size",
        {"size": (size, size), "kernel": (k, k), "stride": s, "padding": p, "dilation": d, "floor": floor},
        1,
        0,
        1,
        "en",
    )


@pytest.mark.parametrize(
    ("exercise", "answer", "mistake"),
    [
        (_seed003(), "54", "forgot_plus_one"),
        (_seed003(), "225", "precedence"),  # int(1 + 227 + 2*0 - 11 / 4) = 225
        (_seed003(), "217", "ignored_stride"),
        (_seed003(s=2, p=3, size=64, k=7), "29", "forgot_padding"),
        (_seed003(s=1, p=2, size=32, k=5), "30", "single_padding"),
        (_seed003(s=2, size=64, k=7, floor=True), "30", "ceil_instead_of_floor"),
        (_seed003(s=1, size=32, k=3, d=2), "30", "forgot_dilation"),
    ],
)
def test_size_mistakes(exercise: Exercise, answer: str, mistake: str) -> None:
    feedback = check_answer(exercise, answer)
    assert not feedback.correct
    assert mistake in feedback.mistakes
    assert MISTAKES[mistake][0] in feedback.message


def test_params_mistakes() -> None:
    conv = _build(
        "params", {"layer": "conv", "in": 3, "out": 4, "kernel": (5, 5), "bias": True, "groups": 1}, 1, 0, 1, "en"
    )
    assert conv.value == (304,)
    assert check_answer(conv, "300").mistakes == ("forgot_bias",)
    assert check_answer(conv, "104").mistakes == ("forgot_input_channels",)
    depthwise = _build(
        "params", {"layer": "conv", "in": 32, "out": 32, "kernel": (3, 3), "bias": False, "groups": 32}, 1, 0, 3, "en"
    )
    assert depthwise.value == (288,)
    assert check_answer(depthwise, "9216").mistakes == ("ignored_groups",)
    linear = _build("params", {"layer": "linear", "in": 400, "out": 512, "bias": True}, 1, 0, 1, "en")
    assert check_answer(linear, "205,312").correct
    assert check_answer(linear, "204800").mistakes == ("forgot_bias",)


def test_pool_default_stride_mistake() -> None:
    ex = _build(
        "pool",
        {"size": (28, 28), "kernel": 2, "stride": 2, "padding": 0, "op": "max", "stride_given": False, "floor": False},
        1,
        0,
        2,
        "en",
    )
    assert "nn.MaxPool2d(kernel_size=2)" in ex.question
    assert check_answer(ex, "27 x 27").mistakes == ("stride_default", "ignored_stride")


def test_every_mistake_is_diagnosed_somewhere() -> None:
    """For each mistake, some generated exercise where it changes the answer, and check_answer names it."""
    from convcalc.exercises import _KIND_MISTAKES, _mistaken

    found: dict[str, int] = {}
    for seed in range(120):
        for kind in KINDS:
            for ex in generate(2, seed, kind=kind, difficulty=seed % 3 + 1):
                for mistake in _KIND_MISTAKES[kind]:
                    wrong = _mistaken(kind, ex.data, mistake)
                    if wrong is None or wrong == ex.value or min(wrong) < 0:
                        continue
                    feedback = check_answer(ex, " x ".join(map(str, wrong)))
                    assert not feedback.correct
                    assert mistake in feedback.mistakes, (ex, mistake, feedback)
                    found[mistake] = found.get(mistake, 0) + 1
    assert set(found) == set(MISTAKES), set(MISTAKES) - set(found)


@pytest.mark.parametrize("written", ["55", "55x55", "55 x 55", "(55, 55)", "[55,55]", "1 x 55 x 55", " 55 "])
def test_answer_formats(written: str) -> None:
    assert check_answer(_seed003(), written).correct


def test_a_count_in_scientific_notation_is_read_as_the_number_it_writes() -> None:
    """``4.64e3`` is 4640 (it was called "4.64 is not a whole number"), ``5e3`` is 5000 (it was read as 5 x 3)."""
    ex = generate(1, 0, kind="params")[0]
    assert ex.answer == "4640"
    assert check_answer(ex, "4.64e3").correct
    assert check_answer(ex, "4640e0").correct
    wrong = check_answer(ex, "5e3")
    assert not wrong.correct
    assert "you wrote 5000" in wrong.message
    assert "4.6405e3 is not a whole number" in check_answer(ex, "4.6405e3").message


def test_network_answer_may_include_the_batch() -> None:
    ex = _build(
        "network",
        {"input": (1, 28, 28), "layers": (("conv", 1, 5, 5, 1, 0), ("pool", 2, 2)), "ask": "shape"},
        1,
        0,
        1,
        "en",
    )
    assert ex.answer == "5 x 12 x 12"  # seed 003's CNN Implementation
    assert check_answer(ex, "torch.Size([1, 5, 12, 12])").correct
    assert not check_answer(ex, "5 x 11 x 11").correct


def test_unexplained_wrong_answer_gets_the_solution() -> None:
    feedback = check_answer(_seed003(), "7")
    assert feedback.mistakes == ()
    # one step a line: " / " between steps would read as a division
    assert feedback.message.splitlines() == [
        "Not quite: the answer is 55 x 55 (you wrote 7). Worked solution:",
        "    output size = (input size - filter size + 2 * padding) / stride + 1",
        "    (227 - 11 + 2*0)/4 + 1 = 55",
    ]


def _pool_without_stride(lang: str) -> Exercise:
    data = {"size": (28, 28), "kernel": 2, "stride": 2, "padding": 0, "op": "max", "stride_given": False}
    return _build("pool", {**data, "floor": False}, 1, 0, 2, lang)


def test_several_possible_mistakes_each_on_a_line_and_hedged() -> None:
    # MaxPool2d(2) on 28: 14 (stride 2 by default); with stride 1 instead, (28 - 2)/1 + 1 = 27, which is both
    # "stride 1 by default" and "no division by the stride"
    english = check_answer(_pool_without_stride("en"), "27 x 27").message.splitlines()
    assert english == [
        "Not quite: the answer is 14 x 14 (you wrote 27 x 27). It may be one of these mistakes:",
        "- It looks like you used stride 1: a pooling layer's stride defaults to its kernel size.",
        "- It looks like you did not divide by the stride.",
    ]
    korean = check_answer(_pool_without_stride("ko"), "27 x 27").message.splitlines()
    assert korean == [
        "틀렸습니다. 정답은 14 x 14입니다 (제출한 답: 27 x 27). 다음 실수 중 하나일 수 있습니다:",
        "- stride를 1로 둔 것 같습니다. pooling 층의 stride 기본값은 1이 아니라 kernel_size입니다.",
        "- stride로 나누지 않은 것 같습니다.",
    ]
    assert " 또는 " not in "\n".join(korean)


def test_every_korean_hint_hedges_as_the_first_does() -> None:
    for code, (_, korean) in MISTAKES.items():
        assert "것 같습니다" in korean.split(". ")[0], code


@pytest.mark.parametrize("written", ["6.0", "6.00", "6", "6.0 x 6.0", "(6.0, 6)"])
def test_decimals_that_are_integers_read_as_the_integer(written: str) -> None:
    exercise = _seed003(s=1, size=8, k=3)  # (8 - 3)/1 + 1 = 6
    assert exercise.value == (6, 6)
    assert check_answer(exercise, written).correct


def test_an_answer_that_is_not_a_whole_number_says_so() -> None:
    exercise = _seed003(s=2, size=8, k=3)  # (8 - 3)/2 + 1 = 3.5, floored to 3
    feedback = check_answer(exercise, "3.5")
    assert not feedback.correct
    assert feedback.message == "3.5 is not a whole number: output sizes are integers (the floor is taken)."
    assert check_answer(exercise, "3.50 x 3").message.startswith("3.50 is not a whole number")
    korean = _build("size", dict(exercise.data), 1, 0, 1, "ko")
    assert (
        check_answer(korean, "3.5").message
        == "3.5은(는) 정수가 아닙니다. 출력 크기는 정수입니다 (소수점 아래는 버립니다)."
    )
    params = _build("params", {"layer": "linear", "in": 4, "out": 2, "bias": True}, 1, 0, 1, "en")
    assert check_answer(params, "10.5").message == "10.5 is not a whole number: a parameter count is a whole number."


@pytest.mark.parametrize("fmt", ["md", "latex"])
@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("kind", [*KINDS, "mixed"])
def test_sheet_header_gives_back_every_setting(fmt: str, lang: str, kind: str) -> None:
    items = generate(4, seed=-7, kind=kind, difficulty=3, lang=lang)
    sheet = render_sheet(items, fmt=fmt, answers=False)
    settings = sheet_settings(sheet)
    assert settings == {"seed": -7, "difficulty": 3, "kind": kind, "count": 4, "lang": lang}
    assert generate(**settings) == items


def test_an_im2col_sheet_is_marked_from_its_header(tmp_path: Path, capsys: Any) -> None:
    from convcalc.cli import main

    items = generate(2, 2, kind="im2col")
    path = tmp_path / "sheet.md"
    path.write_text(render_sheet(items), encoding="utf-8")
    assert sheet_settings(path.read_text(encoding="utf-8"))["kind"] == "im2col"
    torch = pytest.importorskip("torch")
    # x of shape (1, 1, 4, 4), a 3 x 3 filter: unfold gives (N, C*FH*FW, windows), col is (N*windows, C*FH*FW)
    cols = torch.nn.functional.unfold(torch.zeros(1, 1, 4, 4), 3)
    assert items[0].value == (cols.shape[0] * cols.shape[2], cols.shape[1]) == (4, 9)
    assert main(["exercise", "check", "--sheet", str(path), "--index", "1", "(4, 9)"]) == 0
    assert capsys.readouterr().out == "Correct: (4, 9).\n"
    assert main(["exercise", "check", "--sheet", str(path), "--index", "1", "(9, 75)"]) == 1


def test_sheet_settings_of_something_else() -> None:
    with pytest.raises(SpecError, match="no sheet header"):
        sheet_settings("# Homework\n\n1. What is 2 + 2?")
    with pytest.raises(SpecError, match="kind must be one of"):
        sheet_settings("seed 1, difficulty 1, kind sizes, count 2, lang en")


def test_bad_answers_and_arguments() -> None:
    with pytest.raises(SpecError, match="must contain a number"):
        check_answer(_seed003(), "fifty-five")
    with pytest.raises(SpecError, match="takes an Exercise"):
        check_answer("55", "55")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="count must be an integer from 1 to 1000"):
        generate(0, 1)
    with pytest.raises(SpecError, match="seed must be an integer"):
        generate(1, "3")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="difficulty must be an integer from 1 to 3"):
        generate(1, 1, difficulty=4)
    with pytest.raises(SpecError, match="lang must be one of 'en', 'ko'"):
        generate(1, 1, lang="jp")


# --------------------------------------------------------------------------- #
# Sheets and worked steps
# --------------------------------------------------------------------------- #


def test_markdown_sheet() -> None:
    items = generate(6, 2, kind="mixed", lang="ko")
    sheet = render_sheet(items)
    assert sheet.startswith("# 합성곱 연습 문제\n")
    assert "정답 및 풀이" not in sheet
    for e in items:
        assert f"{e.index}. {e.question}" in sheet
    answered = render_sheet(items, answers=True)
    assert "## 정답 및 풀이" in answered
    for e in items:
        assert f"{e.index}. **{e.answer}**" in answered


def _commonmark(text: str) -> Any:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(MarkdownIt("commonmark").parse(text))


def _plain(inline: Any) -> str:
    """The text of an inline node that holds nothing but text (no emphasis, code or links)."""
    assert [c.type for c in inline.children] == ["text"], inline.children
    return str(inline.children[0].content)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_markdown_sheet_parses_as_commonmark_lists(lang: str) -> None:
    """Read by a CommonMark parser, a sheet of 1..25 exercises is one ordered list of the questions and, with
    answers, a second list whose items each hold the answer in bold and the worked steps as one code block."""
    for count in range(1, 26):
        items = generate(count, seed=count, kind="mixed", difficulty=1 + count % 3, lang=lang)
        for answers in (False, True):
            tree = _commonmark(render_sheet(items, answers=answers))
            blocks = tree.children
            assert [b.type for b in blocks] == ["heading", "paragraph", "ordered_list"] + (
                ["heading", "ordered_list"] if answers else []
            )
            questions = blocks[2]
            assert [i.type for i in questions.children] == ["list_item"] * count
            assert [i.info for i in questions.children] == [str(k) for k in range(1, count + 1)]
            for item, e in zip(questions.children, items, strict=True):
                assert [c.type for c in item.children] == ["paragraph"]
                assert _plain(item.children[0].children[0]) == e.question
            if not answers:
                continue
            assert blocks[3].tag == "h2"
            solutions = blocks[4]
            assert [i.info for i in solutions.children] == [str(k) for k in range(1, count + 1)]
            for item, e in zip(solutions.children, items, strict=True):
                assert [c.type for c in item.children] == ["paragraph", "code_block"], (count, e.index)
                inline = item.children[0].children[0].children
                strong = [c for c in inline if not (c.type == "text" and c.content == "")]
                assert [c.type for c in strong] == ["strong"]
                assert _plain(strong[0]) == e.answer
                assert item.children[1].content == "\n".join(e.steps) + "\n"


def test_latex_sheet_is_a_balanced_document() -> None:
    for lang in ("en", "ko"):
        tex = render_sheet(generate(10, 4, kind="mixed", difficulty=3, lang=lang), fmt="latex", answers=True)
        assert tex.startswith(r"\documentclass")
        assert tex.count(r"\begin{") == tex.count(r"\end{")
        assert ("kotex" in tex) == (lang == "ko")
        body = tex.split(r"\begin{document}")[1]
        assert "_" not in body.replace(r"\_", "")
        assert "→" not in body


def test_render_sheet_rejects_other_things() -> None:
    with pytest.raises(SpecError, match="render_sheet takes Exercises"):
        render_sheet(["1. what?"])  # type: ignore[list-item]
    with pytest.raises(SpecError, match="answers must be True or False"):
        render_sheet([], answers="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "last"),
    [  # the five exercises of seed 003
        (227, 11, 4, 0, "(227 - 11 + 2*0)/4 + 1 = 55"),
        (64, 7, 2, 0, "floor((64 - 7 + 2*0)/2) + 1 = floor(28.5) + 1 = 29"),
        (32, 5, 1, 2, "(32 - 5 + 2*2)/1 + 1 = 32"),
        ((32, 64), 5, 1, 0, "out = 28x60"),
        ((64, 32), 3, 1, 1, "out = 64x32"),
    ],
)
def test_conv_steps_of_the_seed(size: Any, kernel: int, stride: int, padding: int, last: str) -> None:
    assert conv_steps(size, kernel, stride, padding)[-1] == last


def test_steps_fractions_and_errors() -> None:
    assert conv_steps(10, 3, 3)[-1] == "floor((10 - 3 + 2*0)/3) + 1 = floor(7/3) + 1 = 3"
    assert conv_steps(7, 3, 2, "same", convention="keras")[-1] == "ceil(7/2) = ceil(3.5) = 4"
    assert pool_steps(28, 2)[0] == "stride = kernel_size = 2 (the default)"
    assert conv_transpose_steps(4, 2, 2)[-1] == "(4 - 1)*2 - 2*0 + 1*(2 - 1) + 0 + 1 = 8"
    with pytest.raises(ShapeError):
        conv_steps(4, 5)


# --------------------------------------------------------------------------- #
# Mistakes, recomputed here: each as the student writes it, a size of 0 or less ending it
# --------------------------------------------------------------------------- #


def _axis_mistakes(w: int, k: int, s: int, p: int, d: int = 1) -> dict[str, int | None]:
    """One axis of a window formula done wrong; None where the mistaken formula reaches a size of 0 or less."""
    e = d * (k - 1) + 1
    out = {
        "forgot_padding": math.floor(Fraction(w - e, s)) + 1,
        "single_padding": math.floor(Fraction(w - e + p, s)) + 1,
        "ceil_instead_of_floor": math.ceil(Fraction(w - e + 2 * p, s)) + 1,
        "forgot_plus_one": math.floor(Fraction(w - e + 2 * p, s)),
        "precedence": math.trunc(1 + w + 2 * p - Fraction(e, s)),  # int(1 + H + 2*pad - FH / stride)
        "ignored_stride": w - e + 2 * p + 1,
        "forgot_dilation": math.floor(Fraction(w - k + 2 * p, s)) + 1,
    }
    return {m: v if v > 0 else None for m, v in out.items()}


def _network_mistakes(data: Any) -> dict[str, set[tuple[int, ...]]]:
    """Each mistake made in every layer, or in the convolutions alone (the pools halved right)."""
    found: dict[str, set[tuple[int, ...]]] = {}
    for mistake in ("forgot_padding", "single_padding", "forgot_plus_one", "precedence"):
        for in_pools in (True, False):
            c, h, _ = data["input"]
            size: int | None = h
            for layer in data["layers"]:
                assert size is not None
                if layer[0] == "conv":
                    _, _, c, k, s, p = layer
                    size = _axis_mistakes(size, k, s, p)[mistake]
                elif in_pools:
                    size = _axis_mistakes(size, layer[1], layer[2], 0)[mistake]
                else:  # pooled right: floor((W - F)/S) + 1
                    right = math.floor(Fraction(size - layer[1], layer[2])) + 1
                    size = right if right > 0 else None
                if size is None:
                    break
            if size is not None:
                found.setdefault(mistake, set()).add(
                    (c * size * size,) if data["ask"] == "features" else (c, size, size)
                )
    if data["ask"] == "features":
        right = convcalc.plan(_torchlike_network(data), (1, *data["input"])).output_shape[1:]
        found["forgot_channels"] = {(right[1] * right[2],)}
    return found


def _torchlike_network(data: Any) -> Any:
    return nn.Sequential(
        *(
            nn.Conv2d(*spec[1:4], stride=spec[4], padding=spec[5]) if spec[0] == "conv" else nn.MaxPool2d(*spec[1:])
            for spec in data["layers"]
        )
    )


def _padding_mistakes(data: Any) -> dict[str, set[tuple[int, ...]]]:
    """P solved from the formula done wrong; only a whole P of 0 or more is an answer."""
    w, f, s, o = data["size"], data["kernel"], data["stride"], data["output"]
    twice = {
        "single_padding": Fraction(2 * ((o - 1) * s - w + f)),  # (W - F + P)/S + 1 = O
        "forgot_plus_one": Fraction(o * s - w + f),  # (W - F + 2P)/S = O
        "precedence": Fraction(o - 1 - w) + Fraction(f, s),  # 1 + W + 2P - F/S = O
    }
    return {m: {(int(t / 2),)} for m, t in twice.items() if t >= 0 and (t / 2).denominator == 1}


def _expected_mistakes(ex: Exercise) -> dict[str, set[tuple[int, ...]]]:
    """The answer (or answers) each mistake of the exercise's kind gives."""
    d = ex.data
    if ex.kind in ("size", "pool"):
        if ex.kind == "size":
            axes = [
                _axis_mistakes(w, k, d["stride"], d["padding"], d["dilation"])
                for w, k in zip(d["size"], d["kernel"], strict=True)
            ]
        else:
            axes = [_axis_mistakes(w, d["kernel"], d["stride"], d["padding"]) for w in d["size"]]
            del axes[0]["forgot_dilation"]
        found = {m: {tuple(a[m] for a in axes)} for m in axes[0] if all(a[m] is not None for a in axes)}
        if ex.kind == "pool" and not d["stride_given"]:
            found["stride_default"] = {
                tuple(convcalc.pool_output_size(w, d["kernel"], 1, d["padding"]) for w in d["size"])
            }
        return found
    if ex.kind == "padding":
        return _padding_mistakes(d)
    if ex.kind == "network":
        return _network_mistakes(d)
    if ex.kind == "params":
        if d["layer"] == "linear":
            return {"forgot_bias": {(d["in"] * d["out"],)}}
        cin, cout, (kh, kw), g = d["in"], d["out"], d["kernel"], d["groups"]
        bias = cout if d["bias"] else 0
        return {
            "forgot_bias": {(cout * cin // g * kh * kw,)},
            "forgot_input_channels": {(cout * kh * kw + bias,)},
            "ignored_groups": {(cout * cin * kh * kw + bias,)},
        }
    if ex.kind == "receptive-field":
        return {
            "ignored_strides": {(1 + sum(k - 1 for _, k, _ in d["layers"]),)},
            "forgot_plus_one": {(ex.value[0] - 1,)},
        }
    n, c, h, w = d["input"]
    (fh, fw), s, p = d["kernel"], d["stride"], d["pad"]
    oh, ow = convcalc.conv_output_size((h, w), (fh, fw), s, p)
    found = {"forgot_batch": {(oh * ow, c * fh * fw)}, "forgot_input_channels": {(n * oh * ow, fh * fw)}}
    rows, cols = _axis_mistakes(h, fh, s, p), _axis_mistakes(w, fw, s, p)
    for m in ("forgot_padding", "forgot_plus_one", "precedence", "single_padding"):
        a, b = rows[m], cols[m]
        if a is not None and b is not None:
            found[m] = {(n * a * b, c * fh * fw)}
    return found


def test_named_mistakes_are_those_that_give_the_answer() -> None:
    """Every answer a mistake gives is put down to it, and a mistake is named only where it gives the answer
    without passing through a size of 0 or less or a padding that is not a whole number."""
    named = 0
    for seed in range(40):
        for kind in KINDS:
            for difficulty in (1, 2, 3):
                for ex in generate(4, seed, kind=kind, difficulty=difficulty):
                    expected = _expected_mistakes(ex)
                    for mistake, answers in expected.items():
                        for wrong in answers - {ex.value}:
                            feedback = check_answer(ex, " x ".join(map(str, wrong)))
                            assert not feedback.correct
                            assert mistake in feedback.mistakes, (ex, mistake, wrong, feedback)
                            for other in feedback.mistakes:
                                assert wrong in expected.get(other, set()), (ex, wrong, other)
                            named += 1
    assert named > 5000


def test_a_mistake_that_needs_a_size_below_one_is_not_named() -> None:
    from convcalc.exercises import _mistaken

    # 3 x 62 x 62 through three conv + pool blocks, in_features 8 * 2 * 2 = 32. Forgetting the + 1 everywhere
    # gives 61, 29, 14, 6, 1, then (1 - 2)/2 = -1 from the last pool: 8 * (-1) * (-1) = 8 is no computation
    ex = generate(3, 0, kind="network", difficulty=3)[2]
    assert ex.value == (32,)
    assert _mistaken("network", ex.data, "forgot_plus_one") is None
    # a 1-channel 9 x 9 input, a 7 x 7 convolution with padding 3, then 2 x 2 pooling: 4 * 4 * 4 = 64.
    # Without the padding, (9 - 7) + 1 = 3, then 1 after the pool: 4. Without the + 1 in every layer,
    # 8 then (8 - 2)/2 = 3: 36; in the convolutions alone, 8 then 4: 64, the answer.
    # P once: (9 - 7 + 3) + 1 = 6, then 3: 36. The ceiling is not a mistake here.
    data = {"input": (1, 9, 9), "layers": (("conv", 1, 4, 7, 1, 3), ("pool", 2, 2)), "ask": "features"}
    net = _build("network", data, 1, 0, 2, "en")
    assert net.value == (64,)
    assert check_answer(net, "4").mistakes == ("forgot_padding",)
    assert check_answer(net, "36").mistakes == ("single_padding", "forgot_plus_one")
    # 5 x 5 through the same: 5, then 2: 16. Without the padding (5 - 7) + 1 = -1, and (-1 - 2)//2 + 1 = -1
    # after the pool: 4 * (-1) * (-1) = 4 is no computation. P once gives 2, then 1: 4; no + 1 anywhere, 4
    # then (4 - 2)/2 = 1: 4; and 2 * 2 = 4 without the channels
    small = _build("network", {**data, "input": (1, 5, 5)}, 1, 0, 2, "en")
    assert small.value == (16,)
    assert _mistaken("network", small.data, "forgot_padding") is None
    assert check_answer(small, "4").mistakes == ("single_padding", "forgot_plus_one", "forgot_channels")


def test_padding_mistakes_solve_for_a_whole_padding() -> None:
    # 8 x 8, 5 x 5 filter, stride 1, output 8: P = 2. No padding of 0 or more gives -1
    ex = generate(1, 0, kind="padding")[0]
    assert (ex.data["size"], ex.data["kernel"], ex.data["stride"], ex.data["output"]) == (8, 5, 1, 8)
    feedback = check_answer(ex, "-1")
    assert feedback.mistakes == ()
    assert "Worked solution" in feedback.message
    # 235 x 235, 5 x 5, stride 3, output 79: P = (78*3 - 235 + 5)/2 = 2. P once: 78*3 - 235 + 5 = 4.
    # Without the + 1, 2P = 79*3 - 235 + 5 = 7: P = 3.5, not a padding, so "4" is not that mistake
    hard = generate(2, 2, kind="padding", difficulty=3)[1]
    assert (hard.data["size"], hard.data["kernel"], hard.data["stride"], hard.data["output"]) == (235, 5, 3, 79)
    assert hard.value == (2,)
    assert Fraction(235 - 5 + 4, 3) + 1 == 79  # P = 4 added once
    assert Fraction(235 - 5 + 2 * 4, 3) != 79  # and twice without the + 1: 238/3
    assert check_answer(hard, "4").mistakes == ("single_padding",)


@pytest.mark.parametrize(
    ("kind", "seed", "written"),
    [
        ("padding", 3, "1 or 0"),
        ("padding", 3, "1, 0"),
        ("receptive-field", 0, "1, 13"),
        ("receptive-field", 0, "1 or 13"),
        ("params", 3, "1, 18496"),  # nn.Conv2d(32, 64, 3): 64 * 32 * 9 + 64
        ("im2col", 2, "(1, 4, 9)"),
    ],
)
def test_several_numbers_for_one_are_not_an_answer(kind: str, seed: int, written: str) -> None:
    ex = generate(1, seed, kind=kind)[0]
    assert ex.value == {"padding": (0,), "receptive-field": (13,), "params": (18496,), "im2col": (4, 9)}[kind]
    assert not check_answer(ex, written).correct


def test_a_hedged_answer_fails_on_the_command_line(capsys: Any) -> None:
    from convcalc.cli import main

    assert main(["exercise", "check", "--kind", "padding", "--seed", "3", "--index", "1", "1 or 0"]) == 1
    assert capsys.readouterr().out.startswith("Not quite: the answer is 0 (you wrote 1 x 0).")
    assert main(["exercise", "check", "--kind", "padding", "--seed", "3", "--index", "1", "0"]) == 0


def test_a_batch_of_one_before_a_shape_stays_an_answer() -> None:
    assert check_answer(_seed003(), "1 x 55 x 55").correct
    assert not check_answer(_seed003(), "1 x 55").correct
    net = generate(1, 0, kind="network")[0]
    assert net.value == (4, 10, 10)
    assert check_answer(net, "torch.Size([1, 4, 10, 10])").correct
    assert not check_answer(net, "10").correct  # one number for C x H x W


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_square_receptive_field_may_be_written_per_axis(lang: str) -> None:
    ex = generate(1, 0, kind="receptive-field", lang=lang)[0]
    # three 5 x 5 convolutions of stride 1: 1 + 3 * 4 = 13
    assert ex.value == (13,)
    for written in ("13x13", "13 x 13", "(13, 13)", "13"):
        assert check_answer(ex, written).correct, written
    assert not check_answer(ex, "13x11").correct
    assert check_answer(ex, "12x12").mistakes == ("forgot_plus_one",)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_layer_a_params_question_writes_has_the_answer(lang: str) -> None:
    torch = pytest.importorskip("torch")
    calls = 0
    for seed in range(40):
        for ex in generate(5, seed, kind="params", difficulty=seed % 3 + 1, lang=lang):
            found = re.findall(r"nn\.(?:Linear|Conv2d)\([^()]*(?:\([^()]*\)[^()]*)?\)", ex.question)
            assert len(found) == 1, ex.question
            layer = eval(found[0], {"nn": torch.nn})  # the call exactly as the question writes it
            assert sum(p.numel() for p in layer.parameters()) == ex.value[0], ex.question
            calls += 1
    assert calls == 200
    linear = generate(5, 0, kind="params", difficulty=2)[4]
    assert "nn.Linear(2048, 64, bias=False)" in linear.question
    assert linear.value == (2048 * 64,)


def test_render_sheet_refuses_what_is_not_a_list_of_exercises() -> None:
    with pytest.raises(SpecError, match=r"in a list\. Received: exercises=None$"):
        render_sheet(None)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"in a list\. Received: exercises=5$"):
        render_sheet(5)  # type: ignore[arg-type]
    one = generate(1, 1)[0]
    with pytest.raises(SpecError, match=r"for one, render_sheet\(\[exercise\]\)\. Received: exercises=Exercise\("):
        render_sheet(one)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"Received: exercises\[1\]='2\. why\?'$"):
        render_sheet([one, "2. why?"])  # type: ignore[list-item]
    assert render_sheet(iter([one])) == render_sheet([one])


def test_steps_of_a_symbolic_size() -> None:
    torch = pytest.importorskip("torch")
    H = convcalc.symbols("H")
    pooled = pool_steps(H, 2)
    closed = convcalc.pool_output_size(H, 2)
    assert pooled == [
        "stride = kernel_size = 2 (the default)",
        "out = (W - F + 2P)/S + 1",
        f"floor((H - 2 + 2*0)/2) + 1 = {closed}",
    ]
    assert pool_steps(H, 3, 2, 1, ceil_mode=True)[-1].endswith(
        f"= {convcalc.pool_output_size(H, 3, 2, 1, ceil_mode=True)}"
    )
    strided = conv_steps(H, 3, 2)
    assert strided[-1] == f"floor((H - 3 + 2*0)/2) + 1 = {convcalc.conv_output_size(H, 3, 2)}"
    assert conv_steps(H, 3, 2, "same", convention="keras")[-1].endswith(
        f"= {convcalc.conv_output_size(H, 3, 2, 'same', convention='keras')}"
    )
    for h in range(3, 12):  # the closed forms are torch's sizes
        x = torch.zeros(1, 1, h, h)
        assert closed.subs(H, h) == torch.nn.MaxPool2d(2)(x).shape[-1]
        assert convcalc.conv_output_size(H, 3, 2).subs(H, h) == torch.nn.Conv2d(1, 1, 3, 2)(x).shape[-1]


def test_transposed_steps_take_output_padding_none() -> None:
    torch = pytest.importorskip("torch")
    steps = conv_transpose_steps(4, 3, 2, output_padding=None)
    assert steps == conv_transpose_steps(4, 3, 2, output_padding=0)
    assert steps[-1] == "(4 - 1)*2 - 2*0 + 1*(3 - 1) + 0 + 1 = 9"
    assert torch.nn.ConvTranspose2d(1, 1, 3, 2)(torch.zeros(1, 1, 4, 4)).shape[-1] == 9


@pytest.mark.parametrize("sign", ["", "-"])
def test_an_answer_too_long_to_read_as_an_int_is_wrong(sign: str) -> None:
    ex = generate(1, 3, kind="size")[0]
    feedback = check_answer(ex, sign + "9" * 5000)
    assert not feedback.correct
    assert feedback.message.startswith(
        f"Not quite: the answer is 27 x 27 (you wrote {'minus ' if sign else ''}a 5000-digit number)."
    )
    assert not check_answer(ex, "27 x " + "1" * 6000).correct


def test_forgetting_the_plus_one_in_the_convolutions_alone_is_named() -> None:
    torch = pytest.importorskip("torch")
    ex = generate(1, 0, kind="network")[0]
    assert ex.data["layers"] == (("conv", 1, 4, 5, 1, 0), ("pool", 2, 2))
    conv = torch.nn.Conv2d(1, 4, 5)(torch.zeros(1, 1, 24, 24))
    assert tuple(conv.shape[1:]) == (4, 20, 20)
    # 20 - 1 = 19 without the + 1, then pooled right: 9
    assert torch.nn.MaxPool2d(2)(torch.zeros(1, 4, 19, 19)).shape[-1] == 9
    assert check_answer(ex, "4 x 9 x 9").mistakes == ("forgot_plus_one",)
    assert check_answer(ex, "4 x 9 x 9").message.endswith(
        "It looks like you forgot the + 1 (the first window's position)."
    )
    # in every layer: 19, then (19 - 2)/2 = 8
    assert check_answer(ex, "4 x 8 x 8").mistakes == ("forgot_plus_one",)
    # 29 x 29, a 3 x 3 convolution of stride 2, then 2 x 2 pooling: 14, then 7. int(1 + 29 - 3/2) = 28 in the
    # convolution alone, then 14; in the pool too, int(1 + 28 - 2/2) = 28
    data = {"input": (1, 29, 29), "layers": (("conv", 1, 4, 3, 2, 0), ("pool", 2, 2)), "ask": "shape"}
    strided = _build("network", data, 1, 0, 3, "en")
    assert strided.value == (4, 7, 7)
    assert check_answer(strided, "4 x 14 x 14").mistakes == ("precedence",)
    assert check_answer(strided, "4 x 28 x 28").mistakes == ("precedence",)


# --------------------------------------------------------------------------- #
# Wording of hints and steps
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_receptive_field_plus_one_is_the_output_pixel(lang: str) -> None:
    ex = generate(1, 0, kind="receptive-field", lang=lang)[0]
    message = check_answer(ex, "12").message
    assert check_answer(ex, "12").mistakes == ("forgot_plus_one",)
    assert "window" not in message
    assert "필터 위치" not in message
    assert ("the sum starts from 1, the one output pixel itself" if lang == "en" else "출력 픽셀 하나") in message
    size = check_answer(generate(1, 3, kind="size", lang=lang)[0], "26").message
    assert ("(the first window's position)" if lang == "en" else "(첫 번째 필터 위치)") in size


def test_a_dropped_window_past_the_input_is_not_said_to_start_in_the_padding() -> None:
    torch = pytest.importorskip("torch")
    # 5 wide, a 1-wide window, stride 3, ceil: ceil(4/3) + 1 = 3, but the third window would start at 6,
    # past the input (there is no padding): torch keeps 2
    assert torch.nn.MaxPool2d(1, 3, ceil_mode=True)(torch.zeros(1, 1, 5, 5)).shape[-1] == 2
    steps = pool_steps(5, 1, 3, ceil_mode=True)
    assert steps[-1] == "the last window would start past the end of the input, so torch drops it: out = 2"
    korean = pool_steps(5, 1, 3, ceil_mode=True, lang="ko")
    assert korean[-1] == "마지막 window가 입력 끝을 지나서 시작하므로 torch는 그 window를 버립니다: out = 2"
    # with padding 1 the window is dropped in the right padding, as before
    assert torch.nn.MaxPool2d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 5, 5)).shape[-1] == 3
    assert pool_steps(5, 2, 2, 1, ceil_mode=True)[-1] == (
        "the last window would start in the right padding, so torch drops it: out = 3"
    )


def test_keras_ceil_steps_do_not_repeat_a_fraction() -> None:
    assert conv_steps(32, 3, 3, "causal", convention="keras")[-1] == "ceil(32/3) = 11"
    assert conv_steps(7, 3, 2, "same", convention="keras")[-1] == "ceil(7/2) = ceil(3.5) = 4"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_dilated_size_steps_name_the_dilated_filter_in_the_formula(lang: str) -> None:
    data = {"size": (32, 32), "kernel": (3, 3), "stride": 1, "padding": 0, "dilation": 2, "floor": False}
    ex = _build("size", data, 1, 0, 3, lang)
    assert ex.value == (28, 28)
    if lang == "en":
        assert ex.steps == (
            "dilated filter size: F' = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5",
            "output size = (input size - F' + 2 * padding) / stride + 1",
            "(32 - 5 + 2*0)/1 + 1 = 28",
        )
    else:
        assert ex.steps == (
            "dilation을 적용한 필터 크기: F' = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5",
            "출력 크기 = (입력 크기 - F' + 2 * padding) / stride + 1",
            "(32 - 5 + 2*0)/1 + 1 = 28",
        )


def test_korean_network_question_says_input_in_korean() -> None:
    ex = generate(1, 0, kind="network", lang="ko")[0]
    assert ex.question.startswith("1채널의 24x24 입력(형태: 1 x 1 x 24 x 24)을 다음 층들에 차례로 통과시킨다")
    assert "input" not in ex.question


def test_a_sheet_of_few_possible_exercises_has_no_repeats() -> None:
    items = generate(10, 32, kind="receptive-field")
    assert len({e.question for e in items}) == 10
    # the sheets that had no repeats stay as they were
    assert [e.answer for e in generate(3, seed=3, kind="size")] == ["27 x 27", "23 x 23", "12 x 12"]
