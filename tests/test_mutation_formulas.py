"""Formulas: every message in full and values at the boundaries of each rule (written to kill mutants;
see docs/mutation.md).

test_formula_errors.py checks one fragment per rule; here each message is compared whole, so a change
to any part of it (the numbers it suggests, the axis it names, the arguments it lists) is caught.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import (
    ShapeError,
    SpecError,
    adaptive_pool_output_size,
    adaptive_pool_windows,
    conv_output_size,
    conv_transpose_output_size,
    im2col_memory,
    im2col_shape,
    pool_output_size,
    same_padding,
    upsample_output_size,
)

H = convcalc.symbols("H")

ERRORS = [
    pytest.param(
        lambda: conv_output_size(5, 3, convention="tf"),
        SpecError,
        "convention must be one of 'torch', 'keras'. Received: convention='tf'",
        id="conv_output_size(5, 3, convention='tf')",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, strict=1),
        SpecError,
        "strict must be True or False. Received: strict=1",
        id="conv_output_size(5, 3, strict=1)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, padding="SAME"),
        SpecError,
        "padding must be one of 'same', 'valid', 'causal'. Received: padding='SAME'",
        id="conv_output_size(5, 3, padding='SAME')",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, padding="full", convention="keras"),
        SpecError,
        "padding must be one of 'same', 'valid', 'causal'. Received: padding='full'",
        id="conv_output_size(5, 3, padding='full', convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, padding="causal"),
        SpecError,
        "padding='causal' exists only for 1-D Keras convolutions (convention='keras'). Received: size=5, kernel_size=3, stride=1, padding='causal', dilation=1",
        id="conv_output_size(5, 3, padding='causal')",
    ),
    pytest.param(
        lambda: conv_output_size((5, 5), 3, padding="causal", convention="keras"),
        SpecError,
        "padding='causal' exists only for 1-D Keras convolutions (convention='keras'). Received: size=(5, 5), kernel_size=3, stride=1, padding='causal', dilation=1",
        id="conv_output_size((5, 5), 3, padding='causal', convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(0, 3),
        ShapeError,
        "size must be at least 1. Received: size=0",
        id="conv_output_size(0, 3)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 0),
        SpecError,
        "kernel_size must be at least 1. Received: kernel_size=0",
        id="conv_output_size(5, 0)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, stride=0),
        SpecError,
        "stride must be at least 1. Received: stride=0",
        id="conv_output_size(5, 3, stride=0)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, dilation=0),
        SpecError,
        "dilation must be at least 1. Received: dilation=0",
        id="conv_output_size(5, 3, dilation=0)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, padding=-1),
        SpecError,
        "padding must be at least 0. Received: padding=-1",
        id="conv_output_size(5, 3, padding=-1)",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, stride=2, dilation=2, convention="keras"),
        SpecError,
        "`strides > 1` not supported in conjunction with `dilation_rate > 1` (Keras: any stride above 1 together with any dilation above 1, even on different axes): use strides 1 or dilation_rate 1 on every axis. Received: size=9, kernel_size=3, stride=2, padding=0, dilation=2",
        id="conv_output_size(9, 3, stride=2, dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size((9, 9), 3, stride=(1, 2), dilation=2, convention="keras"),
        SpecError,
        "`strides > 1` not supported in conjunction with `dilation_rate > 1` (Keras: any stride above 1 together with any dilation above 1, even on different axes): use strides 1 or dilation_rate 1 on every axis. Received: size=(9, 9), kernel_size=3, stride=(1, 2), padding=0, dilation=2",
        id="conv_output_size((9, 9), 3, stride=(1, 2), dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, padding=1, convention="keras"),
        SpecError,
        "Keras convolutions take padding='valid' or 'same', not a number; explicit padding is a ZeroPadding layer (or use convention='torch'). Received: size=9, kernel_size=3, stride=1, padding=1, dilation=1",
        id="conv_output_size(9, 3, padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(2, 3, convention="keras"),
        ShapeError,
        "computed output size would be zero or negative: kernel_size=3 does not fit an unpadded input of 2; an input of at least 3 fits, or padding='same'. Received: size=2, kernel_size=3, stride=1, padding=0, dilation=1",
        id="conv_output_size(2, 3, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(4, 3, dilation=2, convention="keras"),
        ShapeError,
        "computed output size would be zero or negative: kernel_size=3 (dilation 2: spans 5) does not fit an unpadded input of 4; an input of at least 5 fits, or padding='same'. Received: size=4, kernel_size=3, stride=1, padding=0, dilation=2",
        id="conv_output_size(4, 3, dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size((9, 4), 3, dilation=2, convention="keras"),
        ShapeError,
        "computed output size would be zero or negative on axis 1: kernel_size=3 (dilation 2: spans 5) does not fit an unpadded input of 4; an input of at least 5 fits, or padding='same'. Received: size=(9, 4), kernel_size=3, stride=1, padding=0, dilation=2",
        id="conv_output_size((9, 4), 3, dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(10, 3, stride=2, convention="keras", strict=True),
        ShapeError,
        "(W - F + 2P) / S = (10 - 3 + 2*0) / 2 = 7/2 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 9 or 11; no symmetric padding fits (W - F is odd and 2P is even). Received: size=10, kernel_size=3, stride=2, padding=0, dilation=1",
        id="conv_output_size(10, 3, stride=2, convention='keras', strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(7, 3, stride=2, padding="same"),
        SpecError,
        "padding='same' is not supported for strided convolutions in torch (stride=2). Use an explicit padding such as padding=1, or convention='keras' for TensorFlow's 'same'. Received: size=7, kernel_size=3, stride=2, padding='same', dilation=1",
        id="conv_output_size(7, 3, stride=2, padding='same')",
    ),
    pytest.param(
        lambda: conv_output_size((7, 7), 5, stride=(1, 2), dilation=2, padding="same"),
        SpecError,
        "padding='same' is not supported for strided convolutions in torch (stride=2 on axis 1). Use an explicit padding such as padding=4, or convention='keras' for TensorFlow's 'same'. Received: size=(7, 7), kernel_size=5, stride=(1, 2), padding='same', dilation=2",
        id="conv_output_size((7, 7), 5, stride=(1, 2), dilation=2, padding='same')",
    ),
    pytest.param(
        lambda: conv_output_size(2, 3),
        ShapeError,
        "kernel_size=3 is larger than the padded input 2 + 2*0 = 2. An input of at least 3 fits, or padding >= 1. Received: size=2, kernel_size=3, stride=1, padding=0, dilation=1",
        id="conv_output_size(2, 3)",
    ),
    pytest.param(
        lambda: conv_output_size(2, 3, padding=0, dilation=2),
        ShapeError,
        "kernel_size=3 (dilation 2: spans 5) is larger than the padded input 2 + 2*0 = 2. An input of at least 5 fits, or padding >= 2. Received: size=2, kernel_size=3, stride=1, padding=0, dilation=2",
        id="conv_output_size(2, 3, padding=0, dilation=2)",
    ),
    pytest.param(
        lambda: conv_output_size((8, 2), 5, padding=1),
        ShapeError,
        "kernel_size=5 is larger than the padded input 2 + 2*1 = 4 on axis 1. An input of at least 3 fits, or padding >= 2. Received: size=(8, 2), kernel_size=5, stride=1, padding=1, dilation=1",
        id="conv_output_size((8, 2), 5, padding=1)",
    ),
    pytest.param(
        lambda: conv_output_size(3, 4, padding=0),
        ShapeError,
        "kernel_size=4 is larger than the padded input 3 + 2*0 = 3. An input of at least 4 fits, or padding >= 1. Received: size=3, kernel_size=4, stride=1, padding=0, dilation=1",
        id="conv_output_size(3, 4, padding=0)",
    ),
    pytest.param(
        lambda: conv_output_size(10, 3, stride=2, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (10 - 3 + 2*0) / 2 = 7/2 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 9 or 11; no symmetric padding fits (W - F is odd and 2P is even). Received: size=10, kernel_size=3, stride=2, padding=0, dilation=1",
        id="conv_output_size(10, 3, stride=2, strict=True)",
    ),
    pytest.param(
        lambda: pool_output_size(7, 2, ceil_mode=True, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (7 - 2 + 2*0) / 2 = 5/2 is not an integer: the stride does not divide evenly, and ceil_mode's last window reaches 1 row/column past the input. Input sizes that fit: 6 or 8; no symmetric padding fits (W - F is odd and 2P is even). Received: size=7, kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=True",
        id="pool_output_size(7, 2, ceil_mode=True, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(10, 3, stride=3, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (10 - 3 + 2*0) / 3 = 7/3 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 9 or 12; padding=1 fits. Received: size=10, kernel_size=3, stride=3, padding=0, dilation=1",
        id="conv_output_size(10, 3, stride=3, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(10, 3, stride=4, padding=1, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (10 - 3 + 2*1) / 4 = 9/4 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 9 or 13; no symmetric padding fits (W - F is odd and 2P is even). Received: size=10, kernel_size=3, stride=4, padding=1, dilation=1",
        id="conv_output_size(10, 3, stride=4, padding=1, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size((9, 10), 3, stride=2, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (10 - 3 + 2*0) / 2 = 7/2 is not an integer on axis 1: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 9 or 11; no symmetric padding fits (W - F is odd and 2P is even). Received: size=(9, 10), kernel_size=3, stride=2, padding=0, dilation=1",
        id="conv_output_size((9, 10), 3, stride=2, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(5, 4, stride=3, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (5 - 4 + 2*0) / 3 = 1/3 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 4 or 7; padding=1 fits. Received: size=5, kernel_size=4, stride=3, padding=0, dilation=1",
        id="conv_output_size(5, 4, stride=3, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(12, 5, stride=4, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (12 - 5 + 2*0) / 4 = 7/4 is not an integer: the stride does not divide evenly, and a floor would drop 3 row/column of the input. Input sizes that fit: 9 or 13; no symmetric padding fits (W - F is odd and 2P is even). Received: size=12, kernel_size=5, stride=4, padding=0, dilation=1",
        id="conv_output_size(12, 5, stride=4, strict=True)",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, ceil_mode=1),
        SpecError,
        "ceil_mode must be True or False. Received: ceil_mode=1",
        id="pool_output_size(5, 2, ceil_mode=1)",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, padding="same"),
        SpecError,
        "torch pooling takes a numeric padding, not 'same'. Received: size=5, kernel_size=2, stride=None, padding='same', dilation=1, ceil_mode=False",
        id="pool_output_size(5, 2, padding='same')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, ceil_mode=True, convention="keras"),
        SpecError,
        "Keras pooling has no ceil_mode; use padding='same'. Received: size=5, kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=True",
        id="pool_output_size(5, 2, ceil_mode=True, convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(8, 3, padding=2),
        SpecError,
        "padding=2 is more than half of kernel_size=3: torch allows padding <= 1. Received: size=8, kernel_size=3, stride=None, padding=2, dilation=1, ceil_mode=False",
        id="pool_output_size(8, 3, padding=2)",
    ),
    pytest.param(
        lambda: pool_output_size((8, 8), (3, 4), padding=(1, 3)),
        SpecError,
        "padding=3 is more than half of kernel_size=4 on axis 1: torch allows padding <= 2. Received: size=(8, 8), kernel_size=(3, 4), stride=None, padding=(1, 3), dilation=1, ceil_mode=False",
        id="pool_output_size((8, 8), (3, 4), padding=(1, 3))",
    ),
    pytest.param(
        lambda: pool_output_size(2, 3),
        ShapeError,
        "kernel_size=3 is larger than the padded input 2 + 2*0 = 2. An input of at least 3 fits, or padding >= 1. Received: size=2, kernel_size=3, stride=None, padding=0, dilation=1, ceil_mode=False",
        id="pool_output_size(2, 3)",
    ),
    pytest.param(
        lambda: pool_output_size((6, 2), 3, padding=(0, 1), dilation=2),
        ShapeError,
        "kernel_size=3 (dilation 2: spans 5) is larger than the padded input 2 + 2*1 = 4 on axis 1. An input of at least 3 fits, or padding >= 2. Received: size=(6, 2), kernel_size=3, stride=None, padding=(0, 1), dilation=2, ceil_mode=False",
        id="pool_output_size((6, 2), 3, padding=(0, 1), dilation=2)",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, dilation=2, convention="keras"),
        SpecError,
        "Keras pooling has no dilation. Received: size=5, kernel_size=2, stride=None, padding=0, dilation=2, ceil_mode=False",
        id="pool_output_size(5, 2, dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, padding=1, convention="keras"),
        SpecError,
        "Keras pooling takes padding='valid' or 'same', not a number. Received: size=5, kernel_size=2, stride=None, padding=1, dilation=1, ceil_mode=False",
        id="pool_output_size(5, 2, padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, padding="causal", convention="keras"),
        SpecError,
        "Keras pooling takes padding='valid' or 'same'. Received: size=5, kernel_size=2, stride=None, padding='causal', dilation=1, ceil_mode=False",
        id="pool_output_size(5, 2, padding='causal', convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(2, 3, convention="keras"),
        ShapeError,
        "computed output size would be zero or negative: pool_size=3 does not fit an input of 2; an input of at least 3 fits, or padding='same'. Received: size=2, kernel_size=3, stride=None, padding=0, dilation=1, ceil_mode=False",
        id="pool_output_size(2, 3, convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size((5, 2), 3, convention="keras"),
        ShapeError,
        "computed output size would be zero or negative on axis 1: pool_size=3 does not fit an input of 2; an input of at least 3 fits, or padding='same'. Received: size=(5, 2), kernel_size=3, stride=None, padding=0, dilation=1, ceil_mode=False",
        id="pool_output_size((5, 2), 3, convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(6, 2, stride=0),
        SpecError,
        "stride must be at least 1. Received: stride=0",
        id="pool_output_size(6, 2, stride=0)",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, padding="same"),
        SpecError,
        "torch transposed convolutions take a numeric padding, not 'same'. Received: size=5, kernel_size=3, stride=1, padding='same', output_padding=None, dilation=1",
        id="conv_transpose_output_size(5, 3, padding='same')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, padding="causal", convention="keras"),
        SpecError,
        "transposed convolutions take padding='valid' or 'same'. Received: size=5, kernel_size=3, stride=1, padding='causal', output_padding=None, dilation=1",
        id="conv_transpose_output_size(5, 3, padding='causal', convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, padding=1, convention="keras"),
        SpecError,
        "Keras takes padding='valid' or 'same'. Received: size=5, kernel_size=3, stride=1, padding=1, output_padding=None, dilation=1",
        id="conv_transpose_output_size(5, 3, padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, stride=2, output_padding=2),
        SpecError,
        "output_padding=2 must be smaller than either stride=2 or dilation=1: use output_padding <= 1. Received: size=5, kernel_size=3, stride=2, padding=0, output_padding=2, dilation=1",
        id="conv_transpose_output_size(5, 3, stride=2, output_padding=2)",
    ),
    pytest.param(
        lambda: conv_transpose_output_size((5, 5), 3, stride=(2, 1), output_padding=(1, 1)),
        SpecError,
        "output_padding=1 must be smaller than either stride=1 or dilation=1 on axis 1: use output_padding <= 0. Received: size=(5, 5), kernel_size=3, stride=(2, 1), padding=0, output_padding=(1, 1), dilation=1",
        id="conv_transpose_output_size((5, 5), 3, stride=(2, 1), output_padding=(1, 1))",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, stride=2, output_padding=2, convention="keras"),
        SpecError,
        "output_padding=2 must be strictly less than strides=2 (Keras). Received: size=5, kernel_size=3, stride=2, padding=0, output_padding=2, dilation=1",
        id="conv_transpose_output_size(5, 3, stride=2, output_padding=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size((5, 5), 3, stride=2, output_padding=(1, 2), convention="keras"),
        SpecError,
        "output_padding=2 must be strictly less than strides=2 on axis 1 (Keras). Received: size=(5, 5), kernel_size=3, stride=2, padding=0, output_padding=(1, 2), dilation=1",
        id="conv_transpose_output_size((5, 5), 3, stride=2, output_padding=(1, 2), convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(1, 1, padding=1),
        ShapeError,
        "output size would be -1, too small: reduce padding below 1. Received: size=1, kernel_size=1, stride=1, padding=1, output_padding=None, dilation=1",
        id="conv_transpose_output_size(1, 1, padding=1)",
    ),
    pytest.param(
        lambda: conv_transpose_output_size((4, 1), 1, padding=(0, 1)),
        ShapeError,
        "output size would be -1 on axis 1, too small: reduce padding below 1. Received: size=(4, 1), kernel_size=1, stride=1, padding=(0, 1), output_padding=None, dilation=1",
        id="conv_transpose_output_size((4, 1), 1, padding=(0, 1))",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, convention="tf"),
        SpecError,
        "convention must be one of 'torch', 'keras'. Received: convention='tf'",
        id="conv_transpose_output_size(4, 3, convention='tf')",
    ),
    pytest.param(
        lambda: same_padding(7, 3, stride=2),
        SpecError,
        "padding='same' is not supported for strided convolutions in torch (stride=2). Use convention='keras' for TensorFlow's rule. Received: size=7, kernel_size=3, stride=2, dilation=1",
        id="same_padding(7, 3, stride=2)",
    ),
    pytest.param(
        lambda: same_padding((7, 7), 3, stride=(1, 2)),
        SpecError,
        "padding='same' is not supported for strided convolutions in torch (stride=2 on axis 1). Use convention='keras' for TensorFlow's rule. Received: size=(7, 7), kernel_size=3, stride=(1, 2), dilation=1",
        id="same_padding((7, 7), 3, stride=(1, 2))",
    ),
    pytest.param(
        lambda: same_padding(7, 3, convention="tf"),
        SpecError,
        "convention must be one of 'torch', 'keras'. Received: convention='tf'",
        id="same_padding(7, 3, convention='tf')",
    ),
    pytest.param(
        lambda: adaptive_pool_output_size(5, -1),
        SpecError,
        "output_size must be at least 0. Received: output_size=-1",
        id="adaptive_pool_output_size(5, -1)",
    ),
    pytest.param(
        lambda: adaptive_pool_output_size(0, 2),
        ShapeError,
        "size must be at least 1. Received: size=0",
        id="adaptive_pool_output_size(0, 2)",
    ),
    pytest.param(
        lambda: adaptive_pool_windows(H, 2),
        SpecError,
        "size must be a concrete integer; symbols stand for sizes only. Received: size=H",
        id="adaptive_pool_windows(H, 2)",
    ),
    pytest.param(
        lambda: adaptive_pool_windows(5, 10**6 + 1),
        SpecError,
        "output_size=1000001 would list more than 1,000,000 windows. Received: output_size=1000001",
        id="adaptive_pool_windows(5, 10**6 + 1)",
    ),
    pytest.param(
        lambda: upsample_output_size(5),
        SpecError,
        "give exactly one of output_size and scale_factor. Received: size=5, output_size=None, scale_factor=None",
        id="upsample_output_size(5)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, output_size=3, scale_factor=2),
        SpecError,
        "give exactly one of output_size and scale_factor. Received: size=5, output_size=3, scale_factor=2",
        id="upsample_output_size(5, output_size=3, scale_factor=2)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, output_size=3, convention="keras"),
        SpecError,
        "Keras UpSampling takes integer factors (size=...), not an output size. Received: size=5, output_size=3, scale_factor=None",
        id="upsample_output_size(5, output_size=3, convention='keras')",
    ),
    pytest.param(
        lambda: upsample_output_size(5, output_size=0),
        SpecError,
        "output_size must be at least 1. Received: output_size=0",
        id="upsample_output_size(5, output_size=0)",
    ),
    pytest.param(
        lambda: upsample_output_size(0, output_size=3),
        ShapeError,
        "size must be at least 1. Received: size=0",
        id="upsample_output_size(0, output_size=3)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=0),
        SpecError,
        "scale_factor must be at least 1. Received: scale_factor=0",
        id="upsample_output_size(5, scale_factor=0)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=2.0, convention="keras"),
        SpecError,
        "scale_factor must be an integer. Received: scale_factor=2.0",
        id="upsample_output_size(5, scale_factor=2.0, convention='keras')",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=float("nan")),
        SpecError,
        "scale_factor must be a positive finite number. Received: size=5, output_size=None, scale_factor=nan",
        id="upsample_output_size(5, scale_factor=float('nan'))",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=float("inf")),
        SpecError,
        "scale_factor must be a positive finite number. Received: size=5, output_size=None, scale_factor=inf",
        id="upsample_output_size(5, scale_factor=float('inf'))",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=0.0),
        SpecError,
        "scale_factor must be a positive finite number. Received: size=5, output_size=None, scale_factor=0.0",
        id="upsample_output_size(5, scale_factor=0.0)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=-1.5),
        SpecError,
        "scale_factor must be a positive finite number. Received: size=5, output_size=None, scale_factor=-1.5",
        id="upsample_output_size(5, scale_factor=-1.5)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor="2"),
        SpecError,
        "scale_factor must be a positive finite number. Received: size=5, output_size=None, scale_factor='2'",
        id="upsample_output_size(5, scale_factor='2')",
    ),
    pytest.param(
        lambda: upsample_output_size(2**53, scale_factor=1.5),
        SpecError,
        "a float scale_factor is applied in double precision, exact only for sizes below 2**53. Received: size=9007199254740992, output_size=None, scale_factor=1.5",
        id="upsample_output_size(2**53, scale_factor=1.5)",
    ),
    pytest.param(
        lambda: upsample_output_size(H, scale_factor=1.3),
        SpecError,
        "a float scale_factor is applied in double precision by torch (floor of the rounded product), which no closed form in a symbol reproduces exactly unless the factor is a few bits over a power of two (0.5, 1.5, 0.75); use such a factor, an int factor or output_size for symbolic sizes. Received: size=H, output_size=None, scale_factor=1.3",
        id="upsample_output_size(H, scale_factor=1.3)",
    ),
    pytest.param(
        lambda: upsample_output_size(np.array([1, 4, 5]), scale_factor=0.5),
        ShapeError,
        "output size would be 0 (floor(1 * 0.5)); torch needs at least 1. Received: size=array(shape=(3,), dtype=int64), output_size=None, scale_factor=0.5 (first failing entry: index (0,))",
        id="upsample_output_size(np.array([1, 4, 5]), scale_factor=0.5)",
    ),
    pytest.param(
        lambda: upsample_output_size(3, scale_factor=0.2),
        ShapeError,
        "output size would be 0 (floor(3 * 0.2)); torch needs at least 1. Received: size=3, output_size=None, scale_factor=0.2",
        id="upsample_output_size(3, scale_factor=0.2)",
    ),
    pytest.param(
        lambda: upsample_output_size(0, scale_factor=2),
        ShapeError,
        "size must be at least 1. Received: size=0",
        id="upsample_output_size(0, scale_factor=2)",
    ),
    pytest.param(
        lambda: upsample_output_size(0, scale_factor=2.5),
        ShapeError,
        "size must be at least 1. Received: size=0",
        id="upsample_output_size(0, scale_factor=2.5)",
    ),
    pytest.param(
        lambda: im2col_shape("abc", 3),
        ShapeError,
        "input_shape must be (N, C, *spatial), e.g. (1, 3, 7, 7). Received: input_shape='abc'",
        id="im2col_shape('abc', 3)",
    ),
    pytest.param(
        lambda: im2col_shape((1, 3), 3),
        ShapeError,
        "input_shape must be (N, C, *spatial), e.g. (1, 3, 7, 7). Received: input_shape=(1, 3)",
        id="im2col_shape((1, 3), 3)",
    ),
    pytest.param(
        lambda: im2col_shape(5, 3),
        ShapeError,
        "input_shape must be (N, C, *spatial), e.g. (1, 3, 7, 7). Received: input_shape=5",
        id="im2col_shape(5, 3)",
    ),
    pytest.param(
        lambda: im2col_shape((0, 3, 5, 5), 3),
        ShapeError,
        "input_shape[0] (batch) must be at least 1. Received: input_shape[0] (batch)=0",
        id="im2col_shape((0, 3, 5, 5), 3)",
    ),
    pytest.param(
        lambda: im2col_shape((1, 0, 5, 5), 3),
        ShapeError,
        "input_shape[1] (channels) must be at least 1. Received: input_shape[1] (channels)=0",
        id="im2col_shape((1, 0, 5, 5), 3)",
    ),
    pytest.param(
        lambda: im2col_shape((1, 3, 5, 5, 5), 3, layout="unfold"),
        ShapeError,
        "torch.nn.Unfold takes a 4-D input (N, C, H, W) or an unbatched 3-D one (C, H, W). Received: "
        "input_shape=(1, 3, 5, 5, 5)",
        id="im2col_shape((1, 3, 5, 5, 5), 3, layout='unfold')",
    ),
    pytest.param(
        lambda: im2col_shape((3, 5), 3, layout="unfold"),
        ShapeError,
        "input_shape must be (N, C, *spatial), e.g. (1, 3, 7, 7). Received: input_shape=(3, 5)",
        id="im2col_shape((3, 5), 3, layout='unfold')",
    ),
    pytest.param(
        lambda: im2col_shape((0, 5, 5), 3, layout="unfold"),
        ShapeError,
        "input_shape[1] (channels) must be at least 1. Received: input_shape[1] (channels)=0",
        id="im2col_shape((0, 5, 5), 3, layout='unfold')",
    ),
    pytest.param(
        lambda: im2col_shape((1, 3, 5, 5), 3, layout="cols"),
        SpecError,
        "layout must be one of 'rows', 'unfold'. Received: layout='cols'",
        id="im2col_shape((1, 3, 5, 5), 3, layout='cols')",
    ),
    pytest.param(
        lambda: im2col_memory((2, 3, 5, 6), 2, itemsize=0),
        SpecError,
        "itemsize must be at least 1. Received: itemsize=0",
        id="im2col_memory((2, 3, 5, 6), 2, itemsize=0)",
    ),
    pytest.param(
        lambda: im2col_shape((2, 3, 5, 6), (2, 3, 4)),
        SpecError,
        "per-axis tuples must have one value per spatial axis and agree in length (kernel_size has 3, expected 2). Received: kernel_size=(2, 3, 4)",
        id="im2col_shape((2, 3, 5, 6), (2, 3, 4))",
    ),
    pytest.param(
        lambda: conv_output_size(11, 5, stride=4, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (11 - 5 + 2*0) / 4 = 6/4 is not an integer: the stride does not divide evenly, and a floor would drop 2 row/column of the input. Input sizes that fit: 9 or 13; padding=1 or 3 fits. Received: size=11, kernel_size=5, stride=4, padding=0, dilation=1",
        id="conv_output_size(11, 5, stride=4, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(12, 3, stride=2, dilation=2, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (12 - 5 + 2*0) / 2 = 7/2 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 11 or 13; no symmetric padding fits (W - F is odd and 2P is even). Received: size=12, kernel_size=3, stride=2, padding=0, dilation=2",
        id="conv_output_size(12, 3, stride=2, dilation=2, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(11, 3, stride=3, padding=1, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (11 - 3 + 2*1) / 3 = 10/3 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 10 or 13; padding=2 fits. Received: size=11, kernel_size=3, stride=3, padding=1, dilation=1",
        id="conv_output_size(11, 3, stride=3, padding=1, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(14, 3, stride=4, padding=1, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (14 - 3 + 2*1) / 4 = 13/4 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 13 or 17; no symmetric padding fits (W - F is odd and 2P is even). Received: size=14, kernel_size=3, stride=4, padding=1, dilation=1",
        id="conv_output_size(14, 3, stride=4, padding=1, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(4, 3, stride=2, padding=1, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (4 - 3 + 2*1) / 2 = 3/2 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 3 or 5; no symmetric padding fits (W - F is odd and 2P is even). Received: size=4, kernel_size=3, stride=2, padding=1, dilation=1",
        id="conv_output_size(4, 3, stride=2, padding=1, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(11, 3, stride=4, padding=3, strict=True),
        ShapeError,
        "(W - F + 2P) / S = (11 - 3 + 2*3) / 4 = 14/4 is not an integer: the stride does not divide evenly, and a floor would drop 2 row/column of the input. Input sizes that fit: 9 or 13; padding=0 or 2 fits. Received: size=11, kernel_size=3, stride=4, padding=3, dilation=1",
        id="conv_output_size(11, 3, stride=4, padding=3, strict=True)",
    ),
    pytest.param(
        lambda: adaptive_pool_windows(np.array([5, 6]), 2),
        SpecError,
        "adaptive pooling windows need concrete int sizes. Received: size=array(shape=(2,), dtype=int64)",
        id="adaptive_pool_windows(np.array([5, 6]), 2)",
    ),
    pytest.param(
        lambda: same_padding(0, 3), ShapeError, "size must be at least 1. Received: size=0", id="same_padding(0, 3)"
    ),
    pytest.param(
        lambda: same_padding(5, 0),
        SpecError,
        "kernel_size must be at least 1. Received: kernel_size=0",
        id="same_padding(5, 0)",
    ),
    pytest.param(
        lambda: same_padding(5, 3, stride=0, convention="keras"),
        SpecError,
        "stride must be at least 1. Received: stride=0",
        id="same_padding(5, 3, stride=0, convention='keras')",
    ),
    pytest.param(
        lambda: same_padding(5, 3, dilation=0),
        SpecError,
        "dilation must be at least 1. Received: dilation=0",
        id="same_padding(5, 3, dilation=0)",
    ),
    pytest.param(
        lambda: upsample_output_size(5, scale_factor=2, convention="tf"),
        SpecError,
        "convention must be one of 'torch', 'keras'. Received: convention='tf'",
        id="upsample_output_size(5, scale_factor=2, convention='tf')",
    ),
]

VALUES = [
    pytest.param(
        lambda: conv_output_size(5, 3, padding="SAME", convention="keras"),
        5,
        id="conv_output_size(5, 3, padding='SAME', convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(5, 3, padding="causal", convention="keras"),
        5,
        id="conv_output_size(5, 3, padding='causal', convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, padding=0, convention="keras"),
        7,
        id="conv_output_size(9, 3, padding=0, convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, stride=2, convention="keras", strict=True),
        4,
        id="conv_output_size(9, 3, stride=2, convention='keras', strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(7, 3, stride=2, padding="valid", convention="keras"),
        3,
        id="conv_output_size(7, 3, stride=2, padding='valid', convention='keras')",
    ),
    pytest.param(
        lambda: conv_output_size(7, 3, stride=3, padding="same", convention="keras"),
        3,
        id="conv_output_size(7, 3, stride=3, padding='same', convention='keras')",
    ),
    pytest.param(lambda: conv_output_size(7, 3, padding="same"), 7, id="conv_output_size(7, 3, padding='same')"),
    pytest.param(lambda: conv_output_size(7, 3, padding="valid"), 5, id="conv_output_size(7, 3, padding='valid')"),
    pytest.param(
        lambda: conv_output_size(11, 3, stride=2, dilation=2, strict=True),
        4,
        id="conv_output_size(11, 3, stride=2, dilation=2, strict=True)",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, stride=2, strict=True), 4, id="conv_output_size(9, 3, stride=2, strict=True)"
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, padding="same", convention="keras"),
        3,
        id="pool_output_size(5, 2, padding='same', convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, 3, padding="same", convention="keras"),
        2,
        id="pool_output_size(5, 2, 3, padding='same', convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 3, 1, padding="valid", convention="keras"),
        3,
        id="pool_output_size(5, 3, 1, padding='valid', convention='keras')",
    ),
    pytest.param(
        lambda: pool_output_size(5, 2, 2, padding=1, ceil_mode=True),
        3,
        id="pool_output_size(5, 2, 2, padding=1, ceil_mode=True)",
    ),
    pytest.param(
        lambda: pool_output_size(6, 3, 2, padding=1, ceil_mode=True),
        4,
        id="pool_output_size(6, 3, 2, padding=1, ceil_mode=True)",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(5, 3, stride=1, dilation=2, output_padding=1),
        10,
        id="conv_transpose_output_size(5, 3, stride=1, dilation=2, output_padding=1)",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 2, padding="same", output_padding=1, convention="keras"),
        8,
        id="conv_transpose_output_size(4, 3, 2, padding='same', output_padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 4, 2, padding="same", output_padding=1, convention="keras"),
        7,
        id="conv_transpose_output_size(4, 4, 2, padding='same', output_padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 4, 2, padding="same", output_padding=0, convention="keras"),
        6,
        id="conv_transpose_output_size(4, 4, 2, padding='same', output_padding=0, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 2, padding="valid", output_padding=1, convention="keras"),
        10,
        id="conv_transpose_output_size(4, 3, 2, padding='valid', output_padding=1, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 2, padding="valid", convention="keras"),
        9,
        id="conv_transpose_output_size(4, 3, 2, padding='valid', convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 1, padding="valid", dilation=2, convention="keras"),
        8,  # (4 - 1) * 1 + max(5, 1); Keras refuses this dilation with stride 2
        id="conv_transpose_output_size(4, 3, 1, padding='valid', dilation=2, convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 2, padding="same", convention="keras"),
        8,
        id="conv_transpose_output_size(4, 3, 2, padding='same', convention='keras')",
    ),
    pytest.param(
        lambda: conv_transpose_output_size(4, 3, 2, padding=1, output_padding=1, dilation=2),
        10,
        id="conv_transpose_output_size(4, 3, 2, padding=1, output_padding=1, dilation=2)",
    ),
    pytest.param(lambda: same_padding(7, 4, dilation=2), (3, 3), id="same_padding(7, 4, dilation=2)"),
    pytest.param(
        lambda: same_padding(7, 3, stride=3, convention="keras"),
        (1, 1),
        id="same_padding(7, 3, stride=3, convention='keras')",
    ),
    pytest.param(
        lambda: same_padding(8, 3, stride=3, convention="keras"),
        (0, 1),
        id="same_padding(8, 3, stride=3, convention='keras')",
    ),
    pytest.param(
        lambda: same_padding(9, 3, stride=3, convention="keras"),
        (0, 0),
        id="same_padding(9, 3, stride=3, convention='keras')",
    ),
    pytest.param(
        lambda: same_padding(2, 1, stride=3, convention="keras"),
        (0, 0),
        id="same_padding(2, 1, stride=3, convention='keras')",
    ),
    pytest.param(
        lambda: same_padding(10, 4, stride=2, dilation=1, convention="keras"),
        (1, 1),
        id="same_padding(10, 4, stride=2, dilation=1, convention='keras')",
    ),
    pytest.param(
        lambda: adaptive_pool_output_size((5, 6), (0, None)), (0, 6), id="adaptive_pool_output_size((5, 6), (0, None))"
    ),
    pytest.param(lambda: adaptive_pool_windows(5, 0), [], id="adaptive_pool_windows(5, 0)"),
    pytest.param(
        lambda: adaptive_pool_windows(5, None),
        [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)],
        id="adaptive_pool_windows(5, None)",
    ),
    pytest.param(
        lambda: adaptive_pool_windows(3, 5), [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)], id="adaptive_pool_windows(3, 5)"
    ),
    pytest.param(lambda: adaptive_pool_windows(7, 3), [(0, 3), (2, 5), (4, 7)], id="adaptive_pool_windows(7, 3)"),
    pytest.param(
        lambda: upsample_output_size((5, 6), output_size=(3, 4)),
        (3, 4),
        id="upsample_output_size((5, 6), output_size=(3, 4))",
    ),
    pytest.param(
        lambda: upsample_output_size(2**53 - 1, scale_factor=1.0),
        9007199254740991,
        id="upsample_output_size(2**53 - 1, scale_factor=1.0)",
    ),
    pytest.param(lambda: upsample_output_size(H, scale_factor=2), 2 * H, id="upsample_output_size(H, scale_factor=2)"),
    pytest.param(
        lambda: upsample_output_size(np.array([3, 4, 5]), scale_factor=0.5),
        np.array([1, 2, 2]),
        id="upsample_output_size(np.array([3, 4, 5]), scale_factor=0.5)",
    ),
    pytest.param(lambda: upsample_output_size(5, scale_factor=0.2), 1, id="upsample_output_size(5, scale_factor=0.2)"),
    pytest.param(
        lambda: im2col_shape((2, 3, 5, 6), (1, 2), stride=(1, 2), padding=(0, 1), dilation=(1, 2)),
        (30, 6),
        id="im2col_shape((2, 3, 5, 6), (1, 2), stride=(1, 2), padding=(0, 1), dilation=(1, 2))",
    ),
    pytest.param(lambda: im2col_shape((2, 3, 5, 6, 7), 2), (240, 24), id="im2col_shape((2, 3, 5, 6, 7), 2)"),
    pytest.param(
        lambda: im2col_shape((2, 3, 5, 6), 2, layout="unfold"),
        (2, 12, 20),
        id="im2col_shape((2, 3, 5, 6), 2, layout='unfold')",
    ),
    pytest.param(
        lambda: im2col_memory((2, 3, 5, 6), 2, itemsize=2), 960, id="im2col_memory((2, 3, 5, 6), 2, itemsize=2)"
    ),
    pytest.param(
        lambda: im2col_memory((2, 3, 5, 6), 2, stride=2, padding=1, dilation=2),
        864,
        id="im2col_memory((2, 3, 5, 6), 2, stride=2, padding=1, dilation=2)",
    ),
    pytest.param(
        lambda: conv_output_size(9, 3, stride=2, padding=1, strict=True),
        5,
        id="conv_output_size(9, 3, stride=2, padding=1, strict=True)",
    ),
    pytest.param(lambda: same_padding(1, 1), (0, 0), id="same_padding(1, 1)"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERRORS)
def test_message(call: Callable[[], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value) == message


@pytest.mark.parametrize(("call", "expected"), VALUES)
def test_value(call: Callable[[], Any], expected: Any) -> None:
    result = call()
    if isinstance(expected, np.ndarray):
        assert result.tolist() == expected.tolist()
    else:
        assert result == expected
        assert type(result) is type(expected)


def test_strict_leaves_symbolic_sizes_to_the_planner() -> None:
    # divisibility of a symbolic size is a constraint the planner records, not an error here
    assert str(conv_output_size(H, 3, stride=2, strict=True)) == "floor((H - 3)/2) + 1"
    nested = H + sympy.floor(H / 2)  # a size with no FloorForm: plain sympy
    assert str(conv_output_size(nested, 3, stride=2, strict=True)) == "floor(H/2 + floor(H/2)/2 - 3/2) + 1"


def test_adaptive_windows_up_to_the_limit() -> None:
    windows = adaptive_pool_windows(1, 10**6)
    assert len(windows) == 10**6
    assert windows[0] == windows[-1] == (0, 1)


# --------------------------------------------------------------------------- #
# What a strict-mode message suggests must itself fit
# --------------------------------------------------------------------------- #


def _suggested(message: str, before: str, after: str) -> list[int]:
    text = message.split(before, 1)[1].split(after, 1)[0]
    return [int(word) for word in text.replace("padding=", "").split() if word.isdigit()]


@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 9),
    stride=st.integers(2, 6),
    padding=st.integers(0, 5),
    dilation=st.integers(1, 3),
)
def test_every_size_and_padding_a_strict_message_suggests_fits(
    size: int, kernel: int, stride: int, padding: int, dilation: int
) -> None:
    def exact(i: int, p: int) -> bool:
        try:
            conv_output_size(i, kernel, stride, p, dilation, strict=True)
        except ShapeError:
            return False
        return True

    try:
        conv_output_size(size, kernel, stride, padding, dilation, strict=True)
    except ShapeError as exc:
        message = str(exc)
    else:
        return
    if "larger than the padded input" in message:
        return
    sizes = _suggested(message, "Input sizes that fit: ", ";")
    assert sizes, message
    assert all(exact(i, padding) for i in sizes), message
    # the nearest sizes: nothing between them fits
    assert not any(exact(i, padding) for i in range(max(sizes[0] - stride + 1, 1), sizes[-1]) if i not in sizes)
    pads = _suggested(message, "; ", " fits.") if " fits." in message else []
    assert all(exact(size, p) for p in pads), message
    if "no symmetric padding fits" in message:
        assert not any(exact(size, p) for p in range(2 * stride + kernel * dilation))


def test_strict_sizes_never_suggest_an_input_below_1() -> None:
    with pytest.raises(ShapeError) as info:
        conv_output_size(1, 1, stride=4, padding=1, strict=True)
    assert "Input sizes that fit: 3; padding=0 or 2 fits." in str(info.value)


def test_strict_paddings_are_ones_with_which_the_kernel_fits() -> None:
    with pytest.raises(ShapeError) as info:
        conv_output_size(2, 9, stride=3, padding=4, strict=True)
    assert "Input sizes that fit: 1 or 4; padding=5 fits." in str(info.value)
    # padding 4 divides too (1 - 12 + 8 = -3), but the kernel of 12 does not fit 1 + 2*4
    with pytest.raises(ShapeError) as info:
        conv_output_size(1, 12, stride=3, padding=6, strict=True)
    assert "Input sizes that fit: 3; padding=7 fits." in str(info.value)


def test_strict_message_of_a_planned_layer() -> None:
    with pytest.raises(ShapeError) as info:
        convcalc.plan(convcalc.nn.Conv2d(1, 1, 1, stride=4, padding=1), (1, 1, 1, 6), strict=True)
    assert str(info.value) == (
        "<model> (Conv2d): (W - F + 2P) = 1 - 1 + 2 = 2 is not divisible by the stride 4 on spatial axis 0 "
        "(strict mode); input sizes that fit: 3. Received: input_shape=(1, 1, 1, 6)"
    )


def test_upsample_to_an_output_size_takes_a_symbolic_input() -> None:
    assert upsample_output_size(H, output_size=7) == 7
    assert upsample_output_size((H, 5), output_size=(7, 8)) == (7, 8)


def test_upsample_of_an_array_by_a_float_gives_integers() -> None:
    out = upsample_output_size(np.array([5, 7]), scale_factor=1.5)
    assert out.dtype == np.int64
    assert out.tolist() == [7, 10]


def test_ceil_mode_after_a_size_outside_the_folded_form_keeps_one_floor() -> None:
    # a x3 upsampling between stride-2 poolings leaves a general sympy size; where no window can start in
    # the right padding (stride + padding <= kernel) the ceil-mode count needs no Min
    base = [convcalc.nn.MaxPool2d(2), convcalc.nn.ConvTranspose2d(1, 1, 1, stride=3)]
    plain = convcalc.nn.Sequential(*base, convcalc.nn.MaxPool2d(3, 2, ceil_mode=True))
    padded = convcalc.nn.Sequential(*base, convcalc.nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    assert str(convcalc.plan(plain, (1, 1, H, 16)).output_shape[2]) == "floor(3*floor((H - 2)/2)/2 - 1/2) + 1"
    assert str(convcalc.plan(padded, (1, 1, H, 16)).output_shape[2]) == "floor(3*floor((H - 2)/2)/2 + 1/2) + 1"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"size": 0}, ShapeError, "size must be at least 1. Received: size=0"),
        ({"size": True}, SpecError, "size must be an integer. Received: size=True"),
        ({"kernel_size": 0}, SpecError, "kernel_size must be at least 1. Received: kernel_size=0"),
        ({"stride": 0}, SpecError, "stride must be at least 1. Received: stride=0"),
        ({"dilation": 0}, SpecError, "dilation must be at least 1. Received: dilation=0"),
        ({"padding": -1}, SpecError, "padding must be at least 0. Received: padding=-1"),
        ({"output_padding": -1}, SpecError, "output_padding must be at least 0. Received: output_padding=-1"),
        (
            {"padding": "SAME"},
            SpecError,
            "padding must be one of 'same', 'valid', 'causal'. Received: padding='SAME'",
        ),
    ],
)
def test_transposed_conv_argument_messages(kwargs: dict[str, Any], error: type, message: str) -> None:
    args = {"size": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(error) as info:
        conv_transpose_output_size(**args)
    assert type(info.value) is error
    assert str(info.value) == message


def test_transposed_conv_output_padding_against_arrays_of_strides_and_dilations() -> None:
    out = conv_transpose_output_size(4, 3, stride=np.array([2, 1]), output_padding=1, dilation=np.array([1, 2]))
    assert out.tolist() == [10, 9]
    with pytest.raises(
        SpecError,
        match=r"^output_padding=1 must be smaller than either stride=1 or dilation=1: use output_padding <= 0\. Received: ",
    ):
        conv_transpose_output_size(4, 3, stride=np.array([2, 1]), output_padding=1, dilation=np.array([1, 1]))


@pytest.mark.parametrize(("kernel", "padding", "fits"), [(4, 2, True), (5, 2, True), (5, 3, False), (4, 3, False)])
def test_torch_pool_padding_at_most_half_the_kernel(kernel: int, padding: int, fits: bool) -> None:
    if fits:
        assert pool_output_size(8, kernel, padding=padding) >= 1
    else:
        with pytest.raises(SpecError, match=rf"^padding={padding} is more than half of kernel_size={kernel}"):
            pool_output_size(8, kernel, padding=padding)


def test_keras_valid_convolution_down_to_one() -> None:
    assert conv_output_size(3, 3, convention="keras") == 1
    assert conv_output_size(np.array([3, 4]), 3, convention="keras").tolist() == [1, 2]


def test_keras_strides_with_dilation_per_entry_of_an_array() -> None:
    ok = conv_output_size(9, 3, stride=np.array([1, 2, 1]), dilation=np.array([2, 1, 1]), convention="keras")
    assert ok.tolist() == [5, 4, 7]
    with pytest.raises(SpecError, match=r"^`strides > 1` not supported in conjunction with `dilation_rate > 1`"):
        conv_output_size(9, 3, stride=np.array([1, 2]), dilation=np.array([2, 2]), convention="keras")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"convention": "tf"}, "convention must be one of 'torch', 'keras'. Received: convention='tf'"),
        # torch spells padding modes in lower case; Keras takes any case
        ({"padding": "SAME"}, "padding must be one of 'same', 'valid', 'causal'. Received: padding='SAME'"),
        ({"dilation": 0}, "dilation must be at least 1. Received: dilation=0"),
    ],
)
def test_pool_argument_messages(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        pool_output_size(8, 2, **kwargs)
    assert str(info.value) == message


def test_keras_pool_padding_modes_in_any_case() -> None:
    assert pool_output_size(7, 2, padding="SAME", convention="keras") == 4


def test_a_dyadic_scale_factor_is_symbolic_and_exact() -> None:
    """p / 2**k with p and 2**k below 2**12: floor(H * p / 2**k), torch's double product for every size tried."""
    assert str(upsample_output_size(H, scale_factor=1.5)) == "floor((3*H)/2)"
    for f in (0.5, 1.5, 0.75, 2.5, 4095 / 4096, 1 / 4096):
        for h in (1, 2, 3, 7, 100, 12345, 2**30 + 7):
            want = math.floor(float(h) * f)
            if want >= 1:
                assert upsample_output_size(H, scale_factor=f).subs(H, h) == want
    for f in (4097 / 4096, 1 / 8192, 1.3):  # more bits than the rule takes: refused for symbols
        with pytest.raises(SpecError, match="no closed form"):
            upsample_output_size(H, scale_factor=f)
