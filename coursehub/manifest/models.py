"""The course manifest: the pydantic models that are coursehub's single source of truth.

Every field is described here once; the JSON Schema (``coursehub schema``), the reference pages of the
guide site and the editor completion all come from these descriptions. Unknown keys are refused
(``extra="forbid"``) so a misspelt key is an error, not a silently ignored setting.

One concern, however long: the manifest's shape. Every section of the manifest is a model here so
that the schema, the reference pages and the validation come from one file; behaviour lives elsewhere.

Cross-field rules (an image key that does not exist, a limit below its guarantee after the course's
overrides are merged with the hub's defaults, a term that ends before it starts) live in
:mod:`coursehub.manifest.rules`, which reports them with the exact path of the offending value.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from coursehub.manifest.units import format_duration, format_size, parse_duration, parse_size

# --- value types -----------------------------------------------------------------------------------

ByteSize = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMGTkmgt]i?)?[Bb]?\s*$"},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A size: 512M, 1.5G, 2Gi (K/M/G/T are powers of 1024, as in JupyterHub), or bytes.",
        }
    ),
]
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[smhdwSMHDW]?\s*$"},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A duration: 45s, 30m, 1h, 2d, 1w, or seconds.",
        }
    ),
]

def _not_zero(n: int) -> int:
    if n == 0:
        raise ValueError("a size of 0 leaves a server nothing to run in; leave the key out to use the default")
    return n


#: A memory amount a server or machine really gets: a size, and never 0.
MemorySize = Annotated[ByteSize, AfterValidator(_not_zero)]

SLUG_RE = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
Slug = Annotated[str, Field(pattern=SLUG_RE, max_length=48)]
#: Image keys become folder names under images/ and image names in a registry (lowercase, '.', '_', '-').
IMAGE_KEY_RE = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"
ImageKey = Annotated[str, Field(pattern=IMAGE_KEY_RE, max_length=48)]

# Bounds on free text: manifest text is copied into every generated page and file, so a 1 MB title
# would make a tree of tens of MB. Each bound is far above any real value of its kind.
#: C0 and C1 control characters and the Unicode line separators.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _control_free(allowed: str = ""):
    keep = set(allowed)

    def check(text: str) -> str:
        # An escape sequence in a title would reach every terminal that prints a summary, and a newline
        # in a name would start a forged line in a log or a CSV file.
        for found in _CONTROL_RE.finditer(text):
            if found.group() not in keep:
                raise ValueError(f"the text contains the control character {found.group()!r}; remove it")
        return text

    return AfterValidator(check)


_no_control = _control_free()


# A title may span lines (YAML's folded `>` ends it with a newline); no other control characters.
Title = Annotated[str, Field(min_length=1, max_length=200), _control_free("\n\t")]
#: usernames, branches, columns, node and label names
Name = Annotated[str, Field(max_length=253), _no_control]
Url = Annotated[str, Field(max_length=2048), _no_control]  # what browsers and servers reliably accept
FilePath = Annotated[str, Field(max_length=1024), _no_control]
#: POSIX environment variable names; the values are at most 32K (far below the kernel's limits).
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
EnvValue = Annotated[str, Field(max_length=32768)]
# Kubernetes label keys ([prefix/]name) and values.
LabelKey = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", max_length=317)]
LabelValue = Annotated[str, Field(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", max_length=63)]
Requirement = Annotated[str, Field(max_length=200), _no_control]
Interface = Literal["lab", "notebook", "rstudio", "shiny", "vscode"]
#: Interface names the manifest no longer takes, and why (the validation message says it).
RETIRED_INTERFACES = {
    "classic": (
        "the classic interface was dropped: the standard images ship Notebook 7 and no nbclassic, so a "
        "classic link opened Notebook 7 anyway; use notebook (the same /tree/ URLs, maintained)"
    ),
}

#: The URL path a single-user server opens for each interface (what nbgitpuller's ``urlpath`` starts
#: with, and JupyterHub's ``Spawner.default_url``).
INTERFACE_PATHS: dict[str, str] = {
    "lab": "lab",
    "notebook": "tree",  # Notebook 7
    "rstudio": "rstudio",
    "shiny": "shiny",
    "vscode": "vscode",
}


class _Model(BaseModel):
    # .inf/.nan are never a number of cores, points or prices
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True, allow_inf_nan=False)


# --- hub-wide pieces -------------------------------------------------------------------------------


class GuaranteeLimit(_Model):
    """A guarantee (reserved for the server, used to pack servers onto machines) and a limit (the
    most the server may use)."""

    guarantee: MemorySize | None = Field(None, description="Reserved for each server; what the scheduler packs by.")
    limit: MemorySize | None = Field(None, description="The most one server may use; above it the kernel is killed.")


class CpuGuaranteeLimit(_Model):
    """CPU guarantee and limit, in cores (0.5 is half a core)."""

    guarantee: float | None = Field(None, ge=0, description="Cores reserved for each server.")
    limit: float | None = Field(None, gt=0, description="The most cores one server may use.")


class Resources(_Model):
    """What one student's server gets. On the hub these are the defaults; on a course every field is
    optional and overrides the hub's value."""

    memory: GuaranteeLimit = Field(default_factory=GuaranteeLimit, description="Memory guarantee and limit.")
    cpu: CpuGuaranteeLimit = Field(default_factory=CpuGuaranteeLimit, description="CPU guarantee and limit in cores.")
    idle_timeout: Duration | None = Field(
        None, description="Shut a server down after this long without activity (per course, enforced in the server)."
    )
    storage: ByteSize | None = Field(
        None,
        description="Home-directory size per student (the volume KubeSpawner creates for the student's server; "
        "on a single machine a planning figure, not enforced). Default: the hub's, else 10G.",
    )


