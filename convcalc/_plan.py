"""The result of planning: plain frozen data, rendered elsewhere."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, NamedTuple

from convcalc._errors import SpecError, checked_call
from convcalc._late import late
from convcalc._symbolic import FloorForm, to_sympy
from convcalc._types import Shape, Size

__all__ = ["Constraint", "Group", "Plan", "ReceptiveField", "Row", "across_rf", "merge_rf", "rf_update", "sliced_rf"]


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


# torch's recurrent layers: every parameter is named ``weight_ih_l0``, ``bias_hh``, ... (not ``weight``)
_RECURRENT = frozenset({"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"})


def torchinfo_mult_adds(
    kind: str,
    params: Size,
    output_shape: Shape,
    named: tuple[int, int] | None = None,
    *,
    channels_last: bool = False,
) -> Size:
    """torchinfo's count for one layer, per sample (per size of the output's first axis).

    torchinfo counts a parameter named ``weight`` or ``bias`` once per output position of a convolution
    (``Conv`` in the class name) and once per sample otherwise; a parameter whose name only contains
    ``weight`` or ``bias`` (a recurrent layer's ``weight_ih_l0``) once per element of the output's first two
    axes (time steps and samples); any other (a layer scale's ``gamma``) not at all. ``named`` gives the
    module's parameters of the first two kinds where its names are known (a torch module); without it the
    kind decides (torch's recurrent layers have only the second, other layers only the first). A convolution's
    output positions are its spatial sizes: after the channels, or before them (``channels_last``, Keras)."""
    plain, inner = named if named is not None else (0, params) if kind in _RECURRENT else (params, 0)
    total: Size = 0
    if plain:
        positions: Size = 1
        if "Conv" in kind:
            for d in output_shape[1:-1] if channels_last else output_shape[2:]:
                positions = positions * d
        total = plain * positions
    if inner:
        total = total + inner * (output_shape[1] if len(output_shape) >= 2 else 1)
    return total


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
    input_shape: Shape
    output_shape: Shape
    trainable: Size = 0
    non_trainable: Size = 0
    buffers: Size = 0
    macs: Size = 0
    activations: Size = 0
    activation_bytes: Size = 0
    receptive_field: tuple[ReceptiveField, ...] | None = None
    depth: int = 0
    recursive: bool = False
    source: str = "rule"

    @property
    def params(self) -> Size:
        """Trainable plus non-trainable parameters."""
        return self.trainable + self.non_trainable


_ROW_SLOTS = tuple(getattr(Row, name).__set__ for name in Row.__dataclass_fields__)


def make_row(
    name: str,
    kind: str,
    input_shape: Shape,
    output_shape: Shape,
    trainable: Size,
    non_trainable: Size,
    buffers: Size,
    macs: Size,
    activations: Size,
    activation_bytes: Size,
    receptive_field: tuple[ReceptiveField, ...] | None,
    depth: int,
    recursive: bool,
    source: str = "rule",
    _slots: tuple[Any, ...] = _ROW_SLOTS,
) -> Row:
    """``Row(...)`` with every field given, for the planner's one row per layer.

    A frozen dataclass's own ``__init__`` sets each field through ``object.__setattr__``; setting the slots
    directly makes the same row in about half the time, which a plan of a few hundred rows feels.
    """
    row = object.__new__(Row)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13 = _slots
    s0(row, name)
    s1(row, kind)
    s2(row, input_shape)
    s3(row, output_shape)
    s4(row, trainable)
    s5(row, non_trainable)
    s6(row, buffers)
    s7(row, macs)
    s8(row, activations)
    s9(row, activation_bytes)
    s10(row, receptive_field)
    s11(row, depth)
    s12(row, recursive)
    s13(row, source)
    return row


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

    def holds(self, x: Any) -> bool:
        """Whether the condition holds for the input size ``x`` of its one symbol, or for the sizes a mapping
        gives each symbol (``{"H": 5, "W": 7}``, by name or by symbol) where it depends on several."""
        sizes = x.values() if isinstance(x, Mapping) else (x,)
        if not all(type(v) is int or (isinstance(v, int) and not isinstance(v, bool)) for v in sizes):
            raise SpecError(f"holds() takes an int size (or a dict of them). Received: x={x!r}")
        if isinstance(x, Mapping):
            form = to_sympy(self.form)
            values = {s: x[s] if s in x else x.get(str(s)) for s in form.free_symbols}
            missing = sorted(str(s) for s, v in values.items() if v is None)
            if missing:
                raise SpecError(f"holds() needs a size for {', '.join(missing)}. Received: sizes={dict(x)}")
            v = int(form.subs(values))
        elif self.symbol is None and to_sympy(self.form).free_symbols:
            names = ", ".join(sorted(str(s) for s in to_sympy(self.form).free_symbols))
            raise SpecError(
                f"this condition depends on {names}: give holds() a size for each, as a dict such as "
                f"{{{', '.join(f'{n!r}: 8' for n in names.split(', '))}}}. Received: x={x!r}"
            )
        elif isinstance(self.form, FloorForm):
            v = self.form(x)
        else:
            v = int(to_sympy(self.form).subs(self.symbol, x)) if self.symbol is not None else int(to_sympy(self.form))
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


class Group(NamedTuple):
    """A container the walk entered (a Sequential, a torch module's forward, an Add or a Concat).

    ``start`` is the index of the first row planned inside it (containers are listed before their layers),
    ``path`` and ``kind`` name it, ``output_shape`` is the shape it returns; ``input_shape`` is the shape of the
    first tensor it was given by position, ``()`` where it was given none (a torch module called with keywords
    only, as torchinfo's hook sees it).
    """

    start: int
    path: str
    kind: str
    output_shape: Shape
    input_shape: Shape = ()
    #: False where what torchinfo sizes the output by is no tensor (``return None, x``): no shape, no bytes
    tensor: bool = True


class Unowned(NamedTuple):
    """A module holding parameters that a torch model's forward calls but torch does not register as one of the
    model's: ``path`` names it by where it is held (``"blocks.0"``: a plain list the model keeps) or, for a module
    made in ``forward``, as its row is named; ``held_in`` is the plain container (``"blocks"``) and
    ``container`` its type (``"list"``, ``"tuple"`` or ``"dict"``), both None for a module made in forward.
    ``trainable`` and ``non_trainable`` count its parameters, which
    ``model.parameters()`` leaves out (so no optimizer trains them, ``.to()`` does not move them, a saved
    ``state_dict`` does not hold them)."""

    path: str
    kind: str
    trainable: int
    non_trainable: int
    held_in: str | None
    container: str | None

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


class ModuleCall(NamedTuple):
    """One call of a module as torchinfo lists it (:meth:`Plan.module_calls`): its ``path`` and class
    (``kind``), the shapes it was called with (None where no reader said) and returned, the ``row`` its
    counts come from (None for a container), whether it is a ``leaf`` (a module without children) and
    whether it came from a ``group`` (a container, or a leaf module whose forward was read step by step)."""

    path: str
    kind: str
    input_shape: Shape | None
    output_shape: Shape
    row: Row | None
    leaf: bool
    group: bool


class Parametrized(NamedTuple):
    """A tensor of a torch module that its parametrizations compute when the module reads it
    (``torch.nn.utils.parametrize``: ``weight_norm``, ``spectral_norm``, a low-rank update): torchinfo lists
    the ``ParametrizationList`` at ``path`` (``<module>.parametrizations.<tensor>``), called without
    arguments, and each parametrization it calls in turn, with the parameters each holds."""

    path: str
    shape: Shape  # the tensor computed
    params: int  # the originals the list holds
    trainable: int
    steps: tuple[tuple[str, Shape, int, int], ...]  # (class, first input's shape, own parameters, trainable)

    def held(self) -> tuple[int, int]:
        """(parameters, trainable parameters) of the list and its parametrizations."""
        return (
            self.params + sum(step[2] for step in self.steps),
            self.trainable + sum(step[3] for step in self.steps),
        )


def _total(values: Iterable[Size]) -> Size:
    total: Size = 0
    for v in values:
        total = total + v
    if type(total) is Fraction and total.denominator == 1:  # rows sharing a loop's count make whole samples
        return total.numerator
    return total


@dataclass(frozen=True)
class Plan:
    """What a network does to a shape, layer by layer, with totals.

    Build one with :func:`convcalc.plan`. Rows are plain data; ``summary`` and
    the ``to_*`` methods render them. ``uncalled`` lists, for a model read from
    torch, the modules (and module parameters) its forward never uses, with the
    parameters and buffers they hold: the totals count them, as
    ``model.parameters()`` does; their MACs and activations are zero.
    ``unowned`` lists the modules holding parameters that the forward calls but
    torch does not register (held in a plain list or dict, or made in
    ``forward``), with the parameters each holds (not its buffers, nor a weight
    it shares with one of the model's modules): no total counts them, as
    ``model.parameters()`` leaves them out (nor does an optimizer train them or
    ``.to()`` move them); their calls' rows count MACs and activations. See
    :class:`Unowned`.

    The fields after ``uncalled`` describe the model around the rows, for the
    layouts that show it: ``name`` (the model's class or Keras name),
    ``modules`` (the class of each module by path, ``""`` for the model, as
    ``named_modules()`` lists them; None for a model without a module tree,
    such as a Keras one), ``groups`` (the containers the walk entered, see
    :class:`Group`), and ``inputs`` and ``outputs``: every input's and every
    output's shape for a model that takes or returns several (None for one
    shape; read them through ``input_shapes`` and ``output_shapes``). They are
    left out of ``==``, ``hash`` and ``repr``: two plans with the same rows are
    equal whatever the model is called.

    >>> import convcalc
    >>> from convcalc import nn
    >>> p = convcalc.plan(nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), nn.Flatten()), (1, 1, 5, 5))
    >>> p.name, p.modules
    ('Sequential', (('', 'Sequential'), ('0', 'Sequential'), ('0.0', 'Conv2d'), ('0.1', 'ReLU'), ('1', 'Flatten')))
    >>> p.groups
    (Group(start=0, path='0', kind='Sequential', output_shape=(1, 4, 3, 3), input_shape=(1, 1, 5, 5), tensor=True),)
    >>> p.input_shapes, p.output_shapes, p.inputs, p.outputs
    (((1, 1, 5, 5),), ((1, 36),), None, None)
    >>> p.total_mult_adds, p.input_bytes, p.forward_backward_bytes, p.params_bytes, p.total_bytes
    (360, 100, 288, 160, 548)
    >>> p.row("2")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: no layer named '2' in this plan; layers include 0.0, 0.1, 1. Received: name='2'
    """

    rows: tuple[Row, ...]
    input_shape: Shape
    output_shape: Shape
    convention: str
    mac_convention: str
    constraints: tuple[Constraint, ...] = ()
    itemsize: int = 4
    layout: str = "channels_first"
    uncalled: tuple[Row, ...] = ()
    name: str | None = field(default=None, compare=False, repr=False)
    modules: tuple[tuple[str, str], ...] | None = field(default=None, compare=False, repr=False)
    groups: tuple[Group, ...] = field(default=(), compare=False, repr=False)
    # (path, parameters named weight or bias, parameters whose name only contains one of them, bytes of a
    # parameter's element, of an output element or 0 where unknown) of each torch module without children that
    # holds parameters: how torchinfo counts its mult-adds and sizes its parameters and output (-1 and 0 for a lazy
    # layer not yet run: every parameter it will hold is a weight or bias, counted from its row)
    weight_names: tuple[tuple[str, int, int, int, int], ...] | None = field(default=None, compare=False, repr=False)
    # the tensors of torch layers planned whole that parametrizations compute (for the torchinfo layout)
    parametrized: tuple[Parametrized, ...] = field(default=(), compare=False, repr=False)
    inputs: Any = field(default=None, compare=False, repr=False)
    outputs: Any = field(default=None, compare=False, repr=False)
    # the receptive field of the (first) output itself, where the walk knows it
    output_field: tuple[ReceptiveField, ...] | None = field(default=None, compare=False, repr=False)
    # the bytes of every parameter at its own dtype's size, where the reader knows them (a torch module's)
    param_bytes: int | None = field(default=None, compare=False, repr=False)
    # modules holding parameters that the forward calls but torch does not register (see ``Unowned``)
    unowned: tuple[Unowned, ...] = field(default=(), compare=False, repr=False)
    # the bytes of an element of the input itself where they differ from ``itemsize``'s and the reader knows them
    # (an ONNX model taking int64 token ids), else None
    input_itemsize: int | None = field(default=None, compare=False, repr=False)

    @property
    def input_shapes(self) -> Any:
        """Every input's shape: a tuple of shapes (positional inputs) or a dict (keyword inputs)."""
        return (self.input_shape,) if self.inputs is None else self.inputs

    @property
    def output_shapes(self) -> Any:
        """Every output's shape, nested as the forward returns them: a tuple of shapes (one for a single
        output), or a dict for a forward that returns a dict; ``output_shape`` is the first tensor's. A value the
        forward returns beside its tensors that holds none (``None``, a size) is None: it has no shape."""
        return (self.output_shape,) if self.outputs is None else self.outputs

    @property
    def fallback_rows(self) -> tuple[Row, ...]:
        """The rows whose shapes torch's shape machinery gave (``source == "torch"``)."""
        return tuple(r for r in self.rows if r.source == "torch")

    @property
    def trainable_params(self) -> Size:
        return _total(r.trainable for r in (*self.rows, *self.uncalled))

    @property
    def non_trainable_params(self) -> Size:
        return _total(r.non_trainable for r in (*self.rows, *self.uncalled))

    @property
    def total_params(self) -> Size:
        return self.trainable_params + self.non_trainable_params

    @property
    def buffers(self) -> Size:
        return _total(r.buffers for r in (*self.rows, *self.uncalled))

    @property
    def macs(self) -> Size:
        return _total(r.macs for r in self.rows)

    @property
    def activations(self) -> Size:
        return _total(r.activations for r in self.rows)

    @property
    def receptive_field(self) -> tuple[ReceptiveField, ...] | None:
        """Receptive field of the output, or of the last layer that still had spatial axes before they ended (a
        flatten, a global pool): None where a later layer, or the output, keeps any of them without a field of
        its own (a transposed convolution, a crop from a symbolic end, a gate computed from the whole input, an
        index that takes one axis away), since the field of the output is then not that layer's."""
        if self.output_field:  # (an output without spatial axes has none: (), or None)
            return self.output_field
        for at in range(len(self.rows) - 1, -1, -1):
            field = self.rows[at].receptive_field
            if field is not None:
                rank, k = len(self.rows[at].output_shape), len(field)
                for shape in (*(row.output_shape for row in self.rows[at + 1 :]), self.output_shape):
                    # the spatial axes end where as many axes as they were are gone (a flatten, a global pool
                    # that drops them) or those left are of size 1 (a global pool that keeps them)
                    if len(shape) <= rank - k:
                        continue
                    if self._channels_last:
                        spatial = shape[1 : 1 + k] if len(shape) >= rank else shape[1:-1]
                    else:
                        spatial = shape[len(shape) - k :] if len(shape) >= rank else shape[rank - k :]
                    if not all(_is_one(d) for d in spatial):
                        return None
                return field
        return None

    # -- torchinfo's totals (its summary prints them; see summary("torchinfo")) ---------------------- #

    @property
    def params_by_module(self) -> dict[str, tuple[Size, Size]]:
        """(parameters, trainable parameters) of each module path, its descendants' included (those the
        forward never calls too), as torchinfo counts them: a row called again counts at its first call; the
        model is ``""``. Without a module tree
        (``modules`` is None) each row is a module of its own, directly under the model."""
        totals: dict[str, tuple[Size, Size]] = {}
        tree = self.modules is not None
        # a module the forward never calls still holds its parameters; a row marked recursive counts only the
        # tensors first seen at it (none for a module called again, a tied layer's own bias)
        for r in (*self.rows, *self.uncalled):
            parts = r.name.split(".") if tree else [r.name]
            for j in range(len(parts) + 1):
                key = ".".join(parts[:j])
                params, trainable = totals.get(key, (0, 0))
                totals[key] = (params + r.params, trainable + r.trainable)
        # a parametrized layer's row holds its parametrizations' parameters too: torchinfo lists them below it
        for p in self.parametrized:
            held = p.held()
            for key, count in (
                (p.path.rpartition(".")[0], held),
                (p.path, held),
                *((f"{p.path}.{j}", step[2:]) for j, step in enumerate(p.steps)),
            ):
                params, trainable = totals.get(key, (0, 0))
                totals[key] = (params + count[0], trainable + count[1])
        return totals

    @property
    def parent_paths(self) -> set[str]:
        """The paths of the modules that have children, ``""`` among them when the model has any. Without a
        module tree every row is a module of its own directly under the model."""
        if self.modules is None:
            return {""}
        return {p.rpartition(".")[0] for p, _ in self.modules if p}

    def module_calls(self) -> Iterator[ModuleCall]:
        """Each call of a module torchinfo lists, the model's own excepted, in the order torchinfo's hooks meet
        them: a container (a group) before the operations planned inside it, then each row that is a module's
        call. With a module tree, a row that is no module's call is left out: a functional operation, a
        module's own tensor, a container's own sum. Without one (a ``convcalc.nn`` spec), every row is a call."""
        tree = dict(self.modules) if self.modules is not None else None
        has_children = self.parent_paths
        group_paths = {g.path for g in self.groups}
        row_names = {r.name for r in self.rows}
        rows, groups = self.rows, self.groups
        g = 0
        for j in range(len(rows) + 1):
            while g < len(groups) and groups[g].start <= j:
                group = groups[g]
                g += 1
                path = group.path
                # what it was called with (``()``: no tensor given by position, as torchinfo's hook sees a call
                # made with keywords only)
                given: Shape | None = group.input_shape
                leaf = path not in has_children
                kind = tree.get(path, group.kind) if tree is not None else group.kind
                # what torchinfo shows the call return: no shape where it sizes it by no tensor (``return None, x``)
                shown = group.output_shape if group.tensor else ()
                if kind == "ParametrizationList":
                    given = None  # torch reads a parametrized tensor by calling its list without arguments
                row = None
                if leaf and path and tree is not None and j < len(rows) and rows[j].name == path:
                    # a module without children planned inside its own group (a layer with hooks): its row is the
                    # call, with the input its forward took and the output the call returns (a hook may change
                    # either: torchinfo's hooks run last)
                    row = rows[j]
                    given = row.input_shape
                    if row.output_shape != shown or not group.tensor:
                        output_bytes = shape_numel(shown) * self.itemsize if group.tensor else 0
                        row = replace(row, output_shape=shown, activation_bytes=output_bytes)
                elif leaf and path and tree is not None and path not in row_names:
                    # a module without children whose forward was read step by step (timm's Linear subclass
                    # calls F.linear): torchinfo lists it as one call, counted with its output
                    output_bytes = shape_numel(shown) * self.itemsize if group.tensor else 0
                    row = Row(path, kind, given or (), shown, activation_bytes=output_bytes)
                yield ModuleCall(path, kind, given, shown, row, leaf, True)
            if j == len(rows):
                return
            r = rows[j]
            if tree is not None and (r.name not in tree or r.name in group_paths or not r.name):
                continue
            kind = tree[r.name] if tree is not None else r.kind
            yield ModuleCall(r.name, kind, r.input_shape, r.output_shape, r, r.name not in has_children, False)
            yield from self._parametrization_calls(r.name)

    def _parametrization_calls(self, path: str) -> Iterator[ModuleCall]:
        """The calls that reading the parametrized tensors of the layer at ``path`` makes, as torchinfo's hooks
        meet them: each ``ParametrizationList`` (no input), then each parametrization it calls."""
        for p in self.parametrized:
            if p.path.rpartition(".")[0] != f"{path}.parametrizations":
                continue
            yield ModuleCall(p.path, "ParametrizationList", None, p.shape, None, False, True)
            for j, (kind, given, _, _) in enumerate(p.steps):
                row = Row(f"{p.path}.{j}", kind, given, p.shape, activation_bytes=shape_numel(p.shape) * self.itemsize)
                yield ModuleCall(row.name, kind, given, p.shape, row, True, False)

    def _leaf_calls(self) -> Iterator[tuple[str, str, Any, tuple[Any, ...], Any]]:
        """(path, class, parameters, output shape, activation bytes) of each call torchinfo lists of a module
        without children (a repeated call too), the model first when it has no children."""
        params = self.params_by_module
        if self.modules is not None and "" not in self.parent_paths:
            kind = self.name if self.name is not None else "Model"  # a model without children is a leaf
            yield "", kind, params.get("", (0, 0))[0], self.output_shape, self.output_bytes
        for call in self.module_calls():
            if call.leaf and call.row is not None:
                row = call.row
                yield call.path, call.kind, params.get(call.path, (0, 0))[0], row.output_shape, row.activation_bytes

    @property
    def _channels_last(self) -> bool:
        """Whether the plan's layout puts the channels last (a Keras model's): where its spatial sizes stand."""
        return self.layout == "channels_last"

    @property
    def total_mult_adds(self) -> Size:
        """torchinfo's "Total mult-adds" (see the ``torchinfo`` MAC convention): every call of a module
        without children, a repeated call too, times the first size of that call's output, as torchinfo
        counts it (the batch that call ran on: twice the input's where a forward concatenates two batches)."""
        total: Size = 0
        named = self.torchinfo_weights
        for path, kind, params, output_shape, _ in self._leaf_calls():
            if output_shape and self._holds(path, params, named):
                count = torchinfo_mult_adds(
                    kind, params, output_shape, named.get(path), channels_last=self._channels_last
                )
                total = total + count * output_shape[0]
        return total

    def _holds(self, path: str, params: Size, named: Mapping[str, Any]) -> bool:
        """Whether the module at ``path`` (without children) holds parameters, as torchinfo asks it of its
        ``named_parameters()``: a torch module's own, tied ones too (``named``: ``torchinfo_weights``); for a
        ``convcalc.nn`` spec, whether it counts any (``params``)."""
        return path in named if self.weight_names is not None else bool(params)

    @property
    def torchinfo_weights(self) -> dict[str, tuple[int, int] | None]:
        """``weight_names`` by module path; None where the row's parameters are all weights and biases (a lazy
        layer's, whose counts the plan gives)."""
        return {path: None if plain < 0 else (plain, inner) for path, plain, inner, _, _ in self.weight_names or ()}

    @property
    def itemsizes(self) -> dict[str, int]:
        """Bytes of an element of the parameters of each torch module without children that holds parameters,
        by path: its first parameter's dtype. Any other layer's are ``itemsize``."""
        return {path: itemsize for path, _, _, itemsize, _ in self.weight_names or ()}

    @property
    def output_itemsizes(self) -> dict[str, int]:
        """Bytes of an element of the output of each layer of torch's own that holds parameters, by path: its
        weights' dtype, in which it computes (a ``.double()`` head). Any other layer's are ``itemsize``."""
        return {path: out for path, _, _, _, out in self.weight_names or () if out}

    @property
    def forward_backward_bytes(self) -> Size:
        """torchinfo's forward/backward pass size: twice the output of every call of a module without
        children that holds parameters, in bytes."""
        total: Size = 0
        itemsizes, named = self.output_itemsizes, self.torchinfo_weights
        for path, _, params, _, activation_bytes in self._leaf_calls():
            if self._holds(path, params, named):
                own = itemsizes.get(path, self.itemsize)  # a layer's output has its weights' dtype
                if own != self.itemsize:
                    activation_bytes = activation_bytes // self.itemsize * own
                total = total + 2 * activation_bytes
        return total

    @property
    def output_bytes(self) -> Size:
        """Bytes of the (first) output."""
        out: Size = self.itemsize
        for d in self.output_shape:
            out = out * d
        return out

    @property
    def input_bytes(self) -> Size:
        """Bytes of the (first) input: at ``itemsize``, or at its own element size where the reader knows it (an
        ONNX model's input)."""
        elements: Size = 1
        for d in self.input_shape:
            elements = elements * d
        return elements * (self.input_itemsize or self.itemsize)

    @property
    def params_bytes(self) -> Size:
        """Bytes of the parameters: each at its own dtype's size (a torch module's tensors as they are; other
        models' layers at ``itemsize``)."""
        if self.param_bytes is not None:
            return self.param_bytes
        itemsizes = self.itemsizes
        return _total([r.params * itemsizes.get(r.name, self.itemsize) for r in (*self.rows, *self.uncalled)])

    @property
    def total_bytes(self) -> Size:
        """torchinfo's estimated total size, in bytes: input, forward/backward pass and its "Params size" (the
        parameters of the modules without children it lists: a parameter held beside children, such as
        ``MultiheadAttention``'s ``in_proj_weight``, is in ``params_bytes`` and not here)."""
        return self.input_bytes + self.forward_backward_bytes + self.torchinfo_param_bytes

    @property
    def torchinfo_param_bytes(self) -> Size:
        """torchinfo's "Params size": the parameters of the modules without children it lists, each once, at
        its own element size (a parameter held beside children, such as ``MultiheadAttention``'s
        ``in_proj_weight`` or a model's class token, is in no such module and adds nothing, as torchinfo sums
        it)."""
        itemsizes, seen = self.itemsizes, set()
        total: Size = 0
        for path, _, params, _, _ in self._leaf_calls():
            if path not in seen:
                seen.add(path)
                total = total + params * itemsizes.get(path, self.itemsize)
        return total

    @checked_call
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
        """The symbols of the input sizes, every input's (the first input's first), each once."""
        found: dict[Any, None] = {}

        def visit(value: Any) -> None:
            if isinstance(value, FloorForm):
                found[value.x] = None
            elif isinstance(value, dict):
                for item in value.values():
                    visit(item)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    visit(item)
            elif hasattr(value, "free_symbols"):
                for s in sorted(value.free_symbols, key=str):
                    found[s] = None

        visit(self.input_shapes)
        return tuple(found)

    # -- rendering (see convcalc._render) ---------------------------------- #

    @checked_call
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

    @checked_call
    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready: symbolic values become strings)."""
        out: dict[str, Any] = late("convcalc._render:plan_to_dict")(self)
        return out

    @checked_call
    def to_json(self, indent: int | str | None = 2) -> str:
        """The plan as JSON (``to_dict``), indented by ``indent`` spaces (0 to 100; a string: that string; None:
        on one line), as ``json.dumps`` takes it."""
        import json

        if not (indent is None or isinstance(indent, str) or (type(indent) is int and 0 <= indent <= 100)):
            from convcalc._args import received

            raise SpecError(
                f"indent must be a number of spaces from 0 to 100, a string or None. {received({'indent': indent})}"
            )
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @checked_call
    def to_csv(self) -> str:
        out: str = late("convcalc._render:plan_to_csv")(self)
        return out

    @checked_call
    def to_markdown(self) -> str:
        out: str = late("convcalc._render:plan_to_markdown")(self)
        return out

    @checked_call
    def to_latex(self) -> str:
        out: str = late("convcalc._render:plan_to_latex")(self)
        return out

    def _repr_html_(self) -> str:
        out: str = late("convcalc._render:plan_to_html")(self)
        return out

    # -- solving for sizes ------------------------------------------------- #

    @checked_call
    def valid_sizes(self, symbol: Any = None) -> Any:
        """Which values of an input symbol make every layer fit (see :class:`Solution`): of ``symbol``, by
        default the first of :attr:`symbols` (a plan in H and W answers for H; ask ``valid_sizes(W)`` too)."""
        return late("convcalc._solve:solve_sizes")(self, symbol)

    @checked_call
    def inputs_for(self, output: int, symbol: Any = None, axis: int | None = None) -> list[int]:
        """The valid input sizes whose output size along the symbol's axis is ``output``: along ``axis``, by
        default the first output axis that depends on the symbol (a stride of (1, 2) on an H x H input gives
        each axis its own answer: ask for each).

        Searched up to 10**12; an output that more than 10**6 sizes give is a SpecError (valid_sizes
        describes such a run).
        """
        sizes: list[int] = late("convcalc._solve:inputs_for")(self, output, symbol, axis)
        return sizes


def torchinfo_rows(plan: Plan, batch: Size) -> tuple[Row, ...]:
    """The rows of a torch module's plan with the MACs torchinfo counts, per sample of ``batch``: a call of a
    module without children (:meth:`Plan.module_calls`) its :func:`torchinfo_mult_adds` with the parameter
    names torchinfo reads, times its output's first size, over the batch; a row that is no such call (a
    functional operation, a module's own tensor) 0, as torchinfo lists none. A leaf module whose forward was
    read step by step counts on the last row planned inside it. Where the whole batch's count does not
    divide by the batch, the call's count stands."""
    params, named = plan.params_by_module, plan.torchinfo_weights
    at = {id(r): j for j, r in enumerate(plan.rows)}
    macs: list[Size] = [0] * len(plan.rows)
    calls = list(plan.module_calls())
    if "" not in plan.parent_paths and plan.rows:  # a model without children is one call, of all its rows
        calls = [ModuleCall("", plan.name or "Model", plan.input_shape, plan.output_shape, plan.rows[-1], True, False)]
    for call in calls:
        held = params.get(call.path, (0, 0))[0]
        if not call.leaf or call.row is None or not call.output_shape or not plan._holds(call.path, held, named):
            continue
        j = at.get(id(call.row))
        if j is None:
            inside = [k for k, r in enumerate(plan.rows) if r.name.startswith(f"{call.path}.")]
            layer, _, _ = call.path.rpartition(".parametrizations.")
            if not inside and layer:  # a parametrization torch calls to read a layer's weight: the layer's row
                inside = [k for k, r in enumerate(plan.rows) if r.name == layer]
            if not inside:
                continue
            j = inside[-1]
        count = torchinfo_mult_adds(
            call.kind,
            params.get(call.path, (0, 0))[0],
            call.output_shape,
            named.get(call.path),
            channels_last=plan._channels_last,
        )
        whole = count * call.output_shape[0]  # torchinfo's count of the call, for the whole batch
        if type(whole) is int and type(batch) is int:
            share = whole // batch if whole % batch == 0 else count
        else:
            share = to_sympy(whole) / to_sympy(batch)
        macs[j] = macs[j] + share
    return tuple(r if r.macs == m else replace(r, macs=m) for r, m in zip(plan.rows, macs, strict=True))


def shape_numel(shape: Shape) -> Size:
    for d in shape:
        if type(d) is not int:
            break
    else:
        return math.prod(shape)
    out: Size = 1
    for d in shape:
        out = out * to_sympy(d)
    return out


def _is_one(size: Size) -> bool:
    """A size of 1 (a plan holds a size that is a number as an int, a symbolic one as an expression)."""
    return type(size) is int and size == 1


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


def sliced_rf(
    rf: tuple[ReceptiveField, ...] | None, rank: int, axis: int, start: Size | None, step: Size, size: Size
) -> tuple[ReceptiveField, ...] | None:
    """The receptive field after a slice of ``axis`` of a tensor of ``rank`` dims (channels first) from ``start``
    with a positive ``step``: a crop of a spatial axis moves its first window by the crop's start, a step spreads
    the windows out. None where the start is not a known position (counted from the end of a symbolic ``size``,
    or itself a size) or the step is not a positive int; an axis before the spatial ones keeps the field."""
    if rf is None or axis < rank - len(rf):
        return rf
    if type(start) is not int or type(step) is not int or step < 1 or (start < 0 and type(size) is not int):
        return None
    if type(size) is int:
        start = max(size + start, 0) if start < 0 else min(start, size)
    j = axis - rank + len(rf)
    field = rf[j]
    return (*rf[:j], ReceptiveField(field.size, field.jump * step, field.start + start * field.jump), *rf[j + 1 :])


def across_rf(
    rf: tuple[ReceptiveField, ...] | None, rank: int, dims: tuple[int, ...], *, channels_last: bool = False
) -> tuple[ReceptiveField, ...] | None:
    """The receptive field after an operation that computes each output from the whole of ``dims`` of a tensor of
    ``rank`` dims (a softmax, a normalisation of vectors along them): None where one of them is a spatial axis
    (the last ones, or those after the batch where ``channels_last``), whose every position then reads all the
    others."""
    if rf is None:
        return None
    first = 1 if channels_last else rank - len(rf)
    return None if any(first <= d % rank < first + len(rf) for d in dims) else rf


def merge_rf(
    rfs: list[tuple[ReceptiveField, ...] | None], shapes: list[Shape] | None = None, *, channels_last: bool = False
) -> tuple[ReceptiveField, ...] | None:
    """The receptive field where branches meet, position by position: on each axis the union of the branches'
    windows (from the first start to the last end), None when any is unknown, the ranks differ or the jumps
    differ (the windows then drift apart along the axis). With the branches' ``shapes`` (channels first, or
    ``channels_last``), None also where their spatial sizes differ: a size of 1 broadcast along an axis gives
    every position the same window of that branch."""
    if not rfs or rfs[0] is None:
        return None
    first = rfs[0]
    k = len(first)
    for r in rfs:
        if r is None or len(r) != k:
            return None
    if shapes and _broadcast_spatially([s[1 : 1 + k] if channels_last else s[len(s) - k :] for s in shapes]):
        return None
    merged = []
    for j, f in enumerate(first):
        # the union, kept as the branch's own field where one holds the others (a shortcut inside the main path)
        best: ReceptiveField | None = f
        jump, start, size = f.jump, f.start, f.size
        if type(start) is not int or type(size) is not int:
            return None  # (a window that starts at a symbolic position, or of a symbolic size: no union to name)
        end = start + size
        for r in rfs:
            g = r[j]  # type: ignore[index]
            if g is f:
                continue
            if g.jump != jump or type(g.start) is not int or type(g.size) is not int:
                return None
            g_end = g.start + g.size
            if g.start <= start and g_end >= end:
                best, start, end = g, g.start, g_end
            elif g.start < start or g_end > end:
                best, start, end = None, min(start, g.start), max(end, g_end)
        merged.append(best if best is not None else ReceptiveField(end - start, jump, start))
    return tuple(merged)


def _broadcast_spatially(sizes: list[Shape]) -> bool:
    """Whether a branch of spatial ``sizes`` is broadcast along an axis: of size 1 there where another is not
    (sizes written differently, ``floor((H - 1)/2) + 1`` and ``-floor(-H/2)``, are equal where the branches
    meet at all)."""
    for axis in zip(*sizes, strict=True):
        ones = [_is_one(d) for d in axis]
        if any(ones) and not all(ones):
            return True
    return False
