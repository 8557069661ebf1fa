"""convcalc.specfile, pinned where mutation testing found it unpinned: every message of the loader compared
whole (the position in the file, the problem, the value received and its type), the names made up for
unnamed layers, the file checks of ``load_spec``, and the text ``dump_spec`` writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import SpecError, nn
from convcalc import keras as ks
from convcalc.specfile import FORMAT_VERSION, SUFFIXES, dump_spec, load_spec, loads_spec


def _message(text: str, syntax: str = "json", source: str = "<spec>") -> str:
    with pytest.raises(SpecError) as caught:
        loads_spec(text, syntax=syntax, source=source)
    return str(caught.value)


def _json_message(data: Any) -> str:
    return _message(json.dumps(data))


CONV_USAGE = (
    "Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, "
    "padding_mode='zeros')"
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "<top level>: the top level must be a table of keys such as `layers`, not an array"),
        ("x", "<top level>: the top level must be a table of keys such as `layers`, not a string"),
        (3, "<top level>: the top level must be a table of keys such as `layers`, not an integer"),
        (None, "<top level>: the top level must be a table of keys such as `layers`, not a null"),
        ({"layers": [], "laers": 1}, "laers: unknown key 'laers'; did you mean 'layers'?"),
        ({"format": 2, "layers": []}, "format: this convcalc reads spec format 1. Received: format=2"),
        ({"format": True, "layers": []}, "format: this convcalc reads spec format 1. Received: format=True"),
        ({"format": 1.0, "layers": []}, "format: this convcalc reads spec format 1. Received: format=1.0"),
        (
            {"framework": "jax", "layers": []},
            "framework: framework must be one of 'torch', 'keras'. Received: framework='jax'",
        ),
        (
            {"description": "", "layers": []},
            "description: description must be a non-empty string. Received: '' (string)",
        ),
        (
            {"description": 5, "layers": []},
            "description: description must be a non-empty string. Received: 5 (integer)",
        ),
        ({"name": False, "layers": []}, "name: name must be a non-empty string. Received: False (boolean)"),
        ({"type": "repeat"}, "type: the top level cannot be a repeat; put the repeat in `layers`"),
        ({"args": [1]}, "args: `args` needs a `type` at the top level (a Sequential takes `layers`)"),
        ({"kwargs": {}}, "kwargs: `kwargs` needs a `type` at the top level (a Sequential takes `layers`)"),
        ({"none": []}, "none: `none` needs a `type` at the top level (a Sequential takes `layers`)"),
        ({"branches": []}, "branches: `branches` needs a `type` at the top level (a Sequential takes `layers`)"),
        ({}, "<top level>: no `layers`: a spec lists its layers as [[layers]] tables"),
        (
            {"input": [], "layers": []},
            "input: input must be a non-empty array such as [1, 3, 224, 224]. Received: [] (array)",
        ),
        (
            {"input": "1x3", "layers": []},
            "input: input must be a non-empty array such as [1, 3, 224, 224]. Received: '1x3' (string)",
        ),
        (
            {"input": [1, 0], "layers": []},
            'input[1]: a size must be a positive integer or a symbol name such as "H". Received: 0 (integer)',
        ),
        (
            {"input": [1, "2H"], "layers": []},
            "input[1]: a size must be a positive integer or a symbol name such as \"H\". Received: '2H' (string)",
        ),
        (
            {"input": [True], "layers": []},
            'input[0]: a size must be a positive integer or a symbol name such as "H". Received: True (boolean)',
        ),
        (
            {"input": [1, 2.0], "layers": []},
            'input[1]: a size must be a positive integer or a symbol name such as "H". Received: 2.0 (float)',
        ),
        ({"layers": {}}, "layers: must be an array of layer tables. Received: {} (table)"),
        ({"layers": [5]}, "layers[0]: a layer must be a table with a `type`. Received: 5 (integer)"),
        ({"layers": [{}]}, 'layers[0]: a layer needs a `type` such as "Conv2d"'),
        ({"layers": [{"type": 5}]}, "layers[0].type: type must be a string. Received: 5 (integer)"),
        (
            {"layers": [{"type": "Conv2D"}]},
            "layers[0].type: unknown layer type 'Conv2D' for framework 'torch'; did you mean 'Conv2d'?",
        ),
        (
            {"layers": [{"type": "batchnorm2d"}]},
            "layers[0].type: unknown layer type 'batchnorm2d' for framework 'torch'; did you mean 'BatchNorm2d'?",
        ),
        (
            {"layers": [{"type": "Dense"}]},
            "layers[0].type: unknown layer type 'Dense' for framework 'torch'; 'Dense' is a keras layer: set "
            "framework = 'keras' at the top of the file",
        ),
        (
            {"framework": "keras", "layers": [{"type": "Conv2d"}]},
            "layers[0].type: unknown layer type 'Conv2d' for framework 'keras'; did you mean 'Conv2D'?",
        ),
        (
            {"framework": "keras", "layers": [{"type": "PixelShuffle"}]},
            "layers[0].type: unknown layer type 'PixelShuffle' for framework 'keras'; 'PixelShuffle' is a torch "
            "layer: set framework = 'torch' at the top of the file",
        ),
        (
            {"layers": [{"type": "ReLU", "layers": []}]},
            "layers[0].layers: ReLU takes no `layers`; only containers (Sequential, Add, Concat) do",
        ),
        (
            {"layers": [{"type": "ReLU", "branches": []}]},
            "layers[0].branches: ReLU takes no `branches`; only containers (Sequential, Add, Concat) do",
        ),
        (
            {"layers": [{"type": "ReLU", "format": 1}]},
            "layers[0].format: unknown key 'format'; allowed keys: type, name, args, kwargs, none, layers, branches, "
            "description",
        ),
        (
            {"layers": [{"type": "ReLU", "times": 1}]},
            "layers[0].times: unknown key 'times'; allowed keys: type, name, args, kwargs, none, layers, branches, "
            "description",
        ),
        (
            {"layers": [{"type": "ReLU", "description": ""}]},
            "layers[0].description: description must be a non-empty string. Received: '' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "name": ""}]},
            "layers[0].name: name must be a non-empty string. Received: '' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "name": "a.b"}]},
            "layers[0].name: layer names must not contain dots. Received: name='a.b'",
        ),
        (
            {"layers": [{"type": "ReLU", "name": "a"}, {"type": "ReLU", "name": "a"}]},
            "layers[1].name: the name 'a' is used twice in this list; names must be unique (inside a repeat, put {i} "
            "in the name)",
        ),
        (
            {"layers": [{"type": "ReLU"}, {"type": "ReLU", "name": "0"}]},
            "layers[1].name: the name '0' is used twice in this list; names must be unique (inside a repeat, put {i} "
            "in the name)",
        ),
        (
            {"layers": [{"type": "repeat", "times": 0, "layers": [{"type": "ReLU"}]}]},
            "layers[0].times: times must be an integer from 1 to 10000. Received: 0 (integer)",
        ),
        (
            {"layers": [{"type": "repeat", "times": 10001, "layers": [{"type": "ReLU"}]}]},
            "layers[0].times: times must be an integer from 1 to 10000. Received: 10001 (integer)",
        ),
        (
            {"layers": [{"type": "repeat", "times": True, "layers": [{"type": "ReLU"}]}]},
            "layers[0].times: times must be an integer from 1 to 10000. Received: True (boolean)",
        ),
        (
            {"layers": [{"type": "repeat", "layers": [{"type": "ReLU"}]}]},
            "layers[0].times: times must be an integer from 1 to 10000. Received: None (null)",
        ),
        ({"layers": [{"type": "repeat", "times": 2}]}, "layers[0]: a repeat needs `layers`, the layers to repeat"),
        (
            {"layers": [{"type": "repeat", "times": 2, "layers": []}]},
            "layers[0].layers: must be a non-empty array of layer tables. Received: [] (array)",
        ),
        (
            {"layers": [{"type": "repeat", "times": 2, "layers": {"type": "ReLU"}}]},
            "layers[0].layers: must be a non-empty array of layer tables. Received: {'type': 'ReLU'} (table)",
        ),
        (
            {"layers": [{"type": "repeat", "times": 2, "layers": [{"type": "ReLU"}], "name": "x"}]},
            "layers[0].name: unknown key 'name'; allowed keys: type, times, layers, description",
        ),
        (
            {"layers": [{"type": "repeat", "times": 2, "layers": [{"type": "ReLU", "name": "r"}]}]},
            "layers[0].layers[0].name: the name 'r' is used twice in this list; names must be unique (inside a "
            "repeat, put {i} in the name)",
        ),
        (
            {"layers": [{"type": "repeat", "times": 1, "layers": [{"type": "ReLU", "kwargs": 1}]}]},
            "layers[0].layers[0].kwargs: kwargs must be a table such as { stride = 2 }. Received: 1 (integer)",
        ),
        (
            {"layers": [{"type": "Sequential", "layers": [{"type": "repeat", "times": 1, "layers": [3]}]}]},
            "layers[0].layers[0].layers[0]: a layer must be a table with a `type`. Received: 3 (integer)",
        ),
        (
            {"layers": [{"type": "Sequential", "args": [1]}]},
            "layers[0].args: a Sequential takes its layers in `layers`, not `args`",
        ),
        (
            {"layers": [{"type": "Sequential", "kwargs": {}}]},
            "layers[0].kwargs: a Sequential takes its layers in `layers`, not `kwargs`",
        ),
        (
            {"layers": [{"type": "Sequential", "none": []}]},
            "layers[0].none: a Sequential takes its layers in `layers`, not `none`",
        ),
        (
            {"layers": [{"type": "Sequential", "branches": []}]},
            "layers[0].branches: a Sequential takes its layers in `layers`, not `branches`",
        ),
        (
            {
                "layers": [
                    {"type": "repeat", "times": 1, "layers": [{"type": "Sequential", "layers": [{"type": "repeat"}]}]}
                ]
            },
            "layers[0].layers[0].layers[0].times: times must be an integer from 1 to 10000. Received: None (null)",
        ),
        (
            {"layers": [{"type": "Add", "args": [1]}]},
            "layers[0].args: Add takes its branches in `branches`, not `args`",
        ),
        (
            {"layers": [{"type": "Concat", "layers": []}]},
            "layers[0].layers: Concat takes `branches` (each applied to the same input), not `layers`",
        ),
        ({"layers": [{"type": "Add"}]}, "layers[0]: Add needs `branches`, a non-empty array. Received: None (null)"),
        (
            {"layers": [{"type": "Add", "branches": []}]},
            "layers[0].branches: Add needs `branches`, a non-empty array. Received: [] (array)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [5]}]},
            "layers[0].branches[0]: a branch is a layer table or a list of layers. Received: 5 (integer)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"name": "x"}]}]},
            "layers[0].branches[0]: a branch is a layer table (with a `type`) or a table with `layers`",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"layers": [], "bad": 1}]}]},
            "layers[0].branches[0].bad: unknown key 'bad'; allowed keys: name, layers, description",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"layers": [], "name": 3}]}]},
            "layers[0].branches[0].name: name must be a non-empty string. Received: 3 (integer)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"layers": [5]}]}]},
            "layers[0].branches[0].layers[0]: a layer must be a table with a `type`. Received: 5 (integer)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [[{"type": "ReLU", "name": "a.b"}]]}]},
            "layers[0].branches[0][0].name: layer names must not contain dots. Received: name='a.b'",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"type": "ReLU", "name": ""}]}]},
            "layers[0].branches[0].name: name must be a non-empty string. Received: '' (string)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"type": "ReLU", "name": "x"}, {"type": "ReLU", "name": "x"}]}]},
            "layers[0].branches[1].name: the name 'x' is used twice in this list; names must be unique (inside a "
            "repeat, put {i} in the name)",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"type": "repeat"}]}]},
            "layers[0].branches[0].type: a branch cannot be a repeat; wrap it in `layers`",
        ),
        (
            {"layers": [{"type": "Add", "branches": [{"type": "ReLU"}], "kwargs": {"dim": 1}}]},
            "layers[0].kwargs.dim: Add takes no keyword arguments. Received: dim",
        ),
        (
            {"layers": [{"type": "Concat", "branches": [{"type": "ReLU"}], "kwargs": {"axis": 1}}]},
            "layers[0].kwargs.axis: Concat takes only dim and crop. Received: axis",
        ),
        (
            {"layers": [{"type": "Concat", "branches": [{"type": "ReLU"}], "kwargs": {"dim": "x"}}]},
            "layers[0].kwargs.dim: Concat: dim must be an integer. Received: dim='x'",
        ),
        (
            {"layers": [{"type": "ReLU", "kwargs": []}]},
            "layers[0].kwargs: kwargs must be a table such as { stride = 2 }. Received: [] (array)",
        ),
        (
            {"layers": [{"type": "ReLU", "kwargs": {"1a": 1}}]},
            "layers[0].kwargs: argument names must be identifiers. Received: '1a' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "none": "inplace"}]},
            "layers[0].none: none must be an array of argument names. Received: 'inplace' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "none": [5]}]},
            "layers[0].none[0]: must be an argument name. Received: 5 (integer)",
        ),
        (
            {"layers": [{"type": "ReLU", "none": ["in place"]}]},
            "layers[0].none[0]: must be an argument name. Received: 'in place' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "none": ["inplace"], "kwargs": {"inplace": True}}]},
            "layers[0].none[0]: 'inplace' is also given in kwargs",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, {"a": 1}]}]},
            "layers[0].args[2]: an argument value must be a number, a string, a boolean or an array, not a table. "
            "Received: {'a': 1} (table)",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, [3, {"a": 1}]]}]},
            "layers[0].args[2][1]: an argument value must be a number, a string, a boolean or an array, not a "
            "table. Received: {'a': 1} (table)",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"stride": {"a": 1}}}]},
            "layers[0].kwargs.stride: an argument value must be a number, a string, a boolean or an array, not a "
            "table. Received: {'a': 1} (table)",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": "1, 2"}]},
            "layers[0].args: args must be an array such as [1, 32, 3]. Received: '1, 2' (string)",
        ),
        (
            {"layers": [{"type": "ReLU", "args": [1, 2]}]},
            "layers[0].args[1]: ReLU takes at most 1 positional argument, got 2: ReLU(inplace=False)",
        ),
        (
            {"layers": [{"type": "Linear", "args": [1, 2, True, 4, 5, 6]}]},
            "layers[0].args[5]: Linear takes at most 5 positional arguments, got 6: Linear(in_features, "
            "out_features, bias=True)",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"strid": 2}}]},
            f"layers[0].kwargs.strid: Conv2d has no argument 'strid'; did you mean 'stride'? {CONV_USAGE}",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"zzzzz": 2}}]},
            f"layers[0].kwargs.zzzzz: Conv2d has no argument 'zzzzz'; {CONV_USAGE}",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"kernel_size": 2}}]},
            "layers[0].kwargs.kernel_size: 'kernel_size' is given twice, as args[2] and in kwargs",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2]}]},
            f"layers[0]: Conv2d needs the argument 'kernel_size': {CONV_USAGE}",
        ),
        (
            {"layers": [{"type": "Conv2d", "kwargs": {"kernel_size": 3, "out_channels": 2}}]},
            f"layers[0]: Conv2d needs the argument 'in_channels': {CONV_USAGE}",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"stride": 0}}]},
            "layers[0].kwargs.stride: Conv2d: stride must be at least 1. Received: stride=0",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 0]}]},
            "layers[0].args[2]: Conv2d: kernel_size must be at least 1. Received: kernel_size=0",
        ),
        (
            {"layers": [{"type": "Conv2d", "args": [1, 2, 3], "kwargs": {"padding_mode": "bad", "padding": 1}}]},
            "layers[0].kwargs.padding_mode: Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or "
            "'circular'. Received: in_channels=1, out_channels=2, kernel_size=3, stride=1, padding=1, dilation=1, "
            "groups=1, bias=True, padding_mode='bad'",
        ),
        (
            {"layers": [{"type": "Linear", "args": [[1], 2]}]},
            "layers[0].args[0]: Linear: in_features must be an integer. Received: in_features=(1,)",
        ),
        (
            {"framework": "keras", "layers": [{"type": "Dense", "args": [3], "kwargs": {"name": "d"}}]},
            "layers[0].kwargs.name: give the layer's name as its `name` key",
        ),
        (
            {"framework": "keras", "layers": [{"type": "Dense", "args": [3]}, {"type": "Input", "args": [[3]]}]},
            "layers[1].type: Input may only be the first layer of a Sequential",
        ),
    ],
)
def test_loader_messages(data: Any, message: str) -> None:
    assert _json_message(data) == f"<spec>: {message}"


def test_unknown_type_lists_the_known_types() -> None:
    names = sorted(n for n in nn.__all__ if n not in ("Module", "Layer"))
    assert _json_message({"layers": [{"type": "Zzzzzz"}]}) == (
        f"<spec>: layers[0].type: unknown layer type 'Zzzzzz' for framework 'torch'; known types: {', '.join(names)}"
    )
    assert "Module" not in names
    assert "Conv2d" in names


def test_unknown_key_at_the_top_lists_the_keys() -> None:
    assert _json_message({"layers": [], "qqqq": 1}).startswith(
        "<spec>: qqqq: unknown key 'qqqq'; allowed keys: format, framework, description, input, type, name, args, "
        "kwargs, none, layers, branches"
    )


def test_unknown_key_at_the_top_names_each_key_once() -> None:
    assert _json_message({"layers": [], "qqqq": 1}) == (
        "<spec>: qqqq: unknown key 'qqqq'; allowed keys: format, framework, description, input, type, name, args, "
        "kwargs, none, layers, branches"
    )


def test_a_long_position_is_shortened() -> None:
    data: dict[str, Any] = {"type": 5}
    for _ in range(20):
        data = {"type": "Sequential", "layers": [data]}
    where = "layers[0]" + ".layers[0]" * 20 + ".type"
    assert len(where) == 214
    assert _json_message({"layers": [data]}) == (
        f"<spec>: {where[:70]} ... {where[-70:]}: type must be a string. Received: 5 (integer)"
    )


@pytest.mark.parametrize("length", [160, 161])
def test_a_position_of_160_characters_is_kept_whole(length: int) -> None:
    key = "a" * (length - len("layers[0].kwargs."))
    where = f"layers[0].kwargs.{key}"
    assert len(where) == length
    shown = where if length <= 160 else f"{where[:70]} ... {where[-70:]}"
    assert _json_message({"layers": [{"type": "ReLU", "kwargs": {key: 1}}]}) == (
        f"<spec>: {shown}: ReLU has no argument {key!r}; ReLU(inplace=False)"
    )


def test_nesting_depth_is_bounded() -> None:
    data: dict[str, Any] = {"type": "ReLU"}
    for _ in range(63):
        data = {"type": "Sequential", "layers": [data]}
    assert loads_spec(json.dumps({"layers": [data]}), syntax="json")[1] is None  # the deepest allowed
    message = _json_message({"layers": [{"type": "Sequential", "layers": [data]}]})
    assert message.endswith(".layers[0]: layers nest more than 64 deep")
    branches: Any = {"type": "ReLU"}
    for _ in range(33):
        branches = {"type": "Add", "branches": [[branches]]}
    assert _json_message({"layers": [branches]}).endswith(": layers nest more than 64 deep")


def test_layer_count_is_bounded() -> None:
    ok = {"layers": [{"type": "repeat", "times": 10000, "layers": [{"type": "Identity"}, {"type": "Identity"}]}]}
    assert len(loads_spec(json.dumps(ok), syntax="json")[0]) == 20000
    too_many = {"layers": [{"type": "Identity"}, *ok["layers"]]}
    assert _json_message(too_many) == (
        "<spec>: layers[1].layers[1]: more than 20000 layers; a spec this large is not a network"
    )


def test_the_source_names_the_file() -> None:
    assert _message("[]", source="net.json") == (
        "net.json: <top level>: the top level must be a table of keys such as `layers`, not an array"
    )
    with pytest.raises(SpecError) as caught:
        loads_spec(b"[]", syntax="json", source="net.json")  # type: ignore[arg-type]
    assert str(caught.value) == "net.json: spec text must be a str. Received: text=bytes"


# --- syntax errors ---------------------------------------------------------------------------------------------


def test_syntax_errors() -> None:
    assert _message('{"a": 1, "a": 2}') == "<spec>: duplicate key 'a' in a JSON object"
    assert _message('{"a": ') == "<spec>: line 1, column 7: JSON syntax error: Expecting value"
    assert _message("[" * 100000 + "]" * 100000) == (
        "<spec>: JSON error: maximum recursion depth exceeded while decoding a JSON array from a unicode string"
    )
    assert _message("a = ", "toml") == "<spec>: end of file: TOML syntax error: Invalid value"
    assert _message("a = 1\nb = = 2", "toml") == "<spec>: line 2, column 5: TOML syntax error: Invalid value"
    assert _message("a", "xml") == (
        "<spec>: unknown syntax 'xml'; use one of 'toml', 'json', 'yaml'. Received: syntax='xml'"
    )


def test_yaml_errors() -> None:
    pytest.importorskip("yaml")
    assert _message("a: [1, 2", "yaml") == (
        "<spec>: line 1, column 9: YAML error: while parsing a flow sequence expected ',' or ']', but got "
        "'<stream end>'"
    )
    assert _message("layers:\n- type: ReLU\n  args: !!python/object:os.system x\n", "yaml") == (
        "<spec>: line 3, column 9: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'"
    )
    model, shape = loads_spec("input: [1, 4]\nlayers:\n- type: Linear\n  args: [4, 2]\n", syntax="yaml")
    assert (model, shape) == (nn.Sequential(nn.Linear(4, 2)), (1, 4))


# --- what is built --------------------------------------------------------------------------------------------


def test_input_shapes_with_symbols() -> None:
    _, shape = loads_spec(json.dumps({"input": [1, "C", "H", "H"], "layers": []}), syntax="json")
    H, C = convcalc.symbols("H C")
    assert shape == (1, C, H, H)
    assert shape[2] is shape[3]
    _, shape = loads_spec(json.dumps({"input": [2, "W"], "layers": []}), syntax="json")
    assert shape == (2, convcalc.symbols("W"))
    _, shape = loads_spec(json.dumps({"input": [3], "layers": []}), syntax="json")
    assert shape == (3,)


def test_repeat_copies_in_order() -> None:
    data = {
        "layers": [
            {"type": "ReLU", "name": "first"},
            {
                "type": "repeat",
                "times": 2,
                "layers": [{"type": "Conv2d", "name": "conv{i}", "args": [4, 4, 3]}, {"type": "Identity"}],
            },
        ]
    }
    model, _ = loads_spec(json.dumps(data), syntax="json")
    assert model == nn.Sequential(
        {
            "first": nn.ReLU(),
            "conv0": nn.Conv2d(4, 4, 3),
            "2": nn.Identity(),
            "conv1": nn.Conv2d(4, 4, 3),
            "4": nn.Identity(),
        }
    )


def test_branches_of_every_form() -> None:
    data = {
        "layers": [
            {
                "type": "Add",
                "branches": [
                    [{"type": "ReLU"}],
                    {"name": "n", "layers": [{"type": "Identity"}], "description": "a named list"},
                    {"type": "Identity", "name": "last"},
                ],
            },
            {"type": "Concat", "branches": [{"type": "ReLU"}, {"type": "ReLU"}], "kwargs": {"dim": 2, "crop": True}},
        ]
    }
    model, _ = loads_spec(json.dumps(data), syntax="json")
    assert model == nn.Sequential(
        nn.Add({"0": nn.Sequential(nn.ReLU()), "n": nn.Sequential(nn.Identity()), "last": nn.Identity()}),
        nn.Concat(nn.ReLU(), nn.ReLU(), dim=2, crop=True),
    )


def test_arguments_become_tuples_and_nones() -> None:
    data = {
        "layers": [
            {"type": "BatchNorm2d", "args": [4], "none": ["momentum"], "kwargs": {"eps": 0.5}},
            {"type": "Unflatten", "args": [1, [2, 2]]},
            {"type": "Sequential", "name": "head", "layers": [{"type": "Flatten"}]},
        ]
    }
    model, _ = loads_spec(json.dumps(data), syntax="json")
    assert model == nn.Sequential(
        {
            "0": nn.BatchNorm2d(4, eps=0.5, momentum=None),
            "1": nn.Unflatten(1, (2, 2)),
            "head": nn.Sequential(nn.Flatten()),
        }
    )


def test_a_single_layer_at_the_top() -> None:
    data = {"type": "Conv2d", "args": [1, 2, 3], "name": "solo", "input": [1, 1, 5, 5], "description": "one layer"}
    model, shape = loads_spec(json.dumps(data), syntax="json")
    assert (model, shape) == (nn.Conv2d(1, 2, 3), (1, 1, 5, 5))


def test_keras_layers_get_keras_names_per_file() -> None:
    data = {
        "framework": "keras",
        "layers": [
            {"type": "Conv2D", "args": [4, 3]},
            {"type": "Conv2D", "args": [4, 3]},
            {"type": "Dense", "args": [2], "name": "out"},
            {"type": "Sequential", "layers": [{"type": "Dense", "args": [2]}]},
        ],
    }
    for _ in range(2):  # the counts start again with each load
        model, shape = loads_spec(json.dumps(data), syntax="json")
        assert shape is None
        assert model.name == "sequential_1"
        assert [layer.name for layer in model.layers] == ["conv2d", "conv2d_1", "out", "sequential"]
        assert model.layers[3].layers[0].name == "dense"
    named = {"framework": "keras", "name": "tiny", "layers": [{"type": "Dense", "args": [2]}]}
    assert loads_spec(json.dumps(named), syntax="json")[0].name == "tiny"


def test_keras_input_from_the_file() -> None:
    data = {"framework": "keras", "input": [2, 8, 8, 3], "layers": [{"type": "Conv2D", "args": [4, 3]}]}
    model, shape = loads_spec(json.dumps(data), syntax="json")
    assert shape == (2, 8, 8, 3)
    assert model._default_input_shape == (2, 8, 8, 3)
    assert convcalc.plan(model).output_shape == (2, 6, 6, 4)
    assert [layer.name for layer in model.layers] == ["conv2d"]
    symbolic = {"framework": "keras", "input": ["B", 8, 8, 3], "layers": [{"type": "Conv2D", "args": [4, 3]}]}
    model, shape = loads_spec(json.dumps(symbolic), syntax="json")
    B = convcalc.symbols("B")
    assert shape == (B, 8, 8, 3)
    assert convcalc.plan(model, shape).output_shape == (B, 6, 6, 4)
    # a model with its own Input keeps it
    own = {
        "framework": "keras",
        "input": [2, 8, 8, 3],
        "layers": [{"type": "Input", "args": [[5, 5, 3]]}, {"type": "Conv2D", "args": [4, 3]}],
    }
    model, shape = loads_spec(json.dumps(own), syntax="json")
    assert shape == (2, 8, 8, 3)
    assert convcalc.plan(model).output_shape == (1, 3, 3, 4)
    # a single layer is not given an Input
    single = {"framework": "keras", "type": "Dense", "args": [2], "input": [1, 4]}
    model, shape = loads_spec(json.dumps(single), syntax="json")
    assert (model.name, shape) == ("dense", (1, 4))


# --- load_spec: the file ----------------------------------------------------------------------------------------


def test_load_spec_reads_each_suffix(tmp_path: Path) -> None:
    expected = nn.Sequential(nn.Linear(4, 2))
    (tmp_path / "a.TOML").write_text('input = [1, 4]\n[[layers]]\ntype = "Linear"\nargs = [4, 2]\n', encoding="utf-8")
    assert load_spec(tmp_path / "a.TOML") == (expected, (1, 4))
    text = json.dumps({"layers": [{"type": "Linear", "args": [4, 2]}]})
    (tmp_path / "a.json").write_bytes(b"\xef\xbb\xbf" + text.encode())  # a byte-order mark is skipped
    assert load_spec(str(tmp_path / "a.json")) == (expected, None)
    assert SUFFIXES == {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
    assert FORMAT_VERSION == 1


def test_load_spec_file_messages(tmp_path: Path) -> None:
    def message(path: Any) -> str:
        with pytest.raises(SpecError) as caught:
            load_spec(path)
        return str(caught.value)

    folder = tmp_path / "net.toml"
    folder.mkdir()
    assert message(folder) == f"{folder}: is a directory, not a spec file"
    assert message(tmp_path / "net.txt") == (
        f"{tmp_path / 'net.txt'}: unknown spec file type '.txt'; use one of .toml, .json, .yaml, .yml"
    )
    assert message(tmp_path / "net") == (
        f"{tmp_path / 'net'}: unknown spec file type '(no suffix)'; use one of .toml, .json, .yaml, .yml"
    )
    assert (
        message(tmp_path / "missing.json")
        == f"{tmp_path / 'missing.json'}: cannot read the file: No such file or directory"
    )
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": "\xff"}')
    assert message(bad) == f"{bad}: byte 7: the file is not UTF-8 text"
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (16 * 2**20 + 1))
    assert message(big) == f"{big}: the file is larger than 16 MiB; a spec is a few KiB"
    fits = tmp_path / "fits.json"
    fits.write_bytes(b"[]" + b" " * (16 * 2**20 - 2))
    assert message(fits) == (
        f"{fits}: <top level>: the top level must be a table of keys such as `layers`, not an array"
    )


# --- dump_spec ----------------------------------------------------------------------------------------------------


def test_dump_spec_writes_names_kwargs_and_symbols() -> None:
    H, W = convcalc.symbols("H W")
    net = nn.Sequential(
        {
            "stem": nn.Conv2d(3, 8, 3, stride=2, padding=(1, 2), bias=False),
            "act": nn.LeakyReLU(0.5),
            "pool": nn.MaxPool2d(2, ceil_mode=True),
        }
    )
    text = dump_spec(net, (1, 3, H, W))
    assert text == (
        "format = 1\n"
        'framework = "torch"\n'
        'input = [1, 3, "H", "W"]\n'
        "\n"
        "[[layers]]\n"
        'type = "Conv2d"\n'
        'name = "stem"\n'
        "args = [3, 8, 3]\n"
        "kwargs = { stride = 2, padding = [1, 2], bias = false }\n"
        "\n"
        "[[layers]]\n"
        'type = "LeakyReLU"\n'
        'name = "act"\n'
        "kwargs = { negative_slope = 0.5 }\n"
        "\n"
        "[[layers]]\n"
        'type = "MaxPool2d"\n'
        'name = "pool"\n'
        "args = [2]\n"
        "kwargs = { ceil_mode = true }\n"
    )
    assert loads_spec(text) == (net, (1, 3, H, W))


def test_dump_spec_writes_branches() -> None:
    net = nn.Sequential(
        nn.Concat({"a": nn.Sequential(nn.Conv2d(8, 4, 1)), "b": nn.Identity()}, dim=1, crop=True),
        nn.Add(nn.Sequential(), nn.ReLU()),
        nn.Concat(nn.ReLU(), nn.Identity(), dim=2),
    )
    text = dump_spec(net)
    assert text == (
        'format = 1\nframework = "torch"\n'
        '\n[[layers]]\ntype = "Concat"\nkwargs = { crop = true }\n'
        '\n[[layers.branches]]\nname = "a"\n'
        '\n[[layers.branches.layers]]\ntype = "Conv2d"\nargs = [8, 4, 1]\n'
        '\n[[layers.branches]]\ntype = "Identity"\nname = "b"\n'
        '\n[[layers]]\ntype = "Add"\n'
        "\n[[layers.branches]]\nlayers = []\n"
        '\n[[layers.branches]]\ntype = "ReLU"\n'
        '\n[[layers]]\ntype = "Concat"\nkwargs = { dim = 2 }\n'
        '\n[[layers.branches]]\ntype = "ReLU"\n'
        '\n[[layers.branches]]\ntype = "Identity"\n'
    )
    assert loads_spec(text)[0] == net


def test_dump_spec_of_a_branch_with_named_layers() -> None:
    net = nn.Add(nn.Sequential({"c": nn.ReLU()}), nn.Sequential(nn.Sequential(nn.ReLU())))
    text = dump_spec(net)
    assert text == (
        'format = 1\nframework = "torch"\ntype = "Add"\n'
        '\n[[branches]]\n\n[[branches.layers]]\ntype = "ReLU"\nname = "c"\n'
        '\n[[branches]]\n\n[[branches.layers]]\ntype = "Sequential"\n\n[[branches.layers.layers]]\ntype = "ReLU"\n'
    )
    assert loads_spec(text)[0] == net


def test_dump_spec_of_single_layers_and_numbers() -> None:
    assert dump_spec(nn.Sequential()) == 'format = 1\nframework = "torch"\nlayers = []\n'
    assert dump_spec(nn.BatchNorm2d(4, momentum=None, eps=float("inf"))) == (
        'format = 1\nframework = "torch"\ntype = "BatchNorm2d"\nargs = [4]\nkwargs = { eps = inf }\n'
        'none = ["momentum"]\n'
    )
    assert dump_spec(nn.LeakyReLU(negative_slope=float("-inf"))).endswith("kwargs = { negative_slope = -inf }\n")
    nan = dump_spec(nn.LeakyReLU(negative_slope=float("nan")))
    assert nan.endswith("kwargs = { negative_slope = nan }\n")
    assert dump_spec(nn.LeakyReLU(negative_slope=0.01)) == 'format = 1\nframework = "torch"\ntype = "LeakyReLU"\n'
    assert dump_spec(nn.Unflatten(1, (2, 2))).endswith("args = [1, [2, 2]]\n")
    assert dump_spec(nn.Sequential({"a b": nn.ReLU(), "é": nn.ReLU()})) == (
        'format = 1\nframework = "torch"\n\n[[layers]]\ntype = "ReLU"\nname = "a b"\n'
        '\n[[layers]]\ntype = "ReLU"\nname = "é"\n'
    )
    assert dump_spec(nn.Linear(2, 3, bias=False), (1, 2)) == (
        'format = 1\nframework = "torch"\ninput = [1, 2]\ntype = "Linear"\nargs = [2, 3]\nkwargs = { bias = false }\n'
    )


def test_dump_spec_of_a_keras_model() -> None:
    model = ks.Sequential(
        [ks.Input((8, 8, 3)), ks.Conv2D(4, 3, padding="same", name="c1"), ks.Dense(2, name="d")], name="tiny"
    )
    text = dump_spec(model)
    assert text == (
        'format = 1\nframework = "keras"\ninput = [1, 8, 8, 3]\nname = "tiny"\n'
        '\n[[layers]]\ntype = "Conv2D"\nname = "c1"\nargs = [4, 3]\nkwargs = { padding = "same" }\n'
        '\n[[layers]]\ntype = "Dense"\nname = "d"\nargs = [2]\n'
    )
    again, shape = loads_spec(text)
    assert shape == (1, 8, 8, 3)
    assert convcalc.plan(again).output_shape == convcalc.plan(model).output_shape == (1, 8, 8, 2)
    assert dump_spec(model, (2, 8, 8, 3)).splitlines()[2] == "input = [2, 8, 8, 3]"
    assert (
        dump_spec(ks.Dense(2, name="d")) == 'format = 1\nframework = "keras"\ntype = "Dense"\nname = "d"\nargs = [2]\n'
    )


def test_dump_spec_messages() -> None:
    def message(*args: Any) -> str:
        with pytest.raises(SpecError) as caught:
            dump_spec(*args)
        return str(caught.value)

    H = convcalc.symbols("H")
    assert message([1]) == "dump_spec takes a convcalc.nn or convcalc.keras model; got list. Received: model=[1]"
    assert message(nn.ReLU(), "1x3") == (
        "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape='1x3'"
    )
    assert message(nn.ReLU(), b"13") == (
        "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape=b'13'"
    )
    assert message(nn.ReLU(), 5) == "input_shape must be a tuple such as (1, 3, 224, 224). Received: input_shape=5"
    assert message(nn.ReLU(), (1, 2.5)) == (
        "input_shape entries must be ints of at least 1 or symbols named like Python names (as a spec reads them back). Received: input_shape=(1, 2.5)"
    )
    assert message(nn.ReLU(), (1, H + 1)) == (
        "input_shape entries must be ints of at least 1 or symbols named like Python names (as a spec reads them back). Received: input_shape=(1, H + 1)"
    )
    assert message(nn.ReLU(), (1, True)) == (
        "input_shape entries must be ints of at least 1 or symbols named like Python names (as a spec reads them back). Received: input_shape=(1, True)"
    )


def test_dump_spec_refuses_what_a_spec_cannot_hold() -> None:
    class Mine(nn.Module):
        def __repr__(self) -> str:
            return "Mine()"

    with pytest.raises(SpecError) as caught:
        dump_spec(nn.Sequential(Mine()))
    assert str(caught.value) == "cannot write Mine to a spec: it is not a convcalc layer. Received: model=Mine()"
    layer = nn.Conv2d(1, 2, 3)
    object.__setattr__(layer, "stride", {1})
    with pytest.raises(SpecError) as caught:
        dump_spec(layer)
    assert str(caught.value) == (
        "Conv2d: cannot write stride={1} to a spec: only numbers, strings, booleans and arrays. Received: stride={1}"
    )


# --- the rest of the loader's messages: found unpinned by a second mutation run ----------------------------------


class _EndlessFile:
    """A file that never ends, as /dev/zero: read(n) gives n bytes; reading it to the end would never return."""

    def __enter__(self) -> _EndlessFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise MemoryError("read to the end of a file that never ends")
        return b" " * size


def test_load_spec_reads_no_more_than_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that never ends (a device, a pipe) is refused after 16 MiB and one byte, not read to its end."""
    path = tmp_path / "zero.json"
    path.write_bytes(b"")
    monkeypatch.setattr(Path, "open", lambda self, *args, **kwargs: _EndlessFile())
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}: the file is larger than 16 MiB; a spec is a few KiB"