DEFAULT_RESOURCES = {
    # 512M/1G and 0.05/1 core are the Data 8 style defaults most hubs start from: a notebook with
    # pandas fits comfortably in 1G, and guarantees well below limits let idle students share nodes.
    "memory": {"guarantee": "512M", "limit": "1G"},
    "cpu": {"guarantee": 0.05, "limit": 1},
    "idle_timeout": "30m",
}
#: Home-directory size when neither the course nor the hub sets ``resources.storage``: Zero to
#: JupyterHub's own default (``singleuser.storage.capacity: 10Gi``), so an unset manifest plans for
#: what the chart would create anyway.
DEFAULT_HOME_STORAGE = 10 * 1024**3


# --- the LMS (LTI) ---------------------------------------------------------------------------------

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership"
#: LTI 1.3 sends LIS v2 membership role URIs; LTI 1.1 sends the short names or ``urn:lti:role:ims/lis/``
#: URNs. Only *membership* (course) roles are listed: institution roles (a faculty member launching a
#: course they do not teach) grant nothing in the course.
DEFAULT_LMS_ROLES: dict[str, list[str]] = {
    "instructors": [f"{_LIS}#Instructor", "Instructor", "urn:lti:role:ims/lis/Instructor"],
    "tas": [
        f"{_LIS}/Instructor#TeachingAssistant",
        "TeachingAssistant",
        "urn:lti:role:ims/lis/TeachingAssistant",
        "urn:lti:role:ims/lis/Instructor/TeachingAssistant",
    ],
    "students": [f"{_LIS}#Learner", "Learner", "urn:lti:role:ims/lis/Learner"],
}


class LmsRoles(_Model):
    """Which LMS roles make a launching user an instructor, a TA or a student of the course.

    Checked in the order tas, instructors, students: an LMS sends a sub-role together with its
    principal role (a TA as ``Instructor`` and ``Instructor#TeachingAssistant``), and the sub-role must
    win. A launch with none of these roles joins no course.
    """

    instructors: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LMS_ROLES["instructors"]),
        description="LMS roles of instructors (default: LIS Instructor, as a URI, short name and LTI 1.1 URN).",
    )
    tas: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LMS_ROLES["tas"]),
        description="LMS roles of TAs (default: LIS Instructor#TeachingAssistant and its LTI 1.1 spellings).",
    )
    students: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LMS_ROLES["students"]),
        description="LMS roles of students (default: LIS Learner, as a URI, short name and LTI 1.1 URN).",
    )


