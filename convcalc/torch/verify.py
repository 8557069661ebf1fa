"""``verify``: one forward pass of the real torch module, compared layer by layer with the plan."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from convcalc._args import flag, received, whole
from convcalc._errors import (
    ConvCalcError,
    ShapeError,
    SpecError,
    checked_call,
    inputs_taken,
    shapes_per_input,
    with_inputs_taken,
)
from convcalc._types import Shape
from convcalc.torch.build import to_torch
from convcalc.torch.fallback import _asks_for_integers, _one_float_dtype
from convcalc.torch.graph import _spec_types
from convcalc.torch.meta import _compiled, _meta_copy, _quiet_compiled
from convcalc.torch.nodes import _torch, integer_leaves
from convcalc.torch.read import _read, _uncompiled

# --------------------------------------------------------------------------- #
# verify
# --------------------------------------------------------------------------- #


class VerifyRow(NamedTuple):
    """One compared layer.

    ``match`` is None where torch has no module of that name (a tensor
    operation of a traced forward) or the forward pass stopped before it.
    """

    name: str
    planned_shape: Shape | None
    actual_shape: tuple[int, ...] | None
    planned_params: Any
    actual_params: int | None
    match: bool | None


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: one row per planned call, and whether all agree with torch.

    ``ok`` is True when convcalc and torch both accept the input and every call
    torch can show (by its module path) has the planned output shape and
    parameter count. ``error`` holds torch's exception if the forward pass
    failed, ``plan_error`` convcalc's if planning failed; ``torch_layer`` and
    ``plan_layer`` name the layer each stopped at (``""`` for the model itself).
    ``agree`` is True when ``ok``, or when both reject the input at the same
    layer with every call before it matching.
    """

    ok: bool
    rows: tuple[VerifyRow, ...]
    input_shape: Any  # one shape, or a list (by position) or a dict (by name) of the inputs' shapes
    device: str
    error: str | None = None
    plan_error: str | None = None
    torch_layer: str | None = None
    plan_layer: str | None = None

    @property
    def mismatches(self) -> tuple[VerifyRow, ...]:
        return tuple(r for r in self.rows if r.match is False)

    @property
    def agree(self) -> bool:
        """Whether convcalc predicted what torch does: every call matches, or both reject at the same layer."""
        if self.ok:
            return True
        return (
            self.error is not None
            and self.plan_error is not None
            and self.torch_layer is not None
            and self.torch_layer == self.plan_layer
            and not self.mismatches
        )

    def __str__(self) -> str:
        checked = sum(1 for r in self.rows if r.match is not None)
        head = f"verify on {self.device}, input {self.input_shape}: "
        if self.ok:
            head += f"OK ({checked} layers match torch, {len(self.rows) - checked} operations not checked)"
        elif self.agree:
            head += f"both reject, at the same layer ({self.plan_layer or '<model>'})"
        elif self.error is not None and self.plan_error is not None and not self.mismatches:
            head += (
                f"MISMATCH (both reject, at different layers: convcalc at {_layer(self.plan_layer)}, "
                f"torch at {_layer(self.torch_layer)})"
            )
        elif self.error is not None and not self.mismatches:
            head += f"MISMATCH (torch raises at {_layer(self.torch_layer)}; convcalc planned this input)"
        elif self.plan_error is not None and not self.mismatches:
            head += f"MISMATCH (convcalc rejects at {_layer(self.plan_layer)}; torch runs this input)"
        else:
            head += f"MISMATCH ({len(self.mismatches)} of {checked} layers differ)"
        lines = [head]
        if self.plan_error:
            lines.append(f"convcalc: {self.plan_error}")
        if self.error:
            lines.append(f"torch: {self.error}")
        table = [("layer", "planned shape", "torch shape", "planned params", "torch params", "")]
        for r in self.rows:
            mark = "-" if r.match is None else ("ok" if r.match else "MISMATCH")
            table.append(
                (
                    r.name,
                    _text(r.planned_shape),
                    _text(r.actual_shape),
                    _count(r.planned_params),
                    _count(r.actual_params),
                    mark,
                )
            )
        if len(table) > 1:
            widths = [max(len(row[j]) for row in table) for j in range(6)]
            for row in table:
                cells = [row[j].rjust(widths[j]) if j in (3, 4) else row[j].ljust(widths[j]) for j in range(6)]
                lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)


def _layer(name: str | None) -> str:
    return "an unknown layer" if name is None else (name or "<model>")


