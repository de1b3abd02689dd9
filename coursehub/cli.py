"""The ``coursehub`` command line: a thin layer over the library.

Core commands (validate, schema, build) live here. Each capability adds its own commands in a module
under :mod:`coursehub.commands` exposing ``register(app)``; they are registered in name order.
:func:`main` is the one place a :class:`~coursehub.errors.CoursehubError` becomes a message and an
exit status: users never see a traceback for bad input.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Annotated, Optional

import click
import typer

# typer >= 0.29 vendors its own click: its usage errors, Exit and Abort are not click's classes, so
# main() catches both families.
try:
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover - older typer raises click's own
    _TyperClickException = click.ClickException

_EXIT = (click.exceptions.Exit, typer.Exit)
_CLICK_ERROR = (click.ClickException, _TyperClickException)
_ABORT = (click.exceptions.Abort, typer.Abort, KeyboardInterrupt)
from rich.console import Console
from rich.table import Table

from coursehub import __version__
from coursehub.errors import EXIT_CHECK_FAILED, EXIT_INTERNAL, CoursehubError, Problem

app = typer.Typer(
    name="coursehub",
    help="Many courses on one shared JupyterHub, generated from one course manifest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # main() reports errors; tracebacks could show secrets in locals
    rich_markup_mode=None,
)

#: Messages, warnings and progress go to stderr; stdout carries only the command's data.
# Tables keep a readable width when piped to a file or a CI log.
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)

ManifestArg = Annotated[Path, typer.Argument(help="The course manifest (YAML).", show_default=False, metavar="MANIFEST")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat bad roster rows as errors instead of skipping them.")]


def show_problems(problems: list[Problem]) -> None:
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        err.print(p.format(), style=style, markup=False)


def load(manifest: Path, *, strict: bool = False):
    """Load a manifest for a command, showing warnings; errors propagate to :func:`main`."""
    from coursehub.loader import load_manifest

    model, warnings = load_manifest(manifest, strict=strict)
    show_problems(warnings)
    return model, warnings


def summary_table(summary: dict) -> Table:
    from coursehub.summary import COLUMNS, rows

    table = Table(title=f"{summary['hub']['name']} — {summary['hub']['url']}")
    for col in COLUMNS:
        table.add_column(col, no_wrap=col in ("course", "term"))
    for r in rows(summary):
        table.add_row(*r)
    return table


@app.command()
def validate(manifest: ManifestArg, strict: StrictOpt = False, json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False):
    """Check a manifest and its rosters; print what it describes."""
    from coursehub.summary import summarize

    model, _ = load(manifest, strict=strict)
    summary = summarize(model)
    if json_out:
        out.print(json.dumps(summary, indent=2, sort_keys=True), markup=False)
    else:
        out.print(summary_table(summary))
        err.print(f"{manifest}: valid", style="green")


@app.command()
def schema(output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None):
    """Print the manifest's JSON Schema (for yaml-language-server and other editors)."""
    from coursehub.schema import schema_text

    text = schema_text()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


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
    from coursehub.summary import summarize

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
        err.print(f"{output} is up to date ({len(ctx.files)} files)", style="green")
        return
    for note in ctx.notes:
        err.print(note, markup=False)
    if not only or "summary" in only:
        out.print(summary_table(summarize(model)))
    err.print(f"wrote {len(ctx.files)} files to {output}", style="green")


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False):
    if version:
        out.print(f"coursehub {__version__}")
        raise typer.Exit()


def _register_commands() -> None:
    import coursehub.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        importlib.import_module(f"coursehub.commands.{info.name}").register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every failure to a message and an exit status."""
    try:
        # Outside standalone mode typer turns Ctrl-C into a return value (130) instead of raising.
        status = app(args=argv, standalone_mode=False)
        if isinstance(status, int) and status:
            if status == 130:
                err.print("coursehub: interrupted", style="red")
            sys.exit(status)
    except CoursehubError as exc:
        show_problems(exc.problems)
        if exc.message:
            err.print(f"coursehub: {exc.message}", style="red", markup=False)
        sys.exit(exc.exit_code)
    except _EXIT as exc:
        sys.exit(exc.exit_code)
    except _CLICK_ERROR as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _ABORT:
        err.print("coursehub: interrupted", style="red")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception:
        # A bug in coursehub, not the user's input: keep the traceback out of the terminal (it may
        # hold secrets from locals) but on disk for the bug report.
        fd, path = tempfile.mkstemp(prefix="coursehub-crash-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            traceback.print_exc(file=fh)
        err.print(f"coursehub: internal error ({sys.exc_info()[0].__name__}); details in {path}", style="red")
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
