"""Per-course spawn settings, resolved inside the hub at spawn time.

This module is the runtime half of the hub configuration. It runs inside JupyterHub, where coursehub
itself may not be installed (a Zero to JupyterHub hub pod, a TLJH hub environment), so it uses the
standard library only and is shipped verbatim: as the single-machine ``jupyterhub_config.d`` snippet,
as a file mounted into the z2jh hub pod, and imported directly by the local hub. Everything specific
to a manifest comes in as data (the dict ``coursehub build`` writes to ``coursehub-courses.json`` and
to the Helm values' ``custom.coursehub``); nothing here is generated.

**One named server per course.** A user's server for a course is the JupyterHub named server whose
name is the course id (``/user/<name>/data-c8-fa26/``). The server's name alone decides the course:
there is no menu, and a student in two courses has two servers, each with its own course's image,
limits and idle culling, side by side. It plugs into JupyterHub's own hooks:

- ``JupyterHub.user_redirect_hook``: a link to ``/hub/user-redirect/<course>/...`` (what
  coursehub's assignment links use) goes to ``/hub/spawn/<user>/<course>?next=/user/<user>/<course>/...``,
  which starts that course's server when it is not running and then opens the page. Without the
  hook JupyterHub would send it to the user's *default* server (``/hub/user-redirect/`` is for the
  default server only; ``/user/<name>/<course>/`` of a server that does not exist yet is routed to
  the default server too).
- ``JupyterHub.named_server_limit_per_user``: one server per course the user belongs to (plus the
  servers they already have, so a server from an earlier term never blocks a new course). A server
  name that is not one of the user's courses is refused here, before JupyterHub records it.
- ``Spawner.apply_user_options`` resolves the course from the server's name, checks it against the
  user's groups and the dates (403 for a course that is not theirs, whoever asks: the spawn page, the
  REST API, an admin), and sets the course's image, default URL, limits, idle culling, environment,
  node selector, volumes, home-volume size and Jupyter configuration on the spawner. The default server (no name) gets
  the hub's defaults.
- ``JupyterHub.default_url``: a user with exactly one course in term lands in that course's server
  after logging in; anyone else on the hub's home page, which lists their servers. Its
  ``announcement_home`` (``JupyterHub.template_vars``) names each of the user's courses with a link to
  its server: a course's server exists only once first opened, so the list of servers misses the others.
- ``JupyterHub.load_groups`` / ``load_roles`` create the course groups and the staff roles; the roles
  of a course outside its dates are granted to nobody;
- with an ``lms`` section, JupyterHub's LTI authenticator (``jupyterhub-ltiauthenticator``) signs users
  in, and ``Authenticator.post_auth_hook`` puts each launching user in the groups of the course the
  launch came from, in the role the LMS gives (:class:`LtiLaunches`).

Loaded by JupyterHub as a config file (``c`` in its globals) it configures itself from the JSON file
beside its folder (or named by ``$COURSEHUB_COURSES``). Service tokens are read from root-only files:
``$COURSEHUB_SYNC_TOKEN_FILE`` for ``coursehub sync``, and ``$COURSEHUB_COLLECT_TOKEN_DIR/<service>``
for each course's ``coursehub-collect-<course>`` service.

One concern, however long: what coursehub does inside the hub. It stays one file because it is shipped
as one file (the TLJH ``jupyterhub_config.d`` snippet loads a single file, and the z2jh pod mounts one).
"""

import copy
import datetime
import fnmatch
import html
import json
import os
import re
import time
import unicodedata
from urllib.parse import quote, urlencode

