"""Sequence, attention, embedding and rearranging layers (RNN, GRU, LSTM, MultiheadAttention, Embedding, PixelShuffle, MaxUnpool, Fold, Unfold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

from convcalc._args import flag, per_axis, received, whole, whole_or_size
from convcalc._errors import ShapeError, SpecError, said
from convcalc._planner import Context, Flow, _Shape
from convcalc._symbolic import product
from convcalc._types import Shape
from convcalc.formulas import (
    kernel_extent,
    window_count,
)
from convcalc.nn._base import Module, _args
from convcalc.nn.shape import _sym

# --------------------------------------------------------------------------- #
# Sequence, attention, embedding and rearranging layers
#
# A layer that returns several tensors in torch (an RNN's ``(output, h_n)``,
# attention's ``(output, weights)``) passes on its first output inside a
# ``Sequential``; planned alone, and in torch code read through fx, every output
# is there with its shape (``Plan.output_shapes``).
# --------------------------------------------------------------------------- #


def _first_output(value: Any) -> _Shape:
    while not isinstance(value, _Shape):
        value = value[0]
    return value


def _shape_arg(layer: Module, path: str, value: Any, name: str) -> tuple[Any, ...]:
    if not isinstance(value, _Shape):
        raise ShapeError(f"{layer._where(path)}: {name} must be a tensor. Received: {name}={value!r}")
    return tuple(value)


def _features(ctx: Context, layer: Module, path: str, shape: Shape, want: int, name: str, label: str) -> None:
    """The last size of ``shape`` (the layer's ``label``: input, query, key...) is ``want``, its ``name``."""
    ctx.equals(
        shape[-1],
        want,
        path,
        len(shape) - 1,
        said(
            f"{layer._where(path)}: {name}={want} but the {label} has {shape[-1]} features (last dim): use "
            f"{name}={shape[-1]}. Received: {label}_shape={shape}"
        ),
        f"{name}={want}",
    )


def _nonlinearity(layer: Any) -> None:
    if layer.nonlinearity not in ("tanh", "relu"):
        raise SpecError(f"nonlinearity must be 'tanh' or 'relu'. {received(_args(layer))}")


# ptflops' element-wise gate operations per hidden unit and step: RNN, GRU, LSTM (and their cells) by gate blocks
_GATE_OPS = {1: 1, 3: 7, 4: 10}


class _MultiOutput(Module):
    """A layer whose torch forward returns a tuple, or takes several tensors."""

    __slots__ = ()

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        return tuple(_first_output(self._outputs((_Shape(flow[0]),), {}, ctx, path))), None


def _bind(
    layer: Module, path: str, inputs: tuple[Any, ...], options: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    """The arguments of a torch call by the names of torch's ``forward`` (``names``, in order), as torch binds them:
    positional first, then by name; more positional arguments than ``names``, an unknown name, or a name given
    both ways are refused, as torch refuses them."""
    given = dict(zip(names, inputs, strict=False))
    positional = [names[j] if j < len(names) else f"arg{j}" for j in range(len(inputs))]
    extra = [*positional[len(names) :], *(n for n in options if n not in names)]
    twice = [n for n in options if n in given]
    if extra or twice:
        wrong = f"{extra[0]}, which it does not take" if extra else f"{twice[0]} twice, by position and by name"
        raise SpecError(
            f"{layer._where(path)}: is called with {wrong}; torch's {layer.kind} takes ({', '.join(names)}) and "
            f"refuses the call too. Received: arguments={', '.join([*positional, *options])}"
        )
    given.update(options)
    options.clear()
    return given


# -- recurrent layers ---------------------------------------------------------- #

#: ``torch.nn.MultiheadAttention.forward``'s parameters, in order
_MHA_ARGUMENTS = (
    "query",
    "key",
    "value",
    "key_padding_mask",
    "need_weights",
    "attn_mask",
    "average_attn_weights",
    "is_causal",
)


@dataclass(frozen=True, slots=True)
class _RNNBase(_MultiOutput):
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    _gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.input_size, "input_size", minimum=1)
        whole(self.hidden_size, "hidden_size", minimum=1)
        whole(self.num_layers, "num_layers", minimum=1)
        for name in ("bias", "batch_first", "bidirectional"):
            flag(getattr(self, name), name, args)
        if type(self.dropout) not in (int, float) or not 0 <= self.dropout <= 1:
            raise SpecError(f"dropout must be a number between 0 and 1. {received(args)}")

    @property
    def _proj(self) -> int:
        return 0

    @property
    def _out_size(self) -> int:
        return self._proj or self.hidden_size

    def _weights(self) -> tuple[int, int, int]:
        """(weights, biases, multiply-accumulates per time step) over all layers and directions."""
        gate = self._gates * self.hidden_size
        directions = 2 if self.bidirectional else 1
        weights = biases = macs = 0
        for layer in range(self.num_layers):
            fin = self.input_size if layer == 0 else self._out_size * directions
            per = gate * (fin + self._out_size) + self._proj * self.hidden_size
            weights += directions * per
            macs += directions * per
            biases += directions * 2 * gate if self.bias else 0
        return weights, biases, macs

    def _ptflops(self, shape: Shape, directions: int) -> Any:
        """ptflops' RNN count per sample: per layer, the forward direction's ``weight_ih`` and ``weight_hh``
        elements, its element-wise gate operations (``H`` for RNN, ``7H`` GRU, ``10H`` LSTM; not the projection)
        and both biases, times batch and steps, doubled when bidirectional; ptflops reads dims 0 and 1 as batch
        and steps whatever the layout, so an unbatched ``(L, H_in)`` counts ``L * H_in`` steps."""
        gate = self._gates * self.hidden_size
        extra = _GATE_OPS[self._gates] * self.hidden_size
        per_step = 0
        for layer in range(self.num_layers):
            fin = self.input_size if layer == 0 else self._out_size * directions
            per_step += gate * (fin + self._out_size) + extra + (2 * gate if self.bias else 0)
        steps = shape[0] * shape[1] if len(shape) == 2 else shape[1 if self.batch_first else 0]
        return steps * per_step * directions

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        bound = _bind(self, path, inputs, options, ("input", "hx"))
        hx = bound.get("hx")
        shape = tuple(_shape_arg(self, path, bound.get("input"), "input"))
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{self._where(path)}: expects a 3-D input {'(N, L, H_in)' if self.batch_first else '(L, N, H_in)'} "
                f"(batch_first={self.batch_first}) or an unbatched 2-D (L, H_in), but receives {len(shape)}-D. "
                f"Received: input_shape={shape}"
            )
        _features(ctx, self, path, shape, self.input_size, "input_size", "input")
        directions = 2 if self.bidirectional else 1
        if len(shape) == 2:
            steps, batch = shape[0], cast(tuple[Any, ...], ())
            ctx.samples(shape, 1)
        else:
            steps, batch = (shape[1], (shape[0],)) if self.batch_first else (shape[0], (shape[1],))
            if not self.batch_first:
                ctx.samples(shape, shape[1])
        ctx.at_least(  # (an empty batch runs, an empty sequence does not)
            steps,
            1,
            path,
            1 if self.batch_first and len(shape) == 3 else 0,
            lambda: (
                f"{self._where(path)}: expects a sequence of 1 step or more, but its length is {steps} (torch: "
                f"Expected sequence length to be larger than 0 in RNN). Received: input_shape={shape}"
            ),
            "sequence not empty",
        )
        out = _Shape((*shape[:-1], directions * self._out_size))
        h_n = _Shape((directions * self.num_layers, *batch, self._out_size))
        c_n = _Shape((directions * self.num_layers, *batch, self.hidden_size))
        states = (h_n, c_n) if self._gates == 4 else (h_n,)
        if hx is not None:
            given = hx if isinstance(hx, tuple) and not isinstance(hx, _Shape) else (hx,)
            if len(given) != len(states):
                raise ShapeError(
                    f"{self._where(path)}: hx takes {len(states)} tensor{'s' if len(states) > 1 else ''} "
                    f"{tuple(states) if len(states) > 1 else states[0]}. Received: hx={hx!r}"
                )
            for j, (g, want) in enumerate(zip(given, states, strict=True)):
                if (
                    not isinstance(g, _Shape)
                    or len(g) != len(want)
                    or any(a != b for a, b in zip(g, want, strict=True))
                ):
                    raise ShapeError(
                        f"{self._where(path)}: hx[{j}] must have shape {tuple(want)} for this input. "
                        f"Received: hx[{j}]={g!r}, input_shape={shape}"
                    )
        weights, biases, macs = self._weights()
        ctx.add_row(
            path,
            self.kind,
            shape,
            tuple(out),
            trainable=weights + biases,
            macs=steps * macs,
            bias_adds=steps * biases,
            batch=batch[0] if batch else 1,
            # torchinfo counts every RNN weight and bias once per time step; fvcore has no count for aten::lstm & co.
            peer_macs={
                "torchinfo": steps * (weights + biases),
                "fvcore": 0,
                "ptflops": self._ptflops(shape, directions),
            },
        )
        if self._gates == 4:
            return (out, (h_n, c_n))
        return (out, h_n)


