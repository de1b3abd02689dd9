"""Students' JupyterLab in headless Chromium on the real local hub: nbgrader's menus only in nbgrader
courses, and an assignment notebook that opens unmodified.

The local servers all run in one Python environment, which has nbgrader installed, exactly like an
image (or a single machine) shared by an otter course and an nbgrader course: the runtime points each
course's servers at their Jupyter configuration folder, which turns nbgrader off for every course
that does not grade with it. The links are the demo's (``coursehub hub up``): the courses' local
content served by :class:`coursehub.hub.local.ContentServer`.
"""

from __future__ import annotations

import re
import time

import pytest
from browsers import browser, pull_status  # noqa: F401  (fixture)
from nbgitpuller_client import Student

from coursehub.hub.local import ContentServer
from coursehub.links.pages import assignment_link

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub"), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def content(example_manifest, tmp_path_factory):
    server = ContentServer(example_manifest, tmp_path_factory.mktemp("content"))
    try:
        yield server
    finally:
        server.stop()


def only_in(manifest, course_id: str) -> str:
    """A student of ``course_id`` who is in no other course: the second such in roster order (the link
    tests clone other repositories into the same folders of the last one's home)."""
    others = {u for c in manifest.courses if c.id != course_id for u in c.roster}
    return [u for u in manifest.course(course_id).roster if u not in others][1]


@pytest.fixture
def page_as(local_hub, browser):
    pages, students = [], []

    def login(name: str):
        page = browser.new_page()
        pages.append(page)
        students.append(Student(local_hub, name))
        page.goto(local_hub.url + "/hub/login?next=/hub/home")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", local_hub.password)
        page.click("[type=submit]")
        page.wait_for_url(re.compile(r".*/hub/home.*"), timeout=60_000)
        return page

    try:
        yield login
    finally:
        for page in pages:
            page.close()
        for s in students:
            s.stop_server()


def open_link(page, url: str, until: str) -> None:
    """Follow an assignment link: spawn, pull, then the interface (``until`` is in its URL)."""
    page.goto(url)
    deadline = time.monotonic() + 150
    while until not in page.url:
        assert time.monotonic() < deadline, f"stuck at {page.url}"
        status = pull_status(page)
        assert not (status or "").startswith("Error"), status
        page.wait_for_timeout(250)
    page.wait_for_load_state()


def open_assignment(local_hub, manifest, content, page_as, course_id: str, until: str):
    """Log in as a student of the course alone and follow its lab01 link; (page, student, course)."""
    course = manifest.course(course_id)
    student = only_in(manifest, course.id)
    link = assignment_link(manifest, course, course.assignment("lab01"), hub=local_hub.url, repo=content.repo_url(course.id))
    page = page_as(student)
    open_link(page, link.url, until)
    return page, student, course


def wait_for_idle_kernel(local_hub, student: str, server: str) -> None:
    """The notebook's kernel has started and answered (JupyterLab has recorded its metadata)."""
    api = Student(local_hub, student)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        model = api.servers().get(server) or {}
        pid = model.get("state", {}).get("pid")
        if pid:
            import psutil

            if any("ipykernel" in " ".join(c.cmdline()) for c in psutil.Process(pid).children(recursive=True)):
                break
        time.sleep(0.5)
    time.sleep(5)  # kernel_info round trip and metadata update in the page


def menus(page) -> list[str]:
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=90_000)
    return page.locator(".lm-MenuBar-itemLabel").all_inner_texts()


def test_otter_course_has_no_nbgrader_menu_and_the_notebook_opens_unmodified(local_hub, example_manifest, content, page_as):
    page, student, course = open_assignment(local_hub, example_manifest, content, page_as, "data-c8-fa26", "/lab/tree/")
    assert course.grader == "otter"
    assert f"/user/{student}/{course.id}/lab/tree/data-c8-materials/lab/lab01/lab01.ipynb" in page.url
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    wait_for_idle_kernel(local_hub, student, course.id)
    found = menus(page)
    assert "Kernel" in found and "Nbgrader" not in found, found
    # the assignment tab is not marked as modified once the kernel is up
    # (found by its title: which tab bar holds the "current" class depends on JupyterLab's layout restore)
    tab = page.locator(".lm-TabBar-tab", has_text="lab01.ipynb").first
    tab.wait_for(timeout=60_000)
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or "")
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0


def test_nbgrader_course_has_its_menu(local_hub, example_manifest, content, page_as):
    """The positive control: the same environment shows nbgrader's menu in the nbgrader course."""
    page, student, course = open_assignment(local_hub, example_manifest, content, page_as, "data-c88-fa26", "/notebooks/")
    assert course.grader == "nbgrader"
    page.goto(f"{local_hub.url}/user/{student}/{course.id}/lab")
    assert "Nbgrader" in menus(page)
