"""Sequence, attention, embedding and rearranging layers against the real torch layers.

Each property test builds the torch module with the drawn arguments, runs it on
random input of the drawn shape, and compares every output shape and the
parameter count with convcalc's; torch raises exactly when convcalc raises a
ConvCalcError. MACs are checked against hand counts and, where a convention
mirrors a peer, against the peer.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc import nn
from convcalc._planner import Context, MacConvention
from tests import strategies as cs

torch.set_num_threads(1)


def _torch_shapes(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    return tuple(_torch_shapes(v) for v in value)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, nn._Shape):
        return tuple(value)
    return tuple(_plain(v) for v in value)


def _has_zero(shapes: Any) -> bool:
    if shapes is None:
        return False
    if all(isinstance(d, int) for d in shapes):
        return 0 in shapes
    return any(_has_zero(s) for s in shapes)


def _torch_outcome(build: Any, run: Any) -> tuple[Any, int] | None:
    """(output shapes, parameter count), or None where torch raises (or gives an empty tensor)."""
    try:
        module = build()
        with torch.no_grad():
            shapes = _torch_shapes(run(module))
    except Exception:  # torch raises ValueError, RuntimeError, AssertionError...
        return None
    if _has_zero(shapes):  # torch allows an empty output here; convcalc plans sizes of at least 1
        return None
    return shapes, sum(p.numel() for p in module.parameters())


def _convcalc_outcome(spec_cls: Any, args: dict[str, Any], inputs: tuple[Any, ...], options: dict[str, Any]) -> Any:
    try:
        spec = spec_cls(**args)
        ctx = Context(False, MacConvention.MACS, 4)
        out = spec._outputs(tuple(nn._Shape(s) for s in inputs), dict(options), ctx, "")
    except convcalc.ConvCalcError:
        return None
    return _plain(out), sum(r.trainable for r in ctx.rows)


# --------------------------------------------------------------------------- #
# Property tests against torch
# --------------------------------------------------------------------------- #


@settings(max_examples=2000)
@given(cs.rnn_configs())
def test_rnn_family_matches_torch(config: cs.RNNConfig) -> None:
    expected = _torch_outcome(
        lambda: getattr(torch.nn, config.kind)(**config.args), lambda m: m(torch.randn(config.shape))
    )
    got = _convcalc_outcome(getattr(nn, config.kind), config.args, (config.shape,), {})
    assert got == expected
    if got is not None:  # planned alone, every output as torch returns them; a Sequential passes on the first
        alone = convcalc.plan(getattr(nn, config.kind)(**config.args), config.shape)
        assert (alone.output_shape, alone.output_shapes) == (got[0][0], got[0])
        planned = convcalc.plan(nn.Sequential(getattr(nn, config.kind)(**config.args)), config.shape)
        assert planned.output_shape == got[0][0]


@settings(max_examples=2000)
@given(cs.cell_configs())
def test_rnn_cells_match_torch(config: cs.CellConfig) -> None:
    one = config.state[0] if config.kind == "LSTMCell" and config.state else config.state
    # torch unsqueezes a 2-D state given with a 1-D input to 3-D and broadcasts it (an (a, H) state gives an (a, H)
    # output): convcalc refuses that, asking for a state of the input's rank
    assume(not (len(config.shape) == 1 and one is not None and len(one) == 2))

    def run(m: Any) -> Any:
        state = config.state
        if state is not None:
            state = tuple(torch.randn(s) for s in state) if config.kind == "LSTMCell" else torch.randn(state)
        return m(torch.randn(config.shape), state)

    expected = _torch_outcome(lambda: getattr(torch.nn, config.kind)(**config.args), run)
    inputs: tuple[Any, ...] = (nn._Shape(config.shape),)
    if config.state is not None:
        state = config.state
        inputs += (tuple(nn._Shape(s) for s in state) if config.kind == "LSTMCell" else nn._Shape(state),)
    try:
        ctx = Context(False, MacConvention.MACS, 4)
        got: Any = (
            _plain(getattr(nn, config.kind)(**config.args)._outputs(inputs, {}, ctx, "")),
            ctx.rows[0].trainable,
        )
    except convcalc.ConvCalcError:
        got = None
    assert got == expected
    if got is not None:
        weights = {"RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}[config.kind] * config.args["hidden_size"]
        plan = convcalc.plan(getattr(nn, config.kind)(**config.args), config.shape)
        assert plan.macs == weights * (config.args["input_size"] + config.args["hidden_size"])
        if config.state is None:
            assert plan.output_shapes == got[0] if config.kind == "LSTMCell" else (got[0],)


@settings(max_examples=2000)
@given(cs.bilinear_configs())
def test_bilinear_matches_torch(config: cs.BilinearConfig) -> None:
    expected = _torch_outcome(
        lambda: torch.nn.Bilinear(**config.args), lambda m: m(torch.randn(config.first), torch.randn(config.second))
    )
    got = _convcalc_outcome(nn.Bilinear, config.args, (config.first, config.second), {})
    assert got == expected
    if got is not None:
        plan = convcalc.plan(nn.Bilinear(**config.args), [config.first, config.second])
        rows = 1
        for d in config.first[1:-1]:
            rows *= d
        assert plan.macs == rows * plan.total_params - (
            rows * config.args["out_features"] if config.args["bias"] else 0
        )


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell", "Bilinear"])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_and_bilinear_peer_conventions_match_the_peers(kind: str, bias: bool) -> None:
    """torchinfo, fvcore and ptflops on the real layers, per sample of a batch of 3."""
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info
    from torchinfo import summary

    if kind == "Bilinear":
        module, spec, shapes = torch.nn.Bilinear(4, 6, 5, bias=bias), nn.Bilinear(4, 6, 5, bias=bias), [(3, 4), (3, 6)]
    else:
        module, spec, shapes = getattr(torch.nn, kind)(6, 5, bias=bias), getattr(nn, kind)(6, 5, bias=bias), [(3, 6)]
    xs = [torch.randn(s) for s in shapes]
    planned = shapes if len(shapes) > 1 else shapes[0]

    def macs(convention: str) -> Any:
        return convcalc.plan(spec, planned, macs=convention).macs

    assert 3 * macs("torchinfo") == summary(module, input_data=xs, verbose=0).total_mult_adds
    analysis = FlopCountAnalysis(module, tuple(xs))
    analysis.unsupported_ops_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert 3 * macs("fvcore") == analysis.total()
        counted, _ = get_model_complexity_info(
            module,
            shapes[0],
            input_constructor=lambda _: xs[0] if len(xs) == 1 else {"input1": xs[0], "input2": xs[1]},
            as_strings=False,
            print_per_layer_stat=False,
            backend="pytorch",
        )
    assert macs("ptflops") == counted  # ptflops divides by the batch itself


def test_cells_and_bilinear_read_from_torch_code() -> None:
    """A decoder loop over an LSTMCell with a zero state made in forward, a GRUCell fed its own state, and a
    Bilinear of two inputs: exact shapes, parameters and MACs, read by convcalc's rules."""

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTMCell(6, 8)
            self.gru = torch.nn.GRUCell(8, 4)
            self.score = torch.nn.Bilinear(4, 4, 2)

        def forward(self, x: Any) -> Any:
            h = torch.zeros(x.size(0), 8)
            c = torch.zeros(x.size(0), 8)
            g = None
            for t in range(x.size(1)):
                h, c = self.lstm(x[:, t], (h, c))
                g = self.gru(h, g)
            return self.score(g, g)

    model = Decoder()
    plan = convcalc.plan(model, (2, 3, 6))
    assert plan.output_shape == tuple(model(torch.randn(2, 3, 6)).shape) == (2, 2)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert not plan.fallback_rows
    assert plan.macs == 3 * (4 * 8 * (6 + 8) + 3 * 4 * (8 + 4)) + 2 * 4 * 4


