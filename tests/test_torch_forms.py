"""Forward code the reader once misread or refused, each form compared with torch running the same forward.

``x.unfold(dim, size, step)`` (a tensor method, not ``F.unfold``), tensors a forward makes from numbers
(``torch.ones(1)``, a mask), and the other forms below: the plan's output shape(s) and parameter counts are
torch's, and a form convcalc cannot plan is a ConvCalcError exactly where torch raises.
"""

from __future__ import annotations

import collections.abc
import json
import math
import operator
import random
import threading
from collections.abc import Callable
from fractions import Fraction
from types import FunctionType
from typing import Any

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from tests.torch_shapes import output_shapes

torch.set_num_threads(1)


class Forward(torch.nn.Module):
    """A module whose forward is ``function(self, x)``, with the given children."""

    def __init__(self, function: Callable[..., Any], **children: torch.nn.Module) -> None:
        super().__init__()
        self.function = function
        for name, child in children.items():
            self.add_module(name, child)

    def forward(self, x: Any) -> Any:
        return self.function(self, x)


def torch_outcome(model: torch.nn.Module, inputs: Any) -> Any:
    """torch's output shapes as ``Plan.output_shapes`` gives them, or None where torch raises."""
    shapes = inputs if isinstance(inputs, list) else [inputs]
    try:
        with torch.no_grad():
            if isinstance(inputs, dict):
                out = model(**{k: torch.zeros(s) for k, s in inputs.items()})
            else:
                out = model(*(torch.zeros(s) for s in shapes))
    except Exception:  # torch raises RuntimeError, IndexError, ValueError...
        return None
    return (output_shapes(out),) if isinstance(out, torch.Tensor) else output_shapes(out)


def torch_macs(model: torch.nn.Module, shapes: list[tuple[int, ...]]) -> int:
    """The multiply-accumulates of a forward on zeros of these shapes, as ``FlopCounterMode`` counts them (two
    FLOPs each), for the whole batch."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*(torch.zeros(s) for s in shapes))
    flops: int = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def plan_or_refusal(model: torch.nn.Module, inputs: Any) -> tuple[convcalc.Plan | None, convcalc.ConvCalcError | None]:
    """``(plan, None)``, or ``(None, the ConvCalcError convcalc raised)``."""
    try:
        return convcalc.plan(model, inputs), None
    except convcalc.ConvCalcError as exc:
        return None, exc


def check(model: torch.nn.Module, inputs: Any) -> convcalc.Plan | None:
    """The plan agrees with torch: same output shapes and parameter counts, or both refuse."""
    expected = torch_outcome(model, inputs)
    plan, refused = plan_or_refusal(model, inputs)
    if plan is None:
        assert type(refused) in (convcalc.ShapeError, convcalc.SpecError)
        assert "fault in convcalc" not in str(refused), refused  # a refusal torch shares, not a fault of a rule
        assert expected is None, f"convcalc refuses ({refused}) but torch gives {expected}"
        return None
    assert expected is not None, f"torch refuses but convcalc gives {plan.output_shapes}"
    assert plan.output_shapes == expected
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    return plan


# --- x.unfold(dimension, size, step) ------------------------------------------------------------------------------


@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple),
    dim=st.integers(-4, 3),
    size=st.integers(0, 8),
    step=st.integers(1, 4),
    keywords=st.booleans(),
)
def test_tensor_unfold_slides_along_one_axis(
    shape: tuple[int, ...], dim: int, size: int, step: int, keywords: bool
) -> None:
    if keywords:
        model = Forward(lambda self, x: x.unfold(dimension=dim, size=size, step=step))
    else:
        model = Forward(lambda self, x: x.unfold(dim, size, step))
    plan = check(model, shape)
    if plan is not None:
        assert not plan.fallback_rows  # read by the rule, not by torch's machinery


def test_tensor_unfold_is_not_im2col() -> None:
    """``F.unfold(x, 2, 3, 2)`` would read 2 as a kernel size: the method's arguments are an axis, a size, a step."""
    model = Forward(lambda self, x: x.unfold(3, 2, 2).unfold(2, 2, 2))
    assert check(model, (2, 3, 4, 6)).output_shape == (2, 3, 2, 3, 2, 2)  # type: ignore[union-attr]
    H = convcalc.symbols("H")
    plan = convcalc.plan(Forward(lambda self, x: x.unfold(2, 3, 2)), (1, 3, H, 5))
    assert [plan.output_shape[2].subs(H, h) for h in range(3, 12)] == [(h - 3) // 2 + 1 for h in range(3, 12)]
    assert plan.output_shape[3:] == (5, 3)
    assert [str(c) for c in plan.constraints] == ["unfold (axis 2): H - 3 >= 0 (axis at least 3)"]


# --- tensors a forward makes from numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "shape", "exact"),
    [
        (lambda self, x: self.conv(x) + torch.ones(1), (1, 3, 8, 8), True),
        (lambda self, x: self.conv(x) * torch.full((4, 1, 1), 2.0), (2, 3, 8, 8), True),
        (lambda self, x: torch.cat([self.conv(x), torch.zeros(2, 4, 6, 6)], 1), (2, 3, 8, 8), True),
        # a split iterated (its length a number asked, as len() is)
        (lambda self, x: len(list(x.split(1, 1))) * torch.ones(1) + self.conv(x), (1, 3, 8, 8), True),
        (lambda self, x: self.conv(x)[:, : len(list(x.split(1, 1)))] + torch.ones(1, 1, 1, 1), (2, 3, 8, 8), True),
        # fx cannot trace through json: torch's machinery runs it, and makes its tensor on the meta device
        (
            lambda self, x: len(json.loads(json.dumps(list(x.shape)))) * torch.ones(1) + self.conv(x),
            (1, 3, 8, 8),
            False,
        ),
    ],
)
def test_a_tensor_made_from_numbers_is_a_constant_of_its_shape(
    function: Any, shape: tuple[int, ...], exact: bool
) -> None:
    plan = check(Forward(function, conv=torch.nn.Conv2d(3, 4, 3)), shape)
    assert plan is not None
    assert bool(plan.fallback_rows) is not exact


def test_an_attention_mask_made_in_forward() -> None:
    mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)

    def attend(self: Any, x: Any) -> Any:
        return self.attn(x, x, x, attn_mask=torch.zeros(5, 5, dtype=torch.bool) | mask)[0]

    plan = check(Forward(attend, attn=torch.nn.MultiheadAttention(8, 2, batch_first=True)), (2, 5, 8))
    assert plan is not None


# --- tensors made from traced sizes: torch.zeros(x.size(0), ...), arange, masks -----------------------------------


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.fc(x) + torch.zeros(x.size(0), 1, 4),
        lambda self, x: self.fc(x) * torch.ones((x.shape[0], x.shape[1], 1)),
        lambda self, x: self.fc(x) + torch.full((x.size(1), 4), 0.5),
        lambda self, x: self.fc(x) + torch.randn(x.shape[0], x.shape[1], 4),
        lambda self, x: self.fc(x) + torch.randint(0, 5, (x.size(0), 1, 1)),
        lambda self, x: self.fc(x) + self.pos(torch.arange(x.size(1))),
        lambda self, x: self.fc(x) + self.pos(torch.arange(0, x.size(1), 1, dtype=torch.long)),
        lambda self, x: self.fc(x)[:, ::2] + self.pos(torch.arange(0, x.size(1), 2)),
        lambda self, x: self.fc(x).masked_fill(torch.triu(torch.ones(x.size(1), 4, dtype=torch.bool), 1), 0.0),
        lambda self, x: self.fc(x).masked_fill(torch.zeros(x.size(0), 1, 4, dtype=torch.bool), 1.0),
        lambda self, x: self.fc(x).masked_fill(torch.zeros(3, 1, 1, 1, dtype=torch.bool), 1.0),
        lambda self, x: torch.tril(self.fc(x)),
        lambda self, x: self.fc(x) + torch.zeros(x.size(0), 2, 4),  # torch refuses to broadcast 5 with 2
    ],
)
@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 1, 3)])
def test_tensors_made_from_traced_sizes(function: Any, shape: tuple[int, ...]) -> None:
    model = Forward(function, fc=torch.nn.Linear(3, 4), pos=torch.nn.Embedding(8, 4))
    plan = check(model, shape)
    if plan is not None:
        assert not plan.fallback_rows


def test_a_symbolic_arange_and_zeros() -> None:
    L = convcalc.symbols("L")
    model = Forward(
        lambda self, x: self.fc(x) + self.pos(torch.arange(x.size(1))) + torch.zeros(1, x.size(1), 4),
        fc=torch.nn.Linear(3, 4),
        pos=torch.nn.Embedding(64, 4),
    )
    assert convcalc.plan(model, (2, L, 3)).output_shape == (2, L, 4)
    with pytest.raises(convcalc.SpecError, match=r"arange of whole numbers"):
        convcalc.plan(Forward(lambda self, x: x + torch.arange(0.0, x.size(1), 0.5)), (2, L))


# --- layers that return several tensors: handed on whole, and returned whole --------------------------------------


class Pick(torch.nn.Module):
    def __init__(self, *index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Any) -> Any:
        for i in self.index:
            x = x[i]
        return x


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        (torch.nn.Sequential(torch.nn.LSTM(5, 8, batch_first=True), Pick(0), torch.nn.Linear(8, 3)), (2, 7, 5)),
        (torch.nn.Sequential(torch.nn.LSTM(5, 8, num_layers=2), Pick(1, 0)), (7, 2, 5)),
        (torch.nn.Sequential(torch.nn.GRU(5, 8, batch_first=True, bidirectional=True), Pick(0)), (2, 7, 5)),
        (torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.MaxPool2d(2, return_indices=True)), (2, 3, 9, 9)),
        (torch.nn.Sequential(torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True), Pick(1)), (2, 3, 9, 9)),
        (torch.nn.LSTM(5, 8, batch_first=True), (2, 7, 5)),
        (torch.nn.GRU(5, 8), (7, 2, 5)),
        (torch.nn.RNN(5, 8), (7, 5)),
        (torch.nn.LSTM(5, 8, proj_size=3), (2, 7, 5)),
        (torch.nn.MaxPool2d(2, return_indices=True), (2, 3, 8, 8)),
        (Forward(lambda self, x: self.net(x), net=torch.nn.Sequential(torch.nn.LSTM(5, 8), Pick(1))), (7, 2, 5)),
        (torch.nn.Sequential(torch.nn.Sequential(torch.nn.LSTM(5, 8)), Pick(0)), (7, 2, 5)),
    ],
    ids=str,
)
def test_several_outputs_are_handed_on_and_returned_whole(model: torch.nn.Module, shape: tuple[int, ...]) -> None:
    plan = check(model, shape)
    assert plan is not None
    assert not plan.fallback_rows


def test_a_layer_given_its_input_by_name() -> None:
    model = Forward(lambda self, x: self.fc(self.conv(input=x).flatten(1)), conv=torch.nn.Conv2d(3, 4, 3))
    model.add_module("fc", torch.nn.Linear(4 * 6 * 6, 2))
    plan = check(model, (2, 3, 8, 8))
    assert plan is not None
    assert not plan.fallback_rows
    assert check(torch.nn.Conv2d(3, 4, 3), {"input": (2, 3, 8, 8)}) is not None


def test_attention_planned_alone_takes_query_key_and_value() -> None:
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    for inputs in ([(2, 5, 8), (2, 7, 8), (2, 7, 8)], {"query": (2, 5, 8), "key": (2, 7, 8), "value": (2, 7, 8)}):
        assert convcalc.plan(attention, inputs).output_shapes == ((2, 5, 8), (2, 5, 7))
    with pytest.raises(convcalc.SpecError, match=r"^<model> \(Conv2d\): is called with 2 arguments"):
        convcalc.plan(torch.nn.Conv2d(3, 4, 3), [(2, 3, 8, 8), (2, 3, 8, 8)])


# --- matrix products: every form counts the same MACs -------------------------------------------------------------

_W = torch.nn.Parameter(torch.randn(8, 6))


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda self, x: x @ self.w, (2, 5, 8)),
        (lambda self, x: torch.matmul(self.w.t(), x.transpose(1, 2)), (2, 5, 8)),
        (lambda self, x: torch.bmm(x, x.transpose(1, 2)), (3, 5, 8)),
        (lambda self, x: torch.mm(x, self.w), (4, 8)),
        (lambda self, x: x.matmul(self.w).relu() @ self.w.t(), (2, 8)),
        (lambda self, x: torch.einsum("bnd,de->bne", x, self.w), (2, 5, 8)),
        (lambda self, x: torch.einsum("nd,de->ne", x, self.w), (4, 8)),
        (lambda self, x: torch.einsum("bnd,bmd->bnm", x, x), (2, 5, 8)),
        (lambda self, x: torch.einsum("...d,de->...e", x, self.w), (2, 3, 5, 8)),
        (lambda self, x: torch.einsum("de,bnd->ebn", self.w, x), (2, 5, 8)),
        (lambda self, x: torch.tensordot(x, self.w, dims=1), (2, 5, 8)),
        (lambda self, x: torch.tensordot(x, self.w, dims=([2], [0])), (2, 5, 8)),
        (lambda self, x: torch.tensordot(self.w, x, dims=([0], [-1])), (2, 5, 8)),
        (lambda self, x: torch.tensordot(x, x, dims=([1, 2], [1, 2])), (2, 5, 8)),
    ],
)
@pytest.mark.parametrize("batch", [1, 3])
def test_matrix_products_count_what_torch_multiplies(function: Any, shape: tuple[int, ...], batch: int) -> None:
    """Each product counts per element of its output's first axis, per input sample where that axis holds a whole
    number of them: times the input's batch, torch's count of the whole product (``FlopCounterMode``: two FLOPs
    per multiply-accumulate), at any batch."""
    model = Forward(function)
    model.w = _W
    shape = (batch * shape[0], *shape[1:])
    plan = check(model, shape)
    assert plan is not None
    assert plan.macs * shape[0] == torch_macs(model, [shape])


def test_a_none_returned_beside_tensors_stays_none() -> None:
    def forward(self: Any, x: Any) -> Any:
        return self.fc(x), None, {"state": None, "input": x}

    model = Forward(forward, fc=torch.nn.Linear(4, 3))
    plan = convcalc.plan(model, (2, 4))
    assert plan.output_shapes == ((2, 3), None, {"state": None, "input": (2, 4)})
    assert plan.to_dict()["output_shapes"] == [[2, 3], None, {"state": None, "input": [2, 4]}]
    H = convcalc.symbols("H")
    assert convcalc.plan(model, (H, 4)).output_shapes == ((H, 3), None, {"state": None, "input": (H, 4)})
    with pytest.raises(convcalc.SpecError, match=r"forward returns NoneType, which holds no tensor"):
        convcalc.plan(Forward(lambda self, x: None), (2, 4))


@pytest.mark.parametrize("factor", [2, 2.0, 3.0])
def test_an_upsample_by_a_whole_float_factor_is_symbolic(factor: float) -> None:
    """nn.Upsample keeps scale_factor=2 as 2.0; a whole factor multiplies exactly, so symbols are planned."""
    H = convcalc.symbols("H")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Upsample(scale_factor=factor))
    plan = convcalc.plan(model, (1, 3, H, 9))
    for h in range(3, 12):
        at_h = tuple(int(sympy.sympify(d).subs(H, h)) for d in plan.output_shape)
        assert at_h == check(model, (1, 3, h, 9)).output_shape  # type: ignore[union-attr]
    assert convcalc.upsample_output_size(H, scale_factor=factor) == int(factor) * H
    with pytest.raises(convcalc.SpecError, match=r"float scale_factor"):
        convcalc.upsample_output_size(H, scale_factor=factor + 0.3)  # (a factor p / 2**k is exact: 2.5 is planned)


class _UpTo(torch.nn.Module):
    """A U-Net step: the transposed convolution asked for the size of a skip connection."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.up = torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)

    def forward(self, x: Any) -> Any:
        odd = int(self.how == "odd")
        skip = torch.zeros(x.size(0), 4, 2 * x.size(2) - 1 + odd, 2 * x.size(3) - 1 + odd)
        if self.how == "positional":
            return self.up(x, skip.size()[2:]) + skip
        if self.how == "too large":
            return self.up(x, output_size=(2 * x.size(2) + 1, 2 * x.size(3)))
        return self.up(x, output_size=skip.size()) + skip


@pytest.mark.parametrize("how", ["keyword", "positional", "odd", "too large"])
@pytest.mark.parametrize("shape", [(2, 8, 5, 5), (1, 8, 6, 12)])
def test_a_transposed_convolution_asked_for_an_output_size(how: str, shape: tuple[int, ...]) -> None:
    plan = check(_UpTo(how), shape)
    assert (plan is None) == (how == "too large")
    if plan is not None:
        assert not plan.fallback_rows
        assert plan.row("up").macs == shape[2] * shape[3] * 8 * 4 * 9  # per input position, whatever the padding


class _DownUp(torch.nn.Module):
    """A U-Net level: down by a strided convolution, up again to the skip's own size (``output_size=x.shape``)."""

    def __init__(self, k: int, stride: int, padding: int, dilation: int, ask: Callable[[Any], Any]) -> None:
        super().__init__()
        self.down = torch.nn.Conv2d(3, 8, k, stride, padding, dilation)
        self.up = torch.nn.ConvTranspose2d(8, 3, k, stride, padding, dilation=dilation)
        self.ask = ask

    def forward(self, x: Any) -> Any:
        return self.up(self.down(x), output_size=self.ask(x)) + x


@pytest.mark.parametrize(
    ("k", "stride", "padding", "dilation"), [(3, 2, 1, 1), (4, 2, 1, 1), (2, 2, 0, 1), (3, 3, 0, 2), (5, 3, 2, 1)]
)
def test_an_output_size_of_the_skips_own_size_is_planned_with_symbols(
    k: int, stride: int, padding: int, dilation: int
) -> None:
    """The output padding ``output_size=x.shape`` asks for is a residue of the size, inside [0, stride) at every
    size: one symbolic plan holds where torch runs, with torch's shapes and the numeric plan's MACs."""
    model = _DownUp(k, stride, padding, dilation, lambda x: x.shape[2:])
    plan = convcalc.plan(model, (1, 3, "H", "W"))
    H, W = (sympy.Symbol(n, integer=True, positive=True) for n in "HW")
    assert plan.output_shape == (1, 3, H, W)
    assert plan.row("up").output_shape == (1, 3, H, W)
    for h in range(1, 16):
        w = 2 * h + 1
        numeric = check(model, (1, 3, h, w))
        holds = all(c.holds({"H": h, "W": w}) for c in plan.constraints)
        assert holds == (numeric is not None), (h, w)
        if numeric is not None:
            assert sympy.sympify(plan.macs).subs({H: h, W: w}) == numeric.macs


def test_an_output_size_out_of_reach_at_every_size_is_refused() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"output_size asks for H \+ 2 on spatial axis 0"):
        convcalc.plan(_DownUp(3, 2, 1, 1, lambda x: (x.shape[2] + 2, x.shape[3])), (1, 3, "H", "W"))


def test_an_output_size_within_reach_at_some_sizes_is_planned_with_that_condition() -> None:
    # (H + 1) after a stride of 2 is reached from even sizes only; the forward then adds it to x, of size H,
    # which torch refuses at every size: so does the plan (the condition on the output padding is not the reason)
    model = _DownUp(3, 2, 1, 1, lambda x: (x.shape[2] + 1, x.shape[3]))
    assert all(check(model, (1, 3, h, 5)) is None for h in range(2, 12))  # (at 1, H + 1 broadcasts with H)
    with pytest.raises(convcalc.ShapeError, match=r"add_1 \(add\): the operands have shapes \(1, 3, H \+ 1, W\)"):
        convcalc.plan(model, (1, 3, "H", "W"))


# --- MACs per input sample where a forward folds more into the batch ---------------------------------------------


def _fold_frames(self: Any, x: Any) -> Any:
    b, t, c, h, w = x.shape
    return self.conv(x.view(b * t, c, h, w)).view(b, t, -1, h - 2, w - 2).mean(1)


def _fold_heads(self: Any, x: Any) -> Any:
    b, h, n, d = x.shape
    q = x.reshape(b * h, n, d)
    return torch.bmm(q, q.transpose(1, 2)).view(b, h, n, n)


def _tokens_as_rows(self: Any, x: Any) -> Any:
    n, c, h, w = x.shape
    return self.fc(x.permute(0, 2, 3, 1).reshape(-1, c)).view(n, h, w, -1)


def _windows(self: Any, x: Any) -> Any:
    b, h, w, c = x.shape
    x = x.view(b, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, 16, c)
    return self.fc(x)


