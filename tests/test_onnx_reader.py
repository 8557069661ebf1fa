"""ONNX models read by convcalc, checked against ONNX Runtime's actual output shapes and torch's parameter counts."""

from __future__ import annotations

import io
import os
import re
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ConvCalcError, ShapeError, SpecError, nn  # noqa: E402
from tests.onnx_export import torch_to_onnx  # noqa: E402
from tests.strategies import onnx_auto_pad_nodes, onnx_networks  # noqa: E402

CI = os.environ.get("CI") == "true"
# ONNX models compared with ONNX Runtime per CI run: 500 exported from torch (about 0.4 s each), 500 written with
# onnx.helper, and the exported models with dynamic H and W of the shape-inference and valid-sizes tests
EXPORTED = 500 if CI else 30
HANDWRITTEN = 500 if CI else 60
NODE_BY_NODE = 100 if CI else 10
VALID_SIZES = 100 if CI else 10

ort.set_default_logger_severity(4)
_SESSION = ort.SessionOptions()
_SESSION.log_severity_level = 4
_SESSION.intra_op_num_threads = 1
_SESSION.inter_op_num_threads = 1


def _export(module: Any, shape: tuple[int, ...], dynamic: bool, fold: bool = False) -> bytes:
    """The module exported with the TorchScript exporter, weights not folded (BatchNorm stays a node) unless
    ``fold`` (the exporter's default: a Linear's weight an initializer, not a Transpose of one)."""
    return torch_to_onnx(module, shape, axes={0: "N", 2: "H", 3: "W"} if dynamic else None, fold=fold)


def _session(model: bytes) -> Any:
    return ort.InferenceSession(model, _SESSION, providers=["CPUExecutionProvider"])


