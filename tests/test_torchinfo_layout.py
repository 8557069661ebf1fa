"""summary(style="torchinfo") is torchinfo 1.8's table, line for line, on nested networks.

Every expected table is printed by the real ``torchinfo.summary(module, input_size, depth=...,
col_names=("output_size", "num_params"))``, which runs the module; convcalc plans the same module without
running it. Two differences are normalised, and only these:

- torchinfo 1.8.0 on Python 3.11+ prints its unit enum in the mult-adds line (``Total mult-adds
  (Units.MEGABYTES): 1.23``); convcalc prints the ``(M)`` that torchinfo meant (and prints on Python 3.10).
- torchinfo measures the input with ``sys.getsizeof`` of its storage, which adds the Python object's
  size (64 bytes with torch 2.x) to the tensor's bytes; convcalc counts the tensor's bytes. The two memory
  lines that include the input (``Input size (MB)``, ``Estimated Total Size (MB)``) are compared with
  torchinfo's own numbers less that overhead, so they differ only where the overhead moves a rounding.
- convcalc adds one line after torchinfo's table: its own MAC count and the convention it follows.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import build_nesting, torch_nestings

import convcalc
from convcalc import zoo
from convcalc.torch_bridge import to_torch
from tests.torchinfo_text import their_text

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")
nn = torch.nn
F = torch.nn.functional


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def theirs(module: Any, shape: tuple[int, ...], depths: tuple[int, ...]) -> dict[int, list[str]]:
    """torchinfo's table at each depth (one forward pass, rendered once per depth)."""
    stats = torchinfo.summary(
        module, input_size=shape, depth=depths[0], col_names=("output_size", "num_params"), verbose=0
    )
    tensor_bytes = 4 * math.prod(shape)
    overhead = stats.total_input - tensor_bytes
    assert 0 <= overhead < 200  # the storage object's own size, nothing more
    input_line = f"Input size (MB): {stats.to_megabytes(stats.total_input):0.2f}"
    total = stats.total_input + stats.total_output_bytes + stats.total_param_bytes
    total_line = f"Estimated Total Size (MB): {stats.to_megabytes(total):0.2f}"
    tables = {}
    for depth in depths:
        stats.formatting.max_depth = depth
        lines = their_text(stats).splitlines()
        lines[lines.index(input_line)] = f"Input size (MB): {stats.to_megabytes(tensor_bytes):0.2f}"
        lines[lines.index(total_line)] = f"Estimated Total Size (MB): {stats.to_megabytes(total - overhead):0.2f}"
        tables[depth] = lines
    return tables


def ours(model: Any, shape: tuple[int, ...], depth: int) -> list[str]:
    """convcalc's table, without its closing MAC line (checked here, then dropped)."""
    lines = convcalc.plan(model, shape).summary("torchinfo", depth=depth).splitlines()
    assert lines[-1].startswith("MACs: conv + linear multiply-accumulates")
    return lines[:-1]


def assert_same(model: Any, module: Any, shape: tuple[int, ...], depths: tuple[int, ...] = (3, 10)) -> None:
    expected = theirs(module, shape, depths)
    for depth in depths:
        assert ours(model, shape, depth) == expected[depth], f"depth={depth}"


# --------------------------------------------------------------------------- #
# (a) the zoo: planned from the convcalc.nn spec and from the torch module it builds
# --------------------------------------------------------------------------- #

SMALL_INPUTS = {
    "lenet5": (1, 1, 32, 32),
    "mnist_cnn": (2, 1, 28, 28),
    "seed000_cnn": (1, 1, 28, 28),
    "alexnet": (1, 3, 64, 64),
    "alexnet2012": (1, 3, 227, 227),  # its classifier takes 256 x 6 x 6 features: no smaller input
    "unet": (1, 1, 188, 188),  # the smallest input the 2015 U-Net takes
    "mobilenet_v2": (1, 3, 32, 32),
}
# seed002_keras is a convcalc.keras model: it has no torch module to compare with (see the test below)
TORCH_ZOO = sorted(name for name in zoo.MODELS if name != "seed002_keras")


@pytest.mark.parametrize("name", TORCH_ZOO)
def test_zoo_matches_torchinfo(name: str) -> None:
    spec = zoo.get(name)
    with torch.device("meta"):  # torchinfo needs shapes, not values: skip initialising millions of weights
        module = spec.to_torch()
    module = module.to_empty(device="cpu").eval()  # torchinfo reads a model in evaluation mode
    shape = SMALL_INPUTS.get(name, (1, 3, 32, 32))
    expected = theirs(module, shape, (3, 10))
    for depth in (3, 10):
        assert ours(module, shape, depth) == expected[depth], f"torch module, depth={depth}"
        assert ours(spec, shape, depth) == expected[depth], f"convcalc.nn spec, depth={depth}"


def test_the_keras_zoo_model_has_no_torch_module() -> None:
    with pytest.raises(convcalc.SpecError, match=r"no torch\.nn equivalent"):
        to_torch(zoo.get("seed002_keras"))


def test_resnet50_at_224_every_depth() -> None:
    with torch.device("meta"):
        module = zoo.resnet50().to_torch()
    module = module.to_empty(device="cpu").eval()  # torchinfo reads a model in evaluation mode
    shape = (1, 3, 224, 224)
    depths = (0, 1, 2, 3, 4, 5)
    expected = theirs(module, shape, depths)
    for depth in depths:
        assert ours(module, shape, depth) == expected[depth], f"depth={depth}"
    assert len(expected[5]) == 242


# --------------------------------------------------------------------------- #
# (b) random nestings: Sequential in Sequential, ModuleList / ModuleDict loops, custom blocks, residuals
# --------------------------------------------------------------------------- #


