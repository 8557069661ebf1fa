"""The functional layers in a forward (``F.conv2d(x, self.weight, groups=...)``, ``F.linear``,
``F.conv_transpose2d``, ``F.bilinear``, ``F.embedding``, ``F.fold`` / ``F.unfold``, ``F.max_unpool2d``, the
pools, ``torch.einsum``, ``F.scaled_dot_product_attention``), planned by convcalc's torch reader
(``convcalc/torch/ops_layer.py``), against torch running the same forward on real tensors.

Each call is written the way models write it: arguments by position and by keyword, ``padding='same'``,
``ceil_mode=True``, ``return_indices=True``, a pool over each axis whole (``F.max_pool2d(x, x.size()[2:])``).
A plan gives torch's output shape exactly where torch runs the forward, its parameters are the module's, and its
multiply-accumulates per sample are torch's own count (``torch.utils.flop_counter``) or the count by hand; where
torch raises, convcalc refuses with a ShapeError or SpecError whose message is compared whole. Sizes that are
symbols give a formula which, wherever the plan's conditions hold, is torch's shape.

The file was written against the mutation survivors of ``convcalc/torch/ops_layer.py`` (docs/mutation.md).
Inputs where convcalc and torch disagree today are left out of the generated cases; each such spot is marked
``Not generated:`` below.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import convcalc
from convcalc._symbolic import to_sympy
from tests.outcomes import plan_or_refusal

torch.set_num_threads(1)

# torch warns that it copies the input for padding='same' with an even kernel (the shapes are what is checked)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")

Shape = tuple[int, ...]


class Functional(torch.nn.Module):
    """A forward ``lambda m, x: <source>``; ``tensors`` become the module's parameters (a shape: ones of it;
    a tensor: that tensor), ``buffers`` its buffers, and ``after`` a submodule applied to the result."""

    def __init__(
        self,
        source: str,
        after: Any = None,
        buffers: Any = None,
        **tensors: Any,
    ) -> None:
        super().__init__()
        self.source = source
        self.function = eval(f"lambda m, x: {source}", {"F": F, "torch": torch})
        for name, value in tensors.items():
            value = value if isinstance(value, torch.Tensor) else torch.rand(value) + 0.5
            self.register_parameter(name, torch.nn.Parameter(value))
        for name, value in (buffers or {}).items():
            self.register_buffer(name, value)
        self.after = after

    def forward(self, x: Any) -> Any:
        out = self.function(self, x)
        return out if self.after is None else self.after(out)


def _input(shape: Shape, ids: bool) -> torch.Tensor:
    return torch.randint(0, 3, shape) if ids else torch.rand(shape) + 0.5


def _shapes(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return tuple(tuple(o.shape) for o in out)
    return tuple(out.shape)


def torch_outcome(model: Any, shape: Shape, *, ids: bool = False) -> Any:
    """The output shape of ``model`` on an input of ``shape`` (a tuple of shapes for a tuple output), or None
    where torch raises."""
    try:
        with torch.no_grad():
            out = model(_input(shape, ids))
    except Exception:  # RuntimeError, ValueError, IndexError, AssertionError...
        return None
    return _shapes(out)


def _planned_shapes(plan: convcalc.Plan) -> Any:
    outputs = plan.output_shapes if len(plan.output_shapes) > 1 else [plan.output_shape]
    shapes = tuple(tuple(int(d) for d in s) for s in outputs)
    return shapes if len(shapes) > 1 else shapes[0]


def convcalc_outcome(model: Any, shape: Any) -> Any:
    """The planned output shape(s), or None where convcalc refuses (see :func:`plan_or_refusal`); the plan is the
    reader's handlers', never torch's shape machinery's."""
    plan = plan_or_refusal(model, shape)
    return None if plan is None else _planned_shapes(plan)


def agrees(model: Any, shape: Shape, *, ids: bool = False) -> Any:
    expected = torch_outcome(model, shape, ids=ids)
    got = convcalc_outcome(model, shape)
    assert got == expected, f"convcalc {got}, torch {expected}"
    return got


def refusal(model: Any, shape: Any) -> convcalc.ConvCalcError:
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(model, shape)
    return info.value


def torch_macs(model: Any, shape: Shape, *, ids: bool = False) -> int:
    """torch's own count of multiply-accumulates (half its FLOPs), over the whole batch."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(_input(shape, ids))
    return int(counter.get_total_flops()) // 2


