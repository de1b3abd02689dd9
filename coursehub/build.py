"""The build: one generator per artifact family, run in turn, written atomically and deterministically.

A generator is a function ``generate(ctx: BuildContext) -> None`` that adds files under its own
family folder (``images/``, ``links/``, ``hub/``, ...). The build renders the tree in memory and
writes each family beside the output folder as it is done; the family folders are swapped in with a
rename only once every generator has succeeded, so a generator that fails leaves the output as it
was. ``--check`` renders the same tree and compares it with what is on disk instead of writing
(:func:`coursehub.buildstate.diff`).

A large manifest's slowest families render in forked worker processes (:data:`PARALLEL`) while this
process renders the others and writes; the result is the same bytes as rendering one after another.

Writing, and the staging folders a build leaves if it is killed, are :mod:`coursehub.staging`'s.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Self

from coursehub import emit
from coursehub.errors import CoursehubError, Problem
from coursehub.forked import can_fork
from coursehub.manifest import Manifest
from coursehub.staging import Staging

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
    #: Set by :func:`render`: makes a family rendered in another process show in ``files``.
    awaiting: Callable[[str], None] | None = None

    def need(self, family: str) -> None:
        """Wait until ``family``'s files are in ``files`` if it is being rendered elsewhere (no-op otherwise).

        A generator that reads another family's files calls this first."""
        if self.awaiting:
            self.awaiting(family)

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
    sink: Callable[[dict[str, bytes]], None] | None = None,
    idle: Callable[[], None] | None = None,
    workers: Workers | None = None,
) -> BuildContext:
    """Run the generators and return every file they produce, in memory.

    ``sink`` gets each family's files as soon as the family is done, and ``idle`` is called when this
    process would wait for a worker (a build writes the files then).

    A large manifest's slowest families (:data:`PARALLEL`) render in forked worker processes while
    this process renders the rest; each family writes only its own folder, so the result is the same
    files, notes and warnings as rendering them one after another. ``workers`` started before the
    manifest was read (:class:`Workers`) render the groups they were started for.
    """
    selected = _select(only)
    ctx = BuildContext(manifest=manifest, warnings=list(warnings or []))
    names = [name for name, _ in GENERATORS if name in selected]
    # No cyclic garbage collection while rendering: the generators build trees, not cycles, and a full
    # collection scans every object alive (a university's manifest and rendered files: millions) again
    # and again; in a forked worker it would also copy every page it touched (fork shares them until
    # written). Reference counting still frees everything as usual.
    enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        return _render(ctx, names, progress, sink, idle, workers)
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


#: What rendering one family gives: its files, notes and new warnings.
_Result = tuple[dict[str, bytes], list[str], list[Problem]]


def _render(ctx: BuildContext, names: list[str], progress, sink, idle, workers) -> BuildContext:
    manifest = ctx.manifest
    started, pending = _render_aside(ctx, _parallel(manifest, names), progress, workers)

    def awaiting(family: str) -> None:
        if family in pending:
            if idle and not pending[family].done():
                idle()
            _merge(ctx, family, pending.pop(family).result()[family], sink)

    ctx.awaiting = awaiting
    try:
        for name in names:
            if name in pending:
                continue
            if progress:
                progress(name)
            ctx.family = name
            first_note, first_file = len(ctx.notes), len(ctx.files)
            _load(dict(GENERATORS)[name])(ctx)
            ctx.family = ""
            ctx.family_notes[name] = ctx.notes[first_note:]
            if sink:
                # (families it waited for were merged, and given to the sink, in the meantime)
                prefix = name + "/"
                sink({rel: ctx.files[rel] for rel in itertools.islice(ctx.files, first_file, None) if rel.startswith(prefix)})
        for name in list(pending):
            awaiting(name)
    except BaseException:
        for worker in started:  # a failed build does not wait for the workers to finish for nothing
            worker.stop()
        raise
    ctx.awaiting = None
    ctx.notes = [note for name in names for note in ctx.family_notes[name]]
    ctx.file_counts = {name: sum(1 for rel in ctx.files if rel.startswith(name + "/")) for name in names}
    return ctx


