"""The shape-keeping, shape-changing and container specs of ``convcalc.nn`` say exactly what they were given,
what fits, and what they count.

Written against the mutants of ``nn/elementwise.py``, ``nn/_base.py``, ``nn/shape.py``, ``nn/containers.py``
and ``nn/cells.py`` that the layer and property tests let live: each message is compared whole (the layer's
path, the argument's name, every value), each bound is checked on both sides, and each row's fields are checked.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
import torch

import convcalc
from convcalc import nn
from convcalc._plan import Group


def _nested(layer: nn.Module, stem: nn.Module | None = None) -> nn.Sequential:
    return nn.Sequential(OrderedDict(stem=stem or nn.Identity(), block=nn.Sequential(OrderedDict(layer=layer))))


def _raises(error: type[Exception], make: Any, message: str) -> None:
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


# --- nn/elementwise.py -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0, 1, 0.0, 0.5, 1.0])
def test_dropout_takes_a_probability_from_0_to_1(p: float) -> None:
    assert nn.Dropout(p).p == p
    assert nn.Dropout2d(p).p == p


@pytest.mark.parametrize("p", [-0.1, 1.1, True, "0.5", None])
def test_dropout_refuses_what_is_not_a_probability(p: Any) -> None:
    _raises(
        convcalc.SpecError,
        lambda: nn.Dropout(p),
        f"dropout probability has to be between 0 and 1. Received: p={p!r}",
    )


@pytest.mark.parametrize("dim", [-3, -1, 0, 2, None])
def test_softmax_takes_a_dim_of_the_input(dim: int | None) -> None:
    plan = convcalc.plan(_nested(nn.Softmax(dim=dim)), (2, 3, 4))
    assert plan.output_shape == (2, 3, 4)
    row = plan.rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape, row.macs) == (
        "block.layer",
        "Softmax",
        (2, 3, 4),
        (2, 3, 4),
        0,
    )


@pytest.mark.parametrize(("dim", "shape"), [(-4, (2, 3, 4)), (3, (2, 3, 4)), (2, (2, 3)), (-3, (2, 3))])
def test_softmax_refuses_a_dim_out_of_range_with_the_range(dim: int, shape: tuple[int, ...]) -> None:
    rank = len(shape)
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(nn.Softmax(dim=dim)), shape),
        f"block.layer (Softmax): dim={dim} is out of range for a {rank}-D input: use a dim from {-rank} to "
        f"{rank - 1}. Received: input_shape={shape}",
    )


class _SumThenSoftmax(torch.nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.soft = torch.nn.Softmax(dim=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.soft(x.sum())


@pytest.mark.parametrize("dim", [-2, -1, 0, 1])
def test_softmax_of_a_0d_tensor_takes_dim_0_or_minus_1_as_torch_does(dim: int) -> None:
    model = _SumThenSoftmax(dim)
    try:
        model(torch.zeros(2, 3))
    except IndexError:
        _raises(
            convcalc.ShapeError,
            lambda: convcalc.plan(model, (2, 3)),
            f"soft (Softmax): dim={dim} is out of range for a 0-D input: use a dim from -1 to 0. Received: "
            "input_shape=()",
        )
    else:
        assert convcalc.plan(model, (2, 3)).output_shape == ()


@pytest.mark.parametrize(
    "layer",
    [nn.Identity(), nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(), nn.GELU(), nn.SiLU(), nn.Sigmoid(), nn.Tanh(),
     nn.Hardswish(), nn.Softmax(dim=1), nn.Dropout(), nn.Dropout2d()],
)  # fmt: skip
def test_shape_keeping_layers_pass_the_receptive_field_on(layer: nn.Module) -> None:
    plan = convcalc.plan(_nested(layer, nn.Conv2d(1, 2, 3, stride=2)), (1, 1, 9, 9))
    conv, row = plan.rows[0], plan.rows[-1]
    assert (row.kind, row.input_shape, row.output_shape) == (type(layer).__name__, (1, 2, 4, 4), (1, 2, 4, 4))
    assert row.receptive_field == conv.receptive_field
    assert (row.trainable, row.non_trainable, row.buffers, row.macs) == (0, 0, 0, 0)


# --- nn/_base.py -------------------------------------------------------------------------------------------------

_DIMS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("family", ["Conv", "MaxPool", "AdaptiveAvgPool"])
@pytest.mark.parametrize("extra", [-2, 1, 2])
def test_an_input_of_another_rank_names_both_ranks_torch_takes(ndim: int, family: str, extra: int) -> None:
    args = {"Conv": (2, 2, 1), "MaxPool": (1,), "AdaptiveAvgPool": (1,)}[family]
    layer = getattr(nn, f"{family}{ndim}d")(*args)
    shape = (2,) * (ndim + 1 + extra) if ndim + 1 + extra > 0 else (2,)
    if len(shape) in (ndim + 1, ndim + 2):
        return
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(layer), shape),
        f"block.layer ({family}{ndim}d): expects a {ndim + 2}-D input {_DIMS[ndim]} or an unbatched {ndim + 1}-D "
        f"one, but receives {len(shape)}-D {shape}. Received: input_shape={shape}",
    )


@pytest.mark.parametrize(("got", "word"), [(1, "channel"), (2, "channels"), (4, "channels")])
def test_a_channel_mismatch_says_channel_or_channels(got: int, word: str) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(nn.Conv2d(3, 4, 1)), (1, got, 5, 5)),
        f"block.layer (Conv2d): in_channels=3 but the input has {got} {word}: use in_channels={got} (or make the "
        f"previous layer output 3). Received: input_shape=(1, {got}, 5, 5)",
    )


@pytest.mark.parametrize(
    ("shape", "first", "order"),
    [((1, 227, 227, 3), (1, 3, 227, 227), (0, 3, 1, 2)), ((227, 227, 3), (3, 227, 227), (2, 0, 1))],
)
def test_a_channels_last_input_is_told_to_put_the_channels_first(
    shape: tuple[int, ...], first: tuple[int, ...], order: tuple[int, ...]
) -> None:
    """The textbook's 227 x 227 x 3 given to a torch-style network: the fix is the input's layout, not the layer."""
    axis = len(shape) - 3
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), nn.ReLU()), shape),
        f"0 (Conv2d): in_channels=3 but the input has 227 channels on axis {axis}; its last axis holds 3, as a "
        f"channels-last input does: torch takes the channels first, input_shape={first} (x.permute{order} of a "
        f"channels-last tensor). Received: input_shape={shape}",
    )


def test_a_later_layer_with_a_size_equal_to_its_channels_is_not_told_of_a_channels_last_input() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(3, 4, 1)), (1, 3, 5, 3)),
        "1 (Conv2d): in_channels=3 but the input has 8 channels: use in_channels=8 (or make the previous layer "
        "output 3). Received: input_shape=(1, 8, 5, 3)",
    )


# --- nn/containers.py --------------------------------------------------------------------------------------------


def _block(layer: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(stem=nn.Identity(), block=layer))


@pytest.mark.parametrize("kind", ["Add", "Concat"])
def test_a_branching_container_needs_a_branch(kind: str) -> None:
    _raises(
        convcalc.SpecError,
        lambda: convcalc.plan(_block(getattr(nn, kind)()), (1, 2, 4, 4)),
        f"block ({kind}): {kind} needs at least one branch. Received: branches=()",
    )


_ADD = "block (Add): branch {name} gives {got} but branch 0 gives {first}: {detail}. Received: input_shape={given}"


@pytest.mark.parametrize(
    ("branches", "shape", "name", "got", "first", "detail"),
    [
        ((nn.Identity(), nn.Flatten()), (1, 2, 4, 4), 1, "1 x 32", "1 x 2 x 4 x 4", "the ranks differ"),
        (
            (nn.Identity(), nn.Linear(4, 4), nn.Flatten(0)),
            (1, 2, 4),
            2,
            "8",
            "1 x 2 x 4",
            "the ranks differ",
        ),
        (
            (nn.Identity(), nn.Conv2d(2, 3, 1)),
            (1, 2, 4, 4),
            1,
            "1 x 3 x 4 x 4",
            "1 x 2 x 4 x 4",
            "the channels differ (3 vs 2); give branch 1 a projection such as Conv2d(3, 2, kernel_size=1)",
        ),
        (
            (nn.Identity(), nn.MaxPool2d(2)),
            (1, 2, 4, 4),
            1,
            "1 x 2 x 2 x 2",
            "1 x 2 x 4 x 4",
            "the sizes differ (2 x 2 vs 4 x 4); give branch 0 a projection such as Conv2d(2, 2, kernel_size=1, "
            "stride=2)",
        ),
        (
            (nn.MaxPool2d(2), nn.Identity()),
            (1, 2, 4, 4),
            1,
            "1 x 2 x 4 x 4",
            "1 x 2 x 2 x 2",
            "the sizes differ (4 x 4 vs 2 x 2); give branch 1 a projection such as Conv2d(2, 2, kernel_size=1, "
            "stride=2)",
        ),
        (
            (nn.MaxPool2d(2), nn.Conv2d(2, 3, 1)),
            (1, 2, 4, 4),
            1,
            "1 x 3 x 4 x 4",
            "1 x 2 x 2 x 2",
            "the channels differ (3 vs 2) and the sizes differ (4 x 4 vs 2 x 2); give branch 1 a projection such as "
            "Conv2d(3, 2, kernel_size=1, stride=2)",
        ),
        (
            (nn.MaxPool2d((2, 4)), nn.Identity()),
            (1, 2, 4, 4),
            1,
            "1 x 2 x 4 x 4",
            "1 x 2 x 2 x 1",
            "the sizes differ (4 x 4 vs 2 x 1); no 1 x 1 projection takes 4 x 4 to 2 x 1 or back: crop or pad one branch to "
            "the other's size (a slice, F.pad or F.interpolate), or plan an input size at which both branches agree",
        ),
        (
            (nn.MaxPool2d((3, 2)), nn.Identity()),
            (1, 2, 6, 4),
            1,
            "1 x 2 x 6 x 4",
            "1 x 2 x 2 x 2",
            "the sizes differ (6 x 4 vs 2 x 2); give branch 1 a projection such as Conv2d(2, 2, kernel_size=1, "
            "stride=3)",
        ),
        (
            (nn.Identity(), nn.Conv1d(2, 3, 1)),
            (1, 2, 4),
            1,
            "1 x 3 x 4",
            "1 x 2 x 4",
            "the channels differ (3 vs 2)",
        ),
        ((nn.Identity(), nn.Linear(4, 5)), (1, 2, 4), 1, "1 x 2 x 5", "1 x 2 x 4", "the sizes differ (5 vs 4)"),
        (
            (nn.Identity(), nn.Conv3d(2, 2, 3, padding=(1, 1, 0))),
            (1, 2, 4, 4, 4),
            1,
            "1 x 2 x 4 x 4 x 2",
            "1 x 2 x 4 x 4 x 4",
            "the sizes differ (4 x 4 x 2 vs 4 x 4 x 4)",
        ),
    ],
)
def test_branches_that_do_not_add_up_say_how_and_the_projection(
    branches: tuple[nn.Module, ...], shape: tuple[int, ...], name: int, got: str, first: str, detail: str
) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_block(nn.Add(*branches)), shape),
        _ADD.format(name=name, got=got, first=first, detail=detail, given=shape),
    )


def test_an_add_row_merges_the_branches_receptive_fields() -> None:
    plan = convcalc.plan(_block(nn.Add(nn.Conv2d(2, 2, 3, padding=1), nn.Identity())), (1, 2, 6, 6))
    add = plan.rows[-1]
    assert (add.name, add.kind, add.input_shape, add.output_shape) == ("block", "Add", (1, 2, 6, 6), (1, 2, 6, 6))
    assert [r.name for r in plan.rows] == ["stem", "block.0", "block.1", "block"]
    assert add.receptive_field == (convcalc.ReceptiveField(3, 1, -1),) * 2
    assert plan.output_shape == (1, 2, 6, 6)


def test_branches_of_symbolic_sizes_add_where_they_are_equal() -> None:
    H = convcalc.symbols("H")
    back = nn.Sequential(nn.MaxPool2d(2), nn.Upsample(scale_factor=2))
    plan = convcalc.plan(_block(nn.Add(nn.Identity(), back)), (1, 2, H, 8))
    assert plan.output_shape == (1, 2, H, 8)
    last = plan.constraints[-1]
    assert (last.layer, last.axis, last.kind, last.value, last.reason) == (
        "block",
        0,
        "==",
        0,
        "branch 1 matches branch 0",
    )
    assert [last.holds(h) for h in (4, 5, 6)] == [True, False, True]


def test_concat_joins_along_its_dim() -> None:
    plan = convcalc.plan(_block(nn.Concat(nn.Identity(), nn.Conv2d(2, 3, 3, padding=1))), (1, 2, 4, 4))
    row = plan.rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == ("block", "Concat", (1, 2, 4, 4), (1, 5, 4, 4))
    assert row.receptive_field == (convcalc.ReceptiveField(3, 1, -1),) * 2
    plan = convcalc.plan(_block(nn.Concat(nn.Identity(), nn.Identity(), dim=-1)), (1, 2, 4, 4))
    assert (plan.rows[-1].output_shape, plan.rows[-1].receptive_field) == ((1, 2, 4, 8), None)


_CONCAT = (
    "block (Concat): branch 1 gives {got} but branch 0 gives 1 x 2 x 4 x 4; all dims except dim=1 must match{hint}. "
    "Received: input_shape=(1, 2, 4, 4)"
)


@pytest.mark.parametrize("crop", [False, True])
def test_branches_that_do_not_join_say_which(crop: bool) -> None:
    hint = "" if crop else " (or crop=True to centre-crop to the smallest)"
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_block(nn.Concat(nn.Identity(), nn.Flatten(), crop=crop)), (1, 2, 4, 4)),
        _CONCAT.format(got="1 x 32", hint=hint),
    )
    if not crop:
        _raises(
            convcalc.ShapeError,
            lambda: convcalc.plan(_block(nn.Concat(nn.Identity(), nn.MaxPool2d(2))), (1, 2, 4, 4)),
            _CONCAT.format(got="1 x 2 x 2 x 2", hint=hint),
        )


def test_a_crop_takes_every_branch_to_the_smallest() -> None:
    plan = convcalc.plan(_block(nn.Concat(nn.Identity(), nn.MaxPool2d((2, 1)), crop=True)), (1, 2, 4, 6))
    assert (plan.rows[-1].output_shape, plan.rows[-1].receptive_field) == ((1, 4, 2, 6), None)
    H = convcalc.symbols("H")
    plan = convcalc.plan(_block(nn.Concat(nn.Identity(), nn.MaxPool2d(2), crop=True)), (1, 2, H, 8))
    height = plan.output_shape[2]  # floor(H/2) <= H for every H: no constraint but the pool's
    assert [height.subs(H, h) for h in range(2, 30)] == [h // 2 for h in range(2, 30)]
    assert [c.reason for c in plan.constraints] == ["window 2 fits the padded input"]


def test_concat_refuses_a_dim_out_of_range() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_block(nn.Concat(nn.Identity(), dim=4)), (1, 2, 4, 4)),
        "block (Concat): dim=4 is out of range for a 4-D input (1, 2, 4, 4). Received: input_shape=(1, 2, 4, 4)",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Concat(nn.Identity(), dim=1.5), "dim must be an integer. Received: dim=1.5"),
        (lambda: nn.Concat(nn.Identity(), crop=1), "crop must be True or False. Received: crop=1"),
        (
            lambda: nn.Sequential(nn.Identity(), 3),
            "Sequential takes convcalc.nn layers; item '1' is int. Received: 1=3",
        ),
        (
            lambda: nn.Add(OrderedDict([("a.b", nn.Identity())])),
            "layer names must be non-empty and without dots. Received: name='a.b'",
        ),
        (
            lambda: nn.Sequential(OrderedDict([("", nn.Identity())])),
            "layer names must be non-empty and without dots. Received: name=''",
        ),
    ],
)
def test_container_arguments(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


def test_a_container_is_indexed_by_position_name_or_slice() -> None:
    net = nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))
    assert (net[0], net[-1], net[1], net[-2], net["b"]) == (nn.ReLU(), nn.Tanh(), nn.Tanh(), nn.ReLU(), nn.Tanh())
    assert net[1:] == nn.Sequential(OrderedDict([("b", nn.Tanh())]))
    for key in (2, -3, "c", True):
        _raises(
            convcalc.SpecError,
            lambda key=key: net[key],
            f"Sequential has 2 layers (a, b); no layer {key!r}. Received: key={key!r}",
        )
    _raises(
        convcalc.SpecError,
        lambda: nn.Sequential(*[nn.ReLU()] * 12)[20],
        "Sequential has 12 layers (0, 1, 2, 3, 4, 5, 6, 7, 8, 9); no layer 20. Received: key=20",
    )
    with pytest.raises(AttributeError, match=r"^Sequential is immutable$"):
        net.x = 1  # type: ignore[attr-defined]


def test_containers_compare_hash_and_print_by_type_layers_and_options() -> None:
    a = nn.Sequential(nn.ReLU(), nn.Tanh())
    assert a == nn.Sequential(nn.ReLU(), nn.Tanh())
    assert hash(a) == hash(nn.Sequential(nn.ReLU(), nn.Tanh()))
    assert a != nn.Add(nn.ReLU(), nn.Tanh())
    assert hash(a) != hash(nn.Add(nn.ReLU(), nn.Tanh()))
    assert a != nn.Sequential(nn.ReLU())
    assert nn.Concat(nn.ReLU(), dim=2) != nn.Concat(nn.ReLU())
    assert nn.Concat(nn.ReLU(), crop=True) != nn.Concat(nn.ReLU())
    assert hash(nn.Concat(nn.ReLU(), dim=2)) != hash(nn.Concat(nn.ReLU()))
    assert hash(nn.Concat(nn.ReLU(), crop=True)) == hash(nn.Concat(nn.ReLU(), crop=True))
    assert repr(a) == "Sequential(\n  ReLU(inplace=False),\n  Tanh()\n)"
    assert repr(nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))) == (
        "Sequential(\n  (a): ReLU(inplace=False),\n  (b): Tanh()\n)"
    )
    assert repr(nn.Sequential()) == "Sequential()"
    assert (
        repr(nn.Sequential(nn.Sequential(nn.ReLU()))) == "Sequential(\n  Sequential(\n    ReLU(inplace=False)\n  )\n)"
    )
    assert repr(nn.Concat(nn.ReLU(), dim=2, crop=True)) == "Concat(\n  ReLU(inplace=False)\n, dim=2, crop=True)"
    assert repr(nn.Concat(nn.ReLU(), crop=True)) == "Concat(\n  ReLU(inplace=False)\n, crop=True)"
    assert repr(nn.Concat(nn.ReLU())) == "Concat(\n  ReLU(inplace=False)\n)"
    assert repr(nn.Add(nn.ReLU())) == "Add(\n  ReLU(inplace=False)\n)"


def test_containers_pickle_whole() -> None:
    import pickle

    for net in (
        nn.Concat(nn.ReLU(), nn.Tanh(), dim=2, crop=True),
        nn.Sequential(OrderedDict([("a", nn.ReLU())])),
        nn.Add(nn.Identity()),
    ):
        again = pickle.loads(pickle.dumps(net))
        assert again == net
        assert type(again) is type(net)
        assert [name for name, _ in again.children()] == [name for name, _ in net.children()]


# --- nn/shape.py: Flatten, Unflatten, Linear, LazyLinear -----------------------------------------------------------


def _layer_plan(layer: nn.Module, shape: tuple[Any, ...]) -> convcalc.Plan:
    return convcalc.plan(_nested(layer), shape)


@pytest.mark.parametrize(
    ("start", "end", "out"),
    [(0, 2, (24,)), (0, -1, (24,)), (1, 1, (2, 3, 4)), (-2, -1, (2, 12)), (-3, 1, (6, 4)), (2, 2, (2, 3, 4))],
)
def test_flatten_merges_its_dims(start: int, end: int, out: tuple[int, ...]) -> None:
    plan = _layer_plan(nn.Flatten(start, end), (2, 3, 4))
    row = plan.rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == ("block.layer", "Flatten", (2, 3, 4), out)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0, 3, "end_dim=3 is out of range for a 3-D input (2, 3, 4)"),
        (0, -4, "end_dim=-4 is out of range for a 3-D input (2, 3, 4)"),
        (3, -1, "start_dim=3 is out of range for a 3-D input (2, 3, 4)"),
        (-4, -1, "start_dim=-4 is out of range for a 3-D input (2, 3, 4)"),
        (2, 1, "start_dim=2 comes after end_dim=1"),
        (-1, 1, "start_dim=-1 comes after end_dim=1"),
    ],
)
def test_flatten_refuses_dims_out_of_range_or_out_of_order(start: int, end: int, message: str) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: _layer_plan(nn.Flatten(start, end), (2, 3, 4)),
        f"block.layer (Flatten): {message}. Received: input_shape=(2, 3, 4)",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Flatten(1.5), "start_dim must be an integer. Received: start_dim=1.5"),
        (lambda: nn.Flatten(1, "x"), "end_dim must be an integer. Received: end_dim='x'"),
        (lambda: nn.Unflatten(1.5, (2,)), "dim must be an integer. Received: dim=1.5"),
        (
            lambda: nn.Unflatten(1, ()),
            "unflattened_size must be a non-empty tuple of ints. Received: dim=1, unflattened_size=()",
        ),
        (
            lambda: nn.Unflatten(1, 4),
            "unflattened_size must be a non-empty tuple of ints. Received: dim=1, unflattened_size=4",
        ),
        (
            lambda: nn.Unflatten(1, (2, 0)),
            "unflattened_size takes positive sizes and at most one -1 (inferred), as torch does. Received: dim=1, "
            "unflattened_size=(2, 0)",
        ),
        (
            lambda: nn.Unflatten(1, (-1, -1)),
            "unflattened_size takes positive sizes and at most one -1 (inferred), as torch does. Received: dim=1, "
            "unflattened_size=(-1, -1)",
        ),
        (lambda: nn.Unflatten(1, (-2, 2)), "unflattened_size must be at least -1. Received: unflattened_size=-2"),
        (lambda: nn.Linear(0, 2), "in_features must be at least 1. Received: in_features=0"),
        (lambda: nn.Linear(2, 0), "out_features must be at least 1. Received: out_features=0"),
        (
            lambda: nn.Linear(2, 3, bias=1),
            "bias must be True or False. Received: in_features=2, out_features=3, bias=1",
        ),
        (lambda: nn.LazyLinear(0), "out_features must be at least 1. Received: out_features=0"),
        (lambda: nn.LazyLinear(3, bias="no"), "bias must be True or False. Received: out_features=3, bias='no'"),
    ],
)
def test_shape_layer_arguments(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 7, 5)])
def test_linear_counts_per_row_of_the_first_axis(bias: bool, shape: tuple[int, ...]) -> None:
    rows = 7 if len(shape) == 3 else 1
    for layer, kind in ((nn.Linear(5, 3, bias=bias), "Linear"), (nn.LazyLinear(3, bias=bias), "LazyLinear")):
        plan = _layer_plan(layer, shape)
        row = plan.rows[-1]
        assert (row.name, row.kind, row.input_shape, row.output_shape) == (
            "block.layer",
            kind,
            shape,
            (*shape[:-1], 3),
        )
        assert (row.trainable, row.macs) == (15 + 3 * bias, rows * 15)
        macs_bias = convcalc.plan(_nested(layer), shape, macs="macs+bias").rows[-1].macs
        assert macs_bias == rows * (15 + 3 * bias)


def test_lazy_linear_takes_in_features_from_a_symbolic_size() -> None:
    H = convcalc.symbols("H")
    for bias in (True, False):
        row = _layer_plan(nn.LazyLinear(3, bias=bias), (2, 7, H)).rows[-1]
        assert (row.kind, row.output_shape, row.trainable, row.macs) == (
            "LazyLinear",
            (2, 7, 3),
            3 * H + 3 * bias,
            21 * H,
        )
        plan = convcalc.plan(_nested(nn.LazyLinear(3, bias=bias)), (2, 7, H), macs="macs+bias")
        assert plan.rows[-1].macs == 21 * H + 21 * bias
    row = _layer_plan(nn.LazyLinear(3), (2, H, 5)).rows[-1]
    assert (row.output_shape, row.trainable, row.macs) == ((2, H, 3), 18, 15 * H)


@pytest.mark.parametrize(
    ("net", "shape", "message"),
    [
        (
            nn.Sequential(nn.Flatten(0), nn.Linear(4, 2)),
            (2, 3),
            "receives 6 features: use in_features=6. Received: input_shape=(6,)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
            (2, 3),
            "receives 3 features (Flatten of 3 = 3): use in_features=3. Received: input_shape=(2, 3)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
            (2, 3, 5),
            "receives 15 features (Flatten of 3 x 5 = 15): use in_features=15. Received: input_shape=(2, 15)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(12, 2)),
            (2, 3, 5),
            "receives 15 features (Flatten of 3 x 5 = 15): use in_features=15, or make the feature map 4 before "
            "Flatten (3 * 4 = 12), e.g. with AdaptiveAvgPool1d(4). Received: input_shape=(2, 15)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(24, 2)),
            (2, 3, 5, 5),
            "receives 75 features (Flatten of 3 x 5 x 5 = 75): use in_features=75. Received: input_shape=(2, 75)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(27, 2)),
            (2, 3, 5, 5),
            "receives 75 features (Flatten of 3 x 5 x 5 = 75): use in_features=75, or make the feature map 3 x 3 "
            "before Flatten (3 * 3 * 3 = 27), e.g. with AdaptiveAvgPool2d((3, 3)). Received: input_shape=(2, 75)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(8, 2)),
            (2, 3, 5, 5),
            "receives 75 features (Flatten of 3 x 5 x 5 = 75): use in_features=75. Received: input_shape=(2, 75)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Linear(24, 2)),
            (2, 3, 5, 5, 5),
            "receives 375 features (Flatten of 3 x 5 x 5 x 5 = 375): use in_features=375, or make the feature map "
            "2 x 2 x 2 before Flatten (3 * 2 * 2 * 2 = 24), e.g. with AdaptiveAvgPool3d((2, 2, 2)). Received: "
            "input_shape=(2, 375)",
        ),
        (
            nn.Sequential(nn.Flatten(2), nn.Linear(24, 2)),
            (2, 3, 5, 5),
            "receives 25 features: use in_features=25. Received: input_shape=(2, 3, 25)",
        ),
        (
            nn.Sequential(nn.Linear(4, 2)),
            (3, 5),
            "receives 5 features: use in_features=5. Received: input_shape=(3, 5)",
        ),
        (  # a feature map given whole: the Flatten forgotten
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(144, 2)),
            (1, 3, 8, 8),
            "receives 6 features: flatten its input first (nn.Flatten() makes the 4 x 6 x 6 = 144 features it "
            "takes). Received: input_shape=(1, 4, 6, 6)",
        ),
        (
            nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), nn.Linear(96, 2)),
            (1, 3, 227, 227),
            "receives 55 features: use in_features=55, or flatten the feature map first (nn.Flatten() makes "
            "96 x 55 x 55 = 290400 features). Received: input_shape=(1, 96, 55, 55)",
        ),
        (
            nn.Sequential(nn.Conv1d(3, 4, 3), nn.Linear(7, 2)),
            (1, 3, 10),
            "receives 8 features: use in_features=8. Received: input_shape=(1, 4, 8)",
        ),
        (  # the Flatten made another Linear's input: it does not explain this count
            nn.Sequential(nn.Flatten(), nn.Linear(75, 12), nn.ReLU(), nn.Linear(10, 2)),
            (2, 3, 5, 5),
            "receives 12 features: use in_features=12. Received: input_shape=(2, 12)",
        ),
    ],
)
def test_a_linear_of_other_features_says_what_it_receives_and_the_fix(
    net: nn.Sequential, shape: tuple[int, ...], message: str
) -> None:
    in_features = net[-1].in_features
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(net, shape),
        f"{len(net) - 1} (Linear): Linear(in_features={in_features}) {message}",
    )


# --- nn/shape.py: padding layers and plan_padding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            nn.ReflectionPad2d(1),
            (3, 4),
            "reflect padding of 2 dims takes a 3-D or 4-D input (torch: Padding size 4 is not supported for 2D input "
            "tensor)",
        ),
        (
            nn.ReflectionPad1d(1),
            (3,),
            "reflect padding of 1 dim takes a 2-D or 3-D input (torch: Padding size 2 is not supported for 1D input "
            "tensor)",
        ),
        (
            nn.ReplicationPad1d(1),
            (1, 2, 3, 4),
            "replicate padding of 1 dim takes a 2-D or 3-D input (torch: Padding size 2 is not supported for 4D "
            "input tensor)",
        ),
        (nn.ZeroPad2d(1), (3,), "4 padding values pad 2 dims but the input has only 1"),
        (nn.ZeroPad3d(1), (3, 4), "6 padding values pad 3 dims but the input has only 2"),
    ],
)
def test_padding_of_more_dims_than_torch_takes(layer: nn.Module, shape: tuple[int, ...], message: str) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: _layer_plan(layer, shape),
        f"block.layer ({type(layer).__name__}): {message}. Received: input_shape={shape}",
    )


@pytest.mark.parametrize(
    ("layer", "shape", "out"),
    [
        (nn.ZeroPad2d(1), (3, 4), (5, 6)),
        (nn.ZeroPad1d(1), (3,), (5,)),
        (nn.ReflectionPad2d(1), (2, 3, 4), (2, 5, 6)),
        (nn.ReflectionPad1d(1), (2, 3), (2, 5)),
        (nn.ReplicationPad2d((-2, -2, 0, 0)), (1, 1, 3, 4), (1, 1, 3, 0)),
        (nn.ReplicationPad2d((-2, -1, -1, -1)), (1, 1, 3, 4), (1, 1, 1, 1)),
        (nn.ReplicationPad2d((0, 0, -2, -1)), (1, 1, 3, 4), (1, 1, 0, 4)),
    ],
)
def test_padding_at_the_edges_of_what_torch_takes(
    layer: nn.Module, shape: tuple[int, ...], out: tuple[int, ...]
) -> None:
    assert _layer_plan(layer, shape).output_shape == out


def test_reflect_or_replicate_padding_must_leave_a_size_on_one_dim() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: _layer_plan(nn.ReplicationPad2d((-2, -2, -1, -2)), (1, 1, 3, 4)),
        "block.layer (ReplicationPad2d): input (3, 4) is too small: the padding leaves (0, 0) (torch needs a size of "
        "at least 1 on one of the padded dims). The smallest network input that fits every layer: input_shape=(1, 1, 4, 4). Received: input_shape=(1, 1, 3, 4)",
    )
    H, W = convcalc.symbols("H W")
    plan = _layer_plan(nn.ReplicationPad2d((-1, -1, -1, -1)), (1, 1, H, W))
    assert plan.output_shape == (1, 1, H - 2, W - 2)
    assert [(c.layer, c.axis, str(c.form), c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("block.layer", 1, "W - 2", ">=", 0, "replicate padding fits"),
        ("block.layer", 0, "H - 2", ">=", 0, "replicate padding fits"),
        ("block.layer", 0, "H - 2", ">=", 1, "padding leaves a size on one dim"),
        ("block.layer", 1, "W - 2", ">=", 1, "padding leaves a size on one dim"),
    ]
    plan = _layer_plan(nn.ReplicationPad2d((-1, -1, 0, 0)), (1, 1, H, 5))
    assert (plan.output_shape, plan.constraints) == ((1, 1, H, 3), ())


def test_reflect_padding_of_symbolic_sizes_states_each_condition_once() -> None:
    H, W = convcalc.symbols("H W")
    plan = _layer_plan(nn.ReflectionPad2d(2), (1, 1, H, W))
    assert plan.output_shape == (1, 1, H + 4, W + 4)
    assert [(c.layer, c.axis, str(c.form), c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("block.layer", 1, "W - 2", ">=", 1, "reflect padding fits"),
        ("block.layer", 0, "H - 2", ">=", 1, "reflect padding fits"),
    ]
    plan = _layer_plan(nn.ReflectionPad2d((1, 2, 0, 0)), (1, 1, 5, W))
    assert [(c.axis, str(c.form), c.value) for c in plan.constraints] == [(1, "W - 1", 1), (1, "W - 2", 1)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.ZeroPad2d((1, 2, 3)), "padding must be an int or a 4-tuple (left, right, top, bottom)"),
        (lambda: nn.ZeroPad1d((1, 2, 3)), "padding must be an int or a 2-tuple (left, right)"),
        (
            lambda: nn.ZeroPad3d((1, 2, 3)),
            "padding must be an int or a 6-tuple (left, right, top, bottom, front, back)",
        ),
    ],
)
def test_padding_tuples_of_another_length(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, f"{message}. Received: padding=(1, 2, 3)")
    _raises(convcalc.SpecError, lambda: nn.ZeroPad2d(1.5), "padding must be an integer. Received: padding=1.5")
    _raises(
        convcalc.SpecError, lambda: nn.ZeroPad2d((1, 2, 3, "x")), "padding must be an integer. Received: padding='x'"
    )


def test_padding_moves_the_receptive_field_of_each_axis_by_its_left_pad() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.ZeroPad2d((1, 2, 3, 4)))
    plan = convcalc.plan(net, (1, 1, 9, 9))
    assert plan.rows[-1].receptive_field == (convcalc.ReceptiveField(3, 2, -6), convcalc.ReceptiveField(3, 2, -2))
    assert plan.rows[-1].output_shape == (1, 1, 11, 7)
    unbatched = _layer_plan(nn.ReflectionPad2d(1), (2, 3, 4)).rows[-1]
    assert unbatched.receptive_field is None  # (the stem's field is of one axis, not the two padded)


# --- nn/cells.py -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.RNNCell(0, 2), "input_size must be at least 1. Received: input_size=0"),
        (lambda: nn.GRUCell(2, 0), "hidden_size must be at least 1. Received: hidden_size=0"),
        (
            lambda: nn.LSTMCell(2, 3, bias=1),
            "bias must be True or False. Received: input_size=2, hidden_size=3, bias=1",
        ),
        (
            lambda: nn.RNNCell(2, 3, nonlinearity="gelu"),
            "nonlinearity must be 'tanh' or 'relu'. Received: input_size=2, hidden_size=3, bias=True, nonlinearity='gelu'",
        ),
        (lambda: nn.Bilinear(0, 2, 3), "in1_features must be at least 1. Received: in1_features=0"),
        (lambda: nn.Bilinear(2, 0, 3), "in2_features must be at least 1. Received: in2_features=0"),
        (lambda: nn.Bilinear(2, 2, 0), "out_features must be at least 1. Received: out_features=0"),
        (
            lambda: nn.Bilinear(2, 2, 3, bias=None),
            "bias must be True or False. Received: in1_features=2, in2_features=2, out_features=3, bias=None",
        ),
    ],
)
def test_cell_and_bilinear_arguments(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


@pytest.mark.parametrize(
    ("layer", "inputs", "message"),
    [
        (
            nn.RNNCell(4, 3),
            (2, 3, 4),
            "<model> (RNNCell): expects a 2-D input (N, input_size) or an unbatched 1-D one, but receives 3-D (torch: "
            "Expected input to be 1D or 2D). Received: input_shape=(2, 3, 4)",
        ),
        (
            nn.LSTMCell(4, 3),
            [(2, 4), (2, 3)],
            "<model> (LSTMCell): hx takes 2 tensors of shape (2, 3). Received: hx=((2, 3),)",
        ),
        (
            nn.GRUCell(4, 3),
            [(2, 4), (2, 5)],
            "<model> (GRUCell): hidden_size=3 but the state has 5 features (last dim): use hidden_size=5. Received: "
            "state_shape=(2, 5)",
        ),
        (
            nn.GRUCell(4, 3),
            [(2, 4), (3, 3)],
            "<model> (GRUCell): the input and its state must agree on every axis but the last. Received: shapes (2, 4) "
            "and (3, 3)",
        ),
        (
            nn.GRUCell(4, 3),
            [(2, 4), (3,)],
            "<model> (GRUCell): the input and its state must agree on every axis but the last. Received: shapes (2, 4) "
            "and (3,)",
        ),
        (
            nn.Bilinear(5, 7, 3),
            (2, 5),
            "<model> (Bilinear): takes two inputs, input1 (*, 5) and input2 (*, 7), but is given one; call it as "
            "bilinear(x1, x2) rather than in a Sequential. Received: inputs=1",
        ),
        (
            nn.Bilinear(5, 7, 3),
            [(2, 5), (2, 6)],
            "<model> (Bilinear): in2_features=7 but the input2 has 6 features (last dim): use in2_features=6. Received: "
            "input2_shape=(2, 6)",
        ),
        (
            nn.Bilinear(5, 7, 3),
            [(2, 4), (2, 7)],
            "<model> (Bilinear): in1_features=5 but the input1 has 4 features (last dim): use in1_features=4. Received: "
            "input1_shape=(2, 4)",
        ),
        (
            nn.Bilinear(5, 7, 3),
            [(2, 5), (3, 7)],
            "<model> (Bilinear): input1 and input2 (torch: input batch dimensions) must agree on every axis but the "
            "last. Received: shapes (2, 5) and (3, 7)",
        ),
        (
            nn.Bilinear(5, 7, 3),
            [(2, 5), (2, 1, 7)],
            "<model> (Bilinear): input1 and input2 (torch: input batch dimensions) must agree on every axis but the "
            "last. Received: shapes (2, 5) and (2, 1, 7)",
        ),
    ],
)
def test_cell_and_bilinear_shape_errors(layer: nn.Module, inputs: Any, message: str) -> None:
    _raises(convcalc.ShapeError, lambda: convcalc.plan(layer, inputs), message)


# (class, bias) -> parameters, macs, macs+bias, torchinfo, ptflops of a cell of 4 -> 3 features
_CELLS = {
    ("RNNCell", True): (27, 21, 27, 81, 30),
    ("RNNCell", False): (21, 21, 21, 63, 24),
    ("GRUCell", True): (81, 63, 81, 243, 102),
    ("GRUCell", False): (63, 63, 63, 189, 84),
    ("LSTMCell", True): (108, 84, 108, 324, 138),
    ("LSTMCell", False): (84, 84, 84, 252, 114),
}


@pytest.mark.parametrize(("name", "bias"), sorted(_CELLS))
@pytest.mark.parametrize("shape", [(2, 4), (4,)])
def test_a_cell_counts_one_step_under_every_convention(name: str, bias: bool, shape: tuple[int, ...]) -> None:
    params, macs, with_bias, torchinfo, ptflops = _CELLS[(name, bias)]
    layer = getattr(nn, name)(4, 3, bias=bias)
    plan = convcalc.plan(layer, shape)
    row = plan.rows[0]
    state = (*shape[:-1], 3)
    assert (row.kind, row.input_shape, row.output_shape, row.trainable, row.macs) == (name, shape, state, params, macs)
    assert plan.output_shape == state
    got = [convcalc.plan(layer, shape, macs=c).macs for c in ("macs", "macs+bias", "torchinfo", "ptflops")]
    assert got == [macs, with_bias, torchinfo, ptflops]
    if name != "LSTMCell":  # the state given beside the input
        assert convcalc.plan(layer, [shape, state]).macs == macs


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(
    ("shapes", "out", "rows"),
    [([(2, 5), (2, 7)], (2, 3), 1), ([(5,), (7,)], (3,), 1), ([(2, 3, 5), (2, 3, 7)], (2, 3, 3), 3)],
)
def test_bilinear_counts_per_row(bias: bool, shapes: list[tuple[int, ...]], out: tuple[int, ...], rows: int) -> None:
    layer = nn.Bilinear(5, 7, 3, bias=bias)
    plan = convcalc.plan(layer, shapes)
    row = plan.rows[0]
    assert (row.kind, row.input_shape, row.output_shape, row.trainable) == ("Bilinear", shapes[0], out, 105 + 3 * bias)
    got = [convcalc.plan(layer, shapes, macs=c).macs for c in ("macs", "macs+bias", "torchinfo", "ptflops", "fvcore")]
    # torchinfo counts the parameters once per size of the output's first axis: the batch, or for an unbatched
    # input the output features (3 here), all of them in its one sample
    per_sample = (105 + 3 * bias) * (out[0] if len(out) == 1 else 1)
    assert got == [105 * rows, (105 + 3 * bias) * rows, per_sample, 0, 0]
    torchinfo = pytest.importorskip("torchinfo")
    data = [torch.zeros(s) for s in shapes]
    theirs = torchinfo.summary(layer.to_torch(), input_data=data, verbose=0).total_mult_adds
    assert got[2] * (shapes[0][0] if len(shapes[0]) > 1 else 1) == theirs


def test_the_batch_of_a_cell_s_state_must_match_its_input_s() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(nn.GRUCell(4, 3), [(H, 4), (2, 3)])
    assert [(c.layer, c.axis, str(c.form), c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("", 0, "H - 2", "==", 0, "sizes equal")
    ]


def test_bilinear_takes_its_inputs_by_name() -> None:
    layer = nn.Bilinear(5, 7, 3)
    plan = convcalc.plan(layer, {"input1": (2, 5), "input2": (2, 7)})
    assert (plan.output_shape, plan.macs, plan.rows[0].input_shape) == ((2, 3), 105, (2, 5))
    for given in ({"input1": (2, 5)}, {"input2": (2, 7)}):
        _raises(
            convcalc.ShapeError,
            lambda given=given: convcalc.plan(layer, given),
            "<model> (Bilinear): takes two inputs, input1 (*, 5) and input2 (*, 7), but is given one; call it as "
            "bilinear(x1, x2) rather than in a Sequential. Received: inputs=1",
        )
    _raises(
        convcalc.SpecError,
        lambda: convcalc.plan(layer, {"input1": (2, 5), "input2": (2, 7), "x": (1,)}),
        "<model> (Bilinear): is called with x, which it does not take; torch's Bilinear takes (input1, input2) and "
        "refuses the call too. Received: arguments=input1, input2, x",
    )
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(layer, {"input1": (2, 5), "input2": (2, 6)}),
        "<model> (Bilinear): in2_features=7 but the input2 has 6 features (last dim): use in2_features=6. Received: "
        "input2_shape=(2, 6)",
    )


# --- nn/_base.py: an empty spatial axis before a convolution, an unbatched input's receptive field -----------------


def test_an_empty_axis_left_by_a_crop_is_refused_before_a_convolution() -> None:
    """torch's convolutions refuse an empty spatial axis even where the padding would make room for the kernel."""
    crop = nn.ZeroPad2d((0, 0, -2, -2))
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(nn.Conv2d(3, 4, 3, padding=2), crop), (3, 4, 5)),
        "block.layer (Conv2d): spatial axis 0 of the input is empty (size 0); torch's convolutions take only a zero "
        "batch or zero channels as empty inputs: crop less before this layer. The smallest network input that fits every layer: input_shape=(3, 5, 5). The network input (3, 4, 5) was read as one sample without a batch axis (by stem (ZeroPad2d)). Received: input_shape=(3, 0, 5)",
    )
    with pytest.raises(RuntimeError):  # torch agrees
        _nested(nn.Conv2d(3, 4, 3, padding=2), crop).to_torch()(torch.zeros(3, 4, 5))