def _twice_as_one_batch(self: Any, x: Any) -> Any:
    return self.conv(torch.cat([x, x.flip(0)], 0)).chunk(2, 0)[0]


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (_fold_frames, (2, 3, 3, 8, 8)),
        (_fold_heads, (2, 4, 6, 8)),
        (_tokens_as_rows, (2, 6, 5, 5)),
        (_windows, (2, 8, 8, 6)),
        (_twice_as_one_batch, (3, 3, 8, 8)),
    ],
)
@pytest.mark.parametrize("batch", [1, 2])
def test_macs_per_sample_count_what_each_input_sample_runs(function: Any, shape: tuple[int, ...], batch: int) -> None:
    """Heads, frames, windows or tokens folded into the batch: Plan.macs times the input's batch is torch's count
    of the whole forward (FlopCounterMode: two FLOPs per multiply-accumulate)."""
    model = Forward(function, conv=torch.nn.Conv2d(3, 4, 3), fc=torch.nn.Linear(6, 6))
    shape = (batch * shape[0], *shape[1:])
    plan = check(model, shape)
    assert plan is not None
    assert plan.macs * shape[0] == torch_macs(model, [shape])
    assert convcalc.plan(model, shape, macs="flops").macs == 2 * plan.macs


def test_macs_per_sample_of_a_symbolic_batch_and_of_a_part_of_it() -> None:
    N = convcalc.symbols("N")
    model = Forward(_fold_frames, conv=torch.nn.Conv2d(3, 4, 3))
    assert convcalc.plan(model, (N, 3, 3, 8, 8)).macs == convcalc.plan(model, (2, 3, 3, 8, 8)).macs == 3 * 36 * 4 * 27
    # one sample of the batch convolved: its count shared out over the input's samples, a fraction where it must be
    first = Forward(lambda self, x: self.conv(x[:1]), conv=torch.nn.Conv2d(3, 4, 3))
    for batch in range(1, 7):
        macs = convcalc.plan(first, (batch, 3, 8, 8)).macs
        assert macs * batch == torch_macs(first, [(batch, 3, 8, 8)]) == 36 * 4 * 27
        assert type(macs) is (int if 3888 % batch == 0 else Fraction)
    assert convcalc.plan(first, (N, 3, 8, 8)).macs == 3888 / N
    assert convcalc.plan(first, (5, 3, 8, 8)).rows[-1].macs == Fraction(3888, 5)


def _each_sample(self: Any, x: Any) -> Any:
    return torch.cat([self.conv(x[i : i + 1]) for i in range(x.size(0))])


def _each_sample_assigned(self: Any, x: Any) -> Any:
    out = x.new_zeros(x.size(0), 4, x.size(2) - 2, x.size(3) - 2)
    for i in range(x.size(0)):
        out[i] = self.conv(x[i])
    return out


def _time_major_cell(self: Any, x: Any) -> Any:
    h = c = x.new_zeros(x.size(1), 10)
    outs = []
    for step in x.unbind(0):
        h, c = self.cell(step, (h, c))
        outs.append(self.fc(h))
    return torch.stack(outs)


@pytest.mark.parametrize("batch", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("function", [_each_sample, _each_sample_assigned])
def test_a_loop_over_the_samples_counts_one_sample_whatever_the_batch(function: Any, batch: int) -> None:
    # each call runs on one sample: its rows hold a batch's share each (1/batch of a call), and sum to one call
    model = Forward(function, conv=torch.nn.Conv2d(3, 4, 3))
    plan = convcalc.plan(model, (batch, 3, 6, 6))
    assert plan.macs == torch_macs(model, [(batch, 3, 6, 6)]) // batch == 4 * 27 * 16
    assert type(plan.macs) is int
    assert plan.output_shape == (batch, 4, 4, 4)


@pytest.mark.parametrize(("steps", "batch"), [(3, 1), (3, 2), (4, 3), (5, 2)])
def test_a_cell_looped_over_a_time_major_input_counts_per_first_size(steps: int, batch: int) -> None:
    # the input's first size is the plan's batch: here the time steps, which every row shares alike
    model = Forward(_time_major_cell, cell=torch.nn.LSTMCell(6, 10), fc=torch.nn.Linear(10, 3))
    plan = convcalc.plan(model, (steps, batch, 6))
    assert plan.macs * steps == torch_macs(model, [(steps, batch, 6)])


def _modulated(self: Any, x: Any) -> Any:
    """StyleGAN2's modulated convolution: the batch folded into the channels, one group per sample."""
    b, c, h, w = x.shape
    style = self.style(x.mean((2, 3))).view(b, 1, c, 1, 1)
    weight = (self.conv.weight[None] * style).view(b * 4, c, 3, 3)
    return torch.nn.functional.conv2d(x.view(1, b * c, h, w), weight, padding=1, groups=b).view(b, 4, h, w)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_macs_per_sample_with_the_batch_folded_into_groups(batch: int) -> None:
    model = Forward(_modulated, conv=torch.nn.Conv2d(3, 4, 3, bias=False), style=torch.nn.Linear(3, 3))
    shape = (batch, 3, 8, 8)
    plan = check(model, shape)
    assert plan is not None
    assert plan.macs * batch == torch_macs(model, [shape])
    assert plan.macs == convcalc.plan(model, (1, 3, 8, 8)).macs  # per sample, whatever the batch


# --- transformers: optional masks left out, fast-path checks, a forward that raises on a condition ----------------


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize(
    "make",
    [
        lambda bf: torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=bf),
        lambda bf: torch.nn.TransformerEncoderLayer(16, 4, 24, batch_first=bf, norm_first=True, activation="gelu"),
        lambda bf: torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=bf), 2, enable_nested_tensor=False
        ),
        lambda bf: torch.nn.TransformerDecoderLayer(16, 2, 32, batch_first=bf),
        lambda bf: torch.nn.Transformer(16, 2, 2, 1, 32, batch_first=bf),
    ],
)
def test_transformer_layers_are_read_exactly(make: Any, batch_first: bool, train: bool) -> None:
    torch.manual_seed(0)
    model = make(batch_first).train(train)
    two = isinstance(model, (torch.nn.Transformer, torch.nn.TransformerDecoderLayer))
    shape: Any = [(2, 6, 16), (2, 4, 16)] if two else (2, 6, 16)
    if not batch_first:
        shape = [(s[1], s[0], s[2]) for s in shape] if two else (6, 2, 16)
    plan = check(model, shape)
    assert plan is not None
    assert not plan.fallback_rows
    # in eval torch runs fused kernels that FlopCounterMode does not count; sequence first or batch first, the
    # count is per sample of the batch of 2
    if train:
        assert plan.macs * 2 == torch_macs(model, shape if two else [shape])


class _PaddingMasked(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Any, mask: Any) -> Any:
        return self.layer(x, src_key_padding_mask=mask)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
        lambda: torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2, enable_nested_tensor=False
        ),
    ],
)
def test_a_padding_mask_is_read_as_torch_takes_it(make: Any, train: bool) -> None:
    """``layer(x, src_key_padding_mask=mask)``: torch asks ``is_floating_point`` and the dtype of the mask (a bool
    one is turned into a float one of its shape); convcalc follows it with the mask's shape, and counts the same
    MACs as without a mask (the mask is added, not multiplied)."""
    torch.manual_seed(0)
    layer = make().train(train)
    model = _PaddingMasked(layer)
    plan = convcalc.plan(model, {"x": (2, 6, 16), "mask": (2, 6)})
    assert not plan.fallback_rows
    for mask in (torch.zeros(2, 6, dtype=torch.bool), torch.zeros(2, 6)):
        assert plan.output_shape == tuple(model(torch.zeros(2, 6, 16), mask).shape)
    assert plan.total_params == sum(p.numel() for p in layer.parameters())
    assert plan.macs == convcalc.plan(layer, (2, 6, 16)).macs


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x * 2 if x.dtype == torch.float32 else x[:, :1],
        lambda self, x: x * 2 if x.dtype != torch.bool else x[:, :1],
        lambda self, x: x * 2 if x.is_floating_point() and torch.is_floating_point(x) else x[:, :1],
        lambda self, x: x if x.dtype in (torch.float16, torch.bfloat16) else x[:, :2],
        lambda self, x: x * 2 if x.device.type == "cpu" else x[:, :1],
        lambda self, x: x + torch.arange(x.shape[-1], device=x.device) + torch.zeros(x.shape, device=x.device),
        lambda self, x: torch.zeros_like(x, dtype=x.dtype) + x.to(x.dtype),
    ],
)
def test_dtype_and_device_are_read_as_a_plan_s_input_has_them(function: Any) -> None:
    """The plan's input is float32 on the model's device: a branch on the dtype or the device takes the way
    torch takes for it (on the meta device, torch's own machinery would take the other)."""
    plan = check(Forward(function), (2, 5, 3))
    assert plan is not None
    assert not plan.fallback_rows


class _SameBatch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x: Any, y: Any) -> Any:
        if x.size(0) != y.size(0):
            raise RuntimeError("the batch sizes must be equal")
        return self.fc(x) + y


def test_a_forward_that_raises_on_a_condition_is_read_on_the_other_branch() -> None:
    plan = check(_SameBatch(), [(2, 4), (2, 4)])
    assert plan is not None
    assert not plan.fallback_rows
    assert check(_SameBatch(), [(2, 4), (3, 4)]) is None  # both refuse


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda self, x: torch.addmm(self.b, x, self.w), (4, 8)),
        (lambda self, x: torch.addmm(torch.zeros(4, 6), x, self.w, beta=0.5), (4, 8)),
        (lambda self, x: torch.baddbmm(x @ self.w, x, x.transpose(1, 2) @ x @ self.w), (3, 5, 8)),
        (lambda self, x: torch.bmm(x, x[:1].transpose(1, 2)), (3, 5, 8)),  # bmm does not broadcast: both refuse
        (lambda self, x: torch.addmm(torch.zeros(3, 6), x, self.w), (4, 8)),  # does not broadcast: both refuse
    ],
)
@pytest.mark.parametrize("batch", [1, 2])
def test_products_with_an_addend(function: Any, shape: tuple[int, ...], batch: int) -> None:
    model = Forward(function)
    model.w, model.b = _W, torch.nn.Parameter(torch.zeros(6))
    shape = (batch * shape[0], *shape[1:])
    plan = check(model, shape)
    if plan is None:
        return
    assert not plan.fallback_rows
    assert plan.macs * shape[0] == torch_macs(model, [shape])


def test_a_batch_of_products_summed() -> None:
    """``torch.addbmm`` (which FlopCounterMode does not count): the products of the whole batch in each row of its
    (n, p) result, counted over the whole batch and shared out per input sample."""
    model = Forward(lambda self, x: torch.addbmm(self.b, x.transpose(1, 2), x @ self.w))
    model.w, model.b = _W, torch.nn.Parameter(torch.zeros(6))
    plan = check(model, (3, 5, 8))
    assert plan is not None
    row = plan.row("addbmm")
    assert row.output_shape == (8, 6)
    assert row.macs * 3 == 3 * 8 * 5 * 6  # batch x n x m x p multiply-accumulates in all, over 3 input samples


def test_torch_s_machinery_takes_token_ids_where_a_layer_asks_for_integers() -> None:
    """An EmbeddingBag, which convcalc does not read, is run by torch on meta tensors: as integers, since its
    input is token ids."""
    bag = Forward(lambda self, x: self.fc(self.bag(x)), bag=torch.nn.EmbeddingBag(20, 8, mode="mean"))
    bag.add_module("fc", torch.nn.Linear(8, 3))
    plan = convcalc.plan(bag, (2, 6))
    assert plan.output_shape == tuple(bag(torch.zeros(2, 6, dtype=torch.long)).shape) == (2, 3)
    assert plan.fallback_rows
    assert plan.total_params == sum(p.numel() for p in bag.parameters())


class _Subsampling(torch.nn.Module):
    """sooftware/conformer's Conv2dSubampling: the lengths of a batch of utterances, an int64 tensor, shifted
    right by the convolutions' total stride."""

    def __init__(self, through_json: bool = False) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, stride=2)
        self.through_json = through_json

    def forward(self, inputs: Any, input_lengths: Any) -> Any:
        out = self.conv(inputs.unsqueeze(1))
        if self.through_json:  # a size through json: the forward is not followed, torch's machinery runs it
            out = out[..., : json.loads(json.dumps(out.shape[-1]))]
        output_lengths = (input_lengths >> 2) << 1
        output_lengths -= 1
        return out, output_lengths


@pytest.mark.parametrize("through_json", [False, True])
def test_lengths_shifted_by_bits_are_read_or_run_as_integers(through_json: bool) -> None:
    """``input_lengths >> 2`` was refused (no rule, and torch's machinery ran it on float tensors, which ``>>``
    refuses: "Expected input tensor to have an integral dtype"): read now, and torch's machinery runs such a
    forward with its inputs as integers."""
    model = _Subsampling(through_json).eval()
    x, lengths = torch.zeros(2, 20, 16), torch.tensor([20, 13])
    out, shifted = model(x, lengths)
    for inputs in ([(2, 20, 16), lengths], [(2, 20, 16), (2,)]):
        plan = convcalc.plan(model, inputs)
        assert plan.output_shapes == (tuple(out.shape), tuple(shifted.shape))
        assert bool(plan.fallback_rows) == through_json
    assert convcalc.summary(model, input_data=[x, lengths], verbose=0).total_params == 40
    if not through_json:
        T = convcalc.symbols("T")
        assert convcalc.plan(model, [(2, T, 16), (2,)]).output_shapes[1] == (2,)


@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3, 5), (1, 3, 5)])
def test_a_list_index_picks_along_the_first_axis(shape: tuple[int, ...]) -> None:
    model = Forward(
        lambda self, x: (self.fc(x)[[0, -1]], x[[-1]], x[[1]].sum(0), x[:, [0, 2]]), fc=torch.nn.Linear(5, 2)
    )
    check(model, shape)
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (H, 3, 5))
    assert plan.output_shapes == ((2, 3, 2), (1, 3, 5), (3, 5), (H, 2, 5))
    assert [c.holds(h) for c in plan.constraints for h in (1, 2)] == [False, True]  # x[[1]] needs 2 rows


def test_squeezing_a_symbolic_size_holds_while_it_is_not_one() -> None:
    model = Forward(lambda self, x: (self.conv(x).squeeze(), x.squeeze(2)), conv=torch.nn.Conv2d(4, 4, 1))
    assert check(model, (2, 4, 5, 1)) is not None
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (2, 4, H, 1))
    assert plan.output_shapes == ((2, 4, H), (2, 4, H, 1))
    for h in (1, 2, 3):  # where every constraint holds, torch agrees
        if all(c.holds(h) for c in plan.constraints):
            assert check(model, (2, 4, h, 1)).output_shapes == ((2, 4, h), (2, 4, h, 1))  # type: ignore[union-attr]
    assert not all(c.holds(1) for c in plan.constraints)


# --- the batch where the first axis is not the batch: unbatched and sequence-first inputs -------------------------


class _Recurrent(torch.nn.Module):
    """An embedding, an input projection, a recurrent or attention layer, and a head."""

    def __init__(self, kind: str, batch_first: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.embed = torch.nn.Embedding(20, 8)
        self.proj = torch.nn.Linear(8, 8)
        if kind == "attention":
            self.core: torch.nn.Module = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
        else:
            self.core = getattr(torch.nn, kind)(8, 8, batch_first=batch_first)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, ids: Any) -> Any:
        x = self.proj(self.embed(ids))
        x = self.core(x, x, x)[0] if self.kind == "attention" else self.core(x)[0]
        return self.head(x)


def _core_macs(kind: str, steps: int) -> int:
    """The LSTM's count per sequence, which FlopCounterMode does not see (torch runs it as one fused op on the CPU;
    it sees the matrix products of GRU and RNN)."""
    return steps * 4 * 8 * (8 + 8) if kind == "LSTM" else 0


@pytest.mark.parametrize("kind", ["attention", "LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("steps", [1, 5, 7])
def test_unbatched_and_sequence_first_inputs_count_per_sample(kind: str, steps: int) -> None:
    """The same sequences batch first, sequence first and unbatched: one count per sample, torch's."""
    counts = set()
    for shape, batch_first, batch in (
        ((2, steps), True, 2),
        ((steps, 2), False, 2),
        ((steps, 3), False, 3),
        ((steps,), False, 1),
    ):
        model = _Recurrent(kind, batch_first)
        plan = convcalc.plan(model, shape)
        ids = torch.zeros(shape, dtype=torch.long)
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = model(ids)
        assert plan.output_shape == tuple(out.shape)
        assert plan.macs * batch == counter.get_total_flops() // 2 + batch * _core_macs(kind, steps)
        counts.add(plan.macs)
    assert len(counts) == 1
    L = convcalc.symbols("L")
    assert convcalc.plan(_Recurrent(kind), (L, 2)).macs.subs(L, steps) == counts.pop()


def test_a_vector_through_linear_layers_is_one_sample() -> None:
    """A 1-D input to an MLP is one sample: no layer's count is scaled by the first size."""
    model = torch.nn.Sequential(torch.nn.Linear(5, 10), torch.nn.ReLU(), torch.nn.Linear(10, 20))
    for shape, batch in (((5,), 1), ((3, 5), 3)):
        plan = check(model, shape)
        assert plan is not None
        assert plan.macs * batch == torch_macs(model, [shape]) == batch * (50 + 200)
    # a batch flattened into one vector is not an unbatched input: the count is shared out over the batch
    flat = Forward(lambda self, x: self.fc(x.flatten()), fc=torch.nn.Linear(12, 4))
    assert convcalc.plan(flat, (2, 6)).macs == 24


class _TupleOrTensor(torch.nn.Module):
    """``type(out) is tuple`` is answered by Python from fx's proxy, so convcalc plans this forward with torch's
    machinery, which replays each layer of several tensors through its rule."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x: Any) -> Any:
        out = self.layer(x, x, x) if isinstance(self.layer, torch.nn.MultiheadAttention) else self.layer(x)
        if type(out) is tuple:
            out = out[0]
        return self.head(out)


class _TupleOrTensorByIsinstance(_TupleOrTensor):
    """The same forward asking ``isinstance(out, tuple)``, which a plan answers as torch does: read by rule."""

    def forward(self, x: Any) -> Any:
        out = self.layer(x, x, x) if isinstance(self.layer, torch.nn.MultiheadAttention) else self.layer(x)
        if isinstance(out, tuple):
            out = out[0]
        return self.head(out)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: torch.nn.MultiheadAttention(8, 2, batch_first=True),
        lambda: torch.nn.GRU(8, 8, batch_first=True),
        lambda: torch.nn.LSTMCell(8, 8),
    ],
)
def test_torch_s_machinery_replays_layers_of_several_tensors(layer: Any) -> None:
    model = _TupleOrTensor(layer())
    shape = (2, 8) if isinstance(model.layer, torch.nn.LSTMCell) else (2, 5, 8)
    plan = check(model, shape)
    assert plan is not None
    assert {r.name for r in plan.fallback_rows} >= {"layer", "head"}
    assert plan.macs * 2 == torch_macs(model, [shape])
    exact = _TupleOrTensorByIsinstance(model.layer)
    read = check(exact, shape)
    assert read is not None
    assert not read.fallback_rows
    assert read.macs == plan.macs


# --- one sample without its batch axis: convolutions and pools take it as a batch of one -------------------------

from tests.strategies import conv_configs, pool_configs, transpose_configs  # noqa: E402


def _unbatched_layer(kind: str, ndim: int, data: st.DataObject) -> tuple[torch.nn.Module, tuple[int, ...]]:
    if kind == "conv":
        c = data.draw(conv_configs(ndim), label="config")
        layer: torch.nn.Module = getattr(torch.nn, f"Conv{ndim}d")(
            c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation, c.groups, c.bias
        )
        return layer, (c.in_channels, *c.size)
    if kind == "transposed":
        t = data.draw(transpose_configs(ndim), label="config")
        layer = getattr(torch.nn, f"ConvTranspose{ndim}d")(
            t.in_channels,
            t.out_channels,
            t.kernel_size,
            t.stride,
            t.padding,
            t.output_padding,
            t.groups,
            t.bias,
            t.dilation,
        )
        return layer, (t.in_channels, *t.size)
    p = data.draw(pool_configs(ndim, kind), label="config")
    if kind == "max":
        layer = getattr(torch.nn, f"MaxPool{ndim}d")(
            p.kernel_size, p.stride, p.padding, p.dilation, ceil_mode=p.ceil_mode
        )
    else:
        layer = getattr(torch.nn, f"AvgPool{ndim}d")(
            p.kernel_size, p.stride, p.padding, p.ceil_mode, p.count_include_pad
        )
    return layer, (p.channels, *p.size)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("kind", ["conv", "transposed", "max", "avg"])
@given(data=st.data())
def test_an_unbatched_input_is_one_sample(kind: str, ndim: int, data: st.DataObject) -> None:
    """The layer on ``(C, *size)``: torch's shape (or torch's refusal), the MACs of a batch of one."""
    try:
        layer, shape = _unbatched_layer(kind, ndim, data)
    except (ValueError, RuntimeError):  # arguments torch refuses: the layer tests cover them
        return
    expected = torch_outcome(layer, shape)
    if expected is not None and 0 in expected[0]:  # torch allows an empty output here; convcalc plans sizes >= 1
        return
    plan = check(layer, shape)
    if plan is not None:
        batched = convcalc.plan(layer, (1, *shape))
        assert plan.macs == batched.macs
        assert plan.output_shape == batched.output_shape[1:]
        assert plan.rows[0].receptive_field == batched.rows[0].receptive_field


def test_an_unbatched_image_through_a_network() -> None:
    """Convolutions, pools and a transposed convolution on (C, H, W), then Linear on the flattened sample; the
    receptive field starts at the input, and a symbolic size stays symbolic."""
    model = Forward(
        lambda self, x: self.fc(self.features(x).flatten(-3)),
        features=torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 4, 3),
            torch.nn.AdaptiveAvgPool2d(2),
            torch.nn.ConvTranspose2d(4, 2, 2, stride=2),
        ),
        fc=torch.nn.Linear(32, 5),
    )
    plan = check(model, (3, 16, 16))
    assert plan is not None
    assert plan.macs == torch_macs(model, [(3, 16, 16)]) == convcalc.plan(model, (2, 3, 16, 16)).macs
    assert plan.rows[0].output_shape == (8, 16, 16)
    assert plan.rows[2].receptive_field == convcalc.plan(model, (1, 3, 16, 16)).rows[2].receptive_field
    H = convcalc.symbols("H")
    assert convcalc.plan(model, (3, H, H)).output_shape == (5,)
    with pytest.raises(
        convcalc.ShapeError, match=r"in_channels=3 but the input has 4 channels.*input_shape=\(4, 8, 8\)"
    ):
        convcalc.plan(torch.nn.Conv2d(3, 8, 3), (4, 8, 8))


# --- functional layers with a forward's own weight ------------------------------------------------------------------


class _OwnWeight(torch.nn.Module):
    """``F.conv_transposeNd(x, self.weight, self.bias, ...)`` with the arguments drawn for a layer."""

    def __init__(self, ndim: int, c: Any) -> None:
        super().__init__()
        self.ndim, self.c = ndim, c
        k = c.kernel_size if isinstance(c.kernel_size, tuple) else (c.kernel_size,) * ndim
        self.weight = torch.nn.Parameter(torch.zeros(c.in_channels, c.out_channels // c.groups, *k))
        self.bias = torch.nn.Parameter(torch.zeros(c.out_channels)) if c.bias else None

    def forward(self, x: Any) -> Any:
        c = self.c
        function = getattr(torch.nn.functional, f"conv_transpose{self.ndim}d")
        return function(x, self.weight, self.bias, c.stride, c.padding, c.output_padding, c.groups, c.dilation)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@given(data=st.data())
def test_a_functional_transposed_convolution_with_its_own_weight(ndim: int, data: st.DataObject) -> None:
    c = data.draw(transpose_configs(ndim), label="config")
    if c.in_channels % c.groups or c.out_channels % c.groups:
        return  # a weight torch cannot be given: the layer tests cover these arguments
    model = _OwnWeight(ndim, c)
    shape = (2, c.in_channels, *c.size)
    expected = torch_outcome(model, shape)
    if expected is not None and 0 in expected[0]:  # torch allows an empty output here; convcalc plans sizes >= 1
        return
    plan = check(model, shape)
    if plan is not None:
        assert not plan.fallback_rows
        assert plan.macs * 2 == torch_macs(model, [shape])


def test_a_functional_bilinear_with_its_own_weight() -> None:
    model = Forward(
        lambda self, x: torch.nn.functional.bilinear(x[..., :5], x, self.fc.weight, self.fc.bias),
        fc=torch.nn.Bilinear(5, 7, 3),
    )
    plan = check(model, (2, 4, 7))
    assert plan is not None
    assert plan.macs == 4 * 3 * 5 * 7
    assert convcalc.plan(model, (2, 4, 7), macs="macs+bias").macs == 4 * (3 * 5 * 7 + 3)


# --- torch's checks on sizes, for numbers and for symbols -----------------------------------------------------------


def _sym_agrees(function: Any, shape: tuple[Any, ...], values: range, exact: bool = True, **children: Any) -> None:
    """For each value of H (and W, the same), the symbolic plan's conditions hold exactly where torch runs the
    forward (``exact``; else: wherever they hold), and there its shape is torch's."""
    H, W = convcalc.symbols("H W")
    model = Forward(function, **children).eval()
    plan = convcalc.plan(model, tuple(H if d == "H" else W if d == "W" else d for d in shape))
    for v in values:
        sizes = {"H": v, "W": v + 1}
        concrete = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in shape)
        holds = all(
            c.holds(
                sizes[str(c.symbol)] if c.symbol is not None else {str(k): sizes[str(k)] for k in c.form.free_symbols}
            )
            for c in plan.constraints
        )
        expected = torch_outcome(model, concrete)
        if holds:
            assert expected is not None, f"{concrete}: the plan's conditions hold but torch raises"
            got = tuple(
                int(d.subs({H: sizes["H"], W: sizes["W"]})) if hasattr(d, "subs") else d for d in plan.output_shape
            )
            assert (got,) == expected, concrete
        elif exact:
            assert expected is None, f"{concrete}: torch runs ({expected}) where a condition fails: {plan.constraints}"


