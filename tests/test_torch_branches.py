"""A condition of symbolic sizes a plan cannot decide, read both ways (``convcalc/torch/branches.py``).

Hugging Face's attention asks ``query.shape[2] > 1`` before it decides ``is_causal`` (False for an encoder either
way), diffusers' upsampling asks whether a tensor has more than 2**31 elements before ``.contiguous()``: a plan
with symbols was refused for a branch that changes nothing. Each is read and planned both ways now, and where the
two plans are the same the plan holds for every size; where they differ, the refusal stands. Every plan is
compared with the real forward at numbers.
"""

from __future__ import annotations

from typing import Any

import pytest
import sympy

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convcalc  # noqa: E402


class EncoderAttention(torch.nn.Module):
    """Hugging Face's ``sdpa_attention_forward``: ``is_causal`` asked of the query length first."""

    def __init__(self, causal: bool = False) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)
        self.is_causal = causal

    def forward(self, x: Any, mask: Any = None) -> Any:
        q, k, v = self.qkv(x).unflatten(-1, (3, 2, 4)).permute(2, 0, 3, 1, 4)
        is_causal = q.shape[2] > 1 and mask is None and self.is_causal
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)


class LargeContiguous(torch.nn.Module):
    """diffusers' ``Upsample2D``: made contiguous before interpolating where the output would pass 2**31 elements
    (a branch of memory layout only), then a convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Any) -> Any:
        if x.numel() * 4 > 2**31:
            x = x.contiguous()
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TwoConditions(torch.nn.Module):
    """Two undecided conditions, one inside the other's plan, neither changing anything."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, x: Any) -> Any:
        scale = 0.5 if x.shape[1] > 3 else 1 / 2
        if x.shape[1] < 7:
            scale = scale * 1
        return self.proj(x) * scale


class Truncated(torch.nn.Module):
    """A branch that changes the shape: the plans differ."""

    def forward(self, x: Any) -> Any:
        if x.shape[1] > 4:
            x = x[:, :4]
        return x


class OtherLayer(torch.nn.Module):
    """A branch that calls another layer of the same shape: the rows differ."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = torch.nn.Linear(8, 8)
        self.plain = torch.nn.Linear(8, 8, bias=False)

    def forward(self, x: Any) -> Any:
        return self.wide(x) if x.shape[1] > 3 else self.plain(x)


def _torch_shape(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        with torch.no_grad():
            return tuple(model(torch.randn(*shape)).shape)
    except RuntimeError:
        return None


def _at(plan: convcalc.Plan, sizes: dict[str, int]) -> tuple[tuple[int, ...] | None, Any]:
    """The symbolic plan's output shape and MACs at ``sizes``, or None where its constraints do not hold."""
    if not all(c.holds(sizes) for c in plan.constraints):
        return None, None

    def at(value: Any) -> int:
        expression = sympy.sympify(value)
        return int(expression.subs({s: sizes[str(s)] for s in expression.free_symbols}))

    return tuple(at(d) for d in plan.output_shape), at(plan.macs)


@pytest.mark.parametrize(
    ("factory", "symbolic", "numeric"),
    [
        pytest.param(EncoderAttention, lambda n: (2, n, 8), range(1, 13), id="encoder-attention"),
        pytest.param(lambda: EncoderAttention(True), lambda n: (2, n, 8), range(1, 13), id="causal-attention"),
        pytest.param(LargeContiguous, lambda n: (1, 3, n, n), range(1, 9), id="large-contiguous"),
        pytest.param(TwoConditions, lambda n: (2, n, 8), range(1, 10), id="two-conditions"),
    ],
)
def test_a_condition_that_changes_nothing_leaves_a_plan_for_every_size(
    factory: Any, symbolic: Any, numeric: Any
) -> None:
    """The symbolic plan is made (it was refused), with no constraint from the condition, and at each size it
    gives the real forward's shape and the numeric plan's MACs, on both sides of the condition."""
    model = factory().eval()
    n = convcalc.symbols("n")
    plan = convcalc.plan(model, symbolic(n))
    assert not plan.fallback_rows
    assert not any("assert" in c.reason for c in plan.constraints)
    for size in numeric:
        shape, macs = _at(plan, {"n": size})
        assert shape == _torch_shape(model, symbolic(size))
        assert macs == convcalc.plan(model, symbolic(size)).macs


