"""Per-course settings and staff access on a real JupyterHub (127.0.0.1, local processes).

The shared ``local_hub`` (the example university, today in term) proves what a course grants
(``tests/test_hub_up.py`` proves that an ended course grants nothing, on a hub of its own).
Users: zoe.silva34 (data-c8 only), zoe.khan51 (stat-20 only), chen.costa16 (data-c8 and data-c88),
prof-adhikari and ta-lee (data-c8 staff). A user's server for a course is the named server called
like the course. Every server a test starts is stopped by its fixture.
"""

from __future__ import annotations

import time

import psutil
import pytest
import requests
from nbgitpuller_client import login, open_server

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
        # an option naming another course is no way round it, and is not remembered for the next start
        r = local_hub.api("POST", f"/users/{BOTH}/servers/data-c8-fa26", json={"course": "stat-20-fa26"})
        assert r.status_code == 400
        r = local_hub.api("POST", f"/users/{BOTH}/servers/data-c8-fa26", json={})
        assert r.status_code in (201, 202), r.text
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


@pytest.mark.slow
def test_staff_api_tokens_open_a_students_server_when_scoped_to_that_student(local_hub, students_running):
    """JupyterHub's single-user servers cannot resolve a ``!group=`` filter (they do not know who is in
    the group: ``jupyterhub.services.auth.check_scopes`` resolves every filter *except* group -> user),
    so a staff token that carries the role's ``access:servers!group=...`` gets 403 from the server; the
    browser works because the hub resolves the group when it issues the server's OAuth token. A token
    asked for with the student's own scope works, and the hub grants one only for the staff's students."""
    staff = login(local_hub, "prof-adhikari")
    xsrf = {"X-XSRFToken": staff.cookies.get("_xsrf", path="/hub/") or ""}

    def token(*scopes):
        return staff.post(f"{local_hub.api_url}/users/prof-adhikari/tokens", json={"scopes": list(scopes), "expires_in": 600}, headers=xsrf)

    def contents(tok):
        r = requests.get(f"{local_hub.url}/user/{C8_STUDENT}/data-c8-fa26/api/contents", headers={"Authorization": f"token {tok}"}, timeout=30)
        return r.status_code

    group = token("access:servers!group=coursehub-data-c8-fa26-students")
    assert group.status_code == 201 and contents(group.json()["token"]) == 403
    for scope in (f"access:servers!user={C8_STUDENT}", f"access:servers!server={C8_STUDENT}/data-c8-fa26"):
        one = token(scope)
        assert one.status_code == 201, one.text
        assert contents(one.json()["token"]) == 200, scope
    # not a student of theirs: the hub refuses to issue the token at all
    refused = token(f"access:servers!user={STAT_STUDENT}")
    assert refused.status_code == 400 and "Not assigning requested scopes" in refused.json()["message"], refused.text
