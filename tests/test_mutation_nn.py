"""The convolution and pooling specs of ``convcalc.nn`` say exactly what they were given and what fits.

Written against the mutants of ``nn/conv.py`` and ``nn/pool.py`` that the layer and property tests let live: each
error message is compared whole (the layer's path, the argument's name, every number in it), the layers sit
inside a container so that the path is not the empty one, and each argument's least value is checked on both
sides. The messages are convcalc's; where a rule is torch's, the case says which torch check it mirrors.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

import convcalc
from convcalc import nn


def _nested(layer: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(stem=nn.Identity(), block=nn.Sequential(OrderedDict(layer=layer))))


PLAN_ERRORS = [
    (
        nn.ConvTranspose2d(1, 1, 3, padding=3),
        (1, 1, 2, 2),
        False,
        "block.layer (ConvTranspose2d): output size would be -2 on spatial axis 0, too small: reduce padding below 3 "
        "or give a larger input. The smallest network input that fits every layer: input_shape=(1, 1, 5, 5). Received: input_shape=(1, 1, 2, 2)",
    ),
    (
        nn.ConvTranspose2d(2, 1, 3),
        (1, 3, 4, 4),
        False,
        "block.layer (ConvTranspose2d): in_channels=2 but the input has 3 channels: use in_channels=3 (or make the "
        "previous layer output 2). Received: input_shape=(1, 3, 4, 4)",
    ),
    (
        nn.ConvTranspose2d(1, 1, 3),
        (1, 4),
        False,
        "block.layer (ConvTranspose2d): expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives 2-D "
        "(1, 4). Received: input_shape=(1, 4)",
    ),
    (
        nn.LazyConv2d(4, 3, groups=2),
        (1, 3, 8, 8),
        False,
        "block.layer (LazyConv2d): 3 input channels do not divide into groups=2. Received: input_shape=(1, 3, 8, 8)",
    ),
    (
        nn.LazyConv2d(4, 3),
        (3, 8),
        False,
        "block.layer (LazyConv2d): expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives 2-D "
        "(3, 8). Received: input_shape=(3, 8)",
    ),
    (
        nn.Conv2d(1, 1, 7, padding=1),
        (1, 1, 4, 4),
        False,
        "block.layer (Conv2d): the kernel spans 7 but the padded input is 4 + 2 = 6 on spatial axis 0; the input to "
        "this layer must be at least 5 there. The smallest network input that fits every layer: input_shape=(1, 1, 5, 5). Received: "
        "input_shape=(1, 1, 4, 4)",
    ),
    (
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
        (1, 1, 6, 6),
        True,
        "block.layer (Conv2d): (W - F + 2P) = 6 - 3 + 2 = 5 is not divisible by the stride 2 on spatial axis 0 "
        "(strict mode); input sizes that fit: 5 or 7. Network inputs that fit every layer: use an input of 5 or 7 "
        "instead of 6 on that axis. Received: input_shape=(1, 1, 6, 6)",
    ),
    (
        nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"),
        (1, 1, 1, 4),
        False,
        "block.layer (Conv2d): reflect padding (1, 1) must be less than the input size 1 (torch: Padding size should "
        "be less than the corresponding input dimension) on dim 2. The smallest network input that fits every layer: input_shape=(1, 1, 2, 4). Received: input_shape=(1, 1, 1, 4)",
    ),
    (
        nn.MaxPool2d(3, stride=3, padding=1),
        (1, 1, 8, 8),
        True,
        "block.layer (MaxPool2d): (W - F + 2P) = 8 - 3 + 2 = 7 is not divisible by the stride 3 on spatial axis 0 "
        "(strict mode); input sizes that fit: 7 or 10. Network inputs that fit every layer: use an input of 7 or 10 "
        "instead of 8 on that axis. Received: input_shape=(1, 1, 8, 8)",
    ),
    (
        nn.MaxPool2d(5, padding=1),
        (1, 1, 2, 2),
        False,
        "block.layer (MaxPool2d): the kernel spans 5 but the padded input is 2 + 2 = 4 on spatial axis 0; the input "
        "to this layer must be at least 3 there. The smallest network input that fits every layer: input_shape=(1, 1, 3, 3). Received: "
        "input_shape=(1, 1, 2, 2)",
    ),
    (
        nn.AvgPool3d(3, padding=1),
        (1, 1, 2, 4, 4),
        False,
        "block.layer (AvgPool3d): input size 2 on spatial axis 0 is smaller than kernel size 3 (torch's avg_pool3d "
        "needs input >= kernel whatever the padding). The smallest network input that fits every layer: input_shape=(1, 1, 3, 4, 4). Received: input_shape=(1, 1, 2, 4, 4)",
    ),
    (
        nn.MaxPool2d(2),
        (1, 1, 4),
        False,
        # one sample without its batch axis: the hint changes the input's own axis
        "block.layer (MaxPool2d): the kernel spans 2 but the padded input is 1 + 0 = 1 on spatial axis 0; the input "
        "to this layer must be at least 2 there. The smallest network input that fits every layer: input_shape=(1, 2, 4). The network input (1, 1, 4) was read as one sample without a batch axis (by stem (Identity)). Received: input_shape=(1, 1, 4)",
    ),
    (
        nn.AdaptiveAvgPool2d(2),
        (4,),
        False,
        "block.layer (AdaptiveAvgPool2d): expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives "
        "1-D (4,). "
        "Received: input_shape=(4,)",
    ),
]


@pytest.mark.parametrize(("layer", "shape", "strict", "message"), PLAN_ERRORS, ids=[str(i) for i in range(13)])
def test_plan_errors_name_the_path_and_every_number(layer: Any, shape: Any, strict: bool, message: str) -> None:
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(_nested(layer), shape, strict=strict)
    assert str(info.value) == message


ARGUMENT_ERRORS = [
    (lambda: nn.ConvTranspose2d(0, 4, 3), "in_channels must be at least 1. Received: in_channels=0"),
    (lambda: nn.ConvTranspose2d(3, 0, 3), "out_channels must be at least 1. Received: out_channels=0"),
    (lambda: nn.ConvTranspose2d(3, 4, 0), "kernel_size must be at least 1. Received: kernel_size=0"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=0), "stride must be at least 1. Received: stride=0"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding=-1), "padding must be at least 0. Received: padding=-1"),
    (
        lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=-1),
        "output_padding must be at least 0. Received: output_padding=-1",
    ),
    (lambda: nn.ConvTranspose3d(3, 4, 3, dilation=(1, 1, 0)), "dilation must be at least 1. Received: dilation=0"),
    (
        lambda: nn.ConvTranspose2d(3, 4, 3, stride=(1, 2), output_padding=(0, 2)),
        "output_padding=2 must be smaller than either stride=2 or dilation=1 on axis 1: use output_padding <= 1. "
        "Received: in_channels=3, out_channels=4, kernel_size=3, stride=(1, 2), padding=0, output_padding=(0, 2), "
        "groups=1, bias=True, dilation=1, padding_mode='zeros'",
    ),
    (
        lambda: nn.ConvTranspose1d(3, 4, 3, output_padding=3, stride=2, dilation=3),
        "output_padding=3 must be smaller than either stride=2 or dilation=3: use output_padding <= 2. Received: "
        "in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=0, output_padding=3, groups=1, bias=True, "
        "dilation=3, padding_mode='zeros'",
    ),
    (
        lambda: nn.ConvTranspose2d(4, 3, 3, groups=2),
        "out_channels must be divisible by groups: 3 % 2 = 1; groups that divide in_channels and out_channels: 1. "
        "Received: in_channels=4, out_channels=3, "
        "kernel_size=3, stride=1, padding=0, output_padding=0, groups=2, bias=True, dilation=1, padding_mode='zeros'",
    ),
    (lambda: nn.MaxPool2d(0), "kernel_size must be at least 1. Received: kernel_size=0"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride must be at least 1. Received: stride=0"),
    (lambda: nn.MaxPool2d(2, padding=-1), "padding must be at least 0. Received: padding=-1"),
    (lambda: nn.MaxPool2d(2, dilation=(1, 0)), "dilation must be at least 1. Received: dilation=0"),
    (
        lambda: nn.MaxPool2d((2, 4), padding=(1, 3)),
        "padding=3 is more than half of kernel_size=4 on axis 1: torch allows padding <= 2. Received: "
        "kernel_size=(2, 4), stride=None, padding=(1, 3), dilation=1, return_indices=False, ceil_mode=False",
    ),
    (
        lambda: nn.AvgPool2d(2, count_include_pad=1),
        "count_include_pad must be True or False. Received: kernel_size=2, stride=None, padding=0, ceil_mode=False, "
        "count_include_pad=1, divisor_override=None",
    ),
    (
        lambda: nn.AvgPool2d(2, divisor_override=0),  # torch's avg_pool2d: "divisor must be not zero"
        "divisor_override must not be zero: use None or another int. Received: kernel_size=2, stride=None, "
        "padding=0, ceil_mode=False, count_include_pad=True, divisor_override=0",
    ),
    (lambda: nn.AdaptiveAvgPool2d(-1), "output_size must be at least 0. Received: output_size=-1"),
]


@pytest.mark.parametrize(("build", "message"), ARGUMENT_ERRORS, ids=[str(i) for i in range(18)])
def test_argument_errors_name_the_argument_and_its_least_value(build: Any, message: str) -> None:
    with pytest.raises(convcalc.SpecError) as info:
        build()
    assert str(info.value) == message


def test_least_values_are_accepted() -> None:
    """The bounds above are the least values torch takes, not one more."""
    assert convcalc.plan(_nested(nn.AdaptiveAvgPool2d(0)), (1, 3, 8, 8)).output_shape == (1, 3, 0, 0)
    assert convcalc.plan(_nested(nn.AvgPool2d(2, divisor_override=-2)), (1, 3, 8, 8)).output_shape == (1, 3, 4, 4)
    assert convcalc.plan(_nested(nn.MaxPool2d(2, dilation=2)), (1, 1, 3, 3)).output_shape == (1, 1, 1, 1)
    assert convcalc.plan(_nested(nn.ConvTranspose2d(1, 1, 1, padding=0, output_padding=0)), (1, 1, 1, 1)).output_shape
    assert convcalc.plan(nn.AvgPool2d(1, padding=0), (1, 1, 1, 1), strict=True).output_shape == (1, 1, 1, 1)
