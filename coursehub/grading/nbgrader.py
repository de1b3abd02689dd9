"""nbgrader courses: configuration as data, release versions, and autograding one submission.

nbgrader keeps one *course directory* per course (``source/``, ``release/``, ``submitted/``,
``autograded/``, ``feedback/`` and ``gradebook.db``) and moves files between students and staff
through an *exchange*. On one shared hub many courses share the exchange root, so coursehub sets
``Exchange.path_includes_course`` (``<exchange>/<course_id>/...``) and gives every course its own
course directory; ``course_id`` is the coursehub course id, which is also what nbgrader's JupyterHub
integration reads from the ``nbgrader-<course>`` / ``formgrade-<course>`` group names.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from coursehub.errors import CoursehubError
from coursehub.manifest import Course

#: Where course directories and the shared exchange live on the hub's shared storage.
COURSES_ROOT = "/srv/nbgrader/courses"
EXCHANGE_ROOT = "/srv/nbgrader/exchange"


def course_directory(course_id: str) -> str:
    """The course's nbgrader course directory on the hub (one per course, never shared)."""
    return f"{COURSES_ROOT}/{course_id}"


def config(course: Course) -> dict[str, Any]:
    """``nbgrader_config.json`` for a course, as data (traitlets loads it like ``nbgrader_config.py``)."""
    return {
        "CourseDirectory": {
            "course_id": course.id,
            "root": course_directory(course.id),
        },
        "Exchange": {
            "root": EXCHANGE_ROOT,
            # the shared exchange keeps courses apart by course id, so two courses' lab01 never collide
            "path_includes_course": True,
        },
        # Which courses a user sees comes from the hub groups coursehub syncs
        # (nbgrader-<course> for students, formgrade-<course> for graders), read by this plugin.
        "Authenticator": {"plugin_class": "nbgrader.auth.JupyterHubAuthPlugin"},
    }


#: nbgrader's parts in a single-user server: the server extensions its ``jupyter_server_config.d``
#: enables (and its catch-all one) and the JupyterLab / Notebook 7 extension that adds its menus.
SERVER_EXTENSIONS = (
    "nbgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
)
LAB_EXTENSION = "@jupyter/nbgrader"


def jupyter_config_off() -> dict[str, dict]:
    """Jupyter configuration files that turn nbgrader off in a server: for courses that do not use it.

    An image (or a single machine's environment) shared by an nbgrader course and an otter course has
    nbgrader installed for both; these keep its menus and handlers out of the otter course's servers.
    """
    return {
        "jupyter_server_config.json": {"ServerApp": {"jpserver_extensions": {name: False for name in SERVER_EXTENSIONS}}},
        "labconfig/page_config.json": {"disabledExtensions": {LAB_EXTENSION: True}},
    }


def jupyter_config_on(course: Course) -> dict[str, dict]:
    """Jupyter configuration files for the servers of an nbgrader course: its ``nbgrader_config.json``."""
    return {"nbgrader_config.json": config(course)}


def _ensure_tools_on_path() -> None:
    # nbgrader's Gradebook runs the ``alembic`` command by name; a venv used without activation
    # (``.venv/bin/coursehub``) does not have its bin folder on PATH.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")]).rstrip(os.pathsep)


def _api(root: Path, course_id: str):
    _ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    cfg = Config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.course_id = course_id
    # coursehub's sandbox bounds the whole submission by wall clock; nbgrader's own per-cell limit
    # would stop a slow but legitimate cell first, so it is set out of the way (a day)
    cfg.Execute.timeout = 86400
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def generate_release(*, course_id: str, assignment_id: str, source_dir: Path) -> dict[str, bytes]:
    """Run nbgrader ``generate_assignment`` on a source folder; return the release files (name -> bytes)."""
    with tempfile.TemporaryDirectory(prefix="coursehub-nbgrader-") as tmp:
        root = Path(tmp)
        shutil.copytree(source_dir, root / "source" / assignment_id)
        api = _api(root, course_id)
        result = api.generate_assignment(assignment_id)
        if not result["success"]:
            raise CoursehubError(
                f"nbgrader generate_assignment failed for {course_id}/{assignment_id}: "
                f"{_last_line(result.get('error') or result.get('log') or '')}"
            )
        release = root / "release" / assignment_id
        return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no details"


