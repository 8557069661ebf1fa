"""Sheets: exercises as Markdown or LaTeX, and the settings read back from a sheet's header."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from convcalc._args import received
from convcalc._errors import SpecError
from convcalc.exercises._types import Exercise, ExerciseKind, Language, SheetFormat

_TITLES = {
    "en": (
        "Convolution exercises",
        "Answers",
        "seed {seed}, difficulty {difficulty}, kind {kind}, count {count}, lang {lang}",
    ),
    "ko": (
        "합성곱 연습 문제",
        "정답 및 풀이",
        "seed {seed}, 난이도 {difficulty}, 종류 {kind}, 문제 수 {count}, 언어 {lang}",
    ),
}

#: The header line in either language: everything generate() needs to draw the sheet again.
_HEADER = re.compile(
    r"seed (?P<seed>-?\d+), (?:difficulty|난이도) (?P<difficulty>\d+), (?:kind|종류) (?P<kind>[a-z0-9-]+), "
    r"(?:count|문제 수) (?P<count>\d+), (?:lang|언어) (?P<lang>[a-z]+)"
)


def _header(items: Sequence[Exercise]) -> str:
    if not items:
        return ""
    first = items[0]
    return _TITLES[first.lang][2].format(
        seed=first.seed,
        difficulty=first.difficulty,
        kind=first.sheet_kind or first.kind,
        count=max(e.index for e in items),
        lang=first.lang,
    )


def sheet_settings(text: str) -> dict[str, Any]:
    """The settings a sheet was drawn with, read from its header: ``generate(**settings)`` draws it again.

    Works on Markdown and LaTeX sheets in either language (the header line is
    ``seed 3, difficulty 1, kind size, count 2, lang en``).

    Raises:
        SpecError: the text has no sheet header.

    >>> from convcalc.exercises import generate
    >>> sheet = render_sheet(generate(2, seed=3, kind="pool", lang="ko"))
    >>> settings = sheet_settings(sheet)
    >>> settings
    {'seed': 3, 'difficulty': 1, 'kind': 'pool', 'count': 2, 'lang': 'ko'}
    >>> generate(**settings) == generate(2, seed=3, kind="pool", lang="ko")
    True
    >>> sheet_settings("# Homework")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: no sheet header such as 'seed 3, difficulty 1, kind size, count 5, lang en' in the text: give a sheet that convcalc exercise printed. Received: text='# Homework'
    """
    if not isinstance(text, str):
        raise SpecError(f"sheet_settings takes the text of a sheet. {received({'text': text})}")
    found = _HEADER.search(text)
    if found is None:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise SpecError(
            "no sheet header such as 'seed 3, difficulty 1, kind size, count 5, lang en' in the text: "
            f"give a sheet that convcalc exercise printed. {received({'text': shown})}"
        )
    values = found.groupdict()
    settings: dict[str, Any] = {
        "seed": int(values["seed"]),
        "difficulty": int(values["difficulty"]),
        "kind": ExerciseKind.parse(values["kind"], "kind").value,
        "count": int(values["count"]),
        "lang": Language.parse(values["lang"], "lang").value,
    }
    return settings


def render_sheet(exercises: Sequence[Exercise], fmt: str = "md", answers: bool = False) -> str:
    """An exercise sheet as Markdown or a complete LaTeX document; with ``answers``,
    an answer section with the worked solutions follows.

    >>> from convcalc.exercises import generate
    >>> print(render_sheet(generate(2, seed=3, kind="size"), answers=True))
    # Convolution exercises
    <BLANKLINE>
    seed 3, difficulty 1, kind size, count 2, lang en
    <BLANKLINE>
    1. Input image size: 55 x 55, filter size: 3x3, stride = 2, padding = 0. What is the output image size?
    2. Input image size: 27 x 27, filter size: 5x5, stride = 1, padding = 0. What is the output image size?
    <BLANKLINE>
    ## Answers
    <BLANKLINE>
    1. **27 x 27**
    <BLANKLINE>
           output size = (input size - filter size + 2 * padding) / stride + 1
           (55 - 3 + 2*0)/2 + 1 = 27
    <BLANKLINE>
    2. **23 x 23**
    <BLANKLINE>
           output size = (input size - filter size + 2 * padding) / stride + 1
           (27 - 5 + 2*0)/1 + 1 = 23
    <BLANKLINE>
    >>> render_sheet([], fmt="pdf")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: fmt must be one of 'md', 'latex'. Received: fmt='pdf'
    """
    form = SheetFormat.parse(fmt, "fmt")
    if type(answers) is not bool:
        raise SpecError(f"answers must be True or False. {received({'answers': answers})}")
    if isinstance(exercises, Exercise):
        raise SpecError(
            "render_sheet takes Exercises from generate(), in a list: for one, render_sheet([exercise]). "
            f"Received: exercises=Exercise(kind={exercises.kind!r}, index={exercises.index})"
        )
    if isinstance(exercises, (str, bytes)) or not isinstance(exercises, Iterable):
        raise SpecError(
            f"render_sheet takes Exercises from generate(), in a list. {received({'exercises': exercises})}"
        )
    items = list(exercises)
    for j, item in enumerate(items):
        if not isinstance(item, Exercise):
            raise SpecError(f"render_sheet takes Exercises from generate(). {received({f'exercises[{j}]': item})}")
    lang = items[0].lang if items else "en"
    title, answer_title, _ = _TITLES[lang]
    info = _header(items)
    if form is SheetFormat.LATEX:
        return _latex(items, lang, title, answer_title, info, answers)
    lines = [f"# {title}", ""]
    if info:
        lines += [info, ""]
    lines += [f"{e.index}. {e.question}" for e in items]
    if answers:
        lines += ["", f"## {answer_title}", ""]
        for e in items:
            marker = f"{e.index}. "
            lines += [f"{marker}**{e.answer}**", ""]
            # CommonMark: an indented code block inside a list item starts 4 columns past the item's content,
            # which begins after the marker ("1. " is 3 wide, "10. " 4); a fixed indent falls short from item 10 on
            code = " " * (len(marker) + 4)
            lines += [f"{code}{step}" for step in e.steps]
            lines.append("")
    else:
        lines.append("")
    return "\n".join(lines)


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "→": r"$\rightarrow$",
    "Σ": r"$\Sigma$",
}


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def _latex(items: list[Exercise], lang: str, title: str, answer_title: str, info: str, answers: bool) -> str:
    lines = [r"\documentclass[11pt]{article}", r"\usepackage[T1]{fontenc}", r"\usepackage[utf8]{inputenc}"]
    if lang == "ko":
        lines.append(r"\usepackage{kotex}")
    lines += [r"\usepackage[margin=2.5cm]{geometry}", r"\begin{document}", rf"\section*{{{_tex(title)}}}"]
    if info:
        lines.append(_tex(info) + r"\par")
    if items:
        lines.append(r"\begin{enumerate}")
        lines += [rf"\item {_tex(e.question)}" for e in items]
        lines.append(r"\end{enumerate}")
    if answers and items:
        lines += [rf"\section*{{{_tex(answer_title)}}}", r"\begin{enumerate}"]
        for e in items:
            lines.append(rf"\item \textbf{{{_tex(e.answer)}}}\\")
            lines += [rf"\texttt{{{_tex(step)}}}\\" for step in e.steps[:-1]]
            if e.steps:
                lines.append(rf"\texttt{{{_tex(e.steps[-1])}}}")
        lines.append(r"\end{enumerate}")
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"
