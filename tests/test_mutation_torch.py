"""Behaviours of the torch reader's matrix products (``convcalc/torch/ops_product.py``), stride rules
(``convcalc/torch/strides.py``) and graph-node helpers (``convcalc/torch/nodes.py``) that mutation testing found
untested: keyword arguments, the rows a product reports, every refusal's whole message, the conditions recorded
for symbolic sizes, and strides that decide whether ``view`` is refused.

Every shape is torch's (a real forward), every refusal is one torch makes too, and every MAC count is derived
by hand in a comment.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import convcalc
from convcalc import torch_bridge as tb
from convcalc.torch import strides
from tests.test_torch_forms import Forward, _sym_agrees, torch_outcome

torch.set_num_threads(1)

H = convcalc.symbols("H")


def _model(function: Any) -> Forward:
    """A forward with the operands the products below take: ``w`` (8, 6), ``b`` (6,), ``v`` (8,), ``w3`` (2, 8, 6)."""
    model = Forward(function)
    model.w = torch.nn.Parameter(torch.zeros(8, 6))
    model.b = torch.nn.Parameter(torch.zeros(6))
    model.v = torch.nn.Parameter(torch.zeros(8))
    model.w3 = torch.nn.Parameter(torch.zeros(2, 8, 6))
    return model


def _planned(function: Any, shape: tuple[int, ...]) -> convcalc.Plan:
    """The plan of a forward torch runs: its output shapes are torch's, read by rule (no row from torch)."""
    model = _model(function)
    expected = torch_outcome(model, shape)
    assert expected is not None
    plan = convcalc.plan(model, shape)
    assert plan.output_shapes == expected
    assert not plan.fallback_rows
    return plan


def _refused(function: Any, shape: tuple[int, ...]) -> convcalc.ConvCalcError:
    """The error convcalc raises for a forward torch refuses too."""
    model = _model(function)
    assert torch_outcome(model, shape) is None
    with pytest.raises(convcalc.ConvCalcError) as info:
        convcalc.plan(model, shape)
    return info.value


def _product_rows(plan: convcalc.Plan, kind: str) -> list[tuple[Any, ...]]:
    return [(r.kind, r.input_shape, r.output_shape, r.macs) for r in plan.rows if r.kind == kind]


def _conditions(plan: convcalc.Plan) -> list[tuple[Any, ...]]:
    return [(c.layer, c.axis, str(c.form), c.kind, c.value, c.reason) for c in plan.constraints]


# --- matmul / mm / bmm -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "kind"),
    [
        (lambda s, x: torch.matmul(x, other=s.w), "matmul"),
        (lambda s, x: x.matmul(other=s.w), "matmul"),
        (lambda s, x: torch.mm(x, mat2=s.w), "mm"),
    ],
)
def test_a_product_s_second_operand_given_by_keyword(function: Any, kind: str) -> None:
    plan = _planned(function, (4, 8))
    # (4, 8) @ (8, 6): 4 * 6 * 8 = 192 multiply-accumulates over 4 input samples, 48 each
    assert _product_rows(plan, kind) == [(kind, (4, 8), (4, 6), 48)]
    assert plan.macs == 48


def test_a_vector_times_a_batch_of_matrices() -> None:
    """``(8,) @ (2, 8, 6)``: the vector's row is dropped from the (2, 1, 6) product, leaving (2, 6)."""
    plan = _planned(lambda s, x: s.v @ s.w3 + x.sum(), (4, 8))
    # 2 * 6 outputs, 8 inner indices each: 96 multiply-accumulates for the whole input, 24 per each of 4 samples
    assert _product_rows(plan, "matmul") == [("matmul", (8,), (2, 6), 24)]
    assert convcalc.plan(_model(lambda s, x: s.v @ s.w3 + x.sum()), (4, 8), macs="flops").rows[2].macs == 48


