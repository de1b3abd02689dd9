"""The guide site: strict mkdocs build, no broken links, and the pages generated from code and manifest.

The site is built for real (``mkdocs build --strict`` with mkdocs-material and the gen-files script)
into a temporary folder; nothing is written into the repository.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import typer

from coursehub.build import families, render
from coursehub.escape import markdown as md_text
from coursehub.escape import markdown_code as md_code
from coursehub.manifest import Manifest
from coursehub.manifest.schema import manifest_schema, schema_text
from coursehub.sitegen import access_reference, catalogue_files, cli_reference, docs_files, manifest_reference

REPO = Path(__file__).resolve().parents[1]
#: The hand-written pages the issue asks for (the generated ones are checked separately).
GUIDE_PAGES = [
    "index.md",
    "getting-started.md",
    "nbgitpuller.md",
    "choosing-a-grader.md",
    "authoring.md",
    "sizing.md",
    "many-courses.md",
    "standard-images.md",
    "college-it.md",
    "link-generator.md",
    "alternatives.md",
    "handing-in.md",
    "authenticators.md",
    "storage.md",
    "monitoring.md",
    "lms.md",
]


def mkdocs_build(config: Path, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("guide-site") / "site"
    result = mkdocs_build(REPO / "mkdocs.yml", out)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


# --- the strict build and its links ------------------------------------------------------------------


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_strict_build_produces_every_page(site, example_manifest):
    for page in GUIDE_PAGES:
        target = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert target.is_file(), f"{page} was not built"
    assert (site / "reference/manifest/index.html").is_file()
    assert (site / "reference/cli/index.html").is_file()
    assert (site / "reference/manifest.schema.json").read_text(encoding="utf-8") == schema_text()
    assert (site / "catalogue/index.html").is_file()
    for course in example_manifest.courses:
        assert (site / "catalogue" / course.id / "index.html").is_file()


def test_generated_pages_are_not_committed():
    """Reference and catalogue pages exist only at build time (gen-files), never as files in guides/."""
    assert not (REPO / "guides" / "reference").exists()
    assert not (REPO / "guides" / "catalogue").exists()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.refs.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(site: Path, page: Path, ref: str) -> tuple[Path, str] | None:
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith(("mailto:", "data:", "javascript:")):
        return None  # external; the site may link out, that is not a broken internal link
    if not parts.path:
        return page, unquote(parts.fragment)
    # 404.html links root-relative (it is served from any depth); every other page links relatively.
    base = site if parts.path.startswith("/") else page.parent
    target = (base / unquote(parts.path).lstrip("/")).resolve()
    if target.is_dir() or parts.path.endswith("/"):
        target = target / "index.html"
    return target, unquote(parts.fragment)


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_no_broken_internal_links_in_built_html(site):
    """Crawl every built page: each local href/src must exist, and each #fragment must be an id there."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 15
    parsed = {p.resolve(): _parse(p) for p in pages}
    broken = []
    checked = 0
    for page, links in parsed.items():
        for ref in links.refs:
            found = _target(site, page, ref)
            if found is None:
                continue
            target, fragment = found
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {ref} (no such file)")
            elif fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if fragment not in ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {ref} (no #{fragment} there)")
    assert checked > 500
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.mark.slow
def test_every_kind_of_broken_link_fails_the_strict_build(tmp_path):
    """The validation settings in mkdocs.yml turn each kind of broken link into a failed build."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPO / "mkdocs.yml", copy / "mkdocs.yml")
    for folder in ("guides", "guides_gen", "course-templates/example-university"):
        shutil.copytree(REPO / folder, copy / folder)
    broken = {
        "[gone](no-such-page.md)": "no-such-page.md",  # a page that does not exist
        "[anchor](nbgitpuller.md#no-such-section)": "no-such-section",  # a heading that does not exist
        "[absolute](/catalogue/)": "/catalogue/",  # breaks as soon as the site is not at the server root
    }
    index = copy / "guides" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + "\n" + "\n".join(broken) + "\n", encoding="utf-8")
    result = mkdocs_build(copy / "mkdocs.yml", tmp_path / "out")
    assert result.returncode != 0
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    for complaint in broken.values():
        assert any(complaint in w for w in warnings), f"no warning about {complaint}:\n{result.stderr[-3000:]}"


# --- pages generated from the code -------------------------------------------------------------------


def _section(page: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", page, flags=re.M | re.S)
    assert match, f"no section {heading}"
    return match.group(1)


def test_manifest_reference_has_every_field_with_type_default_and_description():
    page = manifest_reference()
    schema = manifest_schema()
    models = {"Manifest": schema, **schema["$defs"]}
    for name, node in models.items():
        section = _section(page, name)
        for field, prop in node["properties"].items():
            row = next((line for line in section.splitlines() if line.startswith(f"| `{field}` |")), None)
            assert row is not None, f"{name}.{field} missing from the reference"
            assert html.escape(prop["description"], quote=False).replace("|", "\\|") in row
    # Types, defaults and required markers come through, in the manifest's own spelling.
    grading = _section(page, "Grading")
    assert "| `timeout` | duration | `\"10m\"` |" in grading
    assert "| `memory` | size | `\"2G\"` |" in grading
    course = _section(page, "Course")
    assert "| `id` | text | **required** |" in course
    assert "[Term](#term)" in course and "list of [Assignment](#assignment)" in course
    assert "one of `otter`, `nbgrader`, `none`" in course
    image = _section(page, "Image")
    assert "default: &lt;hub name&gt;/&lt;image key&gt;" in image  # shown, not swallowed as an HTML tag
    assert "[manifest.schema.json](manifest.schema.json)" in page
    hub = _section(page, "Hub")
    assert '"512M"' in hub and '"30m"' in hub  # the hub's default resources, from DEFAULT_RESOURCES


def test_manifest_reference_follows_a_new_field(monkeypatch):
    """A field added to a model shows up without anyone editing the reference code."""
    from pydantic import Field

    from coursehub import manifest as m

    class Term(m.Term):
        reading_week: int = Field(0, ge=0, description="Weeks without classes in the middle of term.")

    class Course(m.Course):
        term: Term = Field(description="When the course runs.")

    class Manifest(m.Manifest):
        courses: list[Course] = Field(default_factory=list, description="Courses and events on the hub.")

    monkeypatch.setattr("coursehub.sitegen.fields.Manifest", Manifest)
    monkeypatch.setattr("coursehub.sitegen.fields.manifest_schema", lambda: Manifest.model_json_schema())
    page = manifest_reference()
    assert "| `reading_week` | integer | `0` | Weeks without classes in the middle of term. (≥ 0) |" in page


def test_cli_reference_lists_every_command_and_option():
    from coursehub.cli import app

    page = cli_reference()
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="coursehub")

    def walk(cmd, ctx, path):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
            yield path + [name], sub, sub_ctx
            if hasattr(sub, "list_commands"):
                yield from walk(sub, sub_ctx, path + [name])

    commands = list(walk(root, ctx, []))
    assert {"validate", "schema", "build"} <= {p[0] for p, _, _ in commands}
    for path, cmd, sub_ctx in commands:
        section = _section(page, f"`coursehub {' '.join(path)}`")
        for param in cmd.get_params(sub_ctx):
            if param.name == "help":
                continue
            shown = param.opts[-1] if param.param_type_name == "option" else param.name.upper()
            assert f"`{shown}`" in section, f"coursehub {' '.join(path)}: {shown} missing"
            if getattr(param, "help", None):
                assert html.escape(param.help, quote=False) in section
    build = _section(page, "`coursehub build`")
    assert "| `-o`, `--output` | path | `build` | Folder to write the generated tree into. |" in build
    assert "coursehub build [OPTIONS] MANIFEST" in build


def test_cli_reference_includes_subcommand_groups():
    """Sub-apps (like `coursehub links check`) are walked too, with their options."""
    app = typer.Typer(name="demo")

    @app.command()
    def top(flag: bool = typer.Option(False, "--flag", help="A flag.")):
        """Top-level command."""

    group = typer.Typer(help="A group of commands.")

    @group.command()
    def check(path: str = typer.Argument(..., help="What to check."), jobs: int = typer.Option(4, help="Workers.")):
        """Check something."""

    app.add_typer(group, name="things")
    page = cli_reference(typer.main.get_command(app))
    check_section = _section(page, "`coursehub things check`")
    assert "Check something." in check_section
    assert "| `PATH` | text (argument) | **required** | What to check. |" in check_section
    assert "| `--jobs` | integer | `4` | Workers. |" in check_section
    assert "`coursehub top`" in page and "A flag." in page


# --- the course catalogue ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue(example_manifest) -> dict[str, bytes]:
    return catalogue_files(example_manifest)


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_catalogue_shows_each_course_and_each_assignment_link_with_its_qr(example_manifest, catalogue):
    assert "links" in families(), "the links build family is not registered"
    built = render(example_manifest, only=["links"]).files
    files = catalogue
    index = files["index.md"].decode()
    for course in example_manifest.courses:
        assert f"[{md_text(course.title)}]({course.id}/index.md)" in index
        page = files[f"{course.id}/index.md"].decode()
        assert f"\n# {md_text(course.title)}\n" in page
        assert "Not generated by this coursehub" not in page
        for a in course.assignments:
            rows = csv.DictReader(io.StringIO(built[f"links/{course.id}/links.csv"].decode()))
            url = next(row["url"] for row in rows if row["assignment"] == a.id)
            assert url.startswith(f"{example_manifest.hub.url}/hub/user-redirect/{course.id}/git-pull?")
            assert f"]({url})" in page
            assert f"(qr/{a.id}.svg)" in page
            assert files[f"{course.id}/qr/{a.id}.svg"] == built[f"links/{course.id}/qr/{a.id}.svg"]
        # The printable handout and the CSV are offered as they are, for printing and for the LMS.
        assert files[f"{course.id}/handout.html"] == built[f"links/{course.id}/index.html"]
        assert files[f"{course.id}/links.csv"] == built[f"links/{course.id}/links.csv"]
        assert "(handout.html)" in page and "(links.csv)" in page


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_catalogue_course_page_shows_effective_settings(catalogue):
    page = catalogue["data-c88-fa26/index.md"].decode()
    # The hub's image and guarantee-defaults merged with the course's overrides.
    assert "| Image | `data8-nbgrader` (standard data8 + nbgrader==0.9.6, rapidfuzz==3.14.6) |" in page
    assert "| Interface | notebook (opens `/tree`) |" in page
    assert "| Memory | 1G guaranteed, 2G limit |" in page
    assert "| CPU | 0.05 cores guaranteed, 2 limit |" in page
    assert "| Idle timeout | 1h |" in page
    assert "| Grader | nbgrader |" in page
    hack = catalogue["climate-hackweek-26/index.md"].decode()
    assert "xarray==" in hack and "`climate-hackweek-data` at `/home/jovyan/shared` (read-only)" in hack


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_catalogue_names_a_missing_family_instead_of_crashing(example_manifest, monkeypatch):
    from coursehub import build

    monkeypatch.setattr(build, "GENERATORS", [g for g in build.GENERATORS if g[0] not in ("links", "cost", "images")])
    files = catalogue_files(example_manifest)
    page = files["data-c8-fa26/index.md"].decode()
    assert "no `links` build family" in page and "### Lab 1: Tables" in page
    assert "no `cost` build family" in files["sizing.md"].decode()
    assert "no `images` build family" in files["standard.md"].decode()
    assert not any(k.endswith(".svg") for k in files)


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_sizing_page_shows_the_cost_charts_and_figures(example_manifest, catalogue):
    assert "cost" in families(), "the cost build family is not registered"
    built = render(example_manifest, only=["cost"]).files
    files = catalogue
    page = files["sizing.md"].decode()
    for chart in ("cost-per-student.svg", "capacity-by-week.svg", "disk-by-week.svg"):
        assert f"(charts/{chart})" in page
        assert files[f"charts/{chart}"] == built[f"cost/{chart}"]
    for course in example_manifest.courses:
        assert f"| {md_text(course.title)} | {len(course.roster)} |" in page
    assert "climate-hackweek-26" in _section(page, "Events: spike and pre-scaling")


@pytest.mark.slow  # renders the images and cost families
def test_standard_page_and_the_guides_figures_come_from_the_example(example_manifest, catalogue):
    """The catalogue shows the example's advice; the figures the hand-written guides quote are the generated ones."""
    built = render(example_manifest, only=["images", "cost"]).files
    page = catalogue["standard.md"].decode()
    assert page.startswith("# Standard images: example-university")
    assert catalogue["charts/advise.svg"] == built["images/advise.svg"] and "(charts/advise.svg)" in page
    advice = {a["standard"]: a for a in json.loads(built["images/advise.json"])["standards"]}
    first, step = advice["data8"]["steps"]
    assert first["adds"] == ["nbgrader==0.9.6", "rapidfuzz==3.14.6"] and first["unmeasured"] == []
    assert step["adds"] == ["pooch==1.9.0", "xarray==2026.9.0"] and step["unmeasured"] == []
    assert "| step 2 | pooch==1.9.0, xarray==2026.9.0 | — | climate-hackweek-26 (28) | 196 |" in page
    guide = " ".join((REPO / "guides" / "standard-images.md").read_text().split())
    assert f"about {first['download_bytes'] / 1e6:.1f} MB to download) would bring that course's {first['students_moved']} students" in guide
    assert f"about {step['download_bytes'] / 1e6:.1f} MB to download" in guide
    assert f"bring the hackweek's {step['students_moved']} students onto `data8`" in guide
    cost = json.loads(built["cost/cost.json"])
    sizing = " ".join((REPO / "guides" / "sizing.md").read_text().split())
    assert f"needs at most {cost['storage']['peak_disk_bytes'] // 1024**3} GiB of homes" in sizing
    assert f"pays {cost['storage']['total_cost']:.2f} USD for them" in sizing
    per_student = {c["id"]: c["storage_cost_per_student"] for c in cost["courses"]}
    assert f"about {per_student['data-c8-fa26']:.2f} USD per student" in sizing
    assert "Home directories (cloud-disk" in catalogue["sizing.md"].decode()


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_site_family_builds_the_catalogue_deterministically(example_manifest, tmp_path):
    from coursehub.build import build

    first, _ = build(example_manifest, tmp_path / "a", only=["site"])
    assert all(k.startswith("site/") for k in first.files)
    assert (tmp_path / "a/site/index.md").is_file()
    assert (tmp_path / "a/site/data-c8-fa26/qr/lab01.svg").read_bytes().startswith(b"<svg")
    # A second, independent render (the one the guide site uses: one home for the catalogue) gives the
    # same bytes, file for file.
    docs = docs_files(example_manifest)
    catalogue = {"site/" + k.removeprefix("catalogue/"): v for k, v in docs.items() if k.startswith("catalogue/")}
    assert catalogue == first.files


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_site_family_reuses_files_rendered_earlier_in_the_same_build(example_manifest):
    ctx = render(example_manifest, only=["links", "cost", "site"])
    assert ctx.files["site/data-c8-fa26/qr/lab01.svg"] == ctx.files["links/data-c8-fa26/qr/lab01.svg"]


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_catalogue_nav_lists_every_course_in_the_built_site(site, example_manifest):
    home = (site / "index.html").read_text(encoding="utf-8")
    for course in example_manifest.courses:
        assert f'href="catalogue/{course.id}/"' in home
        assert course.title in home


@pytest.mark.slow  # builds the site or renders the links and cost families
def test_catalogue_follows_the_manifest(example_manifest):
    """A course added to the manifest gets its page: nothing about the example is hard-coded."""
    data = example_manifest.model_dump(mode="json", exclude_defaults=True)
    extra = dict(data["courses"][0], id="data-c8-sp27", title="Foundations of <Data> Science & more, spring")
    extra["term"] = {"start": "2027-01-20", "end": "2027-05-15"}
    extra["students"] = ["new-student"]
    data["courses"].append(extra)
    changed = Manifest.model_validate(data)
    changed._source = example_manifest.source
    files = catalogue_files(changed)
    # Manifest text is shown as written: angle brackets are not swallowed as HTML tags.
    shown = "Foundations of &lt;Data&gt; Science &amp; more, spring"
    assert f"[{shown}](data-c8-sp27/index.md)" in files["index.md"].decode()
    page = files["data-c8-sp27/index.md"].decode()
    # the front matter gives mkdocs the title it writes, unescaped, into <title>
    assert page.startswith(f'---\ntitle: "{shown}"\n---\n\n# {shown}\n')
    assert "data-c8-sp27/qr/lab01.svg" in files


def test_grader_matrix_covers_every_option_and_question():
    """The decision matrix compares the options the issue names, on every question it names."""
    page = (REPO / "guides" / "choosing-a-grader.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[1:] == [
        "otter-grader", "nbgrader", "Gradescope", "PrairieLearn", "GitHub Classroom", "CodeGrade", "PyBryt", "no grader"
    ]
    criteria = {line.split("|")[1].strip().strip("*"): line for line in rows[1:] if line.startswith("| **")}
    for question in [
        "Hosting", "LMS integration", "Hidden tests", "Partial credit", "Manual grading", "Python / R", "Scale",
        "Cost per student", "Student privacy", "Sandboxing", "In-notebook checks for students", "Authoring effort",
        "Maintenance",
    ]:
        assert question in criteria, question
        cells = [c.strip() for c in criteria[question].strip().strip("|").split("|")]
        assert len(cells) == len(header) and all(cells), f"{question}: a cell is missing"
    assert "If this, choose that" in page


def test_access_reference_is_generated_from_the_roles(example_manifest):
    from coursehub.access.groups import course_group_members
    from coursehub.access.roles import SYNC_APPLY_SCOPES, SYNC_PLAN_SCOPES, staff_roles

    page = access_reference(example_manifest)
    for course in example_manifest.courses:
        for group in course_group_members(course):
            assert f"| {md_code(course.id)} | {md_code(group)} |" in page
    for role in staff_roles(example_manifest.courses[0]):
        row = next(line for line in page.splitlines() if line.startswith(f"| {md_code(role['name'])} |"))
        assert all(md_code(scope) in row for scope in role["scopes"])
    sync = _section(page, "The sync service")
    assert all(f"`{s}`" in sync for s in SYNC_PLAN_SCOPES + SYNC_APPLY_SCOPES)


@pytest.mark.slow
def test_a_bad_catalogue_manifest_fails_the_build_with_its_location(tmp_path):
    """Pointing the site at a broken manifest stops the build with coursehub's located message."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for folder in ("guides", "guides_gen"):
        shutil.copytree(REPO / folder, copy / folder)
    (copy / "bad.yaml").write_text("hub: {name: x, url: https://hub.example.edu, image: nope}\nimages: {}\n")
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    (copy / "mkdocs.yml").write_text(config.replace(
        "coursehub_manifest: course-templates/example-university/manifest.yaml", "coursehub_manifest: bad.yaml"
    ), encoding="utf-8")
    result = mkdocs_build(copy / "mkdocs.yml", tmp_path / "out")
    assert result.returncode != 0
    assert "coursehub could not build the catalogue from" in result.stderr
    assert "bad.yaml:1:" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_student_screenshots_are_committed_pngs_shown_in_the_guide():
    """The pictures of what a student sees come from scripts/screenshots (a real hub, headless Chromium)."""
    import struct

    page = (REPO / "guides" / "nbgitpuller.md").read_text(encoding="utf-8")
    for name in ("pull.png", "assignment.png"):
        png = REPO / "guides" / "assets" / "screenshots" / name
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (1280, 760), name  # the viewport guides_gen/screenshots.py uses
        assert f"](assets/screenshots/{name})" in page
    script = (REPO / "scripts" / "screenshots").read_text(encoding="utf-8")
    assert "guides_gen/screenshots.py" in script


@pytest.mark.slow
def test_a_large_catalogue_is_grouped_and_each_page_renders_only_its_group(tmp_path):
    """Past NAV_GROUP courses the navigation comes in groups and is pruned: a flat list on every page made
    the build quadratic (a 1,000-course catalogue took minutes). Every course is still in the navigation."""
    from coursehub.sitegen.catalogue import NAV_GROUP

    copy = tmp_path / "repo"
    copy.mkdir()
    for folder in ("guides", "guides_gen"):
        shutil.copytree(REPO / folder, copy / folder)
    n = NAV_GROUP + 12
    courses = "".join(
        f"  - {{id: c{i:03d}, title: Course {i}, term: {{start: 2026-08-26, end: 2026-12-18}}, students: [s{i}]}}\n"
        for i in range(n)
    )
    (copy / "big.yaml").write_text(
        "hub: {name: big, url: https://hub.example.edu, image: d}\nimages: {d: {standard: data8}}\ncourses:\n" + courses
    )
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    (copy / "mkdocs.yml").write_text(config.replace(
        "coursehub_manifest: course-templates/example-university/manifest.yaml", "coursehub_manifest: big.yaml"
    ), encoding="utf-8")
    out = tmp_path / "out"
    result = mkdocs_build(copy / "mkdocs.yml", out)
    assert result.returncode == 0, result.stderr[-4000:]
    first_group = (out / "catalogue" / "groups" / "1" / "index.html").read_text()
    second = (out / "catalogue" / "c051" / "index.html").read_text()
    # each page links the courses of its own group, not the other group's (pruned); the first course of a
    # group is one of them (a group opens on its own list, which Material makes the group's page)
    assert 'href="../../c000/"' in first_group and 'href="../../c049/"' in first_group
    assert "c050/" not in first_group.split('class="md-content"')[0]
    assert "Course 50" in second and 'href="../c061/"' in second and 'href="../c001/"' not in second
    # every course page exists and the group pages list them
    assert all((out / "catalogue" / f"c{i:03d}" / "index.html").exists() for i in range(n))
    assert "c050 to c061" in second


def test_group_pages_show_a_hostile_title_as_written():
    """A group page of a large catalogue writes course titles through the Markdown escaping, as every page does."""
    from coursehub.manifest import Course
    from coursehub.sitegen.catalogue import group_page

    course = Course.model_validate({"id": "c1", "title": "Evil](javascript:alert(1)) | <b>x</b>", "term": {"start": "2026-08-26", "end": "2026-12-18"}})
    page = group_page([course])
    import re

    assert not re.search(r"(?<!\\)\]\(javascript", page) and "<b>" not in page and "(../../c1/index.md)" in page
