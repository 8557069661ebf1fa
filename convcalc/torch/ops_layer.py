"""fx operation handlers: einsum, scaled dot-product attention, and functional layers and pooling
(``F.conv2d``, ``F.max_pool2d``, ...) planned by convcalc's layer rules."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from convcalc._errors import ConvCalcError, said
from convcalc.torch.nodes import one_for_all
from convcalc.torch.ops_math import _broadcast
from convcalc.torch.ops_shape import _of_call_kind, pixel_factor
from convcalc.torch.values import (
    RunRefusedError,
    _bind,
    _Call,
    _flow_of,
    _handles,
    _is_int,
    _made,
    _Pair,
    _prod,
    _same,
    _Tensor,
    _tensor_arg,
    require_inside,
)

# -- einsum and attention ------------------------------------------------------ #


def _einsum_terms(call: _Call, equation: str, count: int) -> tuple[list[str], str | None]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    for term in [*terms, *([rhs] if arrow else [])]:
        body = term.replace("...", "", 1)
        if not all(c.isascii() and c.isalpha() for c in body):
            raise call.spec_error("the equation takes letters and at most one '...' per operand", equation=equation)
    if len(terms) != count:
        raise call.spec_error(f"the equation names {len(terms)} operands but {count} are given", equation=equation)
    return terms, (rhs if arrow else None)


@_handles("einsum")
def _einsum(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.einsum``: sizes from the equation, ``...`` broadcast; MACs the product of all index sizes, per
    element of the output's first axis."""
    equation = args[0] if args else kwargs.get("equation")
    operands = tuple(args[1:]) or tuple(kwargs.get("operands", ()))
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise call.spec_error("the equation must be a string", equation=equation)
    tensors = [_tensor_arg(call, t) for t in operands]
    terms, rhs = _einsum_terms(call, equation, len(tensors))
    sizes: dict[str, Any] = {}
    ellipses: list[tuple[Any, ...]] = []
    for j, (term, t) in enumerate(zip(terms, tensors, strict=True)):
        head, dots, tail = term.partition("...")
        rank = len(t.shape)
        if (dots and len(head) + len(tail) > rank) or (not dots and len(term) != rank):
            raise call.shape_error(
                f"operand {j} has {rank} dims but the equation gives it {len(head) + len(tail)} subscripts "
                f"{term!r}{' (plus ...)' if dots else ''}",
                t.shape,
            )
        labelled = list(zip(head, t.shape[: len(head)], strict=True))
        labelled += list(zip(tail, t.shape[rank - len(tail) :], strict=True))
        if dots:
            ellipses.append(tuple(t.shape[len(head) : rank - len(tail)]))
        own: dict[str, Any] = {}
        for label, size in labelled:
            if label in own and _same(own[label], size) is not True:
                raise call.shape_error(
                    f"subscript {label} is repeated for operand {j} but the sizes differ ({own[label]} vs {size})",
                    t.shape,
                )
            own[label] = size
            known = sizes.get(label)
            if known is None or _same(known, 1) is True:
                sizes[label] = size
            elif _same(size, 1) is not True:
                call.require_equal(
                    known,
                    size,
                    j,
                    said(
                        f"{call.where}: subscript {label} has size {known} in one operand and {size} in operand "
                        f"{j} (sizes must be equal or 1). Received: input_shape={tuple(t.shape)}"
                    ),
                )
    batch_dims = _broadcast(call, ellipses) if ellipses else ()
    if rhs is None:
        counts: dict[str, int] = {}
        for term in terms:
            for c in term.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        rhs = ("..." if ellipses else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    head, dots, tail = rhs.partition("...")
    out: list[Any] = []
    for label in head + tail:
        if label not in sizes or (head + tail).count(label) > 1:
            raise call.spec_error(
                f"output subscript {label} must appear once in the output and in an operand", equation=equation
            )
    out = [sizes[c] for c in head] + (list(batch_dims) if dots else []) + [sizes[c] for c in tail]
    macs: Any = 0
    if len(tensors) > 1:
        # the product of every index size, per element of the output's first axis (as for a Linear's rows)
        every = [*sizes.values(), *batch_dims]
        if out:
            if head:
                every = [v for k, v in sizes.items() if k != head[0]] + list(batch_dims)
            elif dots and batch_dims:
                every = [*sizes.values(), *batch_dims[1:]]
            else:  # the output starts with a named index after an empty ...
                every = [v for k, v in sizes.items() if k != tail[0]] + list(batch_dims)
        macs = _prod(every)
    shape = tuple(out)
    # an output without axes: the count is the whole call's (its batch one element)
    call.ctx.add_row(call.name, call.kind, tuple(tensors[0].shape), shape, macs=macs, batch=None if out else 1)
    return _Tensor(shape)


@_handles("scaled_dot_product_attention")
def _sdpa(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.scaled_dot_product_attention``: ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev) -> (..., L, Ev)``."""
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    bound = _bind(
        call,
        args,
        kwargs,
        names,
        {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False},
    )
    q, k, v = (_tensor_arg(call, bound[n]) for n in names[:3])
    if len(q.shape) < 2 or len(k.shape) < 2 or len(v.shape) < 2:
        raise call.shape_error("query, key and value need at least 2 dims (L, E)", q.shape)
    call.require_equal(
        q.shape[-1],
        k.shape[-1],
        len(q.shape) - 1,
        lambda: (
            f"{call.where}: the query has {q.shape[-1]} features but the key {k.shape[-1]}; they must be equal. "
            f"Received: input_shape={tuple(q.shape)}"
        ),
    )
    call.require_equal(
        k.shape[-2],
        v.shape[-2],
        len(k.shape) - 2,
        lambda: (
            f"{call.where}: the key has length {k.shape[-2]} but the value {v.shape[-2]}; they must be equal. "
            f"Received: input_shape={tuple(q.shape)}"
        ),
    )
    leads = [q.shape[:-2], k.shape[:-2], v.shape[:-2]]
    if bound["enable_gqa"] is True and all(len(s) >= 1 for s in leads):
        heads = q.shape[-3]
        for s in leads[1:]:
            if _is_int(heads) and _is_int(s[-1]) and heads % s[-1]:
                raise call.shape_error(f"{heads} query heads are not a multiple of {s[-1]} key/value heads", q.shape)
        leads = [leads[0], *((*s[:-1], heads) for s in leads[1:])]
    batch = _broadcast(call, leads)
    length, source = q.shape[-2], k.shape[-2]
    mask = bound["attn_mask"]
    if isinstance(mask, _Tensor):  # added to the (..., L, S) weights: it broadcasts to them, never widens them
        weights = (*batch, length, source)
        if _broadcast(call, [weights, mask.shape]) != weights:
            raise call.shape_error(
                f"attn_mask of shape {tuple(mask.shape)} does not broadcast to the attention weights "
                f"{weights} (batch, heads, query length, key length)",
                q.shape,
            )
    per_sample = _prod(batch[1:]) if len(batch) > 0 else 1
    macs = per_sample * length * source * (q.shape[-1] + v.shape[-1])
    shape = (*batch, length, v.shape[-1])
    # 2-D inputs (L, E): one attention, the count the whole call's, not one per query; fvcore has no handler for
    # aten::scaled_dot_product_attention, and ptflops does not patch the function: neither counts it
    call.ctx.add_row(
        call.name,
        call.kind,
        tuple(q.shape),
        shape,
        macs=macs,
        batch=batch[0] if batch else 1,
        peer_macs={"fvcore": 0, "ptflops": 0},
    )
    return _Tensor(shape)


#: ``F.multi_head_attention_forward``'s arguments, in torch's order, and their defaults
_MHA_FORWARD = (
    "query",
    "key",
    "value",
    "embed_dim_to_check",
    "num_heads",
    "in_proj_weight",
    "in_proj_bias",
    "bias_k",
    "bias_v",
    "add_zero_attn",
    "dropout_p",
    "out_proj_weight",
    "out_proj_bias",
    "training",
    "key_padding_mask",
    "need_weights",
    "attn_mask",
    "use_separate_proj_weight",
    "q_proj_weight",
    "k_proj_weight",
    "v_proj_weight",
    "static_k",
    "static_v",
    "average_attn_weights",
    "is_causal",
)
_MHA_FORWARD_DEFAULTS = dict.fromkeys(_MHA_FORWARD[13:]) | {
    "training": True,
    "need_weights": True,
    "use_separate_proj_weight": False,
    "average_attn_weights": True,
    "is_causal": False,
}


@functools.cache
def _projected_attention() -> type:
    """``nn.MultiheadAttention``'s spec with the output projection's own features."""
    from convcalc import nn

    @dataclasses.dataclass(frozen=True, slots=True)
    class MultiheadAttentionForward(nn.MultiheadAttention):
        out_features: int = 0

        def _out_features(self) -> int:
            return self.out_features

    return MultiheadAttentionForward


@_handles("multi_head_attention_forward")
def _attention_forward(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.multi_head_attention_forward`` (CLIP's attention pool, a MultiheadAttention written out by hand):
    ``nn.MultiheadAttention``'s rule on the weights' shapes, packed (``in_proj_weight`` of ``(3E, E)``) or separate
    (``q_proj_weight`` ``(E, E)``, ``k_proj_weight`` ``(E, kdim)``, ``v_proj_weight`` ``(E, vdim)``); the weights
    count where the forward reads them."""
    from convcalc import nn

    bound = _bind(call, args, kwargs, _MHA_FORWARD, _MHA_FORWARD_DEFAULTS)
    query, key, value = (_tensor_arg(call, bound[n]) for n in ("query", "key", "value"))
    e, heads = bound["embed_dim_to_check"], bound["num_heads"]
    if not _is_int(e) or not _is_int(heads):
        raise call.spec_error("embed_dim_to_check and num_heads must be ints", embed_dim_to_check=e, num_heads=heads)
    if bound["static_k"] is not None or bound["static_v"] is not None:
        raise call.spec_error("convcalc follows this call without static_k and static_v", static_k="given")
    separate = bound["use_separate_proj_weight"] is True
    names = ("q_proj_weight", "k_proj_weight", "v_proj_weight") if separate else ("in_proj_weight",)
    weights = [bound[n] for n in names]
    for name, w in zip(names, weights, strict=True):
        if not isinstance(w, _Tensor) or len(w.shape) != 2 or not all(_is_int(d) for d in w.shape):
            raise call.spec_error(f"{name} must be a 2-D weight whose shape is numbers", **{name: w})
    if separate:
        kdim, vdim = weights[1].shape[1], weights[2].shape[1]
        wanted = [(e, e), (e, kdim), (e, vdim)]
    else:
        kdim = vdim = e
        wanted = [(3 * e, e)]
    out_weight = bound["out_proj_weight"]
    # the output projection may give other features than embed_dim (CLIP's pool projects to its output width)
    outs = out_weight.shape[0] if isinstance(out_weight, _Tensor) and len(out_weight.shape) == 2 else e
    checked = [*zip(names, weights, wanted, strict=True), ("out_proj_weight", out_weight, (outs, e))]
    for name, w, want in checked:
        if not isinstance(w, _Tensor) or tuple(w.shape) != want or not _is_int(want[0]):
            shape = tuple(w.shape) if isinstance(w, _Tensor) else w
            raise call.shape_error(
                f"{name} has shape {shape}; for embed_dim_to_check={e} it must be {want}", query.shape
            )
    if not separate and len(key.shape) == len(value.shape):  # torch: key shape ... does not match value shape
        for j, (a, b) in enumerate(zip(key.shape, value.shape, strict=True)):
            call.require_equal(
                a,
                b,
                j,
                said(
                    f"{call.where}: the key has shape {tuple(key.shape)} but the value {tuple(value.shape)}; with "
                    f"packed projection weights they must be equal. Received: input_shape={tuple(query.shape)}"
                ),
            )
    biases = [isinstance(bound[n], _Tensor) for n in ("in_proj_bias", "out_proj_bias")]
    paired = [isinstance(bound[n], _Tensor) for n in ("bias_k", "bias_v")]
    if len(set(biases)) > 1 or len(set(paired)) > 1:  # torch asserts bias_k and bias_v together
        raise call.spec_error(
            "convcalc follows this call with both of in_proj_bias and out_proj_bias, and both of bias_k and bias_v, "
            "or neither",
            in_proj_bias=biases[0],
            out_proj_bias=biases[1],
        )
    spec = _made(
        call,
        _projected_attention(),
        e,
        heads,
        bias=biases[0],
        add_bias_kv=paired[0],
        add_zero_attn=bound["add_zero_attn"] is True,
        kdim=kdim,
        vdim=vdim,
        out_features=outs,
    )
    masks = ("key_padding_mask", "attn_mask")
    options = {n: nn._Shape(bound[n].shape) if isinstance(bound[n], _Tensor) else bound[n] for n in masks}
    options |= {n: bound[n] for n in ("need_weights", "average_attn_weights", "is_causal")}
    out, attn = _as_layer(call, spec, query, key, value, options=options, weights=(*weights, out_weight))
    return _Pair((out, attn))


_POOL_ARGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "max_pool": (
        ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
        {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
    ),
    "avg_pool": (
        ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
        {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None},
    ),
    "lp_pool": (("input", "norm_type", "kernel_size", "stride", "ceil_mode"), {"stride": None, "ceil_mode": False}),
    "adaptive_avg_pool": (("input", "output_size"), {}),
    "adaptive_max_pool": (("input", "output_size", "return_indices"), {"return_indices": False}),
}


@_handles("conv1d", "conv2d", "conv3d", "linear")
def _functional_layer(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.conv2d(x, self.weight, self.bias, ...)`` and ``F.linear``: the layer's rule on the weight's shape; the
    weight and bias count where the forward reads them, not here."""
    from convcalc import nn

    linear = call.kind == "linear"
    names = (
        ("input", "weight", "bias")
        if linear
        else ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    )
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    x, w, b = bound.get("input"), bound.get("weight"), bound.get("bias")
    x, w = _weighted_by_numbers(call, x, w)
    if linear and len(w.shape) == 1:  # F.linear(x, w) of a vector: x @ w, the last axis summed away
        return _linear_of_a_vector(call, x, w, b)
    # torch: one bias per output feature or channel (a linear's may be one for all, which broadcasts)
    if not (linear and isinstance(b, _Tensor) and tuple(b.shape) in ((1,), ())):
        _one_bias_each(call, b, w.shape[0], x.shape)
    if linear:
        spec: Any = nn.Linear(w.shape[-1], w.shape[0], bias=isinstance(b, _Tensor))
    else:
        groups = _groups(call, bound)
        padding = bound.get("padding", 0)
        spec = _made(
            call,
            getattr(nn, "Conv" + call.kind[4:]),
            w.shape[1] * groups,
            w.shape[0],
            tuple(w.shape[2:]),
            stride=one_for_all(bound.get("stride", 1)),
            padding=one_for_all(padding),
            dilation=one_for_all(bound.get("dilation", 1)),
            groups=groups,
            bias=isinstance(b, _Tensor),
        )
    return _as_layer(call, spec, x, weights=(w, b))


def _linear_of_a_vector(call: _Call, x: _Tensor, w: _Tensor, b: Any) -> Any:
    """``F.linear(x, w)`` with a 1-D weight: ``x @ w`` (the product's shape and multiply-accumulates). torch adds a
    bias only where it is 0-D and the input is not 2-D (a 2-D input goes through addmm, which needs a matrix)."""
    from convcalc.torch.ops_product import _matmul

    if isinstance(b, _Tensor) and (b.shape != () or len(x.shape) == 2):  # torch: mat2 must be a matrix
        raise call.shape_error(
            f"takes a bias beside a vector weight only as a 0-D tensor, and for an input of other than 2 dims "
            f"(torch: mat2 must be a matrix); the bias has shape {tuple(b.shape)}",
            x.shape,
        )
    with _of_call_kind(call):
        return _matmul(_Call(call.ctx, call.name, "matmul"), (x, w), {})


@_handles("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _functional_transposed(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.conv_transpose2d(x, self.weight, ...)``: the transposed convolution's rule on the weight's shape,
    ``(in_channels, out_channels / groups, *kernel)``."""
    from convcalc import nn

    names = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    x, w, b = bound.get("input"), bound.get("weight"), bound.get("bias")
    x, w = _weighted_by_numbers(call, x, w)
    groups = _groups(call, bound)
    if _is_int(groups):
        _one_bias_each(call, b, w.shape[1] * groups, x.shape)
    spec = _made(
        call,
        getattr(nn, "ConvTranspose" + call.kind[len("conv_transpose") :]),
        w.shape[0],
        w.shape[1] * groups if _is_int(groups) else w.shape[1],
        tuple(w.shape[2:]),
        stride=one_for_all(bound.get("stride", 1)),
        padding=one_for_all(bound.get("padding", 0)),
        output_padding=one_for_all(bound.get("output_padding", 0)),
        groups=groups,
        bias=isinstance(b, _Tensor),
        dilation=one_for_all(bound.get("dilation", 1)),
    )
    return _as_layer(call, spec, x, weights=(w, b))


@_handles("bilinear")
def _functional_bilinear(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.bilinear(x1, x2, self.weight, self.bias)``: the Bilinear rule on the weight's shape
    ``(out_features, in1_features, in2_features)``."""
    from convcalc import nn

    bound = dict(zip(("input1", "input2", "weight", "bias"), args, strict=False))
    bound.update(kwargs)
    x1, x2, w, b = (bound.get(k) for k in ("input1", "input2", "weight", "bias"))
    if (
        not isinstance(x1, _Tensor)
        or not isinstance(x2, _Tensor)
        or not isinstance(w, _Tensor)
        or len(w.shape) != 3
        or not all(_is_int(d) for d in w.shape)
    ):
        raise call.spec_error(
            "convcalc follows F.bilinear with two tensor inputs and a 3-D weight of known shape",
            input1=x1,
            input2=x2,
            weight=w,
        )
    _one_bias_each(call, b, w.shape[0], x1.shape)
    spec = nn.Bilinear(w.shape[1], w.shape[2], w.shape[0], bias=isinstance(b, _Tensor))
    return _as_layer(call, spec, x1, x2)


def _groups(call: _Call, bound: dict[str, Any]) -> Any:
    """A functional convolution's ``groups``, checked before the layer's rule reads ``weight.shape[1] * groups`` as
    its in-channels (torch: non-positive groups is not supported)."""
    groups = bound.get("groups", 1)
    if _is_int(groups) and groups < 1:
        raise call.spec_error("groups must be at least 1 (torch: non-positive groups is not supported)", groups=groups)
    return groups


def _one_bias_each(call: _Call, bias: Any, outputs: Any, shape: Any) -> None:
    """A bias (None is none) holds one value per output feature or channel (torch: bias size does not match)."""
    if isinstance(bias, _Tensor) and tuple(bias.shape) != (outputs,):
        raise call.shape_error(f"the bias has shape {tuple(bias.shape)} but the weight gives {outputs} outputs", shape)


def _as_layer(
    call: _Call,
    spec: Any,
    x: _Tensor,
    *others: _Tensor,
    options: dict[str, Any] | None = None,
    weights: tuple[Any, ...] = (),
) -> Any:
    """A functional call planned by its layer's rule: rows of the function's kind, holding no tensors (a weight
    passed in counts where the forward reads it). ``others`` are a layer's further inputs (MaxUnpool's indices).
    A weight or bias computed from the input (a kernel predicted per sample, a patch correlated with the image)
    makes every output read what it read: no receptive field then."""
    from convcalc import nn

    owner = getattr(call.ctx, "owner", None)
    call.ctx.owner = None
    local = all(w.const for w in weights if isinstance(w, _Tensor))

    def as_call(row: Any) -> Any:
        field = row.receptive_field if local else None
        return dataclasses.replace(row, kind=call.kind, trainable=0, non_trainable=0, buffers=0, receptive_field=field)

    try:
        with call.ctx.made_as(as_call):
            if isinstance(spec, nn._MultiOutput):
                shapes = tuple(nn._Shape(t.shape) for t in (x, *others))
                got = spec._outputs(shapes, dict(options or {}), call.ctx, call.name)
                if isinstance(got, nn._Shape):
                    return _Tensor(tuple(got))
                return tuple(None if g is None else _Tensor(tuple(g)) for g in got)
            shape, rf = spec._plan(_flow_of(x, call.ctx), call.ctx, call.name)
            return _Tensor(tuple(shape), rf if local else None)
    except ConvCalcError as exc:
        raise type(exc)(f"{call.where}: {str(exc).split(': ', 1)[-1]}") from None
    finally:
        call.ctx.owner = owner


def _weighted_by_numbers(call: _Call, x: Any, w: Any) -> tuple[_Tensor, _Tensor]:
    """A tensor input, and a weight whose shape is numbers: the rule's arguments."""
    if not isinstance(x, _Tensor):
        raise call.spec_error("convcalc follows this call with a tensor input", input=x)
    if not isinstance(w, _Tensor) or not all(_is_int(d) for d in w.shape):
        raise call.spec_error(
            "convcalc follows this call with a weight whose shape is numbers (one made from the input's sizes, as "
            "a batch folded into groups, needs numbers for them)",
            weight=w,
        )
    return x, w


@_handles("embedding")
def _embedding(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.embedding(ids, self.weight)``: the Embedding rule on the weight's shape. torch's own
    ``torch.embedding(weight, ids, padding_idx=-1, ...)`` takes the weight first, and -1 for no padding index."""
    from convcalc import nn

    names: tuple[str, ...]
    if call.functional:
        names = ("input", "weight", "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse")
        defaults = {"padding_idx": None, "max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False}
    else:
        names = ("weight", "input", "padding_idx", "scale_grad_by_freq", "sparse")
        defaults = {"padding_idx": -1, "scale_grad_by_freq": False}
    bound = _bind(call, args, kwargs, names, {**defaults, "sparse": False})
    if not call.functional and bound["padding_idx"] == -1:
        bound["padding_idx"] = None
    ids, w = _tensor_arg(call, bound["input"]), bound["weight"]
    if not isinstance(w, _Tensor) or len(w.shape) != 2 or not all(_is_int(d) for d in w.shape):
        raise call.spec_error("convcalc follows F.embedding with a 2-D weight of known shape", weight=w)
    spec = _made(call, nn.Embedding, w.shape[0], w.shape[1], padding_idx=bound["padding_idx"])
    require_inside(call, ids, w.shape[0], 0, "the embedding table", negative=False)
    return _as_layer(call, spec, ids)


@_handles("pixel_unshuffle")
def _pixel_unshuffle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.pixel_unshuffle``: the rule of ``nn.PixelUnshuffle``, which keeps an input that holds no value as it is
    (torch's kernel returns it unchanged)."""
    from convcalc import nn

    t, r = pixel_factor(call, args, kwargs)
    return _as_layer(call, _made(call, nn.PixelUnshuffle, r), t)


@_handles("fold", "unfold")
def _fold(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.fold`` / ``F.unfold``: the Fold / Unfold rules."""
    from convcalc import nn

    names: tuple[str, ...] = ("input", "kernel_size", "dilation", "padding", "stride")
    if call.kind == "fold":
        names = ("input", "output_size", *names[1:])
    bound = _bind(call, args, kwargs, names, {"dilation": 1, "padding": 0, "stride": 1})
    x = _tensor_arg(call, bound.pop("input"))
    padding = bound["padding"]
    if any(type(p) is int and p < 0 for p in (padding if isinstance(padding, tuple) else (padding,))):
        # torch: padding should be non-negative (its meta kernel of unfold takes any)
        raise RunRefusedError(str(call.spec_error("padding must be at least 0", padding=padding)))
    layer = nn.Fold if call.kind == "fold" else nn.Unfold
    return _as_layer(call, _made(call, layer, **bound), x)


@_handles("max_unpool1d", "max_unpool2d", "max_unpool3d")
def _max_unpool(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.max_unpool2d(x, indices, kernel_size, stride, padding, output_size)``: the MaxUnpool rule."""
    from convcalc import nn

    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "indices", "kernel_size", "stride", "padding", "output_size"),
        {"stride": None, "padding": 0, "output_size": None},
    )
    x, indices = _tensor_arg(call, bound.pop("input")), _tensor_arg(call, bound.pop("indices"))
    size = bound.pop("output_size")
    spec = _made(call, getattr(nn, f"MaxUnpool{call.kind[-2]}d"), **bound)
    options = {} if size is None else {"output_size": tuple(size)}
    return _as_layer(call, spec, x, indices, options=options)


def _whole_axes(call: _Call, bound: dict[str, Any], sizes: tuple[Any, ...]) -> bool:
    """Whether a window pool's kernel is given by sizes that depend on the input: then it must be each spatial
    axis whole (``F.max_pool2d(x, x.size()[2:])``, CBAM's ``(x.size(2), x.size(3))`` as kernel and stride, with
    no padding or dilation), which pools each axis to one; any other kernel of such sizes is refused."""
    kernel = bound.get("kernel_size")
    kernel = tuple(kernel) if isinstance(kernel, (tuple, list)) else (kernel,) * len(sizes)
    if all(_is_int(k) for k in kernel):
        return False
    stride = bound.get("stride")
    stride = (
        kernel if stride is None else tuple(stride) if isinstance(stride, (tuple, list)) else (stride,) * len(sizes)
    )
    nothing, once = (0, (0,) * len(sizes), [0] * len(sizes)), (1, (1,) * len(sizes), [1] * len(sizes))
    if (
        len(kernel) == len(sizes) == len(stride)
        and all(_same(k, i) and _same(s, i) for k, s, i in zip(kernel, stride, sizes, strict=True))
        and bound.get("padding", 0) in nothing
        and bound.get("dilation", 1) in once
    ):
        return True
    raise call.spec_error(
        "a kernel size that depends on the input is followed only where it is each spatial axis whole, with the "
        "same stride and no padding (a global pool); plan with numbers, or pool with F.adaptive_avg_pool2d",
        kernel_size=bound.get("kernel_size"),
    )


_POOL_SPECS = {
    "max_pool": "MaxPool",
    "avg_pool": "AvgPool",
    "lp_pool": "LPPool",
    "adaptive_avg_pool": "AdaptiveAvgPool",
    "adaptive_max_pool": "AdaptiveMaxPool",
}


@_handles(
    *(f"{family}{n}d" for family in _POOL_ARGS for n in (1, 2, 3)),
    *(f"{family}{n}d_with_indices" for family in ("max_pool", "adaptive_max_pool") for n in (1, 2, 3)),
)
def _pool(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc import nn

    kind = call.kind.removesuffix("_with_indices")
    always_pair = kind != call.kind  # the *_with_indices functions return (values, indices) whatever the flag
    call = _Call(call.ctx, call.name, kind)
    family, ndim = kind[:-2], kind[-2]
    names, defaults = _POOL_ARGS[family]
    bound = _bind(call, args, kwargs, names, defaults)
    t = _tensor_arg(call, bound.pop("input"))
    indices = bound.pop("return_indices", False) or always_pair
    if bound.get("stride") in ((), []):
        bound["stride"] = None
    if family == "avg_pool" and ndim == "1":
        bound.pop("divisor_override", None)
    if family.startswith("adaptive"):
        bound = {"output_size": bound["output_size"]}
    whole = not family.startswith("adaptive") and _whole_axes(call, bound, t.shape[-int(ndim) :])
    if whole:  # checked with a window of one; planned as the whole axes
        bound.update(kernel_size=1, stride=None)
    spec = _made(call, getattr(nn, f"{_POOL_SPECS[family]}{ndim}d"), **bound)
    with _of_call_kind(call):
        if whole:
            from convcalc.nn.pool import whole_axes_pool

            shape, rf = whole_axes_pool(spec, _flow_of(t, call.ctx), call.ctx, call.name)
        else:
            shape, rf = spec._plan(_flow_of(t, call.ctx), call.ctx, call.name)
    out = _Tensor(tuple(shape), rf)
    return _Pair((out, _Tensor(tuple(shape), rf))) if indices else out
