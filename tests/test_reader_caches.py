"""The torch reader's caches (traced forwards, failed traces included, and meta copies) never change a plan.

Each plan read through the caches is compared with a fresh, uncached read of the same module (both caches
emptied first) and with torch itself: the output shape(s) of a real forward pass (on a copy, so the model is
never run) and ``model.parameters()`` counted by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import convcalc  # noqa: E402
from convcalc.torch import meta, read, trace  # noqa: E402
from tests.corpus_models import CORPUS, OpaqueShapeConv  # noqa: E402
from tests.torch_shapes import output_shapes  # noqa: E402


@contextmanager
def _no_caches() -> Iterator[None]:
    """Empty the caches for the block, and put back what they held."""
    tables = (trace._TRACED, trace._SPECS, meta._META_COPIES, read._LAST_DECISIONS, read._LAST_ABSENT)
    held = [(table, dict(table)) for table in tables]
    for table, _ in held:
        table.clear()
    try:
        yield
    finally:
        for table, kept in held:
            table.clear()
            table.update(kept)


def _summary(plan: Any) -> Any:
    """Everything a plan says: rows, totals, uncalled tensors, outputs."""
    return plan.to_dict(), plan.uncalled, plan.output_shapes


def _outcome(model: Any, inputs: Any) -> Any:
    """What planning gives: the plan's summary, or the error it raises."""
    try:
        plan = convcalc.plan(model, inputs)
    except convcalc.ConvCalcError as exc:
        return (type(exc).__name__, str(exc))
    return _summary(plan)


def _fresh(model: Any, inputs: Any) -> Any:
    with _no_caches():
        return _outcome(model, inputs)


def _torch_shapes(model: Any, inputs: Any) -> Any:
    if isinstance(inputs, dict):
        args, kwargs = [], {k: torch.zeros(v) for k, v in inputs.items()}
    elif isinstance(inputs, list):
        args, kwargs = [torch.zeros(s) for s in inputs], {}
    else:
        args, kwargs = [torch.zeros(inputs)], {}
    with torch.no_grad():
        out = copy.deepcopy(model)(*args, **kwargs)
    return (output_shapes(out),) if isinstance(out, torch.Tensor) else output_shapes(out)


def _first_parameter(model: Any) -> Any:
    return next(iter(model.parameters()), None)


def _agrees_with_torch(plan: Any, model: Any, shapes: Any) -> None:
    """``shapes``: torch's output shapes (from :func:`_torch_shapes`)."""
    assert plan.output_shapes == shapes
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.buffers == sum(b.numel() for b in model.buffers())
    assert plan.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)


def _replace_a_leaf(model: Any) -> bool:
    """Put a new layer of the same kind and arguments in place of the first Conv2d or Linear (new tensors)."""
    for name, child in model.named_modules():
        if isinstance(child, (torch.nn.Conv2d, torch.nn.Linear)) and name:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            new = copy.deepcopy(child)
            for p in new.parameters():
                p.data = p.data.clone()
            setattr(parent, attr, new)
            return True
    return False


@pytest.mark.parametrize(("name", "factory", "inputs"), CORPUS, ids=[c[0] for c in CORPUS])
def test_cached_plans_equal_a_fresh_read(name: str, factory: Any, inputs: Any) -> None:
    torch.manual_seed(0)
    model = factory()
    fresh = _fresh(model, inputs)
    assert _outcome(model, inputs) == fresh  # fills the caches
    plan = convcalc.plan(model, inputs)  # read from them
    assert _summary(plan) == fresh
    shapes = _torch_shapes(model, inputs)  # freezing, and a new layer like the old one, keep the shapes
    _agrees_with_torch(plan, model, shapes)

    frozen = _first_parameter(model)
    if frozen is not None:
        frozen.requires_grad_(False)  # freeze a parameter
    plan = convcalc.plan(model, inputs)
    assert _summary(plan) == _fresh(model, inputs)
    _agrees_with_torch(plan, model, shapes)  # the fallback's layers too: requires_grad decides

    model.train(not model.training)  # switch train / eval (YOLOv5's head returns less in training)
    assert _outcome(model, inputs) == _fresh(model, inputs)
    shapes = _torch_shapes(model, inputs)

    if _replace_a_leaf(model):  # replace a submodule
        plan = convcalc.plan(model, inputs)
        assert _summary(plan) == _fresh(model, inputs)
        _agrees_with_torch(plan, model, shapes)


