"""Benchmark ``coursehub sync`` against a naive loop, on one real local JupyterHub in one run.

    .venv/bin/python benchmarks/bench_sync.py                      # 20,000 students in 500 courses
    .venv/bin/python benchmarks/bench_sync.py --students 2000 --courses 50 --naive all

Phases: first apply (an empty hub), a no-op re-sync, and a churn of 2% of the students (that many
drop and as many new students join). coursehub sync runs with the hub's ``coursehub-sync`` service
token (only the generated least-privilege role). The naive loop then does the same phases on the same
hub under its own names (``naive-`` users and groups, which sync does not own): one request per user
(create, 409 if present), per group (create) and per membership (add one user), and
for churn one read per group plus one request per member removed. It has no plan, so every run
repeats the whole loop. ``--naive first`` runs only its first pass (a full pass at 20,000 students
takes many minutes); its request counts for the other phases are then computed, not measured, and
marked so.

Prints a table of requests and wall time per phase; nothing is asserted. The hub's sqlite database
lives under --workdir (default: /dev/shm when present, so the disk's fsync speed is not what is
measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coursehub.hub.client import HubClient, HubRequestError  # noqa: E402
from coursehub.manifest.loader import load_manifest  # noqa: E402
from coursehub.hub.local import start_local_hub  # noqa: E402
from coursehub.sync import sync  # noqa: E402

TODAY = dt.date(2026, 11, 25)


def write_university(base: Path, rosters: dict[str, list[str]]) -> Path:
    """A manifest with one CSV roster per course, one instructor and one TA each."""
    (base / "rosters").mkdir(parents=True, exist_ok=True)
    lines = [
        "hub: {name: bench, url: https://hub.example.edu, image: data8, admins: [hubadmin]}",
        "images: {data8: {standard: data8}}",
        "courses:",
    ]
    for course, students in rosters.items():
        (base / "rosters" / f"{course}.csv").write_text("username\n" + "\n".join(students) + "\n")
        lines.append(
            f"  - {{id: {course}, title: {course}, term: {{start: 2026-08-26, end: 2026-12-18}}, "
            f"staff: {{instructors: [prof-{course}], tas: [ta-{course}]}}, students: {{csv: rosters/{course}.csv}}}}"
        )
    path = base / "manifest.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_rosters(students: int, courses: int) -> dict[str, list[str]]:
    names = [f"s{i:06d}" for i in range(students)]
    return {f"c{c:04d}": names[c::courses] for c in range(courses)}


def churn(rosters: dict[str, list[str]], fraction: float, *, seed: int = 5) -> dict[str, list[str]]:
    """Drop ``fraction`` of all students and add as many new ones, spread over the courses."""
    rng = random.Random(seed)
    everyone = sorted(s for r in rosters.values() for s in r)
    dropped = set(rng.sample(everyone, int(len(everyone) * fraction)))
    out = {c: [s for s in r if s not in dropped] for c, r in rosters.items()}
    courses = sorted(out)
    for i in range(len(dropped)):
        out[courses[i % len(courses)]].append(f"new{i:06d}")
    return out


def groups_of(rosters: dict[str, list[str]], prefix: str) -> dict[str, list[str]]:
    groups = {}
    for course, students in rosters.items():
        groups[f"{prefix}{course}-students"] = students
        groups[f"{prefix}{course}-instructors"] = [f"prof-{course}"]
        groups[f"{prefix}{course}-tas"] = [f"ta-{course}"]
    return groups


class Naive:
    """One request per user, per group and per membership, sequentially, with no plan."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.requests = 0

    def call(self, method: str, path: str, **kw) -> requests.Response:
        self.requests += 1
        r = self.session.request(method, self.api_url + path, timeout=120, **kw)
        if r.status_code >= 400 and r.status_code != 409:
            raise HubRequestError(method, path, r.status_code, r.text[:200])
        return r

    def run(self, rosters: dict[str, list[str]], *, remove: bool) -> None:
        groups = groups_of({f"naive-{c}": [f"naive-{s}" for s in r] for c, r in rosters.items()}, "")
        for name in groups:
            self.call("POST", f"/groups/{name}")
        for user in sorted({u for members in groups.values() for u in members}):
            self.call("POST", f"/users/{user}")
        for name, members in groups.items():
            for user in members:
                self.call("POST", f"/groups/{name}/users", json={"users": [user]})
            if remove:
                current = self.call("GET", f"/groups/{name}").json()["users"]
                for user in sorted(set(current) - set(members)):
                    self.call("DELETE", f"/groups/{name}/users", json={"users": [user]})


