"""Hostile manifest text through every output coursehub writes, proved in headless Chromium.

``tests/fixtures/hostile-site/manifest.yaml`` puts script, HTML, ``javascript:`` links and Markdown link
injection in every free-text field the manifest model accepts (titles, the hub URL, the repository URL,
branch, target path, assignment paths, shared-data volume, node type name); each payload sets
``window.__pwned``. From it this module builds, for real:

- the guide site with ``mkdocs build --strict`` (the catalogue, and the navigation and search index of
  every page, carry the course titles);
- the ``links`` family with ``coursehub build``: the printable ``index.html`` pages, ``links.md`` (rendered
  here the way GitHub and mkdocs would, with a CommonMark+tables renderer that passes raw HTML through
  and with Python-Markdown) and ``links.csv``.

Every page is opened in Chromium served from 127.0.0.1, and nothing may run: no dialog, no console message
or page error, ``window.__pwned`` never set, no element with an ``on*`` attribute or a ``javascript:`` URL,
no request for the payloads' ``<img src=x>``. A control page with the payloads written raw proves the
detectors see what they look for. The hostile text must still be shown as written.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import markdown as python_markdown
import pytest
from guide_site import build_site, offline_browser, serve
from markdown_it import MarkdownIt

from coursehub.manifest.loader import load_manifest

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "fixtures" / "hostile-site" / "manifest.yaml"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Runs in the page after it loads: what a successful injection would leave behind.
PROBE = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      const value = a.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(`${el.tagName} ${a.name}=${a.value}`);
      if (/^(javascript|vbscript|data:text\\/html)/.test(value) && /(href|src|action|data)$/.test(name))
        found.push(`${el.tagName} ${a.name}=${a.value}`);
    }
  }
  for (const s of document.querySelectorAll('script'))
    if (s.textContent.includes('__pwned')) found.push('script: ' + s.textContent.slice(0, 80));
  return {pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned), found};
}"""


@pytest.fixture(scope="module")
def hostile():
    manifest, warnings = load_manifest(HOSTILE, strict=True)
    assert not warnings
    return manifest