def test_toml_that_nests_too_deeply() -> None:
    assert _message("a = " + "[" * 100000 + "]" * 100000, "toml") == "<spec>: the TOML nests too deeply"


def test_yaml_errors_without_a_position() -> None:
    # the reader refuses a control character before any parsing: the first line of its message, without a position
    assert _message("a: \x01", "yaml") == (
        "<spec>: YAML error: unacceptable character #x0001: special characters are not allowed"
    )


def test_yaml_keys_that_are_not_strings() -> None:
    assert _message("1: 2\nlayers: []\n", "yaml") == "<spec>: <top level>: keys must be strings. Received: 1 (integer)"
    assert _message("layers:\n- type: ReLU\n  3: x\n", "yaml") == (
        "<spec>: layers[0]: keys must be strings. Received: 3 (integer)"
    )


def test_a_layer_at_the_top_level_is_positioned_at_the_top() -> None:
    assert _json_message({"type": "Conv2d", "args": [1, 2]}) == (
        f"<spec>: <top level>: Conv2d needs the argument 'kernel_size': {CONV_USAGE}"
    )
    assert _json_message({"type": "ReLU", "kwargs": {"x": 1}}) == (
        "<spec>: kwargs.x: ReLU has no argument 'x'; ReLU(inplace=False)"
    )
    assert _json_message({"type": "ReLU", "name": ""}) == (
        "<spec>: name: name must be a non-empty string. Received: '' (string)"
    )


