"""Roster sync: bring a live hub's users and coursehub's groups to what the manifest says.

Three steps, each usable on its own: :func:`read_hub_state` reads the hub (a handful of paginated
requests), :func:`make_plan` compares it with :func:`desired_groups` and lists every change, and
:func:`apply_plan` makes the changes with JupyterHub's bulk endpoints. Planning again after an apply
finds nothing to do.

Ownership. Sync changes only groups it owns: ``coursehub-<course>-<role>`` (the naming convention in
:mod:`coursehub.access.groups`), nbgrader's ``nbgrader-<course>``/``formgrade-<course>`` when they carry the
``coursehub`` group property, and the ``coursehub-managed`` group. It never deletes a group, and a
group it does not own is reported as a conflict and left alone.

Users. JupyterHub users have no properties, so the users sync created are the members of the
``coursehub-managed`` group. Before creating users, sync writes their names into that group's
``coursehub.pending`` property; if the apply is interrupted between creating a user and marking it,
the next run finds the name there and marks it. That record only grows until its users are marked: an
apply adds its own names to the ones already there, and removes a name only once the user is marked
(or the hub refused to create it, or the plan found it never created), so any number of interrupted
applies in a row lose no name. Users are deleted only with ``delete_users=True``, and only managed
users no active course needs (never a hub admin).

LMS launches. A user the LMS launched into a course is recorded by the hub in ``lti-<course>-<role>``
(a group sync never changes) and kept in the course's groups like a roster member until the term ends.

Terms. A course's groups hold its students and staff from before the term starts until its last
day (inclusive); after that the groups are emptied, which ends the course's limits and staff access.
Groups of courses no longer in the manifest are emptied too. Events expire the same way.

Faults. Changes run in an order that never removes anything the manifest needs (removals come
last and only ever remove members the manifest does not list), so re-running after a crash converges.
A request the hub refuses (4xx) is split until the refused item is found; the others still apply and
every failure is listed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from coursehub.access.groups import (
    OWNER_PROPERTY,
    course_group_members,
    course_group_properties,
    launch_group_name,
    parse_group_name,
    role_groups,
)
from coursehub.access.roles import SYNC_APPLY_SCOPES, SYNC_PLAN_SCOPES
from coursehub.errors import CoursehubError
from coursehub.manifest import Course, Manifest
from coursehub.hub.client import HubClient

#: The group whose members are the users sync created (the only users it may ever delete).
MANAGED_GROUP = "coursehub-managed"
MANAGED_PROPERTIES = {OWNER_PROPERTY: {"role": "managed-users"}}
NBGRADER_PREFIXES = ("nbgrader-", "formgrade-")
#: Usernames per bulk request: big enough that 20,000 users take 40 requests, small enough that
#: one request finishes well inside a proxy's timeout.
DEFAULT_BATCH = 500
#: JupyterHub creates the users of a request one by one, with a database commit each (10-30 ms), and
#: serves one request at a time: 200 per request, sent one after another, keeps each well inside a
#: proxy's timeout (configurable-http-proxy answers 503 after about 40 s).
CREATE_BATCH = 200


@dataclass(frozen=True)
class DesiredGroup:
    """A group as the manifest wants it on ``today``."""

    name: str
    course: str
    role: str
    members: frozenset[str]
    properties: dict


@dataclass
class LiveGroup:
    name: str
    users: set[str]
    properties: dict


@dataclass
class HubState:
    """What sync read from the hub. ``users`` is ``None`` when no user listing was needed."""

    groups: dict[str, LiveGroup]
    users: set[str] | None = None

    def __post_init__(self) -> None:
        self._members = set().union(*(g.users for g in self.groups.values()))

    def user_exists(self, name: str) -> bool:
        if self.users is not None:
            return name in self.users
        return name in self._members


def course_status(course: Course, today: dt.date) -> str:
    """``upcoming`` (provisioned early), ``active`` or ``ended`` (groups emptied)."""
    if today > course.term.end:
        return "ended"
    return "upcoming" if today < course.term.start else "active"


def group_properties(course: Course) -> dict[str, dict]:
    """Group name -> the properties sync keeps on it (other keys on a group are left as they are).

    Only nbgrader's groups get them: there the ``coursehub`` property is the ownership marker, since
    nbgrader fixes the names. A ``coursehub-<course>-<role>`` group says whose it is in its name, and
    JupyterHub has no bulk endpoint for properties, so writing them there too would cost one request per
    group (half of a first apply's requests) for nothing the runtime reads. The hub configuration's
    ``load_groups`` still sets them, from the same home, for people browsing the admin API.
    """
    props = course_group_properties(course)
    return {name: (value if parse_group_name(name) is None else {}) for name, value in props.items()}


def with_launches(
    manifest: Manifest, desired: dict[str, DesiredGroup], groups: dict[str, LiveGroup], *, today: dt.date
) -> dict[str, DesiredGroup]:
    """``desired`` plus the users LMS launches put in each course, until the course ends.

    The hub's launch hook records them in ``lti-<course>-<role>`` and owns those groups; sync keeps
    their members in the course's groups as if the roster listed them, so a launch and a sync never
    undo each other.
    """
    out = dict(desired)
    for course in manifest.courses:
        if course.lms is None or course_status(course, today) == "ended":
            continue
        for role, names in role_groups(course).items():
            live = groups.get(launch_group_name(course.id, role))
            if live is None or not live.users:
                continue
            for name in names:
                if name in out:
                    out[name] = dataclasses.replace(out[name], members=out[name].members | frozenset(live.users))
    return out


def desired_groups(manifest: Manifest, *, today: dt.date) -> dict[str, DesiredGroup]:
    """Every group the manifest's courses need on ``today``, with members (none once a course ended)."""
    out: dict[str, DesiredGroup] = {}
    for course in manifest.courses:
        ended = course_status(course, today) == "ended"
        owner = course_group_properties(course)
        properties = group_properties(course)
        for name, members in course_group_members(course).items():
            out[name] = DesiredGroup(
                name=name,
                course=course.id,
                role=owner[name][OWNER_PROPERTY]["role"],
                members=frozenset() if ended else frozenset(members),
                properties=properties[name],
            )
    return out


def owns(group: LiveGroup) -> bool:
    """Whether sync may change ``group``: coursehub's naming convention, or nbgrader's plus the owner property."""
    if group.name == MANAGED_GROUP or parse_group_name(group.name) is not None:
        return True
    return group.name.startswith(NBGRADER_PREFIXES) and OWNER_PROPERTY in (group.properties or {})


def missing_scopes(granted: Iterable[str], *, apply: bool) -> list[str]:
    """The scopes a token lacks for planning (and applying). ``granted`` are its expanded scopes."""
    granted = set(granted)
    needed = SYNC_PLAN_SCOPES + (SYNC_APPLY_SCOPES if apply else ())
    return [s for s in needed if s not in granted]


def check_token(client: HubClient, *, apply: bool) -> None:
    """Fail early, naming the missing scope, if the token cannot do what was asked."""
    missing = missing_scopes(client.whoami().get("scopes", []), apply=apply)
    if missing:
        what = "apply a sync" if apply else "read the hub's users and groups"
        raise CoursehubError(
            f"the API token lacks the scope(s) {', '.join(missing)} needed to {what}; "
            "give its owner the coursehub-sync role (scopes: " + ", ".join(SYNC_APPLY_SCOPES) + ")"
        )


def read_hub_state(client: HubClient, desired: dict[str, DesiredGroup]) -> HubState:
    """Read every group (members and properties), and the user list only if it can matter.

    A user who is a member of any group certainly exists; only when some wanted user is in no group
    (a first sync, a roster change) is the full user list read. A no-op re-sync therefore costs one
    request per 200 groups.
    """
    groups = {}
    for item in client.paginate("/groups"):
        groups[item["name"]] = LiveGroup(item["name"], set(item.get("users") or ()), dict(item.get("properties") or {}))
    state = HubState(groups)
    seen = state._members
    wanted = set().union(*(d.members for d in desired.values())) if desired else set()
    managed = groups.get(MANAGED_GROUP)
    if managed is not None:
        wanted |= set(_pending(managed))
    if wanted - seen:
        state.users = {u["name"] for u in client.paginate("/users")}
    return state


def _pending(group: LiveGroup) -> list[str]:
    meta = group.properties.get(OWNER_PROPERTY)
    return list(meta.get("pending") or []) if isinstance(meta, dict) else []


def managed_properties(base: dict, pending: Iterable[str]) -> dict:
    """The ``coursehub-managed`` group's properties (``base`` plus coursehub's own) recording ``pending``
    as the users being created; with no names, no record."""
    owner = dict(MANAGED_PROPERTIES[OWNER_PROPERTY])
    names = sorted(set(pending))
    if names:
        owner["pending"] = names
    return {**base, OWNER_PROPERTY: owner}


@dataclass
class Plan:
    """Every change that would bring the hub to the manifest; empty when the hub already matches."""

    today: dt.date
    create_groups: list[str] = field(default_factory=list)
    create_users: list[str] = field(default_factory=list)
    #: Existing users an interrupted apply created but did not get to mark as managed.
    mark_users: list[str] = field(default_factory=list)
    #: The hub's record of users being created (``coursehub.pending``) when the plan was made.
    pending: list[str] = field(default_factory=list)
    add_members: dict[str, list[str]] = field(default_factory=dict)
    remove_members: dict[str, list[str]] = field(default_factory=dict)
    #: The complete new properties of each group that needs them changed.
    set_properties: dict[str, dict] = field(default_factory=dict)
    #: Managed users no active course needs: what ``--delete-users`` deletes (and does only if enabled).
    delete_users: list[str] = field(default_factory=list)
    delete_enabled: bool = False
    conflicts: list[str] = field(default_factory=list)
    courses: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to change (``delete_users`` counts only when deletion is enabled)."""
        return not (
            self.create_groups or self.create_users or self.mark_users or self.add_members
            or self.remove_members or self.set_properties or (self.delete_enabled and self.delete_users)
        )

    def counts(self) -> dict[str, int]:
        return {
            "create_groups": len(self.create_groups),
            "create_users": len(self.create_users),
            "mark_users": len(self.mark_users),
            "add_members": sum(map(len, self.add_members.values())),
            "remove_members": sum(map(len, self.remove_members.values())),
            "set_properties": len(self.set_properties),
            "delete_users": len(self.delete_users) if self.delete_enabled else 0,
        }

    def to_json(self) -> dict:
        return {
            "today": self.today.isoformat(),
            "counts": self.counts(),
            "create_groups": self.create_groups,
            "create_users": self.create_users,
            "mark_users": self.mark_users,
            "add_members": self.add_members,
            "remove_members": self.remove_members,
            "set_properties": self.set_properties,
            "delete_users": {"enabled": self.delete_enabled, "users": self.delete_users},
            "conflicts": self.conflicts,
            "courses": self.courses,
        }


def make_plan(
    manifest: Manifest,
    state: HubState,
    desired: dict[str, DesiredGroup],
    *,
    today: dt.date,
    delete_users: bool = False,
) -> Plan:
    """Compare the hub's ``state`` with the ``desired`` groups (:func:`desired_groups` of ``manifest`` on ``today``)."""
    desired = with_launches(manifest, desired, state.groups, today=today)
    plan = Plan(today=today, delete_enabled=delete_users)
    wanted_users: set[str] = set()
    per_course: dict[str, dict] = {}

    def tally(course: str, key: str, n: int) -> None:
        if n:
            row = per_course.setdefault(course, {})
            row[key] = row.get(key, 0) + n

    def diff_members(name: str, course: str, live: set[str], want: frozenset[str] | set[str]) -> None:
        add, remove = sorted(set(want) - live), sorted(live - set(want))
        if add:
            plan.add_members[name] = add
            tally(course, "add_members", len(add))
        if remove:
            plan.remove_members[name] = remove
            tally(course, "remove_members", len(remove))

    for name, want in sorted(desired.items()):
        live = state.groups.get(name)
        if live is not None and not owns(live):
            plan.conflicts.append(
                f"group {name} exists without the {OWNER_PROPERTY!r} property, so it is not coursehub's: left alone "
                f"(add the property to hand it to coursehub, or rename it)"
            )
            continue
        wanted_users |= want.members
        if live is None:
            plan.create_groups.append(name)
            live = LiveGroup(name, set(), {})
        diff_members(name, want.course, live.users, want.members)
        if any(live.properties.get(k) != v for k, v in want.properties.items()):
            plan.set_properties[name] = {**live.properties, **want.properties}

    for name, live in sorted(state.groups.items()):
        if name in desired or name == MANAGED_GROUP or not owns(live):
            continue
        # coursehub's group for a course the manifest no longer lists: the course is over
        course = f"{name} (not in the manifest)"
        diff_members(name, course, live.users, set())

    plan.create_users = sorted(u for u in wanted_users if not state.user_exists(u))
    for course in manifest.courses:
        members = set().union(*course_group_members(course).values())
        tally(course.id, "create_users", len(members & set(plan.create_users)))

    managed = state.groups.get(MANAGED_GROUP)
    managed_users = set(managed.users) if managed else set()
    if managed is None:
        plan.create_groups.append(MANAGED_GROUP)
        plan.create_groups.sort()
        plan.set_properties[MANAGED_GROUP] = dict(MANAGED_PROPERTIES)
    else:
        plan.pending = sorted(set(_pending(managed)))
        plan.mark_users = sorted(u for u in plan.pending if u not in managed_users and state.user_exists(u))
        if managed.properties.get(OWNER_PROPERTY) != MANAGED_PROPERTIES[OWNER_PROPERTY]:
            plan.set_properties[MANAGED_GROUP] = {**managed.properties, **MANAGED_PROPERTIES}
    admins = set(manifest.hub.admins)
    plan.delete_users = sorted((managed_users | set(plan.mark_users)) - wanted_users - admins)

    for course in manifest.courses:
        row = per_course.pop(course.id, {})
        plan.courses.append(
            {
                "course": course.id,
                "kind": course.kind,
                "term": f"{course.term.start}..{course.term.end}",
                "status": course_status(course, today),
                "create_users": row.get("create_users", 0),
                "add_members": row.get("add_members", 0),
                "remove_members": row.get("remove_members", 0),
            }
        )
    for course, row in sorted(per_course.items()):
        plan.courses.append(
            {"course": course, "kind": "", "term": "", "status": "not in manifest", "create_users": 0, "add_members": 0,
             "remove_members": row.get("remove_members", 0)}
        )
    return plan


