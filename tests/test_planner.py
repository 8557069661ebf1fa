"""The planner: known values, totals that add up, golden renderings, symbolic plans and errors that name the fix."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
from goldens import golden

import convcalc
from convcalc import keras as K
from convcalc import nn

DATA = Path(__file__).parent / "data"


def mnist_cnn() -> nn.Sequential:
    """Seed 001's MnistCNNModel, block for block."""

    def block(cin: int, cout: int, pool: nn.Module) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding="same"), nn.BatchNorm2d(cout), nn.ReLU(), nn.Dropout(0.5), pool
        )

    return nn.Sequential(
        OrderedDict(
            b1=block(1, 32, nn.MaxPool2d(2, 2)),
            b2=block(32, 64, nn.MaxPool2d(2, 2)),
            b3=block(64, 128, nn.MaxPool2d(2, 2, padding=1)),
            classifier=nn.Sequential(
                nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)
            ),
        )
    )


def seed002() -> K.Sequential:
    return K.Sequential(
        [
            K.Input((28, 28, 1)),
            K.Conv2D(75, (3, 3), padding="same", activation="relu", name="conv2d_6"),
            K.BatchNormalization(name="batch_normalization"),
            K.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d"),
            K.Conv2D(50, (3, 3), padding="same", activation="relu", name="conv2d_7"),
            K.Dropout(0.2, name="dropout"),
            K.BatchNormalization(name="batch_normalization_1"),
            K.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d_1"),
            K.Conv2D(25, (3, 3), padding="same", activation="relu", name="conv2d_8"),
            K.BatchNormalization(name="batch_normalization_2"),
            K.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d_2"),
            K.Flatten(name="flatten"),
            K.Dense(512, activation="relu", name="dense"),
            K.Dropout(0.3, name="dropout_1"),
            K.Dense(25, activation="softmax", name="dense_1"),
        ],
        name="sequential_4",
    )


# --------------------------------------------------------------------------- #
# Known values
# --------------------------------------------------------------------------- #


def test_mnist_cnn_shapes_and_params() -> None:
    plan = convcalc.plan(mnist_cnn(), (256, 1, 28, 28))
    shapes = {r.name: r.output_shape for r in plan.rows}
    assert shapes["b1.4"] == (256, 32, 14, 14)
    assert shapes["b2.4"] == (256, 64, 7, 7)
    assert shapes["b3.4"] == (256, 128, 4, 4)
    assert shapes["classifier.0"] == (256, 2048)
    assert plan.output_shape == (256, 10)
    # conv 320 + 18,496 + 73,856; BN 64 + 128 + 256; linear 524,544 + 2,570
    assert plan.trainable_params == 320 + 18496 + 73856 + 64 + 128 + 256 + 524544 + 2570
    assert plan.buffers == (2 * 32 + 1) + (2 * 64 + 1) + (2 * 128 + 1)


def test_seed002_keras_totals_and_rows() -> None:
    plan = convcalc.plan(seed002())
    assert [r.params for r in plan.rows] == [750, 300, 0, 33800, 0, 200, 0, 11275, 100, 0, 0, 205312, 0, 12825]
    assert (plan.total_params, plan.trainable_params, plan.non_trainable_params) == (264562, 264262, 300)
    assert plan.rows[9].output_shape == (1, 4, 4, 25)


def test_seed002_keras_summary_matches_the_post() -> None:
    text = convcalc.plan(seed002()).summary("keras")
    ours = [" ".join(line.split()) for line in text.splitlines() if line.strip() and set(line.strip()) - set("_=")]
    # the table as seed post 002 prints it (the file's note says where it comes from)
    text_lines = (DATA / "seed002_keras_summary.txt").read_text(encoding="utf-8").splitlines()
    post = [line for line in text_lines if not line.startswith("#")]
    start = post.index('Model: "sequential_4"')
    theirs = [" ".join(line.split()) for line in post[start : start + 40] if set(line.strip()) - set("_=")]
    theirs = theirs[: theirs.index("Non-trainable params: 300") + 1]
    assert ours[: len(theirs)] == theirs


