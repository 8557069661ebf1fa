"""The folded floor form of symbolic sizes, checked against integer arithmetic at many values."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc._symbolic import FloorForm, Undecided, as_integer_expr, to_sympy

H = convcalc.symbols("H")
XS = range(1, 200)

# an operation on a size, applied the same way to a FloorForm and to a plain int
ops = st.one_of(
    st.tuples(st.just("add"), st.integers(-20, 20)),
    st.tuples(st.just("mul"), st.integers(-4, 4)),
    st.tuples(st.just("floordiv"), st.integers(1, 6)),
    st.tuples(st.just("neg"), st.just(0)),
    st.tuples(st.just("rsub"), st.integers(-20, 20)),
    st.tuples(st.just("mod"), st.integers(1, 5)),
)


def apply(value: object, op: tuple[str, int]) -> object:
    name, n = op
    if name == "add":
        return value + n  # type: ignore[operator]
    if name == "mul":
        return value * n  # type: ignore[operator]
    if name == "floordiv":
        return value // n  # type: ignore[operator]
    if name == "neg":
        return -value  # type: ignore[operator]
    if name == "rsub":
        return n - value  # type: ignore[operator]
    if isinstance(value, (int, FloorForm)):
        return value % n
    # once a size has left the folded form it is plain sympy, whose Mod is not used here: sympy 1.14
    # simplifies Mod(2*Mod(H, 3), 3) to 2*Mod(H, 3), which is 4 at H = 2
    return value - n * sympy.floor(value / n)  # type: ignore[operator]


def at(value: object, x: int) -> int:
    if isinstance(value, FloorForm):
        return value(x)
    if isinstance(value, int):
        return value
    return int(to_sympy(value).subs(H, x))  # type: ignore[union-attr]


@given(st.lists(ops, min_size=1, max_size=6))
def test_form_arithmetic_equals_integer_arithmetic(sequence: list[tuple[str, int]]) -> None:
    form: object = FloorForm.linear(H)
    for op in sequence:
        form = apply(form, op)
    for x in range(1, 60):
        expected: object = x
        for op in sequence:
            expected = apply(expected, op)
        assert at(form, x) == expected, (sequence, x)


def test_floors_fold_into_one() -> None:
    size = FloorForm.linear(H)
    for _ in range(5):
        size = (size + 2 - 3) // 2 + 1  # conv 3x3, stride 2, padding 1
    assert str(size) == "floor((H - 1)/32) + 1"
    assert [size(x) for x in (1, 32, 33, 224)] == [1, 1, 2, 7]


def test_negative_multiplier_folds() -> None:
    form = (-(FloorForm.linear(H) // 2) + 5) // 3  # floor((5 - floor(H/2))/3) = -floor((floor(H/2) - 3)/3)
    assert isinstance(form, FloorForm)
    assert form.m == -1
    assert all(form(x) == (5 - x // 2) // 3 for x in XS)


def test_multiplier_that_cannot_fold_falls_back_to_sympy() -> None:
    value = (FloorForm.linear(H) // 2) * 3 // 2  # floor(3*floor(H/2)/2): no single floor holds it
    assert not isinstance(value, FloorForm)
    assert all(at(value, x) == 3 * (x // 2) // 2 for x in XS)


def test_constants_and_mixing_forms() -> None:
    constant = FloorForm(H, 1, 0, 5, 2, 1)  # floor(5/2) + 1
    assert constant.is_constant
    assert constant.e == 3
    assert (FloorForm.linear(H) + constant)(10) == 13
    assert (constant + FloorForm.linear(H))(10) == 13
    assert (FloorForm.linear(H) * constant)(10) == 30
    assert (constant * FloorForm.linear(H))(10) == 30
    assert (FloorForm.linear(H) // constant)(10) == 3
    assert (FloorForm.linear(H) + FloorForm.linear(H, 2, 1))(10) == 31
    assert (constant // 2).e == 1
    halves = FloorForm.linear(H) // 2
    assert (halves + constant)(9) == 7
    assert (constant + halves)(9) == 7
    assert ((halves * 4) // 2)(9) == 8  # the multiplier divides the divisor: no new floor
    product = FloorForm.linear(H) * FloorForm.linear(H)
    assert product == H**2
    assert at(FloorForm.linear(H) + sympy.Integer(3), 4) == 7


def test_floor_division_by_a_symbol_is_sympy() -> None:
    W = convcalc.symbols("W")
    value = FloorForm.linear(H) // W
    assert value == sympy.floor(H / W)


def test_comparisons_decide_when_they_can() -> None:
    size = FloorForm.linear(H, 1, -4)  # H - 4
    assert (size >= -3) is True
    assert (size > -4) is True
    assert isinstance(size >= 1, Undecided)
    assert (-size <= 3) is True  # 4 - H <= 3 for every H >= 1
    assert (-size > 3) is False
    assert (-size < 4) is True
    assert isinstance(size <= 10, Undecided)
    assert (FloorForm(H, 1, 0, 0, 1, 7) < 8) is True  # a constant
    assert (FloorForm(H, 1, 0, 0, 1, 7) >= 8) is False
    assert (size >= FloorForm.linear(H)) is sympy.false  # H - 4 >= H: never (sympy decides)
    assert (size >= FloorForm(H, 1, 0, 0, 1, -3)) is True
    undecided = size >= 1
    assert isinstance(undecided, Undecided)
    assert repr(undecided) == "H - 4 >= 1"


def test_equality_and_hash_are_structural() -> None:
    a = (FloorForm.linear(H) - 1) // 2 + 1
    b = (FloorForm.linear(H) - 1) // 2 + 1
    assert a == b
    assert hash(a) == hash(b)
    assert a != (FloorForm.linear(H) + 1) // 2
    assert a != "floor((H - 1)/2) + 1"


@pytest.mark.parametrize(
    ("expr", "form"),
    [
        (H, "H"),
        (3 * H - 2, "3*H - 2"),
        (sympy.floor((H - 1) / 2) + 1, "floor((H - 1)/2) + 1"),
        (2 * sympy.floor((H + 3) / 4) - 1, "2*floor((H + 3)/4) - 1"),
        (sympy.floor(H / 2 + sympy.Rational(1, 3)), "floor((3*H + 2)/6)"),
    ],
)
def test_parse_reads_the_forms_it_writes(expr: object, form: str) -> None:
    parsed = FloorForm.parse(expr)
    assert parsed is not None
    assert str(parsed) == form
    assert all(parsed(x) == int(sympy.sympify(expr).subs(H, x)) for x in XS)


@pytest.mark.parametrize(
    "expr",
    [
        H**2,
        sympy.floor(H / 2) * sympy.floor(H / 3),
        sympy.floor(sympy.floor(H / 2) / 3),
        sympy.Rational(1, 2) + sympy.floor(H / 2),
        sympy.floor(H**2 / 2),
        sympy.Rational(3, 2) * sympy.floor(H / 2),
        sympy.floor(H / 2) + sympy.floor(H / 3),
        sympy.floor(sympy.sqrt(H)),
        sympy.Integer(4),
        H + convcalc.symbols("W"),
    ],
)
def test_parse_declines_what_it_cannot_hold(expr: object) -> None:
    assert FloorForm.parse(expr) is None


def test_as_integer_expr() -> None:
    assert as_integer_expr(sympy.Integer(7)) == 7
    assert isinstance(as_integer_expr(H + 1), FloorForm)
    assert as_integer_expr(H**2) == H**2
    with pytest.raises(ValueError, match="not a sympy expression"):
        as_integer_expr(sympy.Eq(H, 1))
    with pytest.raises(ValueError, match="integer-valued in positive integer symbols"):
        as_integer_expr(H / 2)
    with pytest.raises(ValueError, match="integer-valued in positive integer symbols"):
        as_integer_expr(sympy.Symbol("n", integer=True))


def test_symbols() -> None:
    h = convcalc.symbols("h")
    assert h.is_positive
    assert h.is_integer
    a, b = convcalc.symbols("a, b")
    assert (str(a), str(b)) == ("a", "b")
    with pytest.raises(convcalc.SpecError, match="symbol names must be identifiers; '2x' is not"):
        convcalc.symbols("H 2x")
    with pytest.raises(convcalc.SpecError, match="needs at least one name"):
        convcalc.symbols(3)  # type: ignore[arg-type]


def test_to_sympy_walks_containers() -> None:
    assert to_sympy([FloorForm.linear(H), (FloorForm.linear(H, 2), 3)]) == [H, (2 * H, 3)]


# k * outer(inner((a*H + b) / c) / d), each of outer and inner a floor or a ceiling: the sizes along a network
floor_terms = st.lists(
    st.tuples(
        st.integers(-2, 2),
        st.integers(1, 3),
        st.integers(-3, 3),
        st.integers(1, 4),
        st.integers(1, 3),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
)
relations = st.sampled_from([">=", ">", "<=", "<", "==", "!="])
_RELATE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_SYMPY_RELATE = {**_RELATE, "==": sympy.Eq, "!=": sympy.Ne}


def _round(value: int, divisor: int, up: bool) -> int:
    return -(-value // divisor) if up else value // divisor


@given(floor_terms, st.integers(-10, 10), relations)
def test_holds_always_agrees_with_every_size(
    terms: list[tuple[int, int, int, int, int, bool, bool]], constant: int, op: str
) -> None:
    """True: the relation holds at every size; False: at none; None: at some and not at others. Checked over a
    window past which nothing changes: the difference is ``slope*H`` plus a part within ``bound`` of 0, so beyond
    ``2*bound/|slope|`` it has the sign of its slope; with slope 0 it repeats every ``lcm(c*d)`` sizes."""
    from fractions import Fraction

    from convcalc._symbolic import holds_always

    def rounding(up: bool) -> Any:
        return sympy.ceiling if up else sympy.floor

    expr = sympy.Integer(constant)
    for k, a, b, c, d, up_in, up_out in terms:
        expr += k * rounding(up_out)(rounding(up_in)((a * H + b) / c) / d)
    relation = _SYMPY_RELATE[op](expr, 0)
    if relation in (sympy.true, sympy.false) or not expr.free_symbols:
        return  # sympy decided it when it was built: never asked
    slope = sum(Fraction(k * a, c * d) for k, a, _, c, d, _, _ in terms)
    bound = abs(constant) + sum(abs(k) * (abs(b) + 2) for k, _, b, _, _, _, _ in terms)
    period = math.lcm(*(c * d for _, _, _, c, d, _, _ in terms))
    window = 2 * period + (math.ceil(2 * bound / abs(slope)) if slope else 0)

    def value(h: int) -> int:
        return constant + sum(k * _round(_round(a * h + b, c, ui), d, uo) for k, a, b, c, d, ui, uo in terms)

    truth = {_RELATE[op](value(h), 0) for h in range(1, window + 1)}
    verdict = holds_always(relation)
    assert truth == ({verdict} if verdict is not None else {True, False})


def test_holds_always_declines_what_is_not_one_quasi_linear_size() -> None:
    from convcalc._symbolic import holds_always

    W = convcalc.symbols("W")
    x = sympy.Symbol("x", integer=True)  # not known to be positive: a size of 0 or less would be a counterexample
    for relation in (H * W >= H, H**2 >= 2 * H - 1, sympy.floor(x / 2) >= 0, sympy.Min(H, 3) >= 2):
        assert relation not in (sympy.true, sympy.false)  # left open by sympy
        assert holds_always(relation) is None
    assert holds_always(2 * sympy.ceiling(H / 2) <= H + 1) is True  # a ceiling is minus the floor of the negation
    assert holds_always(2 * sympy.ceiling(H / 3) <= H) is None  # not at 1, yes at 3
    assert holds_always(sympy.Eq(2 * sympy.floor(H / 2), H + 1)) is False
    assert holds_always(sympy.Eq(2 * sympy.floor(H / 2), 2 * sympy.floor((H - 1) / 2) + 2)) is None
    assert holds_always(2 * sympy.floor((4096 * H + 1) / 4097) >= H) is None  # a period past the limit: not tried
    # a clamp holds where it holds with each of its arguments in its place
    assert holds_always(sympy.Min(H, 2 * sympy.floor(H / 2)) <= H) is True
    assert holds_always(H - sympy.Max(0, H - 16) >= 0) is True
    assert holds_always(sympy.Max(H, 3) < 1) is False
    # a form's own expression, its division left unevaluated, nested by sympy's floor
    half = FloorForm(H, 1, -1, 0, 2, 0).to_sympy()  # floor(-H/2)
    assert holds_always(H + 2 * half <= 0) is True
    assert holds_always(sympy.floor(half / 3) + H >= 0) is True
    assert holds_always(sympy.floor(half / 3) + H > 0) is None  # 0 at H = 1


def test_min_of_even_sizes_keeps_its_floors() -> None:
    """sympy (1.14) holds ``Min(2*m, 2*n)/6`` whole and drops its floor; with convcalc's correction of that answer
    a crop of two doubled sizes, pooled and strided by 3, keeps its floor and agrees with the numeric plan at
    every size."""
    from convcalc import nn

    H = convcalc.symbols("H")
    doubled = nn.Sequential(nn.MaxPool2d(2), nn.ConvTranspose2d(4, 4, 2, stride=2))  # 2*floor(H/2)
    upsampled = nn.Sequential(nn.Conv2d(4, 4, 3, stride=3), nn.Upsample(scale_factor=2))  # 2*floor(H/3)
    model = nn.Sequential(nn.Concat(doubled, upsampled, crop=True), nn.MaxPool2d(2), nn.Conv2d(8, 4, 3, stride=3))
    size = sympy.sympify(convcalc.plan(model, (1, 4, H, H)).output_shape[2])
    assert isinstance(size, sympy.floor)
    for h in range(9, 80):
        assert size.subs(H, h) == convcalc.plan(model, (1, 4, h, h)).output_shape[2], h


def test_a_plan_substituted_one_symbol_at_a_time_keeps_its_floors() -> None:
    """``x[:, :, :2 * x.shape[3]]`` crops the height to ``Min(H, 2*W)``; a stride-6 convolution gives
    ``floor(Min(H, 2*W)/6 - 1/6) + 1``. Substituting H = 8 first makes ``Min(8, 2*W)``, even, which sympy held
    whole over 6: the size came out 2/3 at W = 2, for torch's 1."""
    torch = pytest.importorskip("torch")

    class Crop(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 1, stride=6)

        def forward(self, x: Any) -> Any:
            return self.conv(x[:, :, : 2 * x.shape[3]])

    H, W = convcalc.symbols("H W")
    net = Crop()
    plan = convcalc.plan(net, (1, 1, H, W))
    for h, w in [(8, 2), (6, 1), (20, 7), (10, 9), (12, 12)]:
        want = tuple(net(torch.zeros(1, 1, h, w)).shape)
        assert tuple(sympy.sympify(d).subs({H: h, W: w}) for d in plan.output_shape) == want
        assert sympy.sympify(plan.macs).subs({H: h, W: w}) == want[2] * want[3]


@pytest.mark.parametrize("assumption", ["even", "odd"])
def test_symbols_declared_even_or_odd_keep_their_floors(assumption: str) -> None:
    """sympy takes ``k/6`` for whole when ``k`` is declared even: ``floor((k - 6)/6) + 1`` came out as
    ``(k - 6)/6 + 1``, 4/3 at k = 8 for 1. The floors stay, for every kernel and stride."""
    k = sympy.Symbol("k", positive=True, **{assumption: True})
    values = range(2, 60, 2) if assumption == "even" else range(1, 60, 2)
    for kernel in (1, 2, 4, 6):
        for stride in (3, 5, 6, 10, 12):
            size = sympy.sympify(convcalc.conv_output_size(k, kernel, stride=stride))
            for v in values:
                if v >= kernel:
                    assert size.subs(k, v) == convcalc.conv_output_size(v, kernel, stride=stride), (kernel, stride, v)
    even = sympy.Symbol("e", even=True)
    assert (even / 6).is_integer is None  # sympy alone: True
    assert (2 * even / 3).is_integer is None  # sympy alone: False
    assert (even / 2).is_integer is True
    assert (sympy.Symbol("o", odd=True) / 2).is_integer is False
