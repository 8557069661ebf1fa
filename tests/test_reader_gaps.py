"""Gaps a bug hunt found in the torch reader, each checked against real torch (and torchinfo where it is the
reference):

- a ``torch.compile``'d submodule (``self.block = torch.compile(block)``) is read as the module it wraps, listed
  as torchinfo lists it (``OptimizedModule``, then its ``_orig_mod``), without running dynamo;
- ``convcalc.summary(input_data=...)`` takes torchinfo's forms: a dict holding values that are no tensors, a
  list holding a list of tensors, and hands the values to ``forward`` as they are;
- ``convcalc.verify`` compares a layer with a forward hook that changes its output like with like: the layer's
  row with what its forward returns, the hook's row with what the call returns after the hook;
- ``numpy.prod`` of symbolic sizes is their product (as ``math.prod``), and ``F.fold`` takes an ``output_size``
  computed from symbolic sizes, with constraints where torch refuses.

Symbolic plans are checked at 20 or more sizes: where every constraint holds, torch runs and gives the planned
shape; where one fails, torch refuses.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import convcalc
from tests.torchinfo_text import their_text

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")
nn = torch.nn
F = torch.nn.functional
sympy = pytest.importorskip("sympy")

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALL_COLUMNS = ("input_size", "output_size", "num_params", "params_percent", "kernel_size", "mult_adds", "trainable")


@pytest.fixture(autouse=True)
def _quiet_dynamo() -> Any:
    """torch.compile warns about global hooks and its own state; the tests compare shapes, not warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def assert_plan_is_torch(model: Any, shape: tuple[int, ...]) -> Any:
    with torch.no_grad():
        out = model(torch.zeros(shape))
    plan = convcalc.plan(model, shape)
    assert plan.output_shape == tuple(out.shape)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    return plan


def sweep(model: Any, shape: tuple[Any, ...], sizes: dict[str, Any], least: int = 20) -> Any:
    """The symbolic plan of ``model`` against torch at every combination of ``sizes``: where the constraints
    hold, torch gives the planned shape; where one fails, torch refuses. Returns the plan."""
    plan = convcalc.plan(model, shape)
    names = [d for d in shape if isinstance(d, str)]
    checked = 0
    for combo in itertools.product(*(sizes[n] for n in names)):
        given = dict(zip(names, combo, strict=True))
        concrete = tuple(given[d] if isinstance(d, str) else d for d in shape)
        allowed = all(c.holds(given) for c in plan.constraints)
        try:
            with torch.no_grad():
                got: Any = tuple(model(torch.zeros(concrete)).shape)
        except Exception:  # torch's refusal is the finding
            got = None
        symbols = {sympy.Symbol(n, integer=True, positive=True): v for n, v in given.items()}
        planned = tuple(d if type(d) is int else int(sympy.sympify(d).subs(symbols)) for d in plan.output_shape)
        if allowed:
            assert got == planned, (given, got, planned)
        else:
            assert got is None, (given, got, [str(c) for c in plan.constraints])
        checked += 1
    assert checked >= least
    return plan


# --------------------------------------------------------------------------- #
# 1. a torch.compile'd submodule
# --------------------------------------------------------------------------- #


def _compiled(module: Any) -> Any:
    return torch.compile(module, backend="eager")


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x: Any, scale: float = 1.0, mask: Any = None) -> Any:
        y = self.bn(self.c(x)) * scale
        if mask is not None:
            y = y * mask
        return x + y


class Net(nn.Module):
    def __init__(self, block: Any) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.block = block
        self.fc = nn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        return self.fc(self.block(self.stem(x)).mean((2, 3)))


class Twice(Net):
    def forward(self, x: Any) -> Any:
        return self.fc(self.block(self.block(self.stem(x))).mean((2, 3)))


class Masked(Net):
    def forward(self, x: Any) -> Any:
        y = self.stem(x)
        return self.fc(self.block(y, mask=torch.ones_like(y)).mean((2, 3)))


class HookedNet(Net):
    """A forward hook on the model: its forward is run by torch's machinery on meta tensors, compiled child too."""

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self.register_forward_hook(lambda module, args, out: out * 2)


COMPILED = {
    "sequential": lambda: Net(_compiled(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()))),
    "layer": lambda: Net(_compiled(nn.Conv2d(8, 8, 3, padding=1))),
    "forward": lambda: Net(_compiled(Residual())),
    "called_twice": lambda: Twice(_compiled(Residual())),
    "keyword_input": lambda: Masked(_compiled(Residual())),
    "in_a_sequential": lambda: nn.Sequential(
        nn.Conv2d(3, 8, 3), _compiled(nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU())), nn.Flatten(), nn.Linear(128, 2)
    ),
    "hooked_parent": lambda: HookedNet(_compiled(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()))),
}


def test_a_compiled_submodule_is_planned_as_the_module_it_wraps() -> None:
    """The hunt's model: torch runs it, and the plan names each layer by its parameters' path."""
    model = COMPILED["sequential"]().eval()
    plan = assert_plan_is_torch(model, (2, 3, 8, 8))
    assert [r.name for r in plan.rows] == ["stem", "block._orig_mod.0", "block._orig_mod.1", "mean", "fc"]
    held = {name.rpartition(".")[0] for name, _ in model.named_parameters()}
    assert {r.name for r in plan.rows if r.params} == held == {"stem", "block._orig_mod.0", "fc"}
    assert {r.source for r in plan.rows} == {"rule"}  # read, not run by torch's machinery


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_a_compiled_submodule_is_listed_as_torchinfo_lists_it(name: str) -> None:
    """The table, line by line at depths 1 to 4, and the totals, in the default layout and with every column.
    torchinfo runs the model: each time on a fresh one (a compiled module already run does not call the hooks
    torchinfo adds inside it again)."""
    shape = (2, 3, 8, 8)
    for options in ({}, {"col_names": ALL_COLUMNS}):
        torch._dynamo.reset()
        model = COMPILED[name]().eval()
        theirs = torchinfo.summary(model, input_size=shape, verbose=0, device="cpu", depth=1, **options)
        for depth in (1, 2, 3, 4):
            theirs.formatting.max_depth = depth
            ours = convcalc.summary(model, input_size=shape, verbose=0, depth=depth, **options)
            assert str(ours) == their_text(theirs), (name, depth, options)
            assert (ours.total_params, ours.trainable_params, ours.total_mult_adds) == (
                theirs.total_params,
                theirs.trainable_params,
                theirs.total_mult_adds,
            )
            assert (ours.total_output_bytes, ours.total_param_bytes) == (
                theirs.total_output_bytes,
                theirs.total_param_bytes,
            )
    torch._dynamo.reset()
    assert_plan_is_torch(COMPILED[name]().eval(), shape)


def test_the_hunts_totals() -> None:
    """repro_10: torchinfo gives 826 parameters and 25,892 mult-adds for the model it runs."""
    torch._dynamo.reset()
    model = COMPILED["sequential"]().eval()
    theirs = torchinfo.summary(model, input_size=(2, 3, 8, 8), verbose=0, device="cpu")
    ours = convcalc.summary(model, input_size=(2, 3, 8, 8), verbose=0)
    assert (ours.total_params, ours.total_mult_adds) == (theirs.total_params, theirs.total_mult_adds) == (826, 25892)


def test_planning_a_compiled_submodule_never_runs_dynamo() -> None:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    for make in (COMPILED["sequential"], COMPILED["hooked_parent"]):
        model = make().eval()
        convcalc.plan(model, (2, 3, 8, 8))
        convcalc.summary(model, input_size=(2, 3, 8, 8), verbose=0)
    assert not counters["frames"]["total"]


def test_a_compiled_submodule_plans_with_symbols() -> None:
    model = Net(_compiled(nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU()))).eval()
    plan = sweep(model, (2, 3, "H", "W"), {"H": range(1, 8), "W": range(2, 7)})
    assert {r.source for r in plan.rows} == {"rule"}


def test_a_compiled_layer_with_several_inputs() -> None:
    """A compiled TransformerEncoderLayer, given a padding mask by keyword and left without one."""

    class Encoder(nn.Module):
        def __init__(self, masked: bool) -> None:
            super().__init__()
            self.masked = masked
            self.emb = nn.Linear(4, 16)
            self.layer = _compiled(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True))

        def forward(self, x: Any) -> Any:
            if self.masked:
                mask = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool)
                return self.layer(self.emb(x), src_key_padding_mask=mask)
            return self.layer(self.emb(x))

    for masked in (False, True):
        plan = assert_plan_is_torch(Encoder(masked).eval(), (2, 5, 4))
        assert any(r.name.startswith("layer._orig_mod.") for r in plan.rows)


def test_a_compiled_recurrent_layer_hands_on_its_tuple() -> None:
    class Recurrent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = _compiled(nn.LSTM(4, 6, batch_first=True))
            self.fc = nn.Linear(6, 2)

        def forward(self, x: Any) -> Any:
            y, _ = self.rnn(x)
            return self.fc(y)

    plan = assert_plan_is_torch(Recurrent().eval(), (2, 5, 4))
    assert [r.name for r in plan.rows] == ["rnn._orig_mod", "fc"]


def test_a_compiled_forward_of_star_args_is_run_by_torch_on_meta_tensors() -> None:
    """``forward(self, *xs)`` cannot be passed on by a read wrapper: torch's machinery runs it (dynamo still
    not), which needs numbers; with symbols the message says so."""

    class Star(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(8, 8, 1)

        def forward(self, *xs: Any) -> Any:
            return self.c(xs[0])

    model = Net(_compiled(Star())).eval()
    assert_plan_is_torch(model, (2, 3, 8, 8))
    with pytest.raises(convcalc.SpecError, match=r"block \(OptimizedModule\): it is compiled with torch.compile"):
        convcalc.plan(model, (2, 3, "H", "W"))


def test_a_hook_on_a_compiled_wrapper_is_kept() -> None:
    block = _compiled(nn.Conv2d(8, 8, 3, padding=1))
    block.register_forward_hook(lambda module, args, out: out[:, :4])
    model = Net(block).eval()
    model.fc = nn.Linear(4, 2)
    plan = assert_plan_is_torch(model, (2, 3, 8, 8))
    assert [r.name for r in plan.rows][:3] == ["stem", "block._orig_mod", "block.__getitem__"]


def test_verify_runs_a_compiled_submodule_as_its_module() -> None:
    """After the model ran under no_grad (compiled code that calls no hooks added later), verify still sees
    every layer inside the compiled child."""
    torch._dynamo.reset()
    model = COMPILED["sequential"]().eval()
    with torch.no_grad():
        model(torch.zeros(2, 3, 8, 8))
    report = convcalc.verify(model, (2, 3, 8, 8), device="cpu")
    assert report.ok, str(report)
    checked = {r.name for r in report.rows if r.match}
    assert {"block._orig_mod.0", "block._orig_mod.1"} <= checked


# --------------------------------------------------------------------------- #
# 2. summary(input_data=...) in torchinfo's forms
# --------------------------------------------------------------------------- #


class Scaled(nn.Module):
    """The hunt's model: a list of tensors, or one tensor, and a scale that is a float."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)

    def forward(self, x: Any, scale: float = 1.0, mask: Any = None) -> Any:
        if isinstance(x, (list, tuple)):
            x = torch.cat(list(x), 1)
        y = self.a(x) * scale
        if mask is not None:
            y = y * mask
        return y


class Pooled(nn.Module):
    """A flag and a number that change the output's shape."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Any, scale: float = 1.0, pool: bool = True) -> Any:
        y = self.c(x) * scale
        if pool:
            return self.fc(y.mean((2, 3)))
        return y


class Dense(nn.Module):
    """A DenseNet layer: one argument, a list of feature maps."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(6, 4, 1)

    def forward(self, feats: Any) -> Any:
        return self.c(torch.cat(feats, 1))


class Resized(nn.Module):
    """A plain number that is a size."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Any, size: int = 8) -> Any:
        return F.interpolate(self.c(x), size=size)


class KindOfScale(nn.Module):
    """A forward that asks the type of its argument: a float stays a float, an int an int."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)

    def forward(self, x: Any, scale: Any = 1) -> Any:
        y = self.a(x)
        if isinstance(scale, float):
            return y[..., :2] * scale
        return y * scale


_A = torch.zeros(2, 5, 4)
_IMG = torch.zeros(2, 3, 8, 8)
FORMS = [
    ("dict_with_a_float", Scaled, {"input_data": {"x": _A, "scale": 3.0}}),
    ("list_of_a_list", Scaled, {"input_data": [[_A, _A]]}),
    ("list_of_a_tuple", Scaled, {"input_data": [(_A, _A)]}),
    ("tuple_of_a_list", Scaled, {"input_data": ([_A, _A],)}),
    ("dict_of_a_list", Scaled, {"input_data": {"x": [_A, _A]}}),
    ("list_with_a_float", Scaled, {"input_data": [_A, 3.0]}),
    ("list_with_an_int", Scaled, {"input_data": [_A, 2]}),
    ("dict_with_an_int", Scaled, {"input_data": {"x": _A, "scale": 3}}),
    ("list_with_a_tensor_after_a_float", Scaled, {"input_data": [_A, 2.0, torch.ones(2, 5, 3)]}),
    ("dict_with_a_flag", Pooled, {"input_data": {"x": _IMG, "scale": 0.5, "pool": False}}),
    ("list_with_a_flag", Pooled, {"input_data": [_IMG, 0.5, False]}),
    ("keyword_for_forward", Pooled, {"input_data": [_IMG], "pool": False}),
    ("keyword_with_input_size", Pooled, {"input_size": (2, 3, 8, 8), "pool": False}),
    ("densenet_list", Dense, {"input_data": [[_IMG, _IMG]]}),
    ("a_size", Resized, {"input_data": [_IMG, 5]}),
    ("a_size_by_name", Resized, {"input_data": {"x": _IMG, "size": 12}}),
    ("a_float_kept_a_float", KindOfScale, {"input_data": [_A, 2.0]}),
    ("an_int_kept_an_int", KindOfScale, {"input_data": [_A, 2]}),
]


@pytest.mark.parametrize(("name", "factory", "given"), FORMS, ids=[f[0] for f in FORMS])
def test_input_data_forms_match_torchinfo(name: str, factory: Any, given: dict[str, Any]) -> None:
    """The table (input size line included), the totals and the rows, as torchinfo 1.8 gives them."""
    model = factory().eval()
    for options in ({}, {"col_names": ALL_COLUMNS, "depth": 10}):
        theirs = torchinfo.summary(model, verbose=0, device="cpu", **given, **options)
        ours = convcalc.summary(model, verbose=0, **given, **options)
        assert str(ours) == their_text(theirs), name
        assert ours.total_params == theirs.total_params
        assert ours.total_mult_adds == theirs.total_mult_adds
        assert ours.total_input == theirs.total_input
        assert type(ours.total_input) is type(theirs.total_input)  # a float in input_data makes it a float
        assert ours.total_output_bytes == theirs.total_output_bytes
        assert ours.total_param_bytes == theirs.total_param_bytes
        assert [
            (r.class_name, r.depth, r.input_size, r.output_size, r.num_params, r.macs if r.is_leaf_layer else 0)
            for r in ours.summary_list
        ] == [
            (r.class_name, r.depth, r.input_size, r.output_size, r.num_params, r.macs if r.is_leaf_layer else 0)
            for r in theirs.summary_list
        ]


def test_the_hunts_input_data() -> None:
    """repro_6: both forms give torchinfo's 15 parameters and 30 mult-adds."""
    model = Scaled().eval()
    for data in ({"x": _A, "scale": 3.0}, [[_A, _A]]):
        ours = convcalc.summary(model, input_data=data, verbose=0)
        theirs = torchinfo.summary(model, input_data=data, verbose=0, device="cpu")
        assert (ours.total_params, ours.total_mult_adds) == (theirs.total_params, theirs.total_mult_adds) == (15, 30)


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (Scaled(), {"x": 3.0}, r"input_data holds no tensor for convcalc to plan.*Received: input_data=.*'x': 3\.0"),
        (Scaled(), [3.0], r"input_data holds no tensor for convcalc to plan"),
        (Scaled(), {1: _A}, r"named by strings\. Received: input_data='a dict with the key 1'"),
        (
            convcalc.nn.Linear(4, 3),
            [_A, 3.0],
            r"only a torch module's forward takes.*Received: input_data=.*Tensor of shape \(2, 5, 4\)>, 3\.0\]",
        ),
        (Scaled(), {"x": _A, "bogus": 1.0}, r"forward\(\) got an unexpected keyword argument 'bogus' \(torch"),
    ],
)
def test_input_data_convcalc_cannot_plan_is_refused(model: Any, data: Any, message: str) -> None:
    with pytest.raises(convcalc.SpecError, match=message):
        convcalc.summary(model, input_data=data, verbose=0)