def _chain(k: int, inner: Any = None) -> Any:
    """``k`` Sequentials, each holding the next, around ``inner`` (a ReLU): ``inner`` is ``k`` levels deeper."""
    data = inner if inner is not None else {"type": "ReLU"}
    for _ in range(k):
        data = {"type": "Sequential", "layers": [data]}
    return data


def _too_deep(where: str) -> str:
    shown = where if len(where) <= 160 else f"{where[:70]} ... {where[-70:]}"
    return f"<spec>: {shown}: layers nest more than 64 deep"


def _loads(data: Any) -> Any:
    return loads_spec(json.dumps(data), syntax="json")[0]


def test_depth_of_a_layer_at_the_top_level() -> None:
    # a Sequential at the top, with or without its `type`, is depth 0: its layers are 1 deep, and 63 more fit
    deepest = _chain(63)
    assert _loads({"type": "Sequential", "layers": [deepest]}) == _loads({"layers": [deepest]})
    where = "layers[0]" + ".layers[0]" * 64
    assert _json_message({"type": "Sequential", "layers": [_chain(64)]}) == _too_deep(where)
    assert _json_message({"layers": [_chain(64)]}) == _too_deep(where)


def test_depth_inside_a_repeat() -> None:
    # a repeat is a level of its own: its layers are 2 deep
    def spec(k: int) -> Any:
        return {"layers": [{"type": "repeat", "times": 1, "layers": [_chain(k)]}]}

    assert len(_loads(spec(62))) == 1
    assert _json_message(spec(63)) == _too_deep("layers[0].layers[0]" + ".layers[0]" * 63)


