"""The processes of local hubs: their mark, stopping them all, and who holds a port.

Every process of a local hub (:mod:`coursehub.hub.local`) carries ``COURSEHUB_LOCALHUB_ID=<id>`` in its
environment: JupyterHub starts the proxy and the servers in sessions of their own, so no process group
holds them all, but the mark does.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psutil

#: Marks every process of one local hub (see the module docstring); not a secret.
MARK_ENV = "COURSEHUB_LOCALHUB_ID"


def marked_processes(mark: str | None = None) -> dict[str, list[psutil.Process]]:
    """Processes of local hubs, by mark (only ``mark``'s when given). Other users' processes are skipped."""
    found: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        try:
            value = proc.environ().get(MARK_ENV)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
        if value and (mark is None or value == mark):
            found.setdefault(value, []).append(proc)
    return found


def stop_marked(mark: str, timeout: float = 10) -> None:
    """Terminate every process with ``mark``, then kill what is still there after ``timeout``."""
    procs = marked_processes(mark).get(mark, [])
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


@dataclass(frozen=True)
class PortHolder:
    """A process listening on a port, and the local hub it belongs to (its mark), if any."""

    pid: int
    name: str
    mark: str | None
    hub_processes: tuple[int, ...] = ()  # every process with the same mark
    hub_alive: bool = False  # whether the hub process itself is among them


def _is_hub(proc: psutil.Process) -> bool:
    try:
        return proc.cmdline()[1:3] == ["-m", "jupyterhub"]  # how start_local_hub runs it
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def port_holders(port: int) -> list[PortHolder]:
    """The processes (of this user) listening on 127.0.0.1:``port`` (or all interfaces)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return []
    pids = sorted({c.pid for c in conns if c.pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port})
    holders = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            name = proc.name()
            mark = proc.environ().get(MARK_ENV)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        family = marked_processes(mark).get(mark, []) if mark else []
        holders.append(
            PortHolder(
                pid=pid,
                name=name,
                mark=mark,
                hub_processes=tuple(sorted(p.pid for p in family)),
                hub_alive=any(_is_hub(p) for p in family),
            )
        )
    return holders


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now."""
    with socket.socket() as s:
        # as the proxy binds it: connections closed a moment ago (TIME_WAIT) do not hold the port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
