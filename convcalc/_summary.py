"""``convcalc.summary``: torchinfo 1.8's ``summary`` (its arguments, its table, its totals) without a forward pass.

The model is planned (:func:`convcalc.plan`, read from its code, never run); the rows become torchinfo's layer
list (``convcalc._render``), and the numbers are gathered here before anything is formatted.
"""

from __future__ import annotations

import contextlib
import difflib
import operator
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from convcalc._args import received
from convcalc._errors import SpecError, checked_call
from convcalc._plan import Plan

__all__ = ["LayerSummary", "ModelSummary", "summary"]


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """One line of the table, named as torchinfo's ``LayerInfo`` names it.

    ``input_size`` and ``output_size`` are ``[]`` for a container that is never called itself (a
    ``ModuleList`` looped over); ``kernel_size`` is ``None`` for a module without one; ``macs`` is the
    mult-adds of this call, batch included, for a module without children (``0`` for a container).
    """

    class_name: str
    var_name: str
    depth: int
    depth_index: int
    input_size: list[Any]
    output_size: list[Any]
    kernel_size: Any
    num_params: Any
    trainable_params: Any
    macs: Any
    is_recursive: bool
    is_leaf_layer: bool

    @property
    def trainable(self) -> str:
        """``"True"``, ``"False"``, ``"Partial"`` or ``"--"`` (no parameters), as torchinfo says it."""
        if not self.num_params:
            return "--"
        if not self.trainable_params:
            return "False"
        return "True" if self.trainable_params == self.num_params else "Partial"


@dataclass(frozen=True, repr=False)
class ModelSummary:
    """What :func:`summary` returns: torchinfo's ``ModelStatistics`` totals, its rows, and its table as ``str()``.

    Byte counts are torchinfo's: ``total_input`` (the input tensors with their storage objects),
    ``total_output_bytes`` (twice the output of every call of a module without children that has parameters),
    ``total_param_bytes`` (the parameters of those modules). ``plan`` is the :class:`convcalc.Plan` behind it.
    """

    summary_list: list[LayerSummary]
    total_params: Any
    trainable_params: Any
    total_mult_adds: Any
    total_input: Any
    total_output_bytes: Any
    total_param_bytes: Any
    plan: Plan = field(repr=False)
    _text: str = field(repr=False)

    @property
    def non_trainable_params(self) -> Any:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__  # as torchinfo's ModelStatistics: a notebook cell shows the table


@contextlib.contextmanager
def _in_mode(model: Any, mode: str) -> Iterator[None]:
    """A torch model switched to training or evaluation mode for the plan, as torchinfo switches it for its
    forward pass; each module's own flag is put back after (a model of mixed modes stays mixed)."""
    modules = list(model.modules()) if callable(getattr(model, "modules", None)) and hasattr(model, "training") else []
    flags = [(m, m.training) for m in modules]
    if modules:
        model.train(mode == "train")
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


#: The widest column a summary draws (a column wider than a screen many times over is no table).
_MAX_COL_WIDTH = 10_000


