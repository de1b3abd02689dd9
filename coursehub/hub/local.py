"""A real JupyterHub on 127.0.0.1 for trying a manifest locally and for the end-to-end tests.

``start_local_hub`` runs ``jupyterhub`` as a child process with sqlite, the pure-Python
configurable-http-proxy, local-process single-user servers (``SimpleLocalProcessSpawner``, homes under
the work folder) and a shared demo password. The configuration is fixed code
(``coursehub/hub/runtime/local_config.py``) that reads generated JSON; nothing from the manifest is
pasted into Python.

The hub loads the same per-course configuration as the single-machine target: the course data
(:func:`coursehub.hub.generate.course_data`, written to ``coursehub-courses.json`` in the work folder) is
handed to :mod:`coursehub.hub.runtime.spawn`. Local processes receive each course's limits (``MEM_LIMIT``,
``CPU_LIMIT`` in their environment), default URL and idle culling, but nothing enforces the limits
here: only the systemd and Kubernetes targets do.

The admin and sync API tokens exist only in this process and the hub's environment: they are never
written to disk or printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.hub.gitserve import GitHTTPService
from coursehub.manifest import Manifest

CONFIG_FILE = Path(__file__).parent / "runtime" / "local_config.py"
#: Long enough for JupyterHub's SharedPasswordAuthenticator (it refuses short ones).
DEMO_PASSWORD = "coursehub-demo"
TOKEN_ENV = "COURSEHUB_LOCALHUB_ADMIN_TOKEN"
SETTINGS_ENV = "COURSEHUB_LOCALHUB_SETTINGS"
SYNC_TOKEN_ENV = "COURSEHUB_LOCALHUB_SYNC_TOKEN"
COURSES_FILE = "coursehub-courses.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalHub:
    """A running local hub. Use as a context manager, or call :meth:`stop`."""

    url: str
    api_url: str
    api_token: str = field(repr=False)
    workdir: Path
    password: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path
    #: Token of the ``coursehub-sync`` service, which holds only the sync role's scopes.
    sync_token: str = field(default="", repr=False)

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            # The hub stops its own single-user servers on SIGTERM (cleanup_servers); the process
            # group kill afterwards catches anything that outlived it.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(5)
        self._stop_orphaned_proxy()

    def _stop_orphaned_proxy(self) -> None:
        """Stop the proxy of a hub that was killed (tests kill hubs mid-apply on purpose).

        JupyterHub starts configurable-http-proxy in a session of its own, so it outlives a hub that
        dies without stopping it; the pid file the hub writes in its working folder says where it is.
        """
        try:
            pid = int((self.workdir / "jupyterhub-proxy.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"configurable-http-proxy" not in cmdline:
            return  # the pid was reused by something else
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def __enter__(self) -> LocalHub:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call the hub's REST API with the admin token (for tests and the demo)."""
        headers = {"Authorization": f"token {self.api_token}"}
        return requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)


def local_settings(
    manifest: Manifest,
    *,
    workdir: Path,
    port: int,
    hub_port: int,
    proxy_port: int,
    password: str,
    groups: dict[str, dict],
    course_config: bool = True,
) -> dict:
    """The data the fixed local config reads: ports, folders, users, groups, course data file.

    ``groups`` are the course data's (one computation per hub); the config loads them itself only without
    the course configuration, which loads them from the course data.
    """
    users: set[str] = set(manifest.hub.admins)
    for group in groups.values():
        users.update(group["users"])
    bin_dir = Path(sys.executable).parent
    return {
        "bind_url": f"http://127.0.0.1:{port}",
        "hub_bind_url": f"http://127.0.0.1:{hub_port}",
        "proxy_api_url": f"http://127.0.0.1:{proxy_port}",
        "proxy_command": [str(bin_dir / "configurable-http-proxy")],
        "singleuser_command": [str(bin_dir / "jupyterhub-singleuser")],
        "db_url": f"sqlite:///{workdir / 'jupyterhub.sqlite'}",
        "cookie_secret_file": str(workdir / "jupyterhub_cookie_secret"),
        "home_dir_template": str(workdir / "home" / "{username}"),
        "allow_root": os.geteuid() == 0,
        "password": password,
        "admin_users": sorted(manifest.hub.admins),
        "allowed_users": sorted(users),
        "load_groups": None if course_config else groups,
        "manifest": manifest.source,
        "courses_file": str(workdir / COURSES_FILE) if course_config else None,
    }


