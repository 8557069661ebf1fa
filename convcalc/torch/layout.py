"""Where torch lays out what a layer or a memory-format call returns: contiguous, channels-last, or not known.

A model made channels-last (``model.to(memory_format=torch.channels_last)``), an input permuted from NHWC
(``x.permute(0, 3, 1, 2)``) or ``x.contiguous(memory_format=torch.channels_last)`` give 4-D tensors whose
channels step fastest; ``x.view(n, -1)`` of one then fails in torch (the view's axes are not laid out one after
another), where ``x.flatten(1)`` copies. torch keeps that layout through most layers: a convolution returns it for
a channels-last input or weight, a batch norm, an activation, a pool, an upsample for a channels-last input; a few
layers return a contiguous tensor (an instance norm, a softmax, a layer norm over the last axis, circular
padding). The two tables below hold what torch 2.13 does on the CPU for each ``convcalc.nn`` layer, measured
layer by layer; a layer in neither leaves the layout unknown (``None``: a later view is taken to succeed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc._types import Shape
from convcalc.torch.nodes import child_module
from convcalc.torch.strides import (
    Strides,
    _channels_last,
    channels_last,
    contiguous,
    copied,
    is_channels_last,
    is_contiguous,
    viewed,
)

#: the convolutions: a channels-last output where the input or the weight is channels-last
_CONVOLUTIONS = frozenset({"Conv2d", "ConvTranspose2d", "LazyConv2d", "LazyConvTranspose2d"})

#: layers whose output is channels-last for a channels-last input
_KEEPS = frozenset(
    {
        "BatchNorm2d", "LazyBatchNorm2d", "GroupNorm", "RMSNorm", "LocalResponseNorm",
        "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "LPPool2d", "Upsample",
        "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "PixelShuffle", "PixelUnshuffle",
        "ChannelShuffle", "Identity", "Dropout", "Dropout2d", "AlphaDropout", "FeatureAlphaDropout",
        "ReLU", "ReLU6", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Hardtanh", "LeakyReLU", "ELU",
        "CELU", "SELU", "PReLU", "Threshold", "Sigmoid", "Tanh", "Softplus", "Softsign", "Tanhshrink",
        "Hardshrink", "Softshrink",
    }
)  # fmt: skip

#: layers whose output is contiguous whatever the input's layout
_MAKES_CONTIGUOUS = frozenset(
    {
        "InstanceNorm2d", "LazyInstanceNorm2d", "LayerNorm", "Softmax", "Softmax2d", "LogSoftmax", "Softmin",
        "LogSigmoid", "RReLU", "CrossMapLRN2d", "CircularPad2d", "Linear",
    }
)  # fmt: skip

#: functions of a forward that keep a channels-last input's layout (``F.max_pool2d(x, 2)``); the convolutions
#: also take the weight's
_FUNCTIONS_KEEP = frozenset(
    {
        "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "interpolate", "upsample",
        "upsample_nearest", "upsample_bilinear", "batch_norm", "group_norm", "dropout", "dropout2d",
    }
)  # fmt: skip
_FUNCTIONS_CONV = frozenset({"conv2d", "conv_transpose2d"})
#: joins that keep the layout their inputs share (torch.cat's output memory format)
_JOINS = frozenset({"cat", "concat", "concatenate"})
_KEEPING_FUNCTIONS = _FUNCTIONS_KEEP | _FUNCTIONS_CONV | _JOINS
#: functions whose result keeps a dense input's very strides (torch's preserve_format), and those whose result
#: is contiguous whatever the input's layout, measured on a transposed input
_PRESERVES = frozenset(
    {"flip", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like"}
)
_CONTIGUOUS = frozenset(
    {
        "cumsum", "cumprod", "cummax", "cummin", "softmax", "log_softmax", "tril", "triu", "masked_fill",
        "layer_norm", "bernoulli", "new_zeros", "new_ones", "new_empty", "new_full",
    }
)  # fmt: skip


def module_strides(spec: Any, module: Any, x: Any, shape: Shape, makes_new: Callable[[Any], bool]) -> Strides | None:
    """The strides of what ``spec`` (a layer planned for the torch ``module``) returns for the tensor ``x``, or
    None where not known. ``makes_new``: whether the layer returns a new contiguous tensor for a contiguous
    input."""
    if _name(spec) in ("Flatten", "Unflatten") and x.strides is not None and _ints(x.shape, shape):
        return viewed(tuple(x.shape), x.strides, tuple(shape)) or contiguous(shape)  # a view where torch can
    if x.strides is not None and is_channels_last(x.shape, x.strides):  # torch asks this first
        given = True
    elif is_contiguous(x.shape, x.strides):
        given = False
    else:
        return None
    laid = _layout_after(spec, module, given, makes_new)
    return _strides_of(laid, shape)


def _name(spec: Any) -> str:
    """The class of a ``convcalc.nn`` layer, which the tables name (another spec: ``""``)."""
    return type(spec).__name__ if type(spec).__module__.startswith("convcalc.nn.") else ""


def _ints(*shapes: Shape) -> bool:
    return all(type(d) is int for shape in shapes for d in shape)


def _strides_of(laid: bool | None, shape: Shape) -> Strides | None:
    if laid is None:
        return None
    return channels_last(shape) if laid else contiguous(shape)


def _layout_after(spec: Any, module: Any, given: bool, makes_new: Callable[[Any], bool]) -> bool | None:
    """True: channels-last; False: contiguous; None: not known."""
    from convcalc.nn import containers

    if isinstance(spec, containers.Sequential):
        laid: bool | None = given
        for name, child in spec._items:
            sub = child_module(module, name)
            if sub is None:
                return None
            laid = _layout_after(child, sub, bool(laid), makes_new)
            if laid is None:
                return None
        return laid
    weights = _weights_layout(module)
    if weights is None:
        return None
    name = _name(spec)
    if name in _CONVOLUTIONS:  # circular padding pads into a new contiguous tensor: only the weight decides
        return weights if getattr(spec, "padding_mode", "zeros") == "circular" else given or weights
    if weights:  # a channels-last parameter of another layer: not followed
        return None
    if not given:
        return False if makes_new(spec) else None
    if name in _KEEPS:
        return True
    if name in _MAKES_CONTIGUOUS:
        return False
    return None


def _weights_layout(module: Any) -> bool | None:
    """False: the module's parameters are contiguous (or it has none); True: a 4-D one is channels-last (as
    ``model.to(memory_format=torch.channels_last)`` leaves a convolution's weight; torch decides by the strides
    themselves, so a 1x1 kernel's counts too); None: another layout."""
    if module is None:
        return False
    import torch
    from torch.nn.parameter import is_lazy

    laid = False
    for p in module.parameters():
        if is_lazy(p):  # (made contiguous when the first forward gives its shape)
            continue
        try:
            if p.is_contiguous() and (p.dim() != 4 or not p.is_contiguous(memory_format=torch.channels_last)):
                continue  # contiguous, and not also channels-last, which its strides would then tell apart
            shape, strides = tuple(p.shape), tuple(p.stride())
        except RuntimeError:  # a sparse or otherwise strideless parameter
            return None
        if strides == contiguous(shape):
            continue
        if len(shape) == 4 and strides == channels_last(shape):
            laid = True
        elif not p.is_contiguous():
            return None
    return laid


