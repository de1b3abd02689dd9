"""otter-grader courses: student and autograder versions from a master notebook, and grading.

``otter assign`` turns a master notebook (otter's assign format) into a student version and an
autograder zip. The zip otter writes is named and stamped with the time, so coursehub reads the
files out of it and writes them back into a zip with fixed timestamps: the same master always gives
the same bytes, which lets ``coursehub build --check`` and the committed student versions be tested.

Grading has two engines that give the same scores (a test proves it on the example lab):

* ``warm`` (default): the test files are loaded once; each submission's cells run in an IPython
  shell inside a sandboxed fork of the warm grader, with otter's own ``TestFile`` objects checking
  each question where the notebook checks it and every remaining one at the end (what otter's
  autograder does), and ``GradingResults`` adding up the points.
* ``kernel``: otter's own ``otter.api.grade_submission`` (a Jupyter kernel per submission), inside
  the same sandbox, for assignments that need a real kernel.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursehub.errors import CoursehubError
from coursehub.grading.base import DELETED_FILES, FATAL_ERRORS, GraderBackend, failed, fatal_error_in, read_notebook

#: Fixed timestamp for zip entries (the earliest a zip can hold) so the autograder zip is reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class Assigned:
    """What otter assign produced for one master notebook."""

    notebook_name: str
    student: dict[str, bytes]  # the student version's files (notebook and support files)
    autograder: dict[str, bytes]  # the autograder zip's files (tests/, otter_config.json, ...)

    def autograder_zip(self) -> bytes:
        return normalised_zip(self.autograder)


def normalised_zip(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` with sorted names and fixed timestamps and permissions."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = (0o755 if files[name].startswith(b"#!") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return buf.getvalue()


def assign(master: Path) -> Assigned:
    """Run ``otter assign`` on a master notebook (without running its tests) and collect the output."""
    import otter.assign

    master = Path(master).resolve()
    if not master.is_file():
        raise CoursehubError(f"otter master notebook {master} does not exist")
    with tempfile.TemporaryDirectory(prefix="coursehub-otter-") as tmp:
        dist = Path(tmp) / "dist"
        cwd = os.getcwd()
        try:
            otter.assign.main(str(master), str(dist), no_pdfs=True, no_run_tests=True)
        except Exception as exc:
            raise CoursehubError(f"otter assign failed on {master}: {exc}") from exc
        finally:
            os.chdir(cwd)  # otter assign changes directory while it works
        student = {p.relative_to(dist / "student").as_posix(): p.read_bytes()
                   for p in sorted((dist / "student").rglob("*")) if p.is_file()}
        zips = sorted((dist / "autograder").glob("*.zip"))
        if len(zips) != 1:
            raise CoursehubError(f"otter assign wrote {len(zips)} autograder zips for {master}; expected one")
        with zipfile.ZipFile(zips[0]) as zf:
            autograder = {name: zf.read(name) for name in sorted(zf.namelist()) if not name.endswith("/")}
    if master.name in student:
        student[master.name] = stable_cell_ids(student[master.name], master)
    return Assigned(notebook_name=master.name, student=student, autograder=autograder)


def stable_cell_ids(notebook: bytes, master: Path) -> bytes:
    """Give cells otter added (check cells, init cell) ids derived from their position.

    otter assign draws fresh random ids for the cells it inserts; a reproducible student version
    needs the same ids on every run. Cells carried over from the master keep their ids.
    """
    import nbformat

    known = {c.get("id") for c in nbformat.read(str(master), as_version=4).cells}
    nb = nbformat.reads(notebook.decode("utf-8"), as_version=4)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.get("id") not in known or cell.get("id") in seen:
            cell["id"] = f"{master.stem}-otter-{index:02d}"
        seen.add(cell["id"])
    return nbformat.writes(nb).encode("utf-8") + b"\n"


def load_tests(autograder: dict[str, bytes]) -> dict[str, Any]:
    """otter ``TestFile`` objects for every test in the autograder, by question name."""
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    tests: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="coursehub-otter-tests-") as tmp:
        for name, data in autograder.items():
            if name.startswith("tests/") and name.endswith(".py"):
                path = Path(tmp) / Path(name).name
                path.write_bytes(data)
                test = create_test_file(str(path), NBMetadataConfig())
                tests[test.name] = test
    if not tests:
        raise CoursehubError("the otter autograder has no tests")
    return dict(sorted(tests.items()))


def maxima_of(tests: dict[str, Any]) -> dict[str, float]:
    """Points of each question, by name."""
    return {name: float(test.possible) for name, test in tests.items()}


def grade_warm(notebook: Path, tests: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission in this (sandboxed) process; see the module docstring. Returns a payload."""
    from IPython.core.interactiveshell import InteractiveShell
    from otter.check.notebook import Notebook
    from otter.test_files import GradingResults
    from traitlets.config import Config

    maxima = maxima_of(tests)
    try:
        nb = read_notebook(notebook)
    except ValueError as exc:
        return failed(str(exc), maxima)
    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "nocolor"  # the output log is read as plain text
    shell = InteractiveShell.instance(config=cfg)
    results: dict[str, Any] = {}

    def run_test(name: str) -> Any:
        test = copy.deepcopy(tests[name])
        test.run(shell.user_ns)
        results[name] = test
        return test

    def check(self, question, global_env=None):  # replaces otter.Notebook.check while grading
        return run_test(question) if question in tests else None

    Notebook.init_grading_mode(str(notebook.parent))
    Notebook.check = check
    notes: list[str] = []
    number = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        meta = cell.get("metadata", {})
        if "otter_ignore" in meta.get("tags", []) or meta.get("otter", {}).get("ignore"):
            continue
        outcome = shell.run_cell(str(cell.get("source", "")), store_history=False)
        error = outcome.error_in_exec or outcome.error_before_exec
        if shell.exit_now and error is None:
            return failed(f"code cell {number} called exit()", maxima)
        if error is not None:
            kind = type(error).__name__
            if kind in FATAL_ERRORS:
                return failed(f"code cell {number} {FATAL_ERRORS[kind]}", maxima)
            notes.append(f"code cell {number} raised {kind}: {str(error)[:200]}")
        for name in meta.get("otter", {}).get("tests", []) or []:
            if name in tests:
                run_test(name)
    for name in tests:
        if name not in results:
            run_test(name)
    graded = GradingResults([results[n] for n in tests])
    return payload_from(graded, notes)


