"""The torch bridge against real torch: to_torch, from_torch (torch.fx, no forward pass) and verify.

Every planned shape here is compared with what torch computes: module outputs
through forward hooks, and the tensor operations written inside a ``forward``
through ``torch.fx``'s ShapeProp run on real tensors, layer by layer.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sympy

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn as tnn  # noqa: E402
from torch_shapes import own_params, torch_shapes  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ShapeError, SpecError, nn  # noqa: E402
from convcalc import torch_bridge as tb  # noqa: E402
from convcalc.torch import trace  # noqa: E402
from convcalc.torch.trace import _RULES  # noqa: E402

# --------------------------------------------------------------------------- #
# What torch does, recorded independently of convcalc
# --------------------------------------------------------------------------- #


def assert_plan_is_torch(plan: Any, module: Any, shape: tuple[int, ...]) -> None:
    """Every row's output shape is the shape torch computes at that name; leaf parameter counts agree too."""
    shapes, out = torch_shapes(module, shape)
    params = own_params(module)
    leaves = {name for name, m in module.named_modules() if not any(True for _ in m.children())}
    seen: dict[str, int] = defaultdict(int)
    unchecked = []
    for row in plan.rows:
        name = row.name
        if row.kind in ("Parameter", "Buffer"):
            continue
        if name not in shapes and row is plan.rows[-1] and "" in shapes:
            name = ""  # a root layer, Add or Concat plans its own row, named by its kind
        if name not in shapes:
            unchecked.append(name)
            continue
        k = seen[name]
        seen[name] += 1
        assert tuple(row.output_shape) == shapes[name][k], (name, row.output_shape, shapes[name][k])
        if name in leaves and k == 0:
            assert row.params == params[name], (name, row.params, params[name])
    assert not unchecked, f"rows torch has no shape for: {unchecked}"
    assert tuple(plan.output_shape) == tuple(out.shape)
    assert plan.total_params == sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- #
# to_torch: every convcalc.nn layer
# --------------------------------------------------------------------------- #

LAYERS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "Conv1d": (nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 17)),
    "Conv2d": (nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), bias=False), (2, 3, 15, 16)),
    "Conv3d": (nn.Conv3d(2, 4, 3, padding="same", groups=2), (1, 2, 5, 6, 7)),
    "ConvTranspose1d": (nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (1, 3, 9)),
    "ConvTranspose2d": (nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2), (1, 4, 7, 8)),
    "ConvTranspose3d": (nn.ConvTranspose3d(2, 2, 3, stride=2, bias=False), (1, 2, 3, 4, 5)),
    "LazyConv2d": (nn.LazyConv2d(4, 3, padding=1), (1, 3, 6, 6)),
    "MaxPool1d": (nn.MaxPool1d(3, 2, 1, ceil_mode=True), (1, 2, 10)),
    "MaxPool2d": (nn.MaxPool2d(3, 2, 1, ceil_mode=True), (1, 3, 15, 16)),
    "MaxPool3d": (nn.MaxPool3d(2), (1, 2, 5, 6, 7)),
    "AvgPool1d": (nn.AvgPool1d(3, 2, 1), (1, 2, 10)),
    "AvgPool2d": (nn.AvgPool2d(2, padding=1, ceil_mode=True, count_include_pad=False), (1, 3, 7, 9)),
    "AvgPool3d": (nn.AvgPool3d(2, stride=1), (1, 2, 4, 5, 6)),
    "LPPool1d": (nn.LPPool1d(2, 3, stride=2), (1, 2, 10)),
    "LPPool2d": (nn.LPPool2d(1.5, (2, 3), ceil_mode=True), (1, 3, 7, 9)),
    "LPPool3d": (nn.LPPool3d(3, 2), (1, 2, 4, 5, 6)),
    "AdaptiveAvgPool1d": (nn.AdaptiveAvgPool1d(4), (1, 2, 10)),
    "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d((None, 3)), (1, 2, 5, 7)),
    "AdaptiveAvgPool3d": (nn.AdaptiveAvgPool3d(2), (1, 2, 5, 6, 7)),
    "AdaptiveMaxPool1d": (nn.AdaptiveMaxPool1d(3), (1, 2, 10)),
    "AdaptiveMaxPool2d": (nn.AdaptiveMaxPool2d((2, 3)), (1, 2, 5, 7)),
    "AdaptiveMaxPool3d": (nn.AdaptiveMaxPool3d(1), (1, 2, 5, 6, 7)),
    "BatchNorm1d": (nn.BatchNorm1d(6), (2, 6, 5)),
    "BatchNorm2d": (nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
    "BatchNorm3d": (nn.BatchNorm3d(2, track_running_stats=False), (2, 2, 3, 3, 3)),
    "GroupNorm": (nn.GroupNorm(2, 6), (2, 6, 4, 4)),
    "LayerNorm": (nn.LayerNorm((4, 4), bias=False), (2, 3, 4, 4)),
    "InstanceNorm2d": (nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4)),
    "Dropout": (nn.Dropout(0.2), (2, 3, 4)),
    "Dropout2d": (nn.Dropout2d(0.1), (2, 3, 4, 4)),
    "ReLU": (nn.ReLU(), (2, 3, 4, 4)),
    "ReLU6": (nn.ReLU6(inplace=True), (2, 3, 4, 4)),
    "LeakyReLU": (nn.LeakyReLU(0.2), (2, 3, 4, 4)),
    "GELU": (nn.GELU(approximate="tanh"), (2, 3, 4, 4)),
    "SiLU": (nn.SiLU(), (2, 3, 4, 4)),
    "Sigmoid": (nn.Sigmoid(), (2, 3, 4, 4)),
    "Tanh": (nn.Tanh(), (2, 3, 4, 4)),
    "Hardswish": (nn.Hardswish(), (2, 3, 4, 4)),
    "Softmax": (nn.Softmax(dim=1), (2, 3, 4, 4)),
    "Identity": (nn.Identity(), (2, 3, 4, 4)),
    "Flatten": (nn.Flatten(1, 2), (2, 3, 4, 5)),
    "Unflatten": (nn.Unflatten(1, (2, 6)), (2, 12, 5)),
    "Linear": (nn.Linear(5, 7), (2, 3, 5)),
    "LazyLinear": (nn.LazyLinear(7, bias=False), (2, 5)),
    "Upsample": (nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 2, 5, 7)),
    "ZeroPad2d": (nn.ZeroPad2d((1, 2, 0, 3)), (1, 2, 4, 4)),
    "ConstantPad2d": (nn.ConstantPad2d(2, 0.5), (1, 2, 4, 4)),
    "ZeroPad1d": (nn.ZeroPad1d((2, -1)), (1, 2, 4)),
    "ZeroPad3d": (nn.ZeroPad3d((1, 0, 2, 1, 0, 1)), (1, 2, 3, 4, 4)),
    "ConstantPad1d": (nn.ConstantPad1d((0, 3), 1.0), (2, 5)),
    "ConstantPad3d": (nn.ConstantPad3d(1, 0.5), (1, 1, 2, 3, 4)),
    "ReflectionPad1d": (nn.ReflectionPad1d((3, 1)), (1, 2, 4)),
    "ReflectionPad2d": (nn.ReflectionPad2d((1, 2, 0, 3)), (1, 2, 4, 4)),
    "ReflectionPad3d": (nn.ReflectionPad3d(1), (1, 1, 2, 3, 4)),
    "ReplicationPad1d": (nn.ReplicationPad1d((5, 0)), (1, 2, 1)),
    "ReplicationPad2d": (nn.ReplicationPad2d((1, 2, 0, 3)), (2, 4, 4)),
    "ReplicationPad3d": (nn.ReplicationPad3d((0, 1, 2, 0, 1, 1)), (1, 1, 2, 3, 4)),
    "CircularPad1d": (nn.CircularPad1d((4, 4)), (1, 2, 4)),
    "CircularPad2d": (nn.CircularPad2d((1, 2, 0, 3)), (1, 2, 4, 4)),
    "CircularPad3d": (nn.CircularPad3d((2, 0, 1, 1, 0, 2)), (1, 1, 2, 3, 4)),
    "PixelShuffle": (nn.PixelShuffle(2), (1, 8, 3, 5)),
    "PixelUnshuffle": (nn.PixelUnshuffle(2), (1, 2, 4, 6)),
    "Fold": (nn.Fold((4, 5), 2), (1, 12, 12)),
    "Unfold": (nn.Unfold(3, padding=1, stride=2), (1, 2, 7, 6)),
    "LazyConv1d": (nn.LazyConv1d(4, 3, stride=2), (2, 3, 11)),
    "LazyConv3d": (nn.LazyConv3d(2, 2, bias=False), (1, 3, 4, 5, 6)),
    "LazyConvTranspose1d": (nn.LazyConvTranspose1d(4, 3, stride=2), (2, 3, 5)),
    "LazyConvTranspose2d": (nn.LazyConvTranspose2d(4, 4, stride=2, padding=1, groups=2), (1, 6, 3, 4)),
    "LazyConvTranspose3d": (nn.LazyConvTranspose3d(2, 2), (1, 3, 2, 3, 4)),
    "LazyBatchNorm1d": (nn.LazyBatchNorm1d(), (2, 5, 7)),
    "LazyBatchNorm2d": (nn.LazyBatchNorm2d(affine=False), (2, 3, 4, 4)),
    "LazyBatchNorm3d": (nn.LazyBatchNorm3d(), (2, 2, 3, 3, 3)),
    "LazyInstanceNorm1d": (nn.LazyInstanceNorm1d(), (2, 5, 7)),
    "LazyInstanceNorm2d": (nn.LazyInstanceNorm2d(), (2, 3, 4, 4)),
    "LazyInstanceNorm3d": (nn.LazyInstanceNorm3d(affine=False, track_running_stats=False), (2, 2, 3, 3, 3)),
    "InstanceNorm1d": (nn.InstanceNorm1d(5, affine=True, bias=False), (2, 5, 7)),
    "InstanceNorm3d": (nn.InstanceNorm3d(2, track_running_stats=True), (2, 2, 3, 3, 3)),
    "RMSNorm": (nn.RMSNorm((4, 4)), (2, 3, 4, 4)),
    "LocalResponseNorm": (nn.LocalResponseNorm(3), (2, 5, 4, 4)),
    "CrossMapLRN2d": (nn.CrossMapLRN2d(3), (2, 5, 4, 4)),
    "PReLU": (nn.PReLU(3), (2, 3, 4, 4)),
    "ELU": (nn.ELU(0.5), (2, 3, 4, 4)),
    "CELU": (nn.CELU(2.0), (2, 3, 4, 4)),
    "SELU": (nn.SELU(), (2, 3, 4, 4)),
    "Mish": (nn.Mish(), (2, 3, 4, 4)),
    "Hardtanh": (nn.Hardtanh(-2.0, 2.0), (2, 3, 4, 4)),
    "Hardsigmoid": (nn.Hardsigmoid(), (2, 3, 4, 4)),
    "Hardshrink": (nn.Hardshrink(0.3), (2, 3, 4, 4)),
    "Softshrink": (nn.Softshrink(0.3), (2, 3, 4, 4)),
    "Softplus": (nn.Softplus(2.0, 10.0), (2, 3, 4, 4)),
    "Softsign": (nn.Softsign(), (2, 3, 4, 4)),
    "Tanhshrink": (nn.Tanhshrink(), (2, 3, 4, 4)),
    "Threshold": (nn.Threshold(0.1, 0.0), (2, 3, 4, 4)),
    "LogSigmoid": (nn.LogSigmoid(), (2, 3, 4, 4)),
    "Softmin": (nn.Softmin(dim=1), (2, 3, 4, 4)),
    "LogSoftmax": (nn.LogSoftmax(dim=-1), (2, 3, 4, 4)),
    "Softmax2d": (nn.Softmax2d(), (2, 3, 4, 4)),
    "RReLU": (nn.RReLU(0.1, 0.3), (2, 3, 4, 4)),
    "Dropout1d": (nn.Dropout1d(0.2), (2, 3, 4)),
    "Dropout3d": (nn.Dropout3d(0.2), (2, 3, 4, 4, 4)),
    "AlphaDropout": (nn.AlphaDropout(0.2), (2, 3, 4)),
    "FeatureAlphaDropout": (nn.FeatureAlphaDropout(0.2), (2, 3, 4, 4)),
    "ChannelShuffle": (nn.ChannelShuffle(3), (2, 6, 4, 4)),
    "Sequential": (
        nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 4, 3), act=nn.ReLU(), pool=nn.MaxPool2d(2))),
        (1, 3, 10, 10),
    ),
    "Add": (nn.Add(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)), nn.Identity()), (2, 4, 6, 6)),
    "Concat": (
        nn.Concat(nn.Conv2d(4, 2, 1), nn.Sequential(nn.Conv2d(4, 3, 3), nn.Conv2d(3, 5, 3)), crop=True),
        (1, 4, 9, 11),
    ),
}


