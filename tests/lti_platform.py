"""A test LMS on 127.0.0.1: an LTI 1.3 platform (with Assignment and Grade Services) and an LTI 1.1 consumer.

It does what Canvas or Moodle do on the wire, so the hub's real LTI authenticator and ``grades push``
meet the protocol rather than a mock of it:

- its own RSA key, published at ``/jwks``;
- a launch starts at the tool's OIDC login initiation URL (:meth:`Platform.initiation`); the tool
  redirects the browser to ``/authorize``, which answers, like an LMS, with a page that auto-posts the
  signed ``id_token`` and the tool's ``state`` to the tool's redirect URI (``response_mode=form_post``);
  it checks the client id, the registered redirect URI and ``prompt=none`` first;
- misbehaviour on request, to prove the tool refuses it: a token signed with another key, for another
  audience, already expired;
- ``/token``: OAuth2 client credentials with a JWT client assertion signed by the tool's key (checked
  against the tool's registered public JWK, audience, expiry and ``jti`` reuse);
- AGS: a line items container per context (``/api/lti/courses/<context>/line_items``: GET with
  ``resource_id``/``tag`` filters, POST to create), ``<line item>/scores`` (POST, kept per user, every
  request logged) and ``<line item>/results`` (GET);
- LTI 1.1: :func:`signed_lti11_launch` signs a launch POST with the consumer key and secret (HMAC-SHA1)
  as a consumer does.

The browser in the tests is a ``requests.Session`` that does what the auto-posting page's JavaScript
does: :func:`submit_auto_post` posts the page's form.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from coursehub.lms.keys import public_jwk

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership"
ROLE = {"student": f"{LIS}#Learner", "instructor": f"{LIS}#Instructor", "ta": f"{LIS}/Instructor#TeachingAssistant"}
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Launch:
    """One launch the platform will sign when the browser comes back for it (keyed by login_hint)."""

    login: str  # the LMS login id (custom login_id)
    sub: str  # the platform's opaque user id
    context_id: str
    context_label: str
    roles: list[str]
    target_link_uri: str
    forge: str | None = None  # None | "wrong-key" | "wrong-audience" | "expired"
    deployment_id: str = "1:coursehub-test"


@dataclass
class Platform:
    """The test platform; use as a context manager (it serves until the block ends)."""

    client_id: str = "coursehub-test-client"
    key: object = field(default_factory=new_key, repr=False)
    #: The tool's public JWK, registered "by an admin" before grades can be pushed.
    tool_jwk: dict | None = None
    launches: dict[str, Launch] = field(default_factory=dict)
    lineitems: dict[str, dict] = field(default_factory=dict)  # line item URL -> line item
    scores: dict[str, dict[str, dict]] = field(default_factory=dict)  # line item URL -> userId -> last score
    score_log: list[dict] = field(default_factory=list)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # access token -> scopes
    used_jti: set[str] = field(default_factory=set)
    requests_seen: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self):
        self.jwk = public_jwk(self.key.public_key())
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Platform:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # --- what the manifest copies from the LMS --------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.url

    def lti13_settings(self) -> dict:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_url": self.url + "/authorize",
            "jwks_url": self.url + "/jwks",
            "token_url": self.url + "/token",
            "deployment_ids": ["1:coursehub-test"],
        }

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.url}/api/lti/courses/{context_id}/line_items"

    # --- LTI 1.3 launch ---------------------------------------------------------------------------

    def initiation(self, launch: Launch) -> dict:
        """The login initiation parameters the LMS posts to the tool's OIDC initiation URL."""
        hint = secrets.token_hex(8)
        self.launches[hint] = launch
        return {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": launch.target_link_uri,
            "lti_message_hint": secrets.token_hex(4),
            "client_id": self.client_id,
            "lti_deployment_id": launch.deployment_id,
        }

    def id_token(self, launch: Launch, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id if launch.forge != "wrong-audience" else "someone-else",
            "sub": launch.sub,
            "iat": now if launch.forge != "expired" else now - 3600,
            "exp": now + 300 if launch.forge != "expired" else now - 3000,
            "nonce": nonce,
            "name": launch.login,
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": launch.deployment_id,
            CLAIM + "target_link_uri": launch.target_link_uri,
            CLAIM + "resource_link": {"id": "rl-" + launch.context_id},
            CLAIM + "roles": launch.roles,
            CLAIM + "context": {"id": launch.context_id, "label": launch.context_label, "title": launch.context_label},
            CLAIM + "custom": {"login_id": launch.login},
            AGS_CLAIM: {"lineitems": self.lineitems_url(launch.context_id), "scope": []},
        }
        key, kid = self.key, self.jwk["kid"]
        if launch.forge == "wrong-key":
            key = new_key()  # same kid, another key: the signature cannot verify
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """The OIDC authorization endpoint: an auto-posting form, or an error."""
        launch = self.launches.get(params.get("login_hint", ""))
        if launch is None:
            return 400, "unknown login_hint"
        if params.get("client_id") != self.client_id:
            return 400, "unknown client_id"
        if params.get("response_type") != "id_token" or params.get("response_mode") != "form_post":
            return 400, "unsupported response type or mode"
        if params.get("prompt") != "none" or params.get("scope") != "openid":
            return 400, "prompt must be none, scope openid"
        redirect = params.get("redirect_uri", "")
        if not redirect.endswith("/hub/lti13/oauth_callback"):
            return 400, "redirect_uri is not the registered one"
        if not params.get("nonce") or not params.get("state"):
            return 400, "nonce and state are required"
        fields = {"id_token": self.id_token(launch, params["nonce"]), "state": params["state"]}
        inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
        page = (
            f'<!DOCTYPE html><html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{escape(redirect)}">{inputs}</form></body></html>'
        )
        return 200, page

    # --- OAuth2 token endpoint (client credentials, JWT assertion) -------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return 400, {"error": "invalid_request"}
        if self.tool_jwk is None:
            return 401, {"error": "invalid_client", "error_description": "no public key registered for the tool"}
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("kid") != self.tool_jwk["kid"]:
                return 401, {"error": "invalid_client", "error_description": "unknown kid"}
            key = jwt.PyJWK(self.tool_jwk).key
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=self.url + "/token", issuer=self.client_id)
        except jwt.PyJWTError as exc:
            return 401, {"error": "invalid_client", "error_description": str(exc)}
        if claims.get("sub") != self.client_id or not claims.get("jti") or claims["jti"] in self.used_jti:
            return 401, {"error": "invalid_client", "error_description": "bad sub or reused jti"}
        self.used_jti.add(claims["jti"])
        token = secrets.token_hex(16)
        self.tokens[token] = set(form.get("scope", "").split())
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "")}

    def scopes_of(self, authorization: str | None) -> set[str]:
        if not authorization or not authorization.startswith("Bearer "):
            return set()
        return self.tokens.get(authorization[len("Bearer "):], set())

    # --- AGS ----------------------------------------------------------------------------------------

    def container(self, url: str) -> str | None:
        """The context of a line items container URL, or None."""
        path = urlsplit(url).path
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["api", "lti", "courses"] and parts[4] == "line_items":
            return parts[3]
        return None


