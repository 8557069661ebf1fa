"""``view`` of a tensor torch cannot view without a copy (``x.transpose(1, 2).view(b, -1)``): refused as torch
refuses it, where the strides are known; never refused where torch views it.

Chains of view-making and elementwise operations, drawn at random and written as a forward, are planned and run
in torch; the outcome (the output shape, or a refusal) must be the same.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc.torch import strides
from tests.test_torch_forms import Forward, check, plan_or_refusal, torch_outcome


def _merge(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    j = i % (x.dim() - 1) if x.dim() > 1 else 0
    sizes = (*x.shape[:j], -1, *x.shape[j + 2 :]) if x.dim() > 1 else (-1,)
    return x.view(*sizes) if how == "view" else x.reshape(*sizes)


def _split(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    j = i % x.dim()
    size = x.shape[j]
    part = 2 if size % 2 == 0 else 1
    sizes = (*x.shape[:j], part, size // part, *x.shape[j + 1 :])
    return x.view(*sizes) if how == "view" else x.unflatten(j, (part, size // part))


def _permute(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    order = list(range(x.dim()))
    order = order[i % x.dim() :] + order[: i % x.dim()]
    return x.permute(*order)


def _slice(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    if how == "step":
        return x[..., ::2] if i % 2 else x[:, ::2]
    return x[..., 1:] if i % 2 else x[1:]


def _unsqueeze(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    return x.unsqueeze(i % (x.dim() + 1)) if how == "unsqueeze" else x[:, None]


def _expand(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    return x.unsqueeze(-1).expand_as(torch.stack([x, x], -1))  # a new last axis of stride 0


def _transpose(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    if x.dim() < 2:
        return x
    return x.mT if how == "mT" else x.transpose(i % x.dim(), (i + 1) % x.dim())


def _broadcast_with(x: torch.Tensor, i: int, how: str) -> torch.Tensor:
    """``x`` and a slice of it one wide along axis ``i`` (broadcast back), in either order."""
    if x.dim() == 0:
        return x
    j = i % x.dim()
    other = x.narrow(j, 0, 1) if x.shape[j] else x
    return x * other if how == "first" else other * x


_STEPS = {
    "merge": (_merge, ("view", "reshape")),
    "split": (_split, ("view", "unflatten")),
    "permute": (_permute, ("",)),
    "slice": (_slice, ("step", "start")),
    "unsqueeze": (_unsqueeze, ("unsqueeze", "none")),
    "expand": (_expand, ("",)),
    "transpose": (_transpose, ("transpose", "mT")),
    "flatten": (lambda x, i, how: x.flatten(i % x.dim()), ("",)),
    "contiguous": (lambda x, i, how: x.contiguous(), ("",)),
    "relu": (lambda x, i, how: torch.relu(x), ("",)),
    "double": (lambda x, i, how: x * 2, ("",)),
    "sum": (lambda x, i, how: x + x, ("",)),
    "clone": (lambda x, i, how: x.clone(), ("",)),
    "squeeze": (lambda x, i, how: x.squeeze(i % x.dim()), ("",)),
    # operands of different layouts: torch's TensorIterator orders the result's axes by the first operand whose
    # strides tell them apart (a broadcast or expanded axis tells nothing)
    "mixed": (lambda x, i, how: x + x.contiguous() if how == "first" else x.contiguous() + x, ("first", "second")),
    "broadcast": (lambda x, i, how: _broadcast_with(x, i, how), ("first", "second")),
    "where": (lambda x, i, how: torch.where(x > 0, x, x.contiguous()), ("",)),
    "scalar": (lambda x, i, how: 1 - x if how == "rsub" else x / 2, ("rsub", "div")),
}

steps = st.lists(
    st.sampled_from(sorted(_STEPS)).flatmap(
        lambda name: st.tuples(st.just(name), st.integers(0, 5), st.sampled_from(_STEPS[name][1]))
    ),
    min_size=1,
    max_size=5,
).map(tuple)


class Chain(torch.nn.Module):
    def __init__(self, chain: tuple[tuple[str, int, str], ...], conv: bool) -> None:
        super().__init__()
        self.chain = chain
        self.conv = torch.nn.Conv2d(3, 4, 1) if conv else torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        for name, i, how in self.chain:
            x = _STEPS[name][0](x, i, how)
        return x.view(-1)  # a view at the end of every chain


@given(chain=steps, conv=st.booleans(), shape=st.sampled_from([(2, 3, 4, 6), (1, 3, 2, 4), (2, 3, 1, 5)]))
def test_a_view_is_refused_exactly_where_torch_refuses_it(
    chain: tuple[tuple[str, int, str], ...], conv: bool, shape: tuple[int, ...]
) -> None:
    """Refused exactly where torch refuses: the strides of every step are torch's, elementwise operations of
    operands laid out differently (or broadcast, or expanded) included."""
    model = Chain(chain, conv).eval()
    expected = torch_outcome(model, shape)
    plan, refused = plan_or_refusal(model, shape)
    if plan is None:
        assert expected is None, f"convcalc refuses ({refused}) but torch gives {expected}"
        return
    assert expected is not None, f"torch refuses but convcalc gives {plan.output_shapes}"
    assert plan.output_shapes == expected


@pytest.mark.parametrize(
    ("chain", "refused"),
    [
        ((("transpose", 1, "transpose"),), True),
        ((("transpose", 1, "transpose"), ("contiguous", 0, "")), False),
        ((("permute", 1, ""), ("relu", 0, "")), True),
        ((("slice", 2, "step"),), True),
        ((("slice", 0, "start"),), False),
        ((("merge", 1, "reshape"),), False),
    ],
)
def test_the_usual_mistake_and_its_fixes(chain: tuple[tuple[str, int, str], ...], refused: bool) -> None:
    model = Chain(chain, conv=True)
    if refused:
        with pytest.raises(convcalc.ShapeError, match=r"not compatible with the input's size and stride.*contiguous"):
            convcalc.plan(model, (2, 3, 4, 6))
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            model(torch.zeros(2, 3, 4, 6))
    else:
        assert convcalc.plan(model, (2, 3, 4, 6)).output_shape == tuple(model(torch.zeros(2, 3, 4, 6)).shape)


def test_the_message_names_the_operation_and_the_fix() -> None:
    model = Chain((("transpose", 1, "transpose"),), conv=True)
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(model, (2, 3, 4, 6))
    assert str(info.value) == (
        "view (view): view size (192,) is not compatible with the input's size and stride (an axis of the view "
        "spans parts of the input that are not laid out one after another, as after a transpose or permute; torch: "
        "RuntimeError); call .contiguous() first, or use .reshape(192,). Received: input_shape=(2, 4, 4, 6)"
    )


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    data=st.data(),
)
def test_strides_of_views_are_torch_s(shape: tuple[int, ...], data: st.DataObject) -> None:
    """The stride rules against torch's own strides: a permutation, a step, then a view of drawn sizes."""
    x = torch.zeros(shape)
    order = data.draw(st.permutations(range(len(shape))))
    x = x.permute(*order)
    got = strides.contiguous(tuple(torch.zeros(shape).shape))
    assert got is not None
    got = tuple(got[j] for j in order)
    assert got == x.stride()
    assert strides.is_contiguous(tuple(x.shape), got) == x.is_contiguous()
    new = data.draw(st.permutations(list(x.shape)).map(tuple))
    try:
        expected: Any = x.view(new).stride()
    except RuntimeError:
        expected = None
    assert strides.viewed(tuple(x.shape), got, new) == expected
    j = data.draw(st.integers(0, len(shape)))
    assert strides.unsqueezed(tuple(x.shape), got, j) == x.unsqueeze(j).stride()


