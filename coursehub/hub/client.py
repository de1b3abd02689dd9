"""The one client for JupyterHub's REST API: token handling, retries, pagination, bounded concurrency.

Everything coursehub says to a live hub goes through :class:`HubClient`, so the rules live in one
place:

- the token comes from ``JUPYTERHUB_API_TOKEN`` or a file (:func:`read_token`) and is never printed,
  logged or shown in a ``repr``;
- every request waits at most :attr:`HubClient.timeout` seconds for the hub (``--timeout``); connection
  errors, timeouts and 5xx answers are retried with exponential backoff, at most
  :attr:`HubClient.retries` times and for at most :attr:`HubClient.retry_time` seconds in all, so a hub
  that accepts connections and never answers costs about a minute, not ten; a 4xx answer is the hub
  refusing the request and is raised at once as :class:`HubRequestError`;
- list endpoints are read with JupyterHub's pagination (``Accept: application/jupyterhub-pagination+json``)
  and every page is followed, so a hub with 20,000 users is read completely;
- :meth:`HubClient.map` runs requests on a small thread pool (one ``requests.Session`` per thread);
- :meth:`HubClient.server_request` reaches a user's server through the hub's proxy (``coursehub
  collect`` reads notebooks through the server's contents API), with the same retries;
- :attr:`HubClient.requests_made` counts HTTP requests (retries included) for the benchmark.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError

TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
PAGINATION = "application/jupyterhub-pagination+json"
#: JupyterHub's default ``api_page_max_limit``; asking for more is silently capped to it anyway.
PAGE_LIMIT = 200

T = TypeVar("T")
R = TypeVar("R")


class HubRequestError(Exception):
    """The hub answered a request with a 4xx: it refused this item (the others may still succeed)."""

    def __init__(self, method: str, path: str, status: int, message: str):
        super().__init__(f"{method} {path}: {status} {message}")
        self.method, self.path, self.status, self.message = method, path, status, message


class HubUnavailable(CoursehubError):
    """The hub did not answer (or kept answering 5xx) after every retry."""

    exit_code = EXIT_CHECK_FAILED


def read_token(*, token_file: Path | None = None, environ: dict[str, str] | None = None) -> str:
    """The API token from ``token_file`` if given, else from ``$JUPYTERHUB_API_TOKEN``."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CoursehubError(f"cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise CoursehubError(f"the token file {token_file} is empty")
        return token
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise CoursehubError(f"no hub API token: set {TOKEN_ENV} or pass --token-file")
    return token


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason or ""