class Lti13(_Model):
    """The LMS as an LTI 1.3 platform: the values its tool registration (Canvas: developer key) shows."""

    issuer: str = Field(description="The platform's issuer (`iss`), e.g. https://canvas.instructure.com.")
    client_id: str = Field(description="The tool's client id at the platform (Canvas: the developer key's id).")
    deployment_ids: list[str] = Field(
        default_factory=list,
        description="Deployments whose launches are accepted; empty: any deployment of this client id.",
    )
    auth_url: str = Field(
        description="The platform's OIDC authorization endpoint "
        "(Canvas: https://sso.canvaslms.com/api/lti/authorize_redirect)."
    )
    jwks_url: str = Field(
        description="The platform's public keys (JWKS), which sign its launches "
        "(Canvas: https://sso.canvaslms.com/api/lti/security/jwks)."
    )
    token_url: str | None = Field(
        None,
        description="The platform's OAuth2 token endpoint, for grade passback "
        "(Canvas: https://sso.canvaslms.com/login/oauth2/token).",
    )
    username_claim: str = Field(
        "custom_login_id",
        description="The id_token claim that is the hub username, normalised like roster usernames. "
        "`custom_X` reads X from the custom claim: the generated tool configuration asks Canvas for "
        "`login_id=$Canvas.user.loginId` (Moodle: `login_id=$User.username`), the same login ids rosters use.",
    )
    tool_public_key: str | None = Field(
        None,
        description="The tool's public key (PEM, relative to the manifest): the JWK `coursehub build` puts in "
        "the tool configuration, with which the platform checks grade passback requests.",
    )
    private_key_env: str = Field(
        "COURSEHUB_LTI_PRIVATE_KEY",
        description="Environment variable holding the tool's private key (PEM) for `grades push`; "
        "`private_key_file` wins when given.",
    )
    private_key_file: str | None = Field(
        None, description="File holding the tool's private key (PEM) for `grades push`, read only by that command."
    )