def _laid_out(data: st.DataObject, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor of ``shape`` laid out as a forward may meet one: its axes in a drawn order in memory, some taken
    every other element, some expanded from 1, an axis of size 1 put in by ``unsqueeze``, or made contiguous."""
    rank = len(shape)
    order = data.draw(st.permutations(range(rank)))
    expanded = data.draw(st.sets(st.sampled_from(range(rank)))) if rank else set()
    stepped = data.draw(st.sets(st.sampled_from(range(rank)))) if rank else set()
    sizes = [1 if j in expanded else shape[j] * (2 if j in stepped else 1) for j in range(rank)]
    x = torch.zeros([sizes[j] for j in order]).permute(*sorted(range(rank), key=order.__getitem__))
    x = x[tuple(slice(None, None, 2) if j in stepped and j not in expanded else slice(None) for j in range(rank))]
    x = x.expand(*shape)
    ones = [j for j, d in enumerate(shape) if d == 1]
    if ones and data.draw(st.booleans()):
        x = x.squeeze(ones[0]).unsqueeze(ones[0])
    if data.draw(st.booleans()):
        x = x.contiguous()
    assert tuple(x.shape) == shape
    return x


@given(
    shape=st.lists(st.sampled_from([1, 1, 2, 3, 4]), min_size=1, max_size=5).map(tuple),
    kind=st.sampled_from(["add", "relu", "scalar", "where", "clone", "broadcast"]),
    data=st.data(),
)
def test_the_layout_of_an_elementwise_result_is_torch_s(kind: str, shape: tuple[int, ...], data: st.DataObject) -> None:
    """TensorIterator's rule (and clone's) against torch's own strides, for operands laid out every way."""
    a = _laid_out(data, shape)
    b = _laid_out(data, tuple(a.shape))
    if kind == "broadcast":  # a second operand with some axes of size 1, or fewer axes
        kept = data.draw(st.lists(st.booleans(), min_size=a.dim(), max_size=a.dim()))
        b = a.sum([j for j, keep in enumerate(kept) if not keep], keepdim=True)[
            (0,) * data.draw(st.integers(0, a.dim()))
        ]
    if kind == "clone":
        out, operands = a.clone(), [a]
    elif kind == "relu":
        out, operands = torch.relu(a), [a]
    elif kind == "scalar":
        out, operands = a * 2, [a]
    elif kind == "where":
        out, operands = torch.where(b > 0, a, b), [b > 0, a, b]
    else:
        first = data.draw(st.booleans())
        out, operands = (a + b, [a, b]) if first else (b + a, [b, a])
    if out.numel() == 0:
        return
    laid = [(tuple(t.shape), tuple(t.stride())) for t in operands]
    if kind == "clone":
        got = strides.copied(tuple(a.shape), tuple(a.stride()))
    else:
        got = strides.iterated(laid, tuple(out.shape), scalars=kind == "scalar")
    assert got == out.stride(), laid


