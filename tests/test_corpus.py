"""The corpus of real-style torch models: every one is planned, and agrees with torch itself.

Expected values come from torch: the output shape(s) of a real forward pass, ``sum(p.numel())`` and the
trainable split of ``model.parameters()``. The models that need torch's shape machinery are named, and their
rows are marked ``source="torch"``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import sympy

torch = pytest.importorskip("torch")

import convcalc  # noqa: E402
from tests.corpus_models import CORPUS  # noqa: E402
from tests.outcomes import torch_outcome  # noqa: E402
from tests.torch_shapes import output_shapes  # noqa: E402

# The models read through a meta-device pass, each for a construct fx cannot trace and convcalc cannot decide
# from the known shapes: a TorchScript module whose Python asks whether it is scripted. Every other model (int() of
# a traced size, is_cuda checks, shape asserts, branches on sizes such as dynamic 'same' padding, modules made in
# forward, a tuple through a Sequential, dict outputs, **kwargs, a forward set on the instance to another of its
# methods, a TorchScript module read as the Python it was compiled from) is read exactly.
NEEDS_TORCH = {"ScriptAskNet"}


def _zeros(inputs: Any) -> tuple[list[Any], dict[str, Any]]:
    if isinstance(inputs, dict):
        return [], {k: torch.zeros(v) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [torch.zeros(s) for s in inputs], {}
    return [torch.zeros(inputs)], {}


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
    expected = output_shapes(out)
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
    assert bool(marked) == (name in NEEDS_TORCH)  # every other model is read exactly
    if marked:
        assert "row(s) whose shapes torch gave" in plan.summary()
        assert any(r.get("source") == "torch" for r in plan.to_dict()["rows"])


def test_fallback_macs_are_the_layers_rules() -> None:
    from tests.corpus_models import OpaqueShapeConv

    plan = convcalc.plan(OpaqueShapeConv(4), (3, 4, 8, 8))
    # by hand: conv 4->4, 3x3, padding 1, on 8x8 outputs (json of its sizes sends the model to torch)
    assert plan.macs == 4 * 4 * 9 * 8 * 8
    assert plan.row("conv").receptive_field is not None


def test_fallback_with_symbols_names_the_module_and_construct() -> None:
    from tests.corpus_models import OpaqueShapeConv

    H = convcalc.symbols("H")
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(OpaqueShapeConv(4), (1, 4, H, H))
    message = str(info.value)
    assert message.startswith("<model> (OpaqueShapeConv): torch.fx cannot trace its forward")
    assert "concrete sizes, not symbols" in message


def test_int_of_a_size_is_read_for_each_size() -> None:
    """``x.view(int(x.size(0)), -1)`` and ShuffleNet's ``reshape(int(n), 2, int(c) // 2, ...)``: the trace takes
    a number, the plan computes it from the sizes and reads the forward again where it differs."""
    from tests.corpus_models import IntViewNet, ShuffleV2Block

    for model, shapes in (
        (IntViewNet(), [(1, 1, 28, 28), (3, 1, 28, 28), (5, 1, 28, 28)]),
        (ShuffleV2Block(8), [(2, 8, 6, 6), (1, 8, 5, 7), (4, 8, 1, 3)]),
    ):
        for shape in shapes:
            plan = convcalc.plan(model, shape)
            assert plan.output_shape == tuple(model(torch.zeros(shape)).shape), (type(model).__name__, shape)
            assert not any(r.get("source") == "torch" for r in plan.to_dict()["rows"])


def test_int_of_a_size_with_symbols() -> None:
    from tests.corpus_models import IntViewNet, ShuffleV2Block

    N, H = convcalc.symbols("N H")
    # a number in a symbolic plan: exact and symbolic in the rest
    plan = convcalc.plan(IntViewNet(), (1, 1, H, H))
    assert plan.output_shape == (1, 10)
    assert "torch" not in {r.get("source") for r in plan.to_dict()["rows"]}
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(ShuffleV2Block(8), (N, 8, 6, 6))
    assert str(info.value) == (
        "<model> (ShuffleV2Block): its forward asks int() of a size that depends on the symbols (N), and Python "
        "needs a number there; plan with a number for N, or, where the forward is yours, pass the size on as it "
        "is (x.size(0), math.prod of sizes: no int() needed). Received: value=N"
    )


class _NumbersOfSizes(torch.nn.Module):
    """``range()``, ``float()``, ``round()`` and ``operator.index`` of sizes, as hand-written forwards use them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x[:, :, i : i + 1] for i in range(x.shape[2])]  # one row at a time
        x = self.conv(torch.cat(parts, 2))
        scale = float(x.shape[3]) / 2
        side = round(x.shape[3] / 3)
        return torch.nn.functional.interpolate(x, scale_factor=scale)[..., :side]


@pytest.mark.parametrize("shape", [(1, 2, 1, 2), (1, 2, 3, 4), (2, 2, 5, 6), (1, 2, 2, 5)])
def test_numbers_asked_of_sizes_agree_with_torch(shape: tuple[int, ...]) -> None:
    model = _NumbersOfSizes()
    plan = convcalc.plan(model, shape)
    assert plan.output_shape == tuple(model(torch.zeros(shape)).shape)
    assert "torch" not in {r.get("source") for r in plan.to_dict()["rows"]}


class _LenOfBatch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.fc = torch.nn.Linear(2 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        parts = [x, x]
        return self.fc(self.conv(x).view(n, -1)) * len(parts)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_len_of_a_tensor_is_its_first_size(batch: int) -> None:
    model = _LenOfBatch()
    plan = convcalc.plan(model, (batch, 1, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(batch, 1, 8, 8)).shape)
    assert "torch" not in _sources(plan)


class _IntOfData(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : int(x.sum())]


def test_int_of_tensor_values_gives_torchs_verdict() -> None:
    # torch on the meta device cannot take int() of data either: its own error, named
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(_IntOfData(), (1, 4))
    assert "_IntOfData" in str(info.value)


def test_fallback_part_keeps_exact_rows() -> None:
    from tests.corpus_models import ScriptAskNet

    plan = convcalc.plan(ScriptAskNet(), (1, 3, 8, 8))
    assert plan.row("conv").source == plan.row("fc").source == "rule"
    assert plan.row("drop").source == "torch"  # TorchScript that asks if it is scripted: torch runs it


@pytest.mark.parametrize("training", [True, False])
def test_a_torchscript_module_is_read_as_the_python_it_was_compiled_from(training: bool) -> None:
    """``torch.jit.script(block)`` of a module class of the user's keeps that class: its forward is read as the
    Python TorchScript compiled, with the compiled module's tensors and attributes, exactly and with symbols."""
    from tests.corpus_models import ScriptDepthNet

    model = ScriptDepthNet().train(training)
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(2, 3, 8, 8)).shape)
    assert not plan.fallback_rows
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.macs == 3 * 4 * 9 * 36 + 4 * 3
    H = convcalc.symbols("H")
    assert convcalc.plan(model, (2, 3, H, H)).macs == 3 * 4 * 9 * (H - 2) ** 2 + 4 * 3
    assert isinstance(model.drop, torch.jit.RecursiveScriptModule)  # the model's own module, as it was


