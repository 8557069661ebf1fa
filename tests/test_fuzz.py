"""Fuzzing the public surface: any value in, either a result or a ConvCalcError out.

Every public function and layer constructor is called with arbitrary values (wrong
types, bools, floats with NaN and infinities, zero and negative numbers, integers of
10**30 and beyond, strings, None, nested and wrong-length tuples, non-integer and
negative sympy symbols, numpy arrays of every dtype). Nothing else may escape, and
nothing may hang.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cli_argv

import convcalc
from convcalc import keras as K
from convcalc import nn

_weird_symbols = [
    sympy.Symbol("x"),  # no assumptions
    sympy.Symbol("n", integer=True, negative=True),
    sympy.Symbol("r", real=True),
    sympy.Symbol("H", integer=True, positive=True) / 2,
    sympy.Rational(3, 2),
    sympy.Integer(7),
    sympy.oo,
    sympy.nan,
    sympy.Symbol("H", integer=True, positive=True) ** 2,
    sympy.floor(sympy.Symbol("H", integer=True, positive=True) / 3),
    sympy.Symbol("H", integer=True, positive=True) - 5,
]

scalars = st.one_of(
    st.integers(min_value=-5, max_value=40),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, 1, 2, 3, 10**30, -(10**30), 2**63, 2**64 + 1, 10**400]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 2.0, 3.0, -1.0]),
    st.text(max_size=6),
    st.sampled_from(["same", "valid", "SAME", "causal", "full", "", "torch", "keras", "rows", "unfold"]),
    st.none(),
    st.sampled_from(_weird_symbols),
    st.builds(lambda: convcalc.symbols("H")),
    st.builds(lambda: object()),
    st.sampled_from([b"3", 3j, [], (), {}, {"a": 1}]),
)


def _arrays() -> st.SearchStrategy[Any]:
    dtypes = st.sampled_from(
        [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.float32, np.float64, np.bool_, np.complex64, object]
    )

    def build(dtype: Any, values: list[int]) -> Any:
        return np.array(values).astype(dtype)  # wrapping casts are fine: any values will do

    return st.builds(build, dtypes, st.lists(st.integers(min_value=-3, max_value=300), min_size=0, max_size=5))


values = st.recursive(
    st.one_of(scalars, _arrays(), st.just(np.int64(7)), st.just(np.float64(7.0)), st.just(np.array(5))),
    lambda inner: st.one_of(
        st.tuples(inner), st.tuples(inner, inner), st.tuples(inner, inner, inner), st.lists(inner, max_size=4)
    ),
    max_leaves=6,
)

# a quarter of the profile's examples per entry point: 500 in CI, 37 locally (the entry points are many)
fuzz = settings(max_examples=max(settings.default.max_examples // 4, 25))

FUNCTIONS = [
    convcalc.conv_output_size,
    convcalc.pool_output_size,
    convcalc.conv_transpose_output_size,
    convcalc.same_padding,
    convcalc.adaptive_pool_output_size,
    convcalc.adaptive_pool_windows,
    convcalc.upsample_output_size,
    convcalc.im2col_shape,
    convcalc.im2col_memory,
    convcalc.conv_params,
    convcalc.conv_transpose_params,
    convcalc.separable_conv_params,
    convcalc.linear_params,
    convcalc.batchnorm_params,
    convcalc.groupnorm_params,
    convcalc.layernorm_params,
    convcalc.symbols,
]

LAYERS = [getattr(nn, name) for name in nn.__all__ if name not in ("Module",)] + [
    getattr(K, name) for name in K.__all__ if name not in ("Layer",)
]


def _signature(fn: Any) -> tuple[int, list[str]]:
    params = inspect.signature(fn).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keywords = [p.name for p in params if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD]
    return len(positional), keywords


def _call(fn: Any, data: st.DataObject) -> None:
    count, keywords = _signature(fn)
    args = data.draw(st.lists(values, min_size=0, max_size=max(count, 1) + 1), label="args")
    chosen = data.draw(st.lists(st.sampled_from(keywords), unique=True, max_size=3), label="kwargs") if keywords else []
    kwargs = {k: data.draw(values, label=k) for k in chosen if k not in set(keywords[: len(args)])}
    refused: type | None = None
    try:
        fn(*args, **kwargs)
    except convcalc.ConvCalcError as exc:
        refused = type(exc)
    except TypeError as exc:
        # a Python-level call mismatch (too many positionals, unknown keyword) is the language's own
        # error, not convcalc's: it is raised before convcalc runs
        if "argument" not in str(exc) and "positional" not in str(exc):
            raise
    assert refused in (None, convcalc.ShapeError, convcalc.SpecError), f"a non-public error type: {refused}"


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@fuzz
@given(data=st.data())
def test_functions_raise_only_convcalc_errors(fn: Any, data: st.DataObject) -> None:
    _call(fn, data)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: f"{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}")
@fuzz
@given(data=st.data())
def test_layer_constructors_raise_only_convcalc_errors(layer: Any, data: st.DataObject) -> None:
    _call(layer, data)


@given(shape=values)
def test_plan_input_shapes(shape: Any) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    with contextlib.suppress(convcalc.ConvCalcError):
        convcalc.plan(net, shape)


@given(
    options=st.fixed_dictionaries(
        {}, optional={"convention": values, "strict": values, "macs": values, "itemsize": values}
    )
)
def test_plan_options(options: dict[str, Any]) -> None:
    with contextlib.suppress(convcalc.ConvCalcError):
        convcalc.plan(nn.Conv2d(3, 4, 3), (1, 3, 8, 8), **options)


def test_deep_nesting_does_not_escape_as_recursion_error() -> None:
    model: nn.Module = nn.ReLU()
    for _ in range(300):  # hundreds deep plans fine
        model = nn.Sequential(model)
    assert convcalc.plan(model, (1, 3, 8, 8)).output_shape == (1, 3, 8, 8)
    for _ in range(5000):  # past the recursion limit: a SpecError that says why
        model = nn.Sequential(model)
    with pytest.raises(convcalc.SpecError, match="nested too deep"):
        convcalc.plan(model, (1, 3, 8, 8))


def test_huge_integers_stay_exact() -> None:
    big = 10**30 + 7
    assert convcalc.conv_output_size(big, 3, 2, 1) == (big - 1) // 2 + 1
    assert convcalc.pool_output_size(big, 3, 2, 1, ceil_mode=True) == -(-(big - 1) // 2) + 1 - (
        (-(-(big - 1) // 2)) * 2 >= big + 1
    )
    assert convcalc.conv_params(big, 2, 3) == 2 * big * 9 + 2
    plan = convcalc.plan(nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.MaxPool2d(2)), (1, 1, big, 5))
    assert plan.output_shape[2] == ((big - 1) // 2 + 1) // 2


# --------------------------------------------------------------------------- #
# The command line: any argv gives an exit status, never a traceback
# --------------------------------------------------------------------------- #


@fuzz
@given(argv=cli_argv())
def test_cli_argv_gives_an_exit_status(argv: list[str]) -> None:
    import contextlib
    import io
    import os

    from convcalc.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("CONVCALC_DEBUG")
    os.environ["CONVCALC_DEBUG"] = "1"  # anything but a ConvCalcError or a usage error propagates
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        if saved is None:
            del os.environ["CONVCALC_DEBUG"]
        else:
            os.environ["CONVCALC_DEBUG"] = saved
    assert status in (0, 1, 2)
    text = err.getvalue()
    assert "Traceback" not in text
    assert "internal error" not in text
    if status == 2 and text:
        assert text.startswith(("convcalc: error: ", "usage:")), text


def test_a_numpy_filter_count_beside_a_huge_group_count_is_a_spec_error() -> None:
    # np.int64(7) % 2**63 raised OverflowError inside the Keras convolutions' argument check
    import numpy as np

    with pytest.raises(
        convcalc.SpecError,
        match=r"^filters must be divisible by groups: 7 % 9223372036854775808 = 7; groups that divide filters: 1, 7\.",
    ):
        convcalc.keras.Conv1D(np.int64(7), np.int64(7), groups=2**63)


@pytest.mark.parametrize("make", ["Conv2d", "ConvTranspose2d", "LazyConv2d"])
@pytest.mark.parametrize("groups", [10**30, 2**64 - 1])
def test_a_numpy_channel_count_beside_a_huge_group_count_is_a_spec_error(make: str, groups: int) -> None:
    # np.int64(6) % 10**30 raised OverflowError inside the torch convolutions' argument check
    import numpy as np

    layer = getattr(convcalc.nn, make)
    args = (np.int64(6), 3) if make.startswith("Lazy") else (np.int64(6), np.int64(4), 3)
    with pytest.raises(convcalc.SpecError, match=r"must be divisible by groups: 6 % \d+ = 6; groups that divide"):
        layer(*args, groups=groups)
