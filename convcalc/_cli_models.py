"""The models the command line takes: a spec file, a saved ``.keras`` or ``.onnx`` model, ``zoo:NAME``,
``PATH.py:NAME`` (a Python file) or ``module.path:NAME`` (an imported module), each made the model it names."""

from __future__ import annotations

import os
import re
import sys

from convcalc._errors import ConvCalcError, SpecError

# typing is only for type checkers, as in the rest of the command line
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_ATTRIBUTE = re.compile(r"[A-Za-z_][\w.]*")


def _load_model(ref: str) -> tuple[Any, tuple[Any, ...] | None]:
    """The model named on the command line, and its default input shape if it has one."""
    if ref.startswith("zoo:"):
        return _zoo_model(ref[4:])
    if os.path.exists(ref) and ref.lower().endswith(".onnx"):
        from convcalc.onnx_reader import from_onnx

        model = from_onnx(ref)
        return model, model._default_input_shape
    if ref.lower().endswith(".keras"):  # a saved Keras model, read without Keras
        from convcalc.keras_reader import from_keras

        keras_model = from_keras(ref)
        return keras_model, keras_model._default_input_shape
    if ref.lower().endswith(".py") and os.path.isfile(ref):
        raise SpecError(
            f"{ref} is a Python file: name the model in it, {ref}:NAME (a model, or a callable that returns one). "
            f"Received: MODEL={ref!r}"
        )
    if os.path.exists(ref):
        from convcalc.specfile import load_spec

        return load_spec(ref)
    path, _, attr = ref.rpartition(":")
    if path.lower().endswith(".py") and _ATTRIBUTE.fullmatch(attr):
        return _model_from(_file_module(path, ref), path, attr, ref), None
    if _IMPORT_PATH.fullmatch(ref):
        return _imported_model(ref), None
    from convcalc.specfile import SUFFIXES

    if os.path.splitext(ref)[1].lower() in SUFFIXES:
        raise SpecError(f"no such spec file: {ref}")
    if ref.lower().endswith(".onnx"):
        raise SpecError(f"no such ONNX file: {ref}")
    raise SpecError(f"MODEL must be a spec file, zoo:NAME, PATH.py:NAME or module.path:NAME. Received: MODEL={ref!r}")


def _zoo_model(name: str) -> tuple[Any, tuple[Any, ...] | None]:
    try:
        from convcalc import zoo
    except ImportError:
        raise SpecError("the model zoo (convcalc.zoo) is not part of this install") from None
    model = zoo.get(name)
    shapes = getattr(zoo, "INPUT_SHAPES", {})
    return model, shapes.get(name) if isinstance(shapes, dict) else None


def _imported_model(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    import importlib

    if os.getcwd() not in sys.path:  # `convcalc` as a script: let it find modules where it is run
        sys.path.insert(0, os.getcwd())
    try:
        module: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import {module_name!r}: {exc}. Received: MODEL={ref!r}") from None
    except Exception as exc:  # user code: report whatever it raises in one line
        raise SpecError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    return _model_from(module, module_name, attr, ref)


def _file_module(path: str, ref: str) -> Any:
    """The Python file *path* run as a module, as ``python path`` would run it, with its folder first on
    ``sys.path`` while it runs (its own imports of the files beside it work), but under the file's name, not
    ``__main__`` (a script's ``if __name__ == "__main__":`` part does not run)."""
    import importlib.machinery
    import importlib.util

    full = os.path.abspath(path)
    if not os.path.isfile(full):
        why = "is a folder" if os.path.isdir(full) else "no such file"
        raise SpecError(f"cannot load {path!r}: {why} ({full}). Received: MODEL={ref!r}")
    stem = os.path.splitext(os.path.basename(full))[0]
    name = stem if stem.isidentifier() else "convcalc_model_file"
    taken = sys.modules.get(name)
    if taken is not None and os.path.abspath(getattr(taken, "__file__", None) or "") != full:
        name = f"convcalc_model_file_{name}"  # another module of that name (json.py, a second models.py) stays
    loader = importlib.machinery.SourceFileLoader(name, full)
    spec = importlib.util.spec_from_file_location(name, full, loader=loader)
    assert spec is not None  # a loader is given
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)
    sys.modules[name] = module  # registered, as an import registers it: dataclasses and inspect look it up
    loaded = False
    try:
        loader.exec_module(module)
        loaded = True
    except Exception as exc:  # user code: report whatever it raises in one line
        raise SpecError(f"importing {path!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)  # the first entry that is the folder: the one put there, or an equal one
        if not loaded:
            sys.modules.pop(name, None)
    return module


def _model_from(module: Any, where: str, attr: str, ref: str) -> Any:
    """``attr`` (dotted) of an imported module: a model, or a callable that returns one."""
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"{where!r} has no attribute {attr!r}. Received: MODEL={ref!r}")
        obj = getattr(obj, part)
    if callable(obj) and not hasattr(obj, "_plan") and not _is_torch_module(obj):
        try:
            obj = obj()
        except ConvCalcError:
            raise
        except Exception as exc:  # user code: report whatever it raises in one line
            raise SpecError(f"calling {ref} failed: {type(exc).__name__}: {exc}") from None
    return obj


def _is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)
