"""Marking a student's answer, and naming the mistake that reproduces a wrong one."""

from __future__ import annotations

import re

from convcalc._args import received
from convcalc._errors import SpecError
from convcalc.exercises._answers import _KIND_MISTAKES, _mistaken_answers
from convcalc.exercises._types import MISTAKES, Exercise, Feedback
from convcalc.exercises._words import _by

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

#: What an answer of each kind counts, to say why it must be a whole number: (English, Korean).
_WHOLE_NUMBERS: dict[str, tuple[str, str]] = {
    "size": ("output sizes are integers (the floor is taken)", "출력 크기는 정수입니다 (소수점 아래는 버립니다)"),
    "pool": ("output sizes are integers (the floor is taken)", "출력 크기는 정수입니다 (소수점 아래는 버립니다)"),
    "network": ("output sizes are integers (the floor is taken)", "출력 크기는 정수입니다 (소수점 아래는 버립니다)"),
    "im2col": (
        "matrix sizes are integers (the output sizes in them are floored)",
        "행렬 크기는 정수입니다 (출력 크기의 소수점 아래는 버립니다)",
    ),
    "padding": ("a padding is a whole number of pixels", "padding은 정수 개의 픽셀입니다"),
    "params": ("a parameter count is a whole number", "파라미터 수는 정수입니다"),
    "receptive-field": ("a receptive field is a whole number of pixels", "receptive field는 정수 개의 픽셀입니다"),
}


#: Where a mistake reads otherwise in one kind of exercise: (kind, mistake) -> (English, Korean).
_KIND_HINTS: dict[tuple[str, str], tuple[str, str]] = {
    ("receptive-field", "forgot_plus_one"): (
        "you forgot the + 1: the sum starts from 1, the one output pixel itself",
        "+ 1을 빠뜨린 것 같습니다. 합은 출력 픽셀 하나 자체의 크기인 1에서 시작합니다",
    ),
}


