"""The standard package sets: pinned, self-consistent, and changed only on purpose."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from coursehub.errors import CoursehubError
from coursehub.images.standard import closure, dependencies, load_standard

# Updating a standard set is a reviewed change: re-lock with `coursehub images standard NAME --relock`,
# review the data diff, then update the digest here in the same commit.
REVIEWED_DIGESTS = {
    "data8": "b09acff9d825a32cb4227d357d4c403e77a300a61759e71c31c5210486fd7877",
    "r": "7e32c93477becad12d2863579ee5fb8cdddff61e4214a712af4f294243b8535d",
}

DATA8_TOP_LEVEL = {
    # what the Data 8 image is known for (issue 6)
    "datascience", "numpy", "pandas", "scipy", "matplotlib", "seaborn", "statsmodels", "folium",
    "ipywidgets", "otter-grader", "nbgitpuller", "jupyterlab", "notebook", "jupyter-resource-usage",
    "jupyterhub", "ipykernel",
}


@pytest.mark.parametrize("name", sorted(REVIEWED_DIGESTS))
def test_standard_set_is_the_reviewed_one(name):
    assert load_standard(name).digest == REVIEWED_DIGESTS[name], (
        f"the {name} standard set changed; if that is intended, update REVIEWED_DIGESTS[{name!r}]"
    )


def test_data8_set_has_the_data8_packages_pinned():
    s = load_standard("data8")
    names = {canonicalize_name(p.name) for p in s.packages}
    assert names == DATA8_TOP_LEVEL
    for p in s.packages:
        assert re.fullmatch(r"\d+(\.\d+)+", p.version), p
        assert s.lock[canonicalize_name(p.name)].version == p.version
        assert p.why


def test_data8_lock_is_closed_and_satisfies_every_requirement():
    """Every requirement of every locked package (on the image platform) is locked at a version it accepts."""
    s = load_standard("data8")
    unsatisfied = []
    for pkg in s.lock.values():
        for req in dependencies(pkg, s.python):
            dep = s.lock.get(canonicalize_name(req.name))
            if dep is None or not req.specifier.contains(dep.version, prereleases=True):
                unsatisfied.append(f"{pkg.name} {pkg.version} requires {req}, lock has {dep and dep.version}")
    assert unsatisfied == []
    # and nothing is locked that the top-level pins do not pull in
    assert set(closure(s.lock, [p.name for p in s.packages], s.python)) == set(s.lock)


def test_dependencies_follow_the_image_platform_and_extras():
    s = load_standard("data8")
    declared = {canonicalize_name(Requirement(t).name) for p in s.lock.values() for t in p.requires}
    applying = {canonicalize_name(r.name) for p in s.lock.values() for r in dependencies(p, s.python)}
    assert "pywin32" in declared and "pywin32" not in applying  # Windows-only: not part of a Linux image
    jupyterhub = s.lock["jupyterhub"]
    plain = {canonicalize_name(r.name) for r in dependencies(jupyterhub, s.python)}
    with_extra = {canonicalize_name(r.name) for r in dependencies(jupyterhub, s.python, frozenset({"test"}))}
    assert "pamela" in plain  # sys_platform != "win32"
    assert with_extra > plain  # asking for an extra adds its requirements


def test_r_set_has_a_snapshot_and_the_hub_side_from_the_data8_lock():
    r, d8 = load_standard("r"), load_standard("data8")
    assert r.language == "r"
    assert re.fullmatch(r"\d+\.\d+", r.r_version)
    assert dt.date.fromisoformat(r.cran_snapshot) <= dt.date(2026, 11, 25)
    assert {p.name for p in r.r_packages} >= {"tidyverse", "rmarkdown"}
    assert {p.name for p in r.packages} >= {"jupyterhub", "nbgitpuller"}
    for key, pkg in r.lock.items():
        assert d8.lock[key].version == pkg.version
    assert "datascience" not in r.lock  # only what the hub side needs


def test_unknown_standard_is_a_user_error():
    with pytest.raises(CoursehubError, match="no standard set 'python2'"):
        load_standard("python2")
