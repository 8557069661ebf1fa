"""One helper for the ONNX tests: a torch module exported with the TorchScript exporter, as bytes."""

from __future__ import annotations

import io
import warnings
from typing import Any


def torch_to_onnx(
    module: Any, shape: tuple[int, ...], *, axes: dict[int, str] | None = None, opset: int = 17, fold: bool = True
) -> bytes:
    """``module`` exported for an input ``x`` of ``shape`` (``axes``: its dynamic axes by name), at ``opset``;
    ``fold``: the exporter's constant folding (without it, a Linear's weight is a Transpose of an initializer)."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(shape),),
            buffer,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes=None if axes is None else {"x": axes},
            do_constant_folding=fold,
            opset_version=opset,
        )
    return buffer.getvalue()
