"""nbgrader courses: configuration as data, release versions, and the grader backend (autograding
one submission in the sandbox, one course gradebook for the batch).

nbgrader keeps one *course directory* per course (``source/``, ``release/``, ``submitted/``,
``autograded/``, ``feedback/`` and ``gradebook.db``) and moves files between students and staff
through an *exchange*. On one shared hub many courses share the exchange root, so coursehub sets
``Exchange.path_includes_course`` (``<exchange>/<course_id>/...``) and gives every course its own
course directory; ``course_id`` is the coursehub course id, which is also what nbgrader's JupyterHub
integration reads from the ``nbgrader-<course>`` / ``formgrade-<course>`` group names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from coursehub.errors import CoursehubError
from coursehub.grading.base import FATAL_ERRORS, GraderBackend, failed, fatal_error_in, read_notebook
from coursehub.grading.results import atomic_write
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
        root = prepare_course(root=Path(tmp), course_id=course_id, assignment_id=assignment_id, source_dir=source_dir)
        release = root / "release" / assignment_id
        return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no details"


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


#: What the worker leaves in its scratch folder for the runner to keep.
FEEDBACK_FILE = "feedback.html"
AUTOGRADED_FILE = "autograded.ipynb"


def grade_one(*, template: Path, course_id: str, assignment_id: str, student: str, notebook: Path,
              maxima: dict[str, float]) -> dict[str, Any]:
    """Autograde one submission with ``NbGraderAPI`` in a private course copy (in the sandbox)."""
    from nbgrader.api import Gradebook

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
    graded_nb = read_notebook(graded)
    fatal = fatal_error_in(graded_nb)
    if fatal:
        return failed(fatal, maxima)
    notes = [
        f"a code cell raised {out.get('ename', '')}: {str(out.get('evalue', ''))[:200]}"
        for cell in graded_nb.cells
        # a failing test cell is the score, not a note
        if not cell.get("metadata", {}).get("nbgrader", {}).get("grade")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    shutil.copyfile(graded, Path.cwd() / AUTOGRADED_FILE)
    questions: dict[str, list[float]] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id) as gb:
        submission = gb.find_submission(assignment_id, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                if grade.cell.max_score:
                    # auto_score only: a manual_score can only have come from the submission itself
                    questions[grade.name] = [float(grade.auto_score or 0), float(grade.max_score)]
    questions = {name: questions.get(name, [0.0, maxima[name]]) for name in maxima}
    fb = api.generate_feedback(assignment_id, student)
    if fb["success"]:
        html = sorted((root / "feedback" / student / assignment_id).glob("*.html"))
        if html:
            shutil.copyfile(html[0], Path.cwd() / FEEDBACK_FILE)
    return {
        "status": "graded",
        "score": sum(q[0] for q in questions.values()),
        "max": sum(q[1] for q in questions.values()),
        "questions": questions,
        "notes": notes,
        "feedback": "",
    }


def _keep_file(source: Path, target: Path) -> None:
    """Copy a file the sandbox wrote, if it is a plain file (a submission could leave a symlink)."""
    if source.is_file() and not source.is_symlink():
        atomic_write(target, source.read_bytes()[:MAX_KEPT_BYTES])


#: Largest feedback or autograded notebook kept from a sandbox.
MAX_KEPT_BYTES = 32 * 1024 * 1024
#: The course gradebook's folder in the output, laid out as an nbgrader course directory.
COURSE_DIR = "nbgrader"


class NbgraderBackend(GraderBackend):
    """nbgrader: a template course prepared once; each submission autograded in a private copy of it.

    The batch then records every student's scores in one course gradebook
    (``<out>/nbgrader/gradebook.db``, beside ``autograded/<student>/<assignment>/``, so nbgrader's
    formgrader and exporter can open it) and exports it with nbgrader's own CSV exporter
    (``<out>/nbgrader/grades.csv``). Only the trusted runner writes that gradebook.
    """

    name = "nbgrader"
    # nbgrader's own import takes seconds
    extra_warm_modules = ("nbgrader.apps", "nbgrader.api")

    @classmethod
    def prepare(cls, *, course, assignment, source: Path, work: Path, engine: str) -> NbgraderBackend:
        backend = cls()
        backend.course_id = course.id
        backend.assignment_id = assignment.id
        source_dir = source.parent if source.is_file() else source
        notebooks = sorted(source_dir.glob("*.ipynb"))
        if len(notebooks) != 1:
            raise CoursehubError(f"nbgrader source {source_dir} must hold exactly one notebook; it holds {len(notebooks)}")
        backend.notebook_name = notebooks[0].name
        digest = hashlib.sha256()
        for p in sorted(source_dir.rglob("*")):
            if p.is_file():
                digest.update(p.relative_to(source_dir).as_posix().encode() + b"\0" + p.read_bytes())
        backend.fingerprint = "nbgrader:" + digest.hexdigest()
        backend.template = prepare_course(root=work / "course-template", course_id=course.id,
                                          assignment_id=assignment.id, source_dir=source_dir)
        backend.maxima = max_scores(backend.template, course.id, assignment.id)
        return backend

    def stage(self, scratch: Path, submission: Path) -> Path:
        target = scratch / "submission" / self.notebook_name
        target.parent.mkdir()
        shutil.copyfile(submission, target)
        return target

    def job(self, student: str, notebook: Path):
        return lambda: grade_one(template=self.template, course_id=self.course_id, assignment_id=self.assignment_id,
                                 student=student, notebook=notebook, maxima=self.maxima)

    def keep(self, out: Path, student: str, scratch: Path, payload: dict[str, Any]) -> None:
        _keep_file(scratch / FEEDBACK_FILE, out / "feedback" / f"{student}.html")
        _keep_file(scratch / AUTOGRADED_FILE,
                   out / COURSE_DIR / "autograded" / student / self.assignment_id / self.notebook_name)

    def finish(self, out: Path, results, roster: list[str]) -> None:
        """Record every result in the course gradebook, then export it with nbgrader's exporter."""
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.plugins.export import CsvExportPlugin

        folder = out / COURSE_DIR
        db = folder / "gradebook.db"
        stamp = folder / ".coursehub-fingerprint"
        if not db.is_file() or not stamp.is_file() or stamp.read_text(encoding="utf-8") != self.fingerprint:
            # new tests: start from the template's gradebook (every submission is graded again anyway)
            atomic_write(db, (self.template / "gradebook.db").read_bytes())
            atomic_write(stamp, self.fingerprint.encode("utf-8"))
        notebook = Path(self.notebook_name).stem
        with Gradebook(f"sqlite:///{db}", self.course_id) as gb:
            for result in results:
                gb.update_or_create_student(result.student)
                if result.status == "missing":
                    try:
                        gb.remove_submission(self.assignment_id, result.student)
                    except MissingEntry:
                        pass
                    continue
                gb.update_or_create_submission(self.assignment_id, result.student)
                for name, (score, _) in result.questions.items():
                    try:
                        gb.find_grade(name, notebook, self.assignment_id, result.student).auto_score = score
                    except MissingEntry:
                        continue
                gb.db.commit()
            CsvExportPlugin(to=str(folder / "grades.csv"), assignment=[self.assignment_id]).export(gb)
