"""nbgitpuller links: build one that opens the right file, and parse one back into its fields.

One concern: the link format. Building, the rules a link's parts must follow, and parsing are kept
together because the parser must mirror the builder exactly (a property test round-trips them).

The parameter layout and encoding follow nbgitpuller's own link generator (``docs/_static/link_gen``):
``<hub>/hub/user-redirect/git-pull?repo=...&urlpath=...&branch=...``, values encoded the way the
browser's ``URLSearchParams`` encodes them. Where that generator is wrong we follow what the
nbgitpuller 1.x *server* does, because that decides where the files land:

- the UI handler clones into ``targetpath`` if given, else ``repo.rstrip('/').split('/')[-1]`` (a
  trailing ``.git`` is kept, so ``.../course.git`` is cloned into ``course.git/``; the generator
  strips ``.git`` and points at a folder that never exists);
- the folder is relative to the server's root directory (plus ``$NBGITPULLER_PARENTPATH``, a
  server-side setting a link cannot see);
- after the pull the browser goes to ``<server base URL> + urlpath`` verbatim, so ``urlpath`` must be
  relative and must already point inside that folder.

Links are therefore built from the folder the server will really use, and a repository URL is
normalised first (trailing slash removed, GitHub ``/tree/`` and ``/blob/`` pages turned back into the
repository) so that the folder is predictable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

from coursehub.errors import EXIT_USAGE, CoursehubError, excerpt
from coursehub.manifest import INTERFACE_PATHS
from coursehub.manifest.models import RETIRED_INTERFACES
from coursehub.manifest.usernames import SERVER_NAME_RULE, is_server_name

LAUNCHES = ("hub", "lti", "binder")
#: Former names of a launch target, still accepted: ``canvas`` was the LTI launch before LMSes other
#: than Canvas were named.
LAUNCH_ALIASES = {"canvas": "lti"}
INTERFACES = tuple(INTERFACE_PATHS)
REPO_SCHEMES = ("https", "http", "git", "ssh")
#: Where repo2docker and the Jupyter docker stacks put the home folder; VS Code (code-server) needs an
#: absolute folder. Hubs with other homes pass ``--urlpath`` instead.
VSCODE_HOME = "/home/jovyan"

# git check-ref-format's rules, minus the ones that only matter for creating refs.
_BAD_REF_RE = re.compile(r"(\.\.|@\{|[\x00-\x20\x7f~^:?*\[\\]|//|/\.|\.lock(/|$)|^/|/$|^\.|\.$|^@$)")
_SCP_LIKE_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>(?!//).+)$")
# RFC 3986: the characters a URL can hold as written (everything else must be percent-encoded).
# \Z, not $: "$" also matches before a final newline, so "\n" alone would pass and a URL with one
# inside would have no character to blame.
_URL_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*\Z")
_BLANK_OR_CONTROL_RE = re.compile(r"[\x00-\x20\x7f\s]")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_GITHUB_PAGE_RE = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<kind>tree|blob)/(?P<rest>.+)$")


def _fail(message: str) -> CoursehubError:
    return CoursehubError(message, exit_code=EXIT_USAGE)


def _split(url: str, what: str, original: str):
    # urlsplit raises ValueError for an unbalanced or invalid [bracketed] host and for a host with
    # characters that NFKC-normalise to URL delimiters; that is the user's input, not a bug.
    try:
        return urlsplit(url)
    except ValueError:
        raise _fail(f"the {what} URL {excerpt(original)} has a malformed host") from None


def url_syntax_problem(url: str) -> str | None:
    """Why ``url`` cannot be a URL as written (characters outside RFC 3986, a bad %-escape, a bad
    port), or ``None``. Whitespace and control characters are reported here too."""
    if not _URL_CHARS_RE.match(url):
        bad = next(ch for ch in url if not _URL_CHARS_RE.match(ch))
        if ord(bad) > 0x7E:
            return f"contains {bad!r}, which a URL cannot hold (use the xn-- form of the host and %-encode the path)"
        return f"contains {bad!r}, which a URL cannot hold as written (%-encode it)"
    if _BAD_PERCENT_RE.search(url):
        return "has a '%' that is not followed by two hex digits"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None  # a malformed host: _split says so
    try:
        parts.port
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    return None


@dataclass(frozen=True)
class LinkFields:
    """Everything an nbgitpuller link carries, normalised. :func:`link_url` turns it into the URL and
    :func:`parse_link` turns the URL back into an equal value."""

    launch: str  # hub | lti | binder
    hub: str  # JupyterHub base URL (or, for binder, the BinderHub URL), always ending in "/"
    repo: str
    branch: str | None = None
    urlpath: str | None = None
    targetpath: str | None = None
    server: str | None = None  # JupyterHub named server
    env_repo: str | None = None  # binder: the repository whose image the content is pulled into
    env_branch: str | None = None

    @property
    def folder(self) -> str:
        """The folder (relative to the server's root) nbgitpuller clones into."""
        return clone_folder(self.repo, self.targetpath)


@dataclass(frozen=True)
class Link:
    """A built link: the URL, its fields, and what was corrected on the way (for the user to see)."""

    url: str
    fields: LinkFields
    warnings: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return self.fields.folder


# --- encoding ------------------------------------------------------------------------------------


def _form(value: str) -> str:
    # application/x-www-form-urlencoded exactly as the browser's URLSearchParams writes it (what the
    # nbgitpuller generator uses): only A-Z a-z 0-9 * - . _ stay literal and a space becomes "+".
    # Python's quote_plus also keeps "~", which URLSearchParams escapes.
    return quote_plus(value, safe="*").replace("~", "%7E")


def _query(pairs: list[tuple[str, str | None]]) -> str:
    return "&".join(f"{_form(k)}={_form(v)}" for k, v in pairs if v is not None)


def _path_segment(text: str) -> str:
    # In urlpath only the characters that would change what the redirect means are escaped: "%"
    # (so nothing is decoded twice), "?" and "#" (would start a query or fragment) and control
    # characters. Spaces and non-ASCII stay readable; the browser encodes them when it navigates.
    return "".join(
        quote(ch, safe="") if ch in "%?#" or ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text
    )


# --- validation ----------------------------------------------------------------------------------


def clone_folder(repo: str, targetpath: str | None = None) -> str:
    """The folder nbgitpuller 1.x clones ``repo`` into (``UIHandler``: targetpath, else the last URL
    segment with trailing slashes removed; ``.git`` is kept)."""
    return targetpath or repo.rstrip("/").split("/")[-1]


def check_repo(repo: str, *, what: str = "repository") -> tuple[str, list[str], dict[str, str]]:
    """Validate and normalise a clone URL.

    Returns ``(repo, warnings, hints)``; ``hints`` may carry ``branch`` and ``path`` recovered from a
    pasted GitHub ``/tree/`` or ``/blob/`` page URL. Raises :class:`CoursehubError` (exit 2) for
    option injection, unsupported schemes and embedded credentials.
    """
    original = repo
    repo = repo.strip()
    warnings: list[str] = []
    hints: dict[str, str] = {}
    if not repo:
        raise _fail(f"the {what} URL is empty")
    if repo.startswith("-"):
        # CVE-2021-39160: nbgitpuller < 0.10.2 passed the repo to git without "--", so a repo such as
        # "--upload-pack=..." ran commands on the student's server. Never build such a link.
        raise _fail(f"the {what} URL {original!r} starts with '-' and would be read by git as an option")
    if _BLANK_OR_CONTROL_RE.search(repo):
        raise _fail(f"the {what} URL {original!r} contains whitespace or control characters")
    problem = url_syntax_problem(repo) if "://" in repo else None
    if problem:
        raise _fail(f"the {what} URL {excerpt(original)} {problem}")
    if "::" in repo.split("/")[0]:
        # git's <transport>::<address> syntax runs a remote helper (ext:: runs any command)
        raise _fail(f"the {what} {original!r} uses git's transport::address syntax, which is not allowed")
    scp = _SCP_LIKE_RE.match(repo) if "://" not in repo else None
    if scp and not repo.startswith(("/", ".", "~")) and len(scp["host"]) > 1:
        # user@host:path is git's scp-like spelling of ssh://user@host/path (one-letter "hosts"
        # are Windows drive letters, i.e. local paths).
        if "@" in scp["path"].split("/")[0]:
            # user:password@host:path parses as host "user"; the password must not reach a link
            raise _fail(f"the {what} URL embeds credentials; every student would see them in the link")
        warnings.append(
            f"{what} {repo} is an SSH URL: student servers normally have no SSH key for it; "
            "an https:// URL works for public repositories"
        )
        return repo.rstrip("/"), warnings, hints
    parts = _split(repo, what, original)
    scheme = parts.scheme.lower()
    if not scheme:
        raise _fail(
            f"the {what} {original!r} is not a URL git can fetch from a student server "
            f"(use one of {', '.join(s + '://' for s in REPO_SCHEMES)})"
        )
    if scheme not in REPO_SCHEMES:
        raise _fail(
            f"the {what} URL scheme {scheme!r} is not allowed (only {', '.join(REPO_SCHEMES)}); "
            "file:// and ext:: would read the server's own files or run commands"
        )
    if not parts.hostname:
        raise _fail(f"the {what} URL {original!r} has no host")
    if parts.password is not None or (parts.username is not None and scheme in ("http", "https", "git")):
        raise _fail(
            f"the {what} URL {parts.scheme}://{parts.hostname}/... embeds credentials; every student "
            "would see them in the link. Make the repository public or use a deploy mechanism instead"
        )
    if parts.query or parts.fragment:
        raise _fail(f"the {what} URL {original!r} has a query or fragment; give the plain clone URL")
    path = parts.path
    if scheme == "ssh" and parts.username is not None:
        warnings.append(f"{what} {repo} is an SSH URL: student servers normally have no SSH key for it")
    if scheme in ("http", "https") and parts.hostname.lower() in ("github.com", "www.github.com"):
        page = _GITHUB_PAGE_RE.match(path)
        if page:
            fixed = urlunsplit((scheme, parts.netloc, f"/{page['owner']}/{page['repo']}", "", ""))
            rest = page["rest"].strip("/")
            ref, _, inner = rest.partition("/")
            hints["branch"] = ref
            if inner:
                hints["path"] = unquote(inner)
            warnings.append(
                f"{repo} is a GitHub page, not a clone URL; using {fixed} (branch {ref!r}"
                + (f", path {hints['path']!r}" if inner else "")
                + ")"
            )
            return fixed, warnings, hints
    stripped = path.rstrip("/")
    if not stripped:
        raise _fail(f"the {what} URL {original!r} has no repository path")
    return urlunsplit((parts.scheme, parts.netloc, stripped, "", "")), warnings, hints


def check_branch(branch: str | None, *, what: str = "branch") -> str | None:
    """Validate a branch (or tag) name; ``None``/empty means the repository's default branch."""
    if branch is None or branch == "":
        return None
    if branch.startswith("-"):
        raise _fail(f"the {what} {branch!r} starts with '-' and would be read by git as an option")
    if _BAD_REF_RE.search(branch):
        raise _fail(f"the {what} {branch!r} is not a valid git branch name")
    return branch


def check_targetpath(targetpath: str | None) -> str | None:
    """Validate the clone folder: relative to the server root, no ``..``."""
    if targetpath is None or targetpath.strip() == "":
        return None
    if targetpath.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", targetpath):
        raise _fail(f"the target path {targetpath!r} must be relative to the student's home folder")
    if "\\" in targetpath or any(ord(ch) < 0x20 for ch in targetpath):
        raise _fail(f"the target path {targetpath!r} contains backslashes or control characters")
    parts = [p for p in targetpath.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _fail(f"the target path {targetpath!r} must not contain '..'")
    if not parts:
        raise _fail(f"the target path {targetpath!r} names no folder")
    return "/".join(parts)


def check_file_path(path: str | None) -> tuple[str | None, list[str]]:
    """Validate the file (or app folder) inside the repository; a leading ``/`` is removed."""
    if path is None or path == "":
        return None, []
    warnings = []
    if path.startswith("/"):
        warnings.append(f"the path {path!r} is relative to the repository; removed the leading '/'")
    if "\\" in path or any(ord(ch) < 0x20 for ch in path):
        raise _fail(f"the path {path!r} contains backslashes or control characters")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _fail(f"the path {path!r} must not contain '..'")
    return ("/".join(parts) or None), warnings


def check_server(server: str | None) -> str | None:
    """Validate a named server against JupyterHub 6's rules for new server names."""
    if server is None or server == "":
        return None
    if not is_server_name(server):
        raise _fail(f"the server name {server!r} is not allowed by JupyterHub 6: use {SERVER_NAME_RULE}")
    return server


def check_hub_url(hub: str, *, what: str = "hub") -> tuple[str, list[str]]:
    """Normalise a hub (or BinderHub) base URL to ``scheme://host[:port]/prefix/``."""
    original = hub
    hub = hub.strip()
    warnings: list[str] = []
    parts = _split(hub, what, original)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _fail(f"the {what} URL {excerpt(original)} must start with https:// (or http://) and name a host")
    problem = url_syntax_problem(hub)
    if problem:
        raise _fail(f"the {what} URL {excerpt(original)} {problem}")
    if parts.username is not None or parts.password is not None:
        raise _fail(f"the {what} URL must not contain credentials")
    if parts.query or parts.fragment:
        raise _fail(f"the {what} URL {original!r} must not have a query or fragment")
    path = parts.path.rstrip("/")
    if what == "hub":
        # A hub URL copied from the browser often carries /hub/..., /user/<name>/... or /lab; the link
        # needs the base URL the hub is served under.
        cut = re.search(r"/(hub|user)(/|$)", path + "/")
        if cut:
            base = path[: cut.start()]
            fixed = urlunsplit((parts.scheme, parts.netloc, base + "/", "", ""))
            warnings.append(f"{original} is a page of the hub; using its base URL {fixed}")
            path = base
    if parts.scheme.lower() == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        warnings.append(f"the {what} {original} uses plain http: students' passwords and work would cross the network unencrypted; use https://")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path + "/", "", "")), warnings


