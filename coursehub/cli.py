"""The ``coursehub`` command line: :func:`main` only.

The commands live in :mod:`coursehub.commands`, one module per command group, each decorating the apps of
:mod:`coursehub.commands._shared`. :func:`main` is the one place a
:class:`~coursehub.errors.CoursehubError` becomes a message and an exit status: users never see a traceback
for bad input.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback

import click
import typer

from coursehub.commands._shared import app, command, err, show_problems  # noqa: F401 (app: the typer app, for sitegen)
from coursehub.errors import EXIT_INTERNAL, CoursehubError

# typer >= 0.29 vendors its own click: its usage errors, Exit and Abort are not click's classes, so
# main() catches both families.
try:
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover - older typer raises click's own
    _TyperClickException = click.ClickException

_EXIT = (click.exceptions.Exit, typer.Exit)
_CLICK_ERROR = (click.ClickException, _TyperClickException)
_ABORT = (click.exceptions.Abort, typer.Abort, KeyboardInterrupt)

#: Command modules in the order their commands are listed by ``coursehub --help``; importing one registers it.
COMMAND_MODULES = ("manifest", "build", "links", "images", "hub", "sync", "collect", "grade", "grades", "grades_push", "cost")
for _name in COMMAND_MODULES:
    importlib.import_module(f"coursehub.commands.{_name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every failure to a message and an exit status."""
    try:
        # Outside standalone mode typer turns Ctrl-C into a return value (130) instead of raising.
        status = command()(args=argv, standalone_mode=False)
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
