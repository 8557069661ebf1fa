"""Torch layers as people change them: a subclass overriding a method the layer's forward calls, a tensor
replaced after construction (pruning, vocabulary surgery) with the size attributes left as they were. torch
computes with what the module holds; so must the plan (its forward is read), against torch and torchinfo."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import convcalc  # noqa: E402


def _agrees(model: Any, shape: tuple[int, ...], dtype: Any = None) -> convcalc.Plan:
    """The plan's output shape and parameter counts are torch's; torchinfo's table is convcalc.summary's."""
    model.eval()
    x = torch.zeros(shape, dtype=torch.long) if dtype == "long" else torch.zeros(shape)
    with torch.no_grad():
        expected = tuple(model(x).shape)
    plan = convcalc.plan(model, shape)
    assert plan.output_shape == expected
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    kwargs: dict[str, Any] = {"input_data": [x]} if dtype == "long" else {"input_size": shape}
    columns = ("output_size", "num_params", "mult_adds")
    theirs = torchinfo.summary(model, verbose=0, col_names=columns, **kwargs)
    ours = convcalc.summary(model, verbose=0, col_names=columns, **kwargs)
    assert (ours.total_params, ours.trainable_params, ours.total_mult_adds) == (
        theirs.total_params,
        theirs.trainable_params,
        theirs.total_mult_adds,
    )
    return plan


class CausalConv(nn.Conv2d):
    """Causal padding in the method Conv2d.forward calls (kept out of ``forward``)."""

    def _conv_forward(self, input: Any, weight: Any, bias: Any) -> Any:
        kh, kw = self.kernel_size
        return F.conv2d(F.pad(input, (kw - 1, 0, kh - 1, 0)), weight, bias, self.stride, 0, self.dilation)


class FixedOutputPadding(nn.ConvTranspose2d):
    def _output_padding(self, *args: Any, **kwargs: Any) -> Any:
        return (1, 1)


class AnyRankBatchNorm(nn.BatchNorm2d):
    """A BatchNorm2d that skips its rank check (run on (N, C, L) in audio and point-cloud code)."""

    def _check_input_dim(self, input: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("make", "shape", "expected"),
    [
        (lambda: CausalConv(4, 4, 3), (1, 4, 8, 8), (1, 4, 8, 8)),
        (lambda: CausalConv(2, 3, (3, 5), stride=2), (2, 2, 9, 12), (2, 3, 5, 6)),
        (lambda: FixedOutputPadding(3, 3, 3, stride=2), (1, 3, 5, 5), (1, 3, 12, 12)),
        (lambda: nn.Sequential(nn.Conv1d(3, 4, 3), AnyRankBatchNorm(4)), (2, 3, 10), (2, 4, 8)),
    ],
)
def test_a_subclass_overriding_what_forward_calls_is_read_from_its_forward(
    make: Any, shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    plan = _agrees(make(), shape)
    assert plan.output_shape == expected


class ResetConv(nn.Conv2d):
    """Overrides that leave the computation alone: the layer is still planned whole by its rule."""

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)

    def train(self, mode: bool = True) -> Any:
        return super().train(False)

    def extra_repr(self) -> str:
        return "reset"

    def describe(self) -> str:  # a method of its own: nothing torch's forward calls
        return "conv"


def test_overrides_that_leave_the_computation_alone_keep_the_layer_whole() -> None:
    plan = _agrees(ResetConv(3, 4, 3), (1, 3, 6, 6))
    assert [(r.name, r.kind, r.output_shape) for r in plan.rows] == [("Conv2d", "Conv2d", (1, 4, 4, 4))]


def _pruned_conv() -> Any:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    conv.weight = nn.Parameter(conv.weight.data[:6].clone())  # out_channels stays 8
    conv.bias = nn.Parameter(conv.bias.data[:6].clone())
    return conv


def _widened_linear() -> Any:
    linear = nn.Linear(10, 4)
    linear.weight, linear.bias = nn.Parameter(torch.randn(6, 10)), nn.Parameter(torch.randn(6))
    return linear


def _narrowed_linear() -> Any:
    linear = nn.Linear(10, 4)
    linear.weight = nn.Parameter(torch.randn(4, 12))  # in_features stays 10
    return nn.Sequential(nn.Flatten(), linear)


def _resized_embedding() -> Any:
    embedding = nn.Embedding(10, 4)
    embedding.weight = nn.Parameter(torch.randn(12, 6))  # embedding_dim stays 4
    return embedding


def _pruned_norm() -> Any:
    conv, norm = _pruned_conv(), nn.BatchNorm2d(8)
    for name in ("weight", "bias"):
        setattr(norm, name, nn.Parameter(getattr(norm, name).data[:6].clone()))
    norm.running_mean, norm.running_var = norm.running_mean[:6].clone(), norm.running_var[:6].clone()
    return nn.Sequential(conv, norm, nn.ReLU())


@pytest.mark.parametrize(
    ("make", "shape", "expected", "dtype"),
    [
        (lambda: nn.Sequential(_pruned_conv()), (2, 3, 10, 10), (2, 6, 10, 10), None),
        (lambda: nn.Sequential(_pruned_conv(), nn.Conv2d(6, 4, 1)), (2, 3, 10, 10), (2, 4, 10, 10), None),
        (_widened_linear, (2, 10), (2, 6), None),
        (_narrowed_linear, (2, 3, 2, 2), (2, 4), None),
        (_resized_embedding, (2, 5), (2, 5, 6), "long"),
        (_pruned_norm, (2, 3, 6, 6), (2, 6, 6, 6), None),
    ],
)
def test_a_layer_computes_with_the_tensors_it_holds_not_its_stale_sizes(
    make: Any, shape: tuple[int, ...], expected: tuple[int, ...], dtype: Any
) -> None:
    plan = _agrees(make(), shape, dtype)
    assert plan.output_shape == expected


def test_a_layer_whose_replaced_tensors_fit_its_sizes_stays_whole() -> None:
    conv = nn.Conv2d(3, 8, 3)
    conv.weight = nn.Parameter(torch.randn(8, 3, 3, 3))  # re-initialised, same shape
    plan = _agrees(conv, (1, 3, 5, 5))
    assert [r.kind for r in plan.rows] == ["Conv2d"]


def test_a_stale_layer_torch_refuses_is_refused() -> None:
    conv = _pruned_conv()
    with pytest.raises(convcalc.ShapeError):
        convcalc.plan(nn.Sequential(conv, nn.Conv2d(8, 4, 1)), (2, 3, 10, 10))
    with pytest.raises(RuntimeError):
        nn.Sequential(conv, nn.Conv2d(8, 4, 1))(torch.zeros(2, 3, 10, 10))


# --------------------------------------------------------------------------- #
# a forward replaced on the instance: torch calls it, whatever the class
# --------------------------------------------------------------------------- #


def _stack() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)).eval()


def test_a_layer_whose_forward_is_replaced_without_work_is_planned_as_torch_runs_it() -> None:
    """``relu.forward = lambda x: F.max_pool2d(x, 2)``: the class's rule (a ReLU keeps the shape) would be wrong;
    torch's shapes are taken, and the convolutions around keep their counts."""
    model = _stack()
    model[1].forward = lambda x: F.max_pool2d(x, 2)
    plan = _agrees(model, (2, 3, 16, 16))
    assert plan.output_shape == (2, 8, 5, 5)
    assert plan.macs == 3 * 8 * 9 * 14 * 14 + 8 * 8 * 9 * 5 * 5
    assert [r.source for r in plan.rows] == ["rule", "torch", "rule"]  # the pool's shapes are torch's


