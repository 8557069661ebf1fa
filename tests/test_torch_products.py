"""The products of vectors and matrices a forward calls (``torch.linalg.matmul``, ``torch.mv``, ``torch.addmv``,
``torch.dot``, ``torch.vdot``, ``torch.inner``, ``torch.outer`` / ``torch.ger``, ``torch.addr``, ``torch.kron``,
``torch.linalg.vecdot``, ``torch.linalg.multi_dot``, ``torch.chain_matmul``, their tensor methods), and the
elementwise checks beside them (``F.threshold``, ``Tensor.masked_fill`` with a tensor value, GELU's
``approximate``, the dropouts of whole channels): against torch 2.13 running the same forward on real tensors.

A plan gives torch's output shape and counts the product's multiply-accumulates: one per output element and
summed index (``FlopCounterMode``'s count halved, where it counts the operation; by hand where it does not), and a
chain in the order torch multiplies it (the one of fewest MACs). Where torch refuses, convcalc refuses with a
ConvCalcError whose message names the operands' shapes.

Each forward takes a first input of shape ``(1,)`` that it does not use: the plan's batch is then 1, and
``Plan.macs`` (a count per input sample) is the count of the whole forward.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc

torch.set_num_threads(1)

pytestmark = [
    pytest.mark.filterwarnings("ignore:dropout2d. Received a:UserWarning"),  # torch warns of ranks it will refuse
    pytest.mark.filterwarnings("ignore:dropout3d. Received a:UserWarning"),
    pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated:UserWarning"),
]

Shape = tuple[int, ...]


class Operands(torch.nn.Module):
    """``forward(one, a, b, c, d)`` is ``function(a, b, c, d)``; ``one`` (shape ``(1,)``) makes the plan's batch 1."""

    def __init__(self, function: Callable[..., Any]) -> None:
        super().__init__()
        self.function = function

    def forward(self, one: Any, a: Any, b: Any, c: Any, d: Any) -> Any:
        return self.function(a, b, c, d)


def shapes_of(*operands: Shape) -> list[Shape]:
    """The plan's inputs: ``(1,)`` first, then the operands, the four padded with ``(1,)``."""
    return [(1,), *operands, *[(1,)] * (4 - len(operands))]


