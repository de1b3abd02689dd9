"""How long `coursehub cost` takes for a large university: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_cost.py [--courses 200] [--students-per-course 150]

Builds a synthetic manifest (courses with staggered terms, a few events, three node types, two of
them in pools some courses select), loads it, then times the report and the chart rendering.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from coursehub.cost import charts

from coursehub import emit
from coursehub.cost.report import report
from coursehub.manifest.loader import load_manifest


#: Three node types, two of them in a pool some courses select (``bench_build`` uses them too).
NODE_TYPES = [
    {"name": "small", "memory": "14G", "cpu": 1.8, "price_per_hour": 0.131, "labels": {"pool": "user"}},
    {"name": "medium", "memory": "28G", "cpu": 3.8, "price_per_hour": 0.262, "labels": {"pool": "user"}},
    {"name": "big", "memory": "120G", "cpu": 15.5, "price_per_hour": 1.05, "labels": {"pool": "big"}, "dedicated": True},
]


def synthetic(courses: int, per_course: int) -> dict:
    start = dt.date(2026, 8, 26)
    out = []
    for i in range(courses):
        event = i % 25 == 24
        s = start + dt.timedelta(days=(i * 3) % 60)
        e = s + dt.timedelta(days=2 if event else 110)
        c = {
            "id": f"course-{i:04d}",
            "title": f"Course {i}",
            "kind": "event" if event else "course",
            "term": {"start": s.isoformat(), "end": e.isoformat()},
            "students": [f"c{i}-s{j}" for j in range(per_course)],
            "resources": {"memory": {"guarantee": f"{512 * (1 + i % 4)}M", "limit": f"{1 + i % 4}G"}},
            "usage": {"peak_fraction": 0.9 if event else 0.2 + (i % 5) / 20},
        }
        if i % 10 == 0:
            c["node_selector"] = {"pool": "big"}
        out.append(c)
    return {
        "hub": {"name": "bench", "url": "https://hub.bench.edu", "image": "d"},
        "images": {"d": {"standard": "data8"}},
        "courses": out,
        "capacity": {"node_types": NODE_TYPES},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--courses", type=int, default=200)
    ap.add_argument("--students-per-course", type=int, default=150)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.yaml"
        path.write_bytes(emit.to_yaml(synthetic(args.courses, args.students_per_course)))
        t0 = time.perf_counter()
        manifest, _ = load_manifest(path)
        t1 = time.perf_counter()
        data = report(manifest)
        t2 = time.perf_counter()
        charts.cost_per_student(data, fmt="svg")
        charts.capacity_by_week(data, fmt="svg")
        t3 = time.perf_counter()
    peak = max(w["concurrent_servers"] for w in data["weeks"])
    print(f"courses: {args.courses}, students: {args.courses * args.students_per_course}, weeks: {len(data['weeks'])}")
    print(f"peak concurrent servers: {peak}, max nodes at peak: {data['max_nodes_at_peak']}")
    print(f"load manifest: {t1 - t0:.2f} s")
    print(f"cost report:   {t2 - t1:.2f} s")
    print(f"two charts:    {t3 - t2:.2f} s")
    print(f"total cost: {data['total_cost']:,.2f} {data['currency']}, warnings: {len(data['warnings'])}")


if __name__ == "__main__":
    main()