@pytest.mark.parametrize("shape", [(1, 3), (3,)])
def test_symbolic_sizes_a_crop_may_empty_are_constraints_once(shape: tuple[int, ...]) -> None:
    H, W = convcalc.symbols("H W")
    model = nn.Sequential(
        nn.ZeroPad2d((-1, -1, -2, -2)),
        nn.Conv2d(3, 4, 1),  # H - 4 and W - 2 must not be empty
        nn.ZeroPad2d((-1, 0, 0, 0)),
        nn.Conv2d(4, 4, 1),  # H - 4 is already required; W - 3 is new
    )
    plan = convcalc.plan(model, (*shape, H, W))
    empty = [(c.layer, c.axis, str(c.form), c.kind, c.value) for c in plan.constraints if c.reason == "input not empty"]
    assert empty == [("1", 0, "H - 4", ">=", 1), ("1", 1, "W - 2", ">=", 1), ("3", 1, "W - 3", ">=", 1)]


@pytest.mark.parametrize("ndim", [2, 3])  # (a 2-D input, batched or not, starts with no field)
def test_an_unbatched_input_takes_its_receptive_field_over(ndim: int) -> None:
    conv = getattr(nn, f"Conv{ndim}d")(3, 4, 3, stride=2)
    pool = getattr(nn, f"MaxPool{ndim}d")(2)
    spatial = (9,) * ndim
    batched = convcalc.plan(nn.Sequential(conv, pool), (1, 3, *spatial))
    unbatched = convcalc.plan(nn.Sequential(conv, pool), (3, *spatial))
    assert [r.receptive_field for r in unbatched.rows] == [r.receptive_field for r in batched.rows]
    assert unbatched.rows[-1].receptive_field == tuple(convcalc.ReceptiveField(5, 4, 0) for _ in range(ndim))


