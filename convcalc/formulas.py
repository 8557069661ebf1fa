"""Output sizes: convolution, pooling, transposed convolution, adaptive pooling,
interpolation and im2col.

Each public function checks its arguments, broadcasts them over the spatial axes
and calls one per-axis rule written with ``+ - * //`` only, so the same body
serves Python ints (exact at any size), numpy integer arrays (vectorised) and
sympy expressions (closed forms). The per-axis rules are also what the planner
calls, once its layer specs have checked their own arguments.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

from convcalc._args import Axes, exact_arrays, flag, integer, received, show, upsample_arguments
from convcalc._backend import check, is_array, is_symbolic, numpy, smax, smin
from convcalc._enums import Convention, PaddingMode, PoolKind, _Vocabulary
from convcalc._errors import ShapeError, SpecError, checked_call
from convcalc._symbolic import FloorForm

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from convcalc._backend import Pick
    from convcalc._types import Size, Sizes

__all__ = [
    "adaptive_pool_output_size",
    "adaptive_pool_windows",
    "conv_output_size",
    "conv_transpose_output_size",
    "im2col_memory",
    "im2col_shape",
    "pool_output_size",
    "same_padding",
    "upsample_output_size",
]


_MAX_WINDOWS = 10**6


class Im2ColLayout(_Vocabulary):
    """How the column matrix is laid out."""

    ROWS = "rows"  # (N * out positions, C * kernel): Caffe / the im2col of textbooks
    UNFOLD = "unfold"  # (N, C * kernel, out positions): torch.nn.Unfold


# --------------------------------------------------------------------------- #
# Per-axis rules (no checks: callers have validated the arguments)
# --------------------------------------------------------------------------- #


def kernel_extent(k: Size, d: Size) -> Size:
    """Span of a dilated kernel: ``d * (k - 1) + 1``."""
    return d * (k - 1) + 1


def window_count(i: Size, pad_before: Size, pad_after: Size, extent: Size, s: Size) -> Size:
    """Number of window starts: ``(i + pl + pr - dk) // s + 1`` (floor)."""
    return (i + pad_before + pad_after - extent) // s + 1


def exact_sizes(i: int, pad: int, extent: int, s: int) -> str:
    """The input sizes next to ``i`` that a stride-``s`` window of ``extent`` covers exactly, with
    ``pad`` cells of padding in all: ``"53 or 57"``, or only the upper one when the lower is too small."""
    rem = (i + pad - extent) % s
    lower, upper = i - rem, i + s - rem
    return f"{show(lower)} or {show(upper)}" if lower >= max(1, extent - pad) else show(upper)


def ceil_div(a: Size, b: Size) -> Size:
    """``ceil(a / b)`` for integer ``a`` and positive ``b``, without floats."""
    return (a + b - 1) // b


def same_total(i: Size, s: Size, extent: Size) -> Size:
    """Padding in all that TensorFlow's (and ONNX's) 'same' adds on one axis, so that ``ceil(i / s)`` windows
    fit: ``max((ceil(i / s) - 1) * s + dk - i, 0)``; the odd pixel goes at the end."""
    return smax((ceil_div(i, s) - 1) * s + extent - i, 0)


