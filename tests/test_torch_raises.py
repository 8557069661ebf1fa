"""A forward that checks its input's sizes and raises (``if h != 224: raise ValueError(...)``), and one that checks
its rank (``if len(x.shape) != 4: raise ...``).

Hugging Face's ViT raises where the image is not the model's size; CLIP's text model where the sequence is longer
than its table; kornia's ``KORNIA_CHECK_SHAPE`` where the rank is not 4. The branch into a ``raise`` is read as
an assert of the other way (``convcalc/torch/bytecode.py``): with numbers, a size that takes it is refused with
the line that raises; with symbols, it is the plan's constraint, so ``valid_sizes`` gives the sizes torch runs. A
``raise`` that a ``try`` or a ``with`` may catch is a plain branch, read as before. Every plan is compared with
the real forward.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import convcalc  # noqa: E402


class PatchEmbedding(nn.Module):
    """ViT's embeddings: a class token and a table of positions for one image size only."""

    def __init__(self, image_size: int = 16, patch: int = 4) -> None:
        super().__init__()
        self.image_size = (image_size, image_size)
        self.proj = nn.Conv2d(3, 8, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.positions = nn.Parameter(torch.zeros(1, (image_size // patch) ** 2 + 1, 8))

    def forward(self, pixel_values: Any) -> Any:
        batch, _, height, width = pixel_values.shape
        if height != self.image_size[0] or width != self.image_size[1]:
            raise ValueError(
                f"Input image size ({height}*{width}) doesn't match model ({self.image_size[0]}*{self.image_size[1]})."
            )
        tokens = self.proj(pixel_values).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1), tokens], dim=1)
        return tokens + self.positions


class TokenTable(nn.Module):
    """CLIP's text embeddings: a sequence longer than the table raises before the lookup."""

    def __init__(self, positions: int = 12) -> None:
        super().__init__()
        self.tokens = nn.Embedding(50, 8)
        self.positions = nn.Embedding(positions, 8)

    def forward(self, input_ids: Any) -> Any:
        length = input_ids.shape[-1]
        if length > self.positions.num_embeddings:
            raise ValueError(f"Sequence length must be less than {self.positions.num_embeddings}, got {length}")
        where = torch.arange(length).unsqueeze(0)
        return self.tokens(input_ids) + self.positions(where)


def check_shape(x: Any, shape: list[str], msg: Any = None, raises: bool = True) -> bool:
    """kornia's ``KORNIA_CHECK_SHAPE``: the rank first (the message asks it again, and lists the sizes), then each
    numbered size."""
    if len(x.shape) != len(shape):
        if raises:
            expected_dims = len(shape)
            actual_dims = len(x.shape)
            error_msg = f"Shape dimension mismatch: expected {expected_dims} dimensions, got {actual_dims}.\n"
            error_msg += f"  Actual shape: {list(x.shape)}"
            if msg is not None:
                error_msg += f"\n  {msg}"
            raise TypeError(error_msg)
        return False
    for i in range(len(shape)):
        if shape[i].isnumeric() and x.shape[i] != int(shape[i]):
            raise TypeError(f"{x} shape must be [{shape}]. Got {x.shape}")
    return True


class CheckedBlur(nn.Module):
    """A filter that checks its input as kornia's do, then needs an even width."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)

    def forward(self, x: Any) -> Any:
        check_shape(x, ["B", "3", "H", "W"])
        if not x.shape[-1] % 2 == 0:
            raise RuntimeError("the width must be even")
        return self.conv(x)


class CaughtRaise(nn.Module):
    """A ``raise`` the forward catches itself: a branch to another layer, not a failure."""

    def __init__(self) -> None:
        super().__init__()
        self.small = nn.Conv2d(3, 4, 3)
        self.large = nn.Conv2d(3, 6, 1)

    def forward(self, x: Any) -> Any:
        try:
            if x.shape[-1] > 8:
                raise ValueError("too large for the small path")
            return self.small(x)
        except ValueError:
            return self.large(x)


class SuppressedRaise(nn.Module):
    """A ``raise`` inside ``contextlib.suppress``: the forward goes on past it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        with contextlib.suppress(ValueError):
            if x.shape[-1] > 8:
                raise ValueError("wide")
            y = y[..., :2]
        return y


class _Strict(nn.Module):
    def forward(self, x: Any) -> Any:
        if x.shape[-1] > 8:
            raise ValueError("too wide")
        return x[..., :2]


class CaughtByCaller(nn.Module):
    """A child raises; its caller catches it and takes another layer."""

    def __init__(self) -> None:
        super().__init__()
        self.strict = _Strict()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        try:
            return self.strict(x)
        except ValueError:
            return self.conv(x)


def _torch_shape(model: nn.Module, x: Any) -> tuple[int, ...] | None:
    try:
        with torch.no_grad():
            return tuple(model(x).shape)
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError):
        return None


