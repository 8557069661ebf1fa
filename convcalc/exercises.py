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
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc._args import received
from convcalc._enums import _Vocabulary
from convcalc._errors import SpecError
from convcalc.formulas import conv_output_size, conv_transpose_output_size, pool_output_size, same_padding
from convcalc.params import conv_params, linear_params

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


class ExerciseKind(_Vocabulary):
    """What an exercise asks for."""

    SIZE = "size"
    PADDING = "padding"
    PARAMS = "params"
    POOL = "pool"
    NETWORK = "network"
    RECEPTIVE_FIELD = "receptive-field"
    IM2COL = "im2col"
    MIXED = "mixed"


class Language(_Vocabulary):
    """The language of questions, solutions and feedback."""

    EN = "en"
    KO = "ko"


class SheetFormat(_Vocabulary):
    """Formats of :func:`render_sheet`."""

    MD = "md"
    LATEX = "latex"


#: The mistakes :func:`check_answer` recognises: code -> (English, Korean) explanation.
MISTAKES: dict[str, tuple[str, str]] = {
    "forgot_padding": (
        "you left out the padding: the formula adds 2P",
        "padding을 빠뜨린 것 같습니다. 식에 2P를 더해야 합니다",
    ),
    "single_padding": (
        "you added the padding once (P); it is added on both sides (2P)",
        "padding을 한 번(P)만 더한 것 같습니다. padding은 양쪽에 붙으므로 2P입니다",
    ),
    "ceil_instead_of_floor": (
        "you rounded up; the output size rounds down (floor)",
        "올림을 한 것 같습니다. 나누어떨어지지 않으면 소수점은 버립니다(floor)",
    ),
    "forgot_plus_one": (
        "you forgot the + 1 (the first window's position)",
        "+ 1을 빠뜨린 것 같습니다 (첫 번째 필터 위치)",
    ),
    "precedence": (
        "you divided only the kernel size by the stride, as in int(1 + H + 2*pad - FH / stride): "
        "the whole (W - F + 2P) is divided by S",
        "필터 크기만 stride로 나눈 것 같습니다 (int(1 + H + 2*pad - FH / stride)의 연산자 우선순위 실수). "
        "(W - F + 2P) 전체를 stride로 나눠야 합니다",
    ),
    "ignored_stride": (
        "you did not divide by the stride",
        "stride로 나누지 않은 것 같습니다",
    ),
    "stride_default": (
        "you used stride 1: a pooling layer's stride defaults to its kernel size",
        "stride를 1로 둔 것 같습니다. pooling 층의 stride 기본값은 1이 아니라 kernel_size입니다",
    ),
    "forgot_dilation": (
        "you used the kernel size without dilation: a dilated kernel spans D*(F - 1) + 1",
        "dilation을 적용하지 않은 것 같습니다. dilation이 있으면 필터가 차지하는 크기는 D*(F - 1) + 1입니다",
    ),
    "forgot_bias": (
        "you forgot the bias: one per output channel",
        "bias를 빠뜨린 것 같습니다. 출력 채널마다 1개씩 있습니다",
    ),
    "forgot_input_channels": (
        "you forgot the input channels: each filter spans every input channel",
        "입력 채널 수를 곱하지 않은 것 같습니다. 필터 하나는 입력 채널 전체에 걸쳐 있습니다",
    ),
    "ignored_groups": (
        "you ignored groups: each filter sees only C_in / groups channels",
        "groups를 무시한 것 같습니다. 필터 하나는 C_in / groups개 채널만 봅니다",
    ),
    "forgot_batch": (
        "you left out the batch size N: the matrix has one row per window of every sample",
        "배치 크기 N을 곱하지 않은 것 같습니다. 모든 데이터의 필터 위치마다 한 행씩 있습니다",
    ),
    "forgot_channels": (
        "you forgot to multiply by the number of channels",
        "채널 수를 곱하지 않은 것 같습니다",
    ),
    "ignored_strides": (
        "you added the kernel sizes without scaling each by the strides of the layers before it",
        "앞선 층들의 stride를 곱하지 않고 필터 크기만 더한 것 같습니다",
    ),
}