def _ort_shape(session: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """ONNX Runtime's output shape at this input, or None where it refuses the input."""
    try:
        out = session.run(None, {session.get_inputs()[0].name: np.zeros(shape, np.float32)})[0]
    except Exception as exc:  # ORT raises its own error types for inputs that do not fit
        if "padding values must be non-negative" in str(exc):
            # ORT's pools refuse auto_pad SAME where the window is smaller than the stride and the
            # padding ONNX computes, (out - 1) * s + k - i, is negative; the ONNX spec still gives ceil(i / s)
            raise _NegativeSamePadError from None
        return None
    return tuple(int(d) for d in out.shape)


class _NegativeSamePadError(Exception):
    pass


def _check_size(model: Any, session: Any, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        expected = _ort_shape(session, shape)
    except _NegativeSamePadError:
        node = model.graph.node[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert node.op_type in ("MaxPool", "AveragePool")
        assert attrs["auto_pad"] in (b"SAME_UPPER", b"SAME_LOWER")
        assert any(k < s for k, s in zip(attrs["kernel_shape"], attrs["strides"], strict=True))
        out = convcalc.plan(model, shape).output_shape
        assert out[2:] == tuple(-(-i // s) for i, s in zip(shape[2:], attrs["strides"], strict=True))
        return None
    try:
        got = convcalc.plan(model, shape)
    except ShapeError as exc:
        # ORT's pools divide with C++ truncation: a window larger than the padded input gives 1, not
        # ONNX's floor (the reference evaluator and shape inference give 0); convcalc follows ONNX there
        truncated = "Pool)" in str(exc) and "does not fit" in str(exc)
        # ORT's Concat skips the check of the other dims for an empty input (ONNX and its reference evaluator
        # refuse it): a crop that the exporter traced with constant offsets empties a branch at small sizes
        shapes = re.findall(r"\(([\d, ]+)\)", str(exc).split("Received")[0])
        empty_concat = "(Concat)" in str(exc) and any(0 in {int(d) for d in t.split(",")} for t in shapes)
        assert expected is None or 0 in expected or truncated or empty_concat, (shape, expected)
        return None
    assert expected is not None, (shape, got.output_shape)
    assert got.output_shape == expected, shape
    return expected


def _subs(expr: Any, values: dict[str, int]) -> int:
    if isinstance(expr, int):
        return expr
    return int(expr.subs({s: values[s.name] for s in expr.free_symbols}))


# --------------------------------------------------------------------------- #
# exported convcalc.nn networks
# --------------------------------------------------------------------------- #


@settings(max_examples=EXPORTED, deadline=None, suppress_health_check=list(HealthCheck))
@given(onnx_networks(), st.booleans(), st.data())
def test_exported_networks_plan_as_onnx_runtime_runs_them(drawn: Any, dynamic: bool, data: Any) -> None:
    net, shape = drawn
    try:
        reference = convcalc.plan(net, shape)
    except ConvCalcError:
        assume(False)
    module = net.to_torch().eval()
    with torch.no_grad():
        module(torch.zeros(shape))  # materialises LazyLinear
        for parameter in module.parameters():  # distinct values: the exporter merges equal initializers
            parameter.normal_()
    model = onnx.load_from_string(_export(module, shape, dynamic))
    got = convcalc.plan(model, shape)
    assert got.output_shape == reference.output_shape
    assert got.trainable_params == sum(p.numel() for p in module.parameters())
    assert got.macs == reference.macs
    session = _session(model.SerializeToString())
    assert _check_size(model, session, shape) == reference.output_shape
    if not dynamic:
        return
    symbolic = convcalc.plan(model)
    for _ in range(3):
        size = (data.draw(st.integers(1, 3)), shape[1], data.draw(st.integers(1, 40)), data.draw(st.integers(1, 40)))
        expected = _check_size(model, session, size)
        if expected is not None:
            values = dict(zip(("N", "H", "W"), (size[0], size[2], size[3]), strict=True))
            assert tuple(_subs(d, values) for d in symbolic.output_shape) == expected


# --------------------------------------------------------------------------- #
# auto_pad and asymmetric pads, written with onnx.helper
# --------------------------------------------------------------------------- #


def _single_node(spec: dict[str, Any], opset: int = 17) -> Any:
    op, attrs, cin, cout = spec["op"], dict(spec["attrs"]), spec["cin"], spec["cout"]
    initializers = []
    inputs = ["x"]
    if op in ("Conv", "ConvTranspose"):
        k = attrs["kernel_shape"]
        group = attrs.get("group", 1)
        dims = [cout, cin // group, *k] if op == "Conv" else [cin, cout, *k]
        initializers.append(helper.make_tensor("w", TensorProto.FLOAT, dims, [0.5] * int(np.prod(dims))))
        initializers.append(helper.make_tensor("b", TensorProto.FLOAT, [cout], [0.0] * cout))
        inputs += ["w", "b"]
    node = helper.make_node(op, inputs, ["y"], name="node", **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@settings(max_examples=HANDWRITTEN, deadline=None, suppress_health_check=list(HealthCheck))
@given(onnx_auto_pad_nodes(), st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=3, max_size=5))
def test_auto_pad_nodes_plan_as_onnx_runtime_runs_them(spec: dict[str, Any], sizes: list[tuple[int, int]]) -> None:
    model = _single_node(spec)
    session = _session(model.SerializeToString())
    symbolic = convcalc.plan(model)
    weights = list(model.graph.initializer)
    assert symbolic.total_params == sum(int(np.prod(t.dims)) for t in weights)
    for h, w in sizes:
        expected = _check_size(model, session, (1, spec["cin"], h, w))
        if expected is not None and 0 not in expected:
            assert tuple(_subs(d, {"H": h, "W": w}) for d in symbolic.output_shape) == expected


@pytest.mark.parametrize(
    ("auto_pad", "expected"),
    # MaxPool k3 s2 on 0..5 (semantics of ONNX: the odd padding pixel at the end for SAME_UPPER)
    [("SAME_UPPER", [2.0, 4.0, 5.0]), ("SAME_LOWER", [1.0, 3.0, 5.0])],
)
def test_same_upper_and_lower_put_the_extra_pixel_at_opposite_ends(auto_pad: str, expected: list[float]) -> None:
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], auto_pad=auto_pad)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out = _session(model.SerializeToString()).run(None, {"x": np.arange(6, dtype=np.float32).reshape(1, 1, 6)})[0]
    assert out.reshape(-1).tolist() == expected
    p = convcalc.plan(model)
    assert p.output_shape == (1, 1, 3)
    # the receptive field of the first output starts where ONNX's padding puts it
    assert p.rows[0].receptive_field[0].start == (-1 if auto_pad == "SAME_LOWER" else 0)


# --------------------------------------------------------------------------- #
# valid sizes of exported models, against ONNX Runtime over a range
# --------------------------------------------------------------------------- #


def _encoder_decoder() -> Any:
    down = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Upsample(scale_factor=2), nn.Conv2d(4, 2, 1))
    return nn.Add(nn.Sequential(down, up), nn.Identity()), 2, 16


def _pooled_head() -> Any:
    body = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(2, 2, 5), nn.Flatten())
    return nn.Sequential(body, nn.Linear(2 * 3 * 3, 4)), 1, 16


def _valid_chain() -> Any:
    net = nn.Sequential(nn.Conv2d(1, 2, 5, dilation=2), nn.AvgPool2d(3, stride=2), nn.ConvTranspose2d(2, 2, 3, 2))
    return net, 1, 20


def _concat_skip() -> Any:
    branch = nn.Sequential(nn.MaxPool2d(2), nn.Upsample(scale_factor=2))
    return nn.Sequential(nn.Concat(branch, nn.Identity()), nn.Conv2d(4, 2, 3, padding=1)), 2, 12


MODELS = {
    "encoder_decoder": _encoder_decoder,
    "pooled_head": _pooled_head,
    "valid_chain": _valid_chain,
    "concat_skip": _concat_skip,
}


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[Any, int, Any]]:
    out = {}
    for name, build in MODELS.items():
        net, channels, size = build()
        module = net.to_torch().eval()
        out[name] = (onnx.load_from_string(_export(module, (1, channels, size, size), True)), channels, net)
    return out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_models_plan_back_to_the_convcalc_nn_plan(exported: Any, name: str) -> None:
    model, channels, net = exported[name]
    shape = (2, channels, *(MODELS[name]()[2],) * 2)
    ours, theirs = convcalc.plan(model, shape), convcalc.plan(net, shape)
    assert (ours.output_shape, ours.trainable_params, ours.macs) == (
        theirs.output_shape,
        theirs.trainable_params,
        theirs.macs,
    )


def _unknown_dims(model: Any) -> tuple[int, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    unknown = sum(1 for d in dims if not d.HasField("dim_value") and not d.dim_param)
    return unknown, len(dims)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shape_inference_leaves_dims_unknown_where_convcalc_has_closed_forms(exported: Any, name: str) -> None:
    model, _, _ = exported[name]
    inferred = onnx.shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape.dim
    ours = convcalc.plan(model).output_shape
    assert len(inferred) in (0, len(ours))
    for d, mine in zip(inferred, ours, strict=False):
        if d.HasField("dim_value"):
            assert mine == d.dim_value
        elif d.dim_param in ("N", "H", "W"):
            assert str(mine) == d.dim_param
    assert all(not isinstance(d, type(None)) for d in ours)


# --------------------------------------------------------------------------- #
# errors, the registry and the CLI
# --------------------------------------------------------------------------- #


def test_an_unknown_operator_names_the_node_the_operator_and_the_opset() -> None:
    node = helper.make_node("NonMaxSuppression", ["x"], ["y"], name="nms")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(SpecError, match=r"nms \(NonMaxSuppression\).*opset 13"):
        convcalc.plan(model, (1, 4))


def test_a_file_that_is_not_onnx_is_a_spec_error(tmp_path: Any) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(SpecError, match="cannot read the ONNX file"):
        convcalc.plan(str(path), (1, 3, 8, 8))
    with pytest.raises(SpecError, match="from_onnx"):
        convcalc.from_onnx(42)


def test_an_empty_onnx_file_is_said_to_be_empty(tmp_path: Any) -> None:
    """An empty file parses as a ModelProto of nothing: the message said the model "has 0 inputs"."""
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    for model in (str(path), onnx.ModelProto()):
        with pytest.raises(SpecError) as caught:
            convcalc.plan(model, (1, 3, 8, 8))
        assert str(caught.value) == (
            "the ONNX model holds no graph: no input and no node (an empty or truncated file, or a ModelProto never "
            "filled); export the model again. Received: inputs=0, nodes=0"
        )


def test_a_fixed_input_size_is_kept(tmp_path: Any) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    path = tmp_path / "fixed.onnx"
    path.write_bytes(_export(net.to_torch().eval(), (1, 3, 10, 10), False))
    assert convcalc.plan(path).output_shape == (1, 4, 8, 8)
    with pytest.raises(ShapeError, match="fixed size"):
        convcalc.plan(path, (1, 3, 12, 12))


def test_an_embedding_lookup_takes_its_indices_from_the_input(tmp_path: Any) -> None:
    # an exported nn.Embedding is a Gather of the weight at the input's token ids: the ids' shape, then the width
    import torch

    net = torch.nn.Sequential(torch.nn.Embedding(1000, 32), torch.nn.Linear(32, 4)).eval()
    path = tmp_path / "embedding.onnx"
    path.write_bytes(torch_to_onnx(net, (1, 40), axes={1: "L"}, integers=True))
    plan = convcalc.plan(path)
    session = _session(path.read_bytes())
    for length in (1, 7, 40):
        ids = np.zeros((1, length), np.int64)
        expected = tuple(session.run(None, {"x": ids})[0].shape)
        assert tuple(_subs(d, {"L": length}) for d in plan.output_shape) == expected == (1, length, 4)
    assert plan.total_params == sum(p.numel() for p in net.parameters()) == 32_132
    assert (plan.rows[0].kind, plan.rows[0].params) == ("Gather", 32_000)
    assert plan.itemsize == 4  # the weights' float32, not the int64 ids'
    assert _subs(plan.input_bytes, {"L": 40}) == 40 * 8  # the ids themselves: int64
    # the outputs of the Gather, MatMul and bias Add, each holding weights, forward and backward: float32
    assert _subs(plan.forward_backward_bytes, {"L": 40}) == 2 * (40 * 32 + 40 * 4 + 40 * 4) * 4


def test_the_cli_plans_onnx_files(tmp_path: Any, capsys: Any) -> None:
    from convcalc.cli import main

    net, channels, size = _encoder_decoder()
    path = tmp_path / "net.onnx"
    path.write_bytes(_export(net.to_torch().eval(), (1, channels, size, size), True))
    assert main(["plan", str(path), "--input", "1x2xHxW"]) == 0
    assert "Conv" in capsys.readouterr().out


def test_the_cli_solves_an_onnx_file_with_dynamic_axes(tmp_path: Any, capsys: Any) -> None:
    from convcalc.cli import main

    net, channels, size = _valid_chain()
    path = tmp_path / "chain.onnx"
    path.write_bytes(_export(net.to_torch().eval(), (1, channels, size, size), True))
    assert main(["solve", str(path), "--input", "1x1xHxH"]) == 0
    # by hand: the dilated kernel spans 9 (H - 8 >= 1), then AvgPool k3 s2 needs H - 8 >= 3
    assert capsys.readouterr().out.splitlines()[0] == "H >= 11"
    module = net.to_torch().eval()
    with pytest.raises(RuntimeError):  # torch refuses 10 (ONNX Runtime truncates the pool window to 1 there)
        module(torch.zeros(1, 1, 10, 10))
    assert tuple(module(torch.zeros(1, 1, 11, 11)).shape) == (1, 2, 3, 3)
    assert _ort_shape(_session(path.read_bytes()), (1, 1, 11, 11)) == (1, 2, 3, 3)


def test_the_cli_solves_or_refuses_an_onnx_add_of_a_branch_and_its_input(tmp_path: Any, capsys: Any) -> None:
    from convcalc.cli import main

    net, channels, size = _encoder_decoder()
    path = tmp_path / "skip.onnx"
    path.write_bytes(_export(net.to_torch().eval(), (1, channels, size, size), True))
    status = main(["solve", str(path), "--input", "1x2xHxH"])
    captured = capsys.readouterr()
    H = convcalc.symbols("H")
    plan = convcalc.plan(path, (1, 2, H, H))
    session = _session(path.read_bytes())
    if status == 2:  # the solver refuses the equality the Add records, naming it
        assert "/Add" in captured.err
        with pytest.raises(ConvCalcError):
            plan.valid_sizes(H)
        return
    assert status == 0
    solution = plan.valid_sizes(H)
    assert captured.out.splitlines()[0] == str(solution)
    for h in range(1, 41):
        assert (h in solution) == (_ort_shape(session, (1, 2, h, h)) is not None), h


# --------------------------------------------------------------------------- #
# exported models with dynamic H and W: every node's closed form, shape inference, valid sizes
# --------------------------------------------------------------------------- #


def _exported_dynamic(drawn: Any) -> tuple[Any, Any, tuple[int, ...]]:
    """The drawn network exported with dynamic N, H and W, and its torch module; assume() away unplannable draws."""
    net, shape = drawn
    try:
        convcalc.plan(net, shape)
    except ConvCalcError:
        assume(False)
    module = net.to_torch().eval()
    with torch.no_grad():
        module(torch.zeros(shape))  # materialises LazyLinear
    return onnx.load_from_string(_export(module, shape, True)), module, shape


def _spatial_dims(model: Any) -> list[tuple[str, int, Any, Any]]:
    """(node output, axis, convcalc's closed form, infer_shapes' dim) of every node output dim that depends on H or W."""
    H, W = convcalc.symbols("H W")
    plan = convcalc.plan(model)
    first_output = {node.name: node.output[0] for node in model.graph.node}
    inferred = onnx.shape_inference.infer_shapes(model).graph
    known = {vi.name: vi.type.tensor_type.shape.dim for vi in [*inferred.value_info, *inferred.output]}
    dims = []
    for row in plan.rows:
        name = first_output[row.name]
        theirs = known.get(name)
        for axis, form in enumerate(row.output_shape):
            if {H, W} & set(getattr(form, "free_symbols", ())):
                their = theirs[axis] if theirs is not None and len(theirs) == len(row.output_shape) else None
                dims.append((name, axis, form, their))
    return dims


def _left_unknown(form: Any, theirs: Any) -> bool:
    """infer_shapes leaves a dim unknown: no dim at all, no value, or a dim_param that is not convcalc's symbol."""
    if theirs is None or theirs.HasField("dim_value"):
        return theirs is None
    return theirs.dim_param != str(form)


@settings(max_examples=NODE_BY_NODE, deadline=None, suppress_health_check=list(HealthCheck))
@given(onnx_networks(), st.data())
def test_every_node_closed_form_is_onnx_runtime_where_shape_inference_leaves_dims_unknown(
    drawn: Any, data: Any
) -> None:
    model, _, shape = _exported_dynamic(drawn)
    dims = _spatial_dims(model)
    unknown = sum(_left_unknown(form, theirs) for _, _, form, theirs in dims)
    event(f"infer_shapes leaves unknown: {'none' if unknown == 0 else 'all' if unknown == len(dims) else 'some'}")
    for _, _, _, theirs in dims:  # where infer_shapes knows a number, it must be a size that does not depend on H, W
        assert theirs is None or not theirs.HasField("dim_value")
    # every node output becomes a graph output, so ONNX Runtime reports the shape of each
    names = list(dict.fromkeys(name for name, _, _, _ in dims))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    present = {o.name for o in probe.graph.output}
    probe.graph.output.extend(
        helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names if n not in present
    )
    session = _session(probe.SerializeToString())
    outputs = [o.name for o in session.get_outputs()]
    for _ in range(3):
        size = (data.draw(st.integers(1, 3)), shape[1], data.draw(st.integers(1, 40)), data.draw(st.integers(1, 40)))
        if _check_size(model, session, size) is None:  # the model does not take this size (ONNX Runtime agrees)
            continue
        got = session.run(None, {"x": np.zeros(size, np.float32)})
        shapes = {n: tuple(int(d) for d in g.shape) for n, g in zip(outputs, got, strict=True)}
        values = {"N": size[0], "H": size[2], "W": size[3]}
        for name, axis, form, _ in dims:
            assert _subs(form, values) == shapes[name][axis], (name, axis, form, size)


@settings(max_examples=VALID_SIZES, deadline=None, suppress_health_check=list(HealthCheck))
@given(onnx_networks())
def test_valid_sizes_of_exported_models_are_the_sizes_onnx_runtime_runs(drawn: Any) -> None:
    model, _, shape = _exported_dynamic(drawn)
    session = _session(model.SerializeToString())
    H = convcalc.symbols("H")
    runs = {h: _check_size(model, session, (1, shape[1], h, h)) is not None for h in range(1, 49)}
    try:
        solution = convcalc.plan(model, (1, shape[1], H, H)).valid_sizes(H)
    except ShapeError:  # no H at all fits: ONNX Runtime runs none either
        event("no valid size")
        assert not any(runs.values())
        return
    except ConvCalcError:
        event("the solver refuses")  # each size planned alone still matched ONNX Runtime in _check_size
        return
    event("solved")
    assert {h for h, ok in runs.items() if ok} == {h for h in runs if h in solution}


class _AddPositions(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x + torch.arange(x.shape[-1], dtype=torch.float32)


class _HalfWidth(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x[..., : x.shape[-1] // 2]


@pytest.mark.parametrize("module", [_AddPositions(), _HalfWidth()], ids=["float arange", "half the width"])
def test_shape_arithmetic_of_torch_exports_plans_as_onnx_runtime_runs_it(module: Any) -> None:
    """A float ``torch.arange`` of the width raised a TypeError; ``x[..., : W // 2]`` planned as the whole W."""
    model = _export(module, (1, 3, 4, 6), True)
    session = _session(model)
    N, H, W = convcalc.symbols("N H W")
    symbolic = convcalc.plan(onnx.load_from_string(model), (N, 3, H, W)).output_shape
    for shape in ((1, 3, 4, 6), (2, 3, 5, 7), (1, 3, 1, 1)):
        expected = _ort_shape(session, shape)
        assert convcalc.plan(onnx.load_from_string(model), shape).output_shape == expected, shape
        values = dict(zip((N, H, W), (shape[0], shape[2], shape[3]), strict=True))
        assert tuple(int(d.subs(values)) if hasattr(d, "subs") else d for d in symbolic) == expected, symbolic


class _CroppedUNet(torch.nn.Module):
    """Two levels of the 2015 U-Net: valid convolutions, the skip centre-cropped to the upsampled map by slicing
    at ``(H_skip - H_up) // 2``, which the export computes with Shape, Sub and Div."""

    def __init__(self) -> None:
        super().__init__()
        conv = torch.nn.Conv2d
        self.down = torch.nn.Sequential(conv(1, 4, 3), torch.nn.ReLU(), conv(4, 4, 3), torch.nn.ReLU())
        self.low = torch.nn.Sequential(torch.nn.MaxPool2d(2), conv(4, 8, 3), torch.nn.ReLU(), conv(8, 8, 3))
        self.up = torch.nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.out = conv(8, 2, 3)

    def forward(self, x: Any) -> Any:
        skip = self.down(x)
        up = self.up(self.low(skip))
        dh, dw = (skip.shape[2] - up.shape[2]) // 2, (skip.shape[3] - up.shape[3]) // 2
        return self.out(torch.cat([skip[:, :, dh : dh + up.shape[2], dw : dw + up.shape[3]], up], 1))


def test_a_cropped_unet_exported_with_dynamic_sizes_plans_as_the_torch_module_does() -> None:
    """The crop's bounds are differences of sizes of unknown sign for sympy: the plan follows them as they are
    for large inputs, holding where they are in range, so its valid sizes are the torch module's and ONNX
    Runtime's (the Slice was refused, then planned with clamps no solver took apart)."""
    module = _CroppedUNet()
    model = onnx.load_from_string(_export(module, (1, 1, 28, 28), True))
    session = _session(model.SerializeToString())
    H = convcalc.symbols("H")
    solution = convcalc.plan(model, (1, 1, H, H)).valid_sizes(H)
    assert solution == convcalc.plan(module, (1, 1, H, H)).valid_sizes(H)
    symbolic = convcalc.plan(model, (1, 1, H, H)).output_shape
    for h in range(1, 41):
        expected = _check_size(model, session, (1, 1, h, h))
        assert (h in solution) == (expected is not None), h
        if expected is not None:
            assert tuple(int(d.subs(H, h)) if hasattr(d, "subs") else d for d in symbolic) == expected


# --------------------------------------------------------------------------- #
# matrix products: MACs as the torch reader counts ``a @ b``, whichever operand is a weight
# --------------------------------------------------------------------------- #


class _Attention(torch.nn.Module):
    def __init__(self, embed: int = 16) -> None:
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(embed, embed) for _ in range(3))

    def forward(self, x: Any) -> Any:
        q, k, v = self.q(x), self.k(x), self.v(x)
        return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


class _WeightOnTheLeft(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(6, 16))

    def forward(self, x: Any) -> Any:
        return self.w @ x.transpose(-2, -1)


class _VectorOnTheLeft(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(10))

    def forward(self, x: Any) -> Any:
        return self.w @ x


class _Gram(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x @ x.transpose(-2, -1)


class _GramOfRows(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        rows = x.flatten(1)
        return torch.mm(rows, rows.t())  # exported as a Gemm of two activations


class _WeightTimesRows(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(6, 160))

    def forward(self, x: Any) -> Any:
        return torch.mm(self.w, x.flatten(1).t())  # exported as a Gemm whose A is the weight


_PRODUCTS = {
    "attention": (_Attention(), ("macs", "flops", "fvcore", "torchinfo")),
    "weight @ activation": (_WeightOnTheLeft(), ("macs", "macs+bias", "flops", "fvcore", "ptflops")),
    "vector @ activation": (_VectorOnTheLeft(), ("macs", "macs+bias", "flops", "fvcore", "ptflops")),
    "activation @ activation": (_Gram(), ("macs", "macs+bias", "flops", "fvcore", "ptflops", "torchinfo")),
    "Gemm of activations": (_GramOfRows(), ("macs", "macs+bias", "flops", "fvcore", "ptflops", "torchinfo")),
    "Gemm with the weight as A": (_WeightTimesRows(), ("macs", "macs+bias", "flops", "fvcore", "ptflops")),
}


@pytest.mark.parametrize("name", sorted(_PRODUCTS))
def test_a_matrix_product_exported_to_onnx_counts_the_macs_of_the_torch_module(name: str) -> None:
    """MatMul of two activations, or of a constant on the left, counted 0; so did a Gemm whose B is not a constant,
    and a Gemm whose A is one was refused. (torchinfo is left out where torch holds the weight in no layer: it counts
    a layer's parameters, and the ONNX node holds the weight.)"""
    module, conventions = _PRODUCTS[name]
    shape = (3, 10, 16)
    model = _export(module, shape, False, fold=True)
    loaded = onnx.load_from_string(model)
    assert convcalc.plan(loaded, shape).output_shape == _ort_shape(_session(model), shape)
    for macs in conventions:
        theirs = convcalc.plan(module, shape, macs=macs).macs
        assert convcalc.plan(loaded, shape, macs=macs).macs == theirs, macs
    assert convcalc.plan(loaded, shape).macs > 0


class _ShuffleChain(torch.nn.Module):
    """PixelUnshuffle(2), a convolution, PixelShuffle(2) added back, then PixelUnshuffle(3): exported as Reshape
    nodes with -1, whose element counts split only at some sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.down, self.conv, self.up = torch.nn.PixelUnshuffle(2), torch.nn.Conv2d(4, 4, 1), torch.nn.PixelShuffle(2)
        self.last = torch.nn.PixelUnshuffle(3)

    def forward(self, x: Any) -> Any:
        return self.last(x + self.up(self.conv(self.down(x))))


@pytest.mark.parametrize("module", [torch.nn.PixelUnshuffle(2), _ShuffleChain()], ids=["unshuffle", "chain"])
def test_a_reshape_that_splits_a_symbolic_count_holds_where_it_divides(module: Any) -> None:
    """Reshape with -1 of H * W elements into parts of 2 * W gave H/2, with no condition: 7/2 at H = 7, where
    ONNX Runtime refuses; the plan now requires 2 to divide H, and takes it exactly where ONNX Runtime runs."""
    model = _export(module.eval(), (1, 1, 12, 12), dynamic=True)
    plan = convcalc.plan(onnx.load_from_string(model))
    session = _session(model)
    N, H, W = convcalc.symbols("N H W")
    for h in range(1, 26):
        for w in (6, 7, 12):
            sizes = {"N": 1, "H": h, "W": w}
            holds = all(c.holds(sizes) for c in plan.constraints)
            theirs = _ort_shape(session, (1, 1, h, w))
            ours = tuple(int(d.subs({N: 1, H: h, W: w})) if hasattr(d, "subs") else d for d in plan.output_shape)
            assert (ours if holds else None) == theirs, (h, w, plan.constraints)


# --------------------------------------------------------------------------- #
# Weights computed from initializers: a Cast, weight_norm's norm and scale, a Transpose of a weight
# --------------------------------------------------------------------------- #


def _weight_normed() -> torch.nn.Module:
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(3, 8, 3))
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 5))


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_weights_computed_from_initializers_count_at_the_layer_that_reads_them(opset: int) -> None:
    # without constant folding every weight reaches its layer through nodes of constants only (a Transpose of a
    # Linear's weight, weight_norm's ReduceL2, Div and Mul): their parameters were dropped with those nodes
    module = _weight_normed().eval()
    model = torch_to_onnx(module, (2, 3, 8, 8), opset=opset, fold=False)
    plan = convcalc.plan(onnx.load_from_string(model))
    assert plan.total_params == sum(p.numel() for p in module.parameters())
    assert plan.output_shape == _ort_shape(_session(model), (2, 3, 8, 8)) == (2, 5)
    assert plan.macs == 8 * 27 * 36 + 288 * 5


def test_a_weight_whose_shape_the_graph_reads_first_is_counted_at_its_layer() -> None:
    # the output's sizes are put together from the input's batch and the weight's columns before the MatMul reads
    # the weight: the Shape of the weight read none of its values, so the Concat of sizes did not count it (it did,
    # and its 12 parameters were dropped with the shape arithmetic, which has no row)
    one = numpy_helper.from_array(np.array([1], np.int64), "one")
    zero = numpy_helper.from_array(np.array([0], np.int64), "zero")
    two = numpy_helper.from_array(np.array([2], np.int64), "two")
    weight = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    nodes = [
        helper.make_node("Shape", ["x"], ["sx"]),
        helper.make_node("Shape", ["w"], ["sw"]),
        helper.make_node("Slice", ["sx", "zero", "one"], ["batch"]),
        helper.make_node("Slice", ["sw", "one", "two"], ["columns"]),
        helper.make_node("Concat", ["batch", "columns"], ["sizes"], axis=0),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("Reshape", ["y", "sizes"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [one, zero, two, weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    plan = convcalc.plan(model, (2, 4))
    assert plan.output_shape == _ort_shape(_session(model.SerializeToString()), (2, 4)) == (2, 3)
    assert [(r.name, r.params) for r in plan.rows if r.params] == [("MatMul_5", 12)]
    assert plan.total_params == 12


class _LearnedQueries(torch.nn.Module):
    """A second output that is a weight expanded to the batch (a detector's learned queries)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries = torch.nn.Parameter(torch.randn(1, 5, 7))
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        return self.conv(x), self.queries.expand(x.shape[0], -1, -1)


@pytest.mark.parametrize("dynamic", [False, True])
def test_a_weight_an_output_returns_without_the_input_s_values_is_counted(dynamic: bool) -> None:
    # no node reads the queries beside the input's values, so none counted them: 112 parameters of 147
    module = _LearnedQueries().eval()
    model = onnx.load_from_string(torch_to_onnx(module, (2, 3, 8, 8), axes={0: "B"} if dynamic else None))
    plan = convcalc.plan(model, (2, 3, 8, 8))
    assert plan.output_shapes == ((2, 4, 6, 6), (2, 5, 7))
    assert plan.total_params == sum(p.numel() for p in module.parameters()) == 147


def test_a_float16_weight_cast_for_its_layer_is_counted() -> None:
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float16), "w16")
    ratio = numpy_helper.from_array(np.array(0.5, np.float32), "ratio")
    nodes = [
        helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Dropout", ["c", "ratio"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight, ratio],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    plan = convcalc.plan(model)
    assert plan.total_params == 216  # the weight's, not the dropout's ratio
    assert plan.output_shape == _ort_shape(_session(model.SerializeToString()), (1, 3, 8, 8)) == (1, 8, 6, 6)


class _CropsAndBranches(torch.nn.Module):
    """Two convolutions of the input, cropped to a common size and added: the windows' union, moved by the crop."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Conv2d(1, 1, 5), torch.nn.Conv2d(1, 1, 3, padding=1)
        self.step = step

    def forward(self, x: Any) -> Any:
        a, b = self.a(x), self.b(x)
        return (a[:, :, 1:, :: self.step] + b[:, :, 1 : a.size(2), : a.size(3) : self.step])[..., -3:]


@pytest.mark.parametrize("step", [1, 2])
def test_slices_and_branches_keep_the_receptive_field_torch_gives(step: int) -> None:
    # the same model read from torch (whose rule for crops and sums test_torch_index_ops checks against torch's
    # gradients) and from its ONNX export: each Slice moves the window, the Add takes the union
    module = _CropsAndBranches(step)
    model = onnx.load_from_string(_export(module, (1, 1, 14, 13), dynamic=False))
    from_onnx, from_torch = convcalc.plan(model), convcalc.plan(module, (1, 1, 14, 13))
    assert from_onnx.output_shape == from_torch.output_shape == tuple(module(torch.zeros(1, 1, 14, 13)).shape)
    field = from_torch.receptive_field
    assert field is not None
    assert field[0] == convcalc.ReceptiveField(6, 1, 0)  # [0, 5) and [-1, 2) from row 1: [0, 6)
    assert from_onnx.receptive_field == field


class _ConvSoftmax(torch.nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv, self.dim = torch.nn.Conv2d(1, 2, 3), dim

    def forward(self, x: Any) -> Any:
        return torch.softmax(self.conv(x), self.dim)


@pytest.mark.parametrize(
    ("dim", "opset", "keeps"),
    [
        (1, 17, True),  # over the channels
        (-1, 17, False),  # over the width
        (2, 13, False),
        (1, 11, False),  # before opset 13 a Softmax reads every axis from its axis on: channels, height and width
        (-1, 11, False),
    ],
)
def test_a_softmax_along_a_spatial_axis_ends_the_receptive_field(dim: int, opset: int, keeps: bool) -> None:
    module = _ConvSoftmax(dim)
    model = onnx.load_from_string(torch_to_onnx(module, (1, 1, 8, 8), opset=opset))
    plan = convcalc.plan(model)
    assert plan.output_shape == (1, 2, 6, 6)
    assert plan.receptive_field == ((convcalc.ReceptiveField(3, 1, 0),) * 2 if keeps else None)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_a_model_exported_in_another_dtype_is_planned_in_it(dtype: Any) -> None:
    # the plan's bytes per element are the graph input's, as ONNX Runtime holds the tensors
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 5)
    ).to(dtype)
    buffer = io.BytesIO()
    x = torch.zeros(1, 3, 8, 8, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), buffer, dynamo=False, input_names=["x"], output_names=["y"])
    model = onnx.load_from_string(buffer.getvalue())
    plan = convcalc.plan(model)
    initializers = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    assert plan.itemsize == dtype.itemsize
    assert plan.params_bytes == initializers == sum(p.numel() * p.element_size() for p in module.parameters())
    with torch.no_grad():  # (ONNX Runtime's CPU provider has no float16 convolution to run it with)
        assert (plan.input_bytes, plan.output_bytes) == (x.nbytes, module(x).nbytes)


class _SplitRows(torch.nn.Module):
    def __init__(self, sizes: Any) -> None:
        super().__init__()
        self.conv, self.sizes = torch.nn.Conv2d(1, 2, 3, stride=2, padding=1), sizes

    def forward(self, x: Any) -> Any:
        return self.conv(x).split(self.sizes, 2)[-1] * 1


@pytest.mark.parametrize("sizes", [4, [3, 5]])
def test_a_piece_of_a_split_has_the_field_torch_gives_it(sizes: Any) -> None:
    # a Split on a spatial axis moves each piece's windows by its start, as torch's split does
    module = _SplitRows(sizes)
    model = onnx.load_from_string(_export(module, (1, 1, 16, 16), dynamic=False))
    from_torch, from_onnx = convcalc.plan(module, (1, 1, 16, 16)), convcalc.plan(model)
    assert from_onnx.output_shape == from_torch.output_shape
    assert from_torch.receptive_field is not None
    assert from_torch.receptive_field[0].start > 0
    assert from_onnx.receptive_field == from_torch.receptive_field
