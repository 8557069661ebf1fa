"""Node handlers of shape operations, followed on the values too (``Shape``, ``Gather``, ``Reshape``, ...)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from convcalc._plan import ReceptiveField
from convcalc._types import Shape
from convcalc.formulas import ceil_div
from convcalc.nn import _merge_rf
from convcalc.onnx_reader._arith import _broadcast
from convcalc.onnx_reader._graph import _K, _T, _Call, _handles
from convcalc.onnx_reader._proto import _SMALL
from convcalc.onnx_reader._values import _arr, _axis, _const_out, _consts, _from_arr, _ints, _prod, _tensor


def _reshape_dims(call: _Call, old: tuple[Any, ...], sizes: tuple[Any, ...]) -> tuple[Any, ...]:
    allowzero = call.node.attr("allowzero", 0)
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
    q = sympy().cancel(to_sympy(numel) / to_sympy(known))
    form = FloorForm.parse(q)
    return form if form is not None else q


@_handles("Reshape")
def _reshape(call: _Call, args: list[Any]) -> Any:
    x = args[0]
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


@_handles("Squeeze")
def _squeeze(call: _Call, args: list[Any]) -> Any:
    x = args[0]
    rank = len(x.shape)
    axes = _axes_arg(call, args, 1)
    if axes is None:
        drop = {j for j, d in enumerate(x.shape) if type(d) is int and d == 1}
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
    where = sorted(_axis(call, a, rank, "axes") for a in axes)
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
    axis = _axis(call, call.node.attr("axis", 0), rank)
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


def _slice_len(call: _Call, size: Any, start: Any, end: Any, step: Any, axis: int, shape: Shape) -> Any:
    big = 2**62
    if type(size) is int:
        s, e = start, end
        if step > 0:
            s = max(0, min(size, s + size if s < 0 else s))
            e = max(0, min(size, e + size if e < 0 else e))
            return max(0, ceil_div(e - s, step))
        s = max(-1, min(size - 1, s + size if s < 0 else s))
        e = max(-1, min(size - 1, e + size if e < 0 else e))
        return max(0, ceil_div(s - e, -step))
    # symbolic size: starts/ends counted from the front within the size, or from the back
    if step == 1:
        from convcalc._backend import smax, smin

        # ONNX clamps starts and ends to [0, size]: a constant one counts only up to the size, a negative one
        # (from the back) no further than the front
        lo = (smin(start, size) if start > 0 else start) if start >= 0 else smax(size + start, 0)
        hi = size if end >= big // 2 else (smin(end, size) if end >= 0 else smax(size + end, 0))
        out = hi - lo
        if type(start) is int and start < 0 and end >= big // 2:
            return smin(-start, size)
        call.at_least(
            out, 0, axis, f"Slice [{start}:{end}] leaves no elements on axis {axis}", "slice non-empty", shape
        )
        return out
    raise call.spec_error("convcalc follows a Slice of a symbolic size with step 1 only", steps=step)


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
    dims = list(x.shape)
    picks: dict[int, tuple[Any, Any, Any]] = {}
    for st, en, ax, sp in zip(starts, ends, axes, steps, strict=True):
        a = _axis(call, ax, rank, "axes")
        if sp == 0:
            raise call.spec_error("steps must not be 0", steps=steps)
        dims[a] = _slice_len(call, x.shape[a], st, en, sp, a, x.shape)
        picks[a] = (st, en, sp)
    if isinstance(x, _K):
        a = _arr(x)
        if a is None:
            return _K(tuple(dims), None)
        index = tuple(slice(*picks[j]) if j in picks else slice(None) for j in range(rank))
        return _from_arr(a[index])
    return call.row(x.shape, _T(tuple(dims), x.rf if all(a < 2 for a in picks) else None))


@_handles("Split")
def _split(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    axis = _axis(call, call.node.attr("axis", 0), rank)
    if len(args) > 1 and args[1] is not None:
        parts = _ints(call, args[1], "split")
    elif call.node.attr("split") is not None:
        parts = tuple(call.node.attr("split"))
    else:
        n = call.node.attr("num_outputs") or len(call.node.outputs)
        size = x.shape[axis]
        if type(size) is not int:
            raise call.spec_error("convcalc splits a symbolic axis only with explicit split sizes", axis=axis)
        chunk = ceil_div(size, n)
        parts = tuple(min(chunk, size - j * chunk) for j in range(n))
    call.equal(sum(parts), x.shape[axis], axis, f"Split sizes {parts} do not add up to {x.shape[axis]}", x.shape)
    outs = []
    for j, p in enumerate(parts):
        dims = tuple(p if k == axis else d for k, d in enumerate(x.shape))
        t = _T(dims, x.rf if axis < 2 else None)
        sub = _Call(call.ctx, call.node, call.path, call.opset)
        if j == 0:
            sub.row(x.shape, t)
        outs.append(t)
    return outs


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
    if not isinstance(idx, _K):
        raise call.spec_error("Gather indices must be constant", indices="a computed tensor")
    dims = (*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])
    if isinstance(x, _K):
        a, i = _arr(x), _arr(idx)
        if a is None or i is None:
            return _K(dims, None)
        import numpy as np

        n = a.shape[axis]
        return _from_arr(
            np.take(a, np.asarray([int(v) % n for v in i.reshape(-1).tolist()]).reshape(i.shape), axis=axis)
        )
    return call.row(x.shape, _T(dims))


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
    value = call.node.attr("value")
    fill = value[1][0] if value is not None and value[1] else 0.0
    n = _prod(dims)
    return _K(dims, (fill,) * n if type(n) is int and n <= _SMALL else None)


@_handles("Range")
def _range(call: _Call, args: list[Any]) -> Any:
    start, limit, delta = (_consts(call, a, "range")[0] for a in args)
    if all(type(v) is int for v in (start, limit, delta)) and delta != 0:
        vals = tuple(range(start, limit, delta))
        return _K((len(vals),), vals)
    n = ceil_div(limit - start, delta) if type(delta) is int and delta > 0 else None
    return _K((n,), None)


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
    picked = set(range(rank)) if not axes else {_axis(call, a, rank, "axes") for a in axes}
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
    axes = tuple(_axis(call, a, rank, "axes") for a in axes)
    if len(pads) != 2 * len(axes):
        raise call.spec_error(f"pads needs {2 * len(axes)} values (begin and end of {len(axes)} axes)", pads=pads)
    dims = list(x.shape)
    begins = [0] * rank
    for n, a in enumerate(axes):
        b, e = pads[n], pads[n + len(axes)]
        dims[a] = x.shape[a] + b + e
        begins[a] = b
        call.at_least(dims[a], 1, a, f"pads {b}, {e} leave nothing of axis {a}", "size at least 1", x.shape)
    rf = None
    if x.rf is not None and rank >= 2:
        rf = tuple(ReceptiveField(r.size, r.jump, r.start - b * r.jump) for r, b in zip(x.rf, begins[2:], strict=False))
    return call.row(x.shape, _T(tuple(dims), rf))


def _scaled(call: _Call, size: Any, scale: Any, axis: int, shape: Shape) -> Any:
    frac = Fraction(scale).limit_denominator(1 << 24) if isinstance(scale, float) else Fraction(scale)
    if frac.denominator == 1:
        out = size * frac.numerator
    elif type(size) is int:
        import numpy as np  # ORT multiplies in float32

        out = math.floor(float(np.float32(scale)) * size) if frac != Fraction(scale) else math.floor(size * frac)
    else:
        out = (size * frac.numerator) // frac.denominator
    call.at_least(out, 1, axis, f"scale {scale} leaves no element on axis {axis}", "size at least 1", shape)
    return out


@_handles("Resize", "Upsample")
def _resize(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    rank = len(x.shape)
    if call.node.op == "Upsample" or (call.opset < 11 and len(args) == 2):
        scales: tuple[Any, ...] | None = (
            _consts(call, args[1], "scales") if len(args) > 1 else tuple(call.node.attr("scales"))
        )
        sizes = None
    else:
        scales = (
            _consts(call, args[2], "scales") if len(args) > 2 and args[2] is not None and _nonempty(args[2]) else None
        )
        sizes = _ints(call, args[3], "sizes") if len(args) > 3 and args[3] is not None and _nonempty(args[3]) else None
    axes = tuple(_axis(call, a, rank, "axes") for a in (call.node.attr("axes") or range(rank)))
    dims = list(x.shape)
    if sizes is not None:
        for a, s in zip(axes, sizes, strict=True):
            dims[a] = s
    elif scales is not None:
        if len(scales) != len(axes):
            raise call.spec_error(f"scales needs {len(axes)} values", scales=scales)
        for a, s in zip(axes, scales, strict=True):
            dims[a] = _scaled(call, x.shape[a], s, a, x.shape)
    else:
        raise call.spec_error("Resize needs scales or sizes", inputs=len(args))
    return call.row(x.shape, _T(tuple(dims)))


def _nonempty(value: Any) -> bool:
    return not (isinstance(value, _K) and value.shape and value.shape[0] == 0)


@_handles("SpaceToDepth", "DepthToSpace")
def _depth(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    b = call.node.attr("blocksize")
    if call.node.op == "DepthToSpace":
        dims = (x.shape[0], x.shape[1] // (b * b), *(d * b for d in x.shape[2:]))
    else:
        dims = (x.shape[0], x.shape[1] * b * b, *(d // b for d in x.shape[2:]))
    return call.row(x.shape, _T(dims))
