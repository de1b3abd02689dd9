"""Escaping for every output format coursehub writes: one function per format, used by every writer.

Manifest text is hostile (a title, a URL or a path may hold HTML, script, Markdown or a spreadsheet
formula), so it is escaped where it *leaves* coursehub, for the format it lands in; it is never
"cleaned" on the way in. The terminal is the fourth format: manifest text is printed by rich with
``markup=False`` (see :mod:`coursehub.commands._shared`).

- HTML (the printable link pages): :func:`html` for text and attribute values, :func:`html_url` for
  an ``href``.
- Markdown that becomes HTML (the guide site through mkdocs, ``links.md`` on GitHub): :func:`markdown`
  for text, :func:`markdown_code` for text shown as code (:func:`markdown_code_block` for a block),
  :func:`markdown_url` for a link target.
  Markdown syntax is written as character references (``&#91;`` for ``[``), which every Markdown
  renderer passes through as text, so nothing a manifest says can open a tag, a link, an attribute
  list (``{: onclick=...}``) or a table cell. :func:`page_title` is the one value mkdocs reads as HTML
  outside the Markdown (navigation, ``<title>``, the search index).
- CSV: :func:`csv_cell`, OWASP's CSV-injection rule, applied to every cell by :func:`coursehub.emit.to_csv`;
  :func:`csv_value` undoes it for coursehub's own readers of those files.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any
from urllib.parse import quote

from coursehub.errors import CoursehubError

__all__ = ["csv_cell", "csv_value", "html", "html_url", "markdown", "markdown_code", "markdown_code_block", "markdown_url", "page_title"]

# Characters that mean something to Markdown or one of the site's extensions (attr_list's "{:",
# footnotes' "[^", tables' "|", emphasis, strikethrough, links, images, code spans, HTML and entities).
# A backslash escape where Python-Markdown and CommonMark both honour one (it reads better in a raw
# file), a character reference otherwise; "&<>\"'" are html.escape's. "|" is a reference, never "\|":
# a table cell is split on every "|" before escapes are read. Parentheses stay: they only make a link
# after a "]", and "]" is always escaped.
_MARKDOWN_SPECIAL = {**{ch: "\\" + ch for ch in "\\`*_{}[]"}, **{ch: f"&#{ord(ch)};" for ch in "|~^"}}
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN_SPECIAL)
# At the start of a line these open a block (heading, list, quote, admonition "!!!", details "???",
# tabs "===", definition ":", setext rule), so a text's first character is referenced too if it is one.
_LINE_START = set("#+-=!?:.")
_ORDERED_LIST = re.compile(r"^(\d+)([.)])")
# What a link target may keep as written; everything else (quotes, brackets, parentheses, spaces,
# "|", "\", "<", ">", non-ASCII) is percent-encoded, so it can close neither the target nor a cell.
_URL_SAFE = "-._~:/?#@!$&+,;=%"
_WEB_URL = re.compile(r"https?://[^\x00-\x20\x7f]+\Z", re.IGNORECASE)
# OWASP "CSV Injection": a cell starting with one of these is run as a formula by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def html(text: object) -> str:
    """Text for an HTML element or a quoted attribute value: ``& < > " '`` as character references."""
    return _html.escape(str(text), quote=True)


def _web_url(url: str) -> str:
    # javascript:, data:, vbscript: and friends run script when clicked; only web links are written.
    if not _WEB_URL.match(url):
        raise CoursehubError(f"refusing to write the link {url!r}: only http:// and https:// URLs are written into pages")
    return url


def html_url(url: str) -> str:
    """An ``href`` value: an http(s) URL (anything else is refused), escaped for a quoted attribute."""
    return html(_web_url(url))


def markdown(text: object) -> str:
    """Text for Markdown rendered to HTML, on one line: shown exactly as written, never read as markup.

    Usable anywhere inline text goes (a paragraph, a heading, a table cell, a link's text).
    """
    line = _one_line(text)
    out = _html.escape(line, quote=True).translate(_MARKDOWN_TABLE)
    numbered = _ORDERED_LIST.match(out)
    if numbered:  # "2026. Course" must not start an ordered list
        return numbered[1] + f"&#{ord(numbered[2])};" + out[numbered.end():]
    if out and out[0] in _LINE_START:
        return f"&#{ord(out[0])};" + out[1:]
    return out


def markdown_code(text: object) -> str:
    """Text shown as inline code in Markdown rendered to HTML, on one line.

    A backtick code span (nothing inside one is markup) whose fence is longer than any run of backticks
    in the text, so the text cannot end it. Text holding a "|" becomes a ``<code>`` element around
    :func:`markdown` text instead: GitHub splits a table cell on "|" even inside backticks, which would
    turn the rest of the span into live Markdown. So does text holding "&#" (Python-Markdown adds a ";"
    to a numeric reference inside a code span, changing the text).
    """
    line = _one_line(text)
    if not line:
        return ""
    if "|" in line or "&#" in line:
        return f"<code>{markdown(line)}</code>"
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""  # renderers strip one space each side
    return f"{fence}{pad}{line}{pad}{fence}"


def markdown_code_block(text: str, language: str = "text") -> str:
    """A fenced code block showing ``text`` as written (the renderer escapes a block's content).

    The fence is longer than any run of backticks in the text, so no line of it can close the block.
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def markdown_url(url: str) -> str:
    """A Markdown link target ``[text](<this>)``: an http(s) URL (anything else is refused), with
    every character that could end the target or a table cell percent-encoded."""
    return quote(_web_url(url), safe=_URL_SAFE)


def page_title(text: object) -> str:
    """A title mkdocs shows in the navigation, the page's ``<title>`` and the search results.

    mkdocs (autoescape off) and Material insert titles as HTML, so the title is HTML-escaped.
    """
    return html(_one_line(text))


def csv_cell(value: Any) -> Any:
    """One CSV cell, safe to open in a spreadsheet (OWASP's CSV-injection rule).

    Text starting with ``= + - @``, a tab or a carriage return gets a leading ``'``, which spreadsheets
    show as text instead of running a formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``). Numbers,
    and text that is just a number (a negative score), are left alone: a spreadsheet reads them as
    numbers either way.
    """
    if isinstance(value, str) and _formula_after_quotes(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_value(cell: str) -> str:
    """The text :func:`csv_cell` was given, from the cell it wrote (a reader's inverse)."""
    return cell[1:] if cell.startswith("'") and _formula_after_quotes(cell) else cell


def _formula_after_quotes(text: str) -> bool:
    # Text already starting with quotes and then a formula starter gets one more quote, so that
    # csv_value can always take exactly one off: "'=x" is written "''=x" and read back as "'=x".
    return text.lstrip("'").startswith(_FORMULA_START)
