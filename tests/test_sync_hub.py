"""Roster sync against real JupyterHubs on 127.0.0.1: first sync, no-op re-sync, a roster change,
term end, --delete-users, a refused item, a token with too few scopes, and a hub killed mid-apply.

The tests share one hub of this module (``start_local_hub`` with the fixture's hub settings but no
courses), emptied of every user and group before each test; the kill test starts its own. Sync's
token is one the hub itself issues with only the scopes under test (written with JupyterHub's own
ORM, as ``jupyterhub token`` does).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from coursehub.errors import CoursehubError
from coursehub.hub.client import HubClient, HubUnavailable
from coursehub.manifest.loader import load_manifest
from coursehub.hub.local import start_local_hub
from coursehub.access.roles import SYNC_APPLY_SCOPES, SYNC_PLAN_SCOPES
from coursehub.sync.plan import MANAGED_GROUP, desired_groups, make_plan, read_hub_state
from coursehub.sync.apply import apply_plan, sync

# one worker runs this module, so its hub starts once
pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.xdist_group("sync-hub")]

FIXTURES = Path(__file__).parent / "fixtures" / "sync"
MID_TERM = dt.date(2026, 11, 25)
AFTER_TERM = dt.date(2026, 12, 20)


def issue_token(hub, scopes) -> str:
    """A token of the hub's admin service holding only ``scopes``."""
    from jupyterhub import orm

    db = orm.new_session_factory(f"sqlite:///{hub.workdir / 'jupyterhub.sqlite'}")()
    try:
        return orm.Service.find(db, "coursehub-admin").new_api_token(scopes=list(scopes), note="coursehub sync test")
    finally:
        db.close()


def empty_hub(manifest, workdir: Path):
    return start_local_hub(manifest.model_copy(update={"courses": []}), workdir=workdir)


def _admin(hub) -> HubClient:
    return HubClient(hub.api_url, token=hub.api_token)


def groups(hub) -> dict[str, dict]:
    return {g["name"]: g for g in _admin(hub).paginate("/groups")}


def users(hub) -> set[str]:
    return {u["name"] for u in _admin(hub).paginate("/users")}


def members(hub) -> dict[str, set[str]]:
    return {name: set(g["users"]) for name, g in groups(hub).items()}


def expected(manifest, today) -> dict[str, set[str]]:
    return {name: set(g.members) for name, g in desired_groups(manifest, today=today).items()}


@pytest.fixture(scope="module")
def module_hub(tmp_path_factory):
    manifest = load_manifest(FIXTURES / "manifest.yaml", strict=False)[0]
    with empty_hub(manifest, tmp_path_factory.mktemp("sync-hub")) as hub:
        yield hub


@pytest.fixture
def hub(module_hub):
    """The module's hub with no groups and no users but the admin."""
    admin = _admin(module_hub)
    for name in groups(module_hub):
        admin.request("DELETE", f"/groups/{name}")
    for name in users(module_hub) - {"hubadmin"}:
        admin.request("DELETE", f"/users/{name}")
    return module_hub


@pytest.fixture
def course_dir(tmp_path) -> Path:
    """A copy of the fixture university the test may edit."""
    target = tmp_path / "university"
    shutil.copytree(FIXTURES, target)
    return target