_F = torch.nn.functional
_ELEMENTWISE = [
    *(getattr(_F, n) for n in ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                               "hardswish", "hardsigmoid", "hardtanh", "sigmoid", "tanh", "softplus", "softsign",
                               "logsigmoid", "tanhshrink", "hardshrink", "softshrink", "rrelu", "dropout",
                               "dropout2d", "alpha_dropout", "feature_alpha_dropout")),
    *(getattr(torch, n) for n in ("abs", "exp", "log", "sqrt", "rsqrt", "square", "reciprocal", "sign", "erf",
                                  "sin", "cos", "neg", "sigmoid", "tanh")),
    lambda x: torch.clamp(x, 0, 1),
    lambda x: _F.threshold(x, 0.5, 0.0),
    lambda x: x + x,
    lambda x: x * x,
    lambda x: x - 1,
    lambda x: torch.maximum(x, x),
    lambda x: (x > 0) & (x < 1),
    lambda x: torch.where(x > 0, x, x),
    lambda x: x.masked_fill(x > 0, 0.0),
    lambda x: x.clone(),
    lambda x: x.float(),
    lambda x: x.detach(),
    lambda x: x.relu_(),
]  # fmt: skip


@pytest.mark.parametrize("function", _ELEMENTWISE)
@pytest.mark.parametrize("train", [False, True])
def test_the_layout_an_elementwise_operation_gives_a_permuted_tensor(function: Any, train: bool) -> None:
    """torch keeps a permuted tensor's layout through most elementwise operations (a view of the result fails
    as the view of the input would) and lays a few out anew (logsigmoid, rrelu, masked_fill): the plan agrees."""
    model = Forward(lambda self, x: function(self.conv(x).permute(0, 2, 3, 1)).view(x.shape[0], -1))
    model.conv = torch.nn.Conv2d(3, 4, 1)
    check(model.train(train), (2, 3, 5, 6))