def params_of(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- #
# Convolutions and linear layers: F.conv*d, F.linear, F.conv_transpose*d, F.bilinear
# --------------------------------------------------------------------------- #

# (forward, input shape, parameters)
_WEIGHTED: list[tuple[str, Shape, dict[str, Shape]]] = [
    # F.conv2d: by keyword, by position, padding='same' / 'valid', groups, dilation, strides per axis
    ("F.conv2d(x, m.w)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, m.b)", (2, 3, 7, 6), {"w": (4, 3, 3, 3), "b": (4,)}),
    ("F.conv2d(x, m.w, bias=m.b, padding=1)", (2, 3, 7, 6), {"w": (4, 3, 3, 3), "b": (4,)}),
    ("F.conv2d(x, m.w, None, 2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, None, 2, 1)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, None, 1, 2, 2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, None, 1, 0, 1, 3)", (2, 3, 7, 6), {"w": (6, 1, 3, 3)}),
    ("F.conv2d(x, m.w, None, (2, 1), (1, 0), (1, 2), 1)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, stride=2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, stride=(1, 2), padding=(2, 1))", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, dilation=2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, dilation=(2, 1), padding=2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, groups=3)", (2, 3, 7, 6), {"w": (6, 1, 3, 3)}),
    ("F.conv2d(x, m.w, groups=2)", (2, 4, 7, 6), {"w": (6, 2, 3, 3)}),
    ("F.conv2d(x, m.w, m.b, 1, 1, 1, 4)", (2, 4, 7, 6), {"w": (4, 1, 3, 3), "b": (4,)}),
    ("F.conv2d(x, m.w, padding='same')", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, padding='same', dilation=2)", (2, 3, 7, 6), {"w": (4, 3, 3, 2)}),
    ("F.conv2d(x, m.w, None, 1, 'same', 2)", (2, 3, 7, 6), {"w": (4, 3, 2, 3)}),
    ("F.conv2d(x, m.w, padding=4)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, padding='valid')", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, m.w, padding='same', groups=3)", (2, 3, 7, 6), {"w": (3, 1, 5, 5)}),
    ("F.conv2d(input=x, weight=m.w, stride=2)", (2, 3, 7, 6), {"w": (4, 3, 3, 3)}),
    ("F.conv2d(x, weight=m.w, bias=m.b)", (2, 3, 7, 6), {"w": (4, 3, 1, 1), "b": (4,)}),
    ("torch.conv2d(x, m.w, m.b, 1, 1, 1, 1)", (2, 3, 7, 6), {"w": (4, 3, 3, 3), "b": (4,)}),
    ("F.conv2d(x, m.w)", (3, 7, 6), {"w": (4, 3, 3, 3)}),  # unbatched
    ("F.conv1d(x, m.w, m.b, 2, 1)", (2, 3, 9), {"w": (5, 3, 3), "b": (5,)}),
    ("F.conv1d(x, m.w, padding='same', dilation=3)", (2, 3, 9), {"w": (5, 3, 3)}),
    ("F.conv1d(x, m.w, groups=3, stride=3)", (2, 3, 9), {"w": (6, 1, 2)}),
    ("F.conv3d(x, m.w, stride=(1, 2, 2), padding=1)", (1, 2, 4, 5, 6), {"w": (3, 2, 3, 3, 3)}),
    ("F.conv3d(x, m.w, None, 1, 'same', 1, 2)", (1, 2, 4, 5, 6), {"w": (4, 1, 3, 1, 3)}),
    # F.linear: by keyword, a bias, a batch of sequences
    ("F.linear(x, m.w)", (2, 3), {"w": (4, 3)}),
    ("F.linear(x, m.w, m.b)", (2, 3), {"w": (4, 3), "b": (4,)}),
    ("F.linear(x, m.w, bias=m.b)", (2, 5, 3), {"w": (4, 3), "b": (4,)}),
    ("F.linear(input=x, weight=m.w)", (2, 5, 3), {"w": (4, 3)}),
    ("F.linear(x, weight=m.w, bias=None)", (2, 3), {"w": (7, 3)}),
    ("F.linear(x, m.w)", (3,), {"w": (4, 3)}),
    # F.conv_transpose*d: weight (in, out / groups, *kernel); output_padding below the stride or the dilation
    ("F.conv_transpose2d(x, m.w)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, m.b, 2)", (2, 3, 5, 4), {"w": (3, 4, 3, 3), "b": (4,)}),
    ("F.conv_transpose2d(x, m.w, None, 2, 1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, None, 2, 1, 1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, None, 2, 1, (1, 0), 3)", (2, 3, 5, 4), {"w": (3, 2, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, None, 1, 0, 0, 1, 2)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, stride=2, output_padding=1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, stride=(2, 3), padding=(0, 1))", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, dilation=2, output_padding=1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, groups=3)", (2, 3, 5, 4), {"w": (3, 2, 3, 3)}),
    ("F.conv_transpose2d(x, m.w, bias=m.b, groups=3)", (2, 3, 5, 4), {"w": (3, 2, 3, 3), "b": (6,)}),
    ("F.conv_transpose2d(x, m.w, padding=1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}),
    ("F.conv_transpose2d(input=x, weight=m.w, stride=2)", (3, 5, 4), {"w": (3, 4, 2, 2)}),
    ("F.conv_transpose1d(x, m.w, m.b, 2, 1, 1)", (2, 3, 6), {"w": (3, 5, 3), "b": (5,)}),
    ("F.conv_transpose1d(x, m.w, groups=3, dilation=3)", (2, 3, 6), {"w": (3, 1, 3)}),
    ("F.conv_transpose3d(x, m.w, stride=2, padding=1)", (1, 2, 3, 4, 3), {"w": (2, 3, 3, 3, 3)}),
    # F.bilinear: weight (out, in1, in2)
    ("F.bilinear(x, x, m.w)", (2, 3), {"w": (4, 3, 3)}),
    ("F.bilinear(x, x, m.w, m.b)", (2, 5, 3), {"w": (4, 3, 3), "b": (4,)}),
    ("F.bilinear(x, x[..., :2], m.w, bias=m.b)", (2, 3), {"w": (4, 3, 2), "b": (4,)}),
    ("F.bilinear(input1=x, input2=x, weight=m.w)", (2, 3), {"w": (4, 3, 3)}),
]


@pytest.mark.parametrize(("source", "shape", "tensors"), _WEIGHTED, ids=[c[0] + str(c[1]) for c in _WEIGHTED])
def test_weighted_calls_give_torchs_shape_params_and_macs(source: str, shape: Shape, tensors: dict[str, Shape]) -> None:
    model = Functional(source, **tensors)
    assert agrees(model, shape) is not None
    plan = convcalc.plan(model, shape)
    assert plan.total_params == params_of(model)
    spatial = len(tensors["w"]) - 2  # an input of 1 + spatial dims (linear: 1 dim) holds one sample
    batch = 1 if len(shape) == (1 if "linear" in source else 1 + spatial) else shape[0]
    if "bilinear" in source:
        # torch counts no FLOPs for bilinear: one product per output feature, in1 and in2 feature
        out = torch_outcome(model, shape)
        expected = math.prod(out[:-1]) * math.prod(tensors["w"])
        assert plan.macs * batch == expected
    else:
        assert plan.macs * batch == torch_macs(model, shape)
    # with a bias, one addition per output (``macs="macs+bias"``)
    out = torch_outcome(model, shape)
    adds = math.prod(out) // batch if "b" in tensors else 0
    assert convcalc.plan(model, shape, macs="macs+bias").macs == plan.macs + adds
    # one row of the function's kind, holding no tensors: the weight counts where the forward reads it
    (row,) = [r for r in plan.rows if r.kind == source.split("(")[0].split(".")[-1]]
    assert (row.trainable, row.non_trainable, row.buffers) == (0, 0, 0)
    assert row.output_shape == plan.output_shape


def test_a_layer_after_a_functional_call_keeps_its_parameters() -> None:
    # the call plans its rule without the module's book of tensors, and hands the book back
    after = torch.nn.Sequential(torch.nn.Conv2d(4, 5, 1), torch.nn.BatchNorm2d(5))
    cases: list[tuple[str, dict[str, Shape]]] = [
        ("F.conv2d(x, m.w, m.b)", {"w": (4, 3, 3, 3), "b": (4,)}),
        ("F.conv_transpose2d(x, m.w)", {"w": (3, 4, 3, 3)}),
        ("F.max_pool2d(F.conv2d(x, m.w), 2)", {"w": (4, 3, 3, 3)}),
        ("F.embedding(x.long()[:, 0], m.w).permute(0, 3, 1, 2)", {"w": (5, 4)}),
        ("F.unfold(F.conv2d(x, m.w), 1).view(2, 4, 5, 4)", {"w": (4, 3, 3, 3)}),
    ]
    for source, tensors in cases:
        model = Functional(source, after=after, **tensors)
        assert agrees(model, (2, 3, 7, 6)) is not None
        plan = convcalc.plan(model, (2, 3, 7, 6))
        assert plan.total_params == params_of(model), source
        assert plan.trainable_params == params_of(model) - 0, source
        assert plan.buffers == 5 + 5 + 1, source  # the BatchNorm's running statistics and its count


# (a conv_transpose or bilinear bias of the wrong size: tests/test_reader_gaps.py)
_WEIGHTED_REFUSED: list[tuple[str, Shape, dict[str, Shape], str, str]] = [
    (
        "F.conv2d(x, m.w, m.b)",
        (2, 3, 7, 6),
        {"w": (4, 3, 3, 3), "b": (3,)},
        "ShapeError",
        "conv2d (conv2d): the bias has shape (3,) but the weight gives 4 outputs. Received: input_shape=(2, 3, 7, 6)",
    ),
    (
        "F.conv2d(x, m.w, bias=m.b)",
        (2, 3, 7, 6),
        {"w": (4, 3, 3, 3), "b": (4, 1)},
        "ShapeError",
        "conv2d (conv2d): the bias has shape (4, 1) but the weight gives 4 outputs. Received: input_shape=(2, 3, 7, 6)",
    ),
    (
        "F.linear(x, m.w, m.b)",
        (2, 3),
        {"w": (4, 3), "b": (3,)},
        "ShapeError",
        "linear (linear): the bias has shape (3,) but the weight gives 4 outputs. Received: input_shape=(2, 3)",
    ),
    (
        "F.conv2d(x, m.w)",
        (2, 4, 7, 6),
        {"w": (4, 3, 3, 3)},
        "ShapeError",
        "conv2d (conv2d): in_channels=3 but the input has 4 channels: use in_channels=4 (or make the previous layer "
        "output 3). Received: input_shape=(2, 4, 7, 6)",
    ),
    (
        "F.conv2d(x, m.w, groups=2)",
        (2, 3, 7, 6),
        {"w": (6, 1, 3, 3)},
        "ShapeError",
        "conv2d (conv2d): in_channels=2 but the input has 3 channels: use in_channels=3 (or make the previous layer "
        "output 2). Received: input_shape=(2, 3, 7, 6)",
    ),
    (
        "F.conv2d(x, m.w, None, 1, 0, 3)",
        (2, 3, 5, 6),
        {"w": (4, 3, 3, 3)},
        "ShapeError",
        "conv2d (conv2d): the kernel spans 7 but the padded input is 5 + 0 = 5 on spatial axis 0; the input to this "
        "layer must be at least 7 there. Received: input_shape=(2, 3, 5, 6)",
    ),
    (
        "F.conv2d(x, m.w, dilation=(1, 3))",
        (2, 3, 6, 5),
        {"w": (4, 3, 3, 3)},
        "ShapeError",
        "conv2d (conv2d): the kernel spans 7 but the padded input is 5 + 0 = 5 on spatial axis 1; the input to this "
        "layer must be at least 7 there. Received: input_shape=(2, 3, 6, 5)",
    ),
    (
        "F.conv2d(x, m.w, stride=2)",
        (2, 3, 2, 6),
        {"w": (4, 3, 3, 3)},
        "ShapeError",
        "conv2d (conv2d): the kernel spans 3 but the padded input is 2 + 0 = 2 on spatial axis 0; the input to this "
        "layer must be at least 3 there. Received: input_shape=(2, 3, 2, 6)",
    ),
    (
        "F.linear(x, m.w)",
        (2, 4),
        {"w": (4, 3)},
        "ShapeError",
        "linear (linear): Linear(in_features=3) receives 4 features: use in_features=4. Received: input_shape=(2, 4)",
    ),
    (
        "F.linear(x, weight=m.w)",
        (2, 3),
        {"w": (4, 3, 1)},
        "ShapeError",
        "linear (linear): Linear(in_features=1) receives 3 features: use in_features=3. Received: input_shape=(2, 3)",
    ),
    (
        "F.conv_transpose2d(x, m.w)",
        (2, 4, 5, 4),
        {"w": (3, 4, 3, 3)},
        "ShapeError",
        "conv_transpose2d (conv_transpose2d): in_channels=3 but the input has 4 channels: use in_channels=4 (or make "
        "the previous layer output 3). Received: input_shape=(2, 4, 5, 4)",
    ),
    (
        "F.conv_transpose2d(x, m.w, padding=3)",
        (2, 3, 2, 2),
        {"w": (3, 4, 3, 3)},
        "ShapeError",
        "conv_transpose2d (conv_transpose2d): output size would be -2 on spatial axis 0, too small: reduce padding "
        "below 3 or give a larger input. Received: input_shape=(2, 3, 2, 2)",
    ),
    (
        "F.bilinear(x, x, m.w)",
        (2, 3),
        {"w": (4, 3, 2)},
        "ShapeError",
        "bilinear (bilinear): in2_features=2 but the input2 has 3 features (last dim): use in2_features=3. Received: "
        "input2_shape=(2, 3)",
    ),
    (
        "F.bilinear(x, x[..., :2], m.w)",
        (2, 3),
        {"w": (4, 3, 3)},
        "ShapeError",
        "bilinear (bilinear): in2_features=3 but the input2 has 2 features (last dim): use in2_features=2. Received: "
        "input2_shape=(2, 2)",
    ),
    (
        "F.bilinear(x, x[:1], m.w)",
        (2, 3),
        {"w": (4, 3, 3)},
        "ShapeError",
        "bilinear (bilinear): input1 and input2 (torch: input batch dimensions) must agree on every axis but the "
        "last. Received: shapes (2, 3) and (1, 3)",
    ),
]


@pytest.mark.parametrize(
    ("source", "shape", "tensors", "error", "message"), _WEIGHTED_REFUSED, ids=[c[0] for c in _WEIGHTED_REFUSED]
)
def test_weighted_refusals_name_the_argument(
    source: str, shape: Shape, tensors: dict[str, Shape], error: str, message: str
) -> None:
    model = Functional(source, **tensors)
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


# torch raises; convcalc refuses, naming the argument (Not generated as whole messages: those made by the layer's
# own checks lack the call's name, ``conv2d (conv2d): ``, and a transposed convolution's with numbers for sizes is
# the meta pass's "no rule for conv_transpose2d called this way", which names no argument)
_NAMED: list[tuple[str, Shape, dict[str, Shape], str, str]] = [
    ("F.conv2d(x, m.w, None, 2, 'same')", (2, 3, 5, 6), {"w": (4, 3, 3, 3)}, "SpecError", "padding='same'"),
    ("F.conv2d(x, m.w, stride=2, padding='same')", (2, 3, 5, 6), {"w": (4, 3, 3, 3)}, "SpecError", "stride=2"),
    ("F.conv2d(x, m.w, padding='full')", (2, 3, 5, 6), {"w": (4, 3, 3, 3)}, "SpecError", "padding='full'"),
    ("F.conv1d(x, m.w, stride=0)", (2, 3, 9), {"w": (4, 3, 3)}, "SpecError", "stride=0"),
    ("F.conv1d(x, m.w, None, 1, 0, 0)", (2, 3, 9), {"w": (4, 3, 3)}, "SpecError", "conv1d"),
    ("F.conv2d(x, m.w)", (2, 3, 7, 6), {"w": (4, 3, 3)}, "SpecError", "kernel_size=(3,)"),
    ("F.conv_transpose2d(x, m.w, None, 1, 0, 1)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}, "SpecError", "conv_transpose2d"),
    ("F.conv_transpose2d(x, m.w, groups=2)", (2, 3, 5, 4), {"w": (3, 4, 3, 3)}, "SpecError", "conv_transpose2d"),
    ("F.bilinear(x, x, m.w)", (2, 3), {"w": (4, 9)}, "SpecError", "3-D weight"),
]


@pytest.mark.parametrize(("source", "shape", "tensors", "error", "named"), _NAMED, ids=[c[0] for c in _NAMED])
def test_invalid_arguments_are_refused(
    source: str, shape: Shape, tensors: dict[str, Shape], error: str, named: str
) -> None:
    model = Functional(source, **tensors)
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert named in str(exc)


@pytest.mark.parametrize(
    ("source", "shape"),
    [("F.conv2d(x, x)", (2, 3, "H", "H")), ("F.linear(x, x)", (2, "H")), ("F.conv_transpose1d(x, x)", (2, 2, "H"))],
)
def test_a_weight_of_symbolic_shape_is_refused(source: str, shape: tuple[Any, ...]) -> None:
    model = Functional(source)
    assert torch_outcome(model, tuple(3 if d == "H" else d for d in shape)) is not None
    assert convcalc_outcome(model, tuple(3 if d == "H" else d for d in shape)) is not None
    exc = refusal(model, shape)
    assert isinstance(exc, convcalc.SpecError)
    name = source.split("(")[0][2:]
    assert str(exc).startswith(
        f"{name} ({name}): convcalc follows this call with a weight whose shape is numbers (one made from the "
        "input's sizes, as a batch folded into groups, needs numbers for them). Received: weight='a tensor of shape ("
    )


def test_a_batch_folded_into_groups_is_read_with_numbers_and_refused_with_symbols() -> None:
    # StyleGAN2's modulated convolution: F.conv2d(..., groups=b) asked the traced size for a number before
    # torch.fx saw the call; now the call is recorded, and its weight of shape (6 * B, 4, 3, 3) named
    def modulated(m: Any, x: Any) -> Any:
        b, c, h, w = x.shape
        weight = (m.w[None] * x.mean((2, 3)).view(b, 1, c, 1, 1)).view(b * 6, c, 3, 3)
        return F.conv2d(x.reshape(1, b * c, h, w), weight, padding=1, groups=b).view(b, -1, h, w)

    model = Functional("m.w", w=(6, 4, 3, 3))
    model.function = modulated
    for batch in (1, 3):
        assert agrees(model, (batch, 4, 5, 5)) == (batch, 6, 5, 5)
    exc = refusal(model, ("B", 4, 5, 5))
    assert str(exc).endswith("Received: weight='a tensor of shape (6*B, 4, 3, 3)'")


# --------------------------------------------------------------------------- #
# Pools: max, avg, lp, adaptive, by position and by keyword, with their indices
# --------------------------------------------------------------------------- #

_POOLS: list[tuple[str, Shape]] = [
    ("F.max_pool2d(x, 2)", (2, 3, 7, 6)),
    ("F.max_pool2d(x, 3, 2)", (2, 3, 7, 6)),
    ("F.max_pool2d(x, 3, 2, 1)", (2, 3, 7, 6)),
    ("F.max_pool2d(x, 3, 2, 1, 2)", (2, 3, 7, 6)),
    ("F.max_pool2d(x, 3, 2, 0, 1, True)", (2, 3, 8, 6)),
    ("F.max_pool2d(x, kernel_size=3, stride=2, ceil_mode=True)", (2, 3, 8, 7)),
    ("F.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 2, stride=[])", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 2, stride=())", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 2, return_indices=True)", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 3, 2, 1, 1, True, True)", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 3, ceil_mode=True, return_indices=True)[1]", (2, 3, 8, 7)),
    ("F.max_pool2d(x, 3, ceil_mode=True, return_indices=True)[0]", (2, 3, 8, 7)),
    ("F.max_pool2d_with_indices(x, 2)", (2, 3, 8, 7)),
    ("F.max_pool2d_with_indices(x, 2, return_indices=False)[1]", (2, 3, 8, 7)),
    ("torch.max_pool2d(x, 3, 2, 1, 1, True)", (2, 3, 8, 7)),
    ("torch.max_pool1d_with_indices(x, 2)[1]", (2, 3, 9)),
    ("F.max_pool1d(x, 3, 2, 1, ceil_mode=True)", (2, 3, 10)),
    ("F.max_pool1d(x, 2, return_indices=True)", (3, 9)),
    ("F.max_pool3d(x, 2, 1, 1, return_indices=True)", (1, 2, 3, 4, 5)),
    ("F.max_pool3d(x, (1, 2, 2))", (1, 2, 3, 4, 5)),
    ("F.avg_pool2d(x, 2)", (2, 3, 7, 6)),
    ("F.avg_pool2d(x, 3, 2, 1, True)", (2, 3, 8, 6)),
    ("F.avg_pool2d(x, 3, 2, 1, False, False)", (2, 3, 8, 6)),
    ("F.avg_pool2d(x, 3, 2, 1, True, False, 4)", (2, 3, 8, 6)),
    ("F.avg_pool2d(x, 3, divisor_override=2)", (2, 3, 8, 6)),
    ("F.avg_pool2d(x, kernel_size=(2, 3), stride=[], padding=(1, 1), ceil_mode=True)", (2, 3, 8, 6)),
    ("F.avg_pool1d(x, 3)", (2, 3, 10)),
    ("F.avg_pool1d(x, 3, 2, 1, True, False)", (2, 3, 10)),
    ("F.avg_pool1d(x, kernel_size=4, stride=3, ceil_mode=True)", (2, 3, 10)),
    ("torch.avg_pool1d(x, 3, 2, 1, True, False)", (2, 3, 10)),
    ("F.avg_pool3d(x, 2, ceil_mode=True, divisor_override=3)", (1, 2, 3, 4, 5)),
    ("F.lp_pool2d(x, 2, 2)", (2, 3, 8, 6)),
    ("F.lp_pool2d(x, 2.0, 3, 2, True)", (2, 3, 8, 6)),
    ("F.lp_pool2d(x, norm_type=1, kernel_size=(2, 3), stride=(1, 2))", (2, 3, 8, 6)),
    ("F.lp_pool1d(x, 2, 3, ceil_mode=True)", (2, 3, 10)),
    ("F.lp_pool3d(x, 2, 2)", (1, 2, 4, 4, 5)),
    ("F.adaptive_avg_pool2d(x, 1)", (2, 3, 8, 6)),
    ("F.adaptive_avg_pool2d(x, (3, 4))", (2, 3, 8, 6)),
    ("F.adaptive_avg_pool2d(x, (None, 4))", (2, 3, 8, 6)),
    ("F.adaptive_avg_pool2d(x, output_size=5)", (3, 8, 6)),
    ("F.adaptive_avg_pool1d(x, 4)", (2, 3, 10)),
    ("torch.adaptive_avg_pool1d(x, 4)", (2, 3, 10)),
    ("F.adaptive_avg_pool3d(x, (1, 2, None))", (1, 2, 3, 4, 5)),
    ("F.adaptive_max_pool2d(x, 3)", (2, 3, 8, 6)),
    ("F.adaptive_max_pool2d(x, 3, True)", (2, 3, 8, 6)),
    ("F.adaptive_max_pool2d(x, (2, 5), return_indices=True)[1]", (2, 3, 8, 6)),
    ("F.adaptive_max_pool2d_with_indices(x, 2)", (2, 3, 8, 6)),
    ("F.adaptive_max_pool1d(x, 4, return_indices=True)", (2, 3, 10)),
    ("F.adaptive_max_pool3d(x, 2)", (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize(("source", "shape"), _POOLS, ids=[c[0] for c in _POOLS])
def test_pools_give_torchs_shapes(source: str, shape: Shape) -> None:
    model = Functional(source)
    assert agrees(model, shape) is not None
    plan = convcalc.plan(model, shape)
    assert plan.total_params == 0
    pooled = [r for r in plan.rows if "pool" in r.kind]
    assert len(pooled) == 1
    kind = source.split("(")[0].split(".")[-1].removesuffix("_with_indices")
    assert pooled[0].kind == kind


# the receptive field a pool leaves, after a convolution, against the same pool written as torch's layer
@pytest.mark.parametrize(
    ("source", "layer"),
    [
        ("F.max_pool2d(F.conv2d(x, m.w), 3, 2, 1)", torch.nn.MaxPool2d(3, 2, 1)),
        ("F.max_pool2d(F.conv2d(x, m.w), 3, 2, 1, return_indices=True)[0]", torch.nn.MaxPool2d(3, 2, 1)),
        ("F.max_pool2d(F.conv2d(x, m.w), 3, 2, 1, return_indices=True)[1]", torch.nn.MaxPool2d(3, 2, 1)),
        ("F.max_pool2d_with_indices(F.conv2d(x, m.w), 3, 2, 1)[1]", torch.nn.MaxPool2d(3, 2, 1)),
        ("F.avg_pool2d(F.conv2d(x, m.w), 2)", torch.nn.AvgPool2d(2)),
        ("F.max_pool2d(F.conv2d(x, m.w), F.conv2d(x, m.w).size()[2:])", torch.nn.MaxPool2d(14)),
    ],
)
def test_a_pool_keeps_the_receptive_field_of_its_window(source: str, layer: torch.nn.Module) -> None:
    functional = convcalc.plan(Functional(source, w=(3, 3, 3, 3)), (1, 3, 16, 16))
    modules = convcalc.plan(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3), layer), (1, 3, 16, 16))
    assert functional.receptive_field == modules.receptive_field is not None
    assert functional.output_shape == modules.output_shape
    # and the tensor it returns carries it on, to the operation after it
    after = convcalc.plan(Functional(f"torch.relu({source})", w=(3, 3, 3, 3)), (1, 3, 16, 16))
    assert after.rows[-1].kind == "relu"
    assert after.rows[-1].receptive_field == modules.receptive_field


_POOLS_REFUSED: list[tuple[str, Shape, str, str]] = [
    (
        "F.avg_pool2d(x, 2, divisor_override=0)",
        (2, 3, 8, 6),
        "SpecError",
        "avg_pool2d (avg_pool2d): divisor_override must not be zero: use None or another int. Received: "
        "kernel_size=2, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=0",
    ),
    (
        "F.avg_pool3d(x, 2, 2, 0, False, True, 0)",
        (1, 2, 4, 4, 4),
        "SpecError",
        "avg_pool3d (avg_pool3d): divisor_override must not be zero: use None or another int. Received: "
        "kernel_size=2, stride=2, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=0",
    ),
    (
        "F.max_pool2d(x, 3, 1, 2)",
        (2, 3, 8, 6),
        "SpecError",
        "max_pool2d (max_pool2d): padding=2 is more than half of kernel_size=3: torch allows padding <= 1. Received: "
        "kernel_size=3, stride=1, padding=2, dilation=1, return_indices=False, ceil_mode=False",
    ),
    (
        "F.max_pool2d(x, 9)",
        (2, 3, 8, 6),
        "ShapeError",
        "max_pool2d (MaxPool2d): the kernel spans 9 but the padded input is 8 + 0 = 8 on spatial axis 0; the input to "
        "this layer must be at least 9 there. The smallest network input that fits every layer: "
        "input_shape=(2, 3, 9, 9). Received: input_shape=(2, 3, 8, 6)",
    ),
    (
        "F.max_pool2d(x, 2, 0)",
        (2, 3, 8, 6),
        "SpecError",
        "max_pool2d (max_pool2d): stride must be at least 1. Received: stride=0",
    ),
    (
        "F.avg_pool1d(x, 3, 1, 2)",
        (2, 3, 8),
        "SpecError",
        "avg_pool1d (avg_pool1d): padding=2 is more than half of kernel_size=3: torch allows padding <= 1. Received: "
        "kernel_size=3, stride=1, padding=2, ceil_mode=False, count_include_pad=True",
    ),
    (
        "F.max_pool1d(x, 2)",
        (3,),
        "ShapeError",
        "max_pool1d (MaxPool1d): expects a 3-D input (N, C, L) or an unbatched 2-D one, but receives 1-D (3,). "
        "Received: input_shape=(3,)",
    ),
    (
        "F.lp_pool2d(x, 2, 9)",
        (2, 3, 8, 6),
        "ShapeError",
        "lp_pool2d (LPPool2d): the kernel spans 9 but the padded input is 8 + 0 = 8 on spatial axis 0; the input to "
        "this layer must be at least 9 there. The smallest network input that fits every layer: "
        "input_shape=(2, 3, 9, 9). Received: input_shape=(2, 3, 8, 6)",
    ),
    (
        "F.adaptive_avg_pool2d(x, (1, 2, 3))",
        (2, 3, 8, 6),
        "SpecError",
        "adaptive_avg_pool2d (adaptive_avg_pool2d): output_size must be an int or a tuple of 2. Received: "
        "output_size=(1, 2, 3)",
    ),
]


@pytest.mark.parametrize(("source", "shape", "error", "message"), _POOLS_REFUSED, ids=[c[0] for c in _POOLS_REFUSED])
def test_pool_refusals_name_the_argument(source: str, shape: Shape, error: str, message: str) -> None:
    model = Functional(source)
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


# a pool over each axis whole: its kernel given by the input's sizes (CBAM, global pools written by hand)
_WHOLE = [
    "F.max_pool2d(x, x.size()[2:])",
    "F.max_pool2d(x, x.shape[2:])",
    "F.avg_pool2d(x, (x.size(2), x.size(3)))",
    "F.avg_pool2d(x, (x.size(2), x.size(3)), stride=(x.size(2), x.size(3)))",
    "F.max_pool2d(x, [x.size(2), x.size(3)], [x.size(2), x.size(3)], 0, 1)",
    "F.max_pool2d(x, (x.size(2), x.size(3)), padding=(0, 0), dilation=(1, 1))",
    "F.max_pool2d(x, (x.size(2), x.size(3)), padding=[0, 0], dilation=[1, 1])",
    "F.max_pool2d(x, x.size()[2:], return_indices=True)[1]",
    "F.max_pool2d(x, x.size()[2:], stride=[])",
    "F.lp_pool2d(x, 2, x.size()[2:])",
    "F.max_pool1d(x, x.size(2))",
    "F.avg_pool1d(x, x.size(-1), x.size(-1))",
    "F.avg_pool1d(x, (x.size(-1),), stride=[x.size(-1)])",
    "F.max_pool3d(x, x.shape[-3:])",
]


@pytest.mark.parametrize("source", _WHOLE)
def test_a_pool_over_each_axis_whole(source: str) -> None:
    model = Functional(source)
    rank = 5 if "3d" in source else 3 if "1d" in source else 4
    symbolic = (2, 3, "H", "W", "D")[:rank]
    plan = convcalc.plan(model, symbolic)
    assert not plan.fallback_rows
    assert tuple(plan.output_shape) == (2, 3, *(1,) * (rank - 2))
    for h in (1, 2, 5):
        for w in (1, 3, 4):
            shape = (2, 3, h, w, 2)[:rank]
            assert agrees(model, shape) == (2, 3, *(1,) * (rank - 2))


_NOT_WHOLE = [
    "F.max_pool2d(x, x.size(2) // 2)",
    "F.max_pool2d(x, (x.size(2), x.size(3)), stride=1)",
    "F.max_pool2d(x, (x.size(2), x.size(3)), stride=(x.size(3), x.size(2)))",
    "F.max_pool2d(x, (x.size(3), x.size(2)))",
    "F.max_pool2d(x, (x.size(2), x.size(3)), padding=1)",
    "F.max_pool2d(x, (x.size(2), x.size(3)), padding=(0, 1))",
    "F.max_pool2d(x, (x.size(2), x.size(3)), dilation=2)",
    "F.max_pool2d(x, (x.size(2), x.size(3)), dilation=(1, 2))",
    "F.max_pool2d(x, (x.size(2),))",
    "F.avg_pool2d(x, (x.size(2), 1))",
    "F.max_pool2d(x, x.size(2) // 2, stride=(x.size(2), x.size(3)))",
    "F.max_pool2d(x, (x.size(2), x.size(3)), (x.size(2), x.size(3) // 2))",
]


@pytest.mark.parametrize("source", _NOT_WHOLE)
def test_a_kernel_of_the_inputs_sizes_that_is_not_each_axis_whole_is_refused(source: str) -> None:
    model = Functional(source)
    exc = refusal(model, (2, 3, "H", "W"))
    assert isinstance(exc, convcalc.SpecError)
    kind = source.split("(")[0][2:]
    assert str(exc).startswith(
        f"{kind} ({kind}): a kernel size that depends on the input is followed only where it is each spatial axis "
        "whole, with the same stride and no padding (a global pool); plan with numbers, or pool with "
        "F.adaptive_avg_pool2d. Received: kernel_size="
    ), str(exc)


# --------------------------------------------------------------------------- #
# F.embedding, F.fold / F.unfold, F.max_unpool*d
# --------------------------------------------------------------------------- #

_LOOKUPS: list[tuple[str, Shape, Shape]] = [
    ("F.embedding(x, m.w)", (2, 5), (7, 4)),
    ("F.embedding(x, m.w, 0)", (2, 5), (7, 4)),
    ("F.embedding(x, m.w, -7)", (2, 5), (7, 4)),
    ("F.embedding(x, m.w, padding_idx=6)", (2, 5), (7, 4)),
    ("F.embedding(x, m.w, None, 1.0, 1.0, True)", (2, 5), (7, 4)),
    ("F.embedding(x, m.w, max_norm=2.0, norm_type=1.0)", (3,), (7, 4)),
    ("F.embedding(x, weight=m.w, sparse=True)", (2, 5, 3), (7, 4)),
    ("F.embedding(input=x, weight=m.w, padding_idx=-1)", (2, 5), (7, 4)),
    ("F.embedding(x[:, 0], m.w)", (2, 5), (3, 9)),
]


@pytest.mark.parametrize(("source", "shape", "weight"), _LOOKUPS, ids=[c[0] + str(c[1]) for c in _LOOKUPS])
def test_embedding_gives_torchs_shape_and_counts_the_weight_once(source: str, shape: Shape, weight: Shape) -> None:
    model = Functional(source, w=weight)
    assert agrees(model, shape, ids=True) == (*shape[: 1 if "[:, 0]" in source else None], weight[1])
    plan = convcalc.plan(model, shape)
    assert plan.total_params == math.prod(weight)
    (row,) = [r for r in plan.rows if r.kind == "embedding"]
    assert (row.trainable, row.non_trainable, row.buffers, row.macs) == (0, 0, 0, 0)


_WEIGHT = (
    "embedding (embedding): convcalc follows F.embedding with a 2-D weight of known shape. Received: "
    "weight='a tensor of shape {}'"
)
_LOOKUPS_REFUSED: list[tuple[str, Shape, Shape, str, str]] = [
    (
        "F.embedding(x, m.w, 7)",
        (2, 5),
        (7, 4),
        "SpecError",
        "embedding (embedding): padding_idx must be within num_embeddings: from -7 to 6. Received: num_embeddings=7, "
        "embedding_dim=4, padding_idx=7, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False",
    ),
    (
        "F.embedding(x, m.w, padding_idx=-8)",
        (2, 5),
        (7, 4),
        "SpecError",
        "embedding (embedding): padding_idx must be within num_embeddings: from -7 to 6. Received: num_embeddings=7, "
        "embedding_dim=4, padding_idx=-8, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False",
    ),
    # a weight not 2-D (the message shows the weight as convcalc's own object, not its shape)
    ("F.embedding(x, m.w)", (2, 5), (7, 4, 1), "SpecError", _WEIGHT.format("(7, 4, 1)")),
    ("F.embedding(x, m.w)", (2, 5), (7,), "SpecError", _WEIGHT.format("(7,)")),
    ("F.embedding(x, weight=m.w.sum())", (2, 5), (7, 4), "SpecError", _WEIGHT.format("()")),
]
# Not generated: F.embedding(m.w, x), float indices, which torch refuses by dtype (convcalc reads no dtypes here)


@pytest.mark.parametrize(
    ("source", "shape", "weight", "error", "message"),
    _LOOKUPS_REFUSED,
    ids=[c[0] + str(c[2]) for c in _LOOKUPS_REFUSED],
)
def test_embedding_refusals_name_the_argument(
    source: str, shape: Shape, weight: Shape, error: str, message: str
) -> None:
    model = Functional(source, w=weight)
    assert torch_outcome(model, shape, ids=True) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


_FOLDS: list[tuple[str, Shape]] = [
    ("F.unfold(x, 2)", (2, 3, 6, 5)),
    ("F.unfold(x, 3, 2, 1, 2)", (2, 3, 6, 5)),
    ("F.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 0), stride=(1, 2))", (2, 3, 6, 5)),
    ("F.unfold(x, kernel_size=3, stride=3)", (3, 6, 5)),
    ("F.unfold(input=x, kernel_size=2, padding=1)", (2, 3, 6, 5)),
    ("F.fold(x, (4, 5), 2)", (2, 12, 12)),
    ("F.fold(x, (5, 5), 2, 1, 0, 1)", (2, 12, 16)),
    ("F.fold(x, 6, 3, dilation=1, padding=1, stride=2)", (2, 18, 9)),
    ("F.fold(x, output_size=(3, 4), kernel_size=(1, 2))", (2, 6, 9)),
    ("F.fold(input=x, output_size=(4, 3), kernel_size=2, stride=(2, 1))", (8, 4)),
    ("F.fold(x, (4, 6), 2, 2, 1, 2)", (2, 8, 6)),
    ("F.fold(x, (5, 4), (2, 2), stride=1, padding=(1, 0))", (1, 4, 18)),
]


@pytest.mark.parametrize(("source", "shape"), _FOLDS, ids=[c[0] + str(c[1]) for c in _FOLDS])
def test_fold_and_unfold_give_torchs_shape(source: str, shape: Shape) -> None:
    model = Functional(source)
    assert agrees(model, shape) is not None
    plan = convcalc.plan(model, shape)
    (row,) = plan.rows
    assert row.kind == source.split("(")[0][2:]
    assert (row.trainable, row.macs) == (0, 0)


class _OverlapAdd(torch.nn.Module):
    """Overlap-add with ``F.fold`` (Conv-TasNet's decoder): the output length computed from the frame count."""

    def __init__(self, n: int = 8, window: int = 16) -> None:
        super().__init__()
        self.window = window
        self.enc = torch.nn.Conv1d(1, n, window, stride=window // 2, bias=False)
        self.basis = torch.nn.Linear(n, window, bias=False)

    def forward(self, x: Any) -> Any:
        frames = self.basis(F.relu(self.enc(x)).transpose(1, 2))
        length = (frames.shape[1] - 1) * (self.window // 2) + self.window
        out = F.fold(frames.transpose(1, 2), (1, length), kernel_size=(1, self.window), stride=(1, self.window // 2))
        return out.squeeze(1).squeeze(1)


def test_fold_to_the_size_its_blocks_came_from_is_planned_with_symbols() -> None:
    """``F.fold`` whose output_size is computed from the blocks' count holds for every size: it failed inside
    convcalc with symbols (and ``convcalc.nn.Fold`` let a sympy error out), where numbers planned."""
    import sympy

    model = _OverlapAdd().eval()
    t_ = convcalc.symbols("T")
    plan = convcalc.plan(model, (1, 1, t_))
    for t in (16, 17, 23, 24, 200, 201):
        with torch.no_grad():
            expected = tuple(model(torch.zeros(1, 1, t)).shape)
        sizes = tuple(int(sympy.sympify(to_sympy(d)).subs(to_sympy(t_), t)) for d in plan.output_shape)
        assert sizes == expected, t
    k = convcalc.symbols("K")
    fold = convcalc.nn.Fold(output_size=(1, 8 * k + 8), kernel_size=(1, 16), stride=(1, 8))
    assert convcalc.plan(fold, (1, 16, k)).output_shape == (1, 1, 1, 8 * k + 8)


_OPAQUE_VIEW = "x.view(__import__('json').loads(__import__('json').dumps(list(x.shape))))"  # read by torch's pass

# A negative padding: torch refuses it when it runs on data, though its meta kernel of unfold takes it
_FOLDS_REFUSED: list[tuple[str, Shape, str, str]] = [
    (
        "F.unfold(x, 2, padding=-1)",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): padding must be at least 0. Received: padding=-1",
    ),
    (
        "F.unfold(x, 2, 1, (0, -1))",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): padding must be at least 0. Received: padding=(0, -1)",
    ),
    (
        f"F.unfold({_OPAQUE_VIEW}, 2, padding=(-1, 0))",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): padding must be at least 0. Received: padding=(-1, 0)",
    ),
    (
        "F.fold(x, (4, 5), 2, padding=-1)",
        (2, 12, 12),
        "SpecError",
        "fold (fold): padding must be at least 0. Received: padding=-1",
    ),
    (
        "F.unfold(x, 7)",
        (2, 3, 6, 5),
        "ShapeError",
        "unfold (unfold): a block of 7 (kernel_size=7, dilation=1) does not fit in size 6 + 2 * padding=0: use padding "
        "of at least 1 or a smaller kernel_size. Received: input_shape=(2, 3, 6, 5)",
    ),
    (
        "F.unfold(x, 2, dilation=0)",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): dilation must be at least 1. Received: dilation=0",
    ),
    (
        "F.unfold(x, 2, 1, 0, 0)",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): stride must be at least 1. Received: stride=0",
    ),
    (
        "F.unfold(x, 2, stride=0)",
        (2, 3, 6, 5),
        "SpecError",
        "unfold (unfold): stride must be at least 1. Received: stride=0",
    ),
    (
        "F.fold(x, (4, 5), 2)",
        (2, 12, 11),
        "ShapeError",
        "fold (fold): output_size=(4, 5) holds 3 x 4 = 12 blocks but the input has L=11: use an input with L=12, or "
        "an output_size with 11 blocks. Received: input_shape=(2, 12, 11)",
    ),
    (
        "F.fold(x, (4, 5), 2)",
        (2, 11, 12),
        "ShapeError",
        "fold (fold): 11 input channels are not divisible by kernel_size 2 x 2 = 4: use a multiple of 4. Received: "
        "input_shape=(2, 11, 12)",
    ),
    (
        "F.fold(x, (4, 5), 2, 2)",
        (2, 12, 12),
        "ShapeError",
        "fold (fold): output_size=(4, 5) holds 2 x 3 = 6 blocks but the input has L=12: use an input with L=6, or "
        "an output_size with 12 blocks. Received: input_shape=(2, 12, 12)",
    ),
    (
        "F.fold(x, (4, 5), 2, stride=2)",
        (2, 12, 12),
        "ShapeError",
        "fold (fold): output_size=(4, 5) holds 2 x 2 = 4 blocks but the input has L=12: use an input with L=4, or "
        "an output_size with 12 blocks. Received: input_shape=(2, 12, 12)",
    ),
    (
        "F.fold(x, (4, 5), 2, padding=1)",
        (2, 12, 12),
        "ShapeError",
        "fold (fold): output_size=(4, 5) holds 5 x 6 = 30 blocks but the input has L=12: use an input with L=30, or "
        "an output_size with 12 blocks. Received: input_shape=(2, 12, 12)",
    ),
    (
        "F.fold(x, (4, 5), 2, 1, 1)",
        (2, 12, 12),
        "ShapeError",
        "fold (fold): output_size=(4, 5) holds 5 x 6 = 30 blocks but the input has L=12: use an input with L=30, or "
        "an output_size with 12 blocks. Received: input_shape=(2, 12, 12)",
    ),
]


@pytest.mark.parametrize(
    ("source", "shape", "error", "message"), _FOLDS_REFUSED, ids=[c[0] + str(c[1]) for c in _FOLDS_REFUSED]
)
def test_fold_refusals_name_the_argument(source: str, shape: Shape, error: str, message: str) -> None:
    model = Functional(source)
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


def _unpooled(call: str, pool: str) -> str:
    """``F.max_unpool2d(values, indices, ...)`` of ``F.max_pool2d(..., return_indices=True)``."""
    return f"(lambda p: {call.replace('VALUES', 'p[0]').replace('INDICES', 'p[1]')})({pool})"


_UNPOOLS: list[tuple[str, str, Shape]] = [
    ("F.max_unpool2d(VALUES, INDICES, 2)", "F.max_pool2d(x, 2, return_indices=True)", (2, 3, 8, 6)),
    ("F.max_unpool2d(VALUES, INDICES, 2, output_size=(7, 5))", "F.max_pool2d(x, 2, return_indices=True)", (2, 3, 7, 5)),
    ("F.max_unpool2d(VALUES, INDICES, 2, 2, 0, (7, 5))", "F.max_pool2d(x, 2, return_indices=True)", (2, 3, 7, 5)),
    (
        "F.max_unpool2d(VALUES, INDICES, 2, output_size=x.size())",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 7, 5),
    ),
    (
        "F.max_unpool2d(VALUES, INDICES, 2, output_size=x.size()[2:])",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 7, 5),
    ),
    ("F.max_unpool2d(VALUES, INDICES, 3, 2, 1, (8, 6))", "F.max_pool2d(x, 3, 2, 1, return_indices=True)", (2, 3, 8, 6)),
    (
        "F.max_unpool2d(VALUES, INDICES, 3, stride=2, padding=1, output_size=(8, 6))",
        "F.max_pool2d(x, 3, 2, 1, return_indices=True)",
        (2, 3, 8, 6),
    ),
    ("F.max_unpool2d(VALUES, INDICES, 3, 2, 1)", "F.max_pool2d(x, 3, 2, 1, return_indices=True)", (2, 3, 7, 5)),
    (
        "F.max_unpool2d(VALUES, INDICES, kernel_size=(2, 3), stride=(2, 3))",
        "F.max_pool2d(x, (2, 3), return_indices=True)",
        (2, 3, 8, 6),
    ),
    (
        "F.max_unpool2d(input=VALUES, indices=INDICES, kernel_size=2)",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 8, 6),
    ),
    ("F.max_unpool1d(VALUES, INDICES, 2)", "F.max_pool1d(x, 2, return_indices=True)", (2, 3, 9)),
    ("F.max_unpool1d(VALUES, INDICES, 3, 2, 1, (9,))", "F.max_pool1d(x, 3, 2, 1, return_indices=True)", (2, 3, 9)),
    ("F.max_unpool1d(VALUES, INDICES, 2, stride=1)", "F.max_pool1d(x, 2, 1, return_indices=True)", (3, 9)),
    ("F.max_unpool3d(VALUES, INDICES, 2)", "F.max_pool3d(x, 2, return_indices=True)", (1, 2, 4, 4, 6)),
    ("F.max_unpool3d(VALUES, INDICES, 2, 2, 0, (5, 4, 6))", "F.max_pool3d(x, 2, return_indices=True)", (1, 2, 5, 4, 6)),
]


