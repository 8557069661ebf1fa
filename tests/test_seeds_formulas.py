"""Every number in the five tutorial posts convcalc grew from (seeds 000..004), through the public API.

Each test names the seed and the passage it checks. Where a seed contains a
mistake (seed 004's ``Conv.forward``), the test writes the mistaken formula out
and shows that convcalc does not share it.
"""

from __future__ import annotations

import pytest

import convcalc
from convcalc import (
    ShapeError,
    batchnorm_params,
    conv_output_size,
    conv_params,
    im2col_shape,
    linear_params,
    pool_output_size,
    same_padding,
)

# --------------------------------------------------------------------------- #
# Seed 003: the output-size formula and its five exercises (+ the closing CNN)
# --------------------------------------------------------------------------- #


def test_seed003_exercise1_alexnet_conv1():
    # 227x227, filter 11x11, stride 4, padding 0 -> 55 (the post's torch run prints 55x55).
    assert conv_output_size(227, 11, stride=4, padding=0) == 55
    assert conv_output_size((227, 227), (11, 11), stride=(4, 4)) == (55, 55)
    # (227 - 11) / 4 is an integer, so the textbook check passes too.
    assert conv_output_size(227, 11, stride=4, strict=True) == 55


def test_seed003_exercise2_floor():
    # 64x64, filter 7x7, stride 2, padding 0: (64 - 7)/2 + 1 = 29.5 -> "소수점은 버린다" -> 29.
    assert conv_output_size(64, 7, stride=2, padding=0) == 29
    assert conv_output_size((64, 64), 7, stride=2) == (29, 29)


def test_seed003_exercise2_strict_says_what_fits():
    with pytest.raises(ShapeError, match=r"not an integer") as info:
        conv_output_size(64, 7, stride=2, padding=0, strict=True)
    message = str(info.value)
    # 63 and 65 are the nearest input sizes for which (W - 7) is divisible by 2.
    assert "63" in message
    assert "65" in message
    assert "Input sizes that fit: 63 or 65" in message
    assert conv_output_size(63, 7, stride=2, strict=True) == 29
    assert conv_output_size(65, 7, stride=2, strict=True) == 30


def test_seed003_exercise3_padding_keeps_size():
    # 32x32, filter 5x5, stride 1, padding 2 -> 32.
    assert conv_output_size(32, 5, stride=1, padding=2) == 32
    assert conv_output_size((32, 32), 5, 1, 2, strict=True) == (32, 32)


def test_seed003_exercise4_non_square():
    # ((32, 64) - 5 + 2*0)/1 + 1 = (28, 60), as the post works it out.
    assert conv_output_size((32, 64), 5, stride=1, padding=0) == (28, 60)


def test_seed003_exercise5_non_square_padded():
    # 64x32, filter 3x3, stride 1, padding 1 -> (64, 32).
    assert conv_output_size((64, 32), 3, stride=1, padding=1) == (64, 32)


def test_seed003_cnn_implementation_28_24_12():
    # conv1 = nn.Conv2d(1, 5, 5); pool = nn.MaxPool2d(2): 28 -> 24 -> 12.
    after_conv = conv_output_size(28, 5)
    assert after_conv == 24
    assert pool_output_size(after_conv, 2) == 12
    assert pool_output_size(conv_output_size((28, 28), 5), 2) == (12, 12)


def test_seed003_dilation_and_groups_defaults_do_not_change_size():
    # "dilation이나 groups 옵션은 잘 사용하지 않음": the defaults (dilation 1) change nothing.
    assert conv_output_size(227, 11, 4, 0, 1) == conv_output_size(227, 11, 4) == 55


# --------------------------------------------------------------------------- #
# Seed 001: torch Conv2d 'same'/'valid', MaxPool2d, and the MNIST CNN
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("size", [1, 2, 7, 14, 28, 31])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_seed001_same_keeps_input_size(size, kernel):
    # '"same": input의 height와 width와 동일한 output이 나오도록 padding을 추가한다.'
    assert conv_output_size(size, kernel, padding="same") == size
    assert conv_output_size((size, size + 3), kernel, padding="same") == (size, size + 3)


def test_seed001_valid_means_no_padding():
    # '"valid": padding을 사용하지 않는다.'
    assert conv_output_size(28, 3, padding="valid") == conv_output_size(28, 3, padding=0) == 26
    assert conv_output_size((28, 20), 3, padding="valid") == (26, 18)


def test_seed001_maxpool_2x2_halves():
    # '일반적으로 2*2 크기에 stride는 2를 사용한다. 이렇게 하면 shape을 각각 절반 크기로 줄인다.'
    assert pool_output_size(28, 2, stride=2) == 14
    assert pool_output_size(14, 2, stride=2) == 7
    assert pool_output_size(28, 2) == 14  # stride=None means stride = kernel_size