@settings(max_examples=2000)
@given(cs.mha_configs())
def test_multihead_attention_matches_torch(config: cs.MHAConfig) -> None:
    options = {"need_weights": config.need_weights, "average_attn_weights": config.average_attn_weights}

    def run(m: Any) -> Any:
        q, k, v = (torch.randn(s) for s in (config.query, config.key, config.value))
        return m(q, k, v, **options)

    expected = _torch_outcome(lambda: torch.nn.MultiheadAttention(**config.args), run)
    got = _convcalc_outcome(nn.MultiheadAttention, config.args, (config.query, config.key, config.value), options)
    assert got == expected


@settings(max_examples=2000)
@given(cs.embedding_configs())
def test_embedding_matches_torch(config: cs.EmbeddingConfig) -> None:
    num = config.args["num_embeddings"]
    expected = _torch_outcome(
        lambda: torch.nn.Embedding(**config.args), lambda m: (m(torch.randint(0, num, config.shape)),)
    )
    try:
        plan = convcalc.plan(nn.Embedding(**config.args), config.shape)
        got: Any = ((plan.output_shape,), sum(r.trainable for r in plan.rows))
    except convcalc.ConvCalcError:
        got = None
    assert got == expected


def _single(kind: str, args: dict[str, Any], shape: tuple[int, ...]) -> tuple[Any, Any]:
    expected = _torch_outcome(lambda: getattr(torch.nn, kind)(**args), lambda m: (m(torch.randn(shape)),))
    try:
        plan = convcalc.plan(getattr(nn, kind)(**args), shape)
        got: Any = ((plan.output_shape,), sum(r.trainable for r in plan.rows))
    except convcalc.ConvCalcError:
        got = None
    return got, expected