def _text(value: Any) -> str:
    return "-" if value is None else str(tuple(value))


def _count(value: Any) -> str:
    return "-" if value is None else (f"{value:,}" if type(value) is int else str(value))


def _verified_inputs(given: Any, is_torch: bool) -> Any:
    """``input_shape`` as verify() runs it: one shape of positive ints, or for a torch module a list of such shapes
    (its forward's inputs by position) or a dict of them (by name), each as a tuple of Python ints."""
    if isinstance(given, dict) or (
        isinstance(given, (list, tuple)) and any(isinstance(d, (list, tuple, dict)) for d in given)
    ):
        items = list(given.items()) if isinstance(given, dict) else list(enumerate(given))
        if not is_torch:
            raise ShapeError(
                "verify() runs a convcalc.nn model on one input tensor, so input_shape is one shape such as "
                f"(1, 3, 224, 224). {received({'input_shape': given})}"
            )
        shapes = {key: _positive_ints(shape) for key, shape in items}
        bad = next((key for key, shape in shapes.items() if shape is None or not isinstance(key, (int, str))), None)
        if bad is not None or not shapes:
            at = f"input_shape[{bad!r}] is {dict(items)[bad]!r}; " if bad is not None else ""
            raise ShapeError(
                f"verify() runs torch, so each input's shape must be positive ints such as (1, 3, 224, 224): one "
                f"shape, a list of them (by position) or a dict of them (by name); {at}"
                f"{received({'input_shape': given})}"
            )
        return shapes if isinstance(given, dict) else list(shapes.values())
    shape = _positive_ints(given)
    if shape is None:
        raise ShapeError(
            f"verify() runs torch, so input_shape must be positive ints such as (1, 3, 224, 224) (or, for a forward "
            f"of several inputs, a list or a dict of such shapes). {received({'input_shape': given})}"
        )
    return shape


