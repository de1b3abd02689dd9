"""A real git server on loopback for the link tests: ``git http-backend`` behind a small HTTP server.

Plain static HTTP cannot serve shallow clones (nbgitpuller clones with ``--depth 1``), so every
request runs git's own CGI, ``git http-backend``, the way Apache or nginx would. Repositories are bare
repositories in a temporary folder; the instructor's pushes go straight to the bare repository on disk.

Fixture: ``git_server`` (session-scoped) — import it into a test module with
``from gitserver import git_server  # noqa: F401``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from coursehub.hub.gitserve import GitHTTPService

CONTENT = Path(__file__).resolve().parents[1] / "course-templates" / "example-university" / "content"


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git and return its stdout; raise with stderr on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


class GitServer(GitHTTPService):
    """Bare repositories under ``root`` served at ``url``, with helpers to create and push to them."""

    def __init__(self, root: Path):
        super().__init__(root, name="git-http")

    def create_repo(self, name: str, source: Path, *, branch: str = "main", extra: dict[str, str] | None = None) -> str:
        """A bare repo ``name`` holding ``source``'s files (plus ``extra`` files) on ``branch``; returns its URL."""
        work = self.root.parent / f"work-{name}"
        shutil.copytree(source, work)
        for rel, text in (extra or {}).items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text, encoding="utf-8")
        git("init", "--quiet", "-b", branch, cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", f"{name}: initial content", cwd=work)
        git("clone", "--quiet", "--bare", str(work), str(self.root / name))
        # let `links check` do its blob-less fetch (what GitHub and GitLab allow too)
        git("config", "uploadpack.allowFilter", "true", cwd=self.root / name)
        return self.url + name

    def alias(self, name: str, alias: str) -> str:
        """Serve repository ``name`` under a second path too (e.g. with a ``.git`` suffix)."""
        (self.root / alias).symlink_to(self.root / name)
        return self.url + alias

    def push(self, name: str, files: dict[str, str], *, branch: str = "main", message: str = "update") -> str:
        """Commit ``files`` (path -> text) to ``branch`` of ``name`` as the instructor would; returns the commit."""
        work = self.root.parent / f"work-{name}"
        bare = str(self.root / name)
        if git("ls-remote", "--heads", "--", bare, f"refs/heads/{branch}", cwd=work).strip():
            git("fetch", "--quiet", "--", bare, f"refs/heads/{branch}", cwd=work)
            git("checkout", "--quiet", "-B", branch, "FETCH_HEAD", cwd=work)
        else:
            git("checkout", "--quiet", "-B", branch, cwd=work)  # a new branch from the current commit
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text, encoding="utf-8")
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", message, cwd=work)
        git("push", "--quiet", bare, f"HEAD:refs/heads/{branch}", cwd=work)
        return git("rev-parse", "HEAD", cwd=work).strip()


@pytest.fixture(scope="session")
def git_server(tmp_path_factory):
    server = GitServer(tmp_path_factory.mktemp("git-server") / "repos")
    try:
        yield server
    finally:
        server.stop()
