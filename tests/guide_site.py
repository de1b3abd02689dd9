"""The built guide site for the browser tests: ``mkdocs build --strict`` into a temporary folder, served on
an ephemeral 127.0.0.1 port by a threaded ``http.server`` that records every request, and a headless
Chromium (Debian's, through Playwright) whose every request to another host is blocked and recorded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from browsers import chromium as find_chromium

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "guides_gen"))
from vendor import vendored  # noqa: E402  (the site's pinned JavaScript, and the tests' QR decoder)

__all__ = ["build_site", "offline_browser", "serve", "vendored"]


#: The line of mkdocs.yml naming the manifest the catalogue is generated from.
MANIFEST_SETTING = "coursehub_manifest: course-templates/example-university/manifest.yaml"


def build_site(out: Path, *, manifest: Path | None = None) -> Path:
    """``mkdocs build --strict`` of the repository's site into ``out``; fails the test with mkdocs' stderr.

    With ``manifest``, the site's catalogue is generated from that manifest instead of the example's
    (a copy of the site's sources beside ``out`` points at it; the repository is not touched).
    """
    config, cwd = REPO / "mkdocs.yml", REPO
    if manifest is not None:
        cwd = out.parent / f"{out.name}-sources"
        cwd.mkdir(parents=True)
        for folder in ("guides", "guides_gen"):
            shutil.copytree(REPO / folder, cwd / folder)
        text = config.read_text(encoding="utf-8")
        assert MANIFEST_SETTING in text, "mkdocs.yml no longer names the catalogue's manifest this way"
        config = cwd / "mkdocs.yml"
        config.write_text(text.replace(MANIFEST_SETTING, f"coursehub_manifest: {manifest.resolve()}"), encoding="utf-8")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on http://127.0.0.1:<port>; yields (base URL, list of (status, path) requested)."""
    requests: list[tuple[int, str]] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append((int(code) if str(code).isdigit() else 0, self.path))

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# Material renders a diagram into a *closed* shadow root; opening it lets a test look at the SVG inside.
OPEN_SHADOW_ROOTS = (
    "const attach = Element.prototype.attachShadow;"
    "Element.prototype.attachShadow = function (o) { return attach.call(this, Object.assign({}, o, {mode: 'open'})); };"
)


@contextlib.contextmanager
def offline_browser(base: str, **context_args):
    """A Chromium context that can reach only ``base``; yields (context, list of blocked external URLs)."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(base + "/") or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            context = browser.new_context(**context_args)
            context.add_init_script(OPEN_SHADOW_ROOTS)
            context.route("**/*", route)
            yield context, blocked
        finally:
            browser.close()
