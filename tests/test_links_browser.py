"""A generated link clicked in headless Chromium: nbgitpuller's own page and JavaScript do the pull and
the redirect, and JupyterLab opens exactly the assignment's file.

Everything is real: the shared local hub, the git server on loopback, the hub's login and "launch
server" pages, nbgitpuller's status page consuming ``git-pull/api``, and JupyterLab.
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote, urlsplit

import pytest
from browsers import browser, pull_status  # noqa: F401  (fixture)
from gitserver import CONTENT, git_server  # noqa: F401  (fixture)
from nbgitpuller_client import Student

from coursehub.links.url import build_link

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub"), pytest.mark.slow, pytest.mark.browser]

FILE = "tutorials/Tutorial 1 — xarray été.ipynb"


@pytest.fixture(scope="module")
def student_name(local_hub, example_manifest):
    # a hackweek participant who is in no other course, so the hub starts the server without asking
    others = {u for c in example_manifest.courses if c.id != "climate-hackweek-26" for u in c.roster}
    name = next(u for u in reversed(example_manifest.course("climate-hackweek-26").roster) if u not in others)
    try:
        yield name
    finally:
        Student(local_hub, name).stop_server()


def test_link_clicked_in_chromium_opens_the_file_in_jupyterlab(local_hub, git_server, browser, student_name):
    repo = git_server.create_repo(
        "climate-hackweek", CONTENT / "climate-hackweek", extra={FILE: (CONTENT / "climate-hackweek/tutorials/01-xarray.ipynb").read_text()}
    )
    git_server.alias("climate-hackweek", "climate-hackweek.git")
    link = build_link(hub=local_hub.url, repo=repo + ".git/", branch="main", path=FILE, interface="lab")
    page = browser.new_page()
    try:
        page.goto(local_hub.url + "/hub/login")
        page.fill("input[name=username]", student_name)
        page.fill("input[name=password]", local_hub.password)
        page.click("[type=submit]")
        page.wait_for_url(re.compile(r".*/(hub/home|hub/spawn|user/).*"), timeout=60_000)

        page.goto(link.url)
        # spawn (pressing "Launch server" if the hub shows its not-running page) -> spawn-pending ->
        # git-pull (nbgitpuller's page streams the pull) -> JupyterLab on the file
        deadline = time.monotonic() + 150
        while "/lab/tree/" not in page.url:
            assert time.monotonic() < deadline, f"stuck at {page.url}"
            status = pull_status(page)
            assert not (status or "").startswith("Error"), status
            launch = page.locator("a[href*='/hub/spawn/']")
            if "/hub/user/" in page.url and launch.count():
                launch.first.click()
            page.wait_for_timeout(250)
        page.wait_for_load_state()
        opened = unquote(urlsplit(page.url).path)
        assert opened == f"/user/{student_name}/lab/tree/{link.folder}/{FILE}"
        assert (local_hub.workdir / "home" / student_name / link.folder / FILE).is_file()
        # JupyterLab itself opened the notebook: a document tab labelled with its file name
        name = FILE.rsplit("/", 1)[1]
        page.wait_for_selector(f".lm-TabBar-tab[title*='{name}'], .lm-TabBar-tabLabel:text-is('{name}')", timeout=90_000)
    finally:
        page.close()