def _planned(model: nn.Module, shape: Any) -> tuple[int, ...] | None:
    try:
        plan = convcalc.plan(model, shape)
    except convcalc.ShapeError:
        return None
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    return tuple(plan.output_shape)


@pytest.mark.parametrize(
    ("model", "shapes"),
    [
        pytest.param(PatchEmbedding(), [(2, 3, h, w) for h in (12, 15, 16, 17, 20) for w in (16, 20)], id="vit"),
        pytest.param(CheckedBlur(), [(1, c, 5, w) for c in (1, 3) for w in (4, 5, 6, 7)], id="checked-blur"),
        pytest.param(CaughtRaise(), [(1, 3, 9, w) for w in range(3, 12)], id="caught"),
        pytest.param(SuppressedRaise(), [(1, 3, 9, w) for w in range(3, 12)], id="suppressed"),
        pytest.param(CaughtByCaller(), [(1, 3, 9, w) for w in range(3, 12)], id="caught-by-caller"),
    ],
)
def test_each_size_is_planned_where_torch_runs_and_refused_where_it_raises(model: nn.Module, shapes: Any) -> None:
    model.eval()
    for shape in shapes:
        assert _planned(model, shape) == _torch_shape(model, torch.randn(*shape)), shape


def test_token_table_is_planned_up_to_its_length_and_refused_past_it() -> None:
    model = TokenTable().eval()
    for length in range(1, 16):
        expected = _torch_shape(model, torch.randint(0, 50, (2, length)))
        assert _planned(model, {"input_ids": (2, length)}) == expected, length


def test_the_refusal_names_what_the_forward_raises_and_the_line() -> None:
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(PatchEmbedding(), (1, 3, 20, 16))
    message = str(caught.value)
    assert message.startswith(
        "<model> (PatchEmbedding): its forward raises ValueError(\"Input image size ({…}*{…}) doesn't match model "
        '({…}*{…}).") for these input sizes: they take the branch that raises at '
    )
    assert "`if height != self.image_size[0] or width != self.image_size[1]:` (test_torch_raises.py, line" in message
    with pytest.raises(
        convcalc.ShapeError,
        match=r"raises RuntimeError\(\"the width must be even\"\) for these input sizes.*`if not x\.shape",
    ):
        convcalc.plan(CheckedBlur(), (1, 3, 5, 5))


def test_a_symbolic_plan_keeps_the_sizes_that_do_not_raise_as_its_constraints() -> None:
    """ViT at symbolic H and W: the plan holds at 16 x 16 only, as torch runs (it was refused, each way of the
    condition raising in the other's plan)."""
    model = PatchEmbedding().eval()
    height, width = convcalc.symbols("H W")
    plan = convcalc.plan(model, (2, 3, height, width))
    assert not plan.fallback_rows
    assert {c.reason for c in plan.constraints} >= {"Eq(H, 16) (else ValueError)", "Eq(W, 16) (else ValueError)"}
    for h in range(1, 25):
        for w in (15, 16, 17):
            runs = _torch_shape(model, torch.randn(2, 3, h, w)) is not None
            assert all(c.holds({"H": h, "W": w}) for c in plan.constraints) is runs, (h, w)


