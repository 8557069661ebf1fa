"""The three kinds of number agree: Python ints, sympy symbols and numpy arrays.

(a) a symbolic result, with an integer substituted, equals the numeric result;
(b) numpy arrays give, entry by entry, what the scalar call gives;
(c) a million configurations go through one vectorised call;
(d) huge Python ints stay exact;
(e) the numeric path imports neither sympy nor torch (nor numpy).
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

import convcalc
from convcalc import (
    ConvCalcError,
    ShapeError,
    SpecError,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    linear_params,
    pool_output_size,
    same_padding,
    upsample_output_size,
)

H, W = convcalc.symbols("H W")
SIZES = range(1, 81)
ROOT = Path(__file__).resolve().parent.parent


def numeric_or_none(call, *args, **kwargs):
    """The numeric result, or None where convcalc rejects that size."""
    try:
        return call(*args, **kwargs)
    except ConvCalcError:
        return None


def at(expr, **values):
    """Substitute integers for symbols and return a Python int."""
    mapping = {sympy.Symbol(name, integer=True, positive=True): sympy.Integer(v) for name, v in values.items()}
    value = sympy.sympify(expr).xreplace(mapping)
    assert value.is_Integer, (expr, values, value)
    return int(value)


def assert_symbolic_matches_numeric(call, args, kwargs, sizes=SIZES):
    expr = call(H, *args, **kwargs)
    assert isinstance(expr, sympy.Basic)
    assert expr.free_symbols <= {H}
    checked = 0
    for n in sizes:
        numeric = numeric_or_none(call, n, *args, **kwargs)
        if numeric is None:
            continue
        assert at(expr, H=n) == numeric, (call.__name__, n, args, kwargs, expr)
        checked += 1
    assert checked > 0, (call.__name__, args, kwargs)


# --------------------------------------------------------------------------- #
# (a) symbolic == numeric
# --------------------------------------------------------------------------- #

CONV_CONFIGS = [
    (k, s, p, d)
    for k, s, p, d in itertools.product(range(1, 6), range(1, 4), range(3), range(1, 3))
    if not (k == 1 and d > 1)
]
POOL_CONFIGS = [
    (k, s, p, d, ceil)
    for k, s, d, ceil in itertools.product(range(1, 5), (None, 1, 2, 3), range(1, 3), (False, True))
    for p in range(k // 2 + 1)
    if not (k == 1 and d > 1)
]
TRANSPOSE_CONFIGS = [
    (k, s, p, op, d)
    for k, s, p, op, d in itertools.product(range(1, 5), range(1, 4), range(3), range(3), range(1, 3))
    if op < s or op < d
]


@pytest.mark.parametrize(("k", "s", "p", "d"), CONV_CONFIGS)
def test_symbolic_conv_matches_numeric(k, s, p, d):
    assert_symbolic_matches_numeric(conv_output_size, (k, s, p, d), {})


@pytest.mark.parametrize(("k", "s", "p", "d", "ceil"), POOL_CONFIGS)
def test_symbolic_pool_matches_numeric(k, s, p, d, ceil):
    assert_symbolic_matches_numeric(pool_output_size, (k, s, p, d, ceil), {})


@pytest.mark.parametrize(("k", "s", "p", "op", "d"), TRANSPOSE_CONFIGS)
def test_symbolic_transpose_matches_numeric(k, s, p, op, d):
    assert_symbolic_matches_numeric(conv_transpose_output_size, (k, s, p, op, d), {})


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(
    ("k", "s", "d"), [(k, s, 1) for k in range(1, 6) for s in range(1, 5)] + [(3, 1, 2), (2, 1, 3)]
)
def test_symbolic_keras_conv_matches_numeric(k, s, d, padding):
    assert_symbolic_matches_numeric(
        conv_output_size, (k, s), {"padding": padding, "dilation": d, "convention": "keras"}
    )


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(("k", "s"), [(k, s) for k in range(1, 5) for s in (None, 1, 2, 3)])
def test_symbolic_keras_pool_matches_numeric(k, s, padding):
    assert_symbolic_matches_numeric(pool_output_size, (k, s), {"padding": padding, "convention": "keras"})


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("output_padding", [None, 0, 1])
@pytest.mark.parametrize(("k", "s"), [(k, s) for k in range(1, 5) for s in range(2, 4)])
def test_symbolic_keras_transpose_matches_numeric(k, s, padding, output_padding):
    kwargs = {"padding": padding, "output_padding": output_padding, "convention": "keras"}
    assert_symbolic_matches_numeric(conv_transpose_output_size, (k, s), kwargs)


@pytest.mark.parametrize("factor", [1, 2, 3, 7])
def test_symbolic_upsample_int_factor_matches_numeric(factor):
    expr = upsample_output_size(H, scale_factor=factor)
    assert sympy.simplify(expr - factor * H) == 0
    for n in SIZES:
        assert at(expr, H=n) == upsample_output_size(n, scale_factor=factor) == n * factor
        assert at(upsample_output_size(H, scale_factor=factor, convention="keras"), H=n) == n * factor


@pytest.mark.parametrize(("k", "s"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_symbolic_keras_same_padding_matches_numeric(k, s):
    before, after = same_padding(H, k, s, convention="keras")
    for n in SIZES:
        assert (at(sympy.sympify(before), H=n), at(sympy.sympify(after), H=n)) == same_padding(
            n, k, s, convention="keras"
        )


def test_symbolic_tuple_sizes_match_numeric():
    out = conv_output_size((H, W), (3, 5), stride=(2, 1), padding=(1, 2))
    assert isinstance(out, tuple)
    assert len(out) == 2
    for h, w in itertools.product(range(1, 30), range(1, 30)):
        numeric = numeric_or_none(conv_output_size, (h, w), (3, 5), stride=(2, 1), padding=(1, 2))
        if numeric is None:
            continue
        assert (at(out[0], H=h, W=w), at(out[1], H=h, W=w)) == numeric


def test_symbolic_examples_print_as_documented():
    assert str(conv_output_size(H, 3, 2, 1)) == "floor((H - 1)/2) + 1"
    assert str(pool_output_size(H, 3, 2, 1)) == "floor((H - 1)/2) + 1"
    assert conv_transpose_output_size(H, 2, stride=2) == 2 * H
    assert conv_output_size(H, 3, padding="same") == H


def resnet_stem_and_stages(size):
    """conv7 s2 p3, maxpool3 s2 p1, then three 3x3 s2 p1 convolutions (ResNet-50's downsamplings)."""
    size = conv_output_size(size, 7, stride=2, padding=3)
    size = pool_output_size(size, 3, stride=2, padding=1)
    for _ in range(3):
        size = conv_output_size(size, 3, stride=2, padding=1)
    return size


def test_symbolic_chain_folds_to_one_floor():
    expr = resnet_stem_and_stages(H)
    assert str(expr).count("floor") == 1
    assert str(expr) == "floor((H - 1)/32) + 1"
    for n in range(1, 513):
        assert at(expr, H=n) == resnet_stem_and_stages(n) == (n - 1) // 32 + 1


def test_symbolic_chain_on_two_axes():
    out = resnet_stem_and_stages((H, W))
    assert tuple(str(e) for e in out) == ("floor((H - 1)/32) + 1", "floor((W - 1)/32) + 1")
    assert (at(out[0], H=224), at(out[1], W=227)) == resnet_stem_and_stages((224, 227)) == (7, 8)


@pytest.mark.parametrize(
    "chain",
    [
        [("conv", 3, 1, 1), ("pool", 2, 2, 0)] * 4,  # VGG-style blocks
        [("conv", 11, 4, 2), ("pool", 3, 2, 0), ("conv", 5, 1, 2), ("pool", 3, 2, 0)],  # AlexNet
        [("conv", 3, 2, 0), ("conv", 3, 1, 0), ("pool", 3, 2, 0), ("conv", 3, 2, 1)],
        [("conv", 5, 1, 0), ("pool", 2, 2, 0), ("conv", 5, 1, 0), ("pool", 2, 2, 0)],  # LeNet
    ],
)
def test_symbolic_chain_matches_numeric(chain):
    def run(size):
        for kind, k, s, p in chain:
            call = conv_output_size if kind == "conv" else pool_output_size
            size = call(size, k, s, p)
        return size

    expr = run(H)
    assert str(expr).count("floor") <= 1
    checked = 0
    for n in range(1, 400):
        numeric = numeric_or_none(run, n)
        if numeric is None:
            continue
        assert at(expr, H=n) == numeric, (n, expr)
        checked += 1
    assert checked > 100


def upsample_by_3_then_downsample(size):
    """stride-2 conv, x3 transposed conv (a 3x upsampling), 2x2 pool, then a 1x1 conv."""
    size = conv_output_size(size, 3, stride=2, padding=1)
    size = conv_transpose_output_size(size, 1, stride=3)
    size = pool_output_size(size, 2)
    return conv_output_size(size, 1)


def test_symbolic_chain_through_a_x3_upsampling():
    # floor((3*floor((H - 1)/2) + 1) / 2) does not fold into one floor; the next layer must
    # still accept it (a sympy error escaping the public API is a bug).
    expr = upsample_by_3_then_downsample(H)
    for n in range(3, 200):  # n <= 2 leaves a 1-pixel input for the 2x2 pool, which torch rejects
        assert at(expr, H=n) == upsample_by_3_then_downsample(n), n


@pytest.mark.parametrize(
    "layer",
    [
        lambda size: conv_output_size(size, 3, 2, 1),
        lambda size: pool_output_size(size, 2, ceil_mode=True),
        lambda size: conv_transpose_output_size(size, 3, 2),
    ],
    ids=["conv", "pool-ceil", "transpose"],
)
def test_symbolic_nested_floor_is_a_valid_size(layer):
    size = sympy.floor(sympy.floor(H / 2) / 3) + 1  # an integer-valued size in H
    expr = layer(size)
    for n in range(1, 100):
        assert at(expr, H=n) == layer(n // 2 // 3 + 1), n


def random_chain(rng):
    layers = []
    for _ in range(rng.randint(2, 6)):
        kind = rng.choice(["conv", "pool", "pool_ceil", "transpose", "keras_same_conv", "keras_same_pool"])
        k, s, d = rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 2)
        layers.append((kind, k, s, rng.randint(0, k // 2), d))
    return layers


def run_chain(layers, size):
    for kind, k, s, p, d in layers:
        if kind == "conv":
            size = conv_output_size(size, k, s, p, d)
        elif kind == "pool":
            size = pool_output_size(size, k, s, p, d)
        elif kind == "pool_ceil":
            size = pool_output_size(size, k, s, p, d, ceil_mode=True)
        elif kind == "transpose":
            size = conv_transpose_output_size(size, k, s, p, max(s, d) - 1, d)
        elif kind == "keras_same_conv":
            size = conv_output_size(size, k, s, "same", convention="keras")
        else:
            size = pool_output_size(size, k, s, "same", convention="keras")
    return size


@pytest.mark.parametrize("seed", range(40))
def test_symbolic_random_chains_match_numeric(seed):
    rng = random.Random(seed)
    for _ in range(5):
        layers = random_chain(rng)
        expr = run_chain(layers, H)
        for n in range(1, 100):
            numeric = numeric_or_none(run_chain, layers, n)
            if numeric is not None:
                assert at(expr, H=n) == numeric, (layers, n, expr)


@pytest.mark.parametrize("factor", [1 / 3, 0.29, 0.7, 0.07, 1.5, 2.5])
def test_symbolic_upsample_float_factor_never_disagrees_with_numeric(factor):
    # torch computes floor(size * factor) in double precision: 3 * (1/3) -> 1, 100 * 0.29 -> 28
    # (semantics.md section 6), and convcalc's numeric path does the same. A closed form may be
    # refused, but one that is returned must give the numeric size at every input size.
    assert upsample_output_size(3, scale_factor=1 / 3) == 1
    assert upsample_output_size(100, scale_factor=0.29) == 28
    try:
        expr = upsample_output_size(H, scale_factor=factor)
    except ConvCalcError:
        return
    for n in range(1, 1001):
        numeric = numeric_or_none(upsample_output_size, n, scale_factor=factor)
        if numeric is not None:
            assert at(expr, H=n) == numeric, (factor, n, expr)


# --------------------------------------------------------------------------- #
# (b) numpy arrays == scalar calls, entry by entry
# --------------------------------------------------------------------------- #


def valid_grid(call, sizes, configs, **kwargs):
    """Flat arrays of every (size, *config) the scalar call accepts, with the scalar results."""
    rows, expected = [], []
    for n in sizes:
        for config in configs:
            result = numeric_or_none(call, n, *config, **kwargs)
            if result is not None:
                rows.append((n, *config))
                expected.append(result)
    columns = [np.array(col, dtype=np.int64) for col in zip(*rows, strict=True)]
    return columns, np.array(expected, dtype=np.int64)


def test_array_conv_every_argument_an_array():
    columns, expected = valid_grid(conv_output_size, SIZES, CONV_CONFIGS)
    result = conv_output_size(*columns)
    assert isinstance(result, np.ndarray)
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


def test_array_pool_every_argument_an_array():
    configs = [(k, k if s is None else s, p, d) for k, s, p, d, ceil in POOL_CONFIGS if not ceil]
    columns, expected = valid_grid(pool_output_size, SIZES, configs)
    np.testing.assert_array_equal(pool_output_size(*columns), expected)


def test_array_pool_ceil_mode():
    configs = [(k, k if s is None else s, p, d) for k, s, p, d, ceil in POOL_CONFIGS if ceil]
    columns, expected = valid_grid(pool_output_size, SIZES, configs, ceil_mode=True)
    np.testing.assert_array_equal(pool_output_size(*columns, ceil_mode=True), expected)


def test_array_transpose_every_argument_an_array():
    columns, expected = valid_grid(conv_transpose_output_size, SIZES, TRANSPOSE_CONFIGS)
    np.testing.assert_array_equal(conv_transpose_output_size(*columns), expected)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_array_keras_conv(padding):
    configs = [(k, s) for k in range(1, 6) for s in range(1, 5)]
    columns, expected = valid_grid(conv_output_size, SIZES, configs, padding=padding, convention="keras")
    np.testing.assert_array_equal(conv_output_size(*columns, padding=padding, convention="keras"), expected)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_array_keras_pool(padding):
    configs = [(k, s) for k in range(1, 5) for s in range(1, 4)]
    columns, expected = valid_grid(pool_output_size, SIZES, configs, padding=padding, convention="keras")
    np.testing.assert_array_equal(pool_output_size(*columns, padding=padding, convention="keras"), expected)


def test_array_upsample_int_factor():
    sizes = np.arange(1, 81)
    np.testing.assert_array_equal(upsample_output_size(sizes, scale_factor=3), sizes * 3)


def test_array_broadcasting_of_kernel_and_stride():
    sizes = np.arange(20, 80).reshape(-1, 1, 1)
    kernels = np.arange(1, 6).reshape(1, -1, 1)
    strides = np.arange(1, 4).reshape(1, 1, -1)
    result = conv_output_size(sizes, kernels, strides, 1)
    assert result.shape == (60, 5, 3)
    for (a, b, c), value in np.ndenumerate(result):
        assert value == conv_output_size(int(sizes[a, 0, 0]), int(kernels[0, b, 0]), int(strides[0, 0, c]), 1)


def test_array_broadcasting_pool_ceil_mode():
    sizes = np.arange(1, 41).reshape(-1, 1)
    strides = np.array([[1, 2, 3]])
    result = pool_output_size(sizes, 2, strides, 1, ceil_mode=True)
    assert result.shape == (40, 3)
    for (a, b), value in np.ndenumerate(result):
        assert value == pool_output_size(int(sizes[a, 0]), 2, int(strides[0, b]), 1, ceil_mode=True)


def test_array_scalar_kernel_with_array_sizes_in_a_tuple():
    heights, widths = np.arange(5, 30), np.arange(10, 35)
    out_h, out_w = conv_output_size((heights, widths), (3, 5), stride=(2, 1))
    for h, w, oh, ow in zip(heights, widths, out_h, out_w, strict=True):
        assert (oh, ow) == conv_output_size((int(h), int(w)), (3, 5), stride=(2, 1))


def test_array_of_unsigned_ints():
    sizes = np.arange(3, 50, dtype=np.uint16)
    np.testing.assert_array_equal(conv_output_size(sizes, 3), [conv_output_size(int(n), 3) for n in sizes])


def test_array_with_one_invalid_size_names_its_index():
    sizes = np.array([5, 6, 2, 7, 9])
    with pytest.raises(ShapeError, match=r"index \(2,\)") as info:
        conv_output_size(sizes, 3)
    # the message shows the failing entry's concrete configuration
    assert "padded input 2 + 2*0 = 2" in str(info.value)
    assert "Received:" in str(info.value)


def test_array_2d_with_one_invalid_size_names_its_index():
    sizes = np.array([[5, 6, 7], [9, 2, 7]])
    with pytest.raises(ShapeError, match=r"index \(1, 1\)"):
        conv_output_size(sizes, 3)


def test_array_with_one_invalid_kernel_names_its_index():
    with pytest.raises(SpecError, match=r"entry 3 is 0"):
        conv_output_size(np.array([10, 11, 12, 13]), np.array([3, 3, 3, 0]))


def test_array_with_one_invalid_kernel_for_its_size_names_its_index():
    with pytest.raises(ShapeError, match=r"index \(3,\)") as info:
        conv_output_size(np.array([10, 11, 12, 13]), np.array([3, 3, 3, 15]))
    assert "kernel_size=15 is larger than the padded input 13" in str(info.value)


def test_array_with_one_invalid_pool_padding_names_its_index():
    with pytest.raises(SpecError, match=r"index \(1,\)"):
        pool_output_size(np.array([8, 8, 8]), 3, padding=np.array([1, 2, 0]))


def test_array_with_one_invalid_output_padding_names_its_index():
    with pytest.raises(SpecError, match=r"index \(2,\)"):
        conv_transpose_output_size(np.array([4, 4, 4]), 3, stride=2, output_padding=np.array([0, 1, 2]))


# --------------------------------------------------------------------------- #
# (c) one million configurations in one call
# --------------------------------------------------------------------------- #


def count_convcalc_calls(call):
    """Run ``call`` and count the Python function calls made inside the convcalc package."""
    package = str(Path(convcalc.__file__).resolve().parent)
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename.startswith(package):
            calls += 1

    sys.setprofile(profile)
    try:
        result = call()
    finally:
        sys.setprofile(None)
    return result, calls


def test_one_million_configurations_in_one_call():
    rng = np.random.default_rng(20240527)
    n = 1_000_000
    kernel = rng.integers(1, 12, n)
    stride = rng.integers(1, 5, n)
    padding = rng.integers(0, 4, n)
    dilation = rng.integers(1, 4, n)
    extent = dilation * (kernel - 1) + 1
    # every configuration is valid: the padded input is at least the dilated kernel
    size = np.maximum(extent - 2 * padding, 1) + rng.integers(0, 2000, n)

    result, calls = count_convcalc_calls(lambda: conv_output_size(size, kernel, stride, padding, dilation))

    reference = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    assert isinstance(result, np.ndarray)
    assert result.shape == (n,)
    np.testing.assert_array_equal(result, reference)
    # vectorised: the work is done by numpy, not by a Python loop over the entries
    assert 0 < calls < 1000, calls


def test_one_million_configurations_pool_ceil_mode():
    rng = np.random.default_rng(7)
    n = 1_000_000
    kernel = rng.integers(1, 8, n)
    stride = rng.integers(1, 5, n)
    padding = rng.integers(0, 4, n) % (kernel // 2 + 1)
    size = np.maximum(kernel - 2 * padding, 1) + rng.integers(0, 500, n)

    result, calls = count_convcalc_calls(lambda: pool_output_size(size, kernel, stride, padding, ceil_mode=True))

    # torch's rule: ceil, then drop a last window that starts in the right padding
    out = (size + 2 * padding - kernel + stride - 1) // stride + 1
    out = np.where((out - 1) * stride >= size + padding, out - 1, out)
    np.testing.assert_array_equal(result, out)
    assert 0 < calls < 1000, calls


# --------------------------------------------------------------------------- #
# (d) huge Python ints stay exact
# --------------------------------------------------------------------------- #

BIG = 10**30


def test_huge_conv_sizes_are_exact():
    for size in (BIG, BIG + 1, BIG + 7, 3 * BIG - 1):
        out = conv_output_size(size, 3, stride=2, padding=1)
        assert type(out) is int
        assert out == (size + 2 - 3) // 2 + 1
        assert conv_output_size(size, 7, 3, 0, 2) == (size - 13) // 3 + 1
    # a float path would have lost the last digit
    assert conv_output_size(BIG + 1, 1) == BIG + 1
    assert conv_output_size(BIG + 1, 2, stride=2) == BIG // 2
    assert int(float(BIG + 1)) != BIG + 1


def test_huge_pool_transpose_keras_sizes_are_exact():
    size = BIG + 1
    assert pool_output_size(size, 2) == BIG // 2
    assert pool_output_size(size, 2, 2, ceil_mode=True) == BIG // 2 + 1
    assert pool_output_size(size, 3, 2, 1, ceil_mode=True) == (size + 2 - 3 + 1) // 2 + 1
    assert conv_transpose_output_size(size, 3, stride=2, padding=1, output_padding=1) == 2 * size
    assert conv_output_size(size, 3, stride=2, padding="same", convention="keras") == BIG // 2 + 1
    assert pool_output_size(size, 2, padding="same", convention="keras") == BIG // 2 + 1
    assert same_padding(size, 4, 3, convention="keras") == (1, 1)
    assert upsample_output_size(size, scale_factor=3) == 3 * size
    assert conv_output_size((size, BIG), 3, padding="same") == (size, BIG)


def test_huge_symbolic_substitution_is_exact():
    expr = resnet_stem_and_stages(H)
    assert at(expr, H=BIG + 1) == BIG // 32 + 1 == resnet_stem_and_stages(BIG + 1)


def test_huge_parameter_counts_are_exact():
    assert conv_params(BIG, BIG, 3) == BIG * BIG * 9 + BIG
    assert linear_params(BIG + 1, BIG - 1) == (BIG + 1) * (BIG - 1) + BIG - 1


# --------------------------------------------------------------------------- #
# (e) what importing and computing pull in
# --------------------------------------------------------------------------- #


def loaded_modules(code):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True, timeout=120
    )
    return completed.stdout.strip().splitlines()[-1]


REPORT = "print(sorted(m for m in ('sympy','torch','numpy') if m in sys.modules))"


def test_numeric_path_imports_nothing_heavy():
    code = (
        "import convcalc, sys; convcalc.conv_output_size(227, 11, 4); convcalc.pool_output_size(28, 2); "
        "convcalc.conv_params(3,4,5); " + REPORT
    )
    assert loaded_modules(code) == "[]"


def test_plain_import_imports_nothing_heavy():
    assert loaded_modules("import convcalc, sys; " + REPORT) == "[]"


def test_array_path_imports_numpy_only():
    code = "import sys, numpy, convcalc; convcalc.conv_output_size(numpy.arange(5, 9), 3); " + REPORT
    assert loaded_modules(code) == "['numpy']"


def test_symbolic_path_imports_sympy_not_torch():
    code = "import convcalc, sys; H = convcalc.symbols('H'); convcalc.conv_output_size(H, 3, 2, 1); " + REPORT
    result = loaded_modules(code)
    assert "'sympy'" in result
    assert "'torch'" not in result