# --------------------------------------------------------------------------- #
# 3. verify and a forward hook that changes a layer's output
# --------------------------------------------------------------------------- #


class Hooked(nn.Module):
    def __init__(self, hook: Any) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.a.register_forward_hook(hook)

    def forward(self, x: Any) -> Any:
        return self.b(self.a(x))


class HookedResidual(nn.Module):
    def __init__(self, hook: Any) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.b.register_forward_hook(hook)

    def forward(self, x: Any) -> Any:
        y = self.a(x)
        return y + self.b(y)


def test_verify_compares_a_hooked_layer_like_with_like() -> None:
    """repro_3: the layer's row is its forward's output, the hook's row what the call returns after it."""
    model = Hooked(lambda module, args, out: out[:, :4]).eval()
    with torch.no_grad():
        own = model.a.forward(torch.zeros(2, 3, 8, 8))  # the forward alone, without the hook
        hooked = model.a(torch.zeros(2, 3, 8, 8))
    report = convcalc.verify(model, (2, 3, 8, 8), device="cpu")
    assert report.ok, str(report)
    rows = {r.name: r for r in report.rows}
    assert rows["a"].actual_shape == tuple(own.shape) == (2, 8, 8, 8)
    assert rows["a.__getitem__"].actual_shape == tuple(hooked.shape) == (2, 4, 8, 8)
    assert rows["a.__getitem__"].match is True
    assert not torch.nn.modules.module._global_forward_hooks  # verify leaves no hook behind


@pytest.mark.parametrize(
    "hook",
    [
        lambda module, args, out: out * 2,
        lambda module, args, out: out[:, :, :1, :1],
        lambda module, args, out: torch.relu(out).flatten(2)[..., :64].reshape(out.shape),
        lambda module, args, out: args[0],  # the call returns its input: no row of the hook's
    ],
)
def test_verify_of_hooks_inside_a_traced_forward(hook: Any) -> None:
    model = HookedResidual(hook).eval()
    assert_plan_is_torch(model, (2, 3, 8, 8))
    report = convcalc.verify(model, (2, 3, 8, 8), device="cpu")
    assert report.ok, str(report)


def test_verify_of_a_hooked_model_and_a_hooked_layer_alone() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 4, 3))
    model.register_forward_hook(lambda module, args, out: out.flatten(1))
    assert convcalc.verify(model, (2, 3, 8, 8), device="cpu").ok
    layer = nn.Conv2d(3, 8, 3)
    layer.register_forward_hook(lambda module, args, out: out.flatten(1))
    report = convcalc.verify(layer, (2, 3, 8, 8), device="cpu")
    assert report.ok, str(report)
    assert report.rows[-1].actual_shape == tuple(layer(torch.zeros(2, 3, 8, 8)).shape)


def test_verify_still_fails_a_wrong_plan_of_a_hook() -> None:
    """The same comparison with the hook's row planned wrong (a plan that missed the hook, one that got its
    shape wrong): verify reports the mismatch at that row."""
    from convcalc.torch.verify import _compare, _run_hooked

    model = Hooked(lambda module, args, out: out[:, :4]).eval()
    plan = convcalc.plan(model, (2, 3, 8, 8))
    hooked: dict[str, Any] = {}
    outputs, params, error, _ = _run_hooked(torch, model, (2, 3, 8, 8), "cpu", hooked)
    assert error is None
    good = _compare(plan, outputs, params, False, False, hooked)
    assert all(r.match is not False for r in good)
    for wrong in ((2, 8, 8, 8), (2, 4, 8, 7)):
        rows = tuple(dataclasses.replace(r, output_shape=wrong) if r.name == "a.__getitem__" else r for r in plan.rows)
        compared = _compare(dataclasses.replace(plan, rows=rows), outputs, params, False, False, hooked)
        assert [r.name for r in compared if r.match is False] == ["a.__getitem__"]
    # a layer's own row planned as the hooked shape is wrong too
    rows = tuple(dataclasses.replace(r, output_shape=(2, 4, 8, 8)) if r.name == "a" else r for r in plan.rows)
    compared = _compare(dataclasses.replace(plan, rows=rows), outputs, params, False, False, hooked)
    assert [r.name for r in compared if r.match is False] == ["a"]


# --------------------------------------------------------------------------- #
# 4. numpy.prod of sizes, and F.fold with an output_size of symbolic sizes
# --------------------------------------------------------------------------- #


class NumpyFlat(nn.Module):
    def forward(self, x: Any) -> Any:
        return x.reshape(x.size(0), np.prod(x.shape[1:]))


class NumpyViews(nn.Module):
    def forward(self, x: Any) -> Any:
        return x.view(-1, np.prod(x.shape[2:], axis=0)) + 0


class NumpyInt(nn.Module):
    """The hunt's idiom: ``int()`` of the product."""

    def forward(self, x: Any) -> Any:
        return x.reshape(x.size(0), int(np.prod(x.shape[1:])))


class MathInt(nn.Module):
    def forward(self, x: Any) -> Any:
        return x.reshape(x.size(0), int(math.prod(x.shape[1:])))


def test_numpy_prod_of_symbolic_sizes_is_their_product() -> None:
    plan = sweep(NumpyFlat(), (2, 3, "H", "W"), {"H": range(1, 6), "W": range(1, 6)})
    H, W = convcalc.symbols("H W")
    assert plan.output_shape == (2, 3 * H * W)
    assert not plan.constraints
    sweep(NumpyViews(), ("N", 3, "H", 4), {"N": range(1, 5), "H": range(1, 7)})


def test_numpy_prod_with_numbers_is_read_not_run() -> None:
    """With numbers too: the product is convcalc's, not torch's machinery's."""
    for model in (NumpyFlat(), NumpyInt()):
        plan = assert_plan_is_torch(model, (2, 3, 4, 5))
        assert {r.source for r in plan.rows} == {"rule"}


def test_int_of_numpy_prod_of_symbols_is_refused_as_int_of_math_prod() -> None:
    """``int()`` must hand Python a number, which a symbolic size is not: the same refusal for numpy's product as
    for math's, naming int() and the size, not a tensor ``prod``."""
    messages = []
    for model in (NumpyInt(), MathInt()):
        with pytest.raises(convcalc.SpecError) as info:
            convcalc.plan(model, (2, 3, "H", "W"))
        messages.append(str(info.value).split(": ", 1)[1])
    assert messages[0] == messages[1]
    assert "asks int() of a size that depends on the symbols (3*H*W)" in messages[0]


def test_numpy_prod_with_other_arguments_says_what_to_write() -> None:
    from convcalc.torch.ops_reduce import _numpy_prod
    from convcalc.torch.values import _Call

    call = _Call(None, "prod", "prod")
    assert _numpy_prod(call, (3, 4, 5), (), {"axis": None, "dtype": None, "out": None}) == 60
    assert _numpy_prod(call, (), (), {}) == 1.0 == np.prod(())
    with pytest.raises(convcalc.SpecError, match=r"write math\.prod\(x\.shape\[1:\]\).*Received: arguments='keepdims"):
        _numpy_prod(call, (3, 4), (), {"keepdims": True})
    with pytest.raises(convcalc.SpecError, match=r"numpy\.prod of sizes only"):
        _numpy_prod(call, (3, None), (), {})
    # torch itself multiplies the sizes with numpy's product: the same number
    assert _numpy_prod(call, tuple(torch.zeros(2, 3, 4).shape[1:]), (), {}) == int(np.prod(torch.Size([3, 4])))


