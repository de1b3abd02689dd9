"""Real otter-grader runs on the example Data 8 lab: scores, hostile submissions, resume, engines."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.grading.make import HOSTILE, MANIFEST, hostile_code, otter_submission, write

from coursehub.grading.runner import grade
from coursehub.manifest.loader import load_manifest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]

COURSE, LAB = "data-c8-fa26", "lab01"
# three students from the real roster, so the "not on the roster" note stays away
CORRECT, PARTIAL, WRONG = "elif.nguyen98", "chen.costa16", "priya.moreno58"
EXPECTED = {CORRECT: (10, [3, 4, 3]), PARTIAL: (6, [3, 2, 1]), WRONG: (0, [0, 0, 0])}
COURSEHUB = [sys.executable, "-m", "coursehub"]


def read_csv(path: Path, *, with_missing: bool = False) -> dict[str, dict[str, str]]:
    """Rows by student; roster students with no submission (status ``missing``) only if asked."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh) if with_missing or row["status"] != "missing"}


def honest(folder: Path) -> Path:
    write(folder, CORRECT, "lab01.ipynb", otter_submission("correct"))
    write(folder, PARTIAL, "lab01.ipynb", otter_submission("partial"))
    write(folder, WRONG, "lab01.ipynb", otter_submission("wrong"))
    return folder


def test_correct_partial_and_wrong_score_as_expected_and_match_otters_own_engine(tmp_path):
    manifest, _ = load_manifest(MANIFEST)
    subs = honest(tmp_path / "subs")
    reports = {}
    for engine in ("warm", "kernel"):
        reports[engine] = grade(manifest=manifest, course_id=COURSE, assignment_id=LAB, submissions=subs,
                                out=tmp_path / engine, workers=2, timeout=120, engine=engine)
    for engine, report in reports.items():
        scores = {r.student: (r.score, [q[0] for q in r.questions.values()]) for r in report.results
                  if r.status != "missing"}
        assert scores == EXPECTED, engine
        assert all(r.max == 10 for r in report.results)
    # the warm engine and otter's grade_submission agree on every question of every student
    warm = {r.student: r.questions for r in reports["warm"].results if r.status != "missing"}
    kernel = {r.student: r.questions for r in reports["kernel"].results if r.status != "missing"}
    assert warm == kernel
    rows = read_csv(tmp_path / "warm" / "grades.csv")
    assert list(rows[PARTIAL]) == ["student", "score", "max", "q1", "q2", "q3", "status", "reason"]
    assert rows[PARTIAL] | {} == {"student": PARTIAL, "score": "6", "max": "10", "q1": "3", "q2": "2", "q3": "1",
                                  "status": "graded", "reason": ""}
    feedback = (tmp_path / "warm" / "feedback" / f"{PARTIAL}.txt").read_text()
    assert "Score: 6 / 10" in feedback and "q2: 2 / 4" in feedback and "Test case failed" in feedback


