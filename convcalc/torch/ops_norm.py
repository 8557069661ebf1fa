"""fx handlers for the normalisations and channel-wise functions torch checks against the input (``F.layer_norm``,
``F.group_norm``, ``F.batch_norm``, ``F.instance_norm``, ``F.prelu``, ``F.channel_shuffle``), and the same checks
for the torch layers convcalc plans as shape-keeping (``PReLU``, ``ChannelShuffle``, ``InstanceNorm1d/3d``,
``RMSNorm``): each keeps the shape, and raises (or records a condition on the sizes) where torch raises."""

from __future__ import annotations

from typing import Any

from convcalc._types import Shape
from convcalc.torch.values import _bind, _Call, _handles, _is_int, _prod, _Tensor, _tensor_arg


def _received(call: _Call, shape: Shape) -> str:
    return f"Received: input_shape={tuple(shape)}"


def trailing_dims(call: _Call, shape: Shape, normalized: tuple[Any, ...], name: str) -> None:
    """The input's last dims are ``normalized`` (layer_norm, rms_norm)."""
    n = len(normalized)
    if n > len(shape):
        raise call.shape_error(f"{name}={tuple(normalized)} has more dims than the input", shape)
    for j, want in enumerate(normalized):
        axis = len(shape) - n + j
        call.require_equal(
            shape[axis],
            want,
            axis,
            lambda: (
                f"{call.where}: {name}={tuple(normalized)} must match the last dims of the input {tuple(shape)}: "
                f"use {name}={tuple(shape[len(shape) - n :])}. {_received(call, shape)}"
            ),
        )


def channels(call: _Call, shape: Shape, want: Any, what: str, axis: int = 1) -> None:
    """The input's channel axis (1, or 0 for an unbatched input) holds ``want`` channels (a weight, a running mean,
    ``num_features``)."""
    if len(shape) <= axis:
        raise call.shape_error(f"expects an input (N, C, ...) for {what}", shape)
    call.require_equal(
        shape[axis],
        want,
        axis,
        lambda: (
            f"{call.where}: {what} is for {want} channels but the input has {shape[axis]}: use {shape[axis]}. "
            f"{_received(call, shape)}"
        ),
    )


def divides_channels(call: _Call, shape: Shape, groups: Any, name: str) -> None:
    """The input's channels split into ``groups`` (group_norm, channel_shuffle)."""
    if len(shape) < 2 or not _is_int(groups) or groups < 1:
        raise call.spec_error(f"expects an input (N, C, ...) and a positive int {name}", **{name: groups})
    c = shape[1]

    def message() -> str:
        return f"{call.where}: {c} channels do not split into {name}={groups}. {_received(call, shape)}"

    if type(c) is int:
        if c % groups:
            from convcalc._errors import ShapeError

            raise ShapeError(message())
        return
    call.ctx.divides(c, groups, call.name, 1, message, f"{name}={groups} divides the channels")


def more_than_one(call: _Call, shape: Shape, axes: tuple[int, ...], what: str) -> None:
    """torch's statistics over ``axes`` need two values or more ("Expected more than 1 ... when training")."""
    call.require_at_least(
        _prod(shape[j] for j in axes),
        2,
        axes[-1] if axes else 0,
        lambda: (
            f"{call.where}: expects more than 1 {what} (torch's check when it computes statistics). "
            f"{_received(call, shape)}"
        ),
        f"more than 1 {what}",
    )


def _weight_size(value: Any) -> Any:
    return value.shape[0] if isinstance(value, _Tensor) and len(value.shape) == 1 else None


@_handles("layer_norm", "rms_norm")
def _layer_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "normalized_shape", "weight", "bias"), {"weight": None, "bias": None})
    t = _tensor_arg(call, bound["input"])
    normalized = bound["normalized_shape"]
    normalized = tuple(normalized) if isinstance(normalized, (tuple, list)) else (normalized,)
    trailing_dims(call, t.shape, normalized, "normalized_shape")
    for name in ("weight", "bias"):
        w = bound[name]
        if isinstance(w, _Tensor):
            trailing_dims(call, w.shape, normalized, "normalized_shape")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("group_norm")
