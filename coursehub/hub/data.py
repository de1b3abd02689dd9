"""The course data the hub runtime (:mod:`coursehub.hub.runtime.spawn`) reads, built from the manifest.

One dict, written as ``hub/single-machine/coursehub-courses.json``, put under the Helm values'
``custom.coursehub`` and loaded by the local hub: every target reads the same data. Each course has
its groups (how the runtime finds a user's courses), its dates, and its spawn settings resolved by
:func:`coursehub.manifest.effective.course_settings` (sizes in bytes, CPU in cores, the idle timeout in seconds).
"""

from __future__ import annotations

from coursehub.hub.runtime import spawn
from coursehub.access.groups import OWNER_PROPERTY, ROLES, course_group_members, group_name, nbgrader_groups
from coursehub.manifest import Course, Manifest
from coursehub.access.roles import staff_roles, sync_service_role
from coursehub.manifest.effective import CourseSettings, course_settings


def image_refs(manifest: Manifest) -> dict[str, str]:
    """Image key -> the reference a Kubernetes hub runs (``registry:tag`` from the image plan)."""
    from coursehub.images.plan import plan_images

    plan = plan_images(manifest)
    return {key: plan.for_key(key).ref for key in sorted(manifest.images)}


def spawn_settings(s: CourseSettings, *, image_ref: str) -> dict:
    """The spawner settings of one course (or of the hub's defaults) as plain data."""
    return {
        "image": image_ref,
        "image_key": s.image,
        "interface": s.interface,
        "default_url": s.default_url,
        "mem_guarantee": s.mem_guarantee,
        "mem_limit": s.mem_limit,
        "cpu_guarantee": s.cpu_guarantee,
        "cpu_limit": s.cpu_limit,
        "idle_timeout": s.idle_timeout,
        "environment": dict(s.environment),
        "node_selector": dict(s.node_selector),
        "shared_data": s.shared_data.model_dump(mode="json") if s.shared_data else None,
    }


def course_group_properties(manifest: Manifest, course: Course) -> dict[str, dict]:
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
        props = course_group_properties(manifest, course)
        for name, members in course_group_members(course).items():
            groups[name] = {"users": members, "properties": props[name]}
    return dict(sorted(groups.items()))


def course_data(manifest: Manifest) -> dict:
    """The whole runtime data for ``manifest`` (deterministic: sorted keys, no dates of generation)."""
    refs = image_refs(manifest)
    hub = manifest.hub
    defaults = course_settings(
        manifest,
        Course.model_validate({"id": "hub-defaults", "title": "hub defaults", "term": {"start": "2000-01-01", "end": "2000-01-01"}}),
    )
    courses = {}
    roles = []
    for course in sorted(manifest.courses, key=lambda c: c.id):
        s = course_settings(manifest, course)
        courses[course.id] = {
            "title": course.title,
            "kind": course.kind,
            "start": course.term.start.isoformat(),
            "end": course.term.end.isoformat(),
            "groups": [group_name(course.id, role) for role in ROLES],
            "settings": spawn_settings(s, image_ref=refs[s.image]),
        }
        roles += staff_roles(course)
    return {
        "version": spawn.DATA_VERSION,
        "hub": {"name": hub.name, "url": hub.url},
        "defaults": spawn_settings(defaults, image_ref=refs[defaults.image]),
        "courses": courses,
        "groups": load_groups(manifest),
        "roles": roles,
        "sync_role": sync_service_role(),
    }
