"""Property tests: convcalc against real torch layers.

Every example builds the layer, runs it on ``torch.zeros`` (batch 1, no grad) and
checks that convcalc agrees with what torch did: where torch raises
(``RuntimeError``/``ValueError``, at construction or at forward), convcalc raises a
``ConvCalcError`` for the same arguments; where torch returns, convcalc gives the
same spatial output shape and, for convolutions, the same parameter count.

The number of examples comes from the active Hypothesis profile (tests/conftest.py).
``event()`` records whether torch accepted each example; run pytest with
``--hypothesis-show-statistics`` to see the split.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import event, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from strategies import (  # noqa: E402
    AdaptiveConfig,
    ConvConfig,
    PoolConfig,
    TransposeConfig,
    UnfoldConfig,
    UpsampleConfig,
    adaptive_configs,
    conv_configs,
    pool_configs,
    transpose_configs,
    unfold_configs,
    upsample_configs,
)
from torch_shapes import native_kernels  # noqa: E402

import convcalc  # noqa: E402
from convcalc import (  # noqa: E402
    ConvCalcError,
    adaptive_pool_output_size,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    conv_transpose_params,
    im2col_shape,
    pool_output_size,
    upsample_output_size,
)
from convcalc import nn as cnn  # noqa: E402

nn = torch.nn
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NDIMS = pytest.mark.parametrize("ndim", [1, 2, 3])


def run_torch(make_layer: Callable[[], Any], input_shape: tuple[int, ...], *, native: bool = False) -> tuple[Any, Any]:
    """``(layer, output shape)``, or ``(None, error)`` when torch rejects the configuration.

    ``native`` runs torch's own kernels rather than oneDNN or cuDNN (see ``torch_shapes.native_kernels``).
    """
    backend = native_kernels() if native else contextlib.nullcontext()
    try:
        layer = make_layer().to(DEVICE)
        with torch.no_grad(), backend:
            out = layer(torch.zeros(input_shape, device=DEVICE))
    except (RuntimeError, ValueError) as exc:
        event(f"torch raised {type(exc).__name__}")
        return None, exc
    event("torch returned")
    return layer, tuple(out.shape)


def run_convcalc(compute: Callable[[], Any]) -> Any:
    """convcalc's answer, or the ``ConvCalcError`` it raised."""
    try:
        return compute()
    except ConvCalcError as exc:
        return exc


def assert_agree(config: Any, torch_result: Any, convcalc_result: Any) -> None:
    """torch raised <=> convcalc raised, and otherwise equal answers."""
    if isinstance(torch_result, Exception):
        assert isinstance(convcalc_result, ConvCalcError), (
            f"torch raised {torch_result!r} but convcalc returned {convcalc_result!r} for {config}"
        )
    else:
        assert not isinstance(convcalc_result, Exception), (
            f"torch returned {torch_result} but convcalc raised {convcalc_result!r} for {config}"
        )
        assert convcalc_result == torch_result, f"torch {torch_result} != convcalc {convcalc_result} for {config}"


def parameter_count(layer: Any) -> int:
    return sum(p.numel() for p in layer.parameters())


# --------------------------------------------------------------------------- #
# Convolution and transposed convolution
# --------------------------------------------------------------------------- #


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels, not a shape change
@NDIMS
@given(data=st.data())
def test_conv_matches_torch(ndim: int, data: st.DataObject) -> None:
    c: ConvConfig = data.draw(conv_configs(ndim), label="config")
    layer, shape = run_torch(
        lambda: getattr(nn, f"Conv{ndim}d")(
            c.in_channels,
            c.out_channels,
            c.kernel_size,
            stride=c.stride,
            padding=c.padding,
            dilation=c.dilation,
            groups=c.groups,
            bias=c.bias,
        ),
        (1, c.in_channels, *c.size),
    )
    got = run_convcalc(
        lambda: (
            conv_output_size(c.size, c.kernel_size, c.stride, c.padding, c.dilation),
            conv_params(c.in_channels, c.out_channels, c.kernel_size, groups=c.groups, bias=c.bias, ndim=ndim),
        )
    )
    expected = shape if layer is None else (shape[2:], parameter_count(layer))
    assert_agree(c, expected, got)


@NDIMS
@given(data=st.data())
def test_conv_transpose_matches_torch(ndim: int, data: st.DataObject) -> None:
    c: TransposeConfig = data.draw(transpose_configs(ndim), label="config")
    layer, shape = run_torch(
        lambda: getattr(nn, f"ConvTranspose{ndim}d")(
            c.in_channels,
            c.out_channels,
            c.kernel_size,
            stride=c.stride,
            padding=c.padding,
            output_padding=c.output_padding,
            groups=c.groups,
            bias=c.bias,
            dilation=c.dilation,
        ),
        (1, c.in_channels, *c.size),
        native=True,
    )
    got = run_convcalc(
        lambda: (
            conv_transpose_output_size(c.size, c.kernel_size, c.stride, c.padding, c.output_padding, c.dilation),
            conv_transpose_params(
                c.in_channels, c.out_channels, c.kernel_size, groups=c.groups, bias=c.bias, ndim=ndim
            ),
        )
    )
    expected = shape if layer is None else (shape[2:], parameter_count(layer))
    assert_agree(c, expected, got)


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #


