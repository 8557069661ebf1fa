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


@pytest.mark.parametrize(
    "call",
    [
        lambda box: formulas.upsample_output_size(box(2**39), scale_factor=2**40),
        lambda box: formulas.upsample_output_size(box(3), scale_factor=10**30),
        lambda box: formulas.im2col_shape((2**39, 2**39, box(2**39), 2**39), 1)[0],
        lambda box: formulas.im2col_memory((2**39, 2**39, box(2**39), 2**39), 1),
        lambda box: params.linear_params(box(2**39), 2**39),
        lambda box: params.layernorm_params((box(2**39), 2**39, 2**39)),
        lambda box: formulas.conv_transpose_output_size(box(2**39), 3, stride=2**39),
        lambda box: formulas.conv_output_size(box(10**30 + 5), 3),
    ],
)
def test_arrays_whose_products_leave_int64_are_computed_exactly(call: Any) -> None:
    """Each value below 2**40, their product is not: int64 arithmetic wrapped around (linear_params gave 2**39 for
    2**78 + 2**39, layernorm_params 0 for 2**118, a transposed size a false ShapeError). Such arrays compute in
    Python ints: each element is the scalar path's answer."""
    import numpy as np

    got = call(lambda v: np.array([v, 7]))
    assert [int(v) for v in got] == [call(lambda v: v), call(lambda v: 7)]


def test_ordinary_arrays_stay_int64() -> None:
    import numpy as np

    assert formulas.conv_output_size(np.arange(1, 10**6), 3, stride=2, padding=1).dtype == np.int64
    assert params.conv_params(np.array([64, 2048]), 2048, (7, 7, 7)).dtype == np.int64


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: formulas.conv_output_size(a, b),
        lambda a, b: formulas.pool_output_size(a, b),
        lambda a, b: formulas.conv_transpose_output_size(a, b),
        lambda a, b: formulas.same_padding(a, b),  # zipped the two to 2 answers for 3 sizes
        lambda a, b: params.conv_params(a, b + 4, 3),
        lambda a, b: params.linear_params(b, a),
        lambda a, b: params.groupnorm_params(b, a),
    ],
)
def test_arrays_that_do_not_broadcast_are_a_spec_error(call: Any) -> None:
    import numpy as np

    with pytest.raises(convcalc.SpecError, match=r"arrays of shapes \(2,\) and \(3,\) do not broadcast"):
        call(np.array([10, 11, 12]), np.array([3, 4]))


def test_numpy_scalars_given_to_layer_specs_count_as_python_ints() -> None:
    """``nn.Linear(np.int8(100), np.int8(100))`` kept int8 arguments, and the plan multiplied in int8: 16 MACs
    for 10,000, an activation of -112 bytes, an OverflowError at a batch of 1000."""
    import numpy as np

    plan = convcalc.plan(convcalc.nn.Linear(np.int8(100), np.int8(100)), (1000, 100))
    assert (plan.macs, type(plan.macs), plan.rows[0].activation_bytes) == (10000, int, 400000)
    wide = convcalc.plan(convcalc.nn.Linear(np.int32(100000), np.int32(100000)), (1, 100000))
    assert wide.macs == 10**10
    conv = convcalc.plan(convcalc.nn.Conv2d(3, np.int8(100), (np.int64(3), 3), bias=np.bool_(False)), (1, 3, 8, 8))
    assert conv.macs == 100 * 27 * 36
    keras = convcalc.plan(convcalc.keras.Sequential([convcalc.keras.Dense(np.int8(100))]), (1, 100))
    assert keras.total_params == 10100


def test_a_square_kernel_over_absurdly_many_axes_is_refused() -> None:
    """``conv_params(4, 8, 3, ndim=10**18)`` built a tuple of 10**18 sizes (MemoryError); the CLI's bound holds."""
    with pytest.raises(convcalc.SpecError, match="ndim must be at most 16"):
        params.conv_params(4, 8, 3, ndim=10**18)
    assert params.conv_params(4, 8, 3, ndim=16) == 32 * 3**16 + 8


@pytest.mark.parametrize("dim", ["x", (1, "a"), 1.5])
def test_a_softmax_dim_that_is_no_int_is_refused_when_built(dim: Any) -> None:
    with pytest.raises(convcalc.SpecError, match="dim must be an integer"):
        convcalc.nn.Softmax(dim)


def test_a_plan_of_many_large_sizes_is_refused_before_it_cannot_be_printed() -> None:
    with pytest.raises(convcalc.ShapeError, match="16 sizes whose product has more than 4000 bits"):
        convcalc.plan(convcalc.nn.ReLU(), (2**999,) * 16)
    assert convcalc.plan(convcalc.nn.ReLU(), (2**999, 3)).to_json()


def test_a_layer_argument_that_holds_itself_is_a_spec_error() -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    with pytest.raises(convcalc.SpecError, match="unflattened_size must be an integer"):
        convcalc.nn.Unflatten(1, looped)


def test_a_size_list_that_holds_itself_is_a_spec_error() -> None:
    looped: list[Any] = [5]
    looped.append(looped)
    with pytest.raises(convcalc.SpecError, match="size must be an integer"):
        formulas.conv_output_size(looped, 3)