def test_a_container_whose_forward_is_replaced_is_planned_as_torch_runs_it() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = _stack()
            self.head = nn.Conv2d(8, 2, 1)

        def forward(self, x: Any) -> Any:
            return self.head(self.body(x))

    net = Net().eval()
    net.body.forward = lambda x: net.body[0](x)  # only the first layer runs
    # (the replacement calls the model's own first layer, not the copy torch's pass runs: the plan counts that
    # convolution as a function of the model's weights, which torchinfo lists as the module's call)
    plan = convcalc.plan(net, (2, 3, 16, 16))
    assert plan.output_shape == tuple(net(torch.zeros(2, 3, 16, 16)).shape) == (2, 2, 14, 14)
    assert plan.total_params == sum(p.numel() for p in net.parameters())
    assert plan.macs == 3 * 8 * 9 * 14 * 14 + 8 * 2 * 14 * 14
    root = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    root.forward = lambda x: root[0](x)[:, :4]
    plan = convcalc.plan(root, (2, 3, 16, 16))
    assert plan.output_shape == tuple(root(torch.zeros(2, 3, 16, 16)).shape) == (2, 4, 14, 14)
    assert plan.macs == 3 * 8 * 9 * 14 * 14


class _Encoder(nn.Module):
    """A classifier with a second method the instance may be told to run (``self.forward = self.encode``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.proj = nn.Parameter(torch.randn(5, 4))
        self.head = nn.Linear(4, 2)

    def encode(self, x: Any, scale: float = 2.0) -> Any:
        return F.linear(self.conv(x).mean((2, 3)) * scale, self.proj)

    def forward(self, x: Any) -> Any:
        return self.head(self.conv(x).mean((2, 3)))


@pytest.mark.parametrize("how", ["bound", "MethodType", "child"])
def test_a_forward_set_to_another_method_of_the_module_is_read_as_its_forward(how: str) -> None:
    """``model.forward = model.encode`` (timm's ``forward_features``, a feature extractor): torch runs that method,
    which is read as the forward it is, exactly and with symbols, without changing the user's module."""
    import types

    encoder = _Encoder()
    encoder.forward = types.MethodType(_Encoder.encode, encoder) if how == "MethodType" else encoder.encode
    model: Any = nn.Sequential(encoder, nn.ReLU()) if how == "child" else encoder
    for shape in [(2, 3, 8, 8), (1, 3, 5, 9)]:
        plan = _agrees(model, shape)
        h, w = shape[2] - 2, shape[3] - 2
        assert plan.output_shape == (shape[0], 5)
        assert plan.macs == 4 * 27 * h * w + 4 * 5
        assert not plan.fallback_rows
        assert plan.rows[0].name == ("0.conv" if how == "child" else "conv")
    symbolic = convcalc.plan(model, ("B", 3, "H", "W"))
    assert str(symbolic.output_shape) == "(B, 5)"
    assert "forward" in vars(encoder)
    assert type(encoder) is _Encoder
    assert encoder.forward.__func__ is _Encoder.encode


def test_a_forward_set_to_another_modules_method_is_run_by_torch() -> None:
    """``model.forward = other.encode`` runs the other module's weights: torch's pass plans it."""
    model, other = _Encoder(), _Encoder()
    model.forward = other.encode
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shape == (2, 5)
    assert plan.fallback_rows


def _flops(model: Any, shape: tuple[int, ...]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(shape))
    return int(counter.get_total_flops())


@pytest.mark.parametrize("where", ["child", "root"])
def test_a_layer_with_weights_whose_forward_is_replaced_is_counted_by_what_it_calls(where: str) -> None:
    """A convolution whose forward is replaced computes what the replacement says (here with padding 1): torch's
    pass runs it, and its calls are counted by their own rules (a ``conv2d`` of the layer's weight), its tensors as
    the layer's parameters."""
    model: Any = _stack()
    conv = model[0] if where == "child" else model
    if where == "root":
        model = conv = nn.Conv2d(3, 8, 3)
    conv.forward = lambda x: F.conv2d(x, conv.weight, conv.bias, padding=1)
    plan = _agrees(model, (2, 3, 16, 16))
    assert plan.macs * 2 * 2 == _flops(model, (2, 3, 16, 16))
    first = "0.conv2d" if where == "child" else "conv2d"
    assert (plan.rows[0].name, plan.rows[0].source) == (first, "torch")


def _lora(layer: nn.Linear, rank: int, owner: nn.Module) -> None:
    """LoRA patched onto a layer the way scripts do it: a ``functools.wraps`` wrapper of its forward."""
    import functools

    owner.lora_a = nn.Linear(layer.in_features, rank, bias=False)
    owner.lora_b = nn.Linear(rank, layer.out_features, bias=False)
    original = layer.forward

    @functools.wraps(original)
    def forward(x: Any) -> Any:
        return original(x) + owner.lora_b(owner.lora_a(x))

    layer.forward = forward


def _subset(layer: nn.Linear, classes: list[int]) -> None:
    """A head cut down to some of its classes (ImageNet-R's evaluation): a wrapper that slices the output."""
    import functools

    original = layer.forward
    layer.forward = functools.wraps(original)(lambda x: original(x)[:, classes])


class _Wrapped(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Any) -> Any:
        return self.body(x)


@pytest.mark.parametrize("patch", ["lora", "subset", "twice"])
def test_a_wrapper_of_a_layers_forward_is_counted_by_what_it_runs(patch: str) -> None:
    """A ``functools.wraps`` wrapper around a layer's forward may do anything around the call: its rule counted
    the call alone (LoRA's 192 MACs per sample left out; a (4, 10) head where torch gives (4, 3); a wrapper
    calling the original twice counted once), without an error. torch's pass runs it now, each call counted."""
    import functools

    model = _Wrapped(nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10)))
    if patch == "lora":
        _lora(model.body[0], 4, model)
    elif patch == "subset":
        _subset(model.body[2], [0, 2, 5])
    else:
        original = model.body[2].forward
        model.body[2].forward = functools.wraps(original)(lambda x: original(x) + original(x))
    if patch == "lora":
        # the adapters are called inside the layer's forward, torchinfo lists them where they are registered
        # (1-2, 1-3) and counts the body's parameters again (a total of 1,396 for 1,066): documented, as for a
        # module called by another
        columns = ("output_size", "num_params", "mult_adds")
        theirs = torchinfo.summary(model, (4, 16), verbose=0, col_names=columns)
        ours = convcalc.summary(model, (4, 16), verbose=0, col_names=columns)
        assert ours.total_mult_adds == theirs.total_mult_adds == 4 * (512 + 32 + 64 + 128 + 320 + 10)
        assert [line[:60] for line in str(ours).splitlines()[3:11]] == [
            line[:60] for line in str(theirs).splitlines()[3:11]
        ]
        plan = convcalc.plan(model, (4, 16))
        assert plan.total_params == sum(p.numel() for p in model.parameters()) == 1066
        assert [r.name for r in plan.rows if r.macs] == ["body.0.linear", "lora_a", "lora_b", "body.2"]
    else:
        plan = _agrees(model, (4, 16))
    assert plan.macs * 2 * 4 == _flops(model, (4, 16))
    assert plan.output_shape == ((4, 3) if patch == "subset" else (4, 10))


