"""The plan figure of :func:`convcalc.figures.plan_svg`: layer categories, the plan's structure, the layout."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convcalc._plan import Plan, Row
from convcalc._svg import _MUTED, _document, _element, _label, _mix, _mono_width, _num, _sans_width, _text
from convcalc._types import Shape

_CATEGORIES: dict[str, tuple[str, str]] = {
    "input": ("input", "#d0d0d0"),
    "conv": ("convolution", "#5b9bd5"),
    "upsample": ("transposed conv / upsampling", "#4bacc6"),
    "pool": ("pooling", "#ed9b5b"),
    "norm": ("normalisation", "#8fc16b"),
    "linear": ("linear / dense", "#9b84c4"),
    "reshape": ("flatten / reshape / padding", "#bfbfbf"),
    "merge": ("add / concatenate", "#f2c744"),
    "elementwise": ("activation / dropout", "#f3b3c3"),
    "other": ("other", "#a0a0a0"),
}

_CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("upsample", ("transpose", "upsampl", "interpolat", "deconv", "pixelshuffle")),
    ("conv", ("conv",)),
    ("pool", ("pool",)),
    ("norm", ("norm",)),
    ("linear", ("linear", "dense")),
    ("reshape", ("flatten", "reshape", "view", "permute", "squeeze", "pad", "crop", "cropping")),
    ("merge", ("add", "cat", "concat", "merge", "multiply", "sum", "subtract", "average", "maximum", "minimum")),
    (
        "elementwise",
        ("relu", "elu", "gelu", "silu", "swish", "tanh", "sigmoid", "softmax", "activation", "dropout", "identity"),
    ),
)


def _category(kind: str) -> str:
    lowered = kind.lower()
    for category, words in _CATEGORY_WORDS:
        if any(w in lowered for w in words):
            return category
    return "other"


def _is_elementwise(row: Row) -> bool:
    """An activation, normalisation, dropout or identity that keeps its input's shape and does no
    multiply-accumulates. A pooling or a merge that happens to keep the shape is structure: it is drawn."""
    if _category(row.kind) not in ("elementwise", "norm"):
        return False
    try:
        return bool(row.input_shape == row.output_shape) and bool(row.macs == 0)
    except TypeError:  # an exotic value that does not compare: draw it
        return False


@dataclass(frozen=True, slots=True)
class _Fold:
    """The layers the marker stands for: how many, which kinds, and the shape before and after them."""

    rows: tuple[Row, ...]

    def kinds(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.kind] = counts.get(row.kind, 0) + 1
        return list(counts.items())

    def lines(self) -> tuple[str, ...]:
        n = len(self.rows)
        kinds = [f"{count} {kind}" for kind, count in self.kinds()]
        shown = kinds if len(kinds) <= 4 else [*kinds[:3], f"+{len(kinds) - 3} kinds"]
        return (f"{n} {'layer' if n == 1 else 'layers'} folded", *shown)

    def summary(self) -> str:
        kinds = ", ".join(f"{count} x {kind}" for kind, count in self.kinds())
        shapes = f"{_shape_plain(self.rows[0].input_shape)} -> {_shape_plain(self.rows[-1].output_shape)}"
        return f"{len(self.rows)} layers folded ({kinds}): {shapes}"


@dataclass(frozen=True, slots=True)
class _Skip:
    """A connection drawn as an arc: from node ``source`` (a branch point or a branch's end) to node ``target``."""

    source: int
    target: int
    label: str


def _structure(rows: Sequence[Row], node_of: Sequence[int], boxed: Sequence[bool]) -> tuple[list[_Skip], set[int]]:
    """The skips and branches of merges (``Add``, ``Concat``, ...) whose branches are the rows below them
    (``block.add.main.conv1``, ``block.add.identity``): arcs from the branch point to each branch that does not
    follow the previous box, and to the merge for a branch with nothing drawn (an identity skip); and the nodes
    whose plain arrow from the previous box is wrong (they start a second branch).

    ``node_of[j]`` is the node that stands for row ``j`` (its own box, the fold marker, or the box before an
    element-wise row that is not drawn); node 0 is the input. ``boxed[j]`` says whether that node is row ``j``'s
    own box or the marker (rather than a box it passes through undrawn).
    """
    skips: list[_Skip] = []
    not_from_previous: set[int] = set()
    for m, merge in enumerate(rows):
        if _category(merge.kind) != "merge" or not merge.name:
            continue
        prefix = merge.name + "."
        inside = [j for j in range(m) if rows[j].name.startswith(prefix)]
        if not inside:
            continue
        point = node_of[inside[0] - 1] if inside[0] > 0 else 0
        target = node_of[m]
        branches: dict[str, list[int]] = {}
        for j in inside:
            branches.setdefault(rows[j].name[len(prefix) :].split(".")[0], []).append(j)
        previous_end: int | None = None
        for label, members in branches.items():
            drawn = sorted({node_of[j] for j in members if boxed[j]} - {point})
            own = [k for k in drawn if k != target]
            if not own:
                if point != target:
                    skips.append(_Skip(point, target, label))
                continue
            if previous_end is not None:
                if own[0] != previous_end:
                    skips.append(_Skip(point, own[0], label))
                    not_from_previous.add(own[0])
                if previous_end != target:
                    skips.append(_Skip(previous_end, target, ""))
            previous_end = own[-1]
    return skips, not_from_previous


def _is_int(value: Any) -> bool:
    return type(value) is int


def _dim_text(value: Any) -> str:
    """A size as a label: ints and bare names as they are, expressions in parentheses."""
    text = "?" if value is None else str(value)
    return text if _is_int(value) or text.isidentifier() or text == "?" else f"({text})"


def _middle_ellipsis(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep - keep // 2] + "…" + text[len(text) - keep // 2 :]


def _shape_lines(dims: Sequence[Any], limit: int) -> list[str]:
    """``a x b x c`` in lines of at most ``limit`` characters, broken after an ``x``.

    An expression that shares its line with another size is put in parentheses;
    one on a line of its own is not.
    """
    groups: list[list[Any]] = [[]]
    for dim in dims:
        trial = [*groups[-1], dim]
        if groups[-1] and len(" x ".join(_dim_text(d) for d in trial)) + 2 > limit:
            groups.append([dim])
        else:
            groups[-1] = trial
    lines = []
    for j, group in enumerate(groups):
        text = " x ".join(_dim_text(d) for d in group) if len(group) > 1 else str(group[0])
        lines.append(_middle_ellipsis(text, limit - 2) + (" x" if j < len(groups) - 1 else ""))
    return lines


@dataclass(frozen=True, slots=True)
class _Node:
    """One drawn box: what it is, its size in pixels and its label lines."""

    name: str
    kind: str
    shape: Shape
    input_shape: Shape | None
    category: str
    form: str  # "map" (a cuboid), "vector" (a bar) or "label" (a plain box)
    height: float
    width: float
    depth_x: float
    depth_y: float
    lines: tuple[str, ...]
    column: float


class _Scale:
    """Pixels for sizes: linear while the range is small, logarithmic when it is large."""

    def __init__(self, values: Sequence[int], low: float, high: float) -> None:
        self.values = tuple(values)
        self.lo, self.hi = (min(values), max(values)) if values else (1, 1)
        self.low, self.high = low, high
        self.log = self.hi > 4 * self.lo

    def __call__(self, x: int) -> float:
        if self.hi == self.lo:
            return self.high
        if self.log:
            return self.low + (self.high - self.low) * math.log(x / self.lo) / math.log(self.hi / self.lo)
        return max(self.low, self.high * x / self.hi)


class _PlanFigure:
    """Layout and drawing of :func:`plan_svg`."""

    margin = 24.0
    arrow = 30.0
    line_width = 1150.0
    label_chars = 24
    symbolic_chars = 32
    label_size = 11.0
    map_height = (16.0, 120.0)
    map_width = (6.0, 42.0)
    symbolic_box = (60.0, 18.0)

    lane = 40.0  # room above a line of boxes for the arcs of skips and branches

    def __init__(
        self,
        plan: Plan,
        rows: Sequence[Row | None],
        title: str | None,
        fold: _Fold | None,
        skipped: int,
        skips: Sequence[_Skip] = (),
        not_from_previous: set[int] | None = None,
    ) -> None:
        self.plan, self.title, self.fold, self.skipped = plan, title, fold, skipped
        self.hidden = len(fold.rows) if fold is not None else 0
        self.skips = list(skips)
        self.not_from_previous = not_from_previous or set()
        self.channels_last = plan.layout == "channels_last"
        raw: list[tuple[str, str, tuple[Any, ...], tuple[Any, ...] | None]] = [
            ("input", "Input", tuple(plan.input_shape), None)
        ]
        for row in rows:
            if row is None:
                raw.append(("", "", (), None))
            else:
                raw.append((row.name, row.kind, tuple(row.output_shape), tuple(row.input_shape)))
        maps = [self._map_dims(shape) for _, _, shape, _ in raw]
        sizes = [d for m in maps if m is not None for d in m[1:]]
        self.size_scale = _Scale(sizes, *self.map_height)
        channels = [m[0] for m in maps if m is not None]
        self.top_channels = max(channels, default=1)
        features = [s[1] for _, _, s, _ in raw if len(s) == 2 and _is_int(s[1])]
        self.feature_scale = _Scale(features, *self.map_height)
        self.nodes = [self._node(*r, m) for r, m in zip(raw, maps, strict=True)]

    def _map_dims(self, shape: Shape) -> tuple[int, int, int] | None:
        """(C, H, W) of a numeric 2-D feature map, else None."""
        if len(shape) != 4:
            return None
        c, h, w = (shape[3], shape[1], shape[2]) if self.channels_last else shape[1:]
        if all(_is_int(v) and v >= 1 for v in (c, h, w)):
            return c, h, w
        return None

    def _shape_lines(self, shape: Shape) -> list[str]:
        dims = shape[1:] if len(shape) > 1 else shape
        if not dims:
            return ["()"]
        numeric = all(_is_int(d) for d in dims)
        return _shape_lines(dims, self.label_chars if numeric else self.symbolic_chars)

    def _node(
        self,
        name: str,
        kind: str,
        shape: Shape,
        input_shape: Shape | None,
        dims: tuple[int, int, int] | None,
    ) -> _Node:
        if not kind:  # the marker of the folded middle
            lines: tuple[str, ...] = self.fold.lines() if self.fold is not None else ()
            width = max(64.0, max(_sans_width(len(t), 11) for t in lines) + 12)
            return _Node("", "", (), None, "omitted", "gap", 13.0 * len(lines) + 14, width, 0.0, 0.0, lines, width + 8)
        category = "input" if input_shape is None else _category(kind)
        lines = (
            _middle_ellipsis(name, self.label_chars),
            _middle_ellipsis(kind, self.label_chars),
            *self._shape_lines(shape),
        )
        if dims is not None:
            c, h, w = dims
            low, high = self.map_width
            width = low + (high - low) * math.log2(1 + c) / math.log2(1 + max(self.top_channels, 1))
            height = self.size_scale(h)
            across = self.size_scale(w)
            form, depth_x, depth_y = "map", across * 0.42, across * 0.3
        elif len(shape) == 2 and _is_int(shape[1]) and shape[1] >= 1:
            form, width, height, depth_x, depth_y = "vector", 9.0, self.feature_scale(shape[1]), 0.0, 0.0
        elif len(shape) == 4:  # a symbolic feature map: a fixed cuboid, the sizes in the label
            height, width = self.symbolic_box
            form, depth_x, depth_y = "map", height * 0.42, height * 0.3
        else:  # 1-D, 3-D or anything else: a plain box with the label
            form, width, height, depth_x, depth_y = "label", 34.0, 44.0, 0.0, 0.0
        text_width = max(_mono_width(len(t), self.label_size) for t in lines)
        column = max(width + depth_x, text_width, 56.0) + 8
        return _Node(name, kind, shape, input_shape, category, form, height, width, depth_x, depth_y, lines, column)

    # -- layout ------------------------------------------------------------ #

    def _lines(self) -> list[list[_Node]]:
        lines: list[list[_Node]] = [[]]
        used = 0.0
        for node in self.nodes:
            need = node.column + (self.arrow if lines[-1] else 0)
            if lines[-1] and used + need > self.line_width:
                lines.append([])
                need, used = node.column, 0.0
            lines[-1].append(node)
            used += need
        return lines

    def render(self) -> str:
        m = self.margin
        y = m
        body: list[str] = []
        arrows: list[str] = []
        boxes: list[str] = []
        if self.title:
            body.append(_label(m, y + 16, self.title, size=16, attrs={"font-weight": "bold"}))
            y += 34
        width = 0.0
        previous: tuple[_Node, float, float, float] | None = None  # node, right x, centre y, column right
        turn_y: float | None = None  # where the arrow to the next line runs back to the left
        anchors: list[tuple[float, float, int, float]] = []  # per node: centre x, top y, line, lane y
        lane = self.lane if self.skips else 0.0
        for number, line in enumerate(self._lines()):
            lane_y = y + lane * 0.45
            y += lane
            band = max(n.depth_y for n in line) + max(n.height for n in line)
            centre = y + max(n.depth_y for n in line) + max(n.height for n in line) / 2
            label_top = y + band + 16
            label_rows = max(len(n.lines) for n in line)
            x = m
            for j, node in enumerate(line):
                left = x + (node.column - node.width - node.depth_x) / 2
                anchors.append((left + node.width / 2, centre - node.height / 2 - node.depth_y, number, lane_y))
                if previous is not None and len(anchors) - 1 in self.not_from_previous:
                    pass  # a second branch starts here: its arc comes from the branch point
                elif previous is not None:
                    prev_node, prev_mid, prev_y, prev_right = previous
                    dashed = self._branch(prev_node, node)
                    if j == 0 and turn_y is not None:
                        points = [
                            (prev_mid, prev_y),
                            (prev_right + self.arrow / 2, prev_y),
                            (prev_right + self.arrow / 2, turn_y),
                            (m / 2, turn_y),
                            (m / 2, centre),
                            (left - 2, centre),
                        ]
                        arrows.append(_polyline(points, dashed))
                    else:
                        arrows.append(_polyline([(prev_mid, prev_y), (left - 2, centre)], dashed))
                boxes.append(self._draw(node, left, centre, x, label_top))
                previous = (node, left + node.width / 2, centre, x + node.column)
                x += node.column + self.arrow
            width = max(width, x - self.arrow + m)
            y = label_top + label_rows * 13 + 14
            turn_y = y + 6
            y += 18
        arcs, right = self._arcs(anchors, width)
        legend, legend_width, legend_height = self._legend(m, y)
        body += arrows + arcs + boxes + legend
        y += legend_height
        width = max(width, right + m)
        height = y + m - 14
        label = self.title or f"shapes through a network: input {_shape_plain(self.plan.input_shape)}"
        return _document(max(width, legend_width + 2 * m), height, body, label=label, defs=[_ARROW_HEAD])

    def _numeric(self, node: _Node) -> bool:
        return self._map_dims(node.shape) is not None

    def _branch(self, before: _Node, node: _Node) -> bool:
        """Whether ``node`` reads something other than what ``before`` outputs (a skip or a branch)."""
        if node.input_shape is None or before.form == "gap" or node.form == "gap":
            return False
        try:
            return not bool(node.input_shape == before.shape)
        except TypeError:
            return False

    # -- drawing ----------------------------------------------------------- #

    def _draw(self, node: _Node, left: float, centre: float, column_x: float, label_top: float) -> str:
        if node.form == "gap":
            frame = {"x": left, "y": centre - node.height / 2, "width": node.width, "height": node.height, "rx": 6}
            fold = self.fold
            kinds = ",".join(f"{kind}:{count}" for kind, count in fold.kinds()) if fold is not None else ""
            group = {"class": "omitted", "data-folded": self.hidden, "data-kinds": kinds}
            summary = fold.summary() if fold is not None else ""
            parts = [_element("g", group)[:-2] + ">", f"<title>{_text(summary)}</title>"]
            parts.append(_element("rect", {**frame, "fill": "#ffffff", "stroke": "#888888", "stroke-dasharray": "4 3"}))
            parts += [
                _label(
                    left + node.width / 2,
                    centre - node.height / 2 + 17 + 13 * j,
                    text,
                    size=11,
                    attrs={"fill": _MUTED, "text-anchor": "middle"},
                )
                for j, text in enumerate(node.lines)
            ]
            return "\n".join([*parts, "</g>"])
        colour = _CATEGORIES[node.category][1]
        group_class = "input" if node.category == "input" else "layer"
        shape = _shape_plain(node.shape)
        parts = [
            _element("g", {"class": group_class, "data-name": node.name, "data-kind": node.kind})[:-2] + ">",
            f"<title>{_text(f'{node.name} ({node.kind}): {shape}')}</title>",
        ]
        top = centre - node.height / 2
        stroke = _mix(colour, "#000000", 0.45)
        edge: dict[str, object] = {"stroke": stroke, "stroke-width": 1, "stroke-linejoin": "round"}
        if node.depth_x:
            dx, dy, w, h = node.depth_x, node.depth_y, node.width, node.height
            top_face = [(left, top), (left + dx, top - dy), (left + w + dx, top - dy), (left + w, top)]
            side_face = [(left + w, top), (left + w + dx, top - dy), (left + w + dx, top + h - dy), (left + w, top + h)]
            parts.append(_polygon(top_face, _mix(colour, "#ffffff", 0.45), edge))
            parts.append(_polygon(side_face, _mix(colour, "#000000", 0.18), edge))
        rounded = {"rx": 4} if node.form == "label" else {}
        front = {"class": "box", "x": left, "y": top, "width": node.width, "height": node.height, **rounded}
        parts.append(_element("rect", {**front, "fill": colour, **edge}))
        cx = column_x + node.column / 2
        for j, text in enumerate(node.lines):
            attrs: dict[str, object] = {"text-anchor": "middle", "class": ("name", "kind")[j] if j < 2 else "shape"}
            if j == 0:
                attrs["font-weight"] = "bold"
            if j == 1:
                attrs["fill"] = _MUTED
            size = self.label_size if j != 1 else 10
            parts.append(_label(cx, label_top + 13 * j, text, size=size, mono=j != 1, attrs=attrs))
        parts.append("</g>")
        return "\n".join(parts)

    def _arcs(self, anchors: Sequence[tuple[float, float, int, float]], width: float) -> tuple[list[str], float]:
        """Each skip as an arc over the boxes, labelled; one that changes lines runs down the right margin."""
        out: list[str] = []
        right = 0.0
        for j, skip in enumerate(self.skips):
            x1, y1, line1, lane1 = anchors[skip.source]
            x2, y2, line2, lane2 = anchors[skip.target]
            if line1 == line2:
                rise = min(self.lane - 6, 14 + 3 * (skip.target - skip.source))
                top = min(y1, y2) - rise
                d = f"M {_num(x1)} {_num(y1)} C {_num(x1)} {_num(top)}, {_num(x2)} {_num(top)}, {_num(x2)} {_num(y2)}"
                label_x, label_y, anchor = (x1 + x2) / 2, min(y1, y2) - rise * 0.75 - 3, "middle"
            else:
                edge = width + 8 + 6 * (j % 4)
                right = max(right, edge)
                points = [(x1, y1), (x1, lane1), (edge, lane1), (edge, lane2), (x2, lane2), (x2, y2)]
                d = "M " + " L ".join(f"{_num(a)} {_num(b)}" for a, b in points)
                label_x, label_y, anchor = x1 + 4, lane1 - 3, "start"
            attrs: dict[str, object] = {
                "class": "skip",
                "data-from": self.nodes[skip.source].name or "(folded)",
                "data-to": self.nodes[skip.target].name or "(folded)",
                "d": d,
                "fill": "none",
                "stroke": "#7a5cc7",
                "stroke-width": 1.3,
                "marker-end": "url(#arrow)",
            }
            out.append(_element("path", attrs))
            if skip.label:
                text_attrs = {"class": "skip-label", "fill": "#7a5cc7", "text-anchor": anchor}
                out.append(_label(label_x, label_y, skip.label, size=10, mono=True, attrs=text_attrs))
        return out, right

    def _legend(self, x: float, y: float) -> tuple[list[str], float, float]:
        used = [c for c in _CATEGORIES if any(n.category == c for n in self.nodes)]
        out = ['<g class="legend" font-size="11">']
        start = x
        for category in used:
            text, colour = _CATEGORIES[category]
            out.append(_element("rect", {"x": x, "y": y - 10, "width": 12, "height": 12, "fill": colour}))
            out.append(_label(x + 17, y, text, size=11))
            x += 17 + _sans_width(len(text), 11) + 14
        order = "H x W x C" if self.channels_last else "C x H x W"
        note = f"shapes {order} (batch left out)"
        if any(n.form == "map" for n in self.nodes) and self.size_scale.values:
            scale = "log" if self.size_scale.log else "linear"
            note += f"; box height: H ({scale} scale), width: log C, depth: W"
        if any(n.form == "map" and not self._numeric(n) for n in self.nodes):
            note += "; symbolic sizes: boxes of one size"
        left_out = [f"{self.skipped} element-wise"] if self.skipped else []
        left_out += [f"{self.hidden} folded at the marker"] if self.hidden else []
        if left_out:
            note += f"; layers not drawn: {', '.join(left_out)}"
        out.append(_label(start, y + 20, note, size=11, attrs={"fill": _MUTED}))
        notes = []
        if any(self._branch(a, b) for a, b in itertools.pairwise(self.nodes)):
            notes.append("dashed arrow: the layer reads a branch's input")
        if self.skips:
            notes.append(
                "curved arrow: a skip or a branch, from where the branches split to the merge (labelled by branch)"
            )
        for j, text in enumerate(notes):
            out.append(_label(start, y + 35 + 15 * j, text, size=11, attrs={"fill": _MUTED}))
        out.append("</g>")
        widest = max([len(note), *(len(t) for t in notes)])
        return out, max(x - start, _sans_width(widest, 11)), 38.0 + 15 * max(0, len(notes) - 1)


_ARROW_HEAD = (
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
    'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker>'
)


def _polygon(points: Sequence[tuple[float, float]], fill: str, edge: dict[str, object]) -> str:
    return _element("polygon", {"points": " ".join(f"{_num(a)},{_num(b)}" for a, b in points), "fill": fill, **edge})


def _polyline(points: Sequence[tuple[float, float]], dashed: bool) -> str:
    attrs: dict[str, object] = {
        "class": "arrow",
        "points": " ".join(f"{_num(a)},{_num(b)}" for a, b in points),
        "fill": "none",
        "stroke": "#555555",
        "stroke-width": 1.3,
        "marker-end": "url(#arrow)",
    }
    if dashed:
        attrs["stroke-dasharray"] = "4 3"
    return _element("polyline", attrs)


def _shape_plain(shape: Shape) -> str:
    return " x ".join(_dim_text(d) for d in shape) if shape else "()"
