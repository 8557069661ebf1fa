"""The normalisations and channel-wise functions a forward calls (``F.layer_norm``, ``F.rms_norm``,
``F.group_norm``, ``F.batch_norm``, ``F.instance_norm``, ``F.prelu``, ``F.channel_shuffle``, softmax and its kin,
``F.normalize``) and the shape-keeping torch layers convcalc plans by class name (``Elementwise``), against torch
running the same forward on zeros.

Each call is written the way models write it: positional or keyword arguments, the torch function or the tensor
method, weights as parameters and running statistics as buffers. A plan keeps the input's shape where torch runs,
and refuses with a ShapeError or SpecError where torch raises; the messages name the layer, the argument, the value
and what would fit; sizes that are symbols become the conditions torch checks; and the receptive field and the
constness of the input pass through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import torch_bridge as tb
from tests.outcomes import convcalc_outcome, torch_outcome

torch.set_num_threads(1)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Implicit dimension choice:UserWarning"),  # F.softmax(x): torch picks the dim
    pytest.mark.filterwarnings("ignore:input's size at dim:UserWarning"),  # InstanceNorm: num_features unused
]

Shape = tuple[int, ...]
Forward = Callable[[Any, Any], Any]


class Holding(torch.nn.Module):
    """A forward ``function(self, x)`` whose tensors the module holds: running statistics (``running_*``) as
    buffers, the others as parameters; a name given None is the attribute None."""

    def __init__(self, function: Forward, **tensors: Shape | None) -> None:
        super().__init__()
        self.function = function
        for name, shape in tensors.items():
            if shape is None:
                setattr(self, name, None)
            elif name.startswith("running"):
                self.register_buffer(name, torch.zeros(shape) if name.endswith("mean") else torch.ones(shape))
            else:
                self.register_parameter(name, torch.nn.Parameter(torch.ones(shape)))

    def forward(self, x: Any) -> Any:
        return self.function(self, x)


def agrees(model: Any, shape: Shape, *, fallback: bool = False) -> Shape | None:
    """convcalc keeps the shape exactly where torch runs the forward."""
    expected = torch_outcome(model, shape)
    got = convcalc_outcome(model, shape, fallback=fallback)
    assert got == expected, f"convcalc {got}, torch {expected}"
    assert got in (None, shape)
    return got


def shapes(min_rank: int, max_rank: int, max_size: int = 4) -> st.SearchStrategy[Shape]:
    return st.lists(st.integers(1, max_size), min_size=min_rank, max_size=max_rank).map(tuple)


def vector(size: int | None) -> Shape | None:
    return None if size is None else (size,)


# channel counts for weights and statistics: often the input's, sometimes another, sometimes absent
def channel_sizes(channels: int) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), st.just(channels), st.integers(1, 5))


# the shape of a weight or a statistic: a vector as above, or a scalar or a 2-D tensor (torch counts the elements
# of some, and refuses them in others)
def channel_tensors(channels: int) -> st.SearchStrategy[Shape | None]:
    others = st.sampled_from([(), (1, channels), (channels, 1), (2, channels)])
    return st.one_of(channel_sizes(channels).map(vector), others)


_EMPTIED: dict[str, Callable[[], torch.nn.Module]] = {
    "GroupNorm": lambda: torch.nn.GroupNorm(2, 4),
    "GroupNorm of one channel per group": lambda: torch.nn.GroupNorm(4, 4),
    "InstanceNorm1d": lambda: torch.nn.InstanceNorm1d(4),
    "InstanceNorm1d tracking, in training": lambda: torch.nn.InstanceNorm1d(4, track_running_stats=True).train(),
    "BatchNorm1d in training": lambda: torch.nn.BatchNorm1d(4).train(),
    "F.group_norm": lambda: Holding(lambda m, x: F.group_norm(x, 4)),
    "F.instance_norm": lambda: Holding(lambda m, x: F.instance_norm(x)),
    "F.batch_norm in training": lambda: Holding(lambda m, x: F.batch_norm(x, None, None, training=True)),
}


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", sorted(_EMPTIED))
def test_statistics_of_no_value_give_an_empty_output(name: str, batch: int) -> None:
    """torch refuses statistics of exactly one value (``size_prods == 1``), not of none: a norm of an axis a
    slice empties returns an empty tensor, with numbers and at the sizes a symbolic plan holds for."""
    model = Holding(lambda m, x: m.norm(x[:, :, 2:]))
    model.norm = _EMPTIED[name]()
    for length in range(1, 7):
        assert convcalc_outcome(model, (batch, 4, length)) == torch_outcome(model, (batch, 4, length)), length
    assert torch_outcome(model, (batch, 4, 2)) == (batch, 4, 0)
    valid = convcalc.plan(model, (batch, 4, "L")).valid_sizes()
    for length in range(2, 9):  # (below 2 the slice's symbolic length is negative, and left out)
        assert (length in valid) == (torch_outcome(model, (batch, 4, length)) is not None), (length, valid)


def test_one_value_per_group_is_refused_with_its_count() -> None:
    model = Holding(lambda m, x: m.norm(x[:, :, 2:]))
    model.norm = torch.nn.GroupNorm(4, 4)
    assert torch_outcome(model, (1, 4, 3)) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(model, (1, 4, 3))
    assert str(info.value).startswith(
        "norm (GroupNorm): expects more than 1 value per group, or none: a batch of 1 with 1 channel(s) per group "
        "and 1 position(s) gives one"
    )


# --------------------------------------------------------------------------- #
# F.layer_norm, F.rms_norm
# --------------------------------------------------------------------------- #


@st.composite
def normalized_shapes(draw: st.DrawFn, shape: Shape) -> tuple[int, ...]:
    """The input's last dims (the rule), more dims than the input has, or one of them changed."""
    n = draw(st.integers(1, len(shape) + 1))
    normalized = list(shape[-n:]) if n <= len(shape) else [2, *shape]
    if draw(st.booleans()):
        normalized[draw(st.integers(0, n - 1))] = draw(st.integers(1, 5))
    return tuple(normalized)


@st.composite
def affine_shapes(draw: st.DrawFn, normalized: tuple[int, ...]) -> Shape | None:
    """A layer_norm weight or bias: None, ``normalized_shape`` itself, one size changed, fewer dims, or more dims
    whose last ones match (``(3, 4)`` or ``(1, 4)`` for ``(4,)``)."""
    how = draw(st.sampled_from(["none", "same", "changed", "fewer", "more"]))
    if how == "none":
        return None
    shape = list(normalized)
    if how == "changed":
        shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(1, 5))
    elif how == "fewer" and len(shape) > 1:
        shape = shape[1:]
    elif how == "more":
        shape = [draw(st.integers(1, 3)), *shape]
    return tuple(shape)


_LAYER_NORM_FORMS: dict[str, Callable[[tuple[int, ...] | list[int]], Forward]] = {
    "F.layer_norm": lambda ns: lambda m, x: F.layer_norm(x, ns, m.weight, m.bias),
    "F.layer_norm keywords": lambda ns: (
        lambda m, x: F.layer_norm(input=x, normalized_shape=ns, bias=m.bias, weight=m.weight, eps=1e-3)
    ),
    "torch.layer_norm": lambda ns: lambda m, x: torch.layer_norm(x, ns, m.weight, m.bias),
    "F.rms_norm": lambda ns: lambda m, x: F.rms_norm(x, ns, m.weight),
    "F.rms_norm eps": lambda ns: lambda m, x: F.rms_norm(x, ns, m.weight, 1e-3),
    "torch.rms_norm": lambda ns: lambda m, x: torch.rms_norm(x, ns, m.weight),
}


@given(st.data(), shapes(1, 4), st.sampled_from(sorted(_LAYER_NORM_FORMS)), st.booleans())
def test_layer_norm_and_rms_norm_match_torch(data: st.DataObject, shape: Shape, form: str, as_list: bool) -> None:
    normalized = data.draw(normalized_shapes(shape))
    weight = data.draw(affine_shapes(normalized))
    bias = None if "rms" in form else data.draw(affine_shapes(normalized))
    function = _LAYER_NORM_FORMS[form](list(normalized) if as_list else normalized)
    agrees(Holding(function, weight=weight, bias=bias), shape)


def test_layer_norm_without_weights_takes_the_defaults() -> None:
    # torch.layer_norm(x, shape) leaves weight and bias to their defaults (F.layer_norm always passes them)
    for function in (torch.layer_norm, torch.rms_norm):
        assert agrees(Holding(lambda m, x, f=function: f(x, (4, 3))), (2, 4, 3)) == (2, 4, 3)
        assert agrees(Holding(lambda m, x, f=function: f(x, [3])), (2, 4, 3)) == (2, 4, 3)
        assert agrees(Holding(lambda m, x, f=function: f(x, (4,))), (2, 4, 3)) is None
    # the whole input normalised: as many dims as the input has
    assert agrees(Holding(lambda m, x: F.layer_norm(x, (2, 4))), (2, 4)) == (2, 4)


