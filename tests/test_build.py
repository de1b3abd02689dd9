"""The build pipeline: deterministic, atomic, and `--check` catches drift."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coursehub import build as buildmod
from coursehub import staging
from coursehub.errors import CoursehubError


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
    (out / "summary" / "summary.md").write_text("# hand edited\n")  # so the next build must write
    before = snapshot(out)
    real = staging._write_file
    calls = {"n": 0}

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(staging, "_write_file", flaky)
    with pytest.raises(CoursehubError, match=r"could not write .*summary.*: No space left on device"):
        buildmod.build(example_manifest, out, only=["summary"])
    assert calls["n"] == 2
    monkeypatch.undo()
    assert snapshot(out) == before
    assert not any(p.name.startswith(".out.coursehub") for p in tmp_path.iterdir())


@pytest.mark.parametrize("fail", [False, True], ids=["written", "failing"])
def test_a_large_family_is_written_by_a_child_while_rendering_goes_on(example_manifest, tmp_path, monkeypatch, fail):
    """A family of many files is written by a forked child: the same tree, and a child's failed write
    fails the build as one in this process does, leaving the output as it was and no child running."""
    out, serial = tmp_path / "out", tmp_path / "serial"
    buildmod.build(example_manifest, serial, only=["summary", "links", "site"])
    buildmod.build(example_manifest, out, only=["summary"])
    before = snapshot(out)
    monkeypatch.setattr(staging, "ASIDE_MIN_FILES", 5)  # the example's links family (and the site's)
    forks = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    if fail:
        real_write = staging._write_file
        # fails in the child only (inherited by fork): this process writes its own files fine
        parent = os.getpid()
        monkeypatch.setattr(staging, "_write_file", lambda path, data: (
            (_ for _ in ()).throw(OSError(28, "No space left on device")) if os.getpid() != parent and path.endswith(".svg")
            else real_write(path, data)))
        with pytest.raises(CoursehubError, match=r"could not write .*\.svg: No space left on device"):
            buildmod.build(example_manifest, out, only=["summary", "links", "site"])
        assert snapshot(out) == before
        assert not any(p.name.startswith(".out.coursehub") for p in tmp_path.iterdir())
    else:
        buildmod.build(example_manifest, out, only=["summary", "links", "site"])
        assert snapshot(out) == snapshot(serial)
        # the site's copies of the links family's files are still hard links to them
        assert (out / "site" / "data-c8-fa26" / "qr" / "lab01.svg").stat().st_ino == (out / "links" / "data-c8-fa26" / "qr" / "lab01.svg").stat().st_ino
    assert forks  # a child really wrote a family ...
    for pid in forks:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # ... and was waited for


def test_a_build_that_cannot_fork_renders_and_writes_everything_itself(example_manifest, tmp_path, monkeypatch):
    serial = tmp_path / "serial"
    buildmod.build(example_manifest, serial)
    monkeypatch.setattr(staging, "ASIDE_MIN_FILES", 5)
    monkeypatch.setattr(buildmod, "PARALLEL_MIN_COURSES", 0)
    tried = []

    def no_fork():
        tried.append(1)
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork's EAGAIN at a process limit

    monkeypatch.setattr(os, "fork", no_fork)
    out = tmp_path / "out"
    buildmod.build(example_manifest, out)
    assert len(tried) >= 2  # the worker and a writing child were both tried
    assert snapshot(out) == snapshot(serial)


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


#: ``coursehub build`` with a hook on the moment it swaps its first family folder in: ``die`` SIGKILLs the
#: process there (its staging folders stay behind, as after a kill or a power cut), ``pause`` waits there
#: until the flag file says ``go`` (a build that is still running).
BUILD_DRIVER = """
import os, signal, sys, time
from pathlib import Path
mode, flag = sys.argv[1], Path(sys.argv[2])
original = Path.rename
def rename(self, target):
    if ".coursehub-new-" in self.parent.name and not flag.exists():
        flag.write_text("paused")
        if mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        while flag.read_text() != "go":
            time.sleep(0.05)
    return original(self, target)
