"""Parameter counts of single layers, in torch's and Keras' sense.

Rules as torch and Keras 3 count; published numbers of single layers, or sums of
single layers, from the papers and frameworks that state them, written into the tests.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import convcalc
from convcalc import (
    ParamCount,
    batchnorm_params,
    conv_params,
    conv_transpose_params,
    groupnorm_params,
    layernorm_params,
    linear_params,
    separable_conv_params,
)

# --------------------------------------------------------------------------- #
# Convolution
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "groups", "bias"),
    [
        (3, 64, 3, 1, True),
        (3, 64, 3, 1, False),
        (64, 128, (3, 5), 1, True),
        (6, 4, 3, 2, True),
        (8, 16, 1, 4, False),
        (32, 32, 3, 32, True),  # depthwise
        (32, 64, 3, 32, False),  # depthwise, multiplier 2
        (12, 18, (1, 7), 3, True),
    ],
)
def test_conv_params_rule(cin, cout, kernel, groups, bias):
    volume = math.prod(kernel) if isinstance(kernel, tuple) else kernel * kernel
    expected = cout * (cin // groups) * volume + (cout if bias else 0)
    assert conv_params(cin, cout, kernel, groups=groups, bias=bias) == expected


def test_conv_params_bias():
    assert conv_params(3, 4, 5) == 304
    assert conv_params(3, 4, 5, bias=False) == 300
    assert conv_params(3, 4, 5) - conv_params(3, 4, 5, bias=False) == 4


def test_conv_params_groups():
    # weight (C_out, C_in/g, k, k): 4 * (6/2) * 9 + 4
    assert conv_params(6, 4, 3, groups=2) == 112
    assert conv_params(6, 6, 3, groups=3) == 6 * 2 * 9 + 6
    # groups divide the weight count, never the bias count
    assert conv_params(8, 8, 3, groups=8, bias=False) * 8 == conv_params(8, 8, 3, bias=False)


def test_conv_params_depthwise():
    # groups = in_channels: one k x k filter per channel
    assert conv_params(32, 32, 3, groups=32) == 320
    assert conv_params(32, 32, 3, groups=32, bias=False) == 288
    # depth multiplier 2: C_out = 2 * C_in
    assert conv_params(32, 64, 3, groups=32) == 64 * 9 + 64


@pytest.mark.parametrize(
    ("ndim", "kernel", "volume"),
    [(1, 5, 5), (2, 5, 25), (3, 5, 125), (3, 3, 27), (1, 1, 1)],
)
def test_conv_params_ndim_with_int_kernel(ndim, kernel, volume):
    assert conv_params(3, 8, kernel, ndim=ndim) == 8 * 3 * volume + 8
    assert conv_params(3, 8, kernel, ndim=ndim, bias=False) == 8 * 3 * volume


def test_conv_params_tuple_kernels():
    assert conv_params(3, 8, (5,)) == 8 * 3 * 5 + 8  # Conv1d
    assert conv_params(3, 8, (3, 5)) == 8 * 3 * 15 + 8  # Conv2d, non-square
    assert conv_params(3, 8, (3, 5), ndim=2) == 8 * 3 * 15 + 8
    assert conv_params(3, 8, (3, 3, 3), ndim=3) == 8 * 3 * 27 + 8  # Conv3d
    assert conv_params(3, 8, (2, 3, 4), ndim=3, bias=False) == 8 * 3 * 24
    assert conv_params(4, 8, [3, 3]) == conv_params(4, 8, 3)


# --------------------------------------------------------------------------- #
# Transposed and separable convolution
# --------------------------------------------------------------------------- #


def test_conv_transpose_params():
    # weight (C_in, C_out/g, *k)
    assert conv_transpose_params(128, 64, 2) == 128 * 64 * 4 + 64 == 32832
    assert conv_transpose_params(128, 64, 2, bias=False) == 32768
    assert conv_transpose_params(4, 6, 3, groups=2) == 4 * 3 * 9 + 6
    assert conv_transpose_params(16, 8, 4, ndim=1) == 16 * 8 * 4 + 8
    assert conv_transpose_params(16, 8, (2, 2, 2)) == 16 * 8 * 8 + 8
    assert conv_transpose_params(3, 5, (2, 3)) == 3 * 5 * 6 + 5


def test_conv_transpose_params_equal_conv_params_without_groups():
    # ungrouped, the weight has C_in * C_out * prod(k) entries either way
    for cin, cout, k in [(3, 5, 3), (64, 32, 2), (1, 7, (2, 5))]:
        assert conv_transpose_params(cin, cout, k) == conv_params(cin, cout, k)


def test_conv_transpose_params_grouped_differs_from_conv_by_layout_only():
    # torch: ConvTranspose weight (C_in, C_out/g, k, k); Conv weight (C_out, C_in/g, k, k)
    assert conv_transpose_params(8, 4, 3, groups=2, bias=False) == 8 * 2 * 9
    assert conv_params(8, 4, 3, groups=2, bias=False) == 4 * 4 * 9


def test_separable_conv_params_keras():
    # depthwise prod(k)*C_in*dm + pointwise C_in*dm*filters + filters
    assert separable_conv_params(32, 64, 3) == 9 * 32 + 32 * 64 + 64 == 2400
    assert separable_conv_params(32, 64, 3, bias=False) == 9 * 32 + 32 * 64
    assert separable_conv_params(16, 8, 3, depth_multiplier=2) == 9 * 16 * 2 + 16 * 2 * 8 + 8
    assert separable_conv_params(3, 4, (3, 5)) == 15 * 3 + 3 * 4 + 4
    assert separable_conv_params(3, 4, 5, ndim=1) == 5 * 3 + 3 * 4 + 4


def test_separable_equals_depthwise_plus_pointwise():
    # two torch convs: depthwise (groups=C_in, no bias) then 1x1 with bias
    cin, filters, k, dm = 24, 40, 3, 2
    depthwise = conv_params(cin, cin * dm, k, groups=cin, bias=False)
    pointwise = conv_params(cin * dm, filters, 1)
    assert separable_conv_params(cin, filters, k, depth_multiplier=dm) == depthwise + pointwise


# --------------------------------------------------------------------------- #
# Linear
# --------------------------------------------------------------------------- #


def test_linear_params():
    assert linear_params(400, 512) == 205312
    assert linear_params(512, 25) == 12825
    assert linear_params(512, 25, bias=False) == 12800
    assert linear_params(1, 1) == 2


def test_linear_equals_1x1_conv():
    assert linear_params(256, 10) == conv_params(256, 10, 1)


# --------------------------------------------------------------------------- #
# Normalisation
# --------------------------------------------------------------------------- #


def test_batchnorm_torch():
    count = batchnorm_params(64)
    assert isinstance(count, ParamCount)
    assert count.trainable == 128  # weight, bias
    assert count.non_trainable == 0
    assert count.buffers == 129  # running_mean, running_var, num_batches_tracked
    assert count.total == 128
    assert count == ParamCount(128, 0, 129)


def test_batchnorm_torch_affine_false():
    count = batchnorm_params(64, affine=False)
    assert count.trainable == 0
    assert count.total == 0
    assert count.buffers == 129  # the running statistics are still kept


def test_batchnorm_torch_no_running_stats():
    count = batchnorm_params(64, track_running_stats=False)
    assert count.trainable == 128
    assert count.buffers == 0
    assert batchnorm_params(64, affine=False, track_running_stats=False) == ParamCount(0, 0, 0)


@pytest.mark.parametrize("channels", [1, 25, 50, 64, 75, 2048])
def test_batchnorm_keras(channels):
    count = batchnorm_params(channels, convention="keras")
    assert count.total == 4 * channels  # count_params()
    assert count.trainable == 2 * channels  # gamma, beta
    assert count.non_trainable == 2 * channels  # moving_mean, moving_variance
    assert count.buffers == 0


def test_batchnorm_keras_without_center_and_scale():
    # center=scale=False: only the 2C moving statistics, non-trainable
    count = batchnorm_params(64, affine=False, convention="keras")
    assert count.trainable == 0
    assert count.non_trainable == 128
    assert count.total == 128


def test_groupnorm_params():
    assert groupnorm_params(32, 256) == 512
    assert groupnorm_params(1, 7) == 14
    assert groupnorm_params(8, 64) == groupnorm_params(4, 64) == 128  # groups do not change the count
    assert groupnorm_params(32, 256, affine=False) == 0


def test_layernorm_params():
    assert layernorm_params(512) == 1024
    assert layernorm_params((512,)) == 1024
    assert layernorm_params((64, 7, 7)) == 2 * 64 * 49 == 6272
    assert layernorm_params([10, 10]) == 200


def test_layernorm_without_bias():
    assert layernorm_params(512, bias=False) == 512
    assert layernorm_params((64, 7, 7), bias=False) == 3136


def test_layernorm_without_affine():
    assert layernorm_params(512, elementwise_affine=False) == 0
    assert layernorm_params((64, 7, 7), elementwise_affine=False) == 0
    assert layernorm_params((64, 7, 7), elementwise_affine=False, bias=False) == 0


# --------------------------------------------------------------------------- #
# Published numbers (single layers)
# --------------------------------------------------------------------------- #


PUBLISHED_SINGLE_LAYERS = [
    # torchvision AlexNet (published_numbers.md 3.2, table)
    ("alexnet.features.0 conv(11, 3->64)", lambda: conv_params(3, 64, 11), 23_296),
    ("alexnet.features.3 conv(5, 64->192)", lambda: conv_params(64, 192, 5), 307_392),
    ("alexnet.features.6 conv(3, 192->384)", lambda: conv_params(192, 384, 3), 663_936),
    ("alexnet.features.8 conv(3, 384->256)", lambda: conv_params(384, 256, 3), 884_992),
    ("alexnet.features.10 conv(3, 256->256)", lambda: conv_params(256, 256, 3), 590_080),
    ("alexnet fc 9216->4096", lambda: linear_params(9216, 4096), 37_752_832),
    ("alexnet fc 4096->4096", lambda: linear_params(4096, 4096), 16_781_312),
    ("alexnet fc 4096->1000", lambda: linear_params(4096, 1000), 4_097_000),
    # original 2012 AlexNet, two GPUs = groups 2 on conv2/4/5
    ("alexnet2012 conv1", lambda: conv_params(3, 96, 11), 34_944),
    ("alexnet2012 conv2 (groups 2)", lambda: conv_params(96, 256, 5, groups=2), 307_456),
    ("alexnet2012 conv3", lambda: conv_params(256, 384, 3), 885_120),
    ("alexnet2012 conv4 (groups 2)", lambda: conv_params(384, 384, 3, groups=2), 663_936),
    ("alexnet2012 conv5 (groups 2)", lambda: conv_params(384, 256, 3, groups=2), 442_624),
    # VGG-16 (3.3): fc6 = 25088*4096 + 4096; weights without bias from the activation table
    ("vgg fc6", lambda: linear_params(25088, 4096), 102_764_544),
    ("vgg fc6 weights", lambda: linear_params(25088, 4096, bias=False), 102_760_448),
    ("vgg fc7 weights", lambda: linear_params(4096, 4096, bias=False), 16_777_216),
    ("vgg fc8 weights", lambda: linear_params(4096, 1000, bias=False), 4_096_000),
    ("vgg conv1_1 weights", lambda: conv_params(3, 64, 3, bias=False), 1_728),
    ("vgg conv1_2 weights", lambda: conv_params(64, 64, 3, bias=False), 36_864),
    ("vgg conv2_1 weights", lambda: conv_params(64, 128, 3, bias=False), 73_728),
    ("vgg conv2_2 weights", lambda: conv_params(128, 128, 3, bias=False), 147_456),
    ("vgg conv3_1 weights", lambda: conv_params(128, 256, 3, bias=False), 294_912),
    ("vgg conv3_2 weights", lambda: conv_params(256, 256, 3, bias=False), 589_824),
    ("vgg conv4_1 weights", lambda: conv_params(256, 512, 3, bias=False), 1_179_648),
    ("vgg conv4_2 weights", lambda: conv_params(512, 512, 3, bias=False), 2_359_296),
    # LeNet-5 (3.1): paper C1, C5, F6 and the "modern" per-layer list
    ("lenet C1", lambda: conv_params(1, 6, 5), 156),
    ("lenet C5", lambda: conv_params(16, 120, 5), 48_120),
    ("lenet F6", lambda: linear_params(120, 84), 10_164),
    ("lenet modern conv2", lambda: conv_params(6, 16, 5), 2_416),
    ("lenet modern fc 84->10", lambda: linear_params(84, 10), 850),
    # heads of torchvision ResNet-50 / ResNet-18 / MobileNetV2
    ("resnet50 fc", lambda: linear_params(2048, 1000), 2_049_000),
    ("resnet18 fc", lambda: linear_params(512, 1000), 513_000),
    ("mobilenet_v2 classifier", lambda: linear_params(1280, 1000), 1_281_000),
    # ConvTranspose2d(128, 64, 2) -- a U-Net up-convolution
    ("unet up-conv 128->64", lambda: conv_transpose_params(128, 64, 2), 32_832),
]


@pytest.mark.parametrize(
    ("count", "expected"),
    [pytest.param(count, expected, id=name) for name, count, expected in PUBLISHED_SINGLE_LAYERS],
)
def test_published_single_layer(count, expected):
    assert count() == expected


def test_lenet_paper_total_of_trainable_layers():
    # C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000; the conv/fc layers come from convcalc.
    c1, c5, f6 = conv_params(1, 6, 5), conv_params(16, 120, 5), linear_params(120, 84)
    c3 = 60 * 25 + 16  # sparse connectivity (Table I): 60 kernel pairs, 16 biases
    assert c1 + 12 + c3 + 32 + c5 + f6 == 60_000


def test_lenet_modern_total():
    layers = [conv_params(1, 6, 5), conv_params(6, 16, 5), conv_params(16, 120, 5)]
    layers += [linear_params(120, 84), linear_params(84, 10)]
    assert layers == [156, 2_416, 48_120, 10_164, 850]
    assert sum(layers) == 61_706


def test_vgg_classifier_total():
    total = linear_params(25088, 4096) + linear_params(4096, 4096) + linear_params(4096, 1000)
    assert total == 123_642_856


def test_vgg11_batchnorm_adds_twice_the_channels():
    # VGG-11 (config A) with BN: +5,504 params and the same amount of running-stat buffers
    channels = [64, 128, 256, 256, 512, 512, 512, 512]
    counts = [batchnorm_params(c) for c in channels]
    assert sum(c.trainable for c in counts) == 5_504
    assert sum(c.buffers - 1 for c in counts) == 5_504  # minus num_batches_tracked, one per layer


def test_mobilenet_v2_first_blocks():
    # features[0]: Conv(3->32, k3, s2, no bias) + BN(32) = 928
    block0 = conv_params(3, 32, 3, bias=False) + batchnorm_params(32).trainable
    assert block0 == 928
    # features[1] (t=1): depthwise 3x3 on 32 + BN + 1x1 32->16 (no bias) + BN = 896
    block1 = (
        conv_params(32, 32, 3, groups=32, bias=False)
        + batchnorm_params(32).trainable
        + conv_params(32, 16, 1, bias=False)
        + batchnorm_params(16).trainable
    )
    assert block1 == 896


def test_resnet18_head_and_bn_conventions():
    # ResNet-50: 26,560 BN channels -> 53,120 gamma/beta and 53,120 running-stat buffers
    assert batchnorm_params(26_560).trainable == 53_120
    assert batchnorm_params(26_560).buffers - 1 == 53_120
    # Keras counts the moving statistics as (non-trainable) parameters
    assert batchnorm_params(26_560, convention="keras").total == 2 * 53_120


@pytest.mark.parametrize("count", [convcalc.conv_params, convcalc.conv_transpose_params])
def test_a_kernel_of_other_axes_than_ndim_is_refused(count: Any) -> None:
    """``conv_params(3, 4, (5, 5), ndim=3)`` gave the 2-D count (304), where a Conv3d would fail; without ndim the
    tuple's axes decide, and an int kernel is square over ndim (2 where not given)."""
    import torch

    with pytest.raises(convcalc.SpecError, match=r"^kernel_size has 2 axes but ndim=3: give a kernel of 3 axes"):
        count(3, 4, (5, 5), ndim=3)
    layers = {1: (torch.nn.Conv1d, torch.nn.ConvTranspose1d), 3: (torch.nn.Conv3d, torch.nn.ConvTranspose3d)}
    for ndim, (conv, transposed) in layers.items():
        layer = (conv if count is convcalc.conv_params else transposed)(3, 4, 5)
        real = sum(p.numel() for p in layer.parameters())
        assert count(3, 4, (5,) * ndim) == count(3, 4, 5, ndim=ndim) == count(3, 4, (5,) * ndim, ndim=ndim) == real
    assert count(3, 4, 5) == count(3, 4, (5, 5))
