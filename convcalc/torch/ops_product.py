"""fx operation handlers: matrix products (``matmul`` / ``@`` and ``torch.linalg.matmul``, ``mm``, ``bmm``, ``addmm``
and its batched forms, ``tensordot``), the products of vectors (``mv``, ``addmv``, ``dot``, ``vdot``, ``inner``,
``outer``, ``ger``, ``addr``, ``kron``, ``torch.linalg.vecdot``) and of chains (``torch.linalg.multi_dot``,
``chain_matmul``): shapes, torch's checks on the ranks and the inner sizes, and multiply-accumulates.

A product with no index summed (``outer``, ``kron``, ``inner`` of a 0-D tensor) counts one multiply-accumulate per
output element, as ``tensordot`` with ``dims=0`` and the same product written with ``einsum`` do."""

from __future__ import annotations

import functools
from typing import Any

from convcalc._errors import ShapeError
from convcalc._types import Shape
from convcalc.torch.ops_math import _broadcast
from convcalc.torch.values import (
    _bind,
    _Call,
    _describe_value,
    _handles,
    _index,
    _is_int,
    _prod,
    _same,
    _size,
    _Tensor,
    _tensor_arg,
)


@_handles("matmul", "linalg_matmul", "bmm", "mm")
def _matmul(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``a @ b``, ``torch.matmul`` and its alias ``torch.linalg.matmul``, ``mm``, ``bmm``."""
    a = _tensor_arg(call, args[0] if args else kwargs.get("input"))
    b = _tensor_arg(call, args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2")))
    vectors = call.kind in ("matmul", "linalg_matmul")
    rank = {"mm": 2, "bmm": 3}.get(call.kind)
    if rank is not None and (len(a.shape) != rank or len(b.shape) != rank):  # torch: self must be a matrix
        raise call.spec_error(
            f"{call.kind} takes {rank}-D operands (torch.matmul broadcasts others)", shapes=(a.shape, b.shape)
        )
    if vectors and (len(a.shape) == 1 or len(b.shape) == 1) and a.shape and b.shape:
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


def _expands_to(call: _Call, c: _Tensor, shape: Shape, shapes: tuple[Shape, ...]) -> None:
    """The added input ``c`` of ``addmv`` or ``addr`` expands to the product's shape (torch: The expanded size of the
    tensor (4) must match the existing size (3), or size mismatch, got input (4), mat (3x4), vec (4))."""

    def message() -> str:
        return (
            f"{call.where}: the input of shape {tuple(c.shape)} does not expand to the product's shape "
            f"{tuple(shape)}. Received: shapes={tuple(tuple(s) for s in shapes)}"
        )

    if len(c.shape) > len(shape):
        raise ShapeError(message())
    for axis, (x, y) in enumerate(zip(c.shape, shape[len(shape) - len(c.shape) :], strict=True)):
        if _same(x, 1) is not True:
            call.require_equal(x, y, axis, message)


def _operands_error(call: _Call, message: str, *shapes: Shape) -> ShapeError:
    return ShapeError(f"{call.where}: {message}. Received: shapes={tuple(tuple(s) for s in shapes)}")


def _ranks(call: _Call, wanted: str, operands: tuple[tuple[str, _Tensor, int], ...], shapes: tuple[Shape, ...]) -> None:
    """Each operand, ``(name, tensor, rank)``, has that rank (torch: Expected 1-D argument vec2, but got 2-D);
    the message names ``shapes``, all the call's."""
    for name, t, rank in operands:
        if len(t.shape) != rank:
            raise _operands_error(call, f"expects {wanted}, but {name} is {len(t.shape)}-D", *shapes)


def _inner_sizes(call: _Call, a: Shape, b: Shape, i: int, j: int, *shapes: Shape) -> None:
    """``a[i]`` and ``b[j]`` are equal: the sizes a product sums over."""
    call.require_equal(
        a[i],
        b[j],
        i % len(a),
        lambda: (
            f"{call.where}: the inner sizes differ ({a[i]} vs {b[j]}). "
            f"Received: shapes={tuple(tuple(s) for s in (shapes or (a, b)))}"
        ),
    )