@pytest.mark.parametrize("training", [True, False])
def test_a_torchscript_function_is_read_as_the_python_it_was_compiled_from(training: bool) -> None:
    """A scripted ``drop_path`` called in a forward was recorded by fx as one call, which torch ran on meta tensors
    (numbers only); torch keeps the Python function it compiled, whose steps are read by rule, with symbols too."""
    from tests.corpus_models import StochasticDepthNet, drop_path

    model = StochasticDepthNet().train(training)
    plan = convcalc.plan(model, (2, 4, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(2, 4, 8, 8)).shape)
    assert not plan.fallback_rows
    assert (plan.total_params, plan.macs) == (306, 2 * 4 * 4 * 9 * 64 + 2 * 4 * 64)
    H = convcalc.symbols("H")
    symbolic = convcalc.plan(model, (2, 4, H, H))
    assert symbolic.output_shape == (2, 2, H, H)
    assert symbolic.macs == 2 * 4 * 4 * 9 * H**2 + 2 * 4 * H**2
    assert isinstance(drop_path, torch.jit.ScriptFunction)  # the model's own function, as it was


@torch.jit.script
def scripted_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w


_SCRIPTED_FROM_SOURCE = torch.jit.CompilationUnit(
    "def scripted_matmul(x: Tensor, w: Tensor) -> Tensor:\n    return x @ w\n"
).scripted_matmul


class _ScriptedMatmul(torch.nn.Module):
    def __init__(self, from_source: bool = False) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4, 3))
        self.from_source = from_source

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.from_source:
            return _SCRIPTED_FROM_SOURCE(x, self.w)
        return scripted_matmul(x, self.w)


def test_a_torchscript_function_that_multiplies_is_counted_or_refused_not_counted_as_zero() -> None:
    """Read from the Python it was compiled from, its product is counted by rule; one scripted from a string,
    which only torch can run, is refused rather than counted as nothing."""
    assert convcalc.plan(_ScriptedMatmul(), (2, 4)).macs == 4 * 3
    assert convcalc.plan(_PythonHelperMatmul(), (2, 4)).macs == 4 * 3  # through a Python function it calls
    with pytest.raises(convcalc.SpecError, match=r"aten::matmul, whose multiply-accumulates convcalc cannot count"):
        convcalc.plan(_ScriptedMatmul(from_source=True), (2, 4))


@torch.jit.script
def _scripted_head(x: torch.Tensor) -> torch.Tensor:
    if torch.jit.is_scripting():  # TorchScript takes this branch; Python the other
        return x[:, :2]
    return x


def _asks_through_a_helper(x: torch.Tensor) -> torch.Tensor:
    return x[:, :1] if torch.jit.is_scripting() else x


@torch.jit.script
def _scripted_helper_caller(x: torch.Tensor) -> torch.Tensor:
    return _asks_through_a_helper(x)


class _AsksIfScripted(torch.nn.Module):
    def __init__(self, through_helper: bool) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.through_helper = through_helper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return _scripted_helper_caller(y) if self.through_helper else _scripted_head(y)


@pytest.mark.parametrize("through_helper", [False, True])
def test_a_torchscript_function_that_asks_if_it_is_scripted_is_run_as_torchscript(through_helper: bool) -> None:
    """``torch.jit.is_scripting()`` is True in what TorchScript compiled and False in its Python: such a function
    (or one calling a Python function that asks) is not read as its Python, whose shapes are not TorchScript's."""
    model = _AsksIfScripted(through_helper)
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.output_shape == tuple(model(torch.zeros(1, 3, 8, 8)).shape) == (1, 1 if through_helper else 2, 6, 6)


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


# --- constructs read exactly, not through the fallback ------------------------------------------------------------


def _at(shape: Any, symbol: Any, value: int) -> tuple[int, ...]:
    import sympy

    return tuple(int(sympy.sympify(d).subs(symbol, value)) for d in shape)


def test_is_cuda_is_decided_from_the_model_device() -> None:
    """``if x.is_cuda`` takes the branch a forward on the model's device takes: on the CPU, the other one."""

    class Branchy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gpu = torch.nn.Conv2d(3, 5, 3)
            self.host = torch.nn.Conv2d(3, 7, 1)

        def forward(self, x: Any) -> Any:
            return self.gpu(x) if x.is_cuda else self.host(x)

    model = Branchy()
    plan = convcalc.plan(model, (2, 3, 9, 9))
    assert plan.output_shape == tuple(model(torch.zeros(2, 3, 9, 9)).shape) == (2, 7, 9, 9)
    assert not plan.fallback_rows
    assert [r.name for r in plan.uncalled] == ["gpu"]
    # the tracer reads the branch of the device it is told the input is on
    from convcalc.torch.tracer import _trace

    on_gpu = [n.target for n in _trace(model, on_cuda=True).nodes if n.op == "call_module"]
    on_cpu = [n.target for n in _trace(model, on_cuda=False).nodes if n.op == "call_module"]
    assert (on_gpu, on_cpu) == (["gpu"], ["host"])


def test_dcgan_discriminator_is_symbolic() -> None:
    from tests.corpus_models import DCGANDiscriminator

    H = convcalc.symbols("H")
    plan = convcalc.plan(DCGANDiscriminator(), (1, 3, H, H))
    assert not plan.fallback_rows
    for size in (16, 20, 35):
        real = DCGANDiscriminator()(torch.zeros(1, 3, size, size)).shape
        assert convcalc.plan(DCGANDiscriminator(), (1, 3, size, size)).output_shape == tuple(real)


def test_modules_made_in_forward_are_read_exactly() -> None:
    from tests.corpus_models import CifarResNet, MadeInForward

    H = convcalc.symbols("H")
    plan = convcalc.plan(MadeInForward(), (1, 3, H, H))
    assert not plan.fallback_rows
    assert _at(plan.output_shape, H, 12) == tuple(MadeInForward()(torch.zeros(1, 3, 12, 12)).shape) == (1, 150)
    kinds = [r.kind for r in convcalc.plan(MadeInForward(), (1, 3, 12, 12)).rows]
    assert kinds == ["Conv2d", "max_pool2d", "sigmoid", "flatten"]
    resnet = convcalc.plan(CifarResNet(), (2, 3, 8, 8))
    assert resnet.row("conv2_x.0.relu").kind == "relu"
    # by hand, per sample: stem 64*8*27, block 1 two 64*8*72, block 2 16*16*72 + 16*16*144 + shortcut 16*16*8, fc
    assert resnet.macs == 64 * 8 * 27 + 2 * 64 * 8 * 72 + 16 * 16 * 72 + 16 * 16 * 144 + 16 * 16 * 8 + 160


