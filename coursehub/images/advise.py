"""The next standard: which additions, folded into a standard set, move the most students onto it unchanged.

A course runs on its standard **unchanged** when its image adds nothing to it. A course whose image
adds packages can join the standard once the standard holds every one of them at the course's
version (and every package they bring with them, :mod:`coursehub.images.measure`). This module
proposes, per standard set, an order of steps:

- **Stale pins first.** An addition the standard already provides at that version, or a pinned
  version the standard's own supersedes compatibly (same release series, ``~=X.Y``, and not older),
  can simply be removed from the manifest. A course with nothing else is on the standard as soon as
  its stale pins go.
- **Then greedy steps.** Each step folds in the smallest set of packages that brings one more course
  onto the standard, choosing among all such sets the one that moves the most **students** (roster
  sizes summed: a course of 200 counts for more than two of 20), then the smallest download, then
  the fewest packages. A step's students include every course it completes, so two courses that
  add the same thing move together.
- **What blocks a course** is named, never guessed away: an addition whose requirements the
  standard's pins break (pip's resolution against the lock), a changed version of a standard
  package that is not a compatible upgrade (changing a pin is a relock, reviewed on its own), or a
  package a previous step folded in at another version.

The proposal changes nothing: the standard sets are reviewed data, changed only by
``coursehub images standard --relock`` after someone decides to take a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from coursehub.images.measure import Facts, pin_key
from coursehub.images.plan import ImagePlan, plan_images
from coursehub.images.standard import load_standard
from coursehub.manifest import Manifest
from coursehub.escape import markdown


@dataclass(frozen=True)
class Need:
    """One thing a course needs from the standard: a package (Python, R or Debian) at a version."""

    kind: str  # python | r | apt
    name: str  # canonical for Python
    version: str | None  # None: R's snapshot version, or an apt package

    @property
    def ident(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def text(self) -> str:
        prefix = {"python": "", "r": "R ", "apt": "apt "}[self.kind]
        return prefix + self.name + (f"=={self.version}" if self.version else "")


@dataclass
class CourseNeeds:
    course: str
    students: int
    image: str
    unchanged: bool
    asked: list[Need] = field(default_factory=list)  # what the manifest lists
    needs: dict[str, Need] = field(default_factory=dict)  # ident -> need, closures included
    blocked: list[str] = field(default_factory=list)
    removable: list[str] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)


def supersedes(standard: str, pinned: str) -> bool:
    """Whether the standard's version can replace a course's pin: the same release series, not older."""
    try:
        std, pin = Version(standard), Version(pinned)
    except InvalidVersion:
        return False
    if std < pin or std.is_prerelease:
        return False
    series = pin.release[:2] if len(pin.release) >= 2 else (pin.release[0], 0)
    return std in SpecifierSet(f"~={series[0]}.{series[1]}")


def _course_needs(manifest: Manifest, plan: ImagePlan, facts: Facts, std_name: str) -> list[CourseNeeds]:
    std = load_standard(std_name)
    out = []
    for course in manifest.courses:
        b = plan.for_course(course.id)
        if b.standard != std_name:
            continue
        key = plan.course_image[course.id]
        c = CourseNeeds(course.id, len(course.roster), b.name, b.unchanged)
        # Image keys with the same effective set share one build; a pin the standard already has
        # changes nothing in that set, so it is read from the course's own image key.
        for spec in manifest.images[key].packages:
            req = Requirement(spec)
            have = std.lock.get(canonicalize_name(req.name))
            version = next(iter(req.specifier)).version
            if have is not None and have.version == version:
                c.removable.append(f"{spec}: the {std_name} standard provides {have.version}")
        for ch in b.changes:
            if supersedes(ch.standard, ch.wanted):
                c.removable.append(f"{ch.name}=={ch.wanted}: the {std_name} standard's {ch.standard} supersedes it compatibly")
            else:
                c.blocked.append(
                    f"pins {ch.name}=={ch.wanted}, the {std_name} standard pins {ch.standard} (changing a standard's pin is a relock)"
                )
        for pin in b.additions:
            top = Need("python", canonicalize_name(pin.name), pin.version)
            c.asked.append(top)
            res = facts.resolution(std, pin_key(pin.name, pin.version, pin.extras))
            if res is None:
                c.unmeasured.append(pin.line)
                c.needs[top.ident] = top
                continue
            c.blocked += res.conflicts
            for member in res.closure:
                name, _, version = member.partition("==")
                need = Need("python", canonicalize_name(name.split("[")[0]), version)
                c.needs[need.ident] = need
        for r in b.r_packages:
            need = Need("r", r.name, r.version)
            c.asked.append(need)
            c.needs[need.ident] = need
        for apt in b.apt:
            need = Need("apt", apt, None)
            c.asked.append(need)
            c.needs[need.ident] = need
        out.append(c)
    return out


def _covered(c: CourseNeeds, folded: dict[str, Need]) -> bool:
    return all(folded.get(i) == n for i, n in c.needs.items())


def _clashes(c: CourseNeeds, folded: dict[str, Need]) -> list[tuple[Need, Need]]:
    return [(n, folded[i]) for i, n in sorted(c.needs.items()) if i in folded and folded[i] != n]


def _size(facts: Facts, needs: list[Need]) -> tuple[int, int, list[str]]:
    """(download bytes, installed bytes, what has no measured size) of ``needs``."""
    download = installed = 0
    unknown = []
    for n in needs:
        w = facts.wheels.get(f"{n.name}=={n.version}") if n.kind == "python" else None
        if w is None or not w.measured:
            unknown.append(n.text)
            continue
        download += w.download_bytes
        installed += w.installed_bytes or 0
    return download, installed, unknown


def _standard_advice(manifest: Manifest, plan: ImagePlan, facts: Facts, std_name: str) -> dict | None:
    courses = _course_needs(manifest, plan, facts, std_name)
    if not courses:
        return None
    by_id = {c.course: c for c in courses}
    total = sum(c.students for c in courses)
    on = {c.course for c in courses if c.unchanged}
    now = sum(by_id[x].students for x in on)
    # Removing stale pins alone completes a course whose image has nothing else.
    cleaned = {c.course for c in courses if not c.unchanged and not c.needs and not c.blocked}
    on |= cleaned
    after_removals = sum(by_id[x].students for x in on)

    folded: dict[str, Need] = {}
    folded_at: dict[str, int] = {}  # ident -> the step that folds it in
    steps = []
    while True:
        options: dict[tuple[str, ...], tuple[dict[str, Need], list[CourseNeeds]]] = {}
        for c in courses:
            if c.course in on or c.blocked or _clashes(c, folded):
                continue
            inc = {i: n for i, n in c.needs.items() if i not in folded}
            key = tuple(sorted(n.text for n in inc.values()))
            if key in options:
                continue
            trial = {**folded, **inc}
            moved = [x for x in courses if x.course not in on and not x.blocked and _covered(x, trial)]
            options[key] = (inc, moved)
        if not options:
            break

        def rank(item):
            key, (inc, moved) = item
            download, _, unknown = _size(facts, list(inc.values()))
            return (-sum(x.students for x in moved), download, len(unknown), len(inc), key)

        key, (inc, moved) = min(options.items(), key=rank)
        folded.update(inc)
        asked = {n.text for x in moved for n in x.asked}
        download, installed, unknown = _size(facts, list(inc.values()))
        on |= {x.course for x in moved}
        folded_at.update({i: len(steps) + 1 for i in inc})
        steps.append(
            {
                "step": len(steps) + 1,
                "adds": sorted(n.text for n in inc.values() if n.text in asked),
                "brings": sorted(n.text for n in inc.values() if n.text not in asked),
                "courses": [{"course": x.course, "students": x.students} for x in sorted(moved, key=lambda x: x.course)],
                "students_moved": sum(x.students for x in moved),
                "students_on_standard": sum(by_id[x].students for x in on),
                "courses_on_standard": len(on),
                "download_bytes": download,
                "installed_bytes": installed,
                "unmeasured": sorted(unknown),
            }
        )

    blocked = []
    for c in courses:
        if c.course in on:
            continue
        reasons = list(c.blocked)
        for mine, theirs in _clashes(c, folded):
            reasons.append(f"needs {mine.text}; step {folded_at[theirs.ident]} folds in {theirs.text}")
        blocked.append({"course": c.course, "students": c.students, "image": c.image, "reasons": sorted(set(reasons))})
    return {
        "standard": std_name,
        "digest": load_standard(std_name).digest,
        "courses": len(courses),
        "students": total,
        "now": {"students": now, "courses": sorted(c.course for c in courses if c.unchanged)},
        "removable": [
            {"course": c.course, "pin": text} for c in courses for text in sorted(c.removable)
        ],
        "after_removals": {"students": after_removals, "courses": sorted(cleaned)},
        "steps": steps,
        "blocked": blocked,
        "unmeasured": sorted({f"{c.course}: {p}" for c in courses for p in c.unmeasured}),
    }


def advise(manifest: Manifest, facts: Facts, plan: ImagePlan | None = None) -> dict:
    """The proposal for every standard set some course uses (see the module docstring), as plain data."""
    plan = plan or plan_images(manifest)
    standards = []
    for name in sorted({b.standard for b in plan.builds if b.standard != "none" and b.courses}):
        advice = _standard_advice(manifest, plan, facts, name)
        if advice is not None:
            standards.append(advice)
    others = [c.id for c in manifest.courses if plan.for_course(c.id).standard == "none"]
    return {
        "hub": manifest.hub.name,
        "platform": facts.platform,
        "standards": standards,
        "not_on_a_standard": others,
    }


# --- the report as Markdown ---------------------------------------------------------------------------


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


def stages(advice: dict) -> list[tuple[str, int]]:
    """(label, students on the standard) for now, after the stale pins go, and after each step."""
    out = [("now", advice["now"]["students"])]
    if advice["after_removals"]["students"] != advice["now"]["students"] or advice["removable"]:
        out.append(("stale pins removed", advice["after_removals"]["students"]))
    out += [(f"step {s['step']}", s["students_on_standard"]) for s in advice["steps"]]
    return out


def advice_markdown(data: dict, *, title: str = "The next standard", chart: str | None = "advise.svg") -> str:
    """The proposal as a Markdown page: per standard, a table of stages, the removable pins, what is blocked."""
    lines = [
        f"# {markdown(title)}",
        "",
        "Students on a standard image unchanged (roster sizes summed), now and after each proposed step. A step",
        "folds the listed packages into the standard; *brings along* are the packages they pull in that the",
        f"standard lacks. Sizes are what the step adds to the image, from the wheels on the package index ({markdown(data['platform'])}).",
        "Nothing here changes a standard: taking a step is a reviewed change (add the packages to the set, then",
        "`coursehub images standard NAME --relock`).",
        "",
    ]
    if not data["standards"]:
        lines += ["No course uses a standard set.", ""]
    for a in data["standards"]:
        std = a["standard"]
        lines += [f"## {std}: {a['students']} students in {a['courses']} course{'' if a['courses'] == 1 else 's'}", ""]
        lines += [
            f"| stage | folds in | brings along | courses moved (students) | students on {std} | download | installed |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        counts = dict(stages(a))
        lines.append(f"| now | — | — | — | {counts['now']} | | |")
        if "stale pins removed" in counts:
            moved = ", ".join(a["after_removals"]["courses"]) or "—"
            lines.append(f"| stale pins removed | — | — | {markdown(moved)} | {counts['stale pins removed']} | | |")
        for s in a["steps"]:
            moved = ", ".join(f"{c['course']} ({c['students']})" for c in s["courses"])
            if s["unmeasured"]:
                unknown = f"{', '.join(s['unmeasured'])} not measured"
                download = markdown(unknown if not s["download_bytes"] else f"{_mb(s['download_bytes'])} + {unknown}")
                installed = "—" if not s["installed_bytes"] else f"{_mb(s['installed_bytes'])} + ?"
            else:
                download, installed = _mb(s["download_bytes"]), _mb(s["installed_bytes"])
            lines.append(
                f"| step {s['step']} | {markdown(', '.join(s['adds']) or '—')} | {markdown(', '.join(s['brings']) or '—')} | "
                f"{markdown(moved)} | {s['students_on_standard']} | {download} | {installed} |"
            )
        lines.append("")
        if a["removable"]:
            lines += ["Stale pins, removable from the manifest now:", ""]
            lines += [f"- {markdown(r['course'])}: {markdown(r['pin'])}" for r in a["removable"]] + [""]
        if a["blocked"]:
            lines += ["Courses no step moves, and why:", ""]
            for b in a["blocked"]:
                lines.append(
                    f"- {markdown(b['course'])} ({b['students']} students, image {markdown(b['image'])}): "
                    + markdown("; ".join(b["reasons"]))
                )
            lines.append("")
        if a["unmeasured"]:
            lines += [
                "Not measured (run `coursehub images advise MANIFEST --record` where the package index is reachable): "
                + markdown(", ".join(a["unmeasured"])),
                "",
            ]
    if data["not_on_a_standard"]:
        lines += ["Courses on no standard set: " + ", ".join(markdown(c) for c in data["not_on_a_standard"]) + ".", ""]
    if chart:
        lines += [f"![Students on each standard, now and after each step]({chart})", ""]
    return "\n".join(lines)


def headline(data: dict) -> str:
    parts = []
    for a in data["standards"]:
        last = a["steps"][-1]["students_on_standard"] if a["steps"] else a["after_removals"]["students"]
        parts.append(
            f"{a['standard']}: {a['now']['students']} of {a['students']} students on it now, {last} after "
            f"{len(a['steps'])} step(s); {len(a['removable'])} stale pin(s), {len(a['blocked'])} course(s) blocked"
        )
    return "advice: " + ("; ".join(parts) if parts else "no course uses a standard set")
