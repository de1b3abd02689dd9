"""`images advise`: the next standard, on a manifest of many courses whose additions overlap.

The packages are real and small; pip resolves and downloads them from the package index (the only
network these tests use) into coursehub's cache, so a second run asks the index nothing. What the
manifest holds, and what a correct proposal must say about it:

- ``plain`` (200) is the standard unchanged; ``stale-a`` (30) pins tzdata at the standard's own
  version, so it is on the standard already, its pin removable;
- ``stale-b`` (25) pins requests 2.34.0, which the standard's 2.34.2 supersedes compatibly: it
  joins as soon as the pin is removed;
- ``geo-a`` (120: xarray + pooch) and ``geo-b`` (80: xarray) overlap: one step moves both;
- ``md`` (90) adds rich 13.0.0, which brings commonmark along; ``term-a`` (60) and ``fp`` (20) add
  rich 14.3.4 (fp also toolz). One course of 90 beats two courses of 80 together: students, not courses;
- ``term-b`` (50) adds rich 13.3.1, which requires markdown-it-py<3 while the standard pins 4.3.0;
- ``old-geo`` (40) pins an older xarray than the step that folds xarray in;
- ``relock`` (12) pins attrs 25.4.0 where the standard has 26.1.0: a change of pin, not an addition;
- ``stats`` (30) is on the R standard and adds a CRAN package; ``own`` (10) is on no standard.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from coursehub import emit
from coursehub import build as buildmod
from coursehub.errors import CoursehubError
from coursehub.images import measure
from coursehub.images.advise import advice_markdown, advise, supersedes
from coursehub.images.advise import stages
from coursehub.images.charts import students_on_standard
from coursehub.images.measure import FACTS_FILE, Facts, Resolution, gather, load_facts
from coursehub.images.pip import image_platform_args
from coursehub.images.plan import plan_images
from coursehub.images.standard import load_standard
from coursehub.manifest.loader import load_manifest

IMAGES = {
    "plain": ({"standard": "data8"}, 200),
    "stale-a": ({"packages": ["tzdata==2026.6"]}, 30),
    "stale-b": ({"packages": ["requests==2.34.0"]}, 25),
    "geo-a": ({"packages": ["xarray==2026.9.0", "pooch==1.9.0"]}, 120),
    "geo-b": ({"packages": ["xarray==2026.9.0"]}, 80),
    "md": ({"packages": ["rich==13.0.0"]}, 90),
    "term-a": ({"packages": ["rich==14.3.4"]}, 60),
    "fp": ({"packages": ["toolz==1.1.0", "rich==14.3.4"]}, 20),
    "term-b": ({"packages": ["rich==13.3.1"]}, 50),
    "old-geo": ({"packages": ["xarray==2025.1.0"]}, 40),
    "relock": ({"packages": ["attrs==25.4.0"]}, 12),
    "stats": ({"standard": "r", "r_packages": ["sf"]}, 30),
    "own": ({"standard": "none", "packages": ["toolz==1.1.0"]}, 10),
}


def write_manifest(folder: Path, images: dict = IMAGES) -> Path:
    data = {
        "hub": {"name": "adv", "url": "https://hub.adv.edu", "image": "plain"},
        "images": {key: spec for key, (spec, _) in images.items()},
        "courses": [
            {
                "id": f"{key}-c",
                "title": key,
                "term": {"start": "2026-09-01", "end": "2026-12-01"},
                "image": key,
                "students": [f"{key}-s{i}" for i in range(n)],
            }
            for key, (_, n) in images.items()
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_bytes(emit.to_yaml(data))
    return folder / "manifest.yaml"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The manifest, its plan, and the facts pip gave for it (from the index once, then coursehub's cache)."""
    path = write_manifest(tmp_path_factory.mktemp("advise"))
    manifest = load_manifest(path)[0]
    plan = plan_images(manifest)
    return manifest, plan, gather(manifest, plan)


@pytest.fixture(scope="module")
def advice(measured):
    manifest, plan, gathered = measured
    return advise(manifest, gathered.facts, plan)


