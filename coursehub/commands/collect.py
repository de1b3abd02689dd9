"""``coursehub collect``: every student's notebook of one assignment, from their course server into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from coursehub.commands._shared import (
    AssignmentArg, ConcurrencyOpt, CourseArg, HubApiOpt, ManifestArg, TokenFileOpt, app, err, load, out, text_column,
)


@app.command()
def collect(
    manifest: ManifestArg,
    course: CourseArg,
    assignment: AssignmentArg,
    hub_api: HubApiOpt,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder to write <student>/<notebook> and the collect report into; default: collected/<course>/<assignment>.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="Flag work changed after this date or time (2026-09-05, 2026-09-05T17:00-07:00) as late; default: the end of the assignment's due date.")] = None,
    token_file: TokenFileOpt = None,
    concurrency: ConcurrencyOpt = 4,
    start_timeout: Annotated[str, typer.Option("--start-timeout", help="How long a stopped server may take to start (or stop).")] = "2m",
):
    """Collect ASSIGNMENT from every student of COURSE: read the notebook from each student's course
    server through the hub (starting stopped servers and stopping them again), write it where
    `coursehub grade` reads it, and report each file's last change, late work and missing work.
    The token (the course's coursehub-collect-<course> service) reaches only that course's students."""
    from coursehub.errors import CoursehubError
    from coursehub.grading.collect import COLLECT_ROOT, REPORT_CSV, collect as run
    from coursehub.grading.gradebook import assignment_folder
    from coursehub.manifest.units import parse_duration
    from coursehub.sync.hubclient import HubClient, read_token

    model, _ = load(manifest)
    try:
        timeout_s = parse_duration(start_timeout)
    except ValueError as exc:
        raise CoursehubError(str(exc)) from None
    out_dir = output or assignment_folder(COLLECT_ROOT, course, assignment)
    client = HubClient(hub_api, token=read_token(token_file=token_file), concurrency=concurrency)
    total = len(model.course(course).roster)
    done = 0
    # a live bar on a terminal; plain lines (one per student) in a log or a pipe
    progress = Progress(text_column("collecting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    task = progress.add_task("", total=total)

    def on_result(found) -> None:
        nonlocal done
        done += 1
        late = " (late)" if found.late else ""
        detail = f": {found.detail}" if found.detail and found.status != "collected" else ""
        progress.console.print(f"[{done}/{total}] {found.student}: {found.status}{late}{detail}", markup=False,
                               style="yellow" if found.status == "error" else None)
        progress.advance(task)

    with progress:
        report = run(manifest=model, course_id=course, assignment_id=assignment, client=client, out=out_dir, at=at,
                     start_timeout=timeout_s, on_result=on_result)
    counts = {s: len(report.by_status(s)) for s in ("collected", "missing", "no-server", "error")}
    err.print(
        f"collected {counts['collected']} ({len(report.late)} late after {report.cutoff}), missing {counts['missing']}, "
        f"no course server {counts['no-server']}, errors {counts['error']}",
        style="green" if not counts["error"] else "yellow",
    )
    out.print(str(Path(out_dir) / REPORT_CSV), markup=False)
    if counts["error"]:
        raise typer.Exit(1)
