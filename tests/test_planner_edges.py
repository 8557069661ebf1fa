"""Planner edges: odd inputs, symbolic sizes outside the folded form, and the smallest-input hint."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy

import convcalc
from convcalc import ShapeError, nn

H = convcalc.symbols("H")


def test_input_shape_must_be_a_sequence_of_sizes() -> None:
    with pytest.raises(convcalc.ShapeError, match="input_shape must be a tuple"):
        convcalc.plan(nn.ReLU(), np.array(5))
    with pytest.raises(convcalc.ShapeError, match="input_shape must be a tuple"):
        convcalc.plan(nn.ReLU(), {"N": 1})
    with pytest.raises(convcalc.ShapeError, match="must not be empty"):
        convcalc.plan(nn.ReLU(), ())
    with pytest.raises(convcalc.ShapeError, match=r"input_shape\[2\]=H\*\*2 is not a size convcalc can follow exactly"):
        convcalc.plan(nn.ReLU(), (1, 1, H**2, 4))
    with pytest.raises(convcalc.ShapeError, match=r"plan\(\) needs an input_shape"):
        convcalc.plan(nn.ReLU())


@pytest.mark.parametrize(
    "shape",
    [
        (np.array([], dtype=np.int8), 7, 7),  # (an unbatched input reads its channels from axis 0: it escaped)
        (1, np.array([3, 3]), 7, 7),
        (1, 3, np.array([7, 9]), 7),
    ],
)
def test_an_array_of_sizes_in_input_shape_is_refused(shape: tuple[object, ...]) -> None:
    """A plan follows one network input; numpy arrays of sizes are for the formulas. Numpy scalars are sizes."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    with pytest.raises(convcalc.ShapeError, match=r"input_shape\[\d\] is an array; a plan takes one int"):
        convcalc.plan(net, shape)
    assert convcalc.plan(net, (np.int64(1), np.int32(3), 7, np.array(7))).output_shape == (1, 4, 5, 5)


def test_numpy_integers_are_plain_sizes() -> None:
    plan = convcalc.plan(nn.Conv2d(1, 2, 3), (np.int64(1), 1, np.int32(8), 8))
    assert plan.output_shape == (1, 2, 6, 6)
    assert type(plan.output_shape[2]) is int


