"""The recurrent, attention, embedding and rearranging specs (``convcalc/nn/sequence.py``): every argument check's
message whole, the arguments of a torch call bound as torch binds them, the constraints a symbolic input records,
and ptflops' count of an unbatched recurrent input. Written against the survivors of a mutation run of the module
(docs/mutation.md); each behaviour is compared with torch where torch has one."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest
import sympy
import torch

import convcalc
from convcalc import nn
from convcalc._errors import ConvCalcError, ShapeError, SpecError

LSTM_ARGS = "input_size=4, hidden_size=8, num_layers=1, bias=True, batch_first=False, dropout={}, bidirectional=False"
EMBEDDING_ARGS = "num_embeddings=10, embedding_dim=4, padding_idx={}, max_norm=None, norm_type=2.0"

ARGUMENT_ERRORS: list[tuple[Callable[[], Any], Callable[[], Any], str]] = [
    (lambda: nn.RNN(0, 8), lambda: torch.nn.RNN(0, 8), "input_size must be at least 1. Received: input_size=0"),
    (lambda: nn.GRU(4, 0), lambda: torch.nn.GRU(4, 0), "hidden_size must be at least 1. Received: hidden_size=0"),
    (
        lambda: nn.LSTM(4, 8, num_layers=0),
        lambda: torch.nn.LSTM(4, 8, num_layers=0),
        "num_layers must be at least 1. Received: num_layers=0",
    ),
    (
        lambda: nn.GRU(4, 8, bias=1),
        None,
        "bias must be True or False. Received: input_size=4, hidden_size=8, num_layers=1, bias=1, batch_first=False, "
        "dropout=0.0, bidirectional=False",
    ),
    (
        lambda: nn.RNN(4, 8, batch_first="yes"),
        None,
        "batch_first must be True or False. Received: input_size=4, hidden_size=8, num_layers=1, bias=True, "
        "batch_first='yes', dropout=0.0, bidirectional=False, nonlinearity='tanh'",
    ),
    (
        lambda: nn.LSTM(4, 8, bidirectional=None),
        None,
        "bidirectional must be True or False. Received: input_size=4, hidden_size=8, num_layers=1, bias=True, "
        "batch_first=False, dropout=0.0, bidirectional=None, proj_size=0",
    ),
    (
        lambda: nn.LSTM(4, 8, dropout=1.5),
        lambda: torch.nn.LSTM(4, 8, dropout=1.5),
        f"dropout must be a number between 0 and 1. Received: {LSTM_ARGS.format(1.5)}, proj_size=0",
    ),
    (
        lambda: nn.LSTM(4, 8, dropout=-0.1),
        lambda: torch.nn.LSTM(4, 8, dropout=-0.1),
        f"dropout must be a number between 0 and 1. Received: {LSTM_ARGS.format(-0.1)}, proj_size=0",
    ),
    (
        lambda: nn.GRU(4, 8, dropout="0.1"),
        lambda: torch.nn.GRU(4, 8, dropout="0.1"),
        f"dropout must be a number between 0 and 1. Received: {LSTM_ARGS.format(repr('0.1'))}",
    ),
    (
        lambda: nn.LSTM(4, 8, proj_size=8),
        lambda: torch.nn.LSTM(4, 8, proj_size=8),
        f"proj_size must be smaller than hidden_size. Received: {LSTM_ARGS.format(0.0)}, proj_size=8",
    ),
    (
        lambda: nn.LSTM(4, 8, proj_size=-1),
        lambda: torch.nn.LSTM(4, 8, proj_size=-1),
        "proj_size must be at least 0. Received: proj_size=-1",
    ),
    (
        lambda: nn.RNN(4, 8, nonlinearity="gelu"),
        lambda: torch.nn.RNN(4, 8, nonlinearity="gelu"),
        f"nonlinearity must be 'tanh' or 'relu'. Received: {LSTM_ARGS.format(0.0)}, nonlinearity='gelu'",
    ),
    (
        lambda: nn.Embedding(0, 4),
        None,  # torch makes an empty table
        "num_embeddings must be at least 1. Received: num_embeddings=0",
    ),
    (lambda: nn.Embedding(10, 0), None, "embedding_dim must be at least 1. Received: embedding_dim=0"),
    (
        lambda: nn.Embedding(10, 4, padding_idx=10),
        lambda: torch.nn.Embedding(10, 4, padding_idx=10),
        "padding_idx must be within num_embeddings: from -10 to 9. Received: "
        f"{EMBEDDING_ARGS.format(10)}, scale_grad_by_freq=False, sparse=False",
    ),
    (
        lambda: nn.Embedding(10, 4, padding_idx=-11),
        lambda: torch.nn.Embedding(10, 4, padding_idx=-11),
        "padding_idx must be within num_embeddings: from -10 to 9. Received: "
        f"{EMBEDDING_ARGS.format(-11)}, scale_grad_by_freq=False, sparse=False",
    ),
    (
        lambda: nn.Embedding(10, 4, padding_idx=1.5),
        None,
        "padding_idx must be an integer. Received: padding_idx=1.5",
    ),
    (
        lambda: nn.Embedding(10, 4, scale_grad_by_freq=0),
        None,
        "scale_grad_by_freq must be True or False. Received: "
        f"{EMBEDDING_ARGS.format(None)}, scale_grad_by_freq=0, sparse=False",
    ),
    (
        lambda: nn.Embedding(10, 4, sparse=2),
        None,
        f"sparse must be True or False. Received: {EMBEDDING_ARGS.format(None)}, scale_grad_by_freq=False, sparse=2",
    ),
    (lambda: nn.PixelShuffle(0), None, "upscale_factor must be at least 1. Received: upscale_factor=0"),
    (lambda: nn.PixelUnshuffle(0), None, "downscale_factor must be at least 1. Received: downscale_factor=0"),
]


@pytest.mark.parametrize(("make", "make_torch", "message"), ARGUMENT_ERRORS)
def test_argument_checks_name_the_argument_and_what_was_received(
    make: Callable[[], Any], make_torch: Callable[[], Any] | None, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message
    if make_torch is not None:  # torch refuses the same arguments
        with pytest.raises((ValueError, TypeError, AssertionError, RuntimeError)):
            make_torch()


@pytest.mark.parametrize("padding_idx", [-10, -1, 0, 9])
def test_embedding_takes_every_padding_index_torch_takes(padding_idx: int) -> None:
    torch_layer = torch.nn.Embedding(10, 4, padding_idx=padding_idx)
    got = convcalc.plan(nn.Embedding(10, 4, padding_idx=padding_idx), (2, 3))
    assert got.output_shape == tuple(torch_layer(torch.zeros(2, 3, dtype=torch.long)).shape)
    assert got.trainable_params == sum(p.numel() for p in torch_layer.parameters())


@pytest.mark.parametrize(("kind", "dropout"), [("LSTM", 0), ("LSTM", 1), ("GRU", 1.0), ("RNN", 0.5)])
def test_recurrent_dropout_takes_both_ends(kind: str, dropout: float) -> None:
    with pytest.warns(UserWarning, match="dropout") if dropout else contextlib.nullcontext():
        layer = getattr(torch.nn, kind)(4, 8, num_layers=1, dropout=dropout)
    assert convcalc.plan(getattr(nn, kind)(4, 8, dropout=dropout), (5, 2, 4)).trainable_params == sum(
        p.numel() for p in layer.parameters()
    )


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            nn.LSTM(4, 8, batch_first=True),
            (2, 3, 4, 4),
            "<model> (LSTM): expects a 3-D input (N, L, H_in) (batch_first=True) or an unbatched 2-D (L, H_in), "
            "but receives 4-D. Received: input_shape=(2, 3, 4, 4)",
        ),
        (
            nn.GRU(4, 8),
            (4,),
            "<model> (GRU): expects a 3-D input (L, N, H_in) (batch_first=False) or an unbatched 2-D (L, H_in), "
            "but receives 1-D. Received: input_shape=(4,)",
        ),
        (
            nn.PixelShuffle(2),
            (1, 6, 4, 4),
            "<model> (PixelShuffle): 6 channels are not divisible by upscale_factor**2 = 4: use 8 channels, or an "
            "upscale_factor whose square divides 6. Received: input_shape=(1, 6, 4, 4)",
        ),
        (
            nn.PixelShuffle(3),
            (20, 4, 4),
            "<model> (PixelShuffle): 20 channels are not divisible by upscale_factor**2 = 9: use 27 channels, or an "
            "upscale_factor whose square divides 20. Received: input_shape=(20, 4, 4)",
        ),
        (
            nn.PixelShuffle(2),
            (4, 4),
            "<model> (PixelShuffle): needs at least 3 dims (C, H, W). Received: input_shape=(4, 4)",
        ),
        (
            nn.PixelUnshuffle(3),
            (1, 2, 7, 9),
            "<model> (PixelUnshuffle): size 7 is not divisible by downscale_factor=3: use a size of 6 or 9. "
            "Received: input_shape=(1, 2, 7, 9)",
        ),
        (
            nn.PixelUnshuffle(2),
            (2, 4),
            "<model> (PixelUnshuffle): needs at least 3 dims (C, H, W). Received: input_shape=(2, 4)",
        ),
    ],
)
def test_input_checks_name_the_layer_and_the_input(spec: Any, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(spec, shape)
    assert str(caught.value) == message
    torch_layer = spec.to_torch() if hasattr(spec, "to_torch") else None
    if torch_layer is not None:  # torch refuses the same input
        with pytest.raises((RuntimeError, ValueError, IndexError)):
            torch_layer(torch.zeros(shape))


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (nn.PixelUnshuffle(3), (1, 2, 1, 6), "size 1 is not divisible by downscale_factor=3: use a size of 3."),
        (nn.PixelUnshuffle(3), (1, 2, 4, 6), "size 4 is not divisible by downscale_factor=3: use a size of 3 or 6."),
        (nn.PixelUnshuffle(3), (1, 2, 6, 8), "size 8 is not divisible by downscale_factor=3: use a size of 6 or 9."),
        (nn.PixelUnshuffle(2), (4, 4), "needs at least 3 dims (C, H, W)."),
        (nn.PixelShuffle(2), (4, 4), "needs at least 3 dims (C, H, W)."),
        (
            nn.GRU(4, 8),
            (2, 3, 4, 4),
            "expects a 3-D input (L, N, H_in) (batch_first=False) or an unbatched 2-D (L, H_in), but receives 4-D.",
        ),
        (nn.MaxUnpool2d(2), (3, 4), "expects a 4-D input (N, C, ...) or an unbatched 3-D one, but receives 2-D."),
        (
            nn.MaxUnpool1d(3, 2),
            (1, 2, 3, 4),
            "expects a 3-D input (N, C, ...) or an unbatched 2-D one, but receives 4-D.",
        ),
    ],
)
def test_input_checks_inside_a_container_name_the_layer_path(layer: Any, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(nn.Sequential(nn.Identity(), layer), shape)
    assert str(caught.value) == f"1 ({layer.kind}): {message} Received: input_shape={shape}"


def test_rearranging_rows_record_their_kind_and_input() -> None:
    model = nn.Sequential(nn.PixelUnshuffle(2), nn.PixelShuffle(2))
    rows = convcalc.plan(model, (1, 3, 8, 6)).rows
    assert [(r.kind, r.input_shape, r.output_shape) for r in rows] == [
        ("PixelUnshuffle", (1, 3, 8, 6), (1, 12, 4, 3)),
        ("PixelShuffle", (1, 12, 4, 3), (1, 3, 8, 6)),
    ]
    row = convcalc.plan(nn.Embedding(10, 4), (2, 3)).rows[0]
    assert (row.kind, row.input_shape, row.output_shape, row.trainable) == ("Embedding", (2, 3), (2, 3, 4), 40)


C, H, W = sympy.symbols("C H W", positive=True, integer=True)


@pytest.mark.parametrize(
    ("spec", "shape", "output", "constraints"),
    [
        (
            nn.PixelShuffle(3),
            (1, C, H, W),
            "(1, floor(C/9), 3*H, 3*W)",
            ["(axis -1): C divisible by 9 (divisible by 9)"],
        ),
        (nn.PixelShuffle(2), (C, H, W), "(floor(C/4), 2*H, 2*W)", ["(axis -1): C divisible by 4 (divisible by 4)"]),
        (
            nn.PixelUnshuffle(2),
            (1, 3, H, W),
            "(1, 12, floor(H/2), floor(W/2))",
            ["(axis 0): H divisible by 2 (divisible by 2)", "(axis 1): W divisible by 2 (divisible by 2)"],
        ),
        (
            nn.PixelUnshuffle(3),
            (3, H, W),
            "(27, floor(H/3), floor(W/3))",
            ["(axis 0): H divisible by 3 (divisible by 3)", "(axis 1): W divisible by 3 (divisible by 3)"],
        ),
    ],
)
def test_symbolic_rearranging_records_what_must_divide(
    spec: Any, shape: tuple[Any, ...], output: str, constraints: list[str]
) -> None:
    """The axis of a constraint is the spatial axis (channels -1), batched or not, as for a convolution."""
    got = convcalc.plan(spec, shape)
    assert str(got.output_shape) == output
    assert [str(c).strip() for c in got.constraints] == constraints
    # a size that breaks the rule is refused when given as a number, with the same layer named
    numbers = tuple(v.subs({C: 10, H: 7, W: 7}) if isinstance(v, sympy.Expr) else v for v in shape)
    with pytest.raises(ShapeError, match="divisible"):
        convcalc.plan(spec, tuple(int(v) for v in numbers))


class _Recurrent(torch.nn.Module):
    def __init__(self, call: Callable[..., Any]) -> None:
        super().__init__()
        self.rnn = torch.nn.GRU(4, 8)
        self.call = call

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> Any:
        return self.call(self.rnn, x, h)


RECURRENT_CALLS = {
    "hx by position": lambda rnn, x, h: rnn(x, h)[1],
    "hx by name": lambda rnn, x, h: rnn(x, hx=h)[1],
    "input by name": lambda rnn, x, h: rnn(input=x, hx=h)[0],
    "no hx": lambda rnn, x, h: rnn(x)[1],
    "a third argument": lambda rnn, x, h: rnn(x, h, h)[0],
    "hx twice": lambda rnn, x, h: rnn(x, h, hx=h)[0],
    "an unknown name": lambda rnn, x, h: rnn(x, state=h)[0],
}


@pytest.mark.parametrize("call", RECURRENT_CALLS, ids=list(RECURRENT_CALLS))
def test_recurrent_call_binds_its_arguments_as_torch(call: str) -> None:
    model = _Recurrent(RECURRENT_CALLS[call])
    x, h = torch.zeros(5, 2, 4), torch.zeros(1, 2, 8)
    try:
        expected = tuple(model(x, h).shape)
    except TypeError:
        with pytest.raises(SpecError, match=r"rnn \(GRU\): is called with .*torch's GRU takes \(input, hx\)"):
            convcalc.plan(model, [(5, 2, 4), (1, 2, 8)])
        return
    assert convcalc.plan(model, [(5, 2, 4), (1, 2, 8)]).output_shape == expected


def test_recurrent_hx_of_the_wrong_shape_is_refused_by_name_as_by_position() -> None:
    for call in (RECURRENT_CALLS["hx by position"], RECURRENT_CALLS["hx by name"]):
        model = _Recurrent(call)
        with pytest.raises(RuntimeError):
            model(torch.zeros(5, 2, 4), torch.zeros(1, 3, 8))
        with pytest.raises(ShapeError, match=r"rnn \(GRU\): hx\[0\] must have shape \(1, 2, 8\)"):
            convcalc.plan(model, [(5, 2, 4), (1, 3, 8)])


def test_recurrent_call_without_its_input_names_it() -> None:
    model = _Recurrent(lambda rnn, x, h: rnn(hx=h)[0])
    with pytest.raises(TypeError, match="input"):
        model(torch.zeros(5, 2, 4), torch.zeros(1, 2, 8))
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(model, [(5, 2, 4), (1, 2, 8)])
    assert str(caught.value).endswith("rnn (GRU): input must be a tensor. Received: input=None")


def test_argument_errors_name_every_argument_received() -> None:
    with pytest.raises(SpecError) as caught:
        convcalc.plan(_Recurrent(RECURRENT_CALLS["a third argument"]), [(5, 2, 4), (1, 2, 8)])
    assert str(caught.value).endswith(
        "rnn (GRU): is called with arg2, which it does not take; torch's GRU takes (input, hx) and refuses the call "
        "too. Received: arguments=input, hx, arg2"
    )
    with pytest.raises(SpecError) as caught:
        convcalc.plan(_Recurrent(RECURRENT_CALLS["hx twice"]), [(5, 2, 4), (1, 2, 8)])
    assert str(caught.value).endswith(
        "rnn (GRU): is called with hx twice, by position and by name; torch's GRU takes (input, hx) and refuses the "
        "call too. Received: arguments=input, hx, hx"
    )


class _Attention(torch.nn.Module):
    def __init__(self, call: Callable[..., Any]) -> None:
        super().__init__()
        self.att = torch.nn.MultiheadAttention(8, 2)
        self.call = call

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Any:
        return self.call(self.att, x, mask)


ATTENTION_CALLS = {
    # key_padding_mask, need_weights, attn_mask, average_attn_weights by position, as torch binds them
    "no weights": lambda att, x, m: att(x, x, x, None, False),
    "weights per head": lambda att, x, m: att(x, x, x, None, True, None, False),
    "padding mask by position": lambda att, x, m: att(x, x, x, m),
    "attention mask by position": lambda att, x, m: att(x, x, x, None, True, m),
    "all by name": lambda att, x, m: att(query=x, key=x, value=x, key_padding_mask=m, need_weights=False),
    "a ninth argument": lambda att, x, m: att(x, x, x, None, True, None, True, False, None),
}


@pytest.mark.parametrize("call", ATTENTION_CALLS, ids=list(ATTENTION_CALLS))
@pytest.mark.parametrize("mask", [(2, 5), (2, 6), (5, 5)])
def test_attention_call_binds_its_arguments_as_torch(call: str, mask: tuple[int, int]) -> None:
    """Masks and flags given by position are read as torch reads them: the padding mask (N, S) is checked, the
    weights are None without ``need_weights``, per head without ``average_attn_weights``."""
    model = _Attention(ATTENTION_CALLS[call])
    x = torch.zeros(5, 2, 8)
    try:
        out = model(x, torch.zeros(mask, dtype=torch.bool))
    except (TypeError, RuntimeError, AssertionError):
        with pytest.raises(ConvCalcError):
            convcalc.plan(model, [(5, 2, 8), mask])
        return
    expected = tuple(None if t is None else tuple(t.shape) for t in out)
    assert convcalc.plan(model, [(5, 2, 8), mask]).output_shapes == expected


class _Unpool(torch.nn.Module):
    def __init__(self, call: Callable[..., Any]) -> None:
        super().__init__()
        self.pool = torch.nn.MaxPool2d(2, return_indices=True)
        self.unpool = torch.nn.MaxUnpool2d(2)
        self.call = call

    def forward(self, x: torch.Tensor) -> Any:
        y, i = self.pool(x)
        return self.call(self.unpool, y, i, x)


UNPOOL_CALLS = {
    "size by position": lambda up, y, i, x: up(y, i, x.size()),
    "size by name": lambda up, y, i, x: up(y, indices=i, output_size=x.size()),
    "a fourth argument": lambda up, y, i, x: up(y, i, x.size(), None),
}


@pytest.mark.parametrize("call", UNPOOL_CALLS, ids=list(UNPOOL_CALLS))
def test_unpool_call_binds_its_arguments_as_torch(call: str) -> None:
    model = _Unpool(UNPOOL_CALLS[call])
    try:
        expected = tuple(model(torch.zeros(1, 3, 7, 9)).shape)
    except TypeError:
        with pytest.raises(SpecError, match=r"unpool \(MaxUnpool2d\): is called with arg3"):
            convcalc.plan(model, (1, 3, 7, 9))
        return
    assert convcalc.plan(model, (1, 3, 7, 9)).output_shape == expected == (1, 3, 7, 9)


class _Unbatched(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> Any:
        return self.layer(x)[0]


@pytest.mark.parametrize(("kind", "length", "features"), [("GRU", 5, 3), ("LSTM", 4, 2), ("RNN", 1, 3), ("RNN", 3, 1)])
def test_unbatched_recurrent_ptflops_count_is_ptflops_hook_count(kind: str, length: int, features: int) -> None:
    """ptflops' RNN hook reads dims 0 and 1 as batch and steps, so an unbatched ``(L, H_in)`` counts ``L * H_in``
    steps; ptflops then divides by dim 0 of the model input (``L``, taken for the batch). The plan, for one sample,
    is the hook's count: ptflops' figure times ``L``."""
    import ptflops

    layer = getattr(torch.nn, kind)(features, 4)
    x = torch.randn(length, features)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        reported, _ = ptflops.get_model_complexity_info(
            _Unbatched(layer),
            tuple(x.shape),
            input_constructor=lambda _: x,
            as_strings=False,
            print_per_layer_stat=False,
            backend="pytorch",
        )
    spec = getattr(nn, kind)(features, 4)
    assert convcalc.plan(nn.Sequential(spec), (length, features), macs="ptflops").macs == reported * length


def _unpool_pair(n: int, size: Any) -> torch.nn.Module:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = getattr(torch.nn, f"MaxPool{n}d")(2, return_indices=True)
            self.unpool = getattr(torch.nn, f"MaxUnpool{n}d")(2)

        def forward(self, x: torch.Tensor) -> Any:
            y, i = self.pool(x)
            return self.unpool(y, i, output_size=size(x) if callable(size) else size)

    return Net()


@pytest.mark.parametrize(("n", "shape"), [(2, (1, 3, 4, 5)), (2, (3, 4, 5)), (1, (2, 3, 6)), (1, (3, 6))])
@pytest.mark.parametrize("form", ["spatial", "one more", "the input's", "one more than the input's", "too large"])
def test_unpool_output_size_forms_as_torch(n: int, shape: tuple[int, ...], form: str) -> None:
    """torch takes ``n`` or ``n + 2`` sizes, whether the input is batched or not, each within a stride of the
    default size."""
    size = {
        "spatial": shape[-n:],
        "one more": shape[-n - 1 :],
        "the input's": shape,
        "one more than the input's": (1, *shape),
        "too large": tuple(d + 5 for d in shape[-n:]),
    }[form]
    model = _unpool_pair(n, size)
    try:
        expected = tuple(model(torch.zeros(shape)).shape)
    except ValueError:
        with pytest.raises(ShapeError, match=r"unpool \(MaxUnpool\dd\): output_size"):
            convcalc.plan(model, shape)
        return
    assert convcalc.plan(model, shape).output_shape == expected


def test_unpool_messages_name_the_layer_and_what_fits() -> None:
    where = "unpool (MaxUnpool2d)"
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_unpool_pair(2, (9, 10)), (1, 3, 4, 5))
    assert str(caught.value) == (
        f"{where}: output_size[0]=9 is out of range: use a size from 3 to 5. Received: output_size=(9, 10), "
        "input_shape=(1, 3, 2, 2)"
    )
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_unpool_pair(2, (3, 4, 5)), (1, 3, 4, 5))
    assert str(caught.value) == f"{where}: output_size must have 2 or 4 elements. Received: output_size=(3, 4, 5)"

    class WrongIndices(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = torch.nn.MaxPool2d(2, return_indices=True)
            self.unpool = torch.nn.MaxUnpool2d(2)

        def forward(self, x: torch.Tensor) -> Any:
            y, i = self.pool(x)
            return self.unpool(y, i[:, :1])

    with pytest.raises(RuntimeError):
        WrongIndices()(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(WrongIndices(), (1, 3, 4, 4))
    assert str(caught.value).startswith(f"{where}: indices must have the input's shape (1, 3, 2, 2). Received: ")


def test_unpool_too_small_output_names_the_padding_that_fits() -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(nn.Sequential(nn.Identity(), nn.MaxUnpool2d(2, 1, 1)), (1, 3, 1, 4))
    assert str(caught.value).startswith(
        "1 (MaxUnpool2d): (size - 1) * stride - 2 * padding + kernel_size = 0 is too small: use padding of at most 0."
    )
    rows = convcalc.plan(nn.Sequential(nn.Identity(), nn.MaxUnpool2d(3, 2, 1)), (1, 3, 4, 5)).rows
    assert (rows[1].kind, rows[1].input_shape, rows[1].output_shape) == ("MaxUnpool2d", (1, 3, 4, 5), (1, 3, 7, 9))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.MaxUnpool2d(0), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.MaxUnpool2d(2, 0), "stride must be at least 1. Received: stride=0"),
        (lambda: nn.MaxUnpool1d(2, 2, -1), "padding must be at least 0. Received: padding=-1"),
        (
            lambda: nn.MaxUnpool3d((2, 2), 2),
            "kernel_size must be an int or a tuple of 3 ints. Received: kernel_size=(2, 2), stride=2, padding=0",
        ),
    ],
)
def test_unpool_argument_checks(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Fold(0, 2), "output_size must be at least 1. Received: output_size=0"),
        (lambda: nn.Fold((4, 4), 0), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.Fold((4, 4), 2, dilation=0), "dilation must be at least 1. Received: dilation=0"),
        (lambda: nn.Fold((4, 4), 2, padding=-1), "padding must be at least 0. Received: padding=-1"),
        (lambda: nn.Fold((4, 4), 2, stride=0), "stride must be at least 1. Received: stride=0"),
        (
            lambda: nn.Fold((4, 4, 4), 2),
            "output_size must be an int or a tuple of 2 ints. Received: output_size=(4, 4, 4), kernel_size=2, "
            "dilation=1, padding=0, stride=1",
        ),
        (
            lambda: nn.Fold((4, 4), (2, 2, 2)),
            "kernel_size must be an int or a tuple of 2 ints. Received: output_size=(4, 4), kernel_size=(2, 2, 2), "
            "dilation=1, padding=0, stride=1",
        ),
        (lambda: nn.Unfold(0), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.Unfold(2, dilation=0), "dilation must be at least 1. Received: dilation=0"),
        (lambda: nn.Unfold(2, padding=-1), "padding must be at least 0. Received: padding=-1"),
        (lambda: nn.Unfold(2, stride=0), "stride must be at least 1. Received: stride=0"),
        (
            lambda: nn.Unfold((2, 2, 2)),
            "kernel_size must be an int or a tuple of 2 ints. Received: kernel_size=(2, 2, 2), dilation=1, padding=0, "
            "stride=1",
        ),
    ],
)
def test_fold_and_unfold_argument_checks(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            nn.Fold((4, 4), 2),
            (2, 8),
            "2 input channels are not divisible by kernel_size 2 x 2 = 4: use a multiple of 4.",
        ),
        (
            nn.Fold((4, 4), 2),
            (1, 8, 4),
            "output_size=(4, 4) holds 3 x 3 = 9 blocks but the input has L=4: use an input with L=9, or an "
            "output_size with 4 blocks.",
        ),
        (
            nn.Fold((4, 4), 2),
            (8,),
            "expects a 3-D input (N, C * kh * kw, L) or an unbatched 2-D one, but receives 1-D.",
        ),
        (nn.Unfold(2), (3, 4), "expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives 2-D."),
    ],
)
def test_fold_and_unfold_input_checks_name_the_layer_path(spec: Any, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(nn.Sequential(nn.Identity(), spec), shape)
    assert str(caught.value) == f"1 ({spec.kind}): {message} Received: input_shape={shape}"
    with pytest.raises((RuntimeError, IndexError)):  # torch refuses the same input
        spec.to_torch()(torch.zeros(shape))


@pytest.mark.parametrize("shape", [(1, C, H), (C, H)])
def test_symbolic_fold_records_channels_and_blocks(shape: tuple[Any, ...]) -> None:
    got = convcalc.plan(nn.Fold((4, 4), 2), shape)
    assert str(got.output_shape) == str((*shape[:-2], sympy.floor(C / 4), 4, 4))
    assert [str(c).strip() for c in got.constraints] == [
        "(axis -1): C divisible by 4 (divisible by 4)",
        "(axis 0): H == 9 (L=9)",
    ]


def test_fold_and_unfold_rows_record_their_kind_and_input() -> None:
    rows = convcalc.plan(nn.Sequential(nn.Unfold(2), nn.Fold((4, 4), 2)), (1, 3, 4, 4)).rows
    assert [(r.kind, r.input_shape, r.output_shape) for r in rows] == [
        ("Unfold", (1, 3, 4, 4), (1, 12, 9)),
        ("Fold", (1, 12, 9), (1, 3, 4, 4)),
    ]


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            nn.Unfold(5),
            (1, 3, 4, 4),
            "1 (Unfold): a block of 5 (kernel_size=5, dilation=1) does not fit in size 4 + 2 * padding=0: use padding "
            "of at least 1 or a smaller kernel_size. The smallest network input that fits every layer: input_shape=(1, 3, 5, 5). Received: "
            "input_shape=(1, 3, 4, 4)",
        ),
        (
            nn.Unfold(3, dilation=2, padding=(0, 1)),
            (1, 3, 9, 2),
            "1 (Unfold): a block of 5 (kernel_size=3, dilation=2) does not fit in size 2 + 2 * padding=1: use padding "
            "of at least 2 or a smaller kernel_size. The smallest network input that fits every layer: input_shape=(1, 3, 9, 3). Received: input_shape=(1, 3, 9, 2)",
        ),
        (
            nn.Fold((3, 3), 4),
            (1, 16, 1),
            "1 (Fold): a block of 4 (kernel_size=4, dilation=1) does not fit in size 3 + 2 * padding=0: use padding of "
            "at least 1 or a smaller kernel_size. Received: input_shape=(1, 16, 1)",
        ),
    ],
)
def test_a_block_that_does_not_fit_is_refused_as_torch_refuses_it(
    spec: Any, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(nn.Sequential(nn.Identity(), spec), shape)
    assert str(caught.value) == message
    with pytest.raises(RuntimeError):
        spec.to_torch()(torch.zeros(shape))


def test_symbolic_unfold_needs_one_block_per_axis() -> None:
    got = convcalc.plan(nn.Unfold(3, stride=2), (1, 3, H, W))
    assert [str(c).strip() for c in got.constraints] == [
        "(axis 0): floor((H - 3)/2) + 1 >= 1 (size at least 1)",
        "(axis 1): floor((W - 3)/2) + 1 >= 1 (size at least 1)",
    ]


MHA_ARGS = "dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False"


@pytest.mark.parametrize(
    ("make", "make_torch", "message"),
    [
        (
            lambda: nn.MultiheadAttention(0, 1),
            lambda: torch.nn.MultiheadAttention(0, 1),
            "embed_dim must be at least 1. Received: embed_dim=0",
        ),
        (
            lambda: nn.MultiheadAttention(8, 0),
            lambda: torch.nn.MultiheadAttention(8, 0),
            "num_heads must be at least 1. Received: num_heads=0",
        ),
        (lambda: nn.MultiheadAttention(8, 2, kdim=0), None, "kdim must be at least 1. Received: kdim=0"),
        (lambda: nn.MultiheadAttention(8, 2, vdim=-1), None, "vdim must be at least 1. Received: vdim=-1"),
        (
            lambda: nn.MultiheadAttention(8, 2, bias=2),
            None,
            "bias must be True or False. Received: embed_dim=8, num_heads=2, dropout=0.0, bias=2, add_bias_kv=False, "
            "add_zero_attn=False, kdim=None, vdim=None, batch_first=False",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2, add_zero_attn=None),
            None,
            "add_zero_attn must be True or False. Received: embed_dim=8, num_heads=2, dropout=0.0, bias=True, "
            "add_bias_kv=False, add_zero_attn=None, kdim=None, vdim=None, batch_first=False",
        ),
        (
            lambda: nn.MultiheadAttention(12, 5),
            lambda: torch.nn.MultiheadAttention(12, 5),
            f"embed_dim must be divisible by num_heads (one of [1, 2, 3, 4, 6, 12]). Received: embed_dim=12, "
            f"num_heads=5, {MHA_ARGS}",
        ),
        (
            lambda: nn.MultiheadAttention(8, 2, dropout="0.1"),
            None,
            "dropout must be a number. Received: embed_dim=8, num_heads=2, dropout='0.1', bias=True, "
            "add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False",
        ),
    ],
)
def test_attention_argument_checks(make: Callable[[], Any], make_torch: Callable[[], Any] | None, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        make()
    assert str(caught.value) == message
    if make_torch is not None:
        with pytest.raises((ValueError, AssertionError, ZeroDivisionError, RuntimeError)):
            make_torch()


class _States(torch.nn.Module):
    def __init__(self, kind: str, call: Callable[..., Any]) -> None:
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(4, 8)
        self.call = call

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> Any:
        return self.call(self.rnn, x, h, c)


STATE_CALLS = {
    "LSTM (h, c)": ("LSTM", lambda r, x, h, c: r(x, (h, c))[1][1], None),
    "LSTM hx=(h, c)": ("LSTM", lambda r, x, h, c: r(x, hx=(h, c))[0], None),
    "LSTM h alone": (
        "LSTM",
        lambda r, x, h, c: r(x, h)[0],
        "rnn (LSTM): hx takes 2 tensors ((1, 2, 8), (1, 2, 8)). Received: hx=(1, 2, 8)",
    ),
    "GRU (h, c)": (
        "GRU",
        lambda r, x, h, c: r(x, (h, c))[0],
        "rnn (GRU): hx takes 1 tensor (1, 2, 8). Received: hx=((1, 2, 8), (1, 2, 8))",
    ),
    "LSTM c of another rank": (
        "LSTM",
        lambda r, x, h, c: r(x, (h, c[0]))[0],
        "rnn (LSTM): hx[1] must have shape (1, 2, 8) for this input. Received: hx[1]=(2, 8), input_shape=(5, 2, 4)",
    ),
    "LSTM c of another batch": (
        "LSTM",
        lambda r, x, h, c: r(x, (h, c[:, :1]))[0],
        "rnn (LSTM): hx[1] must have shape (1, 2, 8) for this input. Received: hx[1]=(1, 1, 8), input_shape=(5, 2, 4)",
    ),
}


@pytest.mark.parametrize("case", STATE_CALLS, ids=list(STATE_CALLS))
def test_recurrent_states_are_checked_as_torch_checks_them(case: str) -> None:
    kind, call, message = STATE_CALLS[case]
    model = _States(kind, call)
    shapes = [(5, 2, 4), (1, 2, 8), (1, 2, 8)]
    if message is None:
        expected = tuple(model(*(torch.zeros(s) for s in shapes)).shape)
        assert convcalc.plan(model, shapes).output_shape == expected
        return
    with pytest.raises((RuntimeError, IndexError, AttributeError)):
        model(*(torch.zeros(s) for s in shapes))
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(model, shapes)
    assert str(caught.value) == message


class _Masked(torch.nn.Module):
    def __init__(self, batch_first: bool, which: str) -> None:
        super().__init__()
        self.att = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first, kdim=6, vdim=4)
        self.which = which

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> Any:
        return self.att(q, k, v, **{self.which: mask})[0]


MASK_CASES = [
    # (batch_first, query, key, value, mask)
    (False, (5, 2, 8), (7, 2, 6), (7, 2, 4), (5, 7)),
    (False, (5, 2, 8), (7, 2, 6), (7, 2, 4), (4, 5, 7)),
    (False, (5, 2, 8), (7, 2, 6), (7, 2, 4), (2, 7)),
    (False, (5, 2, 8), (7, 2, 6), (7, 2, 4), (7, 5)),
    (False, (5, 2, 8), (7, 2, 6), (7, 2, 4), (2, 5, 7)),
    (True, (2, 5, 8), (2, 7, 6), (2, 7, 4), (5, 7)),
    (True, (2, 5, 8), (2, 7, 6), (2, 7, 4), (4, 5, 7)),
    (True, (2, 5, 8), (2, 7, 6), (2, 7, 4), (2, 7)),
    (True, (2, 5, 8), (2, 7, 6), (2, 7, 4), (5, 2)),
    (False, (5, 8), (7, 6), (7, 4), (7,)),
    (False, (5, 8), (7, 6), (7, 4), (2, 5, 7)),
    (False, (5, 8), (7, 6), (7, 4), (5, 7)),
    (False, (5, 8), (7, 6), (7, 4), (3, 5, 7)),
    (False, (5, 8), (7, 6), (7, 4), (1, 7)),
]


@pytest.mark.parametrize("which", ["attn_mask", "key_padding_mask"])
@pytest.mark.parametrize(("batch_first", "query", "key", "value", "mask"), MASK_CASES)
def test_attention_masks_are_taken_as_torch_takes_them(
    which: str, batch_first: bool, query: Any, key: Any, value: Any, mask: Any
) -> None:
    model = _Masked(batch_first, which)
    shapes = [query, key, value, mask]
    try:
        expected = tuple(model(*(torch.zeros(s) for s in shapes[:3]), torch.zeros(mask, dtype=torch.bool)).shape)
    except (RuntimeError, AssertionError, IndexError):
        with pytest.raises(ShapeError, match=rf"att \(MultiheadAttention\): {which} of shape"):
            convcalc.plan(model, shapes)
        return
    assert convcalc.plan(model, shapes).output_shape == expected


def test_attention_messages_name_the_layer_and_every_shape() -> None:
    where = "att (MultiheadAttention)"
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_Masked(False, "attn_mask"), [(5, 2, 8), (7, 2, 6), (7, 2, 4), (6, 7)])
    assert str(caught.value) == (
        f"{where}: attn_mask of shape (6, 7) does not fit: torch takes (5, 7) or (4, 5, 7) for a query of (5, 2, 8) "
        "and a key of (7, 2, 6). Received: attn_mask_shape=(6, 7)"
    )
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_Masked(False, "key_padding_mask"), [(5, 2, 8), (7, 2, 6), (7, 2, 4), (2, 7, 1)])
    assert str(caught.value) == (
        f"{where}: key_padding_mask of shape (2, 7, 1) does not fit: torch takes (2, 7) for a query of (5, 2, 8) and a "
        "key of (7, 2, 6). Received: key_padding_mask_shape=(2, 7, 1)"
    )
    received = "Received: query=(5, 2, 8), key=(7, 2, 6), value=(6, 2, 4)"
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_Masked(False, "attn_mask"), [(5, 2, 8), (7, 2, 6), (6, 2, 4), (5, 7)])
    assert str(caught.value).startswith(
        f"{where}: the value has size 6 on axis 0 but the key has 7: key and value lengths must agree. {received}"
    )
    received = "Received: query=(5, 2, 8), key=(7, 3, 6), value=(7, 2, 4)"
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_Masked(False, "attn_mask"), [(5, 2, 8), (7, 3, 6), (7, 2, 4), (5, 7)])
    assert str(caught.value).startswith(
        f"{where}: the key has size 3 on axis 1 but the query has 2: batch sizes must agree. {received}"
    )
    received = "Received: query=(5, 2, 8), key=(7, 2, 6), value=(7, 2, 4, 1)"
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(_Masked(False, "attn_mask"), [(5, 2, 8), (7, 2, 6), (7, 2, 4, 1), (5, 7)])
    assert str(caught.value) == (
        f"{where}: query, key and value must all be 3-D (batched) or all 2-D (unbatched). "
        "Received: query=(5, 2, 8), key=(7, 2, 6), value=(7, 2, 4, 1)"
    )
    for shapes, said in [
        ([(5, 2, 8), (7, 2, 5), (7, 2, 4), (5, 7)], "kdim=6 but the key has 5 features (last dim): use kdim=5"),
        ([(5, 2, 8), (7, 2, 6), (7, 2, 3), (5, 7)], "vdim=4 but the value has 3 features (last dim): use vdim=3"),
        (
            [(5, 2, 9), (7, 2, 6), (7, 2, 4), (5, 7)],
            "embed_dim=8 but the query has 9 features (last dim): use embed_dim=9",
        ),
    ]:
        with pytest.raises(ShapeError) as caught:
            convcalc.plan(_Masked(False, "attn_mask"), shapes)
        assert str(caught.value).startswith(f"{where}: {said}. Received: ")


def test_attention_without_a_query_names_it() -> None:
    class NoQuery(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = torch.nn.MultiheadAttention(8, 2)

        def forward(self, x: torch.Tensor) -> Any:
            return self.att(key=x, value=x)[0]

    with pytest.raises(TypeError):
        NoQuery()(torch.zeros(5, 2, 8))
    with pytest.raises(ShapeError) as caught:
        convcalc.plan(NoQuery(), (5, 2, 8))
    assert str(caught.value) == "att (MultiheadAttention): query must be a tensor. Received: query=None"


@pytest.mark.parametrize(
    ("batch_first", "query", "key", "value"),
    [
        (False, (5, 2, 8), (7, 2, 6), (7, 2, 4)),
        (True, (2, 5, 8), (2, 7, 6), (2, 7, 4)),
        (False, (5, 8), (7, 6), (7, 4)),
    ],
)
@pytest.mark.parametrize("bias", [True, False])
def test_attention_counts_per_sample_by_hand_in_every_layout(
    batch_first: bool, query: Any, key: Any, value: Any, bias: bool
) -> None:
    """L = 5 queries, S = 7 keys, E = 8, kdim 6, vdim 4: projections 2 L E E + S (kdim + vdim) E, scores and
    weighted sum 2 L S E; a bias adds 2 L E + 2 S E; torchinfo reports none for this layer."""

    class Attend(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = torch.nn.MultiheadAttention(8, 2, bias=bias, kdim=6, vdim=4, batch_first=batch_first)

        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Any:
            return self.att(q, k, v)[0]

    macs = 2 * 5 * 8 * 8 + 7 * (6 + 4) * 8 + 2 * 5 * 7 * 8
    bias_adds = (2 * 5 * 8 + 2 * 7 * 8) if bias else 0
    shapes = [query, key, value]
    assert convcalc.plan(Attend(), shapes).macs == macs == 1760
    assert convcalc.plan(Attend(), shapes, macs="macs+bias").macs == macs + bias_adds
    assert convcalc.plan(Attend(), shapes, macs="flops").macs == 2 * macs
    assert convcalc.plan(Attend(), shapes, macs="torchinfo").macs == 0
    row = convcalc.plan(Attend(), shapes).rows[0]
    assert (row.kind, row.input_shape, row.output_shape) == ("MultiheadAttention", query, query)


@pytest.mark.parametrize("dropout", [1.5, -0.5, 2])
def test_attention_takes_any_dropout_as_torch_does(dropout: float) -> None:
    """torch builds MultiheadAttention with any dropout and runs it in eval mode: so does the plan."""
    att = torch.nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=True).eval()
    x = torch.zeros(3, 5, 8)
    with torch.no_grad():
        out, weights = att(x, x, x)
    planned = convcalc.plan(att, [(3, 5, 8)] * 3)
    assert planned.output_shapes == (tuple(out.shape), tuple(weights.shape))
    assert planned.total_params == sum(p.numel() for p in att.parameters())
    spec = nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=True)
    assert spec.to_torch().dropout == dropout
