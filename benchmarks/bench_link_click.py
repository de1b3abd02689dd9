"""How long a student waits from clicking an assignment link to having the file: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_link_click.py [--students 3]

Starts its own local JupyterHub (the example university) and a git server on loopback, then for each
of ``--students`` students measures, with the real nbgitpuller:

- cold: the click with the server stopped (launch + spawn + clone), until the file is on disk;
- first pull: a click on another course's link with the server running (clone only);
- re-click: the same link again after the instructor pushed a change (fetch + merge).

It also times ``links check`` for the repositories on the same server (cold cache, then warm).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
for key, value in {
    "GIT_AUTHOR_NAME": "coursehub bench",
    "GIT_AUTHOR_EMAIL": "bench@coursehub.invalid",
    "GIT_COMMITTER_NAME": "coursehub bench",
    "GIT_COMMITTER_EMAIL": "bench@coursehub.invalid",
}.items():
    os.environ.setdefault(key, value)

from gitserver import CONTENT, GitServer  # noqa: E402
from nbgitpuller_client import Student  # noqa: E402

from coursehub.links.check import check_links  # noqa: E402
from coursehub.links.url import build_link  # noqa: E402
from coursehub.manifest.loader import load_manifest  # noqa: E402
from coursehub.hub.local import start_local_hub  # noqa: E402

EXAMPLE = ROOT / "course-templates" / "example-university" / "manifest.yaml"


def wait_for_file(path: Path, start: float, timeout: float = 60) -> float:
    while not path.is_file():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{path} did not appear")
        time.sleep(0.01)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3)
    args = parser.parse_args()
    manifest, _ = load_manifest(EXAMPLE)
    # students in one course only, so the hub starts their server without asking which course
    others = {u for c in manifest.courses if c.id != "data-c8-fa26" for u in c.roster}
    students = [u for u in reversed(manifest.course("data-c8-fa26").roster) if u not in others][: args.students]
    figures: dict[str, list[float]] = {"cold": [], "first pull": [], "re-click": []}
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        git_server = GitServer(Path(tmp) / "repos")
        hub = None
        try:
            c8 = git_server.create_repo("data-c8-materials", CONTENT / "data-c8-materials")
            hack = git_server.create_repo("climate-hackweek", CONTENT / "climate-hackweek")
            t0 = time.monotonic()
            hub = start_local_hub(manifest, workdir=Path(tmp) / "hub")
            print(f"hub started in {time.monotonic() - t0:.1f} s")
            lab = build_link(hub=hub.url, repo=c8, branch="main", path="lab/lab01/lab01.ipynb")
            tutorial = build_link(hub=hub.url, repo=hack, branch="main", path="tutorials/01-xarray.ipynb")
            for n, name in enumerate(students):
                student = Student(hub, name)
                student.login()
                home = hub.workdir / "home" / name
                start = time.monotonic()
                click = student.click(lab.url)
                figures["cold"].append(wait_for_file(home / lab.folder / "lab/lab01/lab01.ipynb", start))
                assert click.finished, click.output
                start = time.monotonic()
                click = student.click(tutorial.url)
                figures["first pull"].append(wait_for_file(home / tutorial.folder / "tutorials/01-xarray.ipynb", start))
                git_server.push("data-c8-materials", {f"notes/week{n}.md": f"week {n}\n"})
                start = time.monotonic()
                click = student.click(lab.url)
                assert click.finished, click.output
                figures["re-click"].append(wait_for_file(home / lab.folder / f"notes/week{n}.md", start))
                student.stop_server()
        finally:
            if hub:
                hub.stop()
        print(f"click -> file present, {len(students)} students (seconds):")
        for label, values in figures.items():
            if values:
                print(f"  {label:11s} median {statistics.median(values):6.2f}  min {min(values):6.2f}  max {max(values):6.2f}")
        check = manifest.model_copy(deep=True)
        for course in check.courses:
            course.content.repo = {"data-c8-fa26": c8, "climate-hackweek-26": hack}.get(course.id, c8)
        for label in ("cold cache", "warm cache"):
            start = time.monotonic()
            results = check_links(check, cache_dir=Path(tmp) / "cache", jobs=4)
            print(f"links check ({len(results)} links, {label}): {time.monotonic() - start:.2f} s")
        git_server.stop()


if __name__ == "__main__":
    main()
