"""Sizes computed in float arithmetic by the graph (Shape -> Cast to a float type -> Mul / Div -> Floor -> Cast back),
planned by convcalc and run by ONNX Runtime, which rounds each float32 (float16, float64) result to its type.

For every size the numeric plan's output shape must be ONNX Runtime's; the symbolic plan must give ONNX Runtime's
shape once the sizes are substituted, or refuse with a SpecError that asks for numbers (never a wrong closed form).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convcalc  # noqa: E402
from tests.onnx_export import torch_to_onnx  # noqa: E402

C = 3
# every size from 1 to 40 on each axis, the two axes paired differently
SIZES = [(h, (7 * h) % 40 + 1) for h in range(1, 41)]
REFUSAL = r"^\S+ \([A-Za-z]+\): this size is computed in float(16|32|64) .*plan with numbers .*Received: value="

ort.set_default_logger_severity(4)


def _session(model: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    data = model if isinstance(model, (str, Path)) else model.SerializeToString()
    return ort.InferenceSession(
        str(data) if isinstance(data, Path) else data, options, providers=["CPUExecutionProvider"]
    )


def _symbolic(model: Any) -> Any:
    """The symbolic plan's output shape, or None where convcalc refuses it (with the float message)."""
    try:
        return convcalc.plan(model).output_shape
    except convcalc.SpecError as exc:
        message = str(exc)
    assert re.search(REFUSAL, message), message
    return None


def _check(model: Any, sizes: list[tuple[int, int]] = SIZES) -> Any:
    """Compare convcalc with ONNX Runtime at every size; returns the symbolic output shape (None: refused)."""
    session = _session(model)
    symbolic = _symbolic(model)
    for h, w in sizes:
        shape = (1, C, h, w)
        try:
            expected = tuple(session.run(None, {"x": np.zeros(shape, np.float32)})[0].shape)
        except Exception:  # ONNX Runtime refuses a size of 0 (0.3 * 1) with its own error types
            with pytest.raises(convcalc.ConvCalcError):
                convcalc.plan(model, shape)
            continue
        assert convcalc.plan(model, shape).output_shape == expected, (h, w)
        if symbolic is not None:
            values = {
                s: {"H": h, "W": w}[s.name] for d in symbolic if hasattr(d, "free_symbols") for s in d.free_symbols
            }
            got = tuple(int(d.subs(values)) if hasattr(d, "subs") else int(d) for d in symbolic)
            assert got == expected, (h, w, symbolic)
    return symbolic


# --------------------------------------------------------------------------- #
# F.interpolate(scale_factor=s, recompute_scale_factor=True) as torch exports it
# --------------------------------------------------------------------------- #