#: Inline handlers the hand-written guide pages carry on purpose (the link generator's form).
OWN_HANDLERS = {"FORM onsubmit=return false"}
#: The control page with the payloads written raw (never one of the pages checked for a clean result).
CONTROL = "control-raw-payloads.html"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The site (mkdocs, served at the root as published), with ``build/`` (coursehub build) and
    ``rendered/`` (links.md as HTML) added beside its pages."""
    root = build_site(tmp_path_factory.mktemp("hostile-output") / "site", manifest=HOSTILE)
    assert not (root / "build").exists() and not (root / "rendered").exists()
    result = subprocess.run(
        [sys.executable, "-m", "coursehub", "build", str(HOSTILE), "-o", str(root / "build"), "--strict"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    gfm = MarkdownIt("commonmark", {"html": True}).enable("table")
    (root / "rendered").mkdir()
    for md in sorted((root / "build" / "links").rglob("*.md")):
        name = md.relative_to(root / "build" / "links").as_posix().replace("/", "-").removesuffix(".md")
        text = md.read_text(encoding="utf-8")
        for kind, html in (
            ("commonmark", gfm.render(text)),
            ("python-markdown", python_markdown.markdown(text, extensions=["tables", "attr_list", "md_in_html"])),
        ):
            page = f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{html}</body></html>"
            (root / "rendered" / f"{name}.{kind}.html").write_text(page, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def browser(served):
    with serve(served) as (base, requests), offline_browser(base) as (ctx, blocked):
        yield ctx, base, requests, blocked


#: The text of the headings matching a selector, without the permalink mkdocs' toc adds to each.
HEADINGS = """(selector) => Array.from(document.querySelectorAll(selector)).map(h => {
  const copy = h.cloneNode(true);
  copy.querySelectorAll('.headerlink').forEach(a => a.remove());
  return copy.textContent;
})"""


def _visit(ctx, url: str, action=None) -> dict:
    """Open ``url`` (and run ``action(page)``); everything a running payload could have left."""
    page = ctx.new_page()
    events: list[str] = []
    page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: events.append(f"page error: {e}"))
    try:
        page.goto(url, wait_until="load")
        if action is not None:
            action(page)
        page.wait_for_timeout(150)  # an <img onerror> fires once its (failing) request comes back
        probe = page.evaluate(PROBE)
        probe["found"] = [f for f in probe["found"] if f not in OWN_HANDLERS]
        return {"events": events, **probe}
    finally:
        page.close()


def _pages(served: Path) -> list[str]:
    pages = [p for p in sorted(served.rglob("*.html")) if p.name != CONTROL]
    assert any(p.parent == served / "rendered" for p in pages)
    assert any(p.is_relative_to(served / "build" / "links") for p in pages)
    return ["/" + p.relative_to(served).as_posix() for p in pages]


def test_the_detectors_see_a_live_payload(browser, served):
    """A page with the payloads written raw: each detector reports it (so a clean result means something)."""
    ctx, base, requests, _ = browser
    raw = HOSTILE.read_text(encoding="utf-8")
    assert "<script>window.__pwned=2" in raw
    (served / CONTROL).write_text(
        "<!DOCTYPE html><html><body><script>window.__pwned=2;alert('title')</script>"
        "<img src=x onerror=\"window.__pwned=3\"><a href=\"javascript:window.__pwned=10\">x</a></body></html>",
        encoding="utf-8",
    )
    seen = _visit(ctx, f"{base}/{CONTROL}")
    assert seen["pwned"] == "3"
    assert "dialog: title" in seen["events"]
    assert any("onerror" in f for f in seen["found"]) and any("javascript:" in f for f in seen["found"])
    assert (404, "/x") in requests


def test_no_script_runs_on_any_page_built_from_a_hostile_manifest(browser, served):
    ctx, base, requests, blocked = browser
    pages = _pages(served)
    assert len(pages) > 25 and any("/catalogue/c-script/" in p for p in pages)
    assert any(p.endswith("links.commonmark.html") for p in pages)
    before = len(requests)
    problems = {}
    for path in pages:
        seen = _visit(ctx, base + path)
        if seen["events"] or seen["pwned"] is not None or seen["found"]:
            problems[path] = seen
    assert not problems, problems
    # the payloads' <img src=x> was never requested (an escaped tag asks for nothing)
    assert not [r for r in requests[before:] if r[1].rsplit("/", 1)[-1] == "x"]
    assert not blocked, blocked


def test_search_results_for_the_payloads_run_nothing(browser):
    """Material renders search results (titles and text from the index) as HTML in the page."""
    ctx, base, _, _ = browser

    def search(page):
        page.keyboard.press("/")  # Material's shortcut: focus the search box
        page.keyboard.type("script")
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        # the course title is among the results, as text
        assert "<script>window.__pwned=2" in page.inner_text(".md-search-result")

    seen = _visit(ctx, f"{base}/", search)
    assert not seen["events"] and seen["pwned"] is None and not seen["found"], seen


def test_hostile_text_is_shown_as_written(browser, hostile):
    """Escaping changes nothing a reader sees: titles, paths and the hub URL appear character for character."""
    ctx, base, _, _ = browser
    page = ctx.new_page()
    try:
        for course in hostile.courses:
            page.goto(f"{base}/catalogue/{course.id}/")
            assert page.evaluate(HEADINGS, "article h1") == [course.title]
            assert page.title() == f"{course.title} - coursehub guides"
            nav = page.eval_on_selector_all("nav.md-nav a", "els => els.map(e => e.textContent.trim())")
            assert course.title in nav
            body = page.inner_text("article")
            assert hostile.hub.url in body
            for a in course.assignments:
                assert (a.title or a.id) in page.evaluate(HEADINGS, "article h3")
                assert a.path in body
        page.goto(f"{base}/build/links/c-script/index.html")
        assert page.inner_text("h1") == hostile.course("c-script").title
    finally:
        page.close()


def test_links_md_keeps_one_row_per_assignment_with_the_title_in_its_cell(served, hostile):
    """A title full of "|", "[", "`" and HTML neither splits a table cell nor becomes markup, in either renderer."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self._cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self._cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self._cell is not None:
                self.rows[-1].append(self._cell)
                self._cell = None

        def handle_data(self, data):
            if self._cell is not None:
                self._cell += data

    for course in hostile.courses:
        for kind in ("commonmark", "python-markdown"):
            parser = Cells()
            parser.feed((served / "rendered" / f"{course.id}-links.{kind}.html").read_text(encoding="utf-8"))
            body = parser.rows[1:]
            assert [len(r) for r in body] == [4] * len(course.assignments), (kind, parser.rows)
            assert [r[0] for r in body] == [a.title or a.id for a in course.assignments], kind
            assert [r[2].rsplit("/", 1)[-1] for r in body] == [a.path.rsplit("/", 1)[-1] for a in course.assignments]


def test_links_csv_has_no_formula_cells(served, hostile):
    for course in hostile.courses:
        rows = list(csv.reader(io.StringIO((served / "build" / "links" / course.id / "links.csv").read_text(encoding="utf-8"))))
        header, body = rows[0], rows[1:]
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (course.id, cell)
        by_id = {row[header.index("assignment")]: dict(zip(header, row)) for row in body}
        for a in course.assignments:
            title, path = a.title or a.id, a.path
            shown = by_id[a.id]
            assert shown["title"] == ("'" + title if title[0] in "=+-@" else title)
            assert shown["path"] == ("'" + path if path[0] in "=+-@" else path)
    # the fixture really holds formula starters, so the loop above checked something
    starters = [a.title or a.path for c in hostile.courses for a in c.assignments]
    assert {"=", "@"} <= {s[0] for s in starters} and any(a.path.startswith(("-", "+")) for c in hostile.courses for a in c.assignments)