# --- interfaces ----------------------------------------------------------------------------------


def interface_urlpath(interface: str, folder: str, path: str | None) -> str:
    """The urlpath that opens ``path`` (inside the cloned ``folder``) in ``interface``."""
    if interface in RETIRED_INTERFACES:
        raise _fail(RETIRED_INTERFACES[interface])
    if interface not in INTERFACE_PATHS:
        raise _fail(f"unknown interface {interface!r}; choose from {', '.join(INTERFACES)} (or give --urlpath)")
    target = _path_segment(folder + (f"/{path}" if path else ""))
    if interface == "lab":
        return f"lab/tree/{target}"
    if interface == "notebook":
        # Notebook 7 answers /tree/<file> by redirecting to the notebook (or file) view, and
        # /tree/<folder> with the listing.
        return f"tree/{target}"
    if interface == "rstudio":
        # RStudio cannot open a file from its URL; it starts in the home folder, where the folder is.
        return "rstudio/"
    if interface == "shiny":
        # shiny-server serves an app folder as shiny/<folder>/ (the trailing slash matters)
        return f"shiny/{target}/"
    # vscode: code-server opens an absolute folder given as ?folder=
    return "vscode/?" + _query([("folder", f"{VSCODE_HOME}/{folder}")])


def describe_urlpath(urlpath: str | None, folder: str) -> tuple[str | None, str | None]:
    """Undo :func:`interface_urlpath`: ``(interface, path)``, or ``(None, None)`` for a custom urlpath.

    """
    if urlpath is None:
        return None, None
    for interface in ("lab", "notebook", "rstudio", "shiny", "vscode"):
        base = interface_urlpath(interface, folder, None)
        if urlpath == base:
            return interface, None
        if interface in ("lab", "notebook") and urlpath.startswith(base + "/"):
            return interface, unquote(urlpath[len(base) + 1 :])
        if interface == "shiny" and urlpath.startswith(base) and urlpath.endswith("/"):
            return interface, unquote(urlpath[len(base) : -1])
    return None, None