@pytest.mark.parametrize(("call", "pool", "shape"), _UNPOOLS, ids=[c[0] + str(c[2]) for c in _UNPOOLS])
def test_max_unpool_gives_torchs_shape(call: str, pool: str, shape: Shape) -> None:
    model = Functional(_unpooled(call, pool))
    assert agrees(model, shape) is not None
    plan = convcalc.plan(model, shape)
    (row,) = [r for r in plan.rows if r.kind.startswith("max_unpool")]
    assert row.kind == call.split("(")[0][2:]
    assert (row.trainable, row.macs) == (0, 0)


# Not generated: an unpooled output with fewer elements than the pooled input had (``F.max_unpool2d`` of a 7 x 5
# input's 2 x 2 pool to 6 x 4), which torch refuses after reading the index values, which convcalc does not read
_UNPOOLS_REFUSED: list[tuple[str, str, Shape, str, str]] = [
    (
        "F.max_unpool2d(VALUES, INDICES, 2, output_size=(9, 5))",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 7, 5),
        "ShapeError",
        "max_unpool2d (max_unpool2d): output_size[0]=9 is out of range: use a size from 5 to 7. Received: "
        "output_size=(9, 5), input_shape=(2, 3, 3, 2)",
    ),
    (
        "F.max_unpool2d(VALUES, INDICES, 2, 2, 0, (7, 7))",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 7, 5),
        "ShapeError",
        "max_unpool2d (max_unpool2d): output_size[1]=7 is out of range: use a size from 3 to 5. Received: "
        "output_size=(7, 7), input_shape=(2, 3, 3, 2)",
    ),
    (
        "F.max_unpool2d(VALUES, INDICES, 2, output_size=(7,))",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 7, 5),
        "ShapeError",
        "max_unpool2d (max_unpool2d): output_size must have 2 or 4 elements. Received: output_size=(7,)",
    ),
    (
        "F.max_unpool2d(VALUES, INDICES[:, :2], 2)",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 8, 6),
        "ShapeError",
        "max_unpool2d (max_unpool2d): indices must have the input's shape (2, 3, 4, 3). Received: indices=(2, 2, 4, 3)",
    ),
    (
        "F.max_unpool2d(VALUES, INDICES, (2, 2, 2))",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 8, 6),
        "SpecError",
        "max_unpool2d (max_unpool2d): kernel_size must be an int or a tuple of 2 ints. Received: kernel_size=(2, 2, 2), "
        "stride=None, padding=0",
    ),
    (
        "F.max_unpool1d(VALUES, INDICES, 2)",
        "F.max_pool2d(x, 2, return_indices=True)",
        (2, 3, 8, 6),
        "ShapeError",
        "max_unpool1d (max_unpool1d): expects a 3-D input (N, C, ...) or an unbatched 2-D one, but receives 4-D. "
        "Received: input_shape=(2, 3, 4, 3)",
    ),
]


