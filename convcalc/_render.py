"""Renderers: a Plan as text tables, dicts, CSV, Markdown, LaTeX and HTML."""

from __future__ import annotations

import csv
import functools
import html
import io
from typing import Any

from convcalc._enums import _Vocabulary
from convcalc._errors import SpecError
from convcalc._plan import Plan, Row, Unowned
from convcalc._symbolic import to_sympy
from convcalc._types import Shape

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


def _shape(shape: Shape, *, keras: bool = False) -> str:
    dims = ["None" if keras and j == 0 else str(d) for j, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")" if keras else "[" + ", ".join(dims) + "]"


def _io_line(plan: Plan) -> str:
    """The footer's inputs and outputs: each of several (a forward of two inputs, one returning a dict), as
    ``input_shapes`` and ``output_shapes`` nest them, where the first alone would read as the only one."""
    inputs = f"Input: {_shape(plan.input_shape)}" if plan.inputs is None else f"Inputs: {_tree(plan.inputs)}"
    outputs = f"Output: {_shape(plan.output_shape)}" if plan.outputs is None else f"Outputs: {_tree(plan.outputs)}"
    return f"{inputs}  {outputs}"


def _tree(value: Any) -> str:
    """Shapes nested in tuples and dicts: ``[2, 3], ([1, 4], [1, 4])``, ``seg [2, 5], logits [2, 7]``."""
    if isinstance(value, dict):
        return ", ".join(f"{name} {_tree(item)}" for name, item in value.items())
    if value is None:
        return "None"
    if isinstance(value, tuple) and all(not isinstance(d, (tuple, dict)) and d is not None for d in value):
        return _shape(value)
    return ", ".join(
        f"({_tree(item)})" if isinstance(item, (tuple, dict)) and _nested(item) else _tree(item) for item in value
    )


def _nested(value: Any) -> bool:
    """Whether a tuple holds shapes (``((1, 4), (1, 4))``) rather than sizes."""
    return isinstance(value, dict) or any(isinstance(item, (tuple, dict)) or item is None for item in value)


def _listed(shape: Shape) -> str:
    """A shape in torchinfo's column: ``--`` where it has no axes (a 0-d tensor, or a value holding none)."""
    return _shape(shape) if len(shape) else "--"


def _rf(row: Row) -> str:
    if row.receptive_field is None:
        return ""
    # one size/jump/pad where every axis has the same, else one per axis (a 3 x 5 kernel, a stride of (2, 1))
    fields = dict.fromkeys(f"{f.size}/{f.jump}/{-f.start}" for f in row.receptive_field)
    return (
        next(iter(fields))
        if len(fields) == 1
        else " x ".join(f"{f.size}/{f.jump}/{-f.start}" for f in row.receptive_field)
    )


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


def render_summary(plan: Plan, style: str, depth: int | None = None) -> str:
    form = SummaryStyle.parse(style, "style")
    if depth is not None and form is not SummaryStyle.TORCHINFO:
        raise SpecError(f"depth applies to style='torchinfo' only. Received: style={style!r}, depth={depth!r}")
    if form is SummaryStyle.KERAS:
        return _keras(plan)
    if form is SummaryStyle.TORCHINFO:
        if depth is None:
            depth = 3
        if type(depth) is not int or depth < 0:
            raise SpecError(f"depth must be an int >= 0 (torchinfo's default is 3). Received: depth={depth!r}")
        return _torchinfo(plan, depth)
    return _table(plan)


def _columns(header: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for r in [header, *body]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


#: The heading of the count column under each MAC convention (the footer says how each counts)
_COUNT_HEADINGS = {
    "macs": "MACs",
    "macs+bias": "MACs+bias",
    "flops": "FLOPs",
    "torchinfo": "Mult-adds",
    "fvcore": "fvcore's count",
    "ptflops": "ptflops' count",
}


def _count_heading(plan: Plan) -> str:
    return _COUNT_HEADINGS.get(plan.mac_convention, "MACs")


def _table(plan: Plan) -> str:
    header = ["Layer", "Kind", "Output shape", "Params", _count_heading(plan), "RF size/jump/pad"]
    body = [
        [
            r.name + (" *" if r.source == "torch" else ""),
            r.kind,
            _shape(r.output_shape),
            _num(r.params),
            _num(r.macs),
            _rf(r),
        ]
        for r in plan.rows
    ]
    lines = _columns(header, body, {3, 4})
    rule = "-" * max(len(line) for line in lines)
    out = [lines[0], rule, *lines[1:], rule]
    out.append(_io_line(plan))
    out.append(
        f"Params: {_num(plan.total_params)} (trainable {_num(plan.trainable_params)}, "
        f"non-trainable {_num(plan.non_trainable_params)}); buffers: {_num(plan.buffers)}"
    )
    out.append(f"{_mac_line(plan)}: {_num(plan.macs)}")
    fallback = sum(r.source == "torch" for r in plan.rows)
    if fallback:
        out.append(
            f"* {fallback} row(s) whose shapes torch gave (a meta-device pass: their forward cannot be read); "
            "their counts are convcalc's rules"
        )
    if plan.uncalled:
        out.append("Never called (their parameters and buffers count in the totals):")
        out.extend(f"  {r.name} ({r.kind}): {_num(r.params)} params, {_num(r.buffers)} buffers" for r in plan.uncalled)
    if plan.unowned:
        out.append(
            "Not the model's modules (the forward calls them, but torch does not register them: their parameters "
            "are in no total above, nor in model.parameters(), an optimizer, .to() or state_dict()):"
        )
        out.extend(f"  {u.path} ({u.kind}): {_num(u.params)} params; {_unowned_fix(u)}" for u in plan.unowned)
    if plan.constraints:
        out.append("Constraints:")
        out.extend(f"  {c}" for c in plan.constraints)
    return "\n".join(out)


def _unowned_fix(u: Unowned) -> str:
    if u.held_in is None:
        return "made in forward: make it in __init__"
    registers = "an nn.ModuleDict" if u.container == "dict" else "an nn.ModuleList"
    return f"{u.held_in} is a plain {u.container}: make it {registers}"


def _keras(plan: Plan) -> str:
    name = plan.name if plan.name is not None else "sequential"
    # Keras' sequential layout: columns end at 45%, 85% and 100% of 65 characters. The label is cut to its
    # column, as Keras 2 cut it; a shape or a count that does not fit widens its column (with one space before
    # the next), so that long symbolic shapes never run into the parameter count.
    labels = [f"{r.name} ({r.kind})"[:28] for r in plan.rows]
    shapes = [_shape(r.output_shape, keras=True) for r in plan.rows]
    params = [str(r.params) for r in plan.rows]
    shape_width = max([26, *(len(s) + 1 for s in shapes)])
    param_width = max([10, *(len(p) + 1 for p in params)])
    width = 29 + shape_width + param_width

    def line(label: str, shape: str, count: str) -> str:
        return f"{label:<29}{shape:<{shape_width}}{count:<{param_width}}"

    out = [f'Model: "{name}"', "_" * width, line("Layer (type)", "Output Shape", "Param #"), "=" * width]
    for j, (label, shape, count) in enumerate(zip(labels, shapes, params, strict=True)):
        out.append(line(label, shape, count).rstrip())
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
    limit, unit = (1e12, "T") if value >= 1e12 else (1e9, "G") if value >= 1e9 else (1e6, "M")
    scaled = value / limit  # a whole number of its unit is shown without decimals, in every unit
    return f" ({unit}): {int(scaled):,d}" if scaled.is_integer() else f" ({unit}): {scaled:,.2f}"


class _Layer:
    """One line of torchinfo's layer list (its ``LayerInfo``): a module call, or a container never called itself."""

    __slots__ = (
        "called",
        "children",
        "depth",
        "depth_index",
        "input",
        "kernel",
        "kind",
        "leaf",
        "macs",
        "output",
        "params",
        "parent",
        "path",
        "recursive",
        "row",
        "trainable",
        "var_name",
    )

    def __init__(self, path: str, kind: str, depth: int, parent: _Layer | None, leaf: bool) -> None:
        self.path = path
        self.kind = kind
        self.depth = depth
        self.parent = parent
        self.leaf = leaf
        self.output = "--"
        self.input: tuple[Any, ...] | None = None  # the first input's shape at this call (torchinfo's input_size)
        self.kernel = "--"  # the module's kernel_size, set by convcalc.summary (the plan does not keep it)
        self.macs: Any = 0  # torchinfo's mult-adds of this call, batch included
        self.called = False  # a call of the module (a fallback container, inserted after the pass, is not)
        self.var_name = path.rpartition(".")[2]
        self.row: Row | None = None
        self.recursive = False
        self.params: Any = 0
        self.trainable: Any = 0
        self.depth_index = 0
        self.children: list[_Layer] = []

    def title(self, var_names: bool = False, depth: bool = True) -> str:
        """torchinfo's ``get_layer_name``: the class, `` (var_name)``, ``: depth-index``."""
        title = self.kind
        if var_names and self.var_name:
            title += f" ({self.var_name})"
        if depth and self.depth:
            title += f": {self.depth}-{self.depth_index}"
        return title


def _torchinfo_layers(plan: Plan) -> list[_Layer]:
    """torchinfo 1.8's layer list, built from the plan as torchinfo builds it from its hooks.

    torchinfo lists each module when it is called (a container before what it calls), at its depth in the
    module tree; functional operations (``x + y``, ``F.relu``) and a module's own tensors are not listed.
    Afterwards it inserts the containers that were never called themselves (a ``ModuleList`` looped over in a
    forward) before their first listed descendant, and again after another branch of the tree was listed
    (``add_missing_container_layers``). A module listed a second time is marked ``(recursive)``.
    """
    from convcalc._plan import torchinfo_mult_adds

    tree = dict(plan.modules) if plan.modules is not None else None
    has_children = plan.parent_paths
    params = plan.params_by_module
    named = plan.torchinfo_weights
    name = plan.name if plan.name is not None else "Model"

    fallbacks: dict[str, _Layer] = {}

    def depth_of(path: str) -> int:
        return 0 if not path else (path.count(".") + 1 if tree is not None else 1)

    def make(path: str, kind: str) -> _Layer:
        parent = (fallback(path.rpartition(".")[0]) if tree is not None else fallback("")) if path else None
        layer = _Layer(path, kind, depth_of(path), parent, path not in has_children)
        layer.params, layer.trainable = params.get(path, (0, 0))
        return layer

    def fallback(path: str) -> _Layer:
        """The one entry torchinfo keeps for a module that was not called (shared by all its insertions)."""
        if path not in fallbacks:
            kind = tree.get(path, "Module") if tree is not None else name
            fallbacks[path] = make(path, kind)
        return fallbacks[path]

    root = make("", name)
    root.var_name = root.kind  # torchinfo names the model by its class
    # torchinfo shows a dict's last value (its calculate_size), a tuple's first
    outputs = plan.output_shapes
    root.output = _listed(_first_shape(list(outputs.values())[-1] if isinstance(outputs, dict) else outputs))
    # torchinfo's hook sees the positional inputs only: none where every input is given by keyword
    root.input = () if isinstance(plan.input_shapes, dict) else _first_shape(plan.input_shapes)
    root.called = True
    if root.leaf:
        root.row = Row("", root.kind, plan.input_shape, plan.output_shape, activation_bytes=plan.output_bytes)
    layers = [root]
    seen: set[str] = set()
    for call in plan.module_calls():
        layer = make(call.path, call.kind)
        layer.output, layer.input, layer.row, layer.called = (
            _listed(call.output_shape),
            call.input_shape,
            call.row,
            True,
        )
        layer.recursive = call.path in seen  # torchinfo's mark: a module called again (not a tied weight)
        seen.add(call.path)
        layers.append(layer)
    _add_missing_containers(layers)
    for layer in layers:
        shape = layer.row.output_shape if layer.row is not None else ()
        if layer.leaf and shape:  # torchinfo counts with the output's first size: the batch
            count = torchinfo_mult_adds(
                layer.kind, layer.params, shape, named.get(layer.path), channels_last=plan._channels_last
            )
            layer.macs = count * shape[0]
    counters: dict[int, int] = {}
    for i, layer in enumerate(layers):
        counters[layer.depth] = counters.get(layer.depth, 0) + 1
        layer.depth_index = counters[layer.depth]
        end = i + 1
        while end < len(layers) and layers[end].depth > layer.depth:
            end += 1
        layer.children = layers[i + 1 : end]
    return layers


def _add_missing_containers(layers: list[_Layer]) -> None:
    """torchinfo 1.8's ``add_missing_container_layers``, step for step (it inserts into the list it walks)."""
    listed = {layer.path for layer in layers}
    current: dict[int, _Layer] = {}
    idx = 0
    while idx < len(layers):
        layer = layers[idx]
        rel = 0
        hierarchy: dict[int, _Layer] = {}
        parent = layer.parent
        while parent is not None and parent.depth > 0:
            hierarchy[parent.depth] = parent
            parent = parent.parent
        for d in range(1, layer.depth):
            if (d not in current or current[d].path != hierarchy[d].path) and hierarchy[d] is not layers[idx + rel - 1]:
                container = hierarchy[d]
                container.recursive = container.recursive or container.path in listed
                layers.insert(idx + rel, container)
                listed.add(container.path)
                current[d] = container
                rel += 1
        current[layer.depth] = layer
        d = layer.depth + 1
        while d in current:
            del current[d]
            d += 1
        idx += 1


def _leftover(layer: _Layer, memo: dict[int, Any]) -> Any:
    """A container's parameters that none of the layers listed under it shows (torchinfo's ``leftover_params``)."""
    if id(layer) not in memo:
        shown: Any = 0
        for child in layer.children:
            if not child.recursive:
                shown = shown + (child.params if child.leaf else _leftover(child, memo))
        memo[id(layer)] = layer.params - shown
    return memo[id(layer)]


def _params_cell(layer: _Layer, at_max_depth: bool, memo: dict[int, Any]) -> str:
    """torchinfo's Param # cell: ``--``, ``(recursive)``, a count, ``(count)`` when none is trainable."""
    if not layer.params:
        return "--"
    if layer.recursive:
        return "(recursive)"
    if at_max_depth or layer.leaf:
        return _num(layer.params) if layer.trainable else f"({_num(layer.params)})"
    left = _leftover(layer, memo)
    return _num(left) if left > 0 else "--"


def _branch(depth: int, ascii_only: bool = False) -> str:
    """torchinfo's tree drawing before a title at ``depth`` (``get_start_str``)."""
    if depth == 0:
        return ""
    last = "+ " if ascii_only else "└─"
    if depth == 1:
        return "+ " if ascii_only else "├─"
    return ("|    " if ascii_only else "│    ") * (depth - 1) + last


def _first_shape(shapes: Any) -> tuple[Any, ...]:
    """The first shape in a nest of shapes (a tuple of shapes, a dict of them, or one shape)."""
    while isinstance(shapes, dict) or (
        isinstance(shapes, tuple) and shapes and (shapes[0] is None or isinstance(shapes[0], (tuple, dict)))
    ):
        shapes = next(iter(shapes.values())) if isinstance(shapes, dict) else shapes[0]
    return () if shapes is None else tuple(shapes)  # None: a value that holds no tensor (shown as torchinfo's --)


TORCHINFO_COLUMNS = {
    "kernel_size": "Kernel Shape",
    "input_size": "Input Shape",
    "output_size": "Output Shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "mult_adds": "Mult-Adds",
    "trainable": "Trainable",
}
TORCHINFO_ROW_SETTINGS = ("ascii_only", "depth", "hide_recursive_layers", "var_names")


def _percent(layer: _Layer, at_max_depth: bool, total: Any, memo: dict[int, Any]) -> str:
    """torchinfo's Param % cell (``params_percent``)."""
    if not total:
        return "     --"
    if layer.recursive:
        return "(recursive)"
    params = layer.params if at_max_depth or layer.leaf else _leftover(layer, memo)
    if not params:
        return "     --"
    return f"{params / total:>7.2%}"


def _mult_adds_cell(layer: _Layer, at_max_depth: bool) -> str:
    """torchinfo's Mult-Adds cell: a call's count; a called container with weights, at the deepest level
    shown, the sum of its leaves'."""
    if layer.leaf:
        return _num(layer.macs) if layer.macs else "--"
    # a ParametrizationList holds originals (``original``, ``original0``): no name torchinfo counts mult-adds of
    originals = layer.path.rpartition(".")[0].rpartition(".")[2] == "parametrizations"
    if at_max_depth and layer.called and layer.params and layer.output != "--" and not originals:
        return _num(_total(child.macs for child in layer.children if child.leaf))
    return "--"


def _trainable_cell(layer: _Layer) -> str:
    if not layer.params:
        return "--"
    if not layer.trainable:
        return "False"
    return "True" if layer.trainable == layer.params else "Partial"


def _total(values: Any) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total


def torchinfo_table(
    layers: list[_Layer],
    *,
    depth: int = 3,
    columns: tuple[str, ...] = ("output_size", "num_params"),
    col_width: int = 25,
    row_settings: frozenset[str] = frozenset({"depth"}),
    total_params: Any = 0,
) -> list[str]:
    """torchinfo 1.8's table of layers (``FormattingOptions``), from the header to the rule under the last
    layer: ``columns`` among :data:`TORCHINFO_COLUMNS`, ``row_settings`` among :data:`TORCHINFO_ROW_SETTINGS`."""
    var_names, show_depth = "var_names" in row_settings, "depth" in row_settings
    ascii_only, hide_recursive = "ascii_only" in row_settings, "hide_recursive_layers" in row_settings
    longest = max(len(layer.title(var_names, show_depth)) + layer.depth * 5 + 1 for layer in layers)
    name_width = 40 if longest < 40 else -(-longest // 5) * 5
    width = name_width + len(columns) * col_width

    def line(name: str, cells: dict[str, str]) -> str:
        return (f"{name:<{name_width}} " + "".join(f"{cells.get(c, ''):<{col_width}} " for c in columns)).rstrip()

    header = "Layer (type" + (" (var_name)" if var_names else "") + (":depth-idx" if show_depth else "") + ")"
    out = ["=" * width, line(header, TORCHINFO_COLUMNS), "=" * width]
    memo: dict[int, Any] = {}
    for layer in layers:
        if layer.depth > depth or (hide_recursive and layer.recursive):
            continue
        at_max = layer.depth == depth
        cells = {
            "kernel_size": layer.kernel,
            "input_size": _shape(layer.input) if layer.input else "--",
            "output_size": layer.output,
            "num_params": _params_cell(layer, at_max, memo),
            "params_percent": _percent(layer, at_max, total_params, memo),
            "mult_adds": _mult_adds_cell(layer, at_max),
            "trainable": _trainable_cell(layer),
        }
        out.append(line(_branch(layer.depth, ascii_only) + layer.title(var_names, show_depth), cells))
    out.append("=" * width)
    return out


def torchinfo_totals(
    width: int,
    *,
    total_params: Any,
    trainable_params: Any,
    mult_adds: Any = None,
    input_bytes: Any = 0,
    forward_bytes: Any = 0,
    param_bytes: Any = 0,
) -> list[str]:
    """torchinfo 1.8's totals under the table: the parameter counts, then (where there was an input) the
    mult-adds and the memory estimate; ``mult_adds=None`` for no input."""
    out = [
        f"Total params: {_num(total_params)}",
        f"Trainable params: {_num(trainable_params)}",
        f"Non-trainable params: {_num(total_params - trainable_params)}",
    ]
    if mult_adds is not None:
        out += [
            f"Total mult-adds{_readable(mult_adds)}",
            "=" * width,
            f"Input size (MB): {_mb(input_bytes)}",
            f"Forward/backward pass size (MB): {_mb(forward_bytes)}",
            f"Params size (MB): {_mb(param_bytes)}",
            f"Estimated Total Size (MB): {_mb(input_bytes + forward_bytes + param_bytes)}",
        ]
    return [*out, "=" * width]


def _torchinfo(plan: Plan, depth: int = 3) -> str:
    """The layout of ``torchinfo.summary`` (1.8) down to ``depth``: a tree of modules, then the plan's totals."""
    layers = _torchinfo_layers(plan)
    table = torchinfo_table(layers, depth=depth, total_params=plan.total_params)
    totals = torchinfo_totals(
        len(table[0]),
        total_params=plan.total_params,
        trainable_params=plan.trainable_params,
        mult_adds=plan.total_mult_adds,
        input_bytes=plan.input_bytes,
        forward_bytes=plan.forward_backward_bytes,
        param_bytes=plan.torchinfo_param_bytes,
    )
    return "\n".join([*table, *totals, f"{_mac_line(plan)}: {_num(plan.macs)}"])


def _mb(value: Any) -> str:
    """Bytes in megabytes: two decimals for a number; for symbolic sizes the bytes' expression over 1e6."""
    if type(value) is int:
        return f"{value / 1e6:.2f}"
    from convcalc._backend import sympy
    from convcalc._symbolic import to_sympy

    value = to_sympy(value)
    return f"({value}) / 1e6" if isinstance(value, sympy().Add) else f"{value} / 1e6"


def _jsonable(value: Any) -> Any:
    if type(value) in (int, float, str, bool) or value is None:
        return value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
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
        **({"source": r.source} if r.source != "rule" else {}),  # where the shape came from, when not the rules
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
    if plan.unowned:
        out["unowned"] = [u._asdict() for u in plan.unowned]
    if plan.outputs is not None:
        out["output_shapes"] = _jsonable(plan.outputs)
    if plan.inputs is not None:
        out["input_shapes"] = _jsonable(plan.inputs)
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


def _csv_shape(dims: list[Any], *, listed: bool) -> str:
    return "[" + ", ".join(map(str, dims)) + "]" if listed else "x".join(map(str, dims))


def plan_to_csv(plan: Plan) -> str:
    """The rows as CSV. Shapes are written ``1x8x28x28`` when every size is a number; in a plan with a symbolic
    size they are lists, ``[1, 8, floor((H - 3)/2) + 1, ...]``, that ``sympy.sympify`` reads back (an expression
    may hold products of its own), as are the symbolic counts."""
    listed = any(type(d) is not int for r in plan.rows for d in (*r.input_shape, *r.output_shape))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*_FLAT, "receptive_field"])
    for r in plan.rows:
        d = _row_dict(r)
        writer.writerow([*(_csv_shape(d[k], listed=listed) if isinstance(d[k], list) else d[k] for k in _FLAT), _rf(r)])
    return buf.getvalue()


_MD_SPECIAL = frozenset("\\`*_[]<>|~!&#")


def _md_text(text: str) -> str:
    """Plain text in a Markdown table cell: every character that could start markup is escaped."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _md_code(text: str) -> str:
    """``text`` as a code span in a table cell: exact, whatever it holds."""
    text = text.replace("|", "\\|")
    run = max((len(m) for m in _backtick_runs(text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _backtick_runs(text: str) -> list[str]:
    runs, current = [], ""
    for ch in text:
        if ch == "`":
            current += ch
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs


def _md_value(value: Any, *, strong: bool = False) -> str:
    """A count as Markdown: digits with commas (bold in the total row); a symbolic count as an exact code span,
    since its ``*`` and ``**`` would otherwise be read as emphasis."""
    text = f"{value:,}" if type(value) is int else _md_code(str(value))
    return f"**{text}**" if strong else text


def _md_shape(shape: Shape) -> str:
    text = _shape(shape)
    return text if all(type(d) is int for d in shape) else _md_code(text)


def plan_to_markdown(plan: Plan) -> str:
    header = f"| Layer | Kind | Output shape | Params | {_count_heading(plan)} |\n|---|---|---|--:|--:|"
    body = [
        f"| {_md_code(r.name)} | {_md_text(r.kind)} | {_md_shape(r.output_shape)} | {_md_value(r.params)} "
        f"| {_md_value(r.macs)} |"
        for r in plan.rows
    ]
    foot = (
        f"| **Total** | | {_md_shape(plan.output_shape)} | {_md_value(plan.total_params, strong=True)} "
        f"| {_md_value(plan.macs, strong=True)} |"
    )
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
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
    ):
        text = text.replace(a, "\x00") if a == "\\" else text.replace(a, b)
    return text.replace("\0", r"\textbackslash{}")


def _latex_math(value: Any) -> str:
    """A symbolic size or count as LaTeX math (``\\left\\lfloor ... \\right\\rfloor``, ``^{2}``)."""
    from convcalc._backend import sympy

    return str(sympy().latex(to_sympy(value)))


def _latex_value(value: Any) -> str:
    return _tex(_num(value)) if type(value) is int else f"${_latex_math(value)}$"


def _latex_shape(shape: Shape) -> str:
    if all(type(d) is int for d in shape):
        return _tex(_shape(shape))
    return "$[" + ", ".join(str(d) if type(d) is int else _latex_math(d) for d in shape) + "]$"


def plan_to_latex(plan: Plan) -> str:
    heading = _tex(_count_heading(plan))
    lines = [r"\begin{tabular}{llrrr}", r"\hline", rf"Layer & Kind & Output shape & Params & {heading} \\", r"\hline"]
    for r in plan.rows:
        lines.append(
            f"{_tex(r.name)} & {_tex(r.kind)} & {_latex_shape(r.output_shape)} & "
            f"{_latex_value(r.params)} & {_latex_value(r.macs)} \\\\"
        )
    lines += [
        r"\hline",
        f"Total & & {_latex_shape(plan.output_shape)} & {_latex_value(plan.total_params)} & "
        f"{_latex_value(plan.macs)} \\\\",
        r"\hline",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


@functools.cache
def _html_printer() -> Any:
    """A sympy printer for HTML: ``x<sup>2</sup>``, ``⌊x⌋``, ``⌈x⌉``, ``·`` for products, escaped names."""
    from convcalc._backend import sympy

    printing = sympy().printing
    precedence = printing.precedence.precedence

    class HtmlPrinter(printing.str.StrPrinter):  # type: ignore[misc,name-defined]
        def _print_Symbol(self, expr: Any) -> str:  # noqa: N802 (sympy dispatches on the class name)
            return html.escape(str(expr.name))

        def _print_floor(self, expr: Any) -> str:
            return "⌊" + str(self._print(expr.args[0])) + "⌋"

        def _print_ceiling(self, expr: Any) -> str:
            return "⌈" + str(self._print(expr.args[0])) + "⌉"

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:  # noqa: N802
            base, exponent = expr.args
            if exponent.is_Integer and exponent > 1:
                return f"{self.parenthesize(base, precedence(expr), strict=False)}<sup>{exponent}</sup>"
            return str(super()._print_Pow(expr, rational)).replace("**", "^")

    return HtmlPrinter()


def _html_value(value: Any) -> str:
    """A size or count as HTML: digits with commas, or the expression typeset (HTML-escaped)."""
    if type(value) is int:
        return f"{value:,}"
    if type(value) is str:
        return html.escape(value)
    text = str(_html_printer().doprint(to_sympy(value)))
    return text.replace("*", "·")


def _html_shape(shape: Shape) -> str:
    return "[" + ", ".join(_html_value(d) for d in shape) + "]"


_HTML_RULES = {">=": "≥", "==": "=", "divides": "divisible by"}


def plan_to_html(plan: Plan) -> str:
    """The plan as an HTML fragment (the notebook view): the layer table, then the input and output shapes,
    the parameter counts, the MAC convention and, for a symbolic plan, the constraints on the input."""
    right = " style='text-align:right'"
    cells = "".join(
        f"<tr><td><code>{html.escape(r.name)}</code></td><td>{html.escape(r.kind)}</td>"
        f"<td>{_html_shape(r.output_shape)}</td><td{right}>{_html_value(r.params)}</td>"
        f"<td{right}>{_html_value(r.macs)}</td></tr>"
        for r in plan.rows
    )
    table = (
        "<table><thead><tr><th>Layer</th><th>Kind</th><th>Output shape</th><th>Params</th>"
        f"<th>{html.escape(_count_heading(plan))}</th></tr></thead>"
        f"<tbody>{cells}</tbody><tfoot><tr><th colspan='3'>Total ({html.escape(_mac_line(plan))})</th>"
        f"<th{right}>{_html_value(plan.total_params)}</th>"
        f"<th{right}>{_html_value(plan.macs)}</th></tr></tfoot></table>"
    )
    facts = [
        ("Input shape", _html_shape(plan.input_shape)),
        ("Output shape", _html_shape(plan.output_shape)),
        ("Trainable params", _html_value(plan.trainable_params)),
        ("Non-trainable params", _html_value(plan.non_trainable_params)),
        ("Buffers", _html_value(plan.buffers)),
        ("MAC convention", f"<code>{html.escape(plan.mac_convention)}</code>: {html.escape(_mac_line(plan))}"),
    ]
    info = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    if plan.constraints:
        items = "".join(
            f"<li><code>{html.escape(c.layer)}</code> (axis {c.axis}): {_html_value(c.form)} "
            f"{_HTML_RULES.get(c.kind, html.escape(c.kind))} {_html_value(c.value)} ({html.escape(c.reason)})</li>"
            for c in plan.constraints
        )
        info += f"<dt>Constraints</dt><dd><ul class='constraints'>{items}</ul></dd>"
    return f"<div class='convcalc-plan'>{table}<dl>{info}</dl></div>"
