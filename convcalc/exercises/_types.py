"""The vocabularies of exercises (kinds, languages, sheet formats), the mistakes recognised, and the records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convcalc._enums import _Vocabulary


class ExerciseKind(_Vocabulary):
    """What an exercise asks for."""

    SIZE = "size"
    PADDING = "padding"
    PARAMS = "params"
    POOL = "pool"
    NETWORK = "network"
    RECEPTIVE_FIELD = "receptive-field"
    IM2COL = "im2col"
    MIXED = "mixed"


class Language(_Vocabulary):
    """The language of questions, solutions and feedback."""

    EN = "en"
    KO = "ko"


class SheetFormat(_Vocabulary):
    """Formats of :func:`render_sheet`."""

    MD = "md"
    LATEX = "latex"


#: The mistakes :func:`check_answer` recognises: code -> (English, Korean) explanation.
MISTAKES: dict[str, tuple[str, str]] = {
    "forgot_padding": (
        "you left out the padding: the formula adds 2P",
        "padding을 빠뜨린 것 같습니다. 식에 2P를 더해야 합니다",
    ),
    "single_padding": (
        "you added the padding once (P); it is added on both sides (2P)",
        "padding을 한 번(P)만 더한 것 같습니다. padding은 양쪽에 붙으므로 2P입니다",
    ),
    "ceil_instead_of_floor": (
        "you rounded up; the output size rounds down (floor)",
        "올림을 한 것 같습니다. 나누어떨어지지 않으면 소수점은 버립니다(floor)",
    ),
    "forgot_plus_one": (
        "you forgot the + 1 (the first window's position)",
        "+ 1을 빠뜨린 것 같습니다 (첫 번째 필터 위치)",
    ),
    "precedence": (
        "you divided only the kernel size by the stride, as in int(1 + H + 2*pad - FH / stride): "
        "the whole (W - F + 2P) is divided by S",
        "필터 크기만 stride로 나눈 것 같습니다 (int(1 + H + 2*pad - FH / stride)의 연산자 우선순위 실수). "
        "(W - F + 2P) 전체를 stride로 나눠야 합니다",
    ),
    "ignored_stride": (
        "you did not divide by the stride",
        "stride로 나누지 않은 것 같습니다",
    ),
    "stride_default": (
        "you used stride 1: a pooling layer's stride defaults to its kernel size",
        "stride를 1로 둔 것 같습니다. pooling 층의 stride 기본값은 1이 아니라 kernel_size입니다",
    ),
    "forgot_dilation": (
        "you used the kernel size without dilation: a dilated kernel spans D*(F - 1) + 1",
        "dilation을 적용하지 않은 것 같습니다. dilation이 있으면 필터가 차지하는 크기는 D*(F - 1) + 1입니다",
    ),
    "forgot_bias": (
        "you forgot the bias: one per output channel",
        "bias를 빠뜨린 것 같습니다. 출력 채널마다 1개씩 있습니다",
    ),
    "forgot_input_channels": (
        "you forgot the input channels: each filter spans every input channel",
        "입력 채널 수를 곱하지 않은 것 같습니다. 필터 하나는 입력 채널 전체에 걸쳐 있습니다",
    ),
    "ignored_groups": (
        "you ignored groups: each filter sees only C_in / groups channels",
        "groups를 무시한 것 같습니다. 필터 하나는 C_in / groups개 채널만 봅니다",
    ),
    "forgot_batch": (
        "you left out the batch size N: the matrix has one row per window of every sample",
        "배치 크기 N을 곱하지 않은 것 같습니다. 모든 데이터의 필터 위치마다 한 행씩 있습니다",
    ),
    "forgot_channels": (
        "you forgot to multiply by the number of channels",
        "채널 수를 곱하지 않은 것 같습니다",
    ),
    "ignored_strides": (
        "you added the kernel sizes without scaling each by the strides of the layers before it",
        "앞선 층들의 stride를 곱하지 않고 필터 크기만 더한 것 같습니다",
    ),
}


@dataclass(frozen=True)
class Exercise:
    """One exercise: the question, the answer, a worked solution and the numbers behind them.

    ``value`` is the answer as integers (``(55, 55)`` for a 55 x 55 output);
    ``data`` holds the problem's numbers so the answer can be checked
    independently; ``index`` is its 1-based position on the sheet;
    ``sheet_kind`` is the kind the sheet was drawn with (``"mixed"`` for a mix).
    """

    kind: str
    index: int
    seed: int
    difficulty: int
    lang: str
    question: str
    answer: str
    steps: tuple[str, ...]
    value: tuple[int, ...]
    data: Mapping[str, Any] = field(repr=False)
    sheet_kind: str = ""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``correct``, the ``expected`` answer, the ``mistakes``
    that reproduce a wrong answer (codes of :data:`MISTAKES`) and a ``message``."""

    correct: bool
    expected: str
    mistakes: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return self.message
