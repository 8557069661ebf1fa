"""Indices checked in torch's pass (``convcalc.torch.shadow``): a forward convcalc cannot read runs on meta tensors,
which hold no values, so torch never checks an index there; the values of its small integer tensors are followed
beside it, and the plan is refused exactly where torch, run on data, raises. Each case runs the real module on
the CPU at the sizes on both sides of its limit."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from convcalc import ShapeError
from tests.strategies import model_examples

torch = pytest.importorskip("torch")
nn = torch.nn


class KVCache:
    """The keys and values of the tokens seen so far, one pair per layer, as Hugging Face's caches keep them: an
    object handed through the forward, which convcalc cannot read (torch's pass runs the model)."""

    def __init__(self) -> None:
        self.keys: list[Any] = []
        self.values: list[Any] = []

    def seq_length(self) -> int:
        return int(self.keys[0].shape[-2]) if self.keys else 0

    def update(self, k: Any, v: Any, layer: int) -> tuple[Any, Any]:
        if len(self.keys) <= layer:
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], -2)
            self.values[layer] = torch.cat([self.values[layer], v], -2)
        return self.keys[layer], self.values[layer]


class Attention(nn.Module):
    def __init__(self, d: int, layer: int = 0) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.layer = layer

    def forward(self, h: Any, cache: KVCache) -> Any:
        q, k, v = self.qkv(h).chunk(3, -1)
        k, v = cache.update(k, v, self.layer)
        weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, -1)
        return self.out(weights @ v)