def test_a_matrix_product_row_names_its_left_operand() -> None:
    plan = _planned(lambda s, x: x @ s.w, (2, 5, 8))
    # (2, 5, 8) @ (8, 6): 5 * 6 outputs per sample, 8 inner indices each
    assert _product_rows(plan, "matmul") == [("matmul", (2, 5, 8), (2, 5, 6), 240)]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (lambda s, x: 2.0 @ x, "matmul (matmul): expects a tensor. Received: argument='float'"),
        (lambda s, x: x @ 2.0, "matmul (matmul): expects a tensor. Received: argument='float'"),
        (
            lambda s, x: torch.mm(x, s.v),
            "mm (mm): mm takes 2-D operands (torch.matmul broadcasts others). Received: shapes=((4, 8), (8,))",
        ),
        (
            lambda s, x: x.sum() @ x,
            "matmul (matmul): convcalc follows matrix products of tensors with 2 or more dims. "
            "Received: shapes=((), (4, 8))",
        ),
    ],
)
def test_a_product_of_what_is_not_a_matrix_is_refused(function: Any, message: str) -> None:
    error = _refused(function, (4, 8))
    assert type(error) is convcalc.SpecError
    assert str(error) == message


def test_inner_sizes_that_differ_name_both() -> None:
    error = _refused(lambda s, x: x @ s.w3.transpose(1, 2), (2, 5, 8))
    assert type(error) is convcalc.ShapeError
    assert str(error) == "matmul (matmul): the inner sizes differ (8 vs 6). Received: shapes=((2, 5, 8), (2, 6, 8))"


@pytest.mark.parametrize(
    ("function", "kind"),
    [
        (lambda s, x: torch.bmm(x, s.w3[:1]), "bmm"),
        (lambda s, x: torch.baddbmm(torch.zeros(2, 5, 6), x, s.w3[:1]), "baddbmm"),
        (lambda s, x: torch.addbmm(torch.zeros(5, 6), x, s.w3[:1]), "addbmm"),
    ],
)
def test_batched_products_take_equal_batches_not_broadcast_ones(function: Any, kind: str) -> None:
    error = _refused(function, (2, 5, 8))
    assert type(error) is convcalc.ShapeError
    assert str(error) == f"{kind} ({kind}): the batch sizes differ (2 vs 1). Received: input_shape=(2, 5, 8)"


def test_a_vector_times_a_matrix_of_a_symbolic_size() -> None:
    fc = torch.nn.Linear(8, 6)
    _sym_agrees(lambda s, x: x[0] @ s.fc.weight.T, (2, "H"), range(5, 11), fc=fc)
    plan = convcalc.plan(Forward(lambda s, x: x[0] @ s.fc.weight.T, fc=fc), (2, H))
    # the vector's last axis (0), then the row it is made into (axis 1 of (1, H))
    assert _conditions(plan) == [
        ("matmul", 0, "H - 8", "==", 0, "sizes equal"),
        ("matmul", 1, "H - 8", "==", 0, "sizes equal"),
    ]


def test_a_matrix_product_of_a_symbolic_inner_size() -> None:
    fc = torch.nn.Linear(8, 6)
    _sym_agrees(lambda s, x: x @ s.fc.weight.T, (2, "H"), range(5, 11), fc=fc)
    plan = convcalc.plan(Forward(lambda s, x: x @ s.fc.weight.T, fc=fc), (2, H))
    assert _conditions(plan) == [("matmul", 1, "H - 8", "==", 0, "sizes equal")]
    assert plan.output_shape == (2, 6)


def test_a_batched_product_of_a_symbolic_batch() -> None:
    model = _model(lambda s, x: torch.bmm(x, s.w3))
    for batch in (1, 2, 3):  # torch runs it for a batch of 2 only, as w3's
        assert (torch_outcome(model, (batch, 5, 8)) is not None) == (batch == 2)
    plan = convcalc.plan(model, (H, 5, 8))
    assert _conditions(plan) == [("bmm", 0, "H - 2", "==", 0, "sizes equal")]
    assert plan.output_shape == (H, 5, 6)


