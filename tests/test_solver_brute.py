"""``Plan.valid_sizes`` and ``Plan.inputs_for`` against brute force: the input sizes for which
torch's forward runs, over 1..80 for one symbol and a grid for two. The solver must give exactly
that set (within the range checked) or refuse with a ConvCalcError; it may never give a wrong set."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from strategies import SolverCase, solver_cases

import convcalc
from convcalc import ConvCalcError, ShapeError, nn

torch = pytest.importorskip("torch")

H, W = convcalc.symbols("H W")
RANGE_1 = 80  # sizes 1..80 for one symbol on a 1-D input
RANGE_SQUARE = 32  # 1..32 for one symbol on a 2-D input
RANGE_2 = 14  # a 14 x 14 grid for two symbols


def _input(case: SolverCase, h: int, w: int | None = None) -> tuple[int, ...]:
    if case.ndim == 1:
        return (1, case.channels, h)
    if case.symbols == "HH":
        return (1, case.channels, h, h)
    if case.symbols == "H7":
        return (1, case.channels, h, 7)
    return (1, case.channels, h, w if w is not None else h)


class _EmptyOutputError(RuntimeError):
    """A layer returned a tensor with a size-0 axis."""


def _no_empty(module: Any, inputs: Any, output: Any) -> None:
    if isinstance(output, torch.Tensor) and output.numel() == 0:
        raise _EmptyOutputError(f"{module} gave {tuple(output.shape)}")


def _model(network: nn.Module) -> Any:
    """The torch model, with a hook that rejects a size-0 output: 2-D transposed convs return
    one for some sizes where the 1-D ones raise (ConvTranspose2d(1, 1, 4, padding=2) on 1 x 5
    gives 0 x 4), and convcalc counts every size below 1 as an error."""
    model = network.to_torch().eval()
    for module in model.modules():
        module.register_forward_hook(_no_empty)
    return model


def _runs(model: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """torch's output shape, or None when its forward raises."""
    try:
        with torch.no_grad():
            return tuple(model(torch.zeros(shape)).shape)
    except RuntimeError:
        return None


def _symbolic_shape(case: SolverCase) -> tuple[Any, ...]:
    if case.ndim == 1:
        return (1, case.channels, H)
    return {"HH": (1, case.channels, H, H), "H7": (1, case.channels, H, 7), "HW": (1, case.channels, H, W)}[
        case.symbols
    ]


def _settle_no_answer(error: ConvCalcError, truth: list[Any]) -> None:
    """A ShapeError that says no size fits: none in the range may run; any other error is a refusal."""
    message = str(error)
    if isinstance(error, ShapeError) and message.startswith("no value"):
        assert truth == [], (message, truth)
        event("solver: no valid size")
    else:
        event("solver: refused")


def _check_one_symbol(case: SolverCase, plan: convcalc.Plan, model: Any) -> None:
    top = RANGE_1 if case.ndim == 1 else RANGE_SQUARE
    outputs = {h: _runs(model, _input(case, h)) for h in range(1, top + 1)}
    truth = [h for h, out in outputs.items() if out is not None]
    try:
        solution = plan.valid_sizes(H)
    except ConvCalcError as error:
        _settle_no_answer(error, truth)
        return
    event("solver: exact answer")
    assert solution.values(top) == truth, (str(solution), truth)
    # inputs_for on the last axis, for each output size torch gives
    last = len(plan.output_shape) - 1
    if not getattr(plan.output_shape[last], "free_symbols", None) or case.symbols == "H7":
        return
    wanted = sorted({out[last] for out in outputs.values() if out is not None})[:4]
    for size in wanted:
        try:
            found = plan.inputs_for(size, H, axis=last)
        except ConvCalcError:
            event("inputs_for: refused")
            return
        expected = [h for h, out in outputs.items() if out is not None and out[last] == size]
        assert [h for h in found if h <= top] == expected, (size, found, expected)
        event("inputs_for: exact answer")


def _check_two_symbols(case: SolverCase, plan: convcalc.Plan, model: Any) -> None:
    grid = [(h, w) for h in range(1, RANGE_2 + 1) for w in range(1, RANGE_2 + 1)]
    truth = [p for p in grid if _runs(model, _input(case, *p)) is not None]
    try:
        sh, sw = plan.valid_sizes(H), plan.valid_sizes(W)
    except ConvCalcError as error:
        _settle_no_answer(error, truth)
        return
    event("solver: exact answer")
    if sh.points is not None:  # H and W tied: both answers are the same points
        assert sh == sw
        assert sh.values(RANGE_2) == truth, (str(sh), truth)
    else:
        assert [p for p in grid if p[0] in sh and p[1] in sw] == truth, (str(sh), str(sw), truth)


@settings(max_examples=1000)
@given(solver_cases())
def test_valid_sizes_are_the_sizes_torch_runs(case: SolverCase) -> None:
    try:
        plan = convcalc.plan(case.network, _symbolic_shape(case))
    except ConvCalcError:
        event("plan: refused")
        return
    model = _model(case.network)
    if case.symbols == "HW":
        _check_two_symbols(case, plan, model)
    else:
        _check_one_symbol(case, plan, model)


# --------------------------------------------------------------------------- #
# Regressions: sets that were wrong, truth from torch
# --------------------------------------------------------------------------- #


def _torch_sizes(network: nn.Module, shape: Any, sizes: Any) -> list[Any]:
    model = _model(network)
    return [s for s in sizes if _runs(model, shape(s)) is not None]