@pytest.mark.parametrize("function", [F.layer_norm, torch.layer_norm, F.rms_norm, torch.rms_norm])
@pytest.mark.parametrize("normalized", [3, ()])
def test_normalized_shape_is_a_tuple_or_list_of_one_size_or_more(function: Any, normalized: Any) -> None:
    # torch takes no int here (nn.LayerNorm(3) turns its int into a tuple), nor an empty shape
    model = Holding(lambda m, x: function(x, normalized))
    assert torch_outcome(model, (2, 4, 3)) is None
    with pytest.raises(convcalc.SpecError, match="normalized_shape"):
        convcalc.plan(model, (2, 4, 3))


# --------------------------------------------------------------------------- #
# F.group_norm, F.channel_shuffle
# --------------------------------------------------------------------------- #

_GROUP_NORM_FORMS: dict[str, Callable[[Any], Forward]] = {
    "F.group_norm": lambda g: lambda m, x: F.group_norm(x, g, m.weight, m.bias),
    "F.group_norm keywords": lambda g: lambda m, x: F.group_norm(x, num_groups=g, bias=m.bias, weight=m.weight),
    "torch.group_norm": lambda g: lambda m, x: torch.group_norm(x, g, m.weight, m.bias),
    "torch.group_norm defaults": lambda g: lambda m, x: torch.group_norm(x, g),
}


@given(
    shapes(1, 4, max_size=6),
    st.one_of(st.integers(0, 5), st.just(2.0)),
    st.data(),
    st.sampled_from(sorted(_GROUP_NORM_FORMS)),
)
def test_group_norm_matches_torch(shape: Shape, groups: Any, data: st.DataObject, form: str) -> None:
    channels = shape[1] if len(shape) > 1 else 1
    weight, bias = data.draw(channel_tensors(channels)), data.draw(channel_tensors(channels))
    agrees(Holding(_GROUP_NORM_FORMS[form](groups), weight=weight, bias=bias), shape)


@pytest.mark.parametrize(
    ("shape", "groups", "fits"),
    [((1, 2), 2, False), ((2, 2), 2, True), ((1, 4), 2, True), ((1, 3, 1, 1), 3, False), ((1, 3, 1, 2), 3, True)],
)
def test_group_norm_needs_two_values_per_group(shape: Shape, groups: int, fits: bool) -> None:
    # F.group_norm checks the size of the statistics it computes; torch.group_norm does not
    assert (agrees(Holding(lambda m, x: F.group_norm(x, groups)), shape) is not None) is fits
    assert agrees(Holding(lambda m, x: torch.group_norm(x, groups)), shape) == shape


@pytest.mark.parametrize(
    ("function", "fits"),
    [
        (lambda m, x: torch.group_norm(x, 2, weight=m.weight, bias=m.bias, eps=1e-5), True),
        (lambda m, x: torch.group_norm(x, 2, m.weight, m.bias, 1e-5, False), True),
        (lambda m, x: F.group_norm(x, 2, weight=m.weight, bias=m.bias, eps=1e-5), False),
        (lambda m, x: F.group_norm(x, 2, m.weight, m.bias, 1e-5), False),
    ],
)
def test_the_function_called_decides_the_checks_not_its_keywords(function: Forward, fits: bool) -> None:
    # torch.group_norm written with F's keywords is still torch's own form, which takes one value per group
    model = Holding(function, weight=(2,), bias=(2,))
    assert (agrees(model, (1, 2)) is not None) is fits


def test_group_norm_of_an_input_without_spatial_axes() -> None:
    # (N, C) is a group_norm input (and a channel count of 1 group, or C groups, fits)
    for groups in (1, 2, 4):
        assert agrees(Holding(lambda m, x, g=groups: F.group_norm(x, g)), (3, 4)) == (3, 4)
    assert agrees(Holding(lambda m, x: torch.group_norm(x, 2)), (1, 2)) == (1, 2)  # torch's own takes one value
    assert agrees(Holding(lambda m, x: F.group_norm(x, 3)), (3, 4)) is None
    assert agrees(Holding(lambda m, x: F.group_norm(x, 2)), (4,)) is None
    assert agrees(Holding(lambda m, x: F.group_norm(x, "2")), (3, 4)) is None


_SHUFFLE_FORMS: dict[str, Callable[[Any], Forward]] = {
    "F.channel_shuffle": lambda g: lambda m, x: F.channel_shuffle(x, g),
    "F.channel_shuffle keyword": lambda g: lambda m, x: F.channel_shuffle(x, groups=g),
    "torch.native_channel_shuffle": lambda g: lambda m, x: torch.native_channel_shuffle(x, g),
}


@given(shapes(1, 5, max_size=6), st.integers(0, 5), st.sampled_from(sorted(_SHUFFLE_FORMS)))
def test_channel_shuffle_matches_torch(shape: Shape, groups: int, form: str) -> None:
    got = agrees(Holding(_SHUFFLE_FORMS[form](groups)), shape)
    assert (got is not None) == (len(shape) > 2 and groups > 0 and shape[1] % groups == 0)


# --------------------------------------------------------------------------- #
# F.batch_norm, F.instance_norm
# --------------------------------------------------------------------------- #


_STATISTICS = ("running_mean", "running_var", "weight", "bias")

_BATCH_NORM_FORMS: dict[str, Callable[[bool], Forward]] = {
    "F.batch_norm": lambda t: lambda m, x: F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, t),
    "F.batch_norm keywords": lambda t: (
        lambda m, x: F.batch_norm(
            x, weight=m.weight, bias=m.bias, running_var=m.running_var, running_mean=m.running_mean, training=t
        )
    ),
    # torch's own takes nine arguments, the weight first, and does not check the size of its statistics
    "torch.batch_norm": lambda t: (
        lambda m, x: torch.batch_norm(x, m.weight, m.bias, m.running_mean, m.running_var, t, 0.1, 1e-5, False)
    ),
    "torch.batch_norm keywords": lambda t: (
        lambda m, x: torch.batch_norm(
            x, m.weight, m.bias, m.running_mean, m.running_var, training=t, momentum=0.1, eps=1e-5, cudnn_enabled=False
        )
    ),
}


@given(shapes(1, 4), st.data(), st.booleans(), st.sampled_from(sorted(_BATCH_NORM_FORMS)))
def test_batch_norm_matches_torch(shape: Shape, data: st.DataObject, training: bool, form: str) -> None:
    # running statistics present, absent or one of the two; weights and statistics of any count and of 0-2 dims
    channels = shape[1] if len(shape) > 1 else shape[0]
    tensors = {name: data.draw(channel_tensors(channels), label=name) for name in _STATISTICS}
    agrees(Holding(_BATCH_NORM_FORMS[form](training), **tensors), shape)


@pytest.mark.parametrize(
    ("shape", "fits"),
    [
        ((1, 3), False),
        ((2, 3), True),
        ((1, 3, 1), False),
        ((1, 3, 2), True),
        ((2, 3, 1), True),
        ((1, 3, 1, 1), False),
        ((1, 3, 1, 2), True),
        ((1, 3, 2, 1), True),
    ],
)
def test_batch_norm_in_training_needs_two_values_per_channel(shape: Shape, fits: bool) -> None:
    model = Holding(lambda m, x: F.batch_norm(x, None, None, training=True))
    assert (agrees(model, shape) is not None) is fits
    # in evaluation, the running statistics are used: one value is enough
    model = Holding(lambda m, x: F.batch_norm(x, m.running_mean, m.running_var), running_mean=(3,), running_var=(3,))
    assert agrees(model, shape) == shape


@given(shapes(1, 5), st.data(), st.sampled_from([True, False, None]), st.sampled_from(["F", "keywords", "torch"]))
def test_instance_norm_matches_torch(shape: Shape, data: st.DataObject, stats: bool | None, form: str) -> None:
    channels = shape[1] if len(shape) > 1 else shape[0]
    tensors = {name: data.draw(channel_tensors(channels), label=name) for name in _STATISTICS}

    def call(m: Any, x: Any) -> Any:
        if form == "torch":  # torch's own: nine arguments, the weight first; no check of the spatial size
            use = stats is not False
            return torch.instance_norm(x, m.weight, m.bias, m.running_mean, m.running_var, use, 0.1, 1e-5, False)
        if stats is None:  # use_input_stats left to its default (True)
            return F.instance_norm(x, m.running_mean, m.running_var, m.weight, m.bias)
        if form == "keywords":
            return F.instance_norm(
                x,
                use_input_stats=stats,
                bias=m.bias,
                weight=m.weight,
                running_mean=m.running_mean,
                running_var=m.running_var,
            )
        return F.instance_norm(x, m.running_mean, m.running_var, m.weight, m.bias, stats)

    agrees(Holding(call, **tensors), shape)


