"""Exercises: every answer re-derived independently with convcalc, determinism, wording, marking."""

from __future__ import annotations

import re
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
@pytest.mark.parametrize("kind", ["pool", "mixed", "receptive-field"])
def test_sheet_header_gives_back_every_setting(fmt: str, lang: str, kind: str) -> None:
    items = generate(4, seed=-7, kind=kind, difficulty=3, lang=lang)
    sheet = render_sheet(items, fmt=fmt, answers=False)
    settings = sheet_settings(sheet)
    assert settings == {"seed": -7, "difficulty": 3, "kind": kind, "count": 4, "lang": lang}
    assert generate(**settings) == items


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
