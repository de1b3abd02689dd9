"""``coursehub validate`` (check a manifest, print what it describes) and ``coursehub schema``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from coursehub.commands._shared import JsonOpt, ManifestArg, StrictOpt, VerboseOpt, app, err, load, out, print_json
from coursehub.manifest.units import plural  # noqa: F401 (the commands import it from here)


def summary_table(summary: dict, only: list[str] | None = None) -> Table:
    """The per-course table (every course, or only the ids in ``only``, in manifest order)."""
    from coursehub.manifest.summary import COLUMNS, rows

    table = Table(title=f"{summary['hub']['name']} — {summary['hub']['url']}" if only is None else "courses with warnings")
    for col in COLUMNS:
        table.add_column(col, no_wrap=col in ("course", "term"))
    for course, r in zip(summary["courses"], rows(summary)):
        if only is None or course["id"] in only:
            table.add_row(*r)
    return table


def show_summary(model, summary: dict, *, warnings: list, notes: list[str], verbose: bool) -> None:
    """What a manifest describes: totals and the courses with problems, or with ``verbose`` every course."""
    from coursehub.manifest.summary import courses_with_problems, totals_line

    if verbose:
        out.print(summary_table(summary))
        return
    out.print(f"{summary['hub']['name']} ({summary['hub']['url']}): {totals_line(summary)}", markup=False)
    flagged = courses_with_problems(model, warnings, notes)
    if flagged:
        out.print(summary_table(summary, only=flagged))


@app.command()
def validate(manifest: ManifestArg, strict: StrictOpt = False, json_out: JsonOpt = False, verbose: VerboseOpt = False):
    """Check a manifest and its rosters; print its totals and the courses with warnings."""
    from coursehub.manifest.summary import summarize

    model, warnings = load(manifest, strict=strict)
    summary = summarize(model)
    if json_out:
        print_json(summary)
        return
    show_summary(model, summary, warnings=warnings, notes=[], verbose=verbose)
    if warnings:
        err.print(f"{manifest}: valid, with {plural(len(warnings), 'warning')} (above)", style="yellow", markup=False)
    else:
        err.print(f"{manifest}: valid", style="green", markup=False)


@app.command()
def schema(output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="FILE", help="Write to this file instead of stdout.")] = None):
    """Print the manifest's JSON Schema (for yaml-language-server and other editors)."""
    from coursehub.manifest.schema import schema_text

    text = schema_text()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
