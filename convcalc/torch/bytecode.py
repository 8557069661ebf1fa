"""What the user's code does next where a traced value is asked a question, read from its bytecode.

A traced value cannot say how the code that asks about it goes on; the instruction the user's frame runs can:
``a, b = x.split(4)`` unpacks two names, ``assert h == w`` jumps past an AssertionError, ``if h != 224: raise
ValueError(...)`` falls into a ``raise`` on one branch, ``m.uniform_()`` drops its value.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import dis
import functools
import sys
import types
from collections.abc import Iterator
from typing import Any


def library_frame(frame: Any) -> bool:
    """Whether ``frame`` runs torch's code or convcalc's, not the user's."""
    return frame.f_globals.get("__name__", "").split(".")[0] in ("torch", "convcalc")


@functools.lru_cache(maxsize=1024)
def instructions(code: types.CodeType) -> tuple[tuple[dis.Instruction, ...], tuple[int, ...]]:
    """A code object's instructions and their offsets, read once (a forward's code is read at each plan)."""
    found = tuple(dis.get_instructions(code))
    return found, tuple(i.offset for i in found)


@functools.lru_cache(maxsize=1024)
def _positions(code: types.CodeType) -> dict[int, int]:
    """Where each instruction of ``code`` is among its instructions, by its offset (a jump's target)."""
    return {step.offset: j for j, step in enumerate(instructions(code)[0])}


def _running(code: types.CodeType, lasti: int) -> tuple[tuple[dis.Instruction, ...], int]:
    """``code``'s instructions, and where the one at ``lasti`` (a frame's, a traceback's) is among them."""
    steps, offsets = instructions(code)
    return steps, bisect.bisect_left(offsets, lasti)


def unpacked_at(frame: Any) -> int | None:
    """How many names the instruction running in ``frame`` unpacks a value into (``UNPACK_SEQUENCE``), as fx's
    own ``Proxy.__iter__`` finds it, or None for another use (a loop, ``*x``, ``b, *rest = ...``)."""
    steps, at = _running(frame.f_code, frame.f_lasti)
    if at < len(steps) and steps[at].opname == "UNPACK_SEQUENCE":
        return int(steps[at].argval)
    return None


def starred_at(frame: Any) -> int:
    """The fewest items the instruction running in ``frame`` unpacks a value into with a starred name (``*_, h, w =
    x.shape``: 2), or 0 for another use."""
    steps, at = _running(frame.f_code, frame.f_lasti)
    if at < len(steps) and steps[at].opname == "UNPACK_EX":
        counts = int(steps[at].arg or 0)  # the names before the star, and (in the next byte) after it
        return (counts & 0xFF) + (counts >> 8)
    return 0


def discarded(frame: Any) -> bool:
    """Whether the call running in ``frame`` is a statement whose value is dropped (``m.uniform_()``)."""
    steps, offsets = instructions(frame.f_code)
    at = bisect.bisect_right(
        offsets, frame.f_lasti
    )  # the instruction after the call (``f_lasti`` may be in its caches)
    return at < len(steps) and steps[at].opname == "POP_TOP"


def in_assert(frame: Any) -> bool:
    """Whether the bool asked of a proxy in the user's ``frame`` is an ``assert``'s: the frame jumps on true past
    a ``LOAD_ASSERTION_ERROR``, or on false to one (a part of ``assert a and b``)."""
    steps, at = _running(frame.f_code, frame.f_lasti)
    if at + 1 >= len(steps):
        return False
    jump, after = steps[at], steps[at + 1]
    target = _positions(frame.f_code).get(jump.argval) if "JUMP" in jump.opname else None
    if target is not None and jump.opname.endswith("IF_FALSE"):
        # ``assert a and b``: a false ``a`` jumps straight to the AssertionError, as a false ``b`` falls to it
        return steps[target].opname == "LOAD_ASSERTION_ERROR"
    return "JUMP" in jump.opname and jump.opname.endswith("IF_TRUE") and after.opname == "LOAD_ASSERTION_ERROR"


# instructions after which a branch's code may not reach its ``raise``, or may leave it (a jump, a return, a loop)
_LEAVING = ("RETURN", "FOR_ITER", "YIELD", "SEND", "RERAISE", "BEFORE_WITH", "SETUP", "PUSH_EXC_INFO")


