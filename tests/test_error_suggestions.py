"""What an error suggests must fit: the strict-mode error names network inputs that divide evenly at
every layer, and the torch reader suggests only layers that convcalc.nn has."""

from __future__ import annotations

import re

import pytest

import convcalc
from convcalc import nn


def _strided() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.MaxPool2d(2)
    )


def test_strict_error_suggests_network_inputs_that_fit() -> None:
    # by hand: conv 3/2/1 needs W - 1 even, giving (W - 1)/2 + 1; the second conv the same again; the pool an
    # even size. 245 -> 123 -> 62 -> 31 and 253 -> 127 -> 64 -> 32 divide at every layer; nothing between
    # 245 and 253 does (the valid sizes are 5 (mod 8)).
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(_strided(), (1, 3, 250, 250), strict=True)
    message = str(caught.value)
    assert message.startswith("0 (Conv2d): (W - F + 2P) = 250 - 3 + 2 = 249 is not divisible by the stride 2")
    assert "input sizes that fit: 249 or 251." in message  # the failing layer's own input
    assert "Network inputs that fit every layer: use an input of 245 or 253 instead of 250 on that axis." in message
    assert message.endswith("Received: input_shape=(1, 3, 250, 250)")


def test_strict_error_at_a_deeper_layer_suggests_network_inputs() -> None:
    # 251 passes the first conv (250 is even: 251 -> 126) and fails at the second (126 - 1 = 125 is odd): the
    # network input to use is still 245 or 253, not that layer's own input 125 or 127
    with pytest.raises(convcalc.ShapeError) as caught:
        convcalc.plan(_strided(), (1, 3, 251, 251), strict=True)
    message = str(caught.value)
    assert message.startswith("2 (Conv2d): (W - F + 2P) = 126 - 3 + 2 = 125 is not divisible")
    assert "use an input of 245 or 253 instead of 251 on that axis" in message


def test_strict_error_below_the_smallest_valid_input_suggests_one_size() -> None:
    # below 5 nothing fits (5 -> 3 -> 2 -> 1 is the smallest); 4 fails the first conv (4 - 1 is odd)
    with pytest.raises(convcalc.ShapeError, match=r"use an input of 5 instead of 4 on that axis"):
        convcalc.plan(_strided(), (1, 3, 4, 4), strict=True)


def _torch_modules() -> list[object]:
    torch = pytest.importorskip("torch")

    class Recurrent(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 8, 3)
            self.lstm = torch.nn.LSTM(8, 16, batch_first=True)

        def forward(self, x: object) -> object:
            return self.lstm(self.conv(x).transpose(1, 2))[0]

    class Attending(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 8, 3)
            self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: object) -> object:
            y = self.conv(x).transpose(1, 2)
            return self.attention(y, y, y)[0]

    return [Recurrent(), Attending()]


def test_torch_reader_suggests_only_layers_that_exist() -> None:
    for module in _torch_modules():
        try:
            convcalc.plan(module, (1, 3, 10))
        except convcalc.SpecError as exc:
            message = str(exc)
        else:
            continue  # read without a suggestion
        named = re.findall(r"convcalc\.nn\.(\w+)", message)
        assert named, message
        for name in named:
            assert isinstance(getattr(nn, name, None), type), f"convcalc.nn has no {name}: {message}"
        layer = re.search(r"Received: module=(\w+)", message).group(1)  # type: ignore[union-attr]
        if not hasattr(nn, layer):
            assert f"convcalc.nn has no {layer} layer" in message
            assert f"its parameters and MACs are the stand-in's, not {layer}'s" in message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nn.Conv2d(3, 8, 3, strides=2), r"Conv2d\(\) has no argument 'strides' \(did you mean 'stride'\?\)"),
        (lambda: nn.Conv2d(3, kernal_size=3), r"has no argument 'kernal_size' \(did you mean 'kernel_size'\?\)"),
        (lambda: nn.Conv2d(3, 8), r"^Conv2d\(\) missing 1 required positional argument: 'kernel_size'\. It takes"),
        (lambda: nn.Sequential(nn.ReLU(), relu=nn.ReLU()), r"^Sequential\(\) has no argument 'relu'\. It takes"),
        (lambda: convcalc.conv_output_size(32, 3, strides=2), r"conv_output_size\(\) has no argument 'strides'"),
        (lambda: convcalc.upsample_output_size(), r"upsample_output_size\(\) missing 1 required positional"),
        (lambda: convcalc.plan(nn.ReLU(), (1, 2), stirct=True), r"plan\(\) has no argument 'stirct' \(did you mean"),
        (lambda: convcalc.symbols("H", "W"), r"symbols\(\) takes 1 positional argument but 2 were given"),
    ],
)
def test_a_call_python_refuses_is_a_spec_error_with_the_signature(call: object, message: str) -> None:
    """Python's TypeError for a keyword a layer or function does not take, or an argument left out, is a
    SpecError that names the argument meant and shows the signature, as a spec file's error does."""
    with pytest.raises(convcalc.SpecError, match=message) as caught:
        call()  # type: ignore[operator]
    assert " It takes " in str(caught.value)


def test_the_layers_signatures_are_their_constructors() -> None:
    """help() and spec files read a layer's signature: its constructor's arguments, not the checking call's."""
    import inspect

    assert list(inspect.signature(nn.Conv2d).parameters)[:4] == ["in_channels", "out_channels", "kernel_size", "stride"]
    assert str(inspect.signature(convcalc.plan)).startswith("(model: 'Any', input_shape: 'Any' = None, *,")


def test_every_public_callable_answers_a_misspelled_keyword_with_a_spec_error() -> None:
    """The functions convcalc exports, the Plan's methods and the spec-file and zoo functions: a keyword none of
    them takes is a SpecError naming the signature, never Python's TypeError."""
    import inspect

    from convcalc import specfile, zoo

    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 1, 5, 5))
    callables = [getattr(convcalc, name) for name in convcalc.__all__ if inspect.isfunction(getattr(convcalc, name))]
    callables += [specfile.load_spec, specfile.dump_spec, zoo.get]
    callables += [getattr(plan, name) for name in ("summary", "to_dict", "to_json", "to_csv", "row", "inputs_for")]
    for function in callables:
        # (summary takes the forward's keywords: there, the model left out is what is said)
        with pytest.raises(
            convcalc.SpecError, match=r"(has no argument 'bogus_keyword'|missing 1 required).* It takes"
        ):
            function(bogus_keyword=1)
