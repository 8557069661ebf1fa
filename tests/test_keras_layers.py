"""convcalc.keras against the real thing: Keras 3's rules (values it gives, §-numbered) and torch forward passes.

Each rule is checked two ways: against values verified with Keras 3.15.1
(conv-transpose sizes, parameter counts), written into the tests, and against a real torch
forward pass that pads the way TensorFlow documents 'SAME' (§9: ``out =
ceil(i / s)``, the odd pixel at the end) and 'causal' (``dk - 1`` on the left).
Receptive fields are read off torch too: with all-ones kernels, output ``j``
is nonzero exactly for the one-hot inputs inside its window.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import convcalc
from convcalc import ReceptiveField, ShapeError, SpecError
from convcalc import keras as K

torch = pytest.importorskip("torch")
F = torch.nn.functional

# --------------------------------------------------------------------------- #
# Keras' padding rules done with torch: F.pad by the documented amounts, then a real conv / pool
# --------------------------------------------------------------------------- #


def tf_pads(i: int, k: int, s: int, d: int, mode: str) -> tuple[int, int]:
    """(before, after) padding of one axis (§8, §9)."""
    dk = d * (k - 1) + 1
    if mode == "valid":
        return 0, 0
    if mode == "causal":
        return dk - 1, 0
    out = -(-i // s)
    total = max((out - 1) * s + dk - i, 0)
    return total // 2, total - total // 2


def pad_like_keras(x: Any, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...], mode: str) -> Any:
    """Pad the spatial axes of a channels-first tensor as Keras does."""
    pads: list[int] = []
    for i, kk, ss, dd in reversed(list(zip(x.shape[2:], k, s, d, strict=True))):
        pads.extend(tf_pads(int(i), kk, ss, dd, mode))
    return F.pad(x, pads)


def torch_conv(
    x: Any, cout: int, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...], mode: str, groups: int = 1
) -> Any:
    conv = (F.conv1d, F.conv2d, F.conv3d)[len(k) - 1]
    weight = torch.ones(cout, x.shape[1] // groups, *k)
    return conv(pad_like_keras(x, k, s, d, mode), weight, stride=s, dilation=d, groups=groups)


def channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[-1], *shape[1:-1])


def channels_last(shape: Any) -> tuple[int, ...]:
    shape = tuple(shape)
    return (shape[0], *shape[2:], shape[1])


def one_hot_support(forward: Any, size: int) -> dict[int, set[int]]:
    """For a 1-D map on a (N, 1, size) input: output position -> input positions it depends on."""
    with torch.no_grad():
        y = forward(torch.eye(size).reshape(size, 1, size))
    return {j: {int(a) for a in torch.nonzero(y[:, 0, j]).flatten()} for j in range(y.shape[-1])}


def assert_rf_is_torch(rf: ReceptiveField, support: dict[int, set[int]], size: int) -> None:
    """Each output's window is [start + j*jump, start + j*jump + size - 1]; torch sees inside it only, and all of
    its ends where the window lies inside the input."""
    assert support, "torch gives no output"
    for j, seen in support.items():
        lo = rf.start + j * rf.jump
        hi = lo + rf.size - 1
        assert seen <= set(range(lo, hi + 1)), (j, sorted(seen), (lo, hi))
        if lo >= 0 and hi < size:
            assert (min(seen), max(seen)) == (lo, hi), (j, sorted(seen), (lo, hi))


def plan_row(layer: Any, shape: tuple[Any, ...]) -> Any:
    (row,) = convcalc.plan(K.Sequential([layer]), shape).rows
    return row


# --------------------------------------------------------------------------- #
# Conv1D / Conv2D / Conv3D
# --------------------------------------------------------------------------- #


@st.composite
def conv1d_cases(draw: Any) -> tuple[int, int, int, int, str, int, int]:
    k = draw(st.integers(1, 6))
    s = draw(st.integers(1, 4))
    d = 1 if s > 1 else draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["valid", "same", "causal"]))
    groups = draw(st.sampled_from([1, 2]))
    filters = groups * draw(st.integers(1, 3))
    i = draw(st.integers(1, 30))
    return i, k, s, d, mode, groups, filters


@given(conv1d_cases())
def test_conv1d_shape_params_and_receptive_field_are_torch_with_keras_padding(case: Any) -> None:
    i, k, s, d, mode, groups, filters = case
    cin = 2 * groups
    layer = K.Conv1D(filters, k, strides=s, padding=mode, dilation_rate=d, groups=groups, name="c")
    dk = d * (k - 1) + 1
    if mode == "valid" and i < dk:
        with pytest.raises(
            ShapeError,
            match=rf"^c \(Conv1D\): computed output size would be zero or negative on "
            rf"spatial axis 0: the window spans {dk} but the input is {i}",
        ):
            plan_row(layer, (1, i, cin))
        return
    row = plan_row(layer, (1, i, cin))
    out = torch_conv(torch.zeros(1, cin, i), filters, (k,), (s,), (d,), mode, groups)
    assert row.output_shape == channels_last(out.shape)
    assert row.output_shape[1] == (-(-i // s) if mode != "valid" else (i - dk) // s + 1)  # §8
    module = torch.nn.Conv1d(cin, filters, k, groups=groups)
    assert row.trainable == sum(p.numel() for p in module.parameters())  # §11: same count as torch
    assert row.macs == row.output_shape[1] * k * (cin // groups) * filters
    (rf,) = row.receptive_field
    assert (rf.size, rf.jump) == (dk, s)
    support = one_hot_support(lambda x: torch_conv(x, 1, (k,), (s,), (d,), mode), i)
    assert_rf_is_torch(rf, support, i)


CONV_TABLE = [
    # layer, channels-last input, groups
    (K.Conv2D(6, 3, strides=2, padding="same"), (2, 9, 8, 4), 1),
    (K.Conv2D(6, (3, 5), strides=(2, 1), padding="SAME"), (1, 7, 10, 4), 1),
    (K.Conv2D(4, 2, padding="same"), (1, 5, 6, 3), 1),  # even kernel: the extra pixel goes at the end
    (K.Conv2D(6, 3, padding="valid", dilation_rate=(2, 1), groups=2), (1, 11, 7, 4), 2),
    (K.Conv2D(8, (1, 3), strides=(1, 3), use_bias=False), (1, 5, 10, 2), 1),
    (K.Conv3D(4, 3, padding="same", strides=2), (1, 5, 6, 7, 2), 1),
    (K.Conv3D(6, (2, 3, 1), padding="valid", groups=3), (2, 4, 5, 6, 3), 3),
]


@pytest.mark.parametrize(("layer", "shape", "groups"), CONV_TABLE, ids=lambda v: repr(v)[:40])
def test_conv2d_and_conv3d_match_torch(layer: Any, shape: tuple[int, ...], groups: int) -> None:
    row = plan_row(layer, shape)
    nd = len(shape) - 2
    k, s, d = layer._k, layer._s, layer._d
    mode = layer.padding.lower()
    out = torch_conv(torch.zeros(channels_first(shape)), layer.filters, k, s, d, mode, groups)
    assert row.output_shape == channels_last(out.shape)
    conv = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)[nd - 1]
    module = conv(shape[-1], layer.filters, k, groups=groups, bias=layer.use_bias)
    assert row.trainable == sum(p.numel() for p in module.parameters())
    assert row.non_trainable == 0
    weights = math.prod(k) * (shape[-1] // groups) * layer.filters
    assert row.macs == math.prod(row.output_shape[1:-1]) * weights
    assert [(f.size, f.jump) for f in row.receptive_field] == [
        (dd * (kk - 1) + 1, ss) for kk, ss, dd in zip(k, s, d, strict=True)
    ]


def test_same_padding_with_stride_puts_the_receptive_field_where_tensorflow_pads() -> None:
    # k3 s2: i=8 pads (0, 1), i=7 pads (1, 1) (§9) - the start moves with the input size
    for size, start in ((8, 0), (7, -1)):
        row = plan_row(K.Conv2D(1, 3, strides=2, padding="same"), (1, size, size, 1))
        assert row.receptive_field[0] == ReceptiveField(3, 2, start)
        support = one_hot_support(lambda x: torch_conv(x, 1, (3,), (2,), (1,), "same"), size)
        assert_rf_is_torch(row.receptive_field[0], support, size)


def test_same_padding_with_stride_on_a_symbolic_size_has_no_fixed_receptive_field() -> None:
    H = convcalc.symbols("H")
    row = plan_row(K.Conv2D(3, 3, strides=2, padding="same"), (1, H, 8, 3))
    assert row.output_shape[2:] == (4, 3)
    assert row.receptive_field is None  # the padding depends on H
    for h in (1, 2, 7, 8, 9):
        assert (
            row.output_shape[1].subs(H, h)
            == -(-h // 2)
            == channels_last(torch_conv(torch.zeros(1, 3, h, 8), 3, (3, 3), (2, 2), (1, 1), "same").shape)[1]
        )
    stride_one = plan_row(K.Conv2D(3, 3, strides=(2, 1), padding="same"), (1, H, 8, 3))
    assert stride_one.receptive_field is None


def test_valid_conv_on_a_symbolic_size_records_a_constraint() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(K.Sequential([K.Conv2D(3, 5, name="c")]), (1, H, 8, 3))
    assert plan.output_shape[1] == H - 4
    (constraint,) = plan.constraints
    assert (constraint.layer, constraint.axis, constraint.kind, constraint.value) == ("c", 0, ">=", 1)
    assert [h for h in range(1, 8) if constraint.holds(h)] == [5, 6, 7]


def test_causal_conv1d_sees_only_the_past() -> None:
    row = plan_row(K.Conv1D(4, 3, padding="causal", dilation_rate=2), (1, 10, 3))
    assert row.output_shape == (1, 10, 4)
    assert row.receptive_field == (ReceptiveField(5, 1, -4),)
    support = one_hot_support(lambda x: torch_conv(x, 1, (3,), (1,), (2,), "causal"), 10)
    assert all(max(seen) == j for j, seen in support.items())  # output j depends on inputs <= j only
    assert_rf_is_torch(row.receptive_field[0], support, 10)
    strided = plan_row(K.Conv1D(4, 3, strides=2, padding="Causal"), (1, 10, 3))
    assert strided.output_shape == (1, 5, 4)  # ceil(10 / 2)


def test_conv_keeps_its_arguments_and_an_input_shape_starts_a_sequential() -> None:
    model = K.Sequential([K.Conv2D(8, 3, input_shape=(28, 28, 1)), K.Flatten()])
    plan = convcalc.plan(model)
    assert plan.input_shape == (1, 28, 28, 1)
    assert plan.output_shape == (1, 26 * 26 * 8)


# --------------------------------------------------------------------------- #
# Conv2DTranspose (§8 verified values)
# --------------------------------------------------------------------------- #

TRANSPOSE_VERIFIED = [
    # kernel, strides, padding, output_padding, input size -> Keras 3.15.1's output size (§8)
    (3, 2, "valid", None, 4, 9),
    (3, 2, "same", None, 4, 8),
    (3, 2, "same", 1, 4, 8),
    (3, 2, "valid", 1, 4, 10),
    (2, 3, "valid", None, 4, 12),
]


@pytest.mark.parametrize(("k", "s", "padding", "op", "i", "expected"), TRANSPOSE_VERIFIED)
def test_conv2d_transpose_output_sizes_verified_with_keras(
    k: int, s: int, padding: str, op: Any, i: int, expected: int
) -> None:
    row = plan_row(K.Conv2DTranspose(5, k, strides=s, padding=padding, output_padding=op), (1, i, i, 3))
    assert row.output_shape == (1, expected, expected, 5)
    assert row.trainable == k * k * 5 * 3 + 5  # §11: prod(k) * C_out * C_in + C_out
    assert row.macs == i * i * k * k * 5 * 3
    assert row.receptive_field is None


TRANSPOSES = [(K.Conv1DTranspose, 1), (K.Conv2DTranspose, 2), (K.Conv3DTranspose, 3)]


@pytest.mark.parametrize(("cls", "nd"), TRANSPOSES, ids=lambda v: getattr(v, "__name__", str(v)))
@given(
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 2),
    i=st.integers(2, 9),
    padding=st.sampled_from(["valid", "same"]),
    op=st.one_of(st.none(), st.integers(0, 3)),
)
def test_conv_transpose_matches_torch_where_torch_can_express_it(
    cls: Any, nd: int, k: int, s: int, d: int, i: int, padding: str, op: Any
) -> None:
    assume(op is None or op < s)
    assume(s == 1 or d == 1)  # Keras rejects strides > 1 with dilation_rate > 1 (tested on its own)
    dk = d * (k - 1) + 1
    if padding == "valid":  # nothing cropped; op None pads up to max(dk, s)
        torch_pad, torch_op = 0, (max(dk, s) - dk if op is None else op)
    else:
        assume(op is not None)  # 'same' with op: crop dk // 2 on both sides (§8, tf-keras deconv_output_length)
        torch_pad, torch_op = dk // 2, op
    assume(torch_op < max(s, d))  # torch's own limit on output_padding
    layer = cls(2, k, strides=s, padding=padding, output_padding=op, dilation_rate=d, use_bias=False)
    sizes = (i, i + 1, i + 2)[:nd]
    row = plan_row(layer, (1, *sizes, 3))
    transpose = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)[nd - 1]
    module = transpose(3, 2, k, stride=s, padding=torch_pad, output_padding=torch_op, dilation=d, bias=False)
    with torch.no_grad():
        out = module(torch.zeros(1, 3, *sizes))
    assert row.output_shape == channels_last(out.shape)
    assert row.trainable == sum(p.numel() for p in module.parameters())
    assert row.macs == math.prod(sizes) * k**nd * 3 * 2  # each input position meets every weight once
    assert row.receptive_field is None


def test_conv2d_transpose_same_without_output_padding_multiplies_by_the_stride() -> None:
    H = convcalc.symbols("H")
    row = plan_row(K.Conv2DTranspose(4, (3, 4), strides=(2, 3), padding="same"), (1, H, 5, 2))
    assert row.output_shape == (1, 2 * H, 15, 4)
    assert row.trainable == 3 * 4 * 4 * 2 + 4
    assert row.macs == 5 * H * 3 * 4 * 4 * 2


def test_receptive_field_stops_at_a_transpose_and_stays_unknown_after_it() -> None:
    model = K.Sequential([K.Input((4, 4, 2)), K.Conv2DTranspose(5, 3, strides=2), K.Conv2D(2, 3)])
    plan = convcalc.plan(model)
    assert [r.output_shape for r in plan.rows] == [(1, 9, 9, 5), (1, 7, 7, 2)]
    assert [r.receptive_field for r in plan.rows] == [None, None]
    assert plan.receptive_field is None


# --------------------------------------------------------------------------- #
# DepthwiseConv2D and SeparableConv2D (§11)
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("k", "s", "d", "padding", "dm", "use_bias"),
    [
        (3, 1, 1, "valid", 1, True),
        (3, 2, 1, "same", 2, True),
        ((3, 5), 1, 2, "same", 3, False),
        (2, (2, 1), 1, "valid", 1, True),
    ],
)
def test_depthwise_conv2d_is_a_grouped_torch_conv(
    k: Any, s: Any, d: Any, padding: str, dm: int, use_bias: bool
) -> None:
    cin = 4
    layer = K.DepthwiseConv2D(k, strides=s, padding=padding, depth_multiplier=dm, dilation_rate=d, use_bias=use_bias)
    row = plan_row(layer, (2, 11, 10, cin))
    out = torch_conv(torch.zeros(2, cin, 11, 10), cin * dm, layer._k, layer._s, layer._d, padding, groups=cin)
    assert row.output_shape == channels_last(out.shape)
    kk = math.prod(layer._k)
    assert row.trainable == kk * cin * dm + (cin * dm if use_bias else 0)  # §11
    module = torch.nn.Conv2d(cin, cin * dm, layer._k, groups=cin, bias=use_bias)
    assert row.trainable == sum(p.numel() for p in module.parameters())
    assert row.macs == math.prod(row.output_shape[1:3]) * kk * cin * dm
    assert [f.size for f in row.receptive_field] == [
        dd * (kd - 1) + 1 for kd, dd in zip(layer._k, layer._d, strict=True)
    ]


@pytest.mark.parametrize(
    ("k", "s", "padding", "dm", "use_bias"),
    [
        (3, 1, "valid", 1, True),
        (3, 2, "same", 2, True),
        ((1, 3), (1, 2), "same", 1, False),
    ],
)
def test_separable_conv2d_is_depthwise_then_pointwise(k: Any, s: Any, padding: str, dm: int, use_bias: bool) -> None:
    cin, filters = 3, 7
    layer = K.SeparableConv2D(filters, k, strides=s, padding=padding, depth_multiplier=dm, use_bias=use_bias)
    row = plan_row(layer, (1, 9, 12, cin))
    x = torch_conv(torch.zeros(1, cin, 9, 12), cin * dm, layer._k, layer._s, layer._d, padding, groups=cin)
    out = F.conv2d(x, torch.ones(filters, cin * dm, 1, 1))
    assert row.output_shape == channels_last(out.shape)
    kk = math.prod(layer._k)
    assert row.trainable == kk * cin * dm + cin * dm * filters + (filters if use_bias else 0)  # §11
    depthwise = torch.nn.Conv2d(cin, cin * dm, layer._k, groups=cin, bias=False)
    pointwise = torch.nn.Conv2d(cin * dm, filters, 1, bias=use_bias)
    assert row.trainable == sum(p.numel() for m in (depthwise, pointwise) for p in m.parameters())
    assert row.macs == math.prod(row.output_shape[1:3]) * (kk * cin * dm + cin * dm * filters)


def test_separable_conv2d_worked_example() -> None:
    # 3x3 separable, 32 -> 64 channels: 3*3*32 + 32*64 + 64 = 2400 (vs 18496 for a Conv2D)
    assert plan_row(K.SeparableConv2D(64, 3, padding="same"), (1, 16, 16, 32)).trainable == 2400
    assert plan_row(K.Conv2D(64, 3, padding="same"), (1, 16, 16, 32)).trainable == 18496


@given(
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    d=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    dm=st.integers(1, 3),
    filters=st.one_of(st.none(), st.integers(1, 4)),
    use_bias=st.booleans(),
    i=st.integers(1, 20),
)
def test_depthwise_and_separable_conv1d_are_grouped_torch_convs(
    k: int, s: int, d: int, padding: str, dm: int, filters: Any, use_bias: bool, i: int
) -> None:
    # filters None: DepthwiseConv1D; else SeparableConv1D, the depthwise step then a pointwise one to `filters`
    cin = 3
    args = {"strides": s, "padding": padding, "depth_multiplier": dm, "dilation_rate": d, "use_bias": use_bias}
    layer = (
        K.DepthwiseConv1D(k, **args, name="c") if filters is None else K.SeparableConv1D(filters, k, **args, name="c")
    )
    dk = d * (k - 1) + 1
    if padding == "valid" and i < dk:
        with pytest.raises(ShapeError, match=rf"^c \({layer.kind}\): computed output size would be zero or negative"):
            plan_row(layer, (1, i, cin))
        return
    row = plan_row(layer, (1, i, cin))
    out = torch_conv(torch.zeros(1, cin, i), cin * dm, (k,), (s,), (d,), padding, groups=cin)
    depthwise = k * cin * dm
    cout, weights = cin * dm, depthwise
    if filters is not None:
        out = F.conv1d(out, torch.ones(filters, cin * dm, 1))
        cout, weights = filters, depthwise + cin * dm * filters
    assert row.output_shape == channels_last(out.shape)
    assert row.trainable == weights + (cout if use_bias else 0)
    assert row.macs == row.output_shape[1] * weights
    with_bias = convcalc.plan(K.Sequential([layer]), (1, i, cin), macs="macs+bias").rows[0].macs
    assert with_bias == row.macs + (row.output_shape[1] * cout if use_bias else 0)
    (rf,) = row.receptive_field
    assert (rf.size, rf.jump) == (dk, s)
    assert_rf_is_torch(rf, one_hot_support(lambda x: torch_conv(x, 1, (k,), (s,), (d,), padding), i), i)


def test_the_new_ranks_are_not_the_2d_classes() -> None:
    # one rule per family, each rank its own class: a 1-D layer is no 2-D one (isinstance, repr, kind)
    pairs = [
        (K.DepthwiseConv1D(3), K.DepthwiseConv2D),
        (K.SeparableConv1D(2, 3), K.SeparableConv2D),
        (K.Conv1DTranspose(2, 3), K.Conv2DTranspose),
        (K.Conv3DTranspose(2, 3), K.Conv2DTranspose),
    ]
    for layer, other in pairs:
        assert not isinstance(layer, other)
        assert not isinstance(other(2, 3) if other is not K.DepthwiseConv2D else other(3), type(layer))
        assert repr(layer).startswith(f"{layer.kind}(")
    assert not isinstance(K.Conv3DTranspose(2, 3), K.Conv1DTranspose)


# --------------------------------------------------------------------------- #
# Pooling, global pooling, batch norm, dense, flatten, padding
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("cls", "pool", "strides", "padding", "shape"),
    [
        (K.MaxPooling2D, 2, None, "valid", (1, 9, 8, 3)),
        (K.MaxPooling2D, 3, 2, "same", (2, 7, 8, 3)),
        (K.AveragePooling2D, (3, 2), (1, 2), "valid", (1, 6, 9, 2)),
        (K.AveragePooling2D, 3, 2, "SAME", (1, 6, 6, 1)),
        (K.MaxPooling2D, (2, 3), 1, "same", (1, 5, 5, 2)),
    ],
)
def test_pooling_matches_torch_with_keras_padding(
    cls: Any, pool: Any, strides: Any, padding: str, shape: tuple[int, ...]
) -> None:
    layer = cls(pool, strides=strides, padding=padding)
    row = plan_row(layer, shape)
    k, s = layer._k, layer._s
    if strides is None:
        assert s == k  # strides=None means pool_size (§8)
    x = pad_like_keras(torch.zeros(channels_first(shape)), k, s, (1, 1), padding.lower())
    out = F.max_pool2d(x, k, s) if cls is K.MaxPooling2D else F.avg_pool2d(x, k, s)
    assert row.output_shape == channels_last(out.shape)
    assert row.params == 0
    assert [(f.size, f.jump) for f in row.receptive_field] == list(zip(k, s, strict=True))


def test_average_pooling_same_windows_are_where_tensorflow_puts_them() -> None:
    # §8: windows on 1..6 with k3 s2 'same' average 2, 4, 5.5 (padding excluded): starts 0, 2, 4
    row = plan_row(K.AveragePooling2D(3, strides=2, padding="same"), (1, 6, 6, 1))
    assert row.receptive_field[0] == ReceptiveField(3, 2, 0)
    x = torch.arange(1.0, 7.0).reshape(1, 1, 6)
    padded = pad_like_keras(x, (3,), (2,), (1,), "same")
    count = pad_like_keras(torch.ones(1, 1, 6), (3,), (2,), (1,), "same")
    mean = F.avg_pool1d(padded, 3, 2) / F.avg_pool1d(count, 3, 2)
    assert mean.flatten().tolist() == [2.0, 4.0, 5.5]


def test_valid_pooling_on_a_too_small_input_is_an_error() -> None:
    with pytest.raises(
        ShapeError,
        match=r"^p \(MaxPooling2D\): computed output size would be zero or negative on "
        r"spatial axis 1: the window spans 3 but the input is 2",
    ):
        convcalc.plan(K.Sequential([K.MaxPooling2D(3, name="p")]), (1, 4, 2, 3))


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling(keepdims: bool) -> None:
    row = plan_row(K.GlobalAveragePooling2D(keepdims=keepdims), (3, 7, 5, 16))
    out = torch.zeros(3, 7, 5, 16).mean(dim=(1, 2), keepdim=keepdims)
    assert row.output_shape == tuple(out.shape) == ((3, 1, 1, 16) if keepdims else (3, 16))
    assert row.params == 0


@pytest.mark.parametrize(
    ("center", "scale", "trainable"), [(True, True, 150), (False, True, 75), (True, False, 75), (False, False, 0)]
)
def test_batch_normalization_weights(center: bool, scale: bool, trainable: int) -> None:
    row = plan_row(K.BatchNormalization(center=center, scale=scale), (1, 28, 28, 75))
    assert (row.trainable, row.non_trainable) == (trainable, 150)  # §11: moving mean and variance
    assert row.output_shape == (1, 28, 28, 75)
    assert row.receptive_field == (ReceptiveField(1, 1, 0), ReceptiveField(1, 1, 0))


@pytest.mark.parametrize(("axis", "c"), [(-1, 5), (3, 5), (1, 7), (-3, 7), (2, 6)])
def test_batch_normalization_axis_picks_the_channels(axis: int, c: int) -> None:
    row = plan_row(K.BatchNormalization(axis=axis), (2, 7, 6, 5))
    assert (row.trainable, row.non_trainable) == (2 * c, 2 * c)


@pytest.mark.parametrize("axis", [4, -5, 0, -4])
def test_batch_normalization_axis_out_of_range(axis: int) -> None:
    with pytest.raises(
        ShapeError,
        match=rf"^bn \(BatchNormalization\): axis={axis} is out of range for "
        r"\(2, 7, 6, 5\)\. Received: input_shape=\(2, 7, 6, 5\)$",
    ):
        convcalc.plan(K.Sequential([K.BatchNormalization(axis=axis, name="bn")]), (2, 7, 6, 5))


def test_dense_acts_on_the_last_axis_of_a_3d_input() -> None:
    row = plan_row(K.Dense(10), (4, 7, 32))
    linear = torch.nn.Linear(32, 10)
    with torch.no_grad():
        out = linear(torch.zeros(4, 7, 32))
    assert row.output_shape == tuple(out.shape) == (4, 7, 10)
    assert row.trainable == sum(p.numel() for p in linear.parameters()) == 330
    assert row.macs == 7 * 32 * 10  # one product per time step
    no_bias = plan_row(K.Dense(10, use_bias=False), (4, 32))
    assert (no_bias.output_shape, no_bias.trainable, no_bias.macs) == ((4, 10), 320, 320)


def test_dense_on_a_symbolic_feature_count() -> None:
    F_ = convcalc.symbols("F")
    row = plan_row(K.Dense(3), (1, F_))
    assert row.output_shape == (1, 3)
    assert row.trainable == 3 * F_ + 3


def test_flatten_dropout_and_activation() -> None:
    H = convcalc.symbols("H")
    model = K.Sequential([K.Conv2D(4, 3, padding="same"), K.Activation("relu"), K.Dropout(0.25), K.Flatten()])
    plan = convcalc.plan(model, (2, 5, 6, 3))
    assert [r.output_shape for r in plan.rows] == [(2, 5, 6, 4), (2, 5, 6, 4), (2, 5, 6, 4), (2, 120)]
    assert plan.rows[1].receptive_field == plan.rows[2].receptive_field == plan.rows[0].receptive_field
    assert convcalc.plan(K.Sequential([K.Flatten()]), (2, H, 6, 3)).output_shape == (2, 18 * H)
    assert plan_row(K.Dropout(1), (1, 3)).output_shape == (1, 3)


@pytest.mark.parametrize(
    ("padding", "pads"),
    [
        (2, ((2, 2), (2, 2))),
        ((1, 3), ((1, 1), (3, 3))),
        ([0, 2], ((0, 0), (2, 2))),
        (((1, 2), (3, 0)), ((1, 2), (3, 0))),
        ([[0, 1], [2, 3]], ((0, 1), (2, 3))),
    ],
)
def test_zero_padding2d_forms(padding: Any, pads: tuple[tuple[int, int], tuple[int, int]]) -> None:
    row = plan_row(K.ZeroPadding2D(padding), (1, 4, 5, 3))
    (t, b), (left, r) = pads
    out = F.pad(torch.zeros(1, 4, 5, 3), (0, 0, left, r, t, b))  # channels last: pad W then H
    assert row.output_shape == tuple(out.shape)
    assert row.receptive_field == (ReceptiveField(1, 1, -t), ReceptiveField(1, 1, -left))


def test_zero_padding_after_a_layer_with_no_receptive_field() -> None:
    plan = convcalc.plan(K.Sequential([K.Conv2DTranspose(2, 2, strides=2), K.ZeroPadding2D(1)]), (1, 3, 3, 1))
    assert plan.rows[-1].output_shape == (1, 8, 8, 2)
    assert plan.rows[-1].receptive_field is None


# --------------------------------------------------------------------------- #
# Receptive field of a whole model, against torch
# --------------------------------------------------------------------------- #


def test_receptive_field_of_a_chain_is_torch_one_hot_support() -> None:
    model = K.Sequential(
        [
            K.Conv2D(1, 3, padding="same"),
            K.MaxPooling2D(2),
            K.ZeroPadding2D(((2, 0), (1, 1))),
            K.Conv2D(1, 3, dilation_rate=2),
            K.BatchNormalization(),
            K.AveragePooling2D(3, strides=2, padding="same"),
            K.Conv2D(1, 2, strides=2, padding="valid"),
        ]
    )
    size = 40
    plan = convcalc.plan(model, (1, size, size, 1))
    rf = plan.receptive_field

    def forward(x: Any) -> Any:  # the same network, axis by axis, with all-ones kernels
        x = torch_conv(x, 1, (3,), (1,), (1,), "same")
        x = F.avg_pool1d(x, 2)  # a pooling window's support is the window, like MaxPooling2D's
        x = F.pad(x, (2, 0))
        x = torch_conv(x, 1, (3,), (1,), (2,), "valid")
        x = F.avg_pool1d(pad_like_keras(x, (3,), (2,), (1,), "same"), 3, 2)
        return torch_conv(x, 1, (2,), (2,), (1,), "valid")

    support = one_hot_support(forward, size)
    assert len(support) == plan.output_shape[1]
    assert_rf_is_torch(rf[0], support, size)
    assert rf[0] == ReceptiveField(20, 8, -5)  # by hand: (3,1,-1) (4,2,-1) (4,2,-5) (12,2,-5) (16,4,-5)


@pytest.mark.parametrize("merge", ["add", "channels", "width"])
def test_branches_that_meet_see_the_union_of_their_windows(merge: str) -> None:
    # a valid 5-wide window [0, 5) beside a 'same' 3-wide one cropped to match, [-1, 2): each output position sees
    # [-1, 5); concatenated along the width, positions no longer line up
    x = K.Input((20, 1), name="x")
    a, b = K.Conv1D(1, 5, name="a"), K.Conv1D(1, 3, padding="same", name="b")
    crop = K.Cropping1D((0, 4), name="crop")
    join = {
        "add": K.Add(name="join"),
        "channels": K.Concatenate(name="join"),
        "width": K.Concatenate(axis=1, name="join"),
    }
    model = K.Functional(x, [(a, "x"), (b, "x"), (crop, "b"), (join[merge], ("crop", "a"))])
    plan = convcalc.plan(model, (1, 20, 1))
    if merge == "width":
        assert plan.row("join").receptive_field is None
        assert plan.receptive_field is None
        return
    rf = plan.row("join").receptive_field
    assert rf == (ReceptiveField(6, 1, -1),)
    assert plan.receptive_field == rf

    def forward(x: Any) -> Any:
        return torch_conv(x, 1, (5,), (1,), (1,), "valid") + torch_conv(x, 1, (3,), (1,), (1,), "same")[..., :-4]

    assert_rf_is_torch(rf[0], one_hot_support(forward, 20), 20)


def test_a_branch_broadcast_along_the_width_leaves_no_receptive_field() -> None:
    x = K.Input((8, 8, 2), name="x")
    crop = K.Cropping2D(((0, 0), (0, 5)), name="crop")  # one column, broadcast back to 6 by the product
    model = K.Functional(x, [(K.Conv2D(2, 3, name="c"), "x"), (crop, "c"), (K.Multiply(name="gate"), ("c", "crop"))])
    plan = convcalc.plan(model, (1, 8, 8, 2))
    assert plan.row("crop").receptive_field is not None
    assert plan.row("gate").receptive_field is None


def test_receptive_field_of_causal_conv1d_stack() -> None:
    model = K.Sequential([K.Conv1D(1, 2, padding="causal", dilation_rate=d) for d in (1, 2, 4, 8)])
    plan = convcalc.plan(model, (1, 32, 1))
    assert plan.receptive_field == (ReceptiveField(16, 1, -15),)  # WaveNet: 2**4 past samples

    def forward(x: Any) -> Any:
        for d in (1, 2, 4, 8):
            x = torch_conv(x, 1, (2,), (1,), (d,), "causal")
        return x

    support = one_hot_support(forward, 32)
    assert_rf_is_torch(plan.receptive_field[0], support, 32)
    assert all(max(seen) == j for j, seen in support.items())


# --------------------------------------------------------------------------- #
# Input and Sequential
# --------------------------------------------------------------------------- #


def test_input_gives_the_default_shape_with_its_batch_size() -> None:
    plan = convcalc.plan(K.Sequential([K.Input((8, 8, 3), batch_size=4), K.Conv2D(2, 3)]))
    assert plan.input_shape == (4, 8, 8, 3)
    assert plan.output_shape == (4, 6, 6, 2)
    assert convcalc.plan(K.Sequential([K.Input([5, 2])]), None).output_shape == (1, 5, 2)


def test_a_sequential_without_an_input_needs_an_input_shape() -> None:
    with pytest.raises(ShapeError, match=r"^plan\(\) needs an input_shape"):
        convcalc.plan(K.Sequential([K.Dense(3)]))
    assert convcalc.plan(K.Sequential(), (1, 3)).output_shape == (1, 3)


def test_sequential_is_immutable_and_has_a_readable_repr() -> None:
    model = K.Sequential([K.Dense(3, name="head")], name="tiny")
    with pytest.raises(AttributeError, match="Sequential is immutable"):
        model.layers = ()
    text = repr(model)
    assert text.startswith("Sequential([Dense(units=3")
    assert "name='head'" in text
    assert text.endswith("name='tiny')")
    assert model.kind == "Sequential"


def test_a_bare_layer_is_planned_under_its_own_name() -> None:
    plan = convcalc.plan(K.Conv2D(2, 3, name="stem"), (1, 5, 5, 1))
    assert [r.name for r in plan.rows] == ["stem"]
    assert plan.convention == "keras"


def test_auto_names_are_unique() -> None:
    a, b = K.Dense(1), K.Dense(1)
    assert a.name != b.name
    assert a.name.startswith("dense")
    assert b.name.startswith("dense")


SEQUENTIAL_ERRORS = [
    (lambda: K.Sequential(K.Dense(3)), r"^Sequential takes a list of layers\. Received: layers=Dense\("),
    (lambda: K.Sequential([], name=""), r"^name must be a non-empty string\. Received: name=''$"),
    (
        lambda: K.Sequential([K.Dense(3), "relu"]),
        r"^Sequential takes convcalc.keras layers \(Input only first\); item 1 is str\. Received: layers\[1\]='relu'$",
    ),
    (lambda: K.Sequential([K.Dense(3), K.Input((3,))]), r"item 1 is Input\."),
    (
        lambda: K.Sequential([K.Dense(3, name="d"), K.Dense(3, name="d")]),
        r"^layer names must be unique; repeated: \['d'\]\. Received: names=\['d', 'd'\]$",
    ),
    (lambda: K.Input(()), r"^shape must be a tuple such as \(28, 28, 1\)\. Received: shape=\(\)$"),
    (lambda: K.Input(28), r"^shape must be a tuple such as \(28, 28, 1\)\. Received: shape=28$"),
    (lambda: K.Dense(3, name=""), r"^name must be a non-empty string\. Received: name=''$"),
    (lambda: K.Conv2D(3, 3, name=7), r"^name must be a non-empty string\. Received: name=7$"),
]


@pytest.mark.parametrize(("make", "message"), SEQUENTIAL_ERRORS)
def test_input_and_sequential_errors(make: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        make()


# --------------------------------------------------------------------------- #
# Every argument error
# --------------------------------------------------------------------------- #

ARGUMENT_ERRORS = [
    (
        lambda: K.Conv2D(3, (3, 3, 3)),
        r"^kernel_size must be an int or a tuple of 2 ints\. Received: filters=3, "
        r"kernel_size=\(3, 3, 3\), strides=1",
    ),
    (lambda: K.Conv1D(3, 3, strides=(1, 1)), r"^strides must be an int or a tuple of 1 ints\."),
    (lambda: K.Conv2D(3, 0), r"^kernel_size must be at least 1\. Received: kernel_size=0$"),
    (lambda: K.Conv2D(0, 3), r"^filters must be at least 1\. Received: filters=0$"),
    (lambda: K.Conv2D(3, 3, groups=0), r"^groups must be at least 1\."),
    (
        lambda: K.Conv2D(10, 3, groups=3),
        r"^filters must be divisible by groups: 10 % 3 = 1; groups that divide filters: 1, 2, 5, 10\. Received: "
        r"filters=10, kernel_size=3,",
    ),
    (
        lambda: K.Conv2D(3, 3, data_format="channels_first"),
        r"^convcalc\.keras plans channels_last models only\. "
        r"Received: .*data_format='channels_first'",
    ),
    (
        lambda: K.Conv2D(3, 3, strides=2, dilation_rate=2),
        r"^`strides > 1` not supported in conjunction with `dilation_rate > 1` \(Keras: any stride above 1 "
        r"together with any dilation above 1, even on different axes\).* Received: .*strides=2, ",
    ),
    (lambda: K.Conv3D(3, 3, strides=(1, 1, 2), dilation_rate=(2, 1, 1)), r"^`strides > 1` not supported"),
    (lambda: K.Conv2D(3, 3, padding="causal"), r"^padding='causal' exists only for Conv1D\. Received: "),
    (
        lambda: K.Conv2D(3, 3, padding="full"),
        r"^padding must be one of 'same', 'valid', 'causal'\. "
        r"Received: padding='full'$",
    ),
    (lambda: K.Conv2D(3, 3, use_bias=1), r"^use_bias must be True or False\. Received: .*use_bias=1"),
    (lambda: K.DepthwiseConv2D(3, depth_multiplier=0), r"^depth_multiplier must be at least 1\."),
    (lambda: K.DepthwiseConv2D(3, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.DepthwiseConv2D((3, 3, 3)), r"^kernel_size must be an int or a tuple of 2 ints\."),
    (lambda: K.SeparableConv2D(0, 3), r"^filters must be at least 1\."),
    (lambda: K.SeparableConv2D(4, 3, depth_multiplier=0), r"^depth_multiplier must be at least 1\."),
    (
        lambda: K.Conv2DTranspose(4, 3, strides=2, output_padding=2),
        r"^output_padding=2 must be strictly less than strides=2 \(Keras\)\. Received: filters=4, kernel_size=3, strides=2, "
        r"padding='valid', output_padding=2",
    ),
    (
        lambda: K.Conv2DTranspose(4, 3, output_padding=(0, 1)),
        r"^output_padding=1 must be strictly less than strides=1 on axis 1 \(Keras\)",
    ),
    (lambda: K.Conv2DTranspose(4, 3, output_padding=-1), r"^output_padding must be at least 0\."),
    (lambda: K.Conv2DTranspose(4, 3, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.DepthwiseConv1D(3, depth_multiplier=0), r"^depth_multiplier must be at least 1\."),
    (lambda: K.DepthwiseConv1D((3, 3)), r"^kernel_size must be an int or a tuple of 1 ints\."),
    (lambda: K.DepthwiseConv1D(3, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.DepthwiseConv1D(3, strides=0), r"^strides must be at least 1\."),
    (lambda: K.SeparableConv1D(0, 3), r"^filters must be at least 1\."),
    (lambda: K.SeparableConv1D(4, 3, depth_multiplier=-1), r"^depth_multiplier must be at least 1\."),
    (lambda: K.SeparableConv1D(4, 3, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.SeparableConv1D(4, 3, dilation_rate=0), r"^dilation_rate must be at least 1\."),
    (
        lambda: K.Conv1DTranspose(4, 3, strides=2, output_padding=2),
        r"^output_padding=2 must be strictly less than strides=2 \(Keras\)\. Received: filters=4, kernel_size=3, "
        r"strides=2, padding='valid', output_padding=2, data_format=None,",
    ),
    (lambda: K.Conv1DTranspose(4, 3, strides=2, dilation_rate=2), r"^`strides > 1` not supported"),
    (lambda: K.Conv1DTranspose(4, 3, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.Conv1DTranspose(4, (3, 3)), r"^kernel_size must be an int or a tuple of 1 ints\."),
    (lambda: K.Conv3DTranspose(0, 3), r"^filters must be at least 1\."),
    (
        lambda: K.Conv3DTranspose(4, 3, (1, 2, 1), "valid", None, (0, 1, 1)),
        r"^output_padding=1 must be strictly less than strides=1 on axis 2 \(Keras\)",
    ),
    (lambda: K.Conv3DTranspose(4, 3, strides=(2, 1, 1), dilation_rate=(1, 1, 2)), r"^`strides > 1` not supported"),
    (lambda: K.Conv3DTranspose(4, (3, 3)), r"^kernel_size must be an int or a tuple of 3 ints\."),
    (lambda: K.Conv3DTranspose(4, 3, output_padding=(0, 0)), r"^output_padding must be an int or a tuple of 3 ints\."),
    (
        lambda: K.PReLU(shared_axes=1.0),
        r"^shared_axes must be None, an axis or a list of axes \(integers\)\. Received: shared_axes=1\.0$",
    ),
    (lambda: K.PReLU(shared_axes=[1, "2"]), r"^shared_axes must be None, an axis or a list of axes"),
    (lambda: K.PReLU(shared_axes=True), r"^shared_axes must be None, an axis or a list of axes"),
    (lambda: K.PReLU(shared_axes="1"), r"^shared_axes must be None, an axis or a list of axes"),
    (lambda: K.PReLU(shared_axes=[1], name=""), r"^name must be a non-empty string\."),
    (lambda: K.MaxPooling2D((2, 2, 2)), r"^pool_size must be an int or a tuple of 2 ints\."),
    (lambda: K.AveragePooling2D(2, strides=0), r"^strides must be at least 1\."),
    (lambda: K.MaxPooling2D(2, padding="causal"), r"^padding='causal' exists only for Conv1D\."),
    (lambda: K.BatchNormalization(center=1), r"^center must be True or False\. Received: axis=-1, "),
    (lambda: K.BatchNormalization(scale="yes"), r"^scale must be True or False\."),
    (lambda: K.BatchNormalization(axis=1.0), r"^axis must be an integer\. Received: axis=1\.0$"),
    (lambda: K.Dense(0), r"^units must be at least 1\. Received: units=0$"),
    (
        lambda: K.Dense(3, use_bias="no"),
        r"^use_bias must be True or False\. Received: units=3, activation=None, "
        r"use_bias='no', lora_rank=None$",
    ),
    (lambda: K.Dropout(1.5), r"^rate must be between 0 and 1\. Received: rate=1\.5$"),
    (lambda: K.Dropout(True), r"^rate must be between 0 and 1\. Received: rate=True$"),
    (lambda: K.Dropout("0.5"), r"^rate must be between 0 and 1\. Received: rate='0\.5'$"),
    (
        lambda: K.ZeroPadding2D(((1, 2, 3), (1, 2))),
        r"^The `1st entry of padding` must be an int or a \(start, end\) pair of ints\. Received: "
        r"padding=\(\(1, 2, 3\), \(1, 2\)\)",
    ),
    (lambda: K.ZeroPadding2D((1, 2, 3)), r"^`padding` should have 2 elements\. Received: padding=\(1, 2, 3\)"),
    (lambda: K.ZeroPadding2D((-1, 2)), r"^padding must be at least 0\. Received: padding=-1$"),  # (a crop: an int)
    (lambda: K.ZeroPadding2D((1, -1)), r"^padding must be at least 0\."),
]


@pytest.mark.parametrize(("make", "message"), ARGUMENT_ERRORS)
def test_argument_errors(make: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        make()


@pytest.mark.parametrize(
    ("layer", "shape", "expected"),
    [
        (
            K.Conv2D(2, 3, name="c"),
            (1, 8, 3),
            r"^c \(Conv2D\): expects a 4-D input \(batch, \*spatial, channels\) but "
            r"receives 3-D \(1, 8, 3\)\. Received: input_shape=\(1, 8, 3\)$",
        ),
        (K.Conv1D(2, 3, name="c"), (1, 8, 8, 3), r"^c \(Conv1D\): expects a 3-D input"),
        (K.Conv3D(2, 3, name="c"), (1, 8, 8, 3), r"^c \(Conv3D\): expects a 5-D input"),
        (K.DepthwiseConv2D(3, name="c"), (1, 8, 3), r"^c \(DepthwiseConv2D\): expects a 4-D input"),
        (K.SeparableConv2D(2, 3, name="c"), (1, 8, 3), r"^c \(SeparableConv2D\): expects a 4-D input"),
        (K.Conv2DTranspose(2, 3, name="c"), (1, 8, 3), r"^c \(Conv2DTranspose\): expects a 4-D input"),
        (K.DepthwiseConv1D(3, name="c"), (1, 8, 8, 3), r"^c \(DepthwiseConv1D\): expects a 3-D input"),
        (K.SeparableConv1D(2, 3, name="c"), (1, 8, 8, 3), r"^c \(SeparableConv1D\): expects a 3-D input"),
        (K.Conv1DTranspose(2, 3, name="c"), (1, 8, 8, 3), r"^c \(Conv1DTranspose\): expects a 3-D input"),
        (K.Conv3DTranspose(2, 3, name="c"), (1, 8, 8, 3), r"^c \(Conv3DTranspose\): expects a 5-D input"),
        (
            K.DepthwiseConv1D(3, dilation_rate=3, name="c"),
            (1, 6, 3),
            r"^c \(DepthwiseConv1D\): computed output size would be zero or negative on spatial axis 0: the window "
            r"spans 7 but the input is 6; the input must be at least 7 there, or use padding='same'\.",
        ),
        (
            K.PReLU(shared_axes=[1, 4], name="c"),
            (1, 8, 8, 3),
            r"^c \(PReLU\): shared_axes=\[1, 4\] names axis 4, which alpha of a 4-D input cannot share: Keras sets "
            r"alpha's axis i - 1 to 1, and alpha has the input's 3 axes after the batch, so the axes it takes are -2 "
            r"to 3\. Received: input_shape=\(1, 8, 8, 3\), shared_axes=\[1, 4\]$",
        ),
        (
            K.PReLU(shared_axes=-1, name="c"),
            (1, 8),
            r"^c \(PReLU\): shared_axes=-1 names axis -1, .* so the axes it takes are 0 to 1\.",
        ),
        (K.PReLU(shared_axes=1, name="c"), (4,), r"^c \(PReLU\): shared_axes=1 names axis 1, .* so it takes none\."),
        (K.MaxPooling2D(name="c"), (1, 8, 3), r"^c \(MaxPooling2D\): expects a 4-D input"),
        (K.GlobalAveragePooling2D(name="c"), (1, 8, 3), r"^c \(GlobalAveragePooling2D\): expects a 4-D input"),
        (K.ZeroPadding2D(name="c"), (1, 8, 3), r"^c \(ZeroPadding2D\): expects a 4-D input"),
        (
            K.Conv2D(4, 3, groups=2, name="c"),
            (1, 8, 8, 3),
            r"^c \(Conv2D\): 3 input channels are not divisible by "
            r"groups=2\. Received: input_shape=\(1, 8, 8, 3\)$",
        ),
        (
            K.DepthwiseConv2D(5, name="c"),
            (1, 8, 4, 3),
            r"^c \(DepthwiseConv2D\): computed output size would be zero or "
            r"negative on spatial axis 1: the window spans 5 but the input "
            r"is 4; the input must be at least 5 there, or use "
            r"padding='same'\.",
        ),
        (
            K.SeparableConv2D(2, 3, dilation_rate=2, name="c"),
            (1, 4, 8, 3),
            r"^c \(SeparableConv2D\): computed output size would be zero or negative on spatial axis 0: the window spans 5",
        ),
    ],
)
def test_shape_errors_name_the_layer(layer: Any, shape: tuple[int, ...], expected: str) -> None:
    with pytest.raises(ShapeError, match=expected):
        convcalc.plan(K.Sequential([layer]), shape)


def test_a_too_small_input_says_the_smallest_that_fits() -> None:
    model = K.Sequential(
        [K.Input((10, 10, 1)), K.Conv2D(2, 3, name="a"), K.MaxPooling2D(2, name="p"), K.Conv2D(2, 3, name="b")]
    )
    assert convcalc.plan(model).output_shape == (1, 2, 2, 2)
    with pytest.raises(
        ShapeError,
        match=r"^b \(Conv2D\): .*the window spans 3 but the input is 2.* The smallest "
        r"network input that fits every layer: input_shape=\(1, 8, 10, 1\)\.",
    ):
        convcalc.plan(model, (1, 7, 10, 1))


# --------------------------------------------------------------------------- #
# Known gaps (bugs): these assert Keras' behaviour and fail until convcalc.keras is fixed
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "make",
    [
        lambda: K.MaxPooling2D(2, data_format="channels_first"),
        lambda: K.AveragePooling2D(2, data_format="channels_first"),
        lambda: K.DepthwiseConv2D(3, data_format="channels_first"),
        lambda: K.SeparableConv2D(2, 3, data_format="channels_first"),
        lambda: K.Conv2DTranspose(2, 3, data_format="channels_first"),
        lambda: K.DepthwiseConv1D(3, data_format="channels_first"),
        lambda: K.SeparableConv1D(2, 3, data_format="channels_first"),
        lambda: K.Conv1DTranspose(2, 3, data_format="channels_first"),
        lambda: K.Conv3DTranspose(2, 3, data_format="channels_first"),
        lambda: K.Conv3DTranspose(2, 3, 1, "valid", "channels_first"),
        lambda: K.GlobalAveragePooling2D(data_format="channels_first"),
        lambda: K.ZeroPadding2D(1, data_format="channels_first"),
    ],
)
def test_every_layer_rejects_channels_first_like_conv2d(make: Any) -> None:
    """Conv2D rejects data_format='channels_first'; the others accept it and then plan the input as channels last,
    which gives a wrong shape silently (MaxPooling2D(2) on a (1, 3, 8, 8) channels-first input would pool C and H)."""
    with pytest.raises(SpecError, match=r"^convcalc\.keras plans channels_last models only\."):
        make()


def test_dense_needs_a_feature_axis() -> None:
    """Keras' Dense has min_ndim=2: on a 1-D input convcalc would take the batch axis for the features."""
    with pytest.raises(ShapeError, match=r"^d \(Dense\): .*Received: input_shape=\(5,\)$"):
        convcalc.plan(K.Sequential([K.Dense(3, name="d")]), (5,))


