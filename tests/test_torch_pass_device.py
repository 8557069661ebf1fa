"""Device questions in torch's pass (``convcalc.torch.devices``): torch's pass runs a forward on meta tensors, but a
forward that asks its tensors' device (``x.is_cuda``, ``x.device.type == "cpu"``: kornia's filters choose their CPU
kernels so) is told the device the model's parameters are on (the CPU where it has none), and takes the branch
torch takes there; the tensors it makes or moves with that device stay on the meta device. Each model here runs on
the CPU for the real numbers: shapes, parameters, MACs (torch's FLOP counter, halved) and the layers it ran."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcalc
from tests.strategies import model_examples

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

# the kinds that tell which branch a forward took
BRANCHES = {"Conv2d", "conv2d", "Linear", "linear", "avg_pool2d", "max_pool2d", "sum"}


class DeviceType(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: Any) -> Any:
        if x.device.type == "cpu":
            return self.conv(x) + torch.zeros(1, 8, 1, 1, device=x.device)
        return F.avg_pool2d(x, 3, 1, 1)


class IsCuda(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        if x.is_cuda:
            return F.avg_pool2d(x, 2)
        mask = torch.ones(x.shape[-1] - 2, device=x.device, dtype=x.dtype)
        return self.conv(x) * mask


class IsCpu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 1)

    def forward(self, x: Any) -> Any:
        if not x.is_cpu:
            return F.max_pool2d(x, 2)
        bias = torch.arange(6, device="cpu").float().view(1, 6, 1, 1)
        return self.conv(x) + bias.to(x.device)


class IsMeta(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 5)

    def forward(self, x: Any) -> Any:
        if x.is_meta:
            return x.sum(-1)
        pooled = x.mean((-1, -2)) + x.new_zeros(x.shape[1])
        return self.head(pooled)


class GetDevice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, groups=3)

    def forward(self, x: Any) -> Any:
        if x.get_device() >= 0:
            return F.avg_pool2d(x, 2)
        ramp = torch.linspace(0, 1, x.shape[-1], device="cpu" if x.get_device() < 0 else x.get_device())
        return self.conv(x) * ramp.type_as(x)


class StrDevice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))

    def forward(self, x: Any) -> Any:
        if str(x.device) != "cpu":
            return F.avg_pool2d(x, 3)
        return F.conv2d(x.cpu(), self.weight.to("cpu"))


class DeviceEquals(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: Any) -> Any:
        if x.device == torch.device("cpu"):
            kernel = torch.ones(3, 1, 3, 3).to(x.device) / 9
            return F.conv2d(self.conv(x), kernel, padding=1, groups=3)
        return F.avg_pool2d(self.conv(x), 3, 1, 1)


class Blur(nn.Module):
    """kornia's BoxBlur, as it chooses its kernel: two depthwise convolutions on the CPU, an average pool
    elsewhere; no parameters, its kernel made on the input's device."""

    def forward(self, x: Any) -> Any:
        c = x.shape[1]
        if x.device.type == "cpu":
            row = torch.full((c, 1, 1, 3), 1 / 3, device=x.device, dtype=x.dtype)
            col = torch.full((c, 1, 3, 1), 1 / 3, device=x.device, dtype=x.dtype)
            x = F.pad(x, (1, 1, 1, 1), mode="reflect")
            return F.conv2d(F.conv2d(x, row, groups=c), col, groups=c)
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, 1)


MODELS = [DeviceType, IsCuda, IsCpu, IsMeta, GetDevice, StrDevice, DeviceEquals, Blur]


def _input_shape(model: Any, size: int = 12) -> tuple[int, ...]:
    return (1, 3, size, size)