class _AlignDevicesHook:
    """accelerate's hook class, as its module names it (accelerate is no dependency of the tests)."""

    __module__ = "accelerate.hooks"


def _add_hook_to_module(module: nn.Module, hook: Any) -> None:
    """accelerate's ``add_hook_to_module`` (accelerate/hooks.py), its hook's device moves left out."""
    import functools

    old_forward = module.forward
    module._old_forward = old_forward
    module._hf_hook = hook

    def new_forward(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
        return module._old_forward(*args, **kwargs)

    new_forward.__module__ = "accelerate.hooks"
    module.forward = functools.update_wrapper(functools.partial(new_forward, module), old_forward)


def test_accelerates_hook_keeps_the_layers_rule() -> None:
    """accelerate's hooks (a model dispatched over devices) call the original forward once, between moves of
    tensors: the layers keep their rules, at numbers and at symbols. The same wrapper with a hook of another
    library's (a sparse autoencoder's, which adds to the output) is run by torch's pass."""
    model = _stack()
    for layer in model:
        _add_hook_to_module(layer, _AlignDevicesHook())
    plan = _agrees(model, (2, 3, 16, 16))
    assert {r.source for r in plan.rows} == {"rule"}
    assert plan.macs == 3 * 8 * 9 * 14 * 14 + 8 * 8 * 9 * 12 * 12
    assert str(convcalc.plan(model, (2, 3, "H", "W")).output_shape) == "(2, 8, H - 4, W - 4)"
    model = _stack()
    _add_hook_to_module(model[2], object())
    plan = _agrees(model, (2, 3, 16, 16))
    assert [r.source for r in plan.rows if r.macs] == ["rule", "torch"]


def test_a_forward_wrapped_with_functools_wraps_is_counted_as_torch_runs_it() -> None:
    """A wrapper of the class's forward (``functools.wraps``) that only calls it: torch's pass runs it, and as it
    makes the operations the class's forward makes, the layer is planned by its rule."""
    import functools

    model = _stack()
    for layer in model:
        original = layer.forward

        def wrapper(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(*args, **kwargs)

        layer.forward = functools.update_wrapper(wrapper, original)
    plan = _agrees(model, (2, 3, 16, 16))
    assert plan.output_shape == (2, 8, 12, 12)
    assert plan.macs == 3 * 8 * 9 * 14 * 14 + 8 * 8 * 9 * 12 * 12
    # (it makes the operations the class's forward makes: each layer is planned by its rule, in torch's pass)
    assert [(r.name, r.source) for r in plan.rows if r.macs] == [("0", "torch"), ("2", "torch")]


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_a_model_of_another_dtype_is_run_by_torchs_machinery_in_its_dtype(dtype: str) -> None:
    """The meta tensors torch's pass takes are of the dtype the module computes in: a ``.double()`` model with an
    operation only torch's pass follows (``torch.rot90``) was refused with torch's dtype error, blamed on the
    operation."""

    class Rotated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3, stride=2, padding=1)

        def forward(self, x: Any) -> Any:
            return self.c(torch.rot90(x, 1, (2, 3)))

    model = Rotated().to(getattr(torch, dtype))
    plan = convcalc.plan(model, (1, 1, 15, 16))
    with torch.no_grad():
        assert plan.output_shape == tuple(model(torch.zeros(1, 1, 15, 16, dtype=model.c.weight.dtype)).shape)
    assert plan.itemsize == model.c.weight.element_size()
    assert plan.macs == 1 * 2 * 9 * 8 * 8


def test_a_forward_replaced_by_a_function_of_the_models_own_layers_is_counted_by_them() -> None:
    """``s.forward = lambda x: s[1](s[0](x) + x)``: the copy torch's pass runs calls the copy's layers (the
    function read the user's own, as a global or a closure), so each is a call of the model's, with its counts
    (rows named conv2d, add, conv2d_1, no output bytes)."""
    s = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 5, 1))
    s.forward = lambda x: s[1](s[0](x) + x)
    plan = _agrees(s, (1, 3, 9, 9))
    assert [r.name for r in plan.rows] == ["0", "add", "1"]
    assert plan.forward_backward_bytes == 2 * 4 * (3 * 81 + 5 * 81)

    def closure() -> nn.Module:
        h = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        h.forward = lambda x: h[1](h[0](x)) + x
        return h

    assert _agrees(closure(), (2, 4)).macs == 16