Path.rename = rename
from coursehub.cli import main
main(sys.argv[3:])
"""


def _driven_build(mode: str, flag: Path, manifest: Path, out: Path) -> subprocess.Popen:
    args = [sys.executable, "-c", BUILD_DRIVER, mode, str(flag), "build", str(manifest), "-o", str(out), "--only", "summary"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _staging(parent: Path, out: str = "out") -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{out}.coursehub-"))


def test_a_build_removes_what_killed_builds_left_and_never_a_running_builds(example_manifest_path, tmp_path):
    out = tmp_path / "out"
    buildmod.build(buildmod_manifest(example_manifest_path), out, only=["summary"])
    (out / "summary" / "summary.md").write_text("edited by hand")  # so the next build writes (and swaps)
    # a build killed while it swapped its output in: both staging folders stay behind, with its pid
    killed = _driven_build("die", tmp_path / "killed.flag", example_manifest_path, out)
    killed.wait(120)
    assert killed.returncode == -9, killed.stderr.read().decode()[-2000:]
    assert _staging(tmp_path) == [f".out.coursehub-new-{killed.pid}", f".out.coursehub-old-{killed.pid}"]

    # the next build removes them; while it is still running (paused at the same moment) another build
    # leaves its folders alone, and folders that are not a build's or belong to another output
    flag = tmp_path / "running.flag"
    running = _driven_build("pause", flag, example_manifest_path, out)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert running.poll() is None and time.monotonic() < deadline, running.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        mine = [f".out.coursehub-new-{running.pid}", f".out.coursehub-old-{running.pid}"]
        assert _staging(tmp_path) == mine
        other = tmp_path / f".other.coursehub-new-{killed.pid}"
        other.mkdir()
        not_ours = tmp_path / ".out.coursehub-new-notapid"
        not_ours.mkdir()
        assert staging.stale_staging(out) == []
        buildmod.build(buildmod_manifest(example_manifest_path), out, only=["hub"])  # another family: no clash
        assert _staging(tmp_path) == sorted([".out.coursehub-new-notapid", *mine])
        assert other.is_dir() and (out / "hub" / "README.md").is_file()
    finally:
        flag.write_text("go")
        running.wait(120)
    assert running.returncode == 0, running.stderr.read().decode()[-2000:]
    assert _staging(tmp_path) == [".out.coursehub-new-notapid"]
    assert (out / "summary" / "summary.md").is_file()


def test_a_reused_pid_does_not_keep_a_dead_builds_folder(tmp_path):
    """The id in a folder's name now belongs to a process started after the folder was last written."""
    out = tmp_path / "out"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = tmp_path / f".out.coursehub-new-{sleeper.pid}"
        folder.mkdir()
        assert staging.stale_staging(out) == []  # made while that process ran: maybe its build
        old = time.time() - 3600
        os.utime(folder, (old, old))
        assert staging.stale_staging(out) == [folder]  # written an hour before that process started
    finally:
        sleeper.kill()
        sleeper.wait()


def buildmod_manifest(path: Path):
    from coursehub.manifest.loader import load_manifest

    return load_manifest(path)[0]


# --- rebuilds skip what did not change -----------------------------------------------------------------


@pytest.fixture
def university(example_manifest_path, tmp_path):
    """A copy of the example university that a test may change."""
    import shutil

    shutil.copytree(example_manifest_path.parent, tmp_path / "uni")
    manifest = tmp_path / "uni" / "manifest.yaml"
    # a limit 4x the hub's guarantee: the cost family has a warning to say
    text = manifest.read_text().replace("resources: {memory: {guarantee: 1G, limit: 2G}}", "resources: {memory: {limit: 2G}}", 1)
    manifest.write_text(text)
    return manifest


def load(path):
    from coursehub.manifest.loader import load_manifest

    return load_manifest(path)[0]