class _PackedTagger(torch.nn.Module):
    """A sequence tagger that packs its padded batch, with lengths given or made from the sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.LSTM(4, 5, batch_first=True)
        self.fc = torch.nn.Linear(5, 2)

    def forward(self, x: Any, lengths: Any = None) -> Any:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        lengths = [x.shape[1]] * x.shape[0] if lengths is None else lengths
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.fc(pad_packed_sequence(out, batch_first=True)[0])


@pytest.mark.parametrize("inputs", [(3, 7, 4), [(3, 7, 4), (3,)]], ids=["lengths-of-sizes", "lengths-given"])
def test_a_packed_sequence_is_refused_saying_why_and_what_to_plan(inputs: Any) -> None:
    """torch runs a recurrent layer on a PackedSequence for as many steps as each sequence is long: refused, with
    the reason and what to plan instead (the refusal said "input must be a tensor", or quoted torch.fx on
    ``__cuda_array_interface__``)."""
    model = _PackedTagger().eval()
    lengths = [torch.tensor([7, 3, 5])] if isinstance(inputs, list) else []
    shape = inputs[0] if isinstance(inputs, list) else inputs
    assert tuple(model(torch.zeros(shape), *lengths).shape) == (3, 7, 2)
    with pytest.raises(convcalc.SpecError, match=r"packs sequences \(pack_padded_sequence\).*plan the padded batch"):
        convcalc.plan(model, inputs)


_SIZES_TO_C_FUNCTIONS = [
    lambda self, x: torch.topk(x.t(), x.shape[0] // 2, dim=1).values,  # expert-choice routing
    lambda self, x: torch.topk(x, x.shape[0] - 2, dim=0).indices,
    lambda self, x: torch.narrow(x, 0, 1, x.shape[0] // 2),
    lambda self, x: torch.roll(x, x.shape[0] // 2, 0),
    lambda self, x: torch.tril(x, x.shape[0] - 4),
]


@pytest.mark.parametrize("function", _SIZES_TO_C_FUNCTIONS)
def test_a_size_given_to_a_c_function_of_torch_is_followed_with_symbols(function: Any) -> None:
    """torch's argument parser asks a traced size for a number (``operator.index``) before fx records the call,
    which refused ``torch.topk(x.t(), k)`` at symbolic sizes with a message that said to pass the size on as it is,
    as the forward did: the size is followed, and the plan holds exactly where torch runs."""
    _sym_agrees(function, ("H", 3), range(1, 12))


_REMAINDERS = [
    (lambda self, x: x[:, : torch.fmod(torch.tensor(-x.shape[1]), 3) + 4], True),  # C's: the dividend's sign
    (lambda self, x: x[:, : torch.tensor(x.shape[1]).fmod(-3) + 3], True),
    (lambda self, x: x[:, : torch.remainder(torch.tensor(-x.shape[1]), 3) + 1], True),  # Python's: the divisor's
    (lambda self, x: x[:, : int(torch.tensor(x.shape[1] - 7).fmod(4)) + 4], False),  # (int() of symbols: refused)
    (lambda self, x: x * torch.ones(3).fmod(2), True),  # a tensor's shape
]


@pytest.mark.parametrize(("function", "symbolic"), _REMAINDERS)
def test_fmod_takes_the_dividends_sign(function: Any, symbolic: bool) -> None:
    """``torch.fmod`` is C's remainder (``fmod(-4, 3)`` is -1), ``torch.remainder`` Python's (2): fmod was read as
    Python's ``%``, a slice too long at every length but the multiples of 3, without an error."""
    for size in range(1, 12):
        check(Forward(function), (2, size, 3))
    if symbolic:
        _sym_agrees(function, (2, "H", 3), range(1, 12))


F = torch.nn.functional


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x.view(x.size(0) / 2, -1),  # torch: view() takes ints, not a float
        lambda self, x: x.reshape(x.size(0), x.size(1) * 1.0, -1),
        lambda self, x: torch.zeros(x.size(0) / 1, 3),
        lambda self, x: x[:, : x.size(1) / 2],
    ],
)
@pytest.mark.parametrize("shape", [(4, 6, 2), ("N", 6, 2)])
def test_a_true_division_of_sizes_is_a_float_which_no_shape_takes(function: Any, shape: tuple[Any, ...]) -> None:
    """``x.view(n / 2, -1)`` is a TypeError in torch at every size: at a symbolic size, ``N/2`` was taken as a size."""
    model = Forward(function)
    assert torch_outcome(model, (4, 6, 2)) is None
    with pytest.raises(convcalc.SpecError, match=r"must be ints|cannot follow|float"):
        convcalc.plan(model, tuple(convcalc.symbols(d) if isinstance(d, str) else d for d in shape))


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x[:, : math.ceil(x.size(1) / 2)],
        lambda self, x: x[:, : math.floor(x.size(1) / 2.0)],
        lambda self, x: x[:, :1] if x.size(1) / 2 > 0.25 else x,  # decided: H >= 1
        lambda self, x: x * (x.size(1) / 2),  # a float scaling a tensor: its shape
        # encodec's SConv1d: ``math.ceil((length - k + pad) / stride + 1)``, a whole number added to one division
        lambda self, x: F.pad(x, (0, 0, 0, (math.ceil((x.size(1) - 7 + 6) / 2 + 1) - 1) * 2 + 1 - x.size(1))),
        lambda self, x: x[:, : math.floor(1 + x.size(1) / 3 - x.size(2))],
        lambda self, x: x[:, : math.ceil(x.size(1) - x.size(2) / 4)],
    ],
)
def test_a_true_division_of_sizes_rounded_or_compared_is_followed(function: Any) -> None:
    _sym_agrees(function, (2, "H", "W"), range(1, 10))


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x[:, :, : torch.div(x.shape[2], 2, rounding_mode="floor")],
        lambda self, x: x[..., : torch.div(x.shape[-1], 2, rounding_mode="trunc") * 2],
        lambda self, x: x[:, :, : torch.true_divide(x.shape[2], 2).long()],
        lambda self, x: x.narrow(-1, 0, torch.div(x.shape[-1], 2, rounding_mode="floor")),
        lambda self, x: F.pad(x, (0, torch.div(x.shape[-1], 2, rounding_mode="floor"))),
        lambda self, x: x[..., : (torch.tensor(x.shape[-1]) / 2).int()],
        lambda self, x: x[..., : torch.tensor(x.shape[-1]).div(2, rounding_mode="floor")],
        lambda self, x: x[..., : torch.ceil(torch.tensor(x.shape[-1]) / 2).long()],
        lambda self, x: x[..., : torch.floor(torch.tensor(x.shape[-2]) / 3).to(torch.int64)],
        lambda self, x: x[..., : torch.tensor(x.shape[-1] / 2).int()],  # a float tensor of a size, cast back
        lambda self, x: F.interpolate(x, scale_factor=x.shape[-1] / x.shape[-1] * 2),  # a float 2.0, as Python has it
        # torch's arithmetic of numbers is a 0-D tensor: .item(), torch.ceil of it, an isinstance
        lambda self, x: x[..., : torch.div(x.shape[-1], 2, rounding_mode="floor").item()],
        lambda self, x: x[..., : torch.ceil(torch.true_divide(x.shape[-1], 2)).long()],
        lambda self, x: x * 2 if isinstance(torch.add(x.shape[-1], 1), torch.Tensor) else x[:1],
    ],
)
def test_a_division_of_sizes_rounded_by_torch_is_a_size(function: Any) -> None:
    """``torch.div(h, 2, rounding_mode="floor")`` was a true division (a slice to 3.5 rows, ``W/2`` symbolically);
    a tensor of a size divided and cast back to an int (``(torch.tensor(w) / 2).int()``) was refused."""
    _sym_agrees(function, (2, 3, "H", "W"), range(1, 10))
    for size in (7, 8):
        check(Forward(function), (2, 3, size, size + 1))


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x[:, : x.size(1) // 0],
        lambda self, x: x * (x.size(1) / 0),
        lambda self, x: x[:, : x.size(1) % 0],
        lambda self, x: x[:, : x.size(1) // (x.size(2) - x.size(2))],
    ],
)
@pytest.mark.parametrize("shape", [(2, 6, 4), (2, "C", 4)])
def test_a_size_divided_by_zero_is_refused(function: Any, shape: tuple[Any, ...]) -> None:
    """Python raises ZeroDivisionError; ``x * (C / 0)`` at a symbolic C was planned (a factor of sympy's zoo)."""
    with pytest.raises(convcalc.SpecError, match="divides by zero"):
        convcalc.plan(Forward(function), tuple(convcalc.symbols(d) if isinstance(d, str) else d for d in shape))


@pytest.mark.parametrize(
    ("groups", "channels", "shape"),
    [(4, 4, (1, 4, 1, 1)), (4, 8, (1, 8, 1, 1)), (4, 4, (2, 4, 1, 1)), (4, 4, (1, 4, 1, 2)), (1, 1, (1, 1, 1))],
)
def test_a_group_norm_of_one_value_per_group_is_refused_in_eval_mode_too(
    groups: int, channels: int, shape: tuple[int, ...]
) -> None:
    """torch's group_norm checks batch x channels per group x positions > 1 in every mode (FCOS's head at batch 1
    once a level is 1x1); convcalc planned it."""
    check(torch.nn.GroupNorm(groups, channels).eval(), shape)


def test_a_group_norm_after_a_stride_holds_where_a_group_has_two_values() -> None:
    _sym_agrees(
        lambda self, x: self.gn(self.conv(x)),
        (1, 3, "H", 1),
        range(1, 12),
        conv=torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
        gn=torch.nn.GroupNorm(4, 4),
    )