def test_the_table_covers_every_convcalc_nn_layer() -> None:
    # tuple outputs, integer or several inputs: to_torch of these is checked in tests/test_nn_sequence_layers.py
    several = {"LSTM", "GRU", "RNN", "MultiheadAttention", "Embedding", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"}
    several |= {"LSTMCell", "GRUCell", "RNNCell", "Bilinear"}
    missing = set(nn.__all__) - {"Module"} - set(LAYERS) - several
    assert not missing, f"add these convcalc.nn layers to LAYERS: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_to_torch_builds_the_same_layer(name: str) -> None:
    spec, shape = LAYERS[name]
    module = convcalc.nn.Module.to_torch(spec)
    assert isinstance(module, tnn.Module)
    assert type(module).__name__ == {"Add": "AddBranches", "Concat": "ConcatBranches"}.get(name, name)
    plan = convcalc.plan(spec, shape)
    shapes, out = torch_shapes(module, shape)
    assert tuple(plan.output_shape) == tuple(out.shape)
    params = own_params(module)
    for row in plan.rows:
        torch_name = row.name if row.name in params else ""  # the root's own row, named by its kind
        assert row.name in params or row is plan.rows[-1]
        assert tuple(row.output_shape) == shapes[torch_name][0], row.name
        assert row.params == params[torch_name], row.name
    names = {row.name for row in plan.rows}
    leaves = {n for n, m in module.named_modules() if not any(True for _ in m.children())}
    assert leaves <= names | {""}
    assert {n for n, _ in module.named_modules()} - {""} <= names | {n for n in params if n not in leaves}
    assert plan.total_params == sum(p.numel() for p in module.parameters())


def test_to_torch_keeps_arguments() -> None:
    module = tb.to_torch(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, groups=1, bias=False, padding_mode="reflect")
    )
    assert (module.kernel_size, module.stride, module.padding, module.dilation) == ((3, 3), (2, 2), (1, 1), (2, 2))
    assert module.bias is None
    assert module.padding_mode == "reflect"
    pool = tb.to_torch(nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (3, 2, 1, True)


def test_to_torch_of_a_named_nested_model_keeps_the_paths() -> None:
    model = nn.Sequential(
        OrderedDict(
            stem=nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 8, 3, padding=1), bn=nn.BatchNorm2d(8), act=nn.ReLU())),
            block=nn.Add(
                nn.Sequential(OrderedDict(conv=nn.Conv2d(8, 8, 3, padding=1), bn=nn.BatchNorm2d(8))), nn.Identity()
            ),
            head=nn.Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(8, 10))),
        )
    )
    module = model.to_torch()
    plan = convcalc.plan(model, (2, 3, 16, 16))
    modules = {n for n, _ in module.named_modules()}
    assert [r.name for r in plan.rows] == [
        "stem.conv",
        "stem.bn",
        "stem.act",
        "block.0.conv",
        "block.0.bn",
        "block.1",
        "block",
        "head.pool",
        "head.flat",
        "head.fc",
    ]
    assert {r.name for r in plan.rows} <= modules
    assert_plan_is_torch(plan, module, (2, 3, 16, 16))


def test_concat_crop_centre_crops_like_the_2015_unet() -> None:
    spec = nn.Concat(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), nn.Identity(), crop=True)
    module = spec.to_torch()
    x = torch.arange(81.0).reshape(1, 1, 9, 9)
    with torch.no_grad():
        out = module(x)
    assert tuple(out.shape) == (1, 2, 5, 5)
    assert torch.equal(out[0, 1], x[0, 0, 2:7, 2:7])  # offset (9 - 5) // 2 = 2
    assert tuple(out.shape) == convcalc.plan(spec, (1, 1, 9, 9)).output_shape


def test_to_torch_rejects_what_torch_cannot_build() -> None:
    from convcalc import keras

    with pytest.raises(SpecError, match=r"^<model> \(Dense\): this layer has no torch.nn equivalent.*Received:"):
        tb.to_torch(keras.Dense(10))

    class Squash(nn.Module):  # a user's own spec, with no torch.nn class of that name
        def _plan(self, flow: Any, ctx: Any, path: str) -> Any:
            return flow

    with pytest.raises(SpecError, match=r"^head\.1 \(Squash\): this layer has no torch.nn equivalent"):
        tb.to_torch(nn.Sequential(OrderedDict(head=nn.Sequential(nn.Flatten(), Squash()))))


def test_torch_modules_made_here_pickle() -> None:
    spec, shape = LAYERS["Concat"]
    module = pickle.loads(pickle.dumps(spec.to_torch()))
    assert type(module) is tb.ConcatBranches
    assert convcalc.plan(module, shape) == convcalc.plan(spec, shape)


# --------------------------------------------------------------------------- #
# Round trips
# --------------------------------------------------------------------------- #

ROUND_TRIPS = {
    "mnist": (
        nn.Sequential(
            nn.Conv2d(1, 32, 3, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(2, padding=1),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 128),
            nn.Dropout(0.5),
            nn.Linear(128, 10),
        ),
        (4, 1, 28, 28),
    ),
    "residual": (
        nn.Sequential(
            OrderedDict(
                stem=nn.Conv2d(3, 16, 3, padding=1),
                block=nn.Add(
                    nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU()),
                    nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32)),
                ),
                pool=nn.AdaptiveAvgPool2d(1),
                flat=nn.Flatten(),
                fc=nn.LazyLinear(10),
            )
        ),
        (2, 3, 32, 32),
    ),
    "inception": (
        nn.Concat(
            nn.Conv2d(192, 64, 1),
            nn.Sequential(nn.Conv2d(192, 96, 1), nn.ReLU(), nn.Conv2d(96, 128, 3, padding=1)),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(192, 32, 1)),
        ),
        (1, 192, 28, 28),
    ),
    "unet_crop": (
        nn.Sequential(
            nn.Conv2d(1, 8, 3),
            nn.ReLU(),
            nn.Concat(
                nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ConvTranspose2d(16, 8, 2, stride=2)),
                nn.Identity(),
                crop=True,
            ),
            nn.Conv2d(16, 2, 1),
        ),
        (1, 1, 30, 30),
    ),
    "norms_and_pads": (
        nn.Sequential(
            nn.ZeroPad2d((1, 0, 2, 1)),
            nn.Conv2d(3, 6, 3),
            nn.GroupNorm(3, 6),
            nn.GELU(),
            nn.Upsample(size=(8, 8)),
            nn.InstanceNorm2d(6),
            nn.Flatten(),
            nn.Unflatten(1, (6, 64)),
            nn.LayerNorm(64),
            nn.Softmax(dim=-1),
        ),
        (2, 3, 5, 6),
    ),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_from_torch_of_to_torch_plans_the_same(name: str) -> None:
    model, shape = ROUND_TRIPS[name]
    module = model.to_torch()
    again = tb.from_torch(module)
    assert convcalc.plan(again, shape) == convcalc.plan(model, shape)
    assert convcalc.plan(module, shape) == convcalc.plan(model, shape)
    assert_plan_is_torch(convcalc.plan(model, shape), module, shape)