@pytest.mark.parametrize(
    ("shape", "fits"),
    [
        ((2, 3), False),
        ((2, 3, 1), False),
        ((2, 3, 2), True),
        ((1, 3, 1, 1), False),
        ((1, 3, 1, 2), True),
        ((1, 3, 2, 1), True),
        ((1, 3, 1, 1, 1), False),
        ((1, 3, 1, 1, 2), True),
    ],
)
def test_instance_norm_needs_two_spatial_elements_with_input_statistics(shape: Shape, fits: bool) -> None:
    assert (agrees(Holding(lambda m, x: F.instance_norm(x)), shape) is not None) is fits
    model = Holding(
        lambda m, x: F.instance_norm(x, m.running_mean, m.running_var, use_input_stats=False),
        running_mean=(3,),
        running_var=(3,),
    )
    assert agrees(model, shape) == shape


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
@pytest.mark.parametrize("function", [F.batch_norm, F.instance_norm])
def test_each_statistic_and_weight_is_checked_alone(name: str, function: Callable[..., Any]) -> None:
    def call(m: Any, x: Any) -> Any:
        return function(x, m.running_mean, m.running_var, m.weight, m.bias)

    sizes: dict[str, Shape | None] = {"running_mean": (3,), "running_var": (3,), "weight": None, "bias": None}
    sizes[name] = (4,)
    assert agrees(Holding(call, **sizes), (2, 3, 5)) is None
    sizes[name] = (3,)
    assert agrees(Holding(call, **sizes), (2, 3, 5)) == (2, 3, 5)


_NINE = (0.1, 1e-5, False)  # momentum, eps, cudnn_enabled of torch.batch_norm and torch.instance_norm


@pytest.mark.parametrize(
    ("function", "tensors", "flag"),
    [
        (lambda m, x: F.batch_norm(x, None, None), {}, "training=False"),
        (lambda m, x: F.batch_norm(x, m.running_mean, None), {"running_mean": (3,)}, "training=False"),
        (lambda m, x: F.batch_norm(x, None, m.running_var, training=True), {"running_var": (3,)}, "training=True"),
        (lambda m, x: torch.batch_norm(x, None, None, None, None, False, *_NINE), {}, "training=False"),
        (
            lambda m, x: torch.batch_norm(x, None, None, m.running_mean, None, True, *_NINE),
            {"running_mean": (3,)},
            "training=True",
        ),
        (lambda m, x: F.instance_norm(x, use_input_stats=False), {}, "use_input_stats=False"),
        (lambda m, x: F.instance_norm(x, m.running_mean), {"running_mean": (3,)}, "use_input_stats=True"),
        (
            lambda m, x: torch.instance_norm(x, None, None, None, m.running_var, False, *_NINE),
            {"running_var": (3,)},
            "use_input_stats=False",
        ),
    ],
)
def test_running_statistics_come_both_or_neither(
    function: Forward, tensors: dict[str, Shape | None], flag: str
) -> None:
    # both, or (where the forward computes its own statistics: training, use_input_stats) neither
    model = Holding(function, **tensors)
    assert torch_outcome(model, (2, 3, 4)) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(model, (2, 3, 4))
    assert "expects running_mean and running_var both, or neither" in str(info.value)
    assert str(info.value).endswith(flag)


@pytest.mark.parametrize("form", ["F.batch_norm", "torch.batch_norm"])
def test_a_batch_norm_weight_is_counted_in_any_shape(form: str) -> None:
    # torch counts the elements of batch_norm's weight and bias; its running statistics must be vectors
    function = _BATCH_NORM_FORMS[form](False)
    stats: dict[str, Shape | None] = {"running_mean": (3,), "running_var": (3,)}
    assert agrees(Holding(function, weight=(1, 3), bias=(3, 1, 1), **stats), (2, 3, 4)) == (2, 3, 4)
    assert agrees(Holding(function, weight=(2, 3), bias=None, **stats), (2, 3, 4)) is None
    assert agrees(Holding(function, weight=(), bias=None, **stats), (2, 3, 4)) is None
    assert agrees(Holding(function, weight=(), bias=None, running_mean=(1,), running_var=(1,)), (2, 1, 4)) == (2, 1, 4)
    assert agrees(Holding(function, weight=None, bias=None, running_mean=(1, 3), running_var=(3,)), (2, 3, 4)) is None


def test_torch_s_own_forms_compute_statistics_of_one_value() -> None:
    # torch.batch_norm and torch.instance_norm (all nine arguments) do not check the size of their statistics
    model = Holding(lambda m, x: torch.batch_norm(x, None, None, None, None, True, *_NINE))
    assert agrees(model, (1, 3)) == (1, 3)
    model = Holding(lambda m, x: torch.instance_norm(x, None, None, None, None, True, *_NINE))
    assert agrees(model, (2, 3, 1)) == (2, 3, 1)


# --------------------------------------------------------------------------- #
# F.prelu
# --------------------------------------------------------------------------- #

_PRELU_FORMS: dict[str, Forward] = {
    "F.prelu": lambda m, x: F.prelu(x, m.weight),
    "F.prelu keyword": lambda m, x: F.prelu(x, weight=m.weight),
    "torch.prelu": lambda m, x: torch.prelu(x, m.weight),
    "Tensor.prelu": lambda m, x: x.prelu(m.weight),
}


@given(
    shapes(1, 4, max_size=5),
    st.one_of(st.just(()), st.integers(1, 5).map(lambda n: (n,)), st.sampled_from([(1, 1), (1, 3), (3, 1)])),
    st.sampled_from(sorted(_PRELU_FORMS)),
)
def test_prelu_matches_torch(shape: Shape, weight: Shape, form: str) -> None:
    # a weight of 2 dims is refused, even of one element
    got = agrees(Holding(_PRELU_FORMS[form], weight=weight), shape)
    if len(shape) > 1:
        assert (got is not None) == (weight in ((), (1,), (shape[1],)))


# --------------------------------------------------------------------------- #
# softmax, log_softmax, softmin, normalize
# --------------------------------------------------------------------------- #

_ALONG_DIM_FORMS: dict[str, Callable[[int | None], Forward]] = {
    "F.softmax": lambda d: lambda m, x: F.softmax(x, d),
    "F.softmax keyword": lambda d: lambda m, x: F.softmax(x, dim=d),
    "F.log_softmax": lambda d: lambda m, x: F.log_softmax(x, d),
    "F.softmin": lambda d: lambda m, x: F.softmin(x, dim=d),
    "Tensor.softmax": lambda d: lambda m, x: x.softmax(d),
    "Tensor.log_softmax keyword": lambda d: lambda m, x: x.log_softmax(dim=d),
    "torch.softmax": lambda d: lambda m, x: torch.softmax(x, d),
    "torch.log_softmax": lambda d: lambda m, x: torch.log_softmax(x, d),
    "Tensor.softmax dtype": lambda d: lambda m, x: x.softmax(d, torch.float64),
    "torch.log_softmax dtype": lambda d: lambda m, x: torch.log_softmax(x, d, torch.float64),
    "F.softmax dtype": lambda d: lambda m, x: F.softmax(x, d, dtype=torch.float64),
    "F.normalize": lambda d: lambda m, x: F.normalize(x, 2.0, d),
    "F.normalize keywords": lambda d: lambda m, x: F.normalize(x, dim=d, p=1.0),
}


@given(shapes(1, 4), st.integers(-6, 5), st.sampled_from(sorted(_ALONG_DIM_FORMS)))
def test_softmax_and_normalize_dims_match_torch(shape: Shape, dim: int, form: str) -> None:
    got = agrees(Holding(_ALONG_DIM_FORMS[form](dim)), shape)
    assert (got is not None) == (-len(shape) <= dim < len(shape))


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4)])
def test_dims_left_to_the_default(shape: Shape) -> None:
    # F.softmax(x) picks a dim itself (torch warns); F.normalize's dim is 1, out of range for a 1-D input
    for function in (F.softmax, F.log_softmax, F.softmin):
        assert agrees(Holding(lambda m, x, f=function: f(x)), shape) == shape
    assert agrees(Holding(lambda m, x: F.normalize(x)), shape) == (None if len(shape) == 1 else shape)
    assert agrees(Holding(lambda m, x: F.normalize(x, 3.0)), shape) == (None if len(shape) == 1 else shape)