def _positive_ints(shape: Any) -> tuple[int, ...] | None:
    """A shape of positive integers (numpy's too, as plan takes them) as Python ints; None for anything else."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        return None
    try:
        dims = tuple(whole(d, "input_shape", minimum=1) for d in shape)
    except ConvCalcError:  # a bool, a float, a symbol, an array, a size below 1
        return None
    return dims or None


@checked_call
def verify(model: Any, input_shape: Any, *, device: str | None = None, raise_on_mismatch: bool = False) -> VerifyReport:
    """Run one real forward pass and compare every layer with ``convcalc.plan``.

    Builds the torch module (``to_torch`` for a ``convcalc.nn`` model; a torch
    module is used as it is, in eval mode, on a copy if it must move device),
    runs it once on ``torch.randn(input_shape)`` (in the one floating-point dtype of the model's parameters,
    where they have one; on int64 zeros where torch asks for integers: an embedding's token ids; one tensor for
    each shape of a list or a dict) under
    ``torch.no_grad()``,
    records each module's output shape, call by call, with forward hooks, and
    compares them and the parameters each call holds for the first time
    (``parameters()`` of the module, its parametrizations included) with the
    plan's rows of the same name, in order. When both reject the input, the
    report says whether they stop at the same layer (``agree``).

    Args:
        model: a ``convcalc.nn`` model or a ``torch.nn.Module``.
        input_shape: concrete sizes, batch first, such as ``(1, 3, 224, 224)``; for a torch forward of several
            inputs, a list of shapes (by position) or a dict of them (by name), as ``convcalc.plan`` takes them.
        device: where to run; ``"cuda"`` when available, else ``"cpu"``.
        raise_on_mismatch: raise instead of returning a failed report.

    Returns:
        A :class:`VerifyReport`; ``print(report)`` shows the table.

    Raises:
        ShapeError: with ``raise_on_mismatch``, naming the first layer that
            differs, or with torch's message when its forward pass fails.
        SpecError: the model cannot be built or read, or its forward takes more inputs than it is given.

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    >>> report = convcalc.verify(net, (2, 1, 28, 28), device="cpu")
    >>> report.ok
    True
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    verify on cpu, input (2, 1, 28, 28): OK (4 layers match torch, 0 operations not checked)
    layer  planned shape    torch shape      planned params  torch params
    0      (2, 4, 26, 26)   (2, 4, 26, 26)               40            40  ok
    1      (2, 4, 26, 26)   (2, 4, 26, 26)                0             0  ok
    2      (2, 2704)        (2, 2704)                     0             0  ok
    3      (2, 10)          (2, 10)                  27,050        27,050  ok
    >>> report = convcalc.verify(net, (2, 1, 30, 30), device="cpu")
    >>> report.ok, report.agree, report.plan_layer, report.torch_layer
    (False, True, '3', '3')
    >>> print(str(report).splitlines()[0])
    verify on cpu, input (2, 1, 30, 30): both reject, at the same layer (3)
    >>> convcalc.verify(net, (2, 1, 30, 30), device="cpu", raise_on_mismatch=True)
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: verify: convcalc and torch both reject this input. torch: RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3136 and 2704x10); both stop at the same layer, 3. Received: input_shape=(2, 1, 30, 30)
    """
    torch = _torch()
    from convcalc._planner import plan

    flag(raise_on_mismatch, "raise_on_mismatch")
    is_torch = isinstance(model, torch.nn.Module)
    if not is_torch and (not hasattr(model, "_plan") or isinstance(model, type)):
        raise SpecError(f"verify() takes a convcalc.nn model or a torch.nn.Module. {received({'model': model})}")
    if not is_torch and getattr(model, "_convention", None) is not None and model._convention.value != "torch":
        raise SpecError(
            "verify() runs the model in torch, so it takes a convcalc.nn model or a torch.nn.Module; a "
            "convcalc.keras model has no torch module to run (plan it, and compare with Keras' own "
            f"model.summary()). {received({'model': type(model).__name__})}"
        )
    shape = _verified_inputs(input_shape, is_torch)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    built = _uncompiled(model) if is_torch else to_torch(model)  # a torch.compile wrapper runs its module
    try:
        module = _module_on(built, device)
    except Exception as exc:  # no such device, or not available
        raise SpecError(
            f"verify() cannot use device {device!r} ({type(exc).__name__}: {exc}); use 'cpu', or 'cuda' where "
            f"torch.cuda.is_available(). {received({'device': device})}"
        ) from None
    was_training = module.training
    module.eval()
    try:
        read = _read(module) if is_torch else None
        spec = read.spec if read is not None else model
        plan_error: str | None = None
        plan_layer: str | None = None
        planned = None
        try:
            planned = plan(read if read is not None else model, shape)
        except ConvCalcError as exc:
            taken = inputs_taken(exc)
            if taken is not None:  # a forward of several inputs given fewer: one shape for each, as plan takes them
                where, names = taken
                several = SpecError(  # marked below, for the command line to say it in its own terms
                    f"{where}: forward takes {len(names)} inputs ({', '.join(names)}); give verify() one shape per "
                    f"input: convcalc.verify(model, {shapes_per_input(names)}). {received({'input_shape': shape})}"
                )
                raise with_inputs_taken(several, taken) from None
            plan_error, plan_layer = str(exc), _rejecting_layer(exc)
        hooked: dict[str, list[tuple[int, ...] | None]] = {}
        outputs, params, error, torch_layer = _run_hooked(torch, module, shape, device, hooked)
        if error is not None and _out_of_memory(error):
            # the input or an activation does not fit the device: torch's shapes without the memory, on the meta
            # device (the comparison is with torch's own shape rules all the same)
            copy = _meta_copy(module)
            copy.eval()
            hooked.clear()
            outputs, params, error, torch_layer = _run_hooked(torch, copy, shape, "meta", hooked)
            device = f"meta, as {device} cannot hold the tensors"
    finally:
        module.train(was_training)
    from convcalc import nn

    # A root that is a layer, an Add or a Concat plans its own row last, under a name of its own.
    root_row = not isinstance(spec, (nn.Sequential, _spec_types().Graph))
    rows = _compare(planned, outputs, params, error is not None, root_row, hooked)
    if plan_layer is not None and torch_layer is not None:
        plan_layer = _owning_module(plan_layer, params)
    ok = plan_error is None and error is None and all(r.match is not False for r in rows)
    report = VerifyReport(ok, tuple(rows), shape, str(device), error, plan_error, torch_layer, plan_layer)
    if raise_on_mismatch and not ok:
        raise ShapeError(_failure(report))
    return report


def _out_of_memory(error: str) -> bool:
    """Whether torch's error is its allocator running out of memory (not a shape it refuses, nor a model's own
    error that speaks of memory): torch's OutOfMemoryError (CUDA, MPS), or the CPU allocator's RuntimeError."""
    return error.startswith("OutOfMemoryError: ") or (
        error.startswith("RuntimeError: ")
        and "DefaultCPUAllocator: " in error
        and any(words in error for words in ("can't allocate memory", "not enough memory"))
    )


def _rejecting_layer(exc: ConvCalcError) -> str | None:
    """The path of the layer a planning error names (``""`` for the model itself), or None."""
    layer = getattr(exc, "layer", None)
    if isinstance(layer, str):
        return layer
    head = str(exc).partition(": ")[0]
    if not head.endswith(")") or " (" not in head:
        return None
    path = head.rpartition(" (")[0]
    return "" if path == "<model>" else path


def _owning_module(path: str, params: dict[str, Any]) -> str:
    """The torch module a planned path belongs to: itself, or the module whose forward runs that operation."""
    parts = path.split(".") if path else []
    while parts and ".".join(parts) not in params:
        parts.pop()
    return ".".join(parts)


def _module_on(module: Any, device: str) -> Any:
    """The module on ``device``: itself when it is there already, else a moved copy (the caller's stays put)."""
    import copy

    torch = _torch()
    torch.empty(0, device=device)  # fails early for a device that does not exist
    for tensor in (*module.parameters(), *module.buffers()):
        if isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin):
            continue
        wanted = torch.device(device)
        if tensor.device.type != wanted.type or (wanted.index is not None and tensor.device.index != wanted.index):
            return copy.deepcopy(module).to(device)
    return module


