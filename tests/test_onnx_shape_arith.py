"""Constant shape arithmetic that exporters write (Neg, Abs, Sign, Clip, Mod, comparisons, logic, Where, Max/Min),
planned by convcalc and run by ONNX Runtime.

Models exported from torch with the TorchScript exporter (a ViT class token ``expand(B, -1, -1)``, "same"
padding computed from ``x.shape``, a crop ``x[..., -n:]``, ``nn.Unflatten``) must plan to ONNX Runtime's output
shape (and torch's, where the export follows the module at that size) at every size tried; a symbolic plan must
give ONNX Runtime's shape once the sizes are substituted, or refuse with a ConvCalcError. Graphs written with
``onnx.helper`` check each operator on constant ints, floats and bools against ONNX Runtime, value by value.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convcalc  # noqa: E402
from convcalc import ConvCalcError, SpecError  # noqa: E402
from tests.onnx_export import torch_to_onnx  # noqa: E402

ort.set_default_logger_severity(4)
_SESSION = ort.SessionOptions()
_SESSION.log_severity_level = 4
_SESSION.intra_op_num_threads = 1
_SESSION.inter_op_num_threads = 1


def _session(model: bytes) -> Any:
    return ort.InferenceSession(model, _SESSION, providers=["CPUExecutionProvider"])


def _ort_shapes(model: bytes, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    session = _session(model)
    name = session.get_inputs()[0].name
    return [tuple(int(d) for d in o.shape) for o in session.run(None, {name: np.zeros(shape, np.float32)})]


def _holds(plan: Any, values: dict[Any, int]) -> bool:
    """Whether the symbolic plan's conditions (sizes within an axis, ...) hold at these sizes, where it holds."""
    return all(c.holds(values) for c in plan.constraints)


def _at(shape: tuple[Any, ...], values: dict[Any, int]) -> tuple[int, ...]:
    return tuple(int(d.subs(values)) if hasattr(d, "subs") else int(d) for d in shape)


# --------------------------------------------------------------------------- #
# exported models
# --------------------------------------------------------------------------- #


class _ClsToken(torch.nn.Module):
    """A ViT's patches with the class token in front: ``cls.expand(B, -1, -1)``."""

    def __init__(self, patch: int, dim: int = 8) -> None:
        super().__init__()
        self.patch = torch.nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: Any) -> Any:
        t = self.patch(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls.expand(x.shape[0], -1, -1), t], dim=1)


class _ClsTokenAndPositions(_ClsToken):
    """The class token expanded with the batch and the width read back from the patches."""

    def forward(self, x: Any) -> Any:
        t = self.patch(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls.expand(t.shape[0], 1, t.shape[2]), t], dim=1)


def _same_amount(size: Any, k: int, s: int, d: int) -> Any:
    return max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)


class _Conv2dSame(torch.nn.Conv2d):
    """timm's Conv2dSame: TF "same" padding computed in forward from ``x.size()`` with ``math.ceil`` and
    ``max`` (the TorchScript trace keeps part of it as constants of the traced size)."""

    def forward(self, x: Any) -> Any:
        ih, iw = x.size()[-2:]
        ph = _same_amount(ih, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = _same_amount(iw, self.kernel_size[1], self.stride[1], self.dilation[1])
        x = torch.nn.functional.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return torch.nn.functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation)


def _clamped_amount(size: Any, k: int, s: int, d: int) -> Any:
    return torch.clamp(((size / s).ceil() - 1) * s + (k - 1) * d + 1 - size, min=0)


class _Conv2dSameClamped(torch.nn.Conv2d):
    """ "Same" padding on tensors: ``clamp(ceil(x / s) - 1) * s + (k - 1) * d + 1 - x, min=0)`` (Clip)."""

    def forward(self, x: Any) -> Any:
        ih, iw = (torch.as_tensor(v) for v in x.size()[-2:])
        ph = _clamped_amount(ih, self.kernel_size[0], self.stride[0], self.dilation[0]).int()
        pw = _clamped_amount(iw, self.kernel_size[1], self.stride[1], self.dilation[1]).int()
        x = torch.nn.functional.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return torch.nn.functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation)


