"""Node handlers of convolution and pooling: ``pads``, ``auto_pad``, ``ceil_mode``, ``output_shape``."""

from __future__ import annotations

from typing import Any

from convcalc._plan import rf_update
from convcalc.formulas import ceil_div, kernel_extent, same_total
from convcalc.onnx_reader._graph import _K, _T, _Call, _handles
from convcalc.onnx_reader._values import _prod, _tensor
from convcalc.params import conv_params, conv_transpose_params


def _spatial(call: _Call, x: _T, minimum: int = 3, empty: bool = False) -> None:
    """A batch, a channel and spatial axes; none of them empty unless ``empty`` (ONNX Runtime's convolutions and
    pools take a zero batch only: "Invalid input shape. Only N can be zero"; a transposed convolution takes one)."""
    if len(x.shape) < minimum:
        raise call.shape_error(
            f"needs a batch, channel and spatial axes ({minimum}-D or more), got {len(x.shape)}-D", x.shape
        )
    if not empty:
        for j, i in enumerate(x.shape[2:]):
            call.at_least(
                i,
                1,
                j,
                f"spatial axis {j} of the input is empty (size {i}); ONNX Runtime takes only a zero batch as an "
                f"empty input here: crop less before this node",
                "input not empty",
                x.shape,
            )


def _one_of(values: list[int]) -> str:
    """``[1, 2, 4]`` -> ``"1, 2 or 4"``."""
    return str(values[0]) if len(values) == 1 else f"{', '.join(map(str, values[:-1]))} or {values[-1]}"


def _window_geometry(call: _Call, x: _T, kernel: tuple[int, ...], transpose: bool = False) -> Any:
    """Strides, dilations and (begin, end) pads per axis from the node's attributes (auto_pad resolved)."""
    node = call.node
    nd = len(x.shape) - 2
    if len(kernel) != nd:
        raise call.spec_error(f"kernel_shape has {len(kernel)} values for {nd} spatial axes", kernel_shape=kernel)
    strides = tuple(node.attr("strides") or (1,) * nd)
    dilations = tuple(node.attr("dilations") or (1,) * nd)
    pads = tuple(node.attr("pads") or (0,) * (2 * nd))
    auto_pad = node.attr("auto_pad", "NOTSET") or "NOTSET"
    for name, value, count in (("strides", strides, nd), ("dilations", dilations, nd), ("pads", pads, 2 * nd)):
        if len(value) != count:
            raise call.spec_error(f"{name} needs {count} values for {nd} spatial axes", **{name: value})
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(k < 1 for k in kernel):
        raise call.spec_error(
            "strides, dilations and kernel_shape must be positive",
            strides=strides,
            dilations=dilations,
            kernel_shape=kernel,
        )
    if any(p < 0 for p in pads):
        raise call.spec_error("pads must not be negative (ONNX Runtime refuses them)", pads=pads)
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise call.spec_error("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID", auto_pad=auto_pad)
    return strides, dilations, pads[:nd], pads[nd:], auto_pad


# --------------------------------------------------------------------------- #
# convolution and pooling
# --------------------------------------------------------------------------- #


def _same_pads(i: Any, s: int, extent: int, upper: bool) -> tuple[Any, tuple[Any, Any]]:
    """``(out, begin, end)`` of ``auto_pad`` SAME: ``out = ceil(i / s)``, the odd pixel at the end (UPPER)."""
    out = ceil_div(i, s)
    if type(i) is int:
        total = same_total(i, s, extent)
        small, big = total // 2, total - total // 2
        return out, (small, big) if upper else (big, small)
    if s == 1:
        total = extent - 1
        small, big = total // 2, total - total // 2
        return out, (small, big) if upper else (big, small)
    return out, (None, None)


