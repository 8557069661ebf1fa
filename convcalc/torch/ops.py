"""The fx operations convcalc follows: importing this module fills ``_HANDLERS`` from the ``ops_*`` modules.

>>> from convcalc.torch.ops import _HANDLERS
>>> "add" in _HANDLERS and "flatten" in _HANDLERS and "max_pool2d" in _HANDLERS
True
"""

from __future__ import annotations

from convcalc.torch import (
    ops_index,
    ops_layer,
    ops_loss,
    ops_math,
    ops_norm,
    ops_product,
    ops_query,
    ops_random,
    ops_reduce,
    ops_select,
    ops_shape,
)
from convcalc.torch.values import _HANDLERS

__all__ = [
    "_HANDLERS",
    "ops_index",
    "ops_layer",
    "ops_loss",
    "ops_math",
    "ops_norm",
    "ops_product",
    "ops_query",
    "ops_random",
    "ops_reduce",
    "ops_select",
    "ops_shape",
]