class HubClient:
    """A JupyterHub REST API client. ``api_url`` is e.g. ``https://hub.example.edu/hub/api``."""

    RETRY_STATUSES = frozenset({500, 502, 503, 504})
    #: Five attempts over 7.5 s: rides out a hub restart behind a proxy, gives up on a dead one.
    DEFAULT_RETRIES = 4
    DEFAULT_BACKOFF = 0.5
    #: Seconds one request may wait for the hub. Sync's bulk requests are sized to take a few seconds
    #: (:data:`coursehub.sync.plan.CREATE_BATCH`), and a proxy gives up on a request after about 40 s.
    DEFAULT_TIMEOUT = 15.0
    #: Seconds all the attempts at one request may take together: the hub restart the retries ride out
    #: takes seconds; a hub silent for a minute is down, and waiting longer only hides it.
    DEFAULT_RETRY_TIME = 60.0

    def __init__(
        self,
        api_url: str,
        *,
        token: str,
        concurrency: int = 4,
        retries: int | None = None,
        backoff: float | None = None,
        timeout: float | None = None,
        retry_time: float | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.concurrency = max(1, concurrency)
        self.retries = max(0, self.DEFAULT_RETRIES if retries is None else retries)
        self.backoff = self.DEFAULT_BACKOFF if backoff is None else backoff
        self.timeout = self.DEFAULT_TIMEOUT if timeout is None else timeout
        self.retry_time = self.DEFAULT_RETRY_TIME if retry_time is None else retry_time
        self._local = threading.local()
        self._lock = threading.Lock()
        self.requests_made = 0

    def __repr__(self) -> str:  # the token must never appear, even in a debugger or a crash log
        return f"HubClient({self.api_url!r})"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"token {self._token}"
            self._local.session = session
        return session

    @property
    def public_url(self) -> str:
        """The hub's public URL (``https://hub.example.edu``): the API URL without its ``/hub/api``."""
        if not self.api_url.endswith("/hub/api"):
            raise CoursehubError(f"{self.api_url} does not end in /hub/api; pass the hub's API URL to --hub-api")
        return self.api_url[: -len("/hub/api")]

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None, headers: dict | None = None,
        retry: bool = True,
    ) -> Any:
        """Send one request to the hub's API; return the decoded JSON body (``None`` if empty).

        Retries connection errors, timeouts and 5xx with exponential backoff, within :attr:`retries`
        and :attr:`retry_time`; raises :class:`HubRequestError` on 4xx and :class:`HubUnavailable` when
        the retries or the time run out.
        ``retry=False`` is for a request whose 5xx is an answer, not an outage (starting a server that
        fails to start): it is sent once and a 5xx is raised as :class:`HubRequestError`.
        """
        return self._send(method, self.api_url + path, path, json=json, params=params, headers=headers, retry=retry)

    def server_request(
        self, method: str, user: str, server: str, path: str, *, params: dict | None = None, token: str | None = None
    ) -> Any:
        """One request to a user's (named) server through the hub's proxy: ``/user/<user>/<server>/<path>``.

        ``token`` replaces the client's own token for this request (a token the hub issued for that
        server). A server that is not running answers with a redirect to the hub, which is raised as
        :class:`HubRequestError` with the 3xx status; so is a 4xx.
        """
        rel = "/user/{}/{}/{}".format(quote(user, safe=""), quote(server, safe=""), path.lstrip("/"))
        headers = {"Authorization": f"token {token}"} if token else None
        return self._send(method, self.public_url + rel, rel, params=params, headers=headers, follow=False)

    def _send(
        self, method: str, url: str, path: str, *, json: Any = None, params: dict | None = None,
        headers: dict | None = None, follow: bool = True, retry: bool = True,
    ) -> Any:
        last = ""
        started = time.monotonic()
        attempts = 0
        for attempt in range(self.retries + 1 if retry else 1):
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1)
                if time.monotonic() - started + pause >= self.retry_time:
                    break
                time.sleep(pause)
            left = self.retry_time - (time.monotonic() - started)
            if left <= 0:
                break
            wait = min(self.timeout, left)
            with self._lock:
                self.requests_made += 1
            attempts += 1
            try:
                response = self._session().request(method, url, json=json, params=params, headers=headers, timeout=wait,
                                                    allow_redirects=follow)
            except requests.Timeout:  # before ConnectionError: a connect timeout is both
                last = f"no answer within {wait:g} s"
                continue
            except requests.ConnectionError as exc:
                last = f"could not connect ({type(exc).__name__})"
                continue
            if response.status_code in self.RETRY_STATUSES and retry:
                last = f"{response.status_code} {_error_message(response)}"
                continue
            if response.status_code >= 400 or (not follow and response.is_redirect):
                raise HubRequestError(method, path, response.status_code, _error_message(response))
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise HubUnavailable(
                    f"{method} {url} did not answer with JSON; is --hub-api the hub's /hub/api URL?"
                ) from None
        raise HubUnavailable(
            f"the hub at {self.api_url} did not answer {method} {path}: {attempts} attempt(s) in "
            f"{time.monotonic() - started:.0f} s, the last: {last}. Check --hub-api and that the hub is running; "
            f"a hub that is only slow needs a longer --timeout (now {self.timeout:g} s a request)"
        )

    def paginate(self, path: str, params: dict | None = None) -> list[dict]:
        """Every item of a paginated list endpoint (``/users``, ``/groups``), following ``next``."""
        items: list[dict] = []
        offset = 0
        while True:
            page = self.request(
                "GET",
                path,
                params={**(params or {}), "offset": offset, "limit": PAGE_LIMIT},
                headers={"Accept": PAGINATION},
            )
            if isinstance(page, list):  # a hub older than 2.5 ignores the pagination header
                return page
            items.extend(page["items"])
            nxt = page["_pagination"].get("next")
            if not nxt:
                return items
            offset = int(nxt["offset"])

    def whoami(self) -> dict:
        """The token owner's model, including the token's expanded ``scopes``."""
        try:
            return self.request("GET", "/user")
        except HubRequestError as exc:
            if exc.status in (401, 403):
                raise CoursehubError(f"the hub at {self.api_url} refused the API token ({exc.status})") from None
            hint = ""
            if exc.status == 404:
                # the usual slip: the hub's page URL (https://hub.example.edu) instead of its API
                hint = f"; is {self.api_url} the hub's API? It is the hub's URL followed by /hub/api"
            raise CoursehubError(
                f"the hub at {self.api_url} answered GET /user with {exc.status} {exc.message}{hint}"
            ) from None

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, on_done: Callable[[T], None] | None = None) -> list[R]:
        """``[fn(item) for item in items]`` on at most :attr:`concurrency` threads, in item order.

        The first :class:`HubUnavailable` stops the batch (no new requests start) and is raised.
        """
        items = list(items)
        if not items:
            return []
        stop = threading.Event()

        def run(item: T) -> R | None:
            if stop.is_set():
                return None
            try:
                return fn(item)
            except HubUnavailable:
                stop.set()
                raise
            finally:
                if on_done is not None:
                    on_done(item)

        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            futures = [pool.submit(run, item) for item in items]
            results = []
            error: BaseException | None = None
            for future in futures:
                try:
                    results.append(future.result())
                except HubUnavailable as exc:
                    error = error or exc
                    results.append(None)
        if error is not None:
            raise error
        return results
