"""The build pipeline: deterministic, atomic, and `--check` catches drift."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coursehub import build as buildmod


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_build_is_deterministic_across_hash_seeds_and_clock(example_manifest_path, tmp_path):
    trees = []
    for i, (seed, tz) in enumerate([("1", "UTC"), ("4242", "Pacific/Auckland")]):
        out = tmp_path / f"out{i}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": tz}
        subprocess.run(
            [sys.executable, "-m", "coursehub", "build", str(example_manifest_path), "-o", str(out)],
            check=True, env=env, capture_output=True,
        )
        trees.append(snapshot(out))
        time.sleep(1.1)  # a timestamp anywhere in the output would now differ
    assert trees[0].keys() == trees[1].keys()
    different = [k for k in trees[0] if trees[0][k] != trees[1][k]]
    assert different == []
    assert "summary/summary.json" in trees[0]


def explode(ctx):
    """A generator that fails after writing part of its output."""
    ctx.add("boom/partial.txt", "half")
    raise RuntimeError("generator failed")


def test_failed_generator_leaves_previous_output_untouched(example_manifest, tmp_path, monkeypatch):
    out = tmp_path / "out"
    buildmod.build(example_manifest, out, only=["summary"])
    before = snapshot(out)
    (out / "README.md").write_text("mine")  # files outside the family folders are never touched

    monkeypatch.setattr(buildmod, "GENERATORS", buildmod.GENERATORS + [("boom", f"{__name__}:explode")])
    with pytest.raises(RuntimeError):
        buildmod.build(example_manifest, out, only=["summary", "boom"])
    after = snapshot(out)
    assert after.pop("README.md") == b"mine"
    assert after == before
    assert not any(p.name.startswith(".out.coursehub") for p in tmp_path.iterdir())


def test_failed_write_leaves_previous_output_untouched(example_manifest, tmp_path, monkeypatch):
    out = tmp_path / "out"
    buildmod.build(example_manifest, out, only=["summary"])
    before = snapshot(out)
    real = Path.write_bytes
    calls = {"n": 0}

    def flaky(self, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(OSError):
        buildmod.build(example_manifest, out, only=["summary"])
    monkeypatch.undo()
    assert snapshot(out) == before
    assert not any(p.name.startswith(".out.coursehub") for p in tmp_path.iterdir())


def test_check_detects_drift_and_passes_when_current(example_manifest_path, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli("build", example_manifest_path, "-o", out, "--only", "summary")
    assert code == 0, err
    code, stdout, err = run_cli("build", example_manifest_path, "-o", out, "--only", "summary", "--check")
    assert code == 0, err
    assert stdout == ""
    (out / "summary" / "summary.md").write_text("# hand edited\n")
    (out / "summary" / "stale.txt").write_text("old")
    code, stdout, err = run_cli("build", example_manifest_path, "-o", out, "--only", "summary", "--check")
    assert code == 1
    assert "--- summary/summary.md (on disk)" in stdout and "+++ summary/summary.md (generated)" in stdout
    assert "-# hand edited" in stdout
    assert "extra: summary/stale.txt" in stdout
    assert "out of date" in err


def test_unknown_family_is_a_clear_error(example_manifest_path, tmp_path, run_cli):
    code, _, err = run_cli("build", example_manifest_path, "-o", tmp_path, "--only", "nope")
    assert code == 2
    assert "unknown artifact family nope" in err


def test_generators_cannot_write_outside_their_family(example_manifest):
    ctx = buildmod.BuildContext(manifest=example_manifest, family="summary")
    for bad in ("../escape.txt", "/etc/passwd", "links/x.csv"):
        with pytest.raises(ValueError):
            ctx.add(bad, "x")