@pytest.mark.parametrize(
    ("call", "pool", "shape", "error", "message"), _UNPOOLS_REFUSED, ids=[c[0] for c in _UNPOOLS_REFUSED]
)
def test_max_unpool_refusals_name_the_argument(call: str, pool: str, shape: Shape, error: str, message: str) -> None:
    model = Functional(_unpooled(call, pool))
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


# --------------------------------------------------------------------------- #
# torch.einsum
# --------------------------------------------------------------------------- #

# (equation, the operands as forwards of x)
_EINSUMS: list[tuple[str, tuple[str, ...], Shape]] = [
    ("bchw->bc", ("x",), (2, 3, 4, 5)),
    ("bchw,bchw->bc", ("x", "x"), (2, 3, 4, 5)),
    ("bchw,bchw->bhwc", ("x", "x"), (2, 3, 4, 5)),
    ("bchw , bchw -> bc", ("x", "x"), (2, 3, 4, 5)),
    ("...hw,...hw->...h", ("x", "x"), (2, 3, 4, 5)),
    ("...hw,...wk", ("x", "x.transpose(-1, -2)"), (2, 3, 4, 5)),
    ("...ij,...jk->...ik", ("x", "x.transpose(-1, -2)[:1]"), (2, 3, 4, 5)),
    ("b...w,w->b...", ("x", "x[0, 0, 0]"), (2, 3, 4, 5)),
    ("bhqd,bhkd->bhqk", ("x", "x"), (2, 3, 4, 5)),
    ("bhqk,bhkd->bhqd", ("x[..., :4]", "x"), (2, 3, 4, 5)),
    ("bij,bjk->bik", ("x[0]", "x[0].transpose(1, 2)"), (2, 3, 4, 5)),
    ("bi,bj->bij", ("x[:, 0, 0]", "x[:, 0, 0, :2]"), (2, 3, 4, 5)),
    ("b i,b j->b i j", ("x[:, 0, 0]", "x[:, 0, 0, :2]"), (2, 3, 4, 5)),
    ("ij,j->i", ("x[0, 0]", "x[0, 0, 0, :1]"), (2, 3, 4, 5)),
    ("ij,j->i", ("x[0, 0, :, :1]", "x[0, 0, 0]"), (2, 3, 4, 5)),
    ("b...w,w", ("x", "x[0, 0, 0]"), (2, 3, 4, 5)),
    ("...ij,...jk->...ik", ("x", "x.t()"), (2, 3)),
    ("...ij,...jk->...ik", ("x", "x.t()[:, :1]"), (2, 3)),
    ("ij,jk->ki", ("x[0, 0]", "x[0, 0].t()"), (2, 3, 4, 5)),
    ("ii->i", ("x[0, 0, :4, :4]",), (2, 3, 4, 5)),
    ("nchw,oc->nohw", ("x", "m.w"), (2, 3, 4, 5)),
    ("ij,kl", ("x", "x"), (2, 3)),
    ("ij,j...->i...", ("x", "x[0]"), (2, 3)),
    ("...,...->...", ("x", "x"), (2, 3)),
    ("i...,i...->...", ("x", "x"), (2, 5, 7)),
    ("ij...,ij...->...", ("x", "x"), (2, 5, 7)),
    ("...i,...i->...", ("x", "x"), (2, 5, 7)),
    ("ij->ji", ("x",), (2, 3)),
    ("ij->ij...", ("x",), (2, 3)),
    ("ij->i...j", ("x",), (2, 3)),
    ("ij...->i...j", ("x",), (2, 3, 4)),
    ("...j->j...", ("x",), (2, 3, 4)),
    ("ij->j", ("x",), (2, 3)),
    ("bn,bn->b", ("x", "x"), (4, 3)),
    ("bn,bm->bnm", ("x", "x[:, :1]"), (4, 3)),
    ("b...,b...->b", ("x", "x[:1]"), (4, 3, 2)),
    # an output without axes: the whole call's count, shared out over the samples (it was counted per sample)
    ("bchw,bchw", ("x", "x"), (2, 3, 4, 5)),
    ("ij,kl->", ("x", "x"), (2, 3)),
]


