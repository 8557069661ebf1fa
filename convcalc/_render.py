"""Renderers: a Plan as text tables, dicts, CSV, Markdown, LaTeX and HTML."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from convcalc._enums import _Vocabulary
from convcalc._plan import Plan, Row

__all__ = [
    "SummaryStyle",
    "plan_to_csv",
    "plan_to_dict",
    "plan_to_html",
    "plan_to_latex",
    "plan_to_markdown",
    "render_summary",
]


class SummaryStyle(_Vocabulary):
    """Layouts of :meth:`Plan.summary`."""

    TABLE = "table"
    TORCHINFO = "torchinfo"
    KERAS = "keras"


def _num(value: Any) -> str:
    if type(value) is int:
        return f"{value:,}"
    return str(value)


def _shape(shape: tuple[Any, ...], *, keras: bool = False) -> str:
    dims = ["None" if keras and j == 0 else str(d) for j, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")" if keras else "[" + ", ".join(dims) + "]"


def _rf(row: Row) -> str:
    if row.receptive_field is None:
        return ""
    sizes = {(f.size, f.jump, f.start) for f in row.receptive_field}
    if len(sizes) == 1:
        f = row.receptive_field[0]
        return f"{f.size}/{f.jump}/{-f.start}"
    return " x ".join(str(f.size) for f in row.receptive_field)


def _mac_line(plan: Plan) -> str:
    names = {
        "macs": "MACs: conv + linear multiply-accumulates, bias excluded, per sample",
        "macs+bias": "MACs: conv + linear multiply-accumulates plus bias additions, per sample",
        "flops": "FLOPs: 2 x conv + linear multiply-accumulates, bias excluded, per sample",
        "torchinfo": "mult-adds as torchinfo counts them (every weight and bias, per output position for convolutions), per sample",
        "fvcore": "fvcore's count: conv + linear MACs, 2 per BatchNorm element, 1 per adaptive-pool input, per sample",
        "ptflops": "ptflops' count: MACs, bias adds, BatchNorm, and ReLU and pooling counted twice, per sample",
    }
    return names.get(plan.mac_convention, plan.mac_convention)


def render_summary(plan: Plan, style: str) -> str:
    form = SummaryStyle.parse(style, "style")
    if form is SummaryStyle.KERAS:
        return _keras(plan)
    if form is SummaryStyle.TORCHINFO:
        return _torchinfo(plan)
    return _table(plan)


def _columns(header: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for r in [header, *body]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


def _table(plan: Plan) -> str:
    header = ["Layer", "Kind", "Output shape", "Params", "MACs", "RF size/jump/pad"]
    body = [[r.name, r.kind, _shape(r.output_shape), _num(r.params), _num(r.macs), _rf(r)] for r in plan.rows]
    lines = _columns(header, body, {3, 4})
    rule = "-" * max(len(line) for line in lines)
    out = [lines[0], rule, *lines[1:], rule]
    out.append(f"Input: {_shape(plan.input_shape)}  Output: {_shape(plan.output_shape)}")
    out.append(
        f"Params: {_num(plan.total_params)} (trainable {_num(plan.trainable_params)}, "
        f"non-trainable {_num(plan.non_trainable_params)}); buffers: {_num(plan.buffers)}"
    )
    out.append(f"{_mac_line(plan)}: {_num(plan.macs)}")
    if plan.uncalled:
        out.append("Never called (their parameters and buffers count in the totals):")
        out.extend(f"  {r.name} ({r.kind}): {_num(r.params)} params, {_num(r.buffers)} buffers" for r in plan.uncalled)
    if plan.constraints:
        out.append("Constraints:")
        out.extend(f"  {c}" for c in plan.constraints)
    return "\n".join(out)


def _keras(plan: Plan) -> str:
    width = 65
    name = plan._extra.get("name", "sequential")
    out = [f'Model: "{name}"', "_" * width, f"{'Layer (type)':<29}{'Output Shape':<26}{'Param #':<10}", "=" * width]
    for j, r in enumerate(plan.rows):
        label = f"{r.name} ({r.kind})"[:28]
        out.append(f"{label:<29}{_shape(r.output_shape, keras=True):<26}{r.params!s:<10}".rstrip())
        out.append("=" * width if j == len(plan.rows) - 1 else "_" * width)
    if not plan.rows:
        out.append("=" * width)
    out += [
        f"Total params: {_num(plan.total_params)}",
        f"Trainable params: {_num(plan.trainable_params)}",
        f"Non-trainable params: {_num(plan.non_trainable_params)}",
        "_" * width,
        f"{_mac_line(plan)}: {_num(plan.macs)}",
    ]
    return "\n".join(out)


def _readable(value: Any) -> str:
    """torchinfo's number format: ``(M): 12.34`` / ``(G): 4.09``."""
    if type(value) is not int:
        return f": {value}"
    for limit, unit in ((1e12, "T"), (1e9, "G")):
        if value >= limit:
            return f" ({unit}): {value / limit:,.2f}"
    scaled = value / 1e6
    return f" (M): {int(scaled):,d}" if scaled.is_integer() else f" (M): {scaled:,.2f}"


