"""Symbolic sizes: positive integer symbols, and checks on user expressions.

sympy is imported here, and only when a symbol is used.
"""

from __future__ import annotations

import functools
import math
import operator
from fractions import Fraction

from convcalc._errors import SpecError, checked_call

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from convcalc._types import Size

__all__ = [
    "FloorForm",
    "Undecided",
    "as_integer_expr",
    "holds_always",
    "product",
    "sound_sympy",
    "symbols",
    "to_sympy",
]


_SOUND: Any = None  # sympy, once its answer is taken back


def sound_sympy() -> Any:
    """sympy, with one wrong answer of its assumptions taken back. sympy (1.14) holds a product whole when its
    even factors outnumber the twos of its coefficient's denominator, forgetting the denominator's odd factor:
    ``k/6`` for an even ``k``, ``Min(8, 2*W)/6`` (a least of even sizes is even), and ``2*k/3`` never whole.
    ``floor`` then drops itself around the first: ``floor((k - 6)/6) + 1`` is ``k/6``, 4/3 at k = 8; a plan's
    ``floor(Min(H, 2*W)/6 - 1/6) + 1`` substituted at H = 8 is ``Min(8, 2*W)/6``. Parities cannot tell that a
    value divides by an odd number, so such a product is left undecided (None), as sympy leaves ``k/3``.
    Installed once, when convcalc first makes or takes a symbol; every other answer of sympy is unchanged."""
    global _SOUND
    if _SOUND is not None:  # (the symbolic path asks for sympy at every formula)
        return _SOUND
    import sympy

    decide = sympy.Mul._prop_handler.get("integer")
    if decide is not None and not getattr(decide, "odd_denominator_undecided", False):

        def is_integer(self: Any) -> Any:
            whole = decide(self)
            if whole is not None:
                q, rest = 1, []  # the numbers it divides by (a coefficient's, ``6**-1`` unevaluated), the rest
                for a in self.args:
                    if a.is_Rational:
                        q *= int(a.q)
                    elif a.is_Pow and a.base.is_Integer and a.exp.is_Integer and a.exp < 0:
                        q *= abs(int(a.base)) ** -int(a.exp)
                    else:
                        rest.append(a)
                odd = q >> ((q & -q).bit_length() - 1)  # what is left of the denominator once its twos are out
                # ``2*k/3`` for an even k is no more "never whole" than ``k/6`` is "whole": parities tell nothing
                # of an odd divisor, where every other factor is whole
                if odd > 1 and (whole or all(a.is_integer for a in rest)):
                    return None
            return whole

        is_integer.odd_denominator_undecided = True  # type: ignore[attr-defined]
        # sympy's assumptions call the handlers each class collected when it was made: Mul's and its subclasses'
        classes, seen = [sympy.Mul], set()
        while classes:
            cls = classes.pop()
            if cls not in seen:
                seen.add(cls)
                classes.extend(cls.__subclasses__())
                if cls.__dict__.get("_prop_handler", {}).get("integer") is decide:
                    cls._prop_handler["integer"] = is_integer
        # expressions sympy built before (``floor(Min(8, 2*W)/6)`` already taken whole) are cached: built again
        sympy.core.cache.clear_cache()
    _SOUND = sympy
    return sympy


@checked_call
def symbols(names: str) -> Any:
    """Make positive integer sympy symbols for input sizes.

    Args:
        names: symbol names separated by spaces or commas, as in ``sympy.symbols``.

    Returns:
        One symbol for one name, else a tuple of symbols.

    Raises:
        SpecError: when ``names`` is not a non-empty string of valid names.

    >>> import convcalc
    >>> H, W = convcalc.symbols("H W")
    >>> convcalc.conv_output_size(H, 3, 2, 1)
    floor((H - 1)/2) + 1
    >>> H.is_positive, H.is_integer
    (True, True)
    >>> convcalc.symbols("")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: symbols() needs at least one name such as "H W". Received: names=''
    """
    if not isinstance(names, str) or not names.replace(",", " ").split():
        raise SpecError(f'symbols() needs at least one name such as "H W". Received: names={names!r}')
    for name in names.replace(",", " ").split():
        if not name.isidentifier():
            raise SpecError(f"symbol names must be identifiers; {name!r} is not. Received: names={names!r}")
    return sound_sympy().symbols(names, integer=True, positive=True)


