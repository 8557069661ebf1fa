"""fx handlers for the normalisations and channel-wise functions torch checks against the input (``F.layer_norm``,
``F.group_norm``, ``F.batch_norm``, ``F.instance_norm`` and torch's own forms of them, ``F.prelu``,
``F.channel_shuffle``, softmax and its kin), and the same checks for the torch layers convcalc plans as
shape-keeping (``PReLU``, ``ChannelShuffle``, ``InstanceNorm1d/3d``, ``RMSNorm``, ``CrossMapLRN2d``...): each keeps
the shape, and raises (or records a condition on the sizes) where torch raises."""

from __future__ import annotations

from typing import Any

from convcalc._errors import ShapeError
from convcalc._plan import across_rf
from convcalc._types import Shape
from convcalc.nn.elementwise import softmax_dim
from convcalc.nn.norm import statistics_not_one
from convcalc.torch.values import _bind, _Call, _describe_value, _handles, _is_int, _prod, _Tensor, _tensor_arg


def _received(call: _Call, shape: Shape) -> str:
    return f"Received: input_shape={tuple(shape)}"


def trailing_dims(call: _Call, shape: Shape, normalized: tuple[Any, ...], name: str) -> None:
    """The input's last dims are ``normalized`` (layer_norm, rms_norm), one dim or more."""
    n = len(normalized)
    if not n:  # torch: Expected normalized_shape to be at least 1-dimensional
        raise call.spec_error(f"expects {name} of one size or more: use {name}={tuple(shape[-1:])}", **{name: ()})
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
            raise ShapeError(message())
        return
    call.ctx.divides(c, groups, call.name, 1, message, f"{name}={groups} divides the channels")


def more_than_one(call: _Call, shape: Shape, axes: tuple[int, ...], what: str, groups: Any = 1) -> None:
    """torch's statistics over ``axes``, split into ``groups``, need two values or more, or none ("Expected more
    than 1 ... when training" is raised for exactly one; an empty input gives an empty output)."""
    statistics_not_one(
        call.ctx,
        _prod(shape[j] for j in axes) // groups,
        call.name,
        axes[-1] if axes else 0,
        lambda: (
            f"{call.where}: expects more than 1 {what}, or none (torch's check when it computes statistics). "
            f"{_received(call, shape)}"
        ),
        f"more than 1 {what}",
    )


def dims_at_least(call: _Call, shape: Shape, rank: int) -> None:
    """The input has ``rank`` dims or more, channels on axis 1 (torch: Dimension out of range, or its own words)."""
    if len(shape) < rank:
        raise call.shape_error(f"expects an input of {rank} or more dims (N, C, ...)", shape)


def vector(call: _Call, shape: Shape, value: _Tensor, name: str, ranks: tuple[int, ...]) -> None:
    """A tensor of one value per channel (or, for a scalar, one for all) has one of ``ranks`` dims (torch: Expected
    weight to be a vector, Expected `weight` to be a scalar or 1D tensor, TensorAccessor expected 1 dims)."""
    if len(value.shape) not in ranks:
        what = "a vector" if ranks == (1,) else "a vector or a scalar"
        c = shape[1] if len(shape) > 1 else 1
        raise ShapeError(
            f"{call.where}: {name} must be {what} of one value per channel: use a {name} of shape ({c},). "
            f"Received: {name}_shape={tuple(value.shape)}"
        )


def per_channel(call: _Call, shape: Shape, value: Any, name: str, ranks: tuple[int, ...] | None = (1,)) -> None:
    """``value`` (a weight, a bias, a running statistic; None is none) holds one value per channel: torch counts
    its elements, in a tensor of one of ``ranks`` dims (None: any, as for batch_norm's weight and bias)."""
    if isinstance(value, _Tensor):
        if ranks is not None:
            vector(call, shape, value, name, ranks)
        channels(call, shape, _prod(value.shape), name)


def paired_statistics(call: _Call, bound: dict[str, Any], flag: str) -> None:
    """running_mean and running_var come both or neither, and both where ``flag`` (training, use_input_stats) is
    False (torch: running_mean and running_var must either both be None or neither be None; running_mean must be
    defined in evaluation mode). A ShapeError, not a SpecError: torch on meta tensors, where a SpecError sends
    the call, takes one without the other."""
    mean, var = bound["running_mean"], bound["running_var"]
    if (mean is None) != (var is None) or (mean is None and bound[flag] is False):
        raise ShapeError(
            f"{call.where}: expects running_mean and running_var both, or neither with {flag}=True (the input's "
            f"own statistics). Received: running_mean={_shown(mean)}, running_var={_shown(var)}, {flag}={bound[flag]}"
        )


def _shown(value: Any) -> str:
    return "None" if value is None else _describe_value(value)


