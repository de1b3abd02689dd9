"""The cost report (``coursehub cost`` and the ``cost`` build family) from the model in :mod:`coursehub.cost.model`."""

from __future__ import annotations

import datetime as dt
import math

from coursehub.build import BuildContext
from coursehub.escape import markdown
from coursehub.cost.model import _capacity_at, _day_rate, _money, _Packer, _weeks, simulate, warnings_for
from coursehub.cost.packing import node_shares, recommended_share
from coursehub.cost.storage import retain_days
from coursehub.manifest import Manifest, Usage
from coursehub.manifest.units import format_size


def report(manifest: Manifest) -> dict:
    """Everything ``coursehub cost`` shows, as plain data (see the module docstring for the model)."""
    cap = manifest.capacity
    node_types = cap.effective_node_types()
    sim = simulate(manifest)
    loads, days, fleet = sim.loads, sim.days, sim.fleet
    homes = {h.course_id: h for h in sim.homes}

    weeks = []
    for week in _weeks(days):
        busiest = max(week, key=lambda d: (sum(x.count for x in d.peak_demand), -d.day.toordinal()))
        node_hours: dict[str, int] = {}
        for d in week:
            for name, n in d.billed_nodes.items():
                node_hours[name] = node_hours.get(name, 0) + 24 * n
        weeks.append(
            {
                "week_start": week[0].day.isoformat(),
                "week_end": week[-1].day.isoformat(),
                "courses": sorted({cid for d in week for cid in d.active}),
                "peak_day": busiest.day.isoformat(),
                **_capacity_at(busiest),
                "node_hours": dict(sorted(node_hours.items())),
                # The most disk the homes hold on any day of the week (homes are only ever added
                # during a week, except on the day a course's retention ends).
                "disk_bytes": max(sum(d.disk.values()) for d in week),
                "storage_cost": _money(sum(d.storage_cost for d in week)),
                "cost": _money(sum(d.cost for d in week)),
            }
        )

    # each course's costs summed over the days in day order, in one pass over the days
    totals: dict[str, float] = {}
    disk_costs: dict[str, float] = {}
    for d in days:
        for cid, x in d.course_cost.items():
            totals[cid] = totals.get(cid, 0) + x
        for cid, x in d.course_storage_cost.items():
            disk_costs[cid] = disk_costs.get(cid, 0) + x
    courses = []
    for c in loads:
        total = totals.get(c.id, 0)
        disk_cost = disk_costs.get(c.id, 0)
        h = homes[c.id]
        # the calendar covers every term: a course is active on each day of its term
        active_days = (c.course.term.end - c.course.term.start).days + 1 if days else 0
        term_weeks = active_days / 7
        per_student = total / c.students if c.students else None
        s = c.shape
        courses.append(
            {
                "id": c.id,
                "title": c.course.title,
                "kind": c.course.kind,
                "term": {"start": c.course.term.start.isoformat(), "end": c.course.term.end.isoformat()},
                "students": c.students,
                "term_weeks": round(term_weeks, 3),
                "peak_fraction": c.peak_fraction,
                "hours_per_student_per_week": c.hours_per_student_per_week,
                "peak_servers": c.peak_servers,
                "average_servers": round(c.mean_servers, 3),
                "memory_guarantee_bytes": s.mem_guarantee,
                "memory_limit_bytes": s.mem_limit,
                "cpu_guarantee": s.cpu_guarantee_m / 1000,
                "cpu_limit": s.cpu_limit,
                "home_size_bytes": h.size,
                "homes_until": h.last.isoformat(),
                "compute_cost": _money(total - disk_cost),
                "storage_cost": _money(disk_cost),
                "total_cost": _money(total),
                "storage_cost_per_student": None if not c.students else _money(disk_cost / c.students),
                "cost_per_student_per_term": None if per_student is None else _money(per_student),
                "cost_per_student_per_week": None if per_student is None or not term_weeks else _money(per_student / term_weeks),
                "recommended_node_share": recommended_share(s, node_types),
            }
        )

    lead_days = math.ceil(cap.prescale_lead / 86400)
    events = []
    packer = _Packer(node_types, price=lambda t: _day_rate(manifest, t))
    for c in loads:
        if not c.is_event:
            continue
        event_days = [d for d in days if c.active_on(d.day)]
        busiest = max(event_days, key=lambda d: (len(d.peak.nodes), -d.day.toordinal()))
        without = packer([x for x in busiest.peak_demand if x.key != c.id])
        first = c.course.term.start
        events.append(
            {
                "id": c.id,
                "start": first.isoformat(),
                "end": c.course.term.end.isoformat(),
                "students": c.students,
                "peak_servers": c.peak_servers,
                "spike": {
                    "day": busiest.day.isoformat(),
                    "servers": c.peak_servers,
                    "reserved_memory_bytes": c.peak_servers * c.shape.mem_guarantee,
                    "extra_nodes": len(busiest.peak.nodes) - len(without.nodes),
                    "nodes_with_event": busiest.peak.counts(),
                    "nodes_without_event": without.counts(),
                },
                "prescale": {
                    # One placeholder per expected server, each the size of the event's servers: when
                    # a student arrives, the scheduler evicts a placeholder and the room is already there.
                    "placeholders": c.peak_servers,
                    "memory_guarantee_bytes": c.shape.mem_guarantee,
                    "cpu_guarantee": c.shape.cpu_guarantee_m / 1000,
                    "from": (first - dt.timedelta(days=lead_days)).isoformat(),
                    "until": c.course.term.end.isoformat(),
                },
                "total_cost": _money(totals.get(c.id, 0)),
            }
        )

    peak_nodes: dict[str, int] = {}
    for d in days:
        for name, n in d.peak.counts().items():
            peak_nodes[name] = max(peak_nodes.get(name, 0), n)
    return {
        "hub": manifest.hub.name,
        "currency": cap.currency,
        "cost_model": cap.cost_model,
        "calendar": {
            "start": days[0].day.isoformat() if days else None,
            "end": days[-1].day.isoformat() if days else None,
            "weeks": len(weeks),
        },
        "total_cost": _money(sum(d.cost for d in days)),
        "unattributed_cost": _money(sum(d.unattributed for d in days)),
        "max_nodes_at_peak": dict(sorted(peak_nodes.items())),
        "storage": {
            "kind": cap.storage.kind,
            "price_per_gb_month": cap.storage.price_per_gb_month,
            "retain_days": retain_days(manifest),
            "peak_disk_bytes": max((w["disk_bytes"] for w in weeks), default=0),
            "provisioned_bytes": sim.nfs_size,
            "total_cost": _money(sum(d.storage_cost for d in days)),
        },
        "on_prem_fleet": dict(sorted(fleet.items())) if cap.cost_model == "on-prem" else None,
        "node_types": [
            {
                "name": t.name,
                "pool": t.pool,
                "memory_bytes": t.memory,
                "cpu": t.cpu,
                "price_per_hour": t.price_per_hour,
                "dedicated": t.dedicated,
            }
            for t in node_types
        ],
        "node_shares": [choice for t in node_types for choice in node_shares(t)],
        "assumptions": {
            "default_peak_fraction": cap.usage.peak_fraction or Usage.DEFAULT_PEAK_FRACTION,
            "default_hours_per_student_per_week": cap.usage.hours_per_student_per_week
            or Usage.DEFAULT_HOURS_PER_STUDENT_PER_WEEK,
            "hub_overhead_per_hour": cap.hub_overhead_per_hour,
            "prescale_lead_days": lead_days,
            "course_peaks_coincide": True,
        },
        "weeks": weeks,
        "courses": courses,
        "events": events,
        "warnings": warnings_for(manifest, loads),
    }