def _group_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "num_groups", "weight", "bias"), {"weight": None, "bias": None})
    t = _tensor_arg(call, bound["input"])
    divides_channels(call, t.shape, bound["num_groups"], "num_groups")
    for name in ("weight", "bias"):
        if (size := _weight_size(bound[name])) is not None:
            channels(call, t.shape, size, name)
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("batch_norm")
def _batch_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    names = ("input", "running_mean", "running_var", "weight", "bias", "training")
    bound = _bind(call, args, kwargs, names, {"weight": None, "bias": None, "training": False})
    t = _tensor_arg(call, bound["input"])
    for name in names[1:5]:
        if (size := _weight_size(bound[name])) is not None:
            channels(call, t.shape, size, name)
    if bound["training"] is True:
        more_than_one(call, t.shape, (0, *range(2, len(t.shape))), "value per channel")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("instance_norm")
def _instance_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    names = ("input", "running_mean", "running_var", "weight", "bias", "use_input_stats")
    defaults = {"running_mean": None, "running_var": None, "weight": None, "bias": None, "use_input_stats": True}
    bound = _bind(call, args, kwargs, names, defaults)
    t = _tensor_arg(call, bound["input"])
    for name in names[1:5]:
        if (size := _weight_size(bound[name])) is not None:
            channels(call, t.shape, size, name)
    if bound["use_input_stats"] is not False:
        more_than_one(call, t.shape, tuple(range(2, len(t.shape))), "spatial element")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("prelu")
def _prelu(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "weight"), {})
    t = _tensor_arg(call, bound["input"])
    w = bound["weight"]
    if isinstance(w, _Tensor):
        prelu_weights(call, t.shape, _prod(w.shape))
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


def prelu_weights(call: _Call, shape: Shape, count: Any) -> None:
    """One weight, or one per channel (axis 1; torch: Mismatch of parameter numbers and input channel size)."""
    if count != 1:
        channels(call, shape, count, "the PReLU weight")


@_handles("channel_shuffle", "native_channel_shuffle")
def _channel_shuffle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "groups"), {})
    t = _tensor_arg(call, bound["input"])
    divides_channels(call, t.shape, bound["groups"], "groups")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


def dim_in_range(call: _Call, shape: Shape, dim: Any) -> None:
    """``dim`` names an axis of the input (torch: Dimension out of range)."""
    rank = max(len(shape), 1)
    if dim is not None and (not _is_int(dim) or not -rank <= dim < rank):
        raise call.shape_error(
            f"dim={dim} is out of range for a {len(shape)}-D input: use a dim from {-rank} to {rank - 1}", shape
        )


@_handles("softmax", "log_softmax", "softmin", "normalize")
def _along_dim(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    names = ("input", "p", "dim") if call.kind == "normalize" else ("input", "dim")
    bound = _bind(call, args, kwargs, names, {"p": 2.0, "dim": 1 if call.kind == "normalize" else None})
    t = _tensor_arg(call, bound["input"])
    dim_in_range(call, t.shape, bound["dim"])
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


def module_checks(call: _Call, kind: str, arguments: dict[str, Any], shape: Shape) -> None:
    """torch's checks of a shape-keeping layer against its input, by the layer's class name and arguments."""
    if kind in ("LogSoftmax", "Softmin"):
        dim_in_range(call, shape, arguments.get("dim"))
    elif kind == "Softmax2d" and len(shape) not in (3, 4):  # torch: Softmax2d: expected input to be 3D or 4D
        raise call.shape_error("expects a 3-D or 4-D input", shape)
    elif kind in ("LocalResponseNorm", "CrossMapLRN2d") and len(shape) < 3:
        raise call.shape_error("expects an input of 3 or more dims (N, C, ...)", shape)
    elif kind == "PReLU":
        prelu_weights(call, shape, arguments.get("num_parameters", 1))
    elif kind == "ChannelShuffle":
        divides_channels(call, shape, arguments.get("groups"), "groups")
    elif kind == "RMSNorm" and arguments.get("normalized_shape") is not None:
        normalized = arguments["normalized_shape"]
        trailing_dims(
            call, shape, tuple(normalized) if isinstance(normalized, tuple) else (normalized,), "normalized_shape"
        )
    elif kind in ("InstanceNorm1d", "InstanceNorm3d"):
        spatial = 1 if kind == "InstanceNorm1d" else 3
        if len(shape) not in (spatial + 1, spatial + 2):
            raise call.shape_error(f"expects a {spatial + 2}-D input or an unbatched {spatial + 1}-D one", shape)
        if arguments.get("affine") or arguments.get("track_running_stats"):
            channels(call, shape, arguments.get("num_features"), "num_features", len(shape) - spatial - 1)
        if not arguments.get("track_running_stats"):
            more_than_one(call, shape, tuple(range(len(shape) - spatial, len(shape))), "spatial element")
