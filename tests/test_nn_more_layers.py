"""The shape-keeping layers, norm arguments and lazy layers of ``convcalc.nn`` checked against torch's own.

Each spec is compared with the torch layer of the same name: the shape it gives, its parameters (with the
trainable split) and buffers, the arguments torch refuses, and the inputs torch refuses. Lazy layers are run
once in torch on a real tensor, which materialises them, and compared with the plan.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import convcalc
from convcalc import nn
from convcalc import torch_bridge as tb

tnn = torch.nn


def _torch_out(module: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape ``module`` gives for a random input of ``shape`` (in eval mode), or None when torch refuses."""
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return tuple(module(torch.randn(*shape)).shape)
    except Exception:  # torch's refusals are of several types (RuntimeError, ValueError, IndexError)
        return None


def _counts(module: Any) -> tuple[int, int, int]:
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return trainable, frozen, sum(b.numel() for b in module.buffers())


def _plan_row(spec: nn.Module, shape: tuple[int, ...]) -> Any:
    """The plan's one row, or None when convcalc refuses the input."""
    try:
        return convcalc.plan(spec, shape).rows[0]
    except convcalc.ConvCalcError:
        return None


def _read(module: Any) -> nn.Module:
    """The spec the bridge reads ``module`` into; a norm without affine parameters has no bias either (torch's
    ``bias`` attribute is then None, read as ``bias=False``): given as torch's default, ``bias=True``."""
    spec = tb.from_torch(module)
    if getattr(spec, "affine", True) is False:
        spec = dataclasses.replace(spec, bias=True)  # type: ignore[type-var]
    return spec


def _agrees(spec: nn.Module, module: Any, shape: tuple[int, ...]) -> None:
    """The plan refuses ``shape`` exactly when torch does, and otherwise gives torch's shape and counts."""
    expected = _torch_out(module, shape)
    row = _plan_row(spec, shape)
    assert (row is None) == (expected is None), (spec, shape, expected)
    if row is not None:
        assert row.output_shape == expected
        assert (row.trainable, row.non_trainable, row.buffers) == _counts(module)


# --------------------------------------------------------------------------- #
# Every new spec: the same shape and counts as torch's layer, and the bridge maps one to the other
# --------------------------------------------------------------------------- #

LAYERS: list[tuple[nn.Module, Any, tuple[int, ...]]] = [
    (nn.ELU(alpha=0.5), tnn.ELU(alpha=0.5), (2, 3, 4)),
    (nn.CELU(2.0), tnn.CELU(2.0), (2, 3)),
    (nn.SELU(), tnn.SELU(), (5,)),
    (nn.Mish(), tnn.Mish(), (2, 3, 4, 5)),
    (nn.Hardsigmoid(), tnn.Hardsigmoid(), (2, 3)),
    (nn.Hardtanh(-2.0, 2.0), tnn.Hardtanh(-2.0, 2.0), (2, 3)),
    (nn.RReLU(0.1, 0.3), tnn.RReLU(0.1, 0.3), (2, 3)),
    (nn.Hardshrink(0.2), tnn.Hardshrink(0.2), (2, 3)),
    (nn.Softshrink(0.2), tnn.Softshrink(0.2), (2, 3)),
    (nn.Softplus(beta=2.0, threshold=10.0), tnn.Softplus(beta=2.0, threshold=10.0), (2, 3)),
    (nn.Threshold(0.1, 20.0), tnn.Threshold(0.1, 20.0), (2, 3)),
    (nn.Softsign(), tnn.Softsign(), (2, 3)),
    (nn.Tanhshrink(), tnn.Tanhshrink(), (2, 3)),
    (nn.LogSigmoid(), tnn.LogSigmoid(), (2, 3)),
    (nn.Softmin(dim=1), tnn.Softmin(dim=1), (2, 3)),
    (nn.LogSoftmax(dim=-1), tnn.LogSoftmax(dim=-1), (2, 3)),
    (nn.Softmax2d(), tnn.Softmax2d(), (2, 3, 4, 5)),
    (nn.Softmax2d(), tnn.Softmax2d(), (3, 4, 5)),
    (nn.PReLU(), tnn.PReLU(), (2, 3, 4)),
    (nn.PReLU(3, init=0.1), tnn.PReLU(3, init=0.1), (2, 3, 4)),
    (nn.Dropout1d(0.2), tnn.Dropout1d(0.2), (2, 3, 4)),
    (nn.Dropout1d(), tnn.Dropout1d(), (3, 4)),
    (nn.Dropout3d(), tnn.Dropout3d(), (2, 3, 4, 4, 4)),
    (nn.AlphaDropout(0.1), tnn.AlphaDropout(0.1), (2, 3)),
    (nn.FeatureAlphaDropout(0.1), tnn.FeatureAlphaDropout(0.1), (2, 3, 4)),
    (nn.ChannelShuffle(2), tnn.ChannelShuffle(2), (2, 6, 3, 3)),
    (nn.ChannelShuffle(3), tnn.ChannelShuffle(3), (2, 6, 3)),
    (nn.InstanceNorm1d(3), tnn.InstanceNorm1d(3), (2, 3, 5)),
    (nn.InstanceNorm1d(3, affine=True), tnn.InstanceNorm1d(3, affine=True), (3, 5)),
    (nn.InstanceNorm3d(3, track_running_stats=True), tnn.InstanceNorm3d(3, track_running_stats=True), (3, 2, 2, 2)),
    (nn.RMSNorm((4, 5)), tnn.RMSNorm((4, 5)), (2, 3, 4, 5)),
    (nn.RMSNorm((5,), 1e-6, False), tnn.RMSNorm(5, eps=1e-6, elementwise_affine=False), (2, 5)),
    (nn.LocalResponseNorm(3, alpha=0.5), tnn.LocalResponseNorm(3, alpha=0.5), (2, 6, 4)),
    (nn.CrossMapLRN2d(3), tnn.CrossMapLRN2d(3), (2, 6, 4, 4)),
]


