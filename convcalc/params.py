"""Parameter counts of layers, in torch's and Keras' sense."""

from __future__ import annotations

import itertools
import math
from collections import namedtuple

from convcalc._args import Axes, exact_arrays, flag, integer, received, show
from convcalc._backend import check
from convcalc._enums import Convention
from convcalc._errors import SpecError

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from convcalc._types import Size, Sizes

__all__ = [
    "ParamCount",
    "batchnorm_params",
    "conv_params",
    "conv_transpose_params",
    "groupnorm_params",
    "layernorm_params",
    "linear_params",
    "separable_conv_params",
]


class ParamCount(namedtuple("ParamCount", ["trainable", "non_trainable", "buffers"], defaults=(0, 0))):
    """Parameters split as a framework reports them.

    ``trainable`` and ``non_trainable`` are Keras' weights (torch's parameters are
    all trainable); ``buffers`` are torch buffers such as BatchNorm's running
    statistics, which torch does not count as parameters.
    """

    __slots__ = ()
    trainable: Size
    non_trainable: Size
    buffers: Size

    @property
    def total(self) -> Size:
        """Trainable plus non-trainable weights (what ``count_params()`` / torchinfo call total)."""
        return self.trainable + self.non_trainable


#: The most spatial axes a square kernel's ``ndim`` takes. torch and Keras convolve over 1 to 3 axes; the count
#: grows as kernel**ndim, so an absurd ndim (10**18) asks for a kernel no layer has (and a tuple of as many sizes):
#: refused with the reason.
MAX_NDIM = 16


def _kernel_volume(kernel_size: Sizes, ndim: Any) -> Size:
    """The kernel's number of elements: an int kernel over ``ndim`` axes (2 where not given), a tuple over its
    own, which an ``ndim`` given must agree with."""
    per_axis = isinstance(kernel_size, (tuple, list))
    dims = integer(2 if ndim is None else ndim, "ndim", minimum=1)
    if type(dims) is not int:  # an array of ranks: each kernel has one rank
        raise SpecError(f"ndim must be one integer, the kernel's number of axes. {received({'ndim': ndim})}")
    if dims > MAX_NDIM and not per_axis:
        raise SpecError(
            f"ndim must be at most {MAX_NDIM}: it counts the spatial axes of a square kernel (torch and Keras "
            f"convolve over 1 to 3); give a per-axis kernel_size tuple for anything else. {received({'ndim': ndim})}"
        )
    if per_axis and ndim is not None and len(kernel_size) != dims:  # torch: a 2-D kernel in a Conv3d fails
        raise SpecError(
            f"kernel_size has {len(kernel_size)} axes but ndim={dims}: give a kernel of {dims} axes, or "
            f"ndim={len(kernel_size)} (or leave ndim out). {received({'kernel_size': kernel_size, 'ndim': ndim})}"
        )
    axes = Axes({"kernel_size": kernel_size}, ndim=None if per_axis else dims)
    return math.prod(integer(k, "kernel_size", minimum=1) for k in axes.values["kernel_size"])


def _groups(channels: dict[str, Size], groups: Size, args: dict[str, Any]) -> Size:
    g = integer(groups, "groups", minimum=1)
    groups_divide(channels, g, args)
    return g


def groups_divide(channels: dict[str, Size], g: Size, args: dict[str, Any]) -> None:
    """The grouping rule of every convolution (torch's, Keras', the formulas'): each channel count a multiple
    of ``groups``; the message gives the remainder and, for numbers, the groups that would fit. The counts the
    user gave (in ``args``) are checked (a lazy convolution's ``in_channels`` is the input's, later)."""
    channels = {name: value for name, value in channels.items() if name in args}
    for name, value in channels.items():
        check(
            value % g == 0,
            lambda pick: (
                f"{name} must be divisible by groups: {show(pick(value))} % {show(pick(g))} = "
                f"{show(pick(value) % pick(g))}{_groups_that_fit(channels, pick)}. {received(args)}"
            ),
            SpecError,
        )


