"""A student in two courses, on the real local hub: each course's link opens that course's own server.

lena.nguyen46 is a student of data-c8 (JupyterLab, 1G guarantee, 2G limit, 30 min idle) and data-c88 (Notebook 7,
1G guarantee, 2G limit, 2 CPUs, 1 h idle). The generated links (pointed at this hub and at a git
server on loopback) are clicked as a browser would: ``/hub/user-redirect/<course>/git-pull`` goes
through the runtime's redirect hook to ``/hub/spawn/<user>/<course>``, which starts the named server
of that course, then nbgitpuller pulls and opens the file. Every server started here is stopped.
"""

from __future__ import annotations

import time

import psutil
import pytest
from gitserver import CONTENT, git_server  # noqa: F401  (fixture)
from nbgitpuller_client import Student

from coursehub.links.pages import assignment_link

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub"), pytest.mark.slow]

BOTH = "lena.nguyen46"  # the link tests clone other repositories into chen.costa16's folders
C8, C88 = "data-c8-fa26", "data-c88-fa26"
GIB = 1024**3


@pytest.fixture(scope="module")
def student(local_hub):
    s = Student(local_hub, BOTH)
    s.login()
    try:
        yield s
    finally:
        s.stop_server()


@pytest.fixture(scope="module")
def links(local_hub, git_server, example_manifest):
    """lab01 of each course, as ``coursehub build`` writes it but for this hub and git server."""
    repos = {
        C8: git_server.create_repo("two-courses-c8", CONTENT / "data-c8-materials"),
        C88: git_server.create_repo("two-courses-c88", CONTENT / "data-c88-materials"),
    }
    out = {}
    for course_id, repo in repos.items():
        course = example_manifest.course(course_id)
        out[course_id] = assignment_link(example_manifest, course, course.assignment("lab01"), hub=local_hub.url, repo=repo)
    return out


def server_env(student: Student, name: str) -> tuple[int, dict]:
    model = student.servers()[name]
    proc = psutil.Process(model["state"]["pid"])
    return proc.pid, proc.environ()


def save_answer(student: Student, base_url: str, path: str, text: str) -> None:
    api = f"{base_url}api/contents/{path}"
    model = student.get(api).json()
    model["content"]["cells"].append({"cell_type": "markdown", "metadata": {}, "source": text})
    xsrf = student.session.cookies.get("_xsrf", path=base_url) or ""
    r = student.session.put(
        student.hub.url + api, json={"type": "notebook", "format": "json", "content": model["content"]},
        headers={"X-XSRFToken": xsrf}, timeout=30,
    )
    assert r.status_code == 200, r.text


def test_each_course_link_opens_that_courses_server(local_hub, student, links):
    assert links[C8].fields.server == C8 and links[C88].fields.server == C88

    # data-c8's link: its own server, its settings
    click = student.click(links[C8].url)
    assert click.finished, click.output
    assert click.base_url == f"/user/{BOTH}/{C8}/"
    assert click.redirect == f"/user/{BOTH}/{C8}/lab/tree/data-c8-materials/lab/lab01/lab01.ipynb"
    assert student.get(click.redirect).status_code == 200
    c8_pid, env = server_env(student, C8)
    assert env["COURSEHUB_COURSE"] == C8 and env["JUPYTERHUB_DEFAULT_URL"] == "/lab"
    assert (int(env["MEM_LIMIT"]), int(env["MEM_GUARANTEE"]), float(env["CPU_LIMIT"])) == (2 * GIB, GIB, 1.0)
    assert "--ServerApp.shutdown_no_activity_timeout=1800" in psutil.Process(c8_pid).cmdline()
    save_answer(student, click.base_url, "data-c8-materials/lab/lab01/lab01.ipynb", "MY C8 ANSWER")

    # data-c88's link, while data-c8's server runs: a second server with data-c88's settings
    click = student.click(links[C88].url)
    assert click.finished, click.output
    assert click.base_url == f"/user/{BOTH}/{C88}/"
    assert click.redirect == f"/user/{BOTH}/{C88}/tree/data-c88-materials/lab01/lab01.ipynb"
    assert student.get(click.redirect).url.endswith(f"/user/{BOTH}/{C88}/notebooks/data-c88-materials/lab01/lab01.ipynb")
    c88_pid, env = server_env(student, C88)
    assert env["COURSEHUB_COURSE"] == C88 and env["JUPYTERHUB_DEFAULT_URL"] == "/tree"
    assert (int(env["MEM_LIMIT"]), int(env["MEM_GUARANTEE"]), float(env["CPU_LIMIT"])) == (2 * GIB, GIB, 2.0)
    assert "--ServerApp.shutdown_no_activity_timeout=3600" in psutil.Process(c88_pid).cmdline()
    assert set(student.servers()) == {C8, C88} and c88_pid != c8_pid

    # data-c8's work is untouched, and its link goes back to the same running server
    home = local_hub.workdir / "home" / BOTH
    assert "MY C8 ANSWER" in (home / "data-c8-materials/lab/lab01/lab01.ipynb").read_text()
    assert (home / "data-c88-materials/lab01/lab01.ipynb").is_file()
    click = student.click(links[C8].url)
    assert click.finished, click.output
    assert server_env(student, C8)[0] == c8_pid
    assert "MY C8 ANSWER" in (home / "data-c8-materials/lab/lab01/lab01.ipynb").read_text()


def test_a_student_in_two_courses_lands_on_the_home_page(local_hub, student, example_manifest):
    """Logging in goes to the home page (which lists the servers) for two courses, straight into the
    course's server for one."""
    r = student.session.get(local_hub.url + "/hub/", timeout=30)
    assert r.status_code == 200 and r.url.endswith("/hub/home")
    others = {u for c in example_manifest.courses if c.id != "stat-20-fa26" for u in c.roster}
    single = Student(local_hub, next(u for u in example_manifest.course("stat-20-fa26").roster if u not in others))
    single.login()
    try:
        r = single.session.get(local_hub.url + "/hub/", timeout=30, allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/hub/spawn/{single.name}/stat-20-fa26")
    finally:
        single.stop_server()
        deadline = time.monotonic() + 30
        while single.servers() and time.monotonic() < deadline:
            time.sleep(0.25)


def test_the_home_page_lists_every_course_of_the_student_with_a_link(local_hub, student, example_manifest):
    """A course's server exists only once opened; the home page still names each course and links to it."""
    page = student.session.get(local_hub.url + "/hub/home", timeout=30).text
    for course_id in (C8, C88):
        assert f'href="/hub/user-redirect/{course_id}/"' in page
        assert example_manifest.course(course_id).title in page
    assert "stat-20-fa26" not in page  # not one of this student's courses