#: Version of the data layout this runtime reads; the generator writes the same number.
DATA_VERSION = 2
#: Overrides "today" for the term-date checks. Only for tests and demos of a term that is over.
TODAY_ENV = "COURSEHUB_TODAY"
COURSES_ENV = "COURSEHUB_COURSES"
#: Where the Jupyter configuration folders of the course data (``jupyter_config``) are found on the
#: machine or in the pod that runs the single-user servers; ``$COURSEHUB_JUPYTER_CONFIG_ROOT`` moves it.
JUPYTER_CONFIG_ROOT = "/etc/coursehub/jupyter"
JUPYTER_CONFIG_ROOT_ENV = "COURSEHUB_JUPYTER_CONFIG_ROOT"
SHARED_DATA_VOLUME = "coursehub-shared-data"
#: Spawner attributes this runtime sets; their configured values are kept so a second spawn (maybe of
#: another course) starts from the configuration again instead of from the previous course.
_ATTRS = (
    "environment",
    "args",
    "default_url",
    "mem_limit",
    "mem_guarantee",
    "cpu_limit",
    "cpu_guarantee",
    "image",
    "node_selector",
    "volumes",
    "volume_mounts",
    "unit_extra_properties",
    "storage_capacity",
)


class CourseRefused(Exception):
    """The user asked for a server they cannot start (not one of their courses)."""


def today():
    """Today's date, or the date in ``$COURSEHUB_TODAY`` (YYYY-MM-DD) when set."""
    value = os.environ.get(TODAY_ENV)
    return datetime.date.fromisoformat(value) if value else datetime.date.today()


