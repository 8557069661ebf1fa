"""fx operation handlers: selections and comparisons (topk, sort, index_select, gather, diff, repeat_interleave,
glu, std_mean, outer, cdist, cosine_similarity, meshgrid), the factories eye and linspace, and affine_grid.

Each keeps torch's rules on ranks and sizes; a size that depends on the input is followed where the result's
shape is a function of sizes, and refused where it depends on a tensor's values (``repeat_interleave`` by a
tensor of counts).
"""

from __future__ import annotations

import functools
from typing import Any

from convcalc._types import Shape
from convcalc.torch.ops_index import _indices_inside
from convcalc.torch.ops_math import _broadcast
from convcalc.torch.ops_shape import _of_call_kind
from convcalc.torch.values import (
    NeedsDataError,
    RunRefusedError,
    _bind,
    _Call,
    _handles,
    _index,
    _is_int,
    _is_size,
    _negated,
    _Pair,
    _prod,
    _scalar_dims,
    _size,
    _SizeTensor,
    _sum,
    _Tensor,
    _tensor_arg,
    require_inside,
)

# -- selections ---------------------------------------------------------------- #


@_handles("topk")
def _topk(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.topk(k, dim=-1)``: values and indices with ``k`` along ``dim``, which must hold at least ``k``."""
    bound = _bind(
        call, args, kwargs, ("input", "k", "dim", "largest", "sorted"), {"dim": -1, "largest": True, "sorted": True}
    )
    t, k = _tensor_arg(call, bound["input"]), bound["k"]
    if not _is_size(k):
        raise call.spec_error("k must be an int or a size", k=k)
    shape = tuple(t.shape)
    if not shape:  # a 0-d tensor: its one value, for k of 0 or 1
        if k not in (0, 1):
            raise call.shape_error(
                f"k={k} must be 0 or 1 for a 0-d tensor (torch: selected index k out of range)", shape
            )
        return _Pair((call.row(shape, _Tensor(())), _Tensor((), integral=True)))
    j = _index(call, bound["dim"], len(shape), shape)
    call.require_at_least(k, 0, j, lambda: _k_message(call, k, shape[j], shape), "k not negative")
    call.require_at_least(
        _sum((shape[j], _negated(k))), 0, j, lambda: _k_message(call, k, shape[j], shape), "k fits the axis"
    )
    out = (*shape[:j], _size(k), *shape[j + 1 :])
    return _Pair((call.row(shape, _Tensor(out)), _Tensor(out, integral=True)))


def _k_message(call: _Call, k: Any, size: Any, shape: Shape) -> str:
    return (
        f"{call.where}: k={k} must be between 0 and the axis' size {size} (torch: selected index k out of range). "
        f"Received: input_shape={shape}"
    )


@_handles("sort", "argsort", "msort")
def _sort(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.sort(dim)``: values and indices of the input's shape; ``argsort`` the indices alone."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    shape = tuple(t.shape)
    rest = [a for a in args[1:] if not isinstance(a, bool)]  # sort(input, dim, descending) or sort(stable=, ...)
    dim = kwargs.get("dim", rest[0] if rest else -1 if call.kind != "msort" else 0)
    if not _scalar_dims(call, dim, shape):
        _index(call, dim, len(shape), shape)
    out = call.row(shape, _Tensor(shape))
    if call.kind == "argsort":
        return _Tensor(shape, integral=True)
    return out if call.kind == "msort" else _Pair((out, _Tensor(shape, integral=True)))


@_handles("index_select")
def _index_select(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.index_select(dim, index)``: ``dim`` takes the index's length (a 0-d or 1-D index)."""
    bound = _bind(call, args, kwargs, ("input", "dim", "index"), {})
    t, index = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["index"])
    if len(index.shape) > 1:
        raise call.shape_error(f"the index must be 0-D or 1-D, not {len(index.shape)}-D {tuple(index.shape)}", t.shape)
    shape = tuple(t.shape)
    if not shape:
        return call.row(shape, _Tensor(()))
    j = _index(call, bound["dim"], len(shape), shape)
    if isinstance(index, _SizeTensor):  # values known (made from numbers or sizes): each must name an element
        _indices_inside(call, tuple(v for v in index.values if _is_int(v)), shape, j)
    require_inside(call, index, shape[j], j, f"axis {j}", negative=False)  # (torch takes no negative one here)
    count = index.shape[0] if index.shape else 1
    return call.row(shape, _Tensor((*shape[:j], count, *shape[j + 1 :])))