@pytest.mark.parametrize("factory", [Truncated, OtherLayer])
def test_a_condition_whose_branches_differ_is_refused_with_symbols_and_planned_with_numbers(factory: Any) -> None:
    model = factory().eval()
    n = convcalc.symbols("n")
    with pytest.raises(convcalc.SpecError, match=r"cannot read both branches to one plan; plan with numbers"):
        convcalc.plan(model, (2, n, 8))
    for size in (2, 3, 4, 5, 6):
        plan = convcalc.plan(model, (2, size, 8))
        assert plan.output_shape == _torch_shape(model, (2, size, 8))
        assert plan.total_params == sum(p.numel() for p in model.parameters())


def test_a_plan_read_both_ways_leaves_no_assumption_behind() -> None:
    """The plan after one read both ways is as one read once: a second plan of the same model, and a plan of
    another, keep no constraint of the first."""
    n = convcalc.symbols("n")
    first = convcalc.plan(EncoderAttention(), (2, n, 8))
    again = convcalc.plan(EncoderAttention(), (2, n, 8))
    assert first.constraints == again.constraints == ()
    assert convcalc.plan(torch.nn.Linear(8, 4), (2, n, 8)).constraints == ()


class _Amount(torch.nn.Module):
    """A size computed each way: ``w - 4`` above 4, ``w`` else, as a tensor of one value."""

    def forward(self, x: Any) -> Any:
        w = x.shape[-1]
        return torch.tensor([w - 4]) if w > 4 else torch.tensor([w])


class SizeEachWay(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.amount = _Amount()

    def forward(self, x: Any) -> Any:
        return x.new_zeros(1, self.amount(x).item())


class FieldEachWay(torch.nn.Module):
    """The same rows each way, but the output is the convolution's above 4 and the input below."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        return y if x.shape[-1] > 4 else x


class _WritesThenBranches(torch.nn.Module):
    def forward(self, x: Any, a: Any) -> Any:
        a.add_(1)
        return x.relu() if x.shape[-1] > 1 else F.relu(x)


class WriteReadTwice(torch.nn.Module):
    """A child that writes into its caller's integers, then branches on an undecided size: each read must write
    once (the positions reach -1, which torch refuses at every size)."""

    def __init__(self) -> None:
        super().__init__()
        self.child = _WritesThenBranches()
        self.emb = torch.nn.Embedding(16, 4)

    def forward(self, x: Any) -> Any:
        a = torch.arange(x.shape[-1]) + 10
        y = self.child(x, a)
        return y.sum(-1, keepdim=True) + self.emb(a - 12).sum()


class BufferAfterWrite(torch.nn.Module):
    """A buffer of positions read before a write into another integer buffer, then an undecided branch: the
    index past the table is refused at every size."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pos", torch.arange(16))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.emb = torch.nn.Embedding(16, 4)

    def forward(self, x: Any) -> Any:
        p = self.pos
        self.calls.add_(1)
        y = x.relu() if x.shape[1] > 4 else F.relu(x)
        return y + self.emb(p + 1).sum()


@pytest.mark.parametrize(
    ("factory", "symbolic", "numeric"),
    [
        pytest.param(SizeEachWay, lambda n: (1, 3, n), (3, 8), id="size-tensor-each-way"),
        pytest.param(FieldEachWay, lambda n: (1, 3, 8, n), (3, 8), id="receptive-field-each-way"),
        pytest.param(WriteReadTwice, lambda n: (1, 3, n), (2, 8), id="write-then-branch"),
        pytest.param(BufferAfterWrite, lambda n: (1, n, 4), (3, 8), id="buffer-after-write"),
    ],
)
def test_plans_that_differ_in_what_they_know_are_not_taken_as_one(factory: Any, symbolic: Any, numeric: Any) -> None:
    """Two reads compared equal where a size tensor's values, an output's receptive field, or what a write in
    place left differed: a plan of ``W`` where torch gives ``W - 4``, a receptive field of 1 where the
    convolution's is 3, an index past the table planned. The symbolic plan is refused now (or refused as torch
    refuses); each numeric plan is torch's."""
    model = factory().eval()
    n = convcalc.symbols("n")
    with pytest.raises(convcalc.ConvCalcError):
        convcalc.plan(model, symbolic(n))
    for size in numeric:
        expected = _torch_outcome(model, symbolic(size))
        try:
            plan = convcalc.plan(model, symbolic(size))
        except convcalc.ConvCalcError:
            assert expected is None
            continue
        assert plan.output_shape == expected
    if factory is FieldEachWay:
        assert convcalc.plan(model, (1, 3, 8, 8)).receptive_field[0].size == 3


def _torch_outcome(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        with torch.no_grad():
            return tuple(model(torch.randn(*shape)).shape)
    except (RuntimeError, IndexError):
        return None