class Decoder(nn.Module):
    """GPT-2's way: positions ``arange(past, past + T)`` into a table of ``positions`` rows."""

    def __init__(self, positions: int, vocab: int = 50, d: int = 8) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.attn = Attention(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, input_ids: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        past = cache.seq_length()
        positions = torch.arange(past, past + input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        h = self.wte(input_ids) + self.wpe(positions)
        return self.head(h + self.attn(h, cache))


class Encoder(nn.Module):
    """RoBERTa's way: positions counted over the tokens that are not padding, from ``padding_idx + 1`` (a padding
    token's is ``padding_idx``): at most ``positions - padding_idx - 1`` tokens fit."""

    def __init__(self, positions: int, padding_idx: int = 1, vocab: int = 50, d: int = 8) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.words = nn.Embedding(vocab, d, padding_idx=padding_idx)
        self.positions = nn.Embedding(positions, d, padding_idx=padding_idx)
        self.attn = Attention(d)

    def forward(self, input_ids: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        mask = input_ids.ne(self.padding_idx).int()
        incremental = (torch.cumsum(mask, dim=1).type_as(mask) + cache.seq_length()) * mask
        h = self.words(input_ids) + self.positions(incremental.long() + self.padding_idx)
        return h + self.attn(h, cache)


def _torch_raises(model: Any, ids: Any) -> bool:
    try:
        with torch.no_grad():
            model(ids)
    except (IndexError, RuntimeError):
        return True
    return False


def _planned_by_torch(model: Any, shape: tuple[int, ...]) -> Any:
    plan = convcalc.plan(model, shape)
    assert "torch" in {r.source for r in plan.rows}  # (the case is torch's pass, not the exact reader)
    return plan


def test_positions_by_arange_past_the_table_are_refused_where_torch_raises() -> None:
    model = Decoder(positions=16).eval()
    plan = _planned_by_torch(model, (2, 16))
    assert plan.output_shape == tuple(model(torch.zeros(2, 16, dtype=torch.long)).shape) == (2, 16, 50)
    with pytest.raises(IndexError, match="index out of range"):
        model(torch.zeros(2, 17, dtype=torch.long))
    message = (
        "wpe (Embedding): an index of the embedding table (embedding) ranges over 0 to 16, outside its 16 entries "
        "(torch: index out of range; it takes 0 to 15); the first 16 positions of its 17 along its last "
        "axis are inside: at most 16 positions. Received: index values 0 to 16, size=16"
    )
    with pytest.raises(ShapeError, match=re.escape(message)):
        convcalc.plan(model, (2, 17))


@settings(max_examples=model_examples(12), deadline=None)
@given(positions=st.integers(2, 24), tokens=st.integers(1, 28))
def test_arange_positions_refused_exactly_where_torch_raises(positions: int, tokens: int) -> None:
    model = Decoder(positions).eval()
    raises = _torch_raises(model, torch.randint(0, 50, (1, tokens)))
    assert raises == (tokens > positions)
    if raises:
        with pytest.raises(ShapeError, match=f"at most {positions} position"):
            convcalc.plan(model, (1, tokens))
    else:
        assert _planned_by_torch(model, (1, tokens)).output_shape == (1, tokens, 50)


def test_cumsum_positions_are_refused_where_a_sequence_without_padding_runs_past_the_table() -> None:
    model = Encoder(positions=16, padding_idx=1).eval()
    fits = 16 - 1 - 1
    assert _planned_by_torch(model, (2, fits)).output_shape == (2, fits, 8)
    with pytest.raises(IndexError):
        model(torch.full((2, fits + 1), 7))
    message = (
        "positions (Embedding): an index of the embedding table (embedding) ranges over 1 to 16, outside its 16 "
        "entries (torch: index out of range; it takes 0 to 15); the first 14 positions of its 15 along "
        "its last axis are inside: at most 14 positions. Received: index values 1 to 16, size=16"
    )
    with pytest.raises(ShapeError, match=re.escape(message)):
        convcalc.plan(model, (2, fits + 1))


@settings(max_examples=model_examples(12), deadline=None)
@given(positions=st.integers(4, 24), padding_idx=st.integers(0, 3), tokens=st.integers(1, 26), seed=st.integers(0, 9))
def test_cumsum_positions_refused_exactly_where_some_input_makes_torch_raise(
    positions: int, padding_idx: int, tokens: int, seed: int
) -> None:
    model = Encoder(positions, padding_idx).eval()
    # the input that reaches the greatest position: no padding token; any other reaches no further
    no_padding = torch.full((1, tokens), padding_idx + 1)
    some = torch.randint(0, 50, (1, tokens), generator=torch.Generator().manual_seed(seed))
    worst = _torch_raises(model, no_padding)
    assert worst == (tokens > positions - padding_idx - 1)
    fits = positions - padding_idx - 1
    if worst:  # (where no position fits, the refusal says no "at most")
        with pytest.raises(ShapeError, match=f"at most {fits} position" if fits > 0 else "outside its"):
            convcalc.plan(model, (1, tokens))
    else:
        assert not _torch_raises(model, some)
        assert _planned_by_torch(model, (1, tokens)).output_shape == (1, tokens, 8)


class Picked(nn.Module):
    """Features picked along the sequence by an ``arange`` (``index_select``, ``gather``, ``x[:, i]``)."""

    def __init__(self, how: str, keep: int) -> None:
        super().__init__()
        self.how, self.keep = how, keep
        self.attn = Attention(8)

    def forward(self, h: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        h = self.attn(h, cache)
        index = torch.arange(self.keep, device=h.device)
        if self.how == "index_select":
            return h.index_select(1, index)
        if self.how == "gather":
            return h.gather(1, index[None, :, None].expand(h.shape[0], -1, h.shape[2]))
        return h[:, index]


@pytest.mark.parametrize(
    ("how", "what"),
    [("index_select", "axis 1 (index_select)"), ("gather", "axis 1 (gather)"), ("getitem", "axis 1 (x[index])")],
)
def test_an_arange_picking_past_the_axis_is_refused_where_torch_raises(how: str, what: str) -> None:
    model = Picked(how, keep=6).eval()
    assert _planned_by_torch(model, (2, 6, 8)).output_shape == tuple(model(torch.zeros(2, 6, 8)).shape)
    with pytest.raises((IndexError, RuntimeError)):
        model(torch.zeros(2, 5, 8))
    with pytest.raises(ShapeError, match=re.escape(f"<model> (Picked): an index of {what} ranges over 0 to 5")):
        convcalc.plan(model, (2, 5, 8))


class Listed(nn.Module):
    """Rows picked by a tensor the forward makes of Python numbers (``torch.tensor([0, -1])``), or by a buffer
    of the module's."""

    def __init__(self, rows: list[int], buffer: bool) -> None:
        super().__init__()
        self.attn = Attention(8)
        self.rows = rows
        if buffer:
            self.register_buffer("order", torch.tensor(rows))

    def forward(self, h: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        h = self.attn(h, cache)
        order = self.order if hasattr(self, "order") else torch.tensor(self.rows)
        return h[:, order]


@pytest.mark.parametrize("buffer", [False, True])
@pytest.mark.parametrize("rows", [[0, -1], [0, -4], [3, 0], [0, -5], [4]])
def test_an_index_made_of_numbers_or_held_in_a_buffer_is_checked_as_torch_checks_it(
    rows: list[int], buffer: bool
) -> None:
    model = Listed(rows, buffer).eval()
    if _torch_raises(model, torch.zeros(1, 4, 8)):  # x[:, i] takes -4 to 3 on an axis of 4
        with pytest.raises(ShapeError, match=r"it takes -4 to 3\)\. Received: index values"):
            convcalc.plan(model, (1, 4, 8))
    else:
        assert _planned_by_torch(model, (1, 4, 8)).output_shape == (1, len(rows), 8)
    assert _torch_raises(model, torch.zeros(1, 4, 8)) == (max(rows) >= 4 or min(rows) < -4)


class Classes(nn.Module):
    """``one_hot`` of the positions, whose meta kernel checks nothing."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = classes
        self.attn = Attention(8)

    def forward(self, h: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        h = self.attn(h, cache)
        hot = nn.functional.one_hot(torch.arange(h.shape[1]), self.classes)
        return h, hot


def test_one_hot_of_positions_past_its_classes_is_refused_where_torch_raises() -> None:
    model = Classes(6).eval()
    assert _planned_by_torch(model, (1, 6, 8)).output_shapes == ((1, 6, 8), (6, 6))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        model(torch.zeros(1, 7, 8))
    with pytest.raises(ShapeError, match=re.escape("an index of num_classes (one_hot) ranges over 0 to 6")):
        convcalc.plan(model, (1, 7, 8))


class Wrapped(Encoder):
    """RoBERTa's positions wrapped around the table (``% positions``): an operation whose bounds convcalc does
    not follow, so the positions are unknown and never refused; torch never raises here either."""

    def forward(self, input_ids: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        mask = input_ids.ne(self.padding_idx).int()
        incremental = torch.cumsum(mask, dim=1) * mask % self.positions.num_embeddings
        h = self.words(input_ids) + self.positions(incremental)
        return h + self.attn(h, cache)


def test_bounds_lost_through_an_operation_not_followed_are_unknown_and_planned() -> None:
    model = Wrapped(positions=8).eval()
    assert not _torch_raises(model, torch.full((2, 30), 7))
    assert _planned_by_torch(model, (2, 30)).output_shape == (2, 30, 8)


class Written(Decoder):
    """Positions written in place, through a view of them (``positions[:, 1:].add_(k)``): the write changes the
    values followed too."""

    def __init__(self, positions: int, shift: int) -> None:
        super().__init__(positions)
        self.shift = shift

    def forward(self, input_ids: Any, cache: KVCache | None = None) -> Any:
        cache = KVCache() if cache is None else cache
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        positions[:, 1:].add_(self.shift)
        h = self.wte(input_ids) + self.wpe(positions)
        return self.head(h + self.attn(h, cache))


@pytest.mark.parametrize(("tokens", "shift"), [(4, 12), (5, 12), (5, 0), (1, 100)])
def test_positions_written_in_place_are_checked_as_written(tokens: int, shift: int) -> None:
    model = Written(16, shift).eval()
    if _torch_raises(model, torch.zeros(1, tokens, dtype=torch.long)):
        with pytest.raises(ShapeError, match="an index of the embedding table"):
            convcalc.plan(model, (1, tokens))
    else:
        assert _planned_by_torch(model, (1, tokens)).output_shape == (1, tokens, 50)
    assert _torch_raises(model, torch.zeros(1, tokens, dtype=torch.long)) == (tokens - 1 + shift > 15 and tokens > 1)


class Convolutions(nn.Module):
    """No integer tensor at all: torch's pass as before (``cummax`` has no rule of convcalc's)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return self.conv(x).cummax(2)[0]


def test_a_model_without_integer_tensors_is_planned_as_before() -> None:
    model = Convolutions().eval()
    plan = _planned_by_torch(model, (2, 3, 10, 10))
    assert plan.output_shape == tuple(model(torch.zeros(2, 3, 10, 10)).shape)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.macs == convcalc.plan(model.conv, (2, 3, 10, 10)).macs  # the convolution's, read exactly


class _NestedListIndex(nn.Module):
    """``x[[[0, 1], [5, j]]]``: a list of lists is torch's tuple of them (numpy's old rule), after an operation
    with no rule (torch's pass)."""

    def __init__(self, last: int) -> None:
        super().__init__()
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.i0(x)[[[0, 1], [5, self.last]]]


@pytest.mark.parametrize("last", [6, 9, 10, 16])
def test_a_list_of_lists_indexes_as_the_tuple_torch_reads(last: int) -> None:
    """Checked as one 2-D index of axis 0, ``x[[[0, 1], [5, 6]]]`` was refused where torch takes it as
    ``x[[0, 1], [5, 6]]`` and runs."""
    model = _NestedListIndex(last)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = tuple(model(torch.randn(2, 10)).shape)
    except IndexError:
        with pytest.raises(ShapeError, match="index of axis 1"):
            convcalc.plan(model, (2, 10))
        return
    assert convcalc.plan(model, (2, 10)).output_shape == expected