@pytest.mark.parametrize("shape", [(1, 3, 3, 8), (1, 3, 8, 8)])
@pytest.mark.parametrize("align", [{"align_corners": True}, {}])
def test_an_interpolation_to_no_rows_is_refused_whatever_the_mode(shape: tuple[int, ...], align: Any) -> None:
    """``size=(h // 4, w // 4)`` at h = 3: torch refuses (Input and output sizes should be greater than 0); with
    ``align_corners=True`` the plan took the meta kernel's answer, which does not check."""
    check(
        Forward(lambda self, x: F.interpolate(x, size=(x.shape[-2] // 4, x.shape[-1] // 4), mode="bilinear", **align)),
        shape,
    )


def test_a_torch_multihead_attention_called_with_one_input_is_refused() -> None:
    """torch's forward needs query, key and value: alone with one shape, or in an nn.Sequential (which passes one
    input), torch raises TypeError; convcalc's own spec reads one input as self-attention."""
    for model in (
        torch.nn.MultiheadAttention(16, 4),
        torch.nn.Sequential(torch.nn.LayerNorm(16), torch.nn.MultiheadAttention(16, 4)),
    ):
        assert torch_outcome(model, (5, 2, 16)) is None
        with pytest.raises(convcalc.SpecError, match="is called without key and value"):
            convcalc.plan(model, (5, 2, 16))
    check(torch.nn.MultiheadAttention(16, 4), [(5, 2, 16)] * 3)


class _Residual(torch.nn.Module):
    """lucidrains' wrapper: ``forward(self, x, *args, **kwargs)`` hands everything on."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self.fn(x, *args, **kwargs) + x


class _PreNorm(torch.nn.Module):
    def __init__(self, dim: int, fn: Any) -> None:
        super().__init__()
        self.fn, self.norm = fn, torch.nn.GroupNorm(1, dim)

    def forward(self, x: Any, **kwargs: Any) -> Any:
        return self.fn(self.norm(x), **kwargs)


def test_a_forward_that_takes_keywords_it_hands_on_is_read_exactly() -> None:
    """``**kwargs`` in a forward was traced as a value whose keys fx cannot give: every row came from torch's
    machinery, and at symbolic sizes it was refused ("puts a traced value into a set or a dict key")."""
    model = _Residual(_PreNorm(4, _Residual(torch.nn.Conv2d(4, 4, 3, padding=1))))
    plan = check(model, (2, 4, 8, 8))
    assert plan is not None
    assert {r.source for r in plan.rows} == {"rule"}
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(model, (2, 4, H, W)).output_shape == (2, 4, H, W)


def _SPLITS_NO_PRODUCT(self: Any, x: Any) -> Any:
    return x.view(1, 2, x.shape[2] // 2 + 1, 2, -1)


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x.view(x.shape[0], x.shape[1], x.shape[2] // 7, 7, x.shape[3] // 7, 7),  # Swin's windows
        lambda self, x: x.reshape(1, 2, x.shape[2] // 2, 2, x.shape[3] // 3, 3).flatten(1),
        lambda self, x: x.view(1, 2 * 4, x.shape[2] // 2, x.shape[3] // 2),  # a pixel unshuffle by hand
        lambda self, x: x.reshape(1, 2, x.shape[2] // 3, 3, x.shape[3] // 5, 5),
        lambda self, x: x.view(1, 2 * 6, x.shape[2] // 3, x.shape[3] // 2),
        _SPLITS_NO_PRODUCT,
    ],
)
def test_a_view_that_splits_two_symbolic_axes_holds_where_each_divides(function: Any) -> None:
    """``x.view(B, C, H // 7, 7, W // 7, 7)`` at (1, 2, H, W) asks ``H*W == 49*floor(H/7)*floor(W/7)``, which holds
    only where each factor is equal: valid_sizes was refused ("not a product of sizes of one symbol each")."""
    H, W = convcalc.symbols("H W")
    model = Forward(function)
    try:
        plan = convcalc.plan(model, (1, 2, H, W))
        heights, widths = plan.valid_sizes(H), plan.valid_sizes(W)
    except convcalc.SpecError:  # refused, the form the last has: never a set of sizes torch does not run
        assert function is _SPLITS_NO_PRODUCT
        return
    for h in range(1, 16):
        for w in range(1, 16):
            runs = torch_outcome(model, (1, 2, h, w)) is not None
            assert (h in heights and w in widths) == runs, (h, w)


def test_an_assert_of_two_conditions_is_an_assert_of_each() -> None:
    """The first condition of ``assert a and b`` jumps to the AssertionError when false: it was taken as a branch,
    which a symbolic plan refuses."""
    from tests.corpus_models import UnshuffleInput  # (a test module's asserts are rewritten by pytest)

    H, W = convcalc.symbols("H W")
    model = UnshuffleInput()
    plan = convcalc.plan(model, (1, 3, H, W))
    heights, widths = plan.valid_sizes(H), plan.valid_sizes(W)
    for h in range(1, 9):
        for w in range(1, 9):
            assert (h in heights and w in widths) == (torch_outcome(model, (1, 3, h, w)) is not None), (h, w)
    with pytest.raises(convcalc.ShapeError, match="an assert in its forward fails"):
        convcalc.plan(model, (1, 3, 5, 6))


def test_a_float_of_several_operations_on_sizes_is_rounded_with_numbers_only() -> None:
    """``math.floor(h / 7 * 7)`` is 60 at h = 61 (Python's float arithmetic), which the exact quotient does not
    give: with numbers the plan is Python's; with symbols it is refused (it was H)."""
    model = Forward(lambda self, x: F.adaptive_avg_pool2d(x, (math.floor(x.shape[-2] / 7 * 7), 1)))
    assert check(model, (1, 2, 61, 3)) is not None
    assert convcalc.plan(model, (1, 2, 61, 3)).output_shape == (1, 2, 60, 1)
    with pytest.raises(convcalc.SpecError, match="by more than one division"):
        convcalc.plan(model, (1, 2, convcalc.symbols("H"), 3))
    for rounded in (lambda h: math.floor(h / 3 + 0.5), lambda h: math.floor(h / 3 + 1 / 3), lambda h: h / 3 + 1):
        half = Forward(lambda self, x, rounded=rounded: x[:, :, : rounded(x.shape[-2])])
        with pytest.raises(convcalc.SpecError, match=r"by more than one division|must be ints|float"):
            convcalc.plan(half, (1, 2, convcalc.symbols("H"), 3))


class _AttentionForward(torch.nn.Module):
    """``F.multi_head_attention_forward`` written out, with an nn.MultiheadAttention's weights (packed) or with three
    Linears' (separate, ``out`` features from the output projection)."""

    def __init__(self, separate: bool, options: dict[str, Any], out: int = 8, kdim: int = 8, **layer: Any) -> None:
        super().__init__()
        self.separate, self.options = separate, options
        self.mha = torch.nn.MultiheadAttention(8, 2, **layer)
        self.q, self.k, self.v = (torch.nn.Linear(d, 8) for d in (8, kdim, kdim))
        self.o = torch.nn.Linear(8, out)

    def forward(self, x: Any, y: Any) -> Any:
        m = self.mha
        if self.separate:
            weights: dict[str, Any] = {
                "in_proj_weight": None,
                "in_proj_bias": torch.cat([self.q.bias, self.k.bias, self.v.bias]),
                "q_proj_weight": self.q.weight,
                "k_proj_weight": self.k.weight,
                "v_proj_weight": self.v.weight,
                "use_separate_proj_weight": True,
                "out_proj_weight": self.o.weight,
                "out_proj_bias": self.o.bias,
            }
        else:
            weights = {"in_proj_weight": m.in_proj_weight, "in_proj_bias": m.in_proj_bias}
            weights |= {"out_proj_weight": m.out_proj.weight, "out_proj_bias": m.out_proj.bias}
        return F.multi_head_attention_forward(
            x,
            y,
            y,
            x.shape[-1],
            2,
            bias_k=m.bias_k,
            bias_v=m.bias_v,
            add_zero_attn=self.options.get("zero", False),
            dropout_p=0.0,
            training=False,
            **weights,
            **{k: v for k, v in self.options.items() if k != "zero"},
        )


@pytest.mark.parametrize(
    ("separate", "options", "layer", "shapes"),
    [
        (False, {}, {}, [(5, 2, 8), (7, 2, 8)]),
        (False, {"need_weights": False}, {}, [(5, 2, 8), (7, 2, 8)]),
        (False, {"average_attn_weights": False}, {"add_bias_kv": True}, [(5, 2, 8), (7, 2, 8)]),
        (False, {"zero": True}, {}, [(5, 8), (7, 8)]),  # unbatched
        (True, {}, {"out": 3}, [(1, 2, 8), (9, 2, 8)]),  # CLIP's pool: one query, another output width
        (True, {"need_weights": False}, {"out": 5, "kdim": 6}, [(4, 2, 8), (9, 2, 6)]),
        (True, {}, {"kdim": 6}, [(4, 2, 8), (9, 2, 8)]),  # key features not the projection's: torch refuses
        (False, {}, {}, [(5, 2, 8), (7, 3, 8)]),  # batch sizes differ
        (False, {}, {}, [(5, 2, 6), (7, 2, 6)]),  # not embed_dim features
    ],
)
def test_multi_head_attention_forward_is_multihead_attentions_rule(
    separate: bool, options: dict[str, Any], layer: dict[str, Any], shapes: list[tuple[int, ...]]
) -> None:
    """CLIP's attention pool calls ``F.multi_head_attention_forward`` itself: nn.MultiheadAttention's rule on the
    weights it is given, the weights counted once where the forward reads them (it had no rule)."""
    sizes = {k: layer.pop(k) for k in ("out", "kdim") if k in layer}
    model = _AttentionForward(separate, dict(options), **sizes, **layer).eval()
    plan = check(model, shapes)
    if plan is not None:
        batch = shapes[0][1] if len(shapes[0]) == 3 else 1  # unbatched: the count is the whole call's
        # without the weights, torch takes scaled_dot_product_attention, which FlopCounterMode does not count on
        # the CPU: its two products, L x S' x E each, added here
        attended = shapes[1][0] + layer.get("add_bias_kv", False) + options.get("zero", False)
        products = 0 if options.get("need_weights", True) else 2 * batch * shapes[0][0] * attended * 8
        assert plan.macs * batch == torch_macs(model, shapes) + products


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.c(x) + self.c(x)[..., :1, :],  # (n, c, h, w) + (n, c, Min(1, h), w)
        lambda self, x: self.c(x)[:, :, :1] * self.c(x),
        lambda self, x: self.c(x) - self.c(x)[..., -1:],
        lambda self, x: torch.cat([self.c(x)[:, :, :1].expand(-1, -1, 2, -1), self.c(x)], 2),
    ],
)
def test_a_first_row_broadcasts_against_its_tensor(function: Any) -> None:
    """``x + x[..., :1, :]`` runs at every size: ``Min(1, h)`` broadcasts as 1 wherever the axis has elements (it
    was taken as an equality with h, which held at h = 1 only)."""
    _sym_agrees(function, (1, 2, "H", "W"), range(1, 12), c=torch.nn.Conv2d(2, 2, 3, stride=2))


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda s, x: x.repeat(1, 1, 1, x.shape[2]), (1, 3, "H", "W")),
        (lambda s, x: x.repeat(x.shape[2], 1, 1, 1), (2, 3, "H", 5)),
        (lambda s, x: x.reshape(1, -1, 2), (1, 3, "H", 5)),
        (lambda s, x: x.unflatten(-1, (2, -1)), (1, 3, 4, "W")),
        (lambda s, x: x.narrow(3, 2, 3), (1, 3, 4, "W")),
        (lambda s, x: x.narrow(3, 1, x.shape[3] - 2), (1, 3, 4, "W")),
        (lambda s, x: x.narrow(2, -2, 1), (1, 3, "H", 4)),
        (lambda s, x: x[:, :, 5], (1, 3, "H", 4)),
        (lambda s, x: x[:, :, -3], (1, 3, "H", 4)),
        (lambda s, x: x + torch.zeros(x.shape[2] - 3)[None, None, :, None].sum(), (1, 3, "H", 4)),
        (lambda s, x: F.interpolate(x, size=(x.shape[2] // 2, x.shape[3])), (1, 3, "H", 4)),
        (lambda s, x: F.interpolate(x, size=x.shape[-1] - 3, mode="linear"), (1, 3, "H")),
        (lambda s, x: x[:, :, 2:].amax(2), (1, 3, "H", 4)),
        (lambda s, x: x[:, :, 2:].median(2).values, (1, 3, "H", 4)),
        (lambda s, x: x[:, :, 2:].nanmedian(2, keepdim=True)[1], (1, 3, "H", 4)),
        (lambda s, x: x[..., 3:].mode().values, (1, 3, 4, "H")),
        (lambda s, x: F.adaptive_avg_pool2d(F.pad(x, (0, 0, -3, 0)), 2), (1, 3, "H", 4)),
        (lambda s, x: F.instance_norm(F.avg_pool2d(x, 2)), (1, 3, "H", "W")),
        (lambda s, x: F.layer_norm(x, [3, 8, 8]), (1, 3, "H", "W")),
        (lambda s, x: F.group_norm(x.reshape(1, x.shape[2], 2, 2), 4), (1, 1, "H", 4)),
    ],
)
def test_torch_s_checks_on_sizes_hold_for_symbols(function: Any, shape: tuple[Any, ...]) -> None:
    _sym_agrees(function, shape, range(1, 14))


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: F.pixel_unshuffle(x[..., :-1, :], 2),
        lambda s, x: s.unshuffle(x[:, :, 2:]),
        lambda s, x: F.pixel_unshuffle(x[:, :0], 2),
        lambda s, x: s.unshuffle(x[:0]),
        lambda s, x: F.pixel_shuffle(x[..., :-1, :].repeat(1, 4, 1, 1), 2),
    ],
)
@pytest.mark.parametrize("height", [1, 2, 3, 4, 5])
def test_pixel_unshuffle_returns_an_empty_input_as_it_is(function: Any, height: int) -> None:
    """torch checks the sizes, then returns an input holding no value unchanged (its channels not multiplied),
    where its meta kernel gives the rearranged shape; pixel_shuffle rearranges an empty input."""
    check(Forward(function, unshuffle=torch.nn.PixelUnshuffle(2)), (2, 3, height, 4))


@pytest.mark.parametrize(
    "function", [lambda s, x: F.pixel_unshuffle(x[..., :-1, :], 2), lambda s, x: s.unshuffle(x[:, :, 2:])]
)
def test_a_symbolic_pixel_unshuffle_holds_where_its_input_is_not_empty(function: Any) -> None:
    model = Forward(function, unshuffle=torch.nn.PixelUnshuffle(2))
    _sym_agrees(function, (1, 3, "H", 4), range(1, 12), exact=False, unshuffle=torch.nn.PixelUnshuffle(2))
    valid = convcalc.plan(model, (1, 3, convcalc.symbols("H"), 4)).valid_sizes()
    for h in range(1, 12):
        out = torch_outcome(model, (1, 3, h, 4))
        # the plan's shape, 12 channels, is torch's wherever the input holds values; an empty one torch returns
        assert (h in valid) == (out is not None and out[0][1] == 12), (h, out, valid)


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: F.interpolate(x, scale_factor=0.5, mode="area"),
        lambda s, x: F.interpolate(x, scale_factor=(0.25, 1.0), mode="area"),
        lambda s, x: F.interpolate(x, size=(0, 3), mode="area"),
        lambda s, x: s.area(x),
        lambda s, x: F.interpolate(x, scale_factor=0.5),
        lambda s, x: F.interpolate(x, scale_factor=0.5, mode="bilinear"),
        lambda s, x: F.interpolate(x[:, :, 1:], scale_factor=2.0, mode="area"),
        lambda s, x: F.interpolate(x[:, :, 1:], size=(4, 4), mode="area"),
        lambda s, x: s.sized(x[:, :, 1:]),
    ],
)
@pytest.mark.parametrize("height", [1, 2, 3, 4])
def test_area_interpolation_gives_an_empty_axis(function: Any, height: int) -> None:
    """Mode "area" is an adaptive average pool: an output size of 0 gives an empty axis, where the other modes
    refuse it (Input and output sizes should be greater than 0); every mode refuses an empty input."""
    children = {"area": torch.nn.Upsample(scale_factor=0.5, mode="area"), "sized": torch.nn.Upsample(size=(4, 4))}
    check(Forward(function, **children), (2, 3, height, 6))


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: s.sized(x[..., :-1, :]),
        lambda s, x: F.interpolate(x[..., :-1, :], size=(16, 16)),
        lambda s, x: s.area(x[..., 1:, :]),
        lambda s, x: F.interpolate(x[..., 1:, :], scale_factor=0.5, mode="area"),
        lambda s, x: F.interpolate(x[..., 1:, :], scale_factor=0.5),
    ],
)
def test_an_interpolated_input_must_not_be_empty_with_symbols(function: Any) -> None:
    """nn.Upsample and F.interpolate plan through one rule: the input's sizes at least 1 in every mode, the output's
    in every mode but "area"."""
    children = {"area": torch.nn.Upsample(scale_factor=0.5, mode="area"), "sized": torch.nn.Upsample(size=(16, 16))}
    _sym_agrees(function, (1, 3, "H", 8), range(1, 12), **children)
    model = Forward(function, **children).eval()
    valid = convcalc.plan(model, (1, 3, convcalc.symbols("H"), 8)).valid_sizes()
    for h in range(1, 12):
        assert (h in valid) == (torch_outcome(model, (1, 3, h, 8)) is not None), (h, valid)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.ConvTranspose1d(8, 4, 4, padding=2), (1, 8, 1)),
        (torch.nn.ConvTranspose2d(8, 4, (4, 3), padding=(2, 1)), (1, 8, 1, 20)),
        (torch.nn.ConvTranspose2d(8, 4, 3, padding=2), (1, 8, 2, 20)),
        (torch.nn.ConvTranspose3d(8, 4, 3, padding=2), (1, 8, 2, 5, 5)),
    ],
)
def test_a_transposed_convolution_with_an_output_of_0_is_refused(layer: torch.nn.Module, shape: Any) -> None:
    """torch's shape check refuses it (Output size is too small), as its native CPU kernel and its meta pass do;
    only oneDNN, which float32 takes on the CPU at a batch above 1 (or with groups, or kernels above 3 on both of
    the last two axes), returns an empty axis without checking."""
    assert check(layer, shape) is None


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.PReLU(4), (1, 3, 4, 4)),
        (torch.nn.PReLU(3), (1, 3, 4, 4)),
        (torch.nn.ChannelShuffle(2), (1, 3, 4, 4)),
        (torch.nn.ChannelShuffle(3), (1, 3, 4, 4)),
        (torch.nn.RMSNorm(8), (1, 3, 4, 5)),
        (torch.nn.RMSNorm([4, 5]), (1, 3, 4, 5)),
        (torch.nn.InstanceNorm1d(3), (1, 3, 1)),
        (torch.nn.InstanceNorm1d(4, affine=True), (3, 6)),
        (torch.nn.InstanceNorm3d(3, affine=True), (1, 3, 2, 2, 2)),
        (torch.nn.InstanceNorm2d(4, affine=True), (1, 3, 4, 4)),
        (torch.nn.InstanceNorm2d(3), (1, 3, 1, 1)),
        (torch.nn.InstanceNorm2d(3, track_running_stats=True), (1, 3, 1, 1)),
        (torch.nn.InstanceNorm2d(3, affine=True), (3, 1, 2)),
    ],
)
def test_channel_and_statistics_checks_of_shape_keeping_layers(layer: torch.nn.Module, shape: tuple[int, ...]) -> None:
    check(layer.eval(), shape)


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: F.layer_norm(x, [3, 8, 8]),
        lambda s, x: F.layer_norm(x, [4], torch.ones(5)),
        lambda s, x: F.group_norm(x, 2, torch.ones(4)),
        lambda s, x: F.batch_norm(x, torch.zeros(4), torch.ones(4)),
        lambda s, x: F.batch_norm(x[:1, :, :1, :1], torch.zeros(3), torch.ones(3), training=True),
        lambda s, x: F.batch_norm(x[:1, :, :1, :1], torch.zeros(3), torch.ones(3)),
        lambda s, x: F.instance_norm(x[:, :, :1, :1]),
        lambda s, x: F.instance_norm(x, weight=torch.ones(4)),
        lambda s, x: F.prelu(x, torch.ones(4)),
        lambda s, x: F.prelu(x, torch.ones(3)),
        lambda s, x: F.channel_shuffle(x, 2),
        lambda s, x: x.narrow(3, -5, 2),
        lambda s, x: x[:, 3],
        lambda s, x: x.max(2)[0][:, :, :0].argmax(2),
        # torch: Expected reduction dim to have non-zero size (its meta kernels of median and mode run it)
        lambda s, x: x[:, :, :0].median(2).values,
        lambda s, x: x[:, :, :0].median(3),
        lambda s, x: x[:, :, :0].median(),  # of a whole empty tensor: nan
        lambda s, x: torch.nanmedian(x[:, :, :0], -2, keepdim=True),
        lambda s, x: x[..., :0].mode(),
        lambda s, x: torch.mode(x[:, :, :0], 3, True).indices,
    ],
)
def test_functional_checks_against_the_input(function: Any) -> None:
    check(Forward(function), (2, 3, 4, 4))


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: torch.tensor_split(x, (3, 7), dim=-1),
        lambda s, x: torch.tensor_split(x, (7, 3), dim=-1),
        lambda s, x: torch.tensor_split(x, (-2, 20), dim=-1),
        lambda s, x: torch.tensor_split(x, 3, dim=-1),
        lambda s, x: torch.tensor_split(x, 0, dim=1),
        lambda s, x: x.split([12, -2], dim=-1),  # adds up, but torch refuses a negative section
        lambda s, x: x.split([4, 6], dim=-1),
        lambda s, x: x.split([4, 5], dim=-1),
        lambda s, x: F.softmax(x, 3),
        lambda s, x: F.log_softmax(x, dim=-4),
        lambda s, x: F.normalize(x, dim=3),
        lambda s, x: F.linear(x, torch.zeros(4, 10), torch.zeros(5)),
        lambda s, x: F.conv1d(x, torch.zeros(4, 3, 1), torch.zeros(5)),
        lambda s, x: s.soft(x),
        lambda s, x: s.soft2d(x),
        lambda s, x: s.lrn(x[0]),
    ],
)
def test_splits_dims_and_biases_as_torch_checks_them(function: Any) -> None:
    check(
        Forward(function, soft=torch.nn.Softmax(dim=3), soft2d=torch.nn.Softmax2d(), lrn=torch.nn.LocalResponseNorm(2)),
        (2, 3, 10),
    )


@pytest.mark.parametrize("indices", [(3, 7), (7, 3), (-2, 20), (0,), (2, 2, 5), (-20, 4)])
def test_tensor_split_at_indices(indices: tuple[int, ...]) -> None:
    check(Forward(lambda s, x: x.tensor_split(indices, dim=1)), (2, 10))


def test_a_loop_on_a_size_ends() -> None:
    """``while x.size(-1) > 4:`` taken as True on every read would never end: the read stops after a bounded number
    of conditions and is made again on the real sizes."""

    def halve(self: Any, x: Any) -> Any:
        while x.size(-1) > 4:
            x = F.avg_pool1d(x, 2)
        return x

    for length in (3, 17, 100):
        check(Forward(halve), (2, 3, length))


def test_torch_vmap_is_refused_rather_than_counted_once() -> None:
    """Under vmap each call sees one example's shapes: the count would be one example's."""
    model = Forward(lambda self, x: torch.vmap(self.fc)(x), fc=torch.nn.Linear(16, 8))
    with pytest.raises(convcalc.SpecError, match=r"torch\.vmap"):
        convcalc.plan(model, (4, 3, 16))
    # torch.where(condition): as many indices as the data holds
    with pytest.raises(convcalc.SpecError, match="depends on the data"):
        convcalc.plan(Forward(lambda self, x: torch.where(x > 0)[0]), (2, 3))


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: torch.lstm_cell(x, (x, x), s.fc.weight.repeat(4, 1), s.fc.weight.repeat(4, 1))[0],
        lambda s, x: torch.gru_cell(x, x, s.fc.weight.repeat(3, 1), s.fc.weight.repeat(3, 1)),
    ],
)
def test_products_without_a_rule_are_refused_not_counted_as_zero(function: Any) -> None:
    model = Forward(function, fc=torch.nn.Linear(16, 16))
    with pytest.raises(convcalc.SpecError, match="multiply-accumulates would be unknown"):
        convcalc.plan(model, (4, 16))


def test_a_rank_changed_input_into_a_layer_torch_s_machinery_runs() -> None:
    """The field of the plan's input does not fit the conv's input after ``unsqueeze`` (it crashed)."""
    model = Forward(lambda self, x: self.conv(x.unsqueeze(1)).flip(-1), conv=torch.nn.Conv2d(1, 4, 3))
    plan = check(model, (2, 8, 8))
    assert plan is not None
    assert plan.macs * 2 == torch_macs(model, [(2, 8, 8)])


def test_a_negative_symbolic_slice_bound_counts_from_the_end() -> None:
    _sym_agrees(lambda s, x: x[..., : -(x.size(-1) // 3)], (1, 3, "H"), range(3, 30))


class _Masked(torch.nn.Module):
    """Attention with a mask made in forward, of the shape drawn."""

    def __init__(self, name: str, shape: tuple[int, ...], batch_first: bool) -> None:
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
        self.name, self.shape = name, shape

    def forward(self, x: Any, k: Any) -> Any:
        mask = torch.zeros(self.shape, dtype=torch.bool) if self.name == "key_padding_mask" else torch.zeros(self.shape)
        return self.attention(x, k, k, **{self.name: mask})[0]


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("attn_mask", (3, 5)),
        ("attn_mask", (4, 3, 5)),
        ("attn_mask", (3, 3, 5)),
        ("attn_mask", (1, 3, 5)),
        ("attn_mask", (5,)),
        ("attn_mask", (4, 4)),
        ("key_padding_mask", (2, 5)),
        ("key_padding_mask", (2, 4)),
        ("key_padding_mask", (1, 5)),
        ("key_padding_mask", (5,)),
    ],
)
@pytest.mark.parametrize("batch_first", [True, False])
def test_attention_masks_of_torch_s_shapes_only(name: str, shape: tuple[int, ...], batch_first: bool) -> None:
    shapes = [(2, 3, 8), (2, 5, 8)] if batch_first else [(3, 2, 8), (5, 2, 8)]
    check(_Masked(name, shape, batch_first), shapes)


def test_a_keyword_no_parameter_takes_is_refused_as_torch_does() -> None:
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    check(Forward(lambda self, x: self.layer(x, mask=None), layer=layer), (2, 3, 8))
    check(Forward(lambda self, x: self.layer(x, src_mask=None), layer=layer), (2, 3, 8))


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: x.flip(-1),
        lambda s, x: torch.flip(x, [2, 3]),
        lambda s, x: torch.roll(x, (1, 2), (2, 3)),
        lambda s, x: x.roll(3),
        lambda s, x: x.cumsum(2),
        lambda s, x: torch.fliplr(x),
        lambda s, x: x.long().float() + x,
    ],
)
def test_shape_keeping_operations_along_axes_are_symbolic(function: Any) -> None:
    _sym_agrees(function, (1, 3, "H", 5), range(1, 8))


