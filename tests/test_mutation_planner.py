"""The planner: every field of every row, the MAC conventions, argument messages and the smallest-input
hint (written to kill mutants; see docs/mutation.md)."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
import sympy

import convcalc
from convcalc import ReceptiveField, Row, ShapeError, SpecError, nn
from convcalc import keras as K

H = convcalc.symbols("H")


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 2, 1, bias=False)),
        nn.Flatten(),
        nn.Linear(32, 5),
    )


RF3 = (ReceptiveField(3, 1, -1),) * 2
RF4 = (ReceptiveField(4, 2, -1),) * 2


def test_every_field_of_every_row() -> None:
    plan = convcalc.plan(small_net(), (2, 3, 8, 8), itemsize=2)
    assert plan.rows == (
        Row("0", "Conv2d", (2, 3, 8, 8), (2, 4, 8, 8), 112, 0, 0, 6912, 512, 1024, RF3, 0),
        Row("1", "BatchNorm2d", (2, 4, 8, 8), (2, 4, 8, 8), 8, 0, 9, 0, 512, 1024, RF3, 0),
        Row("2", "ReLU", (2, 4, 8, 8), (2, 4, 8, 8), 0, 0, 0, 0, 512, 1024, RF3, 0),
        Row("3.0", "MaxPool2d", (2, 4, 8, 8), (2, 4, 4, 4), 0, 0, 0, 0, 128, 256, RF4, 1),
        Row("3.1", "Conv2d", (2, 4, 4, 4), (2, 2, 4, 4), 8, 0, 0, 128, 64, 128, RF4, 1),
        Row("4", "Flatten", (2, 2, 4, 4), (2, 32), 0, 0, 0, 0, 64, 128, None, 0),
        Row("5", "Linear", (2, 32), (2, 5), 165, 0, 0, 160, 10, 20, None, 0),
    )
    assert (plan.input_shape, plan.output_shape, plan.constraints) == ((2, 3, 8, 8), (2, 5), ())
    assert (plan.convention, plan.mac_convention, plan.itemsize, plan.layout) == ("torch", "macs", 2, "channels_first")
    assert plan.macs == 7200
    assert all(type(v) is int for r in plan.rows for v in (r.macs, r.activations, r.activation_bytes))


def test_the_planners_row_maker_sets_every_field_in_order() -> None:
    from dataclasses import fields

    from convcalc._plan import make_row

    values = [f"value {i}" for i in range(len(fields(Row)))]
    assert make_row(*values) == Row(*values)
    assert [getattr(make_row(*values), f.name) for f in fields(Row)] == values


def test_a_second_plan_of_a_model_lists_the_same_modules() -> None:
    net = small_net()
    first, second = convcalc.plan(net, (2, 3, 8, 8)), convcalc.plan(net, (1, 3, 8, 8))
    assert first.modules == second.modules
    assert [path for path, _ in first.modules] == ["", "0", "1", "2", "3", "3.0", "3.1", "4", "5"]


@pytest.mark.parametrize(
    ("macs", "per_row", "total"),
    [
        ("macs", [6912, 0, 0, 0, 128, 0, 160], 7200),
        # plus one addition per output (per sample) of a layer with a bias: 4*8*8 for the first conv, 5 for Linear
        ("macs+bias", [7168, 0, 0, 0, 128, 0, 165], 7461),
        ("flops", [13824, 0, 0, 0, 256, 0, 320], 14400),
        # torchinfo: a Conv's parameters times its output positions; other layers with parameters: their count
        ("torchinfo", [7168, 8, 0, 0, 128, 0, 165], 7469),
        ("MACS".lower(), [6912, 0, 0, 0, 128, 0, 160], 7200),
    ],
)
def test_mac_conventions(macs: str, per_row: list[int], total: int) -> None:
    plan = convcalc.plan(small_net(), (2, 3, 8, 8), macs=macs)
    assert [r.macs for r in plan.rows] == per_row
    assert plan.macs == total
    assert plan.mac_convention == macs


def test_torchinfo_counts_conv_layers_by_type_name() -> None:
    # a transposed convolution is a "Conv" too; a layer without parameters counts 0
    net = nn.Sequential(nn.ConvTranspose2d(2, 3, 2, stride=2, bias=False), nn.ReLU(), nn.AvgPool2d(2))
    plan = convcalc.plan(net, (1, 2, 3, 5), macs="torchinfo")
    assert [r.macs for r in plan.rows] == [24 * 6 * 10, 0, 0]


def test_symbolic_rows_are_sympy() -> None:
    plan = convcalc.plan(nn.Conv2d(3, 4, 3, padding=1), (1, 3, H, H), macs="macs+bias")
    assert plan.rows == (
        Row("Conv2d", "Conv2d", (1, 3, H, H), (1, 4, H, H), 112, 0, 0, 112 * H**2, 4 * H**2, 16 * H**2, RF3, 0),
    )
    assert plan.input_shape == (1, 3, H, H)
    assert plan.output_shape == (1, 4, H, H)
    assert all(isinstance(d, (int, sympy.Expr)) for d in (*plan.rows[0].input_shape, *plan.rows[0].output_shape))


def test_an_input_of_symbols_only() -> None:
    B = convcalc.symbols("B")
    plan = convcalc.plan(nn.ReLU(), (B, H))
    (row,) = plan.rows
    assert row.output_shape == (B, H)
    assert all(isinstance(d, sympy.Symbol) for d in (*row.input_shape, *row.output_shape, *plan.output_shape))
    assert row.activations == B * H
    assert row.activation_bytes == 4 * B * H


def test_symbolic_rows_with_floors_are_sympy() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.ReLU()), (1, 1, H, 8))
    out = plan.rows[1].output_shape[2]
    assert str(out) == "floor((H - 3)/2) + 1"
    assert plan.rows[1].input_shape[2] == out
    assert plan.rows[1].activations == 3 * out
    assert str(plan.output_shape[2]) == "floor((H - 3)/2) + 1"


def test_keras_model_plan_metadata() -> None:
    plan = convcalc.plan(K.Sequential([K.Input((8, 8, 1)), K.Conv2D(2, 3)]))
    assert (plan.convention, plan.layout, plan.input_shape, plan.output_shape) == (
        "keras",
        "channels_last",
        (1, 8, 8, 1),
        (1, 6, 6, 2),
    )
    assert plan.rows[0].macs == 648
    with pytest.raises(SpecError, match=r"^convention='torch' does not apply to this model: its layers follow Keras'"):
        convcalc.plan(K.Sequential([K.Input((8, 8, 1)), K.Conv2D(2, 3)]), convention="torch")


def test_a_bare_keras_layer_keeps_its_name() -> None:
    layer = K.Conv2D(2, 3)
    plan = convcalc.plan(layer, (1, 8, 8, 1))
    assert plan.rows[0].name == layer.name
    assert plan.rows[0].depth == 0


# --------------------------------------------------------------------------- #
# Arguments
# --------------------------------------------------------------------------- #

BAD = [
    ({"strict": 1}, SpecError, "strict must be True or False. Received: strict=1"),
    ({"itemsize": 0}, SpecError, "itemsize must be a positive int. Received: itemsize=0"),
    ({"itemsize": 2.0}, SpecError, "itemsize must be a positive int. Received: itemsize=2.0"),
    (
        {"macs": "MACS"},
        SpecError,
        "macs must be one of 'macs', 'macs+bias', 'flops', 'torchinfo', 'fvcore', 'ptflops'. Received: macs='MACS'",
    ),
    ({"convention": "tf"}, SpecError, "convention must be one of 'torch', 'keras'. Received: convention='tf'"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_plan_argument_messages(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 8, 8), **kwargs)
    assert str(info.value) == message


def test_smallest_valid_itemsize() -> None:
    assert convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 8, 8), itemsize=1).rows[0].activation_bytes == 36


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (None, "plan() needs an input_shape such as (1, 3, 224, 224). Received: input_shape=None"),
        ("abc", "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape='abc'"),
        (b"ab", "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape=b'ab'"),
        (
            {"N": 1},  # a dict is a forward's keyword inputs, each a shape
            "input_shape must be a tuple such as (1, 3, 224, 224), or a dict of such tuples for a forward's keyword "
            "inputs. Received: input_shape={'N': 1}",
        ),
        (5, "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape=5"),
        ((), "input_shape must not be empty. Received: input_shape=()"),
        ((1, 1, 0, 8), "input_shape[2] must be at least 1. Received: input_shape[2]=0"),
        (
            (1, 1, H * H, 8),
            "input_shape[2]=H**2 is not a size convcalc can follow exactly; use one symbol per axis (or a linear "
            "expression such as 2*H + 1). Received: input_shape=(1, 1, H**2, 8)",
        ),
    ],
)
def test_input_shape_messages(shape: Any, message: str) -> None:
    with pytest.raises(ShapeError) as info:
        convcalc.plan(nn.Conv2d(1, 1, 3), shape)
    assert str(info.value) == message


def test_input_shape_as_a_list_and_a_linear_expression() -> None:
    assert convcalc.plan(nn.Conv2d(1, 1, 3), [1, 1, 8, 8]).output_shape == (1, 1, 6, 6)
    assert convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 2 * H + 1, 8)).output_shape == (1, 1, 2 * H - 1, 6)


def test_a_model_of_another_kind() -> None:
    with pytest.raises(SpecError) as info:
        convcalc.plan(object(), (1, 1, 8, 8))
    assert re.fullmatch(
        r"plan\(\) takes a convcalc\.nn / convcalc\.keras model, a torch\.nn\.Module, a Keras model, or an ONNX or \.keras file; got object\. "
        r"Received: model=<object object at 0x[0-9a-f]+>",
        str(info.value),
    )


def test_a_torch_module_is_read_without_running_it() -> None:
    torch = pytest.importorskip("torch")
    plan = convcalc.plan(torch.nn.Conv2d(3, 4, 3), (1, 3, 8, 8))
    assert plan.output_shape == (1, 4, 6, 6)
    assert plan.total_params == 112


def test_nesting_deeper_than_the_recursion_limit() -> None:
    deep: nn.Module = nn.ReLU()
    for _ in range(sys.getrecursionlimit() * 2):
        deep = nn.Sequential(deep)
    with pytest.raises(SpecError) as info:
        convcalc.plan(deep, (1, 1, 4, 4))
    assert str(info.value) == (
        "the model is nested too deep for Python's recursion limit; flatten nested Sequential containers "
        f"(sys.getrecursionlimit() is {sys.getrecursionlimit()}). Received: model=Sequential"
    )


# --------------------------------------------------------------------------- #
# The smallest-input hint
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((1, 1, 6, 9), "input_shape=(1, 1, 7, 9)."),
        ((1, 1, 9, 6), "input_shape=(1, 1, 9, 7)."),
        ((1, 1, 5, 9), "input_shape=(1, 1, 7, 9)."),
        ((1, 1, 9, 3), "input_shape=(1, 1, 9, 7)."),
        ((1, 1, 10**6, 3), "input_shape=(1, 1, 1000000, 7)."),
    ],
)
def test_hint_names_the_smallest_input_that_gets_past(shape: tuple[int, ...], hint: str) -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 5))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, shape)
    text = str(info.value)
    assert f" The smallest network input that fits every layer: {hint} Received: " in text
    assert text.startswith("1 (Conv2d): ")


def test_hint_through_a_strided_layer() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 5))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 9, 9))
    assert str(info.value) == (
        "1 (Conv2d): the kernel spans 5 but the padded input is 4 + 0 = 4 on spatial axis 0; the input to this "
        "layer must be at least 5 there. The smallest network input that fits every layer: input_shape=(1, 1, 11, "
        "11). Received: input_shape=(1, 1, 4, 4)"
    )


def test_hint_for_a_channels_last_model() -> None:
    model = K.Sequential([K.Input((8, 6, 1)), K.Conv2D(2, 3), K.Conv2D(2, 5)])
    with pytest.raises(ShapeError) as info:
        convcalc.plan(model)
    text = str(info.value)
    assert re.search(
        r"The smallest network input that fits every layer: input_shape=\(1, 8, 7, 1\)\. "
        r"Received: input_shape=\(1, 6, 4, 2\)$",
        text,
    ), text


def test_hint_for_a_symbolic_axis_is_left_out() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 5))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, H, 6))
    assert "input_shape=(1, 1, H, 7)." in str(info.value)
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 6, H))
    assert "smallest network input" in str(info.value)


def test_no_hint_beyond_2_to_the_24() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, (3, 2**24 + 2)))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 10, 4))
    assert str(info.value) == (
        "0 (Conv2d): the kernel spans 16777218 but the padded input is 4 + 0 = 4 on spatial axis 1; the input to "
        "this layer must be at least 16777218 there. Received: input_shape=(1, 1, 10, 4)"
    )
    near = nn.Sequential(nn.Conv2d(1, 1, (3, 2**24)))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(near, (1, 1, 10, 4))
    assert f"fits every layer: input_shape=(1, 1, 10, {2**24})." in str(info.value)


def test_strict_errors_carry_no_hint() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3, stride=2))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 9, 10), strict=True)
    assert str(info.value) == (
        "0 (Conv2d): (W - F + 2P) = 10 - 3 + 0 = 7 is not divisible by the stride 2 on spatial axis 1 (strict "
        "mode); input sizes that fit: 9 or 11. Received: input_shape=(1, 1, 9, 10)"
    )


# --------------------------------------------------------------------------- #
# Symbolic checks recorded as constraints
# --------------------------------------------------------------------------- #


def test_constraints_recorded_for_a_symbolic_plan() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.MaxPool2d(2)), (1, 1, H, 9), strict=True)
    assert [str(c) for c in plan.constraints] == [
        "0 (axis 0): H - 3 >= 0 (kernel 3 fits the padded input)",
        "0 (axis 0): H - 3 divisible by 2 (stride 2 divides evenly)",
        "1 (axis 0): floor((H - 5)/4) + 1 >= 1 (window 2 fits the padded input)",
        "1 (axis 0): floor((H - 3)/2) - 1 divisible by 2 (stride 2 divides evenly)",
    ]
    assert [(c.layer, c.axis, c.kind, c.value) for c in plan.constraints] == [
        ("0", 0, ">=", 0),
        ("0", 0, "divides", 2),
        ("1", 0, ">=", 1),
        ("1", 0, "divides", 2),
    ]


def test_a_symbolic_size_that_never_fits_raises() -> None:
    # the symbolic axis fits from H = 7 on (a constraint), but the constant axis offers 4 to a kernel of 5
    with pytest.raises(ShapeError, match=r"^1 \(Conv2d\): the kernel spans 5 but the padded input is 4"):
        convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 5)), (1, 1, H, 6))


def test_a_flatten_feeding_a_linear_records_an_equality() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(36, 10)), (1, 1, H, 8))
    fixed = [c for c in plan.constraints if c.kind == "=="]
    assert [(c.layer, c.axis, str(c.form), c.value) for c in fixed] == [("2", 1, "6*(H - 2)", 36)]
    assert convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(36, 10)), (1, 1, 8, 8))
    with pytest.raises(ShapeError):
        convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(36, 10)), (1, 1, 9, 8))


@pytest.mark.parametrize(
    ("unflatten", "size", "shape", "axis"), [((2, 4, 4), 32, (1, 2, 4, 4), 0), ((2, 8, 4), 64, (1, 2, 8, 4), 1)]
)
def test_no_hint_for_an_axis_the_network_input_does_not_have(
    unflatten: tuple[int, ...], size: int, shape: tuple[int, ...], axis: int
) -> None:
    net = nn.Sequential(nn.Unflatten(1, unflatten), nn.Conv2d(2, 1, 5))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, size))
    assert str(info.value) == (
        f"1 (Conv2d): the kernel spans 5 but the padded input is 4 + 0 = 4 on spatial axis {axis}; the input to "
        f"this layer must be at least 5 there. Received: input_shape={shape}"
    )


def test_no_hint_when_doubling_never_meets_a_strict_size() -> None:
    # only odd sizes pass the strided conv in strict mode, and the search doubles 9: the hint is left out
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 5))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 9, 9), strict=True)
    assert str(info.value) == (
        "1 (Conv2d): the kernel spans 5 but the padded input is 4 + 0 = 4 on spatial axis 0; the input to this "
        "layer must be at least 5 there. Received: input_shape=(1, 1, 4, 4)"
    )


def test_torchinfo_total_mult_adds() -> None:
    assert "\nTotal mult-adds (M): 0\n" in convcalc.plan(nn.ReLU(), (1, 1, 4, 4)).summary("torchinfo")
    # Keras BatchNormalization: 2C trainable and 2C non-trainable weights, all counted
    model = K.Sequential([K.Input((1, 1, 2_500_000)), K.BatchNormalization()])
    assert "\nTotal mult-adds (M): 10\n" in convcalc.plan(model).summary("torchinfo")


def test_a_torch_module_defined_outside_torch() -> None:
    torch = pytest.importorskip("torch")

    class Block(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3)

        def forward(self, x: Any) -> Any:
            return self.conv(x)

    plan = convcalc.plan(Block(), (1, 1, 6, 6))
    assert plan.output_shape == (1, 2, 4, 4)


def test_torchinfo_rows_count_non_trainable_weights() -> None:
    model = K.Sequential([K.Input((1, 1, 75)), K.BatchNormalization()])
    plan = convcalc.plan(model, macs="torchinfo")
    assert [r.macs for r in plan.rows] == [300]


def test_a_flatten_that_can_never_feed_the_linear() -> None:
    # 6 * (H - 2) is never 35: the planner raises instead of recording a constraint
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(35, 10))
    with pytest.raises(ShapeError, match=r"^2 \(Linear\): Linear\(in_features=35\) receives 6\*\(H - 2\) features"):
        convcalc.plan(net, (1, 1, H, 8))


def test_a_linear_without_a_flatten_before_it() -> None:
    with pytest.raises(ShapeError) as info:
        convcalc.plan(nn.Linear(7, 2), (1, 8))
    assert str(info.value) == (
        "<model> (Linear): Linear(in_features=7) receives 8 features: use in_features=8. Received: input_shape=(1, 8)"
    )


def test_hint_goes_before_the_last_received() -> None:
    # a Keras layer name may itself contain " Received:"
    model = K.Sequential([K.Input((8, 6, 1)), K.Conv2D(2, 3), K.Conv2D(2, 5, name="odd Received: name")])
    with pytest.raises(ShapeError) as info:
        convcalc.plan(model)
    assert str(info.value) == (
        "odd Received: name (Conv2D): computed output size would be zero or negative on spatial axis 1: the window "
        "spans 5 but the input is 4; the input must be at least 5 there, or use padding='same'. The smallest "
        "network input that fits every layer: input_shape=(1, 8, 7, 1). Received: input_shape=(1, 6, 4, 2)"
    )


def peer_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


@pytest.mark.parametrize(
    ("macs", "per_row"),
    [
        # fvcore: 2 per BatchNorm output (4*8*8), 1 per adaptive-average-pool input (4*4*4)
        ("fvcore", [6912, 512, 0, 0, 0, 64, 0, 20]),
        # ptflops: bias additions too, BatchNorm outputs twice, ReLU outputs twice, max-pool inputs twice,
        # ReLU6 outputs once, adaptive-average-pool inputs twice
        ("ptflops", [6912 + 256, 512, 2 * 256, 2 * 256, 64, 2 * 64, 0, 20 + 5]),
    ],
)
def test_peer_conventions_per_layer(macs: str, per_row: list[int]) -> None:
    plan = convcalc.plan(peer_net(), (2, 3, 8, 8), macs=macs)
    assert [r.macs for r in plan.rows] == per_row
    assert plan.macs == sum(per_row)


@pytest.mark.parametrize(("macs", "per_row"), [("fvcore", [0, 0, 0, 0, 32]), ("ptflops", [2 * 100, 16, 2 * 16, 0, 32])])
def test_peer_conventions_on_near_miss_layers(macs: str, per_row: list[int]) -> None:
    # fvcore counts neither adaptive max pooling nor LeakyReLU; ptflops' hooks count both (the pool's patched
    # F.adaptive_max_pool2d too, F.leaky_relu is not patched), as tests/test_peer_corpus.py checks with ptflops;
    # BatchNorm1d is a BatchNorm
    net = nn.Sequential(nn.AdaptiveMaxPool2d(2), nn.LeakyReLU(), nn.MaxPool2d(1), nn.Flatten(), nn.BatchNorm1d(16))
    assert [r.macs for r in convcalc.plan(net, (1, 4, 5, 5), macs=macs).rows] == per_row


def test_peer_conventions_per_sample_on_symbolic_sizes() -> None:
    net = nn.Sequential(nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1))
    plan = convcalc.plan(net, (3, 4, H, H), macs="ptflops")
    assert [r.macs for r in plan.rows] == [8 * H**2, 8 * H**2]


def test_a_torch_object_that_is_not_a_module() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(
        SpecError,
        match=r"^plan\(\) takes a convcalc\.nn / convcalc\.keras model, a torch\.nn\.Module, a Keras model, or an ONNX or \.keras file; got Tensor\. Received: model=tensor",
    ):
        convcalc.plan(torch.zeros(3), (1, 3))


def test_symbolic_rows_keep_their_depth() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 3))), (1, 1, H, H))
    assert [(r.name, r.depth) for r in plan.rows] == [("0.0", 1)]
    assert plan.rows[0].output_shape == (1, 1, H - 2, H - 2)


def test_no_receptive_field_without_spatial_axes() -> None:
    assert convcalc.plan(nn.Linear(8, 4), (2, 8)).rows[0].receptive_field is None
    assert convcalc.plan(nn.ReLU(), (2, 8)).receptive_field is None


def test_keras_rows_are_named_after_their_layers_and_the_model_after_itself() -> None:
    model = K.Sequential([K.Input((8, 8, 1)), K.Conv2D(2, 3)])
    plan = convcalc.plan(model)
    assert [r.name for r in plan.rows] == [model.layers[0].name]
    assert plan.summary("torchinfo").splitlines()[3].split()[0] == model.name
    assert (
        convcalc.plan(nn.Sequential(nn.ReLU()), (1, 1, 2, 2))
        .summary("torchinfo")
        .splitlines()[3]
        .startswith("Sequential ")
    )


def test_general_symbolic_constraints_keep_their_reason() -> None:
    # a x3 upsampling between two stride-2 poolings leaves sizes outside the folded form: sympy constraints
    net = nn.Sequential(nn.MaxPool2d(2), nn.ConvTranspose2d(1, 1, 1, stride=3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5))
    plan = convcalc.plan(net, (1, 1, H, 16))
    assert [str(c) for c in plan.constraints] == [
        "0 (axis 0): floor((H - 2)/2) + 1 >= 1 (window 2 fits the padded input)",
        "1 (axis 0): 3*floor((H - 2)/2) + 1 >= 1 (output at least 1)",
        "2 (axis 0): floor(3*floor((H - 2)/2)/2 - 1/2) + 1 >= 1 (window 2 fits the padded input)",
        "3 (axis 0): floor(3*floor((H - 2)/2)/2 - 1/2) - 4 >= 0 (kernel 5 fits the padded input)",
    ]


def test_a_linear_mismatch_has_no_size_hint() -> None:
    # the features match at H = 2, but a wrong in_features is not a size problem of one axis
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(ShapeError) as info:
        convcalc.plan(net, (1, 1, 1, 8))
    assert str(info.value) == (
        "2 (Linear): Linear(in_features=16) receives 8 features (Flatten of 1 x 1 x 8 = 8): use in_features=8, or "
        "make the feature map 4 x 4 before Flatten (1 * 4 * 4 = 16), e.g. with AdaptiveAvgPool2d((4, 4)). "
        "Received: input_shape=(1, 8)"
    )


def test_a_symbolic_torchinfo_summary_gives_its_memory_in_megabytes() -> None:
    """The memory lines of a symbolic plan are the byte counts over 1e6: at a size, what the numeric plan prints."""
    net = nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), nn.MaxPool2d(3, stride=2))
    H, W = convcalc.symbols("H W")
    symbolic = [line for line in convcalc.plan(net, (1, 3, H, W)).summary("torchinfo").splitlines() if "(MB)" in line]
    numeric = [
        line for line in convcalc.plan(net, (1, 3, 227, 227)).summary("torchinfo").splitlines() if "(MB)" in line
    ]
    assert symbolic[0] == "Input size (MB): 12*H*W / 1e6"
    assert symbolic[2] == numeric[2] == "Params size (MB): 0.14"
    assert symbolic[3].startswith("Estimated Total Size (MB): (12*H*W + ")
    assert symbolic[3].endswith(" + 139776) / 1e6")
    for ours, theirs in zip(symbolic, numeric, strict=True):
        head, _, value = ours.partition(": ")
        if value.endswith(" / 1e6"):
            megabytes = sympy.sympify(value.removesuffix(" / 1e6")).subs({"H": 227, "W": 227}) / 10**6
            value = f"{float(megabytes):.2f}"
        assert f"{head}: {value}" == theirs


def test_called_kind_is_the_kind_a_row_is_finally_given() -> None:
    """A functional call planned by its layer's rule is added under the layer's kind and renamed by the context's
    amends, the innermost first; an in-place ``relu_`` (fx names it ``relu_``, ``relu__1``) is told apart from
    ``F.relu`` (``relu``, ``relu_1``), which ptflops counts."""
    import dataclasses

    from convcalc._conventions import called_kind

    def to(kind: str) -> Any:
        return lambda row: dataclasses.replace(row, kind=kind)

    assert called_kind([], "MaxPool2d", "pool") == "MaxPool2d"
    assert called_kind([to("max_pool2d")], "MaxPool2d", "max_pool2d") == "max_pool2d"
    assert called_kind([to("outer"), to("inner")], "MaxPool2d", "x") == "outer"  # the last amend is applied first
    assert called_kind([lambda row: row], "GroupNorm", "gn") == "GroupNorm"  # an amend that keeps the kind (frozen)
    assert [called_kind([], "relu", p) for p in ("relu_", "relu__1", "block.relu_", "relu", "relu_1", "relu_x")] == [
        "relu_",
        "relu_",
        "relu_",
        "relu",
        "relu",
        "relu",
    ]
    assert called_kind([], "ReLU", "relu_") == "ReLU"