def by_standard(data: dict) -> dict[str, dict]:
    return {a["standard"]: a for a in data["standards"]}


def test_proposal_order_and_what_blocks_the_rest(advice):
    d8 = by_standard(advice)["data8"]
    assert d8["students"] == 200 + 30 + 25 + 120 + 80 + 90 + 60 + 20 + 50 + 40 + 12
    assert d8["now"] == {"students": 230, "courses": ["plain-c", "stale-a-c"]}
    assert d8["after_removals"] == {"students": 255, "courses": ["stale-b-c"]}
    steps = [(s["adds"], s["brings"], [c["course"] for c in s["courses"]], s["students_on_standard"]) for s in d8["steps"]]
    assert steps == [
        (["pooch==1.9.0", "xarray==2026.9.0"], [], ["geo-a-c", "geo-b-c"], 455),
        (["rich==13.0.0"], ["commonmark==0.9.2"], ["md-c"], 545),
    ]
    blocked = {b["course"]: b["reasons"] for b in d8["blocked"]}
    assert blocked == {
        "term-a-c": ["needs rich==14.3.4; step 2 folds in rich==13.0.0"],
        "fp-c": ["needs rich==14.3.4; step 2 folds in rich==13.0.0"],
        "term-b-c": ["rich 13.3.1 requires markdown-it-py<3.0.0,>=2.1.0; the data8 standard pins markdown-it-py 4.3.0"],
        "old-geo-c": ["needs xarray==2025.1.0; step 1 folds in xarray==2026.9.0"],
        "relock-c": ["pins attrs==25.4.0, the data8 standard pins 26.1.0 (changing a standard's pin is a relock)"],
    }
    assert {(r["course"], r["pin"].split(":")[0]) for r in d8["removable"]} == {
        ("stale-a-c", "tzdata==2026.6"),
        ("stale-b-c", "requests==2.34.0"),
    }
    r = by_standard(advice)["r"]
    assert [s["adds"] for s in r["steps"]] == [["R sf"]] and r["steps"][0]["unmeasured"] == ["R sf"]
    assert advice["not_on_a_standard"] == ["own-c"]


def _needs(manifest, plan, facts, course_id):
    """A course's needs, read independently of the advice module: its additions' closures."""
    b = plan.for_course(course_id)
    std = load_standard(b.standard)
    out = {}
    for pin in b.additions:
        res = facts.resolution(std, measure.pin_key(pin.name, pin.version))
        if res.conflicts:
            return None
        for key in res.closure:
            name, _, version = key.partition("==")
            out[name] = version
    for r in b.r_packages:
        out[f"R {r.name}"] = r.version
    return out


def test_each_step_moves_the_most_students_any_step_could(measured, advice):
    """At every step, folding in any other course's remaining packages would move no more students."""
    manifest, plan, gathered = measured
    d8 = by_standard(advice)["data8"]
    roster = {c.id: len(c.roster) for c in manifest.courses if plan.for_course(c.id).standard == "data8"}
    on = set(d8["now"]["courses"]) | set(d8["after_removals"]["courses"])
    needs = {cid: _needs(manifest, plan, gathered.facts, cid) for cid in roster if cid not in on}
    needs = {cid: n for cid, n in needs.items() if n is not None and not plan.for_course(cid).changes}
    folded: dict[str, str] = {}
    for step in d8["steps"]:
        best = 0
        for cid, need in needs.items():
            if cid in on or any(folded.get(k, v) != v for k, v in need.items()):
                continue
            trial = {**folded, **need}
            moved = [x for x, n in needs.items() if x not in on and all(trial.get(k) == v for k, v in n.items())]
            best = max(best, sum(roster[x] for x in moved))
        assert step["students_moved"] == best > 0
        for c in step["courses"]:
            on.add(c["course"])
            folded.update(needs[c["course"]])
    # and when the steps stop, no course left could be moved without a conflict
    for cid, need in needs.items():
        assert cid in on or any(folded.get(k, v) != v for k, v in need.items())