def _run_hooked(
    torch: Any,
    module: Any,
    shape: Any,
    device: str,
    hooked: dict[str, list[tuple[int, ...] | None]] | None = None,
) -> tuple[
    dict[str, list[tuple[int, ...]]], dict[str, tuple[tuple[tuple[int, int], ...], bool]], str | None, str | None
]:
    """Output shapes per module path (one per call), each as the module's forward returns it, before a forward
    hook of the user's may change it (the plan's row of a layer is its own output; a hook's result is planned
    after it); per module, the tensors (id, numel) of the parameters a row of it holds and whether a plan shows
    it as a layer; torch's error, and the innermost module it stopped in. ``hooked``, where given, gets for each
    recorded call the output the call returns after its hooks (what the next layer takes), or None.

    A ``torch.compile`` wrapper inside the model runs the module it wraps eagerly (compiled code does not call
    the hooks that record the shapes), which computes the same shapes."""
    from torch.nn.modules import module as torch_module

    outputs: dict[str, list[tuple[int, ...]]] = {}
    running: list[str] = []
    handles = []
    named = list(module.named_modules())
    names = {id(sub): name for name, sub in named}
    own: dict[int, list[tuple[int, ...] | None]] = {}  # the forward's own output of each call not yet returned

    def first_shape(output: Any) -> tuple[int, ...] | None:
        found = _first_tensor(torch, output)
        return None if found is None else tuple(int(d) for d in found.shape)

    def own_output(sub: Any, _inputs: Any, output: Any) -> None:
        if id(sub) in names:
            own.setdefault(id(sub), []).append(first_shape(output))

    def starter(name: str) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any) -> None:
            running.append(name)

        return hook

    def recorder(name: str) -> Callable[..., None]:
        def hook(sub: Any, _inputs: Any, output: Any) -> None:
            if running and running[-1] == name:
                running.pop()
            pending = own.get(id(sub))
            found = pending.pop() if pending else first_shape(output)
            if found is not None:
                outputs.setdefault(name, []).append(found)
                if hooked is not None:
                    hooked.setdefault(name, []).append(first_shape(output))

        return hook

    for name, sub in named:
        handles.append(sub.register_forward_pre_hook(starter(name)))
        handles.append(sub.register_forward_hook(recorder(name)))
    # the first of the global hooks, which run before each module's own: the forward's output, as it returns it
    first = torch_module.register_module_forward_hook(own_output)
    global_hooks: Any = torch_module._global_forward_hooks  # an OrderedDict
    global_hooks.move_to_end(first.id, last=False)
    handles.append(first)
    compiled = any(_compiled(sub) for _, sub in named)
    stance = getattr(getattr(torch, "compiler", None), "set_stance", None)
    error = failed_in = None
    # in the one floating-point dtype of the model's parameters, as plan sizes its bytes (else torch's default);
    # where torch asks for integers (an embedding's token ids), zeros of int64, which index any table
    floats = _one_float_dtype(module)
    shapes: Any = shape if isinstance(shape, (list, dict)) else [shape]
    positional = list(shapes) if isinstance(shapes, list) else []
    by_name = shapes if isinstance(shapes, dict) else {}
    # (first, the inputs whose names say they are integers, ``decoder_input_ids`` beside ``input_features``, as
    # integers; where torch asks for integers, all of them)
    integral = integer_leaves(module, tuple(positional), by_name, lambda v: isinstance(v, tuple))

    def given_as(ints: Callable[[int], bool]) -> Callable[[], tuple[list[Any], dict[str, Any]]]:
        def make(j: int, size: tuple[int, ...]) -> Any:
            if ints(j):
                return torch.zeros(size, device=device, dtype=torch.long)
            return torch.randn(size, device=device, dtype=floats)

        return lambda: (
            [make(j, s) for j, s in enumerate(positional)],
            {k: make(len(positional) + j, s) for j, (k, s) in enumerate(by_name.items())},
        )

    inputs = (given_as(lambda j: j in integral), given_as(lambda j: True))
    try:
        for make in inputs:
            for recorded in (outputs, own, *(() if hooked is None else (hooked,))):
                recorded.clear()
            running.clear()
            try:
                with contextlib.ExitStack() as stack:
                    stack.enter_context(torch.no_grad())
                    if compiled:
                        stack.enter_context(_quiet_compiled())
                        if stance is not None:
                            stack.enter_context(stance("force_eager"))
                    args, kwargs = make()
                    module(*args, **kwargs)
                error = failed_in = None
                break
            except Exception as exc:  # torch's own error is the finding
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                said = (
                    f"{type(exc).__name__}: {message}"
                    if error is None
                    else f"with integer inputs, {type(exc).__name__}: {message}"
                )
                error, failed_in = said, running[-1] if running else ""
                if not _asks_for_integers(message) or make is inputs[-1]:
                    break
    finally:
        for handle in handles:
            handle.remove()
    params: dict[str, tuple[tuple[tuple[int, int], ...], bool]] = {}
    for name, sub in named:
        children = [child for child_name, child in sub.named_children() if child_name != "parametrizations"]
        # an empty Sequential (a shortcut that passes its input on) is planned as nothing
        layer = not children and not (isinstance(sub, torch.nn.Sequential) and len(sub) == 0)
        tensors = [*sub.parameters(recurse=False)]
        if "parametrizations" in sub._modules:  # weight_norm, spectral_norm: the originals are the layer's
            tensors += [*sub._modules["parametrizations"].parameters()]
        if name and name in outputs and not any(n.startswith(f"{name}.") for n in outputs):
            # a layer called whose children never are (MultiheadAttention reads out_proj's weight and bias): their
            # tensors are the layer's, as its row counts them
            tensors += [t for child in children for t in child.parameters()]
        counted = []
        for tensor in tensors:
            try:
                counted.append((id(tensor), tensor.numel()))
            except ValueError:  # an uninitialised lazy parameter: the forward failed before it
                continue
        params[name] = (tuple(dict.fromkeys(counted)), layer)
    return outputs, params, error, failed_in


