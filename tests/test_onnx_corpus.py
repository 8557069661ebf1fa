"""The torch corpus (real-style models, tests/corpus_models.py) exported to ONNX and read back: each one-input model
the TorchScript exporter writes plans as ONNX Runtime runs it, at a fixed size and with dynamic sizes, and its
parameters and buffers are the file's floating-point initializers, each once."""

from __future__ import annotations

import math
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

import convcalc  # noqa: E402
from convcalc import SpecError  # noqa: E402
from tests.corpus_models import CORPUS  # noqa: E402
from tests.onnx_export import torch_to_onnx  # noqa: E402

ort.set_default_logger_severity(4)

#: Models the TorchScript exporter does not write, at a fixed size and with dynamic sizes (checked below: when it
#: learns to, they join the others).
NOT_EXPORTED = {
    ("ScriptDepthNet", False): "a TorchScript submodule",
    ("ScriptAskNet", False): "a TorchScript submodule",
    ("SqueezeInPlaceHead", False): "an in-place squeeze_",
    ("CRNNGRU", False): "an LSTM given a state it cannot export",
    ("UnfoldPatches", True): "Unfold of an input of unknown size",
    ("CBAMBlock", True): "a pool whose kernel is the input's size",
}
#: Models whose file convcalc refuses, with the ONNX operator it names (and, for a dynamic export only, its `If`).
REFUSED = {
    ("CRNN", False): "LSTM",
    ("CRNN", True): "If",
    ("ClipResNetPool", True): "If",
    ("RNNModel", False): "LSTM",
    ("RNNModel", True): "LSTM",
    ("FNO2d", False): "Einsum",
    ("FNO2d", True): "Einsum",
    ("DCGANDiscriminator", True): "If",
}
#: ONNX's floating-point tensor types (float, float16, double, bfloat16): the initializers that are weights.
FLOATS = {1, 10, 11, 16}

ONE_INPUT = [
    (name, factory, shape)
    for name, factory, shape in CORPUS
    if isinstance(shape, tuple) and all(type(d) is int for d in shape)
]


def _exported(factory: Any, shape: tuple[int, ...], dynamic: bool) -> bytes:
    torch.manual_seed(0)
    module = factory().eval()
    with torch.no_grad():
        for parameter in module.parameters():  # distinct values: the exporter merges equal initializers
            parameter.normal_()
    axes = ({0: "N", 2: "H", 3: "W"} if len(shape) == 4 else {0: "N"}) if dynamic else None
    return torch_to_onnx(module, shape, axes=axes)


EXPORTED = [
    pytest.param(name, factory, shape, dynamic, id=f"{name}-{'dynamic' if dynamic else 'static'}")
    for name, factory, shape in ONE_INPUT
    for dynamic in (False, True)
    if (name, False) not in NOT_EXPORTED and (name, dynamic) not in NOT_EXPORTED
]


@pytest.mark.parametrize(("name", "factory", "shape", "dynamic"), EXPORTED)
def test_an_exported_corpus_model_plans_as_onnx_runtime_runs_it(
    name: str, factory: Any, shape: tuple[int, ...], dynamic: bool
) -> None:
    data = _exported(factory, shape, dynamic)
    model = onnx.load_from_string(data)
    refused = REFUSED.get((name, dynamic))
    if refused is not None:
        with pytest.raises(SpecError, match=f"does not know the ONNX operator {refused} "):
            convcalc.plan(model, shape)
        return
    plan = convcalc.plan(model, shape)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros(shape, np.float32)})
    theirs = tuple(tuple(o.shape) for o in outputs)
    ours = plan.output_shapes if len(outputs) > 1 else (plan.output_shape,)
    assert tuple(tuple(s) for s in ours) == theirs
    weights = sum(math.prod(t.dims) for t in model.graph.initializer if t.data_type in FLOATS)
    assert plan.total_params + plan.buffers == weights  # (a BatchNormalization's running statistics: buffers)


@pytest.mark.parametrize(("name", "dynamic"), sorted(NOT_EXPORTED))
def test_the_models_left_out_are_those_the_exporter_refuses(name: str, dynamic: bool) -> None:
    factory, shape = next((f, s) for n, f, s in ONE_INPUT if n == name)
    with pytest.raises(RuntimeError):  # (torch.onnx.errors.SymbolicValueError is one)
        _exported(factory, shape, dynamic)