def _einsum_source(equation: str, operands: tuple[str, ...], listed: bool) -> str:
    joined = ", ".join(operands)
    return f"torch.einsum({equation!r}, [{joined}])" if listed else f"torch.einsum({equation!r}, {joined})"


@pytest.mark.parametrize("listed", [False, True], ids=["operands", "list"])
@pytest.mark.parametrize(("equation", "operands", "shape"), _EINSUMS, ids=[c[0] for c in _EINSUMS])
def test_einsum_gives_torchs_shape_and_macs(
    equation: str, operands: tuple[str, ...], shape: Shape, listed: bool
) -> None:
    model = Functional(_einsum_source(equation, operands, listed), w=(6, 3))
    out = agrees(model, shape)
    assert out is not None
    plan = convcalc.plan(model, shape)
    (row,) = [r for r in plan.rows if r.kind == "einsum"]
    assert row.input_shape == tuple(torch_outcome(Functional(f"{operands[0]}", w=(6, 3)), shape))
    if len(operands) == 1:
        assert plan.macs == 0
    else:
        # every product of the equation's index sizes once (torch computes the same products; its FLOP counter
        # sees them as the matrix products einsum becomes, where it becomes one)
        sizes: dict[str, int] = {}
        with torch.no_grad():
            tensors = [Functional(o, w=(6, 3))(torch.ones(shape)) for o in operands]
        lhs = equation.replace(" ", "").split("->")[0].split(",")
        dots: list[tuple[int, ...]] = []
        for term, t in zip(lhs, tensors, strict=True):
            head, _, tail = term.partition("...")
            for label, size in [
                *zip(head, t.shape, strict=False),
                *zip(tail, t.shape[t.dim() - len(tail) :], strict=True),
            ]:
                sizes[label] = max(sizes.get(label, 1), size)
            if "..." in term:
                dots.append(tuple(t.shape[len(head) : t.dim() - len(tail)]))
        broadcast = torch.broadcast_shapes(*dots) if dots else ()  # type: ignore[no-untyped-call]
        total = math.prod(sizes.values()) * math.prod(broadcast)
        assert plan.macs * shape[0] == total
        counted = torch_macs(model, shape)
        assert counted in (0, total)


