"""Read ONNX models (a ``.onnx`` file or an ``onnx.ModelProto``) into a convcalc spec.

The reader turns the ONNX graph into plain, onnx-free data (:class:`OnnxGraph`):
its nodes, the shapes of its initializers and the values of the small ones.
Planning walks the nodes in order with ONNX's own shape rules (``pads``
begin/end, ``auto_pad``, ``ceil_mode``, ``output_shape``, ``Reshape``'s 0 and
-1, ...), on numbers and on convcalc symbols, so :meth:`Plan.valid_sizes` and
:meth:`Plan.inputs_for` answer for exported models too. The ``Shape`` /
``Gather`` / ``Concat`` / ``Cast`` arithmetic that exporters write is followed on
the values themselves, so a ``Reshape`` built from ``x.size(0)`` keeps its
symbolic batch.

Parameters are counted from the initializers: an initializer shared by several
nodes counts once, at the first; one that only feeds a shape input (a
``Reshape`` shape, ``Resize`` scales, ``Pad`` pads, ``Clip`` bounds) is no
parameter; ``BatchNormalization``'s running mean and variance are buffers.

The package holds one module per job: ``_proto`` reads the ``ModelProto``,
``_graph`` holds :class:`OnnxGraph` and its interpreter, and the node handlers
are grouped by what they do (``_window``, ``_arith``, ``_shape_ops``, with
``_values`` for reading their inputs). Nothing here imports onnx until a model
is read.
"""

from __future__ import annotations

# the handler modules register their operators with the interpreter when imported
from convcalc.onnx_reader import _arith, _shape_ops, _window  # noqa: F401
from convcalc.onnx_reader._graph import OnnxGraph
from convcalc.onnx_reader._proto import from_onnx

__all__ = ["OnnxGraph", "from_onnx"]
