"""Worked steps of the size formulas, shared with ``convcalc size --steps``."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from convcalc._args import spread
from convcalc._backend import is_symbolic
from convcalc.exercises._types import Language
from convcalc.formulas import conv_output_size, conv_transpose_output_size, pool_output_size, same_padding


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


def _window_line(
    w: Any, f: int, s: int, pl: int, pr: int, *, ceil: bool = False, closed: Any = None
) -> tuple[str, Any]:
    """One axis of the textbook formula, shown with its rounding: (text, value). For a symbolic size ``w``,
    ``closed`` is the library's closed form of the axis, which ends the line."""
    span = w - f + pl + pr
    inner = f"{w} - {f} + {_pads_text(pl, pr)}"
    if span % s == 0:  # shown for stride 1 too, as the formula above it writes "/ stride"
        return f"({inner})/{s} + 1 = {span // s + 1}", span // s + 1
    value = -(-span // s) + 1 if ceil else span // s + 1
    name = "ceil" if ceil else "floor"
    if is_symbolic(span):  # a symbol: no number to round, the rounding stays in the closed form
        value = value if closed is None else closed
        return f"{name}(({inner})/{s}) + 1 = {value}", value
    return f"{name}(({inner})/{s}) + 1 = {name}({_quotient(span, s)}) + 1 = {value}", value


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
    if isinstance(value, tuple):  # a closed form such as H - 2 in brackets: (H - 2)x6
        return "x".join(f"({v})" if " " in str(v) else str(v) for v in value)
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
    ws, ks, ss, ds = (spread(v, n) for v in (size, kernel_size, stride, dilation))
    keras = convention == "keras"
    mode = padding.lower() if isinstance(padding, str) else None
    lines: list[str] = []
    outs = spread(result, n)
    if keras and mode in ("same", "causal"):
        lines.append(f"padding='{mode}' (Keras): out = ceil(W/S)")
        per = [_ceil_line(w, s, out) for w, s, out in zip(ws, ss, outs, strict=True)]
        lines += _per_axis_lines(per, _axis_labels(n))
        return _closing(lines, per, result, n)
    extents = [d * (k - 1) + 1 for k, d in zip(ks, ds, strict=True)]
    f = "F" if all(d == 1 for d in ds) else "F'"  # the formula takes the dilated extent where there is one
    if f == "F'":
        shown = {(k, d) for k, d in zip(ks, ds, strict=True)}
        for k, d in sorted(shown):
            lines.append(f"F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1} (dilated kernel)")
    if mode == "same":
        found = same_padding(size, kernel_size, 1, dilation)
        pairs = [tuple(pair) for pair in (found if n > 1 else (found,))]
        if any(pl != pr for pl, pr in pairs):
            lines.append("padding='same': total padding D*(F - 1), the odd pixel at the end")
            lines.append(f"out = (W - {f} + P_before + P_after)/S + 1")
        else:
            lines.append(
                f"padding='same': P = D*(F - 1)/2 = {pairs[0][0]}"
                if n == 1 or len(set(pairs)) == 1
                else "padding='same': P = D*(F - 1)/2 per axis"
            )
            lines.append(f"out = (W - {f} + 2P)/S + 1")
    else:
        ps = (0,) * n if mode == "valid" else spread(padding, n)
        pairs = [(p, p) for p in ps]
        lines.append(f"out = (W - {f} + 2P)/S + 1")
    per = [
        _window_line(w, e, s, pl, pr, closed=out)
        for w, e, s, (pl, pr), out in zip(ws, extents, ss, pairs, outs, strict=True)
    ]
    lines += _per_axis_lines(per, _axis_labels(n))
    return _closing(lines, per, result, n)


def _ceil_line(w: Any, s: int, closed: Any) -> tuple[str, Any]:
    """``ceil(W/S)`` on one axis: (text, value); a decimal quotient is shown before it is rounded up, a
    fraction (which would repeat ``W/S``) is not, and a symbolic size ends with the library's closed form."""
    if w % s == 0:
        return f"ceil({w}/{s}) = {w // s}", w // s
    if is_symbolic(w):
        return f"ceil({w}/{s}) = {closed}", closed
    value = -(-w // s)
    shown = _quotient(w, s)
    if shown == f"{w}/{s}":
        return f"ceil({w}/{s}) = {value}", value
    return f"ceil({w}/{s}) = ceil({shown}) = {value}", value


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
    ws, ks, ds = (spread(v, n) for v in (size, kernel_size, dilation))
    ss = ks if stride is None else spread(stride, n)
    lines: list[str] = []
    if stride is None:
        lines.append(f"stride = kernel_size = {_fmt_size(ks if n > 1 and len(set(ks)) > 1 else ks[0])} (the default)")
    mode = padding.lower() if isinstance(padding, str) else None
    final = spread(result, n)
    if convention == "keras" and mode == "same":
        lines.append("padding='same' (Keras): out = ceil(W/S)")
        per = [_ceil_line(w, s, out) for w, s, out in zip(ws, ss, final, strict=True)]
        lines += _per_axis_lines(per, _axis_labels(n))
        return _closing(lines, per, result, n)
    ps = (0,) * n if mode is not None else spread(padding, n)
    extents = [d * (k - 1) + 1 for k, d in zip(ks, ds, strict=True)]
    if any(d != 1 for d in ds):
        for k, d in sorted({(k, d) for k, d in zip(ks, ds, strict=True)}):
            lines.append(f"F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1} (dilated window)")
    f = "F" if all(d == 1 for d in ds) else "F'"  # the dilated window's extent where it has one
    lines.append(f"out = ceil((W - {f} + 2P)/S) + 1" if ceil_mode else f"out = (W - {f} + 2P)/S + 1")
    per = [
        _window_line(w, e, s, p, p, ceil=ceil_mode, closed=out)
        for w, e, s, p, out in zip(ws, extents, ss, ps, final, strict=True)
    ]
    lines += _per_axis_lines(per, _axis_labels(n))
    dropped = [
        (w, s, p, v)
        for w, s, p, (_, v), r in zip(ws, ss, ps, per, final, strict=True)
        if not is_symbolic(w) and v != r  # a symbolic axis ends with the closed form, which has the drop in it
    ]
    if ceil_mode and dropped:
        # torch drops a last window that starts at or past the end of the input, (v - 1)*S - P >= W: in the
        # right padding where it starts before W + P, else past it (with no padding, past the input itself)
        in_padding = all((v - 1) * s - p < w + p for w, s, p, v in dropped)
        where = "in the right padding" if in_padding else "past the end of the input"
        lines.append(f"the last window would start {where}, so torch drops it: out = {_fmt_size(result)}")
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
    if output_padding is None:  # torch's rule: no output padding, as conv_transpose_output_size reads None
        output_padding = 0
    n = _ndim(size, kernel_size, stride, padding, output_padding, dilation)
    ws, ks, ss, ps, ops, ds = (spread(v, n) for v in (size, kernel_size, stride, padding, output_padding, dilation))
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
    (
        "the last window would start past the end of the input, so torch drops it:",
        "마지막 window가 입력 끝을 지나서 시작하므로 torch는 그 window를 버립니다:",
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