@pytest.mark.parametrize(("spec", "module", "shape"), LAYERS, ids=[f"{s.kind}-{len(x)}d" for s, _, x in LAYERS])
def test_a_new_layer_plans_as_torch_runs_it(spec: nn.Module, module: Any, shape: tuple[int, ...]) -> None:
    _agrees(spec, module, shape)
    assert _read(module) == spec  # the bridge reads the torch layer into this spec
    assert type(spec.to_torch()) is type(module)
    assert convcalc.plan(module, shape).rows[0].kind == spec.kind


def test_every_shape_keeping_torch_layer_has_a_spec() -> None:
    """The torch.nn layers that keep their input's shape, all with a convcalc.nn spec of the same name."""
    keeping = [
        "ELU", "CELU", "SELU", "Mish", "Hardsigmoid", "Hardtanh", "RReLU", "Hardshrink", "Softshrink",
        "Softplus", "Threshold", "Softsign", "Tanhshrink", "LogSigmoid", "Softmin", "LogSoftmax", "Softmax2d",
        "PReLU", "Dropout1d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "ChannelShuffle",
        "InstanceNorm1d", "InstanceNorm3d", "RMSNorm", "LocalResponseNorm", "CrossMapLRN2d",
    ]  # fmt: skip
    assert [name for name in keeping if not hasattr(tnn, name) or name not in nn.__all__] == []


# --------------------------------------------------------------------------- #
# Arguments torch refuses (at construction, or at every call whatever the input): each message whole
# --------------------------------------------------------------------------- #