def test_a_partial_of_the_class_forward_keeps_the_rule() -> None:
    import functools

    conv = nn.Conv2d(3, 4, 3, stride=2)
    conv.forward = functools.partial(nn.Conv2d.forward, conv)
    plan = _agrees(conv, (1, 3, 13, 13))
    assert (plan.output_shape, plan.macs) == ((1, 4, 6, 6), 3888)
    h = convcalc.symbols("H")
    assert (
        convcalc.plan(conv, (1, 3, h, h)).output_shape[2]
        == convcalc.plan(nn.Conv2d(3, 4, 3, 2), (1, 3, h, h)).output_shape[2]
    )


def test_a_model_of_mixed_dtypes_is_run_by_torchs_pass_in_torchs_default() -> None:
    """A bfloat16 norm applied after a cast, a float32 convolution that takes the input: the input is float32
    (the dtype of the first parameter refused a model that runs)."""

    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(6).to(torch.bfloat16)
            self.c = nn.Conv2d(1, 4, 3)

        def forward(self, x: Any) -> Any:
            y = self.c(torch.rot90(x, 1, (2, 3)))
            return self.norm(y.to(torch.bfloat16))

    model = Mixed()
    assert convcalc.plan(model, (1, 1, 8, 8)).output_shape == (1, 4, 6, 6)
    assert convcalc.verify(model, (1, 1, 8, 8), device="cpu").ok


