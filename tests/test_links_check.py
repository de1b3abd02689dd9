"""``coursehub links check`` against a real git server on loopback."""

from __future__ import annotations

import textwrap

import pytest
from gitserver import CONTENT, git_server  # noqa: F401  (fixture)

from coursehub.links.check import check_links
from coursehub.manifest.loader import load_manifest


@pytest.fixture(scope="module")
def check_repos(git_server):
    good = git_server.create_repo("check-c8", CONTENT / "data-c8-materials", extra={"extras/Lab 2 — é.ipynb": "{}"})
    git_server.push("check-c8", {"hw/hw02/hw02.ipynb": "{}"}, branch="release/fa26")
    other = git_server.create_repo("check-stat20", CONTENT / "stat-20-materials")
    return {"good": good, "other": other, "missing": git_server.url + "no-such-repo"}


def write_manifest(tmp_path, repos) -> str:
    text = textwrap.dedent(
        f"""\
        hub: {{name: test-hub, url: https://hub.example.edu, image: data8}}
        images: {{data8: {{standard: data8}}}}
        courses:
          - id: c8
            title: C8
            term: {{start: 2026-08-26, end: 2026-12-18}}
            students: [alice]
            content: {{repo: "{repos['good']}", branch: main}}
            assignments:
              - {{id: lab01, path: lab/lab01/lab01.ipynb}}
              - {{id: lab02, path: "extras/Lab 2 — é.ipynb"}}
              - {{id: hw09, path: hw/hw09/hw09.ipynb}}
          - id: c8-release
            title: C8 release branch
            term: {{start: 2026-08-26, end: 2026-12-18}}
            students: [alice]
            content: {{repo: "{repos['good']}/", branch: release/fa26}}
            assignments:
              - {{id: hw02, path: hw/hw02/hw02.ipynb}}
          - id: stat
            title: Stat
            term: {{start: 2026-08-26, end: 2026-12-18}}
            students: [alice]
            content: {{repo: "{repos['other']}", branch: fall-2026}}
            assignments:
              - {{id: lab01, path: labs/lab01.Rmd}}
          - id: gone
            title: Gone
            term: {{start: 2026-08-26, end: 2026-12-18}}
            students: [alice]
            content: {{repo: "{repos['missing']}", branch: main}}
            assignments:
              - {{id: lab01, path: lab01.ipynb}}
        """
    )
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_reports_missing_branch_file_and_repo(tmp_path, check_repos, git_server):
    manifest, _ = load_manifest(write_manifest(tmp_path, check_repos))
    before = len(git_server.requests)
    results = {(r.course, r.assignment): r for r in check_links(manifest, cache_dir=tmp_path / "cache", jobs=3)}
    assert results[("c8", "lab01")].ok
    assert results[("c8", "lab02")].ok
    assert results[("c8-release", "hw02")].ok
    assert not results[("c8", "hw09")].ok
    assert "'hw/hw09/hw09.ipynb' is not on branch 'main'" in results[("c8", "hw09")].reason
    assert not results[("stat", "lab01")].ok
    assert results[("stat", "lab01")].reason == "branch 'fall-2026' does not exist"
    assert not results[("gone", "lab01")].ok
    assert results[("gone", "lab01")].reason.startswith("repository unreachable")
    assert len(git_server.requests) > before  # it really asked the server
    # the fetch was shallow and blob-less: the cache holds trees but not the notebooks' contents
    import subprocess

    caches = [p for p in (tmp_path / "cache").iterdir() if (p / "HEAD").exists()]
    assert caches
    for cache in caches:
        shallow = cache / "shallow"
        assert shallow.exists()
        objects = subprocess.run(["git", "count-objects", "-v"], cwd=cache, capture_output=True, text=True).stdout
        blobs = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"], cwd=cache, capture_output=True, text=True
        ).stdout.split()
        assert "blob" not in blobs, objects