ARGUMENT_ERRORS = [
    (
        lambda: nn.CELU(0),
        "alpha cannot be 0 for CELU (torch raises ZeroDivisionError when it is called): use a nonzero alpha, such "
        "as the default 1.0. Received: alpha=0, inplace=False",
    ),
    (
        lambda: nn.Hardtanh(1.0, 1.0),
        "max_val (1.0) must be greater than min_val (1.0), as torch asserts: make the range wider than one point. "
        "Received: min_val=1.0, max_val=1.0, inplace=False, min_value=None, max_value=None",
    ),
    (
        lambda: nn.Hardtanh(max_value=-2.0),
        "max_val (-2.0) must be greater than min_val (-1.0), as torch asserts: swap them. Received: min_val=-1.0, "
        "max_val=1.0, inplace=False, min_value=None, max_value=-2.0",
    ),
    (
        lambda: nn.Hardtanh("a"),
        "min_val must be a number. Received: min_val='a', max_val=1.0, inplace=False, min_value=None, max_value=None",
    ),
    (
        lambda: nn.RReLU(0.5, 0.1),
        "the lower bound must be at most the upper bound (torch refuses it when called): swap lower and upper. "
        "Received: lower=0.5, upper=0.1, inplace=False",
    ),
    (
        lambda: nn.Softshrink(-0.5),
        "lambd must be at least 0 for Softshrink (torch refuses it when called): use 0.5. Received: lambd=-0.5",
    ),
    (lambda: nn.PReLU(-1), "num_parameters must be at least 0. Received: num_parameters=-1"),
    (lambda: nn.PReLU(2.0), "num_parameters must be an integer. Received: num_parameters=2.0"),
    (lambda: nn.ChannelShuffle(0), "groups must be at least 1. Received: groups=0"),
    (lambda: nn.LocalResponseNorm(0), "size must be at least 1. Received: size=0"),
    (lambda: nn.AlphaDropout(1.5), "dropout probability has to be between 0 and 1. Received: p=1.5"),
    (lambda: nn.Dropout1d(-0.1), "dropout probability has to be between 0 and 1. Received: p=-0.1"),
    (
        lambda: nn.BatchNorm2d(4, bias=1),
        "bias must be True or False. Received: num_features=4, eps=1e-05, momentum=0.1, affine=True, "
        "track_running_stats=True, bias=1",
    ),
    (
        lambda: nn.GroupNorm(2, 4, bias="no"),
        "bias must be True or False. Received: num_groups=2, num_channels=4, eps=1e-05, affine=True, bias='no'",
    ),
    (lambda: nn.InstanceNorm1d(0), "num_features must be at least 1. Received: num_features=0"),
    (
        lambda: nn.RMSNorm((), device="cpu"),
        "normalized_shape must not be empty. Received: normalized_shape=(), eps=None, elementwise_affine=True",
    ),
    (
        lambda: nn.LazyConv1d(5, 3, groups=2),
        "out_channels must be divisible by groups: 5 % 2 = 1; groups that divide out_channels: 1, 5. Received: "
        "out_channels=5, kernel_size=3, stride=1, "
        "padding=0, dilation=1, groups=2, bias=True, padding_mode='zeros'",
    ),
    (
        lambda: nn.LazyConvTranspose2d(4, 3, padding_mode="reflect"),
        'Only "zeros" padding mode is supported for ConvTranspose2d. Received: out_channels=4, kernel_size=3, '
        "stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, padding_mode='reflect'",
    ),
    (
        lambda: nn.LazyBatchNorm1d(affine="yes"),
        "affine must be True or False. Received: eps=1e-05, momentum=0.1, affine='yes', track_running_stats=True",
    ),
]


@pytest.mark.parametrize(("build", "message"), ARGUMENT_ERRORS, ids=[str(i) for i in range(len(ARGUMENT_ERRORS))])
def test_an_argument_torch_refuses_is_named_with_every_value(build: Any, message: str) -> None:
    with pytest.raises(convcalc.SpecError) as info:
        build()
    assert str(info.value) == message


def test_torch_refuses_those_arguments_too() -> None:
    for make, shape in [
        (lambda: tnn.CELU(0), (2, 3)),
        (lambda: tnn.Hardtanh(1.0, 1.0), (2, 3)),
        (lambda: tnn.RReLU(0.5, 0.1), (2, 3)),
        (lambda: tnn.Softshrink(-0.5), (2, 3)),
        (lambda: tnn.PReLU(-1), (2, 3)),
        (lambda: tnn.ChannelShuffle(0), (2, 4, 3)),
        (lambda: tnn.LocalResponseNorm(0), (2, 4, 3)),
        (lambda: tnn.AlphaDropout(1.5), (2, 3)),
    ]:
        try:
            module = make()
        except Exception:  # refused at construction
            continue
        assert _torch_out(module, shape) is None, module


# --------------------------------------------------------------------------- #
# Inputs torch refuses: the plan refuses them, naming the layer and the input
# --------------------------------------------------------------------------- #