def test_an_unbatched_input_whose_field_was_already_moved_has_none() -> None:
    """A (C, H, W) input through a 1-d pool first (which takes it as a batch of C): the field of its last axis is
    no longer the input's identity, and the 2-d layer after it cannot take it over."""
    plan = convcalc.plan(nn.Sequential(nn.MaxPool1d(2), nn.Conv2d(3, 4, 3)), (3, 8, 8))
    assert plan.rows[0].receptive_field == (convcalc.ReceptiveField(2, 2, 0),)
    assert plan.rows[1].receptive_field is None
    for rf in [(convcalc.ReceptiveField(1, 1, 1),), (convcalc.ReceptiveField(1, 2, 0),), ()]:
        from convcalc.nn._base import _sample_axes

        ctx = convcalc._planner.Context(False, convcalc._planner.MacConvention.MACS, 4)
        assert _sample_axes(ctx, nn.Conv2d(3, 4, 3), (3, 8, 8), rf, 2, "c") is None
    fresh = (convcalc.ReceptiveField(1, 1, 0),)
    ctx = convcalc._planner.Context(False, convcalc._planner.MacConvention.MACS, 4)
    assert _sample_axes(ctx, nn.Conv2d(3, 4, 3), (3, 8, 8), fresh, 2, "c") == fresh * 2