def _wrapped_by_chunks(layer: nn.Module) -> None:
    global _ORIGINAL_FORWARD
    import functools

    _ORIGINAL_FORWARD = layer.forward
    layer.forward = functools.wraps(_ORIGINAL_FORWARD)(_by_chunks)


def _by_chunks(x: Any) -> Any:
    return torch.cat([_ORIGINAL_FORWARD(part) for part in x.chunk(3)])


_ORIGINAL_FORWARD: Any = None


class _Recurrent(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(16, 4)

    def forward(self, x: Any) -> Any:
        return self.head(self.rnn(x)[0])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("wrap", ["default", "no_grad"])
def test_a_recurrent_layer_behind_a_pass_through_wrapper_keeps_its_rule(kind: str, wrap: str) -> None:
    """A wrapper that makes the operations the class's forward makes (a logging wrapper holding the original in a
    default, ``torch.no_grad()(forward)``) keeps the layer's rule: torch's pass, which ran the wrapper, met
    ``_VF.lstm`` and refused the layer (the default held the user's module, run on meta tensors)."""
    import functools

    rnn = getattr(nn, kind)(8, 16, batch_first=True)
    original = rnn.forward
    if wrap == "default":

        @functools.wraps(original)
        def logged(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(*args, **kwargs)

        rnn.forward = logged
    else:
        rnn.forward = torch.no_grad()(original)
    model = _Recurrent(rnn)
    plan = _agrees(model, (2, 5, 8))
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    assert plan.macs == 5 * gates * (8 * 16 + 16 * 16) + 5 * 16 * 4
    assert plan.rows[0].name == "rnn"


def test_a_wrapper_reading_the_original_in_a_comprehension_runs_the_copys() -> None:
    """A comprehension is code of its own: the global it reads (the original forward) is the copy's too; the
    user's module ran on meta tensors and the layer was refused."""
    layer = nn.Linear(8, 4)
    _wrapped_by_chunks(layer)
    model = _Wrapped(layer)
    plan = _agrees(model, (3, 8))
    assert plan.macs * 2 * 3 == _flops(model, (3, 8))


class _CallsItself(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 4)

    def forward(self, x: Any, inner: bool = False) -> Any:
        if not inner:
            return self.b(self(x, inner=True) * 2)
        return self.a(x)


@pytest.mark.parametrize("where", ["root", "child"])
def test_a_forward_that_calls_its_own_module_is_run_by_torch(where: str) -> None:
    """``self(x, inner=True)``: read as a call of the module, the forward was read again without end (a
    RecursionError escaped plan); torch runs it, and its rows are named under the module."""
    model: nn.Module = _CallsItself() if where == "root" else _Wrapped(_CallsItself())
    plan = convcalc.plan(model, (3, 8))  # (torchinfo counts the module's parameters again at its second call)
    assert plan.output_shape == tuple(model(torch.zeros(3, 8)).shape)
    assert plan.total_params == sum(p.numel() for p in model.parameters()) == 108
    assert plan.macs * 2 * 3 == _flops(model, (3, 8))
    prefix = "" if where == "root" else "body."
    assert [r.name for r in plan.rows if r.macs] == [f"{prefix}a", f"{prefix}b"]
    with pytest.raises(convcalc.SpecError, match="its forward calls the module itself, which torch runs"):
        convcalc.plan(model, ("N", 8))


class _Two(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 4)
        self.b = nn.Linear(8, 16)

    def forward(self, x: Any) -> Any:
        return self.a(x)


@pytest.mark.parametrize("how", ["method", "partial"])
def test_a_forward_set_to_another_layers_runs_that_layer(how: str) -> None:
    """``net.a.forward = net.b.forward`` runs b: it was planned as a, (3, 4) where torch gives (3, 16)."""
    import functools

    model = _Two()
    model.a.forward = model.b.forward if how == "method" else functools.partial(nn.Linear.forward, model.b)
    plan = convcalc.plan(model, (3, 8))
    assert plan.output_shape == tuple(model(torch.zeros(3, 8)).shape) == (3, 16)
    assert plan.macs * 2 * 3 == _flops(model, (3, 8))


class _Pick(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Linear(8, 8)
        self.narrow = nn.Linear(8, 4)

    def forward(self, x: Any, k: Any = 3) -> Any:
        return _pick(self, x, k)


def _pick(module: nn.Module, x: Any, k: Any) -> Any:
    return module.wide(x) if k is not None else module.narrow(x)


class _PicksNone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = _Pick()

    def forward(self, x: Any) -> Any:
        return self.head(x, None)


def test_an_input_given_none_is_read_as_none() -> None:
    """An input whose default is a number, given None, and tested ``is not None`` in a function the forward calls:
    the traced value is not None, so the other branch was planned, (3, 8) where torch gives (3, 4)."""
    model = _PicksNone()
    for shape in ((3, 8), ("N", 8)):
        plan = convcalc.plan(model, shape)
        assert plan.rows[0].name == "head.narrow"
    assert convcalc.plan(model, (3, 8)).output_shape == tuple(model(torch.zeros(3, 8)).shape) == (3, 4)
    assert convcalc.plan(_Pick(), (3, 8)).output_shape == (3, 8)
