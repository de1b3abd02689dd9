"""Screenshots of what a student sees, taken from the real local hub: ``bash scripts/screenshots``.

Starts the example university on a local JupyterHub (as ``coursehub hub up`` does, with the course content
served by a git server on 127.0.0.1), logs in as a student in headless Chromium, clicks the first
assignment's nbgitpuller link and photographs nbgitpuller's pull page and the assignment opened in
JupyterLab. The PNGs are written to ``guides/assets/screenshots/`` and committed; run this again when the
hub, nbgitpuller or JupyterLab changes what students see. Everything runs on loopback and is stopped at
the end.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "guides" / "assets" / "screenshots"
MANIFEST = REPO / "course-templates" / "example-university" / "manifest.yaml"
#: A fixed day in the example's term, so the pictures do not depend on when they are taken.
TODAY = dt.date(2026, 9, 1)
VIEWPORT = {"width": 1280, "height": 760}


def _chromium() -> str:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("screenshots: Chromium is not installed (scripts/test installs Debian's chromium)")


def take(out: Path = OUT) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from coursehub.hub.local import ContentServer, demo_guide, start_local_hub
    from coursehub.manifest.loader import load_manifest

    manifest, _ = load_manifest(MANIFEST)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="coursehub-shots-") as tmp:
        content = ContentServer(manifest, Path(tmp) / "content")
        hub = None
        try:
            hub = start_local_hub(manifest, workdir=Path(tmp) / "hub", extra_env={"COURSEHUB_TODAY": TODAY.isoformat()})
            guide = demo_guide(manifest, hub, content, today=TODAY)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                try:
                    page = browser.new_page(viewport=VIEWPORT)
                    page.goto(hub.url + "/hub/login")
                    page.fill("input[name=username]", guide.student)
                    page.fill("input[name=password]", hub.password)
                    page.click("[type=submit]")
                    page.wait_for_url(re.compile(r".*/(hub/home|hub/spawn|user/).*"), timeout=60_000)
                    # Hold nbgitpuller's pull (its event stream) until the page has been photographed:
                    # on loopback the pull would finish before anyone could see the page.
                    held = []
                    page.route("**/git-pull/api*", lambda route: held.append(route))
                    course_id, _, link = guide.links[0]
                    page.goto(link)
                    deadline = time.monotonic() + 150
                    while not held:
                        if time.monotonic() > deadline:
                            sys.exit(f"screenshots: the pull never started (at {page.url})")
                        launch = page.locator("a[href*='/hub/spawn/']")
                        if "/hub/user/" in page.url and launch.count():
                            launch.first.click()
                        page.wait_for_timeout(250)
                    page.wait_for_selector("#status-panel-title")
                    page.wait_for_timeout(4000)  # the progress bar's first steps
                    written.append(out / "pull.png")
                    page.screenshot(path=str(written[-1]))
                    for route in held:
                        route.continue_()
                    page.unroute("**/git-pull/api*")
                    page.wait_for_url(re.compile(r".*/(lab|tree)/.*"), timeout=120_000)
                    name = Path(manifest.course(course_id).assignments[0].path).name
                    page.wait_for_selector(f".lm-TabBar-tab[title*='{name}'], .lm-TabBar-tabLabel:text-is('{name}')", timeout=120_000)
                    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
                    # JupyterLab asks once whether to fetch Jupyter news; say no so the picture shows the notebook
                    page.wait_for_timeout(2000)
                    news = page.locator(".Toastify__toast button", has_text=re.compile(r"^No$"))
                    if news.count():
                        news.first.click()
                        page.wait_for_timeout(800)
                    written.append(out / "assignment.png")
                    page.screenshot(path=str(written[-1]))
                finally:
                    browser.close()
        finally:
            if hub is not None:
                hub.stop()
            content.stop()
    return written


if __name__ == "__main__":
    for path in take():
        print(path.relative_to(REPO))
