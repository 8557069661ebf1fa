"""Spec files: the good samples load and plan, models round-trip, and every broken file is a SpecError
that names the file and the position, never another exception."""

from __future__ import annotations

import contextlib
import json
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import SpecError, nn
from convcalc import keras as K
from convcalc.specfile import dump_spec, load_spec, loads_spec

SPECS = Path(__file__).parent / "specs"
BROKEN = SPECS / "broken"
GOOD = sorted(p for p in SPECS.iterdir() if p.is_file())

# --------------------------------------------------------------------------- #
# Good files
# --------------------------------------------------------------------------- #

EXPECTED = {
    "seed003_cnn.toml": ((1, 5, 12, 12), 130),
    "mnist.toml": ((1, 10), 619786),
    "mnist.json": ((1, 10), 619786),
    "mnist.yaml": ((1, 10), 619786),
    "resnet_stage.toml": ((1, 10), 14650),
    "keras_mnist.toml": ((1, 10), 148060),
}


def test_every_sample_is_listed() -> None:
    assert {p.name for p in GOOD} == {*EXPECTED, "unet_tiny.toml"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_samples_plan_to_known_numbers(name: str) -> None:
    model, shape = load_spec(SPECS / name)
    result = convcalc.plan(model, shape)
    assert (result.output_shape, result.total_params) == EXPECTED[name]


def test_three_syntaxes_give_the_same_model() -> None:
    models = [load_spec(SPECS / f"mnist.{ext}") for ext in ("toml", "json", "yaml")]
    assert models[0] == models[1] == models[2]


def test_seed003_names_and_shapes() -> None:
    model, shape = load_spec(SPECS / "seed003_cnn.toml")
    rows = convcalc.plan(model, shape).rows
    assert [(r.name, r.output_shape) for r in rows] == [("conv1", (1, 5, 24, 24)), ("pool", (1, 5, 12, 12))]


def test_repeat_names_copies_with_their_index() -> None:
    model, shape = load_spec(SPECS / "resnet_stage.toml")
    names = [name for name, _ in model.children()]
    assert names == ["stem", "bn", "relu", "block0", "relu0", "block1", "relu1", "block2", "relu2", "head"]
    rows = {r.name for r in convcalc.plan(model, shape).rows}
    assert {"block1.main.0", "block1.identity", "head.2"} <= rows


def test_symbolic_input_and_solving() -> None:
    model, shape = load_spec(SPECS / "unet_tiny.toml")
    assert [str(d) for d in shape] == ["1", "1", "H", "H"]
    result = convcalc.plan(model, shape, strict=True)
    solution = result.valid_sizes()
    assert str(solution) == "H >= 18 and H ≡ 0 (mod 2)"
    assert result.inputs_for(20) == [36]
    assert convcalc.plan(model, (1, 1, 36, 36)).output_shape == (1, 2, 20, 20)


def test_keras_unnamed_layers_get_keras_names_per_file() -> None:
    first, _ = load_spec(SPECS / "keras_mnist.toml")
    second, _ = load_spec(SPECS / "keras_mnist.toml")
    names = [layer.name for layer in first.layers]
    assert names == ["conv2d", "batch_normalization", "max_pooling2d", "flatten", "logits"]
    assert names == [layer.name for layer in second.layers]
    assert first.name == "mnist_keras"
    assert convcalc.plan(first).output_shape == (1, 10)  # the file's input becomes the model's Input


def test_branches_as_plain_lists_in_json() -> None:
    text = json.dumps(
        {
            "input": [1, 8, 16, 16],
            "layers": [
                {
                    "type": "Add",
                    "branches": [
                        [{"type": "Conv2d", "args": [8, 8, 3], "kwargs": {"padding": 1}}],
                        [{"type": "Identity"}],
                    ],
                },
                {"type": "BatchNorm2d", "args": [8], "kwargs": {"momentum": None}},
            ],
        }
    )
    model, shape = loads_spec(text, syntax="json")
    assert model[0] == nn.Add(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1)), nn.Sequential(nn.Identity()))
    assert model[1].momentum is None
    assert convcalc.plan(model, shape).output_shape == (1, 8, 16, 16)


