"""The Plan module (``convcalc/_plan.py``): torchinfo's layout of a torch module (its calls, parametrizations,
hooks and leaves read step by step), torchinfo's mult-adds per row, the conditions' ``holds``, the receptive
field after a slice, and the Plan's own messages (written to kill mutants; see docs/mutation.md).

The oracles are torchinfo 1.8, which runs each module (its table with every column that reads the calls, its
totals and its layer list, value by value), torch's ``numel()`` counts, and torch's gradients for the receptive
field. The models are small and built by hand, so the file runs in a few seconds.
"""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from typing import Any

import pytest
import sympy
import torch
import torchinfo

import convcalc
from convcalc import Constraint, ReceptiveField, SpecError
from tests.torchinfo_text import their_text

nn = torch.nn
F = torch.nn.functional
parametrize = torch.nn.utils.parametrize

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = convcalc.symbols("H W")
#: the columns that read a call's input, output, parameters and mult-adds
COLUMNS = ("input_size", "output_size", "num_params", "mult_adds")


def _layers(stats: Any) -> list[tuple[Any, ...]]:
    """Each layer's fields; the input and mult-adds of the leaves (torchinfo's containers add up their
    children's mult-adds in a way its table does not show, as tests/test_summary_dropin.py compares them)."""
    return [
        (
            r.class_name,
            r.depth,
            r.depth_index,
            r.is_leaf_layer,
            r.is_recursive,
            r.num_params,
            r.trainable_params,
            r.output_size,
            (r.input_size, r.macs) if r.is_leaf_layer else None,
        )
        for r in stats.summary_list
    ]


def assert_as_torchinfo(module: Any, shape: Any) -> Any:
    """convcalc's summary of ``module`` is torchinfo's, line for line and layer for layer, and the Plan's own
    torchinfo totals are torchinfo's; returns the plan."""
    theirs = torchinfo.summary(module, shape, verbose=0, device="cpu", col_names=COLUMNS, depth=10)
    ours = convcalc.summary(module, input_size=shape, verbose=0, col_names=COLUMNS, depth=10)
    assert str(ours).splitlines() == their_text(theirs).splitlines()
    assert _layers(ours) == _layers(theirs)
    totals = ("total_params", "trainable_params", "total_mult_adds", "total_output_bytes", "total_param_bytes")
    assert [getattr(ours, t) for t in totals] == [getattr(theirs, t) for t in totals]
    plan = convcalc.plan(module, shape)
    assert plan.total_mult_adds == theirs.total_mult_adds
    assert plan.forward_backward_bytes == theirs.total_output_bytes
    assert plan.torchinfo_param_bytes == theirs.total_param_bytes
    assert plan.total_params == sum(p.numel() for p in module.parameters())
    return plan


def _calls(plan: Any) -> list[tuple[Any, ...]]:
    """Plan.module_calls() with the row of each call shown by its name, output and output bytes."""
    return [
        (
            c.path,
            c.kind,
            c.input_shape,
            c.output_shape,
            c.leaf,
            c.group,
            None if c.row is None else (c.row.name, c.row.kind, c.row.output_shape, c.row.activation_bytes),
        )
        for c in plan.module_calls()
    ]


# --------------------------------------------------------------------------- #
# parametrizations: each ParametrizationList (called without arguments) and each parametrization it calls
# --------------------------------------------------------------------------- #


class Shift(nn.Module):
    """A parametrization with a parameter of its own named ``weight``: torchinfo counts its mult-adds."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n))

    def forward(self, w: Any) -> Any:
        return w + self.weight


class Double(nn.Module):
    def forward(self, w: Any) -> Any:
        return 2 * w


def parametrized_net() -> Any:
    """A parametrized Conv2d at the top, and a Linear one level down with two parametrizations chained on its
    weight (one holding a parameter) and one on its bias."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.Flatten(), nn.Linear(144, 5)))
    parametrize.register_parametrization(net[1][1], "weight", Shift(144))
    parametrize.register_parametrization(net[1][1], "weight", Double())
    parametrize.register_parametrization(net[1][1], "bias", Double())
    parametrize.register_parametrization(net[0], "weight", Double())
    return net


