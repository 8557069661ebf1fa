"""Words: the question and the worked solution of each kind, in English or Korean, and the answer as text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from convcalc._args import show
from convcalc.exercises._answers import _solve_rf
from convcalc.exercises._steps import _per_axis_lines, _window_line


def _by(size: Sequence[int]) -> str:
    return " x ".join(show(v) for v in size)  # an int too long to print is named by its digits


def _text_size(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    h, w = data["size"]
    kh, kw = data["kernel"]
    s, p, d = data["stride"], data["padding"], data["dilation"]
    dil = f", dilation = {d}" if d != 1 else ""
    if lang == "ko":
        q = (
            f"입력 이미지 크기: {h} x {w}, 필터 크기: {kh}x{kw}, stride = {s}, padding = {p}{dil}일 때 "
            f"출력 이미지 크기는?"
        )
        if data["floor"]:
            q += " (계산 결과가 소수이면 소수점은 버린다.)"
        # with dilation, the numbers below subtract the dilated filter size F', and so does the formula
        filt = "F'" if d != 1 else "필터 크기"
        formula = f"출력 크기 = (입력 크기 - {filt} + 2 * padding) / stride + 1"
    else:
        q = (
            f"Input image size: {h} x {w}, filter size: {kh}x{kw}, stride = {s}, padding = {p}{dil}. "
            f"What is the output image size?"
        )
        if data["floor"]:
            q += " (Round down when the division is not exact, as PyTorch does.)"
        filt = "F'" if d != 1 else "filter size"
        formula = f"output size = (input size - {filt} + 2 * padding) / stride + 1"
    lines = []
    if d != 1:
        for k in sorted({kh, kw}):
            label = "dilation을 적용한 필터 크기" if lang == "ko" else "dilated filter size"
            lines.append(f"{label}: F' = D*(F - 1) + 1 = {d}*({k} - 1) + 1 = {d * (k - 1) + 1}")
    lines.append(formula)
    per = [_window_line(x, d * (k - 1) + 1, s, p, p) for x, k in ((h, kh), (w, kw))]
    lines += _per_axis_lines(per, ["H", "W"])
    return q, lines


def _text_padding(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    w, f, s, o, p = data["size"], data["kernel"], data["stride"], data["output"], data["padding"]
    if lang == "ko":
        q = (
            f"입력 이미지 크기: {w} x {w}, 필터 크기: {f}x{f}, stride = {s}, 출력 이미지 크기: {o} x {o}일 때 "
            f"padding은 얼마인가? (상하좌우 같은 padding, (입력 크기 - 필터 크기 + 2 * padding)은 stride로 "
            f"나누어떨어진다.)"
        )
        lines = [
            "출력 크기 = (입력 크기 - 필터 크기 + 2 * padding) / stride + 1에서 padding을 구하면",
            "padding = ((출력 크기 - 1) * stride - 입력 크기 + 필터 크기) / 2",
        ]
    else:
        q = (
            f"Input image size: {w} x {w}, filter size: {f}x{f}, stride = {s}. What padding P (the same on "
            f"every side) gives an output image of {o} x {o}, with (W - F + 2P) divisible by the stride?"
        )
        lines = ["output = (W - F + 2P)/S + 1, solved for P:", "P = ((output - 1)*S - W + F)/2"]
    lines.append(f"(({o} - 1)*{s} - {w} + {f})/2 = {2 * p}/2 = {p}")
    check = _window_line(w, f, s, p, p)[0]
    lines.append(("검산: " if lang == "ko" else "check: ") + check)
    lines.append(f"padding = {p}" if lang == "ko" else f"P = {p}")
    return q, lines


def _text_pool(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    h, w = data["size"]
    k, s, p = data["kernel"], data["stride"], data["padding"]
    name = "MaxPool2d" if data["op"] == "max" else "AvgPool2d"
    args = [f"kernel_size={k}"]
    if data["stride_given"]:
        args.append(f"stride={s}")
    if p:
        args.append(f"padding={p}")
    layer = f"nn.{name}({', '.join(args)})"
    if lang == "ko":
        q = f"입력 이미지 크기: {h} x {w}, 풀링 층: {layer}일 때 출력 이미지 크기는?"
        if data["floor"]:
            q += " (소수점은 버린다.)"
        lines = [] if data["stride_given"] else [f"stride를 생략하면 stride = kernel_size = {k}"]
        lines.append("출력 크기 = (입력 크기 - kernel_size + 2 * padding) / stride + 1")
    else:
        q = f"Input image size: {h} x {w}, pooling layer: {layer}. What is the output image size?"
        if data["floor"]:
            q += " (PyTorch rounds down.)"
        lines = [] if data["stride_given"] else [f"stride left out: stride = kernel_size = {k}"]
        lines.append("output size = (input size - kernel_size + 2 * padding) / stride + 1")
    per = [_window_line(x, k, s, p, p) for x in (h, w)]
    lines += _per_axis_lines(per, ["H", "W"])
    return q, lines


def _text_params(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    bias = data["bias"]
    if data["layer"] == "linear":
        fin, fout = data["in"], data["out"]
        # as for Conv2d below, the call itself says bias=False: the call as written has the answer's parameters
        call = f"nn.Linear({fin}, {fout}{'' if bias else ', bias=False'})"
        if lang == "ko":
            b = "bias 포함" if bias else "bias 없음"
            q = f"입력 특징 수: {fin}, 출력 특징 수: {fout}인 완전연결 층 {call}의 파라미터 수는? ({b})"
            lines = ["파라미터 수 = 입력 수 * 출력 수" + (" + 출력 수(bias)" if bias else "")]
        else:
            q = f"How many parameters does the fully connected layer {call} have{' (with bias)' if bias else ''}?"
            lines = ["params = in_features * out_features" + (" + out_features (bias)" if bias else "")]
        total = fin * fout + (fout if bias else 0)
        lines.append(f"{fin} * {fout}" + (f" + {fout}" if bias else "") + f" = {total}")
        return q, lines
    cin, cout, (kh, kw), g = data["in"], data["out"], data["kernel"], data["groups"]
    extra = f", groups={g}" if g != 1 else ""
    call = f"nn.Conv2d({cin}, {cout}, {kh if kh == kw else (kh, kw)}{extra}{'' if bias else ', bias=False'})"
    if lang == "ko":
        b = "bias 포함" if bias else "bias 없음"
        q = (
            f"입력 채널: {cin}, 출력 채널: {cout}, 필터 크기: {kh}x{kw}"
            f"{f', groups = {g}' if g != 1 else ''}인 합성곱 층 {call}의 파라미터 수는? ({b})"
        )
        lines = [
            "파라미터 수 = 출력 채널 * (입력 채널 / groups) * 필터 높이 * 필터 너비"
            + (" + 출력 채널(bias)" if bias else "")
        ]
    else:
        q = f"How many parameters does the convolution {call} have?"
        lines = ["params = C_out * (C_in / groups) * FH * FW" + (" + C_out (bias)" if bias else "")]
    weights = cout * (cin // g) * kh * kw
    per = f"({cin}/{g})" if g != 1 else f"{cin}"
    lines.append(
        f"{cout} * {per} * {kh} * {kw}" + (f" + {cout}" if bias else "") + f" = {weights + (cout if bias else 0)}"
    )
    return q, lines


def _layer_call(layer: tuple[Any, ...]) -> str:
    if layer[0] == "pool":
        return f"nn.MaxPool2d({layer[1]})"
    _, cin, cout, k, s, p = layer
    extra = (f", stride={s}" if s != 1 else "") + (f", padding={p}" if p else "")
    return f"nn.Conv2d({cin}, {cout}, {k}{extra})"


def _text_network(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    c, h, w = data["input"]
    chain = " → ".join(_layer_call(layer) for layer in data["layers"])
    if lang == "ko":
        q = f"{c}채널의 {h}x{w} 입력(형태: 1 x {c} x {h} x {w})을 다음 층들에 차례로 통과시킨다: {chain}. "
        q += (
            "마지막 출력을 nn.Flatten()으로 펼쳐 nn.Linear에 넣으려면 in_features는 얼마여야 하는가?"
            if data["ask"] == "features"
            else "출력 형태 (C x H x W)는?"
        )
    else:
        q = f"A {c}-channel {h}x{w} input (shape 1 x {c} x {h} x {w}) goes through {chain}. "
        q += (
            "The output is flattened with nn.Flatten() and fed to nn.Linear: what must in_features be?"
            if data["ask"] == "features"
            else "What is the output shape (C x H x W)?"
        )
    lines = []
    for layer in data["layers"]:
        if layer[0] == "pool":
            _, k, s = layer
            text, h2 = _window_line(h, k, s, 0, 0)
            lines.append(f"{_layer_call(layer)}: {text} -> {c} x {h2} x {h2}")
            h = w = h2
        else:
            _, _, cout, k, s, p = layer
            text, h2 = _window_line(h, k, s, p, p)
            lines.append(f"{_layer_call(layer)}: {text} -> {cout} x {h2} x {h2}")
            c, h, w = cout, h2, h2
    if data["ask"] == "features":
        lines.append(f"in_features = {c} * {h} * {w} = {c * h * w}")
    return q, lines


def _rf_layer(layer: tuple[str, int, int], lang: str) -> str:
    kind, k, s = layer
    if kind == "pool":
        return f"{k}x{k} max pool (stride {s})"
    return f"{k}x{k} conv (stride {s})"


def _text_rf(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    chain = " → ".join(_rf_layer(layer, lang) for layer in data["layers"])
    if lang == "ko":
        q = (
            f"다음 층들을 차례로 쌓았다: {chain}. 마지막 출력의 한 픽셀이 보는 입력 영역(receptive field)의 "
            f"한 변의 크기는?"
        )
        lines = ["receptive field = 1 + Σ (k_i - 1) * (앞선 층들의 stride의 곱)"]
    else:
        q = (
            f"These layers are stacked: {chain}. How wide is the receptive field of one output pixel of the "
            f"last layer (input pixels along one side)?"
        )
        lines = ["RF = 1 + sum over layers of (k_i - 1) * (product of the strides before layer i)"]
    terms = []
    jump = 1
    for _, k, s in data["layers"]:
        terms.append(f"({k} - 1)*{jump}")
        jump *= s
    lines.append(f"1 + {' + '.join(terms)} = {_solve_rf(data, None)}")
    return q, lines


def _text_im2col(data: Mapping[str, Any], lang: str) -> tuple[str, list[str]]:
    n, c, h, w = data["input"]
    fh, fw = data["kernel"]
    s, p = data["stride"], data["pad"]
    call = f"im2col(x, {fh}, {fw}, stride={s}, pad={p})"
    if lang == "ko":
        q = (
            f"입력 데이터 x의 형상: ({n}, {c}, {h}, {w}), 필터 크기: {fh}x{fw}, stride = {s}, pad = {p}일 때 "
            f"im2col 함수로 전개한 2차원 행렬 col = {call}의 형상은?"
        )
        lines = ["col의 형상 = (N * out_h * out_w, C * FH * FW)"]
    else:
        q = (
            f"x has shape ({n}, {c}, {h}, {w}) (N, C, H, W). What is the shape of the 2-D matrix "
            f"col = {call} (filter {fh}x{fw}, stride = {s}, pad = {p})?"
        )
        lines = ["col.shape = (N * out_h * out_w, C * FH * FW)"]
    th, oh = _window_line(h, fh, s, p, p)
    tw, ow = _window_line(w, fw, s, p, p)
    lines.append(f"out_h = {th}")
    lines.append(f"out_w = {tw}")
    lines.append(f"({n} * {oh} * {ow}, {c} * {fh} * {fw}) = ({n * oh * ow}, {c * fh * fw})")
    return q, lines


_TEXT: dict[str, Callable[[Mapping[str, Any], str], tuple[str, list[str]]]] = {
    "size": _text_size,
    "padding": _text_padding,
    "params": _text_params,
    "pool": _text_pool,
    "network": _text_network,
    "receptive-field": _text_rf,
    "im2col": _text_im2col,
}


def _answer_text(kind: str, data: Mapping[str, Any], value: tuple[int, ...]) -> str:
    if kind in ("size", "pool", "network"):
        return _by(value)
    if kind == "im2col":
        return f"({value[0]}, {value[1]})"
    return str(value[0])
