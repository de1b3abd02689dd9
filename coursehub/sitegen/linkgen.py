"""The link generator page's rules, exported from the link builder so the browser never keeps its own copy.

``guides/assets/linkgen/links.js`` ports :func:`coursehub.links.build_link` to JavaScript; the constants it
needs (the interfaces, launches and their aliases, the repository schemes, VS Code's home folder and what
Python's ``str.strip`` treats as whitespace) are written by the site build from the Python module, so adding
an interface or a scheme here changes the page too. The browser test compares the two on every input.
"""

from __future__ import annotations

import functools
import json
import sys

from coursehub.links.url import INTERFACES, LAUNCH_ALIASES, LAUNCHES, REPO_SCHEMES, VSCODE_HOME

#: Where the rules land in the guide site (beside links.js and page.js).
RULES_PATH = "assets/linkgen/rules.js"


@functools.cache
def _python_whitespace() -> str:
    # str.strip() and str.isspace() use Unicode's White_Space-like set, which JavaScript's \s does not match
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def link_rules() -> dict:
    """The constants links.js needs, as plain JSON data."""
    return {
        "interfaces": list(INTERFACES),
        "launches": list(LAUNCHES),
        "launch_aliases": dict(LAUNCH_ALIASES),
        "repo_schemes": list(REPO_SCHEMES),
        "vscode_home": VSCODE_HOME,
        "whitespace": _python_whitespace(),
    }


def rules_js() -> bytes:
    """``rules.js``: the rules as a global the page's scripts read (ASCII-only JSON, so no encoding surprises)."""
    data = json.dumps(link_rules(), sort_keys=True, ensure_ascii=True)
    return f"// Generated from coursehub.links.url by the site build; do not edit.\nwindow.COURSEHUB_LINK_RULES = {data};\n".encode()
