"""coursehub's cache folder, one home for every capability that keeps things between runs.

``$COURSEHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/coursehub``, else ``~/.cache/coursehub``; each capability
keeps a folder of its own below it (``envs/``, ``packages/``, ``graders/``, ``links/``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$COURSEHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/coursehub``, else ``~/.cache/coursehub``."""
    return Path(
        os.environ.get("COURSEHUB_CACHE_DIR")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "coursehub")
    )
