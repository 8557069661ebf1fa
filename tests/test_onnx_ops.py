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


def _graph(nodes: list[Any], inits: dict[str, Any], opset: int = 17, dims: tuple[Any, ...] = (1, C, "H", "W")) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
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
    "Reshape-1 (its shape an attribute)": _graph([n("Reshape", ["x"], shape=[1, -1])], {}, opset=4),
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
    "Gather at both ends of the channels": _graph([n("Gather", ["x", "i"], axis=1)], {"i": _i64(-C, C - 1)}),
    "Gather the first and the last of the shape": _graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Gather", ["sh", "first"], ["b"]),
            n("Gather", ["sh", "last"], ["w"]),
            n("Mul", ["b", "w"], ["bw"]),
            n("Cast", ["bw"], ["f"], to=TensorProto.FLOAT),
            n("Mul", ["x", "f"]),
        ],
        {"first": np.array(-4, dtype=np.int64), "last": np.array(3, dtype=np.int64)},
    ),
    "Split with a size of 0": _graph(
        [n("Split", ["x", "s"], ["a", "b"], axis=1), n("Concat", ["b", "a"], axis=1)], {"s": _i64(0, C)}, opset=13
    ),
    "AveragePool with a pad just under the kernel": _graph(
        [n("AveragePool", ["x"], kernel_shape=[3, 2], pads=[2, 0, 0, 1])], {}
    ),
    "Conv with a pad as large as the kernel": _graph(
        [n("Conv", ["x", "w"], pads=[3, 0, 0, 3])], {"w": np.ones((2, C, 3, 3), F32)}
    ),
    "Softmax on the first axis from the back": _graph([n("Softmax", ["x"], axis=-4)], {}),
    "LogSoftmax on the last axis": _graph([n("LogSoftmax", ["x"], axis=3)], {}),
    "Hardmax (opset 11)": _graph([n("Hardmax", ["x"], axis=1)], {}, opset=11),
    "Unsqueeze of axes from both ends": _graph([n("Unsqueeze", ["x", "a"])], {"a": _i64(-1, 1, 0)}),
    "Slice of two axes, one from the back": _graph(
        [n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(1, 0), "en": _i64(3, -1), "ax": _i64(-1, 2)}
    ),
    "Pad of two axes, one from the back": _graph(
        [n("Pad", ["x", "p", "", "ax"])], {"p": _i64(1, 0, 2, 1), "ax": _i64(-1, 2)}, opset=18
    ),
    "Resize with empty scales and sizes": _graph(
        [n("Resize", ["x", "r", "sc", "sz"], mode="nearest")],
        {"r": np.array([], F32), "sc": np.array([], F32), "sz": _i64(1, C, 3, 9)},
    ),
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


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            _graph([n("Upsample", ["x", "sc"], mode="nearest")], {"sc": np.array([1, 1, 0.5, 0.5], dtype=F32)}, 9),
            "Upsample_0 (Upsample): Upsample's scales must be at least 1; Resize takes smaller ones. Received: "
            "scales=(1.0, 1.0, 0.5, 0.5)",
        ),
        (
            _graph([n("Upsample", ["x"], mode="nearest", height_scale=2.0, width_scale=2.0)], {}, 1),
            "Upsample_0 (Upsample): convcalc follows Upsample with scales (opset 7 and later), not Upsample-1's "
            "height_scale and width_scale, which ONNX Runtime does not run either. Received: height_scale=2.0, "
            "width_scale=2.0",
        ),
        (
            _graph([n("Reshape", ["x"])], {}, 4),
            "Reshape_0 (Reshape): Reshape needs its target shape: an input, or the attribute shape before opset 5. "
            "Received: ",
        ),
    ],
)
def test_upsample_and_reshape_forms_onnx_runtime_refuses_are_refused(model: Any, message: str) -> None:
    with pytest.raises(ConvCalcError) as caught:
        convcalc.plan(model, (1, C, 4, 4))
    assert str(caught.value) == message
    with pytest.raises(Exception, match=r"ONNXRuntimeError"):  # ONNX Runtime refuses it too
        _ort(model, (1, C, 4, 4))


def test_initializers_used_as_shapes_are_not_parameters() -> None:
    assert convcalc.plan(CASES["Reshape with 0 and -1"], (1, C, 4, 4)).total_params == 0
    assert convcalc.plan(CASES["Gemm after Flatten"], (1, C, 4, 4)).total_params == 5 * C + 5


def test_an_index_computed_from_data_is_followed_until_a_size_needs_its_value() -> None:
    # Gather of the input's shape at an index read from the data: a tensor of one unknown value, which a Mul
    # broadcasts (the shape does not depend on it), and which a Reshape cannot take as a size
    chosen = [
        n("ReduceMax", ["x"], ["m"], keepdims=0),
        n("Cast", ["m"], ["i"], to=TensorProto.INT64),
        n("Shape", ["x"], ["sh"]),
        n("Gather", ["sh", "i"], ["g"], axis=0),
    ]
    scaled = _graph([*chosen, n("Cast", ["g"], ["f"], to=TensorProto.FLOAT), n("Mul", ["x", "f"])], {}, opset=13)
    assert convcalc.plan(scaled, (1, C, 4, 4)).output_shape == _ort(scaled, (1, C, 4, 4)) == (1, C, 4, 4)
    sized = [
        n("Unsqueeze", ["g", "ax"], ["g1"]),
        n("Concat", ["g1", "rest"], ["to"], axis=0),
        n("Reshape", ["x", "to"]),
    ]
    reshaped = _graph([*chosen, *sized], {"ax": np.array([0], np.int64), "rest": np.array([-1], np.int64)}, opset=13)
    with pytest.raises(ConvCalcError, match=r"Reshape_6 \(Reshape\): shape must be a constant"):
        convcalc.plan(reshaped, (1, C, 4, 4))


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


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
@pytest.mark.parametrize("bias", [(5,), (2,), (1, 4)])
def test_a_convolution_bias_of_another_length_than_its_output_channels_is_refused(
    op: str, bias: tuple[int, ...]
) -> None:
    """A bias of 5 values on 4 output channels was planned (and its 4 counted 5 parameters); ONNX Runtime refuses
    it, as it does a bias of another rank."""
    weights = {"w": np.ones((C, C, 3, 3), dtype=F32), "b": np.ones(bias, dtype=F32)}
    model = _graph([n(op, ["x", "w", "b"])], weights)
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error type
        _ort(model, (1, C, 5, 5))
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (1, C, 5, 5))
    assert str(caught.value) == (
        f"{op}_0 ({op}): the bias B must hold one value per output channel, a shape of (4,), as ONNX Runtime "
        f"requires. Received: B={bias}"
    )
    good = _graph([n(op, ["x", "w", "b"])], {**weights, "b": np.ones((C,), dtype=F32)})
    assert convcalc.plan(good, (1, C, 5, 5)).output_shape == _ort(good, (1, C, 5, 5))


# --------------------------------------------------------------------------- #
# shape arithmetic on symbolic sizes, clamping, rounding: each against ONNX Runtime
# --------------------------------------------------------------------------- #