def test_seed001_maxpool_padding1_on_7_gives_4():
    # nn.MaxPool2d(kernel_size=2, stride=2, padding=1)  # input: 7 X 7 -> padding 1 ( 8 X 8)
    assert pool_output_size(7, 2, stride=2, padding=1) == 4


def test_seed001_mnist_cnn_chain_gives_2048_features():
    # b1, b2, b3: Conv2d(k3, padding="same") then MaxPool2d(2, 2), the last with padding=1.
    sizes = [28]
    for pool_padding in (0, 0, 1):
        after_conv = conv_output_size(sizes[-1], 3, stride=1, padding="same")
        assert after_conv == sizes[-1]
        sizes.append(pool_output_size(after_conv, 2, stride=2, padding=pool_padding))
    assert sizes == [28, 14, 7, 4]
    # nn.Linear(in_features=128*4*4, ...); the printed model says in_features=2048.
    assert 128 * sizes[-1] * sizes[-1] == 2048
    assert conv_output_size((28, 28), 3, padding="same") == (28, 28)
    assert pool_output_size((7, 7), 2, 2, padding=1) == (4, 4)


# --------------------------------------------------------------------------- #
# Seed 002: the Keras summary table
# --------------------------------------------------------------------------- #

# (layer, params) in the order of the printed summary.
KERAS_SUMMARY = [
    ("conv2d_6", 750),
    ("batch_normalization", 300),
    ("conv2d_7", 33800),
    ("batch_normalization_1", 200),
    ("conv2d_8", 11275),
    ("batch_normalization_2", 100),
    ("dense", 205312),
    ("dense_1", 12825),
]


def test_seed002_conv_params():
    # number_parameters = out_channels * (in_channels * kernel_h * kernel_w + 1)
    assert conv_params(1, 75, 3) == 750
    assert conv_params(1, 75, (3, 3)) == 75 * (1 * 3 * 3 + 1)
    assert conv_params(75, 50, 3) == 33800
    assert conv_params(50, 25, 3) == 11275


@pytest.mark.parametrize(("channels", "expected"), [(75, 300), (50, 200), (25, 100)])
def test_seed002_batchnorm_keras(channels, expected):
    count = batchnorm_params(channels, convention="keras")
    assert count.total == expected
    assert count.trainable == 2 * channels  # gamma, beta
    assert count.non_trainable == 2 * channels  # moving mean, moving variance


def test_seed002_dense_params():
    assert linear_params(400, 512) == 205312
    assert linear_params(512, 25) == 12825


def test_seed002_output_shapes():
    # conv2d_6 (None, 28, 28, 75): W = 28, F = 3, P = 1, S = 1 -> 28 (the post's own worked example).
    assert conv_output_size(28, 3, stride=1, padding=1) == 28
    assert conv_output_size(28, 3, padding="same", convention="keras") == 28
    # max_pooling2d: 28 -> 14, max_pooling2d_1: 14 -> 7
    assert pool_output_size(28, 2, convention="keras") == 14
    assert pool_output_size(14, 2, convention="keras") == 7
    # max_pooling2d_2 (None, 4, 4, 25): 7 -> 4 needs Keras 'same' pooling.
    assert pool_output_size(7, 2, padding="same", convention="keras") == 4
    assert pool_output_size(7, 2, padding="valid", convention="keras") == 3
    # flatten (None, 400)
    assert 4 * 4 * 25 == 400


def test_seed002_totals_add_up():
    counts = {
        "conv2d_6": conv_params(1, 75, 3),
        "batch_normalization": batchnorm_params(75, convention="keras"),
        "conv2d_7": conv_params(75, 50, 3),
        "batch_normalization_1": batchnorm_params(50, convention="keras"),
        "conv2d_8": conv_params(50, 25, 3),
        "batch_normalization_2": batchnorm_params(25, convention="keras"),
        "dense": linear_params(400, 512),
        "dense_1": linear_params(512, 25),
    }

    def total(value):
        return value.total if isinstance(value, convcalc.ParamCount) else value

    def trainable(value):
        return value.trainable if isinstance(value, convcalc.ParamCount) else value

    def non_trainable(value):
        return value.non_trainable if isinstance(value, convcalc.ParamCount) else 0

    assert [(name, total(counts[name])) for name, _ in KERAS_SUMMARY] == KERAS_SUMMARY
    assert sum(total(v) for v in counts.values()) == 264_562  # Total params
    assert sum(trainable(v) for v in counts.values()) == 264_262  # Trainable params
    assert sum(non_trainable(v) for v in counts.values()) == 300  # Non-trainable params


def test_seed002_same_on_3x3_with_2x2_kernel():
    # Conv2D(1, (2, 2), padding='same', input_shape=(3, 3, 1)): total padding 1, the extra at the end.
    assert same_padding(3, 2) == (0, 1)
    assert same_padding(3, 2, convention="keras") == (0, 1)
    assert same_padding((3, 3), (2, 2)) == ((0, 1), (0, 1))
    assert conv_output_size((3, 3), 2, padding="same") == (3, 3)
    assert conv_output_size((3, 3), 2, padding="same", convention="keras") == (3, 3)