INPUT_ERRORS: list[tuple[nn.Module, Any, tuple[int, ...], str]] = [
    (
        nn.PReLU(8),
        tnn.PReLU(8),
        (2, 3, 5),
        "<model> (PReLU): num_parameters=8 but the input has 3 channels on axis 1: use num_parameters=3, or 1 for "
        "one slope shared by all. Received: input_shape=(2, 3, 5)",
    ),
    (
        nn.PReLU(3),
        tnn.PReLU(3),
        (3,),
        "<model> (PReLU): num_parameters=3 but the input has 1 channel (a 1-D input has one): use num_parameters=1. "
        "Received: input_shape=(3,)",
    ),
    (
        nn.ChannelShuffle(4),
        tnn.ChannelShuffle(4),
        (1, 6, 4),
        "<model> (ChannelShuffle): the input's 6 channels do not divide into groups=4: use groups=1, 2, 3 or 6. "
        "Received: input_shape=(1, 6, 4)",
    ),
    (
        nn.ChannelShuffle(2),
        tnn.ChannelShuffle(2),
        (2, 4),
        "<model> (ChannelShuffle): expects an input of 3 or more dims (N, C, *), but receives 2-D (2, 4). "
        "Received: input_shape=(2, 4)",
    ),
    (
        nn.Dropout1d(),
        tnn.Dropout1d(),
        (2, 3, 4, 4),
        "<model> (Dropout1d): expects a 2-D (C, L) or 3-D (N, C, L) input (torch's dropout1d), but receives 4-D "
        "(2, 3, 4, 4): use Dropout for other ranks. Received: input_shape=(2, 3, 4, 4)",
    ),
    (
        nn.Softmax2d(),
        tnn.Softmax2d(),
        (2, 3),
        "<model> (Softmax2d): expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, but receives 2-D (2, 3). "
        "Received: input_shape=(2, 3)",
    ),
    (
        nn.Softmin(dim=2),
        tnn.Softmin(dim=2),
        (2, 3),
        "<model> (Softmin): dim=2 is out of range for a 2-D input: use a dim from -2 to 1. Received: input_shape=(2, 3)",
    ),
    (
        nn.LocalResponseNorm(2),
        tnn.LocalResponseNorm(2),
        (2, 3),
        "<model> (LocalResponseNorm): expects an input of 3 or more dims (N, C, *), but receives 2-D (2, 3). "
        "Received: input_shape=(2, 3)",
    ),
    (
        nn.CrossMapLRN2d(2),
        tnn.CrossMapLRN2d(2),
        (2, 3, 4),
        "<model> (CrossMapLRN2d): expects an input of exactly 4 dims (N, C, *), but receives 3-D (2, 3, 4). "
        "Received: input_shape=(2, 3, 4)",
    ),
    (
        nn.InstanceNorm1d(3),
        tnn.InstanceNorm1d(3),
        (2, 3, 4, 4),
        "<model> (InstanceNorm1d): expects (N, C, L) or (C, L). Received: input_shape=(2, 3, 4, 4)",
    ),
    (
        nn.InstanceNorm3d(4, affine=True),
        tnn.InstanceNorm3d(4, affine=True),
        (3, 2, 2, 2),
        "<model> (InstanceNorm3d): num_features=4 but the input has 3 channels: use num_features=3 (or give an "
        "input of 4 channels). Received: input_shape=(3, 2, 2, 2)",
    ),
    (
        nn.InstanceNorm1d(3),
        tnn.InstanceNorm1d(3),
        (2, 3, 1),
        "<model> (InstanceNorm1d): expects more than 1 spatial element, or none (torch's check when it computes each sample's "
        "statistics). The smallest network input that fits every layer: input_shape=(2, 3, 2). Received: input_shape=(2, 3, 1)",
    ),
    (
        nn.RMSNorm(4),
        tnn.RMSNorm(4),
        (2, 5),
        "<model> (RMSNorm): normalized_shape=(4,) must match the last dims of the input (2, 5): use "
        "normalized_shape=(5,). Received: input_shape=(2, 5)",
    ),
]


@pytest.mark.parametrize(
    ("spec", "module", "shape", "message"), INPUT_ERRORS, ids=[str(i) for i in range(len(INPUT_ERRORS))]
)
def test_an_input_torch_refuses_is_refused_by_name(spec: nn.Module, module: Any, shape: Any, message: str) -> None:
    assert _torch_out(module, shape) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(spec, shape)
    assert str(info.value) == message


# --------------------------------------------------------------------------- #
# bias= on the norms, device= and dtype= wherever torch takes them
# --------------------------------------------------------------------------- #

NORMS = {
    "BatchNorm1d": ((2, 3, 5), lambda **kw: (nn.BatchNorm1d(3, **kw), tnn.BatchNorm1d(3, **kw))),
    "BatchNorm2d": ((2, 3, 4, 4), lambda **kw: (nn.BatchNorm2d(3, **kw), tnn.BatchNorm2d(3, **kw))),
    "BatchNorm3d": ((2, 3, 2, 2, 2), lambda **kw: (nn.BatchNorm3d(3, **kw), tnn.BatchNorm3d(3, **kw))),
    "InstanceNorm1d": ((2, 3, 5), lambda **kw: (nn.InstanceNorm1d(3, **kw), tnn.InstanceNorm1d(3, **kw))),
    "InstanceNorm2d": ((3, 4, 4), lambda **kw: (nn.InstanceNorm2d(3, **kw), tnn.InstanceNorm2d(3, **kw))),
    "InstanceNorm3d": ((2, 3, 2, 2, 2), lambda **kw: (nn.InstanceNorm3d(3, **kw), tnn.InstanceNorm3d(3, **kw))),
}


