"""Cost per student and capacity: what each course costs, how many nodes the hub needs, and events.

The model, day by day over a calendar of whole weeks (Monday to Sunday) covering every term:

- **Peak.** On each day, every running course may have ``peak_fraction`` of its students online at
  once (rounded up). The busiest moments of the courses are assumed to coincide, so the peak is
  conservative. The week's peak is its busiest day. Packing those servers' guarantees onto nodes
  (:mod:`coursehub.cost.packing`) gives the nodes the hub must be able to grow to.
- **Average.** A course's average servers over a day are ``students x hours_per_student_per_week / 168``;
  weeks in which the course runs only some days get that share of the week.
- **Cloud** (pay per node hour): the autoscaler follows the load, so a day costs the nodes that pack
  the day's average servers (rounded up per course), for 24 hours. During an event, and for
  ``capacity.prescale_lead`` before it, placeholders hold room for the event's whole peak, so its
  peak is paid for all of those days.
- **On-premises**: a fixed fleet, as many nodes of each type as the busiest day needs, costs its
  purchase price spread over its lifetime (365-day years) plus its yearly running cost, every day.
- ``hub_overhead_per_hour`` is added for every hour of the calendar.
- **Storage** (:mod:`coursehub.cost.storage`): every course's home directories, from its term's start
  until ``capacity.storage.retain`` after its end, on cloud disks or one NFS share. The calendar runs
  until the last home is deleted; a course's cost is its servers' share plus its homes'.
- Only students' servers are counted; instructors' and TAs' are few and are left to the overhead.

A day's cost is shared among the courses on the nodes in proportion to each one's share of them (its
servers' dominant guarantee, :func:`coursehub.cost.packing.share_of_node`); what no course uses that day
(an idle on-premises node, the overhead of a day without courses) is shared among the day's courses
by their total share, or reported as ``unattributed_cost`` when none runs. So course costs plus the
unattributed cost always add up to the total.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from coursehub.cost import storage
from coursehub.cost.packing import Demand, Packing, ServerShape, pack, servers_per_node, share_of_node, why_not
from coursehub.manifest import Course, Manifest, NodeType, Usage
from coursehub.manifest.effective import course_settings
from coursehub.manifest.units import format_size

HOURS_PER_WEEK = 168
DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class CourseLoad:
    """One course as the cost model sees it: enrolment, server shape, usage assumptions, dates."""

    course: Course
    students: int
    shape: ServerShape
    peak_fraction: float
    hours_per_student_per_week: float

    @property
    def id(self) -> str:
        return self.course.id

    @property
    def is_event(self) -> bool:
        return self.course.kind == "event"

    @property
    def peak_servers(self) -> int:
        # A rounding error must not make 0.3 x 10 students 3.0000000000000004 -> 4 servers.
        return math.ceil(round(self.peak_fraction * self.students, 9))

    @property
    def mean_servers(self) -> float:
        return self.students * self.hours_per_student_per_week / HOURS_PER_WEEK

    def active_on(self, day: dt.date) -> bool:
        return self.course.term.start <= day <= self.course.term.end


def effective_usage(manifest: Manifest, course: Course) -> tuple[float, float]:
    """(peak_fraction, hours_per_student_per_week): the course's, else ``capacity.usage``'s, else the defaults."""
    hub = manifest.capacity.usage

    def pick(name: str, default: float) -> float:
        for usage in (course.usage, hub):
            value = getattr(usage, name)
            if value is not None:
                return value
        return default

    return (
        pick("peak_fraction", Usage.DEFAULT_PEAK_FRACTION),
        pick("hours_per_student_per_week", Usage.DEFAULT_HOURS_PER_STUDENT_PER_WEEK),
    )


def course_loads(manifest: Manifest) -> list[CourseLoad]:
    loads = []
    for course in manifest.courses:
        peak, hours = effective_usage(manifest, course)
        shape = ServerShape.from_settings(course_settings(manifest, course))
        loads.append(CourseLoad(course, len(course.roster), shape, peak, hours))
    return loads


def calendar(loads: list[CourseLoad], lead_days: int = 0, retain_days: int = 0) -> list[dt.date]:
    """Every day of the whole weeks (Monday to Sunday) that cover all terms, events' pre-scaling and
    the homes kept ``retain_days`` after each term."""
    if not loads:
        return []
    first = min(load.course.term.start - dt.timedelta(days=lead_days if load.is_event else 0) for load in loads)
    last = max(load.course.term.end for load in loads) + dt.timedelta(days=retain_days)
    first -= dt.timedelta(days=first.weekday())
    last += dt.timedelta(days=6 - last.weekday())
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# --- the day-by-day model --------------------------------------------------------------------------


@dataclass
class Day:
    """One day of the model: what runs, the peak packing, and what the day costs and who pays it."""

    day: dt.date
    active: list[str]
    peak: Packing
    peak_demand: list[Demand]
    cost: float
    course_cost: dict[str, float]  # servers and homes
    unattributed: float
    billed_nodes: dict[str, int]
    disk: dict[str, int]  # course id -> bytes of its homes that exist today
    storage_cost: float
    course_storage_cost: dict[str, float]


class _Packer:
    """Packs each distinct load once: most days of a term have the same courses running."""

    def __init__(self, node_types: list[NodeType], price):
        self.node_types, self.price, self.cache = node_types, price, {}

    def __call__(self, demands: list[Demand]) -> Packing:
        key = tuple((d.key, d.count) for d in demands)
        if key not in self.cache:
            self.cache[key] = pack(demands, self.node_types, price=self.price)
        return self.cache[key]


def _day_rate(manifest: Manifest, node_type: NodeType) -> float:
    """What one node costs per day under the manifest's cost model."""
    cap = manifest.capacity
    if cap.cost_model == "cloud":
        return node_type.price_per_hour * 24
    onprem = cap.on_prem
    purchase = node_type.purchase_price if node_type.purchase_price is not None else onprem.node_price
    return purchase / (onprem.lifetime_years * DAYS_PER_YEAR) + onprem.yearly_running_cost / DAYS_PER_YEAR


