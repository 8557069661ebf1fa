"""Model code written the way large libraries write it (Hugging Face's transformers, as of its version 5): a
forward behind a ``functools.wraps`` wrapper that takes ``(self, *args, **kwargs)``, a class that wraps the
forward of every subclass in ``__init_subclass__``, outputs returned as a dataclass that is a dict and read by
position and by attribute, a config object the forward sets, ``**kwargs`` handed down with ``None`` values, and
inputs whose names say they are integers. Each written here by hand, as those libraries write it, and checked
against torch running the same code."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import OrderedDict
from typing import Any, ClassVar

import pytest

torch = pytest.importorskip("torch")

import convcalc  # noqa: E402
from tests.torch_shapes import output_shapes  # noqa: E402

nn = torch.nn


class ModelOutput(OrderedDict):  # type: ignore[type-arg]
    """transformers' ``ModelOutput``: a dataclass and an ordered dict of the fields that hold a value, read by key,
    by attribute, and by position among those fields (``outputs[0]``, ``outputs[1:]``)."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if value is not None:
                self[field.name] = value

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self[k] for k in self.keys())


@dataclasses.dataclass
class EncoderOutput(ModelOutput):
    last_hidden_state: Any = None
    pooler_output: Any = None
    hidden_states: Any = None


@dataclasses.dataclass
class ClassifierOutput(ModelOutput):
    loss: Any = None
    logits: Any = None
    attentions: Any = None


class Config:
    """A settings object a forward reads and sets (transformers' ``PretrainedConfig``)."""

    def __init__(self, **settings: Any) -> None:
        self.problem_type: str | None = None
        self.use_cache = True
        self.debug = False
        self.__dict__.update(settings)


