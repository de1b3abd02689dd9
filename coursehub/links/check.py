"""``coursehub links check``: does every assignment link point at a file that is really there?

For each content repository (concurrently): ``git ls-remote`` says whether it is reachable and which
branches exist; a shallow, blob-less fetch of each branch into a cache (``~/.cache/coursehub/links``)
brings the trees but no file contents, so checking a path is cheap even for large repositories; then
``git ls-tree`` says whether the assignment's path is on the branch. User-controlled strings only ever
reach git after ``--`` or as values, never where git would read them as options.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from coursehub.errors import CoursehubError
from coursehub.links.url import check_branch, check_file_path, check_repo
from coursehub.manifest import Manifest


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
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coursehub" / "links"


def _git_env() -> dict[str, str]:
    # Never prompt for a password (a private repo is "unreachable" for students too), never read
    # pathspecs as globs, and keep messages in English so reasons are stable.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C", "LANG": "C",
            "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


def _git(args: list[str], *, cwd: Path | None = None, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, b"", f"git {args[0]} timed out after {timeout:.0f}s".encode())


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"git exited with status {proc.returncode}"


def _ensure_cache(cache: Path, timeout: float) -> None:
    if (cache / "HEAD").exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    init = _git(["init", "--bare", "--quiet", str(cache)], timeout=timeout)
    if init.returncode != 0:
        raise CoursehubError(f"cannot create the link-check cache in {cache}: {_last_line(init)}")


def _check_repo_targets(repo: str, targets: list[_Target], cache_root: Path, timeout: float) -> list[LinkCheck]:
    def verdict(t: _Target, ok: bool, reason: str = "") -> LinkCheck:
        return LinkCheck(t.course, t.assignment, t.repo, t.branch, t.path, ok, reason)

    remote = _git(["ls-remote", "--heads", "--tags", "--", repo], timeout=timeout)
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
                _ensure_cache(cache, timeout)
                fetch = _git(
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
        listing = _git(["ls-tree", "-z", local, "--", t.path], cwd=cache, timeout=timeout)
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
    progress: Callable[[int, int, str], None] | None = None,
) -> list[LinkCheck]:
    """Check every assignment of the manifest's courses (or only ``courses``); results in manifest order."""
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
            try:
                repo, _, _ = check_repo(course.content.repo)
                check_branch(branch)
                path, _ = check_file_path(a.path)
            except CoursehubError as exc:
                verdicts[(course.id, a.id)] = LinkCheck(course.id, a.id, course.content.repo, branch, a.path, False, exc.message)
                continue
            by_repo.setdefault(repo, []).append(_Target(course.id, a.id, repo, branch, path or ""))
    cache_root = cache_dir or default_cache_dir()
    cache_root.mkdir(parents=True, exist_ok=True)
    total, done = len(by_repo), 0
    if progress:
        progress(0, total, "")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_check_repo_targets, repo, targets, cache_root, timeout): repo for repo, targets in by_repo.items()}
        for future in as_completed(futures):
            for result in future.result():
                verdicts[(result.course, result.assignment)] = result
            done += 1
            if progress:
                progress(done, total, futures[future])
    return [verdicts[key] for key in order]