@pytest.mark.parametrize(
    "function",
    [
        lambda x: x.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).view(x.shape[0], -1),
        lambda x: x.to(memory_format=torch.channels_last).permute(0, 2, 3, 1).view(x.shape[0], -1),
        lambda x: torch.empty_like(x, memory_format=torch.channels_last).permute(0, 2, 3, 1).view(x.shape[0], -1),
        lambda x: x.contiguous(memory_format=torch.channels_last).view(x.shape[0], -1),
        lambda x: x[0].contiguous(memory_format=torch.channels_last),  # torch: required rank 4 tensor
        # roll keeps a channels-last layout (not followed: only the view torch makes is checked)
        lambda x: x.contiguous(memory_format=torch.channels_last).roll(1, 2).permute(0, 2, 3, 1).view(x.shape[0], -1),
        # a global pool of a channels-last tensor is (n, c, 1, 1) of strides (c, 1, c, c): channels-last to torch
        lambda x: (
            torch.nn.functional.interpolate(
                torch.nn.functional.adaptive_avg_pool2d(x.contiguous(memory_format=torch.channels_last), 1),
                scale_factor=2,
            )
            .permute(0, 2, 3, 1)
            .view(x.shape[0], -1)
        ),
        lambda x: torch.nn.functional.interpolate(
            torch.nn.functional.adaptive_avg_pool2d(x.contiguous(memory_format=torch.channels_last), 1), scale_factor=2
        ).view(x.shape[0], -1),
        # torch.contiguous_format lays a channels-last or permuted tensor out contiguously again
        lambda x: (
            x.contiguous(memory_format=torch.channels_last)
            .contiguous(memory_format=torch.contiguous_format)
            .view(x.shape[0], -1)
        ),
        lambda x: x.permute(0, 2, 3, 1).contiguous(memory_format=torch.contiguous_format).view(x.shape[0], -1),
        lambda x: (
            x.to(memory_format=torch.channels_last).to(memory_format=torch.contiguous_format).view(x.shape[0], -1)
        ),
        lambda x: (
            torch.empty_like(x.contiguous(memory_format=torch.channels_last), memory_format=torch.contiguous_format)
            .permute(0, 2, 3, 1)
            .view(x.shape[0], -1)
        ),
        # torch.preserve_format keeps the input's strides (a permuted one's view fails, a channels-last one's permute views)
        lambda x: x.permute(0, 2, 3, 1).clone(memory_format=torch.preserve_format).view(x.shape[0], -1),
        lambda x: x.permute(0, 2, 3, 1).to(memory_format=torch.preserve_format).view(x.shape[0], -1),
        lambda x: torch.empty_like(x.permute(0, 2, 3, 1), memory_format=torch.preserve_format).view(x.shape[0], -1),
        lambda x: (
            torch.empty_like(x.contiguous(memory_format=torch.channels_last), memory_format=torch.preserve_format)
            .permute(0, 2, 3, 1)
            .view(x.shape[0], -1)
        ),
    ],
)
def test_a_memory_format_gives_torchs_layout(function: Any) -> None:
    """``x.contiguous(memory_format=torch.channels_last)`` and its kin lay the tensor out channels-last: a view
    torch refuses is refused, one it makes is planned, by rule (a fault of the rule must not hide behind torch's
    machinery, which would give the same shapes)."""
    model = Forward(lambda self, x: function(self.conv(x)))
    model.conv = torch.nn.Conv2d(3, 4, 1)
    plan = check(model, (2, 3, 5, 6))
    assert plan is None or {r.source for r in plan.rows} == {"rule"}