def merged_with_config(func: Any) -> Any:
    """transformers' ``merge_with_config_defaults``: ``(self, *args, **kwargs)`` around the forward, reading and
    setting keywords, and the config."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("use_cache") is None:
            kwargs["use_cache"] = self.config.use_cache
        if kwargs.get("debug_io", False):  # (a traced kwargs took this branch, and wrote into the model)
            for module in self.modules():
                module.forward = module.forward
        return func(self, *args, **kwargs)

    return wrapper


class CheckpointingLayer(nn.Module):
    """transformers' ``GradientCheckpointingLayer``: every subclass's forward wrapped when the class is made."""

    gradient_checkpointing = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.forward

        @functools.wraps(forward)
        def forward_with_checkpointing(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.gradient_checkpointing and self.training:
                kwargs["use_cache"] = False
            return forward(self, *args, **kwargs)

        cls.forward = forward_with_checkpointing  # type: ignore[method-assign]


class Layer(CheckpointingLayer):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.attn = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.norm = nn.LayerNorm(d)

    def forward(self, hidden: Any, mask: Any = None, *, cache: Any = None, **kwargs: Any) -> Any:
        scores = hidden @ self.attn(hidden).transpose(-1, -2)
        if mask is not None:
            scores = scores + mask[:, None, :]
        hidden = hidden + scores.softmax(-1) @ hidden
        return self.norm(hidden + self.mlp(hidden))


class Encoder(nn.Module):
    def __init__(self, d: int = 16, vocab: int = 50, positions: int = 24) -> None:
        super().__init__()
        self.config = Config()
        self.words = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(positions, d)
        self.layers = nn.ModuleList([Layer(d), Layer(d)])
        self.pool = nn.Linear(d, d)

    @merged_with_config
    def forward(
        self,
        input_ids: Any = None,
        attention_mask: Any = None,
        position_ids: Any = None,
        *,
        output_hidden_states: bool = False,
        **kwargs: Any,
    ) -> Any:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1])[None]
        hidden = self.words(input_ids) + self.positions(position_ids)
        states = [hidden]
        for layer in self.layers:
            hidden = layer(hidden, attention_mask, position_ids=None, **kwargs)
            states.append(hidden)
        return EncoderOutput(
            last_hidden_state=hidden,
            pooler_output=self.pool(hidden[:, 0]).tanh(),
            hidden_states=tuple(states) if output_hidden_states else None,
        )


class Classifier(nn.Module):
    def __init__(self, labels: int = 3) -> None:
        super().__init__()
        self.config = Config()
        self.encoder = Encoder()
        self.head = nn.Linear(16, labels)

    @merged_with_config
    def forward(self, input_ids: Any = None, labels: Any = None, **kwargs: Any) -> Any:
        outputs = self.encoder(input_ids, **kwargs)
        logits = self.head(outputs[1])  # the pooled output, by position
        loss = None
        if labels is not None:
            if labels.dtype in (torch.long, torch.int):  # transformers picks its loss by the labels' dtype
                self.config.problem_type = "single_label_classification"
                loss = nn.functional.cross_entropy(logits, labels)
            else:
                self.config.problem_type = "multi_label_classification"
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
        return ClassifierOutput(loss=loss, logits=logits, attentions=outputs.hidden_states)  # (a field left out)


def _outputs(model: Any, shapes: dict[str, tuple[int, ...]]) -> Any:
    inputs = {
        k: torch.zeros(s, dtype=torch.long) if k.endswith("_ids") or k == "labels" else torch.zeros(s)
        for k, s in shapes.items()
    }
    with torch.no_grad():
        return output_shapes(model(**inputs))


def _state(model: Any) -> Any:
    return (
        [name for name, m in model.named_modules() if "forward" in vars(m)],
        [dict(vars(m.config)) for m in model.modules() if hasattr(m, "config")],
    )


@pytest.mark.parametrize(
    "shapes",
    [{"input_ids": (2, 7)}, {"input_ids": (2, 7), "labels": (2,)}, {"input_ids": (3, 5), "attention_mask": (3, 5)}],
    ids=["ids", "labels", "mask"],
)
def test_a_library_style_model_is_read_exactly_and_left_as_it_was(shapes: dict[str, tuple[int, ...]]) -> None:
    """A forward behind a ``(self, *args, **kwargs)`` wrapper was traced with the wrapper's own code rewritten by
    fx (its ``kwargs`` took a traced input's place: the debug branch ran, and wrote a ``forward`` into every
    module), a ModelOutput read by position was refused, and float labels took the other loss: read exactly now,
    with torch's shapes and counts, and the model and its config as they were."""
    model = Classifier().eval() if "labels" in shapes else Encoder().eval()
    before = _state(model)
    plan = convcalc.plan(model, shapes)
    assert _state(model) == before
    assert not plan.fallback_rows
    expected = _outputs(model, shapes)
    assert plan.output_shapes == (expected if isinstance(expected, dict) else expected[0])
    assert plan.total_params == sum(p.numel() for p in model.parameters())


def test_a_library_style_model_is_read_with_symbols() -> None:
    """The same model at a symbolic length: its position table bounds it, as torch's IndexError does."""
    B, T = convcalc.symbols("B T")
    plan = convcalc.plan(Encoder().eval(), {"input_ids": (B, T)})
    assert plan.output_shapes["last_hidden_state"] == (B, T, 16)
    assert str(plan.valid_sizes(T)) == "1 <= T <= 24"
    for length in (24, 25):
        runs = length <= 24
        try:
            _outputs(Encoder().eval(), {"input_ids": (2, length)})
        except IndexError:
            assert not runs
        else:
            assert runs


