"""``coursehub hub up`` as a user runs it (a child process): what it prints, and that it stops the whole
tree (hub, proxy, single-user servers, kernels) on SIGTERM, SIGHUP and Ctrl-C, frees its port, keeps
the log of a hub that failed, and says how to free a port a dead hub still holds."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from nbgitpuller_client import Student, login, open_server

from coursehub.hub.local import DEMO_PASSWORD, MARK_ENV, free_port, marked_processes, port_is_free, start_local_hub

pytestmark = [pytest.mark.hub, pytest.mark.slow]

GIB = 1024**3
BANNER_END = "Each server gets its course's limits"


class HubUp:
    """One ``coursehub hub up`` child process and what it printed until the hub was ready."""

    def __init__(self, python_bin: Path, manifest: Path, *args: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(python_bin / "coursehub"), "hub", "up", str(manifest), "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.hub = SimpleNamespace(url=f"http://127.0.0.1:{self.port}", password=DEMO_PASSWORD)

    def wait_ready(self, timeout: float = 120) -> HubUp:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(BANNER_END in line for line in self.lines):
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
        assert any(BANNER_END in line for line in self.lines), (self.lines, self.stderr())
        return self

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def links(self) -> list[str]:
        return [line.strip() for line in self.lines if line.startswith("    http")]

    def tree(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def mark(self) -> str:
        hub = next(p for p in self.tree() if p.cmdline()[1:3] == ["-m", "jupyterhub"])
        return hub.environ()[MARK_ENV]

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def hub_up(python_bin, example_manifest_path):
    started: list[HubUp] = []

    def start(*args: str) -> HubUp:
        started.append(HubUp(python_bin, example_manifest_path, *args))
        return started[-1].wait_ready()

    try:
        yield start
    finally:
        for h in started:
            h.close()


def own_api(student: Student, hub):
    """The student's own view of the REST API (their cookie): enough to wait for their server."""
    return lambda method, path, **kw: student.session.request(method, hub.url + "/hub/api" + path, timeout=30, **kw)


def gone(procs: list[psutil.Process]) -> bool:
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def test_sigterm_stops_hub_proxy_servers_and_kernels_and_frees_the_port(hub_up, tmp_path):
    up = hub_up("--workdir", str(tmp_path))
    text = up.text
    # who can log in, as what, and the hub's log
    assert f"hub log: {tmp_path / 'hub' / 'jupyterhub.log'}" in text
    student = re.search(r"student:\s+(\S+)\s+in data-c8-fa26 and data-c88-fa26, one server per course", text).group(1)
    assert "instructor: prof-adhikari" in text and "TA:         ta-lee" in text and "admin:      it-admin" in text
    # the sync service's token, in a file of mode 0600, works with `coursehub sync`
    token_file = Path(re.search(r"--token-file (\S+)", text).group(1))
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    sync = subprocess.run(
        [str(Path(os.sys.executable).parent / "coursehub"), "sync", re.search(r"coursehub sync (\S+)", text).group(1),
         "--hub-api", f"{up.hub.url}/hub/api", "--token-file", str(token_file)],
        capture_output=True, text=True, timeout=120,
    )
    assert sync.returncode == 0 and "dry run" in sync.stderr + sync.stdout, sync.stderr

    # the student opens a course link and runs a kernel in that server
    s = Student(up.hub, student)
    s.login()
    up.hub.api = own_api(s, up.hub)
    click = s.click(up.links()[0])
    assert click.finished, click.output
    xsrf = s.session.cookies.get("_xsrf", path=click.base_url) or ""
    r = s.session.post(f"{up.hub.url}{click.base_url}api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf}, timeout=60)
    assert r.status_code == 201, r.text
    mark = up.mark()
    tree = up.tree()
    names = " ".join(" ".join(p.cmdline()) for p in tree)
    assert "configurable-http-proxy" in names and "jupyterhub-singleuser" in names and "ipykernel" in names, names
    assert {p.pid for p in tree} <= {p.pid for p in marked_processes(mark)[mark]}

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0
    assert "stopping the hub (SIGTERM)" in up.stderr()
    assert gone(tree)
    assert not marked_processes(mark)
    assert port_is_free(up.port)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT])