@given(
    name=st.sampled_from(sorted(NORMS)),
    affine=st.booleans(),
    bias=st.booleans(),
    track=st.booleans(),
)
def test_norm_bias_counts_as_torch_counts(name: str, affine: bool, bias: bool, track: bool) -> None:
    shape, make = NORMS[name]
    spec, module = make(affine=affine, bias=bias, track_running_stats=track)
    _agrees(spec, module, shape)
    assert _read(module) == (spec if affine else dataclasses.replace(spec, bias=True))


@given(
    name=st.sampled_from(sorted(NORMS)),
    affine=st.booleans(),
    track=st.booleans(),
    features=st.integers(1, 5),
    channels=st.integers(1, 5),
)
def test_a_norm_refuses_another_channel_count_exactly_when_torch_does(
    name: str, affine: bool, track: bool, features: int, channels: int
) -> None:
    # torch checks the channels against what it holds per channel (weight, bias, running statistics): a batch
    # norm without either takes any count (convcalc refused it)
    shape = list(NORMS[name][0])
    shape[shape.index(3)] = channels  # the channel axis (an unbatched instance norm's first)
    spec = getattr(nn, name)(features, affine=affine, track_running_stats=track)
    module = getattr(tnn, name)(features, affine=affine, track_running_stats=track)
    _agrees(spec, module, tuple(shape))


@given(affine=st.booleans(), bias=st.booleans(), groups=st.sampled_from([1, 2, 4]))
def test_group_norm_bias_counts_as_torch_counts(affine: bool, bias: bool, groups: int) -> None:
    spec = nn.GroupNorm(groups, 4, affine=affine, bias=bias)
    _agrees(spec, tnn.GroupNorm(groups, 4, affine=affine, bias=bias), (2, 4, 3))


def test_layer_norm_bias_counts_as_torch_counts() -> None:
    for affine in (True, False):
        for bias in (True, False):
            _agrees(nn.LayerNorm(5, 1e-5, affine, bias), tnn.LayerNorm(5, 1e-5, affine, bias), (2, 5))


FACTORY = [
    (lambda **kw: nn.Conv1d(3, 4, 3, **kw), lambda **kw: tnn.Conv1d(3, 4, 3, **kw), (1, 3, 8)),
    (lambda **kw: nn.Conv2d(3, 4, 3, **kw), lambda **kw: tnn.Conv2d(3, 4, 3, **kw), (1, 3, 8, 8)),
    (lambda **kw: nn.Conv3d(3, 4, 3, **kw), lambda **kw: tnn.Conv3d(3, 4, 3, **kw), (1, 3, 4, 4, 4)),
    (lambda **kw: nn.ConvTranspose1d(3, 4, 3, **kw), lambda **kw: tnn.ConvTranspose1d(3, 4, 3, **kw), (1, 3, 8)),
    (
        lambda **kw: nn.ConvTranspose2d(3, 4, 3, **kw),
        lambda **kw: tnn.ConvTranspose2d(3, 4, 3, **kw),
        (1, 3, 5, 5),
    ),
    (
        lambda **kw: nn.ConvTranspose3d(3, 4, 3, **kw),
        lambda **kw: tnn.ConvTranspose3d(3, 4, 3, **kw),
        (1, 3, 3, 3, 3),
    ),
    (lambda **kw: nn.LazyConv1d(4, 3, **kw), lambda **kw: tnn.LazyConv1d(4, 3, **kw), (1, 3, 8)),
    (lambda **kw: nn.LazyConv2d(4, 3, **kw), lambda **kw: tnn.LazyConv2d(4, 3, **kw), (1, 3, 8, 8)),
    (lambda **kw: nn.LazyConvTranspose3d(4, 3, **kw), lambda **kw: tnn.LazyConvTranspose3d(4, 3, **kw), (3, 3, 3, 3)),
    (lambda **kw: nn.Linear(3, 4, **kw), lambda **kw: tnn.Linear(3, 4, **kw), (2, 3)),
    (lambda **kw: nn.LazyLinear(4, **kw), lambda **kw: tnn.LazyLinear(4, **kw), (2, 3)),
    (lambda **kw: nn.BatchNorm2d(3, **kw), lambda **kw: tnn.BatchNorm2d(3, **kw), (2, 3, 4, 4)),
    (lambda **kw: nn.LazyBatchNorm3d(**kw), lambda **kw: tnn.LazyBatchNorm3d(**kw), (2, 3, 2, 2, 2)),
    (lambda **kw: nn.InstanceNorm1d(3, **kw), lambda **kw: tnn.InstanceNorm1d(3, **kw), (2, 3, 4)),
    (lambda **kw: nn.LazyInstanceNorm2d(**kw), lambda **kw: tnn.LazyInstanceNorm2d(**kw), (2, 3, 4, 4)),
    (lambda **kw: nn.GroupNorm(1, 3, **kw), lambda **kw: tnn.GroupNorm(1, 3, **kw), (2, 3, 4)),
    (lambda **kw: nn.LayerNorm(4, **kw), lambda **kw: tnn.LayerNorm(4, **kw), (2, 4)),
    (lambda **kw: nn.RMSNorm(4, **kw), lambda **kw: tnn.RMSNorm(4, **kw), (2, 4)),
    (lambda **kw: nn.PReLU(3, **kw), lambda **kw: tnn.PReLU(3, **kw), (2, 3)),
]


