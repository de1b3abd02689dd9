"""``coursehub links check``: does every assignment link point at a file that is really there?

For each content repository (concurrently): ``git ls-remote`` says whether it is reachable and which
branches exist; a shallow, blob-less fetch of each branch into a cache (``~/.cache/coursehub/links``)
brings the trees but no file contents, so checking a path is cheap even for large repositories; then
``git ls-tree`` says whether the assignment's path is on the branch. User-controlled strings only ever
reach git after ``--`` or as values, never where git would read them as options.

Every git starts in its own process group (its own session), and the whole group is killed when a
command times out and when the check is interrupted (Ctrl-C): killing git alone would leave its
``git-remote-http`` child hanging on the host. A group of its own also keeps the terminal's Ctrl-C
from reaching git, so :class:`_Gits` is the one place that stops them.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from coursehub.cache import cache_root
from coursehub.errors import CoursehubError
from coursehub.links.url import check_branch, check_file_path, check_repo
from coursehub.manifest import Course, Manifest


@dataclass(frozen=True)
class LinkCheck:
    """The verdict for one assignment's link."""

    course: str
    assignment: str
    repo: str
    branch: str
    path: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class _Target:
    course: str
    assignment: str
    repo: str
    branch: str
    path: str


def default_cache_dir() -> Path:
    return cache_root() / "links"


def _git_env() -> dict[str, str]:
    # Never prompt for a password (a private repo is "unreachable" for students too), never read
    # pathspecs as globs, and keep messages in English so reasons are stable.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C", "LANG": "C",
            "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


class _Stopped(Exception):
    """The check was interrupted: no more git may start."""


def _kill_group(proc: subprocess.Popen) -> None:
    # Only while git is not yet reaped: its pid (the group's id) cannot have been reused.
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Gits:
    """The git processes one check runs: each in its own process group, all killed at once by :meth:`stop`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self._stopped = False

    def run(self, args: list[str], *, cwd: Path | None = None, timeout: float) -> subprocess.CompletedProcess:
        """``git args`` with its output; a timeout kills git's whole process group and returns status 124."""
        with self._lock:
            if self._stopped:
                raise _Stopped
            proc = subprocess.Popen(
                ["git", *args], cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,
            )
            self._live.add(proc)
        try:
            try:
                out, errout = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.communicate()
                return subprocess.CompletedProcess(args, 124, b"", f"git {args[0]} timed out after {timeout:.0f}s".encode())
            return subprocess.CompletedProcess(args, proc.returncode, out, errout)
        finally:
            with self._lock:
                self._live.discard(proc)

    def stop(self) -> None:
        """Kill every running git's process group; later :meth:`run` calls raise :class:`_Stopped`."""
        with self._lock:
            self._stopped = True
            for proc in self._live:
                _kill_group(proc)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"git exited with status {proc.returncode}"


def _ensure_cache(gits: _Gits, cache: Path, timeout: float) -> None:
    if (cache / "HEAD").exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    init = gits.run(["init", "--bare", "--quiet", str(cache)], timeout=timeout)
    if init.returncode != 0:
        raise CoursehubError(f"cannot create the link-check cache in {cache}: {_last_line(init)}")


def _check_repo_targets(
    gits: _Gits, repo: str, targets: list[_Target], cache_root: Path, timeout: float
) -> list[LinkCheck]:
    def verdict(t: _Target, ok: bool, reason: str = "") -> LinkCheck:
        return LinkCheck(t.course, t.assignment, t.repo, t.branch, t.path, ok, reason)

    remote = gits.run(["ls-remote", "--heads", "--tags", "--", repo], timeout=timeout)
    if remote.returncode != 0:
        reason = f"repository unreachable: {_last_line(remote)}"
        return [verdict(t, False, reason) for t in targets]
    refs = {}
    for line in remote.stdout.decode("utf-8", "replace").splitlines():
        sha, _, ref = line.partition("\t")
        refs[ref] = sha
    cache = cache_root / hashlib.sha256(repo.encode("utf-8")).hexdigest()[:20]
    results: list[LinkCheck] = []
    fetched: dict[str, str | None] = {}  # branch -> local ref, or None with the failure reason in errors
    errors: dict[str, str] = {}
    for t in targets:
        if t.branch not in fetched:
            ref = next((r for r in (f"refs/heads/{t.branch}", f"refs/tags/{t.branch}") if r in refs), None)
            if ref is None:
                fetched[t.branch] = None
                errors[t.branch] = f"branch {t.branch!r} does not exist"
            else:
                local = f"refs/coursehub/{hashlib.sha256(ref.encode()).hexdigest()[:16]}"
                _ensure_cache(gits, cache, timeout)
                fetch = gits.run(
                    ["fetch", "--quiet", "--no-tags", "--depth", "1", "--filter=blob:none", "--", repo, f"+{ref}:{local}"],
                    cwd=cache,
                    timeout=timeout,
                )
                if fetch.returncode != 0:
                    fetched[t.branch] = None
                    errors[t.branch] = f"fetching {t.branch!r} failed: {_last_line(fetch)}"
                else:
                    fetched[t.branch] = local
        local = fetched[t.branch]
        if local is None:
            results.append(verdict(t, False, errors[t.branch]))
            continue
        listing = gits.run(["ls-tree", "-z", local, "--", t.path], cwd=cache, timeout=timeout)
        names = {entry.partition("\t")[2] for entry in listing.stdout.decode("utf-8", "replace").split("\0") if entry}
        if listing.returncode == 0 and t.path in names:
            results.append(verdict(t, True))
        else:
            results.append(verdict(t, False, f"{t.path!r} is not on branch {t.branch!r}"))
    return results