def test_hostile_submissions_are_contained_and_the_batch_goes_on(tmp_path):
    subs = honest(tmp_path / "subs")
    out = tmp_path / "out"
    for name in HOSTILE:
        write(subs, f"hostile-{name}", "lab01.ipynb", otter_submission("wrong", first_cell_prefix=hostile_code(name, out=out, submissions=subs)))
    write(subs, "hostile-invalid", "lab01.ipynb", '{"cells": [oops')
    before = {p: p.read_bytes() for p in sorted(subs.rglob("*.ipynb"))}
    proc = subprocess.run(
        [*COURSEHUB, "grade", str(MANIFEST), COURSE, LAB, str(subs), "-o", str(out), "--workers", "2",
         "--timeout", "20s", "--memory", "256M"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "grades.csv")
    rows = read_csv(out / "grades.csv")
    assert set(rows) == {CORRECT, PARTIAL, WRONG, *(f"hostile-{n}" for n in HOSTILE), "hostile-invalid"}
    assert f"grading {COURSE}/{LAB}: {len(rows)}/{len(rows)} done in" in proc.stderr  # plain progress off a terminal
    # every roster student without a submission has a row: missing, 0 of the assignment's 10 points
    roster = load_manifest(MANIFEST)[0].course(COURSE).roster
    everyone = read_csv(out / "grades.csv", with_missing=True)
    missing = {s for s, r in everyone.items() if r["status"] == "missing"}
    assert missing == set(roster) - set(rows)
    assert {(r["score"], r["max"], r["q1"], r["reason"]) for s, r in everyone.items() if s in missing} == {
        ("0", "10", "0", "no submission")}
    # every honest score is what it is in a batch of its own
    for student, (score, _) in EXPECTED.items():
        assert float(rows[student]["score"]) == score and rows[student]["status"] == "graded"
    reasons = {s: (r["status"], r["reason"]) for s, r in rows.items() if s.startswith("hostile-")}
    assert reasons["hostile-fakepipe"] == ("failed", "the submission wrote into the grader's result channel (a forged result)")
    assert reasons["hostile-rmrf"] == ("failed", "the submission deleted the files it was graded with")
    assert reasons["hostile-loop"] == ("failed", "timed out after 20 s (wall clock)")
    assert reasons["hostile-alloc"][0] == "failed" and "memory" in reasons["hostile-alloc"][1]
    assert reasons["hostile-sysexit"] == ("failed", "code cell 4 called sys.exit()")
    assert reasons["hostile-killkernel"][0] == "failed" and "SIGKILL" in reasons["hostile-killkernel"][1]
    assert reasons["hostile-invalid"][0] == "failed" and "not a valid notebook" in reasons["hostile-invalid"][1]
    # deleting files, faking a score and forging result frames gain nothing
    for name in ("rmrf", "fakescore", "fakepipe"):
        assert rows[f"hostile-{name}"]["score"] == "0", name
    assert {s: float(r["score"]) for s, r in rows.items() if s.startswith("hostile-")} == dict.fromkeys(reasons, 0.0)
    # the submissions folder survived the rm -rf attempt byte for byte
    assert {p: p.read_bytes() for p in sorted(subs.rglob("*.ipynb"))} == before
    state = json.loads((out / ".state" / "hostile-fakescore.json").read_text())
    assert state["score"] == 0 and state["status"] == "graded"
    assert "Score: 10/10" in (out / "logs" / "hostile-fakescore.log").read_text()  # it printed, it did not count
    assert "not isolated" not in (out / "grade.log").read_text()


def test_an_interrupted_run_resumes_without_regrading_what_is_finished(tmp_path):
    subs = tmp_path / "subs"
    students = [f"student{i:02d}" for i in range(8)]
    for i, student in enumerate(students):
        write(subs, student, "lab01.ipynb", otter_submission(["correct", "partial", "wrong"][i % 3]))
    out = tmp_path / "out"
    args = [*COURSEHUB, "grade", str(MANIFEST), COURSE, LAB, str(subs), "-o", str(out), "--workers", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list((out / ".state").glob("*.json"))) < 2:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (proc.stderr.read().decode()[-2000:], (out / "grade.log").read_text())
    finished = {p.stem: p.stat().st_mtime_ns for p in (out / ".state").glob("*.json")}
    assert 2 <= len(finished) < len(students)
    assert not (out / "grades.csv").exists() or len(read_csv(out / "grades.csv")) < len(students)
    # one student's work changes in between: that one is graded again even though it was finished
    changed = sorted(finished)[0]
    write(subs, changed, "lab01.ipynb", otter_submission("wrong"))
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(finished) - 1} submissions already graded" in resumed.stderr
    last_start = [line for line in (out / "grade.log").read_text().splitlines() if " start " in line][-1]
    assert f"{len(finished) - 1} already graded, {len(students) - len(finished) + 1} to grade" in last_start
    for student, mtime in finished.items():
        now = (out / ".state" / f"{student}.json").stat().st_mtime_ns
        assert (now == mtime) == (student != changed), student
    rows = read_csv(out / "grades.csv")
    assert sorted(rows) == students
    assert rows[changed]["score"] == "0"
    expected = {"correct": "10", "partial": "6", "wrong": "0"}
    for i, student in enumerate(students):
        if student != changed:
            assert rows[student]["score"] == expected[["correct", "partial", "wrong"][i % 3]]


def test_both_engines_write_the_same_grades_for_a_hostile_class(tmp_path):
    """Issue 19: good, partial, wrong and every hostile kind, graded by the warm engine and by otter's
    own grade_submission: the same grades.csv but for the free-text reason, and the assignment's
    points as the maximum on every row (failed, timed out, invalid and missing alike)."""
    manifest, _ = load_manifest(MANIFEST)
    points = manifest.course(COURSE).assignment(LAB).points
    subs = honest(tmp_path / "subs")
    for name in HOSTILE:
        write(subs, f"hostile-{name}", "lab01.ipynb",
              otter_submission("wrong", first_cell_prefix=hostile_code(name, out=tmp_path, submissions=subs)))
    write(subs, "hostile-invalid", "lab01.ipynb", '{"cells": [oops')
    tables = {}
    for engine in ("warm", "kernel"):
        out = tmp_path / engine
        proc = subprocess.run(
            [*COURSEHUB, "grade", str(MANIFEST), COURSE, LAB, str(subs), "-o", str(out), "--workers", "2",
             "--timeout", "40s", "--memory", "1G", "--engine", engine],
            capture_output=True, text=True, timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
            tables[engine] = list(csv.DictReader(fh))
    for engine, rows in tables.items():
        assert {float(r["max"]) for r in rows} == {points}, engine
        assert all(sum(float(r[q]) for q in ("q1", "q2", "q3")) == float(r["score"]) for r in rows), engine
    without_reason = {e: [{k: v for k, v in r.items() if k != "reason"} for r in rows] for e, rows in tables.items()}
    assert without_reason["warm"] == without_reason["kernel"]
    statuses = {r["student"]: r["status"] for r in tables["warm"]}
    # what stops grading, or attacks the grader (forging its result, deleting its files), fails in both
    # engines; printing and writing a fake score earns what the (wrong) answers earn
    for name in ("loop", "alloc", "sysexit", "killkernel", "invalid", "fakepipe", "rmrf"):
        assert statuses[f"hostile-{name}"] == "failed", name
    assert {statuses[s] for s in (CORRECT, PARTIAL, WRONG, "hostile-fakescore")} == {"graded"}
