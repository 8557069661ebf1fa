"""The normalisation specs of ``convcalc.nn`` say exactly what they were given, what fits, and what they count.

Written against the mutants of ``nn/norm.py`` that the layer and property tests let live: each message is
compared whole (the layer's path, the argument's name, every value), each least value is checked on both sides,
and each row's fields (kind, shapes, parameters, buffers, receptive field) are checked for every class and flag.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

import convcalc
from convcalc import nn


def _nested(layer: nn.Module, stem: nn.Module | None = None) -> nn.Sequential:
    return nn.Sequential(OrderedDict(stem=stem or nn.Identity(), block=nn.Sequential(OrderedDict(norm=layer))))


BN = "eps=1e-05, momentum=0.1"
ARGUMENT_ERRORS = [
    (lambda: nn.BatchNorm2d(0), "num_features must be at least 1. Received: num_features=0"),
    (
        lambda: nn.BatchNorm2d(2, affine="yes"),
        f"affine must be True or False. Received: num_features=2, {BN}, affine='yes', track_running_stats=True",
    ),
    (
        lambda: nn.BatchNorm3d(2, track_running_stats=None),
        f"track_running_stats must be True or False. Received: num_features=2, {BN}, affine=True, "
        "track_running_stats=None",
    ),
    (lambda: nn.InstanceNorm2d(0), "num_features must be at least 1. Received: num_features=0"),
    (
        lambda: nn.InstanceNorm2d(3, affine=1),
        f"affine must be True or False. Received: num_features=3, {BN}, affine=1, track_running_stats=False",
    ),
    (
        lambda: nn.InstanceNorm2d(3, track_running_stats="no"),
        f"track_running_stats must be True or False. Received: num_features=3, {BN}, affine=False, "
        "track_running_stats='no'",
    ),
    (lambda: nn.GroupNorm(0, 4), "num_groups must be at least 1. Received: num_groups=0"),
    (lambda: nn.GroupNorm(2, 0), "num_channels must be at least 1. Received: num_channels=0"),
    (
        lambda: nn.GroupNorm(3, 4),
        "num_channels (4) must be divisible by num_groups (3). Received: num_groups=3, num_channels=4, eps=1e-05, "
        "affine=True",
    ),
    (
        lambda: nn.GroupNorm(2, 4, affine=None),
        "affine must be True or False. Received: num_groups=2, num_channels=4, eps=1e-05, affine=None",
    ),
    (
        lambda: nn.LayerNorm(()),
        "normalized_shape must not be empty. Received: normalized_shape=(), eps=1e-05, elementwise_affine=True, "
        "bias=True",
    ),
    (lambda: nn.LayerNorm((4, 0)), "normalized_shape must be at least 1. Received: normalized_shape=0"),
    (
        lambda: nn.LayerNorm(4, elementwise_affine=2),
        "elementwise_affine must be True or False. Received: normalized_shape=4, eps=1e-05, elementwise_affine=2, "
        "bias=True",
    ),
    (
        lambda: nn.LayerNorm(4, bias="x"),
        "bias must be True or False. Received: normalized_shape=4, eps=1e-05, elementwise_affine=True, bias='x'",
    ),
]


@pytest.mark.parametrize(("build", "message"), ARGUMENT_ERRORS, ids=[str(i) for i in range(len(ARGUMENT_ERRORS))])
def test_argument_errors_name_the_argument_and_every_value(build: Any, message: str) -> None:
    with pytest.raises(convcalc.SpecError) as info:
        build()
    assert str(info.value) == message


PLAN_ERRORS = [
    (
        nn.BatchNorm2d(3),
        (1, 3, 4),
        "block.norm (BatchNorm2d): expects 4-D input, got 3-D (1, 3, 4). Received: input_shape=(1, 3, 4)",
    ),
    (
        nn.BatchNorm1d(3),
        (1, 3, 4, 4),
        "block.norm (BatchNorm1d): expects 2-D or 3-D input, got 4-D (1, 3, 4, 4). Received: input_shape=(1, 3, 4, 4)",
    ),
    (
        nn.BatchNorm3d(3),
        (1, 3, 4, 4),
        "block.norm (BatchNorm3d): expects 5-D input, got 4-D (1, 3, 4, 4). Received: input_shape=(1, 3, 4, 4)",
    ),
    (
        nn.BatchNorm2d(4),
        (1, 3, 5, 5),
        "block.norm (BatchNorm2d): num_features=4 but the input has 3 channels: use num_features=3 (or make the "
        "previous layer output 4). Received: input_shape=(1, 3, 5, 5)",
    ),
    (
        nn.InstanceNorm2d(3),
        (1, 3, 4, 4, 4),
        "block.norm (InstanceNorm2d): expects (N, C, H, W) or (C, H, W). Received: input_shape=(1, 3, 4, 4, 4)",
    ),
    (
        nn.GroupNorm(2, 4),
        (1, 3, 4),
        "block.norm (GroupNorm): num_channels=4 but the input has 3 channels: use num_channels=3 (or make the "
        "previous layer output 4). Received: input_shape=(1, 3, 4)",
    ),
    (
        nn.LayerNorm((4, 5)),
        (1, 3, 4, 6),
        "block.norm (LayerNorm): normalized_shape=(4, 5) must match the last dims of the input (1, 3, 4, 6): use "
        "normalized_shape=(4, 6). Received: input_shape=(1, 3, 4, 6)",
    ),
]


@pytest.mark.parametrize(("layer", "shape", "message"), PLAN_ERRORS, ids=[str(i) for i in range(len(PLAN_ERRORS))])
def test_plan_errors_name_the_path_and_every_value(layer: Any, shape: Any, message: str) -> None:
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(_nested(layer), shape)
    assert str(info.value) == message


def test_plan_errors_without_a_batch_axis_or_with_few_dims() -> None:
    """A 1-D input to GroupNorm, and a LayerNorm of more dims than its input (all the input's dims fit)."""
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(nn.Sequential(OrderedDict(norm=nn.GroupNorm(2, 4))), (4,))
    assert str(info.value) == "norm (GroupNorm): expects (N, C, *). Received: input_shape=(4,)"
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(nn.Sequential(OrderedDict(norm=nn.LayerNorm((4, 5)))), (5,))
    assert str(info.value) == (
        "norm (LayerNorm): normalized_shape=(4, 5) must match the last dims of the input (5,): use "
        "normalized_shape=(5,). Received: input_shape=(5,)"
    )
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(nn.Sequential(OrderedDict(norm=nn.LayerNorm((3, 4, 5)))), (2, 4, 5))
    assert "use normalized_shape=(2, 4, 5)." in str(info.value)  # as many trailing dims as normalized_shape
    # GroupNorm takes any rank from 2 up; InstanceNorm2d's (C, H, W)
    assert convcalc.plan(nn.GroupNorm(2, 4), (3, 4)).output_shape == (3, 4)
    assert convcalc.plan(nn.InstanceNorm2d(3), (3, 5, 5)).output_shape == (3, 5, 5)
    with pytest.raises(convcalc.ShapeError, match=r"expects \(N, C, H, W\) or \(C, H, W\)"):
        convcalc.plan(nn.InstanceNorm2d(3), (3, 5))


@pytest.mark.parametrize(
    ("build", "trainable", "buffers"),
    [
        (lambda: nn.BatchNorm2d(1), 2, 3),
        (lambda: nn.BatchNorm2d(3), 6, 7),
        (lambda: nn.BatchNorm2d(3, affine=False), 0, 7),
        (lambda: nn.BatchNorm2d(3, track_running_stats=False), 6, 0),
        (lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False), 0, 0),
        (lambda: nn.InstanceNorm2d(3), 0, 0),
        (lambda: nn.InstanceNorm2d(3, affine=True), 6, 0),
        (lambda: nn.InstanceNorm2d(3, track_running_stats=True), 0, 7),
        (lambda: nn.GroupNorm(1, 3), 6, 0),
        (lambda: nn.GroupNorm(3, 3, affine=False), 0, 0),
        (lambda: nn.LayerNorm((3, 4, 4)), 96, 0),
        (lambda: nn.LayerNorm(4, bias=False), 4, 0),
        (lambda: nn.LayerNorm(4), 8, 0),
        (lambda: nn.LayerNorm(4, elementwise_affine=False), 0, 0),
    ],
)
def test_rows_count_parameters_and_buffers_and_pass_the_field_on(build: Any, trainable: int, buffers: int) -> None:
    """Every least value is taken (one feature, one group, one dim); the row keeps the layer's kind, its input
    shape as output, and the receptive field of the convolution before it. (Each layer is made in the test, so
    that its argument checks count as run by it.)"""
    layer = build()
    channels = layer.num_channels if isinstance(layer, nn.GroupNorm) else 1 if layer == nn.BatchNorm2d(1) else 3
    plan = convcalc.plan(_nested(layer, nn.Conv2d(channels, channels, 3, stride=2)), (1, channels, 9, 9))
    row = plan.rows[-1]
    conv = plan.rows[0]
    assert (row.name, row.kind) == ("block.norm", type(layer).__name__)
    assert row.input_shape == row.output_shape == conv.output_shape == (1, channels, 4, 4)
    assert (row.trainable, row.buffers) == (trainable, buffers)
    assert row.receptive_field == conv.receptive_field is not None
    assert (plan.total_params, plan.buffers) == (conv.trainable + trainable, buffers)