def _sliding(
    call: _Call, x: _T, kernel: tuple[int, ...], *, ceil_mode: bool = False, pool: bool = False
) -> tuple[list[Any], Any]:
    """The output sizes and receptive field of a window sliding over ``x``; a ``pool``'s explicit pads must be
    smaller than its kernel on each axis, as ONNX Runtime's pools require."""
    strides, dilations, begins, ends, auto_pad = _window_geometry(call, x, kernel)
    if pool and auto_pad == "NOTSET":
        for j, (k, b, e) in enumerate(zip(kernel, begins, ends, strict=True)):
            if b >= k or e >= k:
                raise call.spec_error(
                    f"pads must be smaller than the kernel on each axis, as ONNX Runtime's pools require: spatial "
                    f"axis {j} has kernel {k}, pads {b}+{e}",
                    kernel_shape=kernel,
                    pads=tuple(call.node.attr("pads")),
                )
    spatial: list[Any] = []
    rf_begins: list[Any] = []
    for j, (i, k, s, d, pb, pe) in enumerate(zip(x.shape[2:], kernel, strides, dilations, begins, ends, strict=True)):
        extent = kernel_extent(k, d)
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out, (b, _) = _same_pads(i, s, extent, auto_pad == "SAME_UPPER")
            spatial.append(out)
            rf_begins.append(b)
            continue
        if auto_pad == "VALID":
            pb = pe = 0
        span = i + pb + pe - extent
        if ceil_mode:
            out = (span + s - 1) // s + 1
            if type(out) is int:
                if (out - 1) * s >= i + pb:
                    out -= 1
            elif not (type(pe) is int and s + pe <= extent):  # the last window starts before the end pads
                from convcalc._backend import smin

                out = smin(out - 1, (i + pb - 1) // s) + 1
        else:
            out = span // s + 1
        call.at_least(
            span if not ceil_mode else out - 1,
            0,
            j,
            f"window {extent} (kernel {k}, dilation {d}) does not fit spatial axis {j} of size {i} with pads "
            f"{pb}+{pe}: give an input of at least {max(extent - pb - pe, 1)}",
            f"window {extent} fits the padded input",
            x.shape,
        )
        spatial.append(out)
        rf_begins.append(pb)
    extents = [kernel_extent(k, d) for k, d in zip(kernel, dilations, strict=True)]
    known = all(type(p) is int for p in rf_begins)
    return spatial, rf_update(x.rf, tuple(extents), strides, tuple(rf_begins) if known else None)


def _kernel(call: _Call, weight: tuple[Any, ...]) -> tuple[Any, ...]:
    """The kernel: the weight's spatial shape, which a ``kernel_shape`` attribute, where given, must repeat."""
    given = call.node.attr("kernel_shape")
    if given and tuple(given) != tuple(weight[2:]) and all(type(d) is int for d in weight[2:]):
        raise call.spec_error(
            f"kernel_shape must be the weight's spatial shape {tuple(weight[2:])} (weight {tuple(weight)})",
            kernel_shape=tuple(given),
        )
    return tuple(given or weight[2:])


@_handles("Conv")
def _conv(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    w = args[1]
    if not isinstance(w, (_K, _T)) or len(w.shape) != len(x.shape):
        raise call.spec_error("the weight must have the input's rank", weight=getattr(w, "shape", None))
    groups = call.node.attr("group", 1)
    cout, cin_g = w.shape[0], w.shape[1]
    kernel = _kernel(call, w.shape)
    if type(groups) is not int or groups < 1 or cout % groups:
        raise call.spec_error("group must divide the weight's output channels", group=groups, weight=w.shape)
    call.equal(
        x.shape[1],
        cin_g * groups,
        1,
        f"weight {w.shape} with group={groups} needs {cin_g * groups} input channels, got {x.shape[1]}",
        x.shape,
    )
    _, dilations, _, _, auto_pad = _window_geometry(call, x, kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and any(d != 1 for d in dilations):
        raise call.spec_error(
            f"ONNX Runtime's Conv refuses dilations with auto_pad {auto_pad} (Dilation not supported for "
            "AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER): use dilations of 1, or auto_pad NOTSET with "
            "explicit pads",
            auto_pad=auto_pad,
            dilations=dilations,
        )
    spatial, rf = _sliding(call, x, kernel)
    out = _T((x.shape[0], cout, *spatial), rf)
    weights = conv_params(cin_g * groups, cout, kernel, groups=groups, bias=False)
    positions = _prod(spatial)
    bias = _bias(call, args, cout)
    return call.row(x.shape, out, macs=positions * weights, bias_adds=positions * cout if bias else 0)


def _bias(call: _Call, args: list[Any], channels: Any) -> bool:
    """Whether a convolution has its bias ``B`` (its third input), which holds one value per output channel, as
    ONNX Runtime requires of it."""
    if len(args) < 3 or args[2] is None:
        return False
    shape = tuple(getattr(args[2], "shape", ()))
    if len(shape) != 1 or (type(shape[0]) is int and type(channels) is int and shape[0] != channels):
        raise call.spec_error(
            f"the bias B must hold one value per output channel, a shape of ({channels},), as ONNX Runtime requires",
            B=shape,
        )
    return True


def _transpose_same(call: _Call, i: Any, s: int, extent: Any, o: int, axis: int) -> Any:
    """ONNX Runtime's ``auto_pad`` SAME of a transposed convolution: it pads the full output ``s * (i - 1) + o +
    extent`` down to ``i * s``, and where the full output is smaller (``o + extent < s``, a kernel smaller than the
    stride) it pads by 0 and keeps the full output: the smaller of the two."""
    spare = o + extent - s  # the full output less i * s, the same for every input size
    if type(spare) is not int:
        raise call.spec_error(
            f"auto_pad SAME on spatial axis {axis} needs a number for the kernel extent, to tell i * {s} from the "
            f"full output; give the weight a numeric spatial shape",
            kernel_extent=extent,
        )
    return i * s if spare >= 0 else i * s + spare


@_handles("ConvTranspose")
def _conv_transpose(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x, empty=True)
    w = args[1]
    node = call.node
    groups = node.attr("group", 1)
    cin, cout_g = w.shape[0], w.shape[1]
    kernel = _kernel(call, w.shape)
    if type(groups) is not int or groups < 1 or cin % groups:
        raise call.spec_error(
            f"group must divide the input channels C={cin} (the weight's first axis), as ONNX requires: use a group "
            f"of {_one_of([g for g in range(1, cin + 1) if cin % g == 0])}",
            group=groups,
            weight=w.shape,
        )
    call.equal(x.shape[1], cin, 1, f"weight {w.shape} needs {cin} input channels, got {x.shape[1]}", x.shape)
    strides, dilations, begins, ends, auto_pad = _window_geometry(call, x, kernel)
    nd = len(kernel)
    op = tuple(node.attr("output_padding") or (0,) * nd)
    if len(op) != nd:
        raise call.spec_error(f"output_padding needs {nd} values for {nd} spatial axes", output_padding=op)
    for j, (o, s) in enumerate(zip(op, strides, strict=True)):
        if not 0 <= o < s:
            raise call.spec_error(
                f"output_padding on spatial axis {j} must lie in [0, {s - 1}] (below the stride {s}), as ONNX "
                f"Runtime requires",
                output_padding=op,
                strides=strides,
            )
    output_shape = node.attr("output_shape")
    if output_shape and len(output_shape) != nd:
        raise call.spec_error(
            f"output_shape needs {nd} values, the spatial sizes only (ONNX Runtime refuses the batch and channels "
            f"there)",
            output_shape=tuple(output_shape),
        )
    spatial: list[Any] = []
    for j, (i, k, s, d, pb, pe, o) in enumerate(
        zip(x.shape[2:], kernel, strides, dilations, begins, ends, op, strict=True)
    ):
        extent = kernel_extent(k, d)
        if output_shape:
            target = tuple(output_shape)[-nd:][j]
            # ONNX Runtime takes an output_shape up to stride - 1 past the full output (output_padding aside): the
            # excess is padded at the end, as output_padding would be
            total = s * (i - 1) + extent + s - 1 - target
            call.at_least(
                total,
                0,
                j,
                f"output_shape {target} is larger than the full output plus stride - 1 (the largest ONNX Runtime "
                f"takes) on spatial axis {j}",
                "output_shape fits",
                x.shape,
            )
            spatial.append(target)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            spatial.append(_transpose_same(call, i, s, extent, o, j))
        else:
            if auto_pad == "VALID":
                pb = pe = 0
            out = s * (i - 1) + o + extent - pb - pe
            call.at_least(
                out, 1, j, f"output size would be {out} on spatial axis {j}; reduce pads", "output at least 1", x.shape
            )
            spatial.append(out)
    out_t = _T((x.shape[0], cout_g * groups, *spatial))
    weights = conv_transpose_params(cin, cout_g * groups, kernel, groups=groups, bias=False)
    bias = _bias(call, args, cout_g * groups)
    return call.row(
        x.shape, out_t, macs=_prod(x.shape[2:]) * weights, bias_adds=_prod(spatial) * cout_g * groups if bias else 0
    )


@_handles("MaxPool", "AveragePool", "LpPool")
def _pool(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    kernel = tuple(call.node.attr("kernel_shape") or ())
    if not kernel:
        raise call.spec_error("kernel_shape is required", kernel_shape=None)
    ceil_mode = bool(call.node.attr("ceil_mode", 0))
    if call.node.op == "MaxPool" and len(call.node.outputs) > 1 and call.node.outputs[1]:
        pass  # the indices output has the same shape
    spatial, rf = _sliding(call, x, kernel, ceil_mode=ceil_mode, pool=True)
    out = _T((x.shape[0], x.shape[1], *spatial), rf)
    call.row(x.shape, out)
    return [out, _T(out.shape)]


@_handles("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(call: _Call, args: list[Any]) -> Any:
    x = _tensor(call, args[0])
    _spatial(call, x)
    return call.row(x.shape, _T((x.shape[0], x.shape[1], *(1 for _ in x.shape[2:]))))