@settings(max_examples=2000)
@given(cs.pixel_shuffle_configs())
def test_pixel_shuffle_matches_torch(config: cs.RearrangeConfig) -> None:
    got, expected = _single(config.kind, config.args, config.shape)
    assert got == expected


@settings(max_examples=2000)
@given(cs.fold_configs())
def test_fold_and_unfold_match_torch(config: cs.RearrangeConfig) -> None:
    got, expected = _single(config.kind, config.args, config.shape)
    assert got == expected


@settings(max_examples=2000)
@given(cs.unpool_configs())
def test_max_unpool_matches_torch(config: cs.RearrangeConfig) -> None:
    options = {} if config.output_size is None else {"output_size": config.output_size}

    def run(m: Any) -> Any:
        x = torch.randn(config.shape)
        return (m(x, torch.zeros(config.shape, dtype=torch.long), **options),)

    expected = _torch_outcome(lambda: getattr(torch.nn, config.kind)(**config.args), run)
    got = _convcalc_outcome(getattr(nn, config.kind), config.args, (config.shape, config.shape), options)
    got = None if got is None else ((got[0],), got[1])
    assert got == expected


# --------------------------------------------------------------------------- #
# Errors name the layer, the argument and what would fit
# --------------------------------------------------------------------------- #


class _Cropped(torch.nn.Module):
    """A recurrent layer fed its input less the first two steps (an empty sequence for a length of 2)."""

    def __init__(self, kind: str, batch_first: bool) -> None:
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(4, 6, batch_first=batch_first)
        self.axis = 1 if batch_first else 0

    def forward(self, x: torch.Tensor) -> Any:
        steps = x[:, 2:] if self.axis == 1 and x.dim() == 3 else x[2:]
        return self.rnn(steps)[0]


