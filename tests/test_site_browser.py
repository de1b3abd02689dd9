"""The built guide site in a real browser, with no network: headless Chromium (Debian's, through Playwright)
against the site built with ``mkdocs build --strict`` and served on 127.0.0.1; every request to any other
host is blocked and recorded.

What a reader on a campus network that blocks CDNs (or on a train) sees: the diagrams render as SVG from
the Mermaid copy the site ships, the grader matrix's last column is on screen at 1280 px, wide tables keep
their first column in view, and no page asks another host for anything. Screenshots are kept under
``test-output/guides/`` for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guide_site import build_site, offline_browser, serve

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "guides"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("browser-site") / "site")


@pytest.fixture(scope="module")
def browser(site):
    """(context, base URL, requests the local server answered, external URLs the browser tried)."""
    with serve(site) as (base, requests), offline_browser(base, viewport={"width": 1280, "height": 1000}) as (ctx, blocked):
        yield ctx, base, requests, blocked


def _page_url(site: Path, html: Path) -> str:
    rel = html.relative_to(site).as_posix()
    return "/" + (rel.removesuffix("index.html") if rel.endswith("index.html") else rel)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_home_page_renders_with_navigation(browser):
    ctx, base, requests, _ = browser
    page = ctx.new_page()
    page.goto(f"{base}/")
    assert page.title().startswith("coursehub guides")
    nav = page.eval_on_selector_all("nav.md-nav a[href]", "els => els.map(e => e.getAttribute('href'))")
    for target in ("getting-started/", "nbgitpuller/", "link-generator/", "choosing-a-grader/", "catalogue/", "reference/manifest/"):
        assert any(href.rstrip("/").endswith(target.rstrip("/")) for href in nav), target
    page.wait_for_function("() => document.querySelector('.mermaid') && document.querySelector('.mermaid').shadowRoot")
    _shot(page, "home.png")
    # Material's JavaScript ran in the browser: its search worker fetched the index.
    page.wait_for_timeout(500)
    assert (200, "/search/search_index.json") in requests
    assert (200, "/assets/coursehub.css") in requests


def test_every_diagram_renders_as_svg_offline(browser, site):
    ctx, base, requests, blocked = browser
    pages = [html for html in sorted(site.rglob("*.html")) if 'class="mermaid"' in html.read_text(encoding="utf-8")]
    names = {_page_url(site, p) for p in pages}
    assert {"/", "/nbgitpuller/", "/authoring/", "/choosing-a-grader/"} <= names
    page = ctx.new_page()
    for html in pages:
        url = _page_url(site, html)
        page.goto(base + url)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.mermaid')).every(e => e.shadowRoot && e.shadowRoot.querySelector('svg g'))",
            timeout=20_000,
        )
        labels = page.evaluate("() => Array.from(document.querySelectorAll('.mermaid')).map(e => e.shadowRoot.querySelector('svg').textContent)")
        assert all(len(text) > 20 for text in labels), (url, labels)
        # no diagram is left as Mermaid source text on the page
        assert not page.evaluate("() => Array.from(document.querySelectorAll('pre.mermaid, code.mermaid')).length")
        assert (200, "/assets/vendor/mermaid.min.js") in requests
    page.goto(f"{base}/choosing-a-grader/")
    page.wait_for_function("() => document.querySelector('.mermaid').shadowRoot")
    label = page.evaluate("() => document.querySelector('.mermaid').shadowRoot.querySelector('svg').textContent")
    assert "otter-grader" in label and "PrairieLearn" in label  # the grader decision flowchart
    assert not blocked


def test_grader_matrix_last_column_is_visible_at_1280(browser):
    ctx, base, _, _ = browser
    page = ctx.new_page()
    page.goto(f"{base}/choosing-a-grader/")
    box = page.evaluate("""() => {
      const table = document.querySelector('.md-typeset table');
      const wrap = table.closest('.md-typeset__scrollwrap') || table.parentElement;
      const head = Array.from(table.querySelectorAll('thead th'));
      const last = head[head.length - 1].getBoundingClientRect();
      const w = wrap.getBoundingClientRect();
      return {header: head.map(h => h.textContent.trim()), lastRight: last.right, lastLeft: last.left, wrapRight: w.right,
              viewport: window.innerWidth, scroll: wrap.scrollWidth, client: wrap.clientWidth};
    }""")
    assert box["header"][-1] == "no grader" and len(box["header"]) == 9
    assert box["viewport"] == 1280
    assert box["lastRight"] <= min(box["wrapRight"], box["viewport"]) + 1, box
    assert box["scroll"] <= box["client"] + 1, "the matrix needs sideways scrolling at 1280 px"
    page.locator(".md-typeset table").first.scroll_into_view_if_needed()
    _shot(page, "choosing-a-grader.png")


def test_wide_tables_keep_their_first_column_in_view(browser):
    ctx, base, _, _ = browser
    page = ctx.new_page()
    page.set_viewport_size({"width": 900, "height": 900})  # narrow enough that the catalogue table scrolls
    page.goto(f"{base}/catalogue/")
    moved = page.evaluate("""() => {
      const table = document.querySelector('.md-typeset table');
      const wrap = table.closest('.md-typeset__scrollwrap');
      const first = table.querySelector('tbody td');
      const before = first.getBoundingClientRect().left;
      wrap.scrollLeft = 10000;
      return {scrolled: wrap.scrollLeft, before, after: first.getBoundingClientRect().left,
              wrapLeft: wrap.getBoundingClientRect().left, position: getComputedStyle(first).position};
    }""")
    assert moved["scrolled"] > 0, "the table did not need to scroll at 900 px; make the viewport narrower"
    assert moved["position"] == "sticky"
    assert abs(moved["after"] - moved["wrapLeft"]) <= 2, moved


def test_no_page_requests_anything_from_another_host(browser, site):
    ctx, base, requests, blocked = browser
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    page = ctx.new_page()
    for html in pages:
        page.goto(base + _page_url(site, html), wait_until="load")
    page.wait_for_timeout(500)
    assert not blocked, f"pages asked other hosts for: {sorted(set(blocked))[:10]}"
    assert not [path for status, path in requests if status >= 400 and not path.endswith("404.html")]


def test_course_catalogue_page_shows_qr_codes(browser, example_manifest):
    ctx, base, requests, _ = browser
    course = example_manifest.course("data-c8-fa26")
    page = ctx.new_page()
    page.goto(f"{base}/catalogue/{course.id}/")
    assert page.title().startswith(course.title)
    srcs = page.eval_on_selector_all("img.coursehub-qr", "els => els.map(e => e.getAttribute('src'))")
    assert srcs == [f"qr/{a.id}.svg" for a in course.assignments]
    assert page.evaluate("() => Array.from(document.querySelectorAll('img.coursehub-qr')).every(i => i.complete && i.naturalWidth > 0)")
    for a in course.assignments:
        assert (200, f"/catalogue/{course.id}/qr/{a.id}.svg") in requests
    _shot(page, "catalogue-data-c8-fa26.png")


def test_wrapped_link_has_no_copy_button_and_the_copyable_one_is_a_working_link(browser, example_manifest):
    """The nbgitpuller page shows the example link once whole (with Material's copy button) and once
    wrapped for reading (without one, since copying it would give a broken URL)."""
    from coursehub.access.groups import server_name
    from coursehub.links import build_link, parse_link

    ctx, base, _, _ = browser
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = ctx.new_page()
    page.goto(f"{base}/nbgitpuller/")
    page.wait_for_selector('[data-md-type="copy"]')
    blocks = page.evaluate("""() => Array.from(document.querySelectorAll('.md-typeset pre')).map(pre => ({
      id: pre.id, text: pre.querySelector('code').innerText, copy: Boolean(pre.querySelector('[data-md-type="copy"]'))}))""")
    links = [b for b in blocks if "hub/user-redirect/" in b["text"] and "/git-pull" in b["text"]]
    whole = [b for b in links if "\n" not in b["text"].strip()]
    wrapped = [b for b in links if "\n" in b["text"].strip()]
    assert whole and wrapped
    assert all(b["copy"] for b in whole) and not any(b["copy"] for b in wrapped)
    # Material's copy button on the whole link puts a link on the clipboard that opens the example's lab
    # on data-c8's own course server.
    page.click(f'#{whole[0]["id"]} [data-md-type="copy"]')
    page.wait_for_timeout(300)
    copied = page.evaluate("navigator.clipboard.readText()").strip()
    c8 = example_manifest.course("data-c8-fa26")
    expected = build_link(hub=example_manifest.hub.url, repo=c8.content.repo, branch=c8.content.branch,
                          path=c8.assignments[0].path, interface="lab", server=server_name(c8.id))
    assert parse_link(copied) == expected.fields
