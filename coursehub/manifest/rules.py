"""Rules that span several fields of a valid-looking manifest.

Each check yields ``dict(loc=..., message=..., hint=..., severity=..., code=...)`` (``code`` is stable, see
:class:`coursehub.errors.Problem`); the loader turns ``loc``
into ``file:line:column``. Checks run after rosters are loaded, so they can compare students with staff.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from coursehub.manifest import Manifest
from coursehub.manifest.effective import course_settings
from coursehub.manifest.units import format_size


def _err(loc, message, hint="", severity="error", *, code: str):
    return dict(loc=tuple(loc), message=message, hint=hint, severity=severity, code=code)


def rule_problems(manifest: Manifest) -> Iterator[dict]:
    """Every problem the cross-field rules find in a manifest whose fields are individually valid."""
    base = Path(manifest.source).parent if manifest.source else Path.cwd()
    images = sorted(manifest.images)

    url = urlsplit(manifest.hub.url)
    if url.scheme not in ("http", "https") or not url.netloc:
        yield _err(("hub", "url"), f"hub URL {manifest.hub.url!r} is not an http(s) URL", "write it like https://hub.example.edu", code="hub-url")
    if manifest.hub.image not in manifest.images:
        yield _err(("hub", "image"), f"unknown image {manifest.hub.image!r}", f"use one of the keys of `images`: {', '.join(images)}", code="unknown-image")
    if not manifest.images:
        yield _err(("images",), "no images are defined", "add at least one, e.g. `data8: {standard: data8}`", code="no-images")

    hub_res = manifest.hub.resources
    if None not in (hub_res.memory.guarantee, hub_res.memory.limit) and hub_res.memory.limit < hub_res.memory.guarantee:
        yield _err(
            ("hub", "resources", "memory", "limit"),
            f"memory limit {format_size(hub_res.memory.limit)} is below the guarantee {format_size(hub_res.memory.guarantee)}",
            "raise the limit or lower the guarantee", code="limit-below-guarantee",
        )
    if None not in (hub_res.cpu.guarantee, hub_res.cpu.limit) and hub_res.cpu.limit < hub_res.cpu.guarantee:
        yield _err(("hub", "resources", "cpu", "limit"), f"CPU limit {hub_res.cpu.limit} is below the guarantee {hub_res.cpu.guarantee}", "raise the limit or lower the guarantee", code="limit-below-guarantee")

    yield from _check_lms(manifest, base)

    seen_ids: dict[str, int] = {}
    for i, course in enumerate(manifest.courses):
        loc = ("courses", i)
        if course.id in seen_ids:
            yield _err(loc + ("id",), f"course id {course.id!r} is used twice (also courses[{seen_ids[course.id]}])", "give each course its own id", code="duplicate-course")
        seen_ids.setdefault(course.id, i)
        if course.image is not None and course.image not in manifest.images:
            yield _err(loc + ("image",), f"unknown image {course.image!r}", f"use one of the keys of `images`: {', '.join(images)}", code="unknown-image")
        if course.term.end < course.term.start:
            yield _err(
                loc + ("term", "end"),
                f"the term ends ({course.term.end}) before it starts ({course.term.start})",
                "swap the dates or fix the year", code="term-order",
            )
        if course.kind == "event" and (course.term.end - course.term.start).days > 31:
            yield _err(loc + ("term",), "an event longer than a month", "use kind: course for a term-long course", "warning", code="long-event")

        yield from _check_resources(manifest, i)

        staff = set(course.staff.instructors) | set(course.staff.tas)
        for name in sorted(staff & set(course.roster)):
            yield _err(
                loc + ("students",),
                f"{name!r} is both a student and staff of {course.id}",
                "remove them from the roster or from staff", code="student-is-staff",
            )
        for name in sorted(set(course.staff.instructors) & set(course.staff.tas)):
            yield _err(loc + ("staff", "tas"), f"{name!r} is listed as instructor and TA", "instructor access already includes TA access", "warning", code="instructor-is-ta")

        assignment_ids: dict[str, int] = {}
        for j, a in enumerate(course.assignments):
            aloc = loc + ("assignments", j)
            if a.id in assignment_ids:
                yield _err(aloc + ("id",), f"assignment id {a.id!r} is used twice in {course.id}", "give each assignment its own id", code="duplicate-assignment")
            assignment_ids.setdefault(a.id, j)
            p = PurePosixPath(a.path)
            if a.path.startswith("/") or ".." in p.parts or not a.path.strip():
                yield _err(aloc + ("path",), f"assignment path {a.path!r} must be relative to the content repository", "drop the leading / and any ..", code="assignment-path")
            if a.due and not (course.term.start <= a.due <= course.term.end):
                yield _err(aloc + ("due",), f"due date {a.due} is outside the term", "", "warning", code="due-outside-term")
            if a.source and not (base / a.source).exists():
                yield _err(aloc + ("source",), f"grader source {a.source!r} does not exist", "the path is relative to the manifest", code="grader-source-missing")
        if course.assignments and course.content is None:
            yield _err(loc + ("assignments",), f"{course.id} has assignments but no `content` repository", "add `content: {repo: ..., branch: main}`", code="assignments-without-content")
        if course.content and course.content.local and not (base / course.content.local).is_dir():
            yield _err(loc + ("content", "local"), f"content folder {course.content.local!r} does not exist", "the path is relative to the manifest", code="content-local-missing")
        if course.grader != "none" and not course.assignments:
            yield _err(loc + ("grader",), f"{course.id} uses {course.grader} but lists no assignments", "", "warning", code="grader-without-assignments")


def _check_resources(manifest: Manifest, i: int) -> Iterator[dict]:
    course = manifest.courses[i]
    s = course_settings(manifest, course)
    loc = ("courses", i, "resources")
    # Point at whichever side the course set, so the message lands on the line to edit.
    # Only report here what the course's own overrides broke; the hub's defaults are checked once.
    mem, cpu = course.resources.memory, course.resources.cpu
    if (mem.guarantee, mem.limit) != (None, None) and s.mem_guarantee is not None and s.mem_limit is not None and s.mem_limit < s.mem_guarantee:
        where = "limit" if course.resources.memory.limit is not None else "guarantee"
        yield _err(
            loc + ("memory", where),
            f"memory limit {format_size(s.mem_limit)} is below the guarantee {format_size(s.mem_guarantee)}",
            "raise the limit or lower the guarantee (the hub's defaults apply where the course sets nothing)", code="limit-below-guarantee",
        )
    if (cpu.guarantee, cpu.limit) != (None, None) and s.cpu_guarantee is not None and s.cpu_limit is not None and s.cpu_limit < s.cpu_guarantee:
        where = "limit" if course.resources.cpu.limit is not None else "guarantee"
        yield _err(
            loc + ("cpu", where),
            f"CPU limit {s.cpu_limit} is below the guarantee {s.cpu_guarantee}",
            "raise the limit or lower the guarantee", code="limit-below-guarantee",
        )


def _check_lms(manifest: Manifest, base: Path) -> Iterator[dict]:
    """LTI settings: real URLs, a public key that exists, and each LMS course leading to one course."""
    lms = manifest.hub.lms
    if lms is not None and lms.lti13 is not None:
        for key in ("issuer", "auth_url", "jwks_url", "token_url"):
            value = getattr(lms.lti13, key)
            url = urlsplit(value or "")
            if value is not None and (url.scheme not in ("http", "https") or not url.netloc):
                yield _err(("hub", "lms", "lti13", key), f"{key} {value!r} is not an http(s) URL", "copy it from the LMS's tool registration", code="lms-url")
        key_file = lms.lti13.tool_public_key
        if key_file is not None and not (base / key_file).is_file():
            yield _err(("hub", "lms", "lti13", "tool_public_key"), f"public key file {key_file!r} does not exist", "the path is relative to the manifest", code="lms-key-missing")
    contexts: dict[str, int] = {}
    labels: dict[str, int] = {}
    for i, course in enumerate(manifest.courses):
        if course.lms is None:
            continue
        loc = ("courses", i, "lms")
        if lms is None:
            yield _err(loc, f"{course.id} names an LMS course but the hub has no `lms` section", "add `hub.lms` (lti13 or lti11)", code="lms-missing")
        if course.lms.context_id is not None:
            if course.lms.context_id in contexts:
                other = manifest.courses[contexts[course.lms.context_id]].id
                yield _err(loc + ("context_id",), f"context_id {course.lms.context_id!r} is also {other}'s", "a launch must lead to one course", code="lms-context-twice")
            contexts.setdefault(course.lms.context_id, i)
        if course.lms.context_label is not None:
            if course.lms.context_label in labels:
                other = manifest.courses[labels[course.lms.context_label]].id
                yield _err(loc + ("context_label",), f"context_label {course.lms.context_label!r} is also {other}'s", "a launch must lead to one course", code="lms-context-twice")
            labels.setdefault(course.lms.context_label, i)