class _SkipCrop(torch.nn.Module):
    """WaveNet's skip: the input cropped from the end to the convolution's length, ``x[..., -n:]``."""

    def __init__(self, dilation: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 4, 3, dilation=dilation)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        return y + x[:, :, -y.size(2) :]


class _LastHalf(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x[:, :, -(x.size(2) // 2) :]


class _LastFive(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x[:, :, -5:] * 2


def _decoder(channels: int, side: int) -> Any:
    return torch.nn.Sequential(
        torch.nn.Linear(10, channels * side * side),
        torch.nn.Unflatten(1, (channels, side, side)),
        torch.nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1),
    )


def _channel_groups() -> Any:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Unflatten(1, (2, 4)))


class _Heads(torch.nn.Module):
    """An attention block's split into heads: tokens, a projection, ``Unflatten(-1, (heads, -1))``."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(3, 12)
        self.split = torch.nn.Unflatten(-1, (4, -1))

    def forward(self, x: Any) -> Any:
        t = self.qkv(x.flatten(2).transpose(1, 2))
        return self.split(t).transpose(1, 2)


_IMAGES = [(1, 3, 16, 16), (2, 3, 15, 17), (1, 3, 9, 24)]
_SEQUENCES = [(1, 4, 20), (2, 4, 33), (1, 4, 11)]
_LATENTS = [(2, 10), (1, 10), (3, 10)]
_IMAGE_AXES = {0: "N", 2: "H", 3: "W"}
_SEQUENCE_AXES = {0: "N", 2: "L"}

# name: (module, input sizes (the first is the one exported), dynamic axes, whether the export follows torch at
# every size rather than only at the size it was traced at)
MODELS: dict[str, tuple[Any, list[tuple[int, ...]], dict[int, str], bool]] = {
    "class token, patches of 4": (lambda: _ClsToken(4), _IMAGES, _IMAGE_AXES, True),
    "class token, patches of 3": (lambda: _ClsToken(3), _IMAGES, _IMAGE_AXES, True),
    "class token expanded to computed sizes": (lambda: _ClsTokenAndPositions(2), _IMAGES, _IMAGE_AXES, True),
    "same padding k3 s2": (lambda: _Conv2dSame(3, 4, 3, stride=2), _IMAGES, _IMAGE_AXES, False),
    "same padding k5 s3 d2": (lambda: _Conv2dSame(3, 4, 5, stride=3, dilation=2), _IMAGES, _IMAGE_AXES, False),
    "same padding clamped k3 s2": (lambda: _Conv2dSameClamped(3, 4, 3, stride=2), _IMAGES, _IMAGE_AXES, True),
    "same padding clamped k4 s3": (lambda: _Conv2dSameClamped(3, 4, 4, stride=3), _IMAGES, _IMAGE_AXES, True),
    "same padding clamped k3 s1 d2": (
        lambda: _Conv2dSameClamped(3, 4, 3, stride=1, dilation=2),
        _IMAGES,
        _IMAGE_AXES,
        True,
    ),
    "crop to a computed length": (lambda: _SkipCrop(2), _SEQUENCES, _SEQUENCE_AXES, True),
    "crop to a computed length, dilation 3": (lambda: _SkipCrop(3), _SEQUENCES, _SEQUENCE_AXES, True),
    "crop the last half": (_LastHalf, _SEQUENCES, _SEQUENCE_AXES, True),
    "crop the last five": (_LastFive, _SEQUENCES, _SEQUENCE_AXES, True),
    "unflatten a decoder's features": (lambda: _decoder(8, 4), _LATENTS, {0: "N"}, True),
    "unflatten a decoder's features 4x3x3": (lambda: _decoder(4, 3), _LATENTS, {0: "N"}, True),
    "unflatten channels into groups": (_channel_groups, _IMAGES, _IMAGE_AXES, True),
    "unflatten into attention heads": (_Heads, _IMAGES, _IMAGE_AXES, True),
}


def _export(module: Any, shape: tuple[int, ...], axes: dict[int, str] | None, opset: int) -> bytes:
    return torch_to_onnx(module, shape, axes=axes, opset=opset)


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_an_exported_model_plans_as_onnx_runtime_runs_it(name: str, dynamic: bool, opset: int) -> None:
    make, sizes, axes, faithful = MODELS[name]
    torch.manual_seed(0)
    module = make().eval()
    data = _export(module, sizes[0], axes if dynamic else None, opset)
    model = onnx.load_from_string(data)
    tried = sizes if dynamic else sizes[:1]
    symbols = convcalc.symbols(" ".join(axes.values()))
    symbols = symbols if isinstance(symbols, tuple) else (symbols,)
    named = dict(zip(axes, symbols, strict=True))
    symbolic: Any = None
    if dynamic:
        try:
            symbolic = convcalc.plan(model, tuple(named.get(j, d) for j, d in enumerate(sizes[0])))
        except ConvCalcError:
            symbolic = None  # refusing a closed form is allowed; a wrong one is not
    for shape in tried:
        expected = _ort_shapes(data, shape)[0]
        assert convcalc.plan(model, shape).output_shape == expected, (name, opset, shape)
        if faithful or shape == sizes[0]:
            with torch.no_grad():
                assert tuple(module(torch.zeros(shape)).shape) == expected, (name, opset, shape)
        values = {named[j]: shape[j] for j in named}
        if symbolic is not None and _holds(symbolic, values):
            assert _at(symbolic.output_shape, values) == expected, (name, opset, shape, symbolic.output_shape)


@pytest.mark.parametrize("opset", [13, 17])
def test_the_class_token_and_the_crop_have_closed_forms(opset: int) -> None:
    N, H, W = convcalc.symbols("N H W")
    data = _export(_ClsToken(4).eval(), (1, 3, 16, 16), _IMAGE_AXES, opset)
    assert convcalc.plan(onnx.load_from_string(data), (N, 3, H, W)).output_shape == (
        N,
        (H // 4) * (W // 4) + 1,
        8,
    )
    N, L = convcalc.symbols("N L")
    data = _export(_SkipCrop(2).eval(), (1, 4, 20), _SEQUENCE_AXES, opset)
    assert convcalc.plan(onnx.load_from_string(data), (N, 4, L)).output_shape == (N, 4, L - 4)


# --------------------------------------------------------------------------- #
# one operator on constants, value by value
# --------------------------------------------------------------------------- #

OFFSET = 60  # each value v becomes the length v + OFFSET of one output, a slice of x of shape (1, 4 * OFFSET)
_ELEM = {bool: TensorProto.BOOL, int: TensorProto.INT64, float: TensorProto.FLOAT}


def _values_graph(nodes: list[Any], inits: dict[str, Any], count: int, kind: type, opset: int = 17) -> Any:
    """A graph that computes ``r`` from constants with ``nodes``, then gives one output per value of ``r``: x
    sliced to ``r[j] + OFFSET`` (bools as 0 and 1, floats times 4 truncated to integers, so that 0.25 tells)."""
    tail: list[Any] = []
    flat = "r"
    if kind is bool:
        tail.append(n("Cast", ["r"], ["ri"], to=TensorProto.INT64))
        flat = "ri"
    elif kind is float:
        tail += [n("Mul", ["r", "four"], ["r4"]), n("Cast", ["r4"], ["ri"], to=TensorProto.INT64)]
        flat = "ri"
    tail += [n("Reshape", [flat, "flat"], ["rf"]), n("Add", ["rf", "offset"], ["ends"])]
    outputs = []
    for j in range(count):
        tail += [
            n("Slice", ["ends", f"i{j}", f"i{j + 1}"], [f"e{j}"]),
            n("Slice", ["x", "zero", f"e{j}", "one"], [f"y{j}"]),
        ]
        outputs.append(f"y{j}")
    consts = {
        "four": np.array(4.0, np.float32),
        "flat": np.array([-1], np.int64),
        "offset": np.array(OFFSET, np.int64),
        "zero": np.array([0], np.int64),
        "one": np.array([1], np.int64),
        **{f"i{j}": np.array([j], np.int64) for j in range(count + 1)},
    }
    graph = helper.make_graph(
        [*nodes, *tail],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4 * OFFSET])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, name=k) for k, v in {**consts, **inits}.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def n(op: str, inputs: list[str], outputs: list[str] | None = None, **attrs: Any) -> Any:
    return helper.make_node(op, inputs, outputs or ["r"], **attrs)


def _i64(*values: Any) -> Any:
    return np.array(values, dtype=np.int64)


def _f32(*values: Any) -> Any:
    return np.array(values, dtype=np.float32)


def _b(*values: Any) -> Any:
    return np.array(values, dtype=bool)


_A7 = _i64(7, -7, 7, -7, 0, 6)
_B3 = _i64(3, 3, -3, -3, 5, -4)
_FA = _f32(5.5, -5.5, 5.5, -5.5, 0.75, -2.25)
_FB = _f32(2.0, 2.0, -2.0, -2.0, 0.5, 1.0)
_ROW, _COL = _i64(1, 3, 5), _i64(1, 5).reshape(2, 1)
_FROW, _FCOL = _f32(1.5, 3.0, -2.0), _f32(3.0, -2.0).reshape(2, 1)
_P, _Q = _b(True, True, False, False), _b(True, False, True, False)

# name: (nodes, initializers, count of values, kind of the result, opset)
VALUE_CASES: dict[str, tuple[list[Any], dict[str, Any], int, type, int]] = {
    "Neg of ints": ([n("Neg", ["a"])], {"a": _i64(3, -2, 0)}, 3, int, 17),
    "Neg of floats": ([n("Neg", ["a"])], {"a": _f32(1.5, -2.25, 0.0)}, 3, float, 17),
    "Abs of ints": ([n("Abs", ["a"])], {"a": _i64(-3, 4, 0)}, 3, int, 17),
    "Abs of floats": ([n("Abs", ["a"])], {"a": _f32(-2.5, 1.25)}, 2, float, 17),
    "Sign of ints": ([n("Sign", ["a"])], {"a": _i64(-7, 0, 9)}, 3, int, 17),
    "Sign of floats": ([n("Sign", ["a"])], {"a": _f32(-0.5, 0.0, 3.0)}, 3, float, 17),
    "Clip of ints": (
        [n("Clip", ["a", "lo", "hi"])],
        {"a": _i64(-5, 3, 12), "lo": np.array(0, np.int64), "hi": np.array(10, np.int64)},
        3,
        int,
        17,
    ),
    "Clip with a min only": (
        [n("Clip", ["a", "lo"])],
        {"a": _i64(-5, 3, 12), "lo": np.array(0, np.int64)},
        3,
        int,
        13,
    ),
    "Clip with a max only": (
        [n("Clip", ["a", "", "hi"])],
        {"a": _i64(-5, 3, 12), "hi": np.array(4, np.int64)},
        3,
        int,
        17,
    ),
    "Clip with min above max": (
        [n("Clip", ["a", "lo", "hi"])],
        {"a": _i64(-5, 3, 12), "lo": np.array(5, np.int64), "hi": np.array(2, np.int64)},
        3,
        int,
        17,
    ),
    "Clip of floats": (
        [n("Clip", ["a", "lo", "hi"])],
        {"a": _f32(-1.5, 2.25, 9.75), "lo": np.array(-1.0, np.float32), "hi": np.array(5.5, np.float32)},
        3,
        float,
        17,
    ),
    "Clip with attributes (opset 10)": (
        [n("Clip", ["a"], min=-1.0, max=2.5)],
        {"a": _f32(-1.5, 2.25, 9.75)},
        3,
        float,
        10,
    ),
    "Mod fmod=0 of ints": ([n("Mod", ["a", "b"])], {"a": _A7, "b": _B3}, 6, int, 17),
    "Mod fmod=1 of ints": ([n("Mod", ["a", "b"], fmod=1)], {"a": _A7, "b": _B3}, 6, int, 17),
    "Mod fmod=1 of floats": ([n("Mod", ["a", "b"], fmod=1)], {"a": _FA, "b": _FB}, 6, float, 17),
    "Mod broadcast": ([n("Mod", ["a", "b"])], {"a": _i64(-8, 9).reshape(2, 1), "b": _i64(3, -5, 4)}, 6, int, 13),
    "Mod of a cast": (
        [n("Cast", ["a"], ["af"], to=TensorProto.FLOAT), n("Mod", ["af", "b"], fmod=1)],
        {"a": _A7, "b": _FB},
        6,
        float,
        17,
    ),
    **{
        f"{op} of ints": ([n(op, ["a", "b"])], {"a": _COL, "b": _ROW}, 6, bool, 17)
        for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
    },
    **{
        f"{op} of floats": ([n(op, ["a", "b"])], {"a": _FCOL, "b": _FROW}, 6, bool, 17)
        for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
    },
    "Equal of bools": ([n("Equal", ["a", "b"])], {"a": _P, "b": _Q}, 4, bool, 13),
    "Not": ([n("Not", ["a"])], {"a": _P}, 4, bool, 17),
    **{f"{op}": ([n(op, ["a", "b"])], {"a": _P, "b": _Q}, 4, bool, 17) for op in ("And", "Or", "Xor")},
    "Where broadcast": (
        [n("Where", ["c", "a", "b"])],
        {"c": _b(True, False).reshape(2, 1), "a": _i64(1, 2, 3), "b": np.array(-4, np.int64)},
        6,
        int,
        17,
    ),
    "Where of floats": (
        [n("Where", ["c", "a", "b"])],
        {"c": _b(True, False, True), "a": _f32(0.5, 1.0, -2.75), "b": _f32(3.25)},
        3,
        float,
        17,
    ),
    "Where of a comparison": (
        [n("Equal", ["s", "m"], ["eq"]), n("Where", ["eq", "one1", "s"])],
        {"s": _i64(2, -1, -1), "m": np.array(-1, np.int64), "one1": _i64(1, 1, 1)},
        3,
        int,
        13,
    ),
    "Max of three": ([n("Max", ["a", "b", "c"])], {"a": _COL, "b": _ROW, "c": np.array(4, np.int64)}, 6, int, 17),
    "Min of three": ([n("Min", ["a", "b", "c"])], {"a": _FCOL, "b": _FROW, "c": _f32(2.5)}, 6, float, 17),
    "Max of one": ([n("Max", ["a"])], {"a": _i64(4, -1)}, 2, int, 17),
    "Cast to bool, Not": (
        [n("Cast", ["a"], ["ab"], to=TensorProto.BOOL), n("Not", ["ab"])],
        {"a": _i64(0, 3, -1)},
        3,
        bool,
        17,
    ),
    "Cast of a bool to float": (
        [n("Cast", ["a"], ["af"], to=TensorProto.FLOAT), n("Mul", ["af", "h"])],
        {"a": _b(True, False), "h": _f32(1.5)},
        2,
        float,
        17,
    ),
    "Neg and Sign of a cast": (
        [n("Cast", ["a"], ["af"], to=TensorProto.FLOAT), n("Neg", ["af"], ["an"]), n("Sign", ["an"])],
        {"a": _i64(2, 0, -3)},
        3,
        float,
        17,
    ),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_an_operator_on_constants_gives_onnx_runtimes_values(name: str) -> None:
    nodes, inits, count, kind, opset = VALUE_CASES[name]
    model = _values_graph(nodes, inits, count, kind, opset)
    expected = _ort_shapes(model.SerializeToString(), (1, 4 * OFFSET))
    assert list(convcalc.plan(model, (1, 4 * OFFSET)).output_shapes) == expected


def test_mod_of_floats_without_fmod_is_refused_as_onnx_runtime_refuses_it() -> None:
    model = _values_graph([n("Mod", ["a", "b"])], {"a": _FA, "b": _FB}, 6, float)
    with pytest.raises(Exception, match="fmod"):  # ONNX Runtime's own error types
        _ort_shapes(model.SerializeToString(), (1, 4 * OFFSET))
    with pytest.raises(SpecError, match="fmod=1"):
        convcalc.plan(model, (1, 4 * OFFSET))


def test_a_value_of_unknown_elements_stays_unknown() -> None:
    """Where of a bound that is not a constant: the Slice reading it is refused, not given a made-up number."""
    model = _values_graph(
        [
            n("ReduceMax", ["x"], ["m"], keepdims=0),
            n("Cast", ["m"], ["mi"], to=TensorProto.INT64),
            n("Less", ["a", "mi"], ["c"]),
            n("Where", ["c", "a", "b"]),
        ],
        {"a": _i64(1, 2), "b": _i64(3, 4)},
        2,
        int,
    )
    with pytest.raises(ConvCalcError):
        convcalc.plan(model, (1, 4 * OFFSET))


# --------------------------------------------------------------------------- #
# the same operators on symbolic sizes
# --------------------------------------------------------------------------- #


def _width_graph(nodes: list[Any], inits: dict[str, Any]) -> Any:
    """x of shape (1, 4, H, W); ``d`` = W as exporters read it; the output x sliced on its last axis to
    [``st``, ``en``), which ``nodes`` compute."""
    consts = {
        "i3": np.array(3, np.int64),
        "ax": _i64(3),
        "big": _i64(2**40),
        "zero": _i64(0),
        **{f"k{v}": _i64(v) for v in (-1, 0, 1, 2, 3, 5, 6, 8)},
    }
    graph = helper.make_graph(
        [
            n("Shape", ["x"], ["sh"]),
            n("Gather", ["sh", "i3"], ["d0"], axis=0),
            n("Unsqueeze", ["d0", "zero"], ["d"]),
            *nodes,
            n("Slice", ["x", "st", "en", "ax"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, name=k) for k, v in {**consts, **inits}.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _ident(src: str, dst: str) -> Any:
    return n("Identity", [src], [dst])


# name: (nodes computing st and en from d = W, whether the symbolic plan must have a closed form)
SYMBOLIC_CASES: dict[str, tuple[list[Any], bool]] = {
    "start -W": ([n("Neg", ["d"], ["st"]), _ident("big", "en")], True),
    "start -(W - 2)": ([n("Sub", ["k2", "d"], ["st"]), _ident("big", "en")], True),
    "start Neg(W - 2)": ([n("Sub", ["d", "k2"], ["m"]), n("Neg", ["m"], ["st"]), _ident("big", "en")], True),
    "end Abs(-W)": ([n("Neg", ["d"], ["m"]), n("Abs", ["m"], ["en"]), _ident("k0", "st")], True),
    "end Sign(W) + 2": ([n("Sign", ["d"], ["s"]), n("Add", ["s", "k2"], ["en"]), _ident("k0", "st")], True),
    "end Sign(W - 5) + 2": (
        [n("Sub", ["d", "k5"], ["m"]), n("Sign", ["m"], ["s"]), n("Add", ["s", "k2"], ["en"]), _ident("k0", "st")],
        False,
    ),
    "end Clip(W - 3, 0, 5)": (
        [n("Sub", ["d", "k3"], ["m"]), n("Clip", ["m", "s0", "s5"], ["en"]), _ident("k0", "st")],
        False,
    ),
    "end Clip(W, 0)": ([n("Clip", ["d", "s0"], ["en"]), _ident("k0", "st")], True),
    "end Mod(W, 3) + 1": (
        [n("Mod", ["d", "s3"], ["m"]), n("Add", ["m", "k1"], ["en"]), _ident("k0", "st")],
        True,
    ),
    "start -Mod(W, 2) - 1": (
        [n("Mod", ["d", "s2"], ["m"]), n("Add", ["m", "k1"], ["m1"]), n("Neg", ["m1"], ["st"]), _ident("big", "en")],
        True,
    ),
    "end Where(W == -1, 1, W)": (
        [n("Equal", ["d", "k-1"], ["c"]), n("Where", ["c", "k1", "d"], ["en"]), _ident("k0", "st")],
        True,
    ),
    "end Where(W > 0, W, 1)": (
        [n("Greater", ["d", "k0"], ["c"]), n("Where", ["c", "d", "k1"], ["en"]), _ident("k0", "st")],
        True,
    ),
    "end Where(W < 6, W, 6)": (
        [n("Less", ["d", "k6"], ["c"]), n("Where", ["c", "d", "k6"], ["en"]), _ident("k0", "st")],
        False,
    ),
    "end Where(Not(W >= 1) or W == 0, 1, W)": (
        [
            n("GreaterOrEqual", ["d", "k1"], ["g"]),
            n("Not", ["g"], ["ng"]),
            n("Equal", ["d", "k0"], ["z"]),
            n("Or", ["ng", "z"], ["c"]),
            n("Where", ["c", "k1", "d"], ["en"]),
            _ident("k0", "st"),
        ],
        True,
    ),
    "end Max(W - 8, 2, 1)": (
        [n("Sub", ["d", "k8"], ["m"]), n("Max", ["m", "k2", "k1"], ["en"]), _ident("k0", "st")],
        True,
    ),
}
_SYMBOLIC_SCALARS = {"s0": np.array(0, np.int64), "s2": np.array(2, np.int64), "s3": np.array(3, np.int64)}
_SYMBOLIC_SCALARS["s5"] = np.array(5, np.int64)


@pytest.mark.parametrize("name", sorted(SYMBOLIC_CASES))
def test_shape_arithmetic_on_a_symbolic_size_is_exact_or_refused(name: str) -> None:
    nodes, closed = SYMBOLIC_CASES[name]
    model = _width_graph(nodes, _SYMBOLIC_SCALARS)
    H, W = convcalc.symbols("H W")
    refusal = ""
    try:
        symbolic: Any = convcalc.plan(model, (1, 4, H, W))
    except ConvCalcError as exc:
        refusal, symbolic = str(exc), None
    assert not (closed and refusal), (name, refusal)
    assert not refusal or "plan with numbers" in refusal or "must be" in refusal, refusal
    held = 0
    for w in range(1, 12):
        expected = _ort_shapes(model.SerializeToString(), (1, 4, 3, w))[0]
        assert convcalc.plan(model, (1, 4, 3, w)).output_shape == expected, (name, w)
        if symbolic is not None and _holds(symbolic, {H: 3, W: w}):
            held += 1
            assert _at(symbolic.output_shape, {H: 3, W: w}) == expected, (name, w, symbolic.output_shape)
    assert symbolic is None or held >= 3, (name, symbolic.constraints)


def test_an_undecided_comparison_names_the_node_and_asks_for_numbers() -> None:
    model = _width_graph(SYMBOLIC_CASES["end Where(W < 6, W, 6)"][0], _SYMBOLIC_SCALARS)
    H, W = convcalc.symbols("H W")
    with pytest.raises(SpecError, match=r"\(Less\).*W < 6.*plan with numbers"):
        convcalc.plan(model, (1, 4, H, W))


def test_the_operators_on_a_tensor_of_the_input_keep_its_broadcast_shape() -> None:
    """Where, Mod, the comparisons and the logic operators on data: elementwise, with ONNX's broadcasting."""
    nodes = [
        n("Greater", ["x", "zf"], ["g"]),
        n("Less", ["x", "row"], ["l"]),
        n("Xor", ["g", "l"], ["c"]),
        n("Not", ["c"], ["nc"]),
        n("Mod", ["x", "two"], ["m"], fmod=1),
        n("Clip", ["m", "zf"], ["cm"]),
        n("Where", ["nc", "cm", "col"], ["y"]),
    ]
    inits = {"zf": _f32(0.0), "two": _f32(2.0), "row": _f32(*range(7)), "col": _f32(1.0, 2.0).reshape(2, 1, 1)}
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, name=k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for shape in ((1, 3, 7), (1, 5, 1)):
        assert (
            convcalc.plan(model, shape).output_shape
            == _ort_shapes(model.SerializeToString(), shape)[0]
            == (
                2,
                shape[1],
                7,
            )
        )