def raising_branch(frame: Any, root: Any) -> tuple[bool, str] | None:
    """Which way of the condition asked in the user's ``frame`` falls straight into a ``raise`` (``if h != 224:
    raise ValueError(...)``: True; ``if not h > 3: raise ...``: False), with the name of what it raises; None where
    neither does, or where the ``raise`` may be caught: by a ``try`` or a ``with`` around it in this frame or in any
    frame between it and ``root`` (the frame that started the trace; whether the module's caller catches it is
    known when it is planned: ``CAUGHT``). Taking the other way and checking the
    condition on the real sizes is then what torch does: the sizes for which the condition goes the raising way
    are the ones torch raises for."""
    steps, at = _running(frame.f_code, frame.f_lasti)
    if at + 1 >= len(steps) or "JUMP" not in steps[at].opname:
        return None
    jump = steps[at]
    target = _positions(frame.f_code).get(jump.argval)
    if target is None:
        return None
    on_true = jump.opname.endswith("IF_TRUE")
    if not on_true and not jump.opname.endswith("IF_FALSE"):
        return None
    for way, start in ((on_true, target), (not on_true, at + 1)):
        found = _straight_to_raise(frame.f_code, start)
        if found is None or found[0].partition("(")[0] in _CAUGHT_BY_PYTHON:
            continue
        if not any(in_handler(frame, offset, root) for offset in found[1]):  # (each ``raise`` it may reach)
            return way, found[0]
    return None


#: what Python's own machinery catches wherever it is raised: the end of an iteration (``for``, ``zip``,
#: ``next(it, default)``)
_CAUGHT_BY_PYTHON = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit"})
#: the special methods Python calls and catches from: an iterator's, an old-style sequence's (IndexError ends a
#: ``for``), an attribute's (``getattr(obj, name, default)``, ``hasattr``)
_CAUGHT_AROUND = frozenset({"__next__", "__anext__", "__getitem__", "__getattr__", "__getattribute__", "__get__"})


def _straight_to_raise(code: types.CodeType, start: int) -> tuple[str, list[int]] | None:
    """What the code from ``steps[start]`` raises (``ValueError("expected 3 channels, got {…}")``: its name and its
    message's text, a formatted value as ``{…}``), and the offsets of the ``raise`` statements it reaches, where
    every way through it reaches one: no return, loop, backward jump or ``with`` on the way, only forward jumps
    (``new_h = ... if h % 8 else h``, a message built either way, as segmentation_models_pytorch's shape check
    does); None otherwise."""
    steps, at = instructions(code)[0], _positions(code)
    ends: list[int] = []
    waiting, seen = [start], set[int]()
    while waiting:
        j = waiting.pop()
        while j < len(steps) and j not in seen and len(seen) < _FARTHEST:
            seen.add(j)
            step = steps[j]
            if step.opname == "RAISE_VARARGS":
                ends.append(j)
                break
            if "JUMP" in step.opname:
                target = at.get(step.argval, -1)
                if target <= j:  # (a loop, or a jump out of the code read)
                    return None
                waiting.append(target)
                if "IF" not in step.opname and "JUMP_IF" not in step.opname:
                    break  # (an unconditional jump: this way goes on at the target)
            elif any(word in step.opname for word in _LEAVING):
                return None
            j += 1
        else:
            if j >= len(steps) or len(seen) >= _FARTHEST:
                return None
    if not ends:
        return None
    name: str | None = None
    text: list[str] = []
    for step in steps[start : max(ends)]:
        if step.opname.startswith("STORE_") or step.opname == "POP_TOP":
            name, text = None, []  # (a statement before the ``raise``: ``new_h = ...``)
        elif step.opname in ("LOAD_GLOBAL", "LOAD_NAME") and name is None:
            name = str(step.argval).removeprefix("NULL + ")
        elif step.opname in ("LOAD_ATTR", "LOAD_METHOD") and name is not None and not text:
            name = f"{name}.{step.argval}"  # (``raise errors.ShapeError(...)``)
        elif step.opname == "LOAD_CONST" and isinstance(step.argval, str):
            text.append(step.argval)
        elif step.opname == "FORMAT_VALUE":
            text.append("{…}")
    said = f'("{"".join(text)}")' if any(part != "{…}" for part in text) else ""
    return (f"{name}{said}" if name else "an exception"), [steps[j].offset for j in ends]


# the most instructions read on the ways into a ``raise``
_FARTHEST = 400


def in_handler(frame: Any, offset: int, root: Any) -> bool:
    """Whether a handler (a ``try``, a ``with``) of the user's code covers the instruction at ``offset`` in
    ``frame``, or the call running in one of its callers up to ``root``; True where ``root`` is not among the
    callers. torch's frames between them (a module's call, fx's own) clean up and raise again, and are not
    asked."""
    where: Any = frame
    while where is not None and where is not root:
        own = library_frame(where)
        if not own and any(start <= offset < end for start, end in _handlers(where.f_code)):
            return True
        if not own and where.f_code.co_name in _CAUGHT_AROUND:
            return True  # Python's own iteration or ``getattr(obj, name, default)`` may catch what it raises
        where = where.f_back
        offset = where.f_lasti if where is not None else 0
    return where is not root


#: while a child module that its caller calls inside a ``try`` or a ``with`` is read or planned (and the modules it
#: calls): a ``raise`` may be caught there, so a branch into one is a plain branch
CAUGHT: contextvars.ContextVar[bool] = contextvars.ContextVar("convcalc_caught", default=False)


