"""``coursehub collect``: every student's notebook of one assignment, from their course server into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import (
    AssignmentArg, ConcurrencyOpt, CourseArg, HubApiOpt, ManifestArg, TokenFileOpt, Tracker, app, err, load, out,
)


@app.command()
def collect(
    manifest: ManifestArg,
    course: CourseArg,
    assignment: AssignmentArg,
    hub_api: HubApiOpt,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="DIR", help="Folder to write <student>/<notebook> and the collect report into; default: collected/<course>/<assignment>.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", metavar="DATETIME", help="Flag work changed after this date or time (2026-09-05, 2026-09-05T17:00-07:00) as late; default: the end of the assignment's due date.")] = None,
    token_file: TokenFileOpt = None,
    concurrency: ConcurrencyOpt = 4,
    start_timeout: Annotated[str, typer.Option("--start-timeout", metavar="DURATION", help="How long a stopped server may take to start (or stop).")] = "2m",
):
    """Collect ASSIGNMENT from every student of COURSE: read the notebook from each student's course
    server through the hub (starting stopped servers and stopping them again), write it where
    `coursehub grade` reads it, and report each file's last change, late work and missing work.
    The token (the course's coursehub-collect-<course> service) reaches only that course's students."""
    from coursehub.errors import CoursehubError
    from coursehub.grading.collect import COLLECT_ROOT, REPORT_CSV, collect as run
    from coursehub.grading.gradebook import assignment_folder
    from coursehub.manifest.units import parse_duration
    from coursehub.hub.client import HubClient, read_token

    model, _ = load(manifest)
    try:
        timeout_s = parse_duration(start_timeout)
    except ValueError as exc:
        raise CoursehubError(str(exc)) from None
    out_dir = output or assignment_folder(COLLECT_ROOT, course, assignment)
    client = HubClient(hub_api, token=read_token(token_file=token_file), concurrency=concurrency)
    progress = Tracker(f"collecting {course}/{assignment}", total=len(model.course(course).roster))

    def on_result(found) -> None:
        progress.advance(note=f"{found.student}: {found.status}" + (" (late)" if found.late else ""))

    with progress:
        report = run(manifest=model, course_id=course, assignment_id=assignment, client=client, out=out_dir, at=at,
                     start_timeout=timeout_s, on_result=on_result)
    for found in report.students:
        if found.status == "error":
            err.print(f"  {found.student}: {found.detail}", style="yellow", markup=False)
    if report.late:
        err.print(f"late (changed after {report.cutoff}): {', '.join(report.late)}", markup=False)
    counts = {s: len(report.by_status(s)) for s in ("collected", "missing", "no-server", "error")}
    err.print(
        f"collected {counts['collected']} ({len(report.late)} late), missing {counts['missing']}, "
        f"no course server {counts['no-server']}, errors {counts['error']}; the report lists every student",
        style="green" if not counts["error"] else "yellow", markup=False,
    )
    out.print(str(Path(out_dir) / REPORT_CSV), markup=False)
    if counts["error"]:
        raise typer.Exit(1)
