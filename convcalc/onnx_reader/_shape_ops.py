"""Node handlers of shape operations, followed on the values too (``Shape``, ``Gather``, ``Reshape``, ...)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from convcalc._backend import smax, smin
from convcalc._plan import ReceptiveField, sliced_rf
from convcalc._types import Shape
from convcalc.formulas import ceil_div
from convcalc.nn import _merge_rf
from convcalc.onnx_reader._arith import _broadcast
from convcalc.onnx_reader._graph import _K, _T, _Call, _handles
from convcalc.onnx_reader._proto import _SMALL
from convcalc.onnx_reader._values import (
    _arr,
    _axis,
    _const_out,
    _consts,
    _from_arr,
    _ints,
    _plain,
    _prod,
    _tensor,
)


def _reshape_dims(call: _Call, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[Any, ...]:
    allowzero = call.node.attr("allowzero", 0)
    for j, s in enumerate(sizes):
        if type(s) is int and s < -1:
            raise call.spec_error(f"shape values must be -1, 0 or positive (shape[{j}] is {s})", shape=sizes)
        if type(s) is int and s == 0 and not allowzero and j >= len(old):
            raise call.spec_error(
                f"a 0 in shape copies the input's size on that axis, and shape[{j}] lies past the input's "
                f"{len(old)} axes (input shape {tuple(old)})",
                shape=sizes,
            )
        if type(s) is not int and not allowzero:  # a size computed from the input's: where it is 0, ONNX copies
            call.at_least(  # the input's size on that axis instead
                s,
                1,
                j,
                f"shape[{j}] = {s}, computed from the input's sizes, is 0 here, where Reshape copies the input's "
                f"size on that axis (allowzero=0)",
                "computed reshape size not 0",
                old,
            )
    dims = [
        old[j] if (type(s) is int and s == 0 and not allowzero and j < len(old)) else s for j, s in enumerate(sizes)
    ]
    holes = [j for j, s in enumerate(dims) if type(s) is int and s == -1]
    if len(holes) > 1:
        raise call.spec_error("Reshape takes at most one -1", shape=sizes)
    numel = _prod(old)
    if holes:
        known = _prod(d for j, d in enumerate(dims) if j != holes[0])
        dims[holes[0]] = _exact_div(call, numel, known, old, sizes)
    else:
        call.equal(
            _prod(dims), numel, 0, f"Reshape to {tuple(sizes)} needs {_prod(dims)} elements, the input has {numel}", old
        )
    return tuple(dims)


def _exact_div(call: _Call, numel: Any, known: Any, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> Any:
    if type(numel) is int and type(known) is int:
        if known == 0 or numel % known:
            raise call.shape_error(
                f"Reshape to {tuple(sizes)}: {numel} elements do not split into parts of {known}", old
            )
        return numel // known
    from convcalc._backend import sympy
    from convcalc._symbolic import FloorForm, to_sympy

    if type(known) is int and known > 0:
        # cancel the known factor against the leading dims where it divides them exactly
        rest = list(old)
        k = known
        for j, d in enumerate(rest):
            if k == 1:
                break
            if type(d) is int:
                g = math.gcd(d, k)
                rest[j], k = d // g, k // g
        if k == 1:
            return _prod(rest)
    sp = sympy()
    q = sp.cancel(to_sympy(numel) / to_sympy(known))
    # over one denominator: cancel leaves a sum (``floor((L - 3)/2)/3 + 1/3``), whose fraction would be itself / 1
    num, den = sp.fraction(sp.together(q))
    if den != 1:
        # ``H*W`` elements in parts of ``2*W``: whole where 2 divides H; parts of a symbolic size (``Min(6, W)``):
        # where the division leaves nothing over
        message = f"Reshape to {tuple(sizes)}: {numel} elements do not split into parts of {known}"
        hole = list(sizes).index(-1)
        if den.is_Integer:
            call.divides(num, int(den), hole, message, old)
        else:
            call.equal(num - den * sp.floor(num / den), 0, hole, message, old, reason="the parts are whole")
        q = sp.floor(num / den)
    form = FloorForm.parse(q)
    return form if form is not None else q


@_handles("Reshape")
def _reshape(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    if len(args) < 2:  # Reshape-1: the target shape is the attribute ``shape``
        held = call.node.attr("shape")
        if held is None:
            raise call.spec_error("Reshape needs its target shape: an input, or the attribute shape before opset 5")
        sizes = tuple(held)
    else:
        sizes = _ints(call, args[1], "shape")
    if isinstance(x, _K):
        dims = _reshape_dims(call, x.shape, sizes)
        return _K(dims, x.values)
    dims = _reshape_dims(call, x.shape, sizes)
    return call.row(x.shape, _T(dims, x.rf if len(dims) == len(x.shape) and dims[2:] == x.shape[2:] else None))


@_handles("Flatten")
def _flatten(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    axis = call.node.attr("axis", 1)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise call.spec_error(f"axis must lie in [-{rank}, {rank}]", axis=call.node.attr("axis", 1))
    dims = (_prod(x.shape[:axis]), _prod(x.shape[axis:]))
    if isinstance(x, _K):
        return _K(dims, x.values)
    return call.row(x.shape, _T(dims))


@_handles("Transpose")
def _transpose(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    perm = tuple(call.node.attr("perm") or range(rank - 1, -1, -1))
    if sorted(perm) != list(range(rank)):
        raise call.spec_error(f"perm must be a permutation of 0..{rank - 1}", perm=perm)
    dims = tuple(x.shape[p] for p in perm)
    if isinstance(x, _K):
        a = _arr(x)
        return _K(dims, None) if a is None else _from_arr(a.transpose(perm))
    keep = x.rf if perm[:2] == (0, 1) and perm[2:] == tuple(range(2, rank)) else None
    return call.row(x.shape, _T(dims, keep))


def _axes_arg(call: _Call, args: list[Any], index: int) -> tuple[int, ...] | None:
    if len(args) > index and args[index] is not None:
        return tuple(_ints(call, args[index], "axes"))
    axes = call.node.attr("axes")
    return None if axes is None else tuple(axes)


def _distinct_axes(call: _Call, axes: tuple[Any, ...], rank: int, what: str = "axes") -> tuple[int, ...]:
    """``axes`` as axes of a tensor of ``rank`` axes, each in range and none given twice (``[1, -3]`` of a 4-D
    tensor names axis 1 twice), as ONNX Runtime requires of Unsqueeze, Slice, Pad and Resize."""
    out = tuple(_axis(call, a, rank, what) for a in axes)
    for j, a in enumerate(out):
        if a in out[:j]:
            raise call.spec_error(
                f"{what} names axis {a} more than once (each axis at most once, in [-{rank}, {rank - 1}])",
                **{what: tuple(axes)},
            )
    return out


def _is_one(call: _Call, size: Any, axis: int, shape: Shape) -> bool:
    """Whether a Squeeze without axes drops an axis: every size 1 goes, so a symbolic size must be 1 for every
    input size or for none."""
    if type(size) is int:
        return size == 1
    from convcalc._backend import sympy
    from convcalc._symbolic import to_sympy

    one = _decide(sympy().Eq(to_sympy(size), 1))
    if one is None:
        raise call.spec_error(
            f"a Squeeze without axes drops every axis of size 1, and axis {axis} of size {size} may be 1 or not: "
            f"give axes, or a number for that size (input shape {tuple(shape)})",
            axes=None,
        )
    return one


@_handles("Squeeze")
def _squeeze(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    axes = _axes_arg(call, args, 1)
    if axes is None:
        drop = {j for j, d in enumerate(x.shape) if _is_one(call, d, j, x.shape)}
    else:
        drop = {_axis(call, a, rank, "axes") for a in axes}
        for j in drop:
            call.equal(x.shape[j], 1, j, f"Squeeze of axis {j} of size {x.shape[j]}", x.shape)
    dims = tuple(d for j, d in enumerate(x.shape) if j not in drop)
    if isinstance(x, _K):
        return _K(dims, x.values)
    return call.row(x.shape, _T(dims))


@_handles("Unsqueeze")
def _unsqueeze(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    axes = _axes_arg(call, args, 1) or ()
    rank = len(x.shape) + len(axes)
    where = sorted(_distinct_axes(call, axes, rank))
    dims = list(x.shape)
    for a in where:
        dims.insert(a, 1)
    if isinstance(x, _K):
        return _K(tuple(dims), x.values)
    return call.row(x.shape, _T(tuple(dims)))


@_handles("Concat")
def _concat(call: _Call, args: list[Any]) -> Any:
    present = [a for a in args if a is not None]
    rank = len(present[0].shape)
    axis = _axis(call, call.node.attr("axis", 1 if call.opset < 4 else 0), rank)  # Concat-1: 1 by default
    for a in present[1:]:
        if len(a.shape) != rank:
            raise call.shape_error(f"Concat of tensors of rank {rank} and {len(a.shape)}", a.shape)
        for j in range(rank):
            if j != axis:
                call.equal(
                    present[0].shape[j],
                    a.shape[j],
                    j,
                    f"Concat on axis {axis}: shapes {present[0].shape} and {a.shape} differ on axis {j}",
                    a.shape,
                )
    total: Any = 0
    for a in present:
        total = total + a.shape[axis]
    dims = tuple(total if j == axis else d for j, d in enumerate(present[0].shape))
    if all(isinstance(a, _K) for a in present):
        arrays = [_arr(a) for a in present]
        if all(a is not None for a in arrays):
            import numpy as np

            return _from_arr(np.concatenate(arrays, axis=axis))
        return _K(dims, None)
    tensors = [a for a in present if isinstance(a, _T)]
    rf = _merge_rf([t.rf for t in tensors]) if axis < 2 else None
    return call.row(tensors[0].shape, _T(dims, rf))


# a start or end this far from 0 lies beyond either end of any axis a tensor can have (no memory holds 2**62 items)
_BEYOND = 2**62


def _onnx_bounds(size: int, start: int, end: int, step: int) -> tuple[int, int]:
    """A Slice's start and end on an axis of a known size, as ONNX clamps them: a negative one counts from the
    back; for a positive step both lie in [0, size], for a negative one the start in [0, size - 1] and the end in
    [-1, size - 1] (so that a backward slice can reach the front)."""
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    if step > 0:
        return min(max(start, 0), size), min(max(end, 0), size)
    return min(max(start, 0), size - 1), min(max(end, -1), size - 1)


def _decide(relation: Any) -> bool | None:
    from convcalc._backend import decided

    return decided(relation)


def _symbolic_bound(call: _Call, size: Any, value: Any, step: int, what: str, axis: int) -> Any:
    """:func:`_onnx_bounds` of one start or end where the size or the value is symbolic: exact where the sign of
    the value is decided for every size (the clamp is then a Min / Max where it is not decided); refused else."""
    from convcalc._backend import sympy
    from convcalc._symbolic import at_large_sizes, to_sympy

    sp = sympy()
    n, v = to_sympy(size), to_sympy(value)
    negative = _decide(sp.Lt(v, 0))
    if negative is None:
        # a bound computed from sizes (a U-Net's centre crop, (H_a - H_b) // 2 : ... + H_b): the sign it has for
        # large inputs (or the other, Context.sign_taken), the plan holding where it has it (at or above 0 from the
        # start, below it from the back)
        negative = call.ctx.sign_taken((call.path, axis, what), bool(at_large_sizes(v) < 0))
        sign = "negative (counted from the back)" if negative else "not negative (counted from the start)"
        call.at_least(
            -v if negative else v,
            1 if negative else 0,
            axis,
            f"the Slice {what} {value} is {'not ' if negative else ''}negative here, where convcalc follows it as "
            f"{sign}",
            f"slice {what} {'negative' if negative else 'not negative'}",
            (),
        )
    if negative:
        v = v + n
    low, high = (0, n) if step > 0 else (-1 if what == "end" else 0, n - 1)
    if type(value) is int and abs(value) >= _BEYOND:  # INT64_MAX and the like: the whole axis, whatever its size
        return sp.Integer(low) if value < 0 else high
    below, above = _decide(sp.Lt(v, low)), _decide(sp.Gt(v, high))
    if getattr(to_sympy(value), "free_symbols", None):
        # a bound computed from sizes, inside the axis for large inputs (a crop of a larger map): followed as it
        # is, the plan holding where it is inside, rather than a clamp no solver takes apart
        below = _inside(call, v, low, below, what, axis, "at least 0" if low == 0 else f"at least {low}")
        above = _inside(call, high, v, above, what, axis, "within the axis")
    if below:
        return sp.Integer(low)
    if above:
        return high
    out = v if above is False else smin(v, high)
    return out if below is False else smax(low, out)


def _inside(call: _Call, larger: Any, smaller: Any, outside: bool | None, what: str, axis: int, where: str) -> Any:
    """``outside`` where decided; else False, with the condition ``larger >= smaller`` on the sizes, where it
    holds for large inputs (None, the clamp kept, where it does not)."""
    from convcalc._backend import sympy
    from convcalc._symbolic import at_large_sizes

    if outside is not None:
        return outside
    gap = sympy().sympify(larger - smaller)
    if not at_large_sizes(gap) >= 0:
        return None
    call.at_least(
        gap,
        0,
        axis,
        f"the Slice {what} is not {where} here, where convcalc follows it without clamping",
        f"slice {what} {where}",
        (),
    )
    return False


def _slice_len(call: _Call, size: Any, start: Any, end: Any, step: Any, axis: int, shape: Shape) -> Any:
    if all(type(v) is int for v in (size, start, end)):
        s, e = _onnx_bounds(size, start, end, step)
        return max(0, ceil_div(e - s, step) if step > 0 else ceil_div(s - e, -step))
    from convcalc._backend import sympy
    from convcalc._symbolic import as_integer_expr

    sp = sympy()
    s = _symbolic_bound(call, size, start, step, "start", axis)
    e = _symbolic_bound(call, size, end, step, "end", axis)
    span = e - s if step > 0 else s - e
    out = -sp.floor(-span / abs(step)) if abs(step) != 1 else span
    empty = _decide(sp.Lt(span, 0))
    if empty:
        return 0
    if empty is None:
        call.at_least(
            out, 0, axis, f"Slice [{start}:{end}:{step}] leaves no elements on axis {axis}", "slice non-empty", shape
        )
    try:
        return as_integer_expr(sp.sympify(out))
    except ValueError:
        raise call.spec_error(f"the Slice of axis {axis} has no whole length", starts=start, ends=end) from None


@_handles("Slice")
def _slice(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    if len(args) > 1:
        starts = _ints(call, args[1], "starts")
        ends = _ints(call, args[2], "ends")
        axes = _ints(call, args[3], "axes") if len(args) > 3 and args[3] is not None else tuple(range(len(starts)))
        steps = _ints(call, args[4], "steps") if len(args) > 4 and args[4] is not None else (1,) * len(starts)
    else:
        starts, ends = tuple(call.node.attr("starts")), tuple(call.node.attr("ends"))
        axes = tuple(call.node.attr("axes") or range(len(starts)))
        steps = (1,) * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise call.spec_error(
            "starts, ends, axes and steps need as many values each (one per sliced axis)",
            starts=starts,
            ends=ends,
            axes=axes,
            steps=steps,
        )
    dims = list(x.shape)
    picks: dict[int, tuple[Any, Any, Any]] = {}
    for st, en, a, sp in zip(starts, ends, _distinct_axes(call, axes, rank), steps, strict=True):
        if sp == 0:
            raise call.spec_error("steps must not be 0", steps=steps)
        dims[a] = _slice_len(call, x.shape[a], st, en, sp, a, x.shape)
        picks[a] = (st, en, sp)
    if isinstance(x, _K):
        a = _arr(x)
        if a is None:
            return _K(tuple(dims), None)
        if not all(type(v) is int for v in (*x.shape, *(p for pick in picks.values() for p in pick))):
            return _K(tuple(dims), None)
        index = tuple(_python_slice(x.shape[j], *picks[j]) if j in picks else slice(None) for j in range(rank))
        return _from_arr(a[index])
    rf = x.rf
    for a, (st, _, sp) in picks.items():
        rf = sliced_rf(rf, rank, a, st, sp, x.shape[a])
    return call.row(x.shape, _T(tuple(dims), rf))


def _python_slice(size: int, start: int, end: int, step: int) -> slice:
    """The Python slice that picks what ONNX's Slice picks (Python clamps a backward start to -1, ONNX to 0)."""
    s, e = _onnx_bounds(size, start, end, step)
    return slice(s, None if e < 0 else e, step)


