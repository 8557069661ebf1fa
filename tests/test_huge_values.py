"""Huge ints (4000..6000 digits) in every public formula and parameter count: an exact answer or a
ConvCalcError, never another exception (Python refuses to print ints of more than 4300 digits, so
every message must name them some other way)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SMALL_OR_HUGE

import convcalc
from convcalc import ConvCalcError, formulas, params

# each public function with the number of int arguments it takes positionally, and keyword switches
CALLS: dict[str, Any] = {
    "conv_output_size": (formulas.conv_output_size, 5, [{}, {"strict": True}, {"convention": "keras"}]),
    "pool_output_size": (
        formulas.pool_output_size,
        5,
        [{}, {"strict": True}, {"kind": "avg"}, {"ceil_mode": True}, {"convention": "keras", "strict": True}],
    ),
    "conv_transpose_output_size": (formulas.conv_transpose_output_size, 6, [{}, {"convention": "keras"}]),
    "same_padding": (formulas.same_padding, 4, [{}, {"convention": "keras"}]),
    "adaptive_pool_output_size": (formulas.adaptive_pool_output_size, 2, [{}]),
    "adaptive_pool_windows": (formulas.adaptive_pool_windows, 2, [{}]),
    "upsample_output_size": (lambda i, f: formulas.upsample_output_size(i, scale_factor=f), 2, [{}]),
    "im2col_shape": (lambda n, c, h, k, s: formulas.im2col_shape((n, c, h, h), k, s), 5, [{}]),
    "im2col_memory": (lambda n, c, h, k, s: formulas.im2col_memory((n, c, h, h), k, s), 5, [{}]),
    "conv_params": (lambda a, b, k, g: params.conv_params(a, b, k, groups=g), 4, [{}]),
    "conv_transpose_params": (lambda a, b, k, g: params.conv_transpose_params(a, b, k, groups=g), 4, [{}]),
    "linear_params": (params.linear_params, 2, [{}]),
    "batchnorm_params": (params.batchnorm_params, 1, [{}]),
    "groupnorm_params": (params.groupnorm_params, 2, [{}]),
    "layernorm_params": (lambda a, b: params.layernorm_params((a, b)), 2, [{}]),
    "separable_conv_params": (lambda a, b, k: params.separable_conv_params(a, b, k), 3, [{}]),
}


def test_every_public_formula_is_covered() -> None:
    assert set(formulas.__all__) | (set(params.__all__) - {"ParamCount"}) <= set(CALLS)


@given(data=st.data())
def test_huge_ints_give_an_answer_or_a_convcalc_error(data: st.DataObject) -> None:
    # one function per example (not one test per function) keeps the CI run short
    fn, count, switches = CALLS[data.draw(st.sampled_from(sorted(CALLS)), label="function")]
    values = [data.draw(SMALL_OR_HUGE, label=f"arg{j}") for j in range(count)]
    kwargs = data.draw(st.sampled_from(switches), label="kwargs")
    try:
        result = fn(*values, **kwargs)
    except ConvCalcError as exc:
        str(exc)  # the message itself is a plain string
        return
    assert result is not None


def test_strict_message_with_a_5001_digit_size() -> None:
    with pytest.raises(convcalc.ShapeError, match=r"^\(W - F \+ 2P\) / S = \(a 5001-digit number - 3 \+ 2\*0\) / 8"):
        convcalc.conv_output_size(10**5000, 3, 8, strict=True)
    # by hand: 8 divides 10**5000, so an input of 10**5000 + 3 fits exactly, with 10**5000 / 8 + 1 outputs
    assert convcalc.conv_output_size(10**5000 + 3, 3, 8, strict=True) == 10**5000 // 8 + 1


def test_a_100000_axis_kernel_is_counted_exactly() -> None:
    # by hand: 4 * 3 * 5**100000 weights + 4 biases
    assert params.conv_params(3, 4, (5,) * 100000) == 12 * 5**100000 + 4
    with pytest.raises(ConvCalcError, match="kernel_size must be at least 1"):
        params.conv_params(3, 4, (5,) * 99999 + (0,))


_NUMPY_INTS = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


@given(data=st.data())
def test_numpy_integer_scalars_of_any_width_give_the_python_int_answer(data: st.DataObject) -> None:
    # a uint8 kernel size multiplied in its own width wrapped around: im2col_memory((10, 3, 7, 7), np.uint8(3))
    # gave 120 for 27000
    import numpy as np

    fn, count, switches = CALLS[data.draw(st.sampled_from(sorted(CALLS)), label="function")]
    kwargs = data.draw(st.sampled_from(switches), label="kwargs")
    values = [data.draw(st.integers(1, 127), label=f"arg{j}") for j in range(count)]
    dtypes = [data.draw(st.sampled_from(_NUMPY_INTS), label=f"dtype{j}") for j in range(count)]
    try:
        expected = fn(*values, **kwargs)
    except ConvCalcError as exc:
        with pytest.raises(type(exc)):
            fn(*(getattr(np, t)(v) for v, t in zip(values, dtypes, strict=True)), **kwargs)
        return
    got = fn(*(getattr(np, t)(v) for v, t in zip(values, dtypes, strict=True)), **kwargs)
    assert got == expected

    def numbers(value: Any) -> list[Any]:
        return [x for item in value for x in numbers(item)] if isinstance(value, (tuple, list)) else [value]

    assert all(int(x) == x for x in numbers(got))


def test_the_groups_that_fit_a_channel_count_of_thousands_of_digits_are_named_by_their_digits() -> None:
    # the list of groups that fit printed the count whole: Python refuses an int of more than 4,300 digits as text
    with pytest.raises(
        convcalc.SpecError,
        match=r"groups that divide in_channels and out_channels: 1, 2, 4, .*, \.\.\., a 4301-digit number\.",
    ):
        convcalc.conv_params(10**4300, 10**4300, 3, groups=3)