# --- binder --------------------------------------------------------------------------------------


def _binder_spec(env_repo: str, ref: str) -> str:
    parts = urlsplit(env_repo)
    host = (parts.hostname or "").lower()
    path = parts.path.strip("/")
    if parts.scheme in ("http", "https") and host == "github.com" and path.count("/") == 1:
        owner, name = path.split("/")
        return f"gh/{owner}/{name.removesuffix('.git')}/{quote(ref, safe='')}"
    if parts.scheme in ("http", "https") and host == "gitlab.com" and "/" in path:
        return f"gl/{quote(path.removesuffix('.git'), safe='')}/{quote(ref, safe='')}"
    return f"git/{quote(env_repo, safe='')}/{quote(ref, safe='')}"


def _unbinder_spec(provider: str, spec: str) -> tuple[str, str]:
    if provider == "gh":
        owner, name, ref = spec.split("/", 2)
        return f"https://github.com/{owner}/{name}", unquote(ref)
    if provider in ("gl", "git"):
        encoded, _, ref = spec.rpartition("/")
        if provider == "gl":
            return f"https://gitlab.com/{unquote(encoded)}", unquote(ref)
        return unquote(encoded), unquote(ref)
    raise _fail(f"unsupported Binder provider {provider!r} (coursehub builds gh, gl and git)")