@pytest.mark.parametrize(
    "function",
    [
        lambda m, x: x.softmax(),
        lambda m, x: x.log_softmax(),
        lambda m, x: x.softmax(dtype=torch.float64),
        lambda m, x: x.softmax(None),
        lambda m, x: x.log_softmax(dim=None),
    ],
)
def test_only_the_functional_softmax_picks_a_dim(function: Forward) -> None:
    # the tensor methods (and torch.softmax, which fx cannot trace without one) need an int dim
    model = Holding(function)
    assert torch_outcome(model, (2, 3, 4)) is None
    with pytest.raises(convcalc.SpecError, match="dim"):
        convcalc.plan(model, (2, 3, 4))


def test_softmax_of_a_scalar_made_in_forward() -> None:
    # a 0-D tensor takes dim 0 or -1, like a 1-D one
    for dim, fits in ((0, True), (-1, True), (1, False), (-2, False)):
        model = Holding(lambda m, x, d=dim: F.softmax(x.sum(), d) + x)
        assert (agrees(model, (2, 3)) is not None) is fits


# --------------------------------------------------------------------------- #
# Forms the handlers do not read themselves: torch's shape machinery plans them, or convcalc refuses
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "model",
    [
        Holding(lambda m, x: torch.layer_norm(x, (3,), None, None, 1e-5)),
        Holding(lambda m, x: torch.layer_norm(x, (4,), None, None, 1e-5, False)),
    ],
)
def test_more_arguments_than_the_handler_reads(model: Any) -> None:
    # the handler says it cannot follow the call (a SpecError); torch's shape machinery plans it where it can
    agrees(model, (2, 4, 3), fallback=True)


@pytest.mark.parametrize("groups", [1, 2, 3, 4])
def test_torch_s_own_group_norm_takes_all_its_arguments(groups: int) -> None:
    agrees(Holding(lambda m, x: torch.group_norm(x, groups, None, None, 1e-5, False)), (2, 4, 3))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Holding(lambda m, x: x.prelu()), "prelu (prelu): needs the argument 'weight'. Received: arguments=1"),
    ],
)
def test_arguments_a_handler_cannot_bind(model: Any, message: str) -> None:
    assert torch_outcome(model, (2, 4, 3)) is None
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(model, (2, 4, 3))
    assert str(info.value) == message


def test_torch_s_own_group_norm_reads_its_eps() -> None:
    model = Holding(lambda m, x: torch.group_norm(x, 3, None, None, 1e-5))
    assert torch_outcome(model, (2, 4, 3)) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(model, (2, 4, 3))
    assert str(info.value) == (
        "group_norm (group_norm): 4 channels do not split into num_groups=3. Received: input_shape=(2, 4, 3)"
    )


_NOT_A_TENSOR: dict[str, Forward] = {
    "layer_norm": lambda m, x: F.layer_norm(x.size(1), (4,), m.weight),
    "rms_norm": lambda m, x: F.rms_norm(x.size(1), (4,), m.weight),
    "group_norm": lambda m, x: F.group_norm(x.size(1), 2, m.weight),
    "batch_norm": lambda m, x: F.batch_norm(x.size(1), None, None, m.weight),
    "instance_norm": lambda m, x: F.instance_norm(x.size(1), weight=m.weight),
    "prelu": lambda m, x: torch.prelu(x.size(1), m.weight),
    "channel_shuffle": lambda m, x: torch.channel_shuffle(x.size(1), 2),
    "softmax": lambda m, x: F.softmax(x.size(1), 1),
    "normalize": lambda m, x: F.normalize(x.size(1)),
}


@pytest.mark.parametrize("kind", sorted(_NOT_A_TENSOR))
def test_a_size_is_not_a_tensor_to_normalise(kind: str) -> None:
    model = Holding(_NOT_A_TENSOR[kind], weight=(4,))
    assert torch_outcome(model, (2, 4, 3)) is None
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(model, (2, 4, 3))
    assert str(info.value) == f"{kind} ({kind}): expects a tensor. Received: argument='a size (4)'"


# --------------------------------------------------------------------------- #
# Messages
# --------------------------------------------------------------------------- #

_RECEIVED = "Received: input_shape="

