"""The arguments torch checks in the elementwise functions a forward calls (``F.dropout`` and its kin,
``F.local_response_norm``, ``F.hardtanh``, ``F.rrelu``, ``F.celu``, ``F.gelu``, ``F.softshrink``, ``torch.clamp``,
``Tensor.fill_``), against torch 2.13 running the same forward on zeros.

A plan keeps the input's shape where torch runs, and refuses where torch raises: a SpecError for an argument torch
refuses whatever the input (torch on meta tensors refuses it too), a ShapeError for an input of dims the function
does not take and for the one refusal meta tensors do not make (``F.celu`` with ``alpha=0``). Each message names the
call, the argument, the value and what would fit. The edge values torch takes (``p=0``, ``p=1``,
``min_val == max_val``, ``lower == upper``...) are planned, by convcalc's handler.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import convcalc
from tests.outcomes import convcalc_outcome, torch_outcome
from tests.test_functional_norms import Forward, Holding, Shape

torch.set_num_threads(1)

pytestmark = [
    pytest.mark.filterwarnings("ignore:dropout2d. Received a:UserWarning"),  # torch warns of ranks it will refuse
    pytest.mark.filterwarnings("ignore:dropout3d. Received a:UserWarning"),
]

_RECEIVED = "Received: input_shape="
_DROPOUT1D = "dropout1d (dropout1d): expects a 2-D (C, L) or 3-D (N, C, L) input: use dropout for other ranks. "
_CELU = "celu (celu): alpha must not be 0 (celu divides by it): use a nonzero alpha, such as the default 1.0. "
_HARDTANH = "hardtanh (hardtanh): min_val must not be greater than max_val: swap them. "

_DROPOUTS: dict[str, Any] = {
    "F.dropout": lambda x, p, training: F.dropout(x, p, training),
    "F.alpha_dropout": lambda x, p, training: F.alpha_dropout(x, p, training),
    "F.feature_alpha_dropout": lambda x, p, training: F.feature_alpha_dropout(x, p=p, training=training),
    "F.dropout1d": lambda x, p, training: F.dropout1d(x, p, training),
    "F.dropout2d": lambda x, p, training: F.dropout2d(x, p, training),
    "F.dropout3d": lambda x, p, training: F.dropout3d(x, p, training, inplace=True),
    "torch.dropout": lambda x, p, training: torch.dropout(x, p, training),
    "torch.alpha_dropout": lambda x, p, training: torch.alpha_dropout(x, p, train=training),
    "torch.feature_alpha_dropout": lambda x, p, training: torch.feature_alpha_dropout(x, p, training),
}


def refused(model: Any, shape: Any, error: type[convcalc.ConvCalcError], message: str) -> None:
    """torch raises on ``model``, and convcalc raises ``error`` with exactly ``message``."""
    if all(type(d) is int for d in shape):
        assert torch_outcome(model, shape) is None
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        convcalc.plan(model, shape)


def planned(model: Any, shape: Shape) -> Shape:
    """torch runs ``model``, and convcalc's handler plans the shape torch gives."""
    expected = torch_outcome(model, shape)
    assert expected is not None
    assert convcalc_outcome(model, shape) == expected
    return expected


# --------------------------------------------------------------------------- #
# The dropouts
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("form", sorted(_DROPOUTS))
@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_probability_is_from_0_to_1(form: str, p: float, training: bool) -> None:
    # torch: dropout probability has to be between 0 and 1, in training or not (and for nan)
    kind = form.split(".")[1]
    model = Holding(lambda m, x: _DROPOUTS[form](x, p, training))
    message = f"{kind} ({kind}): p is the probability of dropping an element: use a p from 0 to 1. Received: p={p}"
    refused(model, (2, 3, 4), convcalc.SpecError, message)


@pytest.mark.parametrize("form", sorted(_DROPOUTS))
@pytest.mark.parametrize("p", [0.0, 1.0, 0.5, 0, 1])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_takes_p_from_0_to_1(form: str, p: float, training: bool) -> None:
    model = Holding(lambda m, x: _DROPOUTS[form](x, p, training))
    assert planned(model, (2, 3, 4)) == (2, 3, 4)
    assert planned(model.train(not training), (2, 3)) == (2, 3)  # the module's mode is not the call's


