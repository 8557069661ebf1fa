"""Rendered plans read back the way their readers read them: Markdown by a CommonMark parser, CSV by the csv
module and sympy, the Keras layout by its columns, the notebook view by an HTML parser."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from typing import Any

import pytest
import sympy
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

import convcalc
from convcalc import nn, zoo
from convcalc._symbolic import to_sympy

H, W = convcalc.symbols("H W")


def symbolic_plans() -> list[tuple[str, convcalc.Plan]]:
    """Zoo models on symbolic inputs: square (so that products become powers) and not, with constraints."""
    return [
        ("seed000_cnn HxH", convcalc.plan(zoo.seed000_cnn(), (1, 1, H, H))),
        ("lenet5 HxW", convcalc.plan(zoo.lenet5(), (1, 1, H, W))),
        ("lenet5 HxH", convcalc.plan(zoo.lenet5(), (1, 1, H, H))),
        ("vgg11 HxH", convcalc.plan(zoo.vgg11(), (1, 3, H, H))),
    ]


PLANS = symbolic_plans()
IDS = [name for name, _ in PLANS]


def bracketed(shape: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(to_sympy(d)) for d in shape) + "]"


def same(got: Any, want: Any) -> bool:
    """Equal as expressions (sympify evaluates what the plan keeps unevaluated, e.g. 150*(H - 4) -> 150*H - 600)."""
    return bool(got == want or sympy.simplify(got - want) == 0)


def symbolic(value: Any) -> bool:
    return type(value) is not int


# --------------------------------------------------------------------------- #
# Markdown
# --------------------------------------------------------------------------- #


def markdown_table(text: str) -> list[list[SyntaxTreeNode]]:
    tree = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(text))
    tables = [n for n in tree.walk() if n.type == "table"]
    assert len(tables) == 1
    return [list(row.children) for row in tables[0].walk() if row.type == "tr"]


def cell_content(cell: SyntaxTreeNode) -> tuple[str, str]:
    """(what the cell holds: "text", "code", "strong text" or "strong code"; the exact characters)."""
    inline = (
        [c for c in cell.children[0].children if not (c.type == "text" and c.content == "")] if cell.children else []
    )
    if not inline:
        return "empty", ""
    assert len(inline) == 1, [c.type for c in inline]
    node, kind = inline[0], ""
    if node.type == "strong":
        assert len(node.children) == 1
        node, kind = node.children[0], "strong "
    assert node.type in ("text", "code_inline"), node.type
    return kind + ("text" if node.type == "text" else "code"), str(node.content)


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=IDS)
def test_symbolic_markdown_cells_hold_the_exact_values(plan: convcalc.Plan) -> None:
    text = plan.to_markdown()
    tree = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(text))
    assert not [n for n in tree.walk() if n.type == "em"]
    rows = markdown_table(text)
    assert len(rows) == 1 + len(plan.rows) + 1
    assert [cell_content(c)[1] for c in rows[0]] == ["Layer", "Kind", "Output shape", "Params", "MACs"]
    for cells, row in zip(rows[1:-1], plan.rows, strict=True):
        got = [cell_content(c) for c in cells]
        assert got[0] == ("code", row.name)
        assert got[1] == ("text", row.kind)
        assert got[2] == ("code" if any(map(symbolic, row.output_shape)) else "text", bracketed(row.output_shape))
        for (kind, value), expected in zip(got[3:], (row.params, row.macs), strict=True):
            if symbolic(expected):
                assert kind == "code"
                assert same(sympy.sympify(value, locals={"H": H, "W": W}), to_sympy(expected))
            else:
                assert (kind, value) == ("text", f"{expected:,}")
    total = [cell_content(c) for c in rows[-1]]
    assert total[:3] == [("strong text", "Total"), ("empty", ""), ("text", bracketed(plan.output_shape))]
    assert total[3] == ("strong text", f"{plan.total_params:,}")
    assert total[4][0] == "strong code"
    assert same(sympy.sympify(total[4][1], locals={"H": H, "W": W}), to_sympy(plan.macs))


def test_markdown_escapes_what_a_name_or_kind_would_mark_up() -> None:
    import dataclasses

    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 1, 8, 8))
    odd = dataclasses.replace(plan.rows[0], name="a`b|c", kind="*Conv*_x_|<b>")
    rows = markdown_table(dataclasses.replace(plan, rows=(odd,)).to_markdown())
    assert [cell_content(c) for c in rows[1][:2]] == [("code", "a`b|c"), ("text", "*Conv*_x_|<b>")]


# --------------------------------------------------------------------------- #
# CSV
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=IDS)
def test_symbolic_csv_reads_back_to_the_same_expressions(plan: convcalc.Plan) -> None:
    names = {"H": H, "W": W}
    records = list(csv.DictReader(io.StringIO(plan.to_csv())))
    assert len(records) == len(plan.rows)
    for record, row in zip(records, plan.rows, strict=True):
        assert record["name"] == row.name
        for key in ("input_shape", "output_shape"):
            assert record[key].startswith("[")
            got = sympy.sympify(record[key], locals=names)
            want = to_sympy(getattr(row, key))
            assert len(got) == len(want)
            assert all(same(a, b) for a, b in zip(got, want, strict=True)), (row.name, key)
        for key in ("params", "macs", "activations", "activation_bytes"):
            assert same(sympy.sympify(record[key], locals=names), to_sympy(getattr(row, key))), (row.name, key)


def test_numeric_csv_keeps_its_compact_shapes() -> None:
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 8, 3, stride=2), nn.Flatten()), (1, 1, 9, 9))
    records = list(csv.DictReader(io.StringIO(plan.to_csv())))
    # by hand: (9 - 3)//2 + 1 = 4, and 8 * 4 * 4 = 128 features after the flatten
    assert [(r["input_shape"], r["output_shape"]) for r in records] == [
        ("1x1x9x9", "1x8x4x4"),
        ("1x8x4x4", "1x128"),
    ]


# --------------------------------------------------------------------------- #
# LaTeX
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=IDS)
def test_symbolic_latex_is_math(plan: convcalc.Plan) -> None:
    tex = plan.to_latex()
    assert "**" not in tex
    assert "floor(" not in tex
    assert r"\lfloor" in tex
    assert tex.count(r"\lfloor") == tex.count(r"\rfloor")
    body = tex.splitlines()[4:-4]
    assert len(body) == len(plan.rows)
    for line in body:
        assert line.endswith(r" \\")
        assert line.count("$") % 2 == 0
        assert line.count("{") == line.count("}")
        outside = line.split("$")[::2]  # text outside math mode: no superscripts, no unescaped underscores
        assert not any("^" in part or "_" in part.replace(r"\_", "") for part in outside)
        assert len(line[: -len(r" \\")].split(" & ")) == 5


# --------------------------------------------------------------------------- #
# Keras layout
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=IDS)
def test_keras_summary_columns_fit_symbolic_shapes(plan: convcalc.Plan) -> None:
    lines = plan.summary("keras").splitlines()
    header = lines[2]
    shape_at, params_at = header.index("Output Shape"), header.index("Param #")
    rules = {line for line in lines if line and set(line) <= set("_=")}
    assert {len(r) for r in rules} == {len(header)}
    layer_lines = [line for line in lines[4:] if line not in rules][: len(plan.rows)]
    for line, row in zip(layer_lines, plan.rows, strict=True):
        shape = "(None, " + ", ".join(str(to_sympy(d)) for d in row.output_shape[1:]) + ")"
        assert line[:shape_at].rstrip() == f"{row.name} ({row.kind})"[:28]
        assert line[shape_at:params_at].rstrip() == shape
        assert line[params_at - 1] == " "
        assert line[params_at:] == str(row.params)


# --------------------------------------------------------------------------- #
# The notebook view
# --------------------------------------------------------------------------- #


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []  # type: list[Element | str]

    def find_all(self, tag: str) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    found.append(child)
                found += child.find_all(tag)
        return found

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def markup(self) -> str:
        """The text with <sup> kept as ``^`` so that powers can be told from digits."""
        return "".join(
            c if isinstance(c, str) else ("^" + c.markup() if c.tag == "sup" else c.markup()) for c in self.children
        )


class TreeBuilder(HTMLParser):
    VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Element:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def html_facts(root: Element) -> dict[str, Element]:
    (dl,) = root.find_all("dl")
    terms = [c for c in dl.children if isinstance(c, Element)]
    assert [t.tag for t in terms] == ["dt", "dd"] * (len(terms) // 2)
    return {terms[j].text(): terms[j + 1] for j in range(0, len(terms), 2)}


def test_html_view_of_a_numeric_plan() -> None:
    # by hand: conv 3 -> 8, 3x3: 8*3*9 + 8 = 224 params; output 8 x 16 x 16 (stride 2, padding 1 on 32);
    # MACs 8*16*16 * 3*9 = 55,296; BatchNorm2d(8): 16 trainable, running mean/var (8 + 8) and the counter: 17 buffers
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    root = parse_html(convcalc.plan(net, (2, 3, 32, 32))._repr_html_())
    (table,) = root.find_all("table")
    head = [th.text() for th in table.find_all("thead")[0].find_all("th")]
    assert head == ["Layer", "Kind", "Output shape", "Params", "MACs"]
    body = [[td.text() for td in tr.find_all("td")] for tr in table.find_all("tbody")[0].find_all("tr")]
    assert body == [
        ["0", "Conv2d", "[2, 8, 16, 16]", "224", "55,296"],
        ["1", "BatchNorm2d", "[2, 8, 16, 16]", "16", "0"],
        ["2", "ReLU", "[2, 8, 16, 16]", "0", "0"],
    ]
    facts = html_facts(root)
    assert {k: v.text() for k, v in facts.items() if k != "MAC convention"} == {
        "Input shape": "[2, 3, 32, 32]",
        "Output shape": "[2, 8, 16, 16]",
        "Trainable params": "240",
        "Non-trainable params": "0",
        "Buffers": "17",
    }
    assert facts["MAC convention"].text().startswith("macs: MACs: conv + linear multiply-accumulates")
    assert "Constraints" not in facts


def test_html_view_of_a_symbolic_plan_typesets_sizes() -> None:
    plan = convcalc.plan(zoo.lenet5(), (1, 1, H, H))
    text = plan._repr_html_()
    assert "**" not in text
    assert "floor" not in text
    root = parse_html(text)
    rows = [tr.find_all("td") for tr in root.find_all("tbody")[0].find_all("tr")]
    assert len(rows) == len(plan.rows)
    # c1: 5x5 conv on H: H - 4; s2: 2x2 average pool with stride 2 on H - 4: floor((H - 6)/2) + 1
    assert rows[0][2].text() == "[1, 6, H - 4, H - 4]"
    assert rows[0][4].markup() == "150·(H - 4)^2"
    assert rows[2][2].text() == "[1, 6, ⌊(H - 6)/2⌋ + 1, ⌊(H - 6)/2⌋ + 1]"
    assert [sup.text() for sup in rows[0][4].find_all("sup")] == ["2"]
    facts = html_facts(root)
    assert facts["Input shape"].text() == "[1, 1, H, H]"
    constraints = facts["Constraints"].find_all("li")
    assert len(constraints) == len(plan.constraints) > 0
    for li, c in zip(constraints, plan.constraints, strict=True):
        assert li.find_all("code")[0].text() == c.layer
        assert f"(axis {c.axis})" in li.text()
        assert c.reason in li.text()
    # f6 needs 120 features: 120*(floor(H/4) - 7)**2 == 120
    assert constraints[-1].markup().startswith("f6 (axis 1): 120·(⌊H/4⌋ - 7)^2 = 120")


def test_html_view_escapes_names_and_kinds() -> None:
    import dataclasses

    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 1, 8, 8))
    odd = dataclasses.replace(plan.rows[0], name="<script>alert(1)</script>", kind="A&B")
    root = parse_html(dataclasses.replace(plan, rows=(odd,))._repr_html_())
    assert not root.find_all("script")
    cells = root.find_all("tbody")[0].find_all("td")
    assert [cells[0].text(), cells[1].text()] == ["<script>alert(1)</script>", "A&B"]


def test_the_receptive_field_column_shows_each_axis_where_they_differ() -> None:
    """The column is size/jump/pad: where the axes differ each axis shows its own three (a stride of (2, 1) and a
    left padding of 3 on one axis were dropped, the sizes alone shown)."""
    net = nn.Sequential(nn.ZeroPad2d((3, 1, 0, 2)), nn.Conv2d(1, 2, (3, 5), stride=(2, 1)), nn.Conv2d(2, 2, 3))
    lines = convcalc.plan(net, (1, 1, 32, 33)).summary().splitlines()
    assert lines[2].endswith("1/1/0 x 1/1/3")
    assert lines[3].endswith("3/2/0 x 5/1/3")
    assert lines[4].endswith("7/2/0 x 7/1/3")
    same = convcalc.plan(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1)), (1, 1, 8, 8)).summary()
    assert same.splitlines()[2].endswith("3/2/1")
