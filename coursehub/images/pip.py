"""Running pip for the images commands: where results are cached, one writer at a time, errors without noise.

``images check`` (environments) and ``images advise`` (package sizes and resolutions) both call pip
and keep what it gave them under ``$COURSEHUB_CACHE_DIR`` (else ``~/.cache/coursehub``), so a
second run asks the package index nothing.
"""

from __future__ import annotations

import fcntl
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path



@contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        # Two runs (or two test workers) must not write the same cache entry at once.
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pip_errors(stderr: str) -> str:
    """pip's last meaningful lines, without the warnings about index locations it skipped."""
    lines = [line for line in stderr.splitlines() if line.strip() and "is ignored: it is neither" not in line]
    return "\n".join(lines[-15:])


@lru_cache(maxsize=None)
def image_python(python: str) -> str:
    """The exact Python version an image of ``runtime.txt``'s ``python-X.Y`` gets: the one repo2docker's
    environment lock installs (``X.Y`` when the lock is not at hand).

    pip reads ``--python-version 3.11`` as 3.11.0, and a package that requires 3.11.5 or later (the
    standard's own soupsieve does) would then be refused: every addition pulling it in looked blocked.
    """
    try:
        from importlib.resources import files

        lock = files("repo2docker.buildpacks.conda").joinpath(f"environment.py-{python}-linux-64.lock").read_text()
    except (ImportError, OSError, ValueError):
        return python
    found = re.search(rf"/python-({re.escape(python)}\.\d+)-", lock)
    return found.group(1) if found else python


def image_platform_args(python: str) -> list[str]:
    """pip options that pick wheels for the images (Linux x86_64, CPython ``python``), whatever runs pip.

    repo2docker images are Ubuntu (glibc 2.35 and later), so every manylinux tag up to 2.35 fits;
    pip does not infer older tags from a newer one, so each is named. Requires-Python is checked
    against the image's exact version (:func:`image_python`).
    """
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 4, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", image_python(python), "--abi", "cp" + python.replace(".", "")]
    for tag in tags:
        args += ["--platform", tag]
    return args
