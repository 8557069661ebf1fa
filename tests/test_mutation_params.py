"""Parameter counts: every argument's message and the smallest valid values (written to kill mutants;
see docs/mutation.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from convcalc import (
    ParamCount,
    SpecError,
    batchnorm_params,
    conv_params,
    conv_transpose_params,
    groupnorm_params,
    layernorm_params,
    linear_params,
    separable_conv_params,
)

BAD = [
    (conv_params, (0, 4, 3), {}, "in_channels must be at least 1. Received: in_channels=0"),
    (conv_params, (3, 0, 3), {}, "out_channels must be at least 1. Received: out_channels=0"),
    (conv_params, (3, 4, 0), {}, "kernel_size must be at least 1. Received: kernel_size=0"),
    (conv_params, (3, 4, (3, 0)), {}, "kernel_size must be at least 1. Received: kernel_size=0"),
    (conv_params, (3, 4, 3), {"groups": 0}, "groups must be at least 1. Received: groups=0"),
    (conv_params, (3, 4, 3), {"ndim": 0}, "ndim must be at least 1. Received: ndim=0"),
    (conv_params, (3, 4, 3), {"bias": 1}, "bias must be True or False. Received: bias=1"),
    (
        conv_params,
        (6, 4, 3),
        {"groups": 4},
        "in_channels must be divisible by groups: 6 % 4 = 2; groups that divide in_channels and out_channels: 1, 2. "
        "Received: in_channels=6, out_channels=4, kernel_size=3, groups=4",
    ),
    (
        conv_params,
        (4, 6, 3),
        {"groups": 4},
        "out_channels must be divisible by groups: 6 % 4 = 2; groups that divide in_channels and out_channels: 1, 2. "
        "Received: in_channels=4, out_channels=6, kernel_size=3, groups=4",
    ),
    (conv_transpose_params, (0, 4, 3), {}, "in_channels must be at least 1. Received: in_channels=0"),
    (conv_transpose_params, (3, 0, 3), {}, "out_channels must be at least 1. Received: out_channels=0"),
    (conv_transpose_params, (3, 4, 0), {}, "kernel_size must be at least 1. Received: kernel_size=0"),
    (conv_transpose_params, (3, 4, 3), {"groups": 0}, "groups must be at least 1. Received: groups=0"),
    (conv_transpose_params, (3, 4, 3), {"ndim": 0}, "ndim must be at least 1. Received: ndim=0"),
    (conv_transpose_params, (3, 4, 3), {"bias": None}, "bias must be True or False. Received: bias=None"),
    (
        conv_transpose_params,
        (4, 6, 3),
        {"groups": 4},
        "out_channels must be divisible by groups: 6 % 4 = 2; groups that divide in_channels and out_channels: 1, 2. "
        "Received: in_channels=4, out_channels=6, kernel_size=3, groups=4",
    ),
    (separable_conv_params, (0, 4, 3), {}, "in_channels must be at least 1. Received: in_channels=0"),
    (separable_conv_params, (3, 0, 3), {}, "filters must be at least 1. Received: filters=0"),
    (separable_conv_params, (3, 4, 0), {}, "kernel_size must be at least 1. Received: kernel_size=0"),
    (
        separable_conv_params,
        (3, 4, 3),
        {"depth_multiplier": 0},
        "depth_multiplier must be at least 1. Received: depth_multiplier=0",
    ),
    (separable_conv_params, (3, 4, 3), {"ndim": 0}, "ndim must be at least 1. Received: ndim=0"),
    (separable_conv_params, (3, 4, 3), {"bias": "yes"}, "bias must be True or False. Received: bias='yes'"),
    (linear_params, (0, 4), {}, "in_features must be at least 1. Received: in_features=0"),
    (linear_params, (3, 0), {}, "out_features must be at least 1. Received: out_features=0"),
    (linear_params, (3, 4), {"bias": 0}, "bias must be True or False. Received: bias=0"),
    (batchnorm_params, (0,), {}, "num_features must be at least 1. Received: num_features=0"),
    (batchnorm_params, (3,), {"affine": 1}, "affine must be True or False. Received: affine=1"),
    (
        batchnorm_params,
        (3,),
        {"track_running_stats": 1},
        "track_running_stats must be True or False. Received: track_running_stats=1",
    ),
    (
        batchnorm_params,
        (3,),
        {"convention": "tf"},
        "convention must be one of 'torch', 'keras'. Received: convention='tf'",
    ),
    (groupnorm_params, (0, 4), {}, "num_groups must be at least 1. Received: num_groups=0"),
    (groupnorm_params, (2, 0), {}, "num_channels must be at least 1. Received: num_channels=0"),
    (groupnorm_params, (2, 4), {"affine": 1}, "affine must be True or False. Received: affine=1"),
    (
        groupnorm_params,
        (3, 4),
        {},
        "num_channels must be divisible by num_groups: 4 % 3 = 1. Received: num_groups=3, num_channels=4",
    ),
    (layernorm_params, ((),), {}, "normalized_shape must not be empty. Received: normalized_shape=()"),
    (layernorm_params, ([],), {}, "normalized_shape must not be empty. Received: normalized_shape=[]"),
    (layernorm_params, (0,), {}, "normalized_shape must be at least 1. Received: normalized_shape=0"),
    (layernorm_params, ((3, 0),), {}, "normalized_shape must be at least 1. Received: normalized_shape=0"),
    (
        layernorm_params,
        (3,),
        {"elementwise_affine": 1},
        "elementwise_affine must be True or False. Received: elementwise_affine=1",
    ),
    (layernorm_params, (3,), {"bias": 1}, "bias must be True or False. Received: bias=1"),
]


@pytest.mark.parametrize(("call", "args", "kwargs", "message"), BAD)
def test_invalid_argument_message(
    call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as info:
        call(*args, **kwargs)
    assert str(info.value) == message


# the smallest valid value of every argument (1) is accepted, and the count is exact
SMALLEST = [
    (conv_params, (1, 1, 1), {}, 2),
    (conv_params, (1, 1, 1), {"bias": False, "ndim": 1}, 1),
    (conv_params, (2, 2, 1), {"groups": 2, "bias": False}, 2),
    (conv_transpose_params, (1, 1, 1), {}, 2),
    (conv_transpose_params, (2, 2, 1), {"groups": 2, "bias": False}, 2),
    (separable_conv_params, (1, 1, 1), {}, 3),
    (separable_conv_params, (1, 1, 1), {"bias": False, "ndim": 1}, 2),
    (linear_params, (1, 1), {}, 2),
    (linear_params, (1, 1), {"bias": False}, 1),
    (batchnorm_params, (1,), {}, ParamCount(2, 0, 3)),
    (groupnorm_params, (1, 1), {}, 2),
    (groupnorm_params, (1, 1), {"affine": False}, 0),
    (layernorm_params, (1,), {}, 2),
    (layernorm_params, ((1, 1),), {"bias": False}, 1),
]


@pytest.mark.parametrize(("call", "args", "kwargs", "expected"), SMALLEST)
def test_smallest_valid_arguments(
    call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any
) -> None:
    assert call(*args, **kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ParamCount(128, 0, 129)),
        ({"affine": False}, ParamCount(0, 0, 129)),
        ({"track_running_stats": False}, ParamCount(128, 0, 0)),
        ({"affine": False, "track_running_stats": False}, ParamCount(0, 0, 0)),
        ({"convention": "keras"}, ParamCount(128, 128, 0)),
        ({"convention": "keras", "affine": False}, ParamCount(0, 128, 0)),
        ({"convention": "KERAS".lower(), "track_running_stats": False}, ParamCount(128, 128, 0)),
    ],
)
def test_batchnorm_flags(kwargs: dict[str, Any], expected: ParamCount) -> None:
    count = batchnorm_params(64, **kwargs)
    assert count == expected
    assert tuple(count) == tuple(expected)
    assert count.total == expected.trainable + expected.non_trainable


def test_param_count_defaults_and_total() -> None:
    assert ParamCount(5) == (5, 0, 0)
    assert ParamCount(5, 3).total == 8
    assert ParamCount(5, 3, 7).total == 8


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({}, 2 * 64 * 49), ({"bias": False}, 64 * 49), ({"elementwise_affine": False}, 0)],
)
def test_layernorm_flags(kwargs: dict[str, Any], expected: int) -> None:
    assert layernorm_params((64, 7, 7), **kwargs) == expected
    assert layernorm_params([64, 7, 7], **kwargs) == expected


def test_layernorm_without_affine_still_checks_bias_is_a_flag() -> None:
    assert layernorm_params(4, elementwise_affine=False, bias=True) == 0


@pytest.mark.parametrize(
    ("call", "args", "kwargs", "expected"),
    [
        # out * (in / groups) * prod(kernel) + out
        (conv_params, (6, 4, (3, 5)), {"groups": 2}, 4 * 3 * 15 + 4),
        (conv_params, (6, 4, 3), {"groups": 2, "ndim": 3}, 4 * 3 * 27 + 4),
        (conv_params, (6, 4, 3), {"groups": 2, "ndim": 1, "bias": False}, 4 * 3 * 3),
        # in * (out / groups) * prod(kernel) + out
        (conv_transpose_params, (6, 4, (3, 5)), {"groups": 2}, 6 * 2 * 15 + 4),
        (conv_transpose_params, (6, 4, 3), {"groups": 2, "ndim": 1, "bias": False}, 6 * 2 * 3),
        # depthwise prod(k) * in * dm + pointwise in * dm * filters + filters
        (separable_conv_params, (3, 5, (2, 3)), {"depth_multiplier": 2}, 6 * 3 * 2 + 3 * 2 * 5 + 5),
        (separable_conv_params, (3, 5, 2), {"depth_multiplier": 2, "ndim": 1, "bias": False}, 2 * 3 * 2 + 3 * 2 * 5),
        (linear_params, (7, 5), {}, 7 * 5 + 5),
        (groupnorm_params, (4, 12), {}, 24),
    ],
)
def test_counts_are_exact(
    call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], expected: int
) -> None:
    assert call(*args, **kwargs) == expected
