"""The MAC conventions by name, and what fvcore and ptflops count beside convolutions and linear layers.

``macs``, ``macs+bias`` and ``flops`` are convcalc's own counts, made by each layer's rule; ``torchinfo``'s is
made from a row's parameters (``convcalc._plan.torchinfo_mult_adds``); fvcore's and ptflops' add what each tool's
handlers and hooks count for the other layers a network holds (norms, activations, pools, upsampling), per
element of a layer's batch, here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from convcalc._enums import _Vocabulary
from convcalc._plan import Row, make_row, shape_numel
from convcalc._types import Shape, Size

__all__ = ["MacConvention", "called_kind", "peer_extras"]


class MacConvention(_Vocabulary):
    """How multiply-accumulates are counted.

    ``macs``: multiply-accumulates of convolutions (transposed too) and linear
    layers, bias excluded, per sample: torchvision's ``_ops``, fvcore, the papers'
    "mult-adds". ``macs+bias``: the same plus one addition per output of a layer
    with a bias. ``flops``: 2 x ``macs``, as ``torch.utils.flop_counter`` counts.
    ``torchinfo``: torchinfo's "mult-adds": for a layer whose type name contains
    "Conv", its parameters (weights and bias) times its output positions; for
    any other layer with parameters (Linear, BatchNorm, ...), its parameter count;
    this is torchinfo 1.8.0, the release on PyPI (torchinfo's main branch charges
    a Linear on an input of more than two dimensions once per position of all
    leading dimensions, so its later releases count more on such layers).
    ``fvcore``: fvcore's FlopCountAnalysis: ``macs`` plus, per element, 2 of a batch norm's output (1
    without ``affine``; eval mode), 5 of a group, layer or instance norm's input (4 without weights), 1 of a
    2-D adaptive average pool's input, 1 of a 2-D upsample's output and 4 of ``grid_sample``'s (activations,
    other pools, additions and ``scaled_dot_product_attention`` are not counted). ``ptflops``: ptflops' default count at batch 1: ``macs`` plus
    bias additions plus its module hooks and patched functionals: batch, group and instance norms 2 per
    element (1 without ``affine``), layer norms 1; ReLU, ELU, PReLU and GELU modules twice their outputs (the
    hook and the functional inside both fire), ReLU6, LeakyReLU, SiLU and Softmax modules and ``F.relu``,
    ``F.relu6``, ``F.elu``, ``F.gelu``, ``F.silu`` once; pooling modules twice their inputs, the functional
    pools once; an Upsample module twice its outputs, ``F.interpolate`` once. A row does not hold an
    upsample's mode (counted as nearest), whether a functional norm is given weights (counted without) or
    the training flag (eval mode), nor how an attention layer is called; ptflops also counts ``F.conv2d``,
    ``F.linear``, ``torch.relu`` and ``a @ b`` as 0, which rows of the same kind do not say, and
    ``F.scaled_dot_product_attention`` as 0 (it does not patch it). Every
    convention is per sample (torchinfo's summary multiplies by the batch).
    """

    MACS = "macs"
    MACS_BIAS = "macs+bias"
    FLOPS = "flops"
    TORCHINFO = "torchinfo"
    FVCORE = "fvcore"
    PTFLOPS = "ptflops"


_IN_PLACE_RELU = re.compile(r"relu_(_\d+)?")
# a row only for its kind: what the amends of a context make of a layer's kind
_PROBE = make_row("", "", (), (), 0, 0, 0, 0, 0, 0, None, 0, False)


def called_kind(amends: list[Callable[[Row], Row]], kind: str, path: str) -> str:
    """The kind a row is finally given: a functional call planned by its layer's rule (``F.max_pool2d``) is
    added under the layer's kind (``MaxPool2d``) and renamed to the call's (``max_pool2d``) as it is made; an
    in-place ``relu_`` (a row of kind ``relu`` named after its function, which ptflops does not patch) is
    ``relu_``."""
    if amends:
        row = dataclasses.replace(_PROBE, kind=kind)
        for amend in reversed(amends):
            row = amend(row)
        kind = row.kind
    if kind == "relu" and _IN_PLACE_RELU.fullmatch(path.rpartition(".")[2]):  # (torch.fx: relu_, relu__1, ...)
        return "relu_"
    return kind


_NORMS = ("GroupNorm", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
_FUNCTIONAL_NORMS = ("group_norm", "layer_norm", "instance_norm")
# ptflops: modules its table hooks whose forward also calls a functional it patches (both count), and the
# functionals it patches; a LeakyReLU or ReLU6 module is hooked only, a SiLU or Softmax module is counted by its
# patched functional only
_PTFLOPS_HOOKED_AND_PATCHED = ("ReLU", "ELU", "PReLU", "GELU")
_PTFLOPS_ONCE = ("ReLU6", "LeakyReLU", "SiLU", "Softmax", "relu", "relu6", "elu", "prelu", "gelu", "silu")
_POOLS = tuple(f"{p}{d}d" for p in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool") for d in (1, 2, 3))
_FUNCTIONAL_POOLS = tuple(
    f"{p}{d}d" for p in ("max_pool", "avg_pool", "adaptive_max_pool", "adaptive_avg_pool") for d in (1, 2, 3)
)


def _weighted(held: Size) -> bool:
    """Whether a layer holds weights (a norm with ``affine``); a symbolic count is never zero."""
    return not (type(held) is int and held == 0)


def peer_extras(
    convention: MacConvention,
    kind: str,
    input_shape: Shape,
    output_shape: Shape,
    held: Size,
    *,
    called: str | None = None,
) -> Any:
    """What fvcore or ptflops add, for one layer, to the multiply-accumulates of convolutions and linear layers,
    per element of the layer's batch. ``held``: the layer's parameters (a norm without them, ``affine=False``,
    counts less). ``called``: the kind the row is finally given, where it differs from ``kind`` (a functional call
    planned by its layer's rule): ptflops counts a module's hook and its patched functional, a functional once."""
    called = called or kind
    inputs, outputs = shape_numel(input_shape[1:]), shape_numel(output_shape[1:])
    if convention is MacConvention.FVCORE:
        return _fvcore_extras(kind, called, inputs, outputs, len(output_shape), held)
    return _ptflops_extras(kind, called, inputs, outputs, held)


def _fvcore_extras(kind: str, called: str, inputs: Size, outputs: Size, rank: int, held: Size) -> Any:
    """fvcore's handlers: ``aten::batch_norm`` in eval mode 2 per element (1 without weights), the other norms
    5 per input element (4 without), ``aten::adaptive_avg_pool2d`` 1 per input element, ``aten::upsample_nearest2d``
    1 per output element, ``aten::grid_sampler`` 4; other element-wise operations are not counted."""
    if kind.startswith("BatchNorm") or called == "batch_norm":
        return (2 if _weighted(held) else 1) * outputs
    if kind in _NORMS or called in _FUNCTIONAL_NORMS:
        return (5 if _weighted(held) else 4) * inputs
    if kind == "AdaptiveAvgPool2d":  # (fvcore has no handler for the 1-D and 3-D forms)
        return inputs
    if called == "grid_sample":  # (fvcore takes its bilinear mode)
        return 4 * outputs
    if kind == "Upsample" and rank == 4:  # (F.interpolate too); its mode is not in the row: nearest, the default
        return outputs
    return 0


def _ptflops_extras(kind: str, called: str, inputs: Size, outputs: Size, held: Size) -> Any:
    """ptflops' module hooks (its table holds exact classes) and its patched functionals, summed."""
    module = called == kind  # (not a functional call planned by a layer's rule)
    if module and (kind.startswith(("BatchNorm", "InstanceNorm")) or kind == "GroupNorm"):
        return (2 if _weighted(held) else 1) * inputs  # its hook reads ``module.affine``
    if module and kind == "LayerNorm":  # which has no ``affine`` attribute: never doubled
        return inputs
    if module and kind in _PTFLOPS_HOOKED_AND_PATCHED:
        return 2 * outputs
    if called in _PTFLOPS_ONCE:
        return outputs
    if module and kind in _POOLS:
        return 2 * inputs
    if called in _FUNCTIONAL_POOLS:
        return inputs
    if kind == "Upsample":  # the hook of an Upsample module and F.interpolate inside it, or F.interpolate alone
        return (2 if module else 1) * outputs
    return 0
