"""``coursehub grade``: auto-grade a class's submissions for one assignment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import AssignmentArg, CourseArg, ManifestArg, Tracker, app, err, load, out


@app.command()
def grade(
    manifest: ManifestArg,
    course: CourseArg,
    assignment: AssignmentArg,
    submissions: Annotated[
        Path,
        typer.Argument(help="Folder of <student>/<notebook>.ipynb, or a zip as an LMS (Canvas) exports it.", show_default=False),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="DIR", help="Folder for grades.csv, feedback/, logs/ and grade.log; default: grades/<course>/<assignment>.")] = None,  # type: ignore[assignment]
    workers: Annotated[Optional[int], typer.Option("--workers", help="Submissions graded at once; default: one per core.")] = None,
    timeout: Annotated[Optional[str], typer.Option("--timeout", metavar="DURATION", help="Wall-clock limit per submission (90s, 10m); default: the course's grading.timeout.")] = None,
    memory: Annotated[Optional[str], typer.Option("--memory", metavar="SIZE", help="Memory limit per submission (2G); default: the course's grading.memory.")] = None,
    engine: Annotated[str, typer.Option("--engine", metavar="[warm|kernel]", help="otter only: warm (forked warm grader, fast) or kernel (otter's grade_submission, a kernel per submission).")] = "warm",
):
    """Grade every submission in a sandbox (own process group, timeout, memory limit, no network,
    read-only files outside its scratch folder); re-running resumes an interrupted batch."""
    from coursehub.errors import CoursehubError
    from coursehub.grading.gradebook import GRADES_ROOT, assignment_folder
    from coursehub.grading.runner import ISOLATION, grade as run
    from coursehub.manifest.units import parse_duration, parse_size, unitless_size_hint

    model, _ = load(manifest)
    try:
        timeout_s = parse_duration(timeout) if timeout is not None else None
        memory_b = parse_size(memory) if memory is not None else None
    except ValueError as exc:
        raise CoursehubError(str(exc)) from None
    if memory_b is not None and unitless_size_hint(memory_b):
        raise CoursehubError(f"--memory {unitless_size_hint(memory_b)}")
    out_dir = output or assignment_folder(GRADES_ROOT, course, assignment)
    # threads=False: the runner forks, and a refresh thread must not exist when it does
    progress = Tracker(f"grading {course}/{assignment}", threads=False)

    def on_start(todo: int, reused: int) -> None:
        if reused:
            err.print(f"resuming: {reused} submissions already graded in {out_dir}", markup=False)
        progress.set_total(todo)

    def on_result(result) -> None:
        progress.advance(note=f"{result.student}: {result.status}")

    err.print(f"preparing the {model.course(course).grader} grader for {course}/{assignment} …", style="dim")
    try:
        with progress:
            report = run(
                manifest=model, course_id=course, assignment_id=assignment, submissions=submissions, out=out_dir,
                workers=workers, timeout=timeout_s, memory=memory_b, engine=engine,
                on_start=on_start, on_result=on_result,
            )
    except KeyboardInterrupt:
        # typer turns an interrupt into a return value that the CLI's main() would exit 0 with
        raise CoursehubError(f"interrupted; finished submissions are saved in {out_dir}, run again to resume",
                             exit_code=130) from None
    failed = [r for r in report.results if r.status == "failed"]
    missing = [r for r in report.results if r.status == "missing"]
    for r in failed:
        err.print(f"  {r.student}: {r.reason}", style="yellow", markup=False)
    gaps = [i for i in ISOLATION if i not in report.isolation]
    if gaps:
        err.print(f"warning: not isolated on this machine: {', '.join(gaps)}", style="yellow")
    err.print(
        f"graded {len(report.results) - len(failed) - len(missing)}, failed {len(failed)}, "
        f"no submission {len(missing)} "
        f"({report.graded} now, {report.reused} from an earlier run) in {report.seconds:.1f}s",
        style="green",
    )
    out.print(str(out_dir / "grades.csv"), markup=False)