def test_depth_inside_a_repeat_in_a_repeat() -> None:
    def spec(k: int) -> Any:
        inner = {"type": "repeat", "times": 1, "layers": [_chain(k)]}
        return {"layers": [{"type": "repeat", "times": 1, "layers": [inner]}]}

    assert len(_loads(spec(61))) == 1
    assert _json_message(spec(62)) == _too_deep("layers[0].layers[0].layers[0]" + ".layers[0]" * 62)


def test_depth_inside_branches() -> None:
    # an Add is 1 deep, a branch's list 2, and the layers of a list 3; a branch that is a layer table is 2 deep
    def add(branch: Any) -> Any:
        return {"layers": [{"type": "Add", "branches": [branch]}]}

    assert _loads(add([_chain(61)])) == _loads(add({"layers": [_chain(61)]}))
    assert _json_message(add([_chain(62)])) == _too_deep("layers[0].branches[0][0]" + ".layers[0]" * 62)
    assert _json_message(add({"layers": [_chain(62)]})) == _too_deep(
        "layers[0].branches[0].layers[0]" + ".layers[0]" * 62
    )
    assert len(_loads(add(_chain(62)))) == 1
    assert _json_message(add(_chain(63))) == _too_deep("layers[0].branches[0]" + ".layers[0]" * 63)


