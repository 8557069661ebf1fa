"""Writing SVG for :mod:`convcalc.figures`: escaped text, elements, labels, the document, text widths, colours."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
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