def grade_kernel(notebook: Path, autograder_zip: Path, maxima: dict[str, float]) -> dict[str, Any]:
    """Grade one submission with ``otter.api.grade_submission`` (a fresh kernel); returns a payload."""
    import otter.api

    try:
        read_notebook(notebook)
    except ValueError as exc:
        return failed(str(exc), maxima)
    try:
        results = otter.api.grade_submission(str(notebook), str(autograder_zip), quiet=True)
    except FileNotFoundError:  # otter reads its results back from files the kernel could delete
        return failed(DELETED_FILES, maxima)
    except Exception as exc:
        if type(exc).__name__ in FATAL_ERRORS:  # nbclient raises DeadKernelError out of the run
            return failed(f"the submission {FATAL_ERRORS[type(exc).__name__]}", maxima)
        raise
    if results.has_catastrophic_failure():
        return failed(f"otter could not grade the submission: {results.summary()[:300]}", maxima)
    fatal = fatal_error_in(results.notebook or {})
    if fatal:
        return failed(fatal, maxima)
    notes = [
        f"a code cell raised {out.get('ename', '')}: {str(out.get('evalue', ''))[:200]}"
        for cell in (results.notebook or {}).get("cells", [])
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    return payload_from(results, notes)


def payload_from(results: Any, notes: list[str]) -> dict[str, Any]:
    questions = {name: [float(tf.score), float(tf.possible)] for name, tf in results.results.items()}
    return {
        "status": "graded",
        "score": float(results.total),
        "max": float(results.possible),
        "questions": questions,
        "notes": notes,
        # students see public test details and every question's score; hidden test code stays hidden
        "feedback": results.summary(public_only=True),
    }


def write_autograder_zip(assigned: Assigned, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(assigned.autograder_zip())
    return path


def copy_support_files(assigned: Assigned, dest: Path) -> None:
    """Support files of the student version (data files), for a submission's scratch folder."""
    for name, data in assigned.student.items():
        if name != assigned.notebook_name:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)




class OtterBackend(GraderBackend):
    """otter-grader: assign once, then grade each submission warm (default) or with a kernel."""

    name = "otter"
    extra_warm_modules = (
        "otter",
        "otter.api",
        "otter.test_files",
        "otter.check.notebook",
        # the Data 8 stack otter labs use
        "numpy",
        "pandas",
        "datascience",
        "matplotlib.pyplot",
    )

    @classmethod
    def prepare(cls, *, course, assignment, source: Path, work: Path, engine: str) -> OtterBackend:
        backend = cls()
        backend.engine = engine
        backend.assigned = assign(source)
        backend.tests = load_tests(backend.assigned.autograder)
        backend.maxima = maxima_of(backend.tests)
        backend.zip_path = write_autograder_zip(backend.assigned, work / "autograder.zip")
        backend.fingerprint = "otter:" + hashlib.sha256(backend.zip_path.read_bytes()).hexdigest()
        backend.notebook_name = backend.assigned.notebook_name
        return backend

    def stage(self, scratch: Path, submission: Path) -> Path:
        copy_support_files(self.assigned, scratch)
        target = scratch / self.notebook_name
        shutil.copyfile(submission, target)
        return target

    def job(self, student: str, notebook: Path):
        if self.engine == "kernel":
            return lambda: grade_kernel(notebook, self.zip_path, self.maxima)
        return lambda: grade_warm(notebook, self.tests)