def _run(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | str:
    """torch's output shape, or its message where it raises."""
    try:
        with torch.no_grad():
            return tuple(model(torch.zeros(shape)).shape)
    except RuntimeError as exc:
        return str(exc)


@pytest.mark.parametrize("layout", ["batch_first", "sequence_first", "unbatched"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_an_empty_sequence_is_refused_as_torch_refuses_it(kind: str, layout: str) -> None:
    model = _Cropped(kind, layout == "batch_first").eval()
    T = convcalc.symbols("T")

    def shape(t: Any) -> tuple[Any, ...]:
        return {"batch_first": (2, t, 4), "sequence_first": (t, 2, 4), "unbatched": (t, 4)}[layout]

    valid = convcalc.plan(model, shape(T)).valid_sizes()
    for t in range(2, 8):  # (below 2 the slice's symbolic length is negative, and left out)
        expected = _run(model, shape(t))
        runs = isinstance(expected, tuple)
        assert (t in valid) == runs, (t, valid)
        if runs:
            assert convcalc.plan(model, shape(t)).output_shape == expected
            continue
        assert expected == "Expected sequence length to be larger than 0 in RNN"
        with pytest.raises(
            convcalc.ShapeError,
            match=rf"^rnn \({kind}\): expects a sequence of 1 step or more, but its length is 0 \(torch: Expected "
            r"sequence length to be larger than 0 in RNN\)\.",
        ):
            convcalc.plan(model, shape(t))


def test_lstm_input_size_mismatch_says_what_fits() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"\(LSTM\): input_size=12 .* use input_size=10"):
        convcalc.plan(nn.LSTM(12, 20), (5, 3, 10))


def test_attention_embed_dim_mismatch_says_what_fits() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"\(MultiheadAttention\): embed_dim=16 .* use embed_dim=12"):
        convcalc.plan(nn.MultiheadAttention(16, 4), (5, 3, 12))


def test_symbolic_sequence_length() -> None:
    length = convcalc.symbols("L")
    plan = convcalc.plan(nn.Sequential(nn.LSTM(8, 16), nn.Linear(16, 4)), (length, 1, 8))
    assert plan.output_shape == (length, 1, 4)
    assert plan.rows[0].macs == length * 4 * 16 * (8 + 16)  # by hand: 4 gates x H x (H_in + H) per step


# --------------------------------------------------------------------------- #
# MACs: hand counts and peers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("spec", "shape", "macs"),
    [
        (nn.LSTM(10, 20), (5, 3, 10), 5 * 4 * 20 * (10 + 20)),
        (nn.GRU(4, 3, num_layers=2, bidirectional=True), (7, 1, 4), 7 * 2 * (9 * (4 + 3) + 9 * (6 + 3))),
        (nn.LSTM(6, 8, proj_size=3), (2, 6), 2 * (32 * (6 + 3) + 3 * 8)),
        (nn.RNN(3, 5, batch_first=True), (2, 4, 3), 4 * 5 * (3 + 5)),
        # q, k, v, out projections 4 * 7 * 16 * 16; scores and weighted sum 2 * 7 * 7 * 16
        (nn.MultiheadAttention(16, 4), (7, 2, 16), 4 * 7 * 16 * 16 + 2 * 7 * 7 * 16),
        (nn.Embedding(10, 4), (2, 5), 0),
    ],
)
def test_macs_by_hand(spec: Any, shape: tuple[int, ...], macs: int) -> None:
    assert convcalc.plan(spec, shape).rows[0].macs == macs


def test_lstm_macs_bias_and_flops_by_hand() -> None:
    assert convcalc.plan(nn.LSTM(10, 20), (5, 3, 10), macs="macs+bias").rows[0].macs == 12000 + 5 * 2 * 80
    assert convcalc.plan(nn.LSTM(10, 20), (5, 3, 10), macs="flops").rows[0].macs == 24000


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_rnn_torchinfo_and_fvcore_conventions_match_the_peers(kind: str) -> None:
    from fvcore.nn import FlopCountAnalysis
    from torchinfo import summary

    module = getattr(torch.nn, kind)(6, 5, num_layers=2)
    x = torch.randn(4, 1, 6)
    spec = getattr(nn, kind)(6, 5, num_layers=2)
    assert (
        convcalc.plan(spec, (4, 1, 6), macs="torchinfo").rows[0].macs
        == summary(module, input_data=[x], verbose=0).total_mult_adds
    )
    analysis = FlopCountAnalysis(module, (x,))
    analysis.unsupported_ops_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert convcalc.plan(spec, (4, 1, 6), macs="fvcore").rows[0].macs == analysis.total()