# --- nn/shape.py: Upsample -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "area", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"])
@pytest.mark.parametrize("rank", [2, 3, 4, 5, 6])
def test_upsample_takes_the_ranks_torch_takes_for_each_mode(mode: str, rank: int) -> None:
    shape = (1, 2, *(3,) * (rank - 2))
    try:
        expected: Any = tuple(torch.nn.functional.interpolate(torch.zeros(shape), scale_factor=2, mode=mode).shape)
    except (ValueError, NotImplementedError, RuntimeError):
        expected = None
    need = {"linear": "3-D", "bilinear": "4-D", "bicubic": "4-D", "trilinear": "5-D"}.get(mode, "3-D to 5-D")
    if expected is None:
        _raises(
            convcalc.ShapeError,
            lambda: convcalc.plan(_nested(nn.Upsample(scale_factor=2, mode=mode)), shape),
            f"block.layer (Upsample): mode={mode!r} needs {need} input, got {rank}-D. Received: input_shape={shape}",
        )
    else:
        plan = convcalc.plan(_nested(nn.Upsample(scale_factor=2, mode=mode)), shape)
        assert plan.output_shape == expected
        row = plan.rows[-1]
        assert (row.name, row.kind, row.input_shape, row.output_shape, row.macs) == (
            "block.layer",
            "Upsample",
            shape,
            expected,
            0,
        )