def test_parametrizations_are_listed_as_torchinfo_lists_them() -> None:
    """torchinfo lists under a parametrized layer its ModuleDict, each ParametrizationList (no input: torch
    calls it without arguments) and each parametrization, with its input, its output (the tensor computed),
    its parameters, and the mult-adds of a parameter named ``weight`` (144 x 5 rows). The parametrized layers
    have children now: the only module without children that holds parameters is the Shift, whose output
    (5 x 144) and parameters (144) are torchinfo's forward/backward and parameter sizes."""
    plan = assert_as_torchinfo(parametrized_net(), (2, 3, 8, 8))
    assert plan.total_mult_adds == 720
    assert plan.forward_backward_bytes == 2 * 5 * 144 * 4
    assert plan.torchinfo_param_bytes == 144 * 4


def test_module_calls_of_parametrized_layers() -> None:
    """Plan.module_calls(): the parametrized layer's call (not a leaf: its parametrizations are children),
    then per tensor its list (a group, no input, no row) and each parametrization (a leaf, with a row of its
    own sized by the tensor), in the order torch calls them; the layer's class is the module's
    (``ParametrizedLinear``), not the row's."""
    plan = convcalc.plan(parametrized_net(), (2, 3, 8, 8))
    w = "1.1.parametrizations.weight"
    assert _calls(plan) == [
        ("0", "ParametrizedConv2d", (2, 3, 8, 8), (2, 4, 6, 6), False, False, ("0", "Conv2d", (2, 4, 6, 6), 1152)),
        ("0.parametrizations.weight", "ParametrizationList", None, (4, 3, 3, 3), False, True, None),
        (
            "0.parametrizations.weight.0",
            "Double",
            (4, 3, 3, 3),
            (4, 3, 3, 3),
            True,
            False,
            ("0.parametrizations.weight.0", "Double", (4, 3, 3, 3), 432),
        ),
        ("1", "Sequential", (2, 4, 6, 6), (2, 5), False, True, None),
        ("1.0", "Flatten", (2, 4, 6, 6), (2, 144), True, False, ("1.0", "Flatten", (2, 144), 1152)),
        ("1.1", "ParametrizedLinear", (2, 144), (2, 5), False, False, ("1.1", "Linear", (2, 5), 40)),
        (w, "ParametrizationList", None, (5, 144), False, True, None),
        (f"{w}.0", "Shift", (5, 144), (5, 144), True, False, (f"{w}.0", "Shift", (5, 144), 2880)),
        (f"{w}.1", "Double", (5, 144), (5, 144), True, False, (f"{w}.1", "Double", (5, 144), 2880)),
        ("1.1.parametrizations.bias", "ParametrizationList", None, (5,), False, True, None),
        (
            "1.1.parametrizations.bias.0",
            "Double",
            (5,),
            (5,),
            True,
            False,
            ("1.1.parametrizations.bias.0", "Double", (5,), 20),
        ),
    ]
    # the parameters under each path, as torchinfo counts them (the layer and the list: all below them)
    by_module = plan.params_by_module
    assert [by_module[p][0] for p in ("1.1", w, f"{w}.0", f"{w}.1", "1.1.parametrizations.bias")] == [
        144 * 5 + 5 + 144,
        720 + 144,
        144,
        0,
        5,
    ]


def test_a_frozen_parametrization_is_counted_as_torchinfo_counts_it() -> None:
    """A parametrization whose own weight is frozen: its 144 parameters are in the totals, not among the
    trainable ones, and its line shows them in brackets, as torchinfo shows them."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(144, 5))
    parametrize.register_parametrization(net[1], "weight", Shift(144).requires_grad_(False))
    plan = assert_as_torchinfo(net, (2, 4, 6, 6))
    assert (plan.total_params, plan.trainable_params) == (725 + 144, 725)
    w = "1.parametrizations.weight"
    assert [plan.params_by_module[p] for p in ("1", w, f"{w}.0")] == [(869, 725), (864, 720), (144, 0)]


class OwnParametrized(nn.Module):
    """A parameter of the model's own, parametrized and read by its forward (read step by step)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(4, 4))
        self.lin = nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        return self.lin(x @ self.w)