def test_inputs_named_as_integers_are_integers_where_torch_runs_the_forward() -> None:
    """A forward torch's pass runs (here: it converts its input with ``int()`` of a value) takes ``labels`` and
    ``*_ids`` as integers: a gather of position ids given as floats was refused, and float labels took the
    multi-label loss."""

    class Indexed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Embedding(10, 4)

        def forward(self, input_ids: Any, position_ids: Any) -> Any:
            lengths = {input_ids.shape[1]}  # (a traced size in a set: fx cannot read it, torch's pass runs it)
            gathered = torch.gather(input_ids, 1, position_ids)
            return self.table(gathered).sum(1) * len(lengths)

    model = Indexed().eval()
    plan = convcalc.plan(model, {"input_ids": (2, 6), "position_ids": (2, 6)})
    assert plan.fallback_rows
    assert plan.output_shape == _outputs(model, {"input_ids": (2, 6), "position_ids": (2, 6)}) == (2, 4)


def test_verify_gives_each_input_the_dtype_its_name_says() -> None:
    """``input_features`` beside ``decoder_input_ids`` (a speech model's encoder and decoder): verify ran both as
    floats, then both as integers, and reported torch's refusal of a long input to a convolution."""

    class SpeechToText(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(8, 16, 3, padding=1)
            self.tokens = nn.Embedding(30, 16)

        def forward(self, input_features: Any, decoder_input_ids: Any) -> Any:
            memory = self.conv(input_features).mean(-1)
            return self.tokens(decoder_input_ids) + memory[:, None]

    report = convcalc.verify(SpeechToText(), {"input_features": (2, 8, 10), "decoder_input_ids": (2, 5)}, device="cpu")
    assert report.ok, str(report)


# --- what such code does beside: each against torch ------------------------------------------------------------------


def _agrees(model: Any, inputs: Any) -> convcalc.Plan:
    """The plan's output shapes are torch's for the same inputs (zeros; integers where the name says so)."""
    model.eval()
    expected = _outputs(model, inputs) if isinstance(inputs, dict) else output_shapes(model(torch.zeros(inputs)))
    plan = convcalc.plan(model, inputs)
    assert plan.output_shapes == (expected if isinstance(expected, dict) else (expected,))
    return plan


class _Takes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(5, 5)

    def forward(self, x: Any, **kwargs: Any) -> Any:
        return self.proj(x).sum(dim=kwargs.get("dim", 1))  # a key given None is in kwargs: sum(dim=None)


class _Gives(nn.Module):
    def __init__(self, **keywords: Any) -> None:
        super().__init__()
        self.child, self.keywords = _Takes(), keywords

    def forward(self, x: Any) -> Any:
        return self.child(x, **self.keywords)


@pytest.mark.parametrize("keywords", [{"dim": None}, {"dim": 2}, {}], ids=["None", "two", "none-given"])
def test_a_keyword_given_to_kwargs_is_read_as_given(keywords: dict[str, Any]) -> None:
    """A keyword handed to ``**kwargs`` with the value None is in ``kwargs`` all the same (``kwargs.get("dim", 1)``
    is None): it was read as left out."""
    _agrees(_Gives(**keywords), (2, 3, 5))


def test_keywords_to_kwargs_given_otherwise_by_a_later_plan_are_read_again() -> None:
    """A child read with ``dim=None`` in its ``kwargs`` and then given nothing (or a value): each plan as torch."""
    child = _Takes().eval()
    for keywords in ({"dim": None}, {}, {"dim": 2}, {"dim": None}):
        model = _Gives(**keywords).eval()
        model.child = child  # the same module, read under each call
        _agrees(model, (2, 3, 5))


class _Settings:
    def __init__(self) -> None:
        self.short = False


class _Reads(nn.Module):
    def __init__(self, settings: _Settings) -> None:
        super().__init__()
        self.settings, self.proj = settings, nn.Linear(5, 5)

    def forward(self, x: Any) -> Any:
        return self.proj(x)[:, :1] if self.settings.short else self.proj(x)


class _Sets(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.settings = _Settings()
        self.child = _Reads(self.settings)

    def forward(self, x: Any) -> Any:
        self.settings.short = True  # the child holds the same object, and reads it after
        return self.child(x)


def test_settings_a_forward_sets_are_seen_by_the_modules_sharing_them_and_put_back() -> None:
    """A config the parent sets and a child holding the same object reads: the child sees the change (a copy per
    module did not, and the children are read each on its own: torch's pass runs such a forward), and the user's
    object is as it was after the plan."""
    model = _Sets()
    plan = convcalc.plan(model, (2, 3, 5))
    assert not model.settings.short
    assert plan.output_shape == tuple(model(torch.zeros(2, 3, 5)).shape) == (2, 1, 5)
    assert plan.fallback_rows  # (torch's pass runs the two, in order, on copies)


def test_a_module_holding_what_no_copy_can_be_made_of_is_read() -> None:
    model = _Reads(_Settings())
    with open(__file__) as log:
        model.log = log  # type: ignore[assignment]
        _agrees(model, (2, 3, 5))


class _State:
    def __init__(self) -> None:
        self.last = torch.zeros(3)


class _Remembers(nn.Module):
    """A forward that keeps its last output on an object it holds (a tensor, compared with a traced one)."""

    def __init__(self) -> None:
        super().__init__()
        self.state, self.proj = _State(), nn.Linear(3, 3)

    def forward(self, x: Any) -> Any:
        y = self.proj(x)
        self.state.last = y.detach()
        return y


def test_an_object_a_forward_keeps_tensors_in_is_put_back() -> None:
    model = _Remembers().eval()
    kept = model.state.last
    plan = convcalc.plan(model, (2, 3))
    assert model.state.last is kept  # (torch's own run sets it, below)
    assert plan.output_shape == tuple(model(torch.zeros(2, 3)).shape)
    assert not plan.fallback_rows


class _LabelsView(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(4, 3)

    def forward(self, x: Any, labels: Any) -> Any:
        first = labels[:, :1].to(x.device)  # a view and a move keep the labels' dtype
        y = self.head(x)
        return y if first.dtype == torch.long else y[:, :1]


def test_a_view_of_an_input_named_as_integers_is_integers() -> None:
    _agrees(_LabelsView(), {"x": (2, 4), "labels": (2, 3)})


def _add_batch(forward: Any) -> Any:
    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:  # a batch axis for inputs given by position only
        return forward(self, *(a[None] for a in args), **kwargs)

    return wrapper


class _Batched(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    @_add_batch
    def forward(self, x: Any, *, scale: float = 1.0) -> Any:
        return self.proj(x) * scale


def test_a_wrapper_sees_the_inputs_as_torch_gives_them() -> None:
    """The stand-in forward gave every input to the wrapper by name, so a wrapper of the positional ones never saw
    it: torch gives ``(1, 3, 4)``, and the plan said ``(3, 4)``."""
    _agrees(_Batched(), (3, 4))


def _returns_tuple(func: Any) -> Any:  # an inner wrapper of (self, *args, **kwargs), as transformers stacks them
    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return func(self, *args, **kwargs)

    return wrapper


def _config_defaults(func: Any) -> Any:
    """transformers' ``merge_with_config_defaults``: finds ``use_cache`` among the positional inputs by the
    function it wraps (an inner wrapper has none), else sets it by name."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        index = func.__code__.co_varnames.index("use_cache") - 1 if "use_cache" in func.__code__.co_varnames else None
        if index is not None and len(args) > index:
            args = (*args[:index], True, *args[index + 1 :])
        else:
            kwargs["use_cache"] = kwargs.get("use_cache") or True
        return func(self, *args, **kwargs)

    return wrapper


class _Stacked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    @_config_defaults
    @_returns_tuple
    def forward(self, x: Any, mask: Any = None, use_cache: Any = None, **kwargs: Any) -> Any:
        return self.proj(x) if use_cache else x


def test_optional_inputs_reach_stacked_wrappers_by_name() -> None:
    """An optional input given by position reached transformers' stacked wrappers twice (by position, and by the
    name the outer wrapper sets): "got multiple values for argument 'use_cache'"."""
    plan = _agrees(_Stacked(), (2, 4))
    assert not plan.fallback_rows


class _Registered(nn.Module):
    registry: ClassVar[list[type]] = []

    def __init_subclass__(cls, kind: str, **kwargs: Any) -> None:  # a required class keyword, and a registry
        super().__init_subclass__(**kwargs)
        _Registered.registry.append(cls)


class _Features(_Registered, kind="features"):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.forward = self.features  # type: ignore[method-assign]

    def features(self, x: Any) -> Any:
        return self.proj(x)[:, :1]

    def forward(self, x: Any) -> Any:  # type: ignore[no-redef]
        return self.proj(x)


def test_a_stand_in_class_runs_none_of_the_users_init_subclass() -> None:
    """convcalc's stand-in of a class (a forward set to another method, a forward behind a wrapper) ran the
    class's ``__init_subclass__``: a registry took the stand-in, and a required class keyword refused the model."""
    registered = list(_Registered.registry)
    _agrees(_Features(), (2, 3, 4))
    assert _Registered.registry == registered


def test_a_method_patched_on_the_class_after_a_plan_is_read_again() -> None:
    model = _Features()
    _agrees(model, (2, 3, 4))
    original = _Features.features
    try:
        _Features.features = lambda self, x: self.proj(x)[:, :2]  # type: ignore[method-assign]
        model.forward = model.features  # type: ignore[method-assign]
        _agrees(model, (2, 3, 4))
    finally:
        _Features.features = original  # type: ignore[method-assign]


class _LoggingBlock(torch.nn.Module):
    """diffusers' cross-attention blocks: a deprecation logged where an optional dict is given with a key."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x: Any, options: Any = None) -> Any:
        if options is not None and options.get("scale", None) is not None:
            logging.getLogger("tests.library").warning("Passing `scale` in `options` is deprecated.")
        return self.proj(x)


class _LoggingUNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList([_LoggingBlock(), _LoggingBlock()])

    def forward(self, x: Any, options: Any = None) -> Any:
        for block in self.blocks:
            x = block(x, options=options)
        return x


def test_a_read_logs_nothing_the_forward_would_not(caplog: pytest.LogCaptureFixture) -> None:
    """A block read before its calls are known is traced with its optional inputs as traced values: a plan of
    diffusers' UNet logged "Passing `scale` to `cross_attention_kwargs` is deprecated" two dozen times, never
    asked for. The read's log records are dropped; the caller's logging works as before after it."""
    model = _LoggingUNet()
    with caplog.at_level(logging.WARNING):
        plan = convcalc.plan(model, (2, 3, 4))
        assert plan.output_shape == tuple(model(torch.randn(2, 3, 4)).shape)
        assert caplog.records == []
        logging.getLogger("tests.library").warning("after")
    assert [r.getMessage() for r in caplog.records] == ["after"]


def test_reads_in_two_threads_leave_logging_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    """Two reads whose times overlap (A starts, B starts, A ends, B ends) left A's quieting in place: thread A's
    records were dropped after both plans. Each thread's records are dropped only while it reads."""
    from convcalc.torch.standins import logs_kept

    handle = logging.Logger.handle
    log = logging.getLogger("tests.library.threads")
    a_in, b_in, a_out, b_out = (threading.Event() for _ in range(4))
    heard: list[str] = []

    def a() -> None:
        with logs_kept():
            a_in.set()
            b_in.wait(10)
            log.warning("A while reading")  # dropped
        a_out.set()
        b_out.wait(10)
        log.warning("A after both")

    def b() -> None:
        a_in.wait(10)
        with logs_kept():
            b_in.set()
            a_out.wait(10)
            log.warning("B while reading")  # dropped
        b_out.set()

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=f) for f in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        heard = [r.getMessage() for r in caplog.records]
    assert heard == ["A after both"]
    assert logging.Logger.handle is handle