def test_depth_of_the_list_of_a_branch() -> None:
    # an Add 64 deep is allowed, but the list of layers of its branch would be 65 deep
    where = "layers[0]" + ".layers[0]" * 63 + ".branches[0]"
    assert _json_message({"layers": [_chain(63, {"type": "Add", "branches": [[{"type": "ReLU"}]]})]}) == _too_deep(
        where
    )
    assert _json_message(
        {"layers": [_chain(63, {"type": "Add", "branches": [{"layers": [{"type": "ReLU"}]}]})]}
    ) == _too_deep(where + ".layers")


def test_keras_input_batch_and_its_messages() -> None:
    def model(shape: list[Any]) -> Any:
        return _loads({"framework": "keras", "input": shape, "layers": [{"type": "Conv2D", "args": [4, 3]}]})

    H, W = convcalc.symbols("H W")
    # a symbolic batch is not the Input's batch: Keras's batch of 1 is assumed
    assert model(["B", 8, 8, 3])._default_input_shape == (1, 8, 8, 3)
    # a numeric batch is kept whatever the other sizes are
    assert model([2, "H", "W", 3])._default_input_shape == (2, H, W, 3)
    assert _json_message({"framework": "keras", "input": [1], "layers": [{"type": "Dense", "args": [4]}]}) == (
        "<spec>: input: shape must be a tuple such as (28, 28, 1). Received: shape=()"
    )