def test_a_size_by_name_is_the_symbol_of_that_name() -> None:
    """``(1, 3, "H", "W")`` plans as ``(1, 3, *convcalc.symbols("H W"))``, as spec files write it."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.Flatten())
    by_name = convcalc.plan(net, (1, 3, "H", "W"))
    H, W = convcalc.symbols("H W")
    assert by_name.output_shape == convcalc.plan(net, (1, 3, H, W)).output_shape
    assert by_name.output_shape[1].subs({H: 9, W: 7}) == convcalc.plan(net, (1, 3, 9, 7)).output_shape[1] == 48
    assert [str(c) for c in by_name.constraints] == [str(c) for c in convcalc.plan(net, (1, 3, H, W)).constraints]
    for bad in ("2H", "", "H W"):
        with pytest.raises(convcalc.ShapeError, match=r"input_shape\[2\]=.* is neither a size nor a symbol name"):
            convcalc.plan(net, (1, 3, bad, 5))


def test_linear_expression_input() -> None:
    plan = convcalc.plan(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 2 * H + 1, 9))
    assert str(plan.output_shape[2]) == "H"


def test_sizes_outside_the_folded_form_become_sympy_constraints() -> None:
    # a x3 upsampling followed by a stride-2 pool leaves floor(3*floor(...)/2): sympy from there on
    net = nn.Sequential(nn.MaxPool2d(2), nn.ConvTranspose2d(1, 1, 1, stride=3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5))
    plan = convcalc.plan(net, (1, 1, H, 16))
    size = plan.output_shape[2]
    for x in range(8, 60):
        assert int(size.subs(H, x)) == convcalc.plan(net, (1, 1, x, 16)).output_shape[2]
    general = [c for c in plan.constraints if not isinstance(c.form, convcalc._symbolic.FloorForm)]
    assert general, plan.constraints
    assert general[0].symbol == H
    assert general[0].holds(40) is True
    assert general[0].holds(2) is False
    assert str(general[0]).startswith("2 (axis 0): floor(3*floor(")


def test_symbolic_flatten_to_linear_is_an_equality_constraint() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 10))
    plan = convcalc.plan(net, (1, 1, H, H))
    (fixed,) = [c for c in plan.constraints if c.kind == "=="]
    assert fixed.holds(8) is True
    assert fixed.holds(9) is False
    assert str(fixed.form) == "2*(H - 2)**2"
    assert plan.valid_sizes().values(100) == [8]  # 2 * (H - 2)**2 == 72 by hand


def test_strict_symbolic_divisibility_and_constant_sizes() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.MaxPool2d(2)), (1, 1, H, 9), strict=True)
    kinds = sorted({c.kind for c in plan.constraints})
    assert kinds == [">=", "divides"]
    solution = plan.valid_sizes()
    assert (solution.smallest, solution.modulus, solution.residues) == (5, 4, (1,))
    with pytest.raises(convcalc.ShapeError, match="not divisible by the stride 2"):
        convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.MaxPool2d(2)), (1, 1, H, 8), strict=True)


def test_smallest_input_hint_only_when_growing_helps() -> None:
    # after an adaptive pool the size no longer depends on the input: no hint to give
    net = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.ZeroPad2d(-2))
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(net, (1, 1, 8, 8))
    assert "smallest network input" not in str(info.value)
    assert str(info.value).startswith("1 (ZeroPad2d): padding leaves a size of -2")


def test_smallest_input_hint_does_not_skip_an_earlier_failure() -> None:
    # growing H breaks the Unflatten before the Conv3d is reached: no size gets past the Conv3d
    net = nn.Sequential(nn.Flatten(2), nn.Unflatten(2, (2, 4, 8)), nn.Conv3d(1, 1, 3))
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(net, (1, 1, 8, 8))
    assert str(info.value).startswith("2 (Conv3d)")
    assert "smallest network input" not in str(info.value)


def test_single_layer_names() -> None:
    plan = convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 5, 5))
    assert [r.name for r in plan.rows] == ["Conv2d"]
    with pytest.raises(
        convcalc.ShapeError, match=r"^<model> \(Conv2d\): .* fits every layer: input_shape=\(1, 1, 3, 5\)"
    ):
        convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 2, 5))


def test_plan_row_lookup() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU()), (1, 1, 5, 5))
    assert plan.row("1").kind == "ReLU"
    with pytest.raises(convcalc.SpecError, match="no layer named 'x'"):
        plan.row("x")
    assert "Conv2d" in str(plan)


def test_mac_conventions_on_transposed_convolutions() -> None:
    net = nn.ConvTranspose2d(4, 2, 3, stride=2)
    base = convcalc.plan(net, (1, 4, 5, 5))
    assert base.macs == 4 * 25 * 2 * 9  # over input positions
    with_bias = convcalc.plan(net, (1, 4, 5, 5), macs="macs+bias")
    assert with_bias.macs == base.macs + 2 * 11 * 11
    info = convcalc.plan(net, (1, 4, 5, 5), macs="torchinfo")
    assert info.macs == (4 * 2 * 9 + 2) * 11 * 11  # torchinfo: parameters times output positions


def test_symbolic_sympy_condition_that_is_false_raises() -> None:
    net = nn.Sequential(nn.MaxPool2d(2), nn.ConvTranspose2d(1, 1, 1, stride=3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5))
    with pytest.raises(convcalc.ShapeError):
        convcalc.plan(net, (1, 1, H, 2))
    assert sympy.Symbol("H", integer=True, positive=True) == H


def test_context_records_or_raises_for_sympy_sizes() -> None:
    from convcalc._planner import Context, MacConvention

    ctx = Context(True, MacConvention.MACS, 4)
    ctx.at_least(H**2 - 3, 1, "a", 0, lambda: "never", "test")  # undecided: kept
    with pytest.raises(convcalc.ShapeError, match="too small"):
        ctx.at_least(-sympy.floor(H**2 / 2), 1, "b", 0, lambda: "too small", "test")  # false for every H
    ctx.at_least(H**2, 1, "c", 0, lambda: "never", "test")  # true for every H: nothing kept
    ctx.divides(H**2, 1, "d", 0, lambda: "never", "test")  # dividing by 1 always holds
    ctx.divides(H**2 + H, 2, "e", 0, lambda: "never", "test")
    assert [(c.layer, c.kind) for c in ctx.constraints] == [("a", ">="), ("e", "divides")]
    assert ctx.constraints[1].holds(3) is True


def test_context_treats_a_constant_form_as_its_number() -> None:
    from convcalc._planner import Context, MacConvention
    from convcalc._symbolic import FloorForm

    seven = FloorForm(H, 0, 1, 0, 1, 7)  # m = 0: the constant 7
    assert seven.is_constant
    ctx = Context(True, MacConvention.MACS, 4)
    ctx.equals(seven, 7, "a", 0, lambda: "never", "test")
    ctx.divides(seven, 7, "b", 0, lambda: "never", "test")
    with pytest.raises(convcalc.ShapeError, match=r"^not 8$"):
        ctx.equals(seven, 8, "c", 0, lambda: "not 8", "test")
    with pytest.raises(convcalc.ShapeError, match=r"^not even$"):
        ctx.divides(seven, 2, "d", 0, lambda: "not even", "test")
    assert ctx.constraints == []


def test_a_numeric_size_that_does_not_fit_never_consults_sympy(monkeypatch: pytest.MonkeyPatch) -> None:
    import convcalc._backend

    def no_sympy() -> None:
        raise AssertionError("sympy was asked about plain numbers")

    monkeypatch.setattr(convcalc._backend, "sympy", no_sympy)
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(nn.Conv2d(1, 1, 5), (1, 1, 4, 9))
    assert "fits every layer: input_shape=(1, 1, 5, 9)." in str(info.value)


def test_a_count_shared_out_over_a_symbolic_batch_stays_exact() -> None:
    """An unbatched input whose Linear sees a batch of channels and symbolic features: the count is shared out
    as sympy numbers (an int count divided as Python floats raised AttributeError; found by the fuzz test)."""
    net = convcalc.nn.Sequential(
        convcalc.nn.Conv2d(3, 4, 3), convcalc.nn.ReLU(), convcalc.nn.Flatten(), convcalc.nn.LazyLinear(2)
    )
    H = convcalc.symbols("H")
    plan = convcalc.plan(net, (3, H, 3))
    assert plan.output_shape == (4, 2)
    assert plan.macs == 116 * H - 232
    assert plan.macs.subs(H, 7) == convcalc.plan(net, (3, 7, 3)).macs == 580


def test_a_convention_other_than_the_models_own_is_refused() -> None:
    """A model's layers follow their framework's rules (a torch BatchNorm keeps its statistics as buffers, a
    Keras 'same' convolution pads at any stride): ``convention`` names the model's own or is refused."""
    from convcalc import keras

    torch_net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    keras_net = keras.Sequential([keras.Conv2D(4, 3, strides=2, padding="same"), keras.BatchNormalization()])
    assert convcalc.plan(torch_net, (1, 3, 8, 8), convention="torch").convention == "torch"
    assert convcalc.plan(keras_net, (1, 8, 8, 3), convention="keras").convention == "keras"
    with pytest.raises(convcalc.SpecError, match=r"its layers follow torch's rules.*convcalc\.keras layers"):
        convcalc.plan(torch_net, (1, 3, 8, 8), convention="keras")
    with pytest.raises(convcalc.SpecError, match=r"its layers follow Keras' rules.*convcalc\.nn layers"):
        convcalc.plan(keras_net, (1, 8, 8, 3), convention="torch")