def _attribute(
    packing: Packing,
    cost_by_type: dict[str, float],
    loads: dict[str, CourseLoad],
    extra: float,
    scale: dict[str, Fraction],
):
    """Split each node type's cost by the courses' shares of it; ``extra`` and idle types by total share.

    ``scale`` turns a course's whole servers into what it really uses (1.14 average servers were
    packed as 2), so a course pays for its hours, not for the rounding.
    """
    # servers per node type and course first, in the order the nodes list them; the Fractions are
    # exact, so one product per pair gives the same shares as one per node
    counts: dict[str, dict[str, int]] = {}
    types: dict[str, NodeType] = {}
    for node in packing.nodes:
        types[node.type.name] = node.type
        for key, n in node.servers.items():
            by_type = counts.setdefault(node.type.name, {})
            by_type[key] = by_type.get(key, 0) + n
    shares: dict[str, dict[str, Fraction]] = {
        tname: {
            key: n * share_of_node(loads[key].shape, types[tname]) * scale.get(key, Fraction(1))
            for key, n in by_type.items()
        }
        for tname, by_type in counts.items()
    }
    out: dict[str, float] = {}
    leftover = extra
    for tname, cost in cost_by_type.items():
        by_type = shares.get(tname)
        if not by_type:
            leftover += cost
            continue
        total = sum(by_type.values())
        for key, s in by_type.items():
            out[key] = out.get(key, 0.0) + cost * float(s / total)
    totals: dict[str, Fraction] = {}
    for by_type in shares.values():
        for key, s in by_type.items():
            totals[key] = totals.get(key, Fraction(0)) + s
    grand = sum(totals.values())
    if leftover and grand:
        for key, s in totals.items():
            out[key] = out.get(key, 0.0) + leftover * float(s / grand)
        leftover = 0.0
    return out, leftover


@dataclass
class Simulation:
    """The model's run: the loads, one :class:`Day` per day, the on-prem fleet and the homes."""

    loads: list[CourseLoad]
    days: list[Day]
    fleet: dict[str, int]
    homes: list[storage.Homes]
    nfs_size: int | None  # bytes provisioned for an NFS share; None on cloud disks


