"""``coursehub collect`` on the shared real local hub (the example university), then ``grade`` on what it gathered.

Students of data-c8-fa26, each in a different state (their homes are folders of the local hub, written
here as a student's own saves would be; file times set to before or after lab01's due date, 2026-09-05):

- ON_TIME: course server running, the notebook saved before the due date;
- LATE: course server stopped, the notebook saved after the due date (collect starts and stops it);
- NO_FILE: course server running, no notebook;
- ELSEWHERE: a notebook in the home but no course server at all (nothing is collected);
- BROKEN: a course server that cannot start (its home is a file): reported, the rest go on.

The collect token is the hub's ``coursehub-collect-data-c8-fa26`` service token; OTHER is a data-c88
student whose server runs, which that token cannot reach. Every server a test starts is stopped.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from fixtures.grading.make import MANIFEST, otter_submission

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.xdist_group("hub")]

COURSE, LAB = "data-c8-fa26", "lab01"
ON_TIME, LATE, NO_FILE, ELSEWHERE, BROKEN = "chen.obi6", "chen.yilmaz22", "farah.garcia28", "ines.moreno43", "tala.lee33"
OTHER, OTHER_COURSE = "quinn.yilmaz35", "data-c88-fa26"
IN_HOME = "data-c8-materials/lab/lab01/lab01.ipynb"  # the clone folder of the course's repository
BEFORE_DUE, AFTER_DUE = time.mktime((2026, 9, 1, 12, 0, 0, 0, 0, -1)), time.mktime((2026, 9, 10, 12, 0, 0, 0, 0, -1))


def server(hub, user, name):
    return hub.api("GET", f"/users/{user}?include_stopped_servers=1").json()["servers"].get(name)


def start(hub, user, name):
    r = hub.api("POST", f"/users/{user}/servers/{name}", json={"course": name})
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 90
    while not (server(hub, user, name) or {}).get("ready"):
        assert time.monotonic() < deadline, f"{user}/{name} did not start; see {hub.log_path}"
        time.sleep(0.5)


def stop(hub, user, name):
    hub.api("DELETE", f"/users/{user}/servers/{name}")
    deadline = time.monotonic() + 30
    while (server(hub, user, name) or {}).get("ready") or (server(hub, user, name) or {}).get("pending"):
        assert time.monotonic() < deadline
        time.sleep(0.5)


def save(hub, user, text: str, when: float) -> Path:
    path = hub.workdir / "home" / user / IN_HOME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (when, when))
    return path


@pytest.fixture(scope="module")
def class_on_the_hub(local_hub):
    hub = local_hub
    started = [(ON_TIME, COURSE), (NO_FILE, COURSE), (OTHER, OTHER_COURSE)]
    moved = hub.workdir / "home" / f"{BROKEN}.moved"
    try:
        for user, name in started + [(LATE, COURSE), (BROKEN, COURSE)]:
            start(hub, user, name)
        for user in (LATE, BROKEN):
            stop(hub, user, COURSE)
        # BROKEN's home becomes a file: the server cannot start in it any more
        shutil.move(hub.workdir / "home" / BROKEN, moved)
        (hub.workdir / "home" / BROKEN).write_text("not a folder")
        files = {
            ON_TIME: save(hub, ON_TIME, otter_submission("correct"), BEFORE_DUE),
            LATE: save(hub, LATE, otter_submission("partial"), AFTER_DUE),
            ELSEWHERE: save(hub, ELSEWHERE, otter_submission("correct"), BEFORE_DUE),
        }
        save(hub, OTHER, "{}", BEFORE_DUE)
        yield hub, files
    finally:
        for user, name in started + [(LATE, COURSE)]:
            stop(hub, user, name)
        (hub.workdir / "home" / BROKEN).unlink(missing_ok=True)
        if moved.exists():
            shutil.move(moved, hub.workdir / "home" / BROKEN)


def collect(hub, tmp_path, out, *extra):
    token = tmp_path / "collect-token"
    token.write_text(hub.collect_tokens[COURSE])
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_API_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "coursehub", "collect", str(MANIFEST), COURSE, LAB, "--hub-api", hub.api_url,
         "--token-file", str(token), "-o", str(out), *extra],
        capture_output=True, text=True, timeout=600, env=env,
    )


def report(out: Path) -> dict[str, dict]:
    with open(out / "collect-report.csv", newline="", encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_collect_gathers_each_students_notebook_with_its_flags_then_grade_scores_them(class_on_the_hub, tmp_path, example_manifest):
    hub, files = class_on_the_hub
    out = tmp_path / "collected"
    proc = collect(hub, tmp_path, out)
    assert proc.returncode == 1, proc.stderr  # BROKEN's server failed: reported, exit status says so
    assert proc.stdout.strip() == str(out / "collect-report.csv")
    rows = report(out)
    roster = example_manifest.course(COURSE).roster
    assert list(rows) == roster  # every student of the course, in roster order
    got = {s: (r["status"], r["late"], r["server"]) for s, r in rows.items() if s in (ON_TIME, LATE, NO_FILE, ELSEWHERE, BROKEN)}
    assert got == {
        ON_TIME: ("collected", "", "running"),
        LATE: ("collected", "yes", "started"),
        NO_FILE: ("missing", "", "running"),
        ELSEWHERE: ("no-server", "", ""),
        BROKEN: ("error", "", ""),
    }
    assert "failed to start" in rows[BROKEN]["detail"]
    assert rows[LATE]["last_modified"].startswith("2026-09-10") and rows[ON_TIME]["last_modified"].startswith("2026-09-01")
    assert {r["status"] for s, r in rows.items() if s not in got} <= {"no-server"}
    # exactly the two notebooks, byte for byte, where grade reads them
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [f"{ON_TIME}/lab01.ipynb", f"{LATE}/lab01.ipynb"]
    assert (out / ON_TIME / "lab01.ipynb").read_bytes() == files[ON_TIME].read_bytes()
    assert (out / LATE / "lab01.ipynb").read_bytes() == files[LATE].read_bytes()
    summary = json.loads((out / "collect-report.json").read_text())
    assert summary["path"] == IN_HOME and summary["late"] == [LATE]
    assert set(summary["without_work"]) == set(roster) - {ON_TIME, LATE}
    # progress in plain lines when stderr is not a terminal, then the late students and the errors
    assert f"collecting {COURSE}/{LAB}: {len(roster)}/{len(roster)} done in" in proc.stderr
    assert f"late (changed after 2026-09-06T00:00:00" in proc.stderr and f"): {LATE}\n" in proc.stderr
    assert f"  {BROKEN}: the {COURSE} server failed to start" in proc.stderr
    # the server collect started is stopped again; running ones are left running; its tokens are gone
    assert not server(hub, LATE, COURSE)["ready"] and server(hub, ON_TIME, COURSE)["ready"]
    tokens = requests.get(f"{hub.api_url}/users/{ON_TIME}/tokens", timeout=30,
                          headers={"Authorization": f"token {hub.collect_tokens[COURSE]}"}).json()["api_tokens"]
    assert not [t for t in tokens if "coursehub collect" in (t.get("note") or "")]

    # grade the collected folder: the two notebooks scored, every other student a missing row
    graded = tmp_path / "graded"
    proc = subprocess.run([sys.executable, "-m", "coursehub", "grade", str(MANIFEST), COURSE, LAB, str(out), "-o", str(graded),
                           "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(graded / "grades.csv", newline="", encoding="utf-8") as fh:
        grades = {r["student"]: r for r in csv.DictReader(fh)}
    assert set(grades) == set(roster)
    assert (grades[ON_TIME]["score"], grades[ON_TIME]["status"]) == ("10", "graded")
    assert (grades[LATE]["score"], grades[LATE]["status"]) == ("6", "graded")
    assert {(r["score"], r["max"], r["status"]) for s, r in grades.items() if s not in (ON_TIME, LATE)} == {("0", "10", "missing")}


def test_a_rerun_mirrors_the_homes_and_at_moves_the_cutoff(class_on_the_hub, tmp_path):
    hub, files = class_on_the_hub
    out = tmp_path / "collected"
    assert collect(hub, tmp_path, out).returncode == 1
    assert (out / ON_TIME / "lab01.ipynb").exists()
    original = files[ON_TIME].read_bytes()
    files[ON_TIME].unlink()  # gone from the home: the next run drops the copy too
    try:
        proc = collect(hub, tmp_path, out, "--at", "2026-09-20")
    finally:
        files[ON_TIME].write_bytes(original)
        os.utime(files[ON_TIME], (BEFORE_DUE, BEFORE_DUE))
    rows = report(out)
    assert proc.returncode == 1, proc.stderr
    assert (rows[ON_TIME]["status"], rows[LATE]["status"], rows[LATE]["late"]) == ("missing", "collected", "")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [f"{LATE}/lab01.ipynb"]
    assert json.loads((out / "collect-report.json").read_text())["cutoff"].startswith("2026-09-21T00:00:00")


def test_the_collect_token_reaches_no_other_course_and_no_server_directly(class_on_the_hub):
    hub, _ = class_on_the_hub
    token = hub.collect_tokens[COURSE]
    auth = {"Authorization": f"token {token}"}
    # another course's student: the hub refuses to issue a token for them, and their server refuses ours
    r = requests.post(f"{hub.api_url}/users/{OTHER}/tokens", headers=auth, json={"scopes": []}, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.get(f"{hub.url}/user/{OTHER}/{OTHER_COURSE}/api/contents/{IN_HOME}", headers=auth, timeout=30, allow_redirects=False)
    assert r.status_code == 403, r.text
    r = requests.post(f"{hub.api_url}/users/{OTHER}/servers/{OTHER_COURSE}", headers=auth, timeout=30)
    assert r.status_code in (403, 404), r.text  # JupyterHub answers 404 for users a token may not see
    assert requests.get(f"{hub.api_url}/users/{OTHER}", headers=auth, timeout=30).status_code in (403, 404)
    # its own course's servers refuse the service token too (single-user servers do not resolve
    # !group= filters): collect reads through a per-server token the hub issues for each student
    r = requests.get(f"{hub.url}/user/{ON_TIME}/{COURSE}/api/contents/{IN_HOME}", headers=auth, timeout=30, allow_redirects=False)
    assert r.status_code == 403, r.text
    r = requests.get(f"{hub.api_url}/users/{ON_TIME}", headers=auth, timeout=30)
    assert r.status_code == 200
