"""Solving for symbolic input sizes: exact answers and messages (written to kill mutants; see docs/mutation.md)."""

from __future__ import annotations

import pytest

import convcalc
from convcalc import ShapeError, Solution, SpecError, nn

H, W = convcalc.symbols("H W")


def plan_of(*layers: nn.Module, shape: tuple = (1, 1, H, H), strict: bool = False) -> convcalc.Plan:
    return convcalc.plan(nn.Sequential(*layers), shape, strict=strict)


def parts(solution: Solution) -> tuple:
    return (str(solution.symbol), solution.smallest, solution.modulus, solution.residues)


# --------------------------------------------------------------------------- #
# Which symbol
# --------------------------------------------------------------------------- #


def test_each_symbol_is_solved_on_its_own_axis() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (3, 5), stride=(2, 3)), shape=(1, 1, H, W), strict=True)
    assert parts(plan.valid_sizes()) == ("H", 3, 2, (1,))
    assert parts(plan.valid_sizes(H)) == ("H", 3, 2, (1,))
    assert parts(plan.valid_sizes(W)) == ("W", 5, 3, (2,))
    assert parts(plan.valid_sizes("W")) == ("W", 5, 3, (2,))
    assert plan.inputs_for(4) == [9]
    assert plan.inputs_for(4, W) == [14]
    assert plan.inputs_for(4, "W") == [14]


def test_unknown_symbol_names_the_plans_symbols() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3), shape=(1, 1, H, W))
    with pytest.raises(SpecError) as info:
        plan.valid_sizes("Z")
    assert str(info.value) == "symbol Z is not an input of this plan; it has H, W. Received: symbol='Z'"


def test_a_plan_without_symbols_cannot_be_solved() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3), shape=(1, 1, 8, 8))
    with pytest.raises(SpecError) as info:
        plan.valid_sizes()
    assert str(info.value) == (
        "this plan has no symbolic input size: plan with convcalc.symbols('H W'). Received: symbols=()"
    )


# --------------------------------------------------------------------------- #
# The valid set
# --------------------------------------------------------------------------- #


def test_no_constraint_means_every_size_from_1() -> None:
    solution = plan_of(nn.ReLU()).valid_sizes()
    assert parts(solution) == ("H", 1, 1, (0,))
    assert str(solution) == "H >= 1"
    assert solution.values(4) == [1, 2, 3, 4]


def test_divisibility_alone_allows_size_1() -> None:
    # only "H - 1 divisible by 2" is recorded: 1 itself is valid
    solution = plan_of(nn.Conv2d(1, 1, 1, stride=2), strict=True).valid_sizes()
    assert parts(solution) == ("H", 1, 2, (1,))
    assert str(solution) == "H >= 1 and H ≡ 1 (mod 2)"
    assert 1 in solution
    assert solution.values(9) == [1, 3, 5, 7, 9]


def test_periods_of_different_axes_combine() -> None:
    # axis 0 needs H ≡ 0 (mod 3) after the kernel, axis 1 H ≡ 1 (mod 2): together H ≡ 3 (mod 6)
    solution = plan_of(nn.Conv2d(1, 1, 3, stride=(3, 2)), strict=True).valid_sizes()
    assert parts(solution) == ("H", 3, 6, (3,))
    assert solution.values(20) == [3, 9, 15]


def test_divisibility_that_no_power_of_two_meets() -> None:
    # H ≡ 3 (mod 4): the threshold search (which doubles) must not be used for divisibility
    solution = plan_of(nn.Conv2d(1, 1, 3, stride=4), strict=True).valid_sizes()
    assert parts(solution) == ("H", 3, 4, (3,))
    assert str(solution) == "H >= 3 and H ≡ 3 (mod 4)"


def test_a_period_that_every_residue_meets_reduces_to_1() -> None:
    # the second conv's size has a floor with denominator 2, but every H >= 7 fits
    solution = plan_of(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3, stride=2)).valid_sizes()
    assert parts(solution) == ("H", 7, 1, (0,))
    assert str(solution) == "H >= 7"


def test_smallest_size_is_in_the_solution_and_one_below_is_not() -> None:
    solution = plan_of(nn.Conv2d(1, 1, 5)).valid_sizes()
    assert parts(solution) == ("H", 5, 1, (0,))
    assert 5 in solution
    assert 4 not in solution
    assert 5.0 not in solution
    assert solution.values(7) == [5, 6, 7]
    assert solution.values(4) == []


