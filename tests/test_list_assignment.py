"""A forward that assigns into a list (``x[i] = self.branches[i](x[i])``: HRNet's stages, YOLOv5's Detect) is
read by rule, with Python's meaning: the list changes under every name it has, the caller's list too. Where
torch.fx cannot tell what the forward sees (a list written out in the call whose items are used again, a list
held inside another), the module is planned with torch's shape machinery, which runs the Python as it is.

Each model is checked against a CPU forward: output shapes, ``parameters()`` and, for those read by rule,
symbolic plans at many sizes.
"""

from __future__ import annotations

from typing import Any

import pytest

import convcalc

torch = pytest.importorskip("torch")
sympy = pytest.importorskip("sympy")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Stage(nn.Module):
    """HRNet's pattern: each branch's output assigned back into the list it is given, then fused."""

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)])
        self.down = nn.Conv2d(4, 8, 3, stride=2, padding=1)

    def forward(self, x: list[Any]) -> Any:
        for i in range(len(self.branches)):
            x[i] = self.branches[i](x[i])
        return x[1] + self.down(x[0])


class Widen(nn.Module):
    """Assigns into the list it is given and returns nothing of it: the caller sees the change."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, x: list[Any]) -> Any:
        x[0] = self.conv(x[0])
        return x[1].mean()


class Levels(nn.Module):
    """A backbone that returns its levels as a list."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Any) -> list[Any]:
        y = self.stem(x)
        return [y, torch.cat([F.max_pool2d(y, 2), F.max_pool2d(y, 2)], 1)]


class Pairs(nn.Module):
    """Returns one list twice: ``pair[0]`` is ``pair[1]``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Any) -> list[Any]:
        y = self.stem(x)
        levels = [y, y]
        return [levels, levels]


class Pyramid(nn.Module):
    """The levels of a backbone (a list), changed in place by a child, then read again by name (``feats[0]``)."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.levels = Levels()
        self.pairs = Pairs()
        self.stage = Stage()
        self.widen = Widen()
        self.head = nn.Conv2d(6, 2, 1)

    def forward(self, x: Any) -> Any:
        if self.form == "stage":  # a list written out in the call, its items not used again
            y = self.stem(x)
            return self.stage([y, torch.cat([F.max_pool2d(y, 2)] * 2, 1)])
        if self.form == "named":  # the caller's list, read again after the child changed it
            feats = self.levels(x)
            self.widen(feats)
            return self.head(feats[0])
        if self.form == "here":  # assigned into in this forward
            feats = self.levels(x)
            feats[0] = self.widen.conv(feats[0])
            return self.head(feats[0]), feats[1]
        if self.form == "literal":  # fx reads feats[0] after the call as y: torch's machinery runs the Python
            y = self.stem(x)
            feats = [y, F.max_pool2d(y, 2)]
            self.widen(feats)
            return self.head(feats[0])
        if self.form == "nested":  # the list assigned into is held twice inside another list
            pair = self.pairs(x)
            pair[0][0] = self.widen.conv(pair[0][0])
            return self.head(pair[1][0])
        raise AssertionError(self.form)


def _tensor_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    return tuple(_tensor_shapes(v) for v in value)


@pytest.mark.parametrize("form", ["stage", "named", "here", "literal", "nested"])
@pytest.mark.parametrize("size", [8, 14])
def test_a_list_assigned_into_is_read_with_python_s_meaning(form: str, size: int) -> None:
    torch.manual_seed(0)
    model = Pyramid(form)
    with torch.no_grad():
        expected = _tensor_shapes(model(torch.zeros(2, 3, size, size)))
    plan = convcalc.plan(model, (2, 3, size, size))
    assert plan.output_shapes == (expected if isinstance(expected[0], tuple) else (expected,))
    assert plan.total_params == sum(p.numel() for p in model.parameters())
    by_rule = form in ("stage", "named", "here")
    assert not plan.fallback_rows if by_rule else plan.fallback_rows


@pytest.mark.parametrize("form", ["stage", "named", "here"])
def test_a_list_assigned_into_keeps_symbolic_sizes(form: str) -> None:
    torch.manual_seed(0)
    model = Pyramid(form)
    plan = convcalc.plan(model, (1, 3, "H", "W"))
    symbols = {s.name: s for shape in plan.output_shapes for d in shape for s in sympy.sympify(d).free_symbols}
    for h, w in [(2, 2), (4, 10), (16, 16), (18, 30), (5, 9), (17, 30)]:
        try:
            with torch.no_grad():
                expected = _tensor_shapes(model(torch.zeros(1, 3, h, w)))
        except RuntimeError:  # an odd size: the pooled and the strided branch differ by one
            assert (form, h % 2) == ("stage", 1)
            with pytest.raises(convcalc.ShapeError):
                convcalc.plan(model, (1, 3, h, w))
            continue
        expected = expected if isinstance(expected[0], tuple) else (expected,)
        at = {symbols[k]: v for k, v in (("H", h), ("W", w)) if k in symbols}
        got = tuple(tuple(int(sympy.sympify(d).subs(at)) for d in shape) for shape in plan.output_shapes)
        assert got == expected, (h, w)


