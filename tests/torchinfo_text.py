"""torchinfo 1.8's table as text to compare with convcalc.summary's: torchinfo prints its mult-adds unit as the
enum (``(Units.MEGABYTES)``) where convcalc prints the letter torchinfo means (``(M)``)."""

from __future__ import annotations

from typing import Any

UNITS = {"(Units.TERABYTES)": "(T)", "(Units.GIGABYTES)": "(G)", "(Units.MEGABYTES)": "(M)"}


def their_text(stats: Any) -> str:
    """``str(stats)`` of a torchinfo ``ModelStatistics``, its units written as convcalc writes them."""
    text = str(stats)
    for enum, unit in UNITS.items():
        text = text.replace(enum, unit)
    return text
