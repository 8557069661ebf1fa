"""How many items the tracer takes a traced value to hold where the forward asks: a guess the plan checks.

``len(x.shape)``, ``len(x.size())``, ``*batch, h, w = x.shape`` and ``for d in x.shape`` ask a tensor's rank, and
``a, b = *x.chunk(2)`` how many pieces a split gives; a traced value knows neither. The tracer takes a guess,
records it as a ``size_number`` node, and the plan computes the real count and reads the forward again with it
where it differs. A forward that raises on a guessed rank (``if len(x.shape) != 4: raise ValueError(...)``,
kornia's ``KORNIA_CHECK_SHAPE``) is read again with the next rank of ``RANKS``, so that a check the real input
passes is never what refuses it.
"""

from __future__ import annotations

from typing import Any

from convcalc.torch.nodes import Decision

#: the ranks a traced tensor is guessed to have, in the order they are tried: images first, then sequences,
#: matrices, volumes, vectors, and the rest
RANKS = (4, 3, 2, 5, 1, 6, 0, 7, 8)


def pieces_guess(value: Any) -> int:
    """How many pieces ``x.chunk(c)``, ``x.tensor_split(c)`` or ``x.split([a, b])`` gives where the sizes allow
    (the first guess of a trace that unpacks them: ``a, b = *x.chunk(2)`` would fail on one); 1 otherwise."""
    node = getattr(value, "node", None)
    name = getattr(node, "target", None)
    name = name if isinstance(name, str) else getattr(name, "__name__", "")
    if name in ("chunk", "tensor_split", "split") and node is not None and len(node.args) > 1:
        pieces = node.args[1] if node.args else None
        if isinstance(pieces, int) and name != "split" and pieces >= 1:
            return pieces
        if isinstance(pieces, (list, tuple)) and name != "chunk":
            return len(pieces) + (name == "tensor_split")
    return 1


def shape_of(node: Any) -> Any:
    """The traced tensor whose whole shape ``node`` is (``x.shape``, ``x.size()``), or None (``x.shape[2:]``):
    its rank asked twice (``if len(x.shape) != 4: raise ValueError(f"... {len(x.shape)}-D")``) is one guess."""
    if node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",):
        return node.args[0]
    if node.op == "call_method" and node.target == "size" and len(node.args) == 1 and not node.kwargs:
        return node.args[0]
    return None


def take_rank(tracer: Any, length: Any, shape: Any) -> Any:
    """``len(x.shape)`` while ``tracer`` reads a forward (``length``: its node; ``shape``: the node of ``x.shape``):
    a number the plan checks, guessed as the rank ``x`` was taken to have before in this read, else as the first
    of ``RANKS`` (a guess the reader may take again: see ``next_rank``)."""
    source = shape_of(shape) or shape  # (``x_shape = x.shape[1:]``, its length asked twice: one guess too)
    before = tracer.rank_at.get(source)
    if before is not None:
        return tracer.to_number(length, "int", int(tracer.made[before]))
    tracer.rank_at[source] = len(tracer.made)
    tracer.ranks.append(len(tracer.made))
    return tracer.to_number(length, "int", RANKS[0])


def next_rank(made: list[Decision], ranks: list[int], start: int) -> tuple[Decision, ...] | None:
    """The decisions to read a forward with again after it raised with ``made``, where the ranks it guessed
    (``made[j]`` for each ``j`` in ``ranks``) may be what it raised on: the last rank guessed at ``start`` or
    beyond that has a next one in ``RANKS`` takes it, the decisions before it kept; None where none has.

    >>> next_rank([True, 4, False], [1], 0)
    (True, 3)
    >>> next_rank([True, 4], [1], 2) is None
    True
    """
    for j in reversed(ranks):
        if j < start:
            break
        taken = made[j]
        at = RANKS.index(taken) if type(taken) is int and taken in RANKS else len(RANKS) - 1
        if at + 1 < len(RANKS):
            return (*made[:j], RANKS[at + 1])
    return None
