"""The ``graders/`` build family: what each graded course needs, generated from its sources.

For every course, under ``graders/<course>/``:

* otter courses: ``<assignment>/student/<notebook>`` (what students get; the committed content
  repository must match it) and ``<assignment>/autograder.zip`` (otter's autograder, with fixed zip
  timestamps so the build is reproducible);
* nbgrader courses: ``nbgrader_config.json`` (course id, course directory and a course-scoped
  exchange) and ``<assignment>/release/<notebook>`` (nbgrader's student version).

Running otter assign and nbgrader takes seconds per assignment, so outputs are cached by the
hash of the source files and the grader's version (in ``graders/`` in coursehub's cache, :func:`coursehub.cache.cache_root`);
the outputs are deterministic, so a cached copy is the same bytes a fresh run would give.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

from coursehub.build import BuildContext
from coursehub.errors import CoursehubError
from coursehub.grading import nbgrader as nbg
from coursehub.cache import cache_root
from coursehub.grading.results import atomic_write
from coursehub.manifest import Assignment, Course


def cache_dir() -> Path:
    return cache_root() / "graders"


def _cached(kind: str, source: Path, make) -> dict[str, bytes]:
    """``make()`` -> files, memoised on disk by the source's bytes and the tool's version."""
    digest = hashlib.sha256(f"{kind}\0{version('otter-grader')}\0{version('nbgrader')}\0{source.name}".encode())
    _hash_source_folder(source, digest)
    path = cache_dir() / f"{digest.hexdigest()}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: base64.b64decode(v) for k, v in data.items()}
    except (OSError, ValueError):
        pass
    files = make()
    try:
        atomic_write(path, json.dumps({k: base64.b64encode(v).decode() for k, v in files.items()}).encode())
    except OSError:
        pass  # a read-only home only costs speed
    return files


def _hash_source_folder(source: Path, digest) -> None:
    """Add every file of the source's folder (what otter assign and nbgrader read) to ``digest``."""
    folder = source.parent if source.is_file() else source
    for p in sorted(folder.rglob("*")):
        if p.is_file() and ".ipynb_checkpoints" not in p.parts:
            digest.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())


def inputs(manifest) -> bytes:
    """What the ``graders`` family reads besides the manifest: each graded assignment's source folder."""
    base = Path(manifest.source).parent
    digest = hashlib.sha256()
    for course in manifest.courses:
        if course.grader == "none":
            continue
        for assignment in course.assignments:
            if assignment.source:
                source = (base / assignment.source).resolve()
                digest.update(f"{course.id}/{assignment.id}\0{source}\0".encode())
                if source.exists():
                    _hash_source_folder(source, digest)
    return digest.digest()


def otter_outputs(source: Path) -> dict[str, bytes]:
    """``student/<files>`` and ``autograder.zip`` for one otter master notebook."""
    from coursehub.grading import otter

    def make() -> dict[str, bytes]:
        assigned = otter.assign(source)
        files = {f"student/{name}": data for name, data in assigned.student.items()}
        files["autograder.zip"] = assigned.autograder_zip()
        return files

    return _cached("otter", source, make)


def nbgrader_release(course_id: str, assignment_id: str, source: Path) -> dict[str, bytes]:
    """nbgrader's release (student) version of one source folder, by file name."""
    folder = source.parent if source.is_file() else source
    return _cached(f"nbgrader:{course_id}:{assignment_id}", source,
                   lambda: nbg.generate_release(course_id=course_id, assignment_id=assignment_id, source_dir=folder))


def _source(ctx: BuildContext, course: Course, assignment: Assignment) -> Path | None:
    if not assignment.source:
        ctx.notes.append(f"graders: {course.id}/{assignment.id} has no `source:`; it cannot be graded")
        return None
    path = (ctx.base / assignment.source).resolve()
    if not path.exists():
        raise CoursehubError(f"the grader source of {course.id}/{assignment.id} ({assignment.source}) does not exist")
    return path


def generate(ctx: BuildContext) -> None:
    """Write ``graders/<course>/...`` for every course with a grader."""
    for course in ctx.manifest.courses:
        if course.grader == "none":
            continue
        root = f"graders/{course.id}"
        if course.grader == "nbgrader":
            ctx.add_json(f"{root}/nbgrader_config.json", nbg.config(course))
        for assignment in course.assignments:
            source = _source(ctx, course, assignment)
            if source is None:
                continue
            if course.grader == "otter":
                files = otter_outputs(source)
            else:
                files = {f"release/{name}": data for name, data in nbgrader_release(course.id, assignment.id, source).items()}
            for name, data in sorted(files.items()):
                ctx.add(f"{root}/{assignment.id}/{name}", data)


def student_versions(manifest) -> dict[Path, bytes]:
    """What each graded assignment's notebook in the course's local content folder should hold.

    Maps ``<content.local>/<assignment.path>`` to the student version generated from the source,
    so a test (or a course's CI) can check that the content students pull is current.
    """
    base = Path(manifest.source).parent
    wanted: dict[Path, bytes] = {}
    for course in manifest.courses:
        if course.grader == "none" or not course.content or not course.content.local:
            continue
        for assignment in course.assignments:
            if not assignment.source:
                continue
            source = (base / assignment.source).resolve()
            name = Path(assignment.path).name
            if course.grader == "otter":
                files = {k.removeprefix("student/"): v for k, v in otter_outputs(source).items() if k.startswith("student/")}
            else:
                files = nbgrader_release(course.id, assignment.id, source)
            if name in files:
                wanted[base / course.content.local / assignment.path] = files[name]
    return wanted