@pytest.mark.parametrize(
    "make",
    [
        lambda: convcalc.conv_output_size((10, 10), 2, stride=(2, 1), dilation=(1, 2), convention="keras"),
        lambda: convcalc.conv_transpose_output_size((4, 4), 3, stride=(1, 2), dilation=(2, 1), convention="keras"),
        lambda: K.Conv2DTranspose(4, 3, strides=2, dilation_rate=(2, 1)),
        lambda: K.Conv2DTranspose(4, 3, strides=(1, 2), dilation_rate=(2, 1)),
        lambda: K.Conv2D(4, 2, strides=(2, 1), dilation_rate=(1, 2)),
    ],
)
def test_keras_refuses_a_stride_and_a_dilation_above_1_even_on_different_axes(make: Any) -> None:
    # Keras' base_conv: `if max(strides) > 1 and max(dilation_rate) > 1: raise ValueError(...)`
    with pytest.raises(SpecError, match=r"^`strides > 1` not supported in conjunction with `dilation_rate > 1`"):
        make()


def test_keras_accepts_a_dilation_when_every_stride_is_1() -> None:
    # by hand: dilated extents 2 and 3 on an unpadded 10 x 10 input at stride 1
    assert convcalc.conv_output_size((10, 10), (2, 2), dilation=(1, 2), convention="keras") == (9, 8)
    # by hand, Keras' transposed 'valid' rule (i - 1) * s + max(dk, s): 3 * 1 + 5 = 8 and 3 * 1 + 3 = 6
    assert convcalc.conv_transpose_output_size((4, 4), 3, dilation=(2, 1), convention="keras") == (8, 6)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("cls", ["DepthwiseConv2D", "SeparableConv2D"])
