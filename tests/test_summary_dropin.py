"""convcalc.summary against the real torchinfo 1.8 summary: same table, same totals, no forward pass.

Every expected table is printed by ``torchinfo.summary`` with the same arguments, which runs the module.
One difference is normalised, and only this one: torchinfo 1.8.0 on Python 3.11+ prints its unit enum in the
mult-adds line (``Total mult-adds (Units.MEGABYTES): 1.23``); convcalc prints the ``(M)`` torchinfo means (and
prints on Python 3.10). The memory lines are compared as printed: convcalc sizes the input as torchinfo does
(``sys.getsizeof`` of the input's storage: its bytes plus the storage object).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import build_nesting, torch_nestings

import convcalc
from convcalc import zoo
from tests.torchinfo_text import their_text

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")
nn = torch.nn
F = torch.nn.functional

from test_torchinfo_layout import BasicBlock  # noqa: E402 - torchvision's block, written once for both files

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALL_COLUMNS = ("input_size", "output_size", "num_params", "params_percent", "kernel_size", "mult_adds", "trainable")
OPTIONS: list[dict[str, Any]] = [
    {},
    {"col_names": ALL_COLUMNS},
    {"col_names": ALL_COLUMNS, "depth": 1, "row_settings": ("var_names", "ascii_only")},
    {"col_names": ("kernel_size", "mult_adds", "trainable"), "depth": 2, "row_settings": ("var_names", "depth")},
    {"col_names": ("input_size", "params_percent"), "depth": 10, "row_settings": (), "col_width": 18},
]


def their_lines(stats: Any) -> list[str]:
    return their_text(stats).splitlines()


def assert_same(module: Any, options: list[dict[str, Any]] = OPTIONS, **inputs: Any) -> None:
    """The whole table, line by line, and the totals and rows, for each set of options."""
    for kw in options:
        # on the CPU: torchinfo moves the model to CUDA where there is one, but forwards make tensors on the CPU
        theirs = torchinfo.summary(module, verbose=0, device="cpu", **inputs, **kw)
        ours = convcalc.summary(module, verbose=0, **inputs, **kw)
        assert str(ours).splitlines() == their_lines(theirs), kw
        assert ours.total_params == theirs.total_params
        assert ours.trainable_params == theirs.trainable_params
        assert ours.total_mult_adds == theirs.total_mult_adds
        assert ours.total_input == theirs.total_input
        assert ours.total_output_bytes == theirs.total_output_bytes
        assert ours.total_param_bytes == theirs.total_param_bytes
        assert [
            (r.class_name, r.var_name, r.depth, r.depth_index, r.is_recursive, r.is_leaf_layer)
            for r in ours.summary_list
        ] == [
            (r.class_name, r.var_name, r.depth, r.depth_index, r.is_recursive, r.is_leaf_layer)
            for r in theirs.summary_list
        ]
        for a, b in zip(ours.summary_list, theirs.summary_list, strict=True):
            assert (a.num_params, a.trainable_params, a.output_size, a.trainable) == (
                b.num_params,
                b.trainable_params,
                b.output_size,
                b.trainable,
            ), a
            if a.is_leaf_layer:
                assert (a.macs, a.input_size, a.kernel_size) == (b.macs, b.input_size, b.kernel_size), a


# --------------------------------------------------------------------------- #
# the zoo, built as torch modules
# --------------------------------------------------------------------------- #

SMALL_INPUTS = {
    "lenet5": (1, 1, 32, 32),
    "mnist_cnn": (2, 1, 28, 28),
    "seed000_cnn": (1, 1, 28, 28),
    "alexnet": (1, 3, 64, 64),
    "alexnet2012": (1, 3, 227, 227),
    "unet": (1, 1, 188, 188),
}
TORCH_ZOO = sorted(name for name in zoo.MODELS if name != "seed002_keras")


@pytest.mark.parametrize("name", TORCH_ZOO)
def test_zoo_matches_torchinfo(name: str) -> None:
    with torch.device("meta"):  # shapes, not values: skip initialising millions of weights
        module = zoo.get(name).to_torch()
    module = module.to_empty(device="cpu")
    assert_same(module, OPTIONS[:2], input_size=SMALL_INPUTS.get(name, (1, 3, 32, 32)))


# --------------------------------------------------------------------------- #
# models written by hand: the ways people write torch modules
# --------------------------------------------------------------------------- #


class ResNetish(nn.Module):
    """A stem, a ModuleList of blocks looped in forward, a ModuleDict head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.ModuleList([BasicBlock(8, 8, 1), BasicBlock(8, 16, 2)])
        self.head = nn.ModuleDict({"pool": nn.AdaptiveAvgPool2d(1), "drop": nn.Dropout(0.2)})
        self.fc = nn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.fc(torch.flatten(self.head["drop"](self.head["pool"](x)), 1))


class Frozen(nn.Module):
    """A frozen backbone (non-trainable parameters) and a partly frozen head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, stride=2))
        self.head = nn.Linear(8 * 2 * 2, 5)
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.head.bias.requires_grad_(False)

    def forward(self, x: Any) -> Any:
        return self.head(self.backbone(x).flatten(1))


class Shared(nn.Module):
    """One convolution called three times: the later calls are ``(recursive)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        for _ in range(3):
            x = self.act(self.conv(x))
        return x


class Interleaved(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(3))
        self.norms = nn.ModuleList(nn.BatchNorm2d(4) for _ in range(3))

    def forward(self, x: Any) -> Any:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x)))
        return x


class Conv1dNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(2, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 16, 3))

    def forward(self, x: Any) -> Any:
        return self.classifier(self.features(x))


class Decoder(nn.Module):
    """Transposed convolutions and an upsample: the kernel column shows ints and lists."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 2, stride=2), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(4, 1, 1)
        )
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)

    def forward(self, x: Any) -> Any:
        return self.pool(self.up(x))


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x: Any, y: Any) -> Any:
        return self.a(x) + self.b(y)


class Depthwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)

    def forward(self, x: Any) -> Any:
        return F.relu6(self.bn(self.pw(self.dw(x))))


class LayerScale(nn.Module):
    """timm's LayerScale: a parameter named ``gamma``, which torchinfo does not count in mult-adds."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Any) -> Any:
        return x * self.gamma