@_handles("gather", "take_along_dim")
def _gather(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.gather(dim, index)``: the index's shape, which has the input's rank and no larger size on the other axes
    (``take_along_dim(x, index, dim)`` broadcasts them instead)."""
    if call.kind == "take_along_dim":
        bound = _bind(call, args, kwargs, ("input", "indices", "dim"), {"dim": None})
        t, index = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["indices"])
        if bound["dim"] is None:
            return call.row(t.shape, _Tensor((_prod(index.shape),)))
        j = _index(call, bound["dim"], len(t.shape), t.shape)
        if len(index.shape) != len(t.shape):
            raise call.shape_error("the indices must have as many dims as the input", t.shape)
        others = [_Tensor((*s[:j], 1, *s[j + 1 :])) for s in (t.shape, index.shape)]
        lead = _broadcast(call, [o.shape for o in others])
        return call.row(t.shape, _Tensor((*lead[:j], index.shape[j], *lead[j + 1 :])))
    bound = _bind(call, args, kwargs, ("input", "dim", "index", "sparse_grad"), {"sparse_grad": False})
    t, index = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["index"])
    shape = tuple(t.shape)
    if len(index.shape) != len(shape) and not (len(shape) <= 1 and len(index.shape) <= 1):
        raise call.shape_error(
            f"the index must have as many dims as the input ({len(shape)}), not {len(index.shape)} (torch: Index "
            "tensor must have the same number of dimensions as input tensor)",
            shape,
        )
    j = _index(call, bound["dim"], max(len(shape), 1), shape or (1,))
    empty = any(_is_int(i) and i == 0 for i in index.shape)  # torch checks the sizes of an index that holds values
    for axis, (i, n) in enumerate(zip(index.shape, shape, strict=False)):
        if axis != j and not empty:
            call.require_at_least(
                _sum((n, _negated(i))),
                0,
                axis,
                functools.partial(_larger_index, call, index.shape, shape, axis),
                "gather index within the input",
            )
    if shape:
        require_inside(call, index, shape[j], j, f"axis {j}", negative=False)
    return call.row(shape, _Tensor(tuple(index.shape)))


@_handles("scatter", "scatter_add", "scatter_reduce")
def _scatter(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.scatter_(dim, index, src)`` (or a number for ``src``: a one-hot code), ``scatter_add``,
    ``scatter_reduce``: the input's shape, written where the index says; the index has the input's rank and no
    larger size than the source on any axis, nor than the input on the others."""
    names = ("input", "dim", "index", "src", "reduce", "include_self")
    values = {**kwargs, **({"src": kwargs["value"]} if "value" in kwargs else {})}
    values.pop("value", None)
    bound = _bind(call, args, values, names, {"reduce": None, "include_self": True})
    t, index, src = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["index"]), bound["src"]
    shape = tuple(t.shape)
    j = _index(call, bound["dim"], max(len(shape), 1), shape or (1,))
    if not any(_is_int(i) and i == 0 for i in index.shape):  # torch checks the sizes of an index that holds values
        # (a 0-D tensor counts as one dim of size 1)
        ranked = [("the input", "self", shape)] + (
            [("the source", "src", tuple(src.shape))] if isinstance(src, _Tensor) else []
        )
        for name, torch_name, dims in ranked:
            if max(len(dims), 1) != max(len(index.shape), 1):
                raise call.shape_error(
                    f"the index must have as many dims as {name} ({len(dims)}), not {len(index.shape)} (torch: "
                    f"Index tensor must have the same number of dimensions as {torch_name} tensor)",
                    shape,
                )
        ranked = [(name, torch_name, dims or (1,)) for name, torch_name, dims in ranked]
        for name, _, within in ranked:
            for axis, (i, n) in enumerate(zip(tuple(index.shape) or (1,), within, strict=True)):
                if name == "the input" and axis == j:
                    continue
                call.require_at_least(
                    _sum((n, _negated(i))),
                    0,
                    axis,
                    functools.partial(_index_within, call, index.shape, within, name, axis, j, shape),
                    f"scatter index within {name}",
                )
    const = t.const and index.const and (not isinstance(src, _Tensor) or src.const)
    return call.row(shape, _Tensor(shape, None, const))


