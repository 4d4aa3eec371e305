"""Headless Chromium for the Web UI checks: Debian's binary, never a downloaded one."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFRESH_DOCS = "EXECBATCH_REFRESH_DOCS"


def screenshot_dir() -> Path:
    """Where the browser tests put their screenshots: an ignored folder (``.screenshots``),
    or ``docs/`` when the docs' pictures are refreshed on purpose
    (``./run screenshots``, which sets EXECBATCH_REFRESH_DOCS=1). Tests never
    write into tracked files otherwise."""
    if os.environ.get(REFRESH_DOCS) == "1":
        return PROJECT_ROOT / "docs"
    folder = PROJECT_ROOT / ".screenshots"
    folder.mkdir(exist_ok=True)
    return folder