def test_upsample_messages_name_the_layer() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(nn.Upsample(size=(4, 5, 6))), (1, 2, 3, 3)),
        "block.layer (Upsample): 2 spatial dims but 3 values given. Received: input_shape=(1, 2, 3, 3)",
    )
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(_nested(nn.Upsample(scale_factor=-1.0)), (1, 2, 3, 3))
    assert str(info.value).startswith("block.layer (Upsample): ")


def test_a_fractional_upsample_of_a_symbol_needs_an_output_of_1() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(_nested(nn.Upsample(scale_factor=(0.5, 2))), (1, 2, H, H))
    assert [(c.layer, c.axis, c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("block.layer", 0, ">=", 1, "upsampled size at least 1")
    ]
    assert str(plan.output_shape[2:]) == "(floor(H/2), 2*H)"


# --- nn/cells.py: a cell called in a torch forward (its path in every message), its inputs by name -------------------


class _CellCall(torch.nn.Module):
    def __init__(self, cell: torch.nn.Module, call: Any) -> None:
        super().__init__()
        self.cell = cell
        self.call = call

    def forward(self, x: Any, h: Any) -> Any:
        return self.call(self.cell, x, h)


@pytest.mark.parametrize(
    ("cell", "call", "message"),
    [
        (
            torch.nn.RNNCell(4, 3),
            lambda cell, x, h: cell(x, (h, h)),
            "cell (RNNCell): hx takes 1 tensor of shape (2, 3). Received: hx=((2, 3), (2, 3))",
        ),
        (
            torch.nn.LSTMCell(4, 3),
            lambda cell, x, h: cell(x, (h,)),
            "cell (LSTMCell): hx takes 2 tensors of shape (2, 3). Received: hx=((2, 3),)",
        ),
        (
            torch.nn.LSTMCell(4, 3),
            lambda cell, x, h: cell(x, (h, 3)),
            "cell (LSTMCell): hx[1] must be a tensor. Received: hx[1]=3",
        ),
        (
            torch.nn.GRUCell(4, 3),
            lambda cell, x, h: cell(x, 3),
            "cell (GRUCell): hx must be a tensor. Received: hx=3",
        ),
        (
            torch.nn.GRUCell(4, 3),
            lambda cell, x, h: cell(3, h),
            "cell (GRUCell): input must be a tensor. Received: input=3",
        ),
        (
            torch.nn.GRUCell(4, 3),
            lambda cell, x, h: cell(x[None], h),
            "cell (GRUCell): expects a 2-D input (N, input_size) or an unbatched 1-D one, but receives 3-D (torch: "
            "Expected input to be 1D or 2D). Received: input_shape=(1, 2, 4)",
        ),
        (
            torch.nn.GRUCell(4, 3),
            lambda cell, x, h: cell(torch.cat([x, x], 1), h),
            "cell (GRUCell): input_size=4 but the input has 8 features (last dim): use input_size=8. Received: "
            "input_shape=(2, 8)",
        ),
        (
            torch.nn.GRUCell(4, 3),
            lambda cell, x, h: cell(x, torch.cat([h, h], 1)),
            "cell (GRUCell): hidden_size=3 but the state has 6 features (last dim): use hidden_size=6. Received: "
            "state_shape=(2, 6)",
        ),
    ],
)
def test_a_cell_in_a_forward_names_its_path(cell: torch.nn.Module, call: Any, message: str) -> None:
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(_CellCall(cell, call), [(2, 4), (2, 3)])
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda cell, x, h: cell(x, 3), "cell (Bilinear): input2 must be a tensor. Received: input2=3"),
        (lambda cell, x, h: cell(3, h), "cell (Bilinear): input1 must be a tensor. Received: input1=3"),
        (
            lambda cell, x, h: cell(x, h, h),
            "cell (Bilinear): is called with arg2, which it does not take; torch's Bilinear takes (input1, input2) "
            "and refuses the call too. Received: arguments=input1, input2, arg2",
        ),
        (
            lambda cell, x, h: cell(x.sum(), h),
            "cell (Bilinear): input1 and input2 must have at least one dimension. Received: input1_shape=(), "
            "input2_shape=(2, 3)",
        ),
        (
            lambda cell, x, h: cell(x, h.sum()),
            "cell (Bilinear): input1 and input2 must have at least one dimension. Received: input1_shape=(2, 4), "
            "input2_shape=()",
        ),
        (
            lambda cell, x, h: cell(h, h),
            "cell (Bilinear): in1_features=4 but the input1 has 3 features (last dim): use in1_features=3. Received: "
            "input1_shape=(2, 3)",
        ),
        (
            lambda cell, x, h: cell(x, x),
            "cell (Bilinear): in2_features=3 but the input2 has 4 features (last dim): use in2_features=4. Received: "
            "input2_shape=(2, 4)",
        ),
        (
            lambda cell, x, h: cell(x, h[:1]),
            "cell (Bilinear): input1 and input2 (torch: input batch dimensions) must agree on every axis but the last. "
            "Received: shapes (2, 4) and (1, 3)",
        ),
    ],
)
def test_a_bilinear_in_a_forward_names_its_path(call: Any, message: str) -> None:
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(_CellCall(torch.nn.Bilinear(4, 3, 2), call), [(2, 4), (2, 3)])
    assert str(info.value) == message


