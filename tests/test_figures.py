"""SVG figures: well-formed documents, the right number of cells and boxes, the arithmetic in the caption.

Element counts are read back with ElementTree from the classes the figures put
on their elements (``cell in``, ``cell pad``, ``tap``, ``cell out current``,
``<g class="layer">``), so the tests check what is drawn, not how it is spelled.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path

import pytest
from goldens import golden, updating

import convcalc
from convcalc import keras, nn
from convcalc.cli import main
from convcalc.figures import MAX_GRID_CELLS, conv_step_svg, plan_svg

ROOT = Path(__file__).resolve().parents[1]
DOC_PAGE = ROOT / "docs" / "howto" / "figures.md"
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    assert root.attrib["viewBox"] == f"0 0 {root.attrib['width']} {root.attrib['height']}"
    assert width > 0
    assert height > 0
    return root


def with_class(root: ET.Element, *classes: str, tag: str = "rect") -> list[ET.Element]:
    """Elements whose class attribute holds every one of ``classes``."""
    return [e for e in root.iter(f"{SVG}{tag}") if set(classes) <= set(e.attrib.get("class", "").split())]


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


# --------------------------------------------------------------------------- #
# conv_step_svg
# --------------------------------------------------------------------------- #

# Dumoulin & Visin's relationships (reference/semantics.md §13): (i, k, s, p, d) -> o
DUMOULIN = [
    pytest.param(4, 3, 1, 0, 1, 2, id="rel1-no-padding-unit-stride"),
    pytest.param(5, 4, 1, 2, 1, 6, id="rel2-padding"),
    pytest.param(5, 3, 1, 1, 1, 5, id="rel3-half-padding"),
    pytest.param(5, 3, 1, 2, 1, 7, id="rel4-full-padding"),
    pytest.param(5, 3, 2, 0, 1, 2, id="rel5-stride"),
    pytest.param(5, 3, 2, 1, 1, 3, id="rel6-padding-stride"),
    pytest.param(6, 3, 2, 1, 1, 3, id="rel6-odd"),
    pytest.param(7, 3, 1, 0, 2, 3, id="rel15-dilation"),
]


@pytest.mark.parametrize(("i", "k", "s", "p", "d", "o"), DUMOULIN)
def test_conv_step_counts_follow_the_arithmetic(i: int, k: int, s: int, p: int, d: int, o: int) -> None:
    root = parse(conv_step_svg(i, k, s, p, d))
    padded = i + 2 * p
    assert len(with_class(root, "cell")) == padded * padded + o * o
    assert len(with_class(root, "cell", "pad")) == padded * padded - i * i
    assert len(with_class(root, "cell", "in")) == i * i
    assert len(with_class(root, "cell", "out")) == o * o
    assert len(with_class(root, "cell", "out", "current")) == 1
    assert len(with_class(root, "tap")) == k * k
    assert len(with_class(root, "window-frame")) == 1
    k_text = f"{k}" if d == 1 else f"{d}*({k} - 1) - 1"
    assert f"out = floor(({i} + 2*{p} - {k_text})/{s}) + 1 = {o}" in texts(root)


def test_conv_step_caption_example() -> None:
    lines = texts(parse(conv_step_svg(5, 3, stride=2, padding=1, step=4)))
    assert "out = floor((i + 2p - k)/s) + 1" in lines
    assert "out = floor((5 + 2*1 - 3)/2) + 1 = 3" in lines
    assert "input 5 x 5, kernel 3 x 3, stride 2, padding 1" in lines
    assert any(
        line.startswith("step 4 ") and "output (1, 1) reads padded rows 2-4, columns 2-4" in line for line in lines
    )


def test_dilated_formula_and_tap_spacing() -> None:
    root = parse(conv_step_svg(7, 3, dilation=2))
    assert "out = floor((i + 2p - d*(k - 1) - 1)/s) + 1" in texts(root)
    cell = float(with_class(root, "cell", "in")[0].attrib["width"])
    xs = sorted({float(t.attrib["x"]) for t in with_class(root, "tap")})
    assert len(xs) == 3
    assert [round(b - a, 6) for a, b in itertools.pairwise(xs)] == [2 * cell, 2 * cell]
    frame = with_class(root, "window-frame")[0]
    assert float(frame.attrib["width"]) == 5 * cell  # the dilated extent d*(k-1)+1


@pytest.mark.parametrize("step", range(9))
def test_every_step_places_window_and_output_cell(step: int) -> None:
    root = parse(conv_step_svg(5, 3, 2, 1, step=step))
    inputs = with_class(root, "cell", "pad") + with_class(root, "cell", "in")
    outs = with_class(root, "cell", "out")
    cell = float(inputs[0].attrib["width"])
    in_x = min(float(e.attrib["x"]) for e in inputs)
    in_y = min(float(e.attrib["y"]) for e in inputs)
    out_x = min(float(e.attrib["x"]) for e in outs)
    out_y = min(float(e.attrib["y"]) for e in outs)
    r, c = divmod(step, 3)
    current = with_class(root, "cell", "out", "current")[0]
    assert (float(current.attrib["x"]), float(current.attrib["y"])) == (out_x + c * cell, out_y + r * cell)
    frame = with_class(root, "window-frame")[0]
    assert (float(frame.attrib["x"]), float(frame.attrib["y"])) == (in_x + 2 * c * cell, in_y + 2 * r * cell)


def test_non_square_and_pooling() -> None:
    root = parse(conv_step_svg((5, 7), (3, 2), (2, 1), (1, 0), step=5, kind="pool"))
    assert len(with_class(root, "cell", "in")) == 35
    assert len(with_class(root, "cell", "pad")) == 7 * 7 - 35
    assert len(with_class(root, "cell", "out")) == 3 * 6
    assert len(with_class(root, "tap")) == 6
    lines = texts(root)
    assert "rows: out = floor((5 + 2*1 - 3)/2) + 1 = 3" in lines
    assert "columns: out = floor((7 + 2*0 - 2)/1) + 1 = 6" in lines
    assert lines[0] == "Pooling: step 5"


def test_pool_stride_default_is_one_in_the_api() -> None:
    root = parse(conv_step_svg(4, 2, kind="pool"))
    assert len(with_class(root, "cell", "out")) == 9


def test_one_dimensional_grid() -> None:
    root = parse(conv_step_svg((8,), 3, 2, 1, step=3))
    assert len(with_class(root, "cell", "in")) + len(with_class(root, "cell", "pad")) == 10
    assert len(with_class(root, "cell", "out")) == 4
    assert len(with_class(root, "tap")) == 3
    assert "input 8, kernel 3, stride 2, padding 1" in texts(root)


def test_cells_no_window_reads_are_hatched() -> None:
    root = parse(conv_step_svg(7, 3, stride=3))  # windows cover rows 0-5: row and column 6 are never read
    assert len(with_class(root, "cell", "in", "unused")) == 7 * 7 - 6 * 6
    assert "never read" in texts(root)
    clean = parse(conv_step_svg(5, 3, 2, 1))
    assert not with_class(clean, "unused")
    assert "never read" not in texts(clean)


def test_largest_grid_is_bounded() -> None:
    root = parse(conv_step_svg(MAX_GRID_CELLS - 2, 3, padding=1))
    assert len(with_class(root, "cell", "pad")) + len(with_class(root, "cell", "in")) == MAX_GRID_CELLS**2


def test_conv_step_is_deterministic() -> None:
    assert conv_step_svg(6, 3, 2, 1, step=2) == conv_step_svg(6, 3, 2, 1, step=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"size": 5, "kernel_size": 3, "step": 9}, convcalc.SpecError, "step must be from 0 to 8: the output is 3 x 3"),
        ({"size": 5, "kernel_size": 3, "step": -1}, convcalc.SpecError, "Received: step=-1"),
        ({"size": 5, "kernel_size": 3, "step": True}, convcalc.SpecError, "Received: step=True"),
        ({"size": (8,), "kernel_size": 3, "step": 6}, convcalc.SpecError, "the output is 6 positions"),
        (
            {"size": 65, "kernel_size": 3},
            convcalc.SpecError,
            "at most 64 cells per side, and the padded input is 65 x 65",
        ),
        ({"size": 63, "kernel_size": 3, "padding": 1}, convcalc.SpecError, "padded input is 65 x 65"),
        ({"size": 5, "kernel_size": 3, "padding": "same"}, convcalc.SpecError, "not a name such as 'same'"),
        ({"size": (4, 4, 4), "kernel_size": 3}, convcalc.SpecError, "1-D and 2-D grids, not 3-D"),
        ({"size": 3, "kernel_size": 5}, convcalc.ShapeError, "kernel_size=5 is larger than the padded input"),
        ({"size": 8, "kernel_size": 3, "padding": 2, "kind": "pool"}, convcalc.SpecError, "more than half"),
        ({"size": 5, "kernel_size": 3, "kind": "deconv"}, convcalc.SpecError, "kind must be one of 'conv', 'pool'"),
        ({"size": 5, "kernel_size": 0}, convcalc.SpecError, "kernel_size"),
    ],
)
def test_conv_step_errors(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        conv_step_svg(**kwargs)  # type: ignore[arg-type]


def test_symbolic_size_is_refused() -> None:
    H = convcalc.symbols("H")
    with pytest.raises(convcalc.SpecError, match="integer sizes"):
        conv_step_svg(H, 3)


# --------------------------------------------------------------------------- #
# plan_svg
# --------------------------------------------------------------------------- #


def small_net() -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(1, 6, 5)),
                ("relu1", nn.ReLU()),
                ("pool1", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(6, 16, 5)),
                ("relu2", nn.ReLU()),
                ("pool2", nn.MaxPool2d(2)),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(256, 10)),
            ]
        )
    )


def layers(root: ET.Element) -> list[ET.Element]:
    return with_class(root, "layer", tag="g")


def group_texts(group: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in group.iter(f"{SVG}text")]


def test_plan_has_one_group_per_drawn_layer() -> None:
    plan = convcalc.plan(small_net(), (1, 1, 28, 28))
    root = parse(plan_svg(plan, title="small"))
    groups = layers(root)
    assert [g.attrib["data-name"] for g in groups] == ["conv1", "pool1", "conv2", "pool2", "flatten", "fc"]
    shapes = {g.attrib["data-name"]: group_texts(g)[2:] for g in groups}
    assert shapes == {
        "conv1": ["6 x 24 x 24"],
        "pool1": ["6 x 12 x 12"],
        "conv2": ["16 x 8 x 8"],
        "pool2": ["16 x 4 x 4"],
        "flatten": ["256"],
        "fc": ["10"],
    }
    assert group_texts(groups[0])[:2] == ["conv1", "Conv2d"]
    assert len(with_class(root, "input", tag="g")) == 1
    assert len(with_class(root, "arrow", tag="polyline")) == len(groups)  # input -> first, then one per layer
    assert "small" in texts(root)
    assert "layers not drawn: 2 element-wise" in " ".join(texts(root))


def test_plan_all_layers() -> None:
    plan = convcalc.plan(small_net(), (1, 1, 28, 28))
    groups = layers(parse(plan_svg(plan, skip_elementwise=False)))
    assert [g.attrib["data-name"] for g in groups] == [r.name for r in plan.rows]


def test_box_heights_follow_the_sizes() -> None:
    plan = convcalc.plan(small_net(), (1, 1, 28, 28))
    root = parse(plan_svg(plan))
    height = {g.attrib["data-name"]: float(with_class(g, "box")[0].attrib["height"]) for g in layers(root)}
    assert height["conv1"] > height["pool1"] > height["conv2"] > height["pool2"]
    width = {g.attrib["data-name"]: float(with_class(g, "box")[0].attrib["width"]) for g in layers(root)}
    assert width["conv2"] > width["conv1"]  # more channels, a wider box


def test_channels_last_plan() -> None:
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.Conv2D(8, 3), keras.MaxPooling2D(), keras.Flatten()])
    root = parse(plan_svg(convcalc.plan(model)))
    shapes = [group_texts(g)[2] for g in layers(root)]
    assert shapes == ["26 x 26 x 8", "13 x 13 x 8", "1352"]
    assert any("shapes H x W x C" in t for t in texts(root))
    heights = [float(with_class(g, "box")[0].attrib["height"]) for g in layers(root)[:2]]
    assert heights[0] > heights[1]


def test_symbolic_plan_draws_fixed_boxes_with_expressions() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(small_net(), (1, 1, H, H))
    root = parse(plan_svg(plan))
    groups = layers(root)
    maps = [g for g in groups if g.attrib["data-kind"] in ("Conv2d", "MaxPool2d")]
    assert len({with_class(g, "box")[0].attrib["height"] for g in maps}) == 1
    assert group_texts(groups[0])[2:] == ["6 x (H - 4) x (H - 4)"]
    pool2 = " ".join(group_texts(groups[3])[2:])
    assert "floor((H - 16)/4) + 1" in pool2  # 4 at H = 28
    assert "symbolic sizes: boxes of one size" in " ".join(texts(root))


@pytest.mark.parametrize(
    ("net", "shape", "label"),
    [
        (nn.Conv1d(3, 8, 3), (1, 3, 20), "8 x 18"),
        (nn.Conv3d(2, 4, 3), (1, 2, 8, 8, 8), "4 x 6 x 6 x 6"),
    ],
    ids=["1-D", "3-D"],
)
def test_other_ranks_are_labelled_boxes(net: nn.Module, shape: tuple[int, ...], label: str) -> None:
    root = parse(plan_svg(convcalc.plan(net, shape)))
    (group,) = layers(root)
    assert group_texts(group)[2] == label
    assert not list(group.iter(f"{SVG}polygon"))  # no cuboid faces
    assert "rx" in with_class(group, "box")[0].attrib


def test_max_layers_folds_the_middle() -> None:
    net = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(10)])
    root = parse(plan_svg(convcalc.plan(net, (1, 4, 16, 16)), max_layers=4))
    assert [g.attrib["data-name"] for g in layers(root)] == ["0", "1", "8", "9"]
    (omitted,) = with_class(root, "omitted", tag="g")
    assert group_texts(omitted) == ["6 layers folded", "6 Conv2d"]
    assert omitted.attrib["data-folded"] == "6"


def skip_paths(root: ET.Element) -> list[tuple[str, str]]:
    return [(p.attrib["data-from"], p.attrib["data-to"]) for p in with_class(root, "skip", tag="path")]


def test_identity_skip_and_shape_keeping_pool_are_drawn() -> None:
    block = nn.Add(
        OrderedDict([("main", nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())), ("identity", nn.Identity())])
    )
    net = nn.Sequential(
        OrderedDict(
            [("stem", nn.Conv2d(3, 8, 3, padding=1)), ("pool", nn.MaxPool2d(3, stride=1, padding=1)), ("block", block)]
        )
    )
    root = parse(plan_svg(convcalc.plan(net, (1, 3, 16, 16))))
    assert [g.attrib["data-name"] for g in layers(root)] == ["stem", "pool", "block.main.0", "block"]
    # the identity branch leaves the block's input (the pool's output) and joins at the Add
    assert skip_paths(root) == [("pool", "block")]
    assert "identity" in texts(root)


def test_resnet_skips_run_from_the_branch_point_to_the_add() -> None:
    from convcalc import zoo

    root = parse(plan_svg(convcalc.plan(zoo.resnet18(), (1, 3, 64, 64))))
    paths = skip_paths(root)
    assert ("maxpool", "layer1.0.add") in paths  # identity skip of the first block
    assert ("layer1.1.add", "layer2.0.add.downsample.0") in paths  # the projection branch starts at the split
    assert ("layer2.0.add.main.conv2", "layer2.0.add") in paths  # and the main branch joins the Add
    adds = [g.attrib["data-name"] for g in layers(root) if g.attrib["data-kind"] == "Add"]
    assert len(adds) == 8
    assert {to for _, to in paths} >= set(adds)


def test_unet_skips_reach_their_concats() -> None:
    from convcalc import zoo

    root = parse(plan_svg(convcalc.plan(zoo.unet(), (1, 1, 572, 572))))
    paths = skip_paths(root)
    concats = [g.attrib["data-name"] for g in layers(root) if g.attrib["data-kind"] == "Concat"]
    assert len(concats) == 4
    assert ("enc1.conv2", "cat1") in paths  # the first skip leaves the first encoder and joins the last concat
    assert sorted(to for _, to in paths) == sorted(concats)
    assert [t for t in texts(root) if t == "skip"] == ["skip"] * 4


@pytest.mark.parametrize("max_layers", [2, 5, 12, 30])
def test_fold_mark_sits_between_the_halves_and_counts_the_rest(max_layers: int) -> None:
    from convcalc import zoo

    plan = convcalc.plan(zoo.resnet18(), (1, 3, 64, 64))
    for skip_elementwise in (True, False):
        root = parse(plan_svg(plan, max_layers=max_layers, skip_elementwise=skip_elementwise))
        shown = [g.attrib["data-name"] for g in layers(root)]
        (mark,) = with_class(root, "omitted", tag="g")
        folded = int(mark.attrib["data-folded"])
        not_drawn = (
            sum(1 for r in plan.rows if r.kind in ("BatchNorm2d", "ReLU", "Identity")) if skip_elementwise else 0
        )
        assert len(shown) == max_layers
        assert len(shown) + folded + not_drawn == len(plan.rows)
        # the mark's box lies right of the last shown box of the first half (or below it, on a later line)
        order = [e for e in root.iter() if e.attrib.get("class") in ("layer", "omitted")]
        position = order.index(mark)
        assert position == max_layers - max_layers // 2
        kinds = dict(item.split(":") for item in mark.attrib["data-kinds"].split(","))
        assert sum(map(int, kinds.values())) == folded
        names = [r.name for r in plan.rows]
        hidden = names[names.index(shown[position - 1]) + 1 : names.index(shown[position])]
        hidden_kinds = [r.kind for r in plan.rows if r.name in hidden]
        assert {k: hidden_kinds.count(k) for k in kinds} == {k: int(v) for k, v in kinds.items()}
        assert group_texts(mark)[0] == f"{folded} layers folded"


def test_wide_plans_wrap_onto_more_lines() -> None:
    net = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(30)])
    root = parse(plan_svg(convcalc.plan(net, (1, 4, 16, 16))))
    assert len(layers(root)) == 30
    assert float(root.attrib["width"]) < 1300
    assert any(len(p.attrib["points"].split()) == 6 for p in with_class(root, "arrow", tag="polyline"))


HOSTILE = "<b>&amp; \"x\" 'y' </g><script>alert(1)</script>\x01"


def test_hostile_names_are_escaped() -> None:
    net = nn.Sequential(OrderedDict([(HOSTILE, nn.Conv2d(1, 2, 3))]))
    svg = plan_svg(convcalc.plan(net, (1, 1, 8, 8)), title=HOSTILE)
    assert "<script>" not in svg
    assert "</g><script>" not in svg
    root = parse(svg)
    (group,) = layers(root)
    cleaned = HOSTILE.replace("\x01", "\ufffd")
    assert group.attrib["data-name"] == cleaned
    assert cleaned in texts(root)
    assert group.find(f"{SVG}title").text.startswith(cleaned)  # type: ignore[union-attr]


def test_hostile_kind_from_a_plain_plan() -> None:
    row = convcalc.Row(name="a&b", kind='K<"&">', input_shape=(1, 3, 8, 8), output_shape=(1, 3, 8, 8), macs=1)
    plan = convcalc.Plan(
        rows=(row,), input_shape=(1, 3, 8, 8), output_shape=(1, 3, 8, 8), convention="torch", mac_convention="macs"
    )
    root = parse(plan_svg(plan))
    (group,) = layers(root)
    assert group.attrib["data-kind"] == 'K<"&">'


def test_plan_svg_is_deterministic() -> None:
    plan = convcalc.plan(small_net(), (1, 1, 28, 28))
    assert plan_svg(plan) == plan_svg(convcalc.plan(small_net(), (1, 1, 28, 28)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_layers": 1}, "max_layers must be an integer of at least 2. Received: max_layers=1"),
        ({"max_layers": True}, "Received: max_layers=True"),
        ({"title": 3}, "title must be a string or None"),
        ({"skip_elementwise": "no"}, "skip_elementwise must be True or False"),
    ],
)
def test_plan_svg_option_errors(kwargs: dict[str, object], message: str) -> None:
    plan = convcalc.plan(small_net(), (1, 1, 28, 28))
    with pytest.raises(convcalc.SpecError, match=re.escape(message)):
        plan_svg(plan, **kwargs)  # type: ignore[arg-type]


def test_plan_svg_needs_a_plan() -> None:
    with pytest.raises(convcalc.SpecError, match=r"not a Sequential\. Received: plan=Sequential\(\.\.\.\)"):
        plan_svg(small_net())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# Golden files and the how-to page
# --------------------------------------------------------------------------- #


def test_golden_conv_step() -> None:
    golden("figure_conv_step.svg", conv_step_svg(5, 3, stride=2, padding=1, step=4))


def test_golden_small_plan() -> None:
    golden("figure_plan_small.svg", plan_svg(convcalc.plan(small_net(), (1, 1, 28, 28)), title="A small CNN"))


DOC_FIGURE = re.compile(r'(<div class="convcalc-figure">\n)(<svg .*?</svg>\n)(</div>)', re.DOTALL)


def test_doc_page_figure_is_current() -> None:
    """The how-to page shows the figure conv_step_svg draws today (rewritten by CONVCALC_UPDATE_GOLDEN=1)."""
    page = DOC_PAGE.read_text(encoding="utf-8")
    match = DOC_FIGURE.search(page)
    assert match is not None, "docs/howto/figures.md lost its embedded figure"
    svg = conv_step_svg(5, 3, stride=2, padding=1, step=4)
    if updating() and match.group(2) != svg:
        DOC_PAGE.write_text(page[: match.start(2)] + svg + page[match.end(2) :], encoding="utf-8")
        return
    assert match.group(2) == svg, "docs/howto/figures.md shows an old figure; rerun with CONVCALC_UPDATE_GOLDEN=1"


# --------------------------------------------------------------------------- #
# The command line
# --------------------------------------------------------------------------- #


def test_cli_conv_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "conv", "5", "-k", "3", "-s", "2", "-p", "1", "--step", "4"]) == 0
    out = capsys.readouterr().out
    assert out == conv_step_svg(5, 3, 2, 1, step=4)


def test_cli_conv_pool_strides_by_its_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "conv", "4", "-k", "2", "--pool"]) == 0
    assert capsys.readouterr().out == conv_step_svg(4, 2, 2, kind="pool")


def test_cli_conv_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "step.svg"
    assert main(["figure", "conv", "6x5", "-k", "3", "-d", "2", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == conv_step_svg((6, 5), 3, dilation=2)


def test_cli_plan_to_file(tmp_path: Path) -> None:
    target = tmp_path / "lenet.svg"
    assert main(["figure", "plan", "zoo:lenet5", "--title", "LeNet-5", "-o", str(target)]) == 0
    root = parse(target.read_text(encoding="utf-8"))
    assert "LeNet-5" in texts(root)
    assert [g.attrib["data-name"] for g in layers(root)][:2] == ["c1", "s2"]


def test_cli_plan_symbolic_all_layers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "plan", "zoo:lenet5", "--input", "1x1xHxH", "--all-layers", "--max-layers", "5"]) == 0
    root = parse(capsys.readouterr().out)
    assert len(layers(root)) == 5
    assert "(H - 4)" in " ".join(texts(root))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["figure", "conv", "5", "-k", "3", "--step", "9"], "step must be from 0 to 8"),
        (["figure", "conv", "100", "-k", "3"], "at most 64 cells per side"),
        (["figure", "conv", "5", "-k", "3", "-p", "same"], "padding must be an integer"),
        (["figure", "conv", "H", "-k", "3"], "size must be an integer"),
        (["figure", "plan", "zoo:lenet5", "--max-layers", "1"], "max_layers must be an integer of at least 2"),
        (["figure", "plan", "zoo:lenet5", "-o", "/nonexistent-dir/x.svg"], "cannot write /nonexistent-dir/x.svg"),
        (["figure"], "figure: the following arguments are required: FIGURE"),
    ],
)
def test_cli_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("convcalc: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_cli_subprocess_writes_svg_to_stdout() -> None:
    env = {**os.environ, "PYTHONUTF8": "1"}
    env.pop("CONVCALC_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "convcalc", "figure", "conv", "5", "-k", "3", "-s", "2", "-p", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    parse(result.stdout)