def torch_run(model: torch.nn.Module, shapes: list[Shape]) -> tuple[Shape, int] | None:
    """torch's output shape and ``FlopCounterMode``'s multiply-accumulates (its FLOPs halved), or None where torch
    raises."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    tensors = [torch.randn(s) for s in shapes]
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = model(*tensors)
    except (RuntimeError, IndexError, ValueError, TypeError):
        return None
    flops: int = counter.get_total_flops()
    assert flops % 2 == 0
    return tuple(out.shape), flops // 2


# FlopCounterMode counts these (as the mm, bmm they run); mv, dot, outer, kron and the rest it does not see
_COUNTED = frozenset({"matmul", "inner", "multi_dot", "chain_matmul", "tensordot"})

_CASES: list[tuple[str, Callable[..., Any], tuple[Shape, ...], int]] = [
    # torch.linalg.matmul: torch.matmul's alias, batches broadcast, a 1-D operand a row (left) or a column (right)
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((3, 4), (4, 5)), 3 * 4 * 5),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((2, 3, 4), (4, 5)), 2 * 3 * 4 * 5),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((2, 1, 3, 4), (5, 4, 6)), 2 * 5 * 3 * 6 * 4),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((4,), (2, 4, 5)), 2 * 4 * 5),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((2, 3, 4), (4,)), 2 * 3 * 4),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(a, b), ((4,), (4,)), 4),
    ("matmul", lambda a, b, c, d: torch.linalg.matmul(input=a, other=b), ((1, 4), (4, 1)), 4),
    # torch.mv and torch.addmv: a 2-D matrix times a 1-D vector; addmv's input expands to the product
    ("mv", lambda a, b, c, d: torch.mv(a, b), ((3, 4), (4,)), 12),
    ("mv", lambda a, b, c, d: a.mv(b), ((1, 7), (7,)), 7),
    ("mv", lambda a, b, c, d: torch.mv(a, vec=b), ((5, 1), (1,)), 5),
    ("addmv", lambda a, b, c, d: torch.addmv(c, a, b), ((3, 4), (4,), (3,)), 12),
    ("addmv", lambda a, b, c, d: torch.addmv(c, a, b, beta=0.5, alpha=2), ((3, 4), (4,), (1,)), 12),
    ("addmv", lambda a, b, c, d: c.sum().addmv(a, b), ((6, 2), (2,), (3,)), 12),
    # torch.dot and torch.vdot: two 1-D tensors of one size
    ("dot", lambda a, b, c, d: torch.dot(a, b), ((4,), (4,)), 4),
    ("dot", lambda a, b, c, d: a.dot(b), ((9,), (9,)), 9),
    ("dot", lambda a, b, c, d: torch.dot(a, tensor=b), ((1,), (1,)), 1),
    ("vdot", lambda a, b, c, d: torch.vdot(a, b), ((5,), (5,)), 5),
    ("vdot", lambda a, b, c, d: a.vdot(b), ((2,), (2,)), 2),
    # torch.inner: the last axes summed; with a 0-D operand a product of each element
    ("inner", lambda a, b, c, d: torch.inner(a, b), ((2, 3, 4), (5, 4)), 2 * 3 * 5 * 4),
    ("inner", lambda a, b, c, d: torch.inner(a, b), ((4,), (4,)), 4),
    ("inner", lambda a, b, c, d: torch.inner(a, b), ((4,), (5, 2, 4)), 5 * 2 * 4),
    ("inner", lambda a, b, c, d: a.inner(b), ((3, 1), (2, 1)), 6),
    ("inner", lambda a, b, c, d: torch.inner(a.sum(), b), ((3,), (2, 3)), 6),
    ("inner", lambda a, b, c, d: torch.inner(a, b.sum()), ((2, 3), (3,)), 6),
    # torch.addr: input + an outer product (one multiply each)
    ("addr", lambda a, b, c, d: torch.addr(c, a, b), ((3,), (4,), (3, 4)), 12),
    ("addr", lambda a, b, c, d: torch.addr(c, a, b, beta=2), ((3,), (4,), (4,)), 12),
    ("addr", lambda a, b, c, d: c.sum().addr(a, b), ((1,), (6,), (2,)), 6),
    # torch.kron: each output size the product of the two (the shorter shape padded with 1s), one multiply each
    ("kron", lambda a, b, c, d: torch.kron(a, b), ((2, 3), (4, 5)), 8 * 15),
    ("kron", lambda a, b, c, d: torch.kron(a, b), ((2, 1, 3), (4, 5)), 2 * 4 * 15),
    ("kron", lambda a, b, c, d: a.kron(b), ((3,), (2, 2)), 2 * 6),
    ("kron", lambda a, b, c, d: torch.kron(a.sum(), b), ((3,), (4, 2)), 8),
    # torch.linalg.vecdot: the operands broadcast, then summed along dim
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a, b), ((2, 3, 4), (3, 4)), 2 * 3 * 4),
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a, b, dim=0), ((2, 3, 4), (3, 4)), 2 * 3 * 4),
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a, b, dim=-3), ((2, 3, 4), (1, 4)), 2 * 3 * 4),
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a, b), ((2, 3, 1), (3, 4)), 2 * 3 * 4),
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a, b), ((3,), (3,)), 3),
    ("vecdot", lambda a, b, c, d: torch.linalg.vecdot(a.sum(), b.sum()), ((3,), (3,)), 1),
    # torch.linalg.multi_dot: the chain in the order of fewest MACs, a 1-D end a row or a column
    ("multi_dot", lambda a, b, c, d: torch.linalg.multi_dot([a, b, c]), ((3, 4), (4, 5), (5, 4)), 60 + 60),
    ("multi_dot", lambda a, b, c, d: torch.linalg.multi_dot([a, b, c]), ((4, 3), (3, 8), (8, 2)), 48 + 24),
    ("multi_dot", lambda a, b, c, d: torch.linalg.multi_dot([a, b, c]), ((4,), (4, 5), (5,)), 20 + 4),
    ("multi_dot", lambda a, b, c, d: torch.linalg.multi_dot((a, b)), ((4,), (4,)), 4),
    ("multi_dot", lambda a, b, c, d: torch.linalg.multi_dot([a, b]), ((2, 4), (4,)), 8),
    # (10 x 30)(30 x 5)(5 x 60)(60 x 2): A (B (C D)) costs 600 + 300 + 600 = 1,500 (left to right, 5,700)
    (
        "multi_dot",
        lambda a, b, c, d: torch.linalg.multi_dot([a, b, c, d]),
        ((10, 30), (30, 5), (5, 60), (60, 2)),
        600 + 300 + 600,
    ),
    # torch.chain_matmul (deprecated): 2-D matrices only, one of them given back as it is
    ("chain_matmul", lambda a, b, c, d: torch.chain_matmul(a, b, c), ((3, 4), (4, 5), (5, 4)), 120),
    ("chain_matmul", lambda a, b, c, d: torch.chain_matmul(a), ((3, 4),), 0),
    # torch.tensordot, handled before: its batch of one
    ("tensordot", lambda a, b, c, d: torch.tensordot(a, b, dims=([1, 2], [0, 1])), ((2, 3, 4), (3, 4, 5)), 120),
]


@pytest.mark.parametrize(("kind", "function", "operands", "macs"), _CASES)
def test_products_give_torch_s_shape_and_count_each_multiply(
    kind: str, function: Callable[..., Any], operands: tuple[Shape, ...], macs: int
) -> None:
    model = Operands(function)
    shapes = shapes_of(*operands)
    outcome = torch_run(model, shapes)
    assert outcome is not None
    shape, counted = outcome
    plan = convcalc.plan(model, shapes)
    assert plan.output_shape == shape
    assert plan.macs == macs
    # FlopCounterMode agrees where it counts the operation (not an mv or a dot, which a 1-D operand may make it)
    assert counted in (macs, 0)
    if kind in _COUNTED and all(len(s) > 1 for s in operands):
        assert counted == macs
    assert plan.fallback_rows == ()


@pytest.mark.parametrize(
    ("function", "operands"),
    [
        (lambda a, b, c, d: torch.linalg.matmul(a, b), ((3, 4), (4, 4))),
        (lambda a, b, c, d: torch.linalg.multi_dot([a, b]), ((3, 4), (4, 4))),
        (lambda a, b, c, d: torch.linalg.vecdot(a, b), ((3, 4), (1, 4))),
    ],
)
def test_torch_linalg_products_are_read_by_fx(function: Callable[..., Any], operands: tuple[Shape, ...]) -> None:
    assert_read_by_rule(function, operands)


def assert_read_by_rule(function: Callable[..., Any], operands: tuple[Shape, ...]) -> None:
    """torch runs the product, and the plan gives its shape from convcalc's own handler (no row from torch's
    machinery)."""
    model = Operands(function)
    shapes = shapes_of(*operands)
    outcome = torch_run(model, shapes)
    assert outcome is not None
    plan = convcalc.plan(model, shapes)
    assert plan.output_shape == outcome[0]
    assert plan.fallback_rows == ()


@pytest.mark.parametrize(
    "function",
    [lambda a, b, c, d: torch.outer(a, b), lambda a, b, c, d: torch.ger(a, b), lambda a, b, c, d: a.outer(b)],
)
@pytest.mark.parametrize("operands", [((3,), (4,)), ((1,), (5,)), ((6,), (1,))])
def test_outer_products_give_torch_s_shape(function: Callable[..., Any], operands: tuple[Shape, ...]) -> None:
    assert_read_by_rule(function, operands)


def test_outer_products_count_one_multiply_per_output_element() -> None:
    plan = convcalc.plan(Operands(lambda a, b, c, d: torch.outer(a, b)), shapes_of((3,), (4,)))
    assert plan.macs == 12


@given(
    batch=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    other=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    n=st.integers(1, 4),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
    vector=st.sampled_from(["none", "left", "right"]),
)
@settings(max_examples=60)
def test_matmul_and_inner_follow_torch(batch: Shape, other: Shape, n: int, k: int, m: int, vector: str) -> None:
    """``a @ b`` and ``torch.inner`` at any broadcast of batches (or none): torch's shape or its refusal; one MAC
    per output element and inner index, FlopCounterMode's count where it counts the product."""
    left = (k,) if vector == "left" else (*batch, n, k)
    right = (k,) if vector == "right" else (*other, k, m)
    for function in (lambda a, b, c, d: a @ b, lambda a, b, c, d: torch.inner(a, b.mT if b.ndim > 1 else b)):
        model = Operands(function)
        shapes = shapes_of(left, right)
        outcome = torch_run(model, shapes)
        if outcome is None:
            with pytest.raises(convcalc.ConvCalcError):
                convcalc.plan(model, shapes)
            continue
        plan = convcalc.plan(model, shapes)
        assert plan.output_shape == outcome[0]
        assert plan.macs == math.prod(outcome[0]) * k
        assert outcome[1] in (0, plan.macs)  # (a matrix times a vector runs as an mv, which it does not count)