def _structure(spec: Any) -> Any:
    return (spec.kind, [(name, _structure(child)) for name, child in spec.children()])


def test_from_torch_of_to_torch_gives_the_same_model_back() -> None:
    model, _ = ROUND_TRIPS["residual"]
    again = tb.from_torch(model.to_torch())
    assert _structure(again) == _structure(model)
    assert again["block"][1][0] == nn.Conv2d(16, 32, (1, 1), stride=(2, 2), padding=(0, 0), dilation=(1, 1), bias=False)


def test_symbolic_plans_agree_after_a_round_trip() -> None:
    H, W = convcalc.symbols("H W")
    model, _ = ROUND_TRIPS["residual"]
    assert convcalc.plan(model.to_torch().eval(), (1, 3, H, W)) == convcalc.plan(model, (1, 3, H, W))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (tnn.BatchNorm1d(4), (1, 4)),
        (tnn.BatchNorm1d(4), (2, 4)),
        (tnn.BatchNorm1d(4), (1, 4, 1)),
        (tnn.BatchNorm1d(4), (1, 4, 2)),
        (tnn.BatchNorm2d(4), (1, 4, 1, 1)),
        (tnn.BatchNorm2d(4), (1, 4, 1, 2)),
        (tnn.BatchNorm3d(4), (1, 4, 1, 1, 1)),
        (tnn.BatchNorm3d(4, track_running_stats=False), (1, 4, 1, 1, 1)),
        (tnn.BatchNorm2d(4, affine=False, track_running_stats=False), (2, 4, 1, 1)),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_a_batch_norm_needs_more_than_one_value_per_channel_where_torch_does(
    layer: Any, shape: tuple[int, ...], training: bool
) -> None:
    """In training mode (or without running statistics) torch normalises with the batch's statistics and raises
    ValueError for one value per channel (a classifier head's BatchNorm1d at batch 1); convcalc planned it."""
    model = tnn.Sequential(tnn.Identity(), layer).train(training)
    try:
        expected: Any = tuple(model(torch.zeros(shape)).shape)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(convcalc.ShapeError, match=r"^1 \(BatchNorm[123]d\): expects more than 1 value per channel"):
            convcalc.plan(model, shape)
    else:
        assert convcalc.plan(model, shape).output_shape == expected
    assert model.training is training  # read, not switched


def test_the_batch_norm_message_and_constraint() -> None:
    head = tnn.Sequential(tnn.Flatten(), tnn.Linear(8, 4), tnn.BatchNorm1d(4))
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(head, (1, 2, 2, 2))
    assert str(info.value) == (
        "2 (BatchNorm1d): expects more than 1 value per channel when it normalises with the batch's statistics (in "
        "training mode; torch: ValueError); plan a batch of 2 or more, or call .eval() on the model first. Received: "
        "input_shape=(1, 4)"
    )
    assert convcalc.plan(head.eval(), (1, 2, 2, 2)).output_shape == (1, 4)
    # symbolic sizes: a constraint, in training mode only, where the numbers alone do not make two values (a
    # width of 2 does, whatever N and H: every size is at least 1)
    N, H = convcalc.symbols("N H")
    net = tnn.Sequential(tnn.Conv2d(3, 4, 3, stride=2), tnn.BatchNorm2d(4))
    plan = convcalc.plan(net, (N, 3, H, 3))
    (constraint,) = [c for c in plan.constraints if c.reason == "more than 1 value per channel"]
    # not exactly 1 value: (values - 1)**2 >= 1, which keeps an empty batch (torch normalises none)
    assert (constraint.layer, constraint.kind, constraint.value) == ("1", ">=", 1)
    assert sympy.simplify(constraint.form - (N * (sympy.floor((H - 3) / 2) + 1) - 1) ** 2) == 0
    assert not [c for c in convcalc.plan(net.eval(), (N, 3, H, 3)).constraints if "value per channel" in c.reason]
    assert not [c for c in convcalc.plan(net, (N, 3, H, 5)).constraints if "value per channel" in c.reason]
    # a convcalc.nn batch norm without running statistics always normalises with the batch's
    with pytest.raises(convcalc.ShapeError, match="without running statistics"):
        convcalc.plan(convcalc.nn.BatchNorm2d(4, track_running_stats=False), (1, 4, 1, 1))
    assert convcalc.plan(convcalc.nn.BatchNorm2d(4), (1, 4, 1, 1)).output_shape == (1, 4, 1, 1)


def test_summary_reads_the_model_in_torchinfo_s_mode_and_puts_each_module_s_back() -> None:
    head = tnn.Sequential(tnn.Flatten(), tnn.Linear(8, 4), tnn.BatchNorm1d(4), tnn.Dropout())
    head[3].eval()  # mixed modes
    assert "Total params: 44" in str(convcalc.summary(head, input_size=(1, 2, 2, 2), verbose=0))
    with pytest.raises(convcalc.ShapeError, match="in training mode"):
        convcalc.summary(head, input_size=(1, 2, 2, 2), mode="train", verbose=0)
    assert [m.training for m in head.modules()] == [True, True, True, True, False]


# --------------------------------------------------------------------------- #
# Hand-written torch models, in the styles people write them
# --------------------------------------------------------------------------- #


class BasicBlock(tnn.Module):
    """torchvision's ResNet BasicBlock: ``out += identity``, one ReLU module used twice."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = tnn.Sequential(
                tnn.Conv2d(inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes)
            )

    def forward(self, x: Any) -> Any:
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1 = tnn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = tnn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(32, 10)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class Inception(tnn.Module):
    """GoogLeNet's Inception block: four branches joined with torch.cat."""

    def __init__(self, cin: int = 32) -> None:
        super().__init__()
        self.branch1 = tnn.Conv2d(cin, 16, 1)
        self.branch2 = tnn.Sequential(tnn.Conv2d(cin, 8, 1), tnn.ReLU(), tnn.Conv2d(8, 24, 3, padding=1))
        self.branch3 = tnn.Sequential(tnn.Conv2d(cin, 4, 1), tnn.ReLU(), tnn.Conv2d(4, 8, 5, padding=2))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, stride=1, padding=1), tnn.Conv2d(cin, 8, 1))

    def forward(self, x: Any) -> Any:
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, 1)


class MnistNet(tnn.Module):
    """The PyTorch examples' MNIST CNN: F.relu, F.max_pool2d, x.view(x.size(0), -1), F.log_softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 32, 3, 1)
        self.conv2 = tnn.Conv2d(32, 64, 3, 1)
        self.dropout1 = tnn.Dropout(0.25)
        self.fc1 = tnn.Linear(9216, 128)
        self.fc2 = tnn.Linear(128, 10)

    def forward(self, x: Any) -> Any:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, 0.5, self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def channel_shuffle(x: Any, groups: int) -> Any:
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, height, width)


class ShuffleUnit(tnn.Module):
    """ShuffleNet V2's unit: chunk, a branch, cat, channel shuffle."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        half = channels // 2
        self.branch2 = tnn.Sequential(
            tnn.Conv2d(half, half, 1, bias=False),
            tnn.BatchNorm2d(half),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(half, half, 3, 1, 1, groups=half, bias=False),
            tnn.BatchNorm2d(half),
            tnn.Conv2d(half, half, 1, bias=False),
            tnn.BatchNorm2d(half),
            tnn.ReLU(inplace=True),
        )

    def forward(self, x: Any) -> Any:
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2)


