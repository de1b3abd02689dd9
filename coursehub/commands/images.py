"""``coursehub images``: the drift report, the standard sets, and running course notebooks in an image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from coursehub.commands._shared import JsonOpt, ManifestArg, Tracker, err, images_app, load, out
from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError


@images_app.command("drift")
def drift(manifest: ManifestArg, json_out: JsonOpt = False):
    """Show, per course, what its image adds to or changes from the standard (as `build` writes it)."""
    from coursehub.images.drift import course_row, drift_report, headline

    model, _ = load(manifest)
    report = drift_report(model)
    if json_out:
        out.print(json.dumps(report, indent=2, sort_keys=True), markup=False)
        return
    table = Table(title="Image drift")
    for col in ("course", "image", "standard", "adds", "changes", "reference"):
        table.add_column(col)
    for c in report["courses"]:
        r = course_row(c)
        table.add_row(r["course"], r["image"], r["standard"], "\n".join(r["adds"]) or "—", "\n".join(r["changes"]) or "—",
                      r["reference"])
    out.print(table)
    err.print(headline(report), markup=False)


def _measured(n: int, unmeasured: list[str]) -> str:
    from coursehub.manifest.units import human_size

    if not unmeasured:
        return human_size(n)
    return f"{human_size(n)} + ?" if n else "not measured"


@images_app.command("advise")
def advise(
    manifest: ManifestArg,
    json_out: JsonOpt = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use only sizes already measured (beside the manifest or in the cache).")
    ] = False,
    record: Annotated[
        bool,
        typer.Option("--record", help="Write the measured sizes to package-sizes.json beside the manifest, for `build`."),
    ] = False,
    chart: Annotated[
        Optional[Path], typer.Option("--chart", help="Also draw the students-by-step chart to this .svg or .png file.")
    ] = None,
):
    """Propose the next version of each standard set: the additions that move the most students onto it.

    Each step folds in the packages that bring the most students (roster sizes) onto a standard
    unchanged, with what they add to the image (download and installed size, measured from the wheels
    on the package index with pip; cached) and what blocks the rest, conflicts with the standard's
    pins named. Stale pins (versions the standard already provides or supersedes compatibly) are
    listed as removable. Changes nothing: a standard changes only with `images standard --relock`.
    """
    from coursehub.images.advise import advise as make_advice, headline
    from coursehub.images.advise import stages
    from coursehub.images.charts import students_on_standard
    from coursehub.images.measure import gather, record as write_record
    from coursehub.images.plan import plan_images

    model, _ = load(manifest)
    plan = plan_images(model)
    with err.status("measuring packages …") as status:
        gathered = gather(model, plan, offline=offline, progress=lambda text: status.update(text))
    data = make_advice(model, gathered.facts, plan)
    if record:
        path = write_record(model, gathered.facts)
        err.print(f"wrote {path}; commit it so `coursehub build` shows the same sizes", style="green", markup=False)
    if chart is not None:
        fmt = chart.suffix.lstrip(".").lower()
        if fmt not in ("svg", "png"):
            raise CoursehubError(f"--chart {chart}: name a .svg or .png file")
        chart.write_bytes(students_on_standard(data, fmt=fmt))
    if json_out:
        out.print(json.dumps(data, indent=2, sort_keys=True), markup=False)
    else:
        for a in data["standards"]:
            table = Table(title=f"standard {a['standard']}: {a['students']} students in {a['courses']} course(s)")
            for col in ("stage", "folds in", "brings along", "courses moved", f"on {a['standard']}", "download", "installed"):
                table.add_column(col, justify="right" if col in ("download", "installed") or col.startswith("on ") else "left")
            counts = dict(stages(a))
            table.add_row("now", "—", "—", "—", str(counts["now"]), "", "")
            if "stale pins removed" in counts:
                table.add_row("stale pins removed", "—", "—", "\n".join(a["after_removals"]["courses"]) or "—", str(counts["stale pins removed"]), "", "")
            for s in a["steps"]:
                table.add_row(
                    f"step {s['step']}",
                    "\n".join(s["adds"]) or "—",
                    "\n".join(s["brings"]) or "—",
                    "\n".join(f"{c['course']} ({c['students']})" for c in s["courses"]),
                    str(s["students_on_standard"]),
                    _measured(s["download_bytes"], s["unmeasured"]),
                    _measured(s["installed_bytes"], s["unmeasured"]),
                )
            out.print(table)
            for r in a["removable"]:
                out.print(f"removable: {r['course']}: {r['pin']}", markup=False)
            for b in a["blocked"]:
                out.print(f"blocked: {b['course']} ({b['students']} students): {'; '.join(b['reasons'])}", markup=False)
            for u in a["unmeasured"]:
                err.print(f"not measured: {u}", style="yellow", markup=False)
    for missing in gathered.missing:
        err.print(f"not measured (offline): {missing}", style="yellow", markup=False)
    err.print(headline(data), markup=False)


@images_app.command("standard")
def standard(
    name: Annotated[str, typer.Argument(metavar="SET", help="The standard set: data8 or r.")] = "data8",
    relock: Annotated[
        bool,
        typer.Option("--relock", help="Maintainers: re-resolve the pins with pip and rewrite the set's data file."),
    ] = False,
    json_out: JsonOpt = False,
):
    """Show a standard package set (top-level pins and why), or re-lock it."""
    from coursehub.images.standard import load_standard, relock as do_relock, write_standard

    if relock:
        with err.status(f"resolving the {name} set with pip …"):
            data = do_relock(name)
        path = write_standard(name, data)
        err.print(f"wrote {path}; review the diff and update the digest in tests/test_images_standard.py", style="green")
        return
    s = load_standard(name)
    if json_out:
        data = {
            "name": s.name,
            "description": s.description,
            "python": s.python,
            "digest": s.digest,
            "packages": {p.name: p.version for p in s.packages},
            "lock": {p.name: p.version for p in s.lock.values()},
            "r_version": s.r_version,
            "cran_snapshot": s.cran_snapshot,
            "r_packages": [p.name for p in s.r_packages],
        }
        out.print(json.dumps(data, indent=2, sort_keys=True), markup=False)
        return
    table = Table(title=f"standard set {s.name}: {len(s.lock)} Python packages locked")
    for col in ("package", "version", "why"):
        table.add_column(col)
    for p in s.packages:
        table.add_row(p.name, p.version or "", p.why)
    for p in s.r_packages:
        table.add_row(f"R {p.name}", f"CRAN {s.cran_snapshot}", p.why)
    out.print(table)
    err.print(s.description, markup=False)


@images_app.command("check")
def check(
    manifest: ManifestArg,
    course: Annotated[Optional[str], typer.Option("--course", metavar="COURSE", help="Check only this course (default: every course).")] = None,
    timeout: Annotated[int, typer.Option("--timeout", metavar="SECONDS", help="Seconds one cell may run.")] = 300,
    json_out: JsonOpt = False,
):
    """Run every notebook of a course's content in its image's exact Python packages.

    The environment is made once per image lock (cached under ~/.cache/coursehub/envs, or
    $COURSEHUB_CACHE_DIR). Unanswered questions do not count as failures: cells tagged
    raises-exception, `raise NotImplementedError` placeholders and errors from `...` placeholders.
    Cells tagged skip-execution are not run. A missing package always fails. Exit status 1 when a
    notebook fails.
    """
    from coursehub.images.check import check_course, notebooks_of

    model, _ = load(manifest)
    courses = [model.course(course)] if course else list(model.courses)
    total = sum(len(notebooks_of(model, c)) for c in courses)
    results = []
    with Tracker("images check", total=total) as tracker:
        for c in courses:
            results.append(
                check_course(model, c, timeout=timeout, progress=tracker.status, on_notebook=lambda _: tracker.advance())
            )

    if json_out:
        out.print(json.dumps([r.as_data() for r in results], indent=2, sort_keys=True), markup=False)
    else:
        table = Table(title="Notebooks run in their course's image")
        for col in ("course", "image", "notebook", "result", "details"):
            table.add_column(col)
        for r in results:
            if r.skipped:
                table.add_row(r.course, r.image, "—", "skipped", r.skipped)
            for n in r.notebooks:
                details = n.failure.describe() if n.failure else ""
                if n.failure and n.failure.source:
                    details += f"\n  in: {n.failure.source}"
                if n.expected:
                    details += ("\n" if details else "") + f"{len(n.expected)} expected error(s) from unanswered questions"
                if n.language == "r":
                    details += ("\n" if details else "") + f"R {r.r_version} (the image pins R {r.image_r_version or '?'})"
                table.add_row(r.course, r.image, n.path, "pass" if n.passed else "FAIL", details)
        out.print(table)
        for r in results:
            if r.r_differs:
                err.print(
                    f"{r.course}: its R notebooks ran on R {r.r_version}, the image {r.image} pins R {r.image_r_version}: "
                    "a result here may not hold in the image",
                    style="yellow",
                    markup=False,
                )
            if r.unlocked:
                err.print(
                    f"{r.image}: installed but not pinned by the lock: {', '.join(r.unlocked)}; "
                    "add them to the image's packages to lock them too",
                    style="yellow",
                    markup=False,
                )
    failed = [f"{r.course}/{n.path}" for r in results for n in r.notebooks if not n.passed]
    if failed:
        raise CoursehubError(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", exit_code=EXIT_CHECK_FAILED)
    checked = sum(len(r.notebooks) for r in results)
    err.print(f"{checked} notebook(s) ran cleanly", style="green")



