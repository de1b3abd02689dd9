"""How close loading a manifest comes to the parse floor: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_validate_parse.py [--courses 1000] [--students-per-course 40]

Writes a university-scale manifest (courses with CSV rosters, staff, content and two assignments
each), then times, best of three in this process:

- the parse floor: PyYAML's C loader over the manifest plus ``csv.reader`` over every roster;
- :func:`coursehub.manifest.loader.load_manifest`: the bounded parse, pydantic, rosters and every rule
  ``validate`` runs (links, images, files);
- ``coursehub validate --json`` as a command (imports and printing included).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from coursehub.manifest.loader import load_manifest


def write_university(root: Path, courses: int, per_course: int) -> Path:
    (root / "rosters").mkdir(parents=True)
    lines = ["hub:", "  name: big-uni", "  url: https://hub.example.edu", "  image: data8",
             "images:", "  data8: {standard: data8}", "courses:"]
    for i in range(courses):
        cid = f"course-{i:04d}"
        rows = "".join(f"s{i:04d}x{j:03d},Student {j}\n" for j in range(per_course))
        (root / "rosters" / f"{cid}.csv").write_text("username,name\n" + rows, encoding="utf-8")
        lines += [
            f"  - id: {cid}",
            f"    title: Course number {i}",
            "    term: {start: 2026-08-26, end: 2026-12-18}",
            "    resources: {memory: {limit: 2G}}",
            f"    staff: {{instructors: [prof-{i}], tas: [ta-{i}-a, ta-{i}-b]}}",
            f"    students: {{csv: rosters/{cid}.csv, column: username}}",
            f"    content: {{repo: 'https://github.com/example-org/{cid}', branch: main}}",
            "    assignments:",
            "      - {id: lab01, title: 'Lab 1', path: lab/lab01/lab01.ipynb, due: 2026-09-05, points: 10}",
            "      - {id: hw01, title: 'Homework 1', path: hw/hw01/hw01.ipynb, due: 2026-09-12, points: 20}",
        ]
    manifest = root / "manifest.yaml"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--courses", type=int, default=1000)
    parser.add_argument("--students-per-course", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_university(Path(tmp), args.courses, args.students_per_course)
        rosters = sorted((Path(tmp) / "rosters").glob("*.csv"))

        def floor() -> None:
            yaml.load(manifest.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            for path in rosters:
                with open(path, newline="", encoding="utf-8") as fh:
                    list(csv.reader(fh))

        parse_floor = best(floor)
        load = best(lambda: load_manifest(manifest))
        command = best(lambda: subprocess.run(
            [sys.executable, "-m", "coursehub", "validate", str(manifest), "--json"],
            check=True, capture_output=True,
        ))
    students = args.courses * args.students_per_course
    print(f"{args.courses} courses, {students} students")
    print(f"parse floor (libyaml + csv)      {parse_floor:6.3f} s")
    print(f"load_manifest (every rule)       {load:6.3f} s   {load / parse_floor:4.1f}x the floor")
    print(f"coursehub validate --json        {command:6.3f} s   {command / parse_floor:4.1f}x the floor (with imports)")


if __name__ == "__main__":
    main()