_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _need(self, scope: str) -> bool:
            if _SCOPE + scope not in platform.scopes_of(self.headers.get("Authorization")):
                self._send(401, {"error": f"needs scope {scope}"})
                return False
            return True

        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            platform.requests_seen.append(("GET", parts.path))
            if parts.path == "/jwks":
                return self._send(200, {"keys": [platform.jwk]})
            if parts.path == "/authorize":
                status, page = platform.authorize(query)
                return self._send(status, page, "text/html")
            url = platform.url + parts.path
            if platform.container(url) is not None:
                if not {_SCOPE + "lineitem.readonly", _SCOPE + "lineitem"} & platform.scopes_of(self.headers.get("Authorization")):
                    return self._send(401, {"error": "needs scope lineitem.readonly"})
                items = [
                    li for u, li in platform.lineitems.items()
                    if u.startswith(url + "/")
                    and all(li.get(k) == query[q] for q, k in (("resource_id", "resourceId"), ("tag", "tag")) if q in query)
                ]
                return self._send(200, items, CONTAINER_TYPE)
            if url.endswith("/results") and url[: -len("/results")] in platform.lineitems:
                if not self._need("result.readonly"):
                    return None
                item = url[: -len("/results")]
                results = [
                    {"id": f"{item}/results/{user}", "scoreOf": item, "userId": user,
                     "resultScore": s["scoreGiven"], "resultMaximum": s["scoreMaximum"], "comment": s.get("comment")}
                    for user, s in sorted(platform.scores.get(item, {}).items())
                ]
                return self._send(200, results, RESULTS_TYPE)
            return self._send(404, {"error": "not found"})

        def do_POST(self):
            parts = urlsplit(self.path)
            platform.requests_seen.append(("POST", parts.path))
            body = self._body()
            if parts.path == "/authorize":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, page = platform.authorize(form)
                return self._send(status, page, "text/html")
            if parts.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, answer = platform.token(form)
                return self._send(status, answer)
            url = platform.url + parts.path
            if platform.container(url) is not None:
                if not self._need("lineitem"):
                    return None
                if self.headers.get("Content-Type", "").split(";")[0] != LINEITEM_TYPE:
                    return self._send(415, {"error": "line items are " + LINEITEM_TYPE})
                item = json.loads(body)
                item_url = f"{url}/{uuid.uuid4().hex[:8]}"
                item["id"] = item_url
                platform.lineitems[item_url] = item
                return self._send(201, item, LINEITEM_TYPE)
            if url.endswith("/scores") and url[: -len("/scores")] in platform.lineitems:
                if not self._need("score"):
                    return None
                if self.headers.get("Content-Type", "").split(";")[0] != SCORE_TYPE:
                    return self._send(415, {"error": "scores are " + SCORE_TYPE})
                score = json.loads(body)
                item = url[: -len("/scores")]
                missing = {"userId", "activityProgress", "gradingProgress", "timestamp"} - set(score)
                if missing:
                    return self._send(400, {"error": f"missing {sorted(missing)}"})
                platform.score_log.append({"lineitem": item, **score})
                platform.scores.setdefault(item, {})[score["userId"]] = score
                return self._send(200, {})
            return self._send(404, {"error": "not found"})

    return Handler


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def submit_auto_post(session: requests.Session, page: requests.Response) -> tuple[requests.Response, dict]:
    """Do what the platform page's ``onload`` does: post its form. Returns the answer and what was posted."""
    form = _Form()
    form.feed(page.text)
    assert form.action, f"no auto-posting form on {page.url}: {page.status_code} {page.text[:200]}"
    return session.post(form.action, data=form.fields, timeout=60), {"action": form.action, **form.fields}


def lti13_launch(session: requests.Session, hub_url: str, platform: Platform, launch: Launch) -> tuple[requests.Response, dict]:
    """A whole LTI 1.3 launch in ``session`` (the browser): initiation, authorization, the form post.

    Returns the hub's last answer and the form that was posted to it (for replays).
    """
    r = session.post(hub_url + "/hub/lti13/oauth_login", data=platform.initiation(launch), timeout=60)
    assert r.url.startswith(platform.url + "/authorize"), f"the hub did not redirect to the platform: {r.status_code} {r.url}"
    assert r.status_code == 200, r.text
    return submit_auto_post(session, r)


def signed_lti11_launch(url: str, *, key: str, secret: str, params: dict[str, str], timestamp: int | None = None,
                        nonce: str | None = None) -> dict[str, str]:
    """The body of an LTI 1.1 launch POST to ``url``, signed with OAuth 1.0a HMAC-SHA1 as a consumer signs it."""
    from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client

    client = Client(key, client_secret=secret, signature_type=SIGNATURE_TYPE_BODY,
                    timestamp=str(timestamp) if timestamp is not None else None, nonce=nonce)
    _, _, body = client.sign(url, http_method="POST", body=urlencode(params),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