@pytest.mark.parametrize("function", [lambda s, x: x.flip(5), lambda s, x: x.cumsum(-5), lambda s, x: x.roll(1, 4)])
def test_operations_along_an_axis_that_is_not_there(function: Any) -> None:
    check(Forward(function), (1, 3, 4, 5))


def _padded_to_32(self: Any, x: Any) -> Any:
    """Detectron2's padding to a size divisible by 32, made with ``new_zeros``."""
    h = x.shape[-1]
    out = x.new_zeros(x.shape[0], x.shape[1], h + (32 - h % 32) % 32)
    return out + x.new_full((1,), 2.0).sum()


def test_new_tensors_of_traced_sizes() -> None:
    _sym_agrees(_padded_to_32, (2, 3, "H"), range(1, 70, 3))


class _CausalAttention(torch.nn.Module):
    """nanoGPT's attention: a causal mask kept as a buffer and sliced by the sequence length."""

    def __init__(self, n_embd: int = 32, n_head: int = 4, block_size: int = 16) -> None:
        super().__init__()
        self.c_attn = torch.nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = torch.nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd = n_head, n_embd
        mask = torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)
        self.register_buffer("bias", mask)
        self.register_buffer("pe", torch.zeros(1, block_size, n_embd))

    def forward(self, x: Any) -> Any:
        B, T, C = x.size()
        x = x + self.pe[:, :T]
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / k.size(-1) ** 0.5)
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


def test_a_buffer_sliced_by_a_traced_size() -> None:
    """Buffers read in forward are nodes, as parameters are: sliced by the symbolic length, counted once."""
    model = _CausalAttention()
    plan = check(model, (2, 10, 32))
    assert plan is not None
    assert plan.buffers == 16 * 16 + 16 * 32
    assert plan.macs * 2 == torch_macs(model, [(2, 10, 32)])
    _sym_agrees(lambda self, x: self.attention(x), (2, "H", 32), range(1, 20), attention=_CausalAttention())
    T = convcalc.symbols("T")
    assert convcalc.plan(model, (2, T, 32)).macs == 64 * T**2 + 4096 * T


@pytest.mark.parametrize("factor", [0.5, 1.5, 0.75, (0.25, 2.5)])
def test_a_factor_of_a_few_bits_over_a_power_of_two_is_symbolic(factor: Any) -> None:
    """torch takes the floor of the double product; for p / 2**k that product is exact, so floor(H * p / 2**k)."""
    _sym_agrees(lambda self, x: F.interpolate(x, scale_factor=factor), (1, 3, "H", "W"), range(1, 40))
    with pytest.raises(convcalc.SpecError, match="no closed form"):
        convcalc.plan(Forward(lambda self, x: F.interpolate(x, scale_factor=1.3)), (1, 3, convcalc.symbols("H"), 4))


def test_a_condition_holds_for_int_sizes_by_symbol_or_by_name() -> None:
    H, W = convcalc.symbols("H W")
    same = convcalc.plan(Forward(lambda self, x: torch.cat([x, x.transpose(2, 3)], 1)), (1, 3, H, W)).constraints[0]
    assert same.holds({"H": 4, "W": 4})
    assert not same.holds({H: 3, W: 5})
    with pytest.raises(convcalc.SpecError, match=r"depends on H, W: give holds\(\) a size for each"):
        same.holds(3)
    with pytest.raises(convcalc.SpecError, match="needs a size for W"):
        same.holds({"H": 3})
    for bad in ("9", 9.0, None, {"H": "x", "W": 1}, True):
        with pytest.raises(convcalc.SpecError, match="takes an int size"):
            same.holds(bad)


@pytest.mark.parametrize(
    ("function", "shape", "macs"),
    [
        (lambda s, x: x @ s.v, (4, 16), 16),  # (4, 16) @ (16,): 16 per row
        (lambda s, x: x @ s.v, (2, 3, 16), 3 * 16),
        (lambda s, x: s.v @ s.w + x.sum(), (4, 16), 16 * 8 // 4),  # one (16,) @ (16, 8) for the batch of 4
        (lambda s, x: torch.matmul(x[0], s.v) + x.sum(), (4, 16), 16 // 4),  # one dot product for the batch
        (lambda s, x: x @ s.v[:5], (4, 16), None),  # inner sizes differ: torch refuses too
    ],
)
def test_a_matrix_product_with_a_vector(function: Any, shape: tuple[int, ...], macs: Any) -> None:
    """FlopCounterMode counts no mv or dot; the MACs are counted by hand: one per output element and inner index."""
    model = Forward(function)
    model.v = torch.nn.Parameter(torch.zeros(16))
    model.w = torch.nn.Parameter(torch.zeros(16, 8))
    plan = check(model, shape)
    assert (plan.macs if plan is not None else None) == macs


def test_pixel_shuffle_of_channels_that_depend_on_the_input() -> None:
    _sym_agrees(lambda self, x: F.pixel_shuffle(x.reshape(1, x.shape[2], 3, 4), 2), (1, 1, "H", 12), range(1, 30))


# --- x.mT, x.mH, x.T, x.H and x.t() ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x.mT,
        lambda self, x: x.mH,
        lambda self, x: x.T,
        lambda self, x: x.H,
        lambda self, x: x.t(),
        lambda self, x: torch.t(x),
        lambda self, x: x.mT @ x,
    ],
)
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4), (1, 2, 3, 5)])
def test_transposing_attributes_and_t_as_torch_shapes_them(function: Any, shape: tuple[int, ...]) -> None:
    """Read by rule (no row from torch's machinery) wherever torch runs them; refused where torch raises (``x.t()``
    of a 3-D tensor was planned as the tensor itself)."""
    plan = check(Forward(function), shape)
    assert plan is None or not plan.fallback_rows


def test_a_transposing_attribute_of_symbolic_sizes() -> None:
    _sym_agrees(lambda self, x: x.mT @ x, (2, "H", "W"), range(1, 12))
    _sym_agrees(lambda self, x: x.T.flatten(1), (2, "H", 3), range(1, 12))
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(Forward(lambda self, x: x.mT @ x), (2, H, W))
    assert [(r.kind, r.output_shape) for r in plan.rows] == [("mT", (2, W, H)), ("matmul", (2, W, W))]
    assert plan.macs == H * W**2


# --- torch.tensordot -----------------------------------------------------------------------------------------------


@given(
    shape_a=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple),
    shape_b=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple),
    dims=st.one_of(
        st.integers(-1, 4),
        st.integers(0, 3).flatmap(
            lambda n: st.tuples(
                st.lists(st.integers(-4, 4), min_size=n, max_size=n),
                st.lists(st.integers(-4, 4), min_size=n, max_size=n),
            )
        ),
        st.tuples(st.lists(st.integers(0, 3), max_size=2), st.lists(st.integers(0, 3), max_size=3)),
    ),
)
def test_tensordot_as_torch_shapes_and_counts_it(shape_a: tuple[int, ...], shape_b: tuple[int, ...], dims: Any) -> None:
    """Shapes or a refusal as torch's, read by rule; MACs per input sample times the batch are torch's count."""
    model = Forward(lambda self, x: torch.tensordot(x, self.b, dims=self.dims))
    model.b = torch.nn.Parameter(torch.zeros(shape_b))
    model.dims = dims
    plan = check(model, shape_a)
    if plan is not None:
        assert not plan.fallback_rows
        if isinstance(dims, int):
            pairs = list(zip(range(len(shape_a) - dims, len(shape_a)), range(dims), strict=True))
        else:
            pairs = list(zip(dims[0], dims[1], strict=True))
        # one MAC per output element and contracted index; a size 1 against a larger one is summed first
        by_hand = math.prod(plan.output_shape) * math.prod(min(shape_a[i], shape_b[j]) for i, j in pairs)
        # per input sample: the count over the whole batch shared out, exactly
        assert plan.macs * shape_a[0] == by_hand
        counted = torch_macs(model, [shape_a])  # none where torch runs a dot product or a multiply, not an mm
        assert counted in (0, by_hand)


def test_tensordot_of_symbolic_sizes() -> None:
    _sym_agrees(lambda self, x: torch.tensordot(x, x, dims=([1], [1])), (2, "H", "W"), range(1, 12))
    H = convcalc.symbols("H")
    plan = convcalc.plan(Forward(lambda self, x: torch.tensordot(x, x, dims=([1, 2], [1, 2]))), (2, 3, H))
    assert plan.output_shape == (2, 2)
    assert plan.macs == 6 * H


# --- shapes unpacked with *, iterated, listed ----------------------------------------------------------------------

_UNPACKED = [
    lambda self, x: (lambda b, *rest: self.conv(x).view(b, -1))(*x.shape),
    lambda self, x: self.conv(x).view(*x.shape[:1], -1),
    lambda self, x: torch.zeros(*self.conv(x).shape) + self.conv(x),
    lambda self, x: torch.stack([row.sum() for row in self.conv(x)]),
    lambda self, x: self.conv(x).reshape(x.size(0), *self.conv(x).shape[2:], -1),
    lambda self, x: self.conv(x).expand(2, *self.conv(x).shape[1:]),
    lambda self, x: self.conv(x).view(list(x.shape[:1]) + [-1]),  # noqa: RUF005 - as people write it
    lambda self, x: self.conv(x).flatten(1)[:, : sum(d for d in x.shape[2:])],
]


@pytest.mark.parametrize("function", _UNPACKED)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 3, 6, 9)])
def test_a_shape_unpacked_or_iterated_is_read_by_rule(function: Any, shape: tuple[int, ...]) -> None:
    """``*x.shape``, ``b, *rest = x.shape``, ``for row in x``: as many items as the length, a number asked of the
    sizes (torch.fx itself unpacks only ``b, c = x.shape``); no row from torch's machinery."""
    plan = check(Forward(function, conv=torch.nn.Conv2d(3, 4, 3)), shape)
    assert plan is not None
    assert not plan.fallback_rows


@pytest.mark.parametrize("function", [f for j, f in enumerate(_UNPACKED) if j != 3])
def test_a_shape_unpacked_of_symbolic_sizes(function: Any) -> None:
    _sym_agrees(function, (2, 3, "H", 8), range(3, 12), conv=torch.nn.Conv2d(3, 4, 3))


# --- chunk and split along a symbolic axis --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "exact"),
    [
        # sections that add up to the axis: exactly where torch splits
        (lambda self, x: (lambda a, b: a.sum() + b.sum())(*x.split([3, x.shape[2] - 3], dim=2)), True),
        (lambda self, x: x.split([2, 4], dim=2)[1], True),
        (lambda self, x: x.chunk(1, dim=2)[0], True),
        # tensor_split's pieces, the first ones longer; chunk's, where they are as many as asked (torch also
        # gives fewer where the rest is empty: chunk(3) of 4 is 2 pieces of 2, which a plan of 3 pieces refuses)
        # (a * b of pieces 2 and 1 at H = 3 broadcasts the 1, which a symbolic plan requires equal)
        (lambda self, x: (lambda a, b: a * b)(*x.chunk(2, dim=2)), False),
        (lambda self, x: torch.cat(x.chunk(2, dim=2), 2), False),  # H = 1: one piece
        (lambda self, x: torch.cat(x.chunk(3, 2)[::-1], 2), False),
        (lambda self, x: torch.tensor_split(x, 2, dim=2)[0], True),
        (lambda self, x: torch.tensor_split(x, 3, dim=2)[2], True),
        (lambda self, x: torch.cat(torch.tensor_split(x, 4, dim=2)[1:], 2), True),
    ],
)
def test_pieces_of_a_symbolic_axis(function: Any, exact: bool) -> None:
    _sym_agrees(function, (1, 3, "H", 8), range(1, 14), exact=exact)


def test_pieces_of_a_symbolic_axis_state_their_condition() -> None:
    """chunk(2) of H: pieces of ceil(H / 2) and the rest, two of them where the rest is not empty; adding them
    needs them equal (an even H). torch runs exactly there."""
    H = convcalc.symbols("H")
    plan = convcalc.plan(Forward(lambda self, x: (lambda a, b: a + b)(*x.chunk(2, dim=2))), (1, 3, H, 8))
    assert str(plan.output_shape) == "(1, 3, floor((H + 1)/2), 8)"
    assert [str(c) for c in plan.constraints] == [
        "chunk (axis 2): H - floor((H + 1)/2) >= 1 (2 pieces)",
        "add (axis 2): -H + 2*floor((H + 1)/2) == 0 (sizes equal)",
    ]
    odd = convcalc.plan(Forward(lambda self, x: x.chunk(2, dim=2)[1]), (1, 3, H, 8))
    assert [odd.output_shape[2].subs(H, h) for h in (2, 5, 7)] == [1, 2, 3]
    with pytest.raises(convcalc.ShapeError, match="a number of pieces that depends on it too"):
        convcalc.plan(Forward(lambda self, x: x.split(2, dim=2)[0]), (1, 3, H, 8))


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (1, 3, 7, 8)])
def test_pieces_unpacked_with_a_star(shape: tuple[int, ...]) -> None:
    check(Forward(lambda self, x: (lambda a, b: a.mean() + b.mean())(*x.chunk(2, dim=2))), shape)
    check(Forward(lambda self, x: torch.stack([*x.unbind(1)], 1)), shape)


@pytest.mark.parametrize("shape", [(1, 2, 4, 8), (1, 2, 4, 12), (1, 2, 4, 13), (1, 2, 4, 5), (1, 2, 4, 4)])
def test_names_unpacked_from_pieces_must_be_as_many_as_the_pieces(shape: tuple[int, ...]) -> None:
    """``a, b = x.split(4, dim=-1)`` at W = 12: torch raises (too many values to unpack); fx hands out two items
    whatever the count, which the plan checks on the sizes."""
    check(Forward(lambda self, x: (lambda a, b: a * b)(*_two(x.split(4, dim=-1)))), shape)
    check(Forward(lambda self, x: _sum_of_three(x.unbind(1))), (*shape[:1], shape[3] % 4 + 1, *shape[2:3]))


def test_names_unpacked_along_a_symbolic_axis_ask_for_as_many_items() -> None:
    """``q, k, v = x`` of a symbolic first axis: a condition that it holds three items, exact where torch runs."""
    _sym_agrees(lambda self, x: _sum_of_three(x), ("H", 2, 3), range(1, 7))


def _two(pieces: Any) -> tuple[Any, Any]:
    a, b = pieces
    return a, b


def _sum_of_three(pieces: Any) -> Any:
    q, k, v = pieces
    return q + k + v


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda self, x: x[:, :, :0].chunk(3, dim=2)[2], (2, 3, 8, 8)),  # an empty axis: `chunks` empty pieces
        (lambda self, x: x.new_zeros(len(x[:, :, :0].chunk(3, dim=2))), (2, 3, 8, 8)),
        (lambda self, x: x[:, :, :0].split(3, dim=2)[0], (2, 3, 8, 8)),  # one empty piece
        (lambda self, x: x[:, :, :0].split(0, dim=2)[0], (2, 3, 8, 8)),
        (lambda self, x: x[:, :, :0].split(3, dim=2)[1], (2, 3, 8, 8)),
        (lambda self, x: x.split(0, dim=2)[0], (2, 3, 8, 8)),
        (lambda self, x: x.expand(-1, 2, 3, 8, 8), (2, 3, 8, 8)),  # -1 for a new leading axis
        (lambda self, x: x.expand(2, -1, 8, 8), (2, 3, 8, 8)),
        (lambda self, x: x.expand(2, -2, 8, 8), (2, 3, 8, 8)),
        (lambda self, x: x[:, :1].expand(-1, -1, 8, 8), (2, 3, 8, 8)),
    ],
)
def test_pieces_and_expansions_at_the_edges(function: Any, shape: tuple[int, ...]) -> None:
    check(Forward(function), shape)


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda self, x: torch.mm(x[0], x[0]), (2, 3, 8, 8)),  # torch: self must be a matrix
        (lambda self, x: torch.mm(x[0, 0], x[0, 0]), (2, 3, 8, 8)),
        (lambda self, x: torch.bmm(x, x), (2, 3, 8, 8)),  # torch: batch1 must be a 3D tensor
        (lambda self, x: torch.bmm(x[0], x[0]), (2, 3, 8, 8)),
        (lambda self, x: torch.bmm(x[0, 0], x[0, 0]), (2, 3, 8, 8)),
        (lambda self, x: x.prod((1, 2)), (2, 3, 8, 8)),  # torch: prod takes one dim
        (lambda self, x: x.prod(1), (2, 3, 8, 8)),
        (lambda self, x: x.argmax((1,)), (2, 3, 8, 8)),
        (lambda self, x: x.max((1,))[0], (2, 3, 8, 8)),
        (lambda self, x: x.sum((1, 2)), (2, 3, 8, 8)),
        (lambda self, x: x.amax((1,)), (2, 3, 8, 8)),
        (lambda self, x: x[..., :4] + torch.arange(x.shape[-1], step=2), (2, 3, 8, 8)),  # a step needs a start
        (lambda self, x: x[..., :4] + torch.arange(end=x.shape[-1], step=2), (2, 3, 8, 8)),
        (lambda self, x: x[..., :4] + torch.arange(0, x.shape[-1], step=2), (2, 3, 8, 8)),
        (lambda self, x: x[..., :6] + torch.arange(2, end=x.shape[-1]), (2, 3, 8, 8)),
        (lambda self, x: x + torch.arange(end=x.shape[-1]), (2, 3, 8, 8)),
        (lambda self, x: x[..., :3] + torch.arange(start=2, end=x.shape[-1], step=2), (2, 3, 8, 8)),
    ],
)
def test_products_reductions_and_ranges_take_torchs_arguments(function: Any, shape: tuple[int, ...]) -> None:
    check(Forward(function), shape)


@pytest.mark.parametrize(
    "function",
    [
        lambda s: s.mean(0),
        lambda s: s.sum(-1),
        lambda s: s.sum((0,)),
        lambda s: s.mean(0, keepdim=True),
        lambda s: s.max(0)[1],
        lambda s: s.argmax(-1),
        lambda s: s.std(0),
        lambda s: s.logsumexp(0),
        lambda s: s.norm(dim=0),
        lambda s: s.sum(1),  # torch: Dimension out of range (expected to be in range of [-1, 0])
        lambda s: s.mean(-2),
        lambda s: s.cumsum(0),
        lambda s: s.flip(-1),
        lambda s: s.roll(1, 0),  # torch rolls no 0-D tensor
        lambda s: s.squeeze(0),
        lambda s: s.squeeze(1),
        lambda s: s.transpose(0, -1),
        lambda s: s.transpose(0, 1),
        lambda s: s.movedim(0, -1),
        lambda s: s.sort(0)[0],
        lambda s: s.sort(2)[0],
        lambda s: s.mean((0, -1)),  # torch: dim 0 appears multiple times in the list of dims
        lambda s: s.flip((0, -1)),
        lambda s: s.squeeze((0, -1)),
        lambda s: s.movedim((0, -1), (0, -1)),
        lambda s: s.movedim((0,), (0, -1)),
    ],
)
def test_a_dim_of_a_0d_tensor_is_0_or_minus_1(function: Any) -> None:
    """torch wraps a dim of a 0-D tensor as of a 1-D one: ``loss.mean(0)`` runs, ``loss.sum(1)`` does not."""
    check(Forward(lambda self, x: function(x.sum())), (2, 3))