def _groups_that_fit(channels: dict[str, Size], pick: Any) -> str:
    """``; groups that divide in_channels and out_channels: 1, 2`` where the counts are numbers (a few listed)."""
    counts = [pick(v) for v in channels.values()]
    if not all(type(c) is int and c > 0 for c in counts):
        return ""
    common = math.gcd(*counts)  # the largest; the smallest ones are looked for among the first 100,000
    small = list(itertools.islice((d for d in range(1, min(common, 10**5) + 1) if common % d == 0), 12))
    listed = ", ".join(map(str, small)) + ("" if small[-1] == common else f", ..., {show(common)}")
    return f"; groups that divide {' and '.join(channels)}: {listed}"


def _grouped_conv_params(
    in_channels: Size, out_channels: Size, kernel_size: Sizes, groups: Size, bias: bool, ndim: int | None
) -> Size:
    args = {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": kernel_size, "groups": groups}
    cin = integer(in_channels, "in_channels", minimum=1)
    cout = integer(out_channels, "out_channels", minimum=1)
    g = _groups({"in_channels": cin, "out_channels": cout}, groups, args)
    volume = _kernel_volume(kernel_size, ndim)
    return cout * (cin // g) * volume + (cout if flag(bias, "bias") else 0)


@exact_arrays
def conv_params(
    in_channels: Size,
    out_channels: Size,
    kernel_size: Sizes,
    *,
    groups: Size = 1,
    bias: bool = True,
    ndim: int | None = None,
) -> Size:
    """Parameters of a convolution: ``out * (in / groups) * prod(kernel) (+ out)``.

    An int ``kernel_size`` is a square (cube, ...) kernel over ``ndim`` axes (2 where not given); a tuple has
    its own number of axes, which ``ndim``, where given, must agree with.
    Depthwise convolution is ``groups=in_channels``.

    >>> conv_params(3, 4, 5, bias=False)
    300
    >>> conv_params(1, 75, 3)
    750
    >>> conv_params(32, 32, 3, groups=32)
    320
    >>> conv_params(6, 4, 3, groups=4)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: in_channels must be divisible by groups: 6 % 4 = 2; groups that divide in_channels and out_channels: 1, 2. Received: in_channels=6, out_channels=4, kernel_size=3, groups=4
    """
    return _grouped_conv_params(in_channels, out_channels, kernel_size, groups, bias, ndim)


@exact_arrays
def conv_transpose_params(
    in_channels: Size,
    out_channels: Size,
    kernel_size: Sizes,
    *,
    groups: Size = 1,
    bias: bool = True,
    ndim: int | None = None,
) -> Size:
    """Parameters of a transposed convolution: ``in * (out / groups) * prod(kernel) (+ out)``.

    >>> conv_transpose_params(128, 64, 2)
    32832
    >>> conv_transpose_params(3, 3, 2, groups=2)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: in_channels must be divisible by groups: 3 % 2 = 1; groups that divide in_channels and out_channels: 1, 3. Received: in_channels=3, out_channels=3, kernel_size=2, groups=2
    """
    # the weight is (in, out / groups, *kernel) here, (out, in / groups, *kernel) for a convolution:
    # the same count, since groups divides both
    return _grouped_conv_params(in_channels, out_channels, kernel_size, groups, bias, ndim)


@exact_arrays
def separable_conv_params(
    in_channels: Size,
    filters: Size,
    kernel_size: Sizes,
    *,
    depth_multiplier: Size = 1,
    bias: bool = True,
    ndim: int | None = None,
) -> Size:
    """Parameters of Keras ``SeparableConv``: depthwise ``prod(k) * in * dm``, pointwise
    ``in * dm * filters``, and ``filters`` biases.

    >>> separable_conv_params(32, 64, 3)
    2400
    """
    cin = integer(in_channels, "in_channels", minimum=1)
    out = integer(filters, "filters", minimum=1)
    dm = integer(depth_multiplier, "depth_multiplier", minimum=1)
    volume = _kernel_volume(kernel_size, ndim)
    return volume * cin * dm + cin * dm * out + (out if flag(bias, "bias") else 0)


@exact_arrays
def linear_params(in_features: Size, out_features: Size, *, bias: bool = True) -> Size:
    """Parameters of ``Linear`` / ``Dense``: ``in * out (+ out)``.

    >>> linear_params(400, 512)
    205312
    >>> linear_params(0, 10)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: in_features must be at least 1. Received: in_features=0
    """
    fin = integer(in_features, "in_features", minimum=1)
    fout = integer(out_features, "out_features", minimum=1)
    return _linear_count(fin, fout, bias=flag(bias, "bias"))


def _linear_count(fin: Any, fout: int, *, bias: bool) -> Any:
    """``Linear`` / ``Dense`` parameters over validated values; ``fin`` may be a symbolic size (a Keras Dense
    after Flatten of a symbolic image), which the public function does not take."""
    return fin * fout + (fout if bias else 0)


@exact_arrays
def batchnorm_params(
    num_features: Size,
    *,
    affine: bool = True,
    track_running_stats: bool = True,
    convention: str = "torch",
) -> ParamCount:
    """Parameters of batch normalisation over ``num_features`` channels.

    torch: ``2C`` trainable (weight, bias) when ``affine``, and ``2C + 1`` buffer
    elements (running mean, running variance, ``num_batches_tracked``) when
    ``track_running_stats``. Keras: ``2C`` trainable (gamma, beta; ``affine`` stands
    for ``center``/``scale``) and ``2C`` non-trainable (moving mean and variance).

    >>> batchnorm_params(64)
    ParamCount(trainable=128, non_trainable=0, buffers=129)
    >>> batchnorm_params(75, convention="keras").total
    300
    >>> batchnorm_params(-1)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: num_features must be at least 1. Received: num_features=-1
    """
    conv = Convention.parse(convention, "convention")
    c = integer(num_features, "num_features", minimum=1)
    trainable = 2 * c if flag(affine, "affine") else 0
    tracked = flag(track_running_stats, "track_running_stats")
    if conv is Convention.KERAS:
        return ParamCount(trainable, 2 * c, 0)
    return ParamCount(trainable, 0, 2 * c + 1 if tracked else 0)


@exact_arrays
def groupnorm_params(num_groups: Size, num_channels: Size, *, affine: bool = True) -> Size:
    """Parameters of ``GroupNorm``: ``2C`` when affine; ``C`` must divide into the groups.

    >>> groupnorm_params(32, 256)
    512
    >>> groupnorm_params(8, 60)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: num_channels must be divisible by num_groups: 60 % 8 = 4. Received: num_groups=8, num_channels=60
    """
    args = {"num_groups": num_groups, "num_channels": num_channels}
    g = integer(num_groups, "num_groups", minimum=1)
    c = integer(num_channels, "num_channels", minimum=1)
    check(
        c % g == 0,
        lambda pick: (
            f"num_channels must be divisible by num_groups: {show(pick(c))} % {show(pick(g))} = {show(pick(c) % pick(g))}. "
            f"{received(args)}"
        ),
        SpecError,
    )
    return 2 * c if flag(affine, "affine") else 0


@exact_arrays
def layernorm_params(normalized_shape: Sizes, *, elementwise_affine: bool = True, bias: bool = True) -> Size:
    """Parameters of ``LayerNorm(normalized_shape)``: ``2 * prod(shape)``, or one
    ``prod(shape)`` without bias, or 0 without affine.

    >>> layernorm_params((64, 7, 7))
    6272
    >>> layernorm_params(512, bias=False)
    512
    """
    shape = normalized_shape if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
    if not shape:
        raise SpecError(f"normalized_shape must not be empty. {received({'normalized_shape': normalized_shape})}")
    n = math.prod(integer(v, "normalized_shape", minimum=1) for v in shape)
    if not flag(elementwise_affine, "elementwise_affine"):
        return 0
    return 2 * n if flag(bias, "bias") else n
