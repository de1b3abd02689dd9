"""Finding each student's notebook in a folder of submissions or in a zip an LMS exported.

Accepted layouts:

* a folder (or zip) of ``<student>/<notebook>.ipynb`` -- one folder per student;
* a flat zip or folder as Canvas exports it: ``<student>_<ids...>_<notebook>.ipynb``, also with
  ``_late_`` after the name (the student is the part before the first underscore);
* a flat ``<student>.ipynb`` per student.

Zips are read with limits (entry count, total size, no absolute or ``..`` paths), because an LMS
export is user input like any other.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coursehub.errors import CoursehubError
from coursehub.manifest.usernames import normalize_username, username_problem

MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_BYTES = 4 * 1024**3
MAX_NOTEBOOK_BYTES = 64 * 1024**2
_CANVAS = re.compile(r"^(?P<student>[^_/]+)_(?:late_)?\d+_\d+_(?P<file>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """One student's notebook, or why there is none usable."""

    student: str
    path: Path | None
    problem: str = ""


def collect(source: Path, *, notebook_name: str, workdir: Path) -> list[Submission]:
    """Every student's submission in ``source`` (folder or zip), sorted by student.

    A zip is extracted into ``workdir`` first. ``notebook_name`` (e.g. ``lab01.ipynb``) picks the
    right file when a student handed in several.
    """
    source = Path(source)
    if not source.exists():
        raise CoursehubError(f"submissions {source} do not exist")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise CoursehubError(f"{source} is neither a folder nor a zip file")
        folder = workdir / "extracted"
        if folder.exists():
            shutil.rmtree(folder)
        extract_zip(source, folder)
        source = folder
    candidates: dict[str, list[Path]] = {}
    for path in sorted(source.rglob("*.ipynb")):
        rel = path.relative_to(source)
        if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue  # checkpoints, macOS resource forks
        student = _student_of(rel)
        if student:
            candidates.setdefault(student, []).append(path)
    if not candidates:
        raise CoursehubError(f"no notebooks found in {source} (expected <student>/<notebook>.ipynb)")
    subs = []
    for student in sorted(candidates):
        problem = username_problem(student)
        if problem:
            subs.append(Submission(student, None, problem))
            continue
        subs.append(_pick(student, candidates[student], notebook_name))
    return subs


def _student_of(rel: PurePosixPath | Path) -> str:
    parts = rel.parts
    if len(parts) >= 2:
        return normalize_username(parts[0])
    m = _CANVAS.match(parts[0])
    if m:
        return normalize_username(m.group("student"))
    return normalize_username(Path(parts[0]).stem)


def _canvas_file(path: Path) -> str:
    m = _CANVAS.match(path.name)
    # Canvas appends -1, -2 to resubmissions' file names
    return re.sub(r"-\d+(\.ipynb)$", r"\1", m.group("file")) if m else path.name


def _pick(student: str, paths: list[Path], notebook_name: str) -> Submission:
    if len(paths) == 1:
        return Submission(student, paths[0])
    named = [p for p in paths if p.name == notebook_name or _canvas_file(p) == notebook_name]
    if len(named) == 1:
        return Submission(student, named[0])
    if named:
        # several uploads of the same file: the LMS's last one (highest name) is the one that counts
        return Submission(student, sorted(named)[-1])
    names = ", ".join(sorted(p.name for p in paths))
    return Submission(student, None, f"several notebooks ({names}) and none named {notebook_name}")


def extract_zip(zip_path: Path, dest: Path) -> None:
    """Extract ``zip_path`` into ``dest`` refusing unsafe names and oversized archives."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise CoursehubError(f"{zip_path} has {len(infos)} entries; at most {MAX_ZIP_ENTRIES} are accepted")
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise CoursehubError(f"{zip_path} unpacks to more than {MAX_ZIP_BYTES} bytes")
            dest.mkdir(parents=True)
            for info in infos:
                name = PurePosixPath(info.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts:
                    raise CoursehubError(f"{zip_path} holds an unsafe path {info.filename!r}")
                if info.is_dir() or not info.filename.lower().endswith(".ipynb"):
                    continue
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    continue  # no real notebook is this big; the student gets "no submission"
                target = dest.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise CoursehubError(f"{zip_path} is not a readable zip file: {exc}") from None
