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

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, settings
from hypothesis import strategies as st

MAX_SIZE = {1: 40, 2: 40, 3: 12}
CHANNELS = st.integers(1, 4)
KERNELS = st.integers(1, 7)
STRIDES = st.integers(1, 4)
DILATIONS = st.integers(1, 3)
PADDINGS = st.integers(0, 4)

PerAxis = int | tuple[int, ...]


def model_examples(local: int) -> int:
    """How many examples a property test takes that plans a model and runs its real forward on each: ``local``
    under the quick profile, a fortieth of the profile's (50 in CI's) where that is more."""
    return max(local, settings.default.max_examples // 40)


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


@st.composite
def onnx_networks(draw: st.DrawFn) -> tuple[Any, tuple[int, int, int, int]]:
    """A random convcalc.nn network (chains and DAGs) for export to ONNX, with a resize somewhere, and an input."""
    from convcalc import nn

    channels = draw(st.integers(1, 4))
    layers, _ = draw(nn_layers(channels))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(layers)))
        layers.insert(
            at, nn.Upsample(scale_factor=draw(st.integers(1, 3)), mode=draw(st.sampled_from(["nearest", "bilinear"])))
        )
    if draw(st.booleans()):
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(draw(st.integers(1, 5)))]
    shape = (draw(st.integers(1, 2)), channels, draw(st.integers(4, 24)), draw(st.integers(4, 24)))
    return nn.Sequential(*layers), shape


@st.composite
def onnx_auto_pad_nodes(draw: st.DrawFn) -> dict[str, Any]:
    """One Conv, ConvTranspose, MaxPool or AveragePool node's attributes with ``auto_pad`` (or asymmetric pads)."""
    op = draw(st.sampled_from(["Conv", "Conv", "MaxPool", "AveragePool", "ConvTranspose"]))
    auto_pad = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"]))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    attrs: dict[str, Any] = {"kernel_shape": list(k), "strides": list(s), "auto_pad": auto_pad}
    # ORT's pools pad auto_pad SAME for the undilated kernel, against the ONNX spec: dilated SAME pools are left out
    if op != "AveragePool" and auto_pad in ("VALID", "NOTSET"):
        attrs["dilations"] = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    if auto_pad == "NOTSET":
        attrs["pads"] = [draw(st.integers(0, kk - 1)) for kk in k + k]
    if op == "ConvTranspose" and auto_pad == "NOTSET":
        attrs["output_padding"] = [draw(st.integers(0, ss - 1)) for ss in s]
    if op in ("MaxPool", "AveragePool") and auto_pad == "NOTSET":
        attrs["ceil_mode"] = draw(st.integers(0, 1))
    if op == "Conv":
        attrs["group"] = draw(st.sampled_from([1, 2]))
    return {"op": op, "attrs": attrs, "cin": 2, "cout": draw(st.sampled_from([2, 4]))}


# --------------------------------------------------------------------------- #
# Nested torch modules: Sequential in Sequential, ModuleList / ModuleDict loops, custom blocks, residuals
# --------------------------------------------------------------------------- #

#: Leaves of a nested torch model; every one keeps a (N, 3, H, W) input's shape.
NESTING_LEAVES = ("conv3", "conv1", "frozen_conv", "bn", "relu", "identity", "dropout")


