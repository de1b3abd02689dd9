"""The one domain exception type, and the exit codes it maps to.

Every user-facing failure raises :class:`CoursehubError` (or a subclass); the CLI turns it into a
message on stderr and an exit status in exactly one place (:func:`coursehub.cli.main`), so users
never see a traceback for a mistake in their input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit statuses. 1 is reserved for "the check found a difference / something is broken", the way
# `diff` and linters use it, so a university's CI can tell drift (1) from bad input (2).
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def excerpt(value: object, width: int = 80) -> str:
    """A value from an input file as a message quotes it: its repr (so a newline or an escape sequence
    cannot forge a line or reach the terminal), cut short (a 1 MB title stays one line)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 5] + "…" + text[-4:]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can.

    ``code`` is stable and machine-readable (``yaml-syntax``, ``roster-missing``, ``unknown-image``, ...):
    callers and tests branch on it, never on the message, which may be reworded.
    """

    message: str
    path: str = ""  # dotted path inside the manifest, e.g. courses[0].resources.memory.limit
    file: str = ""
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    hint: str = ""  # what would fix it
    severity: str = "error"  # error | warning
    code: str = ""

    def format(self) -> str:
        where = self.file or "<manifest>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f"; {self.hint}"
        return text


class CoursehubError(Exception):
    """A failure the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, problems: list[Problem] | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        if exit_code is not None:
            self.exit_code = exit_code

    def format(self) -> str:
        lines = [p.format() for p in self.problems]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


class ManifestError(CoursehubError):
    """The manifest (or a roster it points to) is invalid; ``problems`` lists every issue found."""


@dataclass
class Report:
    """Problems collected while loading, so every issue is reported at once."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, message: str, *, code: str, **where) -> None:
        self.problems.append(Problem(message, severity="error", code=code, **where))

    def warning(self, message: str, *, code: str, **where) -> None:
        self.problems.append(Problem(message, severity="warning", code=code, **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]