def test_first_sync_noop_roster_change_term_end_and_delete(hub, course_dir, run_cli, monkeypatch):
    manifest = load_manifest(course_dir / "manifest.yaml", strict=False)[0]
    token = issue_token(hub, SYNC_APPLY_SCOPES)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    # state sync must leave alone: a user it did not create (also on a roster) and an LTI group
    assert hub.api("POST", "/users/stu-05").status_code == 201
    assert hub.api("POST", "/groups/lti-physics", json={"users": ["stu-05"]}).status_code == 201
    before = groups(hub)

    args = ("sync", course_dir / "manifest.yaml", "--hub-api", hub.api_url, "--today", MID_TERM.isoformat())
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["applied"] is False and groups(hub) == before  # a plan changes nothing
    assert "coursehub-stat-1-students" in plan["create_groups"]
    assert "stu-05" not in plan["create_users"] and "stu-01" in plan["create_users"]
    assert any("stat-1.csv:5" in row and "bad/name" in row for row in plan["skipped_rows"])
    assert token not in out + err

    code, out, err = run_cli(*args, "--apply")
    assert code == 0, err
    assert "stat-1" in out and "upcoming (provisioned early)" in out and token not in out + err
    live = members(hub)
    want = expected(manifest, MID_TERM)
    assert {k: live[k] for k in want} == want
    assert live["lti-physics"] == {"stu-05"}
    # sync marks what it created; the pre-existing stu-05 is not its to delete
    created = set().union(*want.values()) - {"stu-05"}
    assert live[MANAGED_GROUP] == created
    # the name marks coursehub's own groups; the owner property is written only where nbgrader fixes the name
    assert groups(hub)["coursehub-hack-3-students"]["properties"] == {}
    assert groups(hub)["nbgrader-data-2"]["properties"] == {"coursehub": {"course": "data-2", "role": "nbgrader-students"}}

    # re-sync: nothing to do, in a handful of requests
    client = HubClient(hub.api_url, token=token)
    plan, result = sync(manifest, client=client, today=MID_TERM, apply=True)
    assert plan.empty and result is None
    assert client.requests_made <= 3, client.requests_made

    # a roster change: stu-02 drops stat-1, stu-06 joins
    roster = course_dir / "rosters" / "stat-1.csv"
    rows = [row for row in roster.read_text().splitlines() if not row.startswith("stu-02,")]
    roster.write_text("\n".join(rows + ["stu-06,Six"]) + "\n")
    manifest = load_manifest(course_dir / "manifest.yaml", strict=False)[0]
    client = HubClient(hub.api_url, token=token)
    progress = {"total": 0, "done": 0}

    def advance_factory(total):
        progress["total"] = total
        return lambda n: progress.__setitem__("done", progress["done"] + n)

    plan, result = sync(manifest, client=client, today=MID_TERM, apply=True, advance_factory=advance_factory)
    assert progress["total"] == progress["done"] > 0  # the progress bar ends full
    assert plan.add_members == {"coursehub-stat-1-students": ["stu-06"]}
    assert plan.remove_members == {"coursehub-stat-1-students": ["stu-02"]}
    assert plan.create_users == ["stu-06"] and result.failures == []
    live = members(hub)
    assert live["coursehub-stat-1-students"] == {"stu-01", "stu-03", "stu-04", "stu-05", "stu-06"}
    assert "stu-02" in users(hub)  # dropped from the course, not deleted
    assert sync(manifest, client=client, today=MID_TERM)[0].empty

    # the term ends: groups emptied, users kept; the plan shows what --delete-users would do
    code, out, err = run_cli(*args[:-1], AFTER_TERM.isoformat(), "--json")
    plan = json.loads(out)
    assert plan["delete_users"]["enabled"] is False and "stu-01" in plan["delete_users"]["users"]
    assert "stu-05" not in plan["delete_users"]["users"] and "hubadmin" not in plan["delete_users"]["users"]
    code, out, err = run_cli(*args[:-1], AFTER_TERM.isoformat(), "--apply")
    assert code == 0, err
    live = members(hub)
    assert all(not live[name] for name in expected(manifest, AFTER_TERM))
    assert live["lti-physics"] == {"stu-05"}
    assert created | {"stu-06", "stu-05"} <= users(hub)

    code, out, err = run_cli(*args[:-1], AFTER_TERM.isoformat(), "--apply", "--delete-users")
    assert code == 0, err
    assert users(hub) & (created | {"stu-06"}) == set()
    assert "stu-05" in users(hub) and members(hub)["lti-physics"] == {"stu-05"}
    client = HubClient(hub.api_url, token=token)
    assert sync(manifest, client=client, today=AFTER_TERM, delete_users=True)[0].empty


def test_an_item_the_hub_refuses_does_not_stop_the_others(hub, course_dir):
    manifest = load_manifest(course_dir / "manifest.yaml", strict=False)[0]
    client = HubClient(hub.api_url, token=issue_token(hub, SYNC_APPLY_SCOPES))
    sync(manifest, client=client, today=MID_TERM, apply=True)
    # ana (already a user, from data-2) and two new students join stat-1
    roster = course_dir / "rosters" / "stat-1.csv"
    roster.write_text(roster.read_text() + "ana,Ana\nstu-07,Seven\nstu-08,Eight\n")
    manifest = load_manifest(course_dir / "manifest.yaml", strict=False)[0]
    plan = make_plan(manifest, read_hub_state(client, d := desired_groups(manifest, today=MID_TERM)), d, today=MID_TERM)
    assert plan.add_members["coursehub-stat-1-students"] == ["ana", "stu-07", "stu-08"]
    # between plan and apply an admin deletes ana: adding her is refused (400 No such user)
    assert hub.api("DELETE", "/users/ana").status_code == 204
    result = apply_plan(client, plan)
    assert [(f.target, f.items, f.status) for f in result.failures] == [("coursehub-stat-1-students", ("ana",), 400)]
    assert "No such user" in result.failures[0].message
    assert {"stu-07", "stu-08"} <= members(hub)["coursehub-stat-1-students"]
    # running again recreates ana and converges
    plan, result = sync(manifest, client=client, today=MID_TERM, apply=True)
    assert "ana" in plan.create_users and result.failures == []
    live = members(hub)
    assert {k: live[k] for k in expected(manifest, MID_TERM)} == expected(manifest, MID_TERM)


