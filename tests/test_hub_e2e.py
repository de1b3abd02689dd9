"""Per-course settings and staff access on a real JupyterHub (127.0.0.1, local processes).

The shared ``local_hub`` (the example university, today in term) proves what a course grants; one
hub of our own, whose "today" is after the term, proves that an ended course grants nothing and that
``coursehub hub up`` prints a link that really pulls the course content.
Users: zoe.silva34 (data-c8 only), zoe.khan51 (stat-20 only), chen.costa16 (data-c8 and data-c88),
prof-adhikari and ta-lee (data-c8 staff). A user's server for a course is the named server called
like the course. Every server a test starts is stopped by its fixture; the
hub of our own is ``coursehub hub up`` itself, stopped with Ctrl-C (SIGINT) as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from html.parser import HTMLParser
from types import SimpleNamespace

import psutil
import pytest
import requests
from nbgitpuller_client import Student

from coursehub.hub.local import DEMO_PASSWORD, free_port

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub")]

C8_STUDENT, STAT_STUDENT, BOTH = "zoe.silva34", "zoe.khan51", "chen.costa16"
GIB = 1024**3


def start_servers(hub, servers: dict[str, str]):
    """Start each user's server for a course (user -> course id) and wait until all are ready."""
    for user, course in servers.items():
        r = hub.api("POST", f"/users/{user}/servers/{course}", json={})
        assert r.status_code in (201, 202), r.text
    models = {}
    deadline = time.monotonic() + 90
    for user, course in servers.items():
        while time.monotonic() < deadline:
            model = hub.api("GET", f"/users/{user}").json()["servers"].get(course)
            if model and model["ready"]:
                models[user] = model
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{user}'s server did not become ready; see {hub.log_path}")
    return models


def stop_servers(hub, users):
    for user in users:
        for name in hub.api("GET", f"/users/{user}").json()["servers"]:
            hub.api("DELETE", f"/users/{user}/servers/{name}" if name else f"/users/{user}/server")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(hub.api("GET", f"/users/{u}").json()["servers"] for u in users):
        time.sleep(0.5)


def server_process(model) -> psutil.Process:
    """The single-user server's process (LocalProcessSpawner keeps its pid in the server's state)."""
    return psutil.Process(model["state"]["pid"])


def login(hub, user) -> requests.Session:
    s = requests.Session()
    s.get(hub.url + "/hub/login")
    # next=/hub/home: a plain login would go on to start the user's own server
    r = s.post(hub.url + "/hub/login?next=/hub/home", data={"username": user, "password": hub.password, "_xsrf": s.cookies.get("_xsrf")})
    assert r.status_code == 200 and r.url.endswith("/hub/home"), (r.status_code, r.url)
    return s


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"], a.get("value", "")))


def open_server(session: requests.Session, hub, owner: str, server: str) -> int:
    """Open ``owner``'s ``server`` as the session's user, as a browser would; the final status code.

    Opening someone else's server goes through JupyterHub's OAuth page, where the visitor confirms
    ("Authorize"); a visitor without ``access:servers`` on it gets 403 there instead.
    """
    r = session.get(f"{hub.url}/user/{owner}/{server}/tree")
    if "/oauth2/authorize" in r.url and r.status_code == 200:
        form = _Inputs()
        form.feed(r.text)
        r = session.post(r.url, data=form.fields)
    if r.status_code != 200:
        return r.status_code
    return session.get(f"{hub.url}/user/{owner}/{server}/api/contents").status_code


@pytest.fixture(scope="module")
def students_running(local_hub):
    servers = {C8_STUDENT: "data-c8-fa26", STAT_STUDENT: "stat-20-fa26"}
    try:
        yield start_servers(local_hub, servers)
    finally:
        stop_servers(local_hub, list(servers))


@pytest.mark.slow
def test_students_start_with_their_courses_settings(students_running):
    c8 = server_process(students_running[C8_STUDENT])
    env, args = c8.environ(), c8.cmdline()
    assert env["COURSEHUB_COURSE"] == "data-c8-fa26" and env["COURSEHUB_IMAGE"] == "data8"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab"
    # data-c8 raises the hub's 1G limit to 2G with a 1G guarantee (limit at most 2x the guarantee)
    assert (int(env["MEM_LIMIT"]), int(env["MEM_GUARANTEE"])) == (2 * GIB, GIB)
    assert (float(env["CPU_LIMIT"]), float(env["CPU_GUARANTEE"])) == (1.0, 0.05)
    assert "--ServerApp.shutdown_no_activity_timeout=1800" in args and "--MappingKernelManager.cull_idle_timeout=1800" in args

    stat = server_process(students_running[STAT_STUDENT]).environ()
    assert stat["COURSEHUB_COURSE"] == "stat-20-fa26" and stat["COURSEHUB_IMAGE"] == "r-stats"
    assert stat["JUPYTERHUB_DEFAULT_URL"] == "/rstudio" and int(stat["MEM_GUARANTEE"]) == GIB


@pytest.mark.slow
def test_staff_open_their_students_servers_and_no_others(local_hub, students_running):
    for staff in ("prof-adhikari", "ta-lee"):
        s = login(local_hub, staff)
        assert open_server(s, local_hub, C8_STUDENT, "data-c8-fa26") == 200, staff
        assert open_server(s, local_hub, STAT_STUDENT, "stat-20-fa26") == 403, staff
    # a student is no staff: not even a classmate's server
    assert open_server(login(local_hub, BOTH), local_hub, C8_STUDENT, "data-c8-fa26") == 403
    # the stat-20 instructor is refused for data-c8's student
    assert open_server(login(local_hub, "prof-lindqvist"), local_hub, C8_STUDENT, "data-c8-fa26") == 403
    assert open_server(login(local_hub, "prof-lindqvist"), local_hub, STAT_STUDENT, "stat-20-fa26") == 200


