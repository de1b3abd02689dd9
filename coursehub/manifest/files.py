"""What a manifest may read: the files it names, confined to its folder and bounded in size.

A manifest (and every roster it points to) may be written by someone other than the person who runs
coursehub, so every path in it is untrusted. A path is resolved against the manifest's folder,
symlinks included, and must land inside that folder or inside a folder the operator listed in
``$COURSEHUB_FILE_ROOTS``; it must be a regular file (or folder) and a file must be smaller than its
limit. Errors about a file name the manifest's own text (the path as written) and never the file's
contents: a roster of ``/proc/self/environ`` must not print the hub token that is its first line.

The limits are read from the environment once per load (:meth:`Limits.from_env`) so an operator
can raise them without a new release:

=============================  =======  ============================================================
variable                       default  what it bounds
=============================  =======  ============================================================
``COURSEHUB_MAX_MANIFEST_SIZE``  8M     the manifest file
``COURSEHUB_MAX_ROSTER_SIZE``    32M    each roster CSV
``COURSEHUB_MAX_FILE_SIZE``      64M    any other file a manifest names (grader sources)
``COURSEHUB_FILE_ROOTS``         (none) extra folders (``:``-separated) manifest paths may lead into
=============================  =======  ============================================================
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.errors import CoursehubError
from coursehub.manifest.units import format_size, parse_size

#: A 1,000-course manifest is well under 1M; 8M leaves room and keeps the parse in bounded memory.
DEFAULT_MAX_MANIFEST = 8 * 1024**2
#: 40,000 students with a dozen LMS columns each is about 10M.
DEFAULT_MAX_ROSTER = 32 * 1024**2
#: Grader master notebooks with their outputs; large data belongs in shared_data, not here.
DEFAULT_MAX_FILE = 64 * 1024**2
#: A real manifest nests about 8 levels deep (courses -> course -> resources -> memory -> limit).
MAX_DEPTH = 64
#: Nodes that YAML aliases (``*name``) may add when expanded. A shared ``&defaults`` block merged
#: into 1,000 courses adds about 10,000; a "billion laughs" bomb adds 10^9 and is refused here.
MAX_ALIAS_NODES = 100_000

ENV_VARS = {
    "manifest": "COURSEHUB_MAX_MANIFEST_SIZE",
    "roster": "COURSEHUB_MAX_ROSTER_SIZE",
    "file": "COURSEHUB_MAX_FILE_SIZE",
}
ROOTS_VAR = "COURSEHUB_FILE_ROOTS"


@dataclass(frozen=True)
class Limits:
    """Bounds on what loading a manifest may read. ``roots`` are folders besides the manifest's own."""

    manifest: int = DEFAULT_MAX_MANIFEST
    roster: int = DEFAULT_MAX_ROSTER
    file: int = DEFAULT_MAX_FILE
    depth: int = MAX_DEPTH
    alias_nodes: int = MAX_ALIAS_NODES
    roots: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """The limits with the operator's overrides from the environment (see the module docstring)."""
        env = os.environ if environ is None else environ
        sizes = {}
        for name, var in ENV_VARS.items():
            value = env.get(var, "").strip()
            if not value:
                continue
            try:
                sizes[name] = parse_size(value)
            except ValueError:
                raise CoursehubError(f"${var} is {value!r}, not a size; write it like 64M or 1G") from None
            if sizes[name] <= 0:
                raise CoursehubError(f"${var} must be larger than 0")
        roots = tuple(Path(p).expanduser().resolve() for p in env.get(ROOTS_VAR, "").split(os.pathsep) if p.strip())
        return cls(**sizes, roots=roots)

    def env_var(self, kind: str) -> str:
        return ENV_VARS[kind]