def _torchinfo(plan: Plan) -> str:
    """The layout of ``torchinfo.summary``: a tree of modules, then totals and memory."""
    from convcalc._planner import torchinfo_macs

    groups: list[tuple[int, str, str, tuple[Any, ...]]] = plan._extra.get("groups", [])
    by_index: dict[int, list[tuple[str, str, tuple[Any, ...]]]] = {}
    for index, path, kind, shape in groups:
        by_index.setdefault(index, []).append((path, kind, shape))
    entries: list[tuple[int, str, tuple[Any, ...], str]] = [
        (0, plan._extra.get("name", "Model"), plan.output_shape, "--")
    ]
    for j, r in enumerate(plan.rows):
        for path, kind, shape in by_index.get(j, []):
            entries.append((path.count(".") + 1, kind, shape, "--"))
        entries.append(
            (
                r.name.count(".") + 1 if r.name else 1,
                r.kind,
                r.output_shape,
                "(recursive)" if r.recursive and not r.params else _num(r.params) if r.params else "--",
            )
        )
    counters: dict[int, int] = {}
    titles = []
    for depth, kind, shape, params in entries:
        counters[depth] = counters.get(depth, 0) + 1
        if depth == 0:
            title = kind
        else:
            prefix = "├─" if depth == 1 else "│    " * (depth - 1) + "└─"
            title = f"{prefix}{kind}: {depth}-{counters[depth]}"
        titles.append((title, _shape(shape), params))
    name_width = max(40, -(-max(len(t) + 1 for t, _, _ in titles) // 5) * 5)
    col = 25
    width = name_width + 2 * col

    def line(a: str, b: str, c: str) -> str:
        return f"{a:<{name_width}} {b:<{col}} {c:<{col}}".rstrip()

    out = ["=" * width, line("Layer (type:depth-idx)", "Output Shape", "Param #"), "=" * width]
    out += [line(*t) for t in titles]
    batch = plan.input_shape[0] if plan.input_shape else 1
    inputs: Any = 1
    for d in plan.input_shape:
        inputs = inputs * d
    forward: Any = 0
    for r in plan.rows:
        if r.params:
            forward = forward + 2 * r.activation_bytes
    total_bytes = inputs * plan.itemsize + forward + plan.total_params * plan.itemsize
    out += [
        "=" * width,
        f"Total params: {_num(plan.total_params)}",
        f"Trainable params: {_num(plan.trainable_params)}",
        f"Non-trainable params: {_num(plan.non_trainable_params)}",
        f"Total mult-adds{_readable(torchinfo_macs(plan.rows) * batch)}",
        "=" * width,
        f"Input size (MB): {_mb(inputs * plan.itemsize)}",
        f"Forward/backward pass size (MB): {_mb(forward)}",
        f"Params size (MB): {_mb(plan.total_params * plan.itemsize)}",
        f"Estimated Total Size (MB): {_mb(total_bytes)}",
        "=" * width,
        f"{_mac_line(plan)}: {_num(plan.macs)}",
    ]
    return "\n".join(out)


def _mb(value: Any) -> str:
    return f"{value / 1e6:.2f}" if type(value) is int else str(value)


def _jsonable(value: Any) -> Any:
    if type(value) in (int, float, str, bool) or value is None:
        return value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _row_dict(r: Row) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "input_shape": _jsonable(r.input_shape),
        "output_shape": _jsonable(r.output_shape),
        "params": _jsonable(r.params),
        "trainable": _jsonable(r.trainable),
        "non_trainable": _jsonable(r.non_trainable),
        "buffers": _jsonable(r.buffers),
        "macs": _jsonable(r.macs),
        "activations": _jsonable(r.activations),
        "activation_bytes": _jsonable(r.activation_bytes),
        "receptive_field": None
        if r.receptive_field is None
        else [{"size": f.size, "jump": f.jump, "start": f.start} for f in r.receptive_field],
        **({"recursive": True} if r.recursive else {}),
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_shape": _jsonable(plan.input_shape),
        "output_shape": _jsonable(plan.output_shape),
        "convention": plan.convention,
        "mac_convention": plan.mac_convention,
        "total_params": _jsonable(plan.total_params),
        "trainable_params": _jsonable(plan.trainable_params),
        "non_trainable_params": _jsonable(plan.non_trainable_params),
        "buffers": _jsonable(plan.buffers),
        "macs": _jsonable(plan.macs),
        "rows": [_row_dict(r) for r in plan.rows],
        "constraints": [str(c) for c in plan.constraints],
    }
    if plan.uncalled:
        out["uncalled"] = [_row_dict(r) for r in plan.uncalled]
    return out


_FLAT = [
    "name",
    "kind",
    "input_shape",
    "output_shape",
    "params",
    "trainable",
    "non_trainable",
    "buffers",
    "macs",
    "activations",
    "activation_bytes",
]


def plan_to_csv(plan: Plan) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*_FLAT, "receptive_field"])
    for r in plan.rows:
        d = _row_dict(r)
        writer.writerow([*("x".join(map(str, d[k])) if isinstance(d[k], list) else d[k] for k in _FLAT), _rf(r)])
    return buf.getvalue()


