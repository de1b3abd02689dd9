"""``coursehub build``: every artifact family from the manifest, written atomically (or compared with --check)."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.build import GENERATORS
from coursehub.commands._shared import JsonOpt, ManifestArg, StrictOpt, VerboseOpt, app, err, load, print_json
from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError

FAMILIES = ", ".join(name for name, _ in GENERATORS)


@contextlib.contextmanager
def stop_on_sigterm():
    """SIGTERM (a CI job cancelled, a scheduler's stop) stops a build as Ctrl-C does: its worker and
    writing processes are stopped and its staging folder removed, the output left as it was."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def build(
    manifest: ManifestArg,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="DIR", help="Folder to write the generated tree into.")] = Path("build"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if the folder is out of date.")] = False,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", metavar="FAMILY", help=f"Build only this artifact family (repeatable): {FAMILIES}."),
    ] = None,
    strict: StrictOpt = False,
    verbose: VerboseOpt = False,
    json_out: JsonOpt = False,
):
    """Generate every artifact (images, links, hub config, grader config, ...) from the manifest.

    Families whose inputs did not change since the last build of the folder are left as they are.
    """
    from coursehub import build as buildmod
    from coursehub.commands.manifest import plural, show_summary
    from coursehub.manifest.summary import summarize

    # a large manifest's slowest families get their worker first: it imports their modules while the
    # manifest is read
    with stop_on_sigterm(), buildmod.Workers.early(manifest, only) as workers:
        model, warnings = load(manifest, strict=strict)
        ctx, difference = buildmod.build(
            model,
            output,
            only=only,
            check=check,
            warnings=warnings,
            progress=lambda family: err.print(f"  generating {family} …", style="dim"),
            workers=workers,
        )
    total = sum(ctx.file_counts.values())
    if check:
        if difference:
            sys.stdout.write(difference)
            raise CoursehubError(
                f"{output} is out of date with {manifest}; run without --check to regenerate it",
                exit_code=EXIT_CHECK_FAILED,
            )
        err.print(f"{output} is up to date ({plural(total, 'file')})", style="green", markup=False)
        return
    for note in ctx.notes:
        err.print(note, markup=False)
    rendered = [name for name in ctx.file_counts if name not in ctx.unchanged]
    if json_out:
        report = {
            "output": str(output),
            "families": {name: {"files": n, "unchanged": name in ctx.unchanged} for name, n in ctx.file_counts.items()},
            "notes": ctx.notes,
            "summary": summarize(model),
        }
        print_json(report)
    elif not only or "summary" in only:
        show_summary(model, summarize(model), warnings=warnings, notes=ctx.notes, verbose=verbose)
    written = sum(n for name, n in ctx.file_counts.items() if name in rendered)
    if rendered:
        message = f"wrote {plural(written, 'file')} to {output} ({', '.join(rendered)})"
        if ctx.unchanged:
            message += f"; unchanged: {', '.join(ctx.unchanged)}"
    else:
        message = f"{output} is up to date: nothing changed since the last build ({plural(total, 'file')})"
    err.print(message, style="green", markup=False)