def test_a_token_with_too_few_scopes_gets_an_error_naming_them(hub, course_dir, run_cli, monkeypatch):
    manifest = load_manifest(course_dir / "manifest.yaml", strict=False)[0]
    before = groups(hub)
    read_only = HubClient(hub.api_url, token=issue_token(hub, SYNC_PLAN_SCOPES))
    plan, _ = sync(manifest, client=read_only, today=MID_TERM)  # planning needs only the read scopes
    assert plan.create_groups
    with pytest.raises(CoursehubError, match=r"lacks the scope\(s\) admin:users, admin:groups needed to apply"):
        sync(manifest, client=read_only, today=MID_TERM, apply=True)
    # a plan from the command line, not on a terminal: plain progress lines that say what it waits on
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", issue_token(hub, SYNC_PLAN_SCOPES))
    code, out, err = run_cli("sync", course_dir / "manifest.yaml", "--hub-api", hub.api_url)
    assert code == 0, err
    assert f"sync: reading users and groups from {hub.api_url}" in err and "sync: done in" in err, err
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", issue_token(hub, ["list:users"]))
    code, out, err = run_cli("sync", course_dir / "manifest.yaml", "--hub-api", hub.api_url)
    assert code == 2 and out == ""
    assert "lacks the scope(s) list:groups, read:groups" in err and "Traceback" not in err
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "not-a-token")
    code, out, err = run_cli("sync", course_dir / "manifest.yaml", "--hub-api", hub.api_url)
    assert code == 2 and "refused the API token" in err and "not-a-token" not in err
    assert groups(hub) == before


def _big_manifest(base: Path, *, courses: int, students: int, shift: int) -> Path:
    """``courses`` courses of ``students`` each; ``shift`` moves every roster along by that many."""
    base.mkdir(parents=True, exist_ok=True)
    lines = ["hub: {name: kill-test, url: https://hub.example.edu, image: data8, admins: [hubadmin]}",
             "images: {data8: {standard: data8}}", "courses:"]
    for c in range(courses):
        roster = [f"s{(c * students + i + shift) % (courses * students + shift):05d}" for i in range(students)]
        lines.append(f"  - {{id: c{c:02d}, title: C{c}, term: {{start: 2026-08-26, end: 2026-12-18}}, "
                     f"staff: {{instructors: [prof-{c:02d}]}}, students: [{', '.join(roster)}]}}")
    path = base / "manifest.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_killing_the_hub_mid_apply_then_syncing_again_converges(tmp_path):
    old = load_manifest(_big_manifest(tmp_path / "old", courses=4, students=30, shift=0))[0]
    new = load_manifest(_big_manifest(tmp_path / "new", courses=4, students=30, shift=17))[0]
    workdir = tmp_path / "hub"
    hub = empty_hub(old, workdir)
    try:
        client = HubClient(hub.api_url, token=hub.api_token, concurrency=2)
        sync(old, client=client, today=MID_TERM, apply=True)
        assert {k: v for k, v in members(hub).items() if k in expected(old, MID_TERM)} == expected(old, MID_TERM)

        # The new term's apply creates users in small batches; SIGKILL the whole hub right after
        # the hub created the third batch, before sync could mark those users as its own.
        plan = make_plan(new, read_hub_state(client, d := desired_groups(new, today=MID_TERM)), d, today=MID_TERM)
        assert len(plan.create_users) == 17  # two batches of new users
        assert plan.remove_members  # and the apply would also remove members
        created_batches = []
        original = client.request

        def request(method, path, **kw):
            answer = original(method, path, **kw)
            if method == "POST" and path == "/users":
                created_batches.append(kw["json"]["usernames"])
                if len(created_batches) == 1:
                    os.killpg(hub.process.pid, signal.SIGKILL)
            return answer

        client.request = request
        client.retries, client.backoff = 1, 0.05
        failure = []
        worker = threading.Thread(target=lambda: failure.append(_apply_expecting_failure(client, plan)))
        worker.start()
        worker.join(120)
        assert not worker.is_alive() and failure == [True]
        hub.process.wait(10)
    finally:
        hub.stop()

    with empty_hub(old, workdir) as hub:  # restarted on the same database
        live = members(hub)
        first_batch = set(created_batches[0])
        assert first_batch <= users(hub) and not first_batch & live.get(MANAGED_GROUP, set())
        # nothing either term wants was removed while the apply was cut short
        for name, want in expected(new, MID_TERM).items():
            assert want & expected(old, MID_TERM).get(name, set()) <= live[name]

        client = HubClient(hub.api_url, token=hub.api_token, concurrency=2)
        plan, result = sync(new, client=client, today=MID_TERM, apply=True)
        assert set(plan.mark_users) == first_batch and result.failures == []
        live = members(hub)
        want = expected(new, MID_TERM)
        assert {k: live[k] for k in want} == want
        every_user = set().union(*expected(old, MID_TERM).values(), *want.values())
        assert live[MANAGED_GROUP] == every_user  # every user sync created is known as its own
        assert "pending" not in groups(hub)[MANAGED_GROUP]["properties"]["coursehub"]
        client = HubClient(hub.api_url, token=hub.api_token)
        assert sync(new, client=client, today=MID_TERM)[0].empty


