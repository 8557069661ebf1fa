"""The torch bridge, operation by operation, against what torch computes.

Every tensor operation convcalc follows in a traced ``forward`` is planned
here on a tiny module and compared with torch: the module's own outputs
through forward hooks, and every operation's output through torch.fx's
ShapeProp run on real tensors. Where convcalc refuses an operation, the test
checks the exact error and, where torch refuses it too, that torch does.
"""

from __future__ import annotations

import math
import pickle
import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
import sympy

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn as tnn  # noqa: E402
from torch_shapes import torch_shapes  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ReceptiveField, ShapeError, SpecError, nn  # noqa: E402
from convcalc import torch_bridge as tb  # noqa: E402
from convcalc.torch.nodes import _node_repr  # noqa: E402
from convcalc.torch.trace import _RULES, _trace_key  # noqa: E402
from convcalc.torch.verify import _first_tensor, _run_hooked  # noqa: E402

# --------------------------------------------------------------------------- #
# What torch does
# --------------------------------------------------------------------------- #


class Fn(tnn.Module):
    """A module whose forward is ``fn(self, x)``; keyword arguments become its children."""

    def __init__(self, fn: Any, **children: Any) -> None:
        super().__init__()
        self.fn = fn
        for name, child in children.items():
            self.add_module(name, child)

    def forward(self, x: Any) -> Any:
        return self.fn(self, x)


def assert_plan_is_torch(module: Any, shape: tuple[int, ...]) -> Any:
    """Plan ``module`` and check every row and the output against torch; returns the plan."""
    plan = convcalc.plan(module, shape)
    shapes, out = torch_shapes(module, shape)
    seen: dict[str, int] = defaultdict(int)
    for row in plan.rows:
        if row.kind in ("Parameter", "Buffer"):
            continue
        assert row.name in shapes, f"torch has no output named {row.name}"
        k = seen[row.name]
        seen[row.name] += 1
        assert tuple(row.output_shape) == shapes[row.name][k], (row.name, row.output_shape, shapes[row.name][k])
    if isinstance(out, torch.Tensor):
        assert tuple(plan.output_shape) == tuple(out.shape)
    assert plan.total_params == sum(p.numel() for p in module.parameters())
    return plan


def rows(plan: Any) -> list[tuple[str, str, tuple[Any, ...]]]:
    return [(r.name, r.kind, tuple(r.output_shape)) for r in plan.rows]


def torch_rejects(fn: Any, shape: tuple[int, ...]) -> None:
    with pytest.raises((RuntimeError, ValueError, TypeError, IndexError, AttributeError)), torch.no_grad():
        fn(None, torch.randn(shape))


# --------------------------------------------------------------------------- #
# Operations convcalc follows, checked against torch
# --------------------------------------------------------------------------- #

X4 = (2, 6, 8, 10)

