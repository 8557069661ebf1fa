"""The ``exercise`` sub-command of the command line: a sheet of exercises, and ``exercise check`` marking an
answer to one of them."""

from __future__ import annotations

import argparse
import sys

from convcalc._cli_args import _exercise_options, _Given, _positive_int
from convcalc._errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _exercise_command_options(p: argparse.ArgumentParser) -> None:
    _exercise_options(p, suppress=False)
    p.add_argument("--count", type=_positive_int, default=5, action=_Given, help="how many exercises (default 5)")
    p.add_argument("--format", type=str.lower, choices=["md", "latex"], default="md")
    p.add_argument(
        "--answers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the exercises with the answers and worked solutions (default); --no-answers for a handout",
    )
    checks = p.add_subparsers(dest="action", metavar="check", parser_class=type(p))
    c = checks.add_parser(
        "check",
        help="mark an answer to exercise INDEX of a sheet",
        description="Mark an answer: exit status 0 when right, 1 when wrong.",
    )
    _exercise_options(c, suppress=True)
    c.add_argument(
        "--count",
        type=_positive_int,
        default=argparse.SUPPRESS,
        action=_Given,
        help="the sheet's number of exercises: INDEX must be on it",
    )
    c.add_argument(
        "--sheet",
        default=None,
        metavar="FILE",
        help="the sheet (Markdown or LaTeX, - for standard input): its header gives the seed, kind, difficulty and "
        "language, so they need not be repeated",
    )
    c.add_argument("--index", type=_positive_int, required=True, help="the exercise's number on the sheet (from 1)")
    c.add_argument("answer", help='the answer, e.g. 55, "28 x 60", "(9, 75)"')
    c.set_defaults(check=True)
    p.set_defaults(func=_cmd_exercise)


def _cmd_exercise(args: argparse.Namespace) -> int:
    from convcalc import exercises

    if getattr(args, "check", False):
        if args.sheet is not None:
            _settings_of_sheet(args, exercises.sheet_settings(_read_sheet(args.sheet)))
        if args.index > 1000:
            raise SpecError(f"--index must be at most 1000 (a sheet's size). Received: --index {args.index}")
        count = getattr(args, "given_count", None)
        if count is not None and args.index > count:
            raise SpecError(
                f"--index {args.index} is not on a sheet of {count} exercises: give an index from 1 to {count}. "
                f"Received: --index {args.index} --count {count}"
            )
        items = exercises.generate(args.index, args.seed, kind=args.kind, difficulty=args.difficulty, lang=args.lang)
        feedback = exercises.check_answer(items[args.index - 1], args.answer)
        print(feedback.message)
        return 0 if feedback.correct else 1
    items = exercises.generate(args.count, args.seed, kind=args.kind, difficulty=args.difficulty, lang=args.lang)
    sys.stdout.write(exercises.render_sheet(items, fmt=args.format, answers=args.answers))
    return 0


def _read_sheet(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SpecError(f"cannot read the sheet {path}: {reason}. Received: --sheet {path}") from None


def _settings_of_sheet(args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """Take the sheet's seed, kind, difficulty, language and count; an option given as well must agree with it."""
    for key in ("seed", "kind", "difficulty", "lang", "count"):
        given = getattr(args, f"given_{key}", None)
        if given is not None and given != settings[key]:
            raise SpecError(
                f"--{key} {given} differs from the sheet, which was drawn with {key} {settings[key]}: "
                f"leave --{key} out to mark an answer to the sheet. Received: --sheet {args.sheet} --{key} {given}"
            )
        setattr(args, key, settings[key])
    if args.index > settings["count"]:
        raise SpecError(
            f"the sheet has {settings['count']} exercises: --index must be at most {settings['count']}. "
            f"Received: --index {args.index}"
        )