def test_a_class_a_path_or_a_zoo_name_given_as_the_model_says_what_plan_takes() -> None:
    with pytest.raises(convcalc.SpecError, match=r"not the class Conv2d: build it first"):
        convcalc.plan(nn.Conv2d, (1, 3, 8, 8))
    with pytest.raises(convcalc.SpecError, match=r"convcalc\.zoo\.get\('resnet18'\) builds a network of the zoo"):
        convcalc.plan("zoo:resnet18", (1, 3, 8, 8))
    with pytest.raises(convcalc.SpecError, match=r"read with convcalc\.specfile\.load_spec\(path\)"):
        convcalc.plan("net.toml", (1, 3, 8, 8))
    with pytest.raises(convcalc.SpecError, match=r"an ONNX or \.keras file; got int"):
        convcalc.plan(5, (1, 3, 8, 8))


def test_a_batch_of_none_is_planned_as_one() -> None:
    """Keras' ``model.input_shape`` is ``(None, 28, 28, 1)``: the batch Keras leaves open is planned as 1, as a
    ``.keras`` file's is; a None elsewhere is no size."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    assert convcalc.plan(net, (None, 3, 8, 8)).input_shape == (1, 3, 8, 8)
    with pytest.raises(convcalc.SpecError, match=r"input_shape\[2\] must be an integer"):
        convcalc.plan(net, (1, 3, None, 8))


def test_the_smallest_input_hint_fixes_every_axis_the_layer_refuses() -> None:
    """LeNet-5 on MNIST's 28 x 28 fails on both axes at c5: the shape the message gives plans."""
    import re

    lenet = convcalc.zoo.lenet5()
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(lenet, (2, 1, 28, 28))
    message = str(caught.value)
    assert "fits every layer: input_shape=(2, 1, 32, 32)." in message
    suggested = re.search(r"input_shape=(\(2, 1, \d+, \d+\))\. Received", message)
    assert suggested is not None
    assert convcalc.plan(lenet, eval(suggested.group(1))).output_shape == (2, 10)
    # one axis short: that axis alone
    with pytest.raises(convcalc.ShapeError, match=r"fits every layer: input_shape=\(2, 1, 32, 32\)\."):
        convcalc.plan(lenet, (2, 1, 28, 32))


