"""The result of planning: plain frozen data, rendered elsewhere."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from convcalc._late import late
from convcalc._symbolic import FloorForm, to_sympy

__all__ = ["Constraint", "Plan", "ReceptiveField", "Row", "merge_rf", "rf_update"]


@dataclass(frozen=True, slots=True)
class ReceptiveField:
    """Receptive field of one output position along one axis (Araujo et al., tf-slim).

    ``size`` input pixels are seen; neighbouring outputs are ``jump`` input pixels
    apart; the first output's window starts at input index ``start`` (negative
    inside the padding; ``-start`` is tf-slim's effective padding).
    """

    size: int
    jump: int
    start: int


@dataclass(frozen=True, slots=True)
class Row:
    """One layer of a plan (for a model read from torch: one call of a leaf module, or one tensor operation).

    ``recursive`` marks a call whose parameters were counted at an earlier row
    (a module called again, or one whose weights another module holds: tied
    weights); the row then counts only the tensors seen here for the first time,
    so the plan's totals count each tensor once.

    ``source`` says how the row's shapes were obtained: ``"rule"`` when convcalc
    read the forward and applied its own rules, ``"torch"`` when the forward
    could not be read and torch's shape machinery ran it on the meta device (no
    data); the row's parameters, MACs, memory and receptive field are convcalc's
    rules applied to the shapes torch gave at that call.
    """

    name: str
    kind: str
    input_shape: tuple[Any, ...]
    output_shape: tuple[Any, ...]
    trainable: Any = 0
    non_trainable: Any = 0
    buffers: Any = 0
    macs: Any = 0
    activations: Any = 0
    activation_bytes: Any = 0
    receptive_field: tuple[ReceptiveField, ...] | None = None
    depth: int = 0
    recursive: bool = False
    source: str = "rule"

    @property
    def params(self) -> Any:
        """Trainable plus non-trainable parameters."""
        return self.trainable + self.non_trainable


@dataclass(frozen=True, slots=True)
class Constraint:
    """A condition the symbolic input must meet for the plan to hold.

    ``kind`` is ``">="`` (``form >= value``), ``"divides"`` (``form`` is a
    multiple of ``value``) or ``"=="``; ``form`` is the size at ``layer`` on
    ``axis`` as a function of the input symbols: a FloorForm of one symbol, or
    a sympy expression where no such form exists.
    """

    layer: str
    axis: int
    form: Any
    kind: str
    value: int
    reason: str

    def holds(self, x: int) -> bool:
        v = self.form(x) if isinstance(self.form, FloorForm) else int(self.form.subs(self.symbol, x))
        if self.kind == ">=":
            return v >= self.value
        if self.kind == "==":
            return v == self.value
        return v % self.value == 0

    @property
    def symbol(self) -> Any:
        if isinstance(self.form, FloorForm):
            return self.form.x
        symbols = sorted(self.form.free_symbols, key=str)
        return symbols[0] if len(symbols) == 1 else None

    def __str__(self) -> str:
        expr = to_sympy(self.form)
        rule = f"{expr} divisible by {self.value}" if self.kind == "divides" else f"{expr} {self.kind} {self.value}"
        return f"{self.layer} (axis {self.axis}): {rule} ({self.reason})"


def _total(values: Any) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total


@dataclass(frozen=True)
class Plan:
    """What a network does to a shape, layer by layer, with totals.

    Build one with :func:`convcalc.plan`. Rows are plain data; ``summary`` and
    the ``to_*`` methods render them. ``uncalled`` lists, for a model read from
    torch, the modules (and module parameters) its forward never uses, with the
    parameters and buffers they hold: the totals count them, as
    ``model.parameters()`` does; their MACs and activations are zero.
    """

    rows: tuple[Row, ...]
    input_shape: tuple[Any, ...]
    output_shape: tuple[Any, ...]
    convention: str
    mac_convention: str
    constraints: tuple[Constraint, ...] = ()
    itemsize: int = 4
    layout: str = "channels_first"
    _extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    uncalled: tuple[Row, ...] = ()

    @property
    def input_shapes(self) -> Any:
        """Every input's shape: a tuple of shapes (positional inputs) or a dict (keyword inputs)."""
        return self._extra.get("inputs", (self.input_shape,))

    @property
    def output_shapes(self) -> Any:
        """Every output's shape, nested as the forward returns them: a tuple of shapes (one for a single
        output), or a dict for a forward that returns a dict; ``output_shape`` is the first one."""
        return self._extra.get("outputs", (self.output_shape,))

    @property
    def fallback_rows(self) -> tuple[Row, ...]:
        """The rows whose shapes torch's shape machinery gave (``source == "torch"``)."""
        return tuple(r for r in self.rows if r.source == "torch")

    @property
    def trainable_params(self) -> Any:
        return _total(r.trainable for r in (*self.rows, *self.uncalled))

    @property
    def non_trainable_params(self) -> Any:
        return _total(r.non_trainable for r in (*self.rows, *self.uncalled))

    @property
    def total_params(self) -> Any:
        return self.trainable_params + self.non_trainable_params

    @property
    def buffers(self) -> Any:
        return _total(r.buffers for r in (*self.rows, *self.uncalled))

    @property
    def macs(self) -> Any:
        return _total(r.macs for r in self.rows)

    @property
    def activations(self) -> Any:
        return _total(r.activations for r in self.rows)

    @property
    def receptive_field(self) -> tuple[ReceptiveField, ...] | None:
        """Receptive field of the last layer that still has spatial axes."""
        for row in reversed(self.rows):
            if row.receptive_field is not None:
                return row.receptive_field
        return None

    def row(self, name: str) -> Row:
        """The row of the layer at path ``name``."""
        for r in self.rows:
            if r.name == name:
                return r
        from convcalc._errors import SpecError

        names = ", ".join(r.name for r in self.rows[:8])
        raise SpecError(f"no layer named {name!r} in this plan; layers include {names}. Received: name={name!r}")

    @property
    def symbols(self) -> tuple[Any, ...]:
        found: dict[Any, None] = {}
        for dim in self.input_shape:
            if isinstance(dim, FloorForm):
                found[dim.x] = None
            elif hasattr(dim, "free_symbols"):
                for s in sorted(dim.free_symbols, key=str):
                    found[s] = None
        return tuple(found)

    # -- rendering (see convcalc._render) ---------------------------------- #

    def summary(self, style: str = "table", *, depth: int | None = None) -> str:
        """The plan as text: ``"table"``, ``"torchinfo"`` or ``"keras"`` layout.

        ``style="torchinfo"`` prints what ``torchinfo.summary(model, input_size, depth=depth,
        col_names=("output_size", "num_params"))`` (torchinfo 1.8.0) prints for the torch module, line for
        line: modules in the order they are called, containers before their layers, modules nested deeper
        than ``depth`` (3 by default, as in torchinfo) left out, a container at ``depth`` showing all its
        parameters; then the totals, and one more line with convcalc's own MAC count.

        >>> import convcalc
        >>> from convcalc import nn
        >>> net = nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), nn.Flatten())
        >>> print(convcalc.plan(net, (1, 1, 5, 5)).summary("torchinfo", depth=1))  # doctest: +ELLIPSIS
        ==========================================================================================
        Layer (type:depth-idx)                   Output Shape              Param #
        ==========================================================================================
        Sequential                               [1, 36]                   --
        ├─Sequential: 1-1                        [1, 4, 3, 3]              40
        ├─Flatten: 1-2                           [1, 36]                   --
        ==========================================================================================
        Total params: 40
        ...
        >>> convcalc.plan(net, (1, 1, 5, 5)).summary("table", depth=1)
        Traceback (most recent call last):
        ...
        convcalc.SpecError: depth applies to style='torchinfo' only. Received: style='table', depth=1
        """
        text: str = late("convcalc._render:render_summary")(self, style, depth)
        return text

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready: symbolic values become strings)."""
        out: dict[str, Any] = late("convcalc._render:plan_to_dict")(self)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        out: str = late("convcalc._render:plan_to_csv")(self)
        return out

    def to_markdown(self) -> str:
        out: str = late("convcalc._render:plan_to_markdown")(self)
        return out

    def to_latex(self) -> str:
        out: str = late("convcalc._render:plan_to_latex")(self)
        return out

    def _repr_html_(self) -> str:
        out: str = late("convcalc._render:plan_to_html")(self)
        return out

    # -- solving for sizes ------------------------------------------------- #

    def valid_sizes(self, symbol: Any = None) -> Any:
        """Which values of an input symbol make every layer fit (see :class:`Solution`)."""
        return late("convcalc._solve:solve_sizes")(self, symbol)

    def inputs_for(self, output: int, symbol: Any = None, axis: int | None = None) -> list[int]:
        """The valid input sizes whose output size along the symbol's axis is ``output``.

        Searched up to 10**12; an output that more than 10**6 sizes give is a SpecError (valid_sizes
        describes such a run).
        """
        sizes: list[int] = late("convcalc._solve:inputs_for")(self, output, symbol, axis)
        return sizes


def shape_numel(shape: tuple[Any, ...]) -> Any:
    for d in shape:
        if type(d) is not int:
            break
    else:
        return math.prod(shape)
    out: Any = 1
    for d in shape:
        out = out * to_sympy(d)
    return out


def rf_update(
    rf: tuple[ReceptiveField, ...] | None,
    extent: tuple[int, ...],
    stride: tuple[int, ...],
    pad: tuple[int, ...] | None,
) -> tuple[ReceptiveField, ...] | None:
    """The receptive field after a window of ``extent`` (dilation included), ``stride`` and left ``pad``
    on each axis; None when the field or the padding is unknown."""
    if rf is None or pad is None:
        return None
    return tuple(
        ReceptiveField(r.size + (k - 1) * r.jump, r.jump * s, r.start - p * r.jump)
        for r, k, s, p in zip(rf, extent, stride, pad, strict=True)
    )


def merge_rf(rfs: list[tuple[ReceptiveField, ...] | None]) -> tuple[ReceptiveField, ...] | None:
    """The receptive field where branches meet: the largest per axis, None when any is unknown or the
    jumps differ."""
    if any(r is None for r in rfs):
        return None
    known = [r for r in rfs if r is not None]
    merged = []
    for axis in zip(*known, strict=True):
        if len({f.jump for f in axis}) != 1:
            return None
        merged.append(max(axis, key=lambda f: f.size))
    return tuple(merged)
