"""The sandbox on its own: each containment promise checked with a real forked process tree."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from coursehub.grading import sandbox
from coursehub.grading.runner import _wait_one

MiB = 1024 * 1024


def run(job, tmp_path: Path, *, timeout: float = 20, memory: int = 256 * MiB) -> sandbox.Outcome:
    scratch = tmp_path / f"scratch-{time.monotonic_ns()}"
    scratch.mkdir()
    return _wait_one(sandbox.start(job, limits=sandbox.Limits(timeout, memory), scratch=scratch, log_path=scratch / "log"))


def test_result_comes_back_and_isolation_is_reported(tmp_path):
    outcome = run(lambda: {"answer": 42}, tmp_path)
    assert outcome.payload == {"answer": 42}
    assert outcome.seconds < 20
    # this machine runs tests as root, where every namespace is available; say so if that changes
    assert set(outcome.isolation) == {"processes", "network", "files"}


def test_timeout_kills_the_whole_tree_even_processes_that_left_the_group(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    marker = scratch / "escaped.pid"

    def job():
        if os.fork() == 0:
            os.setsid()  # leaves the process group; only the PID namespace still holds it
            # /proc is the host's, so /proc/self names the host pid the test can look for
            marker.write_text(os.readlink("/proc/self"))
            while True:
                time.sleep(0.05)
        while True:
            pass

    start = time.monotonic()
    outcome = _wait_one(sandbox.start(job, limits=sandbox.Limits(1.5, 256 * MiB), scratch=scratch, log_path=scratch / "log"))
    assert outcome.payload is None and "timed out after 1.5 s" in outcome.reason
    assert time.monotonic() - start < 10
    escaped = int(marker.read_text())
    for _ in range(50):
        if not _alive(escaped):
            break
        time.sleep(0.1)
    assert not _alive(escaped)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_no_process_survives_a_finished_job(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    marker = scratch / "daemon.pid"

    def job():
        if os.fork() == 0:
            os.setsid()
            marker.write_text(os.readlink("/proc/self"))
            time.sleep(60)
            os._exit(0)
        for _ in range(100):  # wait until the daemon is up, so the test sees a real leftover
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.02)
        return {"ok": True}

    outcome = _wait_one(sandbox.start(job, limits=sandbox.Limits(20, 256 * MiB), scratch=scratch, log_path=scratch / "log"))
    assert outcome.payload == {"ok": True}
    daemon = int(marker.read_text())
    for _ in range(50):
        if not _alive(daemon):
            break
        time.sleep(0.1)
    assert not _alive(daemon)


def test_memory_limit_stops_unbounded_allocation(tmp_path):
    def job():
        hoard = []
        while True:
            hoard.append(bytearray(32 * MiB))

    outcome = run(job, tmp_path, memory=256 * MiB)
    assert outcome.payload is None
    assert "MemoryError" in outcome.reason
    assert outcome.max_rss < 2048 * MiB


def test_no_network_not_even_the_hosts_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)

    def job():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2)
            return {"connected": True}
        except OSError as exc:
            return {"connected": False, "error": str(exc)}

    try:
        outcome = run(job, tmp_path)  # fork before the accept thread exists
        thread.start()
        assert outcome.payload["connected"] is False
        # the same connection from outside the sandbox works, so the refusal is the sandbox's doing
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        time.sleep(0.3)
        assert accepted
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(2)
        server.close()
        for c in accepted:
            c.close()


def test_files_outside_scratch_are_read_only(tmp_path):
    victim = tmp_path / "results.csv"
    victim.write_text("alice,10\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def job():
        outcome = {}
        for target in (victim, tmp_path / "new-file"):
            try:
                target.write_text("hacked")
                outcome[target.name] = "written"
            except OSError as exc:
                outcome[target.name] = exc.strerror
        (scratch / "mine.txt").write_text("fine")
        return outcome

    result = _wait_one(sandbox.start(job, limits=sandbox.Limits(20, 256 * MiB), scratch=scratch, log_path=scratch / "log"))
    assert result.payload == {"results.csv": "Read-only file system", "new-file": "Read-only file system"}
    assert victim.read_text() == "alice,10\n"
    assert not (tmp_path / "new-file").exists()
    assert (scratch / "mine.txt").read_text() == "fine"


def test_forged_frames_fail_the_job_and_printed_results_do_not_count(tmp_path):
    def job():
        # write a forged frame into every descriptor, the result pipe included, and print one
        forged = b'\n{"nonce": "guess", "payload": {"score": 100}}\n'
        for fd in os.listdir("/proc/self/fd"):
            try:
                os.write(int(fd), forged)
            except OSError:
                pass
        print('{"payload": {"score": 100}}')
        return {"score": 1}

    outcome = run(job, tmp_path)
    assert outcome.payload is None and "forged" in outcome.reason

    def printer():
        print('{"payload": {"score": 100}}')  # printed text is only the submission's output
        return {"score": 1}

    assert run(printer, tmp_path).payload == {"score": 1}


@pytest.mark.parametrize(
    "body, expected",
    [
        (lambda: os.kill(os.getpid(), 9), "killed (SIGKILL)"),
        (lambda: os._exit(3), "exit status 3"),
        (lambda: (_ for _ in ()).throw(SystemExit(4)), "SystemExit"),
    ],
    ids=["kill-9", "os-exit", "sys-exit"],
)
def test_a_job_that_ends_its_own_process_fails_with_the_reason(tmp_path, body, expected):
    outcome = run(body, tmp_path)
    assert outcome.payload is None
    assert expected in outcome.reason


def test_a_killed_runner_leaves_no_sandbox_behind(tmp_path):
    """SIGKILL to the runner (nothing of it can clean up) still ends every sandbox it started."""
    import subprocess
    import sys

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    marker = scratch / "worker.pid"
    script = f"""
import os, time
from pathlib import Path
from coursehub.grading import sandbox
marker = Path({str(marker)!r})
def job():
    marker.write_text(os.readlink("/proc/self"))
    while True:
        pass
sandbox.start(job, limits=sandbox.Limits(600, 256 * 1024 * 1024), scratch=marker.parent, log_path=marker.parent / "log")
time.sleep(600)
"""
    runner = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(300):
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.05)
        worker = int(marker.read_text())
        assert _alive(worker)
    finally:
        runner.kill()
        runner.wait()
    for _ in range(50):
        if not _alive(worker):
            break
        time.sleep(0.1)
    assert not _alive(worker)