def test_a_rebuild_with_nothing_changed_renders_nothing(university, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first, _ = buildmod.build(load(university), out)
    assert first.unchanged == []
    tree = snapshot(out)
    monkeypatch.setattr(buildmod, "render", lambda *a, **k: pytest.fail("an unchanged family was rendered"))
    again, _ = buildmod.build(load(university), out)
    assert again.unchanged == buildmod.families()
    assert snapshot(out) == tree
    # what the skipped generators had to say is still said, and the totals still count every file
    assert again.notes == first.notes and any(n.startswith("cost: warning: data-c8-fa26") for n in again.notes)
    assert sum(again.file_counts.values()) == len([k for k in tree if "/" in k])


def test_a_rebuild_renders_what_changed_and_restores_hand_edits(university, tmp_path):
    out = tmp_path / "out"
    buildmod.build(load(university), out)
    reference = snapshot(out)
    # a generated file edited or deleted by hand: only its family is rendered, and it is restored
    (out / "hub" / "README.md").write_text("edited")
    (out / "links" / "index.md").unlink()
    ctx, _ = buildmod.build(load(university), out)
    assert sorted(set(buildmod.families()) - set(ctx.unchanged)) == ["hub", "links"]
    assert snapshot(out) == reference
    # content the links are checked against: links and the catalogue showing them are rendered again
    (university.parent / "content" / "data-c8-materials" / "lab" / "lab01" / "lab01.ipynb").unlink()
    ctx, _ = buildmod.build(load(university), out)
    assert sorted(set(buildmod.families()) - set(ctx.unchanged)) == ["links", "site"]
    assert any("lab01.ipynb is not in content/data-c8-materials" in n for n in ctx.notes)
    # a grader's source notebook changed: the graders family
    source = university.parent / "source" / "data-c88-fa26" / "lab01" / "lab01.ipynb"
    source.write_text(source.read_text().replace("Functions", "Functions!"))
    ctx, _ = buildmod.build(load(university), out, only=["graders", "hub"])
    assert ctx.unchanged == ["hub"]
    # a roster changed: every family (they all may show enrolment)
    roster = university.parent / "rosters" / "stat-20-fa26.csv"
    roster.write_text(roster.read_text() + "new.student,New Student,new.student@example.edu\n")
    ctx, _ = buildmod.build(load(university), out)
    assert ctx.unchanged == []
    assert b"new.student" in (out / "hub" / "single-machine" / "coursehub-courses.json").read_bytes()


def test_check_of_an_unchanged_folder_renders_nothing_and_still_sees_edits(university, tmp_path, monkeypatch, run_cli):
    out = tmp_path / "out"
    buildmod.build(load(university), out)
    with monkeypatch.context() as m:
        m.setattr(buildmod, "render", lambda *a, **k: pytest.fail("an unchanged family was rendered"))
        ctx, difference = buildmod.build(load(university), out, check=True)
    assert difference == "" and ctx.unchanged == buildmod.families()
    (out / "cost" / "cost.md").write_text("edited")
    code, stdout, _ = run_cli("build", university, "-o", out, "--check")
    assert code == 1 and "cost/cost.md (on disk)" in stdout


def test_state_file_is_the_same_bytes_after_the_same_build(university, tmp_path):
    from coursehub.buildstate import STATE_FILE

    a, b = tmp_path / "a", tmp_path / "b"
    buildmod.build(load(university), a)
    buildmod.build(load(university), b)
    assert (a / STATE_FILE).read_bytes() == (b / STATE_FILE).read_bytes()
    # a copied folder (new mtimes) is still recognised as up to date
    import shutil

    shutil.copytree(a, tmp_path / "copy")
    ctx, _ = buildmod.build(load(university), tmp_path / "copy")
    assert ctx.unchanged == buildmod.families()


def script(ctx):
    """A generator that writes a script and a plain file."""
    ctx.add("scripts/postBuild", "#!/bin/sh\necho hi\n")
    ctx.add("scripts/README.md", "text\n")


def test_scripts_stay_executable_and_other_files_do_not_become_so(example_manifest, tmp_path, monkeypatch):
    monkeypatch.setattr(buildmod, "GENERATORS", buildmod.GENERATORS + [("scripts", f"{__name__}:script")])
    buildmod.build(example_manifest, tmp_path / "out", only=["scripts"])
    assert os.access(tmp_path / "out" / "scripts" / "postBuild", os.X_OK)
    assert not os.access(tmp_path / "out" / "scripts" / "README.md", os.X_OK)


def test_a_large_manifests_parallel_render_is_the_serial_render(example_manifest, monkeypatch):
    """Families rendered in forked workers (a large manifest's) give the same files, notes and order."""
    serial = buildmod.render(example_manifest)
    monkeypatch.setattr(buildmod, "PARALLEL_MIN_COURSES", 0)
    forked: list[tuple[str, ...]] = []
    real = buildmod._render_aside
    monkeypatch.setattr(buildmod, "_render_aside", lambda ctx, groups, *args: forked.extend(groups) or real(ctx, groups, *args))
    parallel = buildmod.render(example_manifest)
    assert forked == [("cost", "images")]  # the parallel path really ran
    assert parallel.files == serial.files
    assert parallel.notes == serial.notes and parallel.file_counts == serial.file_counts


def test_workers_started_before_the_manifest_is_read_render_what_the_serial_render_does(example_manifest_path, monkeypatch):
    from coursehub.manifest.loader import load_manifest

    model, warnings = load_manifest(example_manifest_path)
    serial = buildmod.render(model, warnings=warnings)
    monkeypatch.setattr(buildmod, "EARLY_MIN_BYTES", 0)
    monkeypatch.setattr(buildmod, "PARALLEL_MIN_COURSES", 0)
    with buildmod.Workers.early(example_manifest_path) as workers:
        assert list(workers._workers) == [("cost", "images")]  # started before the manifest is read ...
        started = worker_processes(workers)
        model, warnings = load_manifest(example_manifest_path)
        early = buildmod.render(model, warnings=warnings, workers=workers)
        assert workers._used == {("cost", "images")}  # ... and given the group: no pool forked later
    assert early.files == serial.files
    assert early.notes == serial.notes and early.warnings == serial.warnings
    assert started and not any(proc.is_alive() for proc in started)


def worker_processes(workers) -> list:
    return [worker._proc for worker in workers._workers.values()]


def test_an_early_worker_a_build_does_not_need_is_stopped(example_manifest_path, example_manifest, monkeypatch):
    monkeypatch.setattr(buildmod, "EARLY_MIN_BYTES", 0)
    with buildmod.Workers.early(example_manifest_path) as workers:
        started = worker_processes(workers)  # started ...
        buildmod.render(example_manifest, workers=workers)  # ... but a small manifest renders here
        assert not workers._used
    assert started and not any(proc.is_alive() for proc in started)
    # a small manifest file gets no early worker at all
    monkeypatch.undo()
    with buildmod.Workers.early(example_manifest_path) as workers:
        assert not workers._workers


def test_an_early_worker_that_cannot_import_fails_the_build_with_that_error(example_manifest_path, tmp_path, monkeypatch):
    from coursehub.manifest.loader import load_manifest

    monkeypatch.setattr(buildmod, "EARLY_MIN_BYTES", 0)
    monkeypatch.setattr(buildmod, "PARALLEL_MIN_COURSES", 0)
    real = importlib.import_module

    def broken(name, *args):
        if name == "coursehub.cost.charts":  # (a broken matplotlib, say)
            raise ImportError("cannot import coursehub.cost.charts")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken)  # before the fork: the worker has it too
    with buildmod.Workers.early(example_manifest_path) as workers:
        model, warnings = load_manifest(example_manifest_path)
        with pytest.raises(ImportError, match="cannot import coursehub.cost.charts"):
            buildmod.build(model, tmp_path / "out", warnings=warnings, workers=workers)
    assert not (tmp_path / "out").exists()