@dataclass(frozen=True, slots=True)
class RNN(_RNNBase):
    """``torch.nn.RNN`` spec: Elman RNN, ``tanh`` or ``relu``.

    Input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, or unbatched
    ``(L, H_in)``; outputs ``(output, h_n)`` with output ``(..., D * H_out)`` and
    ``h_n`` ``(D * num_layers, N, H_out)`` (``D = 2`` when bidirectional); a
    ``Sequential`` passes on ``output``. Parameters per layer and direction:
    ``G * H * (H_in' + H_out) + 2 * G * H`` biases, ``G = 1`` gate block here (3 for
    GRU, 4 for LSTM), ``H_in'`` the layer's input (``D * H_out`` after the first).
    MACs (``macs``) per sample: ``L`` times the weights' sum ``G * H * (H_in' + H_out)``
    (+ ``proj_size * H`` for LSTM's projection) over layers and directions:
    the matrix products only, not the gates' element-wise products.
    ``macs+bias`` adds ``2 * G * H`` per step, layer and direction (b_ih and b_hh).
    ``torchinfo``: ``L`` x all parameters, as torchinfo counts RNN weights;
    ``fvcore``: 0 (fvcore has no count for recurrent ops); ``ptflops``: ptflops' own RNN
    rule (the forward direction's weights of each layer, both biases, and ``H``, ``7H`` or
    ``10H`` element-wise gate operations per step for RNN, GRU, LSTM; not LSTM's
    projection; doubled when bidirectional).

    >>> import convcalc
    >>> convcalc.plan(RNN(10, 20, num_layers=2), (5, 3, 10)).rows[0].output_shape
    (5, 3, 20)
    """

    nonlinearity: str = "tanh"
    _gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _RNNBase.__post_init__(self)
        _nonlinearity(self)


