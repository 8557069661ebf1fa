"""The device a forward is told its tensors are on, in torch's pass.

Torch's pass runs a forward on meta tensors, but a plan follows the model as it runs on its own device: a forward
that asks ``x.is_cuda`` or ``x.device.type == "cpu"`` (kornia's filters pick their CPU kernels so) takes the branch
torch takes there. Each device question the forward asks of a meta tensor is answered with the model's device, and
each tensor it makes or moves with a device (``torch.zeros(n, device=x.device)``, ``x.to("cpu")``, ``x.cpu()``) is
made on the meta device still: no memory, and no tensor off the meta device to mix with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from convcalc.torch.bytecode import library_frame
from convcalc.torch.nodes import _torch

# the ``Tensor.is_<type>`` getters a forward may ask, by the device type each asks of
_IS_TYPE = ("cpu", "cuda", "meta", "mps", "xpu", "hpu", "xla", "ipu", "mtia", "maia")


def model_device(module: Any) -> Any:
    """The device a module runs on: its first parameter's, else its first buffer's; the CPU where it holds
    neither, or holds them on the meta device (a plan follows a model as it runs on data). The exact reader
    answers ``x.is_cuda`` by it too.

    >>> import torch
    >>> model_device(torch.nn.Linear(2, 3))
    device(type='cpu')
    >>> model_device(torch.nn.ReLU())
    device(type='cpu')
    """
    torch = _torch()
    first = next(module.parameters(), None)
    if first is None:
        first = next(module.buffers(), None)
    if first is None or first.device.type == "meta":
        return torch.device("cpu")
    return first.device


def unreachable(device: Any) -> str | None:
    """Why torch cannot put a tensor on ``device`` on this machine (``.cuda()`` where torch has no CUDA: it raises
    "Torch not compiled with CUDA enabled", or finds no driver), or None where it can, or ``device`` names none.

    >>> unreachable("cpu") is None
    True
    """
    torch = _torch()
    try:
        kind = torch.device(device).type if not isinstance(device, int) else "cuda"
    except (RuntimeError, TypeError):
        return None
    backend = getattr(torch, kind, None) if kind not in ("cpu", "meta") else None
    available = getattr(backend, "is_available", None)
    if available is None or available():
        return None
    return f"torch has no {kind} device here (torch.{kind}.is_available() is False)"


def asked_device(method: str | None, args: Any, kwargs: Any) -> Any:
    """The device a call puts a tensor on: its ``device=``, else ``"cuda"`` for ``.cuda()`` and ``.to``'s second
    argument for ``.to(...)`` (``method``: which of them, or None for another call); None where it names none."""
    if "device" in kwargs or method not in ("cuda", "to"):
        return kwargs.get("device")
    return "cuda" if method == "cuda" else (args[1] if len(args) > 1 else None)


class DeviceAnswers:
    """The answers to a forward's device questions, for torch's ``__torch_function__``, and its device arguments
    moved to the meta device. Torch's own code (its modules' fast paths, which check the device their kernels
    run on) is told the truth: it chooses kernels for the tensors it holds; so is convcalc's."""

    def __init__(self, device: Any) -> None:
        torch = _torch()
        self.device = device
        tensor = torch.Tensor
        answers: dict[Any, Callable[[Any], Any]] = {
            tensor.device.__get__: lambda t: self.device,
            tensor.get_device: lambda t: -1 if self.device.type == "cpu" else (self.device.index or 0),
        }
        for kind in _IS_TYPE:
            getter = getattr(tensor, f"is_{kind}", None)
            if getter is not None:
                answers[getter.__get__] = self._is(kind)
        self.answers = answers
        self.moves = {tensor.cpu, tensor.cuda}

    def _is(self, kind: str) -> Callable[[Any], bool]:
        """The answer to ``x.is_<kind>``."""
        return lambda tensor: bool(self.device.type == kind)

    def answer(self, func: Any, args: Any) -> tuple[bool, Any]:
        """``(True, answer)`` where ``func`` asks a meta tensor its device from outside torch, else
        ``(False, None)``."""
        ask = self.answers.get(func)
        if ask is None or not args or not is_meta_tensor(args[0]) or _asked_by_torch():
            return False, None
        return True, ask(args[0])

    def on_meta(self, func: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        """What to call for ``func``, with its arguments and keywords, each device given moved to the meta
        device: ``device=``, ``Tensor.to``'s device; ``Tensor.cpu()`` and ``.cuda()`` of a meta tensor give the
        tensor itself (torch cannot copy a meta tensor off the meta device)."""
        torch = _torch()
        # ``torch.zeros(n).cuda()`` in a model on the CPU, where torch has no CUDA: it raises, so does the pass
        method = "cuda" if func is torch.Tensor.cuda else "to" if func is torch.Tensor.to else None
        target = asked_device(method, args, kwargs)
        why = None if target is None or isinstance(target, torch.Tensor) else unreachable(target)
        if why is not None and not _asked_by_torch():
            raise RuntimeError(f"the forward moves a tensor to {target}, where {why}, and torch raises")
        if func in self.moves and args and is_meta_tensor(args[0]):
            return _same, args, kwargs
        device = kwargs.get("device")
        if device is not None and not _is_meta_device(device):
            kwargs = {**kwargs, "device": torch.device("meta")}
        if func is torch.Tensor.to and len(args) > 1 and is_meta_tensor(args[0]):
            target = args[1]  # (``x.to(torch.half)`` gives a dtype there, ``x.to(y)`` a tensor: left as they are)
            if (isinstance(target, (str, torch.device)) or type(target) is int) and not _is_meta_device(target):
                args = (args[0], torch.device("meta"), *args[2:])
        return func, args, kwargs


def made_on_cpu_to_meta(args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """The arguments of a call that torch refused for joining a tensor the forward made on the CPU from data
    (``torch.from_numpy(pe)``, a position table computed with numpy) with the pass's meta tensors, that tensor
    moved to the meta device; None where no such tensor is there. (On the CPU, where such a model runs, both are
    on one device; a call torch takes with them as they are, an index or counts on the CPU, keeps their values.)"""
    torch = _torch()
    tensor = torch.Tensor

    def leaves(values: Any) -> Iterator[Any]:
        for v in values:
            if isinstance(v, (list, tuple)):
                yield from v
            else:
                yield v

    found = [v for v in leaves((*args, *kwargs.values())) if isinstance(v, tensor)]
    if not any(v.device.type == "meta" for v in found) or not any(v.device.type == "cpu" and v.dim() for v in found):
        return None

    def moved(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return type(v)(moved(w) for w in v) if type(v) in (list, tuple) else v
        return v.to("meta") if isinstance(v, tensor) and v.device.type == "cpu" and v.dim() else v

    return tuple(moved(v) for v in args), {k: moved(v) for k, v in kwargs.items()}


def _same(tensor: Any, *args: Any, **kwargs: Any) -> Any:
    """A tensor already where it is asked to be."""
    return tensor


def is_meta_tensor(value: Any) -> bool:
    """Whether ``value`` is a tensor on the meta device (one of torch's pass)."""
    torch = _torch()
    return isinstance(value, torch.Tensor) and value.device.type == "meta"


def _is_meta_device(device: Any) -> bool:
    """Whether ``device`` (a string, a ``torch.device`` or an ordinal) names the meta device."""
    torch = _torch()
    try:
        return bool(torch.device(device).type == "meta")
    except (RuntimeError, TypeError):  # (not a device: torch says so when it is called)
        return True


def _asked_by_torch() -> bool:
    """Whether the question comes from torch's own code, or the pass's (its hooks), not the model's: the frame
    that called the pass's ``__torch_function__``, above this module's frames (found by walking up, not by a fixed
    depth: a wrapper of a function of this module adds frames)."""
    import sys

    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    if frame is not None and frame.f_code.co_name == "__torch_function__":
        frame = frame.f_back
    return frame is not None and library_frame(frame)