def test_module_with_tensors_made_in_forward_falls_back() -> None:
    """A layer with weights made in forward is not part of the model: torch's machinery plans it, and says why."""

    class FreshConv(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return torch.nn.Conv2d(3, 4, 3)(x)

    plan = convcalc.plan(FreshConv(), (1, 3, 8, 8))
    assert plan.output_shape == (1, 4, 6, 6)
    assert plan.fallback_rows
    with pytest.raises(convcalc.SpecError, match="module is not installed as a submodule"):
        convcalc.plan(FreshConv(), (1, 3, convcalc.symbols("H"), 8))


@pytest.mark.parametrize("size", [(14, 18), (1, 4, 13, 18), torch.Size([14, 17])])
def test_a_transposed_convolution_made_in_forward_takes_its_output_size(size: Any) -> None:
    """``nn.ConvTranspose2d(...)(x, output_size=...)`` made in forward: the fallback plans it with the output
    padding the size asks for, as a registered one is (it was refused: the rule without the size disagreed)."""

    class FreshUp(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1)(x, output_size=size)

    plan = convcalc.plan(FreshUp(), (1, 3, 7, 9))
    assert plan.output_shape == tuple(FreshUp()(torch.zeros(1, 3, 7, 9)).shape)
    (row,) = plan.fallback_rows
    assert (row.kind, row.macs, row.trainable) == ("ConvTranspose2d", 3 * 4 * 3 * 3 * 7 * 9, 0)


def test_dict_outputs_and_dicts_inside_forward_are_read_exactly() -> None:
    from tests.corpus_models import DictFeatures, DictHeads

    H = convcalc.symbols("H")
    plan = convcalc.plan(DictFeatures(), (1, 3, H, H))
    assert not plan.fallback_rows
    shapes = {k: _at(v, H, 15) for k, v in plan.output_shapes.items()}
    real = DictFeatures()(torch.zeros(1, 3, 15, 15))
    assert shapes == {k: tuple(v.shape) for k, v in real.items()} == {"p1": (1, 4, 8, 8), "p2": (1, 8, 4, 4)}
    heads = convcalc.plan(DictHeads(), (2, 3, 10, 10))
    assert heads.output_shapes == {"logits": (2, 2, 8, 8), "boxes": (2, 4, 8, 8)}

    class Picks(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3)
            self.b = torch.nn.Conv2d(3, 6, 1)

        def forward(self, x: Any) -> Any:
            feats = {"a": self.a(x), 0: self.b(x)}
            return torch.cat([feats["a"], feats[0][:, :, 1:-1, 1:-1]], dim=1)

    assert convcalc.plan(Picks(), (1, 3, 9, 9)).output_shape == tuple(Picks()(torch.zeros(1, 3, 9, 9)).shape)
    assert not convcalc.plan(Picks(), (1, 3, 9, 9)).fallback_rows


def test_shape_asserts_are_checked_and_symbolic_ones_kept_as_constraints() -> None:
    # defined outside this file: pytest rewrites the asserts of test files into other bytecode
    from tests.corpus_models import ShapeAsserts as _Asserts

    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(_Asserts(), (1, 3, H, H))
    assert not plan.fallback_rows
    assert [c.reason for c in plan.constraints if c.layer == "<model> (ShapeAsserts)"] == [
        "assert H >= 8",
        "assert Eq(H - 8*floor(H/8), 0)",
    ]
    assert "assert Eq(H, W)" in [c.reason for c in convcalc.plan(_Asserts(), (1, 3, H, W)).constraints]
    for size in range(1, 34):
        try:
            expected: Any = tuple(_Asserts()(torch.zeros(1, 3, size, size)).shape)
        except AssertionError:
            expected = None
        assert all(c.holds(size) for c in plan.constraints) == (expected is not None)
        if expected is None:
            with pytest.raises(convcalc.ShapeError, match=r"<model> \(ShapeAsserts\): an assert in its forward fails"):
                convcalc.plan(_Asserts(), (1, 3, size, size))
        else:
            assert convcalc.plan(_Asserts(), (1, 3, size, size)).output_shape == expected
    with pytest.raises(convcalc.ShapeError, match="an assert in its forward fails"):
        convcalc.plan(_Asserts(), (1, 3, 16, 8))


def test_an_asserted_size_of_1_is_squeezed_in_a_symbolic_plan() -> None:
    """CRNN code asserts the feature map's height is 1, then squeezes it: with a symbolic height the assert's
    equality decides the squeeze (and a later ``if h == 1``), where before the axis was kept under a constraint
    that contradicts the assert, and the permute after it failed."""
    from tests.corpus_models import CRNN

    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(CRNN(), (2, 1, H, W))
    assert str(plan.output_shape) == "(floor((W - 2)/2) + 1, 2, 11)"
    assert not any("squeezed" in c.reason for c in plan.constraints)
    valid = []
    for height in range(1, 40):
        try:
            expected: Any = tuple(CRNN()(torch.zeros(2, 1, height, 20)).shape)
        except (AssertionError, RuntimeError):
            expected = None
        assert all(c.holds({"H": height, "W": 20}) for c in plan.constraints) == (expected is not None), height
        if expected is not None:
            assert _at(_at_any(plan.output_shape, W, 20), H, height) == expected
            valid.append(height)
    assert valid == [8, 9, 10, 11]

    from tests.corpus_models import SqueezeIfFlat

    plan = convcalc.plan(SqueezeIfFlat(), (1, 3, H, W))
    assert plan.output_shape == (1, 4, W - 2)
    assert tuple(SqueezeIfFlat()(torch.zeros(1, 3, 3, 7)).shape) == _at(plan.output_shape, W, 7) == (1, 4, 5)
    # without the assert the height may or may not be 1: a branch on it is not decided
    with pytest.raises(convcalc.SpecError, match=r"depends on the symbols \(Eq\(H - 2, 1\)\)"):
        convcalc.plan(SqueezeIfFlat(asserted=False), (1, 3, H, W))


def _at_any(shape: Any, symbol: Any, value: int) -> tuple[Any, ...]:
    return tuple(sympy.sympify(d).subs(symbol, value) for d in shape)


def test_a_branch_on_a_size_is_read_the_way_the_sizes_take_it() -> None:
    class Branch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.big = torch.nn.Conv2d(3, 4, 3)
            self.small = torch.nn.Conv2d(3, 5, 1)

        def forward(self, x: Any) -> Any:
            if x.shape[2] > 10:
                return self.big(x)
            return self.small(x)

    for size, called in ((12, "big"), (8, "small")):
        plan = convcalc.plan(Branch(), (1, 3, size, size))
        assert plan.output_shape == tuple(Branch()(torch.zeros(1, 3, size, size)).shape)
        assert [(r.name, r.source) for r in plan.rows] == [(called, "rule")]
        assert plan.total_params == sum(p.numel() for p in Branch().parameters())
    # a branch decided by a size that is a number, in a symbolic plan
    H = convcalc.symbols("H")
    assert convcalc.plan(Branch(), (1, 3, 8, H)).rows[0].name == "small"
    with pytest.raises(convcalc.SpecError, match=r"<model> \(Branch\): its forward branches on a condition of the "):
        convcalc.plan(Branch(), (1, 3, H, 8))


@pytest.mark.parametrize("name", ["DynamicSameNet", "MaxPoolSame"])
def test_padding_computed_in_forward_is_exact_for_every_size(name: str) -> None:
    """Dynamic 'same' padding (``max(...)`` and ``if pad > 0`` on sizes): each size reads the branches it takes."""
    import tests.corpus_models as corpus

    model = getattr(corpus, name)()
    for h, w in [(1, 1), (2, 3), (5, 8), (9, 4), (16, 17), (31, 30)]:
        plan = convcalc.plan(model, (1, 3, h, w))
        assert not plan.fallback_rows
        assert plan.output_shape == tuple(model(torch.zeros(1, 3, h, w)).shape), (h, w)


@pytest.mark.parametrize("name", ["DynamicSameNet", "CeilSameNet"])
def test_padding_computed_in_forward_is_symbolic(name: str) -> None:
    """``math.ceil(ih / sh)`` (EfficientNet-PyTorch) or ``-(-ih // sh)``, then ``max(pad, 0)`` and ``if pad > 0``:
    with a symbolic height the plan is one expression that is torch's output height at every size torch takes, its
    valid sizes are exactly those, and its MACs are the numeric plans'. (``math.ceil`` of a symbolic size was
    refused, and the nested ceilings it makes left the branch undecided.)"""
    import tests.corpus_models as corpus

    model = getattr(corpus, name)().eval()
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (1, 3, H, 17))
    assert not plan.fallback_rows
    solution = plan.valid_sizes()
    for h in range(1, 41):
        try:
            expected = tuple(model(torch.zeros(1, 3, h, 17)).shape)
        except RuntimeError:
            assert h not in solution
            continue
        assert h in solution
        assert _at(plan.output_shape, H, h) == expected
        assert int(plan.macs.subs(H, h)) == convcalc.plan(model, (1, 3, h, 17)).macs