def test_solution_text_with_several_residues() -> None:
    assert str(Solution(H, 3, 4, (0, 1))) == "H >= 3 and H mod 4 in {0, 1}"
    assert str(Solution(H, 3, 2, (1,))) == "H >= 3 and H ≡ 1 (mod 2)"
    assert str(Solution(H, 3, 1, (0,))) == "H >= 3"


def test_contradicting_axes_have_no_solution() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3, stride=2), shape=(1, 1, H, H + 1), strict=True)
    with pytest.raises(ShapeError) as info:
        plan.valid_sizes()
    assert str(info.value) == (
        "no value of H satisfies every layer: 0 (axis 0): H - 3 >= 0 (kernel 3 fits the padded input); "
        "0 (axis 0): H - 3 divisible by 2 (stride 2 divides evenly); "
        "0 (axis 1): H - 2 >= 0 (kernel 3 fits the padded input); "
        "0 (axis 1): H - 2 divisible by 2 (stride 2 divides evenly). Received: symbol=H"
    )


def test_a_layer_that_fixes_the_size_has_one_value() -> None:
    # 6 * (H - 2) == 36 by hand: H = 8 only
    plan = plan_of(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(36, 10), shape=(1, 1, H, 8))
    solution = plan.valid_sizes()
    assert str(solution) == "H = 8"
    assert solution.values(100) == [8]
    assert (8 in solution, 7 in solution, 9 in solution) == (True, False, False)


def test_a_shrinking_size_is_a_finite_run() -> None:
    # 100 - H >= 3 by hand: H = 1 .. 97
    plan = plan_of(nn.Conv2d(1, 1, 3), shape=(1, 1, 100 - H, 8))
    solution = plan.valid_sizes()
    assert str(solution) == "1 <= H <= 97"
    assert solution.values(1000) == list(range(1, 98))
    assert 98 not in solution


def test_a_shrinking_size_with_its_divisibility() -> None:
    # 97 - H >= 0 and even: the odd H up to 97
    plan = plan_of(nn.Conv2d(1, 1, 3, stride=2), shape=(1, 1, 100 - H, 9), strict=True)
    assert plan.valid_sizes().values(1000) == list(range(1, 98, 2))


def test_solution_text_with_values_before_the_periodic_run() -> None:
    assert str(Solution(H, 1, 4, (1,), (1, 2, 3, 5, 6), 9)) == "H in {1..3, 5, 6} or (H >= 9 and H ≡ 1 (mod 4))"
    assert str(Solution(H, 2, 1, (), (2, 4), 5)) == "H in {2, 4}"
    assert str(Solution((H, W), 3, 1, (), points=((3, 18), (4, 10)))) == "(H, W) in {(3, 18), (4, 10)}"


def test_no_size_up_to_the_search_limit() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (2 * 10**12, 1)), shape=(1, 1, H, 4))
    with pytest.raises(ShapeError) as info:
        plan.valid_sizes()
    constraint = "0 (axis 0): H - 2000000000000 >= 0 (kernel 2000000000000 fits the padded input)"
    assert (
        str(info.value)
        == f"no input size up to 1000000000000 satisfies {constraint}. Received: constraint={constraint}"
    )


def test_a_threshold_below_the_search_limit_is_found() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (600_000_000_000, 1)), shape=(1, 1, H, 4))
    assert plan.valid_sizes().smallest == 600_000_000_000


# --------------------------------------------------------------------------- #
# inputs_for
# --------------------------------------------------------------------------- #


def test_inputs_for_lists_every_input_of_a_flat_run() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3, stride=8))
    assert plan.inputs_for(1) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert plan.inputs_for(2) == [11, 12, 13, 14, 15, 16, 17, 18]


def test_inputs_for_keeps_only_valid_inputs() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 1, stride=2), strict=True)
    assert str(plan.valid_sizes()) == "H >= 3 and H ≡ 3 (mod 4)"
    assert plan.inputs_for(1) == [3]
    assert plan.inputs_for(3) == [11]


