"""The built guide site in a real browser: headless Chromium against the site served on 127.0.0.1.

The site is built with ``mkdocs build --strict`` into a temporary folder and served by a threaded
``http.server`` on an ephemeral loopback port that records every request. Chromium (Debian's, which
``scripts/test`` installs) dumps each page's DOM after its scripts ran, and takes a screenshot that is
kept under ``test-output/guides/`` for a human to look at. The machine has no network: the Mermaid
library (loaded from a CDN when a reader views the page) is absent, so the diagrams are asserted as
their source text, which is what a reader without the CDN sees too.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browsers import chromium as find_chromium

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "guides"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    """The strictly built site on http://127.0.0.1:<port>/, with the list of (status, path) requested."""
    out = tmp_path_factory.mktemp("browser-site") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    requests: list[tuple[int, str]] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append((int(code) if str(code).isdigit() else 0, self.path))

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        find_chromium(),
        "--headless",
        "--no-sandbox",  # the suite runs as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        "--virtual-time-budget=4000",
        *args,
    ]
    # Its own process group, so a hung browser and its helpers can all be stopped.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail(f"chromium did not finish: {' '.join(args)}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


class _Dom(HTMLParser):
    """The bits of a rendered page the assertions need."""

    def __init__(self):
        super().__init__()
        self.title = ""
        self.nav_links: list[str] = []
        self.headers: list[str] = []
        self.images: list[dict] = []
        self.pre_texts: list[str] = []
        self._in_pre = False
        self._in_title = self._in_th = False
        self._in_nav = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "title":
            self._in_title = True
        if tag == "nav" and "md-nav" in classes:
            self._in_nav += 1
        if tag == "a" and self._in_nav and a.get("href"):
            self.nav_links.append(a["href"])
        if tag == "th":
            self._in_th = True
            self.headers.append("")
        if tag == "img":
            self.images.append(a)
        if tag == "pre":
            self._in_pre = True
            self.pre_texts.append("")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "th":
            self._in_th = False
        if tag == "pre":
            self._in_pre = False
        if tag == "nav" and self._in_nav:
            self._in_nav -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_th and self.headers:
            self.headers[-1] += data.strip()
        if self._in_pre:
            self.pre_texts[-1] += data


def _render(tmp_path: Path, url: str, shot: str) -> _Dom:
    """Dump the DOM of ``url`` after its scripts ran, and save a screenshot as test output."""
    dumped = _run_chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = SHOTS / shot
    png.unlink(missing_ok=True)
    pictured = _run_chromium(tmp_path, f"--screenshot={png}", url)
    assert pictured.returncode == 0, pictured.stderr[-2000:]
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, f"{png} is not a rendered page"
    _assert_not_blank(png)
    dom = _Dom()
    dom.feed(dumped.stdout)
    assert "md-nav" in dumped.stdout  # Material's navigation is on the page
    return dom


def _assert_not_blank(png: Path) -> None:
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.std() > 0.05, f"{png} looks blank"


def test_home_page_renders_with_navigation(served_site, tmp_path):
    base, requests = served_site
    dom = _render(tmp_path, f"{base}/", "home.png")
    assert dom.title.strip().startswith("coursehub guides")
    for target in ("getting-started/", "nbgitpuller/", "choosing-a-grader/", "catalogue/", "reference/manifest/"):
        assert any(href.rstrip("/").endswith(target.rstrip("/")) for href in dom.nav_links), target
    # The manifest-to-hub diagram: offline, Material cannot fetch Mermaid and shows the diagram's source.
    assert any(text.startswith("flowchart LR") and "coursehub build" in text for text in dom.pre_texts)
    assert (200, "/assets/coursehub.css") in requests
    # Material's JavaScript ran in the browser: its search worker fetched the index.
    assert (200, "/search/search_index.json") in requests


def test_grader_decision_page_shows_the_matrix(served_site, tmp_path):
    base, _ = served_site
    dom = _render(tmp_path, f"{base}/choosing-a-grader/", "choosing-a-grader.png")
    assert dom.title.strip().startswith("Choosing an auto-grader")
    tools = ["otter-grader", "nbgrader", "Gradescope", "PrairieLearn", "GitHub Classroom", "CodeGrade", "PyBryt"]
    tools.append("no grader")
    # The matrix rendered as a table whose header row has every option, in order.
    assert [h for h in dom.headers if h in tools] == tools


def test_course_catalogue_page_shows_qr_codes(served_site, tmp_path, example_manifest):
    base, requests = served_site
    course = example_manifest.course("data-c8-fa26")
    dom = _render(tmp_path, f"{base}/catalogue/{course.id}/", "catalogue-data-c8-fa26.png")
    assert dom.title.strip().startswith(course.title)
    qrs = [img for img in dom.images if "coursehub-qr" in (img.get("class") or "")]
    assert [img["src"] for img in qrs] == [f"qr/{a.id}.svg" for a in course.assignments]
    # The browser fetched each QR image from the server, and got it.
    for a in course.assignments:
        assert (200, f"/catalogue/{course.id}/qr/{a.id}.svg") in requests
    # Nothing the pages asked the local server for was missing.
    assert not [path for status, path in requests if status >= 400]