def test_an_input_without_its_batch_axis_is_named_as_such() -> None:
    """(1, 3, 32) to a Conv2d(3, ...) is one 1-channel sample to torch; resnet18 on (3, 224, 224) passes its first
    convolution as one sample and fails at the batch norm: each message says what the input was read as."""
    with pytest.raises(convcalc.ShapeError, match=r"a 3-D input is one sample without a batch axis, so its channels"):
        convcalc.plan(nn.Conv2d(3, 8, 3), (1, 3, 32))
    with pytest.raises(
        convcalc.ShapeError,
        match=r"bn1 \(BatchNorm2d\): expects 4-D input, got 3-D \(64, 112, 112\)\. The network input \(3, 224, 224\) "
        r"was read as one sample without a batch axis \(by conv1 \(Conv2d\)\); with the batch first: "
        r"input_shape=\(1, 3, 224, 224\)",
    ):
        convcalc.plan(convcalc.zoo.resnet18(), (3, 224, 224))
    assert convcalc.plan(convcalc.zoo.resnet18(), (1, 3, 224, 224)).output_shape == (1, 1000)


def test_a_tensor_given_for_its_shape_is_refused_with_its_shape_not_its_values() -> None:
    import numpy as np

    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    assert convcalc.plan(net, np.array([1, 3, 8, 8])).output_shape == (1, 4, 6, 6)  # a shape held in an array
    with pytest.raises(convcalc.ShapeError) as refused:
        convcalc.plan(net, np.zeros((1, 3, 8, 8)))
    assert str(refused.value) == (
        "input_shape must be a shape, not a ndarray of data: pass its shape, input_shape=(1, 3, 8, 8) (x.shape). "
        "Received: input_shape=<ndarray of shape (1, 3, 8, 8)>"
    )
    torch = pytest.importorskip("torch")
    for data in (torch.zeros(1, 3, 227, 227), torch.zeros(3, 8, 8)):
        with pytest.raises(convcalc.ShapeError) as refused:
            convcalc.plan(net, data)
        shape = tuple(data.shape)
        assert str(refused.value) == (
            f"input_shape must be a shape, not a Tensor of data: pass its shape, input_shape={shape} (x.shape). "
            f"Received: input_shape=<Tensor of shape {shape}>"
        )
    ids = torch.zeros(2, 5, dtype=torch.long)  # token ids, given as a model's list of inputs
    for given, shown, received in [
        ([ids], "(2, 5)", "list of Tensor of shape (2, 5)"),
        ((ids, ids), "[(2, 5), (2, 5)]", "tuple of Tensor of shape (2, 5), Tensor of shape (2, 5)"),
    ]:
        with pytest.raises(convcalc.ShapeError) as refused:
            convcalc.plan(torch.nn.Embedding(10, 4), given)
        assert str(refused.value) == (
            f"input_shape[0] is a Tensor of data, not a size: pass the shapes of a model's inputs, "
            f"input_shape={shown}. Received: input_shape=<{received}>"
        )
    assert convcalc.plan(torch.nn.Embedding(10, 4), [(2, 5)]).output_shape == (2, 5, 4)