@pytest.mark.parametrize(("spec", "module", "shape"), FACTORY, ids=[str(i) for i in range(len(FACTORY))])
def test_device_and_dtype_change_nothing_planned(spec: Any, module: Any, shape: tuple[int, ...]) -> None:
    kwargs = {"device": "cpu", "dtype": torch.float64}
    typed = spec(**kwargs)
    assert typed == spec()
    assert repr(typed) == repr(spec())
    row = convcalc.plan(typed, shape).rows[0]
    assert row == convcalc.plan(spec(), shape).rows[0]
    built = module(**kwargs)
    built(torch.zeros(shape, dtype=torch.float64))  # (materialises a lazy layer)
    assert row.params == sum(p.numel() for p in built.parameters())
    # to_torch passes them on
    assert all(p.dtype == torch.float64 for p in typed.to_torch().parameters() if not _uninitialised(p))


def _uninitialised(tensor: Any) -> bool:
    return isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin)


def test_device_and_dtype_keep_torch_s_positions() -> None:
    """torch takes them positionally after the other arguments; bias on the norms is keyword-only."""
    assert nn.Conv2d(3, 4, 3, 1, 0, 1, 1, True, "zeros", "cpu", torch.float64).dtype == torch.float64
    assert nn.BatchNorm2d(3, 1e-5, 0.1, True, True, "cpu", torch.float64).dtype == torch.float64
    assert nn.Linear(3, 4, True, "cpu", torch.float64).device == "cpu"
    assert nn.PReLU(1, 0.25, "cpu").device == "cpu"
    with pytest.raises((TypeError, convcalc.SpecError), match="positional"):
        nn.BatchNorm2d(3, 1e-5, 0.1, True, True, None, None, False)  # type: ignore[misc]


# --------------------------------------------------------------------------- #
# PReLU and ChannelShuffle against torch, drawn
# --------------------------------------------------------------------------- #


@given(
    rank=st.integers(1, 4),
    channels=st.integers(1, 5),
    num_parameters=st.integers(0, 5),
)
def test_prelu_refuses_what_torch_refuses(rank: int, channels: int, num_parameters: int) -> None:
    shape = (2, channels, 3, 2)[:rank] if rank > 1 else (channels,)
    _agrees(nn.PReLU(num_parameters), tnn.PReLU(num_parameters), shape)


@given(rank=st.integers(1, 5), channels=st.integers(1, 12), groups=st.integers(1, 6))
def test_channel_shuffle_refuses_what_torch_refuses(rank: int, channels: int, groups: int) -> None:
    shape = (2, channels, 3, 2, 2)[:rank]
    _agrees(nn.ChannelShuffle(groups), tnn.ChannelShuffle(groups), shape)


@given(rank=st.integers(1, 6), kind=st.sampled_from(["Dropout1d", "Dropout3d", "Softmax2d", "LocalResponseNorm"]))
def test_rank_rules_are_torch_s(rank: int, kind: str) -> None:
    shape = (2, 3, 4, 2, 2, 2)[:rank]
    args = (2,) if kind == "LocalResponseNorm" else ()
    _agrees(getattr(nn, kind)(*args), getattr(tnn, kind)(*args), shape)