class GainConv(nn.Conv2d):
    """nfnet's ScaledStdConv2d in short: a ``gain`` beside the weight (not counted by torchinfo)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1))

    def forward(self, x: Any) -> Any:
        return F.conv2d(x, self.weight * self.gain, self.bias, self.stride, self.padding)


class NamedWeights(nn.Module):
    """Parameters named otherwise than ``weight`` and ``bias``: torchinfo counts a name that contains one of
    them (``weight_g``, ``weight_v`` of ``weight_norm``) once per element of the output's first two axes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = GainConv(3, 4, 3, padding=1)
        self.scale = LayerScale(5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.fc = nn.utils.weight_norm(nn.Linear(5, 6))

    def forward(self, x: Any) -> Any:
        return self.fc(self.scale(self.conv(x).flatten(2)[..., :5]))


class Heads(nn.Module):
    """A child that returns a dict and one that returns a tuple: torchinfo shows the dict's last value and the
    tuple's first tensor on their lines."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 6, 3)

    def forward(self, x: Any) -> Any:
        return {"wide": self.a(x), "small": self.b(x)}


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 2)

    def forward(self, x: Any) -> Any:
        return x.mean((2, 3)), self.fc(x.mean((2, 3)))


class Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.heads, self.pair = Heads(), Pair()

    def forward(self, x: Any) -> Any:
        out = self.heads(x)
        return self.pair(out["small"])[1] + out["wide"].mean((1, 2, 3))[:, None]


class FunctionalConv(nn.Module):
    """A module without children whose forward applies its own tensors functionally: torchinfo counts a
    parameter named ``weight`` once per sample (no ``Conv`` in the class name), ``kernel`` not at all."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.weight = nn.Parameter(torch.randn(8, 8, 1, 1))

    def forward(self, x: Any) -> Any:
        return F.conv2d(F.conv2d(x, self.kernel), self.weight)


class AddCoords(nn.Module):
    """CoordConv: a forward torch's machinery plans (linspace of a size), listed once as torchinfo lists it."""

    def forward(self, x: Any) -> Any:
        b, _, h, w = x.size()
        xx = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
        return torch.cat([x, xx], dim=1)


class MixedPrecision(nn.Module):
    """A float64 head on a float32 body, and a complex weight: each layer's parameters and output are sized by
    its own dtype, as torchinfo sizes them."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(16, 16)
        self.head = nn.Linear(16, 8).double()
        self.spectral = nn.Linear(9, 9, bias=False)
        self.spectral.weight = nn.Parameter(torch.ones(9, 9, dtype=torch.cfloat))

    def forward(self, x: Any) -> Any:
        y = self.spectral(torch.fft.rfft(self.body(x)))
        return self.head(torch.fft.irfft(y, n=16).double())


class SpectralMix(nn.Module):
    """A Fourier layer of the user's (FNO): complex weights, a real output. Its parameters are sized as complex,
    its output as the float it is."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.ones(4, 4, 3, dtype=torch.cfloat))

    def forward(self, x: Any) -> Any:
        spectrum = torch.fft.rfft(x)
        return torch.fft.irfft(torch.einsum("bix,iox->box", spectrum, self.weights), n=x.shape[-1])


class UnusedNamesake(nn.Module):
    """``F.relu`` beside a ``self.relu`` the forward never calls (PointNet's STN), and ``F.linear`` on a Linear's
    weight beside the Linear's own call: fx names those operations ``relu`` and ``linear``, the modules' names."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.linear = nn.Linear(4, 4)

    def forward(self, x: Any) -> Any:
        x = torch.nn.functional.relu(self.conv(x)).mean([2, 3])
        return self.linear(torch.nn.functional.linear(x, self.linear.weight))


class ListFuse(nn.Module):
    """HRNet's fuse layer: a forward over a list (``list(xs)``, which torch.fx cannot trace) returning a list."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)

    def forward(self, xs: Any) -> Any:
        xs = list(xs)
        return [self.a(xs[0]), self.b(xs[1])]


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.fuse = nn.Conv2d(3, 4, 3), ListFuse()

    def forward(self, x: Any) -> Any:
        y = self.stem(x)
        return self.fuse([y, torch.nn.functional.max_pool2d(y, 2)])


HAND_WRITTEN = {
    "unused_namesake": (UnusedNamesake, (1, 3, 8, 8)),
    "list_fuse": (lambda: Branches().eval(), (1, 3, 10, 10)),
    "empty_sequential": (  # GhostNet's ``nn.ReLU() if relu else nn.Sequential()``
        lambda: nn.Sequential(nn.Conv2d(3, 6, 1), nn.Sequential(nn.BatchNorm2d(6), nn.Sequential())).eval(),
        (2, 3, 8, 8),
    ),
    "norms_without_parameters": (  # their outputs are not in torchinfo's forward/backward size
        lambda: nn.Sequential(
            nn.Conv2d(3, 4, 3),
            nn.InstanceNorm2d(4),
            nn.BatchNorm2d(4, affine=False),
            nn.GroupNorm(2, 4, affine=False),
            nn.LayerNorm([4, 6, 6], elementwise_affine=False),
            nn.InstanceNorm2d(4, affine=True),
        ).eval(),
        (1, 3, 8, 8),
    ),
    "mixed_precision": (MixedPrecision, (2, 16)),
    "spectral_mix": (lambda: nn.Sequential(nn.Conv1d(2, 4, 1), SpectralMix(), nn.Conv1d(4, 1, 1)), (2, 2, 5)),
    "functional_conv": (FunctionalConv, (2, 3, 6, 6)),
    "coord_conv": (lambda: nn.Sequential(AddCoords(), nn.Conv2d(4, 8, 3)), (2, 3, 9, 13)),
    "spectral_norm_conv": (lambda: nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(3, 8, 3))), (2, 3, 8, 8)),
    "spectral_norm_linear": (lambda: nn.Sequential(nn.utils.spectral_norm(nn.Linear(3, 8))), (2, 3)),
    "nested_outputs": (Nested, (2, 3, 6, 6)),
    "named_weights": (NamedWeights, (2, 3, 4, 4)),
    "resnetish": (ResNetish, (2, 3, 16, 16)),
    "frozen": (Frozen, (1, 3, 16, 16)),
    "called_thrice": (Shared, (1, 4, 5, 5)),
    "interleaved": (Interleaved, (1, 4, 6, 6)),
    "conv1d": (Conv1dNet, (2, 2, 32)),
    "decoder": (Decoder, (1, 8, 4, 4)),
    "depthwise": (Depthwise, (1, 8, 8, 8)),
    "single_conv": (lambda: nn.Conv2d(3, 4, 3), (1, 3, 7, 7)),
    "sequential": (
        lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 3))),
        (1, 1, 9, 9),
    ),
    "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 2)), (4, 3, 2, 2)),
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_models_match_torchinfo(name: str) -> None:
    build, shape = HAND_WRITTEN[name]
    torch.manual_seed(0)
    model = build()
    assert_same(model, input_size=shape)
    theirs = torchinfo.summary(model, input_size=shape, verbose=0, device="cpu").total_mult_adds
    assert convcalc.plan(model, shape, macs="torchinfo").macs * shape[0] == theirs
    assert convcalc.plan(model, shape).total_mult_adds == theirs


@settings(max_examples=15, deadline=None)
@given(recipe=torch_nestings(), depth=st.integers(0, 5), columns=st.sets(st.sampled_from(ALL_COLUMNS), min_size=1))
def test_random_nestings_match_torchinfo(recipe: Any, depth: int, columns: set[str]) -> None:
    module = build_nesting(recipe)
    cols = tuple(sorted(columns))
    assert_same(
        module, [{"depth": depth, "col_names": cols, "row_settings": ("depth", "var_names")}], input_size=(1, 3, 4, 4)
    )


# --------------------------------------------------------------------------- #
# the arguments: input_data, several inputs, batch_dim, dtypes, verbose
# --------------------------------------------------------------------------- #


def test_input_data_uses_only_shapes_and_dtypes() -> None:
    module = Depthwise()
    data = torch.randn(2, 8, 8, 8)
    assert_same(module, OPTIONS[:2], input_data=data)
    assert_same(module, OPTIONS[:1], input_data=[data])


def test_several_inputs() -> None:
    module = TwoInputs()
    assert_same(module, OPTIONS[:2], input_size=[(1, 3, 6, 6), (1, 1, 6, 6)])
    assert_same(module, OPTIONS[:1], input_data=[torch.randn(2, 3, 6, 6), torch.randn(2, 1, 6, 6)])


def test_batch_dim() -> None:
    module = Depthwise()
    assert_same(module, OPTIONS[:2], input_size=(8, 8, 8), batch_dim=0)
    assert_same(module, OPTIONS[1:2], input_data=torch.randn(3, 8, 8, 8), batch_dim=0)