def as_integer_expr(value: Size) -> Size:
    """Return a size from a sympy value: an int, a FloorForm, or an integer sympy expression.

    Raises ``ValueError`` with the reason when the value cannot be a size.
    """
    sympy = sound_sympy()

    if isinstance(value, sympy.Integer):
        return int(value)
    if not isinstance(value, sympy.Expr):
        raise ValueError(f"{type(value).__name__} is not a sympy expression")
    if value.is_integer is not True or any(s.is_positive is not True for s in value.free_symbols):
        raise ValueError(
            "symbolic sizes must be integer-valued in positive integer symbols; "
            "make symbols with convcalc.symbols('H W')"
        )
    form = FloorForm.parse(value)
    return value if form is None else form


_COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class Undecided:
    """A condition on a symbolic size that holds for some sizes and not others.

    ``form >= value`` returns True or False when that is so for every positive
    size, and an ``Undecided`` (kept by the planner as a constraint) otherwise.
    """

    __slots__ = ("form", "op", "value")

    def __init__(self, form: FloorForm, op: str, value: int) -> None:
        self.form, self.op, self.value = form, op, value

    def __repr__(self) -> str:
        return f"{self.form.to_sympy()} {self.op} {self.value}"


def _floor_div(a: int, b: int) -> int:
    return a // b


