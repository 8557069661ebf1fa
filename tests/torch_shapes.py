"""What torch computes for a module, recorded without convcalc: the oracle of the torch-bridge tests.

Every module's output comes from a forward hook; every tensor operation written
in a ``forward`` comes from ``torch.fx``'s ShapeProp, run on the real inputs that
module received. Shapes are keyed by the
names the planner gives its rows: a module's path, and ``path.op`` for an
operation traced inside it.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import torch
from torch import fx
from torch.fx.passes.shape_prop import ShapeProp


class _ChildrenAsLeaves(fx.Tracer):
    """Traces one module's own forward, calling its children as opaque leaves."""

    def is_leaf_module(self, m: Any, qualname: str) -> bool:
        return True


@contextlib.contextmanager
def native_kernels() -> Iterator[None]:
    """Run torch's own convolution kernels, not oneDNN (CPU) or cuDNN (CUDA).

    Those two backends skip torch's output-size check of a transposed convolution at exactly 0 and return an empty
    tensor: oneDNN when the output is 0 on every axis (float32 ``conv_transpose{2,3}d`` and grouped 1-D:
    ConvTranspose2d(1, 1, 4, padding=2) on a 1x1 input gives (1, 1, 0, 0)), cuDNN when it is 0 on any axis. torch's
    own kernels, on either device, raise "Output size is too small" (semantics.md section 3), which is the rule
    convcalc states (output >= 1 on every axis). With them the rule is the same on every path.
    """
    with torch.backends.mkldnn.flags(enabled=False), torch.backends.cudnn.flags(enabled=False):
        yield


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def torch_shapes(module: Any, shape: tuple[int, ...]) -> tuple[dict[str, list[tuple[int, ...]]], Any]:
    """Output shapes by row name, in the order torch produced them, and the module's own output."""
    shapes: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    inputs: dict[str, tuple[Any, ...]] = {}
    handles = []
    for name, m in module.named_modules():

        def hook(mod: Any, args: Any, out: Any, name: str = name) -> None:
            if isinstance(out, torch.Tensor):
                shapes[name].append(tuple(out.shape))
            inputs.setdefault(name, args)

        handles.append(m.register_forward_hook(hook))
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.randn(shape))
    finally:
        for handle in handles:
            handle.remove()
    for name, m in module.named_modules():
        # a Sequential is its children, and convcalc's to_torch containers are planned by theirs;
        # torch's own layers are traced too (the bridge follows the forward of those it has no spec
        # for), except those whose forward fx cannot trace
        if name not in inputs or isinstance(m, torch.nn.Sequential) or type(m).__module__.startswith("convcalc"):
            continue
        try:
            gm = fx.GraphModule(m, _ChildrenAsLeaves().trace(m))
            with torch.no_grad():
                ShapeProp(gm).propagate(*inputs[name])
        except Exception:
            if type(m).__module__.startswith("torch."):
                continue  # some of torch's own layers check shapes with Python control flow
            raise
        for node in gm.graph.nodes:
            meta = node.meta.get("tensor_meta")
            if not hasattr(meta, "shape") and isinstance(meta, (tuple, list)) and meta:
                meta = meta[0]  # (values, indices)
            if node.op in ("call_function", "call_method") and hasattr(meta, "shape"):
                shapes[_join(name, node.name)].append(tuple(meta.shape))
    return shapes, out


def own_params(module: Any) -> dict[str, int]:
    """Each module's own parameter count (not its children's), by path."""
    return {name: sum(p.numel() for p in m.parameters(recurse=False)) for name, m in module.named_modules()}


def output_shapes(value: Any) -> Any:
    """A forward's output as shapes: a tuple per tensor, nested in tuples and dicts as returned."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if value is None:  # returned beside tensors (attention weights not asked for)
        return None
    if isinstance(value, dict):
        return {k: output_shapes(v) for k, v in value.items()}
    return tuple(output_shapes(v) for v in value)