def test_dtypes_size_the_input() -> None:
    module = nn.Sequential(nn.Embedding(20, 6), nn.Flatten(), nn.Linear(30, 2))
    assert_same(module, OPTIONS[:2], input_size=(2, 5), dtypes=[torch.long])


@pytest.mark.parametrize(
    "norm", [nn.BatchNorm2d(4), nn.GroupNorm(2, 4), nn.InstanceNorm2d(4, affine=True), nn.LayerNorm(6)]
)
def test_a_normalisation_kept_in_float32_of_a_half_model_gives_half_outputs(norm: nn.Module) -> None:
    # torch's normalisations take a float16 input beside float32 weights and keep the input's dtype
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Identity(), nn.Flatten(), nn.Linear(144, 2)).half()
    module[1] = norm.float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchinfo: half precision on the CPU, with input_size
        assert_same(module, OPTIONS[:1], input_size=(2, 3, 6, 6), dtypes=[torch.float16])


def test_the_model_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x: Any) -> Any:
            return self.conv(x)

    model = Exploding()
    # not even on the meta device: no convolution is computed
    monkeypatch.setattr(nn.Conv2d, "_conv_forward", lambda *_: pytest.fail("the model ran"))
    stats = convcalc.summary(model, input_size=(1, 3, 8, 8), verbose=0)
    assert stats.total_params == 112
    assert stats.total_mult_adds == 112 * 36


def test_verbose_prints_and_quiet_does_not(capsys: Any) -> None:
    stats = convcalc.summary(Depthwise(), input_size=(1, 8, 8, 8))
    assert capsys.readouterr().out == f"{stats}\n"
    convcalc.summary(Depthwise(), input_size=(1, 8, 8, 8), verbose=0)
    assert capsys.readouterr().out == ""


def test_convcalc_nn_models_are_summarised_like_their_torch_modules() -> None:
    spec = zoo.lenet5()
    with torch.device("meta"):
        module = spec.to_torch()
    module = module.to_empty(device="cpu")
    kw = {"input_size": (1, 1, 32, 32), "col_names": ALL_COLUMNS, "verbose": 0}
    assert str(convcalc.summary(spec, **kw)) == str(convcalc.summary(module, **kw))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"give input_size .* or input_data"),
        ({"input_size": (1, 3, 8, 8), "input_data": torch.zeros(1, 3, 8, 8)}, "not both"),
        (
            {"input_size": (1, 3, 8, 8), "col_names": ("params",)},
            r"col_names must be among .*Received: col_names='params'",
        ),
        ({"input_size": (1, 3, 8, 8), "row_settings": ("tree",)}, r"row_settings must be among"),
        ({"input_size": (1, 3, 8, 8), "verbose": 2}, r"verbose=2 lists each weight tensor"),
        ({"input_size": (1, 3, 8, 8), "verbose": 3}, r"verbose must be 0 \(quiet\) or 1"),
        ({"input_size": (1, 3, 8, 8), "col_width": 0}, r"col_width must be an int from 1 to 10000"),
        ({"input_size": (1, 3, 8, 8), "col_width": 10**30}, r"col_width must be an int from 1 to 10000"),
        ({"input_size": (1, 3, 8, 8), "depth": -1}, r"depth must be an int >= 0"),
        ({"input_size": (1, 3, 8, 8), "mode": "test"}, r"mode must be 'train' or 'eval'"),
        ({"input_size": (1, 3, 8, 8), "mask": torch.zeros(1)}, r"tensors passed to forward as keywords"),
        ({"input_size": (1, 3, 8, 8), "batch_dim": -1}, r"batch_dim must be an int >= 0"),
        ({"input_size": (1, 3, 8, 8), "colnames": ("input_size",)}, r"no argument 'colnames'.*mean 'col_names'\?"),
        ({"input_size": (1, 3, 8, 8), "scale": 2}, r"forward takes none of that name .*TypeError\)\. Received"),
        ({"input_size": (1, 3, 8.0, 8)}, r"input_size must be a shape of ints .*input_size\[2\] is 8\.0"),
        ({"input_size": [(1, 3, 8, 8), None]}, r"or a list of such shapes .*input_size\[1\] is None"),
        ({"input_size": [(1, 3, 8, 8), 5]}, r"or a list of such shapes .*input_size\[1\] is 5\."),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(convcalc.SpecError, match=message):
        convcalc.summary(nn.Conv2d(3, 4, 3), **{"verbose": 0, **kwargs})


def test_torchinfo_enum_values_are_accepted() -> None:
    from torchinfo.enums import ColumnSettings, RowSettings

    module = Depthwise()
    kw = {
        "col_names": (ColumnSettings.KERNEL_SIZE, ColumnSettings.NUM_PARAMS),
        "row_settings": (RowSettings.VAR_NAMES,),
    }
    assert_same(module, [kw], input_size=(1, 8, 8, 8))


class CatBatches(nn.Module):
    """Two inputs run as one batch (a Siamese network's shared backbone), then split again."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(6, 2)

    def forward(self, a: Any, b: Any) -> Any:
        return self.fc(self.conv(torch.cat([a, b], 0))).chunk(2, 0)


def test_mult_adds_count_the_batch_each_call_ran_on() -> None:
    """torchinfo multiplies each call by its own output's first size: here twice the input's batch."""
    sizes = [(2, 3, 8, 8), (2, 3, 8, 8)]
    assert_same(CatBatches(), OPTIONS[:2], input_size=sizes)
    theirs = torchinfo.summary(CatBatches(), input_size=sizes, verbose=0, device="cpu").total_mult_adds
    # by torchinfo's rule: a convolution's parameters times batch x positions, the Linear's times its first size
    assert convcalc.plan(CatBatches(), sizes).total_mult_adds == theirs == 4 * 112 * 36 + 4 * 14


# --------------------------------------------------------------------------- #
# the corpus: models as people write them
# --------------------------------------------------------------------------- #


def _corpus() -> list[tuple[str, Any, Any]]:
    from corpus_models import CORPUS

    return CORPUS


# Where the table still differs from torchinfo's (strict: a fix makes these fail until they are taken out).
TABLE_DIFFERS = {
    "ScriptDepthNet": "torchinfo's hooks do not see a TorchScript submodule called: it lists it first, without "
    "shapes, where convcalc lists it where the forward calls it",
    "ScriptAskNet": "as ScriptDepthNet",
    "TCN": "a module shared by two parents (self.conv1 and self.net[0]) is listed once, under its first name",
    "RNNModel": "a tied weight (tie_weights) is counted once, where torchinfo counts it again under the decoder",
    "YoloV5Mini": "torchinfo measures a module's input after the call: the list Detect assigns into shows its new "
    "contents, where convcalc shows what the module was given",
}


def _corpus_cases() -> list[Any]:
    return [
        pytest.param(*case, id=case[0], marks=pytest.mark.xfail(reason=TABLE_DIFFERS[case[0]], strict=True))
        if case[0] in TABLE_DIFFERS
        else pytest.param(*case, id=case[0])
        for case in _corpus()
    ]


@pytest.mark.parametrize(("name", "factory", "inputs"), _corpus_cases())
def test_corpus_models_match_torchinfo(name: str, factory: Any, inputs: Any) -> None:
    """Every corpus model, summarised as torchinfo 1.8 summarises it after running it: the same table in the
    default layout and with every column, the same totals (mult-adds included), row by row; and the plan's
    ``macs="torchinfo"``, per sample, times the batch."""
    torch.manual_seed(0)
    model = factory()
    if isinstance(inputs, dict):
        given: dict[str, Any] = {"input_data": {k: torch.zeros(s) for k, s in inputs.items()}}
    else:
        given = {"input_size": inputs}
    assert_same(model, options=[{}, {"col_names": ALL_COLUMNS, "depth": 10}], **given)
    # the plan's "torchinfo" convention counts per sample what torchinfo counts for the batch
    first = (
        next(iter(inputs.values())) if isinstance(inputs, dict) else inputs[0] if isinstance(inputs, list) else inputs
    )
    theirs = torchinfo.summary(model, verbose=0, device="cpu", **given)
    assert convcalc.plan(model, inputs, macs="torchinfo").macs * first[0] == theirs.total_mult_adds


def test_a_module_shared_by_two_parents_is_counted_once() -> None:
    """CoaT's shared position encodings: torchinfo counts the shared module once per parent (a total above the
    model's parameters); convcalc's total is the model's, and the mult-adds agree."""
    shared = nn.Conv2d(4, 4, 3, padding=1)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cpe, self.fc = shared, nn.Conv2d(4, 4, 1)

        def forward(self, x: Any) -> Any:
            return self.fc(self.cpe(x))

    model = nn.Sequential(Block(), Block())
    theirs = torchinfo.summary(model, (1, 4, 5, 5), verbose=0, device="cpu")
    ours = convcalc.summary(model, input_size=(1, 4, 5, 5), verbose=0)
    assert ours.total_params == sum(p.numel() for p in model.parameters()) == 188
    assert theirs.total_params > ours.total_params
    assert ours.total_mult_adds == theirs.total_mult_adds