@checked_call
def summary(
    model: Any,
    input_size: Any = None,
    input_data: Any = None,
    batch_dim: int | None = None,
    cache_forward_pass: bool | None = None,
    col_names: Any = None,
    col_width: int = 25,
    depth: int = 3,
    device: Any = None,
    dtypes: Any = None,
    mode: str | None = None,
    row_settings: Any = None,
    verbose: int | None = None,
    **kwargs: Any,
) -> ModelSummary:
    """torchinfo 1.8's ``summary``, with its arguments and table, computed from a plan: the model is not run.

    A torchinfo user changes the import (``from convcalc import summary``); the table prints as torchinfo
    prints it. ``input_data`` gives shapes and dtypes only; ``device`` and ``cache_forward_pass`` are accepted
    and have nothing to do (there is no forward pass to place or cache). ``mode`` is torchinfo's: the model is
    read in evaluation mode unless ``mode="train"`` (``if self.training:`` branches, and the batch a batch norm
    needs in training mode), and each module's own mode is put back after.

    Args:
        model: a ``torch.nn.Module`` (or a ``convcalc.nn`` model).
        input_size: the input's shape, batch included (or a list of shapes for several inputs).
        input_data: tensors (or arrays) instead of ``input_size``: one, a list, or a dict of keyword inputs.
        batch_dim: where to insert a batch of 1 into each ``input_size`` shape.
        col_names: among ``"input_size"``, ``"output_size"``, ``"num_params"``, ``"params_percent"``,
            ``"kernel_size"``, ``"mult_adds"``, ``"trainable"``; default ``("output_size", "num_params")``.
        col_width: the width of each column (25).
        depth: the deepest level of the module tree listed (3).
        dtypes: the dtype of each ``input_size`` input (float32 by default): it sizes the input in memory.
        row_settings: among ``"depth"``, ``"var_names"``, ``"ascii_only"``, ``"hide_recursive_layers"``;
            default ``("depth",)``.
        verbose: 1 prints the table, 0 does not; by default 1 (0 in an interactive interpreter, as torchinfo).

    Returns:
        A :class:`ModelSummary`: ``print`` it for the table; ``total_params``, ``trainable_params``,
        ``total_mult_adds`` and ``summary_list`` hold the numbers.

    Raises:
        SpecError: an argument torchinfo would refuse, ``verbose=2`` (weight-by-weight rows), or no input.
        ShapeError: the model does not fit the input (the message names the layer and what would fit).

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    >>> stats = convcalc.summary(net, input_size=(1, 1, 28, 28), verbose=0)
    >>> stats.total_params, stats.total_mult_adds
    (27090, 54090)
    >>> print(stats)  # doctest: +ELLIPSIS
    ==========================================================================================
    Layer (type:depth-idx)                   Output Shape              Param #
    ==========================================================================================
    Sequential                               [1, 10]                   --
    ├─Conv2d: 1-1                            [1, 4, 26, 26]            40
    ├─ReLU: 1-2                              [1, 4, 26, 26]            --
    ├─Flatten: 1-3                           [1, 2704]                 --
    ├─Linear: 1-4                            [1, 10]                   27,050
    ...
    >>> convcalc.summary(net, verbose=0)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: convcalc.summary plans the model for an input: give input_size (batch included, such as (1, 3, 224, 224)) or input_data. Received: input_size=None, input_data=None
    """
    from convcalc._planner import plan
    from convcalc._render import TORCHINFO_COLUMNS, TORCHINFO_ROW_SETTINGS, torchinfo_table, torchinfo_totals

    columns = _choices(col_names, ("output_size", "num_params"), TORCHINFO_COLUMNS, "col_names")
    rows = frozenset(_choices(row_settings, ("depth",), TORCHINFO_ROW_SETTINGS, "row_settings"))
    if mode is not None and mode not in ("train", "eval"):
        raise SpecError(f"mode must be 'train' or 'eval' (or None). {received({'mode': mode})}")
    if verbose is None:
        verbose = 0 if getattr(sys, "ps1", None) else 1
    if verbose == 2:
        raise SpecError(
            "verbose=2 lists each weight tensor under its layer, which convcalc.summary does not: use 0 or 1. "
            f"{received({'verbose': verbose})}"
        )
    if type(verbose) not in (int, bool) or verbose not in (0, 1):  # torchinfo takes True and False as 1 and 0
        raise SpecError(f"verbose must be 0 (quiet) or 1 (print). {received({'verbose': verbose})}")
    verbose = int(verbose)
    if type(col_width) is not int or not 0 < col_width <= _MAX_COL_WIDTH:  # a column is a line's part of text
        raise SpecError(f"col_width must be an int from 1 to {_MAX_COL_WIDTH}. {received({'col_width': col_width})}")
    if type(depth) is not int or depth < 0:
        raise SpecError(f"depth must be an int >= 0 (torchinfo's default is 3). {received({'depth': depth})}")
    if batch_dim is not None and (type(batch_dim) is not int or batch_dim < 0):
        raise SpecError(f"batch_dim must be an int >= 0 or None. {received({'batch_dim': batch_dim})}")
    tensors = sorted(k for k, v in kwargs.items() if _is_array(v))
    if tensors:
        raise SpecError(
            "tensors passed to forward as keywords are inputs: give them in input_data as a dict. "
            f"{received({'kwargs': tensors})}"
        )
    _forward_takes(model, kwargs)
    del cache_forward_pass, device  # no forward pass to cache or to place

    shapes, input_bytes, given = _inputs(input_size, input_data, batch_dim, dtypes)
    torch = sys.modules.get("torch")
    is_torch = torch is not None and isinstance(model, torch.nn.Module)
    values = {k: v for k, v in kwargs.items() if not _is_array(v)}
    if given is not None and not is_torch:
        raise SpecError(
            "input_data holds values that are no tensors (or lists of tensors), which only a torch module's "
            f"forward takes; give this model its input as a tensor. {received({'input_data': _described(input_data)})}"
        )
    with _in_mode(model, mode or "eval"):  # torchinfo's default mode is "eval"
        planned: Any = model
        if is_torch and (given is not None or values):
            # the forward's arguments as torchinfo passes them: input_data's values that are no tensors, and the
            # keywords summary() does not take, are handed to forward as they are
            from convcalc.torch.read import _read

            args, keywords = given if given is not None else _slots(shapes)
            planned = _read(model).bound(args, {**keywords, **values})
        # bytes per element: a torch model's parameters' (plan()'s own default for it), else float32's
        result = plan(planned, shapes, macs="torchinfo", itemsize=None if is_torch else 4)
    from convcalc._render import _torchinfo_layers

    layers = _torchinfo_layers(result)
    total_params, trainable_params, param_bytes = _without_pruned(model, layers, result)
    kernels = _kernel_sizes(model)
    for layer in layers:
        if kernels.get(layer.path) is not None:
            layer.kernel = str(kernels[layer.path])
        if input_data is not None and batch_dim is not None and layer.input and batch_dim < len(layer.input):
            # torchinfo shows a 1 at batch_dim in every input size (not in the output sizes)
            layer.input = (*layer.input[:batch_dim], 1, *layer.input[batch_dim + 1 :])
    table = torchinfo_table(
        layers, depth=depth, columns=columns, col_width=col_width, row_settings=rows, total_params=total_params
    )
    totals = torchinfo_totals(
        len(table[0]),
        total_params=total_params,
        trainable_params=trainable_params,
        mult_adds=result.total_mult_adds,
        input_bytes=input_bytes,
        forward_bytes=result.forward_backward_bytes,
        param_bytes=param_bytes,
    )
    if type(input_bytes) is float:  # a number in input_data, which torchinfo adds to its input bytes
        totals = _float_input_lines(totals, input_bytes, result.forward_backward_bytes + param_bytes)
    summary_list = [
        LayerSummary(
            class_name=layer.kind,
            var_name=layer.var_name,
            depth=layer.depth,
            depth_index=layer.depth_index,
            input_size=list(layer.input or ()),
            output_size=list(layer.row.output_shape if layer.row is not None else _parse_shape(layer.output)),
            kernel_size=kernels.get(layer.path),
            num_params=layer.params,
            trainable_params=layer.trainable,
            macs=layer.macs,
            is_recursive=layer.recursive,
            is_leaf_layer=layer.leaf,
        )
        for layer in layers
    ]
    stats = ModelSummary(
        summary_list,
        total_params,
        trainable_params,
        result.total_mult_adds,
        input_bytes,
        result.forward_backward_bytes,
        param_bytes,
        result,
        "\n".join([*table, *totals]),
    )
    if verbose:
        print(stats)
    return stats


