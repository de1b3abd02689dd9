"""Shared fixtures.

- ``example_manifest_path`` / ``example_manifest``: the bundled example university (read-only).
- ``local_hub``: ONE real JupyterHub on 127.0.0.1 for the whole test session, loaded with the example
  university (see :mod:`coursehub.hub.local`). Tests using it are marked ``hub`` and grouped onto one
  xdist worker (``@pytest.mark.xdist_group("hub")``) so the session really starts only one.
  Tests that must break a hub (kill it mid-apply) start their own with ``start_local_hub``.
- ``run_cli``: runs ``coursehub`` in-process and returns (exit code, stdout, stderr).
- ``update_goldens``: True with ``pytest --update-goldens`` (golden-file tests rewrite their files).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "course-templates" / "example-university" / "manifest.yaml"

# Tests make real git repositories; give them an identity that does not depend on the machine.
for key, value in {
    "GIT_AUTHOR_NAME": "coursehub tests",
    "GIT_AUTHOR_EMAIL": "tests@coursehub.invalid",
    "GIT_COMMITTER_NAME": "coursehub tests",
    "GIT_COMMITTER_EMAIL": "tests@coursehub.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}.items():
    os.environ.setdefault(key, value)


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="Rewrite golden files from the current output.")


@pytest.fixture(scope="session")
def update_goldens(request) -> bool:
    """True when run with ``--update-goldens``: golden-file tests rewrite their files instead of comparing."""
    return request.config.getoption("--update-goldens")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def example_manifest_path() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def example_manifest(example_manifest_path):
    from coursehub.manifest.loader import load_manifest

    return load_manifest(example_manifest_path)[0]


@pytest.fixture(scope="session")
def local_hub(tmp_path_factory, example_manifest):
    from coursehub.hub.local import start_local_hub

    hub = start_local_hub(example_manifest, workdir=tmp_path_factory.mktemp("local-hub"))
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process: ``code, out, err = run_cli("validate", path)``."""
    from coursehub.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def python_bin() -> Path:
    return Path(sys.executable).parent