@NDIMS
@given(data=st.data())
def test_max_pool_matches_torch(ndim: int, data: st.DataObject) -> None:
    c: PoolConfig = data.draw(pool_configs(ndim, "max"), label="config")
    layer, shape = run_torch(
        lambda: getattr(nn, f"MaxPool{ndim}d")(
            c.kernel_size, stride=c.stride, padding=c.padding, dilation=c.dilation, ceil_mode=c.ceil_mode
        ),
        (1, c.channels, *c.size),
    )
    got = run_convcalc(
        lambda: pool_output_size(c.size, c.kernel_size, c.stride, c.padding, c.dilation, c.ceil_mode, kind="max")
    )
    assert_agree(c, shape if layer is None else shape[2:], got)
    planned = run_convcalc(
        lambda: (
            convcalc.plan(
                getattr(cnn, f"MaxPool{ndim}d")(
                    c.kernel_size, stride=c.stride, padding=c.padding, dilation=c.dilation, ceil_mode=c.ceil_mode
                ),
                (1, c.channels, *c.size),
            ).output_shape
        )
    )
    assert_agree(c, shape, planned)


@NDIMS
@given(data=st.data())
def test_avg_pool_matches_torch(ndim: int, data: st.DataObject) -> None:
    # avg_pool3d alone also requires input >= kernel on every axis whatever the padding, which
    # kind="avg" applies; inputs smaller than the kernel are drawn for every ndim
    c: PoolConfig = data.draw(pool_configs(ndim, "avg"), label="config")
    layer, shape = run_torch(
        lambda: getattr(nn, f"AvgPool{ndim}d")(
            c.kernel_size,
            stride=c.stride,
            padding=c.padding,
            ceil_mode=c.ceil_mode,
            count_include_pad=c.count_include_pad,
        ),
        (1, c.channels, *c.size),
    )
    got = run_convcalc(lambda: pool_output_size(c.size, c.kernel_size, c.stride, c.padding, 1, c.ceil_mode, kind="avg"))
    assert_agree(c, shape if layer is None else shape[2:], got)
    planned = run_convcalc(
        lambda: (
            convcalc.plan(
                getattr(cnn, f"AvgPool{ndim}d")(
                    c.kernel_size, stride=c.stride, padding=c.padding, ceil_mode=c.ceil_mode
                ),
                (1, c.channels, *c.size),
            ).output_shape
        )
    )
    assert_agree(c, shape, planned)


@NDIMS
@given(data=st.data(), norm_type=st.sampled_from([1, 2, 3.0]), unbatched=st.booleans())
def test_lp_pool_matches_torch(ndim: int, data: st.DataObject, norm_type: float, unbatched: bool) -> None:
    """``LPPoolNd`` (an average pool of ``x ** p`` without padding, then the root): the spec and the torch module
    read by the bridge against the real layer, batched and unbatched."""
    c: PoolConfig = data.draw(pool_configs(ndim, "avg"), label="config")
    shape_in = (c.channels, *c.size) if unbatched else (1, c.channels, *c.size)
    if ndim == 1 and isinstance(c.kernel_size, tuple):  # torch's lp_pool1d raises TypeError (mul by a tuple)
        with pytest.raises(convcalc.SpecError, match="LPPool1d takes an int kernel_size"):
            cnn.LPPool1d(norm_type, c.kernel_size)
        return
    layer, shape = run_torch(
        lambda: getattr(nn, f"LPPool{ndim}d")(norm_type, c.kernel_size, stride=c.stride, ceil_mode=c.ceil_mode),
        shape_in,
    )
    planned = run_convcalc(
        lambda: (
            convcalc.plan(
                getattr(cnn, f"LPPool{ndim}d")(norm_type, c.kernel_size, c.stride, c.ceil_mode), shape_in
            ).output_shape
        )
    )
    assert_agree(c, shape, planned)
    if layer is not None:
        plan = convcalc.plan(layer, shape_in)
        assert plan.output_shape == shape
        assert [(r.kind, r.source, r.macs) for r in plan.rows] == [(f"LPPool{ndim}d", "rule", 0)]


@pytest.mark.parametrize(
    ("ndim", "kind"), [(1, "Avg"), (2, "Avg"), (3, "Avg"), (2, "Max")], ids=["avg1d", "avg2d", "avg3d", "max2d"]
)
@given(data=st.data())
def test_adaptive_pool_matches_torch(ndim: int, kind: str, data: st.DataObject) -> None:
    c: AdaptiveConfig = data.draw(adaptive_configs(ndim), label="config")
    layer, shape = run_torch(
        lambda: getattr(nn, f"Adaptive{kind}Pool{ndim}d")(c.output_size),
        (1, c.channels, *c.size),
    )
    got = run_convcalc(lambda: adaptive_pool_output_size(c.size, c.output_size))
    assert_agree(c, shape if layer is None else shape[2:], got)


# --------------------------------------------------------------------------- #
# Upsampling and im2col
# --------------------------------------------------------------------------- #


@NDIMS
@given(data=st.data())
def test_upsample_matches_torch(ndim: int, data: st.DataObject) -> None:
    c: UpsampleConfig = data.draw(upsample_configs(ndim), label="config")
    layer, shape = run_torch(
        lambda: nn.Upsample(size=c.output_size, scale_factor=c.scale_factor, mode=c.mode),
        (1, c.channels, *c.size),
    )
    got = run_convcalc(lambda: upsample_output_size(c.size, output_size=c.output_size, scale_factor=c.scale_factor))
    assert_agree(c, shape if layer is None else shape[2:], got)


@given(c=unfold_configs(), batched=st.booleans())
def test_unfold_matches_im2col_shape(c: UnfoldConfig, batched: bool) -> None:
    input_shape = (c.batch, c.channels, *c.size) if batched else (c.channels, *c.size)  # torch takes (C, H, W) too
    _, shape = run_torch(
        lambda: nn.Unfold(c.kernel_size, dilation=c.dilation, padding=c.padding, stride=c.stride),
        input_shape,
    )
    got = run_convcalc(
        lambda: im2col_shape(input_shape, c.kernel_size, c.stride, c.padding, c.dilation, layout="unfold")
    )
    assert_agree(c, shape, got)
