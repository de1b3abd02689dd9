"""A real git server on loopback for the link tests: ``git http-backend`` behind a small HTTP server.

Plain static HTTP cannot serve shallow clones (nbgitpuller clones with ``--depth 1``), so every
request runs git's own CGI, ``git http-backend``, the way Apache or nginx would. Repositories are bare
repositories in a temporary folder; the instructor's pushes go straight to the bare repository on disk.

Fixture: ``git_server`` (session-scoped) — import it into a test module with
``from gitserver import git_server  # noqa: F401``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CONTENT = Path(__file__).resolve().parents[1] / "course-templates" / "example-university" / "content"


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git and return its stdout; raise with stderr on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cgi(self) -> None:
        url = urlsplit(self.path)
        body = self._body() if self.command == "POST" else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": "HTTP/1.0",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        self.server.requests.append((self.command, url.path))
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _cgi
    do_POST = _cgi


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    requests: list


class GitServer:
    """Bare repositories under ``root`` served at ``url`` (http://127.0.0.1:<port>/)."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.root = root
        self._httpd.requests = []
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="git-http", daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self._httpd.requests

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)

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
