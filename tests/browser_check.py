"""A look at the notebook view in a real browser: headless Chromium screenshots of a numeric and a symbolic plan.

Not part of the test suite (the HTML structure is tested in test_render.py); run it by hand where Chromium is
installed and look at the pictures:

    python tests/browser_check.py [OUT_DIR]

It writes ``plan_numeric.html``/``.png`` and ``plan_symbolic.html``/``.png`` to OUT_DIR (default: a temporary
folder, printed) and exits 0; without a Chromium it says so and exits 0 without pictures.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 16px; }} td, th {{ padding: 2px 8px; }}
dt {{ font-weight: bold; }}</style></head>
<body><h3>{title}</h3>{body}</body></html>
"""


def pages() -> dict[str, tuple[str, str]]:
    import convcalc
    from convcalc import zoo

    H = convcalc.symbols("H")
    return {
        "plan_numeric": ("lenet5 on 1 x 1 x 32 x 32", convcalc.plan(zoo.lenet5(), (1, 1, 32, 32))._repr_html_()),
        "plan_symbolic": ("lenet5 on 1 x 1 x H x H", convcalc.plan(zoo.lenet5(), (1, 1, H, H))._repr_html_()),
    }


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def main(argv: list[str]) -> int:
    browser = chromium()
    if browser is None:
        print("no Chromium found: nothing to look at")
        return 0
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="convcalc-html-"))
    out.mkdir(parents=True, exist_ok=True)
    for name, (title, body) in pages().items():
        page = out / f"{name}.html"
        page.write_text(PAGE.format(title=title, body=body), encoding="utf-8")
        picture = out / f"{name}.png"
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1100",
            f"--screenshot={picture}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        print(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
