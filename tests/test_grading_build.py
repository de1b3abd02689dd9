"""The ``graders/`` build family, the committed student versions, and finding submissions."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fixtures.grading.make import EXAMPLE, MANIFEST

from coursehub import build as buildmod
from coursehub.errors import CoursehubError
from coursehub.grading.artifacts import student_versions
from coursehub.grading.otter import load_tests, normalised_zip
from coursehub.grading.submissions import collect
from coursehub.manifest.loader import load_manifest

pytestmark = pytest.mark.xdist_group("grading")


@pytest.mark.slow
def test_committed_student_versions_are_what_the_sources_generate():
    manifest, _ = load_manifest(MANIFEST)
    wanted = student_versions(manifest)
    assert {p.relative_to(EXAMPLE).as_posix() for p in wanted} == {
        "content/data-c8-materials/lab/lab01/lab01.ipynb",
        "content/data-c8-materials/hw/hw01/hw01.ipynb",
        "content/data-c88-materials/lab01/lab01.ipynb",
        "content/data-c88-materials/hw01/hw01.ipynb",
    }
    stale = [str(p) for p, data in wanted.items() if p.read_bytes() != data]
    assert not stale, f"regenerate with coursehub.grading.artifacts.student_versions: {stale}"
    # the student versions hold no solutions
    lab = json.loads((EXAMPLE / "content/data-c8-materials/lab/lab01/lab01.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in lab["cells"])
    assert "total_population = ..." in text and "sum(cities.column('population'))" not in text
    nb = json.loads((EXAMPLE / "content/data-c88-materials/lab01/lab01.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"])
    assert "raise NotImplementedError()" in text and "return x * x" not in text and "HIDDEN" not in text


@pytest.mark.slow
def test_graders_family_is_deterministic_and_points_match_the_manifest(tmp_path):
    manifest, _ = load_manifest(MANIFEST)
    first = buildmod.render(manifest, only=["graders"]).files
    second = buildmod.render(manifest, only=["graders"]).files
    assert first == second
    assert sorted(first) == [
        "graders/data-c8-fa26/hw01/autograder.zip",
        "graders/data-c8-fa26/hw01/student/hw01.ipynb",
        "graders/data-c8-fa26/lab01/autograder.zip",
        "graders/data-c8-fa26/lab01/student/lab01.ipynb",
        "graders/data-c88-fa26/hw01/release/hw01.ipynb",
        "graders/data-c88-fa26/lab01/release/lab01.ipynb",
        "graders/data-c88-fa26/nbgrader_config.json",
    ]
    cfg = json.loads(first["graders/data-c88-fa26/nbgrader_config.json"])
    assert cfg["CourseDirectory"]["course_id"] == "data-c88-fa26"
    # every autograder's total is the points the manifest promises, and its zip has fixed timestamps
    for assignment in manifest.course("data-c8-fa26").assignments:
        data = first[f"graders/data-c8-fa26/{assignment.id}/autograder.zip"]
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            files = {n: zf.read(n) for n in zf.namelist()}
        assert "tests/q1.py" in files
        assert sum(t.possible for t in load_tests(files).values()) == assignment.points
    ctx, diff = buildmod.build(manifest, tmp_path / "build", only=["graders"])
    ctx, diff = buildmod.build(manifest, tmp_path / "build", only=["graders"], check=True)
    assert diff == ""


def test_normalised_zip_is_reproducible():
    files = {"b.txt": b"2", "a/run": b"#!/bin/sh\n"}
    assert normalised_zip(files) == normalised_zip(dict(reversed(list(files.items()))))
    with zipfile.ZipFile(io.BytesIO(normalised_zip(files))) as zf:
        assert zf.namelist() == ["a/run", "b.txt"]
        assert zf.getinfo("a/run").external_attr >> 16 == 0o755


def _nb(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    return path


def test_submissions_folder_layouts(tmp_path):
    _nb(tmp_path / "Alice" / "lab01.ipynb")
    _nb(tmp_path / "bob" / "scratch.ipynb")
    _nb(tmp_path / "bob" / "lab01.ipynb")
    _nb(tmp_path / "carol" / "notes.ipynb")
    _nb(tmp_path / "carol" / "other.ipynb")
    _nb(tmp_path / "dave" / ".ipynb_checkpoints" / "lab01-checkpoint.ipynb")
    _nb(tmp_path / "dave" / "lab01.ipynb")
    subs = {s.student: s for s in collect(tmp_path, notebook_name="lab01.ipynb", workdir=tmp_path / "w")}
    assert sorted(subs) == ["alice", "bob", "carol", "dave"]  # usernames normalised like the hub does
    assert subs["bob"].path.name == "lab01.ipynb"
    assert subs["carol"].path is None and "none named lab01.ipynb" in subs["carol"].problem
    assert subs["dave"].path == tmp_path / "dave" / "lab01.ipynb"


def test_lms_zip_canvas_names_and_resubmissions(tmp_path):
    export = tmp_path / "submissions.zip"
    nb = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("alice_123_456_lab01.ipynb", nb)
        zf.writestr("bob_late_124_457_lab01.ipynb", nb)
        zf.writestr("carol_125_458_lab01.ipynb", nb)
        zf.writestr("carol_125_459_lab01-1.ipynb", nb)  # a resubmission
        zf.writestr("readme.txt", "ignored")
    subs = {s.student: s for s in collect(export, notebook_name="lab01.ipynb", workdir=tmp_path / "w")}
    assert sorted(subs) == ["alice", "bob", "carol"]
    assert subs["carol"].path.name == "carol_125_459_lab01-1.ipynb"


def test_unsafe_zips_are_refused_before_anything_is_written(tmp_path):
    export = tmp_path / "evil.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("alice/lab01.ipynb", "{}")
        zf.writestr("../../escape.ipynb", "{}")
    with pytest.raises(CoursehubError, match="unsafe path"):
        collect(export, notebook_name="lab01.ipynb", workdir=tmp_path / "w")
    assert not (tmp_path / "escape.ipynb").exists()
    with pytest.raises(CoursehubError, match="neither a folder nor a zip"):
        (tmp_path / "plain.txt").write_text("x")
        collect(tmp_path / "plain.txt", notebook_name="lab01.ipynb", workdir=tmp_path / "w2")


def test_grade_refuses_bad_input_with_a_message(tmp_path):
    from coursehub.grading.runner import grade

    manifest, _ = load_manifest(MANIFEST)
    with pytest.raises(CoursehubError, match="has no grader"):
        grade(manifest=manifest, course_id="stat-20-fa26", assignment_id="lab01", submissions=tmp_path, out=tmp_path / "o")
    with pytest.raises(CoursehubError, match="no assignment 'lab99'"):
        grade(manifest=manifest, course_id="data-c8-fa26", assignment_id="lab99", submissions=tmp_path, out=tmp_path / "o")
    with pytest.raises(CoursehubError, match="do not exist"):
        grade(manifest=manifest, course_id="data-c8-fa26", assignment_id="lab01", submissions=tmp_path / "nope", out=tmp_path / "o")
    assert not (tmp_path / "o").exists()  # nothing written for bad input
