"""Image contexts, sharing, conflicts and the drift report; every context rendered by repo2docker itself.

No container engine runs here, so images are not built; repo2docker's own buildpack detection and
Dockerfile rendering run on every generated context (its CLI with ``--no-build`` for the Python
contexts, its Python API for all). The only thing patched is the R buildpack's lookup of a CRAN
snapshot URL on packagemanager.posit.co, a network call that is not a package registry query.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import chdir
from pathlib import Path

import pytest

from coursehub import build as buildmod
from coursehub.errors import ManifestError
from coursehub.images.drift import drift_report
from coursehub.images.plan import image_ref
from coursehub.images.plan import plan_images
from coursehub.manifest.loader import load_manifest
from coursehub.images.standard import load_standard

FIXTURES = Path(__file__).parent / "fixtures" / "images"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "coursehub", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture()
def offline_r(monkeypatch):
    """Answer the R buildpack's CRAN-snapshot lookup locally instead of asking posit.co."""
    from repo2docker.buildpacks.r import RBuildPack

    asked = []

    def snapshot_url(self, snapshot_date, max_days_prior=7):
        asked.append(snapshot_date)
        return f"https://packagemanager.posit.co/all/__linux__/${{VERSION_CODENAME}}/{snapshot_date:%Y-%m-%d}"

    monkeypatch.setattr(RBuildPack, "get_rspm_snapshot_url", snapshot_url)
    return asked


def repo2docker_render(context: Path):
    """repo2docker's own choice of buildpack for ``context`` and the Dockerfile it renders."""
    from repo2docker.app import Repo2Docker

    r2d = Repo2Docker()
    with chdir(context):
        for bp_class in r2d.buildpacks:
            bp = bp_class(base_image=r2d.base_image)
            if bp.detect():
                # as Repo2Docker.build() does before rendering
                bp.platform = r2d.platform or "linux/amd64"
                bp.appendix = r2d.appendix
                return bp, bp.render({"NB_USER": "jovyan", "NB_UID": "1000"})
    raise AssertionError(f"repo2docker found no buildpack for {context}")


def build_images(manifest_path: Path, out: Path) -> dict[str, bytes]:
    manifest, warnings = load_manifest(manifest_path)
    ctx, _ = buildmod.build(manifest, out, only=["images"], warnings=warnings)
    return ctx.files


# --- the bundled example --------------------------------------------------------------------------


def test_example_contexts_render_with_repo2docker(example_manifest_path, tmp_path, offline_r):
    files = build_images(example_manifest_path, tmp_path)
    images = tmp_path / "images"
    assert sorted(p.name for p in images.iterdir() if p.is_dir()) == ["data8", "data8-nbgrader", "hackweek", "r-stats"]
    # every image's only postBuild installs coursehub's notebook-server extension (tests/test_kernel_metadata.py)
    assert sorted(name for name in files if name.endswith("postBuild")) == sorted(f"images/{n}/postBuild" for n in ("data8", "data8-nbgrader", "hackweek", "r-stats"))

    for name in ("data8", "data8-nbgrader", "hackweek"):
        buildpack, dockerfile = repo2docker_render(images / name)
        assert "./postBuild" in dockerfile  # repo2docker runs it once the environment is installed
        assert type(buildpack).__name__ == "PythonBuildPack"
        assert buildpack.python_version == "3.11"  # from runtime.txt
        assert "environment-2epy-2d3-2e11-2dlinux-2d64-2elock" in dockerfile  # repo2docker's Python 3.11 base env
        assert 'pip install --no-cache-dir -r "requirements.txt"' in dockerfile

    buildpack, dockerfile = repo2docker_render(images / "r-stats")
    assert type(buildpack).__name__ == "RBuildPack"
    assert buildpack.r_version == "4.5.1"
    assert "/opt/R/4.5.1/" in dockerfile  # runtime.txt r-4.5-<date>
    assert "install.R" in dockerfile and 'pip install --no-cache-dir -r "requirements.txt"' in dockerfile
    assert "./postBuild" in dockerfile
    assert [d.isoformat() for d in offline_r] == [load_standard("r").cran_snapshot]