def _real(model: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, set[str]]:
    """The output shape, the MACs and the kinds (module classes and functions) the CPU forward ran."""
    from torch.overrides import TorchFunctionMode
    from torch.utils.flop_counter import FlopCounterMode

    kinds: set[str] = set()
    inside: list[Any] = []  # torch's layers whose forward runs now

    class Names(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if not inside:  # (a layer's own functions are its row's)
                kinds.add(getattr(func, "__name__", ""))
            return func(*args, **(kwargs or {}))

    def entered(module: Any, args: Any) -> None:
        inside.append(module)

    def left(module: Any, args: Any, output: Any) -> None:
        inside.pop()
        kinds.add(type(module).__name__)

    layers = [m for m in model.modules() if type(m).__module__.startswith("torch.nn.") and not any(m.children())]
    handles = [m.register_forward_pre_hook(entered) for m in layers]
    handles += [m.register_forward_hook(left) for m in layers]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, Names():
            out = model(torch.randn(shape))
    finally:
        for handle in handles:
            handle.remove()
    return tuple(out.shape), counter.get_total_flops() // 2, kinds


def _check(model: Any, plan: Any, shape: tuple[int, ...]) -> None:
    out, macs, kinds = _real(model, shape)
    assert plan.output_shape == out
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    assert plan.macs == macs
    assert {r.kind for r in plan.rows} & BRANCHES == kinds & BRANCHES
    assert any(r.source == "torch" for r in plan.rows)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_a_hooked_model_takes_the_cpu_branch(cls: Any) -> None:
    model = cls().eval()
    model.register_forward_hook(lambda m, i, o: None)  # a hook of the user's: the model runs in torch's pass
    shape = _input_shape(model)
    _check(model, convcalc.plan(model, shape), shape)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_a_hooked_layer_inside_a_model_takes_the_cpu_branch(cls: Any) -> None:
    model = nn.Sequential(nn.Identity(), cls()).eval()
    model[1].register_forward_hook(lambda m, i, o: None)
    shape = _input_shape(model)
    _check(model, convcalc.plan(model, shape), shape)


@pytest.mark.parametrize("cls", [DeviceType, IsCuda, Blur], ids=lambda c: c.__name__)
def test_a_model_on_the_meta_device_is_planned_as_on_the_cpu(cls: Any) -> None:
    torch.manual_seed(0)
    model = cls().eval()
    model.register_forward_hook(lambda m, i, o: None)
    on_meta = cls().to("meta").eval()
    on_meta.register_forward_hook(lambda m, i, o: None)
    shape = _input_shape(model)
    _check(model, convcalc.plan(on_meta, shape), shape)


class Scratch(nn.Module):
    """A scratch tensor made on the input's device and moved to the CPU: on the meta device it takes no memory."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        scratch = torch.zeros(self.n, self.n, device=x.device).cpu().to("cpu")
        return self.conv(x) + scratch[:1, :1].to(x.device)


def test_tensors_made_on_the_asked_device_stay_on_the_meta_device() -> None:
    small = Scratch(4).eval()
    small.register_forward_hook(lambda m, i, o: None)
    shape = _input_shape(small)
    plan = convcalc.plan(small, shape)
    _check(small, plan, shape)
    huge = Scratch(1 << 20).eval()  # four TiB of float32 on the CPU
    huge.register_forward_hook(lambda m, i, o: None)
    assert convcalc.plan(huge, shape).macs == plan.macs


@settings(max_examples=model_examples(10), deadline=None)
@given(size=st.integers(3, 24), batch=st.integers(1, 3))
def test_the_cpu_branch_at_any_size(size: int, batch: int) -> None:
    model = Blur()
    model.register_forward_hook(lambda m, i, o: None)
    plan = convcalc.plan(model, (batch, 3, size, size))
    _check(model, convcalc.plan(model, (1, 3, size, size)), (1, 3, size, size))
    assert plan.output_shape == (batch, 3, size, size)


class Forward(nn.Module):
    """A convolution, then the forward ``function(self, x)`` gives."""

    def __init__(self, function: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.function = function

    def forward(self, x: Any) -> Any:
        return self.function(self, x)


def _under_the_device(self: Any, x: Any) -> Any:
    with torch.device(x.device):
        scale = torch.ones(1, 4, 1, 1)
    return self.conv(x) * scale


@pytest.mark.parametrize(
    "function",
    [
        _under_the_device,
        lambda self, x: self.conv(x) if self.conv.weight.device.type == "cpu" else x,
        lambda self, x: self.conv(x) if x.device == self.conv.weight.device else x,
        lambda self, x: self.conv(x) if x.device.index is None else x,
        lambda self, x: self.conv(x.to(device=x.device, dtype=torch.float32, non_blocking=True)),
        lambda self, x: self.conv(x + torch.zeros_like(x, device="cpu")),
        lambda self, x: self.conv(x) + x.new_tensor([0.5], device="cpu"),
        lambda self, x: self.conv(torch.empty(x.shape, device=x.device).copy_(x)),
        lambda self, x: self.conv(x) * torch.tensor([1.0, 2.0, 3.0, 4.0], device=x.device).view(1, 4, 1, 1),
    ],
)
def test_the_forms_of_the_device(function: Any) -> None:
    model = Forward(function).eval()
    model.register_forward_hook(lambda m, i, o: None)
    shape = _input_shape(model, 8)
    _check(model, convcalc.plan(model, shape), shape)


class _MovedTo(nn.Module):
    """A forward that puts a tensor on a device of its own choosing (PyramidNet's shortcut makes its zeros with
    ``.cuda()``), read by rule or, with a hook on its layer, by torch's pass."""

    def __init__(self, move: Any, hooked: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.move = move
        if hooked:
            self.conv.register_forward_hook(lambda module, args, out: out * 1)

    def forward(self, x: Any) -> Any:
        return self.move(self.conv(x))


@pytest.mark.parametrize("hooked", [False, True], ids=["rule", "torch-pass"])
@pytest.mark.parametrize(
    "move",
    [
        lambda y: y.cuda().relu(),
        lambda y: y.to("cuda") * 2,
        lambda y: y.to(0),
        lambda y: torch.zeros(y.size(0), 2, device="cuda"),
        lambda y: y.to("cpu").to(y) + y.cpu(),  # (the CPU is always there)
    ],
)
def test_a_tensor_moved_to_a_device_torch_does_not_have_is_refused_as_torch_raises(move: Any, hooked: bool) -> None:
    """Planned at 4 x 5 where torch had no CUDA and raised; the plan is made or refused as torch runs here."""
    model = _MovedTo(move, hooked)
    try:
        with torch.no_grad():
            expected = tuple(model(torch.zeros(2, 3, 4, 5)).shape)
    except (AssertionError, RuntimeError):
        with pytest.raises(convcalc.ConvCalcError, match=r"torch has no cuda device here"):
            convcalc.plan(model, (2, 3, 4, 5))
    else:
        assert convcalc.plan(model, (2, 3, 4, 5)).output_shape == expected


class NumpyPositions(nn.Module):
    """A sinusoidal table computed in forward with numpy from the input's sizes (text-to-speech and transformer
    repositories' ``position_encoding``), made a tensor on the CPU and added to the input."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.make = make

    def forward(self, x: Any) -> Any:
        import numpy as np

        length, width = x.size(1), x.size(2)
        angles = np.arange(length)[:, None] / np.power(10000, 2 * (np.arange(width)[None, :] // 2) / width)
        return self.fc(x + self.make(np.sin(angles)))


@pytest.mark.parametrize(
    "make",
    [
        lambda table: torch.from_numpy(table).float(),
        lambda table: torch.tensor(table, dtype=torch.float32),
        lambda table: torch.FloatTensor(table),
    ],
)
def test_a_table_made_from_data_on_the_cpu_joins_the_pass(make: Any) -> None:
    """``torch.from_numpy(table)`` beside the pass's meta tensors: torch refused to add them (a tensor on the CPU
    is not on the meta device) and the plan was refused, where the model runs on the CPU."""
    model = NumpyPositions(make)
    for shape in ((2, 5, 8), (1, 3, 8)):
        plan = convcalc.plan(model, shape)
        with torch.no_grad():
            assert plan.output_shape == tuple(model(torch.zeros(shape)).shape)
        assert plan.total_params == 36


class _Hooked(nn.Module):
    """A model sent to torch's pass by a hook on its layer, then ``then`` applied to the layer's output."""

    def __init__(self, then: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.conv.register_forward_hook(lambda module, args, out: out * 1)
        self.then = then

    def forward(self, x: Any) -> Any:
        return self.then(self.conv(x))


def _moved_if_possible(y: Any) -> Any:
    try:  # noqa: SIM105  (as people write it)
        y = y.cuda()
    except (AssertionError, RuntimeError):
        pass
    return y


@pytest.mark.parametrize(
    "then",
    [
        lambda y: y[:, torch.from_numpy(__import__("numpy").array([True, False, True, True]))],
        lambda y: torch.repeat_interleave(y, torch.from_numpy(__import__("numpy").array([1, 2, 3, 4])), dim=1),
        lambda y: y[:, torch.from_numpy(__import__("numpy").array([0, 5]))],  # torch: index out of range
        _moved_if_possible,
    ],
    ids=["bool-mask", "repeat-counts", "index-out-of-range", "cuda-in-try"],
)
def test_tensors_made_on_the_cpu_keep_their_values_and_a_caught_move_is_caught(then: Any) -> None:
    """A mask or counts made on the CPU from data were moved to the meta device before every call, and their
    values lost (refused where torch runs); ``.cuda()`` inside a ``try`` was refused although torch's ``except``
    takes it. The tensor is moved only for a call torch refuses across devices, and the move is refused in the
    pass by raising where torch raises, inside the forward's ``try``."""
    model = _Hooked(then).eval()
    try:
        with torch.no_grad():
            expected = tuple(model(torch.randn(2, 3, 4, 5)).shape)
    except (IndexError, RuntimeError):
        with pytest.raises(convcalc.ConvCalcError):
            convcalc.plan(model, (2, 3, 4, 5))
        return
    assert convcalc.plan(model, (2, 3, 4, 5)).output_shape == expected
