"""Padding modes against real torch: the pad layers, ``F.pad`` and convolutions with ``padding_mode``.

torch raises exactly when convcalc raises a ``ConvCalcError``; otherwise the shapes are equal. The rules
differ per mode (reflect: padding below the input size; circular: at most the input size; replicate: a
non-empty input; constant: cropping may not remove more than the input), so inputs are drawn small.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import event, given  # noqa: E402
from strategies import PAD_LAYERS, PadConfig, pad_configs  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ConvCalcError  # noqa: E402
from convcalc import nn as cnn  # noqa: E402


def _pads(c: PadConfig) -> tuple[int, ...]:
    return c.padding if isinstance(c.padding, tuple) else (c.padding,) * (2 * c.ndim)


def _torch_module(c: PadConfig) -> Any:
    if c.via == "conv":
        mode = "zeros" if c.mode == "constant" else c.mode
        conv = getattr(torch.nn, f"Conv{c.ndim}d")
        return conv(c.input_shape[-c.ndim - 1], 2, c.kernel_size, padding=c.padding, padding_mode=mode)
    if c.via == "layer":
        cls = getattr(torch.nn, f"{PAD_LAYERS[c.mode]}{c.ndim}d")
        return cls(c.padding, 0.5) if c.mode == "constant" else cls(c.padding)
    return None


def _torch_shape(c: PadConfig) -> Any:
    try:
        x = torch.zeros(c.input_shape)
        with torch.no_grad():
            functional = c.via == "functional"
            out = torch.nn.functional.pad(x, _pads(c), mode=c.mode) if functional else _torch_module(c)(x)
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        event("torch raised")
        return exc
    event("torch returned")
    return tuple(out.shape)


def _convcalc_shape(c: PadConfig) -> Any:
    try:
        if c.via == "conv":
            mode = "zeros" if c.mode == "constant" else c.mode
            conv = getattr(cnn, f"Conv{c.ndim}d")
            spec = conv(c.input_shape[-c.ndim - 1], 2, c.kernel_size, padding=c.padding, padding_mode=mode)
        elif c.via == "layer":
            cls = getattr(cnn, f"{PAD_LAYERS[c.mode]}{c.ndim}d")
            spec = cls(c.padding, 0.5) if c.mode == "constant" else cls(c.padding)
        else:  # F.pad, read from torch code
            pads, mode = _pads(c), c.mode

            class Pad(torch.nn.Module):
                def forward(self, x: Any) -> Any:
                    return torch.nn.functional.pad(x, pads, mode=mode)

            spec = Pad()
        return convcalc.plan(spec, c.input_shape).output_shape
    except ConvCalcError as exc:
        return exc


@given(c=pad_configs())
def test_padding_modes_match_torch(c: PadConfig) -> None:
    expected, got = _torch_shape(c), _convcalc_shape(c)
    if isinstance(expected, Exception):
        assert isinstance(got, ConvCalcError), f"torch raised {expected!r} but convcalc returned {got!r} for {c}"
    else:
        assert not isinstance(got, Exception), f"torch returned {expected} but convcalc raised {got!r} for {c}"
        assert got == expected, c


@pytest.mark.parametrize(
    ("layer", "shape", "expected"),
    [
        # by hand, and checked on torch 2.13: reflect needs each padding below the input size
        (cnn.ReflectionPad1d((2, 0)), (1, 1, 3), (1, 1, 5)),
        (cnn.ReflectionPad1d((3, 0)), (1, 1, 3), "reflect padding (3, 0) must be less than the input size 3"),
        # circular wraps around at most once: padding up to the input size
        (cnn.CircularPad1d((3, 0)), (1, 1, 3), (1, 1, 6)),
        (cnn.CircularPad1d((4, 0)), (1, 1, 3), "circular padding (4, 0) must be at most the input size 3"),
        # replicate takes any padding; cropping to nothing is an error, constant padding may leave 0
        (cnn.ReplicationPad1d((7, 0)), (1, 1, 1), (1, 1, 8)),
        (cnn.ReplicationPad1d((-3, 0)), (1, 1, 3), "input (3,) is too small: the padding leaves (0,)"),
        (cnn.ZeroPad1d((-3, 0)), (1, 1, 3), (1, 1, 0)),
        (cnn.ZeroPad1d((-4, 1)), (1, 1, 3), "cropping (-4, 1) leaves a size of -1 before padding"),
    ],
)
def test_padding_mode_rules_by_hand(layer: Any, shape: tuple[int, ...], expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(convcalc.ShapeError, match=f"^<model> \\({layer.kind}\\): .*{_escape(expected)}"):
            convcalc.plan(layer, shape)
    else:
        assert convcalc.plan(layer, shape).output_shape == expected


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_reflect_padding_of_a_symbolic_size_records_a_constraint() -> None:
    H = convcalc.symbols("H")
    plan = convcalc.plan(cnn.Conv2d(1, 1, 3, padding=2, padding_mode="reflect"), (1, 1, H, 8))
    assert plan.output_shape == (1, 1, H + 2, 10)
    (constraint,) = plan.constraints
    assert [h for h in range(1, 6) if constraint.holds(h)] == [3, 4, 5]  # torch: padding 2 < H


@pytest.mark.parametrize("layer", ["Conv2d", "ConvTranspose2d", "Conv2d padded"])
def test_a_convolution_refuses_an_input_a_crop_left_empty(layer: str) -> None:
    """torch: "Only zero batch or zero channel inputs are supported"; a size-0 axis after a cropping pad."""
    make = {
        "Conv2d": lambda: cnn.Conv2d(1, 1, 1),
        "ConvTranspose2d": lambda: cnn.ConvTranspose2d(1, 1, 3),
        "Conv2d padded": lambda: cnn.Conv2d(1, 1, 1, padding=1),  # padding does not rescue an empty input
    }
    model = cnn.Sequential(cnn.ZeroPad2d(-1), make[layer]())
    with pytest.raises(RuntimeError, match=r"Only zero batch or zero channel inputs|greater than actual input size"):
        model.to_torch()(torch.zeros(1, 1, 2, 2))
    with pytest.raises(convcalc.ShapeError, match=r"spatial axis 0 of the input is empty \(size 0\)"):
        convcalc.plan(model, (1, 1, 2, 2))
    assert convcalc.plan(model, (1, 1, 3, 3)).output_shape == tuple(model.to_torch()(torch.zeros(1, 1, 3, 3)).shape)
    H = convcalc.symbols("H")
    assert str(convcalc.plan(model, (1, 1, H, H)).valid_sizes(H)) == "H >= 3"  # H - 2 >= 1, as torch