# --- addmm / baddbmm / addbmm ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "shape", "row"),
    [
        # (4, 8) @ (8, 6): 4 * 6 * 8 = 192 multiply-accumulates over 4 samples
        (lambda s, x: torch.addmm(input=s.b, mat1=x, mat2=s.w), (4, 8), ("addmm", (4, 8), (4, 6), 48)),
        (lambda s, x: torch.addmm(s.b, mat1=x, mat2=s.w), (4, 8), ("addmm", (4, 8), (4, 6), 48)),
        # (2, 5, 8) @ (2, 8, 6): 2 * 5 * 6 * 8 = 480 over 2 samples
        (
            lambda s, x: torch.baddbmm(input=s.b, batch1=x, batch2=s.w3),
            (2, 5, 8),
            ("baddbmm", (2, 5, 8), (2, 5, 6), 240),
        ),
        # the same 480 products, summed over the batch into one (5, 6) result
        (
            lambda s, x: torch.addbmm(input=s.b, batch1=x, batch2=s.w3),
            (2, 5, 8),
            ("addbmm", (2, 5, 8), (5, 6), 240),
        ),
        (lambda s, x: torch.addmm(s.b, x, s.w), (4, 8), ("addmm", (4, 8), (4, 6), 48)),
    ],
)
def test_products_with_an_addend_by_keyword(function: Any, shape: tuple[int, ...], row: tuple[Any, ...]) -> None:
    plan = _planned(function, shape)
    assert _product_rows(plan, row[0]) == [row]
    assert plan.macs == row[3]


@pytest.mark.parametrize(
    ("function", "shape", "error", "message"),
    [
        (
            lambda s, x: s.b.addmm(x),
            (4, 8),
            convcalc.SpecError,
            "addmm (addmm): needs the argument 'mat2'. Received: arguments=2",
        ),
        (
            lambda s, x: x.baddbmm(x),
            (2, 5, 8),
            convcalc.SpecError,
            "baddbmm (baddbmm): needs the argument 'batch2'. Received: arguments=2",
        ),
        (
            lambda s, x: x.new_zeros(4, 6).addmm(x, 2.0),
            (4, 8),
            convcalc.SpecError,
            "addmm (addmm): expects a tensor. Received: argument='float'",
        ),
        (
            lambda s, x: torch.addmm(s.b, x, s.w3),
            (4, 8),
            convcalc.SpecError,
            "addmm (addmm): addmm takes 2-D operands. Received: shapes=((4, 8), (2, 8, 6))",
        ),
        (
            lambda s, x: torch.baddbmm(s.b, x, s.w),
            (2, 5, 8),
            convcalc.SpecError,
            "baddbmm (baddbmm): baddbmm takes 3-D operands. Received: shapes=((2, 5, 8), (8, 6))",
        ),
        (  # c has more axes than the (4, 4) product: torch does not broadcast it out
            lambda s, x: torch.addmm(torch.zeros(4, 4, 4), x, x.mT),
            (4, 8),
            convcalc.ShapeError,
            "addmm (addmm): input of shape (4, 4, 4) does not broadcast to the product's (4, 4). "
            "Received: input_shape=(4, 4, 4)",
        ),
        (  # c widens the product's axis of size 1
            lambda s, x: torch.addmm(torch.zeros(4, 6), x, s.w),
            (1, 8),
            convcalc.ShapeError,
            "addmm (addmm): input of shape (4, 6) does not broadcast to the product's (1, 6). "
            "Received: input_shape=(4, 6)",
        ),
    ],
)
def test_products_with_an_addend_refused_as_torch_refuses(
    function: Any, shape: tuple[int, ...], error: type, message: str
) -> None:
    refused = _refused(function, shape)
    assert type(refused) is error
    assert str(refused) == message


# --- tensordot ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "shape", "row"),
    [
        # dims=2 by default: (2, 2, 4) against (2, 4, 6) contracts 2 * 4 indices per each of 2 * 6 outputs: 96
        # multiply-accumulates over 2 samples
        (lambda s, x: torch.tensordot(x, s.w3[:, :4]), (2, 2, 4), ("tensordot", (2, 2, 4), (2, 6), 48)),
        # (4, 8) . (8, 6): 4 * 6 * 8 = 192 over 4 samples
        (lambda s, x: torch.tensordot(x, s.w, dims=1), (4, 8), ("tensordot", (4, 8), (4, 6), 48)),
        # contracting x's first axis: (8, 4) against (8, 6), 4 * 6 * 8 = 192 for the whole input, over 8 samples
        (lambda s, x: torch.tensordot(x, s.w, dims=([0], [0])), (8, 4), ("tensordot", (8, 4), (4, 6), 24)),
    ],
)
def test_tensordot_rows(function: Any, shape: tuple[int, ...], row: tuple[Any, ...]) -> None:
    plan = _planned(function, shape)
    assert _product_rows(plan, "tensordot") == [row]


