"""Running untrusted student code: one forked process tree per submission, contained and bounded.

One concern: the containment of one submission (fork, namespaces, limits, and tearing it all down);
splitting it would put the set-up and the clean-up of the same process tree in different files.

A grading job is a Python callable that runs the submission and returns a JSON-able dict. The
batch runner imports the grader (otter, datascience, numpy, nbgrader) once; :func:`start` forks it
for each submission, so no submission pays interpreter and import start-up, and each one still gets
a fresh copy of the warm process that nothing else shares.

The process tree, and who is trusted::

    runner (parent, trusted)                 reads results only from pipes it created
      └─ C  guard: own process group         reports how W ended on a status pipe only it holds
          └─ G  init of a new PID namespace  when G exits the kernel kills everything inside
              └─ W  worker: runs the job     student code runs here (and in kernels W starts)

What is enforced, and where:

* **wall-clock timeout** -- the runner kills C's process group; G dying takes the whole PID
  namespace (kernels, daemons, anything that called ``setsid``) with it. C, G and W are set to
  die with their parent (``PR_SET_PDEATHSIG``), so even a runner killed with SIGKILL leaves no
  sandbox running.
* **memory** -- ``RLIMIT_AS`` in W (inherited by kernels it starts): the limit is the memory
  allowed plus the address space the warm grader already had at fork, so a submission gets about
  the memory asked for on top of the grader itself.
* **network** -- W lives in a new network namespace with only a loopback interface (kernels talk
  to their manager over it); nothing outside the machine, nor the host's own loopback, is reachable.
* **files** -- W lives in a new mount namespace where every filesystem is read-only except W's own
  scratch folder: tests, other submissions, the state folder and results cannot be touched.
* **results** -- W returns its dict on a pipe the runner opened, in one frame tagged with a nonce;
  printed text and files a submission writes are never read as results, and anything else found
  in that pipe (a forged frame) fails the submission.

Namespaces need root (or unprivileged user namespaces, which coursehub does not rely on). Where
``unshare`` is refused, the job still runs with its own process group, timeout and memory limit,
and the outcome records ``network not isolated`` / ``files not isolated``.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import secrets
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40

#: Largest result frame the runner accepts from a worker (a results dict is a few KiB).
MAX_RESULT_BYTES = 16 * 1024 * 1024
#: Largest file a submission may write (RLIMIT_FSIZE): a runaway writer fails instead of filling the disk.
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    timeout: float  # wall-clock seconds
    memory: int  # bytes of address space on top of the warm grader's


@dataclass
class Outcome:
    """How a sandboxed job ended, as seen by the trusted runner."""

    payload: dict[str, Any] | None  # what the job returned, or None if it did not finish properly
    reason: str = ""  # why there is no payload
    seconds: float = 0.0
    max_rss: int = 0  # bytes, peak resident memory of the worker
    isolation: list[str] = field(default_factory=list)  # e.g. ["network", "files", "processes"]

    @property
    def ok(self) -> bool:
        return self.payload is not None


class Running:
    """A sandboxed job in flight; the runner polls it from a single-threaded loop."""

    def __init__(self, pid: int, result_fd: int, status_fd: int, nonce: str, limits: Limits):
        self.pid = pid
        self.result_fd = result_fd
        self.status_fd = status_fd
        self.nonce = nonce
        self.limits = limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout
        self.result_buf = bytearray()
        self.status_buf = bytearray()
        self.open_fds = {result_fd, status_fd}
        self.timed_out = False
        self.overflow = False
        self.outcome: Outcome | None = None

    def fds(self) -> list[int]:
        return sorted(self.open_fds)

    def read(self, fd: int) -> None:
        """Read what is available on one of this job's pipes (call when select says readable)."""
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""  # treat a broken pipe end as closed
        if not chunk:
            os.close(fd)
            self.open_fds.discard(fd)
            return
        buf = self.result_buf if fd == self.result_fd else self.status_buf
        if len(buf) + len(chunk) > MAX_RESULT_BYTES:
            self.overflow = True
            return
        buf.extend(chunk)

    def kill(self) -> None:
        """Kill the guard's process group (and with it the worker's PID namespace)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def check_deadline(self, now: float) -> None:
        if not self.timed_out and now >= self.deadline:
            self.timed_out = True
            self.kill()

    @property
    def done(self) -> bool:
        # The guard writes its status last, after the worker is gone; a leftover process that
        # still holds the result pipe must not keep the job "running".
        return self.status_fd not in self.open_fds

    def _drain(self) -> None:
        while self.result_fd in self.open_fds and not self.overflow:
            before = len(self.result_buf)
            self.read(self.result_fd)
            if len(self.result_buf) == before:
                break

    def finish(self) -> Outcome:
        """Reap the guard and turn what the pipes carried into an :class:`Outcome` (once)."""
        if self.outcome is None:
            self.outcome = self._finish()
        return self.outcome

    def _finish(self) -> Outcome:
        self._drain()
        for fd in list(self.open_fds):
            os.close(fd)
        self.open_fds.clear()
        _, wait_status = os.waitpid(self.pid, 0)
        # a submission that escaped its group would be stopped here (no-op when already gone)
        self.kill()
        seconds = time.monotonic() - self.started
        status = _parse_json(bytes(self.status_buf)) or {}
        isolation = list(status.get("isolation", []))
        max_rss = int(status.get("max_rss", 0))
        if self.timed_out:
            return Outcome(None, f"timed out after {self.limits.timeout:g} s (wall clock)", seconds, max_rss, isolation)
        frame, forged = _last_frame(bytes(self.result_buf), self.nonce)
        if self.overflow:
            return Outcome(None, "the grader's result was larger than allowed", seconds, max_rss, isolation)
        if forged:
            return Outcome(None, "the submission wrote into the grader's result channel (a forged result)",
                           seconds, max_rss, isolation)
        if frame and isinstance(frame.get("payload"), dict):
            return Outcome(frame["payload"], "", seconds, max_rss, isolation)
        if frame and frame.get("error"):
            return Outcome(None, f"grader error: {frame['error']}", seconds, max_rss, isolation)
        return Outcome(None, _describe_end(status.get("worker_status"), wait_status, self.limits), seconds, max_rss, isolation)


def _describe_end(worker_status: int | None, guard_status: int, limits: Limits) -> str:
    st = worker_status if worker_status is not None else guard_status
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGKILL:
            return f"the grading process was killed ({name}): the submission killed its kernel or exceeded the memory limit ({limits.memory} bytes)"
        return f"the grading process died with signal {name}"
    if os.WIFEXITED(st):
        return f"the submission ended the grading process (exit status {os.WEXITSTATUS(st)}) before results were produced"
    return "the grading process ended without results"


def _last_frame(data: bytes, nonce: str) -> tuple[dict | None, bool]:
    """The last line that is a JSON frame carrying ``nonce``, and whether anything else was written.

    The worker writes its frame last, on its own line; anything a submission wrote into the pipe
    before it (garbage, or frames with a guessed nonce) never becomes the result, and is reported
    so the runner can fail the submission for it.
    """
    lines = [line for line in data.split(b"\n") if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        frame = _parse_json(lines[index])
        if frame is not None and frame.get("nonce") == nonce:
            return frame, len(lines) > 1
    return None, bool(lines)


def _parse_json(data: bytes) -> dict | None:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def start(job: Callable[[], dict], *, limits: Limits, scratch: Path, log_path: Path) -> Running:
    """Fork a sandboxed process tree that runs ``job()`` in ``scratch``; return at once.

    Call from a single-threaded process: forking copies only the calling thread.
    ``log_path`` receives the worker's stdout and stderr (inside ``scratch``, so it is writable).
    """
    nonce = secrets.token_hex(16)
    result_r, result_w = os.pipe()
    status_r, status_w = os.pipe()
    runner = os.getpid()
    pid = os.fork()
    if pid == 0:  # guard C
        code = 70
        try:
            _die_with_parent(runner)
            for signum in (signal.SIGINT, signal.SIGTERM):  # the runner's interrupt handlers are not ours
                signal.signal(signum, signal.SIG_DFL)
            # keep only this job's pipe ends: other jobs' pipes must not live on in this sandbox
            for fd in _open_fds():
                if fd > 2 and fd not in (result_w, status_w):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            code = _guard(job, limits, scratch, log_path, nonce, result_w, status_w)
        except BaseException:  # never let a forked child return into the runner's code
            pass
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(status_w)
    for fd in (result_r, status_r):
        os.set_blocking(fd, False)
    try:  # also set here so a kill before the child runs setpgid still reaches it
        os.setpgid(pid, pid)
    except OSError:
        pass
    return Running(pid, result_r, status_r, nonce, limits)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


PR_SET_PDEATHSIG = 1


def _die_with_parent(*parents: int) -> None:
    """Be killed when the parent dies, so a killed runner (SIGKILL) leaves no sandbox behind.

    ``parents`` are the values ``getppid()`` may return while the parent lives (init of a new
    PID namespace sees 0: its parent is outside).
    """
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() not in parents:  # the parent died before prctl took effect
        os._exit(70)


def _guard(job, limits: Limits, scratch: Path, log_path: Path, nonce: str, result_w: int, status_w: int) -> int:
    os.setpgid(0, 0)
    isolation: list[str] = []
    libc = _libc()
    if libc.unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) == 0:
        isolation = ["processes", "network", "files"]
    init_r, init_w = os.pipe()
    guard = os.getpid()
    g = os.fork()
    if g == 0:  # G: init of the new PID namespace (or a plain process when unshare was refused)
        code = 70
        try:
            # G's death takes the whole PID namespace with it; without a namespace, W follows G too
            _die_with_parent(guard, 0)
            os.close(status_w)
            os.close(init_r)
            code = _init(job, limits, scratch, log_path, nonce, result_w, init_w, isolation)
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(init_w)
    report = b""
    while chunk := _read_retry(init_r):
        report += chunk
    os.waitpid(g, 0)
    status = _parse_json(report) or {}
    status["isolation"] = isolation if status.get("files_isolated", True) else [i for i in isolation if i != "files"]
    os.write(status_w, json.dumps(status).encode())
    os.close(status_w)
    return 0


def _read_retry(fd: int) -> bytes:
    while True:
        try:
            return os.read(fd, 65536)
        except InterruptedError:
            continue


def _init(job, limits, scratch: Path, log_path: Path, nonce: str, result_w: int, init_w: int, isolation: list[str]) -> int:
    files_isolated = True
    if isolation:
        files_isolated = _readonly_except(scratch)
        _loopback_up()
    init = os.getpid()
    w = os.fork()
    if w == 0:  # W: the worker that runs student code
        code = 71
        try:
            _die_with_parent(init)
            os.close(init_w)
            code = _work(job, limits, scratch, log_path, nonce, result_w)
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(result_w)
    worker_status, rss = None, 0
    # As init, reap every orphan until the worker is gone; returning kills the rest of the namespace.
    while True:
        try:
            pid, st, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == w:
            worker_status, rss = st, usage.ru_maxrss * 1024
            break
    os.write(init_w, json.dumps({"worker_status": worker_status, "max_rss": rss, "files_isolated": files_isolated}).encode())
    os.close(init_w)
    return 0


def _readonly_except(scratch: Path) -> bool:
    """Make every mount read-only in this mount namespace, except ``scratch``."""
    libc = _libc()
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    own = str(scratch).encode()
    if libc.mount(own, own, None, MS_BIND | MS_REC, None) != 0:
        return False
    ok = True
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4] for line in fh]
    for point in points:
        # /proc, /sys and /dev are kernel interfaces, not anyone's files; the scratch bind stays writable
        if point == str(scratch) or point.startswith(("/proc", "/sys", "/dev")):
            continue
        path = point.encode().decode("unicode_escape").encode()  # mountinfo escapes spaces as \040
        if libc.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None) != 0:
            ok = False
    return ok


def _loopback_up() -> None:
    # A new network namespace has its loopback down; kernels need it to talk to their manager.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING, b"\0" * 14))
    except OSError:
        pass


def _vm_size() -> int:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _work(job, limits: Limits, scratch: Path, log_path: Path, nonce: str, result_w: int) -> int:
    os.chdir(scratch)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    keep = {0, 1, 2, result_w}
    for fd in _open_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    home = str(scratch)
    os.environ.update(
        {
            "HOME": home,
            "TMPDIR": home,
            "IPYTHONDIR": os.path.join(home, ".ipython"),
            "JUPYTER_RUNTIME_DIR": os.path.join(home, ".runtime"),
            "JUPYTER_DATA_DIR": os.path.join(home, ".jupyter-data"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        }
    )
    import tempfile

    tempfile.tempdir = home
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    cap = _vm_size() + limits.memory
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
    try:
        payload = job()
        frame = {"nonce": nonce, "payload": payload}
    except BaseException as exc:  # the job's own failure, reported with its reason
        traceback.print_exc()
        frame = {"nonce": nonce, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    data = b"\n" + json.dumps(frame, default=str).encode() + b"\n"
    view = memoryview(data)
    while view:
        n = os.write(result_w, view)
        view = view[n:]
    os.close(result_w)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))