def test_loading_a_keras_spec_leaves_keras_own_names_alone() -> None:
    """The Input made from the file's `input` is named, so that it draws no name from Keras' own counters."""

    def number(name: str) -> int:
        return int(name.rpartition("_")[2]) if name != "input_layer" else 0

    before = number(ks.Input((3,)).name)
    _loads({"framework": "keras", "input": [1, 4], "layers": [{"type": "Dense", "args": [2]}]})
    assert number(ks.Input((3,)).name) == before + 1


def test_repeat_in_a_repeat() -> None:
    inner = {"type": "repeat", "times": 2, "layers": [{"type": "ReLU"}]}
    model = _loads({"layers": [{"type": "repeat", "times": 2, "layers": [inner, {"type": "Identity"}]}]})
    assert model == nn.Sequential(nn.ReLU(), nn.ReLU(), nn.Identity(), nn.ReLU(), nn.ReLU(), nn.Identity())
    bad = {"type": "repeat", "times": 0, "layers": [{"type": "ReLU"}]}
    assert _json_message({"layers": [{"type": "repeat", "times": 1, "layers": [bad]}]}) == (
        "<spec>: layers[0].layers[0].times: times must be an integer from 1 to 10000. Received: 0 (integer)"
    )
    bad_layer = {"type": "repeat", "times": 1, "layers": [{"type": "ReLU"}, {"type": "ReLU", "args": "x"}]}
    assert _json_message({"layers": [{"type": "repeat", "times": 1, "layers": [bad_layer]}]}) == (
        "<spec>: layers[0].layers[0].layers[1].args: args must be an array such as [1, 32, 3]. Received: 'x' (string)"
    )