def test_cli_check_exits_1_with_a_table(tmp_path, check_repos, run_cli, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = write_manifest(tmp_path, check_repos)
    code, out, err = run_cli("links", "check", path)
    assert code == 1
    assert "BROKEN: branch 'fall-2026' does not exist" in out
    assert "hw09" in out and "BROKEN" in out
    assert "6 assignment links in 4 repositories, 3 broken" in out
    assert "3 of 6 links are broken" in err
    assert (tmp_path / "xdg" / "coursehub" / "links").is_dir()


def test_cli_check_passes_for_a_good_course(tmp_path, check_repos, run_cli):
    path = write_manifest(tmp_path, check_repos)
    code, out, err = run_cli("links", "check", path, "--course", "c8-release", "--cache-dir", tmp_path / "c")
    assert code == 0, err
    assert "1 assignment links in 1 repositories, 0 broken" in out


# --- a git host that hangs -----------------------------------------------------------------------------


def _hung_manifest(tmp_path, url: str):
    path = tmp_path / "hung.yaml"
    path.write_text(textwrap.dedent(f"""\
        hub: {{name: test-hub, url: https://hub.example.edu, image: data8}}
        images: {{data8: {{standard: data8}}}}
        courses:
          - id: c1
            title: C1
            term: {{start: 2026-08-26, end: 2026-12-18}}
            content: {{repo: "{url}/org/hung-repo"}}
            assignments:
              - {{id: lab01, path: lab01.ipynb}}
        """), encoding="utf-8")
    return path


def _git_processes_for(url: str) -> list:
    """Live processes whose command line names ``url`` (git, git-remote-http), zombies excluded."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and any(url in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _kill_leftovers(procs) -> None:
    # only the processes this test found by its own server's URL, so a failure leaves nothing running
    for proc in procs:
        try:
            proc.kill()
        except Exception:
            pass


def _no_git_left(url: str, within: float = 5.0) -> list:
    import time

    deadline = time.monotonic() + within
    while (left := _git_processes_for(url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_hung_git_host_times_out_and_leaves_no_git_running(tmp_path):
    import time

    from silentserver import silent_server

    with silent_server() as server:
        manifest, _ = load_manifest(_hung_manifest(tmp_path, server.url))
        started = time.monotonic()
        [result] = check_links(manifest, cache_dir=tmp_path / "cache", timeout=2)
        elapsed = time.monotonic() - started
        left = _no_git_left(server.url)
        _kill_leftovers(left)
        assert server.accepted >= 1  # git really connected and waited
    assert not result.ok and "timed out after 2s" in result.reason
    assert elapsed < 10
    assert not left, [(p.pid, p.info["cmdline"]) for p in left]


@pytest.mark.parametrize("to", ["process-group", "process"])
def test_ctrl_c_during_a_check_leaves_no_git_running(tmp_path, to):
    """SIGINT while git waits on a hung host: sent the way a terminal's Ctrl-C is (to the foreground
    process group), and to coursehub alone (``kill -INT``, a CI job cancelled)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from silentserver import silent_server

    with silent_server() as server:
        manifest = _hung_manifest(tmp_path, server.url)
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        # its own session stands in for the terminal's process group
        cli = subprocess.Popen([sys.executable, "-m", "coursehub", "links", "check", str(manifest), "--timeout", "120"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not any("remote-http" in " ".join(p.info["cmdline"]) for p in _git_processes_for(server.url)):
                assert cli.poll() is None and time.monotonic() < deadline, "git never reached the hung host"
                time.sleep(0.1)
            if to == "process-group":
                os.killpg(cli.pid, signal.SIGINT)
            else:
                os.kill(cli.pid, signal.SIGINT)
            _, err = cli.communicate(timeout=15)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        left = _no_git_left(server.url)
        _kill_leftovers(left)
    assert cli.returncode == 130, err.decode()[-2000:]
    assert "interrupted" in err.decode()
    assert not left, [(p.pid, p.info["cmdline"]) for p in left]


def test_one_row_per_repository_and_reason_and_progress_names_what_it_waits_on(tmp_path, check_repos, run_cli):
    text = write_manifest(tmp_path, check_repos).read_text().replace(
        "- {id: lab01, path: lab01.ipynb}\n",
        "- {id: lab01, path: lab01.ipynb}\n      - {id: lab02, path: lab02.ipynb}\n      - {id: hw01, path: hw01.ipynb}\n",
    )
    assert "hw01.ipynb" in text
    path = tmp_path / "grouped.yaml"
    path.write_text(text)
    code, out, err = run_cli("links", "check", path, "--course", "gone", "--course", "c8", "--cache-dir", tmp_path / "c")
    assert code == 1
    # three assignments of an unreachable repository: the error once, with the three under it
    assert out.count("repository unreachable") == 1
    assert "gone/lab01, gone/lab02, gone/hw01" in " ".join(out.split())
    # one repository with a good and a missing file: two rows, the repository named once
    assert out.count("check-c8") == 1 and "c8/lab01, c8/lab02" in out and "BROKEN: 'hw/hw09/hw09.ipynb'" in out
    # not a terminal: plain progress lines, the last one says it is done
    assert "links check: 2/2 done in" in err
    seen = []
    manifest, _ = load_manifest(path)
    check_links(manifest, cache_dir=tmp_path / "c", progress=lambda done, total, waiting: seen.append((done, total, waiting)))
    assert any(check_repos["missing"] in waiting for _, _, waiting in seen), seen
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == []


def test_local_mode_checks_the_local_content_offline(example_manifest_path, tmp_path, run_cli, monkeypatch):
    import shutil

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    uni = tmp_path / "uni"
    shutil.copytree(example_manifest_path.parent, uni)
    (uni / "content" / "data-c88-materials" / "hw01" / "hw01.ipynb").unlink()
    manifest = uni / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(", local: content/climate-hackweek}", "}"))
    code, out, err = run_cli("links", "check", manifest, "--local")
    assert code == 1, err
    flat = " ".join(out.split())
    assert "data-c8-fa26/lab01, data-c8-fa26/hw01 │ ok" in flat
    assert "(local copy: content/data-c88-materials)" in flat
    assert "data-c88-fa26/hw01 │ BROKEN: 'hw01/hw01.ipynb' is not on branch 'main'" in flat
    assert "climate-hackweek-26/tutorial01 │ BROKEN: no local copy to check against" in flat
    assert "2 of 6 links are broken" in err
    assert not (tmp_path / "xdg").exists()  # local URLs change every run: their fetches are not cached
