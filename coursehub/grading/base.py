"""What a grader backend is: the protocol the batch runner drives, the registry that picks one, and
what every backend shares (the modules to warm up, the errors that fail a submission, the failed
result, reading a notebook).

A backend is built once per batch (:meth:`GraderBackend.prepare`: otter assign, or nbgrader's
generate_assignment into a template course) and then, for each submission, puts the notebook into
the submission's scratch folder (:meth:`~GraderBackend.stage`) and returns the job the sandbox runs
there (:meth:`~GraderBackend.job`). A job returns a *payload*: a JSON-able dict with ``status``,
``score``, ``max``, ``questions`` (name -> ``[score, possible]``), ``notes``, ``reason`` and
``feedback``. Whatever happens to a submission, its payload carries the assignment's maximum and
every question's points: :meth:`~GraderBackend.failed` builds that from :attr:`~GraderBackend.maxima`.

The registry maps the manifest's ``grader:`` to a backend; backends are imported only when chosen,
so the CLI does not pay for importing every grader.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from coursehub.errors import CoursehubError

if TYPE_CHECKING:
    from coursehub.grading.results import Result
    from coursehub.manifest import Assignment, Course

#: Modules every backend's warm grader imports once, before forking: reading notebooks and running
#: kernels (otter's kernel engine and nbgrader both execute through nbclient).
WARM_MODULES = ("nbformat", "IPython.core.interactiveshell", "jupyter_client", "nbclient", "nbconvert")

#: Errors that end grading of a submission with a failed result instead of partial credit, and how
#: the reason says it. A cell raising one of these did not finish, so no later answer can be trusted
#: to have run as the student meant.
FATAL_ERRORS = {
    "SystemExit": "called sys.exit()",
    "MemoryError": "ran out of memory",
    "DeadKernelError": "killed its kernel",
}

#: Why a submission that deleted its staged notebook (or the grader's working files) failed.
DELETED_FILES = "the submission deleted the files it was graded with"

#: Engines ``coursehub grade --engine`` accepts; a backend that has only one ignores the choice.
ENGINES = ("warm", "kernel")


def failed(reason: str, maxima: dict[str, float]) -> dict[str, Any]:
    """The payload of a submission that could not be graded: 0 of the assignment's points.

    ``maxima`` (question -> points) keeps the maximum and every question's points on the row, so a
    gradebook that divides by the maximum sees the same denominator as for a graded submission.
    """
    return {
        "status": "failed",
        "score": 0.0,
        "max": float(sum(maxima.values())),
        "questions": {name: [0.0, float(points)] for name, points in maxima.items()},
        "notes": [],
        "reason": reason,
        "feedback": "",
    }


def read_notebook(path: Path):
    """Parse a submission; raises ``ValueError`` with a short reason if it is not a notebook."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON / bad structure
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ValueError(f"not a valid notebook: {first}") from None
    if not isinstance(nb.get("cells"), list):
        raise ValueError("not a valid notebook: no cells")
    return nb


#: What IPython prints instead of an error output when it cannot even format the exception (out of
#: memory while formatting it): the traceback then arrives as plain stream text.
_UNFORMATTED = "Unexpected exception formatting exception"


def fatal_error_in(notebook) -> str | None:
    """The first fatal error (see :data:`FATAL_ERRORS`) in an executed notebook's outputs, as a reason."""
    for cell in notebook.get("cells", []):
        outputs = cell.get("outputs", [])
        for out in outputs:
            if out.get("output_type") == "error" and out.get("ename", "") in FATAL_ERRORS:
                return f"a code cell {FATAL_ERRORS[out['ename']]}"
        streams = [str(o.get("text", "")) for o in outputs if o.get("output_type") == "stream"]
        if any(_UNFORMATTED in text for text in streams):
            lines = [line.strip() for text in streams for line in text.splitlines()]
            for kind, what in FATAL_ERRORS.items():
                if any(line == kind or line.startswith(kind + ":") for line in lines):
                    return f"a code cell {what}"
    return None


class GraderBackend(ABC):
    """One grader (otter, nbgrader) prepared for one assignment; driven by :mod:`coursehub.grading.runner`.

    Attributes set by :meth:`prepare`: :attr:`notebook_name` (the notebook a submission must hold),
    :attr:`fingerprint` (changes when the tests change, so saved results are graded again) and
    :attr:`maxima` (question -> points).
    """

    #: The manifest's ``grader:`` value this backend serves.
    name: ClassVar[str]
    #: Modules this backend imports once before forking, on top of :data:`WARM_MODULES`.
    extra_warm_modules: ClassVar[tuple[str, ...]] = ()

    notebook_name: str
    fingerprint: str
    maxima: dict[str, float]

    @classmethod
    @abstractmethod
    def prepare(cls, *, course: Course, assignment: Assignment, source: Path, work: Path, engine: str) -> GraderBackend:
        """Build the grader for one assignment from its ``source`` (in the trusted runner)."""

    @abstractmethod
    def stage(self, scratch: Path, submission: Path) -> Path:
        """Copy a submission (and what it needs) into its scratch folder; return the notebook's path there."""

    @abstractmethod
    def job(self, student: str, notebook: Path) -> Callable[[], dict[str, Any]]:
        """The callable the sandbox runs for one staged submission; it returns a payload."""

    @property
    def max_points(self) -> float:
        return float(sum(self.maxima.values()))

    @property
    def warm_modules(self) -> tuple[str, ...]:
        return WARM_MODULES + self.extra_warm_modules

    def failed(self, reason: str) -> dict[str, Any]:
        """A failed payload with this assignment's maximum and per-question points."""
        return failed(reason, self.maxima)

    def keep(self, out: Path, student: str, scratch: Path, payload: dict[str, Any]) -> None:
        """Copy what the batch keeps from a finished submission's scratch folder (default: nothing)."""

    def finish(self, out: Path, results: list[Result], roster: list[str]) -> None:
        """Write the backend's own records of the whole batch (default: nothing)."""


#: The manifest's ``grader:`` -> the backend class, as ``module:Class`` (imported when chosen).
BACKENDS = {
    "otter": "coursehub.grading.otter:OtterBackend",
    "nbgrader": "coursehub.grading.nbgrader:NbgraderBackend",
}


def backend_for(grader: str) -> type[GraderBackend]:
    """The backend class for a course's ``grader:``; a course without one cannot be graded."""
    if grader not in BACKENDS:
        raise CoursehubError(f"no grader backend for grader: {grader}; choose one of {', '.join(sorted(BACKENDS))}")
    module, _, name = BACKENDS[grader].partition(":")
    return getattr(importlib.import_module(module), name)