class Patches(nn.Module):
    """The hunt's model: patches embedded, then folded back to half the input's size."""

    def __init__(self) -> None:
        super().__init__()
        self.unfold = nn.Unfold(kernel_size=3, padding=1, stride=2)
        self.lin = nn.Linear(27, 6)

    def forward(self, x: Any) -> Any:
        H, W = x.shape[-2:]
        y = self.lin(self.unfold(x).transpose(1, 2)).transpose(1, 2)
        return F.fold(y, output_size=((H + 1) // 2, (W + 1) // 2), kernel_size=1)


class Refold(nn.Module):
    def __init__(self, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.k, self.s, self.p = kernel, stride, padding

    def forward(self, x: Any) -> Any:
        H, W = x.shape[-2:]
        y = F.unfold(x, kernel_size=self.k, stride=self.s, padding=self.p)
        return F.fold(y, output_size=(H, W), kernel_size=self.k, stride=self.s, padding=self.p)


class FoldShorter(nn.Module):
    """An output_size two rows short: torch refuses every size (the blocks never match)."""

    def forward(self, x: Any) -> Any:
        H, W = x.shape[-2:]
        return nn.Fold(output_size=(H - 2, W), kernel_size=2, stride=2)(F.unfold(x, kernel_size=2, stride=2))


class FoldPadded(nn.Module):
    """A padded fold whose output_size is 1 or more only from H = 2 on."""

    def forward(self, x: Any) -> Any:
        H, W = x.shape[-2:]
        return F.fold(F.unfold(x, kernel_size=1), output_size=(2 * H - 3, W), kernel_size=1, padding=(1, 0))


def test_fold_takes_an_output_size_of_symbolic_sizes() -> None:
    plan = sweep(Patches().eval(), (1, 3, "H", "W"), {"H": range(1, 8), "W": range(1, 6)})
    assert str(plan.output_shape) == "(1, 6, floor((H + 1)/2), floor((W + 1)/2))"
    assert not plan.constraints  # the Unfold's blocks are the Fold's, at every size
    assert {r.source for r in plan.rows} == {"rule"}


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_fold_back_to_the_input_size(kernel: int, stride: int, padding: int) -> None:
    sweep(Refold(kernel, stride, padding), (2, 3, "H", "W"), {"H": range(1, 9), "W": range(1, 6)})


def test_fold_conditions_where_torch_refuses() -> None:
    """Where torch refuses (an output_size below 1, blocks that do not match L), the plan says so as
    constraints that fail at exactly those sizes."""
    plan = sweep(FoldShorter(), (2, 3, "H", "W"), {"H": range(1, 9), "W": range(1, 6)})
    assert any(c.kind == ">=" and "output_size" in c.reason for c in plan.constraints)
    plan = sweep(FoldPadded(), (2, 3, "H", "W"), {"H": range(1, 8), "W": range(1, 5)})
    assert any(c.kind == "==" and c.value == 0 for c in plan.constraints)


def test_a_fold_layer_with_a_symbolic_output_size() -> None:
    """convcalc.nn.Fold takes sizes for output_size (never below 1 where known); kernels stay numbers."""
    H = convcalc.symbols("H")
    spec = convcalc.nn.Fold((H, 4), 2)
    plan = convcalc.plan(spec, (1, 12, 9))  # 9 blocks of 2 x 2: H = 4 only
    assert plan.output_shape == (1, 3, H, 4)
    for h in range(1, 22):
        allowed = all(c.holds({"H": h}) for c in plan.constraints)
        try:
            got: Any = tuple(F.fold(torch.zeros(1, 12, 9), output_size=(h, 4), kernel_size=2).shape)
        except RuntimeError:
            got = None
        assert got == ((1, 3, h, 4) if allowed else None), h
    assert [h for h in range(1, 22) if all(c.holds({"H": h}) for c in plan.constraints)] == [4]
    with pytest.raises(convcalc.ShapeError, match=r"holds H - 1 x 3 = 3\*H - 3 blocks but the input has L=8"):
        convcalc.plan(spec, (1, 12, 8))  # no H gives 8 blocks: torch refuses every size
    with pytest.raises(convcalc.SpecError, match=r"output_size must be at least 1"):
        convcalc.nn.Fold((H - H, 4), 2)
    with pytest.raises(convcalc.SpecError, match=r"kernel_size must be a concrete integer"):
        convcalc.nn.Fold((4, 4), H)


# --------------------------------------------------------------------------- #
# 5. plan()'s own forms of a forward's arguments, what it returns beside tensors, legacy casts
# --------------------------------------------------------------------------- #


def _as_shapes(data: Any) -> Any:
    """input_data written for plan(): each tensor its shape, any other value as it is."""
    if isinstance(data, torch.Tensor):
        return tuple(data.shape)
    if isinstance(data, (list, tuple)):
        return type(data)(_as_shapes(v) for v in data)
    if isinstance(data, dict):
        return {k: _as_shapes(v) for k, v in data.items()}
    return data


def _real_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    return tuple(_real_shapes(v) for v in value) if isinstance(value, (list, tuple)) else value


PLAN_FORMS = [f for f in FORMS if set(f[2]) == {"input_data"}]


@pytest.mark.parametrize(("name", "factory", "given"), PLAN_FORMS, ids=[f[0] for f in PLAN_FORMS])
def test_plan_takes_the_forms_of_input_data_as_shapes(name: str, factory: Any, given: dict[str, Any]) -> None:
    """plan(model, [[a, b]]) passes one argument that is a list of two tensors, {"x": a, "scale": 3.0} and
    [a, 3.0] pass the number as it is: the output is torch's, and the parameters are counted once."""
    model = factory().eval()
    data = given["input_data"]
    real = model(**data) if isinstance(data, dict) else model(*data)
    plan = convcalc.plan(model, _as_shapes(data))
    assert plan.output_shape == tuple(real.shape), name
    assert plan.total_params == sum(p.numel() for p in model.parameters())


def test_plan_of_a_list_argument_with_symbolic_sizes() -> None:
    """A DenseNet layer's list of feature maps, with symbols: torch's shape at every size."""
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(Dense(), [[(1, 3, "H", "W"), (1, 3, "H", "W")]])
    assert plan.input_shapes == ((1, 3, H, W), (1, 3, H, W))
    for h, w in itertools.product((1, 4, 9), (2, 7)):
        real = Dense()([torch.zeros(1, 3, h, w)] * 2).shape
        assert tuple(int(sympy.sympify(d).subs({H: h, W: w})) for d in plan.output_shape) == tuple(real)


@pytest.mark.parametrize(
    ("model", "shapes", "error", "message"),
    [
        (Scaled(), {"x": 3.0}, convcalc.ShapeError, r"a dict of such tuples.*Received: input_shape=\{'x': 3\.0\}"),
        (Scaled(), [3.0, {"a": 1.0}], convcalc.ShapeError, r"holds no shape such as \(1, 3, 224, 224\)"),
        (
            convcalc.nn.Linear(4, 3),
            [[(2, 4), (2, 4)]],
            convcalc.ShapeError,
            r"this model takes one input.*Received: input_shape=\[\[\(2, 4\), \(2, 4\)\]\]",
        ),
        (Scaled(), {"x": (2, 5, 4), "bogus": 1.0}, convcalc.SpecError, r"bogus"),
    ],
)
def test_plan_forms_it_cannot_plan_are_refused(model: Any, shapes: Any, error: Any, message: str) -> None:
    with pytest.raises(error, match=message):
        convcalc.plan(model, shapes)


class PatchEmbed(nn.Module):
    """A transformer's patch embedding, as Swin and PVT write it: the tokens and the grid's size."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 16, 4, 4)
        self.form = form

    def forward(self, x: Any) -> Any:
        x = self.proj(x)
        H, W = x.shape[2:]
        tokens = x.flatten(2).transpose(1, 2)
        if self.form == "ints":
            return tokens, H, W
        if self.form == "pair":
            return tokens, (H, W)
        if self.form == "size":
            return tokens, x.shape
        if self.form == "dict_int":
            return {"tokens": tokens, "h": H}
        return {"tokens": tokens, "hw": (H, W)}


@pytest.mark.parametrize("form", ["ints", "pair", "size", "dict", "dict_int"])
def test_sizes_returned_beside_tensors_have_no_shape(form: str) -> None:
    """Where the forward returns numbers beside tensors, output_shapes has None (they have no shape) and the
    tensors have torch's shapes; the torchinfo drop-in gives torchinfo's table."""
    model = PatchEmbed(form)
    real = model(torch.zeros(2, 3, 32, 24))
    plan = convcalc.plan(model, (2, 3, 32, 24))
    assert plan.output_shape == (2, 48, 16)
    if form.startswith("dict"):
        assert plan.output_shapes == {"tokens": tuple(real["tokens"].shape), "h" if form == "dict_int" else "hw": None}
    else:
        assert plan.output_shapes == (tuple(real[0].shape), *(None for _ in real[1:]))
    theirs = torchinfo.summary(model, input_size=(2, 3, 32, 24), verbose=0, device="cpu")
    assert str(convcalc.summary(model, input_size=(2, 3, 32, 24), verbose=0)) == their_text(theirs)
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(model, (2, 3, H, W)).output_shape == (2, (H // 4) * (W // 4), 16)


class LegacyCast(nn.Module):
    """``.type(torch.FloatTensor)`` (a tensor type, or its name), as older code casts."""

    def __init__(self, to: Any) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.to_type = to

    def forward(self, x: Any) -> Any:
        return self.c(x.type(self.to_type)).type(self.to_type).flatten(1)


@pytest.mark.parametrize("to", [torch.FloatTensor, "torch.FloatTensor", torch.float32])
def test_a_cast_to_a_tensor_type_is_read(to: Any) -> None:
    model = LegacyCast(to)
    plan = convcalc.plan(model, (2, 3, 9, 7))
    assert plan.output_shape == tuple(model(torch.zeros(2, 3, 9, 7)).shape) == (2, 140)
    assert not plan.fallback_rows


class Summed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 2)

    def forward(self, x: Any) -> Any:
        return self.a(x).sum()


def test_a_scalar_output_is_listed_as_torchinfo_lists_it() -> None:
    """A 0-d output has no axes: torchinfo's column shows -- for it, as for a value that holds no tensor."""
    theirs = torchinfo.summary(Summed(), input_size=(2, 3), verbose=0, device="cpu")
    ours = convcalc.summary(Summed(), input_size=(2, 3), verbose=0)
    assert str(ours) == their_text(theirs)
    assert convcalc.plan(Summed(), (2, 3)).output_shape == ()


# --------------------------------------------------------------------------- #
# 6. Device questions, lazy layers not yet run, output classes, adaptive pools to symbolic sizes
# --------------------------------------------------------------------------- #


class DeviceBranch(nn.Module):
    """A forward that decides by the input's device (``if x.is_cpu:``), as export and benchmark code does."""

    def __init__(self, question: Any) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3)
        self.b = nn.Conv2d(3, 4, 3)
        self.question = question

    def forward(self, x: Any) -> Any:
        return self.a(x) if self.question(x) else self.b(x)


@pytest.mark.parametrize(
    "question",
    [lambda x: x.is_cpu, lambda x: x.is_meta, lambda x: x.is_cuda, lambda x: x.device.type == "cpu"],
    ids=["is_cpu", "is_meta", "is_cuda", "device_type"],
)
def test_a_branch_on_the_device_is_the_one_torch_takes(question: Any) -> None:
    """The plan follows the model on its own device (the CPU here), never on the meta device: the branch, the
    shape and the MACs are torch's."""
    model = DeviceBranch(question).eval()
    real = model(torch.zeros(2, 3, 8, 8))
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shape == tuple(real.shape)
    assert plan.macs == real.shape[1] * 3 * 9 * 36


class SharedLazyNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.LazyBatchNorm2d()
        self.conv = nn.LazyConv2d(3, 1)

    def forward(self, x: Any) -> Any:
        return self.bn(self.conv(self.bn(x)))


@pytest.mark.parametrize(
    "factory",
    [
        lambda: nn.Sequential(nn.LazyConv2d(8, 3), nn.LazyBatchNorm2d(), nn.ReLU()),
        lambda: nn.Sequential(nn.LazyConv2d(8, 3), nn.LazyInstanceNorm2d(affine=True, track_running_stats=True)),
        SharedLazyNorm,
    ],
    ids=["lazy_batch_norm", "lazy_instance_norm", "shared_lazy_norm"],
)
def test_a_lazy_layer_not_yet_run_counts_what_it_will_hold_once(factory: Any) -> None:
    """A lazy norm not yet run already holds ``num_batches_tracked``: it is counted with the layer, not again
    among the tensors no row reached; a lazy layer called twice counts once (torch's totals after a run)."""
    model = factory().eval()
    plan = convcalc.plan(model, (2, 3, 10, 10))
    model(torch.zeros(2, 3, 10, 10))
    assert plan.buffers == sum(b.numel() for b in model.buffers())
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert not plan.uncalled


@dataclasses.dataclass
class Heads:
    logits: Any
    features: Any
    note: str = "dataclass"


class DataclassOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        f = self.c(x)
        return Heads(self.fc(f.mean((2, 3))), f)


def test_a_forward_returning_a_dataclass_gives_its_fields_by_name() -> None:
    model = DataclassOutput().eval()
    real = model(torch.zeros(2, 3, 8, 8))
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shapes == {
        "logits": tuple(real.logits.shape),
        "features": tuple(real.features.shape),
        "note": None,
    }
    assert plan.total_params == sum(p.numel() for p in model.parameters())


class PoolBack(nn.Module):
    """Pool back to the input's size (``F.adaptive_avg_pool2d(z, x.shape[2:])``), after an upsampling."""

    def __init__(self, pool: Any) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = pool

    def forward(self, x: Any) -> Any:
        z = F.interpolate(self.c(x), scale_factor=2)
        return self.pool(z, x.shape[2:])


@pytest.mark.parametrize(
    "pool",
    [
        F.adaptive_avg_pool2d,
        F.adaptive_max_pool2d,
        lambda z, size: F.adaptive_avg_pool2d(z, (size[0] // 2, None)),
        lambda z, size: F.adaptive_max_pool2d(z, (size[0] + 1, size[1] - 1)),
    ],
    ids=["avg", "max", "half_height_keep_width", "plus_minus_one"],
)
def test_an_adaptive_pool_takes_sizes_of_the_input(pool: Any) -> None:
    """Symbolic output sizes are the sizes the forward computes; at each size torch gives the same shape."""
    model = PoolBack(pool).eval()
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(model, (1, 3, H, W))
    for h, w in itertools.product((2, 5, 8), (2, 7)):
        real = tuple(model(torch.zeros(1, 3, h, w)).shape)
        at = tuple(int(sympy.sympify(d).subs({H: h, W: w})) for d in plan.output_shape)
        assert at == real == convcalc.plan(model, (1, 3, h, w)).output_shape, (h, w)


# --------------------------------------------------------------------------- #
# 7. Assignment into a tensor (``out[...] = y``), read with symbolic sizes too
# --------------------------------------------------------------------------- #


class Assigned(nn.Module):
    """FNO's spectral layer writes its modes into a zero tensor; other code masks borders or fills a channel."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 1)
        self.form = form

    def forward(self, x: Any) -> Any:
        y = self.c(x)
        if self.form == "modes":
            out = torch.zeros(x.size(0), 4, x.size(-2), x.size(-1) // 2 + 1)
            out[:, :, :2, :3] = y[:, :, :2, :3]
            return out
        if self.form == "border":
            y[..., 0] = 0.0
            y[:, :, -1, :] = y[:, :, 0, :]
            return y
        if self.form == "channel":
            y[:, 1] = y[:, 0:1].squeeze(1) * 2
            return y.flatten(1)
        if self.form == "rows":
            y[[0, 1]] = y[[1, 0]]
            return y
        y[:, :2] = y[:, :3]  # "mismatch": torch refuses at every size
        return y


@pytest.mark.parametrize("form", ["modes", "border", "channel", "rows"])
def test_an_assignment_into_a_tensor_keeps_its_shape(form: str) -> None:
    """Read from the forward (no rows from torch's machinery), with torch's shapes at every size; where the
    value does not fit the part it replaces at some sizes, the plan's constraints fail at exactly those."""
    model = Assigned(form).eval()
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(model, (2, 3, H, W))
    assert not plan.fallback_rows
    for h, w in itertools.product(range(1, 7), range(1, 7)):
        try:
            real: Any = tuple(model(torch.zeros(2, 3, h, w)).shape)
        except RuntimeError:
            real = None
        fits = all(c.holds({"H": h, "W": w}) for c in plan.constraints)
        planned = tuple(int(sympy.sympify(d).subs({H: h, W: w})) for d in plan.output_shape)
        assert (planned if fits else None) == real, (h, w)
        if real is not None:
            assert convcalc.plan(model, (2, 3, h, w)).output_shape == real


def test_an_assignment_that_does_not_fit_is_refused() -> None:
    model = Assigned("mismatch").eval()
    with pytest.raises(RuntimeError):
        model(torch.zeros(2, 3, 4, 4))
    with pytest.raises(convcalc.ShapeError, match=r"a value of shape \(2, 3, 4, 4\) cannot be assigned to a part of"):
        convcalc.plan(model, (2, 3, 4, 4))


class DetectHead(nn.Module):
    """YOLOv5's Detect: ``x[i] = self.m[i](x[i])`` into the list of feature maps it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.m = nn.ModuleList([nn.Conv2d(8, 6, 1), nn.Conv2d(16, 6, 1)])

    def forward(self, x: Any) -> Any:
        for i in range(2):
            x[i] = self.m[i](x[i])
        return x


def test_an_assignment_into_the_list_a_model_is_given_is_read_by_rule() -> None:
    """The list given as the model's input is assigned into as one the forward builds: numbers and symbols (it
    went to torch's machinery, and symbols were refused)."""
    model = DetectHead().eval()
    plan = convcalc.plan(model, [[(1, 8, 16, 16), (1, 16, 8, 8)]])
    assert plan.output_shapes == ((1, 6, 16, 16), (1, 6, 8, 8))
    assert not plan.fallback_rows
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(model, [[(1, 8, H, W), (1, 16, H, W)]]).output_shapes == ((1, 6, H, W), (1, 6, H, W))


class CachedGrids(nn.Module):
    """YOLOv5's Detect in small: it assigns into the list it is given and caches a grid per level in a plain list
    of tensors, which a torch run fills."""

    def __init__(self) -> None:
        super().__init__()
        self.m = nn.ModuleList([nn.Conv2d(8, 6, 1), nn.Conv2d(16, 6, 1)])
        self.grid = [torch.empty(0), torch.empty(0)]

    def forward(self, x: Any) -> Any:
        for i in range(2):
            x[i] = self.m[i](x[i])
            if self.grid[i].shape[2:4] != x[i].shape[2:4]:
                self.grid[i] = torch.zeros(1, 1, x[i].shape[2], x[i].shape[3])
            x[i] = x[i] + self.grid[i]
        return x


def test_tensors_cached_in_plain_attributes_go_to_the_meta_device_too() -> None:
    """After a torch run (torchinfo's, or the user's) the cached grids are real tensors: torch's machinery gets
    meta copies of them, as of the parameters, so the plan is the same before and after (it was refused after)."""
    model = CachedGrids().eval()
    shapes = [[(1, 8, 16, 16), (1, 16, 8, 8)]]
    before = convcalc.plan(model, shapes)
    with torch.no_grad():
        real = model([torch.zeros(1, 8, 16, 16), torch.zeros(1, 16, 8, 8)])
    after = convcalc.plan(model, shapes)
    assert before.output_shapes == after.output_shapes == tuple(tuple(t.shape) for t in real)
    assert before == after
    assert all(t.device.type == "cpu" for t in model.grid)  # the model's own cache is left as it was


class ListOrTensorLayer(nn.Module):
    """A DenseNet layer that takes the list of earlier features or one tensor, and says which by ``isinstance``."""

    def __init__(self, channels: int, growth: int, question: Any) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)
        self.conv = nn.Conv2d(channels, growth, 3, padding=1)
        self.question = question

    def forward(self, feats: Any) -> Any:
        x = torch.cat(feats, 1) if self.question(feats) else feats
        return self.conv(F.relu(self.norm(x)))


class ListDenseBlock(nn.Module):
    def __init__(self, question: Any) -> None:
        super().__init__()
        self.layers = nn.ModuleList([ListOrTensorLayer(4 + 2 * i, 2, question) for i in range(3)])

    def forward(self, x: Any) -> Any:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return torch.cat(feats, 1)


@pytest.mark.parametrize(
    "question",
    [lambda v: isinstance(v, list), lambda v: isinstance(v, (list, tuple)), lambda v: not isinstance(v, tuple)],
    ids=["list", "list_or_tuple", "not_tuple"],
)
def test_a_list_a_forward_builds_is_a_list_to_isinstance(question: Any) -> None:
    """A list built in a forward and handed to a layer is a list where the layer asks (it was taken for a tuple,
    so ``isinstance(feats, list)`` took the tensor branch with symbols; with numbers torch's machinery ran it)."""
    model = ListDenseBlock(question).eval()
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(model, (1, 4, H, W))
    assert plan.output_shape == (1, 10, H, W)
    assert not plan.fallback_rows
    for h, w in ((5, 7), (9, 4)):
        assert convcalc.plan(model, (1, 4, h, w)).output_shape == tuple(model(torch.zeros(1, 4, h, w)).shape)


# --------------------------------------------------------------------------- #
# 8. torch's own forms of functional layers, read as torch runs them
# --------------------------------------------------------------------------- #


class Calls(nn.Module):
    def __init__(self, call: Any) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(10, 5))
        self.vector = nn.Parameter(torch.zeros(3))
        self.one = nn.Parameter(torch.zeros(()))
        self.call = call

    def forward(self, x: Any) -> Any:
        return self.call(self, x)


@pytest.mark.parametrize(
    ("call", "shape"),
    [
        (lambda m, x: torch.embedding(m.weight, x.long()), (2, 3)),  # weight first
        (lambda m, x: torch.embedding(m.weight, x.long(), 2), (2, 3)),
        (lambda m, x: F.embedding(x.long(), m.weight, padding_idx=-1), (2, 3)),
        (lambda m, x: torch.adaptive_max_pool1d(x, 2)[0], (1, 3, 6)),  # always (values, indices)
        (lambda m, x: torch.adaptive_max_pool1d(x, 2)[1], (1, 3, 6)),
        (lambda m, x: torch._C._nn.adaptive_max_pool2d(x, (2, 2))[1], (1, 3, 6, 4)),
        (lambda m, x: F.adaptive_max_pool1d(x, 2), (1, 3, 6)),
        (lambda m, x: F.linear(x, m.vector), (5, 2, 3)),  # a vector weight: the last axis is summed away
        (lambda m, x: F.linear(x, m.vector, m.one), (5, 2, 3)),  # with a 0-D bias, where torch takes one
        (lambda m, x: F.linear(x, m.weight, m.one), (2, 5)),  # one bias for every output
    ],
)
def test_torch_s_own_forms_give_torch_s_shapes(call: Any, shape: tuple[int, ...]) -> None:
    """torch.embedding takes the weight first (it was read as F.embedding: (10, 5, 3) for (2, 3, 5)); torch's own
    adaptive max pools return values and indices (``[0]`` took the first row); F.linear of a vector weight drops
    the last axis (it gave (5, 2, 3) for (5, 2)), and its bias may be one value (it was refused)."""
    model = Calls(call).eval()
    real = model(torch.zeros(shape))
    plan = convcalc.plan(model, shape)
    assert plan.output_shape == tuple(real.shape)
    assert not plan.fallback_rows


@pytest.mark.parametrize(("bias", "shape"), [("one", (5, 3)), ("vector1", (5, 2, 3)), ("vector1", (3,))])
def test_a_linear_of_a_vector_refuses_the_biases_torch_refuses(bias: str, shape: tuple[int, ...]) -> None:
    model = Calls(lambda m, x: F.linear(x, m.vector, getattr(m, bias)))
    model.vector1 = nn.Parameter(torch.zeros(1))
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        model(torch.zeros(shape))
    with pytest.raises(convcalc.ShapeError, match=r"takes a bias beside a vector weight only as a 0-D tensor"):
        convcalc.plan(model, shape)


def test_a_linear_of_a_vector_counts_one_product_per_output_element() -> None:
    plan = convcalc.plan(Calls(lambda m, x: F.linear(x, m.vector)), (5, 2, 3))
    assert plan.macs * 5 == 5 * 2 * 3  # per sample: 2 outputs of 3 products each


@pytest.mark.parametrize(
    ("call", "shape"),
    [
        (lambda m, x: F.conv_transpose2d(x, torch.zeros(3, 4, 3, 3), torch.zeros(3)), (1, 3, 5, 5)),
        (lambda m, x: F.conv_transpose2d(x, torch.zeros(3, 2, 3, 3), torch.zeros(2), groups=3), (1, 3, 5, 5)),
        (lambda m, x: F.bilinear(x, x, torch.zeros(4, 3, 3), torch.zeros(1)), (2, 3)),
    ],
)
def test_a_bias_of_another_size_is_refused_as_torch_refuses_it(call: Any, shape: tuple[int, ...]) -> None:
    """One bias per output channel or feature: convcalc planned these and counted the bias."""
    model = Calls(call)
    with pytest.raises(RuntimeError):
        model(torch.zeros(shape))
    with pytest.raises(convcalc.ShapeError, match=r"the bias has shape \(\d\,\) but the weight gives \d outputs"):
        convcalc.plan(model, shape)


# --------------------------------------------------------------------------- #
# 9. torch's meta kernels skip checks its kernels make on data: a forward read by torch's machinery keeps the
#    rule's refusal
# --------------------------------------------------------------------------- #


def _opaque(x: Any) -> Any:
    """``x`` viewed to sizes torch.fx cannot trace (``json`` refuses a proxy): the forward goes to torch's machinery."""
    return x.view(json.loads(json.dumps(list(x.shape))))


@pytest.mark.parametrize(
    ("call", "shape", "message"),
    [
        (lambda m, x: F.softmax(_opaque(x), 5), (2, 3, 4), "softmax (softmax): dim=5 is out of range"),
        (lambda m, x: _opaque(x).softmax(-4), (2, 3, 4), "softmax (softmax): dim=-4 is out of range"),
        (
            lambda m, x: _opaque(x).index_select(1, torch.zeros(2, 2, dtype=torch.long)),
            (2, 3, 4),
            "index_select (index_select): the index must be 0-D or 1-D, not 2-D",
        ),
    ],
)
def test_a_misfit_torch_s_meta_kernel_lets_pass_is_refused(call: Any, shape: tuple[int, ...], message: str) -> None:
    model = Calls(call)
    with pytest.raises((RuntimeError, IndexError)):
        model(torch.zeros(shape))
    model(torch.zeros(shape, device="meta"))  # the meta kernel runs it
    with pytest.raises(convcalc.ShapeError, match=re.escape(message)):
        convcalc.plan(model, shape)


def test_a_tensor_s_unfold_read_by_torch_s_machinery_is_the_axis_unfold() -> None:
    # x.unfold(dim, size, step) slides along one axis; F.unfold (im2col) shares its name only
    model = Calls(lambda m, x: (_opaque(x).unfold(2, 3, 2), F.unfold(_opaque(x), 2)))
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shapes == tuple(tuple(t.shape) for t in model(torch.zeros(2, 3, 8, 8)))
    assert [(r.name, r.kind, r.source) for r in plan.rows if "unfold" in r.name] == [
        ("unfold", "unfold_axis", "torch"),
        ("unfold_1", "unfold", "torch"),
    ]


class _ImageAndText(nn.Module):
    """An image through a convolution beside token ids through an embedding, read by torch's machinery."""

    def __init__(self, text_first: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 12)
        self.conv = nn.Conv2d(3, 2, 3)
        self.text_first = text_first

    def forward(self, a: Any, b: Any) -> Any:
        text, image = (a, b) if self.text_first else (b, a)
        return self.conv(image), _opaque(self.embed(text))


@pytest.mark.parametrize("text_first", [True, False])
def test_torch_s_machinery_takes_each_input_alone_as_token_ids(text_first: bool) -> None:
    shapes = [(3, 8), (3, 3, 8, 8)] if text_first else [(3, 3, 8, 8), (3, 8)]
    plan = convcalc.plan(_ImageAndText(text_first), shapes)
    assert plan.output_shapes == ((3, 2, 6, 6), (3, 8, 12))
    assert plan.fallback_rows


class _SineMask(nn.Module):
    """DETR's sine position embedding: a padding mask made in the forward, inverted, summed along each axis."""

    def __init__(self, invert: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.invert = invert

    def forward(self, x: Any) -> Any:
        x = self.conv(x)
        b, _, h, w = x.shape
        mask = torch.zeros((b, h, w), dtype=torch.bool, device=x.device)
        not_mask = self.invert(mask)
        y, z = not_mask.cumsum(1, dtype=torch.float32), not_mask.cumsum(2, dtype=torch.float32)
        return torch.stack([y, z], 1) * x[:, :1]


@pytest.mark.parametrize("invert", [lambda m: ~m, torch.logical_not, torch.bitwise_not, lambda m: m.logical_not()])
def test_an_inverted_mask_is_read_with_symbols(invert: Any) -> None:
    model = _SineMask(invert)
    plan = convcalc.plan(model, (1, 3, 20, 30))
    assert plan.output_shape == tuple(model(torch.zeros(1, 3, 20, 30)).shape) == (1, 2, 10, 15)
    assert not plan.fallback_rows
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, 3, H, W))
    for h, w in ((20, 30), (7, 9), (1, 2)):
        expected = tuple(model(torch.zeros(1, 3, h, w)).shape)
        assert tuple(int(d.subs({H: h, W: w})) if hasattr(d, "subs") else d for d in symbolic.output_shape) == expected


def test_the_inverse_of_a_size_is_its_number() -> None:
    model = Calls(lambda m, x: x.view(-1, ~x.size(0) + 4))  # ~2 is -3
    assert convcalc.plan(model, (2, 3)).output_shape == tuple(model(torch.zeros(2, 3)).shape) == (6, 1)


class _UpToInput(nn.Module):
    """A decoder's transposed convolution back to its input's size (U-Net, SegNet): ``output_size=x.size()``."""

    def __init__(self, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride, padding)
        self.up = nn.ConvTranspose2d(8, 3, kernel, stride)

    def forward(self, x: Any) -> Any:
        return self.up(self.down(x), output_size=x.size())


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, 2, 1), (2, 3, 1), (4, 4, 1), (3, 3, 0)])
def test_an_output_size_of_symbolic_sizes_holds_where_torch_reaches_it(kernel: int, stride: int, padding: int) -> None:
    model = _UpToInput(kernel, stride, padding)
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (1, 3, H, 8))
    assert plan.output_shape == (1, 3, H, 8)
    valid = plan.valid_sizes(H)
    for h in range(1, 30):
        try:
            runs = tuple(model(torch.zeros(1, 3, h, 8)).shape) == (1, 3, h, 8)
        except (RuntimeError, ValueError):  # torch: requested an output size of ..., but valid sizes range ...
            runs = False
        assert (h in valid) is runs, h


