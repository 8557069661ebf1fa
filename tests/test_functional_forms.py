"""The functional forms of the layers beside convolutions (``F.embedding``, ``F.fold``, ``F.unfold``,
``F.max_unpool1d/2d/3d``, ``F.interpolate``) read from a forward, against torch running the same forward.

The strategies are the layer families' own (``tests/strategies.py``); the module wraps the call the way a model
writes it, so the reader's handler, not the layer spec alone, is what is checked.
"""

from __future__ import annotations

from typing import Any

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import convcalc
from tests import strategies as cs
from tests.test_torch_forms import Forward

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


# --- F.interpolate with sizes taken from the input, and the arguments torch refuses at every size ---------------


def _fpn(self: Any, x: Any) -> Any:
    c1 = self.c1(x)
    c2 = self.c2(c1)
    return self.l1(c1) + F.interpolate(c2, size=c1.shape[-2:], mode="nearest")


_FPN_LAYERS = {
    "c1": torch.nn.Conv2d(3, 8, 3, 2, 1),
    "c2": torch.nn.Conv2d(8, 8, 3, 2, 1),
    "l1": torch.nn.Conv2d(8, 8, 1),
}
_SIZED = [
    pytest.param(_fpn, "nearest", id="fpn size=c1.shape[-2:]"),
    pytest.param(lambda s, x: F.interpolate(x, size=[2 * x.shape[2], x.shape[3] + 1]), "nearest", id="[2h, w+1]"),
    pytest.param(lambda s, x: F.interpolate(x, size=list(x.shape[2:]), mode="bilinear"), "bilinear", id="list"),
    pytest.param(lambda s, x: F.interpolate(x, size=x.shape[2] * 2), "nearest", id="one size"),
    pytest.param(lambda s, x: F.interpolate(x, size=(2 * x.shape[2], 6), mode="bicubic"), "bicubic", id="(2h, 6)"),
    pytest.param(lambda s, x: torch.nn.Upsample(size=(x.shape[2] // 2, x.shape[3]))(x), "nearest", id="Upsample"),
]


@pytest.mark.parametrize(("function", "mode"), _SIZED)
@pytest.mark.parametrize("convention", [c.value for c in convcalc.MacConvention])
def test_an_interpolation_to_the_input_s_sizes_counts_what_a_number_counts(
    function: Any, mode: str, convention: str
) -> None:
    """``F.interpolate(c2, size=c1.shape[-2:])`` planned with symbols took a row of its own with no rule's MACs:
    fvcore and ptflops counted 0 where a number counts the upsample's outputs. The symbolic plan, at each size,
    is the plan of that size: its rows' kinds, shapes and MACs under every convention, and torch's shapes."""
    module = Forward(function, **(_FPN_LAYERS if function is _fpn else {})).eval()
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(module, (1, 3, H, W), macs=convention)
    for h, w in ((4, 4), (8, 6), (17, 17), (9, 20)):
        at = {H: h, W: w}
        concrete = convcalc.plan(module, (1, 3, h, w), macs=convention)
        with torch.no_grad():
            assert concrete.output_shape == tuple(module(torch.zeros(1, 3, h, w)).shape)
        assert [r.kind for r in symbolic.rows] == [r.kind for r in concrete.rows]
        assert "interpolate" in [r.kind for r in concrete.rows] or "Upsample" in [r.kind for r in concrete.rows]
        for s, c in zip(symbolic.rows, concrete.rows, strict=True):
            assert tuple(int(sympy.sympify(d).subs(at)) for d in s.output_shape) == c.output_shape
            assert int(sympy.sympify(s.macs).subs(at)) == c.macs, (s.name, convention)
        assert int(sympy.sympify(symbolic.macs).subs(at)) == concrete.macs
    if convention == "fvcore" and mode == "nearest":  # (fvcore counts a 4-D nearest upsample's outputs)
        assert [r.macs for r in concrete.rows if r.kind in ("interpolate", "Upsample")] != [0]


def test_an_fpn_interpolated_to_a_lateral_s_sizes_counts_as_fvcore_and_ptflops_do() -> None:
    fvcore = pytest.importorskip("fvcore.nn")
    ptflops = pytest.importorskip("ptflops")
    module = Forward(_fpn, **_FPN_LAYERS).eval()
    H = convcalc.symbols("H")
    fvcore_plan = convcalc.plan(module, (1, 3, H, H), macs="fvcore")
    ptflops_plan = convcalc.plan(module, (1, 3, H, H), macs="ptflops")
    for h in (9, 17):
        counted = fvcore.FlopCountAnalysis(module, torch.zeros(1, 3, h, h))
        counted.unsupported_ops_warnings(False)
        counted.uncalled_modules_warnings(False)
        assert int(fvcore_plan.macs.subs(H, h)) == counted.total()
        theirs, _ = ptflops.get_model_complexity_info(
            module, (3, h, h), as_strings=False, print_per_layer_stat=False, verbose=False, backend="pytorch"
        )
        assert int(ptflops_plan.macs.subs(H, h)) == theirs


class _Skip(torch.nn.Module):
    """A decoder's step: ``x`` interpolated to ``skip``'s sizes (or by a factor), with the arguments given."""

    def __init__(self, by_size: bool, **args: Any) -> None:
        super().__init__()
        self.by_size, self.args = by_size, args

    def forward(self, x: Any, skip: Any) -> Any:
        if self.by_size:
            up = F.interpolate(x, size=skip.shape[2:], **self.args)
        else:
            up = F.interpolate(x, scale_factor=2, **self.args)
        return torch.cat([skip, up], 1)


_REFUSED = [
    pytest.param({"mode": "nearest", "align_corners": True}, "align_corners=True", id="nearest align_corners"),
    pytest.param({"mode": "nearest", "align_corners": False}, "align_corners=False", id="nearest align False"),
    pytest.param({"mode": "area", "align_corners": False}, "align_corners=False", id="area align_corners"),
    pytest.param({"mode": "nearest-exact", "align_corners": True}, "align_corners=True", id="exact align"),
    pytest.param({"mode": "nearest", "antialias": True}, "antialias=True", id="nearest antialias"),
    pytest.param({"mode": "bilnear"}, "(did you mean 'bilinear'?). Received:", id="misspelt mode"),
    pytest.param({"mode": "bilinear", "align_corners": 1}, "align_corners must be True or False", id="align 1"),
]


@pytest.mark.parametrize(("args", "named"), _REFUSED)
@pytest.mark.parametrize("by_size", [True, False])
def test_interpolation_arguments_torch_refuses_at_every_size_are_refused(
    args: dict[str, Any], named: str, by_size: bool
) -> None:
    """``align_corners`` with a mode that does not interpolate, ``antialias`` with one torch does not antialias
    and a mode torch does not know were planned (a misspelt one only with symbolic sizes), valid at every size."""
    module = _Skip(by_size, **args)
    x, skip = (1, 4, 4, 4), (1, 4, 8, 8)
    assert _outcome_torch(module, [torch.zeros(x), torch.zeros(skip)]) is None
    for shapes in ([x, skip], [(1, 4, "h", "w"), (1, 4, "H", "W")]):
        with pytest.raises(convcalc.SpecError, match=r"^interpolate \(interpolate\): ") as info:
            convcalc.plan(module, shapes)
        assert named in str(info.value)


@pytest.mark.parametrize(
    "args",
    [
        {"mode": "bilinear", "antialias": True},
        {"mode": "bicubic", "antialias": True, "align_corners": True},
        {"mode": "bilinear", "align_corners": False},
        {"mode": "nearest", "antialias": False, "align_corners": None},
    ],
)
@pytest.mark.parametrize("by_size", [True, False])
def test_interpolation_arguments_torch_takes_are_planned(args: dict[str, Any], by_size: bool) -> None:
    module = _Skip(by_size, **args)
    x, skip = (1, 4, 4, 4), (1, 4, 8, 8)
    expected = _outcome_torch(module, [torch.zeros(x), torch.zeros(skip)])
    assert expected == (1, 8, 8, 8)
    assert convcalc.plan(module, [x, skip]).output_shape == expected
    h, H = convcalc.symbols("h H")
    big = H if by_size else 2 * h  # (a factor of 2 gives the skip's sizes where the skip is twice the input)
    symbolic = convcalc.plan(module, [(1, 4, h, h), (1, 4, big, big)])
    assert symbolic.output_shape == (1, 8, big, big)


def test_antialias_on_an_input_of_another_rank_and_a_recomputed_scale_with_a_size_are_refused() -> None:
    """torch antialiases 4-D inputs only, and refuses ``recompute_scale_factor=True`` beside an explicit size."""
    for function, shape, named in (
        (lambda x: F.interpolate(x, size=x.shape[-1] * 2, mode="linear", antialias=True), (1, 2, 5), "3-D"),
        (lambda x: F.interpolate(x, size=(4, 4), recompute_scale_factor=True), (1, 2, 5, 5), "recompute_scale"),
    ):
        module = _Call(function)
        assert _outcome_torch(module, [torch.zeros(shape)]) is None
        for planned in (shape, (*shape[:2], *("H", "W")[: len(shape) - 2])):
            with pytest.raises(convcalc.SpecError, match=r"^interpolate \(interpolate\): ") as info:
                convcalc.plan(module, planned)
            assert named in str(info.value)


def test_an_upsample_module_torch_builds_but_refuses_to_run_is_refused() -> None:
    """torch builds ``nn.Upsample(mode='nearest', align_corners=True)`` (or a misspelt mode) and refuses it in
    forward; its plan is refused naming the layer, as is convcalc's own spec when it is made."""
    for module in (
        torch.nn.Upsample(scale_factor=2, mode="nearest", align_corners=True),
        torch.nn.Upsample(scale_factor=2, mode="bilnear"),
        torch.nn.Upsample(size=4, recompute_scale_factor=True),
    ):
        model = torch.nn.Sequential(torch.nn.Identity(), module)
        assert _outcome_torch(model, [torch.zeros(1, 2, 5, 5)]) is None
        for shape in ((1, 2, 5, 5), (1, 2, "H", "W")):
            with pytest.raises(convcalc.SpecError, match=r"^1 \(Upsample\): "):
                convcalc.plan(model, shape)
    with pytest.raises(convcalc.SpecError, match=r"align_corners=True is taken by the interpolating modes") as info:
        convcalc.nn.Upsample(scale_factor=2, align_corners=True)
    assert "leave align_corners None" in str(info.value)


def test_an_interpolation_to_a_size_below_1_at_every_input_size_is_refused_as_a_number_is() -> None:
    module = _Call(lambda x: F.interpolate(x, size=-x.shape[-1], mode="linear"))
    assert _outcome_torch(module, [torch.zeros(1, 3, 5)]) is None
    for shape in ((1, 3, 5), (1, 3, "H")):
        with pytest.raises(convcalc.ShapeError, match=r"^interpolate \(interpolate\): input and output sizes must be"):
            convcalc.plan(module, shape)


class _GridByScale(torch.nn.Module):
    """DINO's ViT interpolates its position grid by a factor computed from the input's size."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 8, 8, 8)
        self.pos = torch.nn.Parameter(torch.zeros(1, 16, 8))  # a 4 x 4 grid

    def forward(self, x: Any) -> Any:
        import math

        w, h = x.shape[2:]
        x = self.proj(x).flatten(2).transpose(1, 2)
        n = self.pos.shape[1]
        factor = ((w // 8 + 0.1) / math.sqrt(n), (h // 8 + 0.1) / math.sqrt(n))
        grid = torch.nn.functional.interpolate(
            self.pos.reshape(1, 4, 4, 8).permute(0, 3, 1, 2), scale_factor=factor, mode="bicubic"
        )
        return x + grid.permute(0, 2, 3, 1).reshape(1, -1, 8)


def test_a_scale_factor_computed_from_the_sizes_is_followed_as_a_number_only() -> None:
    """With numbers, the factor is the float torch computes; with symbols it is refused for what it is (it was
    refused as no positive finite number: 0.25*floor(H/8) + 0.025 is one)."""
    model = _GridByScale()
    for shape in ((1, 3, 40, 56), (1, 3, 32, 32)):
        with torch.no_grad():
            assert convcalc.plan(model, shape).output_shape == tuple(model(torch.zeros(shape)).shape)
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.plan(model, (1, 3, convcalc.symbols("H"), 56))
    assert str(info.value) == (
        "interpolate (interpolate): scale_factor is a float computed from the input's sizes, which convcalc follows "
        "only as a number (torch multiplies and floors it, rounding as the sizes make it); plan with numbers, or "
        "interpolate to a size. Received: scale_factor=(0.25*floor(H/8) + 0.025, 1.775)"
    )
