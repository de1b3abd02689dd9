"""Username normalisation and checks, matching what JupyterHub's default Authenticator accepts.

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

from coursehub.hub.runtime.spawn import normalize_username, username_problem

__all__ = ["normalize_username", "username_problem"]