@dataclass(frozen=True, slots=True)
class GRU(_RNNBase):
    """``torch.nn.GRU`` spec: as :class:`RNN` with 3 gate blocks; returns ``(output, h_n)``.

    >>> import convcalc
    >>> convcalc.plan(GRU(8, 16, batch_first=True, bidirectional=True), (2, 7, 8)).output_shape
    (2, 7, 32)
    """

    _gates: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class LSTM(_RNNBase):
    """``torch.nn.LSTM`` spec: as :class:`RNN` with 4 gate blocks; returns ``(output, (h_n, c_n))``.

    With ``proj_size > 0`` the hidden state is projected to ``H_out = proj_size``
    (a ``(proj_size, hidden_size)`` weight per layer and direction); ``c_n`` keeps
    ``hidden_size``.

    >>> import convcalc
    >>> convcalc.plan(LSTM(10, 20), (5, 3, 10)).rows[0].trainable
    2560
    >>> convcalc.plan(LSTM(12, 20), (5, 3, 10))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (LSTM): input_size=12 but the input has 10 features (last dim): use input_size=10. Received: input_shape=(5, 3, 10)
    """

    proj_size: int = 0
    _gates: ClassVar[int] = 4

    def __post_init__(self) -> None:
        _RNNBase.__post_init__(self)
        whole(self.proj_size, "proj_size", minimum=0)
        if self.proj_size >= self.hidden_size:
            raise SpecError(f"proj_size must be smaller than hidden_size. {received(_args(self))}")

    @property
    def _proj(self) -> int:
        return self.proj_size