def _index_within(call: _Call, index: Shape, within: Shape, name: str, axis: int, dim: int, shape: Shape) -> str:
    return (
        f"{call.where}: the index's size {index[axis]} on axis {axis} is larger than {name}'s {within[axis]} "
        f"(torch: Expected index to be no larger than self apart from dimension {dim} and to be no larger size "
        f"than src). "
        f"Received: input_shape={shape}"
    )


def _larger_index(call: _Call, index: Shape, shape: Shape, axis: int) -> str:
    return (
        f"{call.where}: the index's size {index[axis]} on axis {axis} is larger than the input's {shape[axis]} "
        f"(torch: Size does not match at dimension {axis}). Received: input_shape={shape}"
    )


def _unmatched(call: _Call, name: str, shape: Shape) -> str:
    return f"{call.where}: {name} must match the input on every axis but dim. Received: input_shape={shape}"


def _negative(call: _Call, name: str, value: Any) -> str:
    return f"{call.where}: {name} must not be negative. Received: {name}={value}"


# -- differences, repeats, gates ------------------------------------------------- #


@_handles("diff")
def _diff(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.diff(x, n, dim, prepend, append)``: the axis (with what is prepended and appended) less ``n``, or
    empty where ``n`` is larger."""
    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "n", "dim", "prepend", "append"),
        {"n": 1, "dim": -1, "prepend": None, "append": None},
    )
    t, n = _tensor_arg(call, bound["input"]), bound["n"]
    shape = tuple(t.shape)
    if not shape:
        raise call.shape_error(
            "diff takes a tensor of at least 1 dim (torch: diff expects input to be at least one-dimensional)", shape
        )
    if not _is_int(n) or n < 0:
        raise call.spec_error("n must be an int >= 0 (torch: order must be non-negative)", n=n)
    parts: list[Any] = [0]  # the input's size along dim first, once dim is known to be in range
    for name in ("prepend", "append"):
        other = bound[name]
        if other is None:
            continue
        o = _tensor_arg(call, other)
        if len(o.shape) != len(shape):
            raise call.shape_error(
                f"{name} must have the input's {len(shape)} dims, not {len(o.shape)} (torch: diff expects prepend or "
                "append to be the same dimension as input)",
                shape,
            )
        j = _index(call, bound["dim"], len(shape), shape)
        for axis, (a, b) in enumerate(zip(o.shape, shape, strict=True)):
            if axis != j:
                call.require_equal(a, b, axis, functools.partial(_unmatched, call, name, shape))
        parts.append(o.shape[j])
    if n == 0:  # torch hands the input back as it is once prepend and append are checked
        return call.row(shape, _Tensor(shape, t.rf))
    j = _index(call, bound["dim"], len(shape), shape)
    parts[0] = shape[j]
    total = _sum(parts)
    if _is_int(total):
        size: Any = max(total - n, 0)
    else:
        from convcalc._backend import smax
        from convcalc._symbolic import to_sympy

        size = _size(smax(to_sympy(total) - n, 0))
    return call.row(shape, _Tensor((*shape[:j], size, *shape[j + 1 :])))


@_handles("repeat_interleave")
def _repeat_interleave(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.repeat_interleave(r, dim)`` with a whole ``r``: that axis ``r`` times longer (the flattened input without
    ``dim``); counts held in a tensor are values, which no size tells."""
    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "repeats", "dim", "output_size"),
        {"repeats": None, "dim": None, "output_size": None},
    )
    t, repeats = _tensor_arg(call, bound["input"]), bound["repeats"]
    if repeats is None or isinstance(repeats, _Tensor):  # the counts are values: torch's machinery plans it
        raise NeedsDataError(
            f"{call.where}: repeat_interleave by counts held in a tensor repeats each slice by its value, which "
            "convcalc cannot know from sizes. Received: repeats=a tensor"
        )
    if not _is_size(repeats):
        raise call.spec_error("repeats must be an int, a size or a tensor of counts", repeats=repeats)
    call.require_at_least(
        repeats,
        0,
        0,
        lambda: f"{call.where}: repeats must not be negative. Received: repeats={repeats}",
        "repeats not negative",
    )
    shape = tuple(t.shape)
    if bound["dim"] is None:
        return call.row(shape, _Tensor((_prod((*shape, repeats)),)))
    j = _index(call, bound["dim"], len(shape), shape)
    return call.row(shape, _Tensor((*shape[:j], _prod((shape[j], repeats)), *shape[j + 1 :])))