def ceil_window_count(i: Size, p: Size, extent: Size, s: Size) -> Size:
    """torch's ``ceil_mode`` count: ceil, but no window may start in the right padding.

    torch computes ``A = ceil((i + 2p - dk) / s)`` and drops the last window when
    ``A * s >= i + p``. With ``p <= dk / 2`` (which torch enforces) that equals
    ``min(A, ceil((i + p) / s) - 1) + 1``, a form without a branch that also
    holds for arrays and symbols. When ``s + p <= dk`` the second term can
    never be smaller, and it is left out so closed forms stay short.
    """
    a = (i + 2 * p - extent + s - 1) // s
    if type(s) is int and type(p) is int and type(extent) is int and s + p <= extent:
        return a + 1
    return smin(a, (i + p - 1) // s) + 1


def transpose_count(i: Size, s: Size, pad_total: Size, extent: Size, op: Size) -> Size:
    """Transposed convolution: ``(i - 1) * s - (pl + pr) + dk + op``."""
    return (i - 1) * s - pad_total + extent + op


# --------------------------------------------------------------------------- #
# Argument rules, stated once: the public functions below and the layer specs
# (convcalc.nn, convcalc.keras) call them, one axis at a time
# --------------------------------------------------------------------------- #


def torch_same_rule(s: Any, args: dict[str, Any], axis: str, remedy: Callable[[Pick], str]) -> None:
    """torch allows ``padding='same'`` only at stride 1; ``remedy`` says what the caller can do instead."""
    check(
        s == 1,
        lambda pick: (
            f"padding='same' is not supported for strided convolutions in torch (stride={show(pick(s))}{axis})"
            f"{remedy(pick)} {received(args)}"
        ),
        SpecError,
    )


def torch_pool_pads(k: Any, p: Any) -> Any:
    """Whether torch's pooling takes ``padding=p`` beside ``kernel_size=k``: at most half the kernel."""
    return 2 * p <= k


def torch_pool_padding_rule(k: Any, p: Any, args: dict[str, Any], axis: str) -> None:
    """torch pooling pads at most half the kernel: ``2 * padding <= kernel_size``."""
    check(
        torch_pool_pads(k, p),
        lambda pick: (
            f"padding={show(pick(p))} is more than half of kernel_size={show(pick(k))}{axis}: torch allows padding <= "
            f"{show(pick(k) // 2)}. {received(args)}"
        ),
        SpecError,
    )


def torch_output_padding_rule(op: Any, s: Any, d: Any, args: dict[str, Any], axis: str) -> None:
    """torch's transposed convolution: ``output_padding`` below the stride or the dilation."""
    check(
        (op < s) | (op < d),  # bools or boolean arrays
        lambda pick: (
            f"output_padding={show(pick(op))} must be smaller than either stride={show(pick(s))} or "
            f"dilation={show(pick(d))}{axis}: use output_padding <= {show(max(pick(s), pick(d)) - 1)}. "
            f"{received(args)}"
        ),
        SpecError,
    )


def keras_output_padding_rule(op: Any, s: Any, args: dict[str, Any], axis: str) -> None:
    """Keras' transposed convolution: ``output_padding`` strictly below the stride."""
    check(
        op < s,
        lambda pick: (
            f"output_padding={show(pick(op))} must be strictly less than strides={show(pick(s))}{axis} (Keras). "
            f"{received(args)}"
        ),
        SpecError,
    )


def keras_transpose_count(i: Any, s: Any, extent: Any, op: Any, mode: PaddingMode | None) -> Any:
    """Keras' transposed output size on one axis (``op`` None: Keras' default output padding)."""
    if mode is PaddingMode.SAME:
        return i * s if op is None else (i - 1) * s + extent % 2 + op
    if op is None:
        return (i - 1) * s + smax(extent, s)
    return (i - 1) * s + extent + op


# --------------------------------------------------------------------------- #
# Helpers for the public functions
# --------------------------------------------------------------------------- #


def _axis_name(j: int, ndim: int) -> str:
    return f" on axis {j}" if ndim > 1 else ""


def _padding_mode(padding: Sizes | str, convention: Convention) -> PaddingMode | None:
    """The named padding mode, or None when padding is numeric."""
    if not isinstance(padding, str):
        return None
    return PaddingMode.parse(padding, "padding", case_sensitive=convention is Convention.TORCH)


# --------------------------------------------------------------------------- #
# Convolution
# --------------------------------------------------------------------------- #


@exact_arrays
def conv_output_size(
    size: Sizes,
    kernel_size: Sizes,
    stride: Sizes = 1,
    padding: Sizes | str = 0,
    dilation: Sizes = 1,
    *,
    convention: str = "torch",
    strict: bool = False,
) -> Sizes:
    """Output size of a convolution along each spatial axis.

    ``out = floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Args:
        size: input size: an int, a tuple (one per axis), a sympy expression or a
            numpy integer array (one entry per configuration).
        kernel_size, stride, dilation: an int or a per-axis tuple (arrays and
            symbols work too).
        padding: an int, a per-axis tuple, ``"same"`` or ``"valid"``
            (``"causal"`` for 1-D under Keras).
        convention: ``"torch"`` follows PyTorch and its errors (``"same"`` needs
            stride 1); ``"keras"`` follows Keras/TensorFlow (``"same"`` gives
            ``ceil(size / stride)`` for any stride, no explicit padding).
        strict: the textbook rule: raise when ``size - kernel + 2 * padding`` is
            not divisible by the stride, and say what would fit.

    Returns:
        The output size, of the same kind as ``size`` (a tuple for tuples).

    Raises:
        SpecError: an invalid argument (non-positive kernel, stride or dilation,
            negative padding, unknown padding string, tuples of different lengths,
            ``"same"`` with stride > 1 under torch).
        ShapeError: the dilated kernel is larger than the padded input, or,
            with ``strict=True``, the stride does not divide evenly.

    >>> conv_output_size(227, 11, stride=4)
    55
    >>> conv_output_size((32, 64), 5)
    (28, 60)
    >>> conv_output_size(7, 3, stride=2, padding="same", convention="keras")
    4
    >>> import convcalc
    >>> H = convcalc.symbols("H")
    >>> conv_output_size(H, 3, 2, 1)
    floor((H - 1)/2) + 1
    >>> conv_output_size(64, 7, stride=2, strict=True)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: (W - F + 2P) / S = (64 - 7 + 2*0) / 2 = 57/2 is not an integer: the stride does not divide evenly, and a floor would drop 1 row/column of the input. Input sizes that fit: 63 or 65; no symmetric padding fits (W - F is odd and 2P is even). Received: size=64, kernel_size=7, stride=2, padding=0, dilation=1
    """
    conv = Convention.parse(convention, "convention")
    strict = flag(strict, "strict")
    mode = _padding_mode(padding, conv)
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    shape_args = dict(args) if mode is None else {k: v for k, v in args.items() if k != "padding"}
    axes = Axes(shape_args)
    if mode is PaddingMode.CAUSAL and (conv is Convention.TORCH or axes.ndim != 1):
        raise SpecError(
            "padding='causal' exists only for 1-D Keras convolutions (convention='keras'). " + received(args)
        )
    if conv is Convention.KERAS:
        keras_stride_dilation_check(
            [integer(v, "stride", minimum=1) for v in axes.values["stride"]],
            [integer(v, "dilation", minimum=1) for v in axes.values["dilation"]],
            args,
        )
    outs = []
    for j in range(axes.ndim):
        i = integer(axes.values["size"][j], "size", minimum=1, error=ShapeError, symbolic=True)
        k = integer(axes.values["kernel_size"][j], "kernel_size", minimum=1)
        s = integer(axes.values["stride"][j], "stride", minimum=1)
        d = integer(axes.values["dilation"][j], "dilation", minimum=1)
        p = 0 if mode is not None else integer(axes.values["padding"][j], "padding", minimum=0)
        outs.append(_conv_axis(i, k, s, p, d, mode, conv, strict, args, _axis_name(j, axes.ndim)))
    return axes.wrap(outs)


def keras_stride_dilation_check(strides: Sequence[Any], dilations: Sequence[Any], args: dict[str, Any]) -> None:
    """Keras' rule: no stride > 1 together with a dilation > 1, on any axes (``max(strides) > 1 and
    max(dilation_rate) > 1`` in ``base_conv.py``, even when they are on different axes). Strides and
    dilations are ints or int arrays (one configuration per entry)."""
    strided: Any = False
    dilated: Any = False
    for v in strides:
        strided = strided | (v > 1)
    for v in dilations:
        dilated = dilated | (v > 1)
    check(
        ~(strided & dilated) if is_array(strided & dilated) else not (strided and dilated),
        lambda pick: (
            "`strides > 1` not supported in conjunction with `dilation_rate > 1` (Keras: any stride above 1 "
            "together with any dilation above 1, even on different axes): use strides 1 or dilation_rate 1 "
            f"on every axis. {received(args)}"
        ),
        SpecError,
    )


def _conv_axis(
    i: Size,
    k: Size,
    s: Size,
    p: Size,
    d: Size,
    mode: PaddingMode | None,
    conv: Convention,
    strict: bool,
    args: dict[str, Any],
    axis: str,
) -> Size:
    extent = kernel_extent(k, d)
    if conv is Convention.KERAS:
        if mode is None:
            check(
                p == 0,
                lambda pick: (
                    "Keras convolutions take padding='valid' or 'same', not a number; "
                    f"explicit padding is a ZeroPadding layer (or use convention='torch'). {received(args)}"
                ),
                SpecError,
            )
        if mode is PaddingMode.SAME or mode is PaddingMode.CAUSAL:
            return ceil_div(i, s)
        out = window_count(i, 0, 0, extent, s)  # Keras 'valid'
        check(
            out >= 1,
            lambda pick: (
                f"computed output size would be zero or negative{axis}: kernel_size={show(pick(k))}"
                f"{_dilated(pick(k), pick(d))} does not fit an unpadded input of {show(pick(i))}; "
                f"an input of at least {kernel_extent(pick(k), pick(d))} fits, or padding='same'. {received(args)}"
            ),
        )
        if strict:
            _strict_check(i, k, s, 0, d, args, axis)
        return out
    # torch
    if mode is PaddingMode.SAME:
        torch_same_rule(
            s,
            args,
            axis,
            lambda pick: (
                f". Use an explicit padding such as padding={show(pick(d) * (pick(k) - 1) // 2)}, "
                "or convention='keras' for TensorFlow's 'same'."
            ),
        )
        return i
    check(
        i + 2 * p >= extent,
        lambda pick: _too_small(pick(i), pick(k), pick(p), pick(d), axis, args),
    )
    if strict:
        _strict_check(i, k, s, p, d, args, axis)
    return window_count(i, p, p, extent, s)


def _dilated(k: Size, d: Size) -> str:
    return "" if d == 1 else f" (dilation {show(d)}: spans {show(kernel_extent(k, d))})"


def _too_small(i: Size, k: Size, p: Size, d: Size, axis: str, args: dict[str, Any]) -> str:
    extent = kernel_extent(k, d)
    need_pad = ceil_div(extent - i, 2)
    return (
        f"kernel_size={show(k)}{_dilated(k, d)} is larger than the padded input {show(i)} + 2*{show(p)} = {show(i + 2 * p)}{axis}. "
        f"An input of at least {show(extent - 2 * p)} fits, or padding >= {show(need_pad)}. {received(args)}"
    )


def _fitting_paddings(i: int, extent: int, s: int, least: int) -> list[int]:
    """The paddings ``q`` in ``[least, least + s)`` with ``(i - extent + 2q) % s == 0``, found by
    solving ``2q = extent - i (mod s)`` rather than by trying all ``s`` of them (the stride may be huge)."""
    if s % 2:
        step, target = s, (extent - i) * pow(2, -1, s) % s
    elif (extent - i) % 2:
        return []  # 2q is even, extent - i is odd, and an even modulus keeps the parity
    else:
        step, target = s // 2, (extent - i) // 2 % (s // 2)
    first = least + (target - least) % step
    return [first] if step == s else [first, first + step]


def _strict_check(
    i: Size, k: Size, s: Size, p: Size, d: Size, args: dict[str, Any], axis: str, pool: bool = False
) -> None:
    """``strict``: the stride steps over the padded input exactly. The message names the sizes that fit and the
    paddings that do (for ``pool``, only those torch's pooling allows: at most half the kernel)."""
    if isinstance(i, FloorForm) or is_symbolic(i):
        return  # the planner records divisibility of symbolic sizes as a constraint
    extent = kernel_extent(k, d)

    def message(pick: Pick) -> str:
        ii, kk, ss, pp, dd = pick(i), pick(k), pick(s), pick(p), pick(d)
        ext = kernel_extent(kk, dd)
        span = ii - ext + 2 * pp
        rem = span % ss
        sizes = exact_sizes(ii, 2 * pp, ext, ss)
        fits = max(0, ceil_div(ext - ii, 2))  # the least padding with which the kernel fits
        pads = _fitting_paddings(ii, ext, ss, fits)
        allowed = [q for q in pads if not pool or torch_pool_pads(kk, q)]
        if allowed:
            pad_text = f"padding={show(allowed[0])}" + (f" or {show(allowed[1])}" if len(allowed) > 1 else "") + " fits"
        elif pads:
            pad_text = f"no padding fits within torch pooling's limit (padding <= {show(kk // 2)})"
        else:
            pad_text = "no symmetric padding fits (W - F is odd and 2P is even)"
        f_text = show(kk) if dd == 1 else show(ext)
        if args.get("ceil_mode") is True:  # torch keeps a last window that runs past the input
            what = f"ceil_mode's last window reaches {show(ss - rem)} row/column past the input"
        else:
            what = f"a floor would drop {show(rem)} row/column of the input"
        return (
            f"(W - F + 2P) / S = ({show(ii)} - {f_text} + 2*{show(pp)}) / {show(ss)} = {show(span)}/{show(ss)} is not an integer{axis}: "
            f"the stride does not divide evenly, and {what}. "
            f"Input sizes that fit: {sizes}; {pad_text}. {received(args)}"
        )

    check((i - extent + 2 * p) % s == 0, message)


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #


@exact_arrays
def pool_output_size(
    size: Sizes,
    kernel_size: Sizes,
    stride: Sizes = None,
    padding: Sizes | str = 0,
    dilation: Sizes = 1,
    ceil_mode: bool = False,
    *,
    convention: str = "torch",
    kind: str = "max",
    strict: bool = False,
) -> Sizes:
    """Output size of max or average pooling along each spatial axis.

    ``stride=None`` means ``stride = kernel_size``, as in torch and Keras. Under
    torch, ``ceil_mode=True`` rounds up but drops a last window that would start
    in the right padding, and padding may be at most half the kernel; torch's
    3-D average pooling (``kind="avg"`` with three axes) also needs an input at
    least as large as the kernel on every axis, whatever the padding.

    Args:
        size: input size (int, tuple, sympy expression or numpy array).
        kernel_size, stride, padding, dilation: int or per-axis tuple.
        ceil_mode: torch's ceil mode.
        convention: ``"torch"``, or ``"keras"`` (padding ``"valid"``/``"same"``, no
            dilation, no ceil mode).
        kind: ``"max"`` or ``"avg"``: which pooling (average pooling has no dilation).
        strict: the textbook rule: raise when ``size - kernel + 2 * padding`` is
            not divisible by the stride, and say what would fit.

    Returns:
        The output size, of the same kind as ``size``.

    Raises:
        SpecError: an invalid argument (padding above half the kernel in torch,
            zero stride, a string padding in torch, ...).
        ShapeError: the window does not fit the (padded) input, or, with
            ``strict=True``, the stride does not divide evenly.

    >>> pool_output_size(28, 2)
    14
    >>> pool_output_size(7, 2, padding=1)
    4
    >>> pool_output_size(5, 2, 2, padding=1, ceil_mode=True)
    3
    >>> pool_output_size(7, 2, padding="same", convention="keras")
    4
    >>> import convcalc
    >>> pool_output_size(convcalc.symbols("H"), 3, 2, 1)
    floor((H - 1)/2) + 1
    >>> pool_output_size((2, 8, 8), 3, 1, 1)
    (2, 8, 8)
    >>> pool_output_size((2, 8, 8), 3, 1, 1, kind="avg")
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: input size 2 on axis 0 is smaller than kernel_size=3: torch's avg_pool3d needs an input at least as large as the kernel on every axis, whatever the padding; an input of at least 3 fits. Received: size=(2, 8, 8), kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False
    >>> pool_output_size(8, 3, padding=2)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: padding=2 is more than half of kernel_size=3: torch allows padding <= 1. Received: size=8, kernel_size=3, stride=None, padding=2, dilation=1, ceil_mode=False
    """
    conv = Convention.parse(convention, "convention")
    pool_kind = PoolKind.parse(kind, "kind")
    ceil_mode = flag(ceil_mode, "ceil_mode")
    strict = flag(strict, "strict")
    args = {
        "size": size,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": ceil_mode,
    }
    mode = _padding_mode(padding, conv)
    if conv is Convention.TORCH and mode is not None:
        raise SpecError(f"torch pooling takes a numeric padding, not {padding!r}. {received(args)}")
    if conv is Convention.KERAS and ceil_mode:
        raise SpecError(f"Keras pooling has no ceil_mode; use padding='same'. {received(args)}")
    shape_args = {"size": size, "kernel_size": kernel_size, "dilation": dilation}
    if stride is not None:
        shape_args["stride"] = stride
    if mode is None:
        shape_args["padding"] = padding
    axes = Axes(shape_args)
    outs = []
    for j in range(axes.ndim):
        axis = _axis_name(j, axes.ndim)
        i = integer(axes.values["size"][j], "size", minimum=1, error=ShapeError, symbolic=True)
        k = integer(axes.values["kernel_size"][j], "kernel_size", minimum=1)
        s = k if stride is None else integer(axes.values["stride"][j], "stride", minimum=1)
        d = integer(axes.values["dilation"][j], "dilation", minimum=1)
        p = 0 if mode is not None else integer(axes.values["padding"][j], "padding", minimum=0)
        if conv is Convention.KERAS:
            outs.append(_keras_pool_axis(i, k, s, p, d, mode, args, axis))
        else:
            if pool_kind is PoolKind.AVG:
                check(d == 1, lambda pick: f"average pooling has no dilation. {received(args)}", SpecError)
            least = pool_min_input(pool_kind, axes.ndim, k)
            if least is not None:
                check(
                    i >= least,
                    lambda pick: (
                        f"input size {show(pick(i))}{axis} is smaller than kernel_size={show(pick(k))}: "
                        "torch's avg_pool3d needs an input at least as large as the kernel on every axis, "
                        f"whatever the padding; an input of at least {show(pick(k))} fits. {received(args)}"
                    ),
                )
            outs.append(_torch_pool_axis(i, k, s, p, d, ceil_mode, args, axis))
        if strict and (mode is None or mode is PaddingMode.VALID):
            _strict_check(i, k, s, p, d, args, axis, pool=conv is not Convention.KERAS)
    return axes.wrap(outs)


def pool_min_input(kind: PoolKind, ndim: int, k: Size) -> Size:
    """The least input size torch's pooling of ``kind`` over ``ndim`` axes accepts whatever the padding,
    beyond the window fitting the padded input: the kernel for 3-D average pooling (``avg_pool3d`` checks
    ``input >= kernel``), else None. Max pooling and 1-D/2-D average pooling have no such rule."""
    return k if kind is PoolKind.AVG and ndim == 3 else None


def _torch_pool_axis(
    i: Size, k: Size, s: Size, p: Size, d: Size, ceil_mode: bool, args: dict[str, Any], axis: str
) -> Size:
    torch_pool_padding_rule(k, p, args, axis)
    extent = kernel_extent(k, d)
    out = ceil_window_count(i, p, extent, s) if ceil_mode else window_count(i, p, p, extent, s)
    check(
        out >= 1,
        lambda pick: _too_small(pick(i), pick(k), pick(p), pick(d), axis, args),
    )
    return out


def _keras_pool_axis(
    i: Size, k: Size, s: Size, p: Size, d: Size, mode: PaddingMode | None, args: dict[str, Any], axis: str
) -> Size:
    check(d == 1, lambda pick: f"Keras pooling has no dilation. {received(args)}", SpecError)
    check(
        p == 0,
        lambda pick: f"Keras pooling takes padding='valid' or 'same', not a number. {received(args)}",
        SpecError,
    )
    if mode is PaddingMode.CAUSAL:
        raise SpecError(f"Keras pooling takes padding='valid' or 'same'. {received(args)}")
    if mode is PaddingMode.SAME:
        return ceil_div(i, s)
    out = window_count(i, 0, 0, k, s)  # Keras 'valid'
    check(
        out >= 1,
        lambda pick: (
            f"computed output size would be zero or negative{axis}: pool_size={show(pick(k))} does not fit an "
            f"input of {show(pick(i))}; an input of at least {show(pick(k))} fits, or padding='same'. {received(args)}"
        ),
    )
    return out


# --------------------------------------------------------------------------- #
# Transposed convolution
# --------------------------------------------------------------------------- #


@exact_arrays
def conv_transpose_output_size(
    size: Sizes,
    kernel_size: Sizes,
    stride: Sizes = 1,
    padding: Sizes | str = 0,
    output_padding: Sizes = None,
    dilation: Sizes = 1,
    *,
    convention: str = "torch",
) -> Sizes:
    """Output size of a transposed convolution along each spatial axis.

    torch: ``out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1)
    + output_padding + 1``, where ``output_padding`` (default 0) must be smaller
    than the stride or the dilation. Keras: padding ``"valid"`` or ``"same"``; with
    ``output_padding=None``, ``"same"`` gives ``size * stride`` and ``"valid"``
    gives ``(size - 1) * stride + max(kernel extent, stride)``.

    >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)
    8
    >>> conv_transpose_output_size(4, 3, stride=2, padding="same", convention="keras")
    8
    >>> conv_transpose_output_size(4, 2, stride=3, padding="valid", convention="keras")
    12
    >>> import convcalc
    >>> conv_transpose_output_size(convcalc.symbols("H"), 2, stride=2)
    2*H
    >>> conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: output_padding=2 must be smaller than either stride=2 or dilation=1: use output_padding <= 1. Received: size=4, kernel_size=3, stride=2, padding=0, output_padding=2, dilation=1
    """
    conv = Convention.parse(convention, "convention")
    args = {
        "size": size,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "dilation": dilation,
    }
    mode = _padding_mode(padding, conv)
    if conv is Convention.TORCH and mode is not None:
        raise SpecError(f"torch transposed convolutions take a numeric padding, not {padding!r}. {received(args)}")
    if mode is PaddingMode.CAUSAL:
        raise SpecError(f"transposed convolutions take padding='valid' or 'same'. {received(args)}")
    shape_args = {"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation}
    if mode is None:
        shape_args["padding"] = padding
    if output_padding is not None:
        shape_args["output_padding"] = output_padding
    axes = Axes(shape_args)
    if conv is Convention.KERAS:
        keras_stride_dilation_check(
            [integer(v, "stride", minimum=1) for v in axes.values["stride"]],
            [integer(v, "dilation", minimum=1) for v in axes.values["dilation"]],
            args,
        )
    outs = []
    for j in range(axes.ndim):
        axis = _axis_name(j, axes.ndim)
        i = integer(axes.values["size"][j], "size", minimum=1, error=ShapeError, symbolic=True)
        k = integer(axes.values["kernel_size"][j], "kernel_size", minimum=1)
        s = integer(axes.values["stride"][j], "stride", minimum=1)
        d = integer(axes.values["dilation"][j], "dilation", minimum=1)
        p = 0 if mode is not None else integer(axes.values["padding"][j], "padding", minimum=0)
        op = None if output_padding is None else integer(axes.values["output_padding"][j], "output_padding", minimum=0)
        extent = kernel_extent(k, d)
        if conv is Convention.KERAS:
            check(p == 0, lambda pick: f"Keras takes padding='valid' or 'same'. {received(args)}", SpecError)
            out = _keras_transpose_axis(i, k, s, d, op, mode, args, axis)
        else:
            op = 0 if op is None else op
            torch_output_padding_rule(op, s, d, args, axis)
            out = transpose_count(i, s, 2 * p, extent, op)
        check(
            out >= 1,
            lambda pick: (
                f"output size would be {show(pick(out))}{axis}, too small: reduce padding below {show(pick(p))}. {received(args)}"
            ),
        )
        outs.append(out)
    return axes.wrap(outs)


def _keras_transpose_axis(
    i: Size, k: Size, s: Size, d: Size, op: Size, mode: PaddingMode | None, args: dict[str, Any], axis: str
) -> Size:
    if op is not None:
        keras_output_padding_rule(op, s, args, axis)
    return keras_transpose_count(i, s, kernel_extent(k, d), op, mode)


# --------------------------------------------------------------------------- #
# 'same' padding
# --------------------------------------------------------------------------- #


@exact_arrays
def same_padding(
    size: Sizes,
    kernel_size: Sizes,
    stride: Sizes = 1,
    dilation: Sizes = 1,
    *,
    convention: str = "torch",
) -> Sizes:
    """The ``(before, after)`` padding that ``padding="same"`` applies on each axis.

    Both torch and Keras/TensorFlow put the odd extra pixel at the end
    (right/bottom). torch allows ``"same"`` only at stride 1, where the total is
    ``dilation * (kernel_size - 1)``; Keras pads to ``ceil(size / stride)``
    outputs, so its padding depends on the input size when the stride is > 1.

    >>> same_padding(28, 3)
    (1, 1)
    >>> same_padding(5, 4)
    (1, 2)
    >>> same_padding((7, 6), 3, stride=2, convention="keras")
    ((1, 1), (0, 1))
    >>> same_padding(7, 3, stride=2)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: padding='same' is not supported for strided convolutions in torch (stride=2). Use convention='keras' for TensorFlow's rule. Received: size=7, kernel_size=3, stride=2, dilation=1
    """
    conv = Convention.parse(convention, "convention")
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "dilation": dilation}
    axes = Axes(args)
    pads = []
    for j in range(axes.ndim):
        axis = _axis_name(j, axes.ndim)
        i = integer(axes.values["size"][j], "size", minimum=1, error=ShapeError, symbolic=True)
        k = integer(axes.values["kernel_size"][j], "kernel_size", minimum=1)
        s = integer(axes.values["stride"][j], "stride", minimum=1)
        d = integer(axes.values["dilation"][j], "dilation", minimum=1)
        extent = kernel_extent(k, d)
        if conv is Convention.TORCH:
            torch_same_rule(s, args, axis, lambda pick: ". Use convention='keras' for TensorFlow's rule.")
            total = extent - 1
        else:
            total = same_total(i, s, extent)
        pads.append((total // 2, total - total // 2))
    return axes.wrap(pads)


# --------------------------------------------------------------------------- #
# Adaptive pooling
# --------------------------------------------------------------------------- #


def _adaptive_axes(size: Sizes, output_size: Sizes) -> tuple[Axes, list[int], list[int | None]]:
    args = {"size": size, "output_size": output_size}
    axes = Axes(args)
    sizes = [integer(v, "size", minimum=1, error=ShapeError) for v in axes.values["size"]]
    outs = [None if v is None else integer(v, "output_size", minimum=0) for v in axes.values["output_size"]]
    return axes, sizes, outs


@exact_arrays
def adaptive_pool_output_size(size: Sizes, output_size: Sizes) -> Sizes:
    """Output size of torch's adaptive pooling: the requested size; ``None`` keeps the input's.

    >>> adaptive_pool_output_size((13, 17), (6, None))
    (6, 17)
    >>> adaptive_pool_output_size(5, -1)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: output_size must be at least 0. Received: output_size=-1
    """
    axes, sizes, outs = _adaptive_axes(size, output_size)
    return axes.wrap(i if o is None else o for i, o in zip(sizes, outs, strict=True))


@exact_arrays
def adaptive_pool_windows(size: Sizes, output_size: Sizes) -> Any:
    """The ``[start, end)`` input window of every output position of adaptive pooling.

    ``start = floor(j * I / O)`` and ``end = ceil((j + 1) * I / O)``, as in torch
    (windows may differ in size and overlap). Concrete ints only.

    >>> adaptive_pool_windows(10, 4)
    [(0, 3), (2, 5), (5, 8), (7, 10)]
    >>> adaptive_pool_windows((5, 2), (3, 1))
    ([(0, 2), (1, 4), (3, 5)], [(0, 2)])
    """
    axes, sizes, outs = _adaptive_axes(size, output_size)
    windows = []
    for i, o in zip(sizes, outs, strict=True):
        if type(i) is not int or not (o is None or type(o) is int):
            raise SpecError(f"adaptive pooling windows need concrete int sizes. {received({'size': size})}")
        o = i if o is None else o
        if o > _MAX_WINDOWS:
            raise SpecError(
                f"output_size={show(o)} would list more than {_MAX_WINDOWS:,} windows. {received({'output_size': output_size})}"
            )
        windows.append([((j * i) // o, ceil_div((j + 1) * i, o)) for j in range(o)])
    return axes.wrap(windows)


# --------------------------------------------------------------------------- #
# Upsampling / interpolation
# --------------------------------------------------------------------------- #


def _dyadic(f: float) -> bool:
    """A factor ``p / 2**k`` with a small ``p`` (0.5, 1.5, 0.25, 2.5): its product with a size below 2**40 is exact
    in double precision, so the floor of the rational product is torch's."""
    p, q = f.as_integer_ratio()
    return q & (q - 1) == 0 and p < 2**12 and q <= 2**12


@checked_call
@exact_arrays
def upsample_output_size(
    size: Sizes,
    *,
    output_size: Sizes = None,
    scale_factor: Any = None,
    convention: str = "torch",
    mode: str = "nearest",
) -> Sizes:
    """Output size of ``nn.Upsample`` / ``F.interpolate`` (or Keras ``UpSampling``).

    Exactly one of ``output_size`` and ``scale_factor`` is given. torch computes
    ``floor(size * scale_factor)`` in double precision, so convcalc does too for a
    float factor (``100 * 0.29`` gives 28, as in torch); an int factor is exact.
    Keras takes integer factors only. ``output_size`` may be a symbolic size (one
    computed from the input's), returned as it is. torch's ``mode="area"`` (an adaptive average
    pool) gives an empty axis where the product floors to 0, which every other mode refuses.

    >>> upsample_output_size(7, scale_factor=2.5)
    17
    >>> upsample_output_size(100, scale_factor=0.29)
    28
    >>> upsample_output_size((4, 5), scale_factor=(2, 3), convention="keras")
    (8, 15)
    >>> upsample_output_size(3, scale_factor=0.2)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: output size would be 0 (floor(3 * 0.2)); torch needs at least 1. Received: size=3, output_size=None, scale_factor=0.2
    """
    conv = Convention.parse(convention, "convention")
    args = {"size": size, "output_size": output_size, "scale_factor": scale_factor}
    upsample_arguments(mode, None, {**args, "mode": mode})
    least = 0 if mode == "area" else 1  # the smallest output size torch gives
    if (output_size is None) == (scale_factor is None):
        raise SpecError(f"give exactly one of output_size and scale_factor. {received(args)}")
    if output_size is not None:
        if conv is Convention.KERAS:
            raise SpecError(f"Keras UpSampling takes integer factors (size=...), not an output size. {received(args)}")
        axes = Axes({"size": size, "output_size": output_size})
        for v in axes.values["size"]:
            integer(v, "size", minimum=1, error=ShapeError, symbolic=True)
        # a size computed from the input's (``F.interpolate(x, size=skip.shape[2:])``) is a size too
        return axes.wrap(integer(v, "output_size", minimum=least, symbolic=True) for v in axes.values["output_size"])
    axes = Axes({"size": size, "scale_factor": scale_factor})
    outs = []
    for i_raw, f in zip(axes.values["size"], axes.values["scale_factor"], strict=True):
        i = integer(i_raw, "size", minimum=1, error=ShapeError, symbolic=True)
        if getattr(f, "shape", None) == ():  # a 0-d numpy array: the number it holds, as torch takes it
            f = f.item()
        if (isinstance(f, numbers.Integral) and not isinstance(f, bool)) or conv is Convention.KERAS:  # np.int8 too
            factor = integer(f, "scale_factor", minimum=1)
            outs.append(i * factor)
            continue
        if type(f) is not bool and isinstance(f, numbers.Real) and getattr(f, "ndim", 0) == 0:
            f = float(f)  # a numpy float: as torch takes it
        if type(f) is not float or not math.isfinite(f) or f <= 0:
            raise SpecError(f"scale_factor must be a positive finite number. {received(args)}")
        if type(i) is int:
            if i >= 2**53:
                raise SpecError(
                    f"a float scale_factor is applied in double precision, exact only for sizes below 2**53. {received(args)}"
                )
            product = float(i) * f
            _fits_int64(product, args)
            out: Any = math.floor(product)
        elif is_array(i):
            np = numpy()
            if i.size and int(abs(i).max()) >= 2**53:  # (Python ints, exact_arrays' for sizes this large)
                raise SpecError(
                    f"a float scale_factor is applied in double precision, exact only for sizes below 2**53. {received(args)}"
                )
            products = i.astype(np.float64) * f
            _fits_int64(float(products.max(initial=0.0)), args)
            out = np.floor(products).astype(np.int64)
        elif f.is_integer():  # nn.Upsample(scale_factor=2) keeps 2.0: the product of a whole factor is exact
            out = i * int(f)
        elif _dyadic(f):  # 0.5, 1.5, 0.25: p / 2**k, whose double product with a size is exact
            p, q = f.as_integer_ratio()
            out = (i * p) // q
        else:
            raise SpecError(
                "a float scale_factor is applied in double precision by torch (floor of the rounded product), "
                "which no closed form in a symbol reproduces exactly unless the factor is a few bits over a power "
                "of two (0.5, 1.5, 0.75); use such a factor, an int factor or output_size for symbolic sizes. "
                f"{received(args)}"
            )
        check(
            out >= least,
            lambda pick: (
                f"output size would be 0 (floor({show(pick(i))} * {f})); torch needs at least 1. {received(args)}"
            ),
        )
        outs.append(out)
    return axes.wrap(outs)


def _fits_int64(product: float, args: dict[str, Any]) -> None:
    """torch takes a float scale's output size as an int64 from the double product: a product of 2**63 or more
    (or an infinite one) it refuses."""
    if not product < 2.0**63:
        raise SpecError(
            f"the output size, the product of the size and scale_factor ({product:g}), is past the 2**63 - 1 "
            f"that torch's sizes hold; torch refuses it too. {received(args)}"
        )


# --------------------------------------------------------------------------- #
# im2col
# --------------------------------------------------------------------------- #


def _im2col_dims(
    input_shape: Sizes, kernel_size: Sizes, stride: Sizes, padding: Sizes, dilation: Sizes, layout: Any
) -> tuple[Any, Any, Any, Im2ColLayout]:
    form = Im2ColLayout.parse(layout, "layout")
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str) or len(input_shape) < 3:
        raise ShapeError(
            f"input_shape must be (N, C, *spatial), e.g. (1, 3, 7, 7). {received({'input_shape': input_shape})}"
        )
    if form is Im2ColLayout.UNFOLD and len(input_shape) not in (3, 4):
        raise ShapeError(
            f"torch.nn.Unfold takes a 4-D input (N, C, H, W) or an unbatched 3-D one (C, H, W). "
            f"{received({'input_shape': input_shape})}"
        )
    if form is Im2ColLayout.UNFOLD and len(input_shape) == 3:  # one sample without its batch axis, as torch takes it
        input_shape = (None, *input_shape)
    n = (
        None
        if input_shape[0] is None
        else integer(input_shape[0], "input_shape[0] (batch)", minimum=1, error=ShapeError)
    )
    c = integer(input_shape[1], "input_shape[1] (channels)", minimum=1, error=ShapeError)
    spatial = tuple(input_shape[2:])
    axes = Axes({"kernel_size": kernel_size}, ndim=len(spatial))
    outs = conv_output_size(spatial, kernel_size, stride, padding, dilation)
    # checked by conv_output_size above; as ints (a numpy uint8 kernel would wrap around in the product)
    kernel = math.prod(integer(k, "kernel_size", minimum=1) for k in axes.values["kernel_size"])
    positions = math.prod(outs)
    return n, c * kernel, positions, form


@exact_arrays
def im2col_shape(
    input_shape: Sizes,
    kernel_size: Sizes,
    stride: Sizes = 1,
    padding: Sizes = 0,
    dilation: Sizes = 1,
    *,
    layout: str = "rows",
) -> tuple[Any, ...]:
    """Shape of the column matrix that im2col builds for a convolution.

    ``layout="rows"`` is the textbook/Caffe matrix ``(N * out positions, C * kernel)``;
    ``layout="unfold"`` is ``torch.nn.Unfold``'s ``(N, C * kernel, out positions)``. ``input_shape`` is
    ``(N, C, *spatial)``: a 3-tuple is a 1-D input ``(N, C, L)`` in rows, and an unbatched image ``(C, H, W)``
    with ``layout="unfold"`` only, as ``torch.nn.Unfold`` (2-D alone) takes it; give an image as ``(1, C, H, W)``.

    >>> im2col_shape((1, 3, 7, 7), 5)
    (9, 75)
    >>> im2col_shape((10, 3, 7, 7), 5)
    (90, 75)
    >>> im2col_shape((1, 3, 10, 12), 3, stride=2, padding=1, layout="unfold")
    (1, 27, 30)
    >>> im2col_shape((3, 10, 12), 3, stride=2, padding=1, layout="unfold")  # unbatched (C, H, W), as torch takes it
    (27, 30)
    >>> im2col_shape((3, 7, 7), 5), im2col_shape((1, 3, 7, 7), 5)  # (N, C, L) = (3, 7, 7): 1-D; an image
    ((9, 35), (9, 75))
    >>> im2col_shape((1, 3, 4, 4), 5)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: kernel_size=5 is larger than the padded input 4 + 2*0 = 4 on axis 0. An input of at least 5 fits, or padding >= 1. Received: size=(4, 4), kernel_size=5, stride=1, padding=0, dilation=1
    """
    n, cols, positions, form = _im2col_dims(input_shape, kernel_size, stride, padding, dilation, layout)
    if form is Im2ColLayout.UNFOLD:
        return (cols, positions) if n is None else (n, cols, positions)
    return (n * positions, cols)


@exact_arrays
def im2col_memory(
    input_shape: Sizes,
    kernel_size: Sizes,
    stride: Sizes = 1,
    padding: Sizes = 0,
    dilation: Sizes = 1,
    *,
    itemsize: int = 4,
) -> Any:
    """Bytes of the im2col matrix (``itemsize`` bytes per element; 4 for float32).

    >>> im2col_memory((10, 3, 7, 7), 5)
    27000
    """
    size = integer(itemsize, "itemsize", minimum=1)
    n, cols, positions, _ = _im2col_dims(input_shape, kernel_size, stride, padding, dilation, "rows")
    return n * positions * cols * size