@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4), (1, 2, 3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_dropout1d_takes_2_or_3_dims(shape: Shape, training: bool) -> None:
    # torch: dropout1d: Expected 2D or 3D input, but received a 4D input, in training or not
    model = Holding(lambda m, x: F.dropout1d(x, 0.5, training))
    message = f"{_DROPOUT1D}{_RECEIVED}{shape}"
    refused(model, shape, convcalc.ShapeError, message)
    assert planned(model, shape[:3] if len(shape) > 3 else (2, 4)) == (shape[:3] if len(shape) > 3 else (2, 4))


def test_dropout1d_of_a_0_d_tensor_made_in_forward() -> None:
    message = f"{_DROPOUT1D}{_RECEIVED}()"
    refused(Holding(lambda m, x: F.dropout1d(x.sum(), 0.0) + x), (2, 3), convcalc.ShapeError, message)


# a call, its input, the shape the call receives, and the fewest dims it takes
_FEATURE: list[tuple[str, Forward, Shape, Shape, int]] = [
    ("dropout2d", lambda m, x: F.dropout2d(x, 0.5), (4,), (4,), 2),
    ("dropout2d", lambda m, x: F.dropout2d(x.sum(), 0.3) + x, (4,), (), 2),
    ("feature_alpha_dropout", lambda m, x: F.feature_alpha_dropout(x, 0.5, True), (4,), (4,), 2),
    ("feature_alpha_dropout", lambda m, x: torch.feature_alpha_dropout(x, 0.5, True), (4,), (4,), 2),
    ("dropout3d", lambda m, x: F.dropout3d(x.sum(), 0.5) + x, (4,), (), 1),  # it adds a batch axis to the sum
]


@pytest.mark.parametrize(("kind", "function", "shape", "received", "fewest"), _FEATURE)
def test_a_feature_dropout_in_training_takes_2_dims(
    kind: str, function: Forward, shape: Shape, received: Shape, fewest: int
) -> None:
    # torch: Feature dropout requires at least 2 dimensions in the input, where it draws values (training with
    # 0 < p < 1, an input with elements)
    message = (
        f"{kind} ({kind}): drops whole channels in training: expects an input of {fewest} or more dims. "
        f"{_RECEIVED}{received}"
    )
    refused(Holding(function), shape, convcalc.ShapeError, message)


@pytest.mark.parametrize(
    "function",
    [
        lambda m, x: F.dropout2d(x, 0.5, training=False),
        lambda m, x: F.dropout2d(x, 0.0),
        lambda m, x: F.dropout2d(x, 1.0),
        lambda m, x: F.dropout2d(x[:0], 0.5).sum() + x,  # no elements: torch draws nothing
        lambda m, x: F.feature_alpha_dropout(x, 0.5),  # not in training: the functional default
        lambda m, x: F.feature_alpha_dropout(x, 1, True),
        lambda m, x: F.dropout3d(x, 0.5),  # a 1-D input and the batch axis torch adds: 2 dims
        lambda m, x: F.dropout3d(x.sum(), 0.5, False) + x,
        lambda m, x: F.alpha_dropout(x.sum(), 0.5, True) + x,
        lambda m, x: F.dropout(x.sum(), 0.5) + x,
    ],
)
def test_a_feature_dropout_that_draws_nothing_takes_any_dims(function: Forward) -> None:
    assert planned(Holding(function), (4,)) == (4,)


# --------------------------------------------------------------------------- #
# F.local_response_norm
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_local_response_norm_takes_3_or_more_dims(shape: Shape) -> None:
    # torch: Expected 3D or higher dimensionality input (got 2 dimensions)
    message = (
        f"local_response_norm (local_response_norm): expects an input of 3 or more dims (N, C, ...). {_RECEIVED}{shape}"
    )
    refused(Holding(lambda m, x: F.local_response_norm(x, 2)), shape, convcalc.ShapeError, message)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_local_response_norm_size_is_a_positive_int(size: Any) -> None:
    # torch: kernel size should be greater than zero; pad() and avg_pool take no float or bool
    message = (
        "local_response_norm (local_response_norm): size is the number of channels to sum over: use a positive int. "
        f"Received: size={size!r}"
    )
    refused(Holding(lambda m, x: F.local_response_norm(x, size)), (2, 3, 4), convcalc.SpecError, message)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 1, 1, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 5, 100])
def test_local_response_norm_plans_what_torch_runs(shape: Shape, size: int) -> None:
    assert planned(Holding(lambda m, x: F.local_response_norm(x, size, alpha=1e-3, k=2.0)), shape) == shape


def test_local_response_norm_returns_an_input_without_elements_as_it_is() -> None:
    # torch checks the dims, then returns an empty input before it reads size
    model = Holding(lambda m, x: F.local_response_norm(x[:, :0], 0))
    assert torch_outcome(model, (2, 3, 4)) == convcalc_outcome(model, (2, 3, 4)) == (2, 0, 4)
    message = (
        f"local_response_norm (local_response_norm): expects an input of 3 or more dims (N, C, ...). {_RECEIVED}(2, 0)"
    )
    refused(Holding(lambda m, x: F.local_response_norm(x[:, :0], 2)), (2, 3), convcalc.ShapeError, message)


# --------------------------------------------------------------------------- #
# Bounds and constants: hardtanh, rrelu, celu, gelu, softshrink, clamp, fill_
# --------------------------------------------------------------------------- #