def test_module_calls_are_the_calls_torchinfo_lists_in_its_order() -> None:
    """One walk of the plan gives the summary's layer list and the Plan's torchinfo totals: a container before
    what it calls, a leaf whose forward is read step by step as one call with its output, no functional
    operation, a module called twice twice."""

    class StepLinear(nn.Linear):
        def forward(self, x: Any) -> Any:
            return nn.functional.linear(x, self.weight, self.bias)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
            self.head = StepLinear(4, 2)

        def forward(self, x: Any) -> Any:
            y = self.body(x).mean((2, 3))
            return self.head(self.head(y)[:, :1].expand(-1, 4) + 1)

    model = Net()
    plan = convcalc.plan(model, (2, 3, 8, 8))
    calls = [
        (c.path, c.kind, c.input_shape, c.output_shape, c.leaf, c.group, c.row is not None) for c in plan.module_calls()
    ]
    assert calls == [
        ("body", "Sequential", (2, 3, 8, 8), (2, 4, 6, 6), False, True, False),
        ("body.0", "Conv2d", (2, 3, 8, 8), (2, 4, 6, 6), True, False, True),
        ("body.1", "ReLU", (2, 4, 6, 6), (2, 4, 6, 6), True, False, True),
        ("head", "StepLinear", (2, 4), (2, 2), True, True, True),
        ("head", "StepLinear", (2, 4), (2, 2), True, True, True),
    ]
    theirs = torchinfo.summary(model, (2, 3, 8, 8), verbose=0, device="cpu")
    assert plan.total_mult_adds == theirs.total_mult_adds
    assert convcalc.summary(model, input_size=(2, 3, 8, 8), verbose=0).total_mult_adds == theirs.total_mult_adds


@pytest.mark.parametrize("bias", [True, False])
def test_a_tied_weight_is_counted_once_and_the_mult_adds_are_torchinfos(bias: bool) -> None:
    """A language model's output layer holding the embedding's weight: torchinfo counts the weight under both
    modules (a total above the model's parameters); convcalc counts it once, at the embedding, and lists the
    output layer with what it holds of its own (its bias). The mult-adds, the memory and the layout agree."""

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.out = nn.Embedding(10, 4), nn.Linear(4, 10, bias=bias)
            self.out.weight = self.emb.weight

        def forward(self, x: Any) -> Any:
            return self.out(self.emb(x))

    model, size = Tied(), {"input_size": (2, 5), "dtypes": [torch.long]}
    theirs = torchinfo.summary(model, verbose=0, device="cpu", **size)
    ours = convcalc.summary(model, verbose=0, **size)
    assert ours.total_params == sum(p.numel() for p in model.parameters()) == 40 + 10 * bias
    assert theirs.total_params == 80 + 10 * bias
    assert ours.total_mult_adds == theirs.total_mult_adds == 80 + (80 + 20 * bias)
    assert ours.total_output_bytes == theirs.total_output_bytes
    ours_rows = [(r.class_name, r.is_recursive, r.num_params) for r in ours.summary_list]
    assert ours_rows == [("Tied", False, 40 + 10 * bias), ("Embedding", False, 40), ("Linear", False, 10 * bias)]
    assert [(r.class_name, r.is_recursive) for r in theirs.summary_list] == [r[:2] for r in ours_rows]
    plan = convcalc.plan(model, (2, 5), macs="torchinfo")
    assert plan.total_mult_adds == plan.macs * 2 == theirs.total_mult_adds


class LazyNet(nn.Module):
    """d2l.ai's style: lazy layers, whose sizes come from the first forward (torchinfo runs it; convcalc does
    not, and leaves them uninitialised)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.LazyConv2d(8, 3)
        self.bn = nn.LazyBatchNorm2d()
        self.fc = nn.LazyLinear(4)

    def forward(self, x: Any) -> Any:
        return self.fc(torch.flatten(torch.relu(self.bn(self.c1(x))), 1))


def test_lazy_layers_are_summarised_as_torchinfo_sees_them_after_its_forward() -> None:
    """torchinfo's forward materialises the lazy layers (Conv2d, not LazyConv2d, with their weights); convcalc
    reads the same sizes from the input and leaves the model as it was."""
    for kw in OPTIONS:
        model = LazyNet().eval()
        ours = convcalc.summary(model, input_size=(2, 3, 8, 8), verbose=0, **kw)
        assert any(isinstance(p, nn.parameter.UninitializedParameter) for p in model.parameters())
        theirs = torchinfo.summary(LazyNet().eval(), input_size=(2, 3, 8, 8), verbose=0, device="cpu", **kw)
        assert str(ours).splitlines() == their_lines(theirs), kw
        assert (ours.total_params, ours.total_mult_adds, ours.total_output_bytes) == (
            theirs.total_params,
            theirs.total_mult_adds,
            theirs.total_output_bytes,
        )
    assert convcalc.plan(LazyNet().eval(), (2, 3, 8, 8)).total_params == 1396


def _pruned_net() -> Any:
    """A model pruned with ``torch.nn.utils.prune``: a weight by L1, a bias at random with its original frozen,
    a Linear's rows by their norm, a convolution's bias by a global pruning, and one pruning made permanent."""
    from torch.nn.utils import prune

    torch.manual_seed(0)
    conv, head, last = nn.Conv2d(3, 8, 3), nn.Linear(8 * 14 * 14, 10), nn.Conv2d(8, 4, 1)
    prune.l1_unstructured(conv, "weight", amount=0.3)
    prune.random_unstructured(head, "bias", amount=0.5)
    head.bias_orig.requires_grad_(False)
    prune.ln_structured(head, "weight", amount=0.5, n=2, dim=0)
    prune.global_unstructured([(conv, "bias")], pruning_method=prune.L1Unstructured, amount=0.25)
    prune.l1_unstructured(last, "weight", amount=0.5)
    prune.remove(last, "weight")  # a plain weight again, its zeros kept
    block = nn.Sequential(conv, nn.BatchNorm2d(8))
    return nn.Sequential(
        block, last, nn.Upsample(size=(14, 14)), nn.Flatten(), nn.Linear(4 * 14 * 14, 8 * 14 * 14), head
    )


def test_pruned_weights_are_counted_as_torchinfo_counts_them() -> None:
    """torchinfo counts a pruned parameter (``weight_orig`` beside a ``weight_mask``) by the mask's ones, in
    the module's parameters, its ancestors', the totals, the parameters' bytes and the mult-adds; the plan
    counts every element, as ``parameters()`` does."""
    model = _pruned_net().eval()
    assert_same(model, input_size=(2, 3, 16, 16))
    every = sum(p.numel() for p in model.parameters())
    ours = convcalc.summary(model, input_size=(2, 3, 16, 16), verbose=0)
    assert convcalc.plan(model, (2, 3, 16, 16)).total_params == every > ours.total_params


def _hooked_nets() -> list[Any]:
    """Hooks on layers that hold parameters, as feature extraction and Grad-CAM code registers them: one that
    returns nothing, a pre-hook, a hook with keywords, and hooks that change the input or the output."""
    torch.manual_seed(0)
    nets = []
    net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU()), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))
    net[0][0].register_forward_hook(lambda module, args, out: None)
    nets.append(net)
    net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU()), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))
    net[2].register_forward_pre_hook(lambda module, args: None)
    net[0][0].register_forward_hook(lambda module, args, kwargs, out: out * 2, with_kwargs=True)
    nets.append(net)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    net[0].register_forward_pre_hook(lambda module, args: (args[0][:, :, ::2, ::2],))
    net[0].register_forward_hook(lambda module, args, out: out[:, :, 1:, 1:])
    nets.append(net)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 2))
    net[0].register_forward_hook(lambda module, args, out: out[:, :2])
    nets.append(net)
    net = _FunctionalBeside()
    net.head.register_forward_hook(lambda module, args, out: out.mean((2, 3)))
    nets.append(net)
    net = _FunctionalBeside()
    net.head.register_forward_pre_hook(lambda module, args: (args[0][:, :, 1:, 1:],))
    nets.append(net)
    return nets


class _FunctionalBeside(nn.Module):
    """A hooked layer called in a forward read step by step (a function beside it): its call, with what it returns
    after its hooks, was not listed, so the table showed the layer's own output and counted it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: Any) -> Any:
        return self.head(F.relu(self.a(x)))


