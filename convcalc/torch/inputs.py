"""A forward's inputs as a graph reads them: what it takes, and the errors of inputs given otherwise (a keyword
it does not take, an input left out, given at the model or by a caller)."""

from __future__ import annotations

from typing import Any

from convcalc._errors import SpecError, shapes_per_input, with_inputs_taken
from convcalc.torch.nodes import keyword_only, takes_any_keyword
from convcalc.torch.values import RetakeError


def _parameters(graph: Any) -> tuple[list[str], list[str]]:
    """The inputs a forward takes: those it needs, and those with a default (``*args`` and ``**kwargs`` aside)."""
    placeholders = [n for n in graph.nodes if n.op == "placeholder" and not n.target.startswith("*")]
    return [n.target for n in placeholders if not n.args], [n.target for n in placeholders if n.args]


def _inputs_text(graph: Any) -> str:
    """``2 inputs (image, tabular)``, with the optional ones after them."""
    needed, optional = _parameters(graph)
    text = f"{len(needed)} input{'s' if len(needed) != 1 else ''} ({', '.join(needed)})" if needed else "no input"
    return f"{text}, and optionally {', '.join(optional)}" if optional else text


def _check_keywords(graph: Any, named: dict[str, Any], path: str) -> frozenset[str]:
    """A keyword the forward takes no parameter of (a misspelt key of a dict of shapes) is torch's TypeError,
    which Python raises before it looks for a missing input: named first, as torch names it. Returns the inputs
    the forward takes by name only (``forward(x, *, mask)``), which no input given by position fills."""
    only = keyword_only(graph.torch_module.__class__) if graph.torch_module is not None else frozenset()
    # a keyword read as given None to **kwargs and not given so now (``kwargs.get("dim", 1)`` differs): read again
    stale = [m for m in graph.absent if m.endswith("=None") and named.get(m[2 : -len("=None")], 0) is not None]
    if stale:
        raise RetakeError(
            f"{path or '<model>'} ({graph.torch_type}): its **kwargs are given otherwise than it was read with. "
            f"Received: keywords={list(named)}",
            (),
            graph.absent - set(stale),
        )
    placeholders = [n.target for n in graph.nodes if n.op == "placeholder"] if named else []
    if not named or any(t.startswith("**") for t in placeholders):
        return only
    unknown = [k for k in named if k not in placeholders]
    if unknown and graph.torch_module is not None and takes_any_keyword(graph.torch_module.__class__):
        # ``forward(self, x, **kwargs)``: each keyword it has no parameter of is read in ``kwargs``, one with a
        # value as an input of its own, one given None as the None it is (``kw.get("dim", 1)`` sees it)
        marks = {k: f"**{k}=None" if named[k] is None else f"**{k}" for k in unknown}
        for key in [k for k in unknown if marks[k] in graph.absent]:  # read so: taken
            del named[key]
        unknown = [k for k in unknown if k in named]
        if unknown:
            dropped = {f"**{k}" for k in unknown} | {f"**{k}=None" for k in unknown}
            raise RetakeError(
                f"{path or '<model>'} ({graph.torch_type}): its forward takes {unknown[0]!r} in **kwargs. "
                f"Received: keywords={list(named)}",
                (),
                (graph.absent - dropped) | {marks[k] for k in unknown},
            )
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], [t for t in placeholders if t not in named], n=1)
        tip = f": did you mean {close[0]!r}?" if close else "."
        raise SpecError(
            f"{path or '<model>'} ({graph.torch_type}): forward() got an unexpected keyword argument "
            f"{unknown[0]!r} (torch: TypeError); it takes {_inputs_text(graph)}{tip} Received: keywords={list(named)}"
        )
    return only


def _not_given(graph: Any, name: str, count: int, path: str) -> SpecError:
    """The error of a forward's input that a plan does not give: at the model itself, how to give each input."""
    where = f"{path or '<model>'} ({graph.torch_type})"
    if path:  # a module called with fewer inputs than its forward takes: torch raises TypeError
        return SpecError(
            f"{where}: forward takes {_inputs_text(graph)}, but its caller gives {count} (torch: TypeError, "
            f"missing {name!r}). Received: missing={name}"
        )
    needed = _parameters(graph)[0]
    shown = needed if name in needed else [*needed, name]
    return with_inputs_taken(
        SpecError(
            f"{where}: forward takes {_inputs_text(graph)}, but is given {count}: give one shape per input, as a "
            f"list in the forward's order, {shapes_per_input(shown)}, or as a dict by name, "
            f"{{{', '.join(f'{n!r}: shape' for n in shown)}}}. Received: missing={name}"
        ),
        (where, tuple(shown)),
    )