_REFUSED: list[tuple[str, Forward, type[convcalc.ConvCalcError], str]] = [
    (
        "F.hardtanh",
        lambda m, x: F.hardtanh(x, 1.0, -1.0),
        convcalc.SpecError,
        f"{_HARDTANH}Received: min_val=1.0, max_val=-1.0",
    ),
    (
        "F.hardtanh ints in place",
        lambda m, x: F.hardtanh(x, 2, 1, inplace=True),
        convcalc.SpecError,
        f"{_HARDTANH}Received: min_val=2, max_val=1",
    ),
    (
        "F.hardtanh max_val below the default min_val",
        lambda m, x: F.hardtanh(x, max_val=-2.0),
        convcalc.SpecError,
        f"{_HARDTANH}Received: min_val=-1.0, max_val=-2.0",
    ),
    (
        "F.rrelu",
        lambda m, x: F.rrelu(x, 0.5, 0.1),
        convcalc.SpecError,
        "rrelu (rrelu): lower must not be greater than upper: swap them. Received: lower=0.5, upper=0.1",
    ),
    (
        "F.rrelu training in place",
        lambda m, x: F.rrelu(x, upper=0.01, training=True, inplace=True),
        convcalc.SpecError,
        "rrelu (rrelu): lower must not be greater than upper: swap them. Received: lower=0.125, upper=0.01",
    ),
    (
        "torch.rrelu",
        lambda m, x: torch.rrelu(x, 0.5, 0.1, True),
        convcalc.SpecError,
        "rrelu (rrelu): lower must not be greater than upper: swap them. Received: lower=0.5, upper=0.1",
    ),
    (
        "F.rrelu infinite lower",
        lambda m, x: F.rrelu(x, -math.inf, 0.1),
        convcalc.SpecError,
        "rrelu (rrelu): lower must be a finite number. Received: lower=-inf",
    ),
    (
        "F.rrelu nan upper",
        lambda m, x: F.rrelu(x, 0.1, math.nan),
        convcalc.SpecError,
        "rrelu (rrelu): upper must be a finite number. Received: upper=nan",
    ),
    (
        "F.celu",
        lambda m, x: F.celu(x, 0.0),
        convcalc.ShapeError,
        f"{_CELU}Received: alpha=0.0",
    ),
    (
        "torch.celu int",
        lambda m, x: torch.celu(x, 0),
        convcalc.ShapeError,
        f"{_CELU}Received: alpha=0",
    ),
    (
        "F.celu in place",
        lambda m, x: F.celu(x, -0.0, inplace=True),
        convcalc.ShapeError,
        f"{_CELU}Received: alpha=-0.0",
    ),
    (
        "F.gelu",
        lambda m, x: F.gelu(x, approximate="bogus"),
        convcalc.SpecError,
        "gelu (gelu): approximate must be 'none' or 'tanh'. Received: approximate='bogus'",
    ),
    (
        "F.gelu None",
        lambda m, x: F.gelu(x, approximate="None"),
        convcalc.SpecError,
        "gelu (gelu): approximate must be 'none' or 'tanh'. Received: approximate='None'",
    ),
    (
        "F.softshrink",
        lambda m, x: F.softshrink(x, -0.5),
        convcalc.SpecError,
        "softshrink (softshrink): lambd must be from 0 to the largest value of the input's dtype. Received: lambd=-0.5",
    ),
    (
        "F.softshrink inf",
        lambda m, x: F.softshrink(x, math.inf),
        convcalc.SpecError,
        "softshrink (softshrink): lambd must be from 0 to the largest value of the input's dtype. Received: lambd=inf",
    ),
    (
        "x.clamp()",
        lambda m, x: x.clamp(),
        convcalc.SpecError,
        "clamp (clamp): needs min or max (or both). Received: min=None, max=None",
    ),
    (
        "torch.clamp(x, max=None)",
        lambda m, x: torch.clamp(x, max=None),
        convcalc.SpecError,
        "clamp (clamp): needs min or max (or both). Received: min=None, max=None",
    ),
    (
        "x.clip_(None, None)",
        lambda m, x: x.clip_(None, None),
        convcalc.SpecError,
        "clip_ (clamp): needs min or max (or both). Received: min=None, max=None",
    ),
    (
        "x.fill_ of a 1-D tensor",
        lambda m, x: x.clone().fill_(x[0]),
        convcalc.ShapeError,
        "fill_ (fill): fills with one value: a number or a 0-D tensor. Received: value_shape=(3,)",
    ),
    (
        "torch.clamp bounds that do not broadcast",
        lambda m, x: torch.clamp(x, min=m.low),
        convcalc.ShapeError,
        "clamp (clamp): the operands have shapes (2, 3) and (4, 3), which do not broadcast (axis 0: sizes must be "
        "equal or 1). Received: input_shape=(2, 3)",
    ),
    (
        "x.clamp_ bounds that broadcast wider",
        lambda m, x: x.clamp_(max=m.high),
        convcalc.ShapeError,
        "clamp_ (clamp): an in-place operation writes into its first operand of shape (2, 3), but the operands "
        "broadcast to (5, 2, 3) (torch: output with shape [2, 3] doesn't match the broadcast shape [5, 2, 3]); write "
        "it out of place (x = x + y) or make the shapes equal. Received: shapes=(2, 3) and (5, 2, 3)",
    ),
]