# -- attention ----------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class MultiheadAttention(_MultiOutput):
    """``torch.nn.MultiheadAttention`` spec; in a ``Sequential``, self-attention of its input.

    Query ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``, ``(L, E)`` unbatched),
    key ``(S, N, kdim)``, value ``(S, N, vdim)``; returns ``(attn_output,
    attn_weights)``: ``(L, N, E)`` and ``(N, L, S')`` (``(N, num_heads, L, S')`` with
    ``average_attn_weights=False``, None with ``need_weights=False``), ``S' = S``
    plus one for ``add_bias_kv`` and one for ``add_zero_attn``. Parameters:
    ``E * (E + kdim + vdim)`` projection weights, ``3E`` biases, the output
    projection ``E * E + E``, ``2E`` for ``add_bias_kv``. MACs (``macs``) per
    sample: projections ``L*E*E + S*kdim*E + S*vdim*E + L*E*E``, scores
    ``L*S'*E`` and weighted sum ``L*S'*E``; ``macs+bias`` adds ``2*L*E + 2*S*E``.
    ``fvcore`` equals ``macs`` (it counts the projections and batched products);
    ``torchinfo`` 0 (torchinfo 1.8 reports none for this layer); ``ptflops`` is
    ``macs+bias`` (ptflops' own attention rule counts scaling and softmax too).

    >>> import convcalc
    >>> convcalc.plan(MultiheadAttention(16, 4), (7, 2, 16)).rows[0].trainable
    1088
    """

    embed_dim: int
    num_heads: int
    dropout: float = 0.0
    bias: bool = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: int | None = None
    vdim: int | None = None
    batch_first: bool = False

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.embed_dim, "embed_dim", minimum=1)
        whole(self.num_heads, "num_heads", minimum=1)
        for name in ("bias", "add_bias_kv", "add_zero_attn", "batch_first"):
            flag(getattr(self, name), name, args)
        for name in ("kdim", "vdim"):
            if getattr(self, name) is not None:
                whole(getattr(self, name), name, minimum=1)
        if self.embed_dim % self.num_heads:
            divisors = [h for h in range(1, self.embed_dim + 1) if self.embed_dim % h == 0]
            raise SpecError(f"embed_dim must be divisible by num_heads (one of {divisors[:12]}). {received(args)}")
        # any number, as torch takes it: only a forward in training mode checks it, and no size depends on it
        if type(self.dropout) not in (int, float):
            raise SpecError(f"dropout must be a number. {received(args)}")

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        given = _bind(self, path, inputs, options, _MHA_ARGUMENTS)
        masks = {name: given.get(name) for name in ("key_padding_mask", "attn_mask")}
        need_weights = given.get("need_weights", True)
        average = given.get("average_attn_weights", True)
        query = tuple(_shape_arg(self, path, given.get("query"), "query"))
        key = tuple(given.get("key", query))
        value = tuple(given.get("value", key))
        e = self.embed_dim
        kdim, vdim = self.kdim or e, self.vdim or e
        where = self._where(path)
        if len(query) not in (2, 3) or len(key) != len(query) or len(value) != len(query):
            raise ShapeError(
                f"{where}: query, key and value must all be 3-D (batched) or all 2-D (unbatched). "
                f"Received: query={query}, key={key}, value={value}"
            )
        for name, shape, want in (("embed_dim", query, e), ("kdim", key, kdim), ("vdim", value, vdim)):
            label = {"embed_dim": "query", "kdim": "key", "vdim": "value"}[name]
            _features(ctx, self, path, shape, want, name, label)
        batched = len(query) == 3
        seq_axis = 1 if batched and self.batch_first else 0
        checks = [("value", value, key, seq_axis, "key and value lengths")]
        if batched:
            checks += [(label, t, query, 1 - seq_axis, "batch sizes") for label, t in (("key", key), ("value", value))]
        for label, t, other, axis, what in checks:
            ctx.equals(
                _sym(t[axis]) - _sym(other[axis]),
                0,
                path,
                axis,
                said(
                    f"{where}: the {label} has size {t[axis]} on axis {axis} but "
                    f"{'the query' if other is query else 'the key'} has {other[axis]}: {what} must agree. "
                    f"Received: query={query}, key={key}, value={value}"
                ),
                "sizes equal",
            )
        length, source = query[seq_axis], key[seq_axis]
        self._check_masks(masks, query, key, seq_axis, ctx, path)
        extra = (1 if self.add_bias_kv else 0) + (1 if self.add_zero_attn else 0)
        attended = source + extra
        batch = (query[1 - seq_axis],) if batched else ()
        if not batched or not self.batch_first:
            ctx.samples(query, batch[0] if batch else 1)
        o = self._out_features()
        out = _Shape((*query[:-1], o))
        weights: Any = None
        if need_weights:
            heads = () if average else (self.num_heads,)
            weights = _Shape((*batch, *heads, length, attended))
        params = e * (e + kdim + vdim) + o * e + ((3 * e + o) if self.bias else 0) + (2 * e if self.add_bias_kv else 0)
        macs = length * e * (e + o) + source * (kdim + vdim) * e + 2 * length * attended * e
        ctx.add_row(
            path,
            self.kind,
            query,
            out,
            trainable=params,
            macs=macs,
            bias_adds=(length * (e + o) + 2 * source * e) if self.bias else 0,
            batch=batch[0] if batch else 1,
            peer_macs={"torchinfo": 0},  # torchinfo 1.8 reports no mult-adds for MultiheadAttention
        )
        return (out, weights)

    def _out_features(self) -> int:
        """The output projection's features: ``embed_dim`` (a functional call's own ``out_proj_weight`` may give
        another number)."""
        return self.embed_dim

    def _check_masks(
        self,
        masks: dict[str, Any],
        query: tuple[Any, ...],
        key: tuple[Any, ...],
        seq_axis: int,
        ctx: Context,
        path: str,
    ) -> None:
        """torch's shapes for the masks: ``attn_mask`` (L, S) or (N * num_heads, L, S), ``key_padding_mask`` (N, S);
        unbatched, (num_heads, L, S) and (S,)."""
        batched = len(query) == 3
        length, source = query[seq_axis], key[seq_axis]
        heads = _sym(query[1 - seq_axis]) * self.num_heads if batched else self.num_heads
        wanted = {
            "attn_mask": ((length, source), (heads, length, source)),
            "key_padding_mask": ((query[1 - seq_axis], source),) if batched else ((source,),),
        }
        for name, mask in masks.items():
            if mask is None or not isinstance(mask, _Shape):
                continue
            fits = [w for w in wanted[name] if len(w) == len(mask)]
            message = said(
                f"{self._where(path)}: {name} of shape {tuple(mask)} does not fit: torch takes "
                f"{' or '.join(str(tuple(w)) for w in wanted[name])} for a query of {query} and a key of {key}. "
                f"Received: {name}_shape={tuple(mask)}"
            )
            if not fits:
                raise ShapeError(message())
            for j, (got, want) in enumerate(zip(mask, fits[0], strict=True)):
                ctx.equals(_sym(got) - _sym(want), 0, path, j, message, f"{name} fits")


