"""The standard environments most courses share, pinned, kept as reviewed data.

Two standard sets ship with coursehub, each a JSON file in ``coursehub/images/standard_sets/``:

``data8``
    The Python environment UC Berkeley's Data 8 image is known for (the ``datascience`` library, the
    scientific stack, otter-grader, nbgitpuller, JupyterLab, Notebook 7 and the JupyterHub
    single-user server). Besides the top-level pins the file holds the **lock**: the full transitive
    closure pip resolved for those pins (every package, its version and its declared requirements).
    Builds need no network: every generated image context is pinned from this file.
``r``
    R (a release and a CRAN snapshot date, which fixes every CRAN package's version) with tidyverse
    and friends, plus the small Python side a hub needs (single-user server, nbgitpuller), taken
    from the ``data8`` lock.

Updating a standard is a reviewed change: ``coursehub images standard data8 --relock`` re-resolves
the top-level pins with pip and rewrites the file; ``tests/test_images_standard.py`` records the
set's digest, so the change shows up in review as a data diff plus a one-line test edit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from coursehub import emit
from coursehub.errors import CoursehubError

STANDARD_NAMES = ("data8", "r")

#: The platform images are built for. Requirement markers in the lock are evaluated against it, so
#: a Windows-only dependency is not treated as part of the image.
IMAGE_PLATFORM = {
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


@dataclass(frozen=True)
class Locked:
    """One package of a lock: the exact version, and what it declares it requires (PEP 508)."""

    name: str  # as the package spells it (Jinja2)
    version: str
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class TopLevel:
    """A package a standard set includes on purpose, and why."""

    name: str
    version: str | None  # None for R packages: the CRAN snapshot date pins them
    why: str


@dataclass(frozen=True)
class StandardSet:
    """A standard environment, as loaded from its data file."""

    name: str
    language: str  # python | r
    description: str
    python: str  # e.g. "3.11": the Python the lock was resolved for
    packages: tuple[TopLevel, ...]  # top-level Python packages (data8) or the Python side (r)
    lock: dict[str, Locked]  # canonical name -> locked package
    r_version: str | None = None
    cran_snapshot: str | None = None  # YYYY-MM-DD
    r_packages: tuple[TopLevel, ...] = ()

    @property
    def digest(self) -> str:
        """A hash of the set's content; changes whenever any pin changes."""
        return hashlib.sha256(json.dumps(_as_data(self), sort_keys=True).encode()).hexdigest()


def _data_path(name: str):
    return resources.files("coursehub.images").joinpath("standard_sets", f"{name}.json")


@lru_cache(maxsize=None)
def load_standard(name: str) -> StandardSet:
    """The standard set called ``name`` (data8 or r)."""
    if name not in STANDARD_NAMES:
        raise CoursehubError(f"no standard set {name!r}; choose from {', '.join(STANDARD_NAMES)}")
    data = json.loads(_data_path(name).read_text(encoding="utf-8"))
    lock_source = data.get("lock_from")
    if lock_source:
        # The R set's Python side is the closure of a few packages inside another set's lock.
        source = load_standard(lock_source)
        wanted = [p["name"] for p in data["packages"]]
        lock = closure(source.lock, wanted)
        packages = tuple(
            TopLevel(p["name"], source.lock[canonicalize_name(p["name"])].version, p["why"]) for p in data["packages"]
        )
    else:
        lock = {canonicalize_name(p["name"]): Locked(p["name"], p["version"], tuple(p.get("requires", ()))) for p in data["lock"]}
        packages = tuple(TopLevel(p["name"], p["version"], p["why"]) for p in data["packages"])
    return StandardSet(
        name=data["name"],
        language=data["language"],
        description=data["description"],
        python=data["python"],
        packages=packages,
        lock=lock,
        r_version=data.get("r_version"),
        cran_snapshot=data.get("cran_snapshot"),
        r_packages=tuple(TopLevel(p["name"], None, p["why"]) for p in data.get("r_packages", ())),
    )


def _as_data(s: StandardSet) -> dict:
    return {
        "name": s.name,
        "language": s.language,
        "python": s.python,
        "packages": [[p.name, p.version] for p in s.packages],
        "lock": sorted([k, v.version, list(v.requires)] for k, v in s.lock.items()),
        "r_version": s.r_version,
        "cran_snapshot": s.cran_snapshot,
        "r_packages": [p.name for p in s.r_packages],
    }


def requirement_applies(req: Requirement, python: str, extras: frozenset[str] = frozenset()) -> bool:
    """Whether ``req`` is installed on the image platform with ``python`` when ``extras`` are asked for."""
    if req.marker is None:
        return True
    env = dict(IMAGE_PLATFORM, python_version=python, python_full_version=f"{python}.0")
    return any(req.marker.evaluate(dict(env, extra=e)) for e in (extras or {""}))


@lru_cache(maxsize=4096)
def dependencies(pkg: Locked, python: str, extras: frozenset[str] = frozenset()) -> tuple[Requirement, ...]:
    """The requirements of a locked package that apply on the image platform."""
    # Cached: conflict checks ask for the same packages once per image, and parsing PEP 508 is slow.
    return tuple(req for req in map(Requirement, pkg.requires) if requirement_applies(req, python, extras))


def closure(lock: dict[str, Locked], names: list[str], python: str = "3.11") -> dict[str, Locked]:
    """The packages ``names`` pull in from ``lock``, themselves included (following extras)."""
    todo = [(canonicalize_name(Requirement(n).name), frozenset(Requirement(n).extras)) for n in names]
    seen: dict[str, set[frozenset[str]]] = {}
    while todo:
        key, extras = todo.pop()
        if key not in lock:
            raise CoursehubError(f"{key} is required but not in the lock")
        if extras in seen.setdefault(key, set()):
            continue
        seen[key].add(extras)
        for req in dependencies(lock[key], python, extras):
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {k: lock[k] for k in sorted(seen)}


# --- re-locking (maintainers only; needs pip and a package index) -------------------------------


def relock(name: str, *, python_exe: str | None = None) -> dict:
    """Re-resolve a standard set's top-level pins with pip and return its new data (not written).

    pip runs with ``--dry-run --ignore-installed --report``, so nothing is installed; the report
    gives every package of the resolution with its metadata. The interpreter must be the Python
    version the set is for, since that decides which wheels and markers apply.
    """
    data = json.loads(_data_path(name).read_text(encoding="utf-8"))
    if data.get("lock_from"):
        raise CoursehubError(f"the {name} set takes its Python lock from {data['lock_from']}; relock that one")
    exe = python_exe or sys.executable
    version = subprocess.run(
        [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if version != data["python"]:
        raise CoursehubError(f"the {name} set is for Python {data['python']}; run the relock with that Python, not {version}")
    pins = [f"{p['name']}=={p['version']}" for p in data["packages"]]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run(
            [exe, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
             "--report", str(report), *pins],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise CoursehubError(f"pip could not resolve the {name} set:\n{proc.stderr.strip()}")
        resolved = json.loads(report.read_text())["install"]
    data["lock"] = sorted(
        (
            {
                "name": item["metadata"]["name"],
                "version": item["metadata"]["version"],
                "requires": list(item["metadata"].get("requires_dist") or []),
            }
            for item in resolved
        ),
        key=lambda p: canonicalize_name(p["name"]),
    )
    return data


def write_standard(name: str, data: dict, *, path: Path | None = None) -> Path:
    """Write a standard set's data file (in the source tree) and forget the cached copy."""
    target = path or Path(str(_data_path(name)))
    target.write_bytes(emit.to_json(data))
    load_standard.cache_clear()
    return target
