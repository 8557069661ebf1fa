"""The ``convcalc`` command line: sizes, parameters, plans, solving, verifying, exercises.

``main(argv)`` parses, runs one subcommand and returns the exit status: 0 on
success, 1 when a check fails (a verification mismatch, a wrong exercise answer,
no input giving a wanted output), 2 on bad input, which prints one line
``convcalc: error: <message>`` on stderr and no traceback.

The numeric subcommands (``size``, ``pool``, ``tconv``, ``params``) import
neither sympy nor numpy nor torch; the planner's model zoo, spec files, the torch
bridge and the exercises are imported inside the subcommands that use them.

The values and shared option tables live in ``convcalc._cli_args``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from convcalc._cli_args import (
    _MAC_CONVENTIONS,
    _any_int,
    _cli_spelling,
    _ints,
    _is_numeric,
    _model_options,
    _padding,
    _positive_int,
    _refuse_the_others,
    _shape,
    _show,
    _sizes,
)
from convcalc._cli_args import COMMON_OPTIONS as COMMON_OPTIONS
from convcalc._cli_exercise import _exercise_command_options
from convcalc._errors import ConvCalcError, SpecError, inputs_taken, shapes_per_input
from convcalc.params import MAX_NDIM

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["main"]

PROG = "convcalc"

EPILOG = """\
examples:
  convcalc size 227 -k 11 -s 4                   output size of a convolution: 55
  convcalc size 64 -k 7 -s 2 --steps             the worked calculation, with its floor
  convcalc size 32x64 -k 5                       non-square: 28x60
  convcalc size 7 -k 3 -s 2 --same --convention keras
  convcalc pool 28 -k 2                          max/avg pooling: 14
  convcalc tconv 4 -k 3 -s 2 -p 1 --output-padding 1
  convcalc params conv 3 4 -k 5 --no-bias        parameters of a convolution: 300
  convcalc params linear 400 512                 205312
  convcalc params bn 64 --convention keras       trainable / non-trainable / buffers
  convcalc plan net.toml                         a layer-by-layer table of a spec file
  convcalc plan zoo:resnet50 --style torchinfo
  convcalc plan zoo:unet --input 1x1xHxH --format json
  convcalc solve zoo:unet --input 1x1xHxH --strict
                                                 valid sizes: H >= 188 and H ≡ 12 (mod 16)
  convcalc solve zoo:unet --input 1x1xHxH --strict --output 388
  convcalc verify net.toml --input 1x1x28x28     compare with a real torch forward pass
  convcalc exercise --count 5 --seed 3 --lang ko exercises with answers and worked solutions
  convcalc exercise --seed 3 --no-answers        the handout alone
  convcalc exercise check --kind size --seed 3 --index 1 "27 x 27"
  convcalc figure conv 5 -k 3 -s 2 -p 1 -o step.svg  one convolution step as an SVG
  convcalc figure plan zoo:lenet5 -o lenet.svg    the shapes of a network as an SVG

MODEL is a spec file (.toml, .json, .yaml; see convcalc.specfile), a saved .keras model, zoo:NAME,
PATH.py:NAME (a Python file, such as models.py:LeNet or nets/unet.py:build) or module.path:NAME
(imported from the current folder), NAME being a convcalc or torch model or a callable returning one.
Sizes are written 227, 32x64 or 1x3x224x224; a name such as H is a symbol.
exit status: 0 ok, 1 a check failed (verify, exercise check, solve --output), 2 bad input.
"""


class _UsageError(Exception):
    """An argparse error, re-raised so that main prints it as one line."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, given the width up front: its own default imports shutil (and with it
    lzma, bz2 and zlib) for every parser built, which costs the numeric commands their quick start."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) - 2
            except ValueError:
                try:
                    width = os.get_terminal_size().columns - 2
                except OSError:
                    width = 78
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)  # sub-commands too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog.removeprefix(PROG + ' ')}: {message}" if self.prog != PROG else message)

    def _parse_optional(self, arg_string: str) -> Any:
        """-inf, -nan and -1e400 are values (which the commands then refuse with a reason), not options."""
        if arg_string.startswith("-") and not arg_string.startswith("--"):
            try:
                float(arg_string)
            except ValueError:
                pass
            else:
                return None
        return super()._parse_optional(arg_string)


# --------------------------------------------------------------------------- #
# size / pool / tconv
# --------------------------------------------------------------------------- #


