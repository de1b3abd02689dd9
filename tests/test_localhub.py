"""The local hub leaves nothing running, even when it was killed the hard way."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from coursehub.hub.local import start_local_hub


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.hub
@pytest.mark.slow
def test_stop_after_a_killed_hub_also_stops_its_proxy(example_manifest, tmp_path):
    hub = start_local_hub(example_manifest, workdir=tmp_path / "hub", course_config=False)
    try:
        proxy_pid = int((tmp_path / "hub" / "jupyterhub-proxy.pid").read_text())
        assert _alive(proxy_pid)
        # what the sync tests do on purpose: the hub dies without stopping its proxy
        os.killpg(hub.process.pid, signal.SIGKILL)
        hub.process.wait(10)
        time.sleep(0.5)
        assert _alive(proxy_pid), "JupyterHub's proxy runs in its own session and outlives the hub"
    finally:
        hub.stop()
    for _ in range(50):
        if not _alive(proxy_pid):
            break
        time.sleep(0.1)
    assert not _alive(proxy_pid)
