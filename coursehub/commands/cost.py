"""``coursehub cost``: cost per student, nodes needed week by week, and event pre-scaling."""

from __future__ import annotations

import json

from rich.table import Table

from coursehub.commands._shared import JsonOpt, ManifestArg, StrictOpt, app, err, load, out

from coursehub.manifest.units import human_size


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def _nodes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n}× {t}" for t, n in counts.items()) or "—"


def tables(data: dict) -> list[Table]:
    """The report as rich tables: courses, weeks, events, node-share choices."""
    cur = data["currency"]
    courses = Table(title=f"{data['hub']}: cost per student ({data['cost_model']}, {cur})")
    for col in ("course", "students", "peak servers", "home", "per student per term", "per student per week", "of which storage", "course total", "node share"):
        courses.add_column(col, justify="left" if col in ("course", "node share") else "right", no_wrap=True)
    for c in data["courses"]:
        share = c["recommended_node_share"]
        courses.add_row(
            c["id"],
            str(c["students"]),
            str(c["peak_servers"]),
            human_size(c["home_size_bytes"]),
            _money(c["cost_per_student_per_term"]),
            _money(c["cost_per_student_per_week"]),
            _money(c["storage_cost_per_student"]),
            _money(c["total_cost"]),
            f"{share['share']} {share['node_type']}" if share else "none fits",
        )
    courses.add_section()
    courses.add_row("hub total", "", "", "", "", "", _money(data["storage"]["total_cost"]), _money(data["total_cost"]), "")

    weeks = Table(title="Capacity by week (at each week's peak)")
    for col in ("week", "courses", "servers", "reserved mem", "limits mem", "reserved cpu", "nodes at peak", "available mem", "home disk", "cost"):
        weeks.add_column(col, justify="left" if col in ("week", "nodes at peak") else "right", no_wrap=True)
    for w in data["weeks"]:
        weeks.add_row(
            w["week_start"],
            str(len(w["courses"])),
            str(w["concurrent_servers"]) + (f" ({w['unplaced_servers']} unplaced)" if w["unplaced_servers"] else ""),
            human_size(w["reserved_memory_bytes"]),
            human_size(w["limit_memory_bytes"]),
            f"{w['reserved_cpu']:g}",
            _nodes(w["nodes_at_peak"]),
            human_size(w["available_memory_bytes"]),
            human_size(w["disk_bytes"]),
            _money(w["cost"]),
        )
    st = data["storage"]
    weeks.caption = (
        f"most nodes needed at once: {_nodes(data['max_nodes_at_peak'])}; homes on {st['kind']}, at most "
        f"{human_size(st['peak_disk_bytes'])}, kept {st['retain_days']} days after each term"
        + (f", NFS share provisioned at {human_size(st['provisioned_bytes'])}" if st["provisioned_bytes"] is not None else "")
    )
    shares = Table(title="Node-share choices (memory guarantee = limit, CPU in proportion)")
    for col in ("node type", "share", "memory", "cpu guarantee", "servers per node", f"{cur} per server hour"):
        shares.add_column(col, justify="left" if col in ("node type", "share") else "right", no_wrap=True)
    for choice in data["node_shares"]:
        shares.add_row(
            choice["node_type"],
            choice["share"],
            human_size(choice["memory_guarantee_bytes"]),
            f"{choice['cpu_guarantee']:g}",
            str(choice["servers_per_node"]),
            f"{choice['price_per_server_hour']:g}",
        )
    out = [courses, weeks, shares]
    if data["events"]:
        events = Table(title="Events: spike and pre-scaling")
        for col in ("event", "dates", "peak servers", "extra nodes", "placeholders", "from", "event cost"):
            events.add_column(col, no_wrap=True)
        for e in data["events"]:
            p = e["prescale"]
            events.add_row(
                e["id"],
                f"{e['start']} → {e['end']}",
                str(e["peak_servers"]),
                str(e["spike"]["extra_nodes"]),
                f"{p['placeholders']} × {human_size(p['memory_guarantee_bytes'])}",
                p["from"],
                _money(e["total_cost"]),
            )
        out.append(events)
    return out


@app.command()
def cost(
    manifest: ManifestArg,
    json_out: JsonOpt = False,
    strict: StrictOpt = False,
):
    """Cost per student per course (servers and home directories), nodes and disk needed each week, and
    event pre-scaling, from the manifest's `capacity` assumptions. Warnings (limits that fit no node, OOM-prone limit/guarantee ratios) go
    to stderr."""
    from coursehub.cost.report import report

    model, _ = load(manifest, strict=strict)
    data = report(model)
    if json_out:
        out.print(json.dumps(data, indent=2, sort_keys=True), markup=False)
    else:
        for table in tables(data):
            out.print(table)
    for warning in data["warnings"]:
        err.print(f"warning: {warning}", style="yellow", markup=False)