def test_a_layer_norm_of_a_symbolic_axis_asks_for_its_size() -> None:
    """A size that depends on the input must be normalized_shape's: an equality, exact where torch runs."""
    _sym_agrees(lambda self, x: self.ln(x), (2, 3, "H"), range(1, 12), ln=torch.nn.LayerNorm(6))
    _sym_agrees(lambda self, x: self.ln(x), (2, "H", "W"), range(1, 12), ln=torch.nn.LayerNorm((5, 6)))
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(convcalc.nn.LayerNorm((4, 5)), (2, H, W))
    assert [str(c) for c in plan.constraints] == [
        " (axis 1): H - 4 == 0 (normalized_shape 4)",
        " (axis 2): W - 5 == 0 (normalized_shape 5)",
    ]
    with pytest.raises(convcalc.ShapeError, match=r"use normalized_shape=\(H, 6\)"):
        convcalc.plan(convcalc.nn.LayerNorm((4, 5)), (2, H, 6))


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x[:, :1] if isinstance(x, torch.Tensor) else x,
        lambda self, x: x[:, :1] if torch.is_tensor(x) and not isinstance(x, (list, tuple)) else x,
        lambda self, x: x.flatten(1) if isinstance(x.size(2), int) else x,  # a size: read again as one
        lambda self, x: x[:, :, :2] if isinstance(x.size(2) / 2, float) and isinstance(x.shape, tuple) else x,
        lambda self, x: x[:, :1] if isinstance(self.conv.weight, torch.nn.Parameter) else x,
        lambda self, x: x[:, :1] if isinstance(self.conv(x), torch.nn.Parameter) else x,
        lambda self, x: torch.cat([x] if isinstance(x, torch.Tensor) else x, 1),
        # torch.jit.isinstance (monai's UpCat) asks through torch's own code: it was answered False
        lambda self, x: x[:, :1] if torch.jit.isinstance(x, torch.Tensor) else x,
        lambda self, x: x[:, :1] if torch.jit.isinstance([x, x], list[torch.Tensor]) else x,
        lambda self, x: x[:, :1] if torch.jit.isinstance(x, (int, torch.Tensor)) else x,
        # a Proxy is callable, a tensor is not: only a question of fx's Proxy itself is answered as fx's
        lambda self, x: x.sum(-1) if isinstance(x, collections.abc.Callable) else x,  # type: ignore[arg-type]
    ],
)
def test_isinstance_of_a_traced_value_is_what_torch_sees(function: Any) -> None:
    """fx hands the forward proxies, which are no Tensor: ``isinstance(y, torch.Tensor)`` was False, and the plan
    followed the other branch (a wrong shape, or torchvision's DenseNet layer raising TypeError)."""
    model = Forward(function, conv=torch.nn.Conv2d(3, 3, 1))
    expected = torch_outcome(model, (2, 3, 6, 5))
    plan = convcalc.plan(model, (2, 3, 6, 5))
    assert plan.output_shapes == expected
    assert not plan.fallback_rows


def test_in_place_methods_that_reshape_change_every_name_of_the_tensor() -> None:
    def function(self: Any, x: Any) -> Any:
        y = x.mean(3, keepdim=True)
        z = y.squeeze_(-1)  # y and z are one tensor
        y.unsqueeze_(1)
        w = x.clone()
        w.t_() if w.dim() == 2 else w.transpose_(1, 3)
        return y, z, w, torch.add(z, 1, out=torch.empty(0))

    model = Forward(function)
    plan = convcalc.plan(model, (2, 3, 6, 5))
    assert plan.output_shapes == torch_outcome(model, (2, 3, 6, 5))


def test_a_plan_after_one_that_failed_reads_the_forward_from_the_start() -> None:
    """A plan whose wrong input made the forward raise left the decisions it took for the next plan, which then
    refused any input of that class."""

    class Checked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Conv2d(3, 8, 4, 4)

        def forward(self, x: Any) -> Any:
            if x.shape[1] != 3:
                raise ValueError(f"expected 3 channels, got {x.shape[1]}")
            return self.proj(x)

    H = convcalc.symbols("H")
    with pytest.raises(convcalc.ConvCalcError, match="expected 3 channels"):
        convcalc.plan(Checked(), (1, 4, 32, 32))
    assert convcalc.plan(Checked(), (1, 3, 32, 32)).output_shape == (1, 8, 8, 8)
    assert convcalc.plan(Checked(), (1, 3, H, 8)).output_shape[:2] == (1, 8)


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: x[:, :, -(x.size(2) - 2) :],  # counted from the end wherever the plan holds
        lambda self, x: self.conv(x) + x[:, :, -self.conv(x).size(2) :],  # a TCN's cropped residual
        lambda self, x: x[:, :, :100],  # torch clamps a bound past the end
        lambda self, x: x[:, :, -16:],
        lambda self, x: x[:, :, 3:100:2],  # a clamp (Min) only its own constraint decides (was refused)
    ],
)
def test_symbolic_slices_are_every_numeric_slice(function: Any) -> None:
    """``x[:, :, -y.size(2):]`` read a bound that is negative for every size the plan holds at as a positive one
    (a wrong length, and valid sizes that were none); bounds past the end were constraints where torch clamps."""
    model = Forward(function, conv=torch.nn.Conv1d(2, 2, 2, dilation=2))
    T = convcalc.symbols("T")
    plan = convcalc.plan(model, (1, 2, T))
    solution = plan.valid_sizes()
    for t in range(1, 130, 3):
        expected = torch_outcome(model, (1, 2, t))
        if expected is None or 0 in expected[0]:  # (convcalc plans sizes of at least 1)
            assert t not in solution, t
            continue
        assert t in solution, t
        assert (1, 2, int(plan.output_shape[2].subs(T, t))) == expected[0], t


def test_a_forward_that_compares_type_with_tensor_is_run_by_torch() -> None:
    """``type(y) is torch.Tensor`` is answered by Python from fx's proxy (False) and took the other branch."""

    class FlattenIfTensor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            return y.flatten(1) if type(y) is torch.Tensor else y

    plan = convcalc.plan(FlattenIfTensor(), (2, 3, 8, 8))
    assert plan.output_shapes == torch_outcome(FlattenIfTensor(), (2, 3, 8, 8)) == ((2, 144),)
    assert plan.fallback_rows


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda self, x: x.chunk(2, dim=2)[0].view(x.size(0), -1), (2, 3, 6, 5)),
        (lambda self, x: x.chunk(2, dim=1)[1].view(x.size(0), -1), (2, 4, 6, 5)),  # whole rows: a view works
        (lambda self, x: x.split(2, dim=-1)[0].view(x.size(0), -1), (2, 3, 4, 6)),
        (lambda self, x: x.unbind(1)[0].view(x.size(0), -1), (2, 3, 4, 6)),
        (lambda self, x: x.unbind(3)[0].view(x.size(0), -1), (2, 3, 4, 6)),
        (lambda self, x: self.rnn(x)[0].view(x.size(0), -1), (2, 7, 3)),
        (lambda self, x: self.rnn(x)[0].view(x.size(0), -1), (1, 7, 3)),
        (lambda self, x: self.rnn(x)[1][0].view(-1), (2, 7, 3)),
        (lambda self, x: self.rnn(x)[0].reshape(x.size(0), -1), (2, 7, 3)),
    ],
)
def test_a_view_of_a_piece_or_of_a_batch_first_rnn_output_fails_where_torch_s_does(
    function: Any, shape: tuple[int, ...]
) -> None:
    """Pieces of split, chunk and unbind share their input's strides, and a batch-first RNN's output is the
    transpose of a contiguous one: a view of them was taken to succeed where torch raises."""
    model = Forward(function, rnn=torch.nn.LSTM(3, 5, batch_first=True))
    expected = torch_outcome(model, shape)
    if expected is None:
        with pytest.raises(convcalc.ShapeError, match="is not compatible with the input's size and stride"):
            convcalc.plan(model, shape)
    else:
        assert convcalc.plan(model, shape).output_shapes == expected


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.rnn(x)[0] if isinstance(self.rnn(x), tuple) else x,  # ``if isinstance(out, tuple):``
        lambda self, x: self.pool(x)[0] if isinstance(self.pool(x), (tuple, list)) else self.pool(x),
        lambda self, x: x[:, :1] if isinstance(self.rnn(x), list) else x,
    ],
)
def test_isinstance_of_a_layer_s_outputs_is_the_container_torch_returns(function: Any) -> None:
    model = Forward(
        function, rnn=torch.nn.LSTM(4, 5, batch_first=True), pool=torch.nn.MaxPool1d(2, return_indices=True)
    )
    plan = convcalc.plan(model, (2, 6, 4))
    assert plan.output_shapes == torch_outcome(model, (2, 6, 4))


# --- a forward calling a function that names a class (torchvision's stochastic_depth) -----------------------------


def _drop_path(x: Any, p: float, training: bool) -> Any:
    """Names ``FunctionType``, a class whose ``__code__`` is a descriptor, not code (torchvision's
    ``stochastic_depth`` reaches such names through ``_log_api_usage_once``)."""
    if not isinstance(_drop_path, FunctionType) or p < 0.0:
        raise ValueError(p)
    return x if not training or p == 0.0 else x * torch.empty_like(x).bernoulli_(1 - p) / (1 - p)


class _DropPathBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return x + _drop_path(self.conv(x), 0.2, self.training)


def test_a_forward_calling_a_function_that_names_a_class() -> None:
    """The search for TorchScript functions a forward calls reads only Python functions: a class found among the
    names (``FunctionType.__code__`` is a descriptor) let an AttributeError escape ``plan`` for torchvision's
    EfficientNet, ConvNeXt, Swin and MaxViT."""
    H = convcalc.symbols("H")
    for model in (torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), _DropPathBlock()).eval(), _DropPathBlock().eval()):
        plan = check(model, (2, 3, 9, 9))
        assert plan is not None
        assert not plan.fallback_rows
        assert convcalc.plan(model, (2, 3, H, H)).output_shape == (2, 3, H, H)


def test_a_fault_of_the_reader_is_a_convcalc_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong inside the reader, ``plan`` raises a ``ConvCalcError`` that names the module and what
    it met, with the original exception as its cause."""
    from convcalc.torch import read

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("'getset_descriptor' object has no attribute 'co_names'")

    monkeypatch.setattr(read, "_shapes_tree", broken)
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(_DropPathBlock(), (2, 3, 9, 9))
    assert str(caught.value).startswith(
        "<model> (_DropPathBlock): convcalc failed while reading this model (AttributeError: 'getset_descriptor'"
    )
    assert "input_shape=(2, 3, 9, 9)" in str(caught.value)
    assert isinstance(caught.value.__cause__, AttributeError)


def test_a_fault_of_the_reader_while_it_reads_a_forward_is_a_convcalc_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault while a forward is read (before anything is planned) is a ``ConvCalcError`` too: a NameError
    escaped ``plan`` from there."""
    from convcalc.torch import read

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise NameError("name 'types' is not defined")

    class Unread(torch.nn.Module):  # (a class of its own: no read of it is kept from another test)
        def forward(self, x: Any) -> Any:
            return x + 1

    monkeypatch.setattr(read, "_node_of", broken)
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(Unread(), (2, 3, 9, 9))
    assert str(caught.value).startswith(
        "<model> (Unread): convcalc failed while reading this model (NameError: name 'types' is not defined)"
    )
    assert isinstance(caught.value.__cause__, NameError)


_NUMPY_NAMED: dict[str, Callable[[Any], Any]] = {
    "mean-keepdims": lambda x: x.mean([2, 3], keepdims=True),
    "sum-axis-keepdims": lambda x: torch.sum(x, axis=(2, 3), keepdims=True),
    "amax": lambda x: x.amax(axis=1, keepdims=True),
    "argmax": lambda x: x.argmax(axis=1, keepdims=True),
    "std_mean": lambda x: torch.std_mean(x, axis=1, keepdims=True)[0],
    "max-pair": lambda x: x.max(axis=1, keepdims=True).values,
    "var": lambda x: torch.var(x, axis=1, keepdims=True),
    "logsumexp": lambda x: torch.logsumexp(x, axis=1, keepdims=True),
    "nanmedian": lambda x: torch.nanmedian(x, axis=1, keepdims=True)[0],
    "any": lambda x: (x > 0).any(axis=1, keepdims=True),
    "chunk": lambda x: torch.chunk(x, 2, axis=3)[0],
    "unbind": lambda x: torch.unbind(x, axis=1)[0],
    "tensor_split": lambda x: torch.tensor_split(x, 2, axis=1)[0],
    "cat": lambda x: torch.cat([x, x], axis=1),
    "both-names": lambda x: x.sum(dim=1, keepdim=True),
    # functions torch writes in Python take their own names only: torch raises TypeError
    "norm-keepdims": lambda x: x.norm(p=2, dim=1, keepdims=True),
    "norm-axis": lambda x: torch.norm(x, axis=1),
}


@pytest.mark.parametrize("name", list(_NUMPY_NAMED))
def test_numpy_names_of_native_arguments_are_torch_s(name: str) -> None:
    """torch's argument parser takes numpy's ``axis`` and ``keepdims`` for ``dim`` and ``keepdim`` on its native
    functions and methods (rosinality's StyleGAN2: ``stddev.mean([2, 3, 4], keepdims=True)``): the reduced axes
    are kept, and the axis named is the one split or joined; convcalc dropped them, without an error."""
    check(Forward(lambda m, x: _NUMPY_NAMED[name](x)), (2, 3, 4, 6))


_Y = torch.zeros(3, 1)  # broadcast against the input (2, 1, 4): (2, 3, 4)

_SPELLINGS: dict[str, Callable[[Any], Any]] = {
    # numpy's names of input and other, which torch's parser takes where the operator has no such argument
    "add-x2": lambda x: torch.add(x, x2=_Y),
    "mul-method-x2": lambda x: x.mul(x2=_Y),
    "add-a": lambda x: torch.add(a=_Y, other=x),
    "where-x2": lambda x: torch.where(x > 0, x, x2=_Y),
    "matmul-x1-x2": lambda x: torch.matmul(x1=x, x2=torch.zeros(4, 5)),
    "cosine-similarity-own-names": lambda x: F.cosine_similarity(x1=x, x2=_Y, dim=-1),
    # an operand or axis by its own name
    "pow-exponent": lambda x: torch.pow(x, exponent=_Y),
    "pow-method-exponent": lambda x: x.pow(exponent=_Y),
    "swapaxes-axis": lambda x: torch.swapaxes(x, axis0=0, axis1=2),
    "swapaxes-method-axis": lambda x: x.swapaxes(axis0=2, axis1=1),
    "swapdims-dim": lambda x: torch.swapdims(x, dim0=0, dim1=2),
    "repeat-repeats": lambda x: x.repeat(repeats=(1, 2, 3)),
    "tensor-split-sections": lambda x: torch.tensor_split(x, sections=2, dim=2)[1],
    "tensor-split-indices": lambda x: torch.tensor_split(x, indices=[1, 3], dim=2)[1],
    # out= of a pair: each tensor given takes its part's shape
    "max-out-pair": lambda x: _out_pair(lambda v, i: torch.max(x, 2, out=(v, i)))[0],
    "topk-out-pair": lambda x: _out_pair(lambda v, i: torch.topk(x, 2, out=(v, i)))[1],
    "sort-out-pair": lambda x: _out_pair(lambda v, i: torch.sort(x, 0, out=(v, i)))[0],
    # refused by torch: planned by convcalc until now
    "transpose-one-dim": lambda x: x.transpose(dim1=2),
    "view-shape": lambda x: x.view(shape=(8,)),
    "squeeze-dims": lambda x: x.squeeze(dims=1),
    "split-axis": lambda x: x.split(2, axis=2)[0],
    "roll-axis": lambda x: torch.roll(x, 1, axis=1),
    "tril-k": lambda x: torch.tril(x[0], k=1),
    "repeat-sizes": lambda x: x.repeat(sizes=(1, 2, 3)),
    "sum-repeated-dim": lambda x: torch.sum(x, (1, -2)),
    "std-mean-method": lambda x: x.std_mean(1),
    "norm-keepdims": lambda x: x.norm(dim=1, keepdims=True),
    # one item for every axis
    "conv2d-stride-list": lambda x: F.conv2d(x[None], torch.ones(4, 2, 3, 3), stride=[2], padding=[1]),
    "conv-module-stride-1-tuple": lambda x: torch.nn.Conv2d(2, 4, 3, stride=(2,), padding=(1,))(x[None]),
    "pool-kernel-1-tuple": lambda x: torch.nn.MaxPool2d((2,))(x[None]),
    "conv-kernel-1-tuple": lambda x: torch.nn.Conv2d(2, 4, (3,))(x[None]),  # torch: its weight is 3-D
}


def _out_pair(call: Callable[[Any, Any], Any]) -> tuple[Any, Any]:
    values, indices = torch.zeros(7), torch.zeros(7, dtype=torch.long)
    call(values, indices)
    return values, indices


@pytest.mark.parametrize("name", list(_SPELLINGS))
@pytest.mark.parametrize("shape", [(2, 1, 4), (2, 3, 4)])
def test_every_spelling_of_an_operation_is_read_as_torch_binds_it(name: str, shape: tuple[int, ...]) -> None:
    """An argument by its other legal names (numpy's ``x2=``, pow's ``exponent=``, swapaxes' ``axis0=``, a
    pair given to ``out=``) was passed over without an error, and a keyword torch refuses was planned: each is
    bound as torch binds it now, or torch's own pass decides."""
    check(Forward(lambda m, x: _SPELLINGS[name](x)), shape)


def _written(call: Callable[[Any], Any], use: Callable[[Any], Any], made: Any = None) -> Any:
    buffer = torch.zeros(2, 3) if made is None else made
    call(buffer)
    return use(buffer)


_WRITTEN_THEN_USED: dict[str, Callable[[Any], Any]] = {
    # fx computed the use on the tensor as it was made (2 x 3), not as torch wrote it
    "add-then-scaled": lambda x: _written(lambda v: torch.add(x, 1, out=v), lambda v: v * 2),
    "cat-then-viewed": lambda x: _written(
        lambda v: torch.cat([x, x], 1, out=v), lambda v: v.view(-1), made=torch.empty(0)
    ),
    "mul-then-shape": lambda x: _written(lambda v: torch.mul(x, x, out=v), lambda v: torch.zeros(v.shape)),
    "max-pair-then-summed": lambda x: _out_pair(lambda v, i: torch.max(x, 2, out=(v, i)))[0].sum(0),
    # a use beside a traced value is recorded, and reads the tensor as written
    "add-then-added": lambda x: _written(lambda v: torch.add(x, 1, out=v), lambda v: x + v),
}


@pytest.mark.parametrize("name", list(_WRITTEN_THEN_USED))
@pytest.mark.parametrize("shape", [(2, 3), (2, 1, 4)])
def test_a_tensor_written_by_out_is_used_as_torch_wrote_it(name: str, shape: tuple[int, ...]) -> None:
    """A tensor the forward made from numbers and gave a traced call as ``out=`` was used after as it was made:
    ``v * 2`` of ``torch.add(x, 1, out=v)`` gave v's first shape (2, 3) where torch gives x's."""
    check(Forward(lambda m, x: _WRITTEN_THEN_USED[name](x)), shape)


def _and_into(x: Any, y: Any) -> Any:
    x &= y
    return x


def _or_into(x: Any, y: Any) -> Any:
    x |= y
    return x


def _xor_into(x: Any, y: Any) -> Any:
    x ^= y
    return x


def _lshift_into(x: Any, y: Any) -> Any:
    x <<= y
    return x


def _rshift_into(x: Any, y: Any) -> Any:
    x >>= y
    return x


def _pow_into(x: Any, y: Any) -> Any:
    x **= y
    return x


def _floordiv_into(x: Any, y: Any) -> Any:
    x //= y
    return x


def _mod_into(x: Any, y: Any) -> Any:
    x %= y
    return x


def _matmul_into(x: Any, y: Any) -> Any:
    x @= y  # (a tensor has no ``__imatmul__``: Python runs ``x = x @ y``)
    return x


_BITS_INTO = {"&=": _and_into, "|=": _or_into, "^=": _xor_into, "<<=": _lshift_into, ">>=": _rshift_into}
_NUMBERS_INTO = {"**=": _pow_into, "//=": _floordiv_into, "%=": _mod_into, "@=": _matmul_into}


@pytest.mark.parametrize("name", [*_BITS_INTO, *_NUMBERS_INTO])
@pytest.mark.parametrize("into_part", [True, False])
def test_every_augmented_assignment_writes_into_its_first_operand(name: str, into_part: bool) -> None:
    """``m &= k`` (and ``^=``, ``<<=``, ``**=``, ``//=``, ``%=``) were read as ``m & k``, which broadcasts:
    planned where torch refuses to write a (3, 4) result into a (4,) tensor; ``a @= b`` is ``a = a @ b``."""
    bits = name in _BITS_INTO
    into = {**_BITS_INTO, **_NUMBERS_INTO}[name]

    def function(self: Any, x: Any) -> Any:
        whole = (x > 0).long() if bits else x + 2
        part = (x[0] > 0).long() if bits else x[0] + 2
        return into(part.clone(), whole) if into_part else into(whole.clone(), part)

    check(Forward(function), (3, 4))


@pytest.mark.parametrize("op", [operator.and_, operator.or_, operator.xor])
def test_a_bitwise_operator_broadcasts_as_any_other(op: Callable[[Any, Any], Any]) -> None:
    """``result = result & mask(...)`` (Hugging Face's ``and_masks``, from ``new_ones(())``) was read as written
    into its first operand of shape (), and refused where torch broadcasts."""
    model = Forward(lambda m, x: op(x.new_ones((), dtype=torch.bool), x > 0))
    plan = check(model, (2, 3, 4))
    assert plan is not None
    assert not plan.fallback_rows


