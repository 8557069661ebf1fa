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
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from convcalc._args import received
from convcalc._enums import _Vocabulary
from convcalc._errors import SpecError
from convcalc._plan import Plan, Row
from convcalc.formulas import conv_output_size, pool_output_size

__all__ = ["MAX_GRID_CELLS", "conv_step_svg", "plan_svg"]

SVG_NAMESPACE = "http://www.w3.org/2000/svg"

#: The most cells :func:`conv_step_svg` draws along one side of the padded input.
MAX_GRID_CELLS = 64

_SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"
_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
_INK = "#222222"
_MUTED = "#666666"

# --------------------------------------------------------------------------- #
# Writing SVG
# --------------------------------------------------------------------------- #

# characters XML 1.0 does not allow, even escaped; a hostile layer name must not break the document
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    """``value`` as XML character data or a double-quoted attribute value."""
    return escape(_NOT_XML.sub("\ufffd", str(value)), {'"': "&quot;"})


def _num(x: float) -> str:
    """A coordinate with at most one decimal, always written the same way."""
    text = f"{round(x, 1):.1f}"
    text = text.removesuffix(".0")
    return "0" if text == "-0" else text


def _element(tag: str, attrs: Mapping[str, object], content: str | None = None) -> str:
    parts = [tag]
    for key, value in attrs.items():
        if value is None:
            continue
        shown = _num(value) if isinstance(value, float | int) and not isinstance(value, bool) else _text(value)
        parts.append(f'{key}="{shown}"')
    head = " ".join(parts)
    return f"<{head}/>" if content is None else f"<{head}>{content}</{tag}>"


def _label(
    x: float, y: float, text: str, *, size: float = 12, mono: bool = False, attrs: Mapping[str, object] | None = None
) -> str:
    base: dict[str, object] = {"x": x, "y": y, "font-size": size}
    if mono:
        base["font-family"] = _MONO
    return _element("text", {**base, **(attrs or {})}, _text(text))


def _document(width: float, height: float, body: list[str], *, label: str, defs: Sequence[str] = ()) -> str:
    w, h = math.ceil(width), math.ceil(height)
    head = _element(
        "svg",
        {
            "xmlns": SVG_NAMESPACE,
            "width": w,
            "height": h,
            "viewBox": f"0 0 {w} {h}",
            "role": "img",
            "aria-label": label,
            "font-family": _SANS,
            "fill": _INK,
        },
    )[:-2]
    lines = [head + ">", f"<title>{_text(label)}</title>"]
    if defs:
        lines += ["<defs>", *defs, "</defs>"]
    lines.append(_element("rect", {"class": "background", "width": w, "height": h, "fill": "#ffffff"}))
    return "\n".join([*lines, *body, "</svg>"]) + "\n"


def _mono_width(chars: int, size: float) -> float:
    """Width of monospaced text (DejaVu Sans Mono advances 0.602 em)."""
    return chars * size * 0.602


def _sans_width(chars: int, size: float) -> float:
    """An upper estimate of proportional text's width, enough to size the canvas."""
    return chars * size * 0.6


def _mix(colour: str, other: str, t: float) -> str:
    """``colour`` moved a fraction ``t`` towards ``other`` (both ``#rrggbb``)."""
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


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


def _per_axis(value: Any, ndim: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,) * ndim


def _step_axes(
    size: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, out: Any, args: dict[str, Any]
) -> tuple[_Axis, ...]:
    ndim = len(out) if isinstance(out, tuple) else 2
    if not isinstance(out, tuple | int):
        ndim = 0  # an array or a symbol: refused below
    values = [_per_axis(v, ndim) for v in (size, kernel_size, stride, padding, dilation)]
    outs = _per_axis(out, ndim)
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
    if any(isinstance(p, str) for p in _per_axis(padding, 1)):
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


# --------------------------------------------------------------------------- #
# A plan's shapes
# --------------------------------------------------------------------------- #

# category -> (legend text, colour); a layer's category comes from words in its kind
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
    shape: tuple[Any, ...]
    input_shape: tuple[Any, ...] | None
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

    def _map_dims(self, shape: tuple[Any, ...]) -> tuple[int, int, int] | None:
        """(C, H, W) of a numeric 2-D feature map, else None."""
        if len(shape) != 4:
            return None
        c, h, w = (shape[3], shape[1], shape[2]) if self.channels_last else shape[1:]
        if all(_is_int(v) and v >= 1 for v in (c, h, w)):
            return c, h, w
        return None

    def _shape_lines(self, shape: tuple[Any, ...]) -> list[str]:
        dims = shape[1:] if len(shape) > 1 else shape
        if not dims:
            return ["()"]
        numeric = all(_is_int(d) for d in dims)
        return _shape_lines(dims, self.label_chars if numeric else self.symbolic_chars)

    def _node(
        self,
        name: str,
        kind: str,
        shape: tuple[Any, ...],
        input_shape: tuple[Any, ...] | None,
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


def _shape_plain(shape: tuple[Any, ...]) -> str:
    return " x ".join(_dim_text(d) for d in shape) if shape else "()"


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
