"""Keras' recurrent layers: SimpleRNN, GRU, LSTM, and the Bidirectional wrapper of one of them.

Each takes a 3-D input ``(batch, timesteps, features)`` (Keras' input spec: ``ndim=3``) and gives
``(batch, timesteps, units)`` with ``return_sequences``, ``(batch, units)`` without; ``return_state``
adds the final states, ``(batch, units)`` each (LSTM's ``h`` and ``c``, the others' ``h``), as further
outputs. A layer of several outputs passes on its first inside a :class:`convcalc.keras.Functional`
call that names the layer (``"lstm"``); ``"lstm[1]"`` names its second output, as Keras' ``keras_history``
``["lstm", 0, 1]`` does.

Counts, per sample, for ``T`` time steps, ``F`` input features, ``H = units`` and ``G`` gate blocks
(1 for SimpleRNN, 3 for GRU, 4 for LSTM), as Keras' ``count_params()`` and as convcalc counts torch's
``RNN``, ``GRU`` and ``LSTM`` (:mod:`convcalc.nn.sequence`):

- weights: ``kernel`` ``F x G*H`` and ``recurrent_kernel`` ``H x G*H``; ``bias`` ``G*H`` (GRU with
  ``reset_after=True``, Keras 3's default, keeps an input and a recurrent bias: ``2 x 3*H``);
- MACs: ``T`` x ``G*H*(F + H)``, the matrix products of the input and the state with the kernels at each
  step, not the gates' element-wise products (GRU with ``reset_after=False`` multiplies ``r * h`` by the
  recurrent kernel's last ``H`` columns: the same ``H*H`` products); ``macs+bias`` adds the biases once
  per step.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from convcalc._args import flag, received, whole
from convcalc._errors import ShapeError, SpecError
from convcalc._planner import Context, Flow
from convcalc._types import Shape
from convcalc.keras._base import Layer, _activation, _args, _named


def _three_d(layer: Layer, shape: Shape, path: str) -> None:
    """Keras' recurrent layers take ``(batch, timesteps, features)`` and refuse any other rank."""
    if len(shape) != 3:
        raise ShapeError(
            f"{layer._where(path)}: expects a 3-D input (batch, timesteps, features) but receives {len(shape)}-D "
            f"{tuple(shape)} (Keras: expected ndim=3, found ndim={len(shape)}); a 2-D (batch, features) input is "
            f"one step: give it a time axis (Reshape((1, features)) or RepeatVector(steps)). "
            f"Received: input_shape={tuple(shape)}"
        )


def _some_steps(layer: Layer, shape: Shape, ctx: Context, path: str) -> None:
    """Keras declares the output of an empty sequence but fails when it runs one: a sequence of 1 step or more
    (a condition on a symbolic ``L``)."""
    ctx.at_least(
        shape[1],
        1,
        path,
        0,
        lambda: (
            f"{layer._where(path)}: expects a sequence of 1 step or more, but its length is {shape[1]} (Keras builds "
            f"the layer but fails when it runs an empty sequence). Received: input_shape={tuple(shape)}"
        ),
        "sequence not empty",
    )


