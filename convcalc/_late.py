"""Functions found by dotted name when called: how a lower module reaches an upper one without importing it.

Data flows one way (formulas -> layer specs -> planner -> ``Plan`` -> renderers and solver; readers on
the side), and ``tests/test_architecture.py`` fails on any import against that flow. A few calls go the
other way on purpose: ``Plan.summary()`` renders, ``Plan.valid_sizes()`` solves, ``Module.to_torch()``
builds a torch module, and the planner runs a registered reader. Such a call names its target as a
``"module:function"`` string, resolved here at call time, so importing the lower module never imports the
upper one and the import graph stays a tree (the architecture test checks that every such target exists).

>>> from convcalc._late import late
>>> late("convcalc.formulas:conv_output_size")(32, 3)
30
>>> late("convcalc.formulas:no_such_function")
Traceback (most recent call last):
...
AttributeError: module 'convcalc.formulas' has no attribute 'no_such_function'
"""

from __future__ import annotations

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["late"]


def late(target: str) -> Any:
    """The object ``target`` (``"package.module:name"``, ``name`` may be dotted) names, importing its module."""
    import importlib

    module_name, _, name = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in name.split("."):
        value = getattr(value, part)
    return value