def test_sizes_are_the_wheels_pip_downloads(measured, advice, tmp_path):
    """Download size = the wheel file pip fetches for the images' platform; installed = its files' sizes."""
    _, _, gathered = measured
    pins = ["xarray==2026.9.0", "pooch==1.9.0", "rich==13.0.0", "commonmark==0.9.2"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp_path), *image_platform_args("3.11"), *pins],
        check=True,
        capture_output=True,
    )
    real = {}
    for wheel in tmp_path.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            real[wheel.name] = (wheel.stat().st_size, sum(i.file_size for i in zf.infolist()))
    facts = {w.wheel: (w.download_bytes, w.installed_bytes) for w in gathered.facts.wheels.values() if w.wheel in real}
    assert facts == real and len(real) == 4
    step1, step2 = by_standard(advice)["data8"]["steps"]
    assert step1["download_bytes"] == sum(v[0] for k, v in real.items() if k.startswith(("xarray", "pooch")))
    assert step2["installed_bytes"] == sum(v[1] for k, v in real.items() if k.startswith(("rich", "commonmark")))
    assert step2["unmeasured"] == []


def test_second_run_asks_the_index_nothing(measured, monkeypatch):
    manifest, plan, first = measured

    def no_pip(args):
        raise AssertionError(f"pip was run again: {args[:2]}")

    monkeypatch.setattr(measure, "_run_pip", no_pip)
    again = gather(manifest, plan)
    assert again.measured == 0 and again.facts == first.facts


def test_record_then_build_uses_only_the_recorded_file(measured, advice, tmp_path, monkeypatch):
    manifest, plan, gathered = measured
    folder = tmp_path / "copy"
    path = write_manifest(folder)
    copy = load_manifest(path)[0]
    # Before recording, the build has no sizes and says so; it never runs pip.
    monkeypatch.setattr(measure, "_run_pip", lambda args: (_ for _ in ()).throw(AssertionError("the build ran pip")))
    bare = json.loads(buildmod.render(copy, only=["images"]).files["images/advise.json"])
    d8 = by_standard(bare)["data8"]
    assert "geo-a-c: xarray==2026.9.0" in d8["unmeasured"] and d8["steps"][0]["unmeasured"]
    measure.record(copy, gathered.facts)
    assert (folder / FACTS_FILE).is_file()
    files = buildmod.render(copy, only=["images"]).files
    built = json.loads(files["images/advise.json"])
    assert built["standards"] == advice["standards"]
    assert files == buildmod.render(copy, only=["images"]).files  # deterministic
    md = files["images/advise.md"].decode()
    assert "| step 2 | rich==13.0.0 | commonmark==0.9.2 | md-c (90) | 545 |" in md
    assert "markdown-it-py&lt;3.0.0" in md  # text from the index is escaped for the page
    ET.fromstring(files["images/advise.svg"])


def test_stale_versions():
    assert supersedes("2.34.2", "2.34.0") and supersedes("2026.6", "2026.6")
    assert supersedes("6.6.1", "6.5.2")  # same major series (~=6.5)
    assert not supersedes("26.1.0", "25.4.0")  # a new major release is not a compatible upgrade
    assert not supersedes("2.34.0", "2.34.2")  # older than the pin
    assert not supersedes("3.0.0rc1", "2.9")


def test_offline_without_facts_measures_nothing_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEHUB_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(measure, "_run_pip", lambda args: (_ for _ in ()).throw(AssertionError("offline ran pip")))
    manifest = load_manifest(write_manifest(tmp_path / "m", {"plain": IMAGES["plain"], "geo-b": IMAGES["geo-b"]}))[0]
    gathered = gather(manifest, plan_images(manifest), offline=True)
    assert gathered.missing == ["xarray==2026.9.0 (data8)"]
    data = advise(manifest, gathered.facts)
    (step,) = by_standard(data)["data8"]["steps"]
    assert step["adds"] == ["xarray==2026.9.0"] and step["unmeasured"] == ["xarray==2026.9.0"]
    assert "not measured" in advice_markdown(data)