@given(
    sizes=st.lists(st.integers(1, 9), min_size=3, max_size=7),
    row=st.booleans(),
    column=st.booleans(),
)
@settings(max_examples=40)
def test_multi_dot_counts_the_order_torch_multiplies_in(sizes: list[int], row: bool, column: bool) -> None:
    """A chain of 2 to 6 matrices, a 1-D end where drawn: torch's shape, and FlopCounterMode's count of the order
    torch takes (the matrix chain order of fewest MACs)."""
    shapes: list[Shape] = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
    if row:
        shapes[0] = shapes[0][1:]
    if column:
        shapes[-1] = shapes[-1][:1]

    class Chain(torch.nn.Module):
        def forward(self, one: Any, *operands: Any) -> Any:
            return torch.linalg.multi_dot(list(operands))

    outcome = torch_run(Chain(), [(1,), *shapes])
    assert outcome is not None
    plan = convcalc.plan(Chain(), [(1,), *shapes])
    assert (plan.output_shape, plan.macs) == outcome


def test_products_with_the_batch_of_the_input_count_per_sample() -> None:
    """A product of the input with weights: Plan.macs times the input's batch is the count of the whole forward."""

    class Weighted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(8, 6))
            self.v = torch.nn.Parameter(torch.randn(8))

        def forward(self, x: Any) -> Any:
            return torch.inner(x, self.w.T).sum() + torch.mv(x[0], self.v).sum() + torch.linalg.vecdot(x, self.v)

    for batch in (1, 5):
        shape = (batch, 5, 8)
        plan = convcalc.plan(Weighted(), shape)
        assert plan.output_shape == (batch, 5)
        assert plan.macs * batch == batch * 5 * 6 * 8 + 5 * 8 + batch * 5 * 8