def test_failed_trace_error_is_the_same_from_the_cache() -> None:
    model = OpaqueShapeConv(4)
    H = convcalc.symbols("H")
    fresh = _fresh(model, (1, 4, H, H))
    assert fresh[0] == "SpecError"
    assert "torch.fx cannot trace its forward" in fresh[1]
    assert _outcome(model, (1, 4, 8, 8)) != fresh  # numbers: planned, and the failed trace cached
    assert _outcome(model, (1, 4, H, H)) == fresh


class _Sets(torch.nn.Module):
    """A forward that sets its own attribute: torch runs conv_a the first time, conv_b after."""

    def __init__(self) -> None:
        super().__init__()
        self.first = True
        self.conv_a = torch.nn.Conv2d(3, 4, 3)
        self.conv_b = torch.nn.Conv2d(3, 6, 1)

    def forward(self, x: Any) -> Any:
        assert x.shape[1] == 3
        if self.first:
            self.first = False
            return self.conv_a(x)
        return self.conv_b(x)


class _Grows(torch.nn.Module):
    """A forward that adds a child to itself the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        assert x.shape[1] == 3
        if not hasattr(self, "extra"):
            self.extra = torch.nn.Conv2d(4, 2, 1)
            return self.conv(x)
        return self.extra(self.conv(x))


@pytest.mark.parametrize("cls", [_Sets, _Grows])
def test_a_forward_that_changes_itself_never_sees_a_stale_copy(cls: type) -> None:
    model = cls()
    expected = _torch_shapes(model, (1, 3, 8, 8))  # a fresh module's first forward, as every plan runs it
    fresh = _fresh(model, (1, 3, 8, 8))
    for _ in range(3):
        outcome = _outcome(model, (1, 3, 8, 8))
        assert outcome == fresh
        assert outcome[2] == expected
    # the forward ran on a clone when traced: the user's module is as it was
    assert getattr(model, "first", True) is True
    assert not hasattr(model, "extra")


class _IntConvs(torch.nn.Module):
    """int() of a size: planned by the fallback, which runs the module's hooks on its meta copy."""

    def __init__(self) -> None:
        super().__init__()
        self.first = torch.nn.Conv2d(3, 4, 3)
        self.second = torch.nn.Conv2d(4, 2, 1)

    def forward(self, x: Any) -> Any:
        y = self.second(self.first(x))
        return y.view(int(y.size(0)), -1)


def test_a_hook_added_after_a_plan_is_run() -> None:
    model = _IntConvs()
    before = _outcome(model, (1, 3, 32, 32))
    handle = model.first.register_forward_hook(lambda module, args, out: out[:, :, 1:, 1:])
    after = _outcome(model, (1, 3, 32, 32))
    assert after != before
    assert after == _fresh(model, (1, 3, 32, 32))
    assert after[2] == _torch_shapes(model, (1, 3, 32, 32))
    handle.remove()
    assert _outcome(model, (1, 3, 32, 32)) == before


def test_tying_a_parameter_after_a_plan_is_read_as_fresh() -> None:
    class Twin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv2d(3, 3, 3, padding=1)
            self.b = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x: Any) -> Any:
            assert x.shape[1] == 3
            return self.b(self.a(x))

    model = Twin()
    _agrees_with_torch(convcalc.plan(model, (1, 3, 8, 8)), model, _torch_shapes(model, (1, 3, 8, 8)))
    model.b.weight = model.a.weight
    assert _outcome(model, (1, 3, 8, 8)) == _fresh(model, (1, 3, 8, 8))
    # a weight tied inside a module the fallback plans counts once, as in model.parameters()
    _agrees_with_torch(convcalc.plan(model, (1, 3, 8, 8)), model, _torch_shapes(model, (1, 3, 8, 8)))


