"""Finding the headless browser the browser tests drive (Debian's chromium, installed by scripts/test)."""

from __future__ import annotations

import shutil

import pytest


def chromium() -> str:
    """Path of Chromium; fails (never skips) the test when it is missing."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed; scripts/test installs Debian's chromium (apt-get install chromium)")