class Lti11(_Model):
    """The LMS as an LTI 1.1 tool consumer: a consumer key and a shared secret."""

    consumer_key: str = Field(description="The consumer key the LMS signs launches with.")
    secret_env: str | None = Field(
        None, description="Environment variable of the hub holding the shared secret (never the secret itself)."
    )
    secret_file: str | None = Field(
        None, description="File on the hub holding the shared secret (root-only), instead of `secret_env`."
    )
    username_key: str = Field(
        "custom_login_id",
        description="The launch parameter that is the hub username, normalised like roster usernames "
        "(custom field `login_id=$Canvas.user.loginId`; Moodle: `login_id=$User.username`).",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> Lti11:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("give the shared secret's source: exactly one of secret_env or secret_file")
        return self


class HubLms(_Model):
    """Sign-in from the LMS: JupyterHub's LTI authenticator, with LTI 1.3 or 1.1 (one of the two)."""

    lti13: Lti13 | None = Field(None, description="LTI 1.3 (LTI Advantage) platform settings.")
    lti11: Lti11 | None = Field(None, description="LTI 1.1 consumer settings (legacy LMS set-ups).")
    roles: LmsRoles = Field(default_factory=LmsRoles, description="LMS roles -> course roles.")
    tool_title: str | None = Field(None, description="The tool's name in the LMS; default: the hub's name.")

    @model_validator(mode="after")
    def _one_version(self) -> HubLms:
        if (self.lti13 is None) == (self.lti11 is None):
            raise ValueError("give exactly one of lti13 or lti11 (the hub runs one LTI authenticator)")
        return self

    @property
    def version(self) -> str:
        return "1.3" if self.lti13 is not None else "1.1"


class CourseLms(_Model):
    """The LMS course (LTI context) this course is taught in: launches from it land in this course."""

    context_id: str | None = Field(None, description="The LTI context id of the LMS course (exact match).")
    context_label: str | None = Field(
        None,
        description="A pattern for the context label (course code), `*` and `?` as wildcards: "
        "`DATA C8 *` takes every section. Used when no course lists the launch's context_id.",
    )
    lineitems: str | None = Field(
        None,
        description="The course's AGS line items URL, for `grades push` "
        "(Canvas: https://<canvas>/api/lti/courses/<course id>/line_items).",
    )

    @model_validator(mode="after")
    def _some_context(self) -> CourseLms:
        if not (self.context_id or self.context_label):
            raise ValueError("say which LMS course this is: context_id or context_label")
        return self


class NfsExport(_Model):
    """An NFS export, mounted straight into the pods (no PersistentVolumeClaim needed)."""

    server: Name = Field(description="NFS server, a host name or address (nfs.example.edu).")
    path: FilePath = Field(description="Exported folder (absolute, /exports/nbgrader); nbgrader's folders are made under it.")


class NbgraderStorage(_Model):
    """Where nbgrader courses keep their shared exchange and course directories on Kubernetes.

    Every nbgrader course's servers mount the exchange (students submit, staff release and collect);
    its instructors' and TAs' servers also mount the course's own directory (sources, submissions,
    gradebook). Both need storage every server can write at once (ReadWriteMany).
    """

    storage_class: Name | None = Field(
        None,
        description="Storage class for the ReadWriteMany volumes coursehub claims (one exchange, one course directory "
        "per nbgrader course; hub/z2jh/nbgrader-volumes.yaml); default: the cluster's default class.",
    )
    exchange_size: ByteSize = Field("10G", description="Size of the exchange volume claimed from the storage class.")
    course_size: ByteSize = Field("10G", description="Size of each course directory volume claimed from the storage class.")
    nfs: NfsExport | None = Field(
        None,
        description="Use an NFS export instead of claimed volumes: exchange/ and courses/<course>/ under its path.",
    )


class Hub(_Model):
    """The shared hub every course runs on."""

    name: Slug = Field(description="Short name of the hub, used in generated file names and the guide site.")
    url: Url = Field(description="Public URL of the hub (https://hub.example.edu); links are built against it.")
    interface: Interface = Field("lab", description="Default interface: lab, notebook, rstudio, shiny or vscode.")
    image: Name = Field(description="Default image: a key of `images`.")
    resources: Resources = Field(
        default_factory=lambda: Resources.model_validate(DEFAULT_RESOURCES),
        description="Default per-student server resources.",
    )
    admins: list[Name] = Field(default_factory=list, description="Hub administrators (college IT), by username.")
    lms: HubLms | None = Field(None, description="Sign-in from the LMS over LTI; without it the hub keeps its own login.")
    nbgrader_storage: NbgraderStorage = Field(
        default_factory=NbgraderStorage,
        description="On Kubernetes, where nbgrader courses' exchange and course directories live.",
    )


class Image(_Model):
    """A user environment. Most courses use a standard set unchanged; additions are listed here."""

    standard: Literal["data8", "r", "none"] = Field(
        "data8", description="The standard package set to start from: data8 (Python), r (R with tidyverse), or none."
    )
    packages: list[Requirement] = Field(
        default_factory=list, description="Extra Python packages as pip requirements, pinned (folium==0.19.6)."
    )
    r_packages: list[Requirement] = Field(default_factory=list, description="Extra R packages from CRAN (name or name==version).")
    apt: list[Requirement] = Field(default_factory=list, description="Extra Debian packages installed with apt.")
    registry: Name | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$", description="Where the built image is pushed (quay.io/example/data8); default: <hub name>/<image key>."
    )
    tag: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Image tag to deploy; default: derived from the locked package set.")


# --- courses ---------------------------------------------------------------------------------------


class Term(_Model):
    """When the course runs. Outside these dates the course grants nothing on the hub."""

    start: dt.date = Field(description="First day students and staff get the course's settings.")
    end: dt.date = Field(description="Last day (inclusive); after it the course's groups are emptied by sync.")


class Staff(_Model):
    """Course staff, by hub username."""

    instructors: list[Name] = Field(default_factory=list, description="Instructors: see and open their students' servers.")
    tas: list[Name] = Field(default_factory=list, description="Teaching assistants: at most what instructors get.")