# --------------------------------------------------------------------------- #
# Lazy layers: torch materialises them on a real tensor; the plan reads the same channel count
# --------------------------------------------------------------------------- #


@st.composite
def lazy_convs(draw: st.DrawFn) -> tuple[str, dict[str, Any], tuple[int, ...]]:
    ndim = draw(st.integers(1, 3))
    transpose = draw(st.booleans())
    groups = draw(st.sampled_from([1, 2]))
    kwargs: dict[str, Any] = {
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": draw(st.integers(1, 3)),
        "stride": draw(st.integers(1, 2)),
        "padding": draw(st.integers(0, 1)),
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    if not transpose and draw(st.booleans()):
        kwargs["padding_mode"] = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    channels = draw(st.integers(1, 4))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    batched = draw(st.booleans())
    shape = ((2,) if batched else ()) + (channels, *sizes)
    return f"LazyConv{'Transpose' if transpose else ''}{ndim}d", kwargs, shape


@given(lazy_convs())
def test_lazy_convolutions_materialise_as_torch_s(case: tuple[str, dict[str, Any], tuple[int, ...]]) -> None:
    name, kwargs, shape = case
    nd = int(name[-2])
    if "Transpose" in name:  # an empty output: torch refuses it for one sample ("Output size is too small") and
        # returns an empty tensor for a batch of two or more (another kernel); convcalc refuses it for any batch
        assume(
            all((i - 1) * kwargs["stride"] - 2 * kwargs["padding"] + kwargs["kernel_size"] >= 1 for i in shape[-nd:])
        )
    _agrees(getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs), shape)


@given(
    name=st.sampled_from(
        ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d"] + [f"LazyInstanceNorm{n}d" for n in (1, 2, 3)]
    ),
    rank=st.integers(1, 5),
    sizes=st.tuples(*[st.integers(1, 4)] * 5),
    affine=st.booleans(),
    track=st.booleans(),
    bias=st.booleans(),
)
def test_lazy_norms_materialise_as_torch_s(
    name: str, rank: int, sizes: tuple[int, ...], affine: bool, track: bool, bias: bool
) -> None:
    """torch reads num_features from axis 1, batched or not (an unbatched instance norm's axis 1 is a
    spatial one: torch then refuses channels that differ from it where it checks them)."""
    kwargs = {"affine": affine, "track_running_stats": track, "bias": bias}
    _agrees(getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs), sizes[:rank])


def test_lazy_layers_take_torch_s_defaults() -> None:
    for name in ("LazyBatchNorm2d", "LazyInstanceNorm2d"):
        module = getattr(tnn, name)()
        spec = getattr(nn, name)()
        assert (spec.eps, spec.momentum, spec.affine, spec.track_running_stats, spec.bias) == (
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            True,
        )
    assert nn.LazyInstanceNorm1d().materialize(4) == nn.InstanceNorm1d(4, affine=True, track_running_stats=True)
    assert nn.LazyConvTranspose1d(4, 3, groups=2).materialize(6) == nn.ConvTranspose1d(6, 4, 3, groups=2)


LAZY_ERRORS = [
    (
        nn.LazyConv1d(4, 3, groups=2),
        (2, 3, 8),
        "<model> (LazyConv1d): 3 input channels do not divide into groups=2. Received: input_shape=(2, 3, 8)",
    ),
    (
        nn.LazyConvTranspose3d(4, 3),
        (2, 3, 8),
        "<model> (LazyConvTranspose3d): expects a 5-D input (N, C, D, H, W) or an unbatched 4-D one, but receives "
        "3-D (2, 3, 8). Received: input_shape=(2, 3, 8)",
    ),
    (
        nn.LazyConv1d(4, 5),
        (2, 3, 4),
        "<model> (LazyConv1d): the kernel spans 5 but the padded input is 4 + 0 = 4 on spatial axis 0; the input to "
        "this layer must be at least 5 there. The smallest network input that fits every layer: input_shape=(2, 3, 5). Received: input_shape=(2, 3, 4)",
    ),
    (
        nn.LazyBatchNorm2d(),
        (2, 3, 4),
        "<model> (LazyBatchNorm2d): expects 4-D input, got 3-D (2, 3, 4). Received: input_shape=(2, 3, 4)",
    ),
    (
        nn.LazyBatchNorm1d(),
        (3,),
        "<model> (LazyBatchNorm1d): expects 2-D or 3-D input, got 1-D (3,). Received: input_shape=(3,)",
    ),
    (
        nn.LazyInstanceNorm1d(),
        (3, 5),
        "<model> (LazyInstanceNorm1d): torch reads num_features from axis 1 even of an unbatched input, so it takes "
        "5 here, but the input has 3 channels on axis 0 (torch raises when it checks them): give the input a batch "
        "axis, (1, 3, 5), or use InstanceNorm1d(3). Received: input_shape=(3, 5)",
    ),
]