@pytest.mark.parametrize("index", range(6))
def test_hooked_layers_are_counted_with_the_input_and_output_their_call_has(index: int) -> None:
    """A layer with hooks is run by torch's machinery; its call counted no mult-adds and no output bytes (the
    hooked Conv2d of the first net: 1,152,080 mult-adds for torchinfo's 4,377,680)."""
    net = _hooked_nets()[index].eval()
    shape = (8, 3, 16, 16) if index == 2 else (8, 3, 8, 8)
    assert_same(net, input_size=shape)
    ours = convcalc.summary(net, input_size=shape, verbose=0)
    assert convcalc.plan(net, shape, macs="torchinfo").macs * 8 == ours.total_mult_adds


class _Adapted(nn.Module):
    """A body whose hooks call other modules of the model: an input adapter or LoRA path added by a hook."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
        self.adapter = nn.Linear(16, 16)  # with a bias: a CPU bias added to a meta tensor fails

    def forward(self, x: Any) -> Any:
        return self.net(x)


def _hooks_calling_modules() -> dict[str, Any]:
    """Hooks of each placement that call one of the model's own modules (closures over the model)."""
    placed = {
        "pre-hook on the model": lambda m: m.register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
        "pre-hook on a container": lambda m: m.net.register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
        "pre-hook on a leaf": lambda m: m.net[0].register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
        "keywords pre-hook on a leaf": lambda m: m.net[0].register_forward_pre_hook(
            lambda mod, a, kw: ((m.adapter(a[0]),), kw), with_kwargs=True
        ),
        "pre-hook on the last leaf": lambda m: m.net[2].register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
        "post-hook on a leaf": lambda m: m.net[0].register_forward_hook(lambda mod, a, o: o + m.adapter(a[0])),
        "post-hook on a container": lambda m: m.net.register_forward_hook(lambda mod, a, o: o + m.adapter(a[0])[:, :4]),
        "pre- and post-hook on a leaf": lambda m: (
            m.net[0].register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
            m.net[0].register_forward_hook(lambda mod, a, o: o + m.adapter(o)),
        ),
        "two pre-hooks on a leaf": lambda m: (
            m.net[0].register_forward_pre_hook(lambda mod, a: (m.adapter(a[0]),)),
            m.net[0].register_forward_pre_hook(lambda mod, a: (a[0] * 2,)),
        ),
        "a product in a pre-hook": lambda m: m.net[0].register_forward_pre_hook(lambda mod, a: (a[0] @ m.P,)),
    }

    def made(add: Any) -> Any:
        model = _Adapted().eval()
        model.P = nn.Parameter(torch.randn(16, 16))
        add(model)
        return model

    return {name: made(add) for name, add in placed.items()}