def test_a_name_in_a_repeat_is_positioned() -> None:
    assert _json_message({"layers": [{"type": "repeat", "times": 1, "layers": [{"type": "ReLU", "name": ""}]}]}) == (
        "<spec>: layers[0].layers[0].name: name must be a non-empty string. Received: '' (string)"
    )


def test_keras_names_inside_repeats_and_sequentials() -> None:
    repeated = {"type": "repeat", "times": 2, "layers": [{"type": "Dense", "args": [2], "name": "d{i}"}]}
    model = _loads({"framework": "keras", "layers": [repeated]})
    assert [layer.name for layer in model.layers] == ["d0", "d1"]
    head = {"type": "Sequential", "name": "head", "layers": [{"type": "Dense", "args": [2]}]}
    model = _loads({"framework": "keras", "layers": [head]})
    assert [layer.name for layer in model.layers] == ["head"]
    assert model.layers[0].layers[0].name == "dense"


def test_unknown_type_in_capitals_is_matched_without_case() -> None:
    assert _json_message({"layers": [{"type": "CONV2D"}]}) == (
        "<spec>: layers[0].type: unknown layer type 'CONV2D' for framework 'torch'; did you mean 'Conv2d'?"
    )
    assert _json_message({"layers": [{"type": "MAXPOOL2D"}]}) == (
        "<spec>: layers[0].type: unknown layer type 'MAXPOOL2D' for framework 'torch'; did you mean 'MaxPool2d'?"
    )


def test_a_sequential_without_layers_is_empty() -> None:
    assert _loads({"layers": [{"type": "Sequential"}]}) == nn.Sequential(nn.Sequential())


def test_keras_duplicate_names_are_positioned() -> None:
    twice = [{"type": "Dense", "args": [4], "name": "d"}, {"type": "Dense", "args": [4], "name": "d"}]
    assert _json_message({"framework": "keras", "layers": twice}) == (
        "<spec>: layers: layer names must be unique; repeated: ['d']. Received: names=['d', 'd']"
    )
    assert _json_message({"framework": "keras", "layers": [{"type": "Sequential", "layers": twice}]}) == (
        "<spec>: layers[0].layers: layer names must be unique; repeated: ['d']. Received: names=['d', 'd']"
    )


def test_branch_messages_are_positioned_in_the_branch() -> None:
    assert _json_message({"layers": [{"type": "Add", "branches": [{"type": "Conv2d", "args": [1, 2]}]}]}) == (
        f"<spec>: layers[0].branches[0]: Conv2d needs the argument 'kernel_size': {CONV_USAGE}"
    )
    assert _json_message({"layers": [{"type": "Concat", "branches": [{"type": "ReLU"}], "kwargs": []}]}) == (
        "<spec>: layers[0].kwargs: kwargs must be a table such as { stride = 2 }. Received: [] (array)"
    )


def test_a_value_of_another_type_is_named_by_its_type() -> None:
    # TOML (and YAML) have dates, which no argument takes
    assert _message('[[layers]]\ntype = "ReLU"\nkwargs = { inplace = 1979-05-27 }\n', "toml") == (
        "<spec>: layers[0].kwargs.inplace: an argument value must be a number, a string, a boolean or an array. "
        "Received: datetime.date(1979, 5, 27) (date)"
    )