def test_rows_add_up_to_totals() -> None:
    for model, shape in ((mnist_cnn(), (2, 1, 28, 28)), (seed002(), None)):
        plan = convcalc.plan(model, shape)
        assert plan.total_params == sum(r.params for r in plan.rows)
        assert plan.trainable_params == sum(r.trainable for r in plan.rows)
        assert plan.macs == sum(r.macs for r in plan.rows)
        data = plan.to_dict()
        assert data["total_params"] == sum(r["params"] for r in data["rows"])
        assert data["macs"] == sum(r["macs"] for r in data["rows"])


def test_batch_does_not_change_params_or_macs() -> None:
    small = convcalc.plan(mnist_cnn(), (1, 1, 28, 28))
    large = convcalc.plan(mnist_cnn(), (1024, 1, 28, 28))
    assert small.total_params == large.total_params
    assert small.macs == large.macs
    assert large.rows[0].activations == 1024 * small.rows[0].activations


def test_mac_conventions() -> None:
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.Flatten(), nn.Linear(64 * 32 * 32, 10))
    macs = convcalc.plan(net, (1, 3, 32, 32)).macs
    assert macs == 1769472 + 65536 * 10
    assert convcalc.plan(net, (1, 3, 32, 32), macs="flops").macs == 2 * macs
    assert convcalc.plan(net, (1, 3, 32, 32), macs="macs+bias").macs == macs + 64 * 32 * 32 + 10
    with pytest.raises(convcalc.SpecError, match="macs must be one of"):
        convcalc.plan(net, (1, 3, 32, 32), macs="gflops")


def test_receptive_field_vgg16_endpoints() -> None:
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU()]
            cin = int(v)
    plan = convcalc.plan(nn.Sequential(*layers), (1, 3, 224, 224))
    pools = [r for r in plan.rows if r.kind == "MaxPool2d"]
    got = [(f.size, f.jump, -f.start) for f in (p.receptive_field[0] for p in pools)]  # type: ignore[index]
    assert got == [(6, 2, 2), (16, 4, 6), (44, 8, 18), (100, 16, 42), (212, 32, 90)]
    assert plan.rows[0].receptive_field[0] == convcalc.ReceptiveField(3, 1, -1)  # type: ignore[index]
    assert plan.receptive_field == pools[-1].receptive_field


def test_the_plans_receptive_field_is_the_last_spatial_layers_or_none() -> None:
    conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
    field = convcalc.plan(conv, (1, 1, 16, 16)).rows[0].receptive_field
    # the axes end (a global pool, a flatten, a linear): the field of the last layer that had them
    head = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    assert convcalc.plan(head, (1, 1, 16, 16)).receptive_field == field
    # the axes go on without a field (a transposed convolution's windows differ by position): none, not the
    # field of a layer before it
    up = nn.Sequential(conv, nn.ConvTranspose2d(4, 1, 2, stride=2), nn.ReLU())
    plan = convcalc.plan(up, (1, 1, 16, 16))
    assert plan.rows[0].receptive_field == field
    assert plan.receptive_field is None
    keras = K.Sequential([K.Input((8, 8, 1)), K.Conv2D(2, 3), K.Conv2DTranspose(2, 2, strides=2), K.Flatten()])
    assert convcalc.plan(keras, (1, 8, 8, 1)).receptive_field is None
    keras = K.Sequential([K.Input((8, 8, 1)), K.Conv2D(2, 3), K.GlobalAveragePooling2D(keepdims=True)])
    assert convcalc.plan(keras, (1, 8, 8, 1)).receptive_field == (convcalc.ReceptiveField(3, 1, 0),) * 2