def test_staff_see_only_their_students_in_the_admin_page(local_hub, example_manifest):
    s = login(local_hub, "ta-lee")
    assert s.get(local_hub.url + "/hub/admin").status_code == 200
    names = {u["name"] for u in s.get(local_hub.url + "/hub/api/users", params={"limit": 500}).json()}
    # exactly the group's members now (other tests may sync the shared hub's rosters)
    members = set(local_hub.api("GET", "/groups/coursehub-data-c8-fa26-students").json()["users"])
    c8 = next(c for c in example_manifest.courses if c.id == "data-c8-fa26")
    assert names == members and len(members & set(c8.roster)) > 100
    # and a student has no admin page at all
    assert login(local_hub, C8_STUDENT).get(local_hub.url + "/hub/admin").status_code == 403


def test_a_server_that_is_not_one_of_your_courses_is_refused(local_hub):
    s = login(local_hub, BOTH)
    try:
        # the spawn page, for a course of the hub that is not theirs and for a made-up name
        for name, why in (("stat-20-fa26", "not enrolled in stat-20-fa26"), ("my-scratch", "is not a course on this hub")):
            r = s.get(f"{local_hub.url}/hub/spawn/{BOTH}/{name}")
            assert r.status_code == 403 and why in r.text, (name, r.status_code)
        # the REST API, even with the admin's token
        r = local_hub.api("POST", f"/users/{BOTH}/servers/climate-hackweek-26", json={})
        assert r.status_code == 403 and "not enrolled" in r.json()["message"]
        # an option naming another course is no way round it
        r = local_hub.api("POST", f"/users/{BOTH}/servers/data-c8-fa26", json={"course": "stat-20-fa26"})
        assert r.status_code == 400
        # nothing refused was recorded as a server of theirs
        every = local_hub.api("GET", f"/users/{BOTH}", params={"include_stopped_servers": "1"}).json()["servers"]
        assert not {"stat-20-fa26", "my-scratch", "climate-hackweek-26"} & set(every)
    finally:
        stop_servers(local_hub, [BOTH])


def test_sync_service_holds_only_its_role(local_hub):
    assert local_hub.sync_token
    headers = {"Authorization": f"token {local_hub.sync_token}"}
    r = requests.get(local_hub.api_url + "/groups/coursehub-data-c8-fa26-students", headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["properties"] == {"coursehub": {"course": "data-c8-fa26", "role": "students"}}
    # no server powers: it cannot start anybody's server
    r = requests.post(local_hub.api_url + f"/users/{C8_STUDENT}/server", headers=headers, timeout=30)
    assert r.status_code == 403


@pytest.fixture
def hub_up_after_term(tmp_path, python_bin, example_manifest_path):
    """``coursehub hub up --today <after the term>`` as a user runs it: a child process, stopped by Ctrl-C."""
    port = free_port()
    proc = subprocess.Popen(
        [str(python_bin / "coursehub"), "hub", "up", str(example_manifest_path), "--port", str(port), "--workdir", str(tmp_path), "--today", "2027-01-10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(line.startswith("    http") for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert any(line.startswith("    http") for line in lines), (lines, proc.stderr.read() if proc.poll() is not None else "")
        hub = SimpleNamespace(url=f"http://127.0.0.1:{port}", password=DEMO_PASSWORD)
        yield proc, hub, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def own_api(student: Student, hub):
    """The student's own view of the REST API (their cookie): enough to wait for their server."""
    return lambda method, path, **kw: student.session.request(method, hub.url + "/hub/api" + path, timeout=30, **kw)


@pytest.mark.slow
def test_hub_up_prints_a_working_link_and_an_ended_course_grants_nothing(hub_up_after_term):
    proc, hub, lines = hub_up_after_term
    text = "\n".join(lines)
    assert f"running at {hub.url}" in text and f"password (everyone): {DEMO_PASSWORD}" in text
    assert "student:    zoe.khan" not in text  # the course shown is data-c8, its student only in data-c8
    student_name = re.search(r"student:\s+(\S+)\s+in data-c8-fa26", text).group(1)
    assert "not in term on 2027-01-10" in text and "instructor: prof-adhikari" in text
    link = next(line.strip() for line in lines if line.startswith("    http"))

    student = Student(hub, student_name)
    student.login()
    hub.api = own_api(student, hub)
    click = student.click(link)
    assert click.finished, click.output
    assert student.get(click.redirect).status_code == 200  # the notebook, pulled from the local content
    assert student.get(f"/user/{student_name}/api/contents/data-c8-materials/lab/lab01/lab01.ipynb").status_code == 200

    # the term is over: the hub's defaults, not data-c8's 2G, and the instructor no longer gets in
    servers = [p for p in psutil.Process(proc.pid).children(recursive=True) if _env(p).get("JUPYTERHUB_USER") == student_name]
    assert len(servers) == 1
    env = _env(servers[0])
    assert env["COURSEHUB_COURSE"] == "" and int(env["MEM_LIMIT"]) == GIB
    instructor = login(hub, "prof-adhikari")
    assert open_server(instructor, hub, student_name) == 403
    assert instructor.get(hub.url + "/hub/admin").status_code == 403

    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert not psutil.pid_exists(servers[0].pid) or servers[0].status() == psutil.STATUS_ZOMBIE


def _env(p: psutil.Process) -> dict:
    try:
        return p.environ()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return {}