def test_sighup_and_ctrl_c_stop_it_too(hub_up, sig):
    up = hub_up()
    mark, tree = up.mark(), up.tree()
    up.proc.send_signal(sig)
    assert up.proc.wait(60) == 0
    assert gone(tree) and not marked_processes(mark) and port_is_free(up.port)


def test_a_hub_that_fails_keeps_its_log(hub_up):
    up = hub_up()  # a temporary work folder, removed when hub up ends
    workdir = Path(re.search(r"hub log: (\S+)/hub/jupyterhub\.log", up.text).group(1))
    mark = up.mark()
    hub = next(p for p in up.tree() if p.cmdline()[1:3] == ["-m", "jupyterhub"])
    hub.kill()
    assert up.proc.wait(60) == 1
    err = up.stderr()
    assert "the hub stopped on its own" in err
    kept = Path(re.search(r"the hub's log is kept at (\S+)", err).group(1))
    try:
        assert "JupyterHub" in kept.read_text() and not workdir.exists()
    finally:
        kept.unlink()
    assert not marked_processes(mark) and port_is_free(up.port)


def test_a_port_held_by_a_dead_hub_says_how_to_free_it(run_cli, example_manifest, example_manifest_path, tmp_path):
    port = free_port()
    hub = start_local_hub(example_manifest, workdir=tmp_path / "hub", port=port, course_config=False)
    try:
        proxy_pid = int((tmp_path / "hub" / "jupyterhub-proxy.pid").read_text())
        os.killpg(hub.process.pid, signal.SIGKILL)  # the hub dies; its proxy (own session) keeps the port
        hub.process.wait(10)
        code, out, err = run_cli("hub", "up", example_manifest_path, "--port", port)
        assert code == 2 and out == ""
        assert f"port {port}" in err and "no longer running" in err and f"kill {proxy_pid}" in err and "--port" in err
    finally:
        hub.stop()
    assert port_is_free(port)


def test_after_the_term_it_prints_no_staff_advice_the_hub_refuses(hub_up, tmp_path):
    up = hub_up("--workdir", str(tmp_path), "--today", "2027-01-10")
    text = up.text
    assert f"running at {up.hub.url}" in text and f"password (everyone): {DEMO_PASSWORD}" in text
    student_name = re.search(r"student:\s+(\S+)\s+in data-c8-fa26", text).group(1)
    assert "not all in term on 2027-01-10" in text
    # the staff can log in but see nobody: no advice to open the admin page
    assert "instructor:" not in text and "TA:" not in text
    assert re.search(r"staff:\s+prof-adhikari and ta-lee can log in, but data-c8-fa26 is not in term on 2027-01-10", text)
    link = up.links()[0]

    student = Student(up.hub, student_name)
    student.login()
    up.hub.api = own_api(student, up.hub)
    click = student.click(link)
    assert click.finished, click.output
    assert student.get(click.redirect).status_code == 200  # the notebook, pulled from the local content
    assert student.get(f"/user/{student_name}/data-c8-fa26/api/contents/data-c8-materials/lab/lab01/lab01.ipynb").status_code == 200

    # the term is over: the course's server gets the hub's defaults, not data-c8's 2G
    servers = [p for p in up.tree() if _env(p).get("JUPYTERHUB_USER") == student_name]
    assert len(servers) == 1
    env = _env(servers[0])
    assert env["JUPYTERHUB_SERVER_NAME"] == "data-c8-fa26" and env["COURSEHUB_COURSE"] == "" and int(env["MEM_LIMIT"]) == GIB
    # and the instructor no longer gets in: not to the server, not to the admin page
    instructor = login(up.hub, "prof-adhikari")
    assert open_server(instructor, up.hub, student_name, "data-c8-fa26") == 403
    assert instructor.get(up.hub.url + "/hub/admin").status_code == 403


def _env(p: psutil.Process) -> dict:
    try:
        return p.environ()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return {}