class RosterCSV(_Model):
    """Students from a CSV file, one per row."""

    csv: FilePath = Field(description="Path of the CSV file, relative to the manifest.")
    format: Literal["plain", "canvas"] = Field(
        "plain",
        description="plain: one row per student; canvas: a Canvas gradebook export as downloaded "
        "(its Points Possible row and the Test Student are skipped).",
    )
    column: Name | None = Field(
        None, description="The column holding hub usernames; default: username (plain) or SIS Login ID (canvas)."
    )

    @property
    def login_column(self) -> str:
        """The column read: ``column``, or the format's usual one."""
        return self.column or ("SIS Login ID" if self.format == "canvas" else "username")


class Content(_Model):
    """The git repository students pull assignments from with nbgitpuller."""

    repo: Url = Field(description="Clone URL of the content repository (https://github.com/org/repo).")
    branch: Name = Field("main", description="Branch students pull.")
    local: FilePath | None = Field(
        None, description="A local folder holding the same content (relative to the manifest), for checks and demos."
    )
    targetpath: FilePath | None = Field(
        None, description="Folder in the student's home to clone into; default: the repository's name."
    )


class Assignment(_Model):
    """One assignment of a course."""

    id: Slug = Field(description="Identifier, unique within the course (lab01, hw02).")
    path: FilePath = Field(description="Path of the notebook (or app folder) inside the content repository.")
    due: dt.date | None = Field(None, description="Due date, shown in generated link pages.")
    points: float | None = Field(None, ge=0, description="Points the assignment is worth.")
    title: Title | None = Field(None, description="Human title for link pages; default: the id.")
    source: FilePath | None = Field(
        None,
        description="Grader master notebook (otter assign format or nbgrader source), relative to the manifest.",
    )


class SharedData(_Model):
    """A read-only (by default) data folder mounted into every student server of the course."""

    volume: FilePath = Field(description="On Kubernetes, a PersistentVolumeClaim name; on a single machine, a directory.")
    mount_path: FilePath = Field("/home/jovyan/shared", description="Where the data appears inside the server.")
    read_only: bool = Field(True, description="Mount read-only (the usual choice for course data).")


class Grading(_Model):
    """Grader settings for the course; command-line options override them for one run."""

    timeout: Duration = Field("10m", gt=0, description="Wall-clock limit for grading one submission.")
    memory: MemorySize = Field("2G", description="Memory limit for grading one submission.")


class Usage(_Model):
    """How students use the hub, for cost and capacity planning.

    Both numbers are assumptions to replace with your hub's own measurements: JupyterHub's
    ``jupyterhub_running_servers`` Prometheus metric gives the weekly peak, and its server start/stop
    events the hours. A course's values override ``capacity.usage``, which overrides the defaults.
    """

    #: A third of a lab-based class online at its busiest moment (the weekly lab section or the hour
    #: before a deadline). An assumption, not a measurement: hubs with in-class notebooks run higher,
    #: self-paced courses lower.
    DEFAULT_PEAK_FRACTION: ClassVar[float] = 0.3
    #: Four server hours per student per week: a two-hour lab plus homework, minus the idle culler's
    #: early shut-downs. An assumption; measure it on your hub.
    DEFAULT_HOURS_PER_STUDENT_PER_WEEK: ClassVar[float] = 4.0

    peak_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Fraction of the class online at the busiest moment of a week (an event: of the event). "
        "Default 0.3, an assumption typical of lab-based courses; an event where everyone works at once is near 1.",
    )
    hours_per_student_per_week: float | None = Field(
        None,
        ge=0,
        le=168,
        description="Server hours one student runs in a full week of the course (prorated over partial weeks). "
        "Default 4, an assumption (a two-hour lab plus homework); for an 8-hour-a-day event write 56.",
    )