@pytest.mark.parametrize(
    ("module", "name", "message"),
    [
        ("convcalc.nn", "Maxpool2d", "module 'convcalc.nn' has no attribute 'Maxpool2d' (did you mean 'MaxPool2d'?)"),
        ("convcalc.nn", "BatchNorm", "module 'convcalc.nn' has no attribute 'BatchNorm' (did you mean 'BatchNorm3d'?)"),
        ("convcalc.keras", "conv2d", "module 'convcalc.keras' has no attribute 'conv2d' (did you mean 'Conv2D'?)"),
        (
            "convcalc",
            "conv_outputsize",
            "module 'convcalc' has no attribute 'conv_outputsize' (did you mean 'conv_output_size'?)",
        ),
        ("convcalc.nn", "Xyzzy", "module 'convcalc.nn' has no attribute 'Xyzzy'"),
        ("convcalc.nn", "__wrapped__", "module 'convcalc.nn' has no attribute '__wrapped__'"),
    ],
)
def test_a_misspelt_layer_or_function_names_the_one_meant(module: str, name: str, message: str) -> None:
    """Still an AttributeError (hasattr, getattr with a default and ``from ... import`` rely on it)."""
    import importlib

    namespace = importlib.import_module(module)
    with pytest.raises(AttributeError) as refused:
        getattr(namespace, name)
    assert str(refused.value) == message
    assert not hasattr(namespace, name)


def test_the_smallest_input_hint_follows_the_network_past_every_layer_that_fails_in_turn() -> None:
    """A U-Net's deeper levels each need a larger input: the hint gives the input that fits them all (what
    valid_sizes says), where it named the input that got past the first failing layer only (32, then 36, 40, 44)."""

    def double(cin: int, c: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, c, 3), nn.ReLU(), nn.Conv2d(c, c, 3), nn.ReLU())

    unet = nn.Sequential(
        double(1, 8),
        nn.Concat(
            nn.Identity(),
            nn.Sequential(nn.MaxPool2d(2), double(8, 16), nn.ConvTranspose2d(16, 8, 2, stride=2)),
            crop=True,
        ),
        double(16, 8),
    )
    smallest = convcalc.plan(unet, (1, 1, convcalc.symbols("H"), 64)).valid_sizes().smallest
    for size in range(8, smallest):
        with pytest.raises(convcalc.ShapeError) as refused:
            convcalc.plan(unet, (1, 1, size, 64))
        assert f"The smallest network input that fits every layer: input_shape=(1, 1, {smallest}, 64)." in str(
            refused.value
        ), size
    assert convcalc.plan(unet, (1, 1, smallest, 64)).output_shape[2] >= 1


def test_the_smallest_input_hint_stops_where_a_larger_input_does_not_help() -> None:
    """A Linear after a Flatten fails for every larger input: the hint gives the input that gets past the layer
    that did fail, and says no more."""
    net = nn.Sequential(nn.Conv2d(1, 2, 5), nn.Flatten(), nn.Linear(7, 2))
    with pytest.raises(convcalc.ShapeError) as refused:
        convcalc.plan(net, (1, 1, 3, 5))
    assert "A network input that gets past 0: input_shape=(1, 1, 5, 5). Received: input_shape=(1, 1, 3, 5)" in str(
        refused.value
    )