@pytest.mark.parametrize(
    ("function", "shape", "error", "message"),
    [
        (
            lambda s, x: torch.tensordot(2.0, x),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): expects a tensor. Received: argument='float'",
        ),
        (
            lambda s, x: torch.tensordot(x, 2.0),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): expects a tensor. Received: argument='float'",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=-1),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): tensordot expects dims >= 0, but got dims=-1. Received: dims=-1",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=3),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): tensordot expects dims <= the ranks 2 and 2, but got dims=3. Received: dims=3",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=([1], [0], [1])),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): convcalc follows tensordot with dims an int or a pair of lists of ints. "
            "Received: dims=((1,), (0,), (1,))",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=([0, 1], [0])),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): both dimension lists should have same length. Received: dims=((0, 1), (0,))",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=([7], [0])),
            (4, 8),
            convcalc.ShapeError,
            "tensordot (tensordot): dim=7 is out of range for a 2-D input (4, 8). Received: input_shape=(4, 8)",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w, dims=([1], [5])),
            (4, 8),
            convcalc.ShapeError,
            "tensordot (tensordot): dim=5 is out of range for a 2-D input (8, 6). Received: input_shape=(8, 6)",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w3, dims=([1, 1], [0, 1])),
            (4, 8),
            convcalc.SpecError,
            "tensordot (tensordot): a dim appears more than once in the list of dims. Received: dims=((1, 1), (0, 1))",
        ),
        (
            lambda s, x: torch.tensordot(x, s.w3, dims=([2], [1])),
            (2, 5, 7),
            convcalc.ShapeError,
            "tensordot (tensordot): contracted dimensions need to match, but the first has size 7 in dim 2 and the "
            "second has size 8 in dim 1. Received: shapes=((2, 5, 7), (2, 8, 6))",
        ),
    ],
)
def test_tensordot_refused_as_torch_refuses(function: Any, shape: tuple[int, ...], error: type, message: str) -> None:
    refused = _refused(function, shape)
    assert type(refused) is error
    assert str(refused) == message


def test_tensordot_of_a_symbolic_contracted_size() -> None:
    fc = torch.nn.Linear(8, 6)
    _sym_agrees(lambda s, x: torch.tensordot(x, s.fc.weight.T, dims=([1], [0])), (2, "H"), range(5, 11), fc=fc)
    plan = convcalc.plan(Forward(lambda s, x: torch.tensordot(x, s.fc.weight.T, dims=([1], [0])), fc=fc), (2, H))
    assert _conditions(plan) == [("tensordot", 1, "H - 8", "==", 0, "sizes equal")]
    assert plan.output_shape == (2, 6)
    assert plan.macs == 6 * H  # 6 outputs per sample, H contracted indices each


# --- strides: where view is refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda s, x: x.expand(2, 3).view(6), (1, 3)),  # a widened axis steps by 0: not viewable
        (lambda s, x: x.expand(4, 3).view(12), (1, 3)),
        (lambda s, x: x.transpose(1, 2).unsqueeze(-1).float().view(-1), (2, 3, 4)),  # .float() keeps the layout
    ],
)
def test_a_view_torch_refuses_after_expand_or_a_cast(function: Any, shape: tuple[int, ...]) -> None:
    model = Forward(function)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        function(model, torch.zeros(shape))
    with pytest.raises(convcalc.ShapeError, match=r"is not compatible with the input's size and stride"):
        convcalc.plan(model, shape)


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (lambda s, x: x.expand(2, 3).view(6), (2, 3)),  # an expand to its own shape keeps the strides
        (lambda s, x: x.sum().view(1, 1), (2, 3)),  # a 0-D tensor viewed
    ],
)
def test_a_view_torch_allows(function: Any, shape: tuple[int, ...]) -> None:
    plan = _planned(function, shape)
    assert plan.output_shape == tuple(function(None, torch.zeros(shape)).shape)


