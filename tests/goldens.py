"""Golden files: rendered output compared byte for byte with a file under tests/golden.

``CONVCALC_UPDATE_GOLDEN=1`` rewrites them (review the diff before committing); without it a missing golden
file fails, so a renamed or forgotten file cannot pass by writing itself.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def updating() -> bool:
    return os.environ.get("CONVCALC_UPDATE_GOLDEN") == "1"


def golden(name: str, text: str) -> None:
    """Assert that ``text`` equals the golden file ``name`` (or rewrite it when updating)."""
    path = GOLDEN / name
    if updating():
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"tests/golden/{name} is missing; create it with CONVCALC_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; rerun with CONVCALC_UPDATE_GOLDEN=1 if intended"
