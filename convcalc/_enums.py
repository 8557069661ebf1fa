"""Closed vocabularies: each is a StrEnum whose parse lists the allowed values."""

from __future__ import annotations

from enum import StrEnum

from convcalc._errors import SpecError

# typing is only for type checkers: not importing it keeps the numeric path's start-up short
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

__all__ = ["Convention", "PadMode", "PaddingMode", "PoolKind"]


class _Vocabulary(StrEnum):
    @classmethod
    def parse(cls, value: object, name: str, *, case_sensitive: bool = True) -> Self:
        """Return the member named by ``value`` or raise a SpecError listing the choices."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value if case_sensitive else value.lower()
            for member in cls:
                if member.value == key:
                    return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise SpecError(f"{name} must be one of {allowed}. Received: {name}={value!r}")


class Convention(_Vocabulary):
    """Whose rules a size follows."""

    TORCH = "torch"
    KERAS = "keras"


class PaddingMode(_Vocabulary):
    """Padding given by name instead of by number."""

    SAME = "same"
    VALID = "valid"
    CAUSAL = "causal"


class PoolKind(_Vocabulary):
    """Which pooling a window computes (the shape rules differ: torch's avg_pool3d needs input >= kernel)."""

    MAX = "max"
    AVG = "avg"


class PadMode(_Vocabulary):
    """How torch fills explicit padding (``F.pad``'s ``mode``; a convolution's ``padding_mode`` ``'zeros'``
    is ``'constant'``)."""

    CONSTANT = "constant"
    REFLECT = "reflect"
    REPLICATE = "replicate"
    CIRCULAR = "circular"
