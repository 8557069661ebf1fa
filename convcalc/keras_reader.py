"""Read Keras 3 models and saved ``.keras`` files into ``convcalc.keras`` specs.

A live ``keras.Model`` is read through its serialized configuration (what
``model.save`` writes); a ``.keras`` file is a zip archive whose ``config.json``
holds that configuration, so a file is read with ``zipfile`` and ``json`` only:
Keras need not be installed. Weights are never read: parameter counts follow
from the layers' arguments and the shapes that reach them.

The model's input comes from its ``Input`` layer: a ``None`` batch becomes 1 and
every other ``None`` size a positive integer symbol (``H`` and ``W`` for images,
``L`` for sequences, ``D H W`` for volumes, ``C`` for channels). ``plan(model,
input_shape)`` replaces that default with sizes of your own (ints or symbols),
within what Keras itself accepts: a built layer's weights fix its input width
(a Conv's input channels, a Dense's input features, a BatchNormalization's axis
and rank; ``build_config`` in the configuration keeps the shape they were built
for), a model takes inputs of its ``Input``'s rank (a trailing axis of 1 may be
added or left out), and a functional model's input must match its ``Input``
wherever that gives a size. Other inputs are refused with a ShapeError.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Callable
from typing import Any

from convcalc import keras as ks
from convcalc._args import received
from convcalc._errors import ConvCalcError, SpecError, checked_call

__all__ = ["from_keras"]


@checked_call
def from_keras(model: Any) -> Any:
    """Read a Keras 3 model, or a saved ``.keras`` file without Keras, into a ``convcalc.keras`` model.

    ``Sequential`` models become :class:`convcalc.keras.Sequential`, functional
    models (branches, ``Add``, ``Concatenate``, shared layers) a
    :class:`convcalc.keras.Functional`; a layer with ``trainable=False`` is wrapped
    in :class:`convcalc.keras.Frozen`. ``convcalc.plan`` calls this for Keras
    models and ``.keras`` paths.

    Args:
        model: a ``keras.Model`` (``Sequential`` or functional), or the path of a
            ``.keras`` file.

    Returns:
        A ``convcalc.keras`` model whose default input comes from the model's
        ``Input`` (batch 1; unknown sizes become symbols).

    Raises:
        SpecError: the file cannot be read, the model is subclassed (no layer
            graph in its configuration), has several inputs or outputs, uses a
            layer convcalc does not know (the message names the layer, its class
            and the supported classes), or its configuration is malformed (a key
            missing or of the wrong type: the message names the layer, the key and
            the value).

    >>> import json, os, tempfile, zipfile, convcalc
    >>> config = {"class_name": "Sequential", "config": {"name": "net", "layers": [
    ...     {"class_name": "InputLayer", "config": {"batch_shape": [None, 28, 28, 1], "name": "input_layer"}},
    ...     {"class_name": "Conv2D", "config": {"name": "conv", "filters": 8, "kernel_size": [3, 3]}},
    ...     {"class_name": "Flatten", "config": {"name": "flatten"}},
    ...     {"class_name": "Dense", "config": {"name": "dense", "units": 10}}]}}
    >>> path = os.path.join(tempfile.mkdtemp(), "net.keras")
    >>> with zipfile.ZipFile(path, "w") as archive:
    ...     archive.writestr("config.json", json.dumps(config))
    >>> p = convcalc.plan(path)
    >>> p.output_shape, p.total_params
    ((1, 10), 54170)
    >>> from_keras("missing.keras")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: cannot read the Keras file 'missing.keras': no such file. Received: model='missing.keras'
    """
    saved = isinstance(model, (str, os.PathLike))
    item = _read_file(os.fspath(model)) if saved else _serialize(model)
    reader = _Reader()
    # a model set trainable=False trains none of its weights, whatever its layers say (Keras'
    # ``trainable_weights`` of a model that is not trainable is empty); a nested model's flag is its layers'
    config = item.get("config") if isinstance(item, dict) else None
    reader.frozen = isinstance(config, dict) and config.get("trainable", True) is False
    return reader.model(item, "", None if saved else model)


def _read_file(path: str) -> Any:
    def fail(why: str) -> SpecError:
        return SpecError(f"cannot read the Keras file {path!r}: {why}. {received({'model': path})}")

    if not os.path.isfile(path):
        raise fail("no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read("config.json")
    except zipfile.BadZipFile:
        raise fail("it is not a zip archive (a .keras file is one; .h5 files are not read)") from None
    except KeyError:
        raise fail("the archive holds no config.json") from None
    except OSError as exc:
        raise fail(str(exc)) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise fail(f"config.json is not JSON ({exc})") from None


def _serialize(model: Any) -> Any:
    keras = sys.modules.get("keras")
    if keras is None or not isinstance(model, keras.Model):
        raise SpecError(f"from_keras() takes a keras.Model or the path of a .keras file. {received({'model': model})}")
    try:
        config = keras.saving.serialize_keras_object(model)
    except Exception as exc:  # a subclassed model's get_config may raise anything
        raise SpecError(
            f"{model.name} ({type(model).__name__}): Keras cannot serialize this model ({type(exc).__name__}: {exc}); "
            f"convcalc reads Sequential and functional models. {received({'model': type(model).__name__})}"
        ) from None
    # round-trip through JSON: tuples become lists, as in a saved file
    return json.loads(json.dumps(config, default=str))


# --------------------------------------------------------------------------- #
# Layer configurations -> convcalc.keras specs
# --------------------------------------------------------------------------- #


def _pick(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def args(config: dict[str, Any]) -> dict[str, Any]:
        return {n: _plain(config[n]) for n in names if n in config}

    return args


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if (
        isinstance(value, dict)
        and value.get("class_name") in ("__numpy__", "__tensor__")
        and isinstance(value.get("config"), dict)
    ):  # a numpy array or a backend tensor (``keras.ops.ones((4,))``), as Keras serializes them
        return _plain(value["config"].get("value"))
    return value


_CONV = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "groups",
    "activation",
    "use_bias",
    "lora_rank",
)
_TRANSPOSE = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "output_padding",
    "data_format",
    "dilation_rate",
    "activation",
    "use_bias",
)
_DEPTHWISE = (
    "kernel_size",
    "strides",
    "padding",
    "depth_multiplier",
    "data_format",
    "dilation_rate",
    "activation",
    "use_bias",
)
_SEPARABLE = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "depth_multiplier",
    "activation",
    "use_bias",
)
_WINDOW = ("pool_size", "strides", "padding", "data_format")
# (``activation`` and ``recurrent_activation`` change no shape or count: not read, so that any saved one plans)
_RECURRENT = ("units", "use_bias", "return_sequences", "return_state", "go_backwards", "stateful", "unroll")
_RECURRENT_CLASSES = {"LSTM": ks.LSTM, "GRU": ks.GRU, "SimpleRNN": ks.SimpleRNN}


def _wrapped(item: Any, key: str) -> Any:
    """The recurrent layer a ``Bidirectional`` configuration holds under ``key`` (``layer``, ``backward_layer``),
    as a spec; a layer of another class is refused, naming it."""
    cls = item.get("class_name") if isinstance(item, dict) else None
    config = item.get("config") if isinstance(item, dict) else None
    if cls not in _RECURRENT_CLASSES or not isinstance(config, dict):
        raise SpecError(
            f"{key} must be the configuration of an LSTM, GRU or SimpleRNN, which convcalc plans Bidirectional "
            f"around. {received({key: cls if isinstance(cls, str) else item})}"
        )
    make, pick = _LAYERS[cls]
    return make(**pick(config), name=config.get("name") if isinstance(config.get("name"), str) else None)


def _bidirectional(config: dict[str, Any]) -> dict[str, Any]:
    args = {"layer": _wrapped(config.get("layer"), "layer"), "merge_mode": config.get("merge_mode", "concat")}
    if config.get("backward_layer") is not None:
        args["backward_layer"] = _wrapped(config["backward_layer"], "backward_layer")
    return args


#: Keras class name -> (spec class, the configuration keys it takes)
_LAYERS: dict[str, tuple[Callable[..., Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "Conv1D": (ks.Conv1D, _pick(*_CONV)),
    "Conv2D": (ks.Conv2D, _pick(*_CONV)),
    "Conv3D": (ks.Conv3D, _pick(*_CONV)),
    "Conv1DTranspose": (ks.Conv1DTranspose, _pick(*_TRANSPOSE)),
    "Conv2DTranspose": (ks.Conv2DTranspose, _pick(*_TRANSPOSE)),
    "Conv3DTranspose": (ks.Conv3DTranspose, _pick(*_TRANSPOSE)),
    "DepthwiseConv1D": (ks.DepthwiseConv1D, _pick(*_DEPTHWISE)),
    "DepthwiseConv2D": (ks.DepthwiseConv2D, _pick(*_DEPTHWISE)),
    "SeparableConv1D": (ks.SeparableConv1D, _pick(*_SEPARABLE)),
    "SeparableConv2D": (ks.SeparableConv2D, _pick(*_SEPARABLE)),
    "MaxPooling1D": (ks.MaxPooling1D, _pick(*_WINDOW)),
    "MaxPooling2D": (ks.MaxPooling2D, _pick(*_WINDOW)),
    "MaxPooling3D": (ks.MaxPooling3D, _pick(*_WINDOW)),
    "AveragePooling1D": (ks.AveragePooling1D, _pick(*_WINDOW)),
    "AveragePooling2D": (ks.AveragePooling2D, _pick(*_WINDOW)),
    "AveragePooling3D": (ks.AveragePooling3D, _pick(*_WINDOW)),
    "GlobalAveragePooling1D": (ks.GlobalAveragePooling1D, _pick("data_format", "keepdims")),
    "GlobalAveragePooling2D": (ks.GlobalAveragePooling2D, _pick("data_format", "keepdims")),
    "GlobalAveragePooling3D": (ks.GlobalAveragePooling3D, _pick("data_format", "keepdims")),
    "GlobalMaxPooling1D": (ks.GlobalMaxPooling1D, _pick("data_format", "keepdims")),
    "GlobalMaxPooling2D": (ks.GlobalMaxPooling2D, _pick("data_format", "keepdims")),
    "GlobalMaxPooling3D": (ks.GlobalMaxPooling3D, _pick("data_format", "keepdims")),
    "Cropping1D": (ks.Cropping1D, _pick("cropping")),
    "Cropping2D": (ks.Cropping2D, _pick("cropping", "data_format")),
    "Cropping3D": (ks.Cropping3D, _pick("cropping", "data_format")),
    "LayerNormalization": (ks.LayerNormalization, _pick("axis", "epsilon", "center", "scale", "rms_scaling")),
    "BatchNormalization": (ks.BatchNormalization, _pick("axis", "momentum", "epsilon", "center", "scale", "renorm")),
    "Dense": (ks.Dense, _pick("units", "activation", "use_bias", "lora_rank")),
    "Flatten": (ks.Flatten, _pick("data_format")),
    "Dropout": (ks.Dropout, _pick("rate")),
    "Activation": (ks.Activation, _pick("activation")),
    "PReLU": (ks.PReLU, _pick("shared_axes")),
    "ZeroPadding2D": (ks.ZeroPadding2D, _pick("padding", "data_format")),
    "UpSampling2D": (ks.UpSampling2D, _pick("size", "data_format", "interpolation")),
    "Add": (ks.Add, _pick()),
    "Subtract": (ks.Subtract, _pick()),
    "Multiply": (ks.Multiply, _pick()),
    "Average": (ks.Average, _pick()),
    "Maximum": (ks.Maximum, _pick()),
    "Minimum": (ks.Minimum, _pick()),
    "Concatenate": (ks.Concatenate, _pick("axis")),
    "Reshape": (ks.Reshape, _pick("target_shape")),
    "Permute": (ks.Permute, _pick("dims")),
    "RepeatVector": (ks.RepeatVector, _pick("n")),
    "Normalization": (ks.Normalization, _pick("axis", "mean", "variance", "invert")),
    "GroupNormalization": (ks.GroupNormalization, _pick("groups", "axis", "epsilon", "center", "scale")),
    "UnitNormalization": (ks.UnitNormalization, _pick("axis")),
    "Resizing": (
        ks.Resizing,
        _pick("height", "width", "data_format", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio"),
    ),
    "CenterCrop": (ks.CenterCrop, _pick("height", "width", "data_format")),
    "RandomCrop": (ks.RandomCrop, _pick("height", "width", "data_format")),
    "UpSampling1D": (ks.UpSampling1D, _pick("size")),
    "UpSampling3D": (ks.UpSampling3D, _pick("size", "data_format")),
    "ZeroPadding1D": (ks.ZeroPadding1D, _pick("padding", "data_format")),
    "ZeroPadding3D": (ks.ZeroPadding3D, _pick("padding", "data_format")),
    "Embedding": (ks.Embedding, _pick("input_dim", "output_dim", "mask_zero", "lora_rank")),
    "LSTM": (ks.LSTM, _pick(*_RECURRENT)),
    "GRU": (ks.GRU, _pick(*_RECURRENT, "reset_after")),
    "SimpleRNN": (ks.SimpleRNN, _pick(*_RECURRENT)),
    "Bidirectional": (ks.Bidirectional, _bidirectional),
}

#: Keras layers without weights that keep the shape
_PASSTHROUGH = frozenset(
    {
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "Identity",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Rescaling",
        # image augmentation: the identity at inference, and no weights
        "RandomFlip",
        "RandomRotation",
        "RandomZoom",
        "RandomTranslation",
        "RandomContrast",
        "RandomBrightness",
    }
)

#: the modules of the ``keras.ops`` operations a functional model records (``x * 2.0``, ``ops.relu6(x)``)
_OPS_MODULES = ("keras.src.ops", "keras.ops")

_MODELS = ("Sequential", "Functional", "Model")


def supported_layers() -> list[str]:
    """The Keras layer classes ``from_keras`` reads (and, in a functional model, the elementwise ``keras.ops``
    operations of :data:`convcalc.keras.more.BINARY_OPS` and :data:`convcalc.keras.more.UNARY_OPS`)."""
    return sorted({*_LAYERS, *_PASSTHROUGH, "InputLayer", *_MODELS})


class _Reader:
    """One conversion: Keras layer names stay the spec names. Reading a live model, each Keras layer becomes
    one spec, however many models list it (a layer shared by a nested model and the model around it), so
    that the plan counts its weights once, as Keras does; a saved file names layers only, and a name may
    stand for different layers in different nested models."""

    def __init__(self) -> None:
        self.specs: dict[int, tuple[Any, Any]] = {}  # id(Keras layer) -> (the layer, its spec)
        self.frozen = False  # the model read is not trainable: no layer of it trains

    def model(self, item: Any, path: str, live: Any = None) -> Any:
        if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
            raise SpecError(f"{path or 'model'}: not a Keras model configuration. {received({'model': item})}")
        cls = item.get("class_name")
        config = item["config"]
        if cls is not None and not isinstance(cls, str):
            raise _wrong(item, "class_name", path or "model", "a string naming the model's class, such as 'Sequential'")
        if config.get("name") is not None and not isinstance(config["name"], str):
            raise _wrong(config, "name", f"{path or 'model'}{f' ({cls})' if cls else ''}", "a string")
        name = config.get("name") or path or "model"
        _keras_own(
            item,
            name,
            "a model",
            "its call() may use its layers otherwise than Keras' Sequential and "
            "Functional do, which convcalc reads from their configuration; build it as a Sequential or a "
            "functional model",
        )
        if cls in ("Sequential", "Functional") and not isinstance(config.get("layers"), list):
            raise _wrong(config, "layers", f"{name} ({cls})", "a list of layer configurations")
        if cls == "Sequential" or (isinstance(config.get("layers"), list) and "input_layers" not in config):
            _listed_once(live, name)
            return self._sequential(config, name, _live_layers(live))
        if isinstance(config.get("layers"), list) and "input_layers" in config:
            return self._functional(config, name, _live_layers(live))
        raise SpecError(
            f"{name} ({cls}): a subclassed model keeps no layer graph in its configuration; convcalc reads "
            f"Sequential and functional models. {received({'model': cls})}"
        )

    def _sequential(self, config: dict[str, Any], name: str, live: dict[str, Any]) -> Any:
        items = _layer_items(config["layers"], f"{name} (Sequential)")
        specs: list[Any] = []
        for item in items:
            if item.get("class_name") == "InputLayer":
                if specs:
                    raise SpecError(f"{name}: an InputLayer after other layers. {received({'layers': _names(items)})}")
                specs.append(self._input(item))
                continue
            specs.append(self.layer(item, live))
        if not (specs and isinstance(specs[0], ks.Input)):
            shape = config.get("build_input_shape")
            if isinstance(shape, list) and shape:
                specs.insert(0, _input_spec(shape, f"{name}_input"))
        built = _built_shapes(items)
        return _build(lambda: ks.Sequential(specs, name=name, built=built), name, "Sequential")

    def _functional(self, config: dict[str, Any], name: str, live: dict[str, Any]) -> Any:
        inputs, outputs = _refs(config.get("input_layers")), _refs(config.get("output_layers"))
        if len(inputs) != 1 or len(outputs) != 1:
            raise SpecError(
                f"{name} (Functional): convcalc plans models with one input and one output; this one has "
                f"{len(inputs)} and {len(outputs)}. {received({'inputs': inputs, 'outputs': outputs})}"
            )
        items: dict[str, dict[str, Any]] = {}
        for j, item in enumerate(_layer_items(config["layers"], f"{name} (Functional)")):
            where = f"{name} (Functional): layers[{j}] ({item['class_name']})"
            lname = _layer_name(item)
            if lname is None:  # the graph names the layers each call reads
                raise _wrong(item["config"], "name", where, "a string, which the model's graph refers to")
            if not isinstance(item.get("inbound_nodes") or [], list):
                raise _wrong(item, "inbound_nodes", f"{lname} ({item['class_name']})", "a list of the layer's calls")
            items[lname] = item
        layers: dict[str, Any] = {}
        # a tensor is (layer name, call index, output index); the k-th call of a layer is named name or name:k
        tensor_names: dict[tuple[str, int], str] = {}
        input_spec = None
        calls: list[tuple[Any, Any]] = []
        pending = [
            (lname, k, node) for lname, item in items.items() for k, node in enumerate(item.get("inbound_nodes") or [])
        ]
        for lname, item in items.items():
            if item.get("class_name") == "InputLayer":
                if (lname, 0) != (inputs[0][0], 0) or input_spec is not None:
                    raise SpecError(
                        f"{name} (Functional): convcalc plans models with one input. Received: input={lname}"
                    )
                input_spec = self._input(item)
                tensor_names[(lname, 0)] = input_spec.name
        if input_spec is None:
            raise SpecError(f"{name} (Functional): no InputLayer named {inputs[0][0]!r}. Received: inputs={inputs}")
        # calls in an order where every input is ready (the file lists layers in that order; be safe anyway)
        while pending:
            progressed = False
            for entry in list(pending):
                lname, k, node = entry
                sources = _node_inputs(node, name, lname)
                if not all((s[0], s[1]) in tensor_names for s in sources):
                    continue
                if lname not in layers:
                    layers[lname] = self.layer(items[lname], live)
                layer = layers[lname]
                args = tuple(_output_name(tensor_names, layers, s, lname) for s in sources)
                multi = ks.takes_list(layer)
                calls.append((layer, args if multi else args[0]))
                tensor_names[(lname, k)] = lname if k == 0 else f"{lname}:{k}"
                pending.remove(entry)
                progressed = True
            if not progressed:
                raise SpecError(
                    f"{name} (Functional): the layer graph has a cycle or a missing layer. "
                    f"{received({'layers': [p[0] for p in pending]})}"
                )
        # the model's outputs number a nested functional model's calls from 1, as Keras' get_config writes them
        # (its call 0 is its own graph's; a call's inputs number them from 0)
        nested = isinstance(items.get(outputs[0][0]), dict) and items[outputs[0][0]].get("class_name") == "Functional"
        head = (outputs[0][0], outputs[0][1] - nested, outputs[0][2])
        out = _output_name(tensor_names, layers, head, name) if head[:2] in tensor_names else None
        if out is None or not calls:
            raise SpecError(f"{name} (Functional): the output {outputs[0][0]!r} is not computed from the input.")
        built = _built_shapes(list(items.values()))
        return _build(lambda: ks.Functional(input_spec, calls, output=out, name=name, built=built), name, "Functional")

    def _input(self, item: dict[str, Any]) -> Any:
        config = item["config"]
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        lname = config.get("name", "input_layer")
        if not isinstance(shape, list) or len(shape) < 2:
            raise SpecError(
                f"{lname} (InputLayer): batch_shape must list the batch and per-sample sizes. "
                f"{received({'batch_shape': shape})}"
            )
        return _input_spec(shape, lname)

    def layer(self, item: dict[str, Any], live: dict[str, Any] | None = None) -> Any:
        cls = item.get("class_name")
        raw = item.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        lname = config.get("name") or item.get("name") or str(cls)
        obj = (live or {}).get(lname)
        if obj is not None and id(obj) in self.specs:
            return self.specs[id(obj)][1]
        spec = self._layer(item, cls, config, lname, obj)
        if obj is not None:
            self.specs[id(obj)] = (obj, spec)
        return spec

    def _layer(self, item: dict[str, Any], cls: Any, config: dict[str, Any], lname: str, obj: Any) -> Any:
        _not_quantized(config, lname, str(cls))
        _keras_own(
            item,
            lname,
            "a layer",
            "convcalc reads Keras' own layers from their configuration and cannot "
            "see what this class holds or does; describe it with convcalc.keras layers",
        )
        if str(item.get("module") or "").startswith(_OPS_MODULES):
            return _operation(item, str(cls), lname, _across(cls, config, lname))
        if cls in _MODELS or (isinstance(config.get("layers"), list)):
            spec = self.model(item, lname, obj)
        elif cls in _PASSTHROUGH:
            spec = _build(lambda: ks.Passthrough(cls, name=lname, across=_across(cls, config, lname)), lname, str(cls))
        elif cls in _LAYERS:
            make, pick = _LAYERS[cls]
            spec = _build(lambda: make(**pick(config), name=lname), lname, str(cls))
        else:
            raise SpecError(
                f"{lname} ({cls}): convcalc cannot read this Keras layer. Supported: {', '.join(supported_layers())}. "
                f"{received({'layer': cls})}"
            )
        trainable = config.get("trainable", True)
        if type(trainable) is not bool:
            raise SpecError(f"{lname} ({cls}): trainable must be true or false. {received({'trainable': trainable})}")
        # Keras freezes each weight by its own layer's flag: setting a nested model's flag sets its layers' (as
        # their configurations hold it), and a layer set trainable again inside a frozen one trains
        if (not trainable or self.frozen) and not isinstance(spec, (ks.Sequential, ks.Functional)):
            spec = ks.Frozen(spec)
        return spec


def _keras_own(item: dict[str, Any], name: str, what: str, why: str) -> None:
    """Refuse a class outside Keras (the user's own, or a library's) that may share a name with one of Keras' (a
    hand-written
    ``LayerNormalization``, a ``keras.Sequential`` subclass with its own ``call``): Keras writes its module (not
    ``keras...``) and the name it is registered under (``package>Name``) beside the class name."""
    module, registered, cls = item.get("module"), item.get("registered_name"), item.get("class_name")
    # (tf_keras, Keras 2 as TensorFlow ships it, writes its own layers under its own name)
    outside = isinstance(module, str) and module.split(".")[0] not in ("keras", "tf_keras")
    if outside or (isinstance(registered, str) and registered != cls):
        owner = registered if isinstance(registered, str) and registered != cls else f"{module}.{cls}"
        raise SpecError(
            f"{name} ({cls}): {what} of a class that is not one of Keras' own ({owner}): {why}. "
            f"{received({'module': module, 'registered_name': registered})}"
        )


def _across(cls: Any, config: dict[str, Any], name: str) -> tuple[int, ...]:
    """The axes a softmax (the layer, or ``keras.ops.softmax`` / ``log_softmax``) reads whole: its ``axis``."""
    if cls not in ("Softmax", "LogSoftmax"):
        return ()
    axis = config.get("axis", -1)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if not all(type(a) is int for a in axes):
        raise SpecError(f"{name} ({cls}): axis must be an int or a list of ints. {received({'axis': axis})}")
    return axes


def _operation(item: dict[str, Any], cls: str, name: str, across: tuple[int, ...]) -> Any:
    """A ``keras.ops`` call of a functional model (``x * 2.0`` is an op ``Multiply`` reading the tensor and 2.0):
    an elementwise one on tensors and constants (numbers or numpy arrays), each call read from its node."""
    from convcalc.keras.more import BINARY_OPS, UNARY_OPS, _value_shape

    where = f"{name} (keras.ops {cls})"
    if cls not in BINARY_OPS | UNARY_OPS:
        raise SpecError(
            f"{where}: convcalc cannot read this keras.ops operation; it reads the elementwise ones "
            f"({', '.join(sorted(BINARY_OPS | UNARY_OPS))}). {received({'operation': cls})}"
        )
    layouts = set()
    for node in item.get("inbound_nodes") or []:
        operands = node.get("args") if isinstance(node, dict) else None
        if not isinstance(operands, list):
            raise SpecError(f"{where}: a call without its operands. {received({'node': node})}")
        constants = []
        for value in operands:
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                continue
            plain = _plain(value)
            try:
                shape = _value_shape(plain, "constant", {"constant": plain})
            except SpecError:
                raise SpecError(
                    f"{where}: an operand is neither a tensor nor a constant number or array, so its shape is "
                    f"unknown. {received({'operand': value})}"
                ) from None
            constants.append(shape)
        want = 1 if cls in UNARY_OPS else 2
        if len(operands) != want or len(constants) > want - 1:
            what = "one tensor" if want == 1 else "two operands, a tensor at least"
            raise SpecError(
                f"{where}: convcalc reads this operation on {what}; this call has {len(operands)} operands, "
                f"{len(constants)} of them constants. {received({'args': operands})}"
            )
        layouts.add(constants[0] if constants else None)
    if len(layouts) > 1:
        raise SpecError(
            f"{where}: its calls differ (a constant in one, a tensor in another). {received({'calls': len(layouts)})}"
        )
    constant = layouts.pop() if layouts else None
    return _build(
        lambda: ks.Operation(cls, constant_shape=constant, name=name, across=across), name, f"keras.ops {cls}"
    )


def _listed_once(model: Any, name: str) -> None:
    """A live Sequential given one layer twice calls it twice, but its configuration (what convcalc reads, and
    what Keras saves and loads) lists it once: refused rather than planned with one call."""
    layers = getattr(model, "layers", None) if model is not None else None
    if not isinstance(layers, list):
        return
    seen: set[int] = set()
    for layer in layers:
        if id(layer) in seen:
            raise SpecError(
                f"{name} (Sequential): the layer {layer.name!r} is listed twice, which Keras' configuration of the "
                f"model (and a file it saves) records once; write the model as a functional one, calling the layer "
                f"twice. Received: layers={[getattr(item, 'name', '?') for item in layers]}"
            )
        seen.add(id(layer))


def _live_layers(model: Any) -> dict[str, Any]:
    """The layers of a live Keras model by name (unique within a model); none for a saved file's."""
    layers = getattr(model, "layers", None) if model is not None else None
    return {layer.name: layer for layer in layers} if isinstance(layers, list) else {}