def test_a_flatten_of_a_size_convcalc_cannot_keep_is_a_spec_error_not_a_value_error() -> None:
    # nested crops to the least of two sizes, then a stride of 3: the merged size has no closed form convcalc keeps
    # (found by the solver's brute-force test); a ValueError escaped plan()
    def crop(cin: int, stride: int, cout: int) -> nn.Concat:
        up = nn.Sequential(
            nn.MaxPool1d(2), nn.Conv1d(cin, 1, 1, stride=stride), nn.ConvTranspose1d(1, cout, 2, stride=2)
        )
        return nn.Concat(nn.Identity(), up, crop=True)

    net = nn.Sequential(
        nn.Conv1d(1, 1, 1),
        nn.Concat(
            nn.Identity(), nn.Sequential(nn.MaxPool1d(2), nn.Conv1d(1, 1, 2), nn.ConvTranspose1d(1, 1, 2, 2)), crop=True
        ),
        crop(2, 2, 2),
        crop(4, 3, 4),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    with pytest.raises(convcalc.ConvCalcError):
        convcalc.plan(net, (1, 1, convcalc.symbols("H")))


def test_an_unbatched_reading_that_a_size_does_not_fit_says_how_the_input_was_read() -> None:
    """(1, 1, 572) for a 2-D network is one (C, H, W) sample of height 1: the size error said which input gets
    past the layer, not that the input was read without a batch (a batch axis alone would not do here, so none is
    suggested)."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    with pytest.raises(convcalc.ShapeError) as refused:
        convcalc.plan(net, (1, 1, 572))
    assert (
        "The network input (1, 1, 572) was read as one sample without a batch axis (by 0). "
        "Received: input_shape=(1, 1, 572)"
    ) in str(refused.value)
    assert convcalc.plan(net, (1, 1, 572, 572)).output_shape == (1, 4, 568, 568)


def _unet_level() -> Any:
    """A U-Net level in torch (down by a pool, up by a transposed convolution, joined with the skip by cat):
    torch runs it only at even sizes."""
    import torch

    class Level(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.e = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.pool = torch.nn.MaxPool2d(2)
            self.up = torch.nn.ConvTranspose2d(4, 4, 2, stride=2)

        def forward(self, x: Any) -> Any:
            a = self.e(x)
            return torch.cat([self.up(self.pool(a)), a], 1)

    return Level()


@pytest.mark.parametrize(
    ("shape", "fits"),
    [((1, 1, 65, 65), (64, 66)), ((1, 1, 64, 65), (64, 66)), ((1, 1, 65, 64), (64, 66)), ((1, 1, 3, 3), (2, 4))],
)
def test_sizes_that_disagree_name_the_nearest_inputs_that_fit(shape: tuple[int, ...], fits: tuple[int, int]) -> None:
    """A U-Net's cat of an odd input: the refusal names the nearest sizes of the failing axis at which the
    model fits (found by the solver), and torch runs each of them."""
    import torch

    model = _unet_level()
    with pytest.raises(ShapeError) as info:
        convcalc.plan(model, shape)
    wrong = next(d for d in shape[2:] if d % 2)
    assert f"Network inputs that fit every layer: use an input of {fits[0]} or {fits[1]} instead of {wrong}" in str(
        info.value
    )
    for size in fits:
        fixed = tuple(size if d == wrong else d for d in shape)
        with torch.no_grad():
            assert convcalc.plan(model, fixed).output_shape == tuple(model(torch.zeros(fixed)).shape)


def test_a_mismatch_no_size_mends_gives_no_size_hint() -> None:
    """Two axes wrong at once (the solver, given one symbol, still fails on the other) or channels that differ:
    nothing is said of sizes."""
    model = _unet_level()
    with pytest.raises(ShapeError) as info:
        convcalc.plan(model, (1, 1, 65, 67))
    assert "Network inputs that fit" not in str(info.value)
    with pytest.raises(ShapeError) as info:
        convcalc.plan(model, (1, 2, 64, 64))
    assert "Network inputs that fit" not in str(info.value)


_TOO_SMALL = (
    "conv (Conv2d): the kernel spans 5 but the padded input is 3 + 0 = 3 on spatial axis 0; the input to this layer "
    "must be at least 5 there. Received: input_shape=(1, 3, 3, 3)"
)


@pytest.mark.parametrize("given", [[(1, 3, 3, 3), (1, 3, 3, 3)], {"x": (1, 3, 3, 3), "y": (1, 3, 3, 3)}])
def test_a_layer_of_a_forward_of_several_inputs_that_does_not_fit_says_so_itself(given: Any) -> None:
    """The smallest-input hint plans the model again at other sizes of one input: for a forward of two inputs that
    plan's refusal (an input the forward takes is not given) replaced the layer's error. Of several inputs, which
    reaches the layer (and whether the others must grow with it, as in x + y) is not known: no hint."""
    torch = pytest.importorskip("torch")

    class Pair(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 5)

        def forward(self, x: Any, y: Any) -> Any:
            return self.conv(x + y)

    with pytest.raises(ShapeError) as refused:
        convcalc.plan(Pair(), given)
    assert str(refused.value) == _TOO_SMALL
    assert convcalc.plan(Pair(), [(1, 3, 5, 5), (1, 3, 5, 5)]).output_shape == (1, 4, 1, 1)


@pytest.mark.parametrize("given", [(1, 3, 3, 3), [(1, 3, 3, 3)], {"x": (1, 3, 3, 3)}])
def test_a_hint_whose_own_plan_is_refused_otherwise_leaves_the_layers_error(given: Any) -> None:
    """Grown to 5 x 5, this forward takes a branch that views by a float size (a SpecError): that refusal of the
    hint's trial input is no answer to the input given, whose layer's error stands without a hint."""
    torch = pytest.importorskip("torch")

    class Branchy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 5)

        def forward(self, x: Any) -> Any:
            if x.shape[-1] > 4:
                x = x.view(x.shape[0] / 2, -1)
            return self.conv(x)

    with pytest.raises(ShapeError) as refused:
        convcalc.plan(Branchy(), given)
    assert str(refused.value) == _TOO_SMALL
