"""convcalc: exact shapes, parameters, MACs and receptive fields of convolutional networks.

Importing convcalc is light: the formulas are loaded at once; the planner, the
torch bridge and the submodules on first use; sympy, numpy and torch only when a
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

TYPE_CHECKING = False  # typing itself is not imported: it would slow the numeric path's start-up
if TYPE_CHECKING:  # for type checkers; at run time these come from __getattr__ below
    from convcalc._plan import Constraint, Plan, ReceptiveField, Row
    from convcalc._planner import MacConvention, plan
    from convcalc._solve import Solution
    from convcalc._summary import LayerSummary, ModelSummary, summary
    from convcalc.keras_reader import from_keras
    from convcalc.onnx_reader import from_onnx
    from convcalc.torch.read import from_torch
    from convcalc.torch.trace import register
    from convcalc.torch.verify import VerifyReport, verify

__version__ = "0.1.0"

__all__ = [
    "Constraint",
    "ConvCalcError",
    "LayerSummary",
    "MacConvention",
    "ModelSummary",
    "ParamCount",
    "Plan",
    "ReceptiveField",
    "Row",
    "ShapeError",
    "Solution",
    "SpecError",
    "VerifyReport",
    "adaptive_pool_output_size",
    "adaptive_pool_windows",
    "batchnorm_params",
    "conv_output_size",
    "conv_params",
    "conv_transpose_output_size",
    "conv_transpose_params",
    "from_keras",
    "from_onnx",
    "from_torch",
    "groupnorm_params",
    "im2col_memory",
    "im2col_shape",
    "layernorm_params",
    "linear_params",
    "plan",
    "pool_output_size",
    "register",
    "same_padding",
    "separable_conv_params",
    "summary",
    "symbols",
    "upsample_output_size",
    "verify",
]

# name -> the module that defines it, imported on first use
_LAZY = {
    "Constraint": "convcalc._plan",
    "Plan": "convcalc._plan",
    "ReceptiveField": "convcalc._plan",
    "Row": "convcalc._plan",
    "MacConvention": "convcalc._planner",
    "plan": "convcalc._planner",
    "Solution": "convcalc._solve",
    "LayerSummary": "convcalc._summary",
    "ModelSummary": "convcalc._summary",
    "summary": "convcalc._summary",
    "from_keras": "convcalc.keras_reader",
    "VerifyReport": "convcalc.torch.verify",
    "from_onnx": "convcalc.onnx_reader",
    "from_torch": "convcalc.torch.read",
    "register": "convcalc.torch.trace",
    "verify": "convcalc.torch.verify",
}
_SUBMODULES = frozenset({"nn", "keras", "zoo", "exercises", "figures", "specfile", "torch_bridge", "cli"})


def __getattr__(name: str) -> object:
    """Load the planner, the torch bridge and the submodules when first asked for."""
    import importlib  # here, not at the top: the numeric path's start-up does without it

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"convcalc.{name}")
    from convcalc._errors import no_attribute

    raise no_attribute("convcalc", name, [*__all__, *_SUBMODULES])


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