def simulate(manifest: Manifest) -> Simulation:
    """Run the model over the calendar (see the module docstring)."""
    cap = manifest.capacity
    node_types = cap.effective_node_types()
    loads = course_loads(manifest)
    by_id = {load.id: load for load in loads}
    lead_days = math.ceil(cap.prescale_lead / 86400)
    days = calendar(loads, lead_days, storage.retain_days(manifest))
    homes = [storage.course_homes(manifest, c.course, c.students) for c in loads]
    disk_by_day = storage.disk_by_day(homes, days)
    nfs_size = storage.provisioned(manifest, disk_by_day)
    rate = {t.name: _day_rate(manifest, t) for t in node_types}
    # Opening the node type with the lowest price per server is what the autoscaler should do on the
    # cloud; on premises the purchase price plays that part.
    packer = _Packer(node_types, price=lambda t: rate[t.name])

    # each day's running courses (and, for the cloud bill, events being pre-scaled), in manifest order:
    # one pass over each term instead of asking every course about every day
    running: dict[dt.date, list[CourseLoad]] = {day: [] for day in days}
    billed_loads: dict[dt.date, list[CourseLoad]] = {day: [] for day in days}
    for c in loads:
        start, end = c.course.term.start, c.course.term.end
        for table, first in ((running, start), (billed_loads, start - dt.timedelta(days=lead_days) if c.is_event else start)):
            for offset in range((end - first).days + 1):
                day = first + dt.timedelta(days=offset)
                if day in table:
                    table[day].append(c)

    # most days run the same courses as the day before: one demand list (and packing) per distinct set
    peak_of = {c.id: Demand(c.id, c.peak_servers, c.shape) for c in loads if c.peak_servers}
    running_ids = {day: tuple(c.id for c in running[day]) for day in days}
    peaks: dict[dt.date, tuple[list[Demand], Packing]] = {}
    by_set: dict[tuple[str, ...], tuple[list[Demand], Packing]] = {}
    for day in days:
        ids = running_ids[day]
        if ids not in by_set:
            demand = [peak_of[cid] for cid in ids if cid in peak_of]
            by_set[ids] = (demand, packer(demand))
        peaks[day] = by_set[ids]
    fleet: dict[str, int] = {}
    if cap.cost_model == "on-prem":
        for _, packing in peaks.values():
            for name, n in packing.counts().items():
                fleet[name] = max(fleet.get(name, 0), n)

    out = []
    overhead_per_day = cap.hub_overhead_per_hour * 24
    # Whole servers to pack for a course's average; the course is charged for its fractional average.
    average = {c.id: math.ceil(round(c.mean_servers, 9)) for c in loads}
    scales = {
        c.id: Fraction(c.mean_servers).limit_denominator(10**6) / average[c.id] for c in loads if average[c.id]
    }
    # a day's attribution depends only on its packing (the same packing object for the same demand)
    attributed: dict[int, tuple[dict[str, float], float]] = {}
    stored: dict[int, tuple[float, dict[str, float], float]] = {}
    billed_by_set: dict[tuple[int, ...], tuple[Packing, dict[str, int], dict[str, Fraction]]] = {}
    for day in days:
        peak_demand, peak = peaks[day]
        active = list(running_ids[day])
        scale: dict[str, Fraction] = {}
        if cap.cost_model == "cloud":
            key = tuple(id(c) for c in billed_loads[day])
            if key not in billed_by_set:  # the same courses billed give the same nodes
                billed_demand = []
                for c in billed_loads[day]:
                    if c.is_event:
                        count = c.peak_servers  # placeholders hold the event's peak, then students fill it
                    else:
                        count = average[c.id]
                        if count:
                            scale[c.id] = scales[c.id]
                    if count:
                        billed_demand.append(Demand(c.id, count, c.shape))
                billed = packer(billed_demand)
                billed_by_set[key] = (billed, billed.counts(), scale)
            billed, nodes, scale = billed_by_set[key]
        else:
            billed, nodes = peak, dict(fleet)
        cost_by_type = {name: n * rate[name] for name, n in nodes.items()}
        if id(billed) not in attributed:
            attributed[id(billed)] = _attribute(billed, cost_by_type, by_id, overhead_per_day, scale)
        course_cost, unattributed = attributed[id(billed)]
        course_cost = dict(course_cost)
        disk = disk_by_day[day]
        if id(disk) not in stored:  # the same homes cost the same every day they exist
            stored[id(disk)] = storage.day_cost(manifest, disk, nfs_size)
        disk_cost, course_disk_cost, disk_unattributed = stored[id(disk)]
        for cid, x in course_disk_cost.items():
            course_cost[cid] = course_cost.get(cid, 0.0) + x
        out.append(
            Day(
                day=day,
                active=active,
                peak=peak,
                peak_demand=peak_demand,
                cost=sum(cost_by_type.values()) + overhead_per_day + disk_cost,
                course_cost=course_cost,
                unattributed=unattributed + disk_unattributed,
                billed_nodes=nodes,
                disk=disk,
                storage_cost=disk_cost,
                course_storage_cost=course_disk_cost,
            )
        )
    return Simulation(loads, out, fleet, homes, nfs_size)


