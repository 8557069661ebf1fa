"""Forwards that ask a tensor's rank as Python asks a length, each compared with torch running the same forward.

``len(x.shape)``, ``len(x.size())``, ``x.shape.__len__()``, ``*batch, h, w = x.shape``, ``len(x.shape[2:])``,
``for d in range(len(x.shape))``, ``x.shape[-len(k.shape):]``, and a rank check as kornia's ``KORNIA_CHECK_SHAPE``
writes it: the trace guesses the rank, the plan checks the guess, and a forward that raises on a guess is read
again with another, so every row is read by rule, at numbers and at symbols; a wrong rank is refused with the
model's own message, where torch raises it.
"""

from __future__ import annotations

from typing import Any

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc

torch.set_num_threads(1)


def _check_shape(x: torch.Tensor, shape: list[str]) -> None:
    """A shape check as kornia writes it (``KORNIA_CHECK_SHAPE``): the rank first, then each named size."""
    if len(shape) > 0 and shape[0] == "*":
        x_shape = x.shape[max(len(x.shape) - len(shape[1:]), 0) :]
        shape = shape[1:]
    else:
        x_shape = x.shape
    if len(x_shape) != len(shape):
        raise ValueError(f"Shape dimension mismatch: expected {len(shape)} dimensions, got {len(x_shape)}")
    for i in range(len(x_shape)):
        if shape[i].isnumeric() and x_shape[i] != int(shape[i]):
            raise ValueError(f"Shape mismatch at dimension {i}: expected {shape[i]}, got {x_shape[i]}")


class RankChecked(torch.nn.Module):
    """``if len(x.shape) != 4: raise``, the message naming the rank found."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x.shape) != 4:
            raise ValueError(f"expected a 4-D input, got {len(x.shape)}-D")
        return self.conv(x)


class SizeLength(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x.size()) < 4:
            raise ValueError(f"expected a batch of images, got a {len(x.size())}-D input")
        return self.conv(x)


class ShapeDunderLength(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape.__len__() == 4, "a 4-D input"
        return self.conv(x)


class RankAndChannels(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (len(x.shape) == 4 and x.shape[1] == 3):
            raise ValueError(f"expected (B, 3, H, W), got {tuple(x.shape)}")
        return self.conv(x)


class BatchFirst(RankChecked):
    """``len(x)``: the batch, the first size; the rank of a batch as many names as it has."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        assert b == len(x)
        return self.conv(x).reshape(len(x), c + 1, h - 2, w - 2)


class StarredBatch(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *batch, h, w = x.shape
        if len(batch) != 2:
            raise ValueError(f"expected (B, C, H, W), got {len(batch)} leading dims")
        return self.conv(x).flatten(2)[..., : h * w // 2]


class SpatialRank(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x.shape[2:]) != 2:
            raise ValueError("expected two spatial dims")
        return self.conv(x)


class EveryAxis(RankChecked):
    """``for d in range(len(x.shape))``: a loop over the axes, as many times as the rank."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        for d in range(len(x.shape)):
            if d >= 2:
                y = y.flip(d)
        return y


class KernelRank(RankChecked):
    """``x.shape[-len(k.shape):]``: the trailing sizes a kernel of ``k``'s rank covers."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", torch.ones(3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[-len(self.kernel.shape) :]
        y = self.conv(x)
        return y.reshape(*y.shape[: -len(spatial)], -1)


class KorniaChecked(RankChecked):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_shape(x, ["B", "3", "H", "W"])
        y = self.conv(x)
        _check_shape(y, ["*", "H", "W"])
        return y


FORMS = [RankChecked, SizeLength, ShapeDunderLength, RankAndChannels, BatchFirst, StarredBatch, SpatialRank]
FORMS += [EveryAxis, KernelRank, KorniaChecked]


def _torch_run(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(model(torch.zeros(shape)).shape)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
@settings(max_examples=5, deadline=None)
@given(b=st.integers(1, 3), h=st.integers(3, 12), w=st.integers(3, 12))
def test_a_rank_asked_as_a_length_is_read_by_rule(form: type[torch.nn.Module], b: int, h: int, w: int) -> None:
    model = form()
    plan = convcalc.plan(model, (b, 3, h, w))
    assert plan.output_shape == _torch_run(model, (b, 3, h, w))
    assert plan.total_params == _params(model)
    assert {row.source for row in plan.rows} == {"rule"}


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
def test_a_rank_asked_as_a_length_is_read_by_rule_at_symbols(form: type[torch.nn.Module]) -> None:
    model = form()
    plan = convcalc.plan(model, (2, 3, "H", "W"))
    assert {row.source for row in plan.rows} == {"rule"}
    assert plan.total_params == _params(model)
    H, W = (sympy.Symbol(n, integer=True, positive=True) for n in "HW")
    for h, w in ((3, 3), (5, 9), (12, 7)):
        at = tuple(int(sympy.sympify(d).subs({H: h, W: w})) for d in plan.output_shape)
        assert at == _torch_run(model, (2, 3, h, w)), (h, w)


@pytest.mark.parametrize("form", [RankChecked, SizeLength, RankAndChannels, StarredBatch, KorniaChecked])
@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 2, 3, 8, 8), (2, 3, "H", "W", 4)], ids=str)
def test_a_wrong_rank_is_refused_with_the_models_message(form: type[torch.nn.Module], shape: tuple[Any, ...]) -> None:
    model = form()
    numeric = tuple(8 if isinstance(d, str) else d for d in shape)
    with pytest.raises((ValueError, RuntimeError)) as raised:  # the forward's check, or the conv's on its rank
        _torch_run(model, numeric)
    with pytest.raises(convcalc.ConvCalcError) as refused:
        convcalc.plan(model, shape)
    if isinstance(raised.value, ValueError):  # the forward's own check: its message, as torch's run gives it
        message = str(raised.value).splitlines()[0]
        if numeric != shape:  # (at symbols, the sizes a message shows are the trace's, not numbers)
            message = message.partition(" got ")[0]
        assert message in str(refused.value)


def test_a_rank_check_passed_then_failed_reads_each_plan_on_its_own() -> None:
    # the decisions one plan's read took (a rank of 3, refused) are not the next plan's (a rank of 4)
    model = RankChecked()
    with pytest.raises(convcalc.ConvCalcError, match="expected a 4-D input, got 3-D"):
        convcalc.plan(model, (3, 8, 8))
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shape == (2, 4, 6, 6)
    assert {row.source for row in plan.rows} == {"rule"}