@_handles("glu")
def _glu(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.glu(x, dim=-1)``: halves ``dim``, whose size must be even."""
    bound = _bind(call, args, kwargs, ("input", "dim"), {"dim": -1})
    t = _tensor_arg(call, bound["input"])
    shape = tuple(t.shape)
    if not shape:
        raise call.shape_error("glu does not take a 0-d tensor (torch: glu does not support scalars)", shape)
    j = _index(call, bound["dim"], len(shape), shape)
    size = shape[j]

    def odd() -> str:
        return (
            f"{call.where}: halving dimension {j} must be even, but it is size {size} (torch: Halving dimension must "
            f"be even). Received: input_shape={shape}"
        )

    if _is_int(size):
        if size % 2:
            from convcalc._errors import ShapeError

            raise ShapeError(odd())
        half: Any = size // 2
    else:
        call.ctx.divides(size, 2, call.name, j, odd, "glu halves an even axis")
        from convcalc._symbolic import to_sympy

        half = _size(to_sympy(size) / 2)
    return call.row(shape, _Tensor((*shape[:j], half, *shape[j + 1 :])))


# -- statistics and distances ----------------------------------------------------- #


@_handles("std_mean", "var_mean")
def _moments(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.std_mean(x, dim, keepdim=...)``: the reduction's shape, twice."""
    from convcalc.torch.ops_reduce import _reduce

    with _of_call_kind(call):
        reduced = _reduce(_Call(call.ctx, call.name, "std" if call.kind == "std_mean" else "var"), args, kwargs)
    return _Pair((reduced, _Tensor(reduced.shape, reduced.rf)))


@_handles("cdist")
def _cdist(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.cdist(x1, x2)``: ``(*batch, P, M)`` and ``(*batch, R, M)`` give ``(*batch, P, R)``, the batches
    broadcast."""
    bound = _bind(
        call,
        args,
        kwargs,
        ("x1", "x2", "p", "compute_mode"),
        {"p": 2.0, "compute_mode": "use_mm_for_euclid_dist_if_necessary"},
    )
    x1, x2 = _tensor_arg(call, bound["x1"]), _tensor_arg(call, bound["x2"])
    if len(x1.shape) < 2 or len(x2.shape) < 2:
        raise call.shape_error(
            f"cdist takes tensors of at least 2 dims, not {len(x1.shape)}-D and {len(x2.shape)}-D (torch: cdist only "
            "supports at least 2D tensors)",
            x1.shape,
        )
    call.require_equal(
        x1.shape[-1],
        x2.shape[-1],
        len(x1.shape) - 1,
        lambda: (
            f"{call.where}: x1 and x2 must have the same number of columns, not {x1.shape[-1]} and {x2.shape[-1]} "
            f"(torch: X1 and X2 must have the same number of columns). Received: input_shape={tuple(x1.shape)}"
        ),
    )
    batch = _broadcast(call, [x1.shape[:-2], x2.shape[:-2]])
    return call.row(x1.shape, _Tensor((*batch, x1.shape[-2], x2.shape[-2])))


@_handles("cosine_similarity", "pairwise_distance")
def _similarity(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.cosine_similarity(x1, x2, dim=1)``: the broadcast shape without ``dim`` (``pairwise_distance`` reduces
    the last axis, kept with ``keepdim``)."""
    if call.kind == "cosine_similarity":
        bound = _bind(call, args, kwargs, ("x1", "x2", "dim", "eps"), {"dim": 1, "eps": 1e-8})
        keep = False
    else:
        bound = _bind(
            call, args, kwargs, ("x1", "x2", "p", "eps", "keepdim"), {"p": 2.0, "eps": 1e-6, "keepdim": False}
        )
        bound["dim"], keep = -1, bool(bound["keepdim"])
    x1, x2 = _tensor_arg(call, bound["x1"]), _tensor_arg(call, bound["x2"])
    shape = _broadcast(call, [x1.shape, x2.shape])
    if not shape:
        return call.row(x1.shape, _Tensor(()))
    j = _index(call, bound["dim"], len(shape), shape)
    out = (*shape[:j], 1, *shape[j + 1 :]) if keep else (*shape[:j], *shape[j + 1 :])
    return call.row(x1.shape, _Tensor(out))


# -- grids and factories ------------------------------------------------------------ #


@_handles("meshgrid")
def _meshgrid(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.meshgrid(a, b, indexing="ij")``: one tensor per input, each of the inputs' lengths (``"xy"`` swaps
    the first two)."""
    tensors = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    tensors = tuple(_tensor_arg(call, t) for t in tensors)
    if not tensors:
        raise call.spec_error("meshgrid takes at least one tensor", tensors=0)
    for t in tensors:
        if len(t.shape) > 1:
            raise call.shape_error(f"meshgrid takes 0-D or 1-D tensors, not {len(t.shape)}-D", t.shape)
    indexing = kwargs.get("indexing", "ij")
    if indexing not in ("ij", "xy"):
        raise call.spec_error("indexing must be 'ij' or 'xy'", indexing=indexing)
    sizes = [t.shape[0] if t.shape else 1 for t in tensors]
    if indexing == "xy" and len(sizes) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    const = all(t.const for t in tensors)
    return tuple(_Tensor(tuple(sizes), None, const) for _ in tensors)


@_handles("eye")
def _eye(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.eye(n, m=n)``: an ``(n, m)`` matrix made from sizes; no row, like a constant."""
    n = args[0] if args else kwargs.get("n")
    m = args[1] if len(args) > 1 and not isinstance(args[1], _Tensor) else kwargs.get("m", n)
    for name, value in (("n", n), ("m", m)):
        if not _is_size(value):
            raise call.spec_error(f"{name} must be an int or a size", **{name: value})
        call.require_at_least(
            value,
            0,
            0,
            functools.partial(_negative, call, name, value),
            f"eye {name} not negative",
        )
    return _Tensor((_size(n), _size(m)), None, const=True)


@_handles("linspace", "logspace")
def _linspace(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.linspace(start, end, steps)``: ``steps`` values (a size of a traced tensor too); no row."""
    steps = args[2] if len(args) > 2 else kwargs.get("steps")
    if not _is_size(steps):
        raise call.spec_error("steps must be an int or a size", steps=steps)
    call.require_at_least(
        steps, 0, 0, lambda: f"{call.where}: steps must not be negative. Received: steps={steps}", "steps not negative"
    )
    return _Tensor((_size(steps),), None, const=True)


@_handles("affine_grid")
def _affine_grid(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.affine_grid(theta, size)``: a sampling grid ``(N, H, W, 2)`` for ``size = (N, C, H, W)`` and theta
    ``(N, 2, 3)``; ``(N, D, H, W, 3)`` for a volume and theta ``(N, 3, 4)``."""
    bound = _bind(call, args, kwargs, ("theta", "size", "align_corners"), {"align_corners": None})
    theta, size = _tensor_arg(call, bound["theta"]), bound["size"]
    size = tuple(size) if isinstance(size, (tuple, list)) else size
    if not isinstance(size, tuple) or len(size) not in (4, 5) or not all(_is_size(d) for d in size):
        raise call.spec_error("size must be (N, C, H, W) or (N, C, D, H, W)", size=size)
    k = len(size) - 2
    if len(theta.shape) != 3 or theta.shape[1:] != (k, k + 1):
        raise call.shape_error(
            f"theta must be (N, {k}, {k + 1}) for a size of {len(size)} dims (torch: Expected a batch of "
            f"{k}D affine matrices of shape Nx{k}x{k + 1}), not {tuple(theta.shape)}",
            theta.shape,
        )
    call.require_equal(
        theta.shape[0],
        size[0],
        0,
        lambda: (
            f"{call.where}: theta holds {theta.shape[0]} matrices but the size's batch is {size[0]}. Received: "
            f"input_shape={tuple(theta.shape)}"
        ),
    )
    return call.row(theta.shape, _Tensor((size[0], *size[2:], k)))


@_handles("grid_sample")
def _grid_sample(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.grid_sample(x, grid)``: ``(N, C, H_out, W_out)`` for a 4-D input and grid ``(N, H_out, W_out, 2)``
    (5-D: ``(N, C, D_out, H_out, W_out)`` and a grid ending in 3)."""
    bound = _bind(
        call,
        args,
        kwargs,
        ("input", "grid", "mode", "padding_mode", "align_corners"),
        {"mode": "bilinear", "padding_mode": "zeros", "align_corners": None},
    )
    x, grid = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["grid"])
    shape = tuple(x.shape)
    if len(shape) not in (4, 5) or len(grid.shape) != len(shape) or grid.shape[-1] != len(shape) - 2:
        raise call.shape_error(
            f"grid_sample takes a 4-D input with a grid (N, H_out, W_out, 2), or a 5-D one with a grid ending in 3; "
            f"the grid is {tuple(grid.shape)} (torch: grid_sample(): expected grid to have size {len(shape) - 2} in "
            "last dimension)",
            shape,
        )
    call.require_equal(
        grid.shape[0],
        shape[0],
        0,
        lambda: (
            f"{call.where}: the grid's batch {grid.shape[0]} differs from the input's {shape[0]} (torch: "
            f"grid_sample(): expected grid and input to have same batch size). Received: input_shape={shape}"
        ),
    )
    return call.row(shape, _Tensor((shape[0], shape[1], *grid.shape[1:-1])))


@_handles("one_hot")
def _one_hot(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``F.one_hot(labels, num_classes)``: a last axis of ``num_classes``; left at -1, the count is the labels'
    largest value, which no size tells."""
    bound = _bind(call, args, kwargs, ("input", "num_classes"), {"num_classes": -1})
    t, classes = _tensor_arg(call, bound["input"]), bound["num_classes"]
    if classes == -1 or not _is_size(classes):
        raise NeedsDataError(
            f"{call.where}: one_hot without num_classes takes the count from the labels' largest value, which "
            f"convcalc cannot know from sizes. Received: num_classes={classes}"
        )
    call.require_at_least(classes, 0, 0, functools.partial(_negative, call, "num_classes", classes), "classes")
    require_inside(call, t, classes, len(t.shape), "num_classes", negative=False)  # torch: Class values must be smaller
    return call.row(t.shape, _Tensor((*t.shape, _size(classes)), integral=True))


@_handles("bucketize")
def _bucketize(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.bucketize(x, boundaries)``: each value's bucket, an integer of the input's shape, for boundaries of
    1 dim (torch checks that on data; its meta kernel does not)."""
    bound = _bind(
        call, args, kwargs, ("input", "boundaries", "out_int32", "right"), {"out_int32": False, "right": False}
    )
    t, edges = _tensor_arg(call, bound["input"]), bound["boundaries"]
    if not isinstance(edges, _Tensor) or len(edges.shape) != 1:  # torch: boundaries tensor must be 1 dimension
        error = call.spec_error("boundaries must be a tensor of 1 dim, the buckets' edges in order", boundaries=edges)
        raise RunRefusedError(str(error))
    return call.row(t.shape, _Tensor(t.shape, integral=True))


@_handles("multinomial")
def _multinomial(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.multinomial(probabilities, n)``: ``n`` indices drawn from each row of 1 or 2 dims, any of the row's;
    without replacement no more than the row holds (torch checks that on data; its meta kernel does not)."""
    bound = _bind(call, args, kwargs, ("input", "num_samples", "replacement"), {"replacement": False})
    t, n = _tensor_arg(call, bound["input"]), bound["num_samples"]
    if len(t.shape) not in (1, 2):  # torch: prob_dist must be 1 or 2 dim
        raise call.shape_error("takes probabilities of 1 or 2 dims", t.shape)
    if not _is_size(n):
        raise call.spec_error("num_samples must be a whole number", num_samples=n)
    call.require_at_least(  # torch: cannot sample n_sample <= 0 samples
        n,
        1,
        len(t.shape) - 1,
        lambda: f"{call.where}: num_samples must be at least 1. Received: num_samples={n}",
        "samples",
    )
    if bound["replacement"] is not True:  # torch: cannot sample n_sample > prob_dist.size(-1) samples without ...
        call.require_at_least(
            t.shape[-1] - n,
            0,
            len(t.shape) - 1,
            lambda: (
                f"{call.where}: draws {n} samples without replacement from rows of {t.shape[-1]}: draw at most "
                f"{t.shape[-1]}, or pass replacement=True. Received: input_shape={tuple(t.shape)}"
            ),
            "samples within the row",
        )
    # the drawn indices, each a category of the row (a category of weight 0 is never drawn: a wider bound)
    return call.row(t.shape, _Tensor((*t.shape[:-1], _size(n)), integral=True, span=(0, _sum((t.shape[-1], -1)))))