class _BatchFirst(torch.nn.Module):
    """The layer behind a batch-first model input, so that ptflops divides its count by the batch."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Any) -> Any:
        return self.layer(x if self.layer.batch_first else x.transpose(0, 1))[0]


@settings(max_examples=300)
@given(cs.rnn_configs(), st.integers(1, 3), st.integers(1, 6))
def test_rnn_ptflops_convention_matches_ptflops(config: cs.RNNConfig, batch: int, length: int) -> None:
    import contextlib
    import io

    import ptflops

    # ptflops divides by dim 0 of the model input: a batched input of the right width, drawn here (filtering
    # the configs' own shapes for it discards most of them)
    config = dataclasses.replace(config, shape=(batch, length, config.args["input_size"]))
    try:
        layer = getattr(torch.nn, config.kind)(**config.args)
    except ValueError:
        assume(False)  # arguments torch refuses (the layer tests check convcalc refuses them too)
    batch_first = config.args.get("batch_first", False)
    x = torch.randn(config.shape if batch_first else (config.shape[1], config.shape[0], config.shape[2]))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        expected, _ = ptflops.get_model_complexity_info(
            _BatchFirst(layer),
            tuple(x.shape[1:]),
            input_constructor=lambda _: x,
            as_strings=False,
            print_per_layer_stat=False,
            backend="pytorch",
        )
    spec = getattr(nn, config.kind)(**config.args)
    assert convcalc.plan(nn.Sequential(spec), config.shape, macs="ptflops").macs == expected


def test_attention_fvcore_convention_matches_fvcore() -> None:
    from fvcore.nn import FlopCountAnalysis

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(16, 4)

        def forward(self, x: Any) -> Any:
            return self.attn(x, x, x)[0]

    x = torch.randn(7, 1, 16)
    analysis = FlopCountAnalysis(Block(), (x,))
    analysis.unsupported_ops_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = analysis.total()
    assert convcalc.plan(Block(), (7, 1, 16), macs="fvcore").macs == expected


# --------------------------------------------------------------------------- #
# Through the torch reader
# --------------------------------------------------------------------------- #


class Tagger(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50, 8)
        self.lstm = torch.nn.LSTM(8, 12, batch_first=True, bidirectional=True)
        self.attn = torch.nn.MultiheadAttention(24, 3, batch_first=True)
        self.head = torch.nn.Linear(24, 5)

    def forward(self, tokens: Any) -> Any:
        x = self.embed(tokens)
        out, _ = self.lstm(x)
        h_n = self.lstm(x)[1][0]
        attended, weights = self.attn(out, out, out)
        mixed = torch.einsum("bld,bls->bsd", attended, weights)
        return self.head(mixed) + h_n.sum()


class Unpooler(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.MaxPool2d(2, return_indices=True)
        self.unpool = torch.nn.MaxUnpool2d(2)
        self.shuffle = torch.nn.PixelShuffle(2)

    def forward(self, x: Any) -> Any:
        y, idx = self.pool(x)
        z = self.unpool(y, idx, output_size=x.size())
        return self.shuffle(z)


def test_reader_follows_tuple_outputs_attention_and_einsum() -> None:
    model = Tagger()
    plan = convcalc.plan(model, (2, 6))
    with torch.no_grad():
        expected = model(torch.randint(0, 50, (2, 6)))
    assert plan.output_shape == tuple(expected.shape)
    assert sum(r.trainable for r in plan.rows) == sum(p.numel() for p in model.parameters())
    einsum = next(r for r in plan.rows if r.kind == "einsum")
    assert einsum.macs == 6 * 24 * 6  # per sample: l * d * s


def test_reader_follows_unpool_output_size() -> None:
    model = Unpooler()
    plan = convcalc.plan(model, (1, 8, 9, 7))
    assert plan.output_shape == tuple(model(torch.randn(1, 8, 9, 7)).shape)


def test_reader_scaled_dot_product_attention() -> None:
    class Attend(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            q = x.view(x.size(0), x.size(1), 2, 4).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    plan = convcalc.plan(Attend(), (3, 5, 8))
    assert plan.output_shape == tuple(Attend()(torch.randn(3, 5, 8)).shape)
    assert plan.rows[-1].macs == 2 * 5 * 5 * (4 + 4)  # per sample: heads * L * S * (E + Ev)


def test_reader_rejects_lstm_input_size_mismatch() -> None:
    model = torch.nn.Sequential(torch.nn.LSTM(4, 3))
    with pytest.raises(convcalc.ShapeError, match=r"0 \(LSTM\): input_size=4 .* use input_size=6"):
        convcalc.plan(model, (5, 1, 6))
    with pytest.raises(RuntimeError):
        model(torch.randn(5, 1, 6))


@pytest.mark.parametrize(
    "spec",
    [
        nn.LSTM(5, 6, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True, proj_size=2),
        nn.GRU(3, 4),
        nn.RNN(3, 4, nonlinearity="relu"),
        nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True, kdim=3, vdim=5),
        nn.Embedding(10, 3, padding_idx=-1),
        nn.MaxUnpool2d(3, stride=2, padding=1),
        nn.LSTMCell(3, 4, bias=False),
        nn.GRUCell(3, 4),
        nn.RNNCell(3, 4, nonlinearity="relu"),
        nn.Bilinear(2, 3, 4, bias=False),
    ],
)
def test_to_torch_and_back(spec: Any) -> None:
    module = spec.to_torch()
    assert type(module).__name__ == spec.kind
    again = convcalc.from_torch(module)
    assert type(again) is type(spec)
    if hasattr(spec, "padding_idx"):  # torch keeps a negative padding_idx as its positive equivalent
        assert again.padding_idx == module.padding_idx == 9
    else:
        assert again == spec or isinstance(spec, nn.MaxUnpool2d)
