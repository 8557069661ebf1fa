"""Reading the ``ModelProto``: the graph input, the initializers (which are parameters, which buffers), the nodes."""

from __future__ import annotations

import math
import os
from typing import Any

from convcalc._args import received
from convcalc._errors import SpecError, checked_call
from convcalc.onnx_reader._graph import OnnxGraph, _Init, _ONode

# inputs (by position) that carry shapes or bounds, not weights
_SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Pad": (1, 2, 3),
    "Slice": (1, 2, 3, 4),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "Expand": (1,),
    "Tile": (1,),
    "ConstantOfShape": (0,),
    "Gather": (1,),
    "Clip": (1, 2),
    "Dropout": (1, 2),  # its ratio and training mode
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceMin": (1,),
    "ReduceSum": (1,),
    "ReduceProd": (1,),
}
_BUFFER_INPUTS: dict[str, tuple[int, ...]] = {"BatchNormalization": (3, 4)}
# inputs that hold indices, a mask or a count, not values the output is made of (beside _SHAPE_INPUTS)
_INDEX_INPUTS: dict[str, tuple[int, ...]] = {
    "GatherElements": (1,),
    "GatherND": (1,),
    "ScatterElements": (1,),
    "ScatterND": (1,),
    "Trilu": (1,),
    "Where": (0,),
    "OneHot": (0, 1),
    "TopK": (1,),
    "Compress": (1,),
    "Range": (0, 1, 2),
}
_FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
_SMALL = 4096  # initializers up to this many elements keep their values (shape arithmetic)


@checked_call
def from_onnx(model: Any) -> OnnxGraph:
    """Read an ONNX model (a path to a ``.onnx`` file or an ``onnx.ModelProto``) into a convcalc spec.

    Args:
        model: a path (str or ``os.PathLike``) or an ``onnx.ModelProto``.

    Returns:
        An :class:`OnnxGraph`; ``convcalc.plan`` calls this for ONNX models. A
        dynamic input dim (``dim_param`` such as ``"height"``, or none) becomes
        a convcalc symbol when ``plan()`` gets no input shape.

    Raises:
        SpecError: the file cannot be read, or the model has more than one input.

    >>> import convcalc, onnx
    >>> from onnx import TensorProto, helper
    >>> w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
    >>> node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER", name="conv")
    >>> graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])],
    ...                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    >>> p = convcalc.plan(helper.make_model(graph))
    >>> p.output_shape, p.total_params
    ((1, 8, floor((H + 1)/2), floor((W + 1)/2)), 216)
    """
    onnx = _onnx()
    if isinstance(model, (str, os.PathLike)):
        try:
            proto = onnx.load(os.fspath(model), load_external_data=False)
        except Exception as exc:  # onnx raises protobuf DecodeError, OSError, ...
            raise SpecError(
                f"cannot read the ONNX file ({type(exc).__name__}: {str(exc).strip()[:200]}). {received({'model': model})}"
            ) from None
    elif isinstance(model, onnx.ModelProto):
        proto = model
    else:
        raise SpecError(
            f"from_onnx() takes a path to an .onnx file or an onnx.ModelProto. {received({'model': model})}"
        )
    return _read(onnx, proto)


# bytes of an element of each ONNX TensorProto data type (FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6,
# INT64 7, BOOL 9, FLOAT16 10, DOUBLE 11, UINT32 12, UINT64 13, COMPLEX64 14, COMPLEX128 15, BFLOAT16 16)
_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise SpecError(
            'reading ONNX models needs the onnx package: pip install "convcalc[onnx]". Received: onnx=None'
        ) from None
    return onnx