def _merge(ctx: BuildContext, name: str, result: _Result, sink: Callable[[dict[str, bytes]], None] | None = None) -> None:
    """A worker's family into ``ctx`` (and to the sink)."""
    files, notes, new_warnings = result
    for rel, content in files.items():
        if rel in ctx.files:
            raise ValueError(f"{rel} written twice")
        ctx.files[rel] = content
    ctx.family_notes[name] = notes
    ctx.warnings += new_warnings
    if sink and files:
        sink(files)


#: Families slow enough on a large manifest to render in worker processes, a group to a worker: cost
#: and images both draw with matplotlib, which a worker then imports once.
PARALLEL: tuple[tuple[str, ...], ...] = (("cost", "images"),)
#: Below this many courses a worker process costs more than it saves.
PARALLEL_MIN_COURSES = 200
#: A manifest file this large is read long enough for a worker started first to import its families'
#: modules meanwhile (:class:`Workers`); the benchmark university's 200 courses are ~240 KB of YAML.
EARLY_MIN_BYTES = 96 * 1024


def _groups(names: list[str]) -> list[tuple[str, ...]]:
    """The :data:`PARALLEL` groups among ``names``, leaving this process one family at least."""
    groups = [g for g in (tuple(n for n in group if n in names) for group in PARALLEL) if g]
    aside = {n for g in groups for n in g}
    return groups if len(aside) < len(names) else groups[1:]


def _parallel(manifest: Manifest, names: list[str]) -> list[tuple[str, ...]]:
    """The groups of ``names`` to render in workers (none for a small manifest or a single family)."""
    if len(manifest.courses) < PARALLEL_MIN_COURSES or len(names) < 2 or not can_fork():
        return []
    return _groups(names)


class Workers:
    """Worker processes for the :data:`PARALLEL` families, started before the manifest is read.

    Forked while this process still reads the manifest, a worker spends that time importing what its
    families draw with (matplotlib: about half a second) on a core that would otherwise wait. The
    manifest follows once it is read, pickled (a few hundredths of a second for a university). A
    group a build does not render in a worker after all (a small manifest, an unchanged family) is
    stopped unused. Use as a context manager around reading the manifest and :func:`build`.
    """

    def __init__(self, groups: list[tuple[str, ...]]):
        from coursehub.forked import Forked, Payload

        self._workers: dict[tuple[str, ...], Forked] = {}
        self._used: set[tuple[str, ...]] = set()
        try:
            self._payload = Payload() if groups else None
        except OSError:  # no temporary file: the build forks its workers once the manifest is read
            self._payload, groups = None, []
        try:
            for group in groups:
                self._workers[group] = Forked(_early_worker, group, self._payload, name=f"the worker rendering {', '.join(group)}")
        except BaseException:
            self.close()
            raise

    @classmethod
    def early(cls, manifest: Path, only: list[str] | None = None) -> Workers:
        """The workers a build of ``manifest`` will likely render in (none for a small manifest file)."""
        try:
            large = os.path.getsize(manifest) >= EARLY_MIN_BYTES
        except OSError:
            large = False  # reading it will say what is wrong
        names = [n for n in families() if n in (only or families())]
        return cls(_groups(names) if large and can_fork() else [])

    def submit(self, group: tuple[str, ...], ctx: BuildContext) -> Any | None:
        """Start rendering ``group`` from ``ctx``; its worker (see :class:`~coursehub.forked.Forked`), or None."""
        worker = self._workers.get(group)
        if worker is None or group in self._used:
            return None
        self._used.add(group)
        assert self._payload is not None
        try:
            worker.send(self._payload.put(pickle.dumps((ctx.manifest, ctx.warnings), protocol=pickle.HIGHEST_PROTOCOL)))
        except BrokenPipeError:
            pass  # the worker failed while importing: its result() raises that error
        return worker

    def close(self) -> None:
        """Stop every worker (one that delivered its result has ended already)."""
        for worker in self._workers.values():
            worker.stop()
        if self._payload is not None:
            self._payload.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _early_worker(inbox, group: tuple[str, ...], payload) -> dict[str, _Result]:
    """In an early worker: import what ``group``'s generators use, then render it from the manifest sent."""
    for name in group:
        module = importlib.import_module(dict(GENERATORS)[name].split(":")[0])
        for extra in getattr(module, "IMPORTS", ()):
            importlib.import_module(extra)
    manifest, warnings = pickle.loads(payload.get(inbox.recv()))
    global _FORKED
    _FORKED = BuildContext(manifest=manifest, warnings=warnings)
    return _render_forked(inbox, group)


