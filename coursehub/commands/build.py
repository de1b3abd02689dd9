"""``coursehub build``: every artifact family from the manifest, written atomically (or compared with --check)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import ManifestArg, StrictOpt, app, err, load, out
from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError


@app.command()
def build(
    manifest: ManifestArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write the generated tree into.")] = Path("build"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if the folder is out of date.")] = False,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Build only this artifact family (repeatable).")] = None,
    strict: StrictOpt = False,
):
    """Generate every artifact (images, links, hub config, grader config, ...) from the manifest."""
    from coursehub import build as buildmod
    from coursehub.commands.manifest import summary_table
    from coursehub.manifest.summary import summarize

    model, warnings = load(manifest, strict=strict)
    ctx, difference = buildmod.build(
        model,
        output,
        only=only,
        check=check,
        warnings=warnings,
        progress=lambda family: err.print(f"  generating {family} …", style="dim"),
    )
    if check:
        if difference:
            sys.stdout.write(difference)
            raise CoursehubError(
                f"{output} is out of date with {manifest}; run without --check to regenerate it",
                exit_code=EXIT_CHECK_FAILED,
            )
        err.print(f"{output} is up to date ({len(ctx.files)} files)", style="green", markup=False)
        return
    for note in ctx.notes:
        err.print(note, markup=False)
    if not only or "summary" in only:
        out.print(summary_table(summarize(model)))
    err.print(f"wrote {len(ctx.files)} files to {output}", style="green", markup=False)