@pytest.mark.parametrize(
    ("shape", "new"),
    [((3,), (2, 3)), ((1, 3), (2, 3)), ((1, 3), (4, 3)), ((1, 1), (4, 1)), ((2, 1), (2, 5)), ((2, 3), (2, 3))],
)
def test_strides_of_an_expand_are_torch_s(shape: tuple[int, ...], new: tuple[int, ...]) -> None:
    x = torch.zeros(shape)
    assert strides.expanded(shape, tuple(x.stride()), new) == x.expand(new).stride()


def test_strides_of_a_0d_tensor_viewed_are_torch_s() -> None:
    assert strides.viewed((), (), (1, 1)) == torch.zeros(()).view(1, 1).stride() == (1, 1)


def test_an_elementwise_result_of_channels_last_operands_is_channels_last() -> None:
    """Operands channels-last (N, C, H, W) with W of size 1 stepping by 1: torch lays the result out anew in
    channels-last order, W's stride then the (H * C) step."""
    a = torch.zeros(2, 5, 3).permute(0, 2, 1).unsqueeze(3)
    assert a.stride() == (15, 1, 3, 1)
    laid = [(tuple(a.shape), tuple(a.stride()))] * 2
    assert strides.iterated(laid, tuple(a.shape), scalars=False) == (a + a).stride() == (15, 1, 3, 3)


# --- graph nodes as read back ----------------------------------------------------------------------------------------


def test_graph_repr_shows_a_module_of_two_inputs_keywords_and_a_dict() -> None:
    model = Forward(lambda s, x: {"out": s.bil(x, x), "soft": torch.softmax(x, dim=-1)}, bil=torch.nn.Bilinear(4, 4, 3))
    assert repr(tb.from_torch(model)) == (
        "Graph(Forward,\n"
        "  (bil): Bilinear(in1_features=4, in2_features=4, out_features=3, bias=True)\n"
        "  forward(x):\n"
        "    bil = self.bil(x, x)\n"
        "    softmax = softmax(x, dim=-1)\n"
        "    return {'out': bil, 'soft': softmax}\n"
        ")"
    )


def _laid_out(shape: list[int], rng: Any) -> torch.Tensor:
    """An operand for a result of ``shape``: fewer axes or size-1 axes (broadcast), its axes laid out in a random
    order, and sometimes expanded (stride 0), narrowed or stepped (not dense)."""
    lead = rng.choice([0, 0, 0, 1]) if len(shape) > 1 else 0
    sizes = [d if rng.random() < 0.7 else 1 for d in shape[lead:]]
    order = list(range(len(sizes)))
    rng.shuffle(order)
    back = [order.index(j) for j in range(len(sizes))]
    tensor = torch.empty([sizes[j] for j in order]).permute(back)
    kind = rng.random()
    if kind < 0.2 and 1 in sizes:
        tensor = tensor.expand([shape[lead + j] if d == 1 and rng.random() < 0.5 else d for j, d in enumerate(sizes)])
    elif kind < 0.35 and sizes:
        j = rng.randrange(len(sizes))
        wide = list(sizes)
        wide[j] *= 2
        tensor = torch.empty([wide[k] for k in order]).permute(back)
        tensor = (
            tensor.narrow(j, 0, sizes[j])
            if rng.random() < 0.5
            else tensor[(slice(None),) * j + (slice(None, None, 2),)]
        )
    return tensor


def test_the_strides_of_an_elementwise_result_are_torchs() -> None:
    """``strides.iterated`` against the strides torch gives ``a + b`` (and ``(a + b) + 2.0``) for 4,000 pairs of
    operands of ranks 1 to 4, broadcast, permuted, expanded, narrowed and stepped: the layout that decides
    whether a later ``view`` is refused."""
    import random

    rng = random.Random(0)
    compared = 0
    for _ in range(4000):
        shape = [rng.randint(1, 3) for _ in range(rng.randint(1, 4))]
        a, b = _laid_out(shape, rng), _laid_out(shape, rng)
        out = a + b
        if rng.random() < 0.2:
            got = strides.iterated([(tuple(out.shape), out.stride())], tuple(out.shape), True)
            out = out + 2.0
        else:
            got = strides.iterated(
                [(tuple(a.shape), a.stride()), (tuple(b.shape), b.stride())], tuple(out.shape), False
            )
        assert got == out.stride(), (tuple(a.shape), a.stride(), tuple(b.shape), b.stride())
        compared += 1
    assert compared == 4000
