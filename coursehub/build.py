"""The build: one generator per artifact family, run in turn, written atomically and deterministically.

A generator is a function ``generate(ctx: BuildContext) -> None`` that adds files under its own
family folder (``images/``, ``links/``, ``hub/``, ...). The build renders the whole tree in memory
first, so a generator that fails leaves nothing on disk; then it writes the tree beside the output
folder and swaps each family folder in with a rename. ``--check`` renders the same tree and compares
it with what is on disk instead of writing.

The staging folders beside the output (``.<out>.coursehub-new-<pid>`` and ``-old-<pid>``) carry the
id of the process that made them. A build killed part-way leaves them behind; the next build beside
the same output removes those of every build that is no longer running, never a running build's.
"""

from __future__ import annotations

import difflib
import glob
import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from coursehub import emit
from coursehub.errors import CoursehubError, Problem
from coursehub.manifest import Manifest

#: Artifact families in build order: (family, "module:function"). Each writes only under ``<family>/``.
GENERATORS: list[tuple[str, str]] = [
    ("summary", "coursehub.manifest.summary:generate"),
    ("links", "coursehub.links.pages:generate"),
    ("images", "coursehub.images.contexts:generate"),
    ("hub", "coursehub.hub.generate:generate"),
    ("graders", "coursehub.grading:generate"),
    ("cost", "coursehub.cost.report:generate"),
    ("site", "coursehub.sitegen:generate"),
]


@dataclass
class BuildContext:
    """What a generator gets: the manifest, and a place to put files (relative POSIX paths)."""

    manifest: Manifest
    warnings: list[Problem] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    family: str = ""
    #: Messages a generator wants shown after the build (e.g. the drift report's headline).
    notes: list[str] = field(default_factory=list)
    #: ``notes`` by the family that added them.
    family_notes: dict[str, list[str]] = field(default_factory=dict)
    #: Families :func:`build` did not render because their inputs and files were unchanged.
    unchanged: list[str] = field(default_factory=list)
    #: Files per family in the output folder after the build (rendered or unchanged).
    file_counts: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        """The manifest's folder; relative paths in the manifest are resolved against it."""
        return Path(self.manifest.source).parent

    def add(self, path: str, content: bytes | str) -> None:
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"generator {self.family} tried to write outside the build: {path}")
        if self.family and rel.parts[0] != self.family:
            raise ValueError(f"generator {self.family} may only write under {self.family}/, not {path}")
        if str(rel) in self.files:
            raise ValueError(f"{path} written twice")
        self.files[str(rel)] = content.encode("utf-8") if isinstance(content, str) else content

    def add_json(self, path: str, data: Any) -> None:
        self.add(path, emit.to_json(data))

    def add_yaml(self, path: str, data: Any) -> None:
        self.add(path, emit.to_yaml(data))


def families() -> list[str]:
    return [name for name, _ in GENERATORS]