def _choices(values: Any, default: tuple[str, ...], allowed: Any, name: str) -> tuple[str, ...]:
    if values is None:
        return default
    if isinstance(values, str):
        values = (values,)
    chosen = tuple(getattr(v, "value", v) for v in values)  # torchinfo's enums are str enums
    bad = [v for v in chosen if v not in allowed]
    if bad:
        raise SpecError(f"{name} must be among {', '.join(map(repr, allowed))}. {received({name: bad[0]})}")
    return chosen


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _parse_shape(text: str) -> list[Any]:
    return [] if text == "--" else [int(d) if d.strip().isdigit() else d.strip() for d in text[1:-1].split(",")]


def _storage_overhead() -> int:
    """What ``sys.getsizeof`` adds to a storage's bytes (torchinfo sizes its inputs with it); 0 without torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    return int(sys.getsizeof(torch.empty(0).untyped_storage()))


def _tensor_bytes(x: Any) -> int:
    """What torchinfo counts for an input tensor (its storage with the storage object), or an array's bytes with
    that object's size. A sparse tensor has no storage torchinfo can size: refused, as torchinfo refuses it."""
    storage = getattr(x, "untyped_storage", None)
    if storage is None:
        return int(x.nbytes) + _storage_overhead()
    layout = getattr(x, "layout", None)
    if layout is not None and str(layout) != "torch.strided":
        raise SpecError(
            f"input_data holds a tensor of layout {layout}, which has no storage to size: give a dense tensor "
            f"(x.to_dense()) or input_size. Received: input_data=<{type(x).__name__} of shape {tuple(x.shape)}>"
        )
    return int(sys.getsizeof(storage()))