def test_a_size_as_a_condition_is_true_where_not_zero() -> None:
    class Odd(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            if x.shape[2] % 2:
                x = x[:, :, :-1]
            if x.shape[3] + 1:  # never zero, even for a symbol
                x = x * 2
            return x

    for size in (7, 8):
        assert convcalc.plan(Odd(), (1, 1, size, 5)).output_shape == tuple(Odd()(torch.zeros(1, 1, size, 5)).shape)
    H = convcalc.symbols("H")
    assert convcalc.plan(Odd(), (1, 1, 8, H)).output_shape == (1, 1, 8, H)
    with pytest.raises(convcalc.SpecError, match=r"depends on the symbols \(H - 2\*floor\(H/2\)\)"):
        convcalc.plan(Odd(), (1, 1, H, 8))


@pytest.mark.parametrize("period", [2, 3, 4])
def test_a_branch_on_a_remainder_says_how_to_plan_each_residue_and_each_plan_is_torchs(period: int) -> None:
    """The refusal of ``if w % p == 1:`` names the forms ``p*k - r``; a plan of each holds at every size of it."""

    class Trim(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = torch.nn.AvgPool1d(period)

        def forward(self, x: Any) -> Any:
            if x.shape[-1] % period == 1:
                x = x[..., :-1]
            return self.pool(x)

    L = convcalc.symbols("L")
    forms = ", ".join(f"L = {period}*k - {period - r}" for r in range(1, period))
    with pytest.raises(convcalc.SpecError) as refused:
        convcalc.plan(Trim(), (1, 2, L))
    assert f"once per residue of L modulo {period} ({forms} and L = {period}*k, with k = " in str(refused.value)
    k = convcalc.symbols("k")
    for r in range(1, period + 1):
        plan = convcalc.plan(Trim(), (1, 2, period * k - (period - r)))
        for value in range(1, 9):
            size = period * value - (period - r)
            holds = all(c.holds(value) for c in plan.constraints)
            try:
                real: Any = tuple(Trim()(torch.zeros(1, 2, size)).shape)
            except RuntimeError:
                real = None
            assert holds == (real is not None), (r, value)
            if real is not None:
                assert tuple(int(sympy.sympify(d).subs(k, value)) for d in plan.output_shape) == real


def test_a_threshold_on_a_size_is_refused_without_residues() -> None:
    class Big(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x[..., :-1] if x.shape[-1] > 7 else x

    with pytest.raises(
        convcalc.SpecError,
        match=r"\(L > 7\), and convcalc cannot read both branches to one plan; plan with numbers\. Received",
    ):
        convcalc.plan(Big(), (1, 2, convcalc.symbols("L")))


def test_keyword_inputs_and_optional_inputs_left_out() -> None:
    from tests.corpus_models import KwargsForward, KwargsMask

    plan = convcalc.plan(KwargsForward(), (1, 3, 5, 5))  # kwargs.get("scale", 1.0) on no keywords
    assert not plan.fallback_rows
    assert plan.output_shape == (1, 4, 3, 3)

    class Optional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(6, 6)

        def forward(self, x: Any, mask: Any = None) -> Any:
            y = self.fc(x)
            if mask is not None:  # fx reads this with mask a tensor: the branch of a given mask
                y = y[:, :3] * mask
            return y

    given = convcalc.plan(Optional(), {"x": (2, 6), "mask": (2, 3)})
    assert given.output_shape == (2, 3)
    assert not given.fallback_rows
    left_out = convcalc.plan(Optional(), (2, 6))  # no mask: the forward is read again with mask None
    assert left_out.output_shape == tuple(Optional()(torch.zeros(2, 6)).shape) == (2, 6)
    assert not left_out.fallback_rows
    assert convcalc.plan(KwargsMask(), (2, 6)).output_shape == (2, 6)


def test_an_optional_input_passed_on_to_a_layer_is_read_exactly() -> None:
    """``key_padding_mask=mask`` with the mask left out: the layer's own None, read exactly and symbolically."""

    class Attend(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: Any, mask: Any = None) -> Any:
            return self.attn(x, x, x, key_padding_mask=mask)[0]

    plan = convcalc.plan(Attend(), (2, 5, 8))
    assert plan.output_shape == tuple(Attend()(torch.zeros(2, 5, 8)).shape)
    assert not plan.fallback_rows
    L = convcalc.symbols("L")
    assert convcalc.plan(Attend(), (2, L, 8)).output_shape == (2, L, 8)


# --- forward hooks ------------------------------------------------------------------------------------------------
def _sources(plan: convcalc.Plan) -> set[Any]:
    return {r.get("source") for r in plan.to_dict()["rows"]}


def _totals(model: torch.nn.Module) -> tuple[int, int]:
    return sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_a_hook_that_changes_an_output_is_run_by_torch() -> None:
    """A hook's result replaces the layer's output in torch: convcalc cannot read it, so torch runs the layer
    (never the layer's rule alone, which would give the shape before the hook)."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    net[0].register_forward_hook(lambda module, args, out: out[:, :, 1:, 1:])
    plan = convcalc.plan(net, (2, 3, 9, 9))
    assert plan.output_shape == tuple(net(torch.zeros(2, 3, 9, 9)).shape) == (2, 4, 4, 4)
    assert (plan.total_params, plan.trainable_params) == _totals(net)
    assert plan.row("0").output_shape == (2, 4, 7, 7)  # the layer's own output; the hook's slice is its own row
    assert plan.row("0").source == "torch"
    assert plan.macs == 4 * 3 * 9 * 7 * 7 + 4 * 4 * 9 * 4 * 4


def test_a_pre_hook_that_changes_an_input_is_run_by_torch() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 4, 3))
    net[1].register_forward_pre_hook(lambda module, args: (args[0][:, :, 1:, 1:],))
    plan = convcalc.plan(net, (1, 3, 9, 9))
    assert plan.output_shape == tuple(net(torch.zeros(1, 3, 9, 9)).shape) == (1, 4, 4, 4)
    assert plan.macs == 4 * 3 * 9 * 7 * 7 + 4 * 4 * 9 * 4 * 4


def test_a_hooked_model_that_is_one_layer_counts_its_tensors_once() -> None:
    conv = torch.nn.Conv2d(3, 4, 3)
    conv.register_forward_hook(lambda module, args, out: out[:, :, 1:, 1:])
    plan = convcalc.plan(conv, (1, 3, 8, 8))
    assert plan.output_shape == (1, 4, 5, 5)
    assert (plan.total_params, plan.trainable_params) == (112, 112)
    assert "Never called" not in plan.summary()


def test_observing_hooks_keep_the_numbers() -> None:
    seen: list[Any] = []
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    plain = convcalc.plan(net, (1, 3, 9, 9))
    handles = [m.register_forward_hook(lambda module, args, out: seen.append((out, out.device.type))) for m in net]
    hooked = convcalc.plan(net, (1, 3, 9, 9))
    assert hooked.output_shape == plain.output_shape
    assert (hooked.total_params, hooked.macs) == (plain.total_params, plain.macs)
    # the hooks ran on the meta copy only, never on data; asked, the tensors said the model's device, as on data
    assert [(out.device.type, asked) for out, asked in seen] == [("meta", "cpu")] * 3
    for handle in handles:
        handle.remove()
    assert convcalc.plan(net, (1, 3, 9, 9)).to_dict() == plain.to_dict()


def test_a_global_hook_sends_the_model_to_torch() -> None:
    from torch.nn.modules import module as torch_module

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    handle = torch_module.register_module_forward_hook(
        lambda module, args, out: out[:, :-1] if isinstance(module, torch.nn.Flatten) else None
    )
    try:
        plan = convcalc.plan(net, (1, 3, 5, 5))
        assert plan.output_shape == tuple(net(torch.zeros(1, 3, 5, 5)).shape) == (1, 35)
        assert "torch" in _sources(plan)
    finally:
        handle.remove()
    assert convcalc.plan(net, (1, 3, 5, 5)).output_shape == (1, 36)


def test_torchs_own_hooks_are_read_exactly() -> None:
    """Lazy modules, spectral and weight norm and pruning add forward pre-hooks that change no shape."""
    import warnings

    from torch.nn.utils import prune, spectral_norm, weight_norm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        net = torch.nn.Sequential(
            spectral_norm(torch.nn.Conv2d(3, 4, 3)), weight_norm(torch.nn.Conv2d(4, 4, 3)), torch.nn.LazyConv2d(2, 1)
        )
    prune.l1_unstructured(net[0], "bias", 0.5)
    assert all(m._forward_pre_hooks for m in net)
    plan = convcalc.plan(net, (1, 3, 9, 9))
    assert _sources(plan) == {None}
    net(torch.zeros(1, 3, 9, 9))
    assert plan.output_shape == (1, 2, 5, 5)
    assert (plan.total_params, plan.trainable_params) == _totals(net)


def _helper_that_multiplies(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _SCRIPTED_FROM_SOURCE(x, w)


def _helper_of_python_scripted(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return scripted_matmul(x, w)


class _HelperMatmul(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _helper_that_multiplies(x, self.w)


class _PythonHelperMatmul(_HelperMatmul):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _helper_of_python_scripted(x, self.w)


class _ScriptedProjector(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


class _HoldsScriptedProjector(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.jit.script(_ScriptedProjector())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class _ResidualBlock(torch.nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(c, c, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))) + x


class _LoopingBody(torch.nn.Module):
    """Containers a forward iterates and indexes (a compiled ``ModuleList`` makes new Python objects for its
    children each time it is iterated)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU())
        self.blocks = torch.nn.ModuleList([_ResidualBlock(8) for _ in range(3)])
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(8, 2), "b": torch.nn.Linear(8, 3)})
        self.scale = 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        y = x.mean((2, 3)) * self.scale
        return self.heads["a"](y) + self.heads["b"](y)[:, :2]


