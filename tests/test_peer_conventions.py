"""The named MAC conventions reproduce what the peers print for the same torch network."""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from typing import Any

import pytest

import convcalc
from convcalc import zoo

torch = pytest.importorskip("torch")
zoo_reference = pytest.importorskip("zoo_reference")

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
NETWORKS = [
    ("resnet18", lambda: zoo_reference.ResNet(zoo_reference.BasicBlock, [2, 2, 2, 2]), zoo.resnet18, (1, 3, 64, 64)),
    ("mobilenet_v2", zoo_reference.MobileNetV2, zoo.mobilenet_v2, (1, 3, 64, 64)),
    ("vgg16", lambda: zoo_reference.VGG(VGG16), zoo.vgg16, (1, 3, 32, 32)),
]


def _quiet(fn: Any) -> Any:
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        return fn()


@pytest.mark.parametrize(("name", "torch_net", "ours", "shape"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_flop_counter_is_twice_the_macs(name: str, torch_net: Any, ours: Any, shape: tuple[int, ...]) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    model = torch_net().eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(shape))
    assert convcalc.plan(ours(), shape, macs="flops").macs == counter.get_total_flops()


@pytest.mark.parametrize(("name", "torch_net", "ours", "shape"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_fvcore_convention(name: str, torch_net: Any, ours: Any, shape: tuple[int, ...]) -> None:
    fvcore_nn = pytest.importorskip("fvcore.nn")
    model = torch_net().eval()
    total = _quiet(lambda: fvcore_nn.FlopCountAnalysis(model, torch.zeros(shape)).total())
    assert convcalc.plan(ours(), shape, macs="fvcore").macs == total


@pytest.mark.parametrize(("name", "torch_net", "ours", "shape"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_ptflops_convention(name: str, torch_net: Any, ours: Any, shape: tuple[int, ...]) -> None:
    ptflops = pytest.importorskip("ptflops")
    model = torch_net().eval()
    macs, params = _quiet(
        lambda: ptflops.get_model_complexity_info(
            model, shape[1:], as_strings=False, print_per_layer_stat=False, backend="pytorch"
        )
    )
    plan = convcalc.plan(ours(), shape, macs="ptflops")
    assert plan.total_params == params
    if name == "mobilenet_v2":
        # torchvision's forward calls F.adaptive_avg_pool2d, which ptflops counts once; convcalc's
        # AdaptiveAvgPool2d module is counted twice (hook + patched functional), like torch's module
        assert plan.macs - macs == 1280 * 2 * 2
    else:
        assert plan.macs == macs


def test_torchinfo_convention_is_torchinfos_total() -> None:
    torchinfo = pytest.importorskip("torchinfo")
    stats = torchinfo.summary(zoo_reference.ResNet(zoo_reference.BasicBlock, [2, 2, 2, 2]), (2, 3, 64, 64), verbose=0)
    assert convcalc.plan(zoo.resnet18(), (2, 3, 64, 64), macs="torchinfo").macs * 2 == stats.total_mult_adds


def test_conventions_are_named_in_summaries() -> None:
    plan = convcalc.plan(zoo.lenet5(), (1, 1, 32, 32), macs="ptflops")
    assert "ptflops' count" in plan.summary()
    assert sys.modules.get("convcalc") is convcalc


@pytest.mark.parametrize("batch", [1, 5])
def test_torchinfo_s_convention_counts_a_channels_last_convolution_at_its_spatial_positions(batch: int) -> None:
    # torchinfo counts a convolution's weights once per output position: of a channels-last (Keras) plan, its
    # height and width, not its width and channels (3,500 for 4,900 here)
    from convcalc import keras as ks

    model = ks.Sequential([ks.Input((9, 7, 3)), ks.Conv2D(5, 3), ks.Flatten(), ks.Dense(2)])
    conv, dense = 5 * 3 * 3 * 3 + 5, 7 * 5 * 5 * 2 + 2  # (7, 5, 5) out of the convolution
    plan = convcalc.plan(model, (batch, 9, 7, 3), macs="torchinfo")
    assert plan.macs == conv * 7 * 5 + dense
    assert plan.total_mult_adds == (conv * 7 * 5 + dense) * batch
    torch_like = convcalc.plan(convcalc.nn.Conv2d(3, 5, 3), (batch, 3, 9, 7), macs="torchinfo")
    assert torch_like.macs == conv * 7 * 5


class _WeightTimesInput(torch.nn.Module):
    """``W @ x.t()``: a product whose output's first size is the weight's rows, not the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(7, 12))

    def forward(self, x: Any) -> Any:
        return self.weight @ x.t()


class _FramesIntoBatch(torch.nn.Module):
    """A clip's frames folded into the batch before a convolution and a batch norm without weights."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.BatchNorm2d(4, affine=False)

    def forward(self, x: Any) -> Any:
        b, t, c, h, w = x.shape
        return self.norm(self.conv(x.reshape(b * t, c, h, w)))


def _fvcore_total(model: Any, x: Any) -> Any:
    fvcore_nn = pytest.importorskip("fvcore.nn")

    def count() -> Any:
        analysis = fvcore_nn.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        return analysis.total()

    return _quiet(count)


@pytest.mark.parametrize("batch", [1, 2, 5])
@pytest.mark.parametrize(
    ("model", "shape"), [(_WeightTimesInput, (12,)), (_FramesIntoBatch, (3, 3, 6, 6))], ids=["w_at_xt", "frames"]
)
def test_fvcore_convention_is_fvcores_total_over_the_batch(model: Any, shape: tuple[int, ...], batch: int) -> None:
    """Per sample, as the other conventions: fvcore's whole-batch total over the input's first size, whatever a
    row's own first size (``W @ x.t()`` counted 12 x B per sample for 84; frames folded into the batch)."""
    net = model().eval()
    plan = convcalc.plan(net, (batch, *shape), macs="fvcore")
    assert plan.macs * batch == _fvcore_total(net, torch.zeros(batch, *shape))
    assert plan.macs >= convcalc.plan(net, (batch, *shape)).macs


class _Attention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x: Any) -> Any:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, 2, 8).permute(2, 0, 3, 1, 4)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, 16)


@pytest.mark.parametrize("batch", [1, 3])
def test_fvcore_convention_counts_no_scaled_dot_product_attention(batch: int) -> None:
    """fvcore has no handler for ``aten::scaled_dot_product_attention``: it counts the projections only, where
    ``"fvcore"`` counted the attention's products too (21,760 for fvcore's 15,360 at batch 2 and 10 tokens)."""
    net = _Attention().eval()
    plan = convcalc.plan(net, (batch, 10, 16), macs="fvcore")
    assert plan.macs * batch == _fvcore_total(net, torch.zeros(batch, 10, 16)) == batch * 10 * 16 * 48
    assert convcalc.plan(net, (batch, 10, 16)).macs == 10 * 16 * 48 + 2 * 10 * 10 * 2 * 8  # "macs" counts it


@pytest.mark.parametrize("affine", [True, False])
def test_peer_conventions_count_a_batch_norm_by_its_weights(affine: bool) -> None:
    """fvcore and ptflops count a batch norm 2 per element with weights, 1 without (``affine=False``)."""
    ptflops = pytest.importorskip("ptflops")
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(3, affine=affine)).eval()
    assert (
        convcalc.plan(net, (1, 3, 6), macs="fvcore").macs
        == _fvcore_total(net, torch.zeros(1, 3, 6))
        == 18 * (1 + affine)
    )
    macs, _ = _quiet(
        lambda: ptflops.get_model_complexity_info(
            net, (3, 6), as_strings=False, print_per_layer_stat=False, backend="pytorch"
        )
    )
    assert convcalc.plan(net, (1, 3, 6), macs="ptflops").macs == macs == 18 * (1 + affine)
