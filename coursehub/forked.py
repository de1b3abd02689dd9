"""A function run in a forked child process, its result coming back through a pipe.

What :mod:`coursehub.build` renders beside itself runs in one, and so does the writing of a large
family (:mod:`coursehub.staging`). A plain process and a pipe, not a process pool: a pool keeps
threads in the parent, and a build forks again and again, which is only safe while the parent has no
other thread.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """Whether work can go to a forked child and gain anything: fork, a second core, and not a daemonic
    process (a multiprocessing pool's worker may not start processes)."""
    return (os.cpu_count() or 1) >= 2 and "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


class Forked:
    """``target(inbox, *args)`` running in a forked child; :meth:`result` is what it returned (or raised).

    ``inbox`` is the child's end of the pipe: :meth:`send` reaches it. The child starts with
    everything this process has (a manifest read before the fork is never copied) and without cyclic
    garbage collection (it only renders, then exits).
    """

    def __init__(self, target: Callable[..., Any], *args: Any, name: str = "coursehub worker"):
        self.name = name
        self._conn, inbox = mp.Pipe()
        self._proc = mp.get_context("fork").Process(target=_main, args=(inbox, target, args, os.getpid()), name=name, daemon=True)
        self._outcome: tuple[str, Any] | None = None
        try:
            self._proc.start()
        finally:  # (an OSError here, no process to spare, is the caller's to handle)
            inbox.close()
            if self._proc.pid is None:
                self._conn.close()

    def send(self, message: Any) -> None:
        """A small message to the child (a pipe's buffer; large data goes by :class:`Payload`)."""
        self._conn.send(message)

    def done(self) -> bool:
        """Whether the result is ready (the child may still be sending it)."""
        return self._outcome is not None or self._conn.poll()

    def result(self) -> Any:
        """Wait for the child's return value (its exception is raised here) and for the child to end."""
        if self._outcome is None:
            try:
                self._outcome = self._conn.recv()
            except EOFError:
                self._outcome = ("error", RuntimeError(f"{self.name} ended without a result"))
            finally:
                self._conn.close()
                self._proc.join()
        kind, value = self._outcome
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        """End the child now (a failed build, or work it was started for and not given)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._conn.close()


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed when ``parent`` (the build) dies, even by SIGKILL (Linux).

    A child that outlived a killed build would go on writing into a staging folder the next build
    removes, or rendering for nobody."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        return  # not Linux: the build still stops its children on every error and on Ctrl-C
    if os.getppid() != parent:  # the build died before the line above
        os._exit(1)


def _main(inbox, target: Callable[..., Any], args: tuple, parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stop() ends it at once, whatever the build's handler
    die_with_parent(parent)
    gc.disable()
    try:
        outcome = ("ok", target(inbox, *args))
    except BaseException as exc:
        try:
            pickle.dumps(exc)
            outcome = ("error", exc)
        except Exception:
            outcome = ("error", RuntimeError(repr(exc)))
    inbox.send(outcome)


class Payload:
    """Bytes for a child forked before they existed: written to an unlinked file both share.

    Sending them through the pipe would block this process until the child reads them all; a child
    still importing would stall it. The file goes when both have closed it.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()

    def put(self, data: bytes) -> int:
        """Write ``data`` (from the start); returns its length, to send to the child."""
        view, done = memoryview(data), 0
        while done < len(data):
            done += os.pwrite(self._file.fileno(), view[done:], done)
        return len(data)

    def get(self, length: int) -> bytes:
        parts, done = [], 0
        while done < length:
            part = os.pread(self._file.fileno(), length - done, done)
            if not part:
                raise EOFError(f"the payload ended after {done} of {length} bytes")
            parts.append(part)
            done += len(part)
        return b"".join(parts)

    def close(self) -> None:
        self._file.close()