# --------------------------------------------------------------------------- #
# 10. Comparisons of shapes: tuples of sizes equal item by item, sets and dict keys of sizes by their numbers
# --------------------------------------------------------------------------- #

_SHAPE_BRANCHES = {
    "aligned": lambda m, x: torch.cat([x, m.up(x)], 1) if m.up(x).shape[-2:] == x.shape[-2:] else x,
    "not aligned": lambda m, x: x if m.up(x).shape != x.shape else torch.cat([x, m.up(x)], 1),
    "grid": lambda m, x: x[:, :1] if x.shape[-2:] == (8, 8) else x,
    "square": lambda m, x: x[:, :1] if len(set(x.shape[-2:])) == 1 else x,
    "cached": lambda m, x: x[:, :1] if m.seen.setdefault(tuple(x.shape[-2:]), x.shape[-1]) == 8 else x,
}


class _Branches(nn.Module):
    def __init__(self, branch: Any) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 3, 3, 2, 1)
        self.branch = branch
        self.seen: dict[Any, Any] = {}

    def up(self, x: Any) -> Any:
        return F.interpolate(self.down(x), scale_factor=2.0)

    def forward(self, x: Any) -> Any:
        return self.branch(self, x)


@pytest.mark.parametrize("name", list(_SHAPE_BRANCHES))
def test_a_branch_on_shapes_compared_whole_takes_torch_s_way(name: str) -> None:
    # a tuple of sizes compared with another took Python's comparison of the proxies or of the size expressions:
    # one way for every size (a cat planned away, a square input's branch never taken)
    for h, w in ((8, 8), (7, 8), (6, 6), (5, 7)):
        model = _Branches(_SHAPE_BRANCHES[name])
        expected = tuple(model(torch.zeros(1, 3, h, w)).shape)
        assert convcalc.plan(_Branches(_SHAPE_BRANCHES[name]), (1, 3, h, w)).output_shape == expected, (h, w)
    H, W = convcalc.symbols("H W")
    with pytest.raises(convcalc.SpecError):  # which way depends on the sizes: plan with numbers
        convcalc.plan(_Branches(_SHAPE_BRANCHES[name]), (1, 3, H, W))