class _HoldsLoopingBody(torch.nn.Module):
    def __init__(self, scripted: bool) -> None:
        super().__init__()
        self.body = torch.jit.script(_LoopingBody()) if scripted else _LoopingBody()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


@pytest.mark.parametrize("how", ["child", "whole"])
def test_a_compiled_module_that_loops_over_its_containers_is_read_as_its_python(how: str) -> None:
    """A compiled module whose forward iterates a ``ModuleList`` and indexes a ``ModuleDict``, compiled as a child or
    whole: planned as the same model in Python is, with torch's shapes, exactly and with symbols."""
    python = _HoldsLoopingBody(scripted=False).eval()
    model = (_HoldsLoopingBody(scripted=True) if how == "child" else torch.jit.script(python)).eval()
    for shape in [(2, 3, 16, 16), (1, 3, 9, 13)]:
        plan = convcalc.plan(model, shape)
        with torch.no_grad():
            assert plan.output_shape == tuple(model(torch.zeros(shape)).shape)
        assert not plan.fallback_rows
        assert plan.total_params == sum(p.numel() for p in model.parameters())
        assert plan.macs == convcalc.plan(python, shape).macs
    B, H, W = convcalc.symbols("B H W")
    assert convcalc.plan(model, (B, 3, H, W)).macs == convcalc.plan(python, (B, 3, H, W)).macs


class _ScriptedAskingProjector(_ScriptedProjector):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w if torch.jit.is_scripting() else x


class _HoldsScriptedAskingProjector(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.jit.script(_ScriptedAskingProjector())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.mark.parametrize("model", [_HelperMatmul, _HoldsScriptedAskingProjector])
def test_torchscript_that_multiplies_out_of_sight_is_refused(model: Any) -> None:
    """Called through a Python helper or held as a scripted module, TorchScript hides its matrix products
    from torch's pass too: refused, never a plan with those MACs missing."""
    with pytest.raises(convcalc.SpecError, match=r"calls aten::matmul, whose multiply-accumulates convcalc cannot"):
        convcalc.plan(model(), (2, 4))


def _torch_layers() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding="same", groups=2),
        torch.nn.MaxPool2d(2, ceil_mode=True),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 3 * 3, 4),
    )


class _HoldsScriptedLayers(torch.nn.Module):
    """A Python model that holds torch's layers compiled one by one, and a compiled Sequential of them."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.jit.script(torch.nn.Conv2d(3, 6, 5, padding=2))
        self.body = torch.jit.script(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(6, 4, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x))


class _ScriptedBackbone(torch.nn.Module):
    """A backbone shipped as TorchScript inside a model of Python, whose output a reduction reads (the layout of
    its output is asked of the compiled Sequential's children, which TorchScript gives only by name)."""

    def __init__(self) -> None:
        super().__init__()
        self.back = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval())
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.back(x).mean((2, 3)))


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: torch.jit.script(_torch_layers()), (2, 3, 11, 11)),
        (_HoldsScriptedLayers, (1, 3, 9, 7)),
        (_ScriptedBackbone, (2, 3, 10, 10)),
    ],
    ids=["scripted-sequential", "scripted-children", "scripted-backbone"],
)
def test_torch_layers_compiled_by_torchscript_are_read_as_the_layers(make: Any, shape: tuple[int, ...]) -> None:
    """TorchScript keeps a compiled torch layer's arguments and its type's name (``__torch__.torch.nn.modules.
    conv.Conv2d``): planned as the layer itself, with torch's shapes, counts and MACs, and the drop-in names
    the classes as torchinfo does (by the class compiled)."""
    model = make().eval()
    plan = convcalc.plan(model, shape)
    with torch.no_grad():
        assert plan.output_shape == tuple(model(torch.zeros(shape)).shape)
    assert not plan.fallback_rows
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    macs, modules = 0, dict(model.named_modules())
    for row in plan.rows:
        assert row.source == "rule"
        if row.kind in ("Conv2d", "Linear"):
            module = modules[row.name]
            macs += math.prod(row.output_shape) // shape[0] * module.weight[0].numel()
    assert plan.macs == macs
    summary = convcalc.summary(model, input_size=shape, verbose=0)
    listed = str(summary).splitlines()
    assert not any("RecursiveScriptModule" in line for line in listed)
    torchinfo = pytest.importorskip("torchinfo")
    theirs = torchinfo.summary(model, input_size=shape, verbose=0)
    # the same classes at the same depths; torchinfo's hooks do not see calls inside TorchScript, so it shows no
    # shapes, and lists a model whose children it never saw called after them, counting their parameters again
    # there (docs/howto/torchinfo.md)
    assert sorted(line.split()[0] for line in listed[3:10]) == sorted(
        line.split()[0] for line in str(theirs).splitlines()[3:10]
    )
    assert summary.total_params == plan.total_params


