"""What coursehub's per-course configuration costs at spawn time: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_spawn.py [--courses 1000] [--users 50000] [--spawns 3] [--no-hub]

1. Resolution: the runtime (:mod:`coursehub.hub.runtime.spawn`) on synthetic data for ``--courses`` courses and
   ``--users`` users (each a student of 1-3 courses, staggered terms). Times building the index
   once (at hub start), resolving a server's course (its name + the user's groups + dates) and the whole
   ``apply_user_options`` hook on a real JupyterHub spawner, in microseconds per spawn.
2. Spawn time on the local hub, with and without coursehub's configuration, in the same run: the
   same manifest, ``--spawns`` start-to-ready cycles each, alternating hubs; prints the medians and
   their ratio (close to 1.0 means the configuration adds nothing you would notice).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from coursehub.hub.runtime import spawn


def synthetic_data(courses: int, users: int, seed: int = 4) -> tuple[dict, list[list[str]]]:
    rng = random.Random(seed)
    settings = {
        "image": "example/data8:abc",
        "image_key": "data8",
        "interface": "lab",
        "default_url": "/lab",
        "mem_guarantee": 512 * 1024**2,
        "mem_limit": 1024**3,
        "cpu_guarantee": 0.05,
        "cpu_limit": 1.0,
        "idle_timeout": 1800,
        "environment": {},
        "node_selector": {},
        "shared_data": None,
    }
    start = dt.date(2026, 8, 26)
    data = {"version": spawn.DATA_VERSION, "defaults": settings, "courses": {}, "groups": {}, "roles": []}
    for i in range(courses):
        cid = f"course-{i:04d}"
        s = start + dt.timedelta(days=(i * 7) % 90)
        data["courses"][cid] = {
            "title": f"Course {i}",
            "start": s.isoformat(),
            "end": (s + dt.timedelta(days=110)).isoformat(),
            "groups": {r: f"coursehub-{cid}-{r}" for r in ("students", "instructors", "tas")},
            "settings": {**settings, "mem_limit": (1 + i % 4) * 1024**3, "environment": {"COURSE": cid}},
        }
    ids = list(data["courses"])
    memberships = [[f"coursehub-{c}-students" for c in rng.sample(ids, rng.randint(1, 3))] for _ in range(users)]
    return data, memberships


def bench_resolution(courses: int, users: int) -> None:
    from jupyterhub.spawner import LocalProcessSpawner

    data, memberships = synthetic_data(courses, users)
    t = time.perf_counter()
    index = spawn.CourseIndex(data)
    build_ms = (time.perf_counter() - t) * 1000
    day = dt.date(2026, 11, 25)

    def course_of(group: str) -> str:
        return group[len("coursehub-") : -len("-students")]

    t = time.perf_counter()
    for groups in memberships:
        try:
            index.resolve(groups, course_of(groups[-1]), day)
        except spawn.CourseRefused:
            pass
    resolve_us = (time.perf_counter() - t) / len(memberships) * 1e6

    # the whole hook, as JupyterHub calls it, on real spawners (a few reused: creating a spawner is
    # JupyterHub's cost, not ours)
    spawners = []
    for k in range(8):
        sp = LocalProcessSpawner(user=SimpleNamespace(name=f"u{k}", groups=[]), orm_spawner=SimpleNamespace(name="", server=None))
        sp.log.disabled = True
        spawners.append(sp)
    sample = memberships[:5000]
    t = time.perf_counter()
    for n, groups in enumerate(sample):
        sp = spawners[n % len(spawners)]
        sp.user = SimpleNamespace(name=f"u{n}", groups=[SimpleNamespace(name=g) for g in groups])
        sp.orm_spawner = SimpleNamespace(name=course_of(groups[-1]), server=None)  # the course's named server
        index.apply_user_options(sp, {})
    hook_us = (time.perf_counter() - t) / len(sample) * 1e6

    print(f"resolution: {courses} courses, {users} users")
    print(f"  index built once at hub start: {build_ms:.1f} ms")
    print(f"  resolve (server name + groups + dates): {resolve_us:.2f} µs per spawn")
    print(f"  apply_user_options hook on a JupyterHub spawner: {hook_us:.1f} µs per spawn")


#: the course server both hubs start (without coursehub's configuration it is a plain named server)
SERVER = "data-c8-fa26"


def _spawn_once(hub, user: str) -> float:
    t = time.perf_counter()
    r = hub.api("POST", f"/users/{user}/servers/{SERVER}")
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = hub.api("GET", f"/users/{user}").json()["servers"].get(SERVER)
        if model and model["ready"]:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - t
    hub.api("DELETE", f"/users/{user}/servers/{SERVER}")
    while hub.api("GET", f"/users/{user}").json()["servers"]:
        time.sleep(0.1)
    return seconds


def bench_hub(spawns: int) -> None:
    from coursehub.manifest.loader import load_manifest
    from coursehub.hub.local import start_local_hub

    manifest_path = Path(__file__).resolve().parents[1] / "course-templates" / "example-university" / "manifest.yaml"
    manifest = load_manifest(manifest_path)[0]
    user = next(c for c in manifest.courses if c.id == "data-c8-fa26").roster[-1]
    with tempfile.TemporaryDirectory() as tmp:
        with start_local_hub(manifest, workdir=Path(tmp) / "plain", course_config=False) as plain, start_local_hub(
            manifest, workdir=Path(tmp) / "coursehub"
        ) as configured:
            times: dict[str, list[float]] = {"without": [], "with": []}
            for _ in range(spawns):
                times["without"].append(_spawn_once(plain, user))
                times["with"].append(_spawn_once(configured, user))
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"local hub spawn (start to ready, median of {spawns}, alternating):")
    print(f"  without coursehub's configuration: {without:.2f} s  {[round(t, 2) for t in times['without']]}")
    print(f"  with coursehub's configuration:    {with_:.2f} s  {[round(t, 2) for t in times['with']]}")
    print(f"  ratio with/without: {with_ / without:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50000)
    parser.add_argument("--spawns", type=int, default=3)
    parser.add_argument("--no-hub", action="store_true", help="Skip the local-hub part (it starts two hubs).")
    args = parser.parse_args()
    bench_resolution(args.courses, args.users)
    if not args.no_hub:
        bench_hub(args.spawns)


if __name__ == "__main__":
    main()
