"""JupyterHub RBAC roles coursehub generates: course staff, and the roster-sync service.

Staff roles use JupyterHub's ``!group=`` scope filters, so an instructor's permissions reach exactly
the members of their course's students group and nothing else on the hub. Each course gets two
roles, granted to its staff groups (see :mod:`coursehub.access.groups`):

- ``coursehub-<course>-instructors``: the admin page, listing and reading their students (and their
  servers), opening their servers (office hours) and starting/stopping them;
- ``coursehub-<course>-tas``: the same without starting or stopping servers. A TA never gets a scope
  an instructor lacks (a test checks it).

Term dates bound the roles: the runtime (:mod:`coursehub.hub.runtime.spawn`) grants a course's roles to nobody
when the hub starts outside the course's dates, and ``coursehub sync`` empties the groups after the
term.
"""

from __future__ import annotations

from coursehub.access.groups import group_name
from coursehub.manifest import Course

SYNC_SERVICE = "coursehub-sync"

#: Scopes on the course's students, filtered to their group. ``read:users`` shows name, groups and
#: activity in the admin page; ``access:servers`` opens a student's server.
_TA_STUDENT_SCOPES = ("list:users", "read:users", "read:servers", "access:servers")
_INSTRUCTOR_STUDENT_SCOPES = _TA_STUDENT_SCOPES + ("servers",)


def role_name(course_id: str, staff: str) -> str:
    return group_name(course_id, staff)


def staff_roles(course: Course) -> list[dict]:
    """The instructor and TA roles of ``course`` (JupyterHub ``load_roles`` entries plus ``course``).

    The ``course`` key tells the runtime whose dates bound the role; it is removed before the role
    reaches JupyterHub.
    """
    students = group_name(course.id, "students")
    roles = []
    for staff, scopes in (("instructors", _INSTRUCTOR_STUDENT_SCOPES), ("tas", _TA_STUDENT_SCOPES)):
        roles.append(
            {
                "name": role_name(course.id, staff),
                "description": f"{staff} of {course.id}: see and open the servers of its students",
                "scopes": ["admin-ui", f"read:groups!group={students}", f"list:groups!group={students}"]
                + [f"{scope}!group={students}" for scope in scopes],
                "groups": [group_name(course.id, staff)],
                "course": course.id,
            }
        )
    return roles


#: Enough to compute a sync plan (``coursehub sync`` without ``--apply``): user names, and groups with
#: their members and properties (``list:groups`` alone shows names only).
SYNC_PLAN_SCOPES = ("list:users", "list:groups", "read:groups")
#: The smallest set that applies one. JupyterHub has no narrower scope for creating users than
#: ``admin:users``, nor for creating groups than ``admin:groups``; their subscopes cover the plan's
#: reads, members and properties (``groups``) and ``delete:users`` (used only by ``--delete-users``).
#: Filtered forms (``groups!group=...``) cannot create groups, so they cannot narrow it further.
SYNC_APPLY_SCOPES = ("admin:users", "admin:groups")


def sync_service_role() -> dict:
    """The least-privilege role of the roster-sync service (``coursehub sync``).

    The scope list belongs to the sync capability; the hub configuration includes it as is.
    """
    return {
        "name": SYNC_SERVICE,
        "description": "coursehub sync: create course users and groups, set the members of coursehub's groups",
        "scopes": list(SYNC_APPLY_SCOPES),
        "services": [SYNC_SERVICE],
    }


def collect_service(course_id: str) -> str:
    """The service ``coursehub collect`` runs as for one course (one per course, so one token per course)."""
    return f"coursehub-collect-{course_id}"


#: What ``coursehub collect`` needs on a course's students, each filtered to their group: read a
#: student's model with its stopped servers (``read:users``), start and stop the course's server
#: (``servers``), and reach the server's contents API through the proxy (``access:servers``).
COLLECT_SCOPES = ("read:users", "servers", "tokens")


def collect_service_role(course: Course) -> dict:
    """The role of ``course``'s collect service: its students' servers and nobody else's."""
    students = group_name(course.id, "students")
    name = collect_service(course.id)
    return {
        "name": name,
        "description": f"coursehub collect for {course.id}: read its students' work from their course servers",
        "scopes": [f"{scope}!group={students}" for scope in COLLECT_SCOPES],
        "services": [name],
    }
