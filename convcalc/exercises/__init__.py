"""Exercises on convolution arithmetic, with worked solutions, in English or Korean.

:func:`generate` draws well-posed exercises from a seed (the same seed gives the
same sheet, in either language); :func:`render_sheet` prints them as Markdown or
LaTeX; :func:`check_answer` marks a student's answer and, when it is wrong,
recomputes the answer with the usual mistakes (the padding left out, ``P``
instead of ``2P``, a ceiling instead of a floor, no ``+ 1``, only the kernel
divided by the stride as in ``int(1 + H + 2*pad - FH / stride)``, the bias or
the input channels forgotten) to say which one was probably made.

The worked-step helpers (:func:`conv_steps`, :func:`pool_steps`,
:func:`conv_transpose_steps`) are what ``convcalc size --steps`` prints.

Only the standard library and convcalc's integer formulas are used here: no
sympy, numpy or torch.

The package holds one module per job: ``_types`` (the vocabularies and the
records), ``_steps`` (worked steps), ``_draw`` (a problem's numbers),
``_answers`` (the rule and the mistakes), ``_words`` (questions and solutions
in either language), ``_generate``, ``_check`` and ``_sheet``.
"""

from __future__ import annotations

from convcalc.exercises._answers import _KIND_MISTAKES as _KIND_MISTAKES
from convcalc.exercises._answers import _mistaken as _mistaken
from convcalc.exercises._check import check_answer
from convcalc.exercises._generate import _build as _build
from convcalc.exercises._generate import generate
from convcalc.exercises._sheet import render_sheet, sheet_settings
from convcalc.exercises._steps import conv_steps, conv_transpose_steps, pool_steps
from convcalc.exercises._types import MISTAKES, Exercise, ExerciseKind, Feedback, Language
from convcalc.exercises._types import SheetFormat as SheetFormat

__all__ = [
    "MISTAKES",
    "Exercise",
    "ExerciseKind",
    "Feedback",
    "Language",
    "check_answer",
    "conv_steps",
    "conv_transpose_steps",
    "generate",
    "pool_steps",
    "render_sheet",
    "sheet_settings",
]
