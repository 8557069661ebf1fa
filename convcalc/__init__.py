"""convcalc: exact shapes, parameters, MACs and receptive fields of convolutional networks.

Importing convcalc is light: sympy, numpy and torch are imported only when a
symbol, an array or a torch module is used.
"""

from __future__ import annotations

from convcalc._errors import ConvCalcError, ShapeError, SpecError
from convcalc._symbolic import symbols
from convcalc.formulas import (
    adaptive_pool_output_size,
    adaptive_pool_windows,
    conv_output_size,
    conv_transpose_output_size,
    im2col_memory,
    im2col_shape,
    pool_output_size,
    same_padding,
    upsample_output_size,
)
from convcalc.params import (
    ParamCount,
    batchnorm_params,
    conv_params,
    conv_transpose_params,
    groupnorm_params,
    layernorm_params,
    linear_params,
    separable_conv_params,
)

__version__ = "0.1.0"

__all__ = [
    "ConvCalcError",
    "ParamCount",
    "ShapeError",
    "SpecError",
    "adaptive_pool_output_size",
    "adaptive_pool_windows",
    "batchnorm_params",
    "conv_output_size",
    "conv_params",
    "conv_transpose_output_size",
    "conv_transpose_params",
    "groupnorm_params",
    "im2col_memory",
    "im2col_shape",
    "layernorm_params",
    "linear_params",
    "pool_output_size",
    "same_padding",
    "separable_conv_params",
    "symbols",
    "upsample_output_size",
]

from convcalc._plan import Constraint, Plan, ReceptiveField, Row
from convcalc._planner import MacConvention, plan

__all__ += ["Constraint", "MacConvention", "Plan", "ReceptiveField", "Row", "plan"]
from convcalc._solve import Solution  # noqa: E402

__all__ += ["Solution"]
__all__ += ["VerifyReport", "from_torch", "register", "verify"]

_BRIDGE = frozenset({"VerifyReport", "from_torch", "register", "verify"})


def __getattr__(name: str) -> object:
    """The torch bridge's names, imported on first use so ``import convcalc`` stays light."""
    if name in _BRIDGE:
        from convcalc import torch_bridge

        return getattr(torch_bridge, name)
    if name in ("nn", "keras", "zoo", "exercises", "figures", "specfile"):
        import importlib

        return importlib.import_module(f"convcalc.{name}")
    raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