def _ort_all(model: Any, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [tuple(o.shape) for o in session.run(None, {"x": np.random.rand(*shape).astype(F32)})]


def _at(shape: tuple[Any, ...], values: dict[Any, int]) -> tuple[int, ...]:
    return tuple(int(d.subs(values)) if hasattr(d, "subs") else int(d) for d in shape)


def _width(*nodes: Any) -> list[Any]:
    """``d`` = W, read from the input's shape as exporters write it, then ``nodes``."""
    return [n("Shape", ["x"], ["sh"]), n("Gather", ["sh", "i3"], ["d"], axis=0), *nodes]


_SCALARS = {k: _i64(v) for k, v in (("i3", 3), ("zero", 0), ("one", 1), ("two", 2), ("three", 3), ("five", 5))}
_SLICE_OF_W = {
    "end W // 2": ([n("Div", ["d", "two"], ["e"])], "zero", "e"),
    "end W - 1": ([n("Sub", ["d", "one"], ["e"])], "zero", "e"),
    "end (W + 2) // 3": ([n("Add", ["d", "two"], ["a"]), n("Div", ["a", "three"], ["e"])], "zero", "e"),
    "start W // 3, end 2 * (W // 3)": ([n("Div", ["d", "three"], ["s"]), n("Mul", ["s", "two"], ["e"])], "s", "e"),
    "end max(W - 5, 1)": ([n("Sub", ["d", "five"], ["a"]), n("Max", ["a", "one"], ["e"])], "zero", "e"),
    "start W // 2, to the end": ([n("Div", ["d", "two"], ["s"])], "s", "big"),
}


@pytest.mark.parametrize("name", sorted(_SLICE_OF_W))
def test_a_slice_bound_computed_from_the_shape_has_onnx_runtimes_closed_form(name: str) -> None:
    """``x[..., : x.shape[-1] // 2]`` exported with dynamic axes: the symbolic plan was the whole axis W."""
    ops, start, end = _SLICE_OF_W[name]
    inits = {**_SCALARS, "ax": _i64(3), "big": _i64(2**63 - 1)}
    model = _graph(_width(*ops, n("Slice", ["x", start, end, "ax"])), inits)
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, C, H, W)).output_shape
    for w in (1, 2, 3, 5, 6, 7, 10, 11):
        expected = _ort(model, (1, C, 3, w))
        assert convcalc.plan(model, (1, C, 3, w)).output_shape == expected, (name, w)
        assert _at(symbolic, {H: 3, W: w}) == expected, (name, w, symbolic)


def test_min_of_a_symbolic_size_is_not_a_constant() -> None:
    """Reshape to (1, C, H, min(W, 6), -1): convcalc took min(W, 6) for 6 whatever W."""
    model = _graph(
        _width(
            n("Gather", ["sh", "i2"], ["h"], axis=0),
            n("Min", ["d", "six"], ["e"]),
            n("Concat", ["lead", "h", "e", "m1"], ["t"], axis=0),
            n("Reshape", ["x", "t"]),
        ),
        {"i3": _i64(3), "i2": _i64(2), "six": _i64(6), "lead": _i64(1, C), "m1": _i64(-1)},
    )
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, C, H, W)).output_shape
    for w in (1, 3, 6, 12, 18):
        expected = _ort(model, (1, C, 5, w))
        assert convcalc.plan(model, (1, C, 5, w)).output_shape == expected, w
        assert _at(symbolic, {H: 5, W: w}) == expected, (w, symbolic)


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [(-100, -(2**63), -1), (-6, -100, -1), (100, -100, -2), (-1, -(2**63), -3), (10, 0, -1), (-100, 100, 2)],
)
def test_a_slice_clamps_its_start_as_onnx_does_for_either_step_sign(start: int, end: int, step: int) -> None:
    """A backward slice clamps its start to [0, size - 1] (Python clamps it to -1 and picks nothing)."""
    model = _graph(
        [n("Slice", ["x", "st", "en", "ax", "sp"])],
        {"st": _i64(start), "en": _i64(end), "ax": _i64(3), "sp": _i64(step)},
    )
    for w in (1, 4, 5, 9):
        assert convcalc.plan(model, (1, C, 2, w)).output_shape == _ort(model, (1, C, 2, w)), w


def test_a_backward_slice_of_the_shape_picks_what_onnx_picks() -> None:
    """The same clamping on values: the shape's first element, from a start before the front, reshapes x."""
    model = _graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Slice", ["sh", "st", "en", "ax", "sp"], ["first"]),
            n("Concat", ["first", "m1"], ["t"], axis=0),
            n("Reshape", ["x", "t"]),
        ],
        {"st": _i64(-100), "en": _i64(-(2**63)), "ax": _i64(0), "sp": _i64(-1), "m1": _i64(-1)},
    )
    assert convcalc.plan(model, (1, C, 3, 5)).output_shape == _ort(model, (1, C, 3, 5)) == (1, C * 15)


def test_resize_scales_round_in_float32_as_onnx_runtime_does() -> None:
    """0.7 in float32 is a little less than 0.7, yet 10 * 0.7 is 7 in float32: floor through float64 gave 6."""
    rng = np.random.default_rng(3)
    scales = [(0.7, 2.3), (1.1, 0.3), (1.9, 2.6), *(tuple(float(v) for v in rng.uniform(0.2, 4, 2)) for _ in range(8))]
    for a, b in scales:
        model = _graph([n("Resize", ["x", "", "sc"], mode="nearest")], {"sc": np.array([1, 1, a, b], dtype=F32)})
        for h in range(5, 60, 7):
            assert convcalc.plan(model, (1, C, h, 64 - h)).output_shape == _ort(model, (1, C, h, 64 - h)), (a, b, h)
    H, W = convcalc.symbols("H W")
    model = _graph([n("Resize", ["x", "", "sc"], mode="nearest")], {"sc": np.array([1, 1, 0.7, 2.3], dtype=F32)})
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (1, C, H, W))
    assert str(caught.value) == (
        "Resize_0 (Resize): convcalc follows a Resize scale of a symbolic size only where the scale is a number of "
        "few binary digits (2, 0.5, 1.5, 0.25, ...); ONNX Runtime rounds 0.699999988079071 * size in float32, which "
        "has no closed form: give sizes, or plan numeric input sizes. Received: scales=0.699999988079071"
    )


def test_resize_scales_of_few_binary_digits_have_a_closed_form() -> None:
    model = _graph([n("Resize", ["x", "", "sc"], mode="nearest")], {"sc": np.array([1, 1, 0.75, 1.5], dtype=F32)})
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, C, H, W)).output_shape
    for h in range(2, 40, 3):
        expected = _ort(model, (1, C, h, h + 1))
        assert convcalc.plan(model, (1, C, h, h + 1)).output_shape == expected
        assert _at(symbolic, {H: h, W: h + 1}) == expected


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_resize_keeps_the_aspect_ratio_as_onnx_runtime_does(policy: str) -> None:
    """keep_aspect_ratio_policy (opset 18) was ignored: (8, 5) to sizes (6, 6) is (6, 4) or (10, 6)."""
    rng = np.random.default_rng(4)
    for sizes in ((6, 6), *(tuple(int(v) for v in rng.integers(1, 30, 2)) for _ in range(6))):
        model = _graph(
            [n("Resize", ["x", "", "", "sz"], axes=[2, 3], keep_aspect_ratio_policy=policy)],
            {"sz": _i64(*sizes)},
            opset=18,
        )
        for h, w in ((8, 5), (3, 17), (20, 20), (9, 2)):
            assert convcalc.plan(model, (1, C, h, w)).output_shape == _ort(model, (1, C, h, w)), (sizes, h, w)
    H, W = convcalc.symbols("H W")
    with pytest.raises(convcalc.SpecError, match=f"keep_aspect_ratio_policy={policy} on numeric sizes only"):
        convcalc.plan(model, (1, C, H, W))


def test_a_matmul_of_two_constants_has_their_broadcast_shape() -> None:
    """a (2, 1, 4, 3) @ b (3, 5) is (2, 1, 4, 5); convcalc gave it shape () and lost the batch of 2."""
    model = _graph(
        [n("MatMul", ["a", "b"], ["m"]), n("Add", ["x", "m"])],
        {"a": np.ones((2, 1, 4, 3), dtype=F32), "b": np.ones((3, 5), dtype=F32)},
    )
    assert convcalc.plan(model, (1, C, 4, 5)).output_shape == _ort(model, (1, C, 4, 5)) == (2, C, 4, 5)


