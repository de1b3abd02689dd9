"""What every command shares: the typer apps, the two consoles, loading a manifest, and the option types.

Command modules import from here and decorate these apps (``@app.command()``, ``@images_app.command("drift")``);
nothing here imports a command module, and no command module imports :mod:`coursehub.cli`. An option that
more than one command takes is defined once below, with one help text.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
import datetime as dt
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import TextColumn
from coursehub.errors import CoursehubError, Problem


def _typer(name: str | None, help: str) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        # main() reports errors; a pretty traceback would print locals, and locals can hold secrets
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = _typer("coursehub", "Many courses on one shared JupyterHub, generated from one course manifest.")
hub_app = _typer("hub", "Run the manifest's hub locally.")
images_app = _typer("images", "Standard images: what each course adds, the pinned standard sets, and checking notebooks run.")
links_app = _typer("links", "Check the nbgitpuller links a manifest generates.")
grades_app = _typer("grades", "Grades after `coursehub grade`: export them, push them to the LMS.")
app.add_typer(hub_app)
app.add_typer(images_app)
app.add_typer(links_app)
app.add_typer(grades_app)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False):
    if version:
        from coursehub import __version__

        out.print(f"coursehub {__version__}")
        raise typer.Exit()

#: Messages, warnings and progress go to stderr; stdout carries only the command's data.
# Tables keep a readable width when piped to a file or a CI log. Most of what is printed comes from a
# manifest, a roster or a hub, so nothing is read as rich markup or emoji codes: "[/]data8" is an image
# key, not a closing tag, and "root:x:0" is not an emoji. Every print, table cell and title is literal.
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False,
              width=None if sys.stderr.isatty() else 160)
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False, width=None if sys.stdout.isatty() else 160)


def print_json(data) -> None:
    """Print ``data`` as JSON on stdout: the command's data, written as is (rich would re-wrap every line)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def text_column(text_format: str = "{task.description}") -> TextColumn:
    """A progress bar's text column that shows its text literally (descriptions name repositories,
    students and notebooks; rich's default column parses them as markup)."""
    return TextColumn(text_format, markup=False)


def command():
    """The click command tree that :func:`coursehub.cli.main` runs, with help written for people.

    typer shows each parameter's Python type (``<list[str]>``, ``<int range>``, ``<path>``); here an
    argument shows its name only, an option its metavar (set where it is declared, else a plain word
    for its type), and every command's first sentence is its full line in the command list (click
    cuts it at 45 characters otherwise).
    """
    import typer

    root = typer.main.get_command(app)
    _tidy_help(root)
    return root


def _plain_metavar(param) -> str:
    """A plain word for the value of an option that declares no metavar."""
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "[" + "|".join(str(c) for c in desc.choices) + "]"
    annotation = desc.annotation
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    if desc.is_path:
        return "PATH"
    return {int: "N", float: "NUMBER"}.get(annotation, "TEXT")


def _tidy_help(cmd) -> None:
    for param in cmd.params:
        if param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            param.display_type_rich = lambda ctx: None  # the name says it; the help text says the rest
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = _plain_metavar(param)
    for name, sub in getattr(cmd, "commands", {}).items():
        if not sub.short_help and sub.help:
            first = sub.help.strip().split("\n\n")[0].replace("\n", " ")
            sub.short_help = first.split(". ")[0].rstrip(".") + "."
        _tidy_help(sub)


class Tracker:
    """Progress of one long step, for ``images check``, ``links check``, ``sync`` and ``grade``.

    On a terminal, a live bar on stderr that names what it is doing now. Anywhere else (a CI log, a
    pipe) plain lines on stderr instead: the first, then at most one every ``every`` seconds, then the
    last, each ``label: done/total note``. With ``threads=False`` nothing runs in the background (a
    bar redraws only when told), for callers that fork.
    """

    def __init__(self, label: str, *, total: int | None = None, threads: bool = True, every: float = 5.0):
        self.label, self.total, self.done, self.note = label, total, 0, ""
        self._every, self._last, self._start = every, 0.0, 0.0
        self._bar = None
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(), text_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True, auto_refresh=threads,
            )
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> Tracker:
        import time

        self._start = time.monotonic()
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif exc[0] is None:
            self._line(final=True)

    def set_total(self, total: int) -> None:
        self.total = total
        self._show()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        self._show()

    def status(self, note: str) -> None:
        """What the step is doing or waiting on now."""
        self.note = note
        self._show()

    def _show(self) -> None:
        if self._bar is not None:
            description = f"{self.label}: {self.note}" if self.note else self.label
            self._bar.update(self._task, completed=self.done, total=self.total, description=description)
            self._bar.refresh()
            return
        import time

        if not self._last or time.monotonic() - self._last >= self._every:
            self._line()

    def _line(self, final: bool = False) -> None:
        import time

        self._last = time.monotonic()
        parts = [f"{self.label}:"]
        if self.total is not None:
            parts.append(f"{self.done}/{self.total}")
        elif self.done:
            parts.append(str(self.done))
        if final:
            parts.append(f"done in {self._last - self._start:.0f}s")
        elif self.note:
            parts.append(self.note)
        err.print(" ".join(parts), markup=False, highlight=False, soft_wrap=True)


def show_problems(problems: list[Problem]) -> None:
    """Print problems to stderr; their text comes from the manifest, so it is never read as markup."""
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        err.print(p.format(), style=style, markup=False)


def load(manifest: Path, *, strict: bool = False):
    """Load a manifest for a command, showing warnings; errors propagate to :func:`coursehub.cli.main`."""
    from coursehub.manifest.loader import load_manifest

    model, warnings = load_manifest(manifest, strict=strict)
    show_problems(warnings)
    return model, warnings


def parse_today(value: str | None) -> dt.date:
    """The date of a ``--today`` option (today when not given)."""
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from coursehub.manifest.units import date_problem

        raise CoursehubError(f"--today {date_problem(value)}") from None


# --- option types shared by several commands ------------------------------------------------------------

ManifestArg = Annotated[Path, typer.Argument(help="The course manifest (YAML).", show_default=False, metavar="MANIFEST")]
CourseArg = Annotated[str, typer.Argument(help="Course id (data-c8-fa26).", show_default=False, metavar="COURSE")]
AssignmentArg = Annotated[str, typer.Argument(help="Assignment id (lab01).", show_default=False, metavar="ASSIGNMENT")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat bad roster rows as errors instead of skipping them.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show every course, not only the totals and the courses with warnings.")
]
HubApiOpt = Annotated[
    str,
    typer.Option(
        "--hub-api",
        metavar="URL",
        envvar="JUPYTERHUB_API_URL",
        help="The hub's REST API URL, e.g. https://hub.example.edu/hub/api.",
        show_default=False,
    ),
]
TodayOpt = Annotated[
    Optional[str], typer.Option("--today", metavar="DATE", help="Act as if today were this date (YYYY-MM-DD); default: today.")
]
TokenFileOpt = Annotated[
    Optional[Path],
    typer.Option("--token-file", metavar="FILE", help="Read the API token from this file instead of $JUPYTERHUB_API_TOKEN."),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option("--concurrency", metavar="N", min=1, max=32,
                 help="Requests in flight at once (collect: students handled at once, so servers started at once)."),
]
