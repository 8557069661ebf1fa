"""Hypothesis strategies shared by the property tests.

Bounds are small so that building and running a real torch layer per example
stays cheap: spatial sizes 1..40 for 1-D and 2-D inputs and 1..12 for 3-D,
channels 1..4, kernels 1..7, strides 1..4, dilations 1..3, paddings 0..4.

Invalid configurations are generated on purpose (inputs smaller than the
kernel, pooling padding above half the kernel, ``output_padding`` not below the
stride nor the dilation, ``padding="same"`` with a stride above 1, channel counts
that groups do not divide, upsampling to size 0): the tests check that convcalc
raises exactly where torch does.

Per-axis arguments are drawn either as one int (torch and convcalc broadcast it)
or as a tuple with one entry per spatial axis. Every config is a frozen
dataclass, so a failing example prints readably.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

MAX_SIZE = {1: 40, 2: 40, 3: 12}
CHANNELS = st.integers(1, 4)
KERNELS = st.integers(1, 7)
STRIDES = st.integers(1, 4)
DILATIONS = st.integers(1, 3)
PADDINGS = st.integers(0, 4)

PerAxis = int | tuple[int, ...]


def per_axis(elements: st.SearchStrategy[int], ndim: int) -> st.SearchStrategy[PerAxis]:
    """One value for every axis, or a tuple with one value per axis."""
    return st.one_of(elements, st.tuples(*[elements] * ndim))


def expand(value: Any, ndim: int) -> tuple[Any, ...]:
    """A per-axis argument as a tuple of ``ndim`` values."""
    return tuple(value) if isinstance(value, tuple) else (value,) * ndim


def sizes(ndim: int, minimum: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    """Spatial input sizes, one per axis."""
    return st.tuples(*[st.integers(minimum, MAX_SIZE[ndim])] * ndim)


# Mostly 1 (dense), otherwise 1..4, which often does not divide the channels.
GROUPS = st.one_of(st.just(1), st.integers(1, 4))


# --------------------------------------------------------------------------- #
# Convolution
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ConvConfig:
    ndim: int
    in_channels: int
    out_channels: int
    size: tuple[int, ...]
    kernel_size: PerAxis
    stride: PerAxis
    padding: PerAxis | str
    dilation: PerAxis
    groups: int
    bias: bool


@st.composite
def conv_configs(draw: st.DrawFn, ndim: int) -> ConvConfig:
    """``nn.ConvNd`` arguments: int/tuple/'same'/'valid' padding, dilation, groups, bias."""
    return ConvConfig(
        ndim=ndim,
        in_channels=draw(CHANNELS),
        out_channels=draw(CHANNELS),
        size=draw(sizes(ndim)),
        kernel_size=draw(per_axis(KERNELS, ndim)),
        # stride 1 often, so that padding="same" is valid in a fair share of examples
        stride=draw(st.one_of(st.just(1), per_axis(STRIDES, ndim))),
        padding=draw(st.one_of(per_axis(PADDINGS, ndim), st.sampled_from(["same", "valid"]))),
        dilation=draw(per_axis(DILATIONS, ndim)),
        groups=draw(GROUPS),
        bias=draw(st.booleans()),
    )


# --------------------------------------------------------------------------- #
# Transposed convolution
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class TransposeConfig:
    ndim: int
    in_channels: int
    out_channels: int
    size: tuple[int, ...]
    kernel_size: PerAxis
    stride: PerAxis
    padding: PerAxis
    output_padding: PerAxis
    dilation: PerAxis
    groups: int
    bias: bool


@st.composite
def transpose_configs(draw: st.DrawFn, ndim: int) -> TransposeConfig:
    """``nn.ConvTransposeNd`` arguments; ``output_padding`` 0..4 is often >= both stride and dilation."""
    return TransposeConfig(
        ndim=ndim,
        in_channels=draw(CHANNELS),
        out_channels=draw(CHANNELS),
        size=draw(sizes(ndim)),
        kernel_size=draw(per_axis(KERNELS, ndim)),
        stride=draw(per_axis(STRIDES, ndim)),
        padding=draw(per_axis(PADDINGS, ndim)),
        output_padding=draw(st.one_of(st.just(0), per_axis(st.integers(0, 4), ndim))),
        dilation=draw(per_axis(DILATIONS, ndim)),
        groups=draw(GROUPS),
        bias=draw(st.booleans()),
    )


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class PoolConfig:
    ndim: int
    channels: int
    size: tuple[int, ...]
    kernel_size: PerAxis
    stride: PerAxis | None
    padding: PerAxis
    dilation: PerAxis  # always 1 for average pooling, which has no dilation
    ceil_mode: bool
    count_include_pad: bool  # average pooling only; no effect on the shape


@st.composite
def pool_configs(draw: st.DrawFn, ndim: int, kind: str = "max", input_at_least_kernel: bool = False) -> PoolConfig:
    """``nn.MaxPoolNd`` (``kind="max"``, with dilation) or ``nn.AvgPoolNd`` (``kind="avg"``) arguments.

    Padding 0..4 is often more than half the kernel (an error in torch).
    ``input_at_least_kernel`` draws every input size >= the kernel on its axis.
    """
    kernel = draw(per_axis(KERNELS, ndim))
    if input_at_least_kernel:
        size = tuple(draw(st.integers(k, MAX_SIZE[ndim])) for k in expand(kernel, ndim))
    else:
        size = draw(sizes(ndim))
    return PoolConfig(
        ndim=ndim,
        channels=draw(CHANNELS),
        size=size,
        kernel_size=kernel,
        stride=draw(st.one_of(st.none(), per_axis(STRIDES, ndim))),
        padding=draw(st.one_of(st.just(0), per_axis(PADDINGS, ndim))),
        dilation=draw(per_axis(DILATIONS, ndim)) if kind == "max" else 1,
        ceil_mode=draw(st.booleans()),
        count_include_pad=draw(st.booleans()),
    )


# --------------------------------------------------------------------------- #
# Adaptive pooling
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class AdaptiveConfig:
    ndim: int
    channels: int
    size: tuple[int, ...]
    output_size: int | tuple[int | None, ...]


@st.composite
def adaptive_configs(draw: st.DrawFn, ndim: int) -> AdaptiveConfig:
    """Adaptive pooling to 0..(max size + 8) per axis (0 is legal: an empty output).

    ``None`` entries (keep that input size) appear for 2-D and 3-D; torch's 1-D
    adaptive pools take an int only.
    """
    out = st.integers(0, MAX_SIZE[ndim] + 8)
    entry = out if ndim == 1 else st.one_of(out, st.none())
    return AdaptiveConfig(
        ndim=ndim,
        channels=draw(CHANNELS),
        size=draw(sizes(ndim)),
        output_size=draw(st.one_of(out, st.tuples(*[entry] * ndim))),
    )


# --------------------------------------------------------------------------- #
# Upsampling
# --------------------------------------------------------------------------- #

UPSAMPLE_MODES = {1: ["nearest", "linear"], 2: ["nearest", "bilinear"], 3: ["nearest", "trilinear"]}

# Factors whose product with the size lands just below an integer in double precision
# (100 * 0.29 == 28.999999999999996), and plain ones.
TRICKY_FACTORS = [0.29, 0.07, 1 / 3, 2 / 3, 0.1, 0.7, 1.1, 1.5, 2.5, 0.5, 0.25, 2.0, 3.0]


def scale_factors() -> st.SearchStrategy[int | float]:
    """Int factors 1..4 and float factors in [0.05, 4]; small ones give size 0 (an error)."""
    return st.one_of(
        st.integers(1, 4),
        st.sampled_from(TRICKY_FACTORS),
        st.floats(0.05, 4.0, allow_nan=False, allow_infinity=False),
    )


@dataclass(frozen=True)
class UpsampleConfig:
    ndim: int
    channels: int
    size: tuple[int, ...]
    output_size: PerAxis | None
    scale_factor: int | float | tuple[int | float, ...] | None
    mode: str


@st.composite
def upsample_configs(draw: st.DrawFn, ndim: int) -> UpsampleConfig:
    """``nn.Upsample`` with ``size=`` (0 included, an error) or ``scale_factor=`` (int or float)."""
    by_size = draw(st.booleans())
    limit = 2 * MAX_SIZE[ndim]
    return UpsampleConfig(
        ndim=ndim,
        channels=draw(CHANNELS),
        size=draw(sizes(ndim)),
        output_size=draw(per_axis(st.integers(0, limit), ndim)) if by_size else None,
        scale_factor=None if by_size else draw(per_axis(scale_factors(), ndim)),
        mode=draw(st.sampled_from(UPSAMPLE_MODES[ndim])),
    )


# --------------------------------------------------------------------------- #
# Unfold (im2col)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class UnfoldConfig:
    batch: int
    channels: int
    size: tuple[int, int]
    kernel_size: PerAxis
    stride: PerAxis
    padding: PerAxis
    dilation: PerAxis


@st.composite
def unfold_configs(draw: st.DrawFn) -> UnfoldConfig:
    """``nn.Unfold`` arguments on an (N, C, H, W) input."""
    return UnfoldConfig(
        batch=draw(st.integers(1, 2)),
        channels=draw(CHANNELS),
        size=draw(sizes(2)),
        kernel_size=draw(per_axis(KERNELS, 2)),
        stride=draw(per_axis(STRIDES, 2)),
        padding=draw(per_axis(PADDINGS, 2)),
        dilation=draw(per_axis(DILATIONS, 2)),
    )


# --------------------------------------------------------------------------- #
# Random convcalc.nn networks (chains and DAGs), valid and invalid
# --------------------------------------------------------------------------- #


@st.composite
def nn_layers(draw: st.DrawFn, channels: int, depth: int = 0) -> tuple[list[Any], int]:
    """A list of convcalc.nn layers starting from ``channels`` channels, and the channels it ends with.

    Most layers fit; some get a wrong ``in_channels`` or a kernel too large for the input on
    purpose, so that invalid networks are drawn too.
    """
    from convcalc import nn

    layers: list[Any] = []
    c = channels
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "avgpool", "bn", "act", "tconv", "pad", "add", "concat"]))
        if kind == "conv":
            cout = draw(st.integers(1, 6))
            k = draw(st.integers(1, 5))
            cin = c if draw(st.integers(0, 19)) else c + 1  # 1 in 20: a channel mismatch
            layers.append(
                nn.Conv2d(
                    cin,
                    cout,
                    k,
                    stride=draw(st.integers(1, 3)),
                    padding=draw(st.integers(0, k // 2 + 1)),
                    dilation=draw(st.integers(1, 2)),
                    bias=draw(st.booleans()),
                )
            )
            c = cout
        elif kind == "pool":
            k = draw(st.integers(1, 4))
            layers.append(
                nn.MaxPool2d(
                    k,
                    stride=draw(st.none() | st.integers(1, 3)),
                    padding=draw(st.integers(0, k // 2)),
                    dilation=draw(st.integers(1, 2)),
                    ceil_mode=draw(st.booleans()),
                )
            )
        elif kind == "avgpool":
            k = draw(st.integers(1, 4))
            layers.append(
                nn.AvgPool2d(
                    k,
                    stride=draw(st.none() | st.integers(1, 3)),
                    padding=draw(st.integers(0, k // 2)),
                    ceil_mode=draw(st.booleans()),
                )
            )
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(c))
        elif kind == "act":
            layers.append(draw(st.sampled_from([nn.ReLU(), nn.GELU(), nn.SiLU(), nn.Identity(), nn.Dropout2d(0.1)])))
        elif kind == "tconv":
            cout = draw(st.integers(1, 6))
            s = draw(st.integers(1, 3))
            layers.append(
                nn.ConvTranspose2d(
                    c,
                    cout,
                    draw(st.integers(1, 4)),
                    stride=s,
                    padding=draw(st.integers(0, 2)),
                    output_padding=draw(st.integers(0, s - 1)),
                )
            )
            c = cout
        elif kind == "pad":
            layers.append(nn.ZeroPad2d(tuple(draw(st.integers(0, 2)) for _ in range(4))))
        elif kind == "add" and depth < 2:
            branch, cb = draw(nn_layers(c, depth + 1))
            if cb != c:
                branch.append(nn.Conv2d(cb, c, 1))
            layers.append(nn.Add(nn.Sequential(*branch), nn.Identity()))
        elif kind == "concat" and depth < 2:
            first, c1 = draw(nn_layers(c, depth + 1))
            second, c2 = draw(nn_layers(c, depth + 1))
            layers.append(nn.Concat(nn.Sequential(*first), nn.Sequential(*second), crop=draw(st.booleans())))
            c = c1 + c2
    return layers, c


@st.composite
def nn_networks(draw: st.DrawFn) -> tuple[Any, tuple[int, int, int, int]]:
    """A random convcalc.nn network and an input shape (N, C, H, W)."""
    from convcalc import nn

    channels = draw(st.integers(1, 4))
    layers, _ = draw(nn_layers(channels))
    if draw(st.booleans()):
        layers += [nn.AdaptiveAvgPool2d(draw(st.integers(1, 3))), nn.Flatten()]
        layers.append(nn.LazyLinear(draw(st.integers(1, 5))))
    shape = (draw(st.integers(1, 2)), channels, draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    return nn.Sequential(*layers), shape


# --------------------------------------------------------------------------- #
# Command lines: a sub-command followed by tokens that mean something to some sub-command
# --------------------------------------------------------------------------- #

CLI_COMMANDS = ["size", "pool", "tconv", "params", "plan", "solve", "exercise", "figure", "verify"]
CLI_TOKENS = [
    "conv",
    "linear",
    "bn",
    "tconv",
    "check",
    "-k",
    "-s",
    "-p",
    "-d",
    "--same",
    "--valid",
    "--strict",
    "--steps",
    "--ceil",
    "--convention",
    "keras",
    "torch",
    "--output-padding",
    "--no-bias",
    "--input",
    "1x3x32x32",
    "1x1xHxH",
    "1x3xHxW",
    "--style",
    "table",
    "torchinfo",
    "--format",
    "json",
    "csv",
    "md",
    "latex",
    "--macs",
    "flops",
    "--output",
    "--count",
    "--seed",
    "--lang",
    "ko",
    "en",
    "--kind",
    "mixed",
    "im2col",
    "--difficulty",
    "--index",
    "zoo:lenet5",
    "zoo:nope",
    "32x64",
    "3x5",
    "0",
    "-1",
    "1",
    "2",
    "3",
    "7",
    "227",
    "11",
    "1e3",
    "nan",
    "H",
    "x",
    "",
    "--help",
    "same",
    "valid",
    "10" * 12,
]


def cli_argv(max_tokens: int = 8) -> st.SearchStrategy[list[str]]:
    """A sub-command (or, now and then, a top-level option) and up to *max_tokens* tokens."""
    first = st.sampled_from([*CLI_COMMANDS, "--version", "--help", "sizes"])
    return st.builds(
        lambda head, rest: [head, *rest], first, st.lists(st.sampled_from(CLI_TOKENS), max_size=max_tokens)
    )


# --------------------------------------------------------------------------- #
# Sequence, attention, embedding and rearranging layers (tests/test_nn_sequence_layers.py)
#
# Feature sizes are drawn near the layer's own so that mismatches (which both torch
# and convcalc must reject) come up often; sizes stay tiny so a torch forward is cheap.
# --------------------------------------------------------------------------- #

SEQ = st.integers(1, 5)


@dataclass(frozen=True)
class RNNConfig:
    kind: str
    args: dict[str, Any]
    shape: tuple[int, ...]


@st.composite
def rnn_configs(draw: st.DrawFn) -> RNNConfig:
    kind = draw(st.sampled_from(["RNN", "GRU", "LSTM"]))
    hidden = draw(st.integers(1, 6))
    args: dict[str, Any] = {
        "input_size": draw(st.integers(1, 6)),
        "hidden_size": hidden,
        "num_layers": draw(st.integers(1, 3)),
        "bias": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bidirectional": draw(st.booleans()),
    }
    if kind == "LSTM":
        args["proj_size"] = draw(st.integers(0, hidden))  # proj_size == hidden_size is invalid in both
    if kind == "RNN":
        args["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    rank = draw(st.sampled_from([1, 2, 3, 3, 3, 4]))
    features = draw(st.one_of(st.just(args["input_size"]), st.integers(1, 6)))
    shape = (*draw(st.tuples(*[SEQ] * (rank - 1))), features)
    return RNNConfig(kind, args, shape)


@dataclass(frozen=True)
class MHAConfig:
    args: dict[str, Any]
    query: tuple[int, ...]
    key: tuple[int, ...]
    value: tuple[int, ...]
    need_weights: bool
    average_attn_weights: bool


@st.composite
def mha_configs(draw: st.DrawFn) -> MHAConfig:
    heads = draw(st.integers(1, 3))
    embed = draw(st.one_of(st.integers(1, 4).map(lambda m: m * heads), st.integers(1, 9)))
    args: dict[str, Any] = {
        "embed_dim": embed,
        "num_heads": heads,
        "bias": draw(st.booleans()),
        "add_bias_kv": draw(st.booleans()),
        "add_zero_attn": draw(st.booleans()),
        "kdim": draw(st.one_of(st.none(), st.integers(1, 5))),
        "vdim": draw(st.one_of(st.none(), st.integers(1, 5))),
        "batch_first": draw(st.booleans()),
    }
    kdim, vdim = args["kdim"] or embed, args["vdim"] or embed

    def near(size: int) -> st.SearchStrategy[int]:
        return st.one_of(st.just(size), st.just(size), st.integers(1, 6))

    batched = draw(st.booleans())
    length, source, batch = draw(SEQ), draw(SEQ), draw(st.integers(1, 3))
    lead_q = (batch, length) if args["batch_first"] else (length, batch)
    lead_k = (batch, source) if args["batch_first"] else (source, batch)
    if not batched:
        lead_q, lead_k = (length,), (source,)
    lead_v = lead_k
    if draw(st.integers(0, 9)) == 0:  # a wrong batch size or value length now and then
        lead_v = tuple(draw(SEQ) for _ in lead_k)
    query = (*lead_q, draw(near(embed)))
    key = (*lead_k, draw(near(kdim)))
    value = (*lead_v, draw(near(vdim)))
    if draw(st.integers(0, 19)) == 0:  # ranks that do not agree
        key = key[1:] if len(key) == 3 else (1, *key)
    return MHAConfig(args, query, key, value, draw(st.booleans()), draw(st.booleans()))


@dataclass(frozen=True)
class EmbeddingConfig:
    args: dict[str, Any]
    shape: tuple[int, ...]


@st.composite
def embedding_configs(draw: st.DrawFn) -> EmbeddingConfig:
    num = draw(st.integers(1, 20))
    args = {
        "num_embeddings": num,
        "embedding_dim": draw(st.integers(1, 8)),
        "padding_idx": draw(st.one_of(st.none(), st.integers(-num - 2, num + 1))),
    }
    shape = draw(st.lists(SEQ, min_size=1, max_size=3).map(tuple))
    return EmbeddingConfig(args, shape)


@dataclass(frozen=True)
class RearrangeConfig:
    kind: str
    args: dict[str, Any]
    shape: tuple[int, ...]
    output_size: tuple[int, ...] | None = None


@st.composite
def pixel_shuffle_configs(draw: st.DrawFn) -> RearrangeConfig:
    kind = draw(st.sampled_from(["PixelShuffle", "PixelUnshuffle"]))
    r = draw(st.integers(1, 3))
    name = "upscale_factor" if kind == "PixelShuffle" else "downscale_factor"
    rank = draw(st.sampled_from([2, 3, 4, 4, 5]))
    channels = draw(st.one_of(st.integers(1, 4).map(lambda c: c * r * r), st.integers(1, 18)))
    spatial = draw(st.tuples(*[st.one_of(st.integers(1, 4).map(lambda s: s * r), st.integers(1, 9))] * 2))
    shape = (*draw(st.tuples(*[st.integers(1, 2)] * max(rank - 3, 0))), channels, *spatial)[-rank:]
    return RearrangeConfig(kind, {name: r}, shape)


@st.composite
def unpool_configs(draw: st.DrawFn) -> RearrangeConfig:
    ndim = draw(st.integers(1, 3))
    k = draw(per_axis(st.integers(1, 4), ndim))
    args = {
        "kernel_size": k,
        "stride": draw(st.one_of(st.none(), per_axis(st.integers(1, 3), ndim))),
        "padding": draw(per_axis(st.integers(0, 3), ndim)),
    }
    rank = draw(st.sampled_from([ndim, ndim + 1, ndim + 2, ndim + 2]))
    shape = draw(st.tuples(*[st.integers(1, 3)] * (rank - ndim), *[st.integers(1, 5)] * ndim))
    output_size = None
    if draw(st.booleans()):
        output_size = draw(st.tuples(*[st.integers(1, 14)] * ndim))
    return RearrangeConfig(f"MaxUnpool{ndim}d", args, shape, output_size)


@st.composite
def fold_configs(draw: st.DrawFn) -> RearrangeConfig:
    kind = draw(st.sampled_from(["Fold", "Unfold"]))
    args: dict[str, Any] = {
        "kernel_size": draw(per_axis(st.integers(1, 4), 2)),
        "dilation": draw(per_axis(st.integers(1, 2), 2)),
        "padding": draw(per_axis(st.integers(0, 2), 2)),
        "stride": draw(per_axis(st.integers(1, 3), 2)),
    }
    if kind == "Unfold":
        rank = draw(st.sampled_from([2, 3, 4, 4, 5]))
        shape = draw(st.tuples(*[st.integers(1, 3)] * (rank - 2), st.integers(1, 9), st.integers(1, 9)))
        return RearrangeConfig(kind, args, shape)
    size = draw(st.tuples(st.integers(1, 9), st.integers(1, 9)))
    kh, kw = expand(args["kernel_size"], 2)
    dh, dw = expand(args["dilation"], 2)
    ph, pw = expand(args["padding"], 2)
    sh, sw = expand(args["stride"], 2)
    blocks = max((size[0] + 2 * ph - dh * (kh - 1) - 1) // sh + 1, 0) * max(
        (size[1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1, 0
    )
    channels = draw(st.one_of(st.integers(1, 3).map(lambda c: c * kh * kw), st.integers(1, 20)))
    length = draw(st.one_of(st.just(max(blocks, 1)), st.integers(1, 30)))
    rank = draw(st.sampled_from([1, 2, 3, 3, 4]))
    shape = (*draw(st.tuples(*[st.integers(1, 2)] * max(rank - 2, 0))), channels, length)[-rank:]
    return RearrangeConfig(kind, {"output_size": size, **args}, shape)
