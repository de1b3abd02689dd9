"""End to end: generated links clicked by students on a real local JupyterHub, pulling from a real
git server on loopback with the real nbgitpuller, and ``links check`` against the same server.

Each student's server spawns once and is reused across that student's clicks; every server started
here is stopped at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from gitserver import CONTENT, git_server  # noqa: F401  (fixture)
from nbgitpuller_client import Student

from coursehub.links.url import build_link

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub"), pytest.mark.slow]

UNICODE_PATH = "extras/Lab 2 — données ünïcode.ipynb"


def notebook(text: str) -> str:
    return json.dumps(
        {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        indent=1,
    )


@pytest.fixture(scope="module")
def c8_repo(git_server):
    """data-c8-materials, also served as data-c8-materials.git, with a release/fa26 branch."""
    url = git_server.create_repo("data-c8-materials", CONTENT / "data-c8-materials", extra={UNICODE_PATH: notebook("# Lab 2")})
    git_server.alias("data-c8-materials", "data-c8-materials.git")
    git_server.push("data-c8-materials", {"hw/hw02/hw02.ipynb": notebook("# HW 2 (fall release)")}, branch="release/fa26")
    return url


@pytest.fixture(scope="module")
def c88_repo(git_server):
    return git_server.create_repo("data-c88-materials", CONTENT / "data-c88-materials")


def _student(local_hub, example_manifest, course: str, index: int):
    student = Student(local_hub, example_manifest.course(course).roster[index])
    student.login()
    return student


@pytest.fixture(scope="module")
def lab_student(local_hub, example_manifest):
    student = _student(local_hub, example_manifest, "data-c8-fa26", -1)
    try:
        yield student
    finally:
        student.stop_server()


@pytest.fixture(scope="module")
def nb_student(local_hub, example_manifest):
    student = _student(local_hub, example_manifest, "data-c88-fa26", -2)
    try:
        yield student
    finally:
        student.stop_server()


def home(hub, student) -> Path:
    return hub.workdir / "home" / student.name


def assert_opens(student, click, link, path: str) -> None:
    """The pull finished, the file is in the home folder, and the redirect opens exactly it."""
    assert click.finished, click.output
    target = f"{link.folder}/{path}"
    assert (home(student.hub, student) / target).is_file()
    assert click.targetpath == link.folder
    assert click.path == link.fields.urlpath
    contents = student.get(f"{click.base_url}api/contents/{quote(target)}", params={"content": "0"})
    assert contents.status_code == 200, contents.text
    assert contents.json()["path"] == target


def test_lab_link_with_git_suffix(local_hub, lab_student, c8_repo):
    link = build_link(hub=local_hub.url, repo=c8_repo + ".git", branch="main", path="lab/lab01/lab01.ipynb", interface="lab")
    click = lab_student.click(link.url)
    assert_opens(lab_student, click, link, "lab/lab01/lab01.ipynb")
    assert link.folder == "data-c8-materials.git"
    assert click.redirect == f"/user/{lab_student.name}/lab/tree/data-c8-materials.git/lab/lab01/lab01.ipynb"
    page = lab_student.get(click.redirect)
    assert page.status_code == 200 and "JupyterLab" in page.text
    # nbgitpuller's own generator strips .git and sends the student to a folder that does not exist
    wrong = lab_student.get(f"{click.base_url}api/contents/data-c8-materials/lab/lab01/lab01.ipynb")
    assert wrong.status_code == 404


def test_lab_link_with_trailing_slash_and_non_ascii_path(local_hub, lab_student, c8_repo):
    link = build_link(hub=local_hub.url, repo=c8_repo + "/", path=UNICODE_PATH, interface="lab")
    click = lab_student.click(link.url)
    assert_opens(lab_student, click, link, UNICODE_PATH)
    assert link.folder == "data-c8-materials"
    assert click.redirect.endswith("lab/tree/data-c8-materials/" + UNICODE_PATH)
    assert lab_student.get(click.redirect).status_code == 200


def test_targetpath_and_branch_with_a_slash(local_hub, lab_student, c8_repo):
    link = build_link(
        hub=local_hub.url, repo=c8_repo, branch="release/fa26", targetpath="courses/data c8", path="hw/hw02/hw02.ipynb"
    )
    click = lab_student.click(link.url)
    assert_opens(lab_student, click, link, "hw/hw02/hw02.ipynb")
    clone = home(local_hub, lab_student) / "courses" / "data c8"
    assert git_branch(clone) == "release/fa26"


def git_branch(clone: Path) -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()


def test_notebook7_link_and_second_click_keeps_student_edits(local_hub, nb_student, c88_repo, git_server):
    link = build_link(hub=local_hub.url, repo=c88_repo, branch="main", path="lab01/lab01.ipynb", interface="notebook")
    click = nb_student.click(link.url)
    assert_opens(nb_student, click, link, "lab01/lab01.ipynb")
    # Notebook 7 answers tree/<file> by redirecting to the notebook view of exactly that file
    page = nb_student.get(click.redirect)
    assert page.status_code == 200
    assert page.url.endswith(f"/user/{nb_student.name}/notebooks/data-c88-materials/lab01/lab01.ipynb")

    # the student works on lab01 (saved through the server, as the notebook UI would) ...
    api = f"{click.base_url}api/contents/data-c88-materials/lab01/lab01.ipynb"
    model = nb_student.get(api).json()
    model["content"]["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "MY ANSWER: 42"})
    xsrf = nb_student.session.cookies.get("_xsrf", path=click.base_url) or ""
    saved = nb_student.session.put(
        local_hub.url + api, json={"type": "notebook", "format": "json", "content": model["content"]},
        headers={"X-XSRFToken": xsrf}, timeout=30,
    )
    assert saved.status_code == 200, saved.text
    # ... the instructor publishes lab02 and fixes hw01 ...
    git_server.push("data-c88-materials", {"lab02/lab02.ipynb": notebook("# Lab 2"), "hw01/hw01.ipynb": notebook("# HW 1 (fixed)")})
    # ... and the student clicks the lab02 link
    link2 = build_link(hub=local_hub.url, repo=c88_repo, branch="main", path="lab02/lab02.ipynb", interface="notebook")
    click2 = nb_student.click(link2.url)
    assert_opens(nb_student, click2, link2, "lab02/lab02.ipynb")
    clone = home(local_hub, nb_student) / "data-c88-materials"
    assert "MY ANSWER: 42" in (clone / "lab01" / "lab01.ipynb").read_text()
    assert "HW 1 (fixed)" in (clone / "hw01" / "hw01.ipynb").read_text()
    assert nb_student.get(click2.redirect).url.endswith("/notebooks/data-c88-materials/lab02/lab02.ipynb")


def test_generated_course_links_work_on_the_hub(local_hub, lab_student, example_manifest, c8_repo):
    """The build family's links, pointed at this hub and git server, open every assignment."""
    from coursehub.links.pages import course_links

    manifest = example_manifest.model_copy(deep=True)
    manifest.hub.url = local_hub.url
    course = manifest.course("data-c8-fa26")
    course.content.repo = c8_repo
    course.content.targetpath = "fa26/c8"
    for item in course_links(manifest, course):
        click = lab_student.click(item.link.url)
        assert_opens(lab_student, click, item.link, item.assignment.path)
