from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema

from coursehub.emit import load_yaml_text
from coursehub.manifest.schema import SCHEMA_FILE, schema_text
from coursehub.manifest.summary import summarize


def test_committed_schema_is_current(repo_root):
    assert (repo_root / SCHEMA_FILE).read_text() == schema_text(), "run: coursehub schema -o " + SCHEMA_FILE


def test_schema_accepts_the_example_and_rejects_bad_input(example_manifest_path):
    schema = json.loads(schema_text())
    data = load_yaml_text(example_manifest_path.read_text())
    data = json.loads(json.dumps(data, default=str))  # dates as strings, as an editor sees them
    jsonschema.validate(data, schema)
    bad = json.loads(json.dumps(data))
    bad["courses"][0]["titel"] = "typo"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert any("titel" in e.message for e in errors)
    bad = json.loads(json.dumps(data))
    bad["hub"]["resources"]["memory"]["limit"] = "lots"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


def test_every_field_has_a_description():
    schema = json.loads(schema_text())
    missing = []
    for name, definition in schema["$defs"].items():
        for field, spec in definition.get("properties", {}).items():
            if not spec.get("description"):
                missing.append(f"{name}.{field}")
    assert missing == []


def test_summary_counts_match_the_rosters(example_manifest, example_manifest_path):
    summary = summarize(example_manifest)
    base = example_manifest_path.parent
    for course in summary["courses"]:
        with open(base / "rosters" / f"{course['id']}.csv") as fh:
            assert course["students"] == len(list(csv.DictReader(fh)))
    assert summary["totals"]["courses"] == 3 and summary["totals"]["events"] == 1
    everyone = set()
    for c in example_manifest.courses:
        everyone |= set(c.roster) | set(c.staff.instructors) | set(c.staff.tas)
    assert summary["totals"]["distinct_users"] == len(everyone)
    c8 = next(c for c in summary["courses"] if c["id"] == "data-c8-fa26")
    assert c8["memory"] == {"guarantee": 1024**3, "limit": 2 * 1024**3}  # the course overrides both


def test_validate_json_output(run_cli, example_manifest_path):
    code, out, err = run_cli("validate", example_manifest_path, "--json")
    assert code == 0
    data = json.loads(out)
    assert [c["id"] for c in data["courses"]] == ["data-c8-fa26", "data-c88-fa26", "stat-20-fa26", "climate-hackweek-26"]


def test_cli_never_shows_a_traceback_for_a_directory(run_cli, tmp_path):
    code, out, err = run_cli("validate", tmp_path)
    assert code == 2
    assert "Traceback" not in err


def test_usage_errors_exit_2_with_a_usage_message(run_cli):
    code, out, err = run_cli("build", "--no-such-option", "x.yaml")
    assert code == 2
    assert "No such option: --no-such-option" in err and "internal error" not in err
    code, out, err = run_cli("validate")
    assert code == 2
    assert "Missing argument 'MANIFEST'" in err


# --- what validate and build print -------------------------------------------------------------------

BAD_ROWS = Path(__file__).parent / "manifests" / "broken" / "roster-bad-rows.yaml"


def test_validate_prints_totals_not_every_course_unless_verbose(run_cli, example_manifest_path):
    code, out, err = run_cli("validate", example_manifest_path)
    assert code == 0
    assert "3 courses and 1 event, 226 enrolments" in out
    assert "data-c88-fa26" not in out  # no table of every course
    assert err.strip().endswith("manifest.yaml: valid")
    code, out, _ = run_cli("validate", example_manifest_path, "--verbose")
    assert all(c in out for c in ("data-c8-fa26", "data-c88-fa26", "stat-20-fa26", "climate-hackweek-26"))


def test_validate_with_warnings_says_so_and_shows_those_courses(run_cli):
    code, out, err = run_cli("validate", BAD_ROWS)
    assert code == 0
    assert "valid, with 2 warnings" in err and not err.strip().endswith(": valid")
    assert "courses with warnings" in out


def test_build_prints_totals_and_the_courses_with_warnings_then_nothing_changed(run_cli, example_manifest_path, tmp_path):
    import shutil

    shutil.copytree(example_manifest_path.parent, tmp_path / "uni")
    example_manifest_path = tmp_path / "uni" / "manifest.yaml"
    text = example_manifest_path.read_text()
    example_manifest_path.write_text(text.replace("resources: {memory: {guarantee: 1G, limit: 2G}}", "resources: {memory: {limit: 2G}}", 1))
    out_dir = tmp_path / "out"
    code, out, err = run_cli("build", example_manifest_path, "-o", out_dir)
    assert code == 0, err
    assert "226 enrolments" in out
    # the cost warning names its course and says what it is; the table shows only that course
    assert "cost: warning: data-c8-fa26: memory limit 2G is 4x the guarantee 512M" in " ".join(err.split())
    assert "courses with warnings" in out and "data-c8-fa26" in out and "stat-20-fa26" not in out
    files = len([p for p in out_dir.rglob("*") if p.is_file() and p.name != ".coursehub-build.json"])
    assert f"wrote {files} files" in err
    code, out, err = run_cli("build", example_manifest_path, "-o", out_dir)
    assert code == 0 and f"nothing changed since the last build ({files} files)" in err
    code, out, _ = run_cli("build", example_manifest_path, "-o", out_dir, "--json")
    report = json.loads(out)
    assert all(f["unchanged"] for f in report["families"].values()) and len(report["summary"]["courses"]) == 4


def test_a_date_inside_the_manifest_says_which_part_is_wrong(tmp_path, run_cli):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "hub: {name: t, url: 'https://hub.example.edu', image: data8}\n"
        "images: {data8: {standard: data8}}\n"
        "courses:\n"
        "  - id: c1\n    title: C\n    term: {start: 2026-13-01, end: 2026-02-30}\n    image: data8\n    students: []\n"
    )
    code, _, err = run_cli("validate", manifest)
    assert code == 2
    assert "term.start: '2026-13-01' is not a date: month 13 is not 1 to 12" in err
    assert "term.end: '2026-02-30' is not a date: day 30 is not 1 to 28 in February 2026" in err
    assert "2 problems in the manifest" in err
