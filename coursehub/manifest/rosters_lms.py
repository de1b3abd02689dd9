"""Rosters straight from an LMS export, so IT never hand-edits one (``students: {csv: ..., format: canvas}``).

A Canvas gradebook export (Grades -> Export -> CSV) has one row per enrolment, and two kinds of row that
are not students:

- right under the header, ``    Points Possible`` (older exports also ``Muted``, newer ones ``Manual
  Posting``): the assignments' maximum points and posting policy;
- the course's *Test Student* (Student View), listed as ``Student, Test``.

The login id column (``SIS Login ID`` by default, what students sign in to the LMS with and what the LTI
launch's ``login_id`` custom field carries) becomes the hub username, normalised like every roster.
"""

from __future__ import annotations

from pathlib import Path

from coursehub.errors import Report

#: The column holding each row's display name ("Last, First").
NAME_COLUMN = "Student"
#: First-cell values of the rows Canvas puts under the header; they describe assignments, not people.
_NOT_STUDENTS = {"points possible", "muted", "manual posting"}
#: Canvas' Student View user, in the export's "Last, First" order and as displayed.
_TEST_STUDENT = {"student, test", "test student"}


def is_student_row(name: str) -> bool:
    """Whether a row whose ``Student`` cell is ``name`` is a real enrolment."""
    key = " ".join(name.split()).lower()
    return key not in _NOT_STUDENTS and key not in _TEST_STUDENT


def read_canvas_roster(csv_path: Path, column: str, *, where: dict, report: Report, **read) -> list[tuple[str, int]]:
    """Login ids and their line numbers from a Canvas gradebook export, skipping non-student rows.

    The file is read by :func:`coursehub.manifest.loader.read_roster` (its encoding, bounds and error
    messages; ``read`` passes its options on), once for the login column and once for the names, and the
    two are matched by line.
    """
    from coursehub.manifest.loader import read_roster

    logins = read_roster(csv_path, column, where=where, report=report, **read)
    if not logins:
        return []
    names = dict((line, name) for name, line in read_roster(csv_path, NAME_COLUMN, where=where, report=report, **read))
    return [(login, line) for login, line in logins if is_student_row(names.get(line, ""))]