def plan_to_markdown(plan: Plan) -> str:
    header = "| Layer | Kind | Output shape | Params | MACs |\n|---|---|---|--:|--:|"
    body = [
        f"| `{r.name}` | {r.kind} | {_shape(r.output_shape)} | {_num(r.params)} | {_num(r.macs)} |" for r in plan.rows
    ]
    foot = f"| **Total** | | {_shape(plan.output_shape)} | **{_num(plan.total_params)}** | **{_num(plan.macs)}** |"
    return "\n".join([header, *body, foot]) + f"\n\n{_mac_line(plan)}.\n"


def _tex(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("#", r"\#"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("$", r"\$"),
    ):
        text = text.replace(a, "\x00") if a == "\\" else text.replace(a, b)
    return text.replace("\0", r"\textbackslash{}")


def plan_to_latex(plan: Plan) -> str:
    lines = [r"\begin{tabular}{llrrr}", r"\hline", r"Layer & Kind & Output shape & Params & MACs \\", r"\hline"]
    for r in plan.rows:
        lines.append(
            f"{_tex(r.name)} & {_tex(r.kind)} & {_tex(_shape(r.output_shape))} & "
            f"{_tex(_num(r.params))} & {_tex(_num(r.macs))} \\\\"
        )
    lines += [
        r"\hline",
        f"Total & & {_tex(_shape(plan.output_shape))} & {_tex(_num(plan.total_params))} & {_tex(_num(plan.macs))} \\\\",
        r"\hline",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def plan_to_html(plan: Plan) -> str:
    cells = "".join(
        f"<tr><td><code>{html.escape(r.name)}</code></td><td>{html.escape(r.kind)}</td>"
        f"<td>{html.escape(_shape(r.output_shape))}</td><td style='text-align:right'>{html.escape(_num(r.params))}</td>"
        f"<td style='text-align:right'>{html.escape(_num(r.macs))}</td></tr>"
        for r in plan.rows
    )
    return (
        "<table><thead><tr><th>Layer</th><th>Kind</th><th>Output shape</th><th>Params</th><th>MACs</th></tr></thead>"
        f"<tbody>{cells}</tbody><tfoot><tr><th colspan='3'>Total ({html.escape(_mac_line(plan))})</th>"
        f"<th style='text-align:right'>{html.escape(_num(plan.total_params))}</th>"
        f"<th style='text-align:right'>{html.escape(_num(plan.macs))}</th></tr></tfoot></table>"
    )