class _SkippedMask(torch.nn.Module):
    """Hugging Face's masks: a mask of no padding is dropped (``mask.all()``, a branch on values), except while
    fx traces (``is_tracing(mask)``, an ``isinstance`` of ``torch.fx.Proxy``), where it is kept: the same shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, x: Any, attention_mask: Any) -> Any:
        mask = attention_mask.bool()[:, None, None, :]
        if not isinstance(mask, torch.fx.Proxy) and mask.all():
            mask = None
        q = self.proj(x)
        return F.scaled_dot_product_attention(q, q, q, attn_mask=mask)


def test_a_forward_that_asks_whether_fx_traces_it_is_told_so() -> None:
    """convcalc answered ``isinstance(value, torch.fx.Proxy)`` by what the value will be (a tensor): the check
    before a branch on the mask's values said no trace, and BERT given an ``attention_mask`` was refused."""
    inputs = {"x": (2, 4, 16, 8), "attention_mask": (2, 16)}
    model = _SkippedMask()
    plan = convcalc.plan(model, inputs)
    assert not plan.fallback_rows
    for mask in (torch.ones(2, 16), torch.tensor([[1.0] * 10 + [0.0] * 6] * 2)):
        assert plan.output_shape == tuple(model(torch.randn(2, 4, 16, 8), mask).shape)
    assert plan.total_params == sum(p.numel() for p in model.parameters())


# --- torch._assert (torchvision's VisionTransformer) ---------------------------------------------------------------


class _TinyViT(torch.nn.Module):
    """torchvision's ViT input path at a small size: ``torch._assert`` on the image size, patches by a strided
    convolution, a class token, a learned position embedding added (which fixes the number of patches)."""

    def __init__(self, image_size: int | None = 32, patch: int = 8, dim: int = 12) -> None:
        super().__init__()
        self.image_size, self.patch = image_size, patch
        self.conv_proj = torch.nn.Conv2d(3, dim, patch, stride=patch)
        self.class_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = torch.nn.Parameter(torch.zeros(1, (32 // patch) ** 2 + 1, dim))
        self.head = torch.nn.Linear(dim, 5)

    def forward(self, x: Any) -> Any:
        n, _, h, w = x.shape
        if self.image_size is not None:
            torch._assert(h == self.image_size, f"Wrong image height! Expected {self.image_size} but got {h}!")
            torch._assert(w == self.image_size, f"Wrong image width! Expected {self.image_size} but got {w}!")
        x = self.conv_proj(x).reshape(n, -1, (h // self.patch) * (w // self.patch)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos_embedding
        return self.head(x[:, 0])


def test_torch_assert_is_an_assert_on_the_sizes() -> None:
    """``torch._assert(h == 224, ...)`` was refused (the whole ViT went to torch's machinery, no symbols): it is
    an assert, checked on the sizes, with the user's message formatted with the planned values; symbolic, a
    constraint the solver reads."""
    model = _TinyViT().eval()
    plan = check(model, (2, 3, 32, 32))
    assert plan is not None
    assert not plan.fallback_rows
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(model, (2, 3, 24, 32))
    assert check(model, (2, 3, 24, 32)) is None  # torch raises too
    assert str(caught.value) == (
        "<model> (_TinyViT): an assert in its forward fails for these input sizes (a condition on sizes is False, "
        "so torch raises AssertionError: Wrong image height! Expected 32 but got 24!). Received: condition=False"
    )
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (2, 3, H, W))
    assert symbolic.output_shape == (2, 5)
    assert str(symbolic.valid_sizes()) == "(H, W) in {(32, 32)}"


def test_a_broadcast_that_fixes_a_product_of_sizes_is_solved() -> None:
    """Without the asserts the position embedding (17 tokens) fixes ``floor(H/8) * floor(W/8) == 16``: a tie of
    two symbols with a constant term, which the solver refused; its points are the sizes torch runs."""
    model = _TinyViT(image_size=None).eval()
    H, W = convcalc.symbols("H W")
    solution = convcalc.plan(model, (1, 3, H, W)).valid_sizes()
    points = set(solution.points)
    assert len(points) == 5 * 8 * 8  # floor pairs (1, 16), (2, 8), (4, 4), (8, 2), (16, 1), eight sizes each
    for h in range(8, 140, 3):
        for w in (8, 17, 33, 40, 71, 128, 135):
            assert (torch_outcome(model, (1, 3, h, w)) is not None) == ((h, w) in points), (h, w)


# --- three-tensor point-wise operations (ConvNeXt-V2's GlobalResponseNorm) ----------------------------------------


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: torch.addcmul(self.beta, self.gamma, x),
        lambda self, x: torch.addcmul(x, x.mean(1, keepdim=True), self.gamma, value=0.5),
        lambda self, x: x.addcdiv(x.mean((2, 3), keepdim=True), x.abs() + 1),
        lambda self, x: torch.addcmul(input=x, tensor1=self.gamma, tensor2=x.sum(-1, keepdim=True)),
        lambda self, x: torch.lerp(x, x.flip(1), 0.25),
        lambda self, x: x.lerp(self.beta, x.sigmoid()),
        lambda self, x: torch.addcmul(x, self.gamma.view(1, 1, 5, 1), x[:, :1]),
    ],
)
@pytest.mark.parametrize("shape", [(2, 4, 5, 5), (1, 4, 5, 1)])
def test_three_tensor_pointwise_operations_broadcast(function: Any, shape: tuple[int, ...]) -> None:
    model = Forward(function)
    model.gamma = torch.nn.Parameter(torch.ones(1, 4, 1, 1))
    model.beta = torch.nn.Parameter(torch.zeros(1, 4, 1, 1))
    check(model, shape)


# --- indexing by a module's index buffer (Swin's relative position bias) ------------------------------------------


class _RelativeBias(torch.nn.Module):
    """torchvision's and timm's Swin: a table of biases indexed by an integer buffer of positions, viewed into a
    (heads, N, N) bias added to the attention logits; ``zero_`` and ``fill_`` in place as Swin-V2 uses them."""

    def __init__(self, window: int = 3, heads: int = 2, flat: bool = True) -> None:
        super().__init__()
        self.window, self.flat = window, flat
        self.table = torch.nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        index = relative[..., 0] * (2 * window - 1) + relative[..., 1]
        self.register_buffer("index", index.flatten() if flat else index)
        self.register_buffer("mask", torch.ones(window * window, dtype=torch.bool))
        self.proj = torch.nn.Linear(heads, heads)

    def forward(self, x: Any) -> Any:
        n = self.window * self.window
        index = self.index if self.flat else self.index.view(-1)
        bias = self.table[index].view(n, n, -1).permute(2, 0, 1).contiguous()
        logits = x @ x.transpose(-2, -1) + bias.unsqueeze(0)
        logits[:, :, 0].zero_()
        return self.proj(logits.softmax(-1).fill_(0.5).mean(-1).transpose(1, 2))


@pytest.mark.parametrize("flat", [True, False])
@pytest.mark.parametrize("shape", [(2, 2, 9, 4), (1, 2, 9, 1), (2, 2, 8, 4), (2, 1, 9, 4)])
def test_a_table_indexed_by_an_integer_buffer(flat: bool, shape: tuple[int, ...]) -> None:
    plan = check(_RelativeBias(flat=flat), shape)
    if plan is not None:
        assert not plan.fallback_rows


def test_a_float_or_bool_tensor_as_an_index_is_refused() -> None:
    """A mask's True count is data, and a float tensor is no index: convcalc plans neither."""
    masked = Forward(lambda self, x: x[:, self.mask].sum(1))
    masked.register_buffer("mask", torch.tensor([True, False, True, True]))
    with pytest.raises(convcalc.SpecError, match=r"indexing with ints, .*index='a tensor of shape \(4,\)'"):
        convcalc.plan(masked, (2, 4, 3))
    # torch's machinery cannot run it without data either (a boolean index on the meta device): refused, named
    with pytest.raises(convcalc.SpecError, match=r"^1.getitem \(getitem\): convcalc follows indexing"):
        convcalc.plan(torch.nn.Sequential(torch.nn.Identity(), masked), (2, 4, 3))
    weighted = Forward(lambda self, x: x[self.weights])
    weighted.register_buffer("weights", torch.ones(3))
    assert check(weighted, (5, 2)) is None


# --- a forward that caches into a dict of its module (timm's EfficientFormer) -------------------------------------


class _CachedBias(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.biases = torch.nn.Parameter(torch.zeros(2, 5))
        self.register_buffer("idx", torch.arange(4).view(2, 2) % 5, persistent=False)
        self.cache: dict[str, Any] = {}
        self.seen: list[Any] = []

    def forward(self, x: Any) -> Any:
        key = str(x.device)
        self.seen.append(key)
        if key not in self.cache:
            self.cache[key] = self.biases[:, self.idx]
        return x + self.cache[key]


def test_a_forward_that_caches_into_its_module_leaves_it_as_it_was() -> None:
    """The cache filled while tracing held a traced value in the user's module; the next plan read it from
    there and failed (a KeyError, now a fault message): every plan reads the forward with its own copies."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), _CachedBias()).eval()
    for _ in range(3):
        assert check(model, (1, 3, 2, 2)) is not None
    assert list(model[1].cache) == ["cpu"]  # only torch's own forwards (in check) filled it
    assert model[1].seen == ["cpu"] * 3


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.conv.to(x)(x),  # julius' ``ResampleFrac(...).to(x)``, in Demucs
        lambda self, x: self.conv.to(x.device, x.dtype)(x),
        lambda self, x: self.conv.float()(x),
        lambda self, x: self.conv.requires_grad_(False)(x),
    ],
)
def test_a_forward_that_moves_or_freezes_a_child_leaves_the_model_as_it_was(function: Any) -> None:
    """``self.conv.to(x)`` while tracing set traced values in place of the user's parameters: the plan failed
    with a RuntimeError that no ConvCalcError wraps, and the model itself no longer ran."""
    model = Forward(function, conv=torch.nn.Conv1d(2, 3, 3))
    held = dict(model.named_parameters())
    plan = convcalc.plan(model, (1, 2, 10))
    assert dict(model.named_parameters()) == held
    assert all(type(p) is torch.nn.Parameter and p.requires_grad for p in held.values())
    assert convcalc.plan(model, (1, 2, 10)).trainable_params == plan.trainable_params == 21
    assert plan.output_shapes == torch_outcome(model, (1, 2, 10))  # (torch's own forward may freeze it)


# --- the attention mask of scaled_dot_product_attention (timm's CoAtNet relative position bias) --------------------


@pytest.mark.parametrize(
    ("shape", "mask"),
    [
        ((1, 3, 4, 4), (1, 2, 16, 16)),
        ((1, 3, 3, 4), (1, 2, 16, 16)),  # 12 tokens against a bias made for 16: torch raises, so must convcalc
        ((2, 3, 4, 4), (16, 16)),
        ((2, 3, 4, 4), (2, 1, 16, 16)),
        ((1, 3, 4, 4), (2, 2, 16, 16)),  # a mask with more batch than the weights
        ((1, 3, 4, 4), (1, 2, 16, 1)),
        ((1, 3, 4, 4), (3, 16, 16)),
    ],
)
def test_an_attention_mask_must_broadcast_to_the_weights(shape: tuple[int, ...], mask: tuple[int, ...]) -> None:
    def attend(self: Any, x: Any) -> Any:
        q = self.qkv(x).flatten(2).view(x.shape[0], 2, 6, -1).transpose(-2, -1)
        return F.scaled_dot_product_attention(q, q, q, attn_mask=self.bias)

    model = Forward(attend, qkv=torch.nn.Conv2d(3, 12, 1)).eval()
    model.bias = torch.nn.Parameter(torch.zeros(mask))
    check(model, shape)


# --- a function a library wraps for fx (torchvision's MViT _unsqueeze) ---------------------------------------------


def _as_rank(x: Any, target_dim: int, expand_dim: int) -> Any:
    """torchvision's ``_unsqueeze`` (video MViT): a check on the rank that raises for any other."""
    tensor_dim = x.dim()
    if tensor_dim == target_dim - 1:
        x = x.unsqueeze(expand_dim)
    elif tensor_dim != target_dim:
        raise ValueError(f"Unsupported input dimension {x.shape}")
    return x, tensor_dim


torch.fx.wrap("_as_rank")


class _Video(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 4, (1, 3, 3))

    def forward(self, x: Any) -> Any:
        x, rank = _as_rank(x, 5, 2)
        return self.conv(x).flatten(2).mean(-1) * rank


@pytest.mark.parametrize("shape", [(2, 3, 4, 6, 6), (2, 3, 6, 6), (2, 3, 6)])
def test_a_function_wrapped_for_fx_is_read_by_rule(shape: tuple[int, ...]) -> None:
    """fx records a wrapped function as one call convcalc has no rule for; it is read step by step, each
    condition on the rank decided as for the forward itself (the guess that raises is read the other way)."""
    plan = check(_Video(), shape)
    if plan is not None:
        assert not plan.fallback_rows
        T, H = convcalc.symbols("T H")
        symbolic = (*shape[:2], T, H, H) if len(shape) == 5 else (*shape[:2], H, H)
        assert convcalc.plan(_Video(), symbolic).output_shape == (2, 4)


@pytest.mark.parametrize(
    "pool",
    [
        lambda: torch.nn.MaxPool1d(2, stride=1, padding=1),
        lambda: torch.nn.AvgPool1d(2, padding=1),
        lambda: torch.nn.AvgPool1d(2, padding=1, ceil_mode=True),
        lambda: torch.nn.LPPool1d(2, 1),
    ],
)
def test_a_pool_refuses_an_empty_axis_as_torch_does(pool: Any) -> None:
    """A slice can leave an axis empty; padding alone would make a pool's window fit, but torch's pools refuse an
    empty spatial axis, and so does the plan (a numeric one, and the sizes a symbolic one allows)."""

    class Sliced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = pool()

        def forward(self, x: Any) -> Any:
            return self.pool(x[:, :, 1:])

    model = Sliced()
    with pytest.raises(RuntimeError):
        model(torch.zeros(1, 1, 1))
    # (an empty input the padding covers is refused as empty; one it does not, by the window's own check)
    with pytest.raises(convcalc.ShapeError, match=r"spatial axis 0"):
        convcalc.plan(model, (1, 1, 1))
    L = convcalc.symbols("L")
    sizes = convcalc.plan(model, (1, 1, L)).valid_sizes(L)
    for n in range(1, 8):
        try:
            expected = model(torch.zeros(1, 1, n)).shape
        except RuntimeError:
            assert n not in sizes
        else:
            assert n in sizes
            assert convcalc.plan(model, (1, 1, n)).output_shape == tuple(expected)


# --- a global pool written with a window pool: the kernel is the input's own sizes ----------------------------------

_WHOLE_AXES_POOLS = {
    "avg_pool2d(x, x.size()[2:])": lambda self, x: F.avg_pool2d(self.conv(x), x.size()[2:]),
    "CBAM's avg_pool2d": lambda self, x: F.avg_pool2d(
        self.conv(x), (x.size(2), x.size(3)), stride=(x.size(2), x.size(3))
    ),
    "max_pool2d(kernel_size=x.shape[2:])": lambda self, x: F.max_pool2d(self.conv(x), kernel_size=x.shape[2:]),
    "lp_pool2d": lambda self, x: F.lp_pool2d(self.conv(x), 2, (x.size(2), x.size(3))),
    "TextCNN's max_pool1d": lambda self, x: F.max_pool1d(y := self.conv1d(x.flatten(2)), y.size(2)).squeeze(2),
    "max_pool2d(return_indices=True)": lambda self, x: F.max_pool2d(self.conv(x), x.shape[2:], return_indices=True)[1],
}


@pytest.mark.parametrize("form", list(_WHOLE_AXES_POOLS))
@pytest.mark.parametrize("macs", ["macs", "torchinfo", "fvcore", "ptflops"])
def test_a_pool_over_the_whole_axes_is_planned_symbolically(form: str, macs: str) -> None:
    """``F.avg_pool2d(x, x.size()[2:])`` (PSPNet, CBAM, TextCNN's ``max_pool1d``): a kernel of the input's own
    sizes pools each axis to one; the symbolic plan gives at every size what the numeric plan and torch give."""
    model = Forward(
        _WHOLE_AXES_POOLS[form],
        conv=torch.nn.Conv2d(3, 4, 3, padding=1),
        conv1d=torch.nn.Conv1d(3, 5, 3),
    )
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (2, 3, H, W), macs=macs)
    for h, w in [(1, 3), (2, 2), (3, 5), (7, 4)]:
        assert check(model, (2, 3, h, w)) is not None
        numeric = convcalc.plan(model, (2, 3, h, w), macs=macs)
        at = {H: h, W: w}
        assert tuple(sympy.sympify(d).subs(at) for d in symbolic.output_shape) == numeric.output_shape
        assert sympy.sympify(symbolic.macs).subs(at) == numeric.macs
        for got, want in zip(symbolic.rows, numeric.rows, strict=True):
            assert (got.name, got.kind) == (want.name, want.kind)
            assert tuple(sympy.sympify(d).subs(at) for d in got.output_shape) == want.output_shape
            fields = [(f.size, f.jump, f.start) for f in got.receptive_field or ()]
            assert [tuple(sympy.sympify(v).subs(at) for v in f) for f in fields] == [
                (f.size, f.jump, f.start) for f in want.receptive_field or ()
            ]


def test_a_kernel_of_the_input_sizes_that_is_not_the_whole_axis_is_refused() -> None:
    """``F.avg_pool2d(x, x.size(3))`` pools an H x W input with a W x W window: ``floor(H / W)`` rows, which no
    closed form of convcalc's holds; a square input is the whole axes, and numbers plan either."""
    model = Forward(lambda self, x: F.avg_pool2d(self.conv(x), x.size(3)), conv=torch.nn.Conv2d(3, 4, 3, padding=1))
    H, W = convcalc.symbols("H W")
    with pytest.raises(convcalc.SpecError, match=r"avg_pool2d.*each spatial axis whole.*kernel_size=W"):
        convcalc.plan(model, (1, 3, H, W))
    assert convcalc.plan(model, (1, 3, H, H)).output_shape == (1, 4, 1, 1)
    assert check(model, (1, 3, 9, 4)).output_shape == (1, 4, 2, 1)  # type: ignore[union-attr]
    padded = Forward(lambda self, x: F.max_pool2d(x, x.shape[2:], padding=1), conv=torch.nn.Identity())
    with pytest.raises(convcalc.SpecError, match=r"max_pool2d.*no padding"):
        convcalc.plan(padded, (1, 3, H, W))


def _centre_crop(s: Any, x: Any) -> Any:
    """The 2015 U-Net's skip: cropped at its centre to the upsampled map's size."""
    u = s.up(s.down(F.max_pool2d(x, (2, 1))))
    d = (x.size(2) - u.size(2)) // 2
    return torch.cat([x[:, :, d : d + u.size(2)], u], 1)


@pytest.mark.parametrize(
    ("function", "children"),
    [
        (lambda s, x: x[:, :, : s.c(x).size(2)], {"c": torch.nn.Conv2d(3, 3, (5, 1), stride=(2, 1))}),
        (lambda s, x: x[:, :, s.c(x).size(2) :], {"c": torch.nn.Conv2d(3, 3, (5, 1), stride=(2, 1))}),
        (lambda s, x: x[:, :, s.c(x).size(2) - 1 : -1], {"c": torch.nn.Conv2d(3, 3, (5, 1), stride=(2, 1))}),
        (
            _centre_crop,
            {"down": torch.nn.Conv2d(3, 3, (3, 1)), "up": torch.nn.ConvTranspose2d(3, 3, (2, 1), stride=(2, 1))},
        ),
    ],
    ids=["head", "tail", "from a size to the end", "centre crop"],
)
def test_a_slice_bound_that_is_a_size_counts_from_the_start(function: Any, children: dict[str, Any]) -> None:
    """A bound sympy cannot prove non-negative (another map's size) was taken as counted from the end: the crop
    ``x[:, :, : y.size(2)]`` came out L + floor((L - 5)/2) + 1 long, and its conditions held nowhere."""
    _sym_agrees(function, (1, 3, "H", 4), range(1, 40), **children)


# --- forms of older and export-minded code ------------------------------------------------------------------------


def _accumulate(self: Any, x: Any) -> Any:
    outs = torch.Tensor()  # the legacy empty accumulator: torch.cat skips a 1-D tensor of 0 elements
    for _ in range(3):
        outs = torch.cat((outs, self.conv(x)), 0)
    return outs


def _accumulate_last(self: Any, x: Any) -> Any:
    return torch.cat([self.conv(x), torch.empty(0), self.conv(x)], dim=-1)


def _only_empty(self: Any, x: Any) -> Any:
    return torch.cat([torch.empty(0), torch.empty(0)]) + x.sum()


def _empty_out_of_range(self: Any, x: Any) -> Any:
    return torch.cat([torch.empty(0), self.conv(x)], 3)  # the dim is checked against the tensors kept


def _when_fx_traces(self: Any, x: Any) -> Any:
    y = self.conv(x)
    if torch.fx._symbolic_trace.is_fx_tracing():  # a path kept for fx export: torch does not take it here
        return y[:, :1]
    return y


@pytest.mark.parametrize("function", [_accumulate, _accumulate_last, _only_empty, _empty_out_of_range, _when_fx_traces])
def test_forms_of_older_and_export_minded_code(function: Any) -> None:
    plan = check(Forward(function, conv=torch.nn.Conv1d(4, 6, 3, padding=1)), (2, 4, 8))
    assert (plan is None) == (function is _empty_out_of_range)


@given(
    rank=st.integers(1, 5),
    moves=st.lists(st.tuples(st.integers(-6, 5), st.integers(-6, 5)), min_size=0, max_size=4),
    form=st.sampled_from(["ints", "tuples", "lists", "keywords", "method"]),
    extra=st.sampled_from([None, "source", "destination"]),
)
def test_movedim_of_dims_and_of_sequences_of_them_is_torchs(
    rank: int, moves: list[tuple[int, int]], form: str, extra: str | None
) -> None:
    shape = tuple(range(2, 2 + rank))
    source, destination = [m[0] for m in moves], [m[1] for m in moves]
    if extra == "source":  # sequences of different lengths
        source.append(0)
    elif extra == "destination":
        destination.append(0)
    if form == "ints" and len(source) == len(destination) == 1:
        src: Any = source[0]
        dst: Any = destination[0]
    else:
        src, dst = (tuple(source), tuple(destination)) if form != "lists" else (source, destination)
    if form == "keywords":
        model = Forward(lambda self, x: torch.movedim(x, source=src, destination=dst))
    elif form == "method":
        model = Forward(lambda self, x: x.movedim(src, dst))
    else:
        model = Forward(lambda self, x: torch.movedim(x, src, dst))
    check(model, shape)


def test_movedim_of_sequences_keeps_its_symbols() -> None:
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(Forward(lambda self, x: torch.movedim(x, (1, 2), (0, 3))), (2, 3, H, W))
    assert plan.output_shape == (3, 2, W, H)


# --- hstack, vstack, dstack; numel of a torch.Size -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["hstack", "vstack", "row_stack", "dstack"])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_the_stacks_of_tensors_made_2_or_3_d_as_torch_makes_them(stack: str, shape: tuple[int, ...]) -> None:
    function = getattr(torch, stack)
    plan = check(Forward(lambda self, x: function([x, x * 2, x[..., :1] if x.dim() > 1 else x])), shape)
    assert plan is None or not plan.fallback_rows


@pytest.mark.parametrize("stack", ["hstack", "vstack", "dstack"])
def test_the_stacks_with_symbols(stack: str) -> None:
    function = getattr(torch, stack)
    _sym_agrees(lambda self, x: function([x, x]), (2, "H", "W"), range(1, 6))


def test_the_count_of_a_torch_size_s_elements() -> None:
    _sym_agrees(lambda self, x: x.reshape(x.size(0), x.size()[1:].numel()), (2, 3, "H", "W"), range(1, 6))


def test_a_cast_by_the_tensor_method_type_is_read_by_rule() -> None:
    # y.type(x.dtype) beside x.float() is a method named type, not the builtin type() of a value
    class SoftmaxInFloat(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return torch.softmax(x.float(), -1).type(x.dtype)

    plan = convcalc.plan(SoftmaxInFloat(), (3, 5))
    assert plan.output_shapes == torch_outcome(SoftmaxInFloat(), (3, 5)) == ((3, 5),)
    assert not plan.fallback_rows
    T = convcalc.symbols("T")
    assert convcalc.plan(SoftmaxInFloat(), (2, T)).output_shape == (2, T)


def test_a_mask_filled_with_the_least_value_of_the_input_s_dtype() -> None:
    # Hugging Face's attention masks: torch.finfo(x.dtype).min asks torch for a dtype, which a traced value's
    # attribute was not (refused with symbols); a plan's tensors are float32, and so is the dtype it reads
    class Masked(torch.nn.Module):
        def forward(self, x: Any, mask: Any) -> Any:
            scores = x @ x.transpose(-1, -2)
            return scores.masked_fill(mask[:, None, :] == 0, torch.finfo(x.dtype).min).softmax(-1)

    T = convcalc.symbols("T")
    plan = convcalc.plan(Masked(), [(2, T, 8), (2, T)])
    assert plan.output_shape == (2, T, T)
    assert not plan.fallback_rows
    assert convcalc.plan(Masked(), [(2, 5, 8), (2, 5)]).output_shape == torch_outcome(Masked(), [(2, 5, 8), (2, 5)])[0]


# --- random draws in a forward: LayerDrop, a random count, a random index ------------------------------------------


class _LayerDrop(torch.nn.Module):
    """An encoder that skips each layer with probability ``layerdrop`` in training, as fairseq and Hugging Face
    write it: ``draw(self)`` is one draw, compared with the probability."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(16, 16) for _ in range(4))
        self.layerdrop = 0.5
        self.draw = draw

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            dropout_probability = self.draw(self)
            if self.training and dropout_probability < self.layerdrop:
                continue
            x = layer(x)
        return x


class _DropList(torch.nn.ModuleList):
    """fairseq's LayerDropModuleList: iterated, it yields each layer unless a draw drops it (in training only)."""

    def __iter__(self) -> Any:
        dropout_probs = torch.empty(len(self)).uniform_()
        for i, m in enumerate(super().__iter__()):
            if not self.training or dropout_probs[i] > 0.5:
                yield m


class _FairseqEncoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = _DropList(torch.nn.Linear(16, 16) for _ in range(4))

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x


_LAYERDROPS = [
    lambda: _LayerDrop(lambda self: torch.rand([])),  # Hugging Face's wav2vec2, Whisper, BART
    lambda: _LayerDrop(lambda self: torch.empty(1).uniform_()),
    lambda: _LayerDrop(lambda self: random.uniform(0, 1)),  # older Hugging Face
    lambda: _LayerDrop(lambda self: np.random.random()),  # older fairseq
    _FairseqEncoder,
]


@pytest.mark.parametrize("make", _LAYERDROPS)
@pytest.mark.parametrize("batch", [2, "B"])
def test_layerdrop_in_training_is_refused_and_read_exactly_in_eval_mode(make: Any, batch: Any) -> None:
    # in training, which layers run is a draw (torch counts 0 to 4 layers from call to call): no plan holds
    model = make().train()
    shape = (convcalc.symbols(batch) if isinstance(batch, str) else batch, 16)
    with pytest.raises(convcalc.SpecError, match=r"draws random numbers .*model\.eval\(\)") as refused:
        convcalc.plan(model, shape)
    assert type(model).__name__ in str(refused.value)
    # in eval mode no layer is skipped: every layer's work, as torch counts it
    model.eval()
    plan = convcalc.plan(model, shape)
    assert plan.macs * 2 == torch_macs(model, [(2, 16)]) == 2 * 4 * 16 * 16
    assert plan.output_shapes == (shape,)
    assert torch_outcome(model, (2, 16)) == ((2, 16),)
    assert not plan.fallback_rows


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.fc(x)[:, : torch.randint(1, 6, (1,)).item()],  # keep a random count of tokens
        lambda self, x: self.fc(x)[:, : int(torch.randint(1, 6, ()))],
        lambda self, x: self.fc(x)[:, : random.randint(1, 5)],
        lambda self, x: self.fc(x).repeat_interleave(torch.randint(1, 3, (x.size(1),)), dim=1),
        lambda self, x: self.fc(x) if torch.normal(0.0, 1.0, (1,)) > 0 else x,
        # fx cannot trace json: torch's meta pass runs it, where the draw is made on the meta device
        lambda self, x: self.fc(x) if torch.rand(1) < 0.5 + 0 * len(json.dumps(list(x.shape))) else x,
        lambda self, x: self.fc(x) if torch.rand(1, device="cpu") < 0.5 + 0 * len(json.dumps(list(x.shape))) else x,
        lambda self, x: self.fc(x)[:, : torch.randint(1, 6, ()) + 0 * len(json.dumps(list(x.shape)))],
    ],
)
@pytest.mark.parametrize("symbolic", [False, True])
def test_a_shape_or_a_branch_a_draw_decides_is_refused(function: Any, symbolic: bool) -> None:
    model = Forward(function, fc=torch.nn.Linear(8, 8))
    outcomes = {(torch_outcome(model, (2, 5, 8)), torch_macs(model, [(2, 5, 8)])) for _ in range(40)}
    assert len(outcomes) > 1  # torch: one shape or count on one call, another on the next
    shape = (2, convcalc.symbols("T") if symbolic else 5, 8)
    with pytest.raises(convcalc.SpecError) as refused:
        convcalc.plan(model, shape)
    # with symbols, a forward fx cannot trace is refused before it runs (torch's meta pass needs numbers)
    assert "draws random numbers" in str(refused.value) or (symbolic and "concrete sizes" in str(refused.value))


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.fc(x) * (torch.rand_like(x) < 0.5),  # a dropout mask: values only
        lambda self, x: self.fc(x) * (torch.rand(x.shape) < 0.5),
        lambda self, x: self.fc(x) * (torch.rand(2, 1, 8) < 0.5),
        lambda self, x: self.fc(x) * x.new_empty(x.shape[0], 1, 1).bernoulli_(0.5),  # timm's drop_path
        lambda self, x: self.fc(x) + torch.normal(x, 0.1) + torch.randn(8) + torch.normal(0.0, 1.0, (1, 8)),
        lambda self, x: self.fc(x) * random.uniform(0.9, 1.1) * np.random.rand(),
        lambda self, x: self.fc(x) * torch.empty(1).uniform_(0.9, 1.1),
    ],
)
@pytest.mark.parametrize("length", [1, 5])
def test_drawn_values_that_decide_nothing_are_planned_exactly(function: Any, length: int) -> None:
    model = Forward(function, fc=torch.nn.Linear(8, 8))
    plan = check(model, (2, length, 8))
    assert plan is not None
    assert not plan.fallback_rows
    assert plan.macs * 2 == torch_macs(model, [(2, length, 8)])
    T = convcalc.symbols("T")
    assert convcalc.plan(model, (2, T, 8)).output_shape == (2, T, 8)


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: self.proj(x).index_select(2, torch.randint(0, 10, (3,))),
        lambda self, x: self.proj(x)[:, :, torch.randint(-4, 3, (5,))],
        lambda self, x: self.proj(x)[:, :, torch.randint(low=1, high=9, size=(2,))],
        lambda self, x: self.proj(x)[:, :, torch.multinomial(torch.ones(12), 3)],  # 3 of 12 positions
        lambda self, x: self.proj(x)[..., torch.ones(2, 7).multinomial(2, replacement=True)],
        lambda self, x: self.proj(x)[..., torch.randperm(6)],
        lambda self, x: self.proj(x)[..., torch.randperm(x.size(2))],
        lambda self, x: self.proj(x)[..., torch.zeros(3, dtype=torch.long).random_(2, 7)],
        lambda self, x: self.proj(x).gather(2, torch.randint_like(x, 0, 8, dtype=torch.long)),
        # torch's meta pass (fx cannot trace json): the drawn index is checked there too
        lambda self, x: self.proj(x)[:, :, torch.randint(0, 9 + 0 * len(json.dumps(list(x.shape))), (3,))],
        lambda self, x: self.proj(x).index_select(2, torch.randint(0, 9 + 0 * len(json.dumps(list(x.shape))), (3,))),
    ],
)
def test_an_index_drawn_at_random_is_checked_against_every_value_it_may_take(function: Any) -> None:
    # torch raises IndexError on some calls where a drawn index may leave the axis: valid_sizes leaves those out
    torch.manual_seed(0)
    model = Forward(function, proj=torch.nn.Conv1d(2, 2, 1))
    T = convcalc.symbols("T")
    planned, refused = plan_or_refusal(model, (2, 2, T))
    assert planned is not None or "concrete sizes" in str(refused)  # (torch's meta pass needs numbers)
    valid = None if planned is None else planned.valid_sizes(T)
    for t in range(1, 14):
        fails = 0
        for _ in range(60):
            try:
                model(torch.randn(2, 2, t))
            except (IndexError, RuntimeError):
                fails += 1
        planned, refused = plan_or_refusal(model, (2, 2, t))
        assert (planned is not None) == (fails == 0), (t, fails, refused)
        if valid is not None:
            assert (t in valid) == (fails == 0), (t, fails, valid)


