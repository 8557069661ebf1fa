"""Which symbolic input sizes make a plan valid, and which give a wanted output.

Every constraint is ``form >= v`` or ``form divisible by v`` where ``form`` is
``m * floor((a*x + b)/c) + e``; such a condition is periodic in ``x`` (period
``c * v``) once ``x`` is past its threshold. So the valid set is ``{x >= x0 :
x mod L in R}``, found exactly by checking one period past the largest
threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc._errors import ShapeError, SpecError
from convcalc._plan import Constraint, Plan
from convcalc._symbolic import FloorForm

__all__ = ["Solution", "inputs_for", "solve_sizes"]

_SEARCH_LIMIT = 10**12
_MAX_LISTED = 10**6  # the most input sizes inputs_for() scans and lists


@dataclass(frozen=True)
class Solution:
    """The valid values of one input symbol: ``x >= smallest`` and ``x mod modulus in residues``.

    ``str(solution)`` reads ``H >= 188 and H ≡ 12 (mod 16)``.
    """

    symbol: Any
    smallest: int
    modulus: int
    residues: tuple[int, ...]

    def __contains__(self, value: object) -> bool:
        return type(value) is int and value >= self.smallest and value % self.modulus in self.residues

    def values(self, limit: int) -> list[int]:
        """The valid values up to ``limit``."""
        return [x for x in range(self.smallest, limit + 1) if x % self.modulus in self.residues]

    def __str__(self) -> str:
        head = f"{self.symbol} >= {self.smallest}"
        if self.modulus == 1:
            return head
        if len(self.residues) == 1:
            return f"{head} and {self.symbol} ≡ {self.residues[0]} (mod {self.modulus})"
        return f"{head} and {self.symbol} mod {self.modulus} in {{{', '.join(map(str, self.residues))}}}"


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
    """Smallest x from which ``c`` can hold (1 for divisibility). solve_sizes refuses shrinking
    forms first, and a constant condition is never a constraint: a ``>=`` here grows with x."""
    if c.kind != ">=":
        return 1
    x = _first(c.holds, 1)
    if x is None:
        raise ShapeError(f"no input size up to {_SEARCH_LIMIT} satisfies {c}. Received: constraint={c}")
    return x


def solve_sizes(plan: Plan, symbol: Any = None) -> Solution:
    x = _pick_symbol(plan, symbol)
    relevant = [c for c in plan.constraints if c.symbol == x]
    fixed = [c for c in relevant if c.kind == "=="]
    if fixed:
        raise SpecError(
            f"{fixed[0]}: this layer fixes the input size, which convcalc's solver (growing sizes with "
            f"divisibility) does not handle; plan concrete sizes, or put an adaptive pooling before it. "
            f"Received: symbol={x}"
        )
    relevant = [c for c in relevant if isinstance(c.form, FloorForm)]
    for c in relevant:
        if c.kind == ">=" and c.form.slope_sign < 0:
            raise ShapeError(
                f"constraint {c} shrinks as {x} grows; convcalc solves growing sizes only. Received: constraint={c}"
            )
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


def _reduce_period(period: int, residues: list[int]) -> tuple[int, list[int]]:
    """The shortest period under which the same residues repeat (all residues: period 1)."""
    valid = set(residues)
    for d in range(1, period + 1):
        if period % d == 0 and all((r in valid) == (r % d in valid) for r in range(period)):
            return d, sorted({r % d for r in valid})
    return period, residues  # pragma: no cover - d = period always qualifies


def inputs_for(plan: Plan, output: int, symbol: Any = None, axis: int | None = None) -> list[int]:
    if type(output) is not int or output < 1:
        raise SpecError(f"output must be a positive int. Received: output={output!r}")
    solution = solve_sizes(plan, symbol)
    x = solution.symbol
    dims = [j for j, d in enumerate(plan.output_shape) if getattr(d, "free_symbols", None) and x in d.free_symbols]
    if axis is not None:
        dims = [axis] if axis in dims else []
    if not dims:
        raise SpecError(f"the output shape {plan.output_shape} does not depend on {x}. Received: symbol={x}")
    form = FloorForm.parse(plan.output_shape[dims[0]])
    if form is None or form.slope_sign <= 0:
        raise SpecError(
            f"output size {plan.output_shape[dims[0]]} is not a growing closed form in {x}. Received: output={output}"
        )
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