#: The context forked workers render from: inherited by fork, never pickled (a university's rosters).
_FORKED: BuildContext | None = None


def _render_forked(inbox, names: tuple[str, ...]) -> dict[str, _Result]:
    """In a worker: each family's files, notes and new warnings."""
    assert _FORKED is not None
    out = {}
    for name in names:
        # a context of its own per family: a worker's families are merged separately
        ctx = BuildContext(manifest=_FORKED.manifest, warnings=list(_FORKED.warnings), family=name)
        _load(dict(GENERATORS)[name])(ctx)
        out[name] = (ctx.files, ctx.notes, ctx.warnings[len(_FORKED.warnings):])
    return out


def _render_aside(
    ctx: BuildContext,
    groups: list[tuple[str, ...]],
    progress: Callable[[str], None] | None,
    workers: Workers | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """Start rendering ``groups`` in workers (``workers``' own, or forked now); returns the workers and
    each family's worker (:class:`~coursehub.forked.Forked`: ``done()``, ``result()``)."""
    from coursehub.forked import Forked

    global _FORKED
    started: list[Any] = []
    pending: dict[str, Any] = {}
    try:
        for group in groups:
            worker = workers.submit(group, ctx) if workers else None
            if worker is None:
                _FORKED = ctx  # still empty: each worker's files are its families' alone
                try:
                    worker = Forked(_render_forked, group, name=f"the worker rendering {', '.join(group)}")
                except OSError:  # no process to spare: this process renders the group in turn
                    continue
            started.append(worker)
            pending.update(dict.fromkeys(group, worker))
    except BaseException:
        for worker in started:
            worker.stop()
        raise
    finally:
        _FORKED = None
    if progress:
        for name in pending:
            progress(name)
    return started, pending


def _select(only: list[str] | None) -> list[str]:
    names = families()
    if not only:
        return names
    unknown = [o for o in only if o not in names]
    if unknown:
        raise CoursehubError(f"unknown artifact family {', '.join(unknown)}; choose from {', '.join(names)}")
    return list(only)


def build(
    manifest: Manifest,
    out_dir: Path,
    *,
    only: list[str] | None = None,
    check: bool = False,
    warnings: list[Problem] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: Workers | None = None,
) -> tuple[BuildContext, str]:
    """Render and write (or with ``check``, compare). Returns the context and the diff ('' unless check).

    Families whose inputs and files are unchanged since the last build of ``out_dir`` are neither
    rendered nor written (:mod:`coursehub.buildstate`); ``ctx.unchanged`` names them.
    """
    from coursehub import buildstate

    selected = _select(only)
    chosen = [(n, s) for n, s in GENERATORS if n in selected]
    state = buildstate.read(out_dir)
    # a folder with no record of these families (a first build) renders them all: their inputs hash
    # is only needed for the record, so it is computed after rendering has started
    wanted = buildstate.fingerprints(manifest, chosen) if any(name in state for name in selected) else None
    unchanged = buildstate.fresh(out_dir, state, wanted) if wanted else []
    stale = [name for name in selected if name not in unchanged]
    staging = Staging(out_dir, stale) if stale and not check else None
    if stale:
        try:
            # each family is written as soon as it is rendered; the folders are swapped in at the end
            ctx = render(
                manifest,
                only=stale,
                warnings=warnings,
                progress=progress,
                sink=staging.add if staging else None,
                idle=staging.flush if staging else None,
                workers=workers,
            )
        except BaseException:
            if staging:
                staging.abort()
            raise
    else:
        ctx = BuildContext(manifest=manifest, warnings=list(warnings or []))
    ctx.unchanged = unchanged
    for name in unchanged:
        ctx.family_notes[name] = list(state[name].get("notes") or [])
        ctx.file_counts[name] = int(state[name].get("files") or 0)
    ctx.notes = [note for name in selected for note in ctx.family_notes.get(name, [])]
    if check:
        return ctx, buildstate.diff(ctx.files, out_dir, stale)
    if staging:
        wanted = wanted or buildstate.fingerprints(manifest, chosen)
        staging.commit()
        for name in stale:
            state[name] = {
                "inputs": wanted[name],
                "outputs": buildstate.files_digest(ctx.files, name),
                "files": ctx.file_counts[name],
                "notes": ctx.family_notes[name],
            }
        buildstate.write(out_dir.resolve(), state)
    return ctx, ""
