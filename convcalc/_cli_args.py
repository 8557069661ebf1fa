"""The values and options of ``convcalc``'s command line: sizes and shapes read from text, integer arguments,
and the tables of options that several commands share (taken, or refused with a reason).
"""

from __future__ import annotations

import argparse
import re

from convcalc._errors import SpecError

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Refused(argparse.Action):
    """An option that another command takes and this one does not: using it says why, instead of
    argparse's bare "unrecognized arguments"."""

    def __init__(self, option_strings: list[str], dest: str, reason: str = "", **kwargs: Any) -> None:
        self.reason = reason
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string} does not apply here: {self.reason}")


# Reading sizes
# --------------------------------------------------------------------------- #

_SPLIT = re.compile(r"\s*[x×,*]\s*")


def _parts(text: str, name: str) -> list[str]:
    body = text.strip().strip("()[]").strip()
    parts = _SPLIT.split(body) if body else []
    if not parts or any(not p for p in parts):
        raise SpecError(f"{name} must be a number or numbers joined by x, such as 32x64. Received: {name}={text!r}")
    return parts


def _int(part: str, name: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", part):
        raise SpecError(f"{name} must be an integer or integers joined by x. Received: {name}={text!r}")
    return int(part)


def _ints(text: str, name: str) -> int | tuple[int, ...]:
    """``"3"`` -> 3, ``"3x5"`` -> (3, 5)."""
    parts = _parts(text, name)
    values = tuple(_int(p, name, text) for p in parts)
    return values[0] if len(values) == 1 else values


def _sizes(text: str, name: str) -> Any:
    """A spatial size: ints, or symbols for names (which import sympy)."""
    parts = _parts(text, name)
    if all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
        return _ints(text, name)
    values = _with_symbols(parts, name, text)
    return values[0] if len(values) == 1 else tuple(values)


#: Names that read as numbers that are not sizes: sympy prints a symbol called nan as "nan".
_NOT_SIZES = frozenset({"nan", "inf", "infinity", "oo", "zoo"})


def _not_a_number(p: str, name: str, text: str) -> None:
    """Refuse what reads as a number but is not a whole one (nan, inf, 1e400, 6.5), naming the argument."""
    bare = p.lower().lstrip("+-")
    if bare == "nan":
        why = "is not a number"
    elif bare in _NOT_SIZES:
        why = "is infinite"
    else:
        try:
            float(p)
        except ValueError:
            return
        why = "is not a whole number written out"
    raise SpecError(
        f"{name}: {p!r} {why}; sizes are whole numbers such as 224 (or symbols such as H). Received: {name}={text!r}"
    )


def _with_symbols(parts: list[str], name: str, text: str) -> list[Any]:
    names = [p for p in parts if not re.fullmatch(r"[+-]?\d+", p)]
    for p in names:
        _not_a_number(p, name, text)
        if not p.isidentifier():
            raise SpecError(f"{name}: {p!r} is neither a number nor a symbol name such as H. Received: {name}={text!r}")
    table: dict[str, Any] = {}
    if names:
        from convcalc._symbolic import symbols

        unique = list(dict.fromkeys(names))
        made = symbols(" ".join(unique))
        table = dict(zip(unique, made if isinstance(made, tuple) else (made,), strict=True))
    return [table[p] if p in table else int(p) for p in parts]


def _shape(text: str) -> tuple[Any, ...]:
    """``--input 1x3x224x224`` (or ``1,3,H,W``)."""
    return tuple(_with_symbols(_parts(text, "--input"), "--input", text))


def _padding(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("same", "valid", "causal"):
        return lowered
    try:
        return _ints(text, "padding")
    except SpecError:
        raise SpecError(
            "padding must be an integer, integers joined by x (1x2), 'same' or 'valid' ('causal' for a Keras 1-D "
            f"convolution). Received: padding={text!r}"
        ) from None


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        # a closed form such as floor((H - 1)/2) + 1 needs spaces around the x that joins it to the next axis
        return ("x" if all(type(v) is int for v in value) else " x ").join(str(v) for v in value)
    return str(value)


def _is_numeric(*values: Any) -> bool:
    def plain(v: Any) -> bool:
        return type(v) is int or (isinstance(v, tuple) and all(type(x) is int for x in v))

    return all(plain(v) for v in values)


_KINDS = ["size", "padding", "params", "pool", "network", "receptive-field", "im2col", "mixed"]


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return int(text)


def _any_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}")
    return int(text)


#: Options that several commands take: (whether it takes a value, where it applies). Every command
#: either takes each of them or refuses it with this reason (or a reason of its own, in _WHY_NOT).
COMMON_OPTIONS: dict[str, tuple[bool, str]] = {
    "--steps": (False, "the worked calculation is printed by size, pool, tconv and params"),
    "--strict": (
        False,
        "the divisibility check (W - F + 2P) % S == 0 is made by size, pool, plan, solve and figure plan",
    ),
    "--lang": (True, "Korean is for worked steps (size, pool, tconv, params) and exercises"),
    "--convention": (
        True,
        "torch's or Keras's rules are chosen for size, pool, tconv, params, plan, solve and figure plan",
    ),
    "--format": (True, "output formats are for plan (text, json, csv, md, latex) and exercise sheets (md, latex)"),
    "--input": (True, "a model's input shape is given to plan, solve, verify and figure plan"),
    "--same": (False, "padding='same' is for size, pool and tconv (figure conv takes -p numbers)"),
    "--valid": (False, "padding='valid' is for size, pool and tconv (figure conv takes -p numbers)"),
    "--macs": (True, "MAC counting conventions are for plan"),
}

#: Reasons of one command's own for refusing a common option.
_WHY_NOT: dict[tuple[str, str], str] = {
    ("size", "--input"): "size takes the input size as its first argument: convcalc size 224 -k 3",
    ("pool", "--input"): "pool takes the input size as its first argument: convcalc pool 28 -k 2",
    ("tconv", "--input"): "tconv takes the input size as its first argument: convcalc tconv 4 -k 3",
    ("figure conv", "--input"): "figure conv takes the input size as its first argument: convcalc figure conv 5 -k 3",
    ("tconv", "--strict"): "a transposed convolution drops nothing: every input size gives a whole output size",
    (
        "verify",
        "--strict",
    ): "verify compares with torch's forward pass, which floors; plan --strict is the textbook check",
    ("verify", "--convention"): "verify runs torch itself, so the rules are torch's",
    ("exercise", "--steps"): "a sheet shows the worked solutions with --answers (the default)",
    ("exercise check", "--steps"): "the feedback on a wrong answer shows the worked solution",
    ("exercise", "--strict"): "exercises are built to divide exactly, or say in the question to round down",
    ("exercise check", "--strict"): "exercises are built to divide exactly, or say in the question to round down",
    ("exercise", "--convention"): "exercises use the textbook formula, which is torch's rule",
    ("exercise check", "--convention"): "exercises use the textbook formula, which is torch's rule",
    ("exercise check", "--format"): "an answer is marked the same whatever the sheet's format",
    ("figure conv", "--convention"): "the figure draws torch's windows",
    ("figure conv", "--strict"): "the figure draws any window, dividing evenly or not; size --strict checks it",
    ("figure conv", "--steps"): "the figure shows one step; size --steps writes the calculation out",
    ("figure plan", "--format"): "a figure is an SVG; plan --format gives the other formats",
    ("solve", "--format"): "solve prints the valid sizes as text; plan --format gives a plan's formats",
}


def _refuse_the_others(p: argparse.ArgumentParser, name: str) -> None:
    """Give *p*, and every command under it, a reasoned refusal of each common option it does not take."""
    subcommands = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subcommands:
        for sub_name, sub in action.choices.items():
            _refuse_the_others(sub, f"{name} {sub_name}")
    if any(a.required for a in subcommands):
        return  # params and figure: the options belong to the layer or figure named next
    for option, (_, where) in COMMON_OPTIONS.items():
        if option in p._option_string_actions:
            continue
        p.add_argument(
            option,
            action=_Refused,
            nargs="?",  # a flag given a value (``--strict=yes``) is refused with the reason too
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
            reason=_WHY_NOT.get((name, option), where),
        )


#: convcalc.MacConvention's values, written out so that the parser does not import the planner
#: (a test checks that they are the same).
_MAC_CONVENTIONS = ("macs", "macs+bias", "flops", "torchinfo", "fvcore", "ptflops")


# --------------------------------------------------------------------------- #
# The library's arguments as each command spells them
# --------------------------------------------------------------------------- #

_WINDOW_SPELLING = {
    "kernel_size": "-k",
    "stride": "-s",
    "padding": "-p",
    "dilation": "-d",
    "convention": "--convention",
}

#: The commands whose options spell the library's arguments differently, and how: an error's fix written in
#: Python (``padding=5``, ``convention='keras'``) is written with these options instead (``-p 5``,
#: ``--convention keras``). Other commands (plan and the like) pass their messages on as the library words them:
#: there the arguments are a spec file's or a module's own.
_CLI_SPELLING: dict[str, dict[str, str]] = {
    "size": _WINDOW_SPELLING,
    "pool": _WINDOW_SPELLING,
    "tconv": {**_WINDOW_SPELLING, "output_padding": "--output-padding"},
    "figure conv": {k: v for k, v in _WINDOW_SPELLING.items() if k != "convention"},
    "params conv": {"kernel_size": "-k", "groups": "-g"},
    "params tconv": {"kernel_size": "-k", "groups": "-g"},
}

_VALUE = r"(?:'[^']*'|\([^()]*\)|-?\d+)"
#: ``name=value`` in a message, the value one or several joined by " or " (``padding=1 or 2 fits``)
_ASSIGNED = re.compile(rf"(?<![\w.])(\w+)=({_VALUE}(?: or {_VALUE})*)")
#: ``name >= value`` (or ``<=``, ``<``, ``>``) in a message: a limit on an argument (``padding >= 1``)
_LIMITED = re.compile(rf"(?<![\w.])(\w+) (>=|<=|<|>) ({_VALUE})")
#: ``name=value`` in a message's ``Received:`` part, whatever the value
_RECEIVED = re.compile(r"(\w+)=('[^']*'|\([^()]*\)|[^,\s]+)")


def _cli_value(value: str) -> str:
    """A value as an option takes it: ``'same'`` -> ``same``, ``(1, 2)`` -> ``1x2``."""
    if value.startswith("'"):
        return value.strip("'")
    if value.startswith("("):
        return "x".join(part.strip() for part in value.strip("()").split(",") if part.strip())
    return value


def _cli_spelling(message: str, command: str) -> str:
    """A library error as *command*'s user writes its fix: ``padding=5`` as ``-p 5``, ``convention='keras'`` as
    ``--convention keras`` (the table ``_CLI_SPELLING``).

    A ``name=value`` that repeats what the command passed (as its ``Received:`` part lists it, or one axis of it)
    describes the input, and stays in the library's words, as the ``Received:`` part itself does; any other is a
    value to use instead, and is written as the option, as a limit on one is (``padding >= 1``: ``-p >= 1``).
    """
    options = _CLI_SPELLING.get(command)
    if not options:
        return message
    body, marker, given = message.rpartition("Received: ")
    if not marker:
        body, given = message, ""
    received: dict[str, set[str]] = {}
    for name, value in _RECEIVED.findall(given):
        received.setdefault(name, set()).update([value, *(p.strip() for p in value.strip("()").split(","))])

    def spell(match: re.Match[str]) -> str:
        name, values = match[1], match[2].split(" or ")
        if name not in options or all(v in received.get(name, ()) for v in values):
            return match[0]
        return f"{options[name]} " + " or ".join(_cli_value(v) for v in values)

    def limit(match: re.Match[str]) -> str:  # ``padding >= 1`` as ``-p >= 1``
        return f"{options[match[1]]} {match[2]} {_cli_value(match[3])}" if match[1] in options else match[0]

    return _LIMITED.sub(limit, _ASSIGNED.sub(spell, body)) + marker + given


def _model_options(p: argparse.ArgumentParser, *, strict: bool = True) -> None:
    """``strict=False``: verify's, which runs a torch module (no saved Keras or ONNX model)."""
    files = "a .keras or .onnx model, " if strict else ""
    p.add_argument(
        "model",
        metavar="MODEL",
        help=f"a spec file, {files}zoo:NAME, PATH.py:NAME (a model in a Python file, or a callable returning one) "
        "or module.path:NAME",
    )
    sizes = "1x3xHxW with symbols" if strict else "numbers only: verify runs the model"
    p.add_argument("--input", default=None, help=f"input shape, batch first: 1x3x224x224, or {sizes}")
    if strict:
        p.add_argument("--strict", action="store_true", help="require every strided window to divide exactly")
        p.add_argument(
            "--convention",
            type=str.lower,
            choices=["torch", "keras"],
            default=None,
            help="whose rules the layers follow (default: the model's own)",
        )


def _exercise_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options that pick a sheet; under ``check`` they default to the parent's (SUPPRESS keeps those)."""

    def value(v: Any) -> Any:
        return argparse.SUPPRESS if suppress else v

    p.add_argument("--seed", type=_any_int, default=value(0), action=_Given, help="the sheet's seed (default 0)")
    p.add_argument("--lang", type=str.lower, choices=["en", "ko"], default=value("en"), action=_Given)
    p.add_argument("--kind", type=str.lower, choices=_KINDS, default=value("mixed"), action=_Given)
    p.add_argument("--difficulty", type=int, choices=[1, 2, 3], default=value(1), action=_Given)


class _Given(argparse._StoreAction):
    """A store that also records that the option was written out (``given_<dest>``), as opposed to
    defaulted: ``exercise check --sheet`` takes the sheet's settings unless they are written out."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        super().__call__(parser, namespace, values, option_string)
        setattr(namespace, f"given_{self.dest}", values)