def test_top_level_may_be_a_single_layer() -> None:
    model, _ = loads_spec('type = "Conv2d"\nargs = [1, 8, 3]\nkwargs = { stride = 2 }\n')
    assert model == nn.Conv2d(1, 8, 3, stride=2)


# --------------------------------------------------------------------------- #
# Round trips
# --------------------------------------------------------------------------- #


def _models() -> list[tuple[str, object, tuple[int, ...]]]:
    branchy = nn.Sequential(
        OrderedDict(
            stem=nn.Conv2d(3, 16, (3, 5), stride=(1, 2), padding=(1, 2), bias=False),
            bn=nn.BatchNorm2d(16, momentum=None, eps=1e-3),
            act=nn.LeakyReLU(0.2),
            res=nn.Add(
                OrderedDict(main=nn.Sequential(nn.Conv2d(16, 16, 3, padding="same"), nn.GELU()), skip=nn.Identity())
            ),
            cat=nn.Concat(nn.Conv2d(16, 4, 1), nn.Sequential(), nn.MaxPool2d(3, 1, 1)),
            up=nn.Upsample(scale_factor=2.0, mode="bilinear"),
            head=nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(0.25), nn.Linear(36, 10)),
        )
    )
    return [
        ("single layer", nn.Conv2d(1, 5, 5), (1, 1, 28, 28)),
        ("add root", nn.Add(nn.Conv2d(4, 4, 3, padding=1), nn.Identity()), (1, 4, 8, 8)),
        ("empty", nn.Sequential(), (1, 3, 4, 4)),
        ("branchy", branchy, (1, 3, 32, 64)),
        ("1d and 3d", nn.Sequential(nn.Conv1d(2, 4, 3, dilation=2), nn.MaxPool1d(2, ceil_mode=True)), (1, 2, 30)),
        ("transposed", nn.Sequential(nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)), (1, 8, 5, 5)),
        (
            "names with odd characters",
            nn.Sequential(OrderedDict([("conv 1", nn.Conv2d(1, 2, 3)), ("ä", nn.ReLU())])),
            (1, 1, 9, 9),
        ),
    ]


@pytest.mark.parametrize(("label", "model", "shape"), _models(), ids=[m[0] for m in _models()])
def test_round_trip(label: str, model: object, shape: tuple[int, ...]) -> None:
    text = dump_spec(model, shape)
    loaded, loaded_shape = loads_spec(text)
    assert loaded == model
    assert loaded_shape == shape
    assert dump_spec(loaded, loaded_shape) == text
    assert convcalc.plan(loaded, shape).rows == convcalc.plan(model, shape).rows


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    for source in GOOD:
        model, shape = load_spec(source)
        target = tmp_path / (source.stem + ".toml")
        target.write_text(dump_spec(model, shape), encoding="utf-8")
        again, again_shape = load_spec(target)
        assert dump_spec(again, again_shape) == dump_spec(model, shape)
        if shape is not None and all(type(d) is int for d in shape):
            assert convcalc.plan(again, again_shape).rows == convcalc.plan(model, shape).rows


def test_keras_round_trip_keeps_names_and_input() -> None:
    model = K.Sequential(
        [
            K.Input((28, 28, 1)),
            K.Conv2D(8, 3, strides=2, padding="same", name="c"),
            K.BatchNormalization(name="bn"),
            K.Flatten(name="f"),
            K.Dense(10, name="out"),
        ],
        name="tiny",
    )
    text = dump_spec(model)
    assert 'framework = "keras"' in text
    assert "input = [1, 28, 28, 1]" in text
    loaded, shape = loads_spec(text)
    assert [layer.name for layer in loaded.layers] == ["c", "bn", "f", "out"]
    assert loaded.name == "tiny"
    assert shape == (1, 28, 28, 1)
    assert convcalc.plan(loaded).rows == convcalc.plan(model).rows
    single = K.Dense(10, name="out")
    assert loads_spec(dump_spec(single))[0] == single


def test_symbolic_shape_round_trips() -> None:
    H, W = convcalc.symbols("H W")
    text = dump_spec(nn.Conv2d(3, 8, 3), (1, 3, H, W))
    assert 'input = [1, 3, "H", "W"]' in text
    _, shape = loads_spec(text)
    assert shape == (1, 3, H, W)