#: Modules the warm grader imports once, before forking (nbgrader's own import takes seconds).
WARM_MODULES = ("nbgrader.apps", "nbgrader.api", "nbconvert", "nbclient", "jupyter_client")
#: Errors in a cell's output that end grading with a failed result instead of partial credit.
FATAL_ERRORS = {"SystemExit": "called sys.exit()", "MemoryError": "ran out of memory", "DeadKernelError": "killed its kernel"}


def prepare_course(*, root: Path, course_id: str, assignment_id: str, source_dir: Path) -> Path:
    """A template course directory with the assignment generated and in the gradebook.

    Each submission is autograded in a private copy of it, so no submission can reach another's
    gradebook rows, and creating the gradebook (slow: nbgrader runs ``alembic``) happens once.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_dir, root / "source" / assignment_id)
    result = _api(root, course_id).generate_assignment(assignment_id)
    if not result["success"]:
        raise CoursehubError(
            f"nbgrader generate_assignment failed for {course_id}/{assignment_id}: "
            f"{_last_line(result.get('error') or result.get('log') or '')}"
        )
    return root


def max_scores(template: Path, course_id: str, assignment_id: str) -> dict[str, float]:
    """Points of each autograded test cell, by grade id, from the template's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{template / 'gradebook.db'}", course_id) as gb:
        assignment = gb.find_assignment(assignment_id)
        return {cell.name: float(cell.max_score) for nb in assignment.notebooks for cell in nb.grade_cells}


def grade_one(*, template: Path, course_id: str, assignment_id: str, student: str, notebook: Path) -> dict[str, Any]:
    """Autograde one submission with ``NbGraderAPI`` in a private course copy (in the sandbox)."""
    from nbgrader.api import Gradebook

    from coursehub.grading.otter import read_notebook

    maxima = max_scores(template, course_id, assignment_id)
    try:
        read_notebook(notebook)
    except ValueError as exc:
        return failed(str(exc), maxima)
    root = Path.cwd() / "course"
    shutil.copytree(template, root)
    target = root / "submitted" / student / assignment_id / notebook.name
    target.parent.mkdir(parents=True)
    shutil.copyfile(notebook, target)
    api = _api(root, course_id)
    result = api.autograde(assignment_id, student)
    if not result["success"]:
        text = (result.get("log") or "") + (result.get("error") or "")
        for kind, what in FATAL_ERRORS.items():
            if kind in text:
                return failed(f"the submission {what}", maxima)
        return failed(f"nbgrader autograde failed: {_last_line(text)}", maxima)
    graded = root / "autograded" / student / assignment_id / notebook.name
    notes: list[str] = []
    for cell in read_notebook(graded).cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                kind = out.get("ename", "")
                if kind in FATAL_ERRORS:
                    return failed(f"a code cell {FATAL_ERRORS[kind]}", maxima)
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                    continue  # a failing test cell is the score, not a note
                notes.append(f"a code cell raised {kind}: {str(out.get('evalue', ''))[:200]}")
    questions: dict[str, list[float]] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id) as gb:
        submission = gb.find_submission(assignment_id, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                if grade.cell.max_score:
                    # auto_score only: a manual_score can only have come from the submission itself
                    questions[grade.name] = [float(grade.auto_score or 0), float(grade.max_score)]
    questions = {name: questions.get(name, [0.0, maxima[name]]) for name in maxima}
    feedback = ""
    fb = api.generate_feedback(assignment_id, student)
    if fb["success"]:
        html = sorted((root / "feedback" / student / assignment_id).glob("*.html"))
        if html:
            shutil.copyfile(html[0], Path.cwd() / "feedback.html")
            feedback = "feedback.html"
    return {
        "status": "graded",
        "score": sum(q[0] for q in questions.values()),
        "max": sum(q[1] for q in questions.values()),
        "questions": questions,
        "notes": notes,
        "feedback": "",
        "feedback_file": feedback,
    }


def failed(reason: str, maxima: dict[str, float]) -> dict[str, Any]:
    return {
        "status": "failed",
        "score": 0.0,
        "max": float(sum(maxima.values())),
        "questions": {name: [0.0, m] for name, m in maxima.items()},
        "notes": [],
        "reason": reason,
        "feedback": "",
    }
