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

The admin API token exists only in this process and the hub's environment: it is never written to
disk or printed; so do the collect services' tokens. The sync service's token is written only where asked
(:meth:`LocalHub.write_sync_token`, a file of mode 0600) so that ``coursehub sync --token-file`` can be tried
against the hub. Named servers are enabled (one per course, named by the course id).

**Every process of a hub carries its mark.** The hub, its proxy, each single-user server and each
kernel have ``COURSEHUB_LOCALHUB_ID=<id>`` in their environment (the spawner passes it on). JupyterHub
starts the proxy and the servers in sessions of their own, so a process group does not hold them all;
the mark does. :meth:`LocalHub.stop` stops every process with its hub's mark, whatever happened to
the hub itself, and :func:`port_holders` tells which coursehub hub still holds a port.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.hub.gitserve import GitHTTPService
from coursehub.hub.processes import (  # noqa: F401 (the local hub's process API, re-exported)
    MARK_ENV,
    PortHolder,
    free_port,
    marked_processes,
    port_holders,
    port_is_free,
    stop_marked,
)
from coursehub.images import server as server_extensions
from coursehub.manifest import Manifest

CONFIG_FILE = Path(__file__).parent / "runtime" / "local_config.py"
#: Long enough for JupyterHub's SharedPasswordAuthenticator (it refuses short ones).
DEMO_PASSWORD = "coursehub-demo"
TOKEN_ENV = "COURSEHUB_LOCALHUB_ADMIN_TOKEN"
SETTINGS_ENV = "COURSEHUB_LOCALHUB_SETTINGS"
SYNC_TOKEN_ENV = "COURSEHUB_LOCALHUB_SYNC_TOKEN"
COLLECT_TOKENS_ENV = "COURSEHUB_LOCALHUB_COLLECT_TOKENS"
COURSES_FILE = "coursehub-courses.json"
SYNC_TOKEN_FILE = "sync-token"
#: The course data's Jupyter configuration folders, written here for the local servers to read.
JUPYTER_CONFIG_DIR = "jupyter-config"
#: The Jupyter configuration every local server reads (the extensions an image enables for itself).
SERVER_CONFIG_DIR = "jupyter-config-servers"


class HubFailed(CoursehubError):
    """The local hub did not start, or stopped on its own; ``log_path`` is its log."""

    def __init__(self, message: str, *, log_path: Path):
        super().__init__(message, exit_code=1)
        self.log_path = log_path


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
    #: Course id -> token of its ``coursehub-collect-<course>`` service (that course's students only).
    collect_tokens: dict[str, str] = field(default_factory=dict, repr=False)

    #: The mark in the environment of every process of this hub.
    mark: str = ""

    def stop(self, timeout: float = 15) -> None:
        """Stop the hub and everything it started: proxy, single-user servers, their kernels.

        The hub stops its own servers on SIGTERM (``cleanup_servers``); whatever outlives it (a hub
        that was killed, a kernel that ignores SIGTERM) is found by its mark and terminated, then killed.
        """
        if self.process.poll() is None:
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
        if self.mark:
            stop_marked(self.mark)

    def write_sync_token(self, path: Path) -> Path:
        """Write the ``coursehub-sync`` service's token to ``path``, readable by its owner only."""
        path = Path(path)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.sync_token + "\n")
        return path

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
        "jupyter_config_root": str(workdir / JUPYTER_CONFIG_DIR) if course_config else None,
        # what every image installs (coursehub.images.server): its modules, and the folder enabling them
        "server_python_path": str(Path(server_extensions.__file__).parent),
        "server_config_dir": str(workdir / SERVER_CONFIG_DIR),
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

    With ``course_config`` (the default) the hub runs coursehub's per-course configuration (a server
    per course, settings, staff roles, sync service); without it, only the groups (for comparisons).
    Users sign in with the demo password unless ``lms`` is set: then only through the manifest's LMS
    (``hub.lms``, LTI), exactly as the generated hub configurations do (the secret of LTI 1.1 from
    ``extra_env`` or the environment).
    ``extra_env={"COURSEHUB_TODAY": "2027-01-10"}`` makes the hub's term-date checks use that day.
    """
    workdir = Path(workdir).resolve()
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    from coursehub.access.groups import load_groups
    from coursehub.access.roles import collect_service
    from coursehub.hub.data import course_data, jupyter_config_files

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
        for rel, content in jupyter_config_files(data).items():
            target = workdir / JUPYTER_CONFIG_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(emit.to_json(content))
    for rel, content in server_extensions.jupyter_config().items():
        target = workdir / SERVER_CONFIG_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(emit.to_json(content))
    settings_path = workdir / "localhub.json"
    settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True))
    token = secrets.token_hex(32)
    sync_token = secrets.token_hex(32)
    collect_tokens = {c.id: secrets.token_hex(32) for c in manifest.courses} if course_config else {}
    mark = secrets.token_hex(8)
    env = {
        **os.environ,
        MARK_ENV: mark,
        SETTINGS_ENV: str(settings_path),
        TOKEN_ENV: token,
        SYNC_TOKEN_ENV: sync_token,
        COLLECT_TOKENS_ENV: json.dumps({collect_service(cid): t for cid, t in collect_tokens.items()}),
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
        collect_tokens=collect_tokens,
        mark=mark,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                stop_marked(mark)
                tail = log_path.read_text(errors="replace")[-3000:]
                raise HubFailed(f"the local hub exited during start-up (status {process.returncode}); log tail:\n{tail}", log_path=log_path)
            try:
                r = hub.api("GET", "/")
                if r.status_code == 200:
                    return hub
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise HubFailed(f"the local hub did not answer within {timeout:.0f}s", log_path=log_path)
    except BaseException:
        # a signal or Ctrl-C during start-up too: nothing of this hub may outlive the caller
        hub.stop()
        raise


# --- the demo: `coursehub hub up` -------------------------------------------------------------------


class ContentServer:
    """The courses' local content (``content.local``) as git repositories on 127.0.0.1.

    The demo's assignment links point here instead of at the real repository, so clicking one on the
    local hub pulls real files with nbgitpuller without any network. The notebooks are served as they
    are: the servers' ``coursehub_kernel_metadata`` extension (the images' too) makes them open unmodified.
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