OPERATIONS: dict[str, tuple[Any, tuple[int, ...]]] = {
    # elementwise and arithmetic
    "in_place": (lambda m, x: x.mul_(2).relu_().add_(1), X4),
    "neg": (lambda m, x: -x, X4),
    "neg_of_a_size": (lambda m, x: x.reshape(x.size(0), x.size(1), -1, -x.size(3) // -2).neg(), X4),
    "where": (lambda m, x: torch.where(x > 0, x, torch.zeros_like(x)), X4),
    "where_kwargs": (lambda m, x: torch.where(condition=x > 0, input=x, other=x.mean(1, keepdim=True)), X4),
    "maximum_of_two": (lambda m, x: torch.max(x, x.mean(dim=3, keepdim=True)), X4),
    "min_other_kwarg": (lambda m, x: torch.min(x, other=x.amax(2, keepdim=True)), X4),
    "size_arithmetic": (lambda m, x: x.reshape(x.size(0), x.size(1) // 2, (x.size(2) * x.size(3)) * 2), X4),
    "math_on_sizes": (lambda m, x: x / math.sqrt(x.size(1)), X4),
    "broadcast_3d": (lambda m, x: x.flatten(2) + x.flatten(2).mean(-1, keepdim=True), X4),
    "matmul_batched": (lambda m, x: x @ x.transpose(-1, -2), X4),
    "bmm": (lambda m, x: torch.bmm(x.flatten(0, 1), x.flatten(0, 1).transpose(1, 2)), X4),
    "mm_kwargs": (lambda m, x: torch.mm(input=x.flatten(1), mat2=x.flatten(1).t()), X4),
    # reductions
    "norm": (lambda m, x: torch.norm(x, 2, 1), X4),
    "norm_keepdim": (lambda m, x: torch.norm(x, 2, (2, 3), True), X4),
    "sum_all": (lambda m, x: x.sum(), X4),
    "std_keepdim": (lambda m, x: torch.std(x, 1, True, True), X4),
    "mean_empty_dim": (lambda m, x: x.mean(()), X4),
    "max_values": (lambda m, x: x.max(1).values, X4),
    "max_indices": (lambda m, x: torch.max(x, dim=2).indices, X4),
    "logsumexp": (lambda m, x: torch.logsumexp(x, dim=-1), X4),
    "argmax_negative_dim": (lambda m, x: x.argmax(-3), X4),
    # shape queries
    "dim_numel_ndim": (lambda m, x: x.view(x.dim(), x.numel() // x.dim()) + x.ndim, X4),
    "shape_attribute": (lambda m, x: x.view(x.shape[0], -1), X4),
    "size_tuple": (lambda m, x: x.view(x.size()[:2] + (-1,)), X4),  # noqa: RUF005 - the traced tuple sum
    "data_and_dtype": (lambda m, x: x.data.to(x.dtype).float(), X4),
    "view_dtype": (lambda m, x: x.view(x.dtype) * 2, X4),
    # indexing
    "ellipsis_slice": (lambda m, x: x[..., 1:-1], X4),
    "none_and_ellipsis": (lambda m, x: x[:, None, ..., None], X4),
    "int_index": (lambda m, x: x[:, :, 0], X4),
    "int_index_batch": (lambda m, x: x[0], X4),
    "negative_step_free_slice": (lambda m, x: x[:, 1:5:2, ::3], X4),
    "slice_full_step_one": (lambda m, x: x[:, :, ::1], X4),
    # reshapes
    "view_tuple": (lambda m, x: x.view((x.size(0), -1)), X4),
    "reshape_kwargs": (lambda m, x: torch.reshape(x, shape=(2, -1, 5)), X4),
    "flatten_scalar": (lambda m, x: x.sum().flatten(), X4),
    "flatten_kwargs": (lambda m, x: torch.flatten(x, start_dim=2), X4),
    "unflatten": (lambda m, x: x.unflatten(1, (2, 3)), X4),
    "unflatten_infer": (lambda m, x: torch.unflatten(x, -1, (5, -1)), X4),
    "squeeze_all": (lambda m, x: x.mean((2, 3), keepdim=True).squeeze(), X4),
    "squeeze_dim": (lambda m, x: x[:, :1].squeeze(1), X4),
    "squeeze_dims_tuple": (lambda m, x: x.amax((2, 3), keepdim=True).squeeze((2, 3)), X4),
    "squeeze_no_op": (lambda m, x: torch.squeeze(x, dim=1), X4),
    "unsqueeze_end": (lambda m, x: x.unsqueeze(-1), X4),
    "transpose_kwargs": (lambda m, x: torch.transpose(x, dim0=1, dim1=3), X4),
    "permute_tuple": (lambda m, x: x.permute((0, 2, 3, 1)), X4),
    "permute_keeps_tail": (lambda m, x: x.permute(1, 0, 2, 3), X4),
    "t": (lambda m, x: x.flatten(1).t(), X4),
    "t_of_a_vector": (lambda m, x: x.flatten().t(), X4),  # t() of a 1-D tensor is the tensor
    "movedim": (lambda m, x: torch.movedim(x, 1, -1), X4),
    "movedim_kwargs": (lambda m, x: x.movedim(source=3, destination=0), X4),
    "expand_as": (lambda m, x: x.mean(1, keepdim=True).expand_as(x), X4),
    "view_as": (lambda m, x: x.flatten(1).view_as(x), X4),
    "reshape_as": (lambda m, x: x.permute(0, 1, 3, 2).reshape_as(x), X4),
    "expand": (lambda m, x: x[:, :1].expand(-1, 4, -1, -1), X4),
    "expand_new_axis": (lambda m, x: x.expand(3, -1, -1, -1, -1), X4),
    "repeat": (lambda m, x: x.repeat(1, 2, 1, 3), X4),
    "repeat_new_axis": (lambda m, x: x.repeat(2, 1, 1, 1, 1), X4),
    # splitting and joining
    "chunk": (lambda m, x: x.chunk(4, 1)[2], X4),  # 6 channels in chunks of 2: three chunks, not four
    "chunk_kwargs": (lambda m, x: torch.chunk(x, chunks=3, dim=-1)[0], X4),
    "split_size": (lambda m, x: x.split(4, dim=1)[1], X4),
    "split_sections": (lambda m, x: torch.split(x, [1, 5], 1)[1], X4),
    "tensor_split": (lambda m, x: torch.tensor_split(x, 4, 1)[3], X4),
    "unbind": (lambda m, x: x.unbind(1)[2], X4),
    "unbind_spatial": (lambda m, x: torch.unbind(x, dim=3)[0], X4),
    "narrow_channels": (lambda m, x: x.narrow(1, 2, 3), X4),
    "narrow_spatial": (lambda m, x: torch.narrow(x, 3, 1, 4), X4),
    "stack": (lambda m, x: torch.stack([x, x], 2), X4),
    "stack_first": (lambda m, x: torch.stack((x, x)), X4),
    "cat_spatial": (lambda m, x: torch.cat([x, x[:, :, :3]], dim=2), X4),
    # padding, resizing, pooling
    "pad_spatial": (lambda m, x: F.pad(x, (1, 2, 0, 3)), X4),
    "pad_channels": (lambda m, x: F.pad(x, (0, 0, 0, 0, 1, 1), value=0.5), X4),
    "pad_crop": (lambda m, x: F.pad(x, (-1, -1)), X4),
    "upsample_bilinear": (lambda m, x: F.upsample_bilinear(x, scale_factor=2), X4),
    "upsample_nearest": (lambda m, x: F.upsample_nearest(x, size=(3, 4)), X4),
    "interpolate_size_int": (lambda m, x: F.interpolate(x, size=5), X4),
    "pixel_shuffle": (lambda m, x: F.pixel_shuffle(x[:, :4], 2), X4),
    "pixel_unshuffle": (lambda m, x: F.pixel_unshuffle(x, 2), X4),
    "max_pool_empty_stride": (lambda m, x: F.max_pool2d(x, 2, stride=[]), X4),
    "max_pool_indices": (lambda m, x: F.max_pool2d(x, 2, return_indices=True)[0], X4),
    "avg_pool1d": (lambda m, x: F.avg_pool1d(x.flatten(2), 3, 2, 1), X4),
    "avg_pool3d": (lambda m, x: F.avg_pool3d(x[None], 2, divisor_override=3), X4),
    "adaptive_max": (lambda m, x: F.adaptive_max_pool2d(x, (2, 3), return_indices=True)[0], X4),
    "adaptive_avg1d": (lambda m, x: F.adaptive_avg_pool1d(x.flatten(2), 7), X4),
    # constants read from the module
    "zeros_like_plus": (lambda m, x: x + torch.ones_like(x) * 2, X4),
}


@pytest.mark.filterwarnings("ignore:`nn.functional.upsample:UserWarning")  # the deprecated wrappers are tested
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_plans_what_torch_computes(name: str) -> None:
    fn, shape = OPERATIONS[name]
    assert_plan_is_torch(Fn(fn), shape)


def test_in_place_methods_are_planned_as_their_operation() -> None:
    plan = convcalc.plan(Fn(OPERATIONS["in_place"][0]), X4)
    assert rows(plan) == [("mul_", "mul", X4), ("relu_", "relu", X4), ("add_", "add", X4)]


def test_math_functions_run_on_concrete_sizes() -> None:
    plan = convcalc.plan(Fn(OPERATIONS["math_on_sizes"][0]), X4)
    assert [r.kind for r in plan.rows] == ["truediv"]  # math.sqrt(6) is a number, not a row


def test_max_with_dim_gives_values_and_indices_rows() -> None:
    plan = convcalc.plan(Fn(OPERATIONS["max_indices"][0]), X4)
    assert rows(plan) == [("max_1", "max", (2, 6, 10))]


def test_a_module_with_a_function_attribute_is_keyed_by_that_function() -> None:
    # a function attribute counts by identity: two modules holding different functions never trace alike,
    # two holding the same one share a trace
    same = lambda m, x: x  # noqa: E731
    assert _trace_key(Fn(same)) == _trace_key(Fn(same))
    assert _trace_key(Fn(same)) != _trace_key(Fn(lambda m, x: x))
    first, second = Fn(lambda m, x: x + 1), Fn(lambda m, x: x[:, :2])
    model = tnn.Sequential(first, second)
    assert rows(convcalc.plan(model, X4)) == [("0.add", "add", X4), ("1.getitem", "getitem", (2, 2, 8, 10))]


def test_plain_attributes_key_the_trace_cache() -> None:
    class Scaled(tnn.Module):
        def __init__(self, sizes: Any) -> None:
            super().__init__()
            self.sizes = sizes

        def forward(self, x: Any) -> Any:
            return x.view(x.size(0), *self.sizes)

    assert _trace_key(Scaled([6, 80])) != _trace_key(Scaled((6, 80)))  # list and tuple are told apart
    assert _trace_key(Scaled((6, 80))) == _trace_key(Scaled((6, 80)))
    assert _trace_key(Scaled((6, {"h": 80}))) is None
    assert _trace_key(Scaled({"h": 80})) is None
    model = tnn.Sequential(Scaled([480]), Scaled((6, 80)), Scaled((6, 8, 10)))
    plan = assert_plan_is_torch(model, X4)
    assert [r.output_shape for r in plan.rows] == [(2, 480), (2, 6, 80), (2, 6, 8, 10)]


# --------------------------------------------------------------------------- #
# Receptive fields through operations
# --------------------------------------------------------------------------- #


def test_receptive_field_survives_operations_that_leave_the_spatial_axes_alone() -> None:
    conv = tnn.Conv2d(6, 6, 3, padding=1)
    module = Fn(lambda m, x: F.pad(m.conv(x), (1, 1, 2, 0))[:, :3].narrow(1, 0, 2) * 2, conv=conv)
    plan = assert_plan_is_torch(module, X4)
    rf = plan.rows[-1].receptive_field
    assert rf == (ReceptiveField(3, 1, -3), ReceptiveField(3, 1, -2))  # padding moves the window start
    assert plan.row("narrow").receptive_field == rf


def test_receptive_field_is_dropped_where_spatial_axes_are_cut_or_moved() -> None:
    conv = tnn.Conv2d(6, 6, 3)
    cases = {
        "int index on a spatial axis": lambda m, x: m.conv(x)[:, :, 0, :],
        "none after the channels": lambda m, x: m.conv(x)[:, :, None],
        "reduce a spatial axis": lambda m, x: m.conv(x).mean(3),
        "transpose spatial axes": lambda m, x: m.conv(x).transpose(2, 3),
        "unbind a spatial axis": lambda m, x: m.conv(x).unbind(3)[1] * 1,
        "stack inside the tail": lambda m, x: torch.stack([m.conv(x), m.conv(x)], 3),
        "cat on a spatial axis": lambda m, x: torch.cat([m.conv(x), m.conv(x)], 2),
        "view to one axis": lambda m, x: m.conv(x).view(-1),
        # each output reads a whole spatial axis, or the whole map
        "softmax along the width": lambda m, x: F.softmax(m.conv(x), -1),
        "log-softmax along the height": lambda m, x: m.conv(x).log_softmax(2),
        "softmin module along the width": lambda m, x: m.softmin(m.conv(x)),
        "normalize along the height": lambda m, x: F.normalize(m.conv(x), dim=2),
        "a spatial softmax viewed back": lambda m, x: m.conv(x).flatten(2).softmax(-1).view_as(m.conv(x)),
        "a gate expanded over the map": lambda m, x: (
            m.conv(x) * m.conv(x).mean((2, 3), keepdim=True).expand_as(m.conv(x))
        ),
        "a row broadcast over the map": lambda m, x: m.conv(x) + m.conv(x)[:, :, :1].expand_as(m.conv(x)),
        "a kernel computed from the input": lambda m, x: F.conv2d(x, m.conv(x)[:1, :, :3, :3].expand(6, 6, 3, 3)),
    }
    for what, fn in cases.items():
        plan = assert_plan_is_torch(Fn(fn, conv=conv, softmin=tnn.Softmin(3)), X4)
        assert plan.rows[-1].receptive_field is None, what
        if what != "view to one axis":  # (a view of everything ends the spatial axes, as a flatten does)
            assert plan.receptive_field is None, what


def test_receptive_field_is_kept_where_only_leading_axes_change() -> None:
    conv = tnn.Conv2d(6, 6, 3)
    expected = (ReceptiveField(3, 1, 0), ReceptiveField(3, 1, 0))
    cases = {
        "softmax over the channels": lambda m, x: F.softmax(m.conv(x), 1),
        "softmax without a dim (torch picks the channels)": lambda m, x: m.pick(m.conv(x)),
        "Softmax2d": lambda m, x: m.sm2d(m.conv(x)),
        "a fixed kernel computed from a parameter": lambda m, x: F.conv2d(m.conv(x), m.conv.weight[:, :, :1, :1] * 2),
        "split channels": lambda m, x: m.conv(x).split(3, 1)[0] * 1,
        "stack before the tail": lambda m, x: torch.stack([m.conv(x), m.conv(x)], 1)[:, 0],
        "cat channels": lambda m, x: torch.cat([m.conv(x), m.conv(x)], 1),
        "reduce channels": lambda m, x: m.conv(x).sum(1, keepdim=True),
        "int index on the batch": lambda m, x: m.conv(x)[0][None],
        "none before the channels": lambda m, x: m.conv(x)[None][0],
        "unsqueeze a leading axis": lambda m, x: m.conv(x).unsqueeze(0)[0],
    }
    for what, fn in cases.items():
        plan = assert_plan_is_torch(Fn(fn, conv=conv, pick=tnn.Softmax(), sm2d=tnn.Softmax2d()), X4)
        assert plan.rows[-1].receptive_field == expected, what


def test_receptive_fields_of_different_strides_do_not_merge() -> None:
    # a stride-2 map broadcast against the input: the jumps differ, so the sum has no one receptive field
    module = Fn(lambda m, x: m.down(x) + x, down=tnn.Conv2d(6, 6, 2, stride=2))
    plan = assert_plan_is_torch(module, (1, 6, 2, 2))
    assert plan.row("down").receptive_field[0].jump == 2
    assert plan.row("add").receptive_field is None
    same_jump = assert_plan_is_torch(Fn(lambda m, x: m.c(x) + m.c(x)[:, :, :1], c=tnn.Conv2d(6, 6, 1)), X4)
    assert same_jump.row("add").receptive_field is None  # one operand was sliced on a spatial axis


# --------------------------------------------------------------------------- #
# Symbolic sizes
# --------------------------------------------------------------------------- #


def test_symbolic_slices_record_that_they_stay_inside_the_axis() -> None:
    H = convcalc.symbols("H")
    module = Fn(lambda m, x: x[:, :, 1:-1, 2:5])
    plan = convcalc.plan(module, (1, 3, H, 8))
    assert plan.output_shape == (1, 3, H - 2, 3)
    for h in (3, 6, 9):
        assert tuple(module(torch.zeros(1, 3, h, 8)).shape) == (1, 3, h - 2, 3)
    stop = convcalc.plan(Fn(lambda m, x: x[:, :, 2:6]), (1, 3, H, 8))
    assert stop.output_shape == (1, 3, sympy.Min(6, H) - 2, 8)  # torch clamps the stop to the axis
    (constraint,) = stop.constraints
    assert (constraint.layer, constraint.kind) == ("getitem", ">=")
    assert [h for h in range(1, 9) if constraint.holds(h)] == [2, 3, 4, 5, 6, 7, 8]  # the start inside the axis
    for h in range(2, 9):
        assert tuple(Fn(lambda m, x: x[:, :, 2:6])(torch.zeros(1, 3, h, 8)).shape)[2] == stop.output_shape[2].subs(H, h)
    stepped = convcalc.plan(Fn(lambda m, x: x[:, :, 1::2]), (1, 3, H, 8))
    for h in (2, 5, 8):
        assert stepped.output_shape[2].subs(H, h) == len(range(h)[1::2])


def test_symbolic_reshape_divides_exactly_or_says_why_not() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(Fn(lambda m, x: x.view(x.size(0), 3, -1)), (2, 6, H, 4))
    assert plan.output_shape == (2, 3, 8 * H)
    with pytest.raises(
        ShapeError,
        match=r"^view \(view\): shape \(1, -1, 2\) is invalid for an input of "
        r"2\*H \+ 1 elements \(1 x 1 x 2\*H \+ 1\)",
    ):
        convcalc.plan(Fn(lambda m, x: x.view(1, -1, 2)), (1, 1, 2 * H + 1))
    torch_rejects(lambda m, x: x.view(1, -1, 2), (1, 1, 7))


def test_symbolic_sizes_through_pooling_unshuffle_and_interpolate() -> None:
    H, W = convcalc.symbols("H W")
    module = Fn(lambda m, x: F.interpolate(F.pixel_unshuffle(x, 2), size=x.shape[-2:]))
    plan = convcalc.plan(module, (1, 3, 2 * H, 2 * W))
    assert plan.output_shape == (1, 12, 2 * H, 2 * W)
    assert rows(convcalc.plan(module, (1, 3, 8, 6))) == [
        ("pixel_unshuffle", "pixel_unshuffle", (1, 12, 4, 3)),
        ("interpolate", "interpolate", (1, 12, 8, 6)),
    ]
    assert_plan_is_torch(module, (1, 3, 8, 6))
    strict = convcalc.plan(Fn(lambda m, x: F.pixel_unshuffle(x, 2)), (1, 3, H, 8), strict=True)
    assert [(c.kind, c.value) for c in strict.constraints] == [("divides", 2)]


def test_symbolic_interpolate_size_must_fit_the_mode() -> None:
    H = convcalc.symbols("H")
    bad = Fn(lambda m, x: F.interpolate(x.flatten(2), size=x.shape[-2:], mode="bilinear"))
    with pytest.raises(
        ShapeError,
        match=r"^interpolate \(interpolate\): mode='bilinear' needs 4-D input, got 3-D\. "
        r"Received: input_shape=\(1, 3, 8\*H\)$",
    ):
        convcalc.plan(bad, (1, 3, H, 8))
    with pytest.raises(ShapeError, match=r"^interpolate \(interpolate\): mode='bilinear' needs 4-D input, got 3-D"):
        convcalc.plan(bad, (1, 3, 5, 8))  # the message of a number
    torch_rejects(bad.fn, (1, 3, 5, 8))
    one = convcalc.plan(Fn(lambda m, x: F.interpolate(x.flatten(2), size=x.size(2))), (1, 3, H, 8))
    assert one.output_shape == (1, 3, H)


def test_sizes_that_cannot_be_split_or_computed_symbolically() -> None:
    H = convcalc.symbols("H")
    with pytest.raises(
        ShapeError,
        match=r"^split \(split\): cannot split along axis 2, whose size H depends on "
        r"the input",
    ):
        convcalc.plan(Fn(lambda m, x: x.split(2, 2)[0]), (1, 3, H, 8))
    with pytest.raises(
        SpecError,
        match=r"^sqrt \(math\.sqrt\): convcalc follows math functions of concrete numbers "
        r"only \(and math\.ceil, math\.floor of sizes\)\. Received: arguments=\(H,\)$",
    ):
        convcalc.plan(Fn(lambda m, x: x / math.sqrt(x.size(2))), (1, 3, H, 8))


def test_symbolic_broadcast_and_concatenation_checks() -> None:
    H = convcalc.symbols("H")
    # H against 2H can never be equal: an error, not a constraint
    with pytest.raises(
        ShapeError,
        match=r"^cat \(cat\): tensor 1 has shape \(1, 3, 2\*H, 8\) but tensor 0 has "
        r"\(1, 3, H, 8\); all dims except dim=1 must match",
    ):
        convcalc.plan(Fn(lambda m, x: torch.cat([x, F.interpolate(x, scale_factor=(2, 1))], 1)), (1, 3, H, 8))
    ok = convcalc.plan(Fn(lambda m, x: torch.cat([x, x[:, :1]], 1) + x.sum(1, keepdim=True)), (1, 3, H, 8))
    assert ok.output_shape == (1, 4, H, 8)
    assert ok.constraints == ()
    # sizes that are equal for some H only become a constraint
    half = convcalc.plan(Fn(lambda m, x: x[:, :, :4, :8] + F.max_pool2d(x, 2)[:, :, :, :8]), (1, 3, H, 16))
    (constraint,) = [c for c in half.constraints if c.layer == "add"]
    assert constraint.kind == "=="
    assert [h for h in range(1, 20) if constraint.holds(h) and h >= 8] == [8, 9]


def test_symbolic_sizes_that_end_up_constant_or_fractional() -> None:
    H = convcalc.symbols("H")
    tail = Fn(lambda m, x: x[:, :, -3:] + x[:, :, :3])  # 3 rows from H = 3 on, H below: torch clamps both
    plan = convcalc.plan(tail, (1, 3, H, 8))
    for h in range(1, 7):
        assert plan.output_shape[2].subs(H, h) == min(h, 3) == tuple(tail(torch.zeros(1, 3, h, 8)).shape)[2]
    assert_plan_is_torch(tail, (1, 3, 5, 8))
    scaled = Fn(lambda m, x: x * (x.size(2) * 0.5))  # a factor, not a size
    assert convcalc.plan(scaled, (1, 3, H, 8)).output_shape == (1, 3, H, 8)
    assert_plan_is_torch(scaled, (1, 3, 5, 8))


def test_symbolic_matmul_inner_sizes() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(Fn(lambda m, x: x.transpose(-1, -2) @ x), (1, 3, H, 8))
    assert plan.output_shape == (1, 3, 8, 8)
    square = convcalc.plan(Fn(lambda m, x: x @ x), (1, 3, H, 8))  # fits for H = 8 only
    (constraint,) = square.constraints
    assert (constraint.layer, constraint.kind) == ("matmul", "==")
    assert [h for h in range(1, 20) if constraint.holds(h)] == [8]
    with pytest.raises(ShapeError, match=r"^matmul \(matmul\): the inner sizes differ \(H vs H \+ 1\)"):
        convcalc.plan(Fn(lambda m, x: x.transpose(-1, -2) @ F.pad(x, (0, 0, 0, 1))), (1, 3, H, 8))


def test_reshape_of_a_symbolic_product() -> None:
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(
        Fn(lambda m, x: x.flatten(2).transpose(1, 2).reshape(x.size(0), x.size(2), x.size(3), -1)), (1, 3, H, W)
    )
    assert plan.output_shape == (1, H, W, 3)
    numel = convcalc.plan(Fn(lambda m, x: x.view(x.numel())), (1, 3, H, W))
    assert numel.output_shape == (3 * H * W,)


# --------------------------------------------------------------------------- #
# Errors of the operations: convcalc's message, and torch refusing too
# --------------------------------------------------------------------------- #

OPERATION_ERRORS: list[tuple[str, Any, tuple[int, ...], type[Exception], str, bool]] = [
    # name, forward, input, convcalc's error, message (regex), torch rejects too
    (
        "unsqueeze float dim",
        lambda m, x: x.unsqueeze(1.5),
        X4,
        SpecError,
        r"^unsqueeze \(unsqueeze\): dim must be an int\. Received: dim=1\.5$",
        True,
    ),
    (
        "unsqueeze out of range",
        lambda m, x: x.unsqueeze(6),
        X4,
        ShapeError,
        r"^unsqueeze \(unsqueeze\): dim=6 is out of range for a 5-D input \(2, 6, 8, 10\)",
        True,
    ),
    (
        "flatten too many args",
        lambda m, x: x.flatten(1, 2, 3),
        X4,
        SpecError,
        r"^flatten \(flatten\): takes at most 3 arguments here\. Received: arguments=4$",
        True,
    ),
    (
        "narrow missing length",
        lambda m, x: x.narrow(1, 0),
        X4,
        SpecError,
        r"^narrow \(narrow\): needs the argument 'length'\. Received: arguments=3$",
        True,
    ),
    (
        "cat of a size",
        lambda m, x: torch.cat([x, x.size(0)]),
        X4,
        SpecError,
        r"^cat \(cat\): expects a tensor\. Received: argument='a size \(\d+\)'$",
        True,
    ),
    (
        "logical_and of sizes",
        lambda m, x: x + torch.logical_and(x.size(0), x.size(1)),
        X4,
        SpecError,
        r"^logical_and \(logical_and\): cannot follow this operation on non-tensors\. Received: arguments=\(2, 6\)$",
        True,
    ),
    (
        "size plus None",
        lambda m, x: x + (x.size(0) + None),
        X4,
        SpecError,
        r"^add \(add\): cannot follow this arithmetic on sizes\. Received: arguments=\(2, None\)$",
        True,
    ),
    (
        "3-D broadcast",
        lambda m, x: x.flatten(2) + x.flatten(2)[:, :, :7],
        X4,
        ShapeError,
        r"^add \(add\): the operands have shapes \(2, 6, 80\) and \(2, 6, 7\), which do not broadcast \(axis 2: sizes "
        r"must be equal or 1\)\. Received: input_shape=\(2, 6, 80\)$",
        True,
    ),
    (
        "4-D mul broadcast",
        lambda m, x: x * x[:, :, :3],
        X4,
        ShapeError,
        r"^mul \(mul\): the operands have shapes \(2, 6, 8, 10\) and \(2, 6, 3, 10\), which do not broadcast "
        r"\(axis 2: sizes must be equal or 1\)",
        True,
    ),
    (
        "sub with other sizes",
        lambda m, x: x - x[:, :, :6, :6],
        X4,
        ShapeError,
        r"^sub \(sub\): .*: the sizes differ \(8 x 10 vs 6 x 6\); no 1 x 1 projection takes 8 x 10 to 6 x 6 or back: "
        r"crop or pad one branch to the other's size .*\. Received:",
        True,
    ),
    (
        "sub of a strided shortcut",
        lambda m, x: x - x[:, :, ::2, ::2],
        X4,
        ShapeError,
        r"^sub \(sub\): .*: the sizes differ \(8 x 10 vs 4 x 5\); give the shortcut a projection such as "
        r"Conv2d\(6, 6, kernel_size=1, stride=2\)\. Received:",
        True,
    ),
    (
        "add with other channels",
        lambda m, x: x[:, :2] + x,
        X4,
        ShapeError,
        r"^add \(add\): .*: the channels differ \(2 vs 6\); give the shortcut a projection such as "
        r"Conv2d\(2, 6, kernel_size=1\)\. Received:",
        True,
    ),
    (
        "matmul of a vector",
        lambda m, x: x.flatten() @ x,
        X4,
        ShapeError,
        r"^matmul \(matmul\): the inner sizes differ \(960 vs 8\)\. Received: shapes=\(\(960,\), \(2, 6, 8, 10\)\)$",
        True,
    ),
    (
        "matmul inner sizes",
        lambda m, x: x @ x,
        X4,
        ShapeError,
        r"^matmul \(matmul\): the inner sizes differ \(10 vs 8\)\. Network inputs that fit every layer: use an input "
        r"of 10 instead of 8 on that axis\. Received: shapes=\(\(2, 6, 8, 10\), \(2, 6, 8, 10\)\)$",
        True,
    ),
    (
        "logsumexp without dim",
        lambda m, x: x.logsumexp(),
        X4,
        SpecError,
        r"^logsumexp \(logsumexp\): needs dim\. Received: dim=None$",
        True,
    ),
    (
        "getattr on a tuple",
        lambda m, x: x.shape.foo,
        X4,
        SpecError,
        r"^getattr_\d \(getattr\): a tuple of 4 has no attribute 'foo'\. Received: attribute='foo'$",
        True,
    ),
    (
        "index a tuple",
        lambda m, x: x.view(x.shape[7]),
        X4,
        SpecError,
        r"^getitem \(getitem\): cannot index a tuple of 4 \(tuple index out of range\)\. Received: index=7$",
        True,
    ),
    (
        "too many indices",
        lambda m, x: x[0, 0, 0, 0, 0],
        X4,
        ShapeError,
        r"^getitem \(getitem\): too many indices \(5\) for a 4-D tensor\. Received: input_shape=\(2, 6, 8, 10\)$",
        True,
    ),
    (
        "mask index",
        lambda m, x: x[x > 0],
        X4,
        SpecError,
        r"^getitem \(getitem\): convcalc follows indexing with ints, slices, None, \.\.\., lists of ints and integer "
        r"tensors \(a mask's count of True is data\)\. Received: "
        r"index='a tensor of shape \(2, 6, 8, 10\)'$",
        False,
    ),
    (
        "zero step",
        lambda m, x: x[:, ::0],
        X4,
        SpecError,
        r"^getitem \(getitem\): slices need a positive int step\. Received: step=0$",
        True,
    ),
    (
        "two inferred dims",
        lambda m, x: x.view(-1, -1),
        X4,
        SpecError,
        r"^view \(view\): only one dimension can be inferred \(-1\)\. Received: shape=\(-1, -1\)$",
        True,
    ),
    (
        "view of other numel",
        lambda m, x: x.view(2, 3, 5),
        X4,
        ShapeError,
        r"^view \(view\): shape \(2, 3, 5\) is invalid for an input of 960 elements\. "
        r"Received: input_shape=\(2, 6, 8, 10\)$",
        True,
    ),
    (
        "view with a zero",
        lambda m, x: x.view(0, -1),
        X4,
        ShapeError,
        r"^view \(view\): shape \(0, -1\) is invalid for an input of 960 elements \(2 x 6 x 8 x 10\)",
        True,
    ),
    (
        "flatten start after end",
        lambda m, x: torch.flatten(x, 3, 1),
        X4,
        ShapeError,
        r"^flatten \(Flatten\): start_dim=3 comes after end_dim=1\.",
        True,
    ),
    (
        "flatten float dim",
        lambda m, x: x.flatten(1.5),
        X4,
        SpecError,
        r"^flatten \(flatten\): start_dim must be an integer\. Received: start_dim=1\.5$",
        True,
    ),
    (
        "permute repeats a dim",
        lambda m, x: x.permute(0, 1, 1, 2),
        X4,
        ShapeError,
        r"^permute \(permute\): permute needs each of the 4 dims once, got \(0, 1, 1, 2\)",
        True,
    ),
    (
        "expand too few sizes",
        lambda m, x: x.expand(4, 4),
        X4,
        ShapeError,
        r"^expand \(expand\): needs at least 4 sizes, got \(4, 4\)",
        True,
    ),
    (
        "expand_as a smaller tensor",
        lambda m, x: x.expand_as(x[:, :2]),
        X4,
        ShapeError,
        r"^expand_as \(expand_as\): the operands have shapes",
        True,
    ),
    (
        "chunk zero",
        lambda m, x: x.chunk(0, 1)[0],
        X4,
        SpecError,
        r"^chunk \(chunk\): chunks must be a positive int\. Received: chunks=0$",
        True,
    ),
    (
        "split sections",
        lambda m, x: x.split([1, 2], 1)[0],
        X4,
        ShapeError,
        r"^split \(split\): split sizes \(1, 2\) add up to 3, not the axis size 6",
        True,
    ),
    (
        "split size zero",
        lambda m, x: x.split(0, 1)[0],
        X4,
        SpecError,
        r"^split \(split\): split_size must be a positive int\. Received: split_size=0$",
        True,
    ),
    (
        "cat of nothing",
        lambda m, x: torch.cat(x.split(3, 1)[:0], 1),
        X4,
        SpecError,
        r"^cat \(cat\): needs at least one tensor\. Received: tensors=\(\)$",
        True,
    ),
    (
        "cat of other ranks",
        lambda m, x: torch.cat([x, x.flatten(2)], 1),
        X4,
        ShapeError,
        r"^cat \(cat\): tensor 1 has 3 dims but tensor 0 has 4\. Received: input_shape=\(2, 6, 8, 10\)$",
        True,
    ),
    (
        "pad of odd length",
        lambda m, x: F.pad(x, (1, 2, 3)),
        X4,
        SpecError,
        r"^pad \(pad\): pad needs pairs \(left, right\) for at most 4 dims\. Received: pad=\(1, 2, 3\)$",
        True,
    ),
    (
        "pad to less than nothing",
        lambda m, x: F.pad(x, (-6, -6)),
        X4,
        ShapeError,
        r"^pad \(pad\): padding leaves a size of -2 on dim 3\. Received: input_shape=\(2, 6, 8, 10\)",
        True,
    ),
    (
        "interpolate with both",
        lambda m, x: F.interpolate(x, size=4, scale_factor=2),
        X4,
        SpecError,
        r"^interpolate \(interpolate\): give exactly one of size and scale_factor\. Received: size=4, "
        r"scale_factor=2$",
        True,
    ),
    (
        "interpolate bad mode",
        lambda m, x: F.interpolate(x, scale_factor=2, mode="cubic"),
        X4,
        SpecError,
        r"^interpolate \(interpolate\): mode must be one of",
        True,
    ),
    (
        "pixel_shuffle zero",
        lambda m, x: F.pixel_shuffle(x, 0),
        X4,
        SpecError,
        r"^pixel_shuffle \(pixel_shuffle\): the factor must be a positive int\. Received: factor=0$",
        True,
    ),
    (
        "pixel_shuffle of 2-D",
        lambda m, x: F.pixel_shuffle(x.flatten(1), 2),
        X4,
        ShapeError,
        r"^pixel_shuffle \(pixel_shuffle\): needs at least 3 dims \(C, H, W\)\. Received: input_shape=\(2, 480\)$",
        True,
    ),
    (
        "pixel_shuffle channels",
        lambda m, x: F.pixel_shuffle(x, 2),
        X4,
        ShapeError,
        r"^pixel_shuffle \(pixel_shuffle\): 6 channels are not divisible by upscale_factor\*\*2 = 4\.",
        True,
    ),
    (
        "pixel_unshuffle size",
        lambda m, x: F.pixel_unshuffle(x, 3),
        X4,
        ShapeError,
        r"^pixel_unshuffle \(pixel_unshuffle\): size 8 is not divisible by downscale_factor=3: use a size of 6 or 9\.",
        True,
    ),
    (
        "max_pool too much padding",
        lambda m, x: F.max_pool2d(x, 3, padding=2),
        X4,
        SpecError,
        r"^max_pool2d \(max_pool2d\): padding=2 is more than half of kernel_size=3",
        True,
    ),
]


@pytest.mark.parametrize(
    ("name", "fn", "shape", "error", "message", "torch_too"),
    OPERATION_ERRORS,
    ids=[case[0] for case in OPERATION_ERRORS],
)
def test_operation_errors(
    name: str, fn: Any, shape: tuple[int, ...], error: type[Exception], message: str, torch_too: bool
) -> None:
    with pytest.raises(error, match=message):
        convcalc.plan(Fn(fn), shape)
    if torch_too:
        torch_rejects(fn, shape)


UNFOLLOWED = [
    ("a tensor method", lambda m, x: x.cummax(1)[0], "the tensor method .cummax()", "Tensor.cummax"),
    (
        "a torch function",
        lambda m, x: torch.searchsorted(torch.zeros(3), x),
        "torch.searchsorted",
        "torch.searchsorted",
    ),
    ("a function from elsewhere", lambda m, x: torch.special.expit(x), "special_expit", "special_expit"),
]


@pytest.mark.parametrize(("name", "fn", "what", "op"), UNFOLLOWED, ids=[case[0] for case in UNFOLLOWED])
def test_operations_without_a_rule_are_planned_by_torch_shape_machinery(name: str, fn: Any, what: str, op: str) -> None:
    """An operation convcalc has no rule for sends its module through the meta pass: torch's shapes, marked."""
    module = tnn.Sequential(OrderedDict(body=Fn(fn)))
    plan = convcalc.plan(module, X4)
    assert plan.output_shape == tuple(module(torch.zeros(X4)).shape)
    assert plan.rows
    assert all(r.source == "torch" for r in plan.rows)
    assert plan.macs == 0  # element-wise: no multiply-accumulates in the default convention
    with pytest.raises(SpecError, match=re.escape(f"convcalc cannot follow {what} in its forward")):
        convcalc.plan(module, (1, 6, convcalc.symbols("H"), 10))  # a symbolic size cannot go through torch


def test_a_dict_passed_to_a_child_is_planned_by_torch_shape_machinery() -> None:
    """fx cannot follow a dict argument, torch can: the module is planned through the meta pass, marked so."""
    module = Fn(lambda m, x: m.c({"a": x}), c=tnn.Identity())
    out = module(torch.zeros(X4))
    plan = convcalc.plan(module, X4)
    assert plan.output_shapes == {"a": tuple(out["a"].shape)}
    assert [(r.name, r.source) for r in plan.rows] == [("c", "torch")]


# --------------------------------------------------------------------------- #
# Graphs: forward signatures, outputs, children and attributes
# --------------------------------------------------------------------------- #


class WithDefault(tnn.Module):
    def forward(self, x: Any, scale: int = 2) -> Any:
        return F.interpolate(x, scale_factor=scale)


class Pair(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(6, 6, 1)

    def forward(self, x: Any) -> Any:
        return self.conv(x), x.sum(1)


class UsesPair(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair()

    def forward(self, x: Any) -> Any:
        a, b = self.pair(x)
        return a * b.unsqueeze(1)


def test_a_forward_argument_with_a_default_takes_the_default() -> None:
    plan = assert_plan_is_torch(WithDefault(), (1, 3, 4, 5))
    assert plan.output_shape == (1, 3, 8, 10)
    assert "forward(x, scale)" in repr(tb.from_torch(WithDefault()))
    module = tb.to_torch(tb.from_torch(WithDefault()))
    assert tuple(module(torch.zeros(1, 3, 4, 5)).shape) == (1, 3, 8, 10)  # TracedGraph uses the default too


def test_a_child_returning_a_tuple_is_unpacked_by_the_parent() -> None:
    plan = assert_plan_is_torch(UsesPair(), X4)
    assert [r.name for r in plan.rows] == ["pair.conv", "pair.sum_1", "unsqueeze", "mul"]
    # listed as torchinfo lists a module returning a tuple: with its first tensor
    assert [(g.path, g.output_shape) for g in plan.groups] == [("pair", plan.row("pair.conv").output_shape)]
    report = convcalc.verify(UsesPair(), X4, device="cpu")
    assert report.ok, str(report)
    assert [r.name for r in report.rows if r.match] == ["pair.conv"]


def test_a_forward_that_returns_several_tensors_gives_every_shape() -> None:
    outputs = Pair().eval()(torch.zeros(X4))
    plan = convcalc.plan(Pair(), X4)
    assert plan.output_shapes == tuple(tuple(o.shape) for o in outputs)
    assert plan.output_shape == tuple(outputs[0].shape)
    with pytest.raises(
        SpecError, match=r"^<model> \(Fn\): forward returns a size \(\d+\), which holds no tensor convcalc can plan"
    ):
        convcalc.plan(Fn(lambda m, x: x.size(1)), X4)


def test_a_tuple_through_a_sequential_that_torch_refuses_names_what_came() -> None:
    module = Fn(lambda m, x: m.seq((x, x)), seq=tnn.Sequential(tnn.ReLU()))
    with pytest.raises(
        SpecError, match=r"^seq\.0 \(ReLU\): is called with 1 argument \(a tuple of 2\); a ReLU takes one"
    ):
        convcalc.plan(module, X4)
    torch_rejects(lambda m, x: module(x), X4)


def test_a_child_called_with_two_tensors_is_refused() -> None:
    module = Fn(lambda m, x: m.act(x, x), act=tnn.ReLU())
    with pytest.raises(
        SpecError,
        match=r"^act \(ReLU\): is called with 2 arguments \(a tensor of shape \(2, 6, 8, 10\), a tensor of shape "
        r"\(2, 6, 8, 10\)\); a ReLU takes one tensor\. Received: arguments=\(a tensor of shape .*\)$",
    ):
        convcalc.plan(module, X4)
    torch_rejects(lambda m, x: module(x), X4)


def test_attributes_read_in_forward() -> None:
    class Attrs(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = tnn.Conv2d(6, 6, 3, padding=1)
            self.gamma = tnn.Parameter(torch.ones(1, 6, 1, 1))
            self.frozen = tnn.Parameter(torch.ones(6, 1, 1), requires_grad=False)
            self.register_buffer("mask", torch.ones(1, 1, 8, 10))
            self.table = torch.ones(10)  # a plain tensor attribute: neither parameter nor buffer

        def forward(self, x: Any) -> Any:
            y = self.conv(x) * self.gamma + self.frozen
            y = y * self.mask * self.table + self.conv.bias.view(1, -1, 1, 1)
            return y * self.gamma

    module = Attrs()
    plan = assert_plan_is_torch(module, X4)
    assert [
        (r.name, r.kind, r.trainable, r.non_trainable, r.buffers)
        for r in plan.rows
        if r.kind in ("Parameter", "Buffer")
    ] == [("gamma", "Parameter", 6, 0, 0), ("frozen", "Parameter", 0, 6, 0), ("mask", "Buffer", 0, 0, 80)]
    assert plan.total_params == sum(p.numel() for p in module.parameters())  # conv.bias and gamma counted once
    spec = tb.from_torch(module)
    assert {a.target: a.category for a in spec.attrs} == {
        "gamma": "parameter",
        "frozen": "parameter",
        "mask": "buffer",
        "table": "constant",
        "conv.bias": "parameter",
    }
    text = repr(spec)
    assert "gamma = self.gamma" in text
    assert "conv_bias = self.conv.bias" in text
    assert "view = conv_bias.view(1, -1, 1, 1)" in text
    rebuilt = tb.to_torch(spec)
    assert isinstance(rebuilt, tb.TracedGraph)
    assert repr(rebuilt).startswith("TracedGraph(\n  traced Attrs")
    assert dict(rebuilt.named_buffers()).keys() == {"mask", "table"}
    assert not rebuilt.frozen.requires_grad
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in module.parameters())
    assert tuple(rebuilt(torch.zeros(X4)).shape) == X4


class Nested(tnn.Module):
    """Calls a child and, directly, that child's own child: one conv reached by two paths."""

    def __init__(self) -> None:
        super().__init__()
        self.block = tnn.Sequential(tnn.Conv2d(6, 6, 3, padding=1), tnn.ReLU())

    def forward(self, x: Any) -> Any:
        return self.block(x) + self.block[0](x)


def test_a_graph_calling_a_child_and_its_grandchild_rebuilds_both_once() -> None:
    module = Nested()
    plan = convcalc.plan(module, X4)
    assert rows(plan) == [
        ("block.0", "Conv2d", X4),
        ("block.1", "ReLU", X4),
        ("block.0", "Conv2d", X4),
        ("add", "add", X4),
    ]
    rebuilt = tb.to_torch(tb.from_torch(module))
    assert [name for name, _ in rebuilt.named_modules()] == ["", "block", "block.0", "block.1"]
    assert sum(p.numel() for p in rebuilt.parameters()) == 6 * 6 * 9 + 6
    assert tuple(rebuilt(torch.zeros(X4)).shape) == X4


def test_a_module_reached_by_two_paths_owns_its_parameters_once() -> None:
    """BUG: the second call reaches block.0 by another fx target ('block.0' after 'block'), so its 330
    parameters are counted twice (plan total 660, torch 330)."""
    plan = convcalc.plan(Nested(), X4)
    assert [r.params for r in plan.rows] == [330, 0, 0, 0]
    assert plan.total_params == sum(p.numel() for p in Nested().parameters()) == 330
    assert convcalc.verify(Nested(), X4, device="cpu").ok  # torch shows block.0's parameters on its first call


def test_a_module_shared_by_two_attributes_is_one_target() -> None:
    conv = tnn.Conv2d(6, 6, 1)
    module = Fn(lambda m, x: m.b(m.a(x)), a=conv, b=conv)
    spec = tb.from_torch(module)
    assert isinstance(spec, tb.Graph)  # torch.fx names both calls 'a': not a chain of distinct children
    assert [n.target for n in spec.nodes if n.op == "call_module"] == ["a", "a"]
    plan = assert_plan_is_torch(module, X4)
    assert [(r.name, r.params) for r in plan.rows] == [("a", 42), ("a", 0)]  # torch counts shared weights once


def test_graph_spec_protocol() -> None:
    spec = tb.from_torch(UsesPair())
    assert isinstance(spec, tb.Graph)
    assert spec.kind == "UsesPair"
    assert [name for name, _ in spec.children()] == ["pair"]
    assert hash(spec) == hash(tb.from_torch(UsesPair()))
    assert spec == tb.from_torch(UsesPair())
    assert len({spec, tb.from_torch(UsesPair())}) == 1
    assert tb.Elementwise("ELU").kind == "ELU"
    with pytest.raises(AttributeError, match=r"module 'convcalc.torch_bridge' has no attribute 'Nope'"):
        _ = tb.Nope


def test_graph_repr_shows_tuples_and_methods() -> None:
    module = Fn(lambda m, x: torch.cat((x[0:1, 1:3], x[0:1, 2:4]), 1).view(x.size(0), -1)[None])
    text = repr(tb.from_torch(module))
    assert "getitem = getitem(x, (0:1, 1:3))" in text
    assert "cat = cat((getitem, getitem_1), 1)" in text
    assert "size = x.size(0)" in text
    assert "view = cat.view(size, -1)" in text
    assert "getitem_2 = getitem(view, None)" in text
    assert "return getitem_2" in text
    one = repr(tb.from_torch(Fn(lambda m, x: torch.cat((x,), 1))))
    assert "cat = cat((x,), 1)" in one


def test_graph_repr_writes_slices_as_python_does() -> None:
    """BUG: _node_repr strips every trailing ':' so x[:, 1:] reads '(, 1)' - a full slice vanishes and an open
    slice looks like an int index."""
    text = repr(tb.from_torch(Fn(lambda m, x: x[:, 1:3, ::2] + x[:, 1:, :4:1][:, :2, ::2])))
    assert "getitem = getitem(x, (:, 1:3, ::2))" in text
    assert "getitem_1 = getitem(x, (:, 1:, :4:1))" in text


def test_node_repr_of_an_empty_output() -> None:
    assert _node_repr(tb.Node("output", "output", "output")) == "return None"


# --------------------------------------------------------------------------- #
# Reading torch modules
# --------------------------------------------------------------------------- #


def test_sequential_subclass_with_an_untraceable_forward_is_not_read_as_its_chain() -> None:
    """Only Sequential.forward runs the chain a Sequential holds: a subclass's own forward that fx cannot trace
    goes to torch's machinery, which here cannot decide a branch on the input's values either, so it is refused
    by name (it was read as the chain, a guess that a forward doing more than the chain would have made wrong)."""

    class Checked(tnn.Sequential):
        def forward(self, x: Any) -> Any:
            if x.sum() > 1e9:  # data-dependent: torch.fx cannot trace it, nor a meta tensor decide it
                raise ValueError("too large")
            return super().forward(x)

    module = Checked(tnn.Conv2d(6, 4, 3), tnn.ReLU())
    assert not isinstance(tb.from_torch(module), nn.Sequential)
    assert tuple(module(torch.zeros(X4)).shape) == (2, 4, 6, 8)
    refusal = r"^<model> \(Checked\): its forward branches on a tensor's values .*convcalc\.register\(Checked"
    with pytest.raises(SpecError, match=refusal):
        convcalc.plan(module, X4)
    report = convcalc.verify(module, X4, device="cpu")
    assert not report.ok
    assert "convcalc rejects at <model>" in str(report)


def test_a_torch_layer_convcalc_rejects_names_its_path() -> None:
    model = tnn.Sequential(OrderedDict(pool=tnn.MaxPool2d(3, padding=2)))  # torch accepts it until the forward
    with pytest.raises(SpecError, match=r"^pool \(MaxPool2d\): padding=2 is more than half of kernel_size=3"):
        tb.from_torch(model)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        model(torch.zeros(X4))


def test_shape_keeping_layers_keep_their_arguments_and_parameter_split() -> None:
    prelu = tnn.PReLU(6)
    prelu.weight.requires_grad_(False)
    module = tnn.Sequential(prelu, tnn.RMSNorm((8, 10)), tnn.LocalResponseNorm(3, alpha=0.5))
    spec = tb.from_torch(module)
    # convcalc.nn has these layers: read as them, with the torch module's arguments
    assert spec["0"] == nn.PReLU(6)
    assert spec["1"].normalized_shape == (8, 10)
    assert spec["2"].alpha == 0.5
    plan = assert_plan_is_torch(module, X4)
    assert plan.row("0").non_trainable == 6
    assert plan.row("1").trainable == 80
    rebuilt = tb.to_torch(spec)
    assert rebuilt[1].normalized_shape == (8, 10)
    assert rebuilt[2].alpha == 0.5


def test_a_rule_raising_a_convcalc_error_passes_it_through(monkeypatch: pytest.MonkeyPatch) -> None:
    class Custom(tnn.Module):
        def forward(self, x: Any) -> Any:
            return x

    def rule(module: Any) -> Any:
        return nn.Conv2d(0, 4, 3)  # the rule's own mistake, reported as convcalc reports it

    monkeypatch.setitem(_RULES, Custom, rule)
    with pytest.raises(SpecError, match=r"^in_channels must be at least 1\. Received: in_channels=0$"):
        tb.from_torch(Custom())


def test_to_torch_reports_torch_rejecting_a_user_spec() -> None:
    @dataclass(frozen=True)
    class Bilinear(nn.Module):  # a user's spec that happens to share a torch.nn class name
        size: int

        def _plan(self, flow: Any, ctx: Any, path: str) -> Any:
            return flow

    with pytest.raises(
        SpecError,
        match=r"^head\.0 \(Bilinear\): torch\.nn\.Bilinear rejects these arguments "
        r"\(TypeError: .*unexpected keyword argument 'size'\)\. Received: size=3$",
    ):
        tb.to_torch(nn.Sequential(OrderedDict(head=nn.Sequential(Bilinear(3)))))


def test_concat_on_a_spatial_axis_with_crop_keeps_that_axis_whole() -> None:
    spec = nn.Concat(nn.Conv2d(2, 2, 3), nn.Identity(), dim=2, crop=True)
    module = tb.to_torch(spec)
    assert repr(module).startswith("ConcatBranches(")
    assert "dim=2, crop=True" in repr(module)
    with torch.no_grad():
        out = module(torch.zeros(1, 2, 7, 9))
    assert tuple(out.shape) == convcalc.plan(spec, (1, 2, 7, 9)).output_shape == (1, 2, 12, 7)
    assert type(pickle.loads(pickle.dumps(module))) is tb.ConcatBranches


def test_add_branches_refuses_a_broadcast() -> None:
    module = tb.to_torch(nn.Add(nn.Conv2d(2, 2, 1), nn.AdaptiveAvgPool2d(1)))
    with pytest.raises(RuntimeError, match=r"^Add: branch 1 gives \(1, 2, 1, 1\) but branch 0 gives \(1, 2, 4, 4\)$"):
        module(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ShapeError):
        convcalc.plan(nn.Add(nn.Conv2d(2, 2, 1), nn.AdaptiveAvgPool2d(1)), (1, 2, 4, 4))


# --------------------------------------------------------------------------- #
# verify
# --------------------------------------------------------------------------- #


def test_verify_on_an_unknown_device_is_a_spec_error() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(
        SpecError,
        match=r"^verify\(\) cannot use device 'nope' \(RuntimeError: .*\); use 'cpu', or "
        r"'cuda' where torch.cuda.is_available\(\)\. Received: device='nope'$",
    ):
        convcalc.verify(model, (1, 1, 5, 5), device="nope")


def test_verify_on_another_device_moves_a_copy() -> None:
    module = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(18, 3))
    report = convcalc.verify(module, (2, 1, 5, 5), device="meta")  # shapes without data
    assert report.ok, str(report)
    assert report.device == "meta"
    assert [r.actual_shape for r in report.rows] == [(2, 2, 3, 3), (2, 2, 3, 3), (2, 18), (2, 3)]
    assert next(module.parameters()).device.type == "cpu"  # the caller's module stays where it was


def test_verify_of_a_root_layer_matches_the_whole_module() -> None:
    report = convcalc.verify(nn.Conv2d(3, 4, 3, stride=2), (1, 3, 9, 9), device="cpu")
    assert report.ok
    (row,) = report.rows
    assert (row.name, row.actual_shape, row.actual_params, row.match) == ("Conv2d", (1, 4, 4, 4), 112, True)


def test_verify_when_the_forward_stops_early_leaves_later_rows_unchecked() -> None:
    module = tnn.Sequential(tnn.Conv2d(1, 2, 5), tnn.Flatten(), tnn.LazyLinear(3))
    report = convcalc.verify(module, (1, 1, 3, 3), device="cpu")
    assert not report.ok
    assert report.error.startswith("RuntimeError: ")
    assert report.plan_error.startswith("0 (Conv2d): ")
    assert report.rows == ()  # convcalc planned nothing, and torch showed no layer


def test_verify_when_torch_fails_after_the_plan_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(tnn.Module):
        def forward(self, x: Any) -> Any:
            raise RuntimeError("boom")

    monkeypatch.setitem(_RULES, Boom, lambda m: nn.Identity())
    module = tnn.Sequential(tnn.Conv2d(1, 2, 3), Boom(), tnn.ReLU())
    report = convcalc.verify(module, (1, 1, 5, 5), device="cpu")
    assert not report.ok
    assert report.plan_error is None
    assert [(r.name, r.match) for r in report.rows] == [("0", True), ("1", None), ("2", None)]
    assert "torch: RuntimeError: boom" in str(report)
    with pytest.raises(
        ShapeError,
        match=r"^verify: torch raises during the forward pass, but convcalc planned it: "
        r"RuntimeError: boom\. Received: input_shape=\(1, 1, 5, 5\)$",
    ):
        convcalc.verify(module, (1, 1, 5, 5), device="cpu", raise_on_mismatch=True)


def test_verify_flags_a_torch_layer_the_plan_does_not_have(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrapped(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = tnn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: Any) -> Any:
            return self.inner(x)

    monkeypatch.setitem(_RULES, Wrapped, lambda m: nn.Conv2d(2, 2, 3, padding=1))  # planned as one row
    module = tnn.Sequential(OrderedDict(w=Wrapped()))
    report = convcalc.verify(module, (1, 2, 4, 4), device="cpu")
    assert not report.ok
    wrapper, extra = report.mismatches
    # planned as one layer of 38 parameters; torch's Wrapped owns none itself, its child w.inner owns them
    assert (wrapper.name, wrapper.planned_params, wrapper.actual_params) == ("w", 38, 0)
    assert (extra.name, extra.planned_shape, extra.actual_shape, extra.actual_params) == (
        "w.inner",
        None,
        (1, 2, 4, 4),
        38,
    )


def test_verify_reads_the_first_tensor_of_a_tuple_output() -> None:
    class Returns(tnn.Module):
        def forward(self, x: Any) -> Any:
            return (None, [x * 2, 3])

    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.r = Returns()
            self.n = Nothing()

        def forward(self, x: Any) -> Any:
            self.n(x)
            return self.r(x)[1][0]

    class Nothing(tnn.Module):
        def forward(self, x: Any) -> Any:
            return None

    assert _first_tensor(torch, (None, [torch.zeros(2), 3])).shape == (2,)
    assert _first_tensor(torch, (None, 3)) is None
    outputs, _, error, _ = _run_hooked(torch, Net().eval(), (1, 2), "cpu")
    assert error is None
    assert outputs["r"] == [(1, 2)]
    assert "n" not in outputs  # no tensor to record


def test_max_pool_with_indices_called_directly_returns_values_and_indices() -> None:
    """BUG: F.max_pool2d_with_indices (and torch.max_pool1d_with_indices, the adaptive ones) always return
    (values, indices); convcalc aliases them to max_pool2d with return_indices=False, so [0] and [1] index the
    batch axis of a single tensor: planned (6, 4, 5) where torch gives (2, 6, 4, 5)."""
    assert_plan_is_torch(Fn(lambda m, x: F.max_pool2d_with_indices(x, 3, 2, 1)[1]), X4)
    assert_plan_is_torch(Fn(lambda m, x: F.adaptive_max_pool2d_with_indices(x, 3)[0]), X4)


@pytest.mark.parametrize(
    ("fn", "where"),
    [
        (lambda m, x: x.view(2, "a"), "view (view)"),
        (lambda m, x: x.view(2.0, -1), "view (view)"),
        (lambda m, x: x.expand(2, 6, 8, "a"), "expand (expand)"),
        (lambda m, x: x.expand(2, 6, 8, 10.0), "expand (expand)"),
        (lambda m, x: F.interpolate(x, size=(2.5, 3)), "interpolate (interpolate)"),
        (lambda m, x: F.pad(x, (1.5, 1)), "pad (pad)"),
        (lambda m, x: x.narrow(1, 0, 2.5), "narrow (narrow)"),
        (lambda m, x: x.narrow(1, 0, "a"), "narrow (narrow)"),
        (lambda m, x: x.unflatten(1, (2, 3.0)), "unflatten (unflatten)"),
    ],
)
def test_sizes_that_are_not_ints_are_refused_like_torch(fn: Any, where: str) -> None:
    """BUG: torch refuses a str or float size; convcalc lets a TypeError escape (str), or plans the value as a
    size: (2.0, 480.0) for view, (1, 6, 8, 10.5) for pad, (1, 'a', 8, 10) for narrow."""
    torch_rejects(fn, X4)
    with pytest.raises(SpecError, match=rf"^{re.escape(where)}: "):
        convcalc.plan(Fn(fn), X4)


@pytest.mark.parametrize(
    ("fn", "fits_from"),
    [
        (lambda m, x: x[:, :, -3:], 1),  # 3 rows once H >= 3, H rows below: torch clamps the start to the axis
        (lambda m, x: x[:, :, 2:], 2),  # H - 2 rows only once H >= 2 (torch gives 0, convcalc H - 2 = -1 at H = 1)
    ],
)
def test_symbolic_slices_record_where_their_length_holds(fn: Any, fits_from: int) -> None:
    """BUG: _slice_length records only stop <= size; a start beyond the axis (negative start on a short axis,
    or start > stop) gives a length that is wrong for small H, with no constraint saying so."""
    H = convcalc.symbols("H")
    plan = convcalc.plan(Fn(fn), (1, 3, H, 8))
    planned = plan.output_shape[2]
    for h in range(1, 6):
        real = tuple(fn(None, torch.zeros(1, 3, h, 8)).shape)[2]
        holds = all(c.holds(h) for c in plan.constraints)
        value = planned.subs(H, h) if hasattr(planned, "subs") else planned
        assert holds == (h >= fits_from), h
        if holds:
            assert value == real, h


# --------------------------------------------------------------------------- #
# Receptive fields: one sample without its batch axis, symbolic sizes, constants beside the map
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: F.relu(m.conv(x)),
        lambda m, x: m.conv(x) + m.conv(x),
        lambda m, x: m.conv(x) * 2,
        lambda m, x: F.softmax(m.conv(x), 0),  # over the channels of a (C, H, W) sample
    ],
    ids=["relu", "add", "mul", "softmax-channels"],
)
def test_one_sample_without_its_batch_axis_keeps_the_field(fn: Any) -> None:
    module = Fn(fn, conv=tnn.Conv2d(3, 4, 3, padding=1))
    batched, sample = convcalc.plan(module, (1, 3, 8, 8)), convcalc.plan(module, (3, 8, 8))
    field = (ReceptiveField(3, 1, -1),) * 2
    assert batched.receptive_field == sample.receptive_field == field
    assert sample.rows[-1].receptive_field == field


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 3, 8, 8)])
def test_an_adaptive_pool_of_one_sample_keeps_the_field(shape: tuple[int, ...]) -> None:
    for model in (
        tnn.AdaptiveAvgPool2d(2),
        tnn.Sequential(tnn.ReLU(), tnn.AdaptiveMaxPool2d(2)),
        nn.AdaptiveAvgPool2d(2),
    ):
        plan = convcalc.plan(model, shape)
        assert plan.output_shape == (*shape[:-2], 2, 2)
        assert plan.rows[-1].receptive_field == (ReceptiveField(4, 4, 0),) * 2


def test_a_concatenation_of_one_sample_joins_its_channels_on_axis_0() -> None:
    branches = {"a": nn.Conv2d(1, 1, 3, padding=1), "b": nn.Conv2d(1, 1, 5, padding=2)}
    channels = convcalc.plan(nn.Concat(branches, dim=0), (1, 16, 16))
    assert channels.receptive_field == (ReceptiveField(5, 1, -2),) * 2
    rows = convcalc.plan(nn.Concat(branches, dim=1), (1, 16, 16))  # the height of a (C, H, W) sample
    assert rows.output_shape == (1, 32, 16)
    assert rows.receptive_field is None


def test_branches_whose_equal_sizes_are_written_differently_keep_the_field() -> None:
    # a CIFAR ResNet's shortcut without parameters (option A): every other pixel, padded with channels, added to
    # a stride-2 convolution; the sizes are floor((H - 1)/2) + 1 and -floor(-H/2), one number wherever they add
    module = Fn(
        lambda m, x: F.relu(m.conv(x) + F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 8, 8))),
        conv=tnn.Conv2d(16, 32, 3, stride=2, padding=1),
    )
    H, W = convcalc.symbols("H W")
    expected = (ReceptiveField(3, 2, -1),) * 2
    assert convcalc.plan(module, (1, 16, 33, 31)).receptive_field == expected
    assert convcalc.plan(module, (1, 16, H, W)).receptive_field == expected


def test_branches_padded_by_a_size_have_no_one_window() -> None:
    # windows that start at a symbolic position (a pad of W % 2): no union to name, and no error
    module = Fn(
        lambda m, x: F.pad(m.conv(x), [x.shape[3] % 2, 0]) + F.pad(m.conv(x), [0, x.shape[3] % 2]),
        conv=tnn.Conv2d(1, 1, 3, padding=1),
    )
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(module, (1, 1, H, W)).receptive_field is None
    assert convcalc.plan(module, (1, 1, 16, 15)).receptive_field is not None


def test_a_constant_concatenated_first_leaves_the_maps_field() -> None:
    # CoordConv: coordinate channels (a buffer) before the features, then a convolution
    module = Fn(
        lambda m, x: m.conv(torch.cat([m.coords.expand(x.shape[0], -1, -1, -1), x], 1)),
        conv=tnn.Conv2d(5, 4, 5, padding=2),
    )
    module.register_buffer("coords", torch.zeros(1, 2, 8, 8))
    assert convcalc.plan(module, (2, 3, 8, 8)).receptive_field == (ReceptiveField(5, 1, -2),) * 2
