"""fx operation handlers of torch's random draws: ``torch.rand``, ``randn``, ``randint``, ``randperm``, ``normal``,
``bernoulli``, ``poisson``, the ``*_like`` ones and the tensor methods that draw in place (``x.uniform_()``,
``x.bernoulli_(p)``, ``x.random_(0, 10)``). Their values are unknown to the plan, which follows their shapes; a
tensor of drawn whole numbers keeps the bounds it is drawn from (``randint(low, high)``: ``low`` to ``high - 1``),
so an index drawn at random is checked against every value it may take. A decision on a drawn value (a branch,
a size, ``.item()``) is refused where the plan meets it (see ``convcalc.torch.draws``)."""

from __future__ import annotations

from typing import Any

from convcalc.torch.nodes import INTEGER_DTYPES
from convcalc.torch.ops_math import _broadcast, _made_of_sizes
from convcalc.torch.values import (
    _bind,
    _Call,
    _handles,
    _is_size,
    _negated,
    _size,
    _sum,
    _Tensor,
    _tensor_arg,
)


def _whole(dtype: Any, default: bool) -> bool:
    """Whether a draw of ``dtype`` (None: the function's own, whole numbers where ``default``) holds integers."""
    return default if dtype is None else str(dtype) in INTEGER_DTYPES


def _bounded(call: _Call, low: Any, high: Any) -> tuple[Any, Any] | None:
    """The least and the greatest value drawn from ``low`` up to ``high`` (excluded), where both are whole numbers
    or sizes; torch draws only where ``low < high`` (torch: random_ expects 'from' to be less than 'to')."""
    if not (_is_size(low) and _is_size(high)):
        return None
    call.require_at_least(
        _sum((high, _negated(low), -1)),
        0,
        0,
        lambda: (
            f"{call.where}: draws from {low} up to {high}, an empty range (torch: random_ expects 'from' to be "
            f"less than 'to'). Received: low={low}, high={high}"
        ),
        "a range to draw from",
    )
    return low, _sum((high, -1))


@_handles("rand", "randn")
def _rand(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.rand(n, h)``, ``torch.randn((n, h))``: a tensor of these sizes, its values drawn."""
    return _made_of_sizes(call, args, kwargs)


@_handles("randint")
def _randint(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.randint(high, size)`` / ``torch.randint(low, high, size)``: whole numbers from ``low`` (0) up to
    ``high``, excluded, which an index drawn this way may take."""
    out = _made_of_sizes(call, args, kwargs)
    numbers = [a for a in args if not isinstance(a, (tuple, list))]
    bounds = dict(zip(("high",) if len(numbers) == 1 else ("low", "high"), numbers, strict=False))
    bounds.update((k, kwargs[k]) for k in ("low", "high") if k in kwargs)
    span = _bounded(call, bounds.get("low", 0), bounds.get("high"))
    whole = _whole(kwargs.get("dtype"), True)
    return _Tensor(out.shape, None, const=True, integral=whole, span=span if whole else None)


@_handles("randperm")
def _randperm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.randperm(n)``: the numbers 0 to ``n - 1`` in a drawn order."""
    bound = _bind(call, args[:1], {k: v for k, v in kwargs.items() if k == "n"}, ("n",), {})
    n = bound["n"]
    if not _is_size(n):
        raise call.spec_error("takes a whole number or a size", n=n)
    out = _made_of_sizes(call, (n,), {})
    whole = _whole(kwargs.get("dtype"), True)
    return _Tensor(out.shape, None, const=True, integral=whole, span=(0, _sum((n, -1))) if whole else None)


@_handles("rand_like", "randn_like", "randint_like")
def _drawn_like(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.rand_like(x)``, ``torch.randint_like(x, low, high)``: a tensor of ``x``'s shape, its values drawn
    (whole numbers for ``randint_like`` of a tensor of integers, or given an integer dtype)."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    if call.kind != "randint_like":
        return _Tensor(t.shape, None, const=True)
    numbers = args[1:]
    bounds = dict(zip(("high",) if len(numbers) == 1 else ("low", "high"), numbers, strict=False))
    bounds.update((k, kwargs[k]) for k in ("low", "high") if k in kwargs)
    span = _bounded(call, bounds.get("low", 0), bounds.get("high"))
    whole = _whole(kwargs.get("dtype"), t.integral)
    return _Tensor(t.shape, None, const=True, integral=whole, span=span if whole else None)


@_handles("normal", "bernoulli", "poisson")
def _drawn_of(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.normal(mean, std)`` (tensors of means and deviations, broadcast; or numbers and a ``size``),
    ``torch.bernoulli(p)``, ``torch.poisson(rates)``: a tensor of the parameters' shape, its values drawn; the
    tensor methods that draw in place (``x.normal_()``, ``x.bernoulli_(p)``) keep ``x``'s."""
    if call.inplace:
        return _drawn_into(call, args, kwargs)
    if call.kind != "normal":
        t = _tensor_arg(call, args[0] if args else kwargs.get("input"))
        return _Tensor(t.shape, None, const=True)
    bound = _bind(call, args, kwargs, ("mean", "std", "size"), {"mean": 0.0, "std": 1.0, "size": None})
    tensors = [bound[k] for k in ("mean", "std") if isinstance(bound[k], _Tensor)]
    if tensors:
        return _Tensor(_broadcast(call, [t.shape for t in tensors]), None, const=True)
    if bound["size"] is None:  # torch: normal() received an invalid combination of arguments
        raise call.spec_error("draws from numbers only with a size (torch.normal(0.0, 1.0, size=(n, h)))", size=None)
    return _made_of_sizes(call, (tuple(bound["size"]),), {})


@_handles("uniform", "random", "exponential", "geometric", "cauchy", "log_normal")
def _drawn_into(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.uniform_(a, b)``, ``x.random_(low, high)``, ...: ``x`` with drawn values, of its shape and layout; whole
    numbers from ``x.random_(low, high)`` (``x.random_(high)``: from 0) keep those bounds."""
    t = _tensor_arg(call, args[0] if args else kwargs.get("self"))
    span = None
    if call.kind == "random" and t.integral:
        numbers = args[1:]
        bounds = dict(zip(("to",) if len(numbers) == 1 else ("from", "to"), numbers, strict=False))
        bounds.update((k, kwargs[k]) for k in ("from", "to") if k in kwargs)
        if bounds.get("to") is not None:  # (x.random_() draws from the dtype's whole range)
            span = _bounded(call, bounds.get("from", 0), bounds["to"])
    return _Tensor(tuple(_size(d) for d in t.shape), None, t.const, t.strides, t.integral, span)


@_handles("drawn_number")
def _drawn_number(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A number Python's or numpy's random functions drew (``random.uniform(0, 1)``): a value unknown to the plan,
    as a tensor of no dims is (``x * random.uniform(0.9, 1.1)`` follows; ``if random.random() < p:`` is refused)."""
    return _Tensor((), None, const=True)