class FileProblem(Exception):
    """Why a path from a manifest cannot be used; ``line``/``column`` locate it inside the file, if known.

    ``code`` is the stable part of the problem's code (``missing``, ``outside``, ``too-large``...); the
    caller prefixes what the file is (``roster-missing``, ``grader-source-outside``).
    """

    def __init__(self, message: str, hint: str = "", *, code: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.line = line
        self.column = column


def shown(written: str) -> str:
    """A path from the manifest as a message shows it: as written, or quoted if it has blanks or
    control characters (so a newline in it cannot forge a second message line)."""
    plain = written and written.isprintable() and not any(ch.isspace() for ch in written) and len(written) <= 200
    return written if plain else repr(written[:200])


def resolve(
    base: Path, written: str, *, limits: Limits, what: str, kind: str = "file", max_bytes: int | None = None, limit_var: str = ""
) -> Path:
    """The real path of ``written`` (relative to the manifest folder ``base``), checked.

    ``kind`` is ``file``, ``dir`` or ``any`` (either). Raises :class:`FileProblem` when the path is empty, leaves the
    allowed folders (through ``..``, an absolute path or a symlink), does not exist, or is not a
    regular file / folder, or is a file larger than ``max_bytes`` (raise it with ``limit_var``).
    Never opens the file.
    """
    if not written.strip():
        raise FileProblem(f"the {what} path is empty", "give a path relative to the manifest", code="empty-path")
    if "\0" in written:
        raise FileProblem(f"the {what} path contains a NUL character", "give a path relative to the manifest", code="nul-in-path")
    base = base.resolve()
    target = Path(os.path.realpath(base / written))
    roots = (base, *limits.roots)
    if not any(target == root or target.is_relative_to(root) for root in roots):
        lexical = Path(os.path.normpath(base / written))
        how = "through a symlink " if any(lexical == r or lexical.is_relative_to(r) for r in roots) else ""
        extra = f" or ${ROOTS_VAR}" if limits.roots else ""
        raise FileProblem(
            f"{what} {shown(written)} leads {how}outside the manifest's folder{extra}",
            f"keep it inside {base} (paths are relative to the manifest), or list its folder in ${ROOTS_VAR}",
            code="outside",
        )
    try:
        st = target.stat()
    except FileNotFoundError:
        raise FileProblem(f"{what} {shown(written)} does not exist", "fix the path (it is relative to the manifest)", code="missing") from None
    except OSError as exc:
        raise FileProblem(f"{what} {shown(written)} cannot be read ({exc.strerror})", "check its permissions", code="unreadable") from None
    if kind == "any":
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise FileProblem(f"{what} {shown(written)} is not a regular file or folder (a device, pipe or socket)", "give a plain file", code="not-regular")
    elif kind == "dir":
        if not stat.S_ISDIR(st.st_mode):
            raise FileProblem(f"{what} {shown(written)} is not a folder", "give the folder's path", code="not-folder")
    elif stat.S_ISDIR(st.st_mode):
        raise FileProblem(f"{what} {shown(written)} is a folder, not a file", "give the file's path", code="is-folder")
    elif not stat.S_ISREG(st.st_mode):
        raise FileProblem(f"{what} {shown(written)} is not a regular file (a device, pipe or socket)", "give a plain file", code="not-regular")
    if max_bytes is not None and stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
        raise FileProblem(f"{what} {shown(written)} is larger than {format_size(max_bytes)}", f"raise the limit with ${limit_var}", code="too-large")
    return target


def read_text(path: Path, *, limit: int, limit_var: str, what: str) -> str:
    """The text of ``path``: at most ``limit`` bytes of UTF-8 (a leading BOM is dropped).

    Raises :class:`FileProblem` (never quoting the file) when it is too large, not a regular file or
    not UTF-8; the UTF-8 error carries the line and column of the first bad byte.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the S_ISREG check below refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileProblem(f"the {what} does not exist", code="missing") from None
    except IsADirectoryError:
        raise FileProblem(f"the {what} is a folder, not a file", code="is-folder") from None
    except OSError as exc:
        raise FileProblem(f"the {what} cannot be read ({exc.strerror})", code="unreadable") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FileProblem(f"the {what} is a folder, not a file", code="is-folder")
        if not stat.S_ISREG(st.st_mode):
            raise FileProblem(f"the {what} is not a regular file (a device, pipe or socket)", code="not-regular")
        too_big = FileProblem(
            f"the {what} is larger than {format_size(limit)}",
            f"split it, or raise the limit with ${limit_var}",
            code="too-large",
        )
        if st.st_size > limit:
            raise too_big
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)  # a file that grows while we read is still bounded
    finally:
        os.close(fd)
    if len(data) > limit:
        raise too_big
    return decode_utf8(data, what=what)


def decode_utf8(data: bytes, *, what: str) -> str:
    """``data`` as text; a non-UTF-8 file is a :class:`FileProblem` at the line of its first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a BOM, as spreadsheets write; dropped before counting lines and columns
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        raise FileProblem(
            f"the {what} is not UTF-8 text (the first bad byte is here)",
            "the file must be UTF-8: re-save it as UTF-8 (spreadsheets: 'CSV UTF-8')",
            code="not-utf8",
            line=line,
            column=column,
        ) from None