def test_zoo_models_round_trip() -> None:
    zoo = pytest.importorskip("convcalc.zoo")
    for name in sorted(zoo.MODELS):
        model = zoo.get(name)
        shape = zoo.INPUT_SHAPES.get(name)
        loaded, _ = loads_spec(dump_spec(model, shape), source=name)
        if isinstance(model, nn.Module):
            assert loaded == model, name
        assert convcalc.plan(loaded, shape).rows == convcalc.plan(model, shape).rows, name


def test_dump_refuses_what_it_cannot_write() -> None:
    with pytest.raises(SpecError, match=r"dump_spec takes a convcalc\.nn or convcalc\.keras model"):
        dump_spec({"layers": []})
    with pytest.raises(SpecError, match="input_shape entries must be ints of at least 1 or symbols"):
        dump_spec(nn.ReLU(), (1, 2.5))


# --------------------------------------------------------------------------- #
# Broken files
# --------------------------------------------------------------------------- #

# Each broken file and the position its message must name.
BROKEN_POSITIONS = {
    "add_with_args.toml": "layers[0].args:",
    "add_without_branches.toml": "layers[0]:",
    "args_not_array.toml": "layers[0].args:",
    "bad_branch.toml": "layers[0].branches[0]:",
    "bad_format.toml": "format:",
    "bad_framework.toml": "framework:",
    "bad_input.toml": "input[1]:",
    "bad_input_symbol.toml": "input[2]:",
    "bad_padding_string.toml": "layers[0].kwargs.padding:",
    "bool_channels.toml": "layers[0].args[0]:",
    "concat_bad_kwarg.toml": "layers[0].kwargs.axis:",
    "date_value.toml": "layers[0].kwargs.stride:",
    "dotted_name.toml": "layers[0].name:",
    "duplicate_key.json": "duplicate key 'layers'",
    "duplicate_names.toml": "layers[1].name:",
    "empty.toml": "<top level>:",
    "float_channels.toml": "layers[0].args[0]:",
    "hostile_python_name.yaml": "line 1, column 8:",
    "hostile_python_new.yaml": "line 3, column 11:",
    "hostile_python_object.yaml": "line 4, column 5:",
    "keras_bad_padding.toml": "layers[0].kwargs.padding:",
    "keras_input_not_first.toml": "layers[1].type:",
    "keras_name_in_kwargs.toml": "layers[0].kwargs.name:",
    "keras_type_in_torch.toml": "layers[0].type:",
    "kwargs_not_table.toml": "layers[0].kwargs:",
    "layer_not_table.json": "layers[1]:",
    "layers_on_leaf.toml": "layers[0].layers:",
    "missing_argument.toml": "layers[0]:",
    "missing_type.toml": "layers[2]:",
    "nan_stride.toml": "layers[0].kwargs.stride:",
    "negative_kernel.toml": "layers[0].args[2]:",
    "no_layers.toml": "<top level>:",
    "none_conflict.toml": "layers[0].none[0]:",
    "not_utf8.toml": "byte 12:",
    "repeat_same_names.toml": "layers[0].layers[0].name:",
    "repeat_times_zero.toml": "layers[0].times:",
    "repeat_too_many.toml": "more than 20000 layers",
    "same_with_stride.toml": "layers[1].kwargs.padding:",
    "syntax_json.json": "line 3, column 51: JSON syntax error",
    "syntax_toml.toml": "line 3, column 15: TOML syntax error",
    "syntax_yaml.yaml": "line 4, column 3: YAML error",
    "table_value.toml": "layers[0].kwargs.stride:",
    "too_many_args.toml": "layers[0].args[1]:",
    "top_level_array.json": "<top level>:",
    "twice_given.toml": "layers[0].kwargs.kernel_size:",
    "type_not_string.toml": "layers[0].type:",
    "unknown_kwarg.toml": "layers[0].kwargs.paddin: Conv2d has no argument 'paddin'; did you mean 'padding'?",
    "unknown_top_key.toml": "layer: unknown key 'layer'; did you mean 'layers'?",
    "unknown_type.toml": "layers[1].type: unknown layer type 'Conv2D' for framework 'torch'; did you mean 'Conv2d'?",
    "wrong_suffix.txt": "unknown spec file type '.txt'",
    "yaml_alias_bomb.yaml": "more than 20000 layers",
    "yaml_int_key.yaml": "layers[0]: keys must be strings",
    "yaml_recursive.yaml": "an alias is used inside its own anchor",
}


