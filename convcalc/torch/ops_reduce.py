"""fx operation handlers: reductions (``sum``, ``mean``, ``amax``, ``median``, ``norm``, ...), and numpy's
``prod`` of a shape."""

from __future__ import annotations

from typing import Any

from convcalc._types import Shape
from convcalc.torch.ops_math import _binary
from convcalc.torch.values import (
    _Call,
    _describe_value,
    _handles,
    _index,
    _Pair,
    _prod,
    _scalar_dims,
    _Tensor,
    _tensor_arg,
)

# reductions torch refuses over an empty axis (a sum or a mean of nothing is 0 or nan); median and nanmedian only
# along a dim (of a whole empty tensor they give nan), mode always (its dim is -1 where none is given)
_NEEDS_VALUES = frozenset({"amax", "amin", "max", "min", "argmax", "argmin", "median", "nanmedian", "mode"})
# the reductions along a dim that give values and their indices (torch's namedtuple)
_WITH_INDICES = frozenset({"max", "min", "median", "nanmedian", "mode"})


def _not_empty(call: _Call, shape: Shape, j: int) -> None:
    def message() -> str:
        return (
            f"{call.where}: reduces axis {j}, which is empty (size {shape[j]}); {call.kind} of no values has no "
            f"answer. Received: input_shape={tuple(shape)}"
        )

    call.require_at_least(shape[j], 1, j, message, f"{call.kind} over values")


#: the reductions torch takes over one dim only (``x.sum((1, 2))`` runs, ``x.prod((1, 2))`` is a TypeError)
_ONE_DIM = frozenset({"prod", "argmax", "argmin", "max", "min", "median", "nanmedian", "mode"})


# the keyword arguments torch's reductions take (numpy's names become these before a handler sees them)
_REDUCE_KEYWORDS = frozenset({"input", "dim", "keepdim", "dtype", "out", "p", "unbiased", "correction"})


@_handles(
    "mean",
    "sum",
    "amax",
    "amin",
    "max",
    "min",
    "std",
    "var",
    "prod",
    "logsumexp",
    "argmax",
    "argmin",
    "all",
    "any",
    "norm",
    "nansum",
    "nanmean",
    "median",
    "nanmedian",
    "mode",
)
def _reduce(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    first = args[0] if args else kwargs.get("input")
    if call.kind == "prod" and isinstance(first, (tuple, list)):
        return _numpy_prod(call, first, args[1:], kwargs)
    if call.kind in ("max", "min") and ((len(args) > 1 and isinstance(args[1], _Tensor)) or "other" in kwargs):
        return _binary(_Call(call.ctx, call.name, "maximum" if call.kind == "max" else "minimum"), args, kwargs)
    t = _tensor_arg(call, first)
    rest = list(args[1:])
    if call.kind == "norm":  # norm(input, p='fro', dim=None, keepdim=False)
        rest = rest[1:]
    unknown = sorted(set(kwargs) - _REDUCE_KEYWORDS)
    if unknown:  # (numpy's axis and keepdims are torch's names on its native functions, not on torch.norm)
        raise call.spec_error(
            f"{call.kind}() takes no argument {unknown[0]!r}, as torch raises TypeError; write dim= and keepdim=",
            **{unknown[0]: kwargs[unknown[0]]},
        )
    dim = kwargs.get("dim", rest[0] if rest else None)
    position = 2 if call.kind in ("std", "var") else 1  # std(input, dim, unbiased, keepdim)
    keepdim = kwargs.get("keepdim", rest[position] if len(rest) > position else False)
    if dim is None and call.kind == "mode":  # mode(input, dim=-1, keepdim=False)
        dim = -1
    rank = len(t.shape)
    if dim is None and call.kind in ("logsumexp",):
        raise call.spec_error("needs dim", dim=dim)
    if dim is None or dim == () or _scalar_dims(call, dim, t.shape):
        reduced = set(range(rank))
    else:
        if isinstance(dim, tuple) and call.kind in _ONE_DIM:  # torch: prod() received an invalid combination
            raise call.spec_error(f"{call.kind} takes one dim, as an int, not a tuple", dim=dim)
        dims = dim if isinstance(dim, tuple) else (dim,)
        reduced = {_index(call, d, rank, t.shape) for d in dims}
        if len(reduced) < len(dims):  # torch: dim 1 appears multiple times in the list of dims
            raise call.spec_error("names a dim more than once (torch: RuntimeError)", dim=dim)
    # torch: Expected reduction dim to have non-zero size (its meta kernels of median and mode skip the check)
    if call.kind in _NEEDS_VALUES and not (dim is None and call.kind in ("median", "nanmedian")):
        for j in sorted(reduced):
            _not_empty(call, t.shape, j)
    shape = tuple(1 if j in reduced else d for j, d in enumerate(t.shape) if keepdim or j not in reduced)
    k = len(t.rf) if t.rf is not None else 0
    rf = t.rf if k and not any(j >= rank - k for j in reduced) else None
    positions = call.kind in ("argmax", "argmin")  # integers: the indices of the values
    out = call.row(t.shape, _Tensor(shape, rf, t.const, integral=positions))
    if call.kind in _WITH_INDICES and dim is not None and dim != ():
        return _Pair((out, _Tensor(shape, rf, t.const, integral=True)))
    return out


def _numpy_prod(call: _Call, sizes: tuple[Any, ...] | list[Any], rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``numpy.prod(x.shape[1:])`` (the flatten idiom ``x.view(x.size(0), int(np.prod(x.shape[1:])))``): numpy
    asks the traced sizes for a ``prod`` method, which a tuple of sizes has only while it is traced (torch's
    ``torch.Size`` has none, and numpy multiplies it itself), so the call is numpy's: the product of the sizes,
    as ``math.prod`` gives it (1.0 for no sizes, as numpy's is). numpy's arguments that reduce a flat sequence
    whole are taken (``axis`` None, 0 or -1; no ``dtype``, ``out`` or ``initial``); others are refused."""
    whole = (None, 0, -1)
    extra = {
        k: v
        for k, v in kwargs.items()
        # (a traced call's numpy names read as torch's: ``axis`` as ``dim``, ``keepdims`` as ``keepdim``)
        if not (v is None or (k in ("axis", "dim") and v in whole) or (k in ("keepdims", "keepdim") and v is False))
    }
    if rest and not (len(rest) == 1 and rest[0] in whole):
        extra["axis"] = rest[0]
    if extra:
        raise call.spec_error(
            "convcalc follows numpy.prod of a shape as the product of its sizes, with no other arguments; write "
            "math.prod(x.shape[1:]) (or x[0].numel()) for the product of sizes",
            arguments=", ".join(f"{k}={_describe_value(v)}" for k, v in extra.items()),
        )
    for d in sizes:
        if d is None or isinstance(d, (_Tensor, bool, str, tuple, list, dict)):
            raise call.spec_error(
                "convcalc follows numpy.prod of sizes only (a shape, or a tuple of sizes); numpy.prod of tensor "
                "values depends on data. Write math.prod(...) of sizes, or torch.prod(tensor) for values",
                argument=_describe_value(tuple(sizes)),
            )
    if not sizes:
        return 1.0  # numpy's product of nothing is a float
    return _prod(sizes)
