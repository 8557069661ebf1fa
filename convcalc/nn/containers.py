"""Containers: Sequential, and the branching Add and Concat."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from convcalc._args import whole
from convcalc._backend import decided, smin
from convcalc._errors import ShapeError, SpecError
from convcalc._plan import merge_rf
from convcalc._planner import Context, Flow
from convcalc._symbolic import to_sympy
from convcalc._types import Shape
from convcalc.nn._base import Module, _fmt
from convcalc.nn.shape import _dim_index

# --------------------------------------------------------------------------- #
# Containers
# --------------------------------------------------------------------------- #


class _Container(Module):
    # ``_classes``: the module classes by path that a plan lists, kept by the planner (the container is immutable)
    __slots__ = ("_classes", "_items")
    _items: tuple[tuple[str, Module], ...]

    def __init__(self, *modules: Any) -> None:
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            items = tuple((str(k), v) for k, v in modules[0].items())
        else:
            items = tuple((str(i), m) for i, m in enumerate(modules))
        for name, m in items:
            if not isinstance(m, Module):
                raise SpecError(
                    f"{type(self).__name__} takes convcalc.nn layers; item {name!r} is {type(m).__name__}. "
                    f"Received: {name}={m!r}"
                )
            if not name or "." in name:
                raise SpecError(f"layer names must be non-empty and without dots. Received: name={name!r}")
        object.__setattr__(self, "_items", items)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (OrderedDict(self._items),))

    def children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._items)

    def __iter__(self) -> Iterator[Module]:
        return (m for _, m in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, slice):
            return type(self)(OrderedDict(self._items[key]))
        if isinstance(key, str):
            for name, m in self._items:
                if name == key:
                    return m
        elif type(key) is int and -len(self._items) <= key < len(self._items):
            return self._items[key][1]
        names = ", ".join(name for name, _ in self._items[:10])
        raise SpecError(
            f"{type(self).__name__} has {len(self._items)} layers ({names}); no layer {key!r}. Received: key={key!r}"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Container) and type(other) is type(self) and other._items == self._items

    def __hash__(self) -> int:
        return hash((type(self), self._items))

    def _inner_repr(self) -> str:
        named = any(name != str(i) for i, (name, _) in enumerate(self._items))
        lines = [f"({name}): {m!r}" if named else repr(m) for name, m in self._items]
        body = ",\n".join("  " + line.replace("\n", "\n  ") for line in lines)
        return f"\n{body}\n" if lines else ""


def _child_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Sequential(_Container):
    """``torch.nn.Sequential`` spec: layers applied in order (positional, or an OrderedDict of names).

    >>> import convcalc
    >>> from convcalc import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2))
    >>> [r.name for r in convcalc.plan(net, (1, 1, 28, 28)).rows]
    ['0', '1', '2']
    """

    __slots__ = ()

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        called = flow[0]  # (what an empty Sequential, a no-op in GhostNet's blocks, is called with is all it shows)
        for name, m in self._items:
            flow = m._plan(flow, ctx, _child_path(path, name))
        if path:
            ctx.close_group(slot, start, path, self.kind, flow[0], tuple(called))
        return flow

    def __repr__(self) -> str:
        return f"Sequential({self._inner_repr()})"


class Add(_Container):
    """Residual sum: every branch is applied to the same input and the outputs are added.

    Use ``Identity()`` for the skip branch. Shapes must be equal (no broadcasting).

    >>> import convcalc
    >>> from convcalc import nn
    >>> block = nn.Add(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU()), nn.Identity())
    >>> convcalc.plan(block, (1, 64, 56, 56)).output_shape
    (1, 64, 56, 56)
    >>> convcalc.plan(nn.Add(nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.Identity()), (1, 64, 56, 56))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: <model> (Add): branch 1 gives 1 x 64 x 56 x 56 but branch 0 gives 1 x 128 x 28 x 28: the channels differ (64 vs 128) and the sizes differ (56 x 56 vs 28 x 28); give branch 1 a projection such as Conv2d(64, 128, kernel_size=1, stride=2). Received: input_shape=(1, 64, 56, 56)
    """

    __slots__ = ()

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        if not self._items:
            raise SpecError(f"{self._where(path)}: Add needs at least one branch. Received: branches=()")
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        outs = [m._plan(flow, ctx, _child_path(path, name)) for name, m in self._items]
        first_shape = outs[0][0]
        for (name, _), (shape, _) in zip(self._items[1:], outs[1:], strict=True):
            if tuple(shape) != tuple(first_shape):
                if len(shape) != len(first_shape) or shape[:2] != first_shape[:2]:
                    raise ShapeError(_add_mismatch(self, path, name, shape, first_shape, flow[0]))
                for j, (a, b) in enumerate(zip(shape, first_shape, strict=True)):
                    if j >= 2 and a != b:  # symbolic sizes that differ in form: equal for some inputs only
                        ctx.equals(
                            a - b,
                            0,
                            path,
                            j - 2,
                            functools.partial(_add_mismatch, self, path, name, shape, first_shape, flow[0]),
                            f"branch {name} matches branch {self._items[0][0]}",
                        )
        out_shape = first_shape
        rf = merge_rf([o[1] for o in outs])
        ctx.add_row(path, self.kind, flow[0], out_shape, receptive_field=rf)
        if path:
            ctx.close_group(slot, start, path, self.kind, out_shape, tuple(flow[0]))
        return out_shape, rf

    def __repr__(self) -> str:
        return f"Add({self._inner_repr()})"


def _add_mismatch(
    layer: Module, path: str, name: str, shape: Shape, first: tuple[Any, ...], given: tuple[Any, ...]
) -> str:
    parts = []
    fix = ""
    if len(shape) == len(first) and len(shape) >= 2:
        if shape[1] != first[1]:
            parts.append(f"the channels differ ({shape[1]} vs {first[1]})")
        if shape[2:] != first[2:]:
            parts.append(f"the sizes differ ({_fmt(shape[2:])} vs {_fmt(first[2:])})")
        if len(shape) == 4:
            fix = "; " + projection_hint((f"branch {name}", shape), ("branch 0", first))
    detail = " and ".join(parts) or "the ranks differ"
    return (
        f"{layer._where(path)}: branch {name} gives {_fmt(shape)} but branch 0 gives {_fmt(first)}: "
        f"{detail}{fix}. Received: input_shape={given}"
    )


def projection_hint(first: tuple[str, Shape], second: tuple[str, Shape]) -> str:
    """How two residual branches (a name and an NCHW shape each) can be made to add: a 1 x 1 convolution on one
    of them where it fits (other channels, and a stride ``s`` that takes each size to the other's, ``ceil(i /
    s)``; the first branch is tried first), or, where the sizes differ otherwise (15 x 15 against 14 x 14), the
    crop, pad or input size that would."""
    for (branch, source), (_, target) in ((first, second), (second, first)):
        stride = _projection_stride(tuple(source[2:]), tuple(target[2:]))
        if stride is not None:
            shown = f", stride={stride}" if stride > 1 else ""
            return f"give {branch} a projection such as Conv2d({source[1]}, {target[1]}, kernel_size=1{shown})"
    (_, source), (_, target) = first, second
    channels = (
        "" if source[1] == target[1] else f", and Conv2d({source[1]}, {target[1]}, kernel_size=1) for the channels"
    )
    return (
        f"no 1 x 1 projection takes {_fmt(source[2:])} to {_fmt(target[2:])} or back: crop or pad one branch to the "
        f"other's size (a slice, F.pad or F.interpolate), or plan an input size at which both branches agree{channels}"
    )


def _projection_stride(sizes: tuple[Any, ...], goal: tuple[Any, ...]) -> int | None:
    """The stride of a 1 x 1 convolution that takes ``sizes`` to ``goal`` (1 where they are equal, or where they
    depend on the input and only the channels can be told), or None."""
    if sizes == goal or not all(type(d) is int for d in (*sizes, *goal)):
        return 1
    if not all(o >= 1 for o in goal):
        return None
    return next(
        (s for s in range(2, max(sizes) + 1) if all(-(-i // s) == o for i, o in zip(sizes, goal, strict=True))), None
    )


_merge_rf = merge_rf  # the ONNX reader merges branches with the same rule


class Concat(_Container):
    """Concatenation along ``dim`` (channels by default) of branches applied to the same input.

    ``crop=True`` centre-crops every branch to the smallest spatial size first, as the
    2015 U-Net does with its skip connections.

    >>> import convcalc
    >>> from convcalc import nn
    >>> block = nn.Concat(nn.Conv2d(192, 64, 1), nn.Conv2d(192, 32, 3, padding=1))
    >>> convcalc.plan(block, (1, 192, 28, 28)).output_shape
    (1, 96, 28, 28)
    """

    __slots__ = ("crop", "dim")
    crop: bool
    dim: int

    def __init__(self, *branches: Any, dim: int = 1, crop: bool = False) -> None:
        super().__init__(*branches)
        whole(dim, "dim")
        if type(crop) is not bool:
            raise SpecError(f"crop must be True or False. Received: crop={crop!r}")
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "crop", crop)

    def __reduce__(self) -> tuple[Any, ...]:
        return (functools.partial(Concat, dim=self.dim, crop=self.crop), (OrderedDict(self._items),))

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and (self.dim, self.crop) == (other.dim, other.crop)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.dim, self.crop))

    def _plan(self, flow: Flow, ctx: Context, path: str) -> Flow:
        if not self._items:
            raise SpecError(f"{self._where(path)}: Concat needs at least one branch. Received: branches=()")
        start = len(ctx.rows)
        slot = ctx.open_group() if path else -1
        outs = [m._plan(flow, ctx, _child_path(path, name)) for name, m in self._items]
        shapes = [tuple(o[0]) for o in outs]
        rank = len(shapes[0])
        dim = _dim_index(self.dim, rank, "dim", self, path, shapes[0])

        def said(name: str, shape: Shape) -> str:
            hint = " (or crop=True to centre-crop to the smallest)" if not self.crop else ""
            return (
                f"{self._where(path)}: branch {name} gives {_fmt(shape)} but branch 0 gives {_fmt(shapes[0])}; "
                f"all dims except dim={self.dim} must match{hint}. Received: input_shape={flow[0]}"
            )

        def mismatch(name: str, shape: Shape) -> ShapeError:
            return ShapeError(said(name, shape), mismatch=True)

        for (name, _), shape in zip(self._items[1:], shapes[1:], strict=True):
            if len(shape) != rank:  # (before a crop, which goes through the axes of the first)
                raise mismatch(name, shape)
        if self.crop:
            shapes = self._cropped(shapes, dim, ctx, path)
        for (name, _), shape in zip(self._items[1:], shapes[1:], strict=True):
            for j, (a, b) in enumerate(zip(shape, shapes[0], strict=True)):
                if j == dim or a == b:
                    continue
                if j < 2 or (type(a) is int and type(b) is int):
                    raise mismatch(name, shape)
                # spatial sizes that differ in form (a U-Net level of a symbolic size): equal for some inputs only
                ctx.equals(
                    to_sympy(a) - to_sympy(b),
                    0,
                    path,
                    j - 2,
                    functools.partial(said, name, shape),
                    f"branch {name} matches branch {self._items[0][0]}",
                )
        total: Any = 0
        for shape in shapes:
            total = total + shape[dim]
        out_shape = (*shapes[0][:dim], total, *shapes[0][dim + 1 :])
        # channels joined side by side keep their receptive fields (the axis before the spatial ones: 1, or 0 for
        # one sample without its batch axis); a crop or another dim does not
        fields = [o[1] for o in outs]
        k = len(fields[0]) if fields[0] is not None else -1
        rf = merge_rf(fields) if dim == rank - k - 1 and not self.crop else None
        ctx.add_row(path, self.kind, flow[0], out_shape, receptive_field=rf)
        if path:
            ctx.close_group(slot, start, path, self.kind, out_shape, tuple(flow[0]))
        return out_shape, rf

    def _cropped(self, shapes: list[Shape], dim: int, ctx: Context, path: str) -> list[tuple[Any, ...]]:
        rank = len(shapes[0])
        result = [list(s) for s in shapes]
        for j in range(2, rank):
            if j == dim:
                continue
            sizes = [s[j] for s in shapes]
            if len({type(v) for v in sizes if type(v) is not int}) > 1:  # a FloorForm beside a sympy expression
                sizes = [to_sympy(v) for v in sizes]
            smallest = sizes[0]
            for v in sizes[1:]:
                smaller = decided(v < smallest)
                if smaller is None:  # smaller for some inputs only: the crop takes the least of them
                    smallest = smin(to_sympy(smallest), to_sympy(v))
                elif smaller:
                    smallest = v
            for b in range(len(shapes)):
                result[b][j] = smallest
        return [tuple(r) for r in result]

    def __repr__(self) -> str:
        extra = []
        if self.dim != 1:
            extra.append(f"dim={self.dim}")
        if self.crop:
            extra.append("crop=True")
        tail = (", " + ", ".join(extra)) if extra else ""
        return f"Concat({self._inner_repr()}{tail})"