def test_an_assert_that_two_shapes_are_equal_is_a_condition_on_each_axis() -> None:
    from tests.corpus_models import AssertSameShape

    model = AssertSameShape()
    H = convcalc.symbols("H")
    valid = convcalc.plan(model, (1, 3, H, 4)).valid_sizes(H)
    for h in range(1, 16):
        try:
            runs = model(torch.zeros(1, 3, h, 4)) is not None
        except (AssertionError, RuntimeError):
            runs = False
        assert (h in valid) is runs, h


class _TwoStreams(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(4, 5)
        self.dec = nn.Conv1d(4, 5, 3)

    def forward(self, src: Any, tgt: Any) -> Any:
        return self.enc(src), self.dec(tgt)


def test_the_symbols_of_every_input_are_the_plan_s() -> None:
    # valid_sizes(S) of the second input's S: "S is not an input of this plan"
    B, T, S = convcalc.symbols("B T S")
    plan = convcalc.plan(_TwoStreams(), [(B, T, 4), (B, 4, S)])
    assert plan.symbols == (B, T, S)
    valid = plan.valid_sizes(S)
    for s in range(1, 8):
        try:
            runs = _TwoStreams()(torch.zeros(2, 7, 4), torch.zeros(2, 4, s)) is not None
        except RuntimeError:
            runs = False
        assert (s in valid) is runs, s
    assert convcalc.plan(_TwoStreams(), {"src": (2, T, 4), "tgt": (2, 4, S)}).symbols == (T, S)


class _PlainListNet(torch.nn.Module):
    """Layers held in a plain list beside a registered head: torch runs it on the CPU as written, but the list's
    layers are not the model's (a ``.to("cuda")`` or meta copy leaves them behind)."""

    def __init__(self, holder: str) -> None:
        super().__init__()
        layers = [torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)]
        self.layers: Any = {"a": layers[0], "b": layers[1]} if holder == "dict" else layers
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x: Any) -> Any:
        for layer in self.layers.values() if isinstance(self.layers, dict) else self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


@pytest.mark.parametrize(("holder", "fix"), [("list", "an nn.ModuleList"), ("dict", "an nn.ModuleDict")])
def test_modules_held_in_a_plain_list_are_planned_and_named_as_not_the_model_s(holder: str, fix: str) -> None:
    # a common slip: the layers run (on the CPU), but parameters(), an optimizer and .to() never see them
    model = _PlainListNet(holder)
    with pytest.raises(RuntimeError, match="device"):
        _PlainListNet(holder).to("meta")(torch.zeros(2, 8, device="meta"))  # what a plain meta copy would meet
    plan = convcalc.plan(model, (2, 8))
    assert plan.output_shape == tuple(model(torch.zeros(2, 8)).shape) == (2, 3)
    assert plan.total_params == plan.trainable_params == sum(p.numel() for p in model.parameters()) == 27
    keys = ["a", "b"] if holder == "dict" else ["0", "1"]
    held = list(model.layers.values()) if holder == "dict" else model.layers
    assert [(u.path, u.kind, u.trainable, u.non_trainable, u.held_in, u.container) for u in plan.unowned] == [
        (f"layers.{k}", "Linear", sum(p.numel() for p in layer.parameters()), 0, "layers", holder)
        for k, layer in zip(keys, held, strict=True)
    ]
    linear = [(r.name, r.params, r.macs) for r in plan.rows if r.kind == "Linear"]
    assert linear == [(f"layers.{keys[0]}", 0, 64), (f"layers.{keys[1]}", 0, 64), ("head", 27, 24)]
    text = str(plan)
    assert "Not the model's modules (the forward calls them, but torch does not register them" in text
    assert f"  layers.{keys[1]} (Linear): 72 params; layers is a plain {holder}: make it {fix}" in text
    assert json.loads(plan.to_json())["unowned"][0] == {
        "path": f"layers.{keys[0]}",
        "kind": "Linear",
        "trainable": 72,
        "non_trainable": 0,
        "held_in": "layers",
        "container": holder,
    }


class _MadeInForward(torch.nn.Module):
    """A layer with weights made in forward (new random weights each call, never trained) beside a list of the
    model's own layers kept to loop over, a tuple of unregistered ones and a list of lists."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList([torch.nn.Conv2d(3, 3, 3, padding=1) for _ in range(2)])
        self.loop = list(self.convs)  # the model's own layers: not a slip
        self.pair = (torch.nn.Conv2d(3, 3, 1), torch.nn.BatchNorm2d(3))
        self.stages = [[torch.nn.Conv2d(3, 3, 1, bias=False)]]

    def forward(self, x: Any) -> Any:
        for conv in self.loop:
            x = conv(x)
        x = self.pair[1](self.pair[0](x)) + self.stages[0][0](x)
        made = torch.nn.Conv2d(3, 2, 3)
        made.bias.requires_grad_(False)
        return torch.nn.ReLU()(made(x))


def test_layers_made_in_forward_and_nested_plain_lists_are_not_the_model_s() -> None:
    model = _MadeInForward()
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(1, 3, 8, 8)).shape) == (1, 2, 6, 6)
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 168
    assert [(u.path, u.kind, u.trainable, u.non_trainable, u.held_in, u.container) for u in plan.unowned] == [
        ("pair.0", "Conv2d", 12, 0, "pair", "tuple"),
        ("pair.1", "BatchNorm2d", 6, 0, "pair", "tuple"),
        ("stages.0.0", "Conv2d", 9, 0, "stages", "list"),
        ("conv2d", "Conv2d", 54, 2, None, None),  # the ReLU made in forward holds nothing: not listed
    ]
    text = str(plan)
    assert "  pair.1 (BatchNorm2d): 6 params; pair is a plain tuple: make it an nn.ModuleList" in text
    assert "  conv2d (Conv2d): 56 params; made in forward: make it in __init__" in text
    assert convcalc.plan(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)), (1, 3, 8, 8)).unowned == ()


class _MilesialUp(torch.nn.Module):
    """The up-step of a much-copied U-Net (milesial/Pytorch-UNet before 2021): its padding amounts are tensors
    made from sizes, ``torch.tensor([x2.size()[2] - x1.size()[2]])``, which torch's F.pad takes as ints."""

    def __init__(self) -> None:
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(4, 4, 2, stride=2)

    def forward(self, x1: Any, x2: Any) -> Any:
        x1 = self.up(x1)
        diff_y = torch.tensor([x2.size()[2] - x1.size()[2]])
        diff_x = torch.tensor([x2.size()[3] - x1.size()[3]])
        x1 = torch.nn.functional.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
        return torch.cat([x2, x1], dim=1)


