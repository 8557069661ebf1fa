"""Whole models read from torch, as people write them: every number compared with torch itself.

A module called twice, blocks of one class that differ inside, submodules the
forward never calls, frozen and tied parameters, weight_norm / spectral_norm,
and verify's verdicts. Expected values come from torch: output shapes and
per-call MACs from forward hooks, parameter counts from ``model.parameters()``
and ``requires_grad``.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from torch import nn as tnn  # noqa: E402

import convcalc  # noqa: E402

# --------------------------------------------------------------------------- #
# What torch does, recorded by running it
# --------------------------------------------------------------------------- #


def torch_calls(model: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], list[tuple[str, tuple[int, ...]]], int]:
    """The output shape, every leaf call (name, output shape) in order, and the MACs of convs and linears per input
    sample."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    macs = [0]
    handles = []
    for name, module in model.named_modules():
        if any(True for _ in module.children()) and not isinstance(module, (tnn.Conv2d, tnn.Linear)):
            continue
        if ".parametrizations." in f".{name}." or (isinstance(module, tnn.Sequential) and len(module) == 0):
            continue  # computes a layer's weight; passes its input on

        def hook(m: Any, inputs: Any, out: Any, name: str = name) -> None:
            calls.append((name, tuple(out.shape)))
            # per input sample where the call's batch holds a whole number of elements per sample (here 4 x 2
            # rows of view(-1, 1) for 4 samples), else per element of its own batch
            whole = out.shape[0] % shape[0] == 0
            per_sample = out.numel() // (shape[0] if whole else out.shape[0])
            if isinstance(m, tnn.Conv2d):
                macs[0] += per_sample * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            elif isinstance(m, tnn.Linear):
                macs[0] += per_sample * m.in_features

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    finally:
        for h in handles:
            h.remove()
    return tuple(out.shape), calls, macs[0]


