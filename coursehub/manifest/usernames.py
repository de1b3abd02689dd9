"""Username normalisation and checks, matching what JupyterHub's default Authenticator accepts, and
JupyterHub's rule for the names of named servers.

JupyterHub lowercases names (``Authenticator.normalize_username``) and refuses, in
``Authenticator.validate_username``, an empty name, one containing ``/``, one made only of dots, and
one with leading or trailing spaces. coursehub applies the same rules so a roster never names a user
the hub would refuse, and additionally refuses whitespace and control characters inside a name:
those come from spreadsheet accidents, never from a real login.

The rules themselves live in the hub runtime (:mod:`coursehub.hub.runtime.spawn`, standard library only),
which applies them to usernames from LMS launches inside JupyterHub, where coursehub is not installed:
a roster and a launch therefore always agree on a name.
"""

from __future__ import annotations

import re

from coursehub.hub.runtime.spawn import normalize_username, username_problem

__all__ = ["SERVER_NAME_RULE", "is_server_name", "normalize_username", "username_problem"]

# JupyterHub 6 refuses to create named servers whose names are not "safe slugs"
# (jupyterhub.slugs.is_valid_safe_slug): 1-30 chars, lowercase letter first, letter or digit last,
# lowercase letters, digits and single hyphens in between.
# \Z, not $: "$" also matches before a final newline, which would let "lab\n" through.
_SERVER_NAME_RE = re.compile(r"[a-z](?:[a-z0-9]|-(?!-)){0,29}\Z")
SERVER_NAME_RULE = "1-30 lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit"


def is_server_name(name: str) -> bool:
    """Whether JupyterHub 6 lets a user create a named server called ``name``."""
    return bool(_SERVER_NAME_RE.match(name)) and not name.endswith("-")
