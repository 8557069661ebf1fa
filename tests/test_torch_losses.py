"""Losses computed in a forward (``F.cross_entropy(logits, targets)`` in a language model given its targets, an
autoencoder's ``F.mse_loss``), planned by convcalc's torch reader (``convcalc/torch/ops_loss.py``) against torch
running the same forward: the loss's shape for each reduction, or a refusal where torch raises (a target of
another shape), by rule (no row from torch's machinery) and with symbolic sizes."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from tests.outcomes import plan_or_refusal

torch.set_num_threads(1)
F = torch.nn.functional

Shape = tuple[int, ...]


class Loss(torch.nn.Module):
    """``function(x, target)`` of the input and a target: class indices (an int64 buffer) or values."""

    def __init__(self, function: Any, target: Shape, indices: bool, weight: Shape | None = None) -> None:
        super().__init__()
        self.function = function
        made = torch.zeros(target, dtype=torch.long) if indices else torch.rand(target)
        self.register_buffer("target", made)
        self.register_buffer("weight", None if weight is None else torch.ones(weight))

    def forward(self, x: Any) -> Any:
        return self.function(self, x)


def torch_shape(model: Any, shape: Shape) -> Shape | None:
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # a target that broadcasts: torch warns, and computes
            return tuple(model(torch.rand(shape)).shape)
    except (RuntimeError, ValueError, IndexError):
        return None


def agrees(model: Any, shape: Shape) -> Shape | None:
    plan = plan_or_refusal(model, shape)
    got = None if plan is None else tuple(plan.output_shape)
    expected = torch_shape(model, shape)
    assert got == expected, f"convcalc {got}, torch {expected}"
    if plan is not None:
        assert plan.macs == 0
    return got


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)
reductions = st.sampled_from(["none", "mean", "sum"])


@given(shape=shapes, data=st.data(), reduction=reductions, kind=st.sampled_from(["cross_entropy", "nll_loss"]))
def test_a_loss_over_classes_takes_targets_of_the_scores_shape_less_the_classes(
    shape: Shape, data: st.DataObject, reduction: str, kind: str
) -> None:
    rest = (shape[0], *shape[2:]) if len(shape) > 1 else ()
    probabilities = kind == "cross_entropy" and data.draw(st.booleans())
    target = shape if probabilities else rest
    if data.draw(st.booleans()):  # another shape: torch refuses (indices, whose dtype convcalc takes as given)
        target = data.draw(shapes)
        probabilities = probabilities and target == shape
    classes = shape[1] if len(shape) > 1 else shape[0]
    weight = data.draw(st.sampled_from([None, (classes,), (classes + 1,)]))
    function = getattr(F, kind)
    model = Loss(
        lambda m, x: function(x, m.target, weight=m.weight, reduction=reduction),
        target,
        indices=not probabilities,
        weight=weight,
    )
    agrees(model, shape)


@given(
    shape=shapes,
    target=shapes,
    reduction=reductions,
    kind=st.sampled_from(
        [
            "mse_loss",
            "l1_loss",
            "smooth_l1_loss",
            "huber_loss",
            "kl_div",
            "soft_margin_loss",
            "poisson_nll_loss",
            "binary_cross_entropy",
            "binary_cross_entropy_with_logits",
        ]
    ),
)
def test_an_elementwise_loss_broadcasts_or_wants_the_input_s_shape(
    shape: Shape, target: Shape, reduction: str, kind: str
) -> None:
    function = getattr(F, kind)
    prepared = torch.sigmoid if kind == "binary_cross_entropy" else (lambda x: x)
    model = Loss(lambda m, x: function(prepared(x), m.target, reduction=reduction), target, indices=False)
    agrees(model, shape)


_LEGACY = [None, True, False]


@given(
    shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple),
    size_average=st.sampled_from(_LEGACY),
    reduce=st.sampled_from(_LEGACY),
    reduction=reductions,
    kind=st.sampled_from(["mse_loss", "l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy", "kl_div"]),
    positional=st.booleans(),
)
def test_the_legacy_size_average_and_reduce_decide_the_reduction_where_given(
    shape: Shape, size_average: bool | None, reduce: bool | None, reduction: str, kind: str, positional: bool
) -> None:
    """torch's deprecated ``size_average`` and ``reduce`` (``F.mse_loss(x, y, reduce=False)``: per element) take
    the place of ``reduction`` where either is given, by keyword or by position."""
    function = getattr(F, kind)
    classes = kind in ("nll_loss", "cross_entropy")
    target = (shape[0], *shape[2:]) if classes else shape
    prepared = torch.sigmoid if kind == "binary_cross_entropy" else (lambda x: x)
    if positional and kind in ("mse_loss", "l1_loss", "kl_div"):  # (input, target, size_average, reduce, ...)
        model = Loss(lambda m, x: function(prepared(x), m.target, size_average, reduce, reduction), target, classes)
    else:
        legacy = {"size_average": size_average, "reduce": reduce, "reduction": reduction}
        model = Loss(lambda m, x: function(prepared(x), m.target, **legacy), target, indices=classes)
    agrees(model, shape)


def test_a_reduction_torch_does_not_know_is_refused() -> None:
    model = Loss(lambda m, x: F.mse_loss(x, m.target, reduction="avg"), (2, 3), indices=False)
    assert torch_shape(model, (2, 3)) is None
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (2, 3))
    assert str(caught.value) == (
        "mse_loss (mse_loss): reduction must be one of none, mean, sum. Received: reduction='avg'"
    )


class TinyLM(torch.nn.Module):
    """nanoGPT's forward: logits, and the loss where targets are given."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50, 16)
        self.head = torch.nn.Linear(16, 50)

    def forward(self, idx: Any, targets: Any = None) -> Any:
        logits = self.head(self.embed(idx))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def test_a_language_model_given_its_targets_is_planned_with_symbols() -> None:
    B, T = convcalc.symbols("B T")
    plan = convcalc.plan(TinyLM(), [(B, T), (B, T)])
    assert plan.output_shapes == ((B, T, 50), ())
    assert not plan.fallback_rows
    numeric = convcalc.plan(TinyLM(), [(2, 7), (2, 7)])
    model = TinyLM()
    logits, loss = model(torch.zeros(2, 7, dtype=torch.long), torch.zeros(2, 7, dtype=torch.long))
    assert numeric.output_shapes == (tuple(logits.shape), tuple(loss.shape))