def test_every_broken_file_is_listed() -> None:
    assert {p.name for p in BROKEN.iterdir()} == set(BROKEN_POSITIONS)


@pytest.mark.parametrize("name", sorted(BROKEN_POSITIONS))
def test_broken_file_names_file_and_position(name: str) -> None:
    path = BROKEN / name
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert type(info.value) is SpecError
    assert message.startswith(f"{path}: "), message
    assert BROKEN_POSITIONS[name] in message, message
    assert "\n" not in message
    assert len(message) < 600


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nothing\.toml: cannot read the file"):
        load_spec(tmp_path / "nothing.toml")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)


def test_hostile_yaml_is_refused_and_never_run(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'layers:\n  - !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    with pytest.raises(SpecError, match="could not determine a constructor"):
        load_spec(spec)
    assert not marker.exists()


def test_deep_json_is_a_spec_error() -> None:
    with pytest.raises(SpecError):
        loads_spec("[" * 100_000 + "]" * 100_000, syntax="json")
    nested: dict[str, object] = {"type": "ReLU"}
    for _ in range(100):
        nested = {"type": "Sequential", "layers": [nested]}
    with pytest.raises(SpecError, match="nest more than 64 deep"):
        loads_spec(json.dumps({"layers": [nested]}), syntax="json")


def test_unknown_syntax_and_non_text() -> None:
    with pytest.raises(SpecError, match="unknown syntax 'xml'"):
        loads_spec("<model/>", syntax="xml")
    with pytest.raises(SpecError, match="spec text must be a str"):
        loads_spec(b"layers = []")  # type: ignore[arg-type]


def _mutations(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        j = rng.randrange(len(chars) + 1)
        if op < 0.35 and chars:
            del chars[min(j, len(chars) - 1)]
        elif op < 0.7:
            chars.insert(j, rng.choice('[]{}",=:.-01239xaZ_ \n#!&*'))
        elif chars:
            k = rng.randrange(len(chars))
            chars[k], chars[min(j, len(chars) - 1)] = chars[min(j, len(chars) - 1)], chars[k]
    return "".join(chars)


@pytest.mark.parametrize(
    "source", ["mnist.toml", "mnist.json", "mnist.yaml", "resnet_stage.toml", "keras_mnist.toml", "unet_tiny.toml"]
)
def test_mutated_files_fail_only_with_spec_errors(source: str) -> None:
    """Random edits of good files: each either loads or raises SpecError, nothing else."""
    path = SPECS / source
    syntax = {".toml": "toml", ".json": "json", ".yaml": "yaml"}[path.suffix]
    if syntax == "yaml":
        pytest.importorskip("yaml")
    text = path.read_text(encoding="utf-8")
    rng = random.Random(source)
    failures = 0
    messages: list[str] = []
    for _ in range(300):
        try:
            loads_spec(_mutations(text, rng), syntax=syntax, source=source)
        except SpecError as exc:
            failures += 1
            messages.append(str(exc))
    assert failures > 0
    assert all(m.startswith(f"{source}: ") for m in messages)


def test_structural_fuzz_fails_only_with_spec_errors() -> None:
    """Well-formed JSON with wrong values in every slot."""
    rng = random.Random(7)
    values: list[object] = [
        None,
        True,
        -1,
        0,
        3,
        2.5,
        float("inf"),
        "same",
        "",
        "H",
        [],
        [1, 2],
        [[1]],
        {},
        {"type": "ReLU"},
    ]
    slots = ["type", "name", "args", "kwargs", "none", "layers", "branches", "times", "description", "bogus"]
    for _ in range(2000):
        layer: dict[str, object] = {
            "type": rng.choice(["Conv2d", "Add", "Concat", "Sequential", "repeat", "Linear", "ReLU", "MaxPool2d"])
        }
        for slot in rng.sample(slots, rng.randint(0, 4)):
            layer[slot] = rng.choice(values)
        top: dict[str, object] = {"layers": [layer]}
        if rng.random() < 0.3:
            top[rng.choice(["input", "format", "framework", "name", "type"])] = rng.choice(values)
        with contextlib.suppress(SpecError):
            loads_spec(json.dumps(top), syntax="json")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load_spec(None), r"load_spec takes a path \(a str or a pathlib.Path\)"),
        (lambda: load_spec(b"x.toml"), r"Received: path=bytes"),
        (lambda: load_spec("a\x00b.toml"), "a path cannot hold a NUL character"),
        (lambda: load_spec("a" * 5000 + ".toml"), "cannot read the file"),
        (lambda: loads_spec("input = [1, 1, 1" + "0" * 5000 + ", 8]\n"), "TOML error: Exceeds the limit"),
        (
            lambda: loads_spec("layers: [{type: Conv2d, args: &a [1, 8, *a]}]\n", syntax="yaml"),
            "an alias is used inside its own anchor",
        ),
    ],
)
def test_paths_and_texts_no_spec_can_be_are_spec_errors(call: Any, message: str) -> None:
    """TypeError from pathlib, ValueError from tomllib, RecursionError from a YAML list holding itself escaped."""
    pytest.importorskip("yaml")
    with pytest.raises(convcalc.SpecError, match=message):
        call()


