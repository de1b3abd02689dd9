"""Sign-in from the LMS, end to end: a test LMS on loopback launches into a real JupyterHub configured
from the example manifest (its `hub.lms` pointed at the test platform).

LTI 1.3: a student launch from data-c8's context lands in data-c8's groups, starts with data-c8's
settings and, with an assignment's launch URL, opens the assignment; an instructor gets data-c8's
instructor role only; a TA sent with the principal Instructor role too stays a TA; a label pattern
finds data-c88; forged tokens (another key, another audience, expired), a replayed form post (with
and without the stolen cookies) and another deployment are refused and create nobody; a launch from
an LMS course no course lists signs in with the hub's defaults. LTI 1.1: the same over a signed POST,
and a wrong secret, a replayed nonce and an old timestamp are refused.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import psutil
import pytest
import requests
from lti_platform import ROLE, Launch, Platform, lti13_launch, signed_lti11_launch, submit_auto_post
from nbgitpuller_client import Student

from coursehub.hub.local import ContentServer, start_local_hub
from coursehub.links.pages import assignment_link
from coursehub.links.url import link_url
from coursehub.manifest import Lti11, Lti13

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.xdist_group("hub")]

C8, C88 = "data-c8-fa26", "data-c88-fa26"
IN_TERM = {"COURSEHUB_TODAY": "2026-09-15"}
GIB = 1024**3
LTI11_SECRET_ENV = "COURSEHUB_TEST_LTI11_SECRET"


def context_of(manifest, course_id):
    return manifest.course(course_id).lms.context_id


def assignment_links(manifest, content, hub_url, course_id):
    """(the assignment's nbgitpuller link, its LTI launch URL, the file it opens) on the local content
    server: the course's own links, which open its named server."""
    course = manifest.course(course_id)
    assignment = course.assignments[0]
    link = assignment_link(manifest, course, assignment, hub=hub_url, repo=content.repo_url(course_id))
    lti = link_url(dataclasses.replace(link.fields, launch="lti"))
    return link, SimpleNamespace(url=lti), f"{link.folder}/{assignment.path}"


def user(hub, name):
    r = hub.api("GET", f"/users/{name}")
    return r.json() if r.status_code == 200 else None


def groups(hub, name):
    return set(user(hub, name)["groups"])


def server_env(hub, name, server="", timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = user(hub, name)["servers"].get(server)
        if model and model.get("ready"):
            return psutil.Process(model["state"]["pid"]).environ()
        time.sleep(0.25)
    raise AssertionError(f"{name}'s server did not become ready; see {hub.log_path}")


def stop(hub, name):
    for server in user(hub, name)["servers"]:
        hub.api("DELETE", f"/users/{name}/servers/{server}" if server else f"/users/{name}/server")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and user(hub, name)["servers"]:
        time.sleep(0.25)


def opens_assignment(hub, session, name, landed: requests.Response, expected_file: str):
    """The launch landed on the user's git-pull; carry on as the browser: spawn, pull, open the file."""
    # straight to the pull, or (the course's server starting) to spawn-pending with the pull as next
    assert f"/user/{name}/{C8}/git-pull?" in unquote(landed.url), (landed.status_code, landed.url)
    student = Student(hub, name)
    student.session = session
    click = student.click(landed.url)
    assert click.finished, click.output
    assert (hub.workdir / "home" / name / expected_file).is_file()
    return click


def users_seen_by(hub, session) -> set[str]:
    """The users a signed-in browser lists through the API, as the admin page does."""
    assert session.get(hub.url + "/hub/admin", timeout=30).status_code == 200
    r = session.get(hub.url + "/hub/api/users", params={"limit": 500}, timeout=30)
    assert r.status_code == 200, r.text
    return {u["name"] for u in r.json()}


# --- LTI 1.3 ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lti13(tmp_path_factory, example_manifest):
    manifest = copy.deepcopy(example_manifest)
    with Platform() as platform:
        manifest.hub.lms.lti13 = Lti13.model_validate({**manifest.hub.lms.lti13.model_dump(), **platform.lti13_settings()})
        content = ContentServer(manifest, tmp_path_factory.mktemp("lti13-content"))
        hub = start_local_hub(manifest, workdir=tmp_path_factory.mktemp("lti13-hub"), extra_env=IN_TERM, lms=True)
        try:
            yield manifest, platform, hub, content
        finally:
            hub.stop()
            content.stop()


def test_the_hubs_own_login_form_signs_nobody_in(lti13):
    """JupyterHub's ``POST /hub/login`` hands the posted form to ``LTI13Authenticator.authenticate``,
    which takes it as a verified id_token; the runtime refuses every sign-in but a real launch."""
    _, _, hub, _ = lti13
    session = requests.Session()
    session.get(hub.url + "/hub/login", timeout=30)
    forged = {
        "sub": "prof-adhikari",
        "nonce": "fresh-nonce",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "1:coursehub-test",
        "username": "prof-adhikari",
        "password": hub.password,
        "_xsrf": session.cookies.get("_xsrf") or "",
    }
    session.post(hub.url + "/hub/login", data=forged, timeout=30)
    home = session.get(hub.url + "/hub/home", timeout=30)
    assert "/hub/login" in home.url  # not signed in
    assert "sign-in through LoginHandler refused" in hub.log_path.read_text()


def test_student_launch_joins_the_course_gets_its_settings_and_opens_the_assignment(lti13):
    manifest, platform, hub, content = lti13
    _, lti_link, expected = assignment_links(manifest, content, hub.url, C8)
    session = requests.Session()
    launch = Launch("New.Student01", "sub-1001", context_of(manifest, C8), "DATA C8", [ROLE["student"]], lti_link.url)
    landed, _ = lti13_launch(session, hub.url, platform, launch)
    name = "new.student01"  # normalised like a roster name
    assert groups(hub, name) == {f"coursehub-{C8}-students", f"lti-{C8}-students"}
    # the launch record keeps the platform's id of the student, which grade passback addresses
    record = hub.api("GET", f"/groups/lti-{C8}-students").json()["properties"]["coursehub"]
    assert record["lms_user_ids"][name] == "sub-1001" and record["course"] == C8
    try:
        opens_assignment(hub, session, name, landed, expected)
        env = server_env(hub, name, C8)
        assert env["COURSEHUB_COURSE"] == C8 and int(env["MEM_LIMIT"]) == 2 * GIB
    finally:
        stop(hub, name)


def test_a_roster_student_launching_is_the_same_user(lti13):
    manifest, platform, hub, _ = lti13
    launch = Launch("Zoe.Silva34", "sub-1002", context_of(manifest, C8), "DATA C8", [ROLE["student"]], hub.url + "/hub/home")
    landed, _ = lti13_launch(requests.Session(), hub.url, platform, launch)
    assert landed.status_code == 200 and urlsplit(landed.url).path == "/hub/home"
    assert f"coursehub-{C8}-students" in groups(hub, "zoe.silva34")
    assert user(hub, "zoe.silva34")["last_activity"] is not None


def test_instructor_launch_gets_that_courses_instructor_role_only(lti13):
    manifest, platform, hub, _ = lti13
    launch = Launch("prof-new", "sub-2001", context_of(manifest, C8), "DATA C8", [ROLE["instructor"]], hub.url + "/hub/home")
    session = requests.Session()
    lti13_launch(session, hub.url, platform, launch)
    assert groups(hub, "prof-new") == {f"coursehub-{C8}-instructors", f"lti-{C8}-instructors"}
    c8_students = set(hub.api("GET", f"/groups/coursehub-{C8}-students").json()["users"])
    assert len(c8_students) > 100
    assert users_seen_by(hub, session) == c8_students  # data-c8's students, nobody else's


def test_ta_sent_with_the_principal_role_stays_a_ta_and_labels_find_sections(lti13):
    manifest, platform, hub, _ = lti13
    launch = Launch("ta-new", "sub-2002", "canvas-c88-sec2", "DATA C88 002", [ROLE["instructor"], ROLE["ta"]], hub.url + "/hub/home")
    lti13_launch(requests.Session(), hub.url, platform, launch)
    # data-c88 grades with nbgrader: a TA also joins its graders group
    assert groups(hub, "ta-new") == {f"coursehub-{C88}-tas", f"formgrade-{C88}", f"lti-{C88}-tas"}


def test_launch_from_an_unknown_lms_course_gets_the_hub_defaults(lti13):
    _, platform, hub, _ = lti13
    launch = Launch("visitor", "sub-3001", "phys-7a-context", "PHYS 7A", [ROLE["student"]], hub.url + "/hub/home")
    landed, _ = lti13_launch(requests.Session(), hub.url, platform, launch)
    assert landed.status_code == 200 and groups(hub, "visitor") == set()
    assert "'phys-7a-context' ('PHYS 7A'), which no course lists" in hub.log_path.read_text()
    assert hub.api("POST", "/users/visitor/server").status_code in (201, 202)
    try:
        env = server_env(hub, "visitor")
        assert env["COURSEHUB_COURSE"] == "" and int(env["MEM_LIMIT"]) == GIB
    finally:
        stop(hub, "visitor")


@pytest.mark.parametrize("forge", ["wrong-key", "wrong-audience", "expired"])
def test_forged_id_tokens_are_refused(lti13, forge):
    manifest, platform, hub, _ = lti13
    name = f"forged-{forge}"
    launch = Launch(name, "sub-9" + forge, context_of(manifest, C8), "DATA C8", [ROLE["instructor"]], hub.url + "/hub/home", forge=forge)
    landed, _ = lti13_launch(requests.Session(), hub.url, platform, launch)
    assert landed.status_code in (400, 401, 403), (landed.status_code, landed.url)
    assert user(hub, name) is None


def test_replayed_launches_and_other_deployments_are_refused(lti13):
    manifest, platform, hub, _ = lti13
    session = requests.Session()
    launch = Launch("replay.victim", "sub-4001", context_of(manifest, C8), "DATA C8", [ROLE["student"]], hub.url + "/hub/home")
    r = session.post(hub.url + "/hub/lti13/oauth_login", data=platform.initiation(launch), timeout=30)
    stolen = session.cookies.copy()  # what an attacker who copied the browser's state would hold
    landed, form = submit_auto_post(session, r)
    assert landed.status_code == 200
    action = form.pop("action")
    # the same post again from the browser: the state cookie was used up
    assert session.post(action, data=form, timeout=30).status_code == 400
    # with the stolen cookies the authenticator's checks pass; the hub refuses the used nonce
    attacker = requests.Session()
    attacker.cookies.update(stolen)
    assert attacker.post(action, data=form, timeout=30).status_code == 403
    assert "nonce was already used" in hub.log_path.read_text()

    other = Launch("other.deployment", "sub-4002", context_of(manifest, C8), "DATA C8", [ROLE["student"]], hub.url + "/hub/home",
                   deployment_id="2:somewhere-else")
    landed, _ = lti13_launch(requests.Session(), hub.url, platform, other)
    assert landed.status_code == 403 and user(hub, "other.deployment") is None


# --- LTI 1.1 ---------------------------------------------------------------------------------------

LTI11_KEY, LTI11_SECRET = "coursehub-test", "s3cret-shared-with-the-lms"


@pytest.fixture(scope="module")
def lti11(tmp_path_factory, example_manifest):
    manifest = copy.deepcopy(example_manifest)
    manifest.hub.lms.lti13 = None
    manifest.hub.lms.lti11 = Lti11(consumer_key=LTI11_KEY, secret_env=LTI11_SECRET_ENV)
    content = ContentServer(manifest, tmp_path_factory.mktemp("lti11-content"))
    hub = start_local_hub(manifest, workdir=tmp_path_factory.mktemp("lti11-hub"), extra_env={**IN_TERM, LTI11_SECRET_ENV: LTI11_SECRET}, lms=True)
    try:
        yield manifest, hub, content
    finally:
        hub.stop()
        content.stop()


def lti11_params(login, context_id, label, roles, **extra):
    return {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": "rl-1",
        "user_id": "lms-" + login,
        "roles": roles,
        "context_id": context_id,
        "context_label": label,
        "custom_login_id": login,
        **extra,
    }


def post_lti11(session, url, params, **sign):
    body = signed_lti11_launch(url, key=sign.pop("key", LTI11_KEY), secret=sign.pop("secret", LTI11_SECRET), params=params, **sign)
    return session.post(url, data=body, timeout=60), body


def test_lti11_student_launch_joins_the_course_and_opens_the_assignment(lti11):
    manifest, hub, content = lti11
    _, lti_link, expected = assignment_links(manifest, content, hub.url, C8)
    session = requests.Session()
    landed, _ = post_lti11(session, lti_link.url, lti11_params("Lti11.Student", context_of(manifest, C8), "DATA C8", "Learner"))
    name = "lti11.student"
    assert groups(hub, name) == {f"coursehub-{C8}-students", f"lti-{C8}-students"}
    try:
        opens_assignment(hub, session, name, landed, expected)
        assert server_env(hub, name, C8)["COURSEHUB_COURSE"] == C8
    finally:
        stop(hub, name)


def test_lti11_instructor_and_unknown_context(lti11):
    manifest, hub, _ = lti11
    url = hub.url + "/hub/lti/launch"
    post_lti11(requests.Session(), url, lti11_params("prof-eleven", context_of(manifest, C8), "DATA C8", "Instructor"))
    assert groups(hub, "prof-eleven") == {f"coursehub-{C8}-instructors", f"lti-{C8}-instructors"}
    # LTI 1.1 URN spelling of the TA role, sent with the principal role
    post_lti11(requests.Session(), url, lti11_params("ta-eleven", "x", "DATA C88 001", "Instructor,urn:lti:role:ims/lis/TeachingAssistant"))
    assert f"coursehub-{C88}-tas" in groups(hub, "ta-eleven")
    post_lti11(requests.Session(), url, lti11_params("visitor11", "nope", "PHYS 7A", "Learner"))
    assert groups(hub, "visitor11") == set()


def test_lti11_forged_replayed_and_stale_launches_are_refused(lti11):
    manifest, hub, _ = lti11
    url = hub.url + "/hub/lti/launch"
    ctx = context_of(manifest, C8)
    r, _ = post_lti11(requests.Session(), url, lti11_params("forger", ctx, "DATA C8", "Instructor"), secret="guessed")
    assert r.status_code == 401 and user(hub, "forger") is None
    r, _ = post_lti11(requests.Session(), url, lti11_params("stale", ctx, "DATA C8", "Learner"), timestamp=int(time.time()) - 120)
    assert r.status_code == 401 and user(hub, "stale") is None
    first, body = post_lti11(requests.Session(), url, lti11_params("once", ctx, "DATA C8", "Learner"))
    assert first.status_code == 200 and user(hub, "once") is not None
    # the launch went on to start the student's one course server; JupyterHub deletes no user whose server is starting
    stop(hub, "once")
    assert hub.api("DELETE", "/users/once").status_code == 204
    again = requests.post(url, data=body, timeout=30)  # the same signed body, nonce and all
    assert again.status_code == 401 and user(hub, "once") is None
