"""``coursehub validate`` (check a manifest, print what it describes) and ``coursehub schema``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from coursehub.commands._shared import JsonOpt, ManifestArg, StrictOpt, app, err, load, out, print_json


def summary_table(summary: dict) -> Table:
    from coursehub.manifest.summary import COLUMNS, rows

    table = Table(title=f"{summary['hub']['name']} — {summary['hub']['url']}")
    for col in COLUMNS:
        table.add_column(col, no_wrap=col in ("course", "term"))
    for r in rows(summary):
        table.add_row(*r)
    return table


@app.command()
def validate(manifest: ManifestArg, strict: StrictOpt = False, json_out: JsonOpt = False):
    """Check a manifest and its rosters; print what it describes."""
    from coursehub.manifest.summary import summarize

    model, _ = load(manifest, strict=strict)
    summary = summarize(model)
    if json_out:
        print_json(summary)
    else:
        out.print(summary_table(summary))
        err.print(f"{manifest}: valid", style="green", markup=False)


@app.command()
def schema(output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None):
    """Print the manifest's JSON Schema (for yaml-language-server and other editors)."""
    from coursehub.manifest.schema import schema_text

    text = schema_text()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
