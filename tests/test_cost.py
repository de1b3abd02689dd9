"""Cost arithmetic against hand-computed cases, usage precedence, events and pre-scaling, warnings,
the example university's figures (recomputed here independently), the CLI and the build artifacts."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from coursehub.cost import charts

from coursehub import emit
from coursehub import build as buildmod
from coursehub.cost.report import report
from coursehub.errors import ManifestError
from coursehub.manifest.loader import load_manifest
from coursehub.manifest import Manifest

G = 1024**3


#: Compute-only tests switch home storage off; the storage tests below set it on purpose.
NO_STORAGE = {"price_per_gb_month": 0, "retain": 0}


def write_manifest(tmp_path: Path, courses: list[dict], capacity: dict, resources: dict | None = None) -> Path:
    capacity = {"storage": NO_STORAGE, **capacity}
    data = {
        "hub": {
            "name": "test-hub",
            "url": "https://hub.test.edu",
            "image": "data8",
            "resources": resources
            or {"memory": {"guarantee": "1G", "limit": "1G"}, "cpu": {"guarantee": 0.5, "limit": 1}},
        },
        "images": {"data8": {"standard": "data8"}},
        "courses": courses,
        "capacity": capacity,
    }
    path = tmp_path / "manifest.yaml"
    path.write_bytes(emit.to_yaml(data))
    return path


def course(cid: str, n: int, start="2026-09-07", end="2026-09-20", **kw) -> dict:
    return {
        "id": cid,
        "title": cid,
        "term": {"start": start, "end": end},
        "students": [f"{cid}-s{i}" for i in range(n)],
        **kw,
    }


NODE = {"name": "t", "memory": "4G", "cpu": 2, "price_per_hour": 1.0}


def load(path: Path):
    return load_manifest(path)[0]


def by_id(items: list[dict]) -> dict[str, dict]:
    return {x["id"]: x for x in items}


def test_cloud_two_courses_hand_computed(tmp_path):
    # Term: Monday 2026-09-07 to Sunday 2026-09-20, exactly two calendar weeks.
    # a: 10 students x 16.8 h / 168 = 1 average server (1G, 0.5 core); peak 0.5 x 10 = 5.
    # b: 5 students x 33.6 h / 168 = 1 average server (2G, 0.5 core); peak 0.2 x 5 = 1.
    # Average load 3G / 1 core -> one 4G node all day: 24 x 1.00 + overhead 24 x 0.50 = 36 a day.
    # Shares of that node: a 1G/4G = 1/4, b 2G/4G = 1/2 -> a pays 1/3 (12 a day), b 2/3 (24 a day).
    m = load(
        write_manifest(
            tmp_path,
            [
                course("a", 10, usage={"peak_fraction": 0.5, "hours_per_student_per_week": 16.8}),
                course(
                    "b",
                    5,
                    usage={"peak_fraction": 0.2, "hours_per_student_per_week": 33.6},
                    resources={"memory": {"guarantee": "2G", "limit": "2G"}},
                ),
            ],
            {"node_types": [NODE], "hub_overhead_per_hour": 0.5},
        )
    )
    r = report(m)
    assert r["calendar"] == {"start": "2026-09-07", "end": "2026-09-20", "weeks": 2}
    assert r["total_cost"] == pytest.approx(14 * 36)
    assert r["unattributed_cost"] == 0
    a, b = by_id(r["courses"])["a"], by_id(r["courses"])["b"]
    assert a["total_cost"] == pytest.approx(14 * 12) and b["total_cost"] == pytest.approx(14 * 24)
    assert a["cost_per_student_per_term"] == pytest.approx(16.8)
    assert a["cost_per_student_per_week"] == pytest.approx(8.4)
    assert b["cost_per_student_per_term"] == pytest.approx(67.2)
    # Peak: 5 x 1G + 1 x 2G = 7G -> [2G 1G 1G] [1G 1G 1G]: 2 nodes.
    w = r["weeks"][0]
    assert w["concurrent_servers"] == 6 and w["nodes_at_peak"] == {"t": 2}
    assert w["reserved_memory_bytes"] == 7 * G and w["limit_memory_bytes"] == 7 * G
    assert w["reserved_cpu"] == 3.0 and w["available_memory_bytes"] == 8 * G
    assert w["node_hours"] == {"t": 7 * 24} and w["cost"] == pytest.approx(7 * 36)
    assert r["events"] == [] and r["warnings"] == []


def test_on_prem_fleet_sized_for_the_busiest_day(tmp_path):
    # Peak 5 x 1G -> 2 nodes owned. A node costing 8760 over 1 year is 24 a day, plus 365 a year
    # running is 1 a day: 2 nodes x 25 x 14 days = 700, all of it on course a (the only course).
    m = load(
        write_manifest(
            tmp_path,
            [course("a", 10, usage={"peak_fraction": 0.5, "hours_per_student_per_week": 16.8})],
            {
                "cost_model": "on-prem",
                "node_types": [NODE],
                "on_prem": {"node_price": 8760, "lifetime_years": 1, "yearly_running_cost": 365},
            },
        )
    )
    r = report(m)
    assert r["on_prem_fleet"] == {"t": 2}
    assert r["total_cost"] == pytest.approx(700)
    assert by_id(r["courses"])["a"]["cost_per_student_per_term"] == pytest.approx(70)


def test_on_prem_without_prices_is_a_located_error(tmp_path):
    path = write_manifest(tmp_path, [course("a", 3)], {"cost_model": "on-prem"})
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert any("on_prem" in p.message and p.path.startswith("capacity") for p in info.value.problems)


def test_event_spike_and_prescale_hand_computed(tmp_path):
    # a: 1 average server all term (peak 5). Event ev: 8 students, Thu 09-17 to Fri 09-18, everyone
    # at once (8 servers of 1G / 0.5 core), placeholders from Wed 09-16 (lead 1d).
    # Billed: 11 days with a's 1 server -> 1 node (24); 3 days with 1 + 8 servers -> 3 nodes (72).
    # Nodes: 11 x 24 + 3 x 72 = 480. On the 3 event days the 9 equal servers split 72: a 8, ev 64.
    m = load(
        write_manifest(
            tmp_path,
            [
                course("a", 10, usage={"peak_fraction": 0.5, "hours_per_student_per_week": 16.8}),
                course("ev", 8, start="2026-09-17", end="2026-09-18", kind="event", usage={"peak_fraction": 1.0}),
            ],
            {"node_types": [NODE], "prescale_lead": "1d"},
        )
    )
    r = report(m)
    assert r["total_cost"] == pytest.approx(480)
    courses = by_id(r["courses"])
    assert courses["ev"]["total_cost"] == pytest.approx(192)
    assert courses["ev"]["cost_per_student_per_term"] == pytest.approx(24)
    assert courses["a"]["total_cost"] == pytest.approx(11 * 24 + 3 * 8)
    (ev,) = r["events"]
    assert ev["peak_servers"] == 8
    # Peak with the event: 13 x 1G at 4 a node -> 4 nodes; without it 5 -> 2: the spike is 2 nodes.
    assert ev["spike"]["extra_nodes"] == 2
    assert ev["spike"]["nodes_with_event"] == {"t": 4} and ev["spike"]["nodes_without_event"] == {"t": 2}
    assert ev["prescale"] == {
        "placeholders": 8,
        "memory_guarantee_bytes": G,
        "cpu_guarantee": 0.5,
        "from": "2026-09-16",
        "until": "2026-09-18",
    }
    assert r["weeks"][1]["concurrent_servers"] == 13 and r["weeks"][1]["nodes_at_peak"] == {"t": 4}


def test_usage_precedence_course_then_capacity_then_defaults(tmp_path):
    m = load(
        write_manifest(
            tmp_path,
            [course("own", 10, usage={"peak_fraction": 0.5}), course("inherits", 10)],
            {"node_types": [NODE], "usage": {"hours_per_student_per_week": 8.4}},
        )
    )
    courses = by_id(report(m)["courses"])
    assert courses["own"]["peak_fraction"] == 0.5 and courses["own"]["hours_per_student_per_week"] == 8.4
    assert courses["inherits"]["peak_fraction"] == 0.3  # built-in default
    assert courses["inherits"]["peak_servers"] == 3  # ceil(0.3 x 10) without a float rounding surprise


def test_default_node_type_is_used_when_none_is_given(tmp_path):
    r = report(load(write_manifest(tmp_path, [course("a", 10)], {})))
    assert [t["name"] for t in r["node_types"]] == ["n2-highmem-4"]
    assert r["node_types"][0]["memory_bytes"] == 28 * G


def test_warnings_limit_that_fits_no_node_and_oom_ratio(tmp_path):
    m = load(
        write_manifest(
            tmp_path,
            [
                course("huge", 4, resources={"memory": {"guarantee": "1G", "limit": "8G"}}),
                course("risky", 4, resources={"memory": {"guarantee": "256M", "limit": "1G"}}),
                course("fine", 4),
            ],
            {"node_types": [NODE]},
        )
    )
    r = report(m)
    text = "\n".join(r["warnings"])
    assert "huge: its servers fit no node type" in text and "memory limit" in text
    assert "risky: memory limit 1G is 4x the guarantee 256M" in text
    assert "huge: memory limit 8G is 8x" in text
    assert "fine" not in text
    # The unplaceable servers are counted, not silently dropped.
    assert r["weeks"][0]["unplaced_servers"] == math.ceil(0.3 * 4)
    assert by_id(r["courses"])["huge"]["recommended_node_share"] is None
    assert by_id(r["courses"])["risky"]["recommended_node_share"]["memory_guarantee_bytes"] >= G


def test_example_university_figures(example_manifest, example_manifest_path):
    """Recompute the example's figures from its manifest and rosters, without the cost module."""
    import csv
    import datetime as dt

    base = example_manifest_path.parent
    students = {}
    for c in example_manifest.courses:
        with open(base / c.students.csv) as fh:
            students[c.id] = len(list(csv.DictReader(fh)))
    assert students == {"data-c8-fa26": 120, "data-c88-fa26": 48, "stat-20-fa26": 30, "climate-hackweek-26": 28}
    # Effective settings, read off the manifest: hub 512M/1G, 0.05 core; overrides per course.
    shapes = {  # memory guarantee, limit (bytes), cpu guarantee (millicores), peak fraction, hours
        "data-c8-fa26": (G, 2 * G, 50, 0.3, 4),
        "data-c88-fa26": (G, 2 * G, 50, 0.3, 4),
        "stat-20-fa26": (G, 2 * G, 50, 0.3, 4),
        "climate-hackweek-26": (2 * G, 4 * G, 500, 0.9, 56),
    }
    node_mem, node_cpu_m, price, overhead = 28 * G, 3800, 0.262, 0.25
    # Homes: 2G per student (the hub's), 10G for the hackweek; 0.10 a GiB-month of 730 hours; kept 30 days.
    home = {cid: (10 if cid == "climate-hackweek-26" else 2) for cid in shapes}
    disk_day = 0.10 * 24 / 730
    terms = {c.id: (c.term.start, c.term.end) for c in example_manifest.courses}
    peak = {cid: math.ceil(round(students[cid] * s[3], 9)) for cid, s in shapes.items()}
    assert peak == {"data-c8-fa26": 36, "data-c88-fa26": 15, "stat-20-fa26": 9, "climate-hackweek-26": 26}

    def lower_bound_nodes(load: dict[str, int]) -> int:
        mem = sum(n * shapes[c][0] for c, n in load.items())
        cpu = sum(n * shapes[c][2] for c, n in load.items())
        return max(math.ceil(mem / node_mem), math.ceil(cpu / node_cpu_m))

    r = report(example_manifest)
    # The calendar runs until the last homes are deleted: 30 days after 2026-12-18, to that week's Sunday.
    assert r["calendar"]["start"] == "2026-08-24" and r["calendar"]["end"] == "2027-01-17"
    total = 0.0
    for week in r["weeks"]:
        start = dt.date.fromisoformat(week["week_start"])
        days = [start + dt.timedelta(days=i) for i in range(7)]
        week_cost, best, week_disk = 0.0, None, 0
        for day in days:
            running = {c for c, (s, e) in terms.items() if s <= day <= e}
            peak_load = {c: peak[c] for c in running}
            if best is None or sum(peak_load.values()) > sum(best.values()):
                best = peak_load
            billed = {c: math.ceil(students[c] * shapes[c][4] / 168) for c in running if c != "climate-hackweek-26"}
            hs, he = terms["climate-hackweek-26"]
            if hs - dt.timedelta(days=1) <= day <= he:
                billed["climate-hackweek-26"] = peak["climate-hackweek-26"]
            week_cost += 24 * lower_bound_nodes(billed) * price
            kept = {c for c, (s, e) in terms.items() if s <= day <= e + dt.timedelta(days=30)}
            disk = sum(students[c] * home[c] for c in kept)
            week_disk = max(week_disk, disk * G)
            week_cost += 24 * overhead + disk * disk_day
        assert week["cost"] == pytest.approx(week_cost, abs=0.01), week["week_start"]
        assert week["disk_bytes"] == week_disk, week["week_start"]
        assert week["concurrent_servers"] == sum(best.values())
        assert week["reserved_memory_bytes"] == sum(n * shapes[c][0] for c, n in best.items())
        assert week["limit_memory_bytes"] == sum(n * shapes[c][1] for c, n in best.items())
        # First-fit decreasing reaches the lower bound on the example, so no node is wasted.
        assert week["nodes_at_peak"] == ({"n2-highmem-4": lower_bound_nodes(best)} if best else {})
        total += week_cost
    assert r["total_cost"] == pytest.approx(total, abs=0.01)
    # Normal weeks: 60G reserved on 3 nodes; the hackweek's week: 112G and 16 cores -> 5 nodes.
    assert r["weeks"][3]["reserved_memory_bytes"] == 60 * G and r["weeks"][3]["nodes_at_peak"] == {"n2-highmem-4": 3}
    hack_week = next(w for w in r["weeks"] if "climate-hackweek-26" in w["courses"])
    assert hack_week["nodes_at_peak"] == {"n2-highmem-4": 5}
    # Courses and the unattributed rest add up to the total (each figure is rounded to cents).
    assert sum(c["total_cost"] for c in r["courses"]) + r["unattributed_cost"] == pytest.approx(r["total_cost"], abs=0.05)
    # The Monday and Tuesday before the term and the 30 days of kept homes after it carry the hub
    # overhead with no course running; the homes themselves are charged to their courses.
    assert r["unattributed_cost"] == pytest.approx(32 * 24 * overhead)
    st = r["storage"]
    assert st["peak_disk_bytes"] == (120 + 48 + 30) * 2 * G + 28 * 10 * G and st["provisioned_bytes"] is None
    # A term-long course's homes: 2G x (115 term days + 30 kept) per student.
    c8 = by_id(r["courses"])["data-c8-fa26"]
    assert c8["homes_until"] == "2027-01-17" and c8["home_size_bytes"] == 2 * G
    assert c8["storage_cost_per_student"] == pytest.approx(2 * (115 + 30) * disk_day, abs=0.01)
    assert c8["compute_cost"] + c8["storage_cost"] == pytest.approx(c8["total_cost"], abs=0.01)
    # The three term-long courses run on the same days with memory as their dominant guarantee, so a
    # student's server costs in proportion to memory guarantee x hours: all three guarantee 1G, so they
    # cost the same. Their homes are the same size for the same days, so those cost the same per student too.
    c = by_id(r["courses"])
    server = {cid: x["compute_cost"] / x["students"] for cid, x in c.items()}
    assert server["data-c88-fa26"] == pytest.approx(server["data-c8-fa26"], rel=0.01)
    assert server["stat-20-fa26"] == pytest.approx(server["data-c88-fa26"], rel=0.01)
    assert c["stat-20-fa26"]["storage_cost_per_student"] == c["data-c8-fa26"]["storage_cost_per_student"]
    (ev,) = r["events"]
    assert ev["prescale"]["placeholders"] == 26 and ev["prescale"]["from"] == "2026-12-02"
    assert ev["spike"]["extra_nodes"] == 2
    # The example follows the guide's rule (limit at most about twice the guarantee): nothing to warn about.
    assert not [w for w in r["warnings"] if "memory limit" in w]


