"""The containers of ``convcalc.nn`` and the checks ``nn/_base.py`` shares say exactly what fits and what does not.

Written against the mutants of ``nn/containers.py`` and ``nn/_base.py`` that the other tests let live: the
projection a residual sum is told to take (its stride, a size of 1, the channels beside a crop), a Concat of one
branch, a crop that keeps a number a number, and the message for one sample without its batch axis whose
channels do not match, each compared whole.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
import torch

import convcalc
from convcalc import nn


def _raises(error: type[Exception], make: Any, message: str) -> None:
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


def _nested(layer: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(block=nn.Sequential(OrderedDict(layer=layer))))


# --- nn/containers.py: the projection hint of a residual sum -------------------------------------------------------

_ADD = "<model> (Add): branch 1 gives {got} but branch 0 gives {first}: {detail}. Received: input_shape={given}"


@pytest.mark.parametrize(
    ("branches", "shape", "got", "first", "detail"),
    [
        (  # a size of 1 in the target: a stride takes 4 x 2 to 2 x 1
            (nn.MaxPool2d(2), nn.Identity()),
            (1, 2, 4, 2),
            "1 x 2 x 4 x 2",
            "1 x 2 x 2 x 1",
            "the sizes differ (4 x 2 vs 2 x 1); give branch 1 a projection such as Conv2d(2, 2, kernel_size=1, "
            "stride=2)",
        ),
        (  # the only stride that fits is the largest size itself
            (nn.MaxPool2d(4), nn.Identity()),
            (1, 2, 4, 4),
            "1 x 2 x 4 x 4",
            "1 x 2 x 1 x 1",
            "the sizes differ (4 x 4 vs 1 x 1); give branch 1 a projection such as Conv2d(2, 2, kernel_size=1, "
            "stride=4)",
        ),
        (  # no stride fits either way, and the channels differ too: both fixes
            (nn.MaxPool2d((2, 4)), nn.Conv2d(2, 3, 1)),
            (1, 2, 6, 4),
            "1 x 3 x 6 x 4",
            "1 x 2 x 3 x 1",
            "the channels differ (3 vs 2) and the sizes differ (6 x 4 vs 3 x 1); no 1 x 1 projection takes 6 x 4 to "
            "3 x 1 or back: crop or pad one branch to the other's size (a slice, F.pad or F.interpolate), or plan an "
            "input size at which both branches agree, and Conv2d(3, 2, kernel_size=1) for the channels",
        ),
        (  # no stride fits, the channels are the same (3, not the target's height of 2): no channel fix
            (nn.MaxPool2d((2, 4)), nn.Identity()),
            (1, 3, 4, 4),
            "1 x 3 x 4 x 4",
            "1 x 3 x 2 x 1",
            "the sizes differ (4 x 4 vs 2 x 1); no 1 x 1 projection takes 4 x 4 to 2 x 1 or back: crop or pad one "
            "branch to the other's size (a slice, F.pad or F.interpolate), or plan an input size at which both "
            "branches agree",
        ),
    ],
)
def test_branches_that_do_not_add_up_are_told_the_projection_that_fits(
    branches: tuple[nn.Module, ...], shape: tuple[int, ...], got: str, first: str, detail: str
) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Add(*branches), shape),
        _ADD.format(got=got, first=first, detail=detail, given=shape),
    )


@pytest.mark.parametrize(
    ("source", "target", "hint"),
    [
        ((4, 2), (2, 1), "give a a projection such as Conv2d(8, 8, kernel_size=1, stride=2)"),
        ((4, 4), (1, 1), "give a a projection such as Conv2d(8, 8, kernel_size=1, stride=4)"),
        ((5, 5), (5, 5), "give a a projection such as Conv2d(8, 8, kernel_size=1)"),
        ((2, 1), (4, 2), "give b a projection such as Conv2d(8, 8, kernel_size=1, stride=2)"),
    ],
)
def test_the_projection_hint_finds_the_stride_from_either_side(
    source: tuple[int, ...], target: tuple[int, ...], hint: str
) -> None:
    from convcalc.nn.containers import projection_hint

    assert projection_hint(("a", (1, 8, *source)), ("b", (1, 8, *target))) == hint
    # torch agrees: a 1 x 1 convolution of that stride takes the one to the other
    stride = int(hint.rsplit("stride=", 1)[1].rstrip(")")) if "stride=" in hint else 1
    small, big = (target, source) if hint.startswith("give a") else (source, target)
    out = torch.nn.Conv2d(8, 8, 1, stride=stride)(torch.zeros(1, 8, *big))
    assert tuple(out.shape[2:]) == small


# --- nn/containers.py: a Concat of one branch, a crop that keeps numbers numbers ------------------------------------


@pytest.mark.parametrize("dim", [1, 2, -1])
def test_a_concat_of_one_branch_gives_that_branch(dim: int) -> None:
    plan = convcalc.plan(_nested(nn.Concat(nn.Conv2d(2, 3, 3, padding=1), dim=dim)), (1, 2, 4, 5))
    assert plan.output_shape == (1, 3, 4, 5)
    row = plan.rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == (
        "block.layer",
        "Concat",
        (1, 2, 4, 5),
        (1, 3, 4, 5),
    )
    expected = torch.cat([torch.nn.Conv2d(2, 3, 3, padding=1)(torch.zeros(1, 2, 4, 5))], dim=dim)
    assert tuple(expected.shape) == plan.output_shape


def test_a_crop_of_a_number_beside_a_symbol_keeps_the_number_an_int() -> None:
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(nn.Concat(nn.AdaptiveAvgPool2d(1), nn.Identity(), crop=True), (1, 3, H, W))
    assert plan.output_shape == (1, 6, 1, 1)
    assert [type(d) for d in plan.output_shape] == [int, int, int, int]


# --- nn/_base.py: one sample without its batch axis, whose channels do not match ------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            nn.Conv1d(3, 4, 1),
            (1, 3),
            "block.layer (Conv1d): in_channels=3 but the input has 1 channel: a 2-D input is one sample without a "
            "batch axis, so its channels are axis 0; with the batch first the layer takes a 3-D input, such as "
            "(1, 3, 3) (or use in_channels=1 for a sample of 1 channel). Received: input_shape=(1, 3)",
        ),
        (
            nn.Conv2d(3, 8, 3),
            (1, 3, 32),
            "block.layer (Conv2d): in_channels=3 but the input has 1 channel: a 3-D input is one sample without a "
            "batch axis, so its channels are axis 0; with the batch first the layer takes a 4-D input, such as "
            "(1, 3, 32, 32) (or use in_channels=1 for a sample of 1 channel). Received: input_shape=(1, 3, 32)",
        ),
    ],
)
def test_one_sample_of_one_channel_is_told_the_batched_input(
    layer: nn.Module, shape: tuple[int, ...], message: str
) -> None:
    _raises(convcalc.ShapeError, lambda: convcalc.plan(_nested(layer), shape), message)
    with pytest.raises(RuntimeError):  # torch reads it as one sample of 1 channel too, and refuses it
        layer.to_torch()(torch.zeros(shape))


_LAST = (
    "<model> ({kind}): in_channels=3 but the input has 8 channels on axis {axis}; its last axis holds 3, as a "
    "channels-last input does: torch takes the channels first, input_shape={first} (x.permute{order} of a "
    "channels-last tensor). Received: input_shape={shape}"
)


@pytest.mark.parametrize(
    ("layer", "shape", "axis", "first", "order"),
    [
        (nn.Conv1d(3, 4, 1), (1, 8, 3), 1, (1, 3, 8), (0, 2, 1)),  # the channels are the last axis but one
        (nn.Conv2d(3, 4, 1), (1, 8, "H", 3), 1, (1, 3, 8, "H"), (0, 3, 1, 2)),  # a symbolic size before the last
        (nn.Conv2d(3, 4, 1), (8, "H", 3), 0, (3, 8, "H"), (2, 0, 1)),  # one sample: a symbolic size on axis 1
    ],
)
def test_a_channels_last_input_of_any_rank_is_told_to_put_the_channels_first(
    layer: nn.Module, shape: tuple[Any, ...], axis: int, first: tuple[Any, ...], order: tuple[int, ...]
) -> None:
    H = convcalc.symbols("H")
    given = tuple(H if d == "H" else d for d in shape)
    message = _LAST.format(
        kind=layer.kind, axis=axis, first=tuple(H if d == "H" else d for d in first), order=order, shape=given
    )
    _raises(convcalc.ShapeError, lambda: convcalc.plan(layer, given), message)
    # torch takes the input so permuted, at any size
    sized = tuple(5 if d == "H" else d for d in shape)
    out = layer.to_torch()(torch.zeros(sized).permute(order))
    assert out.shape[0 if axis == 0 else 1] == 4


def test_a_container_takes_a_plain_dict_and_names_its_layers_by_their_keys() -> None:
    net = nn.Sequential({"a": nn.ReLU(), 1: nn.Tanh()})
    assert [name for name, _ in net.children()] == ["a", "1"]
    assert net == nn.Sequential(OrderedDict([("a", nn.ReLU()), ("1", nn.Tanh())]))
    plan = convcalc.plan(_nested(net), (2, 3))
    assert [r.name for r in plan.rows] == ["block.layer.a", "block.layer.1"]


def test_a_concat_of_symbolic_sizes_that_differ_in_form_is_a_condition() -> None:
    """A U-Net level written with convcalc.nn (no crop): its branches are H and 2*floor(H/2) at a symbolic size,
    equal for even H, where torch runs; it was refused as sizes that differ. A numeric odd size names the sizes
    that fit."""
    import torch

    level = nn.Sequential(nn.Concat(nn.Identity(), nn.Sequential(nn.MaxPool2d(2), nn.ConvTranspose2d(3, 3, 2, 2))))
    H = convcalc.symbols("H")
    solution = convcalc.plan(level, (1, 3, H, H)).valid_sizes()
    model = level.to_torch()
    runs = []
    for h in range(1, 25):
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, h, h))
        except RuntimeError:
            continue
        runs.append(h)
    assert solution.values(24) == runs == list(range(2, 25, 2))
    with pytest.raises(convcalc.ShapeError, match=r"use an input of 64 or 66 instead of 65 on that axis"):
        convcalc.plan(level, (1, 3, 65, 65))
