"""Collecting an assignment from every student's home, through the hub, into the folder ``grade`` takes.

A student works on a course in the named server whose name is the course id. For each student on
the roster, :func:`collect` reads the assignment's notebook
(``<clone folder>/<assignment path>``, where the assignment link put it) through that server's
contents API, via the hub's proxy, and writes it to ``<out>/<student>/<notebook>``:

1. the student's model (``GET /users/<name>?include_stopped_servers``) says whether they have the
   course's server at all; one who never started it has nothing to collect (``no-server``); work
   done on another server is not looked for;
2. a stopped server is started (at most ``concurrency`` at a time, since the collect loop runs that
   many students at once) and stopped again afterwards; a running one is left running;
3. a token for that one server (``access:servers!server=<name>/<course>``, a few minutes' life) is
   issued for the student and deleted after use. The course's collect token itself cannot open a
   student's server: JupyterHub's single-user servers do not resolve ``!group=`` filters on API
   tokens (``jupyterhub/services/auth.py``, ``check_scopes``), so the service holds
   ``tokens!group=coursehub-<course>-students`` instead and asks the hub for a per-server token;
4. the file's ``last_modified`` is compared with the cutoff (the end of the assignment's ``due`` day
   in this machine's time zone, or ``at``): later is ``late``.

Each student's file is written atomically; a student whose server or request fails is reported
(``error``, an earlier copy is kept) and the rest go on. Re-running collects everything again: the
folder mirrors the homes (a file gone from a home is removed from the folder). The report is written
as ``collect-report.csv`` and ``collect-report.json`` beside the students' folders.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.grading.results import atomic_write
from coursehub.grading.submissions import MAX_NOTEBOOK_BYTES
from coursehub.links.url import clone_folder
from coursehub.manifest import Assignment, Course, Manifest
from coursehub.manifest.usernames import username_problem
from coursehub.hub.client import HubClient, HubRequestError, HubUnavailable

#: Where ``coursehub collect`` writes by default, relative to the working directory.
COLLECT_ROOT = Path("collected")
REPORT_CSV = "collect-report.csv"
REPORT_JSON = "collect-report.json"
REPORT_COLUMNS = ("student", "status", "late", "last_modified", "size", "server", "detail")
#: Life of the per-server token issued for one student's read (it is deleted as soon as it is used).
TOKEN_SECONDS = 600
POLL_SECONDS = 0.5


@dataclass
class Collected:
    """What collect found for one student."""

    student: str
    status: str  # collected | missing | no-server | error
    late: bool = False
    last_modified: str = ""  # ISO 8601, as the server reported it
    size: int = 0
    server: str = ""  # running | started | stopped | "" (what collect found, and did)
    detail: str = ""


@dataclass
class CollectReport:
    course: str
    assignment: str
    path: str  # the notebook's path in a student's home
    cutoff: str  # ISO 8601
    out: Path
    students: list[Collected]

    def by_status(self, status: str) -> list[str]:
        return [c.student for c in self.students if c.status == status]

    @property
    def late(self) -> list[str]:
        return [c.student for c in self.students if c.late]

    @property
    def without_work(self) -> list[str]:
        """Students with no collected notebook: missing, no course server, or an error."""
        return [c.student for c in self.students if c.status != "collected"]


def notebook_path(course: Course, assignment: Assignment) -> str:
    """Where the assignment's link put the notebook, relative to the student's home."""
    if course.content is None:
        raise CoursehubError(f"course {course.id} has no `content:` repository, so its assignments are in no known folder")
    return f"{clone_folder(course.content.repo, course.content.targetpath)}/{assignment.path.lstrip('/')}"


def cutoff_for(assignment: Assignment, at: str | None) -> dt.datetime:
    """The moment after which a change is late: ``at`` (ISO date or datetime), else the end of ``due``.

    A date means the end of that day; a time without a zone is in this machine's time zone.
    """
    if at:
        try:
            when = dt.datetime.fromisoformat(at)
        except ValueError:
            raise CoursehubError(f"--at {at!r} is not a date or time; write 2026-09-05 or 2026-09-05T17:00-07:00") from None
        if len(at) <= 10:  # a bare date: through the end of that day
            when += dt.timedelta(days=1)
        return when if when.tzinfo else when.astimezone()
    if assignment.due is None:
        raise CoursehubError(f"assignment {assignment.id} has no `due:` date; pass --at to say when work is late")
    return dt.datetime.combine(assignment.due + dt.timedelta(days=1), dt.time()).astimezone()


class _Student:
    """Collecting one student's notebook (runs on one of the client's threads)."""

    def __init__(self, client: HubClient, course: Course, path: str, name: str, out: Path, cutoff: dt.datetime,
                 start_timeout: float):
        self.client, self.course, self.path, self.name = client, course, path, name
        # names are the hub's; a name with '#', '?' or '%' must still address that user
        self.user = f"/users/{quote(name, safe='')}"
        self.server = f"{self.user}/servers/{quote(course.id, safe='')}"
        self.target = out / name / Path(path).name
        self.cutoff = cutoff
        self.start_timeout = start_timeout

    def run(self) -> Collected:
        problem = username_problem(self.name)
        if problem:
            return Collected(self.name, "error", detail=problem)
        try:
            server = self._server_model()
        except HubUnavailable:
            raise  # the hub itself is down: stop the whole run
        except (HubRequestError, CoursehubError) as exc:
            return Collected(self.name, "error", detail=str(exc))
        if server is None:
            self._forget()
            return Collected(self.name, "no-server", detail=f"never started the {self.course.id} server")
        started = False
        try:
            if not server.get("ready"):
                self._start()
                started = True
            found = self._fetch()
        except (HubRequestError, HubUnavailable, CoursehubError) as exc:
            kept = " (the copy collected before is kept)" if self.target.exists() else ""
            return Collected(self.name, "error", server="started" if started else "", detail=f"{exc}{kept}")
        finally:
            if started:
                self._stop()
        found.server = "started" if started else "running"
        return found

    def _server_model(self) -> dict | None:
        try:
            model = self.client.request("GET", self.user, params={"include_stopped_servers": "1"})
        except HubRequestError as exc:
            if exc.status in (403, 404):
                raise CoursehubError(f"the hub has no user {self.name} in {self.course.id}'s students group "
                                     "(run coursehub sync)") from None
            raise
        return (model.get("servers") or {}).get(self.course.id)

    def _wait(self, until: Callable[[dict], bool], what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            server = self._server_model() or {}
            if until(server):
                return
            time.sleep(POLL_SECONDS)
        raise CoursehubError(f"the {self.course.id} server did not {what} within {self.start_timeout:g}s")

    def _start(self) -> None:
        try:
            # sent once: a 5xx here is the spawn failing, and a retry would only start it failing again
            self.client.request("POST", self.server, json={"course": self.course.id}, retry=False)
        except HubRequestError as exc:
            if exc.status < 500:
                raise
            raise CoursehubError(f"the {self.course.id} server failed to start ({exc.status} {exc.message})") from None

        def started(server: dict) -> bool:
            if not server.get("ready") and not server.get("pending"):
                # neither up nor on its way: the spawn failed (the hub's log says why)
                raise CoursehubError(f"the {self.course.id} server failed to start")
            return bool(server.get("ready"))

        self._wait(started, "start")

    def _stop(self) -> None:
        try:
            self.client.request("DELETE", self.server)
            self._wait(lambda s: not s.get("ready") and not s.get("pending"), "stop")
        except (HubRequestError, HubUnavailable, CoursehubError):
            pass  # the hub's idle culler stops it later; the student's work is already read

    def _fetch(self) -> Collected:
        issued = self.client.request("POST", f"{self.user}/tokens", json={
            "scopes": [f"access:servers!server={self.name}/{self.course.id}"],
            "expires_in": TOKEN_SECONDS,
            "note": f"coursehub collect {self.course.id}",
        })
        try:
            return self._read(issued["token"])
        finally:
            try:
                self.client.request("DELETE", f"{self.user}/tokens/{quote(str(issued['id']), safe='')}")
            except (HubRequestError, HubUnavailable):
                pass  # it expires by itself in TOKEN_SECONDS

    def _read(self, token: str) -> Collected:
        api = "api/contents/" + "/".join(quote(part, safe="") for part in self.path.split("/"))
        try:
            meta = self.client.server_request("GET", self.name, self.course.id, api, params={"content": "0"}, token=token)
        except HubRequestError as exc:
            if exc.status == 404:
                self._forget()
                return Collected(self.name, "missing", detail=f"no {self.path} in the home folder")
            raise
        if meta.get("type") not in ("file", "notebook"):
            self._forget()
            return Collected(self.name, "missing", detail=f"{self.path} is a {meta.get('type')}, not a notebook")
        size = int(meta.get("size") or 0)
        if size > MAX_NOTEBOOK_BYTES:
            raise CoursehubError(f"{self.path} is {size} bytes; at most {MAX_NOTEBOOK_BYTES} are collected")
        model = self.client.server_request("GET", self.name, self.course.id, api, token=token,
                                           params={"content": "1", "type": "file", "format": "base64"})
        data = base64.b64decode(model.get("content") or "")
        if len(data) > MAX_NOTEBOOK_BYTES:
            raise CoursehubError(f"{self.path} is {len(data)} bytes; at most {MAX_NOTEBOOK_BYTES} are collected")
        atomic_write(self.target, data)
        modified = str(model.get("last_modified") or meta.get("last_modified") or "")
        try:
            late = bool(modified) and dt.datetime.fromisoformat(modified) > self.cutoff
        except ValueError:
            raise CoursehubError(f"the server reported an unreadable time for {self.path}: {modified!r}") from None
        return Collected(self.name, "collected", late=late, last_modified=modified, size=len(data))

    def _forget(self) -> None:
        """The student has no such file now: drop an earlier copy so the folder mirrors the home."""
        try:
            self.target.unlink()
        except FileNotFoundError:
            pass


def collect(
    *,
    manifest: Manifest,
    course_id: str,
    assignment_id: str,
    client: HubClient,
    out: Path,
    at: str | None = None,
    start_timeout: float = 120,
    on_result: Callable[[Collected], None] | None = None,
) -> CollectReport:
    """Collect one assignment from every student of a course (see the module docstring).

    ``client`` holds the course's collect token; ``client.concurrency`` students are handled at
    once (so at most that many servers are starting). ``on_result`` is called from worker threads.
    """
    course = manifest.course(course_id)
    assignment = course.assignment(assignment_id)
    path = notebook_path(course, assignment)
    cutoff = cutoff_for(assignment, at)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    client.whoami()  # a wrong token or URL fails here, once, instead of once per student
    lock = threading.Lock()

    def one(name: str) -> Collected:
        found = _Student(client, course, path, name, out, cutoff, start_timeout).run()
        if on_result:
            with lock:
                on_result(found)
        return found

    students = client.map(one, course.roster)
    report = CollectReport(course.id, assignment.id, path, cutoff.isoformat(), out, students)
    write_report(report)
    return report


def write_report(report: CollectReport) -> None:
    """``collect-report.csv`` (one row per student) and ``collect-report.json`` (the same, and the lists)."""
    rows = [[c.student, c.status, "yes" if c.late else "", c.last_modified, c.size, c.server, c.detail]
            for c in report.students]
    atomic_write(report.out / REPORT_CSV, emit.to_csv(list(REPORT_COLUMNS), rows))
    atomic_write(report.out / REPORT_JSON, emit.to_json({
        "course": report.course,
        "assignment": report.assignment,
        "path": report.path,
        "cutoff": report.cutoff,
        "students": [asdict(c) for c in report.students],
        "late": report.late,
        "without_work": report.without_work,
    }))