def test_a_symbolic_length_is_valid_up_to_the_table() -> None:
    model = TokenTable().eval()
    length = convcalc.symbols("L")
    plan = convcalc.plan(model, {"input_ids": (2, length)})
    for n in range(1, 20):
        runs = _torch_shape(model, torch.randint(0, 50, (2, n))) is not None
        assert all(c.holds({"L": n}) for c in plan.constraints) is runs, n


def test_a_rank_check_is_read_with_the_rank_it_passes() -> None:
    """``len(x.shape) != 4`` was read with the rank guessed as 1, which raised: the module went to torch's pass.
    The read tries the next ranks, and the plan checks the one taken: a 4-D input is read by rule."""
    plan = convcalc.plan(CheckedBlur(), (1, 3, 5, 6))
    assert {row.source for row in plan.rows} == {"rule"}
    with pytest.raises(convcalc.ConvCalcError):
        convcalc.plan(CheckedBlur(), (3, 5, 6))  # torch raises TypeError on the rank


class ShortInput(nn.Module):
    """WaveNet's length check: ``int(x.size(2))`` against the receptive field, then its own exception."""

    class TooShortError(Exception):
        pass

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 2, dilation=4)

    def forward(self, x: Any) -> Any:
        length = int(x.size(2))
        if length - 4 < 1:
            raise ShortInput.TooShortError(f"input {length} is shorter than the receptive field")
        return self.conv(x)


def test_a_length_taken_with_int_and_checked_is_read_by_rule() -> None:
    """``int(x.size(2))`` was read as 1, the check raised, and every length went to torch's pass; a symbolic
    length was refused for an input of 1 that no one gave. A length torch runs is read by rule now, one it
    raises for is refused, and a symbolic one is refused for its ``int()``."""
    model = ShortInput().eval()
    for length in range(1, 12):
        expected = _torch_shape(model, torch.randn(1, 2, length)) if length >= 5 else None
        if expected is None:
            with pytest.raises(convcalc.ConvCalcError, match=f"input {length} is shorter"):
                convcalc.plan(model, (1, 2, length))
            continue
        plan = convcalc.plan(model, (1, 2, length))
        assert plan.output_shape == expected
        assert not plan.fallback_rows
    with pytest.raises(convcalc.SpecError, match=r"asks int\(\) of a size that depends on the symbols"):
        convcalc.plan(model, (1, 2, convcalc.symbols("L")))