def _torch_macs(model: Any, x: Any) -> int:
    """Multiply-accumulates per sample as torch's FlopCounterMode counts them (two FLOPs each)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(x)
    flops = counter.get_total_flops()
    assert flops % (2 * x.shape[0]) == 0
    return flops // (2 * x.shape[0])


@pytest.mark.parametrize("name", list(_hooks_calling_modules()))
def test_modules_called_in_hooks_run_on_their_meta_copies_and_count(name: str) -> None:
    """A hook that calls one of the model's modules (a closure over the user's model) ran it on the CPU inside
    the meta pass: refused where the module has a bias ("Tensor on device cpu is not on the expected device
    meta"); and what a layer's own pre-hooks call was taken as inside the layer, its work lost (a 1x1 adapter's
    900 MACs of 25,700). torch's count of the work and torchinfo's rows (where its totals are right: it counts a
    module called again under a second parent once more) are the plan's and the summary's."""
    model = _hooks_calling_modules()[name]
    x = torch.randn(3, 16)
    with torch.no_grad():
        out = model(x)
    plan = convcalc.plan(model, (3, 16))
    assert plan.output_shape == tuple(out.shape)
    assert plan.macs == _torch_macs(model, x)
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    theirs = torchinfo.summary(model, input_data=x, verbose=0, device="cpu", col_names=ALL_COLUMNS)
    ours = convcalc.summary(model, input_data=x, verbose=0, col_names=ALL_COLUMNS)
    assert (ours.total_mult_adds, ours.total_output_bytes) == (theirs.total_mult_adds, theirs.total_output_bytes)
    assert ours.total_params == plan.total_params
    rows = list(theirs.summary_list)
    if name == "pre-hook on the model":  # torchinfo lists the model after the adapter its own pre-hook calls
        rows[:2] = rows[1::-1]
    assert [(r.class_name, r.var_name, r.depth, r.depth_index, r.is_recursive) for r in ours.summary_list] == [
        (r.class_name, r.var_name, r.depth, r.depth_index, r.is_recursive) for r in rows
    ]
    for a, b in zip(ours.summary_list, rows, strict=True):
        assert a.output_size == b.output_size, a
        if a.is_leaf_layer:
            assert (a.macs, a.input_size) == (b.macs, b.input_size), a


def test_a_conv_adapter_in_a_pre_hook_is_counted() -> None:
    """A leaf's pre-hook calling an input adapter (a 1x1 convolution, trainable beside a frozen body): its
    row and its 900 MACs per sample, listed before the layer as torchinfo lists it."""
    model = _Body(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1)))
    model.adapter = nn.Conv2d(3, 3, 1)
    model.body.requires_grad_(False)
    model.body[0].register_forward_pre_hook(lambda mod, args: (model.adapter(args[0]),))
    x = torch.randn(2, 3, 10, 10)
    plan = convcalc.plan(model, tuple(x.shape))
    assert [(r.name, r.macs) for r in plan.rows if r.macs] == [("adapter", 900), ("body.0", 21600), ("body.2", 3200)]
    assert plan.macs == _torch_macs(model, x) == 25700
    theirs = torchinfo.summary(model, input_data=x, verbose=0, device="cpu")
    ours = convcalc.summary(model, input_data=x, verbose=0)
    # (a container's macs are 0 here: see docs/howto/torchinfo.md)
    assert [(r.var_name, r.depth_index, r.is_leaf_layer and r.macs) for r in ours.summary_list] == [
        (r.var_name, r.depth_index, r.is_leaf_layer and r.macs) for r in theirs.summary_list
    ]
    assert (ours.total_mult_adds, ours.total_output_bytes) == (theirs.total_mult_adds, theirs.total_output_bytes)


class _Body(nn.Module):
    def __init__(self, body: Any) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Any) -> Any:
        return self.body(x)


class _MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 8)

    def forward(self, x: Any) -> Any:
        return self.fc2(F.relu(self.fc1(x)))


def _lora_nets() -> list[Any]:
    """LoRA added by hooks calling registered modules: on a layer's output, on its input, and a container as
    the adapter (a group the pre-hook's call opens before the layer's own)."""
    post = _MLP().eval().requires_grad_(False)
    post.lora_A, post.lora_B = nn.Linear(16, 4, bias=False), nn.Linear(4, 32, bias=False)
    post.fc1.register_forward_hook(lambda mod, a, out: out + post.lora_B(post.lora_A(a[0])))
    pre = _MLP().eval()
    pre.lora = nn.Sequential(nn.Linear(16, 4, bias=False), nn.Linear(4, 16, bias=False))
    pre.fc1.register_forward_pre_hook(lambda mod, a: (a[0] + pre.lora(a[0]),))
    return [post, pre]


@pytest.mark.parametrize("index", range(2))
def test_lora_hooks_calling_modules_are_listed_as_torchinfo_lists_them(index: int) -> None:
    """The modules a hook calls are rows of the summary where torchinfo's hooks see them: 3,232 mult-adds for
    torchinfo's 4,000, and 1,280 forward/backward bytes for 2,432, where they were missing."""
    model = _lora_nets()[index]
    x = torch.randn(4, 16)
    assert_same(model, input_data=x)
    assert convcalc.plan(model, (4, 16)).macs == _torch_macs(model, x)
    assert (
        convcalc.plan(model, (4, 16), macs="torchinfo").macs * 4
        == convcalc.summary(model, input_data=x, verbose=0).total_mult_adds
    )


class _LowRank(nn.Module):
    """A low-rank update of a weight (LoRA through ``register_parametrization``): parameters of its own."""

    def __init__(self, rows: int, cols: int, rank: int = 2) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(rows, rank))
        self.b = nn.Parameter(torch.zeros(rank, cols))

    def forward(self, weight: Any) -> Any:
        return weight + self.a @ self.b


class _Scale(nn.Module):
    def forward(self, weight: Any) -> Any:
        return weight * 2


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.utils.parametrizations.orthogonal(nn.Linear(4, 4))

    def forward(self, x: Any) -> Any:
        return self.lin(torch.relu(self.lin(x)))


class _Symmetric(nn.Module):
    def forward(self, weight: Any) -> Any:
        return weight.triu() + weight.triu(1).transpose(-1, -2)


class _OwnParametrized(nn.Module):
    """A parameter of the model's own, parametrized, read by its forward (which is read step by step)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))
        self.lin = nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        return self.lin(x @ self.w)


class _Factors(nn.Module):
    """A low-rank weight of two originals: its ``right_inverse`` gives the factors, its forward their product."""

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def right_inverse(self, weight: Any) -> Any:
        u, s, v = torch.linalg.svd(weight, full_matrices=False)
        return u[:, :2] * s[:2], v[:2]


class _Rotate(nn.Module):
    """A weight turned by a fixed matrix held as a buffer (no parameters of its own)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("r", torch.linalg.qr(torch.randn(n, n))[0])

    def forward(self, weight: Any) -> Any:
        return weight @ self.r


class _NormedBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 3, 1))
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: Any) -> Any:
        return self.bn(self.conv(x)) + x


