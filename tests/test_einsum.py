"""``torch.einsum`` read from a forward: shapes as torch computes them, and refusals where torch raises."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import convcalc  # noqa: E402
from convcalc import ConvCalcError  # noqa: E402


class Einsum(torch.nn.Module):
    def __init__(self, equation: str, other: tuple[int, ...]) -> None:
        super().__init__()
        self.equation = equation
        self.register_buffer("other", torch.ones(other))

    def forward(self, x: Any) -> Any:
        return torch.einsum(self.equation, x, self.other)


CASES = [
    ("bchw,cd->bdhw", (2, 3, 4, 5), (3, 6)),
    ("...hw,wk->...hk", (2, 3, 4, 5), (5, 2)),
    ("bij,bjk", (2, 3, 4), (2, 4, 5)),  # implicit output: the indices that appear once, sorted
    ("b...,b...->b...", (2, 3, 4), (1, 3, 4)),  # a size 1 broadcasts
    ("bii,bj->bij", (2, 3, 3), (2, 4)),  # a repeated index within one operand: its diagonal
    ("bij,jk->bik", (2, 3, 4), (5, 6)),  # j: 4 against 5
    ("bij,jk->bik", (2, 3), (4, 6)),  # operand 0 has 2 dims, 3 subscripts
    ("bi,ik,kl->bl", (2, 3), (3, 4)),  # three operands named, two given
    ("bij,jk->bqk", (2, 3, 4), (4, 6)),  # q is in no operand
]


@pytest.mark.parametrize(("equation", "shape", "other"), CASES, ids=[c[0] + str(c[1]) for c in CASES])
def test_einsum_plans_as_torch_runs_it(equation: str, shape: tuple[int, ...], other: tuple[int, ...]) -> None:
    model = Einsum(equation, other)
    try:
        expected: Any = tuple(model(torch.zeros(shape)).shape)
    except RuntimeError:
        expected = None
    if expected is None:
        with pytest.raises(ConvCalcError):
            convcalc.plan(model, shape)
    else:
        assert convcalc.plan(model, shape).output_shape == expected
