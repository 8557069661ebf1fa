"""Real-style torch models: ``convcalc.plan`` against torch's own forward pass.

Each model comes from ``strategies.real_models`` (hand-written forwards: residual blocks,
ModuleList loops, modules called twice, tied and frozen weights, unused submodules,
parametrizations, every padding mode, functional calls, heads that do not fit). torch runs it
once with a forward hook on every module, which records one entry per call: the module's path
and its input and output shapes. The plan must agree with that record:

* torch raises exactly when ``plan`` raises a ``ConvCalcError`` (any other exception from
  convcalc fails the test);
* the model's output shape is torch's;
* the plan's rows for module calls, in order, are torch's calls of leaf modules, in order, with
  the same output shapes: a module called k times has k rows named by its path. Rows of tensor
  operations (``add``, ``cat``, ``relu``, ...) are named after fx nodes and are not matched;
  rows without an input (``input_shape == ()``) are parameters or buffers, not calls;
* ``total_params`` is ``sum(p.numel() for p in model.parameters())`` (tied weights once, unused
  submodules included), ``trainable_params`` the same over parameters with ``requires_grad``;
* ``macs`` is the sum, over every call torch made, of the multiply-accumulates of conv,
  transposed conv and linear layers, bias excluded, per sample, computed here from the shapes
  torch recorded: a conv counts its output positions times its weights, a transposed conv its
  input positions times its weights, a linear layer its rows times its weights.

The number of models comes from the Hypothesis profile (2,000 with CI=true).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import event, given  # noqa: E402
from hypothesis.control import currently_in_test_context  # noqa: E402
from strategies import (  # noqa: E402
    REAL_FEATURES,
    Alias,
    BasicBlock,
    Branches,
    ConvBNAct,
    DictStack,
    FuncPool,
    Net,
    Spare,
    Stack,
    Tied,
    Twice,
    TwoBranches,
    one_thread,
    real_models,
)
from torch_shapes import native_kernels  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ConvCalcError  # noqa: E402

nn = torch.nn
F = torch.nn.functional
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Call:
    path: str
    module: Any
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def is_layer(path: str, module: Any) -> bool:
    """A torch layer: a torch.nn module (parametrized or not) with no children but its parametrizations;
    not a container (even an empty one), not a parametrization, not a model's own class."""
    if isinstance(module, CONTAINERS) or "parametrizations" in path.split("."):
        return False
    if not type(module).__module__.startswith("torch.nn."):
        return False
    return all(name == "parametrizations" for name, _ in module.named_children())


def run_torch(model: Any, shape: tuple[int, ...]) -> tuple[list[Call], tuple[int, ...] | None, str | None]:
    """Torch's leaf-module calls in order, the output shape, and torch's error (None when it ran)."""
    calls: list[Call] = []

    def hook(path: str) -> Any:
        def record(module: Any, inputs: Any, output: Any) -> None:
            calls.append(Call(path, module, tuple(inputs[0].shape), tuple(output.shape)))

        return record

    # first among a module's hooks: the layer's own output, before a hook of the model's changes it
    handles = [
        m.register_forward_hook(hook(path), prepend=True) for path, m in model.named_modules() if is_layer(path, m)
    ]
    try:
        with torch.no_grad(), native_kernels(), one_thread():
            out = model(torch.zeros(shape, device=DEVICE))
        return calls, tuple(out.shape), None
    except Exception as exc:  # torch's rejection is the expected answer
        return calls, None, f"{type(exc).__name__}: {exc}"
    finally:
        for handle in handles:
            handle.remove()


def expected_macs(call: Call) -> int:
    """Multiply-accumulates of one call, per sample, bias excluded, from torch's shapes."""
    m = call.module
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        return math.prod(call.input_shape[1:]) * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.modules.conv._ConvNd):
        return math.prod(call.output_shape[1:]) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return math.prod(call.input_shape[1:-1]) * m.in_features * m.out_features
    return 0


