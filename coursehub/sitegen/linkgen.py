"""The link generator page's rules, exported from the link builder so the browser never keeps its own copy.

``guides/assets/linkgen/links.js`` ports :func:`coursehub.links.build_link` to JavaScript; the constants it
needs (the interfaces, the URL path each opens, retired interfaces and why, launches and their aliases, the
repository schemes, VS Code's home folder, the named-server rule and what Python's ``str.strip`` treats as
whitespace) are written by the site build from the Python modules, so adding an interface or a scheme, or
changing the server name rule, changes the page too. The browser test compares the two on every input.
"""

from __future__ import annotations

import functools
import json
import re
import sys

from coursehub.links import url as _url
from coursehub.links.url import INTERFACES, LAUNCH_ALIASES, LAUNCHES, REPO_SCHEMES, VSCODE_HOME
from coursehub.manifest import models as _models
from coursehub.manifest import usernames as _usernames

#: Where the rules land in the guide site (beside links.js and page.js).
RULES_PATH = "assets/linkgen/rules.js"

# The named-server rule and the retired interfaces are moving (the server name rule to
# coursehub.manifest.usernames, retired interfaces to the manifest model); read them from wherever they
# live so the page follows without an edit to links.js. The fallbacks are today's values.
_SERVER_NAME_RE: re.Pattern = getattr(_usernames, "_SERVER_NAME_RE", None) or _url._SERVER_NAME_RE
_SERVER_NAME_RULE: str = getattr(
    _usernames,
    "SERVER_NAME_RULE",
    "1-30 lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit",
)
_RETIRED_INTERFACES: dict[str, str] = getattr(_models, "RETIRED_INTERFACES", {})


@functools.cache
def _python_whitespace() -> str:
    # str.strip() and str.isspace() use Unicode's White_Space-like set, which JavaScript's \s does not match
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def _js_full_match(pattern: re.Pattern) -> str:
    """A Python pattern used with ``.match`` and ending in ``\\Z``, as the JavaScript source of a regex
    that tests the whole string. Only that shape is translated: anything else stops the site build rather
    than give the page a rule that reads differently in JavaScript."""
    source = pattern.pattern
    body = source[: -len(r"\Z")]
    if not source.endswith(r"\Z") or pattern.flags & ~re.UNICODE or re.search(r"\\[AZ]|\$|\(\?P|\(\?[a-zA-Z]", body):
        raise ValueError(f"cannot carry the pattern {source!r} to JavaScript unchanged; translate it in linkgen.py")
    return f"^(?:{body})$"


def link_rules() -> dict:
    """The constants links.js needs, as plain JSON data."""
    return {
        "interfaces": list(INTERFACES),
        "interface_paths": {name: _models.INTERFACE_PATHS[name] for name in INTERFACES},
        "retired_interfaces": dict(_RETIRED_INTERFACES),
        "launches": list(LAUNCHES),
        "launch_aliases": dict(LAUNCH_ALIASES),
        "repo_schemes": list(REPO_SCHEMES),
        "server_name_pattern": _js_full_match(_SERVER_NAME_RE),
        "server_name_rule": _SERVER_NAME_RULE,
        "vscode_home": VSCODE_HOME,
        "whitespace": _python_whitespace(),
    }


def rules_js() -> bytes:
    """``rules.js``: the rules as a global the page's scripts read (ASCII-only JSON, so no encoding surprises)."""
    data = json.dumps(link_rules(), sort_keys=True, ensure_ascii=True)
    return f"// Generated from coursehub.links.url by the site build; do not edit.\nwindow.COURSEHUB_LINK_RULES = {data};\n".encode()
