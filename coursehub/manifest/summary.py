"""The summary generator: who and what is on the hub, per course, as JSON and Markdown."""

from __future__ import annotations

import re

from coursehub.build import BuildContext
from coursehub.escape import markdown
from coursehub.manifest import Manifest
from coursehub.manifest.effective import course_settings
from coursehub.manifest.units import format_duration, human_size, plural


def summarize(manifest: Manifest) -> dict:
    """Plain data describing the manifest's courses; the basis of the table, JSON and site pages."""
    courses = []
    for course in manifest.courses:
        s = course_settings(manifest, course)
        courses.append(
            {
                "id": course.id,
                "title": course.title,
                "kind": course.kind,
                "term": {"start": course.term.start.isoformat(), "end": course.term.end.isoformat()},
                "students": len(course.roster),
                "instructors": len(course.staff.instructors),
                "tas": len(course.staff.tas),
                "image": s.image,
                "interface": s.interface,
                "grader": course.grader,
                "assignments": len(course.assignments),
                "memory": {"guarantee": s.mem_guarantee, "limit": s.mem_limit},
                "cpu": {"guarantee": s.cpu_guarantee, "limit": s.cpu_limit},
                "idle_timeout": s.idle_timeout,
                "storage": s.storage,
            }
        )
    users = set()
    for course in manifest.courses:
        users.update(course.roster, course.staff.instructors, course.staff.tas)
    return {
        "hub": {"name": manifest.hub.name, "url": manifest.hub.url},
        "totals": {
            "courses": sum(1 for c in manifest.courses if c.kind == "course"),
            "events": sum(1 for c in manifest.courses if c.kind == "event"),
            "students": sum(c["students"] for c in courses),
            "distinct_users": len(users),
            "images": len(manifest.images),
            "assignments": sum(c["assignments"] for c in courses),
        },
        "courses": courses,
    }


COLUMNS = ["course", "kind", "term", "students", "staff", "image", "interface", "grader", "assignments", "memory"]


def rows(summary: dict) -> list[list[str]]:
    out = []
    for c in summary["courses"]:
        mem = c["memory"]
        out.append(
            [
                c["id"],
                c["kind"],
                f"{c['term']['start']} → {c['term']['end']}",
                str(c["students"]),
                f"{c['instructors']}+{c['tas']}",
                c["image"],
                c["interface"],
                c["grader"],
                str(c["assignments"]),
                f"{human_size(mem['guarantee'] or 0)}–{human_size(mem['limit'] or 0)}",
            ]
        )
    return out


def totals_line(summary: dict) -> str:
    """One sentence with the manifest's totals (what ``validate`` and ``build`` print by default)."""
    t = summary["totals"]
    return (
        f"{plural(t['courses'], 'course')} and {plural(t['events'], 'event')}, {plural(t['students'], 'enrolment')} "
        f"({plural(t['distinct_users'], 'distinct user')}), {plural(t['images'], 'image')}, "
        f"{plural(t['assignments'], 'assignment')}."
    )


def courses_with_problems(manifest: Manifest, problems: list, notes: list[str]) -> list[str]:
    """Ids of the courses a warning (by its path, ``courses[3]...``, or naming it) or a build note (naming it) is about."""
    ids = [c.id for c in manifest.courses]
    found = set()
    for p in problems:
        match = re.match(r"courses\[(\d+)\]", p.path or "")
        if match and int(match.group(1)) < len(ids):
            found.add(ids[int(match.group(1))])
    known = set(ids)
    for text in [p.message for p in problems] + list(notes):
        found.update(known.intersection(re.findall(r"[a-z0-9][a-z0-9-]*", text)))
    return [i for i in ids if i in found]


def to_markdown(summary: dict) -> str:
    lines = [f"# {markdown(summary['hub']['name'])}", ""]
    lines.append(totals_line(summary))
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows(summary):
        lines.append("| " + " | ".join(markdown(cell) for cell in r) + " |")
    idle = {c["id"]: c["idle_timeout"] for c in summary["courses"]}
    lines += ["", "Idle timeouts: " + ", ".join(f"{markdown(k)} {format_duration(v) if v else 'none'}" for k, v in idle.items())]
    return "\n".join(lines) + "\n"


def generate(ctx: BuildContext) -> None:
    summary = summarize(ctx.manifest)
    ctx.add_json("summary/summary.json", summary)
    ctx.add("summary/summary.md", to_markdown(summary))
