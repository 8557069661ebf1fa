"""Problems drawn as numbers first, independent of the language; the words come afterwards, in ``_words``."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from convcalc.formulas import window_count


def _draw_size(rng: random.Random, difficulty: int) -> dict[str, Any]:
    """A convolution: sizes built backwards from the output so the division is exact (or a stated floor)."""
    if difficulty == 1:
        f = rng.choice([1, 3, 3, 5, 5, 7, 11])
        s = rng.choice([1, 1, 2, 4] if f == 11 else [1, 1, 2])
        p = rng.choice([0, 0, 1, 2]) if f > 1 else 0
        o = rng.randint(4, 32 if s == 1 else 60)
        w = (o - 1) * s + f - 2 * p
        return {"size": (w, w), "kernel": (f, f), "stride": s, "padding": p, "dilation": 1, "floor": False}
    square = rng.random() < (0.6 if difficulty == 2 else 0.4)
    f = rng.choice([3, 3, 5, 5, 7, 11])
    fw = f if difficulty == 2 or rng.random() < 0.7 else rng.choice([1, 3, 5])
    s = rng.choice([1, 2, 2, 3, 4])
    p = rng.randint(0, min(3, f // 2 + 1))
    d = 1 if difficulty == 2 or rng.random() < 0.6 else rng.choice([2, 3])
    floor = s > 1 and rng.random() < 0.35
    sizes = []
    oh = rng.randint(3, 64 if difficulty == 2 else 128)
    ow = oh if square else rng.randint(3, 64 if difficulty == 2 else 128)
    rest = rng.randint(1, s - 1) if floor else 0
    for o, k in ((oh, f), (ow, fw)):
        extent = d * (k - 1) + 1
        w = (o - 1) * s + extent - 2 * p + rest
        while w < 1 or w + 2 * p < extent:
            w += s
        sizes.append(w)
    if square and f == fw:
        sizes[1] = sizes[0]
    return {"size": tuple(sizes), "kernel": (f, fw), "stride": s, "padding": p, "dilation": d, "floor": floor}


def _draw_padding(rng: random.Random, difficulty: int) -> dict[str, Any]:
    f = rng.choice([3, 5, 7] if difficulty == 1 else [3, 5, 7, 9, 11])
    s = 1 if difficulty == 1 else rng.choice([1, 2] if difficulty == 2 else [1, 2, 3, 4])
    p = rng.randint(0, (f - 1) // 2 if difficulty == 1 else min(4, f))
    if difficulty == 1:
        w = rng.choice([8, 14, 16, 28, 32, 56, 64, 112, 224])
        p = (f - 1) // 2 if rng.random() < 0.7 else p
    else:
        o = rng.randint(2, 80)
        w = (o - 1) * s + f - 2 * p
        while w < 2:
            w += s
            o += 1
    out = window_count(w, p, p, f, s)
    if (w - f + 2 * p) % s:
        w -= (w - f + 2 * p) % s  # keep it exact: P must be the unique integer solution
        out = window_count(w, p, p, f, s)
    return {"size": w, "kernel": f, "stride": s, "output": out, "padding": p}


def _draw_pool(rng: random.Random, difficulty: int) -> dict[str, Any]:
    op = rng.choice(["max", "max", "avg"])
    if difficulty == 1:
        k = rng.choice([2, 2, 3])
        o = rng.randint(2, 56)
        w = o * k
        return {"size": (w, w), "kernel": k, "stride": k, "padding": 0, "op": op, "stride_given": True, "floor": False}
    k = rng.choice([2, 3, 3, 5])
    s = rng.choice([k, k, 1, 2]) if difficulty == 3 else rng.choice([k, k, 2])
    p = rng.randint(0, k // 2) if difficulty == 3 else 0
    floor = s > 1 and rng.random() < 0.4
    square = difficulty == 2 or rng.random() < 0.5
    dims = []
    for _ in range(1 if square else 2):
        o = rng.randint(2, 60)
        w = (o - 1) * s + k - 2 * p + (rng.randint(1, s - 1) if floor else 0)
        dims.append(w)
    size = (dims[0], dims[0]) if square else (dims[0], dims[1])
    return {
        "size": size,
        "kernel": k,
        "stride": s,
        "padding": p,
        "op": op,
        "stride_given": s != k or rng.random() < 0.5,
        "floor": floor,
    }


def _draw_params(rng: random.Random, difficulty: int) -> dict[str, Any]:
    layer = rng.choice(["conv", "conv", "linear"] if difficulty < 3 else ["conv", "conv", "linear", "depthwise"])
    bias = difficulty == 1 or rng.random() < 0.7
    if layer == "linear":
        fin = rng.choice([16, 84, 120, 128, 256, 400, 512, 800, 1024, 2048, 4096, 9216])
        fout = rng.choice([2, 10, 64, 84, 100, 120, 256, 512, 1000, 4096])
        return {"layer": "linear", "in": fin, "out": fout, "bias": bias}
    cin = rng.choice([1, 3, 3, 16, 32, 64] if difficulty == 1 else [1, 3, 6, 16, 32, 64, 96, 128, 256])
    f = rng.choice([1, 3, 3, 5, 7] if difficulty > 1 else [3, 5])
    if layer == "depthwise":
        cin = rng.choice([16, 32, 64, 128])
        return {"layer": "conv", "in": cin, "out": cin, "kernel": (f, f), "bias": bias, "groups": cin}
    cout = rng.choice([4, 6, 8, 16, 32, 64, 128, 256])
    fw = f if difficulty < 3 or rng.random() < 0.7 else rng.choice([1, 3, 5])
    return {"layer": "conv", "in": cin, "out": cout, "kernel": (f, fw), "bias": bias, "groups": 1}


def _draw_network(rng: random.Random, difficulty: int) -> dict[str, Any]:
    blocks = {1: 1, 2: 2, 3: rng.choice([2, 3])}[difficulty]
    layers: list[tuple[Any, ...]] = []
    cin = rng.choice([1, 1, 3]) if difficulty == 1 else rng.choice([1, 3])
    c = cin
    for _ in range(blocks):
        cout = rng.choice([4, 5, 6, 8, 16, 32, 64])
        k = rng.choice([3, 5]) if difficulty == 1 else rng.choice([3, 3, 5, 7])
        s = 1 if difficulty < 3 else rng.choice([1, 1, 2])
        p = 0 if difficulty == 1 else rng.choice([0, k // 2])
        layers.append(("conv", c, cout, k, s, p))
        layers.append(("pool", 2, 2))
        c = cout
    out = rng.randint(2, 12 if difficulty == 1 else 8)
    size = out
    for layer in reversed(layers):
        if layer[0] == "pool":
            size = size * layer[2]
        else:
            _, _, _, k, s, p = layer
            size = (size - 1) * s + k - 2 * p
    ask = "features" if difficulty == 3 or (difficulty == 2 and rng.random() < 0.5) else "shape"
    return {"input": (cin, size, size), "layers": tuple(layers), "ask": ask}


def _draw_receptive_field(rng: random.Random, difficulty: int) -> dict[str, Any]:
    count = {1: rng.choice([2, 3]), 2: rng.choice([3, 4]), 3: rng.choice([4, 5, 6])}[difficulty]
    layers: list[tuple[str, int, int]] = []
    for j in range(count):
        if difficulty > 1 and j % 2 == 1 and rng.random() < 0.7:
            layers.append(("pool", 2, 2))
        else:
            k = rng.choice([3, 3, 3, 5, 7]) if difficulty > 1 else rng.choice([3, 5])
            s = rng.choice([1, 1, 2]) if difficulty == 3 else 1
            layers.append(("conv", k, s))
    return {"layers": tuple(layers)}


def _draw_im2col(rng: random.Random, difficulty: int) -> dict[str, Any]:
    n = 1 if difficulty == 1 else rng.choice([1, 2, 4, 8, 10, 32])
    c = rng.choice([1, 3, 3])
    f = rng.choice([3, 5])
    fw = f if difficulty < 3 or rng.random() < 0.6 else rng.choice([2, 3, 5])
    s = 1 if difficulty < 3 else rng.choice([1, 2])
    p = 0 if difficulty == 1 else rng.choice([0, 1])
    oh = rng.randint(2, 8 if difficulty == 1 else 16)
    ow = oh if difficulty < 3 or rng.random() < 0.5 else rng.randint(2, 16)
    h = (oh - 1) * s + f - 2 * p
    w = (ow - 1) * s + fw - 2 * p
    return {"input": (n, c, h, w), "kernel": (f, fw), "stride": s, "pad": p}


_DRAW: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "size": _draw_size,
    "padding": _draw_padding,
    "params": _draw_params,
    "pool": _draw_pool,
    "network": _draw_network,
    "receptive-field": _draw_receptive_field,
    "im2col": _draw_im2col,
}

_KINDS = tuple(_DRAW)