class PaddedToStride(nn.Module):
    """segmentation_models_pytorch's ``check_input_shape``: the message that names the size to pad to is built
    with a conditional expression inside the branch that raises."""

    def __init__(self) -> None:
        super().__init__()
        self.output_stride = 4
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x: Any) -> Any:
        h, w = x.shape[-2:]
        stride = self.output_stride
        if h % stride != 0 or w % stride != 0:
            new_h = (h // stride + 1) * stride if h % stride != 0 else h
            new_w = (w // stride + 1) * stride if w % stride != 0 else w
            raise RuntimeError(f"Wrong input shape height={h}, width={w}. Pad to {new_h}, {new_w}.")
        return self.conv(x)


def test_a_message_built_with_a_condition_still_marks_the_branch_that_raises() -> None:
    """Every segmentation_models_pytorch model went to torch's pass with numbers and was refused with symbols, the
    trace blaming the model's own message; the check is now the plan's constraint, as a plain one is."""
    model = PaddedToStride().eval()
    for h in range(1, 11):
        expected = _torch_shape(model, torch.randn(1, 3, h, 8))
        assert _planned(model, (1, 3, h, 8)) == expected, h
        if expected is not None:
            assert not convcalc.plan(model, (1, 3, h, 8)).fallback_rows
    height, width = convcalc.symbols("H W")
    plan = convcalc.plan(model, (1, 3, height, width))
    for h in range(1, 13):
        runs = _torch_shape(model, torch.randn(1, 3, h, 8)) is not None
        assert all(c.holds({"H": h, "W": 8}) for c in plan.constraints) is runs, h
    with pytest.raises(convcalc.ShapeError, match=r'raises RuntimeError\("Wrong input shape height=\{…\}, width'):
        convcalc.plan(model, (1, 3, 6, 8))


class Decoder(nn.Module):
    """segmentation_models_pytorch's ``UnetDecoder``: the features' sizes read in a comprehension over the list."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(8, 4, 3, padding=1)])

    def forward(self, features: Any) -> Any:
        if not isinstance(features, list):
            raise TypeError("features must be a list")
        sizes = [feature.shape[2:] for feature in features]
        x = self.blocks[0](features[-1])
        x = torch.nn.functional.interpolate(x, size=sizes[-2])
        return self.blocks[1](torch.cat([x, features[-2]], 1))


def test_a_list_input_iterated_and_checked_is_read_by_rule() -> None:
    """``[f.shape[2:] for f in features]`` read a list of one (its length guessed) and ``sizes[-2]`` failed; a
    check that the input is a list raised where it was read as a tensor: both went to torch's pass, and were
    refused with symbols."""
    model = Decoder().eval()
    for h in (4, 6):
        shapes = [(1, 4, 2 * h, 2 * h), (1, 4, h, h), (1, 4, h // 2, h // 2)]
        plan = convcalc.plan(model, {"features": shapes})
        with torch.no_grad():
            assert plan.output_shape == tuple(model([torch.randn(*s) for s in shapes]).shape)
        assert not plan.fallback_rows
    height = convcalc.symbols("H")
    plan = convcalc.plan(model, {"features": [(1, 4, 8, 8), (1, 4, height, height), (1, 4, 3, 3)]})
    assert plan.output_shape == (1, 4, height, height)


class FramePair(nn.Module):
    """compressai's ``ScaleSpaceFlow``: the input must be a list, and the message counts what it got."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 4, 3, padding=1)

    def forward(self, frames: Any) -> Any:
        if not isinstance(frames, list):
            raise RuntimeError(f"Invalid number of frames: {len(frames)}.")
        return self.conv(torch.cat(frames, 1))


def test_a_number_asked_again_for_the_message_is_not_what_is_read_again() -> None:
    """The length asked for the message was the last guess before the raise, and was re-guessed in vain: the
    check is read with the kind that passes it."""
    model = FramePair().eval()
    shapes = [(1, 3, 8, 8), (1, 3, 8, 8)]
    plan = convcalc.plan(model, {"frames": shapes})
    with torch.no_grad():
        assert plan.output_shape == tuple(model([torch.zeros(s) for s in shapes]).shape)
    assert not plan.fallback_rows
    height = convcalc.symbols("H")
    assert convcalc.plan(model, {"frames": [(1, 3, height, 8)] * 2}).output_shape == (1, 4, height, 8)


class _Windows:
    """An iterator of windows whose ``__next__`` ends the iteration on a size: Python's ``for``, ``zip`` and
    ``next(it, default)`` catch the ``StopIteration``."""

    def __init__(self, x: Any, n: int) -> None:
        self.x, self.n, self.i = x, n, 0

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        if self.i >= self.x.shape[-1] // self.n:
            raise StopIteration
        self.i += 1
        return self.x[..., (self.i - 1) * self.n : self.i * self.n]


class Windowed(nn.Module):
    def __init__(self, form: str) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 2)
        self.form = form

    def forward(self, x: Any) -> Any:
        if self.form == "zip":
            outs = [self.conv(w) for _, w in zip(range(3), _Windows(x, 2), strict=False)]
            return torch.cat([*outs, x[:, :1, :1].expand(-1, 3, 1)], -1)
        first = next(_Windows(x, 4), None)
        return x if first is None else first


class _Strict(nn.Module):
    def forward(self, x: Any) -> Any:
        if x.shape[-1] > 8:
            raise ValueError("too wide")
        return x[..., :2]


class SequenceCaught(nn.Module):
    """A ``raise`` inside an ``nn.Sequential`` the caller calls in a ``try``: a forward of one child call was read
    as a chain, which did not know that."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(nn.Conv2d(3, 3, 3), _Strict(), nn.Conv2d(3, 3, 1))

    def forward(self, x: Any) -> Any:
        try:
            return self.seq(x)
        except ValueError:
            return x


class BothInputs(nn.Module):
    """Hugging Face's check before any condition on sizes: ``if input_ids is not None and inputs_embeds is not
    None: raise``, which the first read, with every optional input as a tensor, raises on."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)

    def forward(self, input_ids: Any = None, inputs_embeds: Any = None) -> Any:
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time")
        if inputs_embeds is None:
            inputs_embeds = self.emb(input_ids)
        return self.fc(inputs_embeds)


@pytest.mark.parametrize(
    ("model", "shapes"),
    [
        pytest.param(Windowed("zip"), [(1, 2, n) for n in range(2, 10)], id="stop-iteration-in-zip"),
        pytest.param(Windowed("next"), [(1, 2, n) for n in range(2, 10)], id="stop-iteration-in-next"),
        pytest.param(SequenceCaught(), [(1, 3, 8, w) for w in (6, 9, 12)], id="caught-around-a-sequential"),
    ],
)
def test_a_raise_python_or_the_caller_catches_is_a_plain_branch(model: nn.Module, shapes: Any) -> None:
    """A ``StopIteration`` that Python's iteration catches, and a child's ``raise`` its caller catches around an
    ``nn.Sequential``, were read as raises torch makes: refused where torch runs, and valid sizes too few."""
    model.eval()
    for shape in shapes:
        assert _planned(model, shape) == _torch_shape(model, torch.randn(*shape)), shape


def test_a_check_that_raises_before_any_condition_is_read_again_with_the_inputs_as_given() -> None:
    model = BothInputs().eval()
    plan = convcalc.plan(model, {"input_ids": (1, 5)})
    with torch.no_grad():
        assert plan.output_shape == tuple(model(torch.zeros(1, 5, dtype=torch.long)).shape)
    assert not plan.fallback_rows


def test_a_large_whole_number_added_to_a_division_is_no_exact_rounding() -> None:
    """``math.ceil(L / 3 + 2**60) - 2**60`` is 0 in Python's floats at every L below 2**8; read as exact, the
    plan gave ``ceiling(L/3)``."""
    import math

    class Huge(nn.Module):
        def forward(self, x: Any) -> Any:
            return x[..., : math.ceil(x.shape[-1] / 3 + 2**60) - 2**60 + 4]

    for length in (3, 9):
        assert _planned(Huge(), (1, 2, length)) == _torch_shape(Huge(), torch.randn(1, 2, length))
    with pytest.raises(convcalc.SpecError, match="by more than one division"):
        convcalc.plan(Huge(), (1, 2, convcalc.symbols("L")))


class _Grid:
    """A helper class built in forward, whose ``__init__`` checks a size (a raise no protocol catches)."""

    def __init__(self, h: Any, p: int) -> None:
        if h % p != 0:
            raise ValueError("the height must be a multiple of the patch")
        self.rows = h // p


class GridPatches(nn.Module):
    def __init__(self, error: type = ValueError) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, 4)
        self.error = error

    def forward(self, x: Any) -> Any:
        if self.error is AttributeError and x.shape[2] % 4 != 0:
            raise AttributeError("the height must be a multiple of 4")
        _Grid(x.shape[2], 4)
        return self.conv(x)


@pytest.mark.parametrize("error", [ValueError, AttributeError])
def test_a_raise_in_a_helper_s_init_or_of_an_attribute_error_is_a_constraint(error: type) -> None:
    """A raise in ``__init__`` was taken as one Python may catch (any special method), and an AttributeError as
    one ``getattr`` may catch wherever it is raised: refused with symbols, where torch runs H = 4k."""
    model = GridPatches(error).eval()
    plan = convcalc.plan(model, (1, 3, convcalc.symbols("H"), 4))
    for h in range(1, 21):
        runs = _torch_shape(model, torch.randn(1, 3, h, 4)) is not None
        assert all(c.holds({"H": h}) for c in plan.constraints) is runs, h