def test_a_pool_after_a_transposed_conv_after_a_pool() -> None:
    net = nn.Sequential(nn.MaxPool1d(3), nn.ConvTranspose1d(2, 2, 3, stride=3), nn.MaxPool1d(4))
    truth = _torch_sizes(net, lambda h: (1, 2, h), range(1, 61))
    assert truth[:3] == [6, 7, 8]
    solution = convcalc.plan(net, (1, 2, H)).valid_sizes()
    assert solution.values(60) == truth
    assert str(solution) == "H >= 6"


def test_a_linear_head_ties_height_and_width() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(64, 10))
    grid = [(h, w) for h in range(1, 41) for w in range(1, 41)]
    truth = _torch_sizes(net, lambda p: (1, 1, *p), grid)
    assert truth == [(3, 18), (4, 10), (6, 6), (10, 4), (18, 3)]  # (H - 2) * (W - 2) == 16
    plan = convcalc.plan(net, (1, 1, H, W))
    solution = plan.valid_sizes()
    assert solution.values(40) == truth
    assert plan.valid_sizes(W) == solution
    assert str(solution) == "(H, W) in {(3, 18), (4, 10), (6, 6), (10, 4), (18, 3)}"
    assert (4, 10) in solution
    assert (4, 11) not in solution
    with pytest.raises(convcalc.SpecError, match="H, W are tied by a layer"):
        plan.inputs_for(10)


def test_inputs_for_after_a_transposed_conv() -> None:
    net = nn.Sequential(nn.MaxPool1d(3), nn.ConvTranspose1d(2, 2, 3, stride=3), nn.MaxPool1d(4))
    model = _model(net)
    expected = [h for h in range(1, 61) if (_runs(model, (1, 2, h)) or (0, 0, 0))[2] == 3]
    assert convcalc.plan(net, (1, 2, H)).inputs_for(3) == expected


class _BorderCrop(torch.nn.Module):
    """A convolution and a one-pixel border dropped with negative slice ends, as U-Net code crops."""

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Conv2d(1, 1, 3)

    def forward(self, x: Any) -> Any:
        return self.c(x)[:, :, 1:-1, 1:-1]


def _torch_outputs(model: Any, shape: Any, sizes: range) -> dict[int, tuple[int, ...]]:
    """The output shape torch gives for each size it runs."""
    out = {}
    for h in sizes:
        runs = _runs(model, shape(h))
        if runs is not None:
            out[h] = runs
    return out


@pytest.mark.parametrize(
    ("name", "model", "shape"),
    [
        ("border crop", _BorderCrop(), lambda h: (1, 1, h, h)),
        (
            "ceil pool after a transposed convolution",
            torch.nn.Sequential(
                torch.nn.ConvTranspose1d(1, 1, 4, stride=2, padding=2),
                torch.nn.MaxPool1d(2, stride=4, padding=1, ceil_mode=True),
            ),
            lambda h: (1, 1, h),
        ),
        (
            "an upsample after such a pool",
            torch.nn.Sequential(
                torch.nn.Conv1d(1, 1, 2, stride=2, padding=4, padding_mode="replicate"),
                torch.nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1, output_padding=1),
                torch.nn.MaxPool1d(1, stride=3, dilation=2, ceil_mode=True),
                torch.nn.Conv1d(1, 1, 3, stride=2, dilation=3),
                torch.nn.Upsample(scale_factor=1.5),
            ),
            lambda h: (1, 1, h),
        ),
    ],
)
def test_a_clamp_the_other_layers_decide_is_solved(name: str, model: Any, shape: Any) -> None:
    # a slice's Max(0, H - 3) and a ceil pool's Min(floor((L - 1)/2), floor((2L + 1)/4)) were refused ("not built
    # from integers, sums, products and floors"), though the layers before them decide which argument they take
    x = convcalc.symbols("L")
    plan = convcalc.plan(model.eval(), shape(x))
    truth = _torch_outputs(model, shape, range(1, RANGE_1 + 1))
    solution = plan.valid_sizes()
    valid = {h for h in range(1, RANGE_1 + 1) if h in solution}
    # every size torch runs to a non-empty output is valid, and none torch refuses (an empty crop, 1:-1 of one
    # row, may be refused: convcalc takes a slice whose start passes its stop for a mistake)
    assert {h for h, out in truth.items() if 0 not in out} <= valid <= set(truth)
    for output in (1, 3, 4):
        assert plan.inputs_for(output) == [h for h, out in truth.items() if out[-1] == output]


def test_a_crop_whose_clamps_settle_to_a_false_equality_has_no_valid_size() -> None:
    """Two centre-cropping joins, the second summed with its input: the clamps of the crops, settled by the
    other constraints, leave ``1 == 0`` (the cropped branch is always one shorter), which the solver dropped as
    a constraint of no symbol and said H >= 4; torch runs no size."""
    up = (nn.MaxPool1d(2), nn.ConvTranspose1d(1, 1, 2, stride=2))
    net = nn.Sequential(
        nn.Concat(nn.Identity(), nn.Sequential(up[0], nn.AvgPool1d(1), up[1]), crop=True),
        nn.Conv1d(2, 1, 2),
        nn.Add(
            nn.Sequential(nn.Concat(nn.Identity(), nn.Sequential(*up), crop=True), nn.Conv1d(2, 1, 1)), nn.Identity()
        ),
    )
    assert _torch_sizes(net, lambda h: (1, 1, h), range(1, 41)) == []
    with pytest.raises(ShapeError, match=r"^no value of H satisfies every layer: 2 \(axis 0\)"):
        convcalc.plan(net, (1, 1, H)).valid_sizes()
