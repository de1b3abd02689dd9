"""Images: what each course's environment contains, which courses share one, and the build contexts.

An image in the manifest is a standard set (:mod:`coursehub.images.standard`) plus pinned additions. This
module works out each image's **effective package set**: the standard's lock with the additions
applied, every Python package at an exact version. From it come

- **sharing**: image keys with the same effective set (Python lock, R packages, apt packages) are one
  build. The build's folder and default registry name is the first of those keys in sorted order;
  the others are aliases recorded in its README and metadata, and courses using any of them get the
  same image reference;
- **conflicts**: an addition that is not pinned, a package pinned twice at different versions, a
  changed version that a package of the standard does not accept, or two image keys that name the
  same registry (asked to share one image) with different sets. All of them are collected and
  reported together, naming the courses and packages;
- **drift**: per course, what its image adds to or changes from its standard, and how many courses
  run on a standard unchanged (``images/drift.json`` and ``images/drift.md``);
- **contexts**: ``images/<build>/`` is a folder repo2docker builds as it is: a fully pinned
  ``requirements.txt`` (the lock), ``runtime.txt``, ``apt.txt`` and ``install.R`` when needed, and
  a README saying what is in it and why, and a ``postBuild`` that installs coursehub's notebook-server
  extensions (:mod:`coursehub.images.server`) and nothing else.

The lock needs no network: the standard's resolved closure ships with coursehub and additions must
be pinned. An addition's own dependencies that are not already in the standard are resolved by pip
when the image is built; ``coursehub images check`` lists them so they can be pinned too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from coursehub.errors import CoursehubError, Problem
from coursehub.images.standard import StandardSet, dependencies, load_standard
from coursehub.manifest import Manifest
from coursehub.manifest.effective import course_settings

_R_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$")
_R_VERSION = re.compile(r"^[0-9]+([.-][0-9]+)+$")
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
#: The Python the images run: the one the standard locks were resolved for.
DEFAULT_PYTHON = "3.11"


@dataclass(frozen=True)
class Pin:
    """One Python package at an exact version."""

    name: str
    version: str
    extras: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @property
    def line(self) -> str:
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"


@dataclass(frozen=True)
class Change:
    """A package of the standard that an image pins at another version."""

    name: str
    standard: str
    wanted: str


@dataclass(frozen=True)
class RPackage:
    name: str
    version: str | None  # None: the version in the image's CRAN snapshot

    @property
    def text(self) -> str:
        return f"{self.name}=={self.version}" if self.version else self.name


@dataclass
class ImageBuild:
    """One image to build: the effective set shared by one or more image keys."""

    name: str  # folder under images/ and default image name
    keys: list[str]  # manifest image keys that are this image
    standard: str  # data8 | r | none
    language: str  # python | r
    python: str
    lock: dict[str, Pin]  # canonical name -> pin: every Python package of the image
    additions: list[Pin]
    changes: list[Change]
    already_in_standard: list[Pin]
    r_packages: list[RPackage]  # R packages beyond the standard's
    apt: list[str]
    r_version: str | None = None
    cran_snapshot: str | None = None
    courses: list[str] = field(default_factory=list)
    registry: str = ""
    tag: str = ""

    @property
    def unchanged(self) -> bool:
        """Whether this is a standard set exactly as coursehub ships it."""
        return self.standard != "none" and not (self.additions or self.changes or self.r_packages or self.apt)

    @property
    def ref(self) -> str:
        return f"{self.registry}:{self.tag}"

    def signature(self) -> str:
        """The effective set as text: equal signatures mean one shared image."""
        return json.dumps(
            {
                "language": self.language,
                "python": self.python,
                "lock": sorted(p.line for p in self.lock.values()),
                "standard": self.standard,
                "r": [self.r_version, self.cran_snapshot, sorted(r.text for r in self.r_packages)],
                "apt": sorted(self.apt),
            },
            sort_keys=True,
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.signature().encode()).hexdigest()


@dataclass
class ImagePlan:
    """Every image the manifest needs, and which one each image key and course uses."""

    builds: list[ImageBuild]
    build_of_key: dict[str, str]
    course_image: dict[str, str]  # course id -> image key

    def build(self, name: str) -> ImageBuild:
        return next(b for b in self.builds if b.name == name)

    def for_key(self, key: str) -> ImageBuild:
        return self.build(self.build_of_key[key])

    def for_course(self, course_id: str) -> ImageBuild:
        return self.for_key(self.course_image[course_id])


# --- planning ---------------------------------------------------------------------------------------


def _parse_pins(key: str, specs: list[str], std_lock: dict[str, Pin], problems: list[Problem], file: str) -> list[Pin]:
    pins: dict[str, Pin] = {}
    for i, spec in enumerate(specs):
        path = f"images.{key}.packages[{i}]"
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            # packaging's message draws a caret under the spec on extra lines; a problem is one line
            reason = str(exc).splitlines()[0] if str(exc) else "unreadable"
            problems.append(Problem(f"{spec!r} is not a pip requirement ({reason})", path=path, file=file, code="image-requirement"))
            continue
        name_key = canonicalize_name(req.name)
        known = std_lock.get(name_key)
        example = f"{req.name}=={known.version}" if known else f"{req.name}==<version>"
        specifiers = list(req.specifier)
        if req.url or req.marker or len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            problems.append(
                Problem(
                    f"{spec!r} is not pinned to one version, so the image would change as new releases appear",
                    code="image-unpinned",
                    path=path,
                    file=file,
                    hint=f"pin it, e.g. {example}",
                )
            )
            continue
        try:
            Version(specifiers[0].version)
        except InvalidVersion:
            problems.append(Problem(f"{spec!r} has an invalid version", path=path, file=file, code="image-version"))
            continue
        pin = Pin(req.name, specifiers[0].version, tuple(sorted(req.extras)))
        if name_key in pins and pins[name_key].version != pin.version:
            problems.append(
                Problem(
                    f"{req.name} is pinned twice, at {pins[name_key].version} and {pin.version}",
                    code="image-pinned-twice",
                    path=path,
                    file=file,
                    hint="keep one",
                )
            )
            continue
        pins[name_key] = pin
    return list(pins.values())


def _parse_r(key: str, specs: list[str], problems: list[Problem], file: str) -> list[RPackage]:
    out: dict[str, RPackage] = {}
    for i, spec in enumerate(specs):
        name, _, version = (part.strip() for part in spec.partition("=="))
        # Names and versions end up in install.R; only accept what CRAN itself allows.
        if not _R_NAME.match(name) or (version and not _R_VERSION.match(version)):
            problems.append(
                Problem(f"{spec!r} is not a CRAN package name (optionally ==version)", path=f"images.{key}.r_packages[{i}]", file=file, code="image-r-package")
            )
            continue
        out[name] = RPackage(name, version or None)
    return [out[n] for n in sorted(out)]


def _parse_apt(key: str, specs: list[str], problems: list[Problem], file: str) -> list[str]:
    out = set()
    for i, spec in enumerate(specs):
        if not _APT_NAME.match(spec):
            problems.append(Problem(f"{spec!r} is not a Debian package name", path=f"images.{key}.apt[{i}]", file=file, code="image-apt-package"))
            continue
        out.add(spec)
    return sorted(out)


def _conflicts(std: StandardSet, lock: dict[str, Pin], changed: set[str]) -> list[str]:
    """Requirements of the standard's packages that the changed versions no longer satisfy."""
    found = []
    for key, pkg in sorted(std.lock.items()):
        if key in changed or key not in lock:
            continue  # a changed package brings its own requirements, which the lock does not know
        for req in dependencies(pkg, std.python):
            dep = canonicalize_name(req.name)
            if dep in changed and not req.specifier.contains(lock[dep].version, prereleases=True):
                found.append(f"{pkg.name} {pkg.version} requires {req.name}{req.specifier}")
    return found


