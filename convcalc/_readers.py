"""The registry of model readers: how ``plan()`` turns a foreign model into convcalc specs.

A reader is registered by name with a cheap test and the dotted path of the
function that reads the model. The planner asks the registry, never a reader
module directly, so it imports no reader (and no framework) until a model of
that kind is planned. A test must not import the framework either: it looks in
``sys.modules`` (a torch module exists only if torch was imported) or at a file
suffix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Reader", "find_reader", "instance_test", "read_model", "register_reader", "suffix_test"]


class Reader(NamedTuple):
    """One kind of foreign model: ``accepts(model)`` is cheap; ``target`` is ``"module:function"``."""

    name: str
    accepts: Callable[[Any], bool]
    target: str


_READERS: dict[str, Reader] = {}


def register_reader(name: str, accepts: Callable[[Any], bool], target: str) -> None:
    """Register (or replace) the reader called ``name``; ``target`` is read lazily."""
    _READERS[name] = Reader(name, accepts, target)


def find_reader(model: Any) -> Reader | None:
    """The first registered reader that accepts ``model``, or None."""
    for reader in _READERS.values():
        if reader.accepts(model):
            return reader
    return None


def read_model(model: Any) -> Any:
    """Read ``model`` with its reader; None when no reader accepts it."""
    reader = find_reader(model)
    if reader is None:
        return None
    from convcalc._late import late

    return late(reader.target)(model)


def instance_test(module_name: str, *class_path: str) -> Callable[[Any], bool]:
    """A test that ``model`` is an instance of ``module_name.<class_path>``, if that module was imported."""

    def accepts(model: Any) -> bool:
        module = sys.modules.get(module_name)
        if module is None:
            return False
        for path in class_path:
            cls: Any = module
            for part in path.split("."):
                cls = getattr(cls, part, None)
            if isinstance(cls, type) and isinstance(model, cls):
                return True
        return False

    return accepts


def suffix_test(*suffixes: str) -> Callable[[Any], bool]:
    """A test that ``model`` is a path (str or os.PathLike) ending in one of ``suffixes``."""

    def accepts(model: Any) -> bool:
        if not isinstance(model, (str, os.PathLike)):
            return False
        return os.fspath(model).lower().endswith(suffixes)

    return accepts


# before torch: with the torch backend a keras.Model is a torch.nn.Module too
register_reader(
    "keras",
    lambda m: suffix_test(".keras")(m) or instance_test("keras", "Model")(m),
    "convcalc.keras_reader:from_keras",
)
register_reader("torch", instance_test("torch", "nn.Module"), "convcalc.torch.read:_read")
register_reader(
    "onnx",
    lambda m: suffix_test(".onnx")(m) or instance_test("onnx", "ModelProto")(m),
    "convcalc.onnx_reader:from_onnx",
)
