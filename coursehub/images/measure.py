"""What the packages an image adds bring with them, and what they weigh, from the package index itself.

For an addition (``xarray==2026.9.0``) on top of a standard set, pip resolves it with every package
of the standard's lock as a constraint (``pip install --dry-run --report``, for the images' platform:
Linux x86_64, the standard's CPython). Either that works, and the packages it adds that the standard
lacks are the addition's **closure**; or it cannot, and pip resolves the addition alone so that the
requirements the standard's pins break can be named (``rich 13.0.0 requires markdown-it-py<3.0.0,>=2.1.0;
the data8 standard pins markdown-it-py 4.3.0``). Each closure package's wheel is then fetched with
``pip download --no-deps``: its file size is the **download size**, the sum of its files' sizes the
**installed size** (before bytecode compilation).

These facts are kept in two places. coursehub's cache (``packages/facts.json``, see
:func:`coursehub.cache.cache_root`) holds everything ever measured, so a second run asks the
index nothing. ``package-sizes.json`` beside the manifest holds what ``coursehub images advise
--record`` measured for that manifest: the build reads only that file, never the network, so the
same commit builds the same advice everywhere. A resolution is tied to the standard's digest: after
a relock it is measured again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.cache import cache_root
from coursehub.images.pip import image_platform_args, image_python, locked, pip_errors
from coursehub.images.plan import ImagePlan
from coursehub.images.standard import StandardSet, load_standard, requirement_applies
from coursehub.manifest import Manifest

#: The facts file beside a manifest (written by ``images advise --record``, read by the build).
FACTS_FILE = "package-sizes.json"
FORMAT = 1


def pin_key(name: str, version: str, extras: tuple[str, ...] = ()) -> str:
    """``name[extras]==version`` with the name canonical: one spelling per package version."""
    return f"{canonicalize_name(name)}{'[' + ','.join(sorted(extras)) + ']' if extras else ''}=={version}"


# --- the facts, as data ------------------------------------------------------------------------------


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Wheel(_Data):
    """One package version as the images would install it."""

    name: str
    version: str
    wheel: str | None = Field(None, description="The wheel's file name; None when it has not been fetched yet.")
    download_bytes: int | None = Field(None, ge=0)
    installed_bytes: int | None = Field(None, ge=0)

    @property
    def key(self) -> str:
        return pin_key(self.name, self.version)

    @property
    def measured(self) -> bool:
        return self.download_bytes is not None


class Resolution(_Data):
    """An addition on top of one standard: the packages it brings (itself first), or why it cannot join."""

    closure: list[str] = Field(default_factory=list, description="Keys (name==version) of the packages new to the standard.")
    conflicts: list[str] = Field(default_factory=list, description="What in the standard's pins the addition breaks.")
    python: str = Field(
        default="", description="The Python version pip checked Requires-Python against (a conflict found with another is asked again)."
    )


class StandardResolutions(_Data):
    digest: str
    additions: dict[str, Resolution] = Field(default_factory=dict)


class Facts(_Data):
    """Everything measured: wheels by key, and resolutions by standard and addition."""

    format: int = FORMAT
    platform: str = "CPython on Linux x86_64 (manylinux up to glibc 2.35)"
    wheels: dict[str, Wheel] = Field(default_factory=dict)
    standards: dict[str, StandardResolutions] = Field(default_factory=dict)

    def resolution(self, std: StandardSet, addition: str) -> Resolution | None:
        known = self.standards.get(std.name)
        if known is None or known.digest != std.digest:
            return None  # resolved against another version of the standard
        return known.additions.get(addition)

    def add_resolution(self, std: StandardSet, addition: str, resolution: Resolution) -> None:
        known = self.standards.get(std.name)
        if known is None or known.digest != std.digest:
            known = self.standards[std.name] = StandardResolutions(digest=std.digest)
        known.additions[addition] = resolution

    def merged(self, other: Facts) -> Facts:
        """These facts, completed by ``other``'s (ours win where both know a thing).

        Resolutions against the standard as it is now beat resolutions against an older version of
        it, whichever side holds them: a file recorded before a relock must not hide newer ones.
        """
        out = Facts(wheels={**other.wheels, **self.wheels})
        for name, theirs in other.standards.items():
            out.standards[name] = theirs.model_copy(deep=True)
        for name, ours in self.standards.items():
            base = out.standards.get(name)
            if base is None or (base.digest != ours.digest and not _current(name, base.digest)):
                out.standards[name] = ours.model_copy(deep=True)
            elif base.digest == ours.digest:
                base.additions.update(ours.model_copy(deep=True).additions)
        return out

    def only(self, wanted: list[tuple[StandardSet, str]]) -> Facts:
        """The facts that answer ``wanted`` (standard, addition) pairs and nothing else (sorted)."""
        out = Facts()
        for std, addition in sorted(wanted, key=lambda w: (w[0].name, w[1])):
            res = self.resolution(std, addition)
            if res is None:
                continue
            out.add_resolution(std, addition, res)
            for key in res.closure:
                if key in self.wheels:
                    out.wheels[key] = self.wheels[key]
        out.wheels = dict(sorted(out.wheels.items()))
        for known in out.standards.values():
            known.additions = dict(sorted(known.additions.items()))
        out.standards = dict(sorted(out.standards.items()))
        return out


def _current(standard: str, digest: str) -> bool:
    try:
        return load_standard(standard).digest == digest
    except CoursehubError:
        return False  # a standard this coursehub does not ship


def load_facts(path: Path) -> Facts:
    """The facts in ``path`` (none if it does not exist); a damaged file is an error naming it."""
    if not path.is_file():
        return Facts()
    try:
        facts = Facts.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the file"
        raise CoursehubError(
            f"{path}: {where}: {first['msg']}; delete it and run `coursehub images advise MANIFEST --record` again"
        ) from None
    if facts.format != FORMAT:
        raise CoursehubError(f"{path} has format {facts.format}, this coursehub reads {FORMAT}; record it again")
    return facts


def save_facts(facts: Facts, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(emit.to_json(facts.model_dump(mode="json")))
    tmp.replace(path)


def facts_path(manifest: Manifest) -> Path:
    return Path(manifest.source).parent / FACTS_FILE


def _cache_path() -> Path:
    return cache_root() / "packages" / "facts.json"


# --- what a manifest needs measured ------------------------------------------------------------------


def wanted(plan: ImagePlan) -> list[tuple[StandardSet, str]]:
    """Every (standard, addition) pair among the images courses use."""
    used = {b.name for b in plan.builds if b.courses}
    pairs: dict[tuple[str, str], tuple[StandardSet, str]] = {}
    for b in plan.builds:
        if b.name not in used or b.standard == "none":
            continue
        std = load_standard(b.standard)
        for pin in b.additions:
            key = pin_key(pin.name, pin.version, pin.extras)
            pairs[(std.name, key)] = (std, key)
    return [pairs[k] for k in sorted(pairs)]


def recorded(manifest: Manifest, plan: ImagePlan) -> Facts:
    """The facts recorded beside the manifest, restricted to what it needs (what the build uses)."""
    return load_facts(facts_path(manifest)).only(wanted(plan))


# --- measuring with pip ------------------------------------------------------------------------------


def _run_pip(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"],
        capture_output=True,
        text=True,
    )


def _dry_run(requirement: str, python: str, constraints: list[str] | None) -> tuple[list[dict] | None, str]:
    """pip's resolution of ``requirement`` for the images' platform: (installed items, or None; pip's errors)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), *image_platform_args(python)]
        if constraints is not None:
            (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
            args += ["-c", str(Path(tmp) / "constraints.txt")]
        proc = _run_pip([*args, requirement])
        if proc.returncode != 0:
            return None, pip_errors(proc.stderr)
        return json.loads(report.read_text())["install"], ""


def _wheel_of(item: dict) -> Wheel:
    meta = item["metadata"]
    return Wheel(name=meta["name"], version=meta["version"])


def _pip_reason(errors: str) -> str:
    """pip's own account of a failed resolution: the lines under "The conflict is caused by:", else its last line."""
    lines = errors.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("The conflict is caused by"):
            cause = [x.strip() for x in lines[i + 1 :] if x.startswith("    ")]
            if cause:
                return "; ".join(cause)
    return lines[-1].removeprefix("ERROR: ").strip() if lines else "pip could not resolve it"


def _broken_pins(std: StandardSet, items: list[dict]) -> list[str]:
    """Requirements of the addition's own resolution that the standard's pinned versions do not meet."""
    found = []
    for item in items:
        meta = item["metadata"]
        extras = frozenset(item.get("requested_extras") or ())
        for text in meta.get("requires_dist") or []:
            req = Requirement(text)
            dep = std.lock.get(canonicalize_name(req.name))
            if dep is None or not requirement_applies(req, std.python, extras):
                continue
            if not req.specifier.contains(dep.version, prereleases=True):
                found.append(
                    f"{meta['name']} {meta['version']} requires {req.name}{req.specifier}; "
                    f"the {std.name} standard pins {dep.name} {dep.version}"
                )
    return sorted(set(found))


def resolve(std: StandardSet, addition: str) -> tuple[Resolution, list[Wheel]]:
    """Resolve ``addition`` on top of ``std`` with pip (see the module docstring)."""
    constraints = [f"{p.name}=={p.version}" for p in std.lock.values()]
    items, errors = _dry_run(addition, std.python, constraints)
    if items is not None:
        wheels = [_wheel_of(i) for i in items if canonicalize_name(i["metadata"]["name"]) not in std.lock]
        first = canonicalize_name(Requirement(addition).name)
        wheels.sort(key=lambda w: (canonicalize_name(w.name) != first, w.key))
        return Resolution(closure=[w.key for w in wheels], python=image_python(std.python)), wheels
    python = image_python(std.python)
    alone, alone_errors = _dry_run(addition, std.python, None)
    if alone is None:
        # Not installable at all on the images' platform (no such version, no wheel): pip says why.
        return Resolution(conflicts=[f"{addition}: {_pip_reason(alone_errors or errors)}"], python=python), []
    return Resolution(conflicts=_broken_pins(std, alone) or [f"{addition}: {_pip_reason(errors)}"], python=python), []


def _sizes(path: Path) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        return path.stat().st_size, sum(info.file_size for info in zf.infolist())


def fetch_sizes(wheels: list[Wheel], python: str) -> list[Wheel]:
    """``wheels`` with their download and installed sizes, from the wheels pip downloads."""
    if not wheels:
        return []
    out = {w.key: w for w in wheels}
    with tempfile.TemporaryDirectory() as tmp:
        pins = [f"{w.name}=={w.version}" for w in wheels]
        proc = _run_pip(["download", "--no-deps", "--quiet", "-d", tmp, *image_platform_args(python), *pins])
        if proc.returncode != 0 and len(pins) > 1:
            # One missing wheel fails the whole batch; fetch the rest one by one.
            for pin in pins:
                _run_pip(["download", "--no-deps", "--quiet", "-d", tmp, *image_platform_args(python), pin])
        for path in sorted(Path(tmp).glob("*.whl")):
            try:
                name, version, _, _ = parse_wheel_filename(path.name)
            except InvalidWheelFilename:
                continue
            key = pin_key(name, str(version))
            if key in out:
                download, installed = _sizes(path)
                out[key] = out[key].model_copy(update={"wheel": path.name, "download_bytes": download, "installed_bytes": installed})
    return list(out.values())


@dataclass
class Gathered:
    """The facts a manifest needs, and how many had to be measured this time."""

    facts: Facts
    measured: int = 0
    missing: list[str] = field(default_factory=list)  # (standard) addition pairs no one could answer


def gather(
    manifest: Manifest,
    plan: ImagePlan,
    *,
    offline: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Gathered:
    """The facts for ``manifest``: recorded beside it, else cached, else measured with pip (unless offline)."""
    pairs = wanted(plan)
    with locked(_cache_path().with_suffix(".lock")):
        cache = load_facts(_cache_path())
        facts = load_facts(facts_path(manifest)).merged(cache)
        measured = 0
        if not offline:
            for std, addition in pairs:
                known = facts.resolution(std, addition)
                # a conflict found against another Python version is asked again: coursehub before
                # this check used X.Y.0, and refused packages that need a later patch release
                if known is not None and not (known.conflicts and known.python != image_python(std.python)):
                    continue
                if progress:
                    progress(f"resolving {addition} on the {std.name} standard")
                res, wheels = resolve(std, addition)
                facts.add_resolution(std, addition, res)
                for w in wheels:
                    facts.wheels.setdefault(w.key, w)
                measured += 1
            by_python: dict[str, list[Wheel]] = {}
            for std, addition in pairs:
                res = facts.resolution(std, addition)
                for key in res.closure if res else ():
                    w = facts.wheels.get(key)
                    if w is not None and not w.measured and w not in by_python.setdefault(std.python, []):
                        by_python[std.python].append(w)
            for python, todo in by_python.items():
                if progress:
                    progress(f"downloading {len(todo)} wheel(s) to measure them")
                for w in fetch_sizes(todo, python):
                    facts.wheels[w.key] = w
                measured += len(todo)
            if measured:
                save_facts(facts.merged(cache), _cache_path())
    missing = [f"{addition} ({std.name})" for std, addition in pairs if facts.resolution(std, addition) is None]
    return Gathered(facts.only(pairs), measured, missing)


def record(manifest: Manifest, facts: Facts) -> Path:
    """Write ``facts`` beside the manifest, where the build reads them."""
    path = facts_path(manifest)
    save_facts(facts, path)
    return path