_MESSAGES: list[tuple[str, Forward, dict[str, Shape | None], Shape, type[Exception], str]] = [
    (
        "layer_norm last dim",
        lambda m, x: F.layer_norm(x, (4,)),
        {},
        (2, 4, 3),
        convcalc.ShapeError,
        "layer_norm (layer_norm): normalized_shape=(4,) must match the last dims of the input (2, 4, 3): "
        f"use normalized_shape=(3,). {_RECEIVED}(2, 4, 3)",
    ),
    (
        "rms_norm last two dims",
        lambda m, x: F.rms_norm(x, [5, 3]),
        {},
        (2, 4, 3),
        convcalc.ShapeError,
        "rms_norm (rms_norm): normalized_shape=(5, 3) must match the last dims of the input (2, 4, 3): "
        f"use normalized_shape=(4, 3). {_RECEIVED}(2, 4, 3)",
    ),
    (
        "layer_norm more dims than the input",
        lambda m, x: F.layer_norm(x, (2, 4)),
        {},
        (4,),
        convcalc.ShapeError,
        f"layer_norm (layer_norm): normalized_shape=(2, 4) has more dims than the input. {_RECEIVED}(4,)",
    ),
    (
        "group_norm groups",
        lambda m, x: F.group_norm(x, 3),
        {},
        (2, 4, 3),
        convcalc.ShapeError,
        f"group_norm (group_norm): 4 channels do not split into num_groups=3. {_RECEIVED}(2, 4, 3)",
    ),
    (
        "group_norm no groups",
        lambda m, x: F.group_norm(x, 0),
        {},
        (2, 4),
        convcalc.SpecError,
        "group_norm (group_norm): expects an input (N, C, ...) and a positive int num_groups. Received: num_groups=0",
    ),
    (
        "group_norm of a 1-D input",
        lambda m, x: F.group_norm(x, 1),
        {},
        (4,),
        convcalc.SpecError,
        "group_norm (group_norm): expects an input (N, C, ...) and a positive int num_groups. Received: num_groups=1",
    ),
    (
        "group_norm weight",
        lambda m, x: F.group_norm(x, 2, m.weight),
        {"weight": (3,)},
        (2, 4),
        convcalc.ShapeError,
        f"group_norm (group_norm): weight is for 3 channels but the input has 4: use 4. {_RECEIVED}(2, 4)",
    ),
    (
        "group_norm bias",
        lambda m, x: F.group_norm(x, 2, bias=m.bias),
        {"bias": (6,)},
        (2, 4, 5),
        convcalc.ShapeError,
        f"group_norm (group_norm): bias is for 6 channels but the input has 4: use 4. {_RECEIVED}(2, 4, 5)",
    ),
    (
        "channel_shuffle groups",
        lambda m, x: F.channel_shuffle(x, 3),
        {},
        (2, 4, 3),
        convcalc.ShapeError,
        f"channel_shuffle (channel_shuffle): 4 channels do not split into groups=3. {_RECEIVED}(2, 4, 3)",
    ),
    (
        "native_channel_shuffle groups",
        lambda m, x: torch.native_channel_shuffle(x, 4),
        {},
        (1, 6, 3, 3),
        convcalc.ShapeError,
        "native_channel_shuffle (native_channel_shuffle): 6 channels do not split into groups=4. "
        f"{_RECEIVED}(1, 6, 3, 3)",
    ),
    (
        "channel_shuffle no groups",
        lambda m, x: F.channel_shuffle(x, 0),
        {},
        (2, 4, 3),
        convcalc.SpecError,
        "channel_shuffle (channel_shuffle): expects an input (N, C, ...) and a positive int groups. Received: groups=0",
    ),
    (
        "batch_norm running_mean",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var),
        {"running_mean": (4,), "running_var": (3,)},
        (2, 3),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): running_mean is for 4 channels but the input has 3: use 3. {_RECEIVED}(2, 3)",
    ),
    (
        "batch_norm running_var",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var),
        {"running_mean": (3,), "running_var": (5,)},
        (2, 3, 4),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): running_var is for 5 channels but the input has 3: use 3. {_RECEIVED}(2, 3, 4)",
    ),
    (
        "batch_norm weight",
        lambda m, x: F.batch_norm(x, None, None, m.weight, training=True),
        {"weight": (2,)},
        (2, 3),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): weight is for 2 channels but the input has 3: use 3. {_RECEIVED}(2, 3)",
    ),
    (
        "batch_norm bias",
        lambda m, x: F.batch_norm(x, None, None, None, m.bias, True),
        {"bias": (4,)},
        (2, 3),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): bias is for 4 channels but the input has 3: use 3. {_RECEIVED}(2, 3)",
    ),
    (
        "batch_norm of a 1-D input",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var),
        {"running_mean": (4,), "running_var": (4,)},
        (4,),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): expects an input of 2 or more dims (N, C, ...). {_RECEIVED}(4,)",
    ),
    (
        "batch_norm of a 1-D input in training",
        lambda m, x: F.batch_norm(x, None, None, training=True),
        {},
        (4,),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): expects an input of 2 or more dims (N, C, ...). {_RECEIVED}(4,)",
    ),
    (
        "batch_norm without running statistics in evaluation",
        lambda m, x: F.batch_norm(x, None, None),
        {},
        (2, 3),
        convcalc.ShapeError,
        "batch_norm (batch_norm): expects running_mean and running_var both, or neither with training=True (the "
        "input's own statistics). Received: running_mean=None, running_var=None, training=False",
    ),
    (
        "batch_norm with one running statistic",
        lambda m, x: F.batch_norm(x, m.running_mean, None, training=True),
        {"running_mean": (3,)},
        (2, 3),
        convcalc.ShapeError,
        "batch_norm (batch_norm): expects running_mean and running_var both, or neither with training=True (the "
        "input's own statistics). Received: running_mean=a tensor of shape (3,), running_var=None, training=True",
    ),
    (
        "batch_norm running_mean of 2 dims",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var),
        {"running_mean": (1, 3), "running_var": (3,)},
        (2, 3, 4),
        convcalc.ShapeError,
        "batch_norm (batch_norm): running_mean must be a vector of one value per channel: use a running_mean of "
        "shape (3,). Received: running_mean_shape=(1, 3)",
    ),
    (
        "batch_norm weight of 2 dims counted",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var, m.weight),
        {"running_mean": (3,), "running_var": (3,), "weight": (2, 3)},
        (2, 3, 4),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): weight is for 6 channels but the input has 3: use 3. {_RECEIVED}(2, 3, 4)",
    ),
    (
        "torch.batch_norm weight",
        lambda m, x: torch.batch_norm(x, m.weight, None, m.running_mean, m.running_var, False, 0.1, 1e-5, False),
        {"running_mean": (3,), "running_var": (3,), "weight": (4,)},
        (2, 3, 4),
        convcalc.ShapeError,
        f"batch_norm (batch_norm): weight is for 4 channels but the input has 3: use 3. {_RECEIVED}(2, 3, 4)",
    ),
    (
        "instance_norm without running statistics",
        lambda m, x: F.instance_norm(x, use_input_stats=False),
        {},
        (2, 3, 4),
        convcalc.ShapeError,
        "instance_norm (instance_norm): expects running_mean and running_var both, or neither with "
        "use_input_stats=True (the input's own statistics). Received: running_mean=None, running_var=None, "
        "use_input_stats=False",
    ),
    (
        "instance_norm weight of 2 dims",
        lambda m, x: F.instance_norm(x, weight=m.weight),
        {"weight": (1, 3)},
        (2, 3, 4),
        convcalc.ShapeError,
        "instance_norm (instance_norm): weight must be a vector or a scalar of one value per channel: use a weight "
        "of shape (3,). Received: weight_shape=(1, 3)",
    ),
    (
        "group_norm weight of 2 dims",
        lambda m, x: F.group_norm(x, 2, m.weight),
        {"weight": (1, 4)},
        (2, 4, 3),
        convcalc.ShapeError,
        "group_norm (group_norm): weight must be a vector of one value per channel: use a weight of shape (4,). "
        "Received: weight_shape=(1, 4)",
    ),
    (
        "group_norm one value per group",
        lambda m, x: F.group_norm(x, 2),
        {},
        (1, 2),
        convcalc.ShapeError,
        "group_norm (group_norm): expects more than 1 value per group, or none (torch's check when it computes "
        "statistics). "
        f"{_RECEIVED}(1, 2)",
    ),
    (
        "channel_shuffle of a 2-D input",
        lambda m, x: F.channel_shuffle(x, 2),
        {},
        (2, 4),
        convcalc.ShapeError,
        f"channel_shuffle (channel_shuffle): expects an input of 3 or more dims (N, C, ...). {_RECEIVED}(2, 4)",
    ),
    (
        "layer_norm int normalized_shape",
        lambda m, x: F.layer_norm(x, 3),
        {},
        (2, 4, 3),
        convcalc.SpecError,
        "layer_norm (layer_norm): expects normalized_shape as a tuple or list: use normalized_shape=(3,). "
        "Received: normalized_shape=3",
    ),
    (
        "rms_norm empty normalized_shape",
        lambda m, x: F.rms_norm(x, []),
        {},
        (2, 4, 3),
        convcalc.SpecError,
        "rms_norm (rms_norm): expects normalized_shape of one size or more: use normalized_shape=(3,). "
        "Received: normalized_shape=()",
    ),
    (
        "prelu weight of 2 dims",
        lambda m, x: F.prelu(x, m.weight),
        {"weight": (1, 4)},
        (2, 4, 3),
        convcalc.ShapeError,
        "prelu (prelu): weight must be a vector or a scalar of one value per channel: use a weight of shape (4,). "
        "Received: weight_shape=(1, 4)",
    ),
    (
        "softmax without a dim",
        lambda m, x: x.softmax(),
        {},
        (2, 4, 5),
        convcalc.SpecError,
        "softmax (softmax): needs the argument 'dim'. Received: arguments=1",
    ),
    (
        "log_softmax dim None",
        lambda m, x: x.log_softmax(None),
        {},
        (2, 4, 5),
        convcalc.SpecError,
        "log_softmax (log_softmax): expects an int dim: only F.log_softmax picks one itself. Received: dim=None",
    ),
    (
        "softmax dim with a dtype",
        lambda m, x: x.softmax(5, torch.float64),
        {},
        (2, 4, 5),
        convcalc.ShapeError,
        f"softmax (softmax): dim=5 is out of range for a 3-D input: use a dim from -3 to 2. {_RECEIVED}(2, 4, 5)",
    ),
    (
        "batch_norm one value",
        lambda m, x: F.batch_norm(x, None, None, training=True),
        {},
        (1, 3, 1),
        convcalc.ShapeError,
        "batch_norm (batch_norm): expects more than 1 value per channel, or none (torch's check when it computes "
        f"statistics). {_RECEIVED}(1, 3, 1)",
    ),
    (
        "instance_norm one element",
        lambda m, x: F.instance_norm(x),
        {},
        (2, 3, 1, 1),
        convcalc.ShapeError,
        "instance_norm (instance_norm): expects more than 1 spatial element, or none (torch's check when it computes "
        f"statistics). {_RECEIVED}(2, 3, 1, 1)",
    ),
    (
        "instance_norm weight",
        lambda m, x: F.instance_norm(x, weight=m.weight),
        {"weight": (4,)},
        (2, 3, 5),
        convcalc.ShapeError,
        f"instance_norm (instance_norm): weight is for 4 channels but the input has 3: use 3. {_RECEIVED}(2, 3, 5)",
    ),
    (
        "instance_norm running_var",
        lambda m, x: F.instance_norm(x, m.running_mean, m.running_var, use_input_stats=False),
        {"running_mean": (3,), "running_var": (2,)},
        (2, 3, 5),
        convcalc.ShapeError,
        "instance_norm (instance_norm): running_var is for 2 channels but the input has 3: use 3. "
        f"{_RECEIVED}(2, 3, 5)",
    ),
    (
        "prelu weight",
        lambda m, x: F.prelu(x, m.weight),
        {"weight": (3,)},
        (2, 4, 3),
        convcalc.ShapeError,
        f"prelu (prelu): the PReLU weight is for 3 channels but the input has 4: use 4. {_RECEIVED}(2, 4, 3)",
    ),
    (
        "prelu of a 1-D input",
        lambda m, x: x.prelu(m.weight),
        {"weight": (4,)},
        (4,),
        convcalc.ShapeError,
        f"prelu (prelu): expects an input (N, C, ...) for the PReLU weight. {_RECEIVED}(4,)",
    ),
    (
        "softmax dim",
        lambda m, x: x.softmax(3),
        {},
        (2, 4, 5),
        convcalc.ShapeError,
        f"softmax (softmax): dim=3 is out of range for a 3-D input: use a dim from -3 to 2. {_RECEIVED}(2, 4, 5)",
    ),
    (
        "log_softmax negative dim",
        lambda m, x: F.log_softmax(x, dim=-3),
        {},
        (2, 5),
        convcalc.ShapeError,
        f"log_softmax (log_softmax): dim=-3 is out of range for a 2-D input: use a dim from -2 to 1. {_RECEIVED}(2, 5)",
    ),
    (
        "normalize default dim",
        lambda m, x: F.normalize(x),
        {},
        (5,),
        convcalc.ShapeError,
        f"normalize (normalize): dim=1 is out of range for a 1-D input: use a dim from -1 to 0. {_RECEIVED}(5,)",
    ),
]