# --- refusals -----------------------------------------------------------------------------------------------------

_REFUSED: list[tuple[Callable[..., Any], tuple[Shape, ...]]] = [
    (lambda a, b, c, d: torch.linalg.matmul(a, b), ((3, 4), (5, 6))),
    (lambda a, b, c, d: torch.linalg.matmul(a, b), ((2, 3, 4), (3, 4, 5))),
    (lambda a, b, c, d: torch.mv(a, b), ((2, 3, 4), (4,))),
    (lambda a, b, c, d: torch.mv(a, b), ((3, 4), (4, 1))),
    (lambda a, b, c, d: torch.mv(a, b), ((3, 4), (5,))),
    (lambda a, b, c, d: a.mv(b), ((4,), (4,))),
    (lambda a, b, c, d: torch.addmv(c, a, b), ((3, 4), (4,), (4,))),
    (lambda a, b, c, d: torch.addmv(c, a, b), ((3, 4), (4,), (1, 3))),
    (lambda a, b, c, d: torch.addmv(c, a, b), ((3, 4), (5,), (3,))),
    (lambda a, b, c, d: torch.dot(a, b), ((2, 3), (3,))),
    (lambda a, b, c, d: torch.dot(a, b), ((3,), (4,))),
    (lambda a, b, c, d: a.vdot(b), ((3,), (4,))),
    (lambda a, b, c, d: torch.inner(a, b), ((2, 3), (4,))),
    (lambda a, b, c, d: torch.inner(a, b), ((2, 1), (3, 4))),
    (lambda a, b, c, d: torch.addr(c, a, b), ((3,), (4,), (3,))),
    (lambda a, b, c, d: torch.addr(c, a, b), ((3,), (4,), (1, 3, 4))),
    (lambda a, b, c, d: torch.addr(c, a, b), ((3, 1), (4,), (3, 4))),
    (lambda a, b, c, d: torch.addr(c, a, b), ((3,), (1, 4), (3, 4))),
    (lambda a, b, c, d: torch.linalg.vecdot(a, b), ((2, 3, 5), (3, 4))),
    (lambda a, b, c, d: torch.linalg.multi_dot([a]), ((3, 4),)),
    (lambda a, b, c, d: torch.linalg.multi_dot([a, b]), ((2, 3, 4), (4, 5))),
    (lambda a, b, c, d: torch.linalg.multi_dot([a, b]), ((3, 4), (2, 4, 5))),
    (lambda a, b, c, d: torch.linalg.multi_dot([a, b, c]), ((3, 4), (4,), (4, 5))),
    (lambda a, b, c, d: torch.linalg.multi_dot([a, b, c]), ((3, 4), (5, 5), (5, 2))),
    (lambda a, b, c, d: torch.chain_matmul(a, b), ((3, 4), (4,))),
    (lambda a, b, c, d: torch.chain_matmul(a, b, c), ((3, 4), (4, 5), (6, 2))),
]


