"""Which symbolic input sizes make a plan valid, and which give a wanted output.

Every constraint is ``form >= v``, ``form == v`` or ``form divisible by v``. When every
form is a growing ``m * floor((a*x + b)/c) + e``, the condition is periodic in ``x``
(period ``c * v``) once ``x`` is past its threshold, found by bisection.

Any other form of one symbol built from integers, ``+``, ``*`` and floors (a floor of a
floor after a transposed convolution, the difference of two branches before a crop) is a
quasi-polynomial: one polynomial per residue of ``x`` modulo a period. Past a bound on the
roots of those polynomials each condition is periodic again, so checking every ``x`` up to
that bound plus one period decides it exactly. A product of sizes of different symbols fixed
by a Linear layer (``C*h(H)*w(W) == F``) has finitely many solutions, listed as points. An equality of two
such products whose factors each bound their counterpart (a view that splits both axes into windows,
``H*W == 49*floor(H/7)*floor(W/7)``) holds only where each pair is equal: one equality per symbol.
Anything else is refused with a SpecError that names the layer, the constraint and the symbols.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from convcalc._errors import ShapeError, SpecError
from convcalc._plan import Constraint, Plan
from convcalc._symbolic import FloorForm, to_sympy

__all__ = ["Solution", "inputs_for", "solve_sizes"]

_SEARCH_LIMIT = 10**12
_MAX_LISTED = 10**6  # the most input sizes inputs_for() scans and lists
_MAX_WINDOW = 2 * 10**6  # the most sizes the quasi-polynomial check evaluates
_MAX_POINTS = 10**5  # the most points of coupled symbols listed


@dataclass(frozen=True)
class Solution:
    """The valid values of one input symbol: ``x >= smallest`` and ``x mod modulus in residues``.

    ``str(solution)`` reads ``H >= 188 and H ≡ 12 (mod 16)``.

    Where the valid set is not one periodic run, ``extra`` lists the valid values before
    ``start``, from which the periodic run holds (``start`` None: from ``smallest``); a
    finite set has no ``residues``. Where a layer ties several symbols (a Linear after
    Flatten fixes ``C*h(H)*w(W)``), ``symbol`` is the tuple of those symbols and
    ``points`` the finite tuple of their valid values, one tuple per point. ``largest``, where
    given, bounds the set from above: a size past which a layer cannot be exact (an ONNX
    ``Resize`` by a float32 scale: ``H <= 5592405`` for 1.5).

    >>> import convcalc
    >>> from convcalc import nn
    >>> H, W = convcalc.symbols("H W")
    >>> net = nn.Sequential(nn.MaxPool1d(3), nn.ConvTranspose1d(2, 2, 3, stride=3), nn.MaxPool1d(4))
    >>> print(convcalc.plan(net, (1, 2, H)).valid_sizes())
    H >= 6
    >>> head = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(64, 10))
    >>> print(convcalc.plan(head, (1, 1, H, W)).valid_sizes())
    (H, W) in {(3, 18), (4, 10), (6, 6), (10, 4), (18, 3)}
    >>> down_up = nn.Sequential(nn.MaxPool1d(2), nn.ConvTranspose1d(1, 1, 2, stride=2))
    >>> print(convcalc.plan(nn.Add(nn.Identity(), down_up), (1, 1, H)).valid_sizes())
    H >= 2 and H ≡ 0 (mod 2)
    """

    symbol: Any
    smallest: int
    modulus: int
    residues: tuple[int, ...]
    extra: tuple[int, ...] = ()
    start: int | None = None
    points: tuple[tuple[int, ...], ...] | None = None
    largest: int | None = None

    @property
    def _from(self) -> int:
        return self.smallest if self.start is None else self.start

    def __contains__(self, value: object) -> bool:
        if self.points is not None:
            return isinstance(value, tuple) and value in self.points
        if type(value) is not int or (self.largest is not None and value > self.largest):
            return False
        if value < self._from:
            return value in self.extra
        return value % self.modulus in self.residues

    def values(self, limit: int) -> list[Any]:
        """The valid values up to ``limit`` (points: those with every value up to ``limit``)."""
        if self.points is not None:
            return [p for p in self.points if max(p) <= limit]
        limit = limit if self.largest is None else min(limit, self.largest)
        periodic = [x for x in range(self._from, limit + 1) if x % self.modulus in self.residues]
        return [x for x in self.extra if x <= limit] + periodic

    def __str__(self) -> str:
        if self.points is not None:
            names = ", ".join(map(str, self.symbol))
            return f"({names}) in {{{', '.join('(' + ', '.join(map(str, p)) + ')' for p in self.points)}}}"
        parts = []
        runs = _runs(self.extra)
        if len(runs) == 1 and runs[0][0] == runs[0][1]:
            parts.append(f"{self.symbol} = {runs[0][0]}")
        elif len(runs) == 1:
            parts.append(f"{runs[0][0]} <= {self.symbol} <= {runs[0][1]}")
        elif runs:
            items = (f"{lo}" if lo == hi else f"{lo}, {hi}" if hi == lo + 1 else f"{lo}..{hi}" for lo, hi in runs)
            parts.append(f"{self.symbol} in {{{', '.join(items)}}}")
        if self.residues:
            head = f"{self.symbol} >= {self._from}"
            if self.modulus == 1 and self.largest is not None:
                run = f"{self._from} <= {self.symbol} <= {self.largest}"
            elif self.modulus == 1:
                run = head
            elif len(self.residues) == 1:
                run = f"{head} and {self.symbol} ≡ {self.residues[0]} (mod {self.modulus})"
            else:
                run = f"{head} and {self.symbol} mod {self.modulus} in {{{', '.join(map(str, self.residues))}}}"
            if self.modulus != 1 and self.largest is not None:
                run = f"{run} and {self.symbol} <= {self.largest}"
            parts.append(f"({run})" if self.extra else run)
        return " or ".join(parts)


def _runs(values: tuple[int, ...]) -> list[tuple[int, int]]:
    """Sorted values as runs of consecutive ones: (first, last) each."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _pick_symbol(plan: Plan, symbol: Any) -> Any:
    symbols = plan.symbols
    if not symbols:
        raise SpecError("this plan has no symbolic input size: plan with convcalc.symbols('H W'). Received: symbols=()")
    if symbol is None:
        return symbols[0]
    for s in symbols:
        if s == symbol or str(s) == str(symbol):
            return s
    raise SpecError(
        f"symbol {symbol} is not an input of this plan; it has {', '.join(map(str, symbols))}. "
        f"Received: symbol={symbol!r}"
    )