@pytest.mark.parametrize(
    ("function", "tensors", "shape", "error", "message"),
    [case[1:] for case in _MESSAGES],
    ids=[case[0] for case in _MESSAGES],
)
def test_messages_name_the_layer_the_argument_and_what_fits(
    function: Forward, tensors: dict[str, Shape | None], shape: Shape, error: type[Exception], message: str
) -> None:
    model = Holding(function, **tensors)
    assert torch_outcome(model, shape) is None
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(model, shape)
    assert type(info.value) is error
    assert str(info.value) == message


_LN = "layer_norm (layer_norm)"


@pytest.mark.parametrize(
    ("function", "tensors", "message"),
    [
        (
            lambda m, x: F.layer_norm(x, (4,), m.weight),
            {"weight": (3,)},
            f"{_LN}: weight must have the shape normalized_shape=(4,). Received: weight_shape=(3,)",
        ),
        (
            lambda m, x: F.layer_norm(x, (4,), bias=m.bias),
            {"bias": (5,)},
            f"{_LN}: bias must have the shape normalized_shape=(4,). Received: bias_shape=(5,)",
        ),
        (
            lambda m, x: F.layer_norm(x, (3, 4), m.weight),
            {"weight": (4,)},
            f"{_LN}: weight must have the shape normalized_shape=(3, 4). Received: weight_shape=(4,)",
        ),
        (
            lambda m, x: F.layer_norm(x, (4,), m.weight),
            {"weight": (3, 4)},
            f"{_LN}: weight must have the shape normalized_shape=(4,). Received: weight_shape=(3, 4)",
        ),
        (
            lambda m, x: F.layer_norm(x, (4,), None, m.bias),
            {"bias": (1, 4)},
            f"{_LN}: bias must have the shape normalized_shape=(4,). Received: bias_shape=(1, 4)",
        ),
        (
            lambda m, x: F.layer_norm(x, (4,), m.weight),
            {"weight": ()},
            f"{_LN}: weight must have the shape normalized_shape=(4,). Received: weight_shape=()",
        ),
        (
            lambda m, x: F.rms_norm(x, [4], m.weight),
            {"weight": (2,)},
            "rms_norm (rms_norm): weight must have the shape normalized_shape=(4,). Received: weight_shape=(2,)",
        ),
    ],
)
def test_a_layer_norm_weight_that_does_not_fit(function: Forward, tensors: dict[str, Shape], message: str) -> None:
    # exactly normalized_shape: not a size changed, not fewer dims, not more, even of one element
    model = Holding(function, **tensors)
    assert torch_outcome(model, (2, 3, 4)) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(model, (2, 3, 4))
    assert str(info.value) == message


# --------------------------------------------------------------------------- #
# Symbolic sizes: the conditions torch checks
# --------------------------------------------------------------------------- #

_SYMBOLIC: list[tuple[str, Forward, dict[str, Shape | None], tuple[Any, ...], list[tuple[str, int, str, int, str]]]] = [
    (
        "layer_norm",
        lambda m, x: F.layer_norm(x, (3, 4)),
        {},
        (1, 2, "H", "W"),
        [("layer_norm", 2, "==", 0, "sizes equal"), ("layer_norm", 3, "==", 0, "sizes equal")],
    ),
    (
        "rms_norm",
        lambda m, x: F.rms_norm(x, [4], m.weight),
        {"weight": (4,)},
        (1, 2, "H", "W"),
        [("rms_norm", 3, "==", 0, "sizes equal")],
    ),
    (
        "group_norm",
        lambda m, x: F.group_norm(x, 2, m.weight),
        {"weight": (4,)},
        (1, "C", 3),
        [
            ("group_norm", 1, "divides", 2, "num_groups=2 divides the channels"),
            ("group_norm", 1, "==", 0, "sizes equal"),
            ("group_norm", 2, ">=", 2, "more than 1 value per group"),
        ],
    ),
    (
        "group_norm values per group",
        lambda m, x: F.group_norm(x, 2),
        {},
        ("N", 2),
        [("group_norm", 1, ">=", 2, "more than 1 value per group")],
    ),
    (
        "torch.group_norm values per group",
        lambda m, x: torch.group_norm(x, 2),
        {},
        ("N", 2),
        [],
    ),
    (
        "channel_shuffle",
        lambda m, x: F.channel_shuffle(x, 3),
        {},
        (2, "C", 2),
        [("channel_shuffle", 1, "divides", 3, "groups=3 divides the channels")],
    ),
    (
        "batch_norm training 4-D",
        lambda m, x: F.batch_norm(x, None, None, training=True),
        {},
        ("N", 3, "H", "W"),
        [("batch_norm", 3, ">=", 2, "more than 1 value per channel")],
    ),
    (
        "batch_norm training 3-D",
        lambda m, x: F.batch_norm(x, None, None, None, None, True),
        {},
        (1, 3, "L"),
        [("batch_norm", 2, ">=", 2, "more than 1 value per channel")],
    ),
    (
        "batch_norm training 2-D",
        lambda m, x: F.batch_norm(x, None, None, training=True),
        {},
        ("N", 3),
        [("batch_norm", 0, ">=", 2, "more than 1 value per channel")],
    ),
    (
        "batch_norm running_mean",
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var),
        {"running_mean": (4,), "running_var": (4,)},
        (2, "C", 3),
        [("batch_norm", 1, "==", 0, "sizes equal")],
    ),
    (
        "instance_norm 4-D",
        lambda m, x: F.instance_norm(x),
        {},
        (2, 3, "H", "W"),
        [("instance_norm", 3, ">=", 2, "more than 1 spatial element")],
    ),
    (
        "instance_norm 3-D",
        lambda m, x: F.instance_norm(x, None, None, m.weight),
        {"weight": (3,)},
        (1, "C", "L"),
        [("instance_norm", 1, "==", 0, "sizes equal"), ("instance_norm", 2, ">=", 2, "more than 1 spatial element")],
    ),
    (
        "prelu",
        lambda m, x: F.prelu(x, m.weight),
        {"weight": (4,)},
        (2, "C", 5),
        [("prelu", 1, "==", 0, "sizes equal")],
    ),
]


def _sizes(shape: tuple[Any, ...], values: dict[str, int]) -> Shape:
    return tuple(values[d] if isinstance(d, str) else d for d in shape)


def _described(plan: convcalc.Plan) -> list[tuple[str, int, str, int, str]]:
    return [(c.layer, c.axis, c.kind, c.value, c.reason) for c in plan.constraints]


@pytest.mark.parametrize(
    ("function", "tensors", "shape", "conditions"),
    [case[1:] for case in _SYMBOLIC],
    ids=[case[0] for case in _SYMBOLIC],
)
def test_symbolic_sizes_give_the_conditions_torch_checks(
    function: Forward,
    tensors: dict[str, Shape | None],
    shape: tuple[Any, ...],
    conditions: list[tuple[str, int, str, int, str]],
) -> None:
    model = Holding(function, **tensors)
    plan = convcalc.plan(model, shape)
    assert _described(plan) == conditions
    assert tuple(str(d) for d in plan.output_shape) == tuple(str(d) for d in shape)
    symbols = sorted({d for d in shape if isinstance(d, str)})
    for values in (dict(zip(symbols, combo, strict=True)) for combo in _combinations(len(symbols))):
        holds = all(c.holds(values) for c in plan.constraints)
        assert holds == (torch_outcome(model, _sizes(shape, values)) is not None), values


def _combinations(n: int) -> list[tuple[int, ...]]:
    sizes = (1, 2, 3, 4, 6)
    combos: list[tuple[int, ...]] = [()]
    for _ in range(n):
        combos = [(*c, s) for c in combos for s in sizes]
    return combos


# --------------------------------------------------------------------------- #
# Receptive field and constants pass through
# --------------------------------------------------------------------------- #