def _itemsize(dtype: Any) -> int:
    size = getattr(dtype, "itemsize", None)
    if type(size) is not int:
        raise SpecError(f"dtypes must be torch dtypes such as torch.float32. {received({'dtypes': dtype})}")
    return size


def _inputs(
    input_size: Any, input_data: Any, batch_dim: int | None, dtypes: Any
) -> tuple[Any, Any, tuple[tuple[Any, ...], dict[str, Any]] | None]:
    """The shapes to plan (one shape, a list of them, or a dict for keyword inputs), torchinfo's input bytes, and
    the forward's arguments where ``input_data`` holds more than one tensor per argument (see
    :func:`_data_shapes`), else None."""
    if input_size is not None and input_data is not None:
        raise SpecError(
            "give one of input_size and input_data, not both. "
            f"{received({'input_size': input_size, 'input_data': type(input_data).__name__})}"
        )
    if input_size is None and input_data is None:
        raise SpecError(
            "convcalc.summary plans the model for an input: give input_size (batch included, such as "
            f"(1, 3, 224, 224)) or input_data. {received({'input_size': None, 'input_data': None})}"
        )
    if input_data is not None:
        return _data_shapes(input_data)
    if not isinstance(input_size, (list, tuple)) or not input_size:
        raise SpecError(f"input_size must be a shape such as (1, 3, 224, 224). {received({'input_size': input_size})}")
    given, input_size = input_size, [_size_or_shape(d) for d in input_size]
    several = not all(type(d) is int for d in input_size)  # torchinfo's get_correct_input_sizes
    if several and not all(isinstance(s, tuple) and all(type(d) is int for d in s) for s in input_size):
        listed = any(isinstance(d, tuple) for d in input_size)  # a list of shapes: (1, 3, 8, 8) beside 5 names 5
        bad = next(
            (f"input_size[{j}]", d)
            for j, d in enumerate(input_size)
            if not (isinstance(d, tuple) and all(type(v) is int for v in d) if listed else type(d) is int)
        )
        raise SpecError(
            f"input_size must be a shape of ints such as (1, 3, 224, 224), or a list of such shapes for several "
            f"inputs; {bad[0]} is {bad[1]!r}. {received({'input_size': given})}"
        )
    shapes = [tuple(s) for s in input_size] if several else [tuple(input_size)]
    if batch_dim is not None:
        shapes = [(*s[:batch_dim], 1, *s[batch_dim:]) for s in shapes]
    if dtypes is not None and not isinstance(dtypes, (list, tuple)):
        raise SpecError(
            f"dtypes must be a list of torch dtypes, one per input: use dtypes=[{dtypes}]. {received({'dtypes': dtypes})}"
        )
    if dtypes is not None and len(dtypes) < len(shapes):
        # torchinfo makes one tensor per (size, dtype) pair and the forward then misses an input
        raise SpecError(
            f"dtypes gives {len(dtypes)} dtype(s) for {len(shapes)} inputs: give one per input, such as "
            f"dtypes=[{', '.join(['torch.float32'] * len(shapes))}]. {received({'dtypes': dtypes})}"
        )
    sizes = [4] * len(shapes) if dtypes is None else [_itemsize(d) for d in dtypes]
    overhead = _storage_overhead()
    total = 0
    for s, size in zip(shapes, sizes, strict=False):
        n = 1
        for d in s:
            n *= d
        total += n * size + overhead
    return (shapes if several else shapes[0]), total, None


_OWN_ARGUMENTS = (
    "input_size",
    "input_data",
    "batch_dim",
    "cache_forward_pass",
    "col_names",
    "col_width",
    "depth",
    "device",
    "dtypes",
    "mode",
    "row_settings",
    "verbose",
)