@contextlib.contextmanager
def raises_caught(caught: bool) -> Iterator[None]:
    """Plans a child module's call, ``caught`` saying whether its caller calls it inside a ``try`` or a ``with``."""
    if not caught or CAUGHT.get():
        yield
        return
    token = CAUGHT.set(True)
    try:
        yield
    finally:
        CAUGHT.reset(token)


@functools.lru_cache(maxsize=1024)
def _handlers(code: types.CodeType) -> tuple[tuple[int, int], ...]:
    """The spans of ``code``'s instructions an exception handler covers (``try`` bodies, ``with`` blocks)."""
    entries = getattr(dis.Bytecode(code), "exception_entries", None)  # (CPython 3.11 and later)
    if entries is None:  # pragma: no cover - a Python that does not list them: any raise may be caught
        return ((0, sys.maxsize),)
    return tuple((entry.start, entry.end) for entry in entries)


def raise_site(exc: BaseException) -> tuple[types.CodeType, int, bool] | None:
    """Where ``exc`` was raised by the user's code (not torch's, fx's or convcalc's), as its code and the offset
    of the instruction: a ``raise`` statement (a check of the forward's own, which the values it was traced with
    failed), or its ``[i]`` of a list too short (``[f * 2 for f in features][1]``, the list's length guessed);
    None for any other failure. The last item says whether it is a ``raise``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or library_frame(tb.tb_frame):
        return None
    code = tb.tb_frame.f_code
    steps, at = _running(code, tb.tb_lasti)
    if at >= len(steps):
        return None
    statement = steps[at].opname == "RAISE_VARARGS"
    if not statement and not (steps[at].opname == "BINARY_SUBSCR" and isinstance(exc, IndexError)):
        return None
    return code, steps[at].offset, statement


def asked_by_user() -> tuple[types.CodeType, int] | None:
    """The code and the instruction of the user's frame that asks a question of a traced value (the first frame,
    going up, that is neither torch's nor convcalc's)."""
    frame: Any = sys._getframe(1)
    while frame is not None and library_frame(frame):
        frame = frame.f_back
    return None if frame is None else (frame.f_code, frame.f_lasti)


def in_raise_statement(site: tuple[types.CodeType, int, bool] | None, asked: tuple[types.CodeType, int] | None) -> bool:
    """Whether the question ``asked`` was asked on the way into the raise ``site`` after the last point where the
    code could still go elsewhere (kornia's ``actual_dims = len(x.shape)`` and ``f"{int(x.size(2))} is too
    short"``: a size asked again for the message), not in the condition that led there."""
    if site is None or not site[2]:
        return False
    code, offset, _ = site
    if asked is None or asked[0] is not code or asked[1] > offset:
        return False
    steps, at = instructions(code)[0], _positions(code)
    region = {at[offset]}
    j = at[offset] - 1
    while j >= 0 and all(k in region for k in _next_steps(steps, j, at)):
        region.add(j)
        j -= 1
    return steps[j + 1].offset <= asked[1]


def _next_steps(steps: tuple[dis.Instruction, ...], j: int, at: dict[int, int]) -> list[int]:
    """The instructions that may run after ``steps[j]`` (none after a return or a raise: not in a way in)."""
    step = steps[j]
    if step.opname.startswith(("RETURN", "RAISE", "RERAISE")):
        return [-1]
    if "JUMP" in step.opname:
        target = at.get(step.argval, -1)
        return [j + 1, target] if "IF" in step.opname else [target]
    return [j + 1]


def source_line(frame: Any) -> str:
    """The line of the user's code ``frame`` runs, with its file's name and number (to name it in a message)."""
    import linecache
    import os

    code = frame.f_code
    text = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f"`{text}` ({os.path.basename(code.co_filename)}, line {frame.f_lineno})" if text else code.co_name


def tested_against_none(code: types.CodeType | None) -> frozenset[str]:
    """The local names ``code`` tests against None (``if embeddings is not None:``, ``None is mask``)."""
    if code is None:
        return frozenset()
    steps, _ = instructions(code)
    found = set()
    for j, step in enumerate(steps[:-1]):
        after = steps[j + 1]
        if step.opname == "LOAD_FAST" and after.opname.endswith(("_IF_NONE", "_IF_NOT_NONE")):
            found.add(str(step.argval))
        elif step.opname == "LOAD_FAST" and j + 2 < len(steps) and steps[j + 2].opname == "IS_OP":
            if after.opname == "LOAD_CONST" and after.argval is None:
                found.add(str(step.argval))
        elif (
            step.opname == "LOAD_CONST"
            and step.argval is None
            and after.opname == "LOAD_FAST"
            and j + 2 < len(steps)
            and steps[j + 2].opname == "IS_OP"
        ):
            found.add(str(after.argval))
    return frozenset(found)