def explode_late(ctx):
    """A generator that fails (in a worker when rendered aside)."""
    raise RuntimeError("worker family failed")


@pytest.mark.parametrize("early", [False, True], ids=["forked", "early"])
def test_a_family_failing_in_a_worker_fails_the_build_and_leaves_nothing(example_manifest, example_manifest_path, tmp_path, monkeypatch, early):
    out = tmp_path / "out"
    buildmod.build(example_manifest, out, only=["summary"])
    before = snapshot(out)
    monkeypatch.setattr(buildmod, "PARALLEL_MIN_COURSES", 0)
    monkeypatch.setattr(buildmod, "EARLY_MIN_BYTES", 0)
    monkeypatch.setattr(buildmod, "PARALLEL", (("boom",),))
    monkeypatch.setattr(buildmod, "GENERATORS", buildmod.GENERATORS + [("boom", f"{__name__}:explode_late")])
    only = ["summary", "links", "boom"]
    with buildmod.Workers.early(example_manifest_path, only) if early else contextlib.nullcontext() as workers:
        started = worker_processes(workers) if workers else []
        with pytest.raises(RuntimeError, match="worker family failed"):
            buildmod.build(example_manifest, out, only=only, workers=workers)
        assert bool(workers and workers._used) == early
    assert snapshot(out) == before
    assert not any(p.name.startswith(".out.coursehub") for p in tmp_path.iterdir())
    assert not any(proc.is_alive() for proc in started)


def test_the_sites_copies_of_link_files_are_hard_links_with_the_same_bytes(example_manifest, tmp_path):
    out = tmp_path / "out"
    buildmod.build(example_manifest, out, only=["links", "site"])
    pairs = [
        (out / "links" / "data-c8-fa26" / "index.html", out / "site" / "data-c8-fa26" / "handout.html"),
        (out / "links" / "data-c8-fa26" / "qr" / "lab01.svg", out / "site" / "data-c8-fa26" / "qr" / "lab01.svg"),
    ]
    for original, copy in pairs:
        assert copy.read_bytes() == original.read_bytes()
        assert copy.stat().st_ino == original.stat().st_ino  # one file on disk, written once


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (from /proc: field 6 of stat is the session id)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry))
    return found


@pytest.mark.slow
def test_sigterm_stops_a_large_build_and_every_process_it_started(tmp_path):
    """A university-sized build, cancelled while a child writes its links: exit 130, nothing swapped in,
    no staging folder, no worker or writer left running."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_build import synthetic

    uni = tmp_path / "uni"
    uni.mkdir()
    manifest = synthetic(uni, 300, 5)  # over PARALLEL_MIN_COURSES and ASIDE_MIN_FILES: workers and a writer
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "coursehub", "build", str(manifest), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # wait until the links family is being written (by its child), then cancel
        while not any(tmp_path.glob(".out.coursehub-new-*/links/*/qr")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(subprocess.signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode()
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.coursehub")]
    deadline = time.monotonic() + 10
    while _session(proc.pid) and time.monotonic() < deadline:  # a killed child is reaped within moments
        time.sleep(0.05)
    assert _session(proc.pid) == []