def _effective(manifest: Manifest, key: str, courses: list[str], problems: list[Problem]) -> ImageBuild:
    image = manifest.images[key]
    file = manifest.source
    std = load_standard(image.standard) if image.standard != "none" else None
    r_std = std if std is not None and std.language == "r" else None
    base = {k: Pin(p.name, p.version) for k, p in (std.lock.items() if std else ())}
    additions_in = _parse_pins(key, image.packages, base, problems, file)
    r_packages = _parse_r(key, image.r_packages, problems, file)
    apt = _parse_apt(key, image.apt, problems, file)

    lock = dict(base)
    additions, changes, already = [], [], []
    for pin in additions_in:
        have = base.get(pin.key)
        if have is None:
            additions.append(pin)
        elif have.version == pin.version:
            already.append(pin)
        else:
            changes.append(Change(have.name, have.version, pin.version))
        lock[pin.key] = pin if pin.extras or have is None else Pin(have.name, pin.version)
    if std is not None and changes:
        changed = {canonicalize_name(c.name) for c in changes}
        for text in _conflicts(std, lock, changed):
            wanted = ", ".join(f"{c.name}=={c.wanted}" for c in changes)
            problems.append(
                Problem(
                    code="image-conflicts-with-standard",
                    message=f"image {key!r} (used by {_names(courses)}) conflicts with the {std.name} standard: "
                    f"it pins {wanted}, but {text}",
                    path=f"images.{key}.packages",
                    file=file,
                    hint="use the standard's version, or a version the standard accepts",
                )
            )

    is_r = r_std is not None or bool(r_packages)
    r_source = r_std or (load_standard("r") if is_r else None)
    return ImageBuild(
        name=key,
        keys=[key],
        standard=image.standard,
        language="r" if is_r else "python",
        python=std.python if std else DEFAULT_PYTHON,
        lock=dict(sorted(lock.items())),
        additions=sorted(additions, key=lambda p: p.key),
        changes=sorted(changes, key=lambda c: canonicalize_name(c.name)),
        already_in_standard=sorted(already, key=lambda p: p.key),
        r_packages=r_packages,
        apt=apt,
        r_version=r_source.r_version if r_source else None,
        cran_snapshot=r_source.cran_snapshot if r_source else None,
        courses=list(courses),
    )


