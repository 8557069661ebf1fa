"""fx operation handlers of the losses a forward computes beside its outputs (``F.cross_entropy(logits, targets)``
in a language model given its targets): their shapes and torch's checks of the target against the input; no
multiply-accumulates."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from convcalc.torch.nodes import _torch
from convcalc.torch.ops_math import _broadcast
from convcalc.torch.values import _Call, _handles, _same, _Tensor, _tensor_arg

# losses of each element, the target broadcasting with the input; and those that want the input's very shape
_ELEMENTWISE = frozenset({"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss"})
_INTO_INPUT = frozenset({"soft_margin_loss"})  # the target broadcasts to the input's shape (computed in place)
_SAME_SIZE = frozenset({"binary_cross_entropy", "binary_cross_entropy_with_logits"})
_REDUCTIONS = ("none", "mean", "sum")


@_handles("cross_entropy", "nll_loss", *_ELEMENTWISE, *_INTO_INPUT, *_SAME_SIZE)
def _loss(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The loss: the input's shape less its class axis (``cross_entropy``, ``nll_loss``) or the broadcast shape
    of input and target, per element with ``reduction="none"``, else a 0-D tensor."""
    if not call.functional:  # torch's builtins of these names take the reduction as an int, and more arguments
        raise call.spec_error(f"convcalc follows F.{call.kind} as torch.nn.functional writes it", arguments=len(args))
    bound = _bound(call, args, kwargs)
    x, t = _tensor_arg(call, bound.get("input")), _tensor_arg(call, bound.get("target"))
    reduction = _reduction(bound)
    allowed = (*_REDUCTIONS, "batchmean") if call.kind == "kl_div" else _REDUCTIONS
    if reduction not in allowed:  # torch: ... is not a valid value for reduction
        raise call.spec_error(f"reduction must be one of {', '.join(allowed)}", reduction=reduction)
    if call.kind in ("cross_entropy", "nll_loss"):
        shape = _per_class(call, x, t, bound.get("weight"))
    elif call.kind in _SAME_SIZE:  # torch: Target size (...) must be the same as input size (...)
        shape = tuple(x.shape)
        _fits(call, x, t, t.shape, shape, f"the target's shape {tuple(t.shape)} must be the input's")
    else:
        shape = _broadcast(call, [x.shape, t.shape])
        if call.kind in _INTO_INPUT:  # torch: output with shape [...] doesn't match the broadcast shape [...]
            _fits(call, x, t, shape, x.shape, f"the target's shape {tuple(t.shape)} must broadcast to the input's")
    return call.row(x.shape, _Tensor(shape if reduction == "none" else ()))


def _bound(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, as ``torch.nn.functional``'s function binds them (a weight or a legacy
    ``reduce`` given by position too), its defaults filled in."""
    try:
        bound = _signature(call.kind).bind(*args, **kwargs)
    except TypeError as exc:  # fx records what Python accepted, so only a call convcalc rebuilt differently
        raise call.spec_error(f"takes the arguments of F.{call.kind} ({exc})", arguments=len(args)) from None
    bound.apply_defaults()
    return dict(bound.arguments)


@functools.cache
def _signature(kind: str) -> inspect.Signature:
    return inspect.signature(getattr(_torch().nn.functional, kind))


def _reduction(bound: dict[str, Any]) -> Any:
    """The reduction torch applies: the legacy ``size_average`` and ``reduce``, where either is given, decide it
    in place of ``reduction`` (torch's ``_Reduction.legacy_get_string``: ``reduce=False`` is per element)."""
    size_average, reduce = bound.get("size_average"), bound.get("reduce")
    if size_average is None and reduce is None:
        return bound.get("reduction", "mean")
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "mean" if size_average and reduce else "sum" if reduce else "none"


def _fits(call: _Call, x: _Tensor, t: _Tensor, have: Any, want: Any, rank_message: str) -> None:
    """``have`` is ``want``: as many axes (else ``rank_message``), each of the same size (a condition where the
    sizes are symbols); torch refuses the target otherwise."""
    if len(have) != len(want):
        raise call.shape_error(rank_message, x.shape)
    for axis, (a, b) in enumerate(zip(want, have, strict=True)):
        call.require_equal(a, b, axis, lambda: _differs(call, x, t))


def _per_class(call: _Call, x: _Tensor, t: _Tensor, weight: Any) -> tuple[Any, ...]:
    """``cross_entropy`` / ``nll_loss`` of scores ``(C)``, ``(N, C)`` or ``(N, C, d1, ...)``: targets of class
    indices of the scores' shape less the class axis, or (``cross_entropy``) class probabilities of the scores'
    very shape; the shape per element is the scores' less the class axis."""
    rank = len(x.shape)
    if rank == 0:  # torch: input tensor should be 1D or 2D (or more, the class axis second)
        raise call.shape_error("takes scores of 1 dim or more (the classes on axis 1, or 0 for one sample)", x.shape)
    classes = x.shape[1] if rank > 1 else x.shape[0]
    rest = (x.shape[0], *x.shape[2:]) if rank > 1 else ()
    # torch takes a target of the scores' very shape for class probabilities (cross_entropy), which are floats
    probabilities = (
        call.kind == "cross_entropy"
        and len(t.shape) == rank
        and all(_same(a, b) is True for a, b in zip(x.shape, t.shape, strict=True))
    )
    if probabilities and t.integral:  # torch: Expected floating point type for target with class probabilities
        raise call.spec_error("a target of the scores' shape holds class probabilities: floats, not indices")
    if isinstance(weight, _Tensor):  # torch: weight tensor should be defined either for all or no classes
        if len(weight.shape) != 1:
            raise call.shape_error(
                f"takes a weight of one value per class, not of shape {tuple(weight.shape)}", x.shape
            )
        call.require_equal(weight.shape[0], classes, 0, lambda: _differs(call, x, weight, "weight"))
    want = tuple(x.shape) if probabilities else rest
    if rank == 1 and tuple(t.shape) in ((), (1,)):  # one sample: its class, also as a 1-D target of one
        return ()
    # torch: Expected input batch_size ... / 0D or 1D target tensor expected
    kinds = "class indices or probabilities" if call.kind == "cross_entropy" else "class indices"
    _fits(call, x, t, t.shape, want, f"takes targets of shape {want} ({kinds}), not {tuple(t.shape)}")
    return rest


def _differs(call: _Call, x: _Tensor, other: _Tensor, name: str = "target") -> str:
    return (
        f"{call.where}: the {name} has shape {tuple(other.shape)}, which does not fit the input of shape "
        f"{tuple(x.shape)}. Received: input_shape={tuple(x.shape)}, {name}_shape={tuple(other.shape)}"
    )