# --- the report ------------------------------------------------------------------------------------


def _money(x: float) -> float:
    return round(x + 0.0, 2)  # + 0.0 turns -0.0 into 0.0, which JSON readers show more kindly


def _weeks(days: list[Day]) -> Iterator[list[Day]]:
    for i in range(0, len(days), 7):
        yield days[i : i + 7]


def _capacity_at(day: Day) -> dict:
    reserved_mem = limit_mem = reserved_cpu_m = 0
    limit_cpu = 0.0
    for d in day.peak_demand:
        s = d.shape
        reserved_mem += d.count * s.mem_guarantee
        reserved_cpu_m += d.count * s.cpu_guarantee_m
        # A server without a limit is counted at its guarantee: there is no promise beyond it.
        limit_mem += d.count * (s.mem_limit if s.mem_limit is not None else s.mem_guarantee)
        limit_cpu += d.count * (s.cpu_limit if s.cpu_limit is not None else s.cpu_guarantee_m / 1000)
    nodes = day.peak
    return {
        "concurrent_servers": sum(d.count for d in day.peak_demand),
        "reserved_memory_bytes": reserved_mem,
        "limit_memory_bytes": limit_mem,
        "reserved_cpu": round(reserved_cpu_m / 1000, 3),
        "limit_cpu": round(limit_cpu, 3),
        "nodes_at_peak": nodes.counts(),
        "available_memory_bytes": sum(n.type.memory for n in nodes.nodes),
        "available_cpu": round(sum(n.type.cpu for n in nodes.nodes), 3),
        "unplaced_servers": sum(nodes.unplaced.values()),
    }


def warnings_for(manifest: Manifest, loads: list[CourseLoad]) -> list[str]:
    """Courses that cannot be placed, and memory limits far above guarantees (OOM kills under load)."""
    out = []
    node_types = manifest.capacity.effective_node_types()
    ratio_max = manifest.capacity.max_limit_ratio
    for c in loads:
        s = c.shape
        if not any(servers_per_node(s, t) for t in node_types):
            reasons = "; ".join(f"{t.name}: {why_not(s, t) or 'no room'}" for t in node_types)
            out.append(f"{c.id}: its servers fit no node type ({reasons}); they are left out of the plan")
        if s.mem_limit and s.mem_guarantee and s.mem_limit / s.mem_guarantee > ratio_max:
            ratio = s.mem_limit / s.mem_guarantee
            out.append(
                f"{c.id}: memory limit {format_size(s.mem_limit)} is {ratio:g}x the guarantee "
                f"{format_size(s.mem_guarantee)}; a full node runs out of memory (and kills kernels) once its "
                f"servers use more than 1/{ratio:g} of their limit on average — raise the guarantee or "
                f"use a node share (guarantee = limit)"
            )
    return out