def test_cli_table_and_json(run_cli, example_manifest_path):
    code, out, err = run_cli("cost", example_manifest_path)
    assert code == 0, err
    assert "cost per student" in out and "data-c8-fa26" in out and "Events: spike and pre-scaling" in out
    assert "Node-share choices" in out and "most nodes needed at once: 5× n2-highmem-4" in out
    assert "warning: data-c8-fa26" not in err
    code, out, err = run_cli("cost", example_manifest_path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"currency", "cost_model", "total_cost", "weeks", "courses", "events", "warnings"} <= data.keys()
    assert data["currency"] == "USD" and data["cost_model"] == "cloud"
    assert all("cost_per_student_per_term" in c and "cost_per_student_per_week" in c for c in data["courses"])


def test_cli_bad_manifest_exits_2_without_traceback(run_cli, tmp_path):
    path = write_manifest(tmp_path, [course("a", 3)], {"node_types": [{**NODE, "memory": "lots"}]})
    code, out, err = run_cli("cost", path)
    assert code == 2 and "Traceback" not in err and "capacity.node_types[0].memory" in err


def test_build_writes_cost_artifacts_and_charts_are_deterministic(example_manifest):
    ctx = buildmod.render(example_manifest, only=["cost"])
    names = sorted(ctx.files)
    assert names == [
        "cost/capacity-by-week.png",
        "cost/capacity-by-week.svg",
        "cost/cost-per-student.png",
        "cost/cost-per-student.svg",
        "cost/cost.json",
        "cost/cost.md",
        "cost/disk-by-week.png",
        "cost/disk-by-week.svg",
    ]
    data = json.loads(ctx.files["cost/cost.json"])
    assert data == json.loads(json.dumps(report(example_manifest)))
    for name in ("cost-per-student", "capacity-by-week", "disk-by-week"):
        svg = ctx.files[f"cost/{name}.svg"]
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert b"<dc:date>" not in svg
        png = Image.open(io.BytesIO(ctx.files[f"cost/{name}.png"]))
        png.verify()
        assert png.format == "PNG"
        assert b"Software" not in ctx.files[f"cost/{name}.png"][:200]
    # Course labels and the week labels are drawn into the charts.
    assert ctx.files["cost/cost.md"].count(b"|") > 20
    again = buildmod.render(example_manifest, only=["cost"])
    assert again.files == ctx.files
    assert charts.cost_per_student(data, fmt="png") == charts.cost_per_student(data, fmt="png")
    with pytest.raises(ValueError):
        charts.cost_per_student(data, fmt="gif")