def _layer(name: str) -> torch.nn.Module:
    """A torch layer taking (N, 8, H, W), built with small arguments."""
    made: dict[str, Any] = {
        "Conv2d": lambda: torch.nn.Conv2d(8, 8, 3, padding=1),
        "Conv2d1x1": lambda: torch.nn.Conv2d(8, 4, 1),
        "ConvTranspose2d": lambda: torch.nn.ConvTranspose2d(8, 4, 2, 2),
        "BatchNorm2d": lambda: torch.nn.BatchNorm2d(8),
        "GroupNorm": lambda: torch.nn.GroupNorm(2, 8),
        "InstanceNorm2d": lambda: torch.nn.InstanceNorm2d(8),
        "LayerNorm": lambda: torch.nn.LayerNorm(6),
        "MaxPool2d": lambda: torch.nn.MaxPool2d(2),
        "AvgPool2d": lambda: torch.nn.AvgPool2d(3, 1, 1),
        "AdaptiveAvgPool2d": lambda: torch.nn.AdaptiveAvgPool2d(2),
        "Upsample": lambda: torch.nn.Upsample(scale_factor=2),
        "ReflectionPad2d": lambda: torch.nn.ReflectionPad2d(1),
        "CircularPad2d": lambda: torch.nn.CircularPad2d(1),
        "PixelShuffle": lambda: torch.nn.PixelShuffle(2),
        "Softmax": lambda: torch.nn.Softmax(1),
        "Softmax2d": lambda: torch.nn.Softmax2d(),
        "ReLU": lambda: torch.nn.ReLU(),
        "LogSigmoid": lambda: torch.nn.LogSigmoid(),
        "Dropout": lambda: torch.nn.Dropout(0.5),
        "Identity": lambda: torch.nn.Identity(),
        "Flatten": lambda: torch.nn.Flatten(),
        "Flatten2": lambda: torch.nn.Flatten(2),
        "Unflatten": lambda: torch.nn.Unflatten(1, (2, 4)),
        "CircularConv": lambda: torch.nn.Conv2d(8, 4, 3, padding=1, padding_mode="circular"),
        "PoolThenUp": lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Upsample(scale_factor=2)),
        "PoolThenConv": lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Conv2d(8, 4, 3, padding=1)),
        "Block": lambda: torch.nn.Sequential(
            torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
        ),
        "NormBlock": lambda: torch.nn.Sequential(torch.nn.ReLU(), torch.nn.InstanceNorm2d(8), torch.nn.ReLU()),
    }
    return made[name]()


_LAYERS = ["Conv2d", "Conv2d1x1", "ConvTranspose2d", "BatchNorm2d", "GroupNorm", "InstanceNorm2d", "LayerNorm",
           "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample", "ReflectionPad2d", "CircularPad2d",
           "PixelShuffle", "Softmax", "Softmax2d", "ReLU", "LogSigmoid", "Dropout", "Identity", "Flatten", "Block",
           "NormBlock", "Flatten2", "Unflatten", "CircularConv", "PoolThenUp", "PoolThenConv"]  # fmt: skip


@pytest.mark.parametrize("name", _LAYERS)
@pytest.mark.parametrize("laid", ["nhwc input", "channels-last weights", "channels_last input"])
@pytest.mark.parametrize("train", [False, True])
def test_a_layer_keeps_or_resets_a_channels_last_layout_as_torch_does(name: str, laid: str, train: bool) -> None:
    """A channels-last tensor (an NHWC input permuted, a model made channels-last, ``x.contiguous(memory_format=
    torch.channels_last)``) through a layer, then ``view(n, -1)``: torch refuses it where the layer kept the
    layout (a convolution, a batch norm, a pool) and views it where the layer made the output contiguous (an
    instance norm, a softmax, a layer norm): the plan agrees."""
    prepare = {
        "nhwc input": lambda x: x.permute(0, 3, 1, 2),
        "channels_last input": lambda x: x.contiguous(memory_format=torch.channels_last),
        "channels-last weights": lambda x: x,
    }[laid]
    model = Forward(lambda self, x: self.layer(prepare(x)).view(x.shape[0], -1), layer=_layer(name))
    if laid == "channels-last weights":
        model.to(memory_format=torch.channels_last)
    shape = (2, 6, 6, 8) if laid == "nhwc input" else (2, 8, 6, 6)
    check(model.train(train), shape)