@pytest.mark.parametrize(("form", "function", "error", "message"), _REFUSED, ids=[r[0] for r in _REFUSED])
def test_arguments_torch_refuses(
    form: str, function: Forward, error: type[convcalc.ConvCalcError], message: str
) -> None:
    refused(Holding(function, low=(4, 3), high=(5, 2, 3)), (2, 3), error, message)


def test_refusals_on_sizes_that_are_symbols() -> None:
    # the arguments are checked alike where the sizes are not known
    message = f"{_CELU}Received: alpha=0.0"
    refused(Holding(lambda m, x: F.celu(x, 0.0)), ("N", 3, "L"), convcalc.ShapeError, message)
    message = "dropout (dropout): p is the probability of dropping an element: use a p from 0 to 1. Received: p=2.0"
    refused(Holding(lambda m, x: F.dropout(x, 2.0)), ("N", 3, "L"), convcalc.SpecError, message)
    message = f"{_DROPOUT1D}{_RECEIVED}(N, 3, H, W)"
    refused(Holding(lambda m, x: F.dropout1d(x)), ("N", 3, "H", "W"), convcalc.ShapeError, message)
    assert convcalc.plan(Holding(lambda m, x: F.dropout1d(x, 1.0)), ("N", 3, "L")).output_shape[1] == 3


@pytest.mark.parametrize(
    "function",
    [
        lambda m, x: F.hardtanh(x, 0.0, 0.0),  # min_val == max_val: every value becomes it
        lambda m, x: F.hardtanh(x, -2.0, 2.0, inplace=True),
        lambda m, x: F.hardtanh(x, math.nan, 0.3),  # no order: torch compares and takes it
        lambda m, x: F.hardtanh_(x, 1.0, -1.0),  # the in-place builtin checks nothing
        lambda m, x: F.relu6(x),
        lambda m, x: F.rrelu(x, 0.3, 0.3),
        lambda m, x: F.rrelu(x, 0.3, 0.3, training=True),
        lambda m, x: torch.rrelu(x, -1.0, 2.0, True),
        lambda m, x: F.celu(x, -1.0),
        lambda m, x: F.celu(x, 1e-9, inplace=True),
        lambda m, x: F.elu(x, 0.0),  # elu does not divide by alpha
        lambda m, x: F.gelu(x, approximate="tanh"),
        lambda m, x: F.gelu(x, approximate="none"),
        lambda m, x: F.softshrink(x, 0.0),
        lambda m, x: F.hardshrink(x, -0.5),  # torch checks softshrink's lambd only
        lambda m, x: x.hardshrink(-1),
        lambda m, x: F.softplus(x, 0.0, -1.0),
        lambda m, x: F.leaky_relu(x, -3.0),
        lambda m, x: torch.threshold(x, 1.0, 2.0),
        lambda m, x: x.clamp(min=1.0, max=-1.0),  # min above max: every value becomes max
        lambda m, x: x.clamp(max=0),
        lambda m, x: x.clip(None, 2),
        lambda m, x: x.clamp_(min=m.row),
        lambda m, x: x.clone().fill_(x[0, 0]),
        lambda m, x: torch.fill(x, 2.0),
    ],
)
def test_edge_values_torch_takes(function: Forward) -> None:
    assert planned(Holding(function, row=(3,)), (2, 3)) == (2, 3)


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda m, x: torch.clamp(x, min=m.low), (5, 2, 3)),
        (lambda m, x: torch.clamp(x, m.row, m.column), (2, 3)),
        (lambda m, x: x.clamp(None, m.low), (5, 2, 3)),
        (lambda m, x: torch.clamp_min(x, m.wide), (7, 2, 3)),
        (lambda m, x: x.clamp_max(m.wide), (7, 2, 3)),
        (lambda m, x: x.clip(max=m.wide), (7, 2, 3)),
    ],
)
def test_clamp_bounds_that_are_tensors_broadcast(function: Forward, shape: Shape) -> None:
    # torch.clamp(x, min=t) broadcasts x with t, as x + t does
    model = Holding(function, low=(5, 1, 3), row=(3,), column=(2, 1), wide=(7, 1, 3))
    assert planned(model, (2, 3)) == shape