@_handles("mv", "addmv")
def _matrix_vector(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.mv(m, v)`` (``m @ v``, ``m`` 2-D and ``v`` 1-D) and ``torch.addmv(c, m, v)`` (``beta * c +
    alpha * m @ v``, ``c`` expanding to the product's shape): one MAC per row and inner index, counted per row."""
    if call.kind == "mv":
        bound = _bind(call, args, kwargs, ("input", "vec"), {})
        m, v = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["vec"])
        shapes: tuple[Shape, ...] = (m.shape, v.shape)
    else:
        bound = _bind(call, args, kwargs, ("input", "mat", "vec", "beta", "alpha"), {"beta": 1, "alpha": 1})
        c, m, v = (_tensor_arg(call, bound[n]) for n in ("input", "mat", "vec"))
        shapes = (c.shape, m.shape, v.shape)
        if len(c.shape) > 1:  # torch: vector + matrix @ vector expected, got 2, 2, 1
            raise _operands_error(call, f"expects an input of 0 or 1 dims, but it is {len(c.shape)}-D", *shapes)
    if len(m.shape) != 2 or len(v.shape) != 1:  # torch: vector + matrix @ vector expected, got 1, 3, 1
        raise _operands_error(
            call, f"expects a 2-D matrix and a 1-D vector, but they are {len(m.shape)}-D and {len(v.shape)}-D", *shapes
        )
    _inner_sizes(call, m.shape, v.shape, 1, 0, *shapes)  # torch: size mismatch, got input (3), mat (3x4), vec (5)
    if call.kind == "addmv":
        _expands_to(call, c, m.shape[:1], shapes)
    call.ctx.add_row(call.name, call.kind, tuple(m.shape), m.shape[:1], macs=_size(m.shape[1]))
    return _Tensor(m.shape[:1])


@_handles("dot", "vdot")
def _dot(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.dot(a, b)`` and ``torch.vdot`` of two 1-D tensors of one size: a 0-D result, one MAC per element."""
    kwargs = {"other" if k == "tensor" else k: v for k, v in kwargs.items()}  # (torch.dot names it tensor)
    bound = _bind(call, args, kwargs, ("input", "other"), {})
    a, b = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["other"])
    if len(a.shape) != 1 or len(b.shape) != 1:  # torch: 1D tensors expected, but got 2D and 1D tensors
        raise _operands_error(
            call, f"expects two 1-D tensors, but they are {len(a.shape)}-D and {len(b.shape)}-D", a.shape, b.shape
        )
    _inner_sizes(call, a.shape, b.shape, 0, 0)  # torch: inconsistent tensor size
    call.ctx.add_row(call.name, call.kind, tuple(a.shape), (), macs=_size(a.shape[0]), batch=1)
    return _Tensor(())


@_handles("inner")
def _inner(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.inner(a, b)``: the products summed over the last axis of both, ``a``'s other axes then ``b``'s; with
    a 0-D operand, ``a * b`` (one MAC per output element, nothing summed)."""
    bound = _bind(call, args, kwargs, ("input", "other"), {})
    a, b = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["other"])
    if not a.shape or not b.shape:
        shape = _broadcast(call, [a.shape, b.shape])
        _product_row(call, a, shape, 1, per_row=len(a.shape) > 0)
        return _Tensor(shape)
    # torch: inner() the last dimension must match on both input tensors
    _inner_sizes(call, a.shape, b.shape, -1, -1)
    shape = (*a.shape[:-1], *b.shape[:-1])
    _product_row(call, a, shape, a.shape[-1], per_row=len(a.shape) > 1)
    return _Tensor(shape)


def _product_row(call: _Call, a: _Tensor, shape: Shape, inner: Any, per_row: bool) -> None:
    """The row of a product of ``inner`` MACs per output element: counted per element of the output's first axis
    where that axis is ``a``'s first (``per_row``), else for the whole product."""
    if per_row and shape:
        call.ctx.add_row(call.name, call.kind, tuple(a.shape), tuple(shape), macs=_prod((*shape[1:], inner)))
    else:
        call.ctx.add_row(call.name, call.kind, tuple(a.shape), tuple(shape), macs=_prod((*shape, inner)), batch=1)


@_handles("outer", "ger", "addr")
def _outer(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.outer(a, b)`` (``ger``, its old name) of two 1-D tensors: ``(len(a), len(b))``, one MAC per output
    element; ``torch.addr(c, a, b)``: ``beta * c + alpha * outer(a, b)``, ``c`` expanding to the product's shape."""
    shapes: tuple[Shape, ...]
    if call.kind == "addr":
        bound = _bind(call, args, kwargs, ("input", "vec1", "vec2", "beta", "alpha"), {"beta": 1, "alpha": 1})
        c, a, b = (_tensor_arg(call, bound[n]) for n in ("input", "vec1", "vec2"))
        names, shapes = ("vec1", "vec2"), (c.shape, a.shape, b.shape)
    else:
        bound = _bind(call, args, kwargs, ("input", "vec2"), {})
        a, b = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["vec2"])
        names, shapes = ("input", "vec2"), (a.shape, b.shape)
    # torch: outer: Expected 1-D argument vec2, but got 2-D
    _ranks(call, "two 1-D tensors", ((names[0], a, 1), (names[1], b, 1)), shapes)
    shape = (a.shape[0], b.shape[0])
    if call.kind == "addr":
        _expands_to(call, c, shape, shapes)
    _product_row(call, a, shape, 1, per_row=True)
    return _Tensor(shape)


@_handles("kron")
def _kron(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.kron(a, b)``: the shorter shape padded with leading 1s, each output size ``a``'s times ``b``'s; one
    MAC per output element (each is one product), counted for the whole product."""
    bound = _bind(call, args, kwargs, ("input", "other"), {})
    a, b = _tensor_arg(call, bound["input"]), _tensor_arg(call, bound["other"])
    rank = max(len(a.shape), len(b.shape))
    left, right = (1,) * (rank - len(a.shape)) + tuple(a.shape), (1,) * (rank - len(b.shape)) + tuple(b.shape)
    shape = tuple(_prod((x, y)) for x, y in zip(left, right, strict=True))
    _product_row(call, a, shape, 1, per_row=False)
    return _Tensor(shape)


@_handles("linalg_vecdot")
def _vecdot(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.linalg.vecdot(x, y, dim=-1)``: ``x`` and ``y`` broadcast, then the products summed along ``dim``
    (torch multiplies the broadcast operands: one MAC per output element and broadcast size along ``dim``)."""
    bound = _bind(call, args, kwargs, ("x", "y", "dim"), {"dim": -1})
    a, b = _tensor_arg(call, bound["x"]), _tensor_arg(call, bound["y"])
    full = _broadcast(call, [a.shape, b.shape])
    if not full:  # (a 0-D result takes dim 0 or -1, as torch's sum does)
        if bound["dim"] not in (0, -1):
            raise call.shape_error(f"dim={bound['dim']} is out of range for 0-D operands: use 0 or -1", a.shape)
        _product_row(call, a, (), 1, per_row=False)
        return _Tensor(())
    j = _index(call, bound["dim"], len(full), full)
    shape = full[:j] + full[j + 1 :]
    _product_row(call, a, shape, full[j], per_row=j > 0)
    return _Tensor(shape)


@_handles("linalg_multi_dot", "multi_dot", "chain_matmul")
def _multi_dot(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.linalg.multi_dot([a, b, ...])``: the product of a chain of matrices (the first may be a 1-D row, the
    last a 1-D column, dropped from the result), multiplied in the order of fewest MACs (torch's matrix chain
    order); ``torch.chain_matmul(a, b, ...)``, its old form, of 2-D matrices only. The MACs are that order's, for
    the whole product."""
    if call.kind == "chain_matmul":
        operands = list(args) or list(kwargs.get("matrices", ()))
        if not operands:  # torch: chain_matmul(): Expected one or more matrices
            raise call.spec_error("expects one or more matrices", arguments=0)
    else:
        given = _bind(call, args, kwargs, ("tensors", "out"), {"out": None})["tensors"]
        if not isinstance(given, (tuple, list)):
            raise call.spec_error("expects a list of tensors", tensors=_describe_value(given))
        operands = list(given)
    tensors = [_tensor_arg(call, t) for t in operands]
    shapes = [t.shape for t in tensors]
    if call.kind == "chain_matmul":
        for t in tensors:  # torch: Tensor dimension is 1, expected 2 instead
            if len(t.shape) != 2:
                raise _operands_error(call, f"expects 2-D matrices, but one is {len(t.shape)}-D", *shapes)
        if len(tensors) == 1:  # the matrix as it is (a copy): no product
            call.ctx.add_row(call.name, call.kind, tuple(shapes[0]), tuple(shapes[0]))
            return _Tensor(tuple(shapes[0]))
    if len(tensors) < 2:  # torch: multi_dot(): expected at least 2 tensors but got 1
        raise _operands_error(call, f"expects 2 or more tensors, but got {len(tensors)}", *shapes)
    for i, t in enumerate(tensors):
        ranks, where = (
            ((1, 2), "the first") if i == 0 else ((1, 2), "the last") if i == len(tensors) - 1 else ((2,), "")
        )
        if len(t.shape) not in ranks:  # torch: multi_dot(): the first tensor must be 1D or 2D but got 3D
            wanted = f"{where} tensor to be 1-D or 2-D" if where else f"tensor {i} to be 2-D"
            raise _operands_error(call, f"expects {wanted}, but it is {len(t.shape)}-D", *shapes)
    # the sizes along the chain: matrix i is (sizes[i], sizes[i + 1]), a 1-D end a row (on the left) or a column
    sizes = [1 if len(shapes[0]) == 1 else shapes[0][0], *(s[-1] for s in shapes[:-1])]
    sizes.append(1 if len(shapes[-1]) == 1 else shapes[-1][1])
    for i in range(1, len(tensors)):
        # torch: multi_dot(): tensors 0 and 1 with shapes [3, 4] and [5, 5] cannot be multiplied
        call.require_equal(
            shapes[i - 1][-1],
            shapes[i][0],
            i,
            functools.partial(_chain_message, call, shapes, i),
        )
    shape = tuple(shapes[0][:1] if len(shapes[0]) == 2 else ()) + tuple(shapes[-1][1:])
    macs = _chain_macs(call, sizes)
    call.ctx.add_row(call.name, call.kind, tuple(shapes[0]), shape, macs=macs, batch=1)
    return _Tensor(shape)


def _chain_message(call: _Call, shapes: list[Shape], i: int) -> str:
    return (
        f"{call.where}: tensors {i - 1} and {i} cannot be multiplied (inner sizes {shapes[i - 1][-1]} vs "
        f"{shapes[i][0]}). Received: shapes={tuple(tuple(s) for s in shapes)}"
    )


def _chain_macs(call: _Call, sizes: list[Any]) -> Any:
    """The fewest MACs a chain of matrices ``(sizes[i], sizes[i + 1])`` is multiplied in (the textbook matrix chain
    order, which torch takes): torch's count, whichever order it takes among equally cheap ones."""
    if not all(type(s) is int for s in sizes):
        from convcalc._symbolic import to_sympy

        sizes = [to_sympy(s) for s in sizes]
    n = len(sizes) - 1
    best: dict[tuple[int, int], Any] = {(i, i): 0 for i in range(n)}
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            costs = [best[i, k] + best[k + 1, j] + sizes[i] * sizes[k + 1] * sizes[j + 1] for k in range(i, j)]
            best[i, j] = _least(call, costs, sizes)
    return _size(best[0, n - 1])


def _least(call: _Call, costs: list[Any], sizes: list[Any]) -> Any:
    """The least of ``costs``; a SpecError where which is least depends on sizes of the input."""
    if all(type(c) is int for c in costs):
        return min(costs)
    exprs = [c.expand() for c in costs]
    for e in exprs:
        if all(e == o or (e - o).expand().is_nonpositive is True for o in exprs):
            return e
    raise call.spec_error(
        "the order torch multiplies the chain in (the one of fewest MACs) depends on the input's sizes",
        sizes=tuple(sizes),
    )


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
            f"{call.where}: the inner sizes differ ({a.shape[-1]} vs {b.shape[-2]}). "
            f"Received: shapes={(tuple(a.shape), tuple(b.shape))}"
        ),
    )
    try:
        batch = _broadcast(call, [a.shape[:-2], b.shape[:-2]]) if len(a.shape) > 2 or len(b.shape) > 2 else ()
    except ShapeError:  # said of the whole operands, not of their batch sizes alone
        raise ShapeError(
            f"{call.where}: the batch sizes of the operands do not broadcast (each must be equal or 1). "
            f"Received: shapes={(tuple(a.shape), tuple(b.shape))}"
        ) from None
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