def _names(courses: list[str]) -> str:
    return ", ".join(courses) if courses else "no course"


def _set_difference(a: ImageBuild, b: ImageBuild) -> str:
    """A short description of how two effective sets differ, for conflict messages."""
    diffs = []
    for k in sorted(set(a.lock) | set(b.lock)):
        va, vb = a.lock.get(k), b.lock.get(k)
        if (va and va.line) != (vb and vb.line):
            diffs.append(f"{(va or vb).name} {va.version if va else 'absent'} vs {vb.version if vb else 'absent'}")
    ra, rb = {r.text for r in a.r_packages}, {r.text for r in b.r_packages}
    diffs += [f"R {x} only in {a.name}" for x in sorted(ra - rb)] + [f"R {x} only in {b.name}" for x in sorted(rb - ra)]
    aa, ab = set(a.apt), set(b.apt)
    diffs += [f"apt {x} only in {a.name}" for x in sorted(aa - ab)] + [f"apt {x} only in {b.name}" for x in sorted(ab - aa)]
    if a.standard != b.standard:
        diffs.append(f"standard {a.standard} vs {b.standard}")
    return "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")


def plan_images(manifest: Manifest) -> ImagePlan:
    """Work out every image the manifest needs; raise one error listing every conflict."""
    problems: list[Problem] = []
    course_image = {c.id: course_settings(manifest, c).image for c in manifest.courses}
    courses_of: dict[str, list[str]] = defaultdict(list)
    for cid, key in course_image.items():
        courses_of[key].append(cid)

    effective = {key: _effective(manifest, key, courses_of.get(key, []), problems) for key in sorted(manifest.images)}

    groups: dict[str, list[str]] = defaultdict(list)
    for key, eff in effective.items():
        groups[eff.signature()].append(key)
    builds: list[ImageBuild] = []
    build_of_key: dict[str, str] = {}
    for keys in groups.values():
        keys = sorted(keys)
        build = effective[keys[0]]
        build.keys = keys
        build.courses = sorted(c for k in keys for c in courses_of.get(k, []))
        explicit = {(manifest.images[k].registry, manifest.images[k].tag) for k in keys if manifest.images[k].registry or manifest.images[k].tag}
        if len(explicit) > 1:
            problems.append(
                Problem(
                    code="image-registry-clash",
                    message=f"images {', '.join(keys)} have the same packages, so they are one image, but name different "
                    f"registries or tags ({', '.join(sorted(f'{r}:{t}' for r, t in explicit))})",
                    path="images",
                    file=manifest.source,
                    hint="give them the same registry and tag, or keep only one key",
                )
            )
        registry, tag = next(iter(explicit)) if explicit else (None, None)
        build.registry = registry or f"{manifest.hub.name}/{build.name}"
        build.tag = tag or build.digest[:12]
        builds.append(build)
        build_of_key.update({k: build.name for k in keys})
    builds.sort(key=lambda b: b.name)

    # Image keys that name the same registry (and no different tags) asked to share one image; with
    # different sets they would overwrite each other's pushes.
    asked: dict[tuple[str, str | None], list[ImageBuild]] = defaultdict(list)
    for b in builds:
        for k in b.keys:
            img = manifest.images[k]
            if img.registry and b not in asked[(img.registry, img.tag)]:
                asked[(img.registry, img.tag)].append(b)
    for (registry, _), shared in sorted(asked.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        first = shared[0]
        for other in shared[1:]:
            problems.append(
                Problem(
                    code="image-shared-registry-differs",
                    message=f"courses {_names(first.courses)} (image {', '.join(first.keys)}) and {_names(other.courses)} "
                    f"(image {', '.join(other.keys)}) are asked to share the image {registry} but need different "
                    f"packages: {_set_difference(first, other)}",
                    path="images",
                    file=manifest.source,
                    hint="make their packages the same, or give each its own registry name",
                )
            )

    if problems:
        raise CoursehubError("the images cannot be built as the manifest asks", problems=problems)
    return ImagePlan(builds=builds, build_of_key=build_of_key, course_image=course_image)


def image_ref(manifest: Manifest, key: str) -> str:
    """The image reference (``registry:tag``) the hub should run for image key ``key``."""
    return plan_images(manifest).for_key(key).ref