def _shown(shape: Shape) -> tuple[str, str]:
    """A shape as convcalc writes it, and as torch does (``[3, 4]``)."""
    return str(tuple(shape)), str(list(shape))


@pytest.mark.parametrize(("function", "operands"), _REFUSED)
def test_products_torch_refuses_are_refused_naming_the_shapes(
    function: Callable[..., Any], operands: tuple[Shape, ...]
) -> None:
    model = Operands(function)
    shapes = shapes_of(*operands)
    assert torch_run(model, shapes) is None
    with pytest.raises(convcalc.ConvCalcError) as refusal:
        convcalc.plan(model, shapes)
    message = str(refusal.value)
    assert "would be unknown" not in message
    for shape in operands:
        assert any(text in message for text in _shown(shape)), (shape, message)


def test_a_refusal_names_the_call_and_what_would_fit() -> None:
    model = Operands(lambda a, b, c, d: torch.mv(a, b))
    with pytest.raises(
        convcalc.ShapeError,
        match=re.escape("mv (mv): the inner sizes differ (4 vs 5). Received: shapes=((3, 4), (5,))"),
    ):
        convcalc.plan(model, shapes_of((3, 4), (5,)))
    model = Operands(lambda a, b, c, d: torch.dot(a, b))
    with pytest.raises(
        convcalc.ShapeError,
        match=re.escape(
            "dot (dot): expects two 1-D tensors, but they are 2-D and 1-D. Received: shapes=((2, 3), (3,))"
        ),
    ):
        convcalc.plan(model, shapes_of((2, 3), (3,)))
    model = Operands(lambda a, b, c, d: torch.addr(c, a, b))
    with pytest.raises(convcalc.ShapeError, match=re.escape("expects two 1-D tensors, but vec1 is 2-D")):
        convcalc.plan(model, shapes_of((3, 1), (4,), (3, 4)))


def test_a_product_of_sizes_that_depend_on_the_input() -> None:
    """Symbolic sizes: the shape and the count as formulas; an inner size that must equal another becomes a
    condition on the input."""
    import sympy

    class Inner(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(8, 6))

        def forward(self, x: Any) -> Any:
            return torch.inner(x, self.w.T), torch.kron(x, self.w)

    plan = convcalc.plan(Inner(), (2, "T", 8))
    T = sympy.Symbol("T", integer=True, positive=True)
    assert plan.output_shapes == ((2, T, 6), (2, 8 * T, 48))
    assert sympy.simplify(plan.macs - (T * 6 * 8 + 8 * T * 48)) == 0  # (kron's 2 x 8T x 48 shared by 2 samples)


# --- elementwise: F.threshold, masked_fill with a tensor value ------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3), (4,), (2, 3, 5, 5)])
@pytest.mark.parametrize(
    "function",
    [
        lambda a, b, c, d: F.threshold(a, 0.1, 20.0),
        lambda a, b, c, d: F.threshold(a, threshold=-1, value=0, inplace=True),
        lambda a, b, c, d: F.threshold(a.mT if a.ndim > 1 else a, 0.5, a.sum()),
        lambda a, b, c, d: torch.threshold(a, 0.0, 1.0),
        lambda a, b, c, d: F.threshold(a[:0], 0.0, 1.0),  # (no elements)
    ],
)
def test_threshold_keeps_the_shape(function: Callable[..., Any], shape: Shape) -> None:
    model = Operands(function)
    shapes = shapes_of(shape)
    outcome = torch_run(model, shapes)
    assert outcome is not None
    plan = convcalc.plan(model, shapes)
    assert plan.output_shape == outcome[0]
    assert plan.fallback_rows == ()
    assert plan.macs == 0


def test_threshold_without_a_number_is_refused() -> None:
    model = Operands(lambda a, b, c, d: F.threshold(a, None, 1.0))
    assert torch_run(model, shapes_of((2, 3))) is None
    with pytest.raises(convcalc.SpecError, match="threshold"):
        convcalc.plan(model, shapes_of((2, 3)))


