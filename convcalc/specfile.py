"""Model spec files: a network written as data (TOML, JSON or YAML), loaded without running code.

A spec file describes a ``convcalc.nn`` model (or a ``convcalc.keras`` one with
``framework = "keras"``) and, optionally, its input shape. The top level of the
file is itself a layer table: a ``Sequential`` of its ``layers`` unless it names
another ``type``. Format version 1::

    format = 1                    # optional; the only version so far
    framework = "torch"           # "torch" (convcalc.nn, the default) or "keras"
    name = "mnist"                # optional (the model name under Keras)
    description = "..."           # optional, ignored
    input = [1, 1, 28, 28]        # optional; batch first; a string is a symbol: [1, 3, "H", "W"]

    [[layers]]
    type = "Conv2d"               # a name from convcalc.nn.__all__ (or convcalc.keras.__all__)
    name = "conv1"                # optional: the layer's name in its container
    args = [1, 32, 3]             # positional arguments, as in torch.nn
    kwargs = { padding = "same" } # keyword arguments; arrays become tuples
    none = ["momentum"]           # optional: keyword arguments set to None (TOML has no null)

    [[layers]]
    type = "Add"                  # Add / Concat: `branches`, each applied to the same input
    [[layers.branches]]           # a branch is a list of layers (a Sequential) ...
    name = "main"
    [[layers.branches.layers]]
    type = "Conv2d"
    args = [32, 32, 3]
    kwargs = { padding = 1 }
    [[layers.branches]]           # ... or one layer table
    type = "Identity"

    [[layers]]
    type = "repeat"               # the `layers` below, `times` times, spliced in place;
    times = 3                     # "{i}" in a name becomes the copy's index (0, 1, ...)
    [[layers.layers]]
    type = "Conv2d"
    name = "conv{i}"
    args = [32, 32, 3]

    [[layers]]
    type = "Sequential"           # a named sub-network: its own `layers`
    name = "head"
    layers = [ { type = "Flatten" }, { type = "LazyLinear", args = [10] } ]

In JSON and YAML the same structure is written as objects and lists (a branch
may then also be a plain list of layers, and ``null`` is allowed). Unnamed layers
of a container are named by their index, as in ``torch.nn.Sequential``; under
Keras, unnamed layers get Keras' names (``conv2d``, ``conv2d_1``, ...) counted
per file, so loading is deterministic.

Loading never executes code: there is no ``eval`` and no pickle, layer types
are looked up in the allow-list ``convcalc.nn.__all__`` /
``convcalc.keras.__all__``, YAML is read with PyYAML's safe loader only, and the size of
the file, its nesting and the number of layers are bounded. Every problem raises
:class:`convcalc.SpecError` with the file, the position in it
(``layers[3].kwargs.padding``, or ``line 4, column 9`` for a syntax error) and
what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from convcalc._errors import ConvCalcError, SpecError, checked_call, param_text
from convcalc._types import Shape

__all__ = ["FORMAT_VERSION", "SUFFIXES", "dump_spec", "load_spec", "loads_spec"]

#: The spec format version this module reads and writes.
FORMAT_VERSION = 1

#: File suffixes and the syntax they are read as.
SUFFIXES = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}

_MAX_BYTES = 16 * 2**20
_MAX_DEPTH = 64
_MAX_LAYERS = 20_000
_MAX_TIMES = 10_000

_META_KEYS = ("format", "framework", "description", "input")
_LAYER_KEYS = ("type", "name", "args", "kwargs", "none", "layers", "branches", "times", "description")
_CONTAINERS = ("Sequential", "Add", "Concat")
_ABSTRACT = {"Module", "Layer"}
_FRAMEWORKS = ("torch", "keras")


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


@checked_call
def load_spec(path: str | Path) -> tuple[Any, tuple[Any, ...] | None]:
    """Read a spec file and build its model.

    The syntax follows the suffix: ``.toml``, ``.json``, ``.yaml`` / ``.yml`` (YAML
    needs PyYAML, which the ``yaml`` extra installs; it is read with its safe loader, ``1e-5`` as a float).

    Args:
        path: the spec file.

    Returns:
        ``(model, input_shape)``; ``input_shape`` is ``None`` when the file has no
        ``input``. Strings in ``input`` become :func:`convcalc.symbols`.

    Raises:
        SpecError: the file cannot be read or parsed, or describes an invalid
            model; the message names the file, the position and the problem.

    >>> import pathlib, tempfile, convcalc
    >>> spec = pathlib.Path(tempfile.mkdtemp()) / "net.toml"
    >>> _ = spec.write_text('input = [1, 1, 28, 28]\\n[[layers]]\\ntype = "Conv2d"\\nargs = [1, 5, 5]\\n')
    >>> model, shape = load_spec(spec)
    >>> convcalc.plan(model, shape).output_shape
    (1, 5, 24, 24)
    >>> _ = spec.write_text('[[layers]]\\ntype = "Conv2d"\\nargs = [1, 5, 5]\\nkwargs = { stride = 0 }\\n')
    >>> load_spec(spec)
    Traceback (most recent call last):
    ...
    convcalc.SpecError: .../net.toml: layers[0].kwargs.stride: Conv2d: stride must be at least 1. Received: stride=0
    """
    if not isinstance(path, (str, os.PathLike)):
        raise SpecError(f"load_spec takes a path (a str or a pathlib.Path). Received: path={type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):  # a PathLike of bytes
        raise SpecError(f"load_spec takes a path of text, not bytes. Received: path={path!r}")
    source = str(path)
    if "\0" in source:
        raise SpecError(f"{source!r}: a path cannot hold a NUL character")
    p = Path(path)
    syntax = SUFFIXES.get(p.suffix.lower())
    try:
        directory = p.is_dir()
    except OSError as exc:  # a name longer than the system allows
        raise SpecError(f"{source[:80]}...: cannot read the file: {exc.strerror or exc}") from None
    if directory:
        raise SpecError(f"{source}: is a directory, not a spec file")
    if syntax is None:
        raise SpecError(
            f"{source}: unknown spec file type {p.suffix or '(no suffix)'!r}; use one of {', '.join(SUFFIXES)}"
        )
    try:
        with p.open("rb") as fh:
            raw = fh.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > _MAX_BYTES:
        raise SpecError(f"{source}: the file is larger than {_MAX_BYTES // 2**20} MiB; a spec is a few KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: byte {exc.start}: the file is not UTF-8 text") from None
    return loads_spec(text, syntax=syntax, source=source)


def loads_spec(text: str, *, syntax: str = "toml", source: str = "<spec>") -> tuple[Any, tuple[Any, ...] | None]:
    """Build a model from spec text (see :func:`load_spec`); ``source`` names it in messages.

    >>> import convcalc
    >>> model, shape = loads_spec('{"input": [1, 3, 32, 64], "layers": [{"type": "Conv2d", "args": [3, 8, 5]}]}',
    ...                           syntax="json")
    >>> convcalc.plan(model, shape).output_shape
    (1, 8, 28, 60)
    >>> loads_spec('[[layers]]\\ntype = "Conv2D"\\nargs = [1, 5, 5]\\n')
    Traceback (most recent call last):
    ...
    convcalc.SpecError: <spec>: layers[0].type: unknown layer type 'Conv2D' for framework 'torch'; did you mean 'Conv2d'?
    >>> loads_spec('input = [1, 1, 28 28]')
    Traceback (most recent call last):
    ...
    convcalc.SpecError: <spec>: line 1, column 19: TOML syntax error: Unclosed array
    """
    if not isinstance(text, str):
        raise SpecError(f"{source}: spec text must be a str. Received: text={type(text).__name__}")
    data = _parse(text, syntax, source)
    return _Loader(source).root(data)


def _parse(text: str, syntax: str, source: str) -> Any:
    if syntax == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{source}: {_toml_position(str(exc))}") from None
        except RecursionError:
            raise SpecError(f"{source}: the TOML nests too deeply") from None
        except ValueError as exc:  # an int of more than 4300 digits (Python's limit on turning text into ints)
            raise SpecError(f"{source}: TOML error: {_short(exc)}") from None
    if syntax == "json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}") from None
        except _DuplicateKeyError as exc:
            raise SpecError(f"{source}: duplicate key {exc.args[0]!r} in a JSON object") from None
        except (RecursionError, ValueError) as exc:
            raise SpecError(f"{source}: JSON error: {_short(exc)}") from None
    if syntax == "yaml":
        return _parse_yaml(text, source)
    raise SpecError(
        f"{source}: unknown syntax {syntax!r}; use one of 'toml', 'json', 'yaml'. Received: syntax={syntax!r}"
    )


def _toml_position(message: str) -> str:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        return f"line {match[1]}, column {match[2]}: TOML syntax error: {message[: match.start()]}"
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        return f"end of file: TOML syntax error: {message[: match.start()]}"
    return f"TOML syntax error: {message}"


class _DuplicateKeyError(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise SpecError(
            f"{source}: reading YAML needs PyYAML, which the 'yaml' extra installs: pip install 'convcalc[yaml]' "
            f"(or pip install pyyaml); TOML and JSON spec files need nothing more"
        ) from None
    try:
        data = yaml.load(text, Loader=_yaml_loader(yaml))  # a SafeLoader, with YAML 1.2's floats
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise SpecError(f"{source}: {where}YAML error: {problem}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise SpecError(f"{source}: YAML error: {_short(exc)}") from None
    return _acyclic(data, source)


@functools.cache
def _yaml_loader(yaml: Any) -> Any:
    """PyYAML's safe loader, reading ``1e-5`` as the float YAML 1.2 (and JSON, and Python) read, not a string
    (YAML 1.1 wants a dot, ``1.0e-5``); ``eps: 1e-5`` is how people write it."""
    loader: Any = type("Loader", (yaml.SafeLoader,), {})
    number = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
    loader.add_implicit_resolver("tag:yaml.org,2002:float", number, list("-+0123456789"))
    return loader


def _acyclic(data: Any, source: str) -> Any:
    """YAML's data, where no list or mapping holds itself (``args: &a [1, 8, *a]``: an alias inside its own anchor,
    which no spec can mean); an alias used twice elsewhere is fine."""
    done: set[int] = set()  # checked whole: an alias used many times is walked once
    path: set[int] = set()  # the lists and mappings that hold the one being walked
    stack: list[tuple[Any, bool]] = [(data, True)]
    while stack:
        value, entering = stack.pop()
        if not entering:  # all it holds is checked
            path.discard(id(value))
            done.add(id(value))
            continue
        if not isinstance(value, (list, dict)) or id(value) in done:
            continue
        if id(value) in path:
            raise SpecError(
                f"{source}: YAML error: an alias is used inside its own anchor (a list or mapping that holds itself)"
            )
        path.add(id(value))
        stack.append((value, False))
        stack.extend((v, True) for v in (value.values() if isinstance(value, dict) else value))
    return data


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


class _Loader:
    """One load: the file's name, the framework and the running counts."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.framework = "torch"
        self.count = 0
        self.auto_names: dict[str, int] = {}
        self.module: ModuleType | None = None
        self.types: dict[str, type] = {}

    def error(self, where: str, problem: str) -> SpecError:
        if len(where) > 160:  # a runaway nesting: keep the message one readable line
            where = f"{where[:70]} ... {where[-70:]}"
        return SpecError(f"{self.source}: {where or '<top level>'}: {problem}")

    # -- the top level ------------------------------------------------------- #

    def root(self, data: Any) -> tuple[Any, tuple[Any, ...] | None]:
        if not isinstance(data, dict):
            raise self.error("", f"the top level must be a table of keys such as `layers`, not {_a(_typename(data))}")
        self.keys(data, "", (*_META_KEYS, *_LAYER_KEYS), exclude=("times",))
        version = data.get("format", FORMAT_VERSION)
        if version != FORMAT_VERSION or type(version) is not int:
            raise self.error(
                "format", f"this convcalc reads spec format {FORMAT_VERSION}. Received: format={version!r}"
            )
        framework = data.get("framework", "torch")
        if framework not in _FRAMEWORKS:
            raise self.error(
                "framework",
                f"framework must be one of {', '.join(map(repr, _FRAMEWORKS))}. Received: framework={framework!r}",
            )
        self.framework = framework
        self.module = _framework_module(framework)
        self.types = {name: getattr(self.module, name) for name in self.module.__all__ if name not in _ABSTRACT}
        self.text(data, "description", "")
        shape = self.input_shape(data.get("input"), "input") if "input" in data else None
        if "type" in data:
            if data["type"] == "repeat":
                raise self.error("type", "the top level cannot be a repeat; put the repeat in `layers`")
            model = self.layer(data, "", depth=0, name=self.text(data, "name", ""), meta=True)
        else:
            for key in ("args", "kwargs", "none", "branches"):
                if key in data:
                    raise self.error(key, f"`{key}` needs a `type` at the top level (a Sequential takes `layers`)")
            if "layers" not in data:
                raise self.error("", "no `layers`: a spec lists its layers as [[layers]] tables")
            model = self.sequential(data, "", depth=0, name=self.text(data, "name", ""))
        if self.framework == "keras" and shape is not None:
            model = self.keras_with_input(model, shape)
        return model, shape

    def input_shape(self, value: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(
                where, f"input must be a non-empty array such as [1, 3, 224, 224]. Received: {_show(value)}"
            )
        dims: list[Any] = []
        names: list[str] = []
        for j, d in enumerate(value):
            if type(d) is int and d >= 1:
                dims.append(d)
            elif isinstance(d, str) and d.isidentifier():
                dims.append(d)
                names.append(d)
            else:
                raise self.error(
                    _join(where, j),
                    f'a size must be a positive integer or a symbol name such as "H". Received: {_show(d)}',
                )
        if names:
            from convcalc._symbolic import symbols

            unique = list(dict.fromkeys(names))
            made = symbols(" ".join(unique))
            table = dict(zip(unique, made if isinstance(made, tuple) else (made,), strict=True))
            dims = [table[d] if isinstance(d, str) else d for d in dims]
        return tuple(dims)

    def keras_with_input(self, model: Any, shape: Shape) -> Any:
        keras = self.module
        assert keras is not None
        if not isinstance(model, keras.Sequential) or model._default_input_shape is not None:
            return model
        batch = shape[0] if type(shape[0]) is int else None
        try:
            first = keras.Input(tuple(shape[1:]), batch_size=batch, name="input_layer")
            return keras.Sequential([first, *model.layers], name=model.name)
        except ConvCalcError as exc:
            raise self.error("input", str(exc)) from None

    # -- checks -------------------------------------------------------------- #

    def keys(self, table: dict[str, Any], where: str, allowed: tuple[str, ...], exclude: tuple[str, ...] = ()) -> None:
        allowed = tuple(dict.fromkeys(allowed))  # (a key of the file and of its layers, `description`, once)
        for key in table:
            if not isinstance(key, str):
                raise self.error(where, f"keys must be strings. Received: {_show(key)}")
            if key not in allowed or key in exclude:
                names = [k for k in allowed if k not in exclude]
                hint = difflib.get_close_matches(key, names, n=1)
                tip = f"; did you mean {hint[0]!r}?" if hint else f"; allowed keys: {', '.join(names)}"
                raise self.error(_join(where, key), f"unknown key {key!r}{tip}")

    def text(self, table: dict[str, Any], key: str, where: str) -> str | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(_join(where, key), f"{key} must be a non-empty string. Received: {_show(value)}")
        return value

    def bump(self, where: str) -> None:
        self.count += 1
        if self.count > _MAX_LAYERS:
            raise self.error(where, f"more than {_MAX_LAYERS} layers; a spec this large is not a network")

    # -- layers -------------------------------------------------------------- #

    def layer_list(self, value: Any, where: str, depth: int) -> list[tuple[str | None, Any, str]]:
        """Build a list of layer tables, splicing repeats: (name or None, layer, its position in the file)."""
        if depth > _MAX_DEPTH:
            raise self.error(where, f"layers nest more than {_MAX_DEPTH} deep")
        if not isinstance(value, list):
            raise self.error(where, f"must be an array of layer tables. Received: {_show(value)}")
        out: list[tuple[str | None, Any, str]] = []
        for j, entry in enumerate(value):
            here = _join(where, j)
            if isinstance(entry, dict) and entry.get("type") == "repeat":
                out.extend(self.repeat(entry, here, depth + 1))
            else:
                name = self.entry_name(entry, here)
                out.append((name, self.layer(entry, here, depth + 1, name=name), here))
        return out

    def entry_name(self, entry: Any, where: str, index: int | None = None) -> str | None:
        if not isinstance(entry, dict):
            return None
        name = self.text(entry, "name", where)
        if name is not None and index is not None:
            name = name.replace("{i}", str(index))
        return name

    def repeat(self, entry: dict[str, Any], where: str, depth: int) -> list[tuple[str | None, Any, str]]:
        self.keys(entry, where, ("type", "times", "layers", "description"))
        times = entry.get("times")
        if type(times) is not int or not 1 <= times <= _MAX_TIMES:
            raise self.error(
                _join(where, "times"), f"times must be an integer from 1 to {_MAX_TIMES}. Received: {_show(times)}"
            )
        if "layers" not in entry:
            raise self.error(where, "a repeat needs `layers`, the layers to repeat")
        inner = entry["layers"]
        if not isinstance(inner, list) or not inner:
            raise self.error(
                _join(where, "layers"), f"must be a non-empty array of layer tables. Received: {_show(inner)}"
            )
        out: list[tuple[str | None, Any, str]] = []
        for k in range(times):
            for j, sub in enumerate(inner):
                here = _join(_join(where, "layers"), j)
                if isinstance(sub, dict) and sub.get("type") == "repeat":
                    out.extend(self.repeat(sub, here, depth + 1))
                    continue
                name = self.entry_name(sub, here, index=k)
                out.append((name, self.layer(sub, here, depth + 1, name=name), here))
        return out

    def layer(self, entry: Any, where: str, depth: int, *, name: str | None, meta: bool = False) -> Any:
        if depth > _MAX_DEPTH:
            raise self.error(where, f"layers nest more than {_MAX_DEPTH} deep")
        if not isinstance(entry, dict):
            raise self.error(where, f"a layer must be a table with a `type`. Received: {_show(entry)}")
        self.bump(where)
        self.keys(entry, where, (*_LAYER_KEYS, *(_META_KEYS if meta else ())), exclude=("times",))
        self.text(entry, "description", where)
        kind = entry.get("type")
        if kind is None:
            raise self.error(where, 'a layer needs a `type` such as "Conv2d"')
        if not isinstance(kind, str):
            raise self.error(_join(where, "type"), f"type must be a string. Received: {_show(kind)}")
        if kind not in self.types:
            raise self.error(_join(where, "type"), self.unknown_type(kind))
        if kind == "Sequential":
            return self.sequential(entry, where, depth, name=name)
        for key in ("layers", "branches"):
            if key in entry and kind not in _CONTAINERS:
                raise self.error(
                    _join(where, key),
                    f"{kind} takes no `{key}`; only containers "
                    f"({', '.join(c for c in _CONTAINERS if c in self.types)}) do",
                )
        if kind in ("Add", "Concat"):
            return self.branched(entry, where, depth, kind)
        return self.leaf(entry, where, kind, name)

    def unknown_type(self, kind: str) -> str:
        names = sorted(self.types)
        lowered = {n.lower(): n for n in names}
        hint = [lowered[kind.lower()]] if kind.lower() in lowered else difflib.get_close_matches(kind, names, n=1)
        tip = f"; did you mean {hint[0]!r}?" if hint else ""
        if not hint:
            other = "keras" if self.framework == "torch" else "torch"
            other_names = _framework_module(other).__all__
            if kind in other_names:
                tip = f"; {kind!r} is a {other} layer: set framework = {other!r} at the top of the file"
            else:
                tip = f"; known types: {', '.join(names)}"
        return f"unknown layer type {kind!r} for framework {self.framework!r}{tip}"

    def sequential(self, entry: dict[str, Any], where: str, depth: int, *, name: str | None) -> Any:
        for key in ("args", "kwargs", "none", "branches"):
            if key in entry:
                raise self.error(_join(where, key), f"a Sequential takes its layers in `layers`, not `{key}`")
        items = self.layer_list(entry.get("layers", []), _join(where, "layers"), depth)
        if self.framework == "keras":
            return self.keras_sequential(items, where, name)
        return self.container("Sequential", self.named(items), where, {})

    def keras_sequential(self, items: list[tuple[str | None, Any, str]], where: str, name: str | None) -> Any:
        seq = self.types["Sequential"]
        for j, (_, layer, here) in enumerate(items):
            if j and isinstance(layer, self.types["Input"]):
                raise self.error(_join(here, "type"), "Input may only be the first layer of a Sequential")
        layers = [m for _, m, _ in items]
        try:
            return seq(layers, name=name or self.auto_name("sequential"))
        except ConvCalcError as exc:
            raise self.error(_join(where, "layers"), str(exc)) from None

    def named(self, items: list[tuple[str | None, Any, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for j, (name, module, here) in enumerate(items):
            key = str(j) if name is None else name
            if "." in key:
                raise self.error(_join(here, "name"), f"layer names must not contain dots. Received: name={key!r}")
            if key in out:
                raise self.error(
                    _join(here, "name"),
                    f"the name {key!r} is used twice in this list; "
                    "names must be unique (inside a repeat, put {i} in the name)",
                )
            out[key] = module
        return out

    def branched(self, entry: dict[str, Any], where: str, depth: int, kind: str) -> Any:
        if "args" in entry:
            raise self.error(_join(where, "args"), f"{kind} takes its branches in `branches`, not `args`")
        if "layers" in entry:
            raise self.error(
                _join(where, "layers"), f"{kind} takes `branches` (each applied to the same input), not `layers`"
            )
        value = entry.get("branches")
        bwhere = _join(where, "branches")
        if not isinstance(value, list) or not value:
            raise self.error(
                bwhere if "branches" in entry else where,
                f"{kind} needs `branches`, a non-empty array. Received: {_show(value)}",
            )
        items: list[tuple[str | None, Any, str]] = []
        for j, branch in enumerate(value):
            here = _join(bwhere, j)
            if isinstance(branch, list):
                inner = self.layer_list(branch, here, depth + 1)
                items.append((None, self.container("Sequential", self.named(inner), here, {}), here))
            elif isinstance(branch, dict) and "type" not in branch:
                self.keys(branch, here, ("name", "layers", "description"))
                if "layers" not in branch:
                    raise self.error(here, "a branch is a layer table (with a `type`) or a table with `layers`")
                name = self.text(branch, "name", here)
                inner = self.layer_list(branch["layers"], _join(here, "layers"), depth + 1)
                items.append((name, self.container("Sequential", self.named(inner), here, {}), here))
            elif isinstance(branch, dict):
                if branch["type"] == "repeat":
                    raise self.error(_join(here, "type"), "a branch cannot be a repeat; wrap it in `layers`")
                name = self.text(branch, "name", here)
                items.append((name, self.layer(branch, here, depth + 1, name=name), here))
            else:
                raise self.error(here, f"a branch is a layer table or a list of layers. Received: {_show(branch)}")
        kwargs = self.kwargs(entry, where)
        for key in kwargs:
            if kind == "Add" or key not in ("dim", "crop"):
                allowed = "no keyword arguments" if kind == "Add" else "only dim and crop"
                raise self.error(_join(_join(where, "kwargs"), key), f"{kind} takes {allowed}. Received: {key}")
        return self.container(kind, self.named(items), where, kwargs)

    def container(self, kind: str, items: dict[str, Any], where: str, kwargs: dict[str, Any]) -> Any:
        cls = self.types[kind]
        try:
            return cls(items, **kwargs)
        except ConvCalcError as exc:
            raise self.error(
                _where_arg(where, str(exc), {k: _join(_join(where, "kwargs"), k) for k in kwargs}), f"{kind}: {exc}"
            ) from None

    # -- leaves -------------------------------------------------------------- #

    def kwargs(self, entry: dict[str, Any], where: str) -> dict[str, Any]:
        raw = entry.get("kwargs", {})
        kwhere = _join(where, "kwargs")
        if not isinstance(raw, dict):
            raise self.error(kwhere, f"kwargs must be a table such as {{ stride = 2 }}. Received: {_show(raw)}")
        out = {}
        for key, value in raw.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise self.error(kwhere, f"argument names must be identifiers. Received: {_show(key)}")
            out[key] = self.value(value, _join(kwhere, key))
        nones = entry.get("none", [])
        nwhere = _join(where, "none")
        if not isinstance(nones, list):
            raise self.error(nwhere, f"none must be an array of argument names. Received: {_show(nones)}")
        for j, key in enumerate(nones):
            if not isinstance(key, str) or not key.isidentifier():
                raise self.error(_join(nwhere, j), f"must be an argument name. Received: {_show(key)}")
            if key in out:
                raise self.error(_join(nwhere, j), f"{key!r} is also given in kwargs")
            out[key] = None
        return out

    def value(self, value: Any, where: str) -> Any:
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value
        if isinstance(value, list):
            return tuple(self.value(v, _join(where, j)) for j, v in enumerate(value))
        if isinstance(value, dict):
            raise self.error(
                where,
                f"an argument value must be a number, a string, a boolean or an array, "
                f"not a table. Received: {_show(value)}",
            )
        raise self.error(
            where, f"an argument value must be a number, a string, a boolean or an array. Received: {_show(value)}"
        )

    def leaf(self, entry: dict[str, Any], where: str, kind: str, name: str | None) -> Any:
        cls = self.types[kind]
        raw_args = entry.get("args", [])
        awhere = _join(where, "args")
        if not isinstance(raw_args, list):
            raise self.error(awhere, f"args must be an array such as [1, 32, 3]. Received: {_show(raw_args)}")
        args = [self.value(v, _join(awhere, j)) for j, v in enumerate(raw_args)]
        kwargs = self.kwargs(entry, where)
        if self.framework == "keras":
            if "name" in kwargs:
                raise self.error(_join(_join(where, "kwargs"), "name"), "give the layer's name as its `name` key")
            kwargs["name"] = name or self.auto_name(getattr(cls, "_base", kind.lower()))
        positions = self.bind(cls, kind, args, kwargs, where, entry.get("none", []))
        try:
            return cls(*args, **kwargs)
        except ConvCalcError as exc:
            raise self.error(_where_arg(where, str(exc), positions), f"{kind}: {exc}") from None
        except Exception as exc:  # a spec must never escape as another exception type
            raise self.error(where, f"{kind}: {type(exc).__name__}: {_short(exc)}") from None

    def bind(
        self, cls: type, kind: str, args: list[Any], kwargs: dict[str, Any], where: str, nones: list[str]
    ) -> dict[str, str]:
        """Check the arguments against the constructor; return each parameter's position in the file (an
        argument listed in ``none`` is at its place there)."""
        params = _parameters(cls)
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params if p.kind is not p.VAR_POSITIONAL]
        # (a layer's name is its key; device and dtype, taken so torch code runs as written, change no count)
        usage = f"{kind}({', '.join(param_text(p) for p in params if p.name not in ('name', 'device', 'dtype'))})"
        if len(args) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in params):
            raise self.error(
                _join(_join(where, "args"), len(positional)),
                f"{kind} takes at most {_count(len(positional), 'positional argument')}, got {len(args)}: {usage}",
            )
        positions = {p.name: _join(_join(where, "args"), j) for j, p in enumerate(positional[: len(args)])}
        for key in kwargs:
            kw = _join(_join(where, "none"), nones.index(key)) if key in nones else _join(_join(where, "kwargs"), key)
            if key not in names:
                hint = difflib.get_close_matches(key, names, n=1)
                tip = f"did you mean {hint[0]!r}? " if hint else ""
                raise self.error(kw, f"{kind} has no argument {key!r}; {tip}{usage}")
            if key in positions:
                raise self.error(kw, f"{key!r} is given twice, as args[{list(positions).index(key)}] and in kwargs")
            positions[key] = kw
        for p in params:
            if p.default is p.empty and p.kind is not p.VAR_POSITIONAL and p.name not in positions:
                raise self.error(where, f"{kind} needs the argument {p.name!r}: {usage}")
        return positions

    def auto_name(self, base: str) -> str:
        n = self.auto_names.get(base, 0)
        self.auto_names[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


@functools.cache
def _parameters(cls: type) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(cls).parameters.values() if p.kind is not p.VAR_KEYWORD]


def _where_arg(where: str, message: str, positions: Mapping[str, str]) -> str:
    """The position of the argument a constructor's message is about: the one it names first."""
    head = message.split("Received:", 1)[0]
    best: tuple[int, str] | None = None
    for name, position in positions.items():
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", head)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), position)
    return best[1] if best else where


def _framework_module(framework: str) -> ModuleType:
    if framework == "keras":
        from convcalc import keras

        return keras
    from convcalc import nn

    return nn


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _typename(value: Any) -> str:
    return {
        dict: "table",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "float",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_typename(value)})"


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #


@checked_call
def dump_spec(model: Any, input_shape: Any = None) -> str:
    """Write a ``convcalc.nn`` or ``convcalc.keras`` model as a TOML spec that loads back to it.

    Args:
        model: the model (a container or a single layer).
        input_shape: written as ``input`` (symbols by name); by default a Keras
            model's own input shape, if any.

    Returns:
        The TOML text.

    Raises:
        SpecError: the model holds something a spec cannot describe.

    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 5, 5), nn.MaxPool2d(2))
    >>> print(dump_spec(net, (1, 1, 28, 28)))
    format = 1
    framework = "torch"
    input = [1, 1, 28, 28]
    <BLANKLINE>
    [[layers]]
    type = "Conv2d"
    args = [1, 5, 5]
    <BLANKLINE>
    [[layers]]
    type = "MaxPool2d"
    args = [2]
    <BLANKLINE>
    >>> loads_spec(dump_spec(net))[0] == net
    True
    >>> dump_spec(object())
    Traceback (most recent call last):
    ...
    convcalc.SpecError: dump_spec takes a convcalc.nn or convcalc.keras model; got object. Received: model=<object object at ...>
    """
    from convcalc import keras, nn

    if isinstance(model, nn.Module):
        framework = "torch"
    elif isinstance(model, keras.Layer):
        framework = "keras"
    else:
        raise SpecError(
            f"dump_spec takes a convcalc.nn or convcalc.keras model; got {type(model).__name__}. "
            f"Received: model={model!r}"
        )
    writer = _Writer(framework)
    if input_shape is None and framework == "keras":
        input_shape = getattr(model, "_default_input_shape", None)
    head = [f"format = {FORMAT_VERSION}", f"framework = {_toml(framework)}"]
    if input_shape is not None:
        head.append(f"input = {_toml(_shape_value(input_shape))}")
    lines = writer.table(model, "", head, top=True)
    return "\n".join(lines) + "\n"


def _shape_value(shape: Any) -> list[Any]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise SpecError(f"input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape={shape!r}")
    out: list[Any] = []
    for d in shape:
        if type(d) is int and d >= 1:  # as the loader reads it back: a size of at least 1
            out.append(d)
        elif getattr(d, "is_Symbol", False) and str(d).isidentifier():
            out.append(str(d))
        else:
            raise SpecError(
                f"input_shape entries must be ints of at least 1 or symbols named like Python names (as a spec "
                f"reads them back). Received: input_shape={shape!r}"
            )
    return out


class _Writer:
    def __init__(self, framework: str) -> None:
        self.framework = framework

    def table(self, model: Any, path: str, head: list[str], *, top: bool = False, name: str | None = None) -> list[str]:
        """Lines of one layer table: its keys, then its child tables under ``path``."""
        from convcalc import keras, nn

        lines = list(head)
        model = getattr(model, "_written_as", model)  # (a torch layer read with its parametrizations: the layer)
        kind = type(model).__name__
        if isinstance(model, (nn.Sequential, keras.Sequential)):
            if not top:
                lines.append(f"type = {_toml('Sequential')}")
            seq_name = model.name if isinstance(model, keras.Sequential) else name
            if seq_name is not None:
                lines.append(f"name = {_toml(seq_name)}")
            children = self.children(model)
            if not children:
                lines.append("layers = []")
            return lines + self.child_tables(children, _join(path, "layers"))
        lines.append(f"type = {_toml(kind)}")
        if name is None and self.framework == "keras":
            name = model._name()  # a Keras layer's name is part of it
        if name is not None:
            lines.append(f"name = {_toml(name)}")
        if isinstance(model, (nn.Add, nn.Concat)):
            extra = {}
            if isinstance(model, nn.Concat):
                extra = {
                    k: v for k, v in (("dim", model.dim), ("crop", model.crop)) if v != {"dim": 1, "crop": False}[k]
                }
            if extra:
                lines.append(f"kwargs = {_inline(extra)}")
            return lines + self.branches(model, _join(path, "branches"))
        if not dataclasses.is_dataclass(model):
            raise SpecError(f"cannot write {kind} to a spec: it is not a convcalc layer. Received: model={model!r}")
        try:
            args, kwargs, nones = self.arguments(model)
        except SpecError as exc:
            raise SpecError(f"{kind}: {exc}") from None
        if args:
            lines.append(f"args = {_toml(args)}")
        if kwargs:
            lines.append(f"kwargs = {_inline(kwargs)}")
        if nones:
            lines.append(f"none = {_toml(nones)}")
        return lines

    def children(self, model: Any) -> list[tuple[str | None, Any]]:
        from convcalc import keras

        if isinstance(model, keras.Sequential):
            return [(layer._name(), layer) for layer in model.layers]
        items = list(model.children())
        if all(n == str(j) for j, (n, _) in enumerate(items)):
            return [(None, m) for _, m in items]
        return [(n, m) for n, m in items]

    def child_tables(self, children: list[tuple[str | None, Any]], path: str) -> list[str]:
        lines: list[str] = []
        for name, child in children:
            lines += ["", f"[[{path}]]", *self.table(child, path, [], name=name)]
        return lines

    def branches(self, model: Any, path: str) -> list[str]:
        from convcalc import nn

        lines: list[str] = []
        items = list(model.children())
        named = not all(n == str(j) for j, (n, _) in enumerate(items))
        for name, branch in items:
            label = name if named else None
            lines += ["", f"[[{path}]]"]
            if isinstance(branch, nn.Sequential):
                if label is not None:
                    lines.append(f"name = {_toml(label)}")
                children = self.children(branch)
                if not children:
                    lines.append("layers = []")
                lines += self.child_tables(children, _join(path, "layers"))
            else:
                lines += self.table(branch, path, [], name=label)
        return lines

    def arguments(self, model: Any) -> tuple[list[Any], dict[str, Any], list[str]]:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        nones: list[str] = []
        for f in dataclasses.fields(model):
            if not f.init or (f.name == "name" and self.framework == "keras"):
                continue
            value = getattr(model, f.name)
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and not kwargs and not nones and value is not None:
                args.append(_plain(value, f.name))
                continue
            default = (
                f.default
                if f.default is not dataclasses.MISSING
                else (f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            )
            if not required and _same(value, default):
                continue
            if value is None:
                nones.append(f.name)
            else:
                kwargs[f.name] = _plain(value, f.name)
        return args, kwargs, nones


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _plain(value: Any, name: str, whole: Any = None) -> Any:
    """A value written in a spec; ``whole`` is the argument an array's item belongs to."""
    if value is None and whole is not None:
        raise SpecError(
            f"cannot write {name}={whole!r} to a spec: TOML has no null inside an array (a spec lists an "
            f"argument that is None as a whole in `none`). Received: {name}={whole!r}"
        )
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v, name, value if whole is None else whole) for v in value]
    raise SpecError(
        f"cannot write {name}={value!r} to a spec: only numbers, strings, booleans and arrays. "
        f"Received: {name}={value!r}"
    )


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, and DEL escaped too (TOML allows no control character in it)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml(value: Any) -> str:
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise SpecError(f"cannot write {value!r} to TOML. Received: value={value!r}")  # pragma: no cover


def _inline(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in table.items()) + " }"