class SqueezeExcite(tnn.Module):
    """Squeeze-and-excitation: x * s with s of shape (N, C, 1, 1)."""

    def __init__(self, channels: int = 16, reduction: int = 4) -> None:
        super().__init__()
        self.fc1 = tnn.Linear(channels, channels // reduction)
        self.fc2 = tnn.Linear(channels // reduction, channels)

    def forward(self, x: Any) -> Any:
        b, c, _, _ = x.shape
        s = x.mean((2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s.view(b, c, 1, 1)


class SEConvBlock(tnn.Module):
    """Conv then squeeze-and-excitation written with modules (AdaptiveAvgPool2d, 1x1 convs), as MobileNetV3."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.se = SqueezeExcite(16)
        self.pool = tnn.AdaptiveAvgPool2d(1)
        self.fc1 = tnn.Conv2d(16, 4, 1)
        self.fc2 = tnn.Conv2d(4, 16, 1)
        self.head = tnn.Linear(16, 5)

    def forward(self, x: Any) -> Any:
        x = self.se(self.conv(x))
        scale = F.hardsigmoid(self.fc2(F.relu(self.fc1(self.pool(x)))))
        x = x * scale
        x = x.mean([2, 3])
        return self.head(x)


class FlattenNet(tnn.Module):
    """A VGG-like net: features, AdaptiveAvgPool2d, torch.flatten(x, 1), classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(3, 8, 3, padding=1),
            tnn.ReLU(inplace=True),
            tnn.MaxPool2d(2, 2),
            tnn.Conv2d(8, 16, 3, padding=1),
            tnn.ReLU(inplace=True),
            tnn.MaxPool2d(2, 2),
        )
        self.avgpool = tnn.AdaptiveAvgPool2d((3, 3))
        self.classifier = tnn.Sequential(tnn.Linear(16 * 3 * 3, 32), tnn.ReLU(True), tnn.Dropout(), tnn.Linear(32, 4))

    def forward(self, x: Any) -> Any:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class UpBlock(tnn.Module):
    """A U-Net decoder step: upsample to the skip's size, pad, cat, conv; and a residual scale parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.down = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1), tnn.MaxPool2d(2))
        self.reduce = tnn.Conv2d(3, 8, 1)
        self.fuse = tnn.Conv2d(16, 4, 3, padding=1)
        self.gamma = tnn.Parameter(torch.ones(1, 4, 1, 1))

    def forward(self, x: Any) -> Any:
        skip = self.reduce(x)
        low = self.down(x)
        up = F.interpolate(low, size=skip.shape[2:], mode="bilinear", align_corners=False)
        up = F.pad(up[:, :, 1:, 1:], (1, 0, 1, 0))
        y = self.fuse(torch.cat([skip, up], dim=1))
        return y * self.gamma + F.avg_pool2d(F.pad(y, (1, 1, 1, 1)), 3, stride=1)


class Stem(tnn.Module):
    """A plain chain of children: read as a Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 8, 3)
        self.bn = tnn.BatchNorm2d(8)
        self.act = tnn.ELU(alpha=0.5)

    def forward(self, x: Any) -> Any:
        return self.act(self.bn(self.conv(x)))


class Decided(tnn.Module):
    """A forward that asks numbers and conditions of sizes (``int()``, an assert, a branch, names unpacked): the
    graph read from it, rebuilt by to_torch, checks them on the real sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 8, 3, padding=1)
        self.head = tnn.Linear(8, 4)

    def forward(self, x: Any) -> Any:
        assert x.shape[1] == 3, "three channels"
        _n, _c, h, _w = x.shape
        x = self.conv(x)
        if h % 2 == 0:
            x = x[:, :, : h // 2]
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, a], 1).view(int(x.size(0)), 8, -1).mean(-1)
        return self.head(x)


class DenseBlock(tnn.Module):
    """DenseNet-style: a ModuleList in a loop, torch.cat of a growing list, then a ModuleDict."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = tnn.ModuleList(
            tnn.Sequential(tnn.BatchNorm2d(8 + 4 * i), tnn.ReLU(), tnn.Conv2d(8 + 4 * i, 4, 3, padding=1))
            for i in range(3)
        )
        self.transition = tnn.ModuleDict({"conv": tnn.Conv2d(20, 8, 1), "pool": tnn.AvgPool2d(2)})

    def forward(self, x: Any) -> Any:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        x = torch.cat(features, 1)
        for block in self.transition.values():
            x = block(x)
        return x


class InvertedResidual(tnn.Module):
    """MobileNetV2's block: the residual depends on a plain attribute."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        self.conv = tnn.Sequential(
            tnn.Conv2d(cin, 4 * cin, 1, bias=False),
            tnn.BatchNorm2d(4 * cin),
            tnn.ReLU6(inplace=True),
            tnn.Conv2d(4 * cin, 4 * cin, 3, stride, 1, groups=4 * cin, bias=False),
            tnn.BatchNorm2d(4 * cin),
            tnn.ReLU6(inplace=True),
            tnn.Conv2d(4 * cin, cout, 1, bias=False),
            tnn.BatchNorm2d(cout),
        )

    def forward(self, x: Any) -> Any:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetish(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = tnn.Sequential(
            InvertedResidual(8, 8, 1),
            InvertedResidual(8, 16, 2),
            InvertedResidual(16, 16, 1),
            InvertedResidual(16, 16, 2),
        )

    def forward(self, x: Any) -> Any:
        return tnn.functional.adaptive_avg_pool2d(self.features(x), 1).reshape(x.shape[0], -1)


class PatchEmbed(tnn.Module):
    """ViT-style: conv patches, flatten(2).transpose(1, 2), a class token, position embedding, attention matmuls."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = tnn.Conv2d(3, 16, 4, 4)
        self.cls_token = tnn.Parameter(torch.zeros(1, 1, 16))
        self.pos_embed = tnn.Parameter(torch.zeros(1, 17, 16))
        self.norm = tnn.LayerNorm(16)
        self.head = tnn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        b = x.shape[0]
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = self.norm(x + self.pos_embed)
        attention = (x @ x.transpose(-2, -1)).softmax(dim=-1)
        return self.head((attention @ x)[:, 0])


class TensorOps(tnn.Module):
    """Reductions, splits, stacks, slicing, permutes and reshapes on a conv's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        top = torch.max(y, 1)[0].unsqueeze(1)
        values = torch.max(y, dim=1).values.unsqueeze(1)
        a, b = torch.split(y, [3, 5], dim=1)
        stacked = torch.stack([a.mean(1), b.amax(1)], 1)
        crop = y[:, :4, 1:-1, ::2]
        pooled = F.adaptive_max_pool2d(y, (2, 2)).reshape(x.shape[0], -1)
        unshuffled = F.pixel_unshuffle(y, 2)
        rows = y.permute(0, 2, 3, 1).contiguous().view(-1, 8)
        _ = (crop, pooled, unshuffled, rows)
        return torch.cat([top, values, stacked], 1) * 2.0 + 1


class PadUNet(tnn.Module):
    """The common U-Net up step: pad the upsampled map by the size difference, then cat."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = tnn.Conv2d(1, 4, 3, padding=1)
        self.down = tnn.MaxPool2d(2)
        self.mid = tnn.Conv2d(4, 4, 3, padding=1)
        self.up = tnn.ConvTranspose2d(4, 4, 2, stride=2)
        self.out = tnn.Conv2d(8, 2, 1)

    def forward(self, x: Any) -> Any:
        e = self.enc(x)
        u = self.up(self.mid(self.down(e)))
        dy, dx = e.size(2) - u.size(2), e.size(3) - u.size(3)
        u = F.pad(u, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.out(torch.cat([e, u], dim=1))


HAND_WRITTEN = {
    "dense": (DenseBlock, (2, 8, 16, 16)),
    "mobilenet": (MobileNetish, (2, 8, 32, 32)),
    "vit": (PatchEmbed, (2, 3, 16, 16)),
    "tensor_ops": (TensorOps, (2, 3, 8, 8)),
    "pad_unet": (PadUNet, (1, 1, 17, 20)),
    "resnet": (TinyResNet, (2, 3, 64, 64)),
    "inception": (Inception, (2, 32, 14, 14)),
    "mnist": (MnistNet, (4, 1, 28, 28)),
    "shuffle": (ShuffleUnit, (2, 16, 10, 10)),
    "se": (SEConvBlock, (2, 3, 32, 32)),
    "flatten": (FlattenNet, (2, 3, 32, 32)),
    "unet_up": (UpBlock, (1, 3, 17, 20)),
    "stem": (Stem, (1, 3, 12, 12)),
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_plan_of_a_torch_module_is_what_torch_computes(name: str) -> None:
    make, shape = HAND_WRITTEN[name]
    module = make()
    plan = convcalc.plan(module, shape)
    assert_plan_is_torch(plan, module, shape)


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_verify_agrees_on_hand_written_models(name: str) -> None:
    make, shape = HAND_WRITTEN[name]
    report = convcalc.verify(make(), shape, device="cpu")
    assert report.ok, str(report)
    assert any(r.match for r in report.rows)


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_to_torch_of_from_torch_runs_and_plans_the_same(name: str) -> None:
    make, shape = HAND_WRITTEN[name]
    module = make()
    spec = tb.from_torch(module)
    rebuilt = tb.to_torch(spec)
    assert convcalc.plan(rebuilt, shape) == convcalc.plan(module, shape)
    assert {n for n, _ in rebuilt.named_modules()} <= {n for n, _ in module.named_modules()}
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in module.parameters())
    assert convcalc.verify(spec, shape, device="cpu").ok


def test_to_torch_runs_the_decisions_a_forward_was_read_with() -> None:
    """The graph holds the numbers and branches its forward was read with (a batch of 1, an even h): the rebuilt
    module runs where the sizes give the same, and refuses elsewhere (it would compute with the numbers read)."""
    module = Decided()
    rebuilt = tb.to_torch(tb.from_torch(module))
    with torch.no_grad():
        assert rebuilt(torch.zeros(1, 3, 10, 9)).shape == module(torch.zeros(1, 3, 10, 9)).shape
        assert convcalc.plan(rebuilt, (1, 3, 10, 9)) == convcalc.plan(module, (1, 3, 10, 9))
        with pytest.raises(RuntimeError, match="takes the other branch"):
            rebuilt(torch.zeros(1, 3, 9, 10))
        with pytest.raises(RuntimeError, match="these sizes make it 2"):
            rebuilt(torch.zeros(2, 3, 10, 9))


def test_row_names_are_torch_paths() -> None:
    plan = convcalc.plan(TinyResNet(), (1, 3, 64, 64))
    names = [r.name for r in plan.rows]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert names[4:11] == [
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.0.relu",
        "layer1.0.conv2",
        "layer1.0.bn2",
        "layer1.0.add",
        "layer1.0.relu",
    ]
    assert "layer2.0.downsample.0" in names
    assert names[-2:] == ["flatten", "fc"]
    assert plan.row("layer1.0.add").kind == "add"
    assert plan.row("flatten").kind == "flatten"


def test_receptive_field_follows_residuals_and_shuffles() -> None:
    plan = convcalc.plan(TinyResNet(), (1, 3, 64, 64))
    assert plan.row("layer1.0.add").receptive_field == plan.row("layer1.0.bn2").receptive_field
    assert plan.row("maxpool").receptive_field[0].size == 11
    shuffle = convcalc.plan(ShuffleUnit(), (1, 16, 10, 10))
    assert shuffle.rows[-1].receptive_field is not None  # kept through view / transpose / view
    assert shuffle.rows[-1].receptive_field[0].size == 3


def test_torch_model_with_symbolic_sizes() -> None:
    H, W = convcalc.symbols("H W")
    model = nn.Sequential(
        nn.Conv2d(3, 16, 7, 2, 3, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    )
    symbolic = convcalc.plan(TinyResNet(), (1, 3, H, W))
    assert symbolic.row("maxpool").output_shape == convcalc.plan(model, (1, 3, H, W)).output_shape
    assert symbolic.output_shape == (1, 10)
    for size in (32, 57, 64):
        numeric = convcalc.plan(TinyResNet(), (1, 3, size, size))
        for sym_row, row in zip(symbolic.rows, numeric.rows, strict=True):
            got = tuple(d.subs({H: size, W: size}) if hasattr(d, "subs") else d for d in sym_row.output_shape)
            assert got == row.output_shape, row.name


def test_shuffle_with_symbolic_sizes() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(ShuffleUnit(), (2, 16, H, 2 * H))
    assert plan.output_shape == (2, 16, H, 2 * H)


def test_padded_unet_keeps_any_size_and_an_unpadded_one_records_a_constraint() -> None:
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(PadUNet(), (1, 1, H, W)).output_shape == (1, 2, H, W)

    class Unpadded(PadUNet):
        def forward(self, x: Any) -> Any:
            e = self.enc(x)
            return self.out(torch.cat([e, self.up(self.mid(self.down(e)))], dim=1))

    plan = convcalc.plan(Unpadded(), (1, 1, H, 16))
    (constraint,) = [c for c in plan.constraints if c.layer == "cat"]
    assert constraint.kind == "=="
    assert [h for h in range(8, 16) if constraint.holds(h)] == [8, 10, 12, 14]
    with pytest.raises(
        ShapeError,
        match=r"^cat \(cat\): tensor 1 has shape \(1, 4, 16, 16\) but tensor 0 has "
        r"\(1, 4, 17, 16\); all dims except dim=1 must match",
    ):
        convcalc.plan(Unpadded(), (1, 1, 17, 16))


def test_blocks_that_differ_in_an_attribute_are_read_apart() -> None:
    """Blocks of one class are traced once per distinct plain-data state (use_res_connect here)."""
    plan = convcalc.plan(MobileNetish(), (1, 8, 32, 32))
    assert [r.name for r in plan.rows if r.kind == "add"] == ["features.0.add", "features.2.add"]


# --------------------------------------------------------------------------- #
# No forward pass
# --------------------------------------------------------------------------- #


class RefusesData(tnn.Module):
    """Raises if its forward ever sees a real tensor with data; torch.fx hands it a Proxy (which ``isinstance``
    takes for the tensor it stands for, as the forward's own code would), whose type names itself."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 8, 3)
        self.fc = tnn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        if "Proxy" not in type(x).__name__ and x.device.type != "meta":
            raise AssertionError("the forward pass ran on data")
        x = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1)
        return self.fc(torch.flatten(x, 1))


@pytest.fixture
def forward_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts every forward of torch's own layers called on real tensors."""
    calls: list[str] = []
    for cls in (tnn.Conv2d, tnn.BatchNorm2d, tnn.Linear, tnn.ReLU, tnn.MaxPool2d, tnn.AdaptiveAvgPool2d, tnn.Dropout):
        original = cls.forward

        def counting(self: Any, *args: Any, original: Any = original, **kwargs: Any) -> Any:
            calls.append(type(self).__name__)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", counting)
    return calls


def test_plan_of_a_torch_module_runs_no_forward_pass(forward_calls: list[str]) -> None:
    with pytest.raises(AssertionError, match="ran on data"):
        RefusesData()(torch.randn(1, 3, 8, 8))
    forward_calls.clear()
    plan = convcalc.plan(RefusesData(), (1024, 3, 224, 224))
    assert plan.output_shape == (1024, 2)
    for make, shape in HAND_WRITTEN.values():
        convcalc.plan(make(), (512, *shape[1:]))
    assert forward_calls == []


def test_plan_of_a_torch_module_computes_with_no_tensor() -> None:
    """No torch function runs on a real tensor while planning (a TorchFunctionMode sees every call)."""
    from torch.overrides import TorchFunctionMode

    seen: list[str] = []

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            # issubclass, not isinstance: while a forward is traced, isinstance asked from user code (as this
            # mode is) answers for fx's proxies as the plan will find them (a tensor), which they are not
            leaves = [a for a in (*args, *(kwargs or {}).values()) if issubclass(type(a), torch.Tensor)]
            if any(not isinstance(a, tnn.Parameter) for a in leaves) and "__get__" not in repr(func):
                seen.append(getattr(func, "__name__", repr(func)))
            return func(*args, **(kwargs or {}))

    modules = [make() for make, _ in HAND_WRITTEN.values()]
    with Watch():
        for module, (_, shape) in zip(modules, HAND_WRITTEN.values(), strict=True):
            convcalc.plan(module, shape)
    assert seen == []


# --------------------------------------------------------------------------- #
# verify
# --------------------------------------------------------------------------- #


def test_verify_happy_path_on_a_convcalc_model() -> None:
    model, shape = ROUND_TRIPS["residual"]
    report = convcalc.verify(model, shape)
    assert report.ok
    assert report.device in ("cpu", "cuda")
    assert report.error is None
    assert report.plan_error is None
    assert [r.name for r in report.rows] == [r.name for r in convcalc.plan(model, shape).rows]
    assert all(r.match for r in report.rows)
    row = report.rows[0]
    assert row == (row.name, row.planned_shape, row.actual_shape, row.planned_params, row.actual_params, True)
    text = str(report)
    assert text.splitlines()[0].startswith(f"verify on {report.device}, input (2, 3, 32, 32): OK")
    assert "block.0.0" in text
    assert "ok" in text


class _TokenClassifier(torch.nn.Module):
    def __init__(self, features: int = 8) -> None:
        super().__init__()
        self.emb, self.fc = torch.nn.Embedding(50, 8), torch.nn.Linear(features, 3)

    def forward(self, ids: Any) -> Any:
        return self.fc(self.emb(ids).mean(1))


class _TokensClassifier(_TokenClassifier):
    def forward(self, tokens: Any) -> Any:  # (a name that does not say integers)
        return super().forward(tokens)


def test_verify_runs_a_model_of_token_ids_on_integers() -> None:
    """verify ran every model on floats, which an Embedding refuses: a model of token ids was reported as a
    mismatch ("torch raises at emb") where plan and torch agree; torch's request for integers is followed."""
    report = convcalc.verify(_TokenClassifier(), (4, 20), device="cpu")
    assert report.ok
    assert report.error is None
    assert [r.actual_shape for r in report.rows if r.actual_shape is not None] == [(4, 20, 8), (4, 3)]
    wrong = convcalc.verify(_TokenClassifier(features=5), (4, 20), device="cpu")  # both refuse, at fc
    assert not wrong.ok
    assert wrong.error is not None
    # (its input is named ids: integers from the first run on)
    assert wrong.error.startswith("RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    renamed = convcalc.verify(_TokensClassifier(features=5), (4, 20), device="cpu")
    assert renamed.error is not None
    assert renamed.error.startswith("with integer inputs, RuntimeError: mat1 and mat2 shapes cannot be multiplied")


@pytest.mark.parametrize("torch_model", [False, True])
def test_verify_compares_on_the_meta_device_an_input_no_memory_holds(torch_model: bool) -> None:
    # 3 * 2**46 floats (768 TiB, past any address space): the CPU cannot allocate the input, which verify called a
    # MISMATCH ("torch raises at <model>"); torch's shapes come from the meta device then
    spec = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    model = spec.to_torch() if torch_model else spec
    shape = (1, 3, 2**23, 2**23)
    report = convcalc.verify(model, shape, device="cpu")
    assert report.ok
    assert report.error is None
    assert report.device == "meta, as cpu cannot hold the tensors"
    assert [(r.name, r.actual_shape, r.actual_params) for r in report.rows] == [
        ("0", (1, 4, 2**23 - 2, 2**23 - 2), 112),
        ("1", (1, 4, 2**23 - 2, 2**23 - 2), 0),
    ]
    too_small = convcalc.verify(model, (1, 3, 2, 2**46), device="cpu")  # both reject the kernel, on meta
    assert too_small.agree
    assert not too_small.ok
    assert too_small.torch_layer == too_small.plan_layer == "0"


class _Budget(torch.nn.Module):
    """A forward that refuses long inputs with a message of its own that speaks of memory."""

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Conv1d(8, 8, 3)

    def forward(self, x: Any) -> Any:
        if x.device.type != "meta" and x.shape[-1] > 5:
            raise RuntimeError("KV cache out of memory budget: sequences longer than 5 are refused")
        return self.c(x)


def test_verify_runs_on_meta_only_when_the_allocator_runs_out() -> None:
    # a model's own error that says "out of memory" is torch refusing the input, not the device's memory
    report = convcalc.verify(_Budget(), (2, 8, 7), device="cpu")
    assert not report.ok
    assert report.device == "cpu"
    assert report.error == "RuntimeError: KV cache out of memory budget: sequences longer than 5 are refused"


class _Attention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.att = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x: Any) -> Any:
        return self.att(x, x, x)[0]


@pytest.mark.parametrize(
    ("make", "shape"),
    [(_Attention, (1, 6, 16)), (lambda: torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), (1, 10, 16))],
    ids=["attention", "encoder_layer"],
)
def test_verify_counts_the_children_a_layer_reads_without_calling_them(make: Any, shape: tuple[int, ...]) -> None:
    """MultiheadAttention reads its ``out_proj``'s weight and bias without calling it: torch's column counted the
    layer's own tensors (816 of 1,088) and verify reported a mismatch on every stock encoder layer."""
    model = make().eval()
    report = convcalc.verify(model, shape)
    assert report.ok, str(report)
    attention = next(r for r in report.rows if r.name.endswith("att") or r.name == "self_attn")
    assert attention.planned_params == attention.actual_params == 4 * (16 * 16 + 16)
    assert sum(r.actual_params or 0 for r in report.rows) == sum(p.numel() for p in model.parameters())


def test_verify_reports_a_layer_the_plan_gets_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import convcalc._planner

    real_plan = convcalc._planner.plan

    def wrong_plan(model: Any, shape: Any, **kwargs: Any) -> Any:
        result = real_plan(model, shape, **kwargs)
        rows = list(result.rows)
        rows[1] = dataclasses.replace(rows[1], output_shape=(4, 32, 13, 13))
        return dataclasses.replace(result, rows=tuple(rows))

    monkeypatch.setattr(convcalc._planner, "plan", wrong_plan)
    model, shape = ROUND_TRIPS["mnist"]
    report = convcalc.verify(model, shape, device="cpu")
    assert not report.ok
    assert [r.name for r in report.mismatches] == ["1"]
    assert report.mismatches[0].actual_shape == (4, 32, 28, 28)
    assert "MISMATCH" in str(report)
    with pytest.raises(
        ShapeError,
        match=r"^verify: layer '1' differs from torch: planned output \(4, 32, 13, 13\) "
        r"with 0 parameters, torch gives \(4, 32, 28, 28\) with 0\. "
        r"Received: input_shape=\(4, 1, 28, 28\)$",
    ):
        convcalc.verify(model, shape, device="cpu", raise_on_mismatch=True)


def test_verify_catches_a_wrong_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    class Shrink(tnn.Module):
        def forward(self, x: Any) -> Any:
            return x[:, :, ::2, ::2] if x.shape[-1] > 1 else x  # data-dependent: needs a rule

    monkeypatch.setitem(_RULES, Shrink, lambda m: nn.Identity())  # a wrong rule: Shrink halves the size
    model = tnn.Sequential(tnn.Conv2d(1, 2, 3, padding=1), Shrink())
    report = convcalc.verify(model, (1, 1, 8, 8), device="cpu")
    assert not report.ok
    (bad,) = report.mismatches
    assert (bad.name, bad.planned_shape, bad.actual_shape) == ("1", (1, 2, 8, 8), (1, 2, 4, 4))


def test_verify_when_torch_raises() -> None:
    class WrongLinear(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(1, 4, 3)
            self.fc = tnn.Linear(100, 10)  # the flattened map has 4 * 6 * 6 = 144 features

        def forward(self, x: Any) -> Any:
            return self.fc(torch.flatten(self.conv(x), 1))

    report = convcalc.verify(WrongLinear(), (2, 1, 8, 8), device="cpu")
    assert not report.ok
    assert report.error is not None
    assert "mat1 and mat2 shapes cannot be multiplied" in report.error
    assert report.plan_error is not None
    assert "use in_features=144" in report.plan_error
    assert "torch: RuntimeError" in str(report)
    with pytest.raises(
        ShapeError,
        match=r"^verify: convcalc and torch both reject this input\. torch: RuntimeError: "
        r"mat1 and mat2 shapes cannot be multiplied.*Received: input_shape=",
    ):
        convcalc.verify(WrongLinear(), (2, 1, 8, 8), device="cpu", raise_on_mismatch=True)


def test_verify_when_only_convcalc_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pool(tnn.Module):
        def forward(self, x: Any) -> Any:
            return F.avg_pool2d(x, 2)

    monkeypatch.setitem(_RULES, Pool, lambda m: nn.Conv2d(5, 1, 1))  # a rule that does not fit
    report = convcalc.verify(Pool(), (1, 3, 4, 4), device="cpu")
    assert not report.ok
    assert report.error is None
    assert report.plan_error is not None
    assert "in_channels=5" in report.plan_error
    with pytest.raises(ShapeError, match=r"^verify: torch runs this input, but convcalc rejects it: .*in_channels=5"):
        convcalc.verify(Pool(), (1, 3, 4, 4), device="cpu", raise_on_mismatch=True)


def test_verify_leaves_the_torch_module_as_it_was() -> None:
    module = TinyResNet()
    module.train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    assert convcalc.verify(module, (2, 3, 32, 32), device="cpu").ok
    assert module.training
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_verify_feeds_the_input_in_the_models_dtype(dtype: str) -> None:
    """A ``.half()`` or ``.double()`` model runs on an input of its own dtype: a float32 one made torch raise, and
    verify reported a mismatch on a model that plans and runs."""
    model = tnn.Sequential(tnn.Conv2d(3, 8, 3), tnn.ReLU(), tnn.Conv2d(8, 4, 1)).to(getattr(torch, dtype))
    report = convcalc.verify(model, (2, 3, 10, 10), device="cpu")
    assert report.ok, str(report)
    assert report.error is None
    assert [r.actual_shape for r in report.rows] == [(2, 8, 8, 8), (2, 8, 8, 8), (2, 4, 8, 8)]


def test_verify_compares_a_module_that_returns_its_input() -> None:
    """``QuantStub`` / ``DeQuantStub`` (before a model is prepared) return their input: the plan holds their calls
    without an operation, and verify compared them as missing."""
    from torch.ao.quantization import DeQuantStub, QuantStub

    model = tnn.Sequential(QuantStub(), tnn.Conv2d(3, 8, 3), DeQuantStub()).eval()
    report = convcalc.verify(model, (2, 3, 16, 16), device="cpu")
    assert report.ok, str(report)
    assert {r.name: (r.planned_shape, r.actual_shape, r.match) for r in report.rows} == {
        "0": ((2, 3, 16, 16), (2, 3, 16, 16), True),
        "1": ((2, 8, 14, 14), (2, 8, 14, 14), True),
        "2": ((2, 8, 14, 14), (2, 8, 14, 14), True),
    }


def test_verify_takes_numpy_integers_as_plan_does() -> None:
    import numpy as np

    model, _ = ROUND_TRIPS["mnist"]
    report = convcalc.verify(model, (np.int64(2), 1, np.int32(28), 28))
    assert report.ok
    assert report.rows[0].planned_shape == (2, 32, 28, 28)
    assert all(type(d) is int for d in report.rows[0].planned_shape)


def test_verify_of_a_forward_of_several_inputs_given_one_says_how_to_give_them() -> None:
    """The plan's refusal names the inputs; verify() says how to give it one shape for each."""
    with pytest.raises(SpecError) as refused:
        convcalc.verify(_TwoInput(), (4, 3, 33, 33), device="cpu")
    assert str(refused.value) == (
        "<model> (_TwoInput): forward takes 2 inputs (image, tabular); give verify() one shape per input: "
        "convcalc.verify(model, [shape of image, shape of tabular]). Received: input_shape=(4, 3, 33, 33)"
    )


def test_verify_runs_a_forward_of_several_inputs_by_position_and_by_name() -> None:
    """A list of shapes gives the forward its inputs by position, a dict by name, as ``plan`` takes them: torch
    runs the model on one tensor per shape, and every call is compared (a translation model: its decoder reads
    the encoder's memory)."""
    from tests.corpus_models import Seq2Seq

    for inputs in ([(2, 9, 16), (2, 5, 16)], {"target": (2, 9, 16), "memory": (2, 5, 16)}):
        report = convcalc.verify(Seq2Seq().eval(), inputs, device="cpu")
        assert report.ok, str(report)
        assert report.input_shape == inputs
        assert str(report).startswith(f"verify on cpu, input {inputs}: OK (")
        assert sum(r.match is True for r in report.rows) > 10
    report = convcalc.verify(_TwoInput(), [(4, 3, 33, 33), (4, 5)], device="cpu")
    assert (report.ok, report.agree, report.plan_layer, report.torch_layer) == (False, True, "tab", "tab")
    with pytest.raises(
        ShapeError, match=r"input_shape\[1\] is \(4, 0\); Received: input_shape=\[\(4, 3, 33, 33\), \(4, 0\)\]"
    ):
        convcalc.verify(_TwoInput(), [(4, 3, 33, 33), (4, 0)], device="cpu")


def test_verify_rejects_symbolic_or_bad_input() -> None:
    H = convcalc.symbols("H")
    model, _ = ROUND_TRIPS["mnist"]
    with pytest.raises(ShapeError, match=r"input_shape must be positive ints.*Received: input_shape=\(1, 1, H, H\)"):
        convcalc.verify(model, (1, 1, H, H))
    for bad in ((1, 1, 28.0, 28), (True, 1, 28, 28), (1, 1, 0, 28), (), "1, 1, 28, 28"):
        with pytest.raises(ShapeError, match=r"input_shape must be positive ints"):
            convcalc.verify(model, bad)
    for several in ([(1, 1, 28, 28), (1, 1, 28, 28)], {"x": (1, 1, 28, 28)}, [(1, 1, 28, 28)]):
        # it said input_shape must be positive ints, which each shape is: a convcalc.nn model takes one
        with pytest.raises(ShapeError) as refused:
            convcalc.verify(model, several)
        assert str(refused.value) == (
            "verify() runs a convcalc.nn model on one input tensor, so input_shape is one shape such as "
            f"(1, 3, 224, 224). Received: input_shape={several!r}"
        )
    with pytest.raises(SpecError, match=r"verify\(\) takes a convcalc.nn model or a torch.nn.Module"):
        convcalc.verify("resnet", (1, 3, 8, 8))
    with pytest.raises(SpecError, match=r"verify\(\) takes a convcalc.nn model or a torch.nn.Module"):
        convcalc.verify(convcalc.nn.Conv2d, (1, 3, 8, 8))
    with pytest.raises(SpecError, match=r"verify\(\) missing 1 required positional argument: 'input_shape'\. It takes"):
        convcalc.verify(model)  # type: ignore[call-arg]
    keras_model = convcalc.keras.Sequential([convcalc.keras.Input((8, 8, 3)), convcalc.keras.Conv2D(4, 3)])
    with pytest.raises(SpecError, match=r"a convcalc.keras model has no torch module to run"):
        convcalc.verify(keras_model, (1, 8, 8, 3))


# --------------------------------------------------------------------------- #
# Errors, rules and the Graph spec
# --------------------------------------------------------------------------- #


class DataDependent(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Any) -> Any:
        if x.abs().sum() >= 0:  # always true, but torch.fx cannot know that
            return self.conv(x)
        return x


def test_untraceable_module_names_the_path_and_how_to_register() -> None:
    model = tnn.Sequential(OrderedDict(stem=tnn.Conv2d(3, 3, 1), gate=DataDependent()))
    with pytest.raises(SpecError) as info:
        convcalc.plan(model, (1, 3, 8, 8))
    message = str(info.value)
    assert message.startswith("gate (DataDependent): its forward branches on a tensor's values (a tensor of shape ())")
    assert "convcalc.register(DataDependent, lambda module: convcalc.nn.Sequential(...))" in message
    assert "torch cannot run it on meta tensors" in message
    assert message.endswith("module=DataDependent")
    assert type(info.value) is SpecError  # the reader's own signals never reach the user under their names


@pytest.mark.parametrize("symbolic", [False, True])
def test_a_model_torch_cannot_run_either_raises_a_plain_spec_error(symbolic: bool) -> None:
    size: Any = convcalc.symbols("H") if symbolic else 8
    for model in (DataDependent(), tnn.Sequential(DataDependent()), convcalc.from_torch(DataDependent())):
        with pytest.raises(SpecError) as info:
            convcalc.plan(model, (1, 3, size, size))
        assert type(info.value) is SpecError
        assert "DataDependent" in str(info.value)


def test_register_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_RULES", {})
    rule = lambda m: nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 3, 3, padding=1)))  # noqa: E731
    returned = convcalc.register(DataDependent, rule)
    assert callable(returned)
    model = tnn.Sequential(OrderedDict(stem=tnn.Conv2d(3, 3, 1), gate=DataDependent()))
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert [r.name for r in plan.rows] == ["stem", "gate.conv"]
    assert convcalc.verify(model, (1, 3, 8, 8), device="cpu").ok

    class Sub(DataDependent):
        pass

    assert convcalc.plan(Sub(), (1, 3, 8, 8)).rows[0].name == "conv"  # subclasses use the rule too

    @convcalc.register(MnistNet)
    def as_identity(module: Any) -> Any:
        return nn.Identity()

    assert as_identity(None) == nn.Identity()
    assert convcalc.plan(MnistNet(), (1, 1, 28, 28)).output_shape == (1, 1, 28, 28)