class Detect(nn.Module):
    """YOLOv5's head in short: each level's map assigned back into the list, then returned with it."""

    def __init__(self) -> None:
        super().__init__()
        self.m = nn.ModuleList(nn.Conv2d(c, 6, 1) for c in (4, 8))

    def forward(self, x: list[Any]) -> Any:
        for i in range(2):
            x[i] = self.m[i](x[i])
            b, _, h, w = x[i].shape
            x[i] = x[i].view(b, 2, 3, h, w).permute(0, 1, 3, 4, 2).contiguous()
        return torch.cat([v.view(b, -1, 3) for v in x], 1), x


class Detector(nn.Module):
    def __init__(self, through: str) -> None:
        super().__init__()
        self.through = through
        self.levels = Levels()
        self.detect = Detect()
        self.chain = nn.Sequential(Widen(), nn.Identity())

    def forward(self, x: Any) -> Any:
        levels = self.levels(x)
        if self.through == "sequential":  # the list through an nn.Sequential whose first module assigns into it
            self.chain(levels)
            return levels[0]
        out = self.detect(levels)
        return out[0], levels[1]  # the caller's list holds Detect's maps now


@pytest.mark.parametrize("through", ["detect", "sequential"])
def test_the_callers_list_changes_with_the_callee_s_assignment(through: str) -> None:
    torch.manual_seed(0)
    model = Detector(through)
    with torch.no_grad():
        expected = _tensor_shapes(model(torch.zeros(1, 3, 16, 16)))
    plan = convcalc.plan(model, (1, 3, 16, 16))
    assert plan.output_shapes == (expected if isinstance(expected[0], tuple) else (expected,))
    assert not plan.fallback_rows


class Opaque(nn.Module):
    """Assigns into the list it is given, with a forward convcalc's rules do not follow (json of a size)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, x: list[Any]) -> Any:
        import json

        x[0] = self.conv(x[0])[..., : json.loads(json.dumps(x[0].shape[-1]))]
        return x[1]


class OpaqueCaller(nn.Module):
    def __init__(self, named: bool) -> None:
        super().__init__()
        self.named = named
        self.stem = nn.Conv2d(3, 4, 1)
        self.levels = Levels()
        self.opaque = Opaque()

    def forward(self, x: Any) -> Any:
        if self.named:  # the list a module returned: the caller is read by rule, the change followed
            feats = self.levels(x)
            self.opaque(feats)
            return feats[0]
        feats = [self.stem(x), x]  # written out, its item used again: the caller is run by torch's machinery too
        kept = feats
        self.opaque(feats)
        return kept[0]


@pytest.mark.parametrize("named", [True, False])
def test_a_list_changed_by_a_module_torch_s_machinery_runs_changes_for_the_caller(named: bool) -> None:
    model = OpaqueCaller(named)
    with torch.no_grad():
        expected = tuple(model(torch.zeros(1, 3, 8, 8)).shape)
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.output_shape == expected == (1, 6, 8, 8)
    fallback = {r.name.split(".")[0] for r in plan.fallback_rows}
    assert fallback == {"opaque"} if named else fallback >= {"stem", "opaque"}


class BadIndex(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: Any) -> Any:
        feats = [x]
        feats[1] = self.conv(x)
        return feats[0]


def test_an_assignment_past_the_list_is_refused_as_python_refuses_it() -> None:
    with pytest.raises(IndexError):
        BadIndex()(torch.zeros(1, 3, 4, 4))
    with pytest.raises(convcalc.ConvCalcError, match="index out of range"):
        convcalc.plan(BadIndex(), (1, 3, 4, 4))


class Aliases(nn.Module):
    """Lists and dicts that one name changes and another reads: by ``copy.copy``, ``+=``, one list given twice
    to a module torch's machinery runs, a list inside a tuple or a dict argument, a dict assigned into."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.levels = Levels()
        self.conv = nn.Conv2d(4, 6, 1)
        self.opaque = TwoLists()
        self.nested = Nested()
        self.keyed = Keyed()

    def forward(self, x: Any) -> Any:
        import copy

        f = self.levels(x)
        if self.form == "copy":  # a shallow copy: the assignment below leaves it as it was
            kept = copy.copy(f)
            f[0] = self.conv(f[0])
            return kept[0]
        if self.form == "iadd":  # += extends the list under each of its names
            g = f
            f += [self.conv(f[0])]
            return g[-1]
        if self.form == "twice":
            return self.opaque(f, f)
        if self.form in ("tuple", "dict"):
            self.nested((f, 1) if self.form == "tuple" else {"f": f})
            return f[0]
        d = {"a": f[0], "b": f[1]}
        out = self.keyed(d)
        return d["a"] + out.mean()