def test_inputs_for_picks_the_axis() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (3, 5)))
    assert plan.output_shape == (1, 1, H - 2, H - 4)
    assert plan.inputs_for(4) == [6]
    assert plan.inputs_for(4, axis=2) == [6]
    assert plan.inputs_for(4, axis=3) == [8]


def test_inputs_for_an_axis_without_the_symbol() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (3, 5)))
    with pytest.raises(SpecError) as info:
        plan.inputs_for(4, axis=1)
    assert str(info.value) == (
        "axis 1 of the output shape (1, 1, H - 2, H - 4) does not depend on H; axes [2, 3] do. "
        "Received: axis=1, symbol=H"
    )


def test_inputs_for_counts_axes_from_the_end_and_refuses_one_out_of_range() -> None:
    plan = plan_of(nn.Conv2d(1, 1, (3, 5)))
    assert plan.inputs_for(4, axis=-1) == plan.inputs_for(4, axis=3) == [8]
    assert plan.inputs_for(4, axis=-2) == [6]
    for axis in (4, -5, 1.0):
        with pytest.raises(SpecError, match=r"axis must be an axis of the output shape .*: from -4 to 3"):
            plan.inputs_for(4, axis=axis)


def test_inputs_for_a_flattened_output() -> None:
    plan = plan_of(nn.Conv2d(1, 2, 3), nn.Flatten(), shape=(1, 1, H, W))
    with pytest.raises(SpecError) as info:
        plan.inputs_for(4)
    assert str(info.value) == ("output size 2*(H - 2)*(W - 2) is not a growing closed form in H. Received: output=4")


@pytest.mark.parametrize("output", [0, -1, 2.0, "3"])
def test_inputs_for_needs_a_positive_int(output: object) -> None:
    plan = plan_of(nn.Conv2d(1, 1, 3))
    with pytest.raises(SpecError) as info:
        plan.inputs_for(output)  # type: ignore[arg-type]
    assert str(info.value) == f"output must be a positive int. Received: output={output!r}"


def test_inputs_for_output_1() -> None:
    assert plan_of(nn.Conv2d(1, 1, 3)).inputs_for(1) == [3]


def test_inputs_for_finds_an_input_at_the_search_limit() -> None:
    # the doubling search reaches 244140625 * 2**12 = 10**12 exactly: still searched
    kernel = 244_140_625
    plan = plan_of(nn.Conv2d(1, 1, (kernel, 1)), shape=(1, 1, H, 4))
    assert plan.valid_sizes().smallest == kernel
    assert plan.inputs_for(10**12 - kernel + 1) == [10**12]


def test_inputs_for_beyond_the_search_limit_is_empty() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 1), shape=(1, 1, H, 4))
    assert plan.inputs_for(2 * 10**12) == []


def test_inputs_for_below_the_search_limit_is_found() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 1), shape=(1, 1, H, 4))
    assert plan.inputs_for(600_000_000_000) == [600_000_000_000]


def test_inputs_for_lists_a_run_of_a_million_sizes() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 1, stride=10**6), shape=(1, 1, H, 4))
    found = plan.inputs_for(1)
    assert (len(found), found[0], found[-1]) == (10**6, 1, 10**6)
    assert plan.inputs_for(2) == list(range(10**6 + 1, 2 * 10**6 + 1))


def test_inputs_for_refuses_to_list_more_than_a_million_sizes() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 1, stride=10**6 + 1), shape=(1, 1, H, 4))
    with pytest.raises(SpecError) as info:
        plan.inputs_for(1)
    assert str(info.value) == (
        "output 1 comes from more than 1000000 sizes of H, from 1 on: too many to list; valid_sizes() says which "
        "sizes are valid. Received: output=1"
    )


def test_inputs_for_a_run_past_the_search_limit_is_refused_too() -> None:
    plan = plan_of(nn.Conv2d(1, 1, 1, stride=10**13), shape=(1, 1, H, 4))
    with pytest.raises(SpecError, match=r"^output 1 comes from more than 1000000 sizes of H, from 1 on"):
        plan.inputs_for(1)


def test_inputs_for_an_output_the_floors_skip() -> None:
    # H -> 3 * floor((H - 1)/2) + 3 after an upsampling: outputs 3, 6, 9, ... only
    plan = plan_of(nn.Conv2d(1, 1, 1, stride=2), nn.Upsample(scale_factor=3))
    assert plan.inputs_for(6) == [3, 4]
    assert plan.inputs_for(7) == []