_EINSUMS_REFUSED: list[tuple[str, tuple[str, ...], Shape, str, str]] = [
    (
        "ii->i",
        ("x[0, 0]",),
        (2, 3, 4, 5),
        "ShapeError",
        "einsum (einsum): subscript i is repeated for operand 0 but the sizes differ (4 vs 5). Received: input_shape=(4, 5)",
    ),
    (
        "ij,jk->ik",
        ("x", "x"),
        (2, 3),
        "ShapeError",
        "einsum (einsum): subscript j has size 3 in one operand and 2 in operand 1 (sizes must be equal or 1). Received: input_shape=(2, 3)",
    ),
    (
        "ij,jk->ii",
        ("x", "x.t()"),
        (2, 3),
        "SpecError",
        "einsum (einsum): output subscript i must appear once in the output and in an operand. Received: equation='ij,jk->ii'",
    ),
    (
        "ij,jk->iz",
        ("x", "x.t()"),
        (2, 3),
        "SpecError",
        "einsum (einsum): output subscript z must appear once in the output and in an operand. Received: equation='ij,jk->iz'",
    ),
    (
        "ij,jk",
        ("x",),
        (2, 3),
        "SpecError",
        "einsum (einsum): the equation names 2 operands but 1 are given. Received: equation='ij,jk'",
    ),
    (
        "ij",
        ("x", "x"),
        (2, 3),
        "SpecError",
        "einsum (einsum): the equation names 1 operands but 2 are given. Received: equation='ij'",
    ),
    (
        "i1j",
        ("x",),
        (2, 3),
        "SpecError",
        "einsum (einsum): the equation takes letters and at most one '...' per operand. Received: equation='i1j'",
    ),
    (
        "ij...,jk....->ik",
        ("x", "x"),
        (2, 3),
        "SpecError",
        "einsum (einsum): the equation takes letters and at most one '...' per operand. Received: equation='ij...,jk....->ik'",
    ),
    (
        "ijk",
        ("x",),
        (2, 3),
        "ShapeError",
        "einsum (einsum): operand 0 has 2 dims but the equation gives it 3 subscripts 'ijk'. Received: input_shape=(2, 3)",
    ),
    (
        "i",
        ("x",),
        (2, 3),
        "ShapeError",
        "einsum (einsum): operand 0 has 2 dims but the equation gives it 1 subscripts 'i'. Received: input_shape=(2, 3)",
    ),
    (
        "ijk...",
        ("x",),
        (2, 3),
        "ShapeError",
        "einsum (einsum): operand 0 has 2 dims but the equation gives it 3 subscripts 'ijk...' (plus ...). Received: input_shape=(2, 3)",
    ),
    (
        "ij->i1",
        ("x",),
        (2, 3),
        "SpecError",
        "einsum (einsum): the equation takes letters and at most one '...' per operand. Received: equation='ij->i1'",
    ),
    (
        "i...j...->ij",
        ("x",),
        (2, 3, 4),
        "SpecError",
        "einsum (einsum): the equation takes letters and at most one '...' per operand. Received: "
        "equation='i...j...->ij'",
    ),
    (
        "i...jk",
        ("x",),
        (2, 3),
        "ShapeError",
        "einsum (einsum): operand 0 has 2 dims but the equation gives it 3 subscripts 'i...jk' (plus ...). "
        "Received: input_shape=(2, 3)",
    ),
    (
        "ijk...->k",
        ("x",),
        (2, 3),
        "ShapeError",
        "einsum (einsum): operand 0 has 2 dims but the equation gives it 3 subscripts 'ijk...' (plus ...). Received: input_shape=(2, 3)",
    ),
    (
        "...ij,...jk->...ik",
        ("x", "x.transpose(-1, -2)[:, :2]"),
        (2, 3, 4, 5),
        "ShapeError",
        "einsum (einsum): the operands have shapes (2, 3) and (2, 2), which do not broadcast (axis 1: sizes must be equal or 1). Received: input_shape=(2, 3)",
    ),
    (
        "ij,ij->i",
        ("x", "x[:, :2]"),
        (2, 3),
        "ShapeError",
        "einsum (einsum): subscript j has size 3 in one operand and 2 in operand 1 (sizes must be equal or 1). Received: input_shape=(2, 2)",
    ),
]


@pytest.mark.parametrize(
    ("equation", "operands", "shape", "error", "message"), _EINSUMS_REFUSED, ids=[c[0] for c in _EINSUMS_REFUSED]
)
def test_einsum_refusals_name_the_equation(
    equation: str, operands: tuple[str, ...], shape: Shape, error: str, message: str
) -> None:
    model = Functional(_einsum_source(equation, operands, False))
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


def test_an_einsum_equation_must_be_a_string() -> None:
    model = Functional("torch.einsum(x, x)")
    assert torch_outcome(model, (2, 3)) is None
    exc = refusal(model, (2, 3))
    assert isinstance(exc, convcalc.SpecError)
    assert str(exc) == "einsum (einsum): the equation must be a string. Received: equation='a tensor of shape (2, 3)'"


# --------------------------------------------------------------------------- #
# F.scaled_dot_product_attention
# --------------------------------------------------------------------------- #

# (query, key, value, further arguments as written); x is (batch, heads, length, features) unless said
_ATTENTION: list[tuple[str, Shape]] = [
    ("x, x, x", (2, 4, 5, 8)),
    ("x, x[..., :3, :], x[..., :3, :6]", (2, 4, 5, 8)),
    ("x, x, x[..., :3]", (2, 4, 5, 8)),
    ("x, x[:, :2], x[:, :2], enable_gqa=True", (2, 4, 5, 8)),
    ("x, x[:, :1], x[:, :1], enable_gqa=True", (2, 4, 5, 8)),
    ("x, x[:, :2], x[:, :1], enable_gqa=True", (2, 4, 5, 8)),
    ("x, key=x[:, :2], value=x[:, :2], enable_gqa=True", (2, 4, 5, 8)),
    ("x, x[:, :2, :3], x[:, :2, :3, :2], enable_gqa=True", (2, 4, 5, 8)),
    ("x, x[:, :1], x[:, :1]", (2, 4, 5, 8)),
    ("x, x[:1], x[:1]", (2, 4, 5, 8)),
    ("x, x, x, x[0, 0, :, :5]", (2, 4, 5, 8)),
    ("x, x, x, x[0, 0, :, :1]", (2, 4, 5, 8)),
    ("x, x, x, x[0, :, :, :5]", (2, 4, 5, 8)),
    ("x, x, x, attn_mask=x[:, :1, :, :5] > 0", (2, 4, 5, 8)),
    ("x, x[:, :, :3], x[:, :, :3], x[:, :, :, :3]", (2, 4, 5, 8)),
    ("x, x, x, is_causal=True", (2, 4, 5, 8)),
    ("x, x, x, None, 0.0, True", (2, 4, 5, 8)),
    ("x, x, x, dropout_p=0.0, scale=0.5", (2, 4, 5, 8)),
    ("query=x, key=x, value=x", (2, 4, 5, 8)),
    ("x, key=x[:, :, :2], value=x[:, :, :2]", (2, 4, 5, 8)),
    ("x, x, x", (3, 5, 8)),
    ("x, x, x[..., :4]", (3, 5, 8)),
    ("x, x, x", (2, 3, 2, 5, 8)),
    ("x, x[:, :, :2], x[:, :, :2], enable_gqa=True", (2, 3, 4, 5, 8)),
    ("x, x[:, :, :1], x[:, :, :2], enable_gqa=True", (3, 2, 4, 5, 8)),
    ("x, x[:2], x[:2], enable_gqa=True", (4, 5, 8)),
    ("x, x[:, :1], x[:, :1]", (2, 3, 2, 5, 8)),
    # 2-D inputs (L, E) without a batch: one attention (it was counted L times over)
    ("x, x, x", (5, 8)),
    ("x, x[:3], x[:3]", (5, 8)),
]


@pytest.mark.parametrize(("arguments", "shape"), _ATTENTION, ids=[c[0] + str(c[1]) for c in _ATTENTION])
def test_attention_gives_torchs_shape_and_macs(arguments: str, shape: Shape) -> None:
    model = Functional(f"F.scaled_dot_product_attention({arguments})")
    out = agrees(model, shape)
    assert out is not None
    plan = convcalc.plan(model, shape)
    (row,) = [r for r in plan.rows if r.kind == "scaled_dot_product_attention"]
    assert (row.input_shape, row.output_shape) == (shape, out)
    # query . key for every (query, key) pair, then the weights . value: L x S x (E + Ev) per batch and head
    key_length = torch_outcome(Functional(_key_of(arguments)), shape)[-2]
    total = math.prod(out[:-2]) * out[-2] * key_length * (shape[-1] + out[-1])
    assert plan.macs * shape[0] == total


def _key_of(arguments: str) -> str:
    parts = _split(arguments)
    key = [p for p in parts if p.startswith("key=")]
    return key[0][4:] if key else parts[1]


def _split(arguments: str) -> list[str]:
    """The arguments, split at the commas outside brackets."""
    out, depth, current = [], 0, ""
    for c in arguments:
        if c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
        if c == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += c
    return [*out, current.strip()]


