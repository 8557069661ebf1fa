"""The torch bridge's former home, kept so ``from convcalc import torch_bridge`` goes on working.

The code lives in the package :mod:`convcalc.torch`, one job per module (``read``, ``build``, ``graph``,
``ops_*``, ``fallback``, ``verify``; ``docs/architecture.md`` draws them). This module re-exports the public
names, and the classes made on first use (``Graph``, ``Elementwise``, ``TorchCall``, ``AddBranches``,
``ConcatBranches``, ``TracedGraph``) through ``__getattr__``.
"""

from __future__ import annotations

from typing import Any

from convcalc.torch.build import to_torch
from convcalc.torch.nodes import Node, Ref
from convcalc.torch.read import from_torch, module_classes
from convcalc.torch.trace import register
from convcalc.torch.verify import VerifyReport, VerifyRow, verify

__all__ = [
    "Node",
    "Ref",
    "VerifyReport",
    "VerifyRow",
    "from_torch",
    "module_classes",
    "register",
    "to_torch",
    "verify",
]

# name -> the module of convcalc.torch that makes it on first use
_LAZY = {
    "Elementwise": "trace",
    "Graph": "graph",
    "TorchCall": "graph",
    "AddBranches": "build",
    "ConcatBranches": "build",
    "TracedGraph": "build",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"convcalc.torch.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
