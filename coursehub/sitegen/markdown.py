"""Small Markdown helpers shared by the generated pages."""

from __future__ import annotations

import html


def cell(text: object) -> str:
    """Text for one Markdown table cell: pipes escaped, on one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def prose(text: object) -> str:
    """Help, description or manifest text as Markdown: ``<student>`` is shown, not taken for an HTML tag."""
    return html.escape(str(text), quote=False)
