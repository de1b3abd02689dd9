"""The headless browser the browser tests drive (Debian's chromium, installed by scripts/test).

Fixture: ``browser`` (module-scoped, a Playwright Chromium) — import it into a test module with
``from browsers import browser  # noqa: F401``.
"""

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


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, closed after the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield instance
        finally:
            instance.close()


def pull_status(page) -> str | None:
    """The title of nbgitpuller's status panel, or None when the page has none (not pulling, or it has just
    moved on to the interface: the element can go between finding it and reading it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if "/git-pull" not in page.url or not page.locator("#status-panel-title").count():
        return None
    try:
        return page.inner_text("#status-panel-title", timeout=2_000)
    except PlaywrightTimeout:
        return None