def start_local_hub(
    manifest: Manifest,
    *,
    workdir: Path,
    port: int | None = None,
    password: str = DEMO_PASSWORD,
    timeout: float = 90,
    extra_env: dict[str, str] | None = None,
    course_config: bool = True,
    lms: bool = False,
) -> LocalHub:
    """Start a JupyterHub for ``manifest`` on 127.0.0.1 and wait until its API answers.

    With ``course_config`` (the default) the hub runs coursehub's per-course configuration (course
    menu, settings, staff roles, sync service); without it, only the groups (for comparisons).
    Users sign in with the demo password unless ``lms`` is set: then only through the manifest's LMS
    (``hub.lms``, LTI), exactly as the generated hub configurations do (the secret of LTI 1.1 from
    ``extra_env`` or the environment).
    ``extra_env={"COURSEHUB_TODAY": "2027-01-10"}`` makes the hub's term-date checks use that day.
    """
    workdir = Path(workdir).resolve()
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    from coursehub.access.groups import load_groups
    from coursehub.hub.data import course_data

    data = course_data(manifest) if course_config else None
    settings = local_settings(
        manifest,
        workdir=workdir,
        port=port,
        hub_port=free_port(),
        proxy_port=free_port(),
        password=password,
        groups=data["groups"] if data else load_groups(manifest),
        course_config=course_config,
    )
    if data:
        if lms and "lms" not in data:
            raise CoursehubError("the manifest has no `hub.lms` section to sign in with")
        if not lms:
            data.pop("lms", None)
        # this hub is served at its own URL (plain http on loopback), not the manifest's public one
        data["hub"] = {**data["hub"], "url": f"http://127.0.0.1:{port}"}
        (workdir / COURSES_FILE).write_bytes(emit.to_json(data))
    settings_path = workdir / "localhub.json"
    settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True))
    token = secrets.token_hex(32)
    sync_token = secrets.token_hex(32)
    env = {
        **os.environ,
        SETTINGS_ENV: str(settings_path),
        TOKEN_ENV: token,
        SYNC_TOKEN_ENV: sync_token,
        # the proxy's auth token, also kept out of files
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
        **(extra_env or {}),
    }
    log_path = workdir / "jupyterhub.log"
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so stop() can take every child with it
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    hub = LocalHub(
        url=url,
        api_url=url + "/hub/api",
        api_token=token,
        workdir=workdir,
        password=password,
        process=process,
        log_path=log_path,
        sync_token=sync_token if course_config else "",
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise CoursehubError(f"the local hub exited during start-up (status {process.returncode}); log tail:\n{tail}")
        try:
            r = hub.api("GET", "/")
            if r.status_code == 200:
                return hub
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    hub.stop()
    raise CoursehubError(f"the local hub did not answer within {timeout:.0f}s; see {log_path}")


# --- the demo: `coursehub hub up` -------------------------------------------------------------------


class ContentServer:
    """The courses' local content (``content.local``) as git repositories on 127.0.0.1.

    The demo's assignment links point here instead of at the real repository, so clicking one on the
    local hub pulls real files with nbgitpuller without any network.
    """

    def __init__(self, manifest: Manifest, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.repos: dict[str, str] = {}
        base = Path(manifest.source).parent
        for course in manifest.courses:
            if not (course.content and course.content.local) or not (base / course.content.local).is_dir():
                continue
            name = f"{course.id}.git"
            self._make_repo(base / course.content.local, self.root / name, course.content.branch)
            self.repos[course.id] = name
        self._service = GitHTTPService(self.root, name="coursehub-content")
        self.url = self._service.url

    @staticmethod
    def _make_repo(source: Path, bare: Path, branch: str) -> None:
        work = bare.with_name(bare.name + "-work")
        shutil.copytree(source, work)
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "coursehub demo",
            "GIT_AUTHOR_EMAIL": "demo@coursehub.invalid",
            "GIT_COMMITTER_NAME": "coursehub demo",
            "GIT_COMMITTER_EMAIL": "demo@coursehub.invalid",
        }
        for args in (["init", "-q", "-b", branch], ["add", "-A"], ["commit", "-q", "-m", "course content"]):
            subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True, timeout=60)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True, timeout=60)
        shutil.rmtree(work)

    def repo_url(self, course_id: str) -> str | None:
        name = self.repos.get(course_id)
        return self.url + name if name else None

    def stop(self) -> None:
        self._service.stop()


def demo_guide(manifest: Manifest, hub: LocalHub, content: ContentServer | None, *, today: dt.date) -> dict:
    """What ``coursehub hub up`` prints: the URL, who to log in as, and a working assignment link.

    Picks the first course in term (on ``today``) with assignments and local content; its first
    student and first instructor are the suggested logins.
    """
    from coursehub.links.pages import assignment_link
    from coursehub.manifest.effective import course_settings

    guide: dict = {"url": hub.url, "password": hub.password, "admin": hub.url + "/hub/admin"}
    candidates = [c for c in manifest.courses if c.roster and c.staff.instructors]
    active = [c for c in candidates if course_settings(manifest, c).active_on(today)]
    course = next((c for c in active if c.assignments and content and content.repo_url(c.id)), None)
    course = course or (active or candidates or [None])[0]
    if course is None:
        return guide
    # a student of this course alone, so the link starts the server without a course menu
    others = {u for c in manifest.courses if c.id != course.id for u in c.roster}
    student = next((u for u in course.roster if u not in others), course.roster[0])
    guide.update(course=course.id, title=course.title, student=student, instructor=course.staff.instructors[0])
    guide["in_term"] = course in active
    repo_url = content.repo_url(course.id) if content else None
    if repo_url and course.assignments:
        assignment = course.assignments[0]
        link = assignment_link(manifest, course, assignment, hub=hub.url, repo=repo_url)
        guide.update(assignment=assignment.title or assignment.id, link=link.url)
    return guide