def affine_shape(call: _Call, shape: Shape, value: Any, normalized: tuple[Any, ...], name: str) -> None:
    """A layer_norm weight or bias (None is none) has the shape ``normalized`` (torch: Expected weight to be of
    same shape as normalized_shape); ``shape`` is the input's, whose last dims those are."""
    if not isinstance(value, _Tensor):
        return

    def message() -> str:
        return (
            f"{call.where}: {name} must have the shape normalized_shape={normalized}. "
            f"Received: {name}_shape={tuple(value.shape)}"
        )

    if len(value.shape) != len(normalized):
        raise ShapeError(message())
    for j, (have, want) in enumerate(zip(value.shape, normalized, strict=True)):
        call.require_equal(have, want, len(shape) - len(normalized) + j, message)


@_handles("layer_norm", "rms_norm")
def _layer_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "normalized_shape", "weight", "bias"), {"weight": None, "bias": None})
    t = _tensor_arg(call, bound["input"])
    normalized = bound["normalized_shape"]
    if not isinstance(normalized, (tuple, list)):  # torch: must be tuple of ints, not int (nn.LayerNorm takes one)
        raise call.spec_error(
            f"expects normalized_shape as a tuple or list: use normalized_shape=({normalized},)",
            normalized_shape=normalized,
        )
    normalized = tuple(normalized)
    trailing_dims(call, t.shape, normalized, "normalized_shape")
    for name in ("weight", "bias"):
        affine_shape(call, t.shape, bound[name], normalized, name)
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("group_norm")
def _group_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    names = ("input", "num_groups", "weight", "bias", "eps", *(() if call.functional else ("cudnn_enabled",)))
    bound = _bind(call, args, kwargs, names, {"weight": None, "bias": None, "eps": 1e-5, "cudnn_enabled": True})
    t = _tensor_arg(call, bound["input"])
    groups = bound["num_groups"]
    divides_channels(call, t.shape, groups, "num_groups")
    for name in ("weight", "bias"):
        per_channel(call, t.shape, bound[name], name)
    if call.functional:  # F.group_norm checks the size of its statistics, torch.group_norm does not
        more_than_one(call, t.shape, tuple(range(len(t.shape))), "value per group", groups)
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


def _bind_statistics(
    call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any], flag: str
) -> tuple[_Tensor, dict[str, Any]]:
    """The input and the arguments of F.batch_norm or F.instance_norm (``flag``: training, use_input_stats), or of
    torch's own form, which takes nine, the weight first, and alone has ``cudnn_enabled``."""
    if not call.functional:
        extra = (flag, "momentum", "eps", "cudnn_enabled")
        bound = _bind(call, args, kwargs, ("input", "weight", "bias", "running_mean", "running_var", *extra), {})
    else:  # F's defaults: training=False, use_input_stats=True
        defaults = {"running_mean": None, "running_var": None, "weight": None, "bias": None}
        names = ("input", "running_mean", "running_var", "weight", "bias", flag)
        bound = _bind(call, args, kwargs, names, {**defaults, flag: flag == "use_input_stats"})
    t = _tensor_arg(call, bound["input"])
    dims_at_least(call, t.shape, 2)
    paired_statistics(call, bound, flag)
    return t, bound


@_handles("batch_norm")
def _batch_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t, bound = _bind_statistics(call, args, kwargs, "training")
    for name in ("running_mean", "running_var"):
        per_channel(call, t.shape, bound[name], name)
    for name in ("weight", "bias"):
        per_channel(call, t.shape, bound[name], name, None)  # torch counts their elements, in any shape
    if call.functional and bound["training"] is True:  # F's checks the size of the statistics it computes
        more_than_one(call, t.shape, (0, *range(2, len(t.shape))), "value per channel")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("instance_norm")
def _instance_norm(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t, bound = _bind_statistics(call, args, kwargs, "use_input_stats")
    for name in ("weight", "bias"):
        per_channel(call, t.shape, bound[name], name, (0, 1))  # torch repeats each once per sample
    # the running ones too, and copies the statistics it computes back into them: vectors then
    ranks = (0, 1) if bound["use_input_stats"] is False else (1,)
    for name in ("running_mean", "running_var"):
        per_channel(call, t.shape, bound[name], name, ranks)
    if call.functional and bound["use_input_stats"] is not False:
        more_than_one(call, t.shape, tuple(range(2, len(t.shape))), "spatial element")
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


@_handles("prelu")
def _prelu(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "weight"), {})
    t = _tensor_arg(call, bound["input"])
    w = bound["weight"]
    if isinstance(w, _Tensor):
        vector(call, t.shape, w, "weight", (0, 1))
        prelu_weights(call, t.shape, _prod(w.shape))
    return call.row(t.shape, _Tensor(t.shape, t.rf, t.const))


def prelu_weights(call: _Call, shape: Shape, count: Any) -> None:
    """One weight, or one per channel (axis 1; torch: Mismatch of parameter numbers and input channel size)."""
    if count != 1:
        channels(call, shape, count, "the PReLU weight")