def test_seed002_multichannel_same_example():
    # Conv2D(2, (2, 2), padding='same', input_shape=(3, 3, 3)) -> output_shape (3, 3, 2).
    assert conv_output_size((3, 3), (2, 2), padding="same", convention="keras") == (3, 3)
    assert conv_params(3, 2, (2, 2)) == 2 * (3 * 2 * 2 + 1)
    # Conv2D(3, (2, 2), padding='same', input_shape=(3, 3, 1)): three filters, three output maps.
    assert conv_params(1, 3, 2) == 3 * (1 * 2 * 2 + 1)


# --------------------------------------------------------------------------- #
# Seed 000: 32x32x3 -> 28x28x4 with 5x5x3 kernels
# --------------------------------------------------------------------------- #


def test_seed000_kernel_parameters():
    # "필요한 파라미터 개수는 총 5*5*3*4 = 300 개" (kernels only, no bias).
    assert conv_params(3, 4, 5, bias=False) == 300
    assert conv_params(3, 4, (5, 5), bias=False) == 5 * 5 * 3 * 4
    assert conv_params(3, 4, 5) == 304  # with one bias per output channel


def test_seed000_output_size():
    # 32*32*3 image -> 28*28 with a 5*5*3 kernel.
    assert conv_output_size((32, 32), 5) == (28, 28)


def test_seed000_cnn_class_flatten_size():
    # ConvolutionalNeuralNetworkClass(xdim=[1,28,28], ksize=3, cdims=[32,64]):
    # conv(k3, padding=ksize//2) keeps the size, max-pool 2 halves it, twice.
    size = 28
    for _ in (32, 64):
        size = conv_output_size(size, 3, stride=1, padding=3 // 2)
        size = pool_output_size(size, 2, stride=2)
    # prev_hdim = prev_cdim*(xdim[1]//(2**len(cdims)))*(xdim[2]//(2**len(cdims)))
    assert size == 28 // 2**2 == 7
    assert 64 * size * size == 3136


# --------------------------------------------------------------------------- #
# Seed 004: im2col shapes, and the bug in Conv.forward
# --------------------------------------------------------------------------- #


def test_seed004_im2col_shapes():
    # x1 = np.random.rand(1,3,7,7); col1 = im2col(x1, 5, 5, stride=1, pad=0) -> (9, 75)
    assert im2col_shape((1, 3, 7, 7), 5, stride=1, padding=0) == (9, 75)
    assert im2col_shape((1, 3, 7, 7), (5, 5)) == (9, 75)
    # x2 = np.random.rand(10,3,7,7) -> (90, 75)
    assert im2col_shape((10, 3, 7, 7), 5, stride=1, padding=0) == (90, 75)


def seed004_im2col_out(size, kernel, stride, pad):
    """Seed 004's im2col: ``out_h = 1 + int((H + 2 * pad - FH) / stride)`` (correct)."""
    return 1 + int((size + 2 * pad - kernel) / stride)


def seed004_conv_forward_out(size, kernel, stride, pad):
    """Seed 004's Conv.forward, verbatim: ``out_h = int(1 + H+ 2 * self.pad -FH / self.stride)``.

    The parentheses are missing: only FH is divided by the stride.
    """
    return int(1 + size + 2 * pad - kernel / stride)


def test_seed004_buggy_forward_example():
    # H = 7, FH = 3, stride 2: the buggy line gives int(1 + 7 - 1.5) = 6; the real size is 3.
    assert seed004_conv_forward_out(7, 3, 2, 0) == 6
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_output_size(7, 3, stride=2) != seed004_conv_forward_out(7, 3, 2, 0)


def test_seed004_buggy_forward_differs_whenever_stride_above_1():
    checked = 0
    for size in range(2, 41):
        for pad in range(3):
            for kernel in range(1, size + 2 * pad + 1):
                for stride in range(1, 5):
                    correct = conv_output_size(size, kernel, stride, pad)
                    # the seed's own im2col agrees with convcalc everywhere
                    assert correct == seed004_im2col_out(size, kernel, stride, pad)
                    buggy = seed004_conv_forward_out(size, kernel, stride, pad)
                    if stride == 1:
                        assert buggy == correct
                    else:
                        assert buggy != correct, (size, kernel, stride, pad)
                        checked += 1
    assert checked > 1000


def test_seed004_pooling_forward_formula_agrees():
    # Pooling.forward: out_h = int(1 + (H - self.pool_h) / self.stride)
    for size in range(2, 30):
        for pool in range(1, size + 1):
            for stride in range(1, 4):
                expected = int(1 + (size - pool) / stride)
                assert pool_output_size(size, pool, stride) == expected