@dataclass
class DemoGuide:
    """What ``coursehub hub up`` prints: the URL, who can log in as what, and assignment links to click."""

    url: str
    password: str
    admin_page: str
    admin: str | None = None
    course: str | None = None  # the course the staff logins are of
    title: str = ""
    in_term: bool = False
    instructor: str | None = None
    ta: str | None = None
    student: str | None = None
    student_courses: list[str] = field(default_factory=list)  # the student's courses, each its own server
    student_in_term: bool = False
    #: (course id, assignment title, URL): the first assignment of each of the student's courses
    links: list[tuple[str, str, str]] = field(default_factory=list)


def demo_guide(manifest: Manifest, hub: LocalHub, content: ContentServer | None, *, today: dt.date) -> DemoGuide:
    """Pick the logins and links to show.

    The course is the first one in term on ``today`` with assignments and local content (else the
    first in term, else the first); its first instructor and TA are the staff logins. The student is
    one of its students who is in a second such course too, when there is one, so both of their
    course servers can be tried; a link is given for each of the student's courses with content.
    """
    from coursehub.links.pages import assignment_link
    from coursehub.manifest.effective import course_settings

    guide = DemoGuide(url=hub.url, password=hub.password, admin_page=hub.url + "/hub/admin")
    guide.admin = sorted(manifest.hub.admins)[0] if manifest.hub.admins else None
    candidates = [c for c in manifest.courses if c.roster and c.staff.instructors]
    active = [c for c in candidates if course_settings(manifest, c).active_on(today)]

    def linkable(c) -> bool:
        return bool(c.assignments and content and content.repo_url(c.id))

    course = next((c for c in active if linkable(c)), None) or (active or candidates or [None])[0]
    if course is None:
        return guide
    guide.course, guide.title, guide.in_term = course.id, course.title, course in active
    guide.instructor = course.staff.instructors[0]
    guide.ta = course.staff.tas[0] if course.staff.tas else None
    pool = active if guide.in_term else candidates
    others = [c for c in pool if c.id != course.id and linkable(c)]
    student = next((u for u in course.roster if any(u in c.roster for c in others)), course.roster[0])
    mine = [course] + [c for c in others if student in c.roster][:1]
    guide.student, guide.student_courses = student, [c.id for c in mine]
    guide.student_in_term = all(course_settings(manifest, c).active_on(today) for c in mine)
    for c in mine:
        if linkable(c):
            a = c.assignments[0]
            link = assignment_link(manifest, c, a, hub=hub.url, repo=content.repo_url(c.id))
            guide.links.append((c.id, a.title or a.id, link.url))
    return guide