def test_a_yaml_file_of_aliases_of_aliases_is_read_once_per_alias() -> None:
    """Each alias used many times is walked once: ten levels of ten aliases (10**10 items) took minutes."""
    pytest.importorskip("yaml")
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    with pytest.raises(convcalc.SpecError, match="unknown key 'a0'"):
        loads_spec("\n".join([*lines, "layers: [{type: ReLU}]"]), syntax="yaml")


def test_a_path_like_object_is_a_path(tmp_path: Path) -> None:
    from pathlib import PurePosixPath

    spec = tmp_path / "net.toml"
    spec.write_text('input = [1, 2]\n[[layers]]\ntype = "ReLU"\n')
    model, shape = load_spec(PurePosixPath(str(spec)))
    assert convcalc.plan(model, shape).output_shape == (1, 2)


def test_what_dump_spec_writes_loads_back_or_is_refused() -> None:
    """A layer named with a DEL character was written unescaped (not TOML); an input of 0, -1 or a symbol named
    "a b" was written and then refused by the loader."""
    import sympy

    model = nn.Sequential(OrderedDict([("\x7f", nn.ReLU())]))
    assert loads_spec(dump_spec(model, (1, 3)))[0] == model
    for shape in [(0, 1, 8, 8), (1, -1), (1, 1, sympy.Symbol("a b"), 8)]:
        with pytest.raises(SpecError, match="input_shape entries must be ints of at least 1"):
            dump_spec(nn.Conv2d(1, 2, 3), shape)


def test_yaml_reads_an_exponent_without_a_dot_as_a_number() -> None:
    """``eps: 1e-5`` is a float, as in JSON and Python (YAML 1.1 read it as the string '1e-5', which a
    BatchNorm2d took and torch could not run); a word that only starts like a number stays a string."""
    text = (
        "input: [2, 3, 8, 8]\nlayers:\n"
        "  - {type: BatchNorm2d, args: [3], kwargs: {eps: 1e-5, momentum: 5E-2}}\n"
        "  - {type: Dropout, kwargs: {p: 25e-2}}\n"
        "  - {type: Upsample, kwargs: {scale_factor: 2e0}}\n"
    )
    model, shape = loads_spec(text, syntax="yaml")
    assert (model[0].eps, model[0].momentum, model[1].p, model[2].scale_factor) == (1e-5, 0.05, 0.25, 2.0)
    assert convcalc.plan(model, shape).output_shape == (2, 3, 16, 16)
    with pytest.raises(SpecError, match="12e"):
        loads_spec("input: [1, 3, 8, 8]\nlayers:\n  - {type: Dropout, kwargs: {p: 12e}}\n", syntax="yaml")