class Course(_Model):
    """One course (or a time-bounded event such as a hackweek) on the hub."""

    id: Slug = Field(description="Lowercase slug; the key for groups, folders and links (data-c8-fa26).")
    title: Title = Field(description="Human title of the course.")
    kind: Literal["course", "event"] = Field("course", description="course, or event for a hackweek or workshop.")
    term: Term = Field(description="When the course runs.")
    image: Name | None = Field(None, description="Image key; default: the hub's image.")
    interface: Interface | None = Field(None, description="Interface students open; default: the hub's.")
    resources: Resources = Field(default_factory=Resources, description="Overrides of the hub's default resources.")
    staff: Staff = Field(default_factory=Staff, description="Instructors and TAs.")
    students: RosterCSV | list[Name] = Field(
        default_factory=list, description="Students: a CSV roster ({csv, column}) or an inline list of usernames."
    )
    content: Content | None = Field(None, description="Where assignments come from.")
    grader: Literal["otter", "nbgrader", "none"] = Field("none", description="Auto-grader: otter, nbgrader or none.")
    grading: Grading = Field(default_factory=Grading, description="Grader limits for this course.")
    assignments: list[Assignment] = Field(default_factory=list, description="Assignments, in order.")
    environment: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="Extra environment variables in the course's student servers."
    )
    shared_data: SharedData | None = Field(None, description="A course data folder mounted into student servers.")
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Kubernetes node labels the course's pods must run on (a node pool)."
    )
    usage: Usage = Field(default_factory=Usage, description="Usage assumptions for cost planning; default: the hub's.")
    lms: CourseLms | None = Field(None, description="The LMS course launches come from (needs `hub.lms`).")

    # Usernames resolved from the roster by the loader (normalised, invalid rows removed).
    _roster: list[str] = PrivateAttr(default_factory=list)

    @property
    def roster(self) -> list[str]:
        """The course's students, normalised and in roster order."""
        return list(self._roster)

    def assignment(self, assignment_id: str) -> Assignment:
        """The assignment with this id; a clear error naming the known ones otherwise."""
        for a in self.assignments:
            if a.id == assignment_id:
                return a
        known = ", ".join(a.id for a in self.assignments) or "none"
        from coursehub.errors import CoursehubError

        raise CoursehubError(f"no assignment {assignment_id!r} in {self.id} (assignments: {known})")


# --- capacity ------------------------------------------------------------------------------------


class NodeType(_Model):
    """A machine type servers are packed onto."""

    name: Name = Field(description="Machine type name (n2-highmem-4).")
    memory: MemorySize = Field(description="Memory allocatable to user servers on one node (after system reservations).")
    cpu: float = Field(gt=0, description="Cores allocatable to user servers on one node.")
    price_per_hour: float = Field(ge=0, description="What one node costs per hour (cloud), in `capacity.currency`.")
    pool: Name | None = Field(None, description="Node pool name, shown in the output; select it with `labels`.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Kubernetes labels of the pool's nodes; a course runs here only if its `node_selector` is a subset.",
    )
    dedicated: bool = Field(
        False,
        description="The pool is tainted for courses that select it: courses without a matching `node_selector` "
        "are never placed here.",
    )
    max_pods: int = Field(
        110, gt=0, description="Most user servers on one node (Kubernetes' default kubelet --max-pods is 110)."
    )
    purchase_price: float | None = Field(
        None, ge=0, description="On-premises purchase price of one node; default: `capacity.on_prem.node_price`."
    )


class OnPrem(_Model):
    """On-premises cost model: hardware bought once and written off, plus running costs."""

    node_price: float = Field(ge=0, description="Purchase price of one node (unless its node type sets its own).")
    lifetime_years: float = Field(4, gt=0, description="Years the hardware is written off over (4: a common server warranty).")
    yearly_running_cost: float = Field(0, ge=0, description="Power, cooling and support per node per year.")


class Storage(_Model):
    """Home directories: what a GB of them costs, and how long they are kept after a course ends."""

    #: GKE's default storage class (``standard-rwo``) is a balanced persistent disk, list price about
    #: 0.10 USD per GiB-month in us-central1. An assumption: use your provider's price.
    DEFAULT_PRICE_PER_GB_MONTH: ClassVar[float] = 0.10

    kind: Literal["cloud-disk", "nfs"] = Field(
        "cloud-disk",
        description="cloud-disk: one volume per student and course, paid for at its full size from the term's start "
        "until it is deleted (Zero to JupyterHub's dynamic storage); nfs: one shared file system, provisioned for "
        "the most the homes ever need and paid for over the whole calendar.",
    )
    price_per_gb_month: float = Field(
        DEFAULT_PRICE_PER_GB_MONTH,
        ge=0,
        description="Price of one GiB for one month (730 hours), in `capacity.currency`. Default 0.10, a cloud "
        "balanced persistent disk's list price (an assumption).",
    )
    retain: Duration = Field(
        "30d",
        description="How long homes are kept after a course's term ends (students download their work, "
        "incompletes finish), for the cost plan: coursehub deletes nothing itself. Counted in whole days.",
    )