def _parametrized_nets() -> list[tuple[Any, tuple[int, ...]]]:
    """torch's weight_norm, spectral_norm and orthogonal, a LoRA update with parameters of its own, two
    parametrizations chained on a weight and one on a bias, a layer called twice, and blocks."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm

    torch.manual_seed(0)
    lora = nn.Linear(256, 256)
    parametrize.register_parametrization(lora, "weight", _LowRank(256, 256, 4))
    chained = nn.Conv2d(3, 4, 3)
    parametrize.register_parametrization(chained, "weight", _Scale())
    parametrize.register_parametrization(chained, "weight", _Scale())
    parametrize.register_parametrization(chained, "bias", _Scale())
    frozen = spectral_norm(nn.Linear(12, 5))
    frozen.parametrizations.weight.original.requires_grad_(False)
    own = _OwnParametrized()
    parametrize.register_parametrization(own, "w", _Symmetric())
    factored, rotated = nn.Linear(16, 12), nn.Linear(16, 12)
    parametrize.register_parametrization(factored, "weight", _Factors())
    parametrize.register_parametrization(rotated, "weight", _Rotate(16))
    return [
        (nn.Sequential(weight_norm(nn.Conv2d(3, 8, 3)), nn.ReLU()), (2, 3, 8, 8)),
        (nn.Sequential(nn.Flatten(), frozen), (2, 3, 2, 2)),
        (nn.Sequential(lora, nn.ReLU(), nn.Linear(256, 10)), (64, 256)),
        (nn.Sequential(chained), (1, 3, 6, 6)),
        (_Twice(), (3, 4)),
        (nn.Sequential(_NormedBlock(), _NormedBlock()), (2, 3, 4, 4)),
        (own, (2, 4)),
        (nn.Sequential(factored, nn.ReLU(), nn.Linear(12, 3)), (4, 16)),
        (nn.Sequential(rotated, nn.ReLU(), nn.Linear(12, 3)), (4, 16)),
    ]


@pytest.mark.parametrize("index", range(9))
def test_parametrized_layers_are_listed_with_their_parametrizations(index: int) -> None:
    """torchinfo lists a parametrized layer's ``ModuleDict``, each ``ParametrizationList`` and each
    parametrization they call, with the parameters each holds: the layer's own row showed all of them, and a
    parametrization with parameters of its own (a LoRA update) was missing from the output and parameter
    bytes (5,120 and 10,280 bytes for torchinfo's 529,408 and 14,376). A list is called without arguments:
    no input size."""
    net, shape = _parametrized_nets()[index]
    assert_same(net.eval(), input_size=shape)
    assert convcalc.plan(net, shape).total_params == sum(p.numel() for p in net.parameters())


# (spectral_norm's power iteration, 1, and orthogonal's matrix exponential, 4: documented as not counted)
@pytest.mark.parametrize("index", [0, 2, 3, 5, 6, 7, 8])
def test_parametrized_layers_count_the_products_their_parametrizations_make(index: int) -> None:
    """The products a parametrization of the user's computes are work of the layer's call, as torch's flop
    counter counts them: a LoRA update with parameters of its own, a product of two originals, a product with a
    buffer (the last two were left out)."""
    from torch.utils.flop_counter import FlopCounterMode

    net, shape = _parametrized_nets()[index]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net.eval()(torch.randn(shape))
    assert convcalc.plan(net, shape, macs="flops").macs * shape[0] == counter.get_total_flops()


def _mha_block() -> Any:
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)


class _TokenModel(torch.nn.Module):
    """A ViT-style model holding its cls token and position embedding itself, beside its children."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = torch.nn.Conv2d(3, 24, 8, 8)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, 24))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, 17, 24))
        self.head = torch.nn.Linear(24, 10)

    def forward(self, x: Any) -> Any:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos_embed
        return self.head(t[:, 0])


@pytest.mark.parametrize(("factory", "shape"), [(_mha_block, (1, 10, 32)), (_TokenModel, (1, 3, 32, 32))])
def test_the_plan_s_torchinfo_layout_sizes_the_parameters_as_torchinfo(factory: Any, shape: Any) -> None:
    """torchinfo's "Params size" counts the parameters of leaf modules only (MultiheadAttention holds its input
    projection beside out_proj; a model holds its cls token beside its layers): Plan.summary("torchinfo") printed
    every parameter's bytes there (2.11 MB for torchinfo's 1.06 for a 256-wide encoder layer)."""
    theirs = their_text(torchinfo.summary(factory(), input_size=shape, verbose=0, device="cpu")).splitlines()
    ours = convcalc.plan(factory().eval(), shape).summary("torchinfo").splitlines()
    # (the estimated total differs by the input's storage object, which a plan does not count: documented)
    for head in ("Params size (MB)", "Total mult-adds", "Total params"):
        assert next(line for line in ours if line.startswith(head)) == next(
            line for line in theirs if line.startswith(head)
        )


def test_summary_takes_verbose_as_a_bool_as_torchinfo_does(capsys: Any) -> None:
    stats = convcalc.summary(torch.nn.Linear(4, 2), input_size=(2, 4), verbose=True)
    assert str(stats) in capsys.readouterr().out
    convcalc.summary(torch.nn.Linear(4, 2), input_size=(2, 4), verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_size": (2, 4), "dtypes": torch.float32}, r"dtypes must be a list of torch dtypes, one per input: use"),
        ({"input_data": torch.zeros(2, 4).to_sparse()}, r"input_data holds a tensor of layout torch.sparse_coo"),
        # one dtype for two inputs: torchinfo makes one tensor and the forward misses the other
        (
            {"input_size": [(2, 4), (2, 4)], "dtypes": [torch.float32]},
            r"dtypes gives 1 dtype\(s\) for 2 inputs: give one per input, such as dtypes=\[torch.float32, torch",
        ),
    ],
)
def test_what_torchinfo_fails_on_is_a_convcalc_error(options: dict[str, Any], message: str) -> None:
    """torchinfo raises TypeError and NotImplementedError here; convcalc's own error says what to give."""
    with pytest.raises(convcalc.SpecError, match=message):
        convcalc.summary(torch.nn.Linear(4, 3), verbose=0, **options)


# --------------------------------------------------------------------------- #
# Bytes of models in other dtypes than float32, by plan() and summary(), against torchinfo and the tensors
# --------------------------------------------------------------------------- #


class _TokenStem(torch.nn.Module):
    """A ViT-like stem: a patch convolution, a class token of the model's own (held beside children)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj, self.head = torch.nn.Conv2d(3, 16, 4, 4), torch.nn.Linear(16, 3)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, 16))

    def forward(self, x: Any) -> Any:
        t = self.proj(x).flatten(2).transpose(1, 2)
        return self.head(torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1)[:, 0])


class _HalfBodyFloatHead(torch.nn.Module):
    """A float16 body and token, a float32 attention head (a MultiheadAttention's in_proj is held beside its
    out_proj, in no leaf module)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Linear(8, 16).half()
        self.tok = torch.nn.Parameter(torch.zeros(1, 1, 16, dtype=torch.half))
        self.att, self.fc = torch.nn.MultiheadAttention(16, 2, batch_first=True), torch.nn.Linear(16, 2)

    def forward(self, x: Any) -> Any:
        h = (self.body(x.half()) + self.tok).float()
        return self.fc(self.att(h, h, h)[0])


class _DoubleLinear(torch.nn.Linear):
    """A subclass of a torch layer that keeps its forward: it computes in its weights' dtype, as torch's own."""


def _real_param_bytes(model: Any) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (
            lambda: torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, padding=1),
                torch.nn.BatchNorm2d(8),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
                torch.nn.Linear(8 * 8 * 8, 5),
            ),
            (2, 3, 8, 8),
        ),
        (_TokenStem, (2, 3, 8, 8)),
    ],
)
def test_a_model_in_another_dtype_is_planned_in_it(make: Any, shape: tuple[int, ...], dtype: Any) -> None:
    # plan() takes the model's dtype as summary() and torchinfo do (BatchNorm's output too, not float32's 4 bytes)
    model = make().to(dtype).eval()
    plan = convcalc.plan(model, shape)
    theirs = torchinfo.summary(model, input_size=shape, dtypes=[dtype], verbose=0)
    ours = convcalc.summary(model, input_size=shape, dtypes=[dtype], verbose=0)
    assert plan.itemsize == dtype.itemsize
    assert plan.forward_backward_bytes == ours.total_output_bytes == theirs.total_output_bytes
    assert plan.params_bytes == _real_param_bytes(model)
    with torch.no_grad():
        x = torch.zeros(shape, dtype=dtype)
        assert (plan.input_bytes, plan.output_bytes) == (x.nbytes, model(x).nbytes)
    # torchinfo's total (its "Params size" of leaf modules, its input with a storage object of 64 bytes)
    assert plan.total_bytes + 64 == theirs.total_input + theirs.total_output_bytes + theirs.total_param_bytes


@pytest.mark.parametrize("itemsize", [1, 2, 8])
def test_an_itemsize_asked_for_counts_every_output_at_it(itemsize: int) -> None:
    """``plan(float32 model, shape, itemsize=2)`` counted each row at 2 bytes but twice the outputs of the layers
    holding weights at their weights' 4 (``forward_backward_bytes``), so ``total_bytes`` mixed the two; an itemsize
    asked for now stands for every activation, as for the rows (and as a model cast to that dtype gives)."""
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv1d(4, 4, 3))
    plan = convcalc.plan(model, (1, 1, 10), itemsize=itemsize)
    rows = {r.name: r.activation_bytes for r in plan.rows}
    assert rows == {"0": 32 * itemsize, "1": 32 * itemsize, "2": 24 * itemsize}
    assert plan.forward_backward_bytes == 2 * (rows["0"] + rows["2"])
    assert plan.total_bytes == plan.input_bytes + plan.forward_backward_bytes + plan.torchinfo_param_bytes
    assert plan.input_bytes == 10 * itemsize
    if itemsize == 8:  # the model cast to that dtype, its size taken from its weights, gives the same
        assert convcalc.plan(model.double(), (1, 1, 10)).forward_backward_bytes == plan.forward_backward_bytes


def test_parameters_of_several_dtypes_count_each_at_its_own_size() -> None:
    model = _HalfBodyFloatHead().eval()
    for itemsize in (None, 2, 4):  # the activations' size does not change the parameters'
        assert convcalc.plan(model, (2, 5, 8), itemsize=itemsize).params_bytes == _real_param_bytes(model) == 4808


