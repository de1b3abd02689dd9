"""Real nbgrader runs on the example data-c88 lab, through ``NbGraderAPI`` and its gradebook."""

from __future__ import annotations

import csv
import json
import zipfile

import pytest
from fixtures.grading.make import MANIFEST, hostile_code, nbgrader_submission, write

from coursehub.grading.nbgrader import config
from coursehub.grading.runner import grade
from coursehub.access.groups import course_group_members
from coursehub.manifest.loader import load_manifest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]

COURSE, LAB = "data-c88-fa26", "lab01"
CORRECT, PARTIAL, WRONG = "bilal.li11", "lena.nasser95", "zoe.wang40"


def test_nbgrader_batch_from_an_lms_zip_scores_and_contains_hostile_submissions(tmp_path):
    """One batch (nbgrader pays a kernel per submission): honest and hostile students together."""
    manifest, _ = load_manifest(MANIFEST)
    out = tmp_path / "out"
    folder = tmp_path / "export"
    texts = {
        CORRECT: nbgrader_submission("correct"),
        PARTIAL: nbgrader_submission("partial"),
        WRONG: nbgrader_submission("wrong"),
        "ines.ali28": nbgrader_submission("wrong", first_cell_prefix=hostile_code("killkernel", out=out, submissions=folder)),
        "hostile-sysexit": nbgrader_submission("wrong", first_cell_prefix=hostile_code("sysexit", out=out, submissions=folder)),
        "hostile-fakescore": nbgrader_submission("wrong", first_cell_prefix=hostile_code("fakescore", out=out, submissions=folder)),
        "hostile-rmrf": nbgrader_submission("correct", first_cell_prefix=hostile_code("rmrf", out=out, submissions=folder)),
        "hostile-loop": nbgrader_submission("wrong", first_cell_prefix=hostile_code("loop", out=out, submissions=folder)),
        "hostile-invalid": "this is not json",
    }
    # a Canvas-style export: <student>_<user id>_<submission id>_<file>, one late
    export = tmp_path / "canvas.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for i, (student, text) in enumerate(sorted(texts.items())):
            late = "late_" if student == PARTIAL else ""
            zf.writestr(f"{student}_{late}{1000 + i}_{5000 + i}_lab01.ipynb", text)
    report = grade(manifest=manifest, course_id=COURSE, assignment_id=LAB, submissions=export, out=out,
                   workers=2, timeout=45, memory=1024**3)
    with open(out / "grades.csv", newline="") as fh:
        everyone = {r["student"]: r for r in csv.DictReader(fh)}
    rows = {s: r for s, r in everyone.items() if r["status"] != "missing"}
    assert set(rows) == set(texts)
    roster = manifest.course(COURSE).roster
    assert {s for s, r in everyone.items() if r["status"] == "missing"} == set(roster) - set(texts)
    # failed, timed out, invalid and missing rows all carry the assignment's 10 points and every question's
    assert {r["max"] for r in everyone.values()} == {"10"}
    assert list(rows[CORRECT])[:6] == ["student", "score", "max", "test_square", "test_is_even_basic", "test_is_even_edge"]
    assert [rows[CORRECT][k] for k in ("score", "max", "test_square", "test_is_even_basic", "test_is_even_edge")] == ["10", "10", "4", "3", "3"]
    assert [rows[PARTIAL][k] for k in ("score", "test_square", "test_is_even_basic", "test_is_even_edge")] == ["7", "4", "3", "0"]
    assert rows[WRONG]["score"] == "0" and rows[WRONG]["status"] == "graded"
    assert (rows["ines.ali28"]["status"], rows["ines.ali28"]["reason"]) == ("failed", "the submission killed its kernel")
    assert (rows["hostile-sysexit"]["status"], rows["hostile-sysexit"]["reason"]) == ("failed", "a code cell called sys.exit()")
    assert rows["hostile-loop"]["reason"] == "timed out after 45 s (wall clock)"
    assert rows["hostile-invalid"]["status"] == "failed" and "not a valid notebook" in rows["hostile-invalid"]["reason"]
    assert rows["hostile-fakescore"]["score"] == "0"
    # deleting its own course copy mid-run cannot reach the template or anyone else: its correct
    # answers were graded (or it failed itself), and every honest score is as expected above
    assert rows["hostile-rmrf"]["status"] in ("graded", "failed")
    # grades come from nbgrader's gradebook, feedback from its generate_feedback
    html = (out / "feedback" / f"{CORRECT}.html").read_text()
    assert "test_square" in html or "square" in html
    assert "Score: 7 / 10" in (out / "feedback" / f"{PARTIAL}.txt").read_text()
    by_student = {r.student: r for r in report.results}
    assert "not on the course roster" in by_student["hostile-sysexit"].notes
    assert "not on the course roster" not in by_student[CORRECT].notes
    state = json.loads((out / ".state" / f"{CORRECT}.json").read_text())
    assert state["fingerprint"].startswith("nbgrader:") and state["score"] == 10
    # one course gradebook for the whole batch, which nbgrader's own API and exporter read
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}", COURSE) as gb:
        assert {s.id for s in gb.students} == set(roster) | set(texts)
        submitted = {sub.student.id: sub.score for sub in gb.assignment_submissions(LAB)}
    assert set(submitted) == set(texts)
    assert (submitted[CORRECT], submitted[PARTIAL], submitted[WRONG], submitted["hostile-loop"]) == (10, 7, 0, 0)
    with open(out / "nbgrader" / "grades.csv", newline="") as fh:
        exported = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert set(exported) == set(roster) | set(texts)
    assert {s: float(r["score"]) for s, r in exported.items()} == {s: float(r["score"]) for s, r in everyone.items()}
    assert {r["max_score"] for r in exported.values()} == {"10.0"}
    assert (out / "nbgrader" / "autograded" / CORRECT / LAB / "lab01.ipynb").is_file()


def test_nbgrader_config_is_course_scoped_and_groups_match_nbgraders_hub_auth():
    manifest, _ = load_manifest(MANIFEST)
    course = manifest.course(COURSE)
    cfg = config(course)
    assert cfg["CourseDirectory"]["course_id"] == COURSE
    assert cfg["CourseDirectory"]["root"].endswith(f"/{COURSE}")
    assert cfg["Exchange"]["path_includes_course"] is True
    # two courses on one hub never share a course directory, and share an exchange only by course id
    other = config(manifest.course("data-c8-fa26").model_copy(update={"id": "other-course"}))
    assert other["CourseDirectory"]["root"] != cfg["CourseDirectory"]["root"]
    assert other["Exchange"]["root"] == cfg["Exchange"]["root"]
    # nbgrader's JupyterHubAuthPlugin finds courses from groups named nbgrader-<id> / formgrade-<id>,
    # taking the course id as everything after the first dash
    from nbgrader.auth import jupyterhub as hubauth
    import inspect

    source = inspect.getsource(hubauth)
    assert "group.startswith('nbgrader-') or group.startswith('formgrade-')" in source
    assert "group.split('-', 1)[1]" in source
    groups = course_group_members(course)
    assert groups[f"nbgrader-{COURSE}"] == sorted(course.roster)
    assert groups[f"formgrade-{COURSE}"] == sorted(set(course.staff.instructors) | set(course.staff.tas))
    assert f"nbgrader-{COURSE}".split("-", 1)[1] == COURSE