def test_the_plans_receptive_field_with_symbolic_sizes() -> None:
    # sizes 1 of a symbolic plan are sympy's 1: a global pool still ends the axes, a later map of symbolic
    # sizes without a field still leaves none
    H = convcalc.symbols("H")
    conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
    field = (convcalc.ReceptiveField(3, 2, -1),) * 2
    head = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    assert convcalc.plan(head, (1, 1, H, H)).receptive_field == field
    up = nn.Sequential(conv, nn.ConvTranspose2d(4, 1, 2, stride=2))
    assert convcalc.plan(up, (1, 1, H, H)).rows[0].receptive_field == field
    assert convcalc.plan(up, (1, 1, H, H)).receptive_field is None


def test_add_and_concat() -> None:
    block = nn.Sequential(
        nn.Add(
            nn.Sequential(
                nn.Conv2d(64, 64, 3, padding=1),
                nn.BatchNorm2d(64),
                nn.ReLU(),
                nn.Conv2d(64, 64, 3, padding=1),
                nn.BatchNorm2d(64),
            ),
            nn.Identity(),
        ),
        nn.ReLU(),
        nn.Concat(
            nn.Conv2d(64, 16, 1),
            nn.Sequential(nn.Conv2d(64, 8, 1), nn.Conv2d(8, 32, 3, padding=1)),
            nn.MaxPool2d(3, 1, 1),
        ),
    )
    plan = convcalc.plan(block, (1, 64, 56, 56))
    assert plan.output_shape == (1, 16 + 32 + 64, 56, 56)
    assert {"0.0.0", "0.1", "0", "2", "2.1.1"} <= {r.name for r in plan.rows}


def test_concat_crop_centre_crops_to_smallest() -> None:
    skip = nn.Concat(
        nn.Identity(), nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ConvTranspose2d(4, 4, 2, 2)), crop=True
    )
    assert convcalc.plan(skip, (1, 4, 64, 64)).output_shape == (1, 8, 60, 60)
    with pytest.raises(convcalc.ShapeError, match="crop=True"):
        convcalc.plan(nn.Concat(nn.Identity(), nn.MaxPool2d(2)), (1, 4, 8, 8))


def test_concat_crop_of_symbolic_branches_of_different_forms() -> None:
    """One branch's size a floor of the symbol, the other's a sympy expression: the crop compares them (it raised
    sympy's SympifyError)."""
    net = nn.Sequential(
        nn.AvgPool1d(2),
        nn.Concat(nn.AvgPool1d(1), nn.Sequential(nn.ConvTranspose1d(1, 1, 3, 2, 2, 1), nn.AvgPool1d(3)), crop=True),
    )
    H = convcalc.symbols("H")
    plan = convcalc.plan(net, (1, 1, H))
    for size in (8, 9, 21):
        assert convcalc.plan(net, (1, 1, size)).output_shape[2] == int(plan.output_shape[2].subs(H, size))


@pytest.mark.parametrize("stride", [2, 3])
def test_a_symbolic_crop_is_every_numeric_crop(stride: int) -> None:
    """A skip at ``H`` beside a strided convolution upsampled back: with stride 2 the upsampled branch is never
    the smaller (``2*floor((H - 1)/2) + 2`` is ``H`` or ``H + 1``), which sympy could not tell, so the plan cropped
    to it and was valid for even ``H`` only; with stride 3 either may be smaller, and the crop is the least."""
    H = convcalc.symbols("H")
    skip = nn.Sequential(
        nn.Concat(
            nn.Identity(),
            nn.Sequential(nn.Conv2d(2, 2, 3, stride=stride, padding=1), nn.Upsample(scale_factor=stride)),
            crop=True,
        ),
        nn.Conv2d(4, 4, 1),
    )
    plan = convcalc.plan(skip, (1, 2, H, 8))
    assert plan.constraints == ()
    for h in range(1, 41):
        numeric = convcalc.plan(skip, (1, 2, h, 8))
        assert numeric.output_shape == (1, 4, plan.output_shape[2].subs(H, h), 8)
        assert numeric.macs == plan.macs.subs(H, h)
    if stride == 2:
        assert plan.output_shape[2] == H