@pytest.mark.parametrize(
    ("function", "refused"),
    [
        (lambda a, b, c, d: a.masked_fill(a > 0, b.sum()), None),
        (lambda a, b, c, d: a.masked_fill(a > 0, 1.5), None),
        (lambda a, b, c, d: a.masked_fill(a > 0, b), (3,)),
        (lambda a, b, c, d: a.masked_fill(mask=a > 0, value=b[:1]), (1,)),
        (lambda a, b, c, d: torch.masked_fill(a, a > 0, a), (2, 3)),
        (lambda a, b, c, d: a.clone().masked_fill_(a > 0, b), (3,)),
    ],
)
def test_masked_fill_takes_a_0_d_value_tensor(function: Callable[..., Any], refused: Shape | None) -> None:
    model = Operands(function)
    shapes = shapes_of((2, 3), (3,))
    outcome = torch_run(model, shapes)
    if refused is None:
        assert outcome is not None
        assert convcalc.plan(model, shapes).output_shape == outcome[0]
        return
    assert outcome is None
    message = f"fills with one value: a number or a 0-D tensor, not a {len(refused)}-D tensor"
    with pytest.raises(convcalc.ShapeError, match=re.escape(message) + r".*" + re.escape(f"value_shape={refused}")):
        convcalc.plan(model, shapes)


# --- GELU's approximate, the dropouts of whole channels --------------------------------------------------------------


class Holding(torch.nn.Module):
    """``forward(x)`` is ``layer(x[0])`` (a plan's input has a batch axis; the layer sees one axis fewer)."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Any) -> Any:
        return self.layer(x[0])


def _module_outcome(layer: torch.nn.Module, shape: Shape) -> Shape | None:
    try:
        with torch.no_grad():
            return tuple(Holding(layer)(torch.randn(shape)).shape)
    except RuntimeError:
        return None


def test_the_functional_forms_refuse_as_torch_does() -> None:
    for function, shape in (
        (lambda a, b, c, d: F.gelu(a, approximate="x"), (2, 3)),
        (lambda a, b, c, d: F.dropout2d(a, 0.5, True), (5,)),
        (lambda a, b, c, d: F.feature_alpha_dropout(a, 0.5, True), (5,)),
    ):
        model = Operands(function)
        assert torch_run(model, shapes_of(shape)) is None
        with pytest.raises(convcalc.ConvCalcError):
            convcalc.plan(model, shapes_of(shape))


@pytest.mark.parametrize(
    ("kind", "arguments", "shape", "message"),
    [
        ("GELU", {"approximate": "x"}, (2, 3), "approximate must be 'none' or 'tanh'. Received: approximate='x'"),
        (
            "Dropout2d",
            {"p": 0.5, "training": True},
            (5,),
            "drops whole channels in training: expects an input of 2 or more dims",
        ),
        (
            "FeatureAlphaDropout",
            {"p": 0.2, "training": True},
            (5,),
            "drops whole channels in training: expects an input of 2 or more dims",
        ),
        (
            "Dropout3d",
            {"p": 0.5, "training": True},
            (),
            "drops whole channels in training: expects an input of 1 or more dims",
        ),
        ("Dropout2d", {"p": 0.5, "training": False}, (5,), None),  # in eval, the input as it is
        ("Dropout2d", {"p": 1.0, "training": True}, (5,), None),  # all dropped: no value drawn per channel
        ("Dropout2d", {"p": 0.5, "training": True}, (0,), None),  # nothing to drop
        ("GELU", {"approximate": "tanh"}, (2, 3), None),
    ],
)
def test_the_module_checks_by_class_name(
    kind: str, arguments: dict[str, Any], shape: Shape, message: str | None
) -> None:
    """ops_norm.module_checks, the checks of a layer by its class name and arguments (its mode among them),
    sharing the functional forms' checks; torch agrees at each."""
    from convcalc.torch.ops_norm import module_checks
    from convcalc.torch.values import _Call

    layer = getattr(torch.nn, kind)(**{k: v for k, v in arguments.items() if k != "training"})
    layer.train(bool(arguments.get("training")))
    assert (_module_outcome(layer, (1, *shape)) is None) == (message is not None)
    call = _Call(None, "layer", kind)
    if message is None:
        module_checks(call, kind, arguments, shape)
        return
    with pytest.raises(convcalc.ConvCalcError, match=re.escape(f"layer ({kind}): {message}")):
        module_checks(call, kind, arguments, shape)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.GELU(approximate="x"), (1, 2, 3)),
        (torch.nn.Dropout2d(0.5).train(), (1, 5)),
        (torch.nn.FeatureAlphaDropout(0.5).train(), (1, 5)),
    ],
)
def test_the_layers_refuse_as_torch_does(layer: torch.nn.Module, shape: Shape) -> None:
    assert _module_outcome(layer, shape) is None
    with pytest.raises(convcalc.ConvCalcError):
        convcalc.plan(Holding(layer), shape)
