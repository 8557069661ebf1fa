"""The exceptions convcalc raises: one root, two kinds below it."""

from __future__ import annotations

import functools
import re
import sys

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = [
    "CheckedCall",
    "ConvCalcError",
    "ShapeError",
    "SpecError",
    "call_error",
    "checked_call",
    "inputs_taken",
    "param_text",
    "reader_fault",
    "refused_call",
    "said",
    "shapes_per_input",
    "with_inputs_taken",
]


class ConvCalcError(ValueError):
    """Base of every error convcalc raises on a user's input.

    It subclasses :class:`ValueError`, so ``except ValueError`` keeps working in
    code that predates convcalc.
    """


class ShapeError(ConvCalcError):
    """A layer does not fit the shape that reaches it (a size, a channel count).

    Args:
        message: what does not fit, naming the layer and the value received.
        layer: the path of the layer whose size check failed, where the planner knows it (``""`` is the
            model itself); None otherwise.
        axis: the spatial axis (0 for the first one after the channels) whose size does not fit, with ``layer``.
        strict: whether the check that failed is strict mode's (a strided window that does not divide its
            input exactly) rather than a size that is too small.
        built: whether the weights a model was read with (a built Keras layer's) refused the size, rather
            than the layer's own rule.
        advice: the sentence about the model's input that a model added to the message (``""`` for none);
            ``str(exc)`` without it is the layer's own message.
        mismatch: whether sizes that must be equal differ (a concatenation or a sum of two branches, a view of
            another number of elements), rather than one size that does not fit its layer.

    The planner reads ``layer`` and ``axis`` to add the smallest input that would fit to the message.

    >>> from convcalc import ShapeError
    >>> exc = ShapeError("0 (Conv2d): too small", layer="0", axis=1)
    >>> (str(exc), exc.layer, exc.axis, exc.strict, exc.built, exc.advice, exc.mismatch)
    ('0 (Conv2d): too small', '0', 1, False, False, '', False)
    >>> raise ShapeError("too small")
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: too small
    """

    layer: str | None
    axis: int | None
    strict: bool
    built: bool
    advice: str
    mismatch: bool

    def __init__(
        self,
        message: str,
        *,
        layer: str | None = None,
        axis: int | None = None,
        strict: bool = False,
        built: bool = False,
        advice: str = "",
        mismatch: bool = False,
    ) -> None:
        super().__init__(message)
        self.layer = layer
        self.axis = axis
        self.strict = strict
        self.built = built
        self.advice = advice
        self.mismatch = mismatch


class SpecError(ConvCalcError):
    """A layer, an argument or an option is invalid whatever the input."""


# Tracebacks name them as users import them: convcalc.ShapeError, not convcalc.ShapeError.
for _cls in (ConvCalcError, ShapeError, SpecError):
    _cls.__module__ = "convcalc"


def checked_call(fn: Callable[P, R]) -> Callable[P, R]:
    """A public function whose call Python refuses before it runs (``strides=`` for ``stride=``, an argument
    left out or given twice) raises a SpecError that names the argument meant and the signature, not
    Python's TypeError. A TypeError from inside ``fn`` is left as it is."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            if refused_call(exc):
                raise call_error(fn, kwargs, exc) from None
            raise

    return wrapper


def call_error(fn: Callable[..., Any], kwargs: Mapping[str, Any], refused: TypeError) -> SpecError:
    """What is wrong with a call of ``fn`` (a function or a class) that Python ``refused`` to bind, with the
    argument meant where a keyword is misspelled, and ``fn``'s signature."""
    import difflib
    import inspect

    name = getattr(fn, "__name__", type(fn).__name__)
    parameters = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    shown, starred = [], False
    for p in parameters:
        if p.kind is p.KEYWORD_ONLY and not starred:  # keyword-only from here on
            shown.append("*")
        starred = starred or p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY)
        shown.append(param_text(p))
    usage = f"{name}({', '.join(shown)})"
    names = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    unknown = [] if any(p.kind is p.VAR_KEYWORD for p in parameters) else [k for k in kwargs if k not in names]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], names, n=1)
        tip = f" (did you mean {hint[0]!r}?)" if hint else ""
        return SpecError(f"{name}() has no argument {unknown[0]!r}{tip}. It takes {usage}")
    said = re.sub(r"^[\w.]+\(\)", f"{name}()", str(refused))  # ``_Container.__init__()``: the class's name
    return SpecError(f"{said}. It takes {usage}")