def _split_sizes(call: _Call, parts: tuple[Any, ...], axis: int, shape: Shape) -> tuple[Any, ...]:
    """A Split's explicit sizes, as ONNX Runtime requires them: one per output, none negative."""
    outputs = len(call.node.outputs)
    if len(parts) != outputs:
        raise call.spec_error(f"split needs one size per output: {len(parts)} sizes for {outputs} outputs", split=parts)
    for p in parts:
        if type(p) is int and p < 0:
            raise call.spec_error(
                f"split sizes must be 0 or more on axis {axis}, sizes adding up to {shape[axis]}", split=parts
            )
        if type(p) is not int:
            call.at_least(
                p, 0, axis, f"Split sizes {parts} hold a negative size on axis {axis}", "split size >= 0", shape
            )
    return parts


@_handles("Split")
def _split(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    if len(args) > 1 and args[1] is not None:
        parts = _split_sizes(call, _ints(call, args[1], "split"), axis, x.shape)
    elif call.node.attr("split") is not None:
        parts = _split_sizes(call, tuple(call.node.attr("split")), axis, x.shape)
    else:
        n = call.node.attr("num_outputs") or len(call.node.outputs)
        size = x.shape[axis]
        if call.node.attr("num_outputs") is None:  # equal parts, as ONNX (and ONNX Runtime) require
            call.divides(
                size,
                n,
                axis,
                f"Split into {n} equal parts needs a size divisible by {n} on axis {axis}, got {size}",
                x.shape,
            )
            part = size // n
            equal = (part,) * n
            outs = [
                _T(tuple(part if k == axis else d for k, d in enumerate(x.shape)), _piece_rf(x, axis, equal, j))
                for j in range(n)
            ]
            call.row(x.shape, outs[0])
            return outs
        if n != len(call.node.outputs):
            raise call.spec_error(
                f"num_outputs must be the node's number of outputs, {len(call.node.outputs)}", num_outputs=n
            )
        # ONNX Runtime: ceil(size / n) to each output but the last, which takes what remains (0 or more)
        chunk = ceil_div(size, n) if type(size) is int else (size + (n - 1)) // n
        call.at_least(
            size - (n - 1) * chunk,
            0,
            axis,
            f"num_outputs={n} splits axis {axis} of size {size} into parts of {chunk} (ceil({size} / {n})), which "
            f"leaves {size - (n - 1) * chunk} for the last part: ONNX Runtime needs it 0 or more; give explicit split "
            f"sizes, or a num_outputs or a size that leaves the last part 0 or more",
            f"num_outputs={n} fits",
            x.shape,
        )
        parts = (*(chunk,) * (n - 1), size - (n - 1) * chunk)
    call.equal(sum(parts), x.shape[axis], axis, f"Split sizes {parts} do not add up to {x.shape[axis]}", x.shape)
    outs = []
    for j, p in enumerate(parts):
        dims = tuple(p if k == axis else d for k, d in enumerate(x.shape))
        t = _T(dims, _piece_rf(x, axis, parts, j))
        sub = _Call(call.ctx, call.node, call.path, call.opset)
        if j == 0:
            sub.row(x.shape, t)
        outs.append(t)
    return outs


def _piece_rf(x: _T, axis: int, parts: tuple[Any, ...], j: int) -> Any:
    """The receptive field of piece ``j`` of a Split: on a spatial axis its windows move by the piece's start
    (the sizes before it), as a slice's do."""
    start: Any = 0
    for p in parts[:j]:
        start = start + p
    return sliced_rf(x.rf, len(x.shape), axis, start, 1, x.shape[axis])


@_handles("Shape")
def _shape(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    dims = tuple(x.shape)
    start = call.node.attr("start", 0)
    end = call.node.attr("end")
    picked = dims[start:end]
    return _const_out(picked)


@_handles("Size")
def _size(call: _Call, args: list[Any]) -> Any:
    return _K((), (_prod(args[0].shape),))


@_handles("Gather")
def _gather(call: _Call, args: list[Any]) -> Any:
    x, idx = args
    rank = len(x.shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    dims = (*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])
    if not isinstance(idx, _K):  # indices the input gives (an embedding's lookup): their values are the data's
        return call.row(idx.shape, _T(dims))
    _gather_range(call, x, idx, axis)
    if isinstance(x, _K):
        a, i = _arr(x), _arr(idx)
        if a is None or i is None:
            return _K(dims, None)
        import numpy as np

        n = a.shape[axis]
        return _from_arr(
            np.take(a, np.asarray([int(_plain(v)) % n for v in i.reshape(-1).tolist()]).reshape(i.shape), axis=axis)
        )
    return call.row(x.shape, _T(dims))


def _gather_range(call: _Call, x: Any, idx: _K, axis: int) -> None:
    """Require every known index within ``[-size, size - 1]`` of a known axis size, as ONNX Runtime does: a
    SpecError for constant data, a ShapeError for data whose size the input sets. A symbolic size (or index) is
    left unchecked."""
    size = x.shape[axis]
    if type(size) is not int or idx.values is None:
        return
    bad = [v for v in idx.values if type(v) is int and not -size <= v < size]
    if not bad:
        return
    message = f"indices must lie in [-{size}, {size - 1}] on axis {axis} of size {size}"
    if isinstance(x, _K):
        raise call.spec_error(f"{message} (data shape {tuple(x.shape)})", indices=bad[0])
    worst = max(bad, key=lambda v: v + 1 if v >= 0 else -v)  # the index that needs the largest size
    need = worst + 1 if worst >= 0 else -worst
    call.at_least(
        size - need,
        0,
        axis,
        f"{message}, got index {worst}: it needs a size of at least {need} there",
        f"size at least {need}",
        x.shape,
    )


@_handles("Constant")
def _constant(call: _Call, args: list[Any]) -> Any:
    value = call.node.attr("value")
    if value is not None:
        return _K(value[0], value[1])
    for key in ("value_int", "value_float"):
        v = call.node.attr(key)
        if v is not None:
            return _K((), (v,))
    for key in ("value_ints", "value_floats"):
        v = call.node.attr(key)
        if v is not None:
            return _K((len(v),), tuple(v))
    raise call.spec_error(
        "convcalc reads Constant nodes with value, value_int(s) or value_float(s)",
        attributes=[k for k, _ in call.node.attrs],
    )


@_handles("ConstantOfShape")
def _constant_of_shape(call: _Call, args: list[Any]) -> Any:
    dims = _ints(call, args[0], "shape")
    if any(type(d) is int and d < 0 for d in dims):
        raise call.spec_error("shape must not hold a negative size", shape=dims)
    value = call.node.attr("value")
    fill = value[1][0] if value is not None and value[1] else 0.0
    n = _prod(dims)
    return _K(dims, (fill,) * n if type(n) is int and n <= _SMALL else None)


@_handles("Range")
def _range(call: _Call, args: list[Any]) -> Any:
    if len(args) != 3 or any(a is None for a in args):
        raise call.spec_error("Range takes start, limit and delta", inputs=len(args))
    start, limit, delta = (_range_arg(call, a, what) for a, what in zip(args, ("start", "limit", "delta"), strict=True))
    if delta == 0:
        raise call.spec_error("delta must not be 0", delta=delta)
    if all(type(v) is int for v in (start, limit, delta)):
        vals = tuple(range(start, limit, delta))
        return _K((len(vals),), vals)
    if all(isinstance(v, (int, float)) for v in (start, limit, delta)):
        # ONNX: max(ceil((limit - start) / delta), 0) elements, start + k * delta
        n = max(math.ceil((limit - start) / delta), 0)
        return _K((n,), tuple(start + k * delta for k in range(n)) if n <= _SMALL else None)
    from convcalc._backend import sympy
    from convcalc._symbolic import as_integer_expr, to_sympy

    if any(isinstance(v, float) and not v.is_integer() for v in (start, delta)) or not all(
        isinstance(v, (int, float)) for v in (start, delta)
    ):
        raise call.spec_error(
            "convcalc follows a Range of a symbolic limit with a whole start and delta only",
            start=start,
            delta=delta,
        )
    span = to_sympy(limit) - int(start)
    count = -sympy().floor(-span / int(delta))
    empty = _decide(sympy().Le(count, 0))
    if empty:
        return _K((0,), ())
    if empty is None:
        raise call.spec_error(
            f"convcalc follows a Range of a symbolic limit only where it is never empty: limit {limit}, start {start}",
            limit=limit,
        )
    try:
        length = as_integer_expr(sympy().sympify(count))
    except ValueError:
        raise call.spec_error("the Range's length is no whole size", limit=limit) from None
    return _K((length,), None)


def _range_arg(call: _Call, value: Any, what: str) -> Any:
    values = _consts(call, value, what)
    if len(values) != 1 or value.shape != ():
        raise call.spec_error(f"{what} must be a scalar", **{what: values})
    return values[0]


@_handles("Expand")
def _expand(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    target = _ints(call, args[1], "shape")
    dims = _broadcast(call, [x.shape, tuple(target)])
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims, x.rf if dims[2:] == x.shape[2:] else None))


@_handles("Tile")
def _tile(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    reps = _ints(call, args[1], "repeats")
    if len(reps) != len(x.shape):
        raise call.spec_error(
            f"repeats needs one value per axis of the input ({len(x.shape)} for shape {tuple(x.shape)})",
            repeats=reps,
        )
    if any(type(r) is int and r < 0 for r in reps):
        raise call.spec_error("repeats must not be negative", repeats=reps)
    dims = tuple(d * r for d, r in zip(x.shape, reps, strict=True))
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims))