# -- embedding ----------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Embedding(Module):
    """``torch.nn.Embedding`` spec: integer indices of any shape -> ``shape + (embedding_dim,)``.

    ``num_embeddings * embedding_dim`` parameters; a table lookup, no MACs.

    >>> import convcalc
    >>> convcalc.plan(Embedding(1000, 64), (2, 12)).output_shape
    (2, 12, 64)
    """

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    max_norm: float | None = None
    norm_type: float = 2.0
    scale_grad_by_freq: bool = False
    sparse: bool = False

    def __post_init__(self) -> None:
        args = _args(self)
        whole(self.num_embeddings, "num_embeddings", minimum=1)
        whole(self.embedding_dim, "embedding_dim", minimum=1)
        if self.padding_idx is not None:
            whole(self.padding_idx, "padding_idx")
            if not -self.num_embeddings <= self.padding_idx < self.num_embeddings:
                raise SpecError(
                    f"padding_idx must be within num_embeddings: from {-self.num_embeddings} to "
                    f"{self.num_embeddings - 1}. {received(args)}"
                )
        for name in ("scale_grad_by_freq", "sparse"):
            flag(getattr(self, name), name, args)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        out_shape = (*shape, self.embedding_dim)
        ctx.add_row(path, self.kind, shape, out_shape, trainable=self.num_embeddings * self.embedding_dim)
        return out_shape, None