def param_text(p: Any) -> str:
    """One parameter as a signature shows it: ``stride=1``, ``kernel_size``, ``*layers``."""
    if p.kind is p.VAR_POSITIONAL:
        return f"*{p.name}"
    if p.kind is p.VAR_KEYWORD:
        return f"**{p.name}"
    return p.name if p.default is p.empty else f"{p.name}={p.default!r}"


class CheckedCall(type):
    """The metaclass of the layer specs: a constructor call Python refuses before it runs (``strides=2`` for
    ``stride=2``, ``kernel_size`` left out) raises a SpecError with the argument meant and the signature, as
    :func:`checked_call` does for functions."""

    @property
    def __signature__(cls) -> Any:
        # what inspect.signature(cls) shows without a metaclass: the constructor's arguments (help(), spec files)
        import inspect

        signature = inspect.signature(cls.__init__)  # type: ignore[misc]
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if not _plain_arguments(args, kwargs):  # (most calls: ints, strings, flags and specs, looked at once)
            np = sys.modules.get("numpy")  # numpy scalars only where numpy is in use (never imported here)
            try:
                if np is not None:
                    seen: dict[int, Any] = {}
                    args = tuple(_plain(a, np, seen) for a in args)
                    kwargs = {k: _plain(v, np, seen) for k, v in kwargs.items()}
                _not_huge(cls, args, kwargs)
            except RecursionError:
                raise SpecError(f"{cls.__name__}: its arguments nest too deeply (lists within lists)") from None
        try:
            return super().__call__(*args, **kwargs)
        except TypeError as exc:
            if refused_call(exc):
                raise call_error(cls, kwargs, exc) from None
            raise


#: The most bits an int a layer takes (or a plan's input size) may have: about 300 digits. A plan prints each of
#: its numbers, and a product of a dozen such sizes stays below the 4300 digits Python turns into text.
MAX_BITS = 1000


