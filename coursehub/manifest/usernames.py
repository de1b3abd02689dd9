"""Username normalisation and checks, matching what JupyterHub's default Authenticator accepts.

JupyterHub lowercases names (``Authenticator.normalize_username``) and refuses, in
``Authenticator.validate_username``, an empty name, one containing ``/``, one made only of dots, and
one with leading or trailing spaces. coursehub applies the same rules so a roster never names a user
the hub would refuse, and additionally refuses whitespace and control characters inside a name:
those come from spreadsheet accidents, never from a real login.
"""

from __future__ import annotations

import re
import unicodedata

# Most names are plain ASCII logins; those need none of the character-by-character checks below.
_PLAIN = re.compile(r"[a-z0-9_.@+][a-z0-9_.@+-]*")


def normalize_username(name: str) -> str:
    """The name JupyterHub will store: surrounding blanks removed, lowercased."""
    name = str(name)
    if name.isascii():  # NFC changes nothing in ASCII, and almost every login is ASCII
        return name.strip().lower()
    return unicodedata.normalize("NFC", name.strip()).lower()


def username_problem(name: str) -> str | None:
    """Why ``name`` (already normalised) is not a username JupyterHub accepts, or ``None``."""
    if _PLAIN.fullmatch(name) and name.strip(".") and len(name) <= 253:
        return None
    if not name:
        return "the username is empty"
    if len(name) > 253:
        # the longest name the manifest accepts inline; longer is a spreadsheet accident (a pasted cell)
        return f"the username is {len(name)} characters long (at most 253)"
    if "/" in name:
        return f"username {name!r} contains '/', which JupyterHub does not allow"
    if set(name) == {"."}:
        return f"username {name!r} is only dots, which JupyterHub does not allow"
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        return f"username {name!r} contains whitespace or a control character"
    if name.startswith("-"):
        # A leading dash turns a name into an option for the system tools (useradd, git) that
        # single-machine hubs run with it.
        return f"username {name!r} starts with '-'"
    return None