_KEEPS: dict[str, tuple[Forward, dict[str, Shape | None]]] = {
    "layer_norm": (lambda m, x: F.layer_norm(x, (4, 4), m.weight, m.bias), {"weight": (4, 4), "bias": (4, 4)}),
    "rms_norm": (lambda m, x: F.rms_norm(x, (4,)), {}),
    "group_norm": (lambda m, x: F.group_norm(x, 2, m.weight, m.bias), {"weight": (4,), "bias": (4,)}),
    "batch_norm": (
        lambda m, x: F.batch_norm(x, m.running_mean, m.running_var, m.weight),
        {"running_mean": (4,), "running_var": (4,), "weight": (4,)},
    ),
    "instance_norm": (lambda m, x: F.instance_norm(x), {}),
    "prelu": (lambda m, x: F.prelu(x, m.weight), {"weight": (4,)}),
    "channel_shuffle": (lambda m, x: F.channel_shuffle(x, 2), {}),
    "softmax": (lambda m, x: F.softmax(x, 1), {}),
    "log_softmax": (lambda m, x: x.log_softmax(1), {}),  # over the channels (a spatial dim ends the field)
    "normalize": (lambda m, x: F.normalize(x), {}),
}


@pytest.mark.parametrize("kind", sorted(_KEEPS))
def test_the_receptive_field_passes_through(kind: str) -> None:
    function, tensors = _KEEPS[kind]
    model = Holding(lambda m, x: function(m, m.conv(x)), **tensors)
    model.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
    plan = convcalc.plan(model, (1, 3, 9, 9))
    assert torch_outcome(model, (1, 3, 9, 9)) == tuple(plan.output_shape) == (1, 4, 4, 4)
    conv, row = plan.rows[0], plan.rows[-1]
    assert (conv.kind, row.kind) == ("Conv2d", kind)
    assert conv.receptive_field is not None
    assert row.receptive_field == conv.receptive_field


@pytest.mark.parametrize("kind", sorted(_KEEPS))
def test_a_constant_input_stays_constant(kind: str) -> None:
    # the buffer does not depend on the network input: adding it leaves the convolution's receptive field alone
    function, tensors = _KEEPS[kind]
    model = Holding(lambda m, x: m.conv(x) + function(m, m.held), **tensors)
    model.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
    model.register_buffer("held", torch.zeros(1, 4, 4, 4))
    plan = convcalc.plan(model, (1, 3, 9, 9))
    assert torch_outcome(model, (1, 3, 9, 9)) == tuple(plan.output_shape) == (1, 4, 4, 4)
    rows = {r.kind: r for r in plan.rows}
    assert rows[kind].receptive_field is None  # made from a buffer: no field in the network input
    assert rows["add"].receptive_field == rows["Conv2d"].receptive_field is not None


# --------------------------------------------------------------------------- #
# Shape-keeping torch layers planned by class name (Elementwise): module_checks
#
# A torch model's nn.PReLU, nn.ChannelShuffle, nn.RMSNorm, nn.InstanceNorm1d/3d, nn.LogSoftmax, nn.Softmin,
# nn.Softmax2d, nn.LocalResponseNorm and nn.CrossMapLRN2d are read as their convcalc.nn specs, so these checks are
# reached through an Elementwise spec planned directly; torch's layer is the one to_torch builds from it.
# --------------------------------------------------------------------------- #


@st.composite
def elementwise_cases(draw: st.DrawFn) -> tuple[Any, Shape]:
    """An ``Elementwise`` spec of a torch layer with its constructor arguments, and an input shape."""
    kind = draw(
        st.sampled_from(
            [
                *("LogSoftmax", "Softmin", "Softmax2d", "LocalResponseNorm", "CrossMapLRN2d", "PReLU"),
                *("ChannelShuffle", "RMSNorm", "InstanceNorm1d", "InstanceNorm3d", "ELU"),
            ]
        )
    )
    ranks = [3, 4, 5, 6] if kind == "InstanceNorm3d" else list(range(1, 7))
    rank = draw(st.sampled_from(ranks))
    shape = draw(shapes(rank, rank, max_size=3 if rank > 4 else 4))
    args: dict[str, Any] = {}
    if kind in ("LogSoftmax", "Softmin"):
        args["dim"] = draw(st.one_of(st.none(), st.integers(-7, 6)))
    elif kind in ("LocalResponseNorm", "CrossMapLRN2d"):
        args["size"] = draw(st.integers(1, 3))
    elif kind == "PReLU" and draw(st.booleans()):
        args["num_parameters"] = draw(st.integers(1, 4))
    elif kind == "ChannelShuffle":
        args["groups"] = draw(st.integers(1, 4))
    elif kind == "RMSNorm":
        normalized = draw(normalized_shapes(shape))
        args["normalized_shape"] = normalized[0] if len(normalized) == 1 and draw(st.booleans()) else normalized
    elif kind.startswith("InstanceNorm"):
        args["num_features"] = draw(st.integers(1, 4))
        args["affine"] = draw(st.booleans())
        args["track_running_stats"] = draw(st.booleans())
    return tb.Elementwise(kind, torch_args=tuple(args.items())), shape


@given(elementwise_cases())
def test_shape_keeping_layers_planned_by_name_match_torch(case: tuple[Any, Shape]) -> None:
    spec, shape = case
    module = tb.to_torch(spec).eval()  # a layer with running statistics uses them in evaluation
    assert type(module).__name__ == spec.kind
    expected = torch_outcome(module, shape)
    assert convcalc_outcome(spec, shape) == expected
    assert expected in (None, shape)


@pytest.mark.parametrize(
    ("kind", "args", "fits", "misfits"),
    [
        ("LogSoftmax", {"dim": 2}, [(2, 3, 4)], [(2, 3)]),
        ("LogSoftmax", {"dim": -3}, [(2, 3, 4)], [(2, 3)]),
        ("Softmin", {"dim": 1}, [(2, 3)], [(3,)]),
        ("Softmin", {"dim": -1}, [(3,), (2, 3)], []),
        ("Softmax2d", {}, [(3, 4, 5), (2, 3, 4, 5)], [(2, 3), (1, 2, 3, 4, 5)]),
        ("LocalResponseNorm", {"size": 2}, [(2, 3, 4), (1, 2, 3, 4, 5)], [(2, 3), (3,)]),
        ("CrossMapLRN2d", {"size": 2}, [(1, 3, 4, 4)], [(2, 3), (3,), (2, 3, 4), (1, 2, 3, 4, 5)]),
        ("PReLU", {}, [(5,), (2, 3), (2, 5, 4)], []),
        ("PReLU", {"num_parameters": 1}, [(2, 3, 4)], []),
        ("PReLU", {"num_parameters": 2}, [(3, 2), (1, 2, 5)], [(2, 3), (2,)]),
        ("ChannelShuffle", {"groups": 1}, [(2, 3, 4)], []),
        ("ChannelShuffle", {"groups": 2}, [(2, 4, 3), (1, 2, 1, 1)], [(2, 3, 4), (4,), (2, 4)]),
        ("RMSNorm", {"normalized_shape": 4}, [(2, 4), (4,)], [(4, 2)]),
        ("RMSNorm", {"normalized_shape": (3, 4)}, [(3, 4), (2, 3, 4)], [(4,), (3, 3, 3)]),
        ("InstanceNorm1d", {"num_features": 3}, [(2, 5, 2), (3, 2), (1, 2)], [(2, 3, 1), (3, 1), (3,), (1, 2, 3, 4)]),
        ("InstanceNorm1d", {"num_features": 3, "affine": True}, [(2, 3, 2), (3, 2)], [(2, 4, 2), (4, 2), (2, 3, 1)]),
        ("InstanceNorm1d", {"num_features": 3, "track_running_stats": True}, [(2, 3, 1), (3, 1)], [(2, 2, 5), (2, 5)]),
        ("InstanceNorm3d", {"num_features": 2}, [(1, 4, 1, 1, 2), (2, 1, 2, 1)], [(1, 2, 1, 1, 1), (2, 2, 2)]),
        ("InstanceNorm3d", {"num_features": 2, "affine": True}, [(1, 2, 2, 1, 1), (2, 1, 1, 2)], [(1, 3, 2, 2, 2)]),
        ("InstanceNorm3d", {"num_features": 2, "affine": True}, [], [(3, 2, 2, 2), (2, 2, 2, 2, 2, 2)]),
    ],
)
def test_shape_keeping_layers_at_good_and_bad_shapes(
    kind: str, args: dict[str, Any], fits: list[Shape], misfits: list[Shape]
) -> None:
    spec = tb.Elementwise(kind, torch_args=tuple(args.items()))
    module = tb.to_torch(spec).eval()
    for shape in fits:
        assert torch_outcome(module, shape) == shape
        assert convcalc_outcome(spec, shape) == shape
    for shape in misfits:
        assert torch_outcome(module, shape) is None
        assert convcalc_outcome(spec, shape) is None


