"""A student's browser, reduced to HTTP: log in to a real JupyterHub and click an nbgitpuller link.

It does what the browser does, step by step, so the tests exercise the real hub, the real
single-user server and the real nbgitpuller:

1. GET /hub/login (for the ``_xsrf`` cookie), POST the username and password;
2. GET the link; a course link (``/hub/user-redirect/<course>/git-pull``) goes on to
   ``/hub/spawn/<user>/<course>?next=...`` (the hub runtime's redirect hook), which starts that
   course's named server; a default-server link may meet JupyterHub's "not running" page (status
   424) whose button goes to ``/hub/spawn/<user>?next=...``: follow it, wait until the server
   is ready, go on;
3. the single-user server's OAuth round trip ends on nbgitpuller's status page, whose ``data-*``
   attributes are what its JavaScript uses: consume ``git-pull/api`` (an event stream) until
   ``finished`` or ``error``, exactly as ``gitsync.js`` does;
4. the browser then goes to ``base_url + path``, the redirect target the test checks.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlencode, urljoin, urlsplit

import requests


@dataclass
class Click:
    """What happened when the student clicked a link."""

    status_page: str  # URL of nbgitpuller's status page
    base_url: str  # the single-user server's base URL path (/user/<name>/)
    repo: str
    branch: str | None
    targetpath: str
    path: str  # the redirect target nbgitpuller computed, relative to base_url
    events: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # from the click to the end of the pull

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].get("phase") == "finished"

    @property
    def redirect(self) -> str:
        """Where the browser goes after the pull (path on the hub, decoded)."""
        return self.base_url + self.path

    @property
    def output(self) -> str:
        return "".join(e.get("output", "") for e in self.events)


class Student:
    """One student with a logged-in session on ``hub`` (a :class:`coursehub.hub.local.LocalHub`)."""

    def __init__(self, hub, name: str):
        self.hub = hub
        self.name = name
        self.session = requests.Session()

    def login(self) -> None:
        self.session.get(self.hub.url + "/hub/login", timeout=30).raise_for_status()
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        r = self.session.post(
            self.hub.url + "/hub/login",
            data={"username": self.name, "password": self.hub.password, "_xsrf": xsrf},
            timeout=30,
        )
        r.raise_for_status()
        if "/hub/login" in r.url:
            raise AssertionError(f"login as {self.name} failed")

    def _wait_ready(self, timeout: float, server_name: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.hub.api("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get(server_name)
            if server and server.get("ready"):
                return
            time.sleep(0.25)
        raise AssertionError(f"{self.name}'s server {server_name!r} did not become ready in {timeout:.0f}s")

    def servers(self) -> dict[str, dict]:
        """The student's servers (name -> JupyterHub's server model; "" is the default server)."""
        return self.hub.api("GET", f"/users/{self.name}").json().get("servers", {})

    def open(self, url: str, *, timeout: float = 120) -> requests.Response:
        """GET ``url`` as the browser would, launching the server if the hub asks to."""
        r = self.session.get(url, timeout=30)
        for _ in range(6):
            path = urlsplit(r.url).path
            if r.status_code == 424:  # "server not running": the student presses "Launch server"
                match = re.search(r'href="([^"]*/hub/spawn/[^"]*)"', r.text)
                assert match, "the not-running page has no launch button"
                r = self.session.get(urljoin(r.url, html.unescape(match.group(1))), timeout=30)
            elif "/hub/spawn/" in path and "<form" in r.text:
                # the hub's options form (e.g. which course to start): submit its defaults
                action, fields = _form_defaults(r.text)
                fields.setdefault("_xsrf", self.session.cookies.get("_xsrf", path="/hub/") or "")
                r = self.session.post(urljoin(r.url, action or r.url), data=fields, timeout=30)
            elif "/hub/spawn-pending/" in path:
                # /hub/spawn-pending/<user>[/<server>]
                parts = unquote(path.split("/hub/spawn-pending/", 1)[1]).strip("/").split("/")
                self._wait_ready(timeout, parts[1] if len(parts) > 1 else "")
                nxt = parse_qs(urlsplit(r.url).query).get("next")
                r = self.session.get(urljoin(r.url, nxt[0]) if nxt else r.url, timeout=30)
            else:
                break
        return r

    def click(self, link: str, *, timeout: float = 120) -> Click:
        """Click an nbgitpuller link and wait until nbgitpuller has finished (or failed)."""
        start = time.monotonic()
        page = self.open(link, timeout=timeout)
        page.raise_for_status()
        data = {k: unquote(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', page.text)}
        assert "repo" in data and "path" in data, f"not nbgitpuller's status page: {page.url}"
        params = {"_xsrf": data.get("xsrf", ""), "repo": data["repo"], "targetpath": data["targetpath"]}
        if "branch" in data:
            params["branch"] = data["branch"]
        api = urljoin(page.url, data["base-url"] + "git-pull/api?" + urlencode(params))
        events: list[dict] = []
        with self.session.get(api, stream=True, timeout=timeout) as stream:
            stream.raise_for_status()
            for line in stream.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[len("data:") :].strip())
                events.append(event)
                if event.get("phase") in ("finished", "error"):
                    break
        return Click(
            status_page=page.url,
            base_url=data["base-url"],
            repo=data["repo"],
            branch=data.get("branch"),
            targetpath=data["targetpath"],
            path=data["path"],
            events=events,
            seconds=time.monotonic() - start,
        )

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET a path on the hub (e.g. the redirect target) with the student's cookies."""
        return self.session.get(self.hub.url + path, timeout=30, **kwargs)

    def stop_server(self) -> None:
        """Stop every server of the student (the default one and each course's)."""
        for name in self.servers():
            self.hub.api("DELETE", f"/users/{self.name}/servers/{name}" if name else f"/users/{self.name}/server")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.hub.api("GET", f"/users/{self.name}").json().get("servers"):
                return
            time.sleep(0.25)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self._in_form = True
            self.action = a.get("action") or ""
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                if "checked" in a or (kind == "radio" and name not in self.fields):
                    self.fields[name] = a.get("value", "on")
            elif kind not in ("submit", "button"):
                self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
                self.fields.setdefault(self._select, value)
            if "selected" in a:
                self.fields[self._select] = value

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False


