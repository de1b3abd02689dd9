"""Rules about the files a manifest names (besides rosters): grader sources and local content.

Each path must stay inside the manifest's folder (:func:`coursehub.manifest.files.resolve`), and
what the build does with it must be possible: otter needs a notebook, nbgrader a folder with exactly
one notebook, and the local copy of the content should hold each assignment's file. The checks here
are the ones the ``graders`` and ``links`` families would otherwise meet during a build.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from coursehub.manifest import Manifest
from coursehub.manifest.files import FileProblem, Limits, read_text, resolve, shown

#: The most notebooks an nbgrader source folder is searched for (it must hold exactly one).
_MAX_LISTED = 10_000


def _err(loc, message, hint="", severity="error", *, code: str):
    return dict(loc=tuple(loc), message=message, hint=hint, severity=severity, code=code)


def file_problems(manifest: Manifest, base: Path, limits: Limits) -> Iterator[dict]:
    """Every problem with a grader source or a content folder, located at the manifest's field."""
    for i, course in enumerate(manifest.courses):
        loc = ("courses", i)
        local: str | None = None
        if course.content and course.content.local:
            try:
                resolve(base, course.content.local, limits=limits, what="content folder", kind="dir")
                local = course.content.local
            except FileProblem as exc:
                yield _err(loc + ("content", "local"), exc.message, exc.hint, code=f"content-local-{exc.code}")
        for j, assignment in enumerate(course.assignments):
            aloc = loc + ("assignments", j)
            if local is not None and not assignment.path.startswith("/") and ".." not in assignment.path.split("/"):
                yield from _local_copy(base, local, assignment.path, aloc + ("path",), limits)
            if course.grader == "none":
                continue
            if not assignment.source:
                yield _err(aloc, f"{course.id}/{assignment.id} has no `source:`, so {course.grader} cannot grade it",
                           "add the grader's master notebook as `source:`", "warning", code="grader-source-none")
                continue
            yield from _grader_source(course.grader, base, assignment.source, aloc + ("source",), limits)


def _local_copy(base: Path, local: str, path: str, loc: tuple, limits: Limits) -> Iterator[dict]:
    written = f"{local.rstrip('/')}/{path}"
    try:
        resolve(base, written, limits=limits, what="assignment file", kind="any")
    except FileProblem as exc:
        if exc.code == "missing":
            yield _err(loc, f"{shown(path)} is not in the content folder {shown(local)}",
                       "the link would open a missing file; fix the path or add the file (`coursehub links check` asks the real repository)",
                       "warning", code="assignment-file-missing")
        else:
            yield _err(loc, exc.message, exc.hint, code=f"assignment-file-{exc.code}")


def _grader_source(grader: str, base: Path, written: str, loc: tuple, limits: Limits) -> Iterator[dict]:
    try:
        source = resolve(base, written, limits=limits, what="grader source", kind="any",
                         max_bytes=limits.file, limit_var=limits.env_var("file"))
    except FileProblem as exc:
        yield _err(loc, exc.message, exc.hint, code=f"grader-source-{exc.code}")
        return
    if grader == "otter":
        if source.is_dir() or source.suffix != ".ipynb":
            yield _err(loc, f"the otter source {shown(written)} must be a notebook (.ipynb)", "give the master notebook's path", code="grader-source-not-notebook")
            return
        try:
            text = read_text(source, limit=limits.file, limit_var=limits.env_var("file"), what=f"grader source {shown(written)}")
            notebook = json.loads(text)
        except FileProblem as exc:
            yield _err(loc, exc.message, exc.hint, code=f"grader-source-{exc.code}")
            return
        except ValueError as exc:
            # json's message names a position, never the text
            yield _err(loc, f"the grader source {shown(written)} is not a Jupyter notebook (not JSON: {exc})",
                       "save it from Jupyter again", code="grader-source-not-notebook")
            return
        if not (isinstance(notebook, dict) and isinstance(notebook.get("cells"), list)):
            yield _err(loc, f"the grader source {shown(written)} is not a Jupyter notebook (it has no cells)",
                       "save it from Jupyter again", code="grader-source-not-notebook")
        return
    # nbgrader generates the release from the source's whole folder, which must hold one notebook
    folder = source if source.is_dir() else source.parent
    notebooks = []
    for n, entry in enumerate(folder.iterdir()):
        if n >= _MAX_LISTED:
            break
        if entry.suffix == ".ipynb" and entry.is_file():
            notebooks.append(entry)
    if len(notebooks) != 1:
        yield _err(loc, f"the nbgrader source folder of {shown(written)} must hold exactly one notebook; it holds {len(notebooks)}",
                   "keep each assignment's source notebook in its own folder", code="grader-source-notebooks")