def test_lazy_layers_take_their_input_from_the_plan() -> None:
    net = nn.Sequential(nn.LazyConv2d(16, 3), nn.Flatten(), nn.LazyLinear(10))
    plan = convcalc.plan(net, (1, 3, 10, 10))
    assert plan.rows[0].params == 16 * 3 * 9 + 16
    assert plan.rows[2].params == 16 * 8 * 8 * 10 + 10


# --------------------------------------------------------------------------- #
# Symbolic plans
# --------------------------------------------------------------------------- #


def resnet50_like() -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            main = nn.Sequential(
                nn.Conv2d(cin, planes, 1, bias=False),
                nn.BatchNorm2d(planes),
                nn.ReLU(),
                nn.Conv2d(planes, planes, 3, s, 1, bias=False),
                nn.BatchNorm2d(planes),
                nn.ReLU(),
                nn.Conv2d(planes, planes * 4, 1, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            skip: nn.Module = (
                nn.Identity()
                if (s == 1 and cin == planes * 4)
                else nn.Sequential(nn.Conv2d(cin, planes * 4, 1, s, bias=False), nn.BatchNorm2d(planes * 4))
            )
            layers += [nn.Add(main, skip), nn.ReLU()]
            cin = planes * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


def test_symbolic_resnet50_is_one_floor_per_axis() -> None:
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(resnet50_like(), (1, 3, H, W))
    stage4 = plan.rows[-4].output_shape
    assert str(stage4[2]) == "floor((H - 1)/32) + 1"
    assert str(stage4[3]) == "floor((W - 1)/32) + 1"
    assert plan.output_shape == (1, 1000)
    assert plan.total_params == 25557032
    numeric = convcalc.plan(resnet50_like(), (1, 3, 224, 224))
    assert round(numeric.macs / 1e9, 3) == 4.089


@pytest.mark.parametrize("size", [1, 2, 5, 31, 32, 33, 64, 97, 224, 225, 511, 1024])
def test_symbolic_plan_substitutes_to_numeric(size: int) -> None:
    H = convcalc.symbols("H")
    net = nn.Sequential(
        nn.Conv2d(1, 4, 7, 2, 3),
        nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.Conv2d(4, 4, 3, 2, 1),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.ConvTranspose2d(4, 4, 3, 2, 1, 1),
        nn.Conv2d(4, 4, 3),
    )
    sym = convcalc.plan(net, (1, 1, H, 40))
    try:
        num = convcalc.plan(net, (1, 1, size, 40))
    except convcalc.ShapeError:
        assert size not in sym.valid_sizes()
        return
    assert size in sym.valid_sizes()
    for a, b in zip(sym.rows, num.rows, strict=True):
        assert tuple(int(getattr(d, "subs", lambda *_: d)(H, size)) for d in a.output_shape) == b.output_shape


def test_valid_sizes_and_inputs_for_a_unet_like_chain() -> None:
    H = convcalc.symbols("H")

    def two(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.Conv2d(cout, cout, 3), nn.ReLU()]

    down = [
        *two(1, 8),
        nn.MaxPool2d(2),
        *two(8, 8),
        nn.MaxPool2d(2),
        *two(8, 8),
        nn.MaxPool2d(2),
        *two(8, 8),
        nn.MaxPool2d(2),
        *two(8, 8),
    ]
    up = [m for _ in range(4) for m in (nn.ConvTranspose2d(8, 8, 2, 2), *two(8, 8))]
    plan = convcalc.plan(nn.Sequential(*down, *up), (1, 1, H, H), strict=True)
    solution = plan.valid_sizes()
    assert (solution.smallest, solution.modulus, solution.residues) == (188, 16, (12,))
    assert str(solution) == "H >= 188 and H ≡ 12 (mod 16)"
    assert 572 in solution
    assert 571 not in solution
    assert plan.inputs_for(388) == [572]


def test_symbolic_without_symbols_is_an_error() -> None:
    plan = convcalc.plan(nn.Conv2d(1, 1, 3), (1, 1, 8, 8))
    with pytest.raises(convcalc.SpecError, match="no symbolic input size"):
        plan.valid_sizes()


# --------------------------------------------------------------------------- #
# Golden renderings
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("style", ["table", "torchinfo", "keras"])
def test_summary_golden(style: str) -> None:
    golden(f"planner_mnist_{style}.txt", convcalc.plan(mnist_cnn(), (256, 1, 28, 28)).summary(style) + "\n")


@pytest.mark.parametrize(
    ("method", "ext"),
    [("to_json", "json"), ("to_csv", "csv"), ("to_markdown", "md"), ("to_latex", "tex"), ("_repr_html_", "html")],
)
def test_export_golden(method: str, ext: str) -> None:
    plan = convcalc.plan(mnist_cnn(), (1, 1, 28, 28))
    text = getattr(plan, method)()
    golden(f"planner_mnist.{ext}", text if text.endswith("\n") else text + "\n")
    if ext == "json":
        assert json.loads(text)["total_params"] == plan.total_params


def test_symbolic_export_is_json() -> None:
    H = convcalc.symbols("H")
    data = json.loads(convcalc.plan(mnist_cnn(), (1, 1, H, H)).to_json())
    assert data["output_shape"] == [1, 10]
    assert "H" in data["rows"][0]["output_shape"][2]


def test_unknown_style() -> None:
    with pytest.raises(convcalc.SpecError, match="style must be one of 'table', 'torchinfo', 'keras'"):
        convcalc.plan(mnist_cnn(), (1, 1, 28, 28)).summary("fancy")


# --------------------------------------------------------------------------- #
# Errors that name the fix
# --------------------------------------------------------------------------- #


def test_linear_in_features_names_the_number_and_how_it_is_made() -> None:
    net = nn.Sequential(nn.Conv2d(3, 128, 3), nn.Flatten(), nn.Linear(2048, 256))
    with pytest.raises(convcalc.ShapeError) as info:
        convcalc.plan(net, (1, 3, 8, 8))
    text = str(info.value)
    assert text.startswith("2 (Linear): Linear(in_features=2048) receives 4608 features")
    assert "Flatten of 128 x 6 x 6 = 4608" in text
    assert "use in_features=4608" in text
    assert "128 * 4 * 4 = 2048" in text
    assert text.endswith("Received: input_shape=(1, 4608)")


def test_seed000_class_with_even_kernel_is_caught() -> None:
    """Seed 000 computes in_features as C * (H // 2**n) * (W // 2**n), which is wrong for even kernels."""
    k = 4
    layers: list[nn.Module] = []
    cin = 1
    for c in (32, 64):
        layers += [nn.Conv2d(cin, c, k, stride=1, padding=k // 2), nn.ReLU(True), nn.MaxPool2d(2, 2), nn.Dropout2d(0.5)]
        cin = c
    in_features = 64 * (30 // 4) * (30 // 4)  # the seed's formula: 3136
    layers += [nn.Flatten(), nn.Linear(in_features, 1024)]
    with pytest.raises(convcalc.ShapeError, match=r"receives 4096 features \(Flatten of 64 x 8 x 8 = 4096\)"):
        convcalc.plan(nn.Sequential(*layers), (1, 1, 30, 30))


def test_channel_mismatch_names_in_channels_that_fits() -> None:
    net = nn.Sequential(OrderedDict(b1=nn.Conv2d(1, 32, 3), b2=nn.Conv2d(64, 128, 3)))
    with pytest.raises(
        convcalc.ShapeError,
        match=r"^b2 \(Conv2d\): in_channels=64 but the input has 32 channels: "
        r"use in_channels=32",
    ):
        convcalc.plan(net, (1, 1, 28, 28))


def test_too_small_names_smallest_network_input() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 7, 2, 3),
        nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(8, 8, 3, 2),
        nn.Conv2d(8, 8, 3, 2),
        nn.Conv2d(8, 8, 3),
    )
    with pytest.raises(
        convcalc.ShapeError,
        match=r"smallest network input that fits every layer: input_shape=\(1, 3, 57, 57\)",
    ):
        convcalc.plan(net, (1, 3, 32, 40))
    convcalc.plan(net, (1, 3, 57, 57))


def test_add_branch_mismatch_says_which_branch_and_fix() -> None:
    block = nn.Add(nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.Identity())
    with pytest.raises(
        convcalc.ShapeError,
        match=r"branch 1 gives 1 x 64 x 56 x 56 but branch 0 gives 1 x 128 x 28 x 28"
        r".*Conv2d\(64, 128, kernel_size=1, stride=2\)",
    ):
        convcalc.plan(block, (1, 64, 56, 56))


def test_strict_plan_rejects_inexact_division() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"not divisible by the stride 2.*strict"):
        convcalc.plan(nn.MaxPool2d(2), (1, 1, 7, 8), strict=True)
    assert convcalc.plan(nn.MaxPool2d(2), (1, 1, 7, 8)).output_shape == (1, 1, 3, 4)


def test_bad_models_and_shapes() -> None:
    with pytest.raises(convcalc.SpecError, match=r"plan\(\) takes a convcalc\.nn"):
        convcalc.plan(object(), (1, 3, 8, 8))
    with pytest.raises(convcalc.ShapeError, match="input_shape must be a tuple"):
        convcalc.plan(nn.ReLU(), "1x3x8x8")
    with pytest.raises(convcalc.ShapeError, match=r"expects a 4-D input"):
        convcalc.plan(nn.Conv2d(3, 8, 3), (3, 8))
    with pytest.raises(convcalc.SpecError, match=r"Sequential takes convcalc\.nn layers"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(convcalc.SpecError, match=r"more than half of kernel_size"):
        nn.MaxPool2d(3, padding=2)
    with pytest.raises(convcalc.SpecError, match="output_padding=2 must be smaller than either stride"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(convcalc.SpecError, match="in_channels must be divisible by groups"):
        nn.Conv2d(6, 4, 3, groups=4)
    with pytest.raises(convcalc.SpecError, match="num_channels \\(60\\) must be divisible by num_groups \\(8\\)"):
        nn.GroupNorm(8, 60)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_an_unbatched_input_has_the_receptive_fields_of_a_batch_of_one(ndim: int) -> None:
    """``(C, L)`` started with no spatial axis to follow (a 2-D input may be a Linear's), and its convolutions
    showed no receptive field; ``(C, H, W)`` and ``(C, D, H, W)`` had theirs."""
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[ndim - 1]
    pool = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[ndim - 1]
    net = nn.Sequential(conv(3, 4, 3, dilation=2), nn.ReLU(), pool(2), conv(4, 4, 3, stride=2))
    spatial = (21,) * ndim
    unbatched = convcalc.plan(net, (3, *spatial))
    batched = convcalc.plan(net, (1, 3, *spatial))
    assert [r.receptive_field for r in unbatched.rows] == [r.receptive_field for r in batched.rows]
    assert unbatched.rows[-1].receptive_field == (convcalc.ReceptiveField(10, 4, 0),) * ndim  # 5, 6, 6 + 2 * 2
    # a 2-D input of features: no spatial axis, none shown
    assert [r.receptive_field for r in convcalc.plan(nn.Sequential(nn.ReLU()), (5, 3)).rows] == [None]
