"""Random draws in a forward. A plan holds for every call only where no draw decides the shapes or the work: a
decision on a drawn value (``if self.training and torch.rand([]) < self.layerdrop: continue``, a size from
``torch.randint(1, 6, (1,)).item()``) is refused, with the advice to plan in eval mode, where such forwards skip
their draws. Here: that refusal where the plan meets a decision on a tensor's values that comes from a draw;
Python's ``random`` and numpy's ``numpy.random`` refused to the thread that reads a forward or runs it on the
meta device (a trace would keep one draw as a constant); and the meta run's draws, made on the meta device and
followed into what is made of them, so that no decision there is taken from a real draw."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any

from convcalc.torch.nodes import Node, _refs, _torch
from convcalc.torch.tracer import _PATCHING, DRAWING_FUNCTIONS, DRAWING_METHODS, TRACERS, drawn_number
from convcalc.torch.values import NeedsDataError, RunRefusedError

#: the kinds the plan gives the nodes of draws (``x.uniform_()`` is ``uniform``, written in place; a number drawn
#: by Python's or numpy's random functions is ``drawn_number``)
DRAW_KINDS = frozenset({*DRAWING_FUNCTIONS, *(name.rstrip("_") for name in DRAWING_METHODS), "drawn_number"})

# what a run on the meta device asks of a tensor's values
_DECISIONS = frozenset(
    {"__bool__", "item", "__int__", "__index__", "__float__", "__complex__", "tolist", "numpy", "__array__"}
)


class RandomDrawError(RunRefusedError):
    """A forward whose shapes or work a random draw decides: the refusal stands (torch's meta run has no draw
    to decide it by either)."""


def drawn_refusal(where: str, draw: str, received: str) -> RandomDrawError:
    """The refusal of a forward (``where``: its module) that decides its shapes or its work by ``draw``."""
    return RandomDrawError(
        f"{where}: its forward draws random numbers ({draw}) that decide its shapes or its work (a branch taken, a "
        f"layer skipped, a size): each call may decide otherwise, so no one plan holds. Plan it in eval mode "
        f"(model.eval()), where such a forward skips its draws (LayerDrop, stochastic depth), or register a rule "
        f"for the module. {received}"
    )


def drawn_decision(exc: NeedsDataError, graph: Any, node: Node, path: str) -> Exception:
    """For a decision on a tensor's values (``exc``, raised at ``node`` of ``graph``): where those values come from
    a draw (``torch.rand([]) < p``, anything computed from one), its refusal; ``exc`` otherwise (torch's machinery
    may yet run the module)."""
    drawn: dict[str, str] = {}  # a node's name -> the draw its value comes from
    for earlier in graph.nodes:
        raw = (earlier.args, tuple(v for _, v in earlier.kwargs))
        if earlier.kind == "drawn_number":
            drawn[earlier.name] = str(earlier.args[0])
        elif earlier.kind in DRAW_KINDS and earlier.op in ("call_function", "call_method"):
            target = earlier.target.replace(":", ".")
            drawn[earlier.name] = target if earlier.op == "call_function" else f"Tensor.{target}"
        else:
            source = next((drawn[ref.name] for ref in _refs(raw) if ref.name in drawn), None)
            if source is not None:
                drawn[earlier.name] = source
        if earlier is node:
            break
    if node.name not in drawn:
        return exc
    where = f"{path or '<model>'} ({graph.torch_type})"
    return drawn_refusal(where, drawn[node.name], "Received: " + str(exc).partition(". Received: ")[2])


# the threads that read a forward or run it on the meta device now, each with the module it plans
_REFUSING: dict[int, str] = {}


def _python_draws() -> list[tuple[Any, str]]:
    """The functions of Python's ``random`` and of numpy's ``numpy.random`` (where numpy is imported) that draw,
    as ``(module, name)``: those of the modules' shared generators (``random.random``, ``np.random.rand``), and
    numpy's ``default_rng``."""
    import random

    found = [
        (random, name)
        for name in random.__all__
        if getattr(getattr(random, name), "__self__", None) is random._inst
        and name not in ("seed", "getstate", "setstate")
    ]
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        found += [
            (numpy_random, name)
            for name in getattr(numpy_random, "__all__", ())
            if name[:1].islower()
            and callable(getattr(numpy_random, name, None))
            and not isinstance(getattr(numpy_random, name), type)
            and name not in ("seed", "get_state", "set_state", "get_bit_generator", "set_bit_generator")
        ]
    return found


def _refusing(owner: Any, label: str, original: Any) -> Any:
    @functools.wraps(original)
    def draw(*args: Any, **kwargs: Any) -> Any:
        thread = threading.get_ident()
        where = _REFUSING.get(thread)
        if where is None:  # another thread's own draw
            return original(*args, **kwargs)
        tracer = TRACERS.get(thread)
        if tracer is not None and not label.endswith("shuffle") and _a_number(owner, original, args, kwargs):
            # a number drawn in a traced forward: a node of unknown value, which may go unused (``if self.training
            # and random.random() < self.layerdrop:`` in eval mode) or scale a tensor; a decision on it is refused
            return tracer.create_proxy("call_function", drawn_number, (label,), {})
        caller = getattr(sys._getframe(1).f_code, "co_qualname", sys._getframe(1).f_code.co_name)
        raise drawn_refusal(where, f"{label}, in {caller}", f"Received: function={label}")

    return draw