# --- the build artifact ----------------------------------------------------------------------------


def to_markdown(data: dict) -> str:
    """The report as a Markdown page (the guide site's sizing page embeds the charts beside it)."""
    cur = markdown(data["currency"])
    lines = [
        f"# Cost and capacity: {markdown(data['hub'])}",
        "",
        f"Cost model: **{data['cost_model']}**. Total over the calendar ({data['calendar']['start']} to "
        f"{data['calendar']['end']}, {data['calendar']['weeks']} weeks): **{data['total_cost']:,.2f} {cur}**"
        + (f" (of which {data['unattributed_cost']:,.2f} {cur} on days without courses)." if data["unattributed_cost"] else "."),
        "",
        "| course | students | peak servers | home size | cost per student per term | per week | of which storage | course total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in data["courses"]:
        per_term = "—" if c["cost_per_student_per_term"] is None else f"{c['cost_per_student_per_term']:,.2f}"
        per_week = "—" if c["cost_per_student_per_week"] is None else f"{c['cost_per_student_per_week']:,.2f}"
        disk = "—" if c["storage_cost_per_student"] is None else f"{c['storage_cost_per_student']:,.2f}"
        lines.append(
            f"| {markdown(c['id'])} | {c['students']} | {c['peak_servers']} | {format_size(c['home_size_bytes'])} | {per_term} | "
            f"{per_week} | {disk} | {c['total_cost']:,.2f} |"
        )
    st = data["storage"]
    lines += [
        "",
        f"Home directories on **{st['kind']}** at {st['price_per_gb_month']:,.2f} {cur} per GiB-month, kept "
        f"{st['retain_days']} days after each term: at most **{_gib(st['peak_disk_bytes'])}** at once"
        + (f" (the NFS share is provisioned at {_gib(st['provisioned_bytes'])})" if st["provisioned_bytes"] is not None else "")
        + f", {st['total_cost']:,.2f} {cur} over the calendar.",
    ]
    lines += [
        "",
        "| week | courses | peak servers | reserved memory | limits | nodes at peak | home disk | cost |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for w in data["weeks"]:
        nodes = ", ".join(f"{n}× {markdown(t)}" for t, n in w["nodes_at_peak"].items()) or "—"
        lines.append(
            f"| {w['week_start']} | {len(w['courses'])} | {w['concurrent_servers']} | "
            f"{_gib(w['reserved_memory_bytes'])} | {_gib(w['limit_memory_bytes'])} | {nodes} | "
            f"{_gib(w['disk_bytes'])} | {w['cost']:,.2f} |"
        )
    for e in data["events"]:
        p = e["prescale"]
        lines += [
            "",
            f"**{markdown(e['id'])}** ({e['start']} to {e['end']}): {e['peak_servers']} servers at once, "
            f"{e['spike']['extra_nodes']} extra node{'' if e['spike']['extra_nodes'] == 1 else 's'}. Pre-scale with {p['placeholders']} placeholder servers "
            f"({_gib(p['memory_guarantee_bytes'])} each) from {p['from']} until {p['until']}.",
        ]
    if data["warnings"]:
        lines += ["", "Warnings:", ""] + [f"- {markdown(w)}" for w in data["warnings"]]
    lines += [
        "",
        "![Cost per student by course](cost-per-student.svg)",
        "",
        "![Reserved and available memory by week](capacity-by-week.svg)",
        "",
        "![Home-directory disk by week](disk-by-week.svg)",
    ]
    return "\n".join(lines) + "\n"


def _gib(n: int) -> str:
    return f"{n / 1024**3:,.1f} GiB"


#: Modules :func:`generate` imports when it runs (a build's early worker imports them beforehand).
IMPORTS = ("coursehub.cost.charts",)


def generate(ctx: BuildContext) -> None:
    """Build family ``cost``: cost.json, cost.md and the charts (:data:`charts.CHARTS`) as SVG and PNG."""
    from coursehub.cost import charts

    data = report(ctx.manifest)
    ctx.add_json("cost/cost.json", data)
    ctx.add("cost/cost.md", to_markdown(data))
    for name, draw in charts.DRAW.items():
        for fmt, content in charts.render(draw, data, ("svg", "png")).items():
            ctx.add(f"cost/{name}.{fmt}", content)
    shown = data["warnings"][:NOTES_SHOWN]
    ctx.notes += [f"cost: warning: {w}" for w in shown]
    if len(data["warnings"]) > len(shown):
        ctx.notes.append(
            f"cost: {len(data['warnings']) - len(shown)} more warnings in cost/cost.md in the build (or run `coursehub cost`)"
        )


#: Cost warnings a build prints; the rest are in cost/cost.md (a university may have hundreds of courses).
NOTES_SHOWN = 5
