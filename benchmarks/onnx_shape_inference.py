"""How many spatial output dims of exported ONNX models ``onnx.shape_inference.infer_shapes`` leaves unknown.

Draws random convcalc.nn networks (``tests.strategies.onnx_networks``), exports each with the TorchScript exporter
and dynamic N, H and W, and counts, over every node output that depends on H or W, the dims that infer_shapes
leaves unknown (no dim, or a ``dim_param`` that is not the input's symbol) and the dims convcalc gives as a closed
form; each closed form is then checked against ONNX Runtime at several sizes (``tests/test_onnx_reader.py`` does the
same per example). Run from the repository root: ``python -m benchmarks.onnx_shape_inference [networks]``.
"""

from __future__ import annotations

import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import onnx_networks
from tests.test_onnx_reader import _exported_dynamic, _left_unknown, _spatial_dims
from tests.test_onnx_reader import (
    test_every_node_closed_form_is_onnx_runtime_where_shape_inference_leaves_dims_unknown as check_against_ort,
)


def main(count: int) -> None:
    totals = {"networks": 0, "dims": 0, "unknown": 0, "closed": 0}

    @settings(max_examples=count, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(onnx_networks())
    def measure(drawn: Any) -> None:
        model, _, _ = _exported_dynamic(drawn)
        dims = _spatial_dims(model)
        totals["networks"] += 1
        totals["dims"] += len(dims)
        totals["unknown"] += sum(_left_unknown(form, theirs) for _, _, form, theirs in dims)
        totals["closed"] += sum(1 for _, _, form, _ in dims if form is not None)

    measure()
    print(
        f"on {totals['networks']} random exported networks, infer_shapes left {totals['unknown']} of "
        f"{totals['dims']} spatial output dims unknown; convcalc gave {totals['closed']} as closed forms"
    )
    # the test carries its own settings, which hypothesis will not override: rebuild it from its inner function
    check = given(onnx_networks(), st.data())(check_against_ort.hypothesis.inner_test)
    settings(max_examples=count, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))(check)()
    print(f"the closed forms equal ONNX Runtime at 3 random sizes each (N in 1..3, H and W in 1..40) in {count} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