def test_values_start_at_the_smallest_valid_size() -> None:
    solution = Solution(H, 188, 16, (12,))
    assert solution.values(220) == [188, 204, 220]
    assert Solution(H, 5, 1, (0,)).values(6) == [5, 6]


def test_a_solution_bounded_from_above() -> None:
    import sympy

    H = sympy.Symbol("H", integer=True, positive=True)
    odd = Solution(H, 3, 2, (1,), largest=11)
    assert str(odd) == "H >= 3 and H ≡ 1 (mod 2) and H <= 11"
    assert odd.values(100) == [3, 5, 7, 9, 11]
    assert 11 in odd
    assert 13 not in odd
    assert "x" not in odd
    every = Solution(H, 3, 1, (0,), largest=5)
    assert str(every) == "3 <= H <= 5"
    assert every.values(4) == [3, 4]


def test_a_bound_from_above_past_the_window_is_kept_apart() -> None:
    import sympy

    from convcalc._plan import Constraint
    from convcalc._solve import _solve_one
    from convcalc._symbolic import FloorForm

    H = sympy.Symbol("H", integer=True, positive=True)
    cap = Constraint("resize", 0, FloorForm.linear(H, -1, 3 * 10**6), ">=", 0, "size at most 3000000")
    strided = Constraint("conv", 0, FloorForm.linear(H, 1, -3), "divides", 2, "stride 2 divides")
    low = Constraint("conv", 0, FloorForm.linear(H, 1, -3), ">=", 0, "kernel fits")
    solution = _solve_one(H, [cap, strided, low])
    assert (solution.smallest, solution.modulus, solution.residues, solution.largest) == (3, 2, (1,), 3 * 10**6)
    assert _solve_one(H, [cap]).largest == 3 * 10**6
    beyond = Constraint("conv", 0, FloorForm.linear(H, 1, -4 * 10**6), ">=", 0, "kernel fits")
    with pytest.raises(ShapeError, match="no value of H"):
        _solve_one(H, [cap, beyond])
    finite = Constraint("slice", 0, 10 - H, ">=", 0, "small")  # a sympy form, below the window: as before
    assert _solve_one(H, [cap, finite, low]).values(20) == list(range(3, 11))


def test_the_cap_of_a_falling_constraint_in_each_form() -> None:
    import sympy

    from convcalc._plan import Constraint
    from convcalc._solve import _cap
    from convcalc._symbolic import FloorForm

    H = sympy.Symbol("H", integer=True, positive=True)
    W = sympy.Symbol("W", integer=True, positive=True)
    assert _cap(Constraint("a", 0, 7 * 10**6 - 2 * H, ">=", 4, ""), H) == 3_499_998  # a sympy form
    assert _cap(Constraint("a", 0, FloorForm.linear(H, -2, 7 * 10**6), ">=", 4, ""), H) == 3_499_998
    assert _cap(Constraint("a", 0, FloorForm(H, -1, 1, 0, 2, 100), ">=", 0, ""), H) == 201  # 100 - floor(H/2)
    assert _cap(Constraint("a", 0, FloorForm.linear(H, 1, -3), ">=", 0, ""), H) is None  # rising
    assert _cap(Constraint("a", 0, 7 * 10**6 - 2 * H, "divides", 2, ""), H) is None
    assert _cap(Constraint("a", 0, 7 * 10**6 - 2 * H, "==", 0, ""), H) is None
    assert _cap(Constraint("a", 0, 7 * 10**6 - H * W, ">=", 0, ""), H) is None  # two symbols
    assert _cap(Constraint("a", 0, 7 * 10**6 - H**2, ">=", 0, ""), H) is None  # not linear
    assert _cap(Constraint("a", 0, sympy.Rational(7, 2) - H, ">=", 0, ""), H) is None  # not integers
    assert _cap(Constraint("a", 0, 10**13 - H, ">=", 0, ""), H) == 10**13  # a sympy form: exact, however far
    assert _cap(Constraint("a", 0, FloorForm.linear(H, -1, 10**13), ">=", 0, ""), H) is None  # past the search
