"""Drift: per course, what its image adds to or changes from its standard, and the totals."""

from __future__ import annotations

from coursehub.escape import markdown, markdown_code
from coursehub.images.plan import ImagePlan, plan_images
from coursehub.manifest import Manifest


def drift_report(manifest: Manifest, plan: ImagePlan | None = None) -> dict:
    """Per course: its image and what it adds to or changes from its standard; and the totals."""
    plan = plan or plan_images(manifest)
    courses = []
    for course in manifest.courses:
        key = plan.course_image[course.id]
        b = plan.for_key(key)
        courses.append(
            {
                "course": course.id,
                "image": key,
                "build": b.name,
                "ref": b.ref,
                "standard": b.standard,
                "unchanged": b.unchanged,
                "adds": [p.line for p in b.additions],
                "changes": [{"package": c.name, "standard": c.standard, "course": c.wanted} for c in b.changes],
                "already_in_standard": [p.line for p in b.already_in_standard],
                "r_packages": [r.text for r in b.r_packages],
                "apt": list(b.apt),
            }
        )
    unchanged = sum(1 for c in courses if c["unchanged"])
    return {
        "totals": {
            "courses": len(courses),
            "on_standard_unchanged": unchanged,
            "with_additions": sum(1 for c in courses if c["adds"] or c["r_packages"] or c["apt"]),
            "with_changes": sum(1 for c in courses if c["changes"]),
            "image_keys": len(manifest.images),
            "images": len(plan.builds),
        },
        "images": [
            {
                "build": b.name,
                "keys": b.keys,
                "ref": b.ref,
                "standard": b.standard,
                "python_packages": len(b.lock),
                "courses": b.courses,
            }
            for b in plan.builds
        ],
        "courses": courses,
    }


def headline(drift: dict) -> str:
    t = drift["totals"]
    return (
        f"images: {t['on_standard_unchanged']} of {t['courses']} courses run on a standard image unchanged; "
        f"{t['with_additions']} with added packages, {t['with_changes']} with changed versions; "
        f"{t['image_keys']} image keys -> {t['images']} images to build"
    )


def course_row(c: dict) -> dict[str, list[str] | str]:
    """One course's drift as display cells (the Markdown page and the terminal table share them)."""
    return {
        "course": c["course"],
        "image": c["build"],
        "standard": c["standard"] + (" (unchanged)" if c["unchanged"] else ""),
        "adds": c["adds"] + [f"R {r}" for r in c["r_packages"]] + [f"apt {a}" for a in c["apt"]],
        "changes": [f"{x['package']} {x['standard']} → {x['course']}" for x in c["changes"]],
        "reference": c["ref"],
    }


def drift_markdown(drift: dict) -> str:
    text = headline(drift).removeprefix("images: ")
    lines = ["# Image drift", "", text[:1].upper() + text[1:] + ".", ""]
    lines += ["| course | image | standard | adds | changes |", "|---|---|---|---|---|"]
    for c in drift["courses"]:
        r = course_row(c)
        adds, changes = (", ".join(markdown(x) for x in r[k]) or "—" for k in ("adds", "changes"))
        standard = markdown(c["standard"]) + (" (unchanged)" if c["unchanged"] else "")
        lines.append(f"| {markdown(r['course'])} | {markdown(r['image'])} | {standard} | {adds} | {changes} |")
    lines += ["", "| image | reference | keys | courses | Python packages |", "|---|---|---|---|---|"]
    for b in drift["images"]:
        keys, courses = (", ".join(markdown(x) for x in b[k]) for k in ("keys", "courses"))
        lines.append(f"| {markdown(b['build'])} | {markdown_code(b['ref'])} | {keys} | {courses or '—'} | {b['python_packages']} |")
    return "\n".join(lines) + "\n"