# --- the two public functions ---------------------------------------------------------------------


def link_url(f: LinkFields) -> str:
    """The URL for already-normalised fields (what :func:`parse_link` inverts)."""
    pull = [("repo", f.repo), ("urlpath", f.urlpath), ("branch", f.branch), ("targetpath", f.targetpath)]
    if f.launch == "binder":
        spec = _binder_spec(f.env_repo or "", f.env_branch or "HEAD")
        return f"{f.hub}v2/{spec}?" + _query([("urlpath", "git-pull?" + _query(pull))])
    server = f"{quote(f.server)}/" if f.server else ""
    redirect = f"hub/user-redirect/{server}git-pull?" + _query(pull)
    if f.launch == "lti":
        # The launch URL of LTI 1.1 and the target link URI of LTI 1.3 at once: ltiauthenticator's
        # 1.1 handler redirects to `next`; its 1.3 login initiation finds "next=" in the target link
        # and unquotes what follows once. `next` is fully form-encoded, so no "next=" hides inside it.
        prefix = urlsplit(f.hub).path
        return f"{f.hub}hub/lti/launch?" + _query([("next", prefix + redirect)])
    return f.hub + redirect


def build_link(
    *,
    hub: str | None = None,
    repo: str,
    branch: str | None = None,
    path: str | None = None,
    interface: str | None = None,
    urlpath: str | None = None,
    targetpath: str | None = None,
    server: str | None = None,
    launch: str = "hub",
    binder_url: str | None = None,
    env_repo: str | None = None,
    env_branch: str | None = None,
) -> Link:
    """Build an nbgitpuller link that opens ``path`` (a file or Shiny app folder in ``repo``).

    ``interface`` is a manifest interface name (default lab); ``urlpath`` overrides it with a custom
    path relative to the server. ``launch`` is ``hub`` (``/hub/user-redirect/git-pull``, optionally on
    the named ``server``), ``lti`` (``/hub/lti/launch?next=...``, what an LMS stores as the tool's launch
    URL; ``canvas`` is an alias) or ``binder`` (the content repo
    pulled into ``env_repo``'s image on the BinderHub at ``binder_url``). Raises
    :class:`CoursehubError` (exit 2) for anything that would give a dangerous or broken link; fixable
    slips are corrected and reported in ``Link.warnings``.
    """
    launch = LAUNCH_ALIASES.get(launch, launch)
    if launch not in LAUNCHES:
        raise _fail(f"unknown launch target {launch!r}; choose from {', '.join(LAUNCHES)}")
    warnings: list[str] = []
    repo, more, hints = check_repo(repo)
    warnings += more
    branch = check_branch(branch if branch else hints.get("branch"))
    if path is None and "path" in hints:
        path = hints["path"]
    path, more = check_file_path(path)
    warnings += more
    targetpath = check_targetpath(targetpath)
    server = check_server(server)
    folder = clone_folder(repo, targetpath)
    if folder in ("", ".", "..") or folder.startswith("-"):
        raise _fail(f"cannot tell which folder {repo} would be cloned into; give a target path")

    if urlpath is not None and urlpath.strip():
        if interface:
            raise _fail("give either an interface or a custom urlpath, not both")
        if path:
            raise _fail("a custom urlpath already says what opens; drop the path")
        urlpath = urlpath.strip().lstrip("/")
        if "://" in urlpath.split("?")[0]:
            raise _fail(f"the urlpath {urlpath!r} must be a path on the student's server, not a URL")
        if folder not in unquote(urlpath):
            warnings.append(f"the urlpath {urlpath!r} does not mention the folder {folder!r} the repository is cloned into")
    else:
        urlpath = interface_urlpath(interface or "lab", folder, path)

    if launch == "binder":
        if server:
            raise _fail("named servers are a JupyterHub feature; a Binder link cannot choose one")
        if not binder_url:
            raise _fail("a Binder link needs the BinderHub URL (--binder-url, e.g. https://mybinder.org)")
        if not env_repo:
            raise _fail("a Binder link needs the environment repository (--env-repo) whose image runs the content")
        hub_url, more = check_hub_url(binder_url, what="BinderHub")
        warnings += more
        env_repo, more, _ = check_repo(env_repo, what="environment repository")
        warnings += more
        env_branch = check_branch(env_branch, what="environment branch") or "HEAD"
        # BinderHub names the repository by provider (gh/gl/git); keep the spelling the link carries
        provider, _, spec = _binder_spec(env_repo, env_branch).partition("/")
        env_repo, env_branch = _unbinder_spec(provider, spec)
    else:
        if binder_url or env_repo or env_branch:
            raise _fail("--binder-url, --env-repo and --env-branch only apply to --launch binder")
        if not hub:
            raise _fail("the hub URL is required (--hub https://hub.example.edu)")
        hub_url, more = check_hub_url(hub)
        warnings += more
        env_repo = env_branch = None

    fields = LinkFields(
        launch=launch,
        hub=hub_url,
        repo=repo,
        branch=branch,
        urlpath=urlpath,
        targetpath=targetpath,
        server=server,
        env_repo=env_repo,
        env_branch=env_branch,
    )
    return Link(url=link_url(fields), fields=fields, warnings=warnings)