@given(recipe=torch_nestings(), depth=st.integers(0, 6), batch=st.integers(1, 2))
def test_random_nestings_match_torchinfo(recipe: Any, depth: int, batch: int) -> None:
    module = build_nesting(recipe)
    shape = (batch, 3, 4, 4)
    assert_same(module, module, shape, (depth,))


# --------------------------------------------------------------------------- #
# (c) models written by hand
# --------------------------------------------------------------------------- #


class Stem(nn.Module):
    """A custom module whose forward is a plain chain of its children."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.act(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: functional relu, an optional downsample Sequential, a residual sum."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class Net(nn.Module):
    """A stem, a ModuleList of blocks looped in forward, a ModuleDict head, flatten and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem()
        self.blocks = nn.ModuleList([BasicBlock(8, 8, 1), BasicBlock(8, 16, 2), BasicBlock(16, 16, 1)])
        self.head = nn.ModuleDict({"pool": nn.AdaptiveAvgPool2d(1), "drop": nn.Dropout(0.2)})
        self.fc = nn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        x = self.head["drop"](self.head["pool"](x))
        return self.fc(torch.flatten(x, 1))


class Interleaved(nn.Module):
    """Two ModuleLists called in turn: torchinfo lists each list again whenever the other was listed between."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(3))
        self.norms = nn.ModuleList(nn.BatchNorm2d(4) for _ in range(3))

    def forward(self, x: Any) -> Any:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x)))
        return x


class Twice(nn.Module):
    """One convolution called twice: torchinfo marks the second call ``(recursive)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 1))

    def forward(self, x: Any) -> Any:
        return self.conv(self.body(self.conv(x)))


HAND_WRITTEN_ZOO = {
    "lenet5": (lambda zr: zr.LeNet5(), (1, 1, 32, 32)),
    "alexnet": (lambda zr: zr.AlexNet(num_classes=10), (1, 3, 64, 64)),
    "vgg16_bn": (lambda zr: zr.VGG(zr.VGG16_CFG, batch_norm=True, num_classes=10), (1, 3, 32, 32)),
    "resnet18": (lambda zr: zr.ResNet(zr.BasicBlock, [2, 2, 2, 2], num_classes=10), (2, 3, 32, 32)),
    "resnet50": (lambda zr: zr.ResNet(zr.Bottleneck, [3, 4, 6, 3], num_classes=10), (1, 3, 32, 32)),
    "mobilenet_v2": (lambda zr: zr.MobileNetV2(num_classes=10), (1, 3, 32, 32)),
    "unet": (lambda zr: zr.UNet(), (1, 1, 188, 188)),
    "mnist_cnn": (lambda zr: zr.MnistCNNModel(0.5), (2, 1, 28, 28)),
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN_ZOO))
def test_torchvision_style_models_match_torchinfo(name: str) -> None:
    """The classic networks as torchvision and the tutorials write them, in tests/zoo_reference.py."""
    zoo_reference = pytest.importorskip("zoo_reference")
    build, shape = HAND_WRITTEN_ZOO[name]
    with torch.device("meta"):  # shapes, not values: skip initialising the weights
        module = build(zoo_reference)
    module = module.to_empty(device="cpu").eval()  # torchinfo reads a model in evaluation mode
    assert_same(module, module, shape, (1, 2, 3, 4))


def test_hand_written_net_matches_torchinfo() -> None:
    module = Net()
    assert_same(module, module, (2, 3, 16, 16), (0, 1, 2, 3, 4))


def test_interleaved_module_lists_match_torchinfo() -> None:
    module = Interleaved()
    assert_same(module, module, (1, 4, 6, 6), (1, 2, 3))


def test_a_module_called_twice_is_recursive() -> None:
    module = Twice()
    assert_same(module, module, (1, 4, 5, 5), (1, 2, 3))


def test_a_single_layer_is_its_own_root() -> None:
    module = nn.Conv2d(3, 4, 3)
    assert_same(module, module, (1, 3, 7, 7), (0, 3))


def test_the_root_is_titled_with_the_module_class() -> None:
    plan = convcalc.plan(Net(), (1, 3, 16, 16))
    assert plan.summary("torchinfo").splitlines()[3].split()[:2] == ["Net", "[1,"]
    assert plan.summary("keras").splitlines()[0] == 'Model: "Net"'
    assert convcalc.plan(Stem(), (1, 3, 4, 4)).summary("keras").splitlines()[0] == 'Model: "Stem"'


# --------------------------------------------------------------------------- #
# the depth option
# --------------------------------------------------------------------------- #


def test_depth_defaults_to_torchinfos_three() -> None:
    module = Net()
    plan = convcalc.plan(module, (1, 3, 16, 16))
    assert plan.summary("torchinfo") == plan.summary("torchinfo", depth=3)
    assert plan.summary("torchinfo").splitlines()[:-1] == theirs(module, (1, 3, 16, 16), (3,))[3]


@pytest.mark.parametrize("depth", [-1, 1.5, "2", True])
def test_depth_must_be_a_whole_number(depth: Any) -> None:
    plan = convcalc.plan(Stem(), (1, 3, 4, 4))
    with pytest.raises(convcalc.SpecError, match=r"depth must be an int >= 0 .*Received: depth="):
        plan.summary("torchinfo", depth=depth)


@pytest.mark.parametrize("style", ["table", "keras"])
def test_depth_is_for_the_torchinfo_layout_only(style: str) -> None:
    plan = convcalc.plan(Stem(), (1, 3, 4, 4))
    with pytest.raises(convcalc.SpecError, match=f"depth applies to style='torchinfo' only. Received: style='{style}'"):
        plan.summary(style, depth=2)