def test_a_squeeze_without_axes_of_a_size_that_may_be_1_is_refused() -> None:
    model = _graph([n("Squeeze", ["x"])], {}, opset=13)
    for h in (1, 3):
        assert convcalc.plan(model, (1, C, h, 5)).output_shape == _ort(model, (1, C, h, 5))
    H, W = convcalc.symbols("H W")
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (1, C, H, W))
    assert str(caught.value) == (
        "Squeeze_0 (Squeeze): a Squeeze without axes drops every axis of size 1, and axis 2 of size H may be 1 or "
        "not: give axes, or a number for that size (input shape (1, 4, H, W)). Received: axes=None"
    )


def test_every_graph_output_is_in_output_shapes_in_the_graphs_order() -> None:
    graph = helper.make_graph(
        [n("GlobalAveragePool", ["x"], ["z"]), n("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "H", "W"])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("y", "z")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    planned = convcalc.plan(model, (1, C, 4, 5))
    assert list(planned.output_shapes) == _ort_all(model, (1, C, 4, 5)) == [(1, C, 4, 5), (1, C, 1, 1)]
    assert planned.output_shape == (1, C, 4, 5)
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(model, (1, C, H, W)).output_shapes == ((1, C, H, W), (1, C, 1, 1))


def test_a_float_range_has_onnx_lengths() -> None:
    """Range(0.0, 5.0, 1.0) then Add: a TypeError escaped."""
    for start, limit, delta, w in ((0.0, 5.0, 1.0, 5), (0.5, 3.0, 0.5, 5), (4.0, 0.0, -1.5, 3), (0.0, 1.0, 0.25, 4)):
        model = _graph(
            [n("Range", ["s", "l", "d"], ["r"]), n("Add", ["x", "r"])],
            {"s": np.array(start, dtype=F32), "l": np.array(limit, dtype=F32), "d": np.array(delta, dtype=F32)},
        )
        assert convcalc.plan(model, (1, C, 2, w)).output_shape == _ort(model, (1, C, 2, w)), (start, limit, delta)


def test_a_gather_index_is_checked_where_the_size_of_its_axis_is_known() -> None:
    """Gather(x, [5], axis=2): ONNX Runtime refuses H <= 5; with H a symbol convcalc plans it, the size unchecked."""
    model = _graph([n("Gather", ["x", "i"], axis=2)], {"i": _i64(5)})
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, C, H, W))
    for h in (6, 9):
        assert _at(symbolic.output_shape, {H: h, W: 5}) == _ort(model, (1, C, h, 5)) == (1, C, 1, 5)
        assert convcalc.plan(model, (1, C, h, 5)).output_shape == (1, C, 1, 5)
    with pytest.raises(Exception, match="out of data bounds"):  # ONNX Runtime's own error type
        _ort(model, (1, C, 5, 5))
    with pytest.raises(convcalc.ShapeError, match="got index 5: it needs a size of at least 6 there"):
        convcalc.plan(model, (1, C, 5, 5))


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_split_by_num_outputs_gives_onnx_runtimes_parts_or_refuses_where_it_does(parts: int) -> None:
    """ceil(W / parts) to each output but the last, which takes the rest: refused where that is negative."""
    names = [f"o{j}" for j in range(parts)]
    graph = helper.make_graph(
        [n("Split", ["x"], names, axis=3, num_outputs=parts)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, 2, "W"])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in names],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    for w in range(1, 10):
        try:
            expected: Any = _ort_all(model, (1, C, 2, w))
        except Exception:  # ONNX Runtime's own error types
            expected = None
        if expected is None:
            with pytest.raises(convcalc.ShapeError, match=f"num_outputs={parts} splits axis 3 of size {w}"):
                convcalc.plan(model, (1, C, 2, w))
        else:
            assert list(convcalc.plan(model, (1, C, 2, w)).output_shapes) == expected, (parts, w)
    # at a symbolic W (it was refused: "only with explicit split sizes"): the same parts where the plan holds,
    # and the plan holds where ONNX Runtime runs
    W = convcalc.symbols("W")
    symbolic = convcalc.plan(model)
    valid = symbolic.valid_sizes()
    for w in range(1, 10):
        try:
            expected = _ort_all(model, (1, C, 2, w))
        except Exception:  # ONNX Runtime's own error types
            expected = None
        assert (w in valid) == (expected is not None), (parts, w)
        if expected is not None:
            assert [_at(shape, {W: w}) for shape in symbolic.output_shapes] == expected, (parts, w)


def test_a_tile_with_a_repeat_per_axis_missing_is_refused() -> None:
    model = _graph([n("Tile", ["x", "r"])], {"r": _i64(2, 1, 3)})
    with pytest.raises(Exception, match="incorrect number of values"):  # ONNX Runtime's own error type
        _ort(model, (1, C, 4, 5))
    with pytest.raises(convcalc.SpecError) as caught:
        convcalc.plan(model, (1, C, 4, 5))
    assert str(caught.value) == (
        "Tile_0 (Tile): repeats needs one value per axis of the input (4 for shape (1, 4, 4, 5)). "
        "Received: repeats=(2, 1, 3)"
    )


# --------------------------------------------------------------------------- #
# auto_pad of convolutions: symbolic and numeric plans against ONNX Runtime
# --------------------------------------------------------------------------- #

_CONV3D = {
    "SAME_UPPER, strides (1, 2, 2)": {"strides": [1, 2, 2], "auto_pad": "SAME_UPPER"},
    "SAME_LOWER, strides (2, 3, 1)": {"strides": [2, 3, 1], "auto_pad": "SAME_LOWER"},
    "SAME_UPPER, strides (3, 3, 3)": {"strides": [3, 3, 3], "auto_pad": "SAME_UPPER"},
    "pads and dilations": {"strides": [2, 1, 3], "dilations": [1, 2, 2], "pads": [0, 1, 2, 1, 0, 1]},
    "VALID, dilations": {"strides": [2, 2, 1], "dilations": [2, 1, 2], "auto_pad": "VALID"},
}


@pytest.mark.parametrize("name", sorted(_CONV3D))
def test_a_3d_convolution_has_one_closed_form_for_every_size(name: str) -> None:
    """Substituting D, H and W in the symbolic plan of a 3-D Conv gives the numeric plan and ONNX Runtime's shape."""
    model = _graph(
        [n("Conv", ["x", "w"], **_CONV3D[name])], {"w": np.ones((2, C, 1, 3, 2), F32)}, dims=(1, C, "D", "H", "W")
    )
    D, H, W = convcalc.symbols("D H W")
    symbolic = convcalc.plan(model, (1, C, D, H, W)).output_shape
    partly = convcalc.plan(model, (1, C, 3, H, W)).output_shape
    for d, h, w in ((2, 6, 5), (3, 7, 9), (5, 8, 8), (6, 11, 7), (9, 13, 10)):
        expected = _ort(model, (1, C, d, h, w))
        assert convcalc.plan(model, (1, C, d, h, w)).output_shape == expected, (name, d, h, w)
        assert _at(symbolic, {D: d, H: h, W: w}) == expected, (name, d, h, w, symbolic)
        if d == 3:
            assert _at(partly, {H: h, W: w}) == expected, (name, h, w, partly)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "output_padding"),
    [(1, 3, 1, 0), (1, 3, 1, 2), (2, 4, 1, 1), (2, 4, 2, 0), (2, 5, 2, 1), (3, 2, 1, 0), (1, 1, 1, 0), (3, 3, 1, 0)],
)
def test_a_transposed_convolution_pads_same_as_onnx_runtime_does(
    auto_pad: str, kernel: int, stride: int, dilation: int, output_padding: int
) -> None:
    """ORT pads the full output s * (i - 1) + output_padding + extent down to i * s; where that is larger than the
    full output (a kernel smaller than the stride) it keeps the full output: convcalc gave i * s."""
    model = _graph(
        [
            n(
                "ConvTranspose",
                ["x", "w"],
                strides=[stride, 2],
                dilations=[dilation, 1],
                output_padding=[output_padding, 0],
                auto_pad=auto_pad,
            )
        ],
        {"w": np.ones((C, 3, kernel, 1), F32)},
    )
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model, (1, C, H, W)).output_shape
    for h, w in ((1, 1), (4, 5), (7, 2), (10, 9)):
        expected = _ort(model, (1, C, h, w))
        assert convcalc.plan(model, (1, C, h, w)).output_shape == expected, (h, w)
        assert _at(symbolic, {H: h, W: w}) == expected, (h, w, symbolic)
        assert expected[2] == min(h * stride, stride * (h - 1) + output_padding + (kernel - 1) * dilation + 1)
        assert expected[3] == w * 2 - 1  # kernel 1, stride 2: the full output again


