"""A server on loopback that accepts every connection and never answers: a hung hub or git host.

``with silent_server() as server:`` gives ``server.url`` (``http://127.0.0.1:<port>``) and
``server.accepted`` (how many connections it took). Connections are held open, unread and unanswered,
until the block ends; then the listener and every connection are closed and the thread joined.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class SilentServer:
    url: str
    connections: list[socket.socket] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.connections)


@contextlib.contextmanager
def silent_server():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)  # so the accept loop sees the stop flag
    server = SilentServer(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            server.connections.append(conn)

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in server.connections:
            conn.close()