@_handles("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL2", "ReduceL1",
          "ArgMax", "ArgMin")  # fmt: skip
def _reduce(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    if call.node.op in ("ArgMax", "ArgMin"):
        axes: tuple[int, ...] | None = (call.node.attr("axis", 0),)
    else:
        axes = _axes_arg(call, args, 1)
    keep = call.node.attr("keepdims", 1)
    what = "axis" if call.node.op in ("ArgMax", "ArgMin") else "axes"  # the attribute the node names
    picked = set(range(rank)) if not axes else {_axis(call, a, rank, what) for a in axes}
    if not axes and call.node.attr("noop_with_empty_axes", 0):
        picked = set()
    dims = tuple((1 if j in picked else d) for j, d in enumerate(x.shape) if keep or j not in picked)
    if isinstance(x, _K):
        return _K(dims, None)
    return call.row(x.shape, _T(dims))


@_handles("Pad")
def _pad(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    pads = (
        _ints(call, args[1], "pads") if len(args) > 1 and args[1] is not None else tuple(call.node.attr("pads") or ())
    )
    axes = _ints(call, args[3], "axes") if len(args) > 3 and args[3] is not None else tuple(range(rank))
    axes = _distinct_axes(call, axes, rank)
    if len(pads) != 2 * len(axes):
        raise call.spec_error(f"pads needs {2 * len(axes)} values (begin and end of {len(axes)} axes)", pads=pads)
    dims = list(x.shape)
    begins = [0] * rank
    mode = call.node.attr("mode", "constant")
    for n, a in enumerate(axes):
        b, e = pads[n], pads[n + len(axes)]
        if mode == "reflect" and (b > 0 or e > 0):
            # ONNX Runtime mirrors without repeating the edge: each pad at most the (cropped) extent less 1
            kept = x.shape[a] + min(b, 0) + min(e, 0)
            call.at_least(
                kept - 1 - max(b, e),
                0,
                a,
                f"reflect pads {b}, {e} need more than {max(b, e)} elements on axis {a}, it keeps {kept}",
                f"reflect pads {max(b, e)} fit",
                x.shape,
            )
        dims[a] = x.shape[a] + b + e
        begins[a] = b
        call.at_least(dims[a], 1, a, f"pads {b}, {e} leave nothing of axis {a}", "size at least 1", x.shape)
    rf = None
    if x.rf is not None and rank >= 2:
        rf = tuple(ReceptiveField(r.size, r.jump, r.start - b * r.jump) for r, b in zip(x.rf, begins[2:], strict=False))
    return call.row(x.shape, _T(tuple(dims), rf))


def _scaled(call: _Call, size: Any, scale: Any, axis: int, shape: Shape) -> Any:
    """ONNX Runtime's ``int64(float(scale) * float(size))``, the product in float32: 0.7 * 10 is 7 (the float32
    0.7 is a little less than 0.7, the product rounds back to 7.0). For a symbolic size the product is exact, and
    so ``floor(size * scale)``, where ``size * k`` has at most 24 bits (``scale = k / 2**j``, k odd): a constraint
    states that bound where ``k > 1`` and ``j > 0`` (an integer scale or a power of 2 is exact for every size
    float32 holds, which ONNX Runtime's own ``float(size)`` needs), and a scale of many bits (0.7) is refused."""
    import numpy as np

    s32 = np.float32(scale)
    if not np.isfinite(s32) or s32 <= 0:
        raise call.spec_error(f"scales must be positive on axis {axis}", scales=scale)
    if type(size) is int:
        out: Any = int(np.float32(np.float32(size) * s32))
    else:
        frac = Fraction(float(s32))
        bound = (1 << 24) // frac.numerator
        if bound < 1 << 16:
            raise call.spec_error(
                f"convcalc follows a Resize scale of a symbolic size only where the scale is a number of few binary "
                f"digits (2, 0.5, 1.5, 0.25, ...); ONNX Runtime rounds {scale} * size in float32, which has no closed "
                f"form: give sizes, or plan numeric input sizes",
                scales=scale,
            )
        if frac.numerator > 1 and frac.denominator > 1:  # 1.5 * size is x.5 for odd sizes: exact below the bound
            call.at_least(
                bound - size,
                0,
                axis,
                f"size {size} times scale {scale} is not exact in float32",
                f"size at most {bound}",
                shape,
            )
        out = (size * frac.numerator) // frac.denominator if frac.denominator > 1 else size * frac.numerator
    call.at_least(out, 1, axis, f"scale {scale} leaves no element on axis {axis}", "size at least 1", shape)
    return out


@_handles("Resize", "Upsample")
def _resize(call: _Call, args: list[Any]) -> Any:
    # a constant resized too (a ViT's position embedding interpolated to the input's grid): a constant out
    x = args[0] if isinstance(args[0], _K) else _tensor(call, args[0])
    rank = len(x.shape)
    if call.node.op == "Upsample" or (call.opset < 11 and len(args) == 2):
        held = call.node.attr("scales")
        if len(args) < 2 and held is None:  # Upsample-1: height_scale and width_scale, which ONNX Runtime lacks too
            raise call.spec_error(
                "convcalc follows Upsample with scales (opset 7 and later), not Upsample-1's height_scale and "
                "width_scale, which ONNX Runtime does not run either",
                height_scale=call.node.attr("height_scale"),
                width_scale=call.node.attr("width_scale"),
            )
        given = _consts(call, args[1], "scales") if len(args) > 1 else tuple(held)
        if call.node.op == "Upsample" and any(type(v) in (int, float) and v < 1 for v in given):
            # ONNX Runtime: Scale value should be greater than or equal to 1 (Upsample only enlarges)
            raise call.spec_error("Upsample's scales must be at least 1; Resize takes smaller ones", scales=given)
        scales: tuple[Any, ...] | None = given
        sizes = None
    else:
        scales = (
            _consts(call, args[2], "scales") if len(args) > 2 and args[2] is not None and _nonempty(args[2]) else None
        )
        sizes = _ints(call, args[3], "sizes") if len(args) > 3 and args[3] is not None and _nonempty(args[3]) else None
        if scales is not None and sizes is not None:
            raise call.spec_error(
                "Resize takes scales or sizes, not both: give the other as ''", scales=scales, sizes=sizes
            )
    axes = _distinct_axes(call, tuple(call.node.attr("axes") or range(rank)), rank)
    dims = list(x.shape)
    if sizes is not None:
        if len(sizes) != len(axes):
            raise call.spec_error(f"sizes needs {len(axes)} values", sizes=sizes)
        policy = call.node.attr("keep_aspect_ratio_policy", "stretch") if call.opset >= 18 else "stretch"
        if policy != "stretch":
            sizes = _keep_aspect(call, policy, tuple(x.shape[a] for a in axes), sizes)
        for a, s in zip(axes, sizes, strict=True):
            if type(s) is int and s < 1:
                raise call.spec_error(f"sizes must be positive (axis {a})", sizes=sizes)
            if type(s) is not int:
                call.at_least(s, 1, a, f"sizes {sizes} leave no element on axis {a}", "size at least 1", x.shape)
            dims[a] = s
    elif scales is not None:
        if len(scales) != len(axes):
            raise call.spec_error(f"scales needs {len(axes)} values", scales=scales)
        for a, s in zip(axes, scales, strict=True):
            dims[a] = _scaled(call, x.shape[a], s, a, x.shape)
    else:
        raise call.spec_error("Resize needs scales or sizes", inputs=len(args))
    if isinstance(x, _K):
        return _K(tuple(dims), None)
    return call.row(x.shape, _T(tuple(dims)))


def _keep_aspect(call: _Call, policy: Any, olds: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[int, ...]:
    """``keep_aspect_ratio_policy`` (opset 18): one scale for every resized axis, the least (``not_larger``) or
    the greatest (``not_smaller``) of ``size / old``, and each axis ``round(scale * old)``, as ONNX Runtime
    computes them in float32 (halves away from zero)."""
    if policy not in ("not_larger", "not_smaller"):
        raise call.spec_error(
            "keep_aspect_ratio_policy must be stretch, not_larger or not_smaller", keep_aspect_ratio_policy=policy
        )
    if not all(type(d) is int for d in (*olds, *sizes)):
        raise call.spec_error(
            f"convcalc follows keep_aspect_ratio_policy={policy} on numeric sizes only (ONNX Runtime rounds float32 "
            f"ratios, which have no closed form): plan numeric input sizes",
            sizes=sizes,
            input_sizes=olds,
        )
    import numpy as np

    ratios = [np.float32(s) / np.float32(d) for s, d in zip(sizes, olds, strict=True)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    return tuple(math.floor(float(np.float32(scale * np.float32(d))) + 0.5) for d in olds)


def _nonempty(value: Any) -> bool:
    return not (isinstance(value, _K) and value.shape and value.shape[0] == 0)


@_handles("SpaceToDepth", "DepthToSpace")
def _depth(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    b = call.node.attr("blocksize")
    if type(b) is not int or b < 1:
        raise call.spec_error("blocksize must be a positive integer", blocksize=b)
    if len(x.shape) != 4:
        raise call.shape_error(f"{call.node.op} takes a 4-D input (N, C, H, W), got {len(x.shape)}-D", x.shape)
    if call.node.op == "DepthToSpace":
        call.divides(
            x.shape[1],
            b * b,
            1,
            f"DepthToSpace with blocksize {b} needs channels divisible by {b * b}, got {x.shape[1]}",
            x.shape,
        )
    else:
        for j in (2, 3):
            call.divides(
                x.shape[j],
                b,
                j,
                f"SpaceToDepth with blocksize {b} needs a size divisible by {b} on axis {j}, got {x.shape[j]}",
                x.shape,
            )
    if call.node.op == "DepthToSpace":
        dims = (x.shape[0], x.shape[1] // (b * b), *(d * b for d in x.shape[2:]))
    else:
        dims = (x.shape[0], x.shape[1] * b * b, *(d // b for d in x.shape[2:]))
    return call.row(x.shape, _T(dims))
