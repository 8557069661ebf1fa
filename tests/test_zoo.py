"""The model zoo against published numbers (written into the tests) and against torch.

Parameter counts are exact. MACs are exact where the reference gives the exact
figure, and otherwise equal torchvision's ``_ops`` (GMACs rounded to 3
decimals). Then hand-written torch networks (tests/zoo_reference.py) are built
and run once: their parameter counts, per-layer parameters (by module name) and
output shapes must be the plan's.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import convcalc
from convcalc import ReceptiveField, ShapeError, SpecError, zoo

# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #

CONV_KINDS = ("Conv2d", "ConvTranspose2d")


def _plan(name: str, shape: tuple[Any, ...] | None = None, **kwargs: Any) -> convcalc.Plan:
    return convcalc.plan(zoo.get(name, **kwargs), shape or zoo.INPUT_SHAPES[name])


def _sum(plan: convcalc.Plan, attr: str, kinds: tuple[str, ...]) -> int:
    return sum(getattr(r, attr) for r in plan.rows if r.kind in kinds)


def _rows(plan: convcalc.Plan, kinds: tuple[str, ...]) -> list[convcalc.Row]:
    return [r for r in plan.rows if r.kind in kinds]


def _under(plan: convcalc.Plan, prefix: str) -> list[convcalc.Row]:
    return [r for r in plan.rows if r.name == prefix or r.name.startswith(prefix + ".")]


# --------------------------------------------------------------------------- #
# §0: the compact table
# --------------------------------------------------------------------------- #

# name, exact params, exact MACs (None: only `_ops` is published), torchvision `_ops` GMACs (None: not published)
PUBLISHED = [
    ("lenet5", 61_706, 416_520, None),
    ("alexnet", 61_100_840, 714_188_480, 0.714),
    ("alexnet2012", 60_965_224, 724_406_816, None),
    ("vgg11", 132_863_336, None, 7.609),
    ("vgg11_bn", 132_868_840, None, 7.609),
    ("vgg13", 133_047_848, None, 11.308),
    ("vgg13_bn", 133_053_736, None, 11.308),
    ("vgg16", 138_357_544, 15_470_264_320, 15.47),
    ("vgg16_bn", 138_365_992, None, 15.47),
    ("vgg19", 143_667_240, None, 19.632),
    ("vgg19_bn", 143_678_248, None, 19.632),
    ("resnet18", 11_689_512, None, 1.814),
    ("resnet34", 21_797_672, None, 3.664),
    ("resnet50", 25_557_032, 4_089_184_256, 4.089),
    ("resnet101", 44_549_160, 7_801_405_440, 7.801),
    ("resnet152", 60_192_808, 11_513_626_624, 11.514),
    ("mobilenet_v2", 3_504_872, 300_774_272, 0.301),
    ("unet", 31_030_658, 150_428_424_448, None),
]


@pytest.mark.parametrize(("name", "params", "macs", "ops"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name: str, params: int, macs: int | None, ops: float | None) -> None:
    plan = _plan(name)
    assert plan.total_params == params
    assert plan.trainable_params == params  # no Keras-style non-trainable weights in torch models
    if macs is not None:
        assert plan.macs == macs
    if ops is not None:
        assert round(plan.macs / 1e9, 3) == ops


@pytest.mark.parametrize(("name", "params", "macs", "ops"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_rows_add_up(name: str, params: int, macs: int | None, ops: float | None) -> None:
    plan = _plan(name)
    weighted = ("Conv2d", "ConvTranspose2d", "Linear", "BatchNorm2d")
    assert _sum(plan, "trainable", weighted) == plan.total_params
    assert _sum(plan, "macs", (*CONV_KINDS, "Linear")) == plan.macs


def test_bn_variants_add_2c_and_no_macs() -> None:
    # BN adds 2 * (sum of channels): A +5,504, B +5,888, D +8,448, E +11,008; `_ops` leaves BN out.
    for plain, extra in (("vgg11", 5_504), ("vgg13", 5_888), ("vgg16", 8_448), ("vgg19", 11_008)):
        a, b = _plan(plain), _plan(plain + "_bn")
        assert b.total_params - a.total_params == extra
        assert b.macs == a.macs
        # buffers: running mean and var (2C) plus one num_batches_tracked per BN
        assert b.buffers == extra + len(_rows(b, ("BatchNorm2d",)))


def test_output_shapes() -> None:
    for name in zoo.MODELS:
        plan = _plan(name)
        expected = {"unet": (1, 2, 388, 388), "seed002_keras": (1, 25)}.get(name)
        if expected is None:
            expected = (1, 10) if name in ("lenet5", "mnist_cnn", "seed000_cnn") else (1, 1000)
        assert plan.output_shape == expected, name


def test_num_classes() -> None:
    for name in ("lenet5", "alexnet", "alexnet2012", "vgg16_bn", "resnet50", "mobilenet_v2"):
        plan = _plan(name, num_classes=7)
        assert plan.output_shape == (1, 7), name


# --------------------------------------------------------------------------- #
# §3.1 LeNet-5
# --------------------------------------------------------------------------- #


def test_lenet5_layers() -> None:
    plan = _plan("lenet5")
    weighted = [r for r in plan.rows if r.params]
    assert [r.params for r in weighted] == [156, 2_416, 48_120, 10_164, 850]
    assert [r.name for r in weighted] == ["c1", "c3", "c5", "f6", "output"]
    shapes = [plan.row(n).output_shape for n in ("c1", "s2", "c3", "s4", "c5", "f6", "output")]
    assert shapes == [(1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 5, 5), (1, 120, 1, 1), (1, 84), (1, 10)]
    assert _sum(plan, "macs", CONV_KINDS) == 405_600
    assert _sum(plan, "macs", ("Linear",)) == 10_920


# --------------------------------------------------------------------------- #
# §3.2 AlexNet
# --------------------------------------------------------------------------- #


def test_alexnet_torchvision_table() -> None:
    plan = _plan("alexnet")
    table = [
        ("features.0", (1, 64, 55, 55), 23_296),
        ("features.2", (1, 64, 27, 27), 0),
        ("features.3", (1, 192, 27, 27), 307_392),
        ("features.5", (1, 192, 13, 13), 0),
        ("features.6", (1, 384, 13, 13), 663_936),
        ("features.8", (1, 256, 13, 13), 884_992),
        ("features.10", (1, 256, 13, 13), 590_080),
        ("features.12", (1, 256, 6, 6), 0),
        ("avgpool", (1, 256, 6, 6), 0),
        ("flatten", (1, 9216), 0),
        ("classifier.1", (1, 4096), 37_752_832),
        ("classifier.4", (1, 4096), 16_781_312),
        ("classifier.6", (1, 1000), 4_097_000),
    ]
    for name, shape, params in table:
        assert (plan.row(name).output_shape, plan.row(name).params) == (shape, params), name
    assert _sum(plan, "macs", CONV_KINDS) == 655_566_528
    assert _sum(plan, "macs", ("Linear",)) == 58_621_952


def test_alexnet_any_input_from_63() -> None:
    at227 = _plan("alexnet", (1, 3, 227, 227))
    assert at227.row("features.0").output_shape == (1, 64, 56, 56)
    assert at227.row("features.12").output_shape == (1, 256, 6, 6)
    assert at227.output_shape == (1, 1000)
    assert _plan("alexnet", (1, 3, 63, 63)).row("features.12").output_shape == (1, 256, 1, 1)
    with pytest.raises(ShapeError, match=r"features\.12"):
        _plan("alexnet", (1, 3, 62, 62))
    H = convcalc.symbols("H")
    sizes = convcalc.plan(zoo.alexnet(), (1, 3, H, H)).valid_sizes()
    assert sizes.smallest == 63  # torchvision's min_size
    assert 62 not in sizes
    assert all(v in sizes for v in range(63, 63 + 2 * sizes.modulus))


def test_alexnet_valid_sizes_are_reduced() -> None:
    # Every H >= 63 fits, so the canonical answer has modulus 1 ("H >= 63"), not every residue mod 32.
    H = convcalc.symbols("H")
    sizes = convcalc.plan(zoo.alexnet(), (1, 3, H, H)).valid_sizes()
    assert (sizes.smallest, sizes.modulus, sizes.residues) == (63, 1, (0,))
    assert str(sizes) == "H >= 63"


def test_alexnet2012_table() -> None:
    plan = _plan("alexnet2012")
    table = [
        ("features.0", (1, 96, 55, 55), 34_944),
        ("features.2", (1, 96, 27, 27), 0),
        ("features.3", (1, 256, 27, 27), 307_456),
        ("features.5", (1, 256, 13, 13), 0),
        ("features.6", (1, 384, 13, 13), 885_120),
        ("features.8", (1, 384, 13, 13), 663_936),
        ("features.10", (1, 256, 13, 13), 442_624),
        ("features.12", (1, 256, 6, 6), 0),
        ("classifier.1", (1, 4096), 37_752_832),
        ("classifier.4", (1, 4096), 16_781_312),
        ("classifier.6", (1, 1000), 4_097_000),
    ]
    for name, shape, params in table:
        assert (plan.row(name).output_shape, plan.row(name).params) == (shape, params), name
    convs = _rows(plan, CONV_KINDS)
    assert sum(r.params - r.output_shape[1] for r in convs) == 2_332_704  # "2.3M weights" (Eyeriss)
    assert _sum(plan, "macs", CONV_KINDS) == 665_784_864  # "666M MACs per 227x227 image"
    assert _sum(plan, "macs", ("Linear",)) == 58_621_952
    # neurons per layer (the paper's list, without its 253,440 erratum for conv1)
    assert [math.prod(r.output_shape[1:]) for r in convs] == [290_400, 186_624, 64_896, 64_896, 43_264]


def test_alexnet2012_rejects_224() -> None:
    # The paper says 224, but with no padding conv1 gives 54 and pool5 5x5x256 = 6400 != 9216.
    with pytest.raises(ShapeError, match=r"classifier\.1.*in_features=6400") as info:
        _plan("alexnet2012", (1, 3, 224, 224))
    assert "9216" in str(info.value)


# --------------------------------------------------------------------------- #
# §3.3 VGG
# --------------------------------------------------------------------------- #


def test_vgg_conv_and_classifier_params() -> None:
    for name, conv in (("vgg11", 9_220_480), ("vgg13", 9_404_992), ("vgg16", 14_714_688), ("vgg19", 20_024_384)):
        plan = _plan(name)
        assert sum(r.params for r in _under(plan, "features")) == conv, name
        assert sum(r.params for r in _under(plan, "classifier")) == 123_642_856, name


def test_vgg16_activation_table() -> None:
    plan = _plan("vgg16")
    names = {
        "conv1_1": "features.0",
        "conv1_2": "features.2",
        "pool1": "features.4",
        "conv2_1": "features.5",
        "conv2_2": "features.7",
        "pool2": "features.9",
        "conv3_1": "features.10",
        "conv3_2": "features.12",
        "conv3_3": "features.14",
        "pool3": "features.16",
        "conv4_1": "features.17",
        "conv4_2": "features.19",
        "conv4_3": "features.21",
        "pool4": "features.23",
        "conv5_1": "features.24",
        "conv5_2": "features.26",
        "conv5_3": "features.28",
        "pool5": "features.30",
        "fc6": "classifier.0",
        "fc7": "classifier.3",
        "fc8": "classifier.6",
    }
    table = {
        "conv1_1": ((64, 224, 224), 1_728),
        "conv1_2": ((64, 224, 224), 36_864),
        "pool1": ((64, 112, 112), 0),
        "conv2_1": ((128, 112, 112), 73_728),
        "conv2_2": ((128, 112, 112), 147_456),
        "pool2": ((128, 56, 56), 0),
        "conv3_1": ((256, 56, 56), 294_912),
        "conv3_2": ((256, 56, 56), 589_824),
        "conv3_3": ((256, 56, 56), 589_824),
        "pool3": ((256, 28, 28), 0),
        "conv4_1": ((512, 28, 28), 1_179_648),
        "conv4_2": ((512, 28, 28), 2_359_296),
        "conv4_3": ((512, 28, 28), 2_359_296),
        "pool4": ((512, 14, 14), 0),
        "conv5_1": ((512, 14, 14), 2_359_296),
        "conv5_2": ((512, 14, 14), 2_359_296),
        "conv5_3": ((512, 14, 14), 2_359_296),
        "pool5": ((512, 7, 7), 0),
        "fc6": ((4096,), 102_760_448),
        "fc7": ((4096,), 16_777_216),
        "fc8": ((1000,), 4_096_000),
    }
    activations = 3 * 224 * 224
    for stage, (shape, weights) in table.items():
        row = plan.row(names[stage])
        assert row.output_shape == (1, *shape), stage
        bias = shape[0] if row.params else 0
        assert row.params - bias == weights, stage  # CS231n's "weights" column leaves biases out
        activations += row.activations
    assert activations == 15_237_608  # ≈ 15.2M values, not CS231n's "24M"
    assert plan.row("features.30").activations == 25_088
    weights = sum(r.params - r.output_shape[1] for r in plan.rows if r.params)
    assert weights == 138_344_128
    assert _sum(plan, "macs", CONV_KINDS) == 15_346_630_656
    assert _sum(plan, "macs", ("Linear",)) == 123_633_664


def test_vgg16_receptive_fields() -> None:
    plan = _plan("vgg16")
    expected = {
        "features.0": (3, 1, 1),  # conv1_1
        "features.2": (5, 1, 2),  # conv1_2
        "features.4": (6, 2, 2),  # pool1
        "features.9": (16, 4, 6),  # pool2
        "features.16": (44, 8, 18),  # pool3
        "features.23": (100, 16, 42),  # pool4
        "features.30": (212, 32, 90),  # pool5
    }
    for name, (size, jump, pad) in expected.items():
        rf = ReceptiveField(size, jump, -pad)
        assert plan.row(name).receptive_field == (rf, rf), name
    # the 7 x 7 adaptive pool of a 7 x 7 map keeps it, and the classifier ends the axes: the network's field
    assert plan.row("avgpool").receptive_field == plan.receptive_field == (ReceptiveField(212, 32, -90),) * 2


def test_the_published_receptive_fields_of_whole_networks() -> None:
    # the field of the last map before the global pool or the classifier: torchvision's ResNet-50 (stride in
    # the 3 x 3 convolution) 427, and AlexNet by hand: conv 11/4 pad 2 (11, 4, -2), pool 3/2 (19, 8, -2),
    # conv 5 pad 2 (51, 8, -18), pool 3/2 (67, 16, -18), three convs 3 pad 1 (163, 16, -66), pool 3/2
    assert _plan("resnet50").receptive_field == (ReceptiveField(427, 32, -213),) * 2
    assert _plan("alexnet").receptive_field == (ReceptiveField(195, 32, -66),) * 2


def test_vgg_any_input_from_32() -> None:
    assert _plan("vgg16", (1, 3, 32, 32)).row("features.30").output_shape == (1, 512, 1, 1)
    assert _plan("vgg16", (1, 3, 32, 32)).output_shape == (1, 1000)
    with pytest.raises(ShapeError):
        _plan("vgg16", (1, 3, 31, 31))
    H = convcalc.symbols("H")
    assert convcalc.plan(zoo.vgg16(), (1, 3, H, H)).valid_sizes().smallest == 32
    strict = convcalc.plan(zoo.vgg16(), (1, 3, H, H), strict=True).valid_sizes()
    assert (strict.smallest, strict.modulus, strict.residues) == (32, 32, (0,))


# --------------------------------------------------------------------------- #
# §3.4 ResNet
# --------------------------------------------------------------------------- #


def _stage_outputs(plan: convcalc.Plan) -> list[tuple[int, ...]]:
    return [_under(plan, f"layer{i}")[-1].output_shape for i in range(1, 5)]


def test_resnet_stems_and_stages() -> None:
    r50, r18 = _plan("resnet50"), _plan("resnet18")
    for plan in (r50, r18):
        assert plan.row("conv1").output_shape == (1, 64, 112, 112)
        assert plan.row("maxpool").output_shape == (1, 64, 56, 56)
    assert _stage_outputs(r50) == [(1, 256, 56, 56), (1, 512, 28, 28), (1, 1024, 14, 14), (1, 2048, 7, 7)]
    assert _stage_outputs(r18) == [(1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]
    for name in ("resnet34", "resnet101", "resnet152"):
        plan = _plan(name)
        wide = 4 if name != "resnet34" else 1
        assert _stage_outputs(plan) == [
            (1, 64 * wide, 56, 56),
            (1, 128 * wide, 28, 28),
            (1, 256 * wide, 14, 14),
            (1, 512 * wide, 7, 7),
        ], name


def test_resnet50_breakdown() -> None:
    plan = _plan("resnet50")
    convs = _rows(plan, ("Conv2d",))
    bns = _rows(plan, ("BatchNorm2d",))
    assert len(convs) == 53
    assert sum(r.params for r in convs) == 23_454_912
    assert sum(r.params for r in bns) == 53_120
    assert sum(r.output_shape[1] for r in bns) == 26_560
    assert plan.row("fc").params == 2_049_000
    assert plan.total_params - plan.row("fc").params == 23_508_032  # include_top=False
    assert plan.buffers == 53_120 + len(bns)
    # v1.5: the stride is on the 3x3 of the first block of layer2..4; layer1 projects 64 -> 256 at stride 1
    assert plan.row("layer2.0.add.main.conv1").output_shape == (1, 128, 56, 56)
    assert plan.row("layer2.0.add.main.conv2").output_shape == (1, 128, 28, 28)
    assert plan.row("layer1.0.add.downsample.0").output_shape == (1, 256, 56, 56)
    assert plan.row("layer1.1.add.identity").output_shape == (1, 256, 56, 56)


def test_resnet18_breakdown() -> None:
    plan = _plan("resnet18")
    assert _sum(plan, "params", ("Conv2d",)) == 11_166_912
    assert _sum(plan, "params", ("BatchNorm2d",)) == 9_600
    assert plan.row("fc").params == 513_000
    # BasicBlock nets have no projection in layer1
    assert not [r for r in _under(plan, "layer1") if "downsample" in r.name]
    assert [r.name for r in plan.rows if r.name.endswith("downsample.0")] == [
        "layer2.0.add.downsample.0",
        "layer3.0.add.downsample.0",
        "layer4.0.add.downsample.0",
    ]


def test_resnet_any_size() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(zoo.resnet50(), (1, 3, H, H))
    assert plan.valid_sizes().smallest == 1  # torchvision min_size 1x1
    assert plan.output_shape == (1, 1000)
    assert _plan("resnet50", (1, 3, 1, 1)).output_shape == (1, 1000)


def test_torchvision_name() -> None:
    assert zoo.torchvision_name("layer3.5.add.main.bn2") == "layer3.5.bn2"
    assert zoo.torchvision_name("layer3.0.add.downsample.1") == "layer3.0.downsample.1"
    assert zoo.torchvision_name("layer3.5.relu") == "layer3.5.relu"
    assert zoo.torchvision_name("layer3.5.add") == "layer3.5"
    assert zoo.torchvision_name("conv1") == "conv1"
    assert zoo.torchvision_name("classifier.1") == "classifier.1"


# --------------------------------------------------------------------------- #
# §3.6 MobileNetV2
# --------------------------------------------------------------------------- #

MOBILENET_BLOCKS = [
    ((32, 112), 928),
    ((16, 112), 896),
    ((24, 56), 5_136),
    ((24, 56), 8_832),
    ((32, 28), 10_000),
    ((32, 28), 14_848),
    ((32, 28), 14_848),
    ((64, 14), 21_056),
    ((64, 14), 54_272),
    ((64, 14), 54_272),
    ((64, 14), 54_272),
    ((96, 14), 66_624),
    ((96, 14), 118_272),
    ((96, 14), 118_272),
    ((160, 7), 155_264),
    ((160, 7), 320_000),
    ((160, 7), 320_000),
    ((320, 7), 473_920),
    ((1280, 7), 412_160),
]


def test_mobilenet_v2_blocks() -> None:
    plan = _plan("mobilenet_v2")
    for i, ((channels, size), params) in enumerate(MOBILENET_BLOCKS):
        rows = _under(plan, f"features.{i}")
        assert rows[-1].output_shape == (1, channels, size, size), i
        assert sum(r.params for r in rows) == params, i
    assert plan.row("classifier.1").params == 1_281_000
    assert sum(r.params for r in _under(plan, "features")) == 2_223_872
    # residual adds exactly where stride 1 and in == out
    adds = [r.name for r in _rows(plan, ("Add",))]
    assert adds == [f"features.{i}" for i in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]
    assert plan.row("features.2.conv.1.0").kind == "Conv2d"  # the depthwise 3x3, torchvision's path
    assert plan.row("features.2.conv.1.0").params == 96 * 9


# --------------------------------------------------------------------------- #
# §3.15 U-Net
# --------------------------------------------------------------------------- #


def _unet_path(level: int, leaf: str) -> str:
    return "".join(f"cat{k}.up." for k in range(1, level)) + leaf


def test_unet_levels() -> None:
    plan = _plan("unet")
    contracting = {1: 568, 2: 280, 3: 136, 4: 64, 5: 28}
    for k, size in contracting.items():
        first = plan.row(_unet_path(k, f"enc{k}.conv1")).output_shape
        assert first == (1, 64 * 2 ** (k - 1), size + 2, size + 2), k
        assert plan.row(_unet_path(k, f"enc{k}.conv2")).output_shape == (1, 64 * 2 ** (k - 1), size, size), k
    for k, size in {1: 284, 2: 140, 3: 68, 4: 32}.items():
        assert plan.row(_unet_path(k + 1, f"pool{k}")).output_shape[2:] == (size, size), k
    expansive = {1: (392, 388), 2: (200, 196), 3: (104, 100), 4: (56, 52)}
    for k, (up, out) in expansive.items():
        c = 64 * 2 ** (k - 1)
        assert plan.row(_unet_path(k + 1, f"upconv{k}")).output_shape == (1, c, up, up), k
        assert plan.row(_unet_path(k, f"cat{k}")).output_shape == (1, 2 * c, up, up), k
        assert plan.row(_unet_path(k, f"dec{k}.conv1")).output_shape == (1, c, up - 2, up - 2), k
        assert plan.row(_unet_path(k, f"dec{k}.conv2")).output_shape == (1, c, out, out), k
    assert plan.row("head").output_shape == (1, 2, 388, 388)
    assert len(_rows(plan, CONV_KINDS)) == 23  # "In total the network has 23 convolutional layers"
    assert not _rows(plan, ("BatchNorm2d",))


def test_unet_params_by_channels() -> None:
    cases = {(1, 2): 31_030_658, (3, 2): 31_031_810, (1, 1): 31_030_593, (3, 1): 31_031_745}
    for (cin, classes), params in cases.items():
        plan = convcalc.plan(zoo.unet(in_channels=cin, num_classes=classes), (1, cin, 572, 572))
        assert plan.total_params == params, (cin, classes)


def test_unet_symbolic_tiles() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(zoo.unet(), (1, 1, H, H), strict=True)
    sizes = plan.valid_sizes()
    assert (sizes.smallest, sizes.modulus, sizes.residues) == (188, 16, (12,))
    assert str(sizes) == "H >= 188 and H ≡ 12 (mod 16)"
    assert plan.inputs_for(388) == [572]
    assert _plan("unet", (1, 1, 188, 188)).output_shape == (1, 2, 4, 4)
    with pytest.raises(ShapeError):
        convcalc.plan(zoo.unet(), (1, 1, 172, 172))


# --------------------------------------------------------------------------- #
# The seeds' networks
# --------------------------------------------------------------------------- #


def test_mnist_cnn_seed001() -> None:
    plan = _plan("mnist_cnn")
    assert [plan.row(f"b{i}.4").output_shape for i in (1, 2, 3)] == [(1, 32, 14, 14), (1, 64, 7, 7), (1, 128, 4, 4)]
    assert plan.row("classifier.0").output_shape == (1, 2048)  # the seed's 128*4*4
    per_layer = [(r.name, r.params) for r in plan.rows if r.params]
    assert per_layer == [
        ("b1.0", 1 * 32 * 9 + 32),
        ("b1.1", 64),
        ("b2.0", 32 * 64 * 9 + 64),
        ("b2.1", 128),
        ("b3.0", 64 * 128 * 9 + 128),
        ("b3.1", 256),
        ("classifier.1", 2048 * 256 + 256),
        ("classifier.4", 2570),
    ]
    assert plan.total_params == 620_234
    assert plan.macs == 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 7 * 7 * 128 * 64 * 9 + 2048 * 256 + 256 * 10
    assert _plan("mnist_cnn", dropout_rate=0.3).total_params == 620_234


def test_seed000_cnn_names_and_counts() -> None:
    plan = _plan("seed000_cnn")
    names = [r.name for r in plan.rows]
    assert names == [
        "net.conv2d_00",
        "net.relu_01",
        "net.maxpool2d_02",
        "net.dropout2d_03",
        "net.conv2d_04",
        "net.relu_05",
        "net.maxpool2d_06",
        "net.dropout2d_07",
        "net.flatten_08",
        "net.linear_09",
        "net.relu_10",
        "net.linear_11",
        "net.relu_12",
        "net.linear_13",
    ]
    assert plan.total_params == 320 + 18_496 + (3136 * 1024 + 1024) + (1024 * 128 + 128) + (128 * 10 + 10)
    # the instance the seed builds: hdims=[32]
    assert _plan("seed000_cnn", hdims=(32,)).total_params == 320 + 18_496 + 100_384 + 330
    bn = _plan("seed000_cnn", use_batchnorm=True)
    assert bn.row("net.batchnorm2d_01").params == 64
    assert bn.row("net.flatten_10").output_shape == (1, 3136)


def test_seed000_cnn_even_kernel_bug() -> None:
    # Even ksize with padding=ksize//2 grows each conv by one pixel; the seed's formula does not know.
    # 28x28, two stages: 28 -> 29 -> 14 -> 15 -> 7 happens to match 28 // 4 = 7 ...
    assert _plan("seed000_cnn", ksize=4).row("net.flatten_08").output_shape == (1, 64 * 7 * 7)
    assert _plan("seed000_cnn", ksize=4).row("net.conv2d_00").output_shape == (1, 32, 29, 29)
    # ... but a third stage (15 -> 7 -> 8 -> 4, formula 28 // 8 = 3) or a 30x30 input do not.
    with pytest.raises(ShapeError, match=r"net\.linear_13.*in_features=2048") as info:
        _plan("seed000_cnn", ksize=4, cdims=(32, 64, 128))
    assert "Linear(in_features=1152)" in str(info.value)
    with pytest.raises(ShapeError, match=r"net\.linear_09.*in_features=4096") as info:
        convcalc.plan(zoo.seed000_cnn(xdim=(1, 30, 30), ksize=4), (1, 1, 30, 30))
    assert "Linear(in_features=3136)" in str(info.value)
    # odd kernels keep the size, so the formula holds
    assert _plan("seed000_cnn", ksize=5, cdims=(32, 64, 128)).output_shape == (1, 10)
    assert convcalc.plan(zoo.seed000_cnn(xdim=(1, 30, 30), ksize=3), (1, 1, 30, 30)).output_shape == (1, 10)


def test_seed002_keras_summary() -> None:
    plan = convcalc.plan(zoo.seed002_keras())
    assert (plan.total_params, plan.trainable_params, plan.non_trainable_params) == (264_562, 264_262, 300)
    table = [
        ("conv2d_6", (28, 28, 75), 750),
        ("batch_normalization", (28, 28, 75), 300),
        ("max_pooling2d", (14, 14, 75), 0),
        ("conv2d_7", (14, 14, 50), 33_800),
        ("dropout", (14, 14, 50), 0),
        ("batch_normalization_1", (14, 14, 50), 200),
        ("max_pooling2d_1", (7, 7, 50), 0),
        ("conv2d_8", (7, 7, 25), 11_275),
        ("batch_normalization_2", (7, 7, 25), 100),
        ("max_pooling2d_2", (4, 4, 25), 0),
        ("flatten", (400,), 0),
        ("dense", (512,), 205_312),
        ("dropout_1", (512,), 0),
        ("dense_1", (25,), 12_825),
    ]
    assert [(r.name, r.output_shape[1:], r.params) for r in plan.rows] == table
    assert plan.macs == 28 * 28 * 75 * 9 + 14 * 14 * 50 * 75 * 9 + 7 * 7 * 25 * 50 * 9 + 400 * 512 + 512 * 25


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


def test_registry() -> None:
    assert set(zoo.MODELS) == set(zoo.INPUT_SHAPES)
    assert set(zoo.MODELS) <= set(zoo.__all__)
    for name, builder in zoo.MODELS.items():
        assert builder.__name__ == name
        assert ">>>" in (builder.__doc__ or "")
    with pytest.raises(SpecError, match=r"no zoo model named 'resnet51'; available: alexnet, .*vgg19_bn"):
        zoo.get("resnet51")
    with pytest.raises(SpecError, match="available"):
        zoo.get(None)  # type: ignore[arg-type]


def test_builders_are_fresh_and_equal() -> None:
    assert zoo.resnet18() == zoo.resnet18()
    assert zoo.resnet18() is not zoo.resnet18()


# --------------------------------------------------------------------------- #
# Against torch: hand-written reference networks, one forward pass each
# --------------------------------------------------------------------------- #


def _torch_layer_params(module: Any) -> dict[str, int]:
    out = {}
    for name, m in module.named_modules():
        n = sum(p.numel() for p in m.parameters(recurse=False))
        if n:
            out[name] = n
    return out


def _plan_layer_params(plan: convcalc.Plan) -> dict[str, int]:
    return {zoo.torchvision_name(r.name): r.params for r in plan.rows if r.params}


def _reference(name: str) -> Any:
    ref = pytest.importorskip("zoo_reference")
    builders = {
        "lenet5": ref.LeNet5,
        "alexnet": ref.AlexNet,
        "vgg16": lambda: ref.VGG(ref.VGG16_CFG),
        "resnet18": lambda: ref.ResNet(ref.BasicBlock, [2, 2, 2, 2]),
        "resnet50": lambda: ref.ResNet(ref.Bottleneck, [3, 4, 6, 3]),
        "mobilenet_v2": ref.MobileNetV2,
        "unet": ref.UNet,
        "mnist_cnn": lambda: ref.MnistCNNModel(0.5),
        "seed000_cnn": ref.ConvolutionalNeuralNetworkClass,
    }
    return builders[name]()


# name, the input of the forward pass (small where the network allows), whether layer names match
TORCH_CASES = [
    ("lenet5", (1, 1, 32, 32), True),
    ("alexnet", (1, 3, 64, 64), True),
    ("vgg16", (1, 3, 32, 32), True),
    ("resnet18", (1, 3, 64, 64), True),
    ("resnet50", (1, 3, 64, 64), True),
    ("mobilenet_v2", (1, 3, 64, 64), True),
    ("unet", (1, 1, 188, 188), False),
    ("mnist_cnn", (1, 1, 28, 28), True),
    ("seed000_cnn", (1, 1, 28, 28), True),
]


@pytest.mark.parametrize(("name", "shape", "same_names"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_against_torch(name: str, shape: tuple[int, ...], same_names: bool) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = _reference(name).eval()
    plan = convcalc.plan(zoo.get(name), shape)
    assert sum(p.numel() for p in module.parameters()) == plan.total_params
    assert sum(b.numel() for b in module.buffers()) == plan.buffers
    if same_names:
        assert _torch_layer_params(module) == _plan_layer_params(plan)
    with torch.no_grad():
        out = module(torch.zeros(shape))
    assert tuple(out.shape) == plan.output_shape