def _interpolate(path: Path, scale: float, opset: int) -> Path:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional

    class Scale(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return functional.interpolate(x, scale_factor=scale, mode="nearest", recompute_scale_factor=True)

    path.write_bytes(torch_to_onnx(Scale().eval(), (1, C, 10, 10), axes={2: "H", 3: "W"}, opset=opset))
    return path


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("scale", [0.7, 0.3, 1.3, 0.5, 2.0])
def test_an_interpolate_size_plans_as_onnx_runtime_rounds_it(tmp_path: Path, scale: float, opset: int) -> None:
    path = _interpolate(tmp_path / "interpolate.onnx", scale, opset)
    symbolic = _check(path)
    if scale in (0.5, 2.0):  # exact in float32 for every size: a closed form
        assert symbolic is not None
        assert str(symbolic[2]) == ("2*H" if scale == 2.0 else "floor(H/2)")
    else:
        assert symbolic is None


def test_the_size_of_a_scale_of_0_7_is_float32s(tmp_path: Path) -> None:
    """10 * float32(0.7) is 6.99999988 in float64 but 7.0 in float32, as ONNX Runtime computes it."""
    path = _interpolate(tmp_path / "interpolate.onnx", 0.7, 17)
    assert convcalc.plan(path, (1, C, 10, 10)).output_shape == (1, C, 7, 7)
    assert convcalc.plan(path, (1, C, 20, 30)).output_shape == (1, C, 14, 21)
    assert convcalc.plan(path, (1, C, 40, 50)).output_shape == (1, C, 28, 35)
    with pytest.raises(convcalc.SpecError, match=REFUSAL) as caught:
        convcalc.plan(path)
    assert str(caught.value).startswith("/Mul (Mul): this size is computed in float32 (H * 0.699999988079071)")
    assert str(caught.value).endswith("Received: value=0.699999988079071*H")


# --------------------------------------------------------------------------- #
# the same arithmetic built node by node, in float32, float64 and float16
# --------------------------------------------------------------------------- #


def _sized(chain: list[tuple[str, Any]], to: int, opset: int = 17) -> Any:
    """x padded at the end of H and W by ``op(... op(float(size), constant) ...)`` cast back to int64: Shape ->
    Slice -> Cast(to) -> each (op, constant) of ``chain`` (a constant None: a unary op such as Floor) -> Cast(INT64)
    -> Pad."""
    dtype = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16}[to]
    inits = {
        "st": np.array([2], np.int64),
        "en": np.array([4], np.int64),
        "zeros": np.zeros(6, np.int64),
    }
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"], name="shape"),
        helper.make_node("Slice", ["sh", "st", "en"], ["hw"], name="slice"),
        helper.make_node("Cast", ["hw"], ["v0"], to=to, name="to_float"),
    ]
    for j, (op, constant) in enumerate(chain):
        if constant is None:
            nodes.append(helper.make_node(op, [f"v{j}"], [f"v{j + 1}"], name=f"{op.lower()}_{j}"))
        else:
            inits[f"c{j}"] = np.array(constant, dtype)
            nodes.append(helper.make_node(op, [f"v{j}", f"c{j}"], [f"v{j + 1}"], name=f"{op.lower()}_{j}"))
    nodes += [
        helper.make_node("Cast", [f"v{len(chain)}"], ["ends"], to=TensorProto.INT64, name="to_int"),
        helper.make_node("Concat", ["zeros", "ends"], ["pads"], axis=0, name="pads"),
        helper.make_node("Pad", ["x", "pads"], ["y"], name="pad"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, name=k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


FLOAT, DOUBLE, HALF = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16
CHAINS: dict[str, tuple[list[tuple[str, Any]], int, bool]] = {
    # name: (chain, type, whether the symbolic plan has a closed form)
    "float32 * 0.7, floor": ([("Mul", 0.7), ("Floor", None)], FLOAT, False),
    "float32 * 0.3, ceil": ([("Mul", 0.3), ("Ceil", None)], FLOAT, False),
    "float32 / 0.7, floor": ([("Div", 0.7), ("Floor", None)], FLOAT, False),
    "float32 / 3, floor": ([("Div", 3.0), ("Floor", None)], FLOAT, False),
    "float32 * 0.1 * 10, floor": ([("Mul", 0.1), ("Mul", 10.0), ("Floor", None)], FLOAT, False),
    "float32 * 0.5, floor": ([("Mul", 0.5), ("Floor", None)], FLOAT, True),
    "float32 * 0.25, ceil": ([("Mul", 0.25), ("Ceil", None)], FLOAT, True),
    "float32 / 2, ceil": ([("Div", 2.0), ("Ceil", None)], FLOAT, True),
    "float32 * 2": ([("Mul", 2.0)], FLOAT, True),
    "float32 * 1.5 + 0.5, floor": ([("Mul", 1.5), ("Add", 0.5), ("Floor", None)], FLOAT, True),
    "float32 - 0.5, round": ([("Sub", 0.5), ("Round", None)], FLOAT, False),
    "float32 * 0.7, truncated": ([("Mul", 0.7)], FLOAT, False),
    "float64 * 0.7, floor": ([("Mul", 0.7), ("Floor", None)], DOUBLE, False),
    "float64 * 0.1 * 10, floor": ([("Mul", 0.1), ("Mul", 10.0), ("Floor", None)], DOUBLE, False),
    "float64 / 0.7, ceil": ([("Div", 0.7), ("Ceil", None)], DOUBLE, False),
    "float64 * 0.5, floor": ([("Mul", 0.5), ("Floor", None)], DOUBLE, True),
    "float16 * 0.7, floor": ([("Mul", 0.7), ("Floor", None)], HALF, False),
    "float16 * 0.3, ceil": ([("Mul", 0.3), ("Ceil", None)], HALF, False),
    "float16 * 0.1 * 10, floor": ([("Mul", 0.1), ("Mul", 10.0), ("Floor", None)], HALF, False),
    "float16 / 0.7 + 0.3, ceil": ([("Div", 0.7), ("Add", 0.3), ("Ceil", None)], HALF, False),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_a_float_size_chain_plans_as_onnx_runtime_runs_it(name: str) -> None:
    chain, to, closed = CHAINS[name]
    symbolic = _check(_sized(chain, to))
    assert (symbolic is not None) == closed, symbolic


def test_float32_and_float64_round_one_size_apart() -> None:
    """H * 0.1 * 10 at H = 3: 3.0000001 in float32 (floor 3), 3.0000000000000004 in float64; at H = 7 float64 gives
    7.000000000000001 and float32 7.0000005; at H = 10, float32 * 0.7 is 7.0 while float64 * float32(0.7) is 6.99..."""
    f32 = _sized([("Mul", 0.7), ("Floor", None)], FLOAT)
    f64 = _sized([("Mul", float(np.float32(0.7))), ("Floor", None)], DOUBLE)
    assert convcalc.plan(f32, (1, C, 10, 20)).output_shape == (1, C, 17, 34)
    assert convcalc.plan(f64, (1, C, 10, 20)).output_shape == (1, C, 16, 33)
    _check(f64, [(10, 20)])


def test_a_refusal_names_the_node_and_the_type() -> None:
    with pytest.raises(convcalc.SpecError, match=REFUSAL) as caught:
        convcalc.plan(_sized([("Mul", 0.3), ("Ceil", None)], HALF))
    assert str(caught.value).startswith("to_float (Cast): this size is computed in float16 (H)")
    with pytest.raises(convcalc.SpecError, match=REFUSAL) as caught:
        convcalc.plan(_sized([("Div", 3.0), ("Floor", None)], DOUBLE))
    assert str(caught.value).startswith("div_0 (Div): this size is computed in float64 (H / 3)")


def test_an_exact_size_of_many_bits_holds_below_a_bound() -> None:
    """1.5 * H + 0.5 is exact in float32 while 3 * H + 1 has at most 24 binary digits: a constraint of the plan."""
    planned = convcalc.plan(_sized([("Mul", 1.5), ("Add", 0.5), ("Floor", None)], FLOAT))
    assert str(planned.output_shape[2]) == "H + floor(3*H/2 + 1/2)"


@pytest.mark.parametrize("strided", [False, True])
def test_the_valid_sizes_of_a_resize_by_a_fraction_are_bounded_where_float32_stays_exact(strided: bool) -> None:
    # convcalc's closed form of 1.5 * H holds while float32 keeps the half (H <= 2**24 // 3); valid_sizes refused
    # the whole question ("needs more than 2000000 sizes checked") where it is that bound and the other layers'
    w = numpy_helper.from_array(np.ones((2, C, 3, 3), np.float32), "w")
    sc = numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], np.float32), "sc")
    conv = helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2] if strided else [1, 1])
    resize = helper.make_node("Resize", ["c", "", "sc"], ["y"], mode="nearest")
    graph = helper.make_graph(
        [conv, resize],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "H", 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, sc],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    H = convcalc.symbols("H")
    plan = convcalc.plan(model, (1, C, H, 9))
    solution = plan.valid_sizes(H)
    # the resize's input is the convolution's output, H - 2 (strided: floor((H - 3)/2) + 1), at most 2**24 // 3
    bound = 2**24 // 3 + 2 if not strided else 2 * (2**24 // 3 - 1) + 3 + 1
    assert bound in solution
    assert bound + 1 not in solution
    assert solution.largest == bound
    assert str(solution) == f"3 <= H <= {bound}"
    for h in range(1, 30):
        try:
            (out,) = session.run(None, {"x": np.zeros((1, C, h, 9), np.float32)})
        except Exception:  # ONNX Runtime's own error: the size is refused
            out = None
        assert (h in solution) == (out is not None), h
        if out is not None and out.shape[2] == (6 if strided else 15):
            assert h in plan.inputs_for(out.shape[2], H, axis=2)
    assert solution.values(12) == list(range(3, 13))
    assert plan.inputs_for(6 if strided else 15, H, axis=2) == ([9, 10] if strided else [12])