def test_instance_norm_checks_channels_and_its_plane() -> None:
    """Channels are checked where torch holds weights or statistics for them; a plane of one element has no
    statistics of its own unless running statistics are kept."""
    for layer in (nn.InstanceNorm2d(4, affine=True), nn.InstanceNorm2d(4, track_running_stats=True)):
        with pytest.raises(convcalc.ShapeError) as info:
            convcalc.plan(_nested(layer), (1, 3, 5, 5))
        assert str(info.value) == (
            "block.norm (InstanceNorm2d): num_features=4 but the input has 3 channels: use num_features=3 (or make "
            "the previous layer output 4). Received: input_shape=(1, 3, 5, 5)"
        )
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(_nested(nn.InstanceNorm2d(3, affine=True)), (4, 5, 5))  # unbatched: channels on axis 0
    assert "num_features=3 but the input has 4 channels" in str(info.value)
    assert convcalc.plan(_nested(nn.InstanceNorm2d(4)), (1, 3, 5, 5)).output_shape == (1, 3, 5, 5)
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(_nested(nn.InstanceNorm2d(3)), (1, 3, 1, 1))
    assert str(info.value).startswith(
        "block.norm (InstanceNorm2d): expects more than 1 spatial element, or none (torch's check when it computes each "
        "sample's statistics)."
    )
    assert str(info.value).endswith("Received: input_shape=(1, 3, 1, 1)")
    for shape in ((1, 3, 1, 2), (1, 3, 2, 1), (3, 1, 2), (3, 2, 1)):
        assert convcalc.plan(_nested(nn.InstanceNorm2d(3)), shape).output_shape == shape
    assert convcalc.plan(_nested(nn.InstanceNorm2d(3, track_running_stats=True)), (1, 3, 1, 1)).output_shape
    H, W = convcalc.symbols("H W")
    (constraint,) = convcalc.plan(_nested(nn.InstanceNorm2d(3)), (1, 3, H, W)).constraints
    assert (constraint.layer, constraint.axis, str(constraint.form), constraint.kind, constraint.value) == (
        "block.norm",
        1,
        "H*W",
        ">=",
        2,
    )
    assert constraint.reason == "more than 1 spatial element"