def test_a_transposed_convolution_with_a_kernel_smaller_than_the_stride_keeps_its_full_output() -> None:
    model = _graph(
        [n("ConvTranspose", ["x", "w"], strides=[3, 3], auto_pad="SAME_UPPER")], {"w": np.ones((C, 3, 1, 1), F32)}
    )
    assert convcalc.plan(model, (1, C, 4, 5)).output_shape == _ort(model, (1, C, 4, 5)) == (1, 3, 10, 13)
    H, W = convcalc.symbols("H W")
    assert convcalc.plan(model, (1, C, H, W)).output_shape == (1, 3, 3 * H - 2, 3 * W - 2)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
@pytest.mark.parametrize("dilations", [(1, 1), (2, 1), (1, 2), (3, 3)])
@pytest.mark.parametrize("strides", [(1, 1), (2, 1), (3, 2)])
def test_a_convolution_is_refused_with_dilations_and_same_padding_where_onnx_runtime_refuses_it(
    auto_pad: str, dilations: tuple[int, int], strides: tuple[int, int]
) -> None:
    """ORT's Conv refuses auto_pad SAME_* with any dilation other than 1, whatever the stride and size."""
    model = _graph(
        [n("Conv", ["x", "w"], strides=list(strides), dilations=list(dilations), auto_pad=auto_pad)],
        {"w": np.ones((2, C, 2, 3), F32)},
    )
    refused = auto_pad.startswith("SAME") and dilations != (1, 1)
    H, W = convcalc.symbols("H W")
    for h, w in ((7, 9), (8, 8), (13, 10)):
        if refused:
            with pytest.raises(Exception, match="Dilation not supported for AutoPadType"):  # ORT's own error type
                _ort(model, (1, C, h, w))
            with pytest.raises(convcalc.SpecError, match="refuses dilations with auto_pad"):
                convcalc.plan(model, (1, C, h, w))
        else:
            assert convcalc.plan(model, (1, C, h, w)).output_shape == _ort(model, (1, C, h, w))
    if refused:
        with pytest.raises(convcalc.SpecError, match="refuses dilations with auto_pad"):
            convcalc.plan(model, (1, C, H, W))


def _flat_gemm(c: Any) -> Any:
    return _graph([n("Flatten", ["x"], ["f"]), n("Gemm", ["f", "b", "c"])], {"b": np.ones((C * 20, 5), F32), "c": c})


def _split_into_two(sizes: Any) -> Any:
    return _graph([n("Split", ["x", "s"], ["a", "b"], axis=1), n("Concat", ["a", "b"], axis=1)], {"s": sizes}, opset=13)