def _load(spec: str) -> Callable[[BuildContext], None]:
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def render(
    manifest: Manifest,
    *,
    only: list[str] | None = None,
    warnings: list[Problem] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildContext:
    """Run the generators and return every file they produce, in memory."""
    selected = _select(only)
    ctx = BuildContext(manifest=manifest, warnings=list(warnings or []))
    for name, spec in GENERATORS:
        if name not in selected:
            continue
        if progress:
            progress(name)
        ctx.family = name
        first_note = len(ctx.notes)
        _load(spec)(ctx)
        ctx.family_notes[name] = ctx.notes[first_note:]
        ctx.file_counts[name] = sum(1 for rel in ctx.files if rel.startswith(name + "/"))
    ctx.family = ""
    return ctx


def _select(only: list[str] | None) -> list[str]:
    names = families()
    if not only:
        return names
    unknown = [o for o in only if o not in names]
    if unknown:
        raise CoursehubError(f"unknown artifact family {', '.join(unknown)}; choose from {', '.join(names)}")
    return list(only)


_STAGING_KINDS = ("new", "old")


def _builder_running(pid: int, folder: Path) -> bool:
    """Whether the build that made ``folder`` (named with its process id) may still be running."""
    import psutil

    if pid == os.getpid():
        return False  # an earlier build in this very process, which has finished or failed
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: leave its folders alone
    # Process ids are reused: a process started after the folder was last written is not its builder.
    return started <= folder.stat().st_mtime + 1


def stale_staging(out_dir: Path) -> list[Path]:
    """The staging folders beside ``out_dir`` left by builds that are no longer running."""
    found = []
    for kind in _STAGING_KINDS:
        for folder in sorted(out_dir.parent.glob(f".{glob.escape(out_dir.name)}.coursehub-{kind}-*")):
            pid = folder.name.rsplit("-", 1)[1]
            if pid.isdigit() and folder.is_dir() and not folder.is_symlink() and not _builder_running(int(pid), folder):
                found.append(folder)
    return found


def write(files: dict[str, bytes], out_dir: Path, selected: list[str]) -> None:
    """Write ``files`` beside ``out_dir``, then swap each selected family folder in.

    A failure while writing leaves ``out_dir`` exactly as it was. Files in ``out_dir`` outside the
    family folders (a README, a ``.git``) are never touched.
    """
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging, trash = (out_dir.parent / f".{out_dir.name}.coursehub-{kind}-{os.getpid()}" for kind in _STAGING_KINDS)
    for leftover in stale_staging(out_dir):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        staging.mkdir()
        for family in selected:
            (staging / family).mkdir()
        made: set[str] = set()
        root = str(staging)
        for rel, content in sorted(files.items()):
            target = os.path.join(root, rel)
            folder = os.path.dirname(target)
            if folder not in made:  # one mkdir per folder, not per file
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            _write_file(target, content)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    out_dir.mkdir(exist_ok=True)
    trash.mkdir()
    try:
        for family in selected:
            current = out_dir / family
            if current.exists():
                current.rename(trash / family)
            (staging / family).rename(current)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _write_file(path: str, content: bytes) -> None:
    """One generated file; plain os calls, since a university's build writes ten thousand of them."""
    # postBuild and similar scripts must stay executable
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if content.startswith(b"#!") else 0o644)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def diff(files: dict[str, bytes], out_dir: Path, selected: list[str]) -> str:
    """A readable diff between what the manifest generates and what ``out_dir`` holds ('' if equal)."""
    on_disk: dict[str, bytes] = {}
    for family in selected:
        root = out_dir / family
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    on_disk[p.relative_to(out_dir).as_posix()] = p.read_bytes()
    chunks = []
    for rel in sorted(set(files) | set(on_disk)):
        want, have = files.get(rel), on_disk.get(rel)
        if want == have:
            continue
        if have is None:
            chunks.append(f"missing: {rel} (the manifest generates it)\n")
            continue
        if want is None:
            chunks.append(f"extra: {rel} (the manifest no longer generates it)\n")
            continue
        try:
            a, b = have.decode("utf-8").splitlines(True), want.decode("utf-8").splitlines(True)
        except UnicodeDecodeError:
            chunks.append(f"changed: {rel} (binary)\n")
            continue
        chunks.append("".join(difflib.unified_diff(a, b, f"{rel} (on disk)", f"{rel} (generated)", n=2)))
    return "".join(chunks)


def build(
    manifest: Manifest,
    out_dir: Path,
    *,
    only: list[str] | None = None,
    check: bool = False,
    warnings: list[Problem] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[BuildContext, str]:
    """Render and write (or with ``check``, compare). Returns the context and the diff ('' unless check).

    Families whose inputs and files are unchanged since the last build of ``out_dir`` are neither
    rendered nor written (:mod:`coursehub.buildstate`); ``ctx.unchanged`` names them.
    """
    from coursehub import buildstate

    selected = _select(only)
    wanted = buildstate.fingerprints(manifest, [(n, s) for n, s in GENERATORS if n in selected])
    state = buildstate.read(out_dir)
    unchanged = buildstate.fresh(out_dir, state, wanted)
    stale = [name for name in selected if name not in unchanged]
    if stale:
        ctx = render(manifest, only=stale, warnings=warnings, progress=progress)
    else:
        ctx = BuildContext(manifest=manifest, warnings=list(warnings or []))
    ctx.unchanged = unchanged
    for name in unchanged:
        ctx.family_notes[name] = list(state[name].get("notes") or [])
        ctx.file_counts[name] = int(state[name].get("files") or 0)
    ctx.notes = [note for name in selected for note in ctx.family_notes.get(name, [])]
    if check:
        return ctx, diff(ctx.files, out_dir, stale)
    if stale:
        write(ctx.files, out_dir, stale)
        for name in stale:
            state[name] = {
                "inputs": wanted[name],
                "outputs": buildstate.files_digest(ctx.files, name),
                "files": ctx.file_counts[name],
                "notes": ctx.family_notes[name],
            }
        buildstate.write(out_dir.resolve(), state)
    return ctx, ""