def test_a_cell_takes_its_input_and_state_by_name_as_torch_does() -> None:
    cell = nn.GRUCell(4, 3)
    assert convcalc.plan(cell, {"input": (2, 4), "hx": (2, 3)}).output_shape == (2, 3)
    assert convcalc.plan(cell, {"input": (2, 4)}).output_shape == (2, 3)
    assert tuple(torch.nn.GRUCell(4, 3)(input=torch.zeros(2, 4), hx=torch.zeros(2, 3)).shape) == (2, 3)
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(cell, {"hx": (2, 3)}),
        "<model> (GRUCell): takes an input (N, 4), and a state hx if given, but is given no input (torch: missing 1 "
        "required positional argument: 'input'). Received: arguments=['hx']",
    )
    # a third tensor, or a state given twice: torch's TypeError
    _raises(
        convcalc.SpecError,
        lambda: convcalc.plan(cell, [(2, 4), (2, 3), (2, 3)]),
        "<model> (GRUCell): is called with arg2, which it does not take; torch's GRUCell takes (input, hx) and "
        "refuses the call too. Received: arguments=input, hx, arg2",
    )
    with pytest.raises(TypeError):
        torch.nn.GRUCell(4, 3)(torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(2, 3))  # type: ignore[call-arg]
    with pytest.raises(convcalc.SpecError, match=r"with hx twice, by position and by name; torch's GRUCell"):
        convcalc.plan(_CellCall(torch.nn.GRUCell(4, 3), lambda cell, x, h: cell(x, h, hx=h)), [(2, 4), (2, 3)])
    with pytest.raises(convcalc.SpecError, match=r"with input1 twice, by position and by name; torch's Bilinear"):
        convcalc.plan(_CellCall(torch.nn.Bilinear(4, 3, 2), lambda cell, x, h: cell(x, h, input1=x)), [(2, 4), (2, 3)])


# --- nn/containers.py: the groups containers close, mismatches of every rank, crops along any dim -------------------


def test_containers_close_their_groups_with_their_first_row_path_kind_and_shape() -> None:
    model = nn.Sequential(
        OrderedDict(
            stem=nn.Conv2d(3, 4, 3, padding=1),
            res=nn.Add(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()), nn.Identity()),
            cat=nn.Concat(nn.Conv2d(4, 2, 1), nn.Identity()),
        )
    )
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert [r.name for r in plan.rows] == ["stem", "res.0.0", "res.0.1", "res.1", "res", "cat.0", "cat.1", "cat"]
    assert plan.groups == (
        # each keeps what it was called with
        Group(1, "res", "Add", (1, 4, 8, 8), (1, 4, 8, 8)),
        Group(1, "res.0", "Sequential", (1, 4, 8, 8), (1, 4, 8, 8)),
        Group(5, "cat", "Concat", (1, 6, 8, 8), (1, 4, 8, 8)),
    )
    # a container planned alone is the model: no group of its own
    assert convcalc.plan(model["res"], (1, 4, 8, 8)).groups == (
        Group(0, "0", "Sequential", (1, 4, 8, 8), (1, 4, 8, 8)),
    )


def test_branches_of_features_that_do_not_add_up_say_the_features_differ() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(_nested(nn.Add(nn.Linear(4, 3), nn.Identity())), (2, 4)),
        "block.layer (Add): branch 1 gives 2 x 4 but branch 0 gives 2 x 3: the channels differ (4 vs 3). Received: "
        "input_shape=(2, 4)",
    )


def test_a_mismatch_of_symbolic_and_fixed_sizes_suggests_no_stride() -> None:
    H, W = convcalc.symbols("H W")
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(
            nn.Add(nn.Sequential(nn.Conv2d(3, 8, 1), nn.AdaptiveAvgPool2d(4)), nn.Identity()), (1, 3, H, W)
        ),
        "<model> (Add): branch 1 gives 1 x 3 x H x W but branch 0 gives 1 x 8 x 4 x 4: the channels differ (3 vs 8) "
        "and the sizes differ (H x W vs 4 x 4); give branch 1 a projection such as Conv2d(3, 8, kernel_size=1). "
        "Received: input_shape=(1, 3, H, W)",
    )
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(
            nn.Add(nn.Sequential(nn.Conv2d(3, 8, 1), nn.AdaptiveAvgPool2d(4)), nn.Identity()), (1, 3, 8, W)
        ),
        "<model> (Add): branch 1 gives 1 x 3 x 8 x W but branch 0 gives 1 x 8 x 4 x 4: the channels differ (3 vs 8) "
        "and the sizes differ (8 x W vs 4 x 4); give branch 1 a projection such as Conv2d(3, 8, kernel_size=1). "
        "Received: input_shape=(1, 3, 8, W)",
    )


def test_a_crop_along_another_dim_keeps_that_dim_and_crops_the_rest() -> None:
    crop = nn.Concat(nn.Identity(), nn.ZeroPad2d((0, 0, -1, -1)), nn.ZeroPad2d((-1, -1, 0, 0)), dim=2, crop=True)
    plan = convcalc.plan(crop, (1, 3, 5, 6))
    assert plan.output_shape == (1, 3, 5 + 3 + 5, 4)
    # the channels are not cropped: joining along the height needs them equal
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Concat(nn.Identity(), nn.Conv2d(3, 2, 1), dim=2, crop=True), (1, 3, 5, 6)),
        "<model> (Concat): branch 1 gives 1 x 2 x 5 x 6 but branch 0 gives 1 x 3 x 5 x 6; all dims except dim=2 must "
        "match. Received: input_shape=(1, 3, 5, 6)",
    )


def test_a_crop_of_three_branches_takes_the_smallest_wherever_it_is() -> None:
    crop = nn.Concat(nn.Identity(), nn.ZeroPad2d((-1, -1, -1, -1)), nn.ZeroPad2d((0, 0, 0, -1)), crop=True)
    assert convcalc.plan(crop, (1, 3, 5, 6)).output_shape == (1, 9, 3, 4)


@pytest.mark.parametrize("upsampled_first", [True, False])
def test_a_crop_of_symbolic_sizes_decided_by_sympy_takes_the_smaller(upsampled_first: bool) -> None:
    """``2*H < H`` is sympy's false, not Python's: the crop took 2*H as the smaller and refused the model."""
    H, W = convcalc.symbols("H W")
    branches = [nn.Upsample(scale_factor=2), nn.Identity()]
    crop = nn.Concat(*(branches if upsampled_first else branches[::-1]), crop=True)
    plan = convcalc.plan(crop, (1, 3, H, W))
    assert (plan.output_shape, plan.constraints) == ((1, 6, H, W), ())
    assert convcalc.plan(crop, (1, 3, 5, 7)).output_shape == (1, 6, 5, 7)


def test_a_crop_of_symbolic_sizes_states_what_it_needs() -> None:
    H, W = convcalc.symbols("H W")
    crop = nn.Concat(nn.Identity(), nn.ZeroPad2d((-1, -1, -2, -1)), crop=True)
    plan = convcalc.plan(_nested(crop), (1, 3, H, W))
    assert plan.output_shape == (1, 6, H - 3, W - 2)
    assert [(c.layer, c.axis, str(c.form), c.reason) for c in plan.constraints if c.layer == "block.layer"] == []