def memory_format_strides(call: Any, fmt: Any, x: Any, shape: Shape) -> Strides | None:
    """The strides of ``x.contiguous(memory_format=fmt)`` / ``x.to(memory_format=fmt)``, of ``shape``. torch returns
    ``x`` itself, strides and all, where it is laid out so already: ``contiguous`` where it is contiguous in that
    format (an axis of size 1 may have any stride: a (3, 4, 1, 1) weight of strides (4, 1, 1, 1) is channels-last
    contiguous), ``to`` where its suggested format is that one."""
    import torch

    held = getattr(x, "strides", None)
    if held is not None and tuple(getattr(x, "shape", ())) == tuple(shape) and all(type(d) is int for d in shape):
        if call.kind == "contiguous" and fmt in (torch.channels_last, torch.contiguous_format):
            laid = _channels_last(shape, held) if fmt == torch.channels_last and len(shape) == 4 else None
            if laid or (fmt == torch.contiguous_format and is_contiguous(shape, held)):
                return tuple(held)
        formats = (torch.channels_last, torch.contiguous_format)
        if (
            call.kind == "to"
            and len(shape) == 4
            and fmt in formats
            and is_channels_last(shape, held) == (fmt == torch.channels_last)
        ):
            return tuple(held)
    if fmt == torch.channels_last:
        if len(shape) != 4:  # torch: required rank 4 tensor to use channels_last format
            raise call.shape_error(
                f"torch.channels_last lays out a 4-D tensor, not a {len(shape)}-D one (torch: required rank 4 "
                "tensor to use channels_last format)",
                shape,
            )
        return channels_last(shape)
    if fmt == torch.contiguous_format:
        return contiguous(shape)
    if fmt == torch.preserve_format and getattr(x, "strides", None) is not None:
        return copied(shape, x.strides)
    return None


def functional_strides(kind: str, tensors: list[Any], shape: Shape) -> Strides | None:
    """The strides of a function's result where its inputs' layout decides them: a pool, an upsample, a norm of a
    channels-last input; a convolution of a channels-last input or weight; a join of channels-last tensors; a flip
    or ``zeros_like`` keeping the input's; a cumulative sum, a softmax, a mask's fill making a contiguous one.
    None otherwise (not known)."""
    if kind in _CONTIGUOUS:
        return contiguous(shape)
    if kind in _PRESERVES and tensors and tuple(tensors[0].shape) == tuple(shape):
        return copied(shape, tensors[0].strides)
    if not tensors or len(shape) != 4 or kind not in _KEEPING_FUNCTIONS:
        return None
    laid = [t.strides is not None and is_channels_last(t.shape, t.strides) for t in tensors]
    if kind in _FUNCTIONS_CONV and any(laid[:2]):
        return channels_last(shape)
    if kind in _FUNCTIONS_KEEP and laid[0]:
        return channels_last(shape)
    if kind in _JOINS and all(laid):
        return channels_last(shape)
    return None