def _not_quantized(config: dict[str, Any], name: str, cls: str) -> None:
    """A layer of a quantized model (``model.quantize("int8")``) holds integer kernels and scales in place of its
    float weights, in counts of each mode's own: convcalc counts a float model's weights, and says so."""
    policy = config.get("dtype")
    kind = policy.get("class_name", "") if isinstance(policy, dict) else ""
    if "Quantized" in str(kind):
        inner = policy.get("config") if isinstance(policy, dict) else None
        mode = inner.get("mode") if isinstance(inner, dict) else None
        raise SpecError(
            f"{name} ({cls}): a quantized layer ({mode or kind}) holds integer kernels and scales in "
            f"place of its weights; convcalc counts the float model: plan it before quantize(). "
            f"{received({'dtype': mode or kind})}"
        )


def _build(make: Callable[[], Any], name: str, cls: str) -> Any:
    try:
        return make()
    except ConvCalcError as exc:
        message = str(exc)
        if message.startswith(f"{name} ("):
            raise
        raise type(exc)(f"{name} ({cls}): {message}") from None


def _built_shapes(items: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Layer name -> the input shape its weights were built for (``build_config`` in Keras' configuration):
    the sizes those weights fix are the only ones Keras lets reach the layer."""
    shapes: dict[str, tuple[Any, ...]] = {}
    for item in items:
        raw = item.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        build = item.get("build_config")
        shape = build.get("input_shape") if isinstance(build, dict) else None
        lname = config.get("name") or item.get("name") or str(item.get("class_name"))
        if isinstance(shape, list) and shape and all(d is None or type(d) is int for d in shape):
            shapes[lname] = tuple(shape)
    return shapes


def _names(items: list[dict[str, Any]]) -> list[Any]:
    return [_layer_name(item) for item in items]


def _wrong(table: dict[str, Any], key: str, where: str, want: str) -> SpecError:
    """The error for a configuration whose ``key`` is not ``want``: the value it holds, or the keys it has."""
    if key not in table:
        return SpecError(f"{where}: the configuration has no {key} ({want}). {received({'keys': sorted(table)})}")
    return SpecError(f"{where}: {key} must be {want}. {received({key: table[key]})}")


def _layer_items(layers: list[Any], where: str) -> list[dict[str, Any]]:
    """A model's ``layers``, each a table with a ``config`` table, its class named by a string and its name (in
    ``config`` or beside it, where given) a string."""
    for j, item in enumerate(layers):
        if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
            raise SpecError(
                f"{where}: layers[{j}] is not a layer's configuration (a table with a `config` table). "
                f"{received({f'layers[{j}]': item})}"
            )
        cls = item.get("class_name")
        for table in (item["config"], item):
            if table.get("name") is not None and not isinstance(table["name"], str):
                raise _wrong(table, "name", f"{where}: layers[{j}] ({cls})", "a string")
        if not isinstance(cls, str):
            lname = _layer_name(item)
            raise _wrong(
                item,
                "class_name",
                f"{where}: layers[{j}]{f' ({lname})' if lname else ''}",
                "a string naming a Keras class, such as 'Conv2D'",
            )
    return layers


def _output_name(
    tensor_names: dict[tuple[str, int], str], layers: dict[str, Any], ref: tuple[str, int, int], reader: str
) -> str:
    """The name of one output of one call in the Functional spec: the call's name for output 0, ``name[k]`` for
    output ``k`` of a layer of several (a recurrent layer's states with ``return_state``)."""
    call = tensor_names[(ref[0], ref[1])]
    layer = layers.get(ref[0])
    count = 1 if layer is None else layer._output_count
    if ref[2] >= count:
        raise SpecError(
            f"{reader}: reads output {ref[2]} of {ref[0]}, which convcalc plans with {count} output"
            f"{'s' if count > 1 else ''}; convcalc follows the outputs of recurrent layers (return_state, "
            f"Bidirectional with merge_mode=None) and the first of any other layer. Received: inputs={[list(ref)]}"
        )
    return call if ref[2] == 0 else f"{call}[{ref[2]}]"


def _layer_name(item: dict[str, Any]) -> str | None:
    """A layer's name, from its ``config`` or beside it (a functional model's configuration has both)."""
    config = item.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    name = name or item.get("name")
    return name if isinstance(name, str) and name else None


def _refs(value: Any) -> list[tuple[str, int, int]]:
    """``input_layers`` / ``output_layers``: one ``[name, node, tensor]``, a list of them, or a dict of them
    (a model called with, or returning, a dict of tensors)."""
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in _refs(v)]
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [_ref(value)]
    if isinstance(value, list):
        return [_ref(v) for v in value if isinstance(v, list) and len(v) == 3]
    return []


def _ref(value: list[Any]) -> tuple[str, int, int]:
    """One ``[layer name, call index, output index]`` of a configuration."""
    name, call, output = value
    if not isinstance(name, str) or type(call) is not int or type(output) is not int or call < 0 or output < 0:
        raise SpecError(
            f"a tensor is named by [layer name, call index, output index] (a string and two integers >= 0). "
            f"Received: {value!r}"
        )
    return name, call, output


def _node_inputs(node: Any, model: str, layer: str) -> list[tuple[str, int, int]]:
    """The tensors one call of a layer reads: every ``keras_history`` in its positional arguments."""
    found: list[tuple[str, int, int]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            config = value.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            if not (isinstance(history, list) and len(history) == 3):
                shown = {"keras_history": history} if isinstance(config, dict) else {"config": config}
                raise SpecError(
                    f"{model}: a call of {layer}: a Keras tensor names the layer it comes from by its config's "
                    f"keras_history, [layer name, call index, output index]. {received(shown)}"
                )
            try:
                found.append(_ref(history))
            except SpecError as exc:
                raise SpecError(f"{model}: a call of {layer}: {exc}") from None
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(node.get("args") if isinstance(node, dict) else node)
    if not found and isinstance(node, dict) and isinstance(node.get("kwargs"), dict):
        # a layer called with its input by name (``conv(inputs=x)``): the tensors of that argument
        walk(node["kwargs"].get("inputs"))
    if not found:
        raise SpecError(f"{model}: call of {layer} reads no tensor convcalc can follow. Received: node={node!r}")
    return found


_SYMBOL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _input_spec(batch_shape: list[Any], name: str) -> Any:
    """An ``Input``: batch None -> 1, other None sizes -> positive integer symbols."""
    dims = list(batch_shape[1:])
    spatial = _SYMBOL_NAMES.get(len(dims) - 1, ())
    shape: list[Any] = []
    for j, d in enumerate(dims):
        if d is None:
            from convcalc._symbolic import symbols

            label = spatial[j] if j < len(spatial) else ("C" if j == len(dims) - 1 and spatial else f"d{j + 1}")
            d = symbols(label)
        shape.append(d)
    batch = batch_shape[0]
    if batch is not None and (type(batch) is not int or batch < 1):
        raise SpecError(
            f"{name} (InputLayer): the batch size in batch_shape must be None or an integer >= 1. "
            f"{received({'batch_shape': batch_shape})}"
        )
    return _build(lambda: ks.Input(tuple(shape), batch_size=batch, name=name), name, "InputLayer")
