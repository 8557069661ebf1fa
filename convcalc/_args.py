"""Checking and normalising arguments: integers of three kinds, and per-axis tuples.

A scalar argument applies to every axis; a tuple gives one value per axis. The
number of axes comes from whichever arguments are tuples, and they must agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

from convcalc._backend import is_array, is_symbolic, numpy
from convcalc._errors import ConvCalcError, SpecError, call_error, digit_count, refused_call

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = [
    "ALIGNED_MODES",
    "UPSAMPLE_MODES",
    "Axes",
    "describe",
    "exact_arrays",
    "flag",
    "integer",
    "per_axis",
    "received",
    "show",
    "upsample_arguments",
    "whole",
]

# int64 arrays are exact only while intermediate sums stay far from 2**63.
_ARRAY_LIMIT = 2**40


def exact_arrays(fn: Callable[P, R]) -> Callable[P, R]:
    """Arrays computed exactly: where the numbers given with integer arrays could leave int64 (a value of 2**40
    or more, or a product of them reaching 2**62), the arrays compute in Python ints (numpy's object arrays), as
    the scalar path does; arrays that do not broadcast are a SpecError; numpy's overflow anywhere else too; and
    a call Python refuses before ``fn`` runs (see :func:`convcalc._errors.checked_call`) is one."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            arrays = _arrays_given(args, kwargs)
            if arrays:
                _broadcastable(fn.__name__, arrays)
                if _beyond_int64(arrays):
                    args = _as_python_ints(args)
                    kwargs = _as_python_ints(kwargs)
            return fn(*args, **kwargs)
        except OverflowError:
            raise SpecError(
                f"{fn.__name__}: an int of 2**40 or more, or numbers whose product reaches 2**62, cannot be "
                f"combined with numpy arrays, which compute in int64; pass Python ints (or smaller values). "
                f"Received: {', '.join(map(describe, args))}"
            ) from None
        except TypeError as exc:
            if refused_call(exc):
                raise call_error(fn, kwargs, exc) from None
            raise

    return wrapper


def _arrays_given(args: Any, kwargs: Any) -> list[Any]:
    """Every number given (in tuples and lists too), where one of them is an integer numpy array; else []."""
    values = [*args, *kwargs.values()][::-1]
    flat: list[Any] = []
    seen: set[int] = set()  # a list given twice, or holding itself, is read once
    while values:  # in the order given
        v = values.pop()
        if isinstance(v, (tuple, list)):
            if id(v) not in seen:
                seen.add(id(v))
                values.extend(reversed(v))
        else:
            flat.append(v)
    return flat if any(_int_array(v) for v in flat) else []


def _int_array(value: Any) -> bool:
    """Whether ``value`` is a numpy array (or scalar) of integers."""
    return is_array(value) and getattr(value, "dtype", None) is not None and value.dtype.kind in "iu"


def _broadcastable(name: str, values: list[Any]) -> None:
    """Arrays given together must broadcast (``np.array([10, 11, 12])`` with ``np.array([3, 4])`` is no pairing)."""
    shapes = [tuple(v.shape) for v in values if is_array(v) and int(getattr(v, "ndim", 0)) > 0]
    if len(set(shapes)) > 1:
        np = numpy()
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise SpecError(
                f"{name}: arrays of shapes {' and '.join(map(str, sorted(set(shapes))))} do not broadcast together; "
                f"give arrays of one shape (or of shapes numpy broadcasts). Received: "
                f"{', '.join(describe(v) for v in values if is_array(v))}"
            ) from None


def _as_python_ints(value: Any) -> Any:
    """Integer arrays (in tuples, lists and dicts too) as arrays of Python ints, which numpy computes exactly."""
    if _int_array(value) and value.ndim > 0:
        return value.astype(object)
    if isinstance(value, (tuple, list)):
        return type(value)(_as_python_ints(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_python_ints(v) for k, v in value.items()}
    return value


def _beyond_int64(values: list[Any]) -> bool:
    """Whether numbers given with numpy arrays may have a product that leaves int64 (each below 2**40, the product
    of several is not: ``linear_params(np.array([2**39]), 2**39)``, an im2col of four such sizes), where a formula
    would wrap around without a word: the bound is the product of every integer given, at least 2 each."""
    bound = 1
    for v in values:
        if _int_array(v):
            top = int(abs(v).max(initial=0)) if v.size else 0
        elif isinstance(v, int) and not isinstance(v, bool):
            top = abs(v)
        else:
            continue
        bound *= max(top, 2)
        if bound >= 2**62 or top >= _ARRAY_LIMIT:
            return True
    return False


# Python refuses to turn an int of more than 4300 digits into a string; messages name such ints by
# their number of digits from this size on.
_SHOWN_DIGITS = 1000


def show(value: Any) -> str:
    """``str(value)`` for messages, with an int too large to print named by its digits.

    >>> show(12)
    '12'
    >>> show(-(10**5000))
    'minus a 5001-digit number'
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * _SHOWN_DIGITS:
        return f"{'minus ' if value < 0 else ''}a {digit_count(value)}-digit number"
    if isinstance(value, (tuple, list)) and _huge(value):
        inner = ", ".join(show(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def describe(value: Any) -> str:
    """A short repr for messages: arrays by shape and dtype, huge ints by their digits, the rest by repr."""
    if _huge(value):
        return show(value)
    if is_array(value) and int(getattr(value, "ndim", 0)) > 0:
        return f"array(shape={tuple(value.shape)}, dtype={value.dtype})"
    if is_array(value):
        return repr(value.item()) if hasattr(value, "item") else repr(value)
    return repr(value)


def _huge(value: Any, seen: frozenset[int] = frozenset()) -> bool:
    if isinstance(value, (tuple, list)):
        if id(value) in seen or len(seen) > 64:  # a list that holds itself, or nesting deeper than any shape
            return False
        inner = seen | {id(value)}
        return any(_huge(v, inner) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * _SHOWN_DIGITS


def received(args: Mapping[str, Any]) -> str:
    """The ``Received: a=1, b=2`` tail every message ends with."""
    return "Received: " + ", ".join(f"{k}={describe(v)}" for k, v in args.items())


def integer(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    error: type[ConvCalcError] = SpecError,
    symbolic: bool = False,
) -> Any:
    """Return ``value`` as an int, an int64 array or (with ``symbolic``) a symbolic size.

    Bools, floats, strings and non-integer symbols are rejected, as is any value
    provably below ``minimum``. Symbols are accepted only where ``symbolic`` is
    set (sizes and channel counts), not for kernels, strides and paddings.
    """
    # a value of the wrong type is an invalid argument (SpecError) whatever it stands for;
    # ``error`` is for a well-typed value that is too small
    kind = type(value)
    if kind is int:
        result: Any = value
    elif kind is bool or value is None or isinstance(value, (float, complex, str, bytes)):
        raise SpecError(f"{name} must be an integer. {received({name: value})}")
    elif is_array(value):
        result = _array_integer(value, name)
    elif is_symbolic(value):
        result = _symbolic_integer(value, name, symbolic)
    elif isinstance(value, int):  # int subclasses such as IntEnum
        result = int(value)
    else:
        raise SpecError(f"{name} must be an integer. {received({name: value})}")
    if minimum is not None:
        _at_least(result, minimum, name, error)
    return result


def whole(value: Any, name: str, *, minimum: int | None = None) -> int:
    """A layer argument: one concrete Python int (numpy integer scalars accepted), never an array or a symbol."""
    result = integer(value, name, minimum=minimum)
    if type(result) is not int:
        raise SpecError(f"{name} must be a single int, not an array. {received({name: value})}")
    return result


def whole_or_size(value: Any, name: str, *, minimum: int) -> Any:
    """A layer argument that is a size: one concrete int (as :func:`whole`), or a size computed from symbolic input
    sizes in a forward (``F.fold(y, output_size=x.shape[2:])``), an integer expression (or the planner's
    ``FloorForm``) checked and kept as it is."""
    from convcalc._symbolic import FloorForm

    if isinstance(value, FloorForm) or is_symbolic(value):
        integer(value.to_sympy() if isinstance(value, FloorForm) else value, name, minimum=minimum, symbolic=True)
        return value
    return whole(value, name, minimum=minimum)


def _python_ints(value: Any) -> bool:
    return all(type(v) is int for v in value.flat)


def _array_integer(value: Any, name: str) -> Any:
    error = SpecError
    np = numpy()
    if isinstance(value, np.bool_) or (isinstance(value, np.ndarray) and value.dtype.kind == "b"):
        raise error(f"{name} must be an integer, not a boolean. {received({name: value})}")
    if isinstance(value, np.integer) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu"
    ):
        return int(value)  # a numpy scalar is a plain number: exact as a Python int
    if isinstance(value, np.ndarray) and value.dtype == object and value.ndim and _python_ints(value):
        return value  # Python ints (see exact_arrays): exact at any size
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu":
        dtype = getattr(value, "dtype", type(value).__name__)
        raise error(f"{name} must be an integer array; got dtype {dtype}. {received({name: value})}")
    if value.size and int(np.abs(value).max(initial=0)) >= _ARRAY_LIMIT:
        raise error(
            f"{name} holds values of 2**40 or more, beyond what int64 arrays compute exactly; "
            f"pass Python ints for sizes that large. {received({name: value})}"
        )
    return value.astype(np.int64, copy=False)


def _symbolic_integer(value: Any, name: str, symbolic: bool) -> Any:
    from convcalc._backend import sympy

    if isinstance(value, sympy().Integer):
        return int(value)
    if not symbolic:
        raise SpecError(f"{name} must be a concrete integer; symbols stand for sizes only. {received({name: value})}")
    from convcalc._symbolic import as_integer_expr

    try:
        return as_integer_expr(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name}: {exc}. {received({name: value})}") from None


def _at_least(value: Any, minimum: int, name: str, error: type[ConvCalcError]) -> None:
    if type(value) is int:
        if value < minimum:
            raise error(f"{name} must be at least {minimum}. {received({name: value})}")
        return
    if is_array(value):
        np = numpy()
        if value.size and int(value.min()) < minimum:
            flat = int(np.argmin(value.ravel()))
            raise error(
                f"{name} must be at least {minimum}; entry {flat} is {int(value.ravel()[flat])}. "
                f"{received({name: value})}"
            )
        return
    # symbolic: reject only what is provably too small for every value of the symbols
    if value.__ge__(minimum) is False or _sympy_false(value, minimum):
        raise error(f"{name} must be at least {minimum}. {received({name: value})}")


def _sympy_false(value: Any, minimum: int) -> bool:
    if not is_symbolic(value):
        return False
    from convcalc._backend import sympy

    return bool(sympy().Ge(value, minimum) == sympy().false)


class Axes:
    """Arguments broadcast to a common number of spatial axes.

    ``Axes(size=(32, 64), kernel_size=3)`` has ``ndim == 2`` and
    ``values["kernel_size"] == (3, 3)``. ``tuple_result`` tells whether the
    caller should return a tuple (any argument was a tuple) or a scalar.
    """

    __slots__ = ("ndim", "tuple_result", "values")

    def __init__(self, args: Mapping[str, Any], *, ndim: int | None = None) -> None:
        lengths: dict[str, int] = {}
        for name, value in args.items():
            if isinstance(value, (tuple, list)):
                lengths[name] = len(value)
        self.tuple_result = bool(lengths) or ndim is not None
        found = set(lengths.values())
        if ndim is not None:
            found.add(ndim)
        if len(found) > 1:
            detail = ", ".join(f"{n} has {length}" for n, length in lengths.items())
            raise SpecError(
                f"per-axis tuples must have one value per spatial axis and agree in length "
                f"({detail}{', expected ' + str(ndim) if ndim is not None else ''}). {received(args)}"
            )
        self.ndim = found.pop() if found else 1
        if self.ndim == 0:
            raise SpecError(f"a per-axis tuple must not be empty. {received(args)}")
        self.values: dict[str, tuple[Any, ...]] = {}
        for name, value in args.items():
            if isinstance(value, (tuple, list)):
                self.values[name] = tuple(value)
            else:
                self.values[name] = (value,) * self.ndim

    def wrap(self, results: Iterable[Any]) -> Any:
        from convcalc._symbolic import to_sympy

        out = to_sympy(tuple(results))
        return out if self.tuple_result else out[0]


def spread(value: Any, ndim: int) -> tuple[Any, ...]:
    """A value given for every axis at once (``3``) or per axis (``(3, 5)``) as one value per axis, unchecked.

    >>> spread(3, 2), spread((3, 5), 2), spread([1], 3)
    ((3, 3), (3, 5), (1,))
    """
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim


def flag(value: Any, name: str, args: Mapping[str, Any] | None = None) -> bool:
    """``value`` when it is a bool; a SpecError naming ``args`` (or the flag alone) otherwise."""
    if type(value) is not bool:
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        # a numpy or sympy value that prints as a bool is named by its type (``strict=np.bool_(True)``)
        foreign = type(value).__module__ != "builtins" and str(value) in ("True", "False")
        of = f" ({kind}, not a Python bool)" if foreign else ""
        raise SpecError(f"{name} must be True or False{of}. {received({name: value} if args is None else args)}")
    return value


def per_axis(value: Any, name: str, ndim: int, args: Mapping[str, Any], *, minimum: int) -> tuple[int, ...]:
    """A layer argument given as an int or a tuple of ``ndim`` ints, as ``ndim`` checked ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise SpecError(f"{name} must be an int or a tuple of {ndim} ints. {received(args)}")
        items = tuple(value)
    else:
        items = (value,) * ndim
    return tuple(whole(v, name, minimum=minimum) for v in items)


# torch's interpolation modes, and those of them that take align_corners
UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
ALIGNED_MODES = ("linear", "bilinear", "bicubic", "trilinear")  # the modes that take align_corners


def upsample_arguments(mode: Any, align_corners: Any, args: Mapping[str, Any]) -> None:
    """Check the mode of torch's interpolation and its ``align_corners`` as torch does at every input size (in
    ``F.interpolate``, which ``nn.Upsample`` calls): a SpecError naming ``args`` for a mode torch does not know (it
    raises NotImplementedError) or ``align_corners`` given, even as False, with a mode that does not interpolate
    (ValueError: align_corners option can only be set with the interpolating modes). Kept with the argument
    checks, for the layer and for the formula of its output size alike."""
    if not isinstance(mode, str) or mode not in UPSAMPLE_MODES:
        import difflib

        hint = difflib.get_close_matches(mode, UPSAMPLE_MODES, n=1) if isinstance(mode, str) else []
        tip = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise SpecError(f"mode must be one of {', '.join(map(repr, UPSAMPLE_MODES))}{tip}. {received(args)}")
    if align_corners is None:
        return
    if mode not in ALIGNED_MODES:
        raise SpecError(
            f"align_corners={align_corners!r} is taken by the interpolating modes {', '.join(map(repr, ALIGNED_MODES))} "
            f"only; torch refuses it (even False) with mode={mode!r}: leave align_corners None. {received(args)}"
        )
    flag(align_corners, "align_corners", args)