def test_event_on_a_monday_gets_its_prescale_day_in_the_calendar(tmp_path):
    # The placeholders go in on Sunday 09-06, the week before the event's own week: that day is paid.
    m = load(
        write_manifest(
            tmp_path,
            [course("ev", 8, start="2026-09-07", end="2026-09-07", kind="event", usage={"peak_fraction": 1.0})],
            {"node_types": [NODE]},
        )
    )
    r = report(m)
    assert r["calendar"]["start"] == "2026-08-31" and r["calendar"]["weeks"] == 2
    # 8 x 1G at 4 a node = 2 nodes, held Sunday and Monday: 2 x 2 x 24.
    assert r["weeks"][0]["cost"] == pytest.approx(48) and r["weeks"][1]["cost"] == pytest.approx(48)
    assert by_id(r["courses"])["ev"]["cost_per_student_per_term"] == pytest.approx(12)


def test_manifest_without_courses_gives_an_empty_report(tmp_path):
    m = load(write_manifest(tmp_path, [], {}))
    r = report(m)
    assert r["weeks"] == [] and r["courses"] == [] and r["total_cost"] == 0
    ctx = buildmod.render(m, only=["cost"])
    ET.fromstring(ctx.files["cost/capacity-by-week.svg"])


@pytest.mark.slow
def test_cost_build_is_byte_identical_across_processes(example_manifest_path, tmp_path):
    import os
    import subprocess
    import sys

    trees = []
    for i, seed in enumerate(("0", "12345")):
        out = tmp_path / f"out{i}"
        subprocess.run(
            [sys.executable, "-m", "coursehub", "build", str(example_manifest_path), "-o", str(out), "--only", "cost"],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "TZ": "Asia/Kolkata" if i else "UTC"},
        )
        trees.append({p.name: p.read_bytes() for p in sorted((out / "cost").iterdir())})
    assert len(trees[0]) == 8
    assert trees[0] == trees[1]