# --- nn/shape.py: Unflatten, Linear's 0-d input and its constraint ---------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "out"),
    [((2, -1), (4, 2, 3, 5)), ((1, 6), (4, 1, 6, 5)), ((-1, 1, 2), (4, 3, 1, 2, 5)), ((6,), (4, 6, 5))],
)
def test_unflatten_splits_one_dim_into_sizes(sizes: tuple[int, ...], out: tuple[int, ...]) -> None:
    plan = convcalc.plan(_nested(nn.Unflatten(1, sizes)), (4, 6, 5))
    assert plan.output_shape == out == tuple(torch.nn.Unflatten(1, sizes)(torch.zeros(4, 6, 5)).shape)
    assert all(type(d) is int for d in plan.output_shape)
    row = plan.rows[-1]
    assert (row.name, row.kind, row.input_shape, row.output_shape) == ("block.layer", "Unflatten", (4, 6, 5), out)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            nn.Unflatten(1, (2, 4)),
            "block.layer (Unflatten): unflattened_size=(2, 4) holds 8 elements but dim 1 has 6. Received: "
            "input_shape=(4, 6, 5)",
        ),
        (
            nn.Unflatten(1, (4, -1)),
            "block.layer (Unflatten): unflattened_size=(4, -1) holds a multiple of 4 elements but dim 1 has 6. "
            "Received: input_shape=(4, 6, 5)",
        ),
        (
            nn.Unflatten(3, (2, 4)),
            "block.layer (Unflatten): dim=3 is out of range for a 3-D input (4, 6, 5). Received: input_shape=(4, 6, 5)",
        ),
    ],
)
def test_unflatten_messages(layer: nn.Module, message: str) -> None:
    _raises(convcalc.ShapeError, lambda: convcalc.plan(_nested(layer), (4, 6, 5)), message)


def test_a_linear_of_a_0d_input_says_so() -> None:
    """``self.fc(x.sum())``: torch refuses a 0-d input; the message said "receives None features"."""
    from tests.test_torch_forms import Forward

    model = Forward(lambda self, x: self.fc(x.sum()), fc=torch.nn.Linear(3, 2))
    with pytest.raises(RuntimeError):
        model(torch.zeros(4, 3))
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(model, (4, 3)),
        "fc (Linear): Linear takes features on a last axis, but its input is 0-D (torch: both arguments to linear "
        "need to be at least 1D). Received: input_shape=()",
    )


def test_a_linear_of_symbolic_features_states_its_in_features() -> None:
    W = convcalc.symbols("W")
    plan = convcalc.plan(_nested(nn.Linear(12, 2), nn.Flatten()), (1, 3, W))
    assert [(c.layer, c.axis, str(c.form), c.kind, c.value, c.reason) for c in plan.constraints] == [
        ("block.layer", 1, "3*W", "==", 12, "in_features=12")
    ]


# --- nn/shape.py: circular padding that crops ------------------------------------------------------------------------


_CIRCULAR = [(a, b, c, d) for a in (-2, -1, 0, 2) for b in (-1, 0, 1) for c in (-2, 0, 1) for d in (-1, 0, 3)]


@pytest.mark.parametrize("pads", _CIRCULAR)
def test_circular_padding_that_crops_is_refused_exactly_where_torch_refuses(pads: tuple[int, ...]) -> None:
    try:
        expected: Any = tuple(torch.nn.functional.pad(torch.zeros(1, 2, 3, 4), pads, mode="circular").shape)
    except RuntimeError:
        expected = None
    if expected is None:
        with pytest.raises(convcalc.ShapeError, match="circular padding"):
            convcalc.plan(nn.CircularPad2d(pads), (1, 2, 3, 4))
    else:
        assert convcalc.plan(nn.CircularPad2d(pads), (1, 2, 3, 4)).output_shape == expected


def test_circular_cropping_of_a_symbolic_size_is_refused_with_the_reason() -> None:
    H = convcalc.symbols("H")
    _raises(
        convcalc.SpecError,
        lambda: convcalc.plan(_nested(nn.CircularPad2d((-1, 1, 0, 0))), (1, 2, H, 5)),
        "block.layer (CircularPad2d): circular padding with negative values (cropping) follows torch's copy rules only "
        "for concrete sizes, not symbolic ones. Received: input_shape=(1, 2, H, 5), padding=(-1, 1, 0, 0)",
    )
    assert convcalc.plan(nn.CircularPad2d((1, 1, 0, 2)), (1, 2, H, 5)).output_shape == (1, 2, H + 2, 7)


# --- nn/conv.py and nn/pool.py: the argument checks, each message whole -------------------------------------------

_OP = "output_padding=1 must be smaller than either stride=1 or dilation=1 on axis 1: use output_padding <= 0. "
_T_ARGS = "in_channels=3, out_channels=4, kernel_size=3, stride={s}, padding=0, output_padding={op}, groups=1, bias={b}, dilation={d}, padding_mode='zeros'"
_POOL = "padding={p} is more than half of kernel_size={k} on axis {j}: torch allows padding <= {most}. Received: "
_MAX = "kernel_size={k}, stride=None, padding={p}, dilation={d}, return_indices=False, ceil_mode={c}"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Conv2d(0, 4, 3), "in_channels must be at least 1. Received: in_channels=0"),
        (lambda: nn.Conv2d(3, 0, 3), "out_channels must be at least 1. Received: out_channels=0"),
        (lambda: nn.Conv2d(3, 4, 3, groups=0), "groups must be at least 1. Received: groups=0"),
        (lambda: nn.Conv2d(3, 4, 0), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.Conv2d(3, 4, 3, stride=(1, 0)), "stride must be at least 1. Received: stride=0"),
        (lambda: nn.Conv2d(3, 4, 3, dilation=0), "dilation must be at least 1. Received: dilation=0"),
        (lambda: nn.Conv2d(3, 4, 3, padding=-1), "padding must be at least 0. Received: padding=-1"),
        (
            lambda: nn.Conv2d(3, 4, 3, bias=1),  # type: ignore[arg-type]
            "bias must be True or False. Received: in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=0, "
            "dilation=1, groups=1, bias=1, padding_mode='zeros'",
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, stride=(1, 2), padding="same"),
            "padding='same' is not supported for strided convolutions in torch (stride=2 on axis 1): use padding=(1, "
            "1) or stride 1. Received: in_channels=3, out_channels=4, kernel_size=3, stride=(1, 2), padding='same', "
            "dilation=1, groups=1, bias=True, padding_mode='zeros'",
        ),
        (
            lambda: nn.Conv1d(3, 4, 3, stride=2, padding="same"),
            "padding='same' is not supported for strided convolutions in torch (stride=2): use padding=(1,) or stride "
            "1. Received: in_channels=3, out_channels=4, kernel_size=3, stride=2, padding='same', dilation=1, "
            "groups=1, bias=True, padding_mode='zeros'",
        ),
        (lambda: nn.ConvTranspose2d(3, 4, 3, groups=0), "groups must be at least 1. Received: groups=0"),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, bias=None),  # type: ignore[arg-type]
            "bias must be True or False. Received: " + _T_ARGS.format(s=1, op=0, b=None, d=1),
        ),
        (lambda: nn.ConvTranspose2d(3, 4, 3, dilation=(1, 0)), "dilation must be at least 1. Received: dilation=0"),
        (lambda: nn.ConvTranspose2d(3, 4, 3, stride=(2, 0)), "stride must be at least 1. Received: stride=0"),
        (lambda: nn.ConvTranspose2d(3, 4, (3, 0)), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.ConvTranspose2d(3, 4, 3, padding=(0, -1)), "padding must be at least 0. Received: padding=-1"),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=(0, -1)),
            "output_padding must be at least 0. Received: output_padding=-1",
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, stride=(2, 1), output_padding=1),
            _OP + "Received: " + _T_ARGS.format(s=(2, 1), op=1, b=True, d=1),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, dilation=(2, 1), output_padding=1),
            _OP + "Received: " + _T_ARGS.format(s=1, op=1, b=True, d=(2, 1)),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=(0, 1)),
            _OP + "Received: " + _T_ARGS.format(s=1, op=(0, 1), b=True, d=1),
        ),
        (lambda: nn.MaxPool2d(2, padding=(0, -1)), "padding must be at least 0. Received: padding=-1"),
        (lambda: nn.MaxPool2d(2, dilation=(1, 0)), "dilation must be at least 1. Received: dilation=0"),
        (
            lambda: nn.MaxPool2d(2, ceil_mode=1),  # type: ignore[arg-type]
            "ceil_mode must be True or False. Received: " + _MAX.format(k=2, p=0, d=1, c=1),
        ),
        (
            lambda: nn.MaxPool2d((4, 2), padding=3),
            _POOL.format(p=3, k=4, j=0, most=2) + _MAX.format(k=(4, 2), p=3, d=1, c=False),
        ),
        (
            lambda: nn.MaxPool2d(2, padding=(1, 2)),
            _POOL.format(p=2, k=2, j=1, most=1) + _MAX.format(k=2, p=(1, 2), d=1, c=False),
        ),
        (
            lambda: nn.AvgPool2d(2, padding=(0, 2)),
            _POOL.format(p=2, k=2, j=1, most=1)
            + "kernel_size=2, stride=None, padding=(0, 2), ceil_mode=False, count_include_pad=True, divisor_override=None",
        ),
        (
            lambda: nn.AvgPool2d(2, ceil_mode=2),  # type: ignore[arg-type]
            "ceil_mode must be True or False. Received: kernel_size=2, stride=None, padding=0, ceil_mode=2, "
            "count_include_pad=True, divisor_override=None",
        ),
        (
            lambda: nn.LPPool2d(2, 2, ceil_mode=1),  # type: ignore[arg-type]
            "ceil_mode must be True or False. Received: norm_type=2, kernel_size=2, stride=None, ceil_mode=1",
        ),
        (
            lambda: nn.LPPool2d("x", 2),  # type: ignore[arg-type]
            "norm_type must be a number. Received: norm_type='x', kernel_size=2, stride=None, ceil_mode=False",
        ),
        (lambda: nn.LPPool2d(2, 0), "kernel_size must be at least 1. Received: kernel_size=0"),
        (lambda: nn.LPPool2d(2, 2, stride=0), "stride must be at least 1. Received: stride=0"),
    ],
)
def test_convolution_and_pool_arguments_are_refused_with_what_fits(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


def test_an_adaptive_pool_of_an_empty_axis_says_so_and_states_it_for_symbols() -> None:
    net = nn.Sequential(nn.ZeroPad2d((0, 0, -2, 0)), nn.AdaptiveAvgPool2d((1, 2)))
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(net, (1, 1, 2, 4)),
        "1 (AdaptiveAvgPool2d): spatial axis 0 of the input is empty (size 0); an adaptive pool needs at least one "
        "value there. The smallest network input that fits every layer: input_shape=(1, 1, 3, 4). "
        "Received: input_shape=(1, 1, 0, 4)",
    )
    H = convcalc.symbols("H")
    last = convcalc.plan(net, (1, 1, H, 4)).constraints[-1]
    assert (last.layer, last.axis, str(last.form), last.kind, last.value, last.reason) == (
        "1",
        0,
        "H - 2",
        ">=",
        1,
        "pooled input not empty",
    )