def test_layer_norm_of_as_many_dims_as_the_input() -> None:
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(_nested(nn.LayerNorm((4, 5))), (4, 6))
    assert str(info.value) == (
        "block.norm (LayerNorm): normalized_shape=(4, 5) must match the last dims of the input (4, 6): use "
        "normalized_shape=(4, 6). Received: input_shape=(4, 6)"
    )
    assert convcalc.plan(_nested(nn.LayerNorm((4, 6))), (4, 6)).output_shape == (4, 6)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: nn.BatchNorm2d(3, eps="1e-5"), "eps"),
        (lambda: nn.BatchNorm1d(3, momentum="0.1"), "momentum"),
        (lambda: nn.InstanceNorm2d(3, eps="nan"), "eps"),
        (lambda: nn.GroupNorm(1, 3, eps=None), "eps"),
        (lambda: nn.LayerNorm(3, eps=True), "eps"),
        (lambda: nn.RMSNorm(3, eps=[1e-5]), "eps"),
    ],
)
def test_eps_and_momentum_must_be_numbers(make: Any, name: str) -> None:
    """A string (``eps: "1e-5"`` in a file), a bool, a list: torch takes them at construction and fails when the
    layer runs; the spec refuses them by name (an infinite eps runs: its outputs are 0)."""
    with pytest.raises(convcalc.SpecError, match=rf"^{name} must be a number\. Received: "):
        make()


def test_a_momentum_or_an_rmsnorm_eps_of_none_is_torchs_default() -> None:
    assert nn.BatchNorm2d(3, momentum=None).momentum is None
    assert nn.RMSNorm(3).eps is None
    assert nn.BatchNorm2d(3, eps=0).eps == 0
    assert nn.BatchNorm2d(3, eps=float("inf")).eps == float("inf")


def test_a_group_of_several_channels_asks_nothing_of_symbolic_sizes() -> None:
    """``GroupNorm(1, 64)`` (PoolFormer's norm) holds 64 values per group at any size: no condition on the sizes
    is recorded (it tied H and W, which valid_sizes refused). One channel per group at a batch of 1 still needs
    more than one position, and a training-mode batch norm at a batch of 1 too."""
    h, w = convcalc.symbols("H W")
    block = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.GroupNorm(1, 8))
    plan = convcalc.plan(block, (1, 3, h, w))
    assert [c.reason for c in plan.constraints if "group" in c.reason] == []
    assert plan.valid_sizes("H") is not None
    per_channel = convcalc.plan(nn.Sequential(nn.GroupNorm(4, 4)), (1, 4, h, w))
    assert [c.reason for c in per_channel.constraints] == ["more than 1 value per group"]
    with pytest.raises(convcalc.ShapeError, match="more than 1 value per group"):
        convcalc.plan(nn.Sequential(nn.GroupNorm(4, 4)), (1, 4, 1, 1))
    assert convcalc.plan(nn.Sequential(nn.GroupNorm(2, 4)), (1, 4, 1, 1)).output_shape == (1, 4, 1, 1)