def _forward_takes(model: Any, kwargs: dict[str, Any]) -> None:
    """torchinfo hands keywords it does not know to the model's forward, which refuses one it does not take
    (``colnames=`` for ``col_names``): so does this, saying which argument was meant."""
    import inspect

    forward = getattr(model, "forward", None)
    try:
        parameters = inspect.signature(forward).parameters.values() if callable(forward) else ()
    except (TypeError, ValueError):  # a forward without a signature Python can read: torch would call it
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    takes = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}
    for key in kwargs:
        if key not in takes:
            close = difflib.get_close_matches(key, [*_OWN_ARGUMENTS, *sorted(takes)], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise SpecError(
                f"summary() has no argument {key!r}, and the model's forward takes none of that name (torchinfo "
                f"hands it to forward, which raises TypeError){hint} Received: {key}={kwargs[key]!r}"
            )


def _size_or_shape(value: Any) -> Any:
    """An entry of ``input_size``: an int (numpy's too, as torch takes them), a shape of such ints as a tuple, or
    the value as it is, for the caller to refuse."""
    if isinstance(value, (list, tuple)):
        return tuple(_size_or_shape(v) for v in value)
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        return value
    try:
        return operator.index(value)
    except TypeError:  # a 0-d tensor of floats has __index__ too
        return value


def _data_shapes(data: Any) -> tuple[Any, Any, tuple[tuple[Any, ...], dict[str, Any]] | None]:
    """``input_data`` as torchinfo 1.8 takes it: a tensor (or array), a list or tuple of the forward's positional
    arguments, or a dict of its keyword arguments (``process_input``, then ``model(*x)`` or ``model(**x)``). An
    argument may be a tensor, a list, tuple or dict holding tensors (one argument that is a list), or any other
    value, which is handed to forward as it is (a float stays a float).

    Returns the shapes to plan (the tensors, by position or by keyword, in order: an argument that is a list
    gives one positional input per tensor, a keyword one ``name.0``, ``name.1``...), torchinfo's input bytes
    (``get_total_memory_used``: each tensor's storage with its object, and, as torchinfo sums what it finds, a
    number's own value, so ``{"x": t, "scale": 3.0}`` is 3.0 more than ``t``), and the forward's arguments with a
    :class:`convcalc._types.Slot` for each planned tensor, or None where each argument is one tensor."""

    if _is_array(data):
        return tuple(int(d) for d in data.shape), _tensor_bytes(data), None
    if isinstance(data, dict) and data:
        keyed = {k: v for k, v in data.items() if isinstance(k, str)}
        if len(keyed) != len(data):
            bad = next(k for k in data if not isinstance(k, str))
            raise SpecError(
                f"input_data as a dict gives forward its keyword arguments, named by strings. "
                f"{received({'input_data': f'a dict with the key {bad!r}'})}"
            )
        named: dict[str, Any] = {}
        total: Any = 0
        template: dict[str, Any] = {}
        for key, value in data.items():
            if _is_array(value):
                named[key], template[key] = tuple(int(d) for d in value.shape), _slot(key)
                total = total + _tensor_bytes(value)
                continue
            found: list[Any] = []
            template[key], part = _template(value, found, key)
            total = total + part
            for j, (shape, _) in enumerate(found):
                named[f"{key}.{j}"] = shape
        if not named:
            raise SpecError(
                f"input_data holds no tensor for convcalc to plan: give the forward's tensor inputs as tensors. "
                f"{received({'input_data': _described(data)})}"
            )
        plain = all(_is_array(v) for v in data.values())
        return named, total, None if plain else ((), template)
    if isinstance(data, (list, tuple)) and data:
        shapes: list[Any] = []
        total, args = 0, []
        for value in data:
            found = []
            arg, part = _template(value, found, None, len(shapes))
            args.append(arg)
            total = total + part
            shapes.extend(shape for shape, _ in found)
        if not shapes:
            raise SpecError(
                f"input_data holds no tensor for convcalc to plan: give the forward's tensor inputs as tensors. "
                f"{received({'input_data': _described(data)})}"
            )
        plain = all(_is_array(v) for v in data)
        return (shapes if len(shapes) > 1 else shapes[0]), total, None if plain else (tuple(args), {})
    raise SpecError(f"input_data must be a tensor, a list or a dict of them. {received({'input_data': data})}")


def _float_input_lines(totals: list[str], input_bytes: float, other: Any) -> list[str]:
    """The memory lines that count the input, for input bytes that are a float (torchinfo's sum of an
    ``input_data`` holding a float), written as torchinfo writes them: megabytes to two decimals."""
    lines = {
        "Input size (MB): ": input_bytes,
        "Estimated Total Size (MB): ": input_bytes + other,
    }
    out = []
    for line in totals:
        head = next((h for h in lines if line.startswith(h)), None)
        out.append(line if head is None else f"{head}{lines[head] / 1e6:0.2f}")
    return out


def _slot(key: int | str) -> Any:
    from convcalc._types import Slot

    return Slot(key)


def _template(value: Any, found: list[Any], key: str | None, start: int = 0) -> tuple[Any, Any]:
    """One argument of the forward with a Slot for each tensor in it (appended to ``found`` as (shape, bytes)),
    and what torchinfo adds to its input bytes for it. ``key``: the keyword the argument is given by (its
    tensors are planned as ``key.0``, ``key.1``...), or None for a positional one (planned from ``start`` on)."""
    if _is_array(value):
        size = _tensor_bytes(value)
        slot = _slot(start + len(found) if key is None else f"{key}.{len(found)}")
        found.append((tuple(int(d) for d in value.shape), size))
        return slot, size
    total: Any = 0
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            made, part = _template(item, found, key, start)
            items.append(made)
            total = total + part
        return (
            items if isinstance(value, list) else type(value)(items) if type(value) is tuple else tuple(items)
        ), total
    if isinstance(value, dict):
        out = {}
        for k, item in value.items():
            out[k], part = _template(item, found, key, start)
            total = total + part
        return out, total
    # any other value is handed to forward as it is; torchinfo sums what its traversal returns, which is a
    # number's own value (None or a string, which torchinfo cannot sum, adds nothing here)
    return value, (value if isinstance(value, (int, float)) else 0)


def _slots(shapes: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The forward's arguments where each is one planned tensor: as ``plan`` passes them."""
    if isinstance(shapes, dict):
        return (), {k: _slot(k) for k in shapes}
    if isinstance(shapes, list):
        return tuple(_slot(j) for j in range(len(shapes))), {}
    return (_slot(0),), {}


def _described(data: Any) -> str:
    """``input_data`` described without its values: the type of each entry."""
    if isinstance(data, dict):
        return "{" + ", ".join(f"{k!r}: {_kind(v)}" for k, v in data.items()) + "}"
    if isinstance(data, (list, tuple)):
        inner = ", ".join(_kind(v) for v in data)
        return f"[{inner}]" if isinstance(data, list) else f"({inner})"
    return _kind(data)


def _kind(value: Any) -> str:
    if _is_array(value):
        return f"<{type(value).__name__} of shape {tuple(int(d) for d in value.shape)}>"
    if isinstance(value, (list, tuple, dict)):
        return _described(value)
    return repr(value) if isinstance(value, (int, float, bool, str, type(None))) else type(value).__name__


def _without_pruned(model: Any, layers: list[Any], plan: Plan) -> tuple[Any, Any, Any]:
    """torchinfo's parameter counts of a model pruned with ``torch.nn.utils.prune``: the weights a mask zeroes
    are left out of the module holding them, of its ancestors, of the totals and of the parameters' bytes.
    ``layers`` are changed in place; the total and trainable counts and torchinfo's "Params size" are
    returned."""
    total, trainable, size = plan.total_params, plan.trainable_params, plan.torchinfo_param_bytes
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        return total, trainable, size
    from convcalc.torch.read import pruned

    zeroed = pruned(model)
    for layer in {id(layer): layer for layer in layers}.values():  # a container never called is listed again
        for path, (held, trained) in zeroed.items():
            if not layer.path or path == layer.path or path.startswith(f"{layer.path}."):
                layer.params, layer.trainable = layer.params - held, layer.trainable - trained
    itemsizes, leaves = plan.itemsizes, {layer.path for layer in layers if layer.leaf}
    for path, (held, trained) in zeroed.items():
        total, trainable = total - held, trainable - trained
        if path in leaves:  # the "Params size" sums the modules without children
            size = size - held * itemsizes.get(path, plan.itemsize)
    return total, trainable, size


def _kernel_sizes(model: Any) -> dict[str, Any]:
    """Each module's ``kernel_size`` by path, as torchinfo shows it (a list, or an int)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        to_torch = getattr(model, "to_torch", None)
        if to_torch is None:
            return {}
        import torch as torch_module  # a convcalc.nn model builds its torch modules to show their kernels

        with torch_module.device("meta"):  # the modules' attributes, not their weights
            model = to_torch()
    out: dict[str, Any] = {}
    for path, module in model.named_modules():
        k = getattr(module, "kernel_size", None)
        if k is not None:
            out[path] = list(k) if isinstance(k, (tuple, list)) else k
    return out
