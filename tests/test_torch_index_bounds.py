"""Indices whose values convcalc bounds, checked where torch checks them on data: positions counted over the tokens
that are not padding (RoBERTa's), read exactly; an integer tensor written in place before it indexes; a list of
ints as an index in torch's pass. Each model runs on the CPU on both sides of its limit, and the plan is refused
exactly where torch raises for some input of the planned shape."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc import ConvCalcError, ShapeError, SpecError
from tests.strategies import model_examples

torch = pytest.importorskip("torch")
nn = torch.nn


def _raises(model: Any, *inputs: Any) -> bool:
    try:
        with torch.no_grad():
            model(*inputs)
    except (IndexError, RuntimeError):
        return True
    return False


def _params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


class Positions(nn.Module):
    """Hugging Face's ``create_position_ids_from_input_ids``: positions counted over the tokens that are not the
    padding one, from ``padding_idx + 1`` (a padding token's is ``padding_idx``), into a table of ``table`` rows;
    the token types of a buffer picked by them (``torch.gather``), as RoBERTa's embeddings do."""

    def __init__(self, table: int, padding_idx: int = 1, vocab: int = 50, d: int = 8) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.words = nn.Embedding(vocab, d, padding_idx=padding_idx)
        self.positions = nn.Embedding(table, d, padding_idx=padding_idx)
        self.register_buffer("token_type_ids", torch.zeros(1, table, dtype=torch.long), persistent=False)
        self.types = nn.Embedding(2, d)

    def forward(self, input_ids: Any, past: int = 0) -> Any:
        mask = input_ids.ne(self.padding_idx).int()
        incremental = (torch.cumsum(mask, dim=1).type_as(mask) + past) * mask
        position_ids = incremental.long() + self.padding_idx
        types = torch.gather(self.token_type_ids.expand(position_ids.shape[0], -1), dim=1, index=position_ids)
        return self.words(input_ids) + self.types(types) + self.positions(position_ids)


def _no_padding(padding_idx: int, tokens: int) -> Any:
    """The input that reaches the greatest position: no padding token; any other reaches no further."""
    return torch.full((2, tokens), padding_idx + 1)


def test_positions_past_the_table_are_refused_with_what_fits() -> None:
    model = Positions(table=64).eval()
    plan = convcalc.plan(model, (2, 62))
    assert {r.source for r in plan.rows} == {"rule"}  # (read exactly)
    assert plan.output_shape == tuple(model(_no_padding(1, 62)).shape) == (2, 62, 8)
    assert plan.total_params == _params(model)
    assert _raises(model, _no_padding(1, 63))
    message = (
        "gather (gather): an index of axis 1 ranges over 1 to 64, outside its 64 entries (torch: index out of "
        "range; it takes 0 to 63); the first 62 positions of its 63 along its last axis are inside: at most "
        "62 positions. Received: index values 1 to 64, size=64"
    )
    with pytest.raises(ShapeError, match=re.escape(message)):
        convcalc.plan(model, (2, 63))


@settings(max_examples=model_examples(15), deadline=None)
@given(table=st.integers(3, 24), padding_idx=st.integers(0, 2), tokens=st.integers(1, 26), seed=st.integers(0, 9))
def test_positions_refused_exactly_where_some_input_makes_torch_raise(
    table: int, padding_idx: int, tokens: int, seed: int
) -> None:
    model = Positions(table, padding_idx).eval()
    worst = _raises(model, _no_padding(padding_idx, tokens))
    assert worst == (tokens > table - padding_idx - 1)
    if worst:
        fits = table - padding_idx - 1  # (none: no position to say)
        with pytest.raises(ShapeError, match=f"at most {fits} position" if fits > 0 else "outside its"):
            convcalc.plan(model, (2, tokens))
    else:
        some = torch.randint(0, 50, (2, tokens), generator=torch.Generator().manual_seed(seed))
        assert not _raises(model, some)
        plan = convcalc.plan(model, (2, tokens))
        assert plan.output_shape == tuple(model(some).shape)
        assert plan.total_params == _params(model)


@settings(max_examples=model_examples(8), deadline=None)
@given(table=st.integers(3, 20), padding_idx=st.integers(0, 2))
def test_positions_at_a_symbolic_length_hold_where_torch_runs(table: int, padding_idx: int) -> None:
    model = Positions(table, padding_idx).eval()
    if table - padding_idx - 1 < 1:  # no length fits: refused at every one, as torch raises at every one
        assert _raises(model, _no_padding(padding_idx, 1))
        with pytest.raises(ShapeError, match="outside its"):
            convcalc.plan(model, (2, "T"))
        return
    valid = convcalc.plan(model, (2, "T")).valid_sizes()
    for tokens in range(1, table + 3):
        assert (tokens in valid) == (not _raises(model, _no_padding(padding_idx, tokens))), (tokens, valid)


class OtherMask(nn.Module):
    """Positions counted over one comparison and masked by another: no one input is known to reach both
    bounds, so convcalc takes them as bounds the values need not reach."""

    def __init__(self, table: int) -> None:
        super().__init__()
        self.positions = nn.Embedding(table, 4)

    def forward(self, input_ids: Any) -> Any:
        counted = torch.cumsum(input_ids.ne(1).int(), dim=1)
        return self.positions(counted * input_ids.ne(2).long())


@pytest.mark.parametrize("tokens", [3, 5, 6, 9])
def test_positions_of_two_comparisons_are_refused_where_they_may_run_past_the_table(tokens: int) -> None:
    model = OtherMask(table=6).eval()
    raises = _raises(model, torch.full((1, tokens), 7))
    assert raises == (tokens >= 6)
    if raises:
        with pytest.raises(ConvCalcError, match="positions \\(Embedding\\)"):
            convcalc.plan(model, (1, tokens))
    else:
        assert convcalc.plan(model, (1, tokens)).output_shape == (1, tokens, 4)
    with pytest.raises(SpecError, match="does not know them to reach"):
        convcalc.plan(model, (1, "T"))  # (never a plan that admits a length torch refuses)


class Rewritten(nn.Module):
    """Positions of an ``arange`` written into before they index a table: ``p[at] = value`` (``how="set"``), a
    slice of it moved by ``shift`` in place (``"view"``: the ``arange`` changes through its view), or all of it
    (``"all"``)."""

    def __init__(self, table: int, how: str, at: int = 0, value: int = 0, shift: int = 0) -> None:
        super().__init__()
        self.pos = nn.Embedding(table, 4)
        self.how, self.at, self.value, self.shift = how, at, value, shift

    def forward(self, x: Any) -> Any:
        p = torch.arange(x.size(1))
        if self.how == "set":
            p[self.at] = self.value
        elif self.how == "view":
            tail = p[1:]
            tail.add_(self.shift)
        else:
            p.add_(self.shift)
        return x.unsqueeze(-1) * self.pos(p)


def test_a_write_into_an_arange_is_checked_with_its_values() -> None:
    model = Rewritten(16, "set", at=0, value=20)
    assert _raises(model, torch.zeros(2, 5))
    message = "pos (Embedding): an index of the embedding table ranges over 1 to 20, outside its 16 entries"
    with pytest.raises(ShapeError, match=re.escape(message)):
        convcalc.plan(model, (2, 5))


@settings(max_examples=model_examples(20), deadline=None)
@given(
    table=st.integers(2, 20),
    tokens=st.integers(1, 24),
    value=st.integers(0, 24),
    at=st.integers(0, 23),
    how=st.sampled_from(["set", "view", "all"]),
    shift=st.integers(0, 6),
)
def test_written_positions_refused_exactly_where_torch_raises(
    table: int, tokens: int, value: int, at: int, how: str, shift: int
) -> None:
    model = Rewritten(table, how, at % tokens, value, shift)
    x = torch.zeros(2, tokens)
    if _raises(model, x):
        with pytest.raises(ConvCalcError, match="pos \\(Embedding\\)"):
            convcalc.plan(model, (2, tokens))
    else:
        plan = convcalc.plan(model, (2, tokens))
        assert plan.output_shape == tuple(model(x).shape)
        assert plan.total_params == _params(model)


@pytest.mark.parametrize("how", ["set", "view"])
def test_a_part_written_is_refused_at_a_symbolic_length(how: str) -> None:
    with pytest.raises(SpecError, match="does not know them to reach"):
        convcalc.plan(Rewritten(16, how, value=3, shift=1), (2, "T"))


@pytest.mark.parametrize("shift", [0, 3, 15])
def test_positions_moved_in_place_hold_where_torch_runs(shift: int) -> None:
    model = Rewritten(16, "all", shift=shift)
    valid = convcalc.plan(model, (2, "T")).valid_sizes()
    for tokens in range(1, 20):
        assert (tokens in valid) == (not _raises(model, torch.zeros(2, tokens))), (tokens, valid)


class KeysSeen:
    """The keys seen so far, as Hugging Face's caches keep them: an object handed through the forward, which
    convcalc cannot read (torch's pass runs the model)."""

    def __init__(self) -> None:
        self.keys: list[Any] = []

    def update(self, k: Any) -> Any:
        self.keys = [torch.cat([*self.keys, k], 1)]
        return self.keys[0]


class Remembered(nn.Module):
    """A layer that keeps its output in the object it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, h: Any, keys: KeysSeen) -> Any:
        return keys.update(self.proj(h))


class Listed(nn.Module):
    """Features picked by a list of ints along an axis: ``h[:, [0, j]]``, ``h[[0, j]]``, or written there."""

    def __init__(self, how: str, j: int) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.remembered = Remembered()
        self.how, self.j = how, j

    def forward(self, h: Any) -> Any:
        return self.picked(self.proj(h))

    def picked(self, h: Any) -> Any:
        if self.how == "second":
            return h[:, [0, self.j]]
        if self.how == "first":
            return h[[0, self.j]]
        h = h.clone()
        h[:, [0, self.j]] = 0
        return h


class ListedThroughTorch(Listed):
    def forward(self, h: Any, keys: KeysSeen | None = None) -> Any:
        return self.picked(self.remembered(h, KeysSeen() if keys is None else keys))


@pytest.mark.parametrize("cls", [Listed, ListedThroughTorch])
@pytest.mark.parametrize("how", ["second", "first", "write"])
@pytest.mark.parametrize("j", [-7, -2, 3, 5])
def test_a_list_index_is_refused_exactly_where_torch_raises(cls: Any, how: str, j: int) -> None:
    model = cls(how, j).eval()
    for shape in ((1, 4, 8), (6, 6, 8), (2, 3, 8)):
        x = torch.zeros(shape)
        if _raises(model, x):
            with pytest.raises(ShapeError, match="index"):
                convcalc.plan(model, shape)
        else:
            plan = convcalc.plan(model, shape)
            assert ("torch" in {r.source for r in plan.rows}) == (cls is ListedThroughTorch)
            assert plan.output_shape == tuple(model(x).shape)


def test_a_list_index_past_the_axis_in_torchs_pass_names_its_axis() -> None:
    message = (
        "<model> (ListedThroughTorch): an index of axis 1 (x[index]) ranges over 0 to 5, outside its 4 entries "
        "(torch: index out of range; it takes -4 to 3). Received: index values 0 to 5, size=4"
    )
    with pytest.raises(ShapeError, match=re.escape(message)):
        convcalc.plan(ListedThroughTorch("second", 5).eval(), (1, 4, 8))
