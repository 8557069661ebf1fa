"""TorchScript that multiplies matrices, which torch's pass cannot show convcalc inside a scripted module or
function: their MACs would be unknown, and the module is refused."""

from __future__ import annotations

from typing import Any

from convcalc._errors import SpecError
from convcalc.torch.nodes import _torch

# TorchScript operations whose multiply-accumulates convcalc counts only through its layers' rules.
_MAC_OPS = (
    "aten::conv",
    "aten::_convolution",
    "aten::linear",
    "aten::matmul",
    "aten::mm",
    "aten::bmm",
    "aten::mv",
    "aten::dot",
    "aten::addmm",
    "aten::addbmm",
    "aten::baddbmm",
    "aten::addmv",
    "aten::einsum",
    "aten::tensordot",
    "aten::bilinear",
    "aten::lstm",
    "aten::gru",
    "aten::rnn",
    "aten::scaled_dot_product_attention",
)


def _torchscript_mac_op(scripted: Any) -> str | None:
    """The first operation with multiply-accumulates in a TorchScript function's or module's forward graph."""
    try:
        graph = str(scripted.inlined_graph)
    except Exception:  # a module with no forward graph (a scripted container)
        return None
    return next((op for op in _MAC_OPS if op in graph), None)


def _scripted_mac_error(module: Any, where: str) -> SpecError | None:
    """A module whose forward can call TorchScript that multiplies matrices: torch's pass cannot show convcalc
    those operations, so their MACs would be missing from the plan."""
    from convcalc.torch.tracer import _scripted_calls

    torch = _torch()
    for m in module.modules():
        found = [(m, op) for m in (m,) if isinstance(m, torch.jit.ScriptModule) and (op := _torchscript_mac_op(m))]
        forward = None if isinstance(m, torch.jit.ScriptModule) else type(m).forward
        found += [(f, op) for f in _scripted_calls(forward) if (op := _torchscript_mac_op(f))]
        if found:
            script, op = found[0]
            name = getattr(script, "original_name", None) or script.name
            return SpecError(
                f"{where}: it runs the TorchScript {name}, which calls {op}, whose multiply-accumulates convcalc "
                f"cannot count inside TorchScript; register a rule for it. Received: torchscript={name}"
            )
    return None