class Capacity(_Model):
    """Cost and capacity planning assumptions (``coursehub cost``).

    Every default is an assumption, stated where it is defined; set your own prices and measured usage.
    """

    #: Used when `node_types` is empty: Google Cloud's n2-highmem-4 (4 vCPU, 32 GiB), a common
    #: JupyterHub user node, at its us-central1 on-demand list price (about 0.262 USD an hour). GKE
    #: keeps roughly 3.5 GiB and 0.2 cores for the system, hence 28G / 3.8 allocatable (approximate).
    DEFAULT_NODE_TYPE: ClassVar[dict] = {"name": "n2-highmem-4", "memory": "28G", "cpu": 3.8, "price_per_hour": 0.262}

    cost_model: Literal["cloud", "on-prem"] = Field(
        "cloud",
        description="cloud: pay per node hour, an autoscaler follows the load; on-prem: a fixed fleet sized for "
        "the busiest day, written off over its lifetime.",
    )
    currency: str = Field("USD", max_length=16, description="Currency of all prices.")
    node_types: list[NodeType] = Field(
        default_factory=list, description="Machines available; default: one n2-highmem-4 at its cloud list price."
    )
    usage: Usage = Field(
        default_factory=Usage,
        description="Default usage assumptions for every course (built-in: peak_fraction 0.3, 4 hours a week).",
    )
    on_prem: OnPrem | None = Field(None, description="On-premises prices; required when cost_model is on-prem.")
    hub_overhead_per_hour: float = Field(
        0, ge=0, description="Fixed cost of the hub itself (core node, storage) per hour."
    )
    prescale_lead: Duration = Field(
        "1d",
        description="How long before an event starts to add placeholder servers, so nodes are up and the image "
        "is pulled before students arrive (a node starts in minutes; a day leaves time to fix a quota problem). "
        "Counted in whole days.",
    )
    storage: Storage = Field(
        default_factory=Storage,
        description="Home-directory storage: price per GiB-month, cloud disk or NFS, retention after the term.",
    )
    max_limit_ratio: float = Field(
        2,
        ge=1,
        description="Warn when a course's memory limit is more than this many times its guarantee: a full node "
        "then runs out of memory, and kernels are killed, once servers use on average more than 1/ratio of their "
        "limit. 2 is the ratio of the common 512M/1G education default.",
    )

    def effective_node_types(self) -> list[NodeType]:
        """The configured node types, or the documented default type."""
        return list(self.node_types) or [NodeType.model_validate(self.DEFAULT_NODE_TYPE)]

    @model_validator(mode="after")
    def _on_prem_needs_prices(self) -> Capacity:
        if self.cost_model == "on-prem" and self.on_prem is None:
            raise ValueError("cost_model on-prem needs an `on_prem` section with at least node_price")
        names = [t.name for t in self.node_types]
        if len(set(names)) != len(names):
            raise ValueError("node type names must be unique")
        return self


# --- the manifest ----------------------------------------------------------------------------------


class Manifest(_Model):
    """A university's courses on one shared JupyterHub."""

    hub: Hub = Field(description="The shared hub.")
    images: dict[ImageKey, Image] = Field(description="User environments by key; courses refer to them by key.")
    courses: list[Course] = Field(default_factory=list, description="Courses and events on the hub.")
    capacity: Capacity = Field(default_factory=Capacity, description="Cost and capacity planning.")

    # Where the manifest was read from; relative paths inside it are resolved against its folder.
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        return self._source

    def course(self, course_id: str) -> Course:
        for course in self.courses:
            if course.id == course_id:
                return course
        known = ", ".join(c.id for c in self.courses) or "none"
        from coursehub.errors import CoursehubError

        raise CoursehubError(f"no course {course_id!r} in the manifest (courses: {known})")


def dump(manifest: Manifest) -> dict:
    """The manifest as plain data (sizes and durations in their short spelling), ready for YAML."""
    return manifest.model_dump(mode="json", exclude_defaults=True)

