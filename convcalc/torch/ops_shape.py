"""fx operation handlers: reshapes (view, flatten, permute, expand, split, cat, ...), padding,
interpolation and pixel shuffles."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from contextlib import AbstractContextManager
from typing import Any

from convcalc._errors import ConvCalcError
from convcalc._plan import sliced_rf
from convcalc._types import Shape
from convcalc.torch.ops_math import _broadcast, _reordered, _view_strides
from convcalc.torch.reached import as_integers, running_sum
from convcalc.torch.strides import expanded, unsqueezed
from convcalc.torch.values import (
    _as_sizes,
    _bind,
    _Call,
    _handles,
    _index,
    _is_int,
    _is_size,
    _keep_tail,
    _made,
    _merge_rf,
    _negated,
    _Opaque,
    _part_span,
    _prod,
    _Real,
    _rearranged,
    _reshaped,
    _same,
    _scalar_dims,
    _size,
    _sliced_rf,
    _sum,
    _Tensor,
    _tensor_arg,
)

# -- reshapes ------------------------------------------------------------------ #


def _sizes_arg(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(values) == 1 and isinstance(values[0], tuple):
        return values[0]
    return values


@_handles("view", "reshape")
def _reshape(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if "shape" in kwargs or "size" in kwargs:
        sizes = tuple(kwargs.get("shape", kwargs.get("size", ())))
    else:
        sizes = _sizes_arg(tuple(args[1:]))
    if any(isinstance(s, _Opaque) for s in sizes):  # view(dtype)
        return t
    shape = _infer_shape(call, t.shape, sizes)
    strides = _view_strides(call, t, shape, copy=call.kind == "reshape")
    return call.row(
        t.shape,
        _Tensor(
            shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span, _reshaped(t.known, shape)
        ),
    )


def _infer_shape(call: _Call, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[Any, ...]:
    sizes = _as_sizes(call, sizes)
    numel = _prod(old)
    unknown = [j for j, s in enumerate(sizes) if _is_int(s) and s == -1]
    if len(unknown) > 1:
        raise call.spec_error("only one dimension can be inferred (-1)", shape=sizes)
    known = _prod(s for j, s in enumerate(sizes) if j not in unknown)
    if unknown:
        inferred = _exact_div(call, numel, known, old, sizes)
        return tuple(inferred if j in unknown else s for j, s in enumerate(sizes))
    call.require_equal(
        numel,
        known,
        0,
        lambda: (
            call.where
            + (
                f": shape {tuple(sizes)} is invalid for an input of {numel} elements. Received: input_shape={tuple(old)}"
            )
        ),
    )
    return tuple(sizes)


def _exact_div(call: _Call, numel: Any, known: Any, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> Any:
    message = f"shape {tuple(sizes)} is invalid for an input of {numel} elements ({' x '.join(str(d) for d in old)})"
    if type(numel) is int and type(known) is int:
        if known == 0 or numel % known:
            raise call.shape_error(message, old)
        return numel // known
    import sympy

    from convcalc._symbolic import to_sympy

    # torch: "cannot reshape tensor of 0 elements into shape [-1, 0] because the unspecified dimension size -1 can
    # be any value": the sizes beside -1 are at least 1 (a size of 0 for small inputs leaves them out)
    call.require_at_least(
        known, 1, 0, lambda: f"{call.where}: {message}. Received: input_shape={tuple(old)}", "the sizes beside -1 not 0"
    )
    # factored, as Flatten gives it: 16*(floor(H/4) - 3)*(floor(W/4) - 3), a product the solver takes apart
    quotient = sympy.factor(sympy.cancel(to_sympy(numel) / to_sympy(known)))
    if quotient.is_integer is False:
        raise call.shape_error(message, old)
    if quotient.is_integer is None:
        # whole for every size, residue by residue (a size padded to a multiple of the window: the window's
        # count times the window over the padded size, which sympy does not cancel), or for some sizes only:
        # for those where the known sizes divide
        whole = _whole_by_residue(quotient)
        if whole is not None:
            return _size(whole)
        divisor = sympy.sympify(to_sympy(known))
        if not divisor.is_Integer or int(divisor) < 1:
            raise call.spec_error(
                f"the size -1 stands for is {quotient}, a whole number for some input sizes only, and convcalc "
                f"cannot state for which; give the sizes, or plan with numbers",
                shape=tuple(sizes),
                input_shape=tuple(old),
            )
        call.ctx.divides(
            _size(to_sympy(numel)),
            int(divisor),
            call.name,
            0,
            lambda: f"{call.where}: {message}. Received: input_shape={tuple(old)}",
            f"{int(divisor)} divides the {numel} elements",
        )
    return _size(quotient)


def _whole_by_residue(expr: Any) -> Any:
    """``expr`` of one size, periodic in it through ``floor`` and ``Mod`` of a modulus m (m <= 64): where it is a
    whole number at every residue of the size modulo m, the expression, the same one for every residue where
    it is (``4*floor((H + Mod(-H, 4))/4)/(H + Mod(-H, 4))`` is 1); None otherwise. (Where its divisor is 0, the
    quotient of 0 by 0 cancelled, the plan requires it at least 1: see _exact_div.)"""
    import math

    import sympy

    if len(expr.free_symbols) != 1:
        return None
    (size,) = expr.free_symbols
    # each floor or Mod multiplies the period of what it holds by its modulus at most (floor(H/4) inside a Mod
    # of 4 repeats every 16)
    moduli = [int(m.args[1]) for m in expr.atoms(sympy.Mod) if m.args[1].is_Integer]
    for f in expr.atoms(sympy.floor):
        moduli.append(math.lcm(*(int(c.q) for c in f.args[0].atoms(sympy.Rational)), 1))
    period = math.prod(moduli) if moduli else 0
    if not 1 < period <= 64:
        return None
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    values = set()
    for r in range(period):
        value = sympy.cancel(expr.subs(size, period * k + r))
        value = value if value.is_integer else sympy.cancel(sympy.simplify(value))
        if not value.is_integer:
            return None
        values.add(value)
    (value,) = values if len(values) == 1 and not next(iter(values)).free_symbols else (expr,)
    return value


@_handles("flatten")
def _flatten(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc import nn

    bound = _bind(call, args, kwargs, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    t = _tensor_arg(call, bound["input"])
    if not t.shape:
        return call.row(t.shape, _Tensor((1,)))
    spec = _made(call, nn.Flatten, bound["start_dim"], bound["end_dim"])
    with _of_call_kind(call):
        shape, _ = spec._plan((t.shape, None), call.ctx, call.name)
    out = tuple(shape)
    strides = _view_strides(call, t, out, copy=True)
    return _Tensor(out, _keep_tail(t.rf, t.shape, out), t.const, strides, t.integral, t.span, _reshaped(t.known, out))


def _of_call_kind(call: _Call) -> AbstractContextManager[None]:
    """Rows added inside are of the call's kind (``flatten``, not the ``Flatten`` of the spec planning it)."""
    made_as: Any = call.ctx.made_as  # (a planner's Context)
    return made_as(lambda row: dataclasses.replace(row, kind=call.kind))  # type: ignore[no-any-return]