def _plain_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether no argument needs a look inside: no int too large, no numpy number, no list or tuple holding one (or
    holding lists), the common case (ints, strings, flags, kernel tuples, specs, a reader's nodes)."""
    for v in (*args, *kwargs.values()):
        kind = type(v)
        if kind is int:
            if v.bit_length() > MAX_BITS:
                return False
        elif kind is tuple or kind is list:
            for x in v:
                inner = type(x)
                if inner is int:
                    if x.bit_length() > MAX_BITS:
                        return False
                elif inner is tuple or inner is list or inner.__module__ == "numpy":
                    return False
        elif kind.__module__ == "numpy":
            return False
    return True


def _not_huge(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A layer argument of more than :data:`MAX_BITS` bits is a SpecError that names it."""

    seen: set[int] = set()  # a list given twice (or holding itself) is looked at once

    def huge(v: Any) -> int | None:
        if type(v) in (tuple, list):
            if id(v) in seen:
                return None
            seen.add(id(v))
            return next((d for d in map(huge, v) if d is not None), None)
        if type(v) is int and v.bit_length() > MAX_BITS:
            return digit_count(v)
        return None

    found = [(j, d) for j, d in enumerate(map(huge, [*args, *kwargs.values()])) if d is not None]
    if not found:
        return
    j, digits = found[0]
    names = [*_parameter_names(cls)[: len(args)], *kwargs]
    name = names[j] if j < len(names) else f"argument {j + 1}"
    raise SpecError(
        f"{cls.__name__}: {name} has {digits} digits, beyond any layer: a layer's numbers have at most about 300 "
        f"digits here (a plan prints each of its counts); the formulas (conv_output_size, conv_params, ...) take "
        f"ints of any size. Received: {name}=a {digits}-digit number"
    )


def digit_count(value: int) -> int:
    """The number of decimal digits of an int, without turning it into text (Python refuses more than 4300)."""
    magnitude = abs(value)
    digits = int(magnitude.bit_length() * 0.30102999566398120)  # log10(2): at most one too small
    return max(digits + int(magnitude >= 10**digits), 1)


def _parameter_names(cls: Any) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return []


def _plain(value: Any, np: Any, seen: dict[int, Any]) -> Any:
    """A numpy scalar argument as the Python number it is (``np.int8(100)`` as 100, so a spec's counts are exact
    Python ints, not int8 arithmetic that wraps), in tuples and lists too (a new one only where an item changes;
    one given twice, or holding itself, looked at once); any other value as it is."""
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return value
    if type(value) in (tuple, list):
        if id(value) not in seen:
            seen[id(value)] = value
            items = [_plain(v, np, seen) for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                seen[id(value)] = type(value)(items)
        return seen[id(value)]
    return value


def refused_call(exc: TypeError) -> bool:
    """Whether ``exc`` was raised by Python binding a call's arguments, before the callee's own code ran (its
    traceback holds only the caller's frame): a TypeError from inside the callee is not a call refused."""
    return exc.__traceback__ is not None and exc.__traceback__.tb_next is None


def no_attribute(module: str, name: str, names: Any) -> AttributeError:
    """The AttributeError of ``module.name`` (``nn.Maxpool2d``), naming the attribute meant where one is close:
    a case slip first, then a near spelling. Still an AttributeError, as ``hasattr`` and ``from ... import`` expect."""
    import difflib

    lowered = {n.lower(): n for n in names}
    hint = [lowered[name.lower()]] if name.lower() in lowered else difflib.get_close_matches(name, sorted(names), n=1)
    tip = f" (did you mean {hint[0]!r}?)" if hint and not name.startswith("__") else ""
    return AttributeError(f"module {module!r} has no attribute {name!r}{tip}")


def said(text: str) -> Callable[[], str]:
    """A message made now, for a check that may fail later (the planner's checks take a message maker)."""
    return lambda: text


def inputs_taken(exc: BaseException) -> tuple[str, tuple[str, ...]] | None:
    """Where a plan gave a model's forward fewer inputs than it takes: the model, as its errors name it, and the
    inputs the forward takes (for verify() and the command line, which give one input, to say so in their terms);
    None for any other error."""
    found: tuple[str, tuple[str, ...]] | None = getattr(exc, "inputs_taken", None)
    return found


def with_inputs_taken(error: SpecError, taken: tuple[str, tuple[str, ...]]) -> SpecError:
    """``error``, which :func:`inputs_taken` reads ``taken`` from (a plain SpecError, as users catch it)."""
    setattr(error, "inputs_taken", taken)  # noqa: B010 - an attribute SpecError does not declare
    return error


def shapes_per_input(names: Any) -> str:
    """The list of shapes a forward of the inputs ``names`` is planned with: ``[shape of image, shape of tabular]``."""
    return f"[{', '.join(f'shape of {n}' for n in names)}]"


def reader_fault(where: str, what: str, exc: Exception, report: str, tail: str) -> SpecError:
    """A fault of a reader's own code (an exception convcalc did not mean), still a ConvCalcError: what the
    reader met, and whose fault it is. ``what`` the reader was reading (the model, a node), ``report`` what to
    report it with, ``tail`` the message's ``Received: ...``."""
    return SpecError(
        f"{where}: convcalc failed while reading this {what} ({type(exc).__name__}: {str(exc)[:200]}). This is a "
        f"fault in convcalc, not in the model: please report it with {report}. {tail}"
    )
