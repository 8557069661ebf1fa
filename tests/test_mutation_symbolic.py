"""Symbolic sizes: symbols(), and FloorForm arithmetic checked value by value against plain ints
(written to kill mutants; see docs/mutation.md).

FloorForm is private, but it is what every symbolic size is made of: each operation is checked
against the same operation on the ints it stands for, at every size from 1 to 24.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sympy

import convcalc
from convcalc import SpecError
from convcalc._symbolic import FloorForm, Undecided, as_integer_expr, to_sympy

H = convcalc.symbols("H")
XS = range(1, 25)


def value_at(form: Any, x: int) -> int:
    """A FloorForm, sympy expression or int at ``H = x``."""
    if isinstance(form, FloorForm):
        return form(x)
    if isinstance(form, int):
        return form
    return int(form.subs(H, x))


def floor_form(m: int, a: int, b: int, c: int, e: int) -> tuple[FloorForm, Any]:
    return FloorForm(H, m, a, b, c, e), lambda x: m * ((a * x + b) // c) + e


FORMS = [
    (1, 1, 0, 1, 0),
    (1, 1, -3, 2, 1),
    (2, 1, -5, 4, -1),
    (-1, 1, 2, 3, 7),
    (3, 2, 1, 3, 0),
    (1, 4, 2, 6, 0),  # gcd 2 divides out
    (2, 3, -1, 1, 5),  # c = 1: linear
    (0, 1, 3, 2, 4),  # m = 0: constant
    (1, 0, 7, 2, 1),  # a = 0: constant
]


# --------------------------------------------------------------------------- #
# symbols()
# --------------------------------------------------------------------------- #


def test_symbols_are_positive_integers() -> None:
    h, w = convcalc.symbols("H W")
    assert (str(h), str(w)) == ("H", "W")
    assert h.is_integer
    assert h.is_positive
    assert convcalc.symbols("H,W") == (h, w)
    one = convcalc.symbols("size_1")
    assert isinstance(one, sympy.Symbol)
    assert one.is_integer
    assert one.is_positive


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("", "symbols() needs at least one name such as \"H W\". Received: names=''"),
        (" , ", "symbols() needs at least one name such as \"H W\". Received: names=' , '"),
        (None, 'symbols() needs at least one name such as "H W". Received: names=None'),
        ("H 1x", "symbol names must be identifiers; '1x' is not. Received: names='H 1x'"),
        ("H,W-1", "symbol names must be identifiers; 'W-1' is not. Received: names='H,W-1'"),
    ],
)
def test_symbols_messages(names: Any, message: str) -> None:
    with pytest.raises(SpecError) as info:
        convcalc.symbols(names)
    assert str(info.value) == message


# --------------------------------------------------------------------------- #
# as_integer_expr
# --------------------------------------------------------------------------- #


def test_as_integer_expr_kinds() -> None:
    assert as_integer_expr(sympy.Integer(7)) == 7
    assert type(as_integer_expr(sympy.Integer(7))) is int
    form = as_integer_expr(2 * sympy.floor((H + 1) / 3) + 1)
    assert form == FloorForm(H, 2, 1, 1, 3, 1)
    square = as_integer_expr(H**2)
    assert square == H**2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "float is not a sympy expression"),
        (
            H / 2,
            "symbolic sizes must be integer-valued in positive integer symbols; make symbols with convcalc.symbols('H W')",
        ),
        (
            sympy.Symbol("n", integer=True) + 1,
            "symbolic sizes must be integer-valued in positive integer symbols; make symbols with convcalc.symbols('H W')",
        ),
    ],
)
def test_as_integer_expr_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        as_integer_expr(value)
    assert str(info.value) == message


def test_a_symbol_that_is_not_positive_is_refused_by_the_formulas() -> None:
    n = sympy.Symbol("n", integer=True)
    with pytest.raises(SpecError) as info:
        convcalc.conv_output_size(n, 3)
    assert str(info.value) == (
        "size: symbolic sizes must be integer-valued in positive integer symbols; make symbols with "
        "convcalc.symbols('H W'). Received: size=n"
    )


# --------------------------------------------------------------------------- #
# FloorForm: construction, parsing, printing
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("coefficients", FORMS)
def test_form_values_and_round_trip(coefficients: tuple[int, ...]) -> None:
    form, plain = floor_form(*coefficients)
    assert [form(x) for x in XS] == [plain(x) for x in XS]
    expr = form.to_sympy()
    assert [int(expr.subs(H, x)) for x in (1, 2, 3, 7, 12)] == [plain(x) for x in (1, 2, 3, 7, 12)]
    assert str(form) == str(expr) == repr(form)
    parsed = FloorForm.parse(expr) if not form.is_constant else form
    assert parsed == form
    assert hash(parsed) == hash(form)
    assert form.is_constant == (len({plain(x) for x in XS}) == 1)
    slope = plain(1000) - plain(1)
    assert form.slope_sign == (slope > 0) - (slope < 0)


def test_form_normal_forms() -> None:
    assert FloorForm(H, 1, 4, 2, 6, 0)._key() == (H, 1, 2, 1, 3, 0)
    assert FloorForm(H, 2, 3, -1, 1, 5)._key() == (H, 1, 6, 0, 1, 3)
    assert FloorForm(H, 0, 1, 3, 2, 4)._key() == (H, 1, 0, 0, 1, 4)
    assert FloorForm(H, 3, 0, 7, 2, 1)._key() == (H, 1, 0, 0, 1, 10)
    assert FloorForm(H, 2, 3, -7, 2, 1)._key() == (H, 2, 3, -7, 2, 1)
    assert FloorForm.linear(H)._key() == (H, 1, 1, 0, 1, 0)
    assert FloorForm.linear(H, 3, -2)._key() == (H, 1, 3, 0, 1, -2)
    assert FloorForm.linear(H, 3)(4) == 12


def test_form_equality() -> None:
    form = FloorForm(H, 1, 1, -3, 2, 1)
    w = convcalc.symbols("W")
    assert form == FloorForm(H, 1, 1, -3, 2, 1)
    assert form != FloorForm(w, 1, 1, -3, 2, 1)
    assert form != FloorForm(H, 1, 1, -3, 2, 2)
    assert form != FloorForm(H, 2, 1, -3, 2, 1)
    assert form != FloorForm(H, 1, 1, -2, 2, 1)
    assert form != FloorForm(H, 1, 1, -3, 3, 1)
    assert form != FloorForm(H, 1, 3, -3, 2, 1)
    assert form != form.to_sympy()
    assert len({form, FloorForm(H, 1, 1, -3, 2, 1), FloorForm(H, 1, 1, -3, 2, 2)}) == 2
    # the hash follows the coefficients, so sets and dicts of sizes spread
    assert len({hash(FloorForm(H, 1, 1, b, 2, 1)) for b in range(6)}) == 6


@pytest.mark.parametrize(
    ("expr", "key"),
    [
        (H, (H, 1, 1, 0, 1, 0)),
        (3 * H - 2, (H, 1, 3, 0, 1, -2)),
        (sympy.floor((H - 3) / 2) + 1, (H, 1, 1, -3, 2, 1)),
        (-2 * sympy.floor((3 * H + 1) / 4) - 5, (H, -2, 3, 1, 4, -5)),
        (sympy.floor(H / 2), (H, 1, 1, 0, 2, 0)),
    ],
)
def test_parse(expr: Any, key: tuple[Any, ...]) -> None:
    parsed = FloorForm.parse(expr)
    assert parsed is not None
    assert parsed._key() == key


@pytest.mark.parametrize(
    "expr",
    [
        sympy.Integer(3) + 0 * H,
        H + convcalc.symbols("W"),
        H / 2 + sympy.Rational(1, 2),
        H + sympy.floor(H / 2),
        sympy.Rational(1, 2) * sympy.floor(H / 2),
        2 * H**2,
        sympy.ceiling(H / 2),
        sympy.floor(H**2 / 2),
        sympy.floor(H / 2 + sympy.floor(H / 3)),
        sympy.floor(H / 2) + sympy.Rational(1, 2),
        sympy.floor(sympy.Rational(1, 2) * H + sympy.Rational(1, 3)) * 1,
        sympy.floor(H * sympy.Symbol("k", positive=True)),
    ],
)
def test_parse_refuses_what_has_no_form(expr: Any) -> None:
    parsed = FloorForm.parse(expr)
    if parsed is not None:  # a refusal is the point; an accepted form must still be exact
        assert [parsed(x) for x in XS] == [value_at(expr, x) for x in XS]
    else:
        assert parsed is None


def test_parse_of_a_fraction_inside_the_floor() -> None:
    parsed = FloorForm.parse(sympy.floor(sympy.Rational(1, 2) * H + sympy.Rational(1, 3)))
    assert parsed is not None
    assert [parsed(x) for x in XS] == [(3 * x + 2) // 6 for x in XS]


def test_to_sympy_of_a_linear_form() -> None:
    assert FloorForm.linear(H, 2, 3).to_sympy() == 2 * H + 3
    assert to_sympy((FloorForm.linear(H), [FloorForm.linear(H, 1, 1)], 4)) == (H, [H + 1], 4)
    assert to_sympy([FloorForm.linear(H)]) == [H]
    assert to_sympy(5) == 5


# --------------------------------------------------------------------------- #
# FloorForm: arithmetic, value by value
# --------------------------------------------------------------------------- #


def check_same(result: Any, expected: Any) -> None:
    assert [value_at(result, x) for x in XS] == [expected(x) for x in XS]


@pytest.mark.parametrize("coefficients", FORMS)
def test_arithmetic_with_ints(coefficients: tuple[int, ...]) -> None:
    form, plain = floor_form(*coefficients)
    for k in (-3, 0, 2, 5):
        check_same(form + k, lambda x, k=k: plain(x) + k)
        check_same(k + form, lambda x, k=k: plain(x) + k)
        check_same(form - k, lambda x, k=k: plain(x) - k)
        check_same(k - form, lambda x, k=k: k - plain(x))
        check_same(form * k, lambda x, k=k: plain(x) * k)
        check_same(k * form, lambda x, k=k: plain(x) * k)
        assert isinstance(form + k, FloorForm)
        assert isinstance(form * k, FloorForm)
    check_same(-form, lambda x: -plain(x))
    for s in (1, 2, 3, 4, 6):
        result = form // s
        check_same(result, lambda x, s=s: plain(x) // s)
        check_same(form % s, lambda x, s=s: plain(x) % s)
    assert form // 1 is form


@pytest.mark.parametrize("coefficients", FORMS)
def test_floor_division_that_stays_a_form(coefficients: tuple[int, ...]) -> None:
    form, _ = floor_form(*coefficients)
    if form.m in (1, -1) or form.is_constant:
        for s in (2, 3, 5):
            assert isinstance(form // s, FloorForm)


def test_floor_division_steps() -> None:
    # m = 1: floor((floor((H - 3)/2) + 1) / 2) = floor((H - 1)/4)
    assert (FloorForm(H, 1, 1, -3, 2, 1) // 2)._key() == (H, 1, 1, -1, 4, 0)
    # m = -1: floor((-floor((H + 2)/3) + 7) / 2) = -floor((floor((H + 2)/3) - 6) / 2)
    result = FloorForm(H, -1, 1, 2, 3, 7) // 2
    assert result._key() == (H, -1, 1, -16, 6, 0)
    # m divisible by the divisor: no new floor
    assert (FloorForm(H, 4, 1, 0, 3, 6) // 2)._key() == (H, 2, 1, 0, 3, 3)
    assert (FloorForm(H, 4, 1, 0, 3, 7) // 4)._key() == (H, 1, 1, 0, 3, 1)
    # a constant
    assert (FloorForm(H, 1, 0, 0, 1, 9) // 2)._key() == (H, 1, 0, 0, 1, 4)
    # m = 3 and divisor 2: no such form, sympy takes over
    assert not isinstance(FloorForm(H, 3, 1, 0, 2, 0) // 2, FloorForm)


def test_floor_division_by_forms_and_symbols() -> None:
    form, plain = floor_form(1, 1, -3, 2, 1)
    check_same(form // FloorForm.linear(H, 0, 3), lambda x: plain(x) // 3)
    assert isinstance(form // FloorForm.linear(H, 0, 3), FloorForm)
    check_same(form // H, lambda x: plain(x) // x)
    by_form = form // FloorForm.linear(H, 1, 1)
    check_same(by_form, lambda x: plain(x) // (x + 1))
    assert not isinstance(form // H, FloorForm)
    negative = form // -2
    check_same(negative, lambda x: plain(x) // -2)


def test_arithmetic_between_forms() -> None:
    form, plain = floor_form(1, 1, -3, 2, 1)
    lin, lin_plain = floor_form(1, 2, 0, 1, 3)
    const = FloorForm.linear(H, 0, 4)
    check_same(lin + FloorForm.linear(H, 3, -1), lambda x: lin_plain(x) + 3 * x - 1)
    assert isinstance(lin + FloorForm.linear(H, 3, -1), FloorForm)
    check_same(form + const, lambda x: plain(x) + 4)
    check_same(const + form, lambda x: plain(x) + 4)
    assert isinstance(form + const, FloorForm)
    assert isinstance(const + form, FloorForm)
    check_same(form + lin, lambda x: plain(x) + lin_plain(x))
    check_same(form - lin, lambda x: plain(x) - lin_plain(x))
    check_same(form * const, lambda x: plain(x) * 4)
    check_same(const * form, lambda x: plain(x) * 4)
    assert isinstance(form * const, FloorForm)
    assert isinstance(const * form, FloorForm)
    check_same(form * lin, lambda x: plain(x) * lin_plain(x))
    check_same(form * H, lambda x: plain(x) * x)
    check_same(form + H, lambda x: plain(x) + x)
    w = convcalc.symbols("W")
    mixed = FloorForm.linear(H) + FloorForm.linear(w)
    assert mixed == H + w


# --------------------------------------------------------------------------- #
# FloorForm: comparisons decided for every size, or left undecided
# --------------------------------------------------------------------------- #

OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}


@pytest.mark.parametrize("coefficients", [*FORMS, (1, 1, 5, 2, 0), (-1, 1, 0, 3, 2)])
@pytest.mark.parametrize("op", list(OPS))
def test_comparisons(coefficients: tuple[int, ...], op: str) -> None:
    form, plain = floor_form(*coefficients)
    for value in range(-4, 8):
        result = OPS[op](form, value)
        truth = [OPS[op](plain(x), value) for x in range(1, 200)]
        if result is True:
            assert all(truth), (form, op, value)
        elif result is False:
            assert not any(truth), (form, op, value)
        else:
            assert isinstance(result, Undecided)
            assert any(truth), (form, op, value)
            assert not all(truth), (form, op, value)
            assert (result.form, result.op, result.value) == (form, op, value)
            assert repr(result) == f"{form.to_sympy()} {op} {value}"


def test_comparison_with_a_constant_form_and_a_symbol() -> None:
    form = FloorForm(H, 1, 1, -3, 2, 1)
    assert (form >= FloorForm.linear(H, 0, 0)) is True
    assert isinstance(form >= FloorForm.linear(H, 0, 3), Undecided)
    assert (form >= FloorForm.linear(H, 0, 3)).value == 3
    assert (form >= H) == sympy.Ge(form.to_sympy(), H)  # a symbol is not a number: sympy keeps the relation
    assert (FloorForm.linear(H, 0, 5) >= 5) is True
    assert (FloorForm.linear(H, 0, 5) > 5) is False


def test_a_form_compared_with_another_size_is_a_sympy_relation() -> None:
    W = convcalc.symbols("W")
    h = FloorForm.linear(H)
    assert (h >= FloorForm.linear(W)) == sympy.Ge(H, W)
    assert (h > FloorForm.linear(W)) == sympy.Gt(H, W)
    assert (h <= W) == sympy.Le(H, W)
    assert (h < W + 1) == sympy.Lt(H, W + 1)
    assert (h >= H - 1) is sympy.true
    assert (h + 1 > H) is sympy.true


@pytest.mark.parametrize(
    "expr",
    [
        sympy.floor(1 / H),  # H in the denominator
        sympy.floor((H + 1) / H),
        sympy.floor(sympy.floor(H / 2) / 3),  # a floor inside the floor
        sympy.floor((H + sympy.floor(H / 2)) / 3),
        sympy.floor((H + sympy.ceiling(H / 2)) / 3),
    ],
)
def test_forms_that_parse_refuses(expr: Any) -> None:
    assert FloorForm.parse(expr) is None
