"""fx operation handlers: matrix products (``matmul`` / ``@``, ``mm``, ``bmm``, ``addmm`` and its batched forms,
``tensordot``): shapes, torch's checks on the inner sizes, and multiply-accumulates."""

from __future__ import annotations

import functools
from typing import Any

from convcalc.torch.ops_math import _broadcast
from convcalc.torch.values import _bind, _Call, _handles, _index, _is_int, _prod, _same, _size, _Tensor, _tensor_arg


@_handles("matmul", "bmm", "mm")
def _matmul(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    a = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    b = _tensor_arg(call, args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2")))
    if call.kind == "matmul" and (len(a.shape) == 1 or len(b.shape) == 1) and a.shape and b.shape:
        # a vector is a matrix of one row (on the left) or one column (on the right), dropped from the result
        inner = b.shape[-2] if len(b.shape) > 1 else b.shape[0]
        call.require_equal(
            a.shape[-1],
            inner,
            len(a.shape) - 1,
            lambda: (
                f"{call.where}: the inner sizes differ ({a.shape[-1]} vs {inner}). "
                f"Received: shapes={(tuple(a.shape), tuple(b.shape))}"
            ),
        )
        full = _product_shape(
            call,
            _Tensor((1, *a.shape)) if len(a.shape) == 1 else a,
            _Tensor((*b.shape, 1)) if len(b.shape) == 1 else b,
        )
        shape = full[:-2] + full[-2:-1] * (len(a.shape) > 1) + full[-1:] * (len(b.shape) > 1)
        if len(a.shape) == 1:  # no batch of rows on the left: the product counts once for the whole input
            call.ctx.add_row(
                call.name, call.kind, tuple(a.shape), shape, macs=_prod(full) * _size(a.shape[-1]), batch=1
            )
            return _Tensor(shape)
    else:
        shape = _product_shape(call, a, b)
    # one multiply-accumulate per output element and inner index, per element of the output's first axis (as
    # for a Linear's rows, and for the same product written with einsum)
    call.ctx.add_row(call.name, call.kind, tuple(a.shape), shape, macs=_prod(shape[1:]) * _size(a.shape[-1]))
    return _Tensor(shape)


@_handles("addmm", "baddbmm", "addbmm")
def _add_product(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.addmm(c, a, b)`` (``beta * c + alpha * a @ b``), ``baddbmm`` (batched), ``addbmm`` (the batched
    products summed over the batch): the product's shape and MACs; ``c`` broadcasts to the result."""
    names = ("input", "mat1", "mat2") if call.kind == "addmm" else ("input", "batch1", "batch2")
    bound = _bind(call, args, kwargs, (*names, "beta", "alpha"), {"beta": 1, "alpha": 1})
    c, a, b = (_tensor_arg(call, bound[n]) for n in names)
    rank = 2 if call.kind == "addmm" else 3
    if len(a.shape) != rank or len(b.shape) != rank:
        raise call.spec_error(f"{call.kind} takes {rank}-D operands", shapes=(a.shape, b.shape))
    shape = _product_shape(call, a, b)
    macs = _prod(shape[1:]) * _size(a.shape[-1])
    if call.kind == "addbmm":  # the batch summed: (n, p), each row holding the products of the whole batch
        macs = _prod((shape[0], shape[2])) * _size(a.shape[-1])
        shape = shape[1:]
    out = _broadcast(call, [c.shape, shape])
    if len(out) != len(shape) or any(_same(x, y) is False for x, y in zip(out, shape, strict=True)):
        raise call.shape_error(f"input of shape {tuple(c.shape)} does not broadcast to the product's {shape}", c.shape)
    call.ctx.add_row(call.name, call.kind, tuple(a.shape), tuple(shape), macs=macs)
    return _Tensor(tuple(shape))


@_handles("tensordot")
def _tensordot(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.tensordot(a, b, dims)``: ``a``'s free axes then ``b``'s; one MAC per output element and contracted
    index, per element of the output's first axis when that axis is ``a``'s first (else for the whole product).
    A contracted size of 1 against a larger one is summed away first, as torch does (no MACs); with no axis
    contracted, the outer product counts one MAC per output element."""
    bound = _bind(call, args, kwargs, ("a", "b", "dims", "out"), {"dims": 2, "out": None})
    a, b = _tensor_arg(call, bound["a"]), _tensor_arg(call, bound["b"])
    dims = bound["dims"]
    if _is_int(dims):
        if dims < 0:
            raise call.spec_error(f"tensordot expects dims >= 0, but got dims={dims}", dims=dims)
        if dims > len(a.shape) or dims > len(b.shape):
            raise call.spec_error(
                f"tensordot expects dims <= the ranks {len(a.shape)} and {len(b.shape)}, but got dims={dims}", dims=dims
            )
        left = list(range(len(a.shape) - dims, len(a.shape)))
        right = list(range(dims))
    elif isinstance(dims, (tuple, list)) and len(dims) == 2 and all(isinstance(d, (tuple, list)) for d in dims):
        if len(dims[0]) != len(dims[1]):
            raise call.spec_error("both dimension lists should have same length", dims=dims)
        left = [_index(call, d, len(a.shape), a.shape) for d in dims[0]]
        right = [_index(call, d, len(b.shape), b.shape) for d in dims[1]]
    else:
        raise call.spec_error("convcalc follows tensordot with dims an int or a pair of lists of ints", dims=dims)
    for picked in (left, right):
        if len(set(picked)) != len(picked):
            raise call.spec_error("a dim appears more than once in the list of dims", dims=dims)
    inner = []
    for i, j in zip(left, right, strict=True):
        if _is_int(a.shape[i]) and _is_int(b.shape[j]) and 1 in (a.shape[i], b.shape[j]):
            inner.append(1)  # torch sums the other operand along its axis first: a product over one index
            continue
        inner.append(a.shape[i])
        call.require_equal(
            a.shape[i],
            b.shape[j],
            i,
            functools.partial(_contracted_message, call, a.shape, b.shape, i, j),
        )
    shape = tuple(a.shape[i] for i in range(len(a.shape)) if i not in left)
    shape += tuple(b.shape[j] for j in range(len(b.shape)) if j not in right)
    if a.shape and 0 not in left:
        call.ctx.add_row(call.name, call.kind, tuple(a.shape), shape, macs=_prod(shape[1:]) * _prod(inner))
    else:
        call.ctx.add_row(call.name, call.kind, tuple(a.shape), shape, macs=_prod(shape) * _prod(inner), batch=1)
    return _Tensor(shape)


def _contracted_message(call: _Call, a: tuple[Any, ...], b: tuple[Any, ...], i: int, j: int) -> str:
    return (
        f"{call.where}: contracted dimensions need to match, but the first has size {a[i]} in dim {i} and the "
        f"second has size {b[j]} in dim {j}. Received: shapes={(tuple(a), tuple(b))}"
    )


def _product_shape(call: _Call, a: _Tensor, b: _Tensor) -> tuple[Any, ...]:
    """The shape of ``a @ b`` for operands of 2 or more dims, the inner sizes required equal."""
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise call.spec_error(
            "convcalc follows matrix products of tensors with 2 or more dims", shapes=(a.shape, b.shape)
        )
    call.require_equal(
        a.shape[-1],
        b.shape[-2],
        len(a.shape) - 1,
        lambda: (
            call.where + (f": the inner sizes differ ({a.shape[-1]} vs {b.shape[-2]}). Received: input_shape={a.shape}")
        ),
    )
    batch = _broadcast(call, [a.shape[:-2], b.shape[:-2]]) if len(a.shape) > 2 or len(b.shape) > 2 else ()
    if call.kind in ("baddbmm", "addbmm", "bmm"):  # batched products take equal batches, not broadcast ones
        call.require_equal(
            a.shape[0],
            b.shape[0],
            0,
            lambda: (
                call.where + f": the batch sizes differ ({a.shape[0]} vs {b.shape[0]}). Received: input_shape={a.shape}"
            ),
        )
    return (*batch, a.shape[-2], b.shape[-1])