def _first(holds: Callable[[int], bool], start: int, limit: int = _SEARCH_LIMIT) -> int | None:
    """The smallest ``x`` in ``start..limit`` with ``holds(x)``, for a condition that stays true once
    true; None when there is none. Doubling, then bisection: O(log x) calls."""
    lo = hi = start
    while not holds(hi):
        if hi >= limit:
            return None
        lo, hi = hi + 1, min(hi * 2, limit)
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _threshold(c: Constraint) -> int:
    """Smallest x from which ``c`` can hold (1 for divisibility), for a growing floor form."""
    if c.kind != ">=":
        return 1
    x = _first(c.holds, 1)
    if x is None:
        raise ShapeError(f"no input size up to {_SEARCH_LIMIT} satisfies {c}. Received: constraint={c}")
    return x


def _symbols_of(c: Constraint) -> set[Any]:
    if isinstance(c.form, FloorForm):
        return set() if c.form.is_constant else {c.form.x}
    return set(getattr(c.form, "free_symbols", ()))


def _refuse(c: Constraint, symbols: Any, why: str) -> SpecError:
    names = ", ".join(sorted(map(str, symbols)))
    return SpecError(
        f"cannot decide which sizes of {names} satisfy {c}: {why}; plan concrete sizes to check them. "
        f"Received: constraint={c}"
    )


def _settled(constraints: tuple[Constraint, ...]) -> list[Constraint]:
    """The constraints with each ``Max``/``Min`` that the others decide replaced by the argument it takes on every
    size they allow: a slice's clamp at 0 (``x[..., 1:-1]`` of ``H - 2`` rows stops at ``Max(0, H - 3)``) is
    ``H - 3`` wherever the convolution before it fits (``H - 3 >= 0``). Their conjunction is unchanged."""
    if not any(_clamped(c.form) for c in constraints):
        return list(constraints)
    facts = [_fact(c) for c in constraints]
    out = []
    for j, c in enumerate(constraints):
        if not _clamped(c.form):
            out.append(c)
            continue
        form = _settle(c.form, [f for k, f in enumerate(facts) if k != j and f is not None])
        out.append(c if form is c.form else dataclasses.replace(c, form=form))
    return out


def _clamped(form: Any) -> bool:
    """Whether a size holds a ``Max`` or ``Min`` (a FloorForm or a number holds neither)."""
    import sympy

    return not isinstance(form, FloorForm) and hasattr(form, "has") and bool(form.has(sympy.Max, sympy.Min))


def _fact(c: Constraint) -> Any:
    """A constraint ``form >= value`` as the expression it says is at least 0; None for another kind."""
    return to_sympy(c.form) - c.value if c.kind == ">=" else None


def _settle(expr: Any, facts: list[Any]) -> Any:
    """``expr`` with each ``Max``/``Min`` whose largest (smallest) argument ``facts`` (expressions known to be at
    least 0) decide replaced by that argument."""
    import sympy

    if not expr.has(sympy.Max, sympy.Min):
        return expr

    def at_least(a: Any, b: Any) -> bool:  # a >= b wherever the facts hold: a - b is a fact plus a constant >= 0
        d = sympy.expand(a - b)
        return any(_never_negative(sympy.expand(d - f)) for f in (0, *facts))

    def pick(node: Any) -> Any:
        wins = at_least if isinstance(node, sympy.Max) else (lambda a, b: at_least(b, a))
        return next((a for a in node.args if all(a is b or wins(a, b) for b in node.args)), node)

    settled = expr.replace(lambda n: isinstance(n, (sympy.Max, sympy.Min)), pick)
    return expr if settled == expr else settled