class Symmetric(nn.Module):
    def forward(self, w: Any) -> Any:
        return w.triu() + w.triu(1).transpose(-1, -2)


def test_a_parametrization_list_read_by_the_forward_is_called_without_input() -> None:
    """The list of a tensor the forward reads is a container the walk entered: torchinfo shows no input for
    it (torch calls it without arguments), and its parametrization, a leaf read step by step, its input."""
    model = OwnParametrized()
    parametrize.register_parametrization(model, "w", Symmetric())
    plan = assert_as_torchinfo(model, (2, 4))
    assert [c[:6] for c in _calls(plan)] == [
        ("parametrizations.w", "ParametrizationList", None, (4, 4), False, True),
        ("parametrizations.w.0", "Symmetric", (4, 4), (4, 4), True, True),
        ("lin", "Linear", (2, 4), (2, 3), True, False),
    ]


# --------------------------------------------------------------------------- #
# leaves planned inside a group of their own: a hook, a forward read step by step
# --------------------------------------------------------------------------- #


def hooked_net() -> Any:
    """A forward hook that crops the convolution's output: torchinfo's hooks see the cropped output."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(6, 2))
    net[0].register_forward_hook(lambda module, args, out: out[:, :, :2])
    return net


def test_a_hook_that_changes_the_output_is_what_torchinfo_shows() -> None:
    """The convolution's call shows the output its hook returns, and torchinfo counts its mult-adds over the
    hooked output's 2 x 6 positions (112 x 12 x 2) and its output bytes (2 x 4 x 2 x 6 x 4); the Linear its
    14 per sample."""
    plan = assert_as_torchinfo(hooked_net(), (2, 3, 8, 8))
    assert plan.total_mult_adds == 112 * 12 * 2 + 14 * 2
    assert _calls(plan) == [
        ("0", "Conv2d", (2, 3, 8, 8), (2, 4, 2, 6), True, True, ("0", "Conv2d", (2, 4, 2, 6), 384)),
        ("1", "Linear", (2, 4, 2, 6), (2, 4, 2, 2), True, False, ("1", "Linear", (2, 4, 2, 2), 128)),
    ]


@pytest.mark.parametrize("leaf", [False, True])
def test_a_pre_hook_that_pads_the_input_shows_the_padded_input(leaf: bool) -> None:
    """A forward pre-hook that pads a block's input: the block's forward (and torchinfo's hooks, registered after
    the user's) take the padded 9 x 9 input, which the table shows as the block's input (not the 8 x 8 given)."""
    inner = nn.Conv2d(4, 4, 3) if leaf else nn.Sequential(nn.Conv2d(4, 4, 3))
    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), inner)
    net[1].register_forward_pre_hook(lambda module, args: (nn.functional.pad(args[0], (0, 1, 0, 1)),))
    plan = assert_as_torchinfo(net, (1, 3, 15, 15))
    assert [c[:4] for c in _calls(plan) if c[0] == "1"] == [("1", type(inner).__name__, (1, 4, 9, 9), (1, 4, 7, 7))]


def test_a_hook_that_keeps_the_output_leaves_the_call_as_the_row() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    net[0].register_forward_hook(lambda module, args, out: out * 2)
    plan = assert_as_torchinfo(net, (2, 3, 8, 8))
    call = next(plan.module_calls())
    assert call.row is plan.rows[0]
    assert (call.input_shape, call.output_shape, call.leaf, call.group) == ((2, 3, 8, 8), (2, 4, 6, 6), True, True)


class StepLinear(nn.Linear):
    """timm's way: a Linear subclass whose forward calls F.linear, so the reader reads it step by step."""

    def forward(self, x: Any) -> Any:
        return F.relu(F.linear(x, self.weight) + self.bias)


def step_net() -> Any:
    return nn.Sequential(nn.Flatten(), StepLinear(12, 4), nn.ReLU())


def test_a_leaf_read_step_by_step_is_one_call() -> None:
    """torchinfo lists the StepLinear once, with its input and its output, 52 parameters and 52 x 2
    mult-adds; its operations (the linear, the bias added, the relu) are no calls."""
    plan = assert_as_torchinfo(step_net(), (2, 3, 2, 2))
    assert _calls(plan) == [
        ("0", "Flatten", (2, 3, 2, 2), (2, 12), True, False, ("0", "Flatten", (2, 12), 96)),
        ("1", "StepLinear", (2, 12), (2, 4), True, True, ("1", "StepLinear", (2, 4), 32)),
        ("2", "ReLU", (2, 4), (2, 4), True, False, ("2", "ReLU", (2, 4), 32)),
    ]
    assert next(c for c in plan.module_calls() if c.path == "1").row.input_shape == (2, 12)


def test_torchinfo_mult_adds_of_a_leaf_read_step_by_step_sit_on_its_last_row() -> None:
    """With macs="torchinfo", the StepLinear's count (52 per sample) is on the last row planned inside it
    (its relu), every other row of it 0; per sample times the batch is torchinfo's total."""
    plan = convcalc.plan(step_net(), (2, 3, 2, 2), macs="torchinfo")
    assert [(r.name, r.macs) for r in plan.rows] == [
        ("0", 0),
        ("1.weight", 0),
        ("1.linear", 0),
        ("1.bias", 0),
        ("1.add", 0),
        ("1.relu", 52),
        ("2", 0),
    ]
    assert all(type(r.macs) is int for r in plan.rows)
    assert plan.macs * 2 == torchinfo.summary(step_net(), (2, 3, 2, 2), verbose=0, device="cpu").total_mult_adds


# --------------------------------------------------------------------------- #
# convcalc.nn containers: an Add or Concat does not say its input; its first operation reads it
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("ending", ["add", "concat", "add_at_end"])
def test_convcalc_branches_are_listed_as_torchinfo_lists_their_torch_modules(ending: str) -> None:
    """A convcalc.nn Add or Concat is listed as torchinfo lists the module ``to_torch()`` builds: with the
    input its first branch reads (also where no row follows inside it but empty Sequentials'). (torchinfo
    takes an AddBranches of two empty Sequentials for a module without children, as ``any()`` of empty
    Sequentials is False: its layer list is compared where that does not come in.)"""
    from convcalc import nn as cnn

    tail = {
        "add": cnn.Add(cnn.Sequential(cnn.ReLU(), cnn.Conv2d(4, 4, 1)), cnn.Identity()),
        "concat": cnn.Concat(cnn.Conv2d(4, 2, 1), cnn.Identity()),
        "add_at_end": cnn.Add(cnn.Sequential(), cnn.Sequential()),
    }[ending]
    spec = cnn.Sequential(cnn.Conv2d(3, 4, 3), tail, cnn.Flatten())
    shape = (2, 3, 6, 6)
    theirs = torchinfo.summary(spec.to_torch(), shape, verbose=0, device="cpu", col_names=COLUMNS, depth=10)
    ours = convcalc.summary(spec, input_size=shape, verbose=0, col_names=COLUMNS, depth=10)
    assert str(ours).splitlines() == their_text(theirs).splitlines()
    if ending != "add_at_end":
        assert _layers(ours) == _layers(theirs)
    calls = {c.path: c for c in convcalc.plan(spec, shape).module_calls()}
    branch = calls["1"]
    assert (branch.kind, branch.input_shape, branch.leaf, branch.group, branch.row) == (
        {"add": "AddBranches", "concat": "ConcatBranches", "add_at_end": "AddBranches"}[ending],
        (2, 4, 4, 4),
        False,
        True,
        None,
    )
    assert (calls["0"].group, calls["2"].group) == (False, False)


def test_a_model_without_a_module_tree_lists_every_row_as_a_call() -> None:
    """A Keras model has no module tree: every row is a call of a module without children, with the row's
    kind; torchinfo's rule counts the Conv2D's parameters at each of its 4 x 4 positions (channels last) and
    the Dense's once."""
    from convcalc import keras as ks

    plan = convcalc.plan(ks.Sequential([ks.Conv2D(4, 3), ks.Sequential([ks.Flatten(), ks.Dense(3)])]), (1, 6, 6, 3))
    assert plan.modules is None
    assert [tuple(c) for c in plan.module_calls()] == [
        (r.name, r.kind, r.input_shape, r.output_shape, r, True, False) for r in plan.rows
    ]
    assert [r.kind for r in plan.rows] == ["Conv2D", "Flatten", "Dense"]
    assert plan.total_mult_adds == 112 * 16 + 195


# --------------------------------------------------------------------------- #
# a model without children is one call; which parameters torchinfo counts
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("frozen", [False, True])
def test_a_single_layer_is_one_call_of_the_model(frozen: bool) -> None:
    """A Conv2d planned alone: torchinfo counts it as a convolution (its 112 parameters at each of 4 x 4
    positions, per sample) and sizes its parameters, frozen or not."""
    conv = nn.Conv2d(3, 4, 3).requires_grad_(not frozen)
    plan = assert_as_torchinfo(conv, (2, 3, 6, 6))
    assert (plan.total_mult_adds, plan.torchinfo_param_bytes, plan.forward_backward_bytes) == (
        112 * 16 * 2,
        112 * 4,
        2 * 2 * 4 * 16 * 4,
    )
    rows = convcalc.plan(conv, (2, 3, 6, 6), macs="torchinfo").rows
    assert [(r.name, r.macs, type(r.macs)) for r in rows] == [("Conv2d", 112 * 16, int)]


class LayerScale(nn.Module):
    """timm's LayerScale: a parameter named ``gamma``, which torchinfo counts no mult-adds for."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Any) -> Any:
        return x * self.gamma


class GainConv(nn.Conv2d):
    """A Conv2d with a ``gain`` beside its weight (nfnet's): torchinfo counts the weight and bias only."""

    def __init__(self) -> None:
        super().__init__(3, 4, 3, padding=1)
        self.gain = nn.Parameter(torch.ones(4, 1, 1, 1))

    def forward(self, x: Any) -> Any:
        return F.conv2d(x, self.weight * self.gain, self.bias, self.stride, self.padding)


class NamedWeights(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = GainConv()
        self.scale = LayerScale(5)
        with pytest.warns(FutureWarning):
            self.fc = nn.utils.weight_norm(nn.Linear(5, 6))  # weight_g and weight_v

    def forward(self, x: Any) -> Any:
        return self.fc(self.scale(self.conv(x).flatten(2)[..., :5]))


def test_torchinfo_counts_parameters_by_their_names() -> None:
    """torchinfo counts a parameter named weight or bias once per output position of a convolution, one whose
    name only contains weight (weight_g, weight_v) once per element of the output's first two axes, and
    gamma and gain not at all; per row, the plan's torchinfo convention puts each call's count on its row."""
    model, shape = NamedWeights(), (2, 3, 4, 4)
    plan = assert_as_torchinfo(model, shape)
    conv = 4 * 3 * 9 + 4  # weight and bias, at each of 4 x 4 positions
    fc = 6 + (6 + 30) * 4  # bias once; weight_g (6) and weight_v (30) per element of (2, 4, 6)'s first axes
    assert plan.total_mult_adds == (conv * 16 + fc) * 2
    rows = convcalc.plan(model, shape, macs="torchinfo").rows
    # the GainConv is read step by step: its count sits on its last row
    assert {r.name: r.macs for r in rows if r.macs} == {"conv.conv2d": conv * 16, "fc": fc}


@pytest.mark.parametrize("bias", [False, True])
def test_a_tied_output_layer_counts_its_mult_adds(bias: bool) -> None:
    """An output layer holding the embedding's weight (a language model's tie): its row counts no parameter of
    its own without a bias, but torchinfo still counts its mult-adds, as its module holds a weight."""

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.out = nn.Embedding(10, 4), nn.Linear(4, 10, bias=bias)
            self.out.weight = self.emb.weight

        def forward(self, x: Any) -> Any:
            return self.out(self.emb(x))

    theirs = torchinfo.summary(Tied(), (2, 5), dtypes=[torch.long], verbose=0, device="cpu")
    plan = convcalc.plan(Tied(), (2, 5))
    assert plan.total_mult_adds == theirs.total_mult_adds == 80 + 80 + 20 * bias


class FirstSample(nn.Module):
    """A Linear run on the first sample only beside one run on the whole batch of 3."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(4, 2)
        self.body = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        return self.head(x[:1]) + self.body(x).sum(0, keepdim=True)


def test_a_call_on_part_of_the_batch_keeps_its_own_count() -> None:
    """torchinfo counts each call with its own output's first size: the head's 10 once (1 sample), the
    body's 10 three times. Per sample, a count that does not divide by the batch (10 of 3) stands as the
    call's; one that does (30 of 3) is shared out; both stay ints."""
    plan = assert_as_torchinfo(FirstSample(), (3, 4))
    assert plan.total_mult_adds == 10 + 30
    rows = convcalc.plan(FirstSample(), (3, 4), macs="torchinfo").rows
    assert [(r.name, r.macs, type(r.macs)) for r in rows if r.kind == "Linear"] == [
        ("head", 10, int),
        ("body", 10, int),
    ]


def test_symbolic_batch_shares_are_exact_quotients() -> None:
    """With a symbolic batch B, the head's 10 (one sample, whatever B is) is 10/B per sample, the body's 10 x B
    is 10: per sample times B is torchinfo's count at every batch size."""
    B = convcalc.symbols("B")
    plan = convcalc.plan(FirstSample(), (B, 4), macs="torchinfo")
    assert [(r.name, r.macs) for r in plan.rows if r.kind == "Linear"] == [("head", 10 / B), ("body", 10)]
    assert sympy.expand(plan.macs * B) == convcalc.plan(FirstSample(), (B, 4)).total_mult_adds == 10 * B + 10
    assert convcalc.plan(FirstSample(), (3, 4)).total_mult_adds == 40


def test_a_parametrization_with_a_weight_of_its_own_and_the_per_sample_count() -> None:
    """What torchinfo counts for the parametrization's weight (720: Shift's 144 at each of the 5 rows of the
    Linear's weight) is in total_mult_adds, and the rows of the plan's torchinfo convention put it on the last
    row planned inside the parametrization (its forward, read step by step), per sample of the batch of 2."""
    plan = convcalc.plan(parametrized_net(), (2, 3, 8, 8), macs="torchinfo")
    assert [(r.name, r.macs) for r in plan.rows if r.macs] == [("1.1.parametrizations.weight.0.add", 360)]
    assert plan.macs * 2 == convcalc.plan(parametrized_net(), (2, 3, 8, 8)).total_mult_adds == 720


def test_a_parametrized_convolution_s_weight_counts_where_torchinfo_counts_it() -> None:
    """A convolution whose weight a parametrization with a ``weight`` of its own computes: torchinfo counts
    the parametrization (8 x 216) and not the convolution (its weight is no longer a parameter named weight)."""

    class Scale(nn.Module):
        def __init__(self, shape: tuple[int, ...]) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(shape))

        def forward(self, w: Any) -> Any:
            return w * self.weight

    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    parametrize.register_parametrization(net[0], "weight", Scale((8, 3, 3, 3)))
    plan = assert_as_torchinfo(net, (1, 3, 8, 8))
    assert plan.total_mult_adds == 8 * 216
    rows = convcalc.plan(net, (1, 3, 8, 8), macs="torchinfo").rows
    # its forward is planned before the layer (torch computes the weight when the layer reads it); the count was
    # 0 where the parametrization's call had no row
    assert [(r.name, r.macs) for r in rows if r.macs] == [("0.parametrizations.weight.0.mul", 8 * 216)]
    assert [r.name for r in rows][-2:] == ["0", "1"]


# --------------------------------------------------------------------------- #
# Constraint.holds
# --------------------------------------------------------------------------- #


def test_holds_names_every_missing_size() -> None:
    c = Constraint("conv", 2, H + W - 2, ">=", 1, "the kernel fits")
    with pytest.raises(SpecError) as caught:
        c.holds({})
    assert str(caught.value) == "holds() needs a size for H, W. Received: sizes={}"
    with pytest.raises(SpecError) as caught:
        c.holds(5)
    assert str(caught.value) == (
        "this condition depends on H, W: give holds() a size for each, as a dict such as {'H': 8, 'W': 8}. "
        "Received: x=5"
    )
    assert (c.holds({"H": 1, "W": 2}), c.holds({H: 1, "W": 1})) == (True, False)


def test_holds_of_a_condition_without_a_symbol() -> None:
    """A condition on a constant size holds or not whatever the input size."""
    assert [Constraint("x", 2, sympy.Integer(5), kind, 5, "r").holds(7) for kind in (">=", "==", "divides")] == [
        True,
        True,
        True,
    ]
    assert [Constraint("x", 2, sympy.Integer(5), kind, 6, "r").holds(7) for kind in (">=", "==", "divides")] == [
        False,
        False,
        False,
    ]


def test_holds_takes_an_int_subclass_but_not_a_bool() -> None:
    class Size(enum.IntEnum):
        SMALL = 2
        LARGE = 9

    c = Constraint("conv", 2, H - 2, ">=", 1, "the kernel fits")
    assert (c.holds(Size.SMALL), c.holds(Size.LARGE), c.holds({"H": Size.LARGE})) == (False, True, True)
    with pytest.raises(SpecError, match=r"holds\(\) takes an int size \(or a dict of them\)\. Received: x=True"):
        c.holds(True)


# --------------------------------------------------------------------------- #
# the receptive field after a slice, checked with torch's gradients
# --------------------------------------------------------------------------- #


class Crop(nn.Module):
    def __init__(self, index: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.index = index

    def forward(self, x: Any) -> Any:
        return self.conv(x)[:, :, self.index]


def torch_field(model: Any, shape: tuple[int, ...]) -> tuple[ReceptiveField, ReceptiveField]:
    """The window of input rows and columns the first output element reads, and how far the second output
    along each axis moves it (all-ones weights and input: no gradient cancels)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    x = torch.ones(shape, requires_grad=True)
    y = model(x)

    def span(index: tuple[int, ...]) -> list[tuple[int, int]]:
        (grad,) = torch.autograd.grad(y[index], x, retain_graph=True)
        reach = grad[0, 0]
        rows = torch.nonzero(reach.sum(1)).flatten()
        cols = torch.nonzero(reach.sum(0)).flatten()
        return [(int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)]

    first, down, right = span((0, 0, 0, 0)), span((0, 0, 1, 0)), span((0, 0, 0, 1))
    return (
        ReceptiveField(first[0][1] - first[0][0], down[0][0] - first[0][0], first[0][0]),
        ReceptiveField(first[1][1] - first[1][0], right[1][0] - first[1][0], first[1][0]),
    )


@pytest.mark.parametrize(
    "index",
    [slice(-20, None), slice(-3, None), slice(0, 3), slice(2, None), slice(1, None, 2)],
    ids=["from_before_the_start", "from_the_end", "from_zero", "from_two", "every_other"],
)
def test_the_field_after_a_crop_is_torchs(index: slice) -> None:
    """A crop of 8 rows (torch clamps a start before the first row to 0) moves the first window by its start;
    a step spreads the windows out."""
    plan = convcalc.plan(Crop(index), (1, 1, 10, 8))
    assert plan.receptive_field == plan.rows[-1].receptive_field == torch_field(Crop(index), (1, 1, 10, 8))


@pytest.mark.parametrize("index", [slice(0, 3), slice(2, 5), slice(1, None, 2)])
def test_a_crop_from_a_known_start_of_a_symbolic_axis_keeps_its_field(index: slice) -> None:
    """Counted from the start, the position is known whatever H is: the field is the one torch gives at H=10."""
    plan = convcalc.plan(Crop(index), (1, 1, H, 8))
    assert plan.receptive_field == torch_field(Crop(index), (1, 1, 10, 8))


@pytest.mark.parametrize("index", [slice(-3, None), slice(-2, None)])
def test_a_crop_from_a_symbolic_end_has_no_field(index: slice) -> None:
    """Counted from the end of a symbolic axis, the first window's row depends on H: no field is claimed
    (torch's first window starts at 5 for H=10, at 7 for H=12)."""
    assert torch_field(Crop(index), (1, 1, 10, 8))[0].start != torch_field(Crop(index), (1, 1, 12, 8))[0].start
    plan = convcalc.plan(Crop(index), (1, 1, H, 8))
    assert plan.rows[-1].receptive_field is None
    assert plan.receptive_field is None


# --------------------------------------------------------------------------- #
# the Plan's messages and JSON
# --------------------------------------------------------------------------- #


def test_an_unknown_layer_name_lists_the_first_eight() -> None:
    plan = convcalc.plan(nn.Sequential(*(nn.ReLU() for _ in range(10))), (1, 2))
    with pytest.raises(SpecError) as caught:
        plan.row("10")
    assert str(caught.value) == (
        "no layer named '10' in this plan; layers include 0, 1, 2, 3, 4, 5, 6, 7. Received: name='10'"
    )


def test_json_keeps_names_as_written() -> None:
    """Plan.to_json writes a non-ASCII layer name as it is (not as \\u escapes), indented by 2 unless told."""
    model = nn.Sequential(OrderedDict([("größe", nn.Linear(3, 2)), ("ausgabe", nn.ReLU())]))
    plan = convcalc.plan(model, (1, 3))
    text = plan.to_json()
    assert '"größe"' in text
    assert "\\u" not in text
    assert json.loads(text) == plan.to_dict()
    assert text.splitlines()[1].startswith('  "')
    assert "\n" not in plan.to_json(indent=None)


class SpatialGate(nn.Module):
    """A convolution's map gated by a one-channel map of the same size (CBAM's spatial attention, without its
    sigmoid, whose gradient vanishes here): the gate broadcasts along the channels only, so every position keeps
    one window, the union of the two."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.gate = nn.Conv2d(1, 1, 3, padding=1, dilation=2)

    def forward(self, x: Any) -> Any:
        return self.conv(x) * self.gate(x)


def test_a_gate_broadcast_along_the_channels_keeps_the_field() -> None:
    model = SpatialGate()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    x = torch.ones(1, 1, 9, 9, requires_grad=True)
    y = model(x)
    plan = convcalc.plan(model, (1, 1, 9, 9))
    (rows, cols) = plan.receptive_field
    for j in (2, 3, 4):  # inside the padding's reach, so that the window is whole: rows j - 1 to j + 3
        (grad,) = torch.autograd.grad(y[0, 1, j, j], x, retain_graph=True)
        read = torch.nonzero(grad[0, 0].sum(1)).flatten()
        assert (int(read.min()), int(read.max()) + 1) == (
            rows.start + j * rows.jump,
            rows.start + j * rows.jump + rows.size,
        )
    assert (rows, cols) == (ReceptiveField(5, 1, -1),) * 2


class Drifting(nn.Module):
    """Two branches of one size whose windows move by different steps (1 and 2): no window is every position's."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(1, 1, 5)
        self.strided = nn.Conv2d(1, 1, 3, stride=2, padding=2)

    def forward(self, x: Any) -> Any:
        return self.wide(x) + self.strided(x)


def test_branches_whose_windows_drift_apart_have_no_field() -> None:
    with torch.no_grad():
        model = Drifting()
        for p in model.parameters():
            p.fill_(1.0)
    x = torch.ones(1, 1, 10, 10, requires_grad=True)
    y = model(x)
    starts = []
    for j in range(4):  # the first row each output row reads: 0, 0, 2, 3 (steps of 0, 2, 1: no single jump)
        (grad,) = torch.autograd.grad(y[0, 0, j, 0], x, retain_graph=True)
        starts.append(int(torch.nonzero(grad[0, 0].sum(1)).min()))
    assert starts == [0, 0, 2, 3]
    plan = convcalc.plan(model, (1, 1, 10, 10))
    assert plan.rows[-1].receptive_field is None
    assert plan.receptive_field is None