class TwoLists(nn.Module):
    """Assigns through its first argument and reads its second (json of a size: torch's machinery runs it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, a: list[Any], b: list[Any]) -> Any:
        import json

        a[0] = self.conv(a[0])[..., : json.loads(json.dumps(a[0].shape[-1]))]
        return b[0]


class Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, held: Any) -> Any:
        inner = held[0] if isinstance(held, tuple) else held["f"]
        inner[0] = self.conv(inner[0])
        return inner[1]


class Keyed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, d: dict[str, Any]) -> Any:
        d["a"] = self.conv(d["a"])
        return d["b"]


@pytest.mark.parametrize("form", ["copy", "iadd", "twice", "tuple", "dict", "keyed"])
def test_other_names_of_a_list_or_dict_see_what_python_shows_them(form: str) -> None:
    # each gave the other shape: the copy changed with the list, += and the callee's writes were not seen
    model = Aliases(form)
    with torch.no_grad():
        expected = tuple(model(torch.zeros(1, 3, 8, 8)).shape)
    assert expected == ((1, 4, 8, 8) if form == "copy" else (1, 6, 8, 8))
    plan = convcalc.plan(model, (1, 3, 8, 8))
    assert plan.output_shape == expected
    assert plan.total_params == sum(p.numel() for p in model.parameters())


class TwoLevels(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.c2 = nn.Conv2d(8, 8, 3, 2, 1)

    def forward(self, x: Any) -> Any:
        a = self.c1(x)
        return [a, self.c2(a)]


class Refined(nn.Module):
    """The caller assigns into the list its backbone returned (``copy.copy`` sends it to torch's machinery)."""

    def __init__(self, through_torch: bool) -> None:
        super().__init__()
        self.through_torch = through_torch
        self.backbone = TwoLevels()
        self.conv = nn.Conv2d(8, 8, 3, 2, 1)

    def forward(self, x: Any) -> Any:
        import copy

        feats = self.backbone(x)
        if self.through_torch:
            copy.copy(feats)
        feats[0] = self.conv(feats[0])
        return feats


@pytest.mark.parametrize("through_torch", [False, True])
def test_a_module_s_row_shows_what_it_returned_before_its_caller_changed_it(through_torch: bool) -> None:
    # through torch's machinery the backbone's row read its list after the caller had assigned into it:
    # (1, 8, 16, 16) where it returned, and torchinfo shows, (1, 8, 32, 32)
    torchinfo = pytest.importorskip("torchinfo")
    model = Refined(through_torch).eval()
    theirs = torchinfo.summary(model, input_size=(1, 3, 64, 64), verbose=0)
    ours = convcalc.summary(model, input_size=(1, 3, 64, 64), verbose=0)
    rows = [[r.output_size for r in s.summary_list if r.class_name == "TwoLevels"] for s in (theirs, ours)]
    assert rows[0] == rows[1] == [[1, 8, 32, 32]]
    plan = convcalc.plan(model, (1, 3, 64, 64))
    assert bool(plan.fallback_rows) == through_torch
    assert plan.output_shapes == ((1, 8, 16, 16), (1, 8, 16, 16))


class Body(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, 2, 1)

    def forward(self, x: Any) -> Any:
        return {"res5": self.c(x)}


class Membership(nn.Module):
    """detectron2's FPN asks ``if self.top_block.in_feature in bottom_up_features`` of a dict; others ask
    ``if 1 in x.shape[2:]`` of sizes."""

    def __init__(self, of_sizes: bool) -> None:
        super().__init__()
        self.of_sizes = of_sizes
        self.body = Body()
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: Any) -> Any:
        if self.of_sizes:
            return x if 1 in x.shape[2:] else self.body.c(x)
        feats = self.body(x)
        return self.head(feats["p5"] if "p5" in feats else feats["res5"])


def test_membership_in_a_dict_goes_to_torch_s_machinery_and_in_sizes_is_read_by_rule() -> None:
    # ``"p5" in feats`` was refused with symbols as "cannot index dict (0)": fx iterates what has no __contains__
    dict_model = Membership(of_sizes=False)
    assert tuple(dict_model(torch.zeros(1, 3, 32, 32)).shape) == (1, 2, 16, 16)
    plan = convcalc.plan(dict_model, (1, 3, 32, 32))
    assert plan.output_shape == (1, 2, 16, 16)
    assert plan.fallback_rows
    with pytest.raises(convcalc.SpecError, match=r"asks whether 'p5' is in a traced value"):
        convcalc.plan(dict_model, (1, 3, "H", "W"))
    sizes_model = Membership(of_sizes=True)
    for shape in ((1, 3, 8, 8), (1, 3, 1, 8)):
        planned = convcalc.plan(sizes_model, shape)
        assert planned.output_shape == tuple(sizes_model(torch.zeros(shape)).shape)
        assert not planned.fallback_rows
