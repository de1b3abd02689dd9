"""Running pip for the images commands: where results are cached, one writer at a time, errors without noise.

``images check`` (environments) and ``images advise`` (package sizes and resolutions) both call pip
and keep what it gave them under ``$COURSEHUB_CACHE_DIR`` (else ``~/.cache/coursehub``), so a
second run asks the package index nothing.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
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


def image_platform_args(python: str) -> list[str]:
    """pip options that pick wheels for the images (Linux x86_64, CPython ``python``), whatever runs pip.

    repo2docker images are Ubuntu (glibc 2.35 and later), so every manylinux tag up to 2.35 fits;
    pip does not infer older tags from a newer one, so each is named.
    """
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 4, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python, "--abi", "cp" + python.replace(".", "")]
    for tag in tags:
        args += ["--platform", tag]
    return args
