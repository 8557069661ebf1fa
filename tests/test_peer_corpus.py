"""The peers' conventions against the peers themselves: ``macs="fvcore"`` against fvcore's ``FlopCountAnalysis`` and
``macs="ptflops"`` against ptflops' ``get_model_complexity_info`` (``backend="pytorch"``), on every model of the test
corpus and on single layers, each form of each layer the tools count.

Every number expected here is the tool's own, from a real run. ptflops is run at batch 1: it divides its module
hooks' count by the batch but adds its patched functionals' count undivided, so at a larger batch its total is no
count per sample (``test_ptflops_adds_functionals_undivided`` shows it).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import convcalc

torch = pytest.importorskip("torch")
fvcore_nn = pytest.importorskip("fvcore.nn")
ptflops = pytest.importorskip("ptflops")
nn = torch.nn
F = torch.nn.functional

from tests.corpus_models import CORPUS  # noqa: E402
from tests.test_peer_conventions import _quiet  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_MHA = "nn.MultiheadAttention: {}; its row holds the query's shape alone (not the key's length, the heads, masks)"
_MHA_FVCORE = _MHA.format(
    "fvcore counts its projections (aten::linear) and not the attention products (scaled_dot_product_attention)"
)
_MHA_PTFLOPS = _MHA.format("ptflops' hook adds the query scaling, a softmax per head and the biases")
_CONV_FUNCTIONAL = "F.conv2d in a forward (or a Conv2d subclass calling it): ptflops counts neither"
_AT = "`a @ b` (Tensor.__matmul__) is not patched by ptflops, torch.matmul is, and both are rows of kind matmul"

# Models whose count a convention cannot reproduce from convcalc's rows: each a strict xfail, so a fix shows.
DEPARTURES: dict[str, dict[str, str]] = {
    "fvcore": {
        "HybridViT": _MHA_FVCORE,
        "CausalEncoder": _MHA_FVCORE,
        "Seq2Seq": _MHA_FVCORE,
        "DinoViT": _MHA_FVCORE,
        "TextCNN": "fvcore's trace drops a convolution whose output only gives a size (F.relu(conv(x)).size(2))",
        "ConvNeXtTiny": "F.layer_norm(x, shape, weight, bias): its row does not say a weight is given (fvcore: 5)",
        "HRNetMini": "F.interpolate(mode='bilinear'): its row does not hold the mode (fvcore: 4 per output)",
        "FNO2d": "fvcore's matmul counts the first operand's elements times the last size, not a broadcast batch",
        "ClipResNetPool": "F.multi_head_attention_forward: fvcore counts its projections (aten::linear) and not the "
        "attention products (scaled_dot_product_attention)",
    },
    "ptflops": {
        "DynamicSameNet": _CONV_FUNCTIONAL,
        "CeilSameNet": _CONV_FUNCTIONAL,
        "EfficientStem": _CONV_FUNCTIONAL,
        "StaticSameMix": _CONV_FUNCTIONAL + ", nor F.linear",
        "TimmStyleNet": _CONV_FUNCTIONAL + ", nor F.linear",
        "TiedAutoencoder": "F.linear and torch.relu are not patched by ptflops (F.relu, a row of the same kind, is)",
        "HybridViT": _MHA_PTFLOPS,
        "CausalEncoder": _MHA_PTFLOPS,
        "Seq2Seq": _MHA_PTFLOPS,
        "DinoViT": _MHA_PTFLOPS,
        "ClipResNetPool": "F.multi_head_attention_forward is not patched by ptflops: it counts none of it",
        "SwinTiny": _AT,
        "LoRAEncoder": _AT,
        "FNO2d": _AT + "; torch.einsum is not counted either",
        "EDSR": "a Conv2d subclass (MeanShift) is not in ptflops' table of exact classes; torch.mul is patched",
        "TCN": "a convolution under weight_norm is a parametrized class, not in ptflops' table of exact classes",
    },
}
# A sequence-first input (L, N): the plan counts per sequence, N of them
SAMPLES = {"RNNModel": 2}


def _positional(model: Any, inputs: Any) -> list[Any]:
    """Zeros for each input, in the order of the forward's arguments (fvcore passes a tuple)."""
    if isinstance(inputs, dict):
        names = list(inspect.signature(model.forward).parameters)
        return [torch.zeros(inputs[n]) for n in names if n in inputs]
    if isinstance(inputs, list):
        return [torch.zeros(s) for s in inputs]
    return [torch.zeros(inputs)]


