"""coursehub.escape: one escaping rule per output format, checked by rendering with the real renderers.

Markdown output is rendered with Python-Markdown and the guide site's extensions (what mkdocs runs) and
with markdown-it (CommonMark with tables, what GitHub-style renderers do) and must show the text exactly
as written, as text: no element, link, attribute or table cell the text did not ask for. The browser
proof for whole pages is ``test_hostile_output.py``.
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import markdown as python_markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.escape import csv_cell, csv_value, html, html_url, markdown, markdown_code, markdown_code_block, markdown_url, page_title

#: The guide site's Markdown extensions (mkdocs.yml), so attr_list, md_in_html, footnotes, admonitions and
#: definition lists each get their chance to read the text as markup.
SITE_EXTENSIONS = ["tables", "attr_list", "md_in_html", "footnotes", "admonition", "def_list", "pymdownx.superfences"]
COMMONMARK = MarkdownIt("commonmark", {"html": True}).enable("table")

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![i](x onerror=alert(1))",
    "# heading {: onclick=alert(1) }",
    "Title {: .x onclick=alert(1) }",
    "a | b | c",
    "`code` and ``more``",
    "**bold** _em_ ~~del~~",
    "&lt;b&gt; &amp; &#60;",
    "&#0 &#65 x&#x41 (no semicolons)",
    "!!! warning",
    "??? note",
    "=== tab",
    ": definition",
    "1. not a list",
    "2026) not a list",
    "- not a list",
    "+ not a list",
    "> not a quote",
    "[^1] not a footnote",
    "<https://autolink.example>",
    "trailing backslash \\",
    "Statistics (R)",
    "Lab 1: Tables",
]


class _Text(HTMLParser):
    """The text of an HTML fragment and every element in it."""

    def __init__(self):
        super().__init__()
        self.text, self.tags = "", []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text += data


def _parse(fragment: str) -> _Text:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return parser


def _renders(md: str) -> dict[str, str]:
    return {
        "python-markdown": python_markdown.markdown(md, extensions=SITE_EXTENSIONS),
        "commonmark": COMMONMARK.render(md),
    }


def _shown(text: str) -> str:
    return " ".join(text.split())


def _in_a_table(cell: str, then: str = "") -> dict[str, tuple[str, list[str], _Text]]:
    """``cell`` as the first of two cells of a table row (then ``then``), by renderer: (HTML, tag names, parse)."""
    results = {}
    for renderer, out in _renders(f"| a | b |\n|---|---|\n| {cell} | after |\n{then}").items():
        parsed = _parse(out)
        results[renderer] = (out, [t for t, _ in parsed.tags], parsed)
    return results


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_is_shown_as_written_in_a_paragraph(text):
    for renderer, out in _renders(markdown(text)).items():
        parsed = _parse(out)
        assert [t for t, _ in parsed.tags] == ["p"], (renderer, out)
        assert parsed.text.strip() == _shown(text), (renderer, out)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_stays_in_its_table_cell_and_heading(text):
    for renderer, (out, tags, parsed) in _in_a_table(markdown(text), f"\n# {markdown(text)}\n").items():
        assert tags.count("td") == 2 and tags.count("h1") == 1, (renderer, out)
        assert set(tags) <= {"table", "thead", "tbody", "tr", "th", "td", "h1"}, (renderer, out)
        assert not any(attrs for tag, attrs in parsed.tags if tag != "h1"), (renderer, out)
        assert _shown(text) + "after" in parsed.text.replace("\n", ""), (renderer, out)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_code_is_one_code_element_even_in_a_table(text):
    for renderer, (out, tags, parsed) in _in_a_table(markdown_code(text)).items():
        assert tags.count("td") == 2 and tags.count("code") == 1, (renderer, out)
        assert _shown(text) in parsed.text, (renderer, out)


# Printable text without control characters (the manifest model refuses those in titles).
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_markdown_round_trips_any_text(text):
    for renderer, out in _renders(markdown(text)).items():
        parsed = _parse(out)
        assert {t for t, _ in parsed.tags} <= {"p"}, (renderer, out)
        assert parsed.text.strip() == _shown(text).strip(), (renderer, out)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_markdown_code_round_trips_any_text_in_a_table_cell(text):
    for renderer, (out, tags, _) in _in_a_table(markdown_code(text)).items():
        assert tags.count("td") == 2 and set(tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}, (renderer, out)
        cells = out.split("<td>")[1:]
        assert _parse(cells[0].split("</td>")[0]).text.strip() == _shown(text).strip(), (renderer, out)


def test_ordinary_text_is_written_unchanged():
    for text in ("Lab 1: Tables", "Homework 1: Causality and expressions", "Statistics (R)", "2026-08-26 to 2026-12-18"):
        assert markdown(text) == text
    # code reads as code in the raw file too
    assert markdown_code("https://hub.example.edu/hub/lti13/oauth_callback") == "`https://hub.example.edu/hub/lti13/oauth_callback`"
    assert markdown_code("a `b` c") == "``a `b` c``" and markdown_code("`x") == "`` `x ``"


def test_markdown_code_block_cannot_be_closed_by_its_text():
    text = "a ``` b ```` c"
    block = markdown_code_block(text)
    for renderer, out in {"python-markdown": python_markdown.markdown(block, extensions=SITE_EXTENSIONS),
                          "commonmark": COMMONMARK.render(block)}.items():
        parsed = _parse(out)
        tags = [t for t, _ in parsed.tags]
        assert tags.count("pre") == 1 and tags.count("code") == 1 and set(tags) <= {"div", "pre", "span", "code"}, out
        assert parsed.text.strip() == text, (renderer, out)


@pytest.mark.parametrize("url", [
    "https://hub.example.edu/p'](javascript:alert(1))/hub/user-redirect/git-pull?repo=x&branch=main",
    "https://hub.example.edu/a|b/<c>/\"d\"/(e)/`f`/[g]",
    "http://127.0.0.1:8000/hub/user-redirect/git-pull?repo=https%3A%2F%2Fexample.org%2Fr",
])
def test_markdown_url_keeps_the_link_whole(url):
    for renderer, (out, tags, parsed) in _in_a_table(f"[open]({markdown_url(url)})").items():
        links = [dict(attrs)["href"] for tag, attrs in parsed.tags if tag == "a"]
        assert len(links) == 1 and tags.count("td") == 2, (renderer, out)
        assert links[0].startswith(url.split("/", 3)[0] + "//") and "javascript:" not in links[0].split("/", 3)[2]
    plain = "http://127.0.0.1:8000/hub/user-redirect/git-pull?repo=https%3A%2F%2Fexample.org%2Fr&branch=main"
    assert markdown_url(plain) == plain  # an ordinary link is written unchanged


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,x",
                                 "vbscript:x", "//evil.example", "https://", "https://a b", "\x01https://x", "ftp://x"])
def test_urls_that_are_not_web_links_are_refused(url):
    with pytest.raises(CoursehubError):
        markdown_url(url)
    with pytest.raises(CoursehubError):
        html_url(url)


def test_html_escapes_text_and_attributes():
    assert html('<a href="x" onclick=\'y\'>&') == "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;"
    assert html_url("https://h/?a=1&b='x'") == "https://h/?a=1&amp;b=&#x27;x&#x27;"
    # mkdocs writes page titles as HTML (nav, <title>, search): the title is escaped and on one line
    assert page_title("<script>\nalert(1)</script>") == "&lt;script&gt; alert(1)&lt;/script&gt;"


@pytest.mark.parametrize("cell,written", [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("Lab 1: Tables", "Lab 1: Tables"),
    ("a=b", "a=b"),
    ("-1.5", "-1.5"),  # a negative score stays a number
    ("+3", "+3"),
    ("1e-3", "1e-3"),
    (-2, -2),
    ("", ""),
    ("'=1", "''=1"),  # so that reading it back gives "'=1", not "=1"
    ("'plain", "'plain"),
])
def test_csv_cell_follows_owasp(cell, written):
    assert csv_cell(cell) == written
    if isinstance(cell, str):
        assert csv_value(written) == cell


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("'=+-@\t\r1.a "), max_size=8))
def test_csv_value_reads_back_what_csv_cell_was_given(text):
    written = csv_cell(text)
    assert csv_value(written) == text
    assert not written.startswith(("=", "+", "-", "@", "\t", "\r")) or csv_cell(text) == text and _is_number(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_every_csv_coursehub_writes_goes_through_the_rule():
    data = emit.to_csv(["=header", "b"], [["=1+2", "@x"], ["-1", "plain"]])
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows == [["'=header", "b"], ["'=1+2", "'@x"], ["-1", "plain"]]
