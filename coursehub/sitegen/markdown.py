"""Small Markdown helpers for the reference pages, whose text is coursehub's own (help, field descriptions).

That text is Markdown on purpose (`code` in backticks), so it is kept as Markdown. Text from a manifest is
never passed here: it goes through :mod:`coursehub.escape`, which shows it exactly as written.
"""

from __future__ import annotations

import html


def cell(text: object) -> str:
    """Text for one Markdown table cell: pipes escaped, on one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def prose(text: object) -> str:
    """Help or description text as Markdown: ``<student>`` is shown, not taken for an HTML tag."""
    return html.escape(str(text), quote=False)