def test_example_python_contexts_pass_repo2docker_cli_no_build(example_manifest_path, tmp_path):
    build_images(example_manifest_path, tmp_path)
    r2d = Path(sys.executable).with_name("jupyter-repo2docker")
    for name in ("data8", "hackweek"):
        # DOCKER_HOST points nowhere: a dry run must not need a container engine
        proc = subprocess.run(
            [str(r2d), "--no-build", "--user-id", "1000", "--user-name", "jovyan", str(tmp_path / "images" / name)],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock"),
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.lstrip().startswith("FROM ")
        assert "Building conda environment for python=3.11" in proc.stderr


def test_example_lock_is_complete_and_pinned(example_manifest_path, tmp_path):
    files = build_images(example_manifest_path, tmp_path)
    data8 = load_standard("data8")

    def pins(name):
        lines = files[f"images/{name}/requirements.txt"].decode().splitlines()
        return dict(line.split("==") for line in lines if line and not line.startswith("#"))

    std = pins("data8")
    assert std == {p.name: p.version for p in data8.lock.values()}
    hack = pins("hackweek")
    assert hack == {**std, "xarray": "2026.9.0", "pooch": "1.9.0"}
    assert files["images/data8/runtime.txt"] == b"python-3.11\n"
    assert files["images/r-stats/runtime.txt"] == f"r-4.5-{load_standard('r').cran_snapshot}\n".encode()
    install_r = files["images/r-stats/install.R"].decode()
    assert 'install.packages(c("tidyverse", "rmarkdown"' in install_r
    readme = files["images/hackweek/README.md"].decode()
    assert "xarray==2026.9.0" in readme and "datascience" in readme and "climate-hackweek-26" in readme


def test_example_drift_numbers(example_manifest):
    drift = drift_report(example_manifest)
    assert drift["totals"] == {
        "courses": 4,
        "on_standard_unchanged": 2,
        "with_additions": 2,
        "with_changes": 0,
        "image_keys": 4,
        "images": 4,
    }
    by_course = {c["course"]: c for c in drift["courses"]}
    assert by_course["data-c8-fa26"]["build"] == "data8"
    assert by_course["data-c88-fa26"]["build"] == "data8-nbgrader"  # its students fetch and submit with nbgrader
    assert by_course["data-c88-fa26"]["adds"] == ["nbgrader==0.9.6", "rapidfuzz==3.14.6"]
    assert by_course["climate-hackweek-26"]["adds"] == ["pooch==1.9.0", "xarray==2026.9.0"]
    assert by_course["stat-20-fa26"]["standard"] == "r" and by_course["stat-20-fa26"]["unchanged"]


def test_build_is_deterministic_and_tags_follow_the_lock(example_manifest_path, tmp_path):
    a = build_images(example_manifest_path, tmp_path / "a")
    b = build_images(example_manifest_path, tmp_path / "b")
    assert a == b
    manifest, _ = load_manifest(example_manifest_path)
    ref = image_ref(manifest, "data8")
    assert ref.startswith("example-university/data8:") and len(ref.split(":")[1]) == 12
    assert image_ref(manifest, "hackweek").split(":")[1] != ref.split(":")[1]
    meta = json.loads(a["images/data8/coursehub-image.json"])
    assert meta["ref"] == ref and meta["courses"] == ["data-c8-fa26"]


def test_repository_images_folder_is_current(repo_root):
    """The top-level images/ folder is exactly what the example generates (what CI checks)."""
    proc = _cli("build", "course-templates/example-university/manifest.yaml", "-o", ".", "--only", "images", "--check", cwd=repo_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- additions, sharing and changes ---------------------------------------------------------------


def test_additions_sharing_and_changes(tmp_path, offline_r):
    files = build_images(FIXTURES / "additions.yaml", tmp_path)
    manifest, _ = load_manifest(FIXTURES / "additions.yaml")
    plan = plan_images(manifest)

    # data8 and intro have the same packages: one image, both courses on it
    assert plan.build_of_key == {"data8": "data8", "intro": "data8", "geo": "geo", "econ": "econ"}
    assert image_ref(manifest, "intro") == image_ref(manifest, "data8")
    assert sorted(p.name for p in (tmp_path / "images").iterdir() if p.is_dir()) == ["data8", "econ", "geo"]
    assert "`data8`, `intro`" in files["images/data8/README.md"].decode()

    drift = {c["course"]: c for c in drift_report(manifest)["courses"]}
    assert drift["intro-ds"]["unchanged"] and drift["intro-ds"]["build"] == "data8"
    geo = drift["geo-101"]
    assert geo["adds"] == ["pooch==1.9.0", "xarray==2026.9.0"]
    assert geo["changes"] == [{"package": "seaborn", "standard": "0.13.2", "course": "0.13.1"}]
    assert geo["already_in_standard"] == ["numpy==2.4.6"]
    assert geo["apt"] == ["libgdal-dev"] and not geo["unchanged"]
    assert drift["econ-140"]["r_packages"] == ["AER==1.2-14", "fixest"]
    totals = drift_report(manifest)["totals"]
    assert (totals["on_standard_unchanged"], totals["with_additions"], totals["with_changes"], totals["images"]) == (2, 2, 1, 3)

    reqs = files["images/geo/requirements.txt"].decode().splitlines()
    assert "seaborn==0.13.1" in reqs and "seaborn==0.13.2" not in reqs
    assert files["images/geo/apt.txt"] == b"libgdal-dev\n"
    install_r = files["images/econ/install.R"].decode()
    assert 'remotes::install_version("AER", version = "1.2-14")' in install_r
    assert '"fixest"' in install_r

    for name in ("data8", "geo", "econ"):
        buildpack, dockerfile = repo2docker_render(tmp_path / "images" / name)
        assert type(buildpack).__name__ == ("RBuildPack" if name == "econ" else "PythonBuildPack")
    _, geo_dockerfile = repo2docker_render(tmp_path / "images" / "geo")
    assert "libgdal-dev" in geo_dockerfile  # apt.txt reached repo2docker


def test_conflicts_are_reported_together_naming_courses_and_packages(tmp_path):
    out = tmp_path / "out"
    proc = _cli("build", str(FIXTURES / "conflict.yaml"), "-o", str(out), "--only", "images")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert "stats-old" in err and "numpy==1.26.4" in err and "pandas 3.1.1 requires numpy>=2.0.2" in err
    assert "images.loose.packages[0]: 'xarray' is not pinned" in err
    assert "pooch is pinned twice, at 1.9.0 and 1.8.2" in err
    assert "climate-a" in err and "climate-b" in err and "quay.io/example/shared" in err
    assert "xarray 2026.9.0 vs 2025.1.2" in err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize(
    "packages, message",
    [
        (["xarray>=2025"], "not pinned"),
        (["git+https://github.com/pydata/xarray"], "not a pip requirement"),
        (["xarray==2025.*"], "not pinned"),
        (["xarray==2025.1; python_version<'3'"], "not pinned"),
    ],
)
def test_unpinned_additions_are_errors(tmp_path, packages, message):
    manifest_path = tmp_path / "m.yaml"
    manifest_path.write_text(
        json.dumps(
            {
                "hub": {"name": "h", "url": "https://hub.example.edu", "image": "x"},
                "images": {"x": {"standard": "none", "packages": packages}},
            }
        )
    )
    # validate finds what the image build would refuse, at the package's line
    with pytest.raises(ManifestError) as info:
        load_manifest(manifest_path)
    found = [p for p in info.value.problems if message in p.message]
    assert found and found[0].path == "images.x.packages[0]" and found[0].line == 1 and found[0].column


def test_changed_version_the_standard_accepts_is_not_a_conflict(tmp_path):
    manifest_path = tmp_path / "m.yaml"
    manifest_path.write_text(
        json.dumps(
            {
                "hub": {"name": "h", "url": "https://hub.example.edu", "image": "x"},
                # scipy 1.17.1 accepts numpy<2.7,>=1.26.4 and pandas numpy>=2.0.2
                "images": {"x": {"standard": "data8", "packages": ["numpy==2.3.5"]}},
            }
        )
    )
    manifest, _ = load_manifest(manifest_path)
    build = plan_images(manifest).for_key("x")
    assert [(c.name, c.standard, c.wanted) for c in build.changes] == [("numpy", "2.4.6", "2.3.5")]
    manifest_path.write_text(manifest_path.read_text().replace("numpy==2.3.5", "numpy==2.7.0"))
    with pytest.raises(ManifestError) as info:
        load_manifest(manifest_path)
    assert "scipy 1.17.1 requires numpy<2.7,>=1.26.4" in info.value.problems[0].message
    assert info.value.problems[0].path == "images.x.packages"


def test_a_course_whose_grader_its_image_lacks_is_refused(tmp_path, run_cli):
    """On Kubernetes each course's servers run its image: an nbgrader course on an image without nbgrader
    would leave its students without the Assignments tab (a single machine hides it: one environment)."""
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "hub: {name: t, url: 'https://hub.example.edu', image: data8}\n"
        "images: {data8: {standard: data8}, with-nbgrader: {standard: data8, packages: [nbgrader==0.9.6]}}\n"
        "courses:\n"
        "  - {id: nb-1, title: N, term: {start: 2026-08-26, end: 2026-12-18}, grader: nbgrader, students: [a]}\n"
        "  - {id: nb-2, title: M, term: {start: 2026-08-26, end: 2026-12-18}, grader: nbgrader, image: with-nbgrader, students: [b]}\n"
        "  - {id: ot-3, title: O, term: {start: 2026-08-26, end: 2026-12-18}, grader: otter, students: [c]}\n"
    )
    code, _, err = run_cli("validate", manifest)
    assert code == 2
    assert "courses[0].grader: the course grades with nbgrader, but its image 'data8' has no nbgrader" in err
    assert "add `nbgrader==<version>` to `images.data8.packages`" in err
    # nbgrader is in nb-2's image, and otter-grader in data8 (they have warnings of their own: no assignments)
    assert "courses[1].grader: the course grades" not in err and "courses[2].grader: the course grades" not in err
    assert "1 problem in the manifest" in err
