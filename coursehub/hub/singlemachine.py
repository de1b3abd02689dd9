"""The single-machine target (The Littlest JupyterHub and other systemd-based hubs).

Two files: ``jupyterhub_config.d/coursehub.py`` is :mod:`coursehub.hub.runtime.spawn` copied verbatim (loaded
by JupyterHub as a config file it configures itself), and ``coursehub-courses.json`` is the course
data it reads. On TLJH copy them to ``/opt/tljh/config/jupyterhub_config.d/coursehub.py`` and
``/opt/tljh/config/coursehub-courses.json`` and run ``tljh-config reload hub``. SystemdSpawner puts
``mem_limit``/``cpu_limit`` on the user's transient systemd unit (a cgroup memory limit and
``CPUQuota``): there the kernel enforces them. A course's shared data directory is bind-mounted into
the unit with ``BindReadOnlyPaths`` (``unit_extra_properties``). A course's home size is not
enforced here: homes are Unix homes on the machine's disk and SystemdSpawner has no size for them;
the figure sizes the disk in ``coursehub cost`` (a file-system quota is the way to cap a home).
``jupyter/`` holds the Jupyter configuration folders the runtime points each server at (nbgrader on
only in nbgrader courses); copy it to ``/etc/coursehub/jupyter/``, where every user's server can read it.
"""

from __future__ import annotations

from pathlib import Path

from coursehub.hub.data import jupyter_config_files
from coursehub.hub.runtime import spawn

SNIPPET = "jupyterhub_config.d/coursehub.py"
DATA = "coursehub-courses.json"
JUPYTER_CONFIG = "jupyter"


def files(data: dict) -> dict[str, bytes | dict]:
    """Relative path -> content (bytes for the fixed code, a dict for the course data and each JSON file)."""
    files: dict[str, bytes | dict] = {SNIPPET: Path(spawn.__file__).read_bytes(), DATA: data}
    for rel, content in jupyter_config_files(data).items():
        files[f"{JUPYTER_CONFIG}/{rel}"] = content
    return files