@pytest.mark.parametrize(("make", "shape"), [(_HoldsScriptedLayers, (1, 3, 9, 7)), (_HoldsScriptedProjector, (2, 4))])
def test_a_users_module_compiled_by_torchscript_is_read_with_its_products(make: Any, shape: tuple[int, ...]) -> None:
    """A module of the user's, compiled whole or as a child, is read as its Python: the convolutions and matrix
    products TorchScript runs out of torch's sight are counted by rule."""
    model = torch.jit.script(make()) if make is _HoldsScriptedLayers else make()
    plan = convcalc.plan(model, shape)
    with torch.no_grad():
        assert plan.output_shape == tuple(model(torch.zeros(shape)).shape)
    assert not plan.fallback_rows
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    expected = 3 * 6 * 25 * 9 * 7 + 6 * 4 * 9 * 7 * 5 if make is _HoldsScriptedLayers else 4 * 3
    assert plan.macs == expected


@pytest.mark.parametrize("where", ["root", "child"])
def test_a_module_traced_by_torchscript_is_refused_by_name(where: str) -> None:
    """``torch.jit.trace`` keeps no layer's arguments: refused by name, as a model or a backbone (its forward is a
    descriptor that ``inspect.signature`` cannot read: an AttributeError escaped)."""
    traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()), torch.zeros(1, 3, 10, 10))
    model = traced if where == "root" else _ScriptedBackbone()
    if where == "child":
        model.back = traced
    with pytest.raises(convcalc.SpecError, match=r"calls aten::_convolution, whose multiply-accumulates convcalc"):
        convcalc.plan(model, (2, 3, 10, 10))


# --- numbers asked of sizes: the edges ------------------------------------------------------------------------------
class _Forward(torch.nn.Module):
    def __init__(self, forward: Any) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 1)
        self.body = forward

    def forward(self, x: torch.Tensor) -> Any:
        return self.body(self, x)


def _agree_or_both_refuse(model: torch.nn.Module, shape: tuple[int, ...]) -> None:
    try:
        expected: Any = tuple(model(torch.zeros(shape)).shape)
    except Exception:
        expected = None
    if expected is None:
        with pytest.raises(convcalc.ConvCalcError):
            convcalc.plan(model, shape)
    else:
        assert convcalc.plan(model, shape).output_shape == expected


@pytest.mark.parametrize(
    "body",
    [
        lambda m, x: m.conv(x)[:, :, : len(x.shape)],  # len() of a shape: its rank
        lambda m, x: m.conv(x) * len(x.sum()),  # len() of a 0-d tensor: torch raises TypeError
        lambda m, x: m.conv(x)[:, :, : round(x.shape[2] / 3, 1)],  # round() to digits: a float, a bad slice
        lambda m, x: torch.cat([m.conv(x)] * len(range(x.shape[3] // 2)), 1),  # range() of a size
        lambda m, x: m.conv(x)[:, :, : int(x.shape[2] / 2)],
        lambda m, x: x[list(range(x.shape[2] / 2))],  # operator.index of a float: Python refuses
    ],
    ids=["len-shape", "len-0d", "round-digits", "range", "int-of-division", "index-of-float"],
)
@pytest.mark.parametrize("shape", [(1, 2, 4, 4), (2, 2, 5, 3)])
def test_numbers_of_sizes_agree_with_torch_or_both_refuse(body: Any, shape: tuple[int, ...]) -> None:
    _agree_or_both_refuse(_Forward(body), shape)


def test_a_hook_inside_a_parametrized_layer_sends_the_layer_to_torch() -> None:
    layer = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 3))
    net = torch.nn.Sequential(layer, torch.nn.ReLU())
    layer.parametrizations.weight[0].register_forward_hook(lambda module, args, out: None)
    plan = convcalc.plan(net, (2, 4))
    assert plan.row("0").source == "torch"
    assert plan.output_shape == (2, 3)
    assert (plan.total_params, plan.trainable_params) == _totals(net)


@torch.jit.script
def scripted_bad_cat(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x[:, :1, :1]], 1)


