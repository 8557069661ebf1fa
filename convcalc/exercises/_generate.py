"""Drawing a sheet of exercises from a seed."""

from __future__ import annotations

import random
from typing import Any

from convcalc._args import received
from convcalc._errors import SpecError
from convcalc.exercises._answers import _solve
from convcalc.exercises._draw import _DRAW, _KINDS
from convcalc.exercises._types import Exercise, ExerciseKind, Language
from convcalc.exercises._words import _TEXT, _answer_text

#: How many times an exercise already on the sheet is drawn again. A kind with few exercises (receptive fields at
#: difficulty 1: 12) needs many re-draws for its rarest ones; once all are on the sheet, repeats are unavoidable.
_REDRAWS = 500


def _positive(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise SpecError(f"{name} must be an integer from {low} to {high}. {received({name: value})}")
    return value


def generate(
    count: int,
    seed: int,
    *,
    kind: str = "mixed",
    difficulty: int = 1,
    lang: str = "en",
) -> list[Exercise]:
    """Draw ``count`` exercises from ``seed``: the same arguments give the same exercises.

    Every exercise is well-posed: sizes are built backwards from the answer, so
    the textbook formula divides exactly unless the question says to round down;
    a padding question has exactly one integer answer. The numbers do not depend
    on ``lang``, and the first ``n`` exercises do not depend on ``count``. No
    exercise comes twice on a sheet while the kind has enough different ones (a
    receptive field at difficulty 1 has 12).

    Args:
        count: how many (1 to 1000).
        seed: any integer.
        kind: ``size``, ``padding``, ``params``, ``pool``, ``network``,
            ``receptive-field``, ``im2col`` or ``mixed`` (a random kind each time).
        difficulty: 1 (square inputs, exact divisions; strides of 1 or 2, 4 for an
            11 x 11 filter as AlexNet's first layer, and pools whose stride is their window)
            to 3 (non-square inputs and kernels, dilation, strides up to 4, stated floors,
            deeper networks).
        lang: ``"en"`` or ``"ko"``.

    Returns:
        A list of :class:`Exercise`.

    Raises:
        SpecError: an argument out of range or not in the vocabulary.

    >>> ex = generate(3, seed=3, kind="size")
    >>> ex[0].question
    'Input image size: 55 x 55, filter size: 3x3, stride = 2, padding = 0. What is the output image size?'
    >>> ex[0].answer, ex[0].steps[-1]
    ('27 x 27', '(55 - 3 + 2*0)/2 + 1 = 27')
    >>> generate(1, seed=3, kind="size", lang="ko")[0].question
    '입력 이미지 크기: 55 x 55, 필터 크기: 3x3, stride = 2, padding = 0일 때 출력 이미지 크기는?'
    >>> generate(1, seed=3, kind="sizes")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: kind must be one of 'size', 'padding', 'params', 'pool', 'network', 'receptive-field', 'im2col', 'mixed'. Received: kind='sizes'
    """
    count = _positive(count, "count", 1, 1000)
    if type(seed) is not int:
        raise SpecError(f"seed must be an integer. {received({'seed': seed})}")
    chosen = ExerciseKind.parse(kind, "kind")
    difficulty = _positive(difficulty, "difficulty", 1, 3)
    language = Language.parse(lang, "lang")
    rng = random.Random(seed)
    seen: set[tuple[str, Any]] = set()
    out = []
    redraws = _REDRAWS
    for j in range(count):
        for _ in range(redraws):  # re-draws keep a sheet free of repeats
            this = rng.choice(_KINDS) if chosen is ExerciseKind.MIXED else chosen.value
            data = _DRAW[this](rng, difficulty)
            key = (this, tuple(sorted(data.items())))
            if key not in seen:
                break
        else:
            redraws = 1  # every exercise of the kind is on the sheet: the rest repeat, drawn once each
        seen.add(key)
        out.append(_build(this, data, j + 1, seed, difficulty, language.value, chosen.value))
    return out


def _build(
    kind: str, data: dict[str, Any], index: int, seed: int, difficulty: int, lang: str, sheet_kind: str = ""
) -> Exercise:
    value = _solve(kind, data)
    question, steps = _TEXT[kind](data, lang)
    answer = _answer_text(kind, data, value)
    return Exercise(kind, index, seed, difficulty, lang, question, answer, tuple(steps), value, data, sheet_kind)
