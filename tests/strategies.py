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
# Networks for the input-size solver: 1-D and 2-D chains and branches whose valid
# input sizes are checked against torch by brute force (tiny channels, small sizes)
# --------------------------------------------------------------------------- #


@st.composite
def solver_layers(draw: st.DrawFn, ndim: int, channels: int, depth: int = 0) -> tuple[list[Any], int]:
    """Shape-changing ``convcalc.nn`` layers on ``ndim`` spatial axes: pools (max/avg, ceil_mode,
    padding, dilation), strided/dilated convs, transposed convs, residual Adds and Concats (crop
    or not); returns the layers and the channels they end with."""
    from convcalc import nn

    conv = {1: nn.Conv1d, 2: nn.Conv2d}[ndim]
    tconv = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}[ndim]
    maxpool = {1: nn.MaxPool1d, 2: nn.MaxPool2d}[ndim]
    avgpool = {1: nn.AvgPool1d, 2: nn.AvgPool2d}[ndim]
    layers: list[Any] = []
    c = channels
    ups = 0
    for _ in range(draw(st.integers(1, 4 if depth == 0 else 2))):
        kind = draw(st.sampled_from(["conv", "pool", "avgpool", "tconv", "tconv", "add", "concat", "unet"]))
        if kind == "tconv" and ups >= (2 if ndim == 1 else 1):
            kind = "conv"  # few upsamplings, so that torch's tensors stay small
        if kind == "conv":
            cout = draw(st.integers(1, 2))
            k = draw(st.integers(1, 5))
            layers.append(
                conv(
                    c,
                    cout,
                    k,
                    stride=draw(st.integers(1, 4)),
                    padding=draw(st.integers(0, 2)),
                    dilation=draw(st.integers(1, 3)),
                )
            )
            c = cout
        elif kind == "pool":
            k = draw(st.integers(1, 5))
            layers.append(
                maxpool(
                    k,
                    stride=draw(st.none() | st.integers(1, 4)),
                    padding=draw(st.integers(0, k // 2)),
                    dilation=draw(st.integers(1, 2)),
                    ceil_mode=draw(st.booleans()),
                )
            )
        elif kind == "avgpool":
            k = draw(st.integers(1, 5))
            layers.append(
                avgpool(
                    k,
                    stride=draw(st.none() | st.integers(1, 4)),
                    padding=draw(st.integers(0, k // 2)),
                    ceil_mode=draw(st.booleans()),
                )
            )
        elif kind == "tconv":
            cout = draw(st.integers(1, 2))
            s = draw(st.integers(1, 4 if ndim == 1 else 3))
            d = draw(st.integers(1, 2))
            ups += 1
            layers.append(
                tconv(
                    c,
                    cout,
                    draw(st.integers(1, 4)),
                    stride=s,
                    padding=draw(st.integers(0, 3)),
                    output_padding=draw(st.integers(0, max(s, d) - 1)),
                    dilation=d,
                )
            )
            c = cout
        elif kind == "add" and depth < 2:
            if draw(st.booleans()):  # a block that keeps the size: conv k = 2p + 1, padding p
                p = draw(st.integers(0, 2))
                branch: list[Any] = [conv(c, c, 2 * p + 1, padding=p)]
            else:
                branch, cb = draw(solver_layers(ndim, c, depth + 1))
                if cb != c:
                    branch.append(conv(cb, c, 1))
            layers.append(nn.Add(nn.Sequential(*branch), nn.Identity()))
        elif kind == "concat" and depth < 2:
            first, c1 = draw(solver_layers(ndim, c, depth + 1))
            second, c2 = draw(solver_layers(ndim, c, depth + 1))
            layers.append(nn.Concat(nn.Sequential(*first), nn.Sequential(*second), crop=draw(st.booleans())))
            c = c1 + c2
        elif kind == "unet" and depth < 2:  # the 2015 U-Net skip: pool, inner layers, up, crop the skip
            s = draw(st.integers(2, 3))
            inner, ci = draw(solver_layers(ndim, c, depth + 1))
            up = tconv(ci, c, s, stride=s)
            layers.append(nn.Concat(nn.Identity(), nn.Sequential(maxpool(s), *inner, up), crop=True))
            c = 2 * c
    return layers, c


@dataclass(frozen=True)
class SolverCase:
    """A network for the solver check: ``symbols`` is ``"H"`` (1-D), ``"HH"`` (square 2-D),
    ``"H7"`` (2-D with a fixed width) or ``"HW"`` (2-D, two symbols)."""

    network: Any
    channels: int
    ndim: int
    symbols: str
    head: int | None  # Linear in_features after Flatten, or None


@st.composite
def solver_cases(draw: st.DrawFn) -> SolverCase:
    """A random network for checking ``Plan.valid_sizes`` against torch, sometimes with a
    Flatten + Linear head whose ``in_features`` is the flattened size at a drawn input."""
    from convcalc import nn

    ndim = draw(st.sampled_from([1, 1, 2]))
    symbols = "H" if ndim == 1 else draw(st.sampled_from(["HH", "H7", "HW"]))
    channels = draw(st.integers(1, 2))
    layers, c = draw(solver_layers(ndim, channels))
    head = None
    if draw(st.integers(0, 3)) == 0:
        features = c * draw(st.integers(1, 12)) * (draw(st.integers(1, 12)) if ndim == 2 else 1)
        layers += [nn.Flatten(), nn.Linear(features, 2)]
        head = features
    return SolverCase(nn.Sequential(*layers), channels, ndim, symbols, head)