def _a_number(owner: Any, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``original(*args, **kwargs)`` draws one number (``random.uniform(0, 1)``, ``np.random.rand()``), not
    a sequence or an array; asked of a draw made and taken back (the generator's state restored after it)."""
    python = owner.__name__ == "random"
    state = owner.getstate() if python else owner.get_state()
    try:
        value = original(*args, **kwargs)
    except Exception:  # (the draw's own refusal of its arguments: Python's and numpy's, raised by the run too)
        return False
    finally:
        (owner.setstate if python else owner.set_state)(state)
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (type(value).__module__ == "numpy" and getattr(value, "shape", 0) == ())


@contextlib.contextmanager
def python_draws_refused(where: str) -> Iterator[None]:
    """While a forward of the module ``where`` is read or run on the meta device in this thread: a call of one of
    Python's or numpy's random functions there is refused (a trace runs it once, and would keep its number as a
    constant: ``if random.random() < self.drop:`` taken one way for good). Other threads draw as they would."""
    thread = threading.get_ident()
    with _PATCHING:  # another thread's plan must neither see these nor save them as the modules' own
        patched = [(owner, name, getattr(owner, name)) for owner, name in _python_draws()]
        for owner, name, original in patched:
            label = f"{'numpy.random' if owner.__name__.startswith('numpy') else 'random'}.{name}"
            setattr(owner, name, _refusing(owner, label, original))
        outer = _REFUSING.get(thread)
        _REFUSING[thread] = where
        try:
            yield
        finally:
            for owner, name, original in reversed(patched):
                setattr(owner, name, original)
            if outer is None:
                del _REFUSING[thread]
            else:
                _REFUSING[thread] = outer


def _tensors_in(value: Any, depth: int = 6) -> Iterator[Any]:
    """The tensors in a value, inside tuples, lists, dicts and slices (``x[:, :k]``), a few levels deep."""
    if isinstance(value, _torch().Tensor):
        yield value
    elif depth and isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item, depth - 1)
    elif depth and isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item, depth - 1)
    elif depth and isinstance(value, slice):
        yield from _tensors_in((value.start, value.stop, value.step), depth - 1)


class MetaDraws:
    """The draws of one run on the meta device, where ``run`` (the fallback's ``_Run``: its module stack and
    names) plans the module ``where``: each of torch's draws is made on the meta device (a draw given a device,
    or ``torch.normal`` of numbers, which torch makes on the CPU whatever the default device), and every tensor
    made from a draw is known as drawn; a decision on one (``if torch.rand([]) < p:``, ``.item()``, a slice's
    bound) is refused, a draw into a real tensor too."""

    def __init__(self, run: Any, where: str) -> None:
        self.run, self.where = run, where
        self.drawn: dict[int, tuple[Any, str]] = {}  # id of a tensor -> (the tensor, kept alive; its draw)

    def call(self, func: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        """``func(*args, **kwargs)``, as a run on the meta device makes it."""
        name = getattr(func, "__name__", "")
        given = list(_tensors_in((args, kwargs)))
        draw = next((self.drawn[id(t)][1] for t in given if id(t) in self.drawn), None)
        if draw is not None and name in _DECISIONS:
            raise drawn_refusal(self.module(), draw, f"Received: function={name}")
        if name in DRAWING_METHODS and name.endswith("_") and given and given[0].device.type != "meta":
            raise drawn_refusal(
                self.module(), f"Tensor.{name}", f"Received: a tensor on the {given[0].device.type} device"
            )
        try:
            out = func(*args, **kwargs)
        except Exception as exc:
            if draw is not None and "meta" in str(exc):  # a drawn value asked inside the call (``x[:, :k]``)
                raise drawn_refusal(self.module(), draw, f"Received: function={name}") from None
            raise
        if name in DRAWING_FUNCTIONS or name in DRAWING_METHODS:
            draw = f"torch.{name}" if name in DRAWING_FUNCTIONS else f"Tensor.{name}"
            if any(t.device.type != "meta" for t in _tensors_in(out)):
                out = self._on_meta(func, args, kwargs, draw)
        if draw is not None:
            self.drawn.update((id(t), (t, draw)) for t in _tensors_in(out))
        return out

    def _on_meta(self, func: Any, args: Any, kwargs: dict[str, Any], draw: str) -> Any:
        """A draw torch made off the meta device, made again on it: its tensors there, and on it by ``device``."""
        torch = _torch()
        moved = torch.utils._pytree.tree_map(
            lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v, (tuple(args), dict(kwargs))
        )
        for extra in ({}, {"device": "meta"}):
            try:
                out = func(*moved[0], **{**moved[1], **extra})
            except (TypeError, RuntimeError):
                continue
            if all(t.device.type == "meta" for t in _tensors_in(out)):
                return out
        raise drawn_refusal(self.module(), draw, "Received: a draw torch makes off the meta device")

    def module(self) -> str:
        """The module whose forward runs now: the innermost the run entered, else the one it plans."""
        stack = self.run.stack
        if not stack:
            return self.where
        return f"{self.run.names.get(id(stack[-1])) or '<model>'} ({type(stack[-1]).__name__})"