_ATTENTION_REFUSED: list[tuple[str, Shape, str, str]] = [
    (
        "x[0], x[0], x[0]",
        (5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): query, key and value need at least 2 dims (L, E). Received: input_shape=(8,)",
    ),
    (
        "x, x[0], x",
        (5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): query, key and value need at least 2 dims (L, E). Received: input_shape=(5, 8)",
    ),
    (
        "x, x, x[0]",
        (5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): query, key and value need at least 2 dims (L, E). Received: input_shape=(5, 8)",
    ),
    (
        "x, x[..., :4], x",
        (3, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the query has 8 features but the key 4; they must be equal. Received: input_shape=(3, 5, 8)",
    ),
    (
        "x, x[:, :2], x[:, :4]",
        (3, 6, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the key has length 2 but the value 4; they must "
        "be equal. Received: input_shape=(3, 6, 8)",
    ),
    (
        "x, x[:, :, :3], x[:, :, :3], enable_gqa=True",
        (2, 2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): 4 query heads are not a multiple of 3 key/value "
        "heads. Received: input_shape=(2, 2, 4, 5, 8)",
    ),
    (
        "x[:2], x[:, :2], x[:2, :2], enable_gqa=True",
        (3, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the operands have shapes (2, 4) and (3, 4), "
        "which do not broadcast (axis 0: sizes must be equal or 1). Received: input_shape=(2, 4)",
    ),
    (
        "x, x[:, :3], x[:, :2], enable_gqa=True",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): 4 query heads are not a multiple of 3 key/value "
        "heads. Received: input_shape=(2, 4, 5, 8)",
    ),
    (
        "x, x[:, :3], x[:, :3], enable_gqa=True",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): 4 query heads are not a multiple of 3 key/value heads. Received: input_shape=(2, 4, 5, 8)",
    ),
    (
        "x, x[:, :3], x[:, :3]",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the operands have shapes (2, 4) and (2, 3), which do not broadcast (axis 1: sizes must be equal or 1). Received: input_shape=(2, 4)",
    ),
    (
        "x, x[:, :2], x[:, :2]",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the operands have shapes (2, 4) and (2, 2), which do not broadcast (axis 1: sizes must be equal or 1). Received: input_shape=(2, 4)",
    ),
    (
        "x, x, x, x[0, 0, :, :3]",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the operands have shapes (2, 4, 5, 5) and (5, 3), which do not broadcast (axis 3: sizes must be equal or 1). Network inputs that fit every layer: use an input of 3 instead of 5 on that axis. Received: input_shape=(2, 4, 5, 5)",
    ),
    (
        "x, x, x, x[:, :, :, :5].unsqueeze(0)",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): attn_mask of shape (1, 2, 4, 5, 5) does not broadcast to the attention weights (2, 4, 5, 5) (batch, heads, query length, key length). Received: input_shape=(2, 4, 5, 8)",
    ),
    (
        "x, x, x, x[:, :, :2, :5]",
        (2, 4, 5, 8),
        "ShapeError",
        "scaled_dot_product_attention (scaled_dot_product_attention): the operands have shapes (2, 4, 5, 5) and (2, 4, 2, 5), which do not broadcast (axis 2: sizes must be equal or 1). Received: input_shape=(2, 4, 5, 5)",
    ),
]


@pytest.mark.parametrize(
    ("arguments", "shape", "error", "message"), _ATTENTION_REFUSED, ids=[c[0] for c in _ATTENTION_REFUSED]
)
def test_attention_refusals_name_the_tensors(arguments: str, shape: Shape, error: str, message: str) -> None:
    model = Functional(f"F.scaled_dot_product_attention({arguments})")
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert type(exc).__name__ == error
    assert str(exc) == message


# --------------------------------------------------------------------------- #
# Symbolic sizes: a formula, and at a grid of sizes it is torch's shape wherever the conditions hold
# --------------------------------------------------------------------------- #

_GRID = (1, 2, 3, 4, 5, 7, 8, 11)

_SYMBOLIC: list[tuple[str, dict[str, Shape], tuple[Any, ...]]] = [
    ("F.conv2d(x, m.w)", {"w": (4, 3, 3, 3)}, (1, 3, "H", "W")),
    ("F.conv2d(x, m.w, None, 2, 1)", {"w": (4, 3, 3, 3)}, (1, 3, "H", "W")),
    ("F.conv2d(x, m.w, stride=(2, 3), padding=(1, 0), dilation=(1, 2))", {"w": (4, 3, 3, 3)}, (1, 3, "H", "W")),
    ("F.conv2d(x, m.w, padding='same', dilation=2)", {"w": (4, 3, 3, 2)}, (1, 3, "H", "W")),
    ("F.conv2d(x, m.w, groups=3, stride=2)", {"w": (6, 1, 3, 3)}, (1, 3, "H", "W")),
    ("F.conv1d(x, m.w, m.b, 3, 2, 2)", {"w": (5, 3, 4), "b": (5,)}, (2, 3, "L")),
    ("F.linear(x, m.w)", {"w": (4, 3)}, ("N", "S", 3)),
    ("F.conv_transpose2d(x, m.w, None, 2, 1, 1)", {"w": (3, 4, 3, 3)}, (1, 3, "H", "W")),
    ("F.conv_transpose2d(x, m.w, stride=(2, 1), dilation=(1, 2), groups=3)", {"w": (3, 2, 3, 3)}, (1, 3, "H", "W")),
    ("F.max_pool2d(x, 3, 2, 1, ceil_mode=True)", {}, (1, 3, "H", "W")),
    ("F.max_pool2d(x, 2, return_indices=True)[1]", {}, (1, 3, "H", "W")),
    ("F.max_pool2d(x, (3, 2), dilation=2)", {}, (1, 3, "H", "W")),
    ("F.avg_pool2d(x, 3, 2, 1, True, False)", {}, (1, 3, "H", "W")),
    ("F.lp_pool1d(x, 2, 3, 2, True)", {}, (1, 3, "L")),
    ("F.adaptive_avg_pool2d(x, (2, None))", {}, (1, 3, "H", "W")),
    ("F.unfold(x, 3, 2, 1, 2)", {}, (1, 3, "H", "W")),
    ("F.unfold(x, (2, 3), stride=(2, 1))", {}, (1, 3, "H", "W")),
    ("F.embedding(x, m.w, padding_idx=0)", {"w": (7, 4)}, ("N", "S")),
    ("torch.einsum('bchw,oc->bohw', x, m.w)", {"w": (5, 3)}, (1, 3, "H", "W")),
    ("torch.einsum('bchw,bchw->bc', x, x)", {}, (1, 3, "H", "W")),
    ("F.scaled_dot_product_attention(x, x, x)", {}, (1, 2, "L", 4)),
    ("F.scaled_dot_product_attention(x, x[:, :1], x[:, :1], enable_gqa=True)", {}, (1, 2, "L", 4)),
]


def _sizes(shape: tuple[Any, ...], values: dict[str, int]) -> Shape:
    return tuple(values[d] if isinstance(d, str) else d for d in shape)


def _at(dim: Any, values: dict[str, int]) -> int:
    expr = to_sympy(dim)
    if isinstance(expr, int):
        return expr
    return int(expr.subs({s: values[str(s)] for s in expr.free_symbols}))


@pytest.mark.parametrize(("source", "tensors", "shape"), _SYMBOLIC, ids=[c[0] for c in _SYMBOLIC])
def test_symbolic_sizes_give_torchs_shape_and_macs_where_the_conditions_hold(
    source: str, tensors: dict[str, Shape], shape: tuple[Any, ...]
) -> None:
    model = Functional(source, **tensors)
    ids = "embedding" in source
    plan = convcalc.plan(model, shape)
    assert not plan.fallback_rows
    names = sorted({d for d in shape if isinstance(d, str)})
    combos: list[dict[str, int]] = [{}]
    for name in names:
        combos = [{**c, name: v} for c in combos for v in _GRID]
    held = 0
    for values in combos:
        sizes = _sizes(shape, values)
        expected = torch_outcome(model, sizes, ids=ids)
        formula = tuple(_at(d, values) for d in plan.output_shape)
        if all(c.holds(values) for c in plan.constraints):
            held += 1
            assert expected == formula, values
            at = convcalc.plan(model, sizes)
            assert at.output_shape == formula
            assert _at(plan.macs, values) == at.macs, values
        else:
            assert expected is None or 0 in expected or expected != formula, values
    assert held


# --------------------------------------------------------------------------- #
# Generated: convolutions and pools with every argument by position or by keyword
# --------------------------------------------------------------------------- #

