"""Layers of one step or two inputs: RNNCell, GRUCell, LSTMCell and Bilinear.

Each takes its tensors as torch's forward does (``cell(input, hx)``,
``bilinear(input1, input2)``); inside a ``Sequential`` a cell is given its input
alone (a zero state) and a ``Bilinear``, which needs two inputs, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from convcalc._args import flag, whole
from convcalc._errors import ShapeError, said
from convcalc._planner import Context, _Shape
from convcalc._symbolic import product
from convcalc.nn._base import _args
from convcalc.nn.sequence import (
    _GATE_OPS,
    _bind,
    _features,
    _MultiOutput,
    _nonlinearity,
    _shape_arg,
)
from convcalc.nn.shape import _sym


def _same_sizes(ctx: Context, layer: Any, path: str, a: tuple[Any, ...], b: tuple[Any, ...], what: str) -> None:
    """``a`` and ``b`` agree on every axis but the last (the batch axes of two inputs, an input and its state)."""
    message = said(f"{layer._where(path)}: {what} must agree on every axis but the last. Received: shapes {a} and {b}")
    if len(a) != len(b):
        raise ShapeError(message())
    for j, (x, y) in enumerate(zip(a[:-1], b[:-1], strict=True)):
        ctx.equals(_sym(x) - _sym(y), 0, path, j, message, "sizes equal")


@dataclass(frozen=True, slots=True)
class _CellBase(_MultiOutput):
    input_size: int
    hidden_size: int
    bias: bool = True
    _gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        whole(self.input_size, "input_size", minimum=1)
        whole(self.hidden_size, "hidden_size", minimum=1)
        flag(self.bias, "bias", _args(self))

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        given = _bind(self, path, inputs, options, ("input", "hx"))
        where = self._where(path)
        if "input" not in given:
            raise ShapeError(
                f"{where}: takes an input (N, {self.input_size}), and a state hx if given, but is given no input "
                f"(torch: missing 1 required positional argument: 'input'). Received: arguments={sorted(given)}"
            )
        hx = given.get("hx")
        shape = _shape_arg(self, path, given["input"], "input")
        if len(shape) not in (1, 2):
            raise ShapeError(
                f"{where}: expects a 2-D input (N, input_size) or an unbatched 1-D one, but receives "
                f"{len(shape)}-D (torch: Expected input to be 1D or 2D). Received: input_shape={shape}"
            )
        _features(ctx, self, path, shape, self.input_size, "input_size", "input")
        state = _Shape((*shape[:-1], self.hidden_size))
        states = (state, state) if self._gates == 4 else (state,)
        if hx is not None:
            held = hx if isinstance(hx, tuple) and not isinstance(hx, _Shape) else (hx,)
            if len(held) != len(states):
                raise ShapeError(
                    f"{where}: hx takes {len(states)} tensor{'s' if len(states) > 1 else ''} of shape {tuple(state)}. "
                    f"Received: hx={held!r}"
                )
            for j, g in enumerate(held):
                got = _shape_arg(self, path, g, f"hx[{j}]" if len(states) > 1 else "hx")
                _same_sizes(ctx, self, path, shape, got, "the input and its state")
                _features(ctx, self, path, got, self.hidden_size, "hidden_size", "state")
        gate = self._gates * self.hidden_size
        if len(shape) == 1:
            ctx.samples(shape, 1)
        weights, biases = gate * (self.input_size + self.hidden_size), 2 * gate if self.bias else 0
        # torchinfo multiplies the parameters by the first two sizes of the output, (N, hidden_size); ptflops
        # counts one step of its RNN rule: the weights, the biases and H, 7H or 10H element-wise gate operations
        gate_ops = _GATE_OPS[self._gates] * self.hidden_size
        ctx.add_row(
            path,
            self.kind,
            shape,
            tuple(state),
            trainable=weights + biases,
            macs=weights,
            bias_adds=biases,
            batch=shape[0] if len(shape) == 2 else 1,
            peer_macs={"torchinfo": (weights + biases) * self.hidden_size, "ptflops": weights + biases + gate_ops},
        )
        return states if self._gates == 4 else state


@dataclass(frozen=True, slots=True)
class RNNCell(_CellBase):
    """``torch.nn.RNNCell`` spec: one Elman step, ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Input ``(N, input_size)`` or unbatched ``(input_size,)``, with an optional
    state ``hx`` of ``(N, hidden_size)``; returns ``h'`` of ``(N, hidden_size)``.
    Parameters: ``G * H * (input_size + H)`` weights and ``2 * G * H`` biases,
    ``G = 1`` gate block here (3 for GRUCell, 4 for LSTMCell). MACs (``macs``)
    per sample: the weights' sum ``G * H * (input_size + H)``; ``macs+bias`` adds
    ``2 * G * H``. The same count as one time step of :class:`RNN`.
    ``torchinfo``: all parameters times ``H`` (torchinfo multiplies them by the
    output's first two sizes); ``fvcore`` equals ``macs``; ``ptflops``: one step
    of ptflops' RNN rule (weights, both biases, and ``H``, ``7H`` or ``10H``
    element-wise gate operations for RNNCell, GRUCell, LSTMCell).

    >>> import convcalc
    >>> convcalc.plan(RNNCell(10, 20), (3, 10)).output_shape
    (3, 20)
    >>> convcalc.plan(RNNCell(10, 20), (3, 10)).macs
    600
    """

    nonlinearity: str = "tanh"

    def __post_init__(self) -> None:
        _CellBase.__post_init__(self)
        _nonlinearity(self)


@dataclass(frozen=True, slots=True)
class GRUCell(_CellBase):
    """``torch.nn.GRUCell`` spec: as :class:`RNNCell` with 3 gate blocks; returns ``h'``.

    >>> import convcalc
    >>> convcalc.plan(GRUCell(10, 20), (3, 10)).total_params
    1920
    """

    _gates: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class LSTMCell(_CellBase):
    """``torch.nn.LSTMCell`` spec: as :class:`RNNCell` with 4 gate blocks; ``hx`` is the pair ``(h, c)``
    and it returns ``(h', c')``, both ``(N, hidden_size)``; a ``Sequential`` passes on ``h'``.

    >>> import convcalc
    >>> convcalc.plan(LSTMCell(10, 20), (3, 10)).total_params
    2560
    >>> convcalc.plan(LSTMCell(12, 20), (3, 10))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (LSTMCell): input_size=12 but the input has 10 features (last dim): use input_size=10. Received: input_shape=(3, 10)
    """

    _gates: ClassVar[int] = 4


@dataclass(frozen=True, slots=True)
class Bilinear(_MultiOutput):
    """``torch.nn.Bilinear`` spec: ``y = x1^T A x2 + b`` of two inputs.

    ``input1`` ``(*, in1_features)`` and ``input2`` ``(*, in2_features)`` with the
    same leading sizes (torch does not broadcast them); output ``(*, out_features)``.
    Parameters: ``out_features * in1_features * in2_features`` weights and
    ``out_features`` biases. MACs (``macs``) per row of the input (as for
    :class:`Linear`): one per weight, ``out_features * in1_features *
    in2_features``; ``macs+bias`` adds ``out_features``. ``torchinfo``: the
    parameters, once per sample; ``fvcore`` and ``ptflops``: 0, as those tools
    (and FlopCounterMode) count none for this layer.

    >>> import convcalc
    >>> convcalc.plan(Bilinear(5, 7, 3), [(2, 5), (2, 7)]).macs
    105
    """

    in1_features: int
    in2_features: int
    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("in1_features", "in2_features", "out_features"):
            whole(getattr(self, name), name, minimum=1)
        flag(self.bias, "bias", _args(self))

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        given = _bind(self, path, inputs, options, ("input1", "input2"))
        if len(given) < 2:
            raise ShapeError(
                f"{self._where(path)}: takes two inputs, input1 (*, {self.in1_features}) and input2 "
                f"(*, {self.in2_features}), but is given one; call it as bilinear(x1, x2) rather than in a "
                f"Sequential. Received: inputs={len(given)}"
            )
        first = _shape_arg(self, path, given["input1"], "input1")
        second = _shape_arg(self, path, given["input2"], "input2")
        if not first or not second:
            raise ShapeError(
                f"{self._where(path)}: input1 and input2 must have at least one dimension. "
                f"Received: input1_shape={first}, input2_shape={second}"
            )
        _features(ctx, self, path, first, self.in1_features, "in1_features", "input1")
        _features(ctx, self, path, second, self.in2_features, "in2_features", "input2")
        _same_sizes(ctx, self, path, first, second, "input1 and input2 (torch: input batch dimensions)")
        out = _Shape((*first[:-1], self.out_features))
        rows = product(first[1:-1])  # per element of the first axis, as Linear counts; a 1-D input is one row
        if len(first) == 1:
            ctx.samples(first, 1)
        weights = self.out_features * self.in1_features * self.in2_features
        ctx.add_row(
            path,
            self.kind,
            first,
            tuple(out),
            trainable=weights + (self.out_features if self.bias else 0),
            macs=rows * weights,
            bias_adds=rows * self.out_features if self.bias else 0,
            batch=1 if len(first) == 1 else None,
            peer_macs={"fvcore": 0, "ptflops": 0},  # neither has a count for this layer
        )
        return out