def check_links(
    manifest: Manifest,
    *,
    courses: Iterable[str] | None = None,
    cache_dir: Path | None = None,
    jobs: int = 4,
    timeout: float = 60,
    progress: Callable[[int, int, list[str]], None] | None = None,
    repo_for: Callable[[Course], str | None] | None = None,
) -> list[LinkCheck]:
    """Check every assignment of the manifest's courses (or only ``courses``); results in manifest order.

    ``progress(done, total, waiting)`` is called as repositories start and finish, ``waiting`` naming
    those being checked. ``repo_for`` checks another repository than ``content.repo`` (a local copy);
    a course it returns ``None`` for is reported as having nothing to check against.
    """
    wanted = set(courses or [])
    if wanted:
        for name in wanted:
            manifest.course(name)  # raises for an unknown course id
    order: list[tuple[str, str]] = []
    verdicts: dict[tuple[str, str], LinkCheck] = {}
    by_repo: dict[str, list[_Target]] = {}
    for course in manifest.courses:
        if wanted and course.id not in wanted:
            continue
        for a in course.assignments:
            order.append((course.id, a.id))
            if course.content is None:
                verdicts[(course.id, a.id)] = LinkCheck(course.id, a.id, "", "", a.path, False, "the course has no content repository")
                continue
            branch = course.content.branch
            source = course.content.repo if repo_for is None else repo_for(course)
            if source is None:
                verdicts[(course.id, a.id)] = LinkCheck(
                    course.id, a.id, course.content.repo, branch, a.path, False,
                    "no local copy to check against (content.local is not set or not a folder)",
                )
                continue
            try:
                repo, _, _ = check_repo(source)
                check_branch(branch)
                path, _ = check_file_path(a.path)
            except CoursehubError as exc:
                verdicts[(course.id, a.id)] = LinkCheck(course.id, a.id, course.content.repo, branch, a.path, False, exc.message)
                continue
            by_repo.setdefault(repo, []).append(_Target(course.id, a.id, repo, branch, path or ""))
    cache_root = cache_dir or default_cache_dir()
    cache_root.mkdir(parents=True, exist_ok=True)
    total, done = len(by_repo), 0
    running: list[str] = []
    lock = threading.Lock()

    def report() -> None:
        if progress:
            progress(done, total, list(running))

    def check_one(repo: str, targets: list[_Target]) -> list[LinkCheck]:
        with lock:
            running.append(repo)
            report()
        try:
            return _check_repo_targets(gits, repo, targets, cache_root, timeout)
        finally:
            with lock:
                running.remove(repo)

    report()
    gits = _Gits()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = [pool.submit(check_one, repo, targets) for repo, targets in by_repo.items()]
        for future in as_completed(futures):
            for result in future.result():
                verdicts[(result.course, result.assignment)] = result
            with lock:
                done += 1
                report()
    except BaseException:
        # Ctrl-C reaches only this (main) thread, and git's own process group never sees it: stop every
        # git before waiting for the workers, or they would wait out their timeouts first.
        gits.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [verdicts[key] for key in order]


def by_repository(results: list[LinkCheck]) -> list[tuple[str, str, list[tuple[str, list[LinkCheck]]]]]:
    """``(repo, branch, [(reason or "", checks)])`` per repository, in first-seen order: one verdict per
    reason instead of the same error once per assignment."""
    groups: dict[tuple[str, str], dict[str, list[LinkCheck]]] = {}
    for r in results:
        groups.setdefault((r.repo, r.branch), {}).setdefault("" if r.ok else r.reason, []).append(r)
    return [(repo, branch, list(reasons.items())) for (repo, branch), reasons in groups.items()]