# --- property: whatever the manifest, the money adds up ----------------------------------------------

@st.composite
def manifests(draw):
    import datetime as dt

    courses = []
    for i in range(draw(st.integers(0, 4))):
        start = dt.date(2026, 9, 1) + dt.timedelta(days=draw(st.integers(0, 40)))
        event = draw(st.booleans())
        end = start + dt.timedelta(days=draw(st.integers(0, 3 if event else 60)))
        guarantee = draw(st.sampled_from(["256M", "512M", "1G", "2G", "6G"]))
        courses.append(
            {
                "id": f"c{i}",
                "title": f"c{i}",
                "kind": "event" if event else "course",
                "term": {"start": start.isoformat(), "end": end.isoformat()},
                "resources": {
                    "memory": {"guarantee": guarantee, "limit": draw(st.sampled_from(["6G", "8G"]))},
                    "cpu": {"guarantee": draw(st.sampled_from([0.05, 0.5, 1.0]))},
                },
                "usage": {
                    "peak_fraction": draw(st.floats(0.05, 1)),
                    "hours_per_student_per_week": draw(st.floats(0, 40)),
                },
            }
        )
    cost_model = draw(st.sampled_from(["cloud", "on-prem"]))
    for c in courses:
        c["resources"]["storage"] = draw(st.sampled_from(["500M", "2G", "10G"]))
    data = {
        "hub": {"name": "p", "url": "https://p.edu", "image": "d"},
        "images": {"d": {}},
        "courses": courses,
        "capacity": {
            "cost_model": cost_model,
            "node_types": [
                {"name": "s", "memory": "8G", "cpu": 2, "price_per_hour": draw(st.floats(0.01, 2))},
                {"name": "l", "memory": "32G", "cpu": 8, "price_per_hour": draw(st.floats(0.01, 8))},
            ],
            "on_prem": {"node_price": 5000} if cost_model == "on-prem" else None,
            "hub_overhead_per_hour": draw(st.floats(0, 1)),
            "storage": {
                "kind": draw(st.sampled_from(["cloud-disk", "nfs"])),
                "price_per_gb_month": draw(st.floats(0, 0.5)),
                "retain": draw(st.sampled_from(["0d", "3d", "30d"])),
            },
        },
    }
    m = Manifest.model_validate(data)
    for c in m.courses:
        c._roster = [f"u{j}" for j in range(draw(st.integers(0, 80)))]
    return m