class CourseIndex:
    """The course data, indexed for fast look-ups at spawn time (group name -> course)."""

    def __init__(self, data, *, jupyter_config_root=None):
        if data.get("version") != DATA_VERSION:
            raise ValueError(
                f"coursehub course data has version {data.get('version')!r}, this runtime reads {DATA_VERSION}; "
                "rebuild with the same coursehub version"
            )
        self.data = data
        self.courses = data["courses"]
        self.defaults = data["defaults"]
        self.jupyter_config_root = jupyter_config_root or os.environ.get(JUPYTER_CONFIG_ROOT_ENV) or JUPYTER_CONFIG_ROOT
        self.course_of_group = {}
        self.role_of_group = {}
        self.dates = {}
        for course_id, course in self.courses.items():
            for role, group in course["groups"].items():
                self.course_of_group[group] = course_id
                self.role_of_group[group] = role
            self.dates[course_id] = (
                datetime.date.fromisoformat(course["start"]),
                datetime.date.fromisoformat(course["end"]),
            )

    def active(self, course_id, day):
        start, end = self.dates[course_id]
        return start <= day <= end

    def member_of(self, group_names):
        """Every course the groups belong to (students or staff), active or not, sorted."""
        return sorted({self.course_of_group[g] for g in group_names if g in self.course_of_group})

    def roles_in(self, group_names, course_id):
        """The user's roles in a course (``students``, ``instructors``, ``tas``), sorted."""
        return sorted({self.role_of_group[g] for g in group_names if self.course_of_group.get(g) == course_id})

    def in_term(self, group_names, day):
        """The user's own courses that are in term on ``day``, sorted by id."""
        return [c for c in self.member_of(group_names) if self.active(c, day)]

    def resolve(self, group_names, server_name, day):
        """``(course id or None, settings)`` for a server; raises :class:`CourseRefused`.

        The default server (``""``) gets the hub's defaults. A course server needs the user to be in
        the course (a student or its staff); outside the course's dates it gets the hub's defaults,
        so its owner can still reach their files but the course grants nothing.
        """
        if not server_name:
            return None, self.defaults
        if server_name not in self.member_of(group_names):
            raise CourseRefused(self.refusal(server_name))
        if not self.active(server_name, day):
            return None, self.defaults
        return server_name, self.courses[server_name]["settings"]

    def refusal(self, server_name):
        """Why a server name is refused, for the user to read.

        JupyterHub shows it as the HTTP reason phrase too, so it names no course title (free text) and
        shows any other name in ASCII.
        """
        if server_name in self.courses:
            return f"you are not enrolled in {server_name} or on its staff; ask its instructor to add you to the roster"
        return (
            f"{ascii(server_name)} is not a course on this hub: each of your servers is named after one of "
            "your courses (open it from the course's assignment links)"
        )

    # --- JupyterHub hooks ------------------------------------------------------------------------

    def apply_user_options(self, spawner, user_options):
        """``Spawner.apply_user_options``: the course comes from the server's name, never from options."""
        server_name = spawner.name or ""
        choice = user_options.get("course") if isinstance(user_options, dict) else None
        if choice is not None and choice != server_name:
            # the menu of earlier versions sent {"course": id}; a request that still does must not
            # start one course's server with another course's settings
            _forget_options(spawner)
            raise _http_error(
                400,
                f"the course is chosen by the server's name: start the server named {choice!r} "
                "(/hub/spawn/<user>/<course>, or POST /hub/api/users/<user>/servers/<course>)",
            )
        groups = _group_names(spawner)
        try:
            course_id, settings = self.resolve(groups, server_name, today())
        except CourseRefused as exc:
            _forget_options(spawner)
            raise _http_error(403, str(exc)) from None
        roles = self.roles_in(groups, course_id) if course_id else []
        apply_settings(spawner, course_id, settings, roles=roles, jupyter_config_root=self.jupyter_config_root)
        spawner.log.info(
            "coursehub: %s's server %r starts with the settings of %s", spawner.user.name, server_name, course_id or "the hub"
        )

    def user_redirect(self, path, request, user, base_url):
        """``JupyterHub.user_redirect_hook``: ``<course>/rest`` -> that course's server, started if needed.

        Any other path returns None: JupyterHub's own handling (the default server).
        """
        server_name, _, rest = path.partition("/")
        if server_name not in self.courses:
            return None
        target = f"{user.url}{server_name}/{quote(rest, safe='/~!$&()*+,;=:@')}"
        if request.query:
            target += "?" + request.query
        return f"{base_url}hub/spawn/{user.escaped_name}/{server_name}?" + urlencode({"next": target})

    def named_server_limit(self, handler):
        """``JupyterHub.named_server_limit_per_user``: one server per course the user belongs to.

        Servers the user already has that are not among their current courses (an earlier term's)
        are added, so they never block a new course's server. JupyterHub records a new named server
        before any spawn hook runs, so a request to create one whose name is not one of the target
        user's courses is refused here (403, with the reason), not after it was recorded.
        """
        from tornado import web

        current = handler.current_user
        if current is None:
            return 0
        args = [a.decode() if isinstance(a, bytes) else a for a in (handler.path_args or ())]
        if len(args) >= 2 and args[1]:
            target = current if getattr(current, "kind", "user") == "user" and args[0] == current.name else handler.find_user(args[0])
            if target is not None and args[1] not in target.orm_spawners:
                if args[1] not in self.member_of(g.name for g in target.groups):
                    raise web.HTTPError(403, self.refusal(args[1]), reason=self.refusal(args[1]))
        if getattr(current, "kind", "user") != "user" or current.admin:
            return 0  # a service (sync, an admin service) or an admin: no limit
        courses = set(self.member_of(g.name for g in current.groups))
        kept = [name for name in current.orm_spawners if name and name not in courses]
        return max(1, len(courses) + len(kept))

    def default_url(self, handler):
        """``JupyterHub.default_url``: the one course in term, else the home page listing the servers."""
        user = handler.current_user
        base = handler.hub.base_url
        if user is None:
            return base + "home"
        courses = self.in_term([g.name for g in user.groups], today())
        if len(courses) == 1:
            return f"{base}spawn/{user.escaped_name}/{courses[0]}"
        return base + "home"

    def home_courses(self, user):
        """HTML for JupyterHub's home page (its ``announcement_home``): the user's courses, each a link to its server.

        A course's server exists only once it was first opened, so the home page's own table of named
        servers does not list the others; these links open (or start) any of them.
        """
        if user is None:
            return ""
        courses = self.member_of(g.name for g in user.groups)
        if not courses:
            return ""
        base = user.settings.get("base_url", "/") if hasattr(user, "settings") else "/"
        day = today()
        items = []
        for course_id in courses:
            title = html.escape(str(self.courses[course_id].get("title") or course_id))
            href = html.escape(f"{base}hub/user-redirect/{quote(course_id)}/", quote=True)
            note = "" if self.active(course_id, day) else " (term over)"
            items.append(f'<a href="{href}">{title}</a> <code>{html.escape(course_id)}</code>{note}')
        return "Your courses: " + " · ".join(items)

    def load_roles(self, day):
        """The staff (and service) roles to load; a course out of term grants its roles to nobody."""
        roles = []
        for spec in self.data.get("roles", []):
            role = {k: copy.deepcopy(v) for k, v in spec.items() if k != "course"}
            if spec.get("course") and not self.active(spec["course"], day):
                role["groups"] = []
            roles.append(role)
        return roles