_CONV_NAMES = ("bias", "stride", "padding", "dilation", "groups")
_POOL_NAMES = {
    "max_pool": ("stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool": ("stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
}


def _written(function: str, first: str, values: dict[str, Any], names: tuple[str, ...], by_position: int) -> str:
    """The call with its first ``by_position`` arguments after ``first`` by position, the rest by keyword
    (left out where they are left at their default)."""
    args = [first]
    for j, name in enumerate(names):
        if j < by_position:
            args.append(repr(values[name]) if name != "bias" else values[name])
        elif values[name] is not None:
            args.append(f"{name}={values[name] if name == 'bias' else repr(values[name])}")
    return f"{function}({', '.join(args)})"


@given(
    spatial=st.integers(1, 3),
    channels=st.sampled_from([(2, 2, 1), (2, 4, 2), (3, 3, 3), (4, 2, 2), (3, 6, 1)]),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])),
    dilation=st.integers(1, 2),
    bias=st.booleans(),
    by_position=st.integers(0, 5),
    size=st.integers(1, 9),
)
def test_generated_convolutions(
    spatial: int,
    channels: tuple[int, int, int],
    kernel: int,
    stride: int,
    padding: Any,
    dilation: int,
    bias: bool,
    by_position: int,
    size: int,
) -> None:
    cin, cout, groups = channels
    values = {"bias": "m.b" if bias else "None", "stride": stride, "padding": padding, "dilation": dilation}
    values["groups"] = groups
    source = _written(f"F.conv{spatial}d", "x, m.w", values, _CONV_NAMES, by_position)
    tensors: dict[str, Shape] = {"w": (cout, cin // groups, *(kernel,) * spatial)}
    if bias:
        tensors["b"] = (cout,)
    model = Functional(source, **tensors)
    shape = (2, cin, *(size + j for j in range(spatial)))
    out = agrees(model, shape)
    if out is not None:
        assert convcalc.plan(model, shape).macs * 2 == torch_macs(model, shape)


@given(
    family=st.sampled_from(["max_pool", "avg_pool"]),
    spatial=st.integers(1, 3),
    kernel=st.integers(1, 4),
    stride=st.one_of(st.none(), st.integers(1, 3)),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    ceil_mode=st.booleans(),
    last=st.booleans(),
    by_position=st.integers(0, 5),
    size=st.integers(1, 9),
)
def test_generated_pools(
    family: str,
    spatial: int,
    kernel: int,
    stride: int | None,
    padding: int,
    dilation: int,
    ceil_mode: bool,
    last: bool,
    by_position: int,
    size: int,
) -> None:
    names: tuple[str, ...] = _POOL_NAMES[family]
    if family == "avg_pool" and spatial == 1:
        names = names[:-1]  # F.avg_pool1d takes no divisor_override
    values: dict[str, Any] = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    values["dilation"], values["return_indices"] = dilation, last
    values["count_include_pad"], values["divisor_override"] = last, 3 if last else None
    source = _written(f"F.{family}{spatial}d", f"x, {kernel}", values, names, by_position)
    shape = (2, 3, *(size + j for j in range(spatial)))
    agrees(Functional(source), shape)


# --------------------------------------------------------------------------- #
# An argument that must be a tensor and is not (a size, a tuple): refused as torch refuses it
# --------------------------------------------------------------------------- #

_NOT_TENSORS: list[tuple[str, Shape, str]] = [
    (
        "F.max_pool2d(x.size(), 2)",
        (1, 3, 4, 4),
        "max_pool2d (max_pool2d): expects a tensor. Received: argument='a tuple of 4'",
    ),
    (
        "F.max_pool2d_with_indices(x.size(), 2)",
        (1, 3, 4, 4),
        "max_pool2d_with_indices (max_pool2d): expects a tensor. Received: argument='a tuple of 4'",
    ),
    (
        "F.adaptive_avg_pool2d(x.size(), 2)",
        (1, 3, 4, 4),
        "adaptive_avg_pool2d (adaptive_avg_pool2d): expects a tensor. Received: argument='a tuple of 4'",
    ),
    (
        "F.embedding(x.size(), m.w)",
        (2, 3),
        "embedding (embedding): expects a tensor. Received: argument='a tuple of 2'",
    ),
    ("F.unfold(x.size(), 2)", (1, 3, 4, 4), "unfold (unfold): expects a tensor. Received: argument='a tuple of 4'"),
    ("F.fold(x.size(), (2, 2), 1)", (1, 4, 4), "fold (fold): expects a tensor. Received: argument='a tuple of 3'"),
    (
        "F.max_unpool2d(x.size(), x, 2)",
        (1, 3, 4, 4),
        "max_unpool2d (max_unpool2d): expects a tensor. Received: argument='a tuple of 4'",
    ),
    (
        "F.max_unpool2d(x, x.size(), 2)",
        (1, 3, 4, 4),
        "max_unpool2d (max_unpool2d): expects a tensor. Received: argument='a tuple of 4'",
    ),
    (
        "F.scaled_dot_product_attention(x.size(), x, x)",
        (2, 4),
        "scaled_dot_product_attention (scaled_dot_product_attention): expects a tensor. Received: argument='a tuple of 2'",
    ),
    (
        "torch.einsum('ij,j->i', x, x.size())",
        (2, 3),
        "einsum (einsum): expects a tensor. Received: argument='a tuple of 2'",
    ),
]


@pytest.mark.parametrize(("source", "shape", "message"), _NOT_TENSORS, ids=[c[0] for c in _NOT_TENSORS])
def test_an_argument_that_is_not_a_tensor_is_refused(source: str, shape: Shape, message: str) -> None:
    model = Functional(source, w=(5, 4))
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert isinstance(exc, convcalc.SpecError)
    assert str(exc) == message


@pytest.mark.parametrize(
    ("source", "shape", "weight", "message"),
    [
        (
            "F.linear(x.size(), m.w)",
            (2, 3),
            (4, 3),
            "linear (linear): convcalc follows this call with a tensor input. Received: input=(2, 3)",
        ),
        (
            "F.conv2d(x.size(), m.w)",
            (1, 3, 5, 5),
            (4, 3, 3, 3),
            "conv2d (conv2d): convcalc follows this call with a tensor input. Received: input=(1, 3, 5, 5)",
        ),
        (
            "F.conv_transpose2d(x.size(), m.w)",
            (1, 3, 5, 5),
            (3, 4, 3, 3),
            "conv_transpose2d (conv_transpose2d): convcalc follows this call with a tensor input. Received: "
            "input=(1, 3, 5, 5)",
        ),
        (
            "F.bilinear(x.size(), x, m.w)",
            (2, 3),
            (4, 3, 3),
            "bilinear (bilinear): convcalc follows F.bilinear with two tensor inputs and a 3-D weight of known shape. "
            "Received: input1=(2, 3), input2='a tensor of shape (2, 3)', weight='a tensor of shape (4, 3, 3)'",
        ),
        (
            "F.bilinear(x, x.size(), m.w)",
            (2, 3),
            (4, 3, 3),
            "bilinear (bilinear): convcalc follows F.bilinear with two tensor inputs and a 3-D weight of known shape. "
            "Received: input1='a tensor of shape (2, 3)', input2=(2, 3), weight='a tensor of shape (4, 3, 3)'",
        ),
    ],
)
def test_a_weighted_call_of_an_input_that_is_not_a_tensor_is_refused(
    source: str, shape: Shape, weight: Shape, message: str
) -> None:
    model = Functional(source, w=weight)
    assert torch_outcome(model, shape) is None
    exc = refusal(model, shape)
    assert isinstance(exc, convcalc.SpecError)
    assert str(exc) == message


# attention of 2-D inputs (L, E), without a batch: the shape (its multiply-accumulates are left out above)
@pytest.mark.parametrize(
    "arguments", ["x, x, x", "x, x[:3], x[:3, :2]", "x, x[:3], x[:3]", "query=x, key=x[:2], value=x[:2, :6]"]
)
def test_attention_without_a_batch_gives_torchs_shape(arguments: str) -> None:
    assert agrees(Functional(f"F.scaled_dot_product_attention({arguments})"), (5, 8)) is not None


# sizes that must be equal and are symbols: the plan records the axis, and holds exactly where torch runs
@pytest.mark.parametrize(
    ("arguments", "shape", "formula", "condition"),
    [
        ("x, x[..., :4], x[..., :4]", (1, 2, 5, "E"), ("1", "2", "5", "Min(4, E)"), (3, "==", 0, "sizes equal")),
        # of 3 dims: torch's 4-D CPU kernel runs a key and a value of different lengths without a word
        ("x, x[:, :4], x", (2, "L", 4), ("2", "L", "4"), (1, "==", 0, "sizes equal")),
        ("x, x, x[:, :4]", (2, "L", 4), ("2", "L", "4"), (1, "==", 0, "sizes equal")),
    ],
)
def test_attention_sizes_that_must_be_equal(
    arguments: str, shape: tuple[Any, ...], formula: tuple[str, ...], condition: tuple[Any, ...]
) -> None:
    model = Functional(f"F.scaled_dot_product_attention({arguments})")
    plan = convcalc.plan(model, shape)
    assert tuple(str(d) for d in plan.output_shape) == formula
    assert [(c.layer, c.axis, c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("scaled_dot_product_attention", *condition)
    ]
    (name,) = [d for d in shape if isinstance(d, str)]
    for size in _GRID:
        expected = torch_outcome(model, _sizes(shape, {name: size}))
        if plan.constraints[0].holds({name: size}):
            assert expected == tuple(_at(d, {name: size}) for d in plan.output_shape)
        else:
            assert expected is None


# an einsum index whose sizes must be equal and are symbols: the plan records it (on the operand that brings the
# second size: its number is the condition's axis), and holds exactly where torch runs
@pytest.mark.parametrize(
    ("equation", "operands", "axis"),
    [
        ("ij,ij->i", ("x", "x[:, :4]"), 1),
        ("ij,kj->ik", ("x[:, :4]", "x"), 1),
        ("ij,ij,ij->i", ("x", "x", "x[:, :4]"), 2),
    ],
)
def test_einsum_sizes_that_must_be_equal(equation: str, operands: tuple[str, ...], axis: int) -> None:
    model = Functional(_einsum_source(equation, operands, False))
    plan = convcalc.plan(model, (2, "W"))
    assert [(c.layer, c.axis, c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("einsum", axis, "==", 0, "sizes equal")
    ]
    for size in _GRID:
        expected = torch_outcome(model, (2, size))
        if plan.constraints[0].holds({"W": size}):
            assert expected == tuple(_at(d, {"W": size}) for d in plan.output_shape)
        else:
            assert expected is None


# an einsum to a number: the shape (its multiply-accumulates are left out above)
@pytest.mark.parametrize(
    ("equation", "operands", "shape"),
    [("bchw,bchw", ("x", "x"), (2, 3, 4, 5)), ("ij,kl->", ("x", "x"), (2, 3)), ("i,i->", ("x[0]", "x[1]"), (2, 3))],
)
def test_einsum_to_a_number_gives_torchs_shape(equation: str, operands: tuple[str, ...], shape: Shape) -> None:
    assert agrees(Functional(_einsum_source(equation, operands, False)), shape) == ()


# forms convcalc once read wrongly (commit 1099be9): torch's own embedding (the weight first, -1 for no padding
# index), torch's own adaptive max pool (values and indices always), F.linear of a vector weight, and a linear
# bias that broadcasts
@pytest.mark.parametrize(
    ("source", "shape", "tensors", "ids", "macs"),
    [
        ("torch.embedding(m.w, x)", (2, 3), {"w": (10, 5)}, True, 0),
        ("torch.embedding(m.w, x, 0)", (2, 3), {"w": (10, 5)}, True, 0),
        ("torch.embedding(m.w, x, -1, False, False)", (4,), {"w": (10, 5)}, True, 0),
        ("torch.adaptive_max_pool1d(x, 2)[0]", (1, 3, 8), {}, False, 0),
        ("torch.adaptive_max_pool1d(x, 2)[1]", (2, 3, 8), {}, False, 0),
        ("F.linear(x, m.w)", (2, 3), {"w": (3,)}, False, 3),
        ("F.linear(x, m.w)", (5, 2, 3), {"w": (3,)}, False, 6),
        ("F.linear(x, m.w, m.b)", (2, 3), {"w": (4, 3), "b": (1,)}, False, 12),
        ("F.linear(x, m.w, m.b)", (2, 3), {"w": (4, 3), "b": ()}, False, 12),
    ],
)
def test_torchs_own_forms_and_vector_weights(
    source: str, shape: Shape, tensors: dict[str, Shape], ids: bool, macs: int
) -> None:
    model = Functional(source, **tensors)
    assert agrees(model, shape, ids=ids) is not None
    plan = convcalc.plan(model, shape)
    assert plan.total_params == params_of(model)
    assert plan.macs == macs


@pytest.mark.parametrize(
    ("source", "weight", "message"),
    [
        (
            "F.conv2d(x, m.w, groups=0)",
            (4, 3, 3, 3),
            "conv2d (conv2d): groups must be at least 1 (torch: non-positive groups is not supported). "
            "Received: groups=0",
        ),
        (
            "F.conv2d(x, m.w, None, 1, 0, 1, -2)",
            (4, 3, 3, 3),
            "conv2d (conv2d): groups must be at least 1 (torch: non-positive groups is not supported). "
            "Received: groups=-2",
        ),
        ("F.conv2d(x, m.w, stride=0)", (4, 3, 3, 3), "conv2d (conv2d): stride must be at least 1. Received: stride=0"),
        (
            "F.conv_transpose2d(x, m.w, groups=0)",
            (3, 4, 3, 3),
            "conv_transpose2d (conv_transpose2d): groups must be at least 1 (torch: non-positive groups is not "
            "supported). Received: groups=0",
        ),
        (
            "F.conv_transpose2d(x, m.w, stride=0)",
            (3, 4, 3, 3),
            "conv_transpose2d (conv_transpose2d): stride must be at least 1. Received: stride=0",
        ),
        (
            "F.conv_transpose2d(x, m.w, output_padding=2)",
            (3, 4, 3, 3),
            "conv_transpose2d (conv_transpose2d): output_padding=2 must be smaller than either stride=1 or "
            "dilation=1: use output_padding <= 0. Received: in_channels=3, out_channels=4, kernel_size=(3, 3), "
            "stride=1, padding=0, output_padding=2, groups=1, bias=False, dilation=1, padding_mode='zeros'",
        ),
    ],
)
def test_a_functional_convolutions_arguments_are_refused_by_the_call(source: str, weight: Shape, message: str) -> None:
    """The layer rule's refusal of an argument torch refuses, named by the call (not the meta pass's "no rule for
    conv_transpose2d called this way", nor ``in_channels=0`` for ``groups=0``)."""
    model = Functional(source, w=weight)
    assert torch_outcome(model, (1, 3, 5, 5)) is None
    exc = refusal(model, (1, 3, 5, 5))
    assert isinstance(exc, convcalc.SpecError)
    assert str(exc) == message