@settings(max_examples=40, deadline=None)
@given(m=manifests())
def test_course_costs_and_unattributed_add_up_to_the_total(m):
    r = report(m)
    parts = sum(c["total_cost"] for c in r["courses"]) + r["unattributed_cost"]
    assert parts == pytest.approx(r["total_cost"], abs=0.01 * (len(r["courses"]) + 1))
    assert sum(w["cost"] for w in r["weeks"]) == pytest.approx(r["total_cost"], abs=0.01 * (len(r["weeks"]) + 1))
    assert sum(w["storage_cost"] for w in r["weeks"]) == pytest.approx(r["storage"]["total_cost"], abs=0.01 * (len(r["weeks"]) + 1))
    for c in r["courses"]:
        assert c["total_cost"] >= 0 and c["storage_cost"] >= 0
        assert c["compute_cost"] + c["storage_cost"] == pytest.approx(c["total_cost"], abs=0.02)
        if c["students"]:
            assert c["cost_per_student_per_term"] == pytest.approx(c["total_cost"] / c["students"], abs=0.01)
    for w in r["weeks"]:
        assert w["reserved_memory_bytes"] <= w["available_memory_bytes"]
        assert w["reserved_memory_bytes"] <= w["limit_memory_bytes"]


# --- home-directory storage --------------------------------------------------------------------------