def _window_options(p: argparse.ArgumentParser, *, pool: bool = False) -> None:
    p.add_argument("size", help="input size: 227, 32x64 (one per axis), or a symbol such as H")
    p.add_argument("-k", "--kernel-size", required=True, help="kernel size: 3 or 3x5")
    p.add_argument(
        "-s",
        "--stride",
        default=None if pool else "1",
        help="stride (default: the kernel size)" if pool else "stride (default 1)",
    )
    p.add_argument("-p", "--padding", default=None, help="padding: 1, 1x2, 'same' or 'valid' (default 0)")
    p.add_argument("-d", "--dilation", default="1", help="dilation (default 1)")
    p.add_argument(
        "--convention",
        type=str.lower,
        choices=["torch", "keras"],
        default="torch",
        help="whose rules: torch (default) or keras ('same' at any stride)",
    )
    p.add_argument("--steps", action="store_true", help="print the worked calculation")
    p.add_argument(
        "--lang", type=str.lower, choices=["en", "ko"], default="en", help="the language of --steps (default en)"
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--same", dest="mode", action="store_const", const="same", help="padding='same'")
    modes.add_argument("--valid", dest="mode", action="store_const", const="valid", help="padding='valid'")


def _window_args(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, Any]:
    size = _sizes(args.size, "size")
    if isinstance(size, tuple) and len(size) > 3:  # ``size 1x3x32x32``: a tensor's shape, batch and channels first
        spatial = "x".join(str(d) for d in size[2:])
        raise SpecError(
            f"{args.command} takes the sizes the window slides over (one to three axes, such as 32x32), not a whole "
            f"tensor's shape; for an input of {args.size} (batch, channels, then the sizes) give {spatial}. "
            f"Received: size={args.size}"
        )
    kernel = _ints(args.kernel_size, "kernel_size")
    stride = None if args.stride is None else _ints(args.stride, "stride")
    if args.mode and args.padding is not None:
        raise SpecError(
            f"--{args.mode} sets the padding, and so does --padding: give one of them. "
            f"Received: --{args.mode} --padding {args.padding}"
        )
    padding = args.mode if args.mode else _padding("0" if args.padding is None else args.padding)
    dilation = _ints(args.dilation, "dilation")
    return size, kernel, stride, padding, dilation


def _symbolic_steps(formula: str, out: Any) -> int:
    """The worked steps of a symbolic size: the rule, then the closed form."""
    print(formula)
    print(f"out = {_show(out)}")
    return 0


def _window_formula(padding: Any, convention: str, *, ceil: bool = False) -> str:
    if convention == "keras" and padding in ("same", "causal"):
        return "out = ceil(W/S)"
    if convention == "keras" or padding == "valid":
        return "out = floor((W - D*(F - 1) - 1)/S) + 1"
    if ceil:
        return "out = ceil((W - D*(F - 1) - 1 + 2P)/S) + 1, less a last window that would start in the padding"
    return "out = floor((W - D*(F - 1) - 1 + 2P)/S) + 1"


def _strict_condition(size: Any, kernel: Any, stride: Any, padding: Any, dilation: Any, convention: str) -> list[str]:
    """What --strict asks of a symbolic size: ``H ≡ r (mod S)`` per symbol, from (W - F + 2P) divisible by S.

    The numbers in a size are checked by the library itself; a symbol cannot be, so the condition is
    printed (an impossible one, such as two axes of one symbol that need different remainders, is an error).
    """
    if padding == "same" or (convention == "keras" and padding == "causal"):
        return []  # 'same' has no remainder to drop: Keras rounds up, torch needs stride 1
    n = next((len(v) for v in (size, kernel, stride, padding, dilation) if isinstance(v, tuple)), 1)

    def axis(value: Any, j: int) -> Any:
        return value[j] if isinstance(value, tuple) else value

    wanted: dict[Any, list[tuple[int, int]]] = {}
    for j in range(n):
        x = axis(size, j)
        if type(x) is int:
            continue
        s = axis(stride, j)
        p = 0 if isinstance(padding, str) else axis(padding, j)
        extent = axis(dilation, j) * (axis(kernel, j) - 1) + 1
        wanted.setdefault(x, []).append((s, (extent - 2 * p) % s))
    lines = []
    for x, conditions in wanted.items():
        period = 1
        for s, _ in conditions:
            period = math.lcm(period, s)
        residues = [v for v in range(period) if all(v % s == r for s, r in conditions)]
        if not residues:
            raise SpecError(
                f"--strict: no size {x} divides evenly on every axis: "
                + "; ".join(f"{x} ≡ {r} (mod {s})" for s, r in conditions)
                + f". Received: size={_show(size)}"
            )
        if period == 1:
            lines.append(f"strict: every {x} divides evenly (stride 1)")
        else:
            lines.append(f"strict: {x} ≡ {residues[0]} (mod {period}), so that (W - F + 2P) divides by the stride")
    return lines


def _cmd_size(args: argparse.Namespace) -> int:
    from convcalc.formulas import conv_output_size

    size, kernel, stride, padding, dilation = _window_args(args)
    out = conv_output_size(size, kernel, stride, padding, dilation, convention=args.convention, strict=args.strict)
    if not _is_numeric(size):
        conditions = _strict_condition(size, kernel, stride, padding, dilation, args.convention) if args.strict else []
        if args.steps:
            _symbolic_steps(_window_formula(padding, args.convention), out)
        else:
            print(_show(out))
        for line in conditions:
            print(line)
        return 0
    if args.steps:
        from convcalc.exercises import conv_steps

        lines = conv_steps(size, kernel, stride, padding, dilation, convention=args.convention, lang=args.lang)
        return _print_steps(lines, out)
    print(_show(out))
    return 0


def _cmd_pool(args: argparse.Namespace) -> int:
    from convcalc.formulas import pool_output_size

    size, kernel, stride, padding, dilation = _window_args(args)
    try:
        out = pool_output_size(
            size, kernel, stride, padding, dilation, args.ceil, convention=args.convention, strict=args.strict
        )
    except SpecError as exc:
        # torch pooling refuses a named padding before anything else, and says no more: add the fix
        fix = (
            _torch_pool_padding(size, kernel, stride, padding, dilation, args.ceil)
            if args.convention == "torch"
            else ""
        )
        if not fix:
            raise
        body, marker, received = str(exc).rpartition(" Received: ")
        raise SpecError(f"{body} {fix}{marker}{received}" if marker else f"{exc} {fix}") from None
    if args.steps and not _is_numeric(size):
        return _symbolic_steps(_window_formula(padding, args.convention, ceil=args.ceil), out)
    if args.steps:
        from convcalc.exercises import pool_steps

        lines = pool_steps(
            size, kernel, stride, padding, dilation, args.ceil, convention=args.convention, lang=args.lang
        )
        return _print_steps(lines, out)
    print(_show(out))
    return 0


def _torch_pool_padding(size: Any, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool) -> str:
    """What to use instead of a named padding in torch pooling, in the library's spelling (``padding=1``,
    ``convention='keras'``; the command line's error handler writes them as options): for 'same', the numeric
    padding that gives its output size, ceil(W/S), where one does, and Keras's rules where they apply."""
    if not isinstance(padding, str):
        return ""
    if padding == "valid":
        return "Use padding=0: 'valid' is no padding."
    if padding != "same":
        return ""
    values = (size, kernel, stride, dilation)
    n = max((len(v) for v in values if isinstance(v, tuple)), default=1)
    if any(isinstance(v, tuple) and len(v) != n for v in values):
        return ""  # per-axis values that disagree: the library says so once the padding is a number

    def axis(value: Any, j: int) -> Any:
        return value[j] if isinstance(value, tuple) else value

    windows = [v for j in range(n) for v in (axis(kernel, j), axis(stride, j), axis(dilation, j)) if v is not None]
    if not all(type(v) is int and v >= 1 for v in windows):
        return ""  # the library refuses these with its own reason once the padding is a number
    pads, wanted = [], []
    for j in range(n):
        i, k, d = axis(size, j), axis(kernel, j), axis(dilation, j)
        s = k if stride is None else axis(stride, j)
        if type(i) is not int:
            break  # a symbolic size: no one padding for every value of it
        if i < 1:
            return ""  # refused by the library with its own reason
        want = -(-i // s)
        found = [p for p in range(k // 2 + 1) if _pool_size_or_none(i, k, s, p, d, ceil) == want]
        if not found:
            break
        pads.append(found[0])
        wanted.append(want)
    numeric = ""
    if len(pads) == n:
        numeric = (
            f"padding={pads[0] if len(set(pads)) == 1 else tuple(pads)} for the output size that 'same' gives "
            f"(ceil(W/S) = {_show(wanted[0] if n == 1 else tuple(wanted))})"
        )
    keras = not ceil and all(v == 1 for v in (dilation if isinstance(dilation, tuple) else (dilation,)))
    keras_text = "convention='keras' for TensorFlow's 'same'"
    if numeric and keras:
        return f"Use {numeric}, or {keras_text}."
    if numeric or keras:
        return f"Use {numeric or keras_text}."
    return ""


def _pool_size_or_none(i: int, k: int, s: int, p: int, d: int, ceil: bool) -> Any:
    from convcalc.formulas import pool_output_size

    try:
        return pool_output_size(i, k, s, p, d, ceil)
    except ConvCalcError:
        return None


def _cmd_tconv(args: argparse.Namespace) -> int:
    from convcalc.formulas import conv_transpose_output_size

    size, kernel, stride, padding, dilation = _window_args(args)
    op = None if args.output_padding is None else _ints(args.output_padding, "output_padding")
    out = conv_transpose_output_size(size, kernel, stride, padding, op, dilation, convention=args.convention)
    if args.steps and args.convention == "keras":
        raise SpecError(
            "--steps works through torch's rule for transposed convolutions; Keras's rule has no worked steps: "
            "drop --steps or --convention keras. Received: --steps --convention keras"
        )
    if args.steps and not _is_numeric(size):
        return _symbolic_steps("out = (W - 1)*S - 2P + D*(F - 1) + OP + 1", out)
    if args.steps:
        from convcalc.exercises import conv_transpose_steps

        lines = conv_transpose_steps(size, kernel, stride, padding, 0 if op is None else op, dilation, lang=args.lang)
        return _print_steps(lines, out)
    print(_show(out))
    return 0


def _print_steps(lines: list[str], out: Any) -> int:
    """The worked steps, ending with the answer (added when the last step does not show it whole)."""
    for line in lines:
        print(line)
    answer = _show(out)
    if not lines or not lines[-1].endswith(f"= {answer}"):
        print(f"out = {answer}")
    return 0


# --------------------------------------------------------------------------- #
# params
# --------------------------------------------------------------------------- #


def _cmd_params(args: argparse.Namespace) -> int:
    from convcalc import params

    layer = args.layer
    if layer in ("conv", "tconv"):
        kernel = _ints(args.kernel_size, "kernel_size")
        if isinstance(kernel, tuple) and args.ndim is not None and len(kernel) != args.ndim:
            raise SpecError(
                f"--ndim {args.ndim} and a kernel of {len(kernel)} axes ({args.kernel_size}) disagree: give the kernel "
                f"one size per axis, or one size with --ndim. Received: kernel_size={args.kernel_size}, ndim={args.ndim}"
            )
        ndim = 2 if args.ndim is None else args.ndim
        groups = args.groups
        count = (params.conv_params if layer == "conv" else params.conv_transpose_params)(
            args.in_channels, args.out_channels, kernel, groups=groups, bias=args.bias, ndim=args.ndim
        )
        if args.steps:
            ks = kernel if isinstance(kernel, tuple) else (kernel,) * ndim
            first, second = (
                (args.out_channels, args.in_channels) if layer == "conv" else (args.in_channels, args.out_channels)
            )
            per = f"({second}/{groups})" if groups != 1 else f"{second}"
            formula = (
                "C_out * (C_in / groups) * prod(kernel)"
                if layer == "conv"
                else "C_in * (C_out / groups) * prod(kernel)"
            )
            print(formula + (" + C_out (bias)" if args.bias else ""))
            print(
                f"{first} * {per} * {' * '.join(map(str, ks))}"
                + (f" + {args.out_channels}" if args.bias else "")
                + f" = {count}"
            )
            return 0
        print(count)
        return 0
    if layer == "linear":
        count = params.linear_params(args.in_features, args.out_features, bias=args.bias)
        if args.steps:
            print("in_features * out_features" + (" + out_features (bias)" if args.bias else ""))
            print(
                f"{args.in_features} * {args.out_features}"
                + (f" + {args.out_features}" if args.bias else "")
                + f" = {count}"
            )
            return 0
        print(count)
        return 0
    bn = params.batchnorm_params(args.num_features, affine=args.affine, convention=args.convention)
    if args.steps:
        for line in _batchnorm_steps(args.num_features, bn, args.convention, args.lang):
            print(line)
        return 0
    print(f"trainable: {bn.trainable}")
    print(f"non-trainable: {bn.non_trainable}")
    print(f"buffers: {bn.buffers}")
    print(f"total: {bn.total}")
    return 0


_BN_WORDS = {
    "en": ("trainable", "non-trainable", "buffers", "total", "not counted in the total"),
    "ko": ("학습 파라미터", "학습되지 않는 파라미터", "버퍼", "합계", "합계에는 넣지 않음"),
}


def _batchnorm_steps(c: int, bn: Any, convention: str, lang: str) -> list[str]:
    """The batch-norm count worked out: 2C per pair of per-channel vectors (and torch's step counter)."""
    trainable, non_trainable, buffers, total, not_counted = _BN_WORDS[lang]
    keras = convention == "keras"
    learned, affine = bn.trainable, bn.trainable > 0
    lines = [
        f"{trainable} = 2 * C = 2 * {c} = {learned} ({'gamma, beta' if keras else 'weight, bias'})"
        if affine
        else f"{trainable} = 0 ({'center=False, scale=False' if keras else 'affine=False'})"
    ]
    if keras:
        lines.append(f"{non_trainable} = 2 * C = 2 * {c} = {bn.non_trainable} (moving_mean, moving_variance)")
        lines.append(f"{buffers} = 0")
        lines.append(f"{total} = {learned} + {bn.non_trainable} = {bn.total}")
    else:
        lines.append(f"{non_trainable} = 0")
        lines.append(
            f"{buffers} = 2 * C + 1 = 2 * {c} + 1 = {bn.buffers} "
            f"(running_mean, running_var, num_batches_tracked; {not_counted})"
        )
        lines.append(f"{total} = {bn.total}")
    return lines


# --------------------------------------------------------------------------- #
# Plans of models
# --------------------------------------------------------------------------- #


def _model_and_shape(args: argparse.Namespace) -> tuple[Any, tuple[Any, ...] | None]:
    from convcalc._cli_models import _load_model

    model, default = _load_model(args.model)
    shape = _shape(args.input) if args.input is not None else default  # (an empty --input "" is refused there)
    return model, shape


def _plan(args: argparse.Namespace, model: Any, shape: Any, **options: Any) -> Any:
    from convcalc import plan

    if shape is None and getattr(model, "_default_input_shape", None) is None:
        raise SpecError(f"{args.model} has no input shape: give one with --input, e.g. --input 1x3x224x224")
    return plan(model, shape, strict=args.strict, convention=getattr(args, "convention", None), **options)


def _cmd_plan(args: argparse.Namespace) -> int:
    if args.style is not None and args.format != "text":
        raise SpecError(f"--style applies to --format text only. Received: --style {args.style} --format {args.format}")
    model, shape = _model_and_shape(args)
    result = _plan(args, model, shape, macs=args.macs)
    if args.format == "text":
        text = result.summary(style=args.style or "table")
    else:
        text = {"json": result.to_json, "csv": result.to_csv, "md": result.to_markdown, "latex": result.to_latex}[
            args.format
        ]()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    model, shape = _model_and_shape(args)
    result = _plan(args, model, shape)
    symbols = result.symbols
    if not symbols:
        raise SpecError("solve needs a symbolic input size, such as --input 1x1xHxH")
    status = 0
    listed: tuple[Any, ...] = ()  # the symbols of a set of points already printed (a Linear ties them)
    for symbol in symbols:
        solution = result.valid_sizes(symbol)
        if symbol not in listed:
            print(solution)
        if solution.points is None:
            print(f"smallest {symbol}: {solution.smallest}")
        else:
            listed = tuple(solution.symbol)
            first = next(p for p in solution.points if p[listed.index(symbol)] == solution.smallest)
            at = ", ".join(f"{name}={value}" for name, value in zip(listed, first, strict=True))
            print(f"smallest {symbol}: {solution.smallest}, with the others as listed (first: {at})")
        if args.output is not None:  # each axis of its own size (a stride of (1, 2) on H x H) answers apart
            axes = [j for j, d in enumerate(result.output_shape) if symbol in getattr(d, "free_symbols", ())]
            for axis in axes if len({result.output_shape[j] for j in axes}) > 1 else [None]:
                found, on = result.inputs_for(args.output, symbol, axis=axis), f" on axis {axis}" * (axis is not None)
                found_text = f"{symbol} giving output {args.output}{on}: {', '.join(map(str, found))}"
                print(found_text if found else f"no valid {symbol} gives output {args.output}{on}")
                status = status if found else 1
    return status


def _cmd_verify(args: argparse.Namespace) -> int:
    verify = _verify_function()
    model, shape = _model_and_shape(args)
    if shape is None:
        shape = getattr(model, "_default_input_shape", None)
    if shape is None:
        raise SpecError(f"{args.model} has no input shape: give one with --input, e.g. --input 1x3x224x224")
    options = {"device": args.device} if args.device else {}
    report = verify(model, shape, **options)
    print(report)
    # 1 also where both reject the input at the same layer: the plan was right, but the model does not run there
    return 0 if report.ok else 1


def _verify_function() -> Any:
    try:
        from convcalc import torch_bridge
    except ImportError as exc:
        if exc.name == "torch":
            raise SpecError("verify needs torch: pip install 'convcalc[torch]'") from None
        raise SpecError("verify needs convcalc.torch_bridge, which is not part of this install") from None
    verify = getattr(torch_bridge, "verify", None)
    if verify is None:
        raise SpecError("convcalc.torch_bridge has no verify() in this install")
    return verify


# --------------------------------------------------------------------------- #
# figure
# --------------------------------------------------------------------------- #


def _cmd_figure(args: argparse.Namespace) -> int:
    from convcalc import figures

    if args.figure == "conv":
        kernel = _ints(args.kernel_size, "kernel_size")
        default = kernel if args.pool else 1  # as `convcalc pool`: a window moves by its own size
        stride = default if args.stride is None else _ints(args.stride, "stride")
        svg = figures.conv_step_svg(
            _ints(args.size, "size"),
            kernel,
            stride,
            _ints(args.padding, "padding"),
            _ints(args.dilation, "dilation"),
            step=args.step,
            kind="pool" if args.pool else "conv",
        )
    else:
        model, shape = _model_and_shape(args)
        result = _plan(args, model, shape)
        svg = figures.plan_svg(
            result, max_layers=args.max_layers, title=args.title, skip_elementwise=not args.all_layers
        )
    if args.output is None:
        sys.stdout.write(svg)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(svg)
    except OSError as exc:
        raise SpecError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return 0


# --------------------------------------------------------------------------- #
# The parser
# --------------------------------------------------------------------------- #


def _size_options(p: _Parser) -> None:
    _window_options(p)
    p.add_argument("--strict", action="store_true", help="require (W - F + 2P) to divide by the stride")
    p.set_defaults(func=_cmd_size)


def _pool_options(p: _Parser) -> None:
    _window_options(p, pool=True)
    p.add_argument("--ceil", action="store_true", help="ceil_mode=True (torch)")
    p.add_argument("--strict", action="store_true", help="require (W - F + 2P) to divide by the stride")
    p.set_defaults(func=_cmd_pool)


def _tconv_options(p: _Parser) -> None:
    _window_options(p)
    p.add_argument("--output-padding", default=None, help="output_padding (default 0)")
    p.set_defaults(func=_cmd_tconv)


def _params_options(p: _Parser) -> None:
    layers = p.add_subparsers(dest="layer", metavar="LAYER", parser_class=_Parser)
    layers.required = True
    for name, text in (("conv", "a convolution"), ("tconv", "a transposed convolution")):
        q = layers.add_parser(name, help=text)
        q.add_argument("in_channels", type=_positive_int)
        q.add_argument("out_channels", type=_positive_int)
        q.add_argument("-k", "--kernel-size", required=True, help="kernel size: 5 or 3x5")
        q.add_argument("-g", "--groups", type=_positive_int, default=1)
        q.add_argument(
            "--ndim",
            type=_axis_count,
            default=None,
            help=f"spatial axes of a square kernel (default 2, at most {MAX_NDIM})",
        )
        q.add_argument("--no-bias", dest="bias", action="store_false")
        _params_common(q, convention_help="the same count under both (default torch)")
    q = layers.add_parser("linear", help="a fully connected layer")
    q.add_argument("in_features", type=_positive_int)
    q.add_argument("out_features", type=_positive_int)
    q.add_argument("--no-bias", dest="bias", action="store_false")
    _params_common(q, convention_help="the same count under both (default torch)")
    q = layers.add_parser("bn", help="batch normalisation")
    q.add_argument("num_features", type=_positive_int)
    q.add_argument("--no-affine", dest="affine", action="store_false")
    _params_common(q, convention_help="torch (default: buffers) or keras (non-trainable moving statistics)")
    p.set_defaults(func=_cmd_params)


def _params_common(q: argparse.ArgumentParser, *, convention_help: str) -> None:
    q.add_argument("--convention", type=str.lower, choices=["torch", "keras"], default="torch", help=convention_help)
    q.add_argument("--steps", action="store_true", help="print the calculation")
    q.add_argument(
        "--lang", type=str.lower, choices=["en", "ko"], default="en", help="the language of --steps (default en)"
    )


def _axis_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_NDIM:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_NDIM}, not {text!r}: it counts the spatial axes of a square kernel "
            "(torch and Keras convolve over 1 to 3); give a per-axis kernel with -k for anything else"
        )
    return value


def _plan_options(p: _Parser) -> None:
    _model_options(p)
    p.add_argument(
        "--style",
        type=str.lower,
        choices=["table", "torchinfo", "keras"],
        default=None,
        help="text layout (default table)",
    )
    p.add_argument(
        "--format",
        type=str.lower,
        choices=["text", "json", "csv", "md", "latex"],
        default="text",
        help="output format (default text, laid out by --style)",
    )
    p.add_argument(
        "--macs",
        type=str.lower,
        choices=list(_MAC_CONVENTIONS),
        default="macs",
        help="MAC counting convention: " + ", ".join(_MAC_CONVENTIONS) + " (see convcalc.MacConvention)",
    )
    p.set_defaults(func=_cmd_plan)


def _solve_options(p: _Parser) -> None:
    _model_options(p)
    p.add_argument("--output", type=_positive_int, default=None, help="list the inputs that give this output size")
    p.set_defaults(func=_cmd_solve)


def _verify_options(p: _Parser) -> None:
    _model_options(p, strict=False)
    p.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    p.set_defaults(func=_cmd_verify)


def _figure_options(p: _Parser) -> None:
    figures = p.add_subparsers(dest="figure", metavar="FIGURE", parser_class=_Parser)
    figures.required = True
    q = figures.add_parser(
        "conv",
        help="one step of a convolution or pooling: input grid, padding, kernel window, output grid",
        description="One step of a convolution or pooling, after Dumoulin & Visin's convolution arithmetic.",
    )
    q.add_argument("size", help="input size: 5 or 5x7 (at most 64 cells per side with the padding)")
    q.add_argument("-k", "--kernel-size", required=True, help="kernel size: 3 or 3x5")
    q.add_argument("-s", "--stride", default=None, help="stride (default 1; with --pool, the kernel size)")
    q.add_argument("-p", "--padding", default="0", help="padding: 1 or 1x2 (default 0)")
    q.add_argument("-d", "--dilation", default="1", help="dilation (default 1)")
    q.add_argument("--step", type=_any_int, default=0, help="the output position drawn, row by row from 0")
    q.add_argument("--pool", action="store_true", help="a pooling window (torch's rules) instead of a kernel")
    q.add_argument("-o", "--output", default=None, help="write the SVG to this file (default: standard output)")
    q = figures.add_parser(
        "plan",
        help="a model's shapes layer by layer, as boxes sized by their feature maps",
        description="A model's shapes layer by layer, as boxes sized by their feature maps.",
    )
    _model_options(q)
    q.add_argument("--title", default=None, help="a heading for the figure")
    q.add_argument("--max-layers", type=_positive_int, default=60, help="the most layers drawn (default 60)")
    q.add_argument(
        "--all-layers", action="store_true", help="draw activations, norms and other shape-keeping layers too"
    )
    q.add_argument("-o", "--output", default=None, help="write the SVG to this file (default: standard output)")
    p.set_defaults(func=_cmd_figure)


#: The sub-commands: name, one line of help, examples, and the function that adds the options.
_COMMANDS = (
    (
        "size",
        "output size of a convolution",
        "  convcalc size 227 -k 11 -s 4\n  convcalc size 64 -k 7 -s 2 --steps\n  convcalc size 32x64 -k 5\n"
        "  convcalc size H -k 3 -s 2 -p 1\n",
        _size_options,
    ),
    (
        "pool",
        "output size of max or average pooling",
        "  convcalc pool 28 -k 2\n  convcalc pool 5 -k 2 -p 1 --ceil --steps\n",
        _pool_options,
    ),
    (
        "tconv",
        "output size of a transposed convolution",
        "  convcalc tconv 4 -k 3 -s 2 -p 1 --output-padding 1\n  convcalc tconv 4 -k 2 -s 2 --steps\n",
        _tconv_options,
    ),
    (
        "params",
        "parameters of a layer",
        "  convcalc params conv 3 4 -k 5 --no-bias\n  convcalc params linear 400 512\n"
        "  convcalc params bn 64 --convention keras\n",
        _params_options,
    ),
    (
        "plan",
        "shape, parameters and MACs of every layer of a model",
        "  convcalc plan net.toml --input 1x1x28x28\n  convcalc plan zoo:resnet50 --style torchinfo\n"
        "  convcalc plan zoo:unet --input 1x1xHxH --format md\n",
        _plan_options,
    ),
    (
        "solve",
        "which symbolic input sizes a model accepts",
        "  convcalc solve zoo:unet --input 1x1xHxH --strict\n  convcalc solve zoo:unet --input 1x1xHxH --strict --output 388\n",
        _solve_options,
    ),
    (
        "verify",
        "check a plan against a real torch forward pass",
        "  convcalc verify net.toml --input 1x1x28x28\n  convcalc verify zoo:resnet18 --device cpu\n",
        _verify_options,
    ),
    (
        "exercise",
        "exercise sheets with worked solutions (and marking)",
        "  convcalc exercise --count 5 --seed 3 --lang ko\n"
        "  convcalc exercise --kind im2col --difficulty 2 --format latex --no-answers\n"
        '  convcalc exercise check --kind size --seed 3 --index 1 "27 x 27"\n',
        _exercise_command_options,
    ),
    (
        "figure",
        "SVG figures: one convolution step, or a model's shapes",
        "  convcalc figure conv 5 -k 3 -s 2 -p 1 --step 4 -o step.svg\n"
        "  convcalc figure conv 4 -k 2 --pool\n"
        "  convcalc figure plan zoo:lenet5 -o lenet5.svg\n"
        "  convcalc figure plan zoo:unet --input 1x1xHxH --title U-Net > unet.svg\n",
        _figure_options,
    ),
)


_COMMAND_NAMES = frozenset(name for name, *_ in _COMMANDS)


def _parser(command: str | None = None) -> _Parser:
    """The command line's parser; with *command*, a parser for that sub-command alone.

    ``main`` builds only the sub-command that ``argv[0]`` names: building all of them costs more
    than a quick command's own work. An argv that starts with a sub-command's name never reaches
    the others, so it reads the same either way (a test checks that).
    """
    parser = _Parser(
        prog=PROG,
        description="Exact output sizes, parameters, MACs and receptive fields of convolutional networks.",
        epilog=EPILOG,
    )
    from convcalc import __version__

    parser.add_argument("--version", action="version", version=f"convcalc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text, examples, add_options in _COMMANDS:
        if command is None or command == name:
            p: _Parser = sub.add_parser(name, help=help_text, description=help_text, epilog="examples:\n" + examples)
            add_options(p)
            _refuse_the_others(p, name)
    return parser


# --------------------------------------------------------------------------- #
# Entry point
# --------------------------------------------------------------------------- #


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convcalc`` command line; return the exit status.

    >>> main(["size", "227", "-k", "11", "-s", "4"])
    55
    0
    >>> main(["params", "conv", "3", "4", "-k", "5", "--no-bias"])
    300
    0
    >>> main(["size", "4", "-k", "5"])  # the message goes to stderr
    2
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Python refuses int <-> str conversions of more than 4300 digits (a guard for servers that parse
    # untrusted text). convcalc's answers are exact whatever their size, and the numbers here are the
    # caller's own, so the command runs without that limit, and puts it back afterwards.
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return _run(args_list)
    finally:
        sys.set_int_max_str_digits(digits)


def _run(args_list: list[str]) -> int:
    args = None
    try:
        command = args_list[0] if args_list and args_list[0] in _COMMAND_NAMES else None
        args = _parser(command).parse_args(args_list)
        status: int = args.func(args)
        sys.stdout.flush()
        return status
    except _UsageError as exc:
        return _fail(f"{exc} (see convcalc --help)")
    except ConvCalcError as exc:
        return _fail(_cli_spelling(_one_input_only(exc, args), _command_path(args)))
    except SystemExit as exc:  # --help, --version, or a module imported for the model exiting: as Python does
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set CONVCALC_DEBUG=1 for the traceback)")


def _command_path(args: argparse.Namespace | None) -> str:
    """The command that ran, with its layer or figure: ``size``, ``params conv``, ``figure conv``."""
    names = (getattr(args, key, None) for key in ("command", "layer", "figure"))
    return " ".join(name for name in names if isinstance(name, str))


def _one_input_only(exc: ConvCalcError, args: argparse.Namespace | None) -> str:
    """The message of a forward given fewer inputs than it takes, in the command line's terms: --input gives a model
    one input, so a forward of several is planned from Python (the library's message says how to give them there)."""
    taken = inputs_taken(exc)
    if taken is None:
        return str(exc)
    where, names = taken
    given = getattr(args, "input", None)
    return (
        f"{where}: forward takes {len(names)} inputs ({', '.join(names)}), and the command "
        f"line gives a model one input (--input); plan a forward of several inputs from Python, with one shape per "
        f"input: convcalc.plan(model, {shapes_per_input(names)}). Received: --input={given!r}"
    )


def _fail(message: str) -> int:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
