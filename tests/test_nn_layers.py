"""convcalc.nn layer by layer: torch's argument rules, the shapes each layer gives, and their messages."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest

import convcalc
from convcalc import nn

H = convcalc.symbols("H")


def out(layer: nn.Module, shape: tuple[object, ...]) -> tuple[object, ...]:
    return convcalc.plan(layer, shape).output_shape


# --------------------------------------------------------------------------- #
# Argument checks made at construction, as torch makes them
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: nn.Conv2d(3, 8, np.array([3, 3])), "kernel_size must be a single int, not an array"),
        (lambda: nn.Conv2d(3, 8, (3, 3, 3)), "kernel_size must be an int or a tuple of 2 ints"),
        (lambda: nn.Conv2d(3, 8, 3, bias=1), "bias must be True or False"),
        (lambda: nn.Conv2d(3, 8, 3, groups=2), "in_channels must be divisible by groups"),
        (lambda: nn.Conv2d(4, 6, 3, groups=4), "out_channels must be divisible by groups"),
        (lambda: nn.Conv2d(3, 8, 3, padding_mode="mirror"), "padding_mode must be 'zeros', 'reflect'"),
        (lambda: nn.Conv1d(3, 8, 3, padding="causal"), "torch convolutions take padding 'same' or 'valid'"),
        (lambda: nn.Conv2d(3, 8, 3, padding="SAME"), "padding must be one of 'same', 'valid', 'causal'"),
        (lambda: nn.ConvTranspose2d(3, 8, 3, groups=2), "in_channels must be divisible by groups"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, groups=4), "out_channels must be divisible by groups"),
        (lambda: nn.ConvTranspose2d(3, 8, 3, padding_mode="reflect"), 'Only "zeros" padding mode is supported'),
        (lambda: nn.ConvTranspose2d(3, 8, 3, padding="same"), "takes a numeric padding, not 'same'"),
        (lambda: nn.ConvTranspose1d(3, 8, 3, stride=1, dilation=1, output_padding=1), "output_padding=1 must be"),
        (lambda: nn.MaxPool2d(2, padding="same"), "torch pooling takes a numeric padding"),
        (lambda: nn.AvgPool2d(3, padding=2), "more than half of kernel_size=3"),
        (lambda: nn.AvgPool2d(2, count_include_pad="yes"), "count_include_pad must be True or False"),
        (lambda: nn.MaxPool2d(2, ceil_mode=1), "ceil_mode must be True or False"),
        (lambda: nn.AdaptiveAvgPool2d((2, 2, 2)), "output_size must be an int or a tuple of 2"),
        (lambda: nn.BatchNorm2d(0), "num_features must be at least 1"),
        (lambda: nn.BatchNorm2d(8, affine=None), "affine must be True or False"),
        (lambda: nn.InstanceNorm2d(8, affine="no"), "affine must be True or False"),
        (lambda: nn.GroupNorm(3, 8), "num_channels \\(8\\) must be divisible by num_groups \\(3\\)"),
        (lambda: nn.LayerNorm(()), "normalized_shape must not be empty"),
        (lambda: nn.LayerNorm(8, bias=None), "bias must be True or False"),
        (lambda: nn.Dropout(1.5), "dropout probability has to be between 0 and 1"),
        (lambda: nn.Dropout2d(True), "dropout probability has to be between 0 and 1"),
        (lambda: nn.Linear(0, 10), "in_features must be at least 1"),
        (lambda: nn.LazyLinear(10, bias="x"), "bias must be True or False"),
        (lambda: nn.Unflatten(1, 4), "unflattened_size must be a non-empty tuple"),
        (lambda: nn.ZeroPad2d((1, 2, 3)), "padding must be an int or a 4-tuple"),
        (lambda: nn.Upsample(), "give exactly one of size and scale_factor"),
        (lambda: nn.Upsample(size=4, scale_factor=2), "give exactly one of size and scale_factor"),
        (lambda: nn.Upsample(scale_factor=2, mode="cubic"), "mode must be one of 'nearest'"),
        (lambda: nn.Sequential(OrderedDict([("a.b", nn.ReLU())])), "layer names must be non-empty and without dots"),
        (lambda: nn.Concat(nn.ReLU(), crop="yes"), "crop must be True or False"),
        (lambda: nn.LazyConv2d(8, 3, groups=3), "out_channels must be divisible by groups"),
    ],
)
def test_constructor_rules(build: object, fragment: str) -> None:
    with pytest.raises(convcalc.SpecError, match=fragment):
        build()  # type: ignore[operator]


# --------------------------------------------------------------------------- #
# Shapes
# --------------------------------------------------------------------------- #


def test_convolutions_in_every_rank() -> None:
    assert out(nn.Conv1d(2, 4, 3, stride=2, padding=1), (1, 2, 9)) == (1, 4, 5)
    assert out(nn.Conv3d(2, 4, 3, padding="same"), (1, 2, 5, 6, 7)) == (1, 4, 5, 6, 7)
    assert out(nn.Conv2d(2, 4, 4, padding="same", dilation=1), (1, 2, 7, 7)) == (1, 4, 7, 7)  # pads (1, 2)
    assert out(nn.Conv2d(2, 4, 3, padding="valid"), (1, 2, 7, 7)) == (1, 4, 5, 5)
    assert out(nn.ConvTranspose1d(2, 4, 3, stride=2), (1, 2, 4)) == (1, 4, 9)
    assert out(nn.ConvTranspose3d(2, 4, 2, stride=2), (1, 2, 3, 4, 5)) == (1, 4, 6, 8, 10)


def test_pools_and_adaptive_pools() -> None:
    assert out(nn.MaxPool1d(2), (1, 3, 9)) == (1, 3, 4)
    assert out(nn.MaxPool3d(2, ceil_mode=True), (1, 3, 5, 5, 5)) == (1, 3, 3, 3, 3)
    assert out(nn.AvgPool1d(3, 2, 1), (1, 3, 10)) == (1, 3, 5)
    assert out(nn.AvgPool3d(2), (1, 3, 4, 4, 4)) == (1, 3, 2, 2, 2)
    assert out(nn.AdaptiveAvgPool1d(4), (1, 3, 10)) == (1, 3, 4)
    assert out(nn.AdaptiveMaxPool3d((2, None, 1)), (1, 3, 5, 6, 7)) == (1, 3, 2, 6, 1)
    assert out(nn.AdaptiveAvgPool2d(3), (3, 8, 8)) == (3, 3, 3)  # unbatched (C, H, W)
    with pytest.raises(convcalc.ShapeError, match="expects a 4-D input"):
        convcalc.plan(nn.AdaptiveAvgPool2d(3), (8,))
    with pytest.raises(convcalc.ShapeError, match="smaller than kernel size 3"):
        convcalc.plan(nn.AvgPool3d(3, padding=1), (1, 1, 2, 8, 8))


def test_normalisation_layers() -> None:
    assert convcalc.plan(nn.BatchNorm1d(8), (4, 8)).rows[0].params == 16
    assert convcalc.plan(nn.BatchNorm3d(8, track_running_stats=False), (1, 8, 2, 2, 2)).rows[0].buffers == 0
    with pytest.raises(convcalc.ShapeError, match="expects 4-D input, got 3-D"):
        convcalc.plan(nn.BatchNorm2d(8), (1, 8, 4))
    row = convcalc.plan(nn.InstanceNorm2d(8, affine=True, track_running_stats=True), (1, 8, 4, 4)).rows[0]
    assert (row.params, row.buffers) == (16, 17)
    with pytest.raises(convcalc.ShapeError, match=r"expects \(N, C, H, W\) or \(C, H, W\)"):
        convcalc.plan(nn.InstanceNorm2d(8), (8, 4))
    assert convcalc.plan(nn.GroupNorm(2, 8, affine=False), (1, 8, 4)).rows[0].params == 0
    with pytest.raises(convcalc.ShapeError, match=r"expects \(N, C, \*\)"):
        convcalc.plan(nn.GroupNorm(2, 8), (8,))
    with pytest.raises(convcalc.ShapeError, match="num_channels=8 but the input has 4 channels"):
        convcalc.plan(nn.GroupNorm(2, 8), (1, 4, 3))
    assert convcalc.plan(nn.LayerNorm((8, 4, 4), bias=False), (2, 8, 4, 4)).rows[0].params == 128
    assert convcalc.plan(nn.LayerNorm(4, elementwise_affine=False), (2, 4)).rows[0].params == 0
    with pytest.raises(convcalc.ShapeError, match=r"normalized_shape=\(5,\) must match the last dims"):
        convcalc.plan(nn.LayerNorm(5), (2, 4))


def test_elementwise_layers_keep_shape_and_receptive_field() -> None:
    layers = [
        nn.ReLU(),
        nn.ReLU6(),
        nn.LeakyReLU(0.1),
        nn.GELU(),
        nn.SiLU(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Hardswish(),
        nn.Softmax(dim=1),
        nn.Dropout(),
        nn.Dropout2d(0.2),
        nn.Identity(),
    ]
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 2, 3), *layers), (1, 1, 8, 8))
    assert {r.output_shape for r in plan.rows} == {(1, 2, 6, 6)}
    assert plan.rows[-1].receptive_field == plan.rows[0].receptive_field


def test_flatten_unflatten() -> None:
    assert out(nn.Flatten(0), (2, 3, 4)) == (24,)
    assert out(nn.Flatten(1, 2), (2, 3, 4, 5)) == (2, 12, 5)
    with pytest.raises(convcalc.ShapeError, match="start_dim=2 comes after end_dim=1"):
        convcalc.plan(nn.Flatten(2, 1), (2, 3, 4))
    with pytest.raises(convcalc.ShapeError, match="start_dim=5 is out of range for a 3-D input"):
        convcalc.plan(nn.Flatten(5), (2, 3, 4))
    assert out(nn.Unflatten(1, (2, 6)), (4, 12)) == (4, 2, 6)
    assert out(nn.Unflatten(1, (-1, 3)), (4, 12)) == (4, 4, 3)
    with pytest.raises(convcalc.ShapeError, match="holds a multiple of 5 elements but dim 1 has 12"):
        convcalc.plan(nn.Unflatten(1, (-1, 5)), (4, 12))
    with pytest.raises(convcalc.SpecError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))
    with pytest.raises(convcalc.ShapeError, match="holds 10 elements but dim 1 has 12"):
        convcalc.plan(nn.Unflatten(1, (2, 5)), (4, 12))
    assert str(out(nn.Flatten(), (1, 8, H, H))[1]) == "8*H**2"


def test_linear_layers() -> None:
    assert out(nn.Linear(5, 3), (2, 7, 5)) == (2, 7, 3)
    assert convcalc.plan(nn.Linear(5, 3), (2, 7, 5)).macs == 7 * 5 * 3
    assert out(nn.Linear(5, 3), (5,)) == (3,)  # torch takes an unbatched vector too
    assert convcalc.plan(nn.Linear(5, 3), (5,)).macs == 15
    with pytest.raises(convcalc.ShapeError, match="receives 4 features: use in_features=4"):
        convcalc.plan(nn.Linear(5, 3), (2, 4))
    lazy = convcalc.plan(nn.Sequential(nn.Flatten(), nn.LazyLinear(3)), (1, 2, H, 4))
    assert lazy.rows[-1].kind == "LazyLinear"
    assert str(lazy.rows[-1].trainable) == "24*H + 3"


def test_padding_and_upsampling() -> None:
    assert out(nn.ZeroPad2d((1, 2, 3, 4)), (1, 1, 4, 5)) == (1, 1, 11, 8)
    assert out(nn.ConstantPad2d(1, 0.5), (1, 4, 5)) == (1, 6, 7)
    # torch: F.pad in constant mode pads the last dims of any rank; the other modes take (N, C, ...) or (C, ...)
    assert out(nn.ZeroPad2d(1), (1, 1, 1, 4, 5)) == (1, 1, 1, 6, 7)
    with pytest.raises(convcalc.ShapeError, match=r"reflect padding of 2 dims takes a 3-D or 4-D input"):
        convcalc.plan(nn.ReflectionPad2d(1), (1, 1, 1, 4, 5))
    assert out(nn.Upsample(scale_factor=2.5), (1, 1, 7)) == (1, 1, 17)
    assert out(nn.Upsample(size=(4, 6), mode="bilinear"), (1, 1, 2, 2)) == (1, 1, 4, 6)
    assert out(nn.Upsample(scale_factor=2), (1, 1, H)) == (1, 1, 2 * H)
    with pytest.raises(convcalc.ShapeError, match="mode='bilinear' needs 4-D input, got 3-D"):
        convcalc.plan(nn.Upsample(scale_factor=2, mode="bilinear"), (1, 1, 4))
    with pytest.raises(convcalc.ShapeError, match="2 spatial dims but 3 values given"):
        convcalc.plan(nn.Upsample(size=(1, 2, 3)), (1, 1, 4, 4))
    with pytest.raises(convcalc.ShapeError, match=r"^<model> \(Upsample\): output size would be 0"):
        convcalc.plan(nn.Upsample(scale_factor=0.1), (1, 1, 4, 4))


# --------------------------------------------------------------------------- #
# Containers
# --------------------------------------------------------------------------- #


def test_sequential_is_a_sequence() -> None:
    net = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU(), pool=nn.MaxPool2d(2)))
    assert len(net) == 3
    assert [type(m).__name__ for m in net] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert net["act"] == nn.ReLU()
    assert net[-1] == nn.MaxPool2d(2)
    head = net[:2]
    assert isinstance(head, nn.Sequential)
    assert [name for name, _ in head.children()] == ["conv", "act"]
    assert hash(head) == hash(net[:2])
    with pytest.raises(convcalc.SpecError, match="no layer 'x'"):
        net["x"]
    with pytest.raises(convcalc.SpecError, match="no layer 7"):
        net[7]
    with pytest.raises(AttributeError, match="Sequential is immutable"):
        net.x = 1  # type: ignore[attr-defined]
    assert "(conv): Conv2d(" in repr(net)
    assert repr(nn.Sequential(nn.ReLU())) == "Sequential(\n  ReLU(inplace=False)\n)"


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()),
        nn.Add(nn.Conv2d(2, 2, 3, padding=1), nn.Identity()),
        nn.Concat(nn.Identity(), nn.MaxPool2d(3, 1, 1), dim=1, crop=True),
    ],
)
def test_containers_pickle_and_compare(model: nn.Module) -> None:
    again = pickle.loads(pickle.dumps(model))
    assert again == model
    assert hash(again) == hash(model)
    assert repr(again) == repr(model)


def test_add_and_concat_edges() -> None:
    with pytest.raises(convcalc.SpecError, match="Add needs at least one branch"):
        convcalc.plan(nn.Add(), (1, 2, 4, 4))
    with pytest.raises(convcalc.SpecError, match="Concat needs at least one branch"):
        convcalc.plan(nn.Concat(), (1, 2, 4, 4))
    with pytest.raises(convcalc.ShapeError, match="the ranks differ"):
        convcalc.plan(nn.Add(nn.Identity(), nn.Flatten()), (1, 2, 4, 4))
    assert out(nn.Concat(nn.Identity(), nn.Identity(), dim=-1), (1, 2, 4, 4)) == (1, 2, 4, 8)
    assert repr(nn.Concat(nn.Identity(), dim=2)) == "Concat(\n  Identity()\n, dim=2)"
    assert nn.Concat(nn.Identity(), dim=2) != nn.Concat(nn.Identity(), dim=3)
    cropped = nn.Concat(nn.Identity(), nn.ZeroPad2d(-1), crop=True)
    assert out(cropped, (1, 2, 6, 6)) == (1, 4, 4, 4)
    assert str(out(cropped, (1, 2, H, 6))[2]) == "H - 2"
    rf = convcalc.plan(nn.Concat(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 1, 8, 8)).receptive_field
    assert rf == (convcalc.ReceptiveField(3, 1, 0),) * 2


def test_lazy_conv_needs_divisible_channels() -> None:
    assert convcalc.plan(nn.LazyConv2d(4, 3, groups=2), (1, 2, 5, 5)).rows[0].params == 4 * 1 * 9 + 4
    with pytest.raises(convcalc.ShapeError, match="3 input channels do not divide into groups=2"):
        convcalc.plan(nn.LazyConv2d(4, 3, groups=2), (1, 3, 5, 5))


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(("k", "s", "p", "d"), [(3, 2, 1, 2), (3, 2, 0, 1), (5, 3, 2, 1), (4, 4, 1, 1), (2, 1, 0, 2)])
def test_a_pool_too_small_names_the_least_input_torch_runs(k: int, s: int, p: int, d: int, ceil_mode: bool) -> None:
    """The refusal's "must be at least N" is the least input torch's pool runs (with ceil_mode, a window that
    starts inside the input may run past it: MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True) runs at 2, where the
    message said 3)."""
    import torch

    layer = torch.nn.MaxPool1d(k, s, p, d, ceil_mode=ceil_mode)
    least = next(i for i in range(1, 40) if _runs(layer, i))
    spec = nn.Sequential(nn.MaxPool1d(k, s, p, d, ceil_mode=ceil_mode))
    assert convcalc.plan(spec, (1, 1, least)).output_shape == tuple(layer(torch.zeros(1, 1, least)).shape)
    if least > 1:
        with pytest.raises(convcalc.ShapeError, match=rf"must be at least {least} there"):
            convcalc.plan(spec, (1, 1, least - 1))


def _runs(layer: object, size: int) -> bool:
    import torch

    try:
        layer(torch.zeros(1, 1, size))  # type: ignore[operator]
    except RuntimeError:
        return False
    return True