def test_register_rejects_bad_arguments_and_bad_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_RULES", {})
    with pytest.raises(SpecError, match=r"torch.nn.Module subclass.*Received: torch_type='Conv2d'"):
        convcalc.register("Conv2d", lambda m: nn.Identity())
    with pytest.raises(SpecError, match=r"a rule must be callable.*Received: rule=3"):
        convcalc.register(DataDependent, 3)  # type: ignore[arg-type]
    convcalc.register(DataDependent, lambda m: "not a model")
    with pytest.raises(
        SpecError,
        match=r"^<model> \(DataDependent\): the rule registered for DataDependent must "
        r"return a convcalc.nn model, not str\. Received: result='not a model'$",
    ):
        convcalc.plan(DataDependent(), (1, 3, 8, 8))
    convcalc.register(DataDependent, lambda m: 1 / 0)
    with pytest.raises(SpecError, match=r"the rule registered for DataDependent raised ZeroDivisionError"):
        convcalc.plan(DataDependent(), (1, 3, 8, 8))


def test_functional_conv_with_own_weight_is_read_by_the_conv_rule() -> None:
    class Functional(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = tnn.Parameter(torch.randn(4, 3, 3, 3))

        def forward(self, x: Any) -> Any:
            return F.conv2d(x, self.weight)

    model = tnn.Sequential(OrderedDict(body=Functional()))
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(1, 3, 8, 8)).shape)
    assert plan.total_params == 4 * 3 * 3 * 3
    assert plan.macs == 4 * 6 * 6 * 3 * 3 * 3  # by hand: 4 output channels x 6x6 positions x 3x3x3 window
    assert all(r.source == "rule" for r in plan.rows)


