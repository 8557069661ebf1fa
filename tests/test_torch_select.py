"""Selections, comparisons, grids and the eye / linspace factories, read by rule (not through torch's machinery)
and compared with torch running the same forward: output shapes and counts, or both refusing; and their
symbolic closed forms against torch at every size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from tests.test_torch_forms import Forward, check

F = torch.nn.functional
torch.set_num_threads(1)

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def agrees(function: Callable[..., Any], shape: tuple[int, ...]) -> convcalc.Plan | None:
    """The plan of ``forward(x) = function(x)`` agrees with torch (shapes and counts, or both refuse), and is read
    by convcalc's rules: no row comes from torch's machinery."""
    plan = check(Forward(lambda self, x: function(x)), shape)
    assert plan is None or not plan.fallback_rows, [r.name for r in plan.fallback_rows]
    return plan


@given(shape=shapes, k=st.integers(0, 6), dim=st.integers(-4, 3), method=st.booleans())
def test_topk(shape: tuple[int, ...], k: int, dim: int, method: bool) -> None:
    agrees((lambda x: x.topk(k, dim)) if method else (lambda x: torch.topk(x, k, dim=dim, largest=False)), shape)


@given(shape=shapes, dim=st.integers(-4, 3), which=st.sampled_from(["sort", "argsort", "msort", "kwargs"]))
def test_sort(shape: tuple[int, ...], dim: int, which: str) -> None:
    function = {
        "sort": lambda x: x.sort(dim),
        "argsort": lambda x: x.argsort(dim, descending=True),
        "msort": torch.msort,
        "kwargs": lambda x: torch.sort(x, stable=True, dim=dim, descending=True),
    }[which]
    agrees(function, shape)


@given(shape=shapes, dim=st.integers(-4, 3), count=st.integers(0, 6), scalar=st.booleans())
def test_index_select(shape: tuple[int, ...], dim: int, count: int, scalar: bool) -> None:
    index = torch.tensor(0) if scalar else torch.zeros(count, dtype=torch.long)
    agrees(lambda x: x.index_select(dim, index), shape)


@given(shape=shapes, dim=st.integers(-4, 3), grow=st.lists(st.integers(-2, 1), min_size=4, max_size=4))
def test_gather(shape: tuple[int, ...], dim: int, grow: list[int]) -> None:
    index_shape = tuple(max(s + g, 0) for s, g in zip(shape, grow, strict=False))
    agrees(lambda x: x.gather(dim, torch.zeros(index_shape, dtype=torch.long)), shape)


@given(
    shape=shapes,
    dim=st.integers(-4, 3),
    grow=st.lists(st.integers(-2, 1), min_size=4, max_size=4),
    more=st.lists(st.integers(-1, 2), min_size=0, max_size=5),
    form=st.sampled_from(["scatter_", "scatter", "value", "scatter_add", "scatter_reduce", "torch.scatter"]),
)
def test_scatter(shape: tuple[int, ...], dim: int, grow: list[int], more: list[int], form: str) -> None:
    # a one-hot code (``one_hot.scatter_(1, index, 1)``, a VQ-VAE's) and the other scatters: the input's shape,
    # with torch's rules on the index's and the source's sizes and ranks (``more`` may give the source another)
    index = torch.zeros(tuple(max(s + g, 0) for s, g in zip(shape, grow, strict=False)), dtype=torch.long)
    src = torch.zeros(tuple(max(i + m, 0) for i, m in zip(index.shape, more, strict=False)))
    function = {
        "scatter_": lambda x: x.clone().scatter_(dim, index, src),
        "scatter": lambda x: x.scatter(dim, index, src),
        "value": lambda x: x.scatter(dim, index, 1.0),
        "scatter_add": lambda x: x.scatter_add(dim, index, src),
        "scatter_reduce": lambda x: x.scatter_reduce(dim, index, src, "amax", include_self=False),
        "torch.scatter": lambda x: torch.scatter(x, dim, index, value=2.0),
    }[form]
    agrees(function, shape)


@given(
    shape=shapes,
    n=st.integers(0, 6),
    dim=st.integers(-4, 3),
    prepend=st.integers(0, 2),
    append=st.sampled_from([None, 0, 1, 3]),
)
def test_diff(shape: tuple[int, ...], n: int, dim: int, prepend: int, append: int | None) -> None:
    def function(x: Any) -> Any:
        j = dim % len(shape) if -len(shape) <= dim < len(shape) else 0
        before = torch.zeros(*shape[:j], prepend, *shape[j + 1 :]) if prepend else None
        after = None if append is None else torch.zeros(*shape[:j], append, *shape[j + 1 :])
        return torch.diff(x, n=n, dim=dim, prepend=before, append=after)

    agrees(function, shape)


@given(shape=shapes, repeats=st.integers(0, 3), dim=st.sampled_from([None, 0, 1, -1, 4]))
def test_repeat_interleave(shape: tuple[int, ...], repeats: int, dim: int | None) -> None:
    agrees(lambda x: x.repeat_interleave(repeats, dim=dim), shape)


def test_repeat_interleave_by_a_tensor_of_counts_is_refused_by_name() -> None:
    """The counts are values: no size tells the result, and torch's meta run cannot either (it asks for
    output_size), so the plan is refused, naming the construct, never guessed."""
    model = Forward(lambda self, x: x.repeat_interleave(torch.tensor([1, 2, 3]), dim=1))
    assert tuple(model(torch.zeros(2, 3, 4)).shape) == (2, 6, 4)
    with pytest.raises(convcalc.SpecError, match=r"repeat_interleave by counts held in a tensor .* cannot know"):
        convcalc.plan(model, (2, 3, 4))


@given(shape=shapes, dim=st.integers(-4, 3), module=st.booleans())
def test_glu(shape: tuple[int, ...], dim: int, module: bool) -> None:
    agrees(torch.nn.GLU(dim) if module else (lambda x: F.glu(x, dim)), shape)


@given(shape=shapes, dim=st.sampled_from([None, 0, 1, -1, (0, 1)]), keepdim=st.booleans(), var=st.booleans())
def test_std_mean_and_var_mean(shape: tuple[int, ...], dim: Any, keepdim: bool, var: bool) -> None:
    moments = torch.var_mean if var else torch.std_mean
    agrees(lambda x: moments(x, dim=dim, keepdim=keepdim), shape)


@given(a=st.integers(1, 5), b=st.integers(1, 5), rank=st.integers(1, 2))
def test_outer(a: int, b: int, rank: int) -> None:
    agrees(lambda x: torch.outer(x.flatten()[:a] if rank == 1 else x, torch.ones(b)), (a,) if rank == 1 else (a, a))


@given(
    batch=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    other=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    p=st.integers(1, 4),
    r=st.integers(1, 4),
    m=st.integers(1, 3),
    n=st.integers(1, 3),
)
def test_cdist(batch: tuple[int, ...], other: tuple[int, ...], p: int, r: int, m: int, n: int) -> None:
    agrees(lambda x: torch.cdist(x, torch.zeros(*other, r, n)), (*batch, p, m))


@given(shape=shapes, other=shapes, dim=st.integers(-4, 3), distance=st.booleans(), keepdim=st.booleans())
def test_cosine_similarity_and_pairwise_distance(
    shape: tuple[int, ...], other: tuple[int, ...], dim: int, distance: bool, keepdim: bool
) -> None:
    def function(x: Any) -> Any:
        if distance:
            return F.pairwise_distance(x, torch.zeros(other), keepdim=keepdim)
        return F.cosine_similarity(x, torch.zeros(other), dim=dim)

    agrees(function, shape)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 1, 7)])
def test_a_meshgrid_of_the_input_s_sizes(indexing: str, shape: tuple[int, ...]) -> None:
    def function(x: Any) -> Any:
        ys, xs = torch.meshgrid(torch.arange(x.shape[2]), torch.arange(x.shape[3]), indexing=indexing)
        return torch.stack((ys, xs), 0).float() + x[0, :2] if indexing == "ij" else torch.stack((ys, xs), -1)

    agrees(function, shape)


@pytest.mark.parametrize(
    "function",
    [
        lambda x: x + torch.eye(x.shape[-1]),
        lambda x: torch.eye(x.shape[-2], x.shape[-1]) * x,
        lambda x: x + torch.linspace(-1, 1, x.shape[-1]),
        lambda x: x + torch.logspace(0, 1, steps=x.shape[-1]),
    ],
    ids=["eye(n)", "eye(n, m)", "linspace", "logspace"],
)
@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 2, 3, 5)])
def test_factories_of_traced_sizes(function: Callable[..., Any], shape: tuple[int, ...]) -> None:
    agrees(function, shape)


@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    volume=st.booleans(),
)
def test_affine_grid_and_grid_sample(n: int, c: int, size: tuple[int, int], out: tuple[int, int], volume: bool) -> None:
    k = 3 if volume else 2

    def function(x: Any) -> Any:
        theta = torch.zeros(x.shape[0], k, k + 1)
        target = (x.shape[0], x.shape[1], *out[: k - 1], out[-1]) if volume else (x.shape[0], x.shape[1], *out)
        return F.grid_sample(x, F.affine_grid(theta, target, align_corners=False), align_corners=False)

    agrees(function, (n, c, *size[:1], *size) if volume else (n, c, *size))


@given(shape=shapes, classes=st.integers(1, 4))
def test_one_hot(shape: tuple[int, ...], classes: int) -> None:
    agrees(lambda x: F.one_hot(torch.zeros(x.shape, dtype=torch.long), classes), shape)


@pytest.mark.parametrize(
    ("function", "name"),
    [
        (lambda x: x.topk(3, dim=-1)[0], "topk"),
        (lambda x: torch.diff(x, n=2, dim=-1), "diff"),
        (lambda x: x.repeat_interleave(2, dim=2), "repeat_interleave"),
        (lambda x: F.glu(x, dim=-1), "glu"),
        (lambda x: x + torch.linspace(-1, 1, x.shape[-1]), "linspace"),
        (lambda x: x.flatten(2) @ torch.eye(x.shape[2] * x.shape[3]), "eye"),
        (lambda x: torch.cdist(x.flatten(2), x.flatten(2)), "cdist"),
        (
            lambda x: F.grid_sample(
                x, F.affine_grid(torch.zeros(x.shape[0], 2, 3), x.size(), align_corners=False), align_corners=False
            ),
            "affine_grid",
        ),
    ],
)
def test_symbolic_forms_agree_with_torch_at_every_size(function: Callable[..., Any], name: str) -> None:
    """Planned with symbols, each form's closed form gives torch's shape at every width torch accepts, and its
    constraints leave out exactly the widths torch refuses."""
    W = convcalc.symbols("W")
    model = Forward(lambda self, x: function(x))
    plan = convcalc.plan(model, (2, 3, 4, W))
    assert not plan.fallback_rows
    for w in range(1, 12):
        allowed = all(c.holds(w) for c in plan.constraints)
        try:
            with torch.no_grad():
                expected = tuple(model(torch.zeros(2, 3, 4, w)).shape)
        except RuntimeError:
            expected = None
        assert (expected is not None) == allowed, (name, w)
        if expected is not None:
            assert tuple(int(sympy.sympify(d).subs(W, w)) for d in plan.output_shape) == expected, (name, w)


@given(shape=shapes, edges=st.lists(st.integers(0, 3), max_size=2).map(tuple))
def test_bucketize(shape: tuple[int, ...], edges: tuple[int, ...]) -> None:
    # boundaries of other than 1 dim: torch refuses on data, and its meta kernel would not
    agrees(lambda x: torch.bucketize(x, torch.zeros(edges)), shape)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    samples=st.integers(-1, 5),
    replacement=st.booleans(),
)
def test_multinomial(shape: tuple[int, ...], samples: int, replacement: bool) -> None:
    # more samples than a row holds without replacement: torch refuses on data, and its meta kernel would not
    plan = agrees(lambda x: torch.multinomial(x.abs() + 1, samples, replacement), shape)
    if plan is not None:
        assert plan.output_shape == (*shape[:-1], samples)


class _OneHotCodebook(torch.nn.Module):
    """A VQ-VAE's quantiser (AntixK/PyTorch-VAE's form): the nearest code's one-hot row made with ``scatter_``."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(16, 4)

    def forward(self, z: Any) -> Any:
        flat = z.permute(0, 2, 3, 1).contiguous().view(-1, 4)
        weight = self.embedding.weight
        dist = (flat**2).sum(1, keepdim=True) + (weight**2).sum(1) - 2 * torch.matmul(flat, weight.t())
        indices = torch.argmin(dist, dim=1).unsqueeze(1)
        one_hot = torch.zeros(indices.size(0), 16, device=z.device)
        one_hot.scatter_(1, indices, 1)
        quantised = torch.matmul(one_hot, weight)
        return quantised.view(z.shape[0], z.shape[2], z.shape[3], 4).permute(0, 3, 1, 2)


def test_a_one_hot_code_made_by_scatter_plans_for_every_size() -> None:
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(_OneHotCodebook(), (2, 4, H, W))
    assert plan.output_shape == (2, 4, H, W)
    assert not plan.fallback_rows
    for h, w in [(1, 1), (5, 6), (7, 3)]:
        numeric = convcalc.plan(_OneHotCodebook(), (2, 4, h, w))
        assert numeric.output_shape == tuple(_OneHotCodebook()(torch.zeros(2, 4, h, w)).shape) == (2, 4, h, w)
        assert numeric.macs == sympy.sympify(plan.macs).subs({H: h, W: w})
