"""Answers (the correct rule) and mistakes (the same rule, done wrong)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from convcalc.formulas import kernel_extent, window_count
from convcalc.params import conv_params, linear_params

#: A per-axis size rule: (W, F, S, P, D) -> out.
Rule = Callable[[int, int, int, int, int], int]


def _correct(w: int, f: int, s: int, p: int, d: int) -> int:
    out: int = window_count(w, p, p, kernel_extent(f, d), s)
    return out


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
