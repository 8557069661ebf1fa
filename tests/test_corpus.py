"""The corpus of real-style torch models: every one is planned, and agrees with torch itself.

Expected values come from torch: the output shape(s) of a real forward pass, ``sum(p.numel())`` and the
trainable split of ``model.parameters()``. The models that need torch's shape machinery are named, and their
rows are marked ``source="torch"``.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import convcalc  # noqa: E402
from tests.corpus_models import CORPUS  # noqa: E402

# The models that may need a meta-device pass (each holds one of
# int() of a traced size, is_cuda, an assert on a shape, a module made in forward, a TorchScript call, a tuple
# through a Sequential, or **kwargs).
NEEDS_TORCH = {
    "ShuffleNetTiny",
    "ShuffleV2Block",
    "IntViewNet",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "YoloHead",
    "YoloUpsample",
    "AssertNet",
    "DynamicSameNet",
    "MaxPoolSame",
    "CifarResNet",
    "MadeInForward",
    "StochasticDepthNet",
    "ScriptDepthNet",
    "TupleSequential",
    "TupleSequential2",
    "KwargsForward",
    "KwargsMask",
    "ShuffleUnit",
    "CifarBasicBlock",
    "StochasticBlock",
    "DictHeads",  # a dict in the traced graph's output
    "DictFeatures",
}


def _zeros(inputs: Any) -> tuple[list[Any], dict[str, Any]]:
    if isinstance(inputs, dict):
        return [], {k: torch.zeros(v) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [torch.zeros(s) for s in inputs], {}
    return [torch.zeros(inputs)], {}


def _shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, dict):
        return {k: _shapes(v) for k, v in value.items()}
    return tuple(_shapes(v) for v in value)


def _state(model: Any) -> Any:
    return (
        [(n, p.data_ptr(), p.requires_grad, p.device) for n, p in model.named_parameters()],
        [(n, b.clone()) for n, b in model.named_buffers()],
        [(n, m.training, dict(m._forward_hooks), dict(m._forward_pre_hooks)) for n, m in model.named_modules()],
    )


@pytest.mark.parametrize(("name", "factory", "inputs"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_model_agrees_with_torch(name: str, factory: Any, inputs: Any) -> None:
    torch.manual_seed(0)
    model = factory()
    before = _state(model)
    plan = convcalc.plan(model, inputs)
    after = _state(model)
    assert before[0] == after[0]
    assert before[2] == after[2]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(before[1], after[1], strict=True))
    args, kwargs = _zeros(inputs)
    with torch.no_grad():
        out = model(*args, **kwargs)
    expected = _shapes(out)
    if isinstance(out, torch.Tensor):
        assert plan.output_shape == expected
        assert plan.output_shapes == (expected,)
    else:
        assert plan.output_shapes == expected
        first = expected[next(iter(expected))] if isinstance(expected, dict) else expected[0]
        assert plan.output_shape == first
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert plan.buffers == sum(b.numel() for b in model.buffers())
    marked = [r for r in plan.rows if r.source == "torch"]
    assert plan.fallback_rows == tuple(marked)
    if name not in NEEDS_TORCH:  # an ordinary model is read exactly
        assert not marked
    if marked:
        assert "row(s) whose shapes torch gave" in plan.summary()
        assert any(r.get("source") == "torch" for r in plan.to_dict()["rows"])


def test_fallback_macs_are_the_layers_rules() -> None:
    from tests.corpus_models import IntViewNet

    plan = convcalc.plan(IntViewNet(), (3, 1, 28, 28))
    # by hand: conv 1->4, 5x5, on 24x24 outputs; linear 576 -> 10
    assert plan.macs == 4 * 24 * 24 * 25 + 576 * 10
    assert plan.row("conv").receptive_field is not None


def test_fallback_with_symbols_names_the_module_and_construct() -> None:
    from tests.corpus_models import IntViewNet

    H = convcalc.symbols("H")
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(IntViewNet(), (1, 1, H, H))
    message = str(info.value)
    assert message.startswith("<model> (IntViewNet): torch.fx cannot trace its forward")
    assert "concrete sizes, not symbols" in message


def test_fallback_part_keeps_exact_rows() -> None:
    from tests.corpus_models import CifarResNet

    plan = convcalc.plan(CifarResNet(), (1, 3, 8, 8))
    assert plan.row("conv1.0").source == "rule"
    assert plan.row("conv2_x.0.residual_function.0").source == "torch"


def test_several_inputs_are_for_torch_modules() -> None:
    from convcalc import nn

    with pytest.raises(convcalc.ShapeError):
        convcalc.plan(nn.Conv2d(1, 2, 3), [(1, 1, 5, 5), (1, 1, 5, 5)])


def test_unrunnable_forward_is_a_spec_error() -> None:
    class Bad(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            if x.sum() > 0:  # needs data
                return x
            return x * 2

    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(Bad(), (1, 3))
    assert "<model> (Bad)" in str(info.value)
    assert "meta tensors" in str(info.value)