def test_facts_tied_to_the_standard_digest(measured):
    """A resolution made against another version of the standard is not used."""
    _, _, gathered = measured
    std = load_standard("data8")
    assert gathered.facts.resolution(std, "xarray==2026.9.0") is not None
    stale = Facts.model_validate({**gathered.facts.model_dump(), "standards": {"data8": {"digest": "0" * 64, "additions": {}}}})
    assert stale.resolution(std, "xarray==2026.9.0") is None


def test_damaged_facts_file_is_a_clear_error(tmp_path):
    path = tmp_path / FACTS_FILE
    path.write_text(json.dumps({"format": 1, "wheels": {"x==1": {"name": "x", "version": "1", "download_bytes": -5}}}))
    with pytest.raises(CoursehubError) as info:
        load_facts(path)
    assert FACTS_FILE in str(info.value) and "--record" in str(info.value)


def test_chart_shows_each_stage(advice):
    assert stages(by_standard(advice)["data8"]) == [("now", 230), ("stale pins removed", 255), ("step 1", 455), ("step 2", 545)]
    svg = students_on_standard(advice, fmt="svg")
    assert svg == students_on_standard(advice, fmt="svg") and b"<dc:date>" not in svg
    Image.open(io.BytesIO(students_on_standard(advice, fmt="png"))).verify()


def test_cli_table_json_record_and_chart(measured, run_cli, tmp_path):
    path = write_manifest(tmp_path / "cli")
    chart = tmp_path / "steps.svg"
    code, out, err = run_cli("images", "advise", path, "--record", "--chart", chart)
    assert code == 0, err
    assert "step 2" in out and "blocked: term-b-c (50 students): rich 13.3.1 requires markdown-it-py" in out
    assert "removable: stale-b-c: requests==2.34.0" in out and "advice: data8: 230 of 727" in err
    assert (tmp_path / "cli" / FACTS_FILE).is_file() and chart.read_bytes().startswith(b"<?xml")
    code, out, err = run_cli("images", "advise", path, "--json", "--offline")
    assert code == 0, err
    assert by_standard(json.loads(out))["data8"]["steps"][1]["students_on_standard"] == 545
    code, _, err = run_cli("images", "advise", path, "--chart", tmp_path / "x.gif")
    assert code == 2 and ".svg or .png" in err and "Traceback" not in err


def test_resolutions_for_the_current_standard_win_a_merge(measured):
    """A facts file recorded before a relock must not hide what the cache knows of the standard now."""
    _, _, gathered = measured
    std = load_standard("data8")
    old = Facts(standards={"data8": {"digest": "0" * 64, "additions": {"x==1": Resolution(closure=["x==1"])}}})
    for merged in (old.merged(gathered.facts), gathered.facts.merged(old)):
        assert merged.resolution(std, "xarray==2026.9.0") == gathered.facts.resolution(std, "xarray==2026.9.0")


def test_resolution_uses_the_images_exact_python_version():
    """pip reads `--python-version 3.11` as 3.11.0; the standard's soupsieve needs 3.11.5 or later, so every
    addition that pulls it in (nbgrader, through nbconvert and beautifulsoup4) looked blocked."""
    import re
    from importlib.resources import files

    from coursehub.images.pip import image_python

    lock = files("repo2docker.buildpacks.conda").joinpath("environment.py-3.11-linux-64.lock").read_text()
    locked = re.search(r"/python-(3\.11\.\d+)-", lock).group(1)
    assert image_python("3.11") == locked
    args = image_platform_args("3.11")
    assert args[args.index("--python-version") + 1] == locked
    assert image_python("9.9") == "9.9"  # no lock for it: the minor version, as before
    resolution, wheels = measure.resolve(load_standard("data8"), "nbgrader==0.9.6")
    assert resolution.conflicts == []
    assert wheels[0].key == "nbgrader==0.9.6"
