"""A course's grades so far: every graded assignment's ``grades.csv``, read back, and written out for an LMS.

:func:`read_course_grades` is the one reader of what ``coursehub grade`` wrote: for each assignment
of the course (manifest order) it reads ``<grades root>/<course>/<assignment>/grades.csv`` when that
file exists (an assignment not graded yet is left out). ``coursehub grades export`` writes it as:

* ``canvas`` -- a Canvas gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section``, then
  one column per assignment named by its title, and a ``Points Possible`` row. Canvas's importer
  (``app/models/gradebook_importer.rb`` in instructure/canvas-lms) finds a student by ``ID``, then
  ``SIS User ID``, then ``SIS Login ID``, then name, and an assignment by ``Title (canvas id)`` or by
  exact title (a title it does not know becomes a new assignment with the points possible given).
  coursehub knows neither Canvas ids nor SIS ids, so it fills ``SIS Login ID`` (and ``Student``)
  with the hub username: that matches where the hub's usernames are the Canvas login ids.
* ``long`` -- one row per student and assignment (tidy data for pandas or R).

Gradescope documents no import of scores from a CSV into an assignment (its help centre documents
roster imports only), so ``gradescope`` is refused with that explanation; the guide says so too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coursehub import emit
from coursehub.escape import csv_value
from coursehub.errors import CoursehubError
from coursehub.grading.results import GRADES_CSV
from coursehub.manifest import Assignment, Course, Manifest

#: Where ``coursehub grade`` writes by default, relative to the working directory.
GRADES_ROOT = Path("grades")
#: Columns every ``grades.csv`` has (question columns sit between ``max`` and ``status``).
REQUIRED_COLUMNS = ("student", "score", "max", "status", "reason")
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: The first cell of Canvas's points row (its importer looks for this text in the first column).
CANVAS_POINTS_ROW = "Points Possible"
LONG_COLUMNS = ("course", "assignment", "title", "student", "score", "max", "status", "reason")


def assignment_folder(root: Path, course_id: str, assignment_id: str) -> Path:
    """The output folder of one assignment's grading under a grades root (``grades/<course>/<assignment>``)."""
    return Path(root) / course_id / assignment_id


@dataclass(frozen=True)
class GradeRow:
    """One student's row of a ``grades.csv``."""

    student: str
    score: float
    max: float
    status: str  # graded | failed | missing
    reason: str


@dataclass(frozen=True)
class AssignmentGrades:
    assignment: Assignment
    path: Path
    rows: dict[str, GradeRow]  # by student

    @property
    def title(self) -> str:
        return self.assignment.title or self.assignment.id

    @property
    def points(self) -> float:
        """Points possible: what the rows say (the grader's total), else the manifest's ``points``."""
        maxima = {row.max for row in self.rows.values()}
        if maxima:
            return max(maxima)
        return float(self.assignment.points or 0)


@dataclass(frozen=True)
class CourseGrades:
    course: Course
    assignments: list[AssignmentGrades]

    @property
    def students(self) -> list[str]:
        """The roster in order, then anyone graded who is not on it (sorted)."""
        roster = list(self.course.roster)
        known = set(roster)
        others = sorted({s for a in self.assignments for s in a.rows if s not in known})
        return roster + others


def read_grades_csv(path: Path) -> dict[str, GradeRow]:
    """The rows of one ``grades.csv`` by student; a damaged file is an error naming its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CoursehubError(f"cannot read the grades {path}: {exc.strerror}; run `coursehub grade` first") from None
    except UnicodeDecodeError:
        raise CoursehubError(f"{path} is not UTF-8 text; pass the grades.csv coursehub grade wrote") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CoursehubError(f"{path}:1: not a coursehub grades.csv (no {', '.join(missing)} column); "
                             "pass the folder coursehub grade wrote")
    rows: dict[str, GradeRow] = {}
    for row in reader:
        line = reader.line_num
        try:
            student = csv_value(row["student"])
            rows[student] = GradeRow(student=student, score=float(row["score"]), max=float(row["max"]),
                                     status=csv_value(row["status"]), reason=csv_value(row["reason"] or ""))
        except (TypeError, ValueError):
            raise CoursehubError(f"{path}:{line}: score and max must be numbers") from None
    return rows


def read_course_grades(manifest: Manifest, course_id: str, *, root: Path = GRADES_ROOT) -> CourseGrades:
    """Every assignment of ``course_id`` graded so far, read from ``<root>/<course>/<assignment>/grades.csv``."""
    course = manifest.course(course_id)
    graded = []
    for assignment in course.assignments:
        path = assignment_folder(root, course.id, assignment.id) / GRADES_CSV
        if path.is_file():
            graded.append(AssignmentGrades(assignment, path, read_grades_csv(path)))
    return CourseGrades(course, graded)


def _num(value: float) -> str:
    return f"{value:g}"


def canvas_csv(grades: CourseGrades) -> bytes:
    """A Canvas gradebook import of the roster's students (see the module docstring for the format).

    A roster student with no row for an assignment gets an empty cell, which Canvas leaves unchanged.
    """
    titles = [a.title for a in grades.assignments]
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise CoursehubError(f"assignments of {grades.course.id} share the title {dupes[0]!r}; Canvas matches "
                             "columns by title, so give each assignment its own `title:`")
    header = [*CANVAS_STUDENT_COLUMNS, *titles]
    rows: list[list[str]] = [[CANVAS_POINTS_ROW, "", "", "", "", *(_num(a.points) for a in grades.assignments)]]
    for student in grades.course.roster:
        cells = [_num(a.rows[student].score) if student in a.rows else "" for a in grades.assignments]
        rows.append([student, "", "", student, "", *cells])
    return emit.to_csv(header, rows)


def long_csv(grades: CourseGrades) -> bytes:
    """One row per student and graded assignment."""
    rows = [
        [grades.course.id, a.assignment.id, a.title, r.student, _num(r.score), _num(r.max), r.status, r.reason]
        for a in grades.assignments
        for r in sorted(a.rows.values(), key=lambda r: r.student)
    ]
    return emit.to_csv(list(LONG_COLUMNS), rows)


def gradescope_csv(grades: CourseGrades) -> bytes:
    raise CoursehubError(
        "Gradescope documents no import of scores from a CSV into an assignment (only roster imports), "
        "so there is no Gradescope format; use --format canvas or --format long"
    )


FORMATS: dict[str, Callable[[CourseGrades], bytes]] = {"canvas": canvas_csv, "long": long_csv, "gradescope": gradescope_csv}