FREE_NODE = {**NODE, "price_per_hour": 0}
#: 0.73 per GiB-month of 730 hours is 0.024 per GiB-day: easy sums by hand.
PER_GIB_DAY = 0.024


def test_cloud_disk_homes_hand_computed_over_term_and_retention(tmp_path):
    # a: 10 students x 2G = 20 GiB from Mon 09-07 to 09-20, kept 7 more days (to 09-27): 21 days.
    # b: 5 students x 4G = 20 GiB from 09-14 to 09-20, kept to 09-27: 14 days.
    m = load(
        write_manifest(
            tmp_path,
            [
                course("a", 10, resources={"storage": "2G"}),
                course("b", 5, start="2026-09-14", resources={"storage": "4G"}),
            ],
            {"node_types": [FREE_NODE], "storage": {"kind": "cloud-disk", "price_per_gb_month": 0.73, "retain": "7d"}},
        )
    )
    r = report(m)
    assert r["calendar"] == {"start": "2026-09-07", "end": "2026-09-27", "weeks": 3}
    a, b = by_id(r["courses"])["a"], by_id(r["courses"])["b"]
    assert a["storage_cost"] == pytest.approx(20 * 21 * PER_GIB_DAY) and a["homes_until"] == "2026-09-27"
    assert b["storage_cost"] == pytest.approx(20 * 14 * PER_GIB_DAY)
    assert a["storage_cost_per_student"] == pytest.approx(2 * 21 * PER_GIB_DAY, abs=0.005)  # in cents
    assert a["compute_cost"] == 0 and a["total_cost"] == a["storage_cost"]
    assert [w["disk_bytes"] for w in r["weeks"]] == [20 * G, 40 * G, 40 * G]
    assert [w["storage_cost"] for w in r["weeks"]] == pytest.approx([20 * 7 * PER_GIB_DAY, 40 * 7 * PER_GIB_DAY, 40 * 7 * PER_GIB_DAY])
    # The week after the term holds no server, only the kept homes.
    assert r["weeks"][2]["concurrent_servers"] == 0 and r["weeks"][2]["cost"] == pytest.approx(40 * 7 * PER_GIB_DAY)
    assert r["storage"] == {
        "kind": "cloud-disk",
        "price_per_gb_month": 0.73,
        "retain_days": 7,
        "peak_disk_bytes": 40 * G,
        "provisioned_bytes": None,
        "total_cost": pytest.approx(20 * 21 * PER_GIB_DAY + 20 * 14 * PER_GIB_DAY),
    }
    assert r["total_cost"] == pytest.approx(r["storage"]["total_cost"]) and r["unattributed_cost"] == 0


