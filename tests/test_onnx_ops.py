"""ONNX shape operators one graph at a time, planned by convcalc and run by ONNX Runtime at several sizes.

Each graph takes ``x`` of shape (1, C, H, W) with dynamic H and W. For every size the numeric plan's output shape
must be ONNX Runtime's; the symbolic plan (H and W as symbols) must give ONNX Runtime's shape once the sizes are
substituted, or refuse with a ConvCalcError (never a wrong closed form).
"""

from __future__ import annotations

from typing import Any

import pytest

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ConvCalcError  # noqa: E402

C = 4
SIZES = [(4, 6), (6, 6), (8, 5)]


def _i64(*values: int) -> Any:
    return np.array(values, dtype=np.int64)


def _graph(nodes: list[Any], inits: dict[str, Any], opset: int = 17) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, name=k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def n(op: str, inputs: list[str], outputs: list[str] | None = None, **attrs: Any) -> Any:
    return helper.make_node(op, inputs, outputs or ["y"], **attrs)


F32 = np.float32
CASES: dict[str, Any] = {
    "Reshape with 0 and -1": _graph([n("Reshape", ["x", "s"])], {"s": _i64(0, 0, -1)}),
    "Reshape to 2-D": _graph([n("Reshape", ["x", "s"])], {"s": _i64(1, -1)}),
    "Flatten axis 2": _graph([n("Flatten", ["x"], axis=2)], {}),
    "Flatten axis 1": _graph([n("Flatten", ["x"], axis=1)], {}),
    "Transpose": _graph([n("Transpose", ["x"], perm=[0, 2, 3, 1])], {}),
    "Transpose reversed": _graph([n("Transpose", ["x"])], {}),
    "Unsqueeze then Squeeze": _graph([n("Unsqueeze", ["x", "a"], ["u"]), n("Squeeze", ["u", "a"])], {"a": _i64(2)}),
    "Unsqueeze two axes": _graph([n("Unsqueeze", ["x", "a"])], {"a": _i64(0, -1)}),
    "Concat with itself": _graph([n("Concat", ["x", "x"], axis=1)], {}),
    "Concat on a spatial axis": _graph([n("Concat", ["x", "x"], axis=-1)], {}),
    "Slice": _graph([n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(1), "en": _i64(-1), "ax": _i64(2)}),
    "Slice with steps": _graph(
        [n("Slice", ["x", "st", "en", "ax", "sp"])],
        {"st": _i64(0, 1), "en": _i64(1000, 1000), "ax": _i64(2, 3), "sp": _i64(2, 3)},
    ),
    "Slice backwards": _graph(
        [n("Slice", ["x", "st", "en", "ax", "sp"])], {"st": _i64(-1), "en": _i64(-1000), "ax": _i64(3), "sp": _i64(-1)}
    ),
    "Split channels": _graph([n("Split", ["x", "sp"], ["a", "b"], axis=1), n("Add", ["a", "b"])], {"sp": _i64(2, 2)}),
    "Split in halves": _graph([n("Split", ["x"], ["a", "b"], axis=1), n("Mul", ["a", "b"])], {}),
    "Shape, Gather and Reshape": _graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Gather", ["sh", "i0"], ["b"], axis=0),
            n("Unsqueeze", ["b", "a0"], ["b1"]),
            n("Concat", ["b1", "m1"], ["t"], axis=0),
            n("Reshape", ["x", "t"]),
        ],
        {"i0": np.array(0, dtype=np.int64), "a0": _i64(0), "m1": _i64(-1)},
    ),
    "Shape slice and ConstantOfShape": _graph(
        [
            n("Shape", ["x"], ["sh"], start=2),
            n("ConstantOfShape", ["sh"], ["z"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])),
            n("Add", ["x", "z"]),
        ],
        {},
    ),
    "Size": _graph([n("Size", ["x"], ["s"]), n("Cast", ["s"], ["f"], to=TensorProto.FLOAT), n("Mul", ["x", "f"])], {}),
    "Constant": _graph(
        [n("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.FLOAT, [1], [2.0])), n("Mul", ["x", "c"])],
        {},
    ),
    "Expand": _graph([n("Expand", ["x", "s"])], {"s": _i64(2, 1, 1, 1)}),
    "Tile": _graph([n("Tile", ["x", "r"])], {"r": _i64(1, 1, 2, 3)}),
    "ReduceMean keepdims": _graph([n("ReduceMean", ["x"], axes=[2, 3], keepdims=1)], {}, opset=13),
    "ReduceSum": _graph([n("ReduceSum", ["x", "a"], keepdims=0)], {"a": _i64(1)}),
    "ReduceMax all": _graph([n("ReduceMax", ["x"], keepdims=0)], {}, opset=13),
    "Pad constant": _graph([n("Pad", ["x", "p"])], {"p": _i64(0, 0, 1, 2, 0, 0, 3, 0)}),
    "Pad reflect": _graph([n("Pad", ["x", "p"], mode="reflect")], {"p": _i64(0, 0, 1, 1, 0, 0, 1, 1)}),
    "Pad edge": _graph([n("Pad", ["x", "p"], mode="edge")], {"p": _i64(0, 0, 2, 0, 0, 0, 0, 2)}),
    "Resize scales": _graph([n("Resize", ["x", "", "sc"], mode="nearest")], {"sc": np.array([1, 1, 2, 3], dtype=F32)}),
    "Resize sizes": _graph([n("Resize", ["x", "", "", "sz"], mode="nearest")], {"sz": _i64(1, C, 7, 3)}),
    "DepthToSpace": _graph([n("DepthToSpace", ["x"], blocksize=2)], {}),
    "SpaceToDepth then DepthToSpace": _graph(
        [n("SpaceToDepth", ["x"], ["d"], blocksize=1), n("DepthToSpace", ["d"], blocksize=2)], {}
    ),
    "unary chain": _graph(
        [n("Relu", ["x"], ["a"]), n("Sigmoid", ["a"], ["b"]), n("Neg", ["b"], ["c"]), n("Abs", ["c"])], {}
    ),
    "broadcast arithmetic": _graph(
        [n("Sub", ["x", "k"], ["a"]), n("Div", ["a", "k"], ["b"]), n("Max", ["b", "x"])],
        {"k": np.ones((1, C, 1, 1), dtype=F32)},
    ),
    "MatMul with a weight": _graph(
        [n("ReduceMean", ["x", "a"], ["m"], keepdims=0), n("MatMul", ["m", "w"])],
        {"a": _i64(2, 3), "w": np.ones((C, 3), dtype=F32)},
        opset=18,
    ),
    "Gemm after Flatten": _graph(
        [n("ReduceMean", ["x", "a"], ["m"], keepdims=0), n("Gemm", ["m", "w", "b"], transB=1)],
        {"a": _i64(2, 3), "w": np.ones((5, C), dtype=F32), "b": np.zeros(5, dtype=F32)},
        opset=18,
    ),
    "Constant ints as a shape": _graph([n("Constant", [], ["s"], value_ints=[1, C, -1]), n("Reshape", ["x", "s"])], {}),
    "Constant int": _graph(
        [
            n("Constant", [], ["k"], value_int=-1),
            n("Unsqueeze", ["k", "a"], ["s"]),
            n("Concat", ["t", "s"], ["u"], axis=0),
            n("Reshape", ["x", "u"]),
        ],
        {"a": _i64(0), "t": _i64(1, C)},
    ),
    "Constant floats": _graph([n("Constant", [], ["c"], value_floats=[2.0]), n("Mul", ["x", "c"])], {}),
    "Range as a shape": _graph(
        [
            n("Range", ["s", "l", "d"], ["r"]),
            n("Cast", ["r"], ["f"], to=TensorProto.FLOAT),
            n("Reshape", ["x", "t"], ["y0"]),
            n("Mul", ["y0", "f"]),
        ],
        {
            "s": np.array(0, dtype=np.int64),
            "l": np.array(3, dtype=np.int64),
            "d": np.array(1, dtype=np.int64),
            "t": _i64(1, -1, 1),
        },
    ),
    "scaled Resize": _graph(
        [n("Resize", ["x", "", "sc"], mode="nearest")], {"sc": np.array([1, 1, 1.5, 0.5], dtype=F32)}
    ),
    "Upsample (opset 9)": _graph(
        [n("Upsample", ["x", "sc"], mode="nearest")], {"sc": np.array([1, 1, 2, 2], dtype=F32)}, opset=9
    ),
    "Squeeze without axes": _graph(
        [n("ReduceMean", ["x", "a"], ["m"]), n("Squeeze", ["m"])], {"a": _i64(0, 2)}, opset=18
    ),
    "shape arithmetic as torch exports write it": _graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Gather", ["sh", "i1"], ["c"], axis=0),
            n("Gather", ["sh", "i2"], ["h"], axis=0),
            n("Gather", ["sh", "i3"], ["w"], axis=0),
            n("Mul", ["h", "w"], ["hw"]),
            n("Div", ["hw", "two"], ["half"]),
            n("Mul", ["c", "two"], ["c2"]),
            n("Sub", ["c2", "zero"], ["c3"]),
            n("Max", ["c3", "one"], ["c4"]),
            n("Unsqueeze", ["c4", "a0"], ["c5"]),
            n("Unsqueeze", ["half", "a0"], ["h5"]),
            n("Concat", ["lead", "c5", "h5"], ["t"], axis=0),
            n("Reshape", ["x", "t"]),
        ],
        {
            "i1": np.array(1, dtype=np.int64),
            "i2": np.array(2, dtype=np.int64),
            "i3": np.array(3, dtype=np.int64),
            "two": np.array(2, dtype=np.int64),
            "one": np.array(1, dtype=np.int64),
            "zero": np.array(0, dtype=np.int64),
            "a0": _i64(0),
            "lead": _i64(1),
        },
    ),
    "Dropout": _graph([n("Dropout", ["x"], ["y", "mask"])], {}, opset=13),
    "BatchNormalization": _graph(
        [n("BatchNormalization", ["x", "s", "b", "m", "v"])],
        {k: np.ones(C, dtype=F32) for k in ("s", "b", "m", "v")},
    ),
    "a square root of the shape": _graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Cast", ["sh"], ["f"], to=TensorProto.FLOAT),
            n("Sqrt", ["f"], ["r"]),
            n("Slice", ["r", "st", "en"], ["r0"]),
            n("Mul", ["x", "r0"]),
        ],
        {"st": _i64(0), "en": _i64(1)},
    ),
    "Slice from the back, past the front": _graph(
        [n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(-5), "en": _i64(1000), "ax": _i64(-1)}
    ),
    "Slice clamped": _graph([n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(-100), "en": _i64(2), "ax": _i64(-1)}),
}