def test_channels_last_weights_give_a_layout_the_plan_does_not_take_for_contiguous() -> None:
    """A convolution with channels-last weights returns a channels-last output: permuted to NHWC it is contiguous,
    and torch views it; the plan must not refuse that view."""
    model = Forward(lambda self, x: self.conv(x).permute(0, 2, 3, 1).view(x.shape[0], -1))
    model.conv = torch.nn.Conv2d(3, 4, 3)
    model.to(memory_format=torch.channels_last)
    assert torch_outcome(model, (2, 3, 8, 8)) == ((2, 144),)
    assert convcalc.plan(model, (2, 3, 8, 8)).output_shape == (2, 144)


def test_a_channels_last_layout_of_another_rank_is_refused_with_torchs_reason() -> None:
    model = Forward(lambda self, x: x[0].contiguous(memory_format=torch.channels_last))
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(model, (2, 3, 5, 6))
    assert str(caught.value) == (
        "contiguous (contiguous): torch.channels_last lays out a 4-D tensor, not a 3-D one (torch: required rank 4 "
        "tensor to use channels_last format). Received: input_shape=(3, 5, 6)"
    )


F = torch.nn.functional
_CL = torch.channels_last


@pytest.mark.parametrize(
    "function",
    [
        lambda s, x: F.conv2d(x.contiguous(memory_format=_CL), s.w).permute(0, 2, 3, 1).view(2, -1),
        lambda s, x: F.conv2d(x.contiguous(memory_format=_CL), s.w).view(2, -1),
        # a (3, 4, 1, 1) weight is channels-last contiguous already: .contiguous() returns it, strides and all, and
        # torch does not take it as channels-last; .to() lays it out anew, and torch does
        lambda s, x: F.conv2d(x, s.w.contiguous(memory_format=_CL)).permute(0, 2, 3, 1).view(2, -1),
        lambda s, x: F.conv2d(x, s.w.to(memory_format=_CL)).permute(0, 2, 3, 1).view(2, -1),
        lambda s, x: F.conv2d(x, s.w3.contiguous(memory_format=_CL)).permute(0, 2, 3, 1).view(2, -1),
        lambda s, x: F.conv2d(x, s.w3.contiguous(memory_format=_CL)).view(2, -1),
        lambda s, x: torch.cat([x.contiguous(memory_format=_CL)] * 2, 1).permute(0, 2, 3, 1).view(2, -1),
        lambda s, x: torch.cat([x.contiguous(memory_format=_CL), x], 1).view(2, -1),
        lambda s, x: torch.cat([x.contiguous(memory_format=_CL)] * 2, 1).view(2, -1),
        lambda s, x: x.permute(0, 2, 3, 1).flip(1).view(2, -1),
        lambda s, x: torch.zeros_like(x.permute(0, 2, 3, 1)).view(2, -1),
        lambda s, x: x.contiguous(memory_format=_CL).flip(2).permute(0, 2, 3, 1).view(2, -1),
    ],
)
def test_convolutions_joins_and_copies_lay_out_as_torch_does(function: Any) -> None:
    """A channels-last input or weight makes a channels-last convolution; a join of channels-last tensors is one;
    flip and zeros_like keep a permuted tensor's strides: a view torch refuses is refused, one it makes planned."""
    model = Forward(function)
    model.w = torch.nn.Parameter(torch.zeros(3, 4, 1, 1))
    model.w3 = torch.nn.Parameter(torch.zeros(3, 4, 3, 3))
    plan = check(model, (2, 4, 5, 6))
    assert plan is None or {r.source for r in plan.rows} == {"rule"}