@pytest.mark.parametrize("kind", ["cloud-disk", "nfs"])
def test_nfs_is_provisioned_for_the_most_and_paid_every_day(tmp_path, kind):
    # a: 20 GiB in week 1, b: 40 GiB in week 3, nothing kept; week 2 holds no homes.
    m = load(
        write_manifest(
            tmp_path,
            [
                course("a", 10, end="2026-09-13", resources={"storage": "2G"}),
                course("b", 10, start="2026-09-21", end="2026-09-27", resources={"storage": "4G"}),
            ],
            {"node_types": [FREE_NODE], "storage": {"kind": kind, "price_per_gb_month": 0.73, "retain": "0d"}},
        )
    )
    r = report(m)
    a, b = by_id(r["courses"])["a"], by_id(r["courses"])["b"]
    assert [w["disk_bytes"] for w in r["weeks"]] == [20 * G, 0, 40 * G]
    if kind == "cloud-disk":
        # each volume only while it exists
        assert a["storage_cost"] == pytest.approx(20 * 7 * PER_GIB_DAY) and b["storage_cost"] == pytest.approx(40 * 7 * PER_GIB_DAY)
        assert r["unattributed_cost"] == 0 and r["storage"]["provisioned_bytes"] is None
    else:
        # one 40 GiB share all 21 days: a pays it in week 1, b in week 3, nobody in week 2
        assert r["storage"]["provisioned_bytes"] == 40 * G
        assert r["storage"]["total_cost"] == pytest.approx(40 * 21 * PER_GIB_DAY)
        assert a["storage_cost"] == pytest.approx(40 * 7 * PER_GIB_DAY) and b["storage_cost"] == pytest.approx(40 * 7 * PER_GIB_DAY)
        assert r["unattributed_cost"] == pytest.approx(40 * 7 * PER_GIB_DAY)
    assert a["storage_cost"] + b["storage_cost"] + r["unattributed_cost"] == pytest.approx(r["total_cost"], abs=0.01)


def test_home_size_precedence_course_then_hub_then_default(tmp_path):
    hub = {"memory": {"guarantee": "1G", "limit": "1G"}, "cpu": {"guarantee": 0.5, "limit": 1}}
    m = load(write_manifest(tmp_path, [course("own", 1, resources={"storage": "3G"}), course("inherits", 1)], {}, hub))
    assert {c["id"]: c["home_size_bytes"] for c in report(m)["courses"]} == {"own": 3 * G, "inherits": 10 * G}
    m = load(write_manifest(tmp_path, [course("own", 1, resources={"storage": "3G"}), course("inherits", 1)], {}, {**hub, "storage": "1G"}))
    assert {c["id"]: c["home_size_bytes"] for c in report(m)["courses"]} == {"own": 3 * G, "inherits": G}