def _ort(model: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return tuple(session.run(None, {"x": np.random.rand(*shape).astype(F32)})[0].shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_operator_plans_as_onnx_runtime_runs_it(name: str) -> None:
    model = CASES[name]
    H, W = convcalc.symbols("H W")
    try:
        symbolic: Any = convcalc.plan(model, (1, C, H, W))
    except ConvCalcError:
        symbolic = None  # refusing a closed form is allowed; a wrong one is not
    for h, w in SIZES:
        expected = _ort(model, (1, C, h, w))
        assert convcalc.plan(model, (1, C, h, w)).output_shape == expected, (name, h, w)
        if symbolic is not None:
            got = tuple(int(d.subs({H: h, W: w})) if hasattr(d, "subs") else d for d in symbolic.output_shape)
            assert got == expected, (name, h, w, symbolic.output_shape)


def test_initializers_used_as_shapes_are_not_parameters() -> None:
    assert convcalc.plan(CASES["Reshape with 0 and -1"], (1, C, 4, 4)).total_params == 0
    assert convcalc.plan(CASES["Gemm after Flatten"], (1, C, 4, 4)).total_params == 5 * C + 5


def test_an_index_computed_from_data_is_refused_naming_the_gather() -> None:
    model = _graph(
        [
            n("ReduceMax", ["x"], ["m"], keepdims=0),
            n("Cast", ["m"], ["i"], to=TensorProto.INT64),
            n("Shape", ["x"], ["sh"]),
            n("Gather", ["sh", "i"], ["g"], axis=0),
            n("Cast", ["g"], ["f"], to=TensorProto.FLOAT),
            n("Mul", ["x", "f"]),
        ],
        {},
        opset=13,
    )
    with pytest.raises(ConvCalcError, match="Gather indices must be constant"):
        convcalc.plan(model, (1, C, 4, 4))


def test_batch_normalization_over_other_channels_is_refused() -> None:
    wrong = {k: np.ones(C + 1, dtype=F32) for k in ("s", "b", "m", "v")}
    model = _graph([n("BatchNormalization", ["x", "s", "b", "m", "v"])], wrong)
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error type
        _ort(model, (1, C, 4, 4))
    with pytest.raises(ConvCalcError, match="BatchNormalization over 5 channels receives 4"):
        convcalc.plan(model, (1, C, 4, 4))


def test_a_transposed_convolution_whose_group_does_not_divide_its_input_channels_is_refused() -> None:
    """ONNX Runtime refuses C=4, group=3 ("Input channels C must be divisible by group"); convcalc did not."""
    model = _graph([n("ConvTranspose", ["x", "w"], group=3)], {"w": np.zeros((C, 2, 3, 3), dtype=F32)})
    with pytest.raises(Exception, match="divisible by group"):  # ONNX Runtime's own error type
        _ort(model, (1, C, 4, 4))
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (1, C, 4, 4))
    assert str(caught.value) == (
        "ConvTranspose_0 (ConvTranspose): group must divide the input channels C=4 (the weight's first axis), as "
        "ONNX requires: use a group of 1, 2 or 4. Received: group=3, weight=(4, 2, 3, 3)"
    )
    grouped = _graph([n("ConvTranspose", ["x", "w"], group=2)], {"w": np.zeros((C, 3, 3, 3), dtype=F32)})
    planned = convcalc.plan(grouped, (1, C, 5, 5))
    assert planned.output_shape == _ort(grouped, (1, C, 5, 5)) == (1, 6, 7, 7)
    assert planned.macs == 5 * 5 * C * 3 * 9  # every input position meets one group's (3, 3, 3) weights