@_handles("unflatten")
def _unflatten(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim", "sizes"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape), t.shape)
    part = _infer_shape(call, (t.shape[j],), tuple(bound["sizes"]))
    shape = (*t.shape[:j], *part, *t.shape[j + 1 :])
    strides = _view_strides(call, t, shape, copy=False)
    return call.row(
        t.shape,
        _Tensor(
            shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span, _reshaped(t.known, shape)
        ),
    )


@_handles("squeeze")
def _squeeze(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    rank = len(t.shape)
    if dim is None or _scalar_dims(call, dim, t.shape):
        axes = list(range(rank))
    else:
        dims = dim if isinstance(dim, tuple) else (dim,)
        axes = [_index(call, d, rank, t.shape) for d in dims]
    drop = set()
    for j in axes:
        one = _same(t.shape[j], 1)
        if one is None and call.ctx.known_equal(t.shape[j], 1):
            one = True  # an assert of the forward made it 1 (``assert h == 1`` before ``x.squeeze(2)``)
        if one:
            drop.add(j)
        elif one is None:  # a size that depends on the input: kept, which holds while it is not 1
            call.ctx.at_least(
                _size(t.shape[j] - 2),
                0,
                call.name,
                j,
                lambda j=j: f"{call.where}: axis {j} would be squeezed at size 1. Received: input_shape={t.shape}",
                "not squeezed (the size is not 1)",
            )
    shape = tuple(d for j, d in enumerate(t.shape) if j not in drop)
    strides = tuple(s for j, s in enumerate(t.strides) if j not in drop) if t.strides is not None else None
    return call.row(
        t.shape,
        _Tensor(
            shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span, _reshaped(t.known, shape)
        ),
    )


@_handles("unsqueeze")
def _unsqueeze(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape) + 1, t.shape)
    shape = (*t.shape[:j], 1, *t.shape[j:])
    strides = unsqueezed(t.shape, t.strides, j) if t.strides is not None else None
    return call.row(
        t.shape,
        _Tensor(
            shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span, _reshaped(t.known, shape)
        ),
    )


@_handles("transpose", "permute", "t", "movedim")
def _permute(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    rank = len(t.shape)
    order = list(range(rank))
    if call.kind == "t" and rank > 2:
        raise call.shape_error(f"t() expects a tensor with <= 2 dimensions, but the input is {rank}-D", t.shape)
    d0: Any = 0
    d1: Any = 1
    if call.kind == "transpose":  # (swapaxes names them axis0 and axis1, transpose and swapdims dim0 and dim1)
        d0 = args[1] if len(args) > 1 else kwargs.get("dim0", kwargs.get("axis0"))
        d1 = args[2] if len(args) > 2 else kwargs.get("dim1", kwargs.get("axis1"))
        if d0 is None or d1 is None:  # torch: TypeError, transpose() missing a required argument
            raise call.spec_error("swaps two dims, and needs both (dim0 and dim1)", dims=(d0, d1))
    if call.kind == "transpose" or (call.kind == "t" and rank == 2):
        if _scalar_dims(call, (d0, d1), t.shape, distinct=False):
            return _reordered(call, t, order)
        a, b = _index(call, d0, rank, t.shape), _index(call, d1, rank, t.shape)
        order[a], order[b] = order[b], order[a]
    elif call.kind == "permute":
        dims = _sizes_arg(tuple(args[1:])) if len(args) > 1 else tuple(kwargs.get("dims", ()))
        order = [_index(call, d, rank, t.shape) for d in dims]
        if sorted(order) != list(range(rank)):
            raise call.shape_error(f"permute needs each of the {rank} dims once, got {tuple(dims)}", t.shape)
    elif call.kind == "movedim":
        order = _moved(
            call,
            t.shape,
            args[1] if len(args) > 1 else kwargs["source"],
            args[2] if len(args) > 2 else kwargs["destination"],
        )
    return _reordered(call, t, order)


def _moved(call: _Call, shape: Shape, source: Any, destination: Any) -> list[int]:
    """The axes ``movedim(source, destination)`` puts in each place: one dim, or equal sequences of them (each
    moved to its place, the others keeping their order in the places left)."""
    rank = len(shape)
    if isinstance(source, (tuple, list)) != isinstance(destination, (tuple, list)):
        raise call.spec_error("takes two ints or two sequences of dims", source=source, destination=destination)
    given = [list(dims) if isinstance(dims, (tuple, list)) else [dims] for dims in (source, destination)]
    if _scalar_dims(call, given[0], shape) and _scalar_dims(call, given[1], shape):
        if len(given[0]) != len(given[1]):
            raise call.shape_error(f"source {given[0]} and destination {given[1]} must name as many dims", shape)
        return []
    sources, places = ([_index(call, d, rank, shape) for d in dims] for dims in given)
    if len(sources) != len(places):
        raise call.shape_error(
            f"source {list(source)} and destination {list(destination)} must name as many dims", shape
        )
    for name, dims in (("source", sources), ("destination", places)):
        if len(set(dims)) != len(dims):
            raise call.shape_error(f"repeated dim in {name} ({dims})", shape)
    order: list[int | None] = [None] * rank
    for axis, place in zip(sources, places, strict=True):
        order[place] = axis
    rest = iter(a for a in range(rank) if a not in sources)
    return [next(rest) if axis is None else axis for axis in order]


@_handles("expand", "expand_as", "view_as", "reshape_as", "repeat")
def _expand(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if call.kind in ("expand_as", "view_as", "reshape_as"):
        other = _tensor_arg(call, args[1] if len(args) > 1 else kwargs.get("other"))
        shape = tuple(other.shape)
        if call.kind != "expand_as":
            shape = _infer_shape(call, t.shape, shape)
            strides = _view_strides(call, t, shape, copy=call.kind == "reshape_as")
        else:
            _broadcast(call, [t.shape, shape])
            strides = _expanded_strides(t, shape)
        return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span))
    # (expand's sizes are named size, repeat's repeats)
    sizes = _sizes_arg(tuple(args[1:])) if len(args) > 1 else tuple(kwargs.get("size", kwargs.get("repeats", ())))
    sizes = _as_sizes(call, sizes)
    lead = len(sizes) - len(t.shape)
    if lead < 0:
        raise call.shape_error(f"needs at least {len(t.shape)} sizes, got {tuple(sizes)}", t.shape)
    if call.kind == "repeat":
        for j, s in enumerate(sizes):
            call.require_at_least(
                s,
                0,
                j,
                lambda: f"{call.where}: repeats must not be negative. Received: repeats={tuple(sizes)}",
                "repeats not negative",
            )
        shape = tuple(_size(_prod((s, t.shape[j - lead] if j >= lead else 1))) for j, s in enumerate(sizes))
    else:
        for j, s in enumerate(sizes):  # torch: -1 isn't allowed in a leading, non-existing dimension
            if _is_int(s) and s < 0 and (j < lead or s != -1):
                said = (
                    f"-1 keeps an existing axis's size, but position {j} of {tuple(sizes)} is a new leading axis"
                    if s == -1
                    else f"sizes must be at least 0 (or -1 to keep an existing axis's size), not {s} at position "
                    f"{j} of {tuple(sizes)}"
                )
                raise call.shape_error(said, t.shape)
        shape = tuple(t.shape[j - lead] if j >= lead and _is_int(s) and s == -1 else s for j, s in enumerate(sizes))
        _broadcast(call, [t.shape, shape])
        strides = _expanded_strides(t, shape)
        # (the values of an integer tensor, each where torch broadcasts it: ``position_ids.expand(b, -1)``)
        old = tuple(t.shape)
        known = _rearranged(
            t.known, shape, lambda at: tuple(0 if d == 1 else i for i, d in zip(at[lead:], old, strict=True))
        )
        return call.row(
            t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const, strides, t.integral, t.span, known)
        )
    return call.row(t.shape, _Tensor(shape, _keep_tail(t.rf, t.shape, shape), t.const, None, t.integral, t.span))