INVALID: dict[str, tuple[Any, tuple[int, ...], str]] = {
    "DepthToSpace of channels not divisible by blocksize squared": (
        _graph([n("DepthToSpace", ["x"], blocksize=3)], {}),
        (1, C, 4, 4),
        "DepthToSpace_0 (DepthToSpace): DepthToSpace with blocksize 3 needs channels divisible by 9, got 4. "
        "Received: input_shape=(1, 4, 4, 4)",
    ),
    "SpaceToDepth of an odd height": (
        _graph([n("SpaceToDepth", ["x"], blocksize=2)], {}),
        (1, C, 5, 4),
        "SpaceToDepth_0 (SpaceToDepth): SpaceToDepth with blocksize 2 needs a size divisible by 2 on axis 2, got 5. "
        "Received: input_shape=(1, 4, 5, 4)",
    ),
    "Split of 7 into 2 equal parts": (
        _graph([n("Split", ["x"], ["a", "b"], axis=2), n("Add", ["a", "b"])], {}, opset=13),
        (1, C, 7, 4),
        "Split_0 (Split): Split into 2 equal parts needs a size divisible by 2 on axis 2, got 7. "
        "Received: input_shape=(1, 4, 7, 4)",
    ),
    "Gemm with a C that does not broadcast": (
        _flat_gemm(np.ones(3, F32)),
        (1, C, 4, 5),
        "Gemm_1 (Gemm): C of shape (3,) does not broadcast to (1, 5): axis 1 has 5, C 3. Received: input_shape=(1, 5)",
    ),
    "Conv kernel_shape other than the weight's": (
        _graph([n("Conv", ["x", "w"], kernel_shape=[2, 2])], {"w": np.ones((2, C, 3, 3), F32)}),
        (1, C, 6, 6),
        "Conv_0 (Conv): kernel_shape must be the weight's spatial shape (3, 3) (weight (2, 4, 3, 3)). "
        "Received: kernel_shape=(2, 2)",
    ),
    "PRelu slope that does not broadcast": (
        _graph([n("PRelu", ["x", "s"])], {"s": np.ones((2, 1, 1), F32)}),
        (1, C, 4, 5),
        "PRelu_0 (PRelu): shapes (1, 4, 4, 5) and (2, 1, 1) do not broadcast on axis 1. "
        "Received: input_shape=(1, 4, 4, 5)",
    ),
    "LayerNormalization scale of another size": (
        _graph([n("LayerNormalization", ["x", "s"], axis=-1)], {"s": np.ones(4, F32)}),
        (1, C, 4, 5),
        "LayerNormalization_0 (LayerNormalization): scale of shape (4,) does not broadcast to (1, 4, 4, 5): axis 3 "
        "has 5, scale 4. Received: input_shape=(1, 4, 4, 5)",
    ),
    "Conv with dilations and auto_pad SAME": (
        _graph(
            [n("Conv", ["x", "w"], strides=[2, 2], dilations=[1, 2], auto_pad="SAME_LOWER")],
            {"w": np.ones((2, C, 3, 3), F32)},
        ),
        (1, C, 7, 9),
        "Conv_0 (Conv): ONNX Runtime's Conv refuses dilations with auto_pad SAME_LOWER (Dilation not supported for "
        "AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER): use dilations of 1, or auto_pad NOTSET with explicit "
        "pads. Received: auto_pad='SAME_LOWER', dilations=(1, 2)",
    ),
    "ConvTranspose output_padding as large as the stride": (
        _graph(
            [n("ConvTranspose", ["x", "w"], strides=[2, 2], dilations=[3, 3], output_padding=[2, 0])],
            {"w": np.ones((C, 2, 3, 3), F32)},
        ),
        (1, C, 4, 5),
        "ConvTranspose_0 (ConvTranspose): output_padding on spatial axis 0 must lie in [0, 1] (below the stride 2), "
        "as ONNX Runtime requires. Received: output_padding=(2, 0), strides=(2, 2)",
    ),
    "ConvTranspose output_shape with the batch and channels": (
        _graph(
            [n("ConvTranspose", ["x", "w"], strides=[2, 2], output_shape=[1, 2, 10, 12])],
            {"w": np.ones((C, 2, 3, 3), F32)},
        ),
        (1, C, 4, 5),
        "ConvTranspose_0 (ConvTranspose): output_shape needs 2 values, the spatial sizes only (ONNX Runtime refuses "
        "the batch and channels there). Received: output_shape=(1, 2, 10, 12)",
    ),
    "Pad reflect as wide as the axis": (
        _graph([n("Pad", ["x", "p"], mode="reflect")], {"p": _i64(0, 0, 4, 0, 0, 0, 0, 0)}),
        (1, C, 4, 5),
        "Pad_0 (Pad): reflect pads 4, 0 need more than 4 elements on axis 2, it keeps 4. "
        "Received: input_shape=(1, 4, 4, 5)",
    ),
    "Split with a negative size": (
        _split_into_two(_i64(-1, 5)),
        (1, C, 4, 5),
        "Split_0 (Split): split sizes must be 0 or more on axis 1, sizes adding up to 4. Received: split=(-1, 5)",
    ),
    "Split with a negative size in the split attribute (opset 11)": (
        _graph([n("Split", ["x"], ["a", "b"], axis=1, split=[-1, 5]), n("Concat", ["a", "b"], axis=1)], {}, opset=11),
        (1, C, 4, 5),
        "Split_0 (Split): split sizes must be 0 or more on axis 1, sizes adding up to 4. Received: split=(-1, 5)",
    ),
    "Split with more sizes than outputs": (
        _split_into_two(_i64(1, 1, 2)),
        (1, C, 4, 5),
        "Split_0 (Split): split needs one size per output: 3 sizes for 2 outputs. Received: split=(1, 1, 2)",
    ),
    "Split with num_outputs other than its outputs": (
        _graph([n("Split", ["x"], ["a", "b"], axis=1, num_outputs=3), n("Concat", ["a", "b"], axis=1)], {}, opset=18),
        (1, C, 4, 5),
        "Split_0 (Split): num_outputs must be the node's number of outputs, 2. Received: num_outputs=3",
    ),
    "Split with num_outputs that leaves a negative last part": (
        _graph(
            [n("Split", ["x"], list("abcd"), axis=3, num_outputs=4), n("Concat", list("abcd"), axis=3)], {}, opset=18
        ),
        (1, C, 4, 5),
        "Split_0 (Split): num_outputs=4 splits axis 3 of size 5 into parts of 2 (ceil(5 / 4)), which leaves -1 for "
        "the last part: ONNX Runtime needs it 0 or more; give explicit split sizes, or a num_outputs or a size that "
        "leaves the last part 0 or more. Received: input_shape=(1, 4, 4, 5)",
    ),
    "Gather past the end of an axis": (
        _graph([n("Gather", ["x", "i"], axis=1)], {"i": _i64(C + 1)}),
        (1, C, 4, 5),
        "Gather_0 (Gather): indices must lie in [-4, 3] on axis 1 of size 4, got index 5: it needs a size of at "
        "least 6 there. Received: input_shape=(1, 4, 4, 5)",
    ),
    "Gather before the front of an axis": (
        _graph([n("Gather", ["x", "i"], axis=1)], {"i": _i64(0, -C - 1)}),
        (1, C, 4, 5),
        "Gather_0 (Gather): indices must lie in [-4, 3] on axis 1 of size 4, got index -5: it needs a size of at "
        "least 5 there. Received: input_shape=(1, 4, 4, 5)",
    ),
    "Gather past the end of the input's shape": (
        _graph(
            [n("Shape", ["x"], ["sh"]), n("Gather", ["sh", "i"], ["g"]), n("Reshape", ["x", "g"])], {"i": _i64(0, 4)}
        ),
        (1, C, 4, 5),
        "Gather_1 (Gather): indices must lie in [-4, 3] on axis 0 of size 4 (data shape (4,)). Received: indices=4",
    ),
    "ArgMax axis past the last": (
        _graph([n("ArgMax", ["x"], ["i"], axis=4), n("Cast", ["i"], to=TensorProto.FLOAT)], {}),
        (1, C, 4, 5),
        "ArgMax_0 (ArgMax): axis must lie in [-4, 3]. Received: axis=4",
    ),
    "Conv with a negative pad": (
        _graph([n("Conv", ["x", "w"], pads=[-1, 0, 0, 0])], {"w": np.ones((2, C, 3, 3), F32)}),
        (1, C, 6, 6),
        "Conv_0 (Conv): pads must not be negative (ONNX Runtime refuses them). Received: pads=(-1, 0, 0, 0)",
    ),
    "ConvTranspose with a negative pad": (
        _graph([n("ConvTranspose", ["x", "w"], pads=[0, 0, 0, -1])], {"w": np.ones((C, 2, 3, 3), F32)}),
        (1, C, 6, 6),
        "ConvTranspose_0 (ConvTranspose): pads must not be negative (ONNX Runtime refuses them). "
        "Received: pads=(0, 0, 0, -1)",
    ),
    "MaxPool with a negative pad": (
        _graph([n("MaxPool", ["x"], kernel_shape=[2, 2], pads=[-1, 0, 0, 0])], {}),
        (1, C, 6, 6),
        "MaxPool_0 (MaxPool): pads must not be negative (ONNX Runtime refuses them). Received: pads=(-1, 0, 0, 0)",
    ),
    "AveragePool with a pad as large as the kernel": (
        _graph([n("AveragePool", ["x"], kernel_shape=[3, 2], pads=[0, 0, 0, 2])], {}),
        (1, C, 6, 6),
        "AveragePool_0 (AveragePool): pads must be smaller than the kernel on each axis, as ONNX Runtime's pools "
        "require: spatial axis 1 has kernel 2, pads 0+2. Received: kernel_shape=(3, 2), pads=(0, 0, 0, 2)",
    ),
    "MaxPool with a pad as large as the kernel, dilated": (
        _graph([n("MaxPool", ["x"], kernel_shape=[2, 2], dilations=[2, 2], pads=[2, 0, 0, 0])], {}),
        (1, C, 6, 6),
        "MaxPool_0 (MaxPool): pads must be smaller than the kernel on each axis, as ONNX Runtime's pools "
        "require: spatial axis 0 has kernel 2, pads 2+0. Received: kernel_shape=(2, 2), pads=(2, 0, 0, 0)",
    ),
    "Softmax axis past the last": (
        _graph([n("Softmax", ["x"], axis=4)], {}),
        (1, C, 4, 5),
        "Softmax_0 (Softmax): axis must lie in [-4, 3]. Received: axis=4",
    ),
    "LogSoftmax axis before the first": (
        _graph([n("LogSoftmax", ["x"], axis=-5)], {}),
        (1, C, 4, 5),
        "LogSoftmax_0 (LogSoftmax): axis must lie in [-4, 3]. Received: axis=-5",
    ),
    "Hardmax axis past the last (opset 11)": (
        _graph([n("Hardmax", ["x"], axis=4)], {}, opset=11),
        (1, C, 4, 5),
        "Hardmax_0 (Hardmax): axis must lie in [-4, 3]. Received: axis=4",
    ),
    "LayerNormalization axis past the last": (
        _graph([n("LayerNormalization", ["x", "s"], axis=4)], {"s": np.ones(5, F32)}),
        (1, C, 4, 5),
        "LayerNormalization_0 (LayerNormalization): axis must lie in [-4, 3]. Received: axis=4",
    ),
    "Unsqueeze of one axis twice": (
        _graph([n("Unsqueeze", ["x", "a"])], {"a": _i64(1, 1)}),
        (1, C, 4, 5),
        "Unsqueeze_0 (Unsqueeze): axes names axis 1 more than once (each axis at most once, in [-6, 5]). "
        "Received: axes=(1, 1)",
    ),
    "Unsqueeze of one axis twice, once from the back": (
        _graph([n("Unsqueeze", ["x", "a"])], {"a": _i64(1, -5)}),
        (1, C, 4, 5),
        "Unsqueeze_0 (Unsqueeze): axes names axis 1 more than once (each axis at most once, in [-6, 5]). "
        "Received: axes=(1, -5)",
    ),
    "Slice of one axis twice": (
        _graph([n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(0, 1), "en": _i64(3, 4), "ax": _i64(2, 2)}),
        (1, C, 4, 5),
        "Slice_0 (Slice): axes names axis 2 more than once (each axis at most once, in [-4, 3]). Received: axes=(2, 2)",
    ),
    "Slice with fewer ends than starts": (
        _graph([n("Slice", ["x", "st", "en", "ax"])], {"st": _i64(0, 1), "en": _i64(3), "ax": _i64(2, 3)}),
        (1, C, 4, 5),
        "Slice_0 (Slice): starts, ends, axes and steps need as many values each (one per sliced axis). "
        "Received: starts=(0, 1), ends=(3,), axes=(2, 3), steps=(1, 1)",
    ),
    "Pad of one axis twice": (
        _graph([n("Pad", ["x", "p", "", "ax"])], {"p": _i64(1, 1, 1, 1), "ax": _i64(2, -2)}, opset=18),
        (1, C, 4, 5),
        "Pad_0 (Pad): axes names axis 2 more than once (each axis at most once, in [-4, 3]). Received: axes=(2, -2)",
    ),
    "Resize with scales and sizes": (
        _graph([n("Resize", ["x", "", "sc", "sz"])], {"sc": np.array([1, 1, 2, 2], F32), "sz": _i64(1, C, 8, 10)}),
        (1, C, 4, 5),
        "Resize_0 (Resize): Resize takes scales or sizes, not both: give the other as ''. "
        "Received: scales=(1.0, 1.0, 2.0, 2.0), sizes=(1, 4, 8, 10)",
    ),
    "Resize of one axis twice": (
        _graph([n("Resize", ["x", "", "sc"], axes=[2, 2])], {"sc": np.array([2, 2], F32)}, opset=18),
        (1, C, 4, 5),
        "Resize_0 (Resize): axes names axis 2 more than once (each axis at most once, in [-4, 3]). "
        "Received: axes=(2, 2)",
    ),
    "Resize to a size of 0": (
        _graph([n("Resize", ["x", "", "", "sz"])], {"sz": _i64(1, C, 0, 10)}),
        (1, C, 4, 5),
        "Resize_0 (Resize): sizes must be positive (axis 2). Received: sizes=(1, 4, 0, 10)",
    ),
    "Reshape to a size of -2": (
        _graph([n("Reshape", ["x", "s"])], {"s": _i64(1, -2, -1)}),
        (1, C, 4, 5),
        "Reshape_0 (Reshape): shape values must be -1, 0 or positive (shape[1] is -2). Received: shape=(1, -2, -1)",
    ),
    "Reshape with a 0 past the input's axes": (
        _graph([n("Reshape", ["x", "s"])], {"s": _i64(1, C, 20, 1, 0)}),
        (1, C, 4, 5),
        "Reshape_0 (Reshape): a 0 in shape copies the input's size on that axis, and shape[4] lies past the input's "
        "4 axes (input shape (1, 4, 4, 5)). Received: shape=(1, 4, 20, 1, 0)",
    ),
    "ConstantOfShape of a negative size": (
        _graph([n("ConstantOfShape", ["s"], ["z"]), n("Add", ["x", "z"])], {"s": _i64(-5)}),
        (1, C, 4, 5),
        "ConstantOfShape_0 (ConstantOfShape): shape must not hold a negative size. Received: shape=(-5,)",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_a_model_onnx_runtime_refuses_is_refused(name: str) -> None:
    model, shape, message = INVALID[name]
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error types
        _ort(model, shape)
    with pytest.raises(ConvCalcError) as caught:
        convcalc.plan(model, shape)
    assert str(caught.value) == message


# the refusals above whose input could fit (a size the input sets): ShapeError; the others are SpecError
_INPUT_DOES_NOT_FIT = {
    "SpaceToDepth of an odd height",
    "Split of 7 into 2 equal parts",
    "Gemm with a C that does not broadcast",
    "PRelu slope that does not broadcast",
    "LayerNormalization scale of another size",
    "Pad reflect as wide as the axis",
    "DepthToSpace of channels not divisible by blocksize squared",
    "Split with num_outputs that leaves a negative last part",
    "Gather past the end of an axis",
    "Gather before the front of an axis",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_a_refusal_is_a_shape_error_where_the_input_does_not_fit_and_a_spec_error_where_the_model_is_invalid(
    name: str,
) -> None:
    model, shape, _ = INVALID[name]
    with pytest.raises(Exception):  # noqa: B017, PT011 - ONNX Runtime's own error types
        _ort(model, shape)
    kind = convcalc.ShapeError if name in _INPUT_DOES_NOT_FIT else convcalc.SpecError
    with pytest.raises(kind):
        convcalc.plan(model, shape)


def test_a_fault_of_a_handler_is_still_a_convcalc_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from convcalc.onnx_reader import _graph as graph_module

    def broken(call: Any, args: list[Any]) -> Any:
        raise IndexError("tuple index out of range")

    monkeypatch.setitem(graph_module._HANDLERS, "Relu", broken)
    model = _graph([n("Relu", ["x"])], {})
    with pytest.raises(ConvCalcError) as caught:
        convcalc.plan(model, (1, C, 4, 4))
    assert str(caught.value) == (
        "Relu_0 (Relu): convcalc failed while reading this node (IndexError: tuple index out of range). This is a "
        "fault in convcalc, not in the model: please report it with the model. Received: op_type=Relu, opset=17"
    )


# Where ONNX Runtime departs from the specification, convcalc follows the specification (docs/howto/onnx.md)


def test_a_same_pool_with_a_dilation_follows_the_specification_not_onnx_runtime() -> None:
    from onnx import shape_inference

    model = _graph(
        [n("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], auto_pad="SAME_UPPER")],
        {},
        opset=13,
        dims=(1, C, 224, 224),
    )
    inferred = shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape.dim
    assert convcalc.plan(model, (1, C, 224, 224)).output_shape == tuple(d.dim_value for d in inferred)
    assert convcalc.plan(model, (1, C, 224, 224)).output_shape == (1, C, 112, 112)
    assert _ort(model, (1, C, 224, 224)) == (1, C, 111, 111)  # the undilated kernel's padding


def test_a_backward_slice_to_int64_max_follows_the_specification_not_onnx_runtime() -> None:
    from onnx.reference import ReferenceEvaluator

    model = _graph(
        [n("Slice", ["x", "s", "e", "a", "t"])],
        {"s": _i64(-3), "e": _i64(2**63 - 1), "a": _i64(3), "t": _i64(-1)},
        dims=(1, C, 4, 12),
    )
    (reference,) = ReferenceEvaluator(model).run(None, {"x": np.zeros((1, C, 4, 12), F32)})
    assert convcalc.plan(model, (1, C, 4, 12)).output_shape == reference.shape == (1, C, 4, 0)
    assert _ort(model, (1, C, 4, 12)) == (1, C, 4, 10)  # numpy's x[..., -3::-1]


_EMPTY = [n("Slice", ["x", "zero", "zero", "i3"], ["e"])]  # x[..., :0]: the width emptied inside the graph
_EMPTY_INITS = {"zero": _i64(0), "i3": _i64(3)}
_WINDOWS = {
    "Conv": ([n("Conv", ["e", "w"], kernel_shape=[1, 1])], {"w": np.ones((3, C, 1, 1), F32)}),
    "MaxPool with pads": ([n("MaxPool", ["e"], kernel_shape=[5, 5], pads=[2, 2, 2, 2])], {}),
    "AveragePool": ([n("AveragePool", ["e"], kernel_shape=[1, 1])], {}),
    "GlobalAveragePool": ([n("GlobalAveragePool", ["e"])], {}),
    "GlobalMaxPool": ([n("GlobalMaxPool", ["e"])], {}),
}


@pytest.mark.parametrize("name", sorted(_WINDOWS))
def test_a_window_over_an_empty_spatial_axis_is_refused_as_onnx_runtime_refuses_it(name: str) -> None:
    """ONNX Runtime's convolutions and pools take only a zero batch as empty ("Only N can be zero"); a pool whose
    pads cover the emptied axis was planned (1, 4, 2, 1)."""
    nodes, inits = _WINDOWS[name]
    model = _graph(_EMPTY + nodes, {**_EMPTY_INITS, **inits})
    with pytest.raises(Exception, match=r"(?i)invalid|zero|shape"):  # ONNX Runtime's own error class
        _ort(model, (1, C, 5, 6))
    with pytest.raises(convcalc.ShapeError, match=r"spatial axis 1 of the input is empty \(size 0\); ONNX Runtime"):
        convcalc.plan(model, (1, C, 5, 6))


def test_a_transposed_convolution_takes_an_empty_spatial_axis_as_onnx_runtime_does() -> None:
    nodes = [*_EMPTY, n("ConvTranspose", ["e", "w"], kernel_shape=[2, 2])]
    model = _graph(nodes, {**_EMPTY_INITS, "w": np.ones((C, 3, 2, 2), F32)})
    assert convcalc.plan(model, (1, C, 5, 6)).output_shape == _ort(model, (1, C, 5, 6)) == (1, 3, 6, 1)


def test_a_reshape_to_a_computed_size_requires_it_not_0() -> None:
    """``x.view(b, c, h // 2, 2, w)`` exported: the target ``floor(H/2)`` is 0 at H = 1, where Reshape
    (allowzero=0) copies the input's size instead and ONNX Runtime fails; the symbolic plan now requires it."""
    nodes = [
        n("Shape", ["x"], ["sh"]),
        n("Gather", ["sh", "i2"], ["h"], axis=0),
        n("Div", ["h", "two"], ["half"]),
        n("Unsqueeze", ["half", "ax0"], ["half1"]),
        n("Concat", ["lead", "half1", "tail"], ["target"], axis=0),
        n("Reshape", ["x", "target"]),
    ]
    inits = {"i2": np.array(2, np.int64), "two": np.array(2, np.int64), "ax0": _i64(0), "lead": _i64(1, C)}
    inits["tail"] = _i64(2, 6)
    model = _graph(nodes, inits, dims=(1, C, "H", 6))
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (1, C, H, 6))
    assert "Reshape_5 (axis 2): floor(H/2) >= 1 (computed reshape size not 0)" in [str(c) for c in plan.constraints]
    assert str(plan.valid_sizes()) == "H >= 2 and H ≡ 0 (mod 2)"
    for h in (2, 4, 8):
        want = _ort(model, (1, C, h, 6))
        assert _at(plan.output_shape, {H: h}) == want == convcalc.plan(model, (1, C, h, 6)).output_shape
    with pytest.raises(Exception):  # noqa: B017, PT011 (ONNX Runtime's own error class)
        _ort(model, (1, C, 1, 6))


# --------------------------------------------------------------------------- #
# Opsets before ONNX Runtime's kernels (below 7): the operator schemas' rules, checked with onnx's shape
# inference (which implements them); and weights kept as integers and cast to floats
# --------------------------------------------------------------------------- #


def _inferred(model: Any) -> tuple[int, ...]:
    out = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output[0]
    return tuple(d.dim_value for d in out.type.tensor_type.shape.dim)


@pytest.mark.parametrize(
    ("op", "b", "attrs"),
    [
        ("Add", (4,), {"broadcast": 1, "axis": 1}),  # the caffe2 bias add: B matched to A's channels
        ("Mul", (4, 3), {"broadcast": 1, "axis": 1}),
        ("Sub", (5,), {"broadcast": 1}),  # by default B matches A's last axes
        ("Add", (3, 5), {"broadcast": 1}),
        ("Div", (1,), {"broadcast": 1}),  # one element
        ("Add", (4, 3, 5), {"broadcast": 1}),
    ],
)
def test_binary_operators_before_opset_7_broadcast_as_their_schema_says(
    op: str, b: tuple[int, ...], attrs: dict[str, int]
) -> None:
    # read with numpy's broadcasting, (1, 4, 3, 5) + (4,) at axis 1 was refused and (1, 4, 3, 1) + (4,) gave
    # (1, 4, 3, 4)
    for shape in ((1, 4, 3, 5), (2, 4, 3, 5)):
        model = _graph([n(op, ["x", "b"], **attrs)], {"b": np.ones(b, F32)}, opset=6, dims=shape)
        model.ir_version = 3
        assert convcalc.plan(model, shape).output_shape == _inferred(model) == shape


def test_a_legacy_broadcast_that_does_not_match_is_refused() -> None:
    # the schema: B is a contiguous part of A's shape from axis (onnx's shape inference does not check it)
    model = _graph([n("Add", ["x", "b"], broadcast=1, axis=2)], {"b": np.ones(4, F32)}, opset=6, dims=(1, 4, 3, 5))
    with pytest.raises(ConvCalcError, match="from axis 2"):
        convcalc.plan(model, (1, 4, 3, 5))
    # without broadcast=1 the shapes are equal
    same = _graph([n("Add", ["x", "b"])], {"b": np.ones((1, 4, 3, 5), F32)}, opset=6, dims=(1, 4, 3, 5))
    assert convcalc.plan(same, (1, 4, 3, 5)).output_shape == (1, 4, 3, 5)
    unmatched = _graph([n("Add", ["x", "b"])], {"b": np.ones(4, F32)}, opset=6, dims=(1, 4, 3, 5))
    with pytest.raises(ConvCalcError, match="broadcast=0 before opset 7"):
        convcalc.plan(unmatched, (1, 4, 3, 5))


def test_concat_1_joins_on_axis_1_by_default() -> None:
    # Concat-1's schema: "Which axis to concat on. Default value is 1." (onnx's shape inference infers nothing)
    model = _graph([n("Concat", ["x", "x"])], {}, opset=3, dims=(1, 4, 3, 4))
    model.ir_version = 3
    assert convcalc.plan(model, (1, 4, 3, 4)).output_shape == (1, 8, 3, 4)


def test_integer_weights_cast_to_floats_are_parameters() -> None:
    # weight-only quantization: Cast(int8 W) * scale feeds the Conv; the int8 weights were not counted (16 of 232)
    rng = np.random.default_rng(0)
    inits = {
        "wq": rng.integers(-100, 100, (8, C, 3, 3)).astype(np.int8),
        "ws": np.full((8, 1, 1, 1), 0.02, F32),
        "b": np.zeros(8, F32),
        "idx": _i64(0, 2),  # an index, not a weight
    }
    nodes = [
        helper.make_node("Cast", ["wq"], ["wf"], to=TensorProto.FLOAT),
        n("Mul", ["wf", "ws"], ["wd"]),
        n("Conv", ["x", "wd", "b"], ["c"], kernel_shape=[3, 3]),
        n("Gather", ["c", "idx"], axis=1),
    ]
    model = _graph(nodes, inits, opset=13, dims=(1, C, 8, 8))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.zeros((1, C, 8, 8), F32)})
    plan = convcalc.plan(model, (1, C, 8, 8))
    assert plan.output_shape == out.shape == (1, 2, 6, 6)
    assert plan.total_params == 8 * C * 9 + 8 + 8


@pytest.mark.parametrize(
    ("stride", "kernel", "dilation", "output_padding"), [(2, 3, 1, 0), (3, 3, 1, 1), (4, 2, 1, 3), (1, 3, 2, 0)]
)
def test_conv_transpose_output_shape_as_far_as_onnx_runtime_takes_it(
    stride: int, kernel: int, dilation: int, output_padding: int
) -> None:
    # ONNX Runtime takes an output_shape up to stride - 1 past the full output, whatever output_padding says;
    # convcalc refused every one past the full output (H = 9, stride 2: 20 where 19 is full)
    w = np.ones((C, 3, kernel, kernel), F32)
    for target in (5, 12, 17, 20, 23):
        node = n(
            "ConvTranspose",
            ["x", "w"],
            strides=[stride, stride],
            dilations=[dilation, dilation],
            output_padding=[output_padding, 0],
            output_shape=[target, 4],
        )
        model = _graph([node], {"w": w}, opset=11, dims=(1, C, "H", 2))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        runs = []
        for h in range(1, 13):
            try:
                (out,) = session.run(None, {"x": np.zeros((1, C, h, 2), F32)})
            except Exception:  # ONNX Runtime refuses the size
                out = None
            try:
                planned: Any = convcalc.plan(model, (1, C, h, 2)).output_shape
            except ConvCalcError:
                planned = None
            assert planned == (None if out is None else out.shape), (target, h)
            if out is not None:
                runs.append(h)
        H = convcalc.symbols("H")
        solution = convcalc.plan(model, (1, C, H, 2)).valid_sizes(H)
        assert solution.values(12) == runs, target


def _run_all(model: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return tuple(tuple(a.shape) for a in session.run(None, {"x": np.zeros(shape, F32)}))


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_layer_normalization_s_mean_and_inverse_deviation(axis: int) -> None:
    # they were never set: a node or graph output reading them was "neither the graph input, an initializer nor an
    # earlier node's output"
    shape = (2, 5, 8)
    scale = np.ones(shape[axis:] if axis > 0 else shape[-1:], F32)
    nodes = [
        n("LayerNormalization", ["x", "s"], ["y", "mean", "isd"], axis=axis),
        n("Sub", ["y", "mean"], ["centred"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("centred", "mean", "isd")],
        [numpy_helper.from_array(scale, "s")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert convcalc.plan(model, shape).output_shapes == _run_all(model, shape)


def test_batch_normalization_s_running_statistics_in_training_mode() -> None:
    shape = (2, C, 5, 5)
    inits = {k: np.ones(C, F32) for k in ("s", "b", "m", "v")}
    node = n("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], training_mode=1)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("y", "rm", "rv")],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    assert convcalc.plan(model, shape).output_shapes == _run_all(model, shape) == (shape, (C,), (C,))


def test_an_input_without_a_shape_in_the_file_takes_the_one_given() -> None:
    # it was read as rank 0, and every input shape refused ("the ONNX input 'x' has rank 0")
    conv = n("Conv", ["x", "w"], kernel_shape=[3, 3])
    graph = helper.make_graph(
        [conv],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((4, C, 3, 3), F32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    for shape in ((1, C, 8, 8), (2, C, 5, 9)):
        assert convcalc.plan(model, shape).output_shapes == _run_all(model, shape)
    with pytest.raises(convcalc.ShapeError, match="needs an input_shape"):
        convcalc.plan(model)


def test_integer_sizes_and_indices_a_weight_passes_through_before_a_cast_are_not_parameters() -> None:
    # the Cast counted every initializer derived into it: a Reshape's int64 shape, a Gather's position ids
    shaped = _graph(
        [
            n("Reshape", ["w", "shape"], ["wr"]),
            helper.make_node("Cast", ["wr"], ["wc"], to=TensorProto.FLOAT),
            n("Conv", ["x", "wc"]),
        ],
        {"w": np.ones(2 * C * 4, F32), "shape": _i64(2, C, 2, 2)},
        opset=13,
        dims=(1, C, 8, 8),
    )
    assert convcalc.plan(shaped, (1, C, 8, 8)).total_params == 2 * C * 4
    positions = _graph(
        [
            n("Gather", ["emb", "pos"], ["pe"]),
            helper.make_node("Cast", ["pe"], ["pc"], to=TensorProto.FLOAT),
            n("Add", ["x", "pc"]),
        ],
        {"emb": np.ones((16, 8), F32), "pos": np.arange(8, dtype=np.int64).reshape(1, 8)},
        opset=13,
        dims=(1, 8, 8),
    )
    assert _run_all(positions, (1, 8, 8)) == ((1, 8, 8),)
    assert convcalc.plan(positions, (1, 8, 8)).total_params == 128


def test_variadic_operators_before_opset_8_take_inputs_of_one_shape() -> None:
    ones = np.ones((1, 4, 3, 5), F32)
    same = _graph([n("Sum", ["x", "a", "b"])], {"a": ones, "b": ones}, opset=6, dims=(1, 4, 3, 5))
    assert convcalc.plan(same, (1, 4, 3, 5)).output_shape == (1, 4, 3, 5)
    for opset in (6, 7):
        wider = _graph([n("Max", ["x", "a", "b"])], {"a": ones, "b": np.ones(5, F32)}, opset=opset, dims=(1, 4, 3, 5))
        with pytest.raises(ConvCalcError, match="Max before opset 8 takes inputs of one shape"):
            convcalc.plan(wider, (1, 4, 3, 5))
    later = _graph([n("Max", ["x", "a", "b"])], {"a": ones, "b": np.ones(5, F32)}, opset=8, dims=(1, 4, 3, 5))
    assert convcalc.plan(later, (1, 4, 3, 5)).output_shape == (1, 4, 3, 5)
    longer = _graph([n("Add", ["x", "b"], broadcast=1)], {"b": np.ones((2, 4, 5), F32)}, opset=6, dims=(4, 5))
    with pytest.raises(ConvCalcError, match="it has more axes"):
        convcalc.plan(longer, (4, 5))


def test_a_reshape_minus_one_over_a_size_with_a_constant_term_keeps_its_divisibility() -> None:
    # floor((L - 3)/2) + 1 elements in parts of 3: the division's fraction was taken of a sum, whose denominator
    # is 1, so no condition was kept and the size came out as a fraction (1/3 at L = 3)
    nodes = [n("MaxPool", ["x"], ["p"], kernel_shape=[3], strides=[2]), n("Reshape", ["p", "shape"])]
    model = _graph(nodes, {"shape": _i64(0, 0, -1, 3)}, opset=13, dims=(1, 2, "L"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    L = convcalc.symbols("L")
    plan = convcalc.plan(model, (1, 2, L))
    solution = plan.valid_sizes(L)
    for size in range(1, 41):
        try:
            (out,) = session.run(None, {"x": np.zeros((1, 2, size), F32)})
        except Exception:  # ONNX Runtime's Reshape refuses the size
            out = None
        if out is not None and 0 in out.shape:  # an empty output, which convcalc refuses (docs/howto/onnx.md)
            out = None
        assert (size in solution) == (out is not None), size
        if out is not None:
            assert tuple(int(sympy_value(d, L, size)) for d in plan.output_shape) == out.shape


def sympy_value(d: Any, symbol: Any, value: int) -> Any:
    return d.subs(symbol, value) if hasattr(d, "subs") else d


def test_a_mask_a_weight_passes_through_before_a_cast_is_no_parameter() -> None:
    nodes = [
        n("Where", ["mask", "w", "w"], ["m"]),
        helper.make_node("Cast", ["m"], ["c"], to=TensorProto.FLOAT),
        n("Add", ["x", "c"]),
    ]
    inits = {"w": np.ones((4, 8), F32), "mask": np.ones((4, 8), bool)}
    model = _graph(nodes, inits, opset=13, dims=(1, 4, 8))
    assert _run_all(model, (1, 4, 8)) == ((1, 4, 8),)
    assert convcalc.plan(model, (1, 4, 8)).total_params == 32


def test_an_integer_division_of_a_negated_size_truncates_toward_zero() -> None:
    """``Neg -> Div -> Neg`` of a size (torch's export of ``-(-h // 2)``): ONNX's Div truncates, so ``-H / 2`` is
    ``-floor(H / 2)``; at a symbolic H it was refused as "ends must be a constant"."""
    nodes = [
        n("Shape", ["x"], ["s"]),
        n("Gather", ["s", "i2"], ["h"], axis=0),
        n("Neg", ["h"], ["nh"]),
        n("Div", ["nh", "two"], ["q"]),
        n("Neg", ["q"], ["e"]),
        n("Unsqueeze", ["e", "zero"], ["ends"]),
        n("Slice", ["x", "starts", "ends", "axes"], ["y"]),
    ]
    inits = {"i2": np.array(2, np.int64), "two": np.array(2, np.int64), "zero": _i64(0), "starts": _i64(0)}
    inits["axes"] = _i64(2)
    model = _graph(nodes, inits)
    H, W = convcalc.symbols("H W")
    symbolic = convcalc.plan(model)
    for h in range(1, 12):
        assert _at(symbolic.output_shape, {H: h, W: 5}) == _ort(model, (1, C, h, 5)) == (1, C, h // 2, 5)
