"""Rules that span several fields of a valid-looking manifest.

Each check yields ``dict(loc=..., message=..., hint=..., severity=..., code=...)`` (``code`` is stable, see
:class:`coursehub.errors.Problem`); the loader turns ``loc`` into ``file:line:column``. Checks run after rosters are loaded, so they can compare students with staff.
The checks the build makes (links, images) are in :mod:`coursehub.manifest.buildrules`, the ones on
files the manifest names in :mod:`coursehub.manifest.filerules`; :func:`rule_problems` runs them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from coursehub.errors import excerpt
from coursehub.links.url import url_syntax_problem
from coursehub.manifest import Manifest, SharedData
from coursehub.manifest.buildrules import hub_url_problems, image_problems, link_problems
from coursehub.manifest.effective import course_settings
from coursehub.manifest.filerules import file_problems
from coursehub.manifest.files import FileProblem, Limits, resolve
from coursehub.manifest.units import format_size, unitless_size_hint
from coursehub.manifest.usernames import SERVER_NAME_RULE, is_server_name


def _err(loc, message, hint="", severity="error", *, code: str):
    return dict(loc=tuple(loc), message=message, hint=hint, severity=severity, code=code)


def rule_problems(manifest: Manifest, *, limits: Limits | None = None) -> Iterator[dict]:
    """Every problem the cross-field rules, the build's checks and the file checks find in a manifest
    whose fields are individually valid."""
    limits = limits or Limits.from_env()
    base = Path(manifest.source).parent if manifest.source else Path.cwd()
    images = sorted(manifest.images)

    url_problems = list(hub_url_problems(manifest))
    hub_ok = not any(p["severity"] == "error" for p in url_problems)  # before the loader consumes them
    yield from url_problems
    if manifest.hub.image not in manifest.images:
        yield _err(("hub", "image"), f"unknown image {excerpt(manifest.hub.image)}", f"use one of the keys of `images`: {', '.join(images)}", code="unknown-image")
    if not manifest.images:
        yield _err(("images",), "no images are defined", "add at least one, e.g. `data8: {standard: data8}`", code="no-images")

    storage = manifest.hub.nbgrader_storage
    if storage.nfs is not None and storage.storage_class is not None:
        yield _err(("hub", "nbgrader_storage"), "both an NFS export and a storage class are given", "keep one: nfs mounts the export, storage_class claims volumes", code="nbgrader-storage-conflict")
    if storage.nfs is not None and not storage.nfs.path.startswith("/"):
        yield _err(("hub", "nbgrader_storage", "nfs", "path"), f"NFS path {excerpt(storage.nfs.path)} is not absolute", "write the exported folder as /exports/nbgrader", code="nfs-path-not-absolute")

    hub_res = manifest.hub.resources
    yield from _small_sizes(hub_res.memory, ("hub", "resources", "memory"))
    for k, node_type in enumerate(manifest.capacity.node_types):
        yield from _small_sizes(node_type, ("capacity", "node_types", k))
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
        if not is_server_name(course.id):
            # a student's server for the course is the named server called like the course
            yield _err(
                loc + ("id",),
                f"course id {course.id!r} cannot name the course's JupyterHub server",
                f"use {SERVER_NAME_RULE} (e.g. data-c8-fa26)",
                code="course-id-not-a-server-name",
            )
        if course.image is not None and course.image not in manifest.images:
            yield _err(loc + ("image",), f"unknown image {excerpt(course.image)}", f"use one of the keys of `images`: {', '.join(images)}", code="unknown-image")
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
                yield _err(aloc + ("path",), f"assignment path {excerpt(a.path)} must be relative to the content repository", "drop the leading / and any ..", code="assignment-path")
            if a.due and not (course.term.start <= a.due <= course.term.end):
                yield _err(aloc + ("due",), f"due date {a.due} is outside the term", "", "warning", code="due-outside-term")
        if course.assignments and course.content is None:
            yield _err(loc + ("assignments",), f"{course.id} has assignments but no `content` repository", "add `content: {repo: ..., branch: main}`", code="assignments-without-content")
        yield from link_problems(manifest, i, hub_ok=hub_ok)
        yield from _check_environment(course.environment, loc + ("environment",))
        if course.shared_data is not None:
            yield from _check_shared_data(course.shared_data, loc + ("shared_data",))
        if course.grader != "none" and not course.assignments:
            yield _err(loc + ("grader",), f"{course.id} uses {course.grader} but lists no assignments", "", "warning", code="grader-without-assignments")

    yield from _check_node_fit(manifest)
    yield from file_problems(manifest, base, limits)
    yield from image_problems(manifest)


#: Variables the hub and coursehub set in every server: a course must not replace them (a course's
#: JUPYTERHUB_API_URL would send each student's token elsewhere).
RESERVED_ENV_PREFIXES = ("JUPYTERHUB_", "COURSEHUB_", "JPY_")
RESERVED_ENV = {"MEM_LIMIT", "CPU_LIMIT", "MEM_GUARANTEE", "CPU_GUARANTEE"}


def _check_environment(environment: dict[str, str], loc: tuple) -> Iterator[dict]:
    for name, value in environment.items():
        if name.upper().startswith(RESERVED_ENV_PREFIXES) or name.upper() in RESERVED_ENV:
            yield _err(loc + (name,), f"{name} is set by the hub or coursehub in every server; a course cannot change it",
                       "remove it, or use another name", code="env-reserved")
        if "\0" in value:
            yield _err(loc + (name,), f"the value of {name} contains a NUL character, which no environment can hold", "remove it", code="env-nul")


# Folders a course's shared data must never be mounted from or over: the system, the hub's state, and
# whole home trees (another user's files).
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/opt/tljh", "/proc", "/root", "/run",
                "/sbin", "/srv/jupyterhub", "/sys", "/usr", "/var/lib/jupyterhub", "/var/run")
_WHOLE_TREES = ("/", "/home", "/home/jovyan", "/tmp", "/var", "/srv", "/mnt", "/opt", "/media")
# A Kubernetes PersistentVolumeClaim name: a DNS-1123 subdomain.
_PVC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a mount point or bind source: must be absolute and plain."""
    if not path.startswith("/"):
        return "must be an absolute path"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path) or ":" in path:
        return "must not contain ':' or control characters (systemd and Kubernetes split on them)"
    if path != "/" and (path.endswith("/") or "//" in path or any(p in (".", "..") for p in path.split("/")[1:])):
        return "must be written plainly (no '.', '..', '//' or trailing '/')"
    if path in _WHOLE_TREES or any(path == d or path.startswith(d + "/") for d in _SYSTEM_DIRS):
        return "is a system folder or a whole tree of other users' files"
    return None


