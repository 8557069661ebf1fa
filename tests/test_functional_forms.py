"""The functional forms of the layers beside convolutions (``F.embedding``, ``F.fold``, ``F.unfold``,
``F.max_unpool1d/2d/3d``) read from a forward, against torch running the same forward.

The strategies are the layer families' own (``tests/strategies.py``); the module wraps the call the way a model
writes it, so the reader's handler, not the layer spec alone, is what is checked.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import convcalc
from tests import strategies as cs

torch.set_num_threads(1)


def _outcome_torch(module: torch.nn.Module, inputs: list[torch.Tensor]) -> Any:
    try:
        with torch.no_grad():
            out = module(*inputs)
    except Exception:  # torch raises RuntimeError, ValueError, IndexError...
        return None
    return None if 0 in out.shape else tuple(out.shape)


def _outcome_convcalc(module: torch.nn.Module, shapes: list[tuple[int, ...]]) -> Any:
    try:
        plan = convcalc.plan(module, shapes if len(shapes) > 1 else shapes[0])
    except convcalc.ConvCalcError:
        return None
    assert not plan.fallback_rows  # read by the handler, not by torch's machinery
    return plan.output_shape


class _Call(torch.nn.Module):
    def __init__(self, function: Any, **args: Any) -> None:
        super().__init__()
        self.function, self.args = function, args

    def forward(self, x: Any) -> Any:
        return self.function(x, **self.args)


class _Call2(_Call):
    def forward(self, x: Any, indices: Any) -> Any:  # type: ignore[override]
        return self.function(x, indices, **self.args)


@settings(max_examples=300)
@given(cs.fold_configs())
def test_functional_fold_and_unfold(config: cs.RearrangeConfig) -> None:
    module = _Call(F.fold if config.kind == "Fold" else F.unfold, **config.args)
    if len(config.shape) < (2 if config.kind == "Fold" else 3):
        return  # a rank torch's functional forms reject before any rule (covered by the layer tests)
    assert _outcome_convcalc(module, [config.shape]) == _outcome_torch(module, [torch.randn(config.shape)])


@settings(max_examples=300)
@given(cs.unpool_configs())
def test_functional_max_unpool(config: cs.RearrangeConfig) -> None:
    function = getattr(F, f"max_unpool{config.kind[-2]}d")
    extra = {} if config.output_size is None else {"output_size": config.output_size}
    module = _Call2(function, **config.args, **extra)
    inputs = [torch.randn(config.shape), torch.zeros(config.shape, dtype=torch.long)]
    assert _outcome_convcalc(module, [config.shape, config.shape]) == _outcome_torch(module, inputs)


class _Lookup(torch.nn.Module):
    def __init__(self, num: int, dim: int, padding_idx: int | None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(num, dim))
        self.padding_idx = padding_idx

    def forward(self, ids: Any) -> Any:
        return F.embedding(ids, self.weight, padding_idx=self.padding_idx)


@settings(max_examples=300)
@given(cs.embedding_configs())
def test_functional_embedding(config: cs.EmbeddingConfig) -> None:
    num, dim = config.args["num_embeddings"], config.args["embedding_dim"]
    module = _Lookup(num, dim, config.args["padding_idx"])
    expected = _outcome_torch(module, [torch.randint(0, num, config.shape)])
    got = _outcome_convcalc(module, [config.shape])
    assert got == expected
    if got is not None:
        assert convcalc.plan(module, config.shape).total_params == num * dim  # the weight, counted once


def test_functional_forms_are_symbolic_and_named() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(_Call(F.unfold, kernel_size=3, stride=2), (1, 2, H, H))
    assert str(plan.output_shape[2]) == "(floor((H - 3)/2) + 1)**2"
    with pytest.raises(convcalc.ShapeError, match=r"^unfold \(unfold\): "):
        convcalc.plan(_Call(F.unfold, kernel_size=5), (1, 2, 3, 3))
    with pytest.raises(convcalc.SpecError, match=r"^max_unpool2d \(max_unpool2d\): kernel_size"):
        convcalc.plan(_Call2(F.max_unpool2d, kernel_size=0), [(1, 1, 2, 2), (1, 1, 2, 2)])
