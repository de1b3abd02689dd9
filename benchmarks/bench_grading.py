"""Grading throughput: ``coursehub grade`` against a loop of ``otter run``, on the same submissions.

Builds N submissions of the example Data 8 lab (a mix of correct, partial and wrong answers),
then grades them twice in one run:

* ``coursehub grade`` (warm engine, default workers: one per core), started as its own process;
* the common Docker-free way: a shell-style loop calling ``otter run`` once per submission.

Prints submissions per minute and peak memory (proportional set size of the whole process
tree, sampled every 0.1 s) for both, and checks that both give every student the same score.

    .venv/bin/python benchmarks/bench_grading.py [--count 100] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.grading.make import MANIFEST, otter_submission  # noqa: E402

from coursehub.grading.otter import assign  # noqa: E402

KINDS = ("correct", "partial", "wrong")


def _pss(pid: int) -> int:
    # proportional set size: a page shared by n processes counts 1/n in each, so forks that
    # share the warm grader's pages are not counted once per fork (summed RSS would)
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """Peak memory (summed PSS) of a process and all its descendants, sampled on a thread."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            total = 0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                total += _pss(p.pid)
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_coursehub(subs: Path, out: Path, workers: int | None) -> tuple[float, int]:
    args = [sys.executable, "-m", "coursehub", "grade", str(MANIFEST), "data-c8-fa26", "lab01", str(subs), "-o", str(out)]
    if workers:
        args += ["--workers", str(workers)]
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakMemory(proc.pid) as mem:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"coursehub grade failed:\n{err}")
    return time.monotonic() - start, mem.peak


def run_otter_loop(subs: Path, autograder: Path, out: Path, students: list[str]) -> tuple[float, int, dict[str, float]]:
    """``for s in submissions: otter run -a autograder.zip -o out/s s/lab01.ipynb``, timed as a whole."""
    scores: dict[str, float] = {}
    peak = 0
    start = time.monotonic()
    for i, student in enumerate(students, 1):
        dest = out / student
        dest.mkdir(parents=True)
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "otter"), "run", "-a", str(autograder), "-o", str(dest),
             str(subs / student / "lab01.ipynb")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with PeakMemory(proc.pid) as mem:
            proc.wait()
        peak = max(peak, mem.peak)
        results = json.loads((dest / "results.json").read_text())
        scores[student] = float(sum(t.get("score", 0) for t in results["tests"]))
        if i % 10 == 0:
            elapsed = time.monotonic() - start
            print(f"  otter run loop: {i}/{len(students)} in {elapsed:.0f}s ({i / elapsed * 60:.1f}/min so far)", flush=True)
    return time.monotonic() - start, peak, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="submissions to grade (default 100)")
    parser.add_argument("--workers", type=int, default=None, help="coursehub workers (default: one per core)")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        subs = work / "subs"
        students = [f"student{i:03d}" for i in range(opts.count)]
        texts = {kind: otter_submission(kind) for kind in KINDS}
        for i, student in enumerate(students):
            (subs / student).mkdir(parents=True)
            (subs / student / "lab01.ipynb").write_text(texts[KINDS[i % 3]])
        autograder = work / "autograder.zip"
        autograder.write_bytes(assign(ROOT / "course-templates/example-university/source/data-c8-fa26/lab01/lab01.ipynb").autograder_zip())
        print(f"{opts.count} submissions of data-c8-fa26/lab01 on {psutil.cpu_count()} cores")

        ours_s, ours_peak = run_coursehub(subs, work / "coursehub-out", opts.workers)
        with open(work / "coursehub-out" / "grades.csv", newline="") as fh:
            # the roster's students without a submission have `missing` rows; the loop knows only submissions
            ours_scores = {r["student"]: float(r["score"]) for r in csv.DictReader(fh) if r["status"] != "missing"}
        ours_rate = opts.count / ours_s * 60
        print(f"coursehub grade : {ours_s:7.1f} s  {ours_rate:7.1f} submissions/min  peak {ours_peak / 2**20:7.0f} MiB "
              f"(includes start-up and otter assign)", flush=True)

        loop_s, loop_peak, loop_scores = run_otter_loop(subs, autograder, work / "loop-out", students)
        loop_rate = opts.count / loop_s * 60
        print(f"otter run loop  : {loop_s:7.1f} s  {loop_rate:7.1f} submissions/min  peak {loop_peak / 2**20:7.0f} MiB")
        print(f"speed-up        : {ours_rate / loop_rate:.1f}x")
        same = ours_scores == loop_scores
        print(f"same scores     : {same}")
        if not same:
            diff = {s: (ours_scores.get(s), loop_scores.get(s)) for s in students if ours_scores.get(s) != loop_scores.get(s)}
            print(f"  differing: {dict(list(diff.items())[:10])}")
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