class _ScriptedBadCat(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scripted_bad_cat(x)


def test_a_torchscript_function_torch_cannot_run_is_refused() -> None:
    _agree_or_both_refuse(_ScriptedBadCat(), (1, 2, 3, 3))


class _FallbackOwnTensors(torch.nn.Module):
    """Planned by torch's machinery (its sizes through ``json``), using its own parameter and buffer in forward and
    returning a dict that holds torch's (values, indices) pair."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.scale = torch.nn.Parameter(torch.ones(1, 4, 1, 1))
        self.register_buffer("shift", torch.zeros(1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> Any:
        shape = json.loads(json.dumps(list(x.shape)))
        y = self.conv(x) * self.scale + self.shift
        return {"y": y.view(shape), "max": y.max(1)}


def test_the_fallback_counts_a_modules_own_tensors_and_returns_its_outputs() -> None:
    model = _FallbackOwnTensors()
    plan = convcalc.plan(model, (2, 4, 5, 5))
    out = model(torch.zeros(2, 4, 5, 5))
    assert plan.output_shapes == {"y": tuple(out["y"].shape), "max": (tuple(out["max"][0].shape),) * 2}
    assert (plan.total_params, plan.trainable_params) == _totals(model)
    assert plan.buffers == 4
    assert {plan.row("scale").source, plan.row("shift").source} == {"torch"}
    assert plan.macs == 4 * 4 * 9 * 25


# --- an optional input the forward asks about -----------------------------------------------------------------
class _MaskBranch(torch.nn.Module):
    """``if mask is not None:`` changes a shape while the mask goes nowhere else: fx holds a proxy for the mask
    and takes the branch of a given one, whatever the plan gives."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if mask is not None:
            x = x[:, :-1]
        return self.proj(x)


class _MaskFlag(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        cut = mask is None
        return self.proj(x[:, 1:] if cut else x)


class _MaskInHelper(torch.nn.Module):
    """The test of None inside a method the forward calls, under another name."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def _trim(self, x: torch.Tensor, m: Any) -> torch.Tensor:
        return x[:, :-1] if m is not None else x

    def forward(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.proj(_keep(self._trim(x, mask)))


def _keep(x: torch.Tensor, scale: Any = None) -> torch.Tensor:
    return x if scale is None else x * scale


class _MaskedChild(torch.nn.Module):
    """A child whose optional input the parent gives in one call and leaves out in the other."""

    def __init__(self) -> None:
        super().__init__()
        self.block = _MaskBranch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.block(x, x[:, 0]), self.block(x)], 1)


@pytest.mark.parametrize("model_type", [_MaskBranch, _MaskFlag, _MaskInHelper])
def test_an_optional_input_tested_against_none_is_never_read_as_given(model_type: Any) -> None:
    model = model_type()
    for _ in range(2):  # the second plans start from what the first read last
        left_out = convcalc.plan(model, (2, 5, 4))
        assert left_out.output_shape == tuple(model(torch.zeros(2, 5, 4)).shape)
        given = convcalc.plan(model, [(2, 5, 4), (2, 4)])
        assert given.output_shape == tuple(model(torch.zeros(2, 5, 4), torch.zeros(2, 4)).shape)
        keyword = convcalc.plan(model, {"x": (2, 5, 4), "mask": (2, 4)})
        assert keyword.output_shape == given.output_shape
        assert "torch" not in _sources(left_out) | _sources(given)  # read exactly, with and without the mask
    L = convcalc.symbols("L")
    assert convcalc.plan(model, (2, L, 4)).output_shape == (2, L - int(model_type is _MaskFlag), 3)
    assert convcalc.plan(model, [(2, L, 4), (2, 4)]).output_shape == (2, L - int(model_type is not _MaskFlag), 3)


def test_an_optional_input_given_in_one_call_and_left_out_in_another() -> None:
    model = _MaskedChild()
    plan = convcalc.plan(model, (2, 5, 4))
    assert plan.output_shape == tuple(model(torch.zeros(2, 5, 4)).shape) == (2, 9, 3)
    assert "torch" not in _sources(plan)
    assert plan.total_params == sum(p.numel() for p in model.parameters())


def test_a_compiled_model_is_read_as_the_module_it_wraps() -> None:
    """``torch.compile(model)`` computes the shapes its module does; its wrapper cannot be traced, and
    compiling it for a meta pass fails, so convcalc reads the module inside."""
    from tests.corpus_models import LeNet

    model = LeNet()
    compiled = torch.compile(model)
    plan = convcalc.plan(compiled, (2, 1, 28, 28))
    assert plan.to_dict() == convcalc.plan(model, (2, 1, 28, 28)).to_dict()
    assert "torch" not in _sources(plan)
    assert str(convcalc.summary(compiled, input_size=(2, 1, 28, 28), verbose=0)) == str(
        convcalc.summary(model, input_size=(2, 1, 28, 28), verbose=0)
    )
    assert repr(convcalc.from_torch(compiled)) == repr(convcalc.from_torch(model))
    assert convcalc.verify(compiled, (2, 1, 28, 28), device="cpu").ok


def test_what_one_plan_read_does_not_send_another_to_torchs_machinery() -> None:
    """A plan starts from the optional inputs the last read of the same forward left out: after a causal
    encoder (its mask given), an encoder given only a padding mask is still read exactly, as it is in a fresh
    process."""
    from tests.corpus_models import CausalEncoder

    class Padded(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
            self.layer = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

        def forward(self, x: Any, mask: Any) -> Any:
            return self.layer(x, src_key_padding_mask=mask)

    assert not convcalc.plan(CausalEncoder().eval(), (2, 7, 8)).fallback_rows
    plan = convcalc.plan(Padded().eval(), [(2, 6, 16), (2, 6)])
    assert not plan.fallback_rows
    assert plan.output_shape == (2, 6, 16)


@pytest.mark.parametrize("run", ["trace", "meta"])
def test_the_causal_mask_check_is_torchs_own_again_after_a_plan(run: str) -> None:
    """While a transformer is traced, or run by torch's meta pass, the mask's causality is taken from is_causal
    (a traced or meta tensor has no values to compare); torch's function is back in place after the plan, and
    the model runs as before."""
    from torch.nn.modules import transformer

    from tests.corpus_models import Seq2Seq

    class Wrapped(torch.nn.Module):  # a forward replaced on the instance: torch's meta pass runs it
        def __init__(self) -> None:
            super().__init__()
            self.inner = Seq2Seq().eval()
            self.forward = self.inner.forward  # type: ignore[method-assign]

    original = transformer._detect_is_causal_mask
    model = Seq2Seq().eval() if run == "trace" else Wrapped().eval()
    plan = convcalc.plan(model, [(2, 5, 16), (2, 9, 16)])
    assert transformer._detect_is_causal_mask is original
    assert bool(plan.fallback_rows) == (run == "meta")
    assert plan.output_shape == (2, 5, 11)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    assert transformer._detect_is_causal_mask(mask, None, 5) is True


@pytest.mark.parametrize("name", ["CausalEncoder", "Seq2Seq"])
def test_a_transformer_given_a_mask_is_read_at_symbolic_lengths(name: str) -> None:
    """torch's encoder and decoder layers ask ``F._none_or_dtype(src_mask)``, which refused a traced mask: a model
    passing a causal mask was planned by torch's meta pass, with numbers only. Read now, every length of the
    symbolic plan is the plan with numbers, and torch's output."""
    import sympy

    from tests import corpus_models

    model = getattr(corpus_models, name)().eval()
    S, T = convcalc.symbols("S T")
    shapes = (lambda s, t: (2, s, 8)) if name == "CausalEncoder" else (lambda s, t: [(2, s, 16), (2, t, 16)])
    symbolic = convcalc.plan(model, shapes(S, T))
    for s, t in ((1, 1), (3, 7), (9, 2)):
        numeric = convcalc.plan(model, shapes(s, t))
        assert not numeric.fallback_rows
        assert not symbolic.fallback_rows
        inputs = shapes(s, t)
        out = model(*(torch.zeros(x) for x in (inputs if isinstance(inputs, list) else [inputs])))
        at = {S: s, T: t}
        assert tuple(int(sympy.sympify(d).subs(at)) for d in symbolic.output_shape) == numeric.output_shape == out.shape
        assert sympy.sympify(symbolic.macs).subs(at) == numeric.macs
        assert symbolic.total_params == numeric.total_params == sum(p.numel() for p in model.parameters())


def test_textcnn_pools_each_width_whole_and_states_each_condition_once() -> None:
    """TextCNN calls each convolution twice on one input (``F.max_pool1d(F.relu(conv(x)), F.relu(conv(x)).size(2))``):
    the symbolic plan pools every length to one and states each kernel's condition once; torch agrees at every
    length it accepts and refuses the ones the constraints leave out."""
    from tests.corpus_models import TextCNN

    torch.manual_seed(0)
    model = TextCNN()
    L = convcalc.symbols("L")
    plan = convcalc.plan(model, (2, L))
    assert plan.output_shape == (2, 2)
    assert [str(c) for c in plan.constraints] == [
        f"convs.{j} (axis 0): L - {w} >= 0 (kernel {w} fits the padded input)" for j, w in enumerate((3, 4, 5))
    ]
    for length in range(1, 9):
        allowed = all(c.holds(length) for c in plan.constraints)
        try:
            torch_shape = tuple(model(torch.zeros(2, length)).shape)
        except RuntimeError:
            torch_shape = None
        assert (torch_shape is not None) == allowed, length
        if allowed:
            assert convcalc.plan(model, (2, length)).output_shape == torch_shape == (2, 2)


class _PadToWindows(torch.nn.Module):
    """timm's Swin (channels last) pads a map to a multiple of the window, splits it into windows and merges them
    back with ``reshape(-1, Hp, W, C)``: the -1 is the batch at every size."""

    def __init__(self, window: int = 4, stride: int = 4) -> None:
        super().__init__()
        self.window = window
        self.embed = torch.nn.Conv2d(3, 8, stride, stride=stride)

    def forward(self, x: Any) -> Any:
        x = self.embed(x).permute(0, 2, 3, 1)
        b, h, w, c = x.shape
        x = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, (self.window - h % self.window) % self.window))
        hp = x.shape[1]
        windows = x.view(b, hp // self.window, self.window, w, c).reshape(-1, self.window, w, c)
        x = windows.view(-1, hp // self.window, self.window, w, c).reshape(-1, hp, w, c)
        return x[:, :h]


@pytest.mark.parametrize("stride", [1, 4])
@pytest.mark.parametrize("scale", [1, 4])
def test_a_size_padded_to_a_multiple_is_whole_at_every_size(stride: int, scale: int) -> None:
    """``4*floor((H + Mod(-H, 4))/4)/(H + Mod(-H, 4))``, the -1 of a view after padding to a multiple of 4, is 1
    at every H, which sympy does not cancel: the plan was refused as "a whole number for some input sizes only".
    Each residue of the size is tried now."""
    model = _PadToWindows(stride=stride)
    h = convcalc.symbols("H")
    plan = convcalc.plan(model, (2, 3, scale * h, 8))
    for value in range(max(1, 4 // scale), 23):
        with torch.no_grad():
            expected = tuple(model(torch.zeros(2, 3, scale * value, 8)).shape)
        assert _at(plan.output_shape, h, value) == expected


class _HalveWhileWide(torch.nn.Module):
    """A loop on a size (``while x.shape[-1] > 4``) and a condition after it, with a flag read first."""

    def __init__(self) -> None:
        super().__init__()
        self.down = torch.nn.Conv2d(4, 4, 3, 2, 1)

    def forward(self, x: Any, scale: bool = True) -> Any:
        while x.shape[-1] > 4:
            x = self.down(x)
        if x.ndim == 4 and scale:
            x = x * 2
        return x


@pytest.mark.parametrize("width", [4, 5, 32, 33])
def test_a_loop_on_a_size_then_a_condition_is_read_at_symbols(width: int) -> None:
    """A loop read as going on stops, on the next read, at its first condition beyond those given (it was the last
    one that was flipped: the loop ran 63 times, and the condition after it took the read past its 64 conditions,
    so a symbolic plan was refused)."""
    model = _HalveWhileWide()
    n, h = convcalc.symbols("N H")
    for shape in ((n, 4, 32, width), (2, 4, h, width)):
        plan = convcalc.plan(model, shape)
        symbol = n if shape[0] is n else h
        for value in (1, 3, 16, 17):
            concrete = tuple(value if d is symbol else d for d in shape)
            with torch.no_grad():
                expected = tuple(model(torch.zeros(concrete)).shape)
            assert _at(plan.output_shape, symbol, value) == expected
            if symbol is n:  # (MACs per sample: the same at every batch)
                assert convcalc.plan(model, concrete).macs == plan.macs


def _cropped_view(x: Any) -> Any:
    h = x.shape[2]
    x = torch.nn.functional.pad(x, (0, 0, 0, (4 - h % 4) % 4))
    return x[:, :, : x.shape[2] - 4].reshape(2, 4, -1, 4 * ((h - 1) // 4), 5)


def _floored_view(x: Any) -> Any:
    h = x.shape[2]
    return x[:, :, : h - h % 4].reshape(2, 4, -1, 4 * (h // 4))


class _Viewed(torch.nn.Module):
    def __init__(self, view: Any) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.view = view

    def forward(self, x: Any) -> Any:
        return self.view(self.conv(x))


@pytest.mark.parametrize("view", [_cropped_view, _floored_view])
def test_a_view_whose_minus_one_stands_beside_a_size_of_0_leaves_those_sizes_out(view: Any) -> None:
    """torch refuses a -1 beside a size of 0 ("the unspecified dimension size -1 can be any value"); the symbolic
    plan gave a shape there and valid_sizes kept the sizes (0/0 cancelled)."""
    model = _Viewed(view)
    h = convcalc.symbols("H")
    plan = convcalc.plan(model, (2, 3, h, 5))
    valid = plan.valid_sizes(h)
    for value in range(1, 21):
        ran = torch_outcome(model, (2, 3, value, 5))
        assert (value in valid) == (ran is not None), value
        if ran is not None:
            assert _at(plan.output_shape, h, value) == ran


class _TwoInDictOut(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.seg, self.cls = torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.Conv2d(8, 5, 1), torch.nn.Linear(8, 7)

    def forward(self, x: Any, extra: Any) -> Any:
        f = self.conv(x) + extra
        return {"seg": self.seg(f), "logits": self.cls(f.mean((2, 3)))}


def test_the_tables_footer_lists_every_input_and_output() -> None:
    """The footer showed the first input and output only (``Input: [2, 3, 16, 16]  Output: [2, 5, 8, 8]``), so
    a two-input model returning a dict read as one of each; each is listed now, as ``input_shapes`` and
    ``output_shapes`` nest them, and a plan of one of each keeps its footer."""
    plan = convcalc.plan(_TwoInDictOut(), [(2, 3, 16, 16), (2, 8, 8, 8)])
    footer = plan.summary().splitlines()[-3]
    assert footer == "Inputs: [2, 3, 16, 16], [2, 8, 8, 8]  Outputs: seg [2, 5, 8, 8], logits [2, 7]"
    lstm = convcalc.plan(torch.nn.LSTM(8, 16, batch_first=True), (4, 10, 8))
    assert lstm.summary().splitlines()[-3] == "Input: [4, 10, 8]  Outputs: [4, 10, 16], ([1, 4, 16], [1, 4, 16])"
    single = convcalc.plan(torch.nn.Conv2d(3, 4, 3), (1, 3, 8, 8))
    assert single.summary().splitlines()[-3] == "Input: [1, 3, 8, 8]  Output: [1, 4, 6, 6]"


class _KeywordCall(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Linear(3, 2)

    def forward(self, x: Any) -> Any:
        return self.fc(torch.relu(self.conv(input=x)).mean((2, 3)))


def test_a_layer_called_by_keyword_is_planned_by_its_rule_in_torchs_pass() -> None:
    """``self.conv(input=x)`` in a model that torch's pass plans (a forward hook on it) was refused as a layer
    whose multiply-accumulates convcalc has no rule for; it is the Conv2d rule's, as when the forward is read."""
    read = convcalc.plan(_KeywordCall(), (2, 3, 8, 8))
    hooked = _KeywordCall()
    hooked.register_forward_hook(lambda module, args, out: None)
    run = convcalc.plan(hooked, (2, 3, 8, 8))
    assert run.fallback_rows
    assert not read.fallback_rows
    assert (run.output_shape, run.macs, run.total_params) == (read.output_shape, read.macs, read.total_params)
    assert run.macs == 8 * 8 * 3 * 27 + 3 * 2
