"""One test per error rule of the formulas and parameter counts.

Each case names the rule, the exception class, and the key fragment of its
message. Every case also checks the contract all messages share: the error is
a ``ConvCalcError`` (so a ``ValueError``) and the message ends with the
arguments received (``Received: name=value, ...``).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import (
    ConvCalcError,
    ShapeError,
    SpecError,
    batchnorm_params,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    conv_transpose_params,
    groupnorm_params,
    im2col_shape,
    layernorm_params,
    linear_params,
    pool_output_size,
    same_padding,
    separable_conv_params,
    upsample_output_size,
)

H = convcalc.symbols("H")


def case(rule, call, error, match):
    return pytest.param(call, error, match, id=rule)


CASES = [
    # --- non-positive sizes and hyperparameters -------------------------------------------
    case("size-zero", lambda: conv_output_size(0, 3), ShapeError, r"size must be at least 1"),
    case("size-negative", lambda: conv_output_size(-3, 3), ShapeError, r"size must be at least 1"),
    case("pool-size-zero", lambda: pool_output_size(0, 2), ShapeError, r"size must be at least 1"),
    case("kernel-zero", lambda: conv_output_size(5, 0), SpecError, r"kernel_size must be at least 1"),
    case("kernel-negative", lambda: pool_output_size(5, -2), SpecError, r"kernel_size must be at least 1"),
    case("stride-zero", lambda: conv_output_size(5, 3, stride=0), SpecError, r"stride must be at least 1"),
    case("pool-stride-zero", lambda: pool_output_size(5, 2, stride=0), SpecError, r"stride must be at least 1"),
    case("dilation-zero", lambda: conv_output_size(5, 3, dilation=0), SpecError, r"dilation must be at least 1"),
    case(
        "transpose-dilation-zero",
        lambda: conv_transpose_output_size(5, 3, dilation=0),
        SpecError,
        r"dilation must be at least 1",
    ),
    case("padding-negative", lambda: conv_output_size(5, 3, padding=-1), SpecError, r"padding must be at least 0"),
    case("pool-padding-negative", lambda: pool_output_size(5, 3, padding=-1), SpecError, r"padding must be at least 0"),
    case(
        "output-padding-negative",
        lambda: conv_transpose_output_size(5, 3, 2, output_padding=-1),
        SpecError,
        r"output_padding must be at least 0",
    ),
    # --- padding strings -------------------------------------------------------------------
    case(
        "torch-padding-is-case-sensitive",
        lambda: conv_output_size(5, 3, padding="SAME"),
        SpecError,
        r"padding must be one of 'same', 'valid'.*Received: padding='SAME'",
    ),
    case(
        "torch-padding-Same",
        lambda: conv_output_size(5, 3, padding="Same"),
        SpecError,
        r"padding must be one of 'same', 'valid'",
    ),
    case(
        "unknown-padding-string",
        lambda: conv_output_size(5, 3, padding="full"),
        SpecError,
        r"padding must be one of 'same', 'valid'.*Received: padding='full'",
    ),
    case(
        "keras-unknown-padding-string",
        lambda: conv_output_size(5, 3, padding="full", convention="keras"),
        SpecError,
        r"padding must be one of 'same', 'valid'",
    ),
    case(
        "causal-only-keras-1d",
        lambda: conv_output_size(5, 3, padding="causal"),
        SpecError,
        r"padding='causal' exists only for 1-D Keras convolutions",
    ),
    case(
        "torch-pool-string-padding",
        lambda: pool_output_size(8, 2, padding="same"),
        SpecError,
        r"torch pooling takes a numeric padding, not 'same'",
    ),
    case(
        "torch-transpose-string-padding",
        lambda: conv_transpose_output_size(8, 2, padding="same"),
        SpecError,
        r"torch transposed convolutions take a numeric padding, not 'same'",
    ),
    case(
        "unknown-convention",
        lambda: conv_output_size(5, 3, convention="tensorflow"),
        SpecError,
        r"convention must be one of 'torch', 'keras'",
    ),
    # --- per-axis tuples -------------------------------------------------------------------
    case(
        "tuple-length-mismatch",
        lambda: conv_output_size((5, 6), (3, 3, 3)),
        SpecError,
        r"agree in length \(size has 2, kernel_size has 3\)",
    ),
    case(
        "tuple-length-mismatch-stride",
        lambda: pool_output_size((8, 8), 2, stride=(2, 2, 2)),
        SpecError,
        r"agree in length",
    ),
    case("empty-tuple", lambda: conv_output_size((), 3), SpecError, r"must not be empty"),
    # --- kernel larger than the padded input -----------------------------------------------
    case(
        "kernel-larger-than-input",
        lambda: conv_output_size(2, 5),
        ShapeError,
        r"kernel_size=5 is larger than the padded input 2 \+ 2\*0 = 2\. An input of at least 5 fits",
    ),
    case(
        "kernel-larger-than-padded-input",
        lambda: conv_output_size(2, 7, padding=1),
        ShapeError,
        r"larger than the padded input 2 \+ 2\*1 = 4\. An input of at least 5 fits, or padding >= 3",
    ),
    case(
        "dilated-kernel-larger-than-input",
        lambda: conv_output_size(4, 3, dilation=2),
        ShapeError,
        r"dilation 2: spans 5.*An input of at least 5 fits",
    ),
    case(
        "kernel-larger-on-axis-1",
        lambda: conv_output_size((9, 4), 5),
        ShapeError,
        r"on axis 1\. An input of at least 5 fits",
    ),
    case(
        "pool-window-larger-than-input",
        lambda: pool_output_size(2, 3),
        ShapeError,
        r"kernel_size=3 is larger than the padded input.*An input of at least 3 fits",
    ),
    case(
        "keras-valid-kernel-larger-than-input",
        lambda: conv_output_size(2, 3, padding="valid", convention="keras"),
        ShapeError,
        r"would be zero or negative.*an input of at least 3 fits, or padding='same'",
    ),
    case(
        "keras-pool-larger-than-input",
        lambda: pool_output_size(2, 3, convention="keras"),
        ShapeError,
        r"pool_size=3 does not fit an input of 2; an input of at least 3 fits",
    ),
    case(
        "im2col-kernel-larger-than-input",
        lambda: im2col_shape((1, 3, 4, 4), 5),
        ShapeError,
        r"An input of at least 5 fits",
    ),
    # --- 'same' padding and Keras rules ----------------------------------------------------
    case(
        "torch-same-with-stride-2",
        lambda: conv_output_size(8, 3, stride=2, padding="same"),
        SpecError,
        r"padding='same' is not supported for strided convolutions in torch \(stride=2\)",
    ),
    case(
        "torch-same-padding-with-stride-2",
        lambda: same_padding(7, 3, stride=2),
        SpecError,
        r"padding='same' is not supported for strided convolutions",
    ),
    case(
        "keras-stride-with-dilation",
        lambda: conv_output_size(8, 3, stride=2, dilation=2, convention="keras"),
        SpecError,
        r"`strides > 1` not supported in conjunction with `dilation_rate > 1` \(Keras: any stride above 1",
    ),
    case(
        "keras-same-stride-with-dilation",
        lambda: conv_output_size(8, 3, stride=2, padding="same", dilation=2, convention="keras"),
        SpecError,
        r"`strides > 1` not supported in conjunction with `dilation_rate > 1`",
    ),
    case(
        "keras-numeric-padding",
        lambda: conv_output_size(8, 3, padding=1, convention="keras"),
        SpecError,
        r"Keras convolutions take padding='valid' or 'same', not a number",
    ),
    case(
        "keras-pool-numeric-padding",
        lambda: pool_output_size(8, 2, padding=1, convention="keras"),
        SpecError,
        r"Keras pooling takes padding='valid' or 'same', not a number",
    ),
    case(
        "keras-pool-dilation",
        lambda: pool_output_size(8, 2, dilation=2, convention="keras"),
        SpecError,
        r"Keras pooling has no dilation",
    ),
    case(
        "keras-pool-ceil-mode",
        lambda: pool_output_size(8, 2, ceil_mode=True, convention="keras"),
        SpecError,
        r"Keras pooling has no ceil_mode",
    ),
    # --- torch pooling padding -------------------------------------------------------------
    case(
        "pool-padding-above-half-kernel",
        lambda: pool_output_size(8, 3, padding=2),
        SpecError,
        r"padding=2 is more than half of kernel_size=3: torch allows padding <= 1",
    ),
    case(
        "pool-padding-above-half-even-kernel",
        lambda: pool_output_size(8, 2, padding=2),
        SpecError,
        r"padding=2 is more than half of kernel_size=2: torch allows padding <= 1",
    ),
    case(
        # torch checks the raw kernel for max pooling: k=3, d=2, p=2 is rejected although dk = 5.
        "pool-padding-half-of-raw-kernel",
        lambda: pool_output_size(9, 3, padding=2, dilation=2),
        SpecError,
        r"more than half of kernel_size=3",
    ),
    # --- transposed convolution ------------------------------------------------------------
    case(
        "torch-output-padding-not-below-stride-or-dilation",
        lambda: conv_transpose_output_size(4, 3, stride=2, output_padding=2),
        SpecError,
        r"output_padding=2 must be smaller than either stride=2 or dilation=1",
    ),
    case(
        "torch-output-padding-not-below-dilation",
        lambda: conv_transpose_output_size(4, 3, stride=1, output_padding=2, dilation=2),
        SpecError,
        r"output_padding=2 must be smaller than either stride=1 or dilation=2",
    ),
    case(
        "keras-output-padding-not-below-stride",
        lambda: conv_transpose_output_size(4, 3, stride=2, padding="same", output_padding=2, convention="keras"),
        SpecError,
        r"output_padding=2 must be strictly less than strides=2",
    ),
    case(
        # Keras is stricter than torch: dilation does not help.
        "keras-output-padding-dilation-does-not-help",
        lambda: conv_transpose_output_size(
            4, 3, stride=1, padding="valid", output_padding=1, dilation=2, convention="keras"
        ),
        SpecError,
        r"output_padding=1 must be strictly less than strides=1",
    ),
    case(
        "transpose-output-too-small",
        lambda: conv_transpose_output_size(1, 2, stride=1, padding=1),
        ShapeError,
        r"output size would be 0.*too small: reduce padding below 1",
    ),
    # --- groups and normalisation ----------------------------------------------------------
    case(
        "groups-do-not-divide-in-channels",
        lambda: conv_params(6, 4, 3, groups=4),
        SpecError,
        r"in_channels must be divisible by groups: 6 % 4 = 2",
    ),
    case(
        "groups-do-not-divide-out-channels",
        lambda: conv_params(4, 6, 3, groups=4),
        SpecError,
        r"out_channels must be divisible by groups: 6 % 4 = 2",
    ),
    case(
        "transpose-groups-do-not-divide",
        lambda: conv_transpose_params(3, 3, 2, groups=2),
        SpecError,
        r"in_channels must be divisible by groups: 3 % 2 = 1",
    ),
    case("groups-zero", lambda: conv_params(4, 4, 3, groups=0), SpecError, r"groups must be at least 1"),
    case(
        "groupnorm-channels-not-divisible",
        lambda: groupnorm_params(8, 60),
        SpecError,
        r"num_channels must be divisible by num_groups: 60 % 8 = 4",
    ),
    case("linear-zero-features", lambda: linear_params(0, 10), SpecError, r"in_features must be at least 1"),
    case("batchnorm-negative", lambda: batchnorm_params(-1), SpecError, r"num_features must be at least 1"),
    case("layernorm-empty-shape", lambda: layernorm_params(()), SpecError, r"normalized_shape must not be empty"),
    case(
        "separable-zero-depth-multiplier",
        lambda: separable_conv_params(32, 64, 3, depth_multiplier=0),
        SpecError,
        r"depth_multiplier must be at least 1",
    ),
    # --- wrong types where ints are expected -----------------------------------------------
    case("bool-kernel", lambda: conv_output_size(5, True), SpecError, r"kernel_size must be an integer"),
    case("float-kernel", lambda: conv_output_size(5, 3.0), SpecError, r"kernel_size must be an integer"),
    case("str-kernel", lambda: conv_output_size(5, "3"), SpecError, r"kernel_size must be an integer"),
    case("none-kernel", lambda: conv_output_size(5, None), SpecError, r"kernel_size must be an integer"),
    case("float-stride", lambda: conv_output_size(5, 3, stride=1.5), SpecError, r"stride must be an integer"),
    case("bool-padding", lambda: conv_output_size(5, 3, padding=False), SpecError, r"padding must be an integer"),
    case("float-padding", lambda: pool_output_size(5, 3, padding=1.0), SpecError, r"padding must be an integer"),
    case("float-dilation", lambda: conv_output_size(5, 3, dilation=2.0), SpecError, r"dilation must be an integer"),
    case("bool-in-channels", lambda: conv_params(True, 4, 3), SpecError, r"in_channels must be an integer"),
    case("float-in-channels", lambda: conv_params(3.0, 4, 3), SpecError, r"in_channels must be an integer"),
    case("float-kernel-params", lambda: conv_params(3, 4, 3.5), SpecError, r"kernel_size must be an integer"),
    case("str-in-features", lambda: linear_params("3", 4), SpecError, r"in_features must be an integer"),
    case("none-out-features", lambda: linear_params(3, None), SpecError, r"out_features must be an integer"),
    case("none-layernorm-dim", lambda: layernorm_params((4, None)), SpecError, r"normalized_shape must be an integer"),
    case("bool-num-features", lambda: batchnorm_params(False), SpecError, r"num_features must be an integer"),
    # sizes are ints too: a wrong type is an invalid argument (SpecError), not a layer that
    # does not fit its input (ShapeError).
    case("bool-size", lambda: conv_output_size(True, 3), SpecError, r"size must be an integer"),
    case("float-size", lambda: conv_output_size(5.0, 3), SpecError, r"size must be an integer"),
    case("str-size", lambda: conv_output_size("5", 3), SpecError, r"size must be an integer"),
    case("none-size", lambda: conv_output_size(None, 3), SpecError, r"size must be an integer"),
    case("float-size-pool", lambda: pool_output_size(28.0, 2), SpecError, r"size must be an integer"),
    case("float-size-in-tuple", lambda: conv_output_size((32, 64.0), 5), SpecError, r"size must be an integer"),
    # --- flags -----------------------------------------------------------------------------
    case("strict-not-bool", lambda: conv_output_size(5, 3, strict=1), SpecError, r"strict must be True or False"),
    case(
        "ceil-mode-not-bool",
        lambda: pool_output_size(5, 3, ceil_mode=None),
        SpecError,
        r"ceil_mode must be True or False",
    ),
    case("bias-not-bool", lambda: conv_params(3, 4, 3, bias=1), SpecError, r"bias must be True or False"),
    case(
        "affine-not-bool",
        lambda: batchnorm_params(4, affine="yes"),
        SpecError,
        r"affine must be True or False",
    ),
    # --- symbols where only sizes may be symbolic ------------------------------------------
    case(
        "symbol-as-kernel",
        lambda: conv_output_size(5, H),
        SpecError,
        r"kernel_size must be a concrete integer; symbols stand for sizes only",
    ),
    case(
        "symbol-as-stride",
        lambda: conv_output_size(H, 3, stride=H),
        SpecError,
        r"stride must be a concrete integer; symbols stand for sizes only",
    ),
    case(
        "symbol-as-pool-kernel",
        lambda: pool_output_size(H, H),
        SpecError,
        r"kernel_size must be a concrete integer",
    ),
    case(
        "symbol-as-channels",
        lambda: conv_params(H, 4, 3),
        SpecError,
        r"in_channels must be a concrete integer",
    ),
    case(
        "non-integer-symbol-size",
        lambda: conv_output_size(sympy.Symbol("x"), 3),
        ConvCalcError,
        r"symbolic sizes must be integer-valued in positive integer symbols; make symbols with convcalc\.symbols",
    ),
    case(
        "real-symbol-size",
        lambda: conv_output_size(sympy.Symbol("x", real=True), 3),
        ConvCalcError,
        r"symbolic sizes must be integer-valued in positive integer symbols",
    ),
    case(
        "integer-but-not-positive-symbol-size",
        lambda: conv_output_size(sympy.Symbol("n", integer=True), 3),
        ConvCalcError,
        r"positive integer symbols",
    ),
    case(
        "fractional-expression-size",
        lambda: conv_output_size(H / 2, 3),
        ConvCalcError,
        r"symbolic sizes must be integer-valued",
    ),
    # --- numpy arrays ----------------------------------------------------------------------
    case(
        "float-array-size",
        lambda: conv_output_size(np.array([5.0, 6.0]), 3),
        SpecError,
        r"size must be an integer array; got dtype float64",
    ),
    case(
        "float-array-kernel",
        lambda: conv_output_size(7, np.array([3.0])),
        SpecError,
        r"kernel_size must be an integer array; got dtype float64",
    ),
    case(
        "bool-array-size",
        lambda: conv_output_size(np.array([True, False]), 3),
        SpecError,
        r"size must be an integer, not a boolean",
    ),
    case(
        "array-entry-too-small",
        lambda: conv_output_size(np.array([5, 6, 2, 7]), 3),
        ShapeError,
        r"first failing entry: index \(2,\)",
    ),
    case(
        "array-kernel-entry-zero",
        lambda: conv_output_size(7, np.array([3, 0, 3])),
        SpecError,
        r"kernel_size must be at least 1; entry 1 is 0",
    ),
    case(
        "array-too-large-for-a-double",
        lambda: upsample_output_size(np.array([2**53]), scale_factor=0.5),
        ConvCalcError,
        r"applied in double precision, exact only for sizes below 2\*\*53",
    ),
    # --- upsampling ------------------------------------------------------------------------
    case(
        "upsample-both-size-and-factor",
        lambda: upsample_output_size(4, output_size=8, scale_factor=2),
        SpecError,
        r"give exactly one of output_size and scale_factor",
    ),
    case(
        "upsample-neither-size-nor-factor",
        lambda: upsample_output_size(4),
        SpecError,
        r"give exactly one of output_size and scale_factor",
    ),
    case(
        "upsample-output-zero",
        lambda: upsample_output_size(3, scale_factor=0.2),
        ShapeError,
        r"output size would be 0 \(floor\(3 \* 0\.2\)\); torch needs at least 1",
    ),
    case(
        "upsample-output-size-zero",
        lambda: upsample_output_size(3, output_size=0),
        SpecError,
        r"output_size must be at least 1",
    ),
    case(
        "upsample-area-output-size-negative",
        lambda: upsample_output_size(3, output_size=-1, mode="area"),
        SpecError,
        r"output_size must be at least 0",
    ),
    case(
        "upsample-unknown-mode",
        lambda: upsample_output_size(3, scale_factor=2, mode="cubic"),
        SpecError,
        r"mode must be one of 'nearest'.*\. Received: size=3, output_size=None, scale_factor=2, mode='cubic'$",
    ),
    case(
        "upsample-negative-factor",
        lambda: upsample_output_size(3, scale_factor=-2.0),
        SpecError,
        r"scale_factor must be a positive finite number",
    ),
    case(
        "upsample-infinite-factor",
        lambda: upsample_output_size(3, scale_factor=float("inf")),
        SpecError,
        r"scale_factor must be a positive finite number",
    ),
    case(
        "keras-upsample-float-factor",
        lambda: upsample_output_size(3, scale_factor=1.5, convention="keras"),
        SpecError,
        r"scale_factor must be an integer",
    ),
    case(
        "keras-upsample-output-size",
        lambda: upsample_output_size(3, output_size=6, convention="keras"),
        SpecError,
        r"Keras UpSampling takes integer factors",
    ),
    # --- strict mode -----------------------------------------------------------------------
    case(
        "strict-stride-does-not-divide",
        lambda: conv_output_size(64, 7, stride=2, strict=True),
        ShapeError,
        r"\(W - F \+ 2P\) / S = \(64 - 7 \+ 2\*0\) / 2 = 57/2 is not an integer.*"
        r"Input sizes that fit: 63 or 65; no symmetric padding fits",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), CASES)
def test_error_rule(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, ConvCalcError)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Received:" in message
    assert message.count("Received:") == 1


def test_error_hierarchy():
    assert issubclass(ShapeError, ConvCalcError)
    assert issubclass(SpecError, ConvCalcError)
    assert issubclass(ConvCalcError, ValueError)
    assert not issubclass(ShapeError, SpecError)
    assert not issubclass(SpecError, ShapeError)


def test_errors_are_caught_as_value_error():
    with pytest.raises(ValueError, match="Received: size=2, kernel_size=5"):
        conv_output_size(2, 5)


def test_received_lists_the_call_arguments():
    with pytest.raises(ShapeError) as info:
        conv_output_size(2, 5, stride=1, padding=0)
    assert str(info.value).endswith("Received: size=2, kernel_size=5, stride=1, padding=0, dilation=1")


def test_keras_padding_strings_are_case_insensitive():
    # The other side of the torch rule above: Keras lower-cases padding strings.
    assert conv_output_size(5, 3, padding="SAME", convention="keras") == 5
    assert conv_output_size(5, 3, padding="Valid", convention="keras") == 3
    assert pool_output_size(7, 2, padding="SAME", convention="keras") == 4


def test_torch_output_padding_below_dilation_is_allowed():
    # op < s OR op < d: s=1, d=2, op=1 is legal in torch (i=4, k=3 -> 9).
    assert conv_transpose_output_size(4, 3, stride=1, output_padding=1, dilation=2) == 9


def test_pool_padding_exactly_half_kernel_is_allowed():
    assert pool_output_size(8, 2, stride=1, padding=1) == 9
    assert pool_output_size(8, 3, stride=2, padding=1) == 4


def test_strict_passes_when_divisible():
    assert conv_output_size(63, 7, stride=2, strict=True) == 29
    assert conv_output_size(64, 3, stride=1, padding=1, strict=True) == 64


def test_strict_message_names_padding_that_fits():
    # (64 - 6 + 2P) / 4: 58 + 2P divisible by 4 for P = 1 (and P = 3).
    with pytest.raises(ShapeError, match=r"padding=1 or 3 fits") as info:
        conv_output_size(64, 6, stride=4, strict=True)
    assert "Input sizes that fit: 62 or 66" in str(info.value)


@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(2, 5),
    padding=st.integers(0, 3),
    pool=st.booleans(),
)
def test_every_padding_a_strict_message_suggests_fits(size: int, kernel: int, stride: int, padding: int, pool: bool):
    """Each ``padding=q fits`` of a strict refusal is accepted with ``strict`` too, and by torch's layer (a pool's
    at most half its kernel: ``convcalc pool 32 -k 3 --strict`` suggested ``-p 2``, which torch refuses)."""
    import torch

    rule = pool_output_size if pool else conv_output_size
    try:
        rule(size, kernel, stride, padding, strict=True)
    except ConvCalcError as exc:
        found = re.search(r"; padding=(\d+)(?: or (\d+))? fits", str(exc))
        suggested = [int(q) for q in found.groups() if q is not None] if found else []
    else:
        return
    for q in suggested:
        out = rule(size, kernel, stride, q, strict=True)
        layer = torch.nn.MaxPool1d(kernel, stride, q) if pool else torch.nn.Conv1d(1, 1, kernel, stride, q)
        with torch.no_grad():
            assert layer(torch.zeros(1, 1, size)).shape[-1] == out


@pytest.mark.parametrize("size", [28, np.array([28, 3])])
@pytest.mark.parametrize("factor", [1e308, 2e18])
def test_a_float_scale_past_torch_s_int64_sizes_is_refused(size: object, factor: float) -> None:
    # floor(28 * 1e308) raised OverflowError (an infinite product), and an array's product became a negative
    # int64; torch: "value cannot be converted to type int64_t without overflow"
    with pytest.raises(convcalc.SpecError, match=r"^the output size, the product of the size and scale_factor \("):
        convcalc.upsample_output_size(size, scale_factor=factor)
    with pytest.raises(convcalc.SpecError, match=r"^0 \(Upsample\): the output size, the product"):
        convcalc.plan(convcalc.nn.Sequential(convcalc.nn.Upsample(scale_factor=factor)), (1, 3, 8, 8))


@pytest.mark.parametrize("function", ["conv_params", "conv_transpose_params", "separable_conv_params"])
def test_ndim_is_one_number_not_an_array(function: str) -> None:
    with pytest.raises(convcalc.SpecError) as caught:
        getattr(convcalc, function)(3, 4, 5, ndim=np.array([3, 5]))
    assert str(caught.value) == (
        "ndim must be one integer, the kernel's number of axes. Received: ndim=array(shape=(2,), dtype=int64)"
    )


@pytest.mark.parametrize("indent", [1.5, [2], 10**20, -1, True])
def test_to_json_takes_the_indents_json_takes(indent: object) -> None:
    plan = convcalc.plan(convcalc.nn.Conv2d(3, 8, 3), (1, 3, 8, 8))
    with pytest.raises(convcalc.SpecError, match=r"^indent must be a number of spaces from 0 to 100, a string or"):
        plan.to_json(indent=indent)  # type: ignore[arg-type]
    assert plan.to_json(indent="\t").startswith('{\n\t"input_shape": [\n\t\t1,')


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(np.int8(2), 200), (np.float64(0.29), 28), (np.float32(0.29), 28), (np.array(1.5), 150), (np.array(2), 200)],
)
def test_a_numpy_scale_factor_is_taken_as_its_python_number(factor: object, expected: int) -> None:
    # a numpy scale was refused ("must be a positive finite number"); torch takes it as the number it holds
    assert convcalc.upsample_output_size(100, scale_factor=factor) == expected
    with pytest.raises(convcalc.SpecError, match=r"^scale_factor must be a positive finite number"):
        convcalc.upsample_output_size(100, scale_factor=True)