def torch_params(model: Any) -> tuple[int, int, int]:
    """(trainable, non-trainable, buffers) as torch counts them: each tensor once."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return trainable, frozen, sum(b.numel() for b in model.buffers())


def assert_exact(model: Any, shape: tuple[int, ...]) -> Any:
    """The plan's output, per-call shapes, MACs and parameter split are torch's."""
    plan = convcalc.plan(model, shape)
    out, calls, macs = torch_calls(model, shape)
    assert plan.output_shape == out
    layer_rows = [(r.name, tuple(r.output_shape)) for r in plan.rows if r.name in dict(calls)]
    assert layer_rows == calls
    assert plan.macs == macs
    trainable, frozen, buffers = torch_params(model)
    assert (plan.trainable_params, plan.non_trainable_params, plan.buffers) == (trainable, frozen, buffers)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    return plan


# --------------------------------------------------------------------------- #
# 1. A module called twice
# --------------------------------------------------------------------------- #


def test_a_module_called_twice_is_planned_per_call() -> None:
    c = tnn.Conv2d(3, 3, 3, padding=1)
    p = tnn.MaxPool2d(2)
    model = tnn.Sequential(c, p, c, p)
    plan = assert_exact(model, (1, 3, 32, 32))
    assert plan.output_shape == (1, 3, 8, 8)
    assert [(r.name, r.kind) for r in plan.rows] == [("0", "Conv2d"), ("1", "MaxPool2d")] * 2
    assert plan.macs == 103_680  # 3 * 27 * 32 * 32 + 3 * 27 * 16 * 16
    assert [r.params for r in plan.rows] == [84, 0, 0, 0]
    assert [r.recursive for r in plan.rows] == [False, False, True, False]
    report = convcalc.verify(model, (1, 3, 32, 32), device="cpu")
    assert report.ok, str(report)
    assert [(r.name, r.actual_shape) for r in report.rows] == [
        ("0", (1, 3, 32, 32)),
        ("1", (1, 3, 16, 16)),
        ("0", (1, 3, 16, 16)),
        ("1", (1, 3, 8, 8)),
    ]


def test_a_shared_block_called_at_two_paths_keeps_its_first_name() -> None:
    block = tnn.Sequential(tnn.Conv2d(4, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU())
    model = tnn.Sequential(block, tnn.MaxPool2d(2), block)
    plan = assert_exact(model, (2, 4, 16, 16))
    assert [r.name for r in plan.rows] == ["0.0", "0.1", "0.2", "1", "0.0", "0.1", "0.2"]
    assert [r.recursive for r in plan.rows] == [False, False, False, False, True, True, False]
    assert convcalc.verify(model, (2, 4, 16, 16), device="cpu").ok


def test_tied_weights_count_once() -> None:
    a = tnn.Linear(8, 8)
    b = tnn.Linear(8, 8)
    b.weight = a.weight  # a decoder tied to its encoder: its own bias, the shared weight
    model = tnn.Sequential(a, tnn.ReLU(), b)
    plan = assert_exact(model, (3, 8))
    assert [(r.name, r.params, r.recursive) for r in plan.rows] == [("0", 72, False), ("1", 0, False), ("2", 8, True)]
    assert plan.total_params == 80
    assert convcalc.verify(model, (3, 8), device="cpu").ok


# --------------------------------------------------------------------------- #
# 2. Blocks of one class whose insides differ
# --------------------------------------------------------------------------- #


def conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> Any:
    return tnn.Sequential(
        tnn.Conv2d(cin, cout, k, stride, k // 2, bias=False), tnn.BatchNorm2d(cout), tnn.LeakyReLU(0.1)
    )


class ResBlock(tnn.Module):
    """YOLOv3's ResBlock(ch, nblocks): a ModuleList of units looped in forward."""

    def __init__(self, ch: int, nblocks: int) -> None:
        super().__init__()
        self.module_list = tnn.ModuleList(
            tnn.Sequential(conv_bn(ch, ch // 2, 1), conv_bn(ch // 2, ch, 3)) for _ in range(nblocks)
        )

    def forward(self, x: Any) -> Any:
        for module in self.module_list:
            x = x + module(x)
        return x


class Darknet(tnn.Module):
    def __init__(self, units: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[Any] = [conv_bn(3, 8, 3)]
        ch = 8
        for n in units:
            layers += [conv_bn(ch, ch * 2, 3, 2), ResBlock(ch * 2, n)]
            ch *= 2
        self.layers = tnn.ModuleList(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x


@pytest.mark.parametrize("units", [(2, 8, 8, 4), (8, 2, 4, 8)])
def test_resblocks_of_different_lengths_are_read_apart(units: tuple[int, ...]) -> None:
    model = Darknet(units)
    plan = assert_exact(model, (1, 3, 64, 64))
    assert sum(1 for r in plan.rows if r.kind == "add") == sum(units)
    assert convcalc.verify(model, (1, 3, 64, 64), device="cpu").ok


class Stage(tnn.Module):
    """Stride-2 layers built in a loop: the length decides the output size."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.downs = tnn.ModuleList(tnn.Conv2d(4, 4, 3, 2, 1) for _ in range(n))

    def forward(self, x: Any) -> Any:
        for down in self.downs:
            x = torch.relu(down(x))
        return x


class Reads(tnn.Module):
    """Its forward reads a child's attribute: blocks differ in what the child holds."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.fc = tnn.Linear(features, 2)

    def forward(self, x: Any) -> Any:
        return self.fc(x.view(-1, self.fc.in_features))


def test_loops_of_strided_layers_and_child_attributes_are_read_per_instance() -> None:
    assert_exact(tnn.Sequential(Stage(1), Stage(3)), (1, 4, 64, 64))
    assert_exact(tnn.Sequential(Stage(3), Stage(1)), (1, 4, 64, 64))
    model = tnn.Sequential(tnn.Flatten(), Reads(48), tnn.Unflatten(1, (2, 1, 1)), tnn.Flatten(), Reads(1))
    assert_exact(model, (4, 3, 4, 4))


# --------------------------------------------------------------------------- #
# 3. Submodules the forward never calls, and parameters of non-leaf modules
# --------------------------------------------------------------------------- #


class BasicConv2d(tnn.Module):
    def __init__(self, cin: int, cout: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = tnn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Any) -> Any:
        return torch.relu(self.bn(self.conv(x)))


class Inception(tnn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = tnn.Sequential(
            BasicConv2d(cin, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3, padding=1)
        )
        self.branch3 = tnn.Sequential(
            BasicConv2d(cin, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3, padding=1)
        )
        self.branch4 = tnn.Sequential(
            tnn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, pool, kernel_size=1)
        )

    def forward(self, x: Any) -> Any:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(tnn.Module):
    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = tnn.Linear(2048, 1024)
        self.fc2 = tnn.Linear(1024, num_classes)
        self.dropout = tnn.Dropout(0.7)

    def forward(self, x: Any) -> Any:
        x = self.conv(tnn.functional.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(torch.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class GoogLeNet(tnn.Module):
    """torchvision's GoogLeNet with its auxiliary heads (aux_logits=True), which only training mode calls."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = tnn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, num_classes)
        self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(0.2)
        self.fc = tnn.Linear(1024, num_classes)

    def forward(self, x: Any) -> Any:
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x)))
        x = self.fc(self.dropout(torch.flatten(x, 1)))
        return (x, aux2, aux1) if self.training else x


def test_parameters_of_modules_never_called_count() -> None:
    model = GoogLeNet().eval()
    assert sum(p.numel() for p in model.parameters()) == 13_004_888
    plan = assert_exact(model, (1, 3, 96, 96))
    assert plan.total_params == 13_004_888
    aux = sum(p.numel() for name, p in model.named_parameters() if name.startswith("aux"))
    assert [(r.name, r.kind, r.params) for r in plan.uncalled] == [
        ("aux1", "InceptionAux", sum(p.numel() for p in model.aux1.parameters())),
        ("aux2", "InceptionAux", sum(p.numel() for p in model.aux2.parameters())),
    ]
    assert sum(r.params for r in plan.rows) == 13_004_888 - aux == 6_624_904
    assert not any(r.name.startswith("aux") for r in plan.rows)
    assert "aux1 (InceptionAux)" in plan.summary()
    assert convcalc.verify(model, (1, 3, 96, 96), device="cpu").ok


class WithEmbedding(tnn.Module):
    """A position embedding used in forward, one never used, and a head never called."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 6, 3, padding=1)
        self.pos_embed = tnn.Parameter(torch.zeros(1, 6, 8, 8))
        self.unused_token = tnn.Parameter(torch.zeros(1, 6))
        self.register_buffer("unused_mask", torch.zeros(5))
        self.head = tnn.Linear(6, 2)

    def forward(self, x: Any) -> Any:
        return self.conv(x) + self.pos_embed


def test_direct_parameters_of_a_non_leaf_module_count() -> None:
    model = WithEmbedding()
    plan = assert_exact(model, (2, 3, 8, 8))
    assert [(r.name, r.kind, r.params, r.buffers) for r in plan.uncalled] == [
        ("unused_token", "Parameter", 6, 0),
        ("unused_mask", "Buffer", 0, 5),
        ("head", "Linear", 14, 0),
    ]
    assert plan.row("pos_embed").params == 384


# --------------------------------------------------------------------------- #
# 4. Frozen parameters
# --------------------------------------------------------------------------- #


def test_frozen_parameters_are_non_trainable() -> None:
    model = tnn.Sequential(tnn.Conv2d(3, 8, 3), tnn.BatchNorm2d(8), tnn.Flatten(), tnn.Linear(8 * 6 * 6, 4))
    model[0].requires_grad_(False)
    model[3].bias.requires_grad_(False)
    plan = assert_exact(model, (1, 3, 8, 8))
    expected = [
        (
            sum(p.numel() for p in m.parameters() if p.requires_grad),
            sum(p.numel() for p in m.parameters() if not p.requires_grad),
        )
        for m in model
    ]
    assert [(r.trainable, r.non_trainable) for r in plan.rows] == expected == [(0, 224), (16, 0), (0, 0), (1152, 4)]
    assert convcalc.verify(model, (1, 3, 8, 8), device="cpu").ok


# --------------------------------------------------------------------------- #
# 5. weight_norm and spectral_norm
# --------------------------------------------------------------------------- #


def _parametrized() -> list[tuple[str, Any]]:
    from torch.nn.utils import parametrizations, weight_norm

    return [
        ("parametrizations.weight_norm", parametrizations.weight_norm(tnn.Conv2d(4, 8, 5))),
        ("parametrizations.spectral_norm", parametrizations.spectral_norm(tnn.Conv2d(4, 8, 5))),
        ("weight_norm", weight_norm(tnn.Conv2d(4, 8, 5))),
        ("spectral_norm", tnn.utils.spectral_norm(tnn.Conv2d(4, 8, 5))),
    ]


@pytest.mark.parametrize("index", range(4))
def test_parametrized_layers_count_what_torch_counts(index: int) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.nn.utils.weight_norm is deprecated in favour of parametrizations
        label, conv = _parametrized()[index]
    model = tnn.Sequential(tnn.ReLU(), conv).eval()
    plan = assert_exact(model, (1, 4, 12, 12))
    row = plan.row("1")
    assert (row.kind, row.params) == ("Conv2d", sum(p.numel() for p in conv.parameters()))
    assert row.params == (816 if "weight_norm" in label else 808)
    assert [r.name for r in plan.rows] == ["0", "1"]
    report = convcalc.verify(model, (1, 4, 12, 12), device="cpu")
    assert report.ok, str(report)
    assert [r.name for r in report.rows] == ["0", "1"]


# --------------------------------------------------------------------------- #
# 10. verify's verdicts
# --------------------------------------------------------------------------- #


class CifarBlock(tnn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.shortcut = tnn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x: Any) -> Any:
        out = self.bn1(self.conv1(x))
        out += self.shortcut(x)
        return torch.relu(out)


def test_an_empty_sequential_shortcut_is_no_false_alarm() -> None:
    model = tnn.Sequential(CifarBlock(16, 16, 1), CifarBlock(16, 32, 2))
    assert_exact(model, (2, 16, 16, 16))
    report = convcalc.verify(model, (2, 16, 16, 16), device="cpu")
    assert report.ok, str(report)
    assert str(report).startswith("verify on cpu, input (2, 16, 16, 16): OK")


def test_both_rejecting_at_the_same_layer_is_agreement() -> None:
    model = tnn.Sequential(tnn.Conv2d(1, 4, 3), tnn.Flatten(), tnn.Linear(4 * 26 * 26, 10))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        model(torch.zeros(2, 1, 30, 30))
    report = convcalc.verify(model, (2, 1, 30, 30), device="cpu")
    assert (report.ok, report.agree, report.plan_layer, report.torch_layer) == (False, True, "2", "2")
    assert str(report).splitlines()[0] == "verify on cpu, input (2, 1, 30, 30): both reject, at the same layer (2)"
    assert "MISMATCH" not in str(report)


def test_rejecting_at_different_layers_is_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    from convcalc import nn
    from convcalc.torch.trace import _RULES

    class Fails(tnn.Module):
        def forward(self, x: Any) -> Any:
            return x.view(-1, 7)  # 2 x 4 x 3 x 3 = 72 elements: no multiple of 7

    monkeypatch.setitem(_RULES, Fails, lambda m: nn.Identity())  # a wrong rule: torch fails here, convcalc later
    model = tnn.Sequential(tnn.Conv2d(1, 4, 3), Fails(), tnn.Flatten(), tnn.Linear(5, 2))
    report = convcalc.verify(model, (2, 1, 5, 5), device="cpu")
    assert (report.agree, report.plan_layer, report.torch_layer) == (False, "3", "1")
    assert "MISMATCH (both reject, at different layers: convcalc at 3, torch at 1)" in str(report)


def test_cli_verify_exits_1_when_both_reject_at_the_same_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """The plan is right there, but the model does not run at that size: report.ok is False, exit status 1."""
    from convcalc.cli import main

    assert main(["verify", "tests/specs/seed003_cnn.toml", "--device", "cpu", "--input", "1x1x3x3"]) == 1
    assert "both reject, at the same layer" in capsys.readouterr().out


class _InPlaceShortcut(tnn.Module):
    """``out += x`` where ``x`` has more channels: ``out + x`` would broadcast, the in-place form cannot."""

    def __init__(self, inplace: bool) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(2, 1, 3, padding=1)
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.inplace:
            out += x
        else:
            out = out + x
        return out


def test_an_in_place_add_keeps_its_first_operand_shape() -> None:
    x = torch.zeros(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        _InPlaceShortcut(inplace=True)(x)
    with pytest.raises(
        convcalc.ShapeError, match=r"in-place operation writes into its first operand of shape \(1, 1, 5, 5\)"
    ):
        convcalc.plan(_InPlaceShortcut(inplace=True), (1, 2, 5, 5))
    assert _InPlaceShortcut(inplace=False)(x).shape == (1, 2, 5, 5)
    assert convcalc.plan(_InPlaceShortcut(inplace=False), (1, 2, 5, 5)).output_shape == (1, 2, 5, 5)