_PULL_KEYS = {"repo": "repo", "branch": "branch", "urlpath": "urlpath", "urlPath": "urlpath",
              "targetpath": "targetpath", "targetPath": "targetpath"}


def _pull_params(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise _fail(f"the link's query string is malformed ({exc})") from None
    for key, value in pairs:
        name = _PULL_KEYS.get(key)
        if name is None:
            raise _fail(f"unsupported nbgitpuller parameter {key!r}")
        if name in values:
            raise _fail(f"the nbgitpuller parameter {key!r} appears twice")
        values[name] = value
    if "repo" not in values:
        raise _fail("the link has no repo parameter")
    return values


def parse_link(url: str) -> LinkFields:
    """Parse an nbgitpuller link (hub, LTI or Binder) back into its fields.

    ``parse_link(build_link(...).url) == build_link(...).fields``. Raises :class:`CoursehubError`
    (exit 2) if ``url`` is not such a link.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(f"{url!r} is not an http(s) link")
    path = parts.path
    extra: dict[str, str | None] = {"server": None, "env_repo": None, "env_branch": None}
    if path.endswith("/hub/lti/launch"):
        launch = "lti"
        prefix = path[: -len("hub/lti/launch")]
        outer = dict(parse_qsl(parts.query, keep_blank_values=True))
        nxt = outer.get("next", "")
        if not nxt.startswith(prefix + "hub/user-redirect/"):
            raise _fail("the LTI link's next= does not go to this hub's user-redirect")
        inner_path, _, query = nxt.partition("?")
        tail = inner_path[len(prefix + "hub/user-redirect/") :]
    elif "/v2/" in path:
        launch = "binder"
        prefix, _, spec = path.partition("/v2/")
        prefix += "/"
        provider, _, rest = spec.partition("/")
        extra["env_repo"], extra["env_branch"] = _unbinder_spec(provider, rest)
        outer = dict(parse_qsl(parts.query, keep_blank_values=True))
        nxt = outer.get("urlpath", "")
        if not nxt.startswith("git-pull?"):
            raise _fail("the Binder link's urlpath does not run git-pull")
        tail, _, query = nxt.partition("?")
    elif "/hub/user-redirect/" in path:
        launch = "hub"
        prefix, _, tail = path.partition("hub/user-redirect/")
        query = parts.query
    else:
        raise _fail(f"{url!r} is not an nbgitpuller link (no /hub/user-redirect/, /hub/lti/launch or /v2/)")
    if launch != "binder":
        server, sep, rest = tail.rpartition("/")
        if rest != "git-pull":
            raise _fail("the link does not go to git-pull")
        extra["server"] = unquote(server) if sep else None
    values = _pull_params(query)
    hub = urlunsplit((parts.scheme, parts.netloc, prefix, "", ""))
    return LinkFields(
        launch=launch,
        hub=hub,
        repo=values["repo"],
        branch=values.get("branch") or None,
        urlpath=values.get("urlpath") or None,
        targetpath=values.get("targetpath") or None,
        **extra,
    )