_ELEMENTWISE_MESSAGES: list[tuple[str, dict[str, Any], Shape, str]] = [
    (
        "LogSoftmax",
        {"dim": 2},
        (2, 3),
        "<model> (LogSoftmax): dim=2 is out of range for a 2-D input: use a dim from -2 to 1",
    ),
    (
        "Softmin",
        {"dim": -4},
        (2, 3, 4),
        "<model> (Softmin): dim=-4 is out of range for a 3-D input: use a dim from -3 to 2",
    ),
    ("Softmax2d", {}, (2, 3), "<model> (Softmax2d): expects a 3-D or 4-D input"),
    ("Softmax2d", {}, (1, 2, 3, 4, 5), "<model> (Softmax2d): expects a 3-D or 4-D input"),
    (
        "LocalResponseNorm",
        {"size": 2},
        (2, 3),
        "<model> (LocalResponseNorm): expects an input of 3 or more dims (N, C, ...)",
    ),
    ("CrossMapLRN2d", {"size": 2}, (3,), "<model> (CrossMapLRN2d): expects a 4-D input (N, C, H, W)"),
    ("CrossMapLRN2d", {"size": 2}, (2, 3, 4), "<model> (CrossMapLRN2d): expects a 4-D input (N, C, H, W)"),
    ("CrossMapLRN2d", {"size": 2}, (1, 2, 3, 4, 5), "<model> (CrossMapLRN2d): expects a 4-D input (N, C, H, W)"),
    (
        "PReLU",
        {"num_parameters": 3},
        (2, 4, 5),
        "<model> (PReLU): the PReLU weight is for 3 channels but the input has 4: use 4",
    ),
    ("PReLU", {"num_parameters": 3}, (3,), "<model> (PReLU): expects an input (N, C, ...) for the PReLU weight"),
    ("ChannelShuffle", {"groups": 3}, (2, 4, 5), "<model> (ChannelShuffle): 4 channels do not split into groups=3"),
    (
        "ChannelShuffle",
        {"groups": 2},
        (2, 4),
        "<model> (ChannelShuffle): expects an input of 3 or more dims (N, C, ...)",
    ),
    (
        "RMSNorm",
        {"normalized_shape": (4, 5)},
        (2, 3, 5),
        "<model> (RMSNorm): normalized_shape=(4, 5) must match the last dims of the input (2, 3, 5): use normalized_shape=(3, 5)",
    ),
    (
        "RMSNorm",
        {"normalized_shape": 5},
        (2, 3, 4),
        "<model> (RMSNorm): normalized_shape=(5,) must match the last dims of the input (2, 3, 4): use normalized_shape=(4,)",
    ),
    (
        "RMSNorm",
        {"normalized_shape": (2, 3, 4)},
        (3, 4),
        "<model> (RMSNorm): normalized_shape=(2, 3, 4) has more dims than the input",
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3},
        (2,),
        "<model> (InstanceNorm1d): expects a 3-D input or an unbatched 2-D one",
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3},
        (1, 2, 3, 4),
        "<model> (InstanceNorm1d): expects a 3-D input or an unbatched 2-D one",
    ),
    (
        "InstanceNorm3d",
        {"num_features": 3},
        (2, 3, 4),
        "<model> (InstanceNorm3d): expects a 5-D input or an unbatched 4-D one",
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3, "affine": True},
        (2, 4, 5),
        "<model> (InstanceNorm1d): num_features is for 3 channels but the input has 4: use 4",
    ),
    (
        "InstanceNorm3d",
        {"num_features": 3, "track_running_stats": True},
        (2, 1, 1, 1),
        "<model> (InstanceNorm3d): num_features is for 3 channels but the input has 2: use 2",
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3},
        (2, 3, 1),
        "<model> (InstanceNorm1d): expects more than 1 spatial element, or none (torch's check when it computes "
        "statistics)",
    ),
    (
        "InstanceNorm3d",
        {"num_features": 3},
        (3, 1, 1, 1),
        "<model> (InstanceNorm3d): expects more than 1 spatial element, or none (torch's check when it computes "
        "statistics)",
    ),
]


@pytest.mark.parametrize(("kind", "args", "shape", "message"), _ELEMENTWISE_MESSAGES)
def test_shape_keeping_layer_messages(kind: str, args: dict[str, Any], shape: Shape, message: str) -> None:
    spec = tb.Elementwise(kind, torch_args=tuple(args.items()))
    assert torch_outcome(tb.to_torch(spec).eval(), shape) is None
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(spec, shape)
    assert str(info.value) == f"{message}. Received: input_shape={shape}"


def test_a_shape_keeping_layer_with_a_non_int_group_count() -> None:
    spec = tb.Elementwise("ChannelShuffle", torch_args=(("groups", 2.0),))
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(spec, (2, 4, 3))
    assert str(info.value) == (
        "<model> (ChannelShuffle): expects an input (N, C, ...) and a positive int groups. Received: groups=2.0"
    )


_ELEMENTWISE_SYMBOLIC: list[tuple[str, dict[str, Any], tuple[Any, ...], list[tuple[str, int, str, int, str]]]] = [
    ("PReLU", {"num_parameters": 3}, (2, "C", 4), [("<model>", 1, "==", 0, "sizes equal")]),
    ("ChannelShuffle", {"groups": 3}, (2, "C", 4), [("<model>", 1, "divides", 3, "groups=3 divides the channels")]),
    (
        "RMSNorm",
        {"normalized_shape": (4, 5)},
        (2, "H", "W"),
        [("<model>", 1, "==", 0, "sizes equal"), ("<model>", 2, "==", 0, "sizes equal")],
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3, "affine": True},
        (2, "C", "L"),
        [("<model>", 1, "==", 0, "sizes equal"), ("<model>", 2, ">=", 2, "more than 1 spatial element")],
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3, "affine": True},
        ("C", "L"),
        [("<model>", 0, "==", 0, "sizes equal"), ("<model>", 1, ">=", 2, "more than 1 spatial element")],
    ),
    (
        "InstanceNorm1d",
        {"num_features": 3, "track_running_stats": True},
        ("C", 4),
        [("<model>", 0, "==", 0, "sizes equal")],
    ),
    (
        "InstanceNorm3d",
        {"num_features": 3},
        (2, 3, "D", "H", "W"),
        [("<model>", 4, ">=", 2, "more than 1 spatial element")],
    ),
    ("InstanceNorm3d", {"num_features": 3}, (3, "D", "H", 1), [("<model>", 3, ">=", 2, "more than 1 spatial element")]),
]


@pytest.mark.parametrize(("kind", "args", "shape", "conditions"), _ELEMENTWISE_SYMBOLIC)
def test_shape_keeping_layers_with_symbolic_sizes(
    kind: str, args: dict[str, Any], shape: tuple[Any, ...], conditions: list[tuple[str, int, str, int, str]]
) -> None:
    spec = tb.Elementwise(kind, torch_args=tuple(args.items()))
    module = tb.to_torch(spec).eval()
    plan = convcalc.plan(spec, shape)
    assert _described(plan) == conditions
    symbols = sorted({d for d in shape if isinstance(d, str)})
    for values in (dict(zip(symbols, combo, strict=True)) for combo in _combinations(len(symbols))):
        holds = all(c.holds(values) for c in plan.constraints)
        assert holds == (torch_outcome(module, _sizes(shape, values)) is not None), values


# --------------------------------------------------------------------------- #
# The norm layers in training mode: statistics of the batch or of each sample, whatever they track
# --------------------------------------------------------------------------- #

_NORM_LAYERS = [
    (torch.nn.InstanceNorm1d, (2, 4, 1)),
    (torch.nn.InstanceNorm2d, (2, 4, 1, 1)),
    (torch.nn.InstanceNorm3d, (2, 4, 1, 1, 1)),
    (torch.nn.LazyInstanceNorm2d, (2, 4, 1, 1)),
    (torch.nn.BatchNorm2d, (1, 4, 1, 1)),
    (torch.nn.LazyBatchNorm2d, (1, 4, 1, 1)),
    (torch.nn.LazyBatchNorm1d, (1, 4)),
]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize(("layer", "shape"), _NORM_LAYERS, ids=[c[0].__name__ for c in _NORM_LAYERS])
def test_a_norm_layer_in_training_needs_values_for_its_statistics(
    layer: Any, shape: Shape, track: bool, training: bool
) -> None:
    # one value per statistic: torch refuses in training, and without running statistics in evaluation too
    def made() -> torch.nn.Module:
        lazy = layer.__name__.startswith("Lazy")
        return (layer(track_running_stats=track) if lazy else layer(4, track_running_stats=track)).train(training)

    expected = torch_outcome(made(), shape)
    assert (expected is None) is (training or not track)
    assert convcalc_outcome(made(), shape) == expected