def _read(onnx: Any, proto: Any) -> OnnxGraph:
    from onnx import numpy_helper

    graph = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
    inits: dict[str, _Init] = {}
    for t in graph.initializer:
        numel = math.prod(t.dims)
        values = None
        if numel <= _SMALL:
            try:
                values = tuple(numpy_helper.to_array(t).reshape(-1).tolist())
            except Exception:  # external data or an unusual type: shape only
                values = None
        inits[t.name] = _Init(t.name, tuple(int(d) for d in t.dims), values, t.data_type in _FLOAT_TYPES)
    inputs: list[tuple[str, tuple[Any, ...] | None]] = []
    itemsize = input_itemsize = 4
    for vi in graph.input:
        if vi.name in inits:
            continue
        # bytes of an element of the input (a float16 model: 2), as ONNX Runtime holds it, and of the activations:
        # the input's where it is a float, else (token ids into an embedding) the weights', the largest floating
        # initializer's
        elem_type = vi.type.tensor_type.elem_type
        input_itemsize = _ELEMENT_BYTES.get(elem_type, 4)
        if elem_type not in _FLOAT_TYPES:
            floats = [t for t in graph.initializer if t.data_type in _FLOAT_TYPES]
            weights = max(floats, key=lambda t: math.prod(t.dims), default=None)
            elem_type = 1 if weights is None else weights.data_type
        itemsize = _ELEMENT_BYTES.get(elem_type, 4)
        if not vi.type.tensor_type.HasField("shape"):  # no shape in the file: any rank, given by input_shape
            inputs.append((vi.name, None))
            continue
        dims: list[Any] = []
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                dims.append(d.dim_param)
            else:
                dims.append(None)
        inputs.append((vi.name, tuple(dims)))
    if not inputs and not graph.node:
        raise SpecError(
            "the ONNX model holds no graph: no input and no node (an empty or truncated file, or a ModelProto "
            "never filled); export the model again. Received: inputs=0, nodes=0"
        )
    if len(inputs) != 1:
        raise SpecError(
            f"convcalc plans ONNX models with one input; this one has {len(inputs)} "
            f"({', '.join(n for n, _ in inputs)}). Received: inputs={len(inputs)}"
        )
    # an Identity of an initializer (exporters write them without constant folding) is that initializer
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.domain in ("", "ai.onnx") and len(node.input) == 1:
            source = alias.get(node.input[0], node.input[0])
            if source in inits:
                alias[node.output[0]] = source
                continue
        kept.append(node)
    # which initializers are parameters, and which node counts each first: a node that reads none of the input's
    # values (a Cast of a float16 weight, weight_norm's norm and scale, a Reshape of a weight, a position embedding
    # resized to sizes computed from the input's shape) hands the weights it reads on to its outputs, and the first
    # node that reads the input's values and a weight (itself or through such nodes) counts it. A Shape reads a
    # tensor's sizes, not its values: its output is neither the input's values nor a weight. An integer
    # initializer is a weight where a Cast turns it into floats first (weight-only quantization: Cast(int8 W) *
    # scale); otherwise it holds indices or sizes.
    derived: dict[str, frozenset[str]] = {name: frozenset({name}) for name in inits}
    data = {name for name, _ in inputs}
    uses: dict[str, list[tuple[int, str]]] = {}
    floated: set[str] = set()  # integer initializers cast to floats before they meet the input's values
    # the initializers whose values a tensor holds (not the sizes or indices that shaped it: Reshape(W, shape))
    values_of: dict[str, frozenset[str]] = {name: frozenset({name}) for name in inits}
    for n, node in enumerate(kept):
        if node.op_type in ("Shape", "Size"):
            continue
        names = [alias.get(raw, raw) for raw in node.input]
        if not any(name in data for name in names):
            held = frozenset().union(*(derived[name] for name in names if name in derived))
            sizes = (*_SHAPE_INPUTS.get(node.op_type, ()), *_INDEX_INPUTS.get(node.op_type, ()))
            valued = frozenset().union(
                *(values_of[name] for k, name in enumerate(names) if name in values_of and k not in sizes)
            )
            if held:
                for out in node.output:
                    derived[out] = held
                    values_of[out] = valued
                if node.op_type == "Cast" and any(a.name == "to" and a.i in _FLOAT_TYPES for a in node.attribute):
                    floated.update(valued)
            continue
        data.update(node.output)
        for k, name in enumerate(names):
            if name in derived:
                role = (
                    "shape"
                    if k in _SHAPE_INPUTS.get(node.op_type, ())
                    else ("buffer" if k in _BUFFER_INPUTS.get(node.op_type, ()) else "param")
                )
                for source in sorted(derived[name]):
                    uses.setdefault(source, []).append((n, role))
    # a weight no node reads beside the input's values and that a graph output carries (learned queries expanded to
    # the batch, returned as they are): counted at the node that makes that output
    producer = {out: n for n, node in enumerate(kept) for out in node.output}
    for out in graph.output:
        name = alias.get(out.name, out.name)
        for source in sorted(derived.get(name, ())):
            if source not in uses and name in producer:
                uses[source] = [(producer[name], "param")]
    owner: dict[int, list[int]] = {}
    for name, use in uses.items():
        init = inits[name]
        roles = {r for _, r in use}
        if roles == {"shape"} or not (init.is_float or name in floated):
            continue
        first = next(n for n, r in use if r != "shape")
        slot = owner.setdefault(first, [0, 0])
        slot[1 if roles <= {"buffer", "shape"} else 0] += math.prod(init.shape)
    nodes = []
    seen: set[str] = set()
    for n, node in enumerate(kept):
        name = node.name or f"{node.op_type}_{n}"
        while name in seen:
            name = f"{name}_{n}"
        seen.add(name)
        if node.domain not in ("", "ai.onnx"):
            raise SpecError(
                f"{name} ({node.op_type}): convcalc does not know operators of the domain {node.domain!r}. "
                f"Received: op_type={node.op_type}, domain={node.domain}, opset={opset}"
            )
        attrs = tuple((a.name, _attr_value(onnx, a)) for a in node.attribute)
        trainable, buffers = owner.get(n, (0, 0))
        node_inputs = tuple(alias.get(i, i) for i in node.input)
        nodes.append(_ONode(name, node.op_type, node_inputs, tuple(node.output), attrs, trainable, buffers))
    outputs = tuple(alias.get(o.name, o.name) for o in graph.output)
    if not outputs:
        raise SpecError(f"the ONNX graph {graph.name!r} has no output. Received: outputs=0")
    return OnnxGraph(
        graph.name or "onnx",
        int(opset),
        tuple(inputs),
        outputs,
        tuple(nodes),
        tuple(inits.values()),
        itemsize,
        input_itemsize,
    )


def _attr_value(onnx: Any, attr: Any) -> Any:
    from onnx import numpy_helper

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, onnx.TensorProto):
        array = numpy_helper.to_array(value)
        return (tuple(int(d) for d in array.shape), tuple(array.reshape(-1).tolist()) if array.size <= _SMALL else None)
    if isinstance(value, list):
        return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    if isinstance(value, (int, float, str)):
        return value
    return None