def naive_count(rosters: dict[str, list[str]], *, remove: bool, removed: int = 0) -> int:
    groups = groups_of(rosters, "")
    users = {u for m in groups.values() for u in m}
    n = len(groups) + len(users) + sum(map(len, groups.values()))
    return n + (len(groups) + removed if remove else 0)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--churn", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--naive", choices=["all", "first", "none"], default="first")
    parser.add_argument("--workdir", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the hub

    work = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.workdir))
    rosters = make_rosters(args.students, args.courses)
    churned = churn(rosters, args.churn)
    removed = sum(len(set(rosters[c]) - set(churned[c])) for c in rosters)
    before = load_manifest(write_university(work / "before", rosters))[0]
    after = load_manifest(write_university(work / "after", churned))[0]
    memberships = sum(len(m) for m in groups_of(rosters, "").values())
    print(
        f"{args.students} students in {args.courses} courses ({memberships} memberships), "
        f"churn {removed} students; hub in {work}"
    )

    rows = []
    hub = start_local_hub(before.model_copy(update={"courses": []}), workdir=work / "hub")
    try:
        token = hub.sync_token or hub.api_token
        for phase, manifest in (("first apply", before), ("no-op re-sync", before), ("2% churn", after)):
            client = HubClient(hub.api_url, token=token, concurrency=args.concurrency)
            (plan, result), seconds = timed(lambda: sync(manifest, client=client, today=TODAY, apply=True))
            assert result is None or not result.failures, result.failures[:5]
            rows.append([phase, client.requests_made, seconds])
            print(f"  coursehub {phase}: {client.requests_made} requests, {seconds:.1f} s, {plan.counts()}", flush=True)
        check = HubClient(hub.api_url, token=token)
        assert sync(after, client=check, today=TODAY)[0].empty, "not converged"
        phases = (("first apply", rosters, False), ("no-op re-sync", rosters, True), ("2% churn", churned, True))
        for phase, r, remove in phases:
            n = naive_count(r, remove=remove, removed=removed if phase == "2% churn" else 0)
            print(f"  naive {phase} would make {n} requests (computed)", flush=True)

        naive = Naive(hub.api_url, hub.api_token)
        for i, (phase, r, remove) in enumerate(
            (("first apply", rosters, False), ("no-op re-sync", rosters, True), ("2% churn", churned, True))
        ):
            expected = naive_count(r, remove=remove, removed=removed if phase == "2% churn" else 0)
            if args.naive == "all" or (args.naive == "first" and i == 0):
                start = naive.requests
                _, seconds = timed(lambda: naive.run(r, remove=remove))
                rows[i] += [naive.requests - start, seconds, ""]
                print(f"  naive {phase}: {naive.requests - start} requests, {seconds:.1f} s", flush=True)
            else:
                rows[i] += [expected, None, "(count computed, not run)"]
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    header = ("phase", "sync requests", "sync time", "naive requests", "naive time", "fewer requests")
    print("{:<16}{:>15}{:>11}{:>16}{:>12}{:>16}".format(*header))
    for phase, req, sec, nreq, nsec, note in rows:
        ntime = f"{nsec:.1f} s" if nsec is not None else "-"
        print(f"{phase:<16}{req:>15}{sec:>9.1f} s{nreq:>16}{ntime:>12}{nreq / req:>15.0f}x {note}")


if __name__ == "__main__":
    main()