def _never_negative(gap: Any) -> bool:
    """Whether a size difference is at least 0 for every size: a constant, or floors of one symbol whose
    quasi-polynomial is a constant of 0 or more on each residue class (``floor((2L + 1)/4) - floor((L - 1)/2)``)."""
    if gap.is_number:
        return bool(gap >= 0)
    if len(gap.free_symbols) != 1:
        return False
    try:
        q = _quasi(gap, next(iter(gap.free_symbols)))
    except _PeriodTooLongError:
        return False
    return q is not None and all(len(p) <= 1 and (not p or p[0] >= 0) for p in q.polys)


def solve_sizes(plan: Plan, symbol: Any = None) -> Solution:
    x = _pick_symbol(plan, symbol)
    relevant = []
    for given, c in zip(plan.constraints, _settled(plan.constraints), strict=True):
        if x not in _symbols_of(given):
            continue
        if not _symbols_of(c):  # settled to a number by the others (a crop's Min decided): true or never true
            if not c.holds(1):
                raise ShapeError(f"no value of {x} satisfies every layer: {given}. Received: symbol={x}")
            continue
        relevant.append(c)
    relevant = [part for c in relevant for part in (_per_symbol(c) or [c]) if x in _symbols_of(part)]
    coupled = [c for c in relevant if len(_symbols_of(c)) > 1]
    if coupled:
        return _solve_coupled(plan, x, coupled)
    return _solve_one(x, relevant)


def holds_nowhere(plan: Plan) -> bool:
    """Whether no size of some symbol meets the plan's conditions (False where that cannot be decided)."""
    for symbol in plan.symbols:
        try:
            solve_sizes(plan, symbol)
        except ShapeError:
            return True
        except SpecError:
            continue
    return False


def _per_symbol(c: Constraint) -> list[Constraint] | None:
    """``k1 * prod(a_s(s)) == k2 * prod(b_s(s))`` (a view's ``3*H*W == 12*floor(H/2)*floor(W/2)``, a window
    partition's ``H*W == 49*floor(H/7)*floor(W/7)``) as one equality per symbol, ``a_s == r_s * b_s``, where for
    each symbol ``a_s >= r_s * b_s >= 0`` at every size, ``a_s >= 1``, and the ratios ``r_s`` multiply to
    ``k2 / k1``: a product of factors each at least its counterpart is equal only where each is. None where the
    constraint has no such form."""
    import sympy

    if c.kind != "==" or len(_symbols_of(c)) < 2:
        return None
    terms = sympy.Add.make_args(sympy.sympify(c.form) - c.value)
    if len(terms) != 2:
        return None
    sides = []
    for term in terms:
        k, rest = term.as_coeff_Mul()
        factors: dict[Any, Any] = {}
        for arg in sympy.Mul.make_args(rest):
            own = arg.free_symbols
            if len(own) != 1:
                return None
            (sym,) = own
            factors[sym] = factors.get(sym, 1) * arg
        sides.append((Fraction(int(k.p), int(k.q)) if k.is_Rational else None, factors))
    (k1, a), (k2, b) = sides
    if k1 is None or k2 is None or k1 * k2 >= 0:
        return None
    # prod(a) == target * prod(b), with a the side whose factors are the larger (tried both ways)
    return _larger_each(c, a, b, -k2 / k1) or _larger_each(c, b, a, -k1 / k2)


def _larger_each(c: Constraint, a: dict[Any, Any], b: dict[Any, Any], target: Fraction) -> list[Constraint] | None:
    import sympy

    ratio_product = Fraction(1)
    parts = []
    for sym in sorted(set(a) | set(b), key=str):
        qa, qb = _quasi(a.get(sym, sympy.Integer(1)), sym), _quasi(b.get(sym, sympy.Integer(1)), sym)
        if qa is None or qb is None:
            return None
        period = math.lcm(qa.period, qb.period)
        pa, pb = qa.refined(period), qb.refined(period)
        # linear in the symbol on every residue, growing: its values at the first period bound all the rest
        if any(len(p) != 2 or p[-1] <= 0 for p in (*pa, *pb)):
            return None
        ratio = pa[0][-1] / pb[0][-1]
        if any(p[-1] / q[-1] != ratio for p, q in zip(pa, pb, strict=True)):
            return None
        gaps = [_padd(p, _pmul(q, (-ratio,))) for p, q in zip(pa, pb, strict=True)]
        # the gap a - r*b of lower degree: at least 0 for every size where its terms are; a itself at least 1
        if any(len(g) > 1 for g in gaps) or any(g and g[0] < 0 for g in gaps):
            return None
        if any(
            _value(p, v) < 1 or _value(q, v) < 0
            for v in range(1, period + 1)
            for p, q in [(pa[v % period], pb[v % period])]
        ):
            return None
        ratio_product *= ratio
        form = sympy.expand(a.get(sym, 1) - sympy.Rational(ratio.numerator, ratio.denominator) * b.get(sym, 1))
        parts.append(Constraint(c.layer, c.axis, form * ratio.denominator, "==", 0, c.reason))
    return parts if ratio_product == target else None