def test_padding_amounts_made_as_tensors_of_sizes_are_followed() -> None:
    model = _MilesialUp()
    for small, large in [((4, 5), (9, 11)), ((3, 3), (6, 6)), ((2, 7), (7, 18))]:
        shapes = [(1, 4, *small), (1, 8 // 2, *large)]
        expected = model(*(torch.zeros(s) for s in shapes)).shape
        plan = convcalc.plan(model, shapes)
        assert plan.output_shape == tuple(expected)
        assert [r.kind for r in plan.rows] == ["ConvTranspose2d", "pad", "cat"]  # the sizes' arithmetic: no rows
        assert plan.fallback_rows == ()
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, [(1, 4, H, W), (1, 4, 2 * H + 1, 2 * W + 3)])
    assert symbolic.output_shape == (1, 8, 2 * H + 1, 2 * W + 3)
    for h, w in [(3, 4), (5, 2)]:
        shapes = [(1, 4, h, w), (1, 4, 2 * h + 1, 2 * w + 3)]
        at = tuple(int(d.subs({H: h, W: w})) for d in symbolic.output_shape[2:])
        assert (1, 8, *at) == tuple(model(*(torch.zeros(s) for s in shapes)).shape)


class _NumberTensors(torch.nn.Module):
    """Tensors made from a few whole numbers, given where torch takes ints, and a tensor of a size used as data."""

    def forward(self, x: Any) -> Any:
        d, e = torch.tensor([3]), torch.tensor(2)
        y = torch.nn.functional.pad(x, [d, d // 2 + e, torch.tensor(0), 1]).view(torch.tensor(1), -1)
        return y * torch.tensor([x.size(1)])


def test_tensors_of_a_few_whole_numbers_stand_for_ints_where_torch_takes_ints() -> None:
    model = _NumberTensors()
    plan = convcalc.plan(model, (1, 2, 5, 5))
    assert plan.output_shape == tuple(model(torch.zeros(1, 2, 5, 5)).shape) == (1, 132)
    assert plan.fallback_rows == ()


class _TwoValuedPad(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.nn.functional.pad(x, [torch.tensor([x.size(2), 1]), 0])


def test_a_tensor_of_two_sizes_is_no_padding_amount() -> None:
    with pytest.raises(TypeError, match="tuple of ints"):  # torch: pad must be tuple of ints, but found Tensor
        _TwoValuedPad()(torch.zeros(1, 2, 5, 5))
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(_TwoValuedPad(), (1, 2, *convcalc.symbols("H W")))
    assert "pad (pad): pad must be ints. Received: pad=(<a tensor of shape (2,)>, 0)" in str(caught.value)


class _MadeInALoop(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.held = [torch.nn.Conv2d(3, 3, 1)]

    def forward(self, x: Any) -> Any:
        for _ in range(3):  # three layers, each made anew with weights of its own
            x = torch.nn.Conv2d(3, 3, 3, padding=1)(x)
        return self.held[0](self.held[0](x))  # one layer, called twice


def test_each_layer_that_is_not_the_model_s_is_listed_once() -> None:
    plan = convcalc.plan(_MadeInALoop(), (1, 3, 8, 8))
    made = [("conv2d", 84), ("conv2d_1", 84), ("conv2d_2", 84)]  # each its own name, as its own row
    assert [(u.path, u.params) for u in plan.unowned] == [*made, ("held.0", 12)]
    assert [r.name for r in plan.rows] == ["conv2d", "conv2d_1", "conv2d_2", "held.0", "held.0"]
    assert plan.total_params == 0


class _ConstantIndex(torch.nn.Module):
    def __init__(self, index: list[Any], dtype: Any = None) -> None:
        super().__init__()
        self.index, self.dtype = index, dtype

    def forward(self, x: Any) -> Any:
        return x[:, torch.tensor(self.index, dtype=self.dtype)]


class _CastMask(torch.nn.Module):
    """Whole numbers cast to a mask (``.bool()``), and a uint8 buffer: both select, as bools do."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("keep", torch.tensor([1, 0, 1, 1], dtype=torch.uint8))

    def forward(self, x: Any) -> Any:
        return x[:, torch.arange(x.size(1)).bool()] + x[:, self.keep]


def test_a_constant_index_of_whole_numbers_picks_and_one_of_bools_is_not_taken_for_them() -> None:
    picked = convcalc.plan(_ConstantIndex([0, 2]), (2, 4, 5))
    assert picked.output_shape == tuple(_ConstantIndex([0, 2])(torch.zeros(2, 4, 5)).shape) == (2, 2, 5)
    assert not picked.fallback_rows
    masks = (_ConstantIndex([True, False, True, True]), _ConstantIndex([1, 0, 1, 1], torch.uint8), _CastMask())
    for mask in masks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: indexing with dtype torch.uint8 is now deprecated
            assert tuple(mask(torch.zeros(2, 4, 5)).shape) == (2, 3, 5)  # a mask selects: never 4 picks
        with pytest.raises(convcalc.SpecError, match="a mask's count of True is data"):
            convcalc.plan(mask, (2, 4, 5))


class _SizesAsNumbers(torch.nn.Module):
    """A tensor made from a size, taken back as a number (``int()``, ``.item()``) and negated."""

    def forward(self, x1: Any, x2: Any) -> Any:
        d = torch.tensor([x2.size()[2] - x1.size()[2]])
        e = torch.tensor([x2.size()[3] - x1.size()[3]])
        return torch.nn.functional.pad(x1, [int(e) // 2, e.item() - e.item() // 2, -(-d // 2), d - d // 2])


def test_a_tensor_made_from_a_size_gives_it_back_as_a_number() -> None:
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(_SizesAsNumbers(), [(1, 4, H, W), (1, 4, H + 3, W + 1)])
    assert symbolic.output_shape == (1, 4, H + 4, W + 1)
    for h, w in [(4, 5), (2, 9)]:
        shapes = [(1, 4, h, w), (1, 4, h + 3, w + 1)]
        expected = tuple(_SizesAsNumbers()(*(torch.zeros(s) for s in shapes)).shape)
        assert convcalc.plan(_SizesAsNumbers(), shapes).output_shape == expected == (1, 4, h + 4, w + 1)


class _HeldBlocks(torch.nn.Module):
    """A block held in a plain list beside a registered layer whose name a layer made in forward would take, and
    an unregistered head tied to a registered layer's weight."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d = torch.nn.Conv2d(3, 4, 1)
        self.blocks = [torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3), torch.nn.BatchNorm2d(4))]
        self.linear = torch.nn.Linear(4, 4)
        self.heads = [torch.nn.Linear(4, 4)]
        self.heads[0].weight = self.linear.weight  # tied: the model's own weight

    def forward(self, x: Any) -> Any:
        y = self.blocks[0](self.conv2d(x)).mean((2, 3))
        return self.heads[0](self.linear(y)) + torch.nn.Conv2d(3, 4, 1)(x).mean((2, 3))


def test_layers_inside_a_held_block_are_named_by_it_and_match_torchinfo() -> None:
    import torchinfo

    from tests.torchinfo_text import their_text

    model = _HeldBlocks().eval()
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 16 + 20
    rows = [(r.name, r.kind) for r in plan.rows if r.kind in ("Conv2d", "BatchNorm2d", "Linear")]
    assert rows == [
        ("conv2d", "Conv2d"),
        ("blocks.0.0", "Conv2d"),
        ("blocks.0.1", "BatchNorm2d"),
        ("linear", "Linear"),
        ("heads.0", "Linear"),
        ("conv2d_1", "Conv2d"),  # made in forward: not the registered conv2d's name
    ]
    assert [(u.path, u.kind, u.params, u.held_in) for u in plan.unowned] == [
        ("blocks.0", "Sequential", 148 + 8, "blocks"),
        ("heads.0", "Linear", 4, "heads"),  # its bias: the weight is the model's linear.weight
        ("conv2d_1", "Conv2d", 16, None),
    ]
    theirs = torchinfo.summary(model, (1, 3, 8, 8), verbose=0, device="cpu")
    ours = convcalc.summary(model, input_size=(1, 3, 8, 8), verbose=0)
    assert str(ours) == their_text(theirs)
    assert (ours.total_mult_adds, ours.total_output_bytes) == (theirs.total_mult_adds, theirs.total_output_bytes)


class _RowsOneByOne(torch.nn.Module):
    """A block torch.fx cannot trace (it iterates over the tensor), holding in a plain list a head whose weight is
    tied to a layer of the model outside the block."""

    def __init__(self, head: Any) -> None:
        super().__init__()
        self.heads = [head]

    def forward(self, x: Any) -> Any:
        return torch.stack([self.heads[0](row) for row in x])


class _TiedAcrossTheBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        head = torch.nn.Linear(4, 4)
        head.weight = self.lin.weight
        self.inner = _RowsOneByOne(head)

    def forward(self, x: Any) -> Any:
        return self.inner(self.lin(x))


def test_a_held_layer_tied_to_a_weight_outside_the_block_torch_runs_counts_only_its_own() -> None:
    model = _TiedAcrossTheBlock()
    plan = convcalc.plan(model, (2, 4))
    assert {r.source for r in plan.rows if r.name.startswith("inner")} == {"torch"}
    assert plan.output_shape == tuple(model(torch.zeros(2, 4)).shape) == (2, 4)
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 20
    # its bias only: the weight is the model's lin.weight (all 20 were listed before)
    held = model.inner.heads[0]
    assert (
        [(u.path, u.params) for u in plan.unowned] == [("inner.heads.0", held.bias.numel())] == [("inner.heads.0", 4)]
    )


class _SizeTensorEdges(torch.nn.Module):
    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form

    def forward(self, x1: Any, x2: Any) -> Any:
        d = torch.tensor([x2.size(2) - x1.size(2)])
        if self.form == "clamp_":
            d.clamp_(min=0)
        elif self.form == "iadd":
            e = d
            e += 2
        elif self.form == "narrow":
            return x2.narrow(2, d, 1)  # torch: start must be an 0-dim integral Tensor
        elif self.form == "slice":
            return x2[:, :, : d - 1]
        elif self.form == "index":
            return x2[:, :, torch.tensor([x2.size(2) - 1, x1.size(2) + 3])]  # 6: past the axis of 5
        elif self.form == "int8":
            d = torch.tensor([100], dtype=torch.int8) + x1.size(2)  # wraps around in torch
        elif self.form == "cast":
            d = d.to(torch.int8) * 64  # wraps around in torch
        elif self.form == "view":
            e = d.view(-1)
            e += 2
        elif self.form == "element":
            d[0] += 2
        elif self.form in ("swapaxes", "swapdims", "detach", "real", "narrowed"):  # views of d, written through
            e = {
                "swapaxes": lambda: d.swapaxes(0, 0),
                "swapdims": lambda: d.swapdims(0, 0),
                "detach": lambda: d.detach(),
                "real": lambda: d.real,
                "narrowed": lambda: d.narrow(0, 0, 1),
            }[self.form]()
            e.add_(2)
        elif self.form == "function":
            torch.clamp_(d, min=7)
        elif self.form == "select":
            return x2.index_select(2, torch.tensor([x2.size(2), 0]))  # past the axis
        elif self.form == "nested":
            return x2[:, :, torch.tensor([[0, x2.size(2) - 1], [1, 2]])]
        return torch.nn.functional.pad(x1, [0, 0, 0, d])


@pytest.mark.parametrize(
    "form",
    [
        *("clamp_", "iadd", "narrow", "slice", "index", "int8", "cast", "view", "element", "function", "select"),
        *("nested", "swapaxes", "swapdims", "detach", "real", "narrowed"),
    ],
)
def test_tensors_made_from_sizes_are_followed_or_refused_never_stale(form: str) -> None:
    # what torch gives, or that convcalc refuses: values changed in place, a (1,) tensor where torch takes 0-D
    # only, an index past the axis, a width that wraps around
    model, shapes = _SizeTensorEdges(form), [(1, 2, 3, 4), (1, 2, 5, 4)]
    try:
        expected: Any = tuple(model(*(torch.zeros(s) for s in shapes)).shape)
    except (RuntimeError, IndexError):
        expected = None
    try:
        planned: Any = convcalc.plan(model, shapes).output_shape
    except convcalc.ConvCalcError:
        planned = None
    if form in ("slice", "index", "select", "nested"):
        assert planned == expected == {"slice": (1, 2, 1, 4), "nested": (1, 2, 2, 2, 4)}.get(form)
    else:  # torch runs it; convcalc refuses rather than follow values it cannot know
        assert planned is None, (form, expected)


class _LoRA(torch.nn.Module):
    """The 'LoRA from scratch' update registered with torch.nn.utils.parametrize: ``W + B @ A``."""

    def __init__(self, shape: tuple[int, ...], rank: int = 2) -> None:
        super().__init__()
        self.lora_A = torch.nn.Parameter(torch.randn(rank, math.prod(shape[1:])))
        self.lora_B = torch.nn.Parameter(torch.randn(shape[0], rank))

    def forward(self, weight: Any) -> Any:
        return weight + (self.lora_B @ self.lora_A).view(weight.shape)


def _lora_net() -> Any:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(288, 10))
    torch.nn.utils.parametrize.register_parametrization(net[0], "weight", _LoRA((8, 3, 3, 3)))
    torch.nn.utils.parametrize.register_parametrization(net[3], "weight", _LoRA((10, 288), rank=4))
    net[3].parametrizations.weight.original.requires_grad_(False)  # the frozen base weight, as LoRA trains
    return net


@pytest.mark.parametrize("batch", [1, 3])
def test_a_lora_update_registered_as_a_parametrization_counts_its_products(batch: int) -> None:
    # B @ A runs each forward, as torch's FlopCounterMode counts it: convcalc counted the layers alone (240 of 720
    # MACs for a rank-2 update of a Linear(12, 20)), where the same update written in forward was counted
    import torchinfo
    from torch.utils.flop_counter import FlopCounterMode

    from tests.torchinfo_text import their_text

    net, shape = _lora_net(), (batch, 3, 8, 8)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(torch.randn(shape))
    plan = convcalc.plan(net, shape, macs="flops")
    assert (
        plan.macs * batch
        == counter.get_total_flops()
        == 2 * batch * (8 * 27 * 36 + 288 * 10) + 2 * (8 * 2 * 27 + 10 * 4 * 288)
    )
    assert [r.name for r in plan.rows if r.kind == "matmul"] == [
        "0.parametrizations.weight.0.matmul",
        "3.parametrizations.weight.0.matmul",
    ]
    assert (plan.total_params, plan.trainable_params) == (4376, 1496)
    assert plan.total_params == sum(p.numel() for p in net.parameters())
    assert plan.trainable_params == sum(p.numel() for p in net.parameters() if p.requires_grad)
    theirs = torchinfo.summary(net, shape, verbose=0, device="cpu", depth=10)
    ours = convcalc.summary(net, input_size=shape, verbose=0, depth=10)
    assert str(ours) == their_text(theirs)
    assert ours.total_mult_adds == theirs.total_mult_adds


class _SkippedWhileZero(torch.nn.Module):
    """A delta skipped while it is all zeros, as zero-initialised adapters are: its forward branches on values."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.delta = torch.nn.Parameter(torch.zeros(shape))

    def forward(self, weight: Any) -> Any:
        if self.delta.abs().max() == 0:
            return weight
        return weight + self.delta


def test_a_parametrization_whose_forward_branches_on_values_leaves_the_layer_as_it_was() -> None:
    # reading its forward is refused (a branch on values), which refused the whole model: the layer is planned
    # as before, without that work (an elementwise add, 0 FLOPs for torch too)
    from torch.utils.flop_counter import FlopCounterMode

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(288, 4))
    torch.nn.utils.parametrize.register_parametrization(net[0], "weight", _SkippedWhileZero((8, 3, 3, 3)))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = net(torch.zeros(2, 3, 8, 8))
    plan = convcalc.plan(net, (2, 3, 8, 8), macs="flops")
    assert plan.output_shape == tuple(out.shape) == (2, 4)
    assert plan.total_params == sum(p.numel() for p in net.parameters()) == 1596
    assert plan.macs * 2 == counter.get_total_flops() == 35712
    assert [r.name for r in plan.rows] == ["0", "1", "2", "3"]


def test_a_layer_read_with_its_parametrizations_is_built_and_written_as_the_layer() -> None:
    # from_torch of a LoRA model built and dumped as its plain layers before the parametrizations were planned;
    # the spec that plans them is written and built as the layer it wraps, as before
    from convcalc.specfile import dump_spec, loads_spec

    spec = convcalc.from_torch(_lora_net())
    built = spec.to_torch()
    assert [type(m).__name__ for m in built] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert sum(p.numel() for p in built.parameters()) == 8 * 27 + 8 + 2880 + 10
    layers = loads_spec(dump_spec(spec))[0]
    assert [type(m).__name__ for _, m in layers.children()] == ["Conv2d", "ReLU", "Flatten", "Linear"]


class _PolicyValue(torch.nn.Module):
    """A PPO-style actor-critic: a distribution first (no tensor convcalc shapes), the value second; or None
    first."""

    def __init__(self, first: str) -> None:
        super().__init__()
        self.first = first
        self.trunk = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh())
        self.pi = torch.nn.Linear(64, 4)
        self.v = torch.nn.Linear(64, 1)

    def forward(self, obs: Any) -> Any:
        h = self.trunk(obs)
        if self.first == "none":
            return None, self.v(h)
        if self.first == "normal":  # made with torch's default checks of its arguments' values
            return torch.distributions.Normal(self.pi(h), self.pi(h).exp()), self.v(h)
        return torch.distributions.Categorical(logits=self.pi(h), validate_args=False), self.v(h)


@pytest.mark.parametrize("first", ["none", "distribution", "normal"])
def test_an_output_without_a_shape_first_keeps_its_place(first: str) -> None:
    # the first output's None was taken for a single output: output_shapes gave ((3, 1),), the value's shape
    # as if it were the only output; a Normal made with its default checks was refused (a meta tensor's values)
    model = _PolicyValue(first)
    out = model(torch.zeros(3, 8))
    assert len(out) == 2
    assert tuple(out[1].shape) == (3, 1)
    plan = convcalc.plan(model, (3, 8))
    assert plan.output_shapes == (None, (3, 1))
    assert plan.output_shape == (3, 1)  # the first tensor's
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    if first == "none":  # torchinfo reads the first output, None, as no size: "--" and []
        ours = convcalc.summary(model, input_size=(3, 8), verbose=0)
        theirs = torchinfo.summary(model, input_size=(3, 8), verbose=0)
        assert ours.summary_list[0].output_size == theirs.summary_list[0].output_size == []
        assert str(ours).splitlines()[3].split()[1] == "--"


class _PackedText(torch.nn.Module):
    """Token ids and their lengths, packed for an LSTM: the packing needs the lengths' values."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(100, 16)
        self.rnn = torch.nn.LSTM(16, 24, batch_first=True)

    def forward(self, x: Any, lengths: Any) -> Any:
        pack = torch.nn.utils.rnn.pack_padded_sequence
        _, (h, _) = self.rnn(pack(self.emb(x), lengths, batch_first=True, enforce_sorted=False))
        return h[-1]


def test_a_refusal_after_integer_inputs_says_why_they_failed() -> None:
    # it gave the first run's reason, float indices for the Embedding, where the caller passed int64 ids
    x, lengths = torch.randint(1, 100, (3, 9)), torch.tensor([9, 4, 6])
    assert tuple(_PackedText()(x, lengths).shape) == (3, 24)
    with pytest.raises(convcalc.SpecError, match="with the inputs as integers, RuntimeError: 'lengths' argument"):
        convcalc.summary(_PackedText(), input_data=[x, lengths], verbose=0)


class _Quantizable(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.dequant = torch.ao.quantization.DeQuantStub()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)

    def forward(self, x: Any) -> Any:
        return self.dequant(self.bn(self.conv(self.quant(x))))


def test_a_model_prepared_for_quantization_is_planned_as_its_layers() -> None:
    # the observers' forward hooks sent each layer to torch's machinery, where an observer's min/max of a meta
    # tensor failed: the model was refused
    model = _Quantizable().eval()
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.prepare(model, inplace=True)
    shape = (2, 3, 16, 16)
    with torch.no_grad():
        expected = tuple(model(torch.randn(shape)).shape)
    plan = convcalc.plan(model, shape)
    assert plan.output_shape == expected == (2, 8, 14, 14)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.buffers == sum(b.numel() for b in model.buffers())
    assert not plan.fallback_rows
    assert plan.macs == 8 * 3 * 9 * 14 * 14


def test_the_meta_run_leaves_torch_s_default_argument_checks_as_they_were() -> None:
    before = torch.distributions.Distribution._validate_args
    convcalc.plan(_PolicyValue("normal"), (3, 8))
    assert torch.distributions.Distribution._validate_args is before


class _Crop(torch.nn.Module):
    """Crops whose length is a Max or Min that only its own constraint decides (``x[..., 2:-3]``)."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.conv = torch.nn.Conv1d(2, 2, 3)

    def forward(self, x: Any) -> Any:
        if self.form == "2:-3":
            return x[..., 2:-3]
        if self.form == "3:-4 pool":
            return torch.nn.functional.max_pool1d(x[..., 3:-4], 2)
        if self.form == "conv 1:-1":
            return self.conv(x)[..., 1:-1]
        if self.form == "crop of a crop":
            return x[..., 3:-4][..., 3:-4]
        if self.form == "last 9, one U-Net level":  # valid for a few small sizes only
            y = x[..., -9:]
            return y + torch.nn.functional.interpolate(torch.nn.functional.max_pool1d(y, 2), scale_factor=2)
        if self.form == ":5 + :6":
            return x[..., :5] + x[..., :6]
        return x[..., ::2][..., 1:-2]


@pytest.mark.parametrize(
    ("form", "sizes"),
    [
        ("2:-3", range(5, 41)),
        ("3:-4 pool", range(9, 41)),
        ("conv 1:-1", range(4, 41)),
        ("::2 then 1:-2", range(5, 41)),
        ("crop of a crop", range(14, 41)),  # a Max inside a Max
        ("last 9, one U-Net level", (2, 4, 6, 8)),  # no large size fits (said no size at all)
        (":5 + :6", range(1, 6)),
    ],
)
def test_valid_sizes_of_a_crop_its_own_constraint_decides(form: str, sizes: Any) -> None:
    # valid_sizes refused them: no other constraint decided the Max of the crop's clamp. Every size it gives runs
    # in torch with the planned length; those it leaves out fail or give an empty tensor (docs/howto/symbolic.md)
    model = _Crop(form)
    L = convcalc.symbols("L")
    plan = convcalc.plan(model, (1, 2, L))
    solution = plan.valid_sizes(L)
    assert solution.values(40) == list(sizes)
    lengths = {v: int(sympy.sympify(plan.output_shape[-1]).subs(L, v)) for v in solution.values(40)}
    for length in sorted(set(lengths.values()) - {0})[:6]:  # inputs_for refused a clamped output
        wanted = [v for v, n in lengths.items() if n == length]
        found = plan.inputs_for(length, L, axis=-1)
        assert [v for v in found if v <= 40] == wanted, length
    for size in range(1, 41):
        try:
            out: Any = tuple(model(torch.zeros(1, 2, size)).shape)
        except RuntimeError:
            out = None
        if size in solution:
            assert out == tuple(int(sympy.sympify(d).subs(L, size)) for d in plan.output_shape), size
        else:
            assert out is None or 0 in out, size


def test_a_layer_whose_forward_names_no_module_is_read() -> None:
    """A class made by ``exec`` into a namespace without ``__name__`` (code generators, some notebook runners):
    its ``forward.__module__`` is None, which the check for torch's own layers read as a string."""
    import torch

    namespace: dict[str, Any] = {"torch": torch}
    exec(
        "class LayerScale(torch.nn.Module):\n"
        "    def __init__(self, dim):\n"
        "        super().__init__()\n"
        "        self.gamma = torch.nn.Parameter(1e-5 * torch.ones(dim))\n"
        "    def forward(self, x):\n"
        "        return x * self.gamma\n",
        namespace,
    )
    assert namespace["LayerScale"].forward.__module__ is None
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), namespace["LayerScale"](8))
    plan = convcalc.plan(model, (2, 8))
    assert plan.output_shape == tuple(model(torch.zeros(2, 8)).shape)
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 80
    assert convcalc.summary(model, input_size=(2, 8), verbose=0).total_params == 80