def check(model: Any, shape: tuple[int, ...]) -> convcalc.Plan | None:
    """Compare ``convcalc.plan(model, shape)`` with torch's forward pass; the plan, or None where both reject."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    try:
        plan: convcalc.Plan | None = convcalc.plan(model, shape)
        plan_error = None
    except ConvCalcError as exc:
        plan, plan_error = None, f"{type(exc).__name__}: {exc}"
        refused: type | None = type(exc)
    else:
        refused = None
    assert refused in (None, convcalc.ShapeError, convcalc.SpecError), f"a non-public error type: {refused}"
    model = model.to(DEVICE)
    calls, out_shape, torch_error = run_torch(model, shape)
    if currently_in_test_context():
        event("torch raises" if torch_error else "torch runs")
    assert (plan_error is None) == (torch_error is None), (
        f"torch: {torch_error or f'runs, output {out_shape}'}\nconvcalc: {plan_error or 'plans it'}"
    )
    if plan is None:
        return None
    assert plan.output_shape == out_shape, f"output: torch {out_shape}, convcalc {plan.output_shape}"
    paths = {path for path, m in model.named_modules() if is_layer(path, m)}
    planned = [(r.name, tuple(r.output_shape)) for r in plan.rows if r.name in paths and r.input_shape != ()]
    called = [(c.path, c.output_shape) for c in calls]
    assert planned == called, f"module calls: torch {called}, convcalc {planned}"
    params = (plan.total_params, plan.trainable_params)
    assert params == (total, trainable), f"(total, trainable) params: torch {(total, trainable)}, convcalc {params}"
    macs = sum(expected_macs(c) for c in calls)
    assert plan.macs == macs, f"MACs: torch's shapes give {macs}, convcalc {plan.macs}"
    return plan


@given(real_models())
def test_real_models_match_torch(example: tuple[Any, tuple[int, int, int, int]]) -> None:
    model, shape = example
    check(model, shape)


def test_real_models_rejects_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        real_models(features=REAL_FEATURES | {"attention"}).example()


# --------------------------------------------------------------------------- #
# One model per feature, with torch's numbers worked out by hand
# --------------------------------------------------------------------------- #


def conv(cin: int, cout: int, k: int = 3, **kwargs: Any) -> Any:
    return nn.Conv2d(cin, cout, k, **kwargs)


def alone(layer: Any) -> Any:
    """The layer as a one-layer model (so that its row has a path, "0")."""
    return nn.Sequential(layer)


def frozen() -> Any:
    model = nn.Sequential(conv(3, 4), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    model[0].requires_grad_(False)
    model[4].bias.requires_grad_(False)
    return model


def shared_relu() -> Any:
    act = nn.ReLU()
    return nn.Sequential(conv(2, 2, 1), act, conv(2, 2, 1), act)


def parametrized(norm: str) -> Any:
    return nn.Sequential(getattr(nn.utils.parametrizations, norm)(conv(2, 4)), nn.ReLU())


# (output shape, total params, trainable params, MACs per sample), all from torch's rules by hand;
# None where torch raises.
Expected = tuple[tuple[int, ...], int, int, int] | None

EXAMPLES: dict[str, tuple[Any, tuple[int, ...], Expected]] = {
    # conv 3*8*9 + 8 = 224, bn 16, fc 8*10 + 10 = 90; MACs 8*16*16 * 27 + 80
    "chain": (
        lambda: Net(
            nn.Sequential(ConvBNAct(conv(3, 8, padding=1), True, "functional")), nn.Linear(8, 10), "module", "flatten"
        ),
        (2, 3, 16, 16),
        ((2, 10), 330, 330, 55376),
    ),
    # conv1 288, bn1 16, conv2 576, bn2 16, 1x1 projection 32 + bn 16; MACs (8*8*8) * (36 + 72 + 4)
    "residual_projection": (
        lambda: BasicBlock(4, 8, 2, "projection", True),
        (1, 4, 16, 16),
        ((1, 8, 8, 8), 944, 944, 57344),
    ),
    # two convs of 4*4*9 + 4 = 148; MACs 2 * (4*8*8) * 36
    "residual_empty_sequential": (
        lambda: BasicBlock(4, 4, 1, "empty", False),
        (1, 4, 8, 8),
        ((1, 4, 8, 8), 296, 296, 18432),
    ),
    "residual_identity": (
        lambda: BasicBlock(4, 4, 1, "identity", False),
        (1, 4, 8, 8),
        ((1, 4, 8, 8), 296, 296, 18432),
    ),
    "residual_plain_x": (lambda: BasicBlock(4, 4, 1, "none", False), (1, 4, 8, 8), ((1, 4, 8, 8), 296, 296, 18432)),
    # an identity shortcut with a stride: torch cannot add (1, 4, 4, 4) and (1, 4, 8, 8)
    "residual_mismatch": (lambda: BasicBlock(4, 4, 2, "empty", False), (1, 4, 8, 8), None),
    # block 1: 2 * 38; block 2: 76 + 148 + 8 + bn 8; MACs 2*(2*64*18) + 4*16*(18 + 36 + 2)
    "mixed_blocks": (
        lambda: nn.Sequential(BasicBlock(2, 2, 1, "none", False), BasicBlock(2, 4, 2, "projection", False)),
        (1, 2, 8, 8),
        ((1, 4, 4, 4), 316, 316, 8192),
    ),
    # three convs of 2*2*9 + 2 = 38, run by two loops of lengths 2 and 1; MACs 3 * 2*64*18
    "modulelist_lengths": (
        lambda: nn.Sequential(Stack([conv(2, 2, padding=1), conv(2, 2, padding=1)]), Stack([conv(2, 2, padding=1)])),
        (1, 2, 8, 8),
        ((1, 2, 8, 8), 114, 114, 6912),
    ),
    "moduledict_lengths": (
        lambda: nn.Sequential(
            DictStack([conv(2, 2, padding=1)]), DictStack([conv(2, 2, padding=1), conv(2, 2, padding=1)])
        ),
        (1, 2, 8, 8),
        ((1, 2, 8, 8), 114, 114, 6912),
    ),
    # one conv of 38 parameters called twice: MACs 2 * 2*64*18
    "called_twice": (lambda: Twice(conv(2, 2, padding=1)), (1, 2, 8, 8), ((1, 2, 8, 8), 38, 38, 4608)),
    # one ReLU instance at two places of a Sequential; convs 2*2 + 2 each, MACs 2 * 2*64*2
    "shared_relu": (shared_relu, (1, 2, 8, 8), ((1, 2, 8, 8), 12, 12, 512)),
    # one conv under two names, called twice
    "alias": (lambda: Alias(conv(2, 2, 1)), (1, 2, 8, 8), ((1, 2, 8, 8), 6, 6, 512)),
    # weight 2*2*9 = 36 once, two biases of 2
    "tied": (lambda: Tied(2, 3, True), (1, 2, 8, 8), ((1, 2, 8, 8), 40, 40, 4608)),
    # conv 112 (frozen), bn 8, linear 720 + 5 (bias frozen); MACs 4*36*27 + 720
    "frozen": (frozen, (1, 3, 8, 8), ((1, 5), 845, 728, 4608)),
    # conv 18 + 2, the uncalled Linear 21 + 3; MACs 2*36*9
    "unused": (lambda: Spare(conv(1, 2), nn.Linear(7, 3)), (1, 1, 8, 8), ((1, 2, 6, 6), 44, 44, 648)),
    # weight_norm: g (4, 1, 1, 1) and v (4, 2, 3, 3) are parameters, plus the bias: 4 + 72 + 4
    "weight_norm": (lambda: parametrized("weight_norm"), (1, 2, 8, 8), ((1, 4, 6, 6), 80, 80, 2592)),
    # spectral_norm: the original weight 72 and the bias 4 (u and v are buffers)
    "spectral_norm": (lambda: parametrized("spectral_norm"), (1, 2, 8, 8), ((1, 4, 6, 6), 76, 76, 2592)),
    # 2*2*9 + 2 = 38 in every padding mode; MACs 2*25*18
    **{
        f"padding_mode_{mode}": (
            lambda mode=mode: alone(conv(2, 2, padding=1, padding_mode=mode)),
            (1, 2, 5, 5),
            ((1, 2, 5, 5), 38, 38, 900),
        )
        for mode in ("zeros", "reflect", "replicate", "circular")
    },
    # torch: reflect padding must be below the input size, circular padding at most the input size
    "padding_mode_reflect_too_large": (
        lambda: alone(conv(1, 1, 1, padding=2, padding_mode="reflect")),
        (1, 1, 2, 2),
        None,
    ),
    "padding_mode_circular_too_large": (
        lambda: alone(conv(1, 1, 1, padding=3, padding_mode="circular")),
        (1, 1, 2, 2),
        None,
    ),
    # replicate padding has no limit: 1 + 3 + 3 = 7
    "padding_mode_replicate_large": (
        lambda: alone(conv(1, 1, 1, padding=3, padding_mode="replicate")),
        (1, 1, 1, 1),
        ((1, 1, 7, 7), 2, 2, 49),
    ),
    "reflection_pad": (
        lambda: nn.Sequential(nn.ReflectionPad2d(1), conv(1, 1)),
        (1, 1, 4, 4),
        ((1, 1, 4, 4), 10, 10, 144),
    ),
    "reflection_pad_zero": (
        lambda: nn.Sequential(nn.ReflectionPad2d(0), conv(1, 1)),
        (1, 1, 4, 4),
        ((1, 1, 2, 2), 10, 10, 36),
    ),
    "reflection_pad_too_large": (lambda: nn.Sequential(nn.ReflectionPad2d(2), conv(1, 1, 1)), (1, 1, 2, 2), None),
    "replication_pad": (
        lambda: nn.Sequential(nn.ReplicationPad2d(2), conv(1, 1, 1)),
        (1, 1, 1, 1),
        ((1, 1, 5, 5), 2, 2, 25),
    ),
    # (left, right, top, bottom) = (-1, 1, 0, 2): width 4 - 1 + 1, height 4 + 2
    "zero_pad_negative": (
        lambda: nn.Sequential(nn.ZeroPad2d((-1, 1, 0, 2)), conv(1, 1, 1)),
        (1, 1, 4, 4),
        ((1, 1, 6, 4), 2, 2, 24),
    ),
    "circular_pad": (lambda: nn.Sequential(nn.CircularPad2d(1), conv(1, 1, 1)), (1, 1, 3, 3), ((1, 1, 5, 5), 2, 2, 25)),
    # conv 1*2*9 + 2 = 20; MACs 2*64*9
    "nested_sequential": (
        lambda: nn.Sequential(nn.Sequential(conv(1, 2), nn.Sequential(nn.ReLU())), nn.MaxPool2d(2)),
        (1, 1, 10, 10),
        ((1, 2, 4, 4), 20, 20, 1152),
    ),
    # ModuleList of Sequentials, concatenated: 2*3 + 3 and 2*9 + 1; MACs 3*36*2 + 36*18
    "branches_cat": (
        lambda: Branches([nn.Sequential(conv(2, 3, 1)), nn.Sequential(conv(2, 1, padding=1), nn.ReLU())]),
        (1, 2, 6, 6),
        ((1, 4, 6, 6), 28, 28, 864),
    ),
    # torch.cat of (1, 1, 4, 4) and (1, 1, 6, 6) fails
    "branches_cat_mismatch": (
        lambda: TwoBranches(nn.Sequential(conv(1, 1)), nn.Sequential(conv(1, 1, 1))),
        (1, 1, 6, 6),
        None,
    ),
    # F.max_pool2d 8 -> 4, x.view(x.size(0), -1) gives 16 features: 16*3 + 3
    "functional_view": (
        lambda: Net(FuncPool("max", 2, 2, 0, False), nn.Linear(16, 3), "none", "view"),
        (1, 1, 8, 8),
        ((1, 3), 51, 51, 48),
    ),
    # F.avg_pool2d(k=3, s=2, ceil_mode) 6 -> 3, F.adaptive_avg_pool2d, torch.flatten
    "functional_flatten": (
        lambda: Net(FuncPool("avg", 3, 2, 0, True), nn.Linear(1, 3), "functional", "flatten"),
        (1, 1, 6, 6),
        ((1, 3), 6, 6, 3),
    ),
    # floor((11 + 2 - 2*2 - 1) / 2) + 1 = 5; weights 8 * (4/2) * 9 = 144 + 8 bias; MACs 8*25*18
    "strided_dilated_grouped": (
        lambda: alone(conv(4, 8, stride=2, dilation=2, groups=2, padding=1)),
        (1, 4, 11, 11),
        ((1, 8, 5, 5), 152, 152, 3600),
    ),
    # (4 - 1)*2 - 2 + 3 + 1 = 8; weights 2*3*9 + 3; MACs per input position: 2*16 * 3*9
    "transposed": (
        lambda: alone(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)),
        (1, 2, 4, 4),
        ((1, 3, 8, 8), 57, 57, 864),
    ),
    # ceil mode, and the window that would start in the right padding dropped: 5 -> 3; avg 6 -> 3
    "pooling_ceil_mode": (
        lambda: nn.Sequential(
            nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), conv(1, 1, 1), nn.AvgPool2d(2, 2, ceil_mode=True)
        ),
        (1, 1, 5, 5),
        ((1, 1, 2, 2), 2, 2, 9),
    ),
    # BatchNorm2d(2): weight and bias are parameters, the running statistics buffers
    "batchnorm": (lambda: nn.Sequential(conv(1, 2, 1), nn.BatchNorm2d(2)), (1, 1, 3, 3), ((1, 2, 3, 3), 8, 8, 18)),
    # 2*6*6 = 72 features reach Linear(10, 2)
    "bad_head": (lambda: Net(conv(1, 2), nn.Linear(10, 2), "none", "flatten"), (1, 1, 8, 8), None),
    "small_input": (lambda: nn.Sequential(conv(1, 1, 5), nn.ReLU()), (1, 1, 4, 4), None),
    "wrong_channels": (lambda: nn.Sequential(conv(3, 1), nn.ReLU()), (1, 2, 8, 8), None),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_real_model_example(name: str) -> None:
    make, shape, expected = EXAMPLES[name]
    model = make().eval()
    _, out_shape, error = run_torch(model.to(DEVICE), shape)
    model = model.cpu()
    if expected is None:
        assert error is not None, f"torch runs it: {out_shape}"  # the hand-worked answer is torch's
        with pytest.raises(ConvCalcError):
            convcalc.plan(model, shape)
        return
    output, total, trainable, _ = expected
    assert error is None, error
    assert out_shape == output
    assert sum(p.numel() for p in model.parameters()) == total
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == trainable
    plan = check(model, shape)
    assert plan is not None
    assert (plan.output_shape, plan.total_params, plan.trainable_params, plan.macs) == expected


def test_verify_accepts_an_empty_sequential_shortcut() -> None:
    # torch runs it (the empty Sequential returns its input), so there is nothing to flag
    model = BasicBlock(4, 4, 1, "empty", False).eval()
    assert convcalc.verify(model, (1, 4, 8, 8), device=DEVICE).ok