def _form_defaults(page: str) -> tuple[str | None, dict[str, str]]:
    """The first form's action and the values a browser would submit without changes."""
    parser = _FormParser()
    parser.feed(page)
    return parser.action, parser.fields


# --- other users' browsers: staff opening a student's server ----------------------------------------


def login(hub, user) -> requests.Session:
    s = requests.Session()
    s.get(hub.url + "/hub/login")
    # next=/hub/home: a plain login would go on to start the user's own server
    r = s.post(hub.url + "/hub/login?next=/hub/home", data={"username": user, "password": hub.password, "_xsrf": s.cookies.get("_xsrf")})
    assert r.status_code == 200 and r.url.endswith("/hub/home"), (r.status_code, r.url)
    return s


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"], a.get("value", "")))


def open_server(session: requests.Session, hub, owner: str, server: str) -> int:
    """Open ``owner``'s ``server`` as the session's user, as a browser would; the final status code.

    Opening someone else's server goes through JupyterHub's OAuth page, where the visitor confirms
    ("Authorize"); a visitor without ``access:servers`` on it gets 403 there instead.
    """
    r = session.get(f"{hub.url}/user/{owner}/{server}/tree")
    if "/oauth2/authorize" in r.url and r.status_code == 200:
        form = _Inputs()
        form.feed(r.text)
        r = session.post(r.url, data=form.fields)
    if r.status_code != 200:
        return r.status_code
    return session.get(f"{hub.url}/user/{owner}/{server}/api/contents").status_code