def _first_tensor(torch: Any, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(torch, item)
            if found is not None:
                return found
    return None


def _compare(
    planned: Any,
    outputs: dict[str, list[tuple[int, ...]]],
    params: dict[str, tuple[tuple[tuple[int, int], ...], bool]],
    stopped: bool,
    root_row: bool,
    hooked: dict[str, list[tuple[int, ...] | None]] | None = None,
) -> list[VerifyRow]:
    """The plan's rows beside torch's calls. A layer's row is compared with the output its forward returns; where
    a forward hook changed that output, the plan follows the hook with rows of its own under the layer's path
    (``a.__getitem__``, after ``a``), and the last of them is compared with the output the call returns after
    its hooks (no parameters of its own are compared there)."""
    rows: list[VerifyRow] = []
    aliases = {}
    if planned is not None and root_row and planned.rows and planned.rows[-1].name not in params:
        aliases[planned.rows[-1].name] = ""
    returned = hooked if hooked is not None else {}
    seen: Counter[str] = Counter()
    counted: set[int] = set()  # torch's tally: a parameter counts at the first row that holds it
    planned_names = set()
    planned_rows = planned.rows if planned is not None else ()
    after_hooks: dict[int, tuple[int, ...]] = {}  # a hook's last row: what the call returns after its hooks
    for i, r in enumerate(planned_rows):
        name = r.name if r.name in params else aliases.get(r.name, r.name)
        planned_names.add(name)
        planned_shape = tuple(r.output_shape)
        if name not in params:
            final = after_hooks.get(i)
            match = None if final is None else planned_shape == final
            rows.append(VerifyRow(r.name, planned_shape, final, r.params, None, match))
            continue
        occurrence = seen[name]
        seen[name] += 1
        calls = outputs.get(name, [])
        actual = calls[occurrence] if occurrence < len(calls) else None
        finals = returned.get(name, [])
        final = finals[occurrence] if occurrence < len(finals) else None
        if name != r.name and final is not None and actual is not None and final != actual:
            # the model's own row, after its hooks changed what it returns: planned after the layer's own row,
            # as a hook's row (its parameters are the layer's row's)
            rows.append(VerifyRow(r.name, planned_shape, final, r.params, None, planned_shape == final))
            continue
        if final is not None and actual is not None and final != actual:
            hook_rows = _hook_rows(planned_rows, i, name, params)
            if hook_rows:
                after_hooks[hook_rows[-1]] = final
        actual_params = 0
        for key, numel in params[name][0]:
            if key not in counted:
                counted.add(key)
                actual_params += numel
        if actual is None:  # not reached (torch failed earlier) or called fewer times than planned
            rows.append(VerifyRow(r.name, planned_shape, None, r.params, actual_params, None if stopped else False))
            continue
        match = planned_shape == actual and r.params == actual_params
        rows.append(VerifyRow(r.name, planned_shape, actual, r.params, actual_params, match))
    if planned is not None:
        layers = [n for n in planned_names if n in params and params[n][1]]
        # a module without children whose forward was read and planned no operation (a QuantStub returns its
        # input): the plan holds its call as a container's, with the output it returns
        returns: dict[str, list[tuple[int, ...]]] = {}
        for group in planned.groups:
            returns.setdefault(group.path, []).append(tuple(group.output_shape))
        for name, calls in outputs.items():
            if name in planned_names:
                for extra in calls[seen[name] :]:  # torch called it more often than planned
                    rows.append(VerifyRow(name, None, extra, None, 0, False))
                continue
            if not params[name][1]:
                continue  # a container, or an empty Sequential
            if any(n.startswith(f"{name}.") or not name for n in planned_names):
                continue  # a traced leaf module: its operations have rows under its path
            if any(name.startswith(f"{n}.") for n in layers):
                continue  # runs inside a planned layer (a parametrization computing its weight)
            held = sum(n for _, n in params[name][0])
            if name in returns and not held:
                shapes = returns[name]
                for k, actual in enumerate(calls):
                    shape = shapes[k] if k < len(shapes) else None
                    rows.append(VerifyRow(name, shape, actual, 0, 0, shape == actual))
                continue
            rows.append(VerifyRow(name, None, calls[0], None, held, False))
    return rows


def _hook_rows(rows: Any, i: int, name: str, params: dict[str, Any]) -> list[int]:
    """The rows right after the layer's row ``i`` that the hooks of that call planned: operations under the
    layer's path (``a.__getitem__``), which no module of the model is."""
    found = []
    for j in range(i + 1, len(rows)):
        if not rows[j].name.startswith(f"{name}.") or rows[j].name in params:
            break
        found.append(j)
    return found


def _failure(report: VerifyReport) -> str:
    tail = f"Received: input_shape={report.input_shape}"
    if report.error and report.plan_error:
        where = (
            f"both stop at the same layer, {_layer(report.plan_layer)}"
            if report.agree
            else f"convcalc stops at {_layer(report.plan_layer)}, torch at {_layer(report.torch_layer)}"
        )
        return f"verify: convcalc and torch both reject this input. torch: {report.error}; {where}. {tail}"
    if report.error:
        return f"verify: torch raises during the forward pass, but convcalc planned it: {report.error}. {tail}"
    if report.plan_error:
        head, _, _ = report.plan_error.rpartition(" Received:")
        return f"verify: torch runs this input, but convcalc rejects it: {head or report.plan_error}. {tail}"
    first = report.mismatches[0]
    return (
        f"verify: layer {first.name!r} differs from torch: planned output {_text(first.planned_shape)} with "
        f"{_count(first.planned_params)} parameters, torch gives {_text(first.actual_shape)} with "
        f"{_count(first.actual_params)}. {tail}"
    )
