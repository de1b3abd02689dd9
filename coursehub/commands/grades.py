"""``coursehub grades export``: every graded assignment of a course, as one file for the LMS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import CourseArg, ManifestArg, err, grades_app, load, out

FormatOpt = Annotated[
    str,
    typer.Option("--format", metavar="[canvas|long|gradescope]", help="canvas (a Canvas gradebook import), long (one row per student and assignment) "
                                  "or gradescope (refused: Gradescope documents no score import)."),
]
GradesDirOpt = Annotated[
    Optional[Path],
    typer.Option("--grades", metavar="DIR", help="Folder holding <course>/<assignment>/grades.csv, as coursehub grade writes "
                                  "them; default: grades (coursehub grade's default)."),
]


@grades_app.command("export")
def export(
    manifest: ManifestArg,
    course: CourseArg,
    format: FormatOpt = "canvas",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="FILE", help="Write here instead of stdout.")] = None,
    grades: GradesDirOpt = None,
):
    """Export every assignment of COURSE graded so far (read from the grades.csv files `coursehub grade`
    wrote) as a Canvas gradebook import CSV or a long CSV. Cells are escaped against formula injection."""
    from coursehub.errors import CoursehubError
    from coursehub.grading.gradebook import FORMATS, GRADES_ROOT, read_course_grades
    from coursehub.grading.results import atomic_write

    grades = grades or GRADES_ROOT
    if format not in FORMATS:
        raise CoursehubError(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    model, _ = load(manifest)
    course_grades = read_course_grades(model, course, root=grades)
    if not course_grades.assignments:
        raise CoursehubError(f"no graded assignment of {course} under {grades} "
                             f"(expected {grades}/{course}/<assignment>/grades.csv); run coursehub grade first")
    data = FORMATS[format](course_grades)
    roster = set(course_grades.course.roster)
    outside = [s for s in course_grades.students if s not in roster]
    if outside and format == "canvas":
        err.print(f"left out (not on the roster, Canvas cannot match them): {', '.join(outside)}",
                  style="yellow", markup=False)
    for a in course_grades.assignments:
        err.print(f"{a.assignment.id}: {len(a.rows)} rows from {a.path}", style="dim", markup=False)
    if output is None:
        out.file.write(data.decode("utf-8"))
        out.file.flush()
    else:
        atomic_write(output, data)
        err.print(f"wrote {output}", style="green", markup=False)