def _expanded_strides(t: _Tensor, shape: Shape) -> tuple[int, ...] | None:
    if t.strides is None or not all(type(d) is int for d in shape):
        return None
    return expanded(t.shape, t.strides, shape)


@_handles("chunk", "split", "unbind", "tensor_split")
def _split(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    rank = len(t.shape)
    if call.kind == "unbind":
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    else:
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    j = _index(call, dim, rank, t.shape)
    n = t.shape[j]
    how: Any
    pieces: list[Any]
    if type(n) is not int:
        pieces = _symbolic_pieces(call, args, kwargs, t, j)
    elif call.kind == "unbind":
        pieces = [None] * n
    else:
        how = _pieces_arg(args, kwargs)
        if call.kind == "chunk":
            if not _is_int(how) or how < 1:
                raise call.spec_error("chunks must be a positive int", chunks=how)
            size = -(-n // how)
            # torch: an empty axis gives `chunks` empty pieces
            pieces = [min(size, n - s) for s in range(0, n, size)] if size else [0] * how
        elif call.kind == "tensor_split" and isinstance(how, tuple):  # indices to split at, as slices clamp them
            if not all(_is_int(i) for i in how):
                raise call.spec_error("tensor_split indices must be ints", indices=how)
            edges = [0, *(min(max(i + n if i < 0 else i, 0), n) for i in how), n]
            pieces = [max(b - a, 0) for a, b in itertools.pairwise(edges)]
        elif isinstance(how, tuple):
            pieces = _sections(call, t, j, how)
        elif call.kind == "tensor_split" and _is_int(how):
            if how < 1:  # torch: number of sections must be larger than 0
                raise call.spec_error("the number of sections must be at least 1", sections=how)
            base, extra = divmod(n, how)
            pieces = [base + (1 if i < extra else 0) for i in range(how)]
        elif n == 0 and _is_int(how) and how >= 0:  # torch: an empty axis gives one empty piece (of any size)
            pieces = [0]
        else:
            if not _is_int(how) or how < 1:
                raise call.spec_error("split_size must be a positive int", split_size=how)
            pieces = [min(how, n - s) for s in range(0, n, how)]
    k = len(t.rf) if t.rf is not None else 0
    outs = []
    # each piece is a view with the input's strides (unbind's without the axis): x.chunk(2, dim=2)[0] is not
    # contiguous, and a view of it fails in torch
    strides = t.strides
    start: Any = 0  # where the piece starts along the axis: a piece of a spatial axis moves its windows by it
    for size in pieces:
        if size is None:  # unbind: a spatial axis taken away ends the field
            shape = (*t.shape[:j], *t.shape[j + 1 :])
            rf = t.rf if j < rank - k else None
            outs.append(_Tensor(shape, rf, t.const, None if strides is None else (*strides[:j], *strides[j + 1 :])))
        else:
            rf = sliced_rf(t.rf, rank, j, start, 1, n)
            outs.append(_Tensor((*t.shape[:j], size, *t.shape[j + 1 :]), rf, t.const, strides))
            start = _sum((start, size))
    return tuple(outs)


def _symbolic_pieces(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any], t: _Tensor, j: int) -> list[Any]:
    """The pieces of an axis whose size depends on the input: split sections must add up to it (an equality)
    and none be negative; ``tensor_split(c)`` gives ``c`` pieces, the first ``n % c`` one longer (piece ``k`` is
    ``floor((n + c - 1 - k) / c)``); ``chunk(c)`` pieces of ``ceil(n / c)`` and the rest, ``c`` of them where
    the rest is not empty (a condition: elsewhere torch gives fewer). A split of a fixed size, at indices, or
    ``unbind`` give a count that depends on the input: refused."""
    n = t.shape[j]
    how = _pieces_arg(args, kwargs)
    shape = tuple(t.shape)
    if call.kind == "split" and isinstance(how, tuple) and all(_is_size(v) for v in how):
        return _sections(call, t, j, how)
    if call.kind in ("chunk", "tensor_split") and _is_int(how) and how >= 1:
        count: int = how
        if count == 1:
            return [n]
        from convcalc._backend import sympy
        from convcalc._symbolic import to_sympy

        size = to_sympy(n)
        if call.kind == "tensor_split":
            return [_size(sympy().floor((size + count - 1 - k) / count)) for k in range(count)]
        piece = _size(sympy().floor((size + count - 1) / count))  # torch's chunk size, ceil(n / c)
        rest = _size(n - piece * (count - 1))
        call.ctx.at_least(
            rest,
            1,
            call.name,
            j,
            lambda: (
                f"{call.where}: chunk({count}) of axis {j} of size {n} gives fewer than {count} pieces (pieces of "
                f"{piece} leave nothing for the last). Received: input_shape={shape}"
            ),
            f"{count} pieces",
        )
        return [piece] * (count - 1) + [rest]
    raise call.shape_error(
        f"cannot {call.kind} along axis {j}, whose size {n} depends on the input, into a number of pieces that "
        f"depends on it too; give sections that add up to it, or a count of equal pieces",
        shape,
    )


def _pieces_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The count, size or sections of ``chunk`` / ``split`` / ``tensor_split``, by position or by name."""
    if len(args) > 1:
        return args[1]
    for name in ("chunks", "split_size_or_sections", "split_size", "sections", "indices", "tensor_indices_or_sections"):
        if name in kwargs:  # (tensor_split's names: sections, indices, tensor_indices_or_sections)
            return kwargs[name]
    return None


def _sections(call: _Call, t: _Tensor, j: int, how: tuple[Any, ...]) -> list[Any]:
    """``split([a, b, ...], dim)``: no section negative and all adding up to the axis (conditions where a size
    depends on the input), as torch's split_with_sizes checks."""
    shape = tuple(t.shape)
    if not all(_is_size(v) for v in how):
        raise call.spec_error("split sizes must be ints", split_sizes=how)
    for v in how:
        call.require_at_least(v, 0, j, functools.partial(_negative_split, call, v, shape), "split size not negative")
    total = _sum(how)
    call.require_equal(
        t.shape[j],
        total,
        j,
        lambda: (
            f"{call.where}: split sizes {how} add up to {total}, not the axis size {t.shape[j]}. "
            f"Received: input_shape={shape}"
        ),
    )
    return list(how)


def _negative_split(call: _Call, size: Any, shape: Shape) -> str:
    return f"{call.where}: split size {size} is negative. Received: input_shape={shape}"


@_handles("flip", "fliplr", "flipud", "roll", "cumsum", "cumprod", "logcumsumexp")
def _same_shape_along(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Operations that keep the shape and act along given axes: the axes must exist (torch: Dimension out of
    range); fliplr and flipud need 2 and 1 dims."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    rank = len(t.shape)
    if call.kind in ("fliplr", "flipud"):
        need = 2 if call.kind == "fliplr" else 1
        if rank < need:
            raise call.shape_error(f"{call.kind} takes a tensor of at least {need} dims", t.shape)
        dims: Any = ()
    elif call.kind == "flip":
        dims = args[1:] if len(args) > 1 else kwargs.get("dims", ())
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    elif call.kind == "roll":
        dims = args[2] if len(args) > 2 else kwargs.get("dims", ())
    else:
        dims = args[1] if len(args) > 1 else kwargs.get("dim", ())
    if call.kind == "roll" or not _scalar_dims(call, dims, t.shape):  # torch rolls no 0-D tensor
        for d in dims if isinstance(dims, (tuple, list)) else (dims,):
            _index(call, d, rank, t.shape)
    # a flip or roll may reorder a spatial axis, a cumulative sum widens the field along it: the receptive
    # field is not followed through these
    if call.kind == "cumsum" and set(kwargs) <= {"dim", "input"} and len(args) <= 2:
        # a running sum of integers (of a mask: ``input_ids.ne(pad).int().cumsum(1)``): the bounds of its values
        span = t.span if t.integral else as_integers(t.mask) if t.mask is not None else None
        span = running_sum(span, tuple(t.shape), int(dims)) if span is not None and _is_int(dims) else None
        if span is not None:
            return call.row(t.shape, _Tensor(t.shape, None, t.const, integral=True, span=span))
    return call.row(t.shape, _Tensor(t.shape, None, t.const))


@_handles("narrow")
def _narrow(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "dim", "start", "length"), {})
    t = _tensor_arg(call, bound["input"])
    j = _index(call, bound["dim"], len(t.shape), t.shape)
    if any(isinstance(v, _Tensor) and v.shape for v in (bound["start"], bound["length"])):
        # torch: start must be an 0-dim integral Tensor
        raise call.spec_error(
            "start and length must be ints or 0-D integer tensors",
            start=bound["start"],
            length=bound["length"],
        )
    start, length = _as_sizes(call, (bound["start"], bound["length"]), "start and length")
    size = t.shape[j]

    def refused() -> str:
        return (
            f"{call.where}: start ({start}) + length ({length}) must lie within axis {j} of size {size} (torch: "
            f"start out of range, or start + length exceeds dimension size). Received: input_shape={tuple(t.shape)}"
        )

    call.require_at_least(length, 0, j, refused, "narrow length not negative")
    if _is_int(start) and start < 0:  # counted from the end of the axis
        call.require_at_least(_sum((size, start)), 0, j, refused, "narrow start inside the axis")
        call.require_at_least(_negated(_sum((start, length))), 0, j, refused, "narrow inside the axis")
    else:
        call.require_at_least(start, 0, j, refused, "narrow start inside the axis")
        call.require_at_least(_sum((size, _negated(start), _negated(length))), 0, j, refused, "narrow inside the axis")
    shape = (*t.shape[:j], length, *t.shape[j + 1 :])
    rf = _sliced_rf(t.rf, len(t.shape), j, slice(start, None), size)
    # a part of an integer tensor (``self.position_ids.narrow(1, 0, t)``): the bounds of the values it takes
    first = _sum((size, start)) if _is_int(start) and start < 0 else start
    picks = [(0, d, 1) for d in t.shape]
    picks[j] = (first, length, 1)
    span = _part_span(t, picks) if t.integral else None
    return call.row(t.shape, _Tensor(shape, rf, t.const, t.strides, t.integral, span))  # a view: the strides kept


@_handles("unfold_axis")
def _unfold_axis(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.unfold(dimension, size, step)``: every slice of ``size`` along one axis, ``step`` apart, as a new last
    axis; the axis keeps the number of slices, ``(n - size) // step + 1``."""
    bound = _bind(call, args, kwargs, ("self", "dimension", "size", "step"), {})
    t = _tensor_arg(call, bound["self"])
    size, step = bound["size"], bound["step"]
    if not _is_int(size) or size < 0 or not _is_int(step) or step < 1:
        raise call.spec_error("size must be an int of at least 0 and step an int of at least 1", size=size, step=step)
    if not t.shape:  # a 0-d tensor is taken as one element
        return call.row(t.shape, _Tensor((size,), None, t.const))
    j = _index(call, bound["dimension"], len(t.shape), t.shape)
    n = t.shape[j]
    spare = n - size
    call.ctx.at_least(
        spare if type(spare) is int else _size(spare),
        0,
        call.name,
        j,
        lambda: call.where + f": the axis {j} of size {n} is shorter than size={size}. Received: input_shape={t.shape}",
        f"axis at least {size}",
    )
    count = spare // step + 1
    shape = (*t.shape[:j], count if type(count) is int else _size(count), *t.shape[j + 1 :], size)
    return call.row(t.shape, _Tensor(shape, None, t.const))


@_handles("cat", "stack")
def _cat(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("tensors", "dim"), {"dim": 0})
    tensors = [_tensor_arg(call, v) for v in bound["tensors"]]
    if not tensors:
        raise call.spec_error("needs at least one tensor", tensors=())
    stack = call.kind == "stack"
    if not stack:  # torch skips a 1-D empty tensor (the ``outs = torch.Tensor()`` accumulator; legacy behaviour)
        tensors = [t for t in tensors if not _legacy_empty(t.shape)] or tensors[:1]
    first = tensors[0].shape
    rank = len(first)
    j = _index(call, bound["dim"], rank + 1 if stack else rank, first)
    for n, t in enumerate(tensors[1:], start=1):
        if len(t.shape) != rank:
            raise call.shape_error(f"tensor {n} has {len(t.shape)} dims but tensor 0 has {rank}", first)
        for axis, (a, b) in enumerate(zip(first, t.shape, strict=True)):
            if axis == j and not stack:
                continue
            call.require_equal(a, b, axis, functools.partial(_cat_message, call, n, t.shape, first, bound["dim"]))
    # the spatial axes are those of the tensors that see the input (a constant, CoordConv's coordinate channels,
    # has no field of its own)
    live = next((t.rf for t in tensors if not t.const), None)
    k = len(live) if live is not None else 0
    if stack:
        shape = (*first[:j], len(tensors), *first[j:])
        rf = _merge_rf(tensors) if k and j <= rank - k else None
    else:
        shape = (*first[:j], _sum(t.shape[j] for t in tensors), *first[j + 1 :])
        rf = _merge_rf(tensors) if k and j < rank - k else None
    return call.row(first, _Tensor(shape, rf, all(t.const for t in tensors)))


@_handles("hstack", "vstack", "row_stack", "dstack")
def _stacked(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.hstack`` (along axis 1, axis 0 of vectors), ``vstack`` / ``row_stack`` (axis 0 of tensors made at
    least 2-D: a vector is a row) and ``dstack`` (axis 2 of tensors made at least 3-D): torch.cat of the tensors
    with the axes torch gives them."""
    bound = _bind(call, args, kwargs, ("tensors",), {})
    tensors = [_tensor_arg(call, v) for v in bound["tensors"]]
    if not tensors:
        raise call.spec_error("needs at least one tensor", tensors=())
    if call.kind == "hstack":
        shaped = [t.shape or (1,) for t in tensors]
        dim = 0 if all(len(s) == 1 for s in shaped) else 1
    elif call.kind == "dstack":
        shaped = [{0: (1, 1, 1), 1: (1, *t.shape, 1), 2: (*t.shape, 1)}.get(len(t.shape), t.shape) for t in tensors]
        dim = 2
    else:
        shaped = [{0: (1, 1), 1: (1, *t.shape)}.get(len(t.shape), t.shape) for t in tensors]
        dim = 0
    made = [
        _Tensor(tuple(s), t.rf if tuple(s) == tuple(t.shape) else None, t.const)
        for s, t in zip(shaped, tensors, strict=True)
    ]
    return _cat(_Call(call.ctx, call.name, "cat"), (made, dim), {})


def _legacy_empty(shape: Shape) -> bool:
    return len(shape) == 1 and type(shape[0]) is int and shape[0] == 0


def _cat_message(call: _Call, n: int, shape: Shape, first: tuple[Any, ...], dim: Any) -> str:
    return (
        f"{call.where}: tensor {n} has shape {tuple(shape)} but tensor 0 has {tuple(first)}; all dims except "
        f"dim={dim} must match. Received: input_shape={tuple(first)}"
    )


# -- padding, resizing, pooling ------------------------------------------------ #


@_handles("pad")
def _pad(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from convcalc._enums import PadMode
    from convcalc._plan import ReceptiveField
    from convcalc.nn import plan_padding

    bound = _bind(call, args, kwargs, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
    t = _tensor_arg(call, bound["input"])
    pads = _as_sizes(call, tuple(bound["pad"]), "pad")
    mode = _made(call, PadMode.parse, bound["mode"], "mode")
    rank = len(t.shape)
    if len(pads) % 2 or len(pads) // 2 > rank:
        raise call.spec_error(f"pad needs pairs (left, right) for at most {rank} dims", pad=pads)
    shape = list(plan_padding(call.ctx, call.where, call.name, tuple(t.shape), pads, mode))
    rf = list(t.rf) if t.rf is not None else None
    k = len(rf) if rf is not None else 0
    for i in range(len(pads) // 2):
        axis = rank - 1 - i
        if type(shape[axis]) is not int:
            shape[axis] = _size(shape[axis])
        if rf is not None and axis >= rank - k:
            r = rf[axis - (rank - k)]
            rf[axis - (rank - k)] = ReceptiveField(r.size, r.jump, r.start - pads[2 * i] * r.jump)
    return call.row(t.shape, _Tensor(tuple(shape), tuple(rf) if rf is not None else None, t.const))


@_handles("interpolate", "upsample_nearest", "upsample_bilinear")
def _interpolate(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.interpolate`` (and ``F.upsample``, ``F.upsample_nearest``, ``F.upsample_bilinear``): the Upsample rule,
    sizes computed from symbolic input sizes (``size=skip.shape[2:]``) too, so that the row is the one a number
    gives (an Upsample row renamed to the call's kind: the conventions count its output)."""
    from convcalc import nn
    from convcalc.nn.shape import upsample_antialias_error

    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
        {
            "size": None,
            "scale_factor": None,
            "mode": "nearest",
            "align_corners": None,
            "recompute_scale_factor": None,
            "antialias": False,
        },
    )
    if call.kind == "upsample_bilinear":
        bound["mode"], bound["align_corners"] = "bilinear", True
    t = _tensor_arg(call, bound["input"])
    size, scale = bound["size"], bound["scale_factor"]
    if (size is None) == (scale is None):
        raise call.spec_error("give exactly one of size and scale_factor", size=size, scale_factor=scale)
    # a float of sizes (``_Real``) is the float it is where the sizes are numbers
    per_axis = isinstance(scale, (tuple, list))
    factors = tuple(f.value if isinstance(f, _Real) else f for f in (scale if per_axis else (scale,)))
    scale = factors if per_axis else factors[0]
    if any(getattr(f, "free_symbols", None) for f in factors):  # a factor of the sizes (DINO's position grid)
        raise call.spec_error(
            "scale_factor is a float computed from the input's sizes, which convcalc follows only as a number "
            "(torch multiplies and floors it, rounding as the sizes make it); plan with numbers, or interpolate "
            "to a size",
            scale_factor=scale,
        )
    if size is not None:  # ints, or sizes that depend on the input's; a tensor of one size value taken as that value
        many = isinstance(size, (tuple, list))
        sizes = tuple(_size(d) for d in _as_sizes(call, tuple(size) if many else (size,), "size"))
        size = sizes if many else sizes[0]
    recompute = bound["recompute_scale_factor"]
    spec = _made(
        call,
        nn.Upsample,
        size=size,
        scale_factor=scale,
        mode=bound["mode"],
        align_corners=bound["align_corners"],
        **({} if recompute is None else {"recompute_scale_factor": recompute}),
    )
    rank = len(t.shape)
    if bound["antialias"]:  # (torch tests its truth)
        wrong = upsample_antialias_error(bound["mode"], rank)
        if wrong:
            raise call.spec_error(wrong, antialias=bound["antialias"], mode=bound["mode"], input_shape=tuple(t.shape))

    def empty() -> str:  # torch: Input and output sizes should be greater than 0
        return (
            f"{call.where}: input and output sizes must be at least 1 (size={size}, scale_factor={scale}). "
            f"Received: input_shape={tuple(t.shape)}"
        )

    # ``size=(h // 4, w // 4)`` of h = 3: refused here, as torch's meta kernel of bilinear with align_corners runs it;
    # a size that depends on the input is required to be at least 1 by the Upsample rule, unless it is below 1 at
    # every size (``size=-x.shape[-1]``), refused here as a number below 1 is. The rule requires the input's sizes
    # to be at least 1; mode "area", an adaptive average pool, gives a size of 0 (which the rule takes).
    least = 0 if bound["mode"] == "area" else 1
    for j, d in enumerate(() if size is None else size if isinstance(size, tuple) else (size,)):
        if type(d) is int or _never_positive(d):
            call.require_at_least(d, least, j, empty, "interpolated size at least 1")
    try:
        with _of_call_kind(call):
            shape, _ = spec._plan((t.shape, None), call.ctx, call.name)
    except ConvCalcError as exc:  # named by the call, as the refusals above are (not by the rule's Upsample)
        raise type(exc)(f"{call.where}: {str(exc).split(': ', 1)[-1]}") from None
    return _Tensor(tuple(shape))


def _never_positive(size: Any) -> bool:
    """Whether a size that depends on the input is below 1 at every input size."""
    import sympy

    from convcalc._symbolic import to_sympy

    return bool(sympy.Ge(to_sympy(size), 1) == sympy.false)


def pixel_factor(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Tensor, int]:
    """``F.pixel_shuffle`` / ``F.pixel_unshuffle``'s input and factor, as torch checks them."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    r: Any = args[1] if len(args) > 1 else kwargs.get("upscale_factor", kwargs.get("downscale_factor"))
    if not _is_int(r) or r < 1:
        raise call.spec_error("the factor must be a positive int", factor=r)
    if len(t.shape) < 3:
        raise call.shape_error("needs at least 3 dims (C, H, W)", t.shape)
    return t, r


@_handles("pixel_shuffle")
def _pixel_shuffle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t, r = pixel_factor(call, args, kwargs)
    *lead, c, h, w = t.shape
    if type(c) is int and c % (r * r):
        raise call.shape_error(f"{c} channels are not divisible by upscale_factor**2 = {r * r}", t.shape)
    if type(c) is not int:  # channels that depend on the input: a condition
        call.ctx.divides(
            c,
            r * r,
            call.name,
            len(t.shape) - 3,
            lambda: (
                call.where + f": {c} channels are not divisible by upscale_factor**2 = {r * r}. "
                f"Received: input_shape={tuple(t.shape)}"
            ),
            f"channels divisible by {r * r}",
        )
    shape = (*lead, _size(c // (r * r)), _size(h * r), _size(w * r))
    return call.row(t.shape, _Tensor(tuple(shape)))