# -- rearranging --------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class PixelShuffle(Module):
    """``torch.nn.PixelShuffle`` spec: ``(*, C * r**2, H, W) -> (*, C, H * r, W * r)``.

    >>> import convcalc
    >>> convcalc.plan(PixelShuffle(2), (1, 12, 5, 5)).output_shape
    (1, 3, 10, 10)
    """

    upscale_factor: int

    def __post_init__(self) -> None:
        whole(self.upscale_factor, "upscale_factor", minimum=1)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        r = self.upscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{self._where(path)}: needs at least 3 dims (C, H, W). Received: input_shape={shape}")
        *lead, c, h, w = shape
        if type(c) is int and c % (r * r):
            raise ShapeError(
                f"{self._where(path)}: {c} channels are not divisible by upscale_factor**2 = {r * r}: use "
                f"{-(-c // (r * r)) * r * r} channels, or an upscale_factor whose square divides {c}. "
                f"Received: input_shape={shape}"
            )
        ctx.divides(
            c,
            r * r,
            path,
            -1,  # the channels, before the spatial axes 0, 1
            lambda: f"{self._where(path)}: channels must be divisible by {r * r}. Received: input_shape={shape}",
            f"divisible by {r * r}",
        )
        out_shape = (*lead, c // (r * r), h * r, w * r)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class PixelUnshuffle(Module):
    """``torch.nn.PixelUnshuffle`` spec: ``(*, C, H * r, W * r) -> (*, C * r**2, H, W)``.

    >>> import convcalc
    >>> convcalc.plan(PixelUnshuffle(2), (1, 3, 10, 10)).output_shape
    (1, 12, 5, 5)
    """

    downscale_factor: int

    def __post_init__(self) -> None:
        whole(self.downscale_factor, "downscale_factor", minimum=1)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        r = self.downscale_factor
        if len(shape) < 3:
            raise ShapeError(f"{self._where(path)}: needs at least 3 dims (C, H, W). Received: input_shape={shape}")
        *lead, c, h, w = shape
        for j, v in ((0, h), (1, w)):
            if type(v) is int and v % r:
                fits = sorted({max(v // r, 1) * r, (v // r + 1) * r})  # the multiples of r on either side
                raise ShapeError(
                    f"{self._where(path)}: size {v} is not divisible by downscale_factor={r}: use a size of "
                    f"{' or '.join(map(str, fits))}. Received: input_shape={shape}"
                )
            ctx.divides(
                v,
                r,
                path,
                j,
                said(f"{self._where(path)}: size {v} is not divisible by {r}. Received: input_shape={shape}"),
                f"divisible by {r}",
            )
        # torch checks the sizes, then returns an input that holds no value as it is (its channels not multiplied,
        # its sizes not divided), where its meta kernel gives the rearranged shape
        if any(type(d) is int and d == 0 for d in shape):
            ctx.add_row(path, self.kind, shape, shape)
            return shape, None
        for j, d in enumerate(shape):  # a size that depends on the input: the plan holds where it is not 0
            ctx.at_least(
                d,
                1,
                path,
                j - len(shape) + 2,  # the spatial axes 0 and 1, the channels -1
                said(
                    f"{self._where(path)}: an input with a size of 0 is returned unchanged by torch, its "
                    f"{c} channels not multiplied by {r * r}. Received: input_shape={shape}"
                ),
                "unshuffled input not empty",
            )
        out_shape = (*lead, c * r * r, h // r, w // r)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class _MaxUnpoolNd(_MultiOutput):
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    _ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        self._arguments()

    def _arguments(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """kernel_size, stride (the kernel's by default) and padding, checked, one per spatial axis."""
        args = _args(self)
        k = per_axis(self.kernel_size, "kernel_size", self._ndim, args, minimum=1)
        s = k if self.stride is None else per_axis(self.stride, "stride", self._ndim, args, minimum=1)
        return k, s, per_axis(self.padding, "padding", self._ndim, args, minimum=0)

    def _outputs(self, inputs: tuple[Any, ...], options: dict[str, Any], ctx: Context, path: str) -> Any:
        n = self._ndim
        k, s, p = self._arguments()
        given = _bind(self, path, inputs, options, ("input", "indices", "output_size"))
        indices, size = given.get("indices"), given.get("output_size")
        shape = tuple(_shape_arg(self, path, given.get("input"), "input"))
        where = self._where(path)
        if len(shape) not in (n + 1, n + 2):
            raise ShapeError(
                f"{where}: expects a {n + 2}-D input (N, C, ...) or an unbatched {n + 1}-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        if indices is not None and (not isinstance(indices, _Shape) or tuple(indices) != shape):
            raise ShapeError(f"{where}: indices must have the input's shape {shape}. Received: indices={indices!r}")
        spatial = shape[-n:]
        default = tuple((i - 1) * st - 2 * pd + kk for i, st, pd, kk in zip(spatial, s, p, k, strict=True))
        for j, v in enumerate(default if size is None else ()):
            ctx.at_least(
                v,
                1,
                path,
                j,
                said(
                    f"{where}: (size - 1) * stride - 2 * padding + kernel_size = {v} is too small: use "
                    f"padding of at most {(spatial[j] - 1) * s[j] // 2 + (k[j] - 1) // 2}. "
                    f"Received: input_shape={shape}"
                ),
                "size at least 1",
            )
        out = default
        if size is not None:
            sizes = tuple(size)
            if len(sizes) == n + 2:  # (N, C, *spatial), batched or not, as torch reads it
                sizes = sizes[-n:]
            if len(sizes) != n:
                raise ShapeError(
                    f"{where}: output_size must have {n} or {n + 2} elements. Received: output_size={size!r}"
                )
            for j, (want, d, st) in enumerate(zip(sizes, default, s, strict=True)):
                if type(want) is int and type(d) is int and not d - st < want < d + st:
                    raise ShapeError(
                        f"{where}: output_size[{j}]={want} is out of range: use a size from {max(d - st + 1, 1)} "
                        f"to {d + st - 1}. Received: output_size={size!r}, input_shape={shape}"
                    )
            out = sizes
        out_shape = _Shape((*shape[:-n], *out))
        ctx.add_row(path, self.kind, shape, tuple(out_shape))
        return out_shape


@dataclass(frozen=True, slots=True)
class MaxUnpool1d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool1d`` spec: size ``(L - 1) * stride - 2 * padding + kernel_size``, or ``output_size``."""

    _ndim: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class MaxUnpool2d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool2d`` spec: ``(H - 1) * stride - 2 * padding + kernel_size`` per axis.

    ``output_size`` (in torch code read through fx) picks another size within
    ``stride`` of that, as torch allows.

    >>> import convcalc
    >>> from convcalc import nn
    >>> convcalc.plan(nn.Sequential(nn.MaxPool2d(2), nn.MaxUnpool2d(2)), (1, 3, 9, 9)).output_shape
    (1, 3, 8, 8)
    """

    _ndim: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class MaxUnpool3d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool3d`` spec."""

    _ndim: ClassVar[int] = 3


#: Fold's and Unfold's per-axis arguments and their least values
_BLOCK_ARGUMENTS = (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1))


def _block_arguments(layer: Any) -> tuple[tuple[int, ...], ...]:
    """Fold's and Unfold's kernel_size, dilation, padding and stride, checked, one per spatial axis."""
    args = _args(layer)
    return tuple(per_axis(getattr(layer, name), name, 2, args, minimum=low) for name, low in _BLOCK_ARGUMENTS)


def _fold_blocks(layer: Module, sizes: tuple[Any, ...], ctx: Context, path: str, shape: Any) -> Any:
    """The kernel and the number of blocks along each of ``sizes``, each at least one."""
    k2, d2, p2, s2 = _block_arguments(layer)
    blocks = []
    for j, size in enumerate(sizes):
        extent = kernel_extent(k2[j], d2[j])
        count = window_count(size, p2[j], p2[j], extent, s2[j])
        ctx.at_least(
            count,
            1,
            path,
            j,
            said(
                f"{layer._where(path)}: a block of {extent} (kernel_size={k2[j]}, dilation={d2[j]}) does not fit in "
                f"size {size} + 2 * padding={p2[j]}: use padding of at least {-(-(extent - size) // 2)} or a smaller "
                f"kernel_size. Received: input_shape={shape}"
            ),
            "size at least 1",
        )
        blocks.append(count)
    return k2, tuple(blocks)


def _same_size(a: Any, b: Any) -> bool:
    """Whether two sizes are equal at every size of their symbols: the same expression, or products whose factors
    pair up, each pair of one symbol and equal at every size of it (``(floor((H - 1)/2) + 1) * (floor((W - 1)/2)
    + 1)`` blocks of an Unfold and ``floor((H + 1)/2) * floor((W + 1)/2)`` of a Fold's output_size)."""
    from convcalc._backend import sympy
    from convcalc._symbolic import holds_always, to_sympy

    sp = sympy()
    left, right = to_sympy(a), to_sympy(b)
    if sp.expand(left - right) == 0:
        return True

    def factors(expr: Any) -> list[Any]:
        out = []
        for factor in sp.Mul.make_args(expr):
            base, exponent = factor.as_base_exp()
            out.extend([base] * int(exponent) if exponent.is_Integer and exponent > 0 else [factor])
        return out

    others = factors(right)
    for factor in factors(left):
        for j, other in enumerate(others):
            if factor == other or (
                factor.free_symbols == other.free_symbols
                and len(factor.free_symbols) == 1
                and holds_always(sp.Eq(factor, other)) is True
            ):
                del others[j]
                break
        else:
            return False
    return not others


@dataclass(frozen=True, slots=True)
class Fold(Module):
    """``torch.nn.Fold`` spec: ``(N, C * kh * kw, L) -> (N, C, *output_size)``.

    ``L`` must be the number of blocks, ``floor((size + 2p - d(k - 1) - 1) / s) + 1``
    per axis, multiplied.

    >>> import convcalc
    >>> convcalc.plan(Fold((4, 5), 2), (1, 12, 12)).output_shape
    (1, 3, 4, 5)
    """

    output_size: Any
    kernel_size: Any
    dilation: Any = 1
    padding: Any = 0
    stride: Any = 1

    def __post_init__(self) -> None:
        self._output_sizes()
        _block_arguments(self)

    def _output_sizes(self) -> tuple[Any, ...]:
        """output_size, checked, one per spatial axis: ints of at least 1, or sizes that depend on the input
        (``F.fold(y, output_size=((H + 1) // 2, (W + 1) // 2), ...)`` in a forward planned with symbols), which
        the plan requires to be at least 1 (torch's output of no rows or columns has no block)."""
        value = self.output_size
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise SpecError(f"output_size must be an int or a tuple of 2 ints. {received(_args(self))}")
            items = tuple(value)
        else:
            items = (value,) * 2
        return tuple(whole_or_size(v, "output_size", minimum=1) for v in items)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        where = self._where(path)
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{where}: expects a 3-D input (N, C * kh * kw, L) or an unbatched 2-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        size = self._output_sizes()
        for j, want in enumerate(size):
            if type(want) is not int:
                ctx.at_least(
                    want,
                    1,
                    path,
                    j,
                    said(
                        f"{where}: output_size[{j}]={want} is below 1 for these sizes; torch folds into at least "
                        f"one row and column. Received: output_size={size}, input_shape={shape}"
                    ),
                    "output_size at least 1",
                )
        k, blocks = _fold_blocks(self, size, ctx, path, shape)
        area = k[0] * k[1]
        c = shape[-2]
        message = said(
            f"{where}: {c} input channels are not divisible by kernel_size {k[0]} x {k[1]} = {area}: use a "
            f"multiple of {area}. Received: input_shape={shape}"
        )
        if type(c) is int and c % area:
            raise ShapeError(message())
        ctx.divides(c, area, path, -1, message, f"divisible by {area}")  # the channels, before the blocks' axis 0
        wanted = blocks[0] * blocks[1]
        length = shape[-1]
        if type(wanted) is not int:  # an output_size that depends on the input's sizes
            if _same_size(length, wanted):  # the Unfold's blocks of the sizes output_size was computed from
                length = wanted = 0  # equal for every size: nothing to require
            else:  # a condition with a number on its right, as a constraint holds() can test
                length, wanted = length - wanted, 0
        ctx.equals(
            length,
            wanted,
            path,
            0,
            lambda: (
                f"{where}: output_size={tuple(size)} holds {blocks[0]} x {blocks[1]} = {blocks[0] * blocks[1]} blocks "
                f"but the input has L={shape[-1]}: use an input with L={blocks[0] * blocks[1]}, or an output_size "
                f"with {shape[-1]} blocks. Received: input_shape={shape}"
            ),
            f"L={blocks[0] * blocks[1]}",
        )
        out_shape = (*shape[:-2], c // area, *size)
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None


@dataclass(frozen=True, slots=True)
class Unfold(Module):
    """``torch.nn.Unfold`` spec: ``(N, C, H, W) -> (N, C * kh * kw, L)``, ``L`` the number of blocks.

    >>> import convcalc
    >>> convcalc.plan(Unfold(3, padding=1), (1, 2, 8, 8)).output_shape
    (1, 18, 64)
    """

    kernel_size: Any
    dilation: Any = 1
    padding: Any = 0
    stride: Any = 1

    def __post_init__(self) -> None:
        _block_arguments(self)

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        shape = tuple(flow[0])
        if len(shape) not in (3, 4):
            raise ShapeError(
                f"{self._where(path)}: expects a 4-D input (N, C, H, W) or an unbatched 3-D one, but receives "
                f"{len(shape)}-D. Received: input_shape={shape}"
            )
        k, blocks = _fold_blocks(self, shape[-2:], ctx, path, shape)
        out_shape = (*shape[:-3], shape[-3] * k[0] * k[1], product(blocks))
        ctx.add_row(path, self.kind, shape, out_shape)
        return out_shape, None