def _check_shared_data(shared: SharedData, loc: tuple) -> Iterator[dict]:
    problem = _path_problem(shared.mount_path)
    if problem:
        yield _err(loc + ("mount_path",), f"the mount path {excerpt(shared.mount_path)} {problem}",
                   "mount the data in its own folder, e.g. /home/jovyan/shared", code="shared-data-mount-path")
    volume = shared.volume
    if volume.startswith("/"):
        problem = _path_problem(volume)
        if problem:
            yield _err(loc + ("volume",), f"the shared data folder {excerpt(volume)} {problem}",
                       "give the course's own data folder, e.g. /srv/data/<course>", code="shared-data-folder")
    elif not (_PVC_NAME.match(volume) and len(volume) <= 253):
        yield _err(loc + ("volume",), f"{excerpt(volume)} is neither a Kubernetes volume claim name nor an absolute folder",
                   "give a PersistentVolumeClaim name (lowercase, digits, '-') or, on a single machine, an absolute folder",
                   code="shared-data-volume")


def _check_node_fit(manifest: Manifest) -> Iterator[dict]:
    """Guarantees no node can hold (the server never starts) and limits above every node (never reached).

    Without ``capacity.node_types`` the default node type is only a guess at the hub's machines, so
    only a guarantee above it, or a limit far above it (a typo in the unit), is worth a warning.
    """
    nodes = manifest.capacity.effective_node_types()
    configured = bool(manifest.capacity.node_types)
    mem = max(nodes, key=lambda t: t.memory)
    cpu = max(nodes, key=lambda t: t.cpu)
    where = "" if configured else ", the default node type; list yours in capacity.node_types"
    slack = 1 if configured else 16
    sides = [(("hub", "resources"), manifest.hub.resources)]
    sides += [(("courses", i, "resources"), c.resources) for i, c in enumerate(manifest.courses)]
    for loc, res in sides:
        for kind, values, node, largest, shown in (
            ("memory", res.memory, mem, mem.memory, format_size),
            ("cpu", res.cpu, cpu, cpu.cpu, lambda v: f"{v:g}"),
        ):
            label = "memory" if kind == "memory" else "CPU"
            for side in ("guarantee", "limit"):
                value = getattr(values, side)
                bound = largest if side == "guarantee" else largest * slack
                if value is None or value <= bound:
                    continue
                severity = "error" if side == "guarantee" and configured else "warning"
                yield _err(
                    loc + (kind, side),
                    f"{label} {side} {shown(value)} is more than the largest node has ({shown(largest)} on {node.name}{where})",
                    "no node can hold such a server" if side == "guarantee" else "the limit can never be reached; check the unit",
                    severity,
                    code=f"{kind}-{side}-above-nodes",
                )


def _small_sizes(node, loc: tuple) -> Iterator[dict]:
    """A memory size under 1M anywhere below ``node``: almost surely a number written without its unit."""
    for name in ("guarantee", "limit", "memory"):
        value = getattr(node, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and unitless_size_hint(value):
            yield _err(loc + (name,), f"memory {unitless_size_hint(value)}", "", "warning", code="size-without-unit")


def _check_resources(manifest: Manifest, i: int) -> Iterator[dict]:
    course = manifest.courses[i]
    yield from _small_sizes(course.resources.memory, ("courses", i, "resources", "memory"))
    yield from _small_sizes(course.grading, ("courses", i, "grading"))
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
            if value is None:
                continue
            problem = url_syntax_problem(value) if value.lower().startswith(("http://", "https://")) else "is not an http(s) URL"
            if problem or not urlsplit(value).hostname:
                yield _err(("hub", "lms", "lti13", key), f"{key} {excerpt(value)} {problem or 'has no host'}",
                           "copy it from the LMS's tool registration", code="lms-url")
        key_file = lms.lti13.tool_public_key
        if key_file is not None:
            try:
                resolve(base, key_file, limits=Limits.from_env(), what="public key file")
            except FileProblem as exc:
                yield _err(("hub", "lms", "lti13", "tool_public_key"), exc.message, exc.hint, code=f"lms-key-{exc.code}")
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