def torch_nestings(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Recipes of nested torch models, built by :func:`build_nesting`.

    A recipe is a leaf name from ``NESTING_LEAVES`` or a tuple: ``("seq", [r, ...])`` (``nn.Sequential``),
    ``("loop", [r, ...])`` (an ``nn.ModuleList`` looped over in a custom forward), ``("dict", [r, ...])``
    (an ``nn.ModuleDict`` looped over), ``("zip", [(r, r), ...])`` (two ModuleLists called in turn, as
    ``for a, b in zip(...)``), ``("block", [r, ...])`` (a custom module calling its children with
    ``torch.relu`` after each), ``("res", body, shortcut_or_None)`` (``body(x) + shortcut(x)`` or ``+ x``).
    Every module is called exactly once.
    """
    leaf = st.sampled_from(NESTING_LEAVES)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        some = st.lists(children, min_size=1, max_size=3)
        return st.one_of(
            st.tuples(st.just("seq"), some),
            st.tuples(st.just("loop"), some),
            st.tuples(st.just("dict"), some),
            st.tuples(st.just("zip"), st.lists(st.tuples(children, children), min_size=1, max_size=2)),
            st.tuples(st.just("block"), some),
            st.tuples(st.just("res"), children, st.none() | children),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


def _nesting_types() -> dict[str, Any]:
    import torch

    class Loop(torch.nn.Module):
        def __init__(self, layers: list[Any]) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)

        def forward(self, x: Any) -> Any:
            for layer in self.layers:
                x = layer(x)
            return x

    class DictLoop(torch.nn.Module):
        def __init__(self, layers: list[Any]) -> None:
            super().__init__()
            self.stages = torch.nn.ModuleDict({f"s{j}": m for j, m in enumerate(layers)})

        def forward(self, x: Any) -> Any:
            for stage in self.stages.values():
                x = stage(x)
            return x

    class Zip(torch.nn.Module):
        def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
            super().__init__()
            self.first = torch.nn.ModuleList(a for a, _ in pairs)
            self.second = torch.nn.ModuleList(b for _, b in pairs)

        def forward(self, x: Any) -> Any:
            for a, b in zip(self.first, self.second, strict=True):
                x = b(a(x))
            return x

    class Block(torch.nn.Module):
        def __init__(self, layers: list[Any]) -> None:
            super().__init__()
            for j, m in enumerate(layers):
                self.add_module(f"part{j}", m)

        def forward(self, x: Any) -> Any:
            for m in self.children():
                x = torch.relu(m(x))
            return x

    class Residual(torch.nn.Module):
        def __init__(self, body: Any, shortcut: Any) -> None:
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            out = self.body(x)
            return out + (x if self.shortcut is None else self.shortcut(x))

    return {"loop": Loop, "dict": DictLoop, "zip": Zip, "block": Block, "res": Residual}


_NESTING_TYPES: dict[str, Any] = {}


def build_nesting(recipe: Any) -> Any:
    """The torch module a :func:`torch_nestings` recipe describes (3 channels in and out)."""
    import torch

    if not _NESTING_TYPES:
        _NESTING_TYPES.update(_nesting_types())
    nn = torch.nn
    if isinstance(recipe, str):
        leaves = {
            "conv3": lambda: nn.Conv2d(3, 3, 3, padding=1),
            "conv1": lambda: nn.Conv2d(3, 3, 1, bias=False),
            "frozen_conv": lambda: nn.Conv2d(3, 3, 3, padding=1).requires_grad_(False),  # torchinfo prints (84)
            "bn": lambda: nn.BatchNorm2d(3),
            "relu": nn.ReLU,
            "identity": nn.Identity,
            "dropout": lambda: nn.Dropout(0.1),
        }
        return leaves[recipe]()
    kind = recipe[0]
    if kind == "seq":
        return nn.Sequential(*(build_nesting(r) for r in recipe[1]))
    if kind == "zip":
        return _NESTING_TYPES["zip"]([(build_nesting(a), build_nesting(b)) for a, b in recipe[1]])
    if kind == "res":
        return _NESTING_TYPES["res"](build_nesting(recipe[1]), None if recipe[2] is None else build_nesting(recipe[2]))
    return _NESTING_TYPES[kind]([build_nesting(r) for r in recipe[1]])


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
    # options and values that reached a gap once: peer MAC conventions, a sheet, an absurd --ndim,
    # decimals, NaN and infinities, and an int too long for Python's default int/str limit
    "--sheet",
    "tests/specs/mnist.toml",
    "--ndim",
    "100000",
    "--no-affine",
    "torchinfo",
    "fvcore",
    "ptflops",
    "6.0",
    "6.5",
    "inf",
    "-inf",
    "Infinity",
    "-1e400",
    "1x3xnanx32",
    "9" * 5000,
]


def cli_argv(max_tokens: int = 8) -> st.SearchStrategy[list[str]]:
    """A sub-command (or, now and then, a top-level option) and up to *max_tokens* tokens."""
    first = st.sampled_from([*CLI_COMMANDS, "--version", "--help", "sizes"])
    return st.builds(
        lambda head, rest: [head, *rest], first, st.lists(st.sampled_from(CLI_TOKENS), max_size=max_tokens)
    )


# --------------------------------------------------------------------------- #
# Padding modes
# --------------------------------------------------------------------------- #

PAD_MODES = ("constant", "reflect", "replicate", "circular")
PAD_LAYERS = {
    "constant": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}


@dataclass(frozen=True)
class PadConfig:
    ndim: int
    mode: str  # F.pad's mode; a convolution's padding_mode calls constant 'zeros'
    via: str  # "layer" (nn.*PadNd), "conv" (ConvNd with padding_mode) or "functional" (F.pad)
    input_shape: tuple[int, ...]
    padding: PerAxis  # per side for "layer"/"functional" (left, right, top, ...), per axis for "conv"
    kernel_size: int


@st.composite
def pad_configs(draw: st.DrawFn) -> PadConfig:
    """A pad layer, ``F.pad`` or a convolution with ``padding_mode``, on inputs often too small for it.

    Pad layers get an int or one value per side (asymmetric, negative values crop); convolutions a
    padding 0..4 per axis. Inputs are batched or not, sizes 1..5, so padding is often as large as the input.
    """
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(PAD_MODES))
    via = draw(st.sampled_from(("layer", "conv", "functional")))
    batched = via == "conv" or draw(st.booleans())  # convcalc's convolutions take batched input only
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    if via == "conv":
        padding: PerAxis = draw(per_axis(st.integers(0, 4), ndim))
    else:
        sides = st.integers(-3, 6)
        padding = draw(st.one_of(sides, st.tuples(*[sides] * (2 * ndim))))
    return PadConfig(
        ndim=ndim,
        mode=mode,
        via=via,
        input_shape=((1,) if batched else ()) + (draw(CHANNELS), *spatial),
        padding=padding,
        kernel_size=draw(st.integers(1, 3)),
    )


# Ints beyond Python's 4300-digit limit for int -> str, mixed with small ones.
HUGE_INTS = st.integers(4000, 6000).map(lambda digits: 10**digits)
SMALL_OR_HUGE = st.one_of(st.integers(-2, 9), HUGE_INTS, HUGE_INTS.map(lambda v: v + 1), HUGE_INTS.map(lambda v: -v))
# convcalc.keras models, for building as real Keras models

# Networks for the input-size solver: 1-D and 2-D chains and branches whose valid
# input sizes are checked against torch by brute force (tiny channels, small sizes)
# --------------------------------------------------------------------------- #


@st.composite
def keras_spatial_layer(draw: st.DrawFn, name: str, channels: int) -> tuple[Any, int]:
    """One convcalc.keras layer on (N, H, W, C) input with ``channels`` channels, and its output channels.

    Windows may not fit the input (Keras and convcalc then both refuse); a
    stride above 1 is never drawn with a dilation above 1 (both refuse that at
    construction, before any shape is known).
    """
    from convcalc import keras as ks

    kind = draw(
        st.sampled_from(
            [
                "conv",
                "conv",
                "conv",
                "depthwise",
                "separable",
                "transpose",
                "maxpool",
                "avgpool",
                "bn",
                "act",
                "relu",
                "dropout",
                "zeropad",
                "upsample",
            ]
        )
    )
    padding = draw(st.sampled_from(["valid", "same"]))
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    strides = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation: Any = 1 if strides not in (1, (1, 1)) else draw(st.integers(1, 2))
    if kind == "conv":
        divisors = [g for g in range(1, channels + 1) if channels % g == 0]
        groups = draw(st.sampled_from(divisors))
        filters = groups * draw(st.integers(1, 3))
        use_bias = draw(st.booleans())
        layer: Any = ks.Conv2D(
            filters, kernel, strides, padding, dilation_rate=dilation, groups=groups, use_bias=use_bias, name=name
        )
        out = filters
    elif kind == "depthwise":
        multiplier = draw(st.integers(1, 2))
        layer = ks.DepthwiseConv2D(kernel, strides, padding, multiplier, dilation_rate=dilation, name=name)
        out = channels * multiplier
    elif kind == "separable":
        filters = draw(st.integers(1, 4))
        layer = ks.SeparableConv2D(
            filters,
            kernel,
            strides,
            padding,
            dilation_rate=dilation,
            depth_multiplier=draw(st.integers(1, 2)),
            name=name,
        )
        out = filters
    elif kind == "transpose":
        filters = draw(st.integers(1, 4))
        layer = ks.Conv2DTranspose(filters, kernel, strides, padding, name=name)
        out = filters
    elif kind in ("maxpool", "avgpool"):
        cls = ks.MaxPooling2D if kind == "maxpool" else ks.AveragePooling2D
        pool_strides = draw(st.one_of(st.none(), st.integers(1, 3)))
        layer = cls(draw(st.integers(1, 3)), pool_strides, padding, name=name)
        out = channels
    elif kind == "bn":
        layer = ks.BatchNormalization(center=draw(st.booleans()), scale=draw(st.booleans()), name=name)
        out = channels
    elif kind == "act":
        layer = ks.Activation(draw(st.sampled_from(["relu", "sigmoid", "tanh"])), name=name)
        out = channels
    elif kind == "relu":
        layer = ks.Passthrough(draw(st.sampled_from(["ReLU", "LeakyReLU", "SpatialDropout2D"])), name=name)
        out = channels
    elif kind == "dropout":
        layer = ks.Dropout(0.25, name=name)
        out = channels
    elif kind == "zeropad":
        layer = ks.ZeroPadding2D(
            draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))), name=name
        )
        out = channels
    else:
        layer = ks.UpSampling2D(
            draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 2), st.integers(1, 3)))), name=name
        )
        out = channels
    if draw(st.integers(0, 4)) == 0:
        layer = ks.Frozen(layer)
    return layer, out


@st.composite
def keras_head(draw: st.DrawFn, start: int) -> list[Any]:
    """An optional classifier head: Flatten or global pooling, then Dense layers (some frozen)."""
    from convcalc import keras as ks

    layers: list[Any] = []
    pick = draw(st.sampled_from(["none", "flatten", "gap", "gmp", "dense4d"]))
    if pick == "none":
        return layers
    if pick == "flatten":
        layers.append(ks.Flatten(name=f"l{start}"))
    elif pick in ("gap", "gmp"):
        cls = ks.GlobalAveragePooling2D if pick == "gap" else ks.GlobalMaxPooling2D
        layers.append(cls(keepdims=draw(st.booleans()), name=f"l{start}"))
    for j in range(draw(st.integers(1, 2))):
        dense: Any = ks.Dense(draw(st.integers(1, 12)), use_bias=draw(st.booleans()), name=f"l{start + 1 + j}")
        layers.append(ks.Frozen(dense) if draw(st.integers(0, 3)) == 0 else dense)
    return layers


@st.composite
def keras_models(draw: st.DrawFn) -> Any:
    """A convcalc.keras ``Sequential`` or ``Functional`` (branches joined by ``Add`` / ``Concatenate``).

    Input sizes 3..24 and channels 1..4; the layers need not fit (then both Keras
    and convcalc must refuse the model).
    """
    from convcalc import keras as ks

    height, width = draw(st.integers(3, 24)), draw(st.integers(3, 24))
    channels = draw(CHANNELS)
    inp = ks.Input((height, width, channels), name="x")
    steps = draw(st.integers(1, 5))
    if draw(st.booleans()):
        layers = []
        c = channels
        for j in range(steps):
            layer, c = draw(keras_spatial_layer(f"l{j}", c))
            layers.append(layer)
        layers += draw(keras_head(steps))
        return ks.Sequential([inp, *layers], name="seq")
    tensors: list[tuple[str, int]] = [("x", channels)]  # (name, channels) of every value so far
    calls: list[tuple[Any, Any]] = []
    for j in range(steps):
        name = f"l{j}"
        if len(tensors) > 1 and draw(st.integers(0, 2)) == 0:
            a, b = draw(st.lists(st.sampled_from(tensors), min_size=2, max_size=2, unique=True))
            if draw(st.booleans()):
                calls.append((ks.Add(name=name), (a[0], b[0])))
                tensors.append((name, a[1]))
            else:
                calls.append((ks.Concatenate(name=name), (a[0], b[0])))
                tensors.append((name, a[1] + b[1]))
            continue
        source = draw(st.sampled_from(tensors[-2:]))
        layer, c = draw(keras_spatial_layer(name, source[1]))
        calls.append((layer, source[0]))
        tensors.append((name, c))
    last = tensors[-1][0]
    for layer in draw(keras_head(steps)):
        calls.append((layer, last))
        last = layer._name()
    return ks.Functional(inp, calls, name="net")


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
class CellConfig:
    kind: str
    args: dict[str, Any]
    shape: tuple[int, ...]
    state: Any  # None, one shape, or the pair of shapes an LSTMCell takes


@st.composite
def cell_configs(draw: st.DrawFn) -> CellConfig:
    """RNNCell, GRUCell or LSTMCell arguments, an input (batched, unbatched, now and then of another rank or
    size) and a state (none, fitting, or now and then of a wrong batch or size)."""
    kind = draw(st.sampled_from(["RNNCell", "GRUCell", "LSTMCell"]))
    hidden = draw(st.integers(1, 6))
    args: dict[str, Any] = {"input_size": draw(st.integers(1, 6)), "hidden_size": hidden, "bias": draw(st.booleans())}
    if kind == "RNNCell":
        args["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    lead = draw(st.sampled_from([(), (), (), ()]) | st.tuples(st.integers(1, 4)) | st.tuples(SEQ, SEQ))
    features = draw(st.one_of(st.just(args["input_size"]), st.just(args["input_size"]), st.integers(1, 6)))
    shape = (*lead, features)
    state: Any = None
    if draw(st.booleans()):
        one = (
            *draw(st.one_of(st.just(lead), st.just(lead), st.tuples(st.integers(1, 4)))),
            draw(st.one_of(st.just(hidden), st.just(hidden), st.integers(1, 6))),
        )
        state = (one, one) if kind == "LSTMCell" else one
    return CellConfig(kind, args, shape, state)


@dataclass(frozen=True)
class BilinearConfig:
    args: dict[str, Any]
    first: tuple[int, ...]
    second: tuple[int, ...]


@st.composite
def bilinear_configs(draw: st.DrawFn) -> BilinearConfig:
    """Bilinear arguments and two inputs, mostly with the same leading sizes and fitting features."""
    args: dict[str, Any] = {
        "in1_features": draw(st.integers(1, 5)),
        "in2_features": draw(st.integers(1, 5)),
        "out_features": draw(st.integers(1, 5)),
        "bias": draw(st.booleans()),
    }
    lead = draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    other = draw(
        st.one_of(st.just(lead), st.just(lead), st.just(lead), st.lists(st.integers(1, 3), max_size=3).map(tuple))
    )

    def features(want: int) -> int:
        return draw(st.one_of(st.just(want), st.just(want), st.just(want), st.integers(1, 5)))

    return BilinearConfig(args, (*lead, features(args["in1_features"])), (*other, features(args["in2_features"])))


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


# Real torch models, written the way people write them
# --------------------------------------------------------------------------- #
#
# ``real_models()`` draws ``(model, input_shape)``: a ``torch.nn.Module`` built from the
# module-level classes below (torch.fx traces a forward by class, so they cannot be made per
# example), with hand-written forwards that use what real code uses: residual additions with
# ``out += self.shortcut(x)``, ModuleList and ModuleDict loops, a module called twice, tied
# weights, frozen parameters, submodules that are never called, parametrizations, every
# padding mode, functional calls, and heads whose ``in_features`` does not always fit.
#
# Every feature has a name in REAL_FEATURES and can be left out:
# ``real_models(features=REAL_FEATURES - {"reuse"})``. Channels stay <= 8 and spatial sizes
# <= 40, so that one forward pass takes a few milliseconds.

try:
    import torch
    from torch import nn as tnn
    from torch.nn import functional as F

    _Module: Any = tnn.Module
except ImportError:  # the torch-free tests import this file too
    torch = None
    _Module = object

REAL_FEATURES = frozenset(
    {
        "residual",  # residual blocks, `out += self.shortcut(x)` with a projection or no module
        "empty_shortcut",  # the shortcut is nn.Sequential() or nn.Identity()
        "mixed_blocks",  # several blocks of one class, with different configurations, in one model
        "loops",  # ModuleList / ModuleDict loops (of different lengths once "mixed_blocks" is on)
        "reuse",  # one module instance called twice (or registered under two names)
        "tied",  # `b.weight = a.weight`
        "frozen",  # requires_grad_(False) on some modules or parameters
        "unused",  # submodules created in __init__ and never called
        "weight_norm",  # torch.nn.utils.parametrizations.weight_norm
        "spectral_norm",  # torch.nn.utils.parametrizations.spectral_norm
        "padding_modes",  # Conv2d padding_mode reflect / replicate / circular
        "pad_layers",  # ReflectionPad2d, ReplicationPad2d, ZeroPad2d (negative too), CircularPad2d
        "nested",  # Sequential in Sequential, ModuleList of Sequentials
        "functional",  # F.relu, F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d in forward
        "branches",  # torch.cat of branches
        "strided",  # strides, dilations, groups, padding="same"
        "transposed",  # ConvTranspose2d
        "pooling",  # MaxPool2d / AvgPool2d, ceil_mode
        "batchnorm",  # BatchNorm2d
        "bad_head",  # Linear heads whose in_features does not fit
        "small_input",  # inputs too small for the network, and wrong channel counts
        "hooks",  # forward hooks and pre-hooks: observers, and ones that trim the output or the input
    }
)


class ConvBNAct(_Module):
    """conv -> optional BatchNorm -> activation (module, functional or none), branching on plain attributes."""

    def __init__(self, conv: Any, bn: bool, act: str) -> None:
        super().__init__()
        self.conv = conv
        self.bn = tnn.BatchNorm2d(conv.out_channels) if bn else None
        self.act = act
        if act == "module":
            self.relu = tnn.ReLU(inplace=True)

    def forward(self, x: Any) -> Any:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act == "module":
            x = self.relu(x)
        elif self.act == "functional":
            x = F.relu(x)
        return x


class BasicBlock(_Module):
    """A ResNet basic block: ``out += self.shortcut(x)``; the shortcut is a projection, nn.Identity,
    an empty nn.Sequential, or missing (``self.shortcut is None`` adds ``x`` itself)."""

    def __init__(self, cin: int, cout: int, stride: int, shortcut: str, bn: bool) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not bn)
        self.bn1 = tnn.BatchNorm2d(cout) if bn else tnn.Identity()
        self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1, bias=not bn)
        self.bn2 = tnn.BatchNorm2d(cout) if bn else tnn.Identity()
        if shortcut == "projection":
            self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride=stride, bias=False), tnn.BatchNorm2d(cout))
        elif shortcut == "identity":
            self.shortcut = tnn.Identity()
        elif shortcut == "empty":
            self.shortcut = tnn.Sequential()
        else:
            self.shortcut = None

    def forward(self, x: Any) -> Any:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is None:
            out += x
        else:
            out += self.shortcut(x)
        return F.relu(out)


class Stack(_Module):
    """A ModuleList run in a loop."""

    def __init__(self, layers: list[Any]) -> None:
        super().__init__()
        self.layers = tnn.ModuleList(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x


class DictStack(_Module):
    """A ModuleDict run in a loop over its keys."""

    def __init__(self, layers: list[Any]) -> None:
        super().__init__()
        self.steps = tnn.ModuleDict({f"step{j}": layer for j, layer in enumerate(layers)})

    def forward(self, x: Any) -> Any:
        for name in self.steps:
            x = self.steps[name](x)
        return x


class Branches(_Module):
    """Branches (a ModuleList of Sequentials) concatenated along the channels."""

    def __init__(self, branches: list[Any]) -> None:
        super().__init__()
        self.branches = tnn.ModuleList(branches)

    def forward(self, x: Any) -> Any:
        return torch.cat([branch(x) for branch in self.branches], 1)


class TwoBranches(_Module):
    """Two named branches concatenated: ``torch.cat([self.left(x), self.right(x)], dim=1)``."""

    def __init__(self, left: Any, right: Any) -> None:
        super().__init__()
        self.left = left
        self.right = right

    def forward(self, x: Any) -> Any:
        return torch.cat([self.left(x), self.right(x)], dim=1)


class Twice(_Module):
    """One conv and one ReLU instance, each called twice."""

    def __init__(self, conv: Any) -> None:
        super().__init__()
        self.conv = conv
        self.act = tnn.ReLU()

    def forward(self, x: Any) -> Any:
        x = self.act(self.conv(x))
        return self.act(self.conv(x))


class Alias(_Module):
    """One conv registered under two names (``self.second = self.first``), both called."""

    def __init__(self, conv: Any) -> None:
        super().__init__()
        self.first = conv
        self.second = conv

    def forward(self, x: Any) -> Any:
        return self.second(F.relu(self.first(x)))


class Tied(_Module):
    """Two convs of one shape whose weights are tied: ``self.b.weight = self.a.weight``."""

    def __init__(self, channels: int, kernel: int, bias: bool) -> None:
        super().__init__()
        self.a = tnn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=bias)
        self.b = tnn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=bias)
        self.b.weight = self.a.weight

    def forward(self, x: Any) -> Any:
        return self.b(F.relu(self.a(x)))


class Spare(_Module):
    """A body plus submodules made in __init__ and never called (an auxiliary head, a spare conv)."""

    def __init__(self, body: Any, spare: Any) -> None:
        super().__init__()
        self.body = body
        self.aux = spare

    def forward(self, x: Any) -> Any:
        return self.body(x)


class FuncPool(_Module):
    """Functional pooling in forward, with its arguments as plain attributes."""

    def __init__(self, kind: str, kernel: int, stride: int, padding: int, ceil_mode: bool) -> None:
        super().__init__()
        self.kind, self.kernel, self.stride, self.padding, self.ceil_mode = kind, kernel, stride, padding, ceil_mode

    def forward(self, x: Any) -> Any:
        if self.kind == "max":
            return F.max_pool2d(x, self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode)
        return F.avg_pool2d(x, self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode)


class Net(_Module):
    """A classifier: ``self.features``, then global pooling and flattening as drawn, then ``self.fc``."""

    def __init__(self, features: Any, fc: Any, pool: str, flatten: str) -> None:
        super().__init__()
        self.features = features
        self.pool, self.flatten = pool, flatten
        if pool == "module":
            self.gap = tnn.AdaptiveAvgPool2d(1)
        if flatten == "module":
            self.flat = tnn.Flatten()
        self.fc = fc

    def forward(self, x: Any) -> Any:
        x = self.features(x)
        if self.pool == "module":
            x = self.gap(x)
        elif self.pool == "functional":
            x = F.adaptive_avg_pool2d(x, 1)
        if self.flatten == "module":
            x = self.flat(x)
        elif self.flatten == "view":
            x = x.view(x.size(0), -1)
        else:
            x = torch.flatten(x, 1)
        return self.fc(x)


class LoopNet(_Module):
    """A stem, stages in a ModuleList loop, no head."""

    def __init__(self, stem: Any, stages: list[Any]) -> None:
        super().__init__()
        self.stem = stem
        self.stages = tnn.ModuleList(stages)

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def _real_conv(draw: st.DrawFn, cin: int, features: frozenset[str], cout: int | None = None) -> Any:
    """A Conv2d from ``cin`` channels: strided, dilated, grouped, padded in any mode, as the features allow."""
    cout = draw(st.integers(1, 8)) if cout is None else cout
    k = draw(st.one_of(st.sampled_from([1, 3, 3, 5]), st.tuples(st.integers(1, 5), st.integers(1, 5))))
    stride: Any = 1
    dilation: Any = 1
    groups = 1
    padding: Any = draw(st.integers(0, 2))
    if "strided" in features:
        stride = draw(st.sampled_from([1, 1, 1, 2, 2, 3]))
        dilation = draw(st.sampled_from([1, 1, 1, 2]))
        groups = draw(st.sampled_from(_divisors(math.gcd(cin, cout))))
        if stride == 1 and draw(st.integers(0, 5)) == 0:
            padding = "same"
    mode = "zeros"
    if "padding_modes" in features:
        mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
        if mode != "zeros" and padding != "same":
            padding = draw(st.integers(0, 4))  # up to the input size and past it
    return tnn.Conv2d(
        cin,
        cout,
        k,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
        padding_mode=mode,
    )


@st.composite
def _real_layer(draw: st.DrawFn, cin: int, features: frozenset[str]) -> tuple[Any, int]:
    """One plain torch layer (as Sequentials hold them) and the channels it gives."""
    kinds = ["conv", "conv", "act"]
    kinds += [k for k in ("pooling", "batchnorm", "transposed", "pad_layers") if k in features]
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        conv = draw(_real_conv(cin, features))
        return conv, conv.out_channels
    if kind == "act":
        return draw(
            st.sampled_from([tnn.ReLU(), tnn.ReLU(inplace=True), tnn.GELU(), tnn.Identity(), tnn.Dropout(0.1)])
        ), cin
    if kind == "batchnorm":
        return tnn.BatchNorm2d(cin), cin
    if kind == "pooling":
        k = draw(st.integers(1, 4))
        stride = draw(st.none() | st.integers(1, 3))
        padding = draw(st.integers(0, k // 2 + (1 if "small_input" in features else 0)))
        ceil_mode = draw(st.booleans())
        if draw(st.booleans()):
            return tnn.MaxPool2d(
                k, stride, padding, dilation=draw(st.sampled_from([1, 1, 2])), ceil_mode=ceil_mode
            ), cin
        return tnn.AvgPool2d(k, stride, padding, ceil_mode=ceil_mode, count_include_pad=draw(st.booleans())), cin
    if kind == "transposed":
        cout = draw(st.integers(1, 8))
        s = draw(st.sampled_from([1, 1, 2, 3]))
        d = draw(st.sampled_from([1, 1, 2]))
        groups = draw(st.sampled_from(_divisors(math.gcd(cin, cout)))) if "strided" in features else 1
        tconv = tnn.ConvTranspose2d(
            cin,
            cout,
            draw(st.integers(1, 4)),
            stride=s,
            padding=draw(st.integers(0, 2)),
            output_padding=draw(st.integers(0, max(s, d) - 1)),
            groups=groups,
            dilation=d,
            bias=draw(st.booleans()),
        )
        return tconv, cout
    pad_kind = draw(st.sampled_from(["reflect", "replicate", "zero", "circular"]))
    low = -2 if pad_kind == "zero" else 0
    amount = draw(st.one_of(st.integers(0, 3), st.tuples(*[st.integers(low, 3)] * 4)))
    cls = {
        "reflect": tnn.ReflectionPad2d,
        "replicate": tnn.ReplicationPad2d,
        "zero": tnn.ZeroPad2d,
        "circular": tnn.CircularPad2d,
    }[pad_kind]
    return cls(amount), cin


@st.composite
def _real_sequential(draw: st.DrawFn, cin: int, features: frozenset[str], depth: int = 0) -> tuple[Any, int]:
    """An nn.Sequential of plain layers (nested once now and then) and the channels it gives.

    With "reuse", one ReLU instance may stand at several places: ``act = nn.ReLU();
    nn.Sequential(conv1, act, conv2, act)``.
    """
    layers = []
    c = cin
    shared = tnn.ReLU()
    for _ in range(draw(st.integers(1, 3))):
        if "nested" in features and depth < 2 and draw(st.integers(0, 4)) == 0:
            inner, c = draw(_real_sequential(c, features, depth + 1))
            layers.append(inner)
        else:
            layer, c = draw(_real_layer(c, features))
            layers.append(layer)
        if "reuse" in features and draw(st.integers(0, 2)) == 0:
            layers.append(shared)
    return tnn.Sequential(*layers), c


BLOCK_KINDS = ("convbnact", "sequential", "residual", "loop", "branches", "twice", "alias", "tied", "pool", "spare")


@st.composite
def _real_block(draw: st.DrawFn, kind: str, cin: int, features: frozenset[str]) -> tuple[Any, int]:
    """One block of class ``kind`` from ``cin`` channels, and the channels it gives."""
    if kind == "convbnact":
        conv = draw(_real_conv(cin, features))
        bn = "batchnorm" in features and draw(st.booleans())
        acts = ["module", "none", *(["functional"] if "functional" in features else [])]
        return ConvBNAct(conv, bn, draw(st.sampled_from(acts))), conv.out_channels
    if kind == "sequential":
        return draw(_real_sequential(cin, features))
    if kind == "residual":
        shortcuts = ["projection", "none"] + (["identity", "empty"] if "empty_shortcut" in features else [])
        shortcut = draw(st.sampled_from(shortcuts))
        stride = draw(st.sampled_from([1, 1, 2])) if "strided" in features else 1
        cout = draw(st.integers(1, 8))
        if shortcut != "projection" and draw(st.integers(0, 4)):
            cout, stride = cin, 1  # mostly fits; otherwise the addition fails in torch
        bn = "batchnorm" in features and draw(st.booleans())
        return BasicBlock(cin, cout, stride, shortcut, bn), cout
    if kind == "loop":
        layers = []
        c = cin
        for _ in range(draw(st.integers(1, 3))):
            if "nested" in features and draw(st.booleans()):
                layer, c = draw(_real_sequential(c, features))
            else:
                conv = draw(_real_conv(c, features))
                layer, c = (
                    ConvBNAct(conv, False, "functional" if "functional" in features else "module"),
                    conv.out_channels,
                )
            layers.append(layer)
        cls = draw(st.sampled_from([Stack, DictStack]))
        return cls(layers), c
    if kind == "branches":
        branches = []
        total = 0
        for _ in range(draw(st.integers(1, 3) if "loops" in features else st.just(2))):
            branch, c = draw(_real_sequential(cin, features))
            branches.append(branch)
            total += c
        if "loops" in features and draw(st.booleans()):
            return Branches(branches), total
        while len(branches) < 2:
            branch, c = draw(_real_sequential(cin, features))
            branches.append(branch)
            total += c
        return TwoBranches(branches[0], branches[1]), total
    if kind in ("twice", "alias"):
        # channels kept, so that the second call fits (mostly: a stride or a small padding shrinks the input)
        conv = draw(_real_conv(cin, features, cout=cin))
        return (Twice(conv) if kind == "twice" else Alias(conv)), cin
    if kind == "tied":
        return Tied(cin, draw(st.sampled_from([1, 3, 5])), draw(st.booleans())), cin
    if kind == "pool":
        k = draw(st.integers(1, 3))
        padding = draw(st.integers(0, k // 2))
        return FuncPool(
            draw(st.sampled_from(["max", "avg"])), k, draw(st.integers(1, 2)), padding, draw(st.booleans())
        ), cin
    # spare: a body and a submodule that is never called
    body, c = draw(_real_block("convbnact", cin, features))
    spare = draw(
        st.sampled_from([tnn.Linear(7, 3), tnn.Conv2d(c, 4, 3), tnn.Sequential(tnn.Conv2d(2, 2, 1), tnn.ReLU())])
    )
    return Spare(body, spare), c


def _block_kinds(features: frozenset[str]) -> list[str]:
    wanted = {
        "residual": "residual",
        "loops": "loop",
        "branches": "branches",
        "reuse": "twice",
        "tied": "tied",
        "functional": "pool",
        "unused": "spare",
    }
    kinds = ["convbnact", "sequential"]
    kinds += [kind for feature, kind in wanted.items() if feature in features]
    if "reuse" in features:
        kinds.append("alias")
    return kinds


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread: on a busy machine its thread pool costs more than these small layers save."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _forward_shape(module: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The output shape torch gives, or None when it raises (used to size a fitting head)."""
    try:
        with torch.no_grad(), one_thread():
            return tuple(module.eval()(torch.zeros(shape)).shape)
    except Exception:  # torch rejects the input: any head will do
        return None


@st.composite
def real_models(draw: st.DrawFn, features: frozenset[str] = REAL_FEATURES) -> tuple[Any, tuple[int, int, int, int]]:
    """A real-style ``torch.nn.Module`` and an input shape ``(N, C, H, W)``.

    ``features`` (a subset of REAL_FEATURES) says which constructs may appear. The model is in
    eval mode (BatchNorm uses its running statistics, so a batch of one fits).
    """
    unknown = set(features) - REAL_FEATURES
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; choose from {sorted(REAL_FEATURES)}")
    channels = draw(st.integers(1, 4))
    kinds = _block_kinds(features)
    blocks = []
    c = channels
    used: set[str] = set()
    last = ""
    for _ in range(draw(st.integers(1, 4))):
        choices = kinds if "mixed_blocks" in features else [k for k in kinds if k not in used or k == "sequential"]
        kind = draw(st.sampled_from(choices or ["sequential"]))
        if "mixed_blocks" in features and blocks and draw(st.integers(0, 2)) == 0:
            kind = last  # a stage of blocks of one class, each with its own configuration
        last = kind
        if kind != "sequential":
            used.add(kind)
        block, c = draw(_real_block(kind, c, features))
        blocks.append(block)
    small = "small_input" in features and draw(st.integers(0, 5)) == 0
    height = draw(st.integers(1, 12) if small else st.integers(12, 40))
    width = draw(st.integers(1, 12) if small else st.integers(12, 40))
    in_channels = channels + 1 if "small_input" in features and draw(st.integers(0, 29)) == 0 else channels
    shape = (draw(st.integers(1, 2)), in_channels, height, width)

    features_part = tnn.Sequential(*blocks)
    out = _forward_shape(features_part, shape)
    # transposed convs in a row can grow the maps past what a quick example should compute
    assume(out is None or math.prod(out) <= 50_000)
    top = draw(
        st.sampled_from(["net", "net", "sequential", "loopnet"] if "loops" in features else ["net", "sequential"])
    )
    if top == "loopnet":
        model: Any = LoopNet(blocks[0], blocks[1:])
    else:
        pool = draw(st.sampled_from(["module", "none"] + (["functional"] if "functional" in features else [])))
        flatten = draw(st.sampled_from(["module", "view", "flatten"] if "functional" in features else ["module"]))
        if out is None:
            fin = draw(st.integers(1, 64))
        else:
            fin = c if pool != "none" else c * out[2] * out[3]
            if "bad_head" in features and draw(st.integers(0, 9)) == 0:
                fin = draw(st.integers(1, 64).filter(lambda v, fits=fin: v != fits))
        fc = tnn.Linear(fin, draw(st.integers(1, 10)), bias=draw(st.booleans()))
        if top == "net":
            model = Net(features_part, fc, pool, flatten)
        else:
            tail = [tnn.AdaptiveAvgPool2d(1)] if pool != "none" else []
            model = tnn.Sequential(*blocks, *tail, tnn.Flatten(), fc)

    norms = [n for n in ("weight_norm", "spectral_norm") if n in features]
    if norms:
        counts: dict[int, int] = {}
        for _, p in model.named_parameters(remove_duplicate=False):
            counts[id(p)] = counts.get(id(p), 0) + 1
        layers = [
            m
            for m in model.modules()
            if isinstance(m, (tnn.Conv2d, tnn.ConvTranspose2d, tnn.Linear)) and counts.get(id(m.weight)) == 1
        ]
        for j in sorted(draw(st.sets(st.integers(0, max(len(layers) - 1, 0)), max_size=2))) if layers else ():
            norm = getattr(tnn.utils.parametrizations, draw(st.sampled_from(norms)))
            norm(layers[j])
    if "frozen" in features and draw(st.booleans()):
        modules = list(model.modules())
        for j in sorted(draw(st.sets(st.integers(0, len(modules) - 1), min_size=1, max_size=3))):
            params = list(modules[j].parameters(recurse=False))
            if params and draw(st.booleans()):
                params[draw(st.integers(0, len(params) - 1))].requires_grad_(False)
            else:
                modules[j].requires_grad_(False)
    if "hooks" in features and draw(st.integers(0, 3)) == 0:
        # on layers and blocks (a hook inside a parametrization would change a weight, which no one writes)
        modules = [m for path, m in model.named_modules() if "parametrizations" not in path]
        for j in sorted(draw(st.sets(st.integers(0, len(modules) - 1), min_size=1, max_size=2))):
            kind = draw(st.sampled_from(sorted(_HOOKS)))
            if kind.startswith("pre"):
                modules[j].register_forward_pre_hook(_HOOKS[kind])
            else:
                modules[j].register_forward_hook(_HOOKS[kind])
    return model.eval(), shape


def _trim(t: Any) -> Any:
    """The last axis one shorter, where it has more than one element: a hook that changes a shape."""
    return t[..., :-1] if isinstance(t, torch.Tensor) and t.dim() and t.shape[-1] > 1 else None


def _trim_input(module: Any, args: Any) -> Any:
    trimmed = _trim(args[0]) if args else None
    return None if trimmed is None else (trimmed, *args[1:])


# Hooks as people register them: to watch a layer (returning None) and to change what it takes or returns.
_HOOKS: dict[str, Callable[..., Any]] = {
    "observe": lambda module, args, output: None,
    "trim_output": lambda module, args, output: _trim(output),
    "pre_observe": lambda module, args: None,
    "pre_trim_input": _trim_input,
}
