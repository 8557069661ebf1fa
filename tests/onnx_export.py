"""One helper for the ONNX tests: a torch module exported with the TorchScript exporter, as bytes."""

from __future__ import annotations

import io
import warnings
from typing import Any


def torch_to_onnx(
    module: Any,
    shape: tuple[int, ...],
    *,
    axes: dict[int, str] | None = None,
    opset: int = 17,
    fold: bool = True,
    integers: bool = False,
) -> bytes:
    """``module`` exported for an input ``x`` of ``shape`` (``axes``: its dynamic axes by name), at ``opset``;
    ``fold``: the exporter's constant folding (without it, a Linear's weight is a Transpose of an initializer);
    ``integers``: an int64 input (token ids) rather than float32."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(shape, dtype=torch.int64 if integers else torch.float32),),
            buffer,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes=None if axes is None else {"x": axes},
            do_constant_folding=fold,
            opset_version=opset,
        )
    return buffer.getvalue()