def test_residual_mismatch_suggests_a_projection() -> None:
    class NoProjection(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(64, 128, 3, stride=2, padding=1)

        def forward(self, x: Any) -> Any:
            return self.conv(x) + x

    with pytest.raises(ShapeError) as info:
        convcalc.plan(NoProjection(), (1, 64, 56, 56))
    assert str(info.value) == (
        "add (add): the operands have shapes (1, 128, 28, 28) and (1, 64, 56, 56), which do not broadcast: the "
        "channels differ (128 vs 64) and the sizes differ (28 x 28 vs 56 x 56); give the shortcut a projection "
        "such as Conv2d(64, 128, kernel_size=1, stride=2). Received: input_shape=(1, 128, 28, 28)"
    )


def test_linear_after_view_says_what_to_use() -> None:
    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(1, 8, 3)
            self.fc = tnn.Linear(100, 10)

        def forward(self, x: Any) -> Any:
            x = self.conv(x)
            return self.fc(x.view(x.size(0), -1))

    with pytest.raises(
        ShapeError,
        match=r"^fc \(Linear\): Linear\(in_features=100\) receives 200 features "
        r"\(Flatten of 8 x 5 x 5 = 200\): use in_features=200",
    ):
        convcalc.plan(Net(), (1, 1, 7, 7))


def test_linear_after_torch_flatten_or_a_reshape_to_more_axes() -> None:
    """The flatten a message names is read from the plan's rows: ``torch.flatten`` is one, a reshape that keeps
    three axes is not (the count it made is no flatten's)."""

    class Net(tnn.Module):
        def __init__(self, flat: bool) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(1, 8, 3)
            self.fc = tnn.Linear(100, 10)
            self.flat = flat

        def forward(self, x: Any) -> Any:
            x = self.conv(x)
            return self.fc(torch.flatten(x, 1) if self.flat else x.reshape(x.size(0), 8, 25))

    with pytest.raises(ShapeError) as info:
        convcalc.plan(Net(True), (1, 1, 7, 7))
    assert "receives 200 features (Flatten of 8 x 5 x 5 = 200): use in_features=200" in str(info.value)
    with pytest.raises(ShapeError) as info:
        convcalc.plan(Net(False), (1, 1, 7, 7))
    assert "receives 25 features: use in_features=25" in str(info.value)


def test_a_linear_after_a_linear_is_not_told_of_the_view_before() -> None:
    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(1, 8, 3)
            self.fc1 = tnn.Linear(200, 120)
            self.fc2 = tnn.Linear(100, 10)

        def forward(self, x: Any) -> Any:
            x = self.conv(x)
            return self.fc2(torch.relu(self.fc1(x.view(x.size(0), -1))))

    with pytest.raises(
        ShapeError, match=r"^fc2 \(Linear\): Linear\(in_features=100\) receives 120 features: use in_features=120\."
    ):
        convcalc.plan(Net(), (1, 1, 7, 7))


@pytest.mark.parametrize("flatten", ["view", "flatten", "nn.Flatten", "reshape"])
def test_a_flattening_view_is_solved_as_nn_flatten_is(flatten: str) -> None:
    """``x.view(x.size(0), -1)`` (the tutorials' LeNet) gives the features as a product, as nn.Flatten does: the
    solver finds the input sizes for the Linear's in_features either way."""

    class LeNet(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 6, 5), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.MaxPool2d(2)
            )
            self.flat = tnn.Flatten()
            self.fc = tnn.Linear(16 * 5 * 5, 10)

        def forward(self, x: Any) -> Any:
            x = self.features(x)
            if flatten == "view":
                x = x.view(x.size(0), -1)
            elif flatten == "reshape":
                x = x.reshape(-1, x.shape[1] * x.shape[2] * x.shape[3])
            elif flatten == "flatten":
                x = torch.flatten(x, 1)
            else:
                x = self.flat(x)
            return self.fc(x)

    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(LeNet(), (1, 1, H, W))
    if flatten != "reshape":  # (which states the product of the sizes itself)
        assert str(plan.constraints[-1].form) == "16*(floor(H/4) - 3)*(floor(W/4) - 3)"
    sizes = plan.valid_sizes()
    assert (32, 32) in sizes
    assert (28, 28) not in sizes
    for h, w in ((32, 32), (32, 35), (35, 33), (28, 28), (36, 32)):
        try:
            LeNet()(torch.zeros(1, 1, h, w))
            runs = True
        except RuntimeError:
            runs = False
        assert ((h, w) in sizes) == runs, (h, w)


