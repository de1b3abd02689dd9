"""A course's effective settings: the hub's defaults with the course's overrides applied.

This is the one place the merge happens; the hub configuration, the cost model, the link builder
and the guide site all read :func:`course_settings` rather than merging on their own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from coursehub.manifest import DEFAULT_HOME_STORAGE, INTERFACE_PATHS, Course, Manifest, SharedData, Term


@dataclass(frozen=True)
class CourseSettings:
    """Spawn settings after the merge; ``course_id`` and ``term`` are ``None`` for the hub's own defaults."""

    course_id: str | None
    image: str
    interface: str
    default_url: str  # e.g. /lab; what Spawner.default_url gets
    mem_guarantee: int | None  # bytes
    mem_limit: int | None  # bytes
    cpu_guarantee: float | None
    cpu_limit: float | None
    idle_timeout: int | None  # seconds
    term: Term | None
    storage: int = DEFAULT_HOME_STORAGE  # bytes: home-directory size per student
    environment: dict[str, str] = field(default_factory=dict)
    shared_data: SharedData | None = None
    node_selector: dict[str, str] = field(default_factory=dict)

    def active_on(self, day: dt.date) -> bool:
        """Whether the course grants anything on ``day`` (term dates are inclusive)."""
        return self.term is None or self.term.start <= day <= self.term.end


def _pick(override, default):
    return default if override is None else override


def hub_settings(manifest: Manifest) -> CourseSettings:
    """The hub's defaults: what a user gets outside any course."""
    hub = manifest.hub
    base = hub.resources
    return CourseSettings(
        course_id=None,
        image=hub.image,
        interface=hub.interface,
        default_url="/" + INTERFACE_PATHS[hub.interface],
        mem_guarantee=base.memory.guarantee,
        mem_limit=base.memory.limit,
        cpu_guarantee=base.cpu.guarantee,
        cpu_limit=base.cpu.limit,
        idle_timeout=base.idle_timeout,
        term=None,
        storage=_pick(base.storage, DEFAULT_HOME_STORAGE),
    )


def course_settings(manifest: Manifest, course: Course) -> CourseSettings:
    """The course's settings: the hub's defaults with the course's overrides applied."""
    hub = manifest.hub
    base, over = hub.resources, course.resources
    interface = course.interface or hub.interface
    return CourseSettings(
        course_id=course.id,
        image=course.image or hub.image,
        interface=interface,
        default_url="/" + INTERFACE_PATHS[interface],
        mem_guarantee=_pick(over.memory.guarantee, base.memory.guarantee),
        mem_limit=_pick(over.memory.limit, base.memory.limit),
        cpu_guarantee=_pick(over.cpu.guarantee, base.cpu.guarantee),
        cpu_limit=_pick(over.cpu.limit, base.cpu.limit),
        idle_timeout=_pick(over.idle_timeout, base.idle_timeout),
        term=course.term,
        storage=_pick(over.storage, _pick(base.storage, DEFAULT_HOME_STORAGE)),
        environment=dict(sorted(course.environment.items())),
        shared_data=course.shared_data,
        node_selector=dict(sorted(course.node_selector.items())),
    )