def _read(answer: str, expected: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The integers of an answer (``6.0`` and ``6.00`` read as 6, ``4.64e3`` as 4640), and the numbers that are
    not whole."""
    text = answer
    if len(expected) == 1:
        text = re.sub(r"(?<=\d)[,_ ](?=\d{3}(?!\d))", "", text)  # 205,312 and 205 312 are one number
    values: list[int] = []
    fractions: list[str] = []
    for token in _NUMBER.findall(text):
        if "e" in token.lower():  # 4.64e3: the number it writes, whole or not
            mantissa, _, power = token.lower().partition("e")
            whole, _, decimals = mantissa.partition(".")
            shift = int(power[-6:]) if len(power.lstrip("+-")) <= 5 else (10**6 if power[0] != "-" else -(10**6))
            digits = whole.lstrip("-") + decimals
            point = len(whole.lstrip("-")) + shift  # where the decimal point falls in ``digits``
            if digits[max(point, 0) :].strip("0"):
                fractions.append(token)
            else:
                sign = "-" if whole.startswith("-") else ""
                values.append(_whole(sign + (digits[:point] + "0" * (point - len(digits)) if point > 0 else "0")))
            continue
        whole, _, decimals = token.partition(".")
        if decimals.strip("0"):
            fractions.append(token)
        else:
            values.append(_whole(whole))
    return tuple(values), tuple(fractions)


def _whole(digits: str) -> int:
    """The int a run of digits writes; one longer than Python turns into an int (4300 digits) is read as a
    number of as many digits: it cannot be an answer, and the feedback names it by its digits."""
    body = digits.lstrip("-").lstrip("0") or "0"
    try:
        magnitude = int(body)
    except ValueError:
        magnitude = 10 ** (len(body) - 1)
    return -magnitude if digits.startswith("-") else magnitude


#: The kinds whose answer is an image's size (H x W, or C x H x W): a batch of 1 may be written before it.
_SHAPES = ("size", "pool", "network")


def _same_answer(got: tuple[int, ...], want: tuple[int, ...], kind: str) -> bool:
    if got == want:
        return True
    if kind in ("size", "pool") and len(got) == 1 and len(set(want)) == 1:
        return got[0] == want[0]  # "55" for a 55 x 55 output
    if kind == "receptive-field" and len(set(got)) == 1 and len(got) == 2:
        return got[0] == want[0]  # "13 x 13" for a field 13 wide: a square field, written per axis
    # a batch of 1 written out before a shape: "1 x 55 x 55", torch.Size([1, 5, 12, 12])
    return kind in _SHAPES and len(got) == len(want) + 1 and got[0] == 1 and got[1:] == want


def check_answer(exercise: Exercise, student_answer: str | int) -> Feedback:
    """Mark an answer; when it is wrong, name the likely mistake.

    The answer may be written freely: ``"55"``, ``"55 x 55"``, ``"(9, 75)"``,
    ``"205,312"``, ``"27.0"``. A wrong answer is recomputed with each common
    mistake of the exercise's kind (see :data:`MISTAKES`); those that reproduce
    it are reported, each on its own line when there are several. An answer
    that is not a whole number (``"27.5"``) is not correct, and the feedback
    says why sizes are integers.

    Raises:
        SpecError: the answer holds no number.

    >>> from convcalc.exercises import generate
    >>> ex = generate(1, seed=3, kind="size")[0]
    >>> check_answer(ex, "27").correct, check_answer(ex, "27.0").correct
    (True, True)
    >>> fb = check_answer(ex, "26 x 26")
    >>> fb.mistakes
    ('forgot_plus_one',)
    >>> print(fb)
    Not quite: the answer is 27 x 27 (you wrote 26 x 26). It looks like you forgot the + 1 (the first window's position).
    >>> print(check_answer(ex, "27.5"))
    27.5 is not a whole number: output sizes are integers (the floor is taken).
    >>> check_answer(ex, "seventeen")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: the answer must contain a number such as 55 or 28 x 60. Received: student_answer='seventeen'
    """
    if not isinstance(exercise, Exercise):
        raise SpecError(f"check_answer takes an Exercise from generate(). {received({'exercise': exercise})}")
    if type(student_answer) is int:
        student_answer = str(student_answer)
    if not isinstance(student_answer, str):
        raise SpecError(f"the answer must be a string or an int. {received({'student_answer': student_answer})}")
    got, fractions = _read(student_answer, exercise.value)
    if not got and not fractions:
        raise SpecError(
            f"the answer must contain a number such as 55 or 28 x 60. {received({'student_answer': student_answer})}"
        )
    ko = exercise.lang == "ko"
    if fractions:
        why = _WHOLE_NUMBERS[exercise.kind][1 if ko else 0]
        shown = ", ".join(fractions)
        message = f"{shown}은(는) 정수가 아닙니다. {why}." if ko else f"{shown} is not a whole number: {why}."
        return Feedback(False, exercise.answer, (), message)
    if _same_answer(got, exercise.value, exercise.kind):
        return Feedback(
            True, exercise.answer, (), f"정답입니다: {exercise.answer}" if ko else f"Correct: {exercise.answer}."
        )
    found = [
        mistake
        for mistake in _KIND_MISTAKES[exercise.kind]
        if any(
            wrong != exercise.value and _same_answer(got, wrong, exercise.kind)
            for wrong in _mistaken_answers(exercise.kind, exercise.data, mistake)
        )
    ]
    shown = _by(got)
    hints = [_KIND_HINTS.get((exercise.kind, m), MISTAKES[m])[1 if ko else 0] for m in found]
    if ko:
        head = f"틀렸습니다. 정답은 {exercise.answer}입니다 (제출한 답: {shown})."
        if len(hints) == 1:
            tail = f" {hints[0]}."
        elif hints:
            tail = " 다음 실수 중 하나일 수 있습니다:" + "".join(f"\n- {hint}." for hint in hints)
        else:
            tail = " 풀이:" + "".join(f"\n    {step}" for step in exercise.steps)
    else:
        head = f"Not quite: the answer is {exercise.answer} (you wrote {shown})."
        if len(hints) == 1:
            tail = f" It looks like {hints[0]}."
        elif hints:
            tail = " It may be one of these mistakes:" + "".join(f"\n- It looks like {hint}." for hint in hints)
        else:
            tail = " Worked solution:" + "".join(f"\n    {step}" for step in exercise.steps)
    return Feedback(False, exercise.answer, tuple(found), head + tail)