def _at_batch_one(inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return {k: (1, *v[1:]) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [(1, *s[1:]) for s in inputs]
    return (1, *inputs[1:])


def _first(inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return next(iter(inputs.values()))
    return inputs[0] if isinstance(inputs, list) else inputs


def fvcore_total(model: Any, *args: Any) -> Any:
    def count() -> Any:
        analysis = fvcore_nn.FlopCountAnalysis(model, args)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        with torch.no_grad():
            return analysis.total()

    return _quiet(count)


def ptflops_total(model: Any, inputs: Any) -> Any:
    """ptflops' count of ``model`` on zeros of ``inputs``: one shape (passed positionally, as ptflops passes its own
    input), or a list or dict of shapes (passed by name: ptflops then finds no batch and divides by 1)."""
    made: Any
    if isinstance(inputs, dict):
        made = {k: torch.zeros(v) for k, v in inputs.items()}
    elif isinstance(inputs, list):
        names = list(inspect.signature(model.forward).parameters)
        made = {names[i]: torch.zeros(s) for i, s in enumerate(inputs)}
    else:
        made = torch.zeros(inputs)
    macs, _ = _quiet(
        lambda: ptflops.get_model_complexity_info(
            model,
            tuple(_first(inputs)[1:]),
            as_strings=False,
            print_per_layer_stat=False,
            backend="pytorch",
            input_constructor=lambda _: made,  # zeros, which an embedding can look up
        )
    )
    assert macs is not None, "ptflops could not run the model"
    return macs


def _cases(convention: str) -> list[Any]:
    out = []
    for name, factory, inputs in CORPUS:
        marks = []
        if name in DEPARTURES[convention]:
            marks.append(pytest.mark.xfail(strict=True, reason=DEPARTURES[convention][name]))
        out.append(pytest.param(name, factory, inputs, id=name, marks=marks))
    return out


@pytest.mark.parametrize(("name", "factory", "inputs"), _cases("fvcore"))
def test_fvcore_convention_over_the_corpus(name: str, factory: Any, inputs: Any) -> None:
    torch.manual_seed(0)
    model = factory().eval()
    if isinstance(model, torch.jit.ScriptModule) or any(isinstance(m, torch.jit.ScriptModule) for m in model.modules()):
        pytest.skip("fvcore cannot hook a TorchScript module")
    plan = convcalc.plan(model, inputs, macs="fvcore")
    samples = SAMPLES.get(name, _first(inputs)[0])
    assert plan.macs * samples == fvcore_total(model, *_positional(model, inputs))


@pytest.mark.parametrize(("name", "factory", "inputs"), _cases("ptflops"))
def test_ptflops_convention_over_the_corpus(name: str, factory: Any, inputs: Any) -> None:
    if name == "SqueezeInPlaceHead":
        pytest.skip("its squeeze() drops the batch axis at batch 1, where ptflops is compared")
    torch.manual_seed(0)
    model = factory().eval()
    one = _at_batch_one(inputs)
    plan = convcalc.plan(model, one, macs="ptflops")
    assert plan.macs * SAMPLES.get(name, 1) == ptflops_total(model, one)


# --------------------------------------------------------------------------- #
# single layers, each form
# --------------------------------------------------------------------------- #


class Call(nn.Module):
    """A forward that calls ``fn(self, x)``; ``holds`` are its submodules (whose weights a functional may take).
    ``fn`` reads ``F.name`` when called, as a forward does: ptflops replaces the attributes of ``F``."""

    def __init__(self, fn: Any, **holds: Any) -> None:
        super().__init__()
        object.__setattr__(self, "fn", fn)
        for key, module in holds.items():
            self.add_module(key, module)

    def forward(self, x: Any) -> Any:
        return self.fn(self, x)


def _layer(value: Any) -> Any:
    return value() if callable(value) and not isinstance(value, nn.Module) else value


_MODE_UNKNOWN = "an upsample's row does not hold its mode: counted as nearest (fvcore: {} per output element)"
_UNKNOWN_WEIGHTS = "a functional norm's row does not say whether a weight is given"

FVCORE_LAYERS = [
    pytest.param(lambda: nn.BatchNorm2d(4), (2, 4, 5, 5), id="BatchNorm2d"),
    pytest.param(lambda: nn.BatchNorm1d(4, affine=False), (2, 4, 5), id="BatchNorm1d-no-affine"),
    pytest.param(lambda: nn.BatchNorm3d(4), (2, 4, 2, 3, 3), id="BatchNorm3d"),
    pytest.param(lambda: nn.GroupNorm(2, 4), (2, 4, 5, 5), id="GroupNorm"),
    pytest.param(lambda: nn.GroupNorm(2, 4, affine=False), (2, 4, 5), id="GroupNorm-no-affine"),
    pytest.param(lambda: nn.LayerNorm(6), (2, 3, 6), id="LayerNorm"),
    pytest.param(lambda: nn.LayerNorm((3, 6), elementwise_affine=False), (2, 3, 6), id="LayerNorm-no-affine"),
    pytest.param(lambda: nn.LayerNorm(6, bias=False), (2, 3, 6), id="LayerNorm-no-bias"),
    pytest.param(lambda: nn.InstanceNorm1d(4), (2, 4, 5), id="InstanceNorm1d"),
    pytest.param(lambda: nn.InstanceNorm2d(4, affine=True), (2, 4, 5, 5), id="InstanceNorm2d-affine"),
    pytest.param(lambda: nn.InstanceNorm3d(4, affine=True), (2, 4, 3, 3, 3), id="InstanceNorm3d-affine"),
    pytest.param(lambda: Call(lambda s, x: F.layer_norm(x, (6,))), (2, 3, 6), id="F.layer_norm"),
    pytest.param(lambda: Call(lambda s, x: F.group_norm(x, 2)), (2, 4, 5), id="F.group_norm"),
    pytest.param(lambda: Call(lambda s, x: F.instance_norm(x)), (2, 4, 5), id="F.instance_norm"),
    pytest.param(
        lambda: Call(lambda s, x: F.batch_norm(x, s.bn.running_mean, s.bn.running_var), bn=nn.BatchNorm2d(4)),
        (2, 4, 5, 5),
        id="F.batch_norm",
    ),
    pytest.param(
        lambda: Call(lambda s, x: F.layer_norm(x, (6,), s.ln.weight, s.ln.bias), ln=nn.LayerNorm(6)),
        (2, 3, 6),
        id="F.layer_norm-weight",
        marks=pytest.mark.xfail(strict=True, reason=_UNKNOWN_WEIGHTS),
    ),
    pytest.param(lambda: nn.AdaptiveAvgPool2d(2), (2, 4, 6, 6), id="AdaptiveAvgPool2d"),
    pytest.param(lambda: Call(lambda s, x: F.adaptive_avg_pool2d(x, 1)), (2, 4, 6, 6), id="F.adaptive_avg_pool2d"),
    pytest.param(lambda: nn.AdaptiveAvgPool1d(2), (2, 4, 6), id="AdaptiveAvgPool1d"),
    pytest.param(lambda: nn.AdaptiveAvgPool3d(1), (2, 4, 2, 4, 4), id="AdaptiveAvgPool3d"),
    pytest.param(lambda: nn.MaxPool2d(2), (2, 4, 6, 6), id="MaxPool2d"),
    pytest.param(lambda: nn.AvgPool2d(2), (2, 4, 6, 6), id="AvgPool2d"),
    pytest.param(lambda: nn.ReLU(), (2, 4, 6, 6), id="ReLU"),
    pytest.param(lambda: nn.Upsample(scale_factor=2), (2, 3, 4, 5), id="Upsample-nearest"),
    pytest.param(lambda: nn.Upsample(size=(7, 9)), (2, 3, 4, 5), id="Upsample-nearest-size"),
    pytest.param(lambda: nn.Upsample(scale_factor=2), (2, 3, 4), id="Upsample-nearest-1d"),
    pytest.param(lambda: nn.UpsamplingNearest2d(scale_factor=3), (2, 3, 4, 5), id="UpsamplingNearest2d"),
    pytest.param(lambda: Call(lambda s, x: F.interpolate(x, scale_factor=2)), (2, 3, 4, 5), id="F.interpolate"),
    *(
        pytest.param(
            layer, (2, 3, 4, 5), id=name, marks=pytest.mark.xfail(strict=True, reason=_MODE_UNKNOWN.format(mode))
        )
        for layer, name, mode in (
            (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), "Upsample-bilinear", "4"),
            (lambda: Call(lambda s, x: F.upsample_bilinear(x, scale_factor=2)), "F.upsample_bilinear", "4"),
            (lambda: nn.Upsample(scale_factor=2, mode="bicubic"), "Upsample-bicubic", "0"),
        )
    ),
    pytest.param(
        lambda: Call(lambda s, x: F.grid_sample(x, torch.zeros(x.shape[0], 3, 7, 2), align_corners=False)),
        (2, 3, 4, 5),
        id="F.grid_sample",
    ),
]


@pytest.mark.parametrize(("layer", "shape"), FVCORE_LAYERS)
def test_fvcore_convention_on_one_layer(layer: Any, shape: tuple[int, ...]) -> None:
    model = nn.Sequential(_layer(layer)).eval()
    plan = convcalc.plan(model, shape, macs="fvcore")
    assert plan.macs * shape[0] == fvcore_total(model, torch.zeros(shape))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(
    "training",
    [False, pytest.param(True, marks=pytest.mark.xfail(strict=True, reason="a row does not hold the training flag"))],
)
def test_fvcore_counts_a_batch_norm_by_its_mode(affine: bool, training: bool) -> None:
    """In eval mode 2 per element (1 without weights); in training mode fvcore's norm rule, 5 (4)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, affine=affine)).train(training)
    plan = convcalc.plan(model, (2, 3, 5, 5), macs="fvcore")
    assert plan.macs * 2 == fvcore_total(model, torch.zeros(2, 3, 5, 5))


_SOFTMAX = "F.softmax is patched by ptflops, Tensor.softmax and torch.softmax are not: rows of one kind"

PTFLOPS_LAYERS = [
    *(
        pytest.param(lambda c=cls: c(), (1, 4, 5, 5), id=cls.__name__)
        for cls in (
            nn.ReLU,
            nn.ReLU6,
            nn.ELU,
            nn.LeakyReLU,
            nn.PReLU,
            nn.GELU,
            nn.SiLU,
            nn.Sigmoid,
            nn.Tanh,
            nn.Hardswish,
        )
    ),
    pytest.param(lambda: nn.ReLU(inplace=True), (1, 4, 5, 5), id="ReLU-inplace"),
    pytest.param(lambda: nn.Softmax(1), (1, 4, 5, 5), id="Softmax"),
    *(
        pytest.param(lambda f=f: Call(lambda s, x: getattr(F, f)(x)), (1, 4, 5, 5), id=f"F.{f}")
        for f in ("relu", "relu6", "elu", "gelu", "silu", "leaky_relu", "relu_", "hardtanh")
    ),
    pytest.param(lambda: Call(lambda s, x: x.softmax(1)), (1, 4, 5, 5), id="Tensor.softmax"),
    pytest.param(
        lambda: Call(lambda s, x: F.softmax(x, 1)),
        (1, 4, 5, 5),
        id="F.softmax",
        marks=pytest.mark.xfail(strict=True, reason=_SOFTMAX),
    ),
    *(
        pytest.param(lambda m=m: m, shape, id=f"{type(m).__name__}-{len(shape) - 2}d")
        for m, shape in (
            (nn.MaxPool1d(2), (1, 4, 6)),
            (nn.MaxPool2d(2), (1, 4, 6, 6)),
            (nn.MaxPool3d(2), (1, 4, 2, 4, 4)),
            (nn.AvgPool1d(2), (1, 4, 6)),
            (nn.AvgPool2d(3, 1, 1), (1, 4, 6, 6)),
            (nn.AvgPool3d(2), (1, 4, 2, 4, 4)),
            (nn.AdaptiveMaxPool1d(2), (1, 4, 6)),
            (nn.AdaptiveMaxPool2d(1), (1, 4, 6, 6)),
            (nn.AdaptiveMaxPool3d(1), (1, 4, 2, 4, 4)),
            (nn.AdaptiveAvgPool1d(2), (1, 4, 6)),
            (nn.AdaptiveAvgPool2d(1), (1, 4, 6, 6)),
            (nn.AdaptiveAvgPool3d(1), (1, 4, 2, 4, 4)),
        )
    ),
    *(
        pytest.param(lambda f=f, a=a: Call(lambda s, x: getattr(F, f)(x, a)), shape, id=f"F.{f}")
        for f, a, shape in (
            ("max_pool1d", 2, (1, 4, 6)),
            ("max_pool2d", 2, (1, 4, 6, 6)),
            ("avg_pool2d", 2, (1, 4, 6, 6)),
            ("avg_pool3d", 2, (1, 4, 2, 4, 4)),
            ("adaptive_max_pool2d", 1, (1, 4, 6, 6)),
            ("adaptive_avg_pool1d", 1, (1, 4, 6)),
            ("adaptive_avg_pool2d", 1, (1, 4, 6, 6)),
        )
    ),
    pytest.param(lambda: nn.BatchNorm2d(4), (1, 4, 5, 5), id="BatchNorm2d"),
    pytest.param(lambda: nn.BatchNorm1d(4, affine=False), (1, 4, 5), id="BatchNorm1d-no-affine"),
    pytest.param(lambda: nn.GroupNorm(2, 4), (1, 4, 5, 5), id="GroupNorm"),
    pytest.param(lambda: nn.GroupNorm(2, 4, affine=False), (1, 4, 5), id="GroupNorm-no-affine"),
    pytest.param(lambda: nn.InstanceNorm2d(4), (1, 4, 5, 5), id="InstanceNorm2d"),
    pytest.param(lambda: nn.InstanceNorm1d(4, affine=True), (1, 4, 5), id="InstanceNorm1d-affine"),
    pytest.param(lambda: nn.LayerNorm(5), (1, 4, 5), id="LayerNorm"),
    pytest.param(lambda: nn.LayerNorm(5, elementwise_affine=False), (1, 4, 5), id="LayerNorm-no-affine"),
    pytest.param(lambda: Call(lambda s, x: F.layer_norm(x, (5,))), (1, 4, 5), id="F.layer_norm"),
    pytest.param(lambda: Call(lambda s, x: F.group_norm(x, 2)), (1, 4, 5), id="F.group_norm"),
    pytest.param(lambda: nn.Upsample(scale_factor=2), (1, 3, 4, 5), id="Upsample-nearest"),
    pytest.param(lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 3, 4, 5), id="Upsample-bilinear"),
    pytest.param(lambda: nn.Upsample(size=(7, 9)), (1, 3, 4, 5), id="Upsample-size"),
    pytest.param(lambda: nn.UpsamplingBilinear2d(scale_factor=2), (1, 3, 4, 5), id="UpsamplingBilinear2d"),
    pytest.param(lambda: Call(lambda s, x: F.interpolate(x, scale_factor=2)), (1, 3, 4, 5), id="F.interpolate"),
    pytest.param(
        lambda: Call(lambda s, x: F.interpolate(x, size=(6, 7), mode="bilinear")), (1, 3, 4, 5), id="F.interpolate-size"
    ),
    pytest.param(lambda: Call(lambda s, x: F.grid_sample(x, torch.zeros(1, 3, 7, 2))), (1, 3, 4, 5), id="grid_sample"),
]


@pytest.mark.parametrize(("layer", "shape"), PTFLOPS_LAYERS)
def test_ptflops_convention_on_one_layer(layer: Any, shape: tuple[int, ...]) -> None:
    model = nn.Sequential(nn.Conv2d(shape[1], shape[1], 1) if len(shape) == 4 else nn.Identity(), _layer(layer))
    model = model.eval()
    plan = convcalc.plan(model, shape, macs="ptflops")
    assert plan.macs == ptflops_total(model, shape)


def test_ptflops_adds_functionals_undivided() -> None:
    """At batch 4 ptflops divides its module hooks' count by 4 and adds its functionals' whole count: the
    convention is its count at batch 1."""
    model = nn.Sequential(nn.Conv2d(3, 4, 1), Call(lambda s, x: F.relu(x))).eval()
    plan = convcalc.plan(model, (4, 3, 5, 5), macs="ptflops")
    assert plan.macs == ptflops_total(model, (1, 3, 5, 5))
    assert ptflops_total(model, (4, 3, 5, 5)) - plan.macs == 3 * 4 * 5 * 5
