"""The JupyterHub groups coursehub manages: their names, members and properties.

Every course gets three groups: ``coursehub-<course>-students``, ``coursehub-<course>-instructors``
and ``coursehub-<course>-tas``. The ``coursehub-`` prefix is how ``sync`` recognises groups it owns:
it never touches a group without it, so groups an authenticator (LTI, OAuth) manages stay as they are.
nbgrader courses additionally get the two groups nbgrader's JupyterHub integration looks for,
``nbgrader-<course>`` (students) and ``formgrade-<course>`` (graders); they carry the
``coursehub`` group property so sync can tell them from hand-made ones. A user's server for a
course is the named server :func:`server_name` gives.

Launches from the LMS (LTI) add a user to the groups of their role in the course, and record the launch
in ``lti-<course>-<role>``. Those record groups belong to the hub's launch hook, never to sync; sync reads
them and keeps their members in the course's groups as if the roster listed them (see
:mod:`coursehub.sync.plan`).
"""

from __future__ import annotations

from coursehub.manifest import Course, Manifest

PREFIX = "coursehub-"
ROLES = ("students", "instructors", "tas")
#: Groups recording LMS launches (``lti-<course>-<role>``); not ``coursehub-``, so sync never changes them.
LAUNCH_PREFIX = "lti-"
#: Group property that marks a group as created and managed by coursehub.
OWNER_PROPERTY = "coursehub"


def group_name(course_id: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown course role {role!r}")
    return f"{PREFIX}{course_id}-{role}"


def server_name(course_id: str) -> str:
    """The JupyterHub named server a user works in for a course: its id (``/user/<name>/<course>/``).

    The manifest's rules keep course ids valid server names (JupyterHub 6's safe slugs), and the hub
    runtime reads the course back from the server's name.
    """
    return course_id


def parse_group_name(name: str) -> tuple[str, str] | None:
    """``coursehub-data-c8-fa26-tas`` -> ``("data-c8-fa26", "tas")``; ``None`` if not ours."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX):]
    for role in ROLES:
        if rest.endswith("-" + role) and len(rest) > len(role) + 1:
            return rest[: -len(role) - 1], role
    return None


def nbgrader_groups(course_id: str) -> dict[str, str]:
    """The groups nbgrader's hub integration expects for a course: students and graders."""
    return {"students": f"nbgrader-{course_id}", "graders": f"formgrade-{course_id}"}


def role_groups(course: Course) -> dict[str, list[str]]:
    """Role -> every group a member of the course in that role belongs to (nbgrader's too, when used)."""
    groups = {role: [group_name(course.id, role)] for role in ROLES}
    if course.grader == "nbgrader":
        nb = nbgrader_groups(course.id)
        groups["students"].append(nb["students"])
        groups["instructors"].append(nb["graders"])
        groups["tas"].append(nb["graders"])
    return groups


def launch_group_name(course_id: str, role: str) -> str:
    """The group recording who launched the course from the LMS in ``role`` (owned by the launch hook)."""
    if role not in ROLES:
        raise ValueError(f"unknown course role {role!r}")
    return f"{LAUNCH_PREFIX}{course_id}-{role}"


def course_group_members(course: Course) -> dict[str, list[str]]:
    """Every group the course needs, with its members (sorted), including nbgrader's when used."""
    by_role = {"students": set(course.roster), "instructors": set(course.staff.instructors), "tas": set(course.staff.tas)}
    members: dict[str, set[str]] = {group_name(course.id, role): set() for role in ROLES}
    for role, groups in role_groups(course).items():
        for name in groups:
            members.setdefault(name, set()).update(by_role[role])
    return {name: sorted(users) for name, users in members.items()}


def course_group_properties(course: Course) -> dict[str, dict]:
    """Group name -> the properties coursehub sets on it (what ``sync`` must write too).

    ``{"coursehub": {"course": <id>, "role": students|instructors|tas|nbgrader-students|nbgrader-graders}}``:
    the marker that the group is coursehub's, and whose it is. The spawn settings are not in the
    properties; the runtime reads them from the generated course data.
    """
    props = {group_name(course.id, role): {OWNER_PROPERTY: {"course": course.id, "role": role}} for role in ROLES}
    if course.grader == "nbgrader":
        for kind, name in nbgrader_groups(course.id).items():
            props[name] = {OWNER_PROPERTY: {"course": course.id, "role": f"nbgrader-{kind}"}}
    return props


def load_groups(manifest: Manifest) -> dict[str, dict]:
    """Every course group with its members and properties, as ``JupyterHub.load_groups`` takes it."""
    groups: dict[str, dict] = {}
    for course in manifest.courses:
        props = course_group_properties(course)
        for name, members in course_group_members(course).items():
            groups[name] = {"users": members, "properties": props[name]}
    return dict(sorted(groups.items()))