@pytest.mark.parametrize(("spec", "shape", "message"), LAZY_ERRORS, ids=[str(i) for i in range(len(LAZY_ERRORS))])
def test_a_lazy_layer_s_errors_name_it(spec: nn.Module, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(spec, shape)
    assert str(info.value) == message


def test_a_lazy_layer_at_the_root_and_nested_is_named_as_written() -> None:
    assert convcalc.plan(nn.LazyConv1d(4, 3), (2, 3, 8)).rows[0].name == "LazyConv1d"
    plan = convcalc.plan(nn.Sequential(nn.LazyConv1d(4, 3), nn.LazyBatchNorm1d()), (2, 3, 8))
    assert [(r.name, r.kind) for r in plan.rows] == [("0", "LazyConv1d"), ("1", "LazyBatchNorm1d")]


def test_a_lazy_channel_count_must_be_a_number() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"takes its channel count from axis 1 of the input, which must"):
        convcalc.plan(nn.LazyConv2d(4, 3), (1, convcalc.symbols("C"), 8, 8))


def test_a_torch_model_of_uninitialised_lazy_layers_plans_through_the_bridge() -> None:
    module = tnn.Sequential(tnn.LazyConv1d(4, 3), tnn.LazyBatchNorm1d())
    plan = convcalc.plan(module, (2, 3, 10))
    assert [r.kind for r in plan.rows] == ["LazyConv1d", "LazyBatchNorm1d"]
    assert plan.output_shape == (2, 4, 8)
    module(torch.zeros(2, 3, 10))  # torch materialises them now
    assert plan.total_params == sum(p.numel() for p in module.parameters()) == 4 * 3 * 3 + 4 + 8
    assert [r.buffers for r in plan.rows] == [0, 9]


@pytest.mark.parametrize(
    ("name", "output_size", "shape"),
    [
        ("AdaptiveAvgPool1d", None, (1, 2, 5)),
        ("AdaptiveMaxPool1d", (None,), (1, 2, 5)),
        ("AdaptiveAvgPool2d", None, (1, 2, 5, 6)),
        ("AdaptiveMaxPool3d", None, (1, 2, 5, 6, 7)),
        ("AdaptiveAvgPool2d", (None, 3), (1, 2, 5, 6)),
        ("AdaptiveMaxPool3d", (None, 3, None), (1, 2, 5, 6, 7)),
    ],
)
def test_an_adaptive_pool_keeps_an_axis_with_none_where_torch_does(name: str, output_size: Any, shape: Any) -> None:
    # None keeps an axis inside a tuple of a 2-D or 3-D pool; a 1-D pool and a bare None are torch TypeErrors
    # (convcalc planned them, keeping every axis)
    try:
        expected = _torch_out(getattr(tnn, name)(output_size), shape)
    except TypeError:
        expected = None
    if expected is None:
        with pytest.raises(convcalc.SpecError, match=rf"^output_size must be an int.*, as torch's {name} takes it"):
            getattr(nn, name)(output_size)
    else:
        assert convcalc.plan(getattr(nn, name)(output_size), shape).output_shape == expected


@given(
    size=st.integers(1, 40),
    scale=st.sampled_from([0.5, 1.5, 1.7, 2.0, 2.5, 1 / 3]),
    recompute=st.sampled_from([None, True, False]),
)
def test_upsample_recomputes_its_scale_as_torch_does_keeping_its_size(
    size: int, scale: float, recompute: bool | None
) -> None:
    # recompute_scale_factor changes the scale torch interpolates with, not the output's size (it was refused)
    spec = nn.Upsample(scale_factor=scale, mode="linear", recompute_scale_factor=recompute)
    module = tnn.Upsample(scale_factor=scale, mode="linear", recompute_scale_factor=recompute)
    _agrees(spec, module, (1, 2, size))
    assert _read(module) == spec
    assert spec.to_torch().recompute_scale_factor is recompute