@pytest.mark.parametrize(("strides", "dilation"), [(2, 2), ((2, 1), (1, 2)), (3, 2)])
def test_depthwise_and_separable_take_a_stride_and_a_dilation_together(
    cls: str, strides: Any, dilation: Any, padding: str
) -> None:
    # Keras refuses a stride and a dilation above 1 together in its plain convolutions only
    keras = pytest.importorskip("keras")
    args = {"kernel_size": 3, "strides": strides, "dilation_rate": dilation, "padding": padding}
    if cls == "SeparableConv2D":
        args["filters"] = 5
    for size in (9, 12):
        x = keras.Input((size, size + 1, 4))
        model = keras.Model(x, getattr(keras.layers, cls)(**args)(x))
        plan = convcalc.plan(model)
        assert plan.output_shape == tuple(d or 1 for d in model.output.shape)
        assert plan.total_params == model.count_params()


@pytest.mark.parametrize(("axis", "keeps"), [(-1, True), (3, True), (1, False), ([1, 2], False)])
def test_a_unit_normalization_along_a_spatial_axis_ends_the_field(axis: Any, keeps: bool) -> None:
    # each output is divided by the L2 norm of the whole axis, as torch's F.normalize
    model = K.Sequential([K.Conv2D(2, 3), K.UnitNormalization(axis)])
    plan = convcalc.plan(model, (1, 8, 8, 1))
    assert plan.rows[-1].receptive_field == ((ReceptiveField(3, 1, 0),) * 2 if keeps else None)
