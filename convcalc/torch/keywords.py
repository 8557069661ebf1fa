"""The keyword arguments of a call of one of torch's native functions or methods, as torch's argument parser
binds them: under the names of the operator's schema, numpy's aliases taken (``keepdims=True`` is
``keepdim=True``, ``x2=y`` is ``other=y``), and a keyword torch does not take found before a handler would pass
over it (a handler reads the names it knows; one it does not know would be dropped without a word).

>>> native_keywords((("axis", 1), ("keepdims", True)), "mean", method=True)
(('dim', 1), ('keepdim', True))
>>> native_keywords((("x2", 1.0),), "add", method=False)
(('other', 1.0),)
>>> native_keywords((("x1", 1.0), ("x2", 2.0)), "cosine_similarity", method=False)  # its own names
(('x1', 1.0), ('x2', 2.0))
>>> native_keywords((("dims", 1),), "squeeze", method=True)
'dims'
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any

from convcalc._errors import SpecError
from convcalc.torch.nodes import _torch

# numpy's names torch's argument parser takes for arguments its native functions and methods name otherwise,
# where the operator has no argument of that name itself (python_arg_parser's numpy compatibility)
_NUMPY_ALIASES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}

# keywords the argument parser takes beside an operator's schema: ``out=`` (an out= overload), and a factory's
# ``requires_grad``, ``names`` and ``pin_memory``
_BESIDE_SCHEMA = frozenset({"out", "requires_grad", "names", "pin_memory", "generator"})


@functools.lru_cache(maxsize=2048)
def schema_names(name: str, method: bool) -> frozenset[str] | None:
    """The argument names of torch's native operator ``name`` over its overloads that take a tensor and write into
    none (``self`` as Python's ``input``, which a method binds itself), or None where torch has no schema of that
    name (a function written in Python, an operator of another namespace)."""
    torch = _torch()
    base = name[:-1] if name.endswith("_") and not name.endswith("__") else name  # ``x.add_(y)``: add's names
    try:
        schemas = torch._C._jit_get_schemas_for_operator(f"aten::{base}")
    except Exception:  # a torch without this lookup: numpy's names for dim and keepdim only, as before
        return None
    names: set[str] = set()
    for schema in schemas:
        arguments = schema.arguments
        if not any("Tensor" in str(a.type) for a in arguments):  # TorchScript's ``add(int a, int b)``
            continue
        if any(a.alias_info is not None and a.alias_info.is_write for a in arguments):  # out= and in-place forms
            continue
        names.update("input" if a.name == "self" else a.name for a in arguments)
    if method:
        names.discard("input")
    return frozenset(names) or None


def native_keywords(kwargs: tuple[tuple[str, Any], ...], name: str, method: bool) -> tuple[tuple[str, Any], ...] | str:
    """``kwargs`` of a call of the native function or method ``name`` under the names torch binds them to; the
    first keyword torch does not take (a string) where the operator's schema is known and lacks it."""
    if not kwargs:
        return kwargs
    names = schema_names(name, method)
    given = {k for k, _ in kwargs}
    bound: list[tuple[str, Any]] = []
    for key, value in kwargs:
        alias = _NUMPY_ALIASES.get(key)
        if names is None:  # no schema: numpy's names of dim and keepdim, which every reduction takes
            if alias in ("dim", "keepdim") and alias not in given:
                key = alias
        elif key not in names and alias is not None and alias in names and alias not in given:
            key = alias
        if names is not None and key not in names and key not in _BESIDE_SCHEMA:
            return key
        bound.append((key, value))
    return tuple(bound)


def bound_keywords(kwargs: tuple[tuple[str, Any], ...], name: str, function: Any, where: str, node: str) -> Any:
    """The keyword arguments of a call of ``function`` (a tensor method or a function of torch's, named ``name``)
    as torch binds them: a native one's by its schema (see ``native_keywords``), one written in Python by its
    signature. A keyword torch does not take is no step of convcalc's: torch's own pass runs the forward, and
    raises where torch raises (a handler would have passed over it)."""
    if not kwargs:
        return kwargs
    method = not isinstance(function, types.BuiltinFunctionType) and not isinstance(function, types.FunctionType)
    if isinstance(function, types.FunctionType):  # ``x.split(2, axis=2)``: Tensor.split is Python, without axis
        unknown = _not_in_signature(function, kwargs)
        bound: Any = kwargs if unknown is None else unknown
    else:
        bound = native_keywords(kwargs, name, method)
    if isinstance(bound, str):
        what = f"the tensor method .{name}()" if method or _is_tensor_method(function) else f"{name}()"
        raise SpecError(
            f"{where}: {what} is given the keyword {bound!r}, which torch's {name}() does not take by that name (fx "
            f"node {node!r}). Received: keywords={[k for k, _ in kwargs]}"
        )
    return bound


def _is_tensor_method(function: Any) -> bool:
    return getattr(_torch().Tensor, getattr(function, "__name__", ""), None) is function


def _not_in_signature(function: Any, kwargs: tuple[tuple[str, Any], ...]) -> str | None:
    """The first keyword a Python function does not take (None where it takes them all, or has ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return next((k for k, _ in kwargs if k not in parameters), None)


def is_method(name: str) -> bool:
    """Whether a method of that name is one a forward may call on a traced value: a tensor's, a shape's, or a
    Python container's (``x.std_mean(1)`` names a function of torch's that no tensor has: torch's AttributeError)."""
    torch = _torch()
    return any(hasattr(owner, name) for owner in (torch.Tensor, torch.Size, tuple, list, dict, str))