def shuffles(call: _Call, shape: Shape, groups: Any) -> None:
    """channel_shuffle's input has 3 dims or more (torch: channel_shuffle expects input with > 2 dims), and its
    channels split into ``groups``."""
    dims_at_least(call, shape, 3)
    divides_channels(call, shape, groups, "groups")


@_handles("channel_shuffle", "native_channel_shuffle")
def _channel_shuffle(call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = _bind(call, args, kwargs, ("input", "groups"), {})
    t = _tensor_arg(call, bound["input"])
    shuffles(call, t.shape, bound["groups"])
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
    if call.kind == "normalize":
        bound = _bind(call, args, kwargs, ("input", "p", "dim"), {"p": 2.0, "dim": 1})
    else:  # the dim has no default: x.softmax() and torch.softmax(x) need one
        bound = _bind(call, args, kwargs, ("input", "dim", "dtype"), {"dtype": None})
    t = _tensor_arg(call, bound["input"])
    # F.softmax(x) (fx records its _stacklevel) picks a dim itself (torch warns); the other forms take only an int
    if bound["dim"] is None and call.kind != "normalize" and "_stacklevel" not in kwargs:
        raise call.spec_error(f"expects an int dim: only F.{call.kind} picks one itself", dim=None)
    dim_in_range(call, t.shape, bound["dim"])
    # each output reads the whole of its dim (F.softmax's own pick without one)
    rf = across_rf(t.rf, len(t.shape), (softmax_dim(bound["dim"], len(t.shape)),)) if t.shape else t.rf
    return call.row(t.shape, _Tensor(t.shape, rf, t.const))


# the dropouts that drop whole channels, where torch draws one value per channel (training with 0 < p < 1, an
# input with elements): the fewest dims each takes then (dropout3d adds a batch axis to an input of other than 5)
FEATURE_DROPOUTS = {"dropout2d": 2, "dropout3d": 1, "feature_alpha_dropout": 2}
# the layers that call them, by class name
_FEATURE_DROPOUT_LAYERS = {
    "Dropout2d": "dropout2d",
    "Dropout3d": "dropout3d",
    "FeatureAlphaDropout": "feature_alpha_dropout",
}


def drops_channels(call: _Call, kind: str, shape: Shape, p: Any, training: Any) -> None:
    """A dropout of whole channels (``kind`` one of :data:`FEATURE_DROPOUTS`) in training, with ``0 < p < 1``, takes
    an input of its fewest dims or more, unless the input has no elements (torch: Feature dropout requires at least
    2 dimensions in the input)."""
    fewest = FEATURE_DROPOUTS.get(kind, 0)
    number = isinstance(p, (int, float))
    if training is True and number and 0 < p < 1 and len(shape) < fewest and 0 not in shape:
        raise call.shape_error(f"drops whole channels in training: expects an input of {fewest} or more dims", shape)


def gelu_approximation(call: _Call, approximate: Any) -> None:
    """GELU's ``approximate`` is ``'none'`` or ``'tanh'`` (torch: approximate argument must be either none or tanh;
    ``nn.GELU`` takes any at construction and refuses at its first call)."""
    if approximate not in ("none", "tanh"):
        raise call.spec_error("approximate must be 'none' or 'tanh'", approximate=approximate)


def module_checks(call: _Call, kind: str, arguments: dict[str, Any], shape: Shape) -> None:
    """torch's checks of a shape-keeping layer against its input, by the layer's class name and arguments (a
    dropout's ``training`` among them: the module's mode)."""
    if kind in _FEATURE_DROPOUT_LAYERS:
        drops_channels(call, _FEATURE_DROPOUT_LAYERS[kind], shape, arguments.get("p", 0.5), arguments.get("training"))
    elif kind == "GELU":
        gelu_approximation(call, arguments.get("approximate", "none"))
    elif kind in ("LogSoftmax", "Softmin"):
        dim_in_range(call, shape, arguments.get("dim"))
    elif kind == "Softmax2d" and len(shape) not in (3, 4):  # torch: Softmax2d: expected input to be 3D or 4D
        raise call.shape_error("expects a 3-D or 4-D input", shape)
    elif kind == "LocalResponseNorm":
        dims_at_least(call, shape, 3)
    elif kind == "CrossMapLRN2d" and len(shape) != 4:  # torch: CrossMapLRN2d: Expected input to be 4D
        raise call.shape_error("expects a 4-D input (N, C, H, W)", shape)
    elif kind == "PReLU":
        prelu_weights(call, shape, arguments.get("num_parameters", 1))
    elif kind == "ChannelShuffle":
        shuffles(call, shape, arguments.get("groups"))
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
        if arguments.get("training") or not arguments.get("track_running_stats"):  # each sample's statistics
            more_than_one(call, shape, tuple(range(len(shape) - spatial, len(shape))), "spatial element")