@dataclass(frozen=True)
class Exercise:
    """One exercise: the question, the answer, a worked solution and the numbers behind them.

    ``value`` is the answer as integers (``(55, 55)`` for a 55 x 55 output);
    ``data`` holds the problem's numbers so the answer can be checked
    independently; ``index`` is its 1-based position on the sheet;
    ``sheet_kind`` is the kind the sheet was drawn with (``"mixed"`` for a mix).
    """

    kind: str
    index: int
    seed: int
    difficulty: int
    lang: str
    question: str
    answer: str
    steps: tuple[str, ...]
    value: tuple[int, ...]
    data: Mapping[str, Any] = field(repr=False)
    sheet_kind: str = ""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``correct``, the ``expected`` answer, the ``mistakes``
    that reproduce a wrong answer (codes of :data:`MISTAKES`) and a ``message``."""

    correct: bool
    expected: str
    mistakes: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- #
# Worked steps (shared with ``convcalc size --steps``)
# --------------------------------------------------------------------------- #


def _quotient(num: int, den: int) -> str:
    """``num / den`` written exactly: an int, a terminating decimal, or a fraction."""
    q = Fraction(num, den)
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        digits = 0
        while (q * 10**digits).denominator != 1:
            digits += 1
        return f"{float(q):.{digits}f}"
    return f"{q.numerator}/{q.denominator}"


def _pads_text(pl: int, pr: int) -> str:
    return f"2*{pl}" if pl == pr else f"{pl} + {pr}"


def _window_line(w: int, f: int, s: int, pl: int, pr: int, *, ceil: bool = False) -> tuple[str, int]:
    """One axis of the textbook formula, shown with its rounding: (text, value)."""
    span = w - f + pl + pr
    inner = f"{w} - {f} + {_pads_text(pl, pr)}"
    if span % s == 0:  # shown for stride 1 too, as the formula above it writes "/ stride"
        return f"({inner})/{s} + 1 = {span // s + 1}", span // s + 1
    value = -(-span // s) + 1 if ceil else span // s + 1
    name = "ceil" if ceil else "floor"
    return f"{name}(({inner})/{s}) + 1 = {name}({_quotient(span, s)}) + 1 = {value}", value


def _axes(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


def _ndim(*values: Any) -> int:
    lengths = {len(v) for v in values if isinstance(v, (tuple, list))}
    return lengths.pop() if len(lengths) == 1 else 1


def _axis_labels(n: int) -> list[str]:
    return ["H", "W"] if n == 2 else ["D", "H", "W"] if n == 3 else [f"axis {j}" for j in range(n)]


def _per_axis_lines(lines: list[tuple[str, int]], labels: list[str]) -> list[str]:
    if len({text for text, _ in lines}) == 1:
        return [lines[0][0]]
    return [f"{label}: {text}" for label, (text, _) in zip(labels, lines, strict=True)]


def _fmt_size(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def conv_steps(
    size: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    *,
    convention: str = "torch",
    lang: str = "en",
) -> list[str]:
    """The worked calculation of a convolution's output size, one line per step.

    Numbers only (per-axis tuples allowed); the result is checked against
    :func:`convcalc.conv_output_size`, whose errors it raises. ``lang="ko"``
    writes the words of the steps in Korean (the formulas stay as they are).

    >>> for line in conv_steps(227, 11, 4):
    ...     print(line)
    out = (W - F + 2P)/S + 1
    (227 - 11 + 2*0)/4 + 1 = 55
    >>> print(conv_steps(64, 7, 2)[-1])
    floor((64 - 7 + 2*0)/2) + 1 = floor(28.5) + 1 = 29
    >>> print("\\n".join(conv_steps((32, 64), 5)))
    out = (W - F + 2P)/S + 1
    H: (32 - 5 + 2*0)/1 + 1 = 28
    W: (64 - 5 + 2*0)/1 + 1 = 60
    out = 28x60
    >>> print(conv_steps(32, 3, dilation=2, lang="ko")[0])
    F' = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5 (dilation을 적용한 필터 크기)
    >>> conv_steps(4, 5)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: kernel_size=5 is larger than the padded input 4 + 2*0 = 4. An input of at least 5 fits, or padding >= 1. Received: size=4, kernel_size=5, stride=1, padding=0, dilation=1
    """
    language = Language.parse(lang, "lang")
    return _localise(_conv_steps(size, kernel_size, stride, padding, dilation, convention), language)


def _conv_steps(size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, convention: str) -> list[str]:
    result = conv_output_size(size, kernel_size, stride, padding, dilation, convention=convention)
    n = _ndim(size, kernel_size, stride, padding, dilation)
    ws, ks, ss, ds = (_axes(v, n) for v in (size, kernel_size, stride, dilation))
    keras = convention == "keras"
    mode = padding.lower() if isinstance(padding, str) else None
    lines: list[str] = []
    if keras and mode in ("same", "causal"):
        lines.append(f"padding='{mode}' (Keras): out = ceil(W/S)")
        per = [(f"ceil({w}/{s}) = {_ceil_text(w, s)}", -(-w // s)) for w, s in zip(ws, ss, strict=True)]
        lines += _per_axis_lines(per, _axis_labels(n))
        return _closing(lines, per, result, n)
    extents = [d * (k - 1) + 1 for k, d in zip(ks, ds, strict=True)]
    if any(d != 1 for d in ds):
        shown = {(k, d) for k, d in zip(ks, ds, strict=True)}
        for k, d in sorted(shown):
            lines.append(f"F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1} (dilated kernel)")
    if mode == "same":
        found = same_padding(size, kernel_size, 1, dilation)
        pairs = [tuple(pair) for pair in (found if n > 1 else (found,))]
        if any(pl != pr for pl, pr in pairs):
            lines.append("padding='same': total padding D*(F - 1), the odd pixel at the end")
            lines.append("out = (W - F + P_before + P_after)/S + 1")
        else:
            lines.append(
                f"padding='same': P = D*(F - 1)/2 = {pairs[0][0]}"
                if n == 1 or len(set(pairs)) == 1
                else "padding='same': P = D*(F - 1)/2 per axis"
            )
            lines.append("out = (W - F + 2P)/S + 1")
    else:
        ps = (0,) * n if mode == "valid" else _axes(padding, n)
        pairs = [(p, p) for p in ps]
        lines.append("out = (W - F + 2P)/S + 1")
    per = [_window_line(w, e, s, pl, pr) for w, e, s, (pl, pr) in zip(ws, extents, ss, pairs, strict=True)]
    lines += _per_axis_lines(per, _axis_labels(n))
    return _closing(lines, per, result, n)


def _ceil_text(w: int, s: int) -> str:
    if w % s == 0:
        return str(w // s)
    return f"ceil({_quotient(w, s)}) = {-(-w // s)}"


def _closing(lines: list[str], per: list[tuple[str, int]], result: Any, n: int) -> list[str]:
    if n > 1 and len({text for text, _ in per}) > 1:
        lines.append(f"out = {_fmt_size(result)}")
    return lines


def pool_steps(
    size: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    convention: str = "torch",
    lang: str = "en",
) -> list[str]:
    """The worked calculation of a pooling layer's output size (``lang="ko"``: in Korean).

    >>> print("\\n".join(pool_steps(28, 2)))
    stride = kernel_size = 2 (the default)
    out = (W - F + 2P)/S + 1
    (28 - 2 + 2*0)/2 + 1 = 14
    >>> print("\\n".join(pool_steps(5, 2, 2, padding=1, ceil_mode=True)))
    out = ceil((W - F + 2P)/S) + 1
    ceil((5 - 2 + 2*1)/2) + 1 = ceil(2.5) + 1 = 4
    the last window would start in the right padding, so torch drops it: out = 3
    """
    language = Language.parse(lang, "lang")
    lines = _pool_steps(size, kernel_size, stride, padding, dilation, ceil_mode, convention)
    return _localise(lines, language)


def _pool_steps(
    size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, convention: str
) -> list[str]:
    result = pool_output_size(size, kernel_size, stride, padding, dilation, ceil_mode, convention=convention)
    n = _ndim(size, kernel_size, stride, padding, dilation)
    ws, ks, ds = (_axes(v, n) for v in (size, kernel_size, dilation))
    ss = ks if stride is None else _axes(stride, n)
    lines: list[str] = []
    if stride is None:
        lines.append(f"stride = kernel_size = {_fmt_size(ks if n > 1 and len(set(ks)) > 1 else ks[0])} (the default)")
    mode = padding.lower() if isinstance(padding, str) else None
    if convention == "keras" and mode == "same":
        lines.append("padding='same' (Keras): out = ceil(W/S)")
        per = [(f"ceil({w}/{s}) = {_ceil_text(w, s)}", -(-w // s)) for w, s in zip(ws, ss, strict=True)]
        lines += _per_axis_lines(per, _axis_labels(n))
        return _closing(lines, per, result, n)
    ps = (0,) * n if mode is not None else _axes(padding, n)
    extents = [d * (k - 1) + 1 for k, d in zip(ks, ds, strict=True)]
    if any(d != 1 for d in ds):
        for k, d in sorted({(k, d) for k, d in zip(ks, ds, strict=True)}):
            lines.append(f"F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1} (dilated window)")
    lines.append("out = ceil((W - F + 2P)/S) + 1" if ceil_mode else "out = (W - F + 2P)/S + 1")
    per = [_window_line(w, e, s, p, p, ceil=ceil_mode) for w, e, s, p in zip(ws, extents, ss, ps, strict=True)]
    lines += _per_axis_lines(per, _axis_labels(n))
    final = _axes(result, n)
    if ceil_mode and any(v != r for (_, v), r in zip(per, final, strict=True)):
        lines.append(f"the last window would start in the right padding, so torch drops it: out = {_fmt_size(result)}")
        return lines
    return _closing(lines, per, result, n)


def conv_transpose_steps(
    size: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    dilation: Any = 1,
    *,
    lang: str = "en",
) -> list[str]:
    """The worked calculation of a transposed convolution's output size (torch's rule;
    ``lang="ko"``: in Korean).

    >>> print("\\n".join(conv_transpose_steps(4, 3, 2, 1, 1)))
    out = (W - 1)*S - 2P + D*(F - 1) + OP + 1
    (4 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 8
    """
    language = Language.parse(lang, "lang")
    result = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    n = _ndim(size, kernel_size, stride, padding, output_padding, dilation)
    ws, ks, ss, ps, ops, ds = (_axes(v, n) for v in (size, kernel_size, stride, padding, output_padding, dilation))
    lines = ["out = (W - 1)*S - 2P + D*(F - 1) + OP + 1"]
    per = []
    for w, k, s, p, op, d in zip(ws, ks, ss, ps, ops, ds, strict=True):
        value = (w - 1) * s - 2 * p + d * (k - 1) + op + 1
        per.append((f"({w} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {op} + 1 = {value}", value))
    lines += _per_axis_lines(per, _axis_labels(n))
    return _localise(_closing(lines, per, result, n), language)


#: The words of the worked steps in Korean; the formulas and numbers stay as they are.
_STEP_WORDS_KO = (
    (" (dilated kernel)", " (dilation을 적용한 필터 크기)"),
    (" (dilated window)", " (dilation을 적용한 window 크기)"),
    (" (the default)", " (기본값)"),
    ("total padding D*(F - 1), the odd pixel at the end", "전체 padding은 D*(F - 1), 홀수이면 남는 1픽셀은 뒤쪽"),
    (" per axis", " (축마다)"),
    (
        "the last window would start in the right padding, so torch drops it:",
        "마지막 window가 오른쪽 padding에서 시작하므로 torch는 그 window를 버립니다:",
    ),
)


def _localise(lines: list[str], lang: Language) -> list[str]:
    if lang is not Language.KO:
        return lines
    out = []
    for line in lines:
        for english, korean in _STEP_WORDS_KO:
            line = line.replace(english, korean)
        out.append(re.sub(r"^axis (\d+):", r"축 \1:", line))
    return out


# --------------------------------------------------------------------------- #
# Problems: numbers first (language-independent), words afterwards
# --------------------------------------------------------------------------- #


def _draw_size(rng: random.Random, difficulty: int) -> dict[str, Any]:
    """A convolution: sizes built backwards from the output so the division is exact (or a stated floor)."""
    if difficulty == 1:
        f = rng.choice([1, 3, 3, 5, 5, 7, 11])
        s = rng.choice([1, 1, 2, 4] if f == 11 else [1, 1, 2])
        p = rng.choice([0, 0, 1, 2]) if f > 1 else 0
        o = rng.randint(4, 32 if s == 1 else 60)
        w = (o - 1) * s + f - 2 * p
        return {"size": (w, w), "kernel": (f, f), "stride": s, "padding": p, "dilation": 1, "floor": False}
    square = rng.random() < (0.6 if difficulty == 2 else 0.4)
    f = rng.choice([3, 3, 5, 5, 7, 11])
    fw = f if difficulty == 2 or rng.random() < 0.7 else rng.choice([1, 3, 5])
    s = rng.choice([1, 2, 2, 3, 4])
    p = rng.randint(0, min(3, f // 2 + 1))
    d = 1 if difficulty == 2 or rng.random() < 0.6 else rng.choice([2, 3])
    floor = s > 1 and rng.random() < 0.35
    sizes = []
    oh = rng.randint(3, 64 if difficulty == 2 else 128)
    ow = oh if square else rng.randint(3, 64 if difficulty == 2 else 128)
    rest = rng.randint(1, s - 1) if floor else 0
    for o, k in ((oh, f), (ow, fw)):
        extent = d * (k - 1) + 1
        w = (o - 1) * s + extent - 2 * p + rest
        while w < 1 or w + 2 * p < extent:
            w += s
        sizes.append(w)
    if square and f == fw:
        sizes[1] = sizes[0]
    return {"size": tuple(sizes), "kernel": (f, fw), "stride": s, "padding": p, "dilation": d, "floor": floor}


def _draw_padding(rng: random.Random, difficulty: int) -> dict[str, Any]:
    f = rng.choice([3, 5, 7] if difficulty == 1 else [3, 5, 7, 9, 11])
    s = 1 if difficulty == 1 else rng.choice([1, 2] if difficulty == 2 else [1, 2, 3, 4])
    p = rng.randint(0, (f - 1) // 2 if difficulty == 1 else min(4, f))
    if difficulty == 1:
        w = rng.choice([8, 14, 16, 28, 32, 56, 64, 112, 224])
        p = (f - 1) // 2 if rng.random() < 0.7 else p
    else:
        o = rng.randint(2, 80)
        w = (o - 1) * s + f - 2 * p
        while w < 2:
            w += s
            o += 1
    out = (w - f + 2 * p) // s + 1
    if (w - f + 2 * p) % s:
        w -= (w - f + 2 * p) % s  # keep it exact: P must be the unique integer solution
        out = (w - f + 2 * p) // s + 1
    return {"size": w, "kernel": f, "stride": s, "output": out, "padding": p}


def _draw_pool(rng: random.Random, difficulty: int) -> dict[str, Any]:
    op = rng.choice(["max", "max", "avg"])
    if difficulty == 1:
        k = rng.choice([2, 2, 3])
        o = rng.randint(2, 56)
        w = o * k
        return {"size": (w, w), "kernel": k, "stride": k, "padding": 0, "op": op, "stride_given": True, "floor": False}
    k = rng.choice([2, 3, 3, 5])
    s = rng.choice([k, k, 1, 2]) if difficulty == 3 else rng.choice([k, k, 2])
    p = rng.randint(0, k // 2) if difficulty == 3 else 0
    floor = s > 1 and rng.random() < 0.4
    square = difficulty == 2 or rng.random() < 0.5
    dims = []
    for _ in range(1 if square else 2):
        o = rng.randint(2, 60)
        w = (o - 1) * s + k - 2 * p + (rng.randint(1, s - 1) if floor else 0)
        dims.append(w)
    size = (dims[0], dims[0]) if square else (dims[0], dims[1])
    return {
        "size": size,
        "kernel": k,
        "stride": s,
        "padding": p,
        "op": op,
        "stride_given": s != k or rng.random() < 0.5,
        "floor": floor,
    }


def _draw_params(rng: random.Random, difficulty: int) -> dict[str, Any]:
    layer = rng.choice(["conv", "conv", "linear"] if difficulty < 3 else ["conv", "conv", "linear", "depthwise"])
    bias = difficulty == 1 or rng.random() < 0.7
    if layer == "linear":
        fin = rng.choice([16, 84, 120, 128, 256, 400, 512, 800, 1024, 2048, 4096, 9216])
        fout = rng.choice([2, 10, 64, 84, 100, 120, 256, 512, 1000, 4096])
        return {"layer": "linear", "in": fin, "out": fout, "bias": bias}
    cin = rng.choice([1, 3, 3, 16, 32, 64] if difficulty == 1 else [1, 3, 6, 16, 32, 64, 96, 128, 256])
    f = rng.choice([1, 3, 3, 5, 7] if difficulty > 1 else [3, 5])
    if layer == "depthwise":
        cin = rng.choice([16, 32, 64, 128])
        return {"layer": "conv", "in": cin, "out": cin, "kernel": (f, f), "bias": bias, "groups": cin}
    cout = rng.choice([4, 6, 8, 16, 32, 64, 128, 256])
    fw = f if difficulty < 3 or rng.random() < 0.7 else rng.choice([1, 3, 5])
    return {"layer": "conv", "in": cin, "out": cout, "kernel": (f, fw), "bias": bias, "groups": 1}


def _draw_network(rng: random.Random, difficulty: int) -> dict[str, Any]:
    blocks = {1: 1, 2: 2, 3: rng.choice([2, 3])}[difficulty]
    layers: list[tuple[Any, ...]] = []
    cin = rng.choice([1, 1, 3]) if difficulty == 1 else rng.choice([1, 3])
    c = cin
    for _ in range(blocks):
        cout = rng.choice([4, 5, 6, 8, 16, 32, 64])
        k = rng.choice([3, 5]) if difficulty == 1 else rng.choice([3, 3, 5, 7])
        s = 1 if difficulty < 3 else rng.choice([1, 1, 2])
        p = 0 if difficulty == 1 else rng.choice([0, k // 2])
        layers.append(("conv", c, cout, k, s, p))
        layers.append(("pool", 2, 2))
        c = cout
    out = rng.randint(2, 12 if difficulty == 1 else 8)
    size = out
    for layer in reversed(layers):
        if layer[0] == "pool":
            size = size * layer[2]
        else:
            _, _, _, k, s, p = layer
            size = (size - 1) * s + k - 2 * p
    ask = "features" if difficulty == 3 or (difficulty == 2 and rng.random() < 0.5) else "shape"
    return {"input": (cin, size, size), "layers": tuple(layers), "ask": ask}


def _draw_receptive_field(rng: random.Random, difficulty: int) -> dict[str, Any]:
    count = {1: rng.choice([2, 3]), 2: rng.choice([3, 4]), 3: rng.choice([4, 5, 6])}[difficulty]
    layers: list[tuple[str, int, int]] = []
    for j in range(count):
        if difficulty > 1 and j % 2 == 1 and rng.random() < 0.7:
            layers.append(("pool", 2, 2))
        else:
            k = rng.choice([3, 3, 3, 5, 7]) if difficulty > 1 else rng.choice([3, 5])
            s = rng.choice([1, 1, 2]) if difficulty == 3 else 1
            layers.append(("conv", k, s))
    return {"layers": tuple(layers)}


def _draw_im2col(rng: random.Random, difficulty: int) -> dict[str, Any]:
    n = 1 if difficulty == 1 else rng.choice([1, 2, 4, 8, 10, 32])
    c = rng.choice([1, 3, 3])
    f = rng.choice([3, 5])
    fw = f if difficulty < 3 or rng.random() < 0.6 else rng.choice([2, 3, 5])
    s = 1 if difficulty < 3 else rng.choice([1, 2])
    p = 0 if difficulty == 1 else rng.choice([0, 1])
    oh = rng.randint(2, 8 if difficulty == 1 else 16)
    ow = oh if difficulty < 3 or rng.random() < 0.5 else rng.randint(2, 16)
    h = (oh - 1) * s + f - 2 * p
    w = (ow - 1) * s + fw - 2 * p
    return {"input": (n, c, h, w), "kernel": (f, fw), "stride": s, "pad": p}


_DRAW: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "size": _draw_size,
    "padding": _draw_padding,
    "params": _draw_params,
    "pool": _draw_pool,
    "network": _draw_network,
    "receptive-field": _draw_receptive_field,
    "im2col": _draw_im2col,
}

_KINDS = tuple(_DRAW)


# --------------------------------------------------------------------------- #
# Answers (the correct rule) and mistakes (the same rule, done wrong)
# --------------------------------------------------------------------------- #

#: A per-axis size rule: (W, F, S, P, D) -> out.
Rule = Callable[[int, int, int, int, int], int]


def _correct(w: int, f: int, s: int, p: int, d: int) -> int:
    return (w - (d * (f - 1) + 1) + 2 * p) // s + 1


def _rule_forgot_padding(w: int, f: int, s: int, p: int, d: int) -> int:
    return _correct(w, f, s, 0, d)


def _rule_single_padding(w: int, f: int, s: int, p: int, d: int) -> int:
    return (w - (d * (f - 1) + 1) + p) // s + 1


def _rule_ceil(w: int, f: int, s: int, p: int, d: int) -> int:
    return -(-(w - (d * (f - 1) + 1) + 2 * p) // s) + 1


def _rule_forgot_plus_one(w: int, f: int, s: int, p: int, d: int) -> int:
    return (w - (d * (f - 1) + 1) + 2 * p) // s


def _rule_precedence(w: int, f: int, s: int, p: int, d: int) -> int:
    # int(1 + H + 2*pad - FH / stride): only the kernel is divided, then truncated
    return math.trunc(1 + w + 2 * p - Fraction(d * (f - 1) + 1, s))


def _rule_ignored_stride(w: int, f: int, s: int, p: int, d: int) -> int:
    return _correct(w, f, 1, p, d)


def _rule_forgot_dilation(w: int, f: int, s: int, p: int, d: int) -> int:
    return _correct(w, f, s, p, 1)


_SIZE_RULES: dict[str, Rule] = {
    "forgot_padding": _rule_forgot_padding,
    "single_padding": _rule_single_padding,
    "ceil_instead_of_floor": _rule_ceil,
    "forgot_plus_one": _rule_forgot_plus_one,
    "precedence": _rule_precedence,
    "ignored_stride": _rule_ignored_stride,
    "forgot_dilation": _rule_forgot_dilation,
}


def _solve(kind: str, data: Mapping[str, Any], rule: Rule = _correct, mistake: str | None = None) -> tuple[int, ...]:
    """The answer of a problem under ``rule`` (a mistaken size rule) or ``mistake`` (any other)."""
    if kind == "size":
        return tuple(
            rule(w, f, data["stride"], data["padding"], data["dilation"])
            for w, f in zip(data["size"], data["kernel"], strict=True)
        )
    if kind == "pool":
        s = 1 if mistake == "stride_default" else data["stride"]
        return tuple(rule(w, data["kernel"], s, data["padding"], 1) for w in data["size"])
    if kind == "padding":
        return _solve_padding(data, rule)
    if kind == "params":
        return (_solve_params(data, mistake),)
    if kind == "network":
        return _solve_network(data, rule, mistake)
    if kind == "receptive-field":
        return (_solve_rf(data, mistake),)
    if kind == "im2col":
        return _solve_im2col(data, rule, mistake)
    raise AssertionError(kind)  # pragma: no cover


def _solve_padding(data: Mapping[str, Any], rule: Rule) -> tuple[int, ...]:
    w, f, s, o = data["size"], data["kernel"], data["stride"], data["output"]
    for p in range(2 * (f + s) + 2):
        if rule(w, f, s, p, 1) == o and (rule is not _correct or (w - f + 2 * p) % s == 0):
            return (p,)
    return (-1,)


def _solve_params(data: Mapping[str, Any], mistake: str | None) -> int:
    bias = data["bias"] and mistake != "forgot_bias"
    if data["layer"] == "linear":
        return int(linear_params(data["in"], data["out"], bias=bias))
    cin, cout, groups = data["in"], data["out"], data["groups"]
    if mistake == "forgot_input_channels":
        cin, groups = 1, 1
    elif mistake == "ignored_groups":
        groups = 1
    return int(conv_params(cin, cout, tuple(data["kernel"]), groups=groups, bias=bias))


def _solve_network(data: Mapping[str, Any], rule: Rule, mistake: str | None) -> tuple[int, ...]:
    c, h, w = data["input"]
    for layer in data["layers"]:
        if layer[0] == "conv":
            _, _, cout, k, s, p = layer
            h, w, c = rule(h, k, s, p, 1), rule(w, k, s, p, 1), cout
        else:
            _, k, s = layer
            h, w = rule(h, k, s, 0, 1), rule(w, k, s, 0, 1)
    if data["ask"] == "features":
        return (h * w if mistake == "forgot_channels" else c * h * w,)
    return (c, h, w)


def _solve_rf(data: Mapping[str, Any], mistake: str | None) -> int:
    size, jump = 1, 1
    for _, k, s in data["layers"]:
        size += (k - 1) * (1 if mistake == "ignored_strides" else jump)
        jump *= s
    return size - 1 if mistake == "forgot_plus_one" else size


def _solve_im2col(data: Mapping[str, Any], rule: Rule, mistake: str | None) -> tuple[int, ...]:
    n, c, h, w = data["input"]
    fh, fw = data["kernel"]
    s, p = data["stride"], data["pad"]
    oh, ow = rule(h, fh, s, p, 1), rule(w, fw, s, p, 1)
    rows = (1 if mistake == "forgot_batch" else n) * oh * ow
    cols = (1 if mistake == "forgot_input_channels" else c) * fh * fw
    return (rows, cols)


#: The mistakes worth checking for each kind.
_KIND_MISTAKES: dict[str, tuple[str, ...]] = {
    "size": (
        "forgot_padding",
        "single_padding",
        "ceil_instead_of_floor",
        "forgot_plus_one",
        "precedence",
        "ignored_stride",
        "forgot_dilation",
    ),
    "padding": ("single_padding", "forgot_plus_one", "precedence"),
    "pool": (
        "stride_default",
        "forgot_padding",
        "single_padding",
        "ceil_instead_of_floor",
        "forgot_plus_one",
        "precedence",
        "ignored_stride",
    ),
    "params": ("forgot_bias", "forgot_input_channels", "ignored_groups"),
    "network": ("forgot_padding", "single_padding", "forgot_plus_one", "precedence", "forgot_channels"),
    "receptive-field": ("ignored_strides", "forgot_plus_one"),
    "im2col": (
        "forgot_batch",
        "forgot_input_channels",
        "forgot_padding",
        "forgot_plus_one",
        "precedence",
        "single_padding",
    ),
}


def _mistaken(kind: str, data: Mapping[str, Any], mistake: str) -> tuple[int, ...] | None:
    if kind == "pool" and mistake == "stride_default" and data.get("stride_given", True):
        return None  # the stride was written out: there was no default to get wrong
    rule = _SIZE_RULES.get(mistake, _correct)
    try:
        return _solve(kind, data, rule, mistake)
    except (ValueError, ZeroDivisionError):  # a rule gone wrong can leave a size at 0 or below
        return None


# --------------------------------------------------------------------------- #
# Words
# --------------------------------------------------------------------------- #


def _by(size: Sequence[int]) -> str:
    return " x ".join(str(v) for v in size)


def _text_size(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    h, w = data["size"]
    kh, kw = data["kernel"]
    s, p, d = data["stride"], data["padding"], data["dilation"]
    dil = f", dilation = {d}" if d != 1 else ""
    if lang == "ko":
        q = (
            f"입력 이미지 크기: {h} x {w}, 필터 크기: {kh}x{kw}, stride = {s}, padding = {p}{dil}일 때 "
            f"출력 이미지 크기는?"
        )
        if data["floor"]:
            q += " (계산 결과가 소수이면 소수점은 버린다.)"
        head = ["출력 크기 = (입력 크기 - 필터 크기 + 2 * padding) / stride + 1"]
    else:
        q = (
            f"Input image size: {h} x {w}, filter size: {kh}x{kw}, stride = {s}, padding = {p}{dil}. "
            f"What is the output image size?"
        )
        if data["floor"]:
            q += " (Round down when the division is not exact, as PyTorch does.)"
        head = ["output size = (input size - filter size + 2 * padding) / stride + 1"]
    lines = []
    if d != 1:
        for k in sorted({kh, kw}):
            label = "dilation을 적용한 필터 크기" if lang == "ko" else "dilated filter size"
            lines.append(f"{label}: F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1}")
    per = [_window_line(x, d * (k - 1) + 1, s, p, p) for x, k in ((h, kh), (w, kw))]
    lines += _per_axis_lines(per, ["H", "W"])
    return q, head + lines


def _text_padding(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    w, f, s, o, p = data["size"], data["kernel"], data["stride"], data["output"], data["padding"]
    if lang == "ko":
        q = (
            f"입력 이미지 크기: {w} x {w}, 필터 크기: {f}x{f}, stride = {s}, 출력 이미지 크기: {o} x {o}일 때 "
            f"padding은 얼마인가? (상하좌우 같은 padding, (입력 크기 - 필터 크기 + 2 * padding)은 stride로 "
            f"나누어떨어진다.)"
        )
        lines = [
            "출력 크기 = (입력 크기 - 필터 크기 + 2 * padding) / stride + 1에서 padding을 구하면",
            "padding = ((출력 크기 - 1) * stride - 입력 크기 + 필터 크기) / 2",
        ]
    else:
        q = (
            f"Input image size: {w} x {w}, filter size: {f}x{f}, stride = {s}. What padding P (the same on "
            f"every side) gives an output image of {o} x {o}, with (W - F + 2P) divisible by the stride?"
        )
        lines = ["output = (W - F + 2P)/S + 1, solved for P:", "P = ((output - 1)*S - W + F)/2"]
    lines.append(f"(({o} - 1)*{s} - {w} + {f})/2 = {2 * p}/2 = {p}")
    check = _window_line(w, f, s, p, p)[0]
    lines.append(("검산: " if lang == "ko" else "check: ") + check)
    lines.append(f"padding = {p}" if lang == "ko" else f"P = {p}")
    return q, lines


def _text_pool(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    h, w = data["size"]
    k, s, p = data["kernel"], data["stride"], data["padding"]
    name = "MaxPool2d" if data["op"] == "max" else "AvgPool2d"
    args = [f"kernel_size={k}"]
    if data["stride_given"]:
        args.append(f"stride={s}")
    if p:
        args.append(f"padding={p}")
    layer = f"nn.{name}({', '.join(args)})"
    if lang == "ko":
        q = f"입력 이미지 크기: {h} x {w}, 풀링 층: {layer}일 때 출력 이미지 크기는?"
        if data["floor"]:
            q += " (소수점은 버린다.)"
        lines = [] if data["stride_given"] else [f"stride를 생략하면 stride = kernel_size = {k}"]
        lines.append("출력 크기 = (입력 크기 - kernel_size + 2 * padding) / stride + 1")
    else:
        q = f"Input image size: {h} x {w}, pooling layer: {layer}. What is the output image size?"
        if data["floor"]:
            q += " (PyTorch rounds down.)"
        lines = [] if data["stride_given"] else [f"stride left out: stride = kernel_size = {k}"]
        lines.append("output size = (input size - kernel_size + 2 * padding) / stride + 1")
    per = [_window_line(x, k, s, p, p) for x in (h, w)]
    lines += _per_axis_lines(per, ["H", "W"])
    return q, lines


def _text_params(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    bias = data["bias"]
    if data["layer"] == "linear":
        fin, fout = data["in"], data["out"]
        if lang == "ko":
            b = "bias 포함" if bias else "bias 없음"
            q = f"입력 특징 수: {fin}, 출력 특징 수: {fout}인 완전연결 층 nn.Linear({fin}, {fout})의 파라미터 수는? ({b})"
            lines = ["파라미터 수 = 입력 수 * 출력 수" + (" + 출력 수(bias)" if bias else "")]
        else:
            b = "with bias" if bias else "bias=False"
            q = f"How many parameters does the fully connected layer nn.Linear({fin}, {fout}) have ({b})?"
            lines = ["params = in_features * out_features" + (" + out_features (bias)" if bias else "")]
        total = fin * fout + (fout if bias else 0)
        lines.append(f"{fin} * {fout}" + (f" + {fout}" if bias else "") + f" = {total}")
        return q, lines
    cin, cout, (kh, kw), g = data["in"], data["out"], data["kernel"], data["groups"]
    extra = f", groups={g}" if g != 1 else ""
    call = f"nn.Conv2d({cin}, {cout}, {kh if kh == kw else (kh, kw)}{extra}{'' if bias else ', bias=False'})"
    if lang == "ko":
        b = "bias 포함" if bias else "bias 없음"
        q = (
            f"입력 채널: {cin}, 출력 채널: {cout}, 필터 크기: {kh}x{kw}"
            f"{f', groups = {g}' if g != 1 else ''}인 합성곱 층 {call}의 파라미터 수는? ({b})"
        )
        lines = [
            "파라미터 수 = 출력 채널 * (입력 채널 / groups) * 필터 높이 * 필터 너비"
            + (" + 출력 채널(bias)" if bias else "")
        ]
    else:
        q = f"How many parameters does the convolution {call} have?"
        lines = ["params = C_out * (C_in / groups) * FH * FW" + (" + C_out (bias)" if bias else "")]
    weights = cout * (cin // g) * kh * kw
    per = f"({cin}/{g})" if g != 1 else f"{cin}"
    lines.append(
        f"{cout} * {per} * {kh} * {kw}" + (f" + {cout}" if bias else "") + f" = {weights + (cout if bias else 0)}"
    )
    return q, lines


def _layer_call(layer: tuple[Any, ...]) -> str:
    if layer[0] == "pool":
        return f"nn.MaxPool2d({layer[1]})"
    _, cin, cout, k, s, p = layer
    extra = (f", stride={s}" if s != 1 else "") + (f", padding={p}" if p else "")
    return f"nn.Conv2d({cin}, {cout}, {k}{extra})"


def _text_network(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    c, h, w = data["input"]
    chain = " → ".join(_layer_call(layer) for layer in data["layers"])
    if lang == "ko":
        q = f"{c}채널의 {h}x{w} input(형태: 1 x {c} x {h} x {w})을 다음 층들에 차례로 통과시킨다: {chain}. "
        q += (
            "마지막 출력을 nn.Flatten()으로 펼쳐 nn.Linear에 넣으려면 in_features는 얼마여야 하는가?"
            if data["ask"] == "features"
            else "출력 형태 (C x H x W)는?"
        )
    else:
        q = f"A {c}-channel {h}x{w} input (shape 1 x {c} x {h} x {w}) goes through {chain}. "
        q += (
            "The output is flattened with nn.Flatten() and fed to nn.Linear: what must in_features be?"
            if data["ask"] == "features"
            else "What is the output shape (C x H x W)?"
        )
    lines = []
    for layer in data["layers"]:
        if layer[0] == "pool":
            _, k, s = layer
            text, h2 = _window_line(h, k, s, 0, 0)
            lines.append(f"{_layer_call(layer)}: {text} -> {c} x {h2} x {h2}")
            h = w = h2
        else:
            _, _, cout, k, s, p = layer
            text, h2 = _window_line(h, k, s, p, p)
            lines.append(f"{_layer_call(layer)}: {text} -> {cout} x {h2} x {h2}")
            c, h, w = cout, h2, h2
    if data["ask"] == "features":
        lines.append(f"in_features = {c} * {h} * {w} = {c * h * w}")
    return q, lines


def _rf_layer(layer: tuple[str, int, int], lang: str) -> str:
    kind, k, s = layer
    if kind == "pool":
        return f"{k}x{k} max pool (stride {s})"
    return f"{k}x{k} conv (stride {s})"


def _text_rf(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    chain = " → ".join(_rf_layer(layer, lang) for layer in data["layers"])
    if lang == "ko":
        q = (
            f"다음 층들을 차례로 쌓았다: {chain}. 마지막 출력의 한 픽셀이 보는 입력 영역(receptive field)의 "
            f"한 변의 크기는?"
        )
        lines = ["receptive field = 1 + Σ (k_i - 1) * (앞선 층들의 stride의 곱)"]
    else:
        q = (
            f"These layers are stacked: {chain}. How wide is the receptive field of one output pixel of the "
            f"last layer (input pixels along one side)?"
        )
        lines = ["RF = 1 + sum over layers of (k_i - 1) * (product of the strides before layer i)"]
    terms = []
    jump = 1
    for _, k, s in data["layers"]:
        terms.append(f"({k} - 1)*{jump}")
        jump *= s
    lines.append(f"1 + {' + '.join(terms)} = {_solve_rf(data, None)}")
    return q, lines


def _text_im2col(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    n, c, h, w = data["input"]
    fh, fw = data["kernel"]
    s, p = data["stride"], data["pad"]
    call = f"im2col(x, {fh}, {fw}, stride={s}, pad={p})"
    if lang == "ko":
        q = (
            f"입력 데이터 x의 형상: ({n}, {c}, {h}, {w}), 필터 크기: {fh}x{fw}, stride = {s}, pad = {p}일 때 "
            f"im2col 함수로 전개한 2차원 행렬 col = {call}의 형상은?"
        )
        lines = ["col의 형상 = (N * out_h * out_w, C * FH * FW)"]
    else:
        q = (
            f"x has shape ({n}, {c}, {h}, {w}) (N, C, H, W). What is the shape of the 2-D matrix "
            f"col = {call} (filter {fh}x{fw}, stride = {s}, pad = {p})?"
        )
        lines = ["col.shape = (N * out_h * out_w, C * FH * FW)"]
    th, oh = _window_line(h, fh, s, p, p)
    tw, ow = _window_line(w, fw, s, p, p)
    lines.append(f"out_h = {th}")
    lines.append(f"out_w = {tw}")
    lines.append(f"({n} * {oh} * {ow}, {c} * {fh} * {fw}) = ({n * oh * ow}, {c * fh * fw})")
    return q, lines


_TEXT: dict[str, Callable[[Mapping[str, Any], str], tuple[str, list[str]]]] = {
    "size": _text_size,
    "padding": _text_padding,
    "params": _text_params,
    "pool": _text_pool,
    "network": _text_network,
    "receptive-field": _text_rf,
    "im2col": _text_im2col,
}


def _answer_text(kind: str, data: Mapping[str, Any], value: tuple[int, ...]) -> str:
    if kind in ("size", "pool", "network"):
        return _by(value)
    if kind == "im2col":
        return f"({value[0]}, {value[1]})"
    return str(value[0])


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #


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
    on ``lang``, and the first ``n`` exercises do not depend on ``count``.

    Args:
        count: how many (1 to 1000).
        seed: any integer.
        kind: ``size``, ``padding``, ``params``, ``pool``, ``network``,
            ``receptive-field``, ``im2col`` or ``mixed`` (a random kind each time).
        difficulty: 1 (square inputs, stride 1 or 2, exact) to 3 (non-square
            inputs and kernels, dilation, strides up to 4, stated floors, deeper networks).
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
    seen: list[tuple[str, Any]] = []
    out = []
    for j in range(count):
        for _ in range(20):  # a few re-draws keep a sheet free of repeats
            this = rng.choice(_KINDS) if chosen is ExerciseKind.MIXED else chosen.value
            data = _DRAW[this](rng, difficulty)
            key = (this, sorted(data.items()))
            if key not in seen:
                break
        seen.append(key)
        out.append(_build(this, data, j + 1, seed, difficulty, language.value, chosen.value))
    return out


def _build(
    kind: str, data: dict[str, Any], index: int, seed: int, difficulty: int, lang: str, sheet_kind: str = ""
) -> Exercise:
    value = _solve(kind, data)
    question, steps = _TEXT[kind](data, lang)
    answer = _answer_text(kind, data, value)
    return Exercise(kind, index, seed, difficulty, lang, question, answer, tuple(steps), value, data, sheet_kind)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

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


def _read(answer: str, expected: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The integers of an answer (``6.0`` and ``6.00`` read as 6), and the numbers that are not whole."""
    text = answer
    if len(expected) == 1:
        text = re.sub(r"(?<=\d)[,_ ](?=\d{3}(?!\d))", "", text)  # 205,312 and 205 312 are one number
    values: list[int] = []
    fractions: list[str] = []
    for token in _NUMBER.findall(text):
        whole, _, decimals = token.partition(".")
        if decimals.strip("0"):
            fractions.append(token)
        else:
            values.append(int(whole))
    return tuple(values), tuple(fractions)


def _same_answer(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    if got == want:
        return True
    if len(got) == 1 and len(want) > 1 and len(set(want)) == 1:
        return got[0] == want[0]  # "55" for a 55 x 55 output
    return len(got) == len(want) + 1 and got[0] == 1 and got[1:] == want  # a batch of 1 written out


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
    if _same_answer(got, exercise.value):
        return Feedback(
            True, exercise.answer, (), f"정답입니다: {exercise.answer}" if ko else f"Correct: {exercise.answer}."
        )
    found = []
    for mistake in _KIND_MISTAKES[exercise.kind]:
        wrong = _mistaken(exercise.kind, exercise.data, mistake)
        if wrong is not None and wrong != exercise.value and _same_answer(got, wrong):
            found.append(mistake)
    shown = _by(got)
    hints = [MISTAKES[m][1 if ko else 0] for m in found]
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


# --------------------------------------------------------------------------- #
# Sheets
# --------------------------------------------------------------------------- #

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
    r"seed (?P<seed>-?\d+), (?:difficulty|난이도) (?P<difficulty>\d+), (?:kind|종류) (?P<kind>[a-z-]+), "
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
    items = list(exercises)
    if not all(isinstance(e, Exercise) for e in items):
        raise SpecError("render_sheet takes Exercises from generate(). Received: exercises=...")
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
