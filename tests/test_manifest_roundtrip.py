"""Valid manifests survive dump -> YAML -> load unchanged (a property, checked with hypothesis)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from coursehub.emit import to_yaml
from coursehub.manifest.loader import load_manifest
from coursehub.manifest import Manifest, dump

slugs = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)
usernames = st.from_regex(r"[a-z][a-z0-9._@-]{0,10}", fullmatch=True)
# Titles are where quoting bugs hide: quotes, colons, hashes, braces, newlines, non-ASCII.
titles = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")) | st.sampled_from("\n\"'{}:#&*!|>%@`"),
    min_size=1,
    max_size=40,
)
mib = st.integers(min_value=1, max_value=64).map(lambda n: n * 128 * 1024**2)
days = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2028, 12, 31))


@st.composite
def resources(draw, partial: bool):
    def maybe(strategy):
        return draw(st.none() | strategy) if partial else draw(strategy)

    g = maybe(mib)
    limit = None if g is None else g + draw(st.sampled_from([0, 128 * 1024**2, 1024**3]))
    cpu_g = maybe(st.sampled_from([0.05, 0.1, 0.5, 1.0]))
    cpu_l = None if cpu_g is None else cpu_g * draw(st.sampled_from([1, 2, 4]))
    out = {"memory": {"guarantee": g, "limit": limit}, "cpu": {"guarantee": cpu_g, "limit": cpu_l}}
    out["idle_timeout"] = maybe(st.sampled_from([600, 1800, 3600, 7200]))
    return out


@st.composite
def manifests(draw):
    image_keys = draw(st.lists(slugs, min_size=1, max_size=3, unique=True))
    images = {k: {"standard": draw(st.sampled_from(["data8", "r", "none"])), "packages": draw(st.lists(st.sampled_from(["folium==0.19.6", "xarray==2026.9.0", "nbgrader==0.9.6"]), unique=True))} for k in image_keys}

    def graders(key: str) -> list[str]:
        """The graders a course on image ``key`` may use: its students need the grader in the image
        (R images' otter courses use ottr, an R package, so anything goes there)."""
        image = images[key]
        has = {p.split("==")[0] for p in image["packages"]} | ({"otter-grader"} if image["standard"] == "data8" else set())
        if image["standard"] == "r":
            return ["otter", "nbgrader", "none"]
        return [g for g, package in (("otter", "otter-grader"), ("nbgrader", "nbgrader")) if package in has] + ["none"]
    course_ids = draw(st.lists(slugs, min_size=0, max_size=3, unique=True))
    courses = []
    for cid in course_ids:
        people = draw(st.lists(usernames, min_size=0, max_size=8, unique=True))
        split = draw(st.integers(0, len(people)))
        start = draw(days)
        course = {
            "id": cid,
            "title": draw(titles),
            "kind": draw(st.sampled_from(["course", "event"])),
            "term": {"start": start, "end": start + dt.timedelta(days=draw(st.integers(0, 28)))},
            "image": draw(st.sampled_from(image_keys)),
            "interface": draw(st.sampled_from(["lab", "notebook", "rstudio", "shiny", "vscode"])),
            "resources": draw(resources(partial=True)),
            "staff": {"instructors": people[:split][:2], "tas": people[:split][2:]},
            "students": people[split:],
            # names the hub sets itself (JPY_*, MEM_LIMIT) are refused, so they are not generated
            "environment": draw(st.dictionaries(st.from_regex(r"[A-IK-LN-Z][A-Z_]{0,8}", fullmatch=True), titles, max_size=2)),
        }
        if draw(st.booleans()):
            course["content"] = {"repo": "https://github.com/example-org/" + cid, "branch": draw(st.sampled_from(["main", "fa26/release"]))}
            course["assignments"] = [{"id": f"lab{i:02d}", "path": f"lab/lab{i:02d}.ipynb", "points": i * 5} for i in range(draw(st.integers(1, 3)))]
            course["grader"] = draw(st.sampled_from(graders(course["image"])))
        courses.append(course)
    return {
        "hub": {"name": draw(slugs), "url": "https://hub.example.edu", "image": image_keys[0], "interface": draw(st.sampled_from(["lab", "notebook"])), "resources": draw(resources(partial=False))},
        "images": images,
        "courses": courses,
    }


@settings(max_examples=60, deadline=None)
@given(manifests())
def test_manifest_survives_dump_and_load(data):
    original = Manifest.model_validate(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.yaml"
        path.write_bytes(to_yaml(dump(original)))
        loaded, warnings = load_manifest(path)
    # the generated assignments have no grader source: graded courses are warned about, nothing else is
    assert [w for w in warnings if "cannot grade it" not in w.message] == []
    assert loaded.model_dump() == original.model_dump()
    for a, b in zip(loaded.courses, original.courses):
        assert a.roster == list(b.students)


def test_example_manifest_round_trips(example_manifest, tmp_path):
    # The example's rosters are CSV files; copy them so the dumped manifest resolves the same paths.
    import shutil

    src = Path(example_manifest.source).parent
    shutil.copytree(src, tmp_path / "u")
    path = tmp_path / "u" / "dumped.yaml"
    path.write_bytes(to_yaml(dump(example_manifest)))
    loaded, _ = load_manifest(path)
    assert loaded.model_dump() == example_manifest.model_dump()
    assert [c.roster for c in loaded.courses] == [c.roster for c in example_manifest.courses]