# --------------------------------------------------------------------------- #
# an input tested by identity or class (``if use_cache is True:``): a traced value answers ``is`` as the proxy
# --------------------------------------------------------------------------- #


class _IsTrue(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x: Any, use_cache: bool = True) -> Any:
        if use_cache is True:
            return self.c(x)
        return x


class _IsInstance(_IsTrue):
    def forward(self, x: Any, flag: Any = True) -> Any:
        return self.c(x) if isinstance(flag, bool) else x


class _TypeIs(_IsTrue):
    def forward(self, x: Any, *, k: Any = 1) -> Any:
        return self.c(x) if type(k) is int and k == 1 else x


class _Outer(torch.nn.Module):
    def __init__(self, flag: bool) -> None:
        super().__init__()
        self.inner = _IsTrue()
        self.flag = flag

    def forward(self, x: Any) -> Any:
        return self.inner(x, use_cache=self.flag)


class _Present(torch.nn.Module):
    """GPT-2's attention in transformers 2.x and 3.x: ``present`` made only ``if use_cache is True``."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x: Any, layer_past: Any = None, use_cache: bool = True) -> Any:
        q, k, v = self.qkv(x).split(16, dim=2)
        present = torch.stack((k, v)) if use_cache is True else (None,)
        return torch.softmax(q @ k.transpose(-1, -2), -1) @ v, present


@pytest.mark.parametrize("make", [_IsTrue, _IsInstance, _TypeIs, lambda: _Outer(True), _Present])
def test_an_input_tested_by_identity_is_read_at_its_default(make: Any) -> None:
    """``use_cache is True`` of a traced value was False whatever it held: the branch of another value was planned
    without an error (no convolution: 0 MACs for torch's 169,344 FLOPs; GPT-2's ``present`` missing)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = make().eval()
    shape = (2, 5, 16) if make is _Present else (2, 3, 16, 16)
    x = torch.randn(shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(x)
    expected = tuple(tuple(o.shape) for o in out) if isinstance(out, tuple) else tuple(out.shape)
    plan = convcalc.plan(model, shape, macs="flops")
    assert (plan.output_shapes if isinstance(out, tuple) else plan.output_shape) == expected
    assert plan.macs * 2 == counter.get_total_flops()


def test_a_flag_tested_by_identity_given_another_value_is_read_again_with_it() -> None:
    """A flag given the other value than its default is read with that value (the forward read at the default
    does not hold), by rule, at numbers and at symbols alike."""
    plan = convcalc.plan(_Outer(False), (2, 3, 16, 16))
    assert (plan.output_shape, plan.macs, plan.rows, plan.fallback_rows) == ((2, 3, 16, 16), 0, (), ())
    assert [u.name for u in plan.uncalled] == ["inner.c"]
    assert str(convcalc.plan(_Outer(False), (2, 3, "H", "W")).output_shape) == "(2, 3, H, W)"
    assert convcalc.plan(_Outer(True), (2, 3, "H", "W")).output_shape[1] == 8


_CONV = "conv"


def test_an_input_tested_by_identity_that_is_no_flag_given_another_value_is_run_by_torch_or_refused() -> None:
    """A number the forward tests by identity (``type(k) is int``), given another value than its default: the
    forward read at the default does not hold; with numbers torch's machinery runs it as it is, with symbols it is
    refused by name."""

    class Inner(_IsTrue):
        def forward(self, x: Any, mode: str = _CONV) -> Any:
            return self.c(x) if mode is _CONV else x

    class Caller(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Inner()

        def forward(self, x: Any) -> Any:
            return self.inner(x, mode="skip")

    model = Caller().eval()
    plan = convcalc.plan(model, (2, 3, 16, 16))
    assert (plan.output_shape, plan.macs, plan.rows) == ((2, 3, 16, 16), 0, ())
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(model, (2, 3, "H", "W"))
    assert str(info.value) == (
        "inner (Inner): its forward tests its input 'mode' with is (or a flag's class), which convcalc reads at "
        "its default 'conv' only; plan with numbers (torch's shape machinery runs the forward as it is), or write the "
        "test as a comparison (mode == 'conv'). Received: mode='skip'"
    )


class _Dispatch(torch.nn.Module):
    """A flag tested by identity in a method the forward hands it to (GPT-2's ``self._attn(..., use_cache)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(8, 8)
        self.b = torch.nn.Linear(8, 4)

    def _attn(self, x: Any, wide: bool) -> Any:
        return self.a(x) if wide is True else self.b(x)

    def forward(self, x: Any, wide: bool = True) -> Any:
        return self._attn(x, wide)


class _Dispatcher(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.one = _Dispatch()
        self.two = _Dispatch()
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x: Any, twice: bool = False) -> Any:
        y = self.one(x, wide=True)
        z = self.two(x, False)
        if twice:
            y = y * 2
        return self.head(y), z


@pytest.mark.parametrize("twice", [None, False, True])
@pytest.mark.parametrize("batch", [2, "N"])
def test_a_flag_tested_by_identity_in_a_method_the_forward_calls_is_read_as_given(twice: Any, batch: Any) -> None:
    """``if wide is True:`` in a method the forward calls saw the traced flag, which is never True: a default of
    True planned the other branch, a Linear(8, 4) where torch calls a Linear(8, 8), without an error. Every flag
    is read at its value now, the one given or its default, at each call."""
    model = _Dispatcher().eval()
    given: Any = {"x": (2, 8)} if twice is None else {"x": (2, 8), "twice": twice}
    with torch.no_grad():
        out = model(**{k: torch.zeros(v) if k == "x" else v for k, v in given.items()})
    plan = convcalc.plan(model, {**given, "x": (batch, 8)})
    assert str(plan.output_shapes) == str(tuple((batch, *o.shape[1:]) for o in out)).replace("'", "")
    assert [r.name for r in plan.rows] == ["one.a", "two.b", *(["mul"] if twice else []), "head"]
    assert not plan.fallback_rows
    assert plan.macs == 8 * 8 + 8 * 4 + 8 * 3
    assert convcalc.plan(model.one, (2, 8)).output_shape == (2, 8)


class _Scaled(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(8, 8)

    def forward(self, x: Any, scale: bool = False) -> Any:
        return self.a(x) * 2 if scale else self.a(x)


class _ScaledBy(torch.nn.Module):
    """A flag given a value that is no bool: a condition of the sizes, a number."""

    def __init__(self, given: Any) -> None:
        super().__init__()
        self.block = _Scaled()
        self.given = given

    def forward(self, x: Any) -> Any:
        return self.block(x, self.given(x))


@pytest.mark.parametrize("given", [lambda x: x.size(0) > 4, lambda x: 1, lambda x: 0, lambda x: x.shape[0] // 5])
@pytest.mark.parametrize("batch", [2, 6])
def test_a_flag_given_a_value_that_is_no_bool_is_traced(given: Any, batch: int) -> None:
    """A flag is read at True or False; given a size's condition or a number, the forward is read again with it
    traced, as the value it is (at numbers; a condition of the symbols is refused by name)."""
    model = _ScaledBy(given).eval()
    with torch.no_grad():
        expected = tuple(model(torch.zeros(batch, 8)).shape)
    plan = convcalc.plan(model, (batch, 8))
    assert (plan.output_shape, plan.fallback_rows) == (expected, ())
    assert [r.name for r in plan.rows] == ["block.a", *(["block.mul"] if given(torch.zeros(batch, 8)) else [])]


def test_a_flag_given_a_condition_of_the_symbols_is_refused_by_name() -> None:
    with pytest.raises(
        convcalc.SpecError, match=r"block \(_Scaled\): its forward branches on a condition of the sizes"
    ):
        convcalc.plan(_ScaledBy(lambda x: x.size(0) > 4), ("N", 8))
    plan = convcalc.plan(_ScaledBy(lambda x: 1), ("N", 8))
    assert [r.name for r in plan.rows] == ["block.a", "block.mul"]


class _PoolFlag(torch.nn.Module):
    """An input whose name begins another's (``pool`` and ``pool_bias``): the flag read at its default is the
    one the caller gives."""

    def forward(self, x: Any, pool_bias: Any = None, pool: bool = True) -> Any:
        return torch.nn.functional.max_pool2d(x, 2) if pool is True else x


class _PoolCaller(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.block = _PoolFlag()

    def forward(self, x: Any) -> Any:
        return self.block(self.c(x), pool=False)


def test_an_input_read_at_its_default_is_told_from_one_whose_name_begins_it() -> None:
    model = _PoolCaller().eval()
    with torch.no_grad():
        expected = tuple(model(torch.zeros(1, 3, 16, 16)).shape)
    assert convcalc.plan(model, (1, 3, 16, 16)).output_shape == expected == (1, 8, 16, 16)
    plan = convcalc.plan(model, (1, 3, "H", "W"))  # the flag given is read: no pool
    assert (str(plan.output_shape), plan.fallback_rows) == ("(1, 8, H, W)", ())


def test_an_int_input_whose_class_is_asked_is_read_with_the_value_given() -> None:
    """``isinstance(scale, int)`` normalising an argument is asked of the traced value, as before (only a flag's
    class, or an identity test, reads the default)."""

    class Up(torch.nn.Module):
        def forward(self, x: Any, scale: Any = 2) -> Any:
            if isinstance(scale, int):
                scale = (scale, scale)
            return torch.nn.functional.interpolate(x, scale_factor=scale)

    class Caller(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = Up()

        def forward(self, x: Any) -> Any:
            return self.up(x, scale=3)

    h = convcalc.symbols("H")
    assert convcalc.plan(Caller(), (1, 4, h, h)).output_shape == (1, 4, 3 * h, 3 * h)


class _LoraLinear(torch.nn.Module):
    """A LoRA wrapper set in place of a layer that another's forward reads the weight of."""

    def __init__(self, base: Any) -> None:
        super().__init__()
        self.base = base
        self.lora_a = torch.nn.Linear(base.in_features, 4, bias=False)
        self.lora_b = torch.nn.Linear(4, base.out_features, bias=False)

    def forward(self, x: Any) -> Any:
        return self.base(x) + self.lora_b(self.lora_a(x))


def test_a_forward_refused_again_is_refused_the_same_way() -> None:
    """nn.TransformerEncoderLayer in eval reads ``linear1.weight`` on its fast path, which a LoRA wrapper set in
    its place does not have: torch raises, convcalc refuses. The second plan, starting from the optional inputs and
    decisions the first one remembered, went back and forth between its two retries until a RecursionError."""

    def make() -> Any:
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        layer.linear1 = _LoraLinear(layer.linear1)
        return layer.eval()

    model = make()
    with pytest.raises(AttributeError), torch.no_grad():
        model(torch.zeros(2, 6, 32))
    for each in (model, model, make()):
        with pytest.raises(convcalc.SpecError, match="'_LoraLinear' object has no attribute"):
            convcalc.plan(each, (2, 6, 32))


# --------------------------------------------------------------------------- #
# An nn.Sequential subclass is its chain only where torch runs Sequential.forward
# --------------------------------------------------------------------------- #


def _untraceable(size: Any) -> int:
    """A step torch.fx cannot follow (json of a proxy), for forwards that must reach torch's machinery."""
    return int(json.loads(json.dumps(size)))


class _DenseChain(torch.nn.Sequential):
    """Its input concatenated with the chain's output: 8 channels out of 4."""

    def forward(self, x: Any) -> Any:
        return torch.cat([x[:, : _untraceable(x.shape[1])], super().forward(x)], 1)


class _TwiceChain(torch.nn.Sequential):
    """The chain applied twice (shared weights): twice its MACs."""

    def forward(self, x: Any) -> Any:
        for _ in range(_untraceable(x.shape[1]) // 2):
            x = super().forward(x)
        return x


class _PlainChain(torch.nn.Sequential):
    """A subclass that only builds its chain: Sequential.forward runs it."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU())


class _NamedChain(_PlainChain):
    forward = torch.nn.Sequential.forward  # (its forward is Sequential's own)


def _flops(model: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = model(torch.randn(shape))
    return tuple(out.shape), counter.get_total_flops()


def test_a_sequential_subclass_with_its_own_forward_is_run_by_torch_not_read_as_its_chain() -> None:
    # its forward fx cannot trace was read as the chain it holds: the concat was lost (a ShapeError on a model
    # torch runs) and the second pass of the chain was not counted (9,216 MACs for 18,432), without an error
    shape = (2, 4, 8, 8)
    dense = torch.nn.Sequential(_DenseChain(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU()), nn.Conv2d(8, 2, 1))
    out, flops = _flops(dense, shape)
    plan = assert_plan_is_torch(dense, shape)
    assert plan.output_shape == out == (2, 2, 8, 8)
    assert plan.macs * 2 * shape[0] == flops
    assert [r.name for r in plan.rows] == ["0.__getitem__", "0.0", "0.1", "0.cat", "1"]
    assert {r.name for r in plan.fallback_rows} == {"0.__getitem__", "0.0", "0.1", "0.cat"}
    twice = _TwiceChain(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU())
    out, flops = _flops(twice, shape)
    plan = assert_plan_is_torch(twice, shape)
    assert plan.macs * 2 * shape[0] == flops
    assert plan.macs == 2 * 4 * 4 * 9 * 8 * 8
    # torch's machinery needs numbers: with symbols the subclass is refused by name, never read as its chain
    for model, name in ((dense, r"0 \(_DenseChain\)"), (twice, r"<model> \(_TwiceChain\)")):
        with pytest.raises(convcalc.SpecError, match=rf"^{name}: torch\.fx cannot trace its forward .*symbols"):
            convcalc.plan(model, ("N", 4, 8, 8))


@pytest.mark.parametrize("make", [_PlainChain, _NamedChain])
def test_a_sequential_subclass_whose_forward_is_sequential_s_is_read_as_its_chain(make: Any) -> None:
    model = torch.nn.Sequential(make(), torch.nn.Conv2d(4, 2, 1))
    plan = assert_plan_is_torch(model, (2, 4, 8, 8))
    assert ([r.name for r in plan.rows], plan.fallback_rows) == (["0.0", "0.1", "1"], ())
    h = convcalc.symbols("H")
    assert convcalc.plan(model, (2, 4, h, h)).output_shape == (2, 2, h, h)


def _qat_fused(names: list[str], bias: bool) -> Any:
    """``fuse_modules_qat`` + ``prepare_qat``: a ConvBn2d or ConvBnReLU2d, an nn.Conv2d and (through
    _FusedModule) an nn.Sequential whose forward folds its ``bn`` into the conv's weight."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=bias), nn.BatchNorm2d(8), nn.ReLU()).train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.fuse_modules_qat(model, [names])
        model.qconfig = torch.ao.quantization.get_default_qat_qconfig("fbgemm")
        return torch.ao.quantization.prepare_qat(model)


@pytest.mark.parametrize("names", [["0", "1"], ["0", "1", "2"]])
@pytest.mark.parametrize(("train", "slow"), [(True, False), (True, True), (False, False)])
def test_a_conv_fused_with_its_batchnorm_for_qat_is_planned_as_torch_runs_it(
    names: list[str], train: bool, slow: bool
) -> None:
    # it was read as the chain of its children (its bn alone on the 3-channel input): a wrong ShapeError
    shape = (2, 3, 10, 10)

    def make() -> Any:
        model = _qat_fused(names, bias=train)  # (a conv bias where it trains, none where it does not)
        model[0]._enable_slow_path_for_better_numerical_stability = slow
        model[0].weight.requires_grad_(False)  # a frozen conv weight: trainable 24, not 240
        return model.train(train)

    model = make()
    assert type(model[0]).__name__ == ("ConvBn2d" if len(names) == 2 else "ConvBnReLU2d")
    assert isinstance(model[0], nn.Sequential)
    buffers = sum(b.numel() for b in model.buffers())  # (a real forward grows the per-channel observer's)
    plan = convcalc.plan(model, shape)
    out, flops = _flops(make(), shape)
    assert plan.output_shape == out == (2, 8, 8, 8)
    # in training the slow path runs a second conv, for the batch's statistics
    assert plan.macs == 8 * 3 * 9 * 8 * 8 * (2 if train and slow else 1)
    assert plan.macs * 2 * shape[0] == flops
    info = torchinfo.summary(make(), input_size=shape, verbose=0)
    assert (plan.total_params, plan.trainable_params) == (info.total_params, info.trainable_params)
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 232 + 8 * train
    assert plan.trainable_params == 16 + 8 * train
    assert plan.buffers == buffers == sum(b.numel() for b in model.buffers())
    with pytest.raises(convcalc.SpecError, match=r"^0 \(ConvBn(ReLU)?2d\): torch\.fx cannot trace .*symbols"):
        convcalc.plan(model, ("N", 3, 10, 10))


class _WithLoss(torch.nn.Module):
    """A training wrapper: ``forward(x, y)`` returns the logits and the loss against the targets."""

    def __init__(self) -> None:
        super().__init__()
        self.model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.criterion = torch.nn.CrossEntropyLoss()

    def forward(self, x: Any, y: Any) -> Any:
        logits = self.model(x)
        return logits, self.criterion(logits, y)


def test_a_tensor_given_to_plan_is_taken_as_its_shape() -> None:
    """``plan(m, {"x": shape, "y": targets})``: the tensor went to the forward as a value and the loss refused it
    with "expects a tensor. Received: argument='Tensor'"; it is taken as its shape, as summary's input_data takes
    it, and a 0-d one (a diffusion model's timestep) as the shape ``()``, which among several inputs is a 0-d
    tensor's."""
    import numpy as np

    model = _WithLoss()
    targets = torch.tensor([0, 3])
    expected = tuple(tuple(t.shape) for t in model(torch.zeros(2, 3, 10, 10), targets))
    for given in (
        {"x": (2, 3, 10, 10), "y": targets},
        {"x": (2, 3, 10, 10), "y": (2,)},
        [(2, 3, 10, 10), np.zeros(2)],
    ):
        assert convcalc.plan(model, given).output_shapes == expected
    with pytest.raises(convcalc.ShapeError, match=r"input_shape\[0\] is a Tensor of data, not a size"):
        convcalc.plan(model, [torch.zeros(2, 3, 10, 10), targets])  # tensors alone: the shapes were meant
    summary = convcalc.summary(model, input_data=[torch.zeros(2, 3, 10, 10), targets], verbose=0)
    assert summary.total_params == 224


class _Timestepped(torch.nn.Module):
    """diffusers' UNet2DModel takes its timestep as a 0-d tensor (or a number), made a batch in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.embed = torch.nn.Linear(1, 8)

    def forward(self, sample: Any, timestep: Any) -> Any:
        steps = timestep
        if not torch.is_tensor(steps):
            steps = torch.tensor([steps], dtype=torch.long)
        elif len(steps.shape) == 0:
            steps = steps[None]
        steps = steps * torch.ones(sample.shape[0], dtype=steps.dtype)
        return self.conv(sample) + self.embed(steps[:, None].float())[:, :, None, None]


def test_a_0d_tensor_input_is_planned_as_one() -> None:
    """A 0-d timestep was handed to the forward as the value ``()`` (plan of ``[shape, ()]``, and summary of a 0-d
    tensor, which it takes as that shape): torch.tensor refused it."""
    model = _Timestepped().eval()
    x, t = torch.zeros(2, 3, 16, 16), torch.tensor(10)
    with torch.no_grad():
        expected = tuple(model(x, t).shape)
    for given in ([(2, 3, 16, 16), ()], {"sample": (2, 3, 16, 16), "timestep": ()}, {"sample": x, "timestep": t}):
        assert convcalc.plan(model, given).output_shape == expected
    theirs = torchinfo.summary(model, input_data=[x, t], verbose=0)
    ours = convcalc.summary(model, input_data=[x, t], verbose=0)
    assert (ours.total_mult_adds, ours.total_params) == (theirs.total_mult_adds, theirs.total_params)
    with pytest.raises(convcalc.ShapeError, match="input_shape must not be empty"):
        convcalc.plan(model, ())


class _OptionalStep(torch.nn.Module):
    """guided-diffusion's forward(x, timesteps=None, y=None), asserting on the one left out."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(1, 3)

    def forward(self, x: Any, t: Any = None, y: Any = None) -> Any:
        assert y is None
        return x + self.embed(t[:, None])[:, :, None, None]


def test_an_optional_input_given_by_position_is_read_given() -> None:
    """Read with every optional input left out, the forward failed on the one given (``t[:, None]`` of None), and
    with none left out on the assert of the other: refused with symbols, run by torch with numbers. It is read with
    the first of them given."""
    model = _OptionalStep()
    for shape in ((2, 3, 5, 4), (2, 3, "H", 4)):
        plan = convcalc.plan(model, [shape, (2,)])
        assert (str(plan.output_shape), plan.fallback_rows) == (str(shape).replace("'", ""), ())
    assert convcalc.plan(model, [(2, 3, 5, 4), (2,)]).output_shape == tuple(
        model(torch.zeros(2, 3, 5, 4), torch.zeros(2)).shape
    )


class _ScaleShiftBlock(torch.nn.Module):
    """guided-diffusion's ResBlock with use_scale_shift_norm: ``self.out_layers[0], self.out_layers[1:]``."""

    def __init__(self) -> None:
        super().__init__()
        self.in_layers = torch.nn.Sequential(
            torch.nn.GroupNorm(4, 16), torch.nn.SiLU(), torch.nn.Conv2d(16, 16, 3, padding=1)
        )
        self.emb_layers = torch.nn.Sequential(torch.nn.SiLU(), torch.nn.Linear(32, 32))
        self.out_layers = torch.nn.Sequential(
            torch.nn.GroupNorm(4, 16), torch.nn.SiLU(), torch.nn.Dropout(0.0), torch.nn.Conv2d(16, 16, 3, padding=1)
        )

    def forward(self, x: Any, emb: Any) -> Any:
        h = self.in_layers(x)
        scale, shift = torch.chunk(self.emb_layers(emb)[..., None, None], 2, dim=1)
        norm, rest = self.out_layers[0], self.out_layers[1:]
        return x + rest(norm(h) * (1 + scale) + shift)


def test_a_slice_of_a_sequential_calls_its_layers_in_turn() -> None:
    """``self.out_layers[1:]`` is a Sequential the model does not hold: fx refused it ("not installed as a
    submodule"), so a symbolic plan was refused; its layers are the model's, each called in turn."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _ScaleShiftBlock().eval()
    x, emb = torch.zeros(2, 16, 8, 8), torch.zeros(2, 32)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(x, emb)
    plan = convcalc.plan(model, [(2, 16, 8, 8), (2, 32)])
    assert (plan.output_shape, plan.fallback_rows) == (tuple(out.shape), ())
    assert plan.macs * 2 * 2 == counter.get_total_flops()
    assert [r.name for r in plan.rows if r.name.startswith("out_layers")][1:] == [
        "out_layers.1",
        "out_layers.2",
        "out_layers.3",
    ]
    assert str(convcalc.plan(model, [(2, 16, "H", "W"), (2, 32)]).output_shape) == "(2, 16, H, W)"
    theirs = torchinfo.summary(model, input_data=[x, emb], verbose=0)
    ours = convcalc.summary(model, input_data=[x, emb], verbose=0)
    assert (ours.total_mult_adds, ours.total_params) == (theirs.total_mult_adds, theirs.total_params)


class _Levels(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, 2, 1)
        self.c2 = torch.nn.Conv2d(8, 8, 3, 2, 1)

    def forward(self, x: Any) -> Any:
        a = self.c1(x)
        return OrderedDict([("0", a), ("1", self.c2(a))])


class _LevelsHead(torch.nn.Module):
    """torchvision's detection models: ``list(self.backbone(images).values())``."""

    def __init__(self, view: str) -> None:
        super().__init__()
        self.backbone = _Levels()
        self.head = torch.nn.Conv2d(8, 4, 1)
        self.view = view

    def forward(self, images: Any) -> Any:
        features = self.backbone(images)
        if self.view == "values":
            levels = list(features.values())
        elif self.view == "items":
            levels = [f for _, f in features.items()]
        else:
            levels = [features[k] for k in features.keys()]  # noqa: SIM118 - as the models write it
        return torch.cat([self.head(f).flatten(2) for f in levels], 2)


@pytest.mark.parametrize("view", ["values", "items", "keys"])
def test_the_values_of_a_dict_a_module_returned_are_its_levels(view: str) -> None:
    """``.values()``, ``.items()`` and ``.keys()`` of the dict a backbone returns were refused as tensor methods:
    with symbols the plan was refused, with numbers it ran through torch's pass."""
    model = _LevelsHead(view).eval()
    h, w = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (2, 3, h, w))
    for size in ((32, 32), (17, 9)):
        plan = convcalc.plan(model, (2, 3, *size))
        assert not plan.fallback_rows
        with torch.no_grad():
            expected = tuple(model(torch.zeros(2, 3, *size)).shape)
        assert plan.output_shape == expected
        assert tuple(int(sympy.sympify(d).subs({h: size[0], w: size[1]})) for d in symbolic.output_shape) == expected