def test_python_s_random_in_a_forward_is_refused_and_another_thread_draws_as_it_would() -> None:
    seen: list[Any] = []

    def elsewhere() -> None:  # another thread's draws, while the plan reads the forward below
        random.seed(7)
        np.random.seed(7)
        seen.append((random.random(), random.randint(1, 9), np.random.rand(), list(np.random.randint(0, 5, 3))))

    class Augment(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(8, 8)

        def forward(self, x: Any) -> Any:
            other = threading.Thread(target=elsewhere)
            other.start()
            other.join()
            order = [0, 1]
            random.shuffle(order)  # Python's own draws decide the forward: refused
            return self.fc(x) if order[0] else x

    with pytest.raises(convcalc.SpecError, match=r"Augment\): its forward draws random numbers \(random\.shuffle"):
        convcalc.plan(Augment(), (2, 8))
    elsewhere()  # the same draws, with no plan running
    assert len(seen) == 2
    assert seen[0] == seen[1]


# --- a shape unpacked with a starred name, and torch.autograd.Variable (code of PyTorch before 0.4) ---------------


@pytest.mark.parametrize(
    "function",
    [
        # lucidrains' stylegan2 UpBlock: ``*_, h, w = x.shape`` read one item of a rank guessed as 1
        lambda self, x: _starred_resize(self, x),
        lambda self, x: self.conv(x).view(*_leading(x), -1),
        # PyramidNet's shortcut: ``Variable(torch.zeros(...))`` of a traced size was a TypeError of torch's class
        lambda self, x: torch.cat((x, torch.autograd.Variable(torch.zeros(x.size(0), 2, x.size(2), x.size(3)))), 1),
        lambda self, x: torch.autograd.Variable(x, requires_grad=False) * 2,
    ],
)
def test_starred_unpacking_and_variables_are_read_by_rule_with_numbers_and_symbols(function: Any) -> None:
    model = Forward(function, conv=torch.nn.Conv2d(2, 2, 3, 2, 1)).eval()
    for shape in ((1, 2, 6, 7), (2, 2, 5, 4)):
        plan = check(model, shape)
        assert plan is not None
        assert not plan.fallback_rows
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (2, 2, H, W))
    assert not symbolic.fallback_rows
    for h, w in ((6, 7), (5, 4), (9, 9)):
        sizes = {H: h, W: w}
        shape = tuple(int(sympy.sympify(d).subs(sizes)) for d in symbolic.output_shape)
        assert shape == torch_outcome(model, (2, 2, h, w))[0]


def _starred_resize(self: Any, x: Any) -> Any:
    *_, h, w = x.shape
    return F.interpolate(self.conv(x), size=(h, w))


def _leading(x: Any) -> Any:
    b, *rest, _h, _w = x.shape
    return (b, *rest)


class _DropConnectBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Any, drop_connect_rate: Any = None) -> Any:
        if drop_connect_rate:
            x = x * (1 - drop_connect_rate)
        return self.conv(x) + x if drop_connect_rate is not None else self.conv(x)


class _DropConnectNet(torch.nn.Module):
    """EfficientNet-PyTorch's ``extract_features``: each block given a Python float, 0.0 for the first."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList([_DropConnectBlock() for _ in range(3)])

    def forward(self, x: Any) -> Any:
        for i, block in enumerate(self.blocks):
            rate = 0.2 * float(i) / len(self.blocks)
            x = block(x, drop_connect_rate=rate if i < 2 else None)
        return x


def test_a_number_a_parent_hands_its_child_decides_the_child_s_branch() -> None:
    """``if drop_connect_rate:`` of a float the parent gives: the plan took it for a tensor's values, refused it
    with symbols ("branches on a tensor's values (float)") and sent the block to torch's pass with numbers."""
    model = _DropConnectNet().eval()
    plan = check(model, (1, 3, 8, 8))
    assert plan is not None
    assert not plan.fallback_rows
    H = convcalc.symbols("H")
    assert convcalc.plan(model, (1, 3, H, 8)).output_shape == (1, 3, H, 8)


@pytest.mark.parametrize(
    "function",
    [
        # julius' ``resample_frac``: ``torch.as_tensor`` of a float of sizes, floored and sliced by
        lambda self, x: x[..., : torch.floor(torch.as_tensor(2 * x.shape[-1] / 1)).long() // 3],
        lambda self, x: x[..., : torch.as_tensor(x.shape[-1] // 2)],
        lambda self, x: torch.as_tensor(x) * 2,
        lambda self, x: torch.as_tensor(x, dtype=torch.float64).sum(-1),
    ],
)
def test_as_tensor_is_read_as_torch_tensor_of_sizes_or_the_tensor_itself(function: Any) -> None:
    model = Forward(function)
    for shape in ((1, 2, 10), (2, 3, 7)):
        plan = check(model, shape)
        assert plan is not None
        assert not plan.fallback_rows
    L = convcalc.symbols("L")
    symbolic = convcalc.plan(model, (1, 2, L))
    for length in (5, 9, 12):
        shape = tuple(int(sympy.sympify(d).subs({L: length})) for d in symbolic.output_shape)
        assert shape == torch_outcome(model, (1, 2, length))[0]


def test_a_child_moved_to_the_input_s_device_is_read_by_rule_with_symbols() -> None:
    """``self.conv.to(x)(x)`` (julius' resampler in Demucs): torch refused the traced value as a device, and the
    plan with symbols was refused; a move changes no shape, and the child is read as it is."""
    model = Forward(lambda self, x: self.conv.to(x)(x), conv=torch.nn.Conv1d(2, 3, 3))
    L = convcalc.symbols("L")
    plan = convcalc.plan(model, (1, 2, L))
    assert plan.output_shape == (1, 3, L - 2)
    assert not plan.fallback_rows
    assert type(model.conv.weight) is torch.nn.Parameter


class _Embedded(torch.nn.Module):
    """pytorch-tcn's ``TemporalBlock.forward(x, embeddings)``: no default, given None, and a branch for a given
    one that checks its shape first."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(3, 4, 3)

    def forward(self, x: Any, embeddings: Any) -> Any:
        if embeddings is not None:
            if embeddings.shape[1] != 4:
                raise ValueError("embeddings must have 4 channels")
            return self.conv(x) + embeddings
        return self.conv(x)


@pytest.mark.parametrize("embeddings", [None, (1, 4, 1), (1, 5, 1)])
def test_an_input_with_no_default_given_none_is_read_as_none(embeddings: Any) -> None:
    """A read with the input as a tensor raised (a shape no plan gave), and the module went to torch's pass with
    numbers and was refused with symbols: it is read as the None it is given, and as a tensor where one comes."""
    model = _Embedded().eval()
    inputs = {"x": (1, 3, 9), "embeddings": embeddings}
    given = {k: None if v is None else torch.zeros(v) for k, v in inputs.items()}
    try:
        with torch.no_grad():
            expected = tuple(model(**given).shape)
    except ValueError:
        with pytest.raises(convcalc.ConvCalcError):
            convcalc.plan(model, inputs)
        return
    plan = convcalc.plan(model, inputs)
    assert plan.output_shape == expected
    assert not plan.fallback_rows
    L = convcalc.symbols("L")
    assert convcalc.plan(model, {"x": (1, 3, L), "embeddings": None}).output_shape == (1, 4, L - 2)


class _CausalConv1d(torch.nn.Conv1d):
    """pytorch-tcn's ``TemporalConv1d``: a Conv1d subclass that pads on the left, then runs Conv1d's forward."""

    def forward(self, x: Any) -> Any:
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


def test_a_layer_subclass_under_weight_norm_is_read_with_symbols() -> None:
    """The parametrized class refuses to be copied ("only supported through state_dict()"), and the read that
    copies a module to trace it failed: refused with symbols, torch's pass with numbers."""
    model = torch.nn.utils.parametrizations.weight_norm(_CausalConv1d(3, 4, 3))
    plan = check(model, (1, 3, 20))
    assert plan is not None
    L = convcalc.symbols("L")
    assert convcalc.plan(model, (1, 3, L)).output_shape == (1, 4, L)


@pytest.mark.parametrize(
    "function",
    [
        lambda self, x: torch.as_tensor(x.transpose(1, 2), dtype=torch.float64).view(-1),  # torch: not viewable
        lambda self, x: torch.as_tensor(x.transpose(1, 2), device="cpu").view(-1),
        lambda self, x: self.conv.to((x > 0).long())(x),  # torch: a module moves to floats only
        lambda self, x: self.conv.to(x > 0)(x),
        lambda self, x: self.conv.to(x, dtype=torch.long)(x),
    ],
)
def test_as_tensor_and_module_moves_keep_what_torch_checks(function: Any) -> None:
    """``torch.as_tensor(t, dtype=...)`` made a new tensor without ``t``'s strides (a view planned where torch
    refuses it), and ``module.to(<integers or bools>)`` returned the module (planned where torch raises)."""
    model = Forward(function, conv=torch.nn.Conv1d(3, 3, 1))
    assert torch_outcome(model, (2, 3, 4)) is None
    with pytest.raises(convcalc.ConvCalcError):
        convcalc.plan(model, (2, 3, 4))
