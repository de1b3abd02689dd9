"""How long `coursehub validate` and `coursehub build` take for a university: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_build.py [--courses 1000] [--students-per-course 40] [--no-site]

Writes a synthetic university into a temporary folder (1,000 courses of 40 students each by default,
every roster a CSV file, two assignments per course, a few images and node pools, some events), then
measures, each as the real command line in its own process:

- the *parse floor*: reading the same manifest and rosters with PyYAML's C loader and the csv module,
  in this process (the least any validation can cost);
- ``coursehub validate`` (best of three, as the floor is); ``coursehub build`` into an empty folder
  (best of three too: the file system's speed varies between runs far more than parsing does); the
  same build again with nothing changed; the build's peak memory (the largest process, from
  ``wait4``'s rusage of that one command, and the whole process tree sampled from /proc, which counts
  the worker process too);
- the *write floor*: the built files written again with plain os calls (best of three): not a target,
  but what the file system cost at the time (it varies several-fold on these machines, see
  :func:`write_floor`);
- ``mkdocs build`` of the guide site with the catalogue generated from this manifest (one page per course).

and prints each time with its ratio to the parse floor, beside the targets of issue 14.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from bench_cost import NODE_TYPES  # benchmarks/ is on the path when a benchmark runs

from coursehub import emit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIRST = ["ana", "ben", "chen", "dara", "elif", "femi", "gus", "hana", "ivan", "jamal", "kim", "lena"]
LAST = ["li", "nguyen", "costa", "reyes", "brown", "novak", "okafor", "silva", "kaur", "moreno"]


def synthetic(root: Path, courses: int, per_course: int) -> Path:
    """Write the manifest and its rosters under ``root``; return the manifest's path."""
    (root / "rosters").mkdir()
    start = dt.date(2026, 8, 26)
    out = []
    for i in range(courses):
        cid = f"course-{i:04d}-fa26"
        event = i % 50 == 49
        s = start + dt.timedelta(days=(i * 7) % 42)
        e = s + dt.timedelta(days=2 if event else 110)
        with open(root / "rosters" / f"{cid}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["username", "name", "email"])
            for j in range(per_course):
                first, last = FIRST[(i + j) % len(FIRST)], LAST[(i * 7 + j) % len(LAST)]
                user = f"{first}.{last}{i * per_course + j}"
                w.writerow([user, f"{first.title()} {last.title()}", f"{user}@example.edu"])
        course = {
            "id": cid,
            "title": f"Course {i}: {'Hackweek' if event else 'Data Science'} section {i % 17}",
            "kind": "event" if event else "course",
            "term": {"start": s.isoformat(), "end": e.isoformat()},
            "image": ["data8", "r-stats", "geo"][i % 3 if i % 5 == 0 else 0],
            "interface": ["lab", "notebook", "rstudio"][i % 3 if i % 5 == 0 else 0],
            "resources": {"memory": {"guarantee": f"{512 * (1 + i % 4)}M", "limit": f"{1 + i % 4}G"}},
            "staff": {"instructors": [f"prof-{i}"], "tas": [f"ta-{i}-a", f"ta-{i}-b"]},
            "students": {"csv": f"rosters/{cid}.csv"},
            "content": {"repo": f"https://github.com/example-org/{cid}-materials", "branch": "main"},
            "assignments": [
                {"id": "lab01", "title": "Lab 1", "path": "lab/lab01/lab01.ipynb", "due": (s + dt.timedelta(days=10)).isoformat(), "points": 10},
                {"id": "hw01", "title": "Homework 1", "path": "hw/hw01/hw01.ipynb", "due": (s + dt.timedelta(days=17)).isoformat(), "points": 20},
            ],
        }
        if event:
            course["usage"] = {"peak_fraction": 0.9, "hours_per_student_per_week": 56}
        if i % 10 == 0:
            course["node_selector"] = {"pool": "big"}
        out.append(course)
    manifest = {
        "hub": {"name": "bench-university", "url": "https://hub.bench.edu", "image": "data8", "admins": ["it-admin"]},
        "images": {
            "data8": {"standard": "data8"},
            "r-stats": {"standard": "r"},
            "geo": {"standard": "data8", "packages": ["xarray==2026.9.0", "pooch==1.9.0"]},
        },
        "courses": out,
        "capacity": {"node_types": NODE_TYPES},
    }
    path = root / "manifest.yaml"
    path.write_bytes(emit.to_yaml(manifest))
    return path


def parse_floor(manifest: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to read the manifest with libyaml and every roster with csv (best of three)."""
    best = best_cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        data = yaml.load(manifest.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        n = 0
        for course in data["courses"]:
            with open(manifest.parent / course["students"]["csv"], newline="", encoding="utf-8") as fh:
                n += sum(1 for _ in csv.DictReader(fh))
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def write_floor(tree: Path, scratch: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to write the files of ``tree`` again with plain os calls (best of three).

    The least writing a build of it can cost: one mkdir per folder, one create and write per distinct
    content, a hard link for each repeat (as the build links the site's copies of link files). ext4
    without a journal, as on these machines, skips the inodes of files deleted in the last minute or
    more when it allocates new ones, so creating files right after deleting many costs several times
    as much: this row shows what the file system cost when the builds ran."""
    files = sorted((p.relative_to(tree).as_posix(), p.read_bytes()) for p in tree.rglob("*") if p.is_file())
    best = best_cpu = float("inf")
    for attempt in range(3):
        root = scratch / f"write-floor-{attempt}"
        root.mkdir()
        t0, c0 = time.perf_counter(), time.process_time()
        made: set[str] = set()
        first: dict[bytes, str] = {}
        for rel, content in files:
            target = os.path.join(root, rel)
            folder = os.path.dirname(target)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            if content in first:
                os.link(first[content], target)
                continue
            first[content] = target
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, content)
            os.close(fd)
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (0 once gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def run(cmd: list[str], *, cwd: Path) -> tuple[float, int, int, int, float]:
    """Run ``cmd``; return (seconds, exit status, largest process's peak RSS, peak RSS of the tree, CPU seconds).

    CPU seconds (user + system, the command's own and its workers') do not grow when other work shares
    the machine, as the wall-clock time does."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.wait(0.05):
            peak_tree = max(peak_tree, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode:
        sys.stderr.write(stderr.decode("utf-8", "replace")[-3000:])
    # ru_maxrss is in KiB on Linux; wait4's usage is the child's, including the children it reaped
    return elapsed, proc.returncode, usage.ru_maxrss * 1024, peak_tree, usage.ru_utime + usage.ru_stime


def site_config(tmp: Path, manifest: Path) -> Path:
    """An mkdocs.yml for the guide site whose catalogue comes from ``manifest``."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    text = text.replace("docs_dir: guides", f"docs_dir: {ROOT / 'guides'}")
    text = text.replace("- guides_gen/", f"- {ROOT / 'guides_gen'}/")  # the gen-files script and the hooks
    text = text.replace("coursehub_manifest: course-templates/example-university/manifest.yaml", f"coursehub_manifest: {manifest}")
    config = tmp / "mkdocs.yml"
    config.write_text(text, encoding="utf-8")
    return config


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--courses", type=int, default=1000)
    ap.add_argument("--students-per-course", type=int, default=40)
    ap.add_argument("--no-site", action="store_true", help="Skip the mkdocs build.")
    ap.add_argument("--keep", type=Path, help="Copy the generated manifest folder here.")
    args = ap.parse_args()
    coursehub = str(BIN / "coursehub")
    with tempfile.TemporaryDirectory(prefix="coursehub-bench-") as tmp_name:
        tmp = Path(tmp_name)
        uni = tmp / "university"
        uni.mkdir()
        manifest = synthetic(uni, args.courses, args.students_per_course)
        if args.keep:
            shutil.copytree(uni, args.keep, dirs_exist_ok=True)
        floor, floor_cpu = parse_floor(manifest)
        rows: list[tuple[str, float, float | None, str]] = [("parse floor (libyaml + csv)", floor, floor_cpu, "")]

        def step(label: str, cmd: list[str], target: str) -> tuple[float, int, int]:
            seconds, status, rss, tree, cpu = run(cmd, cwd=uni)
            rows.append((label + ("" if status == 0 else f" (exit {status})"), seconds, cpu, target))
            return seconds, rss, tree

        # validate, like the floor it is compared with, is the best of three
        checks = [run([coursehub, "validate", str(manifest)], cwd=uni) for _ in range(3)]
        seconds, status, _, _, cpu = min(checks)
        rows.append(("coursehub validate (best of 3)" + ("" if status == 0 else f" (exit {status})"), seconds, cpu, "<= 3x floor"))
        # The build writes 10,000 files: the file system's speed varies from run to run far more than
        # parsing does, so the build, like the floor, is the best of three (each into an empty folder).
        builds = [run([coursehub, "build", str(manifest), "-o", str(tmp / f"out{i}")], cwd=uni) for i in range(3)]
        seconds, status, rss, tree, cpu = min(builds)
        rows.append(("coursehub build (best of 3)" + ("" if status == 0 else f" (exit {status})"), seconds, cpu,
                     "<= 10x floor and < 15 s"))
        rows.append(("  the three builds", seconds, cpu, "  ".join(f"{b[0]:.2f} s" for b in builds)))
        rss, tree = max(b[2] for b in builds), max(b[3] for b in builds)
        written, written_cpu = write_floor(tmp / "out0", tmp)
        rows.append(("  write floor (the same files, os calls)", written, written_cpu, "context: the file system's part"))
        (tmp / "out0").rename(tmp / "out")
        step("coursehub build, nothing changed", [coursehub, "build", str(manifest), "-o", str(tmp / "out")], "about validate")
        step("coursehub build --check", [coursehub, "build", str(manifest), "-o", str(tmp / "out"), "--check"], "")
        if not args.no_site:
            config = site_config(tmp, manifest)
            step("mkdocs build (guide site + catalogue)", [str(BIN / "mkdocs"), "build", "-q", "-f", str(config), "-d", str(tmp / "site")], "< 60 s")
        files = sum(1 for p in (tmp / "out").rglob("*") if p.is_file())

    print(f"courses: {args.courses}, students: {args.courses * args.students_per_course}, "
          f"assignments: {2 * args.courses}, files built: {files}, cores: {os.cpu_count()}")
    print(f"  {'':42s} {'wall':>9s}  {'':13s}  {'CPU':>8s}  {'':11s}")
    for label, seconds, cpu, target in rows:
        if label == "  the three builds":
            print(f"  {label:42s} {target}")
            continue
        ratio = "" if seconds is floor else f"{seconds / floor:6.1f}x floor"
        cpu_ratio = "" if seconds is floor else f"{cpu / floor_cpu:6.1f}x"
        print(f"  {label:42s} {seconds:7.2f} s  {ratio:13s}  {cpu:6.2f} s  {cpu_ratio:9s}  {target}")
    print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'build peak RSS, largest process':42s} {rss / 2**20:7.0f} MiB")
    print(f"  {'build peak RSS, whole process tree':42s} {tree / 2**20:7.0f} MiB  (target < 1024 MiB)")


if __name__ == "__main__":
    main()