def test_bad_view_is_a_shape_error() -> None:
    class Bad(tnn.Module):
        def forward(self, x: Any) -> Any:
            return x.view(x.size(0), 7, -1)

    with pytest.raises(ShapeError, match=r"^view \(view\): shape \(2, 7, -1\) is invalid for an input of 96 elements"):
        convcalc.plan(Bad(), (2, 3, 4, 4))


def test_from_torch_rejects_what_is_not_a_module() -> None:
    with pytest.raises(SpecError, match=r"^from_torch\(\) takes a torch.nn.Module\. Received: module=3$"):
        tb.from_torch(3)


class _TwoInput(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cnn = tnn.Sequential(tnn.Conv2d(3, 16, 5, stride=2), tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
        self.tab = tnn.Linear(12, 16)
        self.head = tnn.Linear(32, 1)

    def forward(self, image: Any, tabular: Any, scale: float = 1.0) -> Any:
        return self.head(torch.cat([self.cnn(image), self.tab(tabular)], dim=1)) * scale


_NOT_GIVEN = (
    "<model> (_TwoInput): forward takes 2 inputs (image, tabular), and optionally scale, but is given 1: give one "
    "shape per input, as a list in the forward's order, [shape of image, shape of tabular], or as a dict by name, "
    "{'image': shape, 'tabular': shape}. Received: missing=tabular"
)


@pytest.mark.parametrize("given", [(4, 3, 33, 33), [(4, 3, 33, 33)], {"image": (4, 3, 33, 33)}])
def test_a_forward_of_two_inputs_given_one_says_how_to_give_both(given: Any) -> None:
    """It said a plan follows one input tensor, and to register a rule: a list or a dict of shapes gives both."""
    with pytest.raises(SpecError) as refused:
        convcalc.plan(_TwoInput(), given)
    assert str(refused.value) == _NOT_GIVEN
    with pytest.raises(SpecError) as refused:
        convcalc.summary(_TwoInput(), input_size=(4, 3, 33, 33), verbose=0)
    assert str(refused.value) == _NOT_GIVEN
    assert convcalc.plan(_TwoInput(), [(4, 3, 33, 33), (4, 12)]).output_shape == (4, 1)
    assert convcalc.plan(_TwoInput(), {"image": (4, 3, 33, 33), "tabular": (4, 12)}).output_shape == (4, 1)


def test_a_misspelt_keyword_input_is_named_as_torch_names_it() -> None:
    """torch: TypeError: forward() got an unexpected keyword argument 'img' (before any input it misses)."""
    with pytest.raises(SpecError) as refused:
        convcalc.plan(_TwoInput(), {"img": (4, 3, 33, 33), "tabular": (4, 12)})
    assert str(refused.value) == (
        "<model> (_TwoInput): forward() got an unexpected keyword argument 'img' (torch: TypeError); it takes 2 "
        "inputs (image, tabular), and optionally scale: did you mean 'image'? Received: keywords=['img', 'tabular']"
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'img'"):
        _TwoInput()(img=torch.zeros(4, 3, 33, 33), tabular=torch.zeros(4, 12))


def test_more_inputs_than_a_forward_takes_are_refused_as_torch_refuses_them() -> None:
    """A third shape for forward(image, tabular, scale=1.0) fills scale; a fourth was dropped, where torch raises."""
    shapes = [(4, 3, 33, 33), (4, 12), (1,), (4, 7)]
    with pytest.raises(SpecError) as refused:
        convcalc.plan(_TwoInput(), shapes)
    assert str(refused.value) == (
        "<model> (_TwoInput): forward takes 2 inputs (image, tabular), and optionally scale, but is given 4 (torch: "
        "TypeError, too many positional arguments); give one shape per input. Received: inputs=4"
    )
    with pytest.raises(TypeError, match="takes from 3 to 4 positional arguments but 5 were given"):
        _TwoInput()(*[torch.zeros(s) for s in shapes])
    assert convcalc.plan(_TwoInput(), shapes[:3]).output_shape == (4, 1)


class _KeywordOnlyMask(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = tnn.Linear(4, 2)

    def forward(self, x: Any, *, mask: Any = None) -> Any:
        return self.fc(x if mask is None else x * mask)


def test_an_input_taken_by_name_only_is_not_filled_by_position() -> None:
    """forward(x, *, mask) given two shapes was planned with the second as the mask, where torch raises TypeError;
    given by name, it is the mask."""
    with pytest.raises(SpecError) as refused:
        convcalc.plan(_KeywordOnlyMask(), [(2, 4), (2, 4)])
    assert str(refused.value) == (
        "<model> (_KeywordOnlyMask): forward takes 1 input (x), and optionally mask, but is given 2 (torch: TypeError, "
        "too many positional arguments); give one shape per input. Received: inputs=2"
    )
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        _KeywordOnlyMask()(torch.zeros(2, 4), torch.zeros(2, 4))
    assert convcalc.plan(_KeywordOnlyMask(), {"x": (2, 4), "mask": (2, 4)}).output_shape == (2, 2)
    assert convcalc.plan(_KeywordOnlyMask(), (2, 4)).output_shape == (2, 2)


def test_a_forward_of_args_takes_any_number_of_inputs() -> None:
    class Summed(tnn.Module):
        def forward(self, *xs: Any) -> Any:
            return sum(xs)

    assert convcalc.plan(Summed(), [(2, 3)] * 3).output_shape == (2, 3)


def test_a_child_called_with_fewer_or_more_inputs_than_its_forward_takes() -> None:
    class Two(tnn.Module):
        def forward(self, x: Any, y: Any) -> Any:
            return x + y

    class Caller(tnn.Module):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count, self.two = count, Two()

        def forward(self, x: Any) -> Any:
            return self.two(*[x] * self.count)

    for count, said in (
        (1, "its caller gives 1 (torch: TypeError, missing 'y'). Received: missing=y"),
        (3, "its caller gives 3 (torch: TypeError, too many positional arguments). Received: inputs=3"),
    ):
        with pytest.raises(SpecError) as refused:
            convcalc.plan(Caller(count), (1, 3))
        assert str(refused.value) == f"two (Two): forward takes 2 inputs (x, y), but {said}"


def test_an_input_given_by_position_and_by_name_is_refused_as_torch_refuses_it() -> None:
    class Two(tnn.Module):
        def forward(self, x: Any, y: Any = None) -> Any:
            return x

    class Caller(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.two = Two()

        def forward(self, x: Any) -> Any:
            return self.two(x, x=x)

    with pytest.raises(SpecError) as refused:
        convcalc.plan(Caller(), (1, 3))
    assert str(refused.value) == (
        "two (Two): forward() got multiple values for 'x', by position and by name (torch: TypeError). "
        "Received: keywords=['x']"
    )
    with pytest.raises(TypeError, match="got multiple values for argument 'x'"):
        Caller()(torch.zeros(1, 3))


def test_graph_children_with_two_inputs_and_own_parameters() -> None:
    class Fuse(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tnn.Parameter(torch.ones(8, 1, 1))

        def forward(self, a: Any, b: Any) -> Any:
            return torch.cat([a, b], 1) * self.scale

    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.left = tnn.Conv2d(3, 4, 3, padding=1)
            self.right = tnn.Conv2d(3, 4, 1)
            self.fuse = Fuse()

        def forward(self, x: Any) -> Any:
            return self.fuse(self.left(x), self.right(x))

    plan = convcalc.plan(Net(), (1, 3, 6, 6))
    assert [r.name for r in plan.rows] == ["left", "right", "fuse.cat", "fuse.scale", "fuse.mul"]
    assert plan.row("fuse.scale").params == 8
    assert plan.row("fuse.scale").activations == 0
    assert plan.total_params == sum(p.numel() for p in Net().parameters())
    assert_plan_is_torch(plan, Net(), (1, 3, 6, 6))
    assert convcalc.verify(tb.from_torch(Net()), (1, 3, 6, 6), device="cpu").ok


def test_shape_keeping_torch_layers_without_a_spec() -> None:
    module = tnn.Sequential(
        tnn.Conv2d(3, 4, 3),
        tnn.PReLU(4),
        tnn.ELU(),
        tnn.Hardsigmoid(),
        tnn.Mish(),
        tnn.PixelShuffle(2),
        tnn.ChannelShuffle(1),
        tnn.Upsample(scale_factor=2),
    )
    plan = convcalc.plan(module, (1, 3, 8, 8))
    assert plan.row("1").kind == "PReLU"
    assert plan.row("1").params == 4
    assert plan.output_shape == (1, 1, 24, 24)
    assert_plan_is_torch(plan, module, (1, 3, 8, 8))
    assert tb.to_torch(tb.from_torch(module))[1].num_parameters == 4


def test_graph_repr_reads_like_code() -> None:
    text = repr(tb.from_torch(BasicBlock(4, 4)))
    assert text.startswith("Graph(BasicBlock,\n  (conv1): Conv2d(in_channels=4")
    assert "    add = iadd(bn2, x)\n    relu_1 = self.relu(add)\n    return relu_1\n)" in text


def test_a_chain_of_children_reads_as_sequential() -> None:
    spec = tb.from_torch(Stem())
    assert isinstance(spec, nn.Sequential)
    assert [name for name, _ in spec.children()] == ["conv", "bn", "act"]
    assert spec["act"].kind == "ELU"


def test_import_convcalc_does_not_import_torch() -> None:
    code = "import sys, convcalc; convcalc.verify; convcalc.from_torch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Doubled(torch.nn.Module):
    def forward(self, weight: Any) -> Any:
        return torch.cat([weight, weight], 0)


def test_an_unsafe_parametrization_of_a_layer_is_refused() -> None:
    """``unsafe=True`` lets a parametrization change a weight's shape: a Linear(5, 5) whose weight becomes
    10 x 5 returns 10 features, where its arguments say 5 (the plan said (3, 5) for torch's (3, 10))."""
    from torch.nn.utils import parametrize

    layer = torch.nn.Linear(5, 5, bias=False)
    parametrize.register_parametrization(layer, "weight", _Doubled(), unsafe=True)
    model = torch.nn.Sequential(layer, torch.nn.ReLU())
    assert tuple(model(torch.zeros(3, 5)).shape) == (3, 10)
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(model, (3, 5))
    assert str(info.value) == (
        "0 (ParametrizedLinear): its weight is computed by a parametrization registered with unsafe=True, which "
        "may give it another shape; convcalc takes the layer's shapes from its arguments. "
        "Received: unsafe parametrizations=['weight']"
    )


def test_an_unsafe_parametrization_of_a_tensor_a_forward_reads_is_followed() -> None:
    """A module's own parameter, parametrized to another shape and read by its forward, has the shape torch
    computes for it."""
    from torch.nn.utils import parametrize

    class Project(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(5, 5))

        def forward(self, x: Any) -> Any:
            return x @ self.w.t()

    model = Project()
    parametrize.register_parametrization(model, "w", _Doubled(), unsafe=True)
    assert convcalc.plan(model, (3, 5)).output_shape == tuple(model(torch.zeros(3, 5)).shape) == (3, 10)


def test_to_torch_refuses_a_sequential_that_torch_would_run_otherwise() -> None:
    """An LSTM before another layer hands torch's Sequential its whole tuple, attention takes three tensors: no
    torch.nn.Sequential runs as the plan says. Last, an LSTM returns the tuple whose first output is the plan's."""
    with pytest.raises(SpecError, match=r"^0 \(LSTM\): torch's LSTM inside a torch.nn.Sequential"):
        convcalc.nn.Sequential(convcalc.nn.LSTM(8, 6), convcalc.nn.Linear(6, 2)).to_torch()
    with pytest.raises(SpecError, match=r"^1 \(MultiheadAttention\): "):
        convcalc.nn.Sequential(convcalc.nn.Linear(8, 8), convcalc.nn.MultiheadAttention(8, 2)).to_torch()
    last = convcalc.nn.Sequential(convcalc.nn.Linear(4, 8), convcalc.nn.LSTM(8, 6, batch_first=True))
    assert convcalc.verify(last, (2, 3, 4), device="cpu").ok