def _group_names(spawner):
    return [g.name for g in spawner.user.groups]


def _forget_options(spawner):
    # JupyterHub stores a request's options as the default for the server's next start; refused
    # options must not become the default that refuses every later start of the same server.
    orm_spawner = getattr(spawner, "orm_spawner", None)
    if orm_spawner is not None and getattr(orm_spawner, "user_options", None):
        from sqlalchemy.orm import object_session

        orm_spawner.user_options = {}
        session = object_session(orm_spawner)
        if session is not None:
            session.commit()
    spawner.user_options = {}


def _http_error(status, message):
    from tornado import web

    return web.HTTPError(status, message, reason=message)


def _snapshot(spawner):
    base = spawner.__dict__.get("_coursehub_base")
    if base is None:
        base = {a: copy.deepcopy(getattr(spawner, a)) for a in _ATTRS if spawner.has_trait(a)}
        spawner.__dict__["_coursehub_base"] = base
    return copy.deepcopy(base)


def idle_args(seconds):
    """jupyter-server options that cull idle kernels and terminals, then shut the idle server down.

    The hub-wide idle culler has one timeout for everybody; these run inside the server, so each
    course gets its own, and each of a user's course servers is culled on its own. ``cull_connected``
    because students leave tabs open: an open tab with nothing running is idle.
    """
    interval = max(30, min(300, seconds // 4))
    return [
        f"--ServerApp.shutdown_no_activity_timeout={seconds}",
        f"--MappingKernelManager.cull_idle_timeout={seconds}",
        f"--MappingKernelManager.cull_interval={interval}",
        "--MappingKernelManager.cull_connected=True",
        f"--TerminalManager.cull_inactive_timeout={seconds}",
        f"--TerminalManager.cull_interval={interval}",
    ]


def _literal(spawner, text):
    # KubeSpawner expands {username}-style templates in environment values and volumes; course data
    # is literal text, so its braces are doubled to come out as written.
    if hasattr(spawner, "_expand_user_properties"):
        return text.replace("{", "{{").replace("}", "}}")
    return text


def _literal_tree(spawner, value):
    if isinstance(value, str):
        return _literal(spawner, value)
    if isinstance(value, dict):
        return {k: _literal_tree(spawner, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_tree(spawner, v) for v in value]
    return value


def apply_settings(spawner, course_id, settings, *, roles=(), jupyter_config_root=JUPYTER_CONFIG_ROOT):
    """Set a course's settings (or the hub's defaults, ``course_id`` None) on ``spawner``.

    ``roles`` are the user's roles in the course: volumes meant for some roles only (nbgrader's
    course directory, for its graders) are mounted for those.
    """
    base = _snapshot(spawner)
    for name, value in base.items():
        setattr(spawner, name, value)
    spawner.default_url = settings["default_url"]
    for name in ("mem_limit", "mem_guarantee", "cpu_limit", "cpu_guarantee"):
        if settings.get(name) is not None:
            setattr(spawner, name, settings[name])
    env = dict(base["environment"])
    env.update({k: _literal(spawner, v) for k, v in (settings.get("environment") or {}).items()})
    env["COURSEHUB_COURSE"] = course_id or ""
    env["COURSEHUB_IMAGE"] = settings.get("image_key") or ""
    if settings.get("jupyter_config"):
        # Jupyter reads $JUPYTER_CONFIG_PATH before its own folders: the course's folder turns
        # extensions on or off (nbgrader's menus only in nbgrader courses) and holds its nbgrader_config.
        folder = jupyter_config_root.rstrip("/") + "/" + settings["jupyter_config"]
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (folder, env.get("JUPYTER_CONFIG_PATH")) if p)
    if settings.get("idle_timeout"):
        spawner.args = list(base["args"]) + idle_args(int(settings["idle_timeout"]))
    # Only spawners that run images (KubeSpawner, DockerSpawner) have one; a single machine has one
    # environment for everybody.
    if "image" in base and settings.get("image"):
        spawner.image = settings["image"]
    # KubeSpawner only: the size of the home volume it creates for this server. Unix homes on a single
    # machine have no per-user size; a disk quota there is the system's job.
    if "storage_capacity" in base and settings.get("storage_capacity"):
        spawner.storage_capacity = settings["storage_capacity"]
    if "node_selector" in base and settings.get("node_selector"):
        spawner.node_selector = {**base["node_selector"], **settings["node_selector"]}
    volumes, mounts = [], []
    shared = settings.get("shared_data")
    if shared:
        env["COURSEHUB_SHARED_DATA"] = _literal(spawner, shared["mount_path"])
        if "volumes" in base and "volume_mounts" in base:
            volumes.append(
                {
                    "name": SHARED_DATA_VOLUME,
                    "persistentVolumeClaim": {"claimName": _literal(spawner, shared["volume"]), "readOnly": shared["read_only"]},
                }
            )
            mounts.append({"name": SHARED_DATA_VOLUME, "mountPath": _literal(spawner, shared["mount_path"]), "readOnly": shared["read_only"]})
        elif "unit_extra_properties" in base:
            # SystemdSpawner: systemd bind-mounts the directory into the user's unit.
            key = "BindReadOnlyPaths" if shared["read_only"] else "BindPaths"
            spawner.unit_extra_properties = {
                **base["unit_extra_properties"],
                key: f"{shared['volume']}:{shared['mount_path']}",
            }
    if "volumes" in base and "volume_mounts" in base:
        # Kubernetes volumes of the course (nbgrader's exchange and course directory), each for
        # the roles it names
        for volume in settings.get("volumes") or []:
            if volume.get("roles") and not set(volume["roles"]) & set(roles):
                continue
            volumes.append({"name": volume["name"], **_literal_tree(spawner, volume["source"])})
            mounts.append({"name": volume["name"], "mountPath": _literal(spawner, volume["mount_path"]), "readOnly": volume["read_only"]})
        if volumes:
            spawner.volumes = list(base["volumes"]) + volumes
            spawner.volume_mounts = list(base["volume_mounts"]) + mounts
    spawner.environment = env
    _own_systemd_unit(spawner)


def _own_systemd_unit(spawner):
    # SystemdSpawner names a user's unit from the user alone (jupyter-<user>-singleuser) and, finding
    # that unit running when a server starts, stops it: a student's second course server would kill
    # the first. Each named server gets its own unit.
    template = getattr(spawner, "unit_name_template", None)
    if template is None or not hasattr(spawner, "_expand_user_vars") or not spawner.name:
        return
    spawner.unit_name = f"{spawner._expand_user_vars(template)}-{spawner.name}"


# --- usernames -------------------------------------------------------------------------------------
# The rules live here because the hub applies them to LMS logins where coursehub is not installed;
# coursehub.manifest.usernames re-exports them for rosters, so both normalise a name the same way.


# Most names are plain ASCII logins; those need none of the character-by-character checks below.
_PLAIN_USERNAME = re.compile(r"[a-z0-9_.@+][a-z0-9_.@+-]*")


def normalize_username(name):
    """The name JupyterHub will store: surrounding blanks removed, lowercased."""
    name = str(name)
    if name.isascii():  # NFC changes nothing in ASCII, and almost every login is ASCII
        return name.strip().lower()
    return unicodedata.normalize("NFC", name.strip()).lower()


def username_problem(name):
    """Why ``name`` (already normalised) is not a username JupyterHub accepts, or ``None``."""
    if _PLAIN_USERNAME.fullmatch(name) and name.strip(".") and len(name) <= 253:
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


# --- sign-in from the LMS (LTI) --------------------------------------------------------------------

LTI13_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
#: Course roles in the order they are tried: a sub-role comes with its principal role (a TA is sent as
#: Instructor and Instructor#TeachingAssistant), so the less privileged, more specific one wins.
ROLE_ORDER = ("tas", "instructors", "students")


class LaunchRefused(Exception):
    """The launch is signed but must not sign anyone in (replayed, another deployment, no username)."""


class LtiLaunches:
    """``Authenticator.post_auth_hook`` for LTI launches: the LMS course and role -> coursehub's groups.

    The authenticator has already checked the launch (LTI 1.3: the platform's signature, audience,
    expiry, state and nonce cookie; LTI 1.1: the OAuth signature, timestamp and nonce). This hook then

    - refuses any sign-in that did not come through the authenticator's launch handler;
    - refuses a replayed LTI 1.3 id_token (its nonce seen before, until it expires) and launches from a
      deployment the manifest does not list;
    - takes the username from the configured claim (never the authenticator's fallback to ``sub``),
      normalised with the roster rules;
    - finds the course whose context id (else label pattern) is the launch's, and the role, and adds
      the user to the course's groups for that role and to the launch record ``lti-<course>-<role>``
      (leaving the course's groups of other roles). A course that has ended joins nobody; a launch
      from an LMS course no course lists, or with no course role, signs in with the hub's defaults.
    """

    def __init__(self, lms, index, *, clock=time.time):
        self.lms = lms
        self.index = index
        self.clock = clock
        self.seen_nonces = {}

    def _claim(self, state, key):
        if self.lms["version"] == "1.3" and key.startswith("custom_"):
            return (state.get(LTI13_CLAIM + "custom") or {}).get(key[len("custom_"):])
        return state.get(key)

    def read(self, state):
        """``(username, context id, context label, roles, LMS user id)`` of a launch (its auth_state)."""
        name = self._claim(state, self.lms["username_claim"])
        if not isinstance(name, str) or not name.strip():
            raise LaunchRefused(f"the launch carries no {self.lms['username_claim']!r} (the tool's custom field is missing)")
        name = normalize_username(name)
        problem = username_problem(name)
        if problem:
            raise LaunchRefused(problem)
        if self.lms["version"] == "1.3":
            context = state.get(LTI13_CLAIM + "context") or {}
            roles = state.get(LTI13_CLAIM + "roles") or []
            return name, context.get("id"), context.get("label"), [r for r in roles if isinstance(r, str)], state.get("sub")
        roles = [r.strip() for r in str(state.get("roles") or "").split(",") if r.strip()]
        return name, state.get("context_id"), state.get("context_label"), roles, state.get("user_id")

    def check_lti13(self, state):
        """Refuse a replayed id_token and a deployment the manifest does not list."""
        deployments = self.lms.get("deployment_ids") or []
        if deployments and state.get(LTI13_CLAIM + "deployment_id") not in deployments:
            raise LaunchRefused(f"deployment {state.get(LTI13_CLAIM + 'deployment_id')!r} is not one the manifest lists")
        now = self.clock()
        for nonce, expires in list(self.seen_nonces.items()):
            if expires < now:
                del self.seen_nonces[nonce]
        nonce = state.get("nonce")
        if not nonce or nonce in self.seen_nonces:
            raise LaunchRefused("the id_token's nonce was already used (a replayed launch)")
        self.seen_nonces[nonce] = float(state.get("exp") or now + 3600)

    def course_for(self, context_id, label):
        """The course a launch's context leads to: its id exactly, else the one label pattern it matches."""
        if context_id is not None and context_id in self.lms["contexts"]:
            return self.lms["contexts"][context_id]
        matches = {course for pattern, course in self.lms["labels"] if label and fnmatch.fnmatchcase(label, pattern)}
        return matches.pop() if len(matches) == 1 else None

    def role_for(self, roles):
        for role in ROLE_ORDER:
            if set(roles) & set(self.lms["roles"][role]):
                return role
        return None

    @staticmethod
    def from_launch_handler(authenticator, handler):
        """Whether the login came through the authenticator's own launch handler.

        JupyterHub's generic ``POST /hub/login`` calls the same ``authenticate`` with the posted form,
        and ``LTI13Authenticator`` takes whatever it is given as the verified id_token: without this
        check anyone could post ``sub=<victim>`` (or the configured claim) there and be signed in.
        """
        try:
            launch_handlers = tuple(cls for _, cls in authenticator.get_handlers(None))
        except Exception:  # an authenticator whose handlers need the app: refuse rather than guess
            return False
        return isinstance(handler, launch_handlers)

    def post_auth_hook(self, authenticator, handler, auth_model):
        log = authenticator.log
        state = auth_model.get("auth_state") or {}
        if not self.from_launch_handler(authenticator, handler):
            log.warning("coursehub: sign-in through %s refused: only LMS launches sign in", type(handler).__name__)
            return None
        try:
            if self.lms["version"] == "1.3":
                self.check_lti13(state)
            name, context_id, label, roles, lms_user = self.read(state)
        except LaunchRefused as exc:
            log.warning("coursehub: LTI launch refused: %s", exc)
            return None
        auth_model["name"] = name
        course_id = self.course_for(context_id, label)
        if course_id is None:
            log.warning(
                "coursehub: %s launched from LMS course %r (%r), which no course lists: hub defaults only",
                name, context_id, label,
            )
            return auth_model
        role = self.role_for(roles)
        if role is None:
            log.warning("coursehub: %s launched %s with LMS roles %r, none a course role: not joined", name, course_id, roles)
            return auth_model
        if today() > self.index.dates[course_id][1]:
            log.warning("coursehub: %s launched %s, which has ended: not joined", name, course_id)
            return auth_model
        self.join(handler, name, course_id, role, lms_user)
        log.info("coursehub: %s launched %s as %s", name, course_id, role)
        return auth_model

    def join(self, handler, name, course_id, role, lms_user=None):
        """Put ``name`` in the course's groups for ``role`` (and its launch record), out of the others.

        The launch record also keeps the user's LMS user id (LTI 1.3 ``sub``, 1.1 ``user_id``) in its
        ``coursehub.lms_user_ids`` property: grade passback addresses students by it.
        """
        from jupyterhub import orm

        course = self.lms["courses"][course_id]
        keep = set(course["join"][role]) | {course["record"][role]}
        leave = {g for r, groups in course["join"].items() if r != role for g in groups + [course["record"][r]]} - keep
        db = handler.db
        user = handler.user_from_username(name).orm_user
        for group_name in sorted(keep):
            group = orm.Group.find(db, group_name)
            if group is None:
                group = orm.Group(name=group_name)
                db.add(group)
            if group not in user.groups:
                user.groups.append(group)
        for group in list(user.groups):
            if group.name in leave:
                user.groups.remove(group)
        record = orm.Group.find(db, course["record"][role])
        meta = dict((record.properties or {}).get("coursehub") or {})
        ids = dict(meta.get("lms_user_ids") or {})
        if lms_user and ids.get(name) != lms_user:
            ids[name] = str(lms_user)
            meta.update(course=course_id, role=role, lms_user_ids=ids)
            # a new dict: the JSON column is not mutation-tracked
            record.properties = {**(record.properties or {}), "coursehub": meta}
        db.commit()


def read_secret(source):
    """A secret from the environment variable or file the manifest names (never from the manifest)."""
    if source.get("secret_env"):
        value = os.environ.get(source["secret_env"], "")
        where = f"${source['secret_env']}"
    else:
        with open(source["secret_file"], encoding="utf-8") as f:
            value = f.read()
        where = source["secret_file"]
    if not value.strip():
        raise ValueError(f"coursehub: the LTI shared secret in {where} is empty")
    return value.strip()


def configure_lms(c, data, index):
    """Sign in with JupyterHub's LTI authenticator and join launches to their course (``data["lms"]``)."""
    lms = data.get("lms")
    if not lms:
        return None
    auth = lms["authenticator"]
    c.JupyterHub.authenticator_class = auth["class"]
    section = c[auth["class"].rpartition(".")[2]]
    for key, value in auth["config"].items():
        section[key] = copy.deepcopy(value)
    if lms["version"] == "1.1":
        section.consumers = {lms["consumer_key"]: read_secret(lms)}
    # Whoever the LMS vouches for may sign in; what they get is decided by their groups.
    c.Authenticator.allow_all = True
    launches = LtiLaunches(lms, index)
    c.Authenticator.post_auth_hook = launches.post_auth_hook
    if data["hub"]["url"].startswith("https://"):
        # The LMS posts the launch from its own site: the login state cookies must travel with a
        # cross-site POST, which browsers allow only for SameSite=None (and so Secure) cookies.
        settings = dict(c.JupyterHub.tornado_settings) if "tornado_settings" in c.JupyterHub else {}
        settings["cookie_options"] = {**settings.get("cookie_options", {}), "SameSite": "None", "Secure": True}
        c.JupyterHub.tornado_settings = settings
    return launches


def configure(c, data, *, spawner_section="Spawner", jupyter_config_root=None):
    """Fill the traitlets config ``c`` from the course data: named servers, spawn hooks, groups, roles and LMS sign-in.

    Groups and roles are added to whatever the configuration already loads (z2jh loads its own
    roles for its services).
    """
    index = CourseIndex(data, jupyter_config_root=jupyter_config_root)
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = index.named_server_limit
    c.JupyterHub.user_redirect_hook = index.user_redirect
    c.JupyterHub.default_url = index.default_url
    template_vars = dict(c.JupyterHub.template_vars) if "template_vars" in c.JupyterHub else {}
    own = template_vars.get("announcement_home")
    if isinstance(own, str) and own:  # the operator's announcement stays, above the courses
        template_vars["announcement_home"] = lambda user: own + ("<br>" + index.home_courses(user) if user else "")
    else:
        template_vars["announcement_home"] = index.home_courses
    c.JupyterHub.template_vars = template_vars
    section = c[spawner_section]
    section.apply_user_options = index.apply_user_options
    groups = dict(c.JupyterHub.load_groups) if "load_groups" in c.JupyterHub else {}
    groups.update(copy.deepcopy(data.get("groups", {})))
    c.JupyterHub.load_groups = groups
    roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    mine = index.load_roles(today())
    names = {r["name"] for r in mine}
    c.JupyterHub.load_roles = [r for r in roles if r["name"] not in names] + mine
    configure_lms(c, data, index)
    return index


def add_service(c, role, token):
    """Define the service ``role`` is granted to, with ``token``, and load the role."""
    role = copy.deepcopy(role)
    services = [s for s in (c.JupyterHub.services if "services" in c.JupyterHub else []) if s["name"] != role["services"][0]]
    c.JupyterHub.services = services + [{"name": role["services"][0], "api_token": token}]
    roles = [r for r in (c.JupyterHub.load_roles if "load_roles" in c.JupyterHub else []) if r["name"] != role["name"]]
    c.JupyterHub.load_roles = roles + [role]


def add_sync_service(c, data, token):
    """Define the roster-sync service with ``token`` and grant it its least-privilege role."""
    add_service(c, data["sync_role"], token)


def add_collect_services(c, data, tokens):
    """Define each course's collect service that has a token in ``tokens`` (service name -> token)."""
    for role in data.get("collect_roles", []):
        token = tokens.get(role["services"][0])
        if token:
            add_service(c, role, token)


def read_token_dir(folder):
    """Service name -> token, from the files of a root-only folder (one file per service, named for it)."""
    tokens = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            tokens[name] = f.read().strip()
    return tokens


def load_data(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _default_data_path(config_file):
    # hub/single-machine/jupyterhub_config.d/coursehub.py -> hub/single-machine/coursehub-courses.json
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(config_file))), "coursehub-courses.json")


# Loaded by JupyterHub as a configuration file (TLJH's jupyterhub_config.d): configure the hub.
# The sync service's token is read from a file (root-only) so it is never in the config itself.
if type(globals().get("c")).__name__ == "Config" and "__file__" in globals():
    _data = load_data(os.environ.get(COURSES_ENV) or _default_data_path(__file__))
    configure(globals()["c"], _data)
    if os.environ.get("COURSEHUB_SYNC_TOKEN_FILE"):
        with open(os.environ["COURSEHUB_SYNC_TOKEN_FILE"], encoding="utf-8") as _f:
            add_sync_service(globals()["c"], _data, _f.read().strip())
    if os.environ.get("COURSEHUB_COLLECT_TOKEN_DIR"):
        add_collect_services(globals()["c"], _data, read_token_dir(os.environ["COURSEHUB_COLLECT_TOKEN_DIR"]))