class FloorForm:
    """``m * floor((a*x + b) / c) + e`` for one positive integer symbol ``x``.

    This is the exact form every size takes along a chain of convolutions,
    poolings and transposed convolutions with integer hyperparameters. Floors fold
    as the chain grows (``floor((floor((a*x + b)/c) + e)/f) = floor((a*x + b +
    e*c)/(c*f))``), so each operation costs O(1) and a deep network's size stays
    one floor per axis. Whatever the form cannot hold falls back to sympy.
    A linear size ``a*x + e`` is stored with ``m = 1, b = 0, c = 1``.
    """

    __slots__ = ("a", "b", "c", "e", "m", "x")

    def __init__(self, x: Size, m: int, a: int, b: int, c: int, e: int) -> None:
        g = math.gcd(a, b, c)
        if g > 1:
            a, b, c = a // g, b // g, c // g
        if c == 1:  # no floor left: m*(a*x + b) + e is linear
            a, e, m, b = m * a, m * b + e, 1, 0
        if m == 0 or a == 0:  # constant
            value = m * _floor_div(b, c) + e
            a, b, c, e, m = 0, 0, 1, value, 1
        self.x, self.m, self.a, self.b, self.c, self.e = x, m, a, b, c, e

    # -- construction and conversion ------------------------------------- #

    @classmethod
    def linear(cls, x: Size, a: int = 1, e: int = 0) -> FloorForm:
        return cls(x, 1, a, 0, 1, e)

    @classmethod
    def parse(cls, expr: Size) -> FloorForm | None:
        """The form of a sympy expression, or None when it has no such form."""
        import sympy

        symbols = expr.free_symbols
        if len(symbols) != 1:
            return None
        (x,) = symbols
        constant, terms = expr.as_coeff_add()
        if not constant.is_Integer:
            return None
        e = int(constant)
        if len(terms) != 1:
            return None
        (term,) = terms
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Integer:
            return None
        m = int(coeff)
        if rest == x:
            return cls.linear(x, m, e)
        if not isinstance(rest, sympy.floor):
            return None
        num, den = sympy.together(rest.args[0]).as_numer_denom()
        if not den.is_Integer or int(den) < 1:
            return None
        try:
            poly = sympy.Poly(num, x)
        except sympy.PolynomialError:  # a floor or ceiling of x inside
            return None
        if poly.degree() != 1 or not all(c.is_Integer for c in poly.all_coeffs()):
            return None
        a, b = (int(c) for c in poly.all_coeffs())
        return cls(x, m, a, b, int(den), e)

    def to_sympy(self) -> Size:
        return _form_to_sympy(self.x, self.m, self.a, self.b, self.c, self.e)

    def __call__(self, value: int) -> int:
        """The size at ``x = value``, exactly."""
        return self.m * ((self.a * value + self.b) // self.c) + self.e

    @property
    def is_constant(self) -> bool:
        return self.a == 0

    @property
    def slope_sign(self) -> int:
        s = self.m * self.a
        return (s > 0) - (s < 0)

    def __repr__(self) -> str:
        return str(self.to_sympy())

    def _key(self) -> tuple[Any, ...]:
        return (self.x, self.m, self.a, self.b, self.c, self.e)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloorForm) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    # -- arithmetic ------------------------------------------------------ #

    def __add__(self, other: Size) -> Size:
        if type(other) is int:
            return FloorForm(self.x, self.m, self.a, self.b, self.c, self.e + other)
        if isinstance(other, FloorForm) and other.x == self.x and other.c == 1 and self.c == 1:
            return FloorForm.linear(self.x, self.a + other.a, self.e + other.e)
        if isinstance(other, FloorForm) and other.is_constant:
            return self + other.e
        if isinstance(other, FloorForm) and self.is_constant:
            return other + self.e
        return self.to_sympy() + _sympy_of(other)

    __radd__ = __add__

    def __neg__(self) -> FloorForm:
        return FloorForm(self.x, -self.m, self.a, self.b, self.c, -self.e)

    def __sub__(self, other: Size) -> Size:
        return self + (-other)

    def __rsub__(self, other: Size) -> Size:
        return (-self) + other

    def __mul__(self, other: Size) -> Size:
        if type(other) is int:
            return FloorForm(self.x, self.m * other, self.a, self.b, self.c, self.e * other)
        if isinstance(other, FloorForm) and other.is_constant:
            return self * other.e
        if isinstance(other, FloorForm) and self.is_constant:
            return other * self.e
        return self.to_sympy() * _sympy_of(other)

    __rmul__ = __mul__

    def __floordiv__(self, other: Size) -> Size:
        if isinstance(other, FloorForm) and other.is_constant:
            other = other.e
        if type(other) is not int or other < 1:
            import sympy

            return sympy.floor(self.to_sympy() / _sympy_of(other))
        s = other
        if s == 1:
            return self
        if self.is_constant:
            return FloorForm(self.x, 1, 0, 0, 1, self.e // s)
        # floor((m*n + e) / s) with n = floor((a*x + b)/c): divide out g = gcd(m, s)
        g = math.gcd(self.m, s)
        m, s, e = self.m // g, s // g, self.e // g
        if s == 1:
            return FloorForm(self.x, m, self.a, self.b, self.c, e)
        if m == 1:  # floor((n + e)/s) = floor((a*x + b + e*c) / (c*s))
            return FloorForm(self.x, 1, self.a, self.b + e * self.c, self.c * s, 0)
        if m == -1:  # floor((-n + e)/s) = -floor((n - e + s - 1)/s)
            return FloorForm(self.x, -1, self.a, self.b + (s - 1 - e) * self.c, self.c * s, 0)
        import sympy

        return sympy.floor(self.to_sympy() / other)

    def __mod__(self, other: Size) -> Size:
        return self - (self // other) * other

    # -- comparisons with an int: True/False when decided for every x >= 1 -- #

    def _compare(self, op: str, value: Size) -> Any:
        if isinstance(value, FloorForm) and value.is_constant:
            value = value.e
        if type(value) is not int:  # another size or a sympy expression: a sympy relation (or sympy's verdict)
            return _COMPARISONS[op](self.to_sympy(), _sympy_of(value))
        holds_at_1 = _COMPARISONS[op](self(1), value)
        sign = self.slope_sign
        if sign == 0:
            return holds_at_1
        grows_into = op in (">=", ">") if sign > 0 else op in ("<=", "<")
        if grows_into and holds_at_1:
            return True  # monotone towards the condition: true from x = 1 on
        if not grows_into and not holds_at_1:
            return False  # monotone away from it: false from x = 1 on
        return Undecided(self, op, value)

    def __ge__(self, value: Size) -> Any:
        return self._compare(">=", value)

    def __gt__(self, value: Size) -> Any:
        return self._compare(">", value)

    def __le__(self, value: Size) -> Any:
        return self._compare("<=", value)

    def __lt__(self, value: Size) -> Any:
        return self._compare("<", value)


@functools.lru_cache(maxsize=4096)
def _form_to_sympy(x: Size, m: int, a: int, b: int, c: int, e: int) -> Size:
    """The sympy expression of a form; cached, since a plan repeats the same sizes row after row."""
    import sympy

    if c == 1:
        return a * x + e
    inner = sympy.Mul(a * x + b, sympy.Pow(c, -1, evaluate=False), evaluate=False)
    return m * sympy.floor(inner) + e


def _sympy_of(value: Size) -> Size:
    return value.to_sympy() if isinstance(value, FloorForm) else value


def to_sympy(value: Size) -> Size:
    """Convert FloorForms and Fractions (also inside tuples) to sympy; leave everything else."""
    if isinstance(value, FloorForm):
        return value.to_sympy()
    if type(value) is Fraction:  # a row's MACs shared out per input sample
        from sympy import Rational

        return Rational(value.numerator, value.denominator)
    if isinstance(value, tuple):
        return tuple(to_sympy(v) for v in value)
    if isinstance(value, list):
        return [to_sympy(v) for v in value]
    return value


def product(values: Sequence[Size]) -> Size:
    """The product of sizes: an int for ints, a sympy expression once one is symbolic."""
    if all(type(v) is int for v in values):
        return math.prod(values)
    out: Any = 1
    for v in values:
        out = out * to_sympy(v)
    return out


# -- deciding a relation of one size for every value --------------------------- #

_PERIOD_LIMIT = 4096  # the residues a decision tries at most (the product of the strides along a chain)


def _quasi_linear(expr: Size) -> tuple[int, Any, list[Any]] | None:
    """``(period, rise, values)`` of an expression of one size symbol built from integers, rationals, sums, products
    by a constant, floors and ceilings (the sizes along a network, nested as sympy leaves them): along every residue
    ``x = r + period*q`` its value is ``values[r - 1] + rise*q``. None for anything else (two symbols, a product of
    sizes, a period over the limit)."""
    symbols = expr.free_symbols
    if len(symbols) != 1:
        return None
    (x,) = symbols
    if not (x.is_integer and x.is_positive):
        return None
    period = _period(expr, x)
    if period is None:
        return None
    values = [_exact(expr, x, r) for r in range(1, period + 1)]
    return period, _exact(expr, x, period + 1) - values[0], values


def _period(expr: Size, x: Size) -> int | None:
    """The period after which ``expr`` (of the kind ``_quasi_linear`` reads) rises by the same amount; None when it
    is not of that kind. A floor of ``g`` repeats once ``g`` has risen by a whole number."""
    import sympy

    if expr == x:
        return 1
    if not expr.free_symbols:  # a number, perhaps written unevaluated (``Pow(2, -1)`` in a size's floor)
        return 1 if expr.doit().is_Rational else None
    if isinstance(expr, sympy.Add):
        periods = [_period(arg, x) for arg in expr.args]
        return None if None in periods else _limited(math.lcm(*periods))  # type: ignore[arg-type]
    if isinstance(expr, sympy.Mul):
        varying = [arg for arg in expr.args if arg.free_symbols]
        if len(varying) != 1 or not all(_period(arg, x) for arg in expr.args if not arg.free_symbols):
            return None
        return _period(varying[0], x)
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        inner = _period(expr.args[0], x)
        if inner is None:
            return None
        rise = _exact(expr.args[0], x, 1 + inner) - _exact(expr.args[0], x, 1)
        return _limited(inner * rise.denominator)
    return None


def _limited(period: int) -> int | None:
    return period if period <= _PERIOD_LIMIT else None


def _exact(expr: Size, x: Size, value: int) -> Size:
    """``expr`` at ``x = value``, in exact rationals (``fractions.Fraction``), without sympy's substitution."""
    import fractions

    import sympy

    if expr == x:
        return fractions.Fraction(value)
    if not expr.free_symbols:
        number = expr.doit()
        return fractions.Fraction(int(number.p), int(number.q))
    parts = [_exact(arg, x, value) for arg in expr.args]
    if isinstance(expr, sympy.Add):
        return sum(parts, fractions.Fraction(0))
    if isinstance(expr, sympy.Mul):
        return math.prod(parts, start=fractions.Fraction(1))
    return fractions.Fraction(math.floor(parts[0]) if isinstance(expr, sympy.floor) else math.ceil(parts[0]))


def at_large_sizes(expr: Any) -> Any:
    """``expr`` with each size symbol at a large value (distinct for each): the sign a bound computed from sizes
    has for large inputs, which a plan takes where sympy cannot decide it (and holds where it has it)."""
    return expr.subs({s: 10**6 + 7 * j for j, s in enumerate(sorted(expr.free_symbols, key=str))})


def holds_always(relation: Any) -> bool | None:
    """Whether a sympy relation of one size symbol holds for every size from 1 on (True) or for none (False); None
    when it depends on the size or is not of the quasi-linear kind sizes take along a network.

    sympy cannot compare ``H`` with ``2*floor((H - 1)/2) + 2`` (equal for even ``H``, one less for odd); the sizes
    along a network are quasi-linear, so the question is settled exactly along each residue modulo the product of
    the denominators, where the difference is a line.

    >>> import sympy
    >>> H = sympy.Symbol("H", integer=True, positive=True)
    >>> holds_always(H <= 2 * sympy.floor((H - 1) / 2) + 2), holds_always(H > 2 * sympy.floor((H - 1) / 2) + 2)
    (True, False)
    >>> print(holds_always(H <= 2 * sympy.floor((H - 1) / 3) + 2))
    None
    """
    import sympy

    if relation is sympy.true or relation is sympy.false:
        return bool(relation)
    extremes = sorted(relation.atoms(sympy.Min, sympy.Max), key=sympy.default_sort_key)
    if extremes:  # a clamp: the relation holds everywhere (nowhere) if it does with each argument in its place
        verdicts = {holds_always(relation.xreplace({extremes[0]: arg})) for arg in extremes[0].args}
        return verdicts.pop() if len(verdicts) == 1 else None
    kinds = {sympy.GreaterThan: ">=", sympy.StrictGreaterThan: ">", sympy.LessThan: "<=", sympy.StrictLessThan: "<"}
    op = kinds.get(type(relation))
    if op is None and not isinstance(relation, (sympy.Eq, sympy.Ne)):
        return None
    found = _quasi_linear(relation.lhs - relation.rhs)
    if found is None:
        return None
    _, rise, values = found
    if op is None:  # equality: along a residue, a line of nonzero rise meets 0 once at most, at q = -value / rise
        meets = [v == 0 if rise == 0 else v % rise == 0 and -v // rise >= 0 for v in values]
        if all(meets) and rise == 0:
            return isinstance(relation, sympy.Eq)
        if not any(meets):
            return isinstance(relation, sympy.Ne)
        return None
    compare = _COMPARISONS[op]
    at_start = [compare(v, 0) for v in values]
    if rise == 0:
        # a periodic difference: its values at the first period are all there are
        return True if all(at_start) else False if not any(at_start) else None
    towards = (rise > 0) == (op in (">=", ">"))  # growing into the relation: true once, true from there on
    if towards and all(at_start):
        return True
    if not towards and not any(at_start):
        return False
    return None
