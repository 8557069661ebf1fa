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


class _NoSizeError(ValueError):
    """A mistaken computation that reached a size of 0 or less, or a padding that is not a whole number."""


def _positive(rule: Rule) -> Rule:
    """``rule``, refusing a size of 0 or less: a computation that passes through one gives no answer."""

    def checked(w: int, f: int, s: int, p: int, d: int) -> int:
        out = rule(w, f, s, p, d)
        if out <= 0:
            raise _NoSizeError(out)
        return out

    return checked


def _solve(
    kind: str,
    data: Mapping[str, Any],
    rule: Rule = _correct,
    mistake: str | None = None,
    pool_rule: Rule | None = None,
) -> tuple[int, ...]:
    """The answer of a problem under ``rule`` (a mistaken size rule) or ``mistake`` (any other);
    ``pool_rule`` is a network's rule for its pooling layers, ``rule`` when not given."""
    if kind == "size":
        return tuple(
            rule(w, f, data["stride"], data["padding"], data["dilation"])
            for w, f in zip(data["size"], data["kernel"], strict=True)
        )
    if kind == "pool":
        s = 1 if mistake == "stride_default" else data["stride"]
        return tuple(rule(w, data["kernel"], s, data["padding"], 1) for w in data["size"])
    if kind == "padding":
        return _solve_padding(data, mistake)
    if kind == "params":
        return (_solve_params(data, mistake),)
    if kind == "network":
        return _solve_network(data, rule, mistake, rule if pool_rule is None else pool_rule)
    if kind == "receptive-field":
        return (_solve_rf(data, mistake),)
    if kind == "im2col":
        return _solve_im2col(data, rule, mistake)
    raise AssertionError(kind)  # pragma: no cover


def _solve_padding(data: Mapping[str, Any], mistake: str | None) -> tuple[int, ...]:
    """P solved from ``O = (W - F + 2P)/S + 1``, or from the formula as ``mistake`` writes it: a whole P of 0
    or more, or no answer (a P of 3.5 is no padding, even if a floor would turn it into the output size)."""
    w, f, s, o = data["size"], data["kernel"], data["stride"], data["output"]
    if mistake == "single_padding":  # O = (W - F + P)/S + 1
        twice = Fraction(2 * ((o - 1) * s - w + f))
    elif mistake == "forgot_plus_one":  # O = (W - F + 2P)/S
        twice = Fraction(o * s - w + f)
    elif mistake == "precedence":  # O = 1 + W + 2P - F/S
        twice = o - 1 - w + Fraction(f, s)
    else:
        twice = Fraction((o - 1) * s - w + f)
    p = twice / 2
    if p < 0 or p.denominator != 1:
        raise _NoSizeError(p)
    return (int(p),)


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


def _solve_network(data: Mapping[str, Any], rule: Rule, mistake: str | None, pool_rule: Rule) -> tuple[int, ...]:
    c, h, w = data["input"]
    for layer in data["layers"]:
        if layer[0] == "conv":
            _, _, cout, k, s, p = layer
            h, w, c = rule(h, k, s, p, 1), rule(w, k, s, p, 1), cout
        else:
            _, k, s = layer
            h, w = pool_rule(h, k, s, 0, 1), pool_rule(w, k, s, 0, 1)
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


#: The mistakes a network's student may make in the convolutions alone, pooling right (a pool has no padding,
#: so leaving it out or adding it once changes nothing there).
_CONV_ONLY = ("forgot_plus_one", "precedence")


def _mistaken(kind: str, data: Mapping[str, Any], mistake: str) -> tuple[int, ...] | None:
    """The answer ``mistake`` gives, made in every layer; None where it gives none: a size of 0 or less on the
    way, or a padding that is not a whole number."""
    return _variant(kind, data, mistake, None)


def _mistaken_answers(kind: str, data: Mapping[str, Any], mistake: str) -> list[tuple[int, ...]]:
    """Every answer ``mistake`` gives: made in every layer, and, in a network, in the convolutions alone."""
    variants = [_variant(kind, data, mistake, None)]
    if kind == "network" and mistake in _CONV_ONLY:
        variants.append(_variant(kind, data, mistake, _positive(_correct)))
    found: list[tuple[int, ...]] = []
    for answer in variants:
        if answer is not None and answer not in found:
            found.append(answer)
    return found


def _variant(kind: str, data: Mapping[str, Any], mistake: str, pool_rule: Rule | None) -> tuple[int, ...] | None:
    if kind == "pool" and mistake == "stride_default" and data.get("stride_given", True):
        return None  # the stride was written out: there was no default to get wrong
    try:
        return _solve(kind, data, _positive(_SIZE_RULES.get(mistake, _correct)), mistake, pool_rule)
    except _NoSizeError:
        return None
