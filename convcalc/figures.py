"""SVG figures: a plan's shapes flowing through its layers, and one step of a convolution.

:func:`plan_svg` draws a :class:`~convcalc.Plan` as a row of boxes, one per
layer, sized by the feature maps they output. :func:`conv_step_svg` draws one
step of a convolution or pooling in the manner of Dumoulin & Visin's "A guide to
convolution arithmetic for deep learning": the padded input grid, the kernel
window at one output position, and the output grid with that position marked.

Both return the SVG document as a string. They are renderers (data flows
formulas -> plan -> here) and build the text themselves, with no plotting
library; the same arguments always give the same bytes, so the figures can be
golden files. Every piece of text that comes from a user (layer names, kinds,
symbolic sizes, titles) is XML-escaped.

The SVG writing is in ``convcalc._svg`` and the plan figure's layout in
``convcalc._plan_figure``; this module draws a convolution step and holds the
public functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convcalc._args import received, spread
from convcalc._enums import _Vocabulary
from convcalc._errors import SpecError
from convcalc._plan import Plan, Row
from convcalc._plan_figure import _Fold, _is_elementwise, _PlanFigure, _structure
from convcalc._svg import SVG_NAMESPACE as SVG_NAMESPACE
from convcalc._svg import _document, _element, _label, _mono_width, _sans_width
from convcalc.formulas import conv_output_size, pool_output_size

__all__ = ["MAX_GRID_CELLS", "conv_step_svg", "plan_svg"]
#: The most cells :func:`conv_step_svg` draws along one side of the padded input.
MAX_GRID_CELLS = 64
# --------------------------------------------------------------------------- #
# One step of a convolution
# --------------------------------------------------------------------------- #


class StepKind(_Vocabulary):
    """What :func:`conv_step_svg` draws."""

    CONV = "conv"
    POOL = "pool"


_INPUT_FILL, _INPUT_STROKE = "#cfe2f3", "#5b7f9e"
_PAD_STROKE = "#9a9a9a"
_TAP_FILL = "#1f4e79"
_OUT_FILL, _OUT_STROKE = "#d9ead3", "#6a9a5a"
_CURRENT_FILL, _CURRENT_STROKE = "#6aa84f", "#274e13"


@dataclass(frozen=True, slots=True)
class _Axis:
    """The numbers of one drawn axis of :func:`conv_step_svg`."""

    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    out: int

    @property
    def padded(self) -> int:
        return self.size + 2 * self.padding

    def read(self) -> set[int]:
        """Padded indices any window reads."""
        return {o * self.stride + t * self.dilation for o in range(self.out) for t in range(self.kernel)}

    def formula_numbers(self) -> str:
        k = f"{self.kernel}" if self.dilation == 1 else f"{self.dilation}*({self.kernel} - 1) - 1"
        return f"out = floor(({self.size} + 2*{self.padding} - {k})/{self.stride}) + 1 = {self.out}"


def _step_axes(
    size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, out: Any, args: dict[str, Any]
) -> tuple[_Axis, ...]:
    ndim = len(out) if isinstance(out, tuple) else 2
    if not isinstance(out, tuple | int):
        ndim = 0  # an array or a symbol: refused below
    values = [spread(v, ndim) for v in (size, kernel_size, stride, padding, dilation)]
    outs = spread(out, ndim)
    if ndim == 0 or not all(type(v) is int for v in (*outs, *(x for vs in values for x in vs))):
        raise SpecError(
            "conv_step_svg draws one configuration with integer sizes: size, kernel_size, stride, padding "
            f"and dilation must be ints or tuples of ints, not symbols or arrays. {received(args)}"
        )
    if ndim > 2:
        raise SpecError(f"conv_step_svg draws 1-D and 2-D grids, not {ndim}-D ones. {received(args)}")
    axes = tuple(_Axis(i, k, s, p, d, o) for i, k, s, p, d, o in zip(*values, outs, strict=True))
    if any(a.padded > MAX_GRID_CELLS for a in axes):
        sides = " x ".join(str(a.padded) for a in axes)
        raise SpecError(
            f"conv_step_svg draws at most {MAX_GRID_CELLS} cells per side, and the padded input is {sides}: "
            f"use a smaller size to show the arithmetic. {received(args)}"
        )
    if ndim == 1:  # one row of cells
        axes = (_Axis(1, 1, 1, 0, 1, 1), *axes)
    return axes


def _tuple_text(values: Sequence[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "(" + ", ".join(map(str, values)) + ")"


def conv_step_svg(
    size: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    *,
    step: int = 0,
    kind: str = "conv",
) -> str:
    """One step of a convolution or pooling as an SVG figure, after Dumoulin & Visin.

    The figure shows the input grid (blue) inside its padding ring (dashed
    cells), the kernel window at output position ``step`` with its taps filled
    (apart when ``dilation > 1``), the output grid (green) with the position
    being computed in dark green, and a caption with the formula and its
    numbers, such as ``out = floor((5 + 2*1 - 3)/2) + 1 = 3``. Input cells that
    no window ever reads, as when the stride does not divide evenly, are hatched.

    Args:
        size: input size: an int (a square), ``(h, w)``, or ``(w,)`` for 1-D.
        kernel_size, stride, padding, dilation: an int or one per axis, as for
            :func:`convcalc.conv_output_size` (padding is a number here, not
            ``"same"``).
        step: the output position drawn, counted row by row from 0.
        kind: ``"conv"`` or ``"pool"`` (the output size then follows
            :func:`convcalc.pool_output_size`, whose torch rules apply).

    Returns:
        The SVG document, a string starting with ``<svg``.

    Raises:
        SpecError: an invalid argument (as the formulas report it), a string
            padding, a symbolic size, more than ``MAX_GRID_CELLS`` cells per side
            of the padded input, or ``step`` outside the output.
        ShapeError: the kernel does not fit the padded input.

    >>> svg = conv_step_svg(5, 3, stride=2, padding=1, step=4)
    >>> svg.startswith("<svg"), "out = floor((5 + 2*1 - 3)/2) + 1 = 3" in svg
    (True, True)
    >>> conv_step_svg(4, 2, stride=2, kind="pool").count('class="cell out')
    4
    >>> conv_step_svg(5, 3, step=9)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: step must be from 0 to 8: the output is 3 x 3 = 9 positions, counted row by row. Received: step=9
    """
    form = StepKind.parse(kind, "kind")
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    if any(isinstance(p, str) for p in spread(padding, 1)):
        raise SpecError(
            "conv_step_svg draws numeric padding (an int or one per axis), not a name such as 'same'. " + received(args)
        )
    if form is StepKind.POOL:
        out = pool_output_size(size, kernel_size, stride, padding, dilation)
    else:
        out = conv_output_size(size, kernel_size, stride, padding, dilation)
    rows, cols = _step_axes(size, kernel_size, stride, padding, dilation, out, args)
    one_d = isinstance(out, tuple) and len(out) == 1
    positions = rows.out * cols.out
    if type(step) is not int or not 0 <= step < positions:
        grid = f"{positions}" if one_d else f"{rows.out} x {cols.out} = {positions}"
        raise SpecError(
            f"step must be from 0 to {positions - 1}: the output is {grid} positions, counted row by row. "
            f"{received({'step': step})}"
        )
    return _StepFigure(rows, cols, step, form, one_d).render()


class _StepFigure:
    """Layout and drawing of :func:`conv_step_svg`."""

    margin = 20.0
    gap = 70.0

    def __init__(self, rows: _Axis, cols: _Axis, step: int, kind: StepKind, one_d: bool) -> None:
        self.rows, self.cols, self.step, self.kind, self.one_d = rows, cols, step, kind, one_d
        side = max(rows.padded, cols.padded)
        self.cell = 28.0 if side <= 10 else max(8.0, math.floor(300 / side))
        self.out_r, self.out_c = divmod(step, cols.out)

    def _caption(self) -> list[str]:
        rows, cols = self.rows, self.cols
        axes = (cols,) if self.one_d else (rows, cols)
        by = " x ".join
        name = "pooling window" if self.kind is StepKind.POOL else "kernel"
        lines = [
            f"input {by(str(a.size) for a in axes)}, {name} {by(str(a.kernel) for a in axes)}, "
            f"stride {_tuple_text([a.stride for a in axes])}, padding {_tuple_text([a.padding for a in axes])}"
            + (f", dilation {_tuple_text([a.dilation for a in axes])}" if any(a.dilation > 1 for a in axes) else "")
        ]
        if all(a.dilation == 1 for a in axes):
            lines.append("out = floor((i + 2p - k)/s) + 1")
        else:
            lines.append("out = floor((i + 2p - d*(k - 1) - 1)/s) + 1")
        numbers = [a.formula_numbers() for a in axes]
        if len(set(numbers)) == 1:
            lines.append(numbers[0])
        else:
            lines += [f"{label}: {text}" for label, text in zip(("rows", "columns"), numbers, strict=True)]
        r0, c0 = self.out_r * rows.stride, self.out_c * cols.stride
        r1, c1 = r0 + rows.dilation * (rows.kernel - 1), c0 + cols.dilation * (cols.kernel - 1)
        total = rows.out * cols.out
        where = f"columns {c0}-{c1}" if self.one_d else f"rows {r0}-{r1}, columns {c0}-{c1}"
        at = f"({self.out_c})" if self.one_d else f"({self.out_r}, {self.out_c})"
        lines.append(f"step {self.step} (of 0-{total - 1}, row by row): output {at} reads padded {where}")
        if self._unused():
            lines.append("hatched: input cells that no window reads")
        return lines

    def _unused(self) -> bool:
        rows, cols = self.rows, self.cols
        read_r, read_c = rows.read(), cols.read()
        inside_r = range(rows.padding, rows.padding + rows.size)
        inside_c = range(cols.padding, cols.padding + cols.size)
        return not (set(inside_r) <= read_r and set(inside_c) <= read_c)

    def render(self) -> str:
        rows, cols, cell, m = self.rows, self.cols, self.cell, self.margin
        title = ("Pooling" if self.kind is StepKind.POOL else "Convolution") + f": step {self.step}"
        caption = self._caption()
        top = m + 34
        in_w, in_h = cols.padded * cell, rows.padded * cell
        out_w, out_h = cols.out * cell, rows.out * cell
        grids_h = max(in_h, out_h)
        in_x, in_y = m, top + 18 + (grids_h - in_h) / 2
        out_x, out_y = in_x + in_w + self.gap, top + 18 + (grids_h - out_h) / 2
        body = [_label(m, m + 16, title, size=16, attrs={"font-weight": "bold"})]
        body.append(_label(in_x, in_y - 8, "input" + (" (dashed: padding)" if rows.padding or cols.padding else "")))
        body.append(_label(out_x, out_y - 8, "output", size=12))
        body += self._input_cells(in_x, in_y)
        body += self._window(in_x, in_y)
        body += self._output_cells(out_x, out_y)
        body += self._link(in_x, in_y, out_x, out_y)
        legend_y = top + 18 + grids_h + 22
        body += self._legend(m, legend_y)
        text_y = legend_y + 34
        for j, line in enumerate(caption):
            attrs = {"class": "caption"}
            body.append(_label(m, text_y + 19 * j, line, size=13, mono=True, attrs=attrs))
        width = max(
            out_x + out_w + m,
            m + max(_mono_width(len(line), 13) for line in caption) + m,
            m + _sans_width(len(title), 16) + m,
            m + 560,
        )
        height = text_y + 19 * (len(caption) - 1) + m
        label = f"{title}: {caption[0]}"
        return _document(width, height, body, label=label, defs=[_HATCH])

    def _input_cells(self, x0: float, y0: float) -> list[str]:
        rows, cols, cell = self.rows, self.cols, self.cell
        read_r, read_c = rows.read(), cols.read()
        out = ['<g class="input-grid">']
        for r in range(rows.padded):
            for c in range(cols.padded):
                pad = not (
                    rows.padding <= r < rows.padding + rows.size and cols.padding <= c < cols.padding + cols.size
                )
                attrs: dict[str, object] = {"x": x0 + c * cell, "y": y0 + r * cell, "width": cell, "height": cell}
                if pad:
                    attrs = {"class": "cell pad", **attrs, "fill": "#ffffff", "stroke": _PAD_STROKE}
                    attrs["stroke-dasharray"] = "3 2"
                elif r in read_r and c in read_c:
                    attrs = {"class": "cell in", **attrs, "fill": _INPUT_FILL, "stroke": _INPUT_STROKE}
                else:
                    attrs = {"class": "cell in unused", **attrs, "fill": "url(#hatch)", "stroke": _INPUT_STROKE}
                out.append(_element("rect", attrs))
        out.append("</g>")
        return out

    def _window(self, x0: float, y0: float) -> list[str]:
        rows, cols, cell = self.rows, self.cols, self.cell
        r0, c0 = self.out_r * rows.stride, self.out_c * cols.stride
        span_r = rows.dilation * (rows.kernel - 1) + 1
        span_c = cols.dilation * (cols.kernel - 1) + 1
        inset = max(1.5, cell * 0.12)
        out = ['<g class="window">']
        for i in range(rows.kernel):
            for j in range(cols.kernel):
                r, c = r0 + i * rows.dilation, c0 + j * cols.dilation
                attrs = {
                    "class": "tap",
                    "x": x0 + c * cell + inset,
                    "y": y0 + r * cell + inset,
                    "width": cell - 2 * inset,
                    "height": cell - 2 * inset,
                    "fill": _TAP_FILL,
                    "fill-opacity": 0.55,
                    "rx": min(3.0, inset),
                }
                out.append(_element("rect", attrs))
        frame = {
            "class": "window-frame",
            "x": x0 + c0 * cell,
            "y": y0 + r0 * cell,
            "width": span_c * cell,
            "height": span_r * cell,
            "fill": "none",
            "stroke": _TAP_FILL,
            "stroke-width": 2.5,
        }
        out += [_element("rect", frame), "</g>"]
        return out

    def _output_cells(self, x0: float, y0: float) -> list[str]:
        rows, cols, cell = self.rows, self.cols, self.cell
        out = ['<g class="output-grid">']
        current = ""
        for r in range(rows.out):
            for c in range(cols.out):
                here = (r, c) == (self.out_r, self.out_c)
                attrs: dict[str, object] = {
                    "class": "cell out current" if here else "cell out",
                    "x": x0 + c * cell,
                    "y": y0 + r * cell,
                    "width": cell,
                    "height": cell,
                    "fill": _CURRENT_FILL if here else _OUT_FILL,
                    "stroke": _CURRENT_STROKE if here else _OUT_STROKE,
                }
                if here:  # drawn last so its thick border is not covered by its neighbours'
                    attrs["stroke-width"] = 2.5
                    current = _element("rect", attrs)
                else:
                    out.append(_element("rect", attrs))
        out += [current, "</g>"]
        return out

    def _link(self, in_x: float, in_y: float, out_x: float, out_y: float) -> list[str]:
        """Two dashed lines from the window's right corners to the current output cell's left ones."""
        rows, cols, cell = self.rows, self.cols, self.cell
        r0, c0 = self.out_r * rows.stride, self.out_c * cols.stride
        right = in_x + (c0 + cols.dilation * (cols.kernel - 1) + 1) * cell
        top, bottom = in_y + r0 * cell, in_y + (r0 + rows.dilation * (rows.kernel - 1) + 1) * cell
        cx, cy = out_x + self.out_c * cell, out_y + self.out_r * cell
        style = {"stroke": _CURRENT_STROKE, "stroke-opacity": 0.55, "stroke-dasharray": "4 3", "stroke-width": 1.2}
        return [
            '<g class="link" fill="none">',
            _element("line", {"x1": right, "y1": top, "x2": cx, "y2": cy, **style}),
            _element("line", {"x1": right, "y1": bottom, "x2": cx, "y2": cy + cell, **style}),
            "</g>",
        ]

    def _legend(self, x: float, y: float) -> list[str]:
        entries: list[tuple[str, dict[str, object]]] = [
            ("input", {"fill": _INPUT_FILL, "stroke": _INPUT_STROKE}),
            ("padding", {"fill": "#ffffff", "stroke": _PAD_STROKE, "stroke-dasharray": "3 2"}),
            ("kernel taps" if self.kind is StepKind.CONV else "window", {"fill": _TAP_FILL, "fill-opacity": 0.55}),
            ("output", {"fill": _OUT_FILL, "stroke": _OUT_STROKE}),
            ("this step's output", {"fill": _CURRENT_FILL, "stroke": _CURRENT_STROKE}),
        ]
        if self._unused():
            entries.insert(2, ("never read", {"fill": "url(#hatch)", "stroke": _INPUT_STROKE}))
        if not (self.rows.padding or self.cols.padding):
            del entries[1]
        out = ['<g class="legend" font-size="11">']
        for text, style in entries:
            out.append(_element("rect", {"x": x, "y": y - 10, "width": 12, "height": 12, **style}))
            out.append(_label(x + 17, y, text, size=11))
            x += 17 + _sans_width(len(text), 11) + 16
        out.append("</g>")
        return out


_HATCH = (
    '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    f'<rect width="6" height="6" fill="#eef3f8"/><line x1="0" y1="0" x2="0" y2="6" stroke="{_INPUT_STROKE}" '
    'stroke-width="1.5"/></pattern>'
)


def plan_svg(
    plan: Plan,
    *,
    max_layers: int = 60,
    title: str | None = None,
    skip_elementwise: bool = True,
) -> str:
    """How a plan's shapes flow through the network, as an SVG figure.

    The input and each drawn layer are a box labelled with the layer's name,
    kind and output shape (batch left out, in the plan's own order: ``C x H x
    W`` channels first, ``H x W x C`` channels last). A 2-D feature map is a
    cuboid whose height follows H (on a log scale when the sizes span more than
    a factor of 4), whose width follows log C and whose depth follows W; a
    vector (after a flatten) is a bar; symbolic maps are cuboids of one fixed
    size, and 1-D and 3-D maps plain boxes, with their sizes in the label.
    Arrows join the layers in plan order, dashed where a layer reads something
    other than the previous box's output (a branch); a labelled arc runs from
    where the branches of an ``Add`` or ``Concat`` split to where they join
    (identity and U-Net skips, second branches). Long flows wrap onto more
    lines; each layer is one ``<g class="layer">`` with a ``<title>`` tooltip.

    Args:
        plan: a :class:`~convcalc.Plan` from :func:`convcalc.plan`.
        max_layers: the most layers drawn; beyond it the middle is folded: the
            first and the last half are drawn, with a marker between them that
            names how many layers of which kinds it stands for.
        title: a heading for the figure (none by default).
        skip_elementwise: leave out layers that keep their input's shape and do
            no multiply-accumulates (activations, normalisation, dropout,
            identities, same-shape adds); ``False`` draws every row.

    Returns:
        The SVG document, a string starting with ``<svg``.

    Raises:
        SpecError: ``plan`` is not a Plan, ``max_layers`` is below 2, or an
            option has the wrong type.

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
    >>> svg = plan_svg(convcalc.plan(net, (1, 3, 32, 32)), title="tiny")
    >>> svg.startswith("<svg"), svg.count('<g class="layer"'), "8 x 16 x 16" in svg
    (True, 2, True)
    >>> H = convcalc.symbols("H")
    >>> "floor((H - 1)/2) + 1" in plan_svg(convcalc.plan(net, (1, 3, H, H)))
    True
    >>> plan_svg(net)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: plan_svg draws a Plan from convcalc.plan(model, shape), not a Sequential. Received: plan=Sequential(...)
    """
    if not isinstance(plan, Plan):
        shown = f"{type(plan).__name__}(...)" if not isinstance(plan, str | int | float | type(None)) else repr(plan)
        raise SpecError(
            f"plan_svg draws a Plan from convcalc.plan(model, shape), not a {type(plan).__name__}. "
            f"Received: plan={shown}"
        )
    if type(max_layers) is not int or max_layers < 2:
        raise SpecError(f"max_layers must be an integer of at least 2. {received({'max_layers': max_layers})}")
    if title is not None and not isinstance(title, str):
        raise SpecError(f"title must be a string or None. {received({'title': title})}")
    if type(skip_elementwise) is not bool:
        raise SpecError(f"skip_elementwise must be True or False. {received({'skip_elementwise': skip_elementwise})}")
    all_rows = list(plan.rows)
    keep = [j for j, r in enumerate(all_rows) if not (skip_elementwise and _is_elementwise(r))]
    skipped = len(all_rows) - len(keep)
    fold: _Fold | None = None
    folded: set[int] = set()
    drawn: list[int | None] = list(keep)
    if len(keep) > max_layers:  # fold the middle: the first half and the last half stay
        tail = max_layers // 2
        head = max_layers - tail
        folded = set(keep[head : len(keep) - tail])
        fold = _Fold(tuple(all_rows[j] for j in sorted(folded)))
        drawn = [*keep[:head], None, *keep[len(keep) - tail :]]
    index_of = {j: k + 1 for k, j in enumerate(drawn) if j is not None}
    mark = drawn.index(None) + 1 if fold is not None else 0
    node_of: list[int] = []
    current = 0  # a row that is not drawn stands at the box before it (or at the fold marker)
    for j in range(len(all_rows)):
        current = index_of.get(j, mark if j in folded else current)
        node_of.append(current)
    skips, not_from_previous = _structure(
        all_rows, node_of, [j in index_of or j in folded for j in range(len(all_rows))]
    )
    rows: list[Row | None] = [None if j is None else all_rows[j] for j in drawn]
    return _PlanFigure(plan, rows, title, fold, skipped, skips, not_from_previous).render()
