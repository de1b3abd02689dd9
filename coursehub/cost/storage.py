"""Home-directory storage: how much disk the hub holds each day, and what it costs.

Each course's students have a home of the course's size (``resources.storage``, the hub's, else
10G) from the first day of the term until ``capacity.storage.retain`` after its last day; a student
in two courses has two homes (one named server, so one volume, per course). Two ways to pay:

- **cloud-disk** (Zero to JupyterHub's dynamic storage: one persistent volume per server): every
  volume is paid for at its full size, used or not, every day it exists. A course pays exactly for
  its own volumes; nothing is left unattributed.
- **nfs** (one shared file system, homes as folders on it): it is provisioned for the most the homes
  ever need at once and paid for at that size every day of the calendar. Each day's cost is shared
  by the courses whose homes are on it that day, in proportion to their size; a day without any
  homes is unattributed.

Prices are per GiB-month of 730 hours, the month cloud providers bill storage by.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from coursehub.manifest import Course, Manifest
from coursehub.manifest.effective import course_settings

HOURS_PER_MONTH = 730
GIB = 1024**3


@dataclass(frozen=True)
class Homes:
    """One course's home directories: how many, how big, and the days they exist."""

    course_id: str
    students: int
    size: int  # bytes per student
    first: dt.date
    last: dt.date  # the term's last day plus the retention

    @property
    def bytes(self) -> int:
        return self.students * self.size

    def on(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


def retain_days(manifest: Manifest) -> int:
    return math.ceil(manifest.capacity.storage.retain / 86400)


def course_homes(manifest: Manifest, course: Course, students: int) -> Homes:
    keep = dt.timedelta(days=retain_days(manifest))
    size = course_settings(manifest, course).storage
    return Homes(course.id, students, size, course.term.start, course.term.end + keep)


def price_per_byte_day(manifest: Manifest) -> float:
    return manifest.capacity.storage.price_per_gb_month * 24 / HOURS_PER_MONTH / GIB


def disk_on(homes: list[Homes], day: dt.date) -> dict[str, int]:
    """Course id -> bytes of homes that exist on ``day`` (courses without any left out)."""
    return {h.course_id: h.bytes for h in homes if h.on(day) and h.bytes}


def disk_by_day(homes: list[Homes], days: list[dt.date]) -> dict[dt.date, dict[str, int]]:
    """:func:`disk_on` for each of ``days``; days with the same homes share one dict (do not change it)."""
    out: dict[dt.date, dict[str, int]] = {}
    last: tuple[tuple[str, ...], dict[str, int]] | None = None
    for day in days:
        ids = tuple(h.course_id for h in homes if h.on(day))
        if last is None or last[0] != ids:
            last = (ids, disk_on(homes, day))
        out[day] = last[1]
    return out


def provisioned(manifest: Manifest, disk_by_day: dict[dt.date, dict[str, int]]) -> int | None:
    """The shared file system's size (nfs: the most the homes need on any day); None for cloud disks."""
    if manifest.capacity.storage.kind != "nfs":
        return None
    return max((sum(disk.values()) for disk in disk_by_day.values()), default=0)


def day_cost(manifest: Manifest, disk: dict[str, int], nfs_size: int | None) -> tuple[float, dict[str, float], float]:
    """(a day's storage cost, its share per course, the part no course is charged), ``disk`` being
    :func:`disk_on` that day."""
    rate = price_per_byte_day(manifest)
    if nfs_size is None:
        shares = {cid: b * rate for cid, b in disk.items()}
        return sum(shares.values()), shares, 0.0
    cost = nfs_size * rate
    used = sum(disk.values())
    if not used:
        return cost, {}, cost
    # The provisioned room nobody uses today is still paid; the courses on it share it by size.
    return cost, {cid: cost * b / used for cid, b in disk.items()}, 0.0