def _apply_expecting_failure(client, plan) -> bool:
    try:
        apply_plan(client, plan, batch=10)
    except HubUnavailable:
        return True
    return False


#: ``coursehub sync`` in a process that SIGKILLs itself the moment the hub has answered its first
#: user-creation request: the users of that batch exist, none is marked as sync's own yet.
DIE_AFTER_FIRST_CREATE = """
import os, signal, sys
from coursehub.hub import client as hubclient
original = hubclient.HubClient.request
def request(self, method, path, **kw):
    answer = original(self, method, path, **kw)
    if method == "POST" and path == "/users":
        os.kill(os.getpid(), signal.SIGKILL)
    return answer
hubclient.HubClient.request = request
from coursehub.cli import main
main(sys.argv[1:])
"""


def _pending(hub) -> set[str]:
    return set(groups(hub)[MANAGED_GROUP]["properties"]["coursehub"].get("pending") or ())


def test_two_interrupted_applies_in_a_row_lose_no_created_user(hub, tmp_path):
    """The record of users sync created only grows until they are marked: the second killed apply keeps
    the first one's names, so a later --delete-users still finds users the roster change dropped."""
    import subprocess
    import sys

    first = _big_manifest(tmp_path / "first", courses=2, students=20, shift=0)
    second = _big_manifest(tmp_path / "second", courses=2, students=20, shift=25)
    env = dict(os.environ, JUPYTERHUB_API_TOKEN=hub.api_token)

    def killed_apply(manifest: Path) -> None:
        args = ["sync", str(manifest), "--hub-api", hub.api_url, "--today", MID_TERM.isoformat(), "--apply",
                "--batch-size", "10"]
        proc = subprocess.run([sys.executable, "-c", DIE_AFTER_FIRST_CREATE, *args], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    killed_apply(first)
    created_first = users(hub) - {"hubadmin"}
    assert len(created_first) == 10 and not members(hub)[MANAGED_GROUP]
    assert created_first <= _pending(hub)

    killed_apply(second)  # a roster change, and killed again before anything is marked
    created_second = users(hub) - {"hubadmin"} - created_first
    assert len(created_second) == 10 and not members(hub)[MANAGED_GROUP]
    assert created_first | created_second <= _pending(hub)

    wanted = set().union(*expected(load_manifest(second)[0], MID_TERM).values())
    dropped = created_first - wanted
    assert dropped  # users the first run created that the second roster no longer lists
    client = HubClient(hub.api_url, token=hub.api_token)
    plan, result = sync(load_manifest(second)[0], client=client, today=MID_TERM, apply=True, delete_users=True)
    assert result.failures == [] and set(plan.delete_users) == dropped
    assert users(hub) - {"hubadmin"} == wanted
    assert members(hub)[MANAGED_GROUP] == wanted
    assert not _pending(hub)
    assert sync(load_manifest(second)[0], client=client, today=MID_TERM, delete_users=True)[0].empty