def _value(p: _Poly, v: int) -> Fraction:
    return sum((coefficient * v**j for j, coefficient in enumerate(p)), Fraction(0))


def _solve_one(x: Any, relevant: list[Constraint]) -> Solution:
    """The exact valid set of one symbol under constraints that involve only that symbol."""
    if any(_clamped(c.form) for c in relevant):
        return _solve_clamped(x, relevant)
    caps = [(c, _cap(c, x)) for c in relevant]
    large = [(c, u) for c, u in caps if u is not None and u >= _MAX_WINDOW // 2]
    if large:  # a bound from above too far to check up to: the set below it, bounded
        largest = min(u for _, u in large)
        rest = [c for c in relevant if all(c is not b for b, _ in large)]
        solution = _solve_one(x, rest) if rest else Solution(x, 1, 1, (0,))
        if not solution.residues:  # a finite set, well below the bound
            return solution
        if solution.smallest > largest:  # the smallest valid value (the first of extra, where there are any)
            raise ShapeError(
                f"no value of {x} satisfies every layer: {'; '.join(map(str, relevant))}. Received: symbol={x}"
            )
        return dataclasses.replace(solution, largest=largest)
    fast = all(isinstance(c.form, FloorForm) and c.kind != "==" and c.form.slope_sign > 0 for c in relevant)
    if not fast:
        return _solve_quasi(x, relevant)
    start = max([_threshold(c) for c in relevant], default=1)
    period = 1
    for c in relevant:
        period = math.lcm(period, c.form.c * (c.value if c.kind == "divides" else 1))
    residues = sorted({v % period for v in range(start, start + period) if all(c.holds(v) for c in relevant)})
    if not residues:
        raise ShapeError(
            f"no value of {x} satisfies every layer: {'; '.join(map(str, relevant))}. Received: symbol={x}"
        )
    smallest = next(v for v in range(start, start + period) if v % period in residues)
    period, residues = _reduce_period(period, residues)
    return Solution(x, smallest, period, tuple(residues))


def _solve_clamped(x: Any, relevant: list[Constraint]) -> Solution:
    """Constraints holding a ``Max`` or ``Min`` no other constraint decides (a crop ``x[..., 3:-4]`` of a length
    ``L``: ``Max(0, L - 4) - Min(3, L)``): past the sizes where their arguments cross, each takes one argument for
    good; the constraints with those are solved as any, and the sizes below are checked one by one."""
    past = 1  # from here on every Max and Min takes the argument chosen for it
    plain = []
    for c in relevant:
        if not _clamped(c.form):
            plain.append(c)
            continue
        form, start = _settled_for_good(to_sympy(c.form), x)
        if form is None:
            raise _refuse(c, [x], f"which argument of each Max and Min it takes does not settle as {x} grows")
        past = max(past, start)
        plain.append(dataclasses.replace(c, form=form))
    if past > _MAX_WINDOW:
        raise _refuse(relevant[0], [x], f"deciding it needs more than {_MAX_WINDOW} sizes checked")
    try:
        beyond: Solution | None = _solve_one(x, plain)
    except ShapeError:  # no large size fits: the valid sizes, if any, are below ``past``
        beyond = None
    if beyond is not None and (beyond.largest is not None or beyond.points is not None):
        raise _refuse(relevant[0], [x], "a Max or Min beside a bound from above")
    start = past if beyond is None else max(past, beyond._from)  # periodic from here
    period = 1 if beyond is None else beyond.modulus
    if start + period > _MAX_WINDOW:
        raise _refuse(relevant[0], [x], f"deciding it needs more than {_MAX_WINDOW} sizes checked")
    # below ``past`` the constraints as they are (a size at a time, in sympy); from there the settled solution
    valid = [v for v in range(1, past) if all(c.holds(v) for c in relevant)]
    if beyond is None:  # a finite set below ``past`` (a ShapeError where it is empty)
        return _as_solution(x, valid, past, 1, relevant)
    valid += [v for v in range(past, start + period) if v in beyond]
    return _as_solution(x, valid, start, period, relevant)


def _settled_for_good(expr: Any, x: Any) -> tuple[Any, int]:
    """``expr`` with each ``Max`` and ``Min`` (the innermost first: a crop of a crop holds a Max inside a Max)
    replaced by the argument it takes for good, and the size from which that holds; ``(None, 0)`` where one does
    not settle."""
    import sympy

    past = 1
    while _clamped(expr):
        node = next(n for n in expr.atoms(sympy.Max, sympy.Min) if not any(_clamped(a) for a in n.args))
        pick, start = _for_good(node, x)
        if pick is None:
            return None, 0
        expr = expr.xreplace({node: pick})
        past = max(past, start)
    return expr, past


def _for_good(node: Any, x: Any) -> tuple[Any, int]:
    """The argument of a ``Max`` (``Min``) of one symbol that is the largest (smallest) for every size from some
    size on, and that size; ``(None, 0)`` where none is (their differences are not floors and sums of ``x``, or
    change sign with the residue of ``x``)."""
    import sympy

    for arg in node.args:
        start, ok = 1, True
        for other in node.args:
            if other is arg:
                continue
            gap = sympy.expand(arg - other if isinstance(node, sympy.Max) else other - arg)
            try:
                q = _quasi(gap, x) if gap.free_symbols else None
            except _PeriodTooLongError:
                return None, 0
            if q is None:
                if gap.free_symbols or gap < 0:
                    ok = False
                    break
                continue
            check = _Check(Constraint("", 0, gap, ">=", 0, ""), q)
            if not all(check.holds(v) for v in range(check.threshold, check.threshold + check.period)):
                ok = False
                break
            start = max(start, check.threshold)
        if ok:
            return arg, start
    return None, 0


def _cap(c: Constraint, x: Any) -> int | None:
    """The largest ``x`` a constraint that falls as ``x`` grows allows (``a - b*x >= v``, ``b > 0``, a floor of
    such), or None for any other."""
    import sympy

    if c.kind != ">=":
        return None
    if isinstance(c.form, FloorForm):  # m * floor((a*x + b)/c) + e falling as x grows: the last x it holds at
        if c.form.x != x or c.form.slope_sign >= 0 or c.holds(_SEARCH_LIMIT):
            return None
        low, high = 0, _SEARCH_LIMIT  # holds at low (or low is 0), fails at high
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if c.holds(mid) else (low, mid)
        return low
    if not hasattr(c.form, "free_symbols") or c.form.free_symbols != {x}:
        return None
    try:
        poly = sympy.Poly(c.form, x)
    except sympy.PolynomialError:
        return None
    coeffs = poly.all_coeffs()
    if len(coeffs) != 2 or not all(getattr(k, "is_Integer", False) for k in coeffs) or coeffs[0] >= 0:
        return None
    return (int(coeffs[1]) - c.value) // -int(coeffs[0])


def _reduce_period(period: int, residues: list[int]) -> tuple[int, list[int]]:
    """The shortest period under which the same residues repeat (all residues: period 1)."""
    valid = set(residues)
    for d in range(1, period + 1):
        if period % d == 0 and all((r in valid) == (r % d in valid) for r in range(period)):
            return d, sorted({r % d for r in valid})
    return period, residues  # pragma: no cover - d = period always qualifies


# --------------------------------------------------------------------------- #
# Quasi-polynomials: one polynomial in x per residue of x modulo a period
# --------------------------------------------------------------------------- #

_Poly = tuple[Fraction, ...]  # coefficients, lowest degree first, no trailing zeros


def _trim(p: list[Fraction]) -> _Poly:
    while p and p[-1] == 0:
        p.pop()
    return tuple(p)


def _padd(p: _Poly, q: _Poly) -> _Poly:
    n = max(len(p), len(q))
    return _trim([(p[i] if i < len(p) else 0) + (q[i] if i < len(q) else 0) for i in range(n)])  # type: ignore[misc]


def _pmul(p: _Poly, q: _Poly) -> _Poly:
    if not p or not q:
        return ()
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return _trim(out)


class _PeriodTooLongError(Exception):
    """The period of a quasi-polynomial grew past _MAX_WINDOW."""


class _Quasi:
    __slots__ = ("period", "polys")

    def __init__(self, period: int, polys: list[_Poly]) -> None:
        if period > _MAX_WINDOW:
            raise _PeriodTooLongError
        self.period, self.polys = period, polys

    @classmethod
    def constant(cls, value: Fraction) -> _Quasi:
        return cls(1, [_trim([Fraction(value)])])

    def refined(self, period: int) -> list[_Poly]:
        if period > _MAX_WINDOW:
            raise _PeriodTooLongError
        return [self.polys[r % self.period] for r in range(period)]

    def combine(self, other: _Quasi, op: Callable[[_Poly, _Poly], _Poly]) -> _Quasi:
        period = math.lcm(self.period, other.period)
        return _Quasi(period, [op(p, q) for p, q in zip(self.refined(period), other.refined(period), strict=True)])

    def floor(self) -> _Quasi | None:
        """``floor`` of a quasi-linear function; None for a higher degree."""
        if any(len(p) > 2 for p in self.polys):
            return None
        period = self.period
        for p in self.polys:
            if len(p) == 2:
                period = math.lcm(period, p[1].denominator)
        polys: list[_Poly] = []
        for r, p in enumerate(self.refined(period)):
            slope = p[1] if len(p) == 2 else Fraction(0)
            # x = r + period*t: slope*period is an integer, so the floor moves with x exactly
            base = math.floor(slope * r + (p[0] if p else 0))
            polys.append(_trim([base - slope * r, slope]))
        return _Quasi(period, polys)


def _quasi(expr: Any, x: Any) -> _Quasi | None:
    """The quasi-polynomial of a size in one symbol; None when it has none."""
    if isinstance(expr, FloorForm):
        if expr.c == 1:
            return _Quasi(1, [_trim([Fraction(expr.e), Fraction(expr.a)])])
        m, a, b, c, e = expr.m, expr.a, expr.b, expr.c, expr.e
        return _Quasi(
            c, [_trim([m * ((a * r + b) // c) + e - Fraction(m * a * r, c), Fraction(m * a, c)]) for r in range(c)]
        )
    if type(expr) is int:
        return _Quasi.constant(Fraction(expr))
    import sympy

    if expr == x:
        return _Quasi(1, [(Fraction(0), Fraction(1))])
    if not getattr(expr, "free_symbols", True):
        value = sympy.sympify(expr).doit()  # an unevaluated constant such as Pow(3, -1)
        return _Quasi.constant(Fraction(int(value.p), int(value.q))) if value.is_Rational else None
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        parts = [_quasi(arg, x) for arg in expr.args]
        known = [p for p in parts if p is not None]
        if len(known) < len(parts):
            return None
        result = known[0]
        for p in known[1:]:
            result = result.combine(p, _padd if isinstance(expr, sympy.Add) else _pmul)
        return result
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and 0 <= int(expr.exp) <= 8:
        base = _quasi(expr.base, x)
        if base is None:
            return None
        result = _Quasi.constant(Fraction(1))
        for _ in range(int(expr.exp)):
            result = result.combine(base, _pmul)
        return result
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        inner = _quasi(expr.args[0], x)
        if inner is None:
            return None
        if isinstance(expr, sympy.ceiling):  # ceil(u) = -floor(-u)
            negated = inner.combine(_Quasi.constant(Fraction(-1)), _pmul).floor()
            return None if negated is None else negated.combine(_Quasi.constant(Fraction(-1)), _pmul)
        return inner.floor()
    if isinstance(expr, sympy.Mod) and expr.args[1].is_Integer and int(expr.args[1]) > 0:
        q = int(expr.args[1])
        return _quasi(expr.args[0] - q * sympy.floor(expr.args[0] / q), x)
    return None


class _Check:
    """One constraint as integer arithmetic: per residue class, numerator coefficients and a denominator."""

    __slots__ = ("constraint", "kind", "period", "rows", "threshold", "truth_period", "value")

    def __init__(self, constraint: Constraint, q: _Quasi) -> None:
        self.constraint, self.kind, self.value, self.period = constraint, constraint.kind, constraint.value, q.period
        self.rows: list[tuple[tuple[int, ...], int]] = []
        bound = 1
        degree = 0
        for p in q.polys:
            den = math.lcm(1, *(c.denominator for c in p))
            self.rows.append((tuple(int(c * den) for c in p), den))
            degree = max(degree, len(p) - 1)
            shifted = list(p) or [Fraction(0)]
            if constraint.kind != "divides":
                shifted[0] -= constraint.value
            shifted_t = _trim(shifted)
            if len(shifted_t) > 1:  # past its root bound a polynomial keeps its sign (Cauchy)
                lead = abs(shifted_t[-1])
                bound = max(bound, 2 + math.ceil(max(abs(c) for c in shifted_t[:-1]) / lead))
        self.threshold = bound if constraint.kind != "divides" else 1
        # an integer-valued polynomial of degree d repeats modulo v every v * d! steps of its class
        self.truth_period = self.period * (constraint.value * math.factorial(degree) if self.kind == "divides" else 1)

    def holds(self, v: int) -> bool:
        coeffs, den = self.rows[v % self.period]
        num = 0
        for c in reversed(coeffs):
            num = num * v + c
        if self.kind == ">=":
            return num >= self.value * den
        if self.kind == "==":
            return num == self.value * den
        return num % (self.value * den) == 0


def _checks(x: Any, relevant: list[Constraint]) -> list[_Check]:
    checks = []
    for c in relevant:
        try:
            q = _quasi(c.form, x)
        except _PeriodTooLongError:
            raise _refuse(c, [x], f"its floors repeat only every more than {_MAX_WINDOW} sizes") from None
        if q is None:
            raise _refuse(c, [x], "the size is not built from integers, sums, products and floors of the symbol")
        if c.kind == "divides" and (q.polys and max(len(p) for p in q.polys) > 4):
            raise _refuse(c, [x], "divisibility of a polynomial of degree above 3")
        checks.append(_Check(c, q))
    return checks


def _solve_quasi(x: Any, relevant: list[Constraint]) -> Solution:
    checks = _checks(x, relevant)
    start = max([k.threshold for k in checks], default=1)
    period = 1
    for k in checks:
        period = math.lcm(period, k.truth_period)
    if start + period > _MAX_WINDOW:
        c = max(checks, key=lambda k: k.threshold + k.truth_period).constraint
        raise _refuse(c, [x], f"deciding it needs more than {_MAX_WINDOW} sizes checked")
    valid: list[int] = []
    for v in range(1, start + period):
        for k in checks:
            if not k.holds(v):
                break
        else:
            valid.append(v)
    return _as_solution(x, valid, start, period, relevant)


def _as_solution(x: Any, valid: list[int], start: int, period: int, relevant: list[Constraint]) -> Solution:
    """The Solution of a set given by its values below ``start + period``, periodic from ``start``."""
    if not valid:
        raise ShapeError(
            f"no value of {x} satisfies every layer: {'; '.join(map(str, relevant))}. Received: symbol={x}"
        )
    found = set(valid)
    residues = sorted({v % period for v in range(start, start + period) if v in found})
    if not residues:  # a finite set
        return Solution(x, valid[0], 1, (), tuple(valid), valid[-1] + 1)
    period, residues = _reduce_period(period, residues)
    keep = set(residues)
    while start > 1 and ((start - 1) in found) == ((start - 1) % period in keep):
        start -= 1
    extra = tuple(v for v in valid if v < start)
    first = next(v for v in range(start, start + period) if v % period in keep)
    if extra:
        return Solution(x, extra[0], period, tuple(residues), extra, first)
    return Solution(x, first, period, tuple(residues))


# --------------------------------------------------------------------------- #
# Symbols tied by a product: finitely many points
# --------------------------------------------------------------------------- #


def _factors(c: Constraint) -> tuple[int, dict[Any, Any], int] | None:
    """``form == value`` as ``k * prod(f_s(s)) == target``: k, one factor per symbol and the target (the value less
    the form's constant term: a broadcast's ``floor(H/16)*floor(W/16) - 196 == 0``), or None."""
    import sympy

    constant, rest = sympy.sympify(c.form).as_coeff_Add()
    if not constant.is_Integer:
        return None
    expr = sympy.factor_terms(rest)
    k = 1
    factors: dict[Any, Any] = {}
    for arg in sympy.Mul.make_args(expr):
        symbols = arg.free_symbols
        if not symbols:
            if not arg.is_Integer:
                return None
            k *= int(arg)
        elif len(symbols) == 1:
            (s,) = symbols
            factors[s] = factors.get(s, 1) * arg
        else:
            return None
    return k, factors, c.value - int(constant)


def _solve_coupled(plan: Plan, x: Any, coupled: list[Constraint]) -> Solution:
    tie = next((c for c in coupled if c.kind == "=="), None)
    if tie is None:
        c = coupled[0]
        raise _refuse(c, _symbols_of(c), "it ties several symbols and fixes none of them")
    split = _factors(tie)
    symbols = _symbols_of(tie)
    if split is None or split[0] == 0 or split[2] % split[0]:
        raise _refuse(tie, symbols, "it is not a product of sizes of one symbol each")
    k, factors, value = split
    target = value // k
    ordered = [s for s in plan.symbols if s in factors]
    candidates: list[list[int]] = []
    for s in ordered:
        own = [c for c in plan.constraints if _symbols_of(c) == {s}]
        solution = _solve_one(s, own)
        q = _quasi(factors[s], s)
        if q is None or any(len(p) < 2 or p[-1] < 0 for p in q.polys):
            raise _refuse(tie, symbols, f"the factor {factors[s]} of {s} does not grow with {s}")
        check = _Check(Constraint(tie.layer, tie.axis, factors[s], ">=", abs(target) + 1, tie.reason), q)
        bound = max(check.threshold, solution.smallest) + q.period
        if bound > _MAX_WINDOW:
            raise _refuse(tie, symbols, f"more than {_MAX_WINDOW} sizes of {s} to check")
        values = []
        for v in range(1, bound):
            if v in solution:
                coeffs, den = check.rows[v % q.period]
                num = 0
                for co in reversed(coeffs):
                    num = num * v + co
                if num % den == 0 and num != 0 and target % (num // den) == 0:
                    values.append(v)
        candidates.append(values)
    if math.prod(len(c) for c in candidates) > _MAX_POINTS:
        raise _refuse(tie, symbols, f"more than {_MAX_POINTS} combinations of sizes to check")
    others = [c for c in coupled if c is not tie]
    for c in others:
        if not _symbols_of(c) <= set(ordered):
            raise _refuse(c, _symbols_of(c), "it ties symbols that no Linear layer fixes")
    import itertools

    points = []
    for combo in itertools.product(*candidates):
        at = dict(zip(ordered, combo, strict=True))
        if all(_holds_at(c, at) for c in [tie, *others]):
            points.append(combo)
    if not points:
        raise ShapeError(
            f"no values of {', '.join(map(str, ordered))} satisfy every layer: {tie}. Received: symbol={x}"
        )
    first = min(p[ordered.index(x)] for p in points)
    return Solution(tuple(ordered), first, 1, (), points=tuple(sorted(points)))


def _holds_at(c: Constraint, values: dict[Any, int]) -> bool:
    v = int(c.form.subs(values))
    if c.kind == ">=":
        return v >= c.value
    if c.kind == "==":
        return v == c.value
    return v % c.value == 0


def inputs_for(plan: Plan, output: int, symbol: Any = None, axis: int | None = None) -> list[int]:
    if type(output) is not int or output < 1:
        raise SpecError(f"output must be a positive int. Received: output={output!r}")
    solution = solve_sizes(plan, symbol)
    if solution.points is not None:
        names = ", ".join(map(str, solution.symbol))
        raise SpecError(
            f"{names} are tied by a layer: valid_sizes() lists their valid values {solution}; inputs_for() "
            f"solves one symbol at a time. Received: symbol={symbol}"
        )
    x = solution.symbol
    dims = [j for j, d in enumerate(plan.output_shape) if getattr(d, "free_symbols", None) and x in d.free_symbols]
    if axis is not None:
        rank = len(plan.output_shape)
        if type(axis) is not int or not -rank <= axis < rank:
            raise SpecError(
                f"axis must be an axis of the output shape {plan.output_shape}: from {-rank} to {rank - 1}. "
                f"Received: axis={axis!r}"
            )
        if axis % rank not in dims:
            raise SpecError(
                f"axis {axis} of the output shape {plan.output_shape} does not depend on {x}"
                + (f"; axes {dims} do" if dims else "")
                + f". Received: axis={axis}, symbol={x}"
            )
        dims = [axis % rank]
    if not dims:
        raise SpecError(f"the output shape {plan.output_shape} does not depend on {x}. Received: symbol={x}")
    expr = plan.output_shape[dims[0]]
    if not solution.residues and to_sympy(expr).free_symbols == {x}:  # finitely many valid sizes: each checked
        return [v for v in solution.extra if int(to_sympy(expr).subs(x, v)) == output]
    if _clamped(expr):  # a slice's clamp the constraints decide (see _settled)
        expr = _settle(expr, [f for f in map(_fact, plan.constraints) if f is not None])
    if _clamped(expr):  # a clamp that settles for good past some size: those below are checked one by one
        plain, past = _settled_for_good(expr, x)
        if plain is not None and past <= _MAX_LISTED:
            below = [v for v in range(1, past) if v in solution and int(expr.subs(x, v)) == output]
            return below + [v for v in _inputs_for_form(plain, x, output, solution) if v >= past]
    return _inputs_for_form(expr, x, output, solution)


def _inputs_for_form(expr: Any, x: Any, output: int, solution: Solution) -> list[int]:
    """Every valid ``x`` whose size ``expr`` (no Max or Min in it) is ``output``."""
    form = FloorForm.parse(expr)
    if form is None or form.slope_sign <= 0:
        return _inputs_by_quasi(expr, x, output, solution)
    # the run of x with form(x) == output: from the first x with form(x) >= output to the first with more
    first = _first(lambda v: form(v) >= output, solution.smallest)
    if first is None or form(first) != output:
        return []
    beyond = _first(lambda v: form(v) > output, first, limit=first + _MAX_LISTED)
    if beyond is None:
        raise SpecError(
            f"output {output} comes from more than {_MAX_LISTED} sizes of {x}, from {first} on: too many to list; "
            f"valid_sizes() says which sizes are valid. Received: output={output}"
        )
    return [v for v in range(first, beyond) if v in solution]


def _inputs_by_quasi(expr: Any, x: Any, output: int, solution: Solution) -> list[int]:
    """Every valid x with ``expr(x) == output``, for a size that grows past every bound on each residue class."""
    try:
        q = _quasi(expr, x)
    except _PeriodTooLongError:
        q = None
    if q is None or any(len(p) < 2 or p[-1] < 0 for p in q.polys):
        raise SpecError(f"output size {expr} is not a growing closed form in {x}. Received: output={output}")
    check = _Check(Constraint("", 0, expr, ">=", output + 1, ""), q)
    bound = check.threshold + q.period
    if bound > _MAX_LISTED:
        raise SpecError(
            f"output {output} needs more than {_MAX_LISTED} sizes of {x} checked: too many; "
            f"valid_sizes() says which sizes are valid. Received: output={output}"
        )
    same = _Check(Constraint("", 0, expr, "==", output, ""), q)
    return [v for v in range(1, bound) if same.holds(v) and v in solution]
