"""``coursehub images check``: real virtual environments, real kernels, real notebooks.

Environments are cached in pytest's cache folder (by lock digest), so only the first run of the
suite on a machine pays for ``pip install``; a file lock keeps two xdist workers from building the
same one at once. The small fixture image (one pinned package, ``standard: none``) installs in
seconds; the example course's full Data 8 environment is the ``slow`` test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from coursehub.images.check import check_course, ensure_environment
from coursehub.images.plan import plan_images
from coursehub.manifest.loader import load_manifest

SMALL = Path(__file__).parent / "fixtures" / "images" / "small" / "manifest.yaml"


@pytest.fixture(scope="session")
def env_root(pytestconfig, tmp_path_factory) -> Path:
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    return Path(cache.mkdir("coursehub-envs")) if cache else tmp_path_factory.mktemp("coursehub-envs")


@pytest.fixture(scope="module")
def small():
    return load_manifest(SMALL)[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_passing_course_with_unanswered_questions(small, env_root):
    content = SMALL.parent / "content" / "ok"
    before = _files(content)
    result = check_course(small, small.course("tiny-ok"), env_root=env_root)
    assert _files(content) == before  # ran in a copy: answers.txt was written there, not here
    kernels = [p for p in psutil.Process().children(recursive=True) if "ipykernel_launcher" in " ".join(p.cmdline())]
    assert kernels == []  # every kernel the check started is stopped
    assert result.passed and not result.skipped
    by_path = {n.path: n for n in result.notebooks}
    assert sorted(by_path) == ["demo/errors.ipynb", "lab01.ipynb"]
    lab = by_path["lab01.ipynb"]
    # an otter-style `...` answer breaking the next cell, and an nbgrader placeholder called from
    # a later cell: neither counts as a failure
    assert lab.expected == ["cell 5: unanswered (a ... placeholder)", "cell 7: unanswered (raise NotImplementedError)"]
    demo = by_path["demo/errors.ipynb"]
    assert demo.expected == ["cell 2: expected (tagged raises-exception)"]  # the skip-execution cell never ran
    assert result.unlocked == []  # the lock covers everything installed


def test_missing_package_is_reported_with_its_cell(small, env_root):
    result = check_course(small, small.course("tiny-missing"), env_root=env_root)
    assert not result.passed
    [nb] = result.notebooks
    assert nb.failure.kind == "missing-package"
    assert nb.failure.package == "tabulate"
    assert nb.failure.cell == 3
    assert nb.failure.source == "import tabulate  # not in the image"
    assert nb.missing == ["tabulate"]


def test_environment_is_isolated_and_cached(small, env_root):
    build = plan_images(small).for_course("tiny-ok")
    env, _ = ensure_environment(build, root=env_root)
    again, _ = ensure_environment(build, root=env_root)
    assert again == env
    python = env / "bin" / "python"
    # not this project's venv: packages coursehub itself depends on are absent
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('pydantic') is None, u.find_spec('six') is not None)"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    assert probe.stdout.split() == ["True", "True"]
    assert (env / "share" / "jupyter" / "kernels" / "coursehub-check" / "kernel.json").is_file()


def test_a_library_raising_not_implemented_still_fails(tmp_path, env_root):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    content = tmp_path / "content"
    content.mkdir()
    # raised inside the standard library, not by a placeholder in the notebook
    nb = new_notebook(cells=[new_code_cell("import asyncio\nasyncio.AbstractEventLoop().run_forever()")])
    nbformat.write(nb, content / "broken.ipynb")
    manifest_path = tmp_path / "m.yaml"
    manifest_path.write_text(
        SMALL.read_text().replace("local: content/ok", f"local: {content}").replace("content/missing", str(content)).replace("content/r", str(content))
    )
    manifest = load_manifest(manifest_path)[0]
    result = check_course(manifest, manifest.course("tiny-ok"), env_root=env_root)
    [nb_result] = result.notebooks
    assert not nb_result.passed and nb_result.failure.kind == "error"
    assert nb_result.failure.ename == "NotImplementedError" and nb_result.failure.cell == 1


def test_cli_reports_and_exits_1(env_root):
    env = dict(os.environ, COURSEHUB_CACHE_DIR=str(env_root.parent / "coursehub-cli-cache"))
    # share the already-made environment instead of installing it again
    (env_root.parent / "coursehub-cli-cache").mkdir(exist_ok=True)
    link = env_root.parent / "coursehub-cli-cache" / "envs"
    if not link.exists():
        link.symlink_to(env_root)
    proc = subprocess.run(
        [sys.executable, "-m", "coursehub", "images", "check", str(SMALL), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2 notebook(s) failed: tiny-missing/hw01.ipynb, tiny-r/missing.ipynb" in proc.stderr
    data = {r["course"]: r for r in json.loads(proc.stdout)}
    assert data["tiny-ok"]["passed"] and not data["tiny-missing"]["passed"]
    assert data["tiny-missing"]["notebooks"][0]["failure"]["package"] == "tabulate"

    ok = subprocess.run(
        [sys.executable, "-m", "coursehub", "images", "check", str(SMALL), "--course", "tiny-ok"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ok.returncode == 0, ok.stderr
    assert "lab01.ipynb" in ok.stdout and "pass" in ok.stdout
    assert "2 notebook(s) ran cleanly" in ok.stderr
    assert "images check: 2/2 done in" in ok.stderr  # plain progress lines off a terminal


def _installed_r_version() -> str:
    import re
    import shutil

    out = subprocess.run([shutil.which("R"), "--version"], capture_output=True, text=True, check=True).stdout
    return re.search(r"R version (\S+)", out).group(1)


def test_r_notebooks_run_with_a_real_r_kernel(small, env_root):
    result = check_course(small, small.course("tiny-r"), env_root=env_root)
    assert not result.skipped
    # the R that ran them, beside the R the image pins
    assert result.r_version == _installed_r_version() and result.image_r_version == "4.5"
    assert result.r_differs == (not result.r_version.startswith("4.5"))
    by_path = {n.path: n for n in result.notebooks}
    assert {n.language for n in result.notebooks} == {"r"}
    ok, missing = by_path["ok.ipynb"], by_path["missing.ipynb"]
    assert ok.passed and ok.expected == ["cell 2: expected (tagged raises-exception)"]
    assert not missing.passed and missing.failure.kind == "missing-package"
    assert missing.failure.package == "coursehubnosuchpackage" and missing.failure.cell == 2
    kernels = [p for p in psutil.Process().children(recursive=True) if "IRkernel" in " ".join(p.cmdline())]
    assert kernels == []  # every R kernel the check started is stopped


def test_example_r_course_runs_its_r_notebook(example_manifest, env_root):
    result = check_course(example_manifest, example_manifest.course("stat-20-fa26"), env_root=env_root)
    assert [n.path for n in result.notebooks] == ["labs/lab02.ipynb"] and result.passed
    assert result.notebooks[0].expected == ["cell 6: expected (tagged raises-exception)"]
    assert result.image_r_version == "4.5" and result.r_version == _installed_r_version()


def test_cli_reports_the_r_versions(env_root):
    env = {**os.environ, "COURSEHUB_CACHE_DIR": str(env_root.parent)}
    run = subprocess.run(
        [sys.executable, "-m", "coursehub", "images", "check", str(SMALL), "--course", "tiny-r", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert run.returncode == 1, run.stderr  # missing.ipynb fails
    [data] = json.loads(run.stdout)
    assert data["r_version"] == _installed_r_version() and data["image_r_version"] == "4.5"


@pytest.mark.slow
def test_example_course_notebooks_pass_in_the_data8_image(example_manifest, env_root):
    """The bundled Data 8 course runs in an environment with the full, locked Data 8 set."""
    for course_id in ("data-c8-fa26", "data-c88-fa26"):
        result = check_course(example_manifest, example_manifest.course(course_id), env_root=env_root, timeout=120)
        failures = [f"{n.path}: {n.failure.describe()}" for n in result.notebooks if not n.passed]
        assert failures == [], failures
        assert result.notebooks, course_id
        assert result.unlocked == []