UPSAMPLE = "Upsample: give exactly one of size and scale_factor. Received: size=None, scale_factor=None"


def test_a_constructor_message_is_positioned_at_the_argument_it_names() -> None:
    # naming no argument given: the layer
    assert _json_message({"layers": [{"type": "Upsample"}]}) == (
        f"<spec>: layers[0]: {UPSAMPLE}, mode='nearest', align_corners=None"
    )
    # only the part before "Received:" counts: mode is received, not named
    assert _json_message({"layers": [{"type": "Upsample", "kwargs": {"mode": "bilinear"}}]}) == (
        f"<spec>: layers[0]: {UPSAMPLE}, mode='bilinear', align_corners=None"
    )
    assert _json_message({"layers": [{"type": "Upsample", "kwargs": {"mode": "Received: x"}}]}) == (
        f"<spec>: layers[0]: {UPSAMPLE}, mode='Received: x', align_corners=None"
    )
    # the first argument named, anywhere before "Received:"
    assert _json_message({"layers": [{"type": "Upsample", "kwargs": {"scale_factor": 2, "size": 4}}]}) == (
        "<spec>: layers[0].kwargs.size: Upsample: give exactly one of size and scale_factor. Received: size=4, "
        "scale_factor=2, mode='nearest', align_corners=None"
    )


def test_a_layer_failing_with_another_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec never escapes as another exception type: the layer's failure is named, in one line."""

    class Broken:
        def __init__(self, inplace: bool = False) -> None:
            raise ValueError("the layer broke\non two lines")

    class Mute:
        def __init__(self, inplace: bool = False) -> None:
            raise RuntimeError()

    monkeypatch.setattr(nn, "ReLU", Broken)
    assert _json_message({"layers": [{"type": "ReLU"}]}) == "<spec>: layers[0]: ReLU: ValueError: the layer broke"
    monkeypatch.setattr(nn, "ReLU", Mute)
    assert _json_message({"layers": [{"type": "ReLU"}]}) == "<spec>: layers[0]: ReLU: RuntimeError: RuntimeError"


def test_keras_usage_leaves_the_name_out() -> None:
    data = {"framework": "keras", "layers": [{"type": "Dense", "args": [2], "kwargs": {"zzzz": 1}}]}
    assert _json_message(data) == (
        "<spec>: layers[0].kwargs.zzzz: Dense has no argument 'zzzz'; Dense(units, activation=None, use_bias=True, "
        "lora_rank=None)"
    )


@pytest.mark.parametrize(("length", "shown"), [(58, "'" + "x" * 58 + "'"), (59, "'" + "x" * 56 + "...")])
def test_a_long_value_is_cut_after_60_characters(length: int, shown: str) -> None:
    # a repr of 60 characters is shown whole; one of 61 is cut to 57 and "..."
    assert _json_message({"input": "x" * length, "layers": []}) == (
        f"<spec>: input: input must be a non-empty array such as [1, 3, 224, 224]. Received: {shown} (string)"
    )


def test_dump_spec_refuses_what_is_not_a_single_symbol() -> None:
    import sympy

    indexed = sympy.IndexedBase("x")[1]  # sympy counts it among its symbols, but it is not a Symbol
    with pytest.raises(SpecError) as caught:
        dump_spec(nn.ReLU(), (1, indexed))
    assert (
        str(caught.value)
        == "input_shape entries must be ints of at least 1 or symbols named like Python names (as a spec reads them back). Received: input_shape=(1, x[1])"
    )


def test_dump_spec_of_branches_in_branches() -> None:
    net = nn.Sequential(nn.Add(nn.Add(nn.ReLU(), nn.Identity()), nn.ReLU()))
    text = dump_spec(net)
    assert text == (
        'format = 1\nframework = "torch"\n'
        '\n[[layers]]\ntype = "Add"\n'
        '\n[[layers.branches]]\ntype = "Add"\n'
        '\n[[layers.branches.branches]]\ntype = "ReLU"\n'
        '\n[[layers.branches.branches]]\ntype = "Identity"\n'
        '\n[[layers.branches]]\ntype = "ReLU"\n'
    )
    assert loads_spec(text)[0] == net


def test_dump_spec_names_the_argument_it_cannot_write() -> None:
    layer = nn.Conv2d(1, 2, 3)
    object.__setattr__(layer, "in_channels", {1})
    with pytest.raises(SpecError) as caught:
        dump_spec(layer)
    assert str(caught.value) == (
        "Conv2d: cannot write in_channels={1} to a spec: only numbers, strings, booleans and arrays. "
        "Received: in_channels={1}"
    )
    layer = nn.Conv2d(1, 2, 3)
    object.__setattr__(layer, "stride", ({1}, 1))
    with pytest.raises(SpecError) as caught:
        dump_spec(layer)
    assert str(caught.value) == (
        "Conv2d: cannot write stride={1} to a spec: only numbers, strings, booleans and arrays. Received: stride={1}"
    )


def test_dump_spec_of_required_arguments_set_to_none() -> None:
    # (an adaptive pool's bare None, a torch TypeError, is refused when the spec is read)
    with pytest.raises(SpecError, match=r"^<spec>: none\[0\]: AdaptiveAvgPool2d: output_size must be an int or a"):
        loads_spec('format = 1\nframework = "torch"\ntype = "AdaptiveAvgPool2d"\nnone = ["output_size"]\n')
    net = nn.Threshold(None, 4)
    text = dump_spec(net)
    assert text == (
        'format = 1\nframework = "torch"\ntype = "Threshold"\nkwargs = { value = 4 }\nnone = ["threshold"]\n'
    )
    assert loads_spec(text)[0] == net


def test_dump_spec_cannot_write_none_inside_an_array() -> None:
    # TOML has no null: (None, 7), which a JSON spec can give, cannot be written
    with pytest.raises(SpecError) as caught:
        dump_spec(nn.AdaptiveAvgPool2d((None, 7)))
    assert str(caught.value) == (
        "AdaptiveAvgPool2d: cannot write output_size=(None, 7) to a spec: TOML has no null inside an array (a "
        "spec lists an argument that is None as a whole in `none`). Received: output_size=(None, 7)"
    )


def test_an_argument_given_as_none_is_positioned_in_none() -> None:
    """A message about an argument listed in ``none`` pointed at ``kwargs.<name>``, a key the file does not
    hold."""
    text = 'input = [1, 3, 8, 8]\n[[layers]]\ntype = "ReLU"\n[[layers]]\ntype = "Conv2d"\nargs = [3, 4]\n'
    assert _message(text + 'none = ["kernel_size"]\n', syntax="toml") == (
        "<spec>: layers[1].none[0]: Conv2d: kernel_size must be an integer. Received: kernel_size=None"
    )
    text = 'input = [1, 3, 8, 8]\n[[layers]]\ntype = "Conv2d"\nargs = [3, 4, 3]\nkwargs = { stride = 0 }\n'
    assert _message(text + 'none = ["padding"]\n', syntax="toml") == (
        "<spec>: layers[0].kwargs.stride: Conv2d: stride must be at least 1. Received: stride=0"
    )