def test_the_meta_copy_is_kept_while_nothing_changes() -> None:
    """The cache is used at all: a second plan of an unchanged module gets the same copy."""
    model = OpaqueShapeConv(4)
    convcalc.plan(model, (1, 4, 8, 8))
    held = meta._META_COPIES[id(model)][3]
    convcalc.plan(model, (1, 4, 8, 8))
    assert meta._META_COPIES[id(model)][3] is held
    model.eval()
    convcalc.plan(model, (1, 4, 8, 8))
    assert meta._META_COPIES[id(model)][3] is not held


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_a_model_cast_after_a_plan_is_run_by_torch_in_its_new_dtype(dtype: Any) -> None:
    """``model.to(torch.bfloat16)`` keeps the Parameter objects and changes their dtype: the meta copy of the
    float32 model was handed out again, and torch's pass refused the model's own input ("Input type
    (c10::BFloat16) and bias type (float)")."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    net[2].register_forward_hook(lambda module, args, out: out * 2)
    assert convcalc.plan(net, (1, 3, 10, 10)).output_shape == (1, 4, 6, 6)
    net.to(dtype)
    plan = convcalc.plan(net, (1, 3, 10, 10))
    assert plan.output_shape == tuple(net(torch.zeros(1, 3, 10, 10, dtype=dtype)).shape)
    assert plan.param_bytes == sum(p.numel() * p.element_size() for p in net.parameters())


def test_a_failed_trace_is_not_traced_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = OpaqueShapeConv(4)
    first = _outcome(model, (1, 4, 8, 8))
    traced: list[Any] = []
    monkeypatch.setattr(read, "_trace", lambda module, *rest: traced.append(module))
    assert _outcome(model, (1, 4, 8, 8)) == first
    assert traced == []


class _NeedsItsData(torch.nn.Module):
    """A forward no read follows, with optional inputs: each read with fewer of them left out fails too."""

    def forward(self, x: Any, mask: Any = None, bias: Any = None) -> Any:
        return torch.from_numpy(x.numpy()) if mask is None else x


def test_a_forward_failing_every_read_of_its_optional_inputs_is_not_traced_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reads with the optional inputs given one by one are remembered as the first read is: a model torch's
    pass runs was traced three more times at each plan."""
    model = _NeedsItsData()
    first = _outcome(model, (2, 3))
    traced: list[Any] = []
    monkeypatch.setattr(read, "_trace", lambda module, *rest: traced.append(module))
    assert _outcome(model, (2, 3)) == first
    assert traced == []


def test_a_forward_read_again_for_other_sizes_plans_as_fresh() -> None:
    """A plan starts from the decisions the forward's last read took (int() of a size, a branch on sizes):
    whatever sizes came before, each plan is the fresh one."""
    from tests.corpus_models import DynamicSameNet, IntViewNet, ShuffleV2Block

    for model, shapes in (
        (ShuffleV2Block(8), [(2, 8, 6, 6), (1, 8, 5, 7), (2, 8, 6, 6), (3, 8, 6, 6)]),
        (IntViewNet(), [(3, 1, 28, 28), (1, 1, 28, 28), (3, 1, 28, 28)]),
        (DynamicSameNet(), [(1, 3, 9, 9), (1, 3, 8, 8), (1, 3, 9, 9), (1, 3, 7, 10)]),
    ):
        for shape in shapes:
            assert _outcome(model, shape) == _fresh(model, shape), (type(model).__name__, shape)


def test_a_layer_changed_after_a_plan_is_read_with_its_new_arguments() -> None:
    """The specs made for torch layers are kept by their arguments: a layer changed in place is a new spec, and
    arguments equal as numbers but not as types (True and 1) are not taken for each other."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3, padding=1))
    first = convcalc.plan(model, (1, 3, 16, 16))
    assert first.output_shape == (1, 2, 14, 14)
    model[0].stride = (2, 2)
    model[2].padding = (0, 0)
    changed = convcalc.plan(model, (1, 3, 16, 16))
    assert _summary(changed) == _fresh(model, (1, 3, 16, 16))
    assert changed.output_shapes == _torch_shapes(model, (1, 3, 16, 16)) == ((1, 2, 5, 5),)
    model[2].padding = (1, 1)
    convcalc.plan(model, (1, 3, 16, 16))
    model[2].padding = (True, True)  # refused (by torch too), cached or not
    assert _outcome(model, (1, 3, 16, 16)) == _fresh(model, (1, 3, 16, 16))


class _Activated(torch.nn.Module):
    """A function held as an attribute (``self.activation = F.relu``), as TransformerEncoderLayer holds one."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.activation: Any = torch.nn.functional.relu

    def forward(self, x: Any) -> Any:
        return self.activation(self.conv(x))


def test_a_function_attribute_is_part_of_what_a_read_depends_on() -> None:
    model = _Activated()
    first = convcalc.plan(model, (1, 3, 8, 8))
    assert _summary(first) == _fresh(model, (1, 3, 8, 8))
    model.activation = lambda y: y[:, :2]  # another function: another read
    changed = convcalc.plan(model, (1, 3, 8, 8))
    assert _summary(changed) == _fresh(model, (1, 3, 8, 8))
    assert changed.output_shapes == _torch_shapes(model, (1, 3, 8, 8)) == ((1, 2, 6, 6),)