_RANK = "{name} must be an int or a tuple of 2 ints. Received: "
_C_ARGS = "in_channels=3, out_channels=4, kernel_size=3, stride={s}, padding={p}, dilation={d}, groups=1, bias=True, padding_mode='zeros'"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: nn.Conv2d(3, 4, 3, stride=(1, 2, 3)),
            _RANK.format(name="stride") + _C_ARGS.format(s=(1, 2, 3), p=0, d=1),
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, dilation=(1, 2, 3)),
            _RANK.format(name="dilation") + _C_ARGS.format(s=1, p=0, d=(1, 2, 3)),
        ),
        (
            lambda: nn.Conv2d(3, 4, 3, padding=(1, 2, 3)),
            _RANK.format(name="padding") + _C_ARGS.format(s=1, p=(1, 2, 3), d=1),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, (3, 3, 3)),
            _RANK.format(name="kernel_size")
            + _T_ARGS.format(s=1, op=0, b=True, d=1).replace("kernel_size=3", "kernel_size=(3, 3, 3)"),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, stride=(1, 2, 3)),
            _RANK.format(name="stride") + _T_ARGS.format(s=(1, 2, 3), op=0, b=True, d=1),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, padding=(1, 2, 3)),
            _RANK.format(name="padding")
            + _T_ARGS.format(s=1, op=0, b=True, d=1).replace("padding=0", "padding=(1, 2, 3)", 1),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=(1, 2, 3)),
            _RANK.format(name="output_padding") + _T_ARGS.format(s=1, op=(1, 2, 3), b=True, d=1),
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, dilation=(1, 2, 3)),
            _RANK.format(name="dilation") + _T_ARGS.format(s=1, op=0, b=True, d=(1, 2, 3)),
        ),
    ],
)
def test_per_axis_arguments_of_another_length_are_refused_with_every_argument(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


@pytest.mark.parametrize("kind", ["Conv2d", "ConvTranspose2d"])
def test_an_unbatched_convolution_checks_the_channels_on_its_first_axis(kind: str) -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(getattr(nn, kind)(3, 4, 3), (4, 5, 5)),
        f"<model> ({kind}): in_channels=3 but the input has 4 channels: use in_channels=4 (or give an input of 3 "
        "channels). Received: input_shape=(4, 5, 5)",
    )


def test_a_transposed_convolution_of_an_emptied_axis_is_refused_with_its_path() -> None:
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Sequential(nn.ZeroPad2d((0, 0, -5, 0)), nn.ConvTranspose2d(3, 4, 3)), (3, 5, 5)),
        "1 (ConvTranspose2d): spatial axis 0 of the input is empty (size 0); torch's convolutions take only a zero "
        "batch or zero channels as empty inputs: crop less before this layer. The smallest network input that fits every layer: input_shape=(3, 6, 5). The network input (3, 5, 5) was read as one sample without a batch axis (by 0 (ZeroPad2d)). Received: input_shape=(3, 0, 5)",
    )


@pytest.mark.parametrize("shape", [(3, 5, 5), (2, 3, 5, 5)])
@pytest.mark.parametrize(
    ("groups", "bias", "macs", "with_bias"), [(1, True, 4050, 4776), (3, True, 1350, 2076), (1, False, 4050, 4050)]
)
def test_transposed_macs_per_sample_batched_or_not(
    shape: tuple[int, ...], groups: int, bias: bool, macs: int, with_bias: int
) -> None:
    """25 input positions x 3 x 6 / groups x 9 taps; 11 x 11 x 6 bias adds."""
    layer = nn.ConvTranspose2d(3, 6, 3, stride=2, groups=groups, bias=bias)
    assert convcalc.plan(layer, shape).macs == macs
    assert convcalc.plan(layer, shape, macs="macs+bias").macs == with_bias


def test_a_lazy_convolution_keeps_its_padding_mode_and_takes_an_unbatched_input() -> None:
    assert nn.LazyConv2d(4, 3, padding_mode="reflect").materialize(3).padding_mode == "reflect"
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.LazyConv2d(4, 3, padding=2, padding_mode="reflect"), (1, 3, 2, 2)),
        "<model> (LazyConv2d): reflect padding (2, 2) must be less than the input size 2 (torch: Padding size should be "
        "less than the corresponding input dimension) on dim 3. The smallest network input that fits every layer: input_shape=(1, 3, 3, 3). Received: "
        "input_shape=(1, 3, 2, 2)",
    )
    row = convcalc.plan(nn.LazyConv2d(4, 3), (3, 5, 5)).rows[0]
    assert (row.output_shape, row.trainable, row.macs) == ((4, 3, 3), 112, 972)
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.LazyConv2d(4, 3), (1, 1, 3, 5, 5)),
        "<model> (LazyConv2d): expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives 5-D "
        "(1, 1, 3, 5, 5). Received: input_shape=(1, 1, 3, 5, 5)",
    )


_MAX_ARGS = "kernel_size={k}, stride={s}, padding={p}, dilation={d}, return_indices=False, ceil_mode=False"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: nn.MaxPool2d((2, 2, 2)),
            _RANK.format(name="kernel_size") + _MAX_ARGS.format(k=(2, 2, 2), s=None, p=0, d=1),
        ),
        (
            lambda: nn.MaxPool2d(2, stride=(1, 2, 3)),
            _RANK.format(name="stride") + _MAX_ARGS.format(k=2, s=(1, 2, 3), p=0, d=1),
        ),
        (
            lambda: nn.MaxPool2d(2, padding=(1, 0, 0)),
            _RANK.format(name="padding") + _MAX_ARGS.format(k=2, s=None, p=(1, 0, 0), d=1),
        ),
        (
            lambda: nn.MaxPool2d(2, dilation=(1, 2, 3)),
            _RANK.format(name="dilation") + _MAX_ARGS.format(k=2, s=None, p=0, d=(1, 2, 3)),
        ),
        (
            lambda: nn.LPPool2d(2, (2, 2, 2)),
            _RANK.format(name="kernel_size") + "norm_type=2, kernel_size=(2, 2, 2), stride=None, ceil_mode=False",
        ),
        (
            lambda: nn.AvgPool2d(2, divisor_override=1.5),
            "divisor_override must be an integer. Received: divisor_override=1.5",
        ),  # type: ignore[arg-type]
    ],
)
def test_pool_arguments_of_another_length_or_kind_are_refused_with_every_argument(make: Any, message: str) -> None:
    _raises(convcalc.SpecError, make, message)


def test_a_dilated_max_pool_takes_its_dilation_per_axis() -> None:
    row = convcalc.plan(nn.MaxPool2d(2, dilation=(1, 2)), (1, 1, 8, 8)).rows[0]
    assert (
        row.output_shape == (1, 1, 4, 3) == tuple(torch.nn.MaxPool2d(2, dilation=(1, 2))(torch.zeros(1, 1, 8, 8)).shape)
    )
    assert row.receptive_field == (convcalc.ReceptiveField(2, 2, 0), convcalc.ReceptiveField(3, 2, 0))


@pytest.mark.parametrize("shape", [(1, 4, 5, 5), (4, 5, 5)])
def test_wrong_channels_are_caught_when_a_spatial_size_equals_in_channels(shape: tuple[int, ...]) -> None:
    """The channel check's fast path compares the channel axis, batched or not, not a spatial one of that size."""
    _raises(
        convcalc.ShapeError,
        lambda: convcalc.plan(nn.Conv2d(5, 4, 3), shape),
        "<model> (Conv2d): in_channels=5 but the input has 4 channels: use in_channels=4 (or give an input of 5 "
        f"channels). Received: input_shape={shape}",
    )


def test_a_lazy_convolution_checks_its_padding_mode_and_a_transposed_row_its_input() -> None:
    with pytest.raises(
        convcalc.SpecError, match=r"^padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular'"
    ):
        nn.LazyConv2d(4, 3, padding_mode="bogus")
    assert convcalc.plan(nn.ConvTranspose2d(3, 4, 3), (2, 3, 5, 5)).rows[0].input_shape == (2, 3, 5, 5)


def test_a_symbolic_3d_average_pool_states_torch_s_input_at_least_the_kernel() -> None:
    D = convcalc.symbols("D")
    plan = convcalc.plan(nn.AvgPool3d(3, padding=1), (1, 2, D, 4, 4))
    first = plan.constraints[0]
    assert (first.layer, first.axis, str(first.form), first.kind, first.value, first.reason) == (
        "",
        0,
        "D",
        ">=",
        3,
        "avg_pool3d input at least the kernel",
    )


def test_a_symbolic_feature_count_no_size_makes_in_features_is_told_as_such() -> None:
    # the flattened sizes were joined without brackets ("1 x 2*floor((H - 3)/2) + 4 x ..."), and the fix said
    # "use in_features=4*(floor(H/2 - 3/2) + 2)*...", which no Linear takes
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2),
        nn.ConvTranspose2d(2, 1, 3, stride=2, output_padding=1),
        nn.Flatten(),
        nn.Linear(99, 3),
    )
    H, W = convcalc.symbols("H W")
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(net, (1, 1, H, W))
    message = str(caught.value)
    assert "(Flatten of 1 x (2*floor((H - 3)/2) + 4) x (2*floor((W - 3)/2) + 4) = " in message
    assert (
        ": no input size makes that 99: give in_features the count at the input size you use (a plan with " in message
    )
