"""Roster sync without a hub: desired state over a term, planning against a given hub state, scopes,
tokens, bad roster rows, and isolating a refused item. The real-hub tests are in test_sync_hub.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from coursehub.errors import CoursehubError
from coursehub.hub.client import HubClient, HubRequestError, read_token
from coursehub.manifest.loader import load_manifest
from coursehub.access.roles import SYNC_APPLY_SCOPES, sync_service_role
from coursehub.sync.plan import MANAGED_GROUP, HubState, LiveGroup, desired_groups, make_plan, missing_scopes
from coursehub.sync.apply import _isolate

FIXTURE = Path(__file__).parent / "fixtures" / "sync" / "manifest.yaml"
MID_TERM = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(FIXTURE, strict=False)[0]


def test_groups_hold_members_until_the_term_ends_then_empty(manifest):
    before = desired_groups(manifest, today=dt.date(2026, 8, 1))  # before every start date
    assert before["coursehub-stat-1-students"].members == {"stu-01", "stu-02", "stu-03", "stu-04", "stu-05"}
    assert before["coursehub-hack-3-students"].members == {"hacker-1", "hacker-2", "stu-01"}
    assert before["formgrade-data-2"].members == {"prof-c", "ta-b"}
    last_day = desired_groups(manifest, today=dt.date(2026, 12, 4))
    assert last_day["coursehub-hack-3-instructors"].members == {"org-d"}  # the end date is inclusive
    after_event = desired_groups(manifest, today=dt.date(2026, 12, 5))
    assert after_event["coursehub-hack-3-students"].members == frozenset()
    assert after_event["coursehub-hack-3-instructors"].members == frozenset()
    assert after_event["coursehub-stat-1-tas"].members == {"ta-b"}
    after_term = desired_groups(manifest, today=dt.date(2026, 12, 19))
    assert all(not g.members for g in after_term.values())
    assert after_term["nbgrader-data-2"].properties == {"coursehub": {"course": "data-2", "role": "nbgrader-students"}}


def _state(groups: dict[str, tuple[set[str], dict]], users: set[str] | None = None) -> HubState:
    return HubState({n: LiveGroup(n, set(u), dict(p)) for n, (u, p) in groups.items()}, users)


def test_plan_changes_only_what_coursehub_owns(manifest):
    desired = desired_groups(manifest, today=MID_TERM)
    live = {name: (set(g.members), g.properties) for name, g in desired.items()}
    live[MANAGED_GROUP] = ({"stu-01", "old-student"}, {"coursehub": {"role": "managed-users"}})
    live["lti-physics"] = ({"stu-01", "someone"}, {})  # an authenticator's group
    live["nbgrader-data-2"] = ({"ana", "intruder"}, {})  # hand-made: no owner property
    old_props = {"coursehub": {"course": "old-course-fa25"}}
    live["coursehub-old-course-fa25-students"] = ({"old-student", "stu-01"}, old_props)
    live["coursehub-stat-1-tas"] = ({"ta-b", "ex-ta"}, {"coursehub": {"course": "stat-1", "role": "tas"}, "extra": 1})
    plan = make_plan(manifest, _state(live), desired, today=MID_TERM)

    assert "lti-physics" not in plan.add_members and "lti-physics" not in plan.remove_members
    assert "nbgrader-data-2" not in plan.add_members and "nbgrader-data-2" not in plan.remove_members
    assert any("nbgrader-data-2" in c for c in plan.conflicts)
    # last term's course is gone from the manifest: its group is emptied, not deleted
    assert plan.remove_members["coursehub-old-course-fa25-students"] == ["old-student", "stu-01"]
    assert plan.remove_members["coursehub-stat-1-tas"] == ["ex-ta"]
    assert plan.create_groups == [] and plan.create_users == []
    # properties: another key on the group survives the update; only the stale one is rewritten
    assert "coursehub-stat-1-tas" not in plan.set_properties
    # only managed users no active course needs, never pre-existing or admin users
    assert plan.delete_users == ["old-student"]
    assert not plan.delete_enabled and plan.counts()["delete_users"] == 0
    assert not plan.empty  # the removals


def test_plan_recovers_users_an_interrupted_apply_created_but_did_not_mark(manifest):
    desired = desired_groups(manifest, today=MID_TERM)
    live = {name: (set(), g.properties) for name, g in desired.items()}
    pending = {"coursehub": {"role": "managed-users", "pending": ["stu-01", "stu-02", "stu-03"]}}
    live[MANAGED_GROUP] = ({"stu-01"}, pending)
    plan = make_plan(manifest, _state(live, users={"stu-01", "stu-02", "hubadmin"}), desired, today=MID_TERM)
    assert plan.mark_users == ["stu-02"]  # created before the crash; stu-03 never was
    assert "stu-03" in plan.create_users and "stu-02" not in plan.create_users
    assert plan.set_properties[MANAGED_GROUP] == {"coursehub": {"role": "managed-users"}}  # pending cleared


def test_plan_is_empty_when_the_hub_matches(manifest):
    desired = desired_groups(manifest, today=MID_TERM)
    live = {name: (set(g.members), g.properties) for name, g in desired.items()}
    live[MANAGED_GROUP] = (set(), {"coursehub": {"role": "managed-users"}})
    plan = make_plan(manifest, _state(live), desired, today=MID_TERM, delete_users=True)
    assert plan.empty, plan.to_json()


def test_scopes_needed_for_plan_and_apply():
    role = sync_service_role()
    assert role["scopes"] == list(SYNC_APPLY_SCOPES) and role["services"] == ["coursehub-sync"]
    assert missing_scopes(["list:users", "list:groups", "read:groups"], apply=False) == []
    assert missing_scopes(["list:users", "list:groups", "read:groups"], apply=True) == ["admin:users", "admin:groups"]
    assert missing_scopes(["list:users", "read:groups!group=x"], apply=False) == ["list:groups", "read:groups"]


def test_token_from_file_or_environment_and_never_shown(tmp_path):
    f = tmp_path / "token"
    f.write_text("s3cret-token\n")
    assert read_token(token_file=f) == "s3cret-token"
    assert read_token(environ={"JUPYTERHUB_API_TOKEN": "from-env"}) == "from-env"
    with pytest.raises(CoursehubError, match="JUPYTERHUB_API_TOKEN"):
        read_token(environ={})
    (tmp_path / "empty").write_text("")
    with pytest.raises(CoursehubError, match="empty"):
        read_token(token_file=tmp_path / "empty")
    client = HubClient("http://127.0.0.1:1/hub/api", token="s3cret-token")
    assert "s3cret" not in repr(client) and "s3cret" not in str(vars(client).get("api_url"))


def test_isolating_a_refused_item_keeps_the_others():
    accepted, calls = [], []

    def send(items):
        calls.append(list(items))
        if "bad" in items:
            raise HubRequestError("POST", "/groups/g/users", 400, "No such user: bad")
        accepted.extend(items)

    names = [f"u{i}" for i in range(40)]
    names.insert(17, "bad")
    failures = _isolate(send, names, action="add members to", target="g")
    assert [f.items for f in failures] == [("bad",)] and failures[0].status == 400
    assert sorted(accepted) == sorted(names[:17] + names[18:])
    assert len(calls) <= 2 * 6 + 1  # a binary search, not one request per name


def test_isolating_does_not_split_a_refusal_that_is_not_about_an_item():
    calls = []

    def send(items):
        calls.append(items)
        raise HubRequestError("POST", "/groups/g/users", 403, "Action is not authorized")

    failures = _isolate(send, ["a", "b", "c", "d"], action="add members to", target="g")
    assert len(calls) == 1 and failures[0].items == ("a", "b", "c", "d")


def test_bad_roster_rows_are_listed_with_file_and_line_and_strict_makes_them_fatal(run_cli, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused")
    # --strict fails while loading, before any request (port 9 on loopback has no hub)
    code, out, err = run_cli("sync", FIXTURE, "--hub-api", "http://127.0.0.1:9/hub/api", "--strict")
    assert code == 2 and out == ""
    assert "stat-1.csv:5: error" in err and "bad/name" in err
    assert "stat-1.csv:7: error" in err and "listed twice" in err
    assert "stat-1.csv:8: error" in err and "empty" in err
    assert "Traceback" not in err


def test_bad_today_and_unreachable_hub_are_clear_errors(run_cli, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused")
    code, _, err = run_cli("sync", FIXTURE, "--hub-api", "http://127.0.0.1:9/hub/api", "--today", "2026-13-01")
    assert code == 2 and "YYYY-MM-DD" in err
    monkeypatch.setattr(HubClient, "DEFAULT_BACKOFF", 0.01)
    code, _, err = run_cli("sync", FIXTURE, "--hub-api", "http://127.0.0.1:9/hub/api")
    assert code == 1 and "did not answer" in err and "unused" not in err


def test_a_hub_that_accepts_and_never_answers_fails_in_bounded_time(run_cli, monkeypatch):
    """A real loopback server that takes the connection and says nothing: sync gives up after its
    per-request --timeout and its retries, with a message saying what to check, in seconds."""
    import time

    from silentserver import silent_server

    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "s3cret-token")
    monkeypatch.setattr(HubClient, "DEFAULT_BACKOFF", 0.05)
    with silent_server() as server:
        started = time.monotonic()
        code, out, err = run_cli("sync", FIXTURE, "--hub-api", server.url + "/hub/api", "--timeout", "1")
        elapsed = time.monotonic() - started
        assert server.accepted == HubClient.DEFAULT_RETRIES + 1  # every attempt reached it and waited
    assert code == 1 and out == ""
    message = " ".join(err.split())
    assert "did not answer GET /user: 5 attempt(s)" in message and "no answer within 1 s" in message
    assert "--timeout" in message and "Traceback" not in err and "s3cret" not in err
    assert 5 <= elapsed < 15, elapsed  # five 1-second timeouts and short pauses


def test_the_retries_of_one_request_stop_at_the_total_time(monkeypatch):
    import time

    from silentserver import silent_server

    from coursehub.hub.client import HubUnavailable

    with silent_server() as server:
        client = HubClient(server.url + "/hub/api", token="t", retries=50, backoff=0.1, timeout=1, retry_time=2.5)
        started = time.monotonic()
        with pytest.raises(HubUnavailable, match=r"did not answer GET /user: [23] attempt\(s\) in [23] s"):
            client.request("GET", "/user")
        assert time.monotonic() - started < 3.5  # 50 retries allowed, but the 2.5 s budget ends them
        assert server.accepted in (2, 3)  # 1 s, 1 s, then (unless the machine is slow) the 0.2 s left


def test_the_cli_timeout_default_is_the_clients():
    """``--timeout``'s default is written in the command (which must not import requests to start)."""
    import inspect

    from coursehub.commands.sync import sync as command

    assert inspect.signature(command).parameters["timeout"].default == HubClient.DEFAULT_TIMEOUT
    assert HubClient.DEFAULT_TIMEOUT <= 30 and HubClient.DEFAULT_RETRY_TIME <= 120  # seconds, not minutes