class _FloatBodyDoubleHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = torch.nn.Linear(4, 6), _DoubleLinear(6, 3).double()

    def forward(self, x: Any) -> Any:
        return self.head(self.body(x).double())


def test_a_subclass_of_a_torch_layer_outputs_in_its_weights_dtype() -> None:
    model = _FloatBodyDoubleHead()
    ours = convcalc.summary(model, input_size=(2, 4), verbose=0)
    theirs = torchinfo.summary(model, input_size=(2, 4), verbose=0)
    assert ours.total_output_bytes == theirs.total_output_bytes == 2 * (2 * 6 * 4 + 2 * 3 * 8)


def test_a_whole_number_of_giga_or_tera_mult_adds_prints_as_torchinfo_prints_it() -> None:
    """torchinfo drops the decimals of any whole number of its unit: 1,000,000,000 mult-adds is ``(G): 1``,
    10**12 ``(T): 1``, as ``(M): 12`` is; compared with torchinfo's own number format around each unit's edges."""
    from torchinfo.model_statistics import ModelStatistics, Units

    from convcalc._render import _readable

    module = nn.Linear(1000, 1000, bias=False)
    ours = convcalc.summary(module, input_size=(1000, 1000), verbose=0)
    theirs = torchinfo.summary(module, input_size=(1000, 1000), verbose=0, device="meta")
    assert ours.total_mult_adds == theirs.total_mult_adds == 10**9
    assert "Total mult-adds (G): 1" in str(ours).splitlines()
    assert str(ours).splitlines()[-10:-5] == their_lines(theirs)[-10:-5]
    for base in (10**6, 10**9, 10**12, 10**15):
        for value in (0, 1, base - 1, base, base + 1, 7 * base, 7 * base + base // 100, 12_345 * base // 1000):
            expected = ModelStatistics.format_output_num(value, Units.AUTO)
            assert _readable(value) == expected.replace("Units.MEGABYTES", "M").replace("Units.GIGABYTES", "G").replace(
                "Units.TERABYTES", "T"
            ), value


def test_a_sequence_first_layer_is_charged_its_first_size_as_torchinfo_does() -> None:
    """torchinfo charges each call once per element of its output's first axis: a sequence-first LSTM and the
    Linear after it by the length L, not the batch N. ``total_mult_adds`` follows it; the per-sample ``macs``
    times N does not."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(6, 4)
            self.fc = nn.Linear(4, 3)

        def forward(self, x: Any) -> Any:
            return self.fc(self.lstm(x)[0])

    theirs = torchinfo.summary(Net(), input_size=(7, 2, 6), verbose=0, device="cpu")
    plan = convcalc.plan(Net(), (7, 2, 6), macs="torchinfo")
    assert plan.total_mult_adds == theirs.total_mult_adds == 2793
    assert plan.macs * 2 != theirs.total_mult_adds
    assert_same(Net(), OPTIONS[:2], input_size=(7, 2, 6))


class _NoneFirst(nn.Module):
    """A leaf with a weight of its own that returns ``(None, x @ w)``: torchinfo sizes a tuple by its first item."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(4, 4))

    def forward(self, x: Any) -> Any:
        return None, x @ self.w


class _NoneFirstByTorch(_NoneFirst):
    def forward(self, x: Any) -> Any:
        if type(x) is torch.Tensor:  # (read by torch's machinery: fx's value is no Tensor)
            return None, x @ self.w
        return None, x


class _NoneFirstNet(nn.Module):
    def __init__(self, through_torch: bool) -> None:
        super().__init__()
        self.a = _NoneFirstByTorch() if through_torch else _NoneFirst()
        self.b = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        return self.b(self.a(x)[1])


@pytest.mark.parametrize("through_torch", [False, True])
def test_a_call_whose_first_output_is_none_shows_no_shape_and_no_bytes(through_torch: bool) -> None:
    """torchinfo shows ``--`` for ``return None, x`` and counts no output bytes for it: convcalc showed the
    tensor's shape and counted its bytes (96 output bytes for torchinfo's 32)."""
    net = _NoneFirstNet(through_torch).eval()
    assert {r.source for r in convcalc.plan(net, (2, 4)).rows[:2]} == {"torch" if through_torch else "rule"}
    assert_same(net, OPTIONS[:2], input_size=(2, 4))
    assert convcalc.summary(net, input_size=(2, 4), verbose=0).total_output_bytes == 32


class _Tap(nn.Module):
    """A module that records its input and returns nothing (a feature tap), called from a forward read step by
    step: torchinfo lists the call, with no shape."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x: Any) -> None:
        return None


class _Tapped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tap = _Tap()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        self.tap(x)
        return self.c(F.relu(x))


def test_a_call_that_returns_nothing_is_listed() -> None:
    assert_same(_Tapped().eval(), OPTIONS[:2], input_size=(1, 3, 8, 8))
    assert convcalc.verify(_Tapped(), (1, 3, 8, 8), device="cpu").ok


class _Gram(nn.Module):
    def forward(self, weight: Any) -> Any:
        return weight @ weight.T


class _TiedParametrized(nn.Module):
    """A forward that reads a parametrized layer's weight beside calling the layer (a tied output layer)."""

    def __init__(self) -> None:
        super().__init__()
        from torch.nn.utils import parametrize

        self.l = nn.Linear(8, 8)
        parametrize.register_parametrization(self.l, "weight", _Gram())

    def forward(self, x: Any) -> Any:
        return F.linear(self.l(x), self.l.weight)


def test_a_parametrized_weight_read_beside_its_layer_is_counted_once() -> None:
    """The original a parametrization computes the weight from was counted with the layer and again where the
    forward read the weight (136 parameters for parameters()' 72)."""
    net = _TiedParametrized().eval()
    plan = convcalc.plan(net, (1, 8))
    assert (plan.total_params, plan.trainable_params) == (72, 72) == (sum(p.numel() for p in net.parameters()),) * 2


class _Gate(torch.nn.Module):
    """Attention U-Net's gate, called with keywords only (``self.att(g=d, x=skip)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.w_g = torch.nn.Conv2d(4, 2, 1)
        self.w_x = torch.nn.Conv2d(4, 2, 1)
        self.psi = torch.nn.Conv2d(2, 1, 1)

    def forward(self, g: Any, x: Any) -> Any:
        return x * torch.sigmoid(self.psi(torch.relu(self.w_g(g) + self.w_x(x))))


class _Gated(torch.nn.Module):
    def __init__(self, keywords: bool) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.att = _Gate()
        self.keywords = keywords

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        return self.att(g=y, x=y) if self.keywords else self.att(y, x=y)


@pytest.mark.parametrize("keywords", [True, False])
def test_a_module_called_with_keywords_only_shows_no_input_size(keywords: bool) -> None:
    """torchinfo's hook sees a call's positional arguments only: a module called with keywords only has no input
    size (``--``); the table showed the first tensor its forward read."""
    model = _Gated(keywords).eval()
    columns = ("input_size", "output_size", "num_params")
    theirs = torchinfo.summary(model, input_size=(1, 3, 8, 8), col_names=columns, verbose=0)
    ours = convcalc.summary(model, input_size=(1, 3, 8, 8), col_names=columns, verbose=0)
    assert str(ours) == their_text(theirs)
    line = next(line for line in str(ours).splitlines() if line.startswith("├─_Gate"))
    assert line.split()[2] == ("--" if keywords else "[1,")
