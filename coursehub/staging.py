"""Writing a build: the new family folders are staged beside the output folder and swapped in at the end.

The staging folders beside the output (``.<out>.coursehub-new-<pid>`` and ``-old-<pid>``) carry the
id of the process that made them. A build killed part-way leaves them behind; the next build beside
the same output removes those of every build that is no longer running, never a running build's.

A family of many files (a university's links: thousands) is written by a forked child process while
the build goes on rendering: creating a file costs the kernel far more than writing its bytes, and on
a busy file system (ext4 skips recently deleted inodes when it allocates) it costs more than rendering.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from coursehub.errors import CoursehubError
from coursehub.forked import Forked, can_fork

#: A family with at least this many files is written by a forked child (:class:`Staging`).
ASIDE_MIN_FILES = 1000

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


class Staging:
    """The new family folders, written beside ``out_dir`` and swapped in by :meth:`commit`.

    :meth:`add` only queues a family's files (a large family starts being written at once, by a
    forked child); they are written by :meth:`flush`, which a build calls when it would otherwise wait
    for a family rendered in another process, and by :meth:`commit`. Until :meth:`commit`,
    ``out_dir`` is exactly as it was; :meth:`abort`, or a failed write, removes everything written.
    """

    def __init__(self, out_dir: Path, selected: list[str]):
        self.out_dir = out_dir.resolve()
        self.selected = selected
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.root, self.trash = (
            self.out_dir.parent / f".{self.out_dir.name}.coursehub-{kind}-{os.getpid()}" for kind in _STAGING_KINDS
        )
        for leftover in stale_staging(self.out_dir):
            shutil.rmtree(leftover, ignore_errors=True)
        self.root.mkdir()
        self._queue: list[dict[str, bytes]] = []
        self._made: set[str] = set()
        # the first path given each bytes object: the site repeats the links family's files, and a
        # hard link is much less work for the file system than writing the file again
        self._first: dict[int, tuple[str, bytes]] = {}  # (holding the bytes keeps their id unique)
        #: Children writing a family each.
        self._children: list[Forked] = []
        try:
            for family in selected:
                (self.root / family).mkdir()
        except BaseException:
            self.abort()
            raise

    def add(self, files: dict[str, bytes]) -> None:
        """Queue ``files`` (relative paths) to be written; a large family starts being written now."""
        if len(files) >= ASIDE_MIN_FILES and can_fork():
            self._write_aside(self._plan(files))
        else:
            self._queue.append(files)

    def flush(self) -> None:
        """Write every queued file (once the children writing earlier families are done)."""
        try:
            self._wait_children()
            while self._queue:
                self._execute(self._plan(self._queue.pop(0)))
        except BaseException:
            self.abort()
            raise

    def commit(self) -> None:
        """Write what is queued, then swap each selected family folder into ``out_dir``."""
        self.flush()
        self.out_dir.mkdir(exist_ok=True)
        self.trash.mkdir()
        try:
            for family in self.selected:
                current = self.out_dir / family
                if current.exists():
                    current.rename(self.trash / family)
                (self.root / family).rename(current)
        finally:
            shutil.rmtree(self.trash, ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)

    def abort(self) -> None:
        """Stop the children writing and remove the staging folder."""
        self._queue.clear()
        for child in self._children:
            child.stop()  # nothing it writes is kept: stopped before the folder goes
        self._children.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _plan(self, files: dict[str, bytes]) -> list[tuple[str, bytes, str | None]]:
        """Each file in path order, with the earlier path it can be a hard link to (or None)."""
        plan = []
        for rel, content in sorted(files.items()):
            first = self._first.setdefault(id(content), (rel, content))[0]
            plan.append((rel, content, first if first != rel else None))
        return plan

    def _execute(self, plan: list[tuple[str, bytes, str | None]]) -> None:
        root = str(self.root)
        for rel, content, first in plan:
            target = os.path.join(root, rel)
            folder = os.path.dirname(target)
            if folder not in self._made:  # one mkdir per folder, not per file
                os.makedirs(folder, exist_ok=True)
                self._made.add(folder)
            if first is not None:
                try:
                    os.link(os.path.join(root, first), target)
                    continue
                except OSError:
                    pass  # no hard links on this file system (or the first is another child's, not yet written)
            try:
                _write_file(target, content)
            except OSError as exc:
                raise CoursehubError(f"could not write {target}: {exc.strerror or exc}") from exc

    def _write_aside(self, plan: list[tuple[str, bytes, str | None]]) -> None:
        """Write ``plan`` in a forked child; :meth:`flush` waits for it (and raises its failure)."""
        try:
            self._children.append(Forked(_write_plan, self, plan, name="the process writing the build"))
        except OSError:  # no process to spare (a process limit): this process writes it in turn
            self._queue.append({rel: content for rel, content, _ in plan})

    def _wait_children(self) -> None:
        # a child leaves the list only once it has ended: interrupted here, abort() still stops it
        while self._children:
            self._children[0].result()
            self._children.pop(0)


def _write_plan(inbox, staging: Staging, plan: list[tuple[str, bytes, str | None]]) -> None:
    """In a child: write ``plan`` (a failed write's CoursehubError comes back to :meth:`Staging.flush`)."""
    staging._execute(plan)


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