@dataclass(frozen=True, slots=True)
class _Recurrent(Layer):
    """What Keras' SimpleRNN, GRU and LSTM share: their flags, shapes and counts."""

    units: int
    activation: Any = "tanh"
    _: KW_ONLY
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    stateful: bool = False
    unroll: bool = False
    name: str | None = None
    _gates: ClassVar[int] = 1
    _states: ClassVar[int] = 1
    _base: ClassVar[str] = "simple_rnn"

    def __post_init__(self) -> None:
        args = _args(self)
        if type(whole(self.units, "units")) is int and self.units < 1:
            raise SpecError(
                f"Received an invalid value for argument `units`, expected a positive integer. {received(args)}"
            )
        for name in ("use_bias", "return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            flag(getattr(self, name), name, args)
        _named(self)
        _activation(self, self.activation)

    @property
    def _output_count(self) -> int:
        """Keras' outputs: the output, then with ``return_state`` each final state."""
        return 1 + (self._states if self.return_state else 0)

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        return (-1,), "input features", True

    def _bias(self) -> int:
        return self._gates * self.units if getattr(self, "use_bias", True) else 0

    def _cost(self, shape: Shape) -> tuple[Any, Any, Any, Any]:
        """(weights, biases, MACs, bias additions) of one direction over the whole sequence, per sample."""
        from convcalc._symbolic import to_sympy

        fin = shape[-1] if type(shape[-1]) is int else to_sympy(shape[-1])
        per_step = self._gates * self.units * (fin + self.units)
        biases = self._bias()
        return per_step, biases, shape[1] * per_step, shape[1] * biases

    def _shapes(self, shape: Shape) -> tuple[Shape, ...]:
        """Keras' output shapes for a 3-D ``shape``: the output, then the states where returned."""
        out = (shape[0], shape[1], self.units) if self.return_sequences else (shape[0], self.units)
        return (out, *((shape[0], self.units),) * (self._output_count - 1))

    def _plan_outputs(self, flow: Flow, ctx: Context, path: str) -> tuple[Flow, ...]:
        shape = tuple(flow[0])
        _three_d(self, shape, path)
        _some_steps(self, shape, ctx, path)
        weights, biases, macs, bias_adds = self._cost(shape)
        shapes = self._shapes(shape)
        ctx.add_row(path, self.kind, shape, shapes[0], trainable=weights + biases, macs=macs, bias_adds=bias_adds)
        return tuple((s, None) for s in shapes)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return self._plan_outputs(flow, ctx, path)[0]


@dataclass(frozen=True, slots=True)
class SimpleRNN(_Recurrent):
    """``keras.layers.SimpleRNN`` spec: ``h' = activation(x W + h U + b)``; ``H*(F + H)`` weights and ``H``
    biases; ``T * H*(F + H)`` MACs per sample (the module's docstring says what is counted).

    ``go_backwards``, ``stateful`` (its states are not weights: ``count_params()`` leaves them out) and
    ``unroll`` change no shape and no count; ``activation`` is checked as Keras checks it.

    >>> import convcalc
    >>> plan = convcalc.plan(SimpleRNN(5, return_sequences=True), (1, 7, 3))
    >>> plan.output_shape, plan.total_params, plan.macs
    ((1, 7, 5), 45, 280)
    """

    use_bias: bool = True
    _base: ClassVar[str] = "simple_rnn"


@dataclass(frozen=True, slots=True)
class GRU(_Recurrent):
    """``keras.layers.GRU`` spec: 3 gate blocks; ``3*H*(F + H)`` weights and ``6*H`` biases with
    ``reset_after=True`` (Keras 3's default: an input and a recurrent bias, as cuDNN keeps them), ``3*H`` with
    ``reset_after=False``; ``T * 3*H*(F + H)`` MACs per sample either way. With ``return_state`` its outputs
    are the output and ``h``.

    >>> import convcalc
    >>> convcalc.plan(GRU(5), (1, 7, 3)).total_params, convcalc.plan(GRU(5, reset_after=False), (1, 7, 3)).total_params
    (150, 135)
    """

    recurrent_activation: Any = "sigmoid"
    use_bias: bool = True
    _: KW_ONLY
    reset_after: bool = True
    _gates: ClassVar[int] = 3
    _base: ClassVar[str] = "gru"

    def __post_init__(self) -> None:
        _Recurrent.__post_init__(self)
        flag(self.reset_after, "reset_after", _args(self))
        _activation(self, self.recurrent_activation)

    def _bias(self) -> int:
        return 3 * self.units * (2 if self.reset_after else 1) if self.use_bias else 0


@dataclass(frozen=True, slots=True)
class LSTM(_Recurrent):
    """``keras.layers.LSTM`` spec: 4 gate blocks; ``4*H*(F + H)`` weights and ``4*H`` biases (one bias, where
    torch keeps two); ``T * 4*H*(F + H)`` MACs per sample. With ``return_state`` its outputs are the output,
    ``h`` and ``c``, ``(batch, units)`` each.

    >>> import convcalc
    >>> plan = convcalc.plan(LSTM(5), (1, 7, 3))
    >>> plan.output_shape, plan.total_params, plan.macs
    ((1, 5), 180, 1120)
    >>> convcalc.plan(LSTM(5, name="lstm"), (1, 3))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: lstm (LSTM): expects a 3-D input (batch, timesteps, features) but receives 2-D (1, 3) (Keras: expected ndim=3, found ndim=2); a 2-D (batch, features) input is one step: give it a time axis (Reshape((1, features)) or RepeatVector(steps)). Received: input_shape=(1, 3)
    """

    recurrent_activation: Any = "sigmoid"
    use_bias: bool = True
    _gates: ClassVar[int] = 4
    _states: ClassVar[int] = 2
    _base: ClassVar[str] = "lstm"

    def __post_init__(self) -> None:
        _Recurrent.__post_init__(self)
        _activation(self, self.recurrent_activation)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@dataclass(frozen=True, slots=True)
class Bidirectional(Layer):
    """``keras.layers.Bidirectional(layer, merge_mode)`` spec: ``layer`` (a SimpleRNN, GRU or LSTM spec) runs
    forward and a copy of it with ``go_backwards=True`` backward, or ``backward_layer`` where given (it must
    run the other way and share ``return_sequences``, ``return_state`` and ``stateful``, as Keras requires).

    The outputs merge by ``merge_mode``: ``"concat"`` (the default) puts the backward features after the forward
    ones; ``"sum"``, ``"mul"`` and ``"ave"`` combine them element by element (equal units, or 1 on one side,
    which broadcasts; no MACs counted, as for the merge layers); ``None`` returns both, two outputs.
    ``return_state`` adds the forward layer's states, then the backward layer's. The weights and MACs are both
    layers' (one row). A backward layer of other units is planned as Keras runs it: ``"concat"`` gives the two
    sizes' sum (Keras' ``output_shape`` says twice the forward units there, which is not what its call
    returns).

    >>> import convcalc
    >>> plan = convcalc.plan(Bidirectional(LSTM(5, return_sequences=True)), (1, 7, 3))
    >>> plan.output_shape, plan.total_params
    ((1, 7, 10), 360)
    >>> Bidirectional(LSTM(5, go_backwards=True), name="bi")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: bi (Bidirectional): the forward and backward layers must run opposite ways (Keras: Forward layer and backward layer should have different `go_backwards` value); the layer runs backward (go_backwards=True) and so would its backward copy: give the layer go_backwards=False, or a backward_layer with go_backwards=False. Received: forward go_backwards=True, backward go_backwards=True
    """

    layer: _Recurrent
    merge_mode: Any = "concat"
    _: KW_ONLY
    backward_layer: _Recurrent | None = None
    name: str | None = None
    _base: ClassVar[str] = "bidirectional"

    def __post_init__(self) -> None:
        _named(self)
        where = self._where("")
        for arg in ("layer", "backward_layer"):
            value = getattr(self, arg)
            if (value is not None or arg == "layer") and not isinstance(value, _Recurrent):
                raise SpecError(
                    f"{where}: {arg} must be a convcalc.keras SimpleRNN, GRU or LSTM (convcalc plans Bidirectional "
                    f"around these). Received: {arg}={value!r}"
                )
        if self.merge_mode not in _MERGE_MODES:
            raise SpecError(
                f"{where}: Invalid merge mode. Merge mode should be one of "
                f'{{"sum", "mul", "ave", "concat", None}}. Received: merge_mode={self.merge_mode!r}'
            )
        back = self._backward
        forward_way, backward_way = self.layer.go_backwards, back.go_backwards
        if forward_way == backward_way:
            fix = (
                "give the layer go_backwards=False, or a backward_layer with go_backwards=False"
                if self.backward_layer is None
                else f"give backward_layer go_backwards={not forward_way}"
            )
            raise SpecError(
                f"{where}: the forward and backward layers must run opposite ways (Keras: Forward layer and backward "
                f"layer should have different `go_backwards` value); the layer runs "
                f"{'backward' if forward_way else 'forward'} (go_backwards={forward_way}) and so would its backward "
                f"{'copy' if self.backward_layer is None else 'layer'}: {fix}. "
                f"Received: forward go_backwards={forward_way}, backward go_backwards={backward_way}"
            )
        for arg in ("stateful", "return_sequences", "return_state"):
            if getattr(self.layer, arg) != getattr(back, arg):
                raise SpecError(
                    f"{where}: Forward layer and backward layer are expected to have the same value for attribute "
                    f"{arg!r}. Received: forward {arg}={getattr(self.layer, arg)}, backward {arg}={getattr(back, arg)}"
                )
        if (
            self.merge_mode in ("sum", "mul", "ave")
            and self.layer.units != back.units
            and 1
            not in (
                self.layer.units,
                back.units,
            )
        ):
            raise SpecError(
                f"{where}: merge_mode={self.merge_mode!r} combines the two directions element by element, which "
                f"takes equal units, or 1 on one side (broadcast; Keras fails when it runs others); use "
                f"merge_mode='concat' or None, or equal units. "
                f"Received: forward units={self.layer.units}, backward units={back.units}"
            )

    @property
    def _backward(self) -> _Recurrent:
        """The backward layer: ``backward_layer``, or the forward layer run backward, as Keras copies it."""
        if self.backward_layer is not None:
            return self.backward_layer
        from dataclasses import replace

        return replace(self.layer, go_backwards=True, name=f"backward_{self.layer._name()}")

    @property
    def _output_count(self) -> int:
        """Keras' outputs: the merged output (both, with ``merge_mode=None``), then each direction's states."""
        states = self.layer._output_count + self._backward._output_count - 2  # (a GRU's 1 and an LSTM's 2)
        return (2 if self.merge_mode is None else 1) + states

    def _weights_fix(self, rank: int) -> tuple[tuple[int, ...], str, bool]:
        return (-1,), "input features", True

    def _plan_outputs(self, flow: Flow, ctx: Context, path: str) -> tuple[Flow, ...]:
        shape = tuple(flow[0])
        _three_d(self, shape, path)
        _some_steps(self, shape, ctx, path)
        forward, backward = self.layer, self._backward
        costs = [layer._cost(shape) for layer in (forward, backward)]
        ahead, behind = forward._shapes(shape), backward._shapes(shape)
        if self.merge_mode is None:
            outs: tuple[Shape, ...] = (ahead[0], behind[0])
        elif self.merge_mode == "concat":
            outs = ((*ahead[0][:-1], forward.units + backward.units),)
        else:  # element by element: a size 1 broadcasts
            outs = ((*ahead[0][:-1], max(forward.units, backward.units)),)
        shapes = (*outs, *ahead[1:], *behind[1:])
        weights, biases, macs, bias_adds = (a + b for a, b in zip(*costs, strict=True))
        ctx.add_row(path, self.kind, shape, shapes[0], trainable=weights + biases, macs=macs, bias_adds=bias_adds)
        return tuple((s, None) for s in shapes)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return self._plan_outputs(flow, ctx, path)[0]
